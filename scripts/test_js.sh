#!/usr/bin/env bash
# The browser code's checks: ESLint, then the node unit tests (tests/js). The JS dev tools
# come from package-lock.json (npm ci), installed again only when the lock file changes, so a
# second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
    echo "missing: Node.js (20.19 or newer) and npm" >&2
    exit 1
fi
stamp=node_modules/.parley-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
fi
npx --no-install eslint
node --test --test-reporter=dot tests/js/
