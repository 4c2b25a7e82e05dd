#!/usr/bin/env bash
# Installs what uptake's demo and tests need on Debian/Ubuntu, if it is missing:
# the servers of the private internet (NSD, Unbound, ldns tools, dig, iproute2, unshare,
# nginx-light, Postfix, OpenSSL, curl, uidmap with subordinate ids for root), libssl-dev and
# pkg-config (the probes build against the system's OpenSSL),
# Chromium (the report test opens the HTML report headless) and a Python venv (.venv) with
# the test oracles (pyarrow, duckdb), moto's S3-compatible server in .venv-s3, sslyze in
# .venv-sslyze and checkdmarc in .venv-checkdmarc.
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
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/sbin/postfix ] || need+=(postfix)
command -v openssl >/dev/null || need+=(openssl)
# The probes link the system's OpenSSL (HTTP to TLS 1.0/1.1-only hosts): headers and pkg-config.
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v curl >/dev/null || need+=(curl)
command -v newuidmap >/dev/null || need+=(uidmap)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks how to configure itself; the testbed brings its own config.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq || true
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The testbed's Unbound asks for an 8 MiB receive buffer on port 53 (`so-rcvbuf`), which the
# kernel caps at net.core.rmem_max: with the 208 KiB default, a scan's bursts of queries were
# dropped on a loaded machine and became resolver timeouts. Raise the cap to 4 MiB if lower.
rmem_max=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)
if [ "$rmem_max" -lt 4194304 ]; then
  echo "setup: raising net.core.rmem_max from $rmem_max to 4194304 (the testbed resolver's receive buffer)"
  echo 4194304 | $SUDO tee /proc/sys/net/core/rmem_max >/dev/null ||
    echo "setup: could not raise net.core.rmem_max; under load the testbed resolver may drop queries" >&2
fi

# A venv whose scripts do not run (say, one copied from another checkout: their `#!` lines
# name the old path) is made anew (`--clear`).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pyarrow, duckdb' 2>/dev/null; then
  echo "setup: creating .venv with pyarrow and duckdb"
  python3 -m venv --clear .venv
  .venv/bin/pip install -q --disable-pip-version-check pyarrow duckdb
fi

# An S3-compatible server for the pipeline test that writes its dataset to an object store
# (moto's server, in its own venv: its dependencies are many and pinned differently).
if ! .venv-s3/bin/moto_server --help >/dev/null 2>&1 || ! .venv-s3/bin/python -c 'import boto3' 2>/dev/null; then
  echo "setup: creating .venv-s3 with moto[server] (an S3-compatible server for tests)"
  python3 -m venv --clear .venv-s3
  .venv-s3/bin/pip install -q --disable-pip-version-check 'moto[server]'
fi

# Independent oracles for the web and mail checks, each in its own venv (their pinned
# dependencies conflict: checkdmarc needs cryptography >= 50, sslyze < 47): sslyze for the TLS
# versions a host accepts, checkdmarc for SPF, DMARC and MTA-STS.
if [ ! -x .venv-sslyze/bin/python ] || ! .venv-sslyze/bin/python -c 'import sslyze' 2>/dev/null; then
  echo "setup: creating .venv-sslyze with sslyze"
  python3 -m venv --clear .venv-sslyze
  .venv-sslyze/bin/pip install -q --disable-pip-version-check sslyze
fi
if ! .venv-checkdmarc/bin/checkdmarc --help >/dev/null 2>&1; then
  echo "setup: creating .venv-checkdmarc with checkdmarc"
  python3 -m venv --clear .venv-checkdmarc
  .venv-checkdmarc/bin/pip install -q --disable-pip-version-check checkdmarc
fi

# nginx and Postfix switch to their own users inside the namespace: `unshare --map-auto`
# maps uids/gids 1..65535 from the invoking user's subordinate ranges.
me=$(id -un)
for f in /etc/subuid /etc/subgid; do
  if ! grep -q "^$me:" "$f" 2>/dev/null; then
    echo "setup: adding $me:100000:65536 to $f"
    echo "$me:100000:65536" | $SUDO tee -a "$f" >/dev/null
  fi
done

if ! unshare --user --map-root-user --net true 2>/dev/null; then
  echo "setup: unprivileged user namespaces are disabled here; the private internet needs them" >&2
  echo "       (sysctl kernel.unprivileged_userns_clone=1, or run as root)" >&2
  exit 1
fi
if ! unshare --user --map-root-user --map-auto --net true 2>/dev/null; then
  echo "setup: unshare --map-auto fails; the testbed's nginx and Postfix need it (uidmap, /etc/subuid)" >&2
  exit 1
fi
echo "setup: ok"
