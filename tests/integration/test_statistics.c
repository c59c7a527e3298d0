/* test_statistics.c -- the dashboard figures against the real binary:
 * max_abs in every result object, ?nonfinite=count (NaN and infinities
 * counted, left out of the sums) in raw, .npy and JSON bodies (safetensors
 * and .npz in their unit tests), and dtype aliases. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(statistics, .init = start_default, .fini = it_teardown, .timeout = 60);

Test(statistics, max_abs_everywhere)
{
    static const char body[] = "{\"tensors\": {\"a\": [[1, -7.5], [3, 4]], \"b\": [-0.25]}}";
    struct it_response r;

    it_post(srv.port, "/l2_loss", "application/json", body, sizeof body - 1, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "max_abs", 7.5);
    json_t *t = json_object_get(j, "tensors");
    it_expect_real(json_object_get(t, "a"), "max_abs", 7.5);
    it_expect_real(json_object_get(t, "b"), "max_abs", 0.25);
    cr_assert_null(json_object_get(j, "nan_count"), "no counts without nonfinite=count");
    json_decref(j);
    it_response_free(&r);

    it_post(srv.port, "/l2_loss", "application/json", "[]", 2, &r);
    j = it_json(&r);
    it_expect_real(j, "max_abs", 0.0);
    json_decref(j);
    it_response_free(&r);
}

/* float32 1, NaN, -3, +inf, -inf: sum 10, max 3, 1 NaN, 2 infinities. */
static const uint32_t F32_MIXED[] = {0x3f800000u, 0x7fc00000u, 0xc0400000u, 0x7f800000u,
                                     0xff800000u};

static void expect_counted(const json_t *j, double sum, long long count, long long nan,
                           long long inf, double max_abs)
{
    it_expect_real(j, "sum_squares", sum);
    it_expect_real(j, "loss", sum / 2);
    it_expect_real(j, "norm", sqrt(sum));
    it_expect_int(j, "count", count);
    it_expect_int(j, "nan_count", nan);
    it_expect_int(j, "inf_count", inf);
    it_expect_real(j, "max_abs", max_abs);
}

