#!/usr/bin/env bash
# Benchmark: scanning a private internet of N domains (DNS checks).
#   benches/scan.sh [DOMAINS] [DIR]   (default 100000, /tmp/uptake-bench-scan)
# Prints domains/s, DNS queries/s and the scanner's peak RSS. NSD and Unbound share the
# machine's cores with the scanner.
set -euo pipefail
cd "$(dirname "$0")/.."
domains=${1:-100000}
dir=${2:-/tmp/uptake-bench-scan}
cargo build --release -q -p uptake-cli
bin=$(realpath "${CARGO_TARGET_DIR:-target}")/release/uptake
if [ ! -f "$dir/testbed/testbed.json" ] || [ "$(sed -n 's/.*"domains": \([0-9]*\).*/\1/p' "$dir/testbed/testbed.json")" != "$domains" ]; then
  rm -rf "$dir"; mkdir -p "$dir"
  "$bin" testbed generate --domains "$domains" --seed 1 --out "$dir/testbed"
fi
rm -rf "$dir/data"
export UPTAKE_TESTBED_START_TIMEOUT=3600
"$bin" testbed run "$dir/testbed" -- sh -c "
  /usr/bin/time -f '%e s, peak RSS %M KiB' -o $dir/scan.time \
    $bin scan --quiet --targets $dir/testbed/targets.csv --out $dir/data --scan-id bench ${SCAN_ARGS:-} 2> $dir/scan.log
"
grep -E '^scan bench:' "$dir/scan.log"
echo "  scanner: $(cat "$dir/scan.time")"
