#!/usr/bin/env bash
# Set-up shared by the README's commands and CI: system packages (when missing), npm packages, build.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "dqs needs Node.js >= 20 (https://nodejs.org); install it and run this again." >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "dqs needs Node.js >= 20; this is $(node --version)." >&2
  exit 1
fi

# redis-server: the distributed mode and its tests start a private one.
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-server (apt-get)..." >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "note: redis-server is not installed; 'sudo apt-get install redis-server' (or your OS's package) adds it." >&2
  fi
fi

# What only the tests need (the Python client's numpy, chromium, Octave, Slurm): with --for-tests (scripts/test.sh, CI).
for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

# python3-numpy: the Python client (clients/python) and its tests
if [ "$for_tests" = 1 ] && ! /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 && ! python3 -c 'import numpy' >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing python3-numpy (apt-get)..." >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy >/dev/null
  else
    echo "note: numpy for python3 is missing; the Python client's tests need it ('sudo apt-get install python3-numpy')." >&2
  fi
fi

# chromium: the web view's tests drive Debian's chromium with playwright-core
if [ "$for_tests" = 1 ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (apt-get, for the web view's tests)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || echo "note: chromium could not be installed" >&2
fi

# octave (and curl, its transport to dqs): the MATLAB client's tests run it in GNU Octave
if [ "$for_tests" = 1 ] && { ! command -v octave-cli >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; } && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing octave and curl (apt-get, for the MATLAB client's tests)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends octave curl >/dev/null || echo "note: octave could not be installed" >&2
fi

# slurm-wlm and munge: dqs slurm's tests start a real single-node Slurm (as root; skipped otherwise)
if [ "$for_tests" = 1 ] && ! command -v slurmd >/dev/null 2>&1 && [ ! -x /usr/sbin/slurmd ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing slurm-wlm and munge (apt-get, for dqs slurm's tests)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null || echo "note: slurm-wlm could not be installed" >&2
fi

# npm packages: install when missing or when the lock file changed since the last install.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing npm packages (npm ci)..." >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run build --silent
