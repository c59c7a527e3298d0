/* merge_decode.c -- the /merge body, one byte at a time.
 *
 * A small state machine for the one JSON shape /merge takes: an object with
 * the key "partials", whose value is an array of strings or an object of
 * arrays of strings. Strings (keys, names, partials) are unescaped into one
 * bounded buffer, validated as UTF-8 on the way, and handled at their
 * closing quote: a partial is decoded and merged into the accumulator of
 * its list, a name starts a new list. Anything else JSON allows is either
 * refused as not this shape (invalid_partial, with a pointer) or, when it
 * is not JSON at all, invalid_json with the offset of the byte. */
#include "merge_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partial.h"
#include "text.h"

/* Longest string kept: a tensor name, a partial, or a key. */
#define MERGE_STR_MAX (API_MAX_NAME > API_PARTIAL_TEXT_MAX ? API_MAX_NAME : API_PARTIAL_TEXT_MAX)

enum merge_state {
    M_START,      /* before the top-level '{' */
    M_KEY_FIRST,  /* after '{': '"' or '}' */
    M_KEY_NEXT,   /* after ',' at the top: '"' */
    M_COLON,      /* after the key: ':' */
    M_VALUE,      /* '[' (flat) or '{' (named) */
    M_ITEM_FIRST, /* after '[': '"' or ']' */
    M_ITEM_NEXT,  /* after an item: ',' or ']' */
    M_ITEM,       /* after ',' in a list: '"' */
    M_NAME_FIRST, /* after the named object's '{': '"' or '}' */
    M_NAME,       /* after ',' in the named object: '"' */
    M_NAME_COLON, /* after a name: ':' */
    M_LIST,       /* after a name's ':': '[' */
    M_NAME_NEXT,  /* after a name's list: ',' or '}' */
    M_TOP_NEXT,   /* after the value of "partials": ',' or '}' */
    M_END,        /* after the top-level '}': whitespace only */
    M_STRING,     /* inside a string (str_kind says which) */
};

enum merge_str_kind { STR_KEY, STR_NAME, STR_PARTIAL };

struct merge_decoder {
    struct api_result *res;
    enum merge_state state;
    bool named;
    bool seen_key;      /* "partials" has been read */
    bool in_named_list; /* the lists are a name's (else the flat one) */
    enum merge_str_kind str_kind;
    /* The string being read. */
    char str[MERGE_STR_MAX];
    size_t str_len;         /* bytes kept, at most MERGE_STR_MAX */
    bool str_long;          /* more bytes than kept */
    unsigned esc;           /* 0; 1 after '\'; 2..5 reading \uXXXX digits */
    unsigned uhex;          /* the \u digits so far */
    unsigned high;          /* a pending high surrogate, 0 when none */
    bool want_low;          /* a high surrogate must be followed by \u of a low one */
    unsigned want_low_step; /* 0: expect '\', 1: expect 'u' */
    struct api_text_utf8 utf8;
    uint64_t str_offset; /* body offset of the opening quote */
    /* The list being read. */
    struct l2_accum acc;
    uint64_t item;     /* index of the next item in the list */
    uint64_t partials; /* items over all lists */
    char *name;        /* the current name (named), owned */
    size_t name_len;
};

/* ---- errors ------------------------------------------------------------- */

/* JSON Pointer of the current list entry (or of the list, with no index). */
static void point_at(struct merge_decoder *dec, struct api_error *err, bool with_item)
{
    char ptr[API_POINTER_MAX];
    char idx[24];
    size_t pos = 0;
    int n;

    api_result_pointer_append(ptr, sizeof ptr, &pos, "partials", 8);
    if (dec->in_named_list)
        api_result_pointer_append(ptr, sizeof ptr, &pos, dec->name, dec->name_len);
    if (with_item) {
        n = snprintf(idx, sizeof idx, "%llu", (unsigned long long)dec->item);
        api_result_pointer_append(ptr, sizeof ptr, &pos, idx, (size_t)n);
    }
    api_error_at_pointer(err, ptr, pos < sizeof ptr ? pos : sizeof ptr - 1);
}

