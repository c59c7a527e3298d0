/* fuzz_common.h -- what the libFuzzer harnesses of tests/fuzz/ share.
 *
 * The input of a decoder harness is a small header followed by the body:
 *
 *   byte 0      options: bits 0-1 the dtype, bit 2 "dtype given" (JSON)
 *   byte 1      number of cut points, mod FUZZ_MAX_CUTS + 1
 *   2 bytes     per cut point, little-endian, taken mod (body length + 1)
 *   the rest    the body
 *
 * Every body is decoded three ways: whole in one feed by the format's own
 * decoder, in the fuzzer-chosen pieces through api_body (each piece copied
 * into a buffer of exactly its size, so that ASan sees any read past a
 * chunk), and, when short, one byte at a time. The three outcomes (status,
 * error code, detail, pointer, index, offset, and on success every bit of
 * the result) must be identical; any difference aborts, which libFuzzer
 * reports as a crash. Only static functions: each harness is one
 * translation unit. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/error.h"
#include "api/result.h"
#include "core/accum.h"
#include "core/accum_impl.h"
#include "core/dtype.h"

#define FUZZ_MAX_CUTS 7
/* Bodies up to this size are also fed one byte at a time. */
#define FUZZ_BYTEWISE_MAX 2048

struct fuzz_input {
    enum l2_dtype dtype;
    bool has_dtype;
    size_t ncuts;
    size_t cuts[FUZZ_MAX_CUTS]; /* sorted, each <= len */
    const uint8_t *body;
    size_t len;
};

/* Reports a broken invariant and aborts (libFuzzer saves the input). */
#define FUZZ_FAIL(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "fuzz invariant broken (%s:%d): ", __FILE__, __LINE__);                    \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FUZZ_FAIL(__VA_ARGS__);                                                                \
    } while (0)

/* Makes l2_accum_feed use implementation sel % 4 (3 means the default, the
 * fastest), when this CPU has it: the runs that must agree then also
 * cross-check the kernels. */
static inline void fuzz_use_impl(unsigned sel)
{
    static int best = -1;

    if (best < 0)
        best = (int)l2_accum_impl_get();
    sel &= 3;
    if (sel >= L2_ACCUM_IMPL_COUNT || !l2_accum_impl_supported((enum l2_accum_impl)sel))
        sel = (unsigned)best;
    l2_accum_impl_set((enum l2_accum_impl)sel);
}

/* Sorts the cut points (insertion sort: at most FUZZ_MAX_CUTS). */
static inline void fuzz_sort_cuts(struct fuzz_input *in)
{
    size_t i, j;

    for (i = 1; i < in->ncuts; i++) {
        size_t c = in->cuts[i];
        for (j = i; j > 0 && in->cuts[j - 1] > c; j--)
            in->cuts[j] = in->cuts[j - 1];
        in->cuts[j] = c;
    }
}

/* Splits data into header and body; false when too short for a header. */
static inline bool fuzz_input_parse(const uint8_t *data, size_t size, struct fuzz_input *in)
{
    size_t i, hdr;

    if (size < 2)
        return false;
    in->dtype = (enum l2_dtype)(data[0] & 3);
    in->has_dtype = (data[0] & 4) != 0;
    in->ncuts = data[1] % (FUZZ_MAX_CUTS + 1);
    hdr = 2 + 2 * in->ncuts;
    if (size < hdr)
        return false;
    in->body = data + hdr;
    in->len = size - hdr;
    for (i = 0; i < in->ncuts; i++) {
        size_t c = (size_t)data[2 + 2 * i] | (size_t)data[3 + 2 * i] << 8;
        in->cuts[i] = c % (in->len + 1);
    }
    fuzz_sort_cuts(in);
    return true;
}

/* A heap copy of exactly len bytes (one byte allocated for len 0, none
 * readable): ASan flags any read past the chunk. */
static inline char *fuzz_copy(const uint8_t *p, size_t len)
{
    char *c = malloc(len > 0 ? len : 1);

    if (c == NULL)
        abort();
    if (len > 0)
        memcpy(c, p, len);
    return c;
}

static inline uint64_t fuzz_bits(double x)
{
    uint64_t u;

    memcpy(&u, &x, sizeof u);
    return u;
}

