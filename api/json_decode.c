/* json_decode.c -- streaming decoder for JSON tensor bodies.
 *
 * A byte-at-a-time state machine whose whole state lives in the decoder, so
 * a chunk may end anywhere; numbers are parsed in place (only one straddling
 * two chunks is copied), runs of plain elements skip the machine, and
 * squares go to the kernel in batches. Rectangularity is checked with one
 * expected length per depth, fixed when the first array at that depth closes. */
#include "json_decode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

/* Elements handed to the kernel in one l2_accum_feed call: its per-call
 * cost is only amortised over thousands (measured: float32 elements at
 * ~4 ns each through l2_accum_add, ~1.4 ns in calls of 1024, ~0.8 ns in
 * calls of 4096). */
#define BATCH 4096

enum state {
    ST_VALUE,         /* a value is expected */
    ST_ARRAY_FIRST,   /* after '[': a value or ']' */
    ST_AFTER_VALUE,   /* after a value: ',' or the closer of the container */
    ST_NUMBER,        /* inside a number token that began in an earlier chunk */
    ST_OBJ_FIRST,     /* after '{': a key or '}' */
    ST_KEY,           /* after ',' in an object: a key */
    ST_COLON,         /* after a key */
    ST_STRING,        /* inside a key */
    ST_ESCAPE,        /* after '\' in a key */
    ST_HEX,           /* inside the four hex digits of \uXXXX */
    ST_LOW_BACKSLASH, /* after a high surrogate: '\' of the low one */
    ST_LOW_U,         /* after a high surrogate and '\': 'u' */
    ST_UTF8,          /* inside a multi-byte UTF-8 sequence */
    ST_END,           /* the body's value is complete: whitespace only */
    ST_ERROR,
};

/* Object nesting of a named body. */
enum level {
    LEVEL_TOP,     /* outside any object */
    LEVEL_ROOT,    /* in {"tensors": ...} */
    LEVEL_TENSORS, /* in {"name": <tensor>, ...} */
};

struct api_json_decoder {
    struct api_result *res;
    enum api_status status;
    enum state state;
    enum level level;
    uint64_t base; /* body bytes fed before the current chunk */
    bool started;
    bool tensors_seen;
    bool in_tensor;

    /* the tensor being read */
    unsigned tdepth; /* open arrays */
    bool ndim_known;
    unsigned ndim;
    uint64_t known; /* bit d: shape[d] is fixed */
    uint64_t shape[API_MAX_DEPTH];
    uint64_t idx[API_MAX_DEPTH]; /* elements seen in the open array at depth d */
    struct l2_accum *target;     /* where squares go */
    struct l2_accum acc;         /* a named tensor's own sum */
    unsigned nbatch;             /* rounded elements waiting for the target */
    union {
        double d[BATCH]; /* float64 */
        float f[BATCH];  /* narrower dtypes: each value is a float32 */
    } batch;

    /* a number token straddling chunks */
    uint64_t tok_off;
    size_t tok_len;
    char tok[API_JSON_MAX_NUMBER];

    /* a key, decoded */
    size_t name_len;
    char name[API_MAX_NAME];
    unsigned utf8_need;
    unsigned char utf8_lo, utf8_hi;
    unsigned hex_n;
    uint32_t cp;
    uint32_t high; /* pending high surrogate, 0 when none */
    uint64_t esc_off;
    uint64_t high_off;
};

/* Character classes for the hot loops. */
enum {
    C_NUM = 1,   /* may be part of a number token */
    C_WS = 2,    /* JSON whitespace */
    C_PLAIN = 4, /* a key byte copied as is: printable ASCII but '"' and '\' */
};

