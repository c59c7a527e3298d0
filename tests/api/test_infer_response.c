/* test_infer_response.c -- the Open Inference Protocol v2 bodies: infer
 * responses (JSON and binary outputs, every output, id escaping, scale,
 * overflow), {"error": ...} bodies and the metadata. Expected bodies are
 * written out byte for byte; binary outputs as literal little-endian bytes. */
#include <criterion/criterion.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/infer_response.h"
#include "api/partial.h"

/* ---- fixtures ------------------------------------------------------------ */

/* A result with one typed tensor per input, as the infer decoder makes it. */
static void add_input(struct api_result *res, const char *name, enum l2_dtype dtype,
                      const double *v, size_t n, unsigned ndim, const uint64_t *shape)
{
    struct l2_accum acc;
    struct api_error err;

    api_error_init(&err);
    l2_accum_init(&acc);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(l2_accum_add(&acc, v[i]), L2_OK);
    cr_assert_eq(api_result_add_typed(res, name, strlen(name), dtype, &acc, ndim, shape, &err),
                 API_OK, "%s", err.detail);
}

/* w: FP32 [[1, 2], [3, 4]] and b: FP64 [1]. Totals: sum 31, loss 15.5,
 * norm sqrt(31), max_abs 4, count 5. */
static void two_inputs(struct api_result *res)
{
    static const double w[] = {1, 2, 3, 4}, b[] = {1};
    static const uint64_t ws[] = {2, 2}, bs[] = {1};

    api_result_init(res, L2_DTYPE_FLOAT64);
    res->named = true;
    res->typed = true;
    res->keep_exact = true;
    add_input(res, "w", L2_DTYPE_FLOAT32, w, 4, 2, ws);
    add_input(res, "b", L2_DTYPE_FLOAT64, b, 1, 1, bs);
}

static void want(struct api_infer_request *r, enum api_infer_output which, bool binary)
{
    cr_assert(r->n_wanted < API_INFER_OUT_COUNT_);
    r->wanted[r->n_wanted].which = which;
    r->wanted[r->n_wanted].binary = binary;
    r->n_wanted++;
}

/* Every output but the partials, in list order, all JSON or all binary. */
static void want_all(struct api_infer_request *r, bool binary)
{
    for (int o = 0; o < API_INFER_OUT_COUNT_; o++)
        if (o != API_INFER_OUT_PARTIAL && o != API_INFER_OUT_INPUT_PARTIAL)
            want(r, (enum api_infer_output)o, binary);
}

static struct api_infer_response encode_ok(const struct api_infer_request *r,
                                           const struct api_result *res)
{
    struct api_infer_response out;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_infer_response_encode(r, res, &out, &err), API_OK, "%s", err.detail);
    cr_assert_eq(err.status, API_OK);
    cr_assert_not_null(out.body);
    cr_assert_leq(out.header_len, out.len);
    cr_assert_eq(out.body[out.len], '\0', "the body is NUL-terminated past its length");
    return out;
}

static void expect_json_only(const struct api_infer_response *out, const char *expected)
{
    cr_assert_not(out->binary);
    cr_assert_eq(out->header_len, out->len);
    cr_assert_eq(out->len, strlen(expected), "%s", out->body);
    cr_assert_str_eq(out->body, expected);
}

/* ---- JSON outputs -------------------------------------------------------- */

Test(infer_response, every_output_as_json)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want_all(&r, false);
    out = encode_ok(&r, &res);
    expect_json_only(
        &out,
        "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
        "{\"name\": \"loss\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": [15.5]}, "
        "{\"name\": \"sum_squares\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": [31.0]}, "
        "{\"name\": \"norm\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": "
        "[5.5677643628300215]}, "
        "{\"name\": \"max_abs\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": [4.0]}, "
        "{\"name\": \"count\", \"datatype\": \"INT64\", \"shape\": [1], \"data\": [5]}, "
        "{\"name\": \"nan_count\", \"datatype\": \"INT64\", \"shape\": [1], \"data\": [0]}, "
        "{\"name\": \"inf_count\", \"datatype\": \"INT64\", \"shape\": [1], \"data\": [0]}, "
        "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": [15.0, "
        "0.5]}, "
        "{\"name\": \"input_sum_squares\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": "
        "[30.0, 1.0]}, "
        "{\"name\": \"input_norm\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": "
        "[5.477225575051661, 1.0]}]}");
    free(out.body);
    api_result_free(&res);
}

