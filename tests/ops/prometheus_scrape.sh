#!/bin/sh
# prometheus_scrape.sh -- l2d's /metrics as Prometheus itself sees it.
#
# Starts l2d and a real Prometheus server on loopback (its own config,
# scrape_interval 1s, storage in a temp dir), checks the exposition with
# `promtool check metrics`, then waits (at most 20 s) until Prometheus's
# HTTP API answers a query for l2d_requests_total with the requests made.
# Everything started here is killed on exit. Skips, saying so, only when
# promtool or prometheus is not installed (Debian package `prometheus`).
#
# usage: tests/ops/prometheus_scrape.sh path/to/l2d
set -eu

l2d=${1:?usage: prometheus_scrape.sh path/to/l2d}
wait_s=20

for tool in prometheus promtool curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "prometheus_scrape: SKIPPED: '$tool' is not installed" \
             "(apt-get install prometheus curl); /metrics NOT checked by Prometheus"
        exit 0
    fi
done

what="prometheus_scrape"
tmp_prefix=l2d-prom
. "$(dirname "$0")/l2d_and_prometheus.sh"

# Starts l2d on a free port with stderr to $1; sets started_pid and
# started_port.
start_l2d() {
    "$l2d" --bind 127.0.0.1 --port 0 --drain-timeout 0 </dev/null >/dev/null 2>"$1" &
    started_pid=$!
    started_port=
    i=0
    while [ $i -lt 50 ]; do
        started_port=$(sed -n 's/^l2d .* listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$1")
        [ -n "$started_port" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$started_pid" 2>/dev/null
    return 1
}

start_l2d "$tmp/l2d.log" || fail "l2d did not start"
l2d_pid=$started_pid
port=$started_port

# A free port for Prometheus: one a throwaway l2d was just given.
start_l2d "$tmp/probe.log" || fail "could not find a free port"
kill -9 "$started_pid" 2>/dev/null
wait "$started_pid" 2>/dev/null || true
prom_port=$started_port

base="http://127.0.0.1:$port"
curl -sf -X POST -H 'Content-Type: application/json' --data '[3, 4]' "$base/l2_loss" \
    >/dev/null || fail "POST /l2_loss"
curl -sf "$base/metrics" >"$tmp/metrics.txt" || fail "GET /metrics"
sh "$(dirname "$0")/promtool_metrics.sh" <"$tmp/metrics.txt" ||
    fail "promtool check metrics has remarks"
echo "prometheus_scrape: promtool check metrics: ok"

cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: l2d
    static_configs:
      - targets: ['127.0.0.1:$port']
YAML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!

query="http://127.0.0.1:$prom_port/api/v1/query?query=l2d_requests_total%7Bendpoint%3D%22l2_loss%22%2Ccode%3D%22200%22%7D"
i=0
while [ $i -lt $((wait_s * 2)) ]; do
    answer=$(curl -s --max-time 2 "$query" || true)
    case $answer in
    *'"status":"success"'*'"__name__":"l2d_requests_total"'*'"1"]'*)
        up=$(curl -s --max-time 2 "http://127.0.0.1:$prom_port/api/v1/query?query=up%7Bjob%3D%22l2d%22%7D" || true)
        case $up in
        *'"1"]'*) ;;
        *) fail "up{job=\"l2d\"} is not 1: $up" ;;
        esac
        echo "prometheus_scrape: Prometheus scraped l2d: ok"
        exit 0
        ;;
    esac
    kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
    sleep 0.5
    i=$((i + 1))
done
fail "no l2d_requests_total{endpoint=\"l2_loss\",code=\"200\"} 1 from Prometheus within ${wait_s}s; last answer: $answer"
