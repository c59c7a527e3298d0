/* encoding.h -- Content-Encoding of a request body: gzip and deflate,
 * inflated as the body streams (zlib), so a body of any size is decoded in
 * constant memory.
 *
 * api/body.c puts an inflater in front of the format's decoder when the
 * request has a coding; the decoder sees only decoded bytes. */
#ifndef API_ENCODING_H
#define API_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum api_encoding {
    API_ENCODING_IDENTITY, /* none, or "identity" */
    API_ENCODING_GZIP,     /* "gzip" or "x-gzip": RFC 1952, several members allowed */
    API_ENCODING_DEFLATE,  /* "deflate": the zlib format of RFC 1950 */
};

/* Decoded bytes produced per call of the sink. */
#define API_INFLATE_CHUNK 65536

/* Parses a Content-Encoding header value (NULL when absent) into *out,
 * which holds the coding of the request's earlier Content-Encoding fields
 * (API_ENCODING_IDENTITY before the first): codings are case-insensitive
 * and comma-separated; "identity" is no coding. More than one coding, or
 * any other one, is API_UNSUPPORTED_ENCODING with a detail naming the
 * accepted ones; *out is then unspecified. */
enum api_status api_encoding_parse(const char *value, enum api_encoding *out,
                                   struct api_error *err);

/* The name of enc as sent ("gzip", "deflate", "identity"). Static storage. */
const char *api_encoding_name(enum api_encoding enc);

/* Where decoded bytes go: returns API_OK to go on, or a status (with its
 * error already recorded by the sink) to stop. */
typedef enum api_status (*api_inflate_sink)(void *ctx, const unsigned char *buf, size_t len);

struct api_inflate;

/* An inflater for enc (gzip or deflate). NULL when out of memory. */
struct api_inflate *api_inflate_new(enum api_encoding enc);

/* Inflates len bytes of the encoded body, whose first byte is at offset
 * `offset` of the body as sent, and hands every decoded piece (at most
 * API_INFLATE_CHUNK bytes) to sink in order. A corrupt stream, or bytes
 * after its end, is API_INVALID_ENCODING with the offset of the encoded
 * byte where it was found, recorded in err after the sink has had every
 * byte decoded before it (so an element error in those bytes wins). A
 * sink's status stops inflation and is returned. */
enum api_status api_inflate_feed(struct api_inflate *inf, const unsigned char *buf, size_t len,
                                 uint64_t offset, api_inflate_sink sink, void *ctx,
                                 struct api_error *err);

/* Ends the encoded body of `length` bytes: API_INVALID_ENCODING (offset =
 * length) when the stream is incomplete. */
enum api_status api_inflate_finish(struct api_inflate *inf, uint64_t length, struct api_error *err);

/* Frees inf. inf may be NULL. */
void api_inflate_free(struct api_inflate *inf);

#endif
