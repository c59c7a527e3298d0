/* rng.h -- reproducible pseudo-random numbers for the tests and benchmarks.
 *
 * Small generators, each a pure step on a state the caller holds, so a test
 * draws the same sequence on every run and on every machine. Header only:
 * the benchmarks include it without linking tests/support. */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <stdint.h>

/* xorshift64* (Vigna): the next 64 bits; *s must not be 0. */
static inline uint64_t rng_xorshift64s(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1du;
}

/* Marsaglia's xorshift64 (13, 7, 17): the next 64 bits, which are also the
 * new state; *s must not be 0. */
static inline uint64_t rng_xorshift64(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* splitmix64: the next 64 bits; any *s, 0 included. */
static inline uint64_t rng_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A double in (0, 1), never 0 nor 1, from the top 53 of 64 random bits. */
static inline double rng_unit(uint64_t bits)
{
    return ((double)(bits >> 11) + 0.5) * 0x1p-53;
}

#endif
