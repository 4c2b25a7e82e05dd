#!/usr/bin/env bash
# Download the current versions of the target lists the example pipelines use
# (pipelines/us-gov.toml, pipelines/world-universities.toml):
#   datasets/fetch-lists.sh DIR
# Writes DIR/us-dotgov-current-full.csv, DIR/world-universities-and-domains.json and
# DIR/SOURCES (URLs, retrieval time, sha256). Point a pipeline's [[lists]] path at DIR.
# Needs curl and the Internet. NOTE: the development machines of this project have no Internet
# access, so this script has not been run there; they hold read-only copies in ../shared/data.
#
# Licences: the .gov registry (cisagov/dotgov-data) is CC0; the universities list
# (Hipo/university-domains-list) is MIT.
set -euo pipefail
dir=${1:?usage: fetch-lists.sh DIR}
mkdir -p "$dir"
cd "$dir"
: > SOURCES
date -u +"retrieved %Y-%m-%dT%H:%M:%SZ" >> SOURCES
get() {
  curl --fail --location --silent --show-error --retry 3 -o "$1.part" "$2"
  mv "$1.part" "$1"
  echo "$1 $2 sha256:$(sha256sum "$1" | cut -d' ' -f1)" >> SOURCES
}
get us-dotgov-current-full.csv https://raw.githubusercontent.com/cisagov/dotgov-data/main/current-full.csv
get world-universities-and-domains.json https://raw.githubusercontent.com/Hipo/university-domains-list/master/world_universities_and_domains.json
# Sanity: the columns the pipelines map.
head -1 us-dotgov-current-full.csv | grep -q '^Domain name,' || { echo "fetch-lists: unexpected .gov header" >&2; exit 1; }
grep -q '"alpha_two_code"' world-universities-and-domains.json || { echo "fetch-lists: unexpected universities format" >&2; exit 1; }
cat SOURCES
