/* test_v2.c -- the Open Inference Protocol v2 against the real binary:
 * every endpoint (server and model metadata, health, readiness, versioned
 * paths, infer), every datatype in JSON and binary, binary outputs read
 * back as the clients read them (Inference-Header-Content-Length and
 * binary_data_size), output selection, every error as {"error": ...} with
 * Content-Type exactly application/json and its status, the bytes that
 * tritonclient.http and kserve send (tests/support/oip.h), gzip and deflate,
 * a chunked upload, and a 1 GiB binary infer in constant memory. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"
#include "tests/support/oip.h"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(v2, .init = start_default, .fini = it_teardown, .timeout = 60);
TestSuite(v2_limits, .init = it_setup, .fini = it_teardown, .timeout = 60);
TestSuite(v2_big, .init = it_setup, .fini = it_teardown, .timeout = 240);

/* Every output, in API_INFER_OUTPUT_LIST order (api/infer.h), its datatype
 * and whether it has one value per input. */
static const struct {
    const char *name, *datatype;
    bool per_input;
} OUTPUTS[] = {
    {"loss", "FP64", false},
    {"sum_squares", "FP64", false},
    {"norm", "FP64", false},
    {"max_abs", "FP64", false},
    {"count", "INT64", false},
    {"nan_count", "INT64", false},
    {"inf_count", "INT64", false},
    {"input_loss", "FP64", true},
    {"input_sum_squares", "FP64", true},
    {"input_norm", "FP64", true},
};
#define N_OUTPUTS (sizeof OUTPUTS / sizeof OUTPUTS[0])

/* --- requests and answers --------------------------------------------------- */

static void request(const char *method, const char *target, const char *ct, const void *body,
                    size_t len, const char *const *headers, struct it_response *r)
{
    struct it_request req = {.method = method,
                             .target = target,
                             .content_type = ct,
                             .body = body,
                             .body_len = len,
                             .headers = headers};
    it_http(NULL, srv.port, &req, r);
}

/* Posts a body built by a client, with the headers that client sends. */
static void post_oip(const char *target, const struct oip_body *b, struct it_response *r)
{
    char storage[2][96];
    const char *lines[3];

    oip_header_lines(b, storage, lines);
    request("POST", target, b->content_type, b->buf.data, b->buf.len, lines, r);
}

static void expect_json_type(const struct it_response *r)
{
    cr_assert_str_eq(r->content_type, "application/json", "Content-Type \"%s\" (status %ld)",
                     r->content_type, r->status);
}

/* The protocol's error: status, Content-Type exactly application/json,
 * {"error": "..."} and nothing else; the detail holds needle when given. */
static void expect_v2_error(const struct it_response *r, long status, const char *needle)
{
    cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
    expect_json_type(r);
    json_t *j = it_json(r);
    json_t *e = json_object_get(j, "error");
    cr_assert(json_is_string(e), "no \"error\" string: %s", r->body);
    cr_assert_eq(json_object_size(j), 1, "more than \"error\": %s", r->body);
    cr_assert_gt(strlen(json_string_value(e)), 0);
    if (needle != NULL)
        cr_assert_not_null(strstr(json_string_value(e), needle), "error \"%s\" lacks \"%s\"",
                           json_string_value(e), needle);
    json_decref(j);
}

/* One output of an infer answer, JSON or binary, as the clients read it. */
struct out {
    char name[32];
    char datatype[8];
    long long shape0;
    size_t n;
    double d[16];    /* FP64 values */
    long long i[16]; /* INT64 values */
    bool binary;
};

struct answer {
    json_t *head; /* the JSON header */
    struct out o[N_OUTPUTS];
    size_t n;
};

static void read_value(struct out *o, size_t k, const json_t *v)
{
    if (strcmp(o->datatype, "INT64") == 0) {
        cr_assert(json_is_integer(v), "%s[%zu] not an integer", o->name, k);
        o->i[k] = json_integer_value(v);
    } else {
        cr_assert(json_is_real(v), "%s[%zu] not a real", o->name, k);
        o->d[k] = json_real_value(v);
    }
}

/* Parses an infer answer: when it has Inference-Header-Content-Length, the
 * JSON is that many bytes and the binary outputs follow in output order
 * (tritonclient's InferResult); else the body is the JSON. */
static void parse_answer(const struct it_response *r, struct answer *a)
{
    char hl[32];
    size_t json_len = r->body_len;
    bool has_hl = it_header(r, "Inference-Header-Content-Length", hl, sizeof hl);
    json_error_t jerr;

    cr_assert_eq(r->status, 200, "status %ld: %.300s", r->status, r->body);
    if (has_hl) {
        char *end;
        unsigned long long v = strtoull(hl, &end, 10);
        cr_assert(*end == '\0' && v <= r->body_len, "Inference-Header-Content-Length %s", hl);
        json_len = (size_t)v;
        cr_assert_str_eq(r->content_type, "application/octet-stream");
    } else {
        expect_json_type(r);
    }
    a->head = json_loadb(r->body, json_len, 0, &jerr);
    cr_assert_not_null(a->head, "header not JSON: %s: %.300s", jerr.text, r->body);
    json_t *outs = json_object_get(a->head, "outputs");
    cr_assert(json_is_array(outs), "no outputs: %.300s", r->body);
    a->n = json_array_size(outs);
    cr_assert_leq(a->n, N_OUTPUTS);
    size_t at = json_len;
    bool any_binary = false;
    for (size_t k = 0; k < a->n; k++) {
        json_t *o = json_array_get(outs, k);
        struct out *x = &a->o[k];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", json_string_value(json_object_get(o, "name")));
        snprintf(x->datatype, sizeof x->datatype, "%s",
                 json_string_value(json_object_get(o, "datatype")));
        json_t *shape = json_object_get(o, "shape");
        cr_assert(json_is_array(shape) && json_array_size(shape) == 1, "%s: shape", x->name);
        x->shape0 = json_integer_value(json_array_get(shape, 0));
        cr_assert(x->shape0 >= 0 && x->shape0 <= 16);
        x->n = (size_t)x->shape0;
        json_t *data = json_object_get(o, "data");
        json_t *size = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
        if (size != NULL) {
            x->binary = any_binary = true;
            cr_assert_null(data, "%s: data and binary_data_size", x->name);
            cr_assert(json_is_integer(size) && (size_t)json_integer_value(size) == 8 * x->n,
                      "%s: binary_data_size", x->name);
            cr_assert_leq(at + 8 * x->n, r->body_len, "%s: binary data cut short", x->name);
            for (size_t k2 = 0; k2 < x->n; k2++) {
                if (strcmp(x->datatype, "INT64") == 0)
                    memcpy(&x->i[k2], r->body + at + 8 * k2, 8);
                else
                    memcpy(&x->d[k2], r->body + at + 8 * k2, 8);
            }
            at += 8 * x->n;
        } else {
            cr_assert(json_is_array(data) && json_array_size(data) == x->n, "%s: data", x->name);
            for (size_t k2 = 0; k2 < x->n; k2++)
                read_value(x, k2, json_array_get(data, k2));
        }
    }
    cr_assert_eq(at, r->body_len, "bytes after the binary outputs");
    cr_assert_eq(any_binary, has_hl, "binary outputs and the header disagree");
}

