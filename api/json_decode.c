/* json_decode.c -- streaming decoder for JSON tensor bodies.
 *
 * A state machine whose whole state lives in the decoder, so a chunk may end
 * anywhere: one small function per state consumes what it can of the chunk.
 * Numbers are parsed in place (only one straddling two chunks is copied),
 * runs of plain elements skip the machine, squares go to the kernel in
 * batches; literals are matched byte by byte. Rectangularity is checked with
 * one expected length per depth, fixed when the first array at that depth
 * closes. */
#include "json_decode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"
#include "text.h"

/* Elements handed to the kernel in one l2_accum_feed call: its per-call
 * cost is only amortised over thousands. */
#define BATCH 4096

enum state {
    ST_VALUE,         /* a value is expected */
    ST_ARRAY_FIRST,   /* after '[': a value or ']' */
    ST_AFTER_VALUE,   /* after a value: ',' or the closer of the container */
    ST_NUMBER,        /* inside a number token that may go on in a later chunk */
    ST_LITERAL,       /* inside true, false, null, NaN, Infinity or -Infinity */
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
};

/* Object nesting of a named body. */
enum level {
    LEVEL_TOP,     /* outside any object */
    LEVEL_ROOT,    /* in {"tensors": ...} */
    LEVEL_TENSORS, /* in {"name": <tensor>, ...} */
    LEVEL_VALUE,   /* one tensor inside a larger document (api_json_value) */
};

/* What a value is, known from its first byte (TOK_NONE: no value starts
 * with that byte), except -Infinity, which starts as a number. */
enum token {
    TOK_NONE,
    TOK_ARRAY,
    TOK_OBJECT,
    TOK_STRING,
    TOK_NUMBER,
    TOK_TRUE, /* the literals, matched byte by byte */
    TOK_FALSE,
    TOK_NULL,
    TOK_NAN, /* from here on: not JSON, counted under ?nonfinite=count */
    TOK_INFINITY,
    TOK_MINUS_INFINITY,
};

/* The one answer to "can a value start with this byte". */
static const unsigned char value_start[256] = {
    ['['] = TOK_ARRAY,  ['{'] = TOK_OBJECT, ['"'] = TOK_STRING,   ['-'] = TOK_NUMBER,
    ['0'] = TOK_NUMBER, ['1'] = TOK_NUMBER, ['2'] = TOK_NUMBER,   ['3'] = TOK_NUMBER,
    ['4'] = TOK_NUMBER, ['5'] = TOK_NUMBER, ['6'] = TOK_NUMBER,   ['7'] = TOK_NUMBER,
    ['8'] = TOK_NUMBER, ['9'] = TOK_NUMBER, ['t'] = TOK_TRUE,     ['f'] = TOK_FALSE,
    ['n'] = TOK_NULL,   ['N'] = TOK_NAN,    ['I'] = TOK_INFINITY,
};

static const struct literal {
    const char *text;
    unsigned len;
    double value; /* of a non-finite one */
} literals[] = {
    [TOK_TRUE] = {"true", 4, 0.0},
    [TOK_FALSE] = {"false", 5, 0.0},
    [TOK_NULL] = {"null", 4, 0.0},
    [TOK_NAN] = {"NaN", 3, NAN},
    [TOK_INFINITY] = {"Infinity", 8, INFINITY},
    [TOK_MINUS_INFINITY] = {"-Infinity", 9, -INFINITY},
};

struct api_json_decoder {
    struct api_result *res;
    enum api_status status; /* the first error, API_OK until then */
    enum state state;
    enum level level;
    bool count_nonfinite; /* ?nonfinite=count */
    bool nonfinite_seen;  /* a NaN/Infinity token was counted: the first, at nonfinite_off */
    enum token nonfinite_tok;
    uint64_t nonfinite_off;
    bool started; /* a value began */
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

    /* a literal being matched */
    enum token lit;
    unsigned lit_pos; /* bytes of literals[lit].text matched */
    uint64_t lit_off;

    /* a key, decoded */
    size_t name_len;
    char name[API_MAX_NAME];
    struct api_text_utf8 utf8; /* the UTF-8 character being read in a key */
    unsigned hex_n;
    uint32_t cp;
    uint32_t high; /* pending high surrogate, 0 when none */
    uint64_t esc_off;
    uint64_t high_off;
};

/* The chunk being fed: p is the next byte to read, buf its first, at body
 * offset off. */
