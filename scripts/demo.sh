#!/usr/bin/env bash
# The README's main command: set up, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node bin/dqs.js demo "$@"
