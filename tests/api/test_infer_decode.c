/* test_infer_decode.c -- the Open Inference Protocol v2 infer body
 * (api/infer.h) through api_body, as the server drives it: every datatype in
 * JSON (nested and flat) and binary, keys in any order, outputs and their
 * binary flags, id, scale, every error with its status, exactness against
 * the MPFR oracle, and the bodies the real clients send (tests/support/oip.h).
 * Every body of this file, accepted or refused, is also decoded split at
 * every byte (small bodies) or in 100 random splittings (bigger ones), one
 * byte at a time, and must give the same result bits or the same error. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/infer.h"
#include "tests/support/chunks.h"
#include "tests/support/oip.h"
#include "tests/support/oracle.h"
#include "tests/support/oracle_norm.h"

/* Bodies up to this size are split at every byte; bigger ones 100 times at
 * random. */
#define EVERY_SPLIT_MAX 700

/* One decoding: the request, the body (result and error) and the status. */
struct run {
    struct api_infer_request req;
    struct api_body *body;
    struct api_error err;
    enum api_status st;
};

/* How a run cuts the body. */
enum cut { CUT_WHOLE, CUT_BYTES, CUT_AT, CUT_RANDOM };

/* The request's header facts: model, Inference-Header-Content-Length,
 * Content-Encoding. */
struct head {
    enum api_infer_model model;
    bool has_len;
    uint64_t len;
    enum api_encoding enc;
};

static void decode_cut(struct run *r, const struct head *h, const void *b, size_t n, enum cut how,
                       uint64_t arg)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, &r->req};
    const unsigned char *p = b;
    size_t at = 0;

    api_infer_request_init(&r->req, h->model, h->has_len, h->len);
    api_error_init(&r->err);
    r->body = NULL;
    r->st = api_body_new(API_FORMAT_INFER, &opts, h->enc, UINT64_MAX, &r->body, &r->err);
    cr_assert_eq(r->st, API_OK, "api_body_new: %s", r->err.detail);
    while (r->st == API_OK && at < n) {
        size_t len = n - at;

        if (how == CUT_BYTES)
            len = 1;
        else if (how == CUT_AT)
            len = at < arg ? (size_t)arg - at : n - at;
        else if (how == CUT_RANDOM)
            len = chunks_len(RANDOM, &arg, n - at, 24);
        r->st = api_body_feed(r->body, p + at, len);
        at += len;
    }
    if (r->st == API_OK)
        r->st = api_body_finish(r->body);
    r->err = *api_body_error(r->body);
    cr_assert_eq(r->err.status, r->st, "the body's error and status disagree");
}

static void run_free(struct run *r)
{
    api_body_free(r->body);
    r->body = NULL;
}

static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* b's outcome is a's: the same error, or the same request and result bits. */
static void expect_same_run(const struct run *a, const struct run *b, const char *what)
{
    cr_assert_eq(b->st, a->st, "%s: status %s, whole %s (%s / %s)", what, api_status_code(b->st),
                 api_status_code(a->st), b->err.detail, a->err.detail);
    cr_assert_str_eq(b->err.detail, a->err.detail, "%s", what);
    cr_assert_eq(b->err.offset, a->err.offset, "%s: offset", what);
    cr_assert_eq(b->err.index, a->err.index, "%s: index", what);
    cr_assert_eq(b->err.has_pointer, a->err.has_pointer, "%s", what);
    cr_assert_str_eq(b->err.pointer, a->err.pointer, "%s", what);
    if (a->st != API_OK)
        return;
    const struct api_infer_request *qa = &a->req, *qb = &b->req;
    cr_assert(qa->has_id == qb->has_id && qa->id_len == qb->id_len &&
                  memcmp(qa->id, qb->id, qa->id_len) == 0,
              "%s: id", what);
    cr_assert(qa->has_scale == qb->has_scale && bits(qa->scale.value) == bits(qb->scale.value) &&
                  qa->scale.disabled == qb->scale.disabled,
              "%s: scale", what);
    cr_assert_eq(qa->count_nonfinite, qb->count_nonfinite, "%s", what);
    cr_assert_eq(qa->binary_data_output, qb->binary_data_output, "%s", what);
    cr_assert_eq(qa->n_wanted, qb->n_wanted, "%s", what);
    for (size_t i = 0; i < qa->n_wanted; i++)
        cr_assert(qa->wanted[i].which == qb->wanted[i].which &&
                      qa->wanted[i].binary == qb->wanted[i].binary,
                  "%s: wanted[%zu]", what, i);
    const struct api_result *ra = api_body_result(a->body), *rb = api_body_result(b->body);
    double sa, sb;
    cr_assert_eq(l2_accum_sum(&ra->total, &sa), l2_accum_sum(&rb->total, &sb));
    cr_assert_eq(bits(sa), bits(sb), "%s: total %a vs %a", what, sa, sb);
    cr_assert_eq(ra->total.count, rb->total.count, "%s", what);
    cr_assert_eq(ra->n_tensors, rb->n_tensors, "%s", what);
    for (size_t t = 0; t < ra->n_tensors; t++) {
        const struct api_tensor *x = &ra->tensors[t], *y = &rb->tensors[t];
        cr_assert(x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0,
                  "%s: tensor %zu name", what, t);
        cr_assert(x->dtype == y->dtype && x->count == y->count && x->ndim == y->ndim &&
                      x->nan_count == y->nan_count && x->inf_count == y->inf_count,
                  "%s: tensor %zu", what, t);
        cr_assert(bits(x->sum_squares) == bits(y->sum_squares) &&
                      bits(x->half_sum) == bits(y->half_sum) && bits(x->norm) == bits(y->norm) &&
                      bits(x->max_abs) == bits(y->max_abs),
                  "%s: tensor %zu sums", what, t);
        for (unsigned d = 0; d < x->ndim; d++)
            cr_assert_eq(x->shape[d], y->shape[d], "%s: tensor %zu shape", what, t);
    }
}

/* Decodes b whole into *r, then checks that every re-chunking gives the
 * same outcome. The caller frees r with run_free. */
static void decode_all(struct run *r, const struct head *h, const void *b, size_t n)
{
    struct run o;
    char what[64];

    decode_cut(r, h, b, n, CUT_WHOLE, 0);
    if (n <= 4096) {
        decode_cut(&o, h, b, n, CUT_BYTES, 0);
        expect_same_run(r, &o, "one byte at a time");
        run_free(&o);
    }
    if (n <= EVERY_SPLIT_MAX) {
        for (size_t k = 0; k <= n; k++) {
            decode_cut(&o, h, b, n, CUT_AT, k);
            snprintf(what, sizeof what, "split at %zu of %zu", k, n);
            expect_same_run(r, &o, what);
            run_free(&o);
        }
    } else {
        for (uint64_t s = 1; s <= 100; s++) {
            decode_cut(&o, h, b, n, CUT_RANDOM, s * 7919);
            snprintf(what, sizeof what, "random splitting %llu", (unsigned long long)s);
            expect_same_run(r, &o, what);
            run_free(&o);
        }
    }
}

static const struct head L2 = {API_INFER_L2_LOSS, false, 0, API_ENCODING_IDENTITY};

/* A JSON-only body on model m (no header length). */
static void decode_json(struct run *r, enum api_infer_model m, const char *js)
{
    struct head h = {m, false, 0, API_ENCODING_IDENTITY};
    decode_all(r, &h, js, strlen(js));
}

/* A JSON header followed by bin[0..bin_len), with the header's length. */
static void decode_bin(struct run *r, enum api_infer_model m, const char *js, const void *bin,
                       size_t bin_len)
{
    struct head h = {m, true, strlen(js), API_ENCODING_IDENTITY};
    struct oip_buf b;

    oip_buf_init(&b);
    oip_buf_puts(&b, js);
    oip_buf_put(&b, bin, bin_len);
    decode_all(r, &h, b.data, b.len);
    oip_buf_free(&b);
}

static void expect_ok(const struct run *r)
{
    cr_assert_eq(r->st, API_OK, "%s: %s", api_status_code(r->st), r->err.detail);
}

/* r failed with st, and its detail holds each non-NULL needle. */
static void expect_err(const struct run *r, enum api_status st, const char *needle,
                       const char *needle2)
{
    cr_assert_eq(r->st, st, "status %s, expected %s (%s)", api_status_code(r->st),
                 api_status_code(st), r->err.detail);
    cr_assert_eq(api_status_http(r->st), api_status_http(st));
    cr_assert(r->err.detail[0] != '\0', "no detail");
    if (needle != NULL)
        cr_assert_not_null(strstr(r->err.detail, needle), "detail \"%s\" lacks \"%s\"",
                           r->err.detail, needle);
    if (needle2 != NULL)
        cr_assert_not_null(strstr(r->err.detail, needle2), "detail \"%s\" lacks \"%s\"",
                           r->err.detail, needle2);
}

static const struct api_tensor *tensor(const struct run *r, size_t i)
{
    const struct api_result *res = api_body_result(r->body);
    cr_assert_lt(i, res->n_tensors, "%zu tensors", res->n_tensors);
    return &res->tensors[i];
}

static void expect_tensor(const struct run *r, size_t i, const char *name, enum l2_dtype dt,
                          uint64_t count, double sum, const uint64_t *shape, unsigned ndim)
{
    const struct api_tensor *t = tensor(r, i);
    cr_assert_str_eq(t->name, name);
    cr_assert_eq(t->name_len, strlen(name));
    cr_assert_eq(t->dtype, dt, "tensor %s: dtype %d", name, (int)t->dtype);
    cr_assert_eq(t->count, count, "tensor %s: count %llu", name, (unsigned long long)t->count);
    cr_assert_eq(bits(t->sum_squares), bits(sum), "tensor %s: sum %a, want %a", name,
                 t->sum_squares, sum);
    cr_assert_eq(bits(t->half_sum), bits(sum / 2), "tensor %s: half %a", name, t->half_sum);
    cr_assert_eq(t->ndim, ndim, "tensor %s: ndim %u", name, t->ndim);
    for (unsigned d = 0; d < ndim; d++)
        cr_assert_eq(t->shape[d], shape[d], "tensor %s: shape[%u]", name, d);
}

static double total_sum(const struct run *r)
{
    double s;
    cr_assert_eq(l2_accum_sum(&api_body_result(r->body)->total, &s), L2_OK);
    return s;
}

