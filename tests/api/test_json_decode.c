/* test_json_decode.c -- the streaming JSON decoder: every body shape, every
 * error with its code and pointer or offset, every dtype, names with escapes,
 * sums checked against the MPFR oracle, and the property that any chunking of
 * any body in this file (100 split sets each, all-1-byte chunks among them)
 * gives the same result bit for bit, or the same error at the same place. */
#include <criterion/criterion.h>
#include <jansson.h>

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_decode.h"
#include "tests/support/oracle.h"
#include "tests/support/bits.h"
#include "tests/support/rng.h"

static uint64_t rng_state = 0x853c49e6748fea9bu;
static uint64_t rnd(void)
{
    return rng_xorshift64s(&rng_state);
}

/* ---- decoding with chosen chunk boundaries ------------------------------ */

struct outcome {
    enum api_status st;
    struct api_error err;
    struct api_result res;
};

/* A decoder of dt elements into res, as api/body.c makes one: res starts
 * as float64 and create sets the dtype from the query. */
static void *json_new(struct api_result *res, enum l2_dtype dt, bool count_nonfinite)
{
    const struct api_decode_opts opts = {
        .dtype = dt, .has_dtype = true, .count_nonfinite = count_nonfinite};
    struct api_error err;
    void *dec = NULL;

    api_result_init(res, L2_DTYPE_FLOAT64);
    api_error_init(&err);
    cr_assert_eq(api_json_ops.create(res, &opts, &dec, &err), API_OK);
    cr_assert_not_null(dec);
    cr_assert_eq(res->dtype, dt);
    return dec;
}

/* Feeds s (n bytes) at body offset off. */
static enum api_status json_feed(void *dec, const char *s, size_t n, uint64_t off,
                                 struct api_error *err)
{
    return api_json_ops.feed(dec, (const unsigned char *)s, n, off, err);
}

/* Decodes body[0..len) fed as the pieces between the ascending cut points
 * (zero-length pieces allowed), counting NaN/Infinity tokens when
 * count_nonfinite. Every feed after an error must repeat it. */
static void decode_mode(const char *body, size_t len, enum l2_dtype dt, bool count_nonfinite,
                        const size_t *cuts, size_t ncuts, struct outcome *o)
{
    size_t at = 0;
    void *dec = json_new(&o->res, dt, count_nonfinite);

    api_error_init(&o->err);
    o->st = API_OK;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        enum api_status st = json_feed(dec, body + at, to - at, at, &o->err);
        if (o->st != API_OK)
            cr_assert_eq(st, o->st, "a feed after an error returned another status");
        o->st = st;
        at = to;
    }
    enum api_status st = api_json_ops.finish(dec, len, &o->err);
    if (o->st != API_OK)
        cr_assert_eq(st, o->st, "finish after an error returned another status");
    o->st = st;
    cr_assert_eq(o->err.status, o->st);
    api_json_ops.destroy(dec);
}

static void decode_cuts(const char *body, size_t len, enum l2_dtype dt, const size_t *cuts,
                        size_t ncuts, struct outcome *o)
{
    decode_mode(body, len, dt, false, cuts, ncuts, o);
}

static void decode(const char *body, size_t len, enum l2_dtype dt, struct outcome *o)
{
    decode_cuts(body, len, dt, NULL, 0, o);
}

static void outcome_free(struct outcome *o)
{
    api_result_free(&o->res);
}

static double sum_of(const struct l2_accum *acc)
{
    double s;
    l2_accum_sum(acc, &s);
    return s;
}

