/* test_npz_decode.c -- .npz bodies: archives written by numpy itself
 * (tests/data/npz/gen.py: np.savez and np.savez_compressed, to a file and
 * to a pipe) answered exactly against the MPFR oracle, under 100 random
 * re-chunkings; every zip form a reader meets (tests/support/npzw.h); every
 * rejection with its code, offset and detail; the member's own .npy errors
 * and non-finite elements named by member. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/body.h"
#include "api/crc32.h"
#include "api/npz_decode.h"
#include "tests/support/chunks.h"
#include "tests/support/decode.h"
#include "tests/support/elem_bits.h"
#include "tests/support/npzw.h"
#include "tests/support/oracle.h"

#define NPZ_FILE_MAX 65536

/* ---- the fixtures -------------------------------------------------------- */

/* One member of a fixture: summed (descr of a float, `count` values drawn
 * from seed, each repeated `times`), or skipped with its code. */
struct member {
    const char *name;
    const char *descr; /* summed: "<f4"; skipped: the code expected */
    bool skipped;
    enum l2_dtype dtype;
    unsigned ndim;
    uint64_t shape[3];
    uint64_t seed;
    uint64_t count; /* distinct values drawn */
    unsigned long times;
};

#define F16 L2_DTYPE_FLOAT16
#define F32 L2_DTYPE_FLOAT32
#define F64 L2_DTYPE_FLOAT64

/* gen.py's MEMBERS, in archive order. */
static const struct member MEMBERS[] = {
    {"w", "<f4", false, F32, 2, {3, 5}, 1, 15, 1},
    {"dense/bias", ">f8", false, F64, 1, {7}, 2, 7, 1},
    {"h", "<f2", false, F16, 3, {2, 2, 3}, 3, 12, 1},
    {"steps", "<i8", true, F64, 0, {0}, 0, 0, 0},
    {"mask", "|b1", true, F64, 0, {0}, 0, 0, 0},
    {"empty", "<f4", false, F32, 2, {0, 3}, 0, 0, 1},
    {"scalar", "<f8", false, F64, 0, {0}, 4, 1, 1},
    {"be16", ">f2", false, F16, 1, {5}, 5, 5, 1},
    {"c", "<c8", true, F64, 0, {0}, 0, 0, 0},
    {"poids_\xc3\xa9", "<f4", false, F32, 1, {2}, 6, 2, 1},
    {"be32", ">f4", false, F32, 1, {4}, 7, 4, 1},
};
static const struct member POSITIONAL[] = {
    {"arr_0", "<f4", false, F32, 1, {3}, 8, 3, 1},
    {"arr_1", "<f8", false, F64, 2, {2, 2}, 9, 4, 1},
};
static const struct member TILED[] = {
    {"tiled", ">f4", false, F32, 2, {1000, 64}, 11, 64, 1000},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct fixture {
    const char *file;
    const struct member *members;
    size_t n;
    enum l2_dtype dtype; /* of the answer */
    bool descriptors;    /* written to a pipe */
    bool deflate;
} FIXTURES[] = {
    {"stored.npz", MEMBERS, N_OF(MEMBERS), F64, false, false},
    {"deflate.npz", MEMBERS, N_OF(MEMBERS), F64, false, true},
    {"stored_pipe.npz", MEMBERS, N_OF(MEMBERS), F64, true, false},
    {"deflate_pipe.npz", MEMBERS, N_OF(MEMBERS), F64, true, true},
    {"empty.npz", NULL, 0, F64, false, false},
    {"positional.npz", POSITIONAL, N_OF(POSITIONAL), F64, false, false},
    {"tiled.npz", TILED, N_OF(TILED), F32, false, true},
    {"tiled_pipe.npz", TILED, N_OF(TILED), F32, true, true},
};

/* Reads tests/data/npz/<file> into b (NPZ_FILE_MAX bytes); its length. */
static size_t read_fixture(const char *file, unsigned char *b)
{
    char path[256];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "tests/data/npz/%s", file);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s (run the tests from the repository root)", path);
    n = fread(b, 1, NPZ_FILE_MAX, f);
    cr_assert(feof(f), "%s is larger than %d bytes", path, NPZ_FILE_MAX);
    fclose(f);
    return n;
}

/* Adds member m's squares to s (and to total when not NULL). */
static void member_sum(const struct member *m, struct oracle_sum *s, struct oracle_sum *total)
{
    uint64_t rng = m->seed;

    for (uint64_t i = 0; i < m->count; i++) {
        double x = elem_value(m->dtype, elem_random_finite(m->dtype, &rng));

        oracle_sum_add_sq_times(s, x, m->times);
        if (total != NULL)
            oracle_sum_add_sq_times(total, x, m->times);
    }
}

static void expect_double(double got, double want, const char *what, const char *file)
{
    cr_assert_eq(memcmp(&got, &want, 8), 0, "%s: %s %a, expected %a", file, what, got, want);
}

