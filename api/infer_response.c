/* infer_response.c -- the Open Inference Protocol v2 response bodies.
 *
 * An infer response is written into one bounded buffer (text.h), through a
 * chunk on the stack that gathers its many small pieces: first the JSON
 * header, whose length the client reads from
 * Inference-Header-Content-Length, then the binary outputs' bytes in output
 * order. Every value is computed from the result at the spot it is
 * written, so the two passes (JSON, then binary) print the same numbers. */
#include "infer_response.h"

#include <string.h>

#include "partial.h"
#include "response.h"
#include "shortest.h"
#include "text.h"

/* Bytes of a metadata or error body: the longest detail, every byte
 * escaped to six, stays far below it. */
#define INFER_SMALL_MAX ((size_t)64 << 10)
_Static_assert(6 * API_DETAIL_MAX + 64 < INFER_SMALL_MAX, "an error body always fits");

#define INFER_VERSION "1"

/* ---- writing ---------------------------------------------------------------- */

static void put_string(struct api_text_buf *b, const char *s, size_t len)
{
    api_text_buf_json_string(b, s, len, API_TEXT_JSON_SHORT);
}

static void put_str(struct api_text_buf *b, const char *s)
{
    put_string(b, s, strlen(s));
}

/* The last few numbers an answer printed: it prints its totals, then each
 * input's figures, which for a single input are the same numbers
 * (api_shortest_repr is a pure function of the bits). */
#define REPR_MEMO 4

/* An answer being written: its many small pieces are gathered in chunk and
 * handed to the bounded buffer b a chunk at a time, so a small answer is
 * one append (and one allocation). The memo lives and dies with it. */
#define WRITER_CHUNK 2048
struct writer {
    struct api_text_buf *b;
    size_t n; /* bytes in chunk */
    char chunk[WRITER_CHUNK];
    uint64_t memo_bits[REPR_MEMO];
    unsigned char memo_len[REPR_MEMO]; /* 0: an empty entry */
    char memo_text[REPR_MEMO][API_SHORTEST_MAX];
    unsigned memo_next;
};

static void writer_init(struct writer *w, struct api_text_buf *b)
{
    w->b = b;
    w->n = 0;
    memset(w->memo_len, 0, sizeof w->memo_len);
    w->memo_next = 0;
}

/* Hands what is gathered to the buffer (whose failure is sticky, so it is
 * checked once, when the answer is taken). */
static void w_flush(struct writer *w)
{
    api_text_buf_append(w->b, w->chunk, w->n);
    w->n = 0;
}

/* Bytes written so far. */
static size_t w_len(const struct writer *w)
{
    return w->b->len + w->n;
}

/* Where the next n bytes go (n <= WRITER_CHUNK): at least n bytes of free
 * room in chunk. The pieces below copy a fixed number of bytes there (a few
 * moves, no call) and count only those that belong to the answer. */
static inline char *w_room(struct writer *w, size_t n)
{
    if (n > sizeof w->chunk - w->n)
        w_flush(w);
    return w->chunk + w->n;
}

static void w_put(struct writer *w, const void *s, size_t len)
{
    if (len > sizeof w->chunk) {
        w_flush(w);
        api_text_buf_append(w->b, s, len);
        return;
    }
    memcpy(w_room(w, len), s, len);
    w->n += len;
}

/* len bytes at s, len <= WRITER_CHUNK; inline, so that a literal's copy
 * (W_LIT: its length known at compile time) is a few moves. */
static inline void w_bytes(struct writer *w, const char *s, size_t len)
{
    memcpy(w_room(w, len), s, len);
    w->n += len;
}

#define W_LIT(w, lit) w_bytes((w), (lit), sizeof(lit) - 1)

/* v in decimal, written in place. */
static void w_u64(struct writer *w, uint64_t v)
{
    w->n += api_text_u64(w_room(w, API_TEXT_U64_MAX), v);
}

