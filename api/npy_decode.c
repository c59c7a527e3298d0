/* npy_decode.c -- streaming decoder for NumPy .npy bodies (v1.0, 2.0, 3.0).
 *
 * Three phases: the fixed preamble (magic, version, header length) checked
 * byte by byte as it arrives; the header dict, buffered (at most
 * API_NPY_MAX_HEADER bytes) and parsed as the Python literal numpy writes;
 * then exactly the declared number of data bytes, fed to the kernel in place
 * (big-endian data byte-swapped, in 64 KiB blocks, through one buffer).
 * The same decoder reads the members of an .npz archive: there positions
 * count from the member's first byte, details open with the member's name,
 * and an array the kernel does not sum (integers, bool, complex, ...) is
 * checked as far as its header and its data skipped. */
#include "npy_decode.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elements.h"
#include "text.h"

#define NPY_PREAMBLE_MAX 12 /* magic, 2 version bytes, a u32 header length */
#define NPY_ECHO_MAX 40     /* bytes of a header token quoted in a detail */
#define NPY_DESCR_MAX 96    /* bytes of a skipped member's dtype code kept for the answer */

enum npy_phase {
    NPY_PREAMBLE,
    NPY_HEADER,
    NPY_DATA,
};

struct api_npy_decoder {
    struct api_result *res;
    enum npy_phase phase;
    uint64_t pos; /* the body offset of the next byte, from the caller's offsets */

    unsigned char preamble[NPY_PREAMBLE_MAX];
    size_t preamble_len;
    size_t preamble_size; /* 10 (v1) or 12 (v2, v3) once the version is known */

    unsigned char *header; /* header_size bytes, owned */
    size_t header_size;
    size_t header_len;

    uint64_t elem_size;        /* bytes per element (item size of a skipped dtype) */
    bool swap;                 /* big-endian data */
    uint64_t data_size;        /* bytes the header declares */
    uint64_t data_left;        /* of those, not read yet */
    struct api_elements elems; /* the data, once the header is parsed */

    /* An .npz member (api_npy_member_new); all false / NULL / 0 for a body. */
    bool member;
    const char *label;               /* "npz member 'w.npy'", not owned */
    uint64_t base;                   /* body offset of the member's first byte */
    bool inflated;                   /* errors are located at base, the detail says where */
    bool skip;                       /* a dtype that is not summed: the data is skipped */
    bool size_unknown;               /* ...and the header does not give its size */
    char skipped[NPY_DESCR_MAX + 4]; /* its dtype code, as the file has it */

    struct api_error *err; /* where this call's error goes (the body's record) */
};