Test(statistics, nonfinite_count_raw_and_npy)
{
    struct it_response r;

    it_post(srv.port, "/l2_loss?dtype=float32&nonfinite=count", "application/octet-stream",
            F32_MIXED, sizeof F32_MIXED, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    expect_counted(j, 10.0, 5, 1, 2, 3.0);
    json_decref(j);
    it_response_free(&r);

    /* the default is still reject */
    it_post(srv.port, "/l2_loss?dtype=float32", "application/octet-stream", F32_MIXED,
            sizeof F32_MIXED, &r);
    j = it_expect_problem(&r, 400, "non_finite");
    it_expect_int(j, "index", 1);
    json_decref(j);
    it_response_free(&r);

    /* .npy, big-endian float32 */
    unsigned char npy[128 + sizeof F32_MIXED];
    static const char dict[] = "{'descr': '>f4', 'fortran_order': False, 'shape': (5,), }";
    memcpy(npy, "\x93NUMPY\x01\x00\x76\x00", 10);
    memcpy(npy + 10, dict, sizeof dict - 1);
    memset(npy + 10 + sizeof dict - 1, ' ', 128 - 10 - (sizeof dict - 1) - 1);
    npy[127] = '\n';
    for (size_t i = 0; i < 5; i++)
        for (size_t k = 0; k < 4; k++)
            npy[128 + 4 * i + k] = (unsigned char)(F32_MIXED[i] >> (24 - 8 * k));
    it_post(srv.port, "/regularize?scale=0.5&nonfinite=count", "application/x-npy", npy, sizeof npy,
            &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_real(j, "loss", 2.5);
    it_expect_int(j, "nan_count", 1);
    it_expect_int(j, "inf_count", 2);
    json_decref(j);
    it_response_free(&r);
}

Test(statistics, nonfinite_count_json_tokens)
{
    static const char body[] = "{\"tensors\": {\"w\": [1, NaN, -Infinity], \"b\": [Infinity, 2]}}";
    struct it_response r;

    it_post(srv.port, "/l2_loss?nonfinite=count", "application/json", body, sizeof body - 1, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    expect_counted(j, 5.0, 5, 1, 2, 2.0);
    json_t *t = json_object_get(j, "tensors");
    expect_counted(json_object_get(t, "w"), 1.0, 3, 1, 1, 1.0);
    expect_counted(json_object_get(t, "b"), 4.0, 2, 0, 1, 2.0);
    json_decref(j);
    it_response_free(&r);

    /* without it, the token is named and the way out is said */
    it_post(srv.port, "/l2_loss", "application/json", "[1, NaN]", 8, &r);
    j = it_expect_problem(&r, 400, "invalid_json");
    it_expect_int(j, "offset", 4);
    cr_assert_not_null(strstr(json_string_value(json_object_get(j, "detail")), "allow_nan=False"));
    json_decref(j);
    it_response_free(&r);

    /* a number too large for the dtype is still an error */
    it_post(srv.port, "/l2_loss?dtype=float32&nonfinite=count", "application/json", "[1e39]", 6,
            &r);
    json_decref(it_expect_problem(&r, 400, "number_out_of_range"));
    it_response_free(&r);

    it_post(srv.port, "/l2_loss?nonfinite=maybe", "application/json", "[1]", 3, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_parameter"));
    it_response_free(&r);
}

Test(statistics, dtype_aliases_answer_canonical_names)
{
    static const struct {
        const char *alias, *name;
    } cases[] = {{"f4", "float32"},   {"FP32", "float32"},  {"%3Cf8", "float64"},
                 {"half", "float16"}, {"bf16", "bfloat16"}, {"Float64", "float64"}};

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char target[64];
        struct it_response r;

        snprintf(target, sizeof target, "/l2_loss?dtype=%s", cases[i].alias);
        it_post(srv.port, target, "application/json", "[1.5, 2]", 8, &r);
        cr_assert_eq(r.status, 200, "%s: %ld %s", cases[i].alias, r.status, r.body);
        json_t *j = it_json(&r);
        it_expect_str(j, "dtype", cases[i].name);
        it_expect_real(j, "sum_squares", 6.25);
        json_decref(j);
        it_response_free(&r);
    }
}

/* A checkpoint's elements are counted in l2d_elements_total under each
 * tensor's own dtype. Counters are bumped when a request completes, so the
 * scrape is polled briefly. */
Test(statistics, checkpoint_elements_by_dtype_in_metrics)
{
    static const char header[] = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                                 "\"f\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]}}";
    unsigned char body[8 + sizeof header - 1 + 16];
    uint64_t n = sizeof header - 1;
    const uint16_t h[2] = {0x3c00, 0x4000}; /* 1, 2 */
    const float f[3] = {3.0f, 4.0f, 12.0f};
    struct it_response r;

    for (int i = 0; i < 8; i++)
        body[i] = (unsigned char)(n >> (8 * i));
    memcpy(body + 8, header, n);
    memcpy(body + 8 + n, h, 4);
    memcpy(body + 12 + n, f, 12);
    it_post(srv.port, "/l2_loss", "application/x-safetensors", body, sizeof body, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "sum_squares", 174.0);
    cr_assert_null(json_object_get(j, "dtype"), "two dtypes: no top-level dtype");
    it_expect_str(json_object_get(json_object_get(j, "tensors"), "h"), "dtype", "float16");
    json_decref(j);
    it_response_free(&r);

    bool seen = false;
    for (int tries = 0; tries < 50 && !seen; tries++) {
        it_get(srv.port, "/metrics", &r);
        seen = strstr(r.body, "l2d_elements_total{dtype=\"float16\",format=\"safetensors\"} 2\n") &&
               strstr(r.body, "l2d_elements_total{dtype=\"float32\",format=\"safetensors\"} 3\n");
        it_response_free(&r);
        if (!seen)
            usleep(20000);
    }
    cr_assert(seen, "l2d_elements_total does not count the checkpoint by dtype");
}