static const unsigned char cls[256] = {
    ['\t'] = C_WS,           ['\n'] = C_WS,           ['\r'] = C_WS,
    [' '] = C_WS | C_PLAIN,  ['!'] = C_PLAIN,         ['#'] = C_PLAIN,
    ['$'] = C_PLAIN,         ['%'] = C_PLAIN,         ['&'] = C_PLAIN,
    ['\''] = C_PLAIN,        ['('] = C_PLAIN,         [')'] = C_PLAIN,
    ['*'] = C_PLAIN,         ['+'] = C_PLAIN | C_NUM, [','] = C_PLAIN,
    ['-'] = C_PLAIN | C_NUM, ['.'] = C_PLAIN | C_NUM, ['/'] = C_PLAIN,
    ['0'] = C_PLAIN | C_NUM, ['1'] = C_PLAIN | C_NUM, ['2'] = C_PLAIN | C_NUM,
    ['3'] = C_PLAIN | C_NUM, ['4'] = C_PLAIN | C_NUM, ['5'] = C_PLAIN | C_NUM,
    ['6'] = C_PLAIN | C_NUM, ['7'] = C_PLAIN | C_NUM, ['8'] = C_PLAIN | C_NUM,
    ['9'] = C_PLAIN | C_NUM, [':'] = C_PLAIN,         [';'] = C_PLAIN,
    ['<'] = C_PLAIN,         ['='] = C_PLAIN,         ['>'] = C_PLAIN,
    ['?'] = C_PLAIN,         ['@'] = C_PLAIN,         ['A'] = C_PLAIN,
    ['B'] = C_PLAIN,         ['C'] = C_PLAIN,         ['D'] = C_PLAIN,
    ['E'] = C_PLAIN | C_NUM, ['F'] = C_PLAIN,         ['G'] = C_PLAIN,
    ['H'] = C_PLAIN,         ['I'] = C_PLAIN,         ['J'] = C_PLAIN,
    ['K'] = C_PLAIN,         ['L'] = C_PLAIN,         ['M'] = C_PLAIN,
    ['N'] = C_PLAIN,         ['O'] = C_PLAIN,         ['P'] = C_PLAIN,
    ['Q'] = C_PLAIN,         ['R'] = C_PLAIN,         ['S'] = C_PLAIN,
    ['T'] = C_PLAIN,         ['U'] = C_PLAIN,         ['V'] = C_PLAIN,
    ['W'] = C_PLAIN,         ['X'] = C_PLAIN,         ['Y'] = C_PLAIN,
    ['Z'] = C_PLAIN,         ['['] = C_PLAIN,         [']'] = C_PLAIN,
    ['^'] = C_PLAIN,         ['_'] = C_PLAIN,         ['`'] = C_PLAIN,
    ['a'] = C_PLAIN,         ['b'] = C_PLAIN,         ['c'] = C_PLAIN,
    ['d'] = C_PLAIN,         ['e'] = C_PLAIN | C_NUM, ['f'] = C_PLAIN,
    ['g'] = C_PLAIN,         ['h'] = C_PLAIN,         ['i'] = C_PLAIN,
    ['j'] = C_PLAIN,         ['k'] = C_PLAIN,         ['l'] = C_PLAIN,
    ['m'] = C_PLAIN,         ['n'] = C_PLAIN,         ['o'] = C_PLAIN,
    ['p'] = C_PLAIN,         ['q'] = C_PLAIN,         ['r'] = C_PLAIN,
    ['s'] = C_PLAIN,         ['t'] = C_PLAIN,         ['u'] = C_PLAIN,
    ['v'] = C_PLAIN,         ['w'] = C_PLAIN,         ['x'] = C_PLAIN,
    ['y'] = C_PLAIN,         ['z'] = C_PLAIN,         ['{'] = C_PLAIN,
    ['|'] = C_PLAIN,         ['}'] = C_PLAIN,         ['~'] = C_PLAIN,
    [0x7f] = C_PLAIN,
};

/* ---- errors ------------------------------------------------------------ */

static enum api_status fail_json(struct api_json_decoder *dec, struct api_error *err, uint64_t off,
                                 const char *what)
{
    dec->status = API_INVALID_JSON;
    dec->state = ST_ERROR;
    api_error_set(err, API_INVALID_JSON, "invalid JSON at byte %llu: %s", (unsigned long long)off,
                  what);
    api_error_at_offset(err, (int64_t)off);
    return dec->status;
}

/* Writes the JSON Pointer of the tensor element reached through the first
 * ndepth open arrays into buf (API_POINTER_MAX bytes); returns its length. */
static size_t make_pointer(const struct api_json_decoder *dec, unsigned ndepth, char *buf)
{
    size_t pos = 0;

    buf[0] = '\0';
    if (dec->level == LEVEL_TENSORS) {
        api_result_pointer_append(buf, API_POINTER_MAX, &pos, "tensors", 7);
        api_result_pointer_append(buf, API_POINTER_MAX, &pos, dec->name, dec->name_len);
    }
    for (unsigned d = 0; d < ndepth; d++) {
        char num[24];
        int n = snprintf(num, sizeof num, "%llu", (unsigned long long)dec->idx[d]);
        api_result_pointer_append(buf, API_POINTER_MAX, &pos, num, (size_t)n);
    }
    return pos;
}

/* Records st at the element reached through ndepth open arrays; fmt gets
 * the pointer (or "the root") as its first argument. */
