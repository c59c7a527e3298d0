/* test_npz.c -- .npz bodies against the real binary: archives numpy wrote
 * (tests/data/npz) under both media types, whole and in random chunks, the
 * answer's totals and tensor names as the encoder prints them, refusals as
 * problem+json, and a 1 GiB stored archive of four float32 members
 * generated on the fly (two with data descriptors, as a pipe gets them)
 * whose server peak RSS must stay under 16 MiB. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <zlib.h>

#include "harness.h"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(npz, .init = start_default, .fini = it_teardown, .timeout = 60);
TestSuite(npz_big, .init = it_setup, .fini = it_teardown, .timeout = 240);

/* tests/data/npz/<name>, malloc'd; *len its length. */
static char *fixture(const char *name, size_t *len)
{
    char path[256];
    FILE *f;
    char *b = malloc(1 << 16);

    cr_assert_not_null(b);
    snprintf(path, sizeof path, "tests/data/npz/%s", name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s (run from the repository root)", path);
    *len = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

/* The members of gen.py's MEMBERS, in archive order. */
static const char *const NAMES[] = {"w",      "dense/bias", "h", "steps",          "mask", "empty",
                                    "scalar", "be16",       "c", "poids_\xc3\xa9", "be32"};
/* The exact total over them (the unit tests check it against MPFR). */
#define MEMBERS_SUM 0x1.e3a6e6e77380bp+895
#define MEMBERS_COUNT 46

/* Asserts r is the answer for gen.py's MEMBERS: totals, and one entry per
 * member in archive order. */
static void expect_members(const struct it_response *r)
{
    json_t *j, *tensors, *skipped;
    const char *key;
    json_t *value;
    size_t i = 0;

    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    j = it_json(r);
    it_expect_real(j, "loss", MEMBERS_SUM / 2);
    it_expect_real(j, "sum_squares", MEMBERS_SUM);
    it_expect_int(j, "count", MEMBERS_COUNT);
    /* the root of the exact sum, within one ulp of the root of the rounded one */
    double norm = json_real_value(json_object_get(j, "norm"));
    cr_assert(fabs(norm - sqrt(MEMBERS_SUM)) <= nextafter(norm, INFINITY) - norm, "norm %a", norm);
    tensors = json_object_get(j, "tensors");
    skipped = json_object_get(j, "skipped");
    cr_assert(json_is_object(tensors), "%s", r->body);
    cr_assert(json_is_object(skipped), "%s", r->body);
    cr_assert_eq(json_object_size(tensors) + json_object_size(skipped), 11, "%s", r->body);
    /* every member in archive order, summed ones under tensors, the others
     * (integers, bool, complex) under skipped with numpy's code */
    for (i = 0; i < 11; i++) {
        value = json_object_get(tensors, NAMES[i]);
        if (value == NULL)
            cr_assert(json_is_string(json_object_get(skipped, NAMES[i])), "member %s", NAMES[i]);
    }
    i = 0;
    json_object_foreach(tensors, key, value)
    {
        while (json_object_get(skipped, NAMES[i]) != NULL)
            i++;
        cr_assert_str_eq(key, NAMES[i], "tensor %zu", i);
        i++;
    }
    it_expect_real(json_object_get(tensors, "scalar"), "sum_squares", MEMBERS_SUM);
    it_expect_int(json_object_get(tensors, "w"), "count", 15);
    json_decref(j);
}

Test(npz, numpy_files_under_both_media_types)
{
    static const char *const files[] = {"stored.npz", "deflate.npz", "stored_pipe.npz",
                                        "deflate_pipe.npz"};

    for (size_t f = 0; f < 4; f++) {
        size_t len;
        char *b = fixture(files[f], &len);
        struct it_response r;

        it_post(srv.port, "/l2_loss", f % 2 ? "application/zip" : "application/x-npz", b, len, &r);
        expect_members(&r);
        it_response_free(&r);
        it_post(srv.port, "/regularize?scale=0.5", "Application/X-NPZ; x=1", b, len, &r);
        cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
        it_response_free(&r);
        free(b);
    }
}

Test(npz, random_chunks_same_answer)
{
    size_t len;
    char *b = fixture("tiled_pipe.npz", &len);
    struct it_response whole, chunked;
    struct it_chunks src = {b, len, 0, 97, 0x9e3779b97f4a7c15ull};
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = "application/x-npz",
                             .read_fn = it_read_chunks,
                             .read_ctx = &src,
                             .read_size = -1};

    it_post(srv.port, "/l2_loss", "application/x-npz", b, len, &whole);
    it_http(NULL, srv.port, &req, &chunked);
    cr_assert_eq(whole.status, 200, "%ld %s", whole.status, whole.body);
    cr_assert_eq(chunked.status, 200, "%ld %s", chunked.status, chunked.body);
    cr_assert_str_eq(chunked.body, whole.body);
    {
        json_t *j = it_json(&whole);

        it_expect_result(j, 0x1.ca0c1b4b1c50ep+264, 0x1.ca0c1b4b1c50ep+265, 64000);
        json_decref(j);
    }
    it_response_free(&whole);
    it_response_free(&chunked);
    free(b);
}

Test(npz, refusals_as_problems)
{
    size_t len;
    char *b = fixture("stored.npz", &len);
    struct it_response r;
    json_t *j;

    it_post(srv.port, "/l2_loss?dtype=float32", "application/x-npz", b, len, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_npz"));
    it_response_free(&r);

    b[14] ^= 1; /* the first member's CRC */
    it_post(srv.port, "/l2_loss", "application/zip", b, len, &r);
    j = it_expect_problem(&r, 400, "invalid_npz");
    it_expect_int(j, "offset", 14);
    cr_assert_not_null(strstr(json_string_value(json_object_get(j, "detail")),
                              "CRC-32 mismatch in npz member 'w.npy'"));
    json_decref(j);
    it_response_free(&r);
    b[14] ^= 1;

    it_post(srv.port, "/l2_loss", "application/x-npz", b, len - 1, &r);
    j = it_expect_problem(&r, 400, "invalid_npz");
    it_expect_int(j, "offset", (long long)len - 1);
    json_decref(j);
    it_response_free(&r);

    it_post(srv.port, "/l2_loss", "application/x-npz", "[1, 2]", 6, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_npz"));
    it_response_free(&r);
    free(b);

    /* a NaN in a member: non_finite, its index within the member */
    {
        const float v[3] = {1.0f, __builtin_nanf(""), 2.0f};
        size_t npy_len;
        unsigned char *npy = it_npy(1, "<f4", "(3,)", v, sizeof v, &npy_len);
        unsigned char z[512];
        uint32_t crc = (uint32_t)crc32(0, npy, (uInt)npy_len);
        size_t n = 0;

        memcpy(z, "PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00", 14);
        memcpy(z + 14, &crc, 4);
        memcpy(z + 18, &(uint32_t){(uint32_t)npy_len}, 4);
        memcpy(z + 22, &(uint32_t){(uint32_t)npy_len}, 4);
        memcpy(z + 26, "\x05\x00\x00\x00x.npy", 9);
        n = 35;
        memcpy(z + n, npy, npy_len);
        n += npy_len;
        it_post(srv.port, "/l2_loss", "application/x-npz", z, n, &r);
        j = it_expect_problem(&r, 400, "non_finite");
        it_expect_int(j, "index", 1);
        cr_assert_str_eq(json_string_value(json_object_get(j, "detail")),
                         "element 1 of npz member 'x.npy' is not finite (NaN or infinity)");
        json_decref(j);
        it_response_free(&r);
        free(npy);
    }
}

/* --- 1 GiB ---------------------------------------------------------------- */

#define BIG_MEMBERS 4
#define BIG_DATA ((uint64_t)256 << 20) /* data bytes per member */
#define BIG_RSS_LIMIT_KIB (16 * 1024)

/* The archive as a list of pieces: fixed bytes, or the float32 pattern
 * 1, 2, 0.5, -3 (14.25 per 16 bytes). */
struct piece {
    const unsigned char *bytes; /* NULL: the pattern */
    uint64_t len;
};

struct big_src {
    unsigned char block[65536 + 16];
    unsigned char heads[BIG_MEMBERS][30 + 10 + 20 + 128];
    unsigned char descs[BIG_MEMBERS][24];
    unsigned char tail[BIG_MEMBERS * (46 + 10) + 22];
    struct piece pieces[BIG_MEMBERS * 3 + 1];
    size_t n_pieces, at;
    uint64_t in_piece, sent, total;
};

static void put16(unsigned char *p, uint64_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint64_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, v);
    put32(p + 4, v >> 32);
}

/* The CRC-32 of a member: its .npy header, then the pattern. */
static uint32_t member_crc(const unsigned char *npy_head, const unsigned char *block)
{
    uLong crc = crc32(0, npy_head, 128);

    for (uint64_t done = 0; done < BIG_DATA; done += 65536)
        crc = crc32(crc, block, 65536);
    return (uint32_t)crc;
}

/* Lays the archive out: members layer0..3.npy, stored, as np.savez writes
 * them (zip64 extra field); members 1 and 3 with data descriptors. */
static void big_layout(struct big_src *s)
{
    const float vals[4] = {1.0f, 2.0f, 0.5f, -3.0f};
    char shape[64];
    size_t npy_len;
    unsigned char *npy_head;
    unsigned char *t = s->tail;
    uint64_t off = 0, offsets[BIG_MEMBERS];
    uint32_t crc;

    for (size_t i = 0; i < sizeof s->block / 16; i++)
        memcpy(s->block + 16 * i, vals, 16);
    snprintf(shape, sizeof shape, "(%llu,)", (unsigned long long)(BIG_DATA / 4));
    npy_head = it_npy(1, "<f4", shape, NULL, 0, &npy_len);
    cr_assert_eq(npy_len, 128);
    crc = member_crc(npy_head, s->block);
    for (int m = 0; m < BIG_MEMBERS; m++) {
        unsigned char *h = s->heads[m];
        bool desc = m % 2 == 1;
        uint64_t size = 128 + BIG_DATA;

        memset(h, 0, 60);
        put32(h, 0x04034b50);
        put16(h + 4, 20);
        put16(h + 6, desc ? 8 : 0);
        put16(h + 12, 0x21);
        put32(h + 14, desc ? 0 : crc);
        put32(h + 18, desc ? 0 : size);
        put32(h + 22, desc ? 0 : size);
        put16(h + 26, 10);
        put16(h + 28, 20);
        snprintf((char *)h + 30, 11, "layer%d.npy", m);
        put16(h + 40, 1);
        put16(h + 42, 16);
        put64(h + 44, desc ? 0 : size);
        put64(h + 52, desc ? 0 : size);
        memcpy(h + 60, npy_head, 128);
        s->pieces[s->n_pieces++] = (struct piece){h, 60 + 128};
        s->pieces[s->n_pieces++] = (struct piece){NULL, BIG_DATA};
        offsets[m] = off;
        off += 60 + size;
        if (desc) {
            put32(s->descs[m], 0x08074b50);
            put32(s->descs[m] + 4, crc);
            put64(s->descs[m] + 8, size);
            put64(s->descs[m] + 16, size);
            s->pieces[s->n_pieces++] = (struct piece){s->descs[m], 24};
            off += 24;
        }
    }
    for (int m = 0; m < BIG_MEMBERS; m++) {
        memset(t, 0, 46);
        put32(t, 0x02014b50);
        put16(t + 4, 0x0314);
        put16(t + 6, 20);
        put16(t + 8, m % 2 ? 8 : 0);
        put16(t + 14, 0x21);
        put32(t + 16, crc);
        put32(t + 20, 128 + BIG_DATA);
        put32(t + 24, 128 + BIG_DATA);
        put16(t + 28, 10);
        put32(t + 42, offsets[m]);
        snprintf((char *)t + 46, 11, "layer%d.npy", m);
        t += 56;
    }
    memset(t, 0, 22);
    put32(t, 0x06054b50);
    put16(t + 8, BIG_MEMBERS);
    put16(t + 10, BIG_MEMBERS);
    put32(t + 12, BIG_MEMBERS * 56);
    put32(t + 16, off);
    s->pieces[s->n_pieces++] = (struct piece){s->tail, BIG_MEMBERS * 56 + 22};
    s->total = off + BIG_MEMBERS * 56 + 22;
    free(npy_head);
}

static size_t read_big(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct big_src *s = ctx;
    size_t n = size * nitems, done = 0;

    while (done < n && s->at < s->n_pieces) {
        const struct piece *p = &s->pieces[s->at];
        uint64_t left = p->len - s->in_piece;
        size_t k = n - done < left ? n - done : (size_t)left;

        if (p->bytes != NULL) {
            memcpy(buf + done, p->bytes + s->in_piece, k);
        } else {
            if (k > 65536)
                k = 65536;
            memcpy(buf + done, s->block + s->in_piece % 16, k);
        }
        done += k;
        s->in_piece += k;
        if (s->in_piece == p->len) {
            s->at++;
            s->in_piece = 0;
        }
    }
    s->sent += done;
    return done;
}

Test(npz_big, one_gib_stored_npz_in_constant_memory)
{
    const char *args[] = {"--max-body-bytes", "2147483648", "--timeout", "120", NULL};
    struct big_src *src = calloc(1, sizeof *src);
    struct it_response r;
    int64_t t0, ms;
    long hwm;
    json_t *j, *tensors;
    const double per_member = (double)(BIG_DATA / 16) * 14.25;
    const long long count = (long long)(BIG_DATA / 4);

    cr_assert_not_null(src);
    big_layout(src);
    cr_assert_gt(src->total, (uint64_t)1 << 30);
    it_start(&srv, args, NULL);
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = "application/x-npz",
                             .read_fn = read_big,
                             .read_ctx = src,
                             .read_size = (long long)src->total,
                             .timeout_s = 200};
    t0 = it_now_ms();
    it_http(NULL, srv.port, &req, &r);
    ms = it_now_ms() - t0;
    hwm = it_vmhwm_kib(&srv);
    cr_assert_eq(src->sent, src->total);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    j = it_json(&r);
    it_expect_result(j, BIG_MEMBERS * per_member / 2, BIG_MEMBERS * per_member,
                     BIG_MEMBERS * count);
    tensors = json_object_get(j, "tensors");
    for (int m = 0; m < BIG_MEMBERS; m++) {
        char name[16];

        snprintf(name, sizeof name, "layer%d", m);
        it_expect_result(json_object_get(tensors, name), per_member / 2, per_member, count);
    }
    json_decref(j);
    it_response_free(&r);
    free(src);

    cr_log_info("1 GiB stored .npz upload: %lld ms, server VmHWM %ld KiB (%.1f MiB)", (long long)ms,
                hwm, (double)hwm / 1024.0);
    fprintf(stderr, "l2d 1 GiB .npz upload: server VmHWM = %ld kB (%.1f MiB), %lld ms\n", hwm,
            (double)hwm / 1024.0, (long long)ms);
    cr_assert(hwm > 0, "could not read VmHWM of pid %d", (int)srv.pid);
    cr_assert(hwm < BIG_RSS_LIMIT_KIB, "peak RSS %ld KiB is over 16 MiB", hwm);
}
