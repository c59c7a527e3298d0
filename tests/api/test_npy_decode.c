/* test_npy_decode.c -- .npy bodies: versions, byte orders, shapes, header
 * grammar, every invalid_npy / invalid_length / non_finite case with its
 * offset or index, against the MPFR oracle and under any chunking. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/body.h"
#include "api/npy_decode.h"
#include "tests/support/oracle.h"
#include "tests/support/chunks.h"
#include "tests/support/decode.h"
#include "tests/support/elem_bits.h"

#define NPY_BODY_MAX 8192

/* Writes an .npy preamble and header for `dict` as numpy does (padded with
 * spaces and a final '\n' to a multiple of 64 bytes) into out; returns its
 * length. *dict_at receives the body offset of the dict's first byte. */
static size_t npy_head(unsigned char *out, int major, const char *dict, size_t *dict_at)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64;
    size_t hlen = total - pre;

    cr_assert_lt(total, NPY_BODY_MAX);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    out[8] = (unsigned char)hlen;
    out[9] = (unsigned char)(hlen >> 8);
    if (major != 1) {
        out[10] = (unsigned char)(hlen >> 16);
        out[11] = (unsigned char)(hlen >> 24);
    }
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hlen - dl - 1);
    out[total - 1] = '\n';
    if (dict_at != NULL)
        *dict_at = pre;
    return total;
}

/* Decodes b[0..n) fed per `how`; res must be freed by the caller. */
static enum api_status decode(const unsigned char *b, size_t n, enum chunking how, uint64_t seed,
                              struct api_result *res, struct api_error *err)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};

    return decode_chunked(&api_npy_ops, &opts, b, n, how, seed, 13, res, err);
}

/* A valid body: header for descr/shape/order, then count random finite
 * elements; the oracle's sum and half. Returns the body length. */
static size_t make_npy(unsigned char *b, int major, const char *descr, bool fortran,
                       const char *shape, size_t count, uint64_t seed, double *sum, double *half)
{
    char dict[256];
    size_t size = (size_t)(descr[2] - '0');
    enum l2_dtype dt = elem_dtype_of_size(size);
    bool big = descr[0] == '>';
    struct oracle_sum s;
    size_t n;

    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
             fortran ? "True" : "False", shape);
    n = npy_head(b, major, dict, NULL);
    cr_assert_leq(n + count * size, NPY_BODY_MAX);
    oracle_sum_init(&s);
    for (size_t i = 0; i < count; i++) {
        uint64_t bits = elem_random_finite(dt, &seed);

        elem_put(b + n + i * size, bits, size, big);
        oracle_sum_add_sq(&s, elem_value(dt, bits));
    }
    cr_assert(oracle_sum_round(&s, false, sum));
    cr_assert(oracle_sum_round(&s, true, half));
    oracle_sum_free(&s);
    return n + count * size;
}

static void expect_sum(const struct api_result *res, uint64_t count, double sum, double half)
{
    double got_sum, got_half;

    cr_assert_eq(res->total.count, count);
    cr_assert_eq(l2_accum_sum(&res->total, &got_sum), L2_OK);
    cr_assert_eq(l2_accum_half(&res->total, &got_half), L2_OK);
    cr_assert_eq(memcmp(&got_sum, &sum, 8), 0, "sum %a, expected %a", got_sum, sum);
    cr_assert_eq(memcmp(&got_half, &half, 8), 0, "half %a, expected %a", got_half, half);
}

