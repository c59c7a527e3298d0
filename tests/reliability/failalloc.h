/* failalloc.h -- the control block shared by the allocation-failure shim
 * (failalloc.c, preloaded into l2d) and the test that drives it
 * (test_failalloc.c), through a file both map MAP_SHARED.
 *
 * Every field is read and written with __atomic builtins. */
#ifndef REL_FAILALLOC_H
#define REL_FAILALLOC_H

#include <stdint.h>

struct failalloc_ctl {
    uint64_t armed;    /* non-zero: count worker-thread allocations */
    uint64_t fail_at;  /* the count whose allocation fails; 0: none */
    uint64_t count;    /* worker-thread allocations since armed */
    uint64_t injected; /* failures injected since the test last reset it */
    int64_t live;      /* allocations live in the whole process */
};

#endif