static const struct out *find(const struct answer *a, const char *name)
{
    for (size_t k = 0; k < a->n; k++)
        if (strcmp(a->o[k].name, name) == 0)
            return &a->o[k];
    cr_assert_fail("no output %s", name);
    return NULL;
}

static void expect_d(const struct answer *a, const char *name, double want)
{
    const struct out *o = find(a, name);
    cr_assert_str_eq(o->datatype, "FP64", "%s", name);
    cr_assert_eq(o->n, 1, "%s: shape", name);
    cr_assert(memcmp(&o->d[0], &want, 8) == 0, "%s = %.17g, want %.17g", name, o->d[0], want);
}

static void expect_i(const struct answer *a, const char *name, long long want)
{
    const struct out *o = find(a, name);
    cr_assert_str_eq(o->datatype, "INT64", "%s", name);
    cr_assert_eq(o->n, 1, "%s: shape", name);
    cr_assert_eq(o->i[0], want, "%s = %lld, want %lld", name, o->i[0], want);
}

static void expect_per_input(const struct answer *a, const char *name, const double *want, size_t n)
{
    const struct out *o = find(a, name);
    cr_assert_eq(o->n, n, "%s: %zu values", name, o->n);
    for (size_t k = 0; k < n; k++)
        cr_assert(memcmp(&o->d[k], &want[k], 8) == 0, "%s[%zu] = %.17g, want %.17g", name, k,
                  o->d[k], want[k]);
}

/* The defaults: every output but the non-finite counts, in list order. */
static void expect_default_names(const struct answer *a, bool binary)
{
    size_t k = 0;
    for (size_t i = 0; i < N_OUTPUTS; i++) {
        if (strcmp(OUTPUTS[i].name, "nan_count") == 0 || strcmp(OUTPUTS[i].name, "inf_count") == 0)
            continue;
        cr_assert_lt(k, a->n);
        cr_assert_str_eq(a->o[k].name, OUTPUTS[i].name, "output %zu", k);
        cr_assert_str_eq(a->o[k].datatype, OUTPUTS[i].datatype, "output %zu", k);
        cr_assert_eq(a->o[k].binary, binary, "output %s binary", a->o[k].name);
        k++;
    }
    cr_assert_eq(a->n, k, "%zu outputs", a->n);
}

static void answer_free(struct answer *a)
{
    json_decref(a->head);
}

/* The figures of [1, 2, 0.5, -3] in every datatype (all exact). */
static void expect_1_2_half_m3(const struct answer *a, double scale)
{
    expect_d(a, "sum_squares", 14.25);
    expect_d(a, "loss", scale > 0 ? scale * 7.125 : 7.125);
    expect_d(a, "norm", sqrt(14.25));
    expect_d(a, "max_abs", 3.0);
    expect_i(a, "count", 4);
}

static const float F4[] = {1.0f, 2.0f, 0.5f, -3.0f};
static const double D4[] = {1.0, 2.0, 0.5, -3.0};
static const uint16_t H4[] = {0x3c00, 0x4000, 0x3800, 0xc200};
static const int64_t SH22[] = {2, 2};

static struct oip_tensor tensor_of(const char *datatype, bool binary)
{
    struct oip_tensor t = {"w", datatype, 2, SH22, F4, 4, binary};
    if (strcmp(datatype, "FP64") == 0)
        t.values = D4;
    else if (strcmp(datatype, "FP16") == 0)
        t.values = H4;
    return t;
}

/* --- metadata, health, readiness ------------------------------------------ */

