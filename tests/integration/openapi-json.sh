#!/bin/sh
# openapi-json.sh -- convert the OpenAPI document from YAML to JSON.
#
# Usage: sh tests/integration/openapi-json.sh IN.yaml OUT.json
# The integration tests' response checker reads the JSON form. Uses the
# js-yaml pinned in package-lock.json (a dependency of @redocly/cli), so the
# document is converted as written: no bundling, every $ref kept.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 IN.yaml OUT.json" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
in=$1
out=$2

if ! command -v node >/dev/null 2>&1; then
    echo "openapi-json: node not found; run tools/install-deps.sh (Debian: nodejs npm)" >&2
    exit 1
fi
stamp=$root/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$root/package-lock.json" -nt "$stamp" ] ||
    [ "$root/package.json" -nt "$stamp" ]; then
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
NODE_PATH="$root/node_modules" node -e '
const fs = require("fs");
const yaml = require("js-yaml");
const doc = yaml.load(fs.readFileSync(process.argv[1], "utf8"), { filename: process.argv[1] });
fs.writeFileSync(process.argv[2], JSON.stringify(doc, null, 2) + "\n");
' "$in" "$tmp"
mv "$tmp" "$out"
