/* bits.h -- the IEEE bits of a double and back, for tests that compare
 * results bit for bit. Header only. */
#ifndef TEST_BITS_H
#define TEST_BITS_H

#include <stdint.h>
#include <string.h>

static inline uint64_t bits_of(double x)
{
    uint64_t b;

    memcpy(&b, &x, sizeof b);
    return b;
}

static inline double double_of(uint64_t b)
{
    double x;

    memcpy(&x, &b, sizeof x);
    return x;
}

#endif