Test(v2, server_metadata)
{
    struct it_response r;
    it_get(srv.port, "/v2", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    expect_json_type(&r);
    json_t *j = it_json(&r);
    it_expect_str(j, "name", "l2d");
    it_expect_str(j, "version", srv.version);
    json_t *ext = json_object_get(j, "extensions");
    cr_assert(json_is_array(ext));
    bool found = false;
    for (size_t i = 0; i < json_array_size(ext); i++)
        found |= strcmp(json_string_value(json_array_get(ext, i)), "binary_tensor_data") == 0;
    cr_assert(found, "no binary_tensor_data: %s", r.body);
    json_decref(j);
    it_response_free(&r);

    /* The query string of a /v2 path is ignored. */
    it_get(srv.port, "/v2?x=1", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    it_response_free(&r);
}

Test(v2, live_and_ready)
{
    static const struct {
        const char *path, *key;
    } probes[] = {{"/v2/health/live", "live"},
                  {"/v2/health/ready", "ready"},
                  {"/v2/models/l2_loss/ready", "ready"},
                  {"/v2/models/regularize/ready", "ready"},
                  {"/v2/models/l2_loss/versions/1/ready", "ready"},
                  {"/v2/models/regularize/versions/1/ready", "ready"}};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        struct it_response r;
        it_get(srv.port, probes[i].path, &r);
        cr_assert_eq(r.status, 200, "%s: %ld %s", probes[i].path, r.status, r.body);
        expect_json_type(&r);
        json_t *j = it_json(&r);
        cr_assert(json_is_true(json_object_get(j, probes[i].key)), "%s: %s", probes[i].path,
                  r.body);
        json_decref(j);
        it_response_free(&r);

        /* HEAD works where GET does. */
        struct it_request head = {.method = "HEAD", .target = probes[i].path};
        it_http(NULL, srv.port, &head, &r);
        cr_assert_eq(r.status, 200, "HEAD %s: %ld", probes[i].path, r.status);
        cr_assert_eq(r.body_len, 0);
        it_response_free(&r);
    }
}

Test(v2, model_metadata)
{
    static const char *const paths[] = {"/v2/models/l2_loss", "/v2/models/l2_loss/versions/1",
                                        "/v2/models/regularize",
                                        "/v2/models/regularize/versions/1"};
    for (size_t p = 0; p < 4; p++) {
        struct it_response r;
        it_get(srv.port, paths[p], &r);
        cr_assert_eq(r.status, 200, "%s: %ld %s", paths[p], r.status, r.body);
        expect_json_type(&r);
        json_t *j = it_json(&r);
        it_expect_str(j, "name", p < 2 ? "l2_loss" : "regularize");
        it_expect_str(j, "platform", "l2d");
        json_t *v = json_object_get(j, "versions");
        cr_assert(json_is_array(v) && json_array_size(v) == 1 &&
                      strcmp(json_string_value(json_array_get(v, 0)), "1") == 0,
                  "versions: %s", r.body);
        json_t *in = json_object_get(j, "inputs");
        cr_assert(json_is_array(in) && json_array_size(in) >= 1, "inputs: %s", r.body);
        json_t *outs = json_object_get(j, "outputs");
        cr_assert(json_is_array(outs), "outputs: %s", r.body);
        for (size_t i = 0; i < N_OUTPUTS; i++) {
            bool found = false;
            for (size_t k = 0; k < json_array_size(outs); k++) {
                json_t *o = json_array_get(outs, k);
                if (strcmp(json_string_value(json_object_get(o, "name")), OUTPUTS[i].name) != 0)
                    continue;
                found = true;
                it_expect_str(o, "datatype", OUTPUTS[i].datatype);
                json_t *shape = json_object_get(o, "shape");
                cr_assert(json_is_array(shape) && json_array_size(shape) == 1);
                cr_assert_eq(json_integer_value(json_array_get(shape, 0)),
                             OUTPUTS[i].per_input ? -1 : 1, "%s shape", OUTPUTS[i].name);
            }
            cr_assert(found, "%s: no output %s", paths[p], OUTPUTS[i].name);
        }
        json_decref(j);
        it_response_free(&r);
    }
}

/* --- infer: datatypes, JSON and binary ------------------------------------ */

/* Every datatype, JSON (nested and flat) and binary, on both paths. */
Test(v2, every_datatype_json_and_binary)
{
    static const char *const types[] = {"FP16", "BF16", "FP32", "FP64"};
    static const char *const targets[] = {"/v2/models/l2_loss/infer",
                                          "/v2/models/l2_loss/versions/1/infer"};
    for (size_t t = 0; t < 4; t++)
        for (int bin = 0; bin < 2; bin++) {
            struct oip_tensor in = tensor_of(types[t], bin != 0);
            static const struct oip_output none[1];
            struct oip_call c = {.inputs = &in, .n_inputs = 1, .outputs = none};
            struct oip_body b;
            oip_triton(&c, &b);
            struct it_response r;
            post_oip(targets[bin], &b, &r);
            struct answer a;
            parse_answer(&r, &a);
            it_expect_str(a.head, "model_name", "l2_loss");
            it_expect_str(a.head, "model_version", "1");
            cr_assert_null(json_object_get(a.head, "id"), "an id nobody sent");
            /* tritonclient asked for binary outputs (no outputs named) */
            expect_default_names(&a, true);
            expect_1_2_half_m3(&a, 0);
            const double il[] = {7.125}, iss[] = {14.25}, in_[] = {sqrt(14.25)};
            expect_per_input(&a, "input_loss", il, 1);
            expect_per_input(&a, "input_sum_squares", iss, 1);
            expect_per_input(&a, "input_norm", in_, 1);
            answer_free(&a);
            it_response_free(&r);
            oip_body_free(&b);
        }

    /* Nested JSON data, hand-written, with JSON outputs. */
    static const char *const nested =
        "{\"inputs\": [{\"name\": \"w\", \"shape\": [2, 2], \"datatype\": \"BF16\", "
        "\"data\": [[1, 2], [0.5, -3]]}]}";
    struct it_response r;
    request("POST", "/v2/models/l2_loss/infer", "application/json", nested, strlen(nested), NULL,
            &r);
    struct answer a;
    parse_answer(&r, &a);
    expect_default_names(&a, false);
    expect_1_2_half_m3(&a, 0);
    answer_free(&a);
    it_response_free(&r);
}

/* The exact sum: a running float64 sum loses both ones. */
Test(v2, sums_are_exact)
{
    static const char *const js = "{\"inputs\": [{\"name\": \"a\", \"shape\": [3], \"datatype\": "
                                  "\"FP64\", \"data\": [1e8, 1, 1]}]}";
    struct it_response r;
    request("POST", "/v2/models/l2_loss/infer", NULL, js, strlen(js), NULL, &r);
    struct answer a;
    parse_answer(&r, &a);
    expect_d(&a, "sum_squares", 10000000000000002.0);
    expect_d(&a, "loss", 5000000000000001.0);
    answer_free(&a);
    it_response_free(&r);
}

/* Several inputs, regularized, outputs selected in order, some binary;
 * the id echoed. */
Test(v2, outputs_selected_binary_and_json)
{
    static const char *const js =
        "{\"id\": \"abc-1\", \"inputs\": [{\"name\": \"k\", \"shape\": [2, 2], \"datatype\": "
        "\"FP32\", \"data\": [[1, 2], [3, 4]]}, {\"name\": \"b\", \"shape\": [1], \"datatype\": "
        "\"FP64\", \"data\": [1]}], \"outputs\": [{\"name\": \"input_loss\", \"parameters\": "
        "{\"binary_data\": true}}, {\"name\": \"count\"}, {\"name\": \"loss\", \"parameters\": "
        "{\"binary_data\": true}}, {\"name\": \"norm\"}], \"parameters\": {\"scale\": 0.5}}";
    struct it_response r;
    request("POST", "/v2/models/regularize/infer", "application/json", js, strlen(js), NULL, &r);
    struct answer a;
    parse_answer(&r, &a);
    it_expect_str(a.head, "model_name", "regularize");
    it_expect_str(a.head, "id", "abc-1");
    cr_assert_eq(a.n, 4);
    static const char *const names[] = {"input_loss", "count", "loss", "norm"};
    static const bool bin[] = {true, false, true, false};
    for (size_t k = 0; k < 4; k++) {
        cr_assert_str_eq(a.o[k].name, names[k]);
        cr_assert_eq(a.o[k].binary, bin[k], "%s", names[k]);
    }
    const double il[] = {7.5, 0.25};
    expect_per_input(&a, "input_loss", il, 2);
    expect_i(&a, "count", 5);
    expect_d(&a, "loss", 7.75);
    expect_d(&a, "norm", sqrt(31.0));
    answer_free(&a);
    it_response_free(&r);

    /* binary_data_output: every output binary, unless its own flag says no. */
    static const char *const js2 =
        "{\"inputs\": [{\"name\": \"k\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": "
        "[3]}], \"outputs\": [{\"name\": \"sum_squares\"}, {\"name\": \"max_abs\", "
        "\"parameters\": {\"binary_data\": false}}], \"parameters\": {\"binary_data_output\": "
        "true}}";
    request("POST", "/v2/models/l2_loss/infer", NULL, js2, strlen(js2), NULL, &r);
    parse_answer(&r, &a);
    cr_assert(a.n == 2 && a.o[0].binary && !a.o[1].binary);
    expect_d(&a, "sum_squares", 9.0);
    expect_d(&a, "max_abs", 3.0);
    answer_free(&a);
    it_response_free(&r);
}

/* scale 0.0 disables: loss 0, the rest computed. */
Test(v2, regularize_disabled_and_nonfinite_counted)
{
    static const char *const js =
        "{\"inputs\": [{\"name\": \"k\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": "
        "[3, 4]}], \"parameters\": {\"scale\": \"0.0\"}}";
    struct it_response r;
    request("POST", "/v2/models/regularize/infer", NULL, js, strlen(js), NULL, &r);
    struct answer a;
    parse_answer(&r, &a);
    expect_d(&a, "loss", 0.0);
    expect_d(&a, "sum_squares", 25.0);
    expect_d(&a, "norm", 5.0);
    answer_free(&a);
    it_response_free(&r);

    /* nonfinite = count: nan_count and inf_count join the defaults. */
    const float f[] = {1.0f, NAN, INFINITY, -INFINITY, 2.0f};
    const int64_t s5[] = {5};
    struct oip_tensor in = {"f", "FP32", 1, s5, f, 5, true};
    static const struct oip_param p = {"nonfinite", "\"count\""};
    struct oip_call c = {.inputs = &in, .n_inputs = 1, .params = &p, .n_params = 1};
    struct oip_body b;
    oip_triton(&c, &b);
    post_oip("/v2/models/l2_loss/infer", &b, &r);
    parse_answer(&r, &a);
    cr_assert_eq(a.n, N_OUTPUTS);
    expect_i(&a, "nan_count", 1);
    expect_i(&a, "inf_count", 2);
    expect_i(&a, "count", 5);
    expect_d(&a, "sum_squares", 5.0);
    answer_free(&a);
    it_response_free(&r);
    oip_body_free(&b);
}

/* --- the clients' bytes ---------------------------------------------------- */

static const float KF[6] = {0.5f, -1.25f, 3.0f, 0.25f, 7.0f, -2.0f};
static const double BD[3] = {0.5, 1.5, -4.5};
static const int64_t KS[] = {2, 3}, BS[] = {3};

/* sum 63.875 + 22.75 = 86.625, exact in float64 */
static void expect_kb(const struct answer *a, double scale)
{
    expect_d(a, "sum_squares", 86.625);
    expect_d(a, "loss", scale * (86.625 / 2));
    expect_i(a, "count", 9);
    const double iss[] = {63.875, 22.75};
    expect_per_input(a, "input_sum_squares", iss, 2);
}

/* tritonclient.http, as InferenceServerClient.infer sends: binary by
 * default (no Content-Type, the header), JSON when binary_data=False,
 * compact JSON (rapidjson) and the spaced json.dumps form, gzip/deflate. */
Test(v2, tritonclient_bodies)
{
    static const char *const comp[] = {NULL, "gzip", "deflate"};
    static const struct oip_param scale = {"scale", "0.01"};
    for (int bin = 0; bin < 4; bin++)
        for (int style = 0; style < 2; style++)
            for (int z = 0; z < 3; z++) {
                struct oip_tensor in[2] = {{"dense/kernel", "FP32", 2, KS, KF, 6, (bin & 1) != 0},
                                           {"dense/bias", "FP64", 1, BS, BD, 3, (bin & 2) != 0}};
                struct oip_call c = {.inputs = in,
                                     .n_inputs = 2,
                                     .id = style ? "42" : NULL,
                                     .params = &scale,
                                     .n_params = 1,
                                     .compression = comp[z],
                                     .style = (enum oip_style)style};
                struct oip_body b;
                oip_triton(&c, &b);
                struct it_response r;
                post_oip("/v2/models/regularize/infer", &b, &r);
                cr_assert_eq(r.status, 200, "bin %d style %d %s: %ld %s", bin, style,
                             comp[z] ? comp[z] : "identity", r.status, r.body);
                struct answer a;
                parse_answer(&r, &a);
                expect_default_names(&a, true);
                expect_kb(&a, 0.01);
                if (style)
                    it_expect_str(a.head, "id", "42");
                answer_free(&a);
                it_response_free(&r);
                oip_body_free(&b);
            }
}

/* kserve's InferenceRESTClient(protocol v2): JSON (no Content-Type, an id,
 * model_name), or raw data with application/octet-stream and the header;
 * it reads "error" only under Content-Type exactly application/json. */
Test(v2, kserve_bodies)
{
    for (int bin = 0; bin < 4; bin++) {
        struct oip_tensor in[2] = {{"dense/kernel", "FP32", 2, KS, KF, 6, (bin & 1) != 0},
                                   {"dense/bias", "FP64", 1, BS, BD, 3, (bin & 2) != 0}};
        struct oip_call c = {
            .inputs = in, .n_inputs = 2, .id_seed = (uint64_t)bin + 1, .model_name = "l2_loss"};
        struct oip_body b;
        oip_kserve(&c, &b);
        struct it_response r;
        post_oip("/v2/models/l2_loss/infer", &b, &r);
        struct answer a;
        parse_answer(&r, &a);
        expect_default_names(&a, false);
        expect_kb(&a, 1.0);
        json_t *id = json_object_get(a.head, "id");
        cr_assert(json_is_string(id) && strlen(json_string_value(id)) == 36, "id: %s", r.body);
        cr_assert_not_null(strstr((const char *)b.buf.data, json_string_value(id)));
        answer_free(&a);
        it_response_free(&r);
        oip_body_free(&b);
    }

    /* An error, as kserve reads it. */
    const float one[] = {1.0f};
    const int64_t s2[] = {2};
    struct oip_tensor bad = {"w", "FP32", 1, s2, one, 1, false};
    struct oip_call c = {.inputs = &bad, .n_inputs = 1, .id_seed = 9, .model_name = "l2_loss"};
    struct oip_body b;
    oip_kserve(&c, &b);
    struct it_response r;
    post_oip("/v2/models/l2_loss/infer", &b, &r);
    expect_v2_error(&r, 400, "w");
    it_response_free(&r);
    oip_body_free(&b);
}

/* A binary body in a chunked upload, in random pieces. */
Test(v2, chunked_upload)
{
    double *d = malloc(5000 * sizeof *d);
    cr_assert(d);
    for (int i = 0; i < 5000; i++)
        d[i] = (double)(i % 7) - 3.0;
    const int64_t s[] = {5000};
    struct oip_tensor in = {"w", "FP64", 1, s, d, 5000, true};
    struct oip_call c = {.inputs = &in, .n_inputs = 1};
    struct oip_body b;
    oip_triton(&c, &b);
    double ss = 0;
    for (int i = 0; i < 5000; i++)
        ss += d[i] * d[i];

    char storage[2][96];
    const char *lines[3];
    oip_header_lines(&b, storage, lines);
    struct it_chunks src = {(const char *)b.buf.data, b.buf.len, 0, 997, 0x9e3779b97f4a7c15ull};
    struct it_request req = {.method = "POST",
                             .target = "/v2/models/l2_loss/infer",
                             .headers = lines,
                             .read_fn = it_read_chunks,
                             .read_ctx = &src,
                             .read_size = -1};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    cr_assert_eq(src.pos, b.buf.len);
    struct answer a;
    parse_answer(&r, &a);
    expect_d(&a, "sum_squares", ss);
    expect_i(&a, "count", 5000);
    answer_free(&a);
    it_response_free(&r);
    oip_body_free(&b);
    free(d);
}

/* --- errors ------------------------------------------------------------- */

Test(v2, not_found_and_method_not_allowed)
{
    static const char *const missing[] = {
        "/v2/models/foo",
        "/v2/models/foo/ready",
        "/v2/models/l2_loss/versions/2",
        "/v2/models/l2_loss/versions/2/ready",
        "/v2/nothing",
        "/v2/models",
        "/v2/models/l2_loss/stats",
        "/v2/health",
        "/v2/models/L2_LOSS",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        struct it_response r;
        it_get(srv.port, missing[i], &r);
        expect_v2_error(&r, 404, NULL);
        it_response_free(&r);
    }
    static const char *const js = "{\"inputs\": []}";
    static const char *const bad_infer[] = {"/v2/models/foo/infer",
                                            "/v2/models/l2_loss/versions/0/infer"};
    for (size_t i = 0; i < 2; i++) {
        struct it_response r;
        request("POST", bad_infer[i], NULL, js, strlen(js), NULL, &r);
        expect_v2_error(&r, 404, NULL);
        it_response_free(&r);
    }

    static const struct {
        const char *method, *path, *allow;
    } wrong[] = {{"POST", "/v2", "GET"},
                 {"GET", "/v2/models/l2_loss/infer", "POST"},
                 {"DELETE", "/v2/models/regularize", "GET"},
                 {"PUT", "/v2/health/ready", "GET"},
                 {"GET", "/v2/models/regularize/versions/1/infer", "POST"}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        struct it_response r;
        request(wrong[i].method, wrong[i].path, NULL, NULL, 0, NULL, &r);
        expect_v2_error(&r, 405, NULL);
        char allow[64];
        cr_assert(it_header(&r, "Allow", allow, sizeof allow), "%s %s: no Allow", wrong[i].method,
                  wrong[i].path);
        cr_assert_not_null(strstr(allow, wrong[i].allow), "Allow: %s", allow);
        it_response_free(&r);
    }
}

Test(v2, bad_requests_are_400_with_the_detail)
{
    static const struct {
        const char *model, *body, *needle;
    } bad[] = {
        {"regularize",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}], "
         "\"parameters\": {\"scale\": 1}}",
         "scale cannot be an integer: 1"},
        {"regularize",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}], "
         "\"parameters\": {\"scale\": -0.1}}",
         "Setting a scale less than 0 on a regularizer: -0.1."},
        {"regularize",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": "
         "[1]}]}",
         "scale"},
        {"l2_loss",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}], "
         "\"parameters\": {\"scale\": 0.1}}",
         "scale"},
        {"l2_loss", "{\"inputs\": [", NULL},
        {"l2_loss",
         "{\"inputs\": [{\"name\": \"dense/bias\", \"shape\": [3], \"datatype\": \"FP32\", "
         "\"data\": [1, 2]}]}",
         "dense/bias"},
        {"l2_loss",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"INT8\", \"data\": [1]}]}",
         "INT8"},
        {"l2_loss",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP16\", \"data\": "
         "[1e6]}]}",
         NULL},
        {"l2_loss",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}], "
         "\"outputs\": [{\"name\": \"logits\"}]}",
         "logits"},
        /* a sum past float64 */
        {"l2_loss",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP64\", \"data\": "
         "[1e200, 1e200]}]}",
         NULL},
        /* scale x l2 loss past float64 */
        {"regularize",
         "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": "
         "[1e154]}], \"parameters\": {\"scale\": 1e300}}",
         NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char target[64];
        snprintf(target, sizeof target, "/v2/models/%s/infer", bad[i].model);
        struct it_response r;
        request("POST", target, "application/json", bad[i].body, strlen(bad[i].body), NULL, &r);
        expect_v2_error(&r, 400, bad[i].needle);
        it_response_free(&r);
    }

    /* The integer-scale detail, exactly as TensorFlow words it. */
    struct it_response r;
    request("POST", "/v2/models/regularize/infer", NULL, bad[0].body, strlen(bad[0].body), NULL,
            &r);
    cr_assert_str_eq(r.body, "{\"error\": \"scale cannot be an integer: 1\"}", "%s", r.body);
    it_response_free(&r);

    /* binary data without the header, and a header past the body */
    const float f[] = {1.0f};
    const int64_t s1[] = {1};
    struct oip_tensor in = {"w", "FP32", 1, s1, f, 1, true};
    struct oip_call c = {.inputs = &in, .n_inputs = 1};
    struct oip_body b;
    oip_triton(&c, &b);
    request("POST", "/v2/models/l2_loss/infer", NULL, b.buf.data, b.buf.len, NULL, &r);
    expect_v2_error(&r, 400, "Inference-Header-Content-Length");
    it_response_free(&r);
    static const char *const past[] = {"Inference-Header-Content-Length: 100000", NULL};
    request("POST", "/v2/models/l2_loss/infer", NULL, b.buf.data, b.buf.len, past, &r);
    expect_v2_error(&r, 400, NULL);
    it_response_free(&r);
    static const char *const junk[] = {"Inference-Header-Content-Length: 12x", NULL};
    request("POST", "/v2/models/l2_loss/infer", NULL, b.buf.data, b.buf.len, junk, &r);
    expect_v2_error(&r, 400, NULL);
    it_response_free(&r);
    /* the header's name in any case; sent twice (whatever the case), refused */
    char hl[64], hl_lower[64];
    snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %zu", b.header_length);
    snprintf(hl_lower, sizeof hl_lower, "inference-header-content-length: %zu", b.header_length);
    const char *const lower[] = {hl_lower, NULL};
    request("POST", "/v2/models/l2_loss/infer", NULL, b.buf.data, b.buf.len, lower, &r);
    struct answer a;
    parse_answer(&r, &a);
    expect_d(&a, "sum_squares", 1.0);
    answer_free(&a);
    it_response_free(&r);
    const char *const twice[] = {hl, hl_lower, NULL};
    request("POST", "/v2/models/l2_loss/infer", NULL, b.buf.data, b.buf.len, twice, &r);
    expect_v2_error(&r, 400, "Inference-Header-Content-Length is sent 2 times");
    it_response_free(&r);
    oip_body_free(&b);
}