/* Checks the error fields two runs must agree on. */
static inline void fuzz_same_error(const char *what, const struct api_error *a,
                                   const struct api_error *b)
{
    FUZZ_CHECK(a->status == b->status, "%s: error status %d vs %d", what, (int)a->status,
               (int)b->status);
    FUZZ_CHECK(memchr(a->detail, '\0', sizeof a->detail) != NULL, "%s: detail not terminated",
               what);
    FUZZ_CHECK(memchr(b->detail, '\0', sizeof b->detail) != NULL, "%s: detail not terminated",
               what);
    FUZZ_CHECK(strcmp(a->detail, b->detail) == 0, "%s: detail \"%s\" vs \"%s\"", what, a->detail,
               b->detail);
    FUZZ_CHECK(a->has_pointer == b->has_pointer, "%s: has_pointer differs", what);
    FUZZ_CHECK(a->pointer_len == b->pointer_len &&
                   memcmp(a->pointer, b->pointer, a->pointer_len) == 0,
               "%s: pointer \"%s\" vs \"%s\"", what, a->pointer, b->pointer);
    FUZZ_CHECK(a->index == b->index, "%s: index %lld vs %lld", what, (long long)a->index,
               (long long)b->index);
    FUZZ_CHECK(a->offset == b->offset, "%s: offset %lld vs %lld", what, (long long)a->offset,
               (long long)b->offset);
}

static inline void fuzz_same_accum(const char *what, const struct l2_accum *a,
                                   const struct l2_accum *b)
{
    double sa, sb, ha, hb;
    enum l2_status ra = l2_accum_sum(a, &sa), rb = l2_accum_sum(b, &sb);

    FUZZ_CHECK(ra == rb && fuzz_bits(sa) == fuzz_bits(sb), "%s: sum %a vs %a", what, sa, sb);
    ra = l2_accum_half(a, &ha);
    rb = l2_accum_half(b, &hb);
    FUZZ_CHECK(ra == rb && fuzz_bits(ha) == fuzz_bits(hb), "%s: half %a vs %a", what, ha, hb);
    FUZZ_CHECK(a->count == b->count, "%s: count %llu vs %llu", what, (unsigned long long)a->count,
               (unsigned long long)b->count);
}

/* Checks every bit of two complete results. */
static inline void fuzz_same_result(const char *what, const struct api_result *a,
                                    const struct api_result *b)
{
    size_t i;
    unsigned d;

    FUZZ_CHECK(a->dtype == b->dtype, "%s: dtype differs", what);
    FUZZ_CHECK(a->named == b->named, "%s: named differs", what);
    fuzz_same_accum(what, &a->total, &b->total);
    FUZZ_CHECK(a->ndim == b->ndim, "%s: ndim %u vs %u", what, a->ndim, b->ndim);
    FUZZ_CHECK(a->ndim <= API_MAX_DEPTH, "%s: ndim %u too deep", what, a->ndim);
    for (d = 0; d < a->ndim; d++)
        FUZZ_CHECK(a->shape[d] == b->shape[d], "%s: shape[%u] differs", what, d);
    FUZZ_CHECK(a->n_tensors == b->n_tensors, "%s: %zu vs %zu tensors", what, a->n_tensors,
               b->n_tensors);
    for (i = 0; i < a->n_tensors; i++) {
        const struct api_tensor *ta = &a->tensors[i], *tb = &b->tensors[i];

        FUZZ_CHECK(ta->name_len == tb->name_len && memcmp(ta->name, tb->name, ta->name_len) == 0,
                   "%s: tensor %zu name differs", what, i);
        FUZZ_CHECK(ta->name[ta->name_len] == '\0', "%s: tensor %zu name not terminated", what, i);
        FUZZ_CHECK(fuzz_bits(ta->sum_squares) == fuzz_bits(tb->sum_squares) &&
                       fuzz_bits(ta->half_sum) == fuzz_bits(tb->half_sum),
                   "%s: tensor %zu sums differ", what, i);
        FUZZ_CHECK(ta->count == tb->count, "%s: tensor %zu count differs", what, i);
        FUZZ_CHECK(ta->dtype == tb->dtype, "%s: tensor %zu dtype differs", what, i);
        FUZZ_CHECK((ta->skipped == NULL) == (tb->skipped == NULL) &&
                       (ta->skipped == NULL || strcmp(ta->skipped, tb->skipped) == 0),
                   "%s: tensor %zu skipped differs", what, i);
        FUZZ_CHECK(ta->ndim == tb->ndim, "%s: tensor %zu ndim differs", what, i);
        for (d = 0; d < ta->ndim; d++)
            FUZZ_CHECK(ta->shape[d] == tb->shape[d], "%s: tensor %zu shape[%u] differs", what, i,
                       d);
    }
}

/* Compares two outcomes: the same status, the same error, and on success
 * the same result. */
