/* chunks.c -- chunk sizes for the re-chunking tests. */
#include "chunks.h"

size_t chunks_len(enum chunking how, uint64_t *seed, size_t left, size_t small)
{
    size_t len = left;

    if (how == BYTES) {
        len = 1;
    } else if (how == RANDOM) {
        uint64_t r = rng_splitmix64(seed);
        size_t cap = (r & 3) == 0 ? left : small;
        len = (size_t)((r >> 8) % (cap + 1));
        if (len > left)
            len = left;
    }
    return len;
}
