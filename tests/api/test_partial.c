/* test_partial.c -- the partial encoding and /merge bodies: round trips,
 * every kind of damage refused, random splits of every dtype merged bit for
 * bit equal to the whole (through the merge decoder too), named merges,
 * merges of merges, the limits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crc32.h"
#include "api/format.h"
#include "api/merge_decode.h"
#include "api/partial.h"
#include "api/response.h"
#include "tests/support/decode.h"
#include "tests/support/rng.h"

/* ---- helpers -------------------------------------------------------------- */

static void expect_same(const struct l2_accum *a, const struct l2_accum *b, const char *what)
{
    cr_assert_eq(memcmp(a->limb, b->limb, sizeof a->limb), 0, "%s: limbs differ", what);
    cr_assert_eq(a->count, b->count, "%s: count %llu vs %llu", what, (unsigned long long)a->count,
                 (unsigned long long)b->count);
    cr_assert_eq(a->nan_count, b->nan_count, "%s: nan_count", what);
    cr_assert_eq(a->inf_count, b->inf_count, "%s: inf_count", what);
    cr_assert_eq(memcmp(&a->max_abs, &b->max_abs, sizeof a->max_abs), 0, "%s: max_abs %a vs %a",
                 what, a->max_abs, b->max_abs);
}

static void round_trip(const struct l2_accum *acc)
{
    char text[API_PARTIAL_TEXT_MAX + 1];
    struct l2_accum back;
    struct api_error err;
    size_t len = api_partial_encode(acc, text);

    api_error_init(&err);
    cr_assert_eq(len, strlen(text));
    cr_assert_leq(len, API_PARTIAL_TEXT_MAX);
    cr_assert_eq(memcmp(text, API_PARTIAL_PREFIX, API_PARTIAL_PREFIX_LEN), 0);
    cr_assert_eq(api_partial_decode(text, len, &back, &err), API_OK, "%s: %s", text, err.detail);
    expect_same(acc, &back, text);
}

/* Decodes the raw body b[0..n) of dtype, counting NaN/Inf, into *acc. */
static void raw_accum(enum l2_dtype dtype, const unsigned char *b, size_t n, struct l2_accum *acc)
{
    struct api_decode_opts opts = {dtype, true, true, 0, NULL};
    struct api_result res;
    struct api_error err;

    cr_assert_eq(decode_chunked(&api_raw_ops, &opts, b, n, WHOLE, 1, 1, &res, &err), API_OK, "%s",
                 err.detail);
    *acc = res.total;
    api_result_free(&res);
}

/* Runs the merge decoder over body (chunked per how) into *res. */
static enum api_status merge_body(const char *body, enum chunking how, uint64_t seed,
                                  struct api_result *res, struct api_error *err)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};

    return decode_chunked(&api_merge_ops, &opts, body, strlen(body), how, seed, 7, res, err);
}

/* Random element bits of dtype: mostly finite values of every magnitude,
 * some zeros, NaNs and infinities. */
static void random_elements(enum l2_dtype dtype, unsigned char *b, size_t n, uint64_t *s)
{
    size_t size = l2_dtype_size(dtype);

    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng_xorshift64s(s);
        if (r % 17 == 0)
            r = 0;
        memcpy(b + i * size, &r, size);
    }
}

/* ---- the encoding ----------------------------------------------------------- */

Test(partial, round_trip_edges)
{
    struct l2_accum acc;

    l2_accum_init(&acc);
    round_trip(&acc); /* empty */
    l2_accum_add(&acc, 0.0);
    round_trip(&acc); /* zeros */
    l2_accum_add(&acc, 4.9406564584124654e-324);
    round_trip(&acc); /* the smallest square: the lowest limb */
    l2_accum_add(&acc, 1.7976931348623157e308);
    round_trip(&acc); /* every limb between */
    l2_accum_add_nonfinite(&acc, NAN);
    l2_accum_add_nonfinite(&acc, -INFINITY);
    round_trip(&acc);
    cr_assert_eq(acc.nan_count, 1);
    cr_assert_eq(acc.inf_count, 1);
}

