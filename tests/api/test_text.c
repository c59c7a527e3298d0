/* test_text.c -- the shared text helpers: bounded buffer, UTF-8, JSON
 * escaping, echoes of client text, hex digits. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "api/text.h"
#include "tests/support/chunks.h"

/* ---- the buffer ---------------------------------------------------------- */

Test(text_buf, init_allocates_nothing_and_take_of_nothing_is_null)
{
    struct api_text_buf b;
    size_t len = 99;

    api_text_buf_init(&b, 100);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_not(b.failed);
    cr_assert_null(api_text_buf_take(&b, &len));
    cr_assert_eq(len, 0);
    api_text_buf_free(&b);
    api_text_buf_free(&b); /* twice is harmless */
    api_text_buf_free(NULL);
}

Test(text_buf, appends_and_take)
{
    struct api_text_buf b;
    size_t len = 0;
    char *text;

    api_text_buf_init(&b, 1000);
    cr_assert(api_text_buf_append(&b, "ab", 2));
    cr_assert(api_text_buf_append(&b, NULL, 0));
    cr_assert(api_text_buf_append(&b, "c\0d", 3)); /* NULs are contents */
    cr_assert(api_text_buf_append_str(&b, "ef"));
    cr_assert(api_text_buf_appendf(&b, "<%d|%s>", 42, "x"));
    cr_assert_eq(b.len, 13);
    cr_assert_eq(memcmp(b.data, "abc\0def<42|x>", 14), 0); /* NUL-terminated */
    text = api_text_buf_take(&b, &len);
    cr_assert_eq(len, 13);
    cr_assert_eq(memcmp(text, "abc\0def<42|x>", 14), 0);
    free(text);
    /* take leaves the buffer empty and usable */
    cr_assert_null(b.data);
    cr_assert_eq(b.max, 1000);
    cr_assert(api_text_buf_append_str(&b, "again"));
    cr_assert_str_eq(b.data, "again");
    api_text_buf_free(&b);
}

Test(text_buf, grows_by_many_small_and_large_appends)
{
    struct api_text_buf b;
    char big[5000];

    api_text_buf_init(&b, SIZE_MAX);
    for (size_t i = 0; i < 10000; i++)
        cr_assert(api_text_buf_appendf(&b, "%zu,", i % 10));
    cr_assert_eq(b.len, 20000);
    cr_assert_leq(b.len + 1, b.cap);
    for (size_t i = 0; i < 20000; i += 2)
        cr_assert_eq(b.data[i], (char)('0' + i / 2 % 10));
    /* one appendf longer than the free room: formatted again after growing */
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    api_text_buf_reset(&b);
    cr_assert(api_text_buf_appendf(&b, "[%s]", big));
    cr_assert_eq(b.len, sizeof big + 1);
    cr_assert_eq(b.data[0], '[');
    cr_assert_eq(b.data[sizeof big], ']');
    cr_assert_eq(b.data[sizeof big + 1], '\0');
    api_text_buf_free(&b);
}

/* max counts the NUL: max - 1 bytes fit, one more does not, and a refused
 * append changes nothing but the failure flag. */
Test(text_buf, hard_limit)
{
    struct api_text_buf b;
    size_t len = 7;

    api_text_buf_init(&b, 10);
    cr_assert(api_text_buf_append(&b, "12345678", 8));
    cr_assert_not(api_text_buf_append(&b, "90", 2));
    cr_assert(b.failed);
    cr_assert_eq(b.len, 8);
    cr_assert_str_eq(b.data, "12345678");
    cr_assert_leq(b.cap, 10);
    /* sticky: even what would fit is refused until reset */
    cr_assert_not(api_text_buf_append(&b, "9", 1));
    cr_assert_not(api_text_buf_appendf(&b, "%d", 9));
    cr_assert_str_eq(b.data, "12345678");
    api_text_buf_reset(&b);
    cr_assert_not(b.failed);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    cr_assert(api_text_buf_append(&b, "123456789", 9));
    cr_assert(api_text_buf_append(&b, NULL, 0)); /* nothing needs no room past the NUL */
    cr_assert_str_eq(b.data, "123456789");
    /* take of a failed buffer: NULL, contents freed */
    cr_assert_not(api_text_buf_append(&b, "x", 1));
    cr_assert_null(api_text_buf_take(&b, &len));
    cr_assert_eq(len, 0);
    cr_assert_null(b.data);
    cr_assert_not(b.failed);
    api_text_buf_free(&b);
}