/* Outputs come in the order the request asked, not the list's. */
Test(infer_response, outputs_in_request_order)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want(&r, API_INFER_OUT_INPUT_NORM, false);
    want(&r, API_INFER_OUT_COUNT, false);
    out = encode_ok(&r, &res);
    expect_json_only(&out, "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
                           "{\"name\": \"input_norm\", \"datatype\": \"FP64\", \"shape\": [2], "
                           "\"data\": [5.477225575051661, 1.0]}, "
                           "{\"name\": \"count\", \"datatype\": \"INT64\", \"shape\": [1], "
                           "\"data\": [5]}]}");
    free(out.body);
    api_result_free(&res);
}

/* nan_count and inf_count from the totals (nonfinite=count: the decoder
 * counts them in the accumulator, left out of the sums). */
Test(infer_response, nonfinite_counts)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    res.total.nan_count = 3;
    res.total.inf_count = 2;
    res.total.count += 5;
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want(&r, API_INFER_OUT_NAN_COUNT, false);
    want(&r, API_INFER_OUT_INF_COUNT, false);
    want(&r, API_INFER_OUT_COUNT, false);
    out = encode_ok(&r, &res);
    expect_json_only(&out, "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
                           "{\"name\": \"nan_count\", \"datatype\": \"INT64\", \"shape\": [1], "
                           "\"data\": [3]}, "
                           "{\"name\": \"inf_count\", \"datatype\": \"INT64\", \"shape\": [1], "
                           "\"data\": [2]}, "
                           "{\"name\": \"count\", \"datatype\": \"INT64\", \"shape\": [1], "
                           "\"data\": [10]}]}");
    free(out.body);
    api_result_free(&res);
}

/* No inputs: the per-input outputs are empty, shape [0]; the totals zero. */
Test(infer_response, no_inputs)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    res.typed = true;
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want(&r, API_INFER_OUT_LOSS, false);
    want(&r, API_INFER_OUT_INPUT_LOSS, false);
    out = encode_ok(&r, &res);
    expect_json_only(&out, "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
                           "{\"name\": \"loss\", \"datatype\": \"FP64\", \"shape\": [1], "
                           "\"data\": [0.0]}, "
                           "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [0], "
                           "\"data\": []}]}");
    free(out.body);
    api_result_free(&res);
}

/* ---- id -------------------------------------------------------------------- */

/* The id is echoed as a JSON string: quotes, backslashes and control
 * characters escaped, NULs kept (id_len counts), invalid UTF-8 as U+FFFD,
 * valid UTF-8 as is. */
Test(infer_response, id_escaped)
{
    static const char id[] = "a\"b\\c\n\x1f\0z\xff\xc3\xa9";
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    r.has_id = true;
    r.id_len = sizeof id - 1;
    memcpy(r.id, id, sizeof id);
    want(&r, API_INFER_OUT_COUNT, false);
    out = encode_ok(&r, &res);
    expect_json_only(&out, "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", "
                           "\"id\": \"a\\\"b\\\\c\\n\\u001F\\u0000z\xef\xbf\xbd\xc3\xa9\", "
                           "\"outputs\": [{\"name\": \"count\", \"datatype\": \"INT64\", "
                           "\"shape\": [1], \"data\": [5]}]}");
    free(out.body);
    api_result_free(&res);
}

/* An empty id was sent, so it is echoed; an absent one is not. */
Test(infer_response, empty_id_echoed)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_REGULARIZE, false, 0);
    r.has_id = true;
    r.has_scale = true;
    r.scale.value = 0.5;
    out = encode_ok(&r, &res);
    expect_json_only(&out, "{\"model_name\": \"regularize\", \"model_version\": \"1\", "
                           "\"id\": \"\", \"outputs\": []}");
    free(out.body);
    api_result_free(&res);
}

/* ---- regularize -------------------------------------------------------------- */

