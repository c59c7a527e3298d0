/* text.h -- the text helpers api/ and server/ share: a bounded growable
 * buffer, UTF-8 validation, JSON string escaping, printable echoes of client
 * text and hex digit values.
 *
 * Nothing here trusts its input: every function takes untrusted bytes with
 * their length and never writes past the room it is given. */
#ifndef API_TEXT_H
#define API_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- a bounded growable buffer ------------------------------------------ */

/* A NUL-terminated string that grows on append up to a hard limit (curl's
 * dynbuf). Read data and len directly; change them only through the
 * functions below. After a failed append every later append is refused
 * too, until api_text_buf_reset, so a run of appends is checked once. */
struct api_text_buf {
    char *data;  /* the contents, NUL-terminated; NULL until the first append */
    size_t len;  /* bytes of contents, without the NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard limit on len + 1 (the NUL counts) */
    bool failed; /* an append failed: out of memory or past max */
};

/* Makes b empty, allocating nothing; its contents may never need more than
 * max bytes, NUL included. Cannot fail. */
void api_text_buf_init(struct api_text_buf *b, size_t max);

/* Appends the n bytes at s (NULs allowed; s may be NULL when n is 0).
 * Returns false, leaving the contents as they were and b failed, when out
 * of memory, past max, or b had already failed. */
bool api_text_buf_append(struct api_text_buf *b, const void *s, size_t n);

/* api_text_buf_append of the NUL-terminated s. */
bool api_text_buf_append_str(struct api_text_buf *b, const char *s);

/* Appends v in decimal (what printf's %llu writes, without printf's cost
 * on the small answers' path). Returns false as api_text_buf_append does. */
bool api_text_buf_append_u64(struct api_text_buf *b, uint64_t v);

/* Writes v in decimal into out[0..API_TEXT_U64_MAX) (no NUL); returns the
 * number of digits. */
#define API_TEXT_U64_MAX 20
size_t api_text_u64(char out[API_TEXT_U64_MAX], uint64_t v);

/* Appends printf output. Returns false as api_text_buf_append does (also on
 * an encoding error of vsnprintf), the contents as they were. */
bool api_text_buf_appendf(struct api_text_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* api_text_buf_appendf with a va_list, which it consumes. */
bool api_text_buf_vappendf(struct api_text_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Hands the contents to the caller: a malloc'd NUL-terminated string the
 * caller frees, its length in *len (when len is not NULL). b is left empty
 * with the same max, as after init. Returns NULL (and *len = 0) when an
 * append failed or nothing was ever appended; the contents are freed then. */
char *api_text_buf_take(struct api_text_buf *b, size_t *len);

/* Empties b and clears a failure, keeping its storage and max. */
void api_text_buf_reset(struct api_text_buf *b);

/* Frees b's storage and leaves it empty, as after init with the same max
 * (so a second free is harmless). b may be NULL. */
void api_text_buf_free(struct api_text_buf *b);

/* ---- UTF-8 --------------------------------------------------------------- */

/* One UTF-8 character read a byte at a time, across chunks if need be. The
 * only validator of the tree: RFC 3629, so no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing past U+10FFFF. */
struct api_text_utf8 {
    unsigned char need;   /* continuation bytes still to come; 0: at a boundary */
    unsigned char lo, hi; /* the range the next continuation byte must be in */
};

enum api_text_utf8_step {
    API_TEXT_UTF8_DONE,    /* the byte ended a valid character */
    API_TEXT_UTF8_MORE,    /* valid so far; the character goes on */
    API_TEXT_UTF8_INVALID, /* the byte cannot come here; u is back at a boundary */
};

/* Puts u at a character boundary. Cannot fail. */
void api_text_utf8_init(struct api_text_utf8 *u);

/* Reads one byte c into u. */
enum api_text_utf8_step api_text_utf8_next(struct api_text_utf8 *u, unsigned char c);

/* The length (1..4) of the valid UTF-8 character at s, of which n bytes
 * may be read; 0 when the bytes there are not one (invalid, truncated by n,
 * or n is 0). */
size_t api_text_utf8_len(const char *s, size_t n);

/* ---- JSON strings -------------------------------------------------------- */

/* Both styles backslash '"' and '\\', keep valid UTF-8 (U+2028 and U+2029
 * included) and replace each byte that does not start a valid character by
 * U+FFFD; they differ in how they write control characters. */
enum api_text_json_style {
    /* \b \f \n \r \t, other U+0000..U+001F as \u00XX (upper-case hex), DEL
     * as is, U+FFFD as its UTF-8 bytes: jansson's output, which response
     * bodies have always had. */
    API_TEXT_JSON_SHORT,
    /* every U+0000..U+001F and DEL as \u00xx (lower-case hex), U+FFFD as the
     * escape \ufffd: the log lines' form. */
    API_TEXT_JSON_UNICODE,
};

/* Writes the JSON string escape of the len bytes at s (without quotes)
 * into out[0..cap), not NUL-terminated, stopping before the first character
 * whose escape does not fit: an escape or a character is never split. *used
 * gets the bytes of s consumed (len when all fit). Returns the bytes
 * written. */
size_t api_text_json_escape(char *out, size_t cap, const char *s, size_t len,
                            enum api_text_json_style style, size_t *used);

/* Appends the len bytes at s as a JSON string, quotes included. Returns
 * false as api_text_buf_append does, the contents as they were. */
bool api_text_buf_json_string(struct api_text_buf *b, const char *s, size_t len,
                              enum api_text_json_style style);

/* ---- printable echoes of client text --------------------------------------- */

/* How api_text_echo writes a byte outside printable ASCII (0x20..0x7e). */
enum api_text_echo_style {
    API_TEXT_ECHO_MASK,    /* as '?' */
    API_TEXT_ECHO_HEX,     /* as \xhh, and '\' as \x5c, so the echo reads back */
    API_TEXT_ECHO_PERCENT, /* as %HH, and ' ' as %20 (a field of a text log line) */
};

/* Bytes of out that always hold an echo of max bytes, in every style. */
#define API_TEXT_ECHO_SIZE(max) (4 * (size_t)(max) + 4)

/* Writes a printable echo of untrusted text into out[0..cap),
 * NUL-terminated: the text is len bytes long but only its first max are
 * read (s may hold no more than those), bytes outside printable ASCII are
 * written as style says, and "..." follows when len > max. With less room
 * than API_TEXT_ECHO_SIZE(max) (or max + 4 for MASK) the echo stops before
 * the first byte whose form does not fit, without "...". Returns its length;
 * writes nothing when cap is 0. */
size_t api_text_echo(char *out, size_t cap, const char *s, size_t len, size_t max,
                     enum api_text_echo_style style);

/* ---- hex digits ---------------------------------------------------------- */

/* The value 0..15 of the hex digit c (either case), or -1. */
int api_text_hex_value(unsigned char c);

/* The byte a JSON escape `\c` stands for (c one of " \ / b f n r t), or -1
 * for any other c (u included: \uXXXX is the caller's). */
int api_text_json_unescape(unsigned char c);

/* Writes code point cp (at most 0x10FFFF, not a surrogate) as UTF-8 into
 * out; returns its length, 1 to 4. */
size_t api_text_utf8_encode(uint32_t cp, char out[4]);

/* JSON whitespace (RFC 8259): space, tab, line feed, carriage return. */
static inline bool api_text_is_json_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

#endif
