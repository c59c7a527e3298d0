/* bench_inflate.c -- gzip request bodies: l2d's decoding against zlib's
 * own inflate rate on the same data, measured in the same run.
 *
 * 256 MiB of float32 values with few significant bits (so gzip shrinks them
 * as it does real checkpoints: about 2:1) are gzipped once; then, in turns,
 * zlib inflates the stream into a 64 KiB buffer that is thrown away, and
 * api_body decodes the same stream (inflate + the raw float32 kernel) fed
 * in 64 KiB chunks as the server feeds it. Median GB/s (of decoded bytes)
 * of 7 runs each, and the median of the ratios of the two runs of each turn.
 * BENCH_CPU_TIME=1 times by the thread's CPU time instead of the wall clock;
 * BENCH_METRICS=1 adds the line "metric gzip_vs_zlib RATIO" (bench/run.sh).
 *
 * Deflating 256 MiB at level 6 takes about 40 s, so the values repeat with
 * a period of 16 MiB and that block is deflated once, ending in a full
 * flush (which resets the compressor: the next block refers to nothing
 * before it); the gzip stream is that output 16 times over, a final empty
 * block and the trailer (CRC-32 and length of all 256 MiB). A period a
 * thousand times the 32 KiB window changes nothing the inflater sees. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "../api/body.h"
#include "../tests/support/rng.h"

#define BENCH_BYTES ((size_t)256 << 20)
#define BENCH_PERIOD ((size_t)16 << 20) /* the data repeat with this period */
#define BENCH_CHUNK ((size_t)64 << 10)
#define BENCH_RUNS 7

/* BENCH_CPU_TIME=1: the thread's CPU time (time spent descheduled on a
 * shared machine does not count), else the wall clock. */
static clockid_t bench_clock(void)
{
    const char *v = getenv("BENCH_CPU_TIME");

    return v != NULL && strcmp(v, "1") == 0 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(bench_clock(), &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* BENCH_METRICS=1: print "metric NAME VALUE [NOTE]" lines for bench/run.sh. */
static int bench_metrics(void)
{
    const char *v = getenv("BENCH_METRICS");

    return v != NULL && strcmp(v, "1") == 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* gzip, at level 6 (zlib's default), of `copies` copies of block[0..n);
 * *out_len its length. */
static unsigned char *gzip_repeated(const unsigned char *block, size_t n, size_t copies,
                                    size_t *out_len)
{
    static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    z_stream zs;
    size_t cap = n + n / 8 + 1024, body, at;
    unsigned char *one = malloc(cap), *out = NULL, tail[16];
    uLong crc, crc_one;

    memset(&zs, 0, sizeof zs);
    if (one == NULL || deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        goto out;
    zs.next_in = (unsigned char *)block;
    zs.avail_in = (uInt)n;
    zs.next_out = one;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FULL_FLUSH) != Z_OK || zs.avail_in != 0)
        goto out_end;
    body = cap - zs.avail_out;
    zs.next_out = tail;
    zs.avail_out = sizeof tail;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) /* the final, empty block */
        goto out_end;
    crc_one = crc32(0, block, (uInt)n);
    crc = crc_one;
    for (size_t i = 1; i < copies; i++)
        crc = crc32_combine(crc, crc_one, (z_off_t)n);
    out = malloc(sizeof header + body * copies + sizeof tail + 8);
    if (out == NULL)
        goto out_end;
    memcpy(out, header, sizeof header);
    at = sizeof header;
    for (size_t i = 0; i < copies; i++, at += body)
        memcpy(out + at, one, body);
    memcpy(out + at, tail, sizeof tail - zs.avail_out);
    at += sizeof tail - zs.avail_out;
    put32(out + at, (uint32_t)crc);
    put32(out + at + 4, (uint32_t)(n * copies));
    *out_len = at + 8;
out_end:
    deflateEnd(&zs);
out:
    free(one);
    return out;
}

/* zlib alone: inflates z[0..n) into a scratch buffer; seconds. */
static double run_zlib(const unsigned char *z, size_t n)
{
    static unsigned char out[BENCH_CHUNK];
    z_stream zs;
    double t0 = now();
    int r = Z_OK;

    memset(&zs, 0, sizeof zs);
    inflateInit2(&zs, 31);
    zs.next_in = (unsigned char *)z;
    zs.avail_in = (uInt)n;
    while (r == Z_OK) {
        zs.next_out = out;
        zs.avail_out = sizeof out;
        r = inflate(&zs, Z_NO_FLUSH);
    }
    inflateEnd(&zs);
    return r == Z_STREAM_END ? now() - t0 : -1;
}

/* api_body: gzip Content-Encoding, raw float32; seconds, sum in *sum. */
static double run_body(const unsigned char *z, size_t n, double *sum)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT32, true, false, 0, NULL};
    struct api_body *b;
    struct api_error err;
    enum api_status st = API_OK;
    double t0;

    api_error_init(&err);
    if (api_body_new(API_FORMAT_RAW, &opts, API_ENCODING_GZIP, UINT64_MAX, &b, &err) != API_OK)
        return -1;
    t0 = now();
    for (size_t at = 0; at < n && st == API_OK; at += BENCH_CHUNK)
        st = api_body_feed(b, z + at, n - at < BENCH_CHUNK ? n - at : BENCH_CHUNK);
    if (st == API_OK)
        st = api_body_finish(b);
    t0 = now() - t0;
    if (st != API_OK || l2_accum_sum(&api_body_result(b)->total, sum) != L2_OK) {
        fprintf(stderr, "bench_inflate: %s\n", api_body_error(b)->detail);
        t0 = -1;
    }
    api_body_free(b);
    return t0;
}

