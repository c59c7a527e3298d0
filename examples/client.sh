#!/bin/sh
# client.sh -- calling l2d from the shell with curl.
#
# Sends [[1, 2], [3, 4]] as JSON, four float32 values as raw little-endian
# bytes (?dtype=float32), regularizes them, and shows an error answer
# (application/problem+json) with its HTTP status.
#
# Usage: client.sh [BASE_URL]        (default http://127.0.0.1:8080)
# Needs curl. Always give curl a Content-Type: `curl -d` alone sends
# application/x-www-form-urlencoded, which l2d refuses (415).
set -eu

BASE_URL=${1:-http://127.0.0.1:8080}
BASE_URL=${BASE_URL%/}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Prints the answer body; fails (curl exit 22) on an HTTP error.
l2d_post() { # ENDPOINT?QUERY CONTENT-TYPE CURL-DATA-ARG
    curl -sS --fail-with-body -H "Content-Type: $2" --data-binary "$3" "$BASE_URL$1"
    echo
}

echo "json [[1,2],[3,4]]:"
l2d_post /l2_loss application/json '[[1, 2], [3, 4]]'

# 0.5, -1.25, 2, 3 as float32, little-endian bytes (what numpy's
# np.array([0.5, -1.25, 2, 3], '<f4').tofile('w.f32') writes).
printf '\000\000\000\077\000\000\240\277\000\000\000\100\000\000\100\100' >"$TMP/w.f32"
echo "raw float32 [0.5,-1.25,2,3]:"
l2d_post '/l2_loss?dtype=float32' application/octet-stream "@$TMP/w.f32"
echo "raw float32 [0.5,-1.25,2,3] scale=0.01:"
l2d_post '/regularize?dtype=float32&scale=0.01' application/octet-stream "@$TMP/w.f32"

# An error: the body is problem+json; -w appends the HTTP status.
echo "error (integer scale):"
curl -sS -w ' HTTP %{http_code}\n' -H 'Content-Type: application/json' -d '[1, 2]' \
    "$BASE_URL/regularize?scale=1"