/* The defaults when the request names no outputs: every output in list
 * order but the non-finite counts (unless counted) and the partials
 * (unless parameters.partial), binary as given. */
static void expect_default_outputs(const struct run *r, bool counted, bool binary)
{
    size_t k = 0;
    for (int o = 0; o < API_INFER_OUT_COUNT_; o++) {
        if (!counted && (o == API_INFER_OUT_NAN_COUNT || o == API_INFER_OUT_INF_COUNT))
            continue;
        if (!r->req.partial && (o == API_INFER_OUT_PARTIAL || o == API_INFER_OUT_INPUT_PARTIAL))
            continue;
        cr_assert_lt(k, r->req.n_wanted);
        cr_assert_eq(r->req.wanted[k].which, (enum api_infer_output)o, "wanted[%zu]", k);
        cr_assert_eq(r->req.wanted[k].binary, binary, "wanted[%zu].binary", k);
        k++;
    }
    cr_assert_eq(r->req.n_wanted, k);
}

/* --- the builders against the clients' bytes ------------------------------ */

static const int64_t SHAPE22[] = {2, 2};
static const float F4[] = {1.0f, 2.0f, 0.5f, -3.0f};

Test(infer_decode, builders_give_the_clients_bytes)
{
    struct oip_tensor t = {"w", "FP32", 2, SHAPE22, F4, 4, true};
    struct oip_call c = {.inputs = &t, .n_inputs = 1};
    struct oip_body o;
    static const char triton[] =
        "{\"inputs\":[{\"name\":\"w\",\"shape\":[2,2],\"datatype\":\"FP32\","
        "\"parameters\":{\"binary_data_size\":16}}],"
        "\"parameters\":{\"binary_data_output\":true}}";

    oip_triton(&c, &o);
    cr_assert(o.has_header_length);
    cr_assert_eq(o.header_length, strlen(triton));
    cr_assert_eq(o.buf.len, strlen(triton) + 16);
    cr_assert_eq(memcmp(o.buf.data, triton, strlen(triton)), 0, "%s", o.buf.data);
    cr_assert_eq(memcmp(o.buf.data + strlen(triton), F4, 16), 0);
    cr_assert_null(o.content_type);
    oip_body_free(&o);

    /* JSON data, an id and requested outputs: no header length, no
     * binary_data_output. */
    static const struct oip_output outs[] = {{"loss", -1}, {"norm", 1}};
    t.binary = false;
    c.id = "7";
    c.outputs = outs;
    c.n_outputs = 2;
    c.style = OIP_SPACED;
    oip_triton(&c, &o);
    cr_assert(!o.has_header_length);
    cr_assert_str_eq((const char *)o.buf.data,
                     "{\"id\": \"7\", \"inputs\": [{\"name\": \"w\", \"shape\": [2, 2], "
                     "\"datatype\": \"FP32\", \"data\": [1.0, 2.0, 0.5, -3.0]}], \"outputs\": "
                     "[{\"name\": \"loss\"}, {\"name\": \"norm\", \"parameters\": "
                     "{\"binary_data\": true}}]}");
    oip_body_free(&o);

    /* kserve: id and model_name first; float32 values widened. */
    const float tenth[] = {0.1f};
    const int64_t one[] = {1};
    struct oip_tensor k = {"x", "FP32", 1, one, tenth, 1, false};
    struct oip_call kc = {.inputs = &k, .n_inputs = 1, .id_seed = 1, .model_name = "l2_loss"};
    oip_kserve(&kc, &o);
    cr_assert_null(o.content_type);
    const char *s = (const char *)o.buf.data;
    cr_assert_eq(strncmp(s, "{\"id\":\"", 7), 0, "%s", s);
    cr_assert_eq(s[7 + 14], '4', "uuid version: %s", s);
    cr_assert_str_eq(s + 7 + 36,
                     "\",\"model_name\":\"l2_loss\",\"inputs\":[{\"name\":\"x\",\"shape\":[1],"
                     "\"datatype\":\"FP32\",\"data\":[0.10000000149011612]}]}");
    oip_body_free(&o);
    k.binary = true;
    oip_kserve(&kc, &o);
    cr_assert_str_eq(o.content_type, "application/octet-stream");
    cr_assert(o.has_header_length);
    cr_assert_eq(o.buf.len, o.header_length + 4);
    oip_body_free(&o);
}

/* --- values ---------------------------------------------------------------- */

static const uint64_t S22[] = {2, 2};
static const uint64_t S4[] = {4};

Test(infer_decode, fp32_json_flat_and_nested)
{
    static const char *const bodies[] = {
        "{\"inputs\": [{\"name\": \"w\", \"shape\": [2, 2], \"datatype\": \"FP32\", "
        "\"data\": [1, 2, 3, 4]}]}",
        "{\"inputs\": [{\"name\": \"w\", \"shape\": [2, 2], \"datatype\": \"FP32\", "
        "\"data\": [[1, 2], [3, 4]]}]}",
        "{\"inputs\":[{\"name\":\"w\",\"shape\":[2,2],\"datatype\":\"FP32\","
        "\"data\":[[1.0,2.0],[3.0,4.0]]}]}",
        " \n{ \"inputs\" : [ { \"name\" : \"w\" , \"shape\" : [ 2 , 2 ] , \"datatype\" : "
        "\"FP32\" , \"data\" : [ [ 1 , 2 ] , [ 3 , 4e0 ] ] } ] }\n",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct run r;
        decode_json(&r, API_INFER_L2_LOSS, bodies[i]);
        expect_ok(&r);
        expect_tensor(&r, 0, "w", L2_DTYPE_FLOAT32, 4, 30.0, S22, 2);
        cr_assert_eq(api_body_result(r.body)->n_tensors, 1);
        cr_assert_eq(total_sum(&r), 30.0);
        cr_assert_eq(tensor(&r, 0)->max_abs, 4.0);
        cr_assert_eq(bits(tensor(&r, 0)->norm), bits(sqrt(30.0)));
        cr_assert(!r.req.has_id && !r.req.has_scale && !r.req.count_nonfinite &&
                  !r.req.binary_data_output);
        expect_default_outputs(&r, false, false);
        run_free(&r);
    }
}

/* Every datatype, JSON: each number rounded to the type as numpy does,
 * squared exactly (the oracle). */
Test(infer_decode, every_datatype_json_exact)
{
    static const struct {
        const char *datatype;
        enum l2_dtype dt;
    } types[] = {{"FP16", L2_DTYPE_FLOAT16},
                 {"BF16", L2_DTYPE_BFLOAT16},
                 {"FP32", L2_DTYPE_FLOAT32},
                 {"FP64", L2_DTYPE_FLOAT64}};
    static const char *const texts[] = {"0.1",  "-1.1", "2.2e-3", "3.3",
                                        "1e-5", "-0.0", "7",      "65504"};
    static const double vals[] = {0.1, -1.1, 2.2e-3, 3.3, 1e-5, -0.0, 7, 65504};

    for (size_t t = 0; t < 4; t++) {
        char js[512];
        size_t n = 0;
        n += (size_t)snprintf(js + n, sizeof js - n,
                              "{\"inputs\": [{\"name\": \"t\", \"datatype\": \"%s\", \"shape\": "
                              "[2, 4], \"data\": [[",
                              types[t].datatype);
        for (size_t i = 0; i < 8; i++)
            n += (size_t)snprintf(js + n, sizeof js - n, "%s%s",
                                  i == 0   ? ""
                                  : i == 4 ? "], ["
                                           : ", ",
                                  texts[i]);
        snprintf(js + n, sizeof js - n, "]]}]}");

        struct oracle_sum o;
        oracle_sum_init(&o);
        double max = 0;
        for (size_t i = 0; i < 8; i++) {
            double x = oracle_round_dtype(types[t].dt, vals[i]);
            oracle_sum_add_sq(&o, x);
            if (fabs(x) > max)
                max = fabs(x);
        }
        double sum, half, norm;
        cr_assert(oracle_sum_round(&o, false, &sum));
        cr_assert(oracle_sum_round(&o, true, &half));
        cr_assert(oracle_sum_norm(&o, &norm));
        oracle_sum_free(&o);

        struct run r;
        decode_json(&r, API_INFER_L2_LOSS, js);
        expect_ok(&r);
        const struct api_tensor *x = tensor(&r, 0);
        cr_assert_eq(x->dtype, types[t].dt, "%s", types[t].datatype);
        cr_assert_eq(x->count, 8);
        cr_assert_eq(bits(x->sum_squares), bits(sum), "%s: %a vs oracle %a", types[t].datatype,
                     x->sum_squares, sum);
        cr_assert_eq(bits(x->half_sum), bits(half), "%s", types[t].datatype);
        cr_assert_eq(bits(x->norm), bits(norm), "%s", types[t].datatype);
        cr_assert_eq(bits(x->max_abs), bits(max), "%s", types[t].datatype);
        cr_assert_eq(bits(total_sum(&r)), bits(sum));
        run_free(&r);
    }
}

static uint64_t rng = 0x1234567u;

/* x's sign and significand (in [0.5, 1)) times 2^k. */
static double scaled(double x, int k)
{
    int e;
    return ldexp(frexp(x, &e), k);
}

/* A float64 of any exponent from -1074 to 500 (squares stay finite in
 * sums of thousands), either sign. */
static double wild(void)
{
    uint64_t a = chunks_rng(&rng), b = chunks_rng(&rng);
    double m = (double)(a >> 11) * 0x1p-53;
    int e = (int)(b % 1574) - 1074;
    double x = ldexp(m, e);
    return (b >> 40) & 1 ? -x : x;
}

/* Every datatype, binary, as tritonclient sends it: the elements are the
 * bytes (BF16 cut from float32), summed exactly. Many elements so that
 * the binary data crosses chunks everywhere. */
