#!/usr/bin/env bash
# Download a current set of routing inputs for the rpki check and the hosting columns
# (see datasets/routing.md for the sources, formats and licences).
#   datasets/fetch-routing.sh DIR
# Writes DIR/vrps.json, DIR/prefix2as.txt.gz (IPv4 + IPv6), DIR/ip2asn.tsv.gz and
# DIR/SOURCES (URLs and retrieval time). Needs curl and the Internet. NOTE: the development
# machines of this project have no Internet access, so this script has not been run there;
# the tests use generated tables (uptake_routing::synthetic) instead.
#
# Licences: the VRPs derive from the RIRs' RPKI repositories (their RPAs apply); CAIDA's
# prefix2as is under the CAIDA Acceptable Use Agreement (non-commercial research, cite CAIDA);
# iptoasn.com data is PDDL 1.0. For MaxMind GeoLite2 or DB-IP mmdb files see routing.md.
set -euo pipefail
dir=${1:?usage: fetch-routing.sh DIR}
mkdir -p "$dir"
cd "$dir"
get() { curl --fail --location --silent --show-error --retry 3 -o "$1" "$2"; echo "$1 $2" >> SOURCES; }
: > SOURCES
date -u +"retrieved %Y-%m-%dT%H:%M:%SZ" >> SOURCES

# 1. VRPs: the rpki-client project's public export (JSON). To validate yourself instead, run
#    `rpki-client -j -c -d cache out/` or `routinator vrps --format csv -o vrps.csv`.
get vrps.json https://console.rpki-client.org/vrps.json

# 2. Prefix-to-origin: CAIDA RouteViews prefix2as, newest IPv4 and IPv6 files.
caida=https://publicdata.caida.org/datasets/routing
latest() {  # newest file named in the creation log of a CAIDA dataset directory
  curl --fail --silent --show-error "$1/pfx2as-creation.log" | awk '!/^#/ {f=$3} END {print f}'
}
v4=$(latest "$caida/routeviews-prefix2as")
v6=$(latest "$caida/routeviews6-prefix2as")
get p2a-v4.gz "$caida/routeviews-prefix2as/$v4"
get p2a-v6.gz "$caida/routeviews6-prefix2as/$v6"
cat p2a-v4.gz p2a-v6.gz > prefix2as.txt.gz  # concatenated gzip members read as one file
rm p2a-v4.gz p2a-v6.gz

# 3. IP-to-ASN/country: iptoasn.com, both families.
get ip2asn.tsv.gz https://iptoasn.com/data/ip2asn-combined.tsv.gz

echo "routing inputs in $dir:"
ls -l vrps.json prefix2as.txt.gz ip2asn.tsv.gz