/* Checks res against the fixture's members, bit for bit. */
static void expect_fixture(const struct fixture *fx, const struct api_result *res)
{
    struct oracle_sum total;
    uint64_t count = 0;
    double want, got;

    cr_assert(res->named, "%s", fx->file);
    cr_assert_eq(res->n_tensors, fx->n, "%s: %zu tensors", fx->file, res->n_tensors);
    cr_assert_eq(res->dtype, fx->dtype, "%s", fx->file);
    oracle_sum_init(&total);
    for (size_t i = 0; i < fx->n; i++) {
        const struct member *m = &fx->members[i];
        const struct api_tensor *t = &res->tensors[i];
        struct oracle_sum s;

        cr_assert_eq(t->name_len, strlen(m->name), "%s: tensor %zu", fx->file, i);
        cr_assert_eq(memcmp(t->name, m->name, t->name_len), 0, "%s: '%s' for '%s'", fx->file,
                     t->name, m->name);
        if (m->skipped) {
            cr_assert_not_null(t->skipped, "%s: %s not skipped", fx->file, m->name);
            cr_assert_str_eq(t->skipped, m->descr, "%s: %s", fx->file, m->name);
            continue;
        }
        cr_assert_null(t->skipped, "%s: %s skipped", fx->file, m->name);
        cr_assert_eq(t->dtype, m->dtype, "%s: %s", fx->file, m->name);
        cr_assert_eq(t->ndim, m->ndim, "%s: %s", fx->file, m->name);
        for (unsigned d = 0; d < m->ndim; d++)
            cr_assert_eq(t->shape[d], m->shape[d], "%s: %s dim %u", fx->file, m->name, d);
        cr_assert_eq(t->count, m->count * m->times, "%s: %s", fx->file, m->name);
        count += m->count * m->times;
        oracle_sum_init(&s);
        member_sum(m, &s, &total);
        cr_assert(oracle_sum_round(&s, false, &want));
        expect_double(t->sum_squares, want, m->name, fx->file);
        cr_assert(oracle_sum_round(&s, true, &want));
        expect_double(t->half_sum, want, m->name, fx->file);
        oracle_sum_free(&s);
    }
    cr_assert_eq(res->total.count, count, "%s", fx->file);
    cr_assert(oracle_sum_round(&total, false, &want));
    cr_assert_eq(l2_accum_sum(&res->total, &got), L2_OK);
    expect_double(got, want, "total", fx->file);
    cr_assert(oracle_sum_round(&total, true, &want));
    cr_assert_eq(l2_accum_half(&res->total, &got), L2_OK);
    expect_double(got, want, "total half", fx->file);
    oracle_sum_free(&total);
}

static enum api_status decode(const void *b, size_t n, enum chunking how, uint64_t seed,
                              struct api_result *res, struct api_error *err)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};

    return decode_chunked(&api_npz_ops, &opts, b, n, how, seed, 61, res, err);
}

/* An offset expect_status does not check. */
#define ANY_OFFSET INT64_MIN

/* Decodes b whole and expects status st at offset (st API_OK: no error),
 * with detail in the detail when not NULL. */
static struct api_error expect_status(const void *b, size_t n, enum api_status st, int64_t offset,
                                      const char *detail)
{
    struct api_result res;
    struct api_error err;
    enum api_status got = decode(b, n, WHOLE, 0, &res, &err);

    cr_assert_eq(got, st, "status %s, expected %s: %s", api_status_code(got), api_status_code(st),
                 err.detail);
    if (st != API_OK) {
        cr_assert(offset == ANY_OFFSET || err.offset == offset, "offset %lld, expected %lld: %s",
                  (long long)err.offset, (long long)offset, err.detail);
        if (detail != NULL)
            cr_assert_not_null(strstr(err.detail, detail), "detail '%s' lacks '%s'", err.detail,
                               detail);
    }
    api_result_free(&res);
    return err;
}

Test(npz_decode, numpy_files_exact)
{
    static unsigned char b[NPZ_FILE_MAX];

    for (size_t f = 0; f < N_OF(FIXTURES); f++) {
        size_t n = read_fixture(FIXTURES[f].file, b);

        /* the writer did what the fixture says */
        if (n > 30) {
            cr_assert_eq((b[6] & 8) != 0, FIXTURES[f].descriptors, "%s", FIXTURES[f].file);
            cr_assert_eq(b[8], FIXTURES[f].deflate ? 8 : 0, "%s", FIXTURES[f].file);
            cr_assert_eq(b[28], 20, "%s: numpy's zip64 extra field", FIXTURES[f].file);
        }
        for (int how = WHOLE; how <= RANDOM; how++) {
            struct api_result res;
            struct api_error err;

            cr_assert_eq(decode(b, n, how, f, &res, &err), API_OK, "%s: %s", FIXTURES[f].file,
                         err.detail);
            expect_fixture(&FIXTURES[f], &res);
            api_result_free(&res);
        }
    }
}

/* Two complete results are the same bit for bit. */
static void expect_same_result(const struct api_result *a, const struct api_result *b,
                               const char *what)
{
    double sa, sb;

    cr_assert_eq(a->n_tensors, b->n_tensors, "%s", what);
    cr_assert_eq(a->total.count, b->total.count, "%s", what);
    cr_assert_eq(memcmp(a->total.limb, b->total.limb, sizeof a->total.limb), 0, "%s", what);
    cr_assert_eq(l2_accum_sum(&a->total, &sa), l2_accum_sum(&b->total, &sb));
    cr_assert_eq(memcmp(&sa, &sb, 8), 0, "%s", what);
    cr_assert_eq(a->dtype, b->dtype, "%s", what);
    for (size_t i = 0; i < a->n_tensors; i++) {
        const struct api_tensor *x = &a->tensors[i], *y = &b->tensors[i];

        cr_assert(x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0);
        cr_assert_eq(x->skipped == NULL, y->skipped == NULL);
        if (x->skipped != NULL)
            cr_assert_str_eq(x->skipped, y->skipped);
        cr_assert_eq(memcmp(&x->sum_squares, &y->sum_squares, 8), 0, "%s %zu", what, i);
        cr_assert_eq(memcmp(&x->half_sum, &y->half_sum, 8), 0, "%s %zu", what, i);
        cr_assert_eq(x->count, y->count);
        cr_assert_eq(x->dtype, y->dtype);
        cr_assert_eq(x->ndim, y->ndim);
        for (unsigned d = 0; d < x->ndim; d++)
            cr_assert_eq(x->shape[d], y->shape[d]);
    }
}

/* Decodes b whole, then under `runs` random chunkings (and byte by byte
 * when short): the same status, error and result every time. */