/* loss and input_loss are scale x l2 loss, each rounded once in float64
 * (0.01 * 15.5 = 0.155, 0.01 * 15 = 0.15, 0.01 * 0.5 = 0.005); the sums and
 * norms are not scaled. */
Test(infer_response, regularize_scale)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_REGULARIZE, false, 0);
    r.has_scale = true;
    r.scale.value = 0.01;
    want(&r, API_INFER_OUT_LOSS, false);
    want(&r, API_INFER_OUT_INPUT_LOSS, false);
    want(&r, API_INFER_OUT_SUM_SQUARES, false);
    want(&r, API_INFER_OUT_INPUT_NORM, false);
    out = encode_ok(&r, &res);
    expect_json_only(&out,
                     "{\"model_name\": \"regularize\", \"model_version\": \"1\", \"outputs\": ["
                     "{\"name\": \"loss\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": "
                     "[0.155]}, "
                     "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": "
                     "[0.15, 0.005]}, "
                     "{\"name\": \"sum_squares\", \"datatype\": \"FP64\", \"shape\": [1], "
                     "\"data\": [31.0]}, "
                     "{\"name\": \"input_norm\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": "
                     "[5.477225575051661, 1.0]}]}");
    free(out.body);
    api_result_free(&res);
}

/* Scale 0 disables the regularizer: every loss is 0.0, the rest is
 * computed as usual. */
Test(infer_response, disabled_scale)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_REGULARIZE, false, 0);
    r.has_scale = true;
    r.scale.value = 0.0;
    r.scale.disabled = true;
    want(&r, API_INFER_OUT_LOSS, false);
    want(&r, API_INFER_OUT_INPUT_LOSS, false);
    want(&r, API_INFER_OUT_SUM_SQUARES, false);
    out = encode_ok(&r, &res);
    expect_json_only(&out,
                     "{\"model_name\": \"regularize\", \"model_version\": \"1\", \"outputs\": ["
                     "{\"name\": \"loss\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": "
                     "[0.0]}, "
                     "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [2], \"data\": "
                     "[0.0, 0.0]}, "
                     "{\"name\": \"sum_squares\", \"datatype\": \"FP64\", \"shape\": [1], "
                     "\"data\": [31.0]}]}");
    free(out.body);
    api_result_free(&res);
}

/* ---- binary outputs ------------------------------------------------------------ */

/* Every output binary: parameters.binary_data_size instead of data, then
 * the values as little-endian FP64 / INT64 in output order. */
Test(infer_response, every_output_binary)
{
    static const char header[] =
        "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
        "{\"name\": \"loss\", \"datatype\": \"FP64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"sum_squares\", \"datatype\": \"FP64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"norm\", \"datatype\": \"FP64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"max_abs\", \"datatype\": \"FP64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"count\", \"datatype\": \"INT64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"nan_count\", \"datatype\": \"INT64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"inf_count\", \"datatype\": \"INT64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [2], \"parameters\": "
        "{\"binary_data_size\": 16}}, "
        "{\"name\": \"input_sum_squares\", \"datatype\": \"FP64\", \"shape\": [2], "
        "\"parameters\": {\"binary_data_size\": 16}}, "
        "{\"name\": \"input_norm\", \"datatype\": \"FP64\", \"shape\": [2], \"parameters\": "
        "{\"binary_data_size\": 16}}]}";
    static const unsigned char data[] = {
        0,    0,    0,    0,    0,    0,    0x2f, 0x40, /* loss 15.5 */
        0,    0,    0,    0,    0,    0,    0x3f, 0x40, /* sum_squares 31.0 */
        0xc3, 0xc1, 0x68, 0x05, 0x64, 0x45, 0x16, 0x40, /* norm 5.5677643628300215 */
        0,    0,    0,    0,    0,    0,    0x10, 0x40, /* max_abs 4.0 */
        5,    0,    0,    0,    0,    0,    0,    0,    /* count 5 */
        0,    0,    0,    0,    0,    0,    0,    0,    /* nan_count 0 */
        0,    0,    0,    0,    0,    0,    0,    0,    /* inf_count 0 */
        0,    0,    0,    0,    0,    0,    0x2e, 0x40, /* input_loss 15.0 */
        0,    0,    0,    0,    0,    0,    0xe0, 0x3f, /* 0.5 */
        0,    0,    0,    0,    0,    0,    0x3e, 0x40, /* input_sum_squares 30.0 */
        0,    0,    0,    0,    0,    0,    0xf0, 0x3f, /* 1.0 */
        0x8f, 0xa5, 0x36, 0xd2, 0xad, 0xe8, 0x15, 0x40, /* input_norm 5.477225575051661 */
        0,    0,    0,    0,    0,    0,    0xf0, 0x3f, /* 1.0 */
    };
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_L2_LOSS, true, 100);
    want_all(&r, true);
    out = encode_ok(&r, &res);
    cr_assert(out.binary);
    cr_assert_eq(out.header_len, sizeof header - 1, "%.*s", (int)out.header_len, out.body);
    cr_assert_eq(memcmp(out.body, header, sizeof header - 1), 0, "%.*s", (int)out.header_len,
                 out.body);
    cr_assert_eq(out.len, out.header_len + sizeof data);
    cr_assert_eq(memcmp(out.body + out.header_len, data, sizeof data), 0);
    free(out.body);
    api_result_free(&res);
}

