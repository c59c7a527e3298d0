/* test_safetensors_decode.c -- safetensors bodies: files as the reference
 * writer makes them (tests/support/safetensors_gen) summed exactly against
 * the MPFR oracle, skipped dtypes, empty tensors and files, every rejection
 * of the reference reader with its offset, non-finite elements with their
 * index in their tensor, and the same bits under any chunking. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/safetensors_decode.h"
#include "tests/support/chunks.h"
#include "tests/support/decode.h"
#include "tests/support/oracle.h"
#include "tests/support/safetensors_gen.h"
#include "tests/support/bits.h"
#include "tests/support/elem_bits.h"

#define SMALL_CHUNK 13
#define RECHUNKINGS 100

/* ---- dtypes by code (element bits: tests/support/elem_bits.h) ---------- */

static enum l2_dtype dtype_of(const char *code)
{
    return strcmp(code, "F16") == 0    ? L2_DTYPE_FLOAT16
           : strcmp(code, "BF16") == 0 ? L2_DTYPE_BFLOAT16
           : strcmp(code, "F32") == 0  ? L2_DTYPE_FLOAT32
                                       : L2_DTYPE_FLOAT64;
}

/* ---- tensors to write, with their exact answers ------------------------- */

static bool is_summed(const char *code)
{
    return strcmp(code, "F16") == 0 || strcmp(code, "BF16") == 0 || strcmp(code, "F32") == 0 ||
           strcmp(code, "F64") == 0;
}

struct ftensor {
    struct stgen_tensor t;
    unsigned char *data; /* owned */
    uint64_t count;
    struct oracle_sum sum; /* of this tensor's squares */
};

/* A float tensor of random finite elements (code F16/BF16/F32/F64), or any
 * other code filled with random bytes (not summed). */
static void ftensor_make(struct ftensor *f, const char *name, const char *code, unsigned ndim,
                         const uint64_t *shape, uint64_t *rng)
{
    unsigned bits = stgen_dtype_bits(code);
    bool summed = is_summed(code);

    cr_assert_gt(bits, 0, "unknown dtype %s", code);
    memset(f, 0, sizeof *f);
    f->t.name = name;
    f->t.dtype = code;
    f->t.ndim = ndim;
    f->count = 1;
    for (unsigned d = 0; d < ndim; d++) {
        f->t.shape[d] = shape[d];
        f->count *= shape[d];
    }
    cr_assert_eq(f->count * bits % 8, 0);
    f->t.data_len = (size_t)(f->count * bits / 8);
    f->data = malloc(f->t.data_len + 1);
    cr_assert_not_null(f->data);
    f->t.data = f->data;
    oracle_sum_init(&f->sum);
    if (!summed) {
        for (size_t i = 0; i < f->t.data_len; i++)
            f->data[i] = (unsigned char)chunks_rng(rng);
        return;
    }
    enum l2_dtype dt = dtype_of(code);
    for (uint64_t i = 0; i < f->count; i++) {
        uint64_t b = elem_random_finite(dt, rng);

        elem_put_le(f->data + i * elem_size(dt), b, elem_size(dt));
        oracle_sum_add_sq(&f->sum, elem_value(dt, b));
    }
}

static void ftensor_free(struct ftensor *f)
{
    oracle_sum_free(&f->sum);
    free(f->data);
}

/* Writes the tensors as a file (the writer's order and padding). */
static unsigned char *write_file(struct ftensor *f, size_t n, const char *const *meta, size_t *len,
                                 size_t *header_len)
{
    struct stgen_tensor t[64];

    cr_assert_leq(n, 64);
    for (size_t i = 0; i < n; i++)
        t[i] = f[i].t;
    return stgen_write(t, n, meta, len, header_len);
}

static enum api_status decode(const void *b, size_t n, enum chunking how, uint64_t seed,
                              struct api_result *res, struct api_error *err)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};

    return decode_chunked(&api_safetensors_ops, &opts, b, n, how, seed, SMALL_CHUNK, res, err);
}

static const struct api_tensor *find(const struct api_result *res, const char *name)
{
    for (size_t i = 0; i < res->n_tensors; i++)
        if (res->tensors[i].name_len == strlen(name) &&
            memcmp(res->tensors[i].name, name, res->tensors[i].name_len) == 0)
            return &res->tensors[i];
    cr_assert_fail("no tensor '%s' in the result", name);
    return NULL;
}

/* The entry for f in res is its exact answer, its dtype and its shape (or,
 * for another dtype, skipped with the file's code). */
static void expect_tensor(const struct api_result *res, const struct ftensor *f)
{
    const struct api_tensor *t = find(res, f->t.name);
    double sum, half;

    if (!is_summed(f->t.dtype)) {
        cr_assert_not_null(t->skipped, "%s should be skipped", f->t.name);
        cr_assert_str_eq(t->skipped, f->t.dtype);
        cr_assert_eq(t->count, 0);
        return;
    }
    cr_assert_null(t->skipped, "%s was skipped", f->t.name);
    cr_assert_eq(t->dtype, dtype_of(f->t.dtype), "%s dtype", f->t.name);
    cr_assert_eq(t->count, f->count, "%s count", f->t.name);
    cr_assert_eq(t->ndim, f->t.ndim);
    for (unsigned d = 0; d < t->ndim; d++)
        cr_assert_eq(t->shape[d], f->t.shape[d]);
    cr_assert(oracle_sum_round(&f->sum, false, &sum));
    cr_assert(oracle_sum_round(&f->sum, true, &half));
    cr_assert_eq(bits_of(t->sum_squares), bits_of(sum), "%s: sum %a, oracle %a", f->t.name,
                 t->sum_squares, sum);
    cr_assert_eq(bits_of(t->half_sum), bits_of(half), "%s: half %a, oracle %a", f->t.name,
                 t->half_sum, half);
}

