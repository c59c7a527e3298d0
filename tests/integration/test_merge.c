/* test_merge.c -- partials and /merge against the real binary: tensors and
 * checkpoints split at random over many requests of every format (raw,
 * .npy, JSON, safetensors, .npz, the inference protocol) with
 * ?partial=true, merged with POST /merge (flat and named, with a scale, and
 * merges of merges), give bit for bit the answer -- and the partial -- of
 * one request holding everything. Also the errors: invalid_partial with its
 * pointer, 415, the partial limit (413), the query checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <zlib.h>

#include "harness.h"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(merge, .init = start_default, .fini = it_teardown, .timeout = 120);

/* ---- bodies and answers ------------------------------------------------------ */

/* A growable text buffer. */
struct buf {
    char *p;
    size_t n, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* n float32 values of every magnitude and sign (finite). */
static float *random_floats(size_t n)
{
    float *v = malloc(n * sizeof *v + 1);

    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)rnd();
        if ((bits & 0x7f800000u) == 0x7f800000u)
            bits &= ~0x40000000u; /* not NaN or infinity */
        memcpy(&v[i], &bits, sizeof bits);
    }
    return v;
}

/* k - 1 sorted random cut points in [0, n], with cut[0] = 0, cut[k] = n. */
static void random_cuts(size_t n, size_t k, size_t *cut)
{
    cut[0] = 0;
    cut[k] = n;
    for (size_t i = 1; i < k; i++)
        cut[i] = (size_t)(rnd() % (n + 1));
    for (size_t i = 1; i < k; i++) /* insertion sort */
        for (size_t j = i; j > 1 && cut[j - 1] > cut[j]; j--) {
            size_t t = cut[j];
            cut[j] = cut[j - 1];
            cut[j - 1] = t;
        }
}

/* POSTs and asserts a 200 JSON answer; returns it parsed. */
static json_t *post_ok(const char *target, const char *ct, const void *body, size_t len)
{
    struct it_response r;
    json_t *j;

    it_post(srv.port, target, ct, body, len, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %.*s", target, r.status, (int)r.body_len, r.body);
    j = it_json(&r);
    it_response_free(&r);
    return j;
}

/* The "partial" string of obj, copied into the list body b (with a comma
 * when not first). */
static void add_partial(struct buf *b, const json_t *obj, bool first)
{
    const char *p = json_string_value(json_object_get(obj, "partial"));

    cr_assert_not_null(p, "no partial");
    cr_assert_eq(strncmp(p, "l2p1.", 5), 0, "%s", p);
    if (!first)
        buf_str(b, ", ");
    buf_str(b, "\"");
    buf_str(b, p);
    buf_str(b, "\"");
}

/* Asserts the result objects a (one request) and m (a merge) agree bit for
 * bit on every figure and, when both have one, on the partial. */
static void expect_same(const json_t *a, const json_t *m, const char *what)
{
    static const char *const reals[] = {"loss", "sum_squares", "norm", "max_abs"};

    for (size_t i = 0; i < 4; i++) {
        const json_t *x = json_object_get(a, reals[i]), *y = json_object_get(m, reals[i]);
        double dx = json_real_value(x), dy = json_real_value(y);

        cr_assert(json_is_real(x) && json_is_real(y), "%s: %s", what, reals[i]);
        cr_assert_eq(memcmp(&dx, &dy, sizeof dx), 0, "%s: %s %.17g vs %.17g", what, reals[i], dx,
                     dy);
    }
    cr_assert_eq(json_integer_value(json_object_get(a, "count")),
                 json_integer_value(json_object_get(m, "count")), "%s: count", what);
    cr_assert_null(json_object_get(m, "shape"), "%s: a merge has no shape", what);
    if (json_object_get(a, "partial") != NULL && json_object_get(m, "partial") != NULL)
        cr_assert_str_eq(json_string_value(json_object_get(a, "partial")),
                         json_string_value(json_object_get(m, "partial")), "%s: partial", what);
}

/* Merges the flat list of partials in b (its items; wraps them) and checks
 * it against whole. */
static void merge_and_compare(const struct buf *items, const json_t *whole, const char *what)
{
    struct buf body = {0};
    json_t *m;

    buf_str(&body, "{\"partials\": [");
    if (items->n)
        buf_add(&body, items->p, items->n);
    buf_str(&body, "]}");
    m = post_ok("/merge?partial=true", "application/json", body.p, body.n);
    expect_same(whole, m, what);
    json_decref(m);
    free(body.p);
}

/* ---- one tensor split over requests of each format -------------------------- */

static json_t *post_raw(const float *v, size_t n)
{
    return post_ok("/l2_loss?dtype=float32&partial=true", "application/octet-stream", v,
                   n * sizeof *v);
}

static json_t *post_npy(const float *v, size_t n)
{
    char shape[32];
    size_t len;
    unsigned char *f;
    json_t *j;

    snprintf(shape, sizeof shape, "(%zu,)", n);
    f = it_npy(1, "<f4", shape, v, n * sizeof *v, &len);
    j = post_ok("/l2_loss?partial=true", "application/x-npy", f, len);
    free(f);
    return j;
}

static json_t *post_json(const float *v, size_t n)
{
    struct buf b = {0};
    char num[40];
    json_t *j;

    buf_str(&b, "[");
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%s%.9g", i ? "," : "", (double)v[i]);
        buf_str(&b, num);
    }
    buf_str(&b, "]");
    j = post_ok("/l2_loss?dtype=float32&partial=true", "application/json", b.p, b.n);
    free(b.p);
    return j;
}