Test(v2, media_types_and_encodings)
{
    static const char *const js = "{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": "
                                  "\"FP32\", \"data\": [3, 4]}]}";
    static const char *const ok[] = {NULL, "application/json", "application/json; charset=utf-8",
                                     "Application/Octet-Stream"};
    for (size_t i = 0; i < 4; i++) {
        struct it_response r;
        request("POST", "/v2/models/l2_loss/infer", ok[i], js, strlen(js), NULL, &r);
        struct answer a;
        parse_answer(&r, &a);
        expect_d(&a, "sum_squares", 25.0);
        answer_free(&a);
        it_response_free(&r);
    }
    static const char *const refused[] = {"text/plain", "application/x-npy",
                                          "application/x-www-form-urlencoded"};
    for (size_t i = 0; i < 3; i++) {
        struct it_response r;
        request("POST", "/v2/models/l2_loss/infer", refused[i], js, strlen(js), NULL, &r);
        expect_v2_error(&r, 415, NULL);
        it_response_free(&r);
    }
    /* A coding l2d does not decode: 415; a corrupt gzip stream: 400. */
    static const char *const br[] = {"Content-Encoding: br", NULL};
    struct it_response r;
    request("POST", "/v2/models/l2_loss/infer", NULL, js, strlen(js), br, &r);
    expect_v2_error(&r, 415, NULL);
    it_response_free(&r);
    static const char *const gz[] = {"Content-Encoding: gzip", NULL};
    request("POST", "/v2/models/l2_loss/infer", NULL, js, strlen(js), gz, &r);
    expect_v2_error(&r, 400, NULL);
    it_response_free(&r);
}

