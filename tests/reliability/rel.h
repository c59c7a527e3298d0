/* rel.h -- helpers shared by the reliability tests (tests/reliability/):
 * a server started with the allocation-counting shim, process figures
 * (open fds, resident set, live allocations) and raw HTTP exchanges that
 * never assert, so threads may use them.
 *
 * Everything talks to 127.0.0.1 only and is bounded in time. */
#ifndef REL_H
#define REL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../integration/harness.h"
#include "failalloc.h"

/* A server and, when the shim is in use, its control block. */
struct rel_server {
    struct it_server srv;
    struct failalloc_ctl *ctl; /* NULL without the shim */
    char ctl_path[64];
};

/* The shim's path ($L2D_FAILALLOC_SO), or NULL when it is not available
 * (e.g. sanitizer builds, where it cannot be preloaded). */
const char *rel_shim(void);

/* it_start with args; with_shim preloads the shim (when rel_shim() is set)
 * and maps its control block. */
void rel_start(struct rel_server *rs, const char *const *args, bool with_shim);

/* Unmaps and removes the control block (the server is killed by
 * it_teardown). */
void rel_release(struct rel_server *rs);

/* Open file descriptors of pid, or -1. */
int rel_fd_count(int pid);

/* The resident set (VmRSS) of pid in KiB, or -1. */
long rel_rss_kib(int pid);

/* The shim's live allocation count (0 without the shim). */
int64_t rel_live(const struct rel_server *rs);

/* Waits up to timeout_ms for pid's open fds to fall to at most want;
 * returns the last count seen. */
int rel_wait_fds(int pid, int want, int timeout_ms);

/* Waits up to timeout_ms for the live allocation count to fall to at most
 * want; returns the last count seen. */
int64_t rel_wait_live(const struct rel_server *rs, int64_t want, int timeout_ms);

/* A connected TCP socket to 127.0.0.1:port, or -1 (no assertion). */
int rel_connect(int port);

/* What a raw exchange ended with. */
struct rel_reply {
    char *raw; /* every byte received, NUL-terminated, malloc'd */
    size_t len;
    bool closed;   /* the peer closed or reset */
    bool complete; /* raw holds a complete HTTP response */
    long status;   /* of that response; 0 when incomplete */
};

/* Sends req on a fresh connection, shuts the write side when shut_wr, and
 * reads until a complete response arrived and (when wait_close) the peer
 * closed, or timeout_ms passed. false when it could not connect. */
bool rel_exchange(int port, const void *req, size_t len, bool shut_wr, bool wait_close,
                  int timeout_ms, struct rel_reply *out);
void rel_reply_free(struct rel_reply *r);

/* Checks that a POST /l2_loss of [[1, 2], [3, 4]] answers loss 15.0, with
 * a fresh connection and no assertion; false with a reason in why. */
bool rel_check_normal(int port, char *why, size_t why_len);

#endif
