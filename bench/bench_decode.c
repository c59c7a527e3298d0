/* bench_decode.c -- decoding throughput of raw, .npy and safetensors
 * float32 bodies.
 *
 * Feeds a 256 MiB body through api_body_feed in 16 KiB, 64 KiB and 1 MiB
 * chunks, as the server would, and prints the median GB/s of 7 runs per
 * case and its ratio to the raw body at the same chunk size. The data
 * are random float32 values that are finite in both byte orders, so the
 * same bytes serve as raw, '<f4' and '>f4' bodies, and as a safetensors
 * checkpoint of BENCH_ST_TENSORS float32 tensors. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../api/body.h"
#include "../tests/support/rng.h"

#define BENCH_DATA_BYTES ((size_t)256 << 20)
#define BENCH_HEADER 128 /* a numpy-padded v1 header for a 1-d float32 shape */
#define BENCH_ROOM 1024  /* bytes before the data: room for either header */
#define BENCH_ST_TENSORS 4
#define BENCH_CASES 4
#define BENCH_RUNS 7

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Writes a v1 .npy header for descr and n elements into buf[0..128). */
static void npy_header(char *buf, const char *descr, size_t n)
{
    char dict[BENCH_HEADER];
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, n);

    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(BENCH_HEADER - 10);
    buf[9] = 0;
    memset(buf + 10, ' ', BENCH_HEADER - 10);
    memcpy(buf + 10, dict, (size_t)len);
    buf[BENCH_HEADER - 1] = '\n';
}

/* Writes, ending at `end`, the length and header of a safetensors file of
 * BENCH_ST_TENSORS float32 tensors sharing n elements (as the reference
 * writer pads it); returns the header's first byte. */
static char *st_header(char *end, size_t n)
{
    char json[BENCH_ROOM];
    size_t per = n / BENCH_ST_TENSORS * 4, at = 0, len;
    char *start;

    at += (size_t)snprintf(json + at, sizeof json - at, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t t = 0; t < BENCH_ST_TENSORS; t++) {
        size_t hi = t + 1 == BENCH_ST_TENSORS ? n * 4 : (t + 1) * per;

        at += (size_t)snprintf(json + at, sizeof json - at,
                               ",\"layer%zu.weight\":{\"dtype\":\"F32\",\"shape\":[%zu],"
                               "\"data_offsets\":[%zu,%zu]}",
                               t, (hi - t * per) / 4, t * per, hi);
    }
    json[at++] = '}';
    len = (at + 7) / 8 * 8;
    start = end - 8 - len;
    for (int i = 0; i < 8; i++)
        start[i] = (char)((uint64_t)len >> (8 * i));
    memset(start + 8, ' ', len);
    memcpy(start + 8, json, at);
    return start;
}

/* One pass: decodes body[0..len) in `chunk`-byte pieces; returns seconds,
 * or a negative value on a decoding error. *sum receives sum_squares. */
static double run_once(enum api_format fmt, bool has_dtype, const char *body, size_t len,
                       size_t chunk, double *sum)
{
    struct api_decode_opts opts = {L2_DTYPE_FLOAT32, has_dtype, false};
    struct api_body *b;
    struct api_error err;
    double t0, t1;
    enum api_status st;

    api_error_init(&err);
    if (api_body_new(fmt, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &b, &err) != API_OK) {
        fprintf(stderr, "bench_decode: %s\n", err.detail);
        return -1;
    }
    t0 = now();
    st = API_OK;
    for (size_t at = 0; at < len && st == API_OK; at += chunk)
        st = api_body_feed(b, body + at, len - at < chunk ? len - at : chunk);
    if (st == API_OK)
        st = api_body_finish(b);
    t1 = now();
    if (st != API_OK || l2_accum_sum(&api_body_result(b)->total, sum) != L2_OK) {
        fprintf(stderr, "bench_decode: %s: %s\n", api_status_code(st), api_body_error(b)->detail);
        api_body_free(b);
        return -1;
    }
    api_body_free(b);
    return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(void)
{
    /* 16 KiB: about what libmicrohttpd hands over per upload callback. */
    static const size_t chunks[3] = {(size_t)16 << 10, (size_t)64 << 10, (size_t)1 << 20};
    static const struct {
        const char *name;
        enum api_format fmt;
        const char *descr; /* .npy descr; NULL otherwise */
    } cases[BENCH_CASES] = {
        {"raw float32", API_FORMAT_RAW, NULL},
        {"npy <f4", API_FORMAT_NPY, "<f4"},
        {"npy >f4", API_FORMAT_NPY, ">f4"},
        {"safetensors", API_FORMAT_SAFETENSORS, NULL},
    };
    size_t n = BENCH_DATA_BYTES / 4;
    char *buf = malloc(BENCH_ROOM + BENCH_DATA_BYTES);
    double raw_rate = 0;
    uint64_t seed = 1;
    int result = 1;

    if (buf == NULL) {
        fprintf(stderr, "bench_decode: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)rng_splitmix64(&seed);

        if (((v >> 24) & 0x7f) == 0x7f) /* exponent all ones when little-endian */
            v ^= 1u << 30;
        if ((v & 0x7f) == 0x7f) /* ... when read big-endian */
            v ^= 1u << 6;
        memcpy(buf + BENCH_ROOM + 4 * i, &v, 4);
    }
    printf("bench_decode: %zu MiB float32 body through api_body_feed, median of %d runs\n"
           "(the cases take turns within each run, so that a load on the machine falls on "
           "all of them)\n",
           BENCH_DATA_BYTES >> 20, BENCH_RUNS);
    printf("%-14s %10s %10s %8s\n", "format", "chunk", "GB/s", "x raw");
    for (size_t k = 0; k < 3; k++) {
        double secs[BENCH_CASES][BENCH_RUNS];
        size_t len[BENCH_CASES];

        for (int r = 0; r < BENCH_RUNS; r++) {
            for (size_t c = 0; c < BENCH_CASES; c++) {
                char *body = buf + BENCH_ROOM;
                double sum = 0;

                /* the headers share the room before the data: written each time */
                if (cases[c].descr != NULL) {
                    body -= BENCH_HEADER;
                    npy_header(body, cases[c].descr, n);
                } else if (cases[c].fmt == API_FORMAT_SAFETENSORS) {
                    body = st_header(body, n);
                }
                len[c] = BENCH_DATA_BYTES + (size_t)(buf + BENCH_ROOM - body);
                secs[c][r] = run_once(cases[c].fmt, cases[c].fmt == API_FORMAT_RAW, body, len[c],
                                      chunks[k], &sum);
                if (secs[c][r] < 0)
                    goto out_free_buf;
            }
        }
        for (size_t c = 0; c < BENCH_CASES; c++) {
            double rate;

            qsort(secs[c], BENCH_RUNS, sizeof secs[c][0], cmp_double);
            rate = (double)len[c] / secs[c][BENCH_RUNS / 2] / 1e9;
            if (c == 0)
                raw_rate = rate;
            printf("%-14s %6zu KiB %10.2f %8.2f\n", cases[c].name, chunks[k] >> 10, rate,
                   rate / raw_rate);
        }
    }
    result = 0;

out_free_buf:
    free(buf);
out:
    return result;
}
