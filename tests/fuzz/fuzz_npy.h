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

#include <math.h>

#include "api/npy_decode.h"
#include "fuzz_common.h"

static enum api_status npy_decode(const struct fuzz_input *in, size_t step, struct api_result *res,
                                  struct api_error *err)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false};

    return fuzz_run_ops(&api_npy_ops, &opts, res, in->body, in->len, step, err);
}

/* The file's framing as the reference reads it. */
struct npy_frame {
    size_t data; /* offset of the first data byte */
    bool swap;   /* big-endian elements */
};

/* Reads the magic, version and header length, and the descr's byte-order
 * character. False when the framing is not there (then the decoder must not
 * have got as far as the data). */
static bool npy_frame(const uint8_t *b, size_t len, struct npy_frame *f)
{
    static const char key1[] = "'descr'", key2[] = "\"descr\"";
    size_t hdr_start, hlen, i;
    const uint8_t *h;

    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return false;
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hdr_start = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (len < 12)
            return false;
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hdr_start = 12;
    } else {
        return false;
    }
    if (hlen > len - hdr_start)
        return false;
    h = b + hdr_start;
    f->data = hdr_start + hlen;
    /* The key is the first quoted "descr": a value never contains it (no
     * escapes, and descr, fortran_order and shape are the only keys). */
    for (i = 0; i + 7 <= hlen; i++)
        if (memcmp(h + i, key1, 7) == 0 || memcmp(h + i, key2, 7) == 0)
            break;
    if (i + 7 > hlen)
        return false;
    i += 7;
    while (i < hlen && (h[i] == ' ' || h[i] == ':' || h[i] == '\t' || h[i] == '\n' ||
                        h[i] == '\r' || h[i] == '\f'))
        i++;
    if (i + 1 >= hlen || (h[i] != '\'' && h[i] != '"'))
        return false;
    f->swap = h[i + 1] == '>';
    return true;
}

static double npy_load(enum l2_dtype dtype, const uint8_t *p, bool swap)
{
    unsigned char tmp[8];
    size_t size = l2_dtype_size(dtype);

    if (!swap)
        return l2_dtype_load_le(dtype, p);
    for (size_t k = 0; k < size; k++)
        tmp[k] = p[size - 1 - k];
    return l2_dtype_load_le(dtype, tmp);
}

static void npy_reference(const struct fuzz_input *in, enum api_status st,
                          const struct api_error *err, const struct api_result *res)
{
    struct npy_frame f;
    size_t size, i, n;
    struct l2_accum ref;
    uint64_t count = 1;

    if (st != API_OK && st != API_NON_FINITE)
        return;
    FUZZ_CHECK(npy_frame(in->body, in->len, &f), "reference: no .npy framing, status %d", (int)st);
    FUZZ_CHECK(res->dtype != L2_DTYPE_BFLOAT16, "reference: bfloat16 from a .npy header");
    size = l2_dtype_size(res->dtype);
    n = (in->len - f.data) / size;
    l2_accum_init(&ref);
    for (i = 0; i < n; i++) {
        double x = npy_load(res->dtype, in->body + f.data + i * size, f.swap);

        if (!isfinite(x)) {
            FUZZ_CHECK(st == API_NON_FINITE, "reference: element %zu is not finite, status %d", i,
                       (int)st);
            FUZZ_CHECK(err->index == (int64_t)i, "reference: non_finite at %zu, decoder says %lld",
                       i, (long long)err->index);
            return;
        }
        FUZZ_CHECK(l2_accum_add(&ref, x) == L2_OK, "reference: l2_accum_add refused %a", x);
    }
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

/* Checks one input; aborts on a broken invariant. */
static void npy_check(const uint8_t *data, size_t size)
{
    struct fuzz_input in;
    struct api_result whole, bytes;
    struct api_error ew, ep, eb;
    struct api_body *body = NULL;
    enum api_status sw, sp, sb;

    if (!fuzz_input_parse(data, size, &in))
        return;
    in.has_dtype = false;

    fuzz_use_impl(data[0] >> 3);
    sw = npy_decode(&in, 0, &whole, &ew);
    fuzz_use_impl(data[0] >> 5);
    sp = fuzz_body_pieces(API_FORMAT_NPY, &in, &body, &ep);
    fuzz_same_outcome("npy whole vs pieces", sw, &ew, &whole, sp, &ep, api_body_result(body));
    if (in.len <= FUZZ_BYTEWISE_MAX) {
        sb = npy_decode(&in, 1, &bytes, &eb);
        fuzz_same_outcome("npy whole vs bytes", sw, &ew, &whole, sb, &eb, &bytes);
        api_result_free(&bytes);
    }
    npy_reference(&in, sw, &ew, &whole);

    api_body_free(body);
    api_result_free(&whole);
}

#endif