static inline void fuzz_same_outcome(const char *what, enum api_status sa,
                                     const struct api_error *ea, const struct api_result *ra,
                                     enum api_status sb, const struct api_error *eb,
                                     const struct api_result *rb)
{
    FUZZ_CHECK(sa == sb, "%s: status %d vs %d (details \"%s\" / \"%s\")", what, (int)sa, (int)sb,
               ea->detail, eb->detail);
    FUZZ_CHECK(sa != API_INTERNAL_ERROR, "%s: internal_error: %s", what, ea->detail);
    if (sa != API_OK) {
        FUZZ_CHECK(ea->status == sa, "%s: returned %d but err holds %d", what, (int)sa,
                   (int)ea->status);
        fuzz_same_error(what, ea, eb);
    } else {
        FUZZ_CHECK(ea->status == API_OK && eb->status == API_OK, "%s: OK with an error set", what);
        fuzz_same_result(what, ra, rb);
    }
}

/* Decodes the body through api_body in the input's pieces (empty pieces
 * included), then feeds one more chunk after any error to check that the
 * error sticks. Returns the final status; *out owns the body. */
static inline enum api_status fuzz_body_pieces(enum api_format fmt, const struct fuzz_input *in,
                                               struct api_body **out, struct api_error *err)
{
    struct api_body *body = NULL;
    enum api_status st;
    size_t i, start = 0;

    struct api_decode_opts opts = {in->dtype, in->has_dtype, false, 0, NULL};

    api_error_init(err);
    st = api_body_new(fmt, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, err);
    *out = body;
    if (st != API_OK)
        return st;
    api_body_want_partial(body, true); /* every tensor's exact state, for the checks */
    for (i = 0; i <= in->ncuts; i++) {
        size_t end = i < in->ncuts ? in->cuts[i] : in->len;
        char *piece = fuzz_copy(in->body + start, end - start);
        enum api_status fst = api_body_feed(body, piece, end - start);

        free(piece);
        if (st == API_OK)
            st = fst;
        else
            FUZZ_CHECK(fst == st, "pieces: feed after an error returned %d, not %d", (int)fst,
                       (int)st);
        start = end;
    }
    {
        enum api_status fst = api_body_finish(body);
        if (st == API_OK)
            st = fst;
        else
            FUZZ_CHECK(fst == st, "pieces: finish after an error returned %d, not %d", (int)fst,
                       (int)st);
    }
    if (st != API_OK) {
        char extra[1] = {'0'};
        enum api_status again = api_body_feed(body, extra, 1);
        FUZZ_CHECK(again == st, "pieces: error not sticky (%d then %d)", (int)st, (int)again);
    }
    *err = *api_body_error(body);
    return st;
}

/* Runs one format's decoder (its ops, as api/body.c does: chunk offsets,
 * the body length at the end) over body whole (step 0) or step bytes at a
 * time, each piece copied to its own allocation; stops at the first error.
 * res is initialised here (float64) and must be freed by the caller. */
static inline enum api_status fuzz_run_ops(const struct api_decoder_ops *ops,
                                           const struct api_decode_opts *opts,
                                           struct api_result *res, const uint8_t *body, size_t len,
                                           size_t step, struct api_error *err)
{
    void *dec = NULL;
    enum api_status st;
    size_t pos = 0;

    api_result_init(res, L2_DTYPE_FLOAT64);
    res->count_nonfinite = opts->count_nonfinite;
    res->keep_exact = true; /* every tensor's exact state, for the checks */
    api_error_init(err);
    st = ops->create(res, opts, &dec, err);
    if (step == 0)
        step = len > 0 ? len : 1;
    while (st == API_OK && pos < len) {
        size_t n = len - pos < step ? len - pos : step;
        char *piece = fuzz_copy(body + pos, n);

        st = ops->feed(dec, (const unsigned char *)piece, n, pos, err);
        free(piece);
        pos += n;
    }
    if (st == API_OK)
        st = ops->finish(dec, len, err);
    ops->destroy(dec);
    return st;
}

/* Decodes the input with ops whole (step 0) or step bytes at a time, with
 * the options fuzz_body_pieces gives api_body. res must be freed by the
 * caller. */
static inline enum api_status fuzz_decode(const struct api_decoder_ops *ops,
                                          const struct fuzz_input *in, size_t step,
                                          struct api_result *res, struct api_error *err)
{
    struct api_decode_opts opts = {in->dtype, in->has_dtype, false, 0, NULL};

    return fuzz_run_ops(ops, &opts, res, in->body, in->len, step, err);
}