/* Two outcomes of one body are identical, bit for bit. */
static void assert_same(const struct outcome *a, const struct outcome *b, const char *body,
                        const char *how)
{
    cr_assert_eq(a->st, b->st, "%.60s (%s): status %s vs %s", body, how, api_status_code(a->st),
                 api_status_code(b->st));
    if (a->st != API_OK) {
        cr_assert_eq(a->err.offset, b->err.offset, "%.60s (%s): offset", body, how);
        cr_assert_eq(a->err.has_pointer, b->err.has_pointer, "%.60s (%s)", body, how);
        cr_assert_str_eq(a->err.pointer, b->err.pointer, "%.60s (%s): pointer", body, how);
        cr_assert_str_eq(a->err.detail, b->err.detail, "%.60s (%s): detail", body, how);
        return;
    }
    const struct api_result *x = &a->res, *y = &b->res;
    cr_assert_eq(memcmp(&x->total, &y->total, sizeof x->total), 0, "%.60s (%s): total", body, how);
    cr_assert_eq(bits_of(sum_of(&x->total)), bits_of(sum_of(&y->total)));
    cr_assert_eq(x->named, y->named);
    cr_assert_eq(x->ndim, y->ndim, "%.60s (%s): ndim", body, how);
    cr_assert_eq(memcmp(x->shape, y->shape, x->ndim * sizeof x->shape[0]), 0);
    cr_assert_eq(x->n_tensors, y->n_tensors);
    for (size_t i = 0; i < x->n_tensors; i++) {
        const struct api_tensor *s = &x->tensors[i], *t = &y->tensors[i];
        cr_assert_eq(s->name_len, t->name_len);
        cr_assert_eq(memcmp(s->name, t->name, s->name_len), 0);
        cr_assert_eq(bits_of(s->sum_squares), bits_of(t->sum_squares));
        cr_assert_eq(s->count, t->count);
        cr_assert_eq(s->ndim, t->ndim);
        if (s->ndim > 0)
            cr_assert_eq(memcmp(s->shape, t->shape, s->ndim * sizeof s->shape[0]), 0);
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The chunking property: 100 split sets, the first all 1-byte chunks, the
 * second 2-byte chunks, then random cuts (duplicates give empty feeds). */
static void check_chunking(const char *body, size_t len, enum l2_dtype dt, int rounds)
{
    struct outcome ref, o;
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    char how[64];

    cr_assert_not_null(cuts);
    decode(body, len, dt, &ref);
    for (int r = 0; r < rounds; r++) {
        size_t n = 0;
        if (r == 0) {
            for (size_t i = 1; i < len; i++)
                cuts[n++] = i;
        } else if (r == 1) {
            for (size_t i = 2; i < len; i += 2)
                cuts[n++] = i;
        } else if (len > 0) {
            size_t k = 1 + rnd() % (len < 12 ? len : (r % 3 ? 12 : len));
            for (size_t i = 0; i < k; i++)
                cuts[n++] = rnd() % (len + 1);
            qsort(cuts, n, sizeof *cuts, cmp_size);
        }
        snprintf(how, sizeof how, "split set %d, %zu cuts", r, n);
        decode_cuts(body, len, dt, cuts, n, &o);
        assert_same(&ref, &o, body, how);
        outcome_free(&o);
    }
    outcome_free(&ref);
    free(cuts);
}

/* ---- the cases ---------------------------------------------------------- */

/* A valid single-tensor body: its elements (as decimals read by strtod and
 * rounded to dt by MPFR) and its shape. */
struct ok_case {
    const char *body;
    enum l2_dtype dt;
    const char *values; /* space-separated decimals */
    unsigned ndim;
    uint64_t shape[4];
};

static const struct ok_case ok_cases[] = {
    {"[[1, 2], [3, 4]]", L2_DTYPE_FLOAT64, "1 2 3 4", 2, {2, 2}},
    {"[[0.5, -1.25], [2, 3]]", L2_DTYPE_FLOAT64, "0.5 -1.25 2 3", 2, {2, 2}},
    {"3", L2_DTYPE_FLOAT64, "3", 0, {0}},
    {"-0", L2_DTYPE_FLOAT64, "-0", 0, {0}},
    {" \t\r\n-0.0e-0 \n", L2_DTYPE_FLOAT64, "0", 0, {0}},
    {"[]", L2_DTYPE_FLOAT64, "", 1, {0}},
    {"[ ]", L2_DTYPE_FLOAT64, "", 1, {0}},
    {"[[],[]]", L2_DTYPE_FLOAT64, "", 2, {2, 0}},
    {"[[[]]]", L2_DTYPE_FLOAT64, "", 3, {1, 1, 0}},
    {"[[[], []], [[], []], [[], []]]", L2_DTYPE_FLOAT64, "", 3, {3, 2, 0}},
    {" [ 1 ,\t2 ]\n", L2_DTYPE_FLOAT64, "1 2", 1, {2}},
    {"[0.1, 0.2, 0.3]", L2_DTYPE_FLOAT64, "0.1 0.2 0.3", 1, {3}},
    {"[1e8, 1, 1, 1, 1]", L2_DTYPE_FLOAT64, "1e8 1 1 1 1", 1, {5}},
    {"[1E2,1e-1,2.5e+1,-0.0,0e0]", L2_DTYPE_FLOAT64, "100 0.1 25 0 0", 1, {5}},
    {"[[[1],[2]],[[3],[4]],[[5],[6]]]", L2_DTYPE_FLOAT64, "1 2 3 4 5 6", 3, {3, 2, 1}},
    {"[1e-400, -1e-400]", L2_DTYPE_FLOAT64, "0 0", 1, {2}},
    {"[1e154, 1e154]", L2_DTYPE_FLOAT64, "1e154 1e154", 1, {2}},
    {"[4.9406564584124654e-324, 1e-160]",
     L2_DTYPE_FLOAT64,
     "4.9406564584124654e-324 1e-160",
     1,
     {2}},
    {"[1.7976931348623157e154, 9007199254740993, 2.2250738585072011e-308]",
     L2_DTYPE_FLOAT64,
     "1.7976931348623157e154 9007199254740993 2.2250738585072011e-308",
     1,
     {3}},
    {"[0.1, 65519, -65504, 1e-7, 1e-8, 6e-8]",
     L2_DTYPE_FLOAT16,
     "0.1 65519 -65504 1e-7 1e-8 6e-8",
     1,
     {6}},
    {"[0.1, 3.38e38, 1e-40]", L2_DTYPE_BFLOAT16, "0.1 3.38e38 1e-40", 1, {3}},
    {"[0.1, 3.4028234663852886e38, 3.4028235677973362e38, 1e-45, 7e-46]",
     L2_DTYPE_FLOAT32,
     "0.1 3.4028234663852886e38 3.4028235677973362e38 1e-45 7e-46",
     1,
     {5}},
    {"[[1.5,2.5,3.5],[4.5,5.5,6.5]]", L2_DTYPE_FLOAT16, "1.5 2.5 3.5 4.5 5.5 6.5", 2, {2, 3}},
    {"[123456789012345678901234567890, 0.000000000000000000000000000001]",
     L2_DTYPE_FLOAT64,
     "123456789012345678901234567890 0.000000000000000000000000000001",
     1,
     {2}},
};

/* Exact expected sum of squares of the values, rounded once. */
static double expected_sum(const char *values, enum l2_dtype dt, uint64_t *count)
{
    struct oracle_sum s;
    const char *p = values;
    char *end;
    double out;

    oracle_sum_init(&s);
    *count = 0;
    while (*p != '\0') {
        double x = strtod(p, &end);
        cr_assert(end != p);
        oracle_sum_add_sq(&s, oracle_round_dtype(dt, x));
        ++*count;
        p = end;
        while (*p == ' ')
            p++;
    }
    oracle_sum_round(&s, false, &out);
    oracle_sum_free(&s);
    return out;
}

Test(json_decode, tensors)
{
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
        const struct ok_case *c = &ok_cases[i];
        struct outcome o;
        uint64_t count;
        double want = expected_sum(c->values, c->dt, &count);

        decode(c->body, strlen(c->body), c->dt, &o);
        cr_assert_eq(o.st, API_OK, "%s: %s %s", c->body, api_status_code(o.st), o.err.detail);
        cr_assert_not(o.res.named);
        cr_assert_eq(o.res.total.count, count, "%s: count", c->body);
        cr_assert_eq(bits_of(sum_of(&o.res.total)), bits_of(want), "%s: sum %a, expected %a",
                     c->body, sum_of(&o.res.total), want);
        cr_assert_eq(o.res.ndim, c->ndim, "%s: ndim %u", c->body, o.res.ndim);
        for (unsigned d = 0; d < c->ndim; d++)
            cr_assert_eq(o.res.shape[d], c->shape[d], "%s: shape[%u]", c->body, d);
        outcome_free(&o);
    }
}

Test(json_decode, dtype_rounding_explicitly)
{
    struct outcome o;

    decode("0.1", 3, L2_DTYPE_FLOAT16, &o);
    cr_assert_eq(sum_of(&o.res.total), 0.0999755859375 * 0.0999755859375);
    outcome_free(&o);
    decode("0.1", 3, L2_DTYPE_BFLOAT16, &o);
    cr_assert_eq(sum_of(&o.res.total), 0.10009765625 * 0.10009765625);
    outcome_free(&o);
    decode("0.1", 3, L2_DTYPE_FLOAT32, &o);
    cr_assert_eq(sum_of(&o.res.total),
                 0.100000001490116119384765625 * 0.100000001490116119384765625);
    outcome_free(&o);
    decode("65519", 5, L2_DTYPE_FLOAT16, &o); /* rounds down to the float16 maximum */
    cr_assert_eq(sum_of(&o.res.total), 65504.0 * 65504.0);
    outcome_free(&o);
    decode("1e-7", 4, L2_DTYPE_FLOAT16, &o); /* a float16 subnormal: 2 * 2^-24 */
    cr_assert_eq(sum_of(&o.res.total), 0x1p-23 * 0x1p-23);
    outcome_free(&o);
    decode("1e-45", 5, L2_DTYPE_FLOAT32, &o); /* the least float32 subnormal */
    cr_assert_eq(sum_of(&o.res.total), 0x1p-149 * 0x1p-149);
    outcome_free(&o);
    decode("[1e-8]", 6, L2_DTYPE_FLOAT16, &o); /* below half the least subnormal: 0 */
    cr_assert_eq(o.st, API_OK);
    cr_assert_eq(sum_of(&o.res.total), 0.0);
    cr_assert_eq(o.res.total.count, 1);
    outcome_free(&o);
}

/* A valid named body and what each tensor must hold. */
struct named_tensor {
    const char *name;
    size_t name_len;
    const char *values;
    unsigned ndim;
    uint64_t shape[3];
};

struct named_case {
    const char *body;
    enum l2_dtype dt;
    size_t n;
    struct named_tensor t[8];
};

static const struct named_case named_cases[] = {
    {"{\"tensors\": {\"dense/kernel\": [[1, 2], [3, 4]], \"dense/bias\": [1]}}",
     L2_DTYPE_FLOAT64,
     2,
     {{"dense/kernel", 12, "1 2 3 4", 2, {2, 2}}, {"dense/bias", 10, "1", 1, {1}}}},
    {"{\"tensors\": {}}", L2_DTYPE_FLOAT64, 0, {{0}}},
    {" { \"tensors\" : { } } ", L2_DTYPE_FLOAT64, 0, {{0}}},
    {"{\"tensors\":{\"s\":2,\"e\":[],\"m\":[[0.1]]}}",
     L2_DTYPE_FLOAT32,
     3,
     {{"s", 1, "2", 0, {0}}, {"e", 1, "", 1, {0}}, {"m", 1, "0.1", 2, {1, 1}}}},
    {"{\"tensors\": {\"a\\\"b\": [1], \"c\\\\d\": [2], \"e\\/f\": [3], \"\\u0000\": [4], "
     "\"\\u00e9\": [5], \"\\ud83d\\ude00\": [6], \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\": [7], "
     "\"\\b\\f\\n\\r\\t\\u001F\\u20AC\": [8]}}",
     L2_DTYPE_FLOAT64,
     8,
     {{"a\"b", 3, "1", 1, {1}},
      {"c\\d", 3, "2", 1, {1}},
      {"e/f", 3, "3", 1, {1}},
      {"\0", 1, "4", 1, {1}},
      {"\xc3\xa9", 2, "5", 1, {1}},
      {"\xf0\x9f\x98\x80", 4, "6", 1, {1}},
      {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "7", 1, {1}},
      {"\b\f\n\r\t\x1f\xe2\x82\xac", 9, "8", 1, {1}}}},
    {"{\"tensors\": {\"a\": 1, \"A\": 2, \"a \": 3, \"tensors\": 4}}",
     L2_DTYPE_FLOAT64,
     4,
     {{"a", 1, "1", 0, {0}},
      {"A", 1, "2", 0, {0}},
      {"a ", 2, "3", 0, {0}},
      {"tensors", 7, "4", 0, {0}}}},
    {"{\"tens\\u006frs\": {\"x\": [1e-400, 65519]}}",
     L2_DTYPE_FLOAT16,
     1,
     {{"x", 1, "0 65519", 1, {2}}}},
};

Test(json_decode, named_tensors)
{
    for (size_t i = 0; i < sizeof named_cases / sizeof named_cases[0]; i++) {
        const struct named_case *c = &named_cases[i];
        struct outcome o;
        struct oracle_sum total;
        double want;

        decode(c->body, strlen(c->body), c->dt, &o);
        cr_assert_eq(o.st, API_OK, "%s: %s %s", c->body, api_status_code(o.st), o.err.detail);
        cr_assert(o.res.named);
        cr_assert_eq(o.res.n_tensors, c->n, "%s: %zu tensors", c->body, o.res.n_tensors);
        oracle_sum_init(&total);
        uint64_t all = 0;
        for (size_t k = 0; k < c->n; k++) {
            const struct named_tensor *t = &c->t[k];
            const struct api_tensor *g = &o.res.tensors[k];
            uint64_t count;
            cr_assert_eq(g->name_len, t->name_len, "%s: tensor %zu name length", c->body, k);
            cr_assert_eq(memcmp(g->name, t->name, t->name_len), 0, "%s: name %zu", c->body, k);
            cr_assert_eq(g->name[g->name_len], '\0');
            cr_assert_eq(bits_of(g->sum_squares), bits_of(expected_sum(t->values, c->dt, &count)));
            cr_assert_eq(g->count, count);
            all += count;
            cr_assert_eq(g->ndim, t->ndim, "%s: tensor %zu ndim", c->body, k);
            for (unsigned d = 0; d < t->ndim; d++)
                cr_assert_eq(g->shape[d], t->shape[d]);
            for (const char *p = t->values; *p != '\0';) {
                char *end;
                double x = strtod(p, &end);
                oracle_sum_add_sq(&total, oracle_round_dtype(c->dt, x));
                p = end;
                while (*p == ' ')
                    p++;
            }
        }
        oracle_sum_round(&total, false, &want);
        oracle_sum_free(&total);
        cr_assert_eq(bits_of(sum_of(&o.res.total)), bits_of(want));
        cr_assert_eq(o.res.total.count, all);
        outcome_free(&o);
    }
}

/* An invalid body: its status and where (pointer, or offset when pointer is
 * NULL). len 0 means strlen(body). */
struct err_case {
    const char *body;
    size_t len;
    enum l2_dtype dt;
    enum api_status st;
    const char *pointer;
    int64_t offset;
};

#define J(body, off)                                                                               \
    {                                                                                              \
        body, 0, L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, off                                     \
    }
#define T(body, ptr)                                                                               \
    {                                                                                              \
        body, 0, L2_DTYPE_FLOAT64, API_INVALID_TENSOR, ptr, -1                                     \
    }
#define R(body, dt, ptr)                                                                           \
    {                                                                                              \
        body, 0, dt, API_NUMBER_OUT_OF_RANGE, ptr, -1                                              \
    }

static const struct err_case err_cases[] = {
    /* invalid_json: the byte where it went wrong */
    J("", 0),
    J("   ", 3),
    J("[1, 2", 5),
    J("[1, 2,", 6),
    J("[1, 2,]", 6),
    J("[,1]", 1),
    J("[1,,2]", 3),
    J("[1 2]", 3),
    J("01", 1),
    J("[01]", 2),
    J("[-01]", 3),
    J("-", 1),
    J("[-]", 2),
    J("1.", 2),
    J("[1.]", 3),
    J("1e", 2),
    J("[1e+]", 4),
    J(".5", 0),
    J("+1", 0),
    J("[+1]", 1),
    J("1.5.3", 3),
    J("[1]x", 3),
    J("[1] [2]", 4),
    J("1 2", 2),
    J("NaN", 0),
    J("[Infinity]", 1),
    J("[-Infinity]", 1),
    J("[1, NaN]", 4),
    J("{\"tensors\": {\"w\": [[1], [-Infinity]]}}", 25),
    J("{\"tensors\": NaN}", 12),
    /* a broken or cut literal: the first byte that does not match */
    J("[tru]", 4),
    J("[1, nul]", 7),
    J("[1,fals", 7),
    J("{\"tensors\": tru}", 15),
    J("{\"tensors\": {\"a\": [1, tru]}}", 25),
    J("[1, tru", 7),
    J("[Nan]", 3),
    J("[-Inf]", 5),
    J("[Infinit", 8),
    J("[0x10]", 2),
    J("\xef\xbb\xbf[1]", 0),
    J("\f[1]", 0),
    J("[1]]", 3),
    J("[[1],[2,}", 8),
    J("[[1],[2,]", 8),
    J("[[1],[2 3]]", 8),
    J("]", 0),
    J("{", 1),
    J("{\"tensors\"", 10),
    J("{\"tensors\" {}}", 11),
    J("{\"tensors\": {\"a\": [1],}}", 22),
    J("{\"tensors\": {\"a\": [1]]}", 21),
    J("{\"tensors\": {\"a\" 1}}", 17),
    J("{\"tensors\": {1: 2}}", 13),
    J("{,}", 1),
    J("{\"tensors\": {\"a\x01\": 1}}", 15),
    J("{\"tensors\": {\"a\n\": 1}}", 15),
    J("{\"tensors\": {\"a\\x\": 1}}", 16),
    J("{\"tensors\": {\"a\\u00g0\": 1}}", 19),
    J("{\"tensors\": {\"\xff\": 1}}", 14),
    J("{\"tensors\": {\"\xc0\x80\": 1}}", 14),
    J("{\"tensors\": {\"\xc3\": 1}}", 15),
    J("{\"tensors\": {\"\xed\xa0\x80\": 1}}", 15),
    J("{\"tensors\": {\"\xe0\x80\x80\": 1}}", 15),
    J("{\"tensors\": {\"\xf4\x90\x80\x80\": 1}}", 15),
    J("{\"tensors\": {\"\xf5\x80\x80\x80\": 1}}", 14),
    J("{\"tensors\": {\"\x80\": 1}}", 14),
    J("{\"tensors\": {\"\\ud83d\": 1}}", 14),
    J("{\"tensors\": {\"x\\ud83d\\u0041\": 1}}", 15),
    J("{\"tensors\": {\"\\ud83d\\n\": 1}}", 14),
    J("{\"tensors\": {\"\\ude00\": 1}}", 14),
    J("{\"tensors\": {\"\\ud83d\\ud83d\": 1}}", 14),
    J("{\"tensors\": {\"a\": 1}} x", 22),
    J("{\"tensors\": {\"a\": 1}", 20),
    J("{\"tensors\": {\"a\": 1}}}", 21),
    {"[1]\0", 4, L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 3},
    {"{\"tensors\": {\"\\u0000\"\0: 1}}", 28, L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 21},
    /* invalid_tensor: the JSON Pointer of the offending element */
    T("true", ""),
    T("null", ""),
    T("\"x\"", ""),
    T("[true]", "/0"),
    T("[1, null]", "/1"),
    T("[1, false]", "/1"),
    T("[\"x\"]", "/0"),
    T("[{}]", "/0"),
    T("[[1],[{\"a\":1}]]", "/1/0"),
    T("[[1,2],[3]]", "/1"),
    T("[[1],[2,3]]", "/1/1"),
    T("[1,[2]]", "/1"),
    T("[[1],2]", "/1"),
    T("[[],[1]]", "/1/0"),
    T("[[[]],[]]", "/1"),
    T("[[], [[]]]", "/1/0"),
    T("[[1,2],[3,4],[5]]", "/2"),
    T("[[[1,2],[3,4]],[[5,6],[7]]]", "/1/1"),
    T("{}", ""),
    T("{\"foo\": 1}", "/foo"),
    T("{\"a/b~\": 1}", "/a~1b~0"),
    T("{\"\": 1}", "/"),
    T("{\"tensors\": {}, \"x\": 1}", "/x"),
    T("{\"tensors\": {}, \"tensors\": {}}", "/tensors"),
    T("{\"tensors\": [1]}", "/tensors"),
    T("{\"tensors\": 1}", "/tensors"),
    T("{\"tensors\": null}", "/tensors"),
    T("{\"tensors\": {\"a\": {\"b\": 1}}}", "/tensors/a"),
    T("{\"tensors\": {\"a\": \"b\"}}", "/tensors/a"),
    T("{\"tensors\": {\"a\": true}}", "/tensors/a"),
    T("{\"tensors\": {\"\": [1]}}", "/tensors/"),
    T("{\"tensors\": {\"a\": 1, \"a\": 2}}", "/tensors/a"),
    T("{\"tensors\": {\"\\u0061\": 1, \"a\": [2]}}", "/tensors/a"),
    T("{\"tensors\": {\"dense/bias\": [1,2,3,true]}}", "/tensors/dense~1bias/3"),
    T("{\"tensors\": {\"x/y~z\\u00e9\": [1, true]}}", "/tensors/x~1y~0z\xc3\xa9/1"),
    T("{\"tensors\": {\"\\ud83d\\ude00\": [[1],[2,3]]}}", "/tensors/\xf0\x9f\x98\x80/1/1"),
    T("{\"tensors\": {\"a\": [[1],[2]], \"b\": [[1,2],[3]]}}", "/tensors/b/1"),
    /* number_out_of_range: not finite after rounding to float64, then the dtype */
    R("1e400", L2_DTYPE_FLOAT64, ""),
    R("[1, -1e309]", L2_DTYPE_FLOAT64, "/1"),
    R("[1.7976931348623159e308]", L2_DTYPE_FLOAT64, "/0"),
    R("[70000]", L2_DTYPE_FLOAT16, "/0"),
    R("[[1],[65520]]", L2_DTYPE_FLOAT16, "/1/0"),
    R("[-65520]", L2_DTYPE_FLOAT16, "/0"),
    R("[3.4028235677973366e38]", L2_DTYPE_FLOAT32, "/0"),
    R("[1e39]", L2_DTYPE_FLOAT32, "/0"),
    R("[3.4e38]", L2_DTYPE_BFLOAT16, "/0"),
    R("{\"tensors\": {\"w\": [0, 1e999]}}", L2_DTYPE_FLOAT64, "/tensors/w/1"),
};

static void check_error(const struct err_case *c, const struct outcome *o)
{
    cr_assert_eq(o->st, c->st, "'%s': %s (%s), expected %s", c->body, api_status_code(o->st),
                 o->err.detail, api_status_code(c->st));
    cr_assert_neq(o->err.detail[0], '\0');
    if (c->pointer != NULL) {
        cr_assert(o->err.has_pointer, "'%s': no pointer", c->body);
        cr_assert_str_eq(o->err.pointer, c->pointer, "'%s': pointer '%s', expected '%s'", c->body,
                         o->err.pointer, c->pointer);
        cr_assert_eq(o->err.offset, -1);
    } else {
        cr_assert_eq(o->err.offset, c->offset, "'%s': offset %lld, expected %lld (%s)", c->body,
                     (long long)o->err.offset, (long long)c->offset, o->err.detail);
        cr_assert_not(o->err.has_pointer);
    }
}

static size_t case_len(const struct err_case *c)
{
    return c->len ? c->len : strlen(c->body);
}

Test(json_decode, errors)
{
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        struct outcome o;
        decode(err_cases[i].body, case_len(&err_cases[i]), err_cases[i].dt, &o);
        check_error(&err_cases[i], &o);
        outcome_free(&o);
    }
}

