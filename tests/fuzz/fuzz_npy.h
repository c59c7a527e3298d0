/* fuzz_npy.h -- the .npy harness body (fuzz_npy.c; replayed by the unit tests).
 *
 * Input: the header of fuzz_common.h (its dtype bits are unused: the .npy
 * header carries the dtype), then the .npy body. The body is decoded whole
 * by the .npy format's ops, in the fuzzer's pieces through api_body, and byte by byte;
 * all three must agree. A slow reference then reads the file's own framing
 * (magic, version, header length, the descr's byte order) and loads the
 * data element by element with l2_dtype_load_le (byte-swapped for '>'),
 * adding them with l2_accum_add: on success the data must be exactly the
 * header's shape times the element size and the sums must match bit for
 * bit; on non_finite the reference must find the first NaN/infinity at the
 * same index. */
#ifndef FUZZ_NPY_H
#define FUZZ_NPY_H

#include "api/npy_decode.h"
#include "fuzz_common.h"
#include "npy_frame.h"

static void npy_reference(const struct fuzz_input *in, enum api_status st,
                          const struct api_error *err, const struct api_result *res)
{
    struct npy_frame f;
    size_t size, n;
    struct l2_accum ref;
    uint64_t count = 1;

    if (st != API_OK && st != API_NON_FINITE)
        return;
    FUZZ_CHECK(npy_frame(in->body, in->len, &f), "reference: no .npy framing, status %d", (int)st);
    FUZZ_CHECK(res->dtype != L2_DTYPE_BFLOAT16, "reference: bfloat16 from a .npy header");
    size = l2_dtype_size(res->dtype);
    n = (in->len - f.data) / size;
    if (!fuzz_ref_elements(res->dtype, in->body + f.data, n, f.swap, st, err, &ref))
        return;
    FUZZ_CHECK(st == API_OK, "reference: every element finite but status %d (index %lld)", (int)st,
               (long long)err->index);
    for (unsigned d = 0; d < res->ndim; d++)
        count *= res->shape[d];
    FUZZ_CHECK((in->len - f.data) % size == 0 && n == count,
               "reference: %zu data bytes for %llu elements of %zu bytes", in->len - f.data,
               (unsigned long long)count, size);
    FUZZ_CHECK(!res->named, "reference: named .npy result");
    fuzz_same_accum("reference", &ref, &res->total);
}

static const struct fuzz_format npy_format = {"npy", API_FORMAT_NPY, &api_npy_ops, NULL,
                                              npy_reference};

/* Checks one input; aborts on a broken invariant. */
static void npy_check(const uint8_t *data, size_t size)
{
    struct fuzz_input in;

    if (!fuzz_input_parse(data, size, &in))
        return;
    in.has_dtype = false;
    fuzz_check_format(&npy_format, &in, (unsigned)data[0] >> 3);
}

#endif
