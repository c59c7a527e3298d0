/* response.c -- success and problem+json bodies, numbers printed as repr().
 *
 * Success bodies are assembled in a bounded growable buffer; strings go
 * through jansson's escaper, numbers through api/shortest.h (jansson's
 * %.17g is not the shortest). */
#include "response.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shortest.h"

/* ---- a bounded growable buffer ------------------------------------------ */

struct rbuf {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* out of memory or past API_RESPONSE_MAX; later appends no-ops */
};

static void rbuf_append(struct rbuf *b, const char *s, size_t n)
{
    size_t need;

    if (b->failed)
        return;
    if (__builtin_add_overflow(b->len, n + 1, &need) || need > API_RESPONSE_MAX) {
        b->failed = true;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        char *p;
        while (cap < need)
            cap = cap > API_RESPONSE_MAX / 2 ? API_RESPONSE_MAX : cap * 2;
        p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void rbuf_str(struct rbuf *b, const char *s)
{
    rbuf_append(b, s, strlen(s));
}

static void rbuf_double(struct rbuf *b, double x)
{
    char tmp[API_SHORTEST_MAX];
    rbuf_append(b, tmp, api_shortest_repr(x, tmp));
}

static void rbuf_u64(struct rbuf *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    rbuf_append(b, tmp, (size_t)n);
}

/* json_dumps, but never allocating mid-dump: jansson 2.14 goes on past a
 * failed buffer growth and can drop a key, so the text is sized first
 * (json_dumpb with no buffer) and then written into one allocation. Returns
 * a malloc'd NUL-terminated string, or NULL (js may be NULL). */
static char *dump_whole(const json_t *js, size_t flags, size_t *out_len)
{
    size_t size = js != NULL ? json_dumpb(js, NULL, 0, flags) : 0;
    char *text;

    if (size == 0)
        return NULL;
    text = malloc(size + 1);
    if (text == NULL)
        return NULL;
    if (json_dumpb(js, text, size, flags) != size) {
        free(text);
        return NULL;
    }
    text[size] = '\0';
    if (out_len != NULL)
        *out_len = size;
    return text;
}

/* Appends s (len bytes of valid UTF-8, NULs allowed) as a JSON string,
 * escaped by jansson (U+0000 and control characters as \uXXXX). */
static void rbuf_json_string(struct rbuf *b, const char *s, size_t len)
{
    json_t *js;
    char *text;

    if (b->failed)
        return;
    js = json_stringn_nocheck(s, len);
    text = dump_whole(js, JSON_ENCODE_ANY, NULL);
    if (text == NULL)
        b->failed = true;
    else
        rbuf_str(b, text);
    free(text);
    json_decref(js);
}

static void rbuf_shape(struct rbuf *b, unsigned ndim, const uint64_t *shape)
{
    rbuf_str(b, "[");
    for (unsigned i = 0; i < ndim; i++) {
        if (i > 0)
            rbuf_str(b, ", ");
        rbuf_u64(b, shape[i]);
    }
    rbuf_str(b, "]");
}

/* ---- success bodies ------------------------------------------------------ */

/* The numbers of one entry (the totals or a tensor). */
struct figures {
    double loss;
    double sum_squares;
    double norm;
    uint64_t count;
};

/* loss = l2 loss, or scale x l2 loss rounded once (0.0 when disabled).
 * Returns false when the product overflows. */
static bool scaled_loss(double l2, const struct api_scale *scale, double *out)
{
    if (scale == NULL) {
        *out = l2;
    } else if (scale->disabled) {
        *out = 0.0;
    } else {
        *out = scale->value * l2;
        if (isinf(*out))
            return false;
    }
    return true;
}

static void put_figures(struct rbuf *b, const struct figures *f)
{
    rbuf_str(b, "\"loss\": ");
    rbuf_double(b, f->loss);
    rbuf_str(b, ", \"sum_squares\": ");
    rbuf_double(b, f->sum_squares);
    rbuf_str(b, ", \"norm\": ");
    rbuf_double(b, f->norm);
    rbuf_str(b, ", \"count\": ");
    rbuf_u64(b, f->count);
}

static void put_scale(struct rbuf *b, const struct api_scale *scale)
{
    if (scale == NULL)
        return;
    rbuf_str(b, ", \"scale\": ");
    rbuf_double(b, scale->disabled ? 0.0 : scale->value);
    if (scale->disabled)
        rbuf_str(b, ", \"disabled\": true");
}

enum api_status api_response_encode(const struct api_result *res, const struct api_scale *scale,
                                    char **out, size_t *out_len, struct api_error *err)
{
    struct rbuf b = {NULL, 0, 0, false};
    struct figures total;
    enum api_status result = API_OK;
    double l2;

    *out = NULL;
    *out_len = 0;
    if (l2_accum_sum(&res->total, &total.sum_squares) != L2_OK) {
        result =
            api_error_set(err, API_RESULT_OUT_OF_RANGE,
                          "sum_squares overflows float64 (the largest is 1.7976931348623157e+308)");
        goto out_free;
    }
    /* sum_squares is finite, so its exact half is too. */
    l2_accum_half(&res->total, &l2);
    if (!scaled_loss(l2, scale, &total.loss)) {
        result = api_error_set(err, API_RESULT_OUT_OF_RANGE,
                               "scale * l2_loss overflows float64 (scale %g, l2_loss %g)",
                               scale->value, l2);
        goto out_free;
    }
    total.norm = sqrt(total.sum_squares);
    total.count = res->total.count;

    rbuf_str(&b, "{");
    put_figures(&b, &total);
    if (!res->named) {
        rbuf_str(&b, ", \"shape\": ");
        rbuf_shape(&b, res->ndim, res->shape);
    }
    rbuf_str(&b, ", \"dtype\": ");
    rbuf_json_string(&b, l2_dtype_name(res->dtype), strlen(l2_dtype_name(res->dtype)));
    put_scale(&b, scale);
    if (res->named) {
        rbuf_str(&b, ", \"tensors\": {");
        for (size_t i = 0; i < res->n_tensors; i++) {
            const struct api_tensor *t = &res->tensors[i];
            struct figures f;

            if (isinf(t->sum_squares)) { /* unreachable while the total is finite */
                result = api_error_set(err, API_RESULT_OUT_OF_RANGE,
                                       "sum_squares of a tensor overflows float64");
                goto out_free;
            }
            f.sum_squares = t->sum_squares;
            l2 = t->half_sum;
            if (!scaled_loss(l2, scale, &f.loss)) {
                result = api_error_set(err, API_RESULT_OUT_OF_RANGE,
                                       "scale * l2_loss of a tensor overflows float64");
                goto out_free;
            }
            f.norm = sqrt(f.sum_squares);
            f.count = t->count;
            if (i > 0)
                rbuf_str(&b, ", ");
            rbuf_json_string(&b, t->name, t->name_len);
            rbuf_str(&b, ": {");
            put_figures(&b, &f);
            rbuf_str(&b, ", \"shape\": ");
            rbuf_shape(&b, t->ndim, t->shape);
            rbuf_str(&b, "}");
        }
        rbuf_str(&b, "}");
    }
    rbuf_str(&b, "}");
    if (b.failed) {
        result = api_error_set(err, API_INTERNAL_ERROR, "out of memory encoding the response");
        goto out_free;
    }
    *out = b.data;
    *out_len = b.len;
    b.data = NULL; /* handed to the caller */

out_free:
    free(b.data);
    return result;
}

/* ---- problem+json ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* A jansson string of the n bytes at s, with every byte that is not part of valid UTF-8
 * replaced by U+FFFD. NULL when out of memory. */
static json_t *json_utf8_string(const char *s, size_t n)
{
    static const char fffd[] = "\xef\xbf\xbd";
    size_t i = 0, cap, o = 0;
    char *buf;
    json_t *js;

    if (__builtin_mul_overflow(n, 3, &cap))
        return NULL;
    buf = malloc(cap + 1);
    if (buf == NULL)
        return NULL;
    while (i < n) {
        size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(buf + o, fffd, 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        }
    }
    js = json_stringn_nocheck(buf, o);
    free(buf);
    return js;
}

/* Sets key in obj to v, taking v's reference; false (and v released) on
 * failure or when v is NULL. */
static bool put(json_t *obj, const char *key, json_t *v)
{
    return v != NULL && json_object_set_new(obj, key, v) == 0;
}

char *api_problem_encode(const struct api_error *err, size_t *out_len)
{
    enum api_status st = err != NULL ? err->status : API_INTERNAL_ERROR;
    const char *detail = err != NULL ? err->detail : "";
    json_t *obj = json_object();
    char *text = NULL;
    bool ok;

    if (obj == NULL)
        goto out;
    ok = put(obj, "type", json_string("about:blank")) &&
         put(obj, "title", json_string(api_status_title(st))) &&
         put(obj, "status", json_integer(api_status_http(st))) &&
         put(obj, "detail", json_utf8_string(detail, strlen(detail))) &&
         put(obj, "code", json_string(api_status_code(st)));
    if (ok && err != NULL && err->has_pointer)
        ok = put(obj, "pointer", json_utf8_string(err->pointer, err->pointer_len));
    if (ok && err != NULL && err->index >= 0)
        ok = put(obj, "index", json_integer(err->index));
    if (ok && err != NULL && err->offset >= 0)
        ok = put(obj, "offset", json_integer(err->offset));
    if (ok)
        text = dump_whole(obj, 0, out_len); /* one line, ", " and ": " as in API.md */
out:
    json_decref(obj);
    return text;
}