static void expect_chunking_invariant(const void *b, size_t n, int runs, const char *what)
{
    struct api_result ref, res;
    struct api_error ref_err, err;
    enum api_status want = decode(b, n, WHOLE, 0, &ref, &ref_err);

    for (int r = 0; r <= runs; r++) {
        enum chunking how = r < runs ? RANDOM : BYTES;
        enum api_status got;

        if (how == BYTES && n > 20000)
            break;
        got = decode(b, n, how, (uint64_t)r * 7919 + 1, &res, &err);
        cr_assert_eq(got, want, "%s run %d: %s / %s", what, r, err.detail, ref_err.detail);
        if (want == API_OK) {
            expect_same_result(&ref, &res, what);
        } else {
            cr_assert_str_eq(err.detail, ref_err.detail, "%s run %d", what, r);
            cr_assert_eq(err.offset, ref_err.offset, "%s run %d", what, r);
            cr_assert_eq(err.index, ref_err.index, "%s run %d", what, r);
        }
        api_result_free(&res);
    }
    api_result_free(&ref);
}

Test(npz_decode, numpy_files_under_100_rechunkings)
{
    static unsigned char b[NPZ_FILE_MAX];

    for (size_t f = 0; f < N_OF(FIXTURES); f++) {
        size_t n = read_fixture(FIXTURES[f].file, b);

        expect_chunking_invariant(b, n, 100, FIXTURES[f].file);
    }
}

Test(npz_decode, both_media_types_through_the_body)
{
    static unsigned char b[NPZ_FILE_MAX];
    size_t n = read_fixture("deflate_pipe.npz", b);
    static const char *const types[] = {"application/x-npz", "application/zip"};

    for (size_t t = 0; t < 2; t++) {
        struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
        enum api_format fmt;
        struct api_body *body;
        struct api_error err;

        api_error_init(&err);
        cr_assert_eq(api_content_type_parse(types[t], &fmt, &err), API_OK);
        cr_assert_eq(fmt, API_FORMAT_NPZ);
        cr_assert_str_eq(api_format_label(fmt), "npz");
        cr_assert_eq(api_body_new(fmt, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
                     API_OK);
        for (size_t at = 0; at < n; at += 100)
            cr_assert_eq(api_body_feed(body, b + at, n - at < 100 ? n - at : 100), API_OK);
        cr_assert_eq(api_body_finish(body), API_OK, "%s", api_body_error(body)->detail);
        expect_fixture(&FIXTURES[3], api_body_result(body));
        api_body_free(body);
    }
}

Test(npz_decode, dtype_parameter_refused)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT32, true, false, 0, NULL};
    struct api_body *body = (struct api_body *)1;
    struct api_error err;

    api_error_init(&err);
    cr_assert_eq(
        api_body_new(API_FORMAT_NPZ, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &body, &err),
        API_INVALID_NPZ);
    cr_assert_null(body);
    cr_assert_not_null(strstr(err.detail, "remove the dtype query parameter"), "%s", err.detail);
}

/* ---- corrupted copies of numpy's files ---------------------------------- */

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where the records of a file written to a path (no descriptors) are. */
struct layout {
    size_t n;
    size_t local[16], data[16], csize[16], central[16];
    size_t cd, end;
};

static void layout_of(const unsigned char *b, size_t n, struct layout *l)
{
    size_t off = 0;

    memset(l, 0, sizeof *l);
    while (rd32(b + off) == 0x04034b50) {
        cr_assert_lt(l->n, 16);
        l->local[l->n] = off;
        l->data[l->n] = off + 30 + rd16(b + off + 26) + rd16(b + off + 28);
        l->csize[l->n] = rd32(b + off + 18);
        off = l->data[l->n] + l->csize[l->n];
        l->n++;
    }
    l->end = n - 22;
    cr_assert_eq(rd32(b + l->end), 0x06054b50);
    l->cd = rd32(b + l->end + 16);
    cr_assert_eq(l->cd, off);
    for (size_t i = 0; i < l->n; i++) {
        l->central[i] = off;
        off += 46 + rd16(b + off + 28) + rd16(b + off + 30) + rd16(b + off + 32);
    }
    cr_assert_eq(off, l->end);
}

/* Sets member i's CRC (local header and central directory) to its data's. */
static void fix_crc(unsigned char *b, const struct layout *l, size_t i)
{
    uint32_t crc = (uint32_t)crc32(0, b + l->data[i], (uInt)l->csize[i]);

    npzw_put32(b + l->local[i] + 14, crc);
    npzw_put32(b + l->central[i] + 16, crc);
}

/* The offset of member i's first data element (stored file). */
static size_t first_element(const unsigned char *b, const struct layout *l, size_t i)
{
    return l->data[i] + 10 + rd16(b + l->data[i] + 8);
}