Test(partial, round_trip_random_every_dtype)
{
    uint64_t s = 0x9e3779b97f4a7c15u;
    unsigned char buf[8 * 300];

    for (int d = 0; d < L2_DTYPE_COUNT; d++) {
        for (int k = 0; k < 200; k++) {
            struct l2_accum acc;
            size_t n = rng_xorshift64s(&s) % 300;

            random_elements((enum l2_dtype)d, buf, n, &s);
            raw_accum((enum l2_dtype)d, buf, n * l2_dtype_size((enum l2_dtype)d), &acc);
            round_trip(&acc);
        }
    }
}

/* A short partial of ordinary data, and the longest one, fit the documented bound. */
Test(partial, lengths)
{
    char text[API_PARTIAL_TEXT_MAX + 1];
    struct l2_accum acc;

    l2_accum_init(&acc);
    for (int i = 1; i <= 1000; i++)
        l2_accum_add(&acc, (double)i / 7.0f);
    cr_assert_lt(api_partial_encode(&acc, text), 200, "%s", text);
    for (int i = 0; i < L2_ACCUM_LIMBS; i++)
        acc.limb[i] = ~0ull;
    cr_assert_eq(api_partial_encode(&acc, text), API_PARTIAL_TEXT_MAX);
}

/* ---- damage --------------------------------------------------------------- */

static void expect_invalid(const char *s, size_t len, const char *needle)
{
    struct l2_accum acc;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_partial_decode(s, len, &acc, &err), API_INVALID_PARTIAL, "accepted: %.*s",
                 (int)len, s);
    cr_assert_eq(err.status, API_INVALID_PARTIAL);
    if (needle != NULL)
        cr_assert_not_null(strstr(err.detail, needle), "detail '%s' lacks '%s'", err.detail,
                           needle);
}

/* A partial made of the record bytes rec[0..n) with a correct CRC appended
 * (when crc is true), base64url-encoded as the encoder does. */
static size_t forge(const unsigned char *rec, size_t n, bool crc, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char full[API_PARTIAL_RECORD_MAX + 8];
    size_t o = API_PARTIAL_PREFIX_LEN, i;
    uint32_t c;

    memcpy(full, rec, n);
    if (crc) {
        c = api_crc32(0, rec, n);
        for (i = 0; i < 4; i++)
            full[n++] = (unsigned char)(c >> (8 * i));
    }
    memcpy(out, API_PARTIAL_PREFIX, API_PARTIAL_PREFIX_LEN);
    for (i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)full[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)full[i + 1] << 8;
        if (i + 2 < n)
            v |= full[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return o;
}

/* The record of acc, without its CRC, in rec; returns its length. */
static size_t record_of(const struct l2_accum *acc, unsigned char *rec)
{
    char text[API_PARTIAL_TEXT_MAX + 1];
    size_t len = api_partial_encode(acc, text), n = 0;
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc_bits = 0;
    int have = 0;

    for (size_t i = API_PARTIAL_PREFIX_LEN; i < len; i++) {
        acc_bits = acc_bits << 6 | (uint32_t)(strchr(a, text[i]) - a);
        have += 6;
        if (have >= 8) {
            rec[n++] = (unsigned char)(acc_bits >> (have - 8));
            have -= 8;
        }
    }
    return n - 4;
}

Test(partial, every_byte_flip_truncation_and_extension_refused)
{
    char text[API_PARTIAL_TEXT_MAX + 1], bad[API_PARTIAL_TEXT_MAX + 8];
    struct l2_accum acc;
    size_t len;

    l2_accum_init(&acc);
    for (int i = 0; i < 50; i++)
        l2_accum_add(&acc, 1.0 / (i + 1));
    len = api_partial_encode(&acc, text);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(bad, text, len);
            bad[i] = (char)(bad[i] ^ (1 << bit));
            expect_invalid(bad, len, NULL);
        }
    }
    for (size_t n = 0; n < len; n++)
        expect_invalid(text, n, NULL);
    for (const char *tail = "AB=-_."; *tail != '\0'; tail++) {
        memcpy(bad, text, len);
        bad[len] = *tail;
        expect_invalid(bad, len + 1, NULL);
    }
    memcpy(bad, text, len);
    memcpy(bad + len, "==", 2);
    expect_invalid(bad, len + 2, "base64url");
    expect_invalid("", 0, "not a partial");
    expect_invalid("hello", 5, "not a partial");
    expect_invalid("l2p2.AQAA", 9, "another version");
    expect_invalid("l2p1.", 5, "truncated");
}

