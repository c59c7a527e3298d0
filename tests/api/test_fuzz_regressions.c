/* test_fuzz_regressions.c -- the fuzzers' findings and corpora as unit tests.
 *
 * The harnesses' checks (tests/fuzz/fuzz_*.h: split invariance, the slow
 * exact references) are plain C, so the unit tests replay every committed
 * seed of tests/fuzz/corpus/ through them without libFuzzer: a broken
 * invariant aborts, which Criterion reports as a failed test. Each finding
 * of `make fuzz` is pinned below as its own test with the input in hex. The
 * last tests try every single cut point of a few bodies chosen to straddle
 * the decoders' carry paths (numbers, escapes, surrogates, headers). */
#include <criterion/criterion.h>
#include <dirent.h>

#include "../fuzz/fuzz_encoding.h"
#include "../fuzz/fuzz_json.h"
#include "../fuzz/fuzz_npy.h"
#include "../fuzz/fuzz_npz.h"
#include "../fuzz/fuzz_query.h"
#include "../fuzz/fuzz_raw.h"
#include "../fuzz/fuzz_safetensors.h"

typedef void (*check_fn)(const uint8_t *data, size_t size);

/* Runs check on every file of tests/fuzz/corpus/<name>; returns how many. */
static size_t replay_corpus(const char *name, check_fn check)
{
    char dir[256], path[512];
    DIR *d;
    struct dirent *e;
    size_t files = 0;

    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
    d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    while ((e = readdir(d)) != NULL) {
        FILE *f;
        uint8_t *buf;
        long n;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        f = fopen(path, "rb");
        cr_assert_not_null(f, "cannot open %s", path);
        cr_assert_eq(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        cr_assert(n >= 0);
        rewind(f);
        buf = malloc(n > 0 ? (size_t)n : 1);
        cr_assert_not_null(buf);
        cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        check(buf, (size_t)n);
        free(buf);
        files++;
    }
    closedir(d);
    return files;
}

Test(fuzz_corpus, raw)
{
    cr_assert_geq(replay_corpus("raw", raw_check), 20);
}

Test(fuzz_corpus, json)
{
    cr_assert_geq(replay_corpus("json", json_check_input), 20);
}

Test(fuzz_corpus, named)
{
    cr_assert_geq(replay_corpus("named", named_check_input), 20);
}

Test(fuzz_corpus, npy)
{
    cr_assert_geq(replay_corpus("npy", npy_check), 20);
}

Test(fuzz_corpus, safetensors)
{
    cr_assert_geq(replay_corpus("safetensors", safetensors_check), 20);
}

Test(fuzz_corpus, encoding)
{
    cr_assert_geq(replay_corpus("encoding", encoding_check), 20);
}

Test(fuzz_corpus, npz)
{
    cr_assert_geq(replay_corpus("npz", npz_check), 20);
}

Test(fuzz_corpus, query)
{
    cr_assert_geq(replay_corpus("query", query_check), 20);
}

/* make fuzz, npz: trailing bytes after an empty archive's end record. The
 * detail counted the bytes left in the chunk, so it depended on the cuts. */
Test(fuzz_finding, npz_trailing_detail_independent_of_chunks)
{
    uint8_t in[2 + 22 + 67] = {0, 0, 'P', 'K', 5, 6};

    in[2 + 22 + 61] = 0xfd;
    npz_check(in, sizeof in);
}

/* Builds the input header with one cut at each position in turn (and the
 * given option byte), and checks it. */
static void every_cut(check_fn check, uint8_t opt, const char *body, size_t len)
{
    uint8_t *in = malloc(len + 4);

    cr_assert_not_null(in);
    in[0] = opt;
    in[1] = 1;
    if (len > 0)
        memcpy(in + 4, body, len);
    for (size_t cut = 0; cut <= len; cut++) {
        in[2] = (uint8_t)(cut & 0xff);
        in[3] = (uint8_t)(cut >> 8);
        check(in, len + 4);
    }
    free(in);
}

/* The status of body decoded whole through api_body. */
static enum api_status whole_status(enum api_format fmt, bool has_dtype, enum l2_dtype dtype,
                                    const char *body, size_t len, struct api_error *err)
{
    struct api_body *b = NULL;
    enum api_status st;

    struct api_decode_opts opts = {dtype, has_dtype, false, 0, NULL};

    api_error_init(err);
    st = api_body_new(fmt, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &b, err);
    cr_assert_eq(st, API_OK);
    st = api_body_feed(b, body, len);
    if (st == API_OK)
        st = api_body_finish(b);
    *err = *api_body_error(b);
    api_body_free(b);
    return st;
}

/* fuzz_safetensors: a header length of 0 followed by more bytes copied 0
 * bytes into the not yet allocated header buffer (NULL + 0, undefined
 * behaviour under UBSan). */
Test(fuzz_findings, safetensors_zero_length_header_then_bytes)
{
    static const uint8_t in[] = {0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x7b, 0x7d, 0x20};
    struct api_error err;

    safetensors_check(in, sizeof in);
    cr_assert_eq(whole_status(API_FORMAT_SAFETENSORS, false, L2_DTYPE_FLOAT64, (const char *)in + 2,
                              sizeof in - 2, &err),
                 API_INVALID_SAFETENSORS);
    cr_assert_eq(err.offset, 8);
}

Test(fuzz_every_cut, json)
{
    static const char *const bodies[] = {
        ("{\"tensors\": {\"a~b/c\\u00e9\\ud83d\\ude00\": [[1.5e-300, -2.25], [3, 4e+2]], "
         "\"\xc3\xa9\xf0\x9f\x98\x80\": [0.1, 123456789012345678901234567890e-27]}}"),
        "[[[0.30000000000000004441, 6.103515625e-05], [65519.999, 3.4028235e38]]]",
        "[1e-400, -0.0, 4.9406564584124654e-324, 2.4703282292062327e-324]",
        "[1, [2]]",
        "{\"tensors\": {\"x\": [1], \"x\": [2]}}",
    };

    static const enum api_status expect[] = {API_OK, API_NUMBER_OUT_OF_RANGE, API_OK,
                                             API_INVALID_TENSOR, API_INVALID_TENSOR};
    struct api_error err;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        /* float64: only the float32 overflow of body 1 is in range */
        enum api_status want = i == 1 ? API_OK : expect[i];

        cr_assert_eq(whole_status(API_FORMAT_JSON, false, L2_DTYPE_FLOAT64, bodies[i],
                                  strlen(bodies[i]), &err),
                     want, "body %zu: %s", i, err.detail);
        cr_assert_eq(whole_status(API_FORMAT_JSON, true, L2_DTYPE_FLOAT16, bodies[i],
                                  strlen(bodies[i]), &err),
                     expect[i], "body %zu as float16: %s", i, err.detail);
        for (uint8_t dt = 0; dt < 4; dt++)
            every_cut(json_check_input, (uint8_t)(4 | dt), bodies[i], strlen(bodies[i]));
    }
}

