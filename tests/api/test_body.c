/* test_body.c -- the body: the dtype rules per format, forwarding to each
 * decoder, the first error kept, the decoded-size limit, and chunking
 * invariance of every format. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/body.h"
#include "tests/support/chunks.h"

Test(body, raw_requires_dtype)
{
    struct api_body *body = (struct api_body *)1;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_body_new(API_FORMAT_RAW,
                              &(struct api_decode_opts){L2_DTYPE_FLOAT64, false, false, 0, NULL},
                              API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
                 API_INVALID_DTYPE);
    cr_assert_null(body);
    cr_assert_eq(err.status, API_INVALID_DTYPE);
    cr_assert_str_eq(err.detail, "a dtype query parameter (float16, bfloat16, float32 or "
                                 "float64) is required for application/octet-stream bodies");
}

Test(body, npy_forbids_dtype)
{
    struct api_body *body = (struct api_body *)1;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_body_new(API_FORMAT_NPY,
                              &(struct api_decode_opts){L2_DTYPE_FLOAT32, true, false, 0, NULL},
                              API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
                 API_INVALID_NPY);
    cr_assert_null(body);
    cr_assert_eq(err.status, API_INVALID_NPY);
    cr_assert_str_eq(err.detail,
                     "the dtype comes from the .npy header; remove the dtype query parameter");
    cr_assert_eq(err.offset, -1);
}

/* Feeds s (len bytes) in chunks per seed (0: whole, 1: bytes, else random)
 * into a new body; *out holds it afterwards, to be freed by the caller. */
static enum api_status run(enum api_format fmt, bool has_dtype, enum l2_dtype dtype, const char *s,
                           size_t len, uint64_t seed, struct api_body **out, struct api_error *err)
{
    struct api_decode_opts opts = {dtype, has_dtype, false, 0, NULL};
    enum api_status st;
    size_t at = 0;

    api_error_init(err);
    st = api_body_new(fmt, &opts, API_ENCODING_IDENTITY, UINT64_MAX, out, err);
    cr_assert_eq(st, API_OK, "%s", err->detail);
    while (at < len && st == API_OK) {
        size_t n = len - at;

        if (seed == 1)
            n = 1;
        else if (seed > 1)
            n = (size_t)(chunks_rng(&seed) % 9);
        if (n > len - at)
            n = len - at;
        st = api_body_feed(*out, s + at, n);
        at += n;
    }
    if (st == API_OK)
        st = api_body_finish(*out);
    *err = *api_body_error(*out);
    return st;
}

static double sum_of(const struct api_result *res)
{
    double s;

    cr_assert_eq(l2_accum_sum(&res->total, &s), L2_OK);
    return s;
}

Test(body, json_default_float64_and_query_dtype)
{
    const char *js = "[[1, 2], [3, 4.5]]";
    struct api_body *body;
    struct api_error err;

    for (uint64_t seed = 0; seed < 3; seed++) {
        cr_assert_eq(
            run(API_FORMAT_JSON, false, L2_DTYPE_FLOAT64, js, strlen(js), seed, &body, &err),
            API_OK, "%s", err.detail);
        const struct api_result *res = api_body_result(body);
        cr_assert_eq(res->dtype, L2_DTYPE_FLOAT64);
        cr_assert_eq(res->ndim, 2);
        cr_assert_eq(res->shape[0], 2);
        cr_assert_eq(res->shape[1], 2);
        cr_assert_eq(res->total.count, 4);
        cr_assert_eq(sum_of(res), 34.25);
        api_body_free(body);
    }

    /* 0.1 in float16 is 0x2e66 = 0.0999755859375; squared exactly below. */
    cr_assert_eq(run(API_FORMAT_JSON, true, L2_DTYPE_FLOAT16, "[0.1]", 5, 0, &body, &err), API_OK,
                 "%s", err.detail);
    cr_assert_eq(api_body_result(body)->dtype, L2_DTYPE_FLOAT16);
    cr_assert_eq(sum_of(api_body_result(body)), 0.0999755859375 * 0.0999755859375);
    api_body_free(body);
}

Test(body, json_errors_replayed)
{
    struct api_body *body;
    struct api_error err;

    cr_assert_eq(run(API_FORMAT_JSON, false, L2_DTYPE_FLOAT64, "[1, 2", 5, 1, &body, &err),
                 API_INVALID_JSON);
    cr_assert_eq(err.offset, 5);
    cr_assert_eq(api_body_finish(body), API_INVALID_JSON);
    cr_assert_str_eq(api_body_error(body)->detail, err.detail);
    cr_assert_eq(api_body_error(body)->offset, 5);
    api_body_free(body);

    cr_assert_eq(run(API_FORMAT_JSON, false, L2_DTYPE_FLOAT64, "[1, true]", 9, 0, &body, &err),
                 API_INVALID_TENSOR);
    cr_assert_eq(api_body_feed(body, "]", 1), API_INVALID_TENSOR);
    cr_assert_str_eq(api_body_error(body)->detail, err.detail);
    cr_assert_str_eq(api_body_error(body)->pointer, err.pointer);
    api_body_free(body);
}

