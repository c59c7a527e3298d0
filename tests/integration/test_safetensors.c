/* test_safetensors.c -- application/x-safetensors bodies against the real
 * binary: a 1 GiB checkpoint of float32 and float16 tensors streamed from a
 * read callback (exact answer; the server's peak RSS must stay under
 * 16 MiB), small files end to end (totals and tensor names, /regularize,
 * chunked uploads), and refusals as problem+json with their offset. The
 * files are written here as the reference writer writes them: header JSON
 * padded with spaces to 8 bytes, tensors by dtype alignment then name. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"

#define ST_TYPE "application/x-safetensors"

static struct it_server srv;

static void start_default(void)
{
    it_setup();
    it_start(&srv, NULL, NULL);
}

TestSuite(safetensors, .init = start_default, .fini = it_teardown, .timeout = 60);
TestSuite(safetensors_big, .init = it_setup, .fini = it_teardown, .timeout = 240);

/* A file from a header text (padded with spaces to a multiple of 8) and
 * data; malloc'd, length in *len. */
static unsigned char *st_file(const char *header, const void *data, size_t data_len, size_t *len)
{
    size_t hl = strlen(header);
    size_t padded = (hl + 7) / 8 * 8;
    unsigned char *b = malloc(8 + padded + data_len + 1);

    cr_assert_not_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(b + 8, header, hl);
    memset(b + 8 + hl, ' ', padded - hl);
    if (data_len > 0)
        memcpy(b + 8 + padded, data, data_len);
    *len = 8 + padded + data_len;
    return b;
}

/* A skipped tensor is listed: under "skipped" (API.md) or, while the
 * response encoder does not know skipped entries, under "tensors". */
static bool listed(const json_t *j, const char *name)
{
    return json_object_get(json_object_get(j, "skipped"), name) != NULL ||
           json_object_get(json_object_get(j, "tensors"), name) != NULL;
}

/* --- 1 GiB ---------------------------------------------------------------- */

#define GIB (1ull << 30)
#define RSS_LIMIT_KIB (16 * 1024)

Test(safetensors_big, one_gib_checkpoint_in_constant_memory)
{
    const char *args[] = {"--max-body-bytes", "2147483648", "--timeout", "120", NULL};
    /* 1, 2, 0.5, -3 (squares sum to 14.25), as float32 and float16, in
     * blocks of 64 KiB so that each copy is large. */
    static const float f32[4] = {1.0f, 2.0f, 0.5f, -3.0f};
    static const uint16_t f16[4] = {0x3c00, 0x4000, 0x3800, 0xc200};
    static const int64_t step[1] = {12345};
    unsigned char *p32 = malloc(65536), *p16 = malloc(65536);
    char header[1024];
    const uint64_t q = 256ull << 20; /* each float tensor: 256 MiB */
    size_t len;

    cr_assert(p32 != NULL && p16 != NULL);
    for (size_t i = 0; i < 65536; i += 16)
        memcpy(p32 + i, f32, 16);
    for (size_t i = 0; i < 65536; i += 8)
        memcpy(p16 + i, f16, 8);
    /* The writer's order: I64, then F32 by name, then F16 by name. */
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"step\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
             "\"layer1/weight\":{\"dtype\":\"F32\",\"shape\":[8192,8192],"
             "\"data_offsets\":[8,%llu]},"
             "\"layer2/weight\":{\"dtype\":\"F32\",\"shape\":[8192,8192],"
             "\"data_offsets\":[%llu,%llu]},"
             "\"layer3/weight\":{\"dtype\":\"F16\",\"shape\":[8192,16384],"
             "\"data_offsets\":[%llu,%llu]},"
             "\"layer4/weight\":{\"dtype\":\"F16\",\"shape\":[8192,16384],"
             "\"data_offsets\":[%llu,%llu]}}",
             (unsigned long long)(8 + q), (unsigned long long)(8 + q),
             (unsigned long long)(8 + 2 * q), (unsigned long long)(8 + 2 * q),
             (unsigned long long)(8 + 3 * q), (unsigned long long)(8 + 3 * q),
             (unsigned long long)(8 + 4 * q));
    unsigned char *head = st_file(header, NULL, 0, &len);

    struct it_segments *src = calloc(1, sizeof *src);
    cr_assert_not_null(src);
    src->seg[0] = (struct it_segment){head, len, len};
    src->seg[1] = (struct it_segment){(const unsigned char *)step, 8, 8};
    src->seg[2] = (struct it_segment){p32, 65536, q};
    src->seg[3] = (struct it_segment){p32, 65536, q};
    src->seg[4] = (struct it_segment){p16, 65536, q};
    src->seg[5] = (struct it_segment){p16, 65536, q};
    src->nseg = 6;
    src->total = len + 8 + 4 * q;

    it_start(&srv, args, NULL);
    struct it_request req = {.method = "POST",
                             .target = "/l2_loss",
                             .content_type = ST_TYPE,
                             .read_fn = it_read_segments,
                             .read_ctx = src,
                             .read_size = (long long)src->total,
                             .timeout_s = 200};
    struct it_response r;
    int64_t t0 = it_now_ms();
    it_http(NULL, srv.port, &req, &r);
    int64_t ms = it_now_ms() - t0;
    long hwm = it_vmhwm_kib(&srv);

    cr_assert_eq(src->sent, src->total, "sent %llu bytes", (unsigned long long)src->sent);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    /* float32 tensors: 2^24 blocks of 14.25; float16 ones: 2^25 blocks */
    const double ss32 = (double)(1 << 24) * 14.25, ss16 = (double)(1 << 25) * 14.25;
    const double total = 2 * ss32 + 2 * ss16;
    json_t *j = it_json(&r);
    it_expect_result(j, total / 2, total, 2ll * (64ll << 20) + 2ll * (128ll << 20));
    json_t *t = json_object_get(j, "tensors");
    cr_assert(json_is_object(t));
    it_expect_result(json_object_get(t, "layer1/weight"), ss32 / 2, ss32, 64ll << 20);
    it_expect_result(json_object_get(t, "layer4/weight"), ss16 / 2, ss16, 128ll << 20);
    cr_assert(listed(j, "step"), "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    free(src);
    free(head);
    free(p32);
    free(p16);

    cr_log_info("1 GiB safetensors upload: %lld ms, server VmHWM %ld KiB (%.1f MiB)", (long long)ms,
                hwm, (double)hwm / 1024.0);
    fprintf(stderr, "l2d 1 GiB safetensors upload: server VmHWM = %ld kB (%.1f MiB), %lld ms\n",
            hwm, (double)hwm / 1024.0, (long long)ms);
    cr_assert(hwm > 0, "could not read VmHWM of pid %d", (int)srv.pid);
    cr_assert(hwm < RSS_LIMIT_KIB, "peak RSS %ld KiB is over 16 MiB", hwm);
}

