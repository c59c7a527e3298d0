/* test_query.c -- query-string validation: parameters, scale, dtype. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "api/query.h"

static enum api_status parse(enum api_endpoint ep, const char *q, struct api_query *out,
                             struct api_error *err)
{
    api_error_init(err);
    return api_query_parse(ep, q, q != NULL ? strlen(q) : 0, out, err);
}

/* Expects q on ep to fail with st, and the detail to be exactly detail (or,
 * when detail is NULL, not checked). */
static void expect_error(enum api_endpoint ep, const char *q, enum api_status st,
                         const char *detail)
{
    struct api_query out;
    struct api_error err;
    enum api_status got = parse(ep, q, &out, &err);

    cr_assert_eq(got, st, "query '%s': status %d, expected %d (%s)", q, got, st, err.detail);
    cr_assert_eq(err.status, st, "query '%s': err.status", q);
    if (detail != NULL)
        cr_assert_str_eq(err.detail, detail, "query '%s'", q);
}

static struct api_scale expect_scale(const char *q)
{
    struct api_query out;
    struct api_error err;
    enum api_status got = parse(API_ENDPOINT_REGULARIZE, q, &out, &err);

    cr_assert_eq(got, API_OK, "query '%s': %s", q, err.detail);
    cr_assert_eq(err.status, API_OK);
    cr_assert(out.has_scale);
    return out.scale;
}

#define RG API_ENDPOINT_REGULARIZE
#define L2 API_ENDPOINT_L2_LOSS

Test(query, empty_l2_loss_defaults_to_float64)
{
    struct api_query out;
    struct api_error err;

    cr_assert_eq(parse(L2, "", &out, &err), API_OK);
    cr_assert_not(out.has_dtype);
    cr_assert_eq(out.dtype, L2_DTYPE_FLOAT64);
    cr_assert_not(out.has_scale);
    cr_assert_eq(parse(L2, NULL, &out, &err), API_OK);
    cr_assert_not(out.has_dtype);
}