Test(npy_decode, small_float32_exact)
{
    unsigned char b[NPY_BODY_MAX];
    size_t n = npy_head(b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", NULL);
    const float v[4] = {1.0f, 2.0f, -3.0f, 4.0f};
    struct api_result res;
    struct api_error err;

    cr_assert_eq(n, 128); /* numpy's padding: 10 + 60 + '\n', to 64-byte multiple */
    memcpy(b + n, v, 16);
    cr_assert_eq(decode(b, n + 16, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT32);
    cr_assert_eq(res.ndim, 2);
    cr_assert_eq(res.shape[0], 2);
    cr_assert_eq(res.shape[1], 2);
    expect_sum(&res, 4, 30.0, 15.0);
    api_result_free(&res);
}

Test(npy_decode, every_descr_version_and_chunking)
{
    static const char *const descrs[] = {"<f2", "<f4", "<f8", ">f2", ">f4",
                                         ">f8", "=f2", "=f4", "=f8"};
    unsigned char b[NPY_BODY_MAX];

    for (size_t d = 0; d < sizeof descrs / sizeof descrs[0]; d++) {
        for (int major = 1; major <= 3; major++) {
            double sum, half;
            size_t n = make_npy(b, major, descrs[d], false, "(5, 7)", 35, d * 3 + (size_t)major,
                                &sum, &half);
            enum l2_dtype want = descrs[d][2] == '2'   ? L2_DTYPE_FLOAT16
                                 : descrs[d][2] == '4' ? L2_DTYPE_FLOAT32
                                                       : L2_DTYPE_FLOAT64;

            for (int how = WHOLE; how <= RANDOM; how++) {
                struct api_result res;
                struct api_error err;

                cr_assert_eq(decode(b, n, how, 5, &res, &err), API_OK, "%s v%d: %s", descrs[d],
                             major, err.detail);
                cr_assert_eq(res.dtype, want);
                cr_assert_eq(res.ndim, 2);
                cr_assert_eq(res.shape[0], 5);
                cr_assert_eq(res.shape[1], 7);
                expect_sum(&res, 35, sum, half);
                api_result_free(&res);
            }
        }
    }
}

/* Big-endian data are swapped in 64 KiB blocks: bodies over several blocks,
 * and a NaN in a later block reported at its index in the whole array. */
Test(npy_decode, big_endian_spanning_swap_blocks)
{
    static const char *const descrs[3] = {">f2", ">f4", ">f8"};
    static unsigned char big[128 + 160000]; /* larger than make_npy's bodies */
    for (int d = 0; d < 3; d++) {
        size_t size = (size_t)(descrs[d][2] - '0');
        enum l2_dtype dt = elem_dtype_of_size(size);
        size_t count = 160000 / size;
        char dict[128];
        uint64_t seed = 99;
        struct oracle_sum s;
        double sum, half;

        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                 descrs[d], count);
        size_t n = npy_head(big, 1, dict, NULL);
        cr_assert_eq(n, 128);
        oracle_sum_init(&s);
        for (size_t i = 0; i < count; i++) {
            uint64_t bits = elem_random_finite(dt, &seed);
            elem_put(big + n + i * size, bits, size, true);
            oracle_sum_add_sq(&s, elem_value(dt, bits));
        }
        cr_assert(oracle_sum_round(&s, false, &sum));
        cr_assert(oracle_sum_round(&s, true, &half));
        oracle_sum_free(&s);
        for (int how = WHOLE; how <= RANDOM; how += 2) {
            struct api_result res;
            struct api_error err;

            cr_assert_eq(decode(big, n + 160000, how, 3, &res, &err), API_OK, "%s", err.detail);
            expect_sum(&res, count, sum, half);
            api_result_free(&res);
        }
        /* A NaN two and a half blocks in. */
        size_t at = 150000 / size + 1;
        elem_put(big + n + at * size,
                 size == 2   ? 0x7e00
                 : size == 4 ? 0x7fc00000
                             : 0x7ff8000000000000u,
                 size, true);
        for (int how = WHOLE; how <= RANDOM; how += 2) {
            struct api_result res;
            struct api_error err;

            cr_assert_eq(decode(big, n + 160000, how, 4, &res, &err), API_NON_FINITE);
            cr_assert_eq(err.index, (int64_t)at);
            api_result_free(&res);
        }
    }
}

Test(npy_decode, fortran_order_keeps_header_shape)
{
    unsigned char b[NPY_BODY_MAX];
    double sum, half;
    size_t n = make_npy(b, 1, "<f8", true, "(3, 4)", 12, 3, &sum, &half);
    struct api_result res;
    struct api_error err;

    cr_assert_eq(decode(b, n, BYTES, 0, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.ndim, 2);
    cr_assert_eq(res.shape[0], 3);
    cr_assert_eq(res.shape[1], 4);
    expect_sum(&res, 12, sum, half);
    api_result_free(&res);
}

Test(npy_decode, scalar_shape)
{
    unsigned char b[NPY_BODY_MAX];
    size_t n = npy_head(b, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", NULL);
    const double v = -1.5;
    struct api_result res;
    struct api_error err;

    memcpy(b + n, &v, 8);
    cr_assert_eq(decode(b, n + 8, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.ndim, 0);
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT64);
    expect_sum(&res, 1, 2.25, 1.125);
    api_result_free(&res);

    /* A scalar needs its one element. */
    cr_assert_eq(decode(b, n, WHOLE, 0, &res, &err), API_INVALID_LENGTH);
    api_result_free(&res);
}

Test(npy_decode, zero_size_shape)
{
    unsigned char b[NPY_BODY_MAX];
    size_t n = npy_head(b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", NULL);
    struct api_result res;
    struct api_error err;

    cr_assert_eq(decode(b, n, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.ndim, 2);
    cr_assert_eq(res.shape[0], 0);
    cr_assert_eq(res.shape[1], 3);
    expect_sum(&res, 0, 0.0, 0.0);
    api_result_free(&res);

    b[n] = 0;
    cr_assert_eq(decode(b, n + 1, WHOLE, 0, &res, &err), API_INVALID_LENGTH);
    cr_assert_eq(err.offset, (int64_t)n);
    api_result_free(&res);
}

/* Header dicts numpy (or Python's literal syntax) allows. */
Test(npy_decode, header_grammar_accepted)
{
    static const struct {
        const char *dict;
        unsigned ndim;
        uint64_t dims[3];
    } ok[] = {
        {"{'shape': (3,), 'fortran_order': False, 'descr': '<f2'}", 1, {3}},
        {"{\"descr\": \"<f2\", \"fortran_order\": False, \"shape\": (3,)}", 1, {3}},
        {"{ 'descr' : '<f2' ,'fortran_order':True,'shape':( 1 , 3 , ) , }", 2, {1, 3}},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (3L,), }", 1, {3}},
        {"{'descr': '<f2',\n 'fortran_order': False,\n 'shape': (1, 1, 3)}", 3, {1, 1, 3}},
    };
    unsigned char b[NPY_BODY_MAX];

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = npy_head(b, 1, ok[i].dict, NULL);
        struct api_result res;
        struct api_error err;

        memset(b + n, 0, 6);          /* three float16 zeros */
        b[n] = 0x00, b[n + 1] = 0x3c; /* 1.0 */
        cr_assert_eq(decode(b, n + 6, WHOLE, 0, &res, &err), API_OK, "%s: %s", ok[i].dict,
                     err.detail);
        cr_assert_eq(res.ndim, ok[i].ndim, "%s", ok[i].dict);
        for (unsigned k = 0; k < ok[i].ndim; k++)
            cr_assert_eq(res.shape[k], ok[i].dims[k]);
        expect_sum(&res, 3, 1.0, 0.5);
        api_result_free(&res);
    }
}

/* A header without numpy's padding: the dict is all of it. */
Test(npy_decode, unpadded_header_and_64_dims)
{
    unsigned char b[NPY_BODY_MAX];
    char dict[1024];
    size_t len = 0;
    struct api_result res;
    struct api_error err;

    len += (size_t)snprintf(dict + len, sizeof dict - len,
                            "{'descr':'<f4','fortran_order':False,'shape':(");
    for (int k = 0; k < API_MAX_DEPTH; k++)
        len += (size_t)snprintf(dict + len, sizeof dict - len, "1,");
    len += (size_t)snprintf(dict + len, sizeof dict - len, ")}");
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)len;
    b[9] = (unsigned char)(len >> 8);
    memcpy(b + 10, dict, len);
    memcpy(b + 10 + len, "\x00\x00\x80\x3f", 4); /* 1.0f */
    cr_assert_eq(decode(b, 10 + len + 4, RANDOM, 1, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.ndim, API_MAX_DEPTH);
    expect_sum(&res, 1, 1.0, 0.5);
    api_result_free(&res);
}

/* Each case: a header dict that must fail with invalid_npy at the offset of
 * the first occurrence of `at` in the dict, with `detail` in the detail. */
static const struct {
    const char *dict;
    const char *at;
    const char *detail;
} bad_headers[] = {
    {"['descr', '<f4']", "[", "expected a dict"},
    {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", "'<i4'",
     "unsupported .npy dtype '<i4'"},
    {"{'descr': '<f16', 'fortran_order': False, 'shape': (3,), }", "'<f16'",
     "unsupported .npy dtype '<f16'"},
    {"{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", "'<c8'",
     "bfloat16 has no .npy form"},
    {"{'descr': 'V2', 'fortran_order': False, 'shape': (3,), }", "'V2'",
     "unsupported .npy dtype 'V2'"},
    {"{'descr': '|f4', 'fortran_order': False, 'shape': (3,), }", "'|f4'", "only for 1-byte types"},
    {"{'descr': 'f4', 'fortran_order': False, 'shape': (3,), }", "'f4'", "unsupported"},
    {"{'descr': '<f4 ', 'fortran_order': False, 'shape': (3,), }", "'<f4 '", "unsupported"},
    {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", "[",
     "structured arrays"},
    {"{'descr': <f4, 'fortran_order': False, 'shape': (3,), }", "<f4", "quoted string"},
    {"{'descr': '<f4', 'fortran_order': false, 'shape': (3,), }", "false", "True or False"},
    {"{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", "0,", "True or False"},
    {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (3,), }", "Falsey", "True or False"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", ")", "(n,)"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", "[3]", "tuple"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", "3", "tuple"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "-1", "negative"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "x", "integer"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", "3)", "',' or ')'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (0x3,), }", "x3", "integer"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }", "03", "leading zero"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }", ".0", "',' or ')'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551616,), }",
     "18446744073709551616", "too large"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "(4294967296",
     "overflows"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }",
     "(4611686018427387904", "overflows"},
    {"{'descr': '<f4', 'fortran_order': False, }", "}", "'shape' is missing"},
    {"{'descr': '<f4', 'shape': (3,), }", "}", "'fortran_order' is missing"},
    {"{'fortran_order': False, 'shape': (3,), }", "}", "'descr' is missing"},
    {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
     "'descr': '<f4', 'f", "twice"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "'extra'",
     "unknown key 'extra'"},
    {"{descr: '<f4', 'fortran_order': False, 'shape': (3,), }", "descr", "quoted string"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", "x", "after the dict"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,) 'x': 1}", "'x'", "',' or '}'"},
    {"{'descr' '<f4', 'fortran_order': False, 'shape': (3,), }", "'<f4'", "':'"},
    {"{'descr': '<f4\\x00', 'fortran_order': False, 'shape': (3,), }", "\\", "escapes"},
    {"{'descr': '<f4, 'fortran_order': False, 'shape': (3,), }", "'<f4, '", "unsupported"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ", NULL,
     "expected a key as a quoted string"},
    {"{'descr': '\xc3\xa9', 'fortran_order': False, 'shape': (3,), }", "'\xc3", "'?\?'"},
};

