/* raw_decode.c -- streaming decoder for raw little-endian tensor bodies.
 *
 * Whole elements go to l2_accum_feed straight from the caller's chunk; only
 * an element split across two chunks is copied, into an 8-byte carry. The
 * decoder's memory is this struct, whatever the size of the body. */
#include "raw_decode.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct api_raw_decoder {
    struct api_result *res;
    size_t elem_size;         /* bytes per element of res->dtype */
    unsigned char carry[8];   /* the first bytes of a split element */
    size_t carry_len;         /* < elem_size */
    uint64_t count;           /* whole elements fed to the kernel */
    uint64_t bytes;           /* bytes read */
    struct api_error failure; /* the first error; status API_OK until then */
};

struct api_raw_decoder *api_raw_new(struct api_result *res)
{
    struct api_raw_decoder *dec = calloc(1, sizeof *dec);

    if (dec == NULL)
        return NULL;
    dec->res = res;
    dec->elem_size = l2_dtype_size(res->dtype);
    api_error_init(&dec->failure);
    return dec;
}

/* Hands the recorded failure to the caller (unless err already holds one). */
static enum api_status replay(const struct api_raw_decoder *dec, struct api_error *err)
{
    if (err != NULL && err->status == API_OK)
        *err = dec->failure;
    return dec->failure.status;
}

/* Feeds n whole elements at p; on a NaN or infinity records non_finite with
 * the element's index in the whole body. */
static enum api_status feed_elements(struct api_raw_decoder *dec, const void *p, size_t n)
{
    size_t bad = 0;

    if (n == 0)
        return API_OK;
    if (l2_accum_feed(&dec->res->total, dec->res->dtype, p, n, &bad) != L2_OK) {
        uint64_t index = dec->count + bad;

        api_error_set(&dec->failure, API_NON_FINITE,
                      "element %" PRIu64 " of the %s body is not finite (NaN or infinity)", index,
                      l2_dtype_name(dec->res->dtype));
        api_error_at_index(&dec->failure, (int64_t)index);
        return API_NON_FINITE;
    }
    dec->count += n;
    return API_OK;
}

enum api_status api_raw_feed(struct api_raw_decoder *dec, const char *buf, size_t len,
                             struct api_error *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t whole;

    if (dec->failure.status != API_OK)
        return replay(dec, err);
    if (len == 0) /* buf may be NULL then */
        return API_OK;
    dec->bytes += len;
    if (dec->carry_len > 0) {
        size_t take = dec->elem_size - dec->carry_len;

        if (take > len)
            take = len;
        memcpy(dec->carry + dec->carry_len, p, take);
        dec->carry_len += take;
        p += take;
        len -= take;
        if (dec->carry_len < dec->elem_size)
            return API_OK;
        dec->carry_len = 0;
        if (feed_elements(dec, dec->carry, 1) != API_OK)
            return replay(dec, err);
    }
    whole = len / dec->elem_size;
    if (feed_elements(dec, p, whole) != API_OK)
        return replay(dec, err);
    p += whole * dec->elem_size;
    len -= whole * dec->elem_size;
    memcpy(dec->carry, p, len);
    dec->carry_len = len;
    return API_OK;
}

enum api_status api_raw_finish(struct api_raw_decoder *dec, struct api_error *err)
{
    if (dec->failure.status != API_OK)
        return replay(dec, err);
    dec->res->ndim = 1;
    dec->res->shape[0] = dec->count;
    if (dec->carry_len != 0) {
        api_error_set(&dec->failure, API_INVALID_LENGTH,
                      "the body is %" PRIu64 " bytes, not a multiple of the %zu-byte %s element",
                      dec->bytes, dec->elem_size, l2_dtype_name(dec->res->dtype));
        api_error_at_offset(&dec->failure, (int64_t)(dec->bytes - dec->carry_len));
        return replay(dec, err);
    }
    return API_OK;
}

void api_raw_free(struct api_raw_decoder *dec)
{
    free(dec);
}
