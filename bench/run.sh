#!/bin/sh
# run.sh BUILD -- `make bench`: the in-process benchmarks (kernels, decoders,
# partials), then the service end to end over loopback next to two peers that
# this script starts itself (bench/peers/): a private nginx answering a
# constant (the ceiling: it only reads and discards each body) and a Node
# service on the built-in http module (what a typical Node service does).
# Every server runs pinned to CPU 0 (l2d with --threads 1), the clients (wrk,
# curl) on CPU 1. Server figures are the best of BENCH_ROUNDS (3) rounds, the
# servers taking turns within each round, and every ratio is between figures
# of this run. Last, the table "targets": each performance target of the
# project with its measured figure and met / not met / not measured.
#
# Everything talks to 127.0.0.1 only; each server runs under `timeout` and is
# stopped at exit. Without nginx, node or wrk, their figures and the targets
# that need them are "not measured"; the run goes on. Exit status 1 only when
# an in-process benchmark, gen_data or l2d itself failed. Big data files are kept in
# BENCH_WORK (default /tmp/l2d-bench, ~300 MB), the rest of a run in a
# folder of its own there, removed at exit. Knobs (environment): BENCH_ROUNDS
# (3), BENCH_S1_SECONDS (5), BENCH_SERVER_LIMIT (900 s), BENCH_CPU_TIME (1:
# decoders timed by CPU time), BENCH_NGINX and BENCH_NODE (the peers'
# programs). Takes about 3 minutes on 2 cores.
set -eu
B=${1:-build}
WORK=${BENCH_WORK:-/tmp/l2d-bench}
ROUNDS=${BENCH_ROUNDS:-3}
S1_SECONDS=${BENCH_S1_SECONDS:-5}
LIMIT=${BENCH_SERVER_LIMIT:-900} # the longest a server started here may live, s
HERE=$(cd "$(dirname "$0")" && pwd)
START=$(date +%s)
mkdir -p "$WORK"
RUN=$(mktemp -d "$WORK/run.XXXXXX")
M=$RUN/metrics # one measured figure a line: KEY VALUE [NOTE], read by the table
: >"$M"
FAILED="" # what failed outright (exit status 1)

# --- helpers ----------------------------------------------------------------

# put KEY VALUE [NOTE]: records a figure; an empty VALUE or "-" records none.
put() {
    case ${2:--} in -) return 0 ;; esac
    echo "$*" >>"$M"
}
get() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$M"; }

# A / B to 3 decimals; nothing when either is missing or B is 0.
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.3f", a / b }'; }

# verdict MEASURED OP THRESHOLD: "met", "not met", or "not measured" when
# MEASURED is empty. The one judgement every row of the targets table uses.
verdict() {
    awk -v v="${1:-}" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "") { print "not measured"; exit }
        v += 0; t += 0
        if (op == ">=") ok = v >= t; else if (op == "<=") ok = v <= t
        else if (op == "<") ok = v < t; else ok = v > t
        print ok ? "met" : "not met"
    }'
}

# best FILE LABEL COLUMN max|min FORMAT: the best of LABEL's rounds in FILE,
# whose lines are "LABEL FIGURE..." ("-": a failed round, skipped), printed
# with the printf FORMAT.
best() {
    awk -v l="$2" -v c="$3" -v w="$4" -v f="$5" '$1 == l && $c != "-" {
        if (n++ == 0 || (w == "max" ? $c + 0 > b : $c + 0 < b)) b = $c + 0
    } END { if (n) printf f "\n", b }' "$1"
}

have() { command -v "$1" >/dev/null 2>&1; }

