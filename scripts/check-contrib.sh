#!/usr/bin/env bash
# Validates the shipped Prometheus alert rules with promtool (Debian's
# `prometheus` package), installing it when missing and possible. The Rust
# test in node/src/metrics.rs checks the same files (structure, and that
# every metric they name is exported) whether or not promtool is here.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing promtool (Debian package prometheus)..." >&2
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 \
            || { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update >/dev/null 2>&1 \
                 && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; } \
            || true
    fi
fi
if command -v promtool >/dev/null 2>&1; then
    promtool check rules contrib/prometheus/alerts.yml
else
    echo "promtool not available: contrib/prometheus/alerts.yml checked by the Rust test only" >&2
fi
