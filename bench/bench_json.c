/* bench_json.c -- throughput of the streaming JSON decoder next to a plain
 * strtod loop over the same number tokens (no arguments).
 *
 * 1M float64 values printed "%.17g" and 1M float32 printed "%.9g" (fixed
 * seed), fed in 64 KiB chunks; median MB/s of 7 interleaved runs in thread
 * CPU time, so that other processes on a shared machine do not count.
 * Then the same arrays as the data of an inference protocol request (one
 * input), with its datatype before the data (as clients send it) and after
 * it (read in the four dtypes at once), next to the plain JSON body.
 * BENCH_METRICS=1 adds, for bench/run.sh, the line "metric json_infer
 * MIN ..." with the smaller infer / JSON ratio of the two arrays, datatype
 * before the data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/body.h"
#include "api/infer.h"
#include "api/json_decode.h"
#include "tests/support/rng.h"

#define N_NUMBERS 1000000
#define CHUNK (64 * 1024)
#define RUNS 7

static uint64_t rng_state = 0x2545f4914f6cdd1du; /* rng_xorshift64s */

/* BENCH_METRICS=1: print the "metric" line. */
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

/* A random value with a random decimal magnitude, 1e-10 .. 1e10. */
static double random_value(void)
{
    double u = (double)(rng_xorshift64s(&rng_state) >> 11) * 0x1p-53 * 2.0 - 1.0;
    int e = (int)(rng_xorshift64s(&rng_state) % 21) - 10;
    double p = 1.0;
    for (int i = 0; i < (e < 0 ? -e : e); i++)
        p *= 10.0;
    return e < 0 ? u / p : u * p;
}

/* "[v, v, ...]" with n values; *len gets the length. */
static char *make_body(bool as_float32, size_t *len)
{
    size_t cap = (size_t)N_NUMBERS * 28 + 16, n = 0;
    char *b = malloc(cap);
    if (b == NULL)
        return NULL;
    b[n++] = '[';
    for (int i = 0; i < N_NUMBERS; i++) {
        double x = random_value();
        int w;
        if (as_float32)
            w = snprintf(b + n, cap - n, "%s%.9g", i ? ", " : "", (double)(float)x);
        else
            w = snprintf(b + n, cap - n, "%s%.17g", i ? ", " : "", x);
        n += (size_t)w;
    }
    b[n++] = ']';
    b[n] = '\0';
    *len = n;
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof *v, cmp_double);
    return v[RUNS / 2];
}

/* One decode of the whole body in CHUNK pieces; returns seconds. */
static double run_json(const char *body, size_t len, enum l2_dtype dt, double *sum)
{
    struct api_result res;
    struct api_error err;
    double t0 = now();

    const struct api_decode_opts opts = {.dtype = dt, .has_dtype = true};
    void *dec;

    api_result_init(&res, L2_DTYPE_FLOAT64);
    api_error_init(&err);
    if (api_json_ops.create(&res, &opts, &dec, &err) != API_OK) {
        fprintf(stderr, "bench_json: out of memory\n");
        exit(1);
    }
    enum api_status st = API_OK;
    for (size_t at = 0; at < len && st == API_OK; at += CHUNK)
        st = api_json_ops.feed(dec, (const unsigned char *)body + at,
                               len - at < CHUNK ? len - at : CHUNK, at, &err);
    if (st == API_OK)
        st = api_json_ops.finish(dec, len, &err);
    double t = now() - t0;
    if (st != API_OK) {
        fprintf(stderr, "bench_json: %s: %s\n", api_status_code(st), err.detail);
        exit(1);
    }
    l2_accum_sum(&res.total, sum);
    api_json_ops.destroy(dec);
    api_result_free(&res);
    return t;
}

/* The infer request around body (its data), the datatype before or after
 * the data; *len gets its length. */
static char *make_infer(const char *body, size_t blen, enum l2_dtype dt, bool data_first,
                        size_t *len)
{
    const char *type = dt == L2_DTYPE_FLOAT64 ? "FP64" : "FP32";
    char head[128], tail[128];
    int h, t;
    char *b;

    if (data_first) {
        h = snprintf(head, sizeof head, "{\"inputs\": [{\"name\": \"w\", \"data\": ");
        t = snprintf(tail, sizeof tail, ", \"shape\": [%d], \"datatype\": \"%s\"}]}", N_NUMBERS,
                     type);
    } else {
        h = snprintf(head, sizeof head,
                     "{\"inputs\": [{\"name\": \"w\", \"shape\": [%d], \"datatype\": \"%s\", "
                     "\"data\": ",
                     N_NUMBERS, type);
        t = snprintf(tail, sizeof tail, "}]}");
    }
    b = malloc((size_t)h + blen + (size_t)t + 1);
    if (b == NULL)
        return NULL;
    memcpy(b, head, (size_t)h);
    memcpy(b + h, body, blen);
    memcpy(b + (size_t)h + blen, tail, (size_t)t + 1);
    *len = (size_t)h + blen + (size_t)t;
    return b;
}

