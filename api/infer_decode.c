/* infer_decode.c -- the Open Inference Protocol v2 infer body, decoded as
 * it streams (see infer.h).
 *
 * The JSON header is read by a small state machine that knows the
 * protocol's shape: the request object, its inputs and outputs arrays,
 * their objects and the three parameters objects. An input's `data` is
 * handed to the JSON tensor reader (json_decode.h) in place, so its
 * elements go straight into an accumulator; every other value is small: it
 * is captured whole (at most API_INFER_MAX_VALUE bytes) and checked and
 * read with jansson. Keys may come in any order: when an input's `data`
 * arrives before its `datatype`, it is read in all four dtypes at once and
 * the right one is kept when the input's object closes; NaN and Infinity
 * tokens are always counted and refused, unless parameters.nonfinite says
 * "count", once the whole header is known. After the header (its length is
 * the Inference-Header-Content-Length), the binary data of the inputs that
 * announced binary_data_size is fed to the element stream (elements.h),
 * input after input. */
#include "infer.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elements.h"
#include "json_decode.h"
#include "numparse.h"
#include "text.h"

#define MAX_FRAMES 4     /* request > inputs > input > parameters */
#define LABEL_MAX 320    /* `inputs[3] "dense/kernel"` in a detail */
#define NAME_ECHO_MAX 64 /* bytes of a name quoted in a detail */
/* Bytes of the longest key l2d reads ("binary_data_output" is 18): a longer
 * key is one it ignores, so only this much of a key is kept. */
#define KEY_MAX 32

/* The JSON containers the machine descends into. */
enum frame {
    F_TOP,           /* the request object */
    F_TOP_PARAMS,    /* its "parameters" */
    F_INPUTS,        /* its "inputs" array */
    F_INPUT,         /* one input object */
    F_INPUT_PARAMS,  /* an input's "parameters" */
    F_OUTPUTS,       /* the "outputs" array */
    F_OUTPUT,        /* one requested output */
    F_OUTPUT_PARAMS, /* an output's "parameters" */
};

/* What the value being read stands for. */
enum slot {
    SL_ROOT,    /* the request: an object */
    SL_IGNORED, /* the value of a key l2d does not know: checked, dropped */
    SL_INPUTS,  /* containers */
    SL_OUTPUTS,
    SL_PARAMS,
    SL_INPUT,
    SL_OUTPUT,
    SL_DATA, /* an input's data: the tensor reader */
    SL_ID,   /* small values, captured */
    SL_NAME,
    SL_SHAPE,
    SL_DATATYPE,
    SL_BINARY_SIZE,
    SL_OUT_NAME,
    SL_OUT_BINARY,
    SL_SCALE,
    SL_NONFINITE,
    SL_PARTIAL,
    SL_TRACK,
    SL_BINARY_OUTPUT,
};

/* The keys l2d reads, by the object they are in, and the status of a key
 * sent twice: the request's structure is invalid_tensor, its parameters
 * and output selection invalid_parameter. */
#define DUP_T API_INVALID_TENSOR
#define DUP_P API_INVALID_PARAMETER
static const struct key_row {
    enum frame frame;
    const char *key;
    size_t len; /* of key */
    enum slot slot;
    enum api_status dup;
} key_rows[] = {
#define KEY(frame, key, slot, dup)                                                                 \
    {                                                                                              \
        frame, key, sizeof key - 1, slot, dup                                                      \
    }
    KEY(F_TOP, "id", SL_ID, DUP_P),
    KEY(F_TOP, "inputs", SL_INPUTS, DUP_T),
    KEY(F_TOP, "outputs", SL_OUTPUTS, DUP_T),
    KEY(F_TOP, "parameters", SL_PARAMS, DUP_T),
    KEY(F_INPUT, "name", SL_NAME, DUP_T),
    KEY(F_INPUT, "shape", SL_SHAPE, DUP_T),
    KEY(F_INPUT, "datatype", SL_DATATYPE, DUP_T),
    KEY(F_INPUT, "data", SL_DATA, DUP_T),
    KEY(F_INPUT, "parameters", SL_PARAMS, DUP_T),
    KEY(F_INPUT_PARAMS, "binary_data_size", SL_BINARY_SIZE, DUP_T),
    KEY(F_OUTPUT, "name", SL_OUT_NAME, DUP_P),
    KEY(F_OUTPUT, "parameters", SL_PARAMS, DUP_P),
    KEY(F_OUTPUT_PARAMS, "binary_data", SL_OUT_BINARY, DUP_P),
    KEY(F_TOP_PARAMS, "scale", SL_SCALE, DUP_P),
    KEY(F_TOP_PARAMS, "nonfinite", SL_NONFINITE, DUP_P),
    KEY(F_TOP_PARAMS, "binary_data_output", SL_BINARY_OUTPUT, DUP_P),
    KEY(F_TOP_PARAMS, "partial", SL_PARTIAL, DUP_P),
    KEY(F_TOP_PARAMS, "track", SL_TRACK, DUP_P),
};
#undef KEY
#undef DUP_T
#undef DUP_P

#define N_KEY_ROWS (sizeof key_rows / sizeof key_rows[0])

enum state {
    HS_VALUE,     /* a value is expected, for `slot` */
    HS_OBJ_FIRST, /* after '{': a key or '}' */
    HS_KEY_NEXT,  /* after ',' in an object: a key */
    HS_KEY,       /* inside a key, captured */
    HS_COLON,     /* after a key */
    HS_ARR_FIRST, /* after '[': a value or ']' */
    HS_AFTER,     /* after a value: ',' or the closer around it */
    HS_CAPTURE,   /* inside a small value, captured */
    HS_DATA,      /* inside an input's data */
    HS_TRAILER,   /* after the request object: whitespace to the header's end */
    HS_BINARY,    /* the binary data */
};

/* The datatypes of the protocol that l2d sums, and the reader per dtype
 * when an input's data comes before its datatype. */
static const struct {
    const char *name;
    enum l2_dtype dtype;
} datatypes[] = {
    {"FP16", L2_DTYPE_FLOAT16},
    {"BF16", L2_DTYPE_BFLOAT16},
    {"FP32", L2_DTYPE_FLOAT32},
    {"FP64", L2_DTYPE_FLOAT64},
};

#define N_DATATYPES (sizeof datatypes / sizeof datatypes[0])
#define DRIVER (N_DATATYPES - 1) /* FP64: the reader that finds the value's end */

/* Bytes of a name kept in the input itself; a longer one is allocated. */
#define NAME_INLINE 48

/* The input being read. */
struct input {
    size_t index;
    char *name; /* NUL-terminated: name_inline, or allocated (owned) when longer */
    size_t name_len;
    bool has_name, has_shape, has_datatype, has_data, has_binary_size;
    enum l2_dtype dtype;
    unsigned ndim;
    uint64_t binary_size;
    /* from here on, not cleared for each input: */
    /* data: one reader, of the known dtype (readers[0]), or one per
     * datatypes[] row when the dtype was not known yet */
    struct api_json_value *readers[N_DATATYPES];
    struct api_error *reader_err; /* with several readers: their errors (not the driver's) */
    size_t n_readers;
    uint64_t shape[API_MAX_DEPTH]; /* ndim entries */
    char name_inline[NAME_INLINE];
};