# inproc PROGRAM [ARG...]: one in-process benchmark, its output shown as it
# goes; its "metric" lines (BENCH_METRICS=1) go to the figures instead. The
# decoders time by their thread's CPU time (BENCH_CPU_TIME, default 1): on a
# shared machine, time spent descheduled does not count.
inproc() {
    [ "$1" = taskset ] && name=${4##*/} || name=${1##*/}
    { rc=0; BENCH_METRICS=1 BENCH_CPU_TIME=${BENCH_CPU_TIME:-1} "$@" 2>&1 || rc=$?; echo "$rc" >"$RUN/$name.rc"; } |
        tee "$RUN/$name.out" | { grep -v '^metric ' || true; }
    sed -n 's/^metric //p' "$RUN/$name.out" >>"$M"
    rc=$(cat "$RUN/$name.rc")
    if [ "$rc" != 0 ]; then
        echo "$name failed (exit status $rc): its targets are not measured"
        FAILED="$FAILED $name"
    fi
    echo
}

# The kernels' "feed / read" column (kernel sum rate / plain read rate) by
# dtype, found by its header text, so that columns may come and go: each
# figure is right-aligned under its column's name, so a column's figure is
# the one in the row that ends nearest to where its name ends. Without a
# "feed / read" column, l2_accum_feed / plain read. Prints lines
# "kernel_DTYPE RATIO NOTE".
kernel_metrics() {
    awk '
    function name_end(s) { return index(hdr, s) ? index(hdr, s) + length(s) - 1 : 0 }
    function under(e,    i, d, bd, v) { # the figure ending nearest column e
        if (!e) return ""
        bd = -1
        for (i = 2; i <= nt; i++) {
            d = tend[i] > e ? tend[i] - e : e - tend[i]
            if (bd < 0 || d < bd) { bd = d; v = tok[i] }
        }
        return v
    }
    index($0, "l2_accum_feed") && index($0, "plain read") {
        hdr = $0; e_fr = name_end("feed / read"); e_rd = name_end("plain read")
        e_feed = name_end("l2_accum_feed"); next
    }
    hdr != "" && $1 ~ /^(float32|float64|float16|bfloat16)$/ {
        nt = 0; at = 0; line = $0
        while (match(substr(line, at + 1), /[^ ]+/)) {
            tok[++nt] = substr(line, at + RSTART, RLENGTH)
            at += RSTART + RLENGTH - 1
            tend[nt] = at
        }
        fr = under(e_fr); rd = under(e_rd); feed = under(e_feed)
        if (fr ~ /^[0-9.]+%$/)
            printf "kernel_%s %.3f feed / read %s (%s / %s GB/s)\n", $1,
                substr(fr, 1, length(fr) - 1) / 100, fr, feed, rd
        else if (fr ~ /^[0-9.]+$/) # a fraction rather than a percentage
            printf "kernel_%s %.3f feed / read %s (%s / %s GB/s)\n", $1, fr, fr, feed, rd
        else if (feed + 0 > 0 && rd + 0 > 0)
            printf "kernel_%s %.3f l2_accum_feed / plain read: %s / %s GB/s\n", $1, feed / rd, feed, rd
    }' "$@"
}

# Servers, started by `launch` below, and the cleanup at exit.
SERVERS="" # the `timeout` processes the servers run under (each its own group)

# launch LOG CMD [ARG...]: starts CMD under timeout, its output to LOG. Sets
# W (the timeout process, leader of the server's process group) and P (the
# server's process id).
launch() {
    log=$1
    shift
    timeout -k 5 "$LIMIT" "$@" >"$log" 2>&1 </dev/null &
    W=$!
    SERVERS="$SERVERS $W"
    P=""
    i=0
    while [ -z "$P" ] && [ $i -lt 50 ]; do
        P=$(awk '{ print $1 }' "/proc/$W/task/$W/children" 2>/dev/null || true)
        [ -n "$P" ] || { sleep 0.1; i=$((i + 1)); }
    done
}

# stop W: stops the server run by the timeout process W, and its group.
stop() {
    kill "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL -- "-$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

cleanup() {
    for w in $SERVERS; do stop "$w"; done
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- in-process benchmarks --------------------------------------------------

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load average $LOAD0"
echo
echo "== kernels (in process, pinned to CPU 1: a migrating thread reads slower)"
inproc taskset -c 1 "$B/bench/bench_kernel"
kernel_metrics "$RUN/bench_kernel.out" >>"$M"
echo "== JSON decoding (in process)"
inproc "$B/bench/bench_json"
echo "== raw, .npy, .npz, safetensors and v2 binary decoding (in process)"
inproc "$B/bench/bench_decode"
echo "== gzip request bodies (in process)"
inproc "$B/bench/bench_inflate"
echo "== partials and /merge (in process)"
inproc "$B/bench/bench_merge" "$RUN/merge10k.json"

# --- servers ----------------------------------------------------------------

# answers PORT: whether POST /l2_loss on 127.0.0.1:PORT answers 200.
answers() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Content-Type: application/json' \
        --data-binary '[1]' "http://127.0.0.1:$1/l2_loss" 2>/dev/null)" = 200 ]
}

# listening_port LOG: the port a server printed as "listening on
# http://127.0.0.1:PORT" (l2d and the Node peer, started on port 0), once
# it answers; nothing after 10 s or when the server has gone.
listening_port() {
    i=0
    while [ $i -lt 100 ] && kill -0 "$P" 2>/dev/null; do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$1" | head -n1)
        if [ -n "$port" ] && answers "$port"; then
            echo "$port"
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
}

# A port no socket on this machine has (nginx cannot report one it picked).
free_port() {
    used=$(awk 'NR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null || true)
    while :; do
        port=$(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000 + 20000))
        echo "$used" | grep -qx "$(printf '%04X' "$port")" || break
    done
    echo "$port"
}

# cpu_ticks PID...: user + system CPU time of the processes, clock ticks.
cpu_ticks() {
    for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
TICK=$(getconf CLK_TCK)

# peak_kib PID...: the sum of the processes' peak resident sets (VmHWM), KiB.
peak_kib() {
    for p in "$@"; do cat "/proc/$p/status" 2>/dev/null || true; done |
        awk '/^VmHWM:/ { k += $2 } END { if (k) print k }'
}

if ! have curl; then
    echo "== server end to end: curl is not installed (apt-get install curl): not measured"
    SKIP_SERVERS=1
else
    SKIP_SERVERS=""
fi

L2D_PORT="" L2D_PID="" T2_PORT="" T2_PID="" T2_W="" NGINX_PORT="" NGINX_PIDS="" NODE_PORT="" NODE_PID=""
if [ -z "$SKIP_SERVERS" ]; then
    echo "== servers: l2d --threads 1 on CPU 0 (and l2d --threads 2 unpinned, S1 only), nginx and Node on CPU 0; clients on CPU 1"
    if [ ! -f "$WORK/s2.json" ] || [ ! -f "$WORK/s3.f32" ]; then
        echo "writing the S2 and S3 bodies to $WORK"
        if "$B/bench/gen_data" "$RUN/s2.json" "$RUN/s3.f32"; then
            mv "$RUN/s2.json" "$RUN/s3.f32" "$WORK/"
        else
            echo "gen_data failed: S2 and S3 are not measured"
            FAILED="$FAILED gen_data"
        fi
    fi
    L2D_ARGS="--bind 127.0.0.1 --port 0 --max-body-bytes 1073741824 --shutdown-delay 0 --drain-timeout 0"
    # shellcheck disable=SC2086 # L2D_ARGS: words
    launch "$RUN/l2d.log" taskset -c 0 "$B/l2d" $L2D_ARGS --threads 1
    L2D_PID=$P
    L2D_PORT=$(listening_port "$RUN/l2d.log")
    if [ -z "$L2D_PORT" ]; then
        echo "l2d did not start:"
        tail -n 5 "$RUN/l2d.log"
        FAILED="$FAILED l2d"
    else
        echo "l2d: port $L2D_PORT, pid $L2D_PID"
    fi
    # shellcheck disable=SC2086
    launch "$RUN/l2d-t2.log" "$B/l2d" $L2D_ARGS --threads 2
    T2_PID=$P T2_W=$W
    T2_PORT=$(listening_port "$RUN/l2d-t2.log")
    [ -n "$T2_PORT" ] || echo "l2d --threads 2 did not start"

    NGINX=${BENCH_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
    if [ -x "$NGINX" ]; then
        mkdir -p "$RUN/nginx/tmp"
        for _ in 1 2 3 4 5; do
            port=$(free_port)
            sed -e "s|@PREFIX@|$RUN/nginx|g" -e "s|@PORT@|$port|g" \
                "$HERE/peers/nginx.conf.in" >"$RUN/nginx/nginx.conf"
            launch "$RUN/nginx.log" taskset -c 0 "$NGINX" -p "$RUN/nginx" -e "$RUN/nginx/error.log" \
                -c "$RUN/nginx/nginx.conf"
            i=0
            while [ $i -lt 50 ] && kill -0 "$P" 2>/dev/null && ! answers "$port"; do
                sleep 0.1
                i=$((i + 1))
            done
            if answers "$port"; then
                NGINX_PORT=$port
                # the master and its worker
                NGINX_PIDS="$P $(cat "/proc/$P/task/$P/children" 2>/dev/null || true)"
                break
            fi
            stop "$W"
        done
        if [ -n "$NGINX_PORT" ]; then
            echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||'): port $NGINX_PORT, pids $NGINX_PIDS"
        else
            echo "nginx did not start: its figures are not measured"
            cat "$RUN/nginx/error.log" "$RUN/nginx.log" 2>/dev/null | tail -n 5
        fi
    else
        echo "nginx is not installed (apt-get install nginx): its figures are not measured"
    fi

    NODE=${BENCH_NODE:-node}
    if have "$NODE"; then
        launch "$RUN/node.log" taskset -c 0 "$NODE" "$HERE/peers/peer_node.js" 0
        NODE_PID=$P
        NODE_PORT=$(listening_port "$RUN/node.log")
        if [ -n "$NODE_PORT" ]; then
            echo "node $("$NODE" --version): port $NODE_PORT, pid $NODE_PID"
        else
            echo "the Node peer did not start: its figures are not measured"
            tail -n 5 "$RUN/node.log"
        fi
    else
        echo "node is not installed (apt-get install nodejs): its figures are not measured"
    fi
    echo
fi

# --- S1: small JSON requests under wrk --------------------------------------

# s1_round LABEL: one wrk round against LABEL's server; appends
# "LABEL req/s p99-ms server-us/req" to s1.rounds ("-" for a failed round).
s1_round() {
    case $1 in
    l2d) port=$L2D_PORT path=/l2_loss script=s1.lua pids=$L2D_PID ;;
    l2d-v2) port=$L2D_PORT path=/v2/models/l2_loss/infer script=s1_infer.lua pids=$L2D_PID ;;
    l2d-t2) port=$T2_PORT path=/l2_loss script=s1.lua pids=$T2_PID ;;
    nginx) port=$NGINX_PORT path=/l2_loss script=s1.lua pids=$NGINX_PIDS ;;
    node) port=$NODE_PORT path=/l2_loss script=s1.lua pids=$NODE_PID ;;
    esac
    [ -n "$port" ] || return 0
    # shellcheck disable=SC2086 # pids: words
    c0=$(cpu_ticks $pids)
    out=$(timeout 60 taskset -c 1 wrk -t1 -c32 -d"${S1_SECONDS}s" --latency -s "$HERE/$script" \
        "http://127.0.0.1:$port$path" 2>&1 || true)
    # shellcheck disable=SC2086
    c1=$(cpu_ticks $pids)
    echo "$out" | awk -v l="$1" -v t=$((c1 - c0)) -v hz="$TICK" '
        /^ *[0-9]+ requests in/ { n = $1 }
        /Requests\/sec/ { rps = $2 }
        /Non-2xx or 3xx responses/ { bad = $NF }
        $1 == "99%" { p = $2; ms = p + 0; if (p ~ /us$/) ms /= 1000; else if (p ~ /[0-9]s$/) ms *= 1000 }
        END {
            if (n > 0 && !bad) printf "%s %.1f %.3f %.2f\n", l, rps, ms, t * 1e6 / hz / n
            else printf "%s - - - (%s)\n", l, bad ? bad " non-2xx answers" : "wrk failed"
        }' >>"$RUN/s1.rounds"
    tail -n 1 "$RUN/s1.rounds" | awk '{ printf "  %-7s %12s req/s   p99 %6s ms   %6s us/req  %s %s %s\n", $1, $2, $3, $4, $5, $6, $7 }'
}

