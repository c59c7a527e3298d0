/* bench_kernel.c -- throughput of the exact kernel against the obvious loops.
 *
 * Per dtype, median GB/s of 5 runs: l2_accum_feed (whole, and in 64 KiB
 * blocks; both give the exact sum and max_abs from one pass, max_abs checked
 * untimed against a plain loop), l2_accum_feed_counting (?nonfinite=count,
 * on the same data without NaN), a plain `sum += (double)x * x` loop, and a
 * vectorized plain read of the same bytes (the memory bandwidth). Usage:
 * bench_kernel [--mib N] [--impl portable|avx2|avx512ifma] (default 256 MiB,
 * the kernel's choice). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "core/accum.h"
#include "core/accum_impl.h"
#include "tests/support/rng.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define RUNS 5
#define BLOCK_BYTES (64 * 1024)

static volatile double sink_d;
static volatile uint64_t sink_u;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x853c49e6748fea9bu; /* rng_xorshift64s */
static double uniform(void)
{
    return rng_unit(rng_xorshift64s(&rng));
}

/* Box-Muller normal(0,1). */
static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

/* Nearest float16 / bfloat16 bits of a double (values here are far from the
 * edges of either range). */
static uint16_t half_bits(enum l2_dtype t, double x)
{
    double r = l2_dtype_round(t, x);
    if (t == L2_DTYPE_BFLOAT16) {
        float f = (float)r;
        uint32_t u;
        memcpy(&u, &f, 4);
        return (uint16_t)(u >> 16);
    }
    uint16_t s = signbit(r) ? 0x8000 : 0;
    double a = fabs(r);
    if (a < 0x1p-14)
        return (uint16_t)(s | (uint16_t)(a * 0x1p24));
    int e;
    frexp(a, &e);
    return (uint16_t)(s | (uint16_t)((e + 14) << 10) | (uint16_t)((ldexp(a, 1 - e) - 1) * 1024));
}

/* Writes x as one element of dtype t at p. */
static void put_element(enum l2_dtype t, unsigned char *p, double x)
{
    switch (t) {
    case L2_DTYPE_FLOAT64:
        memcpy(p, &x, 8);
        break;
    case L2_DTYPE_FLOAT32: {
        float f = (float)x;
        memcpy(p, &f, 4);
        break;
    }
    default: {
        uint16_t h = half_bits(t, x);
        memcpy(p, &h, 2);
        break;
    }
    }
}

#define POOL (1u << 20)

/* Fills buf with n elements drawn at random from a pool of 2^20 normal(0,1)
 * values (drawing each one afresh would take longer than the measurement). */
static void fill(enum l2_dtype t, unsigned char *buf, size_t n)
{
    size_t w = l2_dtype_size(t);
    unsigned char *pool = malloc(POOL * w);
    if (!pool)
        abort();
    for (size_t i = 0; i < POOL; i++)
        put_element(t, pool + i * w, normal());
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + i * w, pool + (rng_xorshift64s(&rng) >> 44) * w, w);
    }
    free(pool);
}

static double f16_table[65536];

static double plain_double_loop(enum l2_dtype t, const unsigned char *buf, size_t n)
{
    double sum = 0;
    switch (t) {
    case L2_DTYPE_FLOAT64: {
        const double *p = (const double *)buf;
        for (size_t i = 0; i < n; i++)
            sum += p[i] * p[i];
        break;
    }
    case L2_DTYPE_FLOAT32: {
        const float *p = (const float *)buf;
        for (size_t i = 0; i < n; i++)
            sum += (double)p[i] * p[i];
        break;
    }
    case L2_DTYPE_BFLOAT16: {
        const uint16_t *p = (const uint16_t *)buf;
        for (size_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)p[i] << 16;
            float f;
            memcpy(&f, &u, 4);
            sum += (double)f * f;
        }
        break;
    }
    default: {
        const uint16_t *p = (const uint16_t *)buf;
        for (size_t i = 0; i < n; i++)
            sum += f16_table[p[i]] * f16_table[p[i]];
        break;
    }
    }
    return sum;
}