Test(json_decode, error_details_are_plain_english)
{
    struct outcome o;

    decode("[[1,2,3],[4,5]]", 15, L2_DTYPE_FLOAT64, &o);
    cr_assert_str_eq(o.err.detail, "ragged array: expected 3 elements at /1, found 2");
    outcome_free(&o);
    decode("[70000]", 7, L2_DTYPE_FLOAT16, &o);
    cr_assert_str_eq(o.err.detail, "number 70000 at /0 is out of range for float16");
    outcome_free(&o);
    decode("[1, 2,]", 7, L2_DTYPE_FLOAT64, &o);
    cr_assert_str_eq(o.err.detail, "invalid JSON at byte 6: expected a value, found ']'");
    outcome_free(&o);
    decode("{\"tensors\": {\"a\": [null]}}", 26, L2_DTYPE_FLOAT64, &o);
    cr_assert_str_eq(o.err.detail, "expected a number at /tensors/a/0, found null");
    outcome_free(&o);
    decode("[tru]", 5, L2_DTYPE_FLOAT64, &o);
    cr_assert_str_eq(o.err.detail, "invalid JSON at byte 4: expected 'e' to complete true");
    outcome_free(&o);
    decode("[1,fals", 7, L2_DTYPE_FLOAT64, &o);
    cr_assert_str_eq(o.err.detail, "invalid JSON at byte 7: unexpected end of body inside false");
    outcome_free(&o);
    decode("[Infinty]", 9, L2_DTYPE_FLOAT64, &o);
    cr_assert_str_eq(o.err.detail, "invalid JSON at byte 6: expected 'i' to complete Infinity, "
                                   "which is not JSON either");
    outcome_free(&o);
}

