/* test_elements.c -- the element stream and the raw little-endian format
 * built on it: every dtype against the MPFR oracle, lengths, non-finite
 * elements, big-endian swapping, and re-chunking invariance. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "api/elements.h"
#include "api/format.h"
#include "tests/support/oracle.h"
#include "tests/support/chunks.h"
#include "tests/support/decode.h"
#include "tests/support/elem_bits.h"

#define RAW_MAX_BODY 4096

/* Decodes b[0..n) as dt, fed per `how` (RANDOM: chunk sizes from seed,
 * empty chunks included). res must be freed by the caller. */
static enum api_status decode(enum l2_dtype dt, const unsigned char *b, size_t n, enum chunking how,
                              uint64_t seed, struct api_result *res, struct api_error *err)
{
    struct api_decode_opts opts = {dt, true, false, 0, NULL};

    return decode_chunked(&api_raw_ops, &opts, b, n, how, seed, 11, res, err);
}

/* A body of n random finite elements of dt (plus a few edge values), and
 * its exact sum of squares per the oracle. */
static size_t make_body(enum l2_dtype dt, size_t n, uint64_t seed, unsigned char *b, double *sum,
                        double *half)
{
    size_t size = elem_size(dt);
    struct oracle_sum s;

    cr_assert_leq(n * size, RAW_MAX_BODY);
    oracle_sum_init(&s);
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = elem_random_finite(dt, &seed);

        if (i == 0)
            bits = 0; /* +0 */
        else if (i == 1)
            bits = 1; /* the smallest subnormal */
        elem_put_le(b + i * size, bits, size);
        oracle_sum_add_sq(&s, elem_value(dt, bits));
    }
    cr_assert(oracle_sum_round(&s, false, sum));
    cr_assert(oracle_sum_round(&s, true, half));
    oracle_sum_free(&s);
    return n * size;
}

static void expect_result(const struct api_result *res, enum l2_dtype dt, uint64_t count,
                          double sum, double half)
{
    double got_sum, got_half;

    cr_assert_eq(res->dtype, dt);
    cr_assert_eq(res->ndim, 1);
    cr_assert_eq(res->shape[0], count);
    cr_assert_eq(res->total.count, count);
    cr_assert_eq(l2_accum_sum(&res->total, &got_sum), L2_OK);
    cr_assert_eq(l2_accum_half(&res->total, &got_half), L2_OK);
    cr_assert_eq(memcmp(&got_sum, &sum, 8), 0, "sum %a, expected %a", got_sum, sum);
    cr_assert_eq(memcmp(&got_half, &half, 8), 0, "half %a, expected %a", got_half, half);
}

static const enum l2_dtype all_dtypes[4] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16, L2_DTYPE_FLOAT32,
                                            L2_DTYPE_FLOAT64};

Test(raw_decode, small_float32_exact)
{
    unsigned char b[16];
    struct api_result res;
    struct api_error err;
    const float v[4] = {1.0f, -2.0f, 3.0f, 4.0f};

    memcpy(b, v, sizeof b); /* the test machine is little-endian, as l2d's hosts */
    cr_assert_eq(decode(L2_DTYPE_FLOAT32, b, 16, WHOLE, 0, &res, &err), API_OK);
    expect_result(&res, L2_DTYPE_FLOAT32, 4, 30.0, 15.0);
    api_result_free(&res);
}

Test(raw_decode, every_dtype_matches_oracle)
{
    unsigned char b[RAW_MAX_BODY];

    for (int d = 0; d < 4; d++) {
        enum l2_dtype dt = all_dtypes[d];
        double sum, half;
        size_t n = make_body(dt, 300, 42 + (uint64_t)d, b, &sum, &half);

        for (int how = WHOLE; how <= RANDOM; how++) {
            struct api_result res;
            struct api_error err;

            cr_assert_eq(decode(dt, b, n, how, 7, &res, &err), API_OK, "%s", err.detail);
            expect_result(&res, dt, 300, sum, half);
            api_result_free(&res);
        }
    }
}

Test(raw_decode, extremes_float16_bfloat16)
{
    /* 65504 = max float16, 2^-24 its smallest subnormal; sum exact by oracle. */
    const uint64_t f16[] = {0x7bff, 0xfbff, 0x0001, 0x8001, 0x03ff, 0x3c00};
    const uint64_t bf16[] = {0x7f7f, 0xff7f, 0x0001, 0x0080, 0x3f80};
    unsigned char b[16];
    struct oracle_sum s;
    double sum, half;
    struct api_result res;
    struct api_error err;

    oracle_sum_init(&s);
    for (size_t i = 0; i < 6; i++) {
        elem_put_le(b + 2 * i, f16[i], 2);
        oracle_sum_add_sq(&s, elem_value(L2_DTYPE_FLOAT16, f16[i]));
    }
    cr_assert(oracle_sum_round(&s, false, &sum));
    cr_assert(oracle_sum_round(&s, true, &half));
    cr_assert_eq(decode(L2_DTYPE_FLOAT16, b, 12, BYTES, 0, &res, &err), API_OK);
    expect_result(&res, L2_DTYPE_FLOAT16, 6, sum, half);
    api_result_free(&res);
    oracle_sum_free(&s);

    oracle_sum_init(&s);
    for (size_t i = 0; i < 5; i++) {
        elem_put_le(b + 2 * i, bf16[i], 2);
        oracle_sum_add_sq(&s, elem_value(L2_DTYPE_BFLOAT16, bf16[i]));
    }
    cr_assert(oracle_sum_round(&s, false, &sum));
    cr_assert(oracle_sum_round(&s, true, &half));
    cr_assert_eq(decode(L2_DTYPE_BFLOAT16, b, 10, BYTES, 0, &res, &err), API_OK);
    expect_result(&res, L2_DTYPE_BFLOAT16, 5, sum, half);
    api_result_free(&res);
    oracle_sum_free(&s);
}