Test(query, dtype_each_name)
{
    static const struct {
        const char *q;
        enum l2_dtype dt;
    } cases[] = {
        {"dtype=float16", L2_DTYPE_FLOAT16},   {"dtype=bfloat16", L2_DTYPE_BFLOAT16},
        {"dtype=float32", L2_DTYPE_FLOAT32},   {"dtype=float64", L2_DTYPE_FLOAT64},
        {"dtype=%66loat32", L2_DTYPE_FLOAT32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_query out;
        struct api_error err;
        cr_assert_eq(parse(L2, cases[i].q, &out, &err), API_OK, "%s", cases[i].q);
        cr_assert(out.has_dtype);
        cr_assert_eq(out.dtype, cases[i].dt, "%s", cases[i].q);
    }
}

Test(query, dtype_unknown)
{
    expect_error(L2, "dtype=float8", API_INVALID_DTYPE,
                 "dtype must be one of float16, bfloat16, float32, float64 (aliases: f2 f4 f8 <f2 "
                 "<f4 <f8 half "
                 "float double bf16 FP16 BF16 FP32 FP64), not 'float8'");
    expect_error(L2, "dtype=float32%20", API_INVALID_DTYPE, NULL);
    expect_error(L2, "dtype=", API_INVALID_DTYPE,
                 "dtype must be one of float16, bfloat16, float32, float64 (aliases: f2 f4 f8 <f2 "
                 "<f4 <f8 half "
                 "float double bf16 FP16 BF16 FP32 FP64), not ''");
    expect_error(L2, "dtype", API_INVALID_DTYPE, NULL);
    expect_error(RG, "scale=0.5&dtype=f%00", API_INVALID_DTYPE,
                 "dtype must be one of float16, bfloat16, float32, float64 (aliases: f2 f4 f8 <f2 "
                 "<f4 <f8 half "
                 "float double bf16 FP16 BF16 FP32 FP64), not 'f\\x00'");
}

Test(query, dtype_echo_is_truncated)
{
    char q[400] = "dtype=";
    struct api_query out;
    struct api_error err;

    memset(q + 6, 'x', 300);
    q[306] = '\0';
    cr_assert_eq(parse(L2, q, &out, &err), API_INVALID_DTYPE);
    cr_assert_lt(strlen(err.detail), 250);
    cr_assert_not_null(strstr(err.detail, "xxx..."));
}

Test(query, unknown_parameter)
{
    expect_error(L2, "foo=1", API_INVALID_PARAMETER,
                 "unknown query parameter 'foo' (accepted: dtype, nonfinite, partial, track)");
    expect_error(RG, "scale=0.1&foo=1", API_INVALID_PARAMETER,
                 "unknown query parameter 'foo' (accepted: scale, dtype, "
                 "nonfinite, partial, track)");
    expect_error(L2, "DTYPE=float32", API_INVALID_PARAMETER, NULL);
    expect_error(L2, "=float32", API_INVALID_PARAMETER,
                 "unknown query parameter '' (accepted: dtype, nonfinite, partial, track)");
    /* a name is echoed printable and short */
    expect_error(
        L2, "a%0Ab%FF=1", API_INVALID_PARAMETER,
        "unknown query parameter 'a\\x0ab\\xff' (accepted: dtype, nonfinite, partial, track)");
}

Test(query, unknown_parameter_long_name_truncated)
{
    char q[1100];
    struct api_query out;
    struct api_error err;

    memset(q, 'n', 1000);
    memcpy(q + 1000, "=1", 3);
    cr_assert_eq(parse(L2, q, &out, &err), API_INVALID_PARAMETER);
    cr_assert_lt(strlen(err.detail), 200);
    cr_assert_not_null(strstr(err.detail, "nnn...'"));
}

Test(query, repeated_parameter)
{
    expect_error(L2, "dtype=float32&dtype=float32", API_INVALID_PARAMETER,
                 "query parameter 'dtype' is repeated");
    expect_error(RG, "scale=0.1&scale=0.2", API_INVALID_PARAMETER,
                 "query parameter 'scale' is repeated");
    /* the same name spelled with an escape is still the same name */
    expect_error(L2, "dtype=float32&%64type=float64", API_INVALID_PARAMETER, NULL);
}

Test(query, scale_on_l2_loss)
{
    expect_error(L2, "scale=0.1", API_INVALID_PARAMETER,
                 "query parameter 'scale' is only accepted by /regularize "
                 "and /merge");
}

Test(query, bad_percent_encoding)
{
    expect_error(L2, "dtype=float%3", API_INVALID_PARAMETER, NULL);
    expect_error(L2, "dtype=%zzfloat32", API_INVALID_PARAMETER, NULL);
    expect_error(L2, "%", API_INVALID_PARAMETER, NULL);
    expect_error(RG, "scale=0.1&x%4=1", API_INVALID_PARAMETER,
                 "bad percent-encoding in query parameter 'x%4=1'");
}

Test(query, parameter_errors_come_before_value_errors)
{
    /* bad scale and bad dtype, but an unknown parameter later on wins */
    expect_error(RG, "scale=1&dtype=x&foo", API_INVALID_PARAMETER, NULL);
    /* a bad escape in a value counts as a parameter error too */
    expect_error(RG, "scale=1&dtype=%G1", API_INVALID_PARAMETER, NULL);
    /* scale errors come before dtype errors */
    expect_error(RG, "dtype=float8&scale=1", API_INVALID_SCALE, "scale cannot be an integer: 1");
}

Test(query, empty_segments_are_skipped)
{
    struct api_query out;
    struct api_error err;

    cr_assert_eq(parse(RG, "&&scale=0.5&&dtype=float32&", &out, &err), API_OK, "%s", err.detail);
    cr_assert(out.has_dtype);
    cr_assert_eq(out.dtype, L2_DTYPE_FLOAT32);
    cr_assert_eq(out.scale.value, 0.5);
    cr_assert_eq(parse(L2, "&", &out, &err), API_OK);
    cr_assert_not(out.has_dtype);
}

Test(query, scale_required)
{
    expect_error(RG, "", API_INVALID_SCALE,
                 "scale is required: /regularize?scale=0.01, for example");
    expect_error(RG, "dtype=float32", API_INVALID_SCALE, NULL);
    expect_error(RG, NULL, API_INVALID_SCALE, NULL);
}

Test(query, scale_integer_tensorflow_message)
{
    expect_error(RG, "scale=1", API_INVALID_SCALE, "scale cannot be an integer: 1");
    expect_error(RG, "scale=-0", API_INVALID_SCALE, "scale cannot be an integer: -0");
    expect_error(RG, "scale=%2B5", API_INVALID_SCALE, "scale cannot be an integer: +5");
    expect_error(RG, "scale=007", API_INVALID_SCALE, "scale cannot be an integer: 007");
    /* integer check before sign check */
    expect_error(RG, "scale=-3", API_INVALID_SCALE, "scale cannot be an integer: -3");
    /* echoed after percent-decoding */
    expect_error(RG, "scale=%31%32", API_INVALID_SCALE, "scale cannot be an integer: 12");
}

Test(query, scale_negative_tensorflow_message)
{
    expect_error(RG, "scale=-0.1", API_INVALID_SCALE,
                 "Setting a scale less than 0 on a regularizer: -0.1.");
    expect_error(RG, "scale=-1e-7", API_INVALID_SCALE,
                 "Setting a scale less than 0 on a regularizer: -1e-07.");
    expect_error(RG, "scale=-2.5E3", API_INVALID_SCALE,
                 "Setting a scale less than 0 on a regularizer: -2500.");
    expect_error(RG, "scale=-1e-310", API_INVALID_SCALE,
                 "Setting a scale less than 0 on a regularizer: -1e-310.");
}

Test(query, scale_values)
{
    struct api_scale s;

    s = expect_scale("scale=0.01");
    cr_assert_eq(s.value, 0.01);
    cr_assert_not(s.disabled);
    s = expect_scale("scale=%2E5");
    cr_assert_eq(s.value, 0.5);
    s = expect_scale("scale=.5");
    cr_assert_eq(s.value, 0.5);
    s = expect_scale("scale=%2B2.5");
    cr_assert_eq(s.value, 2.5);
    s = expect_scale("scale=1e5");
    cr_assert_eq(s.value, 1e5);
    s = expect_scale("scale=1E-3");
    cr_assert_eq(s.value, 1e-3);
    s = expect_scale("scale=2.5e%2B2");
    cr_assert_eq(s.value, 250.0);
    s = expect_scale("scale=1.7976931348623157e308");
    cr_assert_eq(s.value, 1.7976931348623157e308);
    /* a subnormal scale is a scale, not an underflow error */
    s = expect_scale("scale=1e-310");
    cr_assert_eq(s.value, 1e-310);
    cr_assert_not(s.disabled);
}

Test(query, scale_zero_disables)
{
    static const char *const zeros[] = {"scale=0.0", "scale=-0.0",      "scale=.0",
                                        "scale=0e0", "scale=-0.000e-5", "scale=%2B0.0"};
    for (size_t i = 0; i < sizeof zeros / sizeof zeros[0]; i++) {
        struct api_scale s = expect_scale(zeros[i]);
        cr_assert(s.disabled, "%s", zeros[i]);
        cr_assert_eq(s.value, 0.0, "%s", zeros[i]);
        cr_assert_not(signbit(s.value), "%s", zeros[i]);
    }
}

/* Decision: a nonzero literal that underflows to zero in float64 is what
 * Python's float() makes of it (0.0), so TensorFlow would disable the
 * regularizer; l2d does the same. */
Test(query, scale_underflow_disables)
{
    struct api_scale s = expect_scale("scale=1e-400");
    cr_assert(s.disabled);
    cr_assert_eq(s.value, 0.0);
    s = expect_scale("scale=-1e-400");
    cr_assert(s.disabled);
    cr_assert_eq(s.value, 0.0);
}

Test(query, scale_overflow_refused)
{
    expect_error(RG, "scale=1e999", API_INVALID_SCALE,
                 "scale is out of range (not a finite float64): '1e999'");
    expect_error(RG, "scale=-1e999", API_INVALID_SCALE,
                 "scale is out of range (not a finite float64): '-1e999'");
    expect_error(RG, "scale=1.8e308", API_INVALID_SCALE, NULL);
}

Test(query, scale_malformed)
{
    static const char *const bad[] = {
        "scale=1.",           "scale=.",      "scale=",       "scale",          "scale=inf",
        "scale=nan",          "scale=-inf",   "scale=0x1p-3", "scale=0x1.0",    "scale=1e",
        "scale=1e+",          "scale=e5",     "scale=+",      "scale=-",        "scale=1.5.2",
        "scale=1,5",          "scale=%201.0", "scale=1.0%20", "scale=+1.0+",    "scale=1.0e5x",
        "scale=1..0",         "scale=--1.0",  "scale=1.0%00", "scale=Infinity", "scale=1_000.0",
        "scale=%E2%80%8B1.0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error(RG, bad[i], API_INVALID_SCALE, NULL);
}

Test(query, plus_is_a_space)
{
    /* "+0.5" sent unescaped decodes to " 0.5", which is not a decimal */
    expect_error(RG, "scale=+0.5", API_INVALID_SCALE,
                 "scale must be a finite decimal number such as 0.01: ' 0.5'");
    expect_error(L2, "dtype=float32+", API_INVALID_DTYPE,
                 "dtype must be one of float16, bfloat16, float32, float64 (aliases: f2 f4 f8 <f2 "
                 "<f4 <f8 half "
                 "float double bf16 FP16 BF16 FP32 FP64), not 'float32 '");
}

Test(query, scale_malformed_echo_is_safe)
{
    expect_error(RG, "scale=%FF%0A", API_INVALID_SCALE,
                 "scale must be a finite decimal number such as 0.01: '\\xff\\x0a'");
    expect_error(RG, "scale=a%5Cb", API_INVALID_SCALE,
                 "scale must be a finite decimal number such as 0.01: 'a\\x5cb'");
    expect_error(RG, "scale=", API_INVALID_SCALE,
                 "scale must be a finite decimal number such as 0.01, not empty");
}

Test(query, scale_too_long)
{
    char q[2100] = "scale=0.";
    struct api_query out;
    struct api_error err;

    memset(q + 8, '1', 2000);
    q[2008] = '\0';
    cr_assert_eq(parse(RG, q, &out, &err), API_INVALID_SCALE);
    cr_assert_str_eq(err.detail, "scale is too long: at most 1024 characters are accepted");

    /* just under the limit is accepted */
    q[6 + 1024] = '\0';
    cr_assert_eq(parse(RG, q, &out, &err), API_OK, "%s", err.detail);
    cr_assert_eq(out.scale.value, 0.1111111111111111);
}

Test(query, first_error_wins)
{
    struct api_query out;
    struct api_error err;

    api_error_init(&err);
    api_error_set(&err, API_INVALID_JSON, "earlier");
    cr_assert_eq(api_query_parse(L2, "foo=1", 5, &out, &err), API_INVALID_PARAMETER);
    cr_assert_eq(err.status, API_INVALID_JSON);
    cr_assert_str_eq(err.detail, "earlier");
    /* a NULL err still returns the status */
    cr_assert_eq(api_query_parse(RG, "scale=1", 7, &out, NULL), API_INVALID_SCALE);
}

Test(query, length_is_respected)
{
    struct api_query out;
    struct api_error err;
    const char *q = "scale=0.25&foo=1";

    api_error_init(&err);
    /* only the first 10 bytes are the query */
    cr_assert_eq(api_query_parse(RG, q, 10, &out, &err), API_OK, "%s", err.detail);
    cr_assert_eq(out.scale.value, 0.25);
}

Test(query, dtype_aliases)
{
    static const struct {
        const char *q;
        enum l2_dtype dt;
    } cases[] = {
        {"dtype=Float32", L2_DTYPE_FLOAT32}, {"dtype=f4", L2_DTYPE_FLOAT32},
        {"dtype=%3Cf8", L2_DTYPE_FLOAT64},   {"dtype=<f2", L2_DTYPE_FLOAT16},
        {"dtype=half", L2_DTYPE_FLOAT16},    {"dtype=double", L2_DTYPE_FLOAT64},
        {"dtype=bf16", L2_DTYPE_BFLOAT16},   {"dtype=FP32", L2_DTYPE_FLOAT32},
        {"dtype=BF16", L2_DTYPE_BFLOAT16},   {"dtype=fp64", L2_DTYPE_FLOAT64},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_query out;
        struct api_error err;
        cr_assert_eq(parse(L2, cases[i].q, &out, &err), API_OK, "%s: %s", cases[i].q, err.detail);
        cr_assert(out.has_dtype);
        cr_assert_eq(out.dtype, cases[i].dt, "%s", cases[i].q);
    }
}

Test(query, nonfinite)
{
    struct api_query out;
    struct api_error err;

    cr_assert_eq(parse(L2, "", &out, &err), API_OK);
    cr_assert_not(out.count_nonfinite);
    cr_assert_eq(parse(L2, "nonfinite=count", &out, &err), API_OK);
    cr_assert(out.count_nonfinite);
    cr_assert_eq(parse(RG, "scale=0.5&nonfinite=COUNT&dtype=f4", &out, &err), API_OK);
    cr_assert(out.count_nonfinite);
    cr_assert_eq(out.dtype, L2_DTYPE_FLOAT32);
    cr_assert_eq(parse(L2, "nonfinite=reject", &out, &err), API_OK);
    cr_assert_not(out.count_nonfinite);
    expect_error(L2, "nonfinite=ignore", API_INVALID_PARAMETER,
                 "nonfinite must be reject (NaN and infinities are an error, the default) or "
                 "count, not 'ignore'");
    expect_error(L2, "nonfinite=count&nonfinite=count", API_INVALID_PARAMETER,
                 "query parameter 'nonfinite' is repeated");
    /* checked after scale and dtype */
    expect_error(RG, "nonfinite=x&scale=1", API_INVALID_SCALE, NULL);
    expect_error(L2, "nonfinite=x&dtype=f3", API_INVALID_DTYPE, NULL);
}

#define MG API_ENDPOINT_MERGE

/* partial=true|false on every endpoint, case-insensitive; anything else,
 * or twice, is invalid_parameter. */
Test(query, partial)
{
    struct api_query out;
    struct api_error err;

    cr_assert_eq(parse(L2, "", &out, &err), API_OK);
    cr_assert_not(out.partial);
    cr_assert_eq(parse(L2, "partial=true", &out, &err), API_OK);
    cr_assert(out.partial);
    cr_assert_eq(parse(RG, "scale=0.5&partial=TRUE", &out, &err), API_OK);
    cr_assert(out.partial);
    cr_assert_eq(parse(MG, "partial=false", &out, &err), API_OK);
    cr_assert_not(out.partial);
    cr_assert_eq(parse(MG, "partial=True", &out, &err), API_OK);
    cr_assert(out.partial);
    expect_error(L2, "partial=1", API_INVALID_PARAMETER,
                 "partial must be true (answers carry exact partials for /merge) or false "
                 "(the default), not '1'");
    expect_error(L2, "partial=", API_INVALID_PARAMETER, NULL);
    expect_error(MG, "partial=true&partial=true", API_INVALID_PARAMETER,
                 "query parameter 'partial' is repeated");
}

/* /merge takes scale (optional, validated as /regularize's) and partial,
 * nothing else. */
Test(query, merge)
{
    struct api_query out;
    struct api_error err;

    cr_assert_eq(parse(MG, NULL, &out, &err), API_OK);
    cr_assert_not(out.has_scale);
    cr_assert_eq(parse(MG, "scale=0.25", &out, &err), API_OK);
    cr_assert(out.has_scale);
    cr_assert_eq(out.scale.value, 0.25);
    cr_assert_eq(parse(MG, "scale=0.0", &out, &err), API_OK);
    cr_assert(out.scale.disabled);
    expect_error(MG, "scale=1", API_INVALID_SCALE, "scale cannot be an integer: 1");
    expect_error(MG, "scale=-0.5", API_INVALID_SCALE,
                 "Setting a scale less than 0 on a regularizer: -0.5.");
    expect_error(MG, "scale=inf", API_INVALID_SCALE, NULL);
    expect_error(MG, "scale=1e999", API_INVALID_SCALE, NULL);
    expect_error(
        MG, "dtype=float32", API_INVALID_PARAMETER,
        "query parameter 'dtype' is not accepted by /merge (accepted: scale, partial, track)");
    expect_error(MG, "nonfinite=count", API_INVALID_PARAMETER, NULL);
    expect_error(MG, "foo=1", API_INVALID_PARAMETER,
                 "unknown query parameter 'foo' (accepted: scale, partial, track)");
}

/* track=MODEL on every endpoint: 1 to 128 bytes of [A-Za-z0-9_.:/-] after
 * percent-decoding, else invalid_parameter echoing the name. */
Test(query, track)
{
    struct api_query out;
    struct api_error err;
    char q[300];

    cr_assert_eq(parse(L2, "track=resnet-50%2Fv1:a_b.c", &out, &err), API_OK);
    cr_assert_str_eq(out.track, "resnet-50/v1:a_b.c");
    cr_assert_eq(out.track_len, 18);
    cr_assert_eq(parse(RG, "scale=0.5&track=m", &out, &err), API_OK);
    cr_assert_str_eq(out.track, "m");
    cr_assert_eq(parse(MG, "track=m&partial=true", &out, &err), API_OK);
    cr_assert_str_eq(out.track, "m");
    cr_assert(out.partial);
    cr_assert_eq(parse(L2, "dtype=float32", &out, &err), API_OK);
    cr_assert_eq(out.track_len, 0);
    cr_assert_str_eq(out.track, "");

    strcpy(q, "track=");
    memset(q + 6, 'x', 128);
    q[6 + 128] = '\0';
    cr_assert_eq(parse(L2, q, &out, &err), API_OK);
    cr_assert_eq(out.track_len, 128);
    strcat(q, "x");
    expect_error(L2, q, API_INVALID_PARAMETER, NULL);
    expect_error(L2, "track=", API_INVALID_PARAMETER,
                 "track must be a model name of 1 to 128 bytes of A-Z a-z 0-9 _ . : / -, not ''");
    expect_error(
        L2, "track=a+b", API_INVALID_PARAMETER,
        "track must be a model name of 1 to 128 bytes of A-Z a-z 0-9 _ . : / -, not 'a b'");
    expect_error(L2, "track=caf%C3%A9", API_INVALID_PARAMETER, NULL);
    expect_error(L2, "track=a&track=b", API_INVALID_PARAMETER,
                 "query parameter 'track' is repeated");
}
