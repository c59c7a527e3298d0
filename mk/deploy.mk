# deploy.mk -- `make test-deploy`: the Kubernetes manifests in
# deploy/kubernetes/ validated offline against the Kubernetes schemas
# (kubernetes-models and @kubernetes-models/validate, pinned in
# package.json), the rules the deployment depends on, and the probes' paths
# and port against the built binary (tests/deploy/test-deploy.mjs). Part of
# `make test` (TEST_EXTRA); a second or two once node_modules/ is installed.

.PHONY: test-deploy

# npm ci when node_modules/ is missing or older than the lock file (the same
# rule as tools/openapi-lint.sh, which installs the same tree).
node_modules/.package-lock.json: package.json package-lock.json
	@echo "  NPM     ci (package-lock.json)"
	$(Q)npm ci --no-audit --no-fund --loglevel=error

test-deploy: $(L2D) node_modules/.package-lock.json ## validate deploy/kubernetes/ offline, probes against build/l2d
	$(Q)node tests/deploy/test-deploy.mjs $(L2D)

TEST_EXTRA += test-deploy