static enum api_status fail_at(struct api_json_decoder *dec, struct api_error *err,
                               enum api_status st, unsigned ndepth, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum api_status fail_at(struct api_json_decoder *dec, struct api_error *err,
                               enum api_status st, unsigned ndepth, const char *fmt, ...)
{
    char ptr[API_POINTER_MAX];
    char detail[API_DETAIL_MAX];
    size_t len = make_pointer(dec, ndepth, ptr);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    dec->status = st;
    dec->state = ST_ERROR;
    api_error_set(err, st, "%s", detail);
    api_error_at_pointer(err, ptr, len);
    return st;
}

/* The pointer text for a detail message. */
static const char *where(const struct api_json_decoder *dec, unsigned ndepth, char *buf)
{
    return make_pointer(dec, ndepth, buf) ? buf : "the root";
}

/* ---- tensors ----------------------------------------------------------- */

static void tensor_begin(struct api_json_decoder *dec)
{
    dec->in_tensor = true;
    dec->tdepth = 0;
    dec->ndim_known = false;
    dec->ndim = 0;
    dec->known = 0;
    if (dec->level == LEVEL_TENSORS) {
        l2_accum_init(&dec->acc);
        dec->target = &dec->acc;
    } else {
        dec->target = &dec->res->total;
    }
}

/* Hands the batched elements to the target accumulator. */
static void batch_flush(struct api_json_decoder *dec)
{
    if (dec->nbatch == 0)
        return;
    /* Host-order floats and doubles are the little-endian elements the
     * kernel reads on the little-endian targets l2d builds for. */
    if (dec->res->dtype == L2_DTYPE_FLOAT64)
        l2_accum_feed(dec->target, L2_DTYPE_FLOAT64, dec->batch.d, dec->nbatch, NULL);
    else
        l2_accum_feed(dec->target, L2_DTYPE_FLOAT32, dec->batch.f, dec->nbatch, NULL);
    dec->nbatch = 0;
}

/* Adds the square of y (finite, already rounded to the dtype). */
static inline void batch_put(struct api_json_decoder *dec, double y)
{
    if (dec->res->dtype == L2_DTYPE_FLOAT64)
        dec->batch.d[dec->nbatch] = y;
    else
        dec->batch.f[dec->nbatch] = (float)y; /* exact: y is in float32 */
    if (++dec->nbatch == BATCH)
        batch_flush(dec);
}

/* A value just ended: count it in its array, or end the tensor. */
static enum api_status value_done(struct api_json_decoder *dec, struct api_error *err)
{
    struct api_result *res = dec->res;

    dec->state = ST_AFTER_VALUE;
    if (dec->tdepth > 0) {
        dec->idx[dec->tdepth - 1]++;
        return API_OK;
    }
    dec->in_tensor = false;
    batch_flush(dec); /* the tensor's sum is read from here on */
    if (dec->level == LEVEL_TENSORS) {
        enum api_status st = api_result_add_tensor(res, dec->name, dec->name_len, &dec->acc,
                                                   dec->ndim, dec->shape, err);
        if (st != API_OK) {
            dec->status = st;
            dec->state = ST_ERROR;
        }
        return st;
    }
    res->ndim = dec->ndim;
    memcpy(res->shape, dec->shape, dec->ndim * sizeof res->shape[0]);
    dec->state = ST_END;
    return API_OK;
}

/* An element begins inside the innermost open array: check it fits. */
static enum api_status element_begin(struct api_json_decoder *dec, struct api_error *err)
{
    unsigned d = dec->tdepth - 1;

    if ((dec->known >> d & 1) && dec->idx[d] >= dec->shape[d]) {
        char ptr[API_POINTER_MAX];
        return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                       "ragged array: expected %llu element%s at %s, found more",
                       (unsigned long long)dec->shape[d], dec->shape[d] == 1 ? "" : "s",
                       where(dec, d, ptr));
    }
    return API_OK;
}

static enum api_status array_close(struct api_json_decoder *dec, struct api_error *err)
{
    unsigned d = dec->tdepth - 1;
    uint64_t n = dec->idx[d];
    char ptr[API_POINTER_MAX];

    if (dec->known >> d & 1) {
        if (n != dec->shape[d])
            return fail_at(dec, err, API_INVALID_TENSOR, d,
                           "ragged array: expected %llu element%s at %s, found %llu",
                           (unsigned long long)dec->shape[d], dec->shape[d] == 1 ? "" : "s",
                           where(dec, d, ptr), (unsigned long long)n);
    } else {
        dec->shape[d] = n;
        dec->known |= UINT64_C(1) << d;
    }
    if (n == 0) {
        if (!dec->ndim_known) {
            dec->ndim_known = true;
            dec->ndim = d + 1;
        } else if (dec->ndim != d + 1) {
            return fail_at(dec, err, API_INVALID_TENSOR, d,
                           "ragged array: expected nested arrays at %s, found an empty array",
                           where(dec, d, ptr));
        }
    }
    dec->tdepth--;
    return value_done(dec, err);
}

