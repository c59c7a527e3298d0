/* test_encoding.c -- Content-Encoding: header parsing, and gzip / deflate
 * bodies of every format inflated as they stream: same bits as the plain
 * body under any chunking, corrupt, truncated and trailing streams located
 * at the same offset whatever the chunking, the decoded-size limit, and the
 * order of errors (an element error decoded before corruption wins). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "tests/support/chunks.h"
#include "tests/support/zcompress.h"
#include "tests/support/npzw.h"
#include "tests/support/safetensors_gen.h"

Test(encoding, parse_accepts)
{
    static const struct {
        const char *v;
        enum api_encoding enc;
    } ok[] = {
        {NULL, API_ENCODING_IDENTITY},        {"identity", API_ENCODING_IDENTITY},
        {"", API_ENCODING_IDENTITY},          {"gzip", API_ENCODING_GZIP},
        {"GZip", API_ENCODING_GZIP},          {"x-gzip", API_ENCODING_GZIP},
        {" deflate ", API_ENCODING_DEFLATE},  {"identity, gzip", API_ENCODING_GZIP},
        {"gzip,identity", API_ENCODING_GZIP}, {"Deflate", API_ENCODING_DEFLATE},
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        enum api_encoding enc = API_ENCODING_IDENTITY;
        struct api_error err;

        api_error_init(&err);
        cr_assert_eq(api_encoding_parse(ok[i].v, &enc, &err), API_OK, "%s", ok[i].v);
        cr_assert_eq(enc, ok[i].enc, "%s", ok[i].v);
    }
}

Test(encoding, parse_refuses)
{
    static const char *const bad[] = {"br",         "zstd",     "compress",     "gzip, deflate",
                                      "gzip, gzip", "gzip;q=1", "gzip deflate", "\xc3\xa9"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum api_encoding enc = API_ENCODING_IDENTITY;
        struct api_error err;

        api_error_init(&err);
        cr_assert_eq(api_encoding_parse(bad[i], &enc, &err), API_UNSUPPORTED_ENCODING, "%s",
                     bad[i]);
        cr_assert_eq(api_status_http(err.status), 415);
        cr_assert_not_null(strstr(err.detail, "gzip"), "%s", err.detail);
    }
    /* a second field adds to the first */
    enum api_encoding enc = API_ENCODING_IDENTITY;
    struct api_error err;
    api_error_init(&err);
    cr_assert_eq(api_encoding_parse("gzip", &enc, &err), API_OK);
    cr_assert_eq(api_encoding_parse("deflate", &enc, &err), API_UNSUPPORTED_ENCODING);
    cr_assert_str_eq(err.detail,
                     "more than one Content-Encoding: l2d decodes one of gzip, x-gzip or deflate");
    api_error_init(&err);
    enc = API_ENCODING_IDENTITY;
    cr_assert_eq(api_encoding_parse("br", &enc, &err), API_UNSUPPORTED_ENCODING);
    cr_assert_str_eq(err.detail, "unsupported Content-Encoding 'br': send the body as is, or with "
                                 "one of gzip, x-gzip or deflate");
}

/* src compressed with zlib at level 6: gzip framing or zlib (deflate). */
static unsigned char *compress_with(const void *src, size_t n, bool gzip, size_t *out_len)
{
    return zcompress(src, n, 6, 8, gzip ? ZC_GZIP : ZC_ZLIB, out_len);
}

/* Decodes b[0..n) sent with enc, in chunks per seed (0 whole, 1 bytes,
 * else random); *err gets the body's error. Returns the status and leaves
 * the sum in *sum (on success). */
static enum api_status run(enum api_format fmt, bool has_dtype, enum l2_dtype dtype,
                           enum api_encoding enc, uint64_t limit, const unsigned char *b, size_t n,
                           uint64_t seed, double *sum, uint64_t *count, struct api_error *err)
{
    struct api_decode_opts opts = {dtype, has_dtype, false, 0, NULL};
    struct api_body *body;
    enum api_status st;
    size_t at = 0;

    api_error_init(err);
    cr_assert_eq(api_body_new(fmt, &opts, enc, limit, &body, err), API_OK);
    st = API_OK;
    while (at < n && st == API_OK) {
        size_t len = seed == 0 ? n - at : seed == 1 ? 1 : chunks_len(RANDOM, &seed, n - at, 7);

        st = api_body_feed(body, b + at, len);
        at += len;
    }
    if (st == API_OK)
        st = api_body_finish(body);
    *err = *api_body_error(body);
    if (st == API_OK) {
        cr_assert_eq(l2_accum_sum(&api_body_result(body)->total, sum), L2_OK);
        *count = api_body_result(body)->total.count;
    }
    api_body_free(body);
    return st;
}

/* A float32 raw body of n elements i * 0.25 - 3. */
static float *ramp(size_t n)
{
    float *v = malloc(n * sizeof *v);

    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)i * 0.25f - 3.0f;
    return v;
}