static void w_double(struct writer *w, double x)
{
    char *p = w_room(w, API_SHORTEST_MAX);
    uint64_t bits;
    unsigned k;

    memcpy(&bits, &x, sizeof bits);
    for (k = 0; k < REPR_MEMO; k++)
        if (w->memo_len[k] != 0 && w->memo_bits[k] == bits) {
            memcpy(p, w->memo_text[k], API_SHORTEST_MAX);
            w->n += w->memo_len[k];
            return;
        }
    k = w->memo_next;
    w->memo_next = (k + 1) % REPR_MEMO;
    w->memo_bits[k] = bits;
    w->memo_len[k] = (unsigned char)api_shortest_repr(x, p);
    memcpy(w->memo_text[k], p, API_SHORTEST_MAX);
    w->n += w->memo_len[k];
}

/* Whether each output has one value per input, from its row. */
static const bool per_input[API_INFER_OUT_COUNT_] = {
#define OUTPUT_PER_INPUT(name, text, datatype, per) [name] = per,
    API_INFER_OUTPUT_LIST(OUTPUT_PER_INPUT)
#undef OUTPUT_PER_INPUT
};

/* One element of an output: FP64 in d, INT64 in u, or BYTES (a partial)
 * in text. */
struct cell {
    bool is_int;
    bool is_bytes;
    double d;
    uint64_t u;
    size_t text_len;
    char text[API_PARTIAL_TEXT_MAX + 1];
};

/* The value of output which for the totals (i ignored) or for input i. */
static enum api_status cell_of(enum api_infer_output which, const struct api_figures *total,
                               const struct api_result *res, size_t i,
                               const struct api_scale *scale, struct cell *c, struct api_error *err)
{
    struct api_figures f;
    enum api_status st = API_OK;

    c->is_int = false;
    c->is_bytes = false;
    c->d = 0.0;
    c->u = 0;
    if (which == API_INFER_OUT_PARTIAL || which == API_INFER_OUT_INPUT_PARTIAL) {
        c->is_bytes = true;
        c->text_len = api_partial_encode(
            which == API_INFER_OUT_PARTIAL ? &res->total : res->tensors[i].exact, c->text);
        return API_OK;
    }
    if (per_input[which]) {
        st = api_figures_tensor(&res->tensors[i], scale, &f, err);
        if (st != API_OK)
            return st;
    } else {
        f = *total;
    }
    switch (which) {
    case API_INFER_OUT_LOSS:
    case API_INFER_OUT_INPUT_LOSS:
        c->d = f.loss;
        break;
    case API_INFER_OUT_SUM_SQUARES:
    case API_INFER_OUT_INPUT_SUM_SQUARES:
        c->d = f.sum_squares;
        break;
    case API_INFER_OUT_NORM:
    case API_INFER_OUT_INPUT_NORM:
        c->d = f.norm;
        break;
    case API_INFER_OUT_MAX_ABS:
        c->d = f.max_abs;
        break;
    case API_INFER_OUT_COUNT:
        c->is_int = true;
        c->u = f.count;
        break;
    case API_INFER_OUT_NAN_COUNT:
        c->is_int = true;
        c->u = f.nan_count;
        break;
    case API_INFER_OUT_INF_COUNT:
        c->is_int = true;
        c->u = f.inf_count;
        break;
    default:
        break;
    }
    return API_OK;
}

static void put_cell_json(struct writer *w, const struct cell *c)
{
    if (c->is_bytes) {
        W_LIT(w, "\"");
        w_put(w, c->text, c->text_len); /* base64url: nothing to escape */
        W_LIT(w, "\"");
    } else if (c->is_int)
        w_u64(w, c->u);
    else
        w_double(w, c->d);
}

static void put_cell_binary(struct writer *w, const struct cell *c)
{
    unsigned char le[8];
    uint64_t bits = c->u;

    if (c->is_bytes) { /* the binary extension's BYTES: 4-byte LE length, then the bytes */
        for (size_t k = 0; k < 4; k++)
            le[k] = (unsigned char)(c->text_len >> (8 * k));
        w_put(w, le, 4);
        w_put(w, c->text, c->text_len);
        return;
    }
    if (!c->is_int)
        memcpy(&bits, &c->d, sizeof bits);
    for (size_t k = 0; k < sizeof le; k++)
        le[k] = (unsigned char)(bits >> (8 * k));
    w_put(w, le, sizeof le);
}

/* Elements of output which: one, or one per input. */
static size_t output_size(enum api_infer_output which, const struct api_result *res)
{
    return per_input[which] ? res->n_tensors : 1;
}

