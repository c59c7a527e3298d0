# examples.mk -- `make test-examples`: the example clients in examples/
# (Python, JavaScript, shell) against a live l2d, answers checked exactly.
# Part of `make test` (TEST_EXTRA); takes about a second.

.PHONY: test-examples

test-examples: $(L2D) ## run the clients in examples/ against a live l2d
	$(Q)bash tests/examples/test-examples.sh $(L2D)

TEST_EXTRA += test-examples