/* A formatted append past the limit is refused whole: vsnprintf's
 * truncated output does not stay behind. */
Test(text_buf, appendf_past_the_limit_leaves_contents)
{
    struct api_text_buf b;

    api_text_buf_init(&b, 300);
    cr_assert(api_text_buf_append_str(&b, "keep"));
    cr_assert_eq(b.cap, 256);
    cr_assert_not(api_text_buf_appendf(&b, "%0300d", 1));
    cr_assert_eq(b.len, 4);
    cr_assert_str_eq(b.data, "keep");
    api_text_buf_reset(&b);
    /* the limit, exactly: 299 bytes and the NUL */
    cr_assert(api_text_buf_appendf(&b, "%0299d", 1));
    cr_assert_eq(b.len, 299);
    cr_assert_eq(b.cap, 300);
    api_text_buf_free(&b);
}

Test(text_buf, small_max_caps_the_first_allocation)
{
    struct api_text_buf b;

    api_text_buf_init(&b, 3);
    cr_assert(api_text_buf_append(&b, "ab", 2));
    cr_assert_eq(b.cap, 3);
    cr_assert_not(api_text_buf_append(&b, "c", 1));
    api_text_buf_free(&b);

    api_text_buf_init(&b, 0); /* nothing fits, not even "" */
    cr_assert_not(api_text_buf_append(&b, "", 0));
    cr_assert_null(b.data);
    api_text_buf_free(&b);
}

Test(text_buf, size_overflow_is_refused)
{
    struct api_text_buf b;

    api_text_buf_init(&b, SIZE_MAX);
    cr_assert(api_text_buf_append(&b, "ab", 2));
    /* len + n + 1 overflows: refused before any copy */
    cr_assert_not(api_text_buf_append(&b, "x", SIZE_MAX - 1));
    cr_assert(b.failed);
    cr_assert_str_eq(b.data, "ab");
    api_text_buf_free(&b);
}

#if defined(__SANITIZE_ADDRESS__)
#define TEXT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEXT_ASAN 1
#endif
#endif

/* A growth that realloc refuses (glibc refuses anything past PTRDIFF_MAX;
 * ASan would abort instead, so it is skipped there). */
Test(text_buf, growth_failure_leaves_contents)
{
#ifdef TEXT_ASAN
    cr_skip_test("ASan aborts on an impossible allocation");
#else
    struct api_text_buf b;

    api_text_buf_init(&b, SIZE_MAX);
    cr_assert(api_text_buf_append(&b, "ab", 2));
    /* realloc fails first, so the source is never read */
    cr_assert_not(api_text_buf_append(&b, "x", (size_t)PTRDIFF_MAX));
    cr_assert(b.failed);
    cr_assert_eq(b.len, 2);
    cr_assert_str_eq(b.data, "ab");
    api_text_buf_free(&b);
#endif
}

/* vsnprintf's encoding error (a surrogate through %lc in the C locale). */
Test(text_buf, appendf_encoding_error_fails)
{
    struct api_text_buf b;

    api_text_buf_init(&b, 1000);
    cr_assert(api_text_buf_append_str(&b, "ok"));
    cr_assert_not(api_text_buf_appendf(&b, "x%lcy", (wint_t)0xd800));
    cr_assert(b.failed);
    cr_assert_str_eq(b.data, "ok");
    api_text_buf_free(&b);
}

/* ---- UTF-8 --------------------------------------------------------------- */