Test(npz_decode, corrupted_numpy_file_each_refused_at_its_offset)
{
    static unsigned char orig[NPZ_FILE_MAX], b[NPZ_FILE_MAX + 1];
    size_t n = read_fixture("stored.npz", orig);
    struct layout l;
    size_t w0, c8;

    layout_of(orig, n, &l);
    cr_assert_eq(l.n, 11);
    w0 = l.local[0];
    c8 = l.local[8];

#define FRESH() memcpy(b, orig, n)
    FRESH();
    b[w0 + 14] ^= 1;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)w0 + 14, "CRC-32 mismatch in npz member 'w.npy'");
    FRESH();
    b[first_element(b, &l, 0)] ^= 1; /* a mantissa bit: still finite */
    expect_status(b, n, API_INVALID_NPZ, (int64_t)w0 + 14, "the local header says 0x");
    FRESH();
    b[l.central[3] + 16] ^= 0x80;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.central[3] + 16,
                  "CRC-32 mismatch in central directory entry 3");
    FRESH();
    npzw_put16(b + w0 + 8, 12);
    npzw_put16(b + l.central[0] + 10, 12);
    expect_status(b, n, API_INVALID_NPZ, (int64_t)w0 + 8,
                  "npz member 'w.npy' uses compression method 12 (bzip2)");
    FRESH();
    b[w0 + 6] |= 1;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)w0 + 6, "npz member 'w.npy' is encrypted");
    FRESH();
    b[w0 + 30 + 4] = 'z';
    expect_status(b, n, API_INVALID_NPZ, (int64_t)w0 + 30,
                  "npz member 'w.npz' is not named NAME.npy");
    FRESH();
    b[c8 + 30] = 'h'; /* c.npy -> h.npy, the third member's name */
    expect_status(b, n, API_INVALID_NPZ, (int64_t)c8 + 30, "duplicate npz member 'h.npy'");
    FRESH();
    b[l.local[1]] = 'X';
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.local[1], "expected a member (PK\\3\\4)");
    FRESH();
    b[l.central[0] + 46] = 'x';
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.central[0] + 46,
                  "central directory entry 0 does not name member 0 ('w.npy')");
    FRESH();
    b[l.central[2] + 20] ^= 1;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.central[2] + 20,
                  "central directory entry 2 gives sizes");
    FRESH();
    b[l.central[1] + 42] ^= 1;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.central[1] + 42,
                  "central directory entry 1 puts its member at byte");
    FRESH();
    b[l.central[1] + 9] ^= 0x08; /* the UTF-8 flag differs from the local header's */
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.central[1] + 8, "has flags 0x0800");
    FRESH();
    npzw_put16(b + l.end + 8, 10);
    npzw_put16(b + l.end + 10, 10);
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.end + 10,
                  "the end record counts 10 entries, the archive has 11 members");
    FRESH();
    b[l.end + 12] ^= 1;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.end + 12, "gives a central directory of");
    FRESH();
    b[l.end + 16] ^= 1;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.end + 16, "puts the central directory at");
    FRESH();
    b[l.end + 4] = 1;
    expect_status(b, n, API_INVALID_NPZ, (int64_t)l.end + 4, "multi-disk");
    FRESH();
    b[n] = 0;
    expect_status(b, n + 1, API_INVALID_NPZ, (int64_t)n, "trailing bytes after the end record");
    FRESH();
    npzw_put16(b + l.end + 20, 1); /* a comment the file does not have */
    expect_status(b, n, API_INVALID_NPZ, (int64_t)n, "inside the archive comment");

    /* The last central entry gone (count and size fixed): one member unlisted. */
    FRESH();
    {
        size_t cut = l.central[10], gone = l.end - cut;

        memmove(b + cut, b + l.end, 22);
        npzw_put16(b + cut + 8, 10);
        npzw_put16(b + cut + 10, 10);
        npzw_put32(b + cut + 12, (uint32_t)(cut - l.cd));
        expect_status(b, n - gone, API_INVALID_NPZ, (int64_t)cut,
                      "the central directory lists 10 entries, the archive has 11 members");
    }
#undef FRESH
}

Test(npz_decode, truncated_at_every_length)
{
    static unsigned char b[NPZ_FILE_MAX];

    for (size_t f = 0; f < N_OF(FIXTURES); f++) {
        size_t n = read_fixture(FIXTURES[f].file, b);

        for (size_t len = 0; len < n; len++) {
            struct api_result res;
            struct api_error err;
            enum api_status st = decode(b, len, len % 3 == 0 ? WHOLE : RANDOM, len, &res, &err);

            cr_assert_eq(st, API_INVALID_NPZ, "%s cut at %zu: %s", FIXTURES[f].file, len,
                         err.detail);
            cr_assert_eq(err.offset, (int64_t)len, "%s cut at %zu: %s", FIXTURES[f].file, len,
                         err.detail);
            cr_assert_not_null(strstr(err.detail, len == 0 ? "the body is empty" : "truncated"),
                               "%s", err.detail);
            api_result_free(&res);
        }
    }
}

Test(npz_decode, not_a_zip)
{
    expect_status("GIF89a\x01\x00", 8, API_INVALID_NPZ, 0, "not an .npz (zip) archive");
    expect_status("\x93NUMPY\x01\x00", 8, API_INVALID_NPZ, 0, "not an .npz (zip) archive");
    expect_status("PK\x07\x08", 4, API_INVALID_NPZ, 0, "not an .npz (zip) archive");
    expect_status("PK", 2, API_INVALID_NPZ, 2, "truncated");
    expect_status("", 0, API_INVALID_NPZ, 0, "the body is empty");
    expect_status("PK\x01\x02", 4, API_INVALID_NPZ, 4, "truncated");
}

/* ---- the member's own errors --------------------------------------------- */

Test(npz_decode, non_finite_element_named_by_member)
{
    static unsigned char b[NPZ_FILE_MAX];
    size_t n = read_fixture("stored.npz", b);
    struct layout l;
    struct api_error err;

    layout_of(b, n, &l);
    npzw_put32(b + first_element(b, &l, 0) + 4 * 4, 0x7fc00000u); /* w[0][4] = NaN */
    fix_crc(b, &l, 0);
    err = expect_status(b, n, API_NON_FINITE, -1, NULL);
    cr_assert_eq(err.index, 4);
    cr_assert_str_eq(err.detail, "element 4 of npz member 'w.npy' is not finite (NaN or infinity)");
    expect_chunking_invariant(b, n, 20, "NaN in w");

    /* big-endian float64 +inf as element 6 of the second member */
    n = read_fixture("stored.npz", b);
    npzw_put32(b + first_element(b, &l, 1) + 6 * 8, 0x0000f07fu);
    npzw_put32(b + first_element(b, &l, 1) + 6 * 8 + 4, 0);
    fix_crc(b, &l, 1);
    err = expect_status(b, n, API_NON_FINITE, -1, NULL);
    cr_assert_eq(err.index, 6);
    cr_assert_str_eq(err.detail,
                     "element 6 of npz member 'dense/bias.npy' is not finite (NaN or infinity)");
}