/* The totals of res are the oracle's over every summed tensor of f. */
static void expect_total(const struct api_result *res, const struct ftensor *f, size_t n)
{
    struct oracle_sum all;
    double want, got;
    uint64_t count = 0;

    oracle_sum_init(&all);
    for (size_t i = 0; i < n; i++) {
        if (find(res, f[i].t.name)->skipped != NULL)
            continue;
        mpfr_add(all.v, all.v, f[i].sum.v, MPFR_RNDN); /* exact at this precision */
        count += f[i].count;
    }
    cr_assert_eq(res->total.count, count);
    cr_assert(oracle_sum_round(&all, false, &want));
    cr_assert_eq(l2_accum_sum(&res->total, &got), L2_OK);
    cr_assert_eq(bits_of(got), bits_of(want), "total %a, oracle %a", got, want);
    cr_assert(oracle_sum_round(&all, true, &want));
    cr_assert_eq(l2_accum_half(&res->total, &got), L2_OK);
    cr_assert_eq(bits_of(got), bits_of(want), "half %a, oracle %a", got, want);
    oracle_sum_free(&all);
}

/* Two results agree bit for bit: totals, and every entry in order. */
static void expect_same(const struct api_result *a, const struct api_result *b)
{
    double sa, sb;

    cr_assert_eq(a->named, b->named);
    cr_assert_eq(a->dtype, b->dtype);
    cr_assert_eq(a->total.count, b->total.count);
    l2_accum_sum(&a->total, &sa);
    l2_accum_sum(&b->total, &sb);
    cr_assert_eq(bits_of(sa), bits_of(sb));
    cr_assert_eq(memcmp(a->total.limb, b->total.limb, sizeof a->total.limb), 0);
    cr_assert_eq(a->n_tensors, b->n_tensors);
    for (size_t i = 0; i < a->n_tensors; i++) {
        const struct api_tensor *x = &a->tensors[i], *y = &b->tensors[i];

        cr_assert_eq(x->name_len, y->name_len);
        cr_assert_eq(memcmp(x->name, y->name, x->name_len), 0);
        cr_assert_eq(x->skipped == NULL, y->skipped == NULL);
        cr_assert_eq(bits_of(x->sum_squares), bits_of(y->sum_squares));
        cr_assert_eq(bits_of(x->half_sum), bits_of(y->half_sum));
        cr_assert_eq(x->count, y->count);
        cr_assert_eq(x->dtype, y->dtype);
        cr_assert_eq(x->ndim, y->ndim);
    }
}

/* Decodes b whole, byte by byte and in RECHUNKINGS random chunkings: every
 * run must give the whole run's result (returned in *res) bit for bit. */
static void decode_every_way(const unsigned char *b, size_t n, struct api_result *res)
{
    struct api_error err;

    cr_assert_eq(decode(b, n, WHOLE, 0, res, &err), API_OK, "%s (offset %lld)", err.detail,
                 (long long)err.offset);
    for (uint64_t seed = 0; seed <= RECHUNKINGS; seed++) {
        struct api_result other;
        enum chunking how = seed == RECHUNKINGS ? BYTES : RANDOM;

        cr_assert_eq(decode(b, n, how, seed, &other, &err), API_OK, "seed %llu: %s",
                     (unsigned long long)seed, err.detail);
        expect_same(res, &other);
        api_result_free(&other);
    }
}

/* ---- valid files --------------------------------------------------------- */

