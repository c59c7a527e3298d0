/* test_crc32.c -- CRC-32 (api/crc32.h): every implementation this CPU has
 * against zlib's, at every small length, odd offsets and random lengths,
 * chained from any initial value, and the standard check value. */
#include <criterion/criterion.h>
#include <zlib.h>

#include "api/crc32.h"
#include "tests/support/chunks.h"

Test(crc32, every_implementation_matches_zlib)
{
    static unsigned char b[70000];
    uint64_t rng = 5;

    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (unsigned char)chunks_rng(&rng);
    for (int impl = 0; impl < API_CRC32_IMPL_COUNT; impl++) {
        if (!api_crc32_supported((enum api_crc32_impl)impl))
            continue;
        for (int t = 0; t < 3000; t++) {
            size_t off = chunks_rng(&rng) % 64;
            size_t len = t < 600 ? (size_t)t : chunks_rng(&rng) % (sizeof b - 64);
            uint32_t init = t % 3 == 0 ? 0 : (uint32_t)chunks_rng(&rng);
            uint32_t want = (uint32_t)crc32(init, b + off, (uInt)len);

            cr_assert_eq(api_crc32_with((enum api_crc32_impl)impl, init, b + off, len), want,
                         "%s: offset %zu length %zu", api_crc32_name((enum api_crc32_impl)impl),
                         off, len);
        }
    }
    cr_assert_eq(api_crc32(0, NULL, 0), 0);
    cr_assert_eq(api_crc32(0, "123456789", 9), 0xcbf43926u); /* the check value */
    cr_assert(api_crc32_supported(api_crc32_best()));
}

/* api_crc32_ahead prefetches the bytes after the data and only that: the
 * same value as zlib at every length, whatever the distance ahead (the
 * bytes ahead lie inside the buffer here, as a caller's would). */
Test(crc32, ahead_matches_zlib)
{
    static unsigned char b[3 * 65536];
    uint64_t rng = 11;

    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (unsigned char)chunks_rng(&rng);
    for (int t = 0; t < 2000; t++) {
        size_t off = chunks_rng(&rng) % 64;
        size_t len = t < 700 ? (size_t)t : chunks_rng(&rng) % 65536;
        size_t ahead = t % 4 == 0 ? 0 : chunks_rng(&rng) % 65536;
        uint32_t init = t % 3 == 0 ? 0 : (uint32_t)chunks_rng(&rng);
        uint32_t want = (uint32_t)crc32(init, b + off, (uInt)len);

        cr_assert_eq(api_crc32_ahead(init, b + off, len, ahead), want,
                     "offset %zu length %zu ahead %zu", off, len, ahead);
    }
    cr_assert_eq(api_crc32_ahead(0, NULL, 0, 0), 0);
}
