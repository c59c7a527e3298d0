/* chunks.h -- reproducible chunk sizes for the tests that feed one body
 * to a streaming decoder in many different splits. */
#ifndef TEST_CHUNKS_H
#define TEST_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* How a body is cut: in one piece, one byte at a time, or at random. */
enum chunking { WHOLE, BYTES, RANDOM };

/* rng_splitmix64 (rng.h) under the name its first callers know. */
static inline uint64_t chunks_rng(uint64_t *s)
{
    return rng_splitmix64(s);
}

/* The length of the next chunk when left bytes remain: left (WHOLE), 1
 * (BYTES), or (RANDOM, from *seed) up to `small` bytes three times in four
 * and up to all of left otherwise, empty chunks included. */
size_t chunks_len(enum chunking how, uint64_t *seed, size_t left, size_t small);

#endif
