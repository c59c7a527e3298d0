/* safetensors_decode.c -- streaming decoder for safetensors checkpoints.
 *
 * Three phases: the 8-byte header length; the JSON header, buffered (at
 * most API_SAFETENSORS_MAX_HEADER bytes), checked for UTF-8, parsed by
 * jansson and reduced to one small entry per tensor, which are sorted by
 * data_offsets and validated as the reference reader does before any data
 * is read; then the data, walked tensor by tensor: float tensors fed from
 * the chunk straight into their own exact accumulator (api_elements), the
 * others skipped, each added to the result as its last byte arrives. */
#include "safetensors_decode.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elements.h"
#include "text.h"

#define ST_LENGTH_BYTES 8              /* the little-endian u64 header length */
#define ST_HEADER_FIRST_CAP 65536      /* the header buffer grows from this as bytes arrive */
#define ST_ECHO_MAX 64                 /* bytes of a name or dtype quoted in a detail */
#define ST_WHAT_MAX (ST_ECHO_MAX + 16) /* "tensor '<name>'" */
#define ST_SHAPE_TEXT_MAX 96           /* "[2, 3, ...]" in a detail */
#define ST_SKIPPED (-1)

/* The reference reader's dtypes in its own order (increasing alignment):
 * code, bits per element, and the l2d dtype the tensor is summed in, or
 * ST_SKIPPED. */
#define ST_DTYPE_LIST(X)                                                                           \
    X("BOOL", 8, ST_SKIPPED)                                                                       \
    X("F4", 4, ST_SKIPPED)                                                                         \
    X("F6_E2M3", 6, ST_SKIPPED)                                                                    \
    X("F6_E3M2", 6, ST_SKIPPED)                                                                    \
    X("U8", 8, ST_SKIPPED)                                                                         \
    X("I8", 8, ST_SKIPPED)                                                                         \
    X("F8_E5M2", 8, ST_SKIPPED)                                                                    \
    X("F8_E4M3", 8, ST_SKIPPED)                                                                    \
    X("F8_E8M0", 8, ST_SKIPPED)                                                                    \
    X("F8_E4M3FNUZ", 8, ST_SKIPPED)                                                                \
    X("F8_E5M2FNUZ", 8, ST_SKIPPED)                                                                \
    X("I16", 16, ST_SKIPPED)                                                                       \
    X("U16", 16, ST_SKIPPED)                                                                       \
    X("F16", 16, L2_DTYPE_FLOAT16)                                                                 \
    X("BF16", 16, L2_DTYPE_BFLOAT16)                                                               \
    X("I32", 32, ST_SKIPPED)                                                                       \
    X("U32", 32, ST_SKIPPED)                                                                       \
    X("F32", 32, L2_DTYPE_FLOAT32)                                                                 \
    X("C64", 64, ST_SKIPPED)                                                                       \
    X("F64", 64, L2_DTYPE_FLOAT64)                                                                 \
    X("I64", 64, ST_SKIPPED)                                                                       \
    X("U64", 64, ST_SKIPPED)

static const struct st_dtype {
    const char *code;
    unsigned bits;
    int summed; /* an enum l2_dtype, or ST_SKIPPED */
} st_dtypes[] = {
#define ST_DTYPE_ROW(code, bits, summed) {code, bits, summed},
    ST_DTYPE_LIST(ST_DTYPE_ROW)
#undef ST_DTYPE_ROW
};

#define ST_DTYPE_COUNT (sizeof st_dtypes / sizeof st_dtypes[0])

/* One tensor of the header. name and shape share one allocation, mem. */
struct st_tensor {
    void *mem;       /* owned: ndim dims, then the name and a NUL */
    uint64_t *shape; /* ndim entries, in mem */
    char *name;      /* name_len bytes (may hold U+0000) and a NUL, in mem */
    size_t name_len;
    unsigned ndim;
    unsigned dtype;      /* row of st_dtypes */
    uint64_t begin, end; /* data_offsets, relative to the first data byte */
    size_t order;        /* position in the header: orders equal offsets */
};

enum st_phase {
    ST_LENGTH,
    ST_HEADER,
    ST_DATA,
};