static enum api_status bad_json(struct api_error *err, uint64_t offset, const char *what)
{
    enum api_status st = api_error_set(err, API_INVALID_JSON, "%s", what);

    api_error_at_offset(err, (int64_t)offset);
    return st;
}

#define MERGE_SHAPE                                                                                \
    "the body is {\"partials\": [\"l2p1...\", ...]} or {\"partials\": {\"NAME\": [\"l2p1...\", "   \
    "...], ...}}"

/* ---- lists -------------------------------------------------------------- */

/* A list begins (flat, or the current name's). */
static void list_begin(struct merge_decoder *dec)
{
    l2_accum_init(&dec->acc);
    dec->item = 0;
}

/* The current name's list has ended: it becomes a tensor of the result. */
static enum api_status list_end_named(struct merge_decoder *dec, struct api_error *err)
{
    enum api_status st;

    if (__builtin_add_overflow(dec->res->total.count, dec->acc.count, &(uint64_t){0}))
        return api_error_set(err, API_RESULT_OUT_OF_RANGE,
                             "the merged count passes 18446744073709551615");
    st = api_result_add_tensor(dec->res, dec->name, dec->name_len, &dec->acc, 0, NULL, err);
    dec->in_named_list = false;
    return st;
}

/* A partial string has ended: decode it and merge it into the list's. */
static enum api_status item_done(struct merge_decoder *dec, struct api_error *err)
{
    struct l2_accum one;
    enum api_status st;

    if (dec->partials >= API_MERGE_MAX_PARTIALS) {
        st = api_error_set(err, API_PAYLOAD_TOO_LARGE, "more than %d partials in one /merge",
                           API_MERGE_MAX_PARTIALS);
        point_at(dec, err, true);
        return st;
    }
    dec->partials++;
    if (dec->str_long)
        st =
            api_error_set(err, API_INVALID_PARTIAL,
                          "partial longer than %d characters: not a partial", API_PARTIAL_TEXT_MAX);
    else
        st = api_partial_decode(dec->str, dec->str_len, &one, err);
    if (st == API_OK && !api_partial_merge(&dec->acc, &one))
        st = api_error_set(err, API_RESULT_OUT_OF_RANGE,
                           "the merged count passes 18446744073709551615");
    if (st != API_OK)
        point_at(dec, err, true);
    dec->item++;
    return st;
}

/* A name has ended: check it and keep it for its list. */
static enum api_status name_done(struct merge_decoder *dec, struct api_error *err)
{
    const struct api_result *res = dec->res;
    enum api_status st = API_OK;
    char *copy;

    dec->in_named_list = true;
    free(dec->name);
    dec->name = NULL;
    dec->name_len = 0;
    if (dec->str_long || dec->str_len > API_MAX_NAME) {
        dec->in_named_list = false;
        st = api_error_set(err, API_INVALID_TENSOR, "tensor name longer than %d bytes",
                           API_MAX_NAME);
        point_at(dec, err, false);
        return st;
    }
    copy = malloc(dec->str_len + 1);
    if (copy == NULL) {
        dec->in_named_list = false;
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory");
    }
    memcpy(copy, dec->str, dec->str_len);
    copy[dec->str_len] = '\0';
    dec->name = copy;
    dec->name_len = dec->str_len;
    if (api_result_check_name(res, copy, dec->str_len, NULL) != API_OK) {
        if (dec->str_len == 0)
            st = api_error_set(err, API_INVALID_TENSOR, "empty tensor name");
        else if (res->n_tensors >= API_MAX_TENSORS)
            st = api_error_set(err, API_INVALID_TENSOR, "more than %d names", API_MAX_TENSORS);
        else
            st = api_error_set(err, API_INVALID_TENSOR, "duplicate tensor name");
        point_at(dec, err, false);
    }
    return st;
}

