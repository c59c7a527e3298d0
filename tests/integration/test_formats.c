/* test_formats.c -- every body format (JSON tensor, named JSON tensors, raw,
 * .npy versions 1-3) in every dtype, answered with exact numbers. The raw and
 * .npy bytes are built here from known bit patterns. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(formats, .init = start_default, .fini = it_teardown, .timeout = 60);

static const char *const DTYPES[] = {"float16", "bfloat16", "float32", "float64"};

/* 1, 2, 3, 4 in each dtype, little-endian. */
static const uint16_t F16_1234[] = {0x3C00, 0x4000, 0x4200, 0x4400};
static const uint16_t BF16_1234[] = {0x3F80, 0x4000, 0x4040, 0x4080};
static const float F32_1234[] = {1.0f, 2.0f, 3.0f, 4.0f};
static const double F64_1234[] = {1.0, 2.0, 3.0, 4.0};

static const void *bytes_1234(size_t dtype_index, size_t *len)
{
    switch (dtype_index) {
    case 0:
        *len = sizeof F16_1234;
        return F16_1234;
    case 1:
        *len = sizeof BF16_1234;
        return BF16_1234;
    case 2:
        *len = sizeof F32_1234;
        return F32_1234;
    default:
        *len = sizeof F64_1234;
        return F64_1234;
    }
}

/* POSTs body and asserts a 200 with loss 15, sum_squares 30, count 4 in dtype. */
static void expect_1234(const char *target, const char *ct, const void *body, size_t len,
                        const char *dtype, const long long *dims, size_t ndims)
{
    struct it_response r;
    it_post(srv.port, target, ct, body, len, &r);
    cr_assert_eq(r.status, 200, "%s %s: %ld %s", target, ct, r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 15.0, 30.0, 4);
    it_expect_real(j, "norm", 5.477225575051661);
    it_expect_shape(j, dims, ndims);
    it_expect_str(j, "dtype", dtype);
    json_decref(j);
    it_response_free(&r);
}