if [ -z "$SKIP_SERVERS" ] && have wrk; then
    echo "== S1: 16-float JSON (bench/s1.lua), wrk -t1 -c32 -d${S1_SECONDS}s keep-alive; $ROUNDS rounds, servers in turn"
    : >"$RUN/s1.rounds"
    r=1
    while [ $r -le "$ROUNDS" ]; do
        echo " round $r"
        for l in l2d l2d-v2 nginx node l2d-t2; do s1_round $l; done
        r=$((r + 1))
    done
    [ -z "$T2_W" ] || stop "$T2_W"
    echo
    echo "S1, best of $ROUNDS rounds per figure (req/s: highest; p99 and CPU: lowest)"
    printf "  %-34s %12s %10s %16s\n" server req/s "p99 ms" "server CPU us/req"
    for l in l2d l2d-v2 nginx node l2d-t2; do
        case $l in
        l2d) what="l2d --threads 1 (CPU 0)" ;;
        l2d-v2) what="l2d, as a v2 JSON infer request" ;;
        nginx) what="nginx, constant answer (CPU 0)" ;;
        node) what="Node http peer (CPU 0)" ;;
        l2d-t2) what="l2d --threads 2 (unpinned)" ;;
        esac
        rps=$(best "$RUN/s1.rounds" $l 2 max %.0f)
        p99=$(best "$RUN/s1.rounds" $l 3 min %.3f)
        cpu=$(best "$RUN/s1.rounds" $l 4 min %.2f)
        printf "  %-34s %12s %10s %16s\n" "$what" "${rps:-n/a}" "${p99:-n/a}" "${cpu:-n/a}"
        put "s1_rps_$l" "$rps"
        put "s1_p99_$l" "$p99"
        put "s1_cpu_$l" "$cpu"
    done
    put s1_p99_ms "$(get s1_p99_l2d)"
    put s1_cpu_us "$(get s1_cpu_l2d)"
    # The req/s ratios, and beside them the same ratios from server CPU per
    # request (what a saturated server would show; noise moves it least).
    for peer in nginx node l2d-v2; do
        a=l2d b=$peer
        [ $peer != l2d-v2 ] || { a=l2d-v2 b=l2d; }
        case $peer in nginx) key=s1_vs_nginx ;; node) key=s1_vs_node ;; *) key=s1_v2_vs_s1 ;; esac
        put $key "$(ratio "$(get "s1_rps_$a")" "$(get "s1_rps_$b")")" \
            "$(get "s1_rps_$a") / $(get "s1_rps_$b") req/s; by CPU per request" \
            "$(ratio "$(get "s1_cpu_$b")" "$(get "s1_cpu_$a")")"
    done
    echo
