/* fuzz_safetensors.h -- the safetensors harness body (fuzz_safetensors.c;
 * replayed by the unit tests).
 *
 * Input: the header of fuzz_common.h (bit 2 of byte 0, "dtype given",
 * must make the decoder refuse at create; the other dtype bits are
 * unused), then the safetensors body. The body is decoded whole by the
 * format's ops, in the fuzzer's pieces through api_body, and byte by byte;
 * all three must agree, per-tensor dtypes and skipped codes included. A
 * slow reference then reads the file on its own (the length, the header
 * through jansson, each entry's dtype and data_offsets, sorted by offset)
 * and, on success, checks the layout (contiguous from 0, each span its
 * shape's size, the body ending at the last END), the order and names of
 * the entries, and loads every element of every F16/BF16/F32/F64 tensor
 * with l2_dtype_load_le, adding them with l2_accum_add: each tensor's sums
 * and the totals must match bit for bit. On non_finite it must find the
 * first NaN/infinity in data order at the same index within the same
 * tensor. */
#ifndef FUZZ_SAFETENSORS_H
#define FUZZ_SAFETENSORS_H

#include <jansson.h>
#include <math.h>

#include "api/safetensors_decode.h"
#include "fuzz_common.h"

/* What the reference knows of one tensor. */
struct st_ref_tensor {
    const char *name; /* in the JSON tree */
    size_t name_len;
    const char *code;
    uint64_t count; /* elements, from the shape */
    uint64_t begin, end;
    size_t order;
};

/* The l2d dtype of a code that is summed; false for the others. */
static bool st_ref_summed(const char *code, enum l2_dtype *dt)
{
    static const struct {
        const char *code;
        enum l2_dtype dt;
    } rows[4] = {{"F16", L2_DTYPE_FLOAT16},
                 {"BF16", L2_DTYPE_BFLOAT16},
                 {"F32", L2_DTYPE_FLOAT32},
                 {"F64", L2_DTYPE_FLOAT64}};

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(rows[i].code, code) == 0) {
            *dt = rows[i].dt;
            return true;
        }
    }
    return false;
}

