/* accum.c -- the exact accumulator: its public operations and the one place
 * that picks an implementation for l2_accum_feed.
 *
 * The sum is a fixed-point integer (accum.h); every implementation adds the
 * same exact squares to it, so all give the same bits. Results are read by
 * accum_round.c. */
#include "accum.h"
#include "accum_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

void l2_accum_init(struct l2_accum *acc)
{
    memset(acc, 0, sizeof *acc);
}

enum l2_status l2_accum_add(struct l2_accum *acc, double x)
{
    uint64_t bits, m;
    unsigned be;

    if (!isfinite(x))
        return L2_NON_FINITE;
    memcpy(&bits, &x, sizeof bits);
    be = (unsigned)(bits >> L2_FLOAT64_FBITS) & L2_FLOAT64_EALL;
    m = bits & ((UINT64_C(1) << L2_FLOAT64_FBITS) - 1);
    if (be)
        m |= UINT64_C(1) << L2_FLOAT64_FBITS;
    if (m)
        l2_accum_add_at(acc->limb, (l2_accum_u128)m * m,
                        l2_accum_shift(be, L2_FLOAT64_FBITS, L2_FLOAT64_BIAS));
    if (fabs(x) > acc->max_abs)
        acc->max_abs = fabs(x);
    acc->count++;
    return L2_OK;
}

/* The implementation in use, or -1 before the first choice. A cache of what
 * the CPU supports (tests may switch it), atomic because feeds run on many
 * threads. */
static _Atomic int accum_impl = -1;

bool l2_accum_impl_supported(enum l2_accum_impl impl)
{
    switch (impl) {
    case L2_ACCUM_IMPL_PORTABLE:
        return true;
    case L2_ACCUM_IMPL_AVX2:
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    {
        /* F16C by CPUID: not every compiler's __builtin_cpu_supports knows it */
        unsigned a, b, c, d;
        return __builtin_cpu_supports("avx2") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    }
#else
        return false;
#endif
    case L2_ACCUM_IMPL_AVX512IFMA:
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512ifma");
#else
        return false;
#endif
    }
    return false;
}

enum l2_accum_impl l2_accum_impl_get(void)
{
    int impl = atomic_load_explicit(&accum_impl, memory_order_relaxed);

    if (impl < 0) {
        impl = L2_ACCUM_IMPL_COUNT - 1; /* the fastest first */
        while (!l2_accum_impl_supported((enum l2_accum_impl)impl))
            impl--;
        atomic_store_explicit(&accum_impl, impl, memory_order_relaxed);
    }
    return (enum l2_accum_impl)impl;
}

bool l2_accum_impl_set(enum l2_accum_impl impl)
{
    if (!l2_accum_impl_supported(impl))
        return false;
    atomic_store_explicit(&accum_impl, (int)impl, memory_order_relaxed);
    return true;
}

const char *l2_accum_impl_name(enum l2_accum_impl impl)
{
    switch (impl) {
    case L2_ACCUM_IMPL_AVX2:
        return "avx2";
    case L2_ACCUM_IMPL_AVX512IFMA:
        return "avx512ifma";
    case L2_ACCUM_IMPL_PORTABLE:
    default:
        return "portable";
    }
}

/* The window kernel that impl runs for dtype, or NULL for the portable code. */
static const struct l2_accum_window_kernel *accum_kernel(enum l2_accum_impl impl,
                                                         enum l2_dtype dtype)
{
    switch (impl) {
    case L2_ACCUM_IMPL_AVX512IFMA:
        return l2_accum_avx512ifma_kernel(dtype);
    case L2_ACCUM_IMPL_AVX2:
        return l2_accum_avx2_kernel(dtype);
    case L2_ACCUM_IMPL_PORTABLE:
        break;
    }
    return NULL;
}

/* l2_accum_feed without counting, by the implementation in use; s as
 * l2_accum_window_feed takes it. */
static enum l2_status accum_feed_any(struct l2_accum *acc, struct l2_accum_stream *s,
                                     enum l2_dtype dtype, const unsigned char *p, size_t n,
                                     size_t *bad_index)
{
    const struct l2_accum_window_kernel *k = accum_kernel(l2_accum_impl_get(), dtype);

    if (k && n >= k->min_feed)
        return l2_accum_window_feed(k, acc, s, dtype, p, n, bad_index);
    return l2_accum_feed_portable(acc, dtype, p, n, bad_index);
}