static const struct {
    const char *s;
    size_t n;    /* bytes readable */
    size_t want; /* api_text_utf8_len */
} utf8_cases[] = {
    /* boundaries of each length */
    {"\0", 1, 1},
    {"\x7f", 1, 1},
    {"\xc2\x80", 2, 2},
    {"\xdf\xbf", 2, 2},
    {"\xe0\xa0\x80", 3, 3},
    {"\xed\x9f\xbf", 3, 3}, /* U+D7FF, below the surrogates */
    {"\xee\x80\x80", 3, 3}, /* U+E000, above them */
    {"\xe2\x80\xa8", 3, 3}, /* U+2028 */
    {"\xef\xbf\xbf", 3, 3},
    {"\xf0\x90\x80\x80", 4, 4},
    {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
    {"a\x80", 2, 1},            /* only the first character counts */
    /* overlong forms */
    {"\xc0\x80", 2, 0},
    {"\xc0\xaf", 2, 0},
    {"\xc1\xbf", 2, 0},
    {"\xe0\x80\x80", 3, 0},
    {"\xe0\x9f\xbf", 3, 0},
    {"\xf0\x80\x80\x80", 4, 0},
    {"\xf0\x8f\xbf\xbf", 4, 0},
    /* surrogates */
    {"\xed\xa0\x80", 3, 0},
    {"\xed\xbf\xbf", 3, 0},
    {"\xed\xa0\x80\xed\xb0\x80", 6, 0}, /* a CESU-8 pair */
    /* past U+10FFFF */
    {"\xf4\x90\x80\x80", 4, 0},
    {"\xf5\x80\x80\x80", 4, 0},
    {"\xf7\xbf\xbf\xbf", 4, 0},
    {"\xf8\x88\x80\x80\x80", 5, 0},
    {"\xfc\x84\x80\x80\x80\x80", 6, 0},
    {"\xfe", 1, 0},
    {"\xff", 1, 0},
    /* continuation bytes with no lead */
    {"\x80", 1, 0},
    {"\xbf", 1, 0},
    /* truncated: by the end of the text, or by n */
    {"\xc3", 1, 0},
    {"\xe2\x82", 2, 0},
    {"\xf0\x9f\x98", 3, 0},
    {"\xc3\xa9", 1, 0},
    {"\xf0\x9f\x98\x80", 3, 0},
    {"", 0, 0},
    /* a byte that is not a continuation where one must be */
    {"\xc3\x41", 2, 0},
    {"\xc3\xc3\xa9", 3, 0},
    {"\xe2\x28\xa1", 3, 0},
    {"\xe2\x82\x28", 3, 0},
    {"\xf0\x9f\x98\x28", 4, 0},
    {"\xf0\x28\x8c\xbc", 4, 0},
};

Test(utf8, edge_cases)
{
    for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++)
        cr_assert_eq(api_text_utf8_len(utf8_cases[i].s, utf8_cases[i].n), utf8_cases[i].want,
                     "case %zu", i);
}

/* An independent decoder: decode by bit masks first, then refuse overlong
 * forms, surrogates and code points past U+10FFFF. */
static size_t reference_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

/* Every two- and three-byte string, and every four-byte one whose last two
 * bytes are at the edges of the continuation range, against the reference. */
Test(utf8, exhaustive_against_a_reference, .timeout = 60)
{
    static const unsigned char edges[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                          0xa0, 0xbf, 0xc0, 0xc2, 0xf4, 0xff};
    unsigned char s[4];

    for (uint32_t v = 0; v < 1u << 24; v++) {
        s[0] = (unsigned char)(v >> 16);
        s[1] = (unsigned char)(v >> 8);
        s[2] = (unsigned char)v;
        for (size_t n = 2; n <= 3; n++) {
            if (n == 2 && s[2] != 0)
                continue;
            size_t got = api_text_utf8_len((const char *)s, n);
            if (got != reference_len(s, n))
                cr_assert_fail("%02x %02x %02x (n %zu): %zu", s[0], s[1], s[2], n, got);
        }
    }
    for (uint32_t v = 0; v < 1u << 16; v++) {
        s[0] = (unsigned char)(v >> 8);
        s[1] = (unsigned char)v;
        for (size_t i = 0; i < sizeof edges; i++) {
            for (size_t j = 0; j < sizeof edges; j++) {
                s[2] = edges[i];
                s[3] = edges[j];
                if (api_text_utf8_len((const char *)s, 4) != reference_len(s, 4))
                    cr_assert_fail("%02x %02x %02x %02x", s[0], s[1], s[2], s[3]);
            }
        }
    }
}

/* Every scalar value, encoded, is one character of its encoded length. */
Test(utf8, every_scalar_value)
{
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        unsigned char s[4];
        size_t n;

        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        if (cp < 0x80) {
            s[0] = (unsigned char)cp;
            n = 1;
        } else if (cp < 0x800) {
            s[0] = (unsigned char)(0xc0 | cp >> 6);
            s[1] = (unsigned char)(0x80 | (cp & 63));
            n = 2;
        } else if (cp < 0x10000) {
            s[0] = (unsigned char)(0xe0 | cp >> 12);
            s[1] = (unsigned char)(0x80 | (cp >> 6 & 63));
            s[2] = (unsigned char)(0x80 | (cp & 63));
            n = 3;
        } else {
            s[0] = (unsigned char)(0xf0 | cp >> 18);
            s[1] = (unsigned char)(0x80 | (cp >> 12 & 63));
            s[2] = (unsigned char)(0x80 | (cp >> 6 & 63));
            s[3] = (unsigned char)(0x80 | (cp & 63));
            n = 4;
        }
        if (api_text_utf8_len((const char *)s, n) != n)
            cr_assert_fail("U+%04X", cp);
        if (n > 1 && api_text_utf8_len((const char *)s, n - 1) != 0)
            cr_assert_fail("U+%04X truncated", cp);
    }
}

