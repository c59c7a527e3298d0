/* text.c -- bounded growable buffer, UTF-8 validation, JSON string escaping,
 * printable echoes of client text, hex digit values.
 *
 * The buffer follows curl's dynbuf: init allocates nothing, growth doubles
 * up to a hard limit fixed at init, a failed append changes nothing but the
 * failure flag. */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation of a buffer, in bytes (less when its max is less). */
#define TEXT_BUF_MIN 256
/* Bytes escaped per step when api_text_buf_json_string appends. */
#define TEXT_JSON_CHUNK 256

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* ---- a bounded growable buffer ------------------------------------------ */

void api_text_buf_init(struct api_text_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->failed = false;
}

/* Makes room for n more bytes and the NUL. On false (out of memory, or
 * past max) b is marked failed and its contents are untouched. */
static bool reserve(struct api_text_buf *b, size_t n)
{
    size_t need, cap;
    char *grown;

    if (__builtin_add_overflow(b->len, n, &need) || __builtin_add_overflow(need, 1, &need) ||
        need > b->max)
        goto out_fail;
    if (need <= b->cap)
        return true;
    cap = b->cap != 0 ? b->cap : TEXT_BUF_MIN;
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    if (cap > b->max)
        cap = b->max;
    grown = realloc(b->data, cap);
    if (grown == NULL)
        goto out_fail;
    if (b->data == NULL)
        grown[0] = '\0';
    b->data = grown;
    b->cap = cap;
    return true;

out_fail:
    b->failed = true;
    return false;
}

