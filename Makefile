# l2d -- build, test, bench. `make help` lists every target: each one's
# rule line ends in a `## text` comment (here and in mk/*.mk; lint checks).
#
# Knobs: CFLAGS (appended), SANITIZE=address,undefined (separate build dir),
# CC, V=1 (echo commands), PORT (for `make run`), JOBS (compilers at a time
# in `make build-tests` and `make fuzz-build`; the machine's cores).

CC       ?= cc
SANITIZE ?=
PORT     ?= 8080
V        ?= 0

BASE_CFLAGS := -std=c11 -I. -D_DEFAULT_SOURCE -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
               -Wconversion -Wno-sign-conversion -Werror -MMD -MP
ifneq ($(SANITIZE),)
  BUILD    := build-san
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
  BUILD    := build
  SANFLAGS :=
endif
ALL_CFLAGS := $(BASE_CFLAGS) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)
# Sanitized test runs: Criterion's own runner leaves one object at exit.
export LSAN_OPTIONS ?= suppressions=$(abspath tests/lsan.supp)

PKGS_SERVER := libmicrohttpd jansson zlib
PKGS_UNIT   := jansson criterion mpfr
PKGS_INTEG  := jansson criterion libcurl zlib

ifeq ($(V),1)
  Q :=
else
  Q := @
endif

