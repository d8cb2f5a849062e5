#!/usr/bin/env bash
# Installs the external tools some tests drive (the tests skip without them,
# and fail when LATCHKEY_REQUIRE_SERVICES is set, as in CI). Idempotent: each
# section installs only what is missing, at pinned versions. One section per
# tool. Called by .ci/run before `cargo test`; run it by hand on a new machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

# --- requests-oauthlib: the OAuth2 client of tests/oauth2/ ---
if ! python3 -c 'import requests_oauthlib, oauthlib' 2>/dev/null; then
    echo "installing requests-oauthlib"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        'requests-oauthlib==2.0.0' 'oauthlib==3.2.2' 'requests==2.32.3'
fi

# --- schemathesis: generated requests against /openapi.json (tests/api/schema.rs) ---
if ! python3 -c "import schemathesis.cli" 2>/dev/null; then
    echo "installing schemathesis"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        'schemathesis==4.32.5'
fi

# --- the browser tests (tests/api/browser.rs): Debian's Chromium, driven by
# playwright-core from tests/browser/package-lock.json ---
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