/* The detail must be printable ASCII (it goes into JSON as is). */
static void expect_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        cr_assert(*s >= 0x20 && *s < 0x7f, "detail byte %#x", (unsigned char)*s);
}

Test(npy_decode, bad_headers_with_offsets)
{
    unsigned char b[NPY_BODY_MAX];

    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        for (int major = 1; major <= 3; major += 2) {
            size_t dict_at;
            size_t n = npy_head(b, major, bad_headers[i].dict, &dict_at);
            size_t want_off;

            memset(b + n, 0, 64);
            if (bad_headers[i].at != NULL) {
                const char *p = strstr(bad_headers[i].dict, bad_headers[i].at);
                cr_assert_not_null(p, "case %zu marker", i);
                want_off = dict_at + (size_t)(p - bad_headers[i].dict);
            } else {
                want_off = dict_at + strlen(bad_headers[i].dict); /* the padding */
                while (b[want_off] == ' ' || b[want_off] == '\n')
                    want_off++;
            }
            for (int how = WHOLE; how <= RANDOM; how++) {
                struct api_result res;
                struct api_error err;

                cr_assert_eq(decode(b, n + 64, how, i, &res, &err), API_INVALID_NPY,
                             "case %zu (%s): %s", i, bad_headers[i].dict, err.detail);
                cr_assert_eq(err.offset, (int64_t)want_off, "case %zu (%s): offset %lld, %s", i,
                             bad_headers[i].dict, (long long)err.offset, err.detail);
                cr_assert_not_null(strstr(err.detail, bad_headers[i].detail),
                                   "case %zu: detail '%s'", i, err.detail);
                cr_assert_eq(err.index, -1);
                expect_ascii(err.detail);
                api_result_free(&res);
            }
        }
    }
}

