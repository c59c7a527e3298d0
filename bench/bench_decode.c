/* bench_decode.c -- decoding throughput of raw, .npy, .npz and safetensors
 * float32 bodies.
 *
 * Feeds a 256 MiB body through api_body_feed in 16 KiB, 64 KiB and 1 MiB
 * chunks, as the server would, and prints the median GB/s of 7 runs per
 * case, and each case's ratio to raw float32 at the same chunk size, for
 * two data sets: random bit patterns (every exponent) and weight-like
 * values (close to normal(0, 0.05)). Either is made finite in both byte
 * orders, so the same bytes serve as raw, '<f4' and '>f4' bodies, and as the member of
 * a stored .npz (laid out as np.savez writes it: zip64 extra field, CRC-32
 * in the local header, which the decoder checks) and as a safetensors
 * checkpoint of BENCH_ST_TENSORS tensors, and as the binary data of an
 * inference protocol request (one FP32 input after its JSON header, as
 * tritonclient sends it). BENCH_CPU_TIME=1 times
 * by the thread's CPU time instead of the wall clock. BENCH_METRICS=1 adds,
 * for bench/run.sh, a line "metric decode_CASE MIN ..." for each case with a
 * target: its smallest ratio to raw over both data sets, then the ratio per
 * data set and chunk. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "../api/body.h"
#include "../api/crc32.h"
#include "../api/infer.h"
#include "../tests/support/rng.h"

#define BENCH_DATA_BYTES ((size_t)256 << 20)
#define BENCH_HEADER 128 /* a numpy-padded v1 header for a 1-d float32 shape */
#define BENCH_RUNS 7
#define BENCH_CASES 6
#define BENCH_ST_TENSORS 4
#define BENCH_ROOM 1024   /* room for a safetensors header (within BENCH_PREFIX) */
#define BENCH_PREFIX 1024 /* room before the data for the .npy, zip and safetensors headers */
#define BENCH_SUFFIX 128  /* and after it for the central directory and end record */
#define NPZ_NAME "w.npy"
#define NPZ_LOCAL (30 + 5 + 20) /* local header, name, zip64 extra field */
#define DATA_KINDS 2

/* The data sets: the first spans every exponent, so most of it goes through
 * the kernel's portable path (about 6 GB/s here); the second is what
 * trained weights look like, which the vector kernels sum at about the
 * speed of memory, so that a second pass (the .npz CRC) weighs more. */
enum data_kind { DATA_BITS, DATA_WEIGHTS };

/* The clock: wall time, or with BENCH_CPU_TIME=1 in the environment the
 * thread's CPU time (on a machine shared with other work, time spent
 * descheduled then does not count). */
static clockid_t bench_clock(void)
{
    const char *v = getenv("BENCH_CPU_TIME");

    return v != NULL && strcmp(v, "1") == 0 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
}

