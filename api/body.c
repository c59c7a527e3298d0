/* body.c -- one request body, decoded as it streams, whatever its format.
 *
 * Drives the format's decoder (api/format.h) through its ops table, behind
 * an inflater when the body has a Content-Encoding: this file alone counts
 * the decoded bytes and keeps the first error, which decoders write where
 * they find it. */
#include "body.h"

#include <inttypes.h>
#include <stdlib.h>

struct api_body {
    enum api_format fmt;
    const struct api_decoder_ops *ops;
    void *dec;
    struct api_inflate *inflate; /* NULL without a Content-Encoding */
    uint64_t sent;               /* bytes as sent (encoded), when inflate is set */
    uint64_t offset;             /* decoded bytes so far: the offset of the next one */
    uint64_t max_bytes;          /* decoded bytes allowed */
    struct api_result res;
    struct api_error err; /* the first error; status API_OK until then */
};

enum api_status api_body_new(enum api_format fmt, const struct api_decode_opts *opts,
                             enum api_encoding enc, uint64_t max_bytes, struct api_body **out,
                             struct api_error *err)
{
    struct api_decode_opts local;
    struct api_body *body;
    enum api_status result = API_OK;

    *out = NULL;
    body = calloc(1, sizeof *body);
    if (body == NULL) {
        result = api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body decoder");
        goto out;
    }
    body->fmt = fmt;
    body->ops = api_format_ops(fmt);
    body->max_bytes = max_bytes;
    api_result_init(&body->res, L2_DTYPE_FLOAT64);
    body->res.count_nonfinite = opts->count_nonfinite;
    api_error_init(&body->err);
    if (enc != API_ENCODING_IDENTITY) {
        body->inflate = api_inflate_new(enc);
        if (body->inflate == NULL) {
            result = api_error_set(err, API_INTERNAL_ERROR, "out of memory for the inflater");
            goto out_free_body;
        }
    }
    local = *opts;
    local.max_inflated = max_bytes;
    result = body->ops->create(&body->res, &local, &body->dec, err);
    if (result != API_OK)
        goto out_free_inflate;
    *out = body;
    goto out;

out_free_inflate:
    api_inflate_free(body->inflate);
out_free_body:
    api_result_free(&body->res);
    free(body);
out:
    return result;
}

/* Hands len decoded bytes to the format's decoder, within the limit. */
static enum api_status decode(void *ctx, const unsigned char *buf, size_t len)
{
    struct api_body *body = ctx;
    uint64_t offset = body->offset;

    body->offset += len;
    if (body->offset > body->max_bytes)
        return api_error_set(&body->err, API_PAYLOAD_TOO_LARGE,
                             "the %sbody exceeds the limit of %" PRIu64 " bytes",
                             body->inflate != NULL ? "decoded " : "", body->max_bytes);
    return body->ops->feed(body->dec, buf, len, offset, &body->err);
}

enum api_status api_body_feed(struct api_body *body, const void *buf, size_t len)
{
    uint64_t sent = body->sent;

    if (body->err.status != API_OK || len == 0)
        return body->err.status;
    if (body->inflate == NULL)
        return decode(body, buf, len);
    body->sent += len;
    return api_inflate_feed(body->inflate, buf, len, sent, decode, body, &body->err);
}

enum api_status api_body_finish(struct api_body *body)
{
    if (body->err.status != API_OK)
        return body->err.status;
    if (body->inflate != NULL &&
        api_inflate_finish(body->inflate, body->sent, &body->err) != API_OK)
        return body->err.status;
    return body->ops->finish(body->dec, body->offset, &body->err);
}

const struct api_error *api_body_error(const struct api_body *body)
{
    return &body->err;
}

const struct api_result *api_body_result(const struct api_body *body)
{
    return &body->res;
}

void api_body_want_partial(struct api_body *body, bool partial)
{
    body->res.want_partial = partial;
    body->res.keep_exact = body->res.keep_exact || partial;
}

enum api_format api_body_format(const struct api_body *body)
{
    return body->fmt;
}

void api_body_free(struct api_body *body)
{
    if (body == NULL)
        return;
    body->ops->destroy(body->dec);
    api_inflate_free(body->inflate);
    api_result_free(&body->res);
    free(body);
}
