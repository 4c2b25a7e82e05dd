#!/usr/bin/env bash
# Benchmark: scanning a private internet of N domains with all checks (DNS, web, mail).
#   benches/webmail.sh [DOMAINS] [DIR]   (default 100000, /tmp/uptake-bench-webmail)
# Prints domains/s, TLS handshakes/s (rustls handshakes of the HTTPS and STARTTLS probes;
# raw legacy/cipher-class ClientHellos are counted beside them), the scanner's peak RSS and
# its CPU time per domain by stage (from `uptake scan --stats`; TLS is the probes' TLS client
# work, the DNS client + engine line holds the rest of the probes' work: TCP, HTTP, SMTP).
# NSD, Unbound, nginx and Postfix share the machine's cores with the scanner. The testbed's
# shared providers put thousands of domains on one address, so the per-address connection
# limits of a real scan are lifted (--connection-rate 1000 --connections-per-address 64).
# SCAN_ARGS adds options to the scan; SCANNER=PATH scans with another uptake binary (e.g. an
# older build, to compare) inside the testbed this build runs.
set -euo pipefail
cd "$(dirname "$0")/.."
domains=${1:-100000}
dir=${2:-/tmp/uptake-bench-webmail}
. benches/lib.sh
bench_setup "$domains" "$dir"
scanner=${SCANNER:-$bin}
"$bin" testbed run "$dir/testbed" -- sh -c "
  $PWD/benches/servers-cpu.sh > $dir/servers.before
  /usr/bin/time -f '%e s, peak RSS %M KiB' -o $dir/scan.time \
    $scanner scan --quiet --checks all --ca-file \"\$UPTAKE_TESTBED_CA\" \
      --connection-rate 1000 --connections-per-address 64 \
      --targets $dir/testbed/targets.csv --out $dir/data --scan-id bench --stats $dir/stats.json ${SCAN_ARGS:-} 2> $dir/scan.log
  $PWD/benches/servers-cpu.sh > $dir/servers.after
"
grep -E '^scan bench:' "$dir/scan.log"
echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  scanner: $(cat "$dir/scan.time")"
bench_servers_cpu "$dir" "$domains"
python3 - "$dir/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = s["probes"]
print("  %d domains in %.1f s: %.1f domains/s" % (s["domains"], s["elapsed_s"], s["domains_per_s"]))
# CPU of the scanner process: less sensitive than wall time to other load on the machine.
c = s["cpu_us_per_domain"]
# A SCANNER built before the tls stage existed has none (its TLS is in dns_and_engine).
tls = "TLS %.0f" % c["tls"] if "tls" in c else "TLS not measured by this build"
print("  scanner CPU: %d ms (%.0f us/domain = DNS client + engine + HTTP/SMTP %.0f, %s, evaluators %.0f, Parquet %.0f, targets %.0f)"
      % (s["cpu_ms"]["total"], c["total"], c["dns_and_engine"], tls, c["evaluators"], c["parquet"], c["targets"]))
print("  TLS handshakes: %d (%.1f/s); raw ClientHellos %d, HTTP requests %d, SMTP sessions %d, TCP connects %d, shared results %d, retries after a timeout %d"
      % (p["tls_handshakes"], p["tls_handshakes_per_s"], p["raw_hellos"], p["http_requests"],
         p["smtp_sessions"], p["connects"], p["shared_hits"], p["retries"]))
errors = {k: v.get("error", 0) for k, v in s["statuses"].items() if v.get("error", 0)}
print("  error statuses by check:", errors or "none")
PY
