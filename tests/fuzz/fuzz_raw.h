/* fuzz_raw.h -- the raw harness body (fuzz_raw.c; replayed by the unit tests).
 *
 * Input: the header of fuzz_common.h (dtype in byte 0; a raw body always
 * has one), then the body. The body is decoded whole by the raw format's ops, in the
 * fuzzer's pieces through api_body, and byte by byte; all three must agree.
 * A slow exact reference then loads the elements one by one with
 * l2_dtype_load_le and adds them with l2_accum_add: it must find the same
 * first NaN/infinity (same index), the same partial-element offset, or the
 * same sum bits and count. Before that, a body that starts with the .npy
 * magic, or with a whole safetensors header its decoder accepts, must be
 * format_mismatch at offset 0. */
#ifndef FUZZ_RAW_H
#define FUZZ_RAW_H

#include "api/elements.h"
#include "api/safetensors_decode.h"
#include "fuzz_common.h"

/* True when body[0..len) starts as a file: the .npy magic, or an 8-byte
 * length N (2..16 MiB) and N bytes the safetensors decoder takes as a
 * whole header. */
static bool raw_is_file(const uint8_t *body, size_t len)
{
    const struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
    struct api_result res;
    struct api_error err;
    uint64_t n = 0;
    void *dec = NULL;
    bool file;

    if (len >= 6 && memcmp(body, "\x93NUMPY", 6) == 0)
        return true;
    if (len < 9)
        return false;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | body[i];
    if (n < 2 || n > len - 8)
        return false;
    api_result_init(&res, L2_DTYPE_FLOAT64);
    api_error_init(&err);
    file = api_safetensors_ops.create(&res, &opts, &dec, &err) == API_OK &&
           api_safetensors_ops.feed(dec, body, (size_t)n + 8, 0, &err) == API_OK;
    api_safetensors_ops.destroy(dec);
    api_result_free(&res);
    return file;
}

/* The reference: element by element. */
static void raw_reference(const struct fuzz_input *in, enum api_status st,
                          const struct api_error *err, const struct api_result *res)
{
    size_t size = l2_dtype_size(in->dtype);
    size_t n = in->len / size;
    struct l2_accum ref;

    if (raw_is_file(in->body, in->len)) {
        FUZZ_CHECK(st == API_FORMAT_MISMATCH && err->offset == 0,
                   "reference: a file sent as raw, status %s", api_status_code(st));
        return;
    }
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

static const struct fuzz_format raw_format = {"raw", API_FORMAT_RAW, &api_raw_ops, NULL,
                                              raw_reference};

/* Checks one input; aborts on a broken invariant. */
static void raw_check(const uint8_t *data, size_t size)
{
    struct fuzz_input in;

    if (!fuzz_input_parse(data, size, &in))
        return;
    in.has_dtype = true;
    fuzz_check_format(&raw_format, &in, (unsigned)data[0] >> 3);
}

#endif
