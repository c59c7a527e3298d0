/* response.c -- success and problem+json bodies.
 *
 * Both are written straight into one bounded buffer (api/text.h): numbers
 * as Python's repr prints them (api/shortest.h), strings through the one
 * JSON escaper, laid out on one line with ", " and ": " as API.md shows. */
#include "response.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "partial.h"
#include "shortest.h"
#include "text.h"

/* Hard limit on a problem+json body: the longest detail and pointer, every
 * byte escaped to six, stay far below it. */
#define RESPONSE_PROBLEM_MAX ((size_t)64 << 10)
_Static_assert(6 * (API_DETAIL_MAX + API_POINTER_MAX) + 1024 < RESPONSE_PROBLEM_MAX,
               "a problem body always fits");

static void put_double(struct api_text_buf *b, double x)
{
    char tmp[API_SHORTEST_MAX];
    api_text_buf_append(b, tmp, api_shortest_repr(x, tmp));
}

/* The len bytes at s as a JSON string (invalid UTF-8 as U+FFFD). */
static void put_string(struct api_text_buf *b, const char *s, size_t len)
{
    api_text_buf_json_string(b, s, len, API_TEXT_JSON_SHORT);
}

static void put_shape(struct api_text_buf *b, unsigned ndim, const uint64_t *shape)
{
    api_text_buf_append_str(b, "[");
    for (unsigned i = 0; i < ndim; i++) {
        if (i > 0)
            api_text_buf_append_str(b, ", ");
        api_text_buf_append_u64(b, shape[i]);
    }
    api_text_buf_append_str(b, "]");
}

/* ---- success bodies ------------------------------------------------------ */

/* ---- figures --------------------------------------------------------------- */

/* loss = l2, or scale x l2 rounded once (0.0 when disabled). Returns false
 * when the product overflows. */
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

enum api_status api_figures_total(const struct api_result *res, const struct api_scale *scale,
                                  struct api_figures *out, struct api_error *err)
{
    const struct api_tensor *only = res->n_tensors == 1 ? &res->tensors[0] : NULL;
    double l2;

    /* One summed tensor: the total is its exact sum, already rounded. */
    if (only != NULL && only->skipped == NULL) {
        out->sum_squares = only->sum_squares;
        l2 = only->half_sum;
        out->norm = only->norm;
    } else {
        l2_accum_sum(&res->total, &out->sum_squares);
        l2_accum_half(&res->total, &l2);
        l2_accum_norm(&res->total, &out->norm);
    }
    if (isinf(out->sum_squares))
        return api_error_set(
            err, API_RESULT_OUT_OF_RANGE,
            "sum_squares overflows float64 (the largest is 1.7976931348623157e+308)");
    /* sum_squares is finite, so its exact half and its root are too. */
    if (!scaled_loss(l2, scale, &out->loss))
        return api_error_set(err, API_RESULT_OUT_OF_RANGE,
                             "scale * l2_loss overflows float64 (scale %g, l2_loss %g)",
                             scale->value, l2);
    out->max_abs = res->total.max_abs;
    out->count = res->total.count;
    out->nan_count = res->total.nan_count;
    out->inf_count = res->total.inf_count;
    return API_OK;
}

enum api_status api_figures_tensor(const struct api_tensor *t, const struct api_scale *scale,
                                   struct api_figures *out, struct api_error *err)
{
    /* Unreachable while the total is finite: each sum is part of it. */
    if (isinf(t->sum_squares))
        return api_error_set(err, API_RESULT_OUT_OF_RANGE,
                             "sum_squares of a tensor overflows float64");
    if (!scaled_loss(t->half_sum, scale, &out->loss))
        return api_error_set(err, API_RESULT_OUT_OF_RANGE,
                             "scale * l2_loss of a tensor overflows float64");
    out->sum_squares = t->sum_squares;
    out->norm = t->norm;
    out->max_abs = t->max_abs;
    out->count = t->count;
    out->nan_count = t->nan_count;
    out->inf_count = t->inf_count;
    return API_OK;
}

/* The numbers of one entry (the totals or a tensor); counts: print
 * nan_count and inf_count (nonfinite=count). */
static void put_figures(struct api_text_buf *b, const struct api_figures *f, bool counts)
{
    api_text_buf_append_str(b, "\"loss\": ");
    put_double(b, f->loss);
    api_text_buf_append_str(b, ", \"sum_squares\": ");
    put_double(b, f->sum_squares);
    api_text_buf_append_str(b, ", \"norm\": ");
    put_double(b, f->norm);
    api_text_buf_append_str(b, ", \"count\": ");
    api_text_buf_append_u64(b, f->count);
    api_text_buf_append_str(b, ", \"max_abs\": ");
    put_double(b, f->max_abs);
    if (counts) {
        api_text_buf_append_str(b, ", \"nan_count\": ");
        api_text_buf_append_u64(b, f->nan_count);
        api_text_buf_append_str(b, ", \"inf_count\": ");
        api_text_buf_append_u64(b, f->inf_count);
    }
}

/* , "partial": "l2p1...." of acc. */
static void put_partial(struct api_text_buf *b, const struct l2_accum *acc)
{
    char text[API_PARTIAL_TEXT_MAX + 1];
    size_t len = api_partial_encode(acc, text);

    api_text_buf_append_str(b, ", \"partial\": \"");
    api_text_buf_append(b, text, len); /* base64url: nothing to escape */
    api_text_buf_append_str(b, "\"");
}

