/* fuzz_raw.h -- the raw harness body (fuzz_raw.c; replayed by the unit tests).
 *
 * Input: the header of fuzz_common.h (dtype in byte 0; a raw body always
 * has one), then the body. The body is decoded whole by the raw format's ops, in the
 * fuzzer's pieces through api_body, and byte by byte; all three must agree.
 * A slow exact reference then loads the elements one by one with
 * l2_dtype_load_le and adds them with l2_accum_add: it must find the same
 * first NaN/infinity (same index), the same partial-element offset, or the
 * same sum bits and count. */
#ifndef FUZZ_RAW_H
#define FUZZ_RAW_H

#include <math.h>

#include "api/elements.h"
#include "fuzz_common.h"

/* Decodes body whole (step 0) or step bytes at a time into res. */
static enum api_status raw_decode(const struct fuzz_input *in, size_t step, struct api_result *res,
                                  struct api_error *err)
{
    struct api_decode_opts opts = {in->dtype, true, false, 0};

    return fuzz_run_ops(&api_raw_ops, &opts, res, in->body, in->len, step, err);
}

/* The reference: element by element. */
static void raw_reference(const struct fuzz_input *in, enum api_status st,
                          const struct api_error *err, const struct api_result *res)
{
    size_t size = l2_dtype_size(in->dtype);
    size_t n = in->len / size, i;
    struct l2_accum ref;

    l2_accum_init(&ref);
    for (i = 0; i < n; i++) {
        double x = l2_dtype_load_le(in->dtype, in->body + i * size);

        if (!isfinite(x)) {
            FUZZ_CHECK(st == API_NON_FINITE, "reference: element %zu is not finite, status %d", i,
                       (int)st);
            FUZZ_CHECK(err->index == (int64_t)i, "reference: non_finite at %zu, decoder says %lld",
                       i, (long long)err->index);
            return;
        }
        FUZZ_CHECK(l2_accum_add(&ref, x) == L2_OK, "reference: l2_accum_add refused %a", x);
    }
    if (in->len % size != 0) {
        FUZZ_CHECK(st == API_INVALID_LENGTH, "reference: partial element, status %d", (int)st);
        FUZZ_CHECK(err->offset == (int64_t)(n * size), "reference: offset %zu, decoder says %lld",
                   n * size, (long long)err->offset);
        return;
    }
    FUZZ_CHECK(st == API_OK, "reference: valid body, status %d (%s)", (int)st, err->detail);
    FUZZ_CHECK(res->ndim == 1 && res->shape[0] == n, "reference: shape is not [%zu]", n);
    FUZZ_CHECK(res->dtype == in->dtype && !res->named, "reference: dtype or named differs");
    fuzz_same_accum("reference", &ref, &res->total);
}

/* Checks one input; aborts on a broken invariant. */
static void raw_check(const uint8_t *data, size_t size)
{
    struct fuzz_input in;
    struct api_result whole, bytes;
    struct api_error ew, ep, eb;
    struct api_body *body = NULL;
    enum api_status sw, sp, sb;

    if (!fuzz_input_parse(data, size, &in))
        return;
    in.has_dtype = true;

    fuzz_use_impl(data[0] >> 3);
    sw = raw_decode(&in, 0, &whole, &ew);
    fuzz_use_impl(data[0] >> 5);
    sp = fuzz_body_pieces(API_FORMAT_RAW, &in, &body, &ep);
    fuzz_same_outcome("raw whole vs pieces", sw, &ew, &whole, sp, &ep, api_body_result(body));
    if (in.len <= FUZZ_BYTEWISE_MAX) {
        sb = raw_decode(&in, 1, &bytes, &eb);
        fuzz_same_outcome("raw whole vs bytes", sw, &ew, &whole, sb, &eb, &bytes);
        api_result_free(&bytes);
    }
    raw_reference(&in, sw, &ew, &whole);

    api_body_free(body);
    api_result_free(&whole);
}

#endif
