# scaleout.mk -- `make test-scaleout`: Debian's nginx with
# deploy/nginx/l2d.conf in front of three replicas of build/l2d on loopback
# (tests/scaleout/scaleout.py): a 1 GiB float32 tensor sharded over 32
# concurrent ?partial=true requests by examples/shard.py and merged, bit for
# bit one request and the exact value; a rolling restart under a 20 s load
# with 0 failed requests; SIGKILL of a replica under load, failures bounded.
# Part of `make test` (TEST_EXTRA); about two minutes, 1 GiB in $TMPDIR.
# SCALEOUT_ARGS passes options (e.g. `--size-mib 64 shard`).

.PHONY: test-scaleout

SCALEOUT_ARGS ?=

test-scaleout: $(L2D) ## nginx in front of 3 replicas: sharded 1 GiB, rolling restart, SIGKILL
	$(Q)/usr/bin/python3 tests/scaleout/scaleout.py --l2d $(L2D) $(SCALEOUT_ARGS)

TEST_EXTRA += test-scaleout