Test(raw_decode, empty_body_is_zero_with_shape_0)
{
    for (int d = 0; d < 4; d++) {
        struct api_result res;
        struct api_error err;

        cr_assert_eq(decode(all_dtypes[d], (const unsigned char *)"", 0, WHOLE, 0, &res, &err),
                     API_OK);
        expect_result(&res, all_dtypes[d], 0, 0.0, 0.0);
        api_result_free(&res);
    }
}

Test(raw_decode, length_not_multiple_of_element)
{
    unsigned char b[16] = {0};
    struct api_result res;
    struct api_error err;

    /* 7 bytes of float32: one whole element, then 3 bytes. */
    cr_assert_eq(decode(L2_DTYPE_FLOAT32, b, 7, BYTES, 0, &res, &err), API_INVALID_LENGTH);
    cr_assert_eq(err.status, API_INVALID_LENGTH);
    cr_assert_str_eq(err.detail,
                     "the body is 7 bytes, not a multiple of the 4-byte float32 element");
    cr_assert_eq(err.offset, 4);
    cr_assert_eq(err.index, -1);
    api_result_free(&res);

    cr_assert_eq(decode(L2_DTYPE_FLOAT64, b, 15, WHOLE, 0, &res, &err), API_INVALID_LENGTH);
    cr_assert_eq(err.offset, 8);
    api_result_free(&res);
    cr_assert_eq(decode(L2_DTYPE_BFLOAT16, b, 1, WHOLE, 0, &res, &err), API_INVALID_LENGTH);
    cr_assert_eq(err.offset, 0);
    cr_assert_str_eq(err.detail,
                     "the body is 1 bytes, not a multiple of the 2-byte bfloat16 element");
    api_result_free(&res);
}

/* Bits of +inf, -inf and a quiet NaN in each dtype (float16, bfloat16,
 * float32, float64 order). */
static const uint64_t bad_bits[4][3] = {
    {0x7c00, 0xfc00, 0x7e00},
    {0x7f80, 0xff80, 0x7fc0},
    {0x7f800000, 0xff800000, 0x7fc00000},
    {0x7ff0000000000000u, 0xfff0000000000000u, 0x7ff8000000000001u},
};

Test(raw_decode, non_finite_every_dtype_with_index)
{
    unsigned char b[RAW_MAX_BODY];

    for (int d = 0; d < 4; d++) {
        enum l2_dtype dt = all_dtypes[d];
        size_t size = elem_size(dt);
        double sum, half;
        size_t n = make_body(dt, 100, 9, b, &sum, &half);

        for (int k = 0; k < 3; k++) {
            const size_t at[] = {0, 37, 99};
            for (int j = 0; j < 3; j++) {
                unsigned char c[RAW_MAX_BODY];

                memcpy(c, b, n);
                elem_put_le(c + at[j] * size, bad_bits[d][k], size);
                elem_put_le(c + 99 * size, bad_bits[d][(k + 1) % 3], size); /* a later one too */
                for (int how = WHOLE; how <= RANDOM; how++) {
                    struct api_result res;
                    struct api_error err;

                    cr_assert_eq(decode(dt, c, n, how, (uint64_t)j, &res, &err), API_NON_FINITE,
                                 "dtype %d bits %d at %zu", d, k, at[j]);
                    cr_assert_eq(err.index, (int64_t)at[j]);
                    cr_assert_eq(err.offset, -1);
                    cr_assert_not_null(strstr(err.detail, "not finite"));
                    api_result_free(&res);
                }
            }
        }
    }
}