/* Writes the values of output wanted, as JSON (data's array) or as binary. */
static enum api_status put_values(struct writer *w, const struct api_infer_wanted *wanted,
                                  const struct api_figures *total, const struct api_result *res,
                                  const struct api_scale *scale, bool binary, struct api_error *err)
{
    size_t n = output_size(wanted->which, res);
    struct cell c;
    enum api_status st;

    for (size_t i = 0; i < n; i++) {
        st = cell_of(wanted->which, total, res, i, scale, &c, err);
        if (st != API_OK)
            return st;
        if (binary) {
            put_cell_binary(w, &c);
        } else {
            if (i > 0)
                W_LIT(w, ", ");
            put_cell_json(w, &c);
        }
    }
    return API_OK;
}

/* `{"model_name": "l2_loss", "model_version": "1"` of each model's answers,
 * from its row (plain ASCII). */
static const struct {
    const char *text;
    size_t len;
} answer_heads[API_INFER_MODEL_COUNT] = {
#define ANSWER_HEAD(name, text)                                                                    \
    [name] = {"{\"model_name\": \"" text "\", \"model_version\": \"" INFER_VERSION "\"",           \
              sizeof("{\"model_name\": \"" text "\", \"model_version\": \"" INFER_VERSION "\"") -  \
                  1},
    API_INFER_MODEL_LIST(ANSWER_HEAD)
#undef ANSWER_HEAD
};

/* `{"name": "loss", "datatype": "FP64", "shape": [` of each output, from
 * its row: names and datatypes are plain ASCII, nothing to escape. */
#define OUTPUT_HEAD_MAX 80 /* bytes of the longest head, padded: copied whole */
static const struct {
    char text[OUTPUT_HEAD_MAX];
    size_t len;
} output_heads[API_INFER_OUT_COUNT_] = {
#define OUTPUT_HEAD(name, text, datatype, per_input)                                               \
    [name] = {"{\"name\": \"" text "\", \"datatype\": \"" datatype "\", \"shape\": [",             \
              sizeof("{\"name\": \"" text "\", \"datatype\": \"" datatype "\", \"shape\": [") -    \
                  1},
    API_INFER_OUTPUT_LIST(OUTPUT_HEAD)
#undef OUTPUT_HEAD
};

/* {"name", "datatype", "shape", then "data" or the binary size} of wanted. */
static enum api_status put_output(struct writer *w, const struct api_infer_wanted *wanted,
                                  const struct api_figures *total, const struct api_result *res,
                                  const struct api_scale *scale, struct api_error *err)
{
    size_t n = output_size(wanted->which, res);
    enum api_status st = API_OK;

    memcpy(w_room(w, OUTPUT_HEAD_MAX), output_heads[wanted->which].text, OUTPUT_HEAD_MAX);
    w->n += output_heads[wanted->which].len;
    w_u64(w, n);
    if (wanted->binary) {
        uint64_t size = 8 * (uint64_t)n;

        if (strcmp(api_infer_output_datatype(wanted->which), "BYTES") == 0) {
            struct cell c;

            size = 0;
            for (size_t i = 0; i < n && st == API_OK; i++) {
                st = cell_of(wanted->which, total, res, i, scale, &c, err);
                size += 4 + c.text_len;
            }
        }
        W_LIT(w, "], \"parameters\": {\"binary_data_size\": ");
        w_u64(w, size);
        W_LIT(w, "}}");
    } else {
        W_LIT(w, "], \"data\": [");
        st = put_values(w, wanted, total, res, scale, false, err);
        W_LIT(w, "]}");
    }
    return st;
}

enum api_status api_infer_response_encode(const struct api_infer_request *req,
                                          const struct api_result *res,
                                          struct api_infer_response *out, struct api_error *err)
{
    const struct api_scale *scale = req->has_scale ? &req->scale : NULL;
    struct api_figures total;
    struct api_text_buf b;
    struct writer w;
    enum api_status result;
    size_t header_len;

