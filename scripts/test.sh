#!/usr/bin/env bash
# Runs the whole test suite (unit, property and end-to-end tests), installing
# build dependencies first when missing; checks the alert rules with
# promtool and the module graph for import cycles (scripts/check-cycles.py),
# and installs Chromium for the status page test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
bash scripts/check-contrib.sh
python3 scripts/check-cycles.py
bash scripts/browser-setup.sh
export SHARDNET_REQUIRE_BROWSER=1
# Every test binary runs even after one fails, so a failing run names every
# failing test at once (it still exits non-zero).
cargo test --locked --workspace --no-fail-fast