/* Frees in's name when it was allocated; leaves none. */
static void input_name_free(struct input *in)
{
    if (in->name != in->name_inline)
        free(in->name);
    in->name = NULL;
}

/* The output being read. */
struct output {
    size_t index;
    bool has_name, has_binary;
    enum api_infer_output which;
    bool binary;
};

/* An input whose data is binary, in input order. */
struct binary_input {
    size_t tensor; /* its entry in the result */
    enum l2_dtype dtype;
    uint64_t size;
};

/* What reads the binary data, input after input (most requests have none,
 * so it is made only when one comes). */
struct binary_reader {
    struct l2_accum acc;
    struct api_elements elems;
    char what[LABEL_MAX];
};

struct infer_decoder {
    struct api_result *res;
    struct api_infer_request *req;
    enum api_status status;
    enum state state;
    enum slot slot;

    enum frame frames[MAX_FRAMES];
    uint32_t seen[MAX_FRAMES]; /* key_rows already read in each open object */
    unsigned depth;
    bool inputs_seen;
    bool outputs_named; /* an "outputs" array with at least one entry */
    size_t n_inputs, n_outputs;
    struct input in;
    struct output out;
    bool wanted_seen[API_INFER_OUT_COUNT_];
    bool wanted_binary_set[API_INFER_OUT_COUNT_]; /* its binary_data was given */
    bool has_binary_output;
    bool nonfinite_seen;       /* some input's JSON data held a NaN/Infinity token */
    uint64_t nonfinite_off;    /* the first one's offset */
    const char *nonfinite_tok; /* and text (static) */

    /* the key or small value being captured */
    char *cap;
    size_t cap_len, cap_size;
    uint64_t cap_off;
    unsigned cap_depth;
    bool cap_string, cap_escape, cap_primitive;
    char key[KEY_MAX + 1]; /* the last key read, decoded; "" when longer than KEY_MAX */
    size_t key_len;

    /* binary data */
    struct binary_input *bins;
    size_t n_bins, cap_bins, bin; /* bin: the one being read */
    uint64_t bin_left;
    uint64_t binary_total;
    struct binary_reader *br; /* made for the first binary input; NULL before */
    bool elems_live;          /* br->elems is reading an input */
};

/* ---- errors and labels ---------------------------------------------------- */