/* ---- literals, and the tokens Python writes for NaN and infinities ------ */

static const char *const literal_texts[] = {"true", "false",    "null",
                                            "NaN",  "Infinity", "-Infinity"};

/* Where a literal can stand: before it, after it. */
static const struct {
    const char *head, *tail;
} literal_places[] = {
    {"", ""},
    {"[1, ", "]"},
    {"[[2], [", "]]"},
    {"{\"tensors\": ", "}"},
    {"{\"tensors\": {\"a\": ", "}}"},
    {"{\"tensors\": {\"a\": [1, ", "]}}"},
};

/* body decoded whole, byte by byte and with one cut at every place: always
 * status st at offset off (invalid_json) or at pointer ptr (otherwise),
 * with one and the same detail. count_nonfinite as the query says. */
static void check_every_cut(const char *body, size_t len, bool count_nonfinite, enum api_status st,
                            int64_t off, const char *ptr)
{
    struct outcome ref, o;
    size_t *bytes = malloc((len + 1) * sizeof *bytes);

    cr_assert_not_null(bytes);
    decode_mode(body, len, L2_DTYPE_FLOAT64, count_nonfinite, NULL, 0, &ref);
    cr_assert_eq(ref.st, st, "'%.*s': %s (%s), expected %s", (int)len, body,
                 api_status_code(ref.st), ref.err.detail, api_status_code(st));
    cr_assert_neq(ref.err.detail[0], '\0');
    if (ptr == NULL) {
        cr_assert_eq(ref.err.offset, off, "'%.*s': offset %lld, expected %lld (%s)", (int)len, body,
                     (long long)ref.err.offset, (long long)off, ref.err.detail);
        cr_assert_not(ref.err.has_pointer);
    } else {
        cr_assert_str_eq(ref.err.pointer, ptr, "'%.*s': pointer", (int)len, body);
        cr_assert_eq(ref.err.offset, -1);
    }
    for (size_t i = 0; i + 1 < len; i++)
        bytes[i] = i + 1;
    decode_mode(body, len, L2_DTYPE_FLOAT64, count_nonfinite, bytes, len ? len - 1 : 0, &o);
    assert_same(&ref, &o, body, "1-byte chunks");
    outcome_free(&o);
    for (size_t cut = 0; cut <= len; cut++) {
        decode_mode(body, len, L2_DTYPE_FLOAT64, count_nonfinite, &cut, 1, &o);
        assert_same(&ref, &o, body, "one cut");
        outcome_free(&o);
    }
    outcome_free(&ref);
    free(bytes);
}

/* A lone '-' is a number that did not become -Infinity: in a tensor a
 * malformed number, at the same byte as a broken literal; where the object
 * of named tensors belongs, a number, refused as such (invalid_tensor). */
static bool number_for_tensors(const char *lit, size_t k, size_t place)
{
    return lit[0] == '-' && k == 1 && strcmp(literal_places[place].head, "{\"tensors\": ") == 0;
}

/* Every proper prefix of every literal, in every place, followed by a byte
 * that does not continue it: invalid_json at that byte. */
Test(json_decode, broken_literals_at_the_first_wrong_byte)
{
    static const char wrong[] = "x ]},\"0.\x01\xc3";
    char body[96];

    for (size_t l = 0; l < sizeof literal_texts / sizeof literal_texts[0]; l++) {
        const char *lit = literal_texts[l];
        for (size_t k = 1; k < strlen(lit); k++) {
            char flipped = (char)(lit[k] ^ 0x20); /* the other case: "Nan", "NULL" */
            for (size_t w = 0; w <= sizeof wrong - 1; w++) {
                char c = w < sizeof wrong - 1 ? wrong[w] : flipped;
                if (k == 1 && lit[0] == '-' && strchr("0123456789.eE+-", c) != NULL)
                    continue; /* "-0", "-." ... are numbers or begin one */
                for (size_t i = 0; i < sizeof literal_places / sizeof literal_places[0]; i++) {
                    size_t h = strlen(literal_places[i].head);
                    int n = snprintf(body, sizeof body, "%s%.*s%c%s", literal_places[i].head,
                                     (int)k, lit, c, literal_places[i].tail);
                    bool num = number_for_tensors(lit, k, i);
                    for (int count = 0; count < 2; count++)
                        check_every_cut(body, (size_t)n, count,
                                        num ? API_INVALID_TENSOR : API_INVALID_JSON,
                                        num ? -1 : (int64_t)(h + k), num ? "/tensors" : NULL);
                }
            }
        }
    }
}

/* Every proper prefix of every literal at the end of the body: invalid_json
 * at the body's length. */
Test(json_decode, cut_literals_at_the_end_of_the_body)
{
    char body[96];

    for (size_t l = 0; l < sizeof literal_texts / sizeof literal_texts[0]; l++) {
        const char *lit = literal_texts[l];
        for (size_t k = 1; k < strlen(lit); k++) {
            for (size_t i = 0; i < sizeof literal_places / sizeof literal_places[0]; i++) {
                int n = snprintf(body, sizeof body, "%s%.*s", literal_places[i].head, (int)k, lit);
                bool num = number_for_tensors(lit, k, i);
                for (int count = 0; count < 2; count++)
                    check_every_cut(body, (size_t)n, count,
                                    num ? API_INVALID_TENSOR : API_INVALID_JSON, num ? -1 : n,
                                    num ? "/tensors" : NULL);
            }
        }
    }
}

/* A whole true, false or null where a number belongs is invalid_tensor at
 * its pointer, in every place, and whatever follows it. */
Test(json_decode, whole_literals_where_a_number_belongs)
{
    static const char *const pointers[] = {"",         "/1",         "/1/0",
                                           "/tensors", "/tensors/a", "/tensors/a/1"};
    char body[96];

    for (size_t l = 0; l < 3; l++) {
        for (size_t i = 0; i < sizeof literal_places / sizeof literal_places[0]; i++) {
            int n = snprintf(body, sizeof body, "%s%s%s", literal_places[i].head, literal_texts[l],
                             literal_places[i].tail);
            check_every_cut(body, (size_t)n, false, API_INVALID_TENSOR, -1, pointers[i]);
            check_every_cut(body, (size_t)n, true, API_INVALID_TENSOR, -1, pointers[i]);
            /* the whole literal is an element error before what follows is read */
            n = snprintf(body, sizeof body, "%s%sx%s", literal_places[i].head, literal_texts[l],
                         literal_places[i].tail);
            check_every_cut(body, (size_t)n, false, API_INVALID_TENSOR, -1, pointers[i]);
        }
    }
}

/* NaN, Infinity and -Infinity: invalid_json at their first byte with a
 * detail that names the token and the ways out, in every place. */
