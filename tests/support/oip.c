/* oip.c -- infer bodies as tritonclient.http and kserve build them (see
 * oip.h for what was read in the clients' sources). Only C and zlib, so
 * that the integration tests can compile it too. */
#include "oip.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

void oip_buf_init(struct oip_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void oip_buf_free(struct oip_buf *b)
{
    free(b->data);
    oip_buf_init(b);
}

static void reserve(struct oip_buf *b, size_t more)
{
    if (b->cap - b->len > more)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= more)
        cap *= 2;
    unsigned char *p = realloc(b->data, cap);
    if (p == NULL)
        abort();
    b->data = p;
    b->cap = cap;
}

void oip_buf_put(struct oip_buf *b, const void *p, size_t n)
{
    reserve(b, n);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0'; /* reserve keeps one byte spare: printable */
}

void oip_buf_puts(struct oip_buf *b, const char *s)
{
    oip_buf_put(b, s, strlen(s));
}

void oip_buf_printf(struct oip_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        abort();
    oip_buf_put(b, tmp, (size_t)n);
}

/* Python's float_repr: the shortest digits that round-trip, in fixed
 * notation when the decimal point is within -4 < decpt <= 16, else
 * d[.ddd]e[+-]XX; fixed notation always has a fractional part. */
void oip_put_pyfloat(struct oip_buf *b, double x)
{
    char e[40], digits[24], out[64];
    int exp10 = 0, nd = 0, p;

    if (!isfinite(x))
        abort();
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    for (const char *s = e; *s != '\0' && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digits[nd++] = *s;
    exp10 = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    int decpt = exp10 + 1;
    size_t o = 0;
    if (signbit(x))
        out[o++] = '-';
    if (digits[0] == '0') { /* zero */
        memcpy(out + o, "0.0", 4);
    } else if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -decpt; i++)
                out[o++] = '0';
            for (int i = 0; i < nd; i++)
                out[o++] = digits[i];
        } else {
            for (int i = 0; i < decpt; i++)
                out[o++] = i < nd ? digits[i] : '0';
            out[o++] = '.';
            if (nd > decpt)
                for (int i = decpt; i < nd; i++)
                    out[o++] = digits[i];
            else
                out[o++] = '0';
        }
        out[o] = '\0';
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
    oip_buf_puts(b, out);
}

uint16_t oip_f16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    float a = fabsf(x);
    if (isnan(x))
        return (uint16_t)(sign | 0x7e00u);
    if (a >= 65520.0f)
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x1p-14f) { /* subnormal: a multiple of 2^-24, nearest even */
        float q = nearbyintf(a * 0x1p24f);
        return (uint16_t)(sign | (uint32_t)q);
    }
    int e;
    float m = frexpf(a, &e);           /* a = m 2^e, m in [0.5, 1) */
    float q = nearbyintf(m * 2048.0f); /* 11 significant bits */
    if (q == 2048.0f) {
        q = 1024.0f;
        e++;
    }
    return (uint16_t)(sign | (uint32_t)(e + 14) << 10 | ((uint32_t)q - 1024u));
}

uint16_t oip_bf16_trunc(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)(u >> 16);
}

/* The float a float16 holds, as numpy's .item() gives it. */
static double f16_value(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    double m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : ldexp(m + 1024.0, e - 25);
    return (h & 0x8000) ? -v : v;
}

static void put_json_string(struct oip_buf *b, const char *s)
{
    oip_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            oip_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            oip_buf_printf(b, "\\u%04x", *p);
        else
            oip_buf_put(b, p, 1);
    }
    oip_buf_puts(b, "\"");
}

static const char *comma(enum oip_style s)
{
    return s == OIP_SPACED ? ", " : ",";
}

static void key(struct oip_buf *b, enum oip_style s, const char *k)
{
    put_json_string(b, k);
    oip_buf_puts(b, s == OIP_SPACED ? ": " : ":");
}

static size_t elem_size(const char *datatype)
{
    if (strcmp(datatype, "FP64") == 0)
        return 8;
    if (strcmp(datatype, "FP32") == 0)
        return 4;
    return 2;
}

/* The bytes a binary input sends (tobytes, or the bf16 cut). */
static void put_raw(struct oip_buf *b, const struct oip_tensor *t)
{
    if (strcmp(t->datatype, "BF16") == 0) {
        const float *f = t->values;
        for (size_t i = 0; i < t->count; i++) {
            uint16_t h = oip_bf16_trunc(f[i]);
            unsigned char le[2] = {(unsigned char)(h & 0xff), (unsigned char)(h >> 8)};
            oip_buf_put(b, le, 2);
        }
    } else {
        oip_buf_put(b, t->values, t->count * elem_size(t->datatype));
    }
}

