#!/usr/bin/env bash
# Benchmark: scanning a private internet of N domains (DNS checks).
#   benches/scan.sh [DOMAINS] [DIR]   (default 100000, /tmp/uptake-bench-scan)
# Prints domains/s, DNS queries/s, the scanner's peak RSS and its CPU time per domain by
# stage (from `uptake scan --stats`: targets reader, evaluators, TLS (0 with the DNS checks),
# Parquet writer, and the DNS client + engine, which is the rest). NSD and Unbound share the
# machine's cores with the scanner; each server's CPU time per domain (benches/servers-cpu.sh,
# from /proc inside the testbed while the scan runs) is printed too, since at this size they,
# not the scanner, use most of the CPU. CPU time per domain is
# steadier than domains/s on a shared machine. SCAN_ARGS adds options to the scan (e.g.
# SCAN_ARGS="--concurrency 2000"). WARM=1 scans the list once before the measured scan, so
# that Unbound answers the measured one from its cache: the scanner's own ceiling, with the
# validating resolver's cold-cache work taken out.
set -euo pipefail
cd "$(dirname "$0")/.."
domains=${1:-100000}
dir=${2:-/tmp/uptake-bench-scan}
. benches/lib.sh
bench_setup "$domains" "$dir"
warmup=
if [ -n "${WARM:-}" ]; then
  warmup="$bin scan --quiet --targets $dir/testbed/targets.csv --out $dir/warmup --scan-id warmup ${SCAN_ARGS:-} 2> $dir/warmup.log"
  rm -rf "$dir/warmup"
fi
"$bin" testbed run "$dir/testbed" -- sh -c "
  $warmup
  $PWD/benches/servers-cpu.sh > $dir/servers.before
  /usr/bin/time -f '%e s, %U s user + %S s system CPU, peak RSS %M KiB' -o $dir/scan.time \
    $bin scan --quiet --targets $dir/testbed/targets.csv --out $dir/data --scan-id bench --stats $dir/stats.json ${SCAN_ARGS:-} 2> $dir/scan.log
  $PWD/benches/servers-cpu.sh > $dir/servers.after
"
grep -E '^scan bench:' "$dir/scan.log"
echo "  scanner: $(cat "$dir/scan.time")"
bench_servers_cpu "$dir" "$domains"
python3 - "$dir/stats.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["cpu_us_per_domain"]
print("  CPU per domain: total %.0f us = DNS client + engine %.0f, evaluators %.0f, TLS %.0f, Parquet %.0f, targets %.0f"
      % (c["total"], c["dns_and_engine"], c["evaluators"], c["tls"], c["parquet"], c["targets"]))
print("  domain duration: p50 <= %d ms, p99 <= %d ms, max %d ms; DNS timeouts %d, retries %d"
      % (s["duration_ms"]["p50_at_most"], s["duration_ms"]["p99_at_most"], s["duration_ms"]["max"],
         s["dns"]["timeouts"], s["dns"]["retries"]))
EOF