Test(json_decode, nonfinite_tokens_are_invalid_json)
{
    char body[96];

    for (size_t l = 3; l < 6; l++) {
        for (size_t i = 0; i < sizeof literal_places / sizeof literal_places[0]; i++) {
            size_t h = strlen(literal_places[i].head);
            int n = snprintf(body, sizeof body, "%s%s%s", literal_places[i].head, literal_texts[l],
                             literal_places[i].tail);
            check_every_cut(body, (size_t)n, false, API_INVALID_JSON, (int64_t)h, NULL);
            n = snprintf(body, sizeof body, "%s%s,%s", literal_places[i].head, literal_texts[l],
                         literal_places[i].tail);
            check_every_cut(body, (size_t)n, false, API_INVALID_JSON, (int64_t)h, NULL);
        }
    }

    struct outcome o;
    decode("[1, NaN]", 8, L2_DTYPE_FLOAT64, &o);
    cr_assert_str_eq(o.err.detail,
                     "invalid JSON at byte 4: NaN is not JSON (Python's json.dumps writes it for "
                     "non-finite floats): send finite numbers, with json.dumps(..., "
                     "allow_nan=False), or add ?nonfinite=count to count NaN and infinities");
    outcome_free(&o);
    decode("[-Infinity]", 11, L2_DTYPE_FLOAT64, &o);
    cr_assert(strncmp(o.err.detail, "invalid JSON at byte 1: -Infinity is not JSON", 45) == 0, "%s",
              o.err.detail);
    outcome_free(&o);
}

/* Under ?nonfinite=count the tokens are elements, counted in nan_count or
 * inf_count and left out of the sums, checked for shape like numbers; a
 * number too large for the dtype stays number_out_of_range. */
Test(json_decode, nonfinite_tokens_under_count)
{
    /* counted: in count and nan_count / inf_count, not in the sums */
    static const struct {
        const char *body;
        enum l2_dtype dt;
        double sum;
        uint64_t count, nan, inf;
        double max_abs;
    } ok[] = {
        {"[1, NaN]", L2_DTYPE_FLOAT64, 1.0, 2, 1, 0, 1.0},
        {"Infinity", L2_DTYPE_FLOAT64, 0.0, 1, 0, 1, 0.0},
        {"[[-Infinity], [2]]", L2_DTYPE_FLOAT32, 4.0, 2, 0, 1, 2.0},
        {"[NaN, Infinity, -Infinity, -3]", L2_DTYPE_FLOAT16, 9.0, 4, 1, 2, 3.0},
        {"{\"tensors\": {\"a\": [1, -Infinity], \"b\": NaN}}", L2_DTYPE_FLOAT64, 1.0, 3, 1, 1, 1.0},
    };
    /* still errors under count */
    static const struct {
        const char *body;
        enum l2_dtype dt;
        enum api_status st;
        const char *pointer; /* NULL: at offset */
        int64_t off;
    } bad[] = {
        {"{\"tensors\": NaN}", L2_DTYPE_FLOAT64, API_INVALID_TENSOR, "/tensors", -1},
        {"[[1], NaN]", L2_DTYPE_FLOAT64, API_INVALID_TENSOR, "/1", -1},
        {"[1e400, NaN]", L2_DTYPE_FLOAT64, API_NUMBER_OUT_OF_RANGE, "/0", -1},
        {"[1e39, NaN]", L2_DTYPE_FLOAT32, API_NUMBER_OUT_OF_RANGE, "/0", -1},
        {"[-1e39]", L2_DTYPE_FLOAT32, API_NUMBER_OUT_OF_RANGE, "/0", -1},
        {"[NaNa]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 4},
        {"[Infinit]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 8},
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t len = strlen(ok[i].body);
        struct outcome o;
        double sum;

        decode_mode(ok[i].body, len, ok[i].dt, true, NULL, 0, &o);
        cr_assert_eq(o.st, API_OK, "%s: %s", ok[i].body, o.err.detail);
        cr_assert_eq(l2_accum_sum(&o.res.total, &sum), L2_OK);
        cr_assert_eq(sum, ok[i].sum, "%s", ok[i].body);
        cr_assert_eq(o.res.total.count, ok[i].count, "%s", ok[i].body);
        cr_assert_eq(o.res.total.nan_count, ok[i].nan, "%s", ok[i].body);
        cr_assert_eq(o.res.total.inf_count, ok[i].inf, "%s", ok[i].body);
        cr_assert_eq(o.res.total.max_abs, ok[i].max_abs, "%s", ok[i].body);
        for (size_t cut = 0; cut <= len; cut++) {
            struct outcome c;
            decode_mode(ok[i].body, len, ok[i].dt, true, &cut, 1, &c);
            assert_same(&o, &c, ok[i].body, "one cut, count");
            cr_assert_eq(c.res.total.nan_count, ok[i].nan);
            cr_assert_eq(c.res.total.inf_count, ok[i].inf);
            outcome_free(&c);
        }
        outcome_free(&o);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i].body);
        struct outcome o;
        decode_mode(bad[i].body, len, bad[i].dt, true, NULL, 0, &o);
        cr_assert_eq(o.st, bad[i].st, "%s: %s (%s)", bad[i].body, api_status_code(o.st),
                     o.err.detail);
        if (bad[i].pointer != NULL)
            cr_assert_str_eq(o.err.pointer, bad[i].pointer, "%s", bad[i].body);
        else
            cr_assert_eq(o.err.offset, bad[i].off, "%s: offset %lld", bad[i].body,
                         (long long)o.err.offset);
        for (size_t cut = 0; cut <= len; cut++) {
            struct outcome c;
            decode_mode(bad[i].body, len, bad[i].dt, true, &cut, 1, &c);
            assert_same(&o, &c, bad[i].body, "one cut, count");
            outcome_free(&c);
        }
        outcome_free(&o);
    }

    /* and finite bodies are what they are without it */
    struct outcome a, b;
    decode_mode("[[1, 2], [3, 4]]", 16, L2_DTYPE_FLOAT64, true, NULL, 0, &a);
    decode("[[1, 2], [3, 4]]", 16, L2_DTYPE_FLOAT64, &b);
    cr_assert_eq(a.st, API_OK);
    assert_same(&a, &b, "[[1, 2], [3, 4]]", "count vs reject");
    outcome_free(&a);
    outcome_free(&b);
}

/* ---- limits ------------------------------------------------------------- */

static char *nested(unsigned depth, const char *inner)
{
    size_t n = strlen(inner);
    char *b = malloc(2 * depth + n + 1);
    memset(b, '[', depth);
    memcpy(b + depth, inner, n);
    memset(b + depth + n, ']', depth);
    b[2 * depth + n] = '\0';
    return b;
}

Test(json_decode, depth_limit)
{
    struct outcome o;
    char *b = nested(API_MAX_DEPTH, "");
    char ptr[API_MAX_DEPTH * 2 + 1];

    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_OK);
    cr_assert_eq(o.res.ndim, API_MAX_DEPTH);
    cr_assert_eq(o.res.shape[0], 1);
    cr_assert_eq(o.res.shape[API_MAX_DEPTH - 1], 0);
    outcome_free(&o);
    check_chunking(b, strlen(b), L2_DTYPE_FLOAT64, 10);
    free(b);

    b = nested(API_MAX_DEPTH, "2");
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_OK);
    cr_assert_eq(sum_of(&o.res.total), 4.0);
    outcome_free(&o);
    free(b);

    b = nested(API_MAX_DEPTH + 1, "2");
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    for (int i = 0; i < API_MAX_DEPTH; i++)
        memcpy(ptr + 2 * i, "/0", 2);
    ptr[2 * API_MAX_DEPTH] = '\0';
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    cr_assert_str_eq(o.err.pointer, ptr);
    outcome_free(&o);
    check_chunking(b, strlen(b), L2_DTYPE_FLOAT64, 10);
    free(b);

    /* the two objects of a named body do not count */
    char *inner = nested(API_MAX_DEPTH, "1");
    size_t cap = strlen(inner) + 64;
    b = malloc(cap);
    snprintf(b, cap, "{\"tensors\": {\"deep\": %s}}", inner);
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_OK);
    cr_assert_eq(o.res.tensors[0].ndim, API_MAX_DEPTH);
    outcome_free(&o);
    free(b);
    free(inner);
}

Test(json_decode, number_token_limit)
{
    static char b[API_JSON_MAX_NUMBER + 16];
    struct outcome o;

    /* exactly the limit: 0.000…1 in API_JSON_MAX_NUMBER bytes, value 0 */
    b[0] = '[';
    memcpy(b + 1, "0.", 2);
    memset(b + 3, '0', API_JSON_MAX_NUMBER - 3);
    b[API_JSON_MAX_NUMBER] = '1';
    memcpy(b + API_JSON_MAX_NUMBER + 1, "]", 2);
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_OK, "%s", o.err.detail);
    cr_assert_eq(o.res.total.count, 1);
    outcome_free(&o);
    check_chunking(b, strlen(b), L2_DTYPE_FLOAT64, 6);

    /* one byte more: refused at the element, whatever the chunking */
    memmove(b + 2, b + 1, strlen(b + 1) + 1);
    b[1] = '-';
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    cr_assert_str_eq(o.err.pointer, "/0");
    outcome_free(&o);
    check_chunking(b, strlen(b), L2_DTYPE_FLOAT64, 6);

    /* a long mantissa inside the limit is rounded correctly */
    char *m = b;
    size_t n = 0;
    m[n++] = '[';
    memcpy(m + n, "9007199254740993", 16);
    n += 16;
    memset(m + n, '0', 1500);
    n += 1500;
    memcpy(m + n, "1e-1501]", 9);
    decode(m, strlen(m), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_OK);
    cr_assert_eq(sum_of(&o.res.total), 9007199254740994.0 * 9007199254740994.0);
    outcome_free(&o);
}