/* x rounded to the dtype, as l2_dtype_round: float64 is x itself, and a
 * float32 within range is the hardware conversion (nearest, ties to even,
 * subnormals kept), which is what l2_dtype_round computes. */
static inline double round_to(enum l2_dtype dt, double x)
{
    if (dt == L2_DTYPE_FLOAT64)
        return x;
    if (dt == L2_DTYPE_FLOAT32 && fabs(x) < 0x1p127)
        return (double)(float)x;
    return l2_dtype_round(dt, x);
}

/* A number token tok (len bytes) whose value is x: round to the dtype,
 * accumulate. */
static enum api_status number_value(struct api_json_decoder *dec, double x, const char *tok,
                                    size_t len, struct api_error *err)
{
    double y = round_to(dec->res->dtype, x);
    if (!isfinite(y)) {
        char ptr[API_POINTER_MAX];
        int shown = len > 40 ? 40 : (int)len;
        return fail_at(dec, err, API_NUMBER_OUT_OF_RANGE, dec->tdepth,
                       "number %.*s%s at %s is out of range for %s", shown, tok,
                       (size_t)shown < len ? "..." : "", where(dec, dec->tdepth, ptr),
                       l2_dtype_name(dec->res->dtype));
    }
    batch_put(dec, y);
    return value_done(dec, err);
}

/* A whole number token: parse, round to the dtype, accumulate. */
static enum api_status number_done(struct api_json_decoder *dec, const char *tok, size_t len,
                                   uint64_t off, struct api_error *err)
{
    double x;
    size_t bad;

    if (!api_numparse(tok, len, &x, &bad))
        return fail_json(dec, err, off + bad, "malformed number");
    return number_value(dec, x, tok, len, err);
}

/* Right after a number element of the innermost open array, in state
 * ST_AFTER_VALUE at p: reads the run ", number, number, ..." in place for
 * as long as each step is the plain case the machine would take (a comma,
 * whitespace, a room for one more element, a number api_numparse_run
 * decides inside this chunk, finite after rounding), doing exactly what the
 * machine would. Returns where it stopped, with dec->state ST_AFTER_VALUE
 * or ST_VALUE there; the machine takes over from that byte, so anything
 * else (a closer, an error, a number split by the chunk's end) is handled
 * by the one general path. */
static inline __attribute__((always_inline)) const char *
leaf_run_as(struct api_json_decoder *dec, const char *p, const char *end, enum l2_dtype dt)
{
    unsigned d = dec->tdepth - 1;
    uint64_t i = dec->idx[d];
    uint64_t limit = (dec->known >> d & 1) ? dec->shape[d] : UINT64_MAX;
    unsigned nb = dec->nbatch;

    for (;;) {
        while (p < end && (cls[(unsigned char)*p] & C_WS))
            p++;
        if (p == end || *p != ',') {
            dec->state = ST_AFTER_VALUE;
            break;
        }
        const char *q = p + 1;
        while (q < end && (cls[(unsigned char)*q] & C_WS))
            q++;
        double x;
        size_t n = i < limit ? api_numparse_run(q, end, &x) : 0;
        if (n == 0) {
            p = q;
            dec->state = ST_VALUE;
            break;
        }
        if (dt == L2_DTYPE_FLOAT64) {
            dec->batch.d[nb] = x; /* finite: api_numparse_run gives no inf */
        } else if (dt == L2_DTYPE_FLOAT32 && fabs(x) < 0x1p127) {
            dec->batch.f[nb] = (float)x; /* as round_to, in one conversion */
        } else {
            double y = round_to(dt, x);
            if (!isfinite(y)) {
                p = q;
                dec->state = ST_VALUE;
                break;
            }
            dec->batch.f[nb] = (float)y; /* exact: y is in float32 */
        }
        if (++nb == BATCH) {
            dec->nbatch = nb;
            batch_flush(dec);
            nb = 0;
        }
        i++;
        p = q + n;
    }
    dec->nbatch = nb;
    dec->idx[d] = i;
    return p;
}

static const char *leaf_run(struct api_json_decoder *dec, const char *p, const char *end)
{
    /* one copy of the loop per common dtype, its tests folded away */
    switch (dec->res->dtype) {
    case L2_DTYPE_FLOAT64:
        return leaf_run_as(dec, p, end, L2_DTYPE_FLOAT64);
    case L2_DTYPE_FLOAT32:
        return leaf_run_as(dec, p, end, L2_DTYPE_FLOAT32);
    default:
        return leaf_run_as(dec, p, end, dec->res->dtype);
    }
}