Test(safetensors_decode, small_exact_answer_in_data_order)
{
    const float kernel[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    const float bias[1] = {1.0f};
    struct stgen_tensor t[2] = {
        {"dense/kernel", "F32", 2, {2, 2}, kernel, sizeof kernel},
        {"dense/bias", "F32", 1, {1}, bias, sizeof bias},
    };
    size_t len, hlen;
    unsigned char *b = stgen_write(t, 2, NULL, &len, &hlen);
    struct api_result res;
    struct api_error err;
    double sum, half;

    cr_assert_eq(hlen % 8, 0);
    cr_assert_eq(len, 8 + hlen + 20);
    cr_assert_eq(decode(b, len, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
    cr_assert(res.named);
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT32);
    cr_assert_eq(res.n_tensors, 2);
    /* The writer sorts one dtype by name: bias's data comes first. */
    cr_assert_str_eq(res.tensors[0].name, "dense/bias");
    cr_assert_str_eq(res.tensors[1].name, "dense/kernel");
    cr_assert_eq(res.tensors[0].sum_squares, 1.0);
    cr_assert_eq(res.tensors[1].sum_squares, 30.0);
    cr_assert_eq(res.tensors[1].half_sum, 15.0);
    cr_assert_eq(res.tensors[1].ndim, 2);
    cr_assert_eq(res.tensors[1].shape[0], 2);
    cr_assert_eq(res.tensors[1].dtype, L2_DTYPE_FLOAT32);
    cr_assert_null(res.tensors[1].skipped);
    cr_assert_eq(res.total.count, 5);
    cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
    cr_assert_eq(l2_accum_half(&res.total, &half), L2_OK);
    cr_assert_eq(sum, 31.0);
    cr_assert_eq(half, 15.5);
    api_result_free(&res);
    free(b);
}

Test(safetensors_decode, every_float_dtype_exact_under_any_chunking)
{
    static const char *const codes[4] = {"F16", "BF16", "F32", "F64"};
    static const char *const names[8] = {"a", "b.weight", "c/bias", "d", "\xc3\xa9t\xc3\xa9",
                                         "f", "g",        "h~1/x"};
    static const char *const meta[] = {"format", "pt", "note", "l2d \"test\"\n", NULL};
    uint64_t rng = 42;
    struct ftensor f[8];

    for (size_t i = 0; i < 8; i++) {
        uint64_t shape[3] = {1 + chunks_rng(&rng) % 9, 1 + chunks_rng(&rng) % 7,
                             1 + chunks_rng(&rng) % 5};
        ftensor_make(&f[i], names[i], codes[i % 4], (unsigned)(i % 4), shape, &rng);
    }
    size_t len;
    unsigned char *b = write_file(f, 8, meta, &len, NULL);
    struct api_result res;

    decode_every_way(b, len, &res);
    cr_assert_eq(res.n_tensors, 8);
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT64, "mixed dtypes");
    for (size_t i = 0; i < 8; i++)
        expect_tensor(&res, &f[i]);
    expect_total(&res, f, 8);
    /* data order = the writer's: F64, F32, BF16, F16, by name within each */
    cr_assert_str_eq(res.tensors[0].name, "d");
    cr_assert_str_eq(res.tensors[1].name, "h~1/x");
    cr_assert_str_eq(res.tensors[6].name, "a");
    cr_assert_str_eq(res.tensors[7].name, "\xc3\xa9t\xc3\xa9");
    api_result_free(&res);
    for (size_t i = 0; i < 8; i++)
        ftensor_free(&f[i]);
    free(b);
}

Test(safetensors_decode, large_tensors_span_many_chunks)
{
    uint64_t rng = 7;
    struct ftensor f[3];
    const uint64_t s0[1] = {20000}, s1[2] = {100, 97}, s2[1] = {3001};

    ftensor_make(&f[0], "big32", "F32", 1, s0, &rng);
    ftensor_make(&f[1], "big16", "BF16", 2, s1, &rng);
    ftensor_make(&f[2], "odd64", "F64", 1, s2, &rng);
    size_t len;
    unsigned char *b = write_file(f, 3, NULL, &len, NULL);

    for (uint64_t seed = 0; seed < 20; seed++) {
        struct api_result res;
        struct api_error err;

        cr_assert_eq(
            decode_chunked(&api_safetensors_ops,
                           &(struct api_decode_opts){L2_DTYPE_FLOAT64, false, false, 0, NULL}, b,
                           len, RANDOM, seed, 5000, &res, &err),
            API_OK, "%s", err.detail);
        for (size_t i = 0; i < 3; i++)
            expect_tensor(&res, &f[i]);
        expect_total(&res, f, 3);
        api_result_free(&res);
    }
    for (size_t i = 0; i < 3; i++)
        ftensor_free(&f[i]);
    free(b);
}

Test(safetensors_decode, other_dtypes_are_skipped_with_their_code)
{
    static const char *const skipped[] = {
        "BOOL",    "F4",      "F6_E2M3", "F6_E3M2",     "U8",          "I8",
        "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16",
        "U16",     "I32",     "U32",     "C64",         "I64",         "U64",
    };
    enum { N_SKIPPED = sizeof skipped / sizeof skipped[0] };
    static char names[N_SKIPPED][16];
    struct ftensor f[N_SKIPPED + 2];
    uint64_t rng = 3;
    const uint64_t shape[2] = {4, 6}; /* 24 elements: whole bytes for F4 and F6 */
    const uint64_t fshape[1] = {33};

    for (size_t i = 0; i < N_SKIPPED; i++) {
        snprintf(names[i], sizeof names[i], "s%02zu", i);
        ftensor_make(&f[i], names[i], skipped[i], 2, shape, &rng);
    }
    ftensor_make(&f[N_SKIPPED], "w32", "F32", 1, fshape, &rng);
    ftensor_make(&f[N_SKIPPED + 1], "w32b", "F32", 1, fshape, &rng);
    size_t len;
    unsigned char *b = write_file(f, N_SKIPPED + 2, NULL, &len, NULL);
    struct api_result res;

    decode_every_way(b, len, &res);
    cr_assert_eq(res.n_tensors, N_SKIPPED + 2);
    for (size_t i = 0; i < N_SKIPPED + 2; i++)
        expect_tensor(&res, &f[i]);
    expect_total(&res, f, N_SKIPPED + 2);
    cr_assert_eq(res.total.count, 66);
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT32, "the summed tensors share float32");
    /* data order: U64, I64, F64-less ..., C64 before F32 */
    cr_assert_str_eq(res.tensors[0].skipped, "U64");
    cr_assert_str_eq(res.tensors[1].skipped, "I64");
    cr_assert_str_eq(res.tensors[2].skipped, "C64");
    cr_assert_str_eq(res.tensors[3].name, "w32");
    cr_assert_str_eq(res.tensors[N_SKIPPED + 1].skipped, "BOOL");
    api_result_free(&res);
    for (size_t i = 0; i < N_SKIPPED + 2; i++)
        ftensor_free(&f[i]);
    free(b);
}

Test(safetensors_decode, skipped_only_file_has_float64_dtype_and_zeros)
{
    const int64_t ids[3] = {1, 2, 3};
    struct stgen_tensor t[1] = {{"ids", "I64", 1, {3}, ids, sizeof ids}};
    size_t len;
    unsigned char *b = stgen_write(t, 1, NULL, &len, NULL);
    struct api_result res;

    decode_every_way(b, len, &res);
    cr_assert_eq(res.n_tensors, 1);
    cr_assert_str_eq(res.tensors[0].skipped, "I64");
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT64);
    cr_assert_eq(res.total.count, 0);
    api_result_free(&res);
    free(b);
}

Test(safetensors_decode, zero_element_and_scalar_tensors)
{
    const double three = 3.0;
    struct stgen_tensor t[5] = {
        {"empty2d", "F32", 2, {2, 0}, NULL, 0},        {"empty1d", "I64", 1, {0}, NULL, 0},
        {"scalar", "F64", 0, {0}, &three, 8},          {"zz_empty16", "F16", 1, {0}, NULL, 0},
        {"a_empty_bf", "BF16", 3, {0, 5, 7}, NULL, 0},
    };
    size_t len;
    unsigned char *b = stgen_write(t, 5, NULL, &len, NULL);
    struct api_result res;
    double sum;

    decode_every_way(b, len, &res);
    cr_assert_eq(res.n_tensors, 5);
    const struct api_tensor *s = find(&res, "scalar");
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->count, 1);
    cr_assert_eq(s->sum_squares, 9.0);
    cr_assert_eq(find(&res, "empty2d")->count, 0);
    cr_assert_eq(find(&res, "empty2d")->sum_squares, 0.0);
    cr_assert_eq(find(&res, "empty2d")->ndim, 2);
    cr_assert_eq(find(&res, "a_empty_bf")->dtype, L2_DTYPE_BFLOAT16);
    cr_assert_str_eq(find(&res, "empty1d")->skipped, "I64");
    cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
    cr_assert_eq(sum, 9.0);
    cr_assert_eq(res.total.count, 1);
    /* data order: the writer puts I64 first (empty, [0, 0]), then the
     * scalar F64 [0, 8], then the other empty tensors at [8, 8] */
    cr_assert_str_eq(res.tensors[0].name, "empty1d");
    cr_assert_str_eq(res.tensors[1].name, "scalar");
    cr_assert_str_eq(res.tensors[2].name, "empty2d");
    api_result_free(&res);
    free(b);
}