    memset(out, 0, sizeof *out);
    api_text_buf_init(&b, API_RESPONSE_MAX);
    writer_init(&w, &b);
    result = api_figures_total(res, scale, &total, err);
    if (result != API_OK)
        goto out_free_buf;
    w_put(&w, answer_heads[req->model].text, answer_heads[req->model].len);
    if (req->has_id) {
        W_LIT(&w, ", \"id\": ");
        w_flush(&w);
        put_string(&b, req->id, req->id_len);
    }
    if (req->tracked == API_INFER_TRACKED_ALL)
        W_LIT(&w, ", \"parameters\": {\"tracked\": true}");
    else if (req->tracked == API_INFER_TRACKED_PARTIAL)
        W_LIT(&w, ", \"parameters\": {\"tracked\": \"partial\"}");
    W_LIT(&w, ", \"outputs\": [");
    for (size_t i = 0; i < req->n_wanted; i++) {
        if (i > 0)
            W_LIT(&w, ", ");
        result = put_output(&w, &req->wanted[i], &total, res, scale, err);
        if (result != API_OK)
            goto out_free_buf;
        if (req->wanted[i].binary)
            out->binary = true;
    }
    W_LIT(&w, "]}");
    header_len = w_len(&w);
    for (size_t i = 0; i < req->n_wanted && result == API_OK; i++) {
        if (req->wanted[i].binary)
            result = put_values(&w, &req->wanted[i], &total, res, scale, true, err);
    }
    if (result != API_OK)
        goto out_free_buf;
    w_flush(&w);
    out->body = api_text_buf_take(&b, &out->len);
    if (out->body == NULL) {
        out->binary = false;
        result = api_error_set(err, API_INTERNAL_ERROR, "out of memory encoding the response");
        goto out_free_buf;
    }
    out->header_len = header_len;

out_free_buf:
    api_text_buf_free(&b);
    return result;
}

/* ---- small bodies ------------------------------------------------------------ */

char *api_infer_error_encode(const struct api_error *err, size_t *out_len)
{
    enum api_status st = err != NULL ? err->status : API_INTERNAL_ERROR;
    const char *detail = err != NULL ? err->detail : "";
    struct api_text_buf b;
    size_t len = 0;
    char *text;

    if (detail[0] == '\0')
        detail = api_status_title(st);
    api_text_buf_init(&b, INFER_SMALL_MAX);
    api_text_buf_append_str(&b, "{\"error\": ");
    put_str(&b, detail);
    api_text_buf_append_str(&b, "}");
    text = api_text_buf_take(&b, &len);
    if (text != NULL && out_len != NULL)
        *out_len = len;
    return text;
}

char *api_infer_server_metadata(const char *version, size_t *out_len)
{
    struct api_text_buf b;
    size_t len = 0;
    char *text;

    api_text_buf_init(&b, INFER_SMALL_MAX);
    api_text_buf_append_str(&b, "{\"name\": \"l2d\", \"version\": ");
    put_str(&b, version);
    api_text_buf_append_str(&b, ", \"extensions\": [\"binary_tensor_data\"]}");
    text = api_text_buf_take(&b, &len);
    if (text != NULL && out_len != NULL)
        *out_len = len;
    return text;
}

char *api_infer_model_metadata(enum api_infer_model model, size_t *out_len)
{
    struct api_text_buf b;
    size_t len = 0;
    char *text;

    api_text_buf_init(&b, INFER_SMALL_MAX);
    api_text_buf_append_str(&b, "{\"name\": ");
    put_str(&b, api_infer_model_name(model));
    api_text_buf_append_str(&b, ", \"versions\": [\"" INFER_VERSION "\"], \"platform\": \"l2d\", "
                                "\"inputs\": [{\"name\": \"weights\", \"datatype\": \"FP32\", "
                                "\"shape\": [-1]}], \"outputs\": [");
    for (int o = 0; o < API_INFER_OUT_COUNT_; o++) {
        enum api_infer_output which = (enum api_infer_output)o;

        if (o > 0)
            api_text_buf_append_str(&b, ", ");
        api_text_buf_append(&b, output_heads[which].text, output_heads[which].len);
        api_text_buf_append_str(&b, api_infer_output_per_input(which) ? "-1]}" : "1]}");
    }
    api_text_buf_append_str(&b, "]}");
    text = api_text_buf_take(&b, &len);
    if (text != NULL && out_len != NULL)
        *out_len = len;
    return text;
}