static void put_dtype(struct api_text_buf *b, enum l2_dtype dtype)
{
    api_text_buf_append_str(b, ", \"dtype\": ");
    put_string(b, l2_dtype_name(dtype), strlen(l2_dtype_name(dtype)));
}

/* "skipped": {NAME: "DTYPE", ...} when a checkpoint had tensors not summed. */
static void put_skipped(struct api_text_buf *b, const struct api_result *res)
{
    bool first = true;

    for (size_t i = 0; i < res->n_tensors; i++) {
        const struct api_tensor *t = &res->tensors[i];

        if (t->skipped == NULL)
            continue;
        api_text_buf_append_str(b, first ? ", \"skipped\": {" : ", ");
        put_string(b, t->name, t->name_len);
        api_text_buf_append_str(b, ": ");
        put_string(b, t->skipped, strlen(t->skipped));
        first = false;
    }
    if (!first)
        api_text_buf_append_str(b, "}");
}

static void put_scale(struct api_text_buf *b, const struct api_scale *scale)
{
    if (scale == NULL)
        return;
    api_text_buf_append_str(b, ", \"scale\": ");
    put_double(b, scale->disabled ? 0.0 : scale->value);
    if (scale->disabled)
        api_text_buf_append_str(b, ", \"disabled\": true");
}

enum api_status api_response_encode(const struct api_result *res, const struct api_scale *scale,
                                    char **out, size_t *out_len, struct api_error *err)
{
    struct api_text_buf b;
    struct api_figures total;
    enum api_status result = API_OK;
    enum l2_dtype dtype;
    bool first = true;

    *out = NULL;
    *out_len = 0;
    api_text_buf_init(&b, API_RESPONSE_MAX);
    result = api_figures_total(res, scale, &total, err);
    if (result != API_OK)
        goto out_free_buf;

    api_text_buf_append_str(&b, "{");
    put_figures(&b, &total, res->count_nonfinite || res->merged);
    if (!res->named && !res->merged) {
        api_text_buf_append_str(&b, ", \"shape\": ");
        put_shape(&b, res->ndim, res->shape);
    }
    /* A merge has no dtype: partials do not carry one. */
    if (!res->merged && !res->typed)
        put_dtype(&b, res->dtype);
    else if (!res->merged && api_result_common_dtype(res, &dtype))
        put_dtype(&b, dtype);
    put_scale(&b, scale);
    if (res->want_partial)
        put_partial(&b, &res->total);
    if (res->named) {
        api_text_buf_append_str(&b, ", \"tensors\": {");
        for (size_t i = 0; i < res->n_tensors; i++) {
            const struct api_tensor *t = &res->tensors[i];
            struct api_figures f;

            if (t->skipped != NULL)
                continue;
            result = api_figures_tensor(t, scale, &f, err);
            if (result != API_OK)
                goto out_free_buf;
            if (!first)
                api_text_buf_append_str(&b, ", ");
            first = false;
            put_string(&b, t->name, t->name_len);
            api_text_buf_append_str(&b, ": {");
            put_figures(&b, &f, res->count_nonfinite || res->merged);
            if (!res->merged) {
                api_text_buf_append_str(&b, ", \"shape\": ");
                put_shape(&b, t->ndim, t->shape);
            }
            if (res->typed)
                put_dtype(&b, t->dtype);
            if (res->want_partial)
                put_partial(&b, t->exact);
            api_text_buf_append_str(&b, "}");
        }
        api_text_buf_append_str(&b, "}");
        put_skipped(&b, res);
    }
    api_text_buf_append_str(&b, "}");
    *out = api_text_buf_take(&b, out_len);
    if (*out == NULL)
        result = api_error_set(err, API_INTERNAL_ERROR, "out of memory encoding the response");

out_free_buf:
    api_text_buf_free(&b);
    return result;
}

/* ---- problem+json ------------------------------------------------------- */

char *api_problem_encode(const struct api_error *err, size_t *out_len)
{
    enum api_status st = err != NULL ? err->status : API_INTERNAL_ERROR;
    const char *detail = err != NULL ? err->detail : "";
    struct api_text_buf b;
    size_t len = 0;
    char *text;

    api_text_buf_init(&b, RESPONSE_PROBLEM_MAX);
    api_text_buf_append_str(&b, "{\"type\": \"about:blank\", \"title\": ");
    put_string(&b, api_status_title(st), strlen(api_status_title(st)));
    api_text_buf_appendf(&b, ", \"status\": %d, \"detail\": ", api_status_http(st));
    put_string(&b, detail, strlen(detail));
    api_text_buf_append_str(&b, ", \"code\": ");
    put_string(&b, api_status_code(st), strlen(api_status_code(st)));
    if (err != NULL && err->has_pointer) {
        api_text_buf_append_str(&b, ", \"pointer\": ");
        put_string(&b, err->pointer, err->pointer_len);
    }
    if (err != NULL && err->index >= 0)
        api_text_buf_appendf(&b, ", \"index\": %" PRId64, err->index);
    if (err != NULL && err->offset >= 0)
        api_text_buf_appendf(&b, ", \"offset\": %" PRId64, err->offset);
    api_text_buf_append_str(&b, "}");
    text = api_text_buf_take(&b, &len);
    if (text != NULL && out_len != NULL)
        *out_len = len;
    return text;
}