Test(safetensors_decode, no_tensors)
{
    static const char *const meta[] = {"format", "pt", NULL};
    static const char *const headers[] = {"{}", "{}      ", " \t\r\n{}", "{\"__metadata__\":{}}",
                                          "{\"__metadata__\":null}"};
    size_t len;
    unsigned char *b = stgen_write(NULL, 0, NULL, &len, NULL);
    struct api_result res;

    cr_assert_eq(len, 16, "{} padded to 8 bytes");
    decode_every_way(b, len, &res);
    cr_assert(res.named);
    cr_assert_eq(res.n_tensors, 0);
    cr_assert_eq(res.total.count, 0);
    api_result_free(&res);
    free(b);
    b = stgen_write(NULL, 0, meta, &len, NULL);
    decode_every_way(b, len, &res);
    cr_assert_eq(res.n_tensors, 0);
    api_result_free(&res);
    free(b);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        b = stgen_raw(headers[i], strlen(headers[i]), NULL, 0, &len);
        decode_every_way(b, len, &res);
        cr_assert_eq(res.n_tensors, 0);
        api_result_free(&res);
        free(b);
    }
}

/* Header forms the reference reader accepts beyond the writer's own. */
Test(safetensors_decode, header_forms_the_reference_accepts)
{
    static const char *const headers[] = {
        /* JSON whitespace before and after the object */
        "\t\n {\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}} \r\n\t",
        /* keys in any order, unknown keys ignored */
        "{\"a\":{\"data_offsets\":[0,8],\"extra\":[1,{\"x\":null}],\"shape\":[2],\"dtype\":\"F32\"}"
        "}",
        /* the entry as an array: dtype, shape, data_offsets */
        "{\"a\":[\"F32\",[2],[0,8]]}",
        /* escapes in names and metadata */
        "{\"__metadata__\":{\"k\\u00e9\":\"v\\n\"},\"\\u0061\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}",
    };
    const float v[2] = {3.0f, 4.0f};

    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        size_t len;
        unsigned char *b = stgen_raw(headers[i], strlen(headers[i]), v, sizeof v, &len);
        struct api_result res;

        decode_every_way(b, len, &res);
        cr_assert_eq(res.n_tensors, 1, "header %zu", i);
        cr_assert_str_eq(res.tensors[0].name, "a");
        cr_assert_eq(res.tensors[0].sum_squares, 25.0);
        api_result_free(&res);
        free(b);
    }
}

/* The answer follows the data, not the header: tensors listed in another
 * order come out by offset, and empty tensors at the same offset by their
 * place in the header. */
Test(safetensors_decode, answer_in_data_order_whatever_the_header_order)
{
    static const char header[] = "{\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                 "\"e2\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[6,6]},"
                                 "\"m\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[4,6]},"
                                 "\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]},"
                                 "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[6,8]}}";
    const unsigned char data[8] = {0, 0, 0x80, 0x3f, 7, 7, 0x00, 0x40}; /* 1.0f, I16, 2.0 f16 */
    static const char *const order[5] = {"z", "m", "e2", "e1", "a"};
    size_t len;
    unsigned char *b = stgen_raw(header, sizeof header - 1, data, sizeof data, &len);
    struct api_result res;
    double sum;

    decode_every_way(b, len, &res);
    cr_assert_eq(res.n_tensors, 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(res.tensors[i].name, order[i], "entry %zu", i);
    cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
    cr_assert_eq(sum, 5.0);
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT64, "float32 and float16: no common dtype");
    api_result_free(&res);
    free(b);
}

/* A header over the first buffer size: the buffer grows as it arrives. */
Test(safetensors_decode, large_header_with_metadata)
{
    size_t big = 300000;
    char *value = malloc(big + 1);
    const float v[1] = {2.0f};
    struct stgen_tensor t[1] = {{"w", "F32", 1, {1}, v, 4}};
    const char *meta[3] = {"blob", value, NULL};
    size_t len, hlen;

    cr_assert_not_null(value);
    memset(value, 'x', big);
    value[big] = '\0';
    unsigned char *b = stgen_write(t, 1, meta, &len, &hlen);
    struct api_result res;

    cr_assert_gt(hlen, big);
    for (uint64_t seed = 0; seed < 5; seed++) {
        struct api_error err;

        cr_assert_eq(
            decode_chunked(&api_safetensors_ops,
                           &(struct api_decode_opts){L2_DTYPE_FLOAT64, false, false, 0, NULL}, b,
                           len, RANDOM, seed, 4096, &res, &err),
            API_OK, "%s", err.detail);
        cr_assert_eq(res.tensors[0].sum_squares, 4.0);
        api_result_free(&res);
    }
    free(b);
    free(value);
}

/* ---- rejections ----------------------------------------------------------- */

/* Decodes b whole, byte by byte and in 20 random chunkings; each must be
 * invalid_safetensors at `offset` (or at least at `offset` .. `offset` +
 * slack, for jansson's positions), with the same detail every time, which
 * must contain `needle`. */
static void expect_reject_in(const unsigned char *b, size_t n, int64_t offset, int64_t slack,
                             const char *needle)
{
    struct api_result res;
    struct api_error first, err;

    cr_assert_eq(decode(b, n, WHOLE, 0, &res, &first), API_INVALID_SAFETENSORS,
                 "expected invalid_safetensors (%s), got %s: %s", needle,
                 api_status_code(first.status), first.detail);
    api_result_free(&res);
    cr_assert_eq(first.status, API_INVALID_SAFETENSORS);
    cr_assert(first.offset >= offset && first.offset <= offset + slack,
              "offset %lld, expected %lld (+%lld): %s", (long long)first.offset, (long long)offset,
              (long long)slack, first.detail);
    cr_assert_not_null(strstr(first.detail, needle), "detail '%s' lacks '%s'", first.detail,
                       needle);
    cr_assert_eq(first.index, -1);
    cr_assert(!first.has_pointer);
    for (uint64_t seed = 0; seed <= 20; seed++) {
        cr_assert_eq(decode(b, n, seed == 20 ? BYTES : RANDOM, seed, &res, &err),
                     API_INVALID_SAFETENSORS);
        api_result_free(&res);
        cr_assert_eq(err.offset, first.offset, "seed %llu", (unsigned long long)seed);
        cr_assert_str_eq(err.detail, first.detail);
    }
}

