/* decoder.h -- the interface every body format's decoder implements.
 *
 * api/body.c drives one decoder per request through this small ops table:
 * it owns the body offset and the first error, hands each decoder the offset
 * of the chunk it feeds, and stops feeding after the first error. A decoder
 * writes its error, with detail and position, into the err it is given, at
 * the spot that finds it. Adding a format is one row in format.h and one
 * file that defines its ops. */
#ifndef API_DECODER_H
#define API_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"

struct api_infer_request;

/* What the query says about decoding, checked by the format's create. */
struct api_decode_opts {
    enum l2_dtype dtype;             /* the dtype query parameter, when has_dtype */
    bool has_dtype;                  /* a dtype query parameter was sent */
    bool count_nonfinite;            /* ?nonfinite=count: NaN/Inf counted, not an error */
    uint64_t max_inflated;           /* bytes a decoder may inflate from the body (npz
                                      * members): payload_too_large past it; 0: no limit */
    struct api_infer_request *infer; /* an infer body's request (infer.h), filled
                                      * by its decoder; NULL for other formats */
};

struct api_decoder_ops {
    /* Checks opts against the format (a dtype the format forbids or needs
     * is an error set here) and makes a decoder that fills res (initialised
     * by the caller, owned by it, outliving the decoder; its
     * count_nonfinite is opts->count_nonfinite) in *out.
     * API_INTERNAL_ERROR when out of memory; *out is NULL on failure. */
    enum api_status (*create)(struct api_result *res, const struct api_decode_opts *opts,
                              void **out, struct api_error *err);
    /* Feeds len > 0 bytes whose first byte is at body offset `offset`. */
    enum api_status (*feed)(void *dec, const unsigned char *buf, size_t len, uint64_t offset,
                            struct api_error *err);
    /* Ends the body, which was `length` bytes long. On API_OK res is
     * complete. */
    enum api_status (*finish)(void *dec, uint64_t length, struct api_error *err);
    /* Frees the decoder (not the result). dec may be NULL. */
    void (*destroy)(void *dec);
};

#endif