/* Some outputs binary, some JSON: only the binary ones' bytes follow, in
 * their output order; the JSON ones keep their data. */
Test(infer_response, mixed_binary_and_json)
{
    static const char header[] =
        "{\"model_name\": \"regularize\", \"model_version\": \"1\", \"id\": \"7\", \"outputs\": ["
        "{\"name\": \"count\", \"datatype\": \"INT64\", \"shape\": [1], \"parameters\": "
        "{\"binary_data_size\": 8}}, "
        "{\"name\": \"loss\", \"datatype\": \"FP64\", \"shape\": [1], \"data\": [0.155]}, "
        "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [2], \"parameters\": "
        "{\"binary_data_size\": 16}}]}";
    static const unsigned char data[] = {
        5,    0,    0,    0,    0,    0,    0,    0,    /* count 5 */
        0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0xc3, 0x3f, /* input_loss 0.15 */
        0x7b, 0x14, 0xae, 0x47, 0xe1, 0x7a, 0x74, 0x3f, /* 0.005 */
    };
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    two_inputs(&res);
    api_infer_request_init(&r, API_INFER_REGULARIZE, false, 0);
    r.has_id = true;
    r.id_len = 1;
    memcpy(r.id, "7", 2);
    r.has_scale = true;
    r.scale.value = 0.01;
    want(&r, API_INFER_OUT_COUNT, true);
    want(&r, API_INFER_OUT_LOSS, false);
    want(&r, API_INFER_OUT_INPUT_LOSS, true);
    out = encode_ok(&r, &res);
    cr_assert(out.binary);
    cr_assert_eq(out.header_len, sizeof header - 1, "%.*s", (int)out.header_len, out.body);
    cr_assert_eq(memcmp(out.body, header, sizeof header - 1), 0, "%.*s", (int)out.header_len,
                 out.body);
    cr_assert_eq(out.len, out.header_len + sizeof data);
    cr_assert_eq(memcmp(out.body + out.header_len, data, sizeof data), 0);
    free(out.body);
    api_result_free(&res);
}

/* A binary output of no elements (per input, no inputs) still makes the
 * response binary, with no bytes after the header. */
Test(infer_response, empty_binary_output)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    res.typed = true;
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want(&r, API_INFER_OUT_INPUT_NORM, true);
    out = encode_ok(&r, &res);
    cr_assert(out.binary);
    cr_assert_eq(out.len, out.header_len);
    cr_assert_str_eq(out.body, "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", "
                               "\"outputs\": [{\"name\": \"input_norm\", \"datatype\": \"FP64\", "
                               "\"shape\": [0], \"parameters\": {\"binary_data_size\": 0}}]}");
    free(out.body);
    api_result_free(&res);
}

/* ---- overflow -------------------------------------------------------------------- */

static void expect_out_of_range(const struct api_infer_request *r, const struct api_result *res,
                                const char *detail)
{
    struct api_infer_response out;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_infer_response_encode(r, res, &out, &err), API_RESULT_OUT_OF_RANGE);
    cr_assert_eq(err.status, API_RESULT_OUT_OF_RANGE);
    cr_assert_str_eq(err.detail, detail);
    cr_assert_null(out.body);
    cr_assert_not(out.binary);
}