/* A file around a header text, with data_len zero bytes of data. */
static void expect_reject(const char *header, size_t data_len, int64_t offset, const char *needle)
{
    unsigned char *zeros = calloc(1, data_len + 1);
    size_t len;
    unsigned char *b = stgen_raw(header, strlen(header), zeros, data_len, &len);

    expect_reject_in(b, len, offset, 0, needle);
    free(b);
    free(zeros);
}

Test(safetensors_decode, reject_short_bodies)
{
    static const unsigned char eight[8] = {16, 0, 0, 0, 0, 0, 0, 0};

    for (size_t n = 0; n < 8; n++)
        expect_reject_in(eight, n, (int64_t)n, 0, "8-byte header length");
    /* the length alone: the body ends inside the header */
    expect_reject_in(eight, 8, 8, 0, "ends inside the safetensors header (0 of 16 bytes)");
}

Test(safetensors_decode, reject_header_length_over_the_limit)
{
    unsigned char b[16] = {0};
    uint64_t n = API_SAFETENSORS_MAX_HEADER + 1;

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    expect_reject_in(b, 16, 0, 0, "more than l2d's limit of 16777216 bytes");
    memset(b, 0xff, 8); /* u64 max, which the reference also refuses */
    expect_reject_in(b, 16, 0, 0, "18446744073709551615 bytes");
    /* exactly the limit is read: here the body ends inside it */
    n = API_SAFETENSORS_MAX_HEADER;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    expect_reject_in(b, 16, 16, 0, "(8 of 16777216 bytes)");
}

Test(safetensors_decode, reject_header_not_utf8)
{
    expect_reject("{\"a\xff\":1}", 0, 8 + 3, "not valid UTF-8 (byte 0xff at offset 11)");
    expect_reject("{}  \xc3", 0, 8 + 4, "not valid UTF-8");
    expect_reject("{\"\xed\xa0\x80\":1}", 0, 8 + 2, "not valid UTF-8");     /* a surrogate */
    expect_reject("{\"\xc0\xaf\":1}", 0, 8 + 2, "not valid UTF-8");         /* overlong */
    expect_reject("{\"\xf4\x90\x80\x80\":1}", 0, 8 + 2, "not valid UTF-8"); /* > U+10FFFF */
}

Test(safetensors_decode, reject_header_not_json_or_not_an_object)
{
    static const char *const bad[] = {"{", "", "   ", "{}x", "{\"a\":}", "{} {}", "{}\0 "};
    static const char *const not_object[] = {"[]", "1", "\"x\"", "null", " [1,2] "};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t hl = i == 6 ? 4 : strlen(bad[i]);
        size_t len;
        unsigned char *b = stgen_raw(bad[i], hl, NULL, 0, &len);

        expect_reject_in(b, len, 8, (int64_t)hl, "not valid JSON");
        free(b);
    }
    for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++)
        expect_reject(not_object[i], 0, 8, "must be a JSON object");
    /* an integer past jansson's range (the reference reads up to 2^64 - 1) */
    size_t len;
    static const char big[] = "{\"a\":{\"dtype\":\"I32\",\"shape\":[2,18446744073709551614],"
                              "\"data_offsets\":[0,16]}}";
    unsigned char *b = stgen_raw(big, sizeof big - 1, NULL, 0, &len);
    expect_reject_in(b, len, 8, sizeof big, "not valid JSON");
    free(b);
}

Test(safetensors_decode, reject_duplicate_names)
{
    static const char dup[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                              "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    static const char dup_field[] =
        "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    size_t len;
    unsigned char *b = stgen_raw(dup, sizeof dup - 1, NULL, 0, &len);

    /* jansson locates it just after the second key */
    expect_reject_in(b, len, 8 + 54, 4, "duplicate key");
    free(b);
    b = stgen_raw(dup_field, sizeof dup_field - 1, NULL, 0, &len);
    expect_reject_in(b, len, 8, sizeof dup_field, "duplicate key");
    free(b);
}

Test(safetensors_decode, reject_bad_entries)
{
    static const struct {
        const char *header;
        const char *needle;
    } cases[] = {
        {"{\"a\":1}", "must be an object with dtype, shape and data_offsets"},
        {"{\"a\":null}", "must be an object"},
        {"{\"a\":[\"F32\",[0]]}", "must be an object"},
        {"{\"a\":[\"F32\",[0],[0,0],1]}", "must be an object"},
        {"{\"a\":{\"shape\":[0],\"data_offsets\":[0,0]}}", "tensor 'a' has no \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,0]}}", "has no \"shape\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0]}}", "has no \"data_offsets\""},
        {"{\"a\":{\"dtype\":\"F128\",\"shape\":[0],\"data_offsets\":[0,0]}}",
         "unknown dtype 'F128'"},
        {"{\"a\":{\"dtype\":\"f32\",\"shape\":[0],\"data_offsets\":[0,0]}}", "unknown dtype 'f32'"},
        {"{\"a\":{\"dtype\":\"F32\\u0000\",\"shape\":[0],\"data_offsets\":[0,0]}}",
         "unknown dtype 'F32?'"},
        {"{\"a\":{\"dtype\":32,\"shape\":[0],\"data_offsets\":[0,0]}}", "dtype must be a string"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}",
         "shape must be an array of integers >= 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
         "shape must be an array of integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}",
         "shape must be an array of integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}",
         "shape must be an array"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0]}}",
         "data_offsets must be [BEGIN, END]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0,0]}}",
         "data_offsets must be [BEGIN, END]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,-1]}}",
         "data_offsets must be [BEGIN, END]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":{\"0\":0}}}",
         "data_offsets must be [BEGIN, END]"},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", "empty name"},
        {"{\"__metadata__\":[]}", "__metadata__ must be an object of strings"},
        {"{\"__metadata__\":\"x\"}", "__metadata__ must be an object of strings"},
        {"{\"__metadata__\":{\"k\":1}}", "'k' is not a string"},
        {"{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", "'k' is not a string"},
        {"{\"__metadata__\":{\"k\":null}}", "'k' is not a string"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_reject(cases[i].header, 0, 8, cases[i].needle);
}