Test(npz_decode, member_npy_errors_named_by_member)
{
    static unsigned char b[NPZ_FILE_MAX];
    size_t n = read_fixture("stored.npz", b);
    struct layout l;
    struct api_error err;

    layout_of(b, n, &l);
    b[l.data[2]] = 'X'; /* h.npy's magic */
    fix_crc(b, &l, 2);
    err = expect_status(b, n, API_INVALID_NPY, (int64_t)l.data[2],
                        "npz member 'h.npy': not an .npy file: the member must start with");
    expect_chunking_invariant(b, n, 20, "bad magic");

    n = read_fixture("stored.npz", b);
    memcpy(b + l.data[0] + 21, "|f4", 3); /* w's descr '<f4' */
    fix_crc(b, &l, 0);
    expect_status(b, n, API_INVALID_NPY, (int64_t)l.data[0] + 20,
                  "npz member 'w.npy': unsupported .npy dtype '|f4'");
    (void)err;
}

/* An archive of one member written in form f. */
static void one_member(struct npzw *w, const char *name, const void *npy, size_t len,
                       const struct npzw_form *f)
{
    npzw_init(w);
    npzw_member(w, name, strlen(name), npy, len, f);
    npzw_finish(w, false, NULL);
}

Test(npz_decode, member_length_errors)
{
    const float v[3] = {1.0f, 2.0f, 3.0f};
    size_t len;
    unsigned char *npy = npzw_npy("<f4", "(3,)", v, sizeof v, &len);
    struct npzw w;
    struct api_error err;

    for (int deflate = 0; deflate < 2; deflate++) {
        struct npzw_form f = {.deflate = deflate != 0};
        uint64_t data_off = 30 + 5;

        npy[len] = 0;
        one_member(&w, "x.npy", npy, len + 1, &f); /* one byte more than the header says */
        err = expect_status(w.b, w.n, API_INVALID_LENGTH,
                            (int64_t)(deflate ? data_off : data_off + len),
                            "npz member 'x.npy': the .npy member is longer than its header");
        if (deflate)
            cr_assert_not_null(strstr(err.detail, "(byte 140 of the inflated member)"), "%s",
                               err.detail);
        expect_chunking_invariant(w.b, w.n, 20, "longer");
        npzw_free(&w);
        one_member(&w, "x.npy", npy, len - 1, &f);
        err = expect_status(w.b, w.n, API_INVALID_LENGTH,
                            (int64_t)(deflate ? data_off : data_off + len - 1),
                            "npz member 'x.npy': the .npy member is shorter than its header");
        expect_chunking_invariant(w.b, w.n, 20, "shorter");
        npzw_free(&w);
        f.descriptor = true; /* the member ends where the .npy says (stored) */
        one_member(&w, "x.npy", npy, len - 1, &f);
        expect_status(w.b, w.n, deflate ? API_INVALID_LENGTH : API_INVALID_NPZ,
                      deflate ? (int64_t)data_off : ANY_OFFSET, NULL);
        npzw_free(&w);
    }
    free(npy);
}

/* ---- every zip form ------------------------------------------------------- */

/* Writes a.npy (<f4 1 2 3), b.npy (>f8 0.5 -4), i.npy (<i4, skipped) and,
 * where its end can be found, o.npy (a pickled object array, skipped) in
 * form f: sum of squares 30.25 over 5 elements. */
static void four_members(struct npzw *w, const struct npzw_form *f, bool zip64_end,
                         const char *comment)
{
    const float a[3] = {1.0f, 2.0f, 3.0f};
    const unsigned char b[16] = {0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0xc0, 0x10, 0, 0, 0, 0, 0, 0};
    const int32_t i[2] = {7, -7};
    unsigned char *npy;
    size_t len;

    npzw_init(w);
    npy = npzw_npy("<f4", "(3,)", a, sizeof a, &len);
    npzw_member(w, "a.npy", 5, npy, len, f);
    free(npy);
    npy = npzw_npy(">f8", "(2,)", b, sizeof b, &len);
    npzw_member(w, "b.npy", 5, npy, len, f);
    free(npy);
    npy = npzw_npy("<i4", "(2,)", i, sizeof i, &len);
    npzw_member(w, "i.npy", 5, npy, len, f);
    free(npy);
    if (f->deflate || !f->descriptor) {
        npy = npzw_npy("|O", "(1,)", "\x80\x04N.", 4, &len);
        npzw_member(w, "o.npy", 5, npy, len, f);
        free(npy);
    }
    npzw_finish(w, zip64_end, comment);
}

static void expect_four(const struct api_result *res, bool with_object)
{
    double s;

    cr_assert_eq(res->n_tensors, with_object ? 4 : 3);
    cr_assert_str_eq(res->tensors[0].name, "a");
    cr_assert_str_eq(res->tensors[1].name, "b");
    cr_assert_str_eq(res->tensors[2].skipped, "<i4");
    if (with_object)
        cr_assert_str_eq(res->tensors[3].skipped, "|O");
    cr_assert_eq(res->tensors[0].sum_squares, 14.0);
    cr_assert_eq(res->tensors[1].sum_squares, 16.25);
    cr_assert_eq(res->tensors[1].dtype, L2_DTYPE_FLOAT64);
    cr_assert_eq(res->total.count, 5);
    cr_assert_eq(l2_accum_sum(&res->total, &s), L2_OK);
    cr_assert_eq(s, 30.25);
    cr_assert_eq(res->dtype, L2_DTYPE_FLOAT64, "float32 and float64 members");
}

Test(npz_decode, every_zip_form)
{
    static const struct npzw_form forms[] = {
        {0},
        {.deflate = true},
        {.descriptor = true},
        {.descriptor = true, .desc_nosig = true},
        {.descriptor = true, .zip64 = true},
        {.descriptor = true, .desc_nosig = true, .zip64 = true},
        {.deflate = true, .descriptor = true},
        {.deflate = true, .descriptor = true, .desc_nosig = true},
        {.deflate = true, .descriptor = true, .zip64 = true},
        {.deflate = true, .descriptor = true, .desc_nosig = true, .zip64 = true},
        {.zip64 = true},
        {.zip64 = true, .local_ff = true},
        {.central_ff = true},
        {.deflate = true, .zip64 = true, .local_ff = true, .central_ff = true},
        {.flags = 0x0800},
        {.deflate = true, .flags = 0x0006}, /* deflate option bits: ignored */
    };

    for (size_t k = 0; k < N_OF(forms); k++) {
        for (int end = 0; end < 3; end++) {
            struct npzw w;
            struct api_result res;
            struct api_error err;
            char what[64];

            four_members(&w, &forms[k], end == 1, end == 2 ? "a comment" : NULL);
            snprintf(what, sizeof what, "form %zu end %d", k, end);
            cr_assert_eq(decode(w.b, w.n, WHOLE, 0, &res, &err), API_OK, "%s: %s", what,
                         err.detail);
            expect_four(&res, forms[k].deflate || !forms[k].descriptor);
            api_result_free(&res);
            expect_chunking_invariant(w.b, w.n, 20, what);
            npzw_free(&w);
        }
    }
}

