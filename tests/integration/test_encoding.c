/* test_encoding.c -- Content-Encoding against the real binary: gzip, x-gzip
 * and deflate raw and JSON bodies on both compute endpoints (every format in
 * the unit tests), the order of checks (415 for a coding l2d does not
 * decode), corrupt streams, and a small gzip bomb refused by
 * --max-body-bytes on its decoded size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "tests/support/zcompress.h"

static struct it_server srv;

static void start_limited(void)
{
    static const char *const args[] = {"--max-body-bytes", "67108864", NULL};

    it_setup();
    it_start(&srv, args, NULL);
}

TestSuite(encoding, .init = start_limited, .fini = it_teardown, .timeout = 60);

/* src compressed by zlib at its best: gzip framing or the zlib format of
 * "deflate". */
static unsigned char *squeeze(const void *src, size_t n, bool gzip, size_t *out_len)
{
    return zcompress(src, n, 9, 9, gzip ? ZC_GZIP : ZC_ZLIB, out_len);
}

static void post_coded(const char *target, const char *ct, const char *coding, const void *body,
                       size_t len, struct it_response *r)
{
    char header[128];
    const char *headers[2] = {header, NULL};
    struct it_request req = {.method = "POST",
                             .target = target,
                             .content_type = ct,
                             .body = body,
                             .body_len = len,
                             .headers = headers};
    CURL *easy = curl_easy_init();

    snprintf(header, sizeof header, "Content-Encoding: %s", coding);
    it_http(easy, srv.port, &req, r);
    curl_easy_cleanup(easy);
}

/* np.arange(12, dtype=np.float32): sum of squares 506. */
Test(encoding, gzip_of_a_raw_float32_body)
{
    float v[12];
    size_t clen;

    for (int i = 0; i < 12; i++)
        v[i] = (float)i;
    for (int g = 0; g < 2; g++) {
        unsigned char *c = squeeze(v, sizeof v, g == 0, &clen);
        static const char *const codings[2][2] = {{"gzip", "x-gzip"}, {"deflate", "Deflate"}};

        for (int k = 0; k < 2; k++) {
            struct it_response r;

            post_coded("/l2_loss?dtype=float32", "application/octet-stream", codings[g][k], c, clen,
                       &r);
            cr_assert_eq(r.status, 200, "%s: %ld %s", codings[g][k], r.status, r.body);
            json_t *j = it_json(&r);
            it_expect_result(j, 253.0, 506.0, 12);
            json_decref(j);
            it_response_free(&r);
        }
        free(c);
    }
}

Test(encoding, gzip_json_on_regularize)
{
    static const char js[] = "[[1, 2], [3, 4]]";
    size_t clen;
    unsigned char *c = squeeze(js, sizeof js - 1, true, &clen);
    struct it_response r;

    post_coded("/regularize?scale=0.5", "application/json", "gzip", c, clen, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *j = it_json(&r);
    it_expect_real(j, "loss", 7.5);
    it_expect_real(j, "sum_squares", 30.0);
    json_decref(j);
    it_response_free(&r);
    free(c);
}

Test(encoding, unsupported_codings_are_415)
{
    static const char *const bad[] = {"br", "zstd", "gzip, deflate", "compress"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct it_response r;

        post_coded("/l2_loss", "application/json", bad[i], "[1]", 3, &r);
        json_decref(it_expect_problem(&r, 415, "unsupported_encoding"));
        it_response_free(&r);
    }
    /* identity is no coding */
    struct it_response r;
    post_coded("/l2_loss", "application/json", "identity", "[3, 4]", 6, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    /* the Content-Type is checked first (415 unsupported_media_type) */
    post_coded("/l2_loss", "text/plain", "br", "[1]", 3, &r);
    json_decref(it_expect_problem(&r, 415, "unsupported_media_type"));
    it_response_free(&r);
}

Test(encoding, corrupt_stream_is_invalid_encoding)
{
    float v[256];
    size_t clen;

    for (int i = 0; i < 256; i++)
        v[i] = (float)i;
    unsigned char *c = squeeze(v, sizeof v, true, &clen);
    c[clen - 6] ^= 0xff; /* the CRC-32 in the gzip trailer */
    struct it_response r;
    post_coded("/l2_loss?dtype=float32", "application/octet-stream", "gzip", c, clen, &r);
    json_t *j = it_expect_problem(&r, 400, "invalid_encoding");
    cr_assert_not_null(json_object_get(j, "offset"));
    json_decref(j);
    it_response_free(&r);

    /* a plain body that claims to be gzip */
    post_coded("/l2_loss", "application/json", "gzip", "[1, 2]", 6, &r);
    json_decref(it_expect_problem(&r, 400, "invalid_encoding"));
    it_response_free(&r);
    free(c);
}

/* 80 MiB of zeros gzip to about 80 KiB; the limit is 64 MiB decoded. */
Test(encoding, gzip_bomb_is_413)
{
    size_t n = 80u << 20, clen;
    unsigned char *zeros = calloc(n, 1);
    unsigned char *c = squeeze(zeros, n, true, &clen);
    struct it_response r;

    cr_assert_lt(clen, 128 * 1024);
    post_coded("/l2_loss?dtype=float32", "application/octet-stream", "gzip", c, clen, &r);
    json_t *j = it_expect_problem(&r, 413, "payload_too_large");
    it_expect_str(j, "detail", "the decoded body exceeds the limit of 67108864 bytes");
    json_decref(j);
    it_response_free(&r);
    free(c);
    free(zeros);
}
