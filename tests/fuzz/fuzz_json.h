/* fuzz_json.h -- the JSON harness body, shared by fuzz_json.c (any body)
 * and fuzz_named.c (the fuzzer's bytes inside {"tensors":{ ... }}).
 *
 * Input: the header of fuzz_common.h (dtype and "dtype given" in byte 0),
 * then the body. Checks, beyond no crash: the body decoded whole by
 * api_json_ops, in the fuzzer's pieces through api_body, and byte by byte,
 * gives the same outcome (and with ?nonfinite=count, as json_check_count
 * says); and the outcome agrees with a slow reference
 * built on jansson, whose number parsing is strtod (correctly rounded):
 * each number is rounded with l2_dtype_round and squared into its own
 * accumulator with l2_accum_add, the shapes are walked from the tree.
 *
 * Where the two parsers may honestly disagree, the reference comparison is
 * skipped (documented, not a finding):
 *  - jansson refuses integers beyond long long ("too big integer") that
 *    are valid JSON and that l2d reads as floats;
 *  - jansson refuses U+0000 in object keys, which l2d allows in names;
 *  - jansson stops at a raw NUL byte as if the input ended there, so a
 *    body holding one (never valid JSON: not even inside a string) is not
 *    given to jansson; l2d must refuse it;
 *  - l2d refuses number tokens over API_JSON_MAX_NUMBER bytes (bodies with
 *    such a run of number characters are not compared when l2d refuses).
 * A named body must have its "tensors" key ({} is refused), as l2d does.
 * Everything else must match: when l2d accepts, jansson must accept and
 * give the same sums (bit for bit), counts, shapes and names in order; when
 * jansson accepts a document that is a valid tensor body by API.md's rules
 * (rectangular, at most API_MAX_DEPTH arrays, finite in the dtype, names
 * non-empty, unique, at most API_MAX_NAME bytes, at most API_MAX_TENSORS),
 * l2d must accept it; and l2d never calls a document jansson parses
 * invalid_json (its objections to valid JSON are invalid_tensor or
 * number_out_of_range). */
#ifndef FUZZ_JSON_H
#define FUZZ_JSON_H

#include <jansson.h>
#include <math.h>

#include "api/json_decode.h"
#include "fuzz_common.h"

static enum l2_dtype json_dtype(const struct fuzz_input *in)
{
    return in->has_dtype ? in->dtype : L2_DTYPE_FLOAT64;
}

/* Decodes the input whole (step 0) or step bytes at a time, NaN/Infinity
 * tokens counted when count_nonfinite (?nonfinite=count). */
static enum api_status json_decode_mode(const struct fuzz_input *in, size_t step,
                                        bool count_nonfinite, struct api_result *res,
                                        struct api_error *err)
{
    const struct api_decode_opts opts = {
        .dtype = in->dtype, .has_dtype = in->has_dtype, .count_nonfinite = count_nonfinite};
    enum api_status st = fuzz_run_ops(&api_json_ops, &opts, res, in->body, in->len, step, err);

    FUZZ_CHECK(res->dtype == json_dtype(in), "create: dtype %d, query %d", (int)res->dtype,
               (int)json_dtype(in));
    return st;
}

static enum api_status json_decode(const struct fuzz_input *in, size_t step, struct api_result *res,
                                   struct api_error *err)
{
    return json_decode_mode(in, step, false, res, err);
}

/* ---- the reference ------------------------------------------------------ */

struct ref_tensor {
    unsigned ndim;
    uint64_t shape[API_MAX_DEPTH];
    struct l2_accum acc;
};

/* Fixes the shape from the first element at each depth. False when deeper
 * than API_MAX_DEPTH. */
static bool ref_shape(const json_t *v, struct ref_tensor *t)
{
    t->ndim = 0;
    while (json_is_array(v)) {
        if (t->ndim == API_MAX_DEPTH)
            return false;
        t->shape[t->ndim++] = json_array_size(v);
        if (json_array_size(v) == 0)
            break;
        v = json_array_get(v, 0);
    }
    return true;
}

/* Checks v against the shape from depth d on and adds its squares. */
static bool ref_walk(const json_t *v, unsigned d, enum l2_dtype dtype, struct ref_tensor *t)
{
    if (d == t->ndim) {
        double x, y;

        if (json_is_integer(v))
            x = (double)json_integer_value(v);
        else if (json_is_real(v))
            x = json_real_value(v);
        else
            return false;
        y = l2_dtype_round(dtype, x);
        if (!isfinite(y))
            return false;
        FUZZ_CHECK(l2_accum_add(&t->acc, y) == L2_OK, "reference: l2_accum_add refused %a", y);
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) != t->shape[d])
        return false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!ref_walk(json_array_get(v, i), d + 1, dtype, t))
            return false;
    return true;
}