/* A key of the top-level object has ended. */
static enum api_status key_done(struct merge_decoder *dec, struct api_error *err)
{
    char shown[API_TEXT_ECHO_SIZE(64)];
    enum api_status st;

    if (!dec->str_long && dec->str_len == 8 && memcmp(dec->str, "partials", 8) == 0) {
        if (!dec->seen_key) {
            dec->seen_key = true;
            return API_OK;
        }
        st = api_error_set(err, API_INVALID_PARTIAL, "the key \"partials\" is repeated");
        api_error_at_pointer(err, "/partials", 9);
        return st;
    }
    api_text_echo(shown, sizeof shown, dec->str, dec->str_len, 64, API_TEXT_ECHO_HEX);
    return api_error_set(err, API_INVALID_PARTIAL, "unknown key '%s': " MERGE_SHAPE, shown);
}

static enum api_status string_done(struct merge_decoder *dec, struct api_error *err)
{
    switch (dec->str_kind) {
    case STR_KEY:
        dec->state = M_COLON;
        return key_done(dec, err);
    case STR_NAME:
        dec->state = M_NAME_COLON;
        return name_done(dec, err);
    case STR_PARTIAL:
    default:
        dec->state = M_ITEM_NEXT;
        return item_done(dec, err);
    }
}

/* ---- strings ------------------------------------------------------------ */

static void string_begin(struct merge_decoder *dec, enum merge_str_kind kind, uint64_t offset)
{
    dec->state = M_STRING;
    dec->str_kind = kind;
    dec->str_len = 0;
    dec->str_long = false;
    dec->esc = 0;
    dec->high = 0;
    dec->want_low = false;
    dec->want_low_step = 0;
    dec->str_offset = offset;
    api_text_utf8_init(&dec->utf8);
}

static void str_put(struct merge_decoder *dec, unsigned char c)
{
    if (dec->str_len < MERGE_STR_MAX)
        dec->str[dec->str_len++] = (char)c;
    else
        dec->str_long = true;
}

/* Appends code point cp as UTF-8. */
static void str_put_cp(struct merge_decoder *dec, unsigned cp)
{
    char u[4];
    size_t n = api_text_utf8_encode(cp, u);

    for (size_t k = 0; k < n; k++)
        str_put(dec, (unsigned char)u[k]);
}

/* One byte c (at offset) inside a string. */
static enum api_status string_byte(struct merge_decoder *dec, unsigned char c, uint64_t offset,
                                   struct api_error *err)
{
    if (dec->want_low) { /* a high surrogate's \u of its low half */
        if (c != (dec->want_low_step == 0 ? '\\' : 'u'))
            return bad_json(err, offset, "invalid JSON: a lone UTF-16 surrogate in a string");
        if (dec->want_low_step++ == 1) {
            dec->want_low = false;
            dec->esc = 2;
            dec->uhex = 0;
        }
        return API_OK;
    }
    if (dec->esc == 1) {
        int e = api_text_json_unescape(c);

        if (c == 'u') {
            dec->esc = 2;
            dec->uhex = 0;
            return API_OK;
        }
        if (e < 0)
            return bad_json(err, offset, "invalid JSON: unknown escape in a string");
        str_put(dec, (unsigned char)e);
        dec->esc = 0;
        return API_OK;
    }
    if (dec->esc >= 2) {
        int h = api_text_hex_value(c);

        if (h < 0)
            return bad_json(err, offset, "invalid JSON: \\u needs four hex digits");
        dec->uhex = dec->uhex << 4 | (unsigned)h;
        if (++dec->esc < 6)
            return API_OK;
        dec->esc = 0;
        if (dec->high != 0) {
            if (dec->uhex < 0xdc00 || dec->uhex > 0xdfff)
                return bad_json(err, offset, "invalid JSON: a lone UTF-16 surrogate in a string");
            str_put_cp(dec, 0x10000 + ((dec->high - 0xd800) << 10) + (dec->uhex - 0xdc00));
            dec->high = 0;
        } else if (dec->uhex >= 0xd800 && dec->uhex <= 0xdbff) {
            dec->high = dec->uhex;
            dec->want_low = true;
            dec->want_low_step = 0;
        } else if (dec->uhex >= 0xdc00 && dec->uhex <= 0xdfff) {
            return bad_json(err, offset, "invalid JSON: a lone UTF-16 surrogate in a string");
        } else {
            str_put_cp(dec, dec->uhex);
        }
        return API_OK;
    }
    if (dec->utf8.need == 0) {
        if (c == '"')
            return string_done(dec, err);
        if (c == '\\') {
            dec->esc = 1;
            return API_OK;
        }
        if (c < 0x20)
            return bad_json(err, offset, "invalid JSON: a control character in a string");
    }
    if (api_text_utf8_next(&dec->utf8, c) == API_TEXT_UTF8_INVALID)
        return bad_json(err, offset, "invalid JSON: a string is not valid UTF-8");
    str_put(dec, c);
    return API_OK;
}