/* Byte at a time, as a decoder sees a character split across chunks. */
Test(utf8, byte_at_a_time)
{
    struct api_text_utf8 u;

    api_text_utf8_init(&u);
    cr_assert_eq(api_text_utf8_next(&u, 'a'), API_TEXT_UTF8_DONE);
    cr_assert_eq(api_text_utf8_next(&u, 0xf0), API_TEXT_UTF8_MORE);
    cr_assert_eq(api_text_utf8_next(&u, 0x9f), API_TEXT_UTF8_MORE);
    cr_assert_eq(api_text_utf8_next(&u, 0x98), API_TEXT_UTF8_MORE);
    cr_assert_eq(api_text_utf8_next(&u, 0x80), API_TEXT_UTF8_DONE);
    /* a surrogate is refused at its second byte, and u starts over */
    cr_assert_eq(api_text_utf8_next(&u, 0xed), API_TEXT_UTF8_MORE);
    cr_assert_eq(api_text_utf8_next(&u, 0xa0), API_TEXT_UTF8_INVALID);
    cr_assert_eq(u.need, 0);
    cr_assert_eq(api_text_utf8_next(&u, 0xc3), API_TEXT_UTF8_MORE);
    cr_assert_eq(api_text_utf8_next(&u, 0xa9), API_TEXT_UTF8_DONE);
    /* the narrowed range applies to the second byte only */
    cr_assert_eq(api_text_utf8_next(&u, 0xe0), API_TEXT_UTF8_MORE);
    cr_assert_eq(api_text_utf8_next(&u, 0xa0), API_TEXT_UTF8_MORE);
    cr_assert_eq(api_text_utf8_next(&u, 0x80), API_TEXT_UTF8_DONE);
    cr_assert_eq(api_text_utf8_next(&u, 0x80), API_TEXT_UTF8_INVALID);
    cr_assert_eq(api_text_utf8_next(&u, 0xc1), API_TEXT_UTF8_INVALID);
    cr_assert_eq(api_text_utf8_next(&u, 0xf5), API_TEXT_UTF8_INVALID);
    cr_assert_eq(api_text_utf8_next(&u, 0x00), API_TEXT_UTF8_DONE);
}

/* ---- JSON strings -------------------------------------------------------- */

/* s escaped whole into a buffer big enough, NUL-terminated. */
static const char *escape(const char *s, size_t len, enum api_text_json_style style, char *out,
                          size_t cap)
{
    size_t used = 0;
    size_t n = api_text_json_escape(out, cap - 1, s, len, style, &used);

    cr_assert_eq(used, len);
    out[n] = '\0';
    return out;
}

Test(json_escape, short_style_every_control_character)
{
    static const char *const want[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b",     "\\t",     "\\n",     "\\u000B", "\\f",     "\\r",     "\\u000E", "\\u000F",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001A", "\\u001B", "\\u001C", "\\u001D", "\\u001E", "\\u001F",
    };
    char out[64];

    for (int c = 0; c < 32; c++) {
        char s = (char)c;
        cr_assert_str_eq(escape(&s, 1, API_TEXT_JSON_SHORT, out, sizeof out), want[c], "%d", c);
    }
    cr_assert_str_eq(escape("\x7f", 1, API_TEXT_JSON_SHORT, out, sizeof out), "\x7f");
    cr_assert_str_eq(escape("a\"b\\c/d", 7, API_TEXT_JSON_SHORT, out, sizeof out), "a\\\"b\\\\c/d");
}

