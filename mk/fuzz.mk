# fuzz.mk -- `make fuzz`: libFuzzer harnesses of every decoder and the query
# validator (tests/fuzz/fuzz_*.c), built with clang from the api/ and core/
# sources into build-fuzz/, each run for FUZZ_SECONDS on a scratch copy of
# its seed corpus (tests/fuzz/corpus/<name>/, never written) with its
# dictionary (tests/fuzz/<name>.dict) when there is one. Fails on any
# crash, leak, timeout or broken invariant; prints executions per harness.
#
# Knobs: FUZZ_SECONDS (default 60), FUZZ_CC (default clang), FUZZ=name to
# run one harness, FUZZ_CI_SECONDS (default 10) for the run `make test` adds.
# Needs libFuzzer: Debian's libclang-rt-14-dev.

FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 10
FUZZ_CC         ?= clang
FUZZ_DIR        := build-fuzz

FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ         ?= $(FUZZ_NAMES)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_LIB_OBJ := $(CORE_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(API_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_HDR     := $(wildcard tests/fuzz/*.h)

FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(filter-out -O2 -MMD -MP,$(BASE_CFLAGS)) -O1 -g $(FUZZ_SAN) \
               $(shell pkg-config --cflags jansson zlib)
FUZZ_OPTS   := -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
               -print_final_stats=1

.PHONY: fuzz fuzz-build fuzz-ci fuzz-check-cc fuzz-clean

fuzz-check-cc: ## check that FUZZ_CC links libFuzzer harnesses
	@mkdir -p $(FUZZ_DIR)
	$(Q)printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
		> $(FUZZ_DIR)/probe.c; \
	if ! $(FUZZ_CC) -fsanitize=fuzzer -o $(FUZZ_DIR)/probe $(FUZZ_DIR)/probe.c 2>/dev/null; then \
		echo "fuzz: $(FUZZ_CC) -fsanitize=fuzzer does not link: install clang and libclang-rt-14-dev" >&2; \
		exit 1; fi

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link -c -o $@ $<

# Kept between runs (make would delete them as intermediates).
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDR) $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) \
		$(shell pkg-config --libs jansson zlib) -lm

fuzz-build: fuzz-check-cc ## build every libFuzzer harness into build-fuzz/, JOBS at a time
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) $(FUZZ_BIN)

# FUZZ_JOBS harnesses at a time (2: the machine has two cores), each on a
# scratch corpus seeded from the committed one; each prints one line when
# it ends. The executions come from libFuzzer's -print_final_stats.
FUZZ_JOBS ?= 2
FUZZ_ONE = tools/fuzz-one.sh

fuzz: fuzz-build ## run each harness (or FUZZ=name) for FUZZ_SECONDS (60), FUZZ_JOBS at a time
	$(Q)printf '%s\n' $(FUZZ) | xargs -P $(FUZZ_JOBS) -I{} sh $(FUZZ_ONE) {} $(FUZZ_DIR) "$(FUZZ_OPTS)"

# The short run `make test` (and so CI) does.
fuzz-ci: ## the short fuzz run of make test (FUZZ_CI_SECONDS, 10)
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

TEST_EXTRA += fuzz-ci

fuzz-clean: ## remove build-fuzz/
	rm -rf $(FUZZ_DIR)

clean: fuzz-clean

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