bool l2_accum_stream_portable(const struct l2_accum_stream *s, enum l2_dtype dtype)
{
    return s->portable_left > 0 || s->run != 0 || accum_kernel(l2_accum_impl_get(), dtype) == NULL;
}

enum l2_status l2_accum_feed_stream(struct l2_accum *acc, struct l2_accum_stream *s,
                                    enum l2_dtype dtype, const void *data, size_t n,
                                    size_t *bad_index)
{
    enum l2_status st = accum_feed_any(acc, s, dtype, data, n, bad_index);

    if (st == L2_OK)
        acc->count += n;
    return st;
}

enum l2_status l2_accum_feed(struct l2_accum *acc, enum l2_dtype dtype, const void *data, size_t n,
                             size_t *bad_index)
{
    return l2_accum_feed_stream(acc, NULL, dtype, data, n, bad_index);
}

/* How l2_accum_feed_counting goes on after a NaN or infinity found GAP
 * elements after the previous one (in the same call): where they are that
 * dense (GAP < DENSE) the next SPAN elements go element by element, which
 * costs less there than vector passes cut short and restarted; else the fast
 * path gets twice the gap plus SLACK, and four times more after each clean
 * feed. */
#define ACCUM_COUNTING_DENSE 16
#define ACCUM_COUNTING_SPAN 8192
#define ACCUM_COUNTING_SLACK 64

/* Counts one non-finite x in nan_count or inf_count (not in count). */
static void accum_count_nonfinite(struct l2_accum *acc, double x)
{
    if (isnan(x))
        acc->nan_count++;
    else
        acc->inf_count++;
}

/* The fast path stops clean at the first NaN or infinity (accum_impl.h):
 * the sum and max_abs then hold exactly the elements before it. The run of
 * non-finite elements there is counted, and the feed goes on after it. */
void l2_accum_feed_counting(struct l2_accum *acc, enum l2_dtype dtype, const void *data, size_t n)
{
    const unsigned char *p = data;
    const size_t w = l2_dtype_size(dtype);
    size_t at = 0, span = n; /* elements of the next fast feed */
    size_t after = SIZE_MAX; /* index after the last non-finite one; none yet */

    while (at < n) {
        size_t len = n - at < span ? n - at : span, bad = 0, gap;

        if (accum_feed_any(acc, NULL, dtype, p + at * w, len, &bad) == L2_OK) {
            at += len;
            span = span < n / 4 ? 4 * span : n;
            continue;
        }
        at += bad;
        gap = after == SIZE_MAX ? SIZE_MAX : at - after;
        at += l2_accum_count_nonfinite(acc, dtype, p + at * w, n - at);
        after = at;
        if (gap < ACCUM_COUNTING_DENSE) {
            len = n - at < ACCUM_COUNTING_SPAN ? n - at : ACCUM_COUNTING_SPAN;
            l2_accum_feed_mixed(acc, dtype, p + at * w, len);
            at += len;
        }
        span = 2 * (gap < n ? gap : bad) + ACCUM_COUNTING_SLACK;
    }
    acc->count += n;
}

void l2_accum_add_nonfinite(struct l2_accum *acc, double x)
{
    if (isfinite(x)) {
        l2_accum_add(acc, x);
    } else {
        accum_count_nonfinite(acc, x);
        acc->count++;
    }
}

void l2_accum_merge(struct l2_accum *dst, const struct l2_accum *src)
{
    bool carry = false;

    if (dst->count == 0) { /* the empty sum: src's, without the limb adds */
        double max_abs = dst->max_abs;

        *dst = *src;
        dst->max_abs = src->max_abs > max_abs ? src->max_abs : max_abs;
        return;
    }

    for (unsigned i = 0; i < L2_ACCUM_LIMBS; i++) {
        bool c1 = __builtin_add_overflow(dst->limb[i], src->limb[i], &dst->limb[i]);
        bool c2 = __builtin_add_overflow(dst->limb[i], (uint64_t)carry, &dst->limb[i]);
        carry = c1 || c2;
    }
    dst->count += src->count;
    dst->nan_count += src->nan_count;
    dst->inf_count += src->inf_count;
    if (src->max_abs > dst->max_abs)
        dst->max_abs = src->max_abs;
}