/* One element as a Python float (ndarray.item()). */
static double item(const struct oip_tensor *t, size_t i)
{
    if (strcmp(t->datatype, "FP64") == 0)
        return ((const double *)t->values)[i];
    if (strcmp(t->datatype, "FP16") == 0)
        return f16_value(((const uint16_t *)t->values)[i]);
    return ((const float *)t->values)[i];
}

static void put_shape(struct oip_buf *b, enum oip_style s, const struct oip_tensor *t)
{
    oip_buf_puts(b, "[");
    for (size_t d = 0; d < t->ndim; d++)
        oip_buf_printf(b, "%s%lld", d ? comma(s) : "", (long long)t->shape[d]);
    oip_buf_puts(b, "]");
}

/* {"name", "shape", "datatype", "parameters"?, "data"?}: the order of both
 * clients' dicts. */
static void put_input(struct oip_buf *b, enum oip_style s, const struct oip_tensor *t)
{
    oip_buf_puts(b, "{");
    key(b, s, "name");
    put_json_string(b, t->name);
    oip_buf_puts(b, comma(s));
    key(b, s, "shape");
    put_shape(b, s, t);
    oip_buf_puts(b, comma(s));
    key(b, s, "datatype");
    put_json_string(b, t->datatype);
    if (t->binary) {
        oip_buf_puts(b, comma(s));
        key(b, s, "parameters");
        oip_buf_puts(b, "{");
        key(b, s, "binary_data_size");
        oip_buf_printf(b, "%zu}", t->count * elem_size(t->datatype));
    } else {
        oip_buf_puts(b, comma(s));
        key(b, s, "data");
        oip_buf_puts(b, "[");
        for (size_t i = 0; i < t->count; i++) {
            if (i > 0)
                oip_buf_puts(b, comma(s));
            oip_put_pyfloat(b, item(t, i));
        }
        oip_buf_puts(b, "]");
    }
    oip_buf_puts(b, "}");
}

static void put_inputs(struct oip_buf *b, const struct oip_call *c)
{
    key(b, c->style, "inputs");
    oip_buf_puts(b, "[");
    for (size_t i = 0; i < c->n_inputs; i++) {
        if (i > 0)
            oip_buf_puts(b, comma(c->style));
        put_input(b, c->style, &c->inputs[i]);
    }
    oip_buf_puts(b, "]");
}

static void put_outputs(struct oip_buf *b, const struct oip_call *c)
{
    oip_buf_puts(b, comma(c->style));
    key(b, c->style, "outputs");
    oip_buf_puts(b, "[");
    for (size_t i = 0; i < c->n_outputs; i++) {
        if (i > 0)
            oip_buf_puts(b, comma(c->style));
        oip_buf_puts(b, "{");
        key(b, c->style, "name");
        put_json_string(b, c->outputs[i].name);
        if (c->outputs[i].binary >= 0) {
            oip_buf_puts(b, comma(c->style));
            key(b, c->style, "parameters");
            oip_buf_puts(b, "{");
            key(b, c->style, "binary_data");
            oip_buf_puts(b, c->outputs[i].binary ? "true}" : "false}");
        }
        oip_buf_puts(b, "}");
    }
    oip_buf_puts(b, "]");
}

/* "parameters": {first?, params...}, when there is any. */
static void put_params(struct oip_buf *b, const struct oip_call *c, const char *first)
{
    if (first == NULL && c->n_params == 0)
        return;
    oip_buf_puts(b, comma(c->style));
    key(b, c->style, "parameters");
    oip_buf_puts(b, "{");
    if (first != NULL) {
        key(b, c->style, first);
        oip_buf_puts(b, "true");
    }
    for (size_t i = 0; i < c->n_params; i++) {
        if (i > 0 || first != NULL)
            oip_buf_puts(b, comma(c->style));
        key(b, c->style, c->params[i].key);
        oip_buf_puts(b, c->params[i].json);
    }
    oip_buf_puts(b, "}");
}

