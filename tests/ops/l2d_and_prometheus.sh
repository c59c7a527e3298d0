# l2d_and_prometheus.sh -- sourced by the scripts that run l2d and a real
# Prometheus side by side (tests/ops/prometheus_scrape.sh,
# tests/dashboards/live.sh). Set `what` (the prefix of failure lines) and
# `tmp_prefix` first. Defines $tmp (a scratch directory), the pids l2d_pid
# and prom_pid for the caller to fill, a cleanup on exit that stops both and
# removes $tmp, and fail MESSAGE, which prints the two logs' last lines and
# exits 1.

tmp=$(mktemp -d "/tmp/$tmp_prefix-XXXXXX")
l2d_pid=
prom_pid=
cleanup() {
    rc=$?
    set +e
    [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
    [ -n "$l2d_pid" ] && kill -9 "$l2d_pid" 2>/dev/null && wait "$l2d_pid" 2>/dev/null
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "$what: FAILED: $*"
    for f in "$tmp"/l2d.log "$tmp"/prometheus.log; do
        [ -f "$f" ] && { echo "--- $f (last lines)"; tail -n 20 "$f"; }
    done
    exit 1
}