Test(body, raw_through_body)
{
    /* float16 1.0, -2.0, 0.5: sum 5.25. */
    const char raw[6] = {0x00, 0x3c, 0x00, (char)0xc0, 0x00, 0x38};
    struct api_body *body;
    struct api_error err;

    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT16, raw, 6, 1, &body, &err), API_OK);
    const struct api_result *res = api_body_result(body);
    cr_assert_eq(res->dtype, L2_DTYPE_FLOAT16);
    cr_assert_eq(res->ndim, 1);
    cr_assert_eq(res->shape[0], 3);
    cr_assert_eq(sum_of(res), 5.25);
    api_body_free(body);

    /* bfloat16 -inf at element 2; later chunks get the same error. */
    const char bad[8] = {0x00, 0x3f, 0x00, 0x3f, (char)0x80, (char)0xff, 0, 0};
    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_BFLOAT16, bad, 8, 0, &body, &err),
                 API_NON_FINITE);
    cr_assert_eq(err.index, 2);
    cr_assert_eq(api_body_feed(body, bad, 8), API_NON_FINITE);
    cr_assert_eq(api_body_error(body)->index, 2);
    api_body_free(body);

    /* An empty raw body. */
    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, "", 0, 0, &body, &err), API_OK);
    cr_assert_eq(api_body_result(body)->ndim, 1);
    cr_assert_eq(api_body_result(body)->shape[0], 0);
    cr_assert_eq(sum_of(api_body_result(body)), 0.0);
    api_body_free(body);

    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT64, raw, 6, 0, &body, &err),
                 API_INVALID_LENGTH);
    cr_assert_not_null(strstr(err.detail, "6 bytes"));
    api_body_free(body);
}

/* A v1 .npy header for dict, padded as numpy pads it, into out. */
static size_t npy_head(char *out, const char *dict)
{
    size_t dl = strlen(dict);
    size_t total = (10 + dl + 1 + 63) / 64 * 64;

    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(total - 10);
    out[9] = 0;
    memcpy(out + 10, dict, dl);
    memset(out + 10 + dl, ' ', total - 10 - dl - 1);
    out[total - 1] = '\n';
    return total;
}

Test(body, npy_through_body)
{
    char b[256];
    size_t n = npy_head(b, "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }");
    struct api_body *body;
    struct api_error err;

    memcpy(b + n, "\x40\x40\x00\x00\xc0\x80\x00\x00", 8); /* 3.0f, -4.0f big-endian */
    cr_assert_eq(run(API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, b, n + 8, 1, &body, &err), API_OK,
                 "%s", err.detail);
    const struct api_result *res = api_body_result(body);
    cr_assert_eq(res->dtype, L2_DTYPE_FLOAT32);
    cr_assert_eq(res->ndim, 2);
    cr_assert_eq(res->shape[0], 1);
    cr_assert_eq(res->shape[1], 2);
    cr_assert_eq(sum_of(res), 25.0);
    api_body_free(body);

    cr_assert_eq(run(API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, b, n + 9, 0, &body, &err),
                 API_INVALID_LENGTH);
    cr_assert_eq(err.offset, (int64_t)(n + 8));
    api_body_free(body);

    cr_assert_eq(run(API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, "{}", 2, 0, &body, &err),
                 API_INVALID_NPY);
    cr_assert_eq(err.offset, 0);
    api_body_free(body);
    api_body_free(NULL);
}

/* Property: through api_body, every format gives the same bits (or the
 * same error) under 100 random chunkings and one byte at a time. */