/* A format as fuzz_check_format checks it. */
struct fuzz_format {
    const char *name; /* in messages */
    enum api_format format;
    const struct api_decoder_ops *ops;
    /* Compares what fuzz_same_result leaves out of two successful results;
     * NULL when nothing. */
    void (*same)(const struct api_result *a, const struct api_result *b);
    /* The format's slow reference: checks the whole run's status st, its
     * error and its result against the input read another way. */
    void (*reference)(const struct fuzz_input *in, enum api_status st, const struct api_error *err,
                      const struct api_result *res);
};

/* Decodes the input the three ways this file's opening comment says: whole
 * by f's ops with the kernels impl_sel picks (fuzz_use_impl), in the
 * input's pieces through api_body with those of impl_sel >> 2, and byte by
 * byte when short; aborts unless all agree. Returns the status of the whole
 * run; *whole, *ew and *body hold its result, error and the pieces' body,
 * which the caller frees (api_result_free, api_body_free). */
static inline enum api_status fuzz_decode_three(const struct fuzz_format *f,
                                                const struct fuzz_input *in, unsigned impl_sel,
                                                struct api_result *whole, struct api_error *ew,
                                                struct api_body **body)
{
    struct api_result bytes;
    struct api_error ep, eb;
    enum api_status sw, sp, sb;
    char what[64];

    fuzz_use_impl(impl_sel);
    sw = fuzz_decode(f->ops, in, 0, whole, ew);
    fuzz_use_impl(impl_sel >> 2);
    sp = fuzz_body_pieces(f->format, in, body, &ep);
    snprintf(what, sizeof what, "%s whole vs pieces", f->name);
    fuzz_same_outcome(what, sw, ew, whole, sp, &ep, api_body_result(*body));
    if (sw == API_OK && f->same != NULL)
        f->same(whole, api_body_result(*body));
    if (in->len <= FUZZ_BYTEWISE_MAX) {
        sb = fuzz_decode(f->ops, in, 1, &bytes, &eb);
        snprintf(what, sizeof what, "%s whole vs bytes", f->name);
        fuzz_same_outcome(what, sw, ew, whole, sb, &eb, &bytes);
        if (sw == API_OK && f->same != NULL)
            f->same(whole, &bytes);
        api_result_free(&bytes);
    }
    return sw;
}

/* Checks one parsed input of format f: the three runs agree
 * (fuzz_decode_three) and the whole one passes f's reference. Aborts on a
 * broken invariant. */
static inline void fuzz_check_format(const struct fuzz_format *f, const struct fuzz_input *in,
                                     unsigned impl_sel)
{
    struct api_result whole;
    struct api_error ew;
    struct api_body *body = NULL;
    enum api_status sw;

    sw = fuzz_decode_three(f, in, impl_sel, &whole, &ew, &body);
    f->reference(in, sw, &ew, &whole);
    api_body_free(body);
    api_result_free(&whole);
}

/* One element of dtype at p, byte-swapped first when swap (big-endian). */
static inline double fuzz_load(enum l2_dtype dtype, const uint8_t *p, bool swap)
{
    unsigned char tmp[8];
    size_t size = l2_dtype_size(dtype);

    if (!swap)
        return l2_dtype_load_le(dtype, p);
    for (size_t k = 0; k < size; k++)
        tmp[k] = p[size - 1 - k];
    return l2_dtype_load_le(dtype, tmp);
}

/* The slow reference of a one-array body: its n elements of dtype at p
 * (byte-swapped when swap) loaded one by one and added to *ref with
 * l2_accum_add. At the first NaN or infinity, checks that the decoder
 * stopped there (status st non_finite, err at the same index) and returns
 * false; true when every element is finite. */
static inline bool fuzz_ref_elements(enum l2_dtype dtype, const uint8_t *p, size_t n, bool swap,
                                     enum api_status st, const struct api_error *err,
                                     struct l2_accum *ref)
{
    size_t size = l2_dtype_size(dtype);

    l2_accum_init(ref);
    for (size_t i = 0; i < n; i++) {
        double x = fuzz_load(dtype, p + i * size, swap);

        if (!isfinite(x)) {
            FUZZ_CHECK(st == API_NON_FINITE, "reference: element %zu is not finite, status %d", i,
                       (int)st);
            FUZZ_CHECK(err->index == (int64_t)i, "reference: non_finite at %zu, decoder says %lld",
                       i, (long long)err->index);
            return false;
        }
        FUZZ_CHECK(l2_accum_add(ref, x) == L2_OK, "reference: l2_accum_add refused %a", x);
    }
    return true;
}

/* True when s (len bytes) is valid UTF-8 (no surrogates, no overlongs). */
static inline bool fuzz_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        uint32_t cp;
        size_t n, k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

#endif
