/* fuzz_infer.h -- the infer body harness (fuzz_infer.c): the Open
 * Inference Protocol v2 request header and its binary data (api/infer.h).
 *
 * Input:
 *   byte 0      bit 0: model regularize (else l2_loss); bit 1: an
 *               Inference-Header-Content-Length is sent
 *   bytes 1-2   its value, little-endian, taken mod (body length + 2), so
 *               that it may also lie one byte past the body
 *   then        the header of fuzz_common.h (its byte 0 picks the kernels,
 *               fuzz_use_impl; the dtype bits are unused), then the body.
 * The body is decoded whole by api_infer_ops, in the fuzzer's pieces
 * through api_body, and byte by byte when short, each with its own
 * struct api_infer_request. The chunking invariant: the three give the
 * same status, error (code, detail, pointer, index, offset) and, on
 * success, the same result bits (every tensor's sums, norm, max_abs,
 * counts, dtype, shape, name) and the same request (id, scale, nonfinite,
 * binary_data_output, the outputs wanted with their binary flags). On
 * success the request must also be sound: an id within API_INFER_MAX_ID
 * and NUL-terminated, a finite non-negative scale present exactly on
 * regularize, no output wanted twice, the total count the sum of the
 * inputs' counts. Any difference aborts. */
#ifndef FUZZ_INFER_H
#define FUZZ_INFER_H

#include "api/infer.h"
#include "fuzz_common.h"

struct infer_input {
    enum api_infer_model model;
    bool has_len;
    uint64_t len; /* the header length, when has_len */
    unsigned impl_sel;
    struct fuzz_input in;
};

static bool infer_parse(const uint8_t *data, size_t size, struct infer_input *x)
{
    if (size < 3 || !fuzz_input_parse(data + 3, size - 3, &x->in))
        return false;
    x->model = (data[0] & 1) ? API_INFER_REGULARIZE : API_INFER_L2_LOSS;
    x->has_len = (data[0] & 2) != 0;
    x->len = ((uint64_t)data[1] | (uint64_t)data[2] << 8) % (x->in.len + 2);
    x->impl_sel = data[3] >> 3;
    return true;
}

static struct api_decode_opts infer_opts(const struct infer_input *x, struct api_infer_request *req)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, req};

    api_infer_request_init(req, x->model, x->has_len, x->len);
    return opts;
}

/* Whole (step 0) or step bytes at a time, through the ops. */
static enum api_status infer_decode(const struct infer_input *x, size_t step,
                                    struct api_infer_request *req, struct api_result *res,
                                    struct api_error *err)
{
    struct api_decode_opts opts = infer_opts(x, req);

    return fuzz_run_ops(&api_infer_ops, &opts, res, x->in.body, x->in.len, step, err);
}

/* In the fuzzer's pieces through api_body (each piece its own
 * allocation); an error must stick. *out owns the body. */
static enum api_status infer_pieces(const struct infer_input *x, struct api_infer_request *req,
                                    struct api_body **out, struct api_error *err)
{
    struct api_decode_opts opts = infer_opts(x, req);
    enum api_status st;
    size_t start = 0;

    api_error_init(err);
    *out = NULL;
    st = api_body_new(API_FORMAT_INFER, &opts, API_ENCODING_IDENTITY, UINT64_MAX, out, err);
    if (st != API_OK)
        return st;
    for (size_t i = 0; i <= x->in.ncuts; i++) {
        size_t end = i < x->in.ncuts ? x->in.cuts[i] : x->in.len;
        char *piece = fuzz_copy(x->in.body + start, end - start);
        enum api_status fst = api_body_feed(*out, piece, end - start);

        free(piece);
        if (st == API_OK)
            st = fst;
        else
            FUZZ_CHECK(fst == st, "infer pieces: feed after an error returned %d, not %d", (int)fst,
                       (int)st);
        start = end;
    }
    {
        enum api_status fst = api_body_finish(*out);
        if (st == API_OK)
            st = fst;
        else
            FUZZ_CHECK(fst == st, "infer pieces: finish after an error gave %d, not %d", (int)fst,
                       (int)st);
    }
    *err = *api_body_error(*out);
    return st;
}

/* What fuzz_same_result leaves out: norm, max_abs and the non-finite
 * counts of each tensor. */
static void infer_same_tensors(const char *what, const struct api_result *a,
                               const struct api_result *b)
{
    for (size_t i = 0; i < a->n_tensors; i++) {
        const struct api_tensor *ta = &a->tensors[i], *tb = &b->tensors[i];

        FUZZ_CHECK(fuzz_bits(ta->norm) == fuzz_bits(tb->norm) &&
                       fuzz_bits(ta->max_abs) == fuzz_bits(tb->max_abs),
                   "%s: tensor %zu norm/max_abs differ", what, i);
        FUZZ_CHECK(ta->nan_count == tb->nan_count && ta->inf_count == tb->inf_count,
                   "%s: tensor %zu non-finite counts differ", what, i);
    }
}

