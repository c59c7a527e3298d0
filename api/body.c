/* body.c -- one streaming body decoder over the three wire formats.
 *
 * Picks the format from Content-Type, checks the dtype query against it, and
 * forwards every chunk to the JSON, raw or .npy decoder, which fills the
 * result this struct owns. The first error is kept and replayed. */
#include "body.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_decode.h"
#include "npy_decode.h"
#include "raw_decode.h"

#define CT_ECHO_MAX 64 /* bytes of an unsupported media type quoted back */

struct api_body {
    enum api_format fmt;
    struct api_result res;
    union {
        void *json; /* api_json_ops */
        struct api_raw_decoder *raw;
        struct api_npy_decoder *npy;
    } dec;
    uint64_t bytes;
    struct api_error failure; /* the first error; status API_OK until then */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

enum api_status api_content_type_parse(const char *content_type, enum api_format *out,
                                       struct api_error *err)
{
    static const struct {
        const char *name;
        enum api_format fmt;
    } types[] = {
        {"application/json", API_FORMAT_JSON},
        {"application/octet-stream", API_FORMAT_RAW},
        {"application/x-npy", API_FORMAT_NPY},
    };
    const char *start;
    const char *end;
    size_t len;
    size_t i;
    char shown[CT_ECHO_MAX + 4];

    if (content_type == NULL) {
        *out = API_FORMAT_JSON;
        return API_OK;
    }
    start = content_type;
    while (is_space(*start))
        start++;
    end = start;
    while (*end != '\0' && *end != ';')
        end++;
    while (end > start && is_space(end[-1]))
        end--;
    len = (size_t)(end - start);
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (len == strlen(types[i].name) && strncasecmp(start, types[i].name, len) == 0) {
            *out = types[i].fmt;
            return API_OK;
        }
    }
    for (i = 0; i < len && i < CT_ECHO_MAX; i++) {
        unsigned char c = (unsigned char)start[i];

        shown[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (i < len) {
        memcpy(shown + i, "...", 3);
        i += 3;
    }
    shown[i] = '\0';
    return api_error_set(err, API_UNSUPPORTED_MEDIA_TYPE,
                         "unsupported Content-Type '%s': send application/json, "
                         "application/octet-stream or application/x-npy",
                         shown);
}

enum api_status api_body_new(enum api_format fmt, bool has_dtype, enum l2_dtype dtype,
                             struct api_body **out, struct api_error *err)
{
    struct api_body *body = NULL;
    enum api_status result = API_OK;
    struct api_decode_opts json_opts = {.dtype = dtype, .has_dtype = has_dtype};

    *out = NULL;
    if (fmt == API_FORMAT_RAW && !has_dtype) {
        result = api_error_set(err, API_INVALID_DTYPE,
                               "a dtype query parameter (float16, bfloat16, float32 or float64) "
                               "is required for application/octet-stream bodies");
        goto out;
    }
    if (fmt == API_FORMAT_NPY && has_dtype) {
        result = api_error_set(err, API_INVALID_NPY,
                               "the dtype comes from the .npy header; remove the dtype query "
                               "parameter");
        goto out;
    }
    body = calloc(1, sizeof *body);
    if (body == NULL)
        goto out_nomem;
    body->fmt = fmt;
    api_result_init(&body->res, has_dtype ? dtype : L2_DTYPE_FLOAT64);
    api_error_init(&body->failure);
    switch (fmt) {
    case API_FORMAT_JSON:
        if (api_json_ops.create(&body->res, &json_opts, &body->dec.json, err) != API_OK)
            goto out_free_body; /* out of memory, its only failure */
        break;
    case API_FORMAT_RAW:
        body->dec.raw = api_raw_new(&body->res);
        if (body->dec.raw == NULL)
            goto out_free_body;
        break;
    case API_FORMAT_NPY:
        body->dec.npy = api_npy_new(&body->res);
        if (body->dec.npy == NULL)
            goto out_free_body;
        break;
    }
    *out = body;
    goto out;

out_free_body:
    api_result_free(&body->res);
    free(body);
out_nomem:
    result = api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body decoder");
out:
    return result;
}

enum api_status api_body_feed(struct api_body *body, const char *buf, size_t len,
                              struct api_error *err)
{
    enum api_status st = API_OK;

    body->bytes += len;
    if (body->failure.status != API_OK)
        return api_error_replay(&body->failure, err);
    if (len == 0) /* buf may be NULL then */
        return API_OK;
    switch (body->fmt) {
    case API_FORMAT_JSON:
        st = api_json_ops.feed(body->dec.json, (const unsigned char *)buf, len, body->bytes - len,
                               &body->failure);
        break;
    case API_FORMAT_RAW:
        st = api_raw_feed(body->dec.raw, buf, len, &body->failure);
        break;
    case API_FORMAT_NPY:
        st = api_npy_feed(body->dec.npy, buf, len, &body->failure);
        break;
    }
    if (st != API_OK) {
        /* A decoder that returned an error without describing it still
         * leaves a coherent record behind. */
        api_error_set(&body->failure, st, "%s", api_status_code(st));
        return api_error_replay(&body->failure, err);
    }
    return API_OK;
}

enum api_status api_body_finish(struct api_body *body, struct api_error *err)
{
    enum api_status st = API_OK;

    if (body->failure.status != API_OK)
        return api_error_replay(&body->failure, err);
    switch (body->fmt) {
    case API_FORMAT_JSON:
        st = api_json_ops.finish(body->dec.json, body->bytes, &body->failure);
        break;
    case API_FORMAT_RAW:
        st = api_raw_finish(body->dec.raw, &body->failure);
        break;
    case API_FORMAT_NPY:
        st = api_npy_finish(body->dec.npy, &body->failure);
        break;
    }
    if (st != API_OK) {
        api_error_set(&body->failure, st, "%s", api_status_code(st));
        return api_error_replay(&body->failure, err);
    }
    return API_OK;
}

const struct api_result *api_body_result(const struct api_body *body)
{
    return &body->res;
}

uint64_t api_body_bytes(const struct api_body *body)
{
    return body->bytes;
}

void api_body_free(struct api_body *body)
{
    if (body == NULL)
        return;
    switch (body->fmt) {
    case API_FORMAT_JSON:
        api_json_ops.destroy(body->dec.json);
        break;
    case API_FORMAT_RAW:
        api_raw_free(body->dec.raw);
        break;
    case API_FORMAT_NPY:
        api_npy_free(body->dec.npy);
        break;
    }
    api_result_free(&body->res);
    free(body);
}