/* ---- structure ---------------------------------------------------------- */

/* A byte where a list entry belongs that does not open a string. */
static enum api_status not_a_string(struct merge_decoder *dec, unsigned char c, uint64_t offset,
                                    struct api_error *err)
{
    enum api_status st;

    if (c == '{' || c == '[' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' ||
        c == 'n') {
        st = api_error_set(err, API_INVALID_PARTIAL, "a partial is a string (\"l2p1...\")");
        point_at(dec, err, true);
        return st;
    }
    return bad_json(err, offset, "invalid JSON: expected a string");
}

/* One byte c at offset outside strings. */
static enum api_status structure_byte(struct merge_decoder *dec, unsigned char c, uint64_t offset,
                                      struct api_error *err)
{
    enum api_status st;

    if (api_text_is_json_ws((unsigned char)c))
        return API_OK;
    switch (dec->state) {
    case M_START:
        if (c == '{') {
            dec->state = M_KEY_FIRST;
            return API_OK;
        }
        if (c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' ||
            c == 'n')
            return api_error_set(err, API_INVALID_PARTIAL,
                                 "the body is not an object: " MERGE_SHAPE);
        return bad_json(err, offset, "invalid JSON: expected '{'");
    case M_KEY_FIRST:
    case M_KEY_NEXT:
        if (c == '"') {
            string_begin(dec, STR_KEY, offset);
            return API_OK;
        }
        if (c == '}' && dec->state == M_KEY_FIRST) {
            dec->state = M_END;
            return api_error_set(err, API_INVALID_PARTIAL,
                                 "the key \"partials\" is missing: " MERGE_SHAPE);
        }
        return bad_json(err, offset, "invalid JSON: expected a key");
    case M_COLON:
    case M_NAME_COLON:
        if (c != ':')
            return bad_json(err, offset, "invalid JSON: expected ':'");
        dec->state = dec->state == M_COLON ? M_VALUE : M_LIST;
        return API_OK;
    case M_VALUE:
        if (c == '[') {
            dec->named = false;
            dec->res->named = false;
            list_begin(dec);
            dec->state = M_ITEM_FIRST;
            return API_OK;
        }
        if (c == '{') {
            dec->named = true;
            dec->res->named = true;
            dec->state = M_NAME_FIRST;
            return API_OK;
        }
        if (c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
            st = api_error_set(err, API_INVALID_PARTIAL,
                               "\"partials\" is a list or an object of lists: " MERGE_SHAPE);
            api_error_at_pointer(err, "/partials", 9);
            return st;
        }
        return bad_json(err, offset, "invalid JSON: expected a value");
    case M_LIST:
        if (c == '[') {
            list_begin(dec);
            dec->state = M_ITEM_FIRST;
            return API_OK;
        }
        if (c == '{' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' ||
            c == 'n') {
            st = api_error_set(err, API_INVALID_PARTIAL, "a name's partials are a list");
            point_at(dec, err, false);
            return st;
        }
        return bad_json(err, offset, "invalid JSON: expected a value");
    case M_ITEM_FIRST:
    case M_ITEM:
        if (c == '"') {
            string_begin(dec, STR_PARTIAL, offset);
            return API_OK;
        }
        if (c == ']' && dec->state == M_ITEM_FIRST)
            goto list_closed;
        return not_a_string(dec, c, offset, err);
    case M_ITEM_NEXT:
        if (c == ',') {
            dec->state = M_ITEM;
            return API_OK;
        }
        if (c == ']')
            goto list_closed;
        return bad_json(err, offset, "invalid JSON: expected ',' or ']'");
    case M_NAME_FIRST:
    case M_NAME:
        if (c == '"') {
            string_begin(dec, STR_NAME, offset);
            return API_OK;
        }
        if (c == '}' && dec->state == M_NAME_FIRST) {
            dec->state = M_TOP_NEXT;
            return API_OK;
        }
        return bad_json(err, offset, "invalid JSON: expected a name");
    case M_NAME_NEXT:
        if (c == ',') {
            dec->state = M_NAME;
            return API_OK;
        }
        if (c == '}') {
            dec->state = M_TOP_NEXT;
            return API_OK;
        }
        return bad_json(err, offset, "invalid JSON: expected ',' or '}'");
    case M_TOP_NEXT:
        if (c == ',') {
            dec->state = M_KEY_NEXT;
            return API_OK;
        }
        if (c == '}') {
            dec->state = M_END;
            return API_OK;
        }
        return bad_json(err, offset, "invalid JSON: expected ',' or '}'");
    case M_END:
    case M_STRING:
    default:
        return bad_json(err, offset, "invalid JSON: trailing bytes after the body");
    }

list_closed:
    if (!dec->named) {
        dec->res->total = dec->acc;
        dec->state = M_TOP_NEXT;
        return API_OK;
    }
    dec->state = M_NAME_NEXT;
    return list_end_named(dec, err);
}

