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
cargo test --locked --workspace