Test(json_decode, name_length_limit)
{
    static char b[API_MAX_NAME * 6 + 64];
    struct outcome o;
    size_t n;

    /* 1024 bytes as 512 escaped é: fits */
    n = (size_t)snprintf(b, sizeof b, "{\"tensors\": {\"");
    for (int i = 0; i < API_MAX_NAME / 2; i++) {
        memcpy(b + n, "\\u00e9", 6);
        n += 6;
    }
    memcpy(b + n, "\": [2]}}", 9);
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_OK, "%s", o.err.detail);
    cr_assert_eq(o.res.tensors[0].name_len, API_MAX_NAME);
    outcome_free(&o);

    /* 1025 bytes of raw ASCII: refused */
    n = (size_t)snprintf(b, sizeof b, "{\"tensors\": {\"");
    memset(b + n, 'n', API_MAX_NAME + 1);
    n += API_MAX_NAME + 1;
    memcpy(b + n, "\": [2]}}", 9);
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    cr_assert_str_eq(o.err.pointer, "/tensors");
    outcome_free(&o);
    check_chunking(b, strlen(b), L2_DTYPE_FLOAT64, 6);

    /* 1022 bytes then a 3-byte character: refused */
    n = (size_t)snprintf(b, sizeof b, "{\"tensors\": {\"");
    memset(b + n, 'n', API_MAX_NAME - 2);
    n += API_MAX_NAME - 2;
    memcpy(b + n, "\xe2\x82\xac\": [2]}}", 12);
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    outcome_free(&o);

    /* an over-long unknown top-level key */
    n = (size_t)snprintf(b, sizeof b, "{\"");
    memset(b + n, 'k', API_MAX_NAME + 5);
    n += API_MAX_NAME + 5;
    memcpy(b + n, "\": 1}", 6);
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    cr_assert_str_eq(o.err.pointer, "");
    outcome_free(&o);
}

Test(json_decode, tensor_count_limit)
{
    size_t cap = (size_t)(API_MAX_TENSORS + 1) * 16 + 64, n = 0;
    char *b = malloc(cap);
    struct outcome o;

    n += (size_t)snprintf(b + n, cap - n, "{\"tensors\": {");
    for (int i = 0; i <= API_MAX_TENSORS; i++)
        n += (size_t)snprintf(b + n, cap - n, "%s\"t%d\": %d", i ? "," : "", i, i % 3);
    n += (size_t)snprintf(b + n, cap - n, "}}");
    decode(b, n, L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    cr_assert_str_eq(o.err.pointer, "/tensors/t10000");
    outcome_free(&o);
    check_chunking(b, n, L2_DTYPE_FLOAT64, 3);

    /* exactly the limit is fine */
    char *last = strstr(b, ",\"t10000\"");
    cr_assert_not_null(last);
    memcpy(last, "}}", 3);
    decode(b, strlen(b), L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_OK);
    cr_assert_eq(o.res.n_tensors, API_MAX_TENSORS);
    outcome_free(&o);
    free(b);
}

Test(json_decode, errors_are_sticky)
{
    struct api_result res;
    struct api_error err;

    api_error_init(&err);
    void *dec = json_new(&res, L2_DTYPE_FLOAT64, false);
    cr_assert_eq(json_feed(dec, "[1, 2, ", 7, 0, &err), API_OK);
    cr_assert_eq(json_feed(dec, "x", 1, 7, &err), API_INVALID_JSON);
    cr_assert_eq(err.offset, 7);
    cr_assert_eq(json_feed(dec, "3]", 2, 8, &err), API_INVALID_JSON);
    cr_assert_eq(api_json_ops.finish(dec, 10, &err), API_INVALID_JSON);
    cr_assert_eq(err.offset, 7);
    cr_assert_eq(res.total.count, 2);
    api_json_ops.destroy(dec);
    api_json_ops.destroy(NULL);
    api_result_free(&res);
}

/* ---- random bodies against the oracle ----------------------------------- */

struct sink {
    char *buf;
    size_t len, cap;
};

static void put(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sink *s, const char *fmt, ...)
{
    va_list ap;
    if (s->buf == NULL) {
        s->cap = 256;
        s->buf = malloc(s->cap);
        cr_assert_not_null(s->buf);
    }
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < s->cap - s->len) {
            s->len += (size_t)n;
            return;
        }
        s->cap = s->cap * 2 + (size_t)n + 64;
        s->buf = realloc(s->buf, s->cap);
        cr_assert_not_null(s->buf);
    }
}

static void put_ws(struct sink *s)
{
    static const char *ws[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    put(s, "%s", ws[rnd() % 7]);
}

static double random_double(void)
{
    double x;
    do {
        uint64_t u = rnd();
        if (rnd() % 4 == 0)
            u = (u & 0x800fffffffffffffu) | (uint64_t)(1000 + rnd() % 48) << 52; /* near 1 */
        memcpy(&x, &u, sizeof x);
    } while (!isfinite(x) || fabs(x) > 1e150);
    return x;
}

/* Writes a random rectangular tensor and feeds its elements to the oracle. */
static void random_tensor(struct sink *s, unsigned ndim, const uint64_t *shape, unsigned d,
                          enum l2_dtype dt, struct oracle_sum *sum, uint64_t *count)
{
    static const char *fmts[] = {"%.17g", "%.9g", "%.3g", "%.17e", "%.25g"};
    if (d == ndim) {
        double x = random_double();
        char num[64];
        snprintf(num, sizeof num, fmts[rnd() % 5], x);
        put(s, "%s", num);
        oracle_sum_add_sq(sum, oracle_round_dtype(dt, strtod(num, NULL)));
        ++*count;
        return;
    }
    put(s, "[");
    for (uint64_t i = 0; i < shape[d]; i++) {
        put_ws(s);
        if (i > 0) {
            put(s, ",");
            put_ws(s);
        }
        random_tensor(s, ndim, shape, d + 1, dt, sum, count);
    }
    put_ws(s);
    put(s, "]");
}

Test(json_decode, random_tensors_exact_under_any_chunking)
{
    struct sink s = {0};
    for (int round = 0; round < 60; round++) {
        enum l2_dtype dt = (enum l2_dtype)(round % 4);
        unsigned ndim = (unsigned)(rnd() % 5);
        uint64_t shape[4];
        for (unsigned d = 0; d < ndim; d++)
            shape[d] = rnd() % (d == 0 ? 40 : 5);
        struct oracle_sum sum;
        uint64_t count = 0;
        double want;
        bool fits;

        oracle_sum_init(&sum);
        s.len = 0;
        put_ws(&s);
        random_tensor(&s, ndim, shape, 0, dt, &sum, &count);
        put_ws(&s);
        fits = oracle_sum_round(&sum, false, &want);
        oracle_sum_free(&sum);

        struct outcome o;
        decode(s.buf, s.len, dt, &o);
        if (o.st == API_OK) {
            cr_assert(fits);
            cr_assert_eq(bits_of(sum_of(&o.res.total)), bits_of(want), "round %d", round);
            cr_assert_eq(o.res.total.count, count);
            /* an empty dimension hides the ones below it: [] for shape [0, 3] */
            unsigned seen = ndim;
            for (unsigned d = 0; d < ndim; d++) {
                if (shape[d] == 0) {
                    seen = d + 1;
                    break;
                }
            }
            cr_assert_eq(o.res.ndim, seen);
            for (unsigned d = 0; d < seen; d++)
                cr_assert_eq(o.res.shape[d], shape[d]);
        } else {
            /* |x| <= 1e150 never overflows float64; narrower types may refuse */
            cr_assert_eq(o.st, API_NUMBER_OUT_OF_RANGE, "round %d: %s", round, o.err.detail);
            cr_assert_neq(dt, L2_DTYPE_FLOAT64);
        }
        outcome_free(&o);
        check_chunking(s.buf, s.len, dt, 20);
    }
    free(s.buf);
}

/* ---- the chunking property over every body in this file ----------------- */

Test(json_decode, any_chunking_same_result)
{
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++)
        check_chunking(ok_cases[i].body, strlen(ok_cases[i].body), ok_cases[i].dt, 100);
    for (size_t i = 0; i < sizeof named_cases / sizeof named_cases[0]; i++)
        check_chunking(named_cases[i].body, strlen(named_cases[i].body), named_cases[i].dt, 100);
}

Test(json_decode, any_chunking_same_error)
{
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        const struct err_case *c = &err_cases[i];
        check_chunking(c->body, case_len(c), c->dt, 100);
        /* and the error is the expected one under a random chunking */
        size_t len = case_len(c), cut = len ? rnd() % len : 0;
        struct outcome o;
        decode_cuts(c->body, len, c->dt, &cut, 1, &o);
        check_error(c, &o);
        outcome_free(&o);
    }
}

/* ---- against an independent JSON parser --------------------------------- */

/* Random edits of valid bodies: whatever the decoder calls invalid JSON,
 * jansson refuses too, and whatever the decoder accepts, jansson parses
 * (unless only jansson's own number range refuses it). */
