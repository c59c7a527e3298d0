/* query.c -- validation of the compute endpoints' query strings.
 *
 * Two passes over the raw query: the first splits it on '&', percent-decodes
 * every name, refuses unknown or repeated parameters and bad escapes, and
 * remembers where `scale` and `dtype` sit; the second validates scale, then
 * dtype. Nothing is allocated: decoded text goes into bounded stack buffers. */
#include "query.h"

#include <ctype.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dtype_names.h"
#include "text.h"

/* Longest scale accepted, in decoded bytes. Python would take any length,
 * but a decimal that long says nothing a 1 KiB one cannot. */
#define QUERY_SCALE_MAX 1024
/* Longest dtype or nonfinite value looked at; every accepted word is shorter. */
#define QUERY_WORD_MAX 64
/* Bytes of user text echoed in a detail before it is cut with "...". */
#define QUERY_ECHO_MAX 64

/* One raw (still percent-encoded) slice of the query. */
struct slice {
    const char *p;
    size_t len;
};

/* Percent-decodes s ('+' is a space) into dst, writing at most cap bytes
 * (no NUL); *out_len gets the full decoded length even past cap. Returns
 * false on a '%' not followed by two hex digits. */
static bool pct_decode(struct slice s, char *dst, size_t cap, size_t *out_len)
{
    size_t i = 0, n = 0;

    while (i < s.len) {
        char c = s.p[i];
        if (c == '%') {
            int hi, lo;
            if (s.len - i < 3)
                return false;
            hi = api_text_hex_value((unsigned char)s.p[i + 1]);
            lo = api_text_hex_value((unsigned char)s.p[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 3;
        } else {
            if (c == '+')
                c = ' ';
            i++;
        }
        if (n < cap)
            dst[n] = c;
        n++;
    }
    *out_len = n;
    return true;
}

/* Bytes of the buffer that holds an echo (api_text_echo, \xHH style). */
#define QUERY_ECHO_BUF API_TEXT_ECHO_SIZE(QUERY_ECHO_MAX)
_Static_assert(QUERY_ECHO_MAX <= QUERY_WORD_MAX, "a word's echo reads only what was kept");

/* Does s (len bytes) match [+-]?(digits[.digits] | .digits)([eE][+-]?digits)?
 * Sets *integer when it has neither a '.' nor an exponent. */
static bool scale_grammar(const char *s, size_t len, bool *integer)
{
    size_t i = 0, int_digits = 0, frac_digits = 0, exp_digits = 0;
    bool has_dot = false, has_exp = false;

    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (i < len && s[i] == '.') {
        has_dot = true;
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
        if (frac_digits == 0) /* "1." and "." are not in the grammar */
            return false;
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        has_exp = true;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return false;
    }
    if (i != len)
        return false;
    *integer = !has_dot && !has_exp;
    return true;
}

/* Validates the decoded scale text as tf.contrib.layers.l2_regularizer
 * does: integer first, then finiteness, then sign. */
static enum api_status parse_scale(const char *s, size_t len, bool truncated, struct api_scale *out,
                                   struct api_error *err)
{
    char buf[QUERY_SCALE_MAX + 1];
    char echo[QUERY_ECHO_BUF];
    bool integer = false;
    char *end;
    double v;

    if (truncated)
        return api_error_set(err, API_INVALID_SCALE,
                             "scale is too long: at most %d characters are accepted",
                             QUERY_SCALE_MAX);
    if (len == 0)
        return api_error_set(err, API_INVALID_SCALE,
                             "scale must be a finite decimal number such as 0.01, not empty");
    if (!scale_grammar(s, len, &integer)) {
        api_text_echo(echo, sizeof echo, s, len <= API_TRACK_MAX ? len : API_TRACK_MAX + 1,
                      QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
        return api_error_set(err, API_INVALID_SCALE,
                             "scale must be a finite decimal number such as 0.01: '%s'", echo);
    }
    /* TensorFlow refuses any numbers.Integral before looking at the sign,
     * so "-0" is an integer, not a negative scale. The literal is echoed as
     * sent (it matched the grammar, so it is plain ASCII). */
    if (integer)
        return api_error_set(err, API_INVALID_SCALE, "scale cannot be an integer: %.*s", (int)len,
                             s);

    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtod(buf, &end);
    if (end != buf + len)
        return api_error_set(err, API_INVALID_SCALE,
                             "scale must be a finite decimal number such as 0.01");
    /* Overflow (1e999) is refused before the sign is looked at: Python would
     * make -1e999 into -inf and call it negative, but "-inf" is not what the
     * user sent and either way the scale is refused. */
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) {
        api_text_echo(echo, sizeof echo, s, len <= API_TRACK_MAX ? len : API_TRACK_MAX + 1,
                      QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
        return api_error_set(err, API_INVALID_SCALE,
                             "scale is out of range (not a finite float64): '%s'", echo);
    }
    /* Underflow: a nonzero literal too small for float64 (1e-400) reads as
     * 0, exactly as Python's float('1e-400') == 0.0 does in TensorFlow, so
     * it disables the regularizer. Subnormal results (1e-310) are kept. */
    if (v < 0.0)
        return api_error_set(err, API_INVALID_SCALE,
                             "Setting a scale less than 0 on a regularizer: %g.", v);
    if (v == 0.0) { /* 0.0 and -0.0: TensorFlow's `if scale == 0.` */
        out->value = 0.0;
        out->disabled = true;
    } else {
        out->value = v;
        out->disabled = false;
    }
    return API_OK;
}

/* Validates the dtype value raw (still percent-encoded). */
static enum api_status parse_dtype(struct slice raw, enum l2_dtype *out, struct api_error *err)
{
    char s[QUERY_WORD_MAX];
    char echo[QUERY_ECHO_BUF];
    size_t len = 0;

    pct_decode(raw, s, sizeof s, &len);
    if (len <= QUERY_WORD_MAX && api_dtype_lookup(s, len, out))
        return API_OK;
    api_text_echo(echo, sizeof echo, s, len, QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
    return api_error_set(err, API_INVALID_DTYPE,
                         "dtype must be one of " API_DTYPE_NAMES_ACCEPTED ", not '%s'", echo);
}

/* Validates the nonfinite value raw (still percent-encoded). */
static enum api_status parse_nonfinite(struct slice raw, bool *count, struct api_error *err)
{
    char s[QUERY_WORD_MAX];
    char echo[QUERY_ECHO_BUF];
    size_t len = 0;

    pct_decode(raw, s, sizeof s, &len);
    if (len == 6 && strncasecmp(s, "reject", 6) == 0) {
        *count = false;
        return API_OK;
    }
    if (len == 5 && strncasecmp(s, "count", 5) == 0) {
        *count = true;
        return API_OK;
    }
    api_text_echo(echo, sizeof echo, s, len, QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
    return api_error_set(err, API_INVALID_PARAMETER,
                         "nonfinite must be reject (NaN and infinities are an error, the "
                         "default) or count, not '%s'",
                         echo);
}

enum api_status api_track_parse(const char *s, size_t len, const char *what,
                                char out[API_TRACK_MAX + 1], size_t *out_len, struct api_error *err)
{
    char echo[QUERY_ECHO_BUF];
    bool ok = len >= 1 && len <= API_TRACK_MAX;

    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum((unsigned char)s[i]) || strchr("_.:/-", s[i]) != NULL;
    if (!ok) {
        api_text_echo(echo, sizeof echo, s, len <= API_TRACK_MAX ? len : API_TRACK_MAX + 1,
                      QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
        return api_error_set(err, API_INVALID_PARAMETER,
                             "%s must be a model name of 1 to 128 bytes of A-Z a-z 0-9 _ . : / "
                             "-, not '%s'",
                             what, echo);
    }
    memcpy(out, s, len);
    out[len] = '\0';
    *out_len = len;
    return API_OK;
}

/* Validates the track value raw (still percent-encoded), decoded into out. */
static enum api_status parse_track(struct slice raw, char *out, size_t *out_len,
                                   struct api_error *err)
{
    char s[API_TRACK_MAX + 1];
    size_t len = 0;

    pct_decode(raw, s, sizeof s, &len);
    return api_track_parse(s, len, "track", out, out_len, err);
}

/* Validates the partial value raw (still percent-encoded). */
static enum api_status parse_partial(struct slice raw, bool *partial, struct api_error *err)
{
    char s[QUERY_WORD_MAX];
    char echo[QUERY_ECHO_BUF];
    size_t len = 0;

    pct_decode(raw, s, sizeof s, &len);
    if (len == 4 && strncasecmp(s, "true", 4) == 0) {
        *partial = true;
        return API_OK;
    }
    if (len == 5 && strncasecmp(s, "false", 5) == 0) {
        *partial = false;
        return API_OK;
    }
    api_text_echo(echo, sizeof echo, s, len, QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
    return api_error_set(err, API_INVALID_PARAMETER,
                         "partial must be true (answers carry exact partials for /merge) or "
                         "false (the default), not '%s'",
                         echo);
}

/* The query parameters, and the endpoints that take each. */
enum query_param {
    QUERY_SCALE,
    QUERY_DTYPE,
    QUERY_NONFINITE,
    QUERY_PARTIAL,
    QUERY_TRACK,
    QUERY_PARAM_COUNT
};

#define QUERY_ON(e) (1u << (e))
#define QUERY_ON_ALL                                                                               \
    (QUERY_ON(API_ENDPOINT_L2_LOSS) | QUERY_ON(API_ENDPOINT_REGULARIZE) |                          \
     QUERY_ON(API_ENDPOINT_MERGE))

static const struct {
    const char *name;
    unsigned endpoints; /* QUERY_ON bits */
} params[QUERY_PARAM_COUNT] = {
    [QUERY_SCALE] = {"scale", QUERY_ON(API_ENDPOINT_REGULARIZE) | QUERY_ON(API_ENDPOINT_MERGE)},
    [QUERY_DTYPE] = {"dtype", QUERY_ON(API_ENDPOINT_L2_LOSS) | QUERY_ON(API_ENDPOINT_REGULARIZE)},
    [QUERY_NONFINITE] = {"nonfinite",
                         QUERY_ON(API_ENDPOINT_L2_LOSS) | QUERY_ON(API_ENDPOINT_REGULARIZE)},
    [QUERY_PARTIAL] = {"partial", QUERY_ON_ALL},
    [QUERY_TRACK] = {"track", QUERY_ON_ALL},
};

/* What each endpoint accepts, for the unknown-parameter detail. */
static const char *const accepted[] = {
    [API_ENDPOINT_L2_LOSS] = "dtype, nonfinite, partial, track",
    [API_ENDPOINT_REGULARIZE] = "scale, dtype, nonfinite, partial, track",
    [API_ENDPOINT_MERGE] = "scale, partial, track",
};

/* The parameter called name (len bytes), or QUERY_PARAM_COUNT. */
static enum query_param param_lookup(const char *name, size_t len)
{
    unsigned i;

    for (i = 0; i < QUERY_PARAM_COUNT; i++)
        if (strlen(params[i].name) == len && memcmp(name, params[i].name, len) == 0)
            break;
    return (enum query_param)i;
}

enum api_status api_query_parse(enum api_endpoint endpoint, const char *query, size_t len,
                                struct api_query *out, struct api_error *err)
{
    struct slice raw[QUERY_PARAM_COUNT] = {{NULL, 0}};
    bool seen[QUERY_PARAM_COUNT] = {false};
    char name[QUERY_ECHO_MAX + 1];
    char echo[QUERY_ECHO_BUF];
    size_t pos = 0;

    out->has_dtype = false;
    out->dtype = L2_DTYPE_FLOAT64;
    out->count_nonfinite = false;
    out->partial = false;
    out->track[0] = '\0';
    out->track_len = 0;
    out->has_scale = false;
    out->scale.value = 0.0;
    out->scale.disabled = false;
    if (query == NULL)
        len = 0;

    /* Pass 1: names, repeats and percent-encoding of every segment. Empty
     * segments ("a=1&&b=2", a leading or trailing '&') are skipped, as
     * WHATWG URLSearchParams and Python's parse_qsl do. */
    while (pos < len) {
        const char *seg = query + pos;
        const char *amp = memchr(seg, '&', len - pos);
        size_t seg_len = amp != NULL ? (size_t)(amp - seg) : len - pos;
        const char *eq = memchr(seg, '=', seg_len);
        struct slice key = {seg, eq != NULL ? (size_t)(eq - seg) : seg_len};
        struct slice val = {eq != NULL ? eq + 1 : seg + seg_len,
                            eq != NULL ? seg_len - key.len - 1 : 0};
        size_t name_len, val_len;
        enum query_param which;

        pos += seg_len + (amp != NULL ? 1 : 0);
        if (seg_len == 0)
            continue;
        if (!pct_decode(key, name, sizeof name, &name_len) || !pct_decode(val, NULL, 0, &val_len)) {
            api_text_echo(echo, sizeof echo, seg, seg_len, QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
            return api_error_set(err, API_INVALID_PARAMETER,
                                 "bad percent-encoding in query parameter '%s'", echo);
        }
        which = param_lookup(name, name_len);
        if (which == QUERY_PARAM_COUNT) {
            api_text_echo(echo, sizeof echo, name, name_len, QUERY_ECHO_MAX, API_TEXT_ECHO_HEX);
            return api_error_set(err, API_INVALID_PARAMETER,
                                 "unknown query parameter '%s' (accepted: %s)", echo,
                                 accepted[endpoint]);
        }
        if ((params[which].endpoints & QUERY_ON(endpoint)) == 0)
            return api_error_set(err, API_INVALID_PARAMETER,
                                 which == QUERY_SCALE
                                     ? "query parameter '%s' is only accepted by /regularize "
                                       "and /merge"
                                     : "query parameter '%s' is not accepted by /merge (accepted: "
                                       "%s)",
                                 params[which].name, accepted[API_ENDPOINT_MERGE]);
        if (seen[which])
            return api_error_set(err, API_INVALID_PARAMETER, "query parameter '%s' is repeated",
                                 params[which].name);
        seen[which] = true;
        raw[which] = val;
    }

    /* Pass 2: scale, then dtype, then nonfinite, then partial. */
    if (endpoint == API_ENDPOINT_REGULARIZE && !seen[QUERY_SCALE])
        return api_error_set(err, API_INVALID_SCALE,
                             "scale is required: /regularize?scale=0.01, for example");
    if (seen[QUERY_SCALE]) {
        char buf[QUERY_SCALE_MAX];
        size_t n = 0;
        enum api_status st;

        pct_decode(raw[QUERY_SCALE], buf, sizeof buf, &n);
        st = parse_scale(buf, n < sizeof buf ? n : sizeof buf, n > sizeof buf, &out->scale, err);
        if (st != API_OK)
            return st;
        out->has_scale = true;
    }
    if (seen[QUERY_DTYPE]) {
        enum api_status st = parse_dtype(raw[QUERY_DTYPE], &out->dtype, err);

        if (st != API_OK)
            return st;
        out->has_dtype = true;
    }
    if (seen[QUERY_NONFINITE]) {
        enum api_status st = parse_nonfinite(raw[QUERY_NONFINITE], &out->count_nonfinite, err);

        if (st != API_OK)
            return st;
    }
    if (seen[QUERY_PARTIAL]) {
        enum api_status st = parse_partial(raw[QUERY_PARTIAL], &out->partial, err);

        if (st != API_OK)
            return st;
    }
    if (seen[QUERY_TRACK])
        return parse_track(raw[QUERY_TRACK], out->track, &out->track_len, err);
    return API_OK;
}

enum api_status api_scale_parse(const char *s, size_t len, struct api_scale *out,
                                struct api_error *err)
{
    return parse_scale(s, len > QUERY_SCALE_MAX ? QUERY_SCALE_MAX : len, len > QUERY_SCALE_MAX, out,
                       err);
}
