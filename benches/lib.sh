# Shared by the scan benchmarks (scan.sh, webmail.sh, engine.sh): sourced, not run.

# bench_setup DOMAINS DIR: builds uptake (release) into $bin and makes sure DIR/testbed holds a
# seed-1 private internet of DOMAINS domains, generating it when it is missing or of another
# size. Clears DIR/data, the scan's output.
bench_setup() {
  cargo build --release -q -p uptake-cli
  bin=$(realpath "${CARGO_TARGET_DIR:-target}")/release/uptake
  if [ ! -f "$2/testbed/testbed.json" ] ||
    [ "$(sed -n 's/.*"domains": \([0-9]*\).*/\1/p' "$2/testbed/testbed.json")" != "$1" ]; then
    rm -rf "$2"
    mkdir -p "$2"
    "$bin" testbed generate --domains "$1" --seed 1 --out "$2/testbed"
  fi
  rm -rf "$2/data"
  export UPTAKE_TESTBED_START_TIMEOUT=3600
}

# bench_servers_cpu DIR DOMAINS: prints the CPU time the testbed's servers used while the
# scan ran, in all and per domain, from DIR/servers.before and DIR/servers.after (written by
# benches/servers-cpu.sh inside the testbed before and after the scan).
bench_servers_cpu() {
  python3 - "$1/servers.before" "$1/servers.after" "$2" "$(getconf CLK_TCK)" <<'PY'
import sys
def read(path):
    return {k: int(v) for k, v in (line.split() for line in open(path))}
before, after, n, hz = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
parts = []
for name in after:
    s = (after[name] - before.get(name, 0)) / hz
    if name == "machine" or s == 0:
        continue
    parts.append("%s %.1f s (%.0f us/domain)" % (name, s, s / n * 1e6))
print("  servers CPU: " + ", ".join(parts))
m = (after["machine"] - before["machine"]) / hz
print("  whole machine CPU during the scan: %.1f s (%.0f us/domain, scanner and servers and kernel)" % (m, m / n * 1e6))
PY
}