static void infer_same_request(const char *what, const struct api_infer_request *a,
                               const struct api_infer_request *b)
{
    FUZZ_CHECK(a->has_id == b->has_id && a->id_len == b->id_len &&
                   memcmp(a->id, b->id, a->id_len) == 0,
               "%s: id differs", what);
    FUZZ_CHECK(a->has_scale == b->has_scale &&
                   fuzz_bits(a->scale.value) == fuzz_bits(b->scale.value) &&
                   a->scale.disabled == b->scale.disabled,
               "%s: scale differs", what);
    FUZZ_CHECK(a->count_nonfinite == b->count_nonfinite, "%s: nonfinite differs", what);
    FUZZ_CHECK(a->binary_data_output == b->binary_data_output, "%s: binary_data_output differs",
               what);
    FUZZ_CHECK(a->n_wanted == b->n_wanted, "%s: %zu vs %zu outputs", what, a->n_wanted,
               b->n_wanted);
    for (size_t i = 0; i < a->n_wanted; i++)
        FUZZ_CHECK(a->wanted[i].which == b->wanted[i].which &&
                       a->wanted[i].binary == b->wanted[i].binary,
                   "%s: output %zu differs", what, i);
}

/* A successful request is sound (see the opening comment). */
static void infer_sound(const struct infer_input *x, const struct api_infer_request *req,
                        const struct api_result *res)
{
    bool seen[API_INFER_OUT_COUNT_] = {false};
    uint64_t count = 0;

    FUZZ_CHECK(req->id_len <= API_INFER_MAX_ID && req->id[req->id_len] == '\0',
               "id of %zu bytes not terminated", req->id_len);
    FUZZ_CHECK(req->has_scale == (x->model == API_INFER_REGULARIZE), "scale present %d on model %d",
               (int)req->has_scale, (int)x->model);
    if (req->has_scale)
        FUZZ_CHECK(isfinite(req->scale.value) && req->scale.value >= 0 &&
                       req->scale.disabled == (req->scale.value == 0),
                   "scale %a (disabled %d)", req->scale.value, (int)req->scale.disabled);
    FUZZ_CHECK(req->n_wanted >= 1 && req->n_wanted <= API_INFER_OUT_COUNT_, "%zu outputs",
               req->n_wanted);
    for (size_t i = 0; i < req->n_wanted; i++) {
        FUZZ_CHECK((unsigned)req->wanted[i].which < API_INFER_OUT_COUNT_, "output %zu unknown", i);
        FUZZ_CHECK(!seen[req->wanted[i].which], "output %zu wanted twice", i);
        seen[req->wanted[i].which] = true;
    }
    for (size_t i = 0; i < res->n_tensors; i++) {
        const struct api_tensor *t = &res->tensors[i];

        FUZZ_CHECK(t->skipped == NULL, "tensor %zu skipped", i);
        FUZZ_CHECK(t->nan_count + t->inf_count <= t->count, "tensor %zu counts", i);
        FUZZ_CHECK(req->count_nonfinite || t->nan_count + t->inf_count == 0,
                   "tensor %zu: non-finite counted without nonfinite=count", i);
        count += t->count;
    }
    FUZZ_CHECK(res->total.count == count, "total count %llu, inputs %llu",
               (unsigned long long)res->total.count, (unsigned long long)count);
}

static void infer_check(const uint8_t *data, size_t size)
{
    struct infer_input x;
    struct api_infer_request rw, rp, rb;
    struct api_result whole, bytes;
    struct api_error ew, ep, eb;
    struct api_body *body = NULL;
    enum api_status sw, sp, sb;

    if (!infer_parse(data, size, &x))
        return;
    fuzz_use_impl(x.impl_sel);
    sw = infer_decode(&x, 0, &rw, &whole, &ew);
    fuzz_use_impl(x.impl_sel >> 2);
    sp = infer_pieces(&x, &rp, &body, &ep);
    fuzz_same_outcome("infer whole vs pieces", sw, &ew, &whole, sp, &ep, api_body_result(body));
    if (sw == API_OK) {
        infer_same_tensors("infer whole vs pieces", &whole, api_body_result(body));
        infer_same_request("infer whole vs pieces", &rw, &rp);
        infer_sound(&x, &rw, &whole);
    }
    if (x.in.len <= FUZZ_BYTEWISE_MAX) {
        sb = infer_decode(&x, 1, &rb, &bytes, &eb);
        fuzz_same_outcome("infer whole vs bytes", sw, &ew, &whole, sb, &eb, &bytes);
        if (sw == API_OK) {
            infer_same_tensors("infer whole vs bytes", &whole, &bytes);
            infer_same_request("infer whole vs bytes", &rw, &rb);
        }
        api_result_free(&bytes);
    }
    api_body_free(body);
    api_result_free(&whole);
}

#endif