/* A safetensors file of one F32 tensor "w". */
static json_t *post_safetensors(const float *v, size_t n)
{
    char header[160];
    struct buf b = {0};
    unsigned char len8[8];
    size_t hl;
    json_t *j, *t;

    hl = (size_t)snprintf(header, sizeof header,
                          "{\"w\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}}", n,
                          n * sizeof *v);
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    buf_add(&b, len8, 8);
    buf_add(&b, header, hl);
    buf_add(&b, v, n * sizeof *v);
    j = post_ok("/l2_loss?partial=true", "application/x-safetensors", b.p, b.n);
    free(b.p);
    /* the tensor's own partial is the total's: one tensor */
    t = json_object_get(json_object_get(j, "tensors"), "w");
    cr_assert_not_null(t);
    cr_assert_str_eq(json_string_value(json_object_get(t, "partial")),
                     json_string_value(json_object_get(j, "partial")));
    return j;
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

/* A stored .npz of one member "w.npy" holding v. */
static json_t *post_npz(const float *v, size_t n)
{
    char shape[32];
    size_t npy_len;
    unsigned char *npy, lh[30] = {0}, cd[46] = {0}, eocd[22] = {0};
    struct buf b = {0};
    uint32_t crc;
    json_t *j;

    snprintf(shape, sizeof shape, "(%zu,)", n);
    npy = it_npy(1, "<f4", shape, v, n * sizeof *v, &npy_len);
    crc = (uint32_t)crc32(0, npy, (uInt)npy_len);
    put32(lh, 0x04034b50);
    put16(lh + 4, 20);
    put32(lh + 14, crc);
    put32(lh + 18, (uint32_t)npy_len);
    put32(lh + 22, (uint32_t)npy_len);
    put16(lh + 26, 5);
    buf_add(&b, lh, sizeof lh);
    buf_add(&b, "w.npy", 5);
    buf_add(&b, npy, npy_len);
    put32(cd, 0x02014b50);
    put16(cd + 4, 20);
    put16(cd + 6, 20);
    put32(cd + 16, crc);
    put32(cd + 20, (uint32_t)npy_len);
    put32(cd + 24, (uint32_t)npy_len);
    put16(cd + 28, 5);
    size_t cd_at = b.n;
    buf_add(&b, cd, sizeof cd);
    buf_add(&b, "w.npy", 5);
    put32(eocd, 0x06054b50);
    put16(eocd + 8, 1);
    put16(eocd + 10, 1);
    put32(eocd + 12, (uint32_t)(b.n - cd_at));
    put32(eocd + 16, (uint32_t)cd_at);
    buf_add(&b, eocd, sizeof eocd);
    j = post_ok("/l2_loss?partial=true", "application/x-npz", b.p, b.n);
    free(npy);
    free(b.p);
    return j;
}

/* An infer request with v as one FP32 input (binary data); the answer's
 * partial output becomes a result-like object with "partial" and the
 * figures, so it compares as the others do. */
static json_t *post_v2(const float *v, size_t n)
{
    char head[512];
    char hl_line[96];
    const char *headers[] = {hl_line, NULL};
    struct buf b = {0};
    struct it_response r;
    struct it_request req = {.method = "POST",
                             .target = "/v2/models/l2_loss/infer",
                             .content_type = "application/octet-stream",
                             .headers = headers};
    json_t *ans, *out = json_object();
    size_t hl;

    hl = (size_t)snprintf(head, sizeof head,
                          "{\"parameters\": {\"partial\": true}, \"inputs\": [{\"name\": \"w\", "
                          "\"shape\": [%zu], \"datatype\": \"FP32\", \"parameters\": "
                          "{\"binary_data_size\": %zu}}]}",
                          n, n * sizeof *v);
    snprintf(hl_line, sizeof hl_line, "Inference-Header-Content-Length: %zu", hl);
    buf_add(&b, head, hl);
    buf_add(&b, v, n * sizeof *v);
    req.body = b.p;
    req.body_len = b.n;
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(r.status, 200, "%.*s", (int)r.body_len, r.body);
    ans = it_json(&r);
    it_response_free(&r);
    free(b.p);
    json_t *outputs = json_object_get(ans, "outputs");
    size_t i;
    json_t *o;
    json_array_foreach(outputs, i, o)
    {
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *first = json_array_get(json_object_get(o, "data"), 0);

        if (strcmp(name, "partial") == 0) {
            cr_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "BYTES");
            json_object_set(out, "partial", first);
        } else if (strcmp(name, "input_partial") == 0) {
            cr_assert_str_eq(json_string_value(first),
                             json_string_value(json_object_get(out, "partial")));
        } else if (strcmp(name, "loss") == 0 || strcmp(name, "sum_squares") == 0 ||
                   strcmp(name, "norm") == 0 || strcmp(name, "max_abs") == 0 ||
                   strcmp(name, "count") == 0) {
            json_object_set(out, name, first);
        }
    }
    cr_assert_not_null(json_object_get(out, "partial"), "no partial output");
    json_decref(ans);
    return out;
}

