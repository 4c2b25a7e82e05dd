#!/usr/bin/env bash
# Benchmark: the routing tables of the rpki check and hosting columns at full size.
#   benches/routing.sh [PREFIXES] [VRPS]   (default 1000000 prefixes, 500000 VRPs)
# Generates a synthetic prefix2as table (80% IPv4, 20% IPv6), VRPs (CSV and JSON) and a
# 500,000-range iptoasn table in a temporary directory, then prints the load time and the
# single-thread lookups/s of longest-prefix match, RFC 6811 validation, hosting lookup and a
# whole-domain assessment. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p uptake-routing --bench routing -- "${1:-1000000}" "${2:-500000}"