Test(v2_limits, payload_too_large)
{
    static const char *const args[] = {"--max-body-bytes", "1000", NULL};
    it_start(&srv, args, NULL);
    struct oip_buf b;
    oip_buf_init(&b);
    oip_buf_puts(&b, "{\"inputs\": [{\"name\": \"w\", \"shape\": [400], \"datatype\": \"FP32\", "
                     "\"data\": [");
    for (int i = 0; i < 400; i++)
        oip_buf_puts(&b, i ? ", 1" : "1");
    oip_buf_puts(&b, "]}]}");
    struct it_response r;
    request("POST", "/v2/models/l2_loss/infer", NULL, b.data, b.len, NULL, &r);
    expect_v2_error(&r, 413, NULL);
    it_response_free(&r);

    /* a gzip bomb: small on the wire, past the limit decoded */
    struct oip_buf z;
    oip_gzip(b.data, b.len, &z);
    cr_assert_lt(z.len, 1000);
    static const char *const gz[] = {"Content-Encoding: gzip", NULL};
    request("POST", "/v2/models/l2_loss/infer", NULL, z.data, z.len, gz, &r);
    expect_v2_error(&r, 413, NULL);
    it_response_free(&r);
    oip_buf_free(&z);
    oip_buf_free(&b);
}

Test(v2_limits, token_required_but_for_health)
{
    char dir[64];
    it_tmpdir(dir);
    char *path = it_write_file(dir, "token", "s3cret-v2\n");
    const char *args[] = {"--auth-token-file", path, NULL};
    it_start(&srv, args, NULL);

    static const char *const open_paths[] = {"/v2/health/live", "/v2/health/ready"};
    for (size_t i = 0; i < 2; i++) {
        struct it_response r;
        it_get(srv.port, open_paths[i], &r);
        cr_assert_eq(r.status, 200, "%s: %ld", open_paths[i], r.status);
        it_response_free(&r);
    }
    static const char *const closed[] = {"/v2", "/v2/models/l2_loss",
                                         "/v2/models/regularize/ready"};
    for (size_t i = 0; i < 3; i++) {
        struct it_response r;
        it_get(srv.port, closed[i], &r);
        expect_v2_error(&r, 401, NULL);
        char www[128];
        cr_assert(it_header(&r, "WWW-Authenticate", www, sizeof www), "%s", closed[i]);
        it_response_free(&r);
    }
    static const char *const js = "{\"inputs\": [{\"name\": \"w\", \"shape\": [1], \"datatype\": "
                                  "\"FP32\", \"data\": [3]}]}";
    struct it_response r;
    request("POST", "/v2/models/l2_loss/infer", NULL, js, strlen(js), NULL, &r);
    expect_v2_error(&r, 401, NULL);
    it_response_free(&r);
    static const char *const auth[] = {"Authorization: Bearer s3cret-v2", NULL};
    request("POST", "/v2/models/l2_loss/infer", NULL, js, strlen(js), auth, &r);
    struct answer a;
    parse_answer(&r, &a);
    expect_d(&a, "sum_squares", 9.0);
    answer_free(&a);
    it_response_free(&r);
    free(path);
    it_rmdir(dir);
}

