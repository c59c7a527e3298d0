# dashboards.mk -- `make test-dashboards`: the alert rules of
# docker/prometheus/ unit-tested with promtool, and every PromQL expression
# of the Grafana dashboard in docker/grafana/ parsed by promtool
# (tests/dashboards/test-dashboards.sh, a few seconds). Skips, saying so,
# when the Debian package `prometheus` is missing.

.PHONY: test-dashboards

test-dashboards: ## promtool: alert rules unit-tested, every dashboard expression checked
	$(Q)sh tests/dashboards/test-dashboards.sh $(BUILD)

TEST_EXTRA += test-dashboards
