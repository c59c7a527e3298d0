#!/bin/sh
# run.sh BUILD -- `make bench`: the kernel and decoder benchmarks in process,
# then the service end to end over loopback (server on CPU 0, client on CPU 1).
# Everything targets 127.0.0.1, is bounded in time, and stops by itself.
set -eu
B=${1:-build}
WORK=${BENCH_WORK:-/tmp/l2d-bench}
mkdir -p "$WORK"

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo
echo "== kernels (in process)"
"$B/bench/bench_kernel"
echo
echo "== JSON decoding (in process)"
"$B/bench/bench_json"
echo
echo "== raw and .npy decoding (in process)"
"$B/bench/bench_decode"
echo
echo "== gzip request bodies (in process)"
"$B/bench/bench_inflate"
echo
echo "== partials and /merge (in process)"
"$B/bench/bench_merge" "$WORK/merge10k.json"
echo

echo "== server end to end over loopback (l2d --threads 1 on CPU 0, client on CPU 1)"
[ -f "$WORK/s2.json" ] && [ -f "$WORK/s3.f32" ] || "$B/bench/gen_data" "$WORK/s2.json" "$WORK/s3.f32"
PORT=${BENCH_PORT:-18080}
taskset -c 0 "$B/l2d" --bind 127.0.0.1 --port "$PORT" --threads 1 \
    --max-body-bytes 1073741824 --shutdown-delay 0 --drain-timeout 0 2>"$WORK/l2d.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
i=0
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do
    i=$((i + 1)); [ $i -lt 50 ] || { echo "l2d did not start"; exit 1; }; sleep 0.1
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The server's CPU time (user + system, clock ticks) so far: CPU per request
# is the figure that noise from other processes on the machine moves least.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TICK=$(getconf CLK_TCK)

# One wrk round against PATH with SCRIPT: "req/s p99-ms server-us/req".
wrk_round() {
    c0=$(cpu_ticks)
    out=$(taskset -c 1 wrk -t1 -c32 -d5s --latency -s "$2" "http://127.0.0.1:$PORT$1")
    c1=$(cpu_ticks)
    echo "$out" | awk -v t=$((c1 - c0)) -v hz="$TICK" '
        /^ *[0-9]+ requests in/ {n = $1}
        /Requests\/sec/ {rps = $2}
        $1 == "99%" {p = $2; ms = p + 0; if (p ~ /us$/) ms /= 1000; else if (p ~ /[^m]s$/) ms *= 1000}
        END {printf "%s %.3f %.1f\n", rps, ms, t * 1e6 / hz / n}'
}

if command -v wrk >/dev/null 2>&1; then
    # Three rounds, native and inference protocol alternating; the median of
    # each column (the rounds are on the log) and of the per-round ratio.
    : >"$WORK/s1.rounds"
    : >"$WORK/s1v2.rounds"
    for r in 1 2 3; do
        wrk_round /l2_loss bench/s1.lua >>"$WORK/s1.rounds"
        wrk_round /v2/models/l2_loss/infer bench/s1_infer.lua >>"$WORK/s1v2.rounds"
    done
    for f in s1 s1v2; do
        if [ $f = s1 ]; then what="S1 16-float JSON, wrk -c32 5s"; else what="S1 as a v2 JSON infer request"; fi
        printf "%-34s %12s req/s   p99 %s ms   server CPU %s us/req (median of 3)\n" "$what" \
            "$(cut -d' ' -f1 "$WORK/$f.rounds" | median)" \
            "$(cut -d' ' -f2 "$WORK/$f.rounds" | median)" "$(cut -d' ' -f3 "$WORK/$f.rounds" | median)"
    done
    printf "%-34s %12s (target >= 0.8)\n" "  v2 / native req/s" \
        "$(paste -d' ' "$WORK/s1.rounds" "$WORK/s1v2.rounds" | awk '{printf "%.3f\n", $4 / $1}' | median)"
