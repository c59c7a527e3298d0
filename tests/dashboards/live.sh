#!/bin/sh
# live.sh -- the dashboard and the alert rules on real data: l2d and a real
# Prometheus (Debian's), both on 127.0.0.1.
#
# Starts l2d, tracks two models with ?track= (one with a NaN, under
# ?nonfinite=count) and makes one bad request, then starts Prometheus with
# docker/prometheus.yml (the target and rule_files pointed here, scrape and
# evaluation every second) and waits, at most 40 s, until every expression
# of the dashboard (build/dashboards/dashboard-rules.yml, written by
# check_dashboards.py) returns data and the alert L2dTrackedNonFiniteWeights
# fires for the model with the NaN. Everything started here is killed on
# exit. Requests made: 4 to l2d, about one query per expression per second
# to Prometheus.
#
# usage: tests/dashboards/live.sh path/to/l2d RULES_DIR OUT_DIR
set -eu

l2d=${1:?usage: live.sh path/to/l2d RULES_DIR OUT_DIR}
rules_dir=$2
out=$3
wait_s=40

what="test-dashboards: live"
tmp_prefix=l2d-dash
. "$(dirname "$0")/../ops/l2d_and_prometheus.sh"

"$l2d" --bind 127.0.0.1 --port 0 --drain-timeout 0 </dev/null >/dev/null 2>"$tmp/l2d.log" &
l2d_pid=$!
port=
i=0
while [ -z "$port" ] && [ $i -lt 50 ]; do
    port=$(sed -n 's/^l2d .* listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/l2d.log")
    [ -n "$port" ] || sleep 0.1
    i=$((i + 1))
done
[ -n "$port" ] || fail "l2d did not start"
base="http://127.0.0.1:$port"

post() { # TARGET BODY: prints the HTTP status
    curl -s -o "$tmp/answer.json" -w '%{http_code}' --max-time 10 -X POST \
        -H 'Content-Type: application/json' --data "$2" "$base$1"
}
status=$(post '/l2_loss?track=dash-demo' '{"tensors": {"dense/kernel": [[1, 2], [3, 4]], "dense/bias": [0.5]}}')
if [ "$status" = 400 ] && grep -q '"invalid_parameter"' "$tmp/answer.json"; then
    echo "test-dashboards: live: SKIPPED: $l2d does not know ?track yet;" \
         "the dashboard was NOT checked against real data"
    exit 0
fi
[ "$status" = 200 ] || fail "POST ?track=dash-demo: $status $(cat "$tmp/answer.json")"
status=$(post '/l2_loss?track=dash-nan&nonfinite=count' '{"tensors": {"w": [1, NaN, 2]}}')
[ "$status" = 200 ] || fail "POST ?track=dash-nan: $status $(cat "$tmp/answer.json")"
status=$(post '/regularize?scale=0.1&track=dash-demo' '[3, 4]')
[ "$status" = 200 ] || fail "POST /regularize?track=dash-demo: $status"
status=$(post '/l2_loss' '[1, ')
[ "$status" = 400 ] || fail "POST a truncated body: $status, not 400"

prom_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|^          - l2d:8080\$|          - 127.0.0.1:$port|" \
    -e "s|/etc/prometheus/rules/\*\.yml|$rules_dir/*.yml|" \
    -e "s|scrape_interval: .*|scrape_interval: 1s|" \
    -e "s|evaluation_interval: .*|evaluation_interval: 1s|" \
    "$(dirname "$0")/../../docker/prometheus.yml" >"$tmp/prometheus.yml"
grep -q "127.0.0.1:$port" "$tmp/prometheus.yml" || fail "docker/prometheus.yml: no target l2d:8080"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!

python3 - "http://127.0.0.1:$prom_port" "$out/dashboard-rules.yml" "$wait_s" <<'PY' ||
import json, sys, time, urllib.parse, urllib.request
import yaml

base, rules_path, wait_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(rules_path, encoding="utf-8") as f:
    rules = yaml.safe_load(f)["groups"][0]["rules"]
checks = [(r["labels"]["where"], r["expr"]) for r in rules]
checks.append(("alert L2dTrackedNonFiniteWeights fires for dash-nan",
               'ALERTS{alertname="L2dTrackedNonFiniteWeights",alertstate="firing",model="dash-nan",tensor="w"}'))
checks.append(("the tracked norm as scraped",
               'l2d_tracked_norm{model="dash-demo",tensor="dense/kernel"} == 5.477225575051661'))

def query(expr):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            doc = json.load(r)
    except OSError:
        return None
    return doc["data"]["result"] if doc.get("status") == "success" else None

deadline = time.monotonic() + wait_s
pending = list(checks)
while pending and time.monotonic() < deadline:
    pending = [(w, e) for w, e in pending if not query(e)]
    if pending:
        time.sleep(1)
for w, e in pending:
    print(f"test-dashboards: live: no data for {w}: {e}")
if pending:
    sys.exit(1)
print(f"test-dashboards: live: {len(checks)} expressions return data from a real Prometheus scraping l2d: ok")
PY
    fail "dashboard expressions without data"