/* One decode of an infer request in CHUNK pieces; returns seconds. */
static double run_infer(const char *body, size_t len, double *sum)
{
    struct api_infer_request req;
    struct api_decode_opts opts = {L2_DTYPE_FLOAT64, false, false, 0, &req};
    struct api_body *b;
    struct api_error err;
    enum api_status st = API_OK;
    double t0 = now();

    api_infer_request_init(&req, API_INFER_L2_LOSS, false, 0);
    api_error_init(&err);
    if (api_body_new(API_FORMAT_INFER, &opts, API_ENCODING_IDENTITY, UINT64_MAX, &b, &err) !=
        API_OK) {
        fprintf(stderr, "bench_json: %s\n", err.detail);
        exit(1);
    }
    for (size_t at = 0; at < len && st == API_OK; at += CHUNK)
        st = api_body_feed(b, body + at, len - at < CHUNK ? len - at : CHUNK);
    if (st == API_OK)
        st = api_body_finish(b);
    double t = now() - t0;
    if (st != API_OK) {
        fprintf(stderr, "bench_json: infer: %s: %s\n", api_status_code(st),
                api_body_error(b)->detail);
        exit(1);
    }
    l2_accum_sum(&api_body_result(b)->total, sum);
    api_body_free(b);
    return t;
}

/* strtod over the same tokens (the body is NUL-terminated); returns seconds. */
static double run_strtod(const char *body, double *sum)
{
    const char *p = body + 1;
    char *end;
    double s = 0.0, t0 = now();

    for (;;) {
        double x = strtod(p, &end);
        if (end == p)
            break;
        s += x * x;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    *sum = s;
    return now() - t0;
}

int main(void)
{
    static const struct {
        const char *label;
        bool f32;
        enum l2_dtype dt;
    } sets[] = {
        {"1M float64, %.17g", false, L2_DTYPE_FLOAT64},
        {"1M float32, %.9g", true, L2_DTYPE_FLOAT32},
    };

    printf("%-22s %9s %14s %14s %7s\n", "body", "MB", "json MB/s", "strtod MB/s", "ratio");
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        size_t len;
        char *body = make_body(sets[k].f32, &len);
        double tj[RUNS], ts[RUNS], sj = 0, ss = 0;
        if (body == NULL) {
            fprintf(stderr, "bench_json: out of memory\n");
            return 1;
        }
        for (int r = 0; r < RUNS; r++) {
            tj[r] = run_json(body, len, sets[k].dt, &sj);
            ts[r] = run_strtod(body, &ss);
        }
        double mb = (double)len / 1e6;
        double json = mb / median(tj), plain = mb / median(ts);
        printf("%-22s %9.1f %14.1f %14.1f %7.2f\n", sets[k].label, mb, json, plain, json / plain);
        if (!(sj > 0) || !(ss > 0))
            fprintf(stderr, "bench_json: unexpected sums %g %g\n", sj, ss);
        free(body);
    }
    double type_first[2] = {0, 0}; /* the infer / JSON ratio, datatype before data */
    printf("\n%-22s %9s %14s %14s %7s\n", "v2 infer JSON data", "MB", "infer MB/s", "json MB/s",
           "ratio");
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        for (int data_first = 0; data_first < 2; data_first++) {
            size_t len, ilen;
            char *body = make_body(sets[k].f32, &len);
            char *infer = body ? make_infer(body, len, sets[k].dt, data_first, &ilen) : NULL;
            double ti[RUNS], tj[RUNS], si = 0, sj = 0, ratio[RUNS];
            if (infer == NULL) {
                fprintf(stderr, "bench_json: out of memory\n");
                return 1;
            }
            for (int r = 0; r < RUNS; r++) {
                tj[r] = run_json(body, len, sets[k].dt, &sj);
                ti[r] = run_infer(infer, ilen, &si);
                ratio[r] = ((double)ilen / ti[r]) / ((double)len / tj[r]);
            }
            printf("%-13s %-8s %9.1f %14.1f %14.1f %7.2f\n",
                   sets[k].dt == L2_DTYPE_FLOAT64 ? "float64" : "float32",
                   data_first ? "data 1st" : "type 1st", (double)ilen / 1e6,
                   (double)ilen / 1e6 / median(ti), (double)len / 1e6 / median(tj), median(ratio));
            if (!data_first)
                type_first[k] = median(ratio);
            if (si != sj)
                fprintf(stderr, "bench_json: infer sum %g differs from %g\n", si, sj);
            free(infer);
            free(body);
        }
    }
    if (bench_metrics())
        printf("metric json_infer %.3f float64 %.2f, float32 %.2f (datatype before data)\n",
               type_first[0] < type_first[1] ? type_first[0] : type_first[1], type_first[0],
               type_first[1]);
    return 0;
}
