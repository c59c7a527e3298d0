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

#include "api/elements.h"
#include "fuzz_common.h"

static const struct fuzz_format raw_format = {"raw", API_FORMAT_RAW, &api_raw_ops, NULL};

/* The reference: element by element. */
static void raw_reference(const struct fuzz_input *in, enum api_status st,
                          const struct api_error *err, const struct api_result *res)
{
    size_t size = l2_dtype_size(in->dtype);
    size_t n = in->len / size;
    struct l2_accum ref;

    if (!fuzz_ref_elements(in->dtype, in->body, n, false, st, err, &ref))
        return;
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
    struct api_result whole;
    struct api_error ew;
    struct api_body *body = NULL;
    enum api_status sw;

    if (!fuzz_input_parse(data, size, &in))
        return;
    in.has_dtype = true;

    sw = fuzz_decode_three(&raw_format, &in, (unsigned)data[0] >> 3, &whole, &ew, &body);
    raw_reference(&in, sw, &ew, &whole);

    api_body_free(body);
    api_result_free(&whole);
}

#endif