/* POSTs a one-element body and asserts the element became x exactly. */
static void expect_element(const char *target, const char *ct, const void *body, size_t len,
                           double x)
{
    struct it_response r;
    it_post(srv.port, target, ct, body, len, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", target, r.status, r.body);
    json_t *j = it_json(&r);
    double sq = x * x; /* exact: every narrow element squares exactly in float64 */
    it_expect_real(j, "sum_squares", sq);
    it_expect_real(j, "loss", sq / 2);
    it_expect_int(j, "count", 1);
    json_decref(j);
    it_response_free(&r);
}

Test(formats, json_tensor_every_dtype)
{
    const char *body = "[[1, 2], [3, 4]]";
    const long long dims[] = {2, 2};
    for (size_t i = 0; i < 4; i++) {
        char target[64];
        snprintf(target, sizeof target, "/l2_loss?dtype=%s", DTYPES[i]);
        expect_1234(target, "application/json", body, strlen(body), DTYPES[i], dims, 2);
    }
}

Test(formats, json_named_tensors_every_dtype)
{
    const char *body = "{\"tensors\": {\"a\": [[1, 2], [3, 4]], \"b\": [1]}}";
    for (size_t i = 0; i < 4; i++) {
        char target[64];
        snprintf(target, sizeof target, "/l2_loss?dtype=%s", DTYPES[i]);
        struct it_response r;
        it_post(srv.port, target, "application/json", body, strlen(body), &r);
        cr_assert_eq(r.status, 200, "%s: %ld %s", target, r.status, r.body);
        json_t *j = it_json(&r);
        it_expect_result(j, 15.5, 31.0, 5);
        it_expect_str(j, "dtype", DTYPES[i]);
        it_expect_result(json_object_get(json_object_get(j, "tensors"), "a"), 15.0, 30.0, 4);
        it_expect_result(json_object_get(json_object_get(j, "tensors"), "b"), 0.5, 1.0, 1);
        json_decref(j);
        it_response_free(&r);
    }
}

Test(formats, json_decimal_rounds_into_dtype)
{
    expect_element("/l2_loss?dtype=float16", "application/json", "[0.1]", 5, 0.0999755859375);
    expect_element("/l2_loss?dtype=bfloat16", "application/json", "[0.1]", 5, 0.10009765625);
    expect_element("/l2_loss?dtype=float32", "application/json", "[0.1]", 5, (double)0.1f);
    expect_element("/l2_loss?dtype=float64", "application/json", "[0.1]", 5, 0.1);
    expect_element("/l2_loss", "application/json", "[0.1]", 5, 0.1);
    /* Rounded to float64 first (exactly 1 + 2^-11, a float16 tie), then to
     * even: 1.0, where rounding the decimal directly would give 1 + 2^-10. */
    const char *tie = "[1.00048828125000000001]";
    expect_element("/l2_loss?dtype=float16", "application/json", tie, strlen(tie), 1.0);
}

Test(formats, json_float16_text)
{
    struct it_response r;
    it_post(srv.port, "/l2_loss?dtype=float16", "application/json", "[0.1]", 5, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    /* 0.0999755859375^2 = 0.00999511778354644775390625 exactly. */
    it_expect_number_text(&r, "sum_squares", "0.009995117783546448");
    it_response_free(&r);
}

Test(formats, raw_every_dtype)
{
    for (size_t i = 0; i < 4; i++) {
        char target[64];
        size_t len;
        const void *body = bytes_1234(i, &len);
        snprintf(target, sizeof target, "/l2_loss?dtype=%s", DTYPES[i]);
        const long long dims[] = {4};
        expect_1234(target, "application/octet-stream", body, len, DTYPES[i], dims, 1);
    }
}

Test(formats, raw_narrow_values_exact)
{
    const uint16_t h = 0x2E66; /* float16 0.0999755859375 */
    expect_element("/l2_loss?dtype=float16", "application/octet-stream", &h, 2, 0.0999755859375);
    const uint16_t b = 0x3DCD; /* bfloat16 0.10009765625 */
    expect_element("/l2_loss?dtype=bfloat16", "application/octet-stream", &b, 2, 0.10009765625);
    const uint16_t sub = 0x0001; /* smallest float16 subnormal, 2^-24 */
    expect_element("/l2_loss?dtype=float16", "application/octet-stream", &sub, 2, ldexp(1, -24));
    const float f = 0.1f;
    expect_element("/l2_loss?dtype=float32", "application/octet-stream", &f, 4, (double)0.1f);
}

Test(formats, raw_float64_rounded_once)
{
    /* 0.1^2 needs 106 bits; the answer is it rounded once. */
    const double d = 0.1;
    struct it_response r;
    it_post(srv.port, "/l2_loss?dtype=float64", "application/octet-stream", &d, 8, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "sum_squares", 0.1 * 0.1);
    it_expect_real(j, "loss", 0.1 * 0.1 / 2);
    it_expect_number_text(&r, "sum_squares", "0.010000000000000002");
    json_decref(j);
    it_response_free(&r);
}

Test(formats, raw_empty_body)
{
    struct it_response r;
    it_post(srv.port, "/l2_loss?dtype=float32", "application/octet-stream", "", 0, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 0.0, 0.0, 0);
    const long long dims[] = {0};
    it_expect_shape(j, dims, 1);
    json_decref(j);
    it_response_free(&r);
}

static void swap_bytes(unsigned char *p, size_t n, size_t width)
{
    for (size_t i = 0; i + width <= n; i += width) {
        for (size_t a = 0, b = width - 1; a < b; a++, b--) {
            unsigned char t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
    }
}

static void expect_npy(int version, const char *descr, size_t dtype_index, bool big_endian,
                       const char *shape, const long long *dims, size_t ndims)
{
    size_t len;
    unsigned char data[32];
    const void *src = bytes_1234(dtype_index, &len);
    memcpy(data, src, len);
    if (big_endian)
        swap_bytes(data, len, dtype_index < 2 ? 2 : dtype_index == 2 ? 4 : 8);
    size_t npy_len;
    unsigned char *npy = it_npy(version, descr, shape, data, len, &npy_len);
    expect_1234("/l2_loss", "application/x-npy", npy, npy_len, DTYPES[dtype_index], dims, ndims);
    free(npy);
}

Test(formats, npy_v1_every_dtype_and_byte_order)
{
    const long long d22[] = {2, 2}, d4[] = {4}, d122[] = {1, 2, 2};
    expect_npy(1, "<f2", 0, false, "(2, 2)", d22, 2);
    expect_npy(1, "<f4", 2, false, "(4,)", d4, 1);
    expect_npy(1, "<f8", 3, false, "(1, 2, 2)", d122, 3);
    expect_npy(1, ">f2", 0, true, "(2, 2)", d22, 2);
    expect_npy(1, ">f4", 2, true, "(2, 2)", d22, 2);
    expect_npy(1, ">f8", 3, true, "(4,)", d4, 1);
    expect_npy(1, "=f4", 2, false, "(4,)", d4, 1);
}

Test(formats, npy_v2_and_v3)
{
    const long long d22[] = {2, 2};
    expect_npy(2, "<f8", 3, false, "(2, 2)", d22, 2);
    expect_npy(3, "<f4", 2, false, "(2, 2)", d22, 2);
}

Test(formats, npy_scalar_and_empty)
{
    const double x = 3.0;
    size_t len;
    unsigned char *npy = it_npy(1, "<f8", "()", &x, sizeof x, &len);
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/x-npy", npy, len, &r);
    free(npy);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 4.5, 9.0, 1);
    it_expect_shape(j, NULL, 0);
    json_decref(j);
    it_response_free(&r);

    npy = it_npy(1, "<f4", "(0,)", NULL, 0, &len);
    it_post(srv.port, "/l2_loss", "application/x-npy", npy, len, &r);
    free(npy);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_result(j, 0.0, 0.0, 0);
    const long long d0[] = {0};
    it_expect_shape(j, d0, 1);
    it_expect_str(j, "dtype", "float32");
    json_decref(j);
    it_response_free(&r);
}

Test(formats, npy_on_regularize)
{
    size_t len;
    unsigned char *npy = it_npy(1, "<f8", "(2, 2)", F64_1234, sizeof F64_1234, &len);
    struct it_response r;
    it_post(srv.port, "/regularize?scale=0.01", "application/x-npy", npy, len, &r);
    free(npy);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 0.15);
    it_expect_real(j, "sum_squares", 30.0);
    json_decref(j);
    it_response_free(&r);
}

Test(formats, raw_on_regularize)
{
    struct it_response r;
    it_post(srv.port, "/regularize?scale=0.5&dtype=float32", "application/octet-stream", F32_1234,
            sizeof F32_1234, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 7.5);
    it_expect_real(j, "sum_squares", 30.0);
    it_expect_str(j, "dtype", "float32");
    json_decref(j);
    it_response_free(&r);
}

Test(formats, query_values_are_percent_decoded)
{
    const long long dims[] = {4};
    size_t len;
    const void *body = bytes_1234(2, &len);
    expect_1234("/l2_loss?dtype=float%33%32", "application/octet-stream", body, len, "float32",
                dims, 1);
    expect_1234("/l2_loss?%64type=float32", "application/octet-stream", body, len, "float32", dims,
                1);
}

/* 2^26, 2^26, 1, 1, 1: the exact sum 2^53 + 3 is a tie between 2^53 + 2 and
 * 2^53 + 4 and goes to even, 2^53 + 4; a running float64 sum gives 2^53. */
Test(formats, exact_sum_ties_to_even)
{
    const char *body = "[67108864, 67108864, 1, 1, 1]";
    struct it_response r;
    it_post(srv.port, "/l2_loss", "application/json", body, strlen(body), &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "sum_squares", 9007199254740996.0);
    it_expect_real(j, "loss", 4503599627370498.0);
    json_decref(j);
    it_response_free(&r);
}

/* 1 followed by 2^20 copies of 2^-30: exactly 1 + 2^-40, which a running
 * float64 sum (1 + 2^-60 == 1) would never see. 8 MiB of raw float64. */
Test(formats, exact_sum_over_a_million_elements)
{
    size_t n = (1u << 20) + 1;
    double *d = malloc(n * sizeof *d);
    cr_assert(d != NULL);
    d[0] = 1.0;
    for (size_t i = 1; i < n; i++)
        d[i] = ldexp(1, -30);
    struct it_response r;
    it_post(srv.port, "/l2_loss?dtype=float64", "application/octet-stream", d, n * sizeof *d, &r);
    free(d);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    double ss = 1.0 + ldexp(1, -40);
    it_expect_result(j, ss / 2, ss, (long long)n);
    json_decref(j);
    it_response_free(&r);
}

Test(formats, subnormal_results)
{
    /* (2^-537)^2 = 2^-1074, the smallest subnormal; three of them. */
    const double d[] = {ldexp(1, -537), ldexp(1, -537), ldexp(1, -537)};
    struct it_response r;
    it_post(srv.port, "/l2_loss?dtype=float64", "application/octet-stream", d, sizeof d, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "sum_squares", 3 * ldexp(1, -1074));
    it_expect_real(j, "loss", ldexp(1, -1073)); /* 1.5 * 2^-1074, a tie, to even */
    it_expect_real(j, "norm", sqrt(3 * ldexp(1, -1074)));
    json_decref(j);
    it_response_free(&r);

    /* Squares far below the smallest subnormal round to 0 (count still 1),
     * but the norm is the root of the exact sum 2^-2148: 2^-1074. */
    const double tiny = ldexp(1, -1074);
    it_post(srv.port, "/l2_loss?dtype=float64", "application/octet-stream", &tiny, 8, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_real(j, "loss", 0.0);
    it_expect_real(j, "sum_squares", 0.0);
    it_expect_real(j, "norm", tiny);
    it_expect_real(j, "max_abs", tiny);
    it_expect_int(j, "count", 1);
    json_decref(j);
    it_response_free(&r);
}

/* norm is the correctly rounded root of the exact sum, not the root of the
 * rounded sum_squares (which is one ulp off here: 3.3264653518912937). */
Test(formats, norm_is_the_root_of_the_exact_sum)
{
    static const char body[] = "[1.6798169442364372, 2.2470791048068595, 1.7872387271793961]";
    struct it_response r;

    it_post(srv.port, "/l2_loss", "application/json", body, sizeof body - 1, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    it_expect_number_text(&r, "norm", "3.326465351891293");
    it_expect_number_text(&r, "max_abs", "2.2470791048068595");
    it_response_free(&r);
}

Test(formats, float16_rounding_at_the_top)
{
    /* 65519 rounds down to 65504, the largest float16; 65520 would be inf. */
    expect_element("/l2_loss?dtype=float16", "application/json", "[65519]", 7, 65504.0);
    expect_element("/l2_loss?dtype=float16", "application/json", "[-65519.99]", 11, -65504.0);
    /* bfloat16 keeps 8 significant bits: 257 -> 256 (tie to even), 259 -> 260. */
    expect_element("/l2_loss?dtype=bfloat16", "application/json", "[257]", 5, 256.0);
    expect_element("/l2_loss?dtype=bfloat16", "application/json", "[259]", 5, 260.0);
}
