#!/usr/bin/env bash
# Benchmark: scanning a private internet of N domains (DNS checks).
#   benches/scan.sh [DOMAINS] [DIR]   (default 100000, /tmp/uptake-bench-scan)
# Prints domains/s, DNS queries/s, the scanner's peak RSS and its CPU time per domain by
# stage (from `uptake scan --stats`: targets reader, evaluators, Parquet writer, and the DNS
# client + engine, which is the rest). NSD and Unbound share the machine's cores with the
# scanner; their CPU time per domain (Unbound and NSD apart, from /proc while the scan runs) is printed
# too, since at this size they, not the scanner, use most of the CPU. CPU time per domain is
# steadier than domains/s on a shared machine. SCAN_ARGS adds options to the scan (e.g.
# SCAN_ARGS="--concurrency 2000").
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
  # utime + stime of every process running \$1, from /proc/PID/stat fields 14 and 15, counted
  # after the command name in parentheses, which may hold spaces (\"nsd: xfrd\").
  daemon_cpu() { name=\$1; t=0; for p in /proc/[0-9]*; do case \$(readlink \$p/exe 2>/dev/null) in */\$name) s=\$(cat \$p/stat); set -- \${s##*) }; shift 11; t=\$((t+\$1+\$2));; esac; done; echo \$t; }
  unbound_before=\$(daemon_cpu unbound); nsd_before=\$(daemon_cpu nsd)
  /usr/bin/time -f '%e s, %U s user + %S s system CPU, peak RSS %M KiB' -o $dir/scan.time \
    $bin scan --quiet --targets $dir/testbed/targets.csv --out $dir/data --scan-id bench --stats $dir/stats.json ${SCAN_ARGS:-} 2> $dir/scan.log
  echo \$(( \$(daemon_cpu unbound) - unbound_before )) \$(( \$(daemon_cpu nsd) - nsd_before )) > $dir/daemons.ticks
"
grep -E '^scan bench:' "$dir/scan.log"
echo "  scanner: $(cat "$dir/scan.time")"
read -r unbound_ticks nsd_ticks < "$dir/daemons.ticks"
awk -v u="$unbound_ticks" -v d="$nsd_ticks" -v hz="$(getconf CLK_TCK)" -v n="$domains" \
  'BEGIN { printf "  Unbound CPU: %.1f s, %.0f us per domain; NSD CPU: %.1f s, %.0f us per domain\n", u / hz, u / hz / n * 1e6, d / hz, d / hz / n * 1e6 }'
python3 - "$dir/stats.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["cpu_us_per_domain"]
print("  CPU per domain: total %.0f us = DNS client + engine %.0f, evaluators %.0f, Parquet %.0f, targets %.0f"
      % (c["total"], c["dns_and_engine"], c["evaluators"], c["parquet"], c["targets"]))
print("  domain duration: p50 <= %d ms, p99 <= %d ms, max %d ms; DNS timeouts %d, retries %d"
      % (s["duration_ms"]["p50_at_most"], s["duration_ms"]["p99_at_most"], s["duration_ms"]["max"],
         s["dns"]["timeouts"], s["dns"]["retries"]))
EOF