Test(json_decode, agrees_with_jansson_on_mutations)
{
    static const char alphabet[] = "[]{},:\"\\ .-+eE0123456789tfnux\x01\x7f\xc3\xa9\xed\xff";
    const char *seeds[] = {
        "[[1, 2], [3, 4]]",
        "{\"tensors\": {\"a\\u00e9\\ud83d\\ude00\": [0.5, -1e-3], \"b\": 2}}",
        "[[[1.5e2]], [[-0.25]]]",
        "{\"tensors\": {}}",
    };
    char buf[256];

    for (int i = 0; i < 6000; i++) {
        const char *seed = seeds[i % 4];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)(rnd() % 3);
        for (int k = 0; k < edits; k++) {
            size_t at = rnd() % (n + 1);
            char c = alphabet[rnd() % (sizeof alphabet - 1)];
            switch (rnd() % 3) {
            case 0: /* insert */
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = c;
                n++;
                break;
            case 1: /* delete */
                if (at < n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            default: /* replace */
                if (at < n)
                    buf[at] = c;
                break;
            }
        }
        buf[n] = '\0';

        struct outcome o;
        json_error_t jerr;
        decode(buf, n, L2_DTYPE_FLOAT64, &o);
        json_t *j = json_loadb(buf, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (o.st == API_INVALID_JSON)
            cr_assert_null(j, "decoder refused, jansson accepted: %s (%s)", buf, o.err.detail);
        if (o.st == API_OK && j == NULL)
            cr_assert(strstr(jerr.text, "overflow") || strstr(jerr.text, "too big"),
                      "decoder accepted, jansson refused: %s (%s)", buf, jerr.text);
        json_decref(j);
        outcome_free(&o);
    }
}

/* An empty chunk, even with a NULL buffer, reads nothing and changes nothing. */
Test(json_decode, empty_and_null_chunks)
{
    struct api_result res;
    struct api_error err;
    void *dec;
    double sum;

    api_error_init(&err);
    dec = json_new(&res, L2_DTYPE_FLOAT64, false);
    cr_assert_eq(api_json_ops.feed(dec, NULL, 0, 0, &err), API_OK);
    cr_assert_eq(json_feed(dec, "[3", 2, 0, &err), API_OK);
    cr_assert_eq(api_json_ops.feed(dec, NULL, 0, 2, &err), API_OK);
    cr_assert_eq(json_feed(dec, "", 0, 2, &err), API_OK);
    cr_assert_eq(json_feed(dec, ",4]", 3, 2, &err), API_OK);
    cr_assert_eq(api_json_ops.finish(dec, 5, &err), API_OK, "%s", err.detail);
    cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
    cr_assert_eq(sum, 25.0);
    cr_assert_eq(res.shape[0], 2);
    api_json_ops.destroy(dec);
    api_result_free(&res);
}

/* ---- the in-place fast path ---------------------------------------------- */

/* Float32 elements at the edges of the type (halfway points between
 * neighbours, subnormals, the top binade, just below the overflow point),
 * printed exactly with %.17g: the decoded sum is that of the values rounded
 * by the MPFR oracle, bit for bit, in every chunking. */
Test(json_decode, float32_rounding_at_the_edges)
{
    struct sink s = {0};
    struct l2_accum want;
    l2_accum_init(&want);
    put(&s, "[");
    for (int i = 0; i < 30000; i++) {
        double x;
        float f;
        uint32_t u = (uint32_t)rnd() & 0x7fffffff;
        switch (i % 5) {
        case 0: /* halfway between two floats (exact in a double) */
            memcpy(&f, &u, sizeof f);
            if (!isfinite(f) || f == FLT_MAX)
                f = 1.5f;
            x = ((double)f + (double)nextafterf(f, INFINITY)) / 2;
            break;
        case 1: /* among the float32 subnormals and below them */
            x = ldexp((double)(rnd() >> 11), -53 - 126 - (int)(rnd() % 30));
            break;
        case 2: /* the top binade, up to just below FLT_MAX + half an ulp */
            x = ldexp(1.0 + (double)(rnd() >> 12) * 0x1p-52 * (1 - 0x1p-25), 127);
            break;
        case 3: /* one double ulp off a halfway point */
            memcpy(&f, &u, sizeof f);
            if (!isfinite(f) || f == FLT_MAX)
                f = 2.5f;
            x = ((double)f + (double)nextafterf(f, INFINITY)) / 2;
            x = nextafter(x, (rnd() & 1) ? INFINITY : 0);
            break;
        default: /* anything in range */
            x = ldexp((double)(rnd() >> 11), -53 - 140 + (int)(rnd() % 268));
            break;
        }
        if (rnd() & 1)
            x = -x;
        char num[40];
        snprintf(num, sizeof num, "%.17g", x);
        cr_assert_eq(bits_of(strtod(num, NULL)), bits_of(x));
        put(&s, "%s%s", i ? ", " : "", num);
        l2_accum_add(&want, oracle_round_dtype(L2_DTYPE_FLOAT32, x));
    }
    put(&s, "]");

    struct outcome o;
    decode(s.buf, s.len, L2_DTYPE_FLOAT32, &o);
    cr_assert_eq(o.st, API_OK, "%s", o.err.detail);
    cr_assert_eq(o.res.total.count, want.count);
    cr_assert_eq(memcmp(o.res.total.limb, want.limb, sizeof want.limb), 0);
    outcome_free(&o);
    check_chunking(s.buf, s.len, L2_DTYPE_FLOAT32, 8);
    free(s.buf);
}

/* Every way a long run of plain elements can end or fail, 40 elements in
 * (where the decoder reads in place): the same status and pointer or
 * offset as anywhere else, and the same under any chunking. */
Test(json_decode, errors_inside_long_runs)
{
    static const struct {
        const char *tail;
        enum l2_dtype dt;
        enum api_status st;
        const char *pointer; /* NULL: an offset into the tail */
        int64_t off;
    } cases[] = {
        {"1.5.3]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 3},
        {"1e]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 2},
        {"-]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 1},
        {"01]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 1},
        {"1.e5]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 2},
        {"]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 0},
        {"2 3]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 2},
        {"x]", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 0},
        {"1", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 1},
        {"1,", L2_DTYPE_FLOAT64, API_INVALID_JSON, NULL, 2},
        {"true]", L2_DTYPE_FLOAT64, API_INVALID_TENSOR, "/40", 0},
        {"[1]]", L2_DTYPE_FLOAT64, API_INVALID_TENSOR, "/40", 0},
        {"1e400]", L2_DTYPE_FLOAT64, API_NUMBER_OUT_OF_RANGE, "/40", 0},
        {"-1.7976931348623159e308]", L2_DTYPE_FLOAT64, API_NUMBER_OUT_OF_RANGE, "/40", 0},
        {"3.4028235677973366e38]", L2_DTYPE_FLOAT32, API_NUMBER_OUT_OF_RANGE, "/40", 0},
        {"65520]", L2_DTYPE_FLOAT16, API_NUMBER_OUT_OF_RANGE, "/40", 0},
        {"3.4e38]", L2_DTYPE_BFLOAT16, API_NUMBER_OUT_OF_RANGE, "/40", 0},
    };
    struct sink s = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s.len = 0;
        put(&s, "[");
        for (int k = 0; k < 40; k++) {
            put(&s, "%.17g,", ldexp((double)(rnd() >> 11), -53) * 100);
            put_ws(&s);
        }
        size_t at = s.len;
        put(&s, "%s", cases[i].tail);
        struct outcome o;
        decode(s.buf, s.len, cases[i].dt, &o);
        cr_assert_eq(o.st, cases[i].st, "%s: %s (%s)", cases[i].tail, api_status_code(o.st),
                     o.err.detail);
        if (cases[i].pointer != NULL) {
            cr_assert_str_eq(o.err.pointer, cases[i].pointer, "%s", cases[i].tail);
        } else {
            cr_assert_eq(o.err.offset, (int64_t)at + cases[i].off, "%s: offset %lld", cases[i].tail,
                         (long long)o.err.offset);
        }
        outcome_free(&o);
        check_chunking(s.buf, s.len, cases[i].dt, 12);
    }

    /* a row longer than the first one, and a number too long, mid-run */
    s.len = 0;
    put(&s, "[[");
    for (int k = 0; k < 30; k++)
        put(&s, "%s%d", k ? ", " : "", k);
    put(&s, "], [");
    for (int k = 0; k < 31; k++)
        put(&s, "%s%d.5", k ? ", " : "", k);
    put(&s, "]]");
    struct outcome o;
    decode(s.buf, s.len, L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    cr_assert_str_eq(o.err.pointer, "/1/30");
    outcome_free(&o);
    check_chunking(s.buf, s.len, L2_DTYPE_FLOAT64, 12);

    s.len = 0;
    put(&s, "[1, 2, 3, 0.");
    for (int k = 0; k < API_JSON_MAX_NUMBER; k++)
        put(&s, "0");
    put(&s, "1, 4]");
    decode(s.buf, s.len, L2_DTYPE_FLOAT64, &o);
    cr_assert_eq(o.st, API_INVALID_TENSOR);
    cr_assert_str_eq(o.err.pointer, "/3");
    outcome_free(&o);
    free(s.buf);
}

/* Numbers of every length up to 24 digits in long runs, some past the
 * in-place path (more than 19 digits, long exponents, subnormal results):
 * exact, and the same under any chunking. */
Test(json_decode, long_runs_of_mixed_numbers)
{
    struct sink s = {0};
    for (int round = 0; round < 4; round++) {
        enum l2_dtype dt = (enum l2_dtype)round;
        struct oracle_sum sum;
        uint64_t count = 0;
        double want;
        oracle_sum_init(&sum);
        s.len = 0;
        put(&s, "[");
        for (int k = 0; k < 3000; k++) {
            char num[64];
            int prec = 1 + (int)(rnd() % 24);
            double x = ldexp((double)(rnd() >> 11), -53 + (int)(rnd() % 200) - 100);
            if (dt == L2_DTYPE_FLOAT64 && k % 50 == 0)
                x = ldexp(x, -1000); /* subnormal: the slow path */
            if (dt == L2_DTYPE_FLOAT16)
                x = ldexp(x, -90);
            snprintf(num, sizeof num, (rnd() & 1) ? "%.*g" : "%.*e", prec, (rnd() & 1) ? -x : x);
            put(&s, "%s%s", k ? "," : "", num);
            put_ws(&s);
            oracle_sum_add_sq(&sum, oracle_round_dtype(dt, strtod(num, NULL)));
            count++;
        }
        put(&s, "]");
        cr_assert(oracle_sum_round(&sum, false, &want));
        oracle_sum_free(&sum);
        struct outcome o;
        decode(s.buf, s.len, dt, &o);
        cr_assert_eq(o.st, API_OK, "%s", o.err.detail);
        cr_assert_eq(o.res.total.count, count);
        cr_assert_eq(bits_of(sum_of(&o.res.total)), bits_of(want), "dtype %d", round);
        outcome_free(&o);
        check_chunking(s.buf, s.len, dt, 6);
    }
    free(s.buf);
}

/* Named tensors of thousands of elements each (more than the decoder hands
 * the kernel at once), in every dtype: each tensor's own sum and the total
 * are exact. */
Test(json_decode, large_named_tensors_exact)
{
    struct sink s = {0};
    for (int dti = 0; dti < 4; dti++) {
        enum l2_dtype dt = (enum l2_dtype)dti;
        static const int sizes[] = {9000, 1, 4096, 4097, 0, 12345};
        double want[6];
        struct oracle_sum total;
        double want_total;
        oracle_sum_init(&total);
        s.len = 0;
        put(&s, "{\"tensors\": {");
        for (int t = 0; t < 6; t++) {
            struct oracle_sum sum;
            oracle_sum_init(&sum);
            put(&s, "%s\"t%d\": [", t ? ", " : "", t);
            for (int k = 0; k < sizes[t]; k++) {
                char num[40];
                double x = ldexp((double)(rnd() >> 11), -53 + (int)(rnd() % 20) - 10);
                snprintf(num, sizeof num, (k & 1) ? "%.9g" : "%.17g", x);
                put(&s, "%s%s", k ? ", " : "", num);
                double r = oracle_round_dtype(dt, strtod(num, NULL));
                oracle_sum_add_sq(&sum, r);
                oracle_sum_add_sq(&total, r);
            }
            put(&s, "]");
            cr_assert(oracle_sum_round(&sum, false, &want[t]));
            oracle_sum_free(&sum);
        }
        put(&s, "}}");
        cr_assert(oracle_sum_round(&total, false, &want_total));
        oracle_sum_free(&total);

        struct outcome o;
        decode(s.buf, s.len, dt, &o);
        cr_assert_eq(o.st, API_OK, "%s", o.err.detail);
        cr_assert_eq(o.res.n_tensors, 6);
        for (int t = 0; t < 6; t++) {
            cr_assert_eq(o.res.tensors[t].count, (uint64_t)sizes[t]);
            cr_assert_eq(bits_of(o.res.tensors[t].sum_squares), bits_of(want[t]),
                         "dtype %d tensor %d", dti, t);
        }
        cr_assert_eq(bits_of(sum_of(&o.res.total)), bits_of(want_total));
        outcome_free(&o);
        if (dti == 2)
            check_chunking(s.buf, s.len, dt, 4);
    }
    free(s.buf);
}

/* Between feeds the result already holds every element read so far (a
 * number cut by the chunk's end is not read yet). */
Test(json_decode, result_current_after_each_feed)
{
    struct api_result res;
    struct api_error err;
    double sum;

    api_error_init(&err);
    void *dec = json_new(&res, L2_DTYPE_FLOAT32, false);
    cr_assert_eq(json_feed(dec, "[1, 2, 3, 4", 11, 0, &err), API_OK);
    cr_assert_eq(res.total.count, 3);
    cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
    cr_assert_eq(sum, 14.0);
    cr_assert_eq(json_feed(dec, "0, 0.5", 6, 11, &err), API_OK);
    cr_assert_eq(res.total.count, 4);
    cr_assert_eq(api_json_ops.finish(dec, 17, &err), API_INVALID_JSON);
    cr_assert_eq(res.total.count, 5, "the last number is read before the body is found cut");
    cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
    cr_assert_eq(sum, 1614.25);
    api_json_ops.destroy(dec);
    api_result_free(&res);
}

/* ---- one value inside a document (api_json_value) ----------------------- */

/* Feeds doc to a value reader starting at byte `at`, cut every `step`
 * bytes; returns how many bytes the value took (SIZE_MAX on an error,
 * recorded in *err) and leaves its sum in *sum. */
static size_t value_run(const char *doc, size_t at, size_t step, enum l2_dtype dt, double *sum,
                        struct api_error *err)
{
    struct api_json_value *v;
    size_t len = strlen(doc), taken = 0;

    api_error_init(err);
    cr_assert_eq(api_json_value_new(dt, false, "/inputs/0/data", &v, err), API_OK);
    for (size_t i = at; i < len && !api_json_value_done(v); i += step) {
        size_t n = len - i < step ? len - i : step, used;
        if (api_json_value_feed(v, (const unsigned char *)doc + i, n, i, &used, err) != API_OK) {
            api_json_value_free(v);
            return SIZE_MAX;
        }
        cr_assert_leq(used, n);
        taken += used;
        if (used < n)
            cr_assert(api_json_value_done(v), "stopped early at %zu without ending the value", i);
    }
    cr_assert(api_json_value_done(v));
    cr_assert_eq(l2_accum_sum(&api_json_value_result(v)->total, sum), L2_OK);
    api_json_value_free(v);
    return taken;
}

Test(json_value, stops_right_after_the_value_in_every_chunking)
{
    static const struct {
        const char *doc;
        size_t at, len; /* the value's place in doc */
        double sum;
    } cases[] = {
        {"{\"data\": [[1, 2], [3, 4]], \"x\": 1}", 9, 16, 30.0},
        {"{\"data\":5,\"x\":1}", 8, 1, 25.0},
        {"{\"data\": -0.5e1 }", 9, 6, 25.0},
        {"[1.5]]]", 0, 5, 2.25},
        {"{\"data\": [] , \"more\": [9]}", 9, 2, 0.0},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t step = 1; step <= strlen(cases[c].doc); step++) {
            struct api_error err;
            double sum;
            size_t taken = value_run(cases[c].doc, cases[c].at, step, L2_DTYPE_FLOAT64, &sum, &err);
            cr_assert_eq(taken, cases[c].len, "case %zu, step %zu: took %zu bytes", c, step, taken);
            cr_assert_eq(sum, cases[c].sum, "case %zu, step %zu", c, step);
        }
    }
}

Test(json_value, errors_point_under_the_prefix)
{
    struct api_error err;
    double sum;

    cr_assert_eq(value_run("[1, \"a\"]", 0, 3, L2_DTYPE_FLOAT64, &sum, &err), SIZE_MAX);
    cr_assert_eq(err.status, API_INVALID_TENSOR);
    cr_assert_str_eq(err.pointer, "/inputs/0/data/1");
    cr_assert(strstr(err.detail, "/inputs/0/data/1") != NULL, "%s", err.detail);

    /* an object is not a tensor here: no named-tensor body inside a value */
    cr_assert_eq(value_run("{\"tensors\": {}}", 0, 4, L2_DTYPE_FLOAT64, &sum, &err), SIZE_MAX);
    cr_assert_eq(err.status, API_INVALID_TENSOR);
    cr_assert_str_eq(err.pointer, "/inputs/0/data");

    cr_assert_eq(value_run("[70000]", 0, 2, L2_DTYPE_FLOAT16, &sum, &err), SIZE_MAX);
    cr_assert_eq(err.status, API_NUMBER_OUT_OF_RANGE);
    cr_assert_str_eq(err.pointer, "/inputs/0/data/0");

    cr_assert_eq(value_run("[1,,2]", 0, 1, L2_DTYPE_FLOAT64, &sum, &err), SIZE_MAX);
    cr_assert_eq(err.status, API_INVALID_JSON);
    cr_assert_eq(err.offset, 3);
}

Test(json_value, rounds_to_its_dtype)
{
    struct api_error err;
    double sum;

    /* 0.1 as float32 has 24 significant bits: its square is exact in float64 */
    cr_assert_eq(value_run("[0.1]", 0, 1, L2_DTYPE_FLOAT32, &sum, &err), 5);
    cr_assert_eq(sum, (double)0.1f * (double)0.1f);
    cr_assert_eq(value_run("[0.1]", 0, 2, L2_DTYPE_FLOAT64, &sum, &err), 5);
    cr_assert_eq(sum, 0.1 * 0.1); /* one product: the exact square rounded once */
}