else
    echo "S1: wrk not installed (apt-get install wrk)"
fi

upload() { # file content-type path [header] -> MB/s of one upload
    size=$(stat -c %s "$1")
    t=$(taskset -c 1 curl -sf -o /dev/null -w '%{time_total}' --max-time 120 \
        -H "Content-Type: $2" -H 'Expect:' ${4:+-H "$4"} -X POST -T "$1" "http://127.0.0.1:$PORT$3")
    echo "$size $t" | awk '{printf "%.1f\n", $1 / $2 / 1e6}'
}

# The same tensors as v2 infer requests: S2's array as an input's JSON
# data, S3's floats as binary data after a JSON header.
n2=$(($(tr -cd , <"$WORK/s2.json" | wc -c) + 1))
{
    printf '{"inputs": [{"name": "w", "shape": [%d], "datatype": "FP64", "data": ' "$n2"
    cat "$WORK/s2.json"
    printf '}]}'
} >"$WORK/s2v2.json"
n3=$(($(stat -c %s "$WORK/s3.f32") / 4))
printf '{"inputs": [{"name": "w", "shape": [%d], "datatype": "FP32", "parameters": {"binary_data_size": %d}}]}' \
    "$n3" $((n3 * 4)) >"$WORK/s3v2.head"
h3=$(stat -c %s "$WORK/s3v2.head")
cat "$WORK/s3v2.head" "$WORK/s3.f32" >"$WORK/s3v2.bin"

# Three rounds each, native and v2 alternating: medians and the median of
# the per-round ratios.
for r in 1 2 3; do
    echo "$(upload "$WORK/s2.json" application/json /l2_loss) \
$(upload "$WORK/s2v2.json" application/json /v2/models/l2_loss/infer) \
$(upload "$WORK/s3.f32" application/octet-stream '/l2_loss?dtype=float32') \
$(upload "$WORK/s3v2.bin" application/octet-stream /v2/models/l2_loss/infer "Inference-Header-Content-Length: $h3")"
done >"$WORK/s23.rounds"
col() { cut -d' ' -f"$1" "$WORK/s23.rounds" | median; }
ratio() { awk -v a="$1" -v b="$2" '{printf "%.3f\n", $b / $a}' "$WORK/s23.rounds" | median; }
printf "%-34s %12s MB/s\n" "S2 20 MB JSON, 1M float64" "$(col 1)"
printf "%-34s %12s MB/s   v2 / native %s (target >= 0.9)\n" "S2 as a v2 JSON infer request" \
    "$(col 2)" "$(ratio 1 2)"
printf "%-34s %12s MB/s\n" "S3 256 MiB raw float32" "$(col 3)"
printf "%-34s %12s MB/s   v2 / native %s (target >= 0.95)\n" "S3 as a v2 binary infer request" \
    "$(col 4)" "$(ratio 3 4)"
rm -f "$WORK/s3v2.bin"

# /merge of the 10,000 partials bench_merge wrote (1 MB of JSON): wall time of
# the whole request over loopback, median of 7.
: >"$WORK/merge.rounds"
for r in 1 2 3 4 5 6 7; do
    taskset -c 1 curl -sf -o /dev/null -w '%{time_total}\n' --max-time 30 \
        -H 'Content-Type: application/json' --data-binary @"$WORK/merge10k.json" \
        "http://127.0.0.1:$PORT/merge" >>"$WORK/merge.rounds"
done
printf "%-34s %12s ms (median of 7; target < 50 ms)\n" "/merge of 10,000 partials" \
    "$(median <"$WORK/merge.rounds" | awk '{printf "%.1f", $1 * 1000}')"
printf "%-34s %12s KiB\n" "server peak RSS (VmHWM)" "$(awk '/VmHWM/ {print $2}' /proc/$PID/status)"
kill $PID
wait $PID 2>/dev/null || true
trap - EXIT
