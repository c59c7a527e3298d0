#!/bin/sh
# soak.sh -- the soak of RELIABILITY.md: wrk at saturation for SECONDS
# (default 60) against l2d on 127.0.0.1, rotating through valid and invalid
# requests of every kind (soak.lua checks every answer). Passes when wrk
# reports no socket error, every answer is right, the resident set grew by
# less than 1 MiB and no file descriptor was left open; the server is then
# stopped with SIGTERM and must exit 0.
#
# usage: sh tests/reliability/soak.sh path/to/l2d [SECONDS]
set -u

bin=${1:?usage: soak.sh path/to/l2d [SECONDS]}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp /tmp/l2d-soak-log.XXXXXX)
out=$(mktemp /tmp/l2d-soak-out.XXXXXX)
pid=

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -f "$log" "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "soak: FAIL: $*"
    exit 1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
fd_count() { ls "/proc/$pid/fd" | wc -l; }

"$bin" --bind 127.0.0.1 --port 0 --threads 2 --max-body-bytes 4096 --timeout 10 \
    --drain-timeout 1 2>"$log" &
pid=$!
port=
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "l2d exited at startup: $(cat "$log")"
    sleep 0.05
    i=$((i + 1))
done
[ -n "$port" ] || fail "no startup line within 5 s"
url="http://127.0.0.1:$port/"

# Warm-up: every path, every allocator arena at its working size.
timeout 30 wrk -t2 -c64 -d5s --timeout 5s -s "$here/soak.lua" "$url" >"$out" 2>&1 ||
    fail "warm-up: wrk failed: $(cat "$out")"
grep -q 'mismatches 0 unknown 0' "$out" || fail "warm-up: $(grep soak: "$out")"
sleep 1
rss0=$(rss_kib)
fds0=$(fd_count)

timeout $((seconds + 30)) wrk -t2 -c64 -d"${seconds}s" --timeout 5s --latency \
    -s "$here/soak.lua" "$url" >"$out" 2>&1 || fail "wrk failed: $(cat "$out")"
kill -0 "$pid" 2>/dev/null || fail "l2d died during the soak"
sleep 1
i=0
while [ "$(fd_count)" -gt "$fds0" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
rss1=$(rss_kib)
fds1=$(fd_count)

requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$out")
rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$out")
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out")
sockerr=$(grep 'Socket errors' "$out")
summary=$(grep '^soak: responses' "$out")
echo "soak: ${seconds} s, 2 threads, 64 connections: ${requests} requests (${rate}/s), ${non2xx:-0} deliberate 4xx"
grep '^soak:' "$out"
echo "soak: RSS ${rss0} -> ${rss1} KiB, fds ${fds0} -> ${fds1}, socket errors: ${sockerr:-none}"

[ -z "$sockerr" ] || fail "$sockerr"
case "$summary" in
*" mismatches 0 unknown 0") ;;
*) fail "wrong answers: $summary" ;;
esac
[ $((rss1 - rss0)) -lt 1024 ] || fail "RSS grew $((rss1 - rss0)) KiB (limit 1024)"
[ "$fds1" -le "$fds0" ] || fail "fds grew from $fds0 to $fds1"

kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -0 "$pid" 2>/dev/null && fail "l2d did not exit within 10 s of SIGTERM (drain 1 s)"
wait "$pid"
status=$?
pid=
[ "$status" -eq 0 ] || fail "l2d exited $status after SIGTERM"
echo "soak: ok (exit 0 after SIGTERM)"
