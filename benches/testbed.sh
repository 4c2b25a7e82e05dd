#!/usr/bin/env bash
# Benchmark: generating and bringing up a large private internet.
#   benches/testbed.sh [DOMAINS] [DIR]     (default 1000000, /tmp/uptake-bench-testbed)
# Prints seconds and peak memory of `uptake testbed generate` and of bringing the servers up
# (time until every NSD and Unbound answers and nginx and Postfix listen on every address),
# plus the servers' resident memory once up, DNS and web/mail apart.
set -euo pipefail
cd "$(dirname "$0")/.."
domains=${1:-1000000}
dir=${2:-/tmp/uptake-bench-testbed}
cargo build --release -q -p uptake-cli
bin=${CARGO_TARGET_DIR:-target}/release/uptake
rm -rf "$dir"
/usr/bin/time -f '%e %M' -o /tmp/uptake-bench-gen.time "$bin" testbed generate --domains "$domains" --seed 1 --out "$dir"
read -r gen_s gen_kb < /tmp/uptake-bench-gen.time
export UPTAKE_TESTBED_START_TIMEOUT=3600
/usr/bin/time -f '%e %M' -o /tmp/uptake-bench-up.time "$bin" testbed run "$dir" -- \
  sh -c 'ps -e -o rss=,comm= | awk "/nsd|unbound/ {d+=\$1} /nginx|master|smtpd|postlogd|qmgr|pickup|tlsmgr/ {w+=\$1} END {print d+0, w+0}" > /tmp/uptake-bench-rss'
read -r up_s _ < /tmp/uptake-bench-up.time
read -r servers_kb webmail_kb < /tmp/uptake-bench-rss
vhosts=$(grep -c 'server_name' "$dir/servers/nginx.conf" || true)
smtpd=$(grep -c ' smtpd ' "$dir/servers/postfix/master.cf" || true)
echo "testbed bench: domains=$domains"
echo "  generate: ${gen_s} s, peak RSS $((gen_kb / 1024)) MiB, on disk $(du -sh "$dir" | cut -f1)"
echo "  bring up: ${up_s} s (start to all servers answering, and stop)"
echo "  servers RSS: DNS $((servers_kb / 1024)) MiB, nginx + Postfix $((webmail_kb / 1024)) MiB ($vhosts nginx server blocks, $smtpd smtpd listeners)"