Test(partial, foreign_version_and_forged_fields)
{
    unsigned char rec[API_PARTIAL_RECORD_MAX], r2[API_PARTIAL_RECORD_MAX];
    char text[API_PARTIAL_TEXT_MAX + 8];
    struct l2_accum acc;
    size_t n, len;

    l2_accum_init(&acc);
    l2_accum_add(&acc, 3.0);
    l2_accum_add(&acc, 4.0);
    n = record_of(&acc, rec);
    len = forge(rec, n, true, text);
    struct l2_accum back;
    cr_assert_eq(api_partial_decode(text, len, &back, NULL), API_OK, "the forger agrees");
    expect_same(&acc, &back, "forged copy");

#define FORGED(edit, needle)                                                                       \
    do {                                                                                           \
        memcpy(r2, rec, n);                                                                        \
        edit;                                                                                      \
        len = forge(r2, n, true, text);                                                            \
        expect_invalid(text, len, needle);                                                         \
    } while (0)

    FORGED(r2[0] = 2, "another version (2)");
    FORGED(r2[0] = 0, "another version (0)");
    FORGED(r2[1] = 1, "header");
    FORGED(r2[2] = (unsigned char)(L2_ACCUM_LIMBS), "header");
    FORGED(r2[3] = (unsigned char)(r2[3] + 1), "length");
    FORGED(r2[4] = 0, "inconsistent");                      /* count 0 with a sum */
    FORGED(r2[12] = 3, "inconsistent");                     /* more NaNs than elements */
    FORGED(r2[35] = 0x80, "inconsistent");                  /* max_abs negative */
    FORGED((r2[34] = 0xf0, r2[35] = 0x7f), "inconsistent"); /* max_abs infinite */
    FORGED((r2[34] = 0xf8, r2[35] = 0x7f), "inconsistent"); /* max_abs NaN */
    FORGED(r2[35] = 0x3f, "inconsistent");                  /* max_abs 1.x: 1.x^2 < 25 <= 2 x 4 */
    FORGED(r2[35] = 0x50, "inconsistent");                  /* max_abs huge: its square > the sum */
    /* with the CRC not recomputed, any change is a checksum error */
    memcpy(r2, rec, n + 4);
    r2[n - 1] ^= 1;
    len = forge(r2, n + 4, false, text); /* the record's own, now wrong, CRC */
    expect_invalid(text, len, "checksum");
#undef FORGED
}

/* Untrimmed limbs (a zero limb kept at either end) are another spelling. */
Test(partial, untrimmed_refused)
{
    unsigned char rec[API_PARTIAL_RECORD_MAX], r2[API_PARTIAL_RECORD_MAX + 8];
    char text[API_PARTIAL_TEXT_MAX + 16];
    struct l2_accum acc;
    size_t n, len;

    l2_accum_init(&acc);
    l2_accum_add(&acc, 3.0);
    n = record_of(&acc, rec);
    cr_assert_eq(rec[3], 1);
    memcpy(r2, rec, n);
    r2[3] = 2; /* one more limb, zero, above */
    memset(r2 + n, 0, 8);
    len = forge(r2, n + 8, true, text);
    expect_invalid(text, len, "trimmed");
    memcpy(r2, rec, 36);
    r2[2] = (unsigned char)(rec[2] - 1); /* one more limb, zero, below */
    r2[3] = 2;
    memset(r2 + 36, 0, 8);
    memcpy(r2 + 44, rec + 36, 8);
    len = forge(r2, n + 8, true, text);
    expect_invalid(text, len, "trimmed");
}