/* A sum past DBL_MAX is result_out_of_range with the native endpoints'
 * detail, whatever outputs were asked (binary ones included). */
Test(infer_response, sum_overflow)
{
    static const double big[] = {1e308};
    static const uint64_t one[] = {1};
    struct api_result res;
    struct api_infer_request r;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    res.typed = true;
    add_input(&res, "a", L2_DTYPE_FLOAT64, big, 1, 1, one);
    add_input(&res, "b", L2_DTYPE_FLOAT64, big, 1, 1, one);
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want(&r, API_INFER_OUT_COUNT, true);
    expect_out_of_range(&r, &res,
                        "sum_squares overflows float64 (the largest is 1.7976931348623157e+308)");
    api_result_free(&res);
}

/* scale x l2 loss past DBL_MAX: result_out_of_range, as /regularize. */
Test(infer_response, scaled_loss_overflow)
{
    static const double v[] = {1e100};
    static const uint64_t one[] = {1};
    struct api_result res;
    struct api_infer_request r;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    res.typed = true;
    add_input(&res, "a", L2_DTYPE_FLOAT64, v, 1, 1, one);
    api_infer_request_init(&r, API_INFER_REGULARIZE, false, 0);
    r.has_scale = true;
    r.scale.value = 1e300;
    want(&r, API_INFER_OUT_SUM_SQUARES, false);
    expect_out_of_range(&r, &res,
                        "scale * l2_loss overflows float64 (scale 1e+300, l2_loss 5e+199)");
    api_result_free(&res);
}

/* The largest finite results still encode: no overflow is seen where
 * there is none. */
Test(infer_response, largest_finite_sum)
{
    static const double v[] = {1.3407807929942596e154}; /* its square: 1.797...e308 */
    static const uint64_t one[] = {1};
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    res.typed = true;
    add_input(&res, "a", L2_DTYPE_FLOAT64, v, 1, 1, one);
    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want(&r, API_INFER_OUT_SUM_SQUARES, false);
    out = encode_ok(&r, &res);
    expect_json_only(&out, "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
                           "{\"name\": \"sum_squares\", \"datatype\": \"FP64\", \"shape\": [1], "
                           "\"data\": [1.7976931348623155e+308]}]}");
    free(out.body);
    api_result_free(&res);
}

/* ---- error bodies ------------------------------------------------------------------ */

static void expect_error_body(const struct api_error *err, const char *expected)
{
    size_t len = 12345;
    char *text = api_infer_error_encode(err, &len);

    cr_assert_not_null(text);
    cr_assert_eq(len, strlen(expected), "%s", text);
    cr_assert_str_eq(text, expected);
    free(text);
}

Test(infer_response, error_body_is_the_detail)
{
    struct api_error err;

    api_error_init(&err);
    api_error_set(&err, API_INVALID_SCALE, "scale cannot be an integer: %s", "1");
    api_error_at_offset(&err, 12);
    expect_error_body(&err, "{\"error\": \"scale cannot be an integer: 1\"}");
}

Test(infer_response, error_body_escapes)
{
    struct api_error err;

    api_error_init(&err);
    api_error_set(&err, API_INVALID_TENSOR, "inputs[0] \"a\\b\"\t\x01 \xff");
    expect_error_body(&err, "{\"error\": \"inputs[0] \\\"a\\\\b\\\"\\t\\u0001 \xef\xbf\xbd\"}");
}

/* No detail: the status's title; no error at all: internal_error's. */
Test(infer_response, error_body_without_detail)
{
    struct api_error err;

    api_error_init(&err);
    api_error_set(&err, API_NOT_FOUND, "%s", "");
    expect_error_body(&err, "{\"error\": \"Not Found\"}");
    expect_error_body(NULL, "{\"error\": \"Internal Server Error\"}");
}