Test(infer_decode, every_datatype_binary_exact)
{
    static const char *const names[] = {"FP16", "BF16", "FP32", "FP64"};
    static const enum l2_dtype dts[] = {L2_DTYPE_FLOAT16, L2_DTYPE_BFLOAT16, L2_DTYPE_FLOAT32,
                                        L2_DTYPE_FLOAT64};
    const size_t n = 999;

    for (size_t t = 0; t < 4; t++) {
        float *f = malloc(n * sizeof *f);
        double *d = malloc(n * sizeof *d);
        uint16_t *h = malloc(n * sizeof *h);
        cr_assert(f && d && h);
        struct oracle_sum o;
        oracle_sum_init(&o);
        for (size_t i = 0; i < n; i++) {
            double x = wild();
            double y;
            switch (dts[t]) {
            case L2_DTYPE_FLOAT16:
                h[i] = oip_f16((float)scaled(x, (int)(i % 40) - 24));
                y = l2_dtype_load_le(L2_DTYPE_FLOAT16, (const unsigned char *)&h[i]);
                break;
            case L2_DTYPE_BFLOAT16: {
                f[i] = (float)scaled(x, (int)(i % 200) - 100);
                uint16_t b16 = oip_bf16_trunc(f[i]);
                y = l2_dtype_load_le(L2_DTYPE_BFLOAT16, (const unsigned char *)&b16);
                break;
            }
            case L2_DTYPE_FLOAT32:
                f[i] = (float)scaled(x, (int)(i % 250) - 140);
                y = f[i];
                break;
            default:
                d[i] = x;
                y = x;
            }
            cr_assert(isfinite(y));
            oracle_sum_add_sq(&o, y);
        }
        double sum, half, norm;
        cr_assert(oracle_sum_round(&o, false, &sum));
        cr_assert(oracle_sum_round(&o, true, &half));
        cr_assert(oracle_sum_norm(&o, &norm));
        oracle_sum_free(&o);

        const int64_t shape[] = {27, 37};
        const void *vals = dts[t] == L2_DTYPE_FLOAT16   ? (const void *)h
                           : dts[t] == L2_DTYPE_FLOAT64 ? (const void *)d
                                                        : (const void *)f;
        struct oip_tensor in = {"layer/0", names[t], 2, shape, vals, n, true};
        struct oip_call c = {.inputs = &in, .n_inputs = 1};
        struct oip_body b;
        oip_triton(&c, &b);
        struct head hd = {API_INFER_L2_LOSS, true, b.header_length, API_ENCODING_IDENTITY};
        struct run r;
        decode_all(&r, &hd, b.buf.data, b.buf.len);
        expect_ok(&r);
        const struct api_tensor *x = tensor(&r, 0);
        cr_assert_str_eq(x->name, "layer/0");
        cr_assert_eq(x->dtype, dts[t]);
        cr_assert_eq(x->count, n);
        cr_assert(x->ndim == 2 && x->shape[0] == 27 && x->shape[1] == 37);
        cr_assert_eq(bits(x->sum_squares), bits(sum), "%s: %a vs oracle %a", names[t],
                     x->sum_squares, sum);
        cr_assert_eq(bits(x->half_sum), bits(half), "%s", names[t]);
        cr_assert_eq(bits(x->norm), bits(norm), "%s", names[t]);
        /* tritonclient with no outputs asks for binary outputs. */
        cr_assert(r.req.binary_data_output);
        expect_default_outputs(&r, false, true);
        run_free(&r);
        oip_body_free(&b);
        free(f);
        free(d);
        free(h);
    }
}

/* JSON and binary inputs mixed: binary data follows in the order of the
 * binary inputs only. */
Test(infer_decode, json_and_binary_inputs_mixed)
{
    const double d2[] = {3.0, 4.0};
    const float f3[] = {1.0f, -2.0f, 2.0f};
    unsigned char bin[28];
    memcpy(bin, d2, 16);
    memcpy(bin + 16, f3, 12);
    const char *js =
        "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP64\", \"parameters\": "
        "{\"binary_data_size\": 16}}, {\"name\": \"b\", \"shape\": [1], \"datatype\": \"FP32\", "
        "\"data\": [0.5]}, {\"name\": \"c\", \"shape\": [3], \"datatype\": \"FP32\", "
        "\"parameters\": {\"binary_data_size\": 12}}]}";
    struct run r;
    decode_bin(&r, API_INFER_L2_LOSS, js, bin, sizeof bin);
    expect_ok(&r);
    const uint64_t s2[] = {2}, s1[] = {1}, s3[] = {3};
    expect_tensor(&r, 0, "a", L2_DTYPE_FLOAT64, 2, 25.0, s2, 1);
    expect_tensor(&r, 1, "b", L2_DTYPE_FLOAT32, 1, 0.25, s1, 1);
    expect_tensor(&r, 2, "c", L2_DTYPE_FLOAT32, 3, 9.0, s3, 1);
    cr_assert_eq(total_sum(&r), 34.25);
    cr_assert_eq(api_body_result(r.body)->total.count, 6);
    run_free(&r);
}

/* Many inputs, JSON and binary by turns (empty ones included), names
 * with JSON escapes: each its own tensor, in input order, the binary data
 * taken in the order of the binary inputs. */
Test(infer_decode, many_inputs_escaped_names)
{
    struct oip_buf js, bin;
    struct oracle_sum total;
    const size_t n_inputs = 60;
    double sums[60];

    oip_buf_init(&js);
    oip_buf_init(&bin);
    oracle_sum_init(&total);
    oip_buf_puts(&js, "{\"inputs\": [");
    for (size_t i = 0; i < n_inputs; i++) {
        size_t count = i % 7 == 3 ? 0 : i % 5 + 1;
        bool binary = i % 3 != 0;
        struct oracle_sum o;
        oracle_sum_init(&o);
        oip_buf_printf(&js,
                       "%s{\"name\": \"layer\\/%zu\\u00e9\", \"datatype\": \"%s\", \"shape\": "
                       "[%zu], ",
                       i ? ", " : "", i, binary ? "FP32" : "FP64", count);
        if (binary)
            oip_buf_printf(&js, "\"parameters\": {\"binary_data_size\": %zu}}", 4 * count);
        else
            oip_buf_puts(&js, "\"data\": [");
        for (size_t k = 0; k < count; k++) {
            float v = (float)((double)(i + 1) * 0.25 - (double)k);
            if (binary) {
                oip_buf_put(&bin, &v, 4);
            } else {
                oip_buf_puts(&js, k ? ", " : "");
                oip_put_pyfloat(&js, v);
            }
            oracle_sum_add_sq(&o, v);
            oracle_sum_add_sq(&total, v);
        }
        if (!binary)
            oip_buf_puts(&js, "]}");
        cr_assert(oracle_sum_round(&o, false, &sums[i]));
        oracle_sum_free(&o);
    }
    oip_buf_puts(&js, "]}");
    double want;
    cr_assert(oracle_sum_round(&total, false, &want));
    oracle_sum_free(&total);

    struct run r;
    decode_bin(&r, API_INFER_L2_LOSS, (const char *)js.data, bin.data, bin.len);
    expect_ok(&r);
    cr_assert_eq(api_body_result(r.body)->n_tensors, n_inputs);
    for (size_t i = 0; i < n_inputs; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer/%zu\xc3\xa9", i);
        const struct api_tensor *t = tensor(&r, i);
        cr_assert_str_eq(t->name, name);
        cr_assert_eq(t->dtype, i % 3 != 0 ? L2_DTYPE_FLOAT32 : L2_DTYPE_FLOAT64, "%zu", i);
        cr_assert_eq(t->count, i % 7 == 3 ? 0 : i % 5 + 1, "%zu", i);
        cr_assert_eq(bits(t->sum_squares), bits(sums[i]), "input %zu", i);
    }
    cr_assert_eq(bits(total_sum(&r)), bits(want));
    run_free(&r);
    oip_buf_free(&js);
    oip_buf_free(&bin);
}

/* An empty binary input (shape [0], binary_data_size 0), last or not,
 * as tritonclient sends an empty numpy array. */
Test(infer_decode, empty_binary_inputs)
{
    const float f[] = {3.0f, 4.0f};
    const char *last = "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP32\", "
                       "\"parameters\": {\"binary_data_size\": 8}}, {\"name\": \"e\", \"shape\": "
                       "[0], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 0}}]}";
    const char *first = "{\"inputs\": [{\"name\": \"e\", \"shape\": [0], \"datatype\": "
                        "\"FP16\", \"parameters\": {\"binary_data_size\": 0}}, {\"name\": \"a\", "
                        "\"shape\": [2], \"datatype\": \"FP32\", \"parameters\": "
                        "{\"binary_data_size\": 8}}]}";
    const char *only = "{\"inputs\": [{\"name\": \"e\", \"shape\": [0], \"datatype\": \"FP64\", "
                       "\"parameters\": {\"binary_data_size\": 0}}]}";
    const struct {
        const char *js;
        size_t bin_len;
        size_t full; /* the input that holds 3, 4 */
    } cases[] = {{first, 8, 1}, {last, 8, 0}, {only, 0, 9}};

    for (size_t i = 0; i < 3; i++) {
        struct run r;
        decode_bin(&r, API_INFER_L2_LOSS, cases[i].js, f, cases[i].bin_len);
        cr_expect_eq(r.st, API_OK, "case %zu: %s: %s", i, api_status_code(r.st), r.err.detail);
        if (r.st == API_OK && cases[i].full < 9)
            cr_expect_eq(tensor(&r, cases[i].full)->sum_squares, 25.0, "case %zu", i);
        if (r.st == API_OK)
            cr_expect_eq(tensor(&r, cases[i].full < 9 ? 1 - cases[i].full : 0)->count, 0);
        run_free(&r);
    }
}

/* A shape whose element count, or byte count, overflows 64 bits must
 * not wrap around to match an empty tensor. */
