#!/bin/sh
# openapi-json.sh -- convert the OpenAPI document from YAML to JSON.
#
# Usage: sh tests/integration/openapi-json.sh IN.yaml OUT.json
# The integration tests' response checker reads the JSON form. It is the
# same conversion as the one built into the binary (/openapi.json):
# tools/openapi-json.py, python3 + PyYAML read with the YAML 1.2 core schema,
# the document as written (no bundling, every $ref kept).
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 IN.yaml OUT.json" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v python3 >/dev/null 2>&1; then
    echo "openapi-json: python3 not found; run tools/install-deps.sh (Debian: python3 python3-yaml)" >&2
    exit 1
fi
exec python3 "$root/tools/openapi-json.py" "$1" "$2"