/* --- small files end to end -------------------------------------------------- */

/* dense/bias F32 [1] = {1}; dense/kernel F32 [2, 2] = {1, 2, 3, 4}; ids I64
 * [2] (skipped); emb BF16 [2] = {0.5, -1.5}. */
static unsigned char *small_file(size_t *len)
{
    static const char header[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
        "\"dense/bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
        "\"dense/kernel\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[20,36]},"
        "\"emb\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[36,40]}}";
    unsigned char data[40];
    const int64_t ids[2] = {7, -1};
    const float bias = 1.0f, kernel[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    const uint16_t emb[2] = {0x3f00, 0xbfc0};

    memcpy(data, ids, 16);
    memcpy(data + 16, &bias, 4);
    memcpy(data + 20, kernel, 16);
    memcpy(data + 36, emb, 4);
    return st_file(header, data, sizeof data, len);
}

/* sum of squares: 1 + 30 + 0.25 + 2.25 = 33.5 over 7 elements */
static void expect_small_answer(const struct it_response *r, double scale)
{
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *j = it_json(r);
    it_expect_result(j, scale * 16.75, 33.5, 7);
    json_t *t = json_object_get(j, "tensors");
    cr_assert(json_is_object(t));
    it_expect_result(json_object_get(t, "dense/kernel"), scale * 15.0, 30.0, 4);
    it_expect_result(json_object_get(t, "dense/bias"), scale * 0.5, 1.0, 1);
    it_expect_result(json_object_get(t, "emb"), scale * 1.25, 2.5, 2);
    cr_assert(listed(j, "ids"), "%s", r->body);
    /* in the order of the data */
    const char *keys[3] = {"dense/bias", "dense/kernel", "emb"};
    const char *at = r->body;
    for (int i = 0; i < 3; i++) {
        char quoted[32];
        snprintf(quoted, sizeof quoted, "\"%s\": {", keys[i]);
        const char *p = strstr(at, quoted);
        cr_assert_not_null(p, "%s not after the previous tensor in %s", keys[i], r->body);
        at = p;
    }
    json_decref(j);
}

Test(safetensors, small_checkpoint_exact)
{
    size_t len;
    unsigned char *b = small_file(&len);
    struct it_response r;

    it_post(srv.port, "/l2_loss", ST_TYPE, b, len, &r);
    expect_small_answer(&r, 1.0);
    it_response_free(&r);
    it_post(srv.port, "/l2_loss", "Application/X-Safetensors; charset=binary", b, len, &r);
    expect_small_answer(&r, 1.0);
    it_response_free(&r);
    free(b);
}

Test(safetensors, regularize)
{
    size_t len;
    unsigned char *b = small_file(&len);
    struct it_response r;

    it_post(srv.port, "/regularize?scale=0.5", ST_TYPE, b, len, &r);
    expect_small_answer(&r, 0.5);
    it_response_free(&r);
    free(b);
}

Test(safetensors, chunked_upload_in_small_pieces)
{
    size_t len;
    unsigned char *b = small_file(&len);

    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct it_chunks c = {(const char *)b, len, 0, 7, seed};
        struct it_request req = {.method = "POST",
                                 .target = "/l2_loss",
                                 .content_type = ST_TYPE,
                                 .read_fn = it_read_chunks,
                                 .read_ctx = &c,
                                 .read_size = -1};
        struct it_response r;

        it_http(NULL, srv.port, &req, &r);
        expect_small_answer(&r, 1.0);
        it_response_free(&r);
    }
    free(b);
}

Test(safetensors, empty_checkpoint)
{
    size_t len;
    unsigned char *b = st_file("{}", NULL, 0, &len);
    struct it_response r;

    it_post(srv.port, "/l2_loss", ST_TYPE, b, len, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_result(j, 0.0, 0.0, 0);
    cr_assert(json_is_object(json_object_get(j, "tensors")));
    cr_assert_eq(json_object_size(json_object_get(j, "tensors")), 0);
    json_decref(j);
    it_response_free(&r);
    free(b);
}

/* --- refusals ----------------------------------------------------------------- */

static json_t *post_problem(const char *target, const void *body, size_t len, long status,
                            const char *code)
{
    struct it_response r;
    it_post(srv.port, target, ST_TYPE, body, len, &r);
    json_t *j = it_expect_problem(&r, status, code);
    it_response_free(&r);
    return j;
}

Test(safetensors, refusals_with_offset)
{
    size_t len;
    unsigned char *b = small_file(&len);
    unsigned char *longer = malloc(len + 4);
    json_t *j;

    /* trailing bytes: at the first extra byte */
    memcpy(longer, b, len);
    memset(longer + len, 0, 4);
    j = post_problem("/l2_loss", longer, len + 4, 400, "invalid_safetensors");
    it_expect_int(j, "offset", (long long)len);
    json_decref(j);
    /* truncated: at the body's end */
    j = post_problem("/l2_loss", b, len - 3, 400, "invalid_safetensors");
    it_expect_int(j, "offset", (long long)(len - 3));
    cr_assert_not_null(strstr(json_string_value(json_object_get(j, "detail")), "'emb'"));
    json_decref(j);
    /* shorter than the 8-byte length */
    j = post_problem("/l2_loss", b, 5, 400, "invalid_safetensors");
    it_expect_int(j, "offset", 5);
    json_decref(j);
    /* a header length over the limit: at 0 */
    memcpy(longer, b, len);
    longer[3] = 0x10; /* + 256 MiB */
    j = post_problem("/l2_loss", longer, len, 400, "invalid_safetensors");
    it_expect_int(j, "offset", 0);
    json_decref(j);
    /* a dtype query parameter */
    j = post_problem("/l2_loss?dtype=float32", b, len, 400, "invalid_safetensors");
    cr_assert_not_null(strstr(json_string_value(json_object_get(j, "detail")), "dtype"));
    json_decref(j);
    free(longer);
    free(b);

    /* header content: an unknown dtype, a hole */
    b = st_file("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}",
                "0123456789abcdef", 16, &len);
    j = post_problem("/l2_loss", b, len, 400, "invalid_safetensors");
    it_expect_int(j, "offset", 8);
    cr_assert_not_null(strstr(json_string_value(json_object_get(j, "detail")), "F128"));
    json_decref(j);
    free(b);
    b = st_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "01234567", 8,
                &len);
    j = post_problem("/l2_loss", b, len, 400, "invalid_safetensors");
    it_expect_int(j, "offset", 8);
    json_decref(j);
    free(b);
}

Test(safetensors, non_finite_names_its_tensor)
{
    const float w[3] = {1.0f, INFINITY, 2.0f};
    size_t len;
    unsigned char *b =
        st_file("{\"layer/w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", w,
                sizeof w, &len);
    json_t *j = post_problem("/l2_loss", b, len, 400, "non_finite");

    it_expect_int(j, "index", 1);
    cr_assert_not_null(strstr(json_string_value(json_object_get(j, "detail")), "'layer/w'"));
    json_decref(j);
    free(b);
}
