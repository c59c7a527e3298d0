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

echo "== server end to end over loopback (l2d --threads 1 on CPU 0, client on CPU 1)"
[ -f "$WORK/s2.json" ] && [ -f "$WORK/s3.f32" ] || "$B/bench/gen_data" "$WORK/s2.json" "$WORK/s3.f32"
PORT=${BENCH_PORT:-18080}
taskset -c 0 "$B/l2d" --bind 127.0.0.1 --port "$PORT" --threads 1 \
    --max-body-bytes 1073741824 --drain-timeout 0 2>"$WORK/l2d.log" &
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

if command -v wrk >/dev/null 2>&1; then
    # Three rounds; the median of each column (the rounds are on the log).
    for r in 1 2 3; do
        c0=$(cpu_ticks)
        out=$(taskset -c 1 wrk -t1 -c32 -d5s --latency -s bench/s1.lua "http://127.0.0.1:$PORT/l2_loss")
        c1=$(cpu_ticks)
        echo "$out" | awk -v t=$((c1 - c0)) -v hz="$TICK" '
            /^ *[0-9]+ requests in/ {n = $1}
            /Requests\/sec/ {rps = $2}
            $1 == "99%" {p = $2; ms = p + 0; if (p ~ /us$/) ms /= 1000; else if (p ~ /[^m]s$/) ms *= 1000}
            END {printf "%s %.3f %.1f\n", rps, ms, t * 1e6 / hz / n}'
    done >"$WORK/s1.rounds"
    printf "%-34s %12s req/s   p99 %s ms   server CPU %s us/req (median of 3)\n" \
        "S1 16-float JSON, wrk -c32 5s" "$(cut -d' ' -f1 "$WORK/s1.rounds" | median)" \
        "$(cut -d' ' -f2 "$WORK/s1.rounds" | median)" "$(cut -d' ' -f3 "$WORK/s1.rounds" | median)"
else
    echo "S1: wrk not installed (apt-get install wrk)"
fi

upload() { # file content-type query -> MB/s, median of 3
    size=$(stat -c %s "$1")
    for r in 1 2 3; do
        t=$(taskset -c 1 curl -sf -o /dev/null -w '%{time_total}' --max-time 120 \
            -H "Content-Type: $2" -H 'Expect:' -X POST -T "$1" "http://127.0.0.1:$PORT/l2_loss$3")
        echo "$size $t" | awk '{printf "%.1f\n", $1 / $2 / 1e6}'
    done | median
}
printf "%-34s %12s MB/s\n" "S2 20 MB JSON, 1M float64" "$(upload "$WORK/s2.json" application/json '')"
printf "%-34s %12s MB/s\n" "S3 256 MiB raw float32" \
    "$(upload "$WORK/s3.f32" application/octet-stream '?dtype=float32')"
printf "%-34s %12s KiB\n" "server peak RSS (VmHWM)" "$(awk '/VmHWM/ {print $2}' /proc/$PID/status)"
kill $PID
wait $PID 2>/dev/null || true
trap - EXIT