Test(npz_decode, zip_form_errors)
{
    const float a[1] = {2.0f};
    size_t len, clen;
    unsigned char *npy = npzw_npy("<f4", "(1,)", a, sizeof a, &len);
    unsigned char *packed = npzw_deflate(npy, len, &clen);
    unsigned char bad[256];
    struct npzw w;

    /* 0xffffffff sizes without a zip64 field */
    one_member(&w, "a.npy", npy, len, &(struct npzw_form){.local_ff = true});
    expect_status(w.b, w.n, API_INVALID_NPZ, 18, "no zip64 extra field");
    npzw_free(&w);
    /* the zip64 end record or locator wrong */
    four_members(&w, &(struct npzw_form){0}, true, NULL);
    {
        size_t z64 = w.n - 22 - 20 - 56;

        w.b[z64 + 32] ^= 1;
        expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)z64 + 24, "the zip64 end record counts");
        w.b[z64 + 32] ^= 1;
        w.b[z64 + 48] ^= 1;
        expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)z64 + 48, "puts the central directory");
        w.b[z64 + 48] ^= 1;
        w.b[z64 + 56 + 8] ^= 1;
        expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)z64 + 64, "the zip64 locator puts");
        w.b[z64 + 56 + 8] ^= 1;
        w.b[z64 + 56] = 'X';
        expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)z64 + 56, "the zip64 end locator");
    }
    npzw_free(&w);
    /* a stored member with a descriptor whose size the .npy header does not give */
    four_members(&w, &(struct npzw_form){.descriptor = true}, false, NULL);
    npzw_free(&w);
    {
        size_t olen;
        unsigned char *obj = npzw_npy("|O", "(1,)", "\x80\x04N.", 4, &olen);

        one_member(&w, "o.npy", obj, olen, &(struct npzw_form){.descriptor = true});
        expect_status(w.b, w.n, API_INVALID_NPZ, 6, "its end cannot be found");
        npzw_free(&w);
        free(obj);
    }
    /* a descriptor with a wrong CRC, then with wrong sizes */
    one_member(&w, "a.npy", npy, len, &(struct npzw_form){.descriptor = true});
    w.b[35 + len + 4] ^= 1;
    expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)(35 + len + 4),
                  "CRC-32 mismatch in npz member 'a.npy': the data descriptor says");
    w.b[35 + len + 4] ^= 1;
    w.b[35 + len + 8] ^= 1;
    expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)(35 + len + 8),
                  "the data descriptor of npz member 'a.npy' does not give its sizes");
    npzw_free(&w);
    /* corrupt deflate data: a reserved block type */
    memset(bad, 0, sizeof bad);
    bad[0] = 0x07;
    one_member(&w, "a.npy", bad, 16, &(struct npzw_form){.method = 8});
    expect_status(w.b, w.n, API_INVALID_NPZ, 35,
                  "npz member 'a.npy': corrupt deflate data (invalid block type)");
    npzw_free(&w);
    /* the deflate stream shorter, then longer, than the compressed size */
    memcpy(bad, packed, clen);
    bad[clen] = 0;
    one_member(&w, "a.npy", bad, clen + 1, &(struct npzw_form){.method = 8});
    expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)(35 + clen), "before the");
    npzw_free(&w);
    one_member(&w, "a.npy", bad, clen - 1, &(struct npzw_form){.method = 8});
    expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)(35 + clen - 1),
                  "end inside its deflate stream");
    npzw_free(&w);
    /* a whole stream, but the local header's uncompressed size is its own length */
    one_member(&w, "a.npy", packed, clen, &(struct npzw_form){.method = 8});
    expect_status(w.b, w.n, API_INVALID_NPZ, 22, "inflates to 132 bytes");
    npzw_free(&w);
    /* stored with sizes that differ */
    one_member(&w, "a.npy", npy, len, &(struct npzw_form){0});
    npzw_put32(w.b + 18, (uint32_t)len + 1);
    expect_status(w.b, w.n, API_INVALID_NPZ, 18, "stored npz member 'a.npy' has a compressed");
    npzw_free(&w);
    /* an extra field that runs past the header's extra data */
    one_member(&w, "a.npy", npy, len, &(struct npzw_form){.zip64 = true});
    w.b[35 + 2] = 17;
    expect_status(w.b, w.n, API_INVALID_NPZ, 35, "runs past the end of the header's extra data");
    npzw_free(&w);
    free(packed);
    free(npy);
}