static enum api_status fail(struct infer_decoder *dec, struct api_error *err, enum api_status st,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum api_status fail(struct infer_decoder *dec, struct api_error *err, enum api_status st,
                            const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    api_error_vset(err, st, fmt, ap);
    va_end(ap);
    dec->status = st;
    return st;
}

static enum api_status fail_json(struct infer_decoder *dec, struct api_error *err, uint64_t off,
                                 const char *what)
{
    fail(dec, err, API_INVALID_JSON, "invalid JSON at byte %" PRIu64 " of the header: %s", off,
         what);
    api_error_at_offset(err, (int64_t)off);
    return API_INVALID_JSON;
}

/* `inputs[3] "dense/kernel"` (or `inputs[3]` before its name is known). */
static const char *input_label(const struct input *in, char *buf)
{
    char name[NAME_ECHO_MAX * 4 + 8];

    if (!in->has_name) {
        snprintf(buf, LABEL_MAX, "inputs[%zu]", in->index);
        return buf;
    }
    api_text_echo(name, sizeof name, in->name, in->name_len, NAME_ECHO_MAX, API_TEXT_ECHO_MASK);
    snprintf(buf, LABEL_MAX, "inputs[%zu] \"%s\"", in->index, name);
    return buf;
}

/* Records st with "<the input's label><the detail>". */
static enum api_status fail_input(struct infer_decoder *dec, struct api_error *err,
                                  enum api_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum api_status fail_input(struct infer_decoder *dec, struct api_error *err,
                                  enum api_status st, const char *fmt, ...)
{
    char label[LABEL_MAX], what[API_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fail(dec, err, st, "%s%s", input_label(&dec->in, label), what);
}

/* ---- the capture buffer --------------------------------------------------- */

static enum api_status cap_put(struct infer_decoder *dec, const char *p, size_t n,
                               struct api_error *err)
{
    if (n > API_INFER_MAX_VALUE - dec->cap_len)
        return fail(dec, err, API_PAYLOAD_TOO_LARGE,
                    "the value at byte %" PRIu64 " of the header is longer than %d bytes",
                    dec->cap_off, API_INFER_MAX_VALUE);
    if (dec->cap_len + n > dec->cap_size) {
        size_t size = dec->cap_size ? dec->cap_size : 256;
        while (size < dec->cap_len + n)
            size *= 2;
        if (size > API_INFER_MAX_VALUE)
            size = API_INFER_MAX_VALUE;
        char *grown = realloc(dec->cap, size);
        if (grown == NULL)
            return fail(dec, err, API_INTERNAL_ERROR, "out of memory for the request header");
        dec->cap = grown;
        dec->cap_size = size;
    }
    memcpy(dec->cap + dec->cap_len, p, n);
    dec->cap_len += n;
    return API_OK;
}

/* A captured value, read. The forms the protocol's values take -- a
 * string without escapes, an integer >= 0, an array of at most
 * API_MAX_DEPTH of them, true, false -- are read here; anything else goes
 * through jansson, and what jansson gives is brought to the same forms
 * where it has one (SM_JSON otherwise). */
enum small_kind { SM_STRING, SM_UINT, SM_UINTS, SM_BOOL, SM_JSON };

struct small {
    enum small_kind kind;
    const char *s; /* SM_STRING: len bytes, not NUL-terminated */
    size_t len;
    uint64_t u; /* SM_UINT */
    bool b;     /* SM_BOOL */
    unsigned n; /* SM_UINTS: n entries of list */
    uint64_t list[API_MAX_DEPTH];
    json_t *j; /* jansson's value, when it read it (owned); else NULL */
};

/* Digits of an integer >= 0 without a leading zero, at most 19 of them
 * (so it fits): its value in *out and the bytes read, else 0. */
static size_t plain_uint(const char *p, const char *end, uint64_t *out)
{
    const char *q = p;
    uint64_t v = 0;

    while (q < end && *q >= '0' && *q <= '9' && q - p < 19)
        v = v * 10 + (uint64_t)(*q++ - '0');
    if (q == p || (*p == '0' && q - p > 1) || (q < end && *q >= '0' && *q <= '9'))
        return 0;
    *out = v;
    return (size_t)(q - p);
}

/* The plain forms, without jansson; false when t is not one of them. */
static bool plain_read(const char *t, size_t len, struct small *v)
{
    const char *end = t + len;

    if (len >= 2 && t[0] == '"' && t[len - 1] == '"') {
        for (const char *p = t + 1; p < end - 1;) {
            unsigned char c = (unsigned char)*p;
            size_t n = c < 0x80 ? 1 : api_text_utf8_len(p, (size_t)(end - 1 - p));
            if (c < 0x20 || c == '\\' || c == '"' || n == 0)
                return false;
            p += n;
        }
        v->kind = SM_STRING;
        v->s = t + 1;
        v->len = len - 2;
        return true;
    }
    if (len == 4 && memcmp(t, "true", 4) == 0) {
        v->kind = SM_BOOL;
        v->b = true;
        return true;
    }
    if (len == 5 && memcmp(t, "false", 5) == 0) {
        v->kind = SM_BOOL;
        v->b = false;
        return true;
    }
    if (t[0] >= '0' && t[0] <= '9') {
        v->kind = SM_UINT;
        return plain_uint(t, end, &v->u) == len;
    }
    if (t[0] != '[' || t[len - 1] != ']')
        return false;
    v->kind = SM_UINTS;
    v->n = 0;
    for (const char *p = t + 1;;) {
        size_t n;
        while (api_text_is_json_ws((unsigned char)*p))
            p++;
        if (*p == ']' && v->n == 0)
            return p == end - 1;
        if (v->n == API_MAX_DEPTH || (n = plain_uint(p, end, &v->list[v->n])) == 0)
            return false;
        v->n++;
        p += n;
        while (api_text_is_json_ws((unsigned char)*p))
            p++;
        if (*p == ']')
            return p == end - 1;
        if (*p++ != ',')
            return false;
    }
}

/* Whether t (len bytes) is one JSON number (its value may be out of the
 * float64 range: api_numparse reads 1e400 as infinity). */
static bool json_number_literal(const char *t, size_t len)
{
    double x;
    size_t bad;

    return api_numparse(t, len, &x, &bad);
}

/* Brings jansson's value v to the plain forms where it has one. */
static void small_from_json(json_t *v, struct small *out)
{
    size_t i;
    json_t *e;

    out->kind = SM_JSON;
    if (json_is_string(v)) {
        out->kind = SM_STRING;
        out->s = json_string_value(v);
        out->len = json_string_length(v);
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        out->kind = SM_UINT;
        out->u = (uint64_t)json_integer_value(v);
    } else if (json_is_boolean(v)) {
        out->kind = SM_BOOL;
        out->b = json_is_true(v);
    } else if (json_is_array(v) && json_array_size(v) <= API_MAX_DEPTH) {
        json_array_foreach(v, i, e)
        {
            if (!json_is_integer(e) || json_integer_value(e) < 0)
                return;
            out->list[i] = (uint64_t)json_integer_value(e);
        }
        out->kind = SM_UINTS;
        out->n = (unsigned)json_array_size(v);
    }
}

/* Reads the captured text into *v; false (error set) when it is not JSON. */
static bool cap_read(struct infer_decoder *dec, struct small *v, struct api_error *err)
{
    json_error_t jerr;

    v->j = NULL;
    if (plain_read(dec->cap, dec->cap_len, v))
        return true;
    v->j = json_loadb(dec->cap, dec->cap_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v->j == NULL) {
        uint64_t at = dec->cap_off + (uint64_t)(jerr.position > 0 ? jerr.position - 1 : 0);
        fail_json(dec, err, at, jerr.text);
        return false;
    }
    small_from_json(v->j, v);
    return true;
}

/* Whether the n bytes at a and b are the same: a loop, for the few bytes
 * of a key or a name l2d knows (shorter than a library call's start). */
static bool same_bytes(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static bool small_is(const struct small *v, const char *text)
{
    return v->kind == SM_STRING && text[0] == (v->len > 0 ? v->s[0] : '\0') &&
           v->len == strlen(text) && same_bytes(v->s, text, v->len);
}

/* ---- the cursor ----------------------------------------------------------- */

struct cursor {
    const char *p, *end, *buf;
    uint64_t off; /* body offset of buf[0] */
};

static uint64_t off_at(const struct cursor *cur, const char *q)
{
    return cur->off + (uint64_t)(q - cur->buf);
}

static inline bool skip_ws(struct cursor *cur)
{
    while (cur->p < cur->end && api_text_is_json_ws((unsigned char)*cur->p))
        cur->p++;
    return cur->p < cur->end;
}

/* ---- containers ----------------------------------------------------------- */

static bool frame_is_object(enum frame f)
{
    return f != F_INPUTS && f != F_OUTPUTS;
}

static enum api_status push(struct infer_decoder *dec, enum frame f)
{
    dec->frames[dec->depth] = f;
    dec->seen[dec->depth] = 0;
    dec->depth++;
    dec->state = frame_is_object(f) ? HS_OBJ_FIRST : HS_ARR_FIRST;
    return API_OK;
}

static enum api_status input_begin(struct infer_decoder *dec, struct api_error *err)
{
    struct input *in = &dec->in;

    if (dec->n_inputs == API_MAX_TENSORS)
        return fail(dec, err, API_INVALID_TENSOR, "more than %d inputs", API_MAX_TENSORS);
    input_name_free(in);
    memset(in, 0, offsetof(struct input, readers));
    in->index = dec->n_inputs++;
    in->n_readers = 0;
    return push(dec, F_INPUT);
}

static void readers_free(struct input *in)
{
    for (size_t k = 0; k < in->n_readers; k++)
        api_json_value_free(in->readers[k]);
    in->n_readers = 0;
    free(in->reader_err);
    in->reader_err = NULL;
}

/* The element count of a shape; false when it overflows. */
static bool shape_count(const uint64_t *shape, unsigned ndim, uint64_t *out)
{
    uint64_t n = 1;

    for (unsigned d = 0; d < ndim; d++)
        if (__builtin_mul_overflow(n, shape[d], &n))
            return false;
    *out = n;
    return true;
}

static enum api_status add_binary(struct infer_decoder *dec, struct api_error *err)
{
    if (dec->n_bins == dec->cap_bins) {
        size_t cap = dec->cap_bins ? dec->cap_bins * 2 : 4;
        struct binary_input *grown = realloc(dec->bins, cap * sizeof *grown);
        if (grown == NULL)
            return fail(dec, err, API_INTERNAL_ERROR, "out of memory for the inputs");
        dec->bins = grown;
        dec->cap_bins = cap;
    }
    dec->bins[dec->n_bins++] =
        (struct binary_input){dec->res->n_tensors - 1, dec->in.dtype, dec->in.binary_size};
    return API_OK;
}

/* The input object closed: check it and add it to the result. */
static enum api_status input_done(struct infer_decoder *dec, struct api_error *err)
{
    struct input *in = &dec->in;
    uint64_t count;
    enum api_status st;
    struct l2_accum empty;

    if (!in->has_name || !in->has_shape || !in->has_datatype)
        return fail_input(dec, err, API_INVALID_TENSOR, " has no \"%s\"",
                          !in->has_name    ? "name"
                          : !in->has_shape ? "shape"
                                           : "datatype");
    if (!shape_count(in->shape, in->ndim, &count))
        return fail_input(dec, err, API_INVALID_TENSOR, ": the shape's element count overflows");
    if (in->has_data == in->has_binary_size)
        return fail_input(dec, err, API_INVALID_TENSOR,
                          " has %s \"data\" %s parameters.binary_data_size",
                          in->has_data ? "both" : "neither", in->has_data ? "and" : "nor");
    if (in->has_data) {
        size_t k = 0;
        if (in->n_readers > 1)
            while (datatypes[k].dtype != in->dtype)
                k++;
        if (k != DRIVER && in->n_readers > 1 && in->reader_err[k].status != API_OK) {
            dec->status = api_error_replay(&in->reader_err[k], err);
            return dec->status;
        }
        const struct api_result *r = api_json_value_result(in->readers[k]);
        if (r->total.count != count)
            return fail_input(dec, err, API_INVALID_TENSOR,
                              ": its shape holds %" PRIu64 " element%s, its data %" PRIu64, count,
                              count == 1 ? "" : "s", r->total.count);
        if (!dec->nonfinite_seen)
            dec->nonfinite_seen =
                api_json_value_nonfinite(in->readers[k], &dec->nonfinite_off, &dec->nonfinite_tok);
        st = api_result_add_typed(dec->res, in->name, in->name_len, in->dtype, &r->total, in->ndim,
                                  in->shape, err);
        readers_free(in);
        if (st != API_OK)
            dec->status = st;
        return st;
    }
    if (!dec->req->has_header_length)
        return fail_input(dec, err, API_INVALID_PARAMETER,
                          " has parameters.binary_data_size, but the request has no "
                          "Inference-Header-Content-Length header to say where its binary data "
                          "starts");
    uint64_t size;
    if (__builtin_mul_overflow(count, (uint64_t)l2_dtype_size(in->dtype), &size) ||
        size != in->binary_size)
        return fail_input(dec, err, API_INVALID_LENGTH,
                          ": binary_data_size is %" PRIu64 " bytes, but %" PRIu64
                          " %s elements are %" PRIu64 " bytes",
                          in->binary_size, count, l2_dtype_name(in->dtype),
                          count * (uint64_t)l2_dtype_size(in->dtype));
    if (__builtin_add_overflow(dec->binary_total, size, &dec->binary_total))
        return fail(dec, err, API_INVALID_LENGTH, "the binary data sizes overflow");
    l2_accum_init(&empty);
    st = api_result_add_typed(dec->res, in->name, in->name_len, in->dtype, &empty, in->ndim,
                              in->shape, err);
    if (st != API_OK) {
        dec->status = st;
        return st;
    }
    return add_binary(dec, err);
}

static enum api_status output_done(struct infer_decoder *dec, struct api_error *err)
{
    struct output *o = &dec->out;
    struct api_infer_request *req = dec->req;

    if (!o->has_name)
        return fail(dec, err, API_INVALID_PARAMETER, "outputs[%zu] has no \"name\"", o->index);
    if (dec->wanted_seen[o->which])
        return fail(dec, err, API_INVALID_PARAMETER, "output \"%s\" is requested twice",
                    api_infer_output_name(o->which));
    dec->wanted_seen[o->which] = true;
    dec->wanted_binary_set[o->which] = o->has_binary;
    req->wanted[req->n_wanted].which = o->which;
    req->wanted[req->n_wanted].binary = o->binary;
    req->n_wanted++;
    return API_OK;
}

/* The request object closed: what needs the whole header. */
static enum api_status header_done(struct infer_decoder *dec, struct api_error *err)
{
    struct api_infer_request *req = dec->req;

    if (!dec->inputs_seen)
        return fail(dec, err, API_INVALID_TENSOR, "the request has no \"inputs\"");
    if (req->model == API_INFER_REGULARIZE && !req->has_scale)
        return fail(dec, err, API_INVALID_SCALE,
                    "scale is required: the regularize model needs parameters.scale "
                    "(0.01, for example)");
    if (dec->nonfinite_seen && !req->count_nonfinite) {
        dec->status = api_json_nonfinite_error(err, dec->nonfinite_off, dec->nonfinite_tok,
                                               "set parameters.nonfinite to \"count\"");
        return dec->status;
    }
    if (req->n_wanted == 0) {
        for (int o = 0; o < API_INFER_OUT_COUNT_; o++) {
            bool counts = o == API_INFER_OUT_NAN_COUNT || o == API_INFER_OUT_INF_COUNT;
            bool partials = o == API_INFER_OUT_PARTIAL || o == API_INFER_OUT_INPUT_PARTIAL;
            if ((counts && !req->count_nonfinite) || (partials && !req->partial))
                continue;
            req->wanted[req->n_wanted].which = (enum api_infer_output)o;
            req->wanted[req->n_wanted].binary = req->binary_data_output;
            req->n_wanted++;
        }
    } else {
        for (size_t i = 0; i < req->n_wanted; i++)
            if (!dec->wanted_binary_set[req->wanted[i].which])
                req->wanted[i].binary = req->binary_data_output;
    }
    dec->res->count_nonfinite = req->count_nonfinite;
    dec->res->want_partial = req->partial;
    dec->state = HS_TRAILER;
    return API_OK;
}

/* A container closed; `closer` is '}' or ']'. */
static enum api_status close_frame(struct infer_decoder *dec, struct api_error *err)
{
    enum frame f = dec->frames[--dec->depth];
    enum api_status st = API_OK;

    dec->state = HS_AFTER;
    if (f == F_INPUT)
        st = input_done(dec, err);
    else if (f == F_OUTPUT)
        st = output_done(dec, err);
    else if (f == F_TOP)
        st = header_done(dec, err);
    return st;
}

/* ---- small values ------------------------------------------------------------ */

static enum api_status read_datatype(struct infer_decoder *dec, const struct small *v,
                                     struct api_error *err)
{
    char shown[NAME_ECHO_MAX * 4 + 8];

    if (v->kind != SM_STRING)
        return fail_input(dec, err, API_INVALID_TENSOR, ": \"datatype\" must be a string");
    for (size_t k = 0; k < N_DATATYPES; k++) {
        if (small_is(v, datatypes[k].name)) {
            dec->in.dtype = datatypes[k].dtype;
            dec->in.has_datatype = true;
            return API_OK;
        }
    }
    api_text_echo(shown, sizeof shown, v->s, v->len, NAME_ECHO_MAX, API_TEXT_ECHO_MASK);
    return fail_input(dec, err, API_INVALID_DTYPE,
                      ": datatype \"%s\" is not summed: send FP16, BF16, FP32 or FP64", shown);
}

static enum api_status read_name(struct infer_decoder *dec, const struct small *v,
                                 struct api_error *err)
{
    struct input *in = &dec->in;
    struct api_error why;

    if (v->kind != SM_STRING)
        return fail_input(dec, err, API_INVALID_TENSOR, ": \"name\" must be a string");
    api_error_init(&why);
    if (api_result_check_name(dec->res, v->s, v->len, &why) != API_OK) {
        char shown[NAME_ECHO_MAX * 4 + 8];
        api_text_echo(shown, sizeof shown, v->s, v->len, NAME_ECHO_MAX, API_TEXT_ECHO_MASK);
        return fail_input(dec, err, why.status, ": name \"%s\": %s", shown, why.detail);
    }
    in->name = v->len < sizeof in->name_inline ? in->name_inline : malloc(v->len + 1);
    if (in->name == NULL)
        return fail(dec, err, API_INTERNAL_ERROR, "out of memory for an input name");
    memcpy(in->name, v->s, v->len);
    in->name[v->len] = '\0';
    in->name_len = v->len;
    in->has_name = true;
    return API_OK;
}

/* parameters.scale: text is the number's literal or the string's
 * contents, validated as /regularize's scale; NULL for any other value. */
static enum api_status read_scale(struct infer_decoder *dec, const char *text, size_t len,
                                  struct api_error *err)
{
    struct api_infer_request *req = dec->req;
    enum api_status st;

    if (req->model != API_INFER_REGULARIZE)
        return fail(dec, err, API_INVALID_PARAMETER,
                    "parameters.scale is only accepted by the regularize model");
    if (text != NULL)
        st = api_scale_parse(text, len, &req->scale, err);
    else
        st = api_error_set(err, API_INVALID_SCALE,
                           "parameters.scale must be a number such as 0.01, or a string");
    dec->status = st;
    req->has_scale = st == API_OK;
    return st;
}

static enum api_status read_output_name(struct infer_decoder *dec, const struct small *v,
                                        struct api_error *err)
{
    char shown[NAME_ECHO_MAX * 4 + 8];

    if (v->kind != SM_STRING)
        return fail(dec, err, API_INVALID_PARAMETER, "an output's \"name\" must be a string");
    for (int o = 0; o < API_INFER_OUT_COUNT_; o++) {
        if (small_is(v, api_infer_output_name((enum api_infer_output)o))) {
            dec->out.which = (enum api_infer_output)o;
            dec->out.has_name = true;
            return API_OK;
        }
    }
    api_text_echo(shown, sizeof shown, v->s, v->len, NAME_ECHO_MAX, API_TEXT_ECHO_MASK);
    return fail(dec, err, API_INVALID_PARAMETER,
                "unknown output \"%s\": the outputs are loss, sum_squares, norm, max_abs, count, "
                "nan_count, inf_count, input_loss, input_sum_squares and input_norm",
                shown);
}

/* A small value v, read, for its slot (v->j, when set, is released). */
static enum api_status value_read(struct infer_decoder *dec, const struct small *v,
                                  struct api_error *err)
{
    struct api_infer_request *req = dec->req;
    enum api_status st = API_OK;

    dec->state = HS_AFTER;
    switch (dec->slot) {
    case SL_ID:
        if (v->kind != SM_STRING)
            st = fail(dec, err, API_INVALID_PARAMETER, "\"id\" must be a string");
        else if (v->len > API_INFER_MAX_ID)
            st = fail(dec, err, API_INVALID_PARAMETER, "\"id\" is longer than %d bytes",
                      API_INFER_MAX_ID);
        if (st == API_OK) {
            memcpy(req->id, v->s, v->len);
            req->id[v->len] = '\0';
            req->id_len = v->len;
            req->has_id = true;
        }
        break;
    case SL_NAME:
        st = read_name(dec, v, err);
        break;
    case SL_SHAPE:
        if (v->kind != SM_UINTS) {
            st = fail_input(dec, err, API_INVALID_TENSOR,
                            ": \"shape\" must be an array of at most %d integers >= 0",
                            API_MAX_DEPTH);
        } else {
            memcpy(dec->in.shape, v->list, v->n * sizeof v->list[0]);
            dec->in.ndim = v->n;
            dec->in.has_shape = true;
        }
        break;
    case SL_DATATYPE:
        st = read_datatype(dec, v, err);
        break;
    case SL_BINARY_SIZE:
        if (v->kind != SM_UINT) {
            st = fail_input(dec, err, API_INVALID_LENGTH,
                            ": parameters.binary_data_size must be an integer >= 0");
        } else {
            dec->in.binary_size = v->u;
            dec->in.has_binary_size = true;
        }
        break;
    case SL_OUT_NAME:
        st = read_output_name(dec, v, err);
        break;
    case SL_OUT_BINARY:
    case SL_BINARY_OUTPUT:
        if (v->kind != SM_BOOL) {
            st = fail(dec, err, API_INVALID_PARAMETER, "parameters.%s must be true or false",
                      dec->slot == SL_OUT_BINARY ? "binary_data" : "binary_data_output");
        } else if (dec->slot == SL_OUT_BINARY) {
            dec->out.binary = v->b;
            dec->out.has_binary = true;
        } else {
            req->binary_data_output = v->b;
        }
        break;
    case SL_SCALE: /* not a number */
        st = read_scale(dec, v->kind == SM_STRING ? v->s : NULL, v->len, err);
        break;
    case SL_NONFINITE:
        if (small_is(v, "count") || small_is(v, "reject"))
            req->count_nonfinite = small_is(v, "count");
        else
            st = fail(dec, err, API_INVALID_PARAMETER,
                      "parameters.nonfinite must be \"reject\" or \"count\"");
        break;
    case SL_PARTIAL:
        if (v->kind != SM_BOOL)
            st = fail(dec, err, API_INVALID_PARAMETER, "parameters.partial must be true or false");
        else
            req->partial = v->b;
        break;
    case SL_TRACK:
        if (v->kind != SM_STRING)
            st = fail(dec, err, API_INVALID_PARAMETER,
                      "parameters.track must be a string: the model name to track");
        else if (api_track_parse(v->s, v->len, "parameters.track", req->track, &req->track_len,
                                 err) != API_OK)
            st = dec->status = API_INVALID_PARAMETER; /* err is set */
        break;
    default: /* SL_IGNORED: valid JSON, not read */
        break;
    }
    json_decref(v->j);
    return st;
}

/* A captured value is complete: read it for its slot. */
static enum api_status value_captured(struct infer_decoder *dec, struct api_error *err)
{
    struct small v;

    if (dec->slot == SL_SCALE && json_number_literal(dec->cap, dec->cap_len)) {
        /* the literal as sent: 1 is an integer, 1.0 is not, 1e400 is out of
         * range (which jansson would call invalid JSON) */
        dec->state = HS_AFTER;
        return read_scale(dec, dec->cap, dec->cap_len, err);
    }
    if (!cap_read(dec, &v, err))
        return dec->status;
    return value_read(dec, &v, err);
}

/* The end of the small value at p, when it lies before end: after a
 * string's closing quote (no escapes), an array's ']' (no nested
 * container or string), or at the byte that ends a number or literal.
 * NULL when it does not end in [p, end) or has one of those forms. */
static const char *small_end(const char *p, const char *end)
{
    const char *q = p + 1;

    if (*p == '"') {
        while (q < end && *q != '"' && *q != '\\')
            q++;
        return q < end && *q == '"' ? q + 1 : NULL;
    }
    if (*p == '[') {
        while (q < end && *q != ']' && *q != '[' && *q != '{' && *q != '"')
            q++;
        return q < end && *q == ']' ? q + 1 : NULL;
    }
    if (*p == '{')
        return NULL;
    while (q < end && !api_text_is_json_ws((unsigned char)*q) && *q != ',' && *q != '}' &&
           *q != ']')
        q++;
    return q < end ? q : NULL;
}

/* The value for dec->slot read where it lies in the chunk, without the
 * capture, when it ends in the chunk, is within the capture's bound and has
 * one of the plain forms (plain_read); false, nothing read, otherwise (the
 * capture reads it then, with its bound, jansson's checks and the same
 * errors however the body is split). A scale is always captured: its
 * literal is read as sent. */
static bool value_in_place(struct infer_decoder *dec, struct cursor *cur, enum api_status *st,
                           struct api_error *err)
{
    const char *end;
    struct small v;

    if (dec->slot == SL_SCALE || (end = small_end(cur->p, cur->end)) == NULL ||
        (size_t)(end - cur->p) > API_INFER_MAX_VALUE ||
        !plain_read(cur->p, (size_t)(end - cur->p), &v))
        return false;
    v.j = NULL;
    cur->p = end;
    *st = value_read(dec, &v, err);
    return true;
}

/* A key read where it lies, without the capture, when it ends in the
 * chunk, is printable ASCII without escapes (as every key l2d reads is) and
 * within the capture's bound; false, nothing read, otherwise. cur->p is at
 * its opening quote. */
static bool key_in_place(struct infer_decoder *dec, struct cursor *cur)
{
    const char *k = cur->p + 1, *q = k;
    size_t len;

    while (q < cur->end && *q >= 0x20 && *q < 0x7f && *q != '"' && *q != '\\')
        q++;
    if (q == cur->end || *q != '"' || (size_t)(q - k) + 2 > API_INFER_MAX_VALUE)
        return false;
    len = (size_t)(q - k) <= KEY_MAX ? (size_t)(q - k) : 0; /* a longer key matches no row */
    memcpy(dec->key, k, len);
    dec->key[len] = '\0';
    dec->key_len = len;
    cur->p = q + 1;
    dec->state = HS_COLON;
    return true;
}

/* HS_CAPTURE: the bytes of a small value up to its end: a string's closing
 * quote, a container's closer, or the byte after a number or literal. */
static enum api_status on_capture(struct infer_decoder *dec, struct cursor *cur,
                                  struct api_error *err)
{
    const char *p = cur->p;
    bool done = false;
    bool keep_last = true;

    for (; p < cur->end && !done; p++) {
        char c = *p;
        if (dec->cap_string) {
            if (dec->cap_escape)
                dec->cap_escape = false;
            else if (c == '\\')
                dec->cap_escape = true;
            else if (c == '"') {
                dec->cap_string = false;
                done = dec->cap_depth == 0;
            }
        } else if (dec->cap_primitive) {
            if (api_text_is_json_ws((unsigned char)c) || c == ',' || c == '}' || c == ']') {
                done = true;
                keep_last = false;
            }
        } else if (c == '"') {
            dec->cap_string = true;
        } else if (c == '[' || c == '{') {
            dec->cap_depth++;
        } else if (c == ']' || c == '}') {
            if (dec->cap_depth > 0 && --dec->cap_depth == 0)
                done = true;
        }
    }
    if (done && !keep_last)
        p--; /* the byte after a number or literal is the document's */
    if (cap_put(dec, cur->p, (size_t)(p - cur->p), err) != API_OK)
        return dec->status;
    cur->p = p;
    return done ? value_captured(dec, err) : API_OK;
}

/* ---- data ----------------------------------------------------------------- */

/* The JSON Pointer of input index's data, "/inputs/<index>/data", written
 * without printf (it is made for every input). */
#define DATA_POINTER_MAX (sizeof "/inputs/" + API_TEXT_U64_MAX + sizeof "/data")
static void data_pointer(size_t index, char out[DATA_POINTER_MAX])
{
    size_t len = sizeof "/inputs/" - 1;

    memcpy(out, "/inputs/", len);
    len += api_text_u64(out + len, index);
    memcpy(out + len, "/data", sizeof "/data");
}

static enum api_status data_begin(struct infer_decoder *dec, struct api_error *err)
{
    struct input *in = &dec->in;
    char pointer[DATA_POINTER_MAX];

    if (in->has_binary_size)
        return fail_input(dec, err, API_INVALID_TENSOR,
                          " has both \"data\" and parameters.binary_data_size");
    data_pointer(in->index, pointer);
    /* Always counting NaN and Infinity: whether they are refused is known
     * only when the header ends (parameters may come last). */
    if (in->has_datatype) {
        if (api_json_value_new(in->dtype, true, pointer, &in->readers[0], err) != API_OK)
            return dec->status = API_INTERNAL_ERROR;
        in->n_readers = 1;
    } else {
        in->reader_err = malloc(N_DATATYPES * sizeof *in->reader_err);
        if (in->reader_err == NULL)
            return fail(dec, err, API_INTERNAL_ERROR, "out of memory for the data readers");
        for (size_t k = 0; k < N_DATATYPES; k++) {
            if (api_json_value_new(datatypes[k].dtype, true, pointer, &in->readers[k], err) !=
                API_OK)
                return dec->status = API_INTERNAL_ERROR;
            api_error_init(&in->reader_err[k]);
            in->n_readers = k + 1;
        }
    }
    in->has_data = true;
    dec->state = HS_DATA;
    return API_OK;
}

/* HS_DATA: the tensor reader takes what belongs to the value. */
static enum api_status on_data(struct infer_decoder *dec, struct cursor *cur, struct api_error *err)
{
    struct input *in = &dec->in;
    size_t driver = in->n_readers == 1 ? 0 : DRIVER;
    size_t used, len = (size_t)(cur->end - cur->p);
    const unsigned char *p = (const unsigned char *)cur->p;
    uint64_t off = off_at(cur, cur->p);

    if (api_json_value_feed(in->readers[driver], p, len, off, &used, err) != API_OK)
        return dec->status = err != NULL ? err->status : API_INVALID_JSON;
    for (size_t k = 0; k + 1 < in->n_readers; k++) {
        size_t ignored;
        api_json_value_feed(in->readers[k], p, used, off, &ignored, &in->reader_err[k]);
    }
    cur->p += used;
    if (api_json_value_done(in->readers[driver]))
        dec->state = HS_AFTER;
    return API_OK;
}

/* ---- the header machine --------------------------------------------------- */

static enum slot key_slot(struct infer_decoder *dec, struct api_error *err, enum api_status *st)
{
    enum frame f = dec->frames[dec->depth - 1];

    *st = API_OK;
    for (size_t i = 0; i < N_KEY_ROWS; i++) {
        if (key_rows[i].len != dec->key_len || key_rows[i].frame != f ||
            key_rows[i].key[0] != dec->key[0] ||
            !same_bytes(key_rows[i].key, dec->key, dec->key_len))
            continue;
        if (dec->seen[dec->depth - 1] >> i & 1) {
            *st = fail(dec, err, key_rows[i].dup, "duplicate key \"%s\"", key_rows[i].key);
            return SL_IGNORED;
        }
        dec->seen[dec->depth - 1] |= UINT32_C(1) << i;
        return key_rows[i].slot;
    }
    return SL_IGNORED;
}

/* The closing quote of a key: decode it. */
static enum api_status key_captured(struct infer_decoder *dec, struct api_error *err)
{
    struct small v;

    if (!cap_read(dec, &v, err))
        return dec->status;
    /* a key is a string: the capture ends at its closing quote */
    dec->key_len = v.len <= KEY_MAX ? v.len : 0; /* no key l2d reads is this long */
    memcpy(dec->key, v.s, dec->key_len);
    dec->key[dec->key_len] = '\0';
    json_decref(v.j);
    dec->state = HS_COLON;
    return API_OK;
}

static void capture_begin(struct infer_decoder *dec, const struct cursor *cur, bool primitive)
{
    dec->cap_len = 0;
    dec->cap_off = off_at(cur, cur->p);
    dec->cap_depth = 0;
    dec->cap_string = false;
    dec->cap_escape = false;
    dec->cap_primitive = primitive;
}

/* The value for dec->slot starts at cur->p. */
static enum api_status value_begin(struct infer_decoder *dec, struct cursor *cur,
                                   struct api_error *err)
{
    char c = *cur->p;
    enum frame parent = dec->depth > 0 ? dec->frames[dec->depth - 1] : F_TOP;
    const char *what = NULL;

    switch (dec->slot) {
    case SL_ROOT:
        if (c == '{') {
            cur->p++;
            return push(dec, F_TOP);
        }
        what = "the request must be a JSON object";
        break;
    case SL_INPUTS:
    case SL_OUTPUTS:
        if (c == '[') {
            cur->p++;
            if (dec->slot == SL_INPUTS)
                dec->inputs_seen = true;
            return push(dec, dec->slot == SL_INPUTS ? F_INPUTS : F_OUTPUTS);
        }
        what =
            dec->slot == SL_INPUTS ? "\"inputs\" must be an array" : "\"outputs\" must be an array";
        break;
    case SL_PARAMS:
        if (c == '{') {
            cur->p++;
            return push(dec, parent == F_TOP     ? F_TOP_PARAMS
                             : parent == F_INPUT ? F_INPUT_PARAMS
                                                 : F_OUTPUT_PARAMS);
        }
        what = "\"parameters\" must be an object";
        break;
    case SL_INPUT:
        if (c == '{') {
            cur->p++;
            return input_begin(dec, err);
        }
        what = "each entry of \"inputs\" must be an object";
        break;
    case SL_OUTPUT:
        if (c == '{') {
            cur->p++;
            if (dec->n_outputs == API_INFER_OUT_COUNT_)
                return fail(dec, err, API_INVALID_PARAMETER,
                            "more outputs requested than there are (%d)", API_INFER_OUT_COUNT_);
            memset(&dec->out, 0, sizeof dec->out);
            dec->out.index = dec->n_outputs++;
            return push(dec, F_OUTPUT);
        }
        what = "each entry of \"outputs\" must be an object";
        break;
    case SL_DATA:
        return data_begin(dec, err);
    default: {
        enum api_status st;

        if (c == ']' || c == '}' || c == ',' || c == ':')
            return fail_json(dec, err, off_at(cur, cur->p), "expected a value");
        if (value_in_place(dec, cur, &st, err))
            return st;
    }
        capture_begin(dec, cur, c != '"' && c != '[' && c != '{');
        dec->state = HS_CAPTURE;
        return API_OK;
    }
    if (c == ']' || c == '}' || c == ',' || c == ':')
        return fail_json(dec, err, off_at(cur, cur->p), "expected a value");
    {
        enum api_status st = dec->slot == SL_OUTPUT || dec->slot == SL_OUTPUTS
                                 ? API_INVALID_PARAMETER
                                 : API_INVALID_TENSOR;
        return fail(dec, err, st, "%s", what);
    }
}

/* HS_COLON at its ':': the key's slot; a value is next. */
static enum api_status on_colon(struct infer_decoder *dec, struct cursor *cur,
                                struct api_error *err)
{
    enum api_status st;

    cur->p++;
    dec->slot = key_slot(dec, err, &st);
    if (st != API_OK)
        return st;
    dec->state = HS_VALUE;
    return API_OK;
}

/* HS_OBJ_FIRST or HS_KEY_NEXT at a key's opening quote: the key, and
 * while keys and values are read in place (the usual `"key": value, ...`),
 * its colon, its value and the members after it, without a trip through the
 * machine for each token. Each token leaves the machine's state as its own
 * step would, so the machine takes over wherever this stops (a container,
 * the data, a captured value, the chunk's end, anything else). */
static enum api_status on_key(struct infer_decoder *dec, struct cursor *cur, struct api_error *err)
{
    enum api_status st;

    for (;;) {
        if (!key_in_place(dec, cur)) {
            capture_begin(dec, cur, false);
            cur->p++;
            dec->state = HS_KEY;
            return cap_put(dec, "\"", 1, err);
        }
        if (!skip_ws(cur) || *cur->p != ':')
            return API_OK; /* HS_COLON reads it */
        st = on_colon(dec, cur, err);
        if (st != API_OK || !skip_ws(cur))
            return st;
        st = value_begin(dec, cur, err);
        if (st != API_OK || dec->state != HS_AFTER)
            return st;
        if (!skip_ws(cur) || *cur->p != ',')
            return API_OK; /* HS_AFTER reads it */
        cur->p++;
        dec->state = HS_KEY_NEXT;
        if (!skip_ws(cur) || *cur->p != '"')
            return API_OK; /* HS_KEY_NEXT reads it */
    }
}

static enum api_status step(struct infer_decoder *dec, struct cursor *cur, struct api_error *err)
{
    char c;

    switch (dec->state) {
    case HS_CAPTURE:
        return on_capture(dec, cur, err);
    case HS_DATA:
        return on_data(dec, cur, err);
    case HS_KEY:
        for (const char *p = cur->p; p < cur->end; p++) {
            if ((unsigned char)*p < 0x20)
                return fail_json(dec, err, off_at(cur, p), "control character in a string");
            if (dec->cap_escape) {
                dec->cap_escape = false;
            } else if (*p == '\\') {
                dec->cap_escape = true;
            } else if (*p == '"') {
                if (cap_put(dec, cur->p, (size_t)(p + 1 - cur->p), err) != API_OK)
                    return dec->status;
                cur->p = p + 1;
                return key_captured(dec, err);
            }
        }
        if (cap_put(dec, cur->p, (size_t)(cur->end - cur->p), err) != API_OK)
            return dec->status;
        cur->p = cur->end;
        return API_OK;
    default:
        break;
    }
    if (!skip_ws(cur))
        return API_OK;
    c = *cur->p;
    switch (dec->state) {
    case HS_VALUE:
        return value_begin(dec, cur, err);
    case HS_OBJ_FIRST:
    case HS_KEY_NEXT:
        if (c == '}' && dec->state == HS_OBJ_FIRST) {
            cur->p++;
            return close_frame(dec, err);
        }
        if (c != '"')
            return fail_json(dec, err, off_at(cur, cur->p),
                             dec->state == HS_OBJ_FIRST ? "expected a key or '}'"
                                                        : "expected a key");
        return on_key(dec, cur, err);
    case HS_COLON:
        if (c != ':')
            return fail_json(dec, err, off_at(cur, cur->p), "expected ':'");
        return on_colon(dec, cur, err);
    case HS_ARR_FIRST:
        if (c == ']') {
            cur->p++;
            return close_frame(dec, err);
        }
        dec->slot = dec->frames[dec->depth - 1] == F_INPUTS ? SL_INPUT : SL_OUTPUT;
        dec->state = HS_VALUE;
        return API_OK;
    case HS_AFTER: {
        bool object = frame_is_object(dec->frames[dec->depth - 1]);
        if (c == ',') {
            cur->p++;
            if (object) {
                dec->state = HS_KEY_NEXT;
                if (skip_ws(cur) && *cur->p == '"')
                    return on_key(dec, cur, err);
            } else {
                dec->slot = dec->frames[dec->depth - 1] == F_INPUTS ? SL_INPUT : SL_OUTPUT;
                dec->state = HS_VALUE;
            }
            return API_OK;
        }
        if (c != (object ? '}' : ']'))
            return fail_json(dec, err, off_at(cur, cur->p),
                             object ? "expected ',' or '}'" : "expected ',' or ']'");
        cur->p++;
        return close_frame(dec, err);
    }
    case HS_TRAILER:
        return fail_json(dec, err, off_at(cur, cur->p),
                         dec->req->has_header_length
                             ? "unexpected bytes after the request object, inside the header "
                               "length (Inference-Header-Content-Length)"
                             : "unexpected bytes after the request object");
    default:
        return API_OK;
    }
}

/* ---- binary data ---------------------------------------------------------- */

static enum api_status binary_next(struct infer_decoder *dec, struct api_error *err)
{
    const struct binary_input *b = &dec->bins[dec->bin];
    const struct api_tensor *t = &dec->res->tensors[b->tensor];
    char name[NAME_ECHO_MAX * 4 + 8];

    api_text_echo(name, sizeof name, t->name, t->name_len, NAME_ECHO_MAX, API_TEXT_ECHO_MASK);
    if (dec->br == NULL) {
        dec->br = malloc(sizeof *dec->br);
        if (dec->br == NULL)
            return fail(dec, err, API_INTERNAL_ERROR, "out of memory for the binary data");
    }
    snprintf(dec->br->what, sizeof dec->br->what, "the binary data of input \"%s\"", name);
    l2_accum_init(&dec->br->acc);
    if (api_elements_init(&dec->br->elems, &dec->br->acc, b->dtype, false, dec->br->what, err) !=
        API_OK)
        return dec->status = API_INTERNAL_ERROR;
    dec->br->elems.count_nonfinite = dec->req->count_nonfinite;
    dec->elems_live = true;
    dec->bin_left = b->size;
    return API_OK;
}

static enum api_status on_binary(struct infer_decoder *dec, const unsigned char *p, size_t len,
                                 uint64_t off, struct api_error *err)
{
    while (len > 0) {
        if (dec->bin == dec->n_bins)
            return fail(dec, err, API_INVALID_LENGTH,
                        "unexpected bytes at byte %" PRIu64 ": the header announces %" PRIu64
                        " bytes of binary data after its %" PRIu64 " bytes",
                        off, dec->binary_total, dec->req->header_length);
        if (!dec->elems_live && binary_next(dec, err) != API_OK)
            return dec->status;
        size_t n = len < dec->bin_left ? len : (size_t)dec->bin_left;
        if (n > 0 && api_elements_feed(&dec->br->elems, p, n, err) != API_OK)
            return dec->status = err != NULL ? err->status : API_NON_FINITE;
        p += n;
        len -= n;
        off += n;
        dec->bin_left -= n;
        if (dec->bin_left == 0) {
            api_result_set_sums(dec->res, dec->bins[dec->bin].tensor, &dec->br->acc);
            api_elements_free(&dec->br->elems);
            dec->elems_live = false;
            dec->bin++;
        }
    }
    return API_OK;
}

/* ---- the decoder ------------------------------------------------------------ */

static enum api_status infer_feed(void *opaque, const unsigned char *buf, size_t len,
                                  uint64_t offset, struct api_error *err)
{
    struct infer_decoder *dec = opaque;
    const struct api_infer_request *req = dec->req;
    size_t head = len;
    struct cursor cur;

    if (dec->status != API_OK)
        return dec->status;
    if (req->has_header_length)
        head = offset >= req->header_length        ? 0
               : req->header_length - offset < len ? (size_t)(req->header_length - offset)
                                                   : len;
    cur.buf = (const char *)buf;
    cur.p = cur.buf;
    cur.end = cur.buf + head;
    cur.off = offset;
    while (dec->status == API_OK && cur.p < cur.end)
        dec->status = step(dec, &cur, err);
    if (dec->status != API_OK || head == len)
        return dec->status;
    /* The header ends inside this chunk: the rest is binary data. */
    if (dec->state != HS_TRAILER && dec->state != HS_BINARY)
        return fail_json(dec, err, req->header_length,
                         "the header ends (Inference-Header-Content-Length) inside its JSON "
                         "value");
    dec->state = HS_BINARY;
    return on_binary(dec, buf + head, len - head, offset + head, err);
}

static enum api_status infer_finish(void *opaque, uint64_t length, struct api_error *err)
{
    struct infer_decoder *dec = opaque;
    const struct api_infer_request *req = dec->req;

    if (dec->status != API_OK)
        return dec->status;
    if (req->has_header_length && length < req->header_length)
        return fail(dec, err, API_INVALID_LENGTH,
                    "the body ends at byte %" PRIu64 ", inside its JSON header of %" PRIu64
                    " bytes (Inference-Header-Content-Length)",
                    length, req->header_length);
    if (dec->state != HS_TRAILER && dec->state != HS_BINARY)
        return fail_json(dec, err, length,
                         length == 0 ? "empty body" : "unexpected end of the header");
    /* binary inputs of 0 bytes at the end: their tensors were added empty */
    while (dec->bin < dec->n_bins && !dec->elems_live && dec->bins[dec->bin].size == 0)
        dec->bin++;
    if (dec->bin < dec->n_bins) {
        const struct api_tensor *t = &dec->res->tensors[dec->bins[dec->bin].tensor];
        char name[NAME_ECHO_MAX * 4 + 8];
        uint64_t left = dec->elems_live ? dec->bin_left : dec->bins[dec->bin].size;
        api_text_echo(name, sizeof name, t->name, t->name_len, NAME_ECHO_MAX, API_TEXT_ECHO_MASK);
        return fail(dec, err, API_INVALID_LENGTH,
                    "the body ends at byte %" PRIu64 ", %" PRIu64
                    " byte%s short of the binary data of input \"%s\"",
                    length, left, left == 1 ? "" : "s", name);
    }
    api_result_settle_dtype(dec->res);
    return API_OK;
}

static enum api_status infer_create(struct api_result *res, const struct api_decode_opts *opts,
                                    void **out, struct api_error *err)
{
    struct infer_decoder *dec;

    *out = NULL;
    if (opts->infer == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "an infer body needs its request");
    if (opts->has_dtype)
        return api_error_set(err, API_INVALID_PARAMETER,
                             "an inference request gives each input's datatype itself");
    /* malloc, then cleared: glibc 2.36's calloc does not take a block of
     * this size (under 1 KiB) from the per-thread cache, malloc does. */
    dec = malloc(sizeof *dec);
    if (dec == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory for the infer decoder");
    memset(dec, 0, sizeof *dec);
    dec->res = res;
    /* parameters.partial may come after the inputs: each keeps its exact
     * state, for input_partial */
    res->keep_exact = true;
    dec->req = opts->infer;
    dec->state = HS_VALUE;
    dec->slot = SL_ROOT;
    res->named = true;
    res->typed = true;
    *out = dec;
    return API_OK;
}

static void infer_destroy(void *opaque)
{
    struct infer_decoder *dec = opaque;

    if (dec == NULL)
        return;
    readers_free(&dec->in);
    input_name_free(&dec->in);
    if (dec->elems_live)
        api_elements_free(&dec->br->elems);
    free(dec->br);
    free(dec->bins);
    free(dec->cap);
    free(dec);
}

const struct api_decoder_ops api_infer_ops = {
    .create = infer_create,
    .feed = infer_feed,
    .finish = infer_finish,
    .destroy = infer_destroy,
};
