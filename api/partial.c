/* partial.c -- the partial encoding: a checked record in base64url.
 *
 * The record keeps only the limbs between the lowest and the highest nonzero
 * one, so a partial of ordinary float32 data is a hundred-odd characters.
 * Decoding is strict (one spelling per state): canonical base64url, the
 * exact record length, trimmed limbs, and a CRC-32 over the record; then
 * the fields must agree (a nonzero sum needs finite elements and a nonzero
 * max_abs, and max_abs^2 <= sum <= finite count x max_abs^2, compared by
 * binary exponents), which also keeps any merge of them far from the top of
 * the accumulator. */
#include "partial.h"

#include <math.h>
#include <string.h>

#include "crc32.h"

#define PARTIAL_HEAD 4    /* version, flags, first limb, limb count */
#define PARTIAL_FIELDS 32 /* count, nan_count, inf_count, max_abs bits */
#define PARTIAL_CRC 4
#define PARTIAL_FIXED (PARTIAL_HEAD + PARTIAL_FIELDS + PARTIAL_CRC)

_Static_assert(API_PARTIAL_RECORD_MAX == PARTIAL_FIXED + 8 * L2_ACCUM_LIMBS, "record size");
_Static_assert(L2_ACCUM_LIMBS <= 255, "a limb index fits in a byte");

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The value of base64url character c, or -1. */
static const signed char b64_value[256] = {
    ['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,  ['H'] = 7,
    ['I'] = 8,  ['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15,
    ['Q'] = 16, ['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23,
    ['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31,
    ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35, ['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39,
    ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47,
    ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
    ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['-'] = 62, ['_'] = 63,
};

/* b64_value holds 0 both for 'A' and for characters outside the alphabet;
 * this tells them apart. */
static bool b64_is_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t api_partial_encode(const struct l2_accum *acc, char *out)
{
    unsigned char rec[API_PARTIAL_RECORD_MAX];
    unsigned lo = 0, hi = L2_ACCUM_LIMBS, n;
    uint64_t bits;
    uint32_t crc;
    size_t len, i, o;

    while (lo < L2_ACCUM_LIMBS && acc->limb[lo] == 0)
        lo++;
    while (hi > lo && acc->limb[hi - 1] == 0)
        hi--;
    n = hi - lo;
    if (n == 0)
        lo = 0;
    rec[0] = API_PARTIAL_VERSION;
    rec[1] = 0;
    rec[2] = (unsigned char)lo;
    rec[3] = (unsigned char)n;
    put_u64(rec + 4, acc->count);
    put_u64(rec + 12, acc->nan_count);
    put_u64(rec + 20, acc->inf_count);
    memcpy(&bits, &acc->max_abs, sizeof bits);
    put_u64(rec + 28, bits);
    for (i = 0; i < n; i++)
        put_u64(rec + PARTIAL_HEAD + PARTIAL_FIELDS + 8 * i, acc->limb[lo + i]);
    len = PARTIAL_HEAD + PARTIAL_FIELDS + 8 * (size_t)n;
    crc = api_crc32(0, rec, len);
    for (i = 0; i < PARTIAL_CRC; i++)
        rec[len++] = (unsigned char)(crc >> (8 * i));

    memcpy(out, API_PARTIAL_PREFIX, API_PARTIAL_PREFIX_LEN);
    o = API_PARTIAL_PREFIX_LEN;
    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)rec[i] << 16 | (uint32_t)rec[i + 1] << 8 | rec[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)rec[i] << 16;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)rec[i] << 16 | (uint32_t)rec[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* Decodes canonical unpadded base64url text (len chars) into rec (cap
 * bytes); false on a character outside the alphabet, an impossible length,
 * nonzero unused bits or more than cap bytes. */
static bool b64_decode(const char *s, size_t len, unsigned char *rec, size_t cap, size_t *out_len)
{
    size_t full = len / 4 * 4, o = 0, i;
    size_t n = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);

    if (len % 4 == 1 || n > cap)
        return false;
    for (i = 0; i < len; i++)
        if (!b64_is_char((unsigned char)s[i]))
            return false;
    for (i = 0; i < full; i += 4) {
        uint32_t v = (uint32_t)b64_value[(unsigned char)s[i]] << 18 |
                     (uint32_t)b64_value[(unsigned char)s[i + 1]] << 12 |
                     (uint32_t)b64_value[(unsigned char)s[i + 2]] << 6 |
                     (uint32_t)b64_value[(unsigned char)s[i + 3]];
        rec[o++] = (unsigned char)(v >> 16);
        rec[o++] = (unsigned char)(v >> 8);
        rec[o++] = (unsigned char)v;
    }
    if (len - full >= 2) {
        uint32_t v = (uint32_t)b64_value[(unsigned char)s[i]] << 18 |
                     (uint32_t)b64_value[(unsigned char)s[i + 1]] << 12;
        if (len - full == 3)
            v |= (uint32_t)b64_value[(unsigned char)s[i + 2]] << 6;
        rec[o++] = (unsigned char)(v >> 16);
        if (len - full == 3)
            rec[o++] = (unsigned char)(v >> 8);
        if ((len - full == 2 ? v & 0xffffu : v & 0xffu) != 0)
            return false; /* unused bits set: another spelling of the same bytes */
    }
    *out_len = o;
    return true;
}

/* floor(log2(sum)) relative to 2^0 of the nonzero sum in acc. */
static int sum_exponent(const struct l2_accum *acc)
{
    int i = L2_ACCUM_LIMBS - 1;

    while (acc->limb[i] == 0)
        i--;
    return i * 64 + 63 - __builtin_clzll(acc->limb[i]) + L2_ACCUM_LSB_EXP;
}

/* Checks that the decoded fields could come from elements. */
static enum api_status check_fields(const struct l2_accum *acc, bool zero_sum,
                                    struct api_error *err)
{
    uint64_t finite;
    int k, b, e;

    if (acc->nan_count > acc->count || acc->inf_count > acc->count - acc->nan_count)
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial is inconsistent: more non-finite elements than elements");
    finite = acc->count - acc->nan_count - acc->inf_count;
    if (!(acc->max_abs >= 0.0) || signbit(acc->max_abs) || isinf(acc->max_abs))
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial is inconsistent: max_abs is not a finite positive number");
    if (zero_sum)
        return acc->max_abs == 0.0
                   ? API_OK
                   : api_error_set(err, API_INVALID_PARTIAL,
                                   "partial is inconsistent: max_abs without a sum");
    if (finite == 0 || acc->max_abs == 0.0)
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial is inconsistent: a sum without finite elements");
    /* max_abs < 2^k, finite < 2^b; max_abs^2 <= sum < finite x 2^2k. */
    frexp(acc->max_abs, &k);
    b = 64 - __builtin_clzll(finite);
    e = sum_exponent(acc);
    if (e < 2 * k - 2 || e >= b + 2 * k)
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial is inconsistent: its sum does not fit its count and max_abs");
    return API_OK;
}

enum api_status api_partial_decode(const char *s, size_t len, struct l2_accum *acc,
                                   struct api_error *err)
{
    unsigned char rec[API_PARTIAL_RECORD_MAX];
    size_t n = 0, body;
    unsigned lo, nl;
    uint64_t bits;

    if (len < API_PARTIAL_PREFIX_LEN ||
        memcmp(s, API_PARTIAL_PREFIX, API_PARTIAL_PREFIX_LEN) != 0) {
        if (len >= 4 && memcmp(s, "l2p", 3) == 0 && s[3] >= '0' && s[3] <= '9')
            return api_error_set(err, API_INVALID_PARTIAL,
                                 "partial of another version: this server reads " API_PARTIAL_PREFIX
                                 " partials");
        return api_error_set(err, API_INVALID_PARTIAL,
                             "not a partial: a partial begins with " API_PARTIAL_PREFIX);
    }
    if (!b64_decode(s + API_PARTIAL_PREFIX_LEN, len - API_PARTIAL_PREFIX_LEN, rec, sizeof rec, &n))
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial is not canonical unpadded base64url of at most %d bytes",
                             API_PARTIAL_RECORD_MAX);
    /* Length and checksum first: a damaged record says so, whatever its
     * first byte became (another version's partials have another prefix). */
    if (n < PARTIAL_FIXED)
        return api_error_set(err, API_INVALID_PARTIAL, "partial is truncated");
    body = n - PARTIAL_CRC;
    if (get_u32(rec + body) != api_crc32(0, rec, body))
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial is corrupted: its checksum does not match");
    if (rec[0] != API_PARTIAL_VERSION)
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial of another version (%u): this server reads version %d",
                             (unsigned)rec[0], API_PARTIAL_VERSION);
    lo = rec[2];
    nl = rec[3];
    if (rec[1] != 0 || lo + nl > L2_ACCUM_LIMBS || (nl == 0 && lo != 0))
        return api_error_set(err, API_INVALID_PARTIAL, "partial has an invalid header");
    if (body != PARTIAL_HEAD + PARTIAL_FIELDS + 8 * (size_t)nl)
        return api_error_set(err, API_INVALID_PARTIAL,
                             "partial's length does not match its header");
    memset(acc->limb, 0, sizeof acc->limb);
    for (unsigned i = 0; i < nl; i++)
        acc->limb[lo + i] = get_u64(rec + PARTIAL_HEAD + PARTIAL_FIELDS + 8 * i);
    if (nl != 0 && (acc->limb[lo] == 0 || acc->limb[lo + nl - 1] == 0))
        return api_error_set(err, API_INVALID_PARTIAL, "partial's limbs are not trimmed");
    acc->count = get_u64(rec + 4);
    acc->nan_count = get_u64(rec + 12);
    acc->inf_count = get_u64(rec + 20);
    bits = get_u64(rec + 28);
    memcpy(&acc->max_abs, &bits, sizeof bits);
    return check_fields(acc, nl == 0, err);
}

bool api_partial_merge(struct l2_accum *dst, const struct l2_accum *src)
{
    uint64_t sum;

    if (__builtin_add_overflow(dst->count, src->count, &sum))
        return false;
    l2_accum_merge(dst, src);
    return true;
}
