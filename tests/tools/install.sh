#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo, each step only when it is
# missing (quick on a machine that has it all). Called by .ci/run before
# `cargo test`; run it by hand on a new machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The browser tests (tests/api/browser.rs): Debian's Chromium, driven by
# playwright-core from tests/browser/package-lock.json.
if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "installing node and npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "installing the browser tests' node packages"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
