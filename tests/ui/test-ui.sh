#!/bin/sh
# test-ui.sh -- `make test-ui`: l2d's page in Debian's Chromium, headless,
# through tests/ui/page.test.mjs (puppeteer-core, pinned in package.json).
#
# Usage: sh tests/ui/test-ui.sh [L2D_BINARY [SHOT_DIR]]
#   L2D_BINARY  default build/l2d;  SHOT_DIR  default build/ui (screenshots)
# Installs the pinned node packages (npm ci) when node_modules/ is missing
# or older than the lock file (as tools/openapi-lint.sh does) or lacks
# puppeteer-core. CHROMIUM names
# the browser (default /usr/bin/chromium), PYTHON a python3 with numpy.
set -eu
cd "$(dirname "$0")/../.."
l2d=${1:-build/l2d}
shots=${2:-build/ui}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PYTHON=${PYTHON:-/usr/bin/python3}
export CHROMIUM PYTHON

fail() {
    echo "test-ui: $*" >&2
    exit 1
}

[ -x "$l2d" ] || fail "no l2d binary at $l2d (run make first)"
[ -x "$CHROMIUM" ] || fail "no browser at $CHROMIUM (Debian: apt-get install chromium)"
command -v node >/dev/null 2>&1 || fail "no node (Debian: apt-get install nodejs npm)"
"$PYTHON" -c 'import numpy' 2>/dev/null || fail "$PYTHON cannot import numpy (Debian: python3-numpy)"

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ ! -d node_modules/puppeteer-core ] ||
    [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
exec node tests/ui/page.test.mjs "$l2d" "$shots"
