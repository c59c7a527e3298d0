# ui.mk -- the page at GET / (server/page/index.html): its policy and blob
# in the server library, and `make test-ui`, which drives Debian's Chromium
# headless with the pinned puppeteer-core (package.json) through the page
# against build/l2d on a free loopback port: uploads through the file input,
# every table row checked against the API's JSON for the same file, sorting,
# a refused file's detail, the tracked models; screenshots in $(BUILD)/ui/.
# Part of `make test` (TEST_EXTRA); needs chromium, nodejs, npm and
# python3-numpy (the .npz is numpy's own).

PAGE_HTML := server/page/index.html
PAGE_CSP  := $(BUILD)/page.csp
UI_SHOTS  := $(BUILD)/ui

.PHONY: test-ui

# The Content-Security-Policy: the SHA-256 of the page's inline style and
# script (server/page/csp.py), remade whenever the page changes.
$(PAGE_CSP): $(PAGE_HTML) server/page/csp.py
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  GEN     $@")
	$(Q)python3 server/page/csp.py $(PAGE_HTML) $@

$(BUILD)/server/page_blob.o: server/page_blob.S $(PAGE_HTML) $(PAGE_CSP)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  AS      $<")
	$(Q)$(CC) -DPAGE_CSP='"$(PAGE_CSP)"' -c -o $@ $<

# Into the server library beside server/page.o, which refers to it (the
# archive rule takes every prerequisite, $^).
$(LIBSRV): $(BUILD)/server/page_blob.o

test-ui: $(L2D) ## the page in headless Chromium (puppeteer-core): uploads, table vs API, sort, errors, tracked
	$(Q)sh tests/ui/test-ui.sh $(L2D) $(UI_SHOTS)

TEST_EXTRA += test-ui