/* Sums bytes / 8 uint64 words with four independent accumulators: a plain
 * read, limited by memory rather than by the adds. */
static uint64_t plain_read_scalar(const unsigned char *buf, size_t bytes)
{
    const uint64_t *p = (const uint64_t *)buf;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t n = bytes / 8, i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; i++)
        s0 += p[i];
    return s0 + s1 + s2 + s3;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static uint64_t plain_read_avx512(const unsigned char *buf,
                                                                     size_t bytes)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 256 <= bytes; i += 256) {
        s0 = _mm512_add_epi64(s0, _mm512_load_si512(buf + i));
        s1 = _mm512_add_epi64(s1, _mm512_load_si512(buf + i + 64));
        s2 = _mm512_add_epi64(s2, _mm512_load_si512(buf + i + 128));
        s3 = _mm512_add_epi64(s3, _mm512_load_si512(buf + i + 192));
    }
    s0 = _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3));
    return (uint64_t)_mm512_reduce_add_epi64(s0) + plain_read_scalar(buf + i, bytes - i);
}

__attribute__((target("avx2"))) static uint64_t plain_read_avx2(const unsigned char *buf,
                                                                size_t bytes)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 128 <= bytes; i += 128) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(buf + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(buf + i + 32)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(buf + i + 64)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(buf + i + 96)));
    }
    s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t l[4];
    _mm256_storeu_si256((__m256i *)l, s0);
    return l[0] + l[1] + l[2] + l[3] + plain_read_scalar(buf + i, bytes - i);
}
#endif

/* The widest read loop this CPU runs; buf is 64-byte aligned. */
static const char *read_isa = "scalar x4";
static uint64_t plain_read(const unsigned char *buf, size_t bytes)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) {
        read_isa = "avx512";
        return plain_read_avx512(buf, bytes);
    }
    if (__builtin_cpu_supports("avx2")) {
        read_isa = "avx2";
        return plain_read_avx2(buf, bytes);
    }
#endif
    return plain_read_scalar(buf, bytes);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum method { M_FEED, M_FEED_BLOCKS, M_COUNTING, M_DOUBLE, M_READ, M_COUNT };
static const char *method_name[M_COUNT] = {"l2_accum_feed", "feed 64K blocks", "feed_counting",
                                           "double loop", "plain read"};

/* The largest |x| of the n elements of t at buf, the obvious way. */
static double plain_max_abs(enum l2_dtype t, const unsigned char *buf, size_t n)
{
    size_t w = l2_dtype_size(t);
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs(l2_dtype_load_le(t, buf + i * w));
        m = x > m ? x : m;
    }
    return m;
}

static double want_max_abs; /* of the buffer being measured */

/* One timed run of method m; returns seconds. */
static double run_once(enum method m, enum l2_dtype t, const unsigned char *buf, size_t n,
                       double *exact)
{
    struct l2_accum acc;
    size_t w = l2_dtype_size(t), per = BLOCK_BYTES / w;
    double t0 = now(), s;

    switch (m) {
    case M_FEED:
        l2_accum_init(&acc);
        if (l2_accum_feed(&acc, t, buf, n, NULL) != L2_OK)
            abort();
        l2_accum_sum(&acc, &s);
        if (acc.max_abs != want_max_abs)
            abort();
        sink_d = s;
        *exact = s;
        break;
    case M_FEED_BLOCKS:
        l2_accum_init(&acc);
        for (size_t i = 0; i < n; i += per)
            if (l2_accum_feed(&acc, t, buf + i * w, n - i < per ? n - i : per, NULL) != L2_OK)
                abort();
        l2_accum_sum(&acc, &s);
        if (s != *exact || acc.max_abs != want_max_abs)
            abort(); /* the split must not change a bit */
        sink_d = s;
        break;
    case M_COUNTING:
        l2_accum_init(&acc);
        l2_accum_feed_counting(&acc, t, buf, n);
        l2_accum_sum(&acc, &s);
        if (s != *exact || acc.max_abs != want_max_abs || acc.count != n)
            abort();
        sink_d = s;
        break;
    case M_DOUBLE:
        sink_d = plain_double_loop(t, buf, n);
        break;
    default:
        sink_u = plain_read(buf, n * w);
        break;
    }
    return now() - t0;
}

