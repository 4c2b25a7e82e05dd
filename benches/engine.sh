#!/usr/bin/env bash
# Benchmark: the scan engine's memory and speed as the target list grows (issue 5).
#   benches/engine.sh [TARGETS] [DIR]   (default 1000000, /tmp/uptake-bench-engine)
# Scans a 10,000-domain private internet's targets followed by TARGETS - 10,000 names under
# `.zz`, a top-level domain the testbed's signed root denies (NSEC, so Unbound answers them from
# its aggressive-NSEC cache): every target is read, normalised, deduplicated, resolved, evaluated
# and written as a row, but most cost the servers little, so a million targets fit in minutes on
# two cores. It prints domains/s and the scanner's peak RSS; compare the RSS across TARGETS
# (memory must not grow with the list). DNS checks; SCAN_ARGS adds options.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${1:-1000000}
dir=${2:-/tmp/uptake-bench-engine}
real=10000
. benches/lib.sh
bench_setup "$real" "$dir"
{
  cat "$dir/testbed/targets.csv"
  if [ "$targets" -gt "$real" ]; then
    seq 1 $((targets - real)) | sed 's/.*/bench-&.zz,ZZ,benchmark,Benchmark/'
  fi
} | head -n $((targets + 1)) > "$dir/targets.csv"
"$bin" testbed run "$dir/testbed" -- \
  /usr/bin/time -f '%e s, %U s user + %S s system CPU, peak RSS %M KiB' -o "$dir/scan.time" \
  "$bin" scan --quiet --checks dns --targets "$dir/targets.csv" --out "$dir/data" --scan-id bench \
  --stats "$dir/stats.json" ${SCAN_ARGS:-} 2> "$dir/scan.log"
grep -E '^scan bench:' "$dir/scan.log"
echo "  scanner: $(cat "$dir/scan.time")"
