/* elements.c -- fixed-size elements from a byte stream into the kernel,
 * and the application/octet-stream format built on them (whose first bytes
 * are checked for a file's header before they are taken as values). */
#include "elements.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"

enum api_status api_elements_init(struct api_elements *s, struct l2_accum *acc, enum l2_dtype dtype,
                                  bool big_endian, const char *what, struct api_error *err)
{
    memset(s, 0, sizeof *s);
    s->acc = acc;
    s->dtype = dtype;
    s->elem_size = l2_dtype_size(dtype);
    s->what = what;
    if (big_endian && s->elem_size > 1) {
        s->swapped = malloc(API_ELEMENTS_SWAP_BLOCK);
        if (s->swapped == NULL)
            return api_error_set(err, API_INTERNAL_ERROR, "out of memory for a byte-swap buffer");
    }
    return API_OK;
}

/* Reverses the bytes of each of n elements of size `size` from src to dst,
 * eight bytes at a time: 2-byte lanes by a mask-and-shift, 4-byte lanes by
 * one 64-bit swap and a rotation. */
static void byte_swap(unsigned char *dst, const unsigned char *src, size_t n, size_t size)
{
    size_t bytes = n * size;
    size_t i = 0;
    uint64_t v;

    for (; i + 8 <= bytes; i += 8) {
        memcpy(&v, src + i, 8);
        if (size == 2)
            v = (v & 0x00ff00ff00ff00ffu) << 8 | (v >> 8 & 0x00ff00ff00ff00ffu);
        else
            v = __builtin_bswap64(v);
        if (size == 4)
            v = v >> 32 | v << 32;
        memcpy(dst + i, &v, 8);
    }
    for (; i < bytes; i += size) { /* a last 2- or 4-byte element or three */
        for (size_t k = 0; k < size; k++)
            dst[i + k] = src[i + size - 1 - k];
    }
}

/* Feeds n whole little-endian elements. */
static enum api_status feed_le(struct api_elements *s, const unsigned char *p, size_t n,
                               struct api_error *err)
{
    size_t bad = 0;

    if (n == 0)
        return API_OK;
    if (s->count_nonfinite) {
        l2_accum_feed_counting(s->acc, s->dtype, p, n);
    } else if (l2_accum_feed_stream(s->acc, &s->stream, s->dtype, p, n, &bad) != L2_OK) {
        uint64_t index = s->count + bad;

        api_error_set(err, API_NON_FINITE,
                      "element %" PRIu64 " of %s is not finite (NaN or infinity)", index, s->what);
        api_error_at_index(err, (int64_t)index);
        return API_NON_FINITE;
    }
    s->count += n;
    return API_OK;
}

/* Feeds n whole elements in stream byte order. */
static enum api_status feed_whole(struct api_elements *s, const unsigned char *p, size_t n,
                                  struct api_error *err)
{
    size_t per_block = API_ELEMENTS_SWAP_BLOCK / s->elem_size;

    if (s->swapped == NULL)
        return feed_le(s, p, n, err);
    while (n > 0) {
        size_t m = n < per_block ? n : per_block;

        byte_swap(s->swapped, p, m, s->elem_size);
        if (feed_le(s, s->swapped, m, err) != API_OK)
            return API_NON_FINITE;
        p += m * s->elem_size;
        n -= m;
    }
    return API_OK;
}

enum api_status api_elements_feed(struct api_elements *s, const unsigned char *p, size_t len,
                                  struct api_error *err)
{
    size_t whole;

    if (len == 0) /* p may be NULL then */
        return API_OK;
    if (s->carry_len > 0) {
        size_t take = s->elem_size - s->carry_len;

        if (take > len)
            take = len;
        memcpy(s->carry + s->carry_len, p, take);
        s->carry_len += take;
        p += take;
        len -= take;
        if (s->carry_len < s->elem_size)
            return API_OK;
        s->carry_len = 0;
        if (feed_whole(s, s->carry, 1, err) != API_OK)
            return API_NON_FINITE;
    }
    whole = len / s->elem_size;
    if (feed_whole(s, p, whole, err) != API_OK)
        return API_NON_FINITE;
    p += whole * s->elem_size;
    len -= whole * s->elem_size;
    memcpy(s->carry, p, len);
    s->carry_len = len;
    return API_OK;
}

void api_elements_free(struct api_elements *s)
{
    if (s == NULL)
        return;
    free(s->swapped);
    s->swapped = NULL;
}

/* ---- application/octet-stream: a body that is nothing but elements ------ */

struct raw_decoder {
    struct api_result *res;
    struct api_elements elems;
    char what[32]; /* "the float32 body", for details */
    /* The first bytes, held back while they may be a file's header
     * (api/sniff.h), until the first verdict that is not MORE. */
    unsigned char head[16]; /* the first bytes, while need fits */
    unsigned char *held;    /* head, or a heap buffer of need bytes; NULL once decided */
    size_t held_len, need;
};