CORE_SRC   := $(wildcard core/*.c)
API_SRC    := $(wildcard api/*.c)
SERVER_SRC := $(wildcard server/*.c)
UNIT_SRC   := $(wildcard tests/core/*.c tests/api/*.c tests/server/*.c tests/support/*.c)
INTEG_SRC  := $(wildcard tests/integration/*.c) tests/support/oip.c
BENCH_SRC  := $(wildcard bench/*.c)

CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
API_OBJ    := $(API_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(filter-out $(BUILD)/server/main.o,$(SERVER_SRC:%.c=$(BUILD)/%.o)) \
              $(BUILD)/server/openapi_blob.o $(BUILD)/server/page_blob.o
UNIT_OBJ   := $(UNIT_SRC:%.c=$(BUILD)/%.o)
INTEG_OBJ  := $(INTEG_SRC:%.c=$(BUILD)/%.o)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

LIBCORE := $(BUILD)/libl2dcore.a
LIBAPI  := $(BUILD)/libl2dapi.a
LIBSRV  := $(BUILD)/libl2dserver.a
L2D     := $(BUILD)/l2d
UNIT    := $(BUILD)/tests/unit-tests
INTEG   := $(BUILD)/tests/integration-tests
# Integration tests at a time: each mostly waits on its server, and the
# tests take free ports, so two run side by side on two cores.
INTEG_JOBS ?= 2

.PHONY: all run test unit integration bench clean format format-check lint deps help \
        test-san openapi-lint build-tests

all: $(L2D) ## build build/l2d (the default)

help: ## list every target (from the `## ` comments in Makefile and mk/*.mk)
	@awk '/^[A-Za-z0-9_.-]+:.*## / { t = $$0; sub(/:.*/, "", t); d = $$0; \
		sub(/^[^#]*## /, "", d); printf "make %-17s %s\n", t, d }' Makefile $(sort $(wildcard mk/*.mk))
	@echo "Knobs: CFLAGS (appended), SANITIZE=address,undefined, CC, V=1, PORT (make run), JOBS (compilers at a time in build-tests, fuzz-build)"

deps: ## install the missing Debian packages (tools/install-deps.sh)
	$(Q)sh tools/install-deps.sh

run: deps ## install missing packages, build and serve on 127.0.0.1:PORT (8080)
	$(Q)$(MAKE) --no-print-directory all
	./$(L2D) --bind 127.0.0.1 --port $(PORT)

# Fragments in mk/ add targets (each with its `## text`) and may append to
# TEST_EXTRA (run by `make test`).
TEST_EXTRA :=

# Binaries compile JOBS at a time (the machine's cores) before the suites,
# which run one after another (each one takes both cores itself). mk/*.mk
# add what their suites run to TEST_BINS.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_BINS := $(L2D) $(UNIT) $(INTEG) $(BUILD)/openapi.json

build-tests: ## build every binary the unit, integration and reliability suites run, JOBS (nproc) at a time
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) $(TEST_BINS)

test: deps ## install missing packages, then every test: unit, integration, lint and TEST_EXTRA
	$(Q)$(MAKE) --no-print-directory build-tests
	$(Q)$(MAKE) --no-print-directory unit integration lint $(TEST_EXTRA)

# --- libraries and binary -------------------------------------------------

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c -o $@ $<

$(BUILD)/server/%.o: EXTRA_CFLAGS = $(shell pkg-config --cflags $(PKGS_SERVER))
$(BUILD)/api/%.o: EXTRA_CFLAGS = $(shell pkg-config --cflags jansson zlib)
$(BUILD)/tests/%.o: EXTRA_CFLAGS = $(shell pkg-config --cflags $(PKGS_UNIT) $(PKGS_SERVER) libcurl) \
                              -Wno-conversion

$(BUILD)/openapi.json: openapi.yaml tools/openapi-json.py
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  GEN     $@")
	$(Q)python3 tools/openapi-json.py openapi.yaml $@

# openapi.yaml and its JSON form (tools/openapi-json.py, python3 + PyYAML),
# embedded side by side (OPENAPI_JSON names the build's JSON).
$(BUILD)/server/openapi_blob.o: server/openapi_blob.S openapi.yaml $(BUILD)/openapi.json
	@mkdir -p $(@D)
	$(Q)$(CC) -DOPENAPI_JSON='"$(BUILD)/openapi.json"' -c -o $@ $<

# The page at GET / (server/page/index.html) and its Content-Security-Policy:
# the SHA-256 of the page's inline style and script (server/page/csp.py),
# remade whenever the page changes; page_blob.S embeds both.
PAGE_HTML := server/page/index.html
PAGE_CSP  := $(BUILD)/page.csp

$(PAGE_CSP): $(PAGE_HTML) server/page/csp.py
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  GEN     $@")
	$(Q)python3 server/page/csp.py $(PAGE_HTML) $@

$(BUILD)/server/page_blob.o: server/page_blob.S $(PAGE_HTML) $(PAGE_CSP)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  AS      $<")
	$(Q)$(CC) -DPAGE_CSP='"$(PAGE_CSP)"' -c -o $@ $<

$(LIBCORE): $(CORE_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBAPI): $(API_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBSRV): $(SERVER_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(L2D): $(BUILD)/server/main.o $(LIBSRV) $(LIBAPI) $(LIBCORE)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(BUILD)/server/main.o $(LIBSRV) $(LIBAPI) $(LIBCORE) \
		$(shell pkg-config --libs $(PKGS_SERVER)) -lpthread -lm

# --- tests ----------------------------------------------------------------

$(UNIT): $(UNIT_OBJ) $(LIBSRV) $(LIBAPI) $(LIBCORE)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(UNIT_OBJ) $(LIBSRV) $(LIBAPI) $(LIBCORE) \
		$(shell pkg-config --libs $(PKGS_UNIT) $(PKGS_SERVER)) -lgmp -lpthread -lm

$(INTEG): $(INTEG_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(INTEG_OBJ) $(shell pkg-config --libs $(PKGS_INTEG)) -lpthread -lm

unit: $(UNIT) ## Criterion unit tests of core/, api/ and server/
	./$(UNIT) --jobs 2

integration: $(INTEG) $(L2D) $(BUILD)/openapi.json ## libcurl tests against the built binary
	L2D_BIN=$(abspath $(L2D)) L2D_OPENAPI_JSON=$(abspath $(BUILD)/openapi.json) ./$(INTEG) --jobs $(INTEG_JOBS)

test-san: ## unit and integration tests under ASan/UBSan (clang, build-san/)
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined CC=clang build-tests
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined CC=clang unit integration

# --- benchmarks -----------------------------------------------------------

$(BUILD)/bench/%: bench/%.c $(LIBAPI) $(LIBCORE)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-conversion -o $@ $< $(LIBAPI) $(LIBCORE) \
		$(shell pkg-config --cflags --libs jansson zlib) -lm

bench: deps $(BENCH_BIN) $(L2D) ## benchmarks, l2d against nginx and Node peers, then every target: met / not met (bench/run.sh)
	$(Q)sh bench/run.sh $(BUILD)

# --- hygiene --------------------------------------------------------------

BANNED := \b(sprintf|vsprintf|strcat|strncpy|strtok|atoi|atol|gets)[[:space:]]*\(

lint: format-check openapi-lint ## banned functions, clang-format, openapi lint, help texts
	$(Q)if grep -nE '$(BANNED)' core/*.[ch] api/*.[ch] server/*.[ch]; then \
		echo "lint: banned function (see STYLE: no sprintf/strcat/strncpy/strtok/atoi/gets)"; exit 1; fi
	$(Q)missing=$$(for t in $$($(MAKE) -pRrq : 2>/dev/null | sed -n 's/^\.PHONY: //p'); do \
		grep -qE "^$$t:.*## " Makefile mk/*.mk || printf ' %s' "$$t"; done); \
	if [ -n "$$missing" ]; then \
		echo "lint: phony targets without a '## text' comment (make help):$$missing"; exit 1; fi
	@echo "lint: ok"

format: ## clang-format every C file in place
	clang-format -i core/*.[ch] api/*.[ch] server/*.[ch] tests/*/*.[ch] bench/*.c

format-check: ## fail when a C file is not clang-formatted
	$(Q)clang-format --dry-run --Werror core/*.[ch] api/*.[ch] server/*.[ch] tests/*/*.[ch] bench/*.c

openapi-lint: ## lint openapi.yaml with the pinned Redocly CLI
	$(Q)sh tools/openapi-lint.sh openapi.yaml

clean: ## remove every build directory (build/, build-san/, build-fuzz/)
	rm -rf build build-san

-include $(sort $(wildcard mk/*.mk))
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