Test(infer_decode, shape_products_do_not_wrap)
{
    static const char *const bodies[] = {
        /* 2^62 x 4 = 2^64 elements */
        "{\"inputs\": [{\"name\": \"w\", \"shape\": [4611686018427387904, 4], \"datatype\": "
        "\"FP32\", \"data\": []}]}",
        "{\"inputs\": [{\"name\": \"w\", \"shape\": [4294967296, 4294967296], \"datatype\": "
        "\"FP64\", \"data\": []}]}",
        "{\"inputs\": [{\"name\": \"w\", \"shape\": [4611686018427387904, 4, 0], "
        "\"datatype\": \"FP32\", \"data\": []}]}",
    };
    for (size_t i = 0; i < 3; i++) {
        struct run r;
        decode_json(&r, API_INFER_L2_LOSS, bodies[i]);
        if (i < 2)
            cr_expect_neq(r.st, API_OK, "case %zu accepted: %s", i, bodies[i]);
        else /* a zero anywhere: 0 elements, whatever the rest (numpy's rule) */
            cr_expect(r.st == API_OK || r.st == API_INVALID_TENSOR, "case 2: %s", r.err.detail);
        run_free(&r);
    }
    /* binary: 2^62 FP32 elements are 2^64 bytes, which wrap to 0 */
    const char *js = "{\"inputs\": [{\"name\": \"w\", \"shape\": [4611686018427387904], "
                     "\"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 0}}]}";
    struct run r;
    decode_bin(&r, API_INFER_L2_LOSS, js, NULL, 0);
    cr_expect_neq(r.st, API_OK, "2^62 FP32 elements in 0 bytes accepted");
    run_free(&r);
    js = "{\"inputs\": [{\"name\": \"w\", \"shape\": [2305843009213693952], \"datatype\": "
         "\"FP64\", \"parameters\": {\"binary_data_size\": 0}}, {\"name\": \"v\", \"shape\": "
         "[1], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 4}}]}";
    const float one = 1.0f;
    decode_bin(&r, API_INFER_L2_LOSS, js, &one, 4);
    cr_expect_neq(r.st, API_OK, "2^61 FP64 elements in 0 bytes accepted");
    run_free(&r);
}

/* Keys in any order: data before datatype and shape, outputs and
 * parameters before inputs, id last. */
Test(infer_decode, keys_in_any_order)
{
    const char *js =
        "{\"parameters\": {\"scale\": 0.5, \"binary_data_output\": false}, "
        "\"outputs\": [{\"parameters\": {\"binary_data\": true}, \"name\": \"loss\"}], "
        "\"inputs\": [{\"data\": [[1, 2], [3, 4]], \"datatype\": \"FP64\", "
        "\"shape\": [2, 2], \"name\": \"k\"}, {\"shape\": [1], \"data\": [2], "
        "\"name\": \"b\", \"datatype\": \"FP16\"}], \"id\": \"req-1\"}";
    struct run r;
    decode_json(&r, API_INFER_REGULARIZE, js);
    expect_ok(&r);
    const uint64_t s1[] = {1};
    expect_tensor(&r, 0, "k", L2_DTYPE_FLOAT64, 4, 30.0, S22, 2);
    expect_tensor(&r, 1, "b", L2_DTYPE_FLOAT16, 1, 4.0, s1, 1);
    cr_assert(r.req.has_scale);
    cr_assert_eq(r.req.scale.value, 0.5);
    cr_assert(!r.req.scale.disabled);
    cr_assert(r.req.has_id);
    cr_assert_str_eq(r.req.id, "req-1");
    cr_assert_eq(r.req.id_len, 5);
    cr_assert_eq(r.req.n_wanted, 1);
    cr_assert_eq(r.req.wanted[0].which, API_INFER_OUT_LOSS);
    cr_assert(r.req.wanted[0].binary);
    run_free(&r);

    /* parameters after inputs, binary inputs declared after the JSON keys
     * that follow them. */
    const float f[] = {2.0f, 2.0f};
    const char *js2 = "{\"inputs\": [{\"parameters\": {\"binary_data_size\": 8}, \"shape\": [2], "
                      "\"name\": \"x\", \"datatype\": \"FP32\"}], \"id\": \"z\", \"parameters\": "
                      "{\"binary_data_output\": true, \"scale\": \"1e-1\"}}";
    decode_bin(&r, API_INFER_REGULARIZE, js2, f, sizeof f);
    expect_ok(&r);
    cr_assert_eq(r.req.scale.value, 0.1);
    cr_assert(r.req.binary_data_output);
    expect_default_outputs(&r, false, true);
    cr_assert_eq(tensor(&r, 0)->sum_squares, 8.0);
    run_free(&r);
}

/* data before datatype: each number is rounded in the datatype that comes
 * after it, and is out of range only in that datatype. */
Test(infer_decode, data_before_datatype_rounds_in_the_datatype)
{
    static const struct {
        const char *datatype;
        enum l2_dtype dt;
        enum api_status wide; /* [0.1, 70000, 1e39, 1e-8] */
    } types[] = {{"FP16", L2_DTYPE_FLOAT16, API_NUMBER_OUT_OF_RANGE},
                 {"BF16", L2_DTYPE_BFLOAT16, API_NUMBER_OUT_OF_RANGE},
                 {"FP32", L2_DTYPE_FLOAT32, API_NUMBER_OUT_OF_RANGE},
                 {"FP64", L2_DTYPE_FLOAT64, API_OK}};
    static const double vals[] = {0.1, 300, 1e-8, -2.7};

    for (size_t t = 0; t < 4; t++) {
        char js[256];
        struct run r;

        snprintf(js, sizeof js,
                 "{\"inputs\": [{\"data\": [[0.1, 300], [1e-8, -2.7]], \"name\": \"x\", "
                 "\"shape\": [2, 2], \"datatype\": \"%s\"}]}",
                 types[t].datatype);
        struct oracle_sum o;
        double sum;
        oracle_sum_init(&o);
        for (size_t i = 0; i < 4; i++)
            oracle_sum_add_sq(&o, oracle_round_dtype(types[t].dt, vals[i]));
        cr_assert(oracle_sum_round(&o, false, &sum));
        oracle_sum_free(&o);
        decode_json(&r, API_INFER_L2_LOSS, js);
        expect_ok(&r);
        cr_assert_eq(tensor(&r, 0)->dtype, types[t].dt);
        cr_assert_eq(bits(tensor(&r, 0)->sum_squares), bits(sum), "%s: %a vs oracle %a",
                     types[t].datatype, tensor(&r, 0)->sum_squares, sum);
        cr_assert_eq(bits(tensor(&r, 0)->max_abs), bits(oracle_round_dtype(types[t].dt, 300)));
        run_free(&r);

        snprintf(js, sizeof js,
                 "{\"inputs\": [{\"data\": [0.1, 70000, 1e39, 1e-8], \"shape\": [4], "
                 "\"name\": \"x\", \"datatype\": \"%s\"}]}",
                 types[t].datatype);
        decode_json(&r, API_INFER_L2_LOSS, js);
        cr_assert_eq(r.st, types[t].wide, "%s: %s (%s)", types[t].datatype, api_status_code(r.st),
                     r.err.detail);
        run_free(&r);
    }

    /* and an unknown datatype after the data */
    struct run r;
    decode_json(&r, API_INFER_L2_LOSS,
                "{\"inputs\": [{\"data\": [1], \"shape\": [1], \"name\": \"x\", "
                "\"datatype\": \"UINT8\"}]}");
    expect_err(&r, API_INVALID_DTYPE, "UINT8", NULL);
    run_free(&r);
}

/* parameters.nonfinite = "count" given after JSON data that holds the
 * NaN and Infinity tokens Python's json.dumps writes. */
Test(infer_decode, nonfinite_count_after_nan_tokens)
{
    const char *js = "{\"inputs\": [{\"name\": \"x\", \"shape\": [6], \"datatype\": \"FP64\", "
                     "\"data\": [1, NaN, Infinity, -Infinity, 2, NaN]}], "
                     "\"parameters\": {\"nonfinite\": \"count\"}}";
    struct run r;
    decode_json(&r, API_INFER_L2_LOSS, js);
    expect_ok(&r);
    const struct api_tensor *t = tensor(&r, 0);
    cr_assert_eq(t->count, 6);
    cr_assert_eq(t->nan_count, 2);
    cr_assert_eq(t->inf_count, 2);
    cr_assert_eq(t->sum_squares, 5.0);
    cr_assert_eq(t->max_abs, 2.0);
    cr_assert(r.req.count_nonfinite);
    expect_default_outputs(&r, true, false);
    run_free(&r);

    /* Binary NaN and infinity: non_finite, or counted. */
    const float f[] = {1.0f, NAN, INFINITY, 3.0f};
    const char *h = "{\"inputs\": [{\"name\": \"f\", \"shape\": [4], \"datatype\": \"FP32\", "
                    "\"parameters\": {\"binary_data_size\": 16}}]}";
    decode_bin(&r, API_INFER_L2_LOSS, h, f, sizeof f);
    expect_err(&r, API_NON_FINITE, NULL, NULL);
    run_free(&r);
    const char *hc = "{\"inputs\": [{\"name\": \"f\", \"shape\": [4], \"datatype\": \"FP32\", "
                     "\"parameters\": {\"binary_data_size\": 16}}], \"parameters\": "
                     "{\"nonfinite\": \"count\"}}";
    decode_bin(&r, API_INFER_L2_LOSS, hc, f, sizeof f);
    expect_ok(&r);
    t = tensor(&r, 0);
    cr_assert(t->count == 4 && t->nan_count == 1 && t->inf_count == 1 && t->sum_squares == 10.0);
    run_free(&r);
}

/* Without nonfinite = "count", NaN and Infinity tokens are not JSON
 * (API.md, "Statistics for dashboards"), as on the native endpoints. */
Test(infer_decode, nan_tokens_without_count_are_invalid_json)
{
    struct run r;
    const char *bad = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2], \"datatype\": \"FP64\", "
                      "\"data\": [1, NaN]}]}";
    decode_json(&r, API_INFER_L2_LOSS, bad);
    expect_err(&r, API_INVALID_JSON, NULL, NULL);
    run_free(&r);
    const char *bad2 = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2], \"datatype\": \"FP64\", "
                       "\"data\": [1, NaN]}], \"parameters\": {\"nonfinite\": \"reject\"}}";
    decode_json(&r, API_INFER_L2_LOSS, bad2);
    expect_err(&r, API_INVALID_JSON, NULL, NULL);
    run_free(&r);
}

/* --- outputs ------------------------------------------------------------- */

static void decode_outputs(struct run *r, const char *outputs, const char *params)
{
    char js[2048];
    snprintf(js, sizeof js,
             "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": "
             "[3]}]%s%s%s%s}",
             outputs ? ", \"outputs\": " : "", outputs ? outputs : "",
             params ? ", \"parameters\": " : "", params ? params : "");
    decode_json(r, API_INFER_L2_LOSS, js);
}