Test(encoding, gzip_and_deflate_give_the_plain_answer_under_any_chunking)
{
    size_t n = 50000;
    float *v = ramp(n);
    double plain, sum;
    uint64_t count;
    struct api_error err;

    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_IDENTITY, UINT64_MAX,
                     (unsigned char *)v, n * 4, 0, &plain, &count, &err),
                 API_OK);
    for (int g = 0; g < 2; g++) {
        size_t clen;
        unsigned char *c = compress_with(v, n * 4, g == 0, &clen);

        for (uint64_t trial = 0; trial < 102; trial++) {
            enum api_encoding enc = g == 0 ? API_ENCODING_GZIP : API_ENCODING_DEFLATE;

            cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, enc, UINT64_MAX, c, clen,
                             trial < 2 ? trial : trial * 7919, &sum, &count, &err),
                         API_OK, "%s", err.detail);
            cr_assert_eq(memcmp(&sum, &plain, 8), 0);
            cr_assert_eq(count, n);
        }
        free(c);
    }
    free(v);
}

Test(encoding, json_and_npy_bodies_gzipped)
{
    static const char js[] = "{\"tensors\": {\"a\": [[1, 2], [3, 4]], \"b\": [0.5]}}";
    static const char dict[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    unsigned char npy[128];
    size_t clen;
    double sum;
    uint64_t count;
    struct api_error err;
    unsigned char *c = compress_with(js, sizeof js - 1, true, &clen);

    cr_assert_eq(run(API_FORMAT_JSON, false, L2_DTYPE_FLOAT64, API_ENCODING_GZIP, UINT64_MAX, c,
                     clen, 1, &sum, &count, &err),
                 API_OK, "%s", err.detail);
    cr_assert_eq(sum, 30.25);
    free(c);

    memcpy(npy, "\x93NUMPY\x01\x00\x76\x00", 10);
    memcpy(npy + 10, dict, sizeof dict - 1);
    memset(npy + 10 + sizeof dict - 1, ' ', 128 - 10 - (sizeof dict - 1) - 1);
    npy[127] = '\n';
    double data[2] = {3.0, -4.0};
    unsigned char whole[144];
    memcpy(whole, npy, 128);
    memcpy(whole + 128, data, 16);
    c = compress_with(whole, sizeof whole, false, &clen);
    cr_assert_eq(run(API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, API_ENCODING_DEFLATE, UINT64_MAX, c,
                     clen, 2, &sum, &count, &err),
                 API_OK, "%s", err.detail);
    cr_assert_eq(sum, 25.0);
    free(c);
}

Test(encoding, gzip_members_concatenate)
{
    float a[3] = {1, 2, 3}, b[2] = {4, 5};
    size_t la, lb;
    unsigned char *ca = compress_with(a, sizeof a, true, &la);
    unsigned char *cb = compress_with(b, sizeof b, true, &lb);
    unsigned char *both = malloc(la + lb);
    double sum;
    uint64_t count;
    struct api_error err;

    memcpy(both, ca, la);
    memcpy(both + la, cb, lb);
    for (uint64_t seed = 0; seed < 20; seed++) {
        cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP, UINT64_MAX,
                         both, la + lb, seed, &sum, &count, &err),
                     API_OK, "%s", err.detail);
        cr_assert_eq(sum, 55.0);
        cr_assert_eq(count, 5);
    }
    /* deflate (zlib) has one stream: bytes after it are an error */
    free(ca);
    ca = compress_with(a, sizeof a, false, &la);
    memcpy(both, ca, la);
    both[la] = 0;
    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_DEFLATE, UINT64_MAX, both,
                     la + 1, 0, &sum, &count, &err),
                 API_INVALID_ENCODING);
    cr_assert_eq(err.offset, (int64_t)la);
    cr_assert_str_eq(err.detail,
                     "the deflate body is corrupt: bytes after the end of the compressed stream");
    free(ca);
    free(cb);
    free(both);
}

Test(encoding, corrupt_truncated_and_empty_streams)
{
    size_t n = 4000, clen;
    float *v = ramp(n);
    unsigned char *c = compress_with(v, n * 4, true, &clen);
    double sum;
    uint64_t count;
    struct api_error ref, err;

    /* truncated anywhere: invalid_encoding at the end of the body (the
     * stream is checked before the format's own end, so a partial element
     * in what was inflated is never what is reported) */
    for (size_t cut = 0; cut < clen; cut += 97) {
        cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP, UINT64_MAX, c,
                         cut, 0, &sum, &count, &err),
                     API_INVALID_ENCODING, "cut %zu: %s", cut, err.detail);
        cr_assert_eq(err.offset, (int64_t)cut);
    }
    /* a bad trailer CRC, and a broken block header: the same offset under
     * every chunking */
    const size_t flips[] = {clen - 6, 10, clen / 2};
    for (size_t f = 0; f < 3; f++) {
        c[flips[f]] ^= 0x55;
        enum api_status want = run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP,
                                   UINT64_MAX, c, clen, 0, &sum, &count, &ref);
        cr_assert_neq(want, API_OK, "flip %zu", flips[f]);
        for (uint64_t trial = 1; trial < 60; trial++) {
            cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP, UINT64_MAX,
                             c, clen, trial == 1 ? 1 : trial * 31, &sum, &count, &err),
                         want);
            cr_assert_str_eq(err.detail, ref.detail);
            cr_assert_eq(err.offset, ref.offset, "flip %zu trial %llu", flips[f],
                         (unsigned long long)trial);
        }
        c[flips[f]] ^= 0x55;
    }
    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP, UINT64_MAX, c, 0, 0,
                     &sum, &count, &err),
                 API_INVALID_ENCODING);
    cr_assert_str_eq(err.detail, "the gzip body is corrupt: it is empty");
    cr_assert_eq(err.offset, 0);
    free(c);
    free(v);
}