struct api_safetensors_decoder {
    struct api_result *res;
    struct api_error *err; /* where this call's error goes (the body's record) */
    enum st_phase phase;
    uint64_t pos; /* the body offset of the next byte, from the caller's offsets */

    unsigned char length[ST_LENGTH_BYTES];
    size_t length_have;

    unsigned char *header; /* header_cap bytes, owned, grown as bytes arrive */
    size_t header_size;    /* N, from the length */
    size_t header_len;
    size_t header_cap;

    struct st_tensor *tensors; /* in data order once the header is parsed, owned */
    size_t n_tensors;
    size_t cur;         /* the tensor being read */
    uint64_t left;      /* its bytes not read yet */
    uint64_t data_size; /* the last END: the data section's length */
    struct l2_accum acc;
    struct api_elements elems; /* cur's elements into acc, when it is summed */
    char what[ST_WHAT_MAX];    /* "tensor '<name>'", for element errors */
};

/* The header's first byte: where problems with its content are located. */
#define ST_HEADER_AT ((uint64_t)ST_LENGTH_BYTES)

static enum api_status st_create(struct api_result *res, const struct api_decode_opts *opts,
                                 void **out, struct api_error *err)
{
    struct api_safetensors_decoder *dec;

    *out = NULL;
    if (opts->has_dtype)
        return api_error_set(err, API_INVALID_SAFETENSORS,
                             "each tensor's dtype comes from the safetensors header; remove the "
                             "dtype query parameter");
    dec = calloc(1, sizeof *dec);
    if (dec == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body decoder");
    dec->res = res;
    dec->phase = ST_LENGTH;
    res->named = true;
    *out = dec;
    return API_OK;
}

/* Records invalid_safetensors, detail printf-style, at body offset
 * `offset`; returns the status. */
static enum api_status st_fail(struct api_safetensors_decoder *dec, uint64_t offset,
                               const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum api_status st_fail(struct api_safetensors_decoder *dec, uint64_t offset,
                               const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    api_error_vset(dec->err, API_INVALID_SAFETENSORS, fmt, ap);
    va_end(ap);
    api_error_at_offset(dec->err, (int64_t)offset);
    return API_INVALID_SAFETENSORS;
}

/* Copies up to ST_ECHO_MAX bytes of the UTF-8 text s into out, cut at a
 * character boundary, control characters shown as '?', "..." when cut. */
static void echo(const char *s, size_t len, char out[ST_ECHO_MAX + 4])
{
    size_t n = len;
    size_t i;

    if (n > ST_ECHO_MAX) {
        n = ST_ECHO_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* Writes "[2, 3]" for a shape into out (cut with "...]" when long). */
static void shape_text(const uint64_t *shape, unsigned ndim, char out[ST_SHAPE_TEXT_MAX])
{
    size_t at = 1;
    unsigned d;

    out[0] = '[';
    for (d = 0; d < ndim; d++) {
        int w =
            snprintf(out + at, ST_SHAPE_TEXT_MAX - at, "%s%" PRIu64, d > 0 ? ", " : "", shape[d]);

        if (w < 0 || (size_t)w >= ST_SHAPE_TEXT_MAX - at - 5) {
            memcpy(out + at, ", ...", 5);
            at += 5;
            break;
        }
        at += (size_t)w;
    }
    out[at++] = ']';
    out[at] = '\0';
}

/* ---- the length and the header bytes ----------------------------------- */

/* The length is complete: checks it against the limit. */
static enum api_status begin_header(struct api_safetensors_decoder *dec)
{
    uint64_t n = 0;

    for (size_t i = ST_LENGTH_BYTES; i > 0; i--)
        n = n << 8 | dec->length[i - 1];
    if (n > API_SAFETENSORS_MAX_HEADER)
        return st_fail(dec, 0,
                       "the safetensors header length is %" PRIu64
                       " bytes, more than l2d's limit of %" PRIu64 " bytes (16 MiB)",
                       n, API_SAFETENSORS_MAX_HEADER);
    dec->header_size = (size_t)n;
    dec->phase = ST_HEADER;
    return API_OK;
}

/* Appends up to the rest of the header from p; returns the bytes taken. The
 * buffer grows (doubling, to header_size at most) only as bytes arrive, so
 * a large declared length alone costs nothing. */
static size_t take_header(struct api_safetensors_decoder *dec, const unsigned char *p, size_t len,
                          bool *oom)
{
    size_t take = dec->header_size - dec->header_len;

    *oom = false;
    if (take > len)
        take = len;
    if (dec->header_len + take > dec->header_cap) {
        size_t cap = dec->header_cap > 0 ? dec->header_cap : ST_HEADER_FIRST_CAP;
        unsigned char *grown;

        while (cap < dec->header_len + take)
            cap *= 2; /* header_size <= 16 MiB: no overflow */
        if (cap > dec->header_size)
            cap = dec->header_size;
        grown = realloc(dec->header, cap);
        if (grown == NULL) {
            *oom = true;
            return 0;
        }
        dec->header = grown;
        dec->header_cap = cap;
    }
    memcpy(dec->header + dec->header_len, p, take);
    dec->header_len += take;
    return take;
}

/* The index of the first byte of s[0..n) that is not part of valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF refused), or
 * n when all of it is valid. */
static size_t utf8_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n && (k = api_text_utf8_len((const char *)s + i, n - i)) != 0)
        i += k;
    return i;
}

/* True when the JSON text s[0..n) holds more than API_SAFETENSORS_MAX_VALUES
 * values, counted without parsing: each string (keys too), each '[' and
 * '{', and each run of other bytes that are not structure or whitespace
 * (a number, a literal, or bytes that are no JSON at all). */
static bool too_many_values(const unsigned char *s, size_t n)
{
    size_t count = 0;
    bool in_string = false;
    bool in_scalar = false;

    for (size_t i = 0; i < n && count <= API_SAFETENSORS_MAX_VALUES; i++) {
        unsigned char c = s[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"' || c == '[' || c == '{') {
            in_string = c == '"';
            in_scalar = false;
            count++;
        } else if (c == ',' || c == ':' || c == ']' || c == '}' || c == ' ' || c == '\t' ||
                   c == '\n' || c == '\r') {
            in_scalar = false;
        } else if (!in_scalar) {
            in_scalar = true;
            count++;
        }
    }
    return count > API_SAFETENSORS_MAX_VALUES;
}

/* ---- the header's content ----------------------------------------------- */

/* A JSON integer >= 0 (the reference reads usize; jansson's integers stop
 * at 2^63 - 1, and larger ones are already a JSON error). */
static bool read_count(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* The dtype code: one of st_dtypes, compared with its length. */
static enum api_status read_dtype(struct api_safetensors_decoder *dec, const char *shown,
                                  const json_t *v, unsigned *out)
{
    const char *s;
    size_t len;
    char code[ST_ECHO_MAX + 4];

    if (!json_is_string(v))
        return st_fail(dec, ST_HEADER_AT, "tensor '%s': dtype must be a string such as \"F32\"",
                       shown);
    s = json_string_value(v);
    len = json_string_length(v);
    for (unsigned i = 0; i < ST_DTYPE_COUNT; i++) {
        if (strlen(st_dtypes[i].code) == len && memcmp(st_dtypes[i].code, s, len) == 0) {
            *out = i;
            return API_OK;
        }
    }
    echo(s, len, code);
    return st_fail(dec, ST_HEADER_AT, "tensor '%s': unknown dtype '%s'", shown, code);
}

/* Makes the tensor's one allocation: the shape's dims, then the name. */
static enum api_status read_shape(struct api_safetensors_decoder *dec, const char *shown,
                                  const json_t *v, const char *name, size_t name_len,
                                  struct st_tensor *t)
{
    size_t ndim;
    size_t bytes;

    if (!json_is_array(v))
        return st_fail(dec, ST_HEADER_AT, "tensor '%s': shape must be an array of integers", shown);
    ndim = json_array_size(v);
    if (ndim > API_MAX_DEPTH)
        return st_fail(dec, ST_HEADER_AT,
                       "tensor '%s': the shape has %zu dimensions, more than l2d's limit of %d",
                       shown, ndim, API_MAX_DEPTH);
    /* ndim <= 64, name_len <= API_MAX_NAME: no overflow */
    bytes = ndim * sizeof(uint64_t) + name_len + 1;
    t->mem = malloc(bytes);
    if (t->mem == NULL)
        return api_error_set(dec->err, API_INTERNAL_ERROR, "out of memory for the header");
    t->shape = t->mem;
    t->name = (char *)t->mem + ndim * sizeof(uint64_t);
    memcpy(t->name, name, name_len);
    t->name[name_len] = '\0';
    t->name_len = name_len;
    t->ndim = (unsigned)ndim;
    for (size_t d = 0; d < ndim; d++)
        if (!read_count(json_array_get(v, d), &t->shape[d]))
            return st_fail(dec, ST_HEADER_AT,
                           "tensor '%s': shape must be an array of integers >= 0", shown);
    return API_OK;
}

static enum api_status read_offsets(struct api_safetensors_decoder *dec, const char *shown,
                                    const json_t *v, struct st_tensor *t)
{
    if (!json_is_array(v) || json_array_size(v) != 2 ||
        !read_count(json_array_get(v, 0), &t->begin) || !read_count(json_array_get(v, 1), &t->end))
        return st_fail(dec, ST_HEADER_AT,
                       "tensor '%s': data_offsets must be [BEGIN, END], two integers >= 0", shown);
    return API_OK;
}

/* One tensor entry: an object with dtype, shape and data_offsets (other
 * keys ignored, as the reference does), or the same three values as an
 * array, which the reference's deserializer also takes. */
static enum api_status read_tensor(struct api_safetensors_decoder *dec, const char *name,
                                   size_t name_len, const json_t *v, struct st_tensor *t)
{
    static const char *const fields[3] = {"dtype", "shape", "data_offsets"};
    const json_t *f[3];
    char shown[ST_ECHO_MAX + 4];
    enum api_status st;

    echo(name, name_len, shown);
    if (name_len == 0)
        return st_fail(dec, ST_HEADER_AT, "a tensor has an empty name (l2d needs names)");
    if (name_len > API_MAX_NAME)
        return st_fail(dec, ST_HEADER_AT, "tensor '%s': the name is longer than %d bytes", shown,
                       API_MAX_NAME);
    if (json_is_array(v) && json_array_size(v) == 3) {
        for (size_t k = 0; k < 3; k++)
            f[k] = json_array_get(v, k);
    } else if (json_is_object(v)) {
        for (size_t k = 0; k < 3; k++) {
            f[k] = json_object_get(v, fields[k]);
            if (f[k] == NULL)
                return st_fail(dec, ST_HEADER_AT, "tensor '%s' has no \"%s\"", shown, fields[k]);
        }
    } else {
        return st_fail(dec, ST_HEADER_AT,
                       "tensor '%s' must be an object with dtype, shape and data_offsets", shown);
    }
    st = read_dtype(dec, shown, f[0], &t->dtype);
    if (st == API_OK)
        st = read_shape(dec, shown, f[1], name, name_len, t);
    if (st == API_OK)
        st = read_offsets(dec, shown, f[2], t);
    return st;
}

/* __metadata__: an object of strings (or null, which the reference reads
 * as no metadata); its content is not used. */
static enum api_status check_metadata(struct api_safetensors_decoder *dec, const json_t *v)
{
    const char *key;
    const json_t *value;

    if (json_is_null(v))
        return API_OK;
    if (!json_is_object(v))
        return st_fail(dec, ST_HEADER_AT, "__metadata__ must be an object of strings");
    json_object_foreach((json_t *)v, key, value)
    {
        if (!json_is_string(value)) {
            char shown[ST_ECHO_MAX + 4];

            echo(key, strlen(key), shown);
            return st_fail(dec, ST_HEADER_AT,
                           "__metadata__ must map strings to strings; '%s' is not a string", shown);
        }
    }
    return API_OK;
}

/* Reads every key of the header object, in the header's order. */
static enum api_status read_entries(struct api_safetensors_decoder *dec, json_t *root)
{
    static const char meta[] = "__metadata__";
    size_t cap = json_object_size(root);
    void *it;
    enum api_status st = API_OK;

    /* cap <= the header's size / 4: no overflow */
    dec->tensors = calloc(cap > 0 ? cap : 1, sizeof *dec->tensors);
    if (dec->tensors == NULL)
        return api_error_set(dec->err, API_INTERNAL_ERROR, "out of memory for the header");
    for (it = json_object_iter(root); it != NULL && st == API_OK;
         it = json_object_iter_next(root, it)) {
        const char *key = json_object_iter_key(it);
        size_t key_len = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);

        if (key_len == sizeof meta - 1 && memcmp(key, meta, key_len) == 0) {
            st = check_metadata(dec, v);
            continue;
        }
        if (dec->n_tensors == API_MAX_TENSORS)
            return st_fail(dec, ST_HEADER_AT, "the header lists more than %d tensors",
                           API_MAX_TENSORS);
        dec->tensors[dec->n_tensors].order = dec->n_tensors;
        st = read_tensor(dec, key, key_len, v, &dec->tensors[dec->n_tensors]);
        dec->n_tensors++; /* counted even on failure, so that destroy frees its mem */
    }
    return st;
}

/* Data order: by data_offsets (BEGIN, then END, as the reference sorts),
 * then by position in the header. */
static int by_offsets(const void *a, const void *b)
{
    const struct st_tensor *x = a, *y = b;

    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The tensor's size in bytes from its shape and dtype: elements times bits,
 * each product overflow-checked in order (as the reference, in bits). */
static enum api_status tensor_bytes(struct api_safetensors_decoder *dec, const struct st_tensor *t,
                                    const char *shown, uint64_t *out)
{
    const struct st_dtype *d = &st_dtypes[t->dtype];
    char shape[ST_SHAPE_TEXT_MAX];
    uint64_t count = 1;
    uint64_t bits;
    unsigned k;

    shape_text(t->shape, t->ndim, shape);
    for (k = 0; k < t->ndim; k++)
        if (__builtin_mul_overflow(count, t->shape[k], &count))
            break;
    if (k < t->ndim || __builtin_mul_overflow(count, (uint64_t)d->bits, &bits))
        return st_fail(dec, ST_HEADER_AT,
                       "tensor '%s': the size of shape %s of %s overflows 64 bits", shown, shape,
                       d->code);
    if (bits % 8 != 0)
        return st_fail(dec, ST_HEADER_AT,
                       "tensor '%s': shape %s of %s (%u bits each) is not a whole number of bytes",
                       shown, shape, d->code, d->bits);
    *out = bits / 8;
    return API_OK;
}

/* Checks, in data order, that the offsets run from 0 without a hole or an
 * overlap and that each span is its shape's size; sets data_size. */
static enum api_status check_layout(struct api_safetensors_decoder *dec)
{
    uint64_t start = 0;

    for (size_t i = 0; i < dec->n_tensors; i++) {
        const struct st_tensor *t = &dec->tensors[i];
        char shown[ST_ECHO_MAX + 4];
        char shape[ST_SHAPE_TEXT_MAX];
        uint64_t size = 0;

        echo(t->name, t->name_len, shown);
        if (t->end < t->begin)
            return st_fail(dec, ST_HEADER_AT,
                           "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before "
                           "they begin",
                           shown, t->begin, t->end);
        if (t->begin != start)
            return st_fail(dec, ST_HEADER_AT,
                           "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] %s: the data "
                           "before it ends at %" PRIu64 " (tensors must be contiguous from 0)",
                           shown, t->begin, t->end,
                           t->begin > start ? "leave a hole" : "overlap other data", start);
        start = t->end;
        if (tensor_bytes(dec, t, shown, &size) != API_OK)
            return API_INVALID_SAFETENSORS;
        if (t->end - t->begin != size) {
            shape_text(t->shape, t->ndim, shape);
            return st_fail(dec, ST_HEADER_AT,
                           "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64
                           " bytes, but shape %s of %s is %" PRIu64 " bytes",
                           shown, t->begin, t->end, t->end - t->begin, shape,
                           st_dtypes[t->dtype].code, size);
        }
    }
    dec->data_size = start;
    return API_OK;
}

#define ST_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

/* Parses the header with jansson. jansson reports a failed allocation as
 * an empty error or as a syntax error where it happened, so a failed parse
 * is parsed again: the header is at fault only when the second parse fails
 * with the same message at the same place; otherwise the second parse's
 * tree is used, or the failure is out of memory. */
static json_t *parse_json(const unsigned char *text, size_t len, json_error_t *jerr, bool *oom)
{
    json_t *root = json_loadb((const char *)text, len, ST_JSON_FLAGS, jerr);
    json_error_t again;

    *oom = false;
    if (root != NULL)
        return root;
    root = json_loadb((const char *)text, len, ST_JSON_FLAGS, &again);
    if (root == NULL)
        *oom = jerr->text[0] == '\0' || json_error_code(jerr) == json_error_out_of_memory ||
               again.position != jerr->position || strcmp(again.text, jerr->text) != 0;
    return root;
}

/* The JSON: jansson's errors located at 8 + their byte position. */
static enum api_status load_json(struct api_safetensors_decoder *dec, json_t **out)
{
    static const unsigned char empty[1] = {0};
    const unsigned char *text = dec->header != NULL ? dec->header : empty; /* N may be 0 */
    json_error_t jerr;
    size_t bad = utf8_prefix(text, dec->header_len);
    uint64_t at;
    bool oom;

    *out = NULL;
    if (bad < dec->header_len)
        return st_fail(dec, ST_HEADER_AT + bad,
                       "the safetensors header is not valid UTF-8 (byte 0x%02x at offset %" PRIu64
                       ")",
                       text[bad], ST_HEADER_AT + bad);
    if (too_many_values(text, dec->header_len))
        return st_fail(dec, ST_HEADER_AT,
                       "the safetensors header holds more than %d JSON values (l2d's limit)",
                       API_SAFETENSORS_MAX_VALUES);
    *out = parse_json(text, dec->header_len, &jerr, &oom);
    if (*out == NULL) {
        at = ST_HEADER_AT + (jerr.position > 0 ? (uint64_t)jerr.position : 0);
        if (oom)
            return api_error_set(dec->err, API_INTERNAL_ERROR, "out of memory for the header");
        if (json_error_code(&jerr) == json_error_duplicate_key)
            return st_fail(dec, at, "the safetensors header has a duplicate key: %s", jerr.text);
        return st_fail(dec, at, "the safetensors header is not valid JSON: %s", jerr.text);
    }
    if (!json_is_object(*out))
        return st_fail(dec, ST_HEADER_AT,
                       "the safetensors header must be a JSON object of tensors");
    return API_OK;
}

static enum api_status parse_header(struct api_safetensors_decoder *dec)
{
    json_t *root = NULL;
    enum api_status st;

    st = load_json(dec, &root);
    if (st == API_OK)
        st = read_entries(dec, root);
    json_decref(root);
    free(dec->header);
    dec->header = NULL;
    dec->header_cap = 0;
    if (st != API_OK)
        return st;
    qsort(dec->tensors, dec->n_tensors, sizeof *dec->tensors, by_offsets);
    return check_layout(dec);
}

/* ---- the data ------------------------------------------------------------ */

/* Makes tensor cur the one being read. */
static void start_tensor(struct api_safetensors_decoder *dec)
{
    const struct st_tensor *t = &dec->tensors[dec->cur];
    int summed = st_dtypes[t->dtype].summed;
    char shown[ST_ECHO_MAX + 4];

    dec->left = t->end - t->begin;
    if (summed == ST_SKIPPED)
        return;
    echo(t->name, t->name_len, shown);
    snprintf(dec->what, sizeof dec->what, "tensor '%s'", shown);
    l2_accum_init(&dec->acc);
    /* little-endian: nothing to allocate, cannot fail */
    api_elements_init(&dec->elems, &dec->acc, (enum l2_dtype)summed, false, dec->what, dec->err);
    dec->elems.count_nonfinite = dec->res->count_nonfinite;
}

/* Adds every tensor whose data is complete (cur, when no byte of it is
 * left, and the empty ones after it) and starts the next. */
static enum api_status settle(struct api_safetensors_decoder *dec)
{
    while (dec->cur < dec->n_tensors && dec->left == 0) {
        struct st_tensor *t = &dec->tensors[dec->cur];
        const struct st_dtype *d = &st_dtypes[t->dtype];
        enum api_status st;

        if (d->summed == ST_SKIPPED)
            st = api_result_add_skipped(dec->res, t->name, t->name_len, d->code, dec->err);
        else
            st = api_result_add_typed(dec->res, t->name, t->name_len, (enum l2_dtype)d->summed,
                                      &dec->acc, t->ndim, t->shape, dec->err);
        if (st != API_OK)
            return st;
        free(t->mem);
        t->mem = NULL;
        dec->cur++;
        if (dec->cur < dec->n_tensors)
            start_tensor(dec);
    }
    return API_OK;
}

static enum api_status feed_data(struct api_safetensors_decoder *dec, const unsigned char *p,
                                 size_t len)
{
    while (len > 0) {
        size_t take = len;

        if (dec->cur == dec->n_tensors)
            return st_fail(dec, dec->pos,
                           "the body goes on after the data: the header's tensors end at byte "
                           "%" PRIu64 " (8 + %zu header + %" PRIu64 " data bytes)",
                           dec->pos, dec->header_size, dec->data_size);
        if (take > dec->left)
            take = (size_t)dec->left;
        if (st_dtypes[dec->tensors[dec->cur].dtype].summed != ST_SKIPPED &&
            api_elements_feed(&dec->elems, p, take, dec->err) != API_OK)
            return dec->err->status;
        dec->left -= take;
        dec->pos += take;
        p += take;
        len -= take;
        if (dec->left == 0 && settle(dec) != API_OK)
            return dec->err->status;
    }
    return API_OK;
}

static enum api_status st_feed(void *d, const unsigned char *p, size_t len, uint64_t offset,
                               struct api_error *err)
{
    struct api_safetensors_decoder *dec = d;

    dec->err = err;
    dec->pos = offset;
    while (len > 0 && dec->phase == ST_LENGTH) {
        dec->length[dec->length_have++] = *p++;
        len--;
        dec->pos++;
        if (dec->length_have == ST_LENGTH_BYTES && begin_header(dec) != API_OK)
            return err->status;
    }
    if (len > 0 && dec->phase == ST_HEADER && dec->header_len < dec->header_size) {
        bool oom;
        size_t took = take_header(dec, p, len, &oom);

        if (oom)
            return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the header");
        p += took;
        len -= took;
        dec->pos += took;
    }
    if (dec->phase == ST_HEADER && dec->header_len == dec->header_size) {
        if (parse_header(dec) != API_OK)
            return err->status;
        dec->phase = ST_DATA;
        if (dec->n_tensors > 0)
            start_tensor(dec);
        if (settle(dec) != API_OK)
            return err->status;
    }
    if (len > 0 && dec->phase == ST_DATA)
        return feed_data(dec, p, len);
    return API_OK;
}

static enum api_status st_finish(void *d, uint64_t length, struct api_error *err)
{
    struct api_safetensors_decoder *dec = d;
    char shown[ST_ECHO_MAX + 4];
    const struct st_tensor *t;

    dec->err = err;
    if (dec->phase == ST_LENGTH)
        return st_fail(dec, length,
                       "the body is %" PRIu64 " bytes: a safetensors file starts with an 8-byte "
                       "header length",
                       length);
    if (dec->phase == ST_HEADER)
        return st_fail(dec, length,
                       "the body ends inside the safetensors header (%zu of %zu bytes)",
                       dec->header_len, dec->header_size);
    if (dec->cur == dec->n_tensors) {
        api_result_settle_dtype(dec->res);
        return API_OK;
    }
    t = &dec->tensors[dec->cur];
    echo(t->name, t->name_len, shown);
    return st_fail(dec, length,
                   "the body ends inside the data of tensor '%s' (%" PRIu64 " of %" PRIu64
                   " bytes); the header declares %" PRIu64 " data bytes",
                   shown, t->end - t->begin - dec->left, t->end - t->begin, dec->data_size);
}

static void st_destroy(void *d)
{
    struct api_safetensors_decoder *dec = d;

    if (dec == NULL)
        return;
    for (size_t i = 0; i < dec->n_tensors; i++)
        free(dec->tensors[i].mem);
    free(dec->tensors);
    free(dec->header);
    api_elements_free(&dec->elems);
    free(dec);
}

const struct api_decoder_ops api_safetensors_ops = {st_create, st_feed, st_finish, st_destroy};
