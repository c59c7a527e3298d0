# reliability.mk -- load, hostile-client, allocation-failure and valgrind
# checks (tests/reliability/, RELIABILITY.md). Included by the Makefile.
#
#   make test-reliability  the Criterion suite (hostile clients, slow clients,
#                          mid-body disconnects, --max-connections, SIGTERM
#                          under load, allocation failures) and the 60 s wrk soak
#   make test-soak         the soak alone (SOAK_SECONDS, default 60)
#   make test-valgrind     the integration tests against l2d under valgrind memcheck
#
# `make test` runs the suite without the soak (about a minute; TEST_EXTRA).

REL_SRC  := $(filter-out tests/reliability/failalloc.c,$(wildcard tests/reliability/*.c))
REL_OBJ  := $(REL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/integration/harness.o \
            $(BUILD)/tests/integration/openapi_check.o
REL      := $(BUILD)/tests/reliability-tests
# The shim is never built with sanitizers: their runtime must come first.
FAILALLOC := build/tests/failalloc.so
SOAK_SECONDS ?= 60

.PHONY: reliability test-reliability test-soak test-valgrind

TEST_EXTRA += reliability
TEST_BINS += $(REL) $(if $(SANITIZE),,$(FAILALLOC))

$(REL): $(REL_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(REL_OBJ) $(shell pkg-config --libs $(PKGS_INTEG)) -lpthread -lm

$(FAILALLOC): tests/reliability/failalloc.c tests/reliability/failalloc.h
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  CC      $@")
	$(Q)$(CC) $(BASE_CFLAGS) -MF $(@:.so=.d) -fPIC -shared -o $@ $< -ldl

# Under SANITIZE the shim is left out (the tests then skip the exact leak
# counts; LeakSanitizer covers leaks instead).
reliability: $(REL) $(L2D) $(BUILD)/openapi.json $(if $(SANITIZE),,$(FAILALLOC)) ## hostile clients, drain under load, allocation failures
	L2D_BIN=$(abspath $(L2D)) L2D_OPENAPI_JSON=$(abspath $(BUILD)/openapi.json) \
	L2D_FAILALLOC_SO=$(if $(SANITIZE),,$(abspath $(FAILALLOC))) ./$(REL) --jobs 1

test-soak: $(L2D) ## the wrk soak alone (SOAK_SECONDS, 60)
	$(Q)sh tests/reliability/soak.sh $(abspath $(L2D)) $(SOAK_SECONDS)

test-reliability: deps ## reliability, then the soak
	$(Q)$(MAKE) --no-print-directory reliability test-soak

test-valgrind: $(INTEG) $(L2D) $(BUILD)/openapi.json ## integration tests against l2d under memcheck
	$(Q)sh tests/reliability/valgrind.sh $(abspath $(L2D)) $(abspath $(INTEG)) \
		$(abspath $(BUILD)/openapi.json)