typedef json_t *(*poster)(const float *v, size_t n);

/* Splits v at random into up to 12 parts, posts each with post, merges the
 * partials and compares with one request of everything (made with post). */
static void split_and_merge(poster post, const char *what, size_t n, int rounds)
{
    float *v = random_floats(n);
    json_t *whole = post(v, n);

    for (int k = 0; k < rounds; k++) {
        size_t parts = 1 + (size_t)(rnd() % 12), cut[16];
        struct buf items = {0};

        random_cuts(n, parts, cut);
        for (size_t p = 0; p < parts; p++) {
            json_t *part = post(v + cut[p], cut[p + 1] - cut[p]);
            add_partial(&items, part, p == 0);
            json_decref(part);
        }
        merge_and_compare(&items, whole, what);
        free(items.p);
    }
    json_decref(whole);
    free(v);
}

Test(merge, raw_split)
{
    split_and_merge(post_raw, "raw", 5000, 4);
}

Test(merge, npy_split)
{
    split_and_merge(post_npy, "npy", 3000, 3);
}

Test(merge, json_split)
{
    split_and_merge(post_json, "json", 2000, 3);
}

Test(merge, safetensors_split)
{
    split_and_merge(post_safetensors, "safetensors", 3000, 3);
}

Test(merge, npz_split)
{
    split_and_merge(post_npz, "npz", 3000, 3);
}

Test(merge, v2_split)
{
    split_and_merge(post_v2, "v2", 3000, 3);
}

/* Parts sent in different formats merge as well: it is one sum. */
Test(merge, formats_mixed)
{
    static const poster posts[] = {post_raw,         post_npy, post_json,
                                   post_safetensors, post_npz, post_v2};
    size_t n = 6000, cut[7];
    float *v = random_floats(n);
    json_t *whole = post_raw(v, n);
    struct buf items = {0};

    random_cuts(n, 6, cut);
    for (size_t p = 0; p < 6; p++) {
        json_t *part = posts[p](v + cut[p], cut[p + 1] - cut[p]);
        add_partial(&items, part, p == 0);
        json_decref(part);
    }
    merge_and_compare(&items, whole, "mixed formats");
    free(items.p);
    json_decref(whole);
    free(v);
}