Test(json_escape, unicode_style_every_control_character)
{
    char out[64], want[8];

    for (int c = 0; c < 32; c++) {
        char s = (char)c;
        snprintf(want, sizeof want, "\\u%04x", c);
        cr_assert_str_eq(escape(&s, 1, API_TEXT_JSON_UNICODE, out, sizeof out), want, "%d", c);
    }
    cr_assert_str_eq(escape("\x7f", 1, API_TEXT_JSON_UNICODE, out, sizeof out), "\\u007f");
    cr_assert_str_eq(escape("a\"b\\c/d", 7, API_TEXT_JSON_UNICODE, out, sizeof out),
                     "a\\\"b\\\\c/d");
}

Test(json_escape, utf8_kept_invalid_replaced)
{
    /* é, U+2028, U+2029, an emoji; a lone continuation, an overlong, a
     * surrogate, a truncated sequence at the end */
    static const char s[] = "\xc3\xa9\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x98\x80|\x80|\xc0\xaf|"
                            "\xed\xa0\x80|\xe2\x82";
    char out[256];

    cr_assert_str_eq(escape(s, sizeof s - 1, API_TEXT_JSON_SHORT, out, sizeof out),
                     "\xc3\xa9\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x98\x80|\xef\xbf\xbd|"
                     "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                     "\xef\xbf\xbd\xef\xbf\xbd");
    cr_assert_str_eq(escape(s, sizeof s - 1, API_TEXT_JSON_UNICODE, out, sizeof out),
                     "\xc3\xa9\xe2\x80\xa8\xe2\x80\xa9\xf0\x9f\x98\x80|\\ufffd|"
                     "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd");
}

/* The short style is jansson's: random valid UTF-8 (controls, quotes,
 * NULs, every length of character) escaped both ways. */
Test(json_escape, short_style_matches_jansson)
{
    uint64_t seed = 7;

    for (int round = 0; round < 20000; round++) {
        char s[256], out[2048];
        size_t n = 0, k = chunks_rng(&seed) % 40, used, len;
        json_t *js;
        char *want;

        for (size_t i = 0; i < k; i++) {
            uint64_t r = chunks_rng(&seed);
            uint32_t cp;
            switch (r % 5) {
            case 0:
                cp = (uint32_t)(r >> 8) % 0x20;
                break;
            case 1:
                cp = 0x20 + (uint32_t)(r >> 8) % 0x60;
                break;
            case 2:
                cp = 0x80 + (uint32_t)(r >> 8) % 0x780;
                break;
            case 3:
                cp = 0xe000 + (uint32_t)(r >> 8) % 0x2000;
                break;
            default:
                cp = 0x10000 + (uint32_t)(r >> 8) % 0x100000;
                break;
            }
            if (cp < 0x80) {
                s[n++] = (char)cp;
            } else if (cp < 0x800) {
                s[n++] = (char)(0xc0 | cp >> 6);
                s[n++] = (char)(0x80 | (cp & 63));
            } else if (cp < 0x10000) {
                s[n++] = (char)(0xe0 | cp >> 12);
                s[n++] = (char)(0x80 | (cp >> 6 & 63));
                s[n++] = (char)(0x80 | (cp & 63));
            } else {
                s[n++] = (char)(0xf0 | cp >> 18);
                s[n++] = (char)(0x80 | (cp >> 12 & 63));
                s[n++] = (char)(0x80 | (cp >> 6 & 63));
                s[n++] = (char)(0x80 | (cp & 63));
            }
        }
        js = json_stringn(s, n);
        cr_assert_not_null(js);
        want = json_dumps(js, JSON_ENCODE_ANY);
        len = api_text_json_escape(out + 1, sizeof out - 3, s, n, API_TEXT_JSON_SHORT, &used);
        cr_assert_eq(used, n);
        out[0] = '"';
        out[len + 1] = '"';
        out[len + 2] = '\0';
        cr_assert_str_eq(out, want);
        free(want);
        json_decref(js);
    }
}

/* Output stops before the first escape or character that does not fit. */
Test(json_escape, never_splits)
{
    char out[16];
    size_t used, n;

    n = api_text_json_escape(out, 7, "ab\ncd", 5, API_TEXT_JSON_UNICODE, &used);
    cr_assert_eq(n, 2);
    cr_assert_eq(used, 2);
    n = api_text_json_escape(out, 8, "ab\n", 3, API_TEXT_JSON_UNICODE, &used);
    cr_assert_eq(n, 8);
    cr_assert_eq(used, 3);
    n = api_text_json_escape(out, 3, "a\xf0\x9f\x98\x80", 5, API_TEXT_JSON_SHORT, &used);
    cr_assert_eq(n, 1);
    cr_assert_eq(used, 1);
    n = api_text_json_escape(out, 3, "ab\"", 3, API_TEXT_JSON_SHORT, &used);
    cr_assert_eq(n, 2);
    cr_assert_eq(used, 2);
    n = api_text_json_escape(out, 4, "abcdef", 6, API_TEXT_JSON_SHORT, &used);
    cr_assert_eq(n, 4);
    cr_assert_eq(used, 4);
    n = api_text_json_escape(out, 0, "a", 1, API_TEXT_JSON_SHORT, &used);
    cr_assert_eq(n, 0);
    cr_assert_eq(used, 0);
}

Test(json_escape, into_the_buffer)
{
    struct api_text_buf b;
    char name[1000];

    api_text_buf_init(&b, 8192);
    cr_assert(api_text_buf_json_string(&b, "a\0\"", 3, API_TEXT_JSON_SHORT));
    cr_assert_str_eq(b.data, "\"a\\u0000\\\"\"");
    api_text_buf_reset(&b);
    /* longer than one escaping step: every byte becomes six */
    memset(name, 1, sizeof name);
    cr_assert(api_text_buf_json_string(&b, name, sizeof name, API_TEXT_JSON_SHORT));
    cr_assert_eq(b.len, 6 * sizeof name + 2);
    for (size_t i = 0; i < sizeof name; i++)
        cr_assert_eq(memcmp(b.data + 1 + 6 * i, "\\u0001", 6), 0);
    cr_assert_eq(b.data[b.len - 1], '"');
    api_text_buf_free(&b);
}

/* A string that does not fit leaves nothing of itself behind. */
Test(json_escape, into_the_buffer_past_the_limit)
{
    struct api_text_buf b;
    char name[1000];

    memset(name, '"', sizeof name);
    api_text_buf_init(&b, 1500);
    cr_assert(api_text_buf_append_str(&b, "{"));
    cr_assert_not(api_text_buf_json_string(&b, name, sizeof name, API_TEXT_JSON_SHORT));
    cr_assert(b.failed);
    cr_assert_eq(b.len, 1);
    cr_assert_str_eq(b.data, "{");
    api_text_buf_free(&b);
}

/* ---- echoes -------------------------------------------------------------- */

static const char *echoed(const char *s, size_t len, size_t max, enum api_text_echo_style style,
                          char *out, size_t cap)
{
    size_t n = api_text_echo(out, cap, s, len, max, style);

    cr_assert_eq(n, strlen(out));
    return out;
}

Test(echo, styles)
{
    static const char s[] = "a b\\%\x01\x7f\xc3\xa9~";
    char out[128];

    cr_assert_str_eq(echoed(s, sizeof s - 1, 64, API_TEXT_ECHO_MASK, out, sizeof out),
                     "a b\\%????~");
    cr_assert_str_eq(echoed(s, sizeof s - 1, 64, API_TEXT_ECHO_HEX, out, sizeof out),
                     "a b\\x5c%\\x01\\x7f\\xc3\\xa9~");
    cr_assert_str_eq(echoed(s, sizeof s - 1, 64, API_TEXT_ECHO_PERCENT, out, sizeof out),
                     "a%20b\\%%01%7F%C3%A9~");
    cr_assert_str_eq(echoed("a\0b", 3, 64, API_TEXT_ECHO_HEX, out, sizeof out), "a\\x00b");
    cr_assert_str_eq(echoed("", 0, 64, API_TEXT_ECHO_MASK, out, sizeof out), "");
}

/* Only the first max bytes are read; "..." says there were more. */
Test(echo, truncation)
{
    char out[API_TEXT_ECHO_SIZE(4)];

    cr_assert_str_eq(echoed("abcd", 4, 4, API_TEXT_ECHO_MASK, out, sizeof out), "abcd");
    cr_assert_str_eq(echoed("abcde", 5, 4, API_TEXT_ECHO_MASK, out, sizeof out), "abcd...");
    /* len may exceed what s holds past max: a 4-byte buffer of a longer text */
    cr_assert_str_eq(echoed("\xff\xff\xff\xff", 1000, 4, API_TEXT_ECHO_HEX, out, sizeof out),
                     "\\xff\\xff\\xff\\xff...");
    cr_assert_eq(strlen(out) + 1, sizeof out); /* the worst case fills the size exactly */
    cr_assert_str_eq(echoed("ab", 2, 0, API_TEXT_ECHO_MASK, out, sizeof out), "...");
}

/* With less room than a whole echo, the output stops before a form that
 * does not fit, and says nothing of the rest. */
Test(echo, room)
{
    char out[8];

    memset(out, 'z', sizeof out);
    cr_assert_eq(api_text_echo(out, 0, "abc", 3, 3, API_TEXT_ECHO_MASK), 0);
    cr_assert_eq(out[0], 'z');
    cr_assert_str_eq(echoed("abc", 3, 3, API_TEXT_ECHO_MASK, out, 1), "");
    cr_assert_str_eq(echoed("abc", 3, 3, API_TEXT_ECHO_MASK, out, 3), "ab");
    cr_assert_str_eq(echoed("a\n", 2, 2, API_TEXT_ECHO_PERCENT, out, 4), "a");
    cr_assert_str_eq(echoed("a\n", 2, 2, API_TEXT_ECHO_PERCENT, out, 5), "a%0A");
    cr_assert_str_eq(echoed("abcdef", 6, 4, API_TEXT_ECHO_MASK, out, 7), "abcd");
    cr_assert_str_eq(echoed("abcdef", 6, 4, API_TEXT_ECHO_MASK, out, 8), "abcd...");
    cr_assert_str_eq(echoed("abcdef", 6, SIZE_MAX, API_TEXT_ECHO_MASK, out, 5), "abcd");
}

/* ---- hex digits ---------------------------------------------------------- */

Test(hex, every_byte)
{
    for (int c = 0; c < 256; c++) {
        int want = -1;
        if (c >= '0' && c <= '9')
            want = c - '0';
        else if (c >= 'a' && c <= 'f')
            want = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            want = c - 'A' + 10;
        cr_assert_eq(api_text_hex_value((unsigned char)c), want, "byte %d", c);
    }
}

Test(text, append_u64_is_decimal)
{
    static const uint64_t values[] = {0, 7, 10, 99, 100, 1234567890123, UINT64_MAX};
    struct api_text_buf b;
    char want[32];

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        api_text_buf_init(&b, 64);
        cr_assert(api_text_buf_append_str(&b, "n="));
        cr_assert(api_text_buf_append_u64(&b, values[i]));
        snprintf(want, sizeof want, "n=%llu", (unsigned long long)values[i]);
        cr_assert_eq(b.len, strlen(want));
        cr_assert_str_eq(b.data, want);
        api_text_buf_free(&b);
    }
    api_text_buf_init(&b, 4); /* "123" and the NUL fill it: one digit more fails */
    cr_assert(api_text_buf_append_u64(&b, 123));
    cr_assert_not(api_text_buf_append_u64(&b, 4));
    cr_assert_str_eq(b.data, "123");
    api_text_buf_free(&b);
}

