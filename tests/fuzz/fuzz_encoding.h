/* fuzz_encoding.h -- the Content-Encoding harness body (fuzz_encoding.c;
 * replayed by the unit tests).
 *
 * Input: the header of fuzz_common.h (dtype in bits 0-1 of byte 0; bit 3
 * picks deflate over gzip), then a compressed stream, sent as a raw body
 * with that Content-Encoding and a 1 MiB decoded limit. It is decoded
 * whole, in the fuzzer's pieces and (when short) byte by byte: the three
 * outcomes must be identical. A reference then inflates the stream with
 * zlib in one call (gzip members one after another) and decodes the
 * plain bytes as a raw body without coding: on a complete stream that
 * decodes to the same status, error and bits; on a broken one, the plain
 * bytes before the break either hold the first error, or the answer is
 * invalid_encoding; past 1 MiB of plain bytes, payload_too_large. */
#ifndef FUZZ_ENCODING_H
#define FUZZ_ENCODING_H

#include <zlib.h>

#include "fuzz_common.h"

#define FUZZ_ENC_LIMIT ((size_t)1 << 20)

/* Decodes in->body sent with enc, in pieces ending at in->cuts (ncuts 0:
 * whole), or step bytes at a time when step > 0. *out owns the body. */
static enum api_status enc_decode(const struct fuzz_input *in, enum api_encoding enc, size_t step,
                                  struct api_body **out, struct api_error *err)
{
    struct api_decode_opts opts = {in->dtype, true, false, 0, NULL};
    enum api_status st;
    size_t start = 0, i = 0;

    api_error_init(err);
    st = api_body_new(API_FORMAT_RAW, &opts, enc, FUZZ_ENC_LIMIT, out, err);
    FUZZ_CHECK(st == API_OK, "api_body_new: %s", err->detail);
    while (start < in->len) {
        size_t end = step > 0        ? (in->len - start < step ? in->len : start + step)
                     : i < in->ncuts ? in->cuts[i++]
                                     : in->len;
        char *piece = fuzz_copy(in->body + start, end - start);

        api_body_feed(*out, piece, end - start);
        free(piece);
        start = end;
    }
    st = api_body_finish(*out);
    *err = *api_body_error(*out);
    return st;
}

/* zlib's one-call inflate of the whole stream into plain[0..cap): returns
 * the plain length (at most cap + 1: more than cap means "too long"), and
 * *complete when the stream (every gzip member) ended exactly at its end. */
static size_t enc_reference_inflate(const uint8_t *z, size_t n, enum api_encoding enc,
                                    unsigned char *plain, size_t cap, bool *complete)
{
    z_stream zs;
    size_t out = 0;
    int r = Z_OK;

    memset(&zs, 0, sizeof zs);
    inflateInit2(&zs, enc == API_ENCODING_GZIP ? 31 : 15);
    zs.next_in = (unsigned char *)z;
    zs.avail_in = (uInt)n;
    *complete = false;
    for (;;) {
        zs.next_out = plain + out;
        zs.avail_out = (uInt)(cap + 1 - out);
        r = inflate(&zs, Z_FINISH);
        out = cap + 1 - zs.avail_out;
        if (r != Z_STREAM_END || out > cap)
            break;
        if (zs.avail_in == 0) {
            *complete = true;
            break;
        }
        if (enc != API_ENCODING_GZIP)
            break; /* bytes after the stream */
        inflateReset(&zs);
    }
    inflateEnd(&zs);
    return out;
}

static void enc_reference(const struct fuzz_input *in, enum api_encoding enc, enum api_status st,
                          const struct api_error *err, const struct api_result *res)
{
    static unsigned char plain[FUZZ_ENC_LIMIT + 1];
    struct api_decode_opts opts = {in->dtype, true, false, 0, NULL};
    struct api_body *ref = NULL;
    struct api_error rerr;
    bool complete;
    size_t n = enc_reference_inflate(in->body, in->len, enc, plain, FUZZ_ENC_LIMIT, &complete);
    enum api_status rst;

    api_error_init(&rerr);
    api_body_new(API_FORMAT_RAW, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &ref, &rerr);
    rst = api_body_feed(ref, plain, n > FUZZ_ENC_LIMIT ? FUZZ_ENC_LIMIT : n);
    if (rst == API_OK && complete && n <= FUZZ_ENC_LIMIT)
        rst = api_body_finish(ref);
    if (rst != API_OK) {
        FUZZ_CHECK(st == rst, "reference: %s (%s), decoder %s (%s)", api_status_code(rst),
                   api_body_error(ref)->detail, api_status_code(st), err->detail);
        fuzz_same_error("reference", err, api_body_error(ref));
    } else if (n > FUZZ_ENC_LIMIT) {
        FUZZ_CHECK(st == API_PAYLOAD_TOO_LARGE, "reference: over the limit, decoder %s (%s)",
                   api_status_code(st), err->detail);
    } else if (!complete) {
        FUZZ_CHECK(st == API_INVALID_ENCODING, "reference: broken stream, decoder %s (%s)",
                   api_status_code(st), err->detail);
    } else {
        FUZZ_CHECK(st == API_OK, "reference: ok, decoder %s (%s)", api_status_code(st),
                   err->detail);
        fuzz_same_result("reference", res, api_body_result(ref));
    }
    api_body_free(ref);
}

static void encoding_check(const uint8_t *data, size_t size)
{
    struct fuzz_input in;
    struct fuzz_input whole_in;
    struct api_body *whole = NULL, *pieces = NULL, *bytes = NULL;
    struct api_error ew, ep, eb;
    enum api_status sw, sp, sb;
    enum api_encoding enc;

    if (!fuzz_input_parse(data, size, &in))
        return;
    enc = (data[0] & 8) ? API_ENCODING_DEFLATE : API_ENCODING_GZIP;
    whole_in = in;
    whole_in.ncuts = 0;
    sw = enc_decode(&whole_in, enc, 0, &whole, &ew);
    sp = enc_decode(&in, enc, 0, &pieces, &ep);
    fuzz_same_outcome("encoding whole vs pieces", sw, &ew, api_body_result(whole), sp, &ep,
                      api_body_result(pieces));
    if (in.len <= FUZZ_BYTEWISE_MAX) {
        sb = enc_decode(&in, enc, 1, &bytes, &eb);
        fuzz_same_outcome("encoding whole vs bytes", sw, &ew, api_body_result(whole), sb, &eb,
                          api_body_result(bytes));
        api_body_free(bytes);
    }
    enc_reference(&in, enc, sw, &ew, api_body_result(whole));
    api_body_free(pieces);
    api_body_free(whole);
}

#endif
