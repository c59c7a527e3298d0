#!/usr/bin/env bash
# test-examples.sh -- run the example clients in examples/ (Python with urllib
# and numpy, JavaScript with Node's fetch, shell with curl) against a live l2d
# on a free loopback port, and check what each prints against the exact
# answers: [[1,2],[3,4]] -> loss 15.0; float32 [0.5,-1.25,2,3] -> sum_squares
# 14.8125, loss 7.40625, scale 0.01 -> 0.0740625; an .npz and a safetensors
# checkpoint per tensor (Python); an integer scale -> 400 invalid_scale.
#
# Usage: tests/examples/test-examples.sh [L2D_BINARY]     (default build/l2d)
# PYTHON picks the interpreter (default /usr/bin/python3: Debian's, which has
# python3-numpy), NODE the Node.js binary (default node, 18 or later).
set -euo pipefail
cd "$(dirname "$0")/../.."

L2D=${1:-build/l2d}
PYTHON=${PYTHON:-/usr/bin/python3}
NODE=${NODE:-node}
W=$(mktemp -d "${TMPDIR:-/tmp}/l2d-examples.XXXXXX")
SERVER_PID=""
failures=0

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$W"
}
trap cleanup EXIT

fail() {
    echo "test-examples: FAIL: $*" >&2
    exit 1
}

[ -x "$L2D" ] || fail "no l2d binary at $L2D (run make first)"
"$PYTHON" -c 'import numpy' 2>/dev/null ||
    fail "$PYTHON cannot import numpy (Debian: apt-get install python3-numpy)"
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null) ||
    fail "no Node.js ($NODE)"
[ "$node_major" -ge 18 ] || fail "Node.js $node_major is too old for fetch (18 or later)"
command -v curl >/dev/null || fail "no curl (Debian: apt-get install curl)"

# A server with its defaults: no L2D_* setting of the caller's (a token file,
# JSON logs) may change what the clients see.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^L2D_' || true)
# Port 0: the server picks a free port and names it on its startup line.
"$L2D" --bind 127.0.0.1 --port 0 --drain-timeout 0 2>"$W/server.log" &
SERVER_PID=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$W/server.log")
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "l2d exited: $(cat "$W/server.log")"
    sleep 0.05
done
[ -n "$port" ] || fail "l2d did not report its port: $(cat "$W/server.log")"
URL="http://127.0.0.1:$port"

# check NAME EXPECTED-FILE COMMAND...: runs the client, compares its output.
check() {
    local name=$1 want=$2
    shift 2
    if ! "$@" >"$W/$name.out" 2>"$W/$name.err"; then
        echo "test-examples: FAIL: $name exited non-zero:" >&2
        cat "$W/$name.out" "$W/$name.err" >&2
        failures=$((failures + 1))
        return
    fi
    if ! diff -u "$want" "$W/$name.out" >"$W/$name.diff"; then
        echo "test-examples: FAIL: $name printed something else (- expected, + got):" >&2
        cat "$W/$name.diff" >&2
        failures=$((failures + 1))
        return
    fi
    echo "test-examples: ok: $name ($(wc -l <"$W/$name.out") lines as expected)"
}

cat >"$W/python.want" <<'EOF'
json [[1,2],[3,4]]: loss=15.0 sum_squares=30.0 count=4 shape=[2, 2] dtype=float64
raw float32 [0.5,-1.25,2,3]: loss=7.40625 sum_squares=14.8125 count=4 shape=[4] dtype=float32
npy float64 [[1,2],[3,4]] scale=0.01: loss=0.15 sum_squares=30.0 count=4 shape=[2, 2] dtype=float64
npz: loss=15.125 count=5 max_abs=4.0 skipped={'step': '<i8'}
  kernel: dtype=float32 shape=[2, 2] loss=15.0 norm=5.477225575051661
  bias: dtype=float16 shape=[1] loss=0.125 norm=0.5
safetensors scale=0.01: loss=0.1525 sum_squares=30.5 count=6
  dense/bias: dtype=float64 shape=[2] loss=0.0025
  dense/kernel: dtype=float32 shape=[2, 2] loss=0.15
error: 400 invalid_scale: scale cannot be an integer: 1
EOF
cat >"$W/node.want" <<'EOF'
json [[1,2],[3,4]]: loss=15 sum_squares=30 count=4 shape=[2,2] dtype=float64
raw float32 [0.5,-1.25,2,3]: loss=7.40625 sum_squares=14.8125 count=4 shape=[4] dtype=float32
raw float32 [0.5,-1.25,2,3] scale=0.01: loss=0.0740625 sum_squares=14.8125 count=4 shape=[4] dtype=float32
error: 400 invalid_scale: scale cannot be an integer: 1
EOF
cat >"$W/shell.want" <<'EOF'
json [[1,2],[3,4]]:
{"loss": 15.0, "sum_squares": 30.0, "norm": 5.477225575051661, "count": 4, "max_abs": 4.0, "shape": [2, 2], "dtype": "float64"}
raw float32 [0.5,-1.25,2,3]:
{"loss": 7.40625, "sum_squares": 14.8125, "norm": 3.848701079585163, "count": 4, "max_abs": 3.0, "shape": [4], "dtype": "float32"}
raw float32 [0.5,-1.25,2,3] scale=0.01:
{"loss": 0.0740625, "sum_squares": 14.8125, "norm": 3.848701079585163, "count": 4, "max_abs": 3.0, "shape": [4], "dtype": "float32", "scale": 0.01}
error (integer scale):
{"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "scale cannot be an integer: 1", "code": "invalid_scale"} HTTP 400
EOF

check python "$W/python.want" "$PYTHON" examples/client.py "$URL"
check node "$W/node.want" "$NODE" examples/client.mjs "$URL"
check shell "$W/shell.want" sh examples/client.sh "$URL"

# Each client really reached this server: 6 + 4 + 4 requests in its log.
requests=$(grep -cE ' POST /(l2_loss|regularize)' "$W/server.log" || true)
[ "$requests" -eq 14 ] || {
    echo "test-examples: FAIL: server logged $requests compute requests, expected 14" >&2
    failures=$((failures + 1))
}

[ "$failures" -eq 0 ] || fail "$failures check(s) failed"
echo "test-examples: all 3 clients give the exact answers"