Test(raw_decode, non_finite_split_across_chunks)
{
    unsigned char b[24] = {0};
    static const size_t cuts[][2] = {{11, 4}, {8, 1}, {1, 15}, {16, 8}};

    elem_put_le(b + 8, 0x7ff0000000000000u, 8); /* element 1 is +inf */
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct api_result res;
        struct api_error err;
        struct api_decode_opts opts = {L2_DTYPE_FLOAT64, true, false, 0, NULL};
        void *dec = NULL;
        size_t at = 0;
        enum api_status st = API_OK;

        api_result_init(&res, L2_DTYPE_FLOAT64);
        api_error_init(&err);
        cr_assert_eq(api_raw_ops.create(&res, &opts, &dec, &err), API_OK);
        for (size_t k = 0; k < 2; k++) {
            st = api_raw_ops.feed(dec, b + at, cuts[i][k], at, &err);
            at += cuts[i][k];
            if (st != API_OK)
                break;
        }
        if (st == API_OK)
            st = api_raw_ops.feed(dec, b + at, sizeof b - at, at, &err);
        cr_assert_eq(st, API_NON_FINITE);
        cr_assert_eq(err.index, 1);
        cr_assert_eq(err.offset, -1);
        cr_assert_str_eq(err.detail,
                         "element 1 of the float64 body is not finite (NaN or infinity)");
        api_raw_ops.destroy(dec);
        api_result_free(&res);
    }
}

/* Property: any chunking of a body gives the same bits, or the same error. */
Test(raw_decode, rechunking_invariance)
{
    unsigned char orig[RAW_MAX_BODY] = {0};
    unsigned char b[RAW_MAX_BODY];

    for (int d = 0; d < 4; d++) {
        enum l2_dtype dt = all_dtypes[d];
        size_t size = elem_size(dt);
        double sum, half;
        size_t n = make_body(dt, 61, 100 + (uint64_t)d, orig, &sum, &half);

        for (int variant = 0; variant < 3; variant++) {
            size_t len = n;

            memcpy(b, orig, sizeof b);
            enum api_status want = API_OK;

            if (variant == 1) {
                elem_put_le(b + 45 * size, bad_bits[d][2], size);
                want = API_NON_FINITE;
            } else if (variant == 2) {
                len = n + 1; /* a trailing partial element: the bytes are there */
                want = API_INVALID_LENGTH;
            }
            struct api_result ref;
            struct api_error ref_err;
            double ref_sum = 0;
            cr_assert_eq(decode(dt, b, len, WHOLE, 0, &ref, &ref_err), want);
            if (want == API_OK)
                cr_assert_eq(l2_accum_sum(&ref.total, &ref_sum), L2_OK);
            for (uint64_t trial = 0; trial < 101; trial++) {
                struct api_result res;
                struct api_error err;
                enum api_status st =
                    decode(dt, b, len, trial == 100 ? BYTES : RANDOM, trial * 7919, &res, &err);

                cr_assert_eq(st, want);
                cr_assert_eq(err.index, ref_err.index);
                cr_assert_eq(err.offset, ref_err.offset);
                cr_assert_str_eq(err.detail, ref_err.detail);
                if (want == API_OK) {
                    double s;
                    cr_assert_eq(l2_accum_sum(&res.total, &s), L2_OK);
                    cr_assert_eq(memcmp(&s, &ref_sum, 8), 0);
                    cr_assert_eq(memcmp(&s, &sum, 8), 0);
                    cr_assert_eq(res.total.count, ref.total.count);
                    cr_assert_eq(res.ndim, 1);
                    cr_assert_eq(res.shape[0], ref.shape[0]);
                    cr_assert_eq(res.dtype, dt);
                }
                api_result_free(&res);
            }
            api_result_free(&ref);
        }
    }
}

Test(raw_decode, dtype_is_required)
{
    struct api_result res;
    struct api_error err;
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
    void *dec = (void *)1;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    api_error_init(&err);
    cr_assert_eq(api_raw_ops.create(&res, &opts, &dec, &err), API_INVALID_DTYPE);
    cr_assert_null(dec);
    cr_assert_str_eq(err.detail, "a dtype query parameter (float16, bfloat16, float32 or "
                                 "float64) is required for application/octet-stream bodies");
    api_raw_ops.destroy(NULL);
}

Test(elements, big_endian_swap_matches_little_endian)
{
    for (int d = 0; d < 4; d++) {
        enum l2_dtype dt = all_dtypes[d];
        size_t size = elem_size(dt);
        unsigned char le[RAW_MAX_BODY], be[RAW_MAX_BODY];
        double sum, half;
        size_t n = make_body(dt, 200, 7 + (uint64_t)d, le, &sum, &half);
        struct l2_accum acc;
        struct api_elements s;
        struct api_error err;
        uint64_t seed = 99;
        size_t at = 0;
        double got;

        for (size_t i = 0; i < n; i += size)
            for (size_t k = 0; k < size; k++)
                be[i + k] = le[i + size - 1 - k];
        l2_accum_init(&acc);
        api_error_init(&err);
        cr_assert_eq(api_elements_init(&s, &acc, dt, true, "the test stream", &err), API_OK);
        while (at < n) {
            size_t len = chunks_len(RANDOM, &seed, n - at, 7);

            cr_assert_eq(api_elements_feed(&s, be + at, len, &err), API_OK);
            at += len;
        }
        cr_assert_eq(s.carry_len, 0);
        cr_assert_eq(s.count, n / size);
        cr_assert_eq(l2_accum_sum(&acc, &got), L2_OK);
        cr_assert_eq(memcmp(&got, &sum, 8), 0, "%s", l2_dtype_name(dt));
        api_elements_free(&s);
        api_elements_free(NULL);
    }
}