static enum api_status number_too_long(struct api_json_decoder *dec, struct api_error *err)
{
    char ptr[API_POINTER_MAX];
    return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                   "number at %s is longer than %d bytes", where(dec, dec->tdepth, ptr),
                   API_JSON_MAX_NUMBER);
}

static const char *kind_of(char c)
{
    switch (c) {
    case '{':
        return "an object";
    case '"':
        return "a string";
    case 't':
        return "true";
    case 'f':
        return "false";
    default:
        return "null";
    }
}

/* ---- keys -------------------------------------------------------------- */

/* Appends n decoded bytes to the key; refuses a key over API_MAX_NAME. */
static enum api_status key_put(struct api_json_decoder *dec, const char *s, size_t n,
                               struct api_error *err)
{
    if (dec->name_len + n > API_MAX_NAME) {
        dec->state = ST_ERROR;
        if (dec->level == LEVEL_ROOT) {
            dec->status = api_error_set(err, API_INVALID_TENSOR,
                                        "unknown key longer than %d bytes at the top level; "
                                        "the only key allowed is \"tensors\"",
                                        API_MAX_NAME);
            api_error_at_pointer(err, "", 0);
        } else {
            dec->status = api_error_set(err, API_INVALID_TENSOR, "tensor name longer than %d bytes",
                                        API_MAX_NAME);
            api_error_at_pointer(err, "/tensors", 8);
        }
        return dec->status;
    }
    memcpy(dec->name + dec->name_len, s, n);
    dec->name_len += n;
    return API_OK;
}

static enum api_status key_put_cp(struct api_json_decoder *dec, uint32_t cp, struct api_error *err)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return key_put(dec, u, n, err);
}

/* The closing quote of a key: check it where it stands. */
static enum api_status key_done(struct api_json_decoder *dec, struct api_error *err)
{
    dec->state = ST_COLON;
    if (dec->level == LEVEL_TENSORS) {
        enum api_status st = api_result_check_name(dec->res, dec->name, dec->name_len, err);
        if (st != API_OK) {
            dec->status = st;
            dec->state = ST_ERROR;
        }
        return st;
    }
    if (dec->name_len == 7 && memcmp(dec->name, "tensors", 7) == 0) {
        if (!dec->tensors_seen)
            return API_OK;
        dec->status = api_error_set(err, API_INVALID_TENSOR, "duplicate key \"tensors\"");
        api_error_at_pointer(err, "/tensors", 8);
    } else {
        char ptr[API_POINTER_MAX];
        size_t pos = 0;
        api_result_pointer_append(ptr, sizeof ptr, &pos, dec->name, dec->name_len);
        dec->status = api_error_set(err, API_INVALID_TENSOR,
                                    "unknown key at the top level; the only key allowed is "
                                    "\"tensors\"");
        api_error_at_pointer(err, ptr, pos);
    }
    dec->state = ST_ERROR;
    return dec->status;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ---- the machine ------------------------------------------------------- */

/* A value starts at p (not whitespace). Returns the status; *pp is moved
 * past what was consumed. */
static enum api_status value_begin(struct api_json_decoder *dec, const char **pp,
                                   struct api_error *err)
{
    const char *p = *pp;
    char c = *p;
    char ptr[API_POINTER_MAX];
    enum api_status st;