bool api_text_buf_append(struct api_text_buf *b, const void *s, size_t n)
{
    if (b->failed || !reserve(b, n))
        return false;
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool api_text_buf_append_str(struct api_text_buf *b, const char *s)
{
    return api_text_buf_append(b, s, strlen(s));
}

size_t api_text_u64(char out[API_TEXT_U64_MAX], uint64_t v)
{
    char digits[API_TEXT_U64_MAX];
    size_t n = sizeof digits;

    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(out, digits + n, sizeof digits - n);
    return sizeof digits - n;
}

bool api_text_buf_append_u64(struct api_text_buf *b, uint64_t v)
{
    char digits[API_TEXT_U64_MAX];

    return api_text_buf_append(b, digits, api_text_u64(digits, v));
}

bool api_text_buf_vappendf(struct api_text_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    size_t room;
    bool ok = false;
    int n;

    va_copy(again, ap);
    if (b->failed)
        goto out;
    /* Straight into the free room; only output that does not fit is
     * formatted a second time, after growing. */
    room = b->cap - b->len;
    n = vsnprintf(room > 0 ? b->data + b->len : NULL, room, fmt, ap);
    if (n < 0) {
        b->failed = true;
        goto out_restore;
    }
    if ((size_t)n >= room) {
        if (!reserve(b, (size_t)n))
            goto out_restore;
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    }
    b->len += (size_t)n;
    ok = true;
    goto out;

out_restore: /* a truncated vsnprintf wrote past the contents */
    if (b->data != NULL)
        b->data[b->len] = '\0';
out:
    va_end(again);
    return ok;
}

bool api_text_buf_appendf(struct api_text_buf *b, const char *fmt, ...)
{
    va_list ap;
    bool ok;

    va_start(ap, fmt);
    ok = api_text_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return ok;
}

char *api_text_buf_take(struct api_text_buf *b, size_t *len)
{
    char *text = b->failed ? NULL : b->data;

    if (text == NULL)
        free(b->data);
    if (len != NULL)
        *len = text != NULL ? b->len : 0;
    api_text_buf_init(b, b->max);
    return text;
}

void api_text_buf_reset(struct api_text_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
    b->failed = false;
}

void api_text_buf_free(struct api_text_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    api_text_buf_init(b, b->max);
}

/* ---- UTF-8 --------------------------------------------------------------- */

void api_text_utf8_init(struct api_text_utf8 *u)
{
    u->need = 0;
    u->lo = 0x80;
    u->hi = 0xbf;
}

/* The lead byte fixes the length and narrows the second byte's range: that
 * is where overlong forms (E0, F0), surrogates (ED) and code points past
 * U+10FFFF (F4) are refused; C0, C1 and F5..FF never lead. */
enum api_text_utf8_step api_text_utf8_next(struct api_text_utf8 *u, unsigned char c)
{
    if (u->need == 0) {
        if (c < 0x80)
            return API_TEXT_UTF8_DONE;
        if (c >= 0xc2 && c <= 0xdf) {
            u->need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            u->need = 2;
            if (c == 0xe0)
                u->lo = 0xa0;
            else if (c == 0xed)
                u->hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            u->need = 3;
            if (c == 0xf0)
                u->lo = 0x90;
            else if (c == 0xf4)
                u->hi = 0x8f;
        } else {
            return API_TEXT_UTF8_INVALID;
        }
        return API_TEXT_UTF8_MORE;
    }
    if (c < u->lo || c > u->hi) {
        api_text_utf8_init(u);
        return API_TEXT_UTF8_INVALID;
    }
    u->lo = 0x80;
    u->hi = 0xbf;
    return --u->need == 0 ? API_TEXT_UTF8_DONE : API_TEXT_UTF8_MORE;
}

size_t api_text_utf8_len(const char *s, size_t n)
{
    struct api_text_utf8 u;

    api_text_utf8_init(&u);
    for (size_t i = 0; i < n; i++) {
        switch (api_text_utf8_next(&u, (unsigned char)s[i])) {
        case API_TEXT_UTF8_DONE:
            return i + 1;
        case API_TEXT_UTF8_INVALID:
            return 0;
        case API_TEXT_UTF8_MORE:
            break;
        }
    }
    return 0;
}

/* ---- JSON strings -------------------------------------------------------- */

/* Whether c (ASCII) goes into a JSON string as it is. */
static bool json_plain(unsigned char c, enum api_text_json_style style)
{
    if (c == 0x7f)
        return style == API_TEXT_JSON_SHORT;
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* The escape letter of c in JSON's short forms, or 0. */
static char json_short(unsigned char c)
{
    switch (c) {
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

/* Writes into unit the form of the character at s (n >= 1 bytes readable)
 * that needs more than a plain copy of one ASCII byte; *in gets the bytes
 * of s it stands for. Returns the form's length (at most 6). */
static size_t json_unit(const unsigned char *s, size_t n, enum api_text_json_style style,
                        char unit[6], size_t *in)
{
    unsigned char c = s[0];
    size_t k;

    *in = 1;
    if (c == '"' || c == '\\') {
        unit[0] = '\\';
        unit[1] = (char)c;
        return 2;
    }
    if (c < 0x80) { /* a control character, or DEL in the UNICODE style */
        if (style == API_TEXT_JSON_SHORT && json_short(c) != 0) {
            unit[0] = '\\';
            unit[1] = json_short(c);
            return 2;
        }
        memcpy(unit, "\\u00", 4);
        unit[4] = (style == API_TEXT_JSON_SHORT ? hex_upper : hex_lower)[c >> 4];
        unit[5] = (style == API_TEXT_JSON_SHORT ? hex_upper : hex_lower)[c & 15];
        return 6;
    }
    k = api_text_utf8_len((const char *)s, n);
    if (k != 0) {
        memcpy(unit, s, k);
        *in = k;
        return k;
    }
    if (style == API_TEXT_JSON_SHORT) {
        memcpy(unit, "\xef\xbf\xbd", 3);
        return 3;
    }
    memcpy(unit, "\\ufffd", 6);
    return 6;
}

size_t api_text_json_escape(char *out, size_t cap, const char *s, size_t len,
                            enum api_text_json_style style, size_t *used)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (i < len) {
        size_t run = i, k, in;
        char unit[6];

        while (run < len && json_plain(p[run], style))
            run++;
        if (run > i) {
            k = run - i < cap - o ? run - i : cap - o;
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
            if (i < run)
                break;
            continue;
        }
        k = json_unit(p + i, len - i, style, unit, &in);
        if (k > cap - o)
            break;
        memcpy(out + o, unit, k);
        o += k;
        i += in;
    }
    *used = i;
    return o;
}

bool api_text_buf_json_string(struct api_text_buf *b, const char *s, size_t len,
                              enum api_text_json_style style)
{
    size_t start = b->len, done = 0;
    bool ok = api_text_buf_append(b, "\"", 1);

    while (ok && done < len) {
        char chunk[TEXT_JSON_CHUNK];
        size_t used;
        size_t n = api_text_json_escape(chunk, sizeof chunk, s + done, len - done, style, &used);

        ok = api_text_buf_append(b, chunk, n);
        done += used;
    }
    ok = ok && api_text_buf_append(b, "\"", 1);
    if (!ok && b->data != NULL) { /* no half-written string left behind */
        b->len = start;
        b->data[start] = '\0';
    }
    return ok;
}

/* ---- printable echoes of client text --------------------------------------- */

size_t api_text_echo(char *out, size_t cap, const char *s, size_t len, size_t max,
                     enum api_text_echo_style style)
{
    size_t n = len < max ? len : max, o = 0, i;

    if (cap == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char unit[4];
        size_t k = 1;

        if (c >= 0x20 && c < 0x7f && !(style == API_TEXT_ECHO_HEX && c == '\\') &&
            !(style == API_TEXT_ECHO_PERCENT && c == ' ')) {
            if (o + 1 >= cap) /* a printable byte goes as it is, without the unit */
                break;
            out[o++] = (char)c;
            continue;
        }
        if (style == API_TEXT_ECHO_MASK) {
            unit[0] = '?';
        } else if (style == API_TEXT_ECHO_HEX) {
            unit[0] = '\\';
            unit[1] = 'x';
            unit[2] = hex_lower[c >> 4];
            unit[3] = hex_lower[c & 15];
            k = 4;
        } else {
            unit[0] = '%';
            unit[1] = hex_upper[c >> 4];
            unit[2] = hex_upper[c & 15];
            k = 3;
        }
        if (k > cap - 1 - o)
            break;
        memcpy(out + o, unit, k);
        o += k;
    }
    if (i == n && len > max && 3 <= cap - 1 - o) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return o;
}

/* ---- hex digits ---------------------------------------------------------- */

int api_text_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int api_text_json_unescape(unsigned char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return -1;
    }
}

size_t api_text_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}
