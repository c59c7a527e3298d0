/* zcompress.h -- a buffer compressed by zlib in one call, for the tests that
 * send gzip, deflate or deflated .npz members. Header only: the integration
 * tests, which link none of the .c files of tests/support/, include it too. */
#ifndef TEST_ZCOMPRESS_H
#define TEST_ZCOMPRESS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* zlib's windowBits for each framing (15 is a 32 KiB window). */
#define ZC_GZIP (15 + 16) /* gzip: Content-Encoding gzip */
#define ZC_ZLIB 15        /* zlib: Content-Encoding deflate */
#define ZC_RAW (-15)      /* raw deflate: a zip member */

/* src[0..n) compressed at level with zlib's memLevel and framing (ZC_*);
 * *out_len gets the length. The result is malloc'd, the caller frees it;
 * a zlib failure fails the test. */
static inline unsigned char *zcompress(const void *src, size_t n, int level, int mem_level,
                                       int window_bits, size_t *out_len)
{
    z_stream zs;
    unsigned char *out;
    size_t cap;

    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, level, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY),
                 Z_OK);
    cap = deflateBound(&zs, (uLong)n);
    out = malloc(cap);
    cr_assert_not_null(out);
    zs.next_in = (unsigned char *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

#endif