static enum api_status raw_create(struct api_result *res, const struct api_decode_opts *opts,
                                  void **out, struct api_error *err)
{
    struct raw_decoder *dec;

    *out = NULL;
    if (!opts->has_dtype)
        return api_error_set(err, API_INVALID_DTYPE,
                             "a dtype query parameter (float16, bfloat16, float32 or float64) "
                             "is required for application/octet-stream bodies");
    dec = calloc(1, sizeof *dec);
    if (dec == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body decoder");
    dec->res = res;
    res->dtype = opts->dtype;
    snprintf(dec->what, sizeof dec->what, "the %s body", l2_dtype_name(res->dtype));
    /* little-endian: nothing to allocate, cannot fail */
    api_elements_init(&dec->elems, &res->total, res->dtype, false, dec->what, err);
    dec->elems.count_nonfinite = opts->count_nonfinite;
    dec->held = dec->head;
    dec->need = sizeof dec->head;
    *out = dec;
    return API_OK;
}

/* Ends sniffing on verdict v: a file is format_mismatch, anything else
 * hands the held bytes on as data. */
static enum api_status sniffed(struct raw_decoder *dec, enum api_sniff_verdict v,
                               struct api_error *err)
{
    enum api_status st = API_OK;

    if (v == API_SNIFF_NPY || v == API_SNIFF_SAFETENSORS) {
        api_error_set(err, API_FORMAT_MISMATCH,
                      "this body is a%s file, not raw values: send it with Content-Type: %s "
                      "(and no dtype parameter)",
                      v == API_SNIFF_NPY ? " NumPy .npy" : " safetensors", api_sniff_media_type(v));
        api_error_at_offset(err, 0);
        st = API_FORMAT_MISMATCH;
    } else {
        st = api_elements_feed(&dec->elems, dec->held, dec->held_len, err);
    }
    if (dec->held != dec->head)
        free(dec->held);
    dec->held = NULL;
    return st;
}

/* Holds the body's first bytes until api_sniff decides; *taken is how many
 * of buf[0..len) were held. */
static enum api_status sniff(struct raw_decoder *dec, const unsigned char *buf, size_t len,
                             size_t *taken, struct api_error *err)
{
    enum api_sniff_verdict v;

    *taken = 0;
    for (;;) {
        size_t room = dec->need - dec->held_len, want = dec->need;
        size_t take = len - *taken < room ? len - *taken : room;

        memcpy(dec->held + dec->held_len, buf + *taken, take);
        dec->held_len += take;
        *taken += take;
        v = api_sniff(dec->held, dec->held_len, &want);
        if (v != API_SNIFF_MORE)
            return sniffed(dec, v, err);
        if (*taken == len)
            return API_OK;
        if (want > dec->need) { /* a safetensors header may follow: hold it whole */
            unsigned char *grown = malloc(want);

            if (grown == NULL)
                return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body start");
            memcpy(grown, dec->held, dec->held_len);
            if (dec->held != dec->head)
                free(dec->held);
            dec->held = grown;
            dec->need = want;
        }
    }
}

static enum api_status raw_feed(void *p, const unsigned char *buf, size_t len, uint64_t offset,
                                struct api_error *err)
{
    struct raw_decoder *dec = p;
    size_t taken = 0;

    (void)offset; /* errors are located by element index */
    if (dec->held != NULL) {
        enum api_status st = sniff(dec, buf, len, &taken, err);

        if (st != API_OK || taken == len)
            return st;
    }
    return api_elements_feed(&dec->elems, buf + taken, len - taken, err);
}

static enum api_status raw_finish(void *p, uint64_t length, struct api_error *err)
{
    struct raw_decoder *dec = p;
    size_t want;

    if (dec->held != NULL) {
        enum api_sniff_verdict v = api_sniff(dec->held, dec->held_len, &want);

        if (sniffed(dec, v == API_SNIFF_MORE ? API_SNIFF_NONE : v, err) != API_OK)
            return err->status;
    }

    dec->res->ndim = 1;
    dec->res->shape[0] = dec->elems.count;
    if (dec->elems.carry_len == 0)
        return API_OK;
    api_error_set(err, API_INVALID_LENGTH,
                  "the body is %" PRIu64 " bytes, not a multiple of the %zu-byte %s element",
                  length, dec->elems.elem_size, l2_dtype_name(dec->res->dtype));
    api_error_at_offset(err, (int64_t)(length - dec->elems.carry_len));
    return API_INVALID_LENGTH;
}

static void raw_destroy(void *p)
{
    struct raw_decoder *dec = p;

    if (dec != NULL) {
        api_elements_free(&dec->elems);
        if (dec->held != dec->head)
            free(dec->held);
    }
    free(dec);
}

const struct api_decoder_ops api_raw_ops = {raw_create, raw_feed, raw_finish, raw_destroy};