Test(infer_decode, outputs_selected_in_order_with_binary_flags)
{
    struct run r;
    decode_outputs(&r,
                   "[{\"name\": \"input_norm\"}, {\"name\": \"count\", \"parameters\": "
                   "{\"binary_data\": true}}, {\"name\": \"loss\", \"parameters\": "
                   "{\"binary_data\": false}}, {\"name\": \"nan_count\"}]",
                   NULL);
    expect_ok(&r);
    cr_assert_eq(r.req.n_wanted, 4);
    const enum api_infer_output want[] = {API_INFER_OUT_INPUT_NORM, API_INFER_OUT_COUNT,
                                          API_INFER_OUT_LOSS, API_INFER_OUT_NAN_COUNT};
    const bool bin[] = {false, true, false, false};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(r.req.wanted[i].which, want[i], "wanted[%zu]", i);
        cr_assert_eq(r.req.wanted[i].binary, bin[i], "wanted[%zu]", i);
    }
    run_free(&r);

    /* binary_data_output is every output's default; binary_data wins. */
    decode_outputs(&r,
                   "[{\"name\": \"sum_squares\"}, {\"name\": \"max_abs\", \"parameters\": "
                   "{\"binary_data\": false}}]",
                   "{\"binary_data_output\": true}");
    expect_ok(&r);
    cr_assert(r.req.binary_data_output);
    cr_assert_eq(r.req.n_wanted, 2);
    cr_assert(r.req.wanted[0].which == API_INFER_OUT_SUM_SQUARES && r.req.wanted[0].binary);
    cr_assert(r.req.wanted[1].which == API_INFER_OUT_MAX_ABS && !r.req.wanted[1].binary);
    run_free(&r);

    /* Every output by name. */
    char list[1024];
    size_t n = 0;
    n += (size_t)snprintf(list + n, sizeof list - n, "[");
    for (int o = API_INFER_OUT_COUNT_ - 1; o >= 0; o--)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s{\"name\": \"%s\"}",
                              o == API_INFER_OUT_COUNT_ - 1 ? "" : ", ",
                              api_infer_output_name((enum api_infer_output)o));
    snprintf(list + n, sizeof list - n, "]");
    decode_outputs(&r, list, "{\"binary_data_output\": false}");
    expect_ok(&r);
    cr_assert_eq(r.req.n_wanted, API_INFER_OUT_COUNT_);
    for (size_t i = 0; i < r.req.n_wanted; i++)
        cr_assert(r.req.wanted[i].which == (enum api_infer_output)(API_INFER_OUT_COUNT_ - 1 - i) &&
                  !r.req.wanted[i].binary);
    run_free(&r);

    /* An empty list is no selection: the defaults. */
    decode_outputs(&r, "[]", NULL);
    if (r.st == API_OK)
        expect_default_outputs(&r, false, false);
    else
        expect_err(&r, API_INVALID_PARAMETER, NULL, NULL);
    run_free(&r);
}

Test(infer_decode, outputs_refused)
{
    static const char *const bad[] = {
        "[{\"name\": \"logits\"}]",
        "[{\"name\": \"loss\"}, {\"name\": \"loss\"}]",
        "[{\"name\": \"loss\", \"parameters\": {\"binary_data\": \"yes\"}}]",
        "[{\"parameters\": {}}]",
        "[{\"name\": 3}]",
        "{\"name\": \"loss\"}",
        "[\"loss\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        decode_outputs(&r, bad[i], NULL);
        cr_assert(r.st == API_INVALID_PARAMETER || r.st == API_INVALID_TENSOR, "%s: %s (%s)",
                  bad[i], api_status_code(r.st), r.err.detail);
        if (i < 3)
            expect_err(&r, API_INVALID_PARAMETER,
                       i == 0   ? "logits"
                       : i == 1 ? "loss"
                                : "binary_data",
                       NULL);
        run_free(&r);
    }
    static const char *const params[] = {
        "{\"binary_data_output\": \"true\"}",
        "{\"binary_data_output\": 1}",
        "{\"nonfinite\": \"ignore\"}",
        "{\"nonfinite\": true}",
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        struct run r;
        decode_outputs(&r, NULL, params[i]);
        expect_err(&r, API_INVALID_PARAMETER, NULL, NULL);
        run_free(&r);
    }
}

/* --- id -------------------------------------------------------------------- */

Test(infer_decode, id_echoed_escapes_decoded_and_bounded)
{
    struct run r;
    decode_json(&r, API_INFER_L2_LOSS,
                "{\"id\": \"a\\\"b\\u00e9\\n\", \"inputs\": [{\"name\": \"w\", \"shape\": [0], "
                "\"datatype\": \"FP32\", \"data\": []}]}");
    expect_ok(&r);
    cr_assert(r.req.has_id);
    cr_assert_eq(r.req.id_len, 6);
    cr_assert_eq(memcmp(r.req.id, "a\"b\xc3\xa9\n", 7), 0);
    const uint64_t s0[] = {0};
    expect_tensor(&r, 0, "w", L2_DTYPE_FLOAT32, 0, 0.0, s0, 1);
    run_free(&r);

    /* API_INFER_MAX_ID bytes is the longest; one more is refused. */
    for (size_t len = API_INFER_MAX_ID; len <= API_INFER_MAX_ID + 1; len++) {
        char *js = malloc(len + 200);
        cr_assert(js);
        int n = snprintf(js, 200,
                         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": "
                         "\"FP32\", \"data\": [1]}], \"id\": \"");
        memset(js + n, 'i', len);
        memcpy(js + n + len, "\"}", 3);
        decode_json(&r, API_INFER_L2_LOSS, js);
        if (len == API_INFER_MAX_ID) {
            expect_ok(&r);
            cr_assert_eq(r.req.id_len, len);
            cr_assert_eq(strlen(r.req.id), len);
        } else {
            expect_err(&r, API_INVALID_PARAMETER, "id", NULL);
        }
        run_free(&r);
        free(js);
    }
    static const char *const bad[] = {"5", "null", "[\"a\"]", "{}"};
    for (size_t i = 0; i < 4; i++) {
        char js[256];
        snprintf(js, sizeof js,
                 "{\"id\": %s, \"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": "
                 "\"FP32\", \"data\": [1]}]}",
                 bad[i]);
        decode_json(&r, API_INFER_L2_LOSS, js);
        expect_err(&r, API_INVALID_PARAMETER, "id", NULL);
        run_free(&r);
    }
}

/* --- scale ----------------------------------------------------------------- */

static void decode_scale(struct run *r, enum api_infer_model m, const char *scale)
{
    char js[512];
    snprintf(js, sizeof js,
             "{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": "
             "[1, 2]}]%s%s%s}",
             scale ? ", \"parameters\": {\"scale\": " : "", scale ? scale : "", scale ? "}" : "");
    decode_json(r, m, js);
}

Test(infer_decode, scale_forms)
{
    static const struct {
        const char *text;
        double value;
        bool disabled;
    } ok[] = {
        {"0.01", 0.01, false},  {"1e-2", 0.01, false},     {"1E-2", 0.01, false},
        {"1.5", 1.5, false},    {"\"0.01\"", 0.01, false}, {"\".5\"", 0.5, false},
        {"2.5e0", 2.5, false},  {"0.0", 0.0, true},        {"-0.0", 0.0, true},
        {"\"0.0\"", 0.0, true}, {"0e0", 0.0, true},        {"1e300", 1e300, false},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct run r;
        decode_scale(&r, API_INFER_REGULARIZE, ok[i].text);
        cr_assert_eq(r.st, API_OK, "scale %s: %s", ok[i].text, r.err.detail);
        cr_assert(r.req.has_scale);
        cr_assert_eq(r.req.scale.value, ok[i].value, "scale %s: %g", ok[i].text, r.req.scale.value);
        cr_assert_eq(r.req.scale.disabled, ok[i].disabled, "scale %s", ok[i].text);
        cr_assert_eq(tensor(&r, 0)->sum_squares, 5.0, "disabled still decodes");
        run_free(&r);
    }
}

