/* raw_decode.c -- streaming decoder for raw little-endian tensor bodies.
 *
 * The body is nothing but elements: api_elements does the streaming (whole
 * elements straight from the chunk, a split one through an 8-byte carry);
 * this adds the first-error record, the length check and the shape. */
#include "raw_decode.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "elements.h"

struct api_raw_decoder {
    struct api_result *res;
    struct api_elements elems;
    char what[32];            /* "the float32 body", for details */
    uint64_t bytes;           /* bytes read */
    struct api_error failure; /* the first error; status API_OK until then */
};

struct api_raw_decoder *api_raw_new(struct api_result *res)
{
    struct api_raw_decoder *dec = calloc(1, sizeof *dec);

    if (dec == NULL)
        return NULL;
    dec->res = res;
    snprintf(dec->what, sizeof dec->what, "the %s body", l2_dtype_name(res->dtype));
    api_error_init(&dec->failure);
    /* little-endian: nothing to allocate, cannot fail */
    api_elements_init(&dec->elems, &res->total, res->dtype, false, dec->what, &dec->failure);
    return dec;
}

enum api_status api_raw_feed(struct api_raw_decoder *dec, const char *buf, size_t len,
                             struct api_error *err)
{
    if (dec->failure.status == API_OK) {
        dec->bytes += len;
        api_elements_feed(&dec->elems, (const unsigned char *)buf, len, &dec->failure);
    }
    return api_error_replay(&dec->failure, err);
}

enum api_status api_raw_finish(struct api_raw_decoder *dec, struct api_error *err)
{
    if (dec->failure.status != API_OK)
        return api_error_replay(&dec->failure, err);
    dec->res->ndim = 1;
    dec->res->shape[0] = dec->elems.count;
    if (dec->elems.carry_len != 0) {
        api_error_set(&dec->failure, API_INVALID_LENGTH,
                      "the body is %" PRIu64 " bytes, not a multiple of the %zu-byte %s element",
                      dec->bytes, dec->elems.elem_size, l2_dtype_name(dec->res->dtype));
        api_error_at_offset(&dec->failure, (int64_t)(dec->bytes - dec->elems.carry_len));
    }
    return api_error_replay(&dec->failure, err);
}

void api_raw_free(struct api_raw_decoder *dec)
{
    if (dec != NULL)
        api_elements_free(&dec->elems);
    free(dec);
}
