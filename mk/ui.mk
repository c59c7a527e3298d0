# ui.mk -- `make test-ui` (the page at GET /, server/page/index.html, is
# built into the binary by the Makefile), which drives Debian's Chromium
# headless with the pinned puppeteer-core (package.json) through the page
# against build/l2d on a free loopback port: uploads through the file input,
# every table row checked against the API's JSON for the same file, sorting,
# a refused file's detail, the tracked models; screenshots in $(BUILD)/ui/.
# Part of `make test` (TEST_EXTRA); needs chromium, nodejs, npm and
# python3-numpy (the .npz is numpy's own).

UI_SHOTS  := $(BUILD)/ui

.PHONY: test-ui

test-ui: $(L2D) ## the page in headless Chromium (puppeteer-core): uploads, table vs API, sort, errors, tracked
	$(Q)sh tests/ui/test-ui.sh $(L2D) $(UI_SHOTS)

TEST_EXTRA += test-ui