int main(void)
{
    unsigned char *data = malloc(BENCH_PERIOD), *z;
    double tz[BENCH_RUNS], tb[BENCH_RUNS], ratio[BENCH_RUNS], sum = 0;
    uint64_t seed = 42;
    size_t zlen = 0;

    if (data == NULL)
        return 1;
    for (size_t i = 0; i < BENCH_PERIOD; i += 4) {
        /* values k/256 for small k: 8 significant bits, like quantized weights */
        float v = (float)(int)(rng_splitmix64(&seed) % 512 - 256) / 256.0f;
        memcpy(data + i, &v, 4);
    }
    z = gzip_repeated(data, BENCH_PERIOD, BENCH_BYTES / BENCH_PERIOD, &zlen);
    if (z == NULL)
        return 1;
    for (int r = 0; r < BENCH_RUNS; r++) {
        tz[r] = run_zlib(z, zlen);
        tb[r] = run_body(z, zlen, &sum);
        if (tz[r] < 0 || tb[r] < 0)
            return 1;
        ratio[r] = tz[r] / tb[r];
    }
    qsort(tz, BENCH_RUNS, sizeof tz[0], cmp_double);
    qsort(tb, BENCH_RUNS, sizeof tb[0], cmp_double);
    qsort(ratio, BENCH_RUNS, sizeof ratio[0], cmp_double);
    printf("bench_inflate: %zu MiB float32 gzipped to %.1f MiB, 64 KiB chunks, median of %d "
           "(%s time)\n",
           BENCH_BYTES >> 20, (double)zlen / (1 << 20), BENCH_RUNS,
           bench_clock() == CLOCK_MONOTONIC ? "wall" : "CPU");
    printf("  zlib inflate alone            %6.2f GB/s (decoded bytes)\n",
           BENCH_BYTES / tz[BENCH_RUNS / 2] / 1e9);
    printf("  l2d gzip raw float32 body     %6.2f GB/s  %.2f x zlib (target >= 0.90)\n",
           BENCH_BYTES / tb[BENCH_RUNS / 2] / 1e9, ratio[BENCH_RUNS / 2]);
    if (bench_metrics())
        printf("metric gzip_vs_zlib %.3f\n", ratio[BENCH_RUNS / 2]);
    free(z);
    free(data);
    return 0;
}