static void print_machine(void)
{
    char line[512], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c += 2;
                    c[strcspn(c, "\n")] = '\0';
                    snprintf(model, sizeof model, "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    printf("machine: %s, %ld cores online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
}

int main(int argc, char **argv)
{
    size_t mib = 256;
    const enum l2_dtype order[4] = {L2_DTYPE_FLOAT32, L2_DTYPE_FLOAT64, L2_DTYPE_FLOAT16,
                                    L2_DTYPE_BFLOAT16};
    enum l2_accum_impl impl = l2_accum_impl_get();

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v == 0 || v > 65536) {
                fprintf(stderr, "bench_kernel: --mib takes 1..65536\n");
                return 2;
            }
            mib = v;
        } else if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            int k;
            for (k = 0; k < L2_ACCUM_IMPL_COUNT; k++)
                if (strcmp(name, l2_accum_impl_name((enum l2_accum_impl)k)) == 0)
                    break;
            if (k == L2_ACCUM_IMPL_COUNT || !l2_accum_impl_set((enum l2_accum_impl)k)) {
                fprintf(stderr, "bench_kernel: implementation %s unknown or unsupported here\n",
                        name);
                return 2;
            }
            impl = (enum l2_accum_impl)k;
        } else {
            fprintf(stderr, "usage: bench_kernel [--mib N] [--impl portable|avx2|avx512ifma]\n");
            return 2;
        }
    }
    size_t bytes = mib << 20;
    unsigned char *buf = aligned_alloc(64, bytes);
    if (!buf) {
        fprintf(stderr, "bench_kernel: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    for (unsigned h = 0; h < 65536; h++) {
        unsigned char b[2] = {(unsigned char)(h & 255), (unsigned char)(h >> 8)};
        f16_table[h] = l2_dtype_load_le(L2_DTYPE_FLOAT16, b);
    }

    print_machine();
    static const unsigned char probe[64] __attribute__((aligned(64)));
    sink_u = plain_read(probe, sizeof probe); /* sets read_isa */
    printf("kernel implementation: %s; plain read: %s\n", l2_accum_impl_name(impl), read_isa);
    printf("buffer: %zu MiB of normal(0,1) values per dtype, median of %d runs, GB/s (1e9 B/s)\n\n",
           mib, RUNS);
    printf("%-9s", "dtype");
    for (int m = 0; m < M_COUNT; m++)
        printf(" %16s", method_name[m]);
    printf("  %s  %s\n", "feed / read", "blocks / read");

    for (int k = 0; k < 4; k++) {
        enum l2_dtype t = order[k];
        size_t n = bytes / l2_dtype_size(t);
        double gbs[M_COUNT], exact = 0;

        fill(t, buf, n);
        want_max_abs = plain_max_abs(t, buf, n);
        /* methods interleaved within each round, so that a neighbour's load
         * on a shared machine hits them alike */
        double secs[M_COUNT][RUNS];
        for (int r = 0; r < RUNS; r++)
            for (int m = 0; m < M_COUNT; m++)
                secs[m][r] = run_once((enum method)m, t, buf, n, &exact);
        for (int m = 0; m < M_COUNT; m++) {
            qsort(secs[m], RUNS, sizeof secs[m][0], cmp_double);
            gbs[m] = (double)(n * l2_dtype_size(t)) / secs[m][RUNS / 2] / 1e9;
        }
        printf("%-9s", l2_dtype_name(t));
        for (int m = 0; m < M_COUNT; m++)
            printf(" %16.2f", gbs[m]);
        printf("  %10.0f%%  %12.0f%%\n", 100 * gbs[M_FEED] / gbs[M_READ],
               100 * gbs[M_FEED_BLOCKS] / gbs[M_READ]);
        fflush(stdout);
    }
    free(buf);
    return 0;
}