elif [ -z "$SKIP_SERVERS" ]; then
    echo "== S1: wrk is not installed (apt-get install wrk): not measured"
    [ -z "$T2_W" ] || stop "$T2_W"
    echo
fi

# --- S2 and S3: large bodies with curl ---------------------------------------

# upload LABEL FILE CONTENT-TYPE PORT PATH PATTERN [HEADER]: one POST of FILE,
# its rate appended as "LABEL MB/s" to s23.rounds, or "LABEL -" when the
# server is not there, the upload failed, or the answer does not match
# PATTERN (an extended regular expression; empty: any answer). Up to 64 MiB
# (S2) with `curl --data-binary` (read into memory before the clock starts);
# larger bodies (S3) streamed from the file with `curl -T`: sending 256 MiB
# from memory made curl the bottleneck (nginx took 0.72 -- 0.78 s against
# 0.43 -- 0.64 s with -T), and reading it in costs 2 s per upload.
upload() {
    [ -n "$4" ] || { echo "$1 -" >>"$RUN/s23.rounds"; return 0; }
    size=$(stat -c %s "$2")
    if [ "$size" -le 67108864 ]; then send=--data-binary from=@$2; else send=-T from=$2; fi
    if t=$(timeout 180 taskset -c 1 curl -sf -o "$RUN/answer" -w '%{time_total}' --max-time 150 \
        -H "Content-Type: $3" -H 'Expect:' ${7:+-H "$7"} -X POST "$send" "$from" \
        "http://127.0.0.1:$4$5" 2>/dev/null) && { [ -z "$6" ] || grep -Eq "$6" "$RUN/answer"; }; then
        echo "$1 $size $t" | awk '{ printf "%s %.1f\n", $1, $2 / $3 / 1e6 }'
    else
        echo "$1 -"
    fi >>"$RUN/s23.rounds"
    rm -f "$RUN/answer"
}