Test(infer_decode, scale_refused_as_tensorflow_does)
{
    static const struct {
        const char *text;
        const char *detail; /* exact, or NULL */
    } bad[] = {
        {"1", "scale cannot be an integer: 1"},
        {"-0", "scale cannot be an integer: -0"},
        {"\"1\"", "scale cannot be an integer: 1"},
        {"10", "scale cannot be an integer: 10"},
        {"-0.1", "Setting a scale less than 0 on a regularizer: -0.1."},
        {"\"-0.1\"", "Setting a scale less than 0 on a regularizer: -0.1."},
        {"-1e-3", "Setting a scale less than 0 on a regularizer: -0.001."},
        {"\"inf\"", NULL},
        {"\"nan\"", NULL},
        {"\"0x1p-3\"", NULL},
        {"\"\"", NULL},
        {"\" 0.1\"", NULL},
        {"true", NULL},
        {"null", NULL},
        {"[0.1]", NULL},
        {"{}", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        decode_scale(&r, API_INFER_REGULARIZE, bad[i].text);
        expect_err(&r, API_INVALID_SCALE, NULL, NULL);
        if (bad[i].detail != NULL)
            cr_assert_str_eq(r.err.detail, bad[i].detail, "scale %s", bad[i].text);
        run_free(&r);
    }

    /* Missing on regularize; present on l2_loss. */
    struct run r;
    decode_scale(&r, API_INFER_REGULARIZE, NULL);
    expect_err(&r, API_INVALID_SCALE, "scale", NULL);
    run_free(&r);
    decode_json(&r, API_INFER_REGULARIZE,
                "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", "
                "\"data\": [1]}], \"parameters\": {\"nonfinite\": \"reject\"}}");
    expect_err(&r, API_INVALID_SCALE, "scale", NULL);
    run_free(&r);
    decode_scale(&r, API_INFER_L2_LOSS, "0.01");
    expect_err(&r, API_INVALID_PARAMETER, "scale", NULL);
    run_free(&r);
    decode_scale(&r, API_INFER_L2_LOSS, NULL);
    expect_ok(&r);
    cr_assert(!r.req.has_scale);
    run_free(&r);
}

/* A scale that overflows float64 is invalid_scale (as ?scale=1e400 on
 * /regularize), written as a JSON number or a string. */
Test(infer_decode, scale_overflow_is_invalid_scale)
{
    static const char *const texts[] = {"\"1e400\"", "1e400"};
    for (size_t i = 0; i < 2; i++) {
        struct run r;
        decode_scale(&r, API_INFER_REGULARIZE, texts[i]);
        expect_err(&r, API_INVALID_SCALE, NULL, NULL);
        run_free(&r);
    }
}

/* --- errors ------------------------------------------------------------- */

struct bad_case {
    const char *body;
    enum api_status st;
    const char *needle; /* in the detail, or NULL */
};

static void check_bad(const struct bad_case *cases, size_t n, enum api_infer_model m)
{
    for (size_t i = 0; i < n; i++) {
        struct run r;
        decode_json(&r, m, cases[i].body);
        /* every case is checked (cr_expect), so that one report lists all */
        cr_expect_eq(r.st, cases[i].st, "case %zu %s: %s (%s), expected %s", i, cases[i].body,
                     api_status_code(r.st), r.err.detail, api_status_code(cases[i].st));
        cr_expect(r.err.detail[0] != '\0', "case %zu: no detail", i);
        if (r.st == cases[i].st && cases[i].needle != NULL)
            cr_expect_not_null(strstr(r.err.detail, cases[i].needle),
                               "case %zu: detail \"%s\" lacks \"%s\"", i, r.err.detail,
                               cases[i].needle);
        run_free(&r);
    }
}

#define W "{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": [1, 2]}"

Test(infer_decode, header_not_json)
{
    static const struct bad_case cases[] = {
        {"", API_INVALID_JSON, NULL},
        {"   ", API_INVALID_JSON, NULL},
        {"{", API_INVALID_JSON, NULL},
        {"{\"inputs\": [" W, API_INVALID_JSON, NULL},
        {"{\"inputs\": [" W "]} x", API_INVALID_JSON, NULL},
        {"{\"inputs\": [" W "]}{}", API_INVALID_JSON, NULL},
        {"{\"inputs\": [" W ",]}", API_INVALID_JSON, NULL},
        {"{'inputs': []}", API_INVALID_JSON, NULL},
        {"{\"inputs\": [" W "], \"id\": \"\\x\"}", API_INVALID_JSON, NULL},
        {"{\"inputs\": [" W "], \"id\": \"\xff\"}", API_INVALID_JSON, NULL},
        {"{\"inputs\": [" W "], \"extra\": tru}", API_INVALID_JSON, NULL},
    };
    check_bad(cases, sizeof cases / sizeof cases[0], API_INFER_L2_LOSS);

    /* JSON, but not an object. */
    struct run r;
    decode_json(&r, API_INFER_L2_LOSS, "[" W "]");
    cr_assert(r.st == API_INVALID_TENSOR || r.st == API_INVALID_JSON, "%s", r.err.detail);
    run_free(&r);

    /* The offset is the byte where it went wrong. */
    const char *js = "{\"inputs\": [" W "] ?}";
    decode_json(&r, API_INFER_L2_LOSS, js);
    expect_err(&r, API_INVALID_JSON, NULL, NULL);
    cr_assert_eq(r.err.offset, (int64_t)(strchr(js, '?') - js), "offset %lld",
                 (long long)r.err.offset);
    run_free(&r);
}

Test(infer_decode, inputs_malformed)
{
    static const struct bad_case cases[] = {
        {"{}", API_INVALID_TENSOR, "inputs"},
        {"{\"id\": \"x\"}", API_INVALID_TENSOR, "inputs"},
        {"{\"inputs\": {}}", API_INVALID_TENSOR, "inputs"},
        {"{\"inputs\": null}", API_INVALID_TENSOR, "inputs"},
        {"{\"inputs\": [3]}", API_INVALID_TENSOR, "inputs"},
        {"{\"inputs\": [{\"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}",
         API_INVALID_TENSOR, "name"},
        {"{\"inputs\": [{\"name\": 5, \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}",
         API_INVALID_TENSOR, "name"},
        {"{\"inputs\": [{\"name\": \"\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}",
         API_INVALID_TENSOR, NULL},
        {"{\"inputs\": [{\"name\": \"w\", \"datatype\": \"FP32\", \"data\": [1]}]}",
         API_INVALID_TENSOR, "shape"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": 1, \"datatype\": \"FP32\", \"data\": [1]}]}",
         API_INVALID_TENSOR, "shape"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [-1], \"datatype\": \"FP32\", \"data\": []}]}",
         API_INVALID_TENSOR, "shape"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1.5], \"datatype\": \"FP32\", \"data\": "
         "[1]}]}",
         API_INVALID_TENSOR, "shape"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [\"1\"], \"datatype\": \"FP32\", \"data\": "
         "[1]}]}",
         API_INVALID_TENSOR, "shape"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"data\": [1]}]}", API_INVALID_TENSOR,
         "datatype"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": 32, \"data\": [1]}]}",
         API_INVALID_TENSOR, "datatype"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\"}]}",
         API_INVALID_TENSOR, NULL},
        /* count and shape disagree, flat or nested */
        {"{\"inputs\": [" W ", {\"name\": \"b\", \"shape\": [3], \"datatype\": \"FP32\", "
         "\"data\": [1, 2]}]}",
         API_INVALID_TENSOR, "inputs[1]"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": "
         "[1, 2, 3]}]}",
         API_INVALID_TENSOR, "inputs[0]"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [2, 2], \"datatype\": \"FP32\", \"data\": "
         "[[1, 2, 3], [4, 5, 6]]}]}",
         API_INVALID_TENSOR, NULL},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [4], \"datatype\": \"FP32\", \"data\": "
         "[[1, 2], [3]]}]}",
         API_INVALID_TENSOR, NULL},
        /* bad elements */
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": "
         "[1, \"2\"]}]}",
         API_INVALID_TENSOR, NULL},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": "
         "[1, true]}]}",
         API_INVALID_TENSOR, NULL},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": "
         "[1, null]}]}",
         API_INVALID_TENSOR, NULL},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": "
         "{\"a\": 1}}]}",
         API_INVALID_TENSOR, NULL},
        /* duplicates */
        {"{\"inputs\": [" W ", " W "]}", API_INVALID_TENSOR, "w"},
        {"{\"inputs\": [{\"name\": \"w\", \"name\": \"v\", \"shape\": [2], \"datatype\": "
         "\"FP32\", \"data\": [1, 2]}]}",
         API_INVALID_TENSOR, "name"},
        {"{\"inputs\": [" W "], \"inputs\": [" W "]}", API_INVALID_TENSOR, "inputs"},
        /* data and binary_data_size both */
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1], "
         "\"parameters\": {\"binary_data_size\": 4}}]}",
         API_INVALID_TENSOR, NULL},
        /* datatypes l2d does not sum */
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"INT32\", \"data\": "
         "[1]}]}",
         API_INVALID_DTYPE, "INT32"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": "
         "[\"a\"]}]}",
         API_INVALID_DTYPE, "BYTES"},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP8\", \"data\": [1]}]}",
         API_INVALID_DTYPE, "FP8"},
        /* not finite in the datatype */
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP16\", \"data\": "
         "[1, 70000]}]}",
         API_NUMBER_OUT_OF_RANGE, NULL},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": "
         "[1e39]}]}",
         API_NUMBER_OUT_OF_RANGE, NULL},
        {"{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": "
         "[1e400]}]}",
         API_NUMBER_OUT_OF_RANGE, NULL},
    };
    check_bad(cases, sizeof cases / sizeof cases[0], API_INFER_L2_LOSS);
}

/* Binary data: sizes, the header length and the body's length. */
Test(infer_decode, binary_lengths)
{
    const float f[] = {1.0f, 2.0f, 3.0f, 4.0f};
    const char *h16 = "{\"inputs\": [{\"name\": \"w\", \"shape\": [4], \"datatype\": \"FP32\", "
                      "\"parameters\": {\"binary_data_size\": 16}}]}";
    const char *h12 = "{\"inputs\": [{\"name\": \"w\", \"shape\": [4], \"datatype\": \"FP32\", "
                      "\"parameters\": {\"binary_data_size\": 12}}]}";
    struct run r;

    decode_bin(&r, API_INFER_L2_LOSS, h16, f, 16);
    expect_ok(&r);
    expect_tensor(&r, 0, "w", L2_DTYPE_FLOAT32, 4, 30.0, S4, 1);
    run_free(&r);

    /* binary_data_size is not the shape's bytes */
    decode_bin(&r, API_INFER_L2_LOSS, h12, f, 12);
    expect_err(&r, API_INVALID_LENGTH, NULL, NULL);
    run_free(&r);
    /* body shorter / longer than it announces */
    decode_bin(&r, API_INFER_L2_LOSS, h16, f, 15);
    expect_err(&r, API_INVALID_LENGTH, NULL, NULL);
    run_free(&r);
    decode_bin(&r, API_INFER_L2_LOSS, h16, "\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40!", 17);
    expect_err(&r, API_INVALID_LENGTH, NULL, NULL);
    run_free(&r);
    /* the header length past the body */
    struct head past = {API_INFER_L2_LOSS, true, 10000, API_ENCODING_IDENTITY};
    decode_all(&r, &past, h16, strlen(h16));
    expect_err(&r, API_INVALID_LENGTH, NULL, NULL);
    run_free(&r);
    /* the header length cuts the JSON short, or leaves bytes after it
     * that are not binary data */
    struct oip_buf b;
    oip_buf_init(&b);
    oip_buf_puts(&b, h16);
    oip_buf_put(&b, f, 16);
    struct head shorter = {API_INFER_L2_LOSS, true, strlen(h16) - 1, API_ENCODING_IDENTITY};
    decode_all(&r, &shorter, b.data, b.len);
    expect_err(&r, API_INVALID_JSON, NULL, NULL);
    run_free(&r);
    struct head longer = {API_INFER_L2_LOSS, true, strlen(h16) + 1, API_ENCODING_IDENTITY};
    decode_all(&r, &longer, b.data, b.len);
    cr_assert(r.st == API_INVALID_JSON || r.st == API_INVALID_LENGTH, "%s", api_status_code(r.st));
    run_free(&r);
    oip_buf_free(&b);
    /* JSON whitespace after the header within its length is JSON */
    oip_buf_init(&b);
    oip_buf_puts(&b, h16);
    oip_buf_puts(&b, " \n");
    oip_buf_put(&b, f, 16);
    struct head ws = {API_INFER_L2_LOSS, true, strlen(h16) + 2, API_ENCODING_IDENTITY};
    decode_all(&r, &ws, b.data, b.len);
    expect_ok(&r);
    run_free(&r);
    oip_buf_free(&b);

    /* binary_data_size without the header length */
    decode_all(&r, &L2, h16, strlen(h16));
    expect_err(&r, API_INVALID_PARAMETER, "Inference-Header-Content-Length", NULL);
    run_free(&r);
    /* a JSON body sent with a header length: bytes after it refused */
    const char *js = "{\"inputs\": [" W "]}";
    struct head jl = {API_INFER_L2_LOSS, true, strlen(js), API_ENCODING_IDENTITY};
    decode_all(&r, &jl, js, strlen(js));
    expect_ok(&r);
    run_free(&r);
    oip_buf_init(&b);
    oip_buf_puts(&b, js);
    oip_buf_puts(&b, "abcd");
    decode_all(&r, &jl, b.data, b.len);
    expect_err(&r, API_INVALID_LENGTH, NULL, NULL);
    run_free(&r);
    oip_buf_free(&b);

    /* binary_data_size of the wrong type */
    static const char *const sizes[] = {"\"16\"", "-16", "16.0", "null"};
    for (size_t i = 0; i < 4; i++) {
        char hb[256];
        snprintf(hb, sizeof hb,
                 "{\"inputs\": [{\"name\": \"w\", \"shape\": [4], \"datatype\": \"FP32\", "
                 "\"parameters\": {\"binary_data_size\": %s}}]}",
                 sizes[i]);
        decode_bin(&r, API_INFER_L2_LOSS, hb, f, 16);
        cr_assert(r.st == API_INVALID_LENGTH || r.st == API_INVALID_TENSOR ||
                      r.st == API_INVALID_PARAMETER,
                  "binary_data_size %s: %s", sizes[i], api_status_code(r.st));
        run_free(&r);
    }
}