/* --- 1 GiB ---------------------------------------------------------------- */

#define GIB (1ull << 30)
#define RSS_LIMIT_KIB (16 * 1024)

Test(v2_big, one_gib_binary_fp32_infer_in_constant_memory)
{
    const char *args[] = {"--max-body-bytes", "2147483648", "--timeout", "120", NULL};
    it_start(&srv, args, NULL);

    /* The JSON header, then 1.0, 2.0, 0.5, -3.0 as float32, repeated. */
    static char head[256];
    size_t head_len = (size_t)snprintf(
        head, sizeof head,
        "{\"inputs\":[{\"name\":\"w\",\"shape\":[%llu],\"datatype\":\"FP32\",\"parameters\":"
        "{\"binary_data_size\":%llu}}]}",
        (unsigned long long)(GIB / 4), (unsigned long long)GIB);
    struct it_segments *src = calloc(1, sizeof *src);
    cr_assert(src != NULL);
    src->seg[0] = (struct it_segment){(const unsigned char *)head, head_len, head_len};
    static float block[16384]; /* 64 KiB of F4 repeated: few, large copies */
    for (size_t i = 0; i < 16384; i++)
        block[i] = F4[i % 4];
    src->seg[1] = (struct it_segment){(const unsigned char *)block, sizeof block, GIB};
    src->nseg = 2;
    src->total = head_len + GIB;
    char hl[64];
    snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %zu", head_len);
    const char *headers[] = {hl, NULL};
    struct it_request req = {.method = "POST",
                             .target = "/v2/models/l2_loss/infer",
                             .headers = headers,
                             .read_fn = it_read_segments,
                             .read_ctx = src,
                             .read_size = (long long)src->total,
                             .timeout_s = 200};
    struct it_response r;
    int64_t t0 = it_now_ms();
    it_http(NULL, srv.port, &req, &r);
    int64_t ms = it_now_ms() - t0;
    long hwm = it_vmhwm_kib(&srv);
    cr_assert_eq(src->sent, src->total);

    /* 2^26 groups of (1 + 4 + 0.25 + 9): exact in float64. */
    struct answer a;
    parse_answer(&r, &a);
    expect_d(&a, "sum_squares", 956301312.0);
    expect_d(&a, "loss", 478150656.0);
    expect_d(&a, "max_abs", 3.0);
    expect_d(&a, "norm", sqrt(956301312.0));
    expect_i(&a, "count", (long long)(GIB / 4));
    answer_free(&a);
    it_response_free(&r);
    free(src);

    cr_log_info("1 GiB binary FP32 infer: %lld ms, server VmHWM %ld KiB (%.1f MiB)", (long long)ms,
                hwm, (double)hwm / 1024.0);
    fprintf(stderr, "l2d 1 GiB binary infer: server VmHWM = %ld kB (%.1f MiB), %lld ms\n", hwm,
            (double)hwm / 1024.0, (long long)ms);
    cr_assert(hwm > 0, "could not read VmHWM of pid %d", (int)srv.pid);
    cr_assert(hwm < RSS_LIMIT_KIB, "peak RSS %ld KiB is over 16 MiB", hwm);
}