Test(npy_decode, too_many_dims)
{
    unsigned char b[NPY_BODY_MAX];
    char dict[1024];
    size_t len = 0;
    size_t dict_at;
    struct api_result res;
    struct api_error err;

    len += (size_t)snprintf(dict + len, sizeof dict - len,
                            "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int k = 0; k <= API_MAX_DEPTH; k++)
        len += (size_t)snprintf(dict + len, sizeof dict - len, "1, ");
    snprintf(dict + len, sizeof dict - len, "), }");
    size_t n = npy_head(b, 1, dict, &dict_at);
    cr_assert_eq(decode(b, n, WHOLE, 0, &res, &err), API_INVALID_NPY);
    cr_assert_eq(err.offset, (int64_t)(dict_at + len - 3));
    cr_assert_str_eq(err.detail, "the .npy shape has more than 64 dimensions");
    api_result_free(&res);
}

/* Preamble errors: (bytes, length, offset). */
Test(npy_decode, bad_magic_version_length)
{
    static const struct {
        const char *bytes;
        size_t len;
        int64_t offset;
        const char *detail;
    } cases[] = {
        {"GET / HTTP/1.1\r\n", 16, 0, "\\x93NUMPY"},
        {"\x93NUMPX\x01\x00\x10\x00", 10, 5, "\\x93NUMPY"},
        {"\x93numpy\x01\x00\x10\x00", 10, 1, "\\x93NUMPY"},
        {"\x93NUMPY\x00\x00\x10\x00", 10, 6, "version 0 "},
        {"\x93NUMPY\x04\x00\x10\x00", 10, 6, "version 4 "},
        {"\x93NUMPY\x01\x01\x10\x00", 10, 7, "version 1.1 "},
        {"\x93NUMPY\x02\x00\x01\x00\x01\x00", 12, 8, "65537 bytes"},
        {"\x93NUMPY\x03\x00\x00\x00\x00\x80", 12, 8, "2147483648 bytes"},
        {"\x93NUMPY\x01\x00\x00\x00", 10, 10, "expected a dict"},
        {"[1, 2, 3]", 9, 0, "\\x93NUMPY"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int how = WHOLE; how <= BYTES; how++) {
            struct api_result res;
            struct api_error err;

            cr_assert_eq(
                decode((const unsigned char *)cases[i].bytes, cases[i].len, how, 0, &res, &err),
                API_INVALID_NPY, "case %zu", i);
            cr_assert_eq(err.offset, cases[i].offset, "case %zu: offset %lld (%s)", i,
                         (long long)err.offset, err.detail);
            cr_assert_not_null(strstr(err.detail, cases[i].detail), "case %zu: %s", i, err.detail);
            api_result_free(&res);
        }
    }
}

Test(npy_decode, header_at_the_limit_is_read)
{
    static unsigned char b[API_NPY_MAX_HEADER + 64];
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }";
    struct api_result res;
    struct api_error err;

    memcpy(b, "\x93NUMPY\x02\x00\x00\x00\x01\x00", 12); /* 65536 bytes */
    memset(b + 12, ' ', API_NPY_MAX_HEADER);
    memcpy(b + 12, dict, strlen(dict));
    b[12 + API_NPY_MAX_HEADER - 1] = '\n';
    cr_assert_eq(decode(b, 12 + API_NPY_MAX_HEADER, WHOLE, 0, &res, &err), API_OK, "%s",
                 err.detail);
    cr_assert_eq(res.ndim, 1);
    cr_assert_eq(res.shape[0], 0);
    api_result_free(&res);
}

