/* test_sniff.c -- files recognized by their first bytes (api/sniff.h), and
 * the raw format refusing them with format_mismatch under any chunking,
 * while raw values that merely start like a header stay data. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/sniff.h"
#include "tests/support/chunks.h"
#include "tests/support/safetensors_gen.h"

/* A small safetensors file written as the reference writer does. */
static unsigned char *checkpoint(size_t *len, size_t *header_len)
{
    static const float w[4] = {1, 2, 3, 4};
    static const uint16_t b[2] = {0x3c00, 0x4000};
    struct stgen_tensor t[2] = {
        {.name = "dense/kernel",
         .dtype = "F32",
         .ndim = 2,
         .shape = {2, 2},
         .data = w,
         .data_len = sizeof w},
        {.name = "dense/bias",
         .dtype = "F16",
         .ndim = 1,
         .shape = {2},
         .data = b,
         .data_len = sizeof b},
    };
    unsigned char *f = stgen_write(t, 2, NULL, len, header_len);

    cr_assert_not_null(f);
    return f;
}

Test(sniff, npy_magic)
{
    static const unsigned char npy[] = "\x93NUMPY\x01\x00";
    size_t need = 0;

    cr_assert_eq(api_sniff(npy, 8, &need), API_SNIFF_NPY);
    cr_assert_eq(api_sniff(npy, 6, &need), API_SNIFF_NPY);
    cr_assert_eq(api_sniff(npy, 5, &need), API_SNIFF_MORE);
    cr_assert_geq(need, 6);
    cr_assert_str_eq(api_sniff_media_type(API_SNIFF_NPY), "application/x-npy");
    cr_assert_null(api_sniff_media_type(API_SNIFF_NONE));
}

Test(sniff, safetensors_header_needs_to_be_whole_and_valid)
{
    size_t len, header_len, need = 0;
    unsigned char *f = checkpoint(&len, &header_len);

    cr_assert_eq(api_sniff(f, 4, &need), API_SNIFF_MORE);
    cr_assert_eq(api_sniff(f, 9, &need), API_SNIFF_MORE);
    cr_assert_eq(need, 8 + header_len);
    cr_assert_eq(api_sniff(f, 8 + header_len - 1, &need), API_SNIFF_MORE);
    cr_assert_eq(api_sniff(f, 8 + header_len, &need), API_SNIFF_SAFETENSORS);
    cr_assert_eq(api_sniff(f, len, &need), API_SNIFF_SAFETENSORS);
    cr_assert_str_eq(api_sniff_media_type(API_SNIFF_SAFETENSORS), "application/x-safetensors");
    /* a broken header is not a safetensors file: the bytes are data */
    f[8 + 2] = 0x01;
    cr_assert_eq(api_sniff(f, len, &need), API_SNIFF_NONE);
    free(f);
}

Test(sniff, values_are_not_files)
{
    static const float v[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    unsigned char b[16];
    size_t need;

    memcpy(b, v, sizeof b);
    cr_assert_eq(api_sniff(b, sizeof b, &need), API_SNIFF_NONE);
    /* a length of 0 or 1, or over the header limit, is no header */
    memset(b, 0, sizeof b);
    b[8] = '{';
    cr_assert_eq(api_sniff(b, sizeof b, &need), API_SNIFF_NONE);
    b[0] = 1;
    cr_assert_eq(api_sniff(b, sizeof b, &need), API_SNIFF_NONE);
    memset(b, 0xff, 8);
    cr_assert_eq(api_sniff(b, sizeof b, &need), API_SNIFF_NONE);
    /* a plausible length but no '{' */
    memset(b, 0, 8);
    b[0] = 7;
    b[8] = 'x';
    cr_assert_eq(api_sniff(b, sizeof b, &need), API_SNIFF_NONE);
}

/* Decodes b[0..n) as raw dtype in chunks per seed; returns the status and
 * copies the error and the count out. */
static enum api_status raw(enum l2_dtype dtype, const unsigned char *b, size_t n, uint64_t seed,
                           struct api_error *err, uint64_t *count)
{
    struct api_decode_opts opts = {dtype, true, false, 0, NULL};
    struct api_body *body;
    enum api_status st;
    size_t at = 0;

    api_error_init(err);
    cr_assert_eq(api_body_new(API_FORMAT_RAW, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, err),
                 API_OK);
    st = API_OK;
    while (at < n && st == API_OK) {
        size_t len = seed == 0 ? n - at : chunks_len(RANDOM, &seed, n - at, 5);

        st = api_body_feed(body, b + at, len);
        at += len;
    }
    if (st == API_OK)
        st = api_body_finish(body);
    *err = *api_body_error(body);
    *count = api_body_result(body)->total.count;
    api_body_free(body);
    return st;
}

Test(sniff, raw_refuses_files_under_any_chunking)
{
    size_t len, header_len;
    unsigned char *f = checkpoint(&len, &header_len);
    unsigned char npy[144] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4'";
    struct api_error err;
    uint64_t count;

    for (uint64_t seed = 0; seed < 101; seed++) {
        cr_assert_eq(raw(L2_DTYPE_FLOAT32, f, len, seed, &err, &count), API_FORMAT_MISMATCH);
        cr_assert_eq(err.offset, 0);
        cr_assert_str_eq(err.detail, "this body is a safetensors file, not raw values: send it "
                                     "with Content-Type: application/x-safetensors (and no dtype "
                                     "parameter)");
        cr_assert_eq(raw(L2_DTYPE_FLOAT16, npy, sizeof npy, seed, &err, &count),
                     API_FORMAT_MISMATCH);
        cr_assert_str_eq(err.detail, "this body is a NumPy .npy file, not raw values: send it "
                                     "with Content-Type: application/x-npy (and no dtype "
                                     "parameter)");
    }
    /* the magic alone, as a whole body, is still a file */
    cr_assert_eq(raw(L2_DTYPE_FLOAT16, npy, 6, 0, &err, &count), API_FORMAT_MISMATCH);
    free(f);
}

Test(sniff, raw_values_that_look_like_a_header_are_data)
{
    size_t len, header_len;
    unsigned char *f = checkpoint(&len, &header_len);
    struct api_error err;
    uint64_t count, want;

    f[8 + 2] = 0x01; /* no longer a valid header */
    /* the bytes are float16 data: the first element whose exponent field is
     * all ones ('|', '}', '~' as its high byte) is where it stops, if any */
    int64_t bad = -1;
    for (size_t i = 0; i + 1 < len && bad < 0; i += 2)
        if ((f[i + 1] & 0x7c) == 0x7c)
            bad = (int64_t)(i / 2);
    want = len / 2;
    for (uint64_t seed = 0; seed < 50; seed++) {
        enum api_status st = raw(L2_DTYPE_FLOAT16, f, len, seed, &err, &count);

        if (bad < 0) {
            cr_assert_eq(st, API_OK, "%s", err.detail);
            cr_assert_eq(count, want);
        } else {
            cr_assert_eq(st, API_NON_FINITE, "%s", err.detail);
            cr_assert_eq(err.index, bad);
        }
    }
    /* short bodies: fewer bytes than any header */
    cr_assert_eq(raw(L2_DTYPE_FLOAT16, (const unsigned char *)"\x00\x3c", 2, 0, &err, &count),
                 API_OK);
    cr_assert_eq(count, 1);
    cr_assert_eq(raw(L2_DTYPE_FLOAT16, (const unsigned char *)"\x93NUMP", 5, 0, &err, &count),
                 API_INVALID_LENGTH);
    free(f);
}