static void finish(const struct oip_call *c, struct oip_buf *json, struct oip_body *out)
{
    size_t n_binary = 0;

    out->header_length = json->len;
    for (size_t i = 0; i < c->n_inputs; i++) {
        if (c->inputs[i].binary) {
            put_raw(json, &c->inputs[i]);
            n_binary++;
        }
    }
    out->has_header_length = n_binary > 0;
    if (!out->has_header_length)
        out->header_length = 0;
    out->content_encoding = NULL;
    if (c->compression != NULL && strcmp(c->compression, "gzip") == 0) {
        oip_gzip(json->data, json->len, &out->buf);
        out->content_encoding = "gzip";
        oip_buf_free(json);
    } else if (c->compression != NULL && strcmp(c->compression, "deflate") == 0) {
        oip_zlib(json->data, json->len, &out->buf);
        out->content_encoding = "deflate";
        oip_buf_free(json);
    } else {
        out->buf = *json;
    }
}

void oip_triton(const struct oip_call *c, struct oip_body *out)
{
    struct oip_buf b;

    oip_buf_init(&b);
    oip_buf_puts(&b, "{");
    if (c->id != NULL && c->id[0] != '\0') {
        key(&b, c->style, "id");
        put_json_string(&b, c->id);
        oip_buf_puts(&b, comma(c->style));
    }
    put_inputs(&b, c);
    if (c->n_outputs > 0)
        put_outputs(&b, c);
    put_params(&b, c, c->n_outputs > 0 ? NULL : "binary_data_output");
    oip_buf_puts(&b, "}");
    oip_buf_init(&out->buf);
    out->content_type = NULL;
    finish(c, &b, out);
}

/* str(uuid.uuid4()) from 16 reproducible bytes. */
static void uuid4(uint64_t seed, char out[37])
{
    unsigned char r[16];
    uint64_t s = seed;

    for (int i = 0; i < 16; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        r[i] = (unsigned char)(s >> 56);
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

void oip_kserve(const struct oip_call *c, struct oip_body *out)
{
    struct oip_buf b;
    char id[37];
    size_t n_binary = 0;

    oip_buf_init(&b);
    oip_buf_puts(&b, "{");
    key(&b, c->style, "id");
    if (c->id != NULL) {
        put_json_string(&b, c->id);
    } else {
        uuid4(c->id_seed, id);
        put_json_string(&b, id);
    }
    oip_buf_puts(&b, comma(c->style));
    key(&b, c->style, "model_name");
    put_json_string(&b, c->model_name != NULL ? c->model_name : "l2_loss");
    oip_buf_puts(&b, comma(c->style));
    put_inputs(&b, c);
    if (c->n_outputs > 0)
        put_outputs(&b, c);
    put_params(&b, c, NULL);
    oip_buf_puts(&b, "}");
    for (size_t i = 0; i < c->n_inputs; i++)
        n_binary += c->inputs[i].binary;
    oip_buf_init(&out->buf);
    out->content_type = n_binary > 0 ? "application/octet-stream" : NULL;
    finish(c, &b, out);
}

void oip_header_lines(const struct oip_body *out, char storage[2][96], const char *lines[3])
{
    size_t n = 0;

    if (out->has_header_length) {
        snprintf(storage[n], 96, "Inference-Header-Content-Length: %zu", out->header_length);
        lines[n] = storage[n];
        n++;
    }
    if (out->content_encoding != NULL) {
        snprintf(storage[n], 96, "Content-Encoding: %s", out->content_encoding);
        lines[n] = storage[n];
        n++;
    }
    lines[n] = NULL;
}

void oip_body_free(struct oip_body *out)
{
    oip_buf_free(&out->buf);
}

static void deflate_into(const void *src, size_t n, int level, int window_bits, struct oip_buf *out)
{
    z_stream zs;

    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t bound = deflateBound(&zs, (uLong)n);
    reserve(out, bound);
    zs.next_in = (unsigned char *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    out->len += bound - zs.avail_out;
    deflateEnd(&zs);
}

void oip_gzip(const void *src, size_t n, struct oip_buf *out)
{
    /* gzip.compress: magic, deflate, flags 0, mtime, XFL 2 (level 9), OS 255 */
    static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255};
    uLong crc = crc32(0L, (const Bytef *)src, (uInt)n);
    unsigned char tail[8];

    oip_buf_init(out);
    oip_buf_put(out, head, sizeof head);
    deflate_into(src, n, 9, -15, out);
    for (int i = 0; i < 4; i++) {
        tail[i] = (unsigned char)(crc >> (8 * i));
        tail[4 + i] = (unsigned char)((uint32_t)n >> (8 * i));
    }
    oip_buf_put(out, tail, sizeof tail);
}

void oip_zlib(const void *src, size_t n, struct oip_buf *out)
{
    oip_buf_init(out);
    deflate_into(src, n, Z_DEFAULT_COMPRESSION, 15, out);
}