/* ---- ops ---------------------------------------------------------------- */

static enum api_status merge_create(struct api_result *res, const struct api_decode_opts *opts,
                                    void **out, struct api_error *err)
{
    struct merge_decoder *dec;

    (void)opts;
    *out = NULL;
    dec = calloc(1, sizeof *dec);
    if (dec == NULL)
        return api_error_set(err, API_INTERNAL_ERROR, "out of memory");
    dec->res = res;
    dec->state = M_START;
    res->merged = true;
    res->count_nonfinite = true;
    l2_accum_init(&dec->acc);
    *out = dec;
    return API_OK;
}

static enum api_status merge_feed(void *opaque, const unsigned char *buf, size_t len,
                                  uint64_t offset, struct api_error *err)
{
    struct merge_decoder *dec = opaque;
    enum api_status st = API_OK;

    for (size_t i = 0; i < len && st == API_OK; i++) {
        if (dec->state == M_STRING)
            st = string_byte(dec, buf[i], offset + i, err);
        else
            st = structure_byte(dec, buf[i], offset + i, err);
    }
    return st;
}

static enum api_status merge_finish(void *opaque, uint64_t length, struct api_error *err)
{
    struct merge_decoder *dec = opaque;

    if (dec->state == M_END)
        return API_OK;
    if (dec->state == M_START && length == 0)
        return bad_json(err, 0, "invalid JSON: the body is empty; " MERGE_SHAPE);
    return bad_json(err, length, "invalid JSON: the body ends too early");
}

static void merge_destroy(void *opaque)
{
    struct merge_decoder *dec = opaque;

    if (dec == NULL)
        return;
    free(dec->name);
    free(dec);
}

const struct api_decoder_ops api_merge_ops = {
    .create = merge_create,
    .feed = merge_feed,
    .finish = merge_finish,
    .destroy = merge_destroy,
};