static bool ref_tensor(const json_t *v, enum l2_dtype dtype, struct ref_tensor *t)
{
    l2_accum_init(&t->acc);
    return ref_shape(v, t) && ref_walk(v, 0, dtype, t);
}

static void ref_same_tensor(const char *what, const struct ref_tensor *t, unsigned ndim,
                            const uint64_t *shape)
{
    FUZZ_CHECK(t->ndim == ndim, "%s: ndim %u, reference %u", what, ndim, t->ndim);
    for (unsigned d = 0; d < ndim; d++)
        FUZZ_CHECK(t->shape[d] == shape[d], "%s: shape[%u] %llu, reference %llu", what, d,
                   (unsigned long long)shape[d], (unsigned long long)t->shape[d]);
}

/* Whether root is a valid body; when res is not NULL (l2d accepted), also
 * compares every tensor and the total with it. */
static bool ref_body(const json_t *root, enum l2_dtype dtype, const struct api_result *res)
{
    static struct ref_tensor t; /* 1 KiB of shape: off the stack */
    struct l2_accum total;

    l2_accum_init(&total);
    if (json_is_object(root)) {
        const json_t *tensors = json_object_get(root, "tensors");
        const char *key;
        size_t key_len, i = 0;
        json_t *value;

        if (json_object_size(root) != 1 || tensors == NULL || !json_is_object(tensors) ||
            json_object_size(tensors) > API_MAX_TENSORS)
            return false;
        if (res != NULL) {
            FUZZ_CHECK(res->named, "l2d: a named body read as a tensor");
            FUZZ_CHECK(res->n_tensors == json_object_size(tensors),
                       "l2d: %zu tensors, reference %zu", res->n_tensors,
                       json_object_size(tensors));
        }
        {
            json_object_keylen_foreach((json_t *)tensors, key, key_len, value)
            {
                if (key_len == 0 || key_len > API_MAX_NAME)
                    return false;
                if (!ref_tensor(value, dtype, &t))
                    return false;
                if (res != NULL) {
                    const struct api_tensor *rt = &res->tensors[i];
                    double s;

                    FUZZ_CHECK(rt->name_len == key_len && memcmp(rt->name, key, key_len) == 0,
                               "l2d: tensor %zu name \"%s\", reference \"%s\"", i, rt->name, key);
                    ref_same_tensor("named tensor", &t, rt->ndim, rt->shape);
                    FUZZ_CHECK(rt->count == t.acc.count, "l2d: tensor %zu count differs", i);
                    l2_accum_sum(&t.acc, &s);
                    FUZZ_CHECK(fuzz_bits(s) == fuzz_bits(rt->sum_squares),
                               "l2d: tensor %zu sum %a, reference %a", i, rt->sum_squares, s);
                    l2_accum_half(&t.acc, &s);
                    FUZZ_CHECK(fuzz_bits(s) == fuzz_bits(rt->half_sum),
                               "l2d: tensor %zu half %a, reference %a", i, rt->half_sum, s);
                }
                l2_accum_merge(&total, &t.acc);
                i++;
            }
        }
    } else {
        if (!ref_tensor(root, dtype, &t))
            return false;
        if (res != NULL) {
            FUZZ_CHECK(!res->named, "l2d: a tensor read as a named body");
            ref_same_tensor("tensor", &t, res->ndim, res->shape);
        }
        total = t.acc;
    }
    if (res != NULL)
        fuzz_same_accum("l2d vs reference", &total, &res->total);
    return true;
}

/* True when body holds a run of number characters longer than l2d takes. */
static bool has_long_number_run(const uint8_t *s, size_t len)
{
    size_t run = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        bool num =
            (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';

        run = num ? run + 1 : 0;
        if (run > API_JSON_MAX_NUMBER)
            return true;
    }
    return false;
}

static void json_reference(const struct fuzz_input *in, enum api_status st,
                           const struct api_error *err, const struct api_result *res)
{
    json_error_t jerr;
    json_t *root;

    if (in->len > 0 && memchr(in->body, '\0', in->len) != NULL) {
        FUZZ_CHECK(st != API_OK, "l2d accepted a body with a raw NUL byte");
        return;
    }
    root = json_loadb((const char *)in->body, in->len,
                      JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (st != API_OK)
            return;
        if (strstr(jerr.text, "too big") != NULL || strstr(jerr.text, "NUL byte in object key"))
            return;
        FUZZ_FAIL("l2d accepted a body jansson refuses: %s (at %d)", jerr.text, jerr.position);
    }
    /* jansson parsed it: whatever l2d objects to, it is not the syntax. */
    FUZZ_CHECK(st != API_INVALID_JSON, "l2d calls valid JSON invalid_json: %s", err->detail);
    if (st == API_OK) {
        FUZZ_CHECK(ref_body(root, json_dtype(in), res),
                   "l2d accepted a body the reference finds invalid");
    } else if (ref_body(root, json_dtype(in), NULL)) {
        FUZZ_CHECK(has_long_number_run(in->body, in->len), "l2d refused a valid body: %s (%s)",
                   api_status_code(st), err->detail);
    }
    json_decref(root);
}

