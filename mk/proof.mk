# proof.mk -- the printer's proof: api/shortest.c against the MPFR reference
# (tests/support/shortest_ref.c). The unit tests compare the two on every
# binade and 10^5 random values, and fuzz-ci fuzzes them against each other
# (tests/fuzz/fuzz_shortest.c); `make proof-printer` is the long run, 10^8
# random doubles (PROOF_N) and every binade's boundary values, over
# PROOF_THREADS threads (about 6 minutes on two idle cores; not part of make test).

PROOF_N       ?= 100000000
PROOF_THREADS ?= 2
PROOF_BIN     := $(BUILD)/proof/shortest_proof

.PHONY: proof-printer

$(PROOF_BIN): tests/proof/shortest_proof.c tests/support/shortest_ref.c tests/support/shortest_ref.h $(LIBAPI) $(LIBCORE)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags mpfr) -o $@ tests/proof/shortest_proof.c \
		tests/support/shortest_ref.c $(LIBAPI) $(LIBCORE) $(shell pkg-config --libs mpfr) -lgmp -lpthread -lm

proof-printer: $(PROOF_BIN) ## compare the shortest-digits printer with the MPFR reference on 10^8 doubles
	$(Q)./$(PROOF_BIN) $(PROOF_N) $(PROOF_THREADS)

# The fuzz harness links the reference and MPFR (an explicit rule wins over
# fuzz.mk's pattern rule).
$(FUZZ_DIR)/fuzz_shortest: tests/fuzz/fuzz_shortest.c tests/support/shortest_ref.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	@$(if $(filter 1,$(V)),,echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< tests/support/shortest_ref.c \
		$(FUZZ_LIB_OBJ) $(shell pkg-config --libs jansson zlib mpfr) -lgmp -lm
