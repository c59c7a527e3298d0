#!/bin/sh
# test-dashboards.sh -- the alert rules and the Grafana dashboard, checked
# by Prometheus's own tools.
#
# 1. promtool check rules docker/prometheus/alerts.yml, then its unit tests
#    (tests/dashboards/alerts_test.yml: input series in, alerts out).
# 2. tests/dashboards/check_dashboards.py: the dashboard's structure, data
#    source and metric names; it writes every PromQL expression of the
#    dashboard as a recording rule, which promtool check rules then parses.
# 3. promtool check config of docker/prometheus.yml with its rule_files
#    pointed at docker/prometheus/ (the compose file mounts them there).
# 4. tests/dashboards/live.sh: a real Prometheus with that configuration
#    scrapes the real l2d; every dashboard expression must return data and
#    the non-finite alert must fire.
# Skips, saying so, only when promtool or prometheus (Debian package
# `prometheus`), curl, or python3 with PyYAML is missing.
#
# usage: tests/dashboards/test-dashboards.sh BUILD_DIR path/to/l2d
set -eu

build=${1:?usage: test-dashboards.sh BUILD_DIR path/to/l2d}
l2d=${2:?usage: test-dashboards.sh BUILD_DIR path/to/l2d}
here=$(dirname "$0")
root=$here/../..

for tool in promtool prometheus curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "test-dashboards: SKIPPED: '$tool' is not installed (apt-get install prometheus" \
             "curl); alert rules and dashboard NOT checked"
        exit 0
    fi
done
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "test-dashboards: SKIPPED: python3 with PyYAML is missing (apt-get install python3-yaml)"
    exit 0
fi

out=$build/dashboards
mkdir -p "$out"
fail() {
    echo "test-dashboards: FAILED: $*"
    exit 1
}

promtool check rules "$root/docker/prometheus/alerts.yml" >"$out/check-alerts.txt" 2>&1 ||
    { cat "$out/check-alerts.txt"; fail "promtool check rules docker/prometheus/alerts.yml"; }
echo "test-dashboards: promtool check rules alerts.yml: ok"

promtool test rules "$here/alerts_test.yml" >"$out/test-alerts.txt" 2>&1 ||
    { cat "$out/test-alerts.txt"; fail "promtool test rules tests/dashboards/alerts_test.yml"; }
echo "test-dashboards: promtool test rules alerts_test.yml: ok"

python3 "$here/check_dashboards.py" "$root" "$out/dashboard-rules.yml" ||
    fail "check_dashboards.py"
promtool check rules "$out/dashboard-rules.yml" >"$out/check-dashboard.txt" 2>&1 ||
    { cat "$out/check-dashboard.txt"; fail "a dashboard expression does not parse"; }
echo "test-dashboards: promtool check rules of every dashboard expression: ok"

sed "s|/etc/prometheus/rules/\*\.yml|$(cd "$root/docker/prometheus" && pwd)/*.yml|" \
    "$root/docker/prometheus.yml" >"$out/prometheus.yml"
grep -q "$(cd "$root/docker/prometheus" && pwd)/\*\.yml" "$out/prometheus.yml" ||
    fail "docker/prometheus.yml: expected rule_files /etc/prometheus/rules/*.yml"
promtool check config "$out/prometheus.yml" >"$out/check-config.txt" 2>&1 ||
    { cat "$out/check-config.txt"; fail "promtool check config docker/prometheus.yml"; }
grep -q 'SUCCESS: 3 rules found' "$out/check-config.txt" ||
    { cat "$out/check-config.txt"; fail "docker/prometheus.yml did not load the alert rules"; }
echo "test-dashboards: promtool check config prometheus.yml (with the alert rules): ok"

sh "$here/live.sh" "$l2d" "$(cd "$root/docker/prometheus" && pwd)" "$out"