/* Code points at each UTF-8 length boundary, encoded as the standard
 * writes them, and read back as valid by the UTF-8 checker. */
Test(text, utf8_encode_boundaries)
{
    static const struct {
        uint32_t cp;
        const char *utf8;
    } cases[] = {
        {0x0, "\x00"},
        {0x7f, "\x7f"},
        {0x80, "\xc2\x80"},
        {0x7ff, "\xdf\xbf"},
        {0x800, "\xe0\xa0\x80"},
        {0xffff, "\xef\xbf\xbf"},
        {0x10000, "\xf0\x90\x80\x80"},
        {0x10ffff, "\xf4\x8f\xbf\xbf"},
    };
    char out[4];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t want = cases[i].cp == 0 ? 1 : strlen(cases[i].utf8);
        size_t n = api_text_utf8_encode(cases[i].cp, out);
        cr_assert_eq(n, want, "U+%04X: %zu bytes", (unsigned)cases[i].cp, n);
        cr_assert_eq(memcmp(out, cases[i].utf8, n), 0, "U+%04X", (unsigned)cases[i].cp);
        cr_assert_eq(api_text_utf8_len(out, n), n, "U+%04X", (unsigned)cases[i].cp);
    }
}

Test(text, json_unescape_letters)
{
    static const char letters[] = "\"\\/bfnrt", bytes[] = "\"\\/\b\f\n\r\t";

    for (int c = 0; c < 256; c++) {
        const char *at = c != 0 ? strchr(letters, c) : NULL;
        int want = at != NULL ? (unsigned char)bytes[at - letters] : -1;
        cr_assert_eq(api_text_json_unescape((unsigned char)c), want, "\\%c", c);
    }
}
