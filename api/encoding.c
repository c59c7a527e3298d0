/* encoding.c -- Content-Encoding parsing and streaming inflation (zlib).
 *
 * zlib's inflate does the work (no hand-written inflate); this file maps
 * its results onto api_error values and hands the decoded bytes on in
 * bounded pieces, so memory stays one window plus one output chunk. */
#include "encoding.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "text.h"

#define ENCODING_ECHO_MAX 64 /* bytes of an unsupported coding quoted back */

struct api_inflate {
    z_stream zs;
    enum api_encoding enc;
    bool ended; /* the current stream (gzip member) is complete */
    unsigned char out[API_INFLATE_CHUNK];
};

static const char *const names[] = {
    [API_ENCODING_IDENTITY] = "identity",
    [API_ENCODING_GZIP] = "gzip",
    [API_ENCODING_DEFLATE] = "deflate",
};

const char *api_encoding_name(enum api_encoding enc)
{
    return (unsigned)enc < sizeof names / sizeof names[0] ? names[enc] : "identity";
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The coding named by s[0..len), or false. */
static bool lookup(const char *s, size_t len, enum api_encoding *out)
{
    static const struct {
        const char *name;
        enum api_encoding enc;
    } codings[] = {
        {"identity", API_ENCODING_IDENTITY},
        {"gzip", API_ENCODING_GZIP},
        {"x-gzip", API_ENCODING_GZIP},
        {"deflate", API_ENCODING_DEFLATE},
    };

    for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++) {
        if (strlen(codings[i].name) == len && strncasecmp(s, codings[i].name, len) == 0) {
            *out = codings[i].enc;
            return true;
        }
    }
    return false;
}

/* Records unsupported_encoding for the token s[0..len). */
static enum api_status unsupported(const char *s, size_t len, struct api_error *err)
{
    char shown[ENCODING_ECHO_MAX + 4];

    api_text_echo(shown, sizeof shown, s, len, ENCODING_ECHO_MAX, API_TEXT_ECHO_MASK);
    return api_error_set(err, API_UNSUPPORTED_ENCODING,
                         "unsupported Content-Encoding '%s': send the body as is, or with one "
                         "of gzip, x-gzip or deflate",
                         shown);
}

enum api_status api_encoding_parse(const char *value, enum api_encoding *out, struct api_error *err)
{
    enum api_encoding found = *out;
    const char *p = value;

    if (value == NULL)
        return API_OK;
    for (;;) {
        const char *start, *end;
        enum api_encoding enc;

        while (is_ows(*p))
            p++;
        start = p;
        while (*p != '\0' && *p != ',')
            p++;
        end = p;
        while (end > start && is_ows(end[-1]))
            end--;
        if (end > start) {
            if (!lookup(start, (size_t)(end - start), &enc))
                return unsupported(start, (size_t)(end - start), err);
            if (enc != API_ENCODING_IDENTITY && found != API_ENCODING_IDENTITY)
                return api_error_set(err, API_UNSUPPORTED_ENCODING,
                                     "more than one Content-Encoding: l2d decodes one of gzip, "
                                     "x-gzip or deflate");
            if (enc != API_ENCODING_IDENTITY)
                found = enc;
        }
        if (*p == '\0')
            break;
        p++;
    }
    *out = found;
    return API_OK;
}

struct api_inflate *api_inflate_new(enum api_encoding enc)
{
    struct api_inflate *inf = calloc(1, sizeof *inf);

    if (inf == NULL)
        return NULL;
    inf->enc = enc;
    /* 15: the largest window; +16: gzip framing only */
    if (inflateInit2(&inf->zs, enc == API_ENCODING_GZIP ? 15 + 16 : 15) != Z_OK) {
        free(inf);
        return NULL;
    }
    return inf;
}

/* Records invalid_encoding at body offset `at`. */
static enum api_status corrupt(const struct api_inflate *inf, uint64_t at, const char *why,
                               struct api_error *err)
{
    api_error_set(err, API_INVALID_ENCODING, "the %s body is corrupt: %s",
                  api_encoding_name(inf->enc), why);
    api_error_at_offset(err, (int64_t)at);
    return API_INVALID_ENCODING;
}

enum api_status api_inflate_feed(struct api_inflate *inf, const unsigned char *buf, size_t len,
                                 uint64_t offset, api_inflate_sink sink, void *ctx,
                                 struct api_error *err)
{
    z_stream *zs = &inf->zs;
    enum api_status st = API_OK;
    size_t pos = 0; /* bytes of buf taken by zlib */

    for (;;) {
        size_t rest = len - pos, produced;
        uInt given;
        int r;

        if (inf->ended) {
            if (rest == 0)
                break;
            if (inf->enc != API_ENCODING_GZIP) {
                st =
                    corrupt(inf, offset + pos, "bytes after the end of the compressed stream", err);
                break;
            }
            inflateReset(zs); /* the next gzip member */
            inf->ended = false;
        }
        given = rest > UINT32_MAX ? UINT32_MAX : (uInt)rest;
        zs->next_in = (unsigned char *)buf + pos; /* zlib's API is not const */
        zs->avail_in = given;
        zs->next_out = inf->out;
        zs->avail_out = sizeof inf->out;
        r = inflate(zs, Z_NO_FLUSH);
        pos += given - zs->avail_in;
        produced = sizeof inf->out - zs->avail_out;
        if (produced > 0 && (st = sink(ctx, inf->out, produced)) != API_OK)
            break;
        if (r == Z_STREAM_END) {
            inf->ended = true;
        } else if (r == Z_DATA_ERROR || r == Z_NEED_DICT) {
            st = corrupt(inf, offset + pos, zs->msg != NULL ? zs->msg : "invalid compressed data",
                         err);
            break;
        } else if (r == Z_MEM_ERROR) {
            st = api_error_set(err, API_INTERNAL_ERROR, "out of memory while inflating the body");
            break;
        } else if (produced < sizeof inf->out && pos == len) {
            break; /* Z_OK or Z_BUF_ERROR: all input taken, no output pending */
        }
    }
    return st;
}

enum api_status api_inflate_finish(struct api_inflate *inf, uint64_t length, struct api_error *err)
{
    if (inf->ended)
        return API_OK;
    return corrupt(inf, length,
                   length == 0 ? "it is empty" : "the compressed stream ends before its end", err);
}

void api_inflate_free(struct api_inflate *inf)
{
    if (inf == NULL)
        return;
    inflateEnd(&inf->zs);
    free(inf);
}