/* A header value past API_INFER_MAX_VALUE is payload_too_large; data is
 * not bounded by it. */
Test(infer_decode, header_values_bounded)
{
    size_t big = API_INFER_MAX_VALUE + 10;
    char *js = malloc(big + 400);
    struct run r;
    cr_assert(js);

    int n = snprintf(js, 400, "{\"inputs\": [{\"name\": \"");
    memset(js + n, 'n', big);
    snprintf(js + n + big, 400, "\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}");
    decode_json(&r, API_INFER_L2_LOSS, js);
    cr_assert(r.st == API_PAYLOAD_TOO_LARGE || r.st == API_INVALID_TENSOR, "%s", r.err.detail);
    run_free(&r);
    /* a name longer than API_MAX_NAME, within API_INFER_MAX_VALUE */
    n = snprintf(js, 400, "{\"inputs\": [{\"name\": \"");
    memset(js + n, 'n', API_MAX_NAME + 1);
    snprintf(js + n + API_MAX_NAME + 1, 400,
             "\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}");
    decode_json(&r, API_INFER_L2_LOSS, js);
    expect_err(&r, API_INVALID_TENSOR, NULL, NULL);
    run_free(&r);

    n = snprintf(js, 400, "{\"model_name\": \"");
    memset(js + n, 'm', big);
    snprintf(js + n + big, 400,
             "\", \"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", "
             "\"data\": [1]}]}");
    decode_json(&r, API_INFER_L2_LOSS, js);
    expect_err(&r, API_PAYLOAD_TOO_LARGE, NULL, NULL);
    run_free(&r);
    free(js);

    /* 20000 numbers of data: far past API_INFER_MAX_VALUE, accepted. */
    struct oip_buf b;
    oip_buf_init(&b);
    oip_buf_puts(&b, "{\"inputs\": [{\"name\": \"w\", \"shape\": [20000], \"datatype\": "
                     "\"FP64\", \"data\": [");
    for (int i = 0; i < 20000; i++)
        oip_buf_printf(&b, "%s1.25", i ? ", " : "");
    oip_buf_puts(&b, "]}]}");
    cr_assert_gt(b.len, API_INFER_MAX_VALUE);
    decode_all(&r, &L2, b.data, b.len);
    expect_ok(&r);
    cr_assert_eq(tensor(&r, 0)->sum_squares, 20000 * 1.5625);
    run_free(&r);
    oip_buf_free(&b);
}

/* Keys l2d does not know, anywhere, are ignored. */
Test(infer_decode, unknown_keys_ignored)
{
    const char *js =
        "{\"model_name\": \"l2_loss\", \"model_version\": \"1\", \"extra\": {\"a\": [1, {\"b\": "
        "null}], \"c\": \"]}\"}, \"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": "
        "\"FP32\", \"parameters\": {\"content_type\": \"np\"}, \"data\": [1, 2], \"x\": [[]]}], "
        "\"outputs\": [{\"name\": \"loss\", \"parameters\": {\"classification\": 0}}], "
        "\"parameters\": {\"priority\": 0, \"timeout\": 100, \"sequence_id\": \"s\"}}";
    struct run r;
    decode_json(&r, API_INFER_L2_LOSS, js);
    expect_ok(&r);
    cr_assert_eq(tensor(&r, 0)->sum_squares, 5.0);
    cr_assert_eq(r.req.n_wanted, 1);
    run_free(&r);
}

/* Shapes: a scalar ([] holds one element), an empty tensor, zeros. */
Test(infer_decode, scalar_and_empty)
{
    struct run r;
    decode_json(&r, API_INFER_L2_LOSS,
                "{\"inputs\": [{\"name\": \"s\", \"shape\": [], \"datatype\": \"FP64\", \"data\": "
                "[3]}, {\"name\": \"e\", \"shape\": [2, 0], \"datatype\": \"FP16\", \"data\": "
                "[]}]}");
    expect_ok(&r);
    expect_tensor(&r, 0, "s", L2_DTYPE_FLOAT64, 1, 9.0, NULL, 0);
    const uint64_t s20[] = {2, 0};
    expect_tensor(&r, 1, "e", L2_DTYPE_FLOAT16, 0, 0.0, s20, 2);
    cr_assert_eq(tensor(&r, 1)->max_abs, 0.0);
    run_free(&r);

    /* No inputs at all: zeros. */
    decode_json(&r, API_INFER_L2_LOSS, "{\"inputs\": []}");
    if (r.st == API_OK) {
        cr_assert_eq(api_body_result(r.body)->n_tensors, 0);
        cr_assert_eq(total_sum(&r), 0.0);
    } else {
        expect_err(&r, API_INVALID_TENSOR, "inputs", NULL);
    }
    run_free(&r);
}