/* ---- named merges, scale, merges of merges --------------------------------- */

/* A checkpoint of three named tensors in one request, against the named
 * merge of their partials from requests that each hold part of one tensor;
 * then /merge?scale= against /regularize?scale=; then a merge of the named
 * merge's per-tensor partials and of its total. */
Test(merge, named_scale_and_merges_of_merges)
{
    static const char *const names[] = {"dense/kernel", "dense/bias", "emb~1"};
    const size_t sizes[] = {1500, 7, 900};
    float *v[3];
    struct buf whole_body = {0}, named = {0};
    json_t *whole, *whole_reg, *m, *mr, *again;
    char num[40];

    buf_str(&whole_body, "{\"tensors\": {");
    buf_str(&named, "{\"partials\": {");
    for (int t = 0; t < 3; t++) {
        size_t cut[8], parts = 1 + (size_t)(rnd() % 6);
        struct buf items = {0};

        v[t] = random_floats(sizes[t]);
        snprintf(num, sizeof num, "%s\"%s\": [", t ? ", " : "", names[t]);
        buf_str(&whole_body, num);
        for (size_t i = 0; i < sizes[t]; i++) {
            snprintf(num, sizeof num, "%s%.9g", i ? "," : "", (double)v[t][i]);
            buf_str(&whole_body, num);
        }
        buf_str(&whole_body, "]");
        random_cuts(sizes[t], parts, cut);
        for (size_t p = 0; p < parts; p++) {
            json_t *part = post_raw(v[t] + cut[p], cut[p + 1] - cut[p]);
            add_partial(&items, part, p == 0);
            json_decref(part);
        }
        snprintf(num, sizeof num, "%s\"%s\": [", t ? ", " : "", names[t]);
        buf_str(&named, num);
        buf_add(&named, items.p, items.n);
        buf_str(&named, "]");
        free(items.p);
    }
    buf_str(&whole_body, "}}");
    buf_str(&named, "}}");

    whole = post_ok("/l2_loss?dtype=float32&partial=true", "application/json", whole_body.p,
                    whole_body.n);
    m = post_ok("/merge?partial=true", "application/json", named.p, named.n);
    expect_same(whole, m, "named total");
    for (int t = 0; t < 3; t++) {
        json_t *a = json_object_get(json_object_get(whole, "tensors"), names[t]);
        json_t *b = json_object_get(json_object_get(m, "tensors"), names[t]);
        cr_assert_not_null(b, "%s missing", names[t]);
        expect_same(a, b, names[t]);
    }
    cr_assert_null(json_object_get(m, "dtype"));

    whole_reg = post_ok("/regularize?dtype=float32&scale=0.01", "application/json", whole_body.p,
                        whole_body.n);
    mr = post_ok("/merge?scale=0.01", "application/json", named.p, named.n);
    expect_same(whole_reg, mr, "scaled");
    it_expect_real(mr, "scale", 0.01);
    for (int t = 0; t < 3; t++)
        expect_same(json_object_get(json_object_get(whole_reg, "tensors"), names[t]),
                    json_object_get(json_object_get(mr, "tensors"), names[t]), names[t]);
    json_decref(mr);
    mr = post_ok("/merge?scale=0.0", "application/json", named.p, named.n);
    it_expect_real(mr, "loss", 0.0);
    cr_assert(json_is_true(json_object_get(mr, "disabled")));
    json_decref(mr);

    /* merges of merges: the per-tensor partials of the named merge, flat */
    struct buf items = {0};
    for (int t = 0; t < 3; t++)
        add_partial(&items, json_object_get(json_object_get(m, "tensors"), names[t]), t == 0);
    merge_and_compare(&items, whole, "merge of a merge's tensors");
    free(items.p);
    items = (struct buf){0};
    add_partial(&items, m, true);
    merge_and_compare(&items, whole, "merge of a merge's total");
    free(items.p);
    /* the merge's total with an empty merge's */
    again = post_ok("/merge?partial=true", "application/json", "{\"partials\": []}", 16);
    it_expect_int(again, "count", 0);
    it_expect_real(again, "sum_squares", 0.0);
    items = (struct buf){0};
    add_partial(&items, again, true);
    add_partial(&items, m, false);
    merge_and_compare(&items, whole, "with an empty merge");
    free(items.p);

    json_decref(again);
    json_decref(whole_reg);
    json_decref(m);
    json_decref(whole);
    free(whole_body.p);
    free(named.p);
    for (int t = 0; t < 3; t++)
        free(v[t]);
}