/* --- draining ------------------------------------------------------------- */

/* While the server drains after SIGTERM, /v2/health/ready answers 503
 * {"ready": false} (kserve's is_server_ready reads "ready"). */
Test(v2_limits, ready_503_while_draining)
{
    const char *args[] = {"--drain-timeout", "3", NULL};
    it_start(&srv, args, NULL);
    struct it_response r;
    it_get(srv.port, "/v2/health/ready", &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);

    kill(srv.pid, SIGTERM);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        struct it_request get = {.method = "GET", .target = "/v2/health/ready"};
        if (it_perform(NULL, srv.port, &get, &r) != CURLE_OK) {
            it_response_free(&r);
            break;
        }
        if (r.status == 503) {
            seen = true;
            it_check_openapi("GET", "/v2/health/ready", &r);
            expect_json_type(&r);
            json_t *j = it_json(&r);
            cr_assert(json_is_false(json_object_get(j, "ready")), "%s", r.body);
            json_decref(j);
        } else {
            cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
            it_sleep_ms(20);
        }
        it_response_free(&r);
    }
    cr_assert(seen, "/v2/health/ready never answered 503 during the drain");
    cr_assert_neq(it_wait_exit(&srv, 15000), -1, "the server did not exit");
}

/* --- the same numbers as the native endpoints ------------------------------ */

/* The figures of a native answer, bit for bit. */
struct figures {
    double loss, sum_squares, norm, max_abs;
    long long count;
};

static struct figures native(const char *target, const char *ct, const void *body, size_t len)
{
    struct it_response r;
    request("POST", target, ct, body, len, NULL, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", target, r.status, r.body);
    json_t *j = it_json(&r);
    struct figures f = {json_real_value(json_object_get(j, "loss")),
                        json_real_value(json_object_get(j, "sum_squares")),
                        json_real_value(json_object_get(j, "norm")),
                        json_real_value(json_object_get(j, "max_abs")),
                        json_integer_value(json_object_get(j, "count"))};
    json_decref(j);
    it_response_free(&r);
    return f;
}

static void expect_figures(const struct answer *a, const struct figures *f, const char *what)
{
    cr_assert(memcmp(&find(a, "loss")->d[0], &f->loss, 8) == 0 &&
                  memcmp(&find(a, "sum_squares")->d[0], &f->sum_squares, 8) == 0 &&
                  memcmp(&find(a, "norm")->d[0], &f->norm, 8) == 0 &&
                  memcmp(&find(a, "max_abs")->d[0], &f->max_abs, 8) == 0 &&
                  find(a, "count")->i[0] == f->count,
              "%s: infer loss %.17g sum %.17g norm %.17g max %.17g count %lld; native %.17g %.17g "
              "%.17g %.17g %lld",
              what, find(a, "loss")->d[0], find(a, "sum_squares")->d[0], find(a, "norm")->d[0],
              find(a, "max_abs")->d[0], find(a, "count")->i[0], f->loss, f->sum_squares, f->norm,
              f->max_abs, f->count);
}

/* Random weights of every magnitude a datatype holds, as raw on /l2_loss
 * and /regularize and as binary and JSON infer bodies on both models: the
 * same bits everywhere (the native endpoints are tested exact). */
Test(v2, infer_agrees_with_the_native_endpoints)
{
    static const char *const types[] = {"FP16", "BF16", "FP32", "FP64"};
    static const char *const dtypes[] = {"float16", "bfloat16", "float32", "float64"};
    static const size_t sizes[] = {2, 2, 4, 8};
    const size_t n = 3000;
    uint64_t s = 0x5eed;

    for (size_t t = 0; t < 4; t++) {
        unsigned char *raw = malloc(n * 8);
        float *f = malloc(n * sizeof *f);
        cr_assert(raw && f);
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double m = (double)(s >> 11) * 0x1p-53 * ((s >> 3) & 1 ? -1 : 1);
            int e = (int)((s >> 5) % 40) - 20;
            double x = ldexp(m, t == 0 ? e / 2 : e * 3);
            if (t == 0) {
                uint16_t h = oip_f16((float)x);
                memcpy(raw + 2 * i, &h, 2);
            } else if (t == 1) {
                f[i] = (float)x; /* tritonclient cuts to bfloat16 */
                uint16_t h = oip_bf16_trunc(f[i]);
                memcpy(raw + 2 * i, &h, 2);
            } else if (t == 2) {
                f[i] = (float)x;
                memcpy(raw + 4 * i, &f[i], 4);
            } else {
                memcpy(raw + 8 * i, &x, 8);
            }
        }
        /* The JSON data: each element as the float it holds (FP16 and
         * BF16 read back from their bits). */
        char target[96];
        snprintf(target, sizeof target, "/l2_loss?dtype=%s", dtypes[t]);
        struct figures nl = native(target, "application/octet-stream", raw, n * sizes[t]);
        snprintf(target, sizeof target, "/regularize?scale=0.001&dtype=%s", dtypes[t]);
        struct figures nr = native(target, "application/octet-stream", raw, n * sizes[t]);
        cr_assert_eq(nl.count, (long long)n);

        const int64_t shape[] = {(int64_t)n};
        struct oip_buf js;
        oip_buf_init(&js);
        oip_buf_printf(&js,
                       "{\"inputs\": [{\"name\": \"w\", \"shape\": [%zu], \"datatype\": "
                       "\"%s\", \"data\": [",
                       n, types[t]);
        for (size_t i = 0; i < n; i++) {
            double v;
            if (sizes[t] == 2) {
                uint16_t h;
                memcpy(&h, raw + 2 * i, 2);
                uint32_t u = (uint32_t)h << 16;
                if (t == 0) {
                    int ex = (h >> 10) & 0x1f;
                    double mm = h & 0x3ff;
                    v = ex == 0 ? ldexp(mm, -24) : ldexp(mm + 1024.0, ex - 25);
                    if (h & 0x8000)
                        v = -v;
                } else {
                    float g;
                    memcpy(&g, &u, 4);
                    v = g;
                }
            } else if (t == 2) {
                v = f[i];
            } else {
                memcpy(&v, raw + 8 * i, 8);
            }
            oip_buf_puts(&js, i ? ", " : "");
            oip_put_pyfloat(&js, v);
        }
        oip_buf_puts(&js, "]}]}");

        for (int model = 0; model < 2; model++) {
            static const struct oip_param scale = {"scale", "0.001"};
            const char *infer = model ? "/v2/models/regularize/infer" : "/v2/models/l2_loss/infer";
            const struct figures *want = model ? &nr : &nl;
            /* binary, as tritonclient sends it */
            struct oip_tensor in = {
                "w",
                types[t],
                1,
                shape,
                t == 0 ? (const void *)raw : t == 3 ? (const void *)raw : (const void *)f,
                n,
                true};
            struct oip_call c = {.inputs = &in,
                                 .n_inputs = 1,
                                 .params = model ? &scale : NULL,
                                 .n_params = model ? 1 : 0};
            struct oip_body b;
            oip_triton(&c, &b);
            struct it_response r;
            post_oip(infer, &b, &r);
            struct answer a;
            parse_answer(&r, &a);
            expect_figures(&a, want, types[t]);
            answer_free(&a);
            it_response_free(&r);
            oip_body_free(&b);

            /* JSON */
            struct oip_buf body;
            oip_buf_init(&body);
            oip_buf_put(&body, js.data, js.len - 1);
            oip_buf_puts(&body, model ? ", \"parameters\": {\"scale\": 0.001}}" : "}");
            request("POST", infer, "application/json", body.data, body.len, NULL, &r);
            parse_answer(&r, &a);
            expect_figures(&a, want, types[t]);
            answer_free(&a);
            it_response_free(&r);
            oip_buf_free(&body);
        }
        oip_buf_free(&js);
        free(raw);
        free(f);
    }
}