/* ---- merging -------------------------------------------------------------- */

/* Random splits of random data of every dtype: the partials of the parts,
 * decoded and merged in a random order (and through a /merge body), give
 * the whole's state bit for bit, and so the same figures. */
Test(partial, random_splits_merge_to_the_whole)
{
    uint64_t s = 0x1234abcdu;
    unsigned char buf[8 * 400];
    const size_t bcap = 64 * (API_PARTIAL_TEXT_MAX + 8) + 64;
    char *body = malloc(bcap);

    cr_assert_not_null(body);
    for (int d = 0; d < L2_DTYPE_COUNT; d++) {
        enum l2_dtype dtype = (enum l2_dtype)d;
        size_t size = l2_dtype_size(dtype);

        for (int k = 0; k < 60; k++) {
            size_t n = rng_xorshift64s(&s) % 400, parts = 1 + rng_xorshift64s(&s) % 40, at = 0;
            size_t cut[64], blen;
            struct l2_accum whole, merged, part, dec;
            struct api_result res;
            struct api_error err;
            char text[API_PARTIAL_TEXT_MAX + 1];

            random_elements(dtype, buf, n, &s);
            raw_accum(dtype, buf, n * size, &whole);
            for (size_t p = 0; p + 1 < parts; p++)
                cut[p] = rng_xorshift64s(&s) % (n + 1);
            cut[parts - 1] = n;
            l2_accum_init(&merged);
            blen = (size_t)snprintf(body, 32, "{\"partials\": [");
            for (size_t p = 0; p < parts; p++) {
                size_t end = cut[p] < at ? at : cut[p];

                raw_accum(dtype, buf + at * size, (end - at) * size, &part);
                api_partial_encode(&part, text);
                cr_assert_eq(api_partial_decode(text, strlen(text), &dec, NULL), API_OK);
                cr_assert(api_partial_merge(&merged, &dec));
                blen += (size_t)snprintf(body + blen, bcap - blen, "%s\"%s\"", p ? ", " : "", text);
                at = end;
            }
            snprintf(body + blen, bcap - blen, "]}");
            expect_same(&whole, &merged, l2_dtype_name(dtype));
            cr_assert_eq(merge_body(body, RANDOM, s, &res, &err), API_OK, "%s", err.detail);
            expect_same(&whole, &res.total, "through /merge");
            cr_assert(res.merged);
            cr_assert_not(res.named);
            api_result_free(&res);
        }
    }
    free(body);
}

static void partial_of(const double *v, size_t n, char *text)
{
    struct l2_accum acc;

    l2_accum_init(&acc);
    for (size_t i = 0; i < n; i++)
        l2_accum_add(&acc, v[i]);
    api_partial_encode(&acc, text);
}

/* Named merges: one tensor per name in the order sent, each the merge of
 * its list, the total the merge of all; a merge's own partial merges again
 * (associativity). */
