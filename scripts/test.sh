#!/usr/bin/env bash
# Runs the whole test suite (unit, property and end-to-end tests), installing
# build dependencies first when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo test --locked --workspace
