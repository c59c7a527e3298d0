/* test_response.c -- success bodies and problem+json. */
#include <criterion/criterion.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/response.h"

/* ---- success bodies --------------------------------------------------------- */

static void result_of(struct api_result *res, enum l2_dtype dtype, const double *v, size_t n)
{
    memset(res, 0, sizeof *res);
    res->dtype = dtype;
    l2_accum_init(&res->total);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(l2_accum_add(&res->total, v[i]), L2_OK);
}

/* Encodes res, which must succeed; returns the text (caller frees). */
static char *encode_text(const struct api_result *res, const struct api_scale *scale)
{
    struct api_error err;
    size_t len = 12345;
    char *text = NULL;

    api_error_init(&err);
    cr_assert_eq(api_response_encode(res, scale, &text, &len, &err), API_OK, "%s", err.detail);
    cr_assert_eq(err.status, API_OK);
    cr_assert_not_null(text);
    cr_assert_eq(len, strlen(text));
    return text;
}

/* Encodes res and parses the text back with jansson. */
static json_t *encode_ok(const struct api_result *res, const struct api_scale *scale, char **text)
{
    json_error_t jerr;
    json_t *root;

    *text = encode_text(res, scale);
    root = json_loadb(*text, strlen(*text), 0, &jerr);
    cr_assert_not_null(root, "%s: %s", *text, jerr.text);
    return root;
}

static double num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_real(v), "%s is not a real", key);
    return json_real_value(v);
}