Test(fuzz_every_cut, npy)
{
    /* v1.0, '>f4', shape (2, 2), one element per kernel path. */
    static const char hdr[] = "\x93NUMPY\x01\x00\x46\x00"
                              "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }"
                              "          \n";
    static const char data[] = "\x3f\x80\x00\x00\x00\x00\x00\x01\xc0\x49\x0f\xdb\x7f\x7f\xff\xff";
    char body[sizeof hdr - 1 + sizeof data - 1];
    struct api_error err;

    cr_assert_eq(sizeof hdr - 1, 80);
    memcpy(body, hdr, sizeof hdr - 1);
    memcpy(body + sizeof hdr - 1, data, sizeof data - 1);
    cr_assert_eq(whole_status(API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, body, sizeof body, &err),
                 API_OK, "%s", err.detail);
    every_cut(npy_check, 0, body, sizeof body);
    body[sizeof body - 4] = '\x7f';
    body[sizeof body - 3] = '\x80'; /* the last element becomes +inf */
    body[sizeof body - 2] = '\x00';
    body[sizeof body - 1] = '\x00';
    cr_assert_eq(whole_status(API_FORMAT_NPY, false, L2_DTYPE_FLOAT64, body, sizeof body, &err),
                 API_NON_FINITE);
    cr_assert_eq(err.index, 3);
    every_cut(npy_check, 0, body, sizeof body);
}

Test(fuzz_every_cut, raw)
{
    static const char body[] = "\x00\x3c\x01\x00\xff\x7b\x00\x80\x00\x7c\x12\x34\x56";

    for (uint8_t dt = 0; dt < 4; dt++)
        every_cut(raw_check, dt, body, sizeof body - 1);
}

Test(fuzz_every_cut, safetensors)
{
    /* F64 [2] then F16 [3] then I8 [2]: a header split anywhere, elements
     * split inside, a skipped tensor, and an empty tensor at the end. */
    static const char hdr[] = "{\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                              "\"a\":[\"F64\",[2],[0,16]],"
                              "\"c\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[22,24]},"
                              "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[24,24]}}";
    static const unsigned char data[24] = {0,    0,    0,    0,    0,    0,    0xf0, 0x3f,
                                           1,    0,    0,    0,    0,    0,    0,    0x80,
                                           0x00, 0x3c, 0xff, 0x7b, 0x01, 0x80, 0xff, 0x7f};
    char body[8 + sizeof hdr - 1 + sizeof data];
    size_t hl = sizeof hdr - 1;
    struct api_error err;

    for (int i = 0; i < 8; i++)
        body[i] = (char)((uint64_t)hl >> (8 * i));
    memcpy(body + 8, hdr, hl);
    memcpy(body + 8 + hl, data, sizeof data);
    cr_assert_eq(
        whole_status(API_FORMAT_SAFETENSORS, false, L2_DTYPE_FLOAT64, body, sizeof body, &err),
        API_OK, "%s", err.detail);
    every_cut(safetensors_check, 0, body, sizeof body);
    body[8 + hl + 19] = 0x7c; /* b's second element becomes a NaN */
    cr_assert_eq(
        whole_status(API_FORMAT_SAFETENSORS, false, L2_DTYPE_FLOAT64, body, sizeof body, &err),
        API_NON_FINITE);
    cr_assert_eq(err.index, 1);
    every_cut(safetensors_check, 0, body, sizeof body);
}

/* Every cut of archives numpy wrote to a pipe (data descriptors; the tiled
 * one inflates in several passes). */
Test(fuzz_every_cut, npz)
{
    static const char *const files[] = {"tests/data/npz/stored_pipe.npz",
                                        "tests/data/npz/tiled_pipe.npz"};

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        static char body[8192];
        FILE *f = fopen(files[i], "rb");
        size_t n;
        struct api_error err;

        cr_assert_not_null(f, "%s", files[i]);
        n = fread(body, 1, sizeof body, f);
        fclose(f);
        cr_assert_eq(whole_status(API_FORMAT_NPZ, false, L2_DTYPE_FLOAT64, body, n, &err), API_OK,
                     "%s", err.detail);
        every_cut(npz_check, 0, body, n);
    }
}