Test(npy_decode, truncated_bodies)
{
    unsigned char b[NPY_BODY_MAX];
    double sum, half;
    size_t n = make_npy(b, 1, "<f4", false, "(4,)", 4, 1, &sum, &half);

    /* Cut in the preamble, the header and the data. */
    const size_t cuts[] = {0, 3, 9, 10, 40, 127, 128, 129, 143};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct api_result res;
        struct api_error err;
        enum api_status want = cuts[i] < 128 ? API_INVALID_NPY : API_INVALID_LENGTH;

        cr_assert_lt(cuts[i], n);
        cr_assert_eq(decode(b, cuts[i], BYTES, 0, &res, &err), want, "cut %zu", cuts[i]);
        cr_assert_eq(err.offset, (int64_t)cuts[i]);
        api_result_free(&res);
    }
    struct api_result res;
    struct api_error err;
    cr_assert_eq(n, 144);
    cr_assert_eq(decode(b, 134, WHOLE, 0, &res, &err), API_INVALID_LENGTH);
    cr_assert_str_eq(err.detail,
                     "the .npy body is shorter than its header declares (6 of 16 data bytes)");
    api_result_free(&res);
}

Test(npy_decode, longer_than_declared)
{
    unsigned char b[NPY_BODY_MAX];
    double sum, half;
    size_t n = make_npy(b, 2, ">f8", false, "(2,)", 2, 1, &sum, &half);

    memset(b + n, 0, 9);
    for (size_t extra = 1; extra < 9; extra += 7) {
        for (int how = WHOLE; how <= RANDOM; how++) {
            struct api_result res;
            struct api_error err;

            cr_assert_eq(decode(b, n + extra, how, extra, &res, &err), API_INVALID_LENGTH);
            cr_assert_eq(err.offset, (int64_t)n);
            cr_assert_str_eq(err.detail, "the .npy body is longer than its header declares "
                                         "(16 data bytes after a 128-byte header)");
            api_result_free(&res);
        }
    }
}

