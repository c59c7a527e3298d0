#!/usr/bin/env bash
# test-examples.sh -- run the example clients in examples/ (Python with urllib
# and numpy, JavaScript with Node's fetch, shell with curl; the inference
# protocol v2 in Python; TypeScript through the client generated from
# openapi.yaml) against a live l2d on a free loopback port, and check what
# each prints against the exact answers: [[1,2],[3,4]] -> loss 15.0; float32
# [0.5,-1.25,2,3] -> sum_squares 14.8125, loss 7.40625, scale 0.01 ->
# 0.0740625; an .npz and a safetensors checkpoint per tensor (Python); an
# integer scale -> 400 invalid_scale. The v2 Python client's answers are
# computed here independently, with exact fractions.
#
# Usage: tests/examples/test-examples.sh [L2D_BINARY [TS_MAIN_JS]]
#   L2D_BINARY  default build/l2d
#   TS_MAIN_JS  examples/ts/main.ts compiled beside the client generated from
#               openapi.yaml (`make test-examples` builds both; default
#               build/examples/ts/js/main.js)
# PYTHON picks the interpreter (default /usr/bin/python3: Debian's, which has
# python3-numpy), NODE the Node.js binary (default node, 18 or later).
set -euo pipefail
cd "$(dirname "$0")/../.."

L2D=${1:-build/l2d}
TS_MAIN=${2:-build/examples/ts/js/main.js}
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
[ -f "$TS_MAIN" ] || fail "no compiled TypeScript example at $TS_MAIN (run make test-examples)"
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

# The TypeScript example: /regularize with an .npy file numpy writes, the
# l2_loss model with binary data (kernel [[1,2],[3,4]] and bias [0.5,-0.5],
# float32: sums 30 and 0.5), and the protocol's error body.
"$PYTHON" -c 'import sys, numpy as np
np.save(sys.argv[1], np.array([[0.5, -1.25], [2, 3]], dtype=np.float32))' "$W/w.npy"
cat >"$W/typescript.want" <<'EOF'
regularize npy scale=0.01: loss=0.0740625 sum_squares=14.8125 norm=3.848701079585163 count=4 max_abs=3 dtype=float32 shape=[2,2]
infer l2_loss id=ts-1: loss=[15.25] input_loss=[15,0.25] count=[6]
infer regularize scale=1: 400 scale cannot be an integer: 1
EOF

# The answers examples/v2_client.py must print, computed without l2d and
# without numpy: each element rounded to its dtype with struct, its exact
# square as a Fraction, the sums exact, each result rounded once to float64
# (float(Fraction) rounds to nearest, ties to even), regularize's loss the
# exact scale x sum / 2 rounded once, the norm the correctly rounded square
# root of the exact sum.
"$PYTHON" - >"$W/v2.want" <<'EOF'
import math
import struct
from fractions import Fraction


def rounded(fmt, values):
    return [struct.unpack(fmt, struct.pack(fmt, v))[0] for v in values]


def sqrt_rn(s):
    """The float64 nearest to the square root of the Fraction s."""
    x = math.sqrt(float(s))
    while True:
        lo, hi = math.nextafter(x, 0.0), math.nextafter(x, math.inf)
        if s > ((Fraction(x) + Fraction(hi)) / 2) ** 2:
            x = hi
        elif x > 0 and s < ((Fraction(x) + Fraction(lo)) / 2) ** 2:
            x = lo
        else:
            return x


inputs = {
    "dense/kernel": rounded("<f", [0.1, -0.2, 0.3, 0.4]),
    "dense/bias": rounded("<e", [0.5, -1.5, 2.25]),
    "embedding": [1e-3, -7.0],
}


def outputs(named, scale=None):
    sums = {n: sum(Fraction(v) ** 2 for v in vals) for n, vals in named.items()}
    total = sum(sums.values())
    k = Fraction(1, 2) if scale is None else Fraction(scale) / 2
    return {
        "loss": [float(total * k)],
        "sum_squares": [float(total)],
        "norm": [sqrt_rn(total)],
        "max_abs": [max(abs(v) for vals in named.values() for v in vals)],
        "count": [sum(len(vals) for vals in named.values())],
        "input_loss": [float(s * k) for s in sums.values()],
        "input_sum_squares": [float(s) for s in sums.values()],
        "input_norm": [sqrt_rn(s) for s in sums.values()],
    }


def show(label, outs, binary, names=None):
    print(label)
    for name in names or outs:
        dtype = "int64" if name == "count" else "float64"
        how = "binary" if name in binary else "json"
        print(f"  {name} {dtype} {how} {outs[name]}")


asked = ["loss", "sum_squares", "norm", "max_abs", "count", "input_loss"]
show("l2_loss, binary inputs: id=py-1", outputs(inputs), {"loss", "sum_squares", "count", "input_loss"}, asked)
show("regularize scale=0.01, JSON inputs:", outputs(inputs, 0.01), set())
bias = {"w": inputs["dense/bias"]}
show("regularize scale=0.5, binary outputs:", outputs(bias, 0.5), set(outputs(bias)))
print("error (integer scale): 400 scale cannot be an integer: 1")
print("error (scale on l2_loss): 400 parameters.scale is only accepted by the regularize model")
print("error (unknown model): 404 no model 'l3_loss': the models are l2_loss, regularize")
EOF

check python "$W/python.want" "$PYTHON" examples/client.py "$URL"
check node "$W/node.want" "$NODE" examples/client.mjs "$URL"
check shell "$W/shell.want" sh examples/client.sh "$URL"
check v2-python "$W/v2.want" "$PYTHON" examples/v2_client.py "$URL"
check typescript "$W/typescript.want" "$NODE" "$TS_MAIN" "$URL" "$W/w.npy"

# Each client really reached this server: 6 + 4 + 4 + 1 (TypeScript) native
# compute requests, 6 (v2 Python) + 2 (TypeScript) infer requests.
requests=$(grep -cE ' POST /(l2_loss|regularize) ' "$W/server.log" || true)
[ "$requests" -eq 15 ] || {
    echo "test-examples: FAIL: server logged $requests native compute requests, expected 15" >&2
    failures=$((failures + 1))
}
requests=$(grep -cE ' POST /v2/models/[a-z0-9_]+/infer ' "$W/server.log" || true)
[ "$requests" -eq 8 ] || {
    echo "test-examples: FAIL: server logged $requests infer requests, expected 8" >&2
    failures=$((failures + 1))
}

[ "$failures" -eq 0 ] || fail "$failures check(s) failed"
echo "test-examples: all 5 clients give the exact answers"
