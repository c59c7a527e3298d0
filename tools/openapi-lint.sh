#!/bin/sh
# openapi-lint.sh -- lint openapi.yaml with the pinned Redocly CLI.
#
# Usage: sh tools/openapi-lint.sh [FILE]   (default: openapi.yaml)
# Installs the exact tool versions of package-lock.json into node_modules/
# (npm ci) when they are missing or older than the lock file, then runs
# `redocly lint` with the rules in redocly.yaml. Exits non-zero on any lint
# error (warnings are printed and allowed).
set -eu
cd "$(dirname "$0")/.."
spec=${1:-openapi.yaml}

# No telemetry or update checks: the tools run offline but for the registry.
REDOCLY_TELEMETRY=off
REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export REDOCLY_TELEMETRY REDOCLY_SUPPRESS_UPDATE_NOTICE

if ! command -v npm >/dev/null 2>&1; then
    echo "openapi-lint: npm not found; run tools/install-deps.sh (Debian: nodejs npm)" >&2
    exit 1
fi
# npm ci writes node_modules/.package-lock.json; a lock file newer than it
# means the pinned versions changed since the last install.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
exec npx --no-install redocly lint --config redocly.yaml "$spec"