struct cursor {
    const char *p;
    const char *end;
    const char *buf;
    uint64_t off;
};

static inline uint64_t off_at(const struct cursor *cur, const char *q)
{
    return cur->off + (uint64_t)(q - cur->buf);
}

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

/* Skips whitespace; false when the chunk ends first. */
static inline bool skip_ws(struct cursor *cur)
{
    while (cur->p < cur->end && (cls[(unsigned char)*cur->p] & C_WS))
        cur->p++;
    return cur->p < cur->end;
}

/* ---- errors ------------------------------------------------------------ */

static enum api_status fail_json(struct api_error *err, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum api_status fail_json(struct api_error *err, uint64_t off, const char *fmt, ...)
{
    char what[API_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    api_error_set(err, API_INVALID_JSON, "invalid JSON at byte %llu: %s", (unsigned long long)off,
                  what);
    api_error_at_offset(err, (int64_t)off);
    return API_INVALID_JSON;
}

/* Writes the JSON Pointer of the tensor element reached through the first
 * ndepth open arrays into buf (API_POINTER_MAX bytes); returns its length. */
static size_t make_pointer(const struct api_json_decoder *dec, unsigned ndepth, char *buf)
{
    size_t pos = 0;

    buf[0] = '\0';
    if (dec->level == LEVEL_VALUE) { /* name holds the value's own pointer */
        pos = dec->name_len < API_POINTER_MAX - 1 ? dec->name_len : API_POINTER_MAX - 1;
        memcpy(buf, dec->name, pos);
        buf[pos] = '\0';
    } else if (dec->level == LEVEL_TENSORS) {
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
 * the pointer (or "the root") from where(). */
static enum api_status fail_at(const struct api_json_decoder *dec, struct api_error *err,
                               enum api_status st, unsigned ndepth, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum api_status fail_at(const struct api_json_decoder *dec, struct api_error *err,
                               enum api_status st, unsigned ndepth, const char *fmt, ...)
{
    char ptr[API_POINTER_MAX];
    char detail[API_DETAIL_MAX];
    size_t len = make_pointer(dec, ndepth, ptr);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    api_error_set(err, st, "%s", detail);
    api_error_at_pointer(err, ptr, len);
    return st;
}

enum api_status api_json_nonfinite_error(struct api_error *err, uint64_t off, const char *token,
                                         const char *how)
{
    return fail_json(err, off,
                     "%s is not JSON (Python's json.dumps writes it for non-finite floats): "
                     "send finite numbers, with json.dumps(..., allow_nan=False), or %s to "
                     "count NaN and infinities",
                     token, how);
}

/* The pointer text for a detail message. */
static const char *where(const struct api_json_decoder *dec, unsigned ndepth, char *buf)
{
    return make_pointer(dec, ndepth, buf) ? buf : "the root";
}

/* A value other than an object where the object of named tensors belongs. */
static enum api_status fail_not_tensors(struct api_error *err)
{
    api_error_set(err, API_INVALID_TENSOR, "expected an object of named tensors at /tensors");
    api_error_at_pointer(err, "/tensors", 8);
    return API_INVALID_TENSOR;
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
    if (dec->level == LEVEL_TENSORS)
        return api_result_add_tensor(res, dec->name, dec->name_len, &dec->acc, dec->ndim,
                                     dec->shape, err);
    res->ndim = dec->ndim;
    memcpy(res->shape, dec->shape, dec->ndim * sizeof res->shape[0]);
    dec->state = ST_END;
    return API_OK;
}

/* A value begins inside the innermost open array: check it fits. */
static enum api_status element_begin(const struct api_json_decoder *dec, struct api_error *err)
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

/* A scalar element (a number, or a counted NaN/Inf) at the current depth:
 * the first one fixes the tensor's rank, the others must agree. */
static enum api_status scalar_begin(struct api_json_decoder *dec, struct api_error *err)
{
    char ptr[API_POINTER_MAX];

    if (!dec->ndim_known) {
        dec->ndim_known = true;
        dec->ndim = dec->tdepth;
        return API_OK;
    }
    if (dec->ndim != dec->tdepth)
        return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                       "ragged array: expected an array at %s, found a number",
                       where(dec, dec->tdepth, ptr));
    return API_OK;
}

static enum api_status array_open(struct api_json_decoder *dec, struct cursor *cur,
                                  struct api_error *err)
{
    char ptr[API_POINTER_MAX];

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
    cur->p++;
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

/* ---- numbers ----------------------------------------------------------- */

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
 * accumulate. Out of range for the dtype even under ?nonfinite=count: only
 * NaN/Infinity tokens are counted. */
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

/* A whole number token at body offset off: parse, round, accumulate. */
static enum api_status number_done(struct api_json_decoder *dec, const char *tok, size_t len,
                                   uint64_t off, struct api_error *err)
{
    double x;
    size_t bad;

    if (!dec->in_tensor) /* the value of "tensors" */
        return fail_not_tensors(err);
    if (!api_numparse(tok, len, &x, &bad))
        return fail_json(err, off + bad, "malformed number");
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

/* Not inlined into its caller: in a frame of its own the run's loop keeps
 * its counters in registers (inlined into on_value, the element index
 * went through the stack on every element, ~3% of bench_json). */
static __attribute__((noinline)) const char *leaf_run(struct api_json_decoder *dec, const char *p,
                                                      const char *end)
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

static enum api_status number_too_long(const struct api_json_decoder *dec, struct api_error *err)
{
    char ptr[API_POINTER_MAX];

    if (!dec->in_tensor) /* the value of "tensors" */
        return fail_not_tensors(err);
    return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                   "number at %s is longer than %d bytes", where(dec, dec->tdepth, ptr),
                   API_JSON_MAX_NUMBER);
}

/* ---- literals ---------------------------------------------------------- */

static void literal_begin(struct api_json_decoder *dec, enum token lit, unsigned matched,
                          uint64_t off)
{
    dec->lit = lit;
    dec->lit_pos = matched;
    dec->lit_off = off;
    dec->state = ST_LITERAL;
}

/* Counts x, a NaN or an infinity (?nonfinite=count), as an element of the
 * tensor: in its count and nan_count or inf_count, not in its sums. */
static void count_nonfinite(struct api_json_decoder *dec, double x)
{
    l2_accum_add_nonfinite(dec->target, x);
}

/* A whole literal where a value belongs. */
static enum api_status literal_done(struct api_json_decoder *dec, struct api_error *err)
{
    const struct literal *l = &literals[dec->lit];
    enum api_status st;
    char ptr[API_POINTER_MAX];

    if (dec->lit >= TOK_NAN && !dec->count_nonfinite)
        return api_json_nonfinite_error(err, dec->lit_off, l->text, "add ?nonfinite=count");
    if (!dec->in_tensor)
        return fail_not_tensors(err);
    if (dec->lit < TOK_NAN)
        return fail_at(
            dec, err, API_INVALID_TENSOR, dec->tdepth, "expected a number%s at %s, found %s",
            dec->tdepth == 0 ? " or an array" : "", where(dec, dec->tdepth, ptr), l->text);
    st = scalar_begin(dec, err);
    if (st == API_OK) {
        if (!dec->nonfinite_seen) {
            dec->nonfinite_seen = true;
            dec->nonfinite_tok = dec->lit;
            dec->nonfinite_off = dec->lit_off;
        }
        count_nonfinite(dec, l->value);
        st = value_done(dec, err);
    }
    return st;
}

/* ST_LITERAL: the literal's next bytes, as far as the chunk goes. */
static enum api_status on_literal(struct api_json_decoder *dec, struct cursor *cur,
                                  struct api_error *err)
{
    const struct literal *l = &literals[dec->lit];

    while (dec->lit_pos < l->len && cur->p < cur->end) {
        if (*cur->p != l->text[dec->lit_pos])
            return fail_json(err, off_at(cur, cur->p), "expected '%c' to complete %s%s",
                             l->text[dec->lit_pos], l->text,
                             dec->lit >= TOK_NAN ? ", which is not JSON either" : "");
        cur->p++;
        dec->lit_pos++;
    }
    if (dec->lit_pos < l->len)
        return API_OK;
    return literal_done(dec, err);
}

/* ---- keys -------------------------------------------------------------- */

/* Appends n decoded bytes to the key; refuses a key over API_MAX_NAME. */
static enum api_status key_put(struct api_json_decoder *dec, const char *s, size_t n,
                               struct api_error *err)
{
    if (dec->name_len + n > API_MAX_NAME) {
        if (dec->level == LEVEL_ROOT) {
            api_error_set(err, API_INVALID_TENSOR,
                          "unknown key longer than %d bytes at the top level; "
                          "the only key allowed is \"tensors\"",
                          API_MAX_NAME);
            api_error_at_pointer(err, "", 0);
        } else {
            api_error_set(err, API_INVALID_TENSOR, "tensor name longer than %d bytes",
                          API_MAX_NAME);
            api_error_at_pointer(err, "/tensors", 8);
        }
        return API_INVALID_TENSOR;
    }
    memcpy(dec->name + dec->name_len, s, n);
    dec->name_len += n;
    return API_OK;
}

static enum api_status key_put_cp(struct api_json_decoder *dec, uint32_t cp, struct api_error *err)
{
    char u[4];

    return key_put(dec, u, api_text_utf8_encode(cp, u), err);
}

/* The closing quote of a key: check it where it stands. */
static enum api_status key_done(struct api_json_decoder *dec, struct api_error *err)
{
    char ptr[API_POINTER_MAX];
    size_t pos = 0;

    dec->state = ST_COLON;
    if (dec->level == LEVEL_TENSORS)
        return api_result_check_name(dec->res, dec->name, dec->name_len, err);
    if (dec->name_len == 7 && memcmp(dec->name, "tensors", 7) == 0) {
        if (!dec->tensors_seen)
            return API_OK;
        api_error_set(err, API_INVALID_TENSOR, "duplicate key \"tensors\"");
        api_error_at_pointer(err, "/tensors", 8);
        return API_INVALID_TENSOR;
    }
    api_result_pointer_append(ptr, sizeof ptr, &pos, dec->name, dec->name_len);
    api_error_set(err, API_INVALID_TENSOR,
                  "unknown key at the top level; the only key allowed is \"tensors\"");
    api_error_at_pointer(err, ptr, pos);
    return API_INVALID_TENSOR;
}

/* ST_OBJ_FIRST: a key or '}'. */
static enum api_status on_obj_first(struct api_json_decoder *dec, struct cursor *cur,
                                    struct api_error *err)
{
    if (!skip_ws(cur))
        return API_OK;
    if (*cur->p == '}') {
        if (dec->level == LEVEL_ROOT) {
            api_error_set(err, API_INVALID_TENSOR, "missing key \"tensors\" in the object");
            api_error_at_pointer(err, "", 0);
            return API_INVALID_TENSOR;
        }
        cur->p++;
        dec->level = LEVEL_ROOT;
        dec->state = ST_AFTER_VALUE;
        return API_OK;
    }
    if (*cur->p != '"')
        return fail_json(err, off_at(cur, cur->p), "expected a string key or '}'");
    cur->p++;
    dec->name_len = 0;
    dec->state = ST_STRING;
    return API_OK;
}

/* ST_KEY: a key after ','. */
static enum api_status on_key(struct api_json_decoder *dec, struct cursor *cur,
                              struct api_error *err)
{
    if (!skip_ws(cur))
        return API_OK;
    if (*cur->p != '"')
        return fail_json(err, off_at(cur, cur->p), "expected a string key");
    cur->p++;
    dec->name_len = 0;
    dec->state = ST_STRING;
    return API_OK;
}

/* ST_COLON: ':' after a key; a named tensor's value begins after it. */
static enum api_status on_colon(struct api_json_decoder *dec, struct cursor *cur,
                                struct api_error *err)
{
    if (!skip_ws(cur))
        return API_OK;
    if (*cur->p != ':')
        return fail_json(err, off_at(cur, cur->p), "expected ':'");
    cur->p++;
    dec->state = ST_VALUE;
    if (dec->level == LEVEL_TENSORS)
        tensor_begin(dec);
    return API_OK;
}

/* The lead byte c of a multi-byte UTF-8 character in a key, at off. */
static enum api_status utf8_lead(struct api_json_decoder *dec, unsigned char c, uint64_t off,
                                 struct api_error *err)
{
    char b = (char)c;

    if (api_text_utf8_next(&dec->utf8, c) != API_TEXT_UTF8_MORE)
        return fail_json(err, off, "invalid UTF-8 in a string");
    dec->state = ST_UTF8;
    return key_put(dec, &b, 1, err);
}

/* ST_STRING: a run of plain key bytes, or the one byte that ends it. */
static enum api_status on_string(struct api_json_decoder *dec, struct cursor *cur,
                                 struct api_error *err)
{
    const char *p = cur->p, *q = p;
    unsigned char c = (unsigned char)*p;

    while (q < cur->end && (cls[(unsigned char)*q] & C_PLAIN))
        q++;
    if (q > p) {
        cur->p = q;
        return key_put(dec, p, (size_t)(q - p), err);
    }
    cur->p = p + 1;
    if (c == '"')
        return key_done(dec, err);
    if (c == '\\') {
        dec->esc_off = off_at(cur, p);
        dec->state = ST_ESCAPE;
        return API_OK;
    }
    if (c < 0x20)
        return fail_json(err, off_at(cur, p), "control character in a string");
    return utf8_lead(dec, c, off_at(cur, p), err);
}

/* ST_UTF8: a continuation byte of a multi-byte character. */
static enum api_status on_utf8(struct api_json_decoder *dec, struct cursor *cur,
                               struct api_error *err)
{
    enum api_text_utf8_step step = api_text_utf8_next(&dec->utf8, (unsigned char)*cur->p);

    if (step == API_TEXT_UTF8_INVALID)
        return fail_json(err, off_at(cur, cur->p), "invalid UTF-8 in a string");
    if (step == API_TEXT_UTF8_DONE)
        dec->state = ST_STRING;
    return key_put(dec, cur->p++, 1, err);
}

/* ST_ESCAPE: the letter after '\'. */
static enum api_status on_escape(struct api_json_decoder *dec, struct cursor *cur,
                                 struct api_error *err)
{
    unsigned char c = (unsigned char)*cur->p;
    int e = api_text_json_unescape(c);
    char b = (char)e;

    if (c == 'u') {
        cur->p++;
        dec->hex_n = 0;
        dec->cp = 0;
        dec->state = ST_HEX;
        return API_OK;
    }
    if (e < 0)
        return fail_json(err, off_at(cur, cur->p), "invalid escape in a string");
    cur->p++;
    dec->state = ST_STRING;
    return key_put(dec, &b, 1, err);
}

/* ST_HEX: one of the four hex digits of \uXXXX; the last one ends the code
 * unit, which pairs with a pending high surrogate or waits for its low one. */
static enum api_status on_hex(struct api_json_decoder *dec, struct cursor *cur,
                              struct api_error *err)
{
    int v = api_text_hex_value((unsigned char)*cur->p);
    uint32_t cp;

    if (v < 0)
        return fail_json(err, off_at(cur, cur->p), "expected a hex digit in a \\u escape");
    cur->p++;
    dec->cp = dec->cp << 4 | (uint32_t)v;
    if (++dec->hex_n < 4)
        return API_OK;
    cp = dec->cp;
    if (dec->high != 0) {
        if (cp < 0xdc00 || cp > 0xdfff)
            return fail_json(err, dec->high_off, "lone high surrogate in a \\u escape");
        cp = 0x10000 + ((dec->high - 0xd800) << 10) + (cp - 0xdc00);
        dec->high = 0;
    } else if (cp >= 0xd800 && cp <= 0xdbff) {
        dec->high = cp;
        dec->high_off = dec->esc_off;
        dec->state = ST_LOW_BACKSLASH;
        return API_OK;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return fail_json(err, dec->esc_off, "lone low surrogate in a \\u escape");
    }
    dec->state = ST_STRING;
    return key_put_cp(dec, cp, err);
}

/* ST_LOW_BACKSLASH, ST_LOW_U: the "\u" of the low surrogate that must
 * follow a high one. */
static enum api_status on_low_surrogate(struct api_json_decoder *dec, struct cursor *cur,
                                        struct api_error *err)
{
    bool backslash = dec->state == ST_LOW_BACKSLASH;

    if (*cur->p != (backslash ? '\\' : 'u'))
        return fail_json(err, dec->high_off, "lone high surrogate in a \\u escape");
    cur->p++;
    if (backslash) {
        dec->state = ST_LOW_U;
    } else {
        dec->hex_n = 0;
        dec->cp = 0;
        dec->state = ST_HEX;
    }
    return API_OK;
}

/* ---- values ------------------------------------------------------------ */

/* A number begins at cur->p, inside a tensor: decided in place when it can
 * be (then, inside an array, the run of numbers after it too), else read
 * by on_number. */
static enum api_status number_begin(struct api_json_decoder *dec, struct cursor *cur,
                                    struct api_error *err)
{
    enum api_status st = scalar_begin(dec, err);
    const char *tok = cur->p;
    double x;
    size_t n;

    if (st != API_OK)
        return st;
    n = api_numparse_run(tok, cur->end, &x);
    if (n == 0) {
        dec->tok_off = off_at(cur, tok);
        dec->tok_len = 0;
        dec->state = ST_NUMBER;
        return API_OK;
    }
    cur->p += n;
    st = number_value(dec, x, tok, n, err);
    if (st == API_OK && dec->tdepth > 0)
        cur->p = leaf_run(dec, cur->p, cur->end);
    return st;
}

/* ST_NUMBER: the bytes of a number token, copied while it may go on in the
 * next chunk; parsed where it ends. A lone '-' before 'I' is -Infinity. */
static enum api_status on_number(struct api_json_decoder *dec, struct cursor *cur,
                                 struct api_error *err)
{
    const char *p = cur->p, *q = p;
    const char *tok;
    size_t n, len;

    while (q < cur->end && (cls[(unsigned char)*q] & C_NUM))
        q++;
    n = (size_t)(q - p);
    if (n > API_JSON_MAX_NUMBER - dec->tok_len)
        return number_too_long(dec, err);
    cur->p = q;
    if (q == cur->end || dec->tok_len > 0) {
        memcpy(dec->tok + dec->tok_len, p, n);
        dec->tok_len += n;
        if (q == cur->end)
            return API_OK;
        tok = dec->tok;
        len = dec->tok_len;
    } else {
        tok = p; /* the whole token is in this chunk: read it in place */
        len = n;
    }
    if (len == 1 && tok[0] == '-' && *q == 'I') {
        literal_begin(dec, TOK_MINUS_INFINITY, 1, dec->tok_off);
        return API_OK;
    }
    return number_done(dec, tok, len, dec->tok_off, err);
}

/* A value that is not part of a tensor: the body's object, or the value of
 * "tensors" in it. */
static enum api_status outer_value(struct api_json_decoder *dec, enum token tok, struct cursor *cur,
                                   struct api_error *err)
{
    if (tok == TOK_OBJECT) {
        if (dec->level == LEVEL_TOP) {
            dec->res->named = true;
            dec->level = LEVEL_ROOT;
        } else {
            dec->level = LEVEL_TENSORS;
            dec->tensors_seen = true;
        }
        dec->state = ST_OBJ_FIRST;
        cur->p++;
        return API_OK;
    }
    if (tok >= TOK_TRUE) { /* which literal, and whether whole, decides */
        literal_begin(dec, tok, 0, off_at(cur, cur->p));
        return API_OK;
    }
    if (tok == TOK_NUMBER) { /* refused where it ends, unless it is -Infinity */
        dec->tok_off = off_at(cur, cur->p);
        dec->tok_len = 0;
        dec->state = ST_NUMBER;
        return API_OK;
    }
    return fail_not_tensors(err);
}

/* ST_VALUE: whitespace, then the first byte of a value, which says what it
 * is. */
static enum api_status on_value(struct api_json_decoder *dec, struct cursor *cur,
                                struct api_error *err)
{
    enum token tok;
    enum api_status st;
    char ptr[API_POINTER_MAX];

    if (!skip_ws(cur))
        return API_OK;
    tok = value_start[(unsigned char)*cur->p];
    if (tok == TOK_NONE)
        return fail_json(err, off_at(cur, cur->p),
                         *cur->p == ']' ? "expected a value, found ']'" : "expected a value");
    dec->started = true;
    if (!dec->in_tensor && dec->level != LEVEL_VALUE &&
        (dec->level == LEVEL_ROOT || tok == TOK_OBJECT))
        return outer_value(dec, tok, cur, err);
    if (!dec->in_tensor)
        tensor_begin(dec); /* the body is one tensor */
    if (dec->tdepth > 0) {
        st = element_begin(dec, err);
        if (st != API_OK)
            return st;
    }
    switch (tok) {
    case TOK_NUMBER:
        return number_begin(dec, cur, err);
    case TOK_ARRAY:
        return array_open(dec, cur, err);
    case TOK_OBJECT:
    case TOK_STRING:
        return fail_at(dec, err, API_INVALID_TENSOR, dec->tdepth,
                       "expected a number%s at %s, found %s",
                       dec->tdepth == 0 ? " or an array" : "", where(dec, dec->tdepth, ptr),
                       tok == TOK_OBJECT ? "an object" : "a string");
    default: /* a literal: only a whole one says what it is */
        literal_begin(dec, tok, 0, off_at(cur, cur->p));
        return API_OK;
    }
}

/* ST_ARRAY_FIRST: ']' of an empty array, or its first value. */
static enum api_status on_array_first(struct api_json_decoder *dec, struct cursor *cur,
                                      struct api_error *err)
{
    if (!skip_ws(cur))
        return API_OK;
    if (*cur->p == ']') {
        cur->p++;
        return array_close(dec, err);
    }
    dec->state = ST_VALUE;
    return API_OK;
}

/* ST_AFTER_VALUE: ',' or the closer of the array or object around it. */
static enum api_status on_after_value(struct api_json_decoder *dec, struct cursor *cur,
                                      struct api_error *err)
{
    char c;

    if (!skip_ws(cur))
        return API_OK;
    c = *cur->p;
    if (dec->in_tensor) { /* inside an array */
        if (c != ',' && c != ']')
            return fail_json(err, off_at(cur, cur->p), "expected ',' or ']'");
        cur->p++;
        if (c == ']')
            return array_close(dec, err);
        dec->state = ST_VALUE;
        return API_OK;
    }
    if (c != ',' && c != '}')
        return fail_json(err, off_at(cur, cur->p), "expected ',' or '}'");
    cur->p++;
    if (c == ',') {
        dec->state = ST_KEY;
    } else if (dec->level == LEVEL_TENSORS) {
        dec->level = LEVEL_ROOT;
    } else {
        dec->level = LEVEL_TOP;
        dec->state = ST_END;
    }
    return API_OK;
}

/* ST_END: only whitespace may follow the body's value. */
static enum api_status on_end(struct api_json_decoder *dec, struct cursor *cur,
                              struct api_error *err)
{
    (void)dec;
    if (!skip_ws(cur))
        return API_OK;
    return fail_json(err, off_at(cur, cur->p), "unexpected bytes after the JSON value");
}

/* ---- the machine ------------------------------------------------------- */

/* Reads from cur->p (< cur->end) in the current state. */
static enum api_status step(struct api_json_decoder *dec, struct cursor *cur, struct api_error *err)
{
    switch (dec->state) {
    case ST_VALUE:
        return on_value(dec, cur, err);
    case ST_ARRAY_FIRST:
        return on_array_first(dec, cur, err);
    case ST_AFTER_VALUE:
        return on_after_value(dec, cur, err);
    case ST_NUMBER:
        return on_number(dec, cur, err);
    case ST_LITERAL:
        return on_literal(dec, cur, err);
    case ST_OBJ_FIRST:
        return on_obj_first(dec, cur, err);
    case ST_KEY:
        return on_key(dec, cur, err);
    case ST_COLON:
        return on_colon(dec, cur, err);
    case ST_STRING:
        return on_string(dec, cur, err);
    case ST_ESCAPE:
        return on_escape(dec, cur, err);
    case ST_HEX:
        return on_hex(dec, cur, err);
    case ST_LOW_BACKSLASH:
    case ST_LOW_U:
        return on_low_surrogate(dec, cur, err);
    case ST_UTF8:
        return on_utf8(dec, cur, err);
    case ST_END:
        return on_end(dec, cur, err);
    }
    return API_OK;
}

/* Reads buf until it ends, an error, or (LEVEL_VALUE) the value's end;
 * the bytes read in *used. */
static enum api_status run(struct api_json_decoder *dec, const unsigned char *buf, size_t len,
                           uint64_t offset, size_t *used, struct api_error *err)
{
    enum api_status st = dec->status;
    bool stop_at_end = dec->level == LEVEL_VALUE;
    struct cursor cur;

    cur.buf = (const char *)buf;
    cur.p = cur.buf;
    cur.end = cur.buf + len;
    cur.off = offset;
    while (st == API_OK && cur.p < cur.end && !(stop_at_end && dec->state == ST_END))
        st = step(dec, &cur, err);
    batch_flush(dec); /* between calls the result holds every element read */
    dec->status = st;
    *used = (size_t)(cur.p - cur.buf);
    return st;
}

static enum api_status json_feed(void *opaque, const unsigned char *buf, size_t len,
                                 uint64_t offset, struct api_error *err)
{
    struct api_json_decoder *dec = opaque;
    size_t used;

    if (dec->status != API_OK || len == 0)
        return dec->status;
    return run(dec, buf, len, offset, &used, err);
}

/* The body ended before its value did, at byte length. */
static enum api_status fail_cut(const struct api_json_decoder *dec, uint64_t length,
                                struct api_error *err)
{
    if (dec->state == ST_LITERAL)
        return fail_json(err, length, "unexpected end of body inside %s%s", literals[dec->lit].text,
                         dec->lit >= TOK_NAN ? ", which is not JSON either" : "");
    return fail_json(err, length, dec->started ? "unexpected end of body" : "empty body");
}

static enum api_status json_finish(void *opaque, uint64_t length, struct api_error *err)
{
    struct api_json_decoder *dec = opaque;
    enum api_status st = dec->status;

    if (st == API_OK && dec->state == ST_NUMBER) {
        st = number_done(dec, dec->tok, dec->tok_len, dec->tok_off, err);
        batch_flush(dec);
    }
    if (st == API_OK && dec->state != ST_END)
        st = fail_cut(dec, length, err);
    dec->status = st;
    return st;
}

static enum api_status json_create(struct api_result *res, const struct api_decode_opts *opts,
                                   void **out, struct api_error *err)
{
    /* Field by field: zeroing the whole decoder (its batch and buffers,
     * ~38 KiB) would cost small requests more than their decoding. */
    struct api_json_decoder *dec = malloc(sizeof *dec);

    *out = NULL;
    if (dec == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the JSON decoder");
    if (opts->has_dtype)
        res->dtype = opts->dtype;
    dec->res = res;
    dec->status = API_OK;
    dec->state = ST_VALUE;
    dec->level = LEVEL_TOP;
    dec->count_nonfinite = opts->count_nonfinite;
    dec->nonfinite_seen = false;
    dec->nonfinite_tok = TOK_NONE;
    dec->nonfinite_off = 0;
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
    dec->lit = TOK_NONE;
    dec->lit_pos = 0;
    dec->lit_off = 0;
    dec->name_len = 0;
    api_text_utf8_init(&dec->utf8);
    dec->hex_n = 0;
    dec->cp = 0;
    dec->high = 0;
    dec->esc_off = 0;
    dec->high_off = 0;
    *out = dec;
    return API_OK;
}

static void json_destroy(void *dec)
{
    free(dec);
}

/* ---- one value inside a document ----------------------------------------- */

struct api_json_value {
    struct api_result res;
    struct api_json_decoder *dec;
};

enum api_status api_json_value_new(enum l2_dtype dtype, bool count_nonfinite, const char *pointer,
                                   struct api_json_value **out, struct api_error *err)
{
    const struct api_decode_opts opts = {dtype, true, count_nonfinite, 0, NULL};
    struct api_json_value *v = malloc(sizeof *v);
    size_t len = strlen(pointer);
    void *dec;

    *out = NULL;
    if (v == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the JSON decoder");
    api_result_init(&v->res, L2_DTYPE_FLOAT64);
    if (json_create(&v->res, &opts, &dec, err) != API_OK) {
        free(v);
        return API_INTERNAL_ERROR;
    }
    v->dec = dec;
    v->dec->level = LEVEL_VALUE;
    v->dec->name_len = len < API_MAX_NAME ? len : API_MAX_NAME;
    memcpy(v->dec->name, pointer, v->dec->name_len);
    *out = v;
    return API_OK;
}

enum api_status api_json_value_feed(struct api_json_value *v, const unsigned char *buf, size_t len,
                                    uint64_t offset, size_t *used, struct api_error *err)
{
    *used = 0;
    if (v->dec->status != API_OK || len == 0 || v->dec->state == ST_END)
        return v->dec->status;
    return run(v->dec, buf, len, offset, used, err);
}

bool api_json_value_nonfinite(const struct api_json_value *v, uint64_t *off, const char **token)
{
    *off = v->dec->nonfinite_off;
    *token = v->dec->nonfinite_seen ? literals[v->dec->nonfinite_tok].text : NULL;
    return v->dec->nonfinite_seen;
}

bool api_json_value_done(const struct api_json_value *v)
{
    return v->dec->status == API_OK && v->dec->state == ST_END;
}

const struct api_result *api_json_value_result(const struct api_json_value *v)
{
    return &v->res;
}

void api_json_value_free(struct api_json_value *v)
{
    if (v == NULL)
        return;
    json_destroy(v->dec);
    api_result_free(&v->res);
    free(v);
}

const struct api_decoder_ops api_json_ops = {
    .create = json_create,
    .feed = json_feed,
    .finish = json_finish,
    .destroy = json_destroy,
};