Test(partial, named_merge_and_merges_of_merges)
{
    static const double a1[] = {1, 2}, a2[] = {3}, b1[] = {0.1, 1e-300}, b2[] = {7};
    char pa1[800], pa2[800], pb1[800], pb2[800], body[8192], total[800];
    struct api_result res, res2;
    struct api_error err;
    struct l2_accum whole;
    char *out = NULL;
    size_t len;

    partial_of(a1, 2, pa1);
    partial_of(a2, 1, pa2);
    partial_of(b1, 2, pb1);
    partial_of(b2, 1, pb2);
    snprintf(body, sizeof body,
             " { \"partials\" : { \"a\" : [\"%s\", \"%s\"], \"b/\\u00e9\": [\"%s\",\"%s\"], "
             "\"empty\": [] } } ",
             pa1, pa2, pb1, pb2);
    cr_assert_eq(merge_body(body, BYTES, 1, &res, &err), API_OK, "%s", err.detail);
    cr_assert(res.named);
    cr_assert_eq(res.n_tensors, 3);
    cr_assert_str_eq(res.tensors[0].name, "a");
    cr_assert_str_eq(res.tensors[1].name, "b/\xc3\xa9");
    cr_assert_str_eq(res.tensors[2].name, "empty");
    cr_assert_eq(res.tensors[0].sum_squares, 14.0);
    cr_assert_eq(res.tensors[0].count, 3);
    cr_assert_eq(res.tensors[2].count, 0);
    l2_accum_init(&whole);
    for (int i = 0; i < 2; i++)
        l2_accum_add(&whole, a1[i]), l2_accum_add(&whole, b1[i]);
    l2_accum_add(&whole, a2[0]);
    l2_accum_add(&whole, b2[0]);
    expect_same(&whole, &res.total, "named total");

    res.want_partial = true;
    cr_assert_eq(api_response_encode(&res, NULL, &out, &len, &err), API_OK);
    cr_assert_null(strstr(out, "\"shape\""), "%s", out);
    cr_assert_null(strstr(out, "\"dtype\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"nan_count\": 0"), "%s", out);
    cr_assert_not_null(strstr(out, "\"partial\": \"l2p1."), "%s", out);
    free(out);

    /* The merge's partial, merged with nothing else, and as two halves. */
    api_partial_encode(&res.total, total);
    snprintf(body, sizeof body, "{\"partials\": [\"%s\"]}", total);
    cr_assert_eq(merge_body(body, WHOLE, 1, &res2, &err), API_OK, "%s", err.detail);
    expect_same(&whole, &res2.total, "merge of a merge");
    api_result_free(&res2);
    api_partial_encode(res.tensors[0].exact, pa1);
    api_partial_encode(res.tensors[1].exact, pb1);
    api_result_free(&res);
    char empty[800];
    struct l2_accum zero;
    l2_accum_init(&zero);
    api_partial_encode(&zero, empty);
    snprintf(body, sizeof body, "{\"partials\": [\"%s\", \"%s\", \"%s\"]}", pb1, empty, pa1);
    cr_assert_eq(merge_body(body, RANDOM, 9, &res2, &err), API_OK, "%s", err.detail);
    expect_same(&whole, &res2.total, "merge of per-name merges");
    api_result_free(&res2);
}

/* What /merge refuses, and where it points. */
Test(partial, merge_body_errors)
{
    static const struct {
        const char *body;
        enum api_status st;
        const char *pointer; /* NULL: none */
        int64_t offset;      /* -1: none */
    } cases[] = {
        {"", API_INVALID_JSON, NULL, 0},
        {"{", API_INVALID_JSON, NULL, 1},
        {"{\"partials\": [", API_INVALID_JSON, NULL, 14},
        {"{\"partials\": []} x", API_INVALID_JSON, NULL, 17},
        {"{\"partials\": [\"a\\q\"]}", API_INVALID_JSON, NULL, 17},
        {"{\"partials\": [\"\xff\"]}", API_INVALID_JSON, NULL, 15},
        {"{\"partials\": [\"\\ud800\"]}", API_INVALID_JSON, NULL, -2},
        {"{\"partials\": [] \"x\"}", API_INVALID_JSON, NULL, 16},
        {"{}", API_INVALID_PARTIAL, NULL, -1},
        {"[]", API_INVALID_PARTIAL, NULL, -1},
        {"{\"tensors\": []}", API_INVALID_PARTIAL, NULL, -1},
        {"{\"partials\": [], \"partials\": []}", API_INVALID_PARTIAL, "/partials", -1},
        {"{\"partials\": 3}", API_INVALID_PARTIAL, "/partials", -1},
        {"{\"partials\": [1]}", API_INVALID_PARTIAL, "/partials/0", -1},
        {"{\"partials\": [\"x\"]}", API_INVALID_PARTIAL, "/partials/0", -1},
        {"{\"partials\": {\"a\": [\"l2p1.\"]}}", API_INVALID_PARTIAL, "/partials/a/0", -1},
        {"{\"partials\": {\"a/b~\": [null]}}", API_INVALID_PARTIAL, "/partials/a~1b~0/0", -1},
        {"{\"partials\": {\"a\": \"x\"}}", API_INVALID_PARTIAL, "/partials/a", -1},
        {"{\"partials\": {\"a\": [], \"a\": []}}", API_INVALID_TENSOR, "/partials/a", -1},
        {"{\"partials\": {\"\": []}}", API_INVALID_TENSOR, "/partials/", -1},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_result res;
        struct api_error err;
        enum api_status st = merge_body(cases[i].body, RANDOM, i, &res, &err);

        cr_expect_eq(st, cases[i].st, "case %zu %s: %s (%s)", i, cases[i].body, api_status_code(st),
                     err.detail);
        if (cases[i].pointer != NULL) {
            cr_expect(err.has_pointer, "case %zu: no pointer", i);
            cr_expect_str_eq(err.pointer, cases[i].pointer, "case %zu", i);
        }
        if (cases[i].offset >= 0)
            cr_expect_eq(err.offset, cases[i].offset, "case %zu: offset %lld", i,
                         (long long)err.offset);
        api_result_free(&res);
    }
}