    if (!dec->in_tensor) {
        if (dec->level == LEVEL_TOP && c == '{') {
            dec->res->named = true;
            dec->level = LEVEL_ROOT;
            dec->state = ST_OBJ_FIRST;
            *pp = p + 1;
            return API_OK;
        }
        if (dec->level == LEVEL_ROOT) {
            if (c == '{') {
                dec->level = LEVEL_TENSORS;
                dec->tensors_seen = true;
                dec->state = ST_OBJ_FIRST;
                *pp = p + 1;
                return API_OK;
            }
            if (c == '[' || c == '-' || (c >= '0' && c <= '9') || c == '"' || c == 't' ||
                c == 'f' || c == 'n') {
                dec->status = api_error_set(err, API_INVALID_TENSOR,
                                            "expected an object of named tensors at /tensors");
                api_error_at_pointer(err, "/tensors", 8);
                dec->state = ST_ERROR;
                return dec->status;
            }
            return API_INVALID_JSON; /* caller reports the offset */
        }
        tensor_begin(dec);
    }
    if (!(c == '[' || c == '-' || (c >= '0' && c <= '9') || c == '{' || c == '"' || c == 't' ||
          c == 'f' || c == 'n'))
        return API_INVALID_JSON; /* not a value at all: the caller reports the offset */
    if (dec->tdepth > 0) {
        st = element_begin(dec, err);
        if (st != API_OK)
            return st;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (!dec->ndim_known) {
            dec->ndim_known = true;
            dec->ndim = dec->tdepth;
        } else if (dec->ndim != dec->tdepth) {
            return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                           "ragged array: expected an array at %s, found a number",
                           where(dec, dec->tdepth, ptr));
        }
        return API_OK; /* the caller scans the number */
    }
    if (c == '[') {
        if (dec->ndim_known && dec->tdepth >= dec->ndim)
            return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                           "ragged array: expected a number at %s, found an array",
                           where(dec, dec->tdepth, ptr));
        if (dec->tdepth == API_MAX_DEPTH)
            return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                           "arrays nested deeper than %d at %s", API_MAX_DEPTH,
                           where(dec, dec->tdepth, ptr));
        dec->idx[dec->tdepth++] = 0;
        dec->state = ST_ARRAY_FIRST;
        *pp = p + 1;
        return API_OK;
    }
    if (c == '{' || c == '"' || c == 't' || c == 'f' || c == 'n')
        return fail_at(
            dec, err, API_INVALID_TENSOR, dec->tdepth, "expected a number%s at %s, found %s",
            dec->tdepth == 0 ? " or an array" : "", where(dec, dec->tdepth, ptr), kind_of(c));
    return API_INVALID_JSON;
}

enum api_status api_json_feed(struct api_json_decoder *dec, const char *buf, size_t len,
                              struct api_error *err)
{
    static const char empty[1];
    const char *p, *end;
    enum api_status st = API_OK;

