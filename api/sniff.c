/* sniff.c -- .npy and safetensors files recognized by their first bytes.
 *
 * The .npy magic is six bytes. A safetensors file is only taken for one
 * when its whole header is there and the safetensors decoder accepts it,
 * so raw values that happen to start like a length and a '{' stay data. */
#include "sniff.h"

#include <stdint.h>
#include <string.h>

#include "npy_decode.h"
#include "safetensors_decode.h"

#define SNIFF_ST_LENGTH 8 /* the safetensors header length, little-endian */

static bool json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* True when the safetensors decoder reads head[0..len) as a whole header. */
static bool safetensors_header_ok(const unsigned char *head, size_t len)
{
    const struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
    struct api_result res;
    struct api_error err;
    void *dec = NULL;
    enum api_status st;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    api_error_init(&err);
    st = api_safetensors_ops.create(&res, &opts, &dec, &err);
    if (st == API_OK)
        st = api_safetensors_ops.feed(dec, head, len, 0, &err);
    api_safetensors_ops.destroy(dec);
    api_result_free(&res);
    return st == API_OK;
}

enum api_sniff_verdict api_sniff(const unsigned char *head, size_t len, size_t *need)
{
    uint64_t header = 0;

    if (len >= API_NPY_MAGIC_LEN && memcmp(head, API_NPY_MAGIC, API_NPY_MAGIC_LEN) == 0)
        return API_SNIFF_NPY;
    if (len < SNIFF_ST_LENGTH + 1) {
        *need = SNIFF_ST_LENGTH + 1; /* enough for either file's first check */
        return API_SNIFF_MORE;
    }
    for (int i = SNIFF_ST_LENGTH - 1; i >= 0; i--)
        header = header << 8 | head[i];
    if (header < 2 || header > API_SAFETENSORS_MAX_HEADER ||
        (head[SNIFF_ST_LENGTH] != '{' && !json_space(head[SNIFF_ST_LENGTH])))
        return API_SNIFF_NONE;
    if (len < SNIFF_ST_LENGTH + header) {
        *need = SNIFF_ST_LENGTH + (size_t)header;
        return API_SNIFF_MORE;
    }
    return safetensors_header_ok(head, SNIFF_ST_LENGTH + (size_t)header) ? API_SNIFF_SAFETENSORS
                                                                         : API_SNIFF_NONE;
}

const char *api_sniff_media_type(enum api_sniff_verdict v)
{
    switch (v) {
    case API_SNIFF_NPY:
        return "application/x-npy";
    case API_SNIFF_SAFETENSORS:
        return "application/x-safetensors";
    default:
        return NULL;
    }
}