static int st_ref_order(const void *a, const void *b)
{
    const struct st_ref_tensor *x = a, *y = b;

    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

/* Reads one entry (object or [dtype, shape, data_offsets]) of a header the
 * decoder accepted. */
static void st_ref_entry(const char *key, size_t key_len, json_t *v, size_t order,
                         struct st_ref_tensor *t)
{
    json_t *dtype, *shape, *offs;

    if (json_is_array(v)) {
        dtype = json_array_get(v, 0);
        shape = json_array_get(v, 1);
        offs = json_array_get(v, 2);
    } else {
        dtype = json_object_get(v, "dtype");
        shape = json_object_get(v, "shape");
        offs = json_object_get(v, "data_offsets");
    }
    FUZZ_CHECK(json_is_string(dtype) && json_is_array(shape) && json_is_array(offs) &&
                   json_array_size(offs) == 2,
               "reference: entry %zu is malformed but accepted", order);
    t->name = key;
    t->name_len = key_len;
    t->code = json_string_value(dtype);
    t->count = 1;
    for (size_t d = 0; d < json_array_size(shape); d++)
        t->count *= (uint64_t)json_integer_value(json_array_get(shape, d));
    t->begin = (uint64_t)json_integer_value(json_array_get(offs, 0));
    t->end = (uint64_t)json_integer_value(json_array_get(offs, 1));
    t->order = order;
}

/* Loads and checks tensor t (summed in dt) element by element; adds it to
 * total. On non_finite, returns true after checking the decoder found this
 * element. */
static bool st_ref_tensor_sum(const struct fuzz_input *in, size_t data, enum api_status st,
                              const struct api_error *err, const struct api_result *res, size_t i,
                              const struct st_ref_tensor *t, enum l2_dtype dt,
                              struct l2_accum *total)
{
    size_t size = l2_dtype_size(dt);
    struct l2_accum acc;
    uint64_t k;

    l2_accum_init(&acc);
    for (k = 0; k < t->count; k++) {
        size_t at = data + (size_t)t->begin + (size_t)k * size;
        double x;

        if (st == API_NON_FINITE && at + size > in->len)
            FUZZ_FAIL("reference: no non-finite element before the body ends");
        x = l2_dtype_load_le(dt, in->body + at);
        if (!isfinite(x)) {
            FUZZ_CHECK(st == API_NON_FINITE, "reference: tensor %zu element %llu not finite", i,
                       (unsigned long long)k);
            FUZZ_CHECK(err->index == (int64_t)k,
                       "reference: non_finite at %llu of tensor %zu, decoder says %lld",
                       (unsigned long long)k, i, (long long)err->index);
            FUZZ_CHECK(strstr(err->detail, "of tensor '") != NULL, "reference: detail '%s'",
                       err->detail);
            return true;
        }
        FUZZ_CHECK(l2_accum_add(&acc, x) == L2_OK, "reference: l2_accum_add refused %a", x);
    }
    if (st == API_OK) {
        const struct api_tensor *e = &res->tensors[i];
        double s, h;

        l2_accum_sum(&acc, &s);
        l2_accum_half(&acc, &h);
        FUZZ_CHECK(e->skipped == NULL && e->dtype == dt, "reference: tensor %zu dtype", i);
        FUZZ_CHECK(fuzz_bits(e->sum_squares) == fuzz_bits(s) &&
                       fuzz_bits(e->half_sum) == fuzz_bits(h) && e->count == acc.count,
                   "reference: tensor %zu sums %a/%a, reference %a/%a", i, e->sum_squares,
                   e->half_sum, s, h);
    }
    l2_accum_merge(total, &acc);
    return false;
}

static void st_reference(const struct fuzz_input *in, enum api_status st,
                         const struct api_error *err, const struct api_result *res)
{
    struct st_ref_tensor *t;
    struct l2_accum total;
    size_t n = 0, data, hlen = 0;
    json_t *root;
    void *it;

    if (st != API_OK && st != API_NON_FINITE)
        return;
    FUZZ_CHECK(in->len >= 8, "reference: accepted a body of %zu bytes", in->len);
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | in->body[i];
    FUZZ_CHECK(hlen <= in->len - 8 && hlen <= API_SAFETENSORS_MAX_HEADER,
               "reference: header length %zu", hlen);
    FUZZ_CHECK(fuzz_utf8_valid(in->body + 8, hlen), "reference: header not UTF-8");
    data = 8 + hlen;
    root = json_loadb((const char *)in->body + 8, hlen,
                      JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(json_is_object(root), "reference: the header is not a JSON object");
    t = calloc(json_object_size(root) + 1, sizeof *t);
    FUZZ_CHECK(t != NULL, "out of memory");
    for (it = json_object_iter(root); it != NULL; it = json_object_iter_next(root, it)) {
        const char *key = json_object_iter_key(it);
        size_t key_len = json_object_iter_key_len(it);

        if (key_len == 12 && memcmp(key, "__metadata__", 12) == 0)
            continue;
        st_ref_entry(key, key_len, json_object_iter_value(it), n, &t[n]);
        n++;
    }
    qsort(t, n, sizeof *t, st_ref_order);
    if (st == API_OK) {
        uint64_t end = 0;

        FUZZ_CHECK(res->named && res->n_tensors == n, "reference: %zu tensors, decoder %zu", n,
                   res->n_tensors);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(t[i].begin == end && t[i].end >= t[i].begin,
                       "reference: tensor %zu at [%llu, %llu] not contiguous", i,
                       (unsigned long long)t[i].begin, (unsigned long long)t[i].end);
            end = t[i].end;
            FUZZ_CHECK(res->tensors[i].name_len == t[i].name_len &&
                           memcmp(res->tensors[i].name, t[i].name, t[i].name_len) == 0,
                       "reference: tensor %zu named differently", i);
        }
        FUZZ_CHECK(data + end == in->len, "reference: data ends at %llu, body is %zu bytes",
                   (unsigned long long)(data + end), in->len);
    }
    l2_accum_init(&total);
    for (size_t i = 0; i < n; i++) {
        enum l2_dtype dt;

        if (!st_ref_summed(t[i].code, &dt)) {
            FUZZ_CHECK(st != API_OK || (res->tensors[i].skipped != NULL &&
                                        strcmp(res->tensors[i].skipped, t[i].code) == 0),
                       "reference: tensor %zu is not skipped as %s", i, t[i].code);
            continue;
        }
        FUZZ_CHECK(st != API_OK || (t[i].end - t[i].begin) == t[i].count * l2_dtype_size(dt),
                   "reference: tensor %zu spans the wrong size", i);
        if (st_ref_tensor_sum(in, data, st, err, res, i, &t[i], dt, &total))
            goto out;
    }
    FUZZ_CHECK(st == API_OK, "reference: every element finite but status %d (index %lld)", (int)st,
               (long long)err->index);
    fuzz_same_accum("reference total", &total, &res->total);
out:
    free(t);
    json_decref(root);
}

/* The per-entry fields fuzz_same_result leaves out: dtypes and skipped codes. */
static void st_same_entries(const struct api_result *a, const struct api_result *b)
{
    FUZZ_CHECK(a->dtype == b->dtype, "entries: result dtype differs");
    for (size_t i = 0; i < a->n_tensors && i < b->n_tensors; i++) {
        const struct api_tensor *x = &a->tensors[i], *y = &b->tensors[i];

        FUZZ_CHECK((x->skipped == NULL) == (y->skipped == NULL) &&
                       (x->skipped == NULL || strcmp(x->skipped, y->skipped) == 0),
                   "entries: tensor %zu skipped differs", i);
        FUZZ_CHECK(x->skipped != NULL || x->dtype == y->dtype, "entries: tensor %zu dtype", i);
    }
}

static const struct fuzz_format st_format = {"safetensors", API_FORMAT_SAFETENSORS,
                                             &api_safetensors_ops, st_same_entries, st_reference};

/* Checks one input; aborts on a broken invariant. */
static void safetensors_check(const uint8_t *data, size_t size)
{
    struct fuzz_input in;
    struct api_error ep;
    struct api_body *body = NULL;
    enum api_status sp;

    if (!fuzz_input_parse(data, size, &in))
        return;
    if (in.has_dtype) { /* refused before any byte */
        sp = fuzz_body_pieces(API_FORMAT_SAFETENSORS, &in, &body, &ep);
        FUZZ_CHECK(sp == API_INVALID_SAFETENSORS && body == NULL,
                   "a dtype parameter was not refused (%d)", (int)sp);
        return;
    }
    fuzz_check_format(&st_format, &in, (unsigned)data[0] >> 3);
}

#endif