Test(safetensors_decode, reject_offsets_not_contiguous_from_zero)
{
    /* a hole before the first tensor */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, 8,
                  "tensor 'a': data_offsets [4, 8] leave a hole: the data before it ends at 0");
    /* a hole between tensors */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[6,10]}}",
                  10, 8, "tensor 'b': data_offsets [6, 10] leave a hole");
    /* an overlap */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  8, 8, "tensor 'b': data_offsets [4, 8] overlap other data");
    /* two tensors on the same bytes (the reference's JSON attack test) */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
                  16, 8, "tensor 'b': data_offsets [0, 16] overlap");
    /* END before BEGIN (sorted first, as the reference sorts) */
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 0, 8,
                  "data_offsets [4, 0] end before they begin");
}

Test(safetensors_decode, reject_size_not_matching_shape_and_dtype)
{
    expect_reject("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 4, 8,
                  "tensor 'test': data_offsets [0, 4] span 4 bytes, but shape [2, 2] of I32 is "
                  "16 bytes");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, 8,
                  "shape [] of F32 is 4 bytes");
    /* elements x bits overflows 64 bits (the reference counts bits) */
    expect_reject("{\"a\":{\"dtype\":\"I32\",\"shape\":[2,9223372036854775807],"
                  "\"data_offsets\":[0,16]}}",
                  16, 8, "the size of shape [2, 9223372036854775807] of I32 overflows 64 bits");
    expect_reject("{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
                  "\"data_offsets\":[0,16]}}",
                  16, 8, "overflows 64 bits");
    /* in order: an overflow before a 0 dimension is still an overflow */
    expect_reject("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],"
                  "\"data_offsets\":[0,0]}}",
                  0, 8, "overflows 64 bits");
    /* sub-byte dtypes must fill whole bytes */
    expect_reject("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, 8,
                  "shape [3] of F4 (4 bits each) is not a whole number of bytes");
    expect_reject("{\"a\":{\"dtype\":\"F6_E3M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, 8,
                  "not a whole number of bytes");
}

Test(safetensors_decode, reject_data_not_ending_at_the_last_end)
{
    static const char h[] =
        "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    unsigned char data[64] = {0};
    size_t hl = sizeof h - 1;
    size_t len;
    unsigned char *b;

    /* trailing bytes: located at the first extra byte */
    b = stgen_raw(h, hl, data, 17, &len);
    expect_reject_in(b, len, (int64_t)(8 + hl + 16), 0, "the body goes on after the data");
    free(b);
    b = stgen_raw(h, hl, data, 50, &len);
    expect_reject_in(b, len, (int64_t)(8 + hl + 16), 0, "tensors end at byte");
    free(b);
    /* truncated: located at the body's end */
    b = stgen_raw(h, hl, data, 14, &len);
    expect_reject_in(b, len, (int64_t)len, 0,
                     "ends inside the data of tensor 'test' (14 of 16 bytes)");
    free(b);
    b = stgen_raw(h, hl, data, 0, &len);
    expect_reject_in(b, len, (int64_t)len, 0, "(0 of 16 bytes)");
    free(b);
    /* a summed tensor cut inside an element */
    static const char f[] = "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
    b = stgen_raw(f, sizeof f - 1, data, 11, &len);
    expect_reject_in(b, len, (int64_t)len, 0, "tensor 'w' (11 of 16 bytes)");
    free(b);
    /* no tensors: any data byte is extra */
    b = stgen_raw("{}", 2, data, 1, &len);
    expect_reject_in(b, len, 10, 0, "goes on after the data");
    free(b);
    /* the header itself cut short */
    b = stgen_raw(h, hl, NULL, 0, &len);
    expect_reject_in(b, len - 5, (int64_t)(len - 5), 0, "ends inside the safetensors header");
    free(b);
}

