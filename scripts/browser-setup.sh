#!/usr/bin/env bash
# Installs what the status page's browser test needs when it is missing and
# this is root on Debian: Chromium (Debian's package) and playwright-core
# (tests/browser, pinned in its package-lock.json). The test itself fails
# without them when SHARDNET_REQUIRE_BROWSER is set (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (Debian package) for the status page test..." >&2
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
        || { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } \
        || echo "could not install chromium" >&2
fi
if [ ! -d tests/browser/node_modules/playwright-core ] && command -v npm >/dev/null 2>&1; then
    (cd tests/browser && timeout 300 npm ci --no-audit --no-fund >/dev/null 2>&1) || echo "npm ci in tests/browser failed" >&2
fi