/* Past API_MERGE_MAX_PARTIALS partials: payload_too_large. */
Test(partial, too_many_partials)
{
    char empty[API_PARTIAL_TEXT_MAX + 1];
    struct l2_accum zero;
    size_t len, item, n = API_MERGE_MAX_PARTIALS + 1, pos = 0;
    char *body;
    struct api_result res;
    struct api_error err;

    l2_accum_init(&zero);
    len = api_partial_encode(&zero, empty);
    item = len + 4;
    const size_t bcap = n * item + 64;
    body = malloc(bcap);
    cr_assert_not_null(body);
    pos += (size_t)snprintf(body, bcap, "{\"partials\": [");
    for (size_t i = 0; i < n; i++)
        pos += (size_t)snprintf(body + pos, bcap - pos, "%s\"%s\"", i ? ", " : "", empty);
    snprintf(body + pos, bcap - pos, "]}");
    cr_assert_eq(merge_body(body, WHOLE, 1, &res, &err), API_PAYLOAD_TOO_LARGE, "%s", err.detail);
    api_result_free(&res);
    /* exactly the limit is fine */
    pos = (size_t)(strrchr(body, ',') - body);
    snprintf(body + pos, bcap - pos, "]}");
    cr_assert_eq(merge_body(body, WHOLE, 1, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.total.count, 0);
    api_result_free(&res);
    free(body);
}

/* A merged count past 2^64 - 1 is refused, not wrapped. */
Test(partial, count_overflow)
{
    struct l2_accum a;

    l2_accum_init(&a);
    a.count = UINT64_MAX;
    struct l2_accum b = a;
    b.count = 1;
    cr_assert_not(api_partial_merge(&a, &b));
    cr_assert_eq(a.count, UINT64_MAX);
    b.count = 0;
    cr_assert(api_partial_merge(&a, &b));
}

/* A damaged record says it is damaged, whatever its first byte became:
 * the length and checksum are checked before the record's version. */
Test(partial, damage_reported_before_version)
{
    struct l2_accum acc, got;
    struct api_error err;
    char text[API_PARTIAL_TEXT_MAX + 1];
    size_t n;

    api_error_init(&err);
    cr_assert_eq(api_partial_decode("l2p1.AAAA", 9, &got, &err), API_INVALID_PARTIAL);
    cr_assert_not_null(strstr(err.detail, "truncated"), "%s", err.detail);
    l2_accum_init(&acc);
    l2_accum_add(&acc, 3.0);
    n = api_partial_encode(&acc, text);
    text[5] = text[5] == 'A' ? 'B' : 'A'; /* the version byte's bits */
    api_error_init(&err);
    cr_assert_eq(api_partial_decode(text, n, &got, &err), API_INVALID_PARTIAL);
    cr_assert_not_null(strstr(err.detail, "corrupted"), "%s", err.detail);
}