Test(safetensors_decode, reject_past_l2d_limits)
{
    char *header = malloc(1 << 21);
    size_t at;

    cr_assert_not_null(header);
    /* 65 dimensions */
    at = (size_t)snprintf(header, 4096, "{\"a\":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < 65; d++)
        at += (size_t)snprintf(header + at, 4096 - at, "%s1", d ? "," : "");
    snprintf(header + at, 4096 - at, "],\"data_offsets\":[0,4]}}");
    expect_reject(header, 4, 8,
                  "tensor 'a': the shape has 65 dimensions, more than l2d's limit "
                  "of 64");
    /* a name of API_MAX_NAME + 1 bytes, then one of API_MAX_NAME */
    memcpy(header, "{\"", 2);
    memset(header + 2, 'n', API_MAX_NAME + 1);
    snprintf(header + 2 + API_MAX_NAME + 1, 256,
             "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}");
    expect_reject(header, 0, 8, "the name is longer than 1024 bytes");
    memmove(header + 2 + API_MAX_NAME, header + 3 + API_MAX_NAME,
            strlen(header + 3 + API_MAX_NAME) + 1);
    {
        size_t len;
        unsigned char *b = stgen_raw(header, strlen(header), NULL, 0, &len);
        struct api_result res;
        struct api_error err;

        cr_assert_eq(decode(b, len, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
        cr_assert_eq(res.tensors[0].name_len, API_MAX_NAME);
        api_result_free(&res);
        free(b);
    }
    /* API_MAX_TENSORS + 1 empty tensors */
    at = (size_t)snprintf(header, 8, "{");
    for (int i = 0; i <= API_MAX_TENSORS; i++)
        at += (size_t)snprintf(header + at, 128,
                               "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
                               i ? "," : "", i);
    snprintf(header + at, 8, "}");
    expect_reject(header, 0, 8, "more than 10000 tensors");
    free(header);
}

/* A header of 3 + 2p JSON values: the root object, "__metadata__", its
 * object and p pairs of strings (whitespace and escapes do not count). */
static char *metadata_pairs(size_t p)
{
    char *h = malloc(64 + p * 32);
    size_t at;

    cr_assert_not_null(h);
    at = (size_t)snprintf(h, 64, " { \"__metadata__\" : {");
    for (size_t i = 0; i < p; i++)
        at += (size_t)snprintf(h + at, 32, "%s\"k%zx\": \"\\\"\"", i ? ",\n" : "", i);
    snprintf(h + at, 64, "} }");
    return h;
}

Test(safetensors_decode, json_value_limit)
{
    size_t p = (API_SAFETENSORS_MAX_VALUES - 3) / 2;
    char *h = metadata_pairs(p);
    size_t len;
    unsigned char *b = stgen_raw(h, strlen(h), NULL, 0, &len);
    struct api_result res;
    struct api_error err;

    cr_assert_eq(3 + 2 * p, API_SAFETENSORS_MAX_VALUES - 1);
    cr_assert_eq(decode(b, len, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
    api_result_free(&res);
    free(b);
    free(h);
    h = metadata_pairs(p + 1);
    b = stgen_raw(h, strlen(h), NULL, 0, &len);
    expect_reject_in(b, len, 8, 0, "more than 262144 JSON values");
    free(b);
    free(h);
    /* numbers and literals count too */
    h = malloc(8 * API_SAFETENSORS_MAX_VALUES);
    cr_assert_not_null(h);
    size_t at = (size_t)snprintf(h, 64, "{\"a\":[\"F32\",[0],[0,0]],\"b\":[\"U8\",[0],[0,0],[");
    for (int i = 0; i < API_SAFETENSORS_MAX_VALUES; i++)
        at += (size_t)snprintf(h + at, 8, "%s%s", i ? "," : "", i % 2 ? "true" : "-1e5");
    snprintf(h + at, 8, "]]}");
    b = stgen_raw(h, strlen(h), NULL, 0, &len);
    expect_reject_in(b, len, 8, 0, "JSON values");
    free(b);
    free(h);
}

Test(safetensors_decode, exactly_api_max_tensors_are_read)
{
    char *header = malloc(1 << 21);
    size_t at = (size_t)snprintf(header, 8, "{");
    size_t len;
    struct api_result res;
    struct api_error err;

    cr_assert_not_null(header);
    for (int i = 0; i < API_MAX_TENSORS; i++)
        at +=
            (size_t)snprintf(header + at, 128,
                             "%s\"t%d\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                             i ? "," : "", i, 2 * i, 2 * i + 2);
    snprintf(header + at, 8, "}");
    unsigned char *data = calloc(API_MAX_TENSORS, 2);
    for (int i = 0; i < API_MAX_TENSORS; i++)
        data[2 * i + 1] = 0x3c; /* 1.0 */
    unsigned char *b = stgen_raw(header, strlen(header), data, 2 * API_MAX_TENSORS, &len);
    cr_assert_eq(decode(b, len, RANDOM, 1, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.n_tensors, API_MAX_TENSORS);
    cr_assert_eq(res.total.count, API_MAX_TENSORS);
    cr_assert_str_eq(res.tensors[API_MAX_TENSORS - 1].name, "t9999");
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT16);
    api_result_free(&res);
    free(b);
    free(data);
    free(header);
}

Test(safetensors_decode, dtype_parameter_is_refused)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT32, true, false, 0, NULL};
    struct api_result res;
    struct api_error err;
    void *dec = (void *)1;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    api_error_init(&err);
    cr_assert_eq(api_safetensors_ops.create(&res, &opts, &dec, &err), API_INVALID_SAFETENSORS);
    cr_assert_null(dec);
    cr_assert_not_null(strstr(err.detail, "remove the dtype query parameter"), "%s", err.detail);
    cr_assert_eq(err.offset, -1);
    api_result_free(&res);
}

/* ---- non-finite elements ---------------------------------------------------- */

Test(safetensors_decode, non_finite_index_is_within_its_tensor)
{
    static const struct {
        const char *code;
        uint64_t bits;
    } bad[] = {
        {"F16", 0x7c00},              /* +inf */
        {"F16", 0xfe01},              /* NaN */
        {"BF16", 0x7fc0},             /* NaN */
        {"BF16", 0xff80},             /* -inf */
        {"F32", 0x7f800000},          /* +inf */
        {"F32", 0xffc00001},          /* NaN */
        {"F64", 0xfff0000000000000u}, /* -inf */
        {"F64", 0x7ff8000000000000u}, /* NaN */
    };
    uint64_t rng = 11;

    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct ftensor f[3];
        const uint64_t s0[1] = {50}, s1[2] = {7, 9}, s2[1] = {5};
        size_t size = elem_size(dtype_of(bad[k].code));

        ftensor_make(&f[0], "first", "F64", 1, s0, &rng);
        ftensor_make(&f[1], "layer/w", bad[k].code, 2, s1, &rng);
        ftensor_make(&f[2], "ints", "I64", 1, s2, &rng); /* written first: highest rank */
        size_t at = 20 + k * 5;                          /* within layer/w's 63 elements */
        elem_put_le(f[1].data + at * size, bad[k].bits, size);
        /* a NaN pattern in a skipped tensor is not looked at */
        elem_put_le(f[2].data, 0x7ff8000000000000u, 8);
        size_t len;
        unsigned char *b = write_file(f, 3, NULL, &len, NULL);

        for (uint64_t seed = 0; seed <= 20; seed++) {
            struct api_result res;
            struct api_error err;
            char want[128];

            cr_assert_eq(decode(b, len, seed == 20 ? BYTES : RANDOM, seed, &res, &err),
                         API_NON_FINITE, "%s: %s", bad[k].code, err.detail);
            cr_assert_eq(err.index, (int64_t)at, "%s: index %lld", bad[k].code,
                         (long long)err.index);
            snprintf(want, sizeof want, "element %zu of tensor 'layer/w' is not finite", at);
            cr_assert_not_null(strstr(err.detail, want), "%s", err.detail);
            api_result_free(&res);
        }
        for (size_t i = 0; i < 3; i++)
            ftensor_free(&f[i]);
        free(b);
    }
}

Test(safetensors_decode, non_finite_before_a_truncation_wins)
{
    static const char h[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    const uint32_t data[2] = {0x3f800000, 0x7f800000};
    size_t len;
    unsigned char *b = stgen_raw(h, sizeof h - 1, data, 8, &len);
    struct api_result res;
    struct api_error err;

    cr_assert_eq(decode(b, len, BYTES, 0, &res, &err), API_NON_FINITE);
    cr_assert_eq(err.index, 1);
    api_result_free(&res);
    free(b);
}

/* ---- through api_body ------------------------------------------------------ */

Test(safetensors_decode, through_api_body)
{
    uint64_t rng = 5;
    struct ftensor f[4];
    const uint64_t s[2] = {33, 17};
    static const char *const codes[4] = {"F32", "F16", "U8", "BF16"};
    static const char *const names[4] = {"w0", "w1", "w2", "w3"};
    enum api_format fmt;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(api_content_type_parse("Application/X-Safetensors; foo=1", &fmt, &err), API_OK);
    cr_assert_eq(fmt, API_FORMAT_SAFETENSORS);
    cr_assert_str_eq(api_format_label(fmt), "safetensors");
    for (size_t i = 0; i < 4; i++)
        ftensor_make(&f[i], names[i], codes[i], 2, s, &rng);
    size_t len;
    unsigned char *b = write_file(f, 4, NULL, &len, NULL);

    for (uint64_t seed = 0; seed < 10; seed++) {
        struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
        struct api_body *body;
        uint64_t s2 = seed;
        size_t at = 0;

        api_error_init(&err);
        cr_assert_eq(api_body_new(API_FORMAT_SAFETENSORS, &opts, API_ENCODING_IDENTITY, UINT64_MAX,
                                  &body, &err),
                     API_OK);
        while (at < len) {
            size_t n = chunks_len(RANDOM, &s2, len - at, 100);

            cr_assert_eq(api_body_feed(body, b + at, n), API_OK, "%s",
                         api_body_error(body)->detail);
            at += n;
        }
        cr_assert_eq(api_body_finish(body), API_OK, "%s", api_body_error(body)->detail);
        for (size_t i = 0; i < 4; i++)
            expect_tensor(api_body_result(body), &f[i]);
        expect_total(api_body_result(body), f, 4);
        api_body_free(body);
    }
    /* the body's limit and a dtype parameter */
    {
        struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
        struct api_body *body;

        cr_assert_eq(api_body_new(API_FORMAT_SAFETENSORS, &opts, API_ENCODING_IDENTITY, len - 1,
                                  &body, &err),
                     API_OK);
        cr_assert_eq(api_body_feed(body, b, len), API_PAYLOAD_TOO_LARGE);
        api_body_free(body);
        opts.has_dtype = true;
        api_error_init(&err);
        cr_assert_eq(api_body_new(API_FORMAT_SAFETENSORS, &opts, API_ENCODING_IDENTITY, UINT64_MAX,
                                  &body, &err),
                     API_INVALID_SAFETENSORS);
        cr_assert_null(body);
    }
    /* an error inside the body is kept and replayed */
    {
        struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
        struct api_body *body;

        api_error_init(&err);
        cr_assert_eq(api_body_new(API_FORMAT_SAFETENSORS, &opts, API_ENCODING_IDENTITY, UINT64_MAX,
                                  &body, &err),
                     API_OK);
        cr_assert_eq(api_body_feed(body, b, len), API_OK);
        cr_assert_eq(api_body_feed(body, "x", 1), API_INVALID_SAFETENSORS);
        cr_assert_eq(api_body_error(body)->offset, (int64_t)len);
        cr_assert_eq(api_body_finish(body), API_INVALID_SAFETENSORS);
        api_body_free(body);
    }
    for (size_t i = 0; i < 4; i++)
        ftensor_free(&f[i]);
    free(b);
}

/* ?nonfinite=count: NaN and infinities in any tensor are counted per tensor
 * and in the total, left out of the sums, under any chunking. */
Test(safetensors_decode, nonfinite_count)
{
    static const float w[4] = {1.0f, 2.0f, 3.0f, -5.0f};
    static const uint16_t h[3] = {0x3c00, 0x7e00, 0xfc00}; /* 1, NaN, -inf */
    struct stgen_tensor t[2] = {
        {.name = "w", .dtype = "F32", .ndim = 1, .shape = {4}, .data = w, .data_len = sizeof w},
        {.name = "h", .dtype = "F16", .ndim = 1, .shape = {3}, .data = h, .data_len = sizeof h},
    };
    float wn[4];
    size_t len;
    unsigned char *b;

    memcpy(wn, w, sizeof w);
    memcpy(&wn[1], &(uint32_t){0x7f800000u}, 4); /* w[1] = +inf */
    t[0].data = wn;
    b = stgen_write(t, 2, NULL, &len, NULL);
    for (uint64_t seed = 0; seed < 50; seed++) {
        struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, true, 0, NULL};
        struct api_result res;
        struct api_error err;
        double sum;

        cr_assert_eq(decode_chunked(&api_safetensors_ops, &opts, b, len, seed ? RANDOM : WHOLE,
                                    seed, SMALL_CHUNK, &res, &err),
                     API_OK, "%s", err.detail);
        cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
        cr_assert_eq(sum, 1.0 + 9.0 + 25.0 + 1.0);
        cr_assert_eq(res.total.count, 7);
        cr_assert_eq(res.total.nan_count, 1);
        cr_assert_eq(res.total.inf_count, 2);
        cr_assert_eq(res.total.max_abs, 5.0);
        const struct api_tensor *hw = find(&res, "h");
        cr_assert_not_null(hw);
        cr_assert_eq(hw->nan_count, 1);
        cr_assert_eq(hw->inf_count, 1);
        cr_assert_eq(hw->count, 3);
        api_result_free(&res);
    }
    /* without count, the first one (in file order: w before h) is an error */
    struct api_result res;
    struct api_error err;
    cr_assert_eq(decode(b, len, WHOLE, 0, &res, &err), API_NON_FINITE);
    cr_assert_eq(err.index, 1);
    api_result_free(&res);
    free(b);
}
