#!/usr/bin/env bash
# The whole test suite: installs and starts what it needs, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
tsc -b
mocha "$@"