Test(body, rechunking_invariance_all_formats)
{
    static char npy[256];
    size_t n = npy_head(npy, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 1), }");
    memcpy(npy + n, "\x00\x00\x00\x00\x00\x00\xf8\x3f\x00\x00\x00\x00\x00\x00\x00\xc0", 16);

    const struct {
        enum api_format fmt;
        bool has_dtype;
        enum l2_dtype dtype;
        const char *s;
        size_t len;
        enum api_status want;
    } cases[] = {
        {API_FORMAT_JSON, false, L2_DTYPE_FLOAT64,
         "{\"tensors\": {\"a\": [[0.1, 2e-3]], \"b\": 7}}", 41, API_OK},
        {API_FORMAT_JSON, true, L2_DTYPE_BFLOAT16, "[1.1, 2.2, 3.3]", 15, API_OK},
        {API_FORMAT_JSON, false, L2_DTYPE_FLOAT64, "[1.5, [2]]", 10, API_INVALID_TENSOR},
        {API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, "\x00\x00\xc0\x3f\xcd\xcc\xcc\x3d\x01", 8, API_OK},
        {API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, "\x00\x00\xc0\x3f\xcd\xcc\xcc\x3d\x01", 9,
         API_INVALID_LENGTH},
        {API_FORMAT_RAW, true, L2_DTYPE_FLOAT16, "\x00\x3c\x00\x7c\x00\x3c", 6, API_NON_FINITE},
        {API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, npy, n + 16, API_OK},
        {API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, npy, n + 15, API_INVALID_LENGTH},
        {API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, npy, n - 1, API_INVALID_NPY},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_body *ref;
        struct api_error ref_err;
        enum api_status st = run(cases[i].fmt, cases[i].has_dtype, cases[i].dtype, cases[i].s,
                                 cases[i].len, 0, &ref, &ref_err);
        const struct api_result *rr = api_body_result(ref);

        cr_assert_eq(st, cases[i].want, "case %zu: %s", i, ref_err.detail);
        for (uint64_t trial = 1; trial <= 101; trial++) {
            struct api_body *body;
            struct api_error err;
            const struct api_result *r;

            st = run(cases[i].fmt, cases[i].has_dtype, cases[i].dtype, cases[i].s, cases[i].len,
                     trial == 1 ? 1 : trial * 1000 + i, &body, &err);
            r = api_body_result(body);
            cr_assert_eq(st, cases[i].want, "case %zu trial %llu", i, (unsigned long long)trial);
            cr_assert_str_eq(err.detail, ref_err.detail);
            cr_assert_eq(err.offset, ref_err.offset);
            cr_assert_eq(err.index, ref_err.index);
            cr_assert_str_eq(err.pointer, ref_err.pointer);
            if (st == API_OK) {
                double a = sum_of(r), b = sum_of(rr);
                cr_assert_eq(memcmp(&a, &b, 8), 0, "case %zu", i);
                cr_assert_eq(r->total.count, rr->total.count);
                cr_assert_eq(r->dtype, rr->dtype);
                cr_assert_eq(r->ndim, rr->ndim);
                cr_assert_eq(memcmp(r->shape, rr->shape, r->ndim * sizeof r->shape[0]), 0);
                cr_assert_eq(r->n_tensors, rr->n_tensors);
                for (size_t t = 0; t < r->n_tensors; t++) {
                    cr_assert_str_eq(r->tensors[t].name, rr->tensors[t].name);
                    cr_assert_eq(memcmp(&r->tensors[t].sum_squares, &rr->tensors[t].sum_squares, 8),
                                 0);
                }
            }
            if (st == API_OK)
                api_body_free(body);
        }
        api_body_free(ref);
    }
}

/* An empty chunk (as a server may pass at the end of an upload) reads
 * nothing, whatever the pointer. (The infer body, which needs its request,
 * is tested in test_infer_decode.c.) */
Test(body, empty_chunks_with_null_buffer)
{
    for (int f = 0; f < API_FORMAT_TYPED_COUNT; f++) {
        struct api_decode_opts opts = {L2_DTYPE_FLOAT32, f == API_FORMAT_RAW, false, 0, NULL};
        struct api_body *body;
        struct api_error err;

        api_error_init(&err);
        cr_assert_eq(
            api_body_new((enum api_format)f, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
            API_OK);
        cr_assert_eq(api_body_feed(body, NULL, 0), API_OK, "%s", api_body_error(body)->detail);
        cr_assert_eq(api_body_format(body), (enum api_format)f);
        api_body_free(body);
    }
}

/* The decoded bytes are bounded: the chunk that passes the limit is refused
 * and not decoded, whatever the format. */
Test(body, decoded_size_limit)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT32, true, false, 0, NULL};
    struct api_body *body;
    struct api_error err;
    const char zeros[20] = {0};

    api_error_init(&err);
    cr_assert_eq(api_body_new(API_FORMAT_RAW, &opts, API_ENCODING_IDENTITY, 16, &body, &err),
                 API_OK);
    cr_assert_eq(api_body_feed(body, zeros, 16), API_OK);
    cr_assert_eq(api_body_feed(body, zeros, 4), API_PAYLOAD_TOO_LARGE);
    cr_assert_str_eq(api_body_error(body)->detail, "the body exceeds the limit of 16 bytes");
    cr_assert_eq(api_body_finish(body), API_PAYLOAD_TOO_LARGE);
    cr_assert_eq(api_body_result(body)->total.count, 4, "the refused chunk was not decoded");
    api_body_free(body);
}