static enum api_status npy_create(struct api_result *res, const struct api_decode_opts *opts,
                                  void **out, struct api_error *err)
{
    struct api_npy_decoder *dec;

    *out = NULL;
    if (opts->has_dtype)
        return api_error_set(err, API_INVALID_NPY,
                             "the dtype comes from the .npy header; remove the dtype query "
                             "parameter");
    dec = calloc(1, sizeof *dec);
    if (dec == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body decoder");
    dec->res = res;
    dec->phase = NPY_PREAMBLE;
    dec->preamble_size = NPY_PREAMBLE_MAX;
    *out = dec;
    return API_OK;
}

/* Records st with a printf-style detail at position pos: the body offset
 * of a body; in a member, the member's label opens the detail and pos
 * counts from its first byte (an inflated member's error is located at its
 * first byte in the body, and the detail gives the position). Returns st. */
static enum api_status npy_fail_st(struct api_npy_decoder *dec, enum api_status st, uint64_t pos,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum api_status npy_fail_st(struct api_npy_decoder *dec, enum api_status st, uint64_t pos,
                                   const char *fmt, ...)
{
    char msg[API_DETAIL_MAX];
    va_list ap;

    if (dec->err == NULL || dec->err->status != API_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!dec->member) {
        api_error_set(dec->err, st, "%s", msg);
        api_error_at_offset(dec->err, (int64_t)pos);
    } else if (dec->inflated) {
        api_error_set(dec->err, st, "%s: %s (byte %" PRIu64 " of the inflated member)", dec->label,
                      msg, pos);
        api_error_at_offset(dec->err, (int64_t)dec->base);
    } else {
        api_error_set(dec->err, st, "%s: %s", dec->label, msg);
        api_error_at_offset(dec->err, (int64_t)(dec->base + pos));
    }
    return st;
}

/* Records invalid_npy, detail printf-style, at position pos. */
#define npy_fail(dec, pos, ...) npy_fail_st((dec), API_INVALID_NPY, (pos), __VA_ARGS__)

/* "body", or "member" in an .npz. */
static const char *unit(const struct api_npy_decoder *dec)
{
    return dec->member ? "member" : "body";
}

/* ---- preamble ------------------------------------------------------------ */

/* Checks the byte just stored at preamble[i]. */
static enum api_status check_preamble_byte(struct api_npy_decoder *dec, size_t i)
{
    unsigned char c = dec->preamble[i];

    if (i < API_NPY_MAGIC_LEN) {
        if (c != (unsigned char)API_NPY_MAGIC[i])
            return npy_fail(dec, i, "not an .npy file: the %s must start with \\x93NUMPY",
                            unit(dec));
    } else if (i == 6) {
        if (c < 1 || c > 3)
            return npy_fail(dec, i,
                            "unsupported .npy format version %u (l2d reads 1.0, 2.0 and 3.0)",
                            (unsigned)c);
        dec->preamble_size = c == 1 ? 10 : 12;
    } else if (i == 7) {
        if (c != 0)
            return npy_fail(dec, i,
                            "unsupported .npy format version %u.%u (l2d reads 1.0, 2.0 and 3.0)",
                            (unsigned)dec->preamble[6], (unsigned)c);
    }
    return API_OK;
}

/* The preamble is complete: reads the header length and makes room for it. */
static enum api_status start_header(struct api_npy_decoder *dec)
{
    const unsigned char *b = dec->preamble + 8;
    uint32_t len = (uint32_t)b[0] | (uint32_t)b[1] << 8;

    if (dec->preamble_size == 12)
        len |= (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (len > API_NPY_MAX_HEADER)
        return npy_fail(dec, 8, "the .npy header is %" PRIu32 " bytes, more than the %d-byte limit",
                        len, API_NPY_MAX_HEADER);
    dec->header = malloc(len > 0 ? len : 1);
    if (dec->header == NULL) {
        api_error_set(dec->err, API_INTERNAL_ERROR, "out of memory for the .npy header");
        return API_INTERNAL_ERROR;
    }
    dec->header_size = len;
    dec->header_len = 0;
    dec->phase = NPY_HEADER;
    return API_OK;
}

/* ---- header dict --------------------------------------------------------- */

/* A cursor over the buffered header; `base` is the body offset of byte 0. */
struct hdr {
    struct api_npy_decoder *dec;
    const unsigned char *s;
    size_t n;
    size_t i;
    uint64_t base;
};

static uint64_t hdr_off(const struct hdr *h)
{
    return h->base + h->i;
}

static void skip_ws(struct hdr *h)
{
    while (h->i < h->n && (h->s[h->i] == ' ' || h->s[h->i] == '\t' || h->s[h->i] == '\n' ||
                           h->s[h->i] == '\r' || h->s[h->i] == '\f'))
        h->i++;
}

static bool at(const struct hdr *h, unsigned char c)
{
    return h->i < h->n && h->s[h->i] == c;
}

/* A Python string literal in '...' or "..." without escapes; its contents are
 * returned in str and len. */
static enum api_status parse_string(struct hdr *h, const char *what, const unsigned char **str,
                                    size_t *len)
{
    size_t start;
    unsigned char q;

    if (!at(h, '\'') && !at(h, '"'))
        return npy_fail(h->dec, hdr_off(h), "bad .npy header: expected %s as a quoted string",
                        what);
    q = h->s[h->i++];
    start = h->i;
    while (h->i < h->n && h->s[h->i] != q) {
        if (h->s[h->i] == '\\' || h->s[h->i] == '\n')
            return npy_fail(h->dec, hdr_off(h),
                            "bad .npy header: escapes and line breaks are not allowed in %s", what);
        h->i++;
    }
    if (h->i == h->n)
        return npy_fail(h->dec, hdr_off(h), "bad .npy header: unterminated string");
    *str = h->s + start;
    *len = h->i - start;
    h->i++;
    return API_OK;
}

/* Reads the decimal digits at d[*i..len) into *out; false when there are
 * none or they overflow. */
static bool descr_digits(const unsigned char *d, size_t len, size_t *i, uint64_t *out)
{
    size_t start = *i;
    uint64_t v = 0;

    for (; *i < len && d[*i] >= '0' && d[*i] <= '9'; (*i)++)
        if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, d[*i] - '0', &v))
            return false;
    *out = v;
    return *i > start;
}

/* A numpy type string that l2d does not sum but can skip in an .npz:
 * byte order, kind and item size ('<i8', '|b1', '<c16', '<U5', '|S3',
 * '|V8', '<f16'), datetimes with a unit ('<M8[ns]'), and the object kind
 * '|O' (pickled data, whose size the header does not give). Sets
 * elem_size, or size_unknown. */
static bool skippable_descr(struct api_npy_decoder *dec, const unsigned char *d, size_t len)
{
    size_t i = 2;
    uint64_t size = 0;

    if (len < 2 || (d[0] != '<' && d[0] != '>' && d[0] != '|' && d[0] != '=') ||
        memchr("biufcSUVmMO", d[1], 11) == NULL)
        return false;
    if (d[1] == 'O') {
        dec->size_unknown = true;
        return len == 2 || (descr_digits(d, len, &i, &size) && i == len);
    }
    if (!descr_digits(d, len, &i, &size))
        return false;
    if (d[1] == 'm' || d[1] == 'M') {
        if (size != 8)
            return false;
        if (i < len && d[i] == '[') { /* a unit: [ns], [10us], [D] */
            for (i++; i < len && ((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'z') ||
                                  (d[i] >= 'A' && d[i] <= 'Z'));
                 i++)
                ;
            if (i == len || d[i++] != ']')
                return false;
        }
    }
    if (i != len || (d[1] == 'U' && __builtin_mul_overflow(size, 4u, &size)))
        return false;
    dec->elem_size = size;
    return true;
}

/* Keeps a skipped member's dtype code for the answer: printable ASCII
 * (others as '?'), cut at NPY_DESCR_MAX bytes with "...". */
static void keep_skipped(struct api_npy_decoder *dec, const unsigned char *d, size_t len)
{
    api_text_echo(dec->skipped, sizeof dec->skipped, (const char *)d, len, NPY_DESCR_MAX,
                  API_TEXT_ECHO_MASK);
    dec->skip = true;
}

/* A structured dtype in a member: the Python list literal, skipped as a
 * whole (brackets balanced, quotes without escapes); its item size is not
 * worked out, so its data runs to the member's end. */
static enum api_status skip_structured(struct hdr *h)
{
    size_t start = h->i;
    unsigned depth = 0;
    unsigned char q = 0;

    for (; h->i < h->n; h->i++) {
        unsigned char c = h->s[h->i];

        if (q != 0) {
            if (c == q)
                q = 0;
        } else if (c == '\'' || c == '"') {
            q = c;
        } else if (c == '[' || c == '(') {
            depth++;
        } else if ((c == ']' || c == ')') && --depth == 0) {
            break;
        }
    }
    if (h->i == h->n)
        return npy_fail(h->dec, h->base + start, "bad .npy header: unterminated structured descr");
    h->i++;
    keep_skipped(h->dec, h->s + start, h->i - start);
    h->dec->size_unknown = true;
    return API_OK;
}

/* The descr value: one of <f2 <f4 <f8 >f2 >f4 >f8 =f2 =f4 =f8 (summed); in
 * a member also any other numpy dtype (skipped). */
static enum api_status parse_descr(struct hdr *h)
{
    struct api_npy_decoder *dec = h->dec;
    uint64_t off = hdr_off(h);
    const unsigned char *d;
    size_t len;
    char shown[NPY_ECHO_MAX + 4];
    enum api_status st;

    if (dec->member && at(h, '['))
        return skip_structured(h);
    if (at(h, '[') || at(h, '('))
        return npy_fail(dec, off,
                        "unsupported .npy dtype: structured arrays are not supported; l2d reads "
                        "float16, float32 and float64 ('<f2', '<f4', '<f8' or '>' forms)");
    st = parse_string(h, "descr", &d, &len);
    if (st != API_OK)
        return st;
    api_text_echo(shown, sizeof shown, (const char *)d, len, NPY_ECHO_MAX, API_TEXT_ECHO_MASK);
    if (len == 3 && d[1] == 'f' && (d[2] == '2' || d[2] == '4' || d[2] == '8')) {
        if (d[0] == '|')
            return npy_fail(dec, off,
                            "unsupported .npy dtype '%s': the '|' byte order is only for 1-byte "
                            "types; use '<%c%c' or '>%c%c'",
                            shown, d[1], d[2], d[1], d[2]);
        if (d[0] == '<' || d[0] == '>' || d[0] == '=') {
            dec->res->dtype = d[2] == '2'   ? L2_DTYPE_FLOAT16
                              : d[2] == '4' ? L2_DTYPE_FLOAT32
                                            : L2_DTYPE_FLOAT64;
            dec->elem_size = l2_dtype_size(dec->res->dtype);
            dec->swap = d[0] == '>';
            return API_OK;
        }
    }
    if (dec->member && skippable_descr(dec, d, len)) {
        keep_skipped(dec, d, len);
        return API_OK;
    }
    return npy_fail(dec, off,
                    "unsupported .npy dtype '%s': l2d reads float16, float32 and float64 "
                    "('<f2', '<f4', '<f8' or '>' forms); bfloat16 has no .npy form, send it as "
                    "application/octet-stream with dtype=bfloat16",
                    shown);
}

static bool is_ident_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* True or False. */
static enum api_status parse_bool(struct hdr *h)
{
    static const char *const words[2] = {"False", "True"};
    size_t k;

    for (k = 0; k < 2; k++) {
        size_t wl = strlen(words[k]);

        if (h->n - h->i >= wl && memcmp(h->s + h->i, words[k], wl) == 0 &&
            (h->i + wl == h->n || !is_ident_char(h->s[h->i + wl]))) {
            h->i += wl;
            return API_OK;
        }
    }
    return npy_fail(h->dec, hdr_off(h), "bad .npy header: fortran_order must be True or False");
}

/* A non-negative decimal integer (a Python 2 'L' suffix allowed). */
static enum api_status parse_dim(struct hdr *h, uint64_t *out)
{
    uint64_t v = 0;
    uint64_t off = hdr_off(h);
    size_t start = h->i;

    if (at(h, '-'))
        return npy_fail(h->dec, off, "bad .npy header: a shape dimension is negative");
    while (h->i < h->n && h->s[h->i] >= '0' && h->s[h->i] <= '9') {
        if (__builtin_mul_overflow(v, 10u, &v) ||
            __builtin_add_overflow(v, (uint64_t)(h->s[h->i] - '0'), &v))
            return npy_fail(h->dec, off, "bad .npy header: a shape dimension is too large");
        h->i++;
    }
    if (h->i == start)
        return npy_fail(h->dec, off, "bad .npy header: expected a dimension (an integer)");
    if (h->i - start > 1 && h->s[start] == '0')
        return npy_fail(h->dec, off, "bad .npy header: a dimension has a leading zero");
    if (at(h, 'L'))
        h->i++;
    if (h->i < h->n && is_ident_char(h->s[h->i]))
        return npy_fail(h->dec, hdr_off(h), "bad .npy header: expected a dimension (an integer)");
    *out = v;
    return API_OK;
}

/* A tuple of dimensions: (), (n,), (n, m), (n, m,) ... */
static enum api_status parse_shape(struct hdr *h)
{
    struct api_npy_decoder *dec = h->dec;
    unsigned ndim = 0;
    bool comma = false; /* a comma followed the last dimension */
    enum api_status st;

    if (!at(h, '('))
        return npy_fail(dec, hdr_off(h), "bad .npy header: shape must be a tuple such as (2, 3)");
    h->i++;
    skip_ws(h);
    while (!at(h, ')')) {
        uint64_t dim = 0;

        if (ndim > 0 && !comma)
            return npy_fail(dec, hdr_off(h), "bad .npy header: expected ',' or ')' in shape");
        if (ndim == API_MAX_DEPTH)
            return npy_fail(dec, hdr_off(h), "the .npy shape has more than %d dimensions",
                            API_MAX_DEPTH);
        st = parse_dim(h, &dim);
        if (st != API_OK)
            return st;
        dec->res->shape[ndim++] = dim;
        skip_ws(h);
        comma = at(h, ',');
        if (comma) {
            h->i++;
            skip_ws(h);
        }
    }
    if (ndim == 1 && !comma)
        return npy_fail(dec, hdr_off(h),
                        "bad .npy header: shape must be a tuple; a 1-d shape is written (n,)");
    h->i++;
    dec->res->ndim = ndim;
    return API_OK;
}

/* The whole header: exactly the keys descr, fortran_order and shape. */
static enum api_status parse_header(struct api_npy_decoder *dec)
{
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    struct hdr h = {dec, dec->header, dec->header_len, 0, dec->pos - dec->header_len};
    bool seen[3] = {false, false, false};
    uint64_t count = 1;
    uint64_t shape_off = 0;
    uint64_t close_off;
    unsigned k;
    enum api_status st;

    skip_ws(&h);
    if (!at(&h, '{'))
        return npy_fail(dec, hdr_off(&h), "bad .npy header: expected a dict starting with '{'");
    h.i++;
    for (;;) {
        const unsigned char *key;
        size_t key_len;
        uint64_t key_off;

        skip_ws(&h);
        if (at(&h, '}'))
            break;
        key_off = hdr_off(&h);
        st = parse_string(&h, "a key", &key, &key_len);
        if (st != API_OK)
            return st;
        for (k = 0; k < 3; k++)
            if (key_len == strlen(keys[k]) && memcmp(key, keys[k], key_len) == 0)
                break;
        if (k == 3) {
            char shown[NPY_ECHO_MAX + 4];

            api_text_echo(shown, sizeof shown, (const char *)key, key_len, NPY_ECHO_MAX,
                          API_TEXT_ECHO_MASK);
            return npy_fail(dec, key_off,
                            "bad .npy header: unknown key '%s' (expected descr, fortran_order "
                            "and shape)",
                            shown);
        }
        if (seen[k])
            return npy_fail(dec, key_off, "bad .npy header: key '%s' appears twice", keys[k]);
        seen[k] = true;
        skip_ws(&h);
        if (!at(&h, ':'))
            return npy_fail(dec, hdr_off(&h), "bad .npy header: expected ':' after a key");
        h.i++;
        skip_ws(&h);
        if (k == 2)
            shape_off = hdr_off(&h);
        st = k == 0 ? parse_descr(&h) : k == 1 ? parse_bool(&h) : parse_shape(&h);
        if (st != API_OK)
            return st;
        skip_ws(&h);
        if (at(&h, ','))
            h.i++;
        else if (!at(&h, '}'))
            return npy_fail(dec, hdr_off(&h), "bad .npy header: expected ',' or '}' in the dict");
    }
    close_off = hdr_off(&h);
    h.i++;
    skip_ws(&h);
    if (h.i != h.n)
        return npy_fail(dec, hdr_off(&h), "bad .npy header: unexpected bytes after the dict");
    for (k = 0; k < 3; k++)
        if (!seen[k])
            return npy_fail(dec, close_off, "bad .npy header: the key '%s' is missing", keys[k]);
    for (k = 0; k < dec->res->ndim; k++)
        if (__builtin_mul_overflow(count, dec->res->shape[k], &count))
            break;
    if (k < dec->res->ndim || __builtin_mul_overflow(count, dec->elem_size, &dec->data_size))
        return npy_fail(dec, shape_off, "bad .npy header: the shape's size overflows 64 bits");
    if (dec->size_unknown)
        dec->data_size = UINT64_MAX; /* to the member's end */
    dec->data_left = dec->data_size;
    return API_OK;
}

/* ---- the stream ---------------------------------------------------------- */

/* The header is complete: parses it and gets ready for the data. */
static enum api_status start_data(struct api_npy_decoder *dec)
{
    if (parse_header(dec) != API_OK)
        return dec->err->status;
    free(dec->header);
    dec->header = NULL;
    if (!dec->skip &&
        api_elements_init(&dec->elems, &dec->res->total, dec->res->dtype,
                          dec->swap && dec->data_size > 0,
                          dec->member ? dec->label : "the .npy array", dec->err) != API_OK)
        return dec->err->status;
    dec->elems.count_nonfinite = dec->res->count_nonfinite;
    dec->phase = NPY_DATA;
    return API_OK;
}

/* Data bytes: summed, or skipped; invalid_length past the declared size. */
static enum api_status feed_data(struct api_npy_decoder *dec, const unsigned char *p, size_t len)
{
    size_t take = len;

    if (take > dec->data_left)
        take = (size_t)dec->data_left;
    if (!dec->size_unknown)
        dec->data_left -= take;
    dec->pos += take;
    if (!dec->skip && api_elements_feed(&dec->elems, p, take, dec->err) != API_OK)
        return dec->err->status;
    if (take < len)
        return npy_fail_st(dec, API_INVALID_LENGTH, dec->pos,
                           "the .npy %s is longer than its header declares (%" PRIu64
                           " data bytes after a %" PRIu64 "-byte header)",
                           unit(dec), dec->data_size, dec->pos - dec->data_size);
    return API_OK;
}

static enum api_status npy_feed(void *d, const unsigned char *p, size_t len, uint64_t offset,
                                struct api_error *err)
{
    struct api_npy_decoder *dec = d;

    dec->err = err;
    dec->pos = offset;
    while (len > 0 && dec->phase == NPY_PREAMBLE) {
        size_t i = dec->preamble_len;

        dec->preamble[dec->preamble_len++] = *p++;
        len--;
        dec->pos++;
        if (check_preamble_byte(dec, i) != API_OK ||
            (dec->preamble_len == dec->preamble_size && start_header(dec) != API_OK))
            return err->status;
    }
    if (len > 0 && dec->phase == NPY_HEADER) {
        size_t take = dec->header_size - dec->header_len;

        if (take > len)
            take = len;
        memcpy(dec->header + dec->header_len, p, take);
        dec->header_len += take;
        dec->pos += take;
        p += take;
        len -= take;
    }
    if (dec->phase == NPY_HEADER && dec->header_len == dec->header_size &&
        start_data(dec) != API_OK)
        return err->status;
    if (len > 0 && dec->phase == NPY_DATA)
        return feed_data(dec, p, len);
    return API_OK;
}

static enum api_status npy_finish(void *d, uint64_t length, struct api_error *err)
{
    struct api_npy_decoder *dec = d;

    dec->err = err;
    dec->pos = length;
    if (dec->phase == NPY_PREAMBLE)
        return npy_fail(dec, dec->pos, "the %s ends inside the .npy preamble (%" PRIu64 " bytes)",
                        unit(dec), dec->pos);
    /* npy_feed parses the header as soon as its last byte arrives. */
    if (dec->phase == NPY_HEADER)
        return npy_fail(dec, dec->pos, "the %s ends inside the .npy header (%zu of %zu bytes)",
                        unit(dec), dec->header_len, dec->header_size);
    if (dec->data_left > 0 && !dec->size_unknown)
        return npy_fail_st(dec, API_INVALID_LENGTH, dec->pos,
                           "the .npy %s is shorter than its header declares (%" PRIu64
                           " of %" PRIu64 " data bytes)",
                           unit(dec), dec->data_size - dec->data_left, dec->data_size);
    return API_OK;
}

static void npy_destroy(void *d)
{
    struct api_npy_decoder *dec = d;

    if (dec == NULL)
        return;
    free(dec->header);
    api_elements_free(&dec->elems);
    free(dec);
}

const struct api_decoder_ops api_npy_ops = {npy_create, npy_feed, npy_finish, npy_destroy};

/* ---- .npz members -------------------------------------------------------- */

enum api_status api_npy_member_new(struct api_result *res, const struct api_npy_member *m,
                                   struct api_npy_decoder **out, struct api_error *err)
{
    struct api_npy_decoder *dec;

    *out = NULL;
    dec = calloc(1, sizeof *dec);
    if (dec == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for an .npz member");
    dec->res = res;
    dec->phase = NPY_PREAMBLE;
    dec->preamble_size = NPY_PREAMBLE_MAX;
    dec->member = true;
    dec->label = m->label;
    dec->base = m->base;
    dec->inflated = m->inflated;
    *out = dec;
    return API_OK;
}

uint64_t api_npy_member_wants(const struct api_npy_decoder *dec)
{
    switch (dec->phase) {
    case NPY_PREAMBLE: /* up to the version byte, which fixes the preamble's size */
        return (dec->preamble_len <= API_NPY_MAGIC_LEN ? API_NPY_MAGIC_LEN + 1
                                                       : dec->preamble_size) -
               dec->preamble_len;
    case NPY_HEADER:
        return dec->header_size - dec->header_len;
    default:
        return dec->data_left; /* UINT64_MAX when the size is unknown */
    }
}

const char *api_npy_member_skipped(const struct api_npy_decoder *dec)
{
    return dec->skip ? dec->skipped : NULL;
}

bool api_npy_member_portable(const struct api_npy_decoder *dec)
{
    return dec->phase == NPY_DATA && !dec->skip &&
           l2_accum_stream_portable(&dec->elems.stream, dec->elems.dtype);
}