/* BENCH_METRICS=1: print the "metric" lines. */
static bool bench_metrics(void)
{
    const char *v = getenv("BENCH_METRICS");

    return v != NULL && strcmp(v, "1") == 0;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(bench_clock(), &ts);
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

static void put16(char *p, uint32_t v)
{
    p[0] = (char)v;
    p[1] = (char)(v >> 8);
}

static void put32(char *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}

static void put64(char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Wraps the .npy at npy[0..len), whose CRC-32 is crc, as the one member of
 * a stored .npz, as np.savez writes it: the local header before it
 * (NPZ_LOCAL bytes), the central directory and end record after it.
 * Returns the archive's length. */
static size_t npz_wrap(char *npy, size_t len, uint32_t crc)
{
    char *h = npy - NPZ_LOCAL;
    char *c = npy + len;

    put32(h, 0x04034b50);
    put16(h + 4, 20);
    put16(h + 6, 0);
    put16(h + 8, 0);
    put32(h + 10, 0x00210000);
    put32(h + 14, crc);
    put32(h + 18, (uint32_t)len);
    put32(h + 22, (uint32_t)len);
    put16(h + 26, 5);
    put16(h + 28, 20);
    memcpy(h + 30, NPZ_NAME, 5);
    put16(h + 35, 1);
    put16(h + 37, 16);
    put64(h + 39, len);
    put64(h + 47, len);
    memset(c, 0, 46);
    put32(c, 0x02014b50);
    put16(c + 4, 0x0314);
    put16(c + 6, 20);
    put32(c + 12, 0x00210000);
    put32(c + 16, crc);
    put32(c + 20, (uint32_t)len);
    put32(c + 24, (uint32_t)len);
    put16(c + 28, 5);
    memcpy(c + 46, NPZ_NAME, 5);
    c += 51;
    memset(c, 0, 22);
    put32(c, 0x06054b50);
    put16(c + 8, 1);
    put16(c + 10, 1);
    put32(c + 12, 51);
    put32(c + 16, (uint32_t)(len + NPZ_LOCAL));
    return NPZ_LOCAL + len + 51 + 22;
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

/* Writes, ending at `end`, the JSON header of an infer request whose one
 * FP32 input of n elements is binary data; returns its first byte. */
static char *infer_header(char *end, size_t n)
{
    char json[BENCH_ROOM];
    int len = snprintf(json, sizeof json,
                       "{\"inputs\": [{\"name\": \"w\", \"shape\": [%zu], \"datatype\": \"FP32\", "
                       "\"parameters\": {\"binary_data_size\": %zu}}], \"parameters\": "
                       "{\"binary_data_output\": true}}",
                       n, n * 4);

    memcpy(end - len, json, (size_t)len);
    return end - len;
}

/* One pass: decodes body[0..len) in `chunk`-byte pieces; returns seconds,
 * or a negative value on a decoding error. *sum receives sum_squares.
 * header is the infer request's header length (0: not an infer body). */
static double run_once(enum api_format fmt, bool has_dtype, const char *body, size_t len,
                       size_t chunk, size_t header, double *sum)
{
    struct api_infer_request req;
    struct api_decode_opts opts = {L2_DTYPE_FLOAT32, has_dtype, false, 0, NULL};
    struct api_body *b;
    struct api_error err;
    double t0, t1;
    enum api_status st;

    api_error_init(&err);
    if (fmt == API_FORMAT_INFER) {
        api_infer_request_init(&req, API_INFER_L2_LOSS, true, header);
        opts.infer = &req;
    }
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

/* Fills data[0..n) with float32 values of the given kind, each finite read
 * in either byte order (a bit of the mantissa flipped where needed). */
static void fill(char *data, size_t n, enum data_kind kind)
{
    uint64_t seed = 1;

    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng_splitmix64(&seed);
        uint32_t v = (uint32_t)r;

        if (kind == DATA_WEIGHTS) {
            /* the sum of four uniforms, centred: close to normal(0, 0.05) */
            float w = (float)(((double)(r & 0xffff) + (double)((r >> 16) & 0xffff) +
                               (double)((r >> 32) & 0xffff) + (double)(r >> 48)) /
                                  65536.0 -
                              2.0) *
                      0.0866f;

            memcpy(&v, &w, 4);
        }
        if (((v >> 24) & 0x7f) == 0x7f) /* exponent all ones when little-endian */
            v ^= 1u << 30;
        if ((v & 0x7f) == 0x7f) /* ... when read big-endian */
            v ^= 1u << 6;
        memcpy(data + 4 * i, &v, 4);
    }
}

/* The formats measured, raw first: every ratio is to it. */
static const struct {
    const char *name;
    enum api_format fmt;
    const char *descr;  /* NULL for raw */
    bool npz;           /* the .npy as the member of a stored .npz */
    const char *metric; /* its name on the "metric" line, NULL for none */
} cases[BENCH_CASES] = {
    {"raw float32", API_FORMAT_RAW, NULL, false, NULL},
    {"npy <f4", API_FORMAT_NPY, "<f4", false, NULL},
    {"npy >f4", API_FORMAT_NPY, ">f4", false, NULL},
    {"npz stored <f4", API_FORMAT_NPZ, "<f4", true, "decode_npz"},
    {"safetensors", API_FORMAT_SAFETENSORS, NULL, false, "decode_safetensors"},
    {"v2 infer binary", API_FORMAT_INFER, NULL, false, "decode_v2_binary"},
};

/* Case c's body around the n float32 values at data (headers written into
 * the room before and after them); its length in *len. */
static char *case_body(size_t c, char *data, size_t n, uint32_t npz_crc, size_t *len)
{
    char *body = data;

    *len = BENCH_DATA_BYTES;
    if (cases[c].descr != NULL) {
        npy_header(data - BENCH_HEADER, cases[c].descr, n);
        body = data - BENCH_HEADER;
        *len += BENCH_HEADER;
    }
    if (cases[c].npz) {
        *len = npz_wrap(data - BENCH_HEADER, *len, npz_crc);
        body = data - BENCH_HEADER - NPZ_LOCAL;
    }
    if (cases[c].fmt == API_FORMAT_SAFETENSORS) {
        body = st_header(data, n);
        *len = BENCH_DATA_BYTES + (size_t)(data - body);
    }
    if (cases[c].fmt == API_FORMAT_INFER) {
        body = infer_header(data, n);
        *len = BENCH_DATA_BYTES + (size_t)(data - body);
    }
    return body;
}

/* BENCH_RUNS rounds of every case, interleaved, in chunk-byte pieces;
 * prints each case's median and stores its median ratio to raw in
 * to_raw[c]. Returns false on a decoding error. */
static bool measure_chunk(char *data, size_t n, uint32_t npz_crc, size_t chunk,
                          double to_raw[BENCH_CASES])
{
    double secs[BENCH_CASES][BENCH_RUNS];
    size_t len[BENCH_CASES];

    for (int r = 0; r < BENCH_RUNS; r++) {
        for (size_t c = 0; c < BENCH_CASES; c++) {
            char *body = case_body(c, data, n, npz_crc, &len[c]);
            double sum = 0;

            secs[c][r] = run_once(cases[c].fmt, cases[c].fmt == API_FORMAT_RAW, body, len[c], chunk,
                                  (size_t)(data - body), &sum);
            if (secs[c][r] < 0)
                return false;
        }
    }
    for (size_t c = 0; c < BENCH_CASES; c++) {
        double ratio[BENCH_RUNS];

        for (int r = 0; r < BENCH_RUNS; r++)
            ratio[r] = ((double)len[c] / secs[c][r]) / ((double)len[0] / secs[0][r]);
        qsort(ratio, BENCH_RUNS, sizeof ratio[0], cmp_double);
        qsort(secs[c], BENCH_RUNS, sizeof secs[c][0], cmp_double);
        to_raw[c] = ratio[BENCH_RUNS / 2];
        printf("%-16s %6zu KiB %10.2f %8.2f\n", cases[c].name, chunk >> 10,
               (double)len[c] / secs[c][BENCH_RUNS / 2] / 1e9, ratio[BENCH_RUNS / 2]);
    }
    return true;
}

int main(void)
{
    /* 16 KiB: about what libmicrohttpd hands over per upload callback. */
    static const size_t chunks[3] = {(size_t)16 << 10, (size_t)64 << 10, (size_t)1 << 20};
    static const char *const kinds[DATA_KINDS] = {"random bit patterns", "weight-like values"};
    /* the median ratio to raw, per data kind, chunk size and case */
    double to_raw[DATA_KINDS][3][BENCH_CASES];
    size_t n = BENCH_DATA_BYTES / 4;
    char *buf = malloc(BENCH_PREFIX + BENCH_DATA_BYTES + BENCH_SUFFIX);
    char *data;
    int result = 1;

    if (buf == NULL) {
        fprintf(stderr, "bench_decode: out of memory\n");
        goto out;
    }
    data = buf + BENCH_PREFIX;
    printf("bench_decode: %zu MiB float32 body through api_body_feed, median of %d runs, the "
           "cases interleaved; / raw: the median ratio to the raw run beside it (CRC-32: %s; "
           "%s time)\n",
           BENCH_DATA_BYTES >> 20, BENCH_RUNS, api_crc32_name(api_crc32_best()),
           bench_clock() == CLOCK_MONOTONIC ? "wall" : "CPU");
    for (int d = 0; d < DATA_KINDS; d++) {
        uint32_t npz_crc;

        fill(data, n, (enum data_kind)d);
        npy_header(data - BENCH_HEADER, "<f4", n);
        npz_crc = (uint32_t)crc32(0, (const unsigned char *)data - BENCH_HEADER,
                                  (uInt)(BENCH_HEADER + BENCH_DATA_BYTES));
        printf("\n%s\n%-16s %10s %10s %8s\n", kinds[d], "format", "chunk", "GB/s", "/ raw");
        for (size_t k = 0; k < 3; k++)
            if (!measure_chunk(data, n, npz_crc, chunks[k], to_raw[d][k]))
                goto out_free_buf;
    }
    for (size_t c = 0; c < BENCH_CASES && bench_metrics(); c++) {
        double least = to_raw[0][0][c];

        if (cases[c].metric == NULL)
            continue;
        for (int d = 0; d < DATA_KINDS; d++)
            for (size_t k = 0; k < 3; k++)
                least = to_raw[d][k][c] < least ? to_raw[d][k][c] : least;
        printf("metric %s %.3f bits %.2f/%.2f/%.2f, weights %.2f/%.2f/%.2f at 16/64/1024 KiB\n",
               cases[c].metric, least, to_raw[0][0][c], to_raw[0][1][c], to_raw[0][2][c],
               to_raw[1][0][c], to_raw[1][1][c], to_raw[1][2][c]);
    }
    result = 0;

out_free_buf:
    free(buf);
out:
    return result;
}