/* The longest detail, every byte escaped to six, fits. */
Test(infer_response, error_body_longest_detail)
{
    struct api_error err;
    char detail[API_DETAIL_MAX];
    size_t len = 0;
    char *text;

    memset(detail, 0x01, sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    api_error_init(&err);
    api_error_set(&err, API_INVALID_JSON, "%s", detail);
    text = api_infer_error_encode(&err, &len);
    cr_assert_not_null(text);
    cr_assert_eq(len, strlen("{\"error\": \"\"}") + 6 * (API_DETAIL_MAX - 1));
    free(text);
}

/* ---- metadata ------------------------------------------------------------------------ */

Test(infer_response, server_metadata)
{
    size_t len = 0;
    char *text = api_infer_server_metadata("1.2.3", &len);

    cr_assert_not_null(text);
    cr_assert_str_eq(text, "{\"name\": \"l2d\", \"version\": \"1.2.3\", \"extensions\": "
                           "[\"binary_tensor_data\"]}");
    cr_assert_eq(len, strlen(text));
    free(text);
}

Test(infer_response, model_metadata)
{
    static const char *const models[] = {"l2_loss", "regularize"};

    for (int m = 0; m < API_INFER_MODEL_COUNT; m++) {
        size_t len = 0;
        char *text = api_infer_model_metadata((enum api_infer_model)m, &len);
        char expected[2048];

        cr_assert_not_null(text);
        cr_assert_eq(len, strlen(text));
        snprintf(expected, sizeof expected,
                 "{\"name\": \"%s\", \"versions\": [\"1\"], \"platform\": \"l2d\", \"inputs\": "
                 "[{\"name\": \"weights\", \"datatype\": \"FP32\", \"shape\": [-1]}], "
                 "\"outputs\": ["
                 "{\"name\": \"loss\", \"datatype\": \"FP64\", \"shape\": [1]}, "
                 "{\"name\": \"sum_squares\", \"datatype\": \"FP64\", \"shape\": [1]}, "
                 "{\"name\": \"norm\", \"datatype\": \"FP64\", \"shape\": [1]}, "
                 "{\"name\": \"max_abs\", \"datatype\": \"FP64\", \"shape\": [1]}, "
                 "{\"name\": \"count\", \"datatype\": \"INT64\", \"shape\": [1]}, "
                 "{\"name\": \"nan_count\", \"datatype\": \"INT64\", \"shape\": [1]}, "
                 "{\"name\": \"inf_count\", \"datatype\": \"INT64\", \"shape\": [1]}, "
                 "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [-1]}, "
                 "{\"name\": \"input_sum_squares\", \"datatype\": \"FP64\", \"shape\": [-1]}, "
                 "{\"name\": \"input_norm\", \"datatype\": \"FP64\", \"shape\": [-1]}, "
                 "{\"name\": \"partial\", \"datatype\": \"BYTES\", \"shape\": [1]}, "
                 "{\"name\": \"input_partial\", \"datatype\": \"BYTES\", \"shape\": [-1]}]}",
                 models[m]);
        cr_assert_str_eq(text, expected);
        free(text);
    }
}

/* Every body is valid JSON (jansson reads it back). */
Test(infer_response, bodies_parse)
{
    const char *texts[3];
    json_error_t jerr;
    struct api_error err;
    size_t len;

    api_error_init(&err);
    api_error_set(&err, API_INVALID_JSON, "bad \"json\" \x7f");
    texts[0] = api_infer_server_metadata("0.1.0", &len);
    texts[1] = api_infer_model_metadata(API_INFER_REGULARIZE, &len);
    texts[2] = api_infer_error_encode(&err, &len);
    for (size_t i = 0; i < 3; i++) {
        json_t *root;

        cr_assert_not_null(texts[i]);
        root = json_loads(texts[i], 0, &jerr);
        cr_assert_not_null(root, "%s: %s", texts[i], jerr.text);
        json_decref(root);
        free((void *)texts[i]);
    }
}

/* The partial outputs: BYTES strings in JSON; in binary, each element is a
 * 4-byte little-endian length and the text, and binary_data_size counts
 * both. The texts are the partials of the totals and of each input. */
Test(infer_response, partial_outputs)
{
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;
    char total[API_PARTIAL_TEXT_MAX + 1], w[API_PARTIAL_TEXT_MAX + 1], b[API_PARTIAL_TEXT_MAX + 1];
    size_t lt, lw, lb, pos;
    char expected[4096];

    two_inputs(&res);
    lt = api_partial_encode(&res.total, total);
    lw = api_partial_encode(res.tensors[0].exact, w);
    lb = api_partial_encode(res.tensors[1].exact, b);
    cr_assert_str_neq(w, b);

    api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
    want(&r, API_INFER_OUT_PARTIAL, false);
    want(&r, API_INFER_OUT_INPUT_PARTIAL, false);
    out = encode_ok(&r, &res);
    snprintf(expected, sizeof expected,
             "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
             "{\"name\": \"partial\", \"datatype\": \"BYTES\", \"shape\": [1], \"data\": "
             "[\"%s\"]}, {\"name\": \"input_partial\", \"datatype\": \"BYTES\", \"shape\": [2], "
             "\"data\": [\"%s\", \"%s\"]}]}",
             total, w, b);
    expect_json_only(&out, expected);
    free(out.body);

    api_infer_request_init(&r, API_INFER_L2_LOSS, true, 10);
    want(&r, API_INFER_OUT_PARTIAL, true);
    want(&r, API_INFER_OUT_INPUT_PARTIAL, true);
    out = encode_ok(&r, &res);
    cr_assert(out.binary);
    snprintf(expected, sizeof expected,
             "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
             "{\"name\": \"partial\", \"datatype\": \"BYTES\", \"shape\": [1], \"parameters\": "
             "{\"binary_data_size\": %zu}}, {\"name\": \"input_partial\", \"datatype\": "
             "\"BYTES\", \"shape\": [2], \"parameters\": {\"binary_data_size\": %zu}}]}",
             4 + lt, 8 + lw + lb);
    cr_assert_eq(out.header_len, strlen(expected));
    cr_assert_eq(memcmp(out.body, expected, out.header_len), 0, "%.*s", (int)out.header_len,
                 out.body);
    cr_assert_eq(out.len, out.header_len + 12 + lt + lw + lb);
    pos = out.header_len;
    const size_t lens[] = {lt, lw, lb};
    const char *texts[] = {total, w, b};
    for (int k = 0; k < 3; k++) {
        const unsigned char *p = (const unsigned char *)out.body + pos;
        cr_assert_eq((size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24,
                     lens[k]);
        cr_assert_eq(memcmp(p + 4, texts[k], lens[k]), 0);
        pos += 4 + lens[k];
    }
    free(out.body);
    api_result_free(&res);
}

/* ---- long answers and numbers ------------------------------------------------- */

/* An oip_buf-free string builder for the expected bodies below. */
struct expect {
    char *s;
    size_t len, cap;
};

static void ex_put(struct expect *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ex_put(struct expect *e, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    cr_assert_geq(n, 0);
    if (e->len + (size_t)n + 1 > e->cap) {
        e->cap = (e->len + (size_t)n + 1) * 2;
        e->s = realloc(e->s, e->cap);
        cr_assert_not_null(e->s);
    }
    va_start(ap, fmt);
    vsnprintf(e->s + e->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    e->len += (size_t)n;
}

/* An answer of many inputs is far longer than the encoder gathers at once
 * (its pieces reach the buffer in chunks): every byte as written out here,
 * the id escaped at its place, and the binary output's bytes after the
 * header, header_len counting the JSON header only. Input i (1..300) holds
 * the one element i, so its figures are i*i, i*i/2 and i. */
Test(infer_response, long_answer_in_chunks)
{
    enum { N = 300 };
    struct api_result res;
    struct api_infer_request r;
    struct api_infer_response out;
    struct expect e = {NULL, 0, 0};
    static const char id[] = "long\"id\\";

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    res.typed = true;
    for (int i = 1; i <= N; i++) {
        char name[16];
        double v = i;
        uint64_t shape = 1;
        snprintf(name, sizeof name, "input-%d", i);
        add_input(&res, name, L2_DTYPE_FLOAT64, &v, 1, 1, &shape);
    }
    for (int binary = 0; binary <= 1; binary++) {
        api_infer_request_init(&r, API_INFER_L2_LOSS, binary != 0, 0);
        r.has_id = true;
        r.id_len = sizeof id - 1;
        memcpy(r.id, id, sizeof id);
        want(&r, API_INFER_OUT_COUNT, false);
        want(&r, API_INFER_OUT_INPUT_LOSS, false);
        want(&r, API_INFER_OUT_INPUT_SUM_SQUARES, false);
        want(&r, API_INFER_OUT_INPUT_NORM, binary != 0);
        out = encode_ok(&r, &res);

        e.len = 0;
        ex_put(&e,
               "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"id\": "
               "\"long\\\"id\\\\\", \"outputs\": [{\"name\": \"count\", \"datatype\": "
               "\"INT64\", \"shape\": [1], \"data\": [%d]}, ",
               N);
        ex_put(&e,
               "{\"name\": \"input_loss\", \"datatype\": \"FP64\", \"shape\": [%d], "
               "\"data\": [",
               N);
        for (int i = 1; i <= N; i++)
            ex_put(&e, "%s%d.%d", i > 1 ? ", " : "", i * i / 2, i * i % 2 ? 5 : 0);
        ex_put(&e,
               "]}, {\"name\": \"input_sum_squares\", \"datatype\": \"FP64\", \"shape\": "
               "[%d], \"data\": [",
               N);
        for (int i = 1; i <= N; i++)
            ex_put(&e, "%s%d.0", i > 1 ? ", " : "", i * i);
        ex_put(&e, "]}, {\"name\": \"input_norm\", \"datatype\": \"FP64\", \"shape\": [%d], ", N);
        if (binary) {
            ex_put(&e, "\"parameters\": {\"binary_data_size\": %d}}]}", 8 * N);
        } else {
            ex_put(&e, "\"data\": [");
            for (int i = 1; i <= N; i++)
                ex_put(&e, "%s%d.0", i > 1 ? ", " : "", i);
            ex_put(&e, "]}]}");
        }
        cr_assert_gt(e.len, 4096);
        cr_assert_eq(out.binary, binary != 0);
        cr_assert_eq(out.header_len, e.len, "header of %zu bytes, expected %zu", out.header_len,
                     e.len);
        cr_assert_eq(memcmp(out.body, e.s, e.len), 0, "%.*s", (int)out.header_len, out.body);
        cr_assert_eq(out.len, e.len + (binary ? 8 * N : 0));
        for (int i = 1; binary && i <= N; i++) {
            double v;
            uint64_t bits = 0;
            for (int k = 7; k >= 0; k--)
                bits = bits << 8 | (unsigned char)out.body[e.len + 8 * (size_t)(i - 1) + (size_t)k];
            memcpy(&v, &bits, sizeof v);
            cr_assert_eq(v, (double)i, "input_norm[%d] is %g", i - 1, v);
        }
        free(out.body);
    }
    free(e.s);
    api_result_free(&res);
}

/* Counts are written in decimal, every digit, up to UINT64_MAX. */
Test(infer_response, counts_in_decimal)
{
    static const struct {
        uint64_t count;
        const char *text;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {10, "10"},
        {99, "99"},
        {1000000, "1000000"},
        {12345678901234567890u, "12345678901234567890"},
        {UINT64_MAX, "18446744073709551615"},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct api_result res;
        struct api_infer_request r;
        struct api_infer_response out;
        struct l2_accum acc;
        char expected[256];

        api_result_init(&res, L2_DTYPE_FLOAT64);
        l2_accum_init(&acc);
        acc.count = cases[c].count; /* plain data: the count alone */
        cr_assert_eq(api_result_add_typed(&res, "c", 1, L2_DTYPE_FLOAT64, &acc, 0, NULL, NULL),
                     API_OK);
        api_infer_request_init(&r, API_INFER_L2_LOSS, false, 0);
        want(&r, API_INFER_OUT_COUNT, false);
        out = encode_ok(&r, &res);
        snprintf(expected, sizeof expected,
                 "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"outputs\": ["
                 "{\"name\": \"count\", \"datatype\": \"INT64\", \"shape\": [1], \"data\": "
                 "[%s]}]}",
                 cases[c].text);
        expect_json_only(&out, expected);
        free(out.body);
        api_result_free(&res);
    }
}
