# dashboards.mk -- `make test-dashboards`: the alert rules of
# docker/prometheus/ unit-tested with promtool, and every PromQL expression
# of the Grafana dashboard in docker/grafana/ parsed by promtool
# and by a real Prometheus scraping the real l2d, where each must return
# data (tests/dashboards/test-dashboards.sh, about 10 s). Skips, saying so,
# when the Debian package `prometheus` is missing.

.PHONY: test-dashboards

test-dashboards: $(L2D) ## promtool: alert rules unit-tested, every dashboard expression checked
	$(Q)sh tests/dashboards/test-dashboards.sh $(BUILD) $(L2D)

TEST_EXTRA += test-dashboards