Test(encoding, element_error_before_the_corruption_wins)
{
    size_t n = 30000, clen;
    float *v = ramp(n);
    unsigned char *c;
    double sum;
    uint64_t count;
    struct api_error err;

    memcpy(&v[5], &(uint32_t){0x7fc00000u}, 4); /* NaN at element 5 */
    c = compress_with(v, n * 4, true, &clen);
    c[clen - 6] ^= 1; /* the CRC in the trailer */
    for (uint64_t seed = 0; seed < 30; seed++) {
        cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP, UINT64_MAX, c,
                         clen, seed, &sum, &count, &err),
                     API_NON_FINITE);
        cr_assert_eq(err.index, 5);
    }
    free(c);
    free(v);
}

Test(encoding, decoded_size_is_bounded)
{
    size_t n = 8u << 20, clen; /* 8 MiB of zeros: a few KiB of gzip */
    unsigned char *zeros = calloc(n, 1);
    unsigned char *c = compress_with(zeros, n, true, &clen);
    double sum;
    uint64_t count;
    struct api_error err;

    cr_assert_lt(clen, 64 * 1024);
    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP, 1u << 20, c, clen,
                     0, &sum, &count, &err),
                 API_PAYLOAD_TOO_LARGE);
    cr_assert_str_eq(err.detail, "the decoded body exceeds the limit of 1048576 bytes");
    cr_assert_eq(run(API_FORMAT_RAW, true, L2_DTYPE_FLOAT32, API_ENCODING_GZIP, n, c, clen, 3, &sum,
                     &count, &err),
                 API_OK);
    cr_assert_eq(count, n / 4);
    free(c);
    free(zeros);
}

/* The checkpoint formats gzipped and deflated: the plain file's bits under
 * any chunking of the compressed one. */
Test(encoding, checkpoints_gzipped)
{
    static const float w[6] = {1.5f, -2.0f, 3.0f, 0.25f, -7.0f, 11.0f};
    static const uint16_t h[3] = {0x3c00, 0xc000, 0x3800}; /* 1, -2, 0.5 */
    struct stgen_tensor t[2] = {
        {.name = "w", .dtype = "F32", .ndim = 2, .shape = {2, 3}, .data = w, .data_len = sizeof w},
        {.name = "h", .dtype = "F16", .ndim = 1, .shape = {3}, .data = h, .data_len = sizeof h},
    };
    size_t st_len, st_header, npy_w_len, npy_h_len;
    unsigned char *st = stgen_write(t, 2, NULL, &st_len, &st_header);
    unsigned char *npy_w = npzw_npy("<f4", "(2, 3)", w, sizeof w, &npy_w_len);
    unsigned char *npy_h = npzw_npy("<f2", "(3,)", h, sizeof h, &npy_h_len);
    struct npzw_form stored = {0}, deflated = {.deflate = true, .descriptor = true, .zip64 = true};
    struct npzw z;
    const double want = 1.5 * 1.5 + 4 + 9 + 0.0625 + 49 + 121 + 1 + 4 + 0.25;

    npzw_init(&z);
    npzw_member(&z, "w.npy", 5, npy_w, npy_w_len, &stored);
    npzw_member(&z, "h.npy", 5, npy_h, npy_h_len, &deflated);
    npzw_finish(&z, false, NULL);
    const struct {
        enum api_format fmt;
        const unsigned char *b;
        size_t n;
    } files[2] = {{API_FORMAT_SAFETENSORS, st, st_len}, {API_FORMAT_NPZ, z.b, z.n}};

    for (size_t f = 0; f < 2; f++) {
        for (int g = 0; g < 2; g++) {
            size_t clen;
            unsigned char *c = compress_with(files[f].b, files[f].n, g == 0, &clen);
            enum api_encoding enc = g == 0 ? API_ENCODING_GZIP : API_ENCODING_DEFLATE;

            for (uint64_t trial = 0; trial < 100; trial++) {
                double sum;
                uint64_t count;
                struct api_error err;

                cr_assert_eq(run(files[f].fmt, false, L2_DTYPE_FLOAT64, enc, UINT64_MAX, c, clen,
                                 trial < 2 ? trial : trial * 613, &sum, &count, &err),
                             API_OK, "%s", err.detail);
                cr_assert_eq(sum, want);
                cr_assert_eq(count, 9);
            }
            free(c);
        }
    }
    npzw_free(&z);
    free(npy_h);
    free(npy_w);
    free(st);
}