Test(npz_decode, member_names)
{
    const float a[1] = {2.0f};
    size_t len;
    unsigned char *npy = npzw_npy("<f4", "(1,)", a, sizeof a, &len);
    static char longname[API_NPZ_MAX_MEMBER_NAME + 2];
    struct npzw w;
    struct api_result res;
    struct api_error err;
    static const struct {
        const char *name;
        size_t len;
        uint16_t flags;
        int64_t offset;
        const char *detail;
    } bad[] = {
        {"\xc3\xa9.npy", 6, 0, 30, "is not ASCII and its UTF-8 flag (bit 11) is not set"},
        {"\xff.npy", 5, 0x0800, 30, "member 0's name '?.npy' is not valid UTF-8"},
        {"\xed\xa0\x80.npy", 7, 0x0800, 30, "is not valid UTF-8"}, /* a surrogate */
        {"a\0b.npy", 7, 0, 31, "member 0's name 'a?b.npy' holds a NUL byte"},
        {".npy", 4, 0, 30, "npz member '.npy' is not named NAME.npy"},
        {"a.NPY", 5, 0, 30, "is not named NAME.npy"},
        {"", 0, 0, 26, "member 0 has an empty name"},
    };

    for (size_t i = 0; i < N_OF(bad); i++) {
        npzw_init(&w);
        npzw_member(&w, bad[i].name, bad[i].len, npy, len,
                    &(struct npzw_form){.flags = bad[i].flags});
        npzw_finish(&w, false, NULL);
        expect_status(w.b, w.n, API_INVALID_NPZ, bad[i].offset, bad[i].detail);
        npzw_free(&w);
    }
    /* the longest name: 1024 bytes of tensor name; one more is refused */
    memset(longname, 'n', sizeof longname);
    memcpy(longname + API_MAX_NAME, ".npy", 4);
    npzw_init(&w);
    npzw_member(&w, longname, API_MAX_NAME + 4, npy, len, &(struct npzw_form){0});
    npzw_finish(&w, false, NULL);
    cr_assert_eq(decode(w.b, w.n, RANDOM, 1, &res, &err), API_OK, "%s", err.detail);
    cr_assert_eq(res.tensors[0].name_len, API_MAX_NAME);
    api_result_free(&res);
    npzw_free(&w);
    memcpy(longname + API_MAX_NAME + 1, ".npy", 4);
    npzw_init(&w);
    npzw_member(&w, longname, API_MAX_NAME + 5, npy, len, &(struct npzw_form){0});
    npzw_finish(&w, false, NULL);
    expect_status(w.b, w.n, API_INVALID_NPZ, 26, "has a name of 1029 bytes, longer than 1028");
    npzw_free(&w);
    /* a UTF-8 name with flag bit 11 is the tensor's name; the detail cuts it */
    npzw_init(&w);
    npzw_member(&w, "\xe2\x82\xac.npy", 7, npy, len, &(struct npzw_form){.flags = 0x0800});
    npzw_finish(&w, false, NULL);
    cr_assert_eq(decode(w.b, w.n, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
    cr_assert_str_eq(res.tensors[0].name, "\xe2\x82\xac");
    api_result_free(&res);
    npzw_free(&w);
    free(npy);
}

Test(npz_decode, member_count_limit)
{
    const float a[1] = {0.5f};
    size_t len;
    unsigned char *npy = npzw_npy("<f4", "(1,)", a, sizeof a, &len);
    struct npzw w;
    struct api_result res;
    struct api_error err;
    uint64_t last = 0;
    double s;

    for (int extra = 0; extra < 2; extra++) {
        npzw_init(&w);
        for (int i = 0; i < API_MAX_TENSORS + extra; i++) {
            char name[32];
            int nl = snprintf(name, sizeof name, "t%d.npy", i);

            if (i == API_MAX_TENSORS)
                last = w.n;
            npzw_member(&w, name, (size_t)nl, npy, len, &(struct npzw_form){0});
        }
        npzw_finish(&w, false, NULL);
        if (extra == 0) {
            cr_assert_eq(decode(w.b, w.n, WHOLE, 0, &res, &err), API_OK, "%s", err.detail);
            cr_assert_eq(res.n_tensors, API_MAX_TENSORS);
            cr_assert_eq(l2_accum_sum(&res.total, &s), L2_OK);
            cr_assert_eq(s, 2500.0);
            api_result_free(&res);
        } else {
            expect_status(w.b, w.n, API_INVALID_NPZ, (int64_t)last,
                          "the archive has more than 10000 members");
        }
        npzw_free(&w);
    }
    free(npy);
}

Test(npz_decode, skipped_dtypes)
{
    static const struct {
        const char *descr;
        size_t itemsize;
    } ok[] = {
        {"<i8", 8},       {"|b1", 1},  {"|u1", 1}, {">i2", 2}, {"<c16", 16},
        {"<f16", 16},     {"<U5", 20}, {"|S3", 3}, {"|V8", 8}, {"<M8[ns]", 8},
        {"<m8[10us]", 8}, {"<M8", 8},  {"=i4", 4}, {"|S0", 0},
    };
    static const char *const refused[] = {"|f4",    "<x4", "<i",   "<M4",
                                          "<M8[ns", "i8",  "<i8 ", "<U99999999999999999999"};
    unsigned char data[64] = {0};
    struct npzw w;

    for (size_t i = 0; i < N_OF(ok); i++) {
        for (int deflate = 0; deflate < 2; deflate++) {
            size_t len;
            unsigned char *npy = npzw_npy(ok[i].descr, "(2,)", data, 2 * ok[i].itemsize, &len);
            struct api_result res;
            struct api_error err;

            /* with a descriptor: the member ends where its header says */
            one_member(&w, "x.npy", npy, len,
                       &(struct npzw_form){.deflate = deflate != 0, .descriptor = true});
            cr_assert_eq(decode(w.b, w.n, BYTES, 0, &res, &err), API_OK, "%s: %s", ok[i].descr,
                         err.detail);
            cr_assert_str_eq(res.tensors[0].skipped, ok[i].descr);
            cr_assert_eq(res.total.count, 0);
            api_result_free(&res);
            npzw_free(&w);
            free(npy);
        }
    }
    for (size_t i = 0; i < N_OF(refused); i++) {
        size_t len;
        unsigned char *npy = npzw_npy(refused[i], "(2,)", data, 8, &len);

        one_member(&w, "x.npy", npy, len, &(struct npzw_form){0});
        expect_status(w.b, w.n, API_INVALID_NPY, 35 + 20, "npz member 'x.npy': unsupported");
        npzw_free(&w);
        free(npy);
    }
    /* a structured dtype, skipped to the member's end */
    {
        size_t len;
        unsigned char *npy =
            npzw_npy("[('a', '<i4'), ('b', [('c', '<f8')], (2,))]", "(1,)", data, 20, &len);
        struct api_result res;
        struct api_error err;

        one_member(&w, "s.npy", npy, len, &(struct npzw_form){.deflate = true});
        cr_assert_eq(decode(w.b, w.n, RANDOM, 3, &res, &err), API_OK, "%s", err.detail);
        cr_assert_str_eq(res.tensors[0].skipped, "[('a', '<i4'), ('b', [('c', '<f8')], (2,))]");
        api_result_free(&res);
        npzw_free(&w);
        free(npy);
    }
}

Test(npz_decode, deflated_member_errors_located_at_its_data)
{
    size_t len;
    float v[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    unsigned char *npy;
    struct npzw w;
    struct api_error err;

    v[2] = INFINITY;
    npy = npzw_npy("<f4", "(2, 2)", v, sizeof v, &len);
    for (int desc = 0; desc < 2; desc++) {
        one_member(&w, "d.npy", npy, len,
                   &(struct npzw_form){.deflate = true, .descriptor = desc != 0});
        err = expect_status(w.b, w.n, API_NON_FINITE, -1,
                            "element 2 of npz member 'd.npy' is not finite");
        cr_assert_eq(err.index, 2);
        expect_chunking_invariant(w.b, w.n, 50, "inf in a deflated member");
        npzw_free(&w);
    }
    npy[0] = 'X';
    one_member(&w, "d.npy", npy, len, &(struct npzw_form){.deflate = true});
    expect_status(w.b, w.n, API_INVALID_NPY, 35,
                  "npz member 'd.npy': not an .npy file: the member must start with \\x93NUMPY "
                  "(byte 0 of the inflated member)");
    npzw_free(&w);
    free(npy);
}

/* A deflated member is bounded like a gzip body: what it inflates to counts
 * against the body's limit (a small archive of zeros is no bomb). */
Test(npz_decode, inflated_members_are_bounded)
{
    size_t n = (size_t)8 << 20, npy_len;
    float *zeros = calloc(n / 4, sizeof *zeros);
    unsigned char *npy = npzw_npy("<f4", "(2097152,)", zeros, n, &npy_len);
    struct npzw_form form = {.deflate = true};
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, NULL};
    struct api_body *body;
    struct api_error err;
    struct npzw w;

    npzw_init(&w);
    npzw_member(&w, "w.npy", 5, npy, npy_len, &form);
    npzw_finish(&w, false, NULL);
    cr_assert_lt(w.n, 64 * 1024);
    api_error_init(&err);
    cr_assert_eq(api_body_new(API_FORMAT_NPZ, &opts, API_ENCODING_IDENTITY, 1u << 20, &body, &err),
                 API_OK);
    cr_assert_eq(api_body_feed(body, w.b, w.n), API_PAYLOAD_TOO_LARGE);
    cr_assert_str_eq(api_body_error(body)->detail,
                     "the deflated members of the .npz inflate to more than the limit of 1048576 "
                     "bytes");
    api_body_free(body);
    /* within the limit it is summed */
    cr_assert_eq(api_body_new(API_FORMAT_NPZ, &opts, API_ENCODING_IDENTITY, n + 4096, &body, &err),
                 API_OK);
    cr_assert_eq(api_body_feed(body, w.b, w.n), API_OK);
    cr_assert_eq(api_body_finish(body), API_OK, "%s", api_body_error(body)->detail);
    cr_assert_eq(api_body_result(body)->total.count, n / 4);
    api_body_free(body);
    npzw_free(&w);
    free(npy);
    free(zeros);
}

/* ?nonfinite=count: NaN and infinities of stored and deflated members are
 * counted per member and in the total, left out of the sums. */
Test(npz_decode, nonfinite_count)
{
    const float a[3] = {2.0f, 0.0f, 0.0f};
    const double d[2] = {-3.0, 0.0};
    float an[3];
    double dn[2];
    size_t la, ld;
    struct npzw w;

    memcpy(an, a, sizeof a);
    memcpy(&an[1], &(uint32_t){0x7fc00000u}, 4); /* NaN */
    memcpy(&an[2], &(uint32_t){0xff800000u}, 4); /* -inf */
    memcpy(dn, d, sizeof d);
    memcpy(&dn[1], &(uint64_t){0x7ff0000000000000u}, 8); /* +inf */
    unsigned char *npy_a = npzw_npy("<f4", "(3,)", an, sizeof an, &la);
    unsigned char *npy_d = npzw_npy("<f8", "(2,)", dn, sizeof dn, &ld);
    npzw_init(&w);
    npzw_member(&w, "a.npy", 5, npy_a, la, &(struct npzw_form){0});
    npzw_member(&w, "d.npy", 5, npy_d, ld, &(struct npzw_form){.deflate = true});
    npzw_finish(&w, false, NULL);
    for (uint64_t seed = 0; seed < 50; seed++) {
        struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, true, 0, NULL};
        struct api_result res;
        struct api_error err;
        double sum;

        cr_assert_eq(decode_chunked(&api_npz_ops, &opts, w.b, w.n, seed ? RANDOM : WHOLE, seed, 7,
                                    &res, &err),
                     API_OK, "%s", err.detail);
        cr_assert_eq(l2_accum_sum(&res.total, &sum), L2_OK);
        cr_assert_eq(sum, 13.0);
        cr_assert_eq(res.total.count, 5);
        cr_assert_eq(res.total.nan_count, 1);
        cr_assert_eq(res.total.inf_count, 2);
        cr_assert_eq(res.total.max_abs, 3.0);
        cr_assert_eq(res.n_tensors, 2);
        cr_assert_eq(res.tensors[0].nan_count, 1);
        cr_assert_eq(res.tensors[0].inf_count, 1);
        cr_assert_eq(res.tensors[1].inf_count, 1);
        api_result_free(&res);
    }
    npzw_free(&w);
    free(npy_d);
    free(npy_a);
}
