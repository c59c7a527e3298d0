# ops.mk -- operations checks: promtool and a real Prometheus server scrape
# l2d's /metrics on loopback (tests/ops/prometheus_scrape.sh, ~7 s). Skips,
# saying so, when the Debian package `prometheus` (or curl) is missing.

.PHONY: ops-metrics

ops-metrics: $(L2D) ## promtool and a real Prometheus scrape of /metrics
	$(Q)sh tests/ops/prometheus_scrape.sh $(L2D)

TEST_EXTRA += ops-metrics
