#!/usr/bin/env bash
# Installs what uptake's demo and tests need on Debian/Ubuntu, if it is missing:
# the servers of the private internet (NSD, Unbound, ldns tools, dig, iproute2, unshare)
# Chromium (the report test opens the HTML report headless) and a Python venv (.venv) with
# the test oracles (pyarrow, duckdb).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nsd >/dev/null || need+=(nsd)
command -v unbound >/dev/null || need+=(unbound)
command -v ldns-signzone >/dev/null || need+=(ldnsutils)
command -v dig >/dev/null || need+=(bind9-dnsutils)
command -v ip >/dev/null || need+=(iproute2)
command -v unshare >/dev/null || need+=(util-linux)
command -v chromium >/dev/null || need+=(chromium)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pyarrow, duckdb' 2>/dev/null; then
  echo "setup: creating .venv with pyarrow and duckdb"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check pyarrow duckdb
fi

if ! unshare --user --map-root-user --net true 2>/dev/null; then
  echo "setup: unprivileged user namespaces are disabled here; the private internet needs them" >&2
  echo "       (sysctl kernel.unprivileged_userns_clone=1, or run as root)" >&2
  exit 1
fi
echo "setup: ok"