    if (buf == NULL) /* a NULL chunk must be empty: read it as "" */
        buf = empty, len = 0;
    p = buf;
    end = buf + len;

#define OFF(q) (dec->base + (uint64_t)((q)-buf))
#define FAIL_JSON(q, what)                                                                         \
    do {                                                                                           \
        st = fail_json(dec, err, OFF(q), what);                                                    \
        goto out;                                                                                  \
    } while (0)
#define CHECK(expr)                                                                                \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != API_OK)                                                                          \
            goto out;                                                                              \
    } while (0)

    if (dec->status != API_OK)
        return dec->status;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        switch (dec->state) {
        case ST_ARRAY_FIRST:
            if (cls[c] & C_WS) {
                p++;
                break;
            }
            if (c == ']') {
                p++;
                CHECK(array_close(dec, err));
                break;
            }
            dec->state = ST_VALUE;
            /* fall through */
        case ST_VALUE: {
            if (cls[c] & C_WS) {
                p++;
                break;
            }
            dec->started = true;
            const char *q = p;
            st = value_begin(dec, &q, err);
            if (st == API_INVALID_JSON && dec->status == API_OK)
                FAIL_JSON(p, c == ']' ? "expected a value, found ']'" : "expected a value");
            if (st != API_OK)
                goto out;
            if (q != p) {
                p = q;
                break;
            }
            /* a number: parse it in place */
            double x;
            size_t n = api_numparse_run(p, end, &x);
            if (n > 0) {
                CHECK(number_value(dec, x, p, n, err));
                p += n;
                if (dec->tdepth > 0)
                    p = leaf_run(dec, p, end);
                break;
            }
            while (q < end && (cls[(unsigned char)*q] & C_NUM))
                q++;
            if ((size_t)(q - p) > API_JSON_MAX_NUMBER) {
                st = number_too_long(dec, err);
                goto out;
            }
            if (q < end) {
                CHECK(number_done(dec, p, (size_t)(q - p), OFF(p), err));
            } else {
                dec->tok_off = OFF(p);
                dec->tok_len = (size_t)(q - p);
                memcpy(dec->tok, p, dec->tok_len);
                dec->state = ST_NUMBER;
            }
            p = q;
            break;
        }
        case ST_NUMBER: {
            const char *q = p;
            while (q < end && (cls[(unsigned char)*q] & C_NUM))
                q++;
            size_t n = (size_t)(q - p);
            if (n > API_JSON_MAX_NUMBER - dec->tok_len) {
                st = number_too_long(dec, err);
                goto out;
            }
            memcpy(dec->tok + dec->tok_len, p, n);
            dec->tok_len += n;
            p = q;
            if (q < end)
                CHECK(number_done(dec, dec->tok, dec->tok_len, dec->tok_off, err));
            break;
        }
        case ST_AFTER_VALUE:
            if (cls[c] & C_WS) {
                p++;
            } else if (dec->in_tensor) {
                if (c == ',') {
                    dec->state = ST_VALUE;
                    p++;
                } else if (c == ']') {
                    p++;
                    CHECK(array_close(dec, err));
                } else {
                    FAIL_JSON(p, "expected ',' or ']'");
                }
            } else if (c == ',') {
                dec->state = ST_KEY;
                p++;
            } else if (c == '}') {
                p++;
                if (dec->level == LEVEL_TENSORS) {
                    dec->level = LEVEL_ROOT;
                } else {
                    dec->level = LEVEL_TOP;
                    dec->state = ST_END;
                }
            } else {
                FAIL_JSON(p, "expected ',' or '}'");
            }
            break;
        case ST_OBJ_FIRST:
            if (cls[c] & C_WS) {
                p++;
            } else if (c == '}') {
                if (dec->level == LEVEL_ROOT) {
                    st = dec->status = api_error_set(err, API_INVALID_TENSOR,
                                                     "missing key \"tensors\" in the object");
                    api_error_at_pointer(err, "", 0);
                    dec->state = ST_ERROR;
                    goto out;
                }
                dec->level = LEVEL_ROOT;
                dec->state = ST_AFTER_VALUE;
                p++;
            } else if (c == '"') {
                dec->name_len = 0;
                dec->state = ST_STRING;
                p++;
            } else {
                FAIL_JSON(p, "expected a string key or '}'");
            }
            break;
        case ST_KEY:
            if (cls[c] & C_WS) {
                p++;
            } else if (c == '"') {
                dec->name_len = 0;
                dec->state = ST_STRING;
                p++;
            } else {
                FAIL_JSON(p, "expected a string key");
            }
            break;
        case ST_COLON:
            if (cls[c] & C_WS) {
                p++;
            } else if (c == ':') {
                dec->state = ST_VALUE;
                if (dec->level == LEVEL_TENSORS)
                    tensor_begin(dec);
                p++;
            } else {
                FAIL_JSON(p, "expected ':'");
            }
            break;
        case ST_STRING: {
            const char *q = p;
            while (q < end && (cls[(unsigned char)*q] & C_PLAIN))
                q++;
            if (q > p) {
                CHECK(key_put(dec, p, (size_t)(q - p), err));
                p = q;
                break;
            }
            if (c == '"') {
                p++;
                CHECK(key_done(dec, err));
            } else if (c == '\\') {
                dec->esc_off = OFF(p);
                dec->state = ST_ESCAPE;
                p++;
            } else if (c < 0x20) {
                FAIL_JSON(p, "control character in a string");
            } else {
                unsigned char lo = 0x80, hi = 0xbf;
                if (c >= 0xc2 && c <= 0xdf) {
                    dec->utf8_need = 1;
                } else if (c >= 0xe0 && c <= 0xef) {
                    dec->utf8_need = 2;
                    if (c == 0xe0)
                        lo = 0xa0;
                    else if (c == 0xed)
                        hi = 0x9f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                    dec->utf8_need = 3;
                    if (c == 0xf0)
                        lo = 0x90;
                    else if (c == 0xf4)
                        hi = 0x8f;
                } else {
                    FAIL_JSON(p, "invalid UTF-8 in a string");
                }
                dec->utf8_lo = lo;
                dec->utf8_hi = hi;
                CHECK(key_put(dec, p, 1, err));
                dec->state = ST_UTF8;
                p++;
            }
            break;
        }
        case ST_UTF8:
            if (c < dec->utf8_lo || c > dec->utf8_hi)
                FAIL_JSON(p, "invalid UTF-8 in a string");
            CHECK(key_put(dec, p, 1, err));
            dec->utf8_lo = 0x80;
            dec->utf8_hi = 0xbf;
            if (--dec->utf8_need == 0)
                dec->state = ST_STRING;
            p++;
            break;
        case ST_ESCAPE: {
            char e;
            switch (c) {
            case '"':
            case '\\':
            case '/':
                e = (char)c;
                break;
            case 'b':
                e = '\b';
                break;
            case 'f':
                e = '\f';
                break;
            case 'n':
                e = '\n';
                break;
            case 'r':
                e = '\r';
                break;
            case 't':
                e = '\t';
                break;
            case 'u':
                dec->hex_n = 0;
                dec->cp = 0;
                dec->state = ST_HEX;
                p++;
                continue;
            default:
                FAIL_JSON(p, "invalid escape in a string");
            }
            CHECK(key_put(dec, &e, 1, err));
            dec->state = ST_STRING;
            p++;
            break;
        }
        case ST_HEX: {
            int v = hex_value(c);
            if (v < 0)
                FAIL_JSON(p, "expected a hex digit in a \\u escape");
            dec->cp = dec->cp << 4 | (uint32_t)v;
            p++;
            if (++dec->hex_n < 4)
                break;
            uint32_t cp = dec->cp;
            if (dec->high != 0) {
                if (cp < 0xdc00 || cp > 0xdfff) {
                    st = fail_json(dec, err, dec->high_off, "lone high surrogate in a \\u escape");
                    goto out;
                }
                cp = 0x10000 + ((dec->high - 0xd800) << 10) + (cp - 0xdc00);
                dec->high = 0;
            } else if (cp >= 0xd800 && cp <= 0xdbff) {
                dec->high = cp;
                dec->high_off = dec->esc_off;
                dec->state = ST_LOW_BACKSLASH;
                break;
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                st = fail_json(dec, err, dec->esc_off, "lone low surrogate in a \\u escape");
                goto out;
            }
            CHECK(key_put_cp(dec, cp, err));
            dec->state = ST_STRING;
            break;
        }
        case ST_LOW_BACKSLASH:
        case ST_LOW_U:
            if (c != (dec->state == ST_LOW_BACKSLASH ? '\\' : 'u')) {
                st = fail_json(dec, err, dec->high_off, "lone high surrogate in a \\u escape");
                goto out;
            }
            if (dec->state == ST_LOW_BACKSLASH) {
                dec->state = ST_LOW_U;
            } else {
                dec->hex_n = 0;
                dec->cp = 0;
                dec->state = ST_HEX;
            }
            p++;
            break;
        case ST_END:
            if (!(cls[c] & C_WS))
                FAIL_JSON(p, "unexpected bytes after the JSON value");
            p++;
            break;
        case ST_ERROR:
            st = dec->status;
            goto out;
        }
    }