/* ---- the harness -------------------------------------------------------- */

/* ?nonfinite=count changes only what NaN, Infinity and -Infinity tokens
 * are: with no 'N' or 'I' in the body it gives the outcome of the default
 * run (sw, ew, whole) exactly; with one, it is split-invariant itself. */
static void json_check_count(const struct fuzz_input *in, enum api_status sw,
                             const struct api_error *ew, const struct api_result *whole)
{
    struct api_result counted, bytes;
    struct api_error ec, eb;
    enum api_status sc, sb;

    sc = json_decode_mode(in, 0, true, &counted, &ec);
    if (in->len == 0 ||
        (memchr(in->body, 'N', in->len) == NULL && memchr(in->body, 'I', in->len) == NULL)) {
        fuzz_same_outcome("json default vs count", sw, ew, whole, sc, &ec, &counted);
    } else if (in->len <= FUZZ_BYTEWISE_MAX) {
        sb = json_decode_mode(in, 1, true, &bytes, &eb);
        fuzz_same_outcome("json count: whole vs bytes", sc, &ec, &counted, sb, &eb, &bytes);
        api_result_free(&bytes);
    }
    api_result_free(&counted);
}

/* Checks one input; impl_sel picks the kernels of the whole and the pieces
 * runs (fuzz_use_impl). Aborts on a broken invariant. */
static void json_check(const struct fuzz_input *in, unsigned impl_sel)
{
    struct api_result whole, bytes;
    struct api_error ew, ep, eb;
    struct api_body *body = NULL;
    enum api_status sw, sp, sb;

    fuzz_use_impl(impl_sel);
    sw = json_decode(in, 0, &whole, &ew);
    fuzz_use_impl(impl_sel >> 2);
    sp = fuzz_body_pieces(API_FORMAT_JSON, in, &body, &ep);
    fuzz_same_outcome("json whole vs pieces", sw, &ew, &whole, sp, &ep, api_body_result(body));
    if (in->len <= FUZZ_BYTEWISE_MAX) {
        sb = json_decode(in, 1, &bytes, &eb);
        fuzz_same_outcome("json whole vs bytes", sw, &ew, &whole, sb, &eb, &bytes);
        api_result_free(&bytes);
    }
    json_reference(in, sw, &ew, &whole);
    json_check_count(in, sw, &ew, &whole);

    api_body_free(body);
    api_result_free(&whole);
}

/* fuzz_json.c: the input's header, then any body. */
static inline void json_check_input(const uint8_t *data, size_t size)
{
    struct fuzz_input in;

    if (fuzz_input_parse(data, size, &in))
        json_check(&in, (unsigned)data[0] >> 3);
}

/* fuzz_named.c: the input's header, then the inside of {"tensors":{ }};
 * the cut points, taken mod the unwrapped length, are spread over the
 * wrapped body. */
static inline void named_check_input(const uint8_t *data, size_t size)
{
    static const char head[] = "{\"tensors\":{";
    static const char tail[] = "}}";
    struct fuzz_input in;
    uint8_t *wrapped;
    size_t hl = sizeof head - 1, tl = sizeof tail - 1;

    if (!fuzz_input_parse(data, size, &in))
        return;
    wrapped = malloc(hl + in.len + tl);
    if (wrapped == NULL)
        abort();
    memcpy(wrapped, head, hl);
    if (in.len > 0)
        memcpy(wrapped + hl, in.body, in.len);
    memcpy(wrapped + hl + in.len, tail, tl);
    in.body = wrapped;
    in.len += hl + tl;
    for (size_t i = 0; i < in.ncuts; i++)
        in.cuts[i] += in.cuts[i] % 3 == 0 ? 0 : in.cuts[i] % 3 == 1 ? hl : hl + tl;
    for (size_t i = 0; i < in.ncuts; i++)
        if (in.cuts[i] > in.len)
            in.cuts[i] = in.len;
    fuzz_sort_cuts(&in);
    json_check(&in, (unsigned)data[0] >> 3);
    free(wrapped);
}

#endif
