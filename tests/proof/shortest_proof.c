/* shortest_proof.c -- the long comparison of api/shortest.c with the MPFR
 * reference (tests/support/shortest_ref.c): N random finite doubles (random
 * bit patterns, so every exponent field and sign is drawn alike) and,
 * first, every binade's boundary values, each with its negation (smallest, largest and middle
 * significands, the power of two's neighbours), split over threads. Prints the count checked and
 * exits 1 at the first difference, which it prints.
 *
 *   shortest_proof [N [THREADS [SEED]]]   (defaults 100000000, 2, 1)
 *
 * `make proof-printer` runs it; the unit tests run a smaller sample. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/shortest.h"
#include "tests/support/rng.h"
#include "tests/support/shortest_ref.h"

struct job {
    uint64_t n;        /* random values to check */
    uint64_t seed;     /* of this thread's draws */
    uint64_t be0, be1; /* exponent fields [be0, be1) whose boundaries it checks */
    uint64_t checked;
};

static atomic_bool failed;

/* Checks x: 1, or 0 (after printing) on a difference. */
static int check_one(double x, mpfr_t work)
{
    char got[API_SHORTEST_MAX], want[SHORTEST_REF_MAX];

    api_shortest_repr(x, got);
    shortest_ref_repr(x, want, work);
    if (strcmp(got, want) == 0)
        return 1;
    fprintf(stderr, "shortest_proof: %a: printer %s, reference %s\n", x, got, want);
    atomic_store(&failed, true);
    return 0;
}

/* Checks x and -x: 2, or less on a difference. */
static int check(double x, mpfr_t work)
{
    return check_one(x, work) + check_one(-x, work);
}

static void *run(void *arg)
{
    struct job *j = arg;
    mpfr_t work;

    mpfr_init2(work, 64);
    for (uint64_t be = j->be0; be < j->be1 && !atomic_load(&failed); be++) {
        const uint64_t sig[] = {
            0, 1, 2, 3, UINT64_C(1) << 51, (UINT64_C(1) << 52) - 2, (UINT64_C(1) << 52) - 1};
        for (size_t i = 0; i < sizeof sig / sizeof sig[0]; i++) {
            uint64_t bits = be << 52 | sig[i];
            double x;
            memcpy(&x, &bits, sizeof x);
            j->checked += (uint64_t)check(x, work);
        }
    }
    for (uint64_t i = 0; i < j->n && !atomic_load(&failed);) {
        uint64_t bits = rng_splitmix64(&j->seed);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x))
            continue;
        j->checked += (uint64_t)check_one(x, work);
        i++;
    }
    mpfr_clear(work);
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000000u;
    unsigned threads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2u;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1u;
    struct job jobs[64];
    pthread_t tid[64];
    struct timespec t0, t1;
    uint64_t total = 0;

    if (threads < 1 || threads > 64) {
        fprintf(stderr, "shortest_proof: THREADS must be 1 to 64\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned t = 0; t < threads; t++) {
        jobs[t] = (struct job){.n = n / threads + (t < n % threads),
                               .seed = seed * 0x9e3779b97f4a7c15u + t,
                               .be0 = 2047u * t / threads,
                               .be1 = 2047u * (t + 1) / threads};
        pthread_create(&tid[t], NULL, run, &jobs[t]);
    }
    for (unsigned t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        total += jobs[t].checked;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("shortest_proof: %" PRIu64 " doubles printed as the MPFR "
           "reference prints them, %s, in %.0f s\n",
           total, atomic_load(&failed) ? "then a DIFFERENCE" : "no difference",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return atomic_load(&failed) ? 1 : 0;
}