static json_int_t integer(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static void assert_shape(json_t *obj, size_t ndim, const json_int_t *dims)
{
    json_t *shape = json_object_get(obj, "shape");
    cr_assert(json_is_array(shape));
    cr_assert_eq(json_array_size(shape), ndim);
    for (size_t i = 0; i < ndim; i++)
        cr_assert_eq(json_integer_value(json_array_get(shape, i)), dims[i]);
}

Test(response, api_md_single_tensor_example)
{
    static const double v[] = {1, 2, 3, 4};
    static const json_int_t dims[] = {2, 2};
    struct api_result res;
    char *text;
    json_t *root;

    result_of(&res, L2_DTYPE_FLOAT64, v, 4);
    res.ndim = 2;
    res.shape[0] = 2;
    res.shape[1] = 2;
    root = encode_ok(&res, NULL, &text);
    cr_assert_str_eq(text,
                     "{\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, "
                     "\"count\": 4, \"max_abs\": 4.0, \"shape\": [2, 2], \"dtype\": \"float64\"}");
    cr_assert_eq(num(root, "loss"), 15.0);
    cr_assert_eq(num(root, "sum_squares"), 30.0);
    cr_assert_eq(num(root, "norm"), sqrt(30.0));
    cr_assert_eq(integer(root, "count"), 4);
    assert_shape(root, 2, dims);
    cr_assert_str_eq(json_string_value(json_object_get(root, "dtype")), "float64");
    cr_assert_eq(json_object_size(root), 7);
    json_decref(root);
    free(text);
}

Test(response, scalar_and_empty_and_dtype)
{
    static const double v[] = {0.1};
    struct api_result res;
    char *text;
    json_t *root;

    result_of(&res, L2_DTYPE_FLOAT32, v, 1);
    root = encode_ok(&res, NULL, &text);
    cr_assert_not_null(strstr(text, "\"shape\": []"));
    cr_assert_str_eq(json_string_value(json_object_get(root, "dtype")), "float32");
    cr_assert_eq(num(root, "sum_squares"), 0.010000000000000002);
    /* exact: 0.1^2 rounded once is 0.010000000000000002, half 0.005000000000000001 */
    cr_assert_not_null(strstr(text, "\"sum_squares\": 0.010000000000000002"), "%s", text);
    cr_assert_not_null(strstr(text, "\"loss\": 0.005000000000000001"), "%s", text);
    json_decref(root);
    free(text);

    result_of(&res, L2_DTYPE_FLOAT16, NULL, 0);
    res.ndim = 1;
    res.shape[0] = 0;
    root = encode_ok(&res, NULL, &text);
    cr_assert_str_eq(text,
                     "{\"loss\": 0.0, \"sum_squares\": 0.0, \"norm\": 0.0, "
                     "\"count\": 0, \"max_abs\": 0.0, \"shape\": [0], \"dtype\": \"float16\"}");
    json_decref(root);
    free(text);
}

Test(response, loss_is_the_exact_half_rounded_once)
{
    /* 1 + 2^-52 squared exactly is 1 + 2^-51 + 2^-104; plus 1: the exact
     * sum 2 + 2^-51 + 2^-104 rounds to 2 + 2^-51, half to 1 + 2^-52 + ... */
    double v[] = {1.0 + 0x1p-52, 1.0};
    struct api_result res;
    char *text;
    json_t *root;
    double want_sum, want_half;

    result_of(&res, L2_DTYPE_FLOAT64, v, 2);
    cr_assert_eq(l2_accum_sum(&res.total, &want_sum), L2_OK);
    cr_assert_eq(l2_accum_half(&res.total, &want_half), L2_OK);
    root = encode_ok(&res, NULL, &text);
    cr_assert_eq(num(root, "sum_squares"), want_sum);
    cr_assert_eq(num(root, "loss"), want_half);
    cr_assert_eq(num(root, "norm"), sqrt(want_sum));
    json_decref(root);
    free(text);
}

Test(response, sum_overflow_is_result_out_of_range)
{
    double v[] = {DBL_MAX, DBL_MAX};
    struct api_result res;
    struct api_error err;
    char *text = (char *)1;
    size_t len = 7;

    result_of(&res, L2_DTYPE_FLOAT64, v, 2);
    api_error_init(&err);
    cr_assert_eq(api_response_encode(&res, NULL, &text, &len, &err), API_RESULT_OUT_OF_RANGE);
    cr_assert_eq(err.status, API_RESULT_OUT_OF_RANGE);
    cr_assert_null(text);
    cr_assert_eq(len, 0);

    /* just under the limit is fine: sqrt(DBL_MAX)^2 */
    v[0] = sqrt(DBL_MAX);
    result_of(&res, L2_DTYPE_FLOAT64, v, 1);
    api_error_init(&err);
    cr_assert_eq(api_response_encode(&res, NULL, &text, &len, &err), API_OK);
    free(text);
}

Test(response, regularize_scale_multiplies_once)
{
    static const double v[] = {1, 2, 3, 4};
    struct api_result res;
    struct api_scale scale = {0.01, false};
    char *text;
    json_t *root;

    result_of(&res, L2_DTYPE_FLOAT64, v, 4);
    res.ndim = 1;
    res.shape[0] = 4;
    root = encode_ok(&res, &scale, &text);
    cr_assert_eq(num(root, "loss"), 0.01 * 15.0);
    cr_assert_not_null(strstr(text, "\"loss\": 0.15, "), "%s", text);
    cr_assert_eq(num(root, "scale"), 0.01);
    cr_assert_not_null(strstr(text, "\"dtype\": \"float64\", \"scale\": 0.01}"), "%s", text);
    cr_assert_null(json_object_get(root, "disabled"));
    cr_assert_eq(num(root, "sum_squares"), 30.0);
    json_decref(root);
    free(text);

    /* 0.03 * 15 is 0.44999999999999996 in float64, and so is the answer */
    scale.value = 0.03;
    root = encode_ok(&res, &scale, &text);
    cr_assert_not_null(strstr(text, "\"loss\": 0.44999999999999996, "), "%s", text);
    cr_assert_not_null(strstr(text, "\"scale\": 0.03}"), "%s", text);
    json_decref(root);
    free(text);
}

Test(response, regularize_disabled)
{
    static const double v[] = {1, 2, 3, 4};
    struct api_result res;
    struct api_scale scale = {0.0, true};
    char *text;
    json_t *root;

    result_of(&res, L2_DTYPE_FLOAT64, v, 4);
    root = encode_ok(&res, &scale, &text);
    cr_assert_str_eq(
        text,
        "{\"loss\": 0.0, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, "
        "\"count\": 4, \"max_abs\": 4.0, \"shape\": [], \"dtype\": \"float64\", \"scale\": 0.0, "
        "\"disabled\": true}");
    cr_assert(json_is_true(json_object_get(root, "disabled")));
    json_decref(root);
    free(text);
}

Test(response, regularize_product_overflow)
{
    double v[] = {1e154};
    struct api_result res;
    struct api_scale scale = {1e300, false};
    struct api_error err;
    char *text = NULL;
    size_t len;

    result_of(&res, L2_DTYPE_FLOAT64, v, 1);
    api_error_init(&err);
    cr_assert_eq(api_response_encode(&res, &scale, &text, &len, &err), API_RESULT_OUT_OF_RANGE);
    cr_assert_eq(err.status, API_RESULT_OUT_OF_RANGE);
    cr_assert_null(text);

    /* disabled: the product is never formed */
    scale.disabled = true;
    scale.value = 0.0;
    api_error_init(&err);
    cr_assert_eq(api_response_encode(&res, &scale, &text, &len, &err), API_OK);
    free(text);
}

/* A named result built by hand, tensors in the order given. */
struct named {
    struct api_result res;
    struct api_tensor t[3];
    uint64_t shapes[3][2];
};

static void add_tensor(struct named *nm, const char *name, size_t name_len, const double *v,
                       size_t n, unsigned ndim, const uint64_t *shape)
{
    struct l2_accum acc;
    struct api_tensor *t = &nm->t[nm->res.n_tensors];

    l2_accum_init(&acc);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(l2_accum_add(&acc, v[i]), L2_OK);
    t->name = (char *)name;
    t->name_len = name_len;
    if (l2_accum_sum(&acc, &t->sum_squares) != L2_OK)
        t->sum_squares = INFINITY;
    if (l2_accum_half(&acc, &t->half_sum) != L2_OK)
        t->half_sum = INFINITY;
    if (l2_accum_norm(&acc, &t->norm) != L2_OK)
        t->norm = INFINITY;
    t->max_abs = acc.max_abs;
    t->count = acc.count;
    t->ndim = ndim;
    memcpy(nm->shapes[nm->res.n_tensors], shape, ndim * sizeof *shape);
    t->shape = nm->shapes[nm->res.n_tensors];
    l2_accum_merge(&nm->res.total, &acc);
    nm->res.n_tensors++;
}

static void named_init(struct named *nm, enum l2_dtype dtype)
{
    memset(nm, 0, sizeof *nm);
    nm->res.dtype = dtype;
    nm->res.named = true;
    l2_accum_init(&nm->res.total);
    nm->res.tensors = nm->t;
    nm->res.cap_tensors = 3;
}

Test(response, api_md_named_example)
{
    static const double kernel[] = {1, 2, 3, 4}, bias[] = {1};
    static const uint64_t ks[] = {2, 2}, bs[] = {1};
    static const json_int_t kdims[] = {2, 2}, bdims[] = {1};
    struct named nm;
    char *text;
    json_t *root, *tensors, *k, *b;
    const char *key;
    json_t *val;
    int i = 0;

    named_init(&nm, L2_DTYPE_FLOAT64);
    add_tensor(&nm, "dense/kernel", 12, kernel, 4, 2, ks);
    add_tensor(&nm, "dense/bias", 10, bias, 1, 1, bs);
    root = encode_ok(&nm.res, NULL, &text);
    cr_assert_str_eq(
        text,
        "{\"loss\": 15.5, \"sum_squares\": 31.0, \"norm\": 5.5677643628300215, \"count\": 5, "
        "\"max_abs\": 4.0, "
        "\"dtype\": \"float64\", \"tensors\": {"
        "\"dense/kernel\": {\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, "
        "\"count\": 4, \"max_abs\": 4.0, \"shape\": [2, 2]}, "
        "\"dense/bias\": {\"loss\": 0.5, \"sum_squares\": 1.0, \"norm\": 1.0, \"count\": 1, "
        "\"max_abs\": 1.0, "
        "\"shape\": [1]}}}");
    cr_assert_eq(num(root, "loss"), 15.5);
    cr_assert_eq(num(root, "norm"), 5.5677643628300215);
    cr_assert_eq(integer(root, "count"), 5);
    cr_assert_null(json_object_get(root, "shape"));
    tensors = json_object_get(root, "tensors");
    cr_assert_eq(json_object_size(tensors), 2);
    json_object_foreach(tensors, key, val)
    {
        cr_assert_str_eq(key, i == 0 ? "dense/kernel" : "dense/bias");
        i++;
    }
    k = json_object_get(tensors, "dense/kernel");
    b = json_object_get(tensors, "dense/bias");
    cr_assert_eq(num(k, "loss"), 15.0);
    cr_assert_eq(num(k, "norm"), 5.477225575051661);
    assert_shape(k, 2, kdims);
    cr_assert_eq(num(b, "loss"), 0.5);
    cr_assert_eq(integer(b, "count"), 1);
    assert_shape(b, 1, bdims);
    json_decref(root);
    free(text);
}

Test(response, named_regularize_each_tensor_scaled)
{
    static const double a[] = {3}, c[] = {1, 1};
    static const uint64_t as[] = {1}, cs[] = {2};
    struct named nm;
    struct api_scale scale = {0.1, false};
    char *text;
    json_t *root, *tensors;

    named_init(&nm, L2_DTYPE_BFLOAT16);
    add_tensor(&nm, "a", 1, a, 1, 1, as);
    add_tensor(&nm, "c", 1, c, 2, 1, cs);
    root = encode_ok(&nm.res, &scale, &text);
    cr_assert_eq(num(root, "loss"), 0.1 * 5.5);
    tensors = json_object_get(root, "tensors");
    cr_assert_eq(num(json_object_get(tensors, "a"), "loss"), 0.1 * 4.5);
    cr_assert_eq(num(json_object_get(tensors, "c"), "loss"), 0.1 * 1.0);
    cr_assert_eq(num(root, "scale"), 0.1);
    cr_assert_str_eq(json_string_value(json_object_get(root, "dtype")), "bfloat16");
    cr_assert_not_null(strstr(text, "\"scale\": 0.1, \"tensors\": {"), "%s", text);
    json_decref(root);
    free(text);

    scale.value = 0.0;
    scale.disabled = true;
    root = encode_ok(&nm.res, &scale, &text);
    tensors = json_object_get(root, "tensors");
    cr_assert_eq(num(root, "loss"), 0.0);
    cr_assert_eq(num(json_object_get(tensors, "a"), "loss"), 0.0);
    cr_assert_eq(num(json_object_get(tensors, "a"), "sum_squares"), 9.0);
    cr_assert(json_is_true(json_object_get(root, "disabled")));
    cr_assert_not_null(strstr(text, "\"scale\": 0.0, \"disabled\": true, \"tensors\""), "%s", text);
    json_decref(root);
    free(text);
}

Test(response, named_empty)
{
    struct named nm;
    char *text;
    json_t *root;

    named_init(&nm, L2_DTYPE_FLOAT64);
    root = encode_ok(&nm.res, NULL, &text);
    cr_assert_str_eq(
        text,
        "{\"loss\": 0.0, \"sum_squares\": 0.0, \"norm\": 0.0, \"count\": 0, \"max_abs\": 0.0, "
        "\"dtype\": \"float64\", \"tensors\": {}}");
    json_decref(root);
    free(text);
}

Test(response, names_are_escaped)
{
    static const double v[] = {1};
    static const uint64_t s[] = {1};
    static const char nul_name[] = "a\0b";
    static const char ctl_name[] = "q\"\\/\n\x01\x1f\x7f\xc3\xa9\xf0\x9f\x98\x80";
    struct named nm;
    char *text;
    json_t *root, *tensors;

    /* jansson cannot load a key holding U+0000: check that one as text */
    named_init(&nm, L2_DTYPE_FLOAT64);
    add_tensor(&nm, nul_name, 3, v, 1, 1, s);
    text = encode_text(&nm.res, NULL);
    cr_assert_not_null(strstr(text, "\"tensors\": {\"a\\u0000b\": {\"loss\""), "%s", text);
    free(text);

    named_init(&nm, L2_DTYPE_FLOAT64);
    add_tensor(&nm, "x", 1, v, 1, 1, s);
    add_tensor(&nm, ctl_name, sizeof ctl_name - 1, v, 1, 1, s);
    root = encode_ok(&nm.res, NULL, &text);
    cr_assert_not_null(
        strstr(text, "\"q\\\"\\\\/\\n\\u0001\\u001F\x7f\xc3\xa9\xf0\x9f\x98\x80\": {"), "%s", text);
    tensors = json_object_get(root, "tensors");
    cr_assert_eq(json_object_size(tensors), 2);
    {
        const char *key;
        json_t *val;
        int i = 0;
        json_object_foreach(tensors, key, val)
        {
            if (i == 1)
                cr_assert_str_eq(key, ctl_name);
            i++;
        }
    }
    json_decref(root);
    free(text);
}

Test(response, counts_and_shapes_are_uint64)
{
    struct api_result res;
    char *text;

    /* past INT64_MAX, which jansson cannot load: checked as text */
    result_of(&res, L2_DTYPE_FLOAT64, NULL, 0);
    res.ndim = 2;
    res.shape[0] = UINT64_C(18446744073709551615);
    res.shape[1] = 0;
    text = encode_text(&res, NULL);
    cr_assert_not_null(
        strstr(text, "\"count\": 0, \"max_abs\": 0.0, \"shape\": [18446744073709551615, 0]"), "%s",
        text);
    free(text);
}

/* ---- problem+json ---------------------------------------------------------- */

static json_t *problem(const struct api_error *err, char **text)
{
    size_t len = 0;
    json_error_t jerr;
    json_t *root;

    *text = api_problem_encode(err, &len);
    cr_assert_not_null(*text);
    cr_assert_eq(len, strlen(*text));
    root = json_loadb(*text, len, JSON_ALLOW_NUL, &jerr); /* refuses invalid UTF-8 */
    cr_assert_not_null(root, "%s: %s", *text, jerr.text);
    return root;
}

Test(problem, api_md_example)
{
    struct api_error err;
    char *text;
    json_t *root;

    api_error_init(&err);
    api_error_set(&err, API_INVALID_SCALE, "scale cannot be an integer: %d", 1);
    root = problem(&err, &text);
    cr_assert_str_eq(text,
                     "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
                     "\"detail\": \"scale cannot be an integer: 1\", \"code\": "
                     "\"invalid_scale\"}");
    cr_assert_eq(json_object_size(root), 5);
    json_decref(root);
    free(text);
}

/* A tensor name may hold U+0000, so a pointer may too: it must survive. */
Test(problem, pointer_with_nul)
{
    struct api_error err;
    char *text;
    json_t *root;

    api_error_init(&err);
    api_error_set(&err, API_INVALID_TENSOR, "not a number");
    api_error_at_pointer(&err, "/tensors/a\0b/0", 14);
    root = problem(&err, &text);
    cr_assert_eq(json_string_length(json_object_get(root, "pointer")), 14);
    cr_assert_eq(memcmp(json_string_value(json_object_get(root, "pointer")), "/tensors/a\0b/0", 14),
                 0);
    cr_assert_not_null(strstr(text, "\"pointer\": \"/tensors/a\\u0000b/0\""), "%s", text);
    json_decref(root);
    free(text);
}

Test(problem, optional_fields)
{
    struct api_error err;
    char *text;
    json_t *root;

    api_error_init(&err);
    api_error_set(&err, API_INVALID_TENSOR, "not a number");
    api_error_at_pointer(&err, "/tensors/dense~1bias/3", 22);
    root = problem(&err, &text);
    cr_assert_str_eq(json_string_value(json_object_get(root, "pointer")), "/tensors/dense~1bias/3");
    cr_assert_null(json_object_get(root, "index"));
    cr_assert_null(json_object_get(root, "offset"));
    cr_assert_str_eq(json_string_value(json_object_get(root, "code")), "invalid_tensor");
    json_decref(root);
    free(text);

    /* the root pointer "" is still a pointer */
    api_error_init(&err);
    api_error_set(&err, API_INVALID_TENSOR, "x");
    api_error_at_pointer(&err, "", 0);
    root = problem(&err, &text);
    cr_assert_str_eq(json_string_value(json_object_get(root, "pointer")), "");
    json_decref(root);
    free(text);

    api_error_init(&err);
    api_error_set(&err, API_NON_FINITE, "NaN");
    api_error_at_index(&err, 0);
    root = problem(&err, &text);
    cr_assert_eq(json_integer_value(json_object_get(root, "index")), 0);
    cr_assert_null(json_object_get(root, "pointer"));
    cr_assert_null(json_object_get(root, "offset"));
    json_decref(root);
    free(text);

    api_error_init(&err);
    api_error_set(&err, API_INVALID_JSON, "truncated");
    api_error_at_offset(&err, INT64_C(5000000000));
    root = problem(&err, &text);
    cr_assert_eq(json_integer_value(json_object_get(root, "offset")), INT64_C(5000000000));
    cr_assert_not_null(strstr(text, "\"code\": \"invalid_json\", \"offset\": 5000000000}"), "%s",
                       text);
    json_decref(root);
    free(text);
}

Test(problem, statuses_and_titles)
{
    struct api_error err;
    char *text;
    json_t *root;

    api_error_init(&err);
    api_error_set(&err, API_PAYLOAD_TOO_LARGE, "too big");
    root = problem(&err, &text);
    cr_assert_eq(json_integer_value(json_object_get(root, "status")), 413);
    cr_assert_str_eq(json_string_value(json_object_get(root, "title")), "Content Too Large");
    cr_assert_str_eq(json_string_value(json_object_get(root, "code")), "payload_too_large");
    json_decref(root);
    free(text);

    api_error_init(&err);
    api_error_set(&err, API_DRAINING, "shutting down");
    root = problem(&err, &text);
    cr_assert_eq(json_integer_value(json_object_get(root, "status")), 503);
    json_decref(root);
    free(text);
}

Test(problem, invalid_utf8_in_detail_is_replaced)
{
    struct api_error err;
    char *text;
    json_t *root;

    api_error_init(&err);
    /* a lone continuation byte, a truncated sequence, an overlong '/', a
     * surrogate, a code point past U+10FFFF, then valid é and a control */
    api_error_set(&err, API_INVALID_DTYPE,
                  "x\x80y\xc3z\xc0\xafw\xed\xa0\x80v\xf4\x90\x80\x80u"
                  "\xc3\xa9\x01\"");
    root = problem(&err, &text);
    cr_assert_str_eq(json_string_value(json_object_get(root, "detail")),
                     "x\xef\xbf\xbdy\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbdw"
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdv"
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdu\xc3\xa9\x01\"");
    json_decref(root);
    free(text);
}

Test(problem, truncated_detail_stays_valid)
{
    struct api_error err;
    char long_detail[API_DETAIL_MAX * 2];
    char *text;
    json_t *root;

    /* é repeated past the limit: vsnprintf may cut one in half */
    for (size_t i = 0; i + 1 < sizeof long_detail; i += 2)
        memcpy(long_detail + i, "\xc3\xa9", 2);
    long_detail[sizeof long_detail - 1] = '\0';
    api_error_init(&err);
    api_error_set(&err, API_INVALID_PARAMETER, "%sz", long_detail + 1);
    root = problem(&err, &text);
    cr_assert_not_null(json_object_get(root, "detail"));
    json_decref(root);
    free(text);
}

Test(problem, null_error_is_internal)
{
    char *text;
    json_t *root = problem(NULL, &text);

    cr_assert_eq(json_integer_value(json_object_get(root, "status")), 500);
    cr_assert_str_eq(json_string_value(json_object_get(root, "code")), "internal_error");
    json_decref(root);
    free(text);
}

/* ---- jansson is not needed --------------------------------------------------- */

/* jansson's allocator fails every call. */
static void *failing_malloc(size_t n)
{
    (void)n;
    return NULL;
}

/* Both bodies are written without a single jansson value, so they come out
 * whole while jansson could not allocate anything. (Running out of memory
 * or past the limit in the buffer itself is test_text.c's.) */
Test(response, bodies_need_no_jansson_allocation)
{
    static const double kernel[] = {1, 2, 3, 4}, bias[] = {1};
    static const uint64_t ks[] = {2, 2}, bs[] = {1};
    struct named nm;
    struct api_error err;
    enum api_status st;
    char *text = NULL, *problem_text;
    size_t len = 0, problem_len = 0;

    named_init(&nm, L2_DTYPE_FLOAT64);
    add_tensor(&nm, "dense/kernel", 12, kernel, 4, 2, ks);
    add_tensor(&nm, "dense/bias", 10, bias, 1, 1, bs);
    api_error_init(&err);
    json_set_alloc_funcs(failing_malloc, free);
    st = api_response_encode(&nm.res, NULL, &text, &len, &err);
    api_error_set(&err, API_INVALID_TENSOR, "bad \xff");
    api_error_at_pointer(&err, "/tensors/a", 10);
    api_error_at_index(&err, 1);
    api_error_at_offset(&err, 2);
    problem_text = api_problem_encode(&err, &problem_len);
    json_set_alloc_funcs(malloc, free);

    cr_assert_eq(st, API_OK);
    cr_assert_not_null(text);
    cr_assert_eq(len, strlen(text));
    cr_assert_not_null(problem_text);
    cr_assert_str_eq(problem_text,
                     "{\"type\": \"about:blank\", \"title\": \"Bad Request\", \"status\": 400, "
                     "\"detail\": \"bad \xef\xbf\xbd\", \"code\": \"invalid_tensor\", "
                     "\"pointer\": \"/tensors/a\", \"index\": 1, \"offset\": 2}");
    cr_assert_eq(problem_len, strlen(problem_text));
    free(text);
    free(problem_text);
}

/* The same named example through result.c's own api_result_add_tensor. */
Test(response, named_via_api_result)
{
    static const double kernel[] = {1, 2, 3, 4}, bias[] = {1};
    static const uint64_t ks[] = {2, 2}, bs[] = {1};
    struct api_result res;
    struct api_error err;
    struct l2_accum acc;
    char *text;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    api_error_init(&err);
    l2_accum_init(&acc);
    for (size_t i = 0; i < 4; i++)
        l2_accum_add(&acc, kernel[i]);
    cr_assert_eq(api_result_add_tensor(&res, "dense/kernel", 12, &acc, 2, ks, &err), API_OK);
    l2_accum_init(&acc);
    l2_accum_add(&acc, bias[0]);
    cr_assert_eq(api_result_add_tensor(&res, "dense/bias", 10, &acc, 1, bs, &err), API_OK);
    text = encode_text(&res, NULL);
    cr_assert_str_eq(
        text,
        "{\"loss\": 15.5, \"sum_squares\": 31.0, \"norm\": 5.5677643628300215, \"count\": 5, "
        "\"max_abs\": 4.0, "
        "\"dtype\": \"float64\", \"tensors\": {"
        "\"dense/kernel\": {\"loss\": 15.0, \"sum_squares\": 30.0, \"norm\": 5.477225575051661, "
        "\"count\": 4, \"max_abs\": 4.0, \"shape\": [2, 2]}, "
        "\"dense/bias\": {\"loss\": 0.5, \"sum_squares\": 1.0, \"norm\": 1.0, \"count\": 1, "
        "\"max_abs\": 1.0, "
        "\"shape\": [1]}}}");
    free(text);
    api_result_free(&res);
}

/* A tensor's loss is its exact half-sum rounded once, not its rounded sum
 * halved: with squares 2^-1074 + 2^-1076 the sum rounds to 2^-1074, whose
 * half is a tie that rounds to 0, while the exact half is 0.625 ulp: 2^-1074. */
Test(response, tensor_loss_is_the_exact_half_in_the_subnormal_range)
{
    static const uint64_t shape[] = {2};
    struct api_result res;
    struct api_error err;
    struct l2_accum acc;
    char *text;
    json_t *root, *t;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    res.named = true;
    api_error_init(&err);
    l2_accum_init(&acc);
    cr_assert_eq(l2_accum_add(&acc, ldexp(1, -537)), L2_OK);
    cr_assert_eq(l2_accum_add(&acc, ldexp(1, -538)), L2_OK);
    cr_assert_eq(api_result_add_tensor(&res, "w", 1, &acc, 1, shape, &err), API_OK);
    root = encode_ok(&res, NULL, &text);
    t = json_object_get(json_object_get(root, "tensors"), "w");
    cr_assert_eq(num(t, "sum_squares"), ldexp(1, -1074));
    cr_assert_eq(num(t, "loss"), ldexp(1, -1074), "%s", text);
    cr_assert_eq(num(root, "loss"), ldexp(1, -1074), "%s", text);
    json_decref(root);
    free(text);
    api_result_free(&res);
}

/* The figures helpers: a tensor whose own sum overflowed is refused. */
Test(response, tensor_figures)
{
    struct api_tensor t;
    struct api_figures f;
    struct api_error err;
    struct api_scale scale = {0.5, false};

    memset(&t, 0, sizeof t);
    t.sum_squares = 8.0;
    t.half_sum = 4.0;
    t.norm = 2.8284271247461903;
    t.max_abs = 2.0;
    t.count = 2;
    api_error_init(&err);
    cr_assert_eq(api_figures_tensor(&t, &scale, &f, &err), API_OK);
    cr_assert_eq(f.loss, 2.0);
    cr_assert_eq(f.sum_squares, 8.0);
    cr_assert_eq(f.norm, 2.8284271247461903);
    cr_assert_eq(f.count, 2);
    cr_assert_eq(api_figures_tensor(&t, NULL, &f, &err), API_OK);
    cr_assert_eq(f.loss, 4.0);
    t.sum_squares = INFINITY;
    t.half_sum = INFINITY;
    cr_assert_eq(api_figures_tensor(&t, NULL, &f, &err), API_RESULT_OUT_OF_RANGE);
    cr_assert_str_eq(err.detail, "sum_squares of a tensor overflows float64");
    api_error_init(&err);
    t.sum_squares = DBL_MAX;
    t.half_sum = DBL_MAX / 2;
    scale.value = 4.0;
    cr_assert_eq(api_figures_tensor(&t, &scale, &f, &err), API_RESULT_OUT_OF_RANGE);
    cr_assert_str_eq(err.detail, "scale * l2_loss of a tensor overflows float64");
}
