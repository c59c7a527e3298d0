/* fuzz_query.h -- the query harness body (fuzz_query.c; replayed by the unit tests).
 *
 * Input: byte 0 picks the endpoint (bit 1: /merge, else bit 0: /regularize), the rest is the
 * raw query. api_query_parse must never crash, and must agree with a slow
 * reference written from API.md: split on '&' (empty segments skipped),
 * percent-decode names and values into exact heap copies ('+' is a space),
 * refuse bad escapes, unknown, repeated and misplaced parameters in
 * segment order (invalid_parameter), then validate scale (invalid_scale:
 * missing, longer than 1024 decoded bytes, not the decimal grammar, an
 * integer literal, overflowing, negative), dtype (invalid_dtype: one of the
 * names API.md lists, in any case), nonfinite (invalid_parameter unless
 * reject or count, in any case), partial (true or false, in any case) and
 * track (1 to 128 bytes of [A-Za-z0-9_.:/-]). /merge takes scale
 * (optional), partial and track only. A success must satisfy the rules: scale
 * finite and >= 0, disabled exactly when it is 0, present exactly on
 * /regularize (and on /merge when sent), and equal to strtod of the text; dtype one of the four
 * (float64 when absent). An error's detail must
 * be NUL-terminated within its buffer and printable ASCII (user bytes are
 * echoed escaped). */
#ifndef FUZZ_QUERY_H
#define FUZZ_QUERY_H

#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <math.h>

#include "api/query.h"
#include "fuzz_common.h"

#define REF_SCALE_MAX 1024

/* Percent-decodes s[0..len) into a new heap string (NUL-terminated, *out_len
 * bytes). False on a bad escape. */