/* A dtype query parameter is refused by create. */
Test(infer_decode, dtype_option_refused)
{
    struct api_infer_request req;
    struct api_decode_opts opts = {L2_DTYPE_FLOAT32, true, false, 0, &req};
    struct api_body *body = (struct api_body *)1;
    struct api_error err;

    api_infer_request_init(&req, API_INFER_L2_LOSS, false, 0);
    api_error_init(&err);
    cr_assert_eq(
        api_body_new(API_FORMAT_INFER, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
        API_INVALID_PARAMETER);
    cr_assert_null(body);
}

/* The request's init and the lists. */
Test(infer_decode, models_and_outputs_lists)
{
    enum api_infer_model m;
    cr_assert(api_infer_model_lookup("l2_loss", 7, &m) && m == API_INFER_L2_LOSS);
    cr_assert(api_infer_model_lookup("regularize", 10, &m) && m == API_INFER_REGULARIZE);
    cr_assert(!api_infer_model_lookup("l2_los", 6, &m));
    cr_assert(!api_infer_model_lookup("l2_loss2", 8, &m));
    cr_assert_str_eq(api_infer_model_name(API_INFER_REGULARIZE), "regularize");
    cr_assert_str_eq(api_infer_output_name(API_INFER_OUT_INPUT_SUM_SQUARES), "input_sum_squares");
    cr_assert_str_eq(api_infer_output_datatype(API_INFER_OUT_COUNT), "INT64");
    cr_assert_str_eq(api_infer_output_datatype(API_INFER_OUT_NORM), "FP64");
    cr_assert(api_infer_output_per_input(API_INFER_OUT_INPUT_LOSS));
    cr_assert(!api_infer_output_per_input(API_INFER_OUT_LOSS));
}

/* --- the clients' bodies ------------------------------------------------ */

/* tritonclient and kserve bodies of the same tensors, JSON and binary,
 * compact and spaced, plain, gzip and deflate: all the same sums. */
Test(infer_decode, client_bodies_agree)
{
    const float kf[6] = {0.5f, -1.25f, 3.0f, 0.1f, 7.0f, -2.0f};
    const double bd[3] = {0.1, 1e-3, -4.5};
    const int64_t ks[] = {2, 3}, bs[] = {3};
    struct oracle_sum o;
    double sum;

    oracle_sum_init(&o);
    for (int i = 0; i < 6; i++)
        oracle_sum_add_sq(&o, kf[i]);
    for (int i = 0; i < 3; i++)
        oracle_sum_add_sq(&o, bd[i]);
    cr_assert(oracle_sum_round(&o, false, &sum));
    oracle_sum_free(&o);

    static const char *const comp[] = {NULL, "gzip", "deflate"};
    for (int client = 0; client < 2; client++)
        for (int bin = 0; bin < 4; bin++)
            for (int style = 0; style < 2; style++)
                for (int z = 0; z < (client == 0 ? 3 : 1); z++) {
                    struct oip_tensor in[2] = {
                        {"dense/kernel", "FP32", 2, ks, kf, 6, (bin & 1) != 0},
                        {"dense/bias", "FP64", 1, bs, bd, 3, (bin & 2) != 0}};
                    static const struct oip_param scale = {"scale", "0.01"};
                    struct oip_call c = {.inputs = in,
                                         .n_inputs = 2,
                                         .id_seed = (uint64_t)bin,
                                         .model_name = "regularize",
                                         .params = &scale,
                                         .n_params = 1,
                                         .compression = comp[z],
                                         .style = (enum oip_style)style};
                    struct oip_body b;
                    if (client == 0)
                        oip_triton(&c, &b);
                    else
                        oip_kserve(&c, &b);
                    struct head h = {API_INFER_REGULARIZE, b.has_header_length, b.header_length,
                                     z == 1   ? API_ENCODING_GZIP
                                     : z == 2 ? API_ENCODING_DEFLATE
                                              : API_ENCODING_IDENTITY};
                    struct run r;
                    decode_all(&r, &h, b.buf.data, b.buf.len);
                    cr_assert_eq(r.st, API_OK, "client %d bin %d style %d z %d: %s", client, bin,
                                 style, z, r.err.detail);
                    cr_assert_eq(bits(total_sum(&r)), bits(sum), "client %d bin %d", client, bin);
                    cr_assert_str_eq(tensor(&r, 0)->name, "dense/kernel");
                    cr_assert_str_eq(tensor(&r, 1)->name, "dense/bias");
                    cr_assert_eq(tensor(&r, 0)->dtype, L2_DTYPE_FLOAT32);
                    cr_assert_eq(tensor(&r, 1)->dtype, L2_DTYPE_FLOAT64);
                    cr_assert_eq(r.req.scale.value, 0.01);
                    cr_assert_eq(r.req.has_id, client == 1);
                    if (client == 1)
                        cr_assert_eq(r.req.id_len, 36);
                    /* tritonclient without outputs asks for binary ones */
                    cr_assert_eq(r.req.binary_data_output, client == 0);
                    run_free(&r);
                    oip_body_free(&b);
                }
}

/* Many JSON numbers of every magnitude: exact against the oracle, under
 * random splittings. */
Test(infer_decode, json_exact_many_magnitudes)
{
    struct oip_buf b;
    struct oracle_sum o;
    double sum, half, norm;
    const size_t n = 3000;

    oip_buf_init(&b);
    oracle_sum_init(&o);
    oip_buf_printf(&b,
                   "{\"inputs\": [{\"name\": \"w\", \"shape\": [%zu], \"datatype\": \"FP64\", "
                   "\"data\": [",
                   n);
    for (size_t i = 0; i < n; i++) {
        double x = wild();
        oip_buf_puts(&b, i ? ", " : "");
        oip_put_pyfloat(&b, x);
        oracle_sum_add_sq(&o, x);
    }
    oip_buf_puts(&b, "]}]}");
    cr_assert(oracle_sum_round(&o, false, &sum));
    cr_assert(oracle_sum_round(&o, true, &half));
    cr_assert(oracle_sum_norm(&o, &norm));
    oracle_sum_free(&o);
    struct run r;
    decode_all(&r, &L2, b.data, b.len);
    expect_ok(&r);
    cr_assert_eq(bits(tensor(&r, 0)->sum_squares), bits(sum));
    cr_assert_eq(bits(tensor(&r, 0)->half_sum), bits(half));
    cr_assert_eq(bits(tensor(&r, 0)->norm), bits(norm));
    run_free(&r);
    oip_buf_free(&b);
}

/* parameters.partial: a bool; true adds the partial outputs to the
 * defaults and makes them match the inputs' exact states. */
Test(infer_decode, partial_parameter)
{
    struct run r;
    struct l2_accum acc;
    const struct api_result *res;

    decode_json(&r, API_INFER_L2_LOSS,
                "{\"parameters\": {\"partial\": true}, \"inputs\": [{\"name\": \"a\", \"shape\": "
                "[2], \"datatype\": \"FP64\", \"data\": [3, 4]}]}");
    expect_ok(&r);
    cr_assert(r.req.partial);
    expect_default_outputs(&r, false, false);
    cr_assert_eq(r.req.wanted[r.req.n_wanted - 2].which, API_INFER_OUT_PARTIAL);
    cr_assert_eq(r.req.wanted[r.req.n_wanted - 1].which, API_INFER_OUT_INPUT_PARTIAL);
    res = api_body_result(r.body);
    cr_assert(res->want_partial);
    l2_accum_init(&acc);
    l2_accum_add(&acc, 3);
    l2_accum_add(&acc, 4);
    cr_assert_eq(memcmp(res->tensors[0].exact->limb, acc.limb, sizeof acc.limb), 0);
    cr_assert_eq(res->tensors[0].exact->count, 2);
    run_free(&r);

    /* inputs first, parameters after: the same */
    decode_json(&r, API_INFER_L2_LOSS,
                "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP64\", "
                "\"data\": [3, 4]}], \"parameters\": {\"partial\": false}}");
    expect_ok(&r);
    cr_assert_not(r.req.partial);
    expect_default_outputs(&r, false, false);
    run_free(&r);

    decode_json(&r, API_INFER_L2_LOSS,
                "{\"parameters\": {\"partial\": \"true\"}, \"inputs\": [{\"name\": \"a\", "
                "\"shape\": [1], \"datatype\": \"FP64\", \"data\": [3]}]}");
    expect_err(&r, API_INVALID_PARAMETER, "parameters.partial must be true or false", NULL);
    run_free(&r);
}

/* parameters.track: a model name validated as ?track's, kept for the
 * server; anything else is invalid_parameter naming the parameter. */
Test(infer_decode, track_parameter)
{
    struct run r;
    static const char *const bad[] = {"\"\"", "\"a b\"", "\"caf\\u00e9\"", "1", "true", "null"};
    char body[512], name[200];

    decode_json(&r, API_INFER_L2_LOSS,
                "{\"parameters\": {\"track\": \"resnet-50/v1:a_b.c\"}, \"inputs\": [{\"name\": "
                "\"a\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [3]}]}");
    expect_ok(&r);
    cr_assert_str_eq(r.req.track, "resnet-50/v1:a_b.c");
    cr_assert_eq(r.req.track_len, strlen("resnet-50/v1:a_b.c"));
    cr_assert_eq(r.req.tracked, API_INFER_TRACKED_NONE);
    run_free(&r);

    decode_json(&r, API_INFER_L2_LOSS,
                "{\"inputs\": [{\"name\": \"a\", \"shape\": [1], \"datatype\": \"FP64\", "
                "\"data\": [3]}]}");
    expect_ok(&r);
    cr_assert_eq(r.req.track_len, 0);
    run_free(&r);

    /* 128 bytes are accepted, 129 are not */
    memset(name, 'm', 129);
    name[128] = '\0';
    snprintf(body, sizeof body,
             "{\"parameters\": {\"track\": \"%s\"}, \"inputs\": [{\"name\": \"a\", \"shape\": "
             "[1], \"datatype\": \"FP64\", \"data\": [3]}]}",
             name);
    decode_json(&r, API_INFER_L2_LOSS, body);
    expect_ok(&r);
    cr_assert_eq(r.req.track_len, 128);
    run_free(&r);
    name[128] = 'm';
    name[129] = '\0';
    snprintf(body, sizeof body,
             "{\"parameters\": {\"track\": \"%s\"}, \"inputs\": [{\"name\": \"a\", \"shape\": "
             "[1], \"datatype\": \"FP64\", \"data\": [3]}]}",
             name);
    decode_json(&r, API_INFER_L2_LOSS, body);
    expect_err(&r, API_INVALID_PARAMETER, NULL, NULL);
    cr_assert_not_null(strstr(r.err.detail, "parameters.track must be a model name"), "%s",
                       r.err.detail);
    run_free(&r);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"parameters\": {\"track\": %s}, \"inputs\": [{\"name\": \"a\", \"shape\": "
                 "[1], \"datatype\": \"FP64\", \"data\": [3]}]}",
                 bad[i]);
        decode_json(&r, API_INFER_L2_LOSS, body);
        expect_err(&r, API_INVALID_PARAMETER, NULL, NULL);
        cr_assert_not_null(strstr(r.err.detail, "parameters.track must be"), "%s: %s", bad[i],
                           r.err.detail);
        run_free(&r);
    }
}

/* Keys and small values are read where they lie when they can be (plain
 * ASCII keys, plain strings, integers, arrays of them, booleans, all within
 * one chunk) and captured otherwise; both ways read them alike (decode_all
 * checks every split): an escaped key is the key it spells, a key that only
 * begins like one of l2d's, or is longer than any, is another key, and
 * values of every form around the ones l2d reads are checked and ignored. */
Test(infer_decode, keys_and_values_read_alike)
{
    const char *js =
        "{\"binary_data_output_and_then_some_more\": true, "
        "\"parametersparametersparametersparameters\": {\"scale\": \"x\"}, "
        "\"\\u0069nputs\": [{\"na\\u006de\": \"d\xc3\xa9j\xc3\xa0\", \"shape\"  :  [ 2 ,1 ] , "
        "\"n\xc3\xa9\": -1.5e3, \"datatype\": \"FP16\", \"z\": null, \"y\": \"a\\\"b\", "
        "\"data\": [[1], [2]], \"x\": {\"shape\": 1}, \"w\": [1, [2]], \"v\": false}, "
        "{\"name\": \"second input with a name longer than the short ones kept in place\", "
        "\"shape\": [0], \"datatype\": \"BF16\", \"data\": []}], "
        "\"parameters\": {\"binary_data_output\" : false, \"partial\":true}}";
    const uint64_t s21[] = {2, 1}, s0[] = {0};
    struct run r;

    decode_json(&r, API_INFER_L2_LOSS, js);
    expect_ok(&r);
    expect_tensor(&r, 0, "d\xc3\xa9j\xc3\xa0", L2_DTYPE_FLOAT16, 2, 5.0, s21, 2);
    expect_tensor(&r, 1, "second input with a name longer than the short ones kept in place",
                  L2_DTYPE_BFLOAT16, 0, 0.0, s0, 1);
    cr_assert_not(r.req.binary_data_output);
    cr_assert(r.req.partial);
    run_free(&r);

    /* "binary_data_output" read as a key only when it is the whole key */
    decode_json(&r, API_INFER_L2_LOSS,
                "{\"inputs\": [], \"parameters\": {\"binary_data_outpu\": 1, "
                "\"binary_data_output\": 2}}");
    expect_err(&r, API_INVALID_PARAMETER, "binary_data_output must be true or false", NULL);
    run_free(&r);
}

/* A key longer than API_INFER_MAX_VALUE is refused as every over-long
 * header value is, also when it arrives in one piece. */
Test(infer_decode, long_key_bounded)
{
    size_t big = API_INFER_MAX_VALUE + 1;
    char *js = malloc(big + 64);
    struct run r;
    int n;

    cr_assert(js);
    n = snprintf(js, 64, "{\"inputs\": [], \"");
    memset(js + n, 'k', big);
    snprintf(js + n + big, 64, "\": 1}");
    decode_json(&r, API_INFER_L2_LOSS, js);
    expect_err(&r, API_PAYLOAD_TOO_LARGE, "longer than", NULL);
    run_free(&r);
    free(js);
}