/* ---- errors ----------------------------------------------------------------- */

static void expect_error(const char *target, const char *ct, const char *body, long status,
                         const char *code, const char *pointer)
{
    struct it_response r;
    json_t *p;

    it_post(srv.port, target, ct, body, strlen(body), &r);
    p = it_expect_problem(&r, status, code);
    if (pointer != NULL)
        it_expect_str(p, "pointer", pointer);
    json_decref(p);
    it_response_free(&r);
}

Test(merge, errors)
{
    const char *J = "application/json";
    json_t *part = post_raw((const float[]){1.5f, 2.0f}, 2);
    const char *good = json_string_value(json_object_get(part, "partial"));
    char body[2048], bad[1024];

    /* a good partial with one character changed: the checksum */
    snprintf(bad, sizeof bad, "%s", good);
    bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
    snprintf(body, sizeof body, "{\"partials\": {\"a\": [\"%s\", \"%s\"]}}", good, bad);
    expect_error("/merge", J, body, 400, "invalid_partial", "/partials/a/1");
    /* truncated */
    snprintf(body, sizeof body, "{\"partials\": [\"%.*s\"]}", (int)strlen(good) - 4, good);
    expect_error("/merge", J, body, 400, "invalid_partial", "/partials/0");
    /* another version */
    snprintf(body, sizeof body, "{\"partials\": [\"%s\", \"l2p9.%s\"]}", good, good + 5);
    expect_error("/merge", J, body, 400, "invalid_partial", "/partials/1");
    expect_error("/merge", J, "{\"partials\": [3]}", 400, "invalid_partial", "/partials/0");
    expect_error("/merge", J, "{\"partial\": []}", 400, "invalid_partial", NULL);
    expect_error("/merge", J, "{\"partials\": [", 400, "invalid_json", NULL);
    expect_error("/merge", "application/x-npy", "{\"partials\": []}", 415, "unsupported_media_type",
                 NULL);
    expect_error("/merge?dtype=float32", J, "{\"partials\": []}", 400, "invalid_parameter", NULL);
    expect_error("/merge?scale=1", J, "{\"partials\": []}", 400, "invalid_scale", NULL);
    expect_error("/merge?scale=-0.1", J, "{\"partials\": []}", 400, "invalid_scale", NULL);
    expect_error("/merge?partial=yes", J, "{\"partials\": []}", 400, "invalid_parameter", NULL);
    expect_error("/l2_loss?partial=2", J, "[1]", 400, "invalid_parameter", NULL);
    json_decref(part);

    /* no Content-Type is JSON */
    json_t *z = post_ok("/merge", NULL, "{\"partials\": []}", 16);
    it_expect_int(z, "count", 0);
    json_decref(z);

    struct it_response r;
    it_get(srv.port, "/merge", &r);
    cr_assert_eq(r.status, 405);
    it_response_free(&r);
}

/* 100,000 partials merge; one more is 413 payload_too_large. */
Test(merge, partial_limit)
{
    json_t *zero = post_ok("/merge?partial=true", "application/json", "{\"partials\": []}", 16);
    const char *z = json_string_value(json_object_get(zero, "partial"));
    size_t zl = strlen(z), n = 100001;
    struct buf b = {0};
    struct it_response r;
    json_t *ok;

    buf_str(&b, "{\"partials\": [");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_str(&b, ",");
        buf_str(&b, "\"");
        buf_add(&b, z, zl);
        buf_str(&b, "\"");
    }
    buf_str(&b, "]}");
    it_post(srv.port, "/merge", "application/json", b.p, b.n, &r);
    json_decref(it_expect_problem(&r, 413, "payload_too_large"));
    it_response_free(&r);
    /* drop the last one: exactly the limit */
    b.n = (size_t)(strrchr(b.p, ',') - b.p);
    buf_str(&b, "]}");
    ok = post_ok("/merge", "application/json", b.p, b.n);
    it_expect_int(ok, "count", 0);
    json_decref(ok);
    json_decref(zero);
    free(b.p);
}
