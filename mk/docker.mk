# docker.mk -- `make test-docker`: build the container image from
# docker/Dockerfile with podman (base images made locally with debootstrap),
# run it on the host network and check it from outside. Takes a few minutes
# and root (it installs podman, runc, debootstrap when missing), so it is not
# part of `make test`; CI runs it as its own stage.

.PHONY: test-docker

test-docker: ## build and check the container image with podman (root, minutes)
	$(Q)bash tests/docker/test-docker.sh
