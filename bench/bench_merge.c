/* bench_merge.c -- cost of partials and of /merge (no arguments).
 *
 * Partials of realistic states (1000 float32 values each, random signs and
 * magnitudes over 2^-20..2^20, fixed seed): the median cost of
 * api_partial_encode and of api_partial_decode per partial, then of a whole
 * /merge of 10,000 of them in one flat body, fed to the merge decoder in
 * 64 KiB chunks as the server feeds it, plus the answer's encoding (with
 * its partial): the server's work for the request, without the socket.
 * Also a named body of 100 names x 100 partials. Medians of 7 runs in thread
 * CPU time, so other processes on a shared machine do not count. With an
 * argument, the flat body is also written to that file, for timing the
 * same /merge against the server (bench/run.sh). BENCH_METRICS=1 adds the
 * lines "metric partial_encode_us", "partial_decode_us" and "merge_ms"
 * (the flat body) with those figures, for bench/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/body.h"
#include "api/partial.h"
#include "api/response.h"
#include "tests/support/rng.h"

#define N_PARTIALS 10000
#define N_VALUES 1000
#define CHUNK (64 * 1024)
#define RUNS 7

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* BENCH_METRICS=1: print the "metric" lines. */
static bool bench_metrics(void)
{
    const char *v = getenv("BENCH_METRICS");

    return v != NULL && strcmp(v, "1") == 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void random_state(struct l2_accum *acc)
{
    float v[N_VALUES];

    for (int i = 0; i < N_VALUES; i++) {
        double u = (double)(rng_xorshift64s(&rng_state) >> 11) * 0x1p-53;
        int e = (int)(rng_xorshift64s(&rng_state) % 41) - 20;
        v[i] = (float)((i & 1 ? -u : u) * (double)(1 << (e < 0 ? 0 : e)) /
                       (double)(1 << (e < 0 ? -e : 0)));
    }
    l2_accum_init(acc);
    l2_accum_feed(acc, L2_DTYPE_FLOAT32, v, N_VALUES, NULL);
}

/* Decodes body[0..len) as /merge does and encodes the answer; returns the
 * thread CPU seconds it took. */
static double run_merge(const char *body, size_t len, uint64_t *count)
{
    struct api_decode_opts opts;
    struct api_body *b = NULL;
    struct api_error err;
    char *out = NULL;
    size_t out_len = 0;
    double t0 = now(), t;

    memset(&opts, 0, sizeof opts);
    api_error_init(&err);
    if (api_body_new(API_FORMAT_MERGE, &opts, API_ENCODING_IDENTITY, (uint64_t)1 << 32, &b, &err) !=
        API_OK)
        goto fail;
    api_body_want_partial(b, true);
    for (size_t at = 0; at < len; at += CHUNK)
        if (api_body_feed(b, body + at, len - at < CHUNK ? len - at : CHUNK) != API_OK)
            goto fail;
    if (api_body_finish(b) != API_OK ||
        api_response_encode(api_body_result(b), NULL, &out, &out_len, &err) != API_OK)
        goto fail;
    t = now() - t0;
    *count = api_body_result(b)->total.count;
    free(out);
    api_body_free(b);
    return t;
fail:
    fprintf(stderr, "bench_merge: %s\n", b != NULL ? api_body_error(b)->detail : err.detail);
    exit(1);
}

int main(int argc, char **argv)
{
    static struct l2_accum states[N_PARTIALS];
    static char texts[N_PARTIALS][API_PARTIAL_TEXT_MAX + 1];
    double enc[RUNS], dec[RUNS], flat[RUNS], named[RUNS];
    size_t total_chars = 0, len = 0, nlen = 0, cap;
    char *body, *nbody;
    uint64_t count = 0;
    volatile size_t sink = 0;

    for (int i = 0; i < N_PARTIALS; i++) {
        random_state(&states[i]);
        total_chars += api_partial_encode(&states[i], texts[i]);
    }
    cap = total_chars + 4 * N_PARTIALS + 4096;
    body = malloc(cap);
    nbody = malloc(cap + 100 * 32);
    if (body == NULL || nbody == NULL)
        return 1;
    len += (size_t)snprintf(body, cap, "{\"partials\": [");
    nlen += (size_t)snprintf(nbody, cap, "{\"partials\": {");
    for (int i = 0; i < N_PARTIALS; i++) {
        len += (size_t)snprintf(body + len, cap - len, "%s\"%s\"", i ? ", " : "", texts[i]);
        if (i % 100 == 0)
            nlen += (size_t)snprintf(nbody + nlen, cap + 3200 - nlen, "%s\"layer%d/kernel\": [",
                                     i ? "], " : "", i / 100);
        nlen += (size_t)snprintf(nbody + nlen, cap + 3200 - nlen, "%s\"%s\"", i % 100 ? ", " : "",
                                 texts[i]);
    }
    len += (size_t)snprintf(body + len, cap - len, "]}");
    nlen += (size_t)snprintf(nbody + nlen, cap + 3200 - nlen, "]}}");

    if (argc > 1) {
        FILE *f = fopen(argv[1], "wb");

        if (f == NULL || fwrite(body, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "bench_merge: cannot write %s\n", argv[1]);
            return 1;
        }
    }
    for (int r = 0; r < RUNS; r++) {
        struct l2_accum acc;
        char text[API_PARTIAL_TEXT_MAX + 1];
        double t0 = now();

        for (int i = 0; i < N_PARTIALS; i++)
            sink += api_partial_encode(&states[i], text);
        enc[r] = (now() - t0) / N_PARTIALS;
        t0 = now();
        for (int i = 0; i < N_PARTIALS; i++)
            sink += api_partial_decode(texts[i], strlen(texts[i]), &acc, NULL) == API_OK;
        dec[r] = (now() - t0) / N_PARTIALS;
        flat[r] = run_merge(body, len, &count);
        named[r] = run_merge(nbody, nlen, &count);
    }
    (void)sink;
    printf("partial: %.0f characters on average (%d float32 values each)\n",
           (double)total_chars / N_PARTIALS, N_VALUES);
    printf("partial encode: %.3f us per partial\n", median(enc, RUNS) * 1e6);
    printf("partial decode: %.3f us per partial (checks included)\n", median(dec, RUNS) * 1e6);
    printf("merge of %d partials (flat, %.1f MB body): %.2f ms (target < 50 ms)\n", N_PARTIALS,
           (double)len / 1e6, median(flat, RUNS) * 1e3);
    printf("merge of %d partials (100 names x 100): %.2f ms\n", N_PARTIALS,
           median(named, RUNS) * 1e3);
    if (bench_metrics())
        printf("metric partial_encode_us %.3f\nmetric partial_decode_us %.3f\n"
               "metric merge_ms %.2f flat body, server work in process\n",
               median(enc, RUNS) * 1e6, median(dec, RUNS) * 1e6, median(flat, RUNS) * 1e3);
    free(body);
    free(nbody);
    return 0;
}