out:
    batch_flush(dec); /* between calls the result holds every element read */
    dec->base += len;
    return st;
#undef OFF
#undef FAIL_JSON
#undef CHECK
}

enum api_status api_json_finish(struct api_json_decoder *dec, struct api_error *err)
{
    if (dec->status != API_OK)
        return dec->status;
    if (dec->state == ST_NUMBER) {
        enum api_status st = number_done(dec, dec->tok, dec->tok_len, dec->tok_off, err);
        batch_flush(dec);
        if (st != API_OK)
            return st;
    }
    if (dec->state == ST_END)
        return API_OK;
    return fail_json(dec, err, dec->base, dec->started ? "unexpected end of body" : "empty body");
}

struct api_json_decoder *api_json_new(struct api_result *res)
{
    struct api_json_decoder *dec = malloc(sizeof *dec);

    if (dec == NULL)
        return NULL;
    dec->res = res;
    dec->status = API_OK;
    dec->state = ST_VALUE;
    dec->level = LEVEL_TOP;
    dec->base = 0;
    dec->started = false;
    dec->tensors_seen = false;
    dec->in_tensor = false;
    dec->tdepth = 0;
    dec->ndim_known = false;
    dec->ndim = 0;
    dec->known = 0;
    dec->target = &res->total;
    dec->nbatch = 0;
    l2_accum_init(&dec->acc);
    dec->tok_off = 0;
    dec->tok_len = 0;
    dec->name_len = 0;
    dec->utf8_need = 0;
    dec->utf8_lo = 0x80;
    dec->utf8_hi = 0xbf;
    dec->hex_n = 0;
    dec->cp = 0;
    dec->high = 0;
    dec->esc_off = 0;
    dec->high_off = 0;
    return dec;
}

void api_json_free(struct api_json_decoder *dec)
{
    free(dec);
}

/* TEMPORARY adapter until the JSON decoder speaks decoder.h itself. */
static enum api_status json_create(struct api_result *res, const struct api_decode_opts *opts,
                                   void **out, struct api_error *err)
{
    if (opts->has_dtype)
        res->dtype = opts->dtype;
    *out = api_json_new(res);
    if (*out == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the body decoder");
    return API_OK;
}

static enum api_status json_feed(void *dec, const unsigned char *buf, size_t len, uint64_t offset,
                                 struct api_error *err)
{
    (void)offset;
    return api_json_feed(dec, (const char *)buf, len, err);
}

static enum api_status json_finish(void *dec, uint64_t length, struct api_error *err)
{
    (void)length;
    return api_json_finish(dec, err);
}

static void json_destroy(void *dec)
{
    api_json_free(dec);
}

const struct api_decoder_ops api_json_ops = {json_create, json_feed, json_finish, json_destroy};
