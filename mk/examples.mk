# examples.mk -- `make test-examples`: the example clients in examples/
# (Python, JavaScript and shell on the native endpoints; the v2 inference
# protocol in Python; TypeScript through a client generated from
# openapi.yaml) against a live l2d, answers checked exactly. Part of
# `make test` (TEST_EXTRA); a few seconds, most of them generating and
# compiling the TypeScript client.

.PHONY: test-examples

EX_TS := $(BUILD)/examples/ts

# The TypeScript client that @hey-api/openapi-ts (pinned in package.json)
# generates from openapi.yaml, never committed, and examples/ts/main.ts
# compiled beside it by the pinned typescript. Both tools come from the
# node_modules/ that openapi-lint installs (npm ci), so the lint runs first:
# the client is generated from a document that passes it.
$(EX_TS)/js/main.js: openapi.yaml examples/ts/main.ts examples/ts/tsconfig.json \
                     package.json package-lock.json | openapi-lint
	@echo "  GEN     $(EX_TS)/client (@hey-api/openapi-ts)"
	$(Q)rm -rf $(EX_TS)
	$(Q)mkdir -p $(EX_TS)
	$(Q)npx --no-install openapi-ts --input openapi.yaml --output $(EX_TS)/client \
		--client @hey-api/client-fetch --silent --no-log-file
	$(Q)cp examples/ts/main.ts examples/ts/tsconfig.json $(EX_TS)/
	@echo "  TSC     $(EX_TS)/main.ts"
	$(Q)npx --no-install tsc -p $(EX_TS)/tsconfig.json

test-examples: $(L2D) $(EX_TS)/js/main.js ## run the clients in examples/ against a live l2d
	$(Q)bash tests/examples/test-examples.sh $(L2D) $(EX_TS)/js/main.js

TEST_EXTRA += test-examples