/* --- connections ---------------------------------------------------------- */

/* Twenty infer requests, binary and JSON answers by turns, some refused
 * once their body is read, on one keep-alive connection; then one with
 * Expect: 100-continue. */
Test(v2, keep_alive_and_100_continue)
{
    CURL *h = curl_easy_init();
    long connects = 0;
    for (int i = 0; i < 20; i++) {
        char js[256];
        if (i % 5 == 4)
            snprintf(js, sizeof js,
                     "{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", "
                     "\"data\": [%d]}]}",
                     i);
        else
            snprintf(js, sizeof js,
                     "{\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", "
                     "\"data\": [%d, 1]}], \"parameters\": {\"binary_data_output\": %s}}",
                     i, i % 2 ? "true" : "false");
        struct it_request req = {.method = "POST",
                                 .target = "/v2/models/l2_loss/infer",
                                 .body = js,
                                 .body_len = strlen(js)};
        struct it_response r;
        it_http(h, srv.port, &req, &r);
        connects += r.connects;
        if (i % 5 == 4) {
            expect_v2_error(&r, 400, "w");
        } else {
            struct answer a;
            parse_answer(&r, &a);
            expect_d(&a, "sum_squares", (double)i * i + 1);
            cr_assert_eq(a.o[0].binary, i % 2 == 1);
            answer_free(&a);
        }
        it_response_free(&r);
    }
    curl_easy_cleanup(h);
    cr_assert_eq(connects, 1, "20 requests used %ld connections", connects);

    /* 64 KiB of binary FP64 twos behind Expect: 100-continue; curl waits
     * 60 s for the 100, the request may take 20 s. */
    double *d = malloc(8192 * sizeof *d);
    cr_assert(d);
    for (int i = 0; i < 8192; i++)
        d[i] = 2.0;
    const int64_t s[] = {8192};
    struct oip_tensor in = {"w", "FP64", 1, s, d, 8192, true};
    struct oip_call c = {.inputs = &in, .n_inputs = 1};
    struct oip_body b;
    oip_triton(&c, &b);
    char storage[2][96];
    const char *lines[4];
    oip_header_lines(&b, storage, lines);
    lines[1] = "Expect: 100-continue";
    lines[2] = NULL;
    struct it_request req = {.method = "POST",
                             .target = "/v2/models/l2_loss/infer",
                             .body = b.buf.data,
                             .body_len = b.buf.len,
                             .headers = lines,
                             .timeout_s = 20,
                             .expect_100_ms = 60000};
    struct it_response r;
    it_http(NULL, srv.port, &req, &r);
    struct answer a;
    parse_answer(&r, &a);
    expect_d(&a, "sum_squares", 32768.0);
    expect_i(&a, "count", 8192);
    answer_free(&a);
    it_response_free(&r);
    oip_body_free(&b);
    free(d);
}

/* No inputs: zeros, per-input outputs of shape [0], binary or not. */
Test(v2, no_inputs)
{
    static const char *const bodies[] = {
        "{\"inputs\": []}", "{\"inputs\": [], \"parameters\": {\"binary_data_output\": true}}"};
    for (int i = 0; i < 2; i++) {
        struct it_response r;
        request("POST", "/v2/models/l2_loss/infer", NULL, bodies[i], strlen(bodies[i]), NULL, &r);
        if (r.status == 400) { /* a request without inputs may be refused */
            expect_v2_error(&r, 400, "inputs");
            it_response_free(&r);
            continue;
        }
        struct answer a;
        parse_answer(&r, &a);
        expect_d(&a, "sum_squares", 0.0);
        expect_i(&a, "count", 0);
        cr_assert_eq(find(&a, "input_loss")->n, 0);
        answer_free(&a);
        it_response_free(&r);
    }
}