static bool ref_decode(const uint8_t *s, size_t len, char **out, size_t *out_len)
{
    char *d = malloc(len + 1);
    size_t i = 0, n = 0;

    if (d == NULL)
        abort();
    while (i < len) {
        if (s[i] == '%') {
            char hex[3];
            char *end;

            if (len - i < 3 || !isxdigit(s[i + 1]) || !isxdigit(s[i + 2])) {
                free(d);
                return false;
            }
            hex[0] = (char)s[i + 1];
            hex[1] = (char)s[i + 2];
            hex[2] = '\0';
            d[n++] = (char)strtoul(hex, &end, 16);
            i += 3;
        } else {
            d[n++] = s[i] == '+' ? ' ' : (char)s[i];
            i++;
        }
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
    return true;
}

/* [+-]?(digits[.digits] | .digits)([eE][+-]?digits)?; *integer when it has
 * neither '.' nor an exponent. */
static bool ref_grammar(const char *s, size_t len, bool *integer)
{
    size_t i = 0, a, b = 0;
    bool dot = false, exp = false;

    if (i < len && strchr("+-", s[i]) != NULL && s[i] != '\0')
        i++;
    for (a = 0; i < len && isdigit((unsigned char)s[i]); i++)
        a++;
    if (i < len && s[i] == '.') {
        dot = true;
        for (i++; i < len && isdigit((unsigned char)s[i]); i++)
            b++;
        if (b == 0)
            return false;
    }
    if (a == 0 && b == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;

        exp = true;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        for (; i < len && isdigit((unsigned char)s[i]); i++)
            e++;
        if (e == 0)
            return false;
    }
    *integer = !dot && !exp;
    return i == len;
}

static enum api_status ref_scale(const char *s, size_t len, struct api_scale *out)
{
    bool integer = false;
    double v;
    char *end;

    if (len > REF_SCALE_MAX || len == 0 || !ref_grammar(s, len, &integer) || integer)
        return API_INVALID_SCALE;
    errno = 0;
    v = strtod(s, &end); /* s is NUL-terminated and holds no NUL (grammar) */
    FUZZ_CHECK(end == s + len, "reference: strtod stopped early on \"%s\"", s);
    if (isinf(v) || v < 0.0)
        return API_INVALID_SCALE;
    out->value = v == 0.0 ? 0.0 : v;
    out->disabled = v == 0.0;
    return API_OK;
}

static enum api_status ref_parse(enum api_endpoint ep, const uint8_t *q, size_t len,
                                 struct api_query *out)
{
    char *scale = NULL, *dtype = NULL, *nonfinite = NULL, *partial = NULL, *track = NULL;
    size_t scale_len = 0, dtype_len = 0, nonfinite_len = 0, partial_len = 0, track_len = 0;
    size_t pos = 0;
    bool merge = ep == API_ENDPOINT_MERGE;
    enum api_status st = API_OK;

    memset(out, 0, sizeof *out);
    out->dtype = L2_DTYPE_FLOAT64;
    while (st == API_OK && pos <= len) {
        size_t end = pos, eq;
        char *name = NULL, *value = NULL;
        size_t name_len, value_len;

        while (end < len && q[end] != '&')
            end++;
        if (end == pos) {
            pos = end + 1;
            continue;
        }
        for (eq = pos; eq < end && q[eq] != '='; eq++)
            ;
        if (!ref_decode(q + pos, eq - pos, &name, &name_len)) {
            st = API_INVALID_PARAMETER;
        } else if (!ref_decode(q + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, &value,
                               &value_len)) {
            st = API_INVALID_PARAMETER;
        } else if (name_len == 5 && memcmp(name, "scale", 5) == 0) {
            if (ep == API_ENDPOINT_L2_LOSS || scale != NULL) {
                st = API_INVALID_PARAMETER;
            } else {
                scale = value;
                scale_len = value_len;
                value = NULL;
            }
        } else if (name_len == 5 && memcmp(name, "dtype", 5) == 0) {
            if (merge || dtype != NULL) {
                st = API_INVALID_PARAMETER;
            } else {
                dtype = value;
                dtype_len = value_len;
                value = NULL;
            }
        } else if (name_len == 9 && memcmp(name, "nonfinite", 9) == 0) {
            if (merge || nonfinite != NULL) {
                st = API_INVALID_PARAMETER;
            } else {
                nonfinite = value;
                nonfinite_len = value_len;
                value = NULL;
            }
        } else if (name_len == 7 && memcmp(name, "partial", 7) == 0) {
            if (partial != NULL) {
                st = API_INVALID_PARAMETER;
            } else {
                partial = value;
                partial_len = value_len;
                value = NULL;
            }
        } else if (name_len == 5 && memcmp(name, "track", 5) == 0) {
            if (track != NULL) {
                st = API_INVALID_PARAMETER;
            } else {
                track = value;
                track_len = value_len;
                value = NULL;
            }
        } else {
            st = API_INVALID_PARAMETER;
        }
        free(name);
        free(value);
        pos = end + 1;
    }
    if (st == API_OK && (ep == API_ENDPOINT_REGULARIZE || scale != NULL)) {
        st = scale == NULL ? API_INVALID_SCALE : ref_scale(scale, scale_len, &out->scale);
        out->has_scale = st == API_OK;
    }
    if (st == API_OK && dtype != NULL) {
        /* API.md, "dtype names": per dtype, every name, lower case */
        static const char *const names[L2_DTYPE_COUNT][5] = {
            {"float16", "f2", "<f2", "half", "fp16"},
            {"bfloat16", "bf16", NULL, NULL, NULL},
            {"float32", "f4", "<f4", "float", "fp32"},
            {"float64", "f8", "<f8", "double", "fp64"},
        };
        st = API_INVALID_DTYPE;
        for (int k = 0; k < L2_DTYPE_COUNT; k++)
            for (int a = 0; a < 5 && names[k][a] != NULL; a++)
                if (dtype_len == strlen(names[k][a]) &&
                    strncasecmp(dtype, names[k][a], dtype_len) == 0) {
                    out->dtype = (enum l2_dtype)k;
                    out->has_dtype = true;
                    st = API_OK;
                }
    }
    if (st == API_OK && nonfinite != NULL) {
        if (nonfinite_len == 5 && strncasecmp(nonfinite, "count", 5) == 0)
            out->count_nonfinite = true;
        else if (!(nonfinite_len == 6 && strncasecmp(nonfinite, "reject", 6) == 0))
            st = API_INVALID_PARAMETER;
    }
    if (st == API_OK && partial != NULL) {
        if (partial_len == 4 && strncasecmp(partial, "true", 4) == 0)
            out->partial = true;
        else if (!(partial_len == 5 && strncasecmp(partial, "false", 5) == 0))
            st = API_INVALID_PARAMETER;
    }
    if (st == API_OK && track != NULL) {
        bool ok = track_len >= 1 && track_len <= API_TRACK_MAX;
        for (size_t i = 0; ok && i < track_len; i++)
            ok = (track[i] >= 'a' && track[i] <= 'z') || (track[i] >= 'A' && track[i] <= 'Z') ||
                 (track[i] >= '0' && track[i] <= '9') || strchr("_.:/-", track[i]) != NULL;
        if (ok) {
            memcpy(out->track, track, track_len);
            out->track_len = track_len;
        } else {
            st = API_INVALID_PARAMETER;
        }
    }
    free(scale);
    free(dtype);
    free(nonfinite);
    free(partial);
    free(track);
    return st;
}

static void query_check_outcome(enum api_endpoint ep, const uint8_t *q, size_t len,
                                enum api_status st, const struct api_query *out,
                                const struct api_error *err)
{
    struct api_query ref;
    enum api_status rst = ref_parse(ep, q, len, &ref);

    FUZZ_CHECK(st == rst, "status %s, reference %s (detail \"%s\")", api_status_code(st),
               api_status_code(rst), err->detail);
    if (st != API_OK) {
        const char *nul = memchr(err->detail, '\0', sizeof err->detail);

        FUZZ_CHECK(err->status == st, "returned %d, err holds %d", (int)st, (int)err->status);
        FUZZ_CHECK(nul != NULL && nul != err->detail, "detail empty or not terminated");
        for (const char *c = err->detail; c < nul; c++)
            FUZZ_CHECK(*c >= 0x20 && *c < 0x7f, "detail byte 0x%02x is not printable ASCII",
                       (unsigned)(unsigned char)*c);
        return;
    }
    FUZZ_CHECK(err->status == API_OK, "OK with an error set");
    FUZZ_CHECK(out->has_scale == ref.has_scale, "has_scale wrong");
    if (out->has_scale) {
        FUZZ_CHECK(isfinite(out->scale.value) && out->scale.value >= 0.0, "scale %a out of rule",
                   out->scale.value);
        FUZZ_CHECK(out->scale.disabled == (out->scale.value == 0.0), "disabled wrong for %a",
                   out->scale.value);
        FUZZ_CHECK(fuzz_bits(out->scale.value) == fuzz_bits(ref.scale.value),
                   "scale %a, reference %a", out->scale.value, ref.scale.value);
    }
    FUZZ_CHECK((unsigned)out->dtype < L2_DTYPE_COUNT, "dtype %d invalid", (int)out->dtype);
    FUZZ_CHECK(out->has_dtype == ref.has_dtype && out->dtype == ref.dtype,
               "dtype %d (given %d), reference %d (given %d)", (int)out->dtype, (int)out->has_dtype,
               (int)ref.dtype, (int)ref.has_dtype);
    FUZZ_CHECK(out->count_nonfinite == ref.count_nonfinite, "nonfinite %d, reference %d",
               (int)out->count_nonfinite, (int)ref.count_nonfinite);
    FUZZ_CHECK(out->partial == ref.partial, "partial %d, reference %d", (int)out->partial,
               (int)ref.partial);
    FUZZ_CHECK(out->track_len == ref.track_len &&
                   memcmp(out->track, ref.track, ref.track_len) == 0 &&
                   out->track[out->track_len] == '\0',
               "track '%s', reference '%s'", out->track, ref.track);
}

/* Checks one input; aborts on a broken invariant. */
static void query_check(const uint8_t *data, size_t size)
{
    enum api_endpoint ep;
    struct api_query out;
    struct api_error err;
    enum api_status st;
    char *q;

    if (size < 1)
        return;
    ep = (data[0] & 2)   ? API_ENDPOINT_MERGE
         : (data[0] & 1) ? API_ENDPOINT_REGULARIZE
                         : API_ENDPOINT_L2_LOSS;
    q = fuzz_copy(data + 1, size - 1); /* exactly sized: no terminator to lean on */
    api_error_init(&err);
    st = api_query_parse(ep, size > 1 ? q : NULL, size - 1, &out, &err);
    query_check_outcome(ep, data + 1, size - 1, st, &out, &err);
    free(q);
}

#endif
