/* chunks.c -- reproducible random numbers and chunk sizes for the tests. */
#include "chunks.h"

uint64_t chunks_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

size_t chunks_len(enum chunking how, uint64_t *seed, size_t left, size_t small)
{
    size_t len = left;

    if (how == BYTES) {
        len = 1;
    } else if (how == RANDOM) {
        uint64_t r = chunks_rng(seed);
        size_t cap = (r & 3) == 0 ? left : small;
        len = (size_t)((r >> 8) % (cap + 1));
        if (len > left)
            len = left;
    }
    return len;
}
