# deploy.mk -- `make test-deploy`: the Kubernetes manifests in
# deploy/kubernetes/ validated offline against the Kubernetes schemas
# (kubernetes-models and @kubernetes-models/validate, pinned in
# package.json), the rules the deployment depends on, and the probes' paths
# and port against the built binary (tests/deploy/test-deploy.mjs). Part of
# `make test` (TEST_EXTRA); a second or two once node_modules/ is installed
# (plus the OpenAPI lint that installs it).

.PHONY: test-deploy

# The pinned validators come from the node_modules/ that openapi-lint
# installs (npm ci, tools/openapi-lint.sh), so the lint runs first: one npm
# ci at a time, also under make -j.
test-deploy: $(L2D) | openapi-lint ## validate deploy/kubernetes/ offline, probes against build/l2d
	$(Q)node tests/deploy/test-deploy.mjs $(L2D)

TEST_EXTRA += test-deploy