Test(npy_decode, non_finite_each_descr_with_index)
{
    static const struct {
        const char *descr;
        uint64_t bad[3];
    } cases[] = {
        {"<f2", {0x7c00, 0xfc00, 0x7e01}},
        {">f2", {0x7c00, 0xfc00, 0x7e01}},
        {"<f4", {0x7f800000, 0xff800000, 0x7fc00001}},
        {">f4", {0x7f800000, 0xff800000, 0x7fc00001}},
        {"<f8", {0x7ff0000000000000u, 0xfff0000000000000u, 0x7ff8000000000001u}},
        {">f8", {0x7ff0000000000000u, 0xfff0000000000000u, 0x7ff8000000000001u}},
    };
    unsigned char b[NPY_BODY_MAX];

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t size = (size_t)(cases[c].descr[2] - '0');
        bool big = cases[c].descr[0] == '>';
        double sum, half;
        size_t n = make_npy(b, 1, cases[c].descr, false, "(10, 10)", 100, c, &sum, &half);
        size_t data = n - 100 * size;

        for (int k = 0; k < 3; k++) {
            const size_t at[] = {0, 51, 99};
            for (int j = 0; j < 3; j++) {
                unsigned char x[NPY_BODY_MAX];

                memcpy(x, b, n);
                elem_put(x + data + at[j] * size, cases[c].bad[k], size, big);
                elem_put(x + data + 99 * size, cases[c].bad[(k + 1) % 3], size, big);
                for (int how = WHOLE; how <= RANDOM; how++) {
                    struct api_result res;
                    struct api_error err;

                    cr_assert_eq(decode(x, n, how, (uint64_t)j, &res, &err), API_NON_FINITE,
                                 "%s bits %d at %zu", cases[c].descr, k, at[j]);
                    cr_assert_eq(err.index, (int64_t)at[j]);
                    cr_assert_eq(err.offset, -1);
                    api_result_free(&res);
                }
            }
        }
    }
}