if [ -z "$SKIP_SERVERS" ] && [ -f "$WORK/s2.json" ] && [ -f "$WORK/s3.f32" ]; then
    # The same tensors as v2 infer requests: S2's array as an input's JSON
    # data, S3's floats as binary data after a JSON header.
    n2=$(($(tr -cd , <"$WORK/s2.json" | wc -c) + 1))
    {
        printf '{"inputs": [{"name": "w", "shape": [%d], "datatype": "FP64", "data": ' "$n2"
        cat "$WORK/s2.json"
        printf '}]}'
    } >"$RUN/s2v2.json"
    n3=$(($(stat -c %s "$WORK/s3.f32") / 4))
    printf '{"inputs": [{"name": "w", "shape": [%d], "datatype": "FP32", "parameters": {"binary_data_size": %d}}]}' \
        "$n3" $((n3 * 4)) >"$RUN/s3v2.head"
    h3=$(stat -c %s "$RUN/s3v2.head")
    cat "$RUN/s3v2.head" "$WORK/s3.f32" >"$RUN/s3v2.bin"

    echo "== S2: 20 MB JSON (1M float64, curl --data-binary); S3: 256 MiB raw float32 (?dtype=float32, curl -T); curl on CPU 1, $ROUNDS rounds, servers in turn"
    : >"$RUN/s23.rounds"
    V2=/v2/models/l2_loss/infer
    # The answers must count every element (nginx's constant is not checked).
    COUNT2="\"count\": ?${n2}[,}]" COUNT3="\"count\": ?${n3}[,}]"
    V2COUNT2="\"name\": \"count\",[^}]*\"data\": \[$n2\]"
    V2COUNT3="\"name\": \"count\",[^}]*\"data\": \[$n3\]"
    r=1
    while [ $r -le "$ROUNDS" ]; do
        upload s2-l2d "$WORK/s2.json" application/json "$L2D_PORT" /l2_loss "$COUNT2"
        upload s2-l2d-v2 "$RUN/s2v2.json" application/json "$L2D_PORT" $V2 "$V2COUNT2"
        upload s2-node "$WORK/s2.json" application/json "$NODE_PORT" /l2_loss "$COUNT2"
        upload s3-l2d "$WORK/s3.f32" application/octet-stream "$L2D_PORT" '/l2_loss?dtype=float32' "$COUNT3"
        upload s3-l2d-v2 "$RUN/s3v2.bin" application/octet-stream "$L2D_PORT" $V2 "$V2COUNT3" \
            "Inference-Header-Content-Length: $h3"
        upload s3-nginx "$WORK/s3.f32" application/octet-stream "$NGINX_PORT" '/l2_loss?dtype=float32' ""
        upload s3-node "$WORK/s3.f32" application/octet-stream "$NODE_PORT" '/l2_loss?dtype=float32' "$COUNT3"
        echo " round $r:" "$(awk -v r=$r 'NR > (r - 1) * 7 { printf " %s %s", $1, $2 }' "$RUN/s23.rounds")"
        r=$((r + 1))
    done
    rm -f "$RUN/s3v2.bin"
    for l in s2-l2d s2-l2d-v2 s2-node s3-l2d s3-l2d-v2 s3-nginx s3-node; do
        put "$l" "$(best "$RUN/s23.rounds" $l 2 max %.1f)"
    done
    gbs() { awk -v m="${1:-}" 'BEGIN { if (m != "") printf "%.2f", m / 1000 }'; }
    # row WHAT FIGURE UNIT [RATIO-NAME RATIO]: one line of the summary.
    row() {
        printf "  %-40s %10s %-5s" "$1" "${2:-n/a}" "$3"
        [ $# -lt 5 ] || printf "  %s %s" "$4" "${5:-n/a}"
        echo
    }
    echo
    echo "S2 and S3, best of $ROUNDS rounds per figure (MB = 1e6 bytes, GB = 1e9 bytes)"
    row "S2 l2d" "$(get s2-l2d)" MB/s
    row "S2 l2d as a v2 JSON infer request" "$(get s2-l2d-v2)" MB/s "v2 / native" \
        "$(ratio "$(get s2-l2d-v2)" "$(get s2-l2d)")"
    row "S2 Node peer" "$(get s2-node)" MB/s "l2d / Node" "$(ratio "$(get s2-l2d)" "$(get s2-node)")"
    row "S3 l2d" "$(gbs "$(get s3-l2d)")" GB/s
    row "S3 l2d as a v2 binary infer request" "$(gbs "$(get s3-l2d-v2)")" GB/s "v2 / native" \
        "$(ratio "$(get s3-l2d-v2)" "$(get s3-l2d)")"
    row "S3 nginx (reads and discards the body)" "$(gbs "$(get s3-nginx)")" GB/s "l2d / nginx" \
        "$(ratio "$(get s3-l2d)" "$(get s3-nginx)")"
    row "S3 Node peer" "$(gbs "$(get s3-node)")" GB/s "l2d / Node" \
        "$(ratio "$(get s3-l2d)" "$(get s3-node)")"
    put s2_mbps "$(get s2-l2d)"
    put s2_v2_vs_s2 "$(ratio "$(get s2-l2d-v2)" "$(get s2-l2d)")" \
        "$(get s2-l2d-v2) / $(get s2-l2d) MB/s"
    put s3_vs_nginx "$(ratio "$(get s3-l2d)" "$(get s3-nginx)")" \
        "$(gbs "$(get s3-l2d)") / $(gbs "$(get s3-nginx)") GB/s"
    put s3_v2_vs_s3 "$(ratio "$(get s3-l2d-v2)" "$(get s3-l2d)")" \
        "$(gbs "$(get s3-l2d-v2)") / $(gbs "$(get s3-l2d)") GB/s"

    echo
fi

if [ -z "$SKIP_SERVERS" ]; then
    echo "== /merge over loopback; peak memory"
    # /merge of the 10,000 partials bench_merge wrote (1 MB of JSON): wall
    # time of the whole request over loopback, best of 7.
    if [ -n "$L2D_PORT" ] && [ -f "$RUN/merge10k.json" ]; then
        : >"$RUN/merge.rounds"
        for r in 1 2 3 4 5 6 7; do
            if t=$(timeout 60 taskset -c 1 curl -sf -o /dev/null -w '%{time_total}' --max-time 30 \
                -H 'Content-Type: application/json' --data-binary @"$RUN/merge10k.json" \
                "http://127.0.0.1:$L2D_PORT/merge" 2>/dev/null); then
                echo "$t" >>"$RUN/merge.rounds"
            fi
        done
        put merge_loopback_ms "$(awk 'NR == 1 || $1 < b { b = $1 } END { if (NR) printf "%.2f", b * 1000 }' \
            "$RUN/merge.rounds")" "best of 7, whole request"
        printf "  %-40s %10s ms (best of 7)\n" "/merge of 10,000 partials over loopback" "$(get merge_loopback_ms)"
    fi

    # Peak resident sets over the whole run (VmHWM; nginx: master + worker).
    [ -z "$L2D_PORT" ] || put rss_mib "$(peak_kib "$L2D_PID" | awk '{ printf "%.1f", $1 / 1024 }')" \
        "VmHWM after S1, S2, S3 and /merge"
    printf "  %-40s %10s MiB\n" "peak RSS (VmHWM) l2d" "$(get rss_mib)"
    # shellcheck disable=SC2086
    [ -z "$NGINX_PORT" ] || printf "  %-40s %10s MiB\n" "peak RSS (VmHWM) nginx" \
        "$(peak_kib $NGINX_PIDS | awk '{ printf "%.1f", $1 / 1024 }')"
    [ -z "$NODE_PORT" ] || printf "  %-40s %10s MiB\n" "peak RSS (VmHWM) Node peer" \
        "$(peak_kib "$NODE_PID" | awk '{ printf "%.1f", $1 / 1024 }')"
    echo
fi

# --- the targets --------------------------------------------------------------

# One target a line: KEY (the figure, above) OP THRESHOLD UNIT NAME.
targets() {
    cat <<'EOF'
s1_vs_nginx >= 0.6 x S1 req/s, l2d / nginx
s1_vs_node >= 2 x S1 req/s, l2d / Node
s1_p99_ms <= 1 ms S1 p99 latency, l2d
s1_cpu_us <= 7 us S1 server CPU per request, l2d
s2_mbps >= 600 MB/s S2 20 MB JSON, l2d
s3_vs_nginx >= 0.9 x S3 256 MiB raw float32, l2d / nginx
rss_mib <= 16 MiB l2d peak RSS (VmHWM)
kernel_float32 >= 0.80 x float32 kernel / plain read
kernel_float64 >= 0.75 x float64 kernel / plain read
kernel_float16 >= 0.70 x float16 kernel / plain read
kernel_bfloat16 >= 0.70 x bfloat16 kernel / plain read
decode_safetensors >= 0.9 x safetensors decode / raw (worst chunk)
decode_npz >= 0.9 x stored .npz decode / raw (worst chunk)
gzip_vs_zlib >= 0.9 x gzip body / zlib inflate
decode_v2_binary >= 0.95 x v2 binary infer / raw, in process
s3_v2_vs_s3 >= 0.95 x v2 binary infer / raw, S3 loopback
json_infer >= 0.9 x JSON infer / JSON body, in process
s2_v2_vs_s2 >= 0.9 x JSON infer / JSON body, S2 loopback
s1_v2_vs_s1 >= 0.8 x small JSON infer / S1 req/s
merge_ms < 50 ms /merge of 10,000 partials, in process
merge_loopback_ms < 50 ms /merge of 10,000 partials, loopback
partial_encode_us < 1 us partial encode
partial_decode_us < 1 us partial decode
EOF
}

echo "== targets (server figures: best of $ROUNDS rounds; ratios between figures of this run; load average at the start $LOAD0, now $(cut -d' ' -f1-3 /proc/loadavg))"
printf "%-42s %-12s %-12s %-13s %s\n" target measured threshold result detail
targets | while read -r key op thr unit name; do
    v=$(get "$key")
    note=$(awk -v k="$key" '$1 == k { $1 = ""; $2 = ""; n = substr($0, 3) } END { print n }' "$M")
    res=$(verdict "$v" "$op" "$thr")
    echo "$res" >>"$RUN/verdicts"
    printf "%-42s %-12s %-12s %-13s %s\n" "$name" "${v:+$v $unit}" "$op $thr $unit" "$res" "$note"
done
awk '{ n[$0]++ } END { printf "%d met, %d not met, %d not measured\n", n["met"], n["not met"], n["not measured"] }' \
    "$RUN/verdicts"
echo "make bench took $(($(date +%s) - START)) s"
if [ -n "$FAILED" ]; then
    echo "failed:$FAILED"
    exit 1
fi