Test(npy_decode, errors_are_replayed_by_the_body)
{
    unsigned char b[NPY_BODY_MAX];
    double sum, half;
    size_t n = make_npy(b, 1, ">f4", false, "(2,)", 2, 1, &sum, &half);
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
    struct api_body *body = NULL;
    struct api_error err;
    const struct api_error *first;

    elem_put(b + n - 4, 0x7f800000, 4, true);
    api_error_init(&err);
    cr_assert_eq(
        api_body_new(API_FORMAT_NPY, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
        API_OK);
    cr_assert_eq(api_body_feed(body, b, n - 2), API_OK);
    cr_assert_eq(api_body_feed(body, b + n - 2, 2), API_NON_FINITE);
    first = api_body_error(body);
    cr_assert_eq(first->index, 1);
    cr_assert_str_eq(first->detail, "element 1 of the .npy array is not finite (NaN or infinity)");
    cr_assert_eq(api_body_feed(body, "x", 1), API_NON_FINITE);
    cr_assert_eq(api_body_finish(body), API_NON_FINITE);
    cr_assert_eq(api_body_error(body)->index, 1);
    cr_assert_str_eq(api_body_error(body)->detail,
                     "element 1 of the .npy array is not finite (NaN or infinity)");
    cr_assert_eq(err.status, API_OK, "creation's record is untouched");
    api_body_free(body);
    api_npy_ops.destroy(NULL);
}

/* Property: every body, valid or not, decodes to the same bits or the same
 * error (status, detail, offset, index) under 100 random chunkings and one
 * byte at a time. */
Test(npy_decode, rechunking_invariance)
{
    static unsigned char bodies[12][NPY_BODY_MAX];
    size_t lens[12];
    size_t nb = 0;
    double sum, half;

    lens[nb] = make_npy(bodies[nb], 1, "<f2", false, "(3, 5)", 15, 1, &sum, &half), nb++;
    lens[nb] = make_npy(bodies[nb], 2, ">f2", true, "(15,)", 15, 2, &sum, &half), nb++;
    lens[nb] = make_npy(bodies[nb], 3, "<f4", false, "(2, 2, 3)", 12, 3, &sum, &half), nb++;
    lens[nb] = make_npy(bodies[nb], 1, ">f4", false, "(13,)", 13, 4, &sum, &half), nb++;
    lens[nb] = make_npy(bodies[nb], 1, "<f8", false, "()", 1, 5, &sum, &half), nb++;
    lens[nb] = make_npy(bodies[nb], 2, ">f8", false, "(0, 3)", 0, 6, &sum, &half), nb++;
    lens[nb] = make_npy(bodies[nb], 1, ">f8", false, "(9,)", 9, 7, &sum, &half), nb++;
    /* Errors: non-finite, too long, too short, bad descr, bad magic. */
    lens[nb] = make_npy(bodies[nb], 1, ">f4", false, "(13,)", 13, 8, &sum, &half);
    elem_put(bodies[nb] + lens[nb] - 4 * 6, 0x7fc00000, 4, true), nb++;
    lens[nb] = make_npy(bodies[nb], 1, "<f8", false, "(3,)", 3, 9, &sum, &half) + 3, nb++;
    lens[nb] = make_npy(bodies[nb], 1, "<f2", false, "(7,)", 7, 10, &sum, &half) - 3, nb++;
    lens[nb] = make_npy(bodies[nb], 1, "<i8", false, "(7,)", 0, 11, &sum, &half) + 8, nb++;
    memcpy(bodies[nb], "\x93NUMPY\x01\x01", 8), lens[nb] = 8, nb++;

    for (size_t i = 0; i < nb; i++) {
        struct api_result ref;
        struct api_error ref_err;
        enum api_status want = decode(bodies[i], lens[i], WHOLE, 0, &ref, &ref_err);
        double ref_sum = 0;

        cr_assert_eq(want == API_OK, i < 7, "body %zu: %s", i, ref_err.detail);
        if (want == API_OK)
            cr_assert_eq(l2_accum_sum(&ref.total, &ref_sum), L2_OK);
        for (uint64_t trial = 0; trial < 101; trial++) {
            struct api_result res;
            struct api_error err;
            enum api_status st = decode(bodies[i], lens[i], trial == 100 ? BYTES : RANDOM,
                                        trial * 31 + i, &res, &err);

            cr_assert_eq(st, want, "body %zu trial %llu", i, (unsigned long long)trial);
            cr_assert_str_eq(err.detail, ref_err.detail);
            cr_assert_eq(err.offset, ref_err.offset);
            cr_assert_eq(err.index, ref_err.index);
            if (want == API_OK) {
                double s;
                cr_assert_eq(l2_accum_sum(&res.total, &s), L2_OK);
                cr_assert_eq(memcmp(&s, &ref_sum, 8), 0);
                cr_assert_eq(res.total.count, ref.total.count);
                cr_assert_eq(res.dtype, ref.dtype);
                cr_assert_eq(res.ndim, ref.ndim);
                cr_assert_eq(memcmp(res.shape, ref.shape, res.ndim * sizeof res.shape[0]), 0);
            }
            api_result_free(&res);
        }
        api_result_free(&ref);
    }
}

/* Data-driven: the files in tests/data/npy (bytes as numpy writes them, see
 * make_fixtures.py there), read from the repository root. */
Test(npy_decode, fixture_files)
{
    static const struct {
        const char *file;
        enum api_status st;
        double sum;
        uint64_t count;
        enum l2_dtype dtype;
        unsigned ndim;
        uint64_t shape[3];
        int64_t index, offset;
    } cases[] = {
        {"f4_2x3.npy", API_OK, 91.0, 6, L2_DTYPE_FLOAT32, 2, {2, 3}, -1, -1},
        {"f8_be_5.npy", API_OK, 35.3125, 5, L2_DTYPE_FLOAT64, 1, {5}, -1, -1},
        {"f2_scalar.npy", API_OK, 9.0, 1, L2_DTYPE_FLOAT16, 0, {0}, -1, -1},
        {"f2_be_2x2.npy", API_OK, 4290774022.5, 4, L2_DTYPE_FLOAT16, 2, {2, 2}, -1, -1},
        {"f4_fortran_2x2.npy", API_OK, 30.0, 4, L2_DTYPE_FLOAT32, 2, {2, 2}, -1, -1},
        {"f4_empty_0x3.npy", API_OK, 0.0, 0, L2_DTYPE_FLOAT32, 2, {0, 3}, -1, -1},
        {"f8_v2.npy", API_OK, 5.0, 2, L2_DTYPE_FLOAT64, 1, {2}, -1, -1},
        {"f4_v3.npy", API_OK, 25.0, 2, L2_DTYPE_FLOAT32, 3, {1, 1, 2}, -1, -1},
        {"bad_i4.npy", API_INVALID_NPY, 0, 0, 0, 0, {0}, -1, 20},
        {"bad_short.npy", API_INVALID_LENGTH, 0, 0, 0, 0, {0}, -1, 139},
        {"bad_long.npy", API_INVALID_LENGTH, 0, 0, 0, 0, {0}, -1, 136},
        {"bad_nan.npy", API_NON_FINITE, 0, 0, 0, 0, {0}, 1, -1},
        {"bad_inf_be.npy", API_NON_FINITE, 0, 0, 0, 0, {0}, 3, -1},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        unsigned char b[NPY_BODY_MAX];
        FILE *f;
        size_t n;

        snprintf(path, sizeof path, "tests/data/npy/%s", cases[i].file);
        f = fopen(path, "rb");
        cr_assert_not_null(f, "%s (run the tests from the repository root)", path);
        n = fread(b, 1, sizeof b, f);
        fclose(f);
        for (int how = WHOLE; how <= RANDOM; how++) {
            struct api_result res;
            struct api_error err;
            double sum;

            cr_assert_eq(decode(b, n, how, i, &res, &err), cases[i].st, "%s: %s", path, err.detail);
            cr_assert_eq(err.index, cases[i].index, "%s", path);
            cr_assert_eq(err.offset, cases[i].offset, "%s", path);
            if (cases[i].st == API_OK) {
                cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
                cr_assert_eq(sum, cases[i].sum, "%s: %a", path, sum);
                cr_assert_eq(res.total.count, cases[i].count);
                cr_assert_eq(res.dtype, cases[i].dtype);
                cr_assert_eq(res.ndim, cases[i].ndim);
                for (unsigned k = 0; k < res.ndim; k++)
                    cr_assert_eq(res.shape[k], cases[i].shape[k], "%s", path);
            }
            api_result_free(&res);
        }
    }
}

Test(npy_decode, empty_chunks_and_truncated_preamble)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
    struct api_body *body = NULL;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(
        api_body_new(API_FORMAT_NPY, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
        API_OK);
    cr_assert_eq(api_body_feed(body, NULL, 0), API_OK);
    cr_assert_eq(api_body_feed(body, "\x93NUMPY", 6), API_OK);
    cr_assert_eq(api_body_feed(body, NULL, 0), API_OK);
    cr_assert_eq(api_body_finish(body), API_INVALID_NPY);
    cr_assert_eq(api_body_error(body)->offset, 6);
    api_body_free(body);
}
