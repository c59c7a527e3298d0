/* accum_window.c -- the driver of the fixed-point window kernels.
 *
 * Each block is squared in the current window while its exponent range is
 * found, in one pass that streams from memory; a block that does not fit
 * (rare in real data) is squared again, from L1, in a window fitted to it, or,
 * when no window fits (subnormals, or too wide a range), given to the portable
 * code with a run of the blocks that follow it. A run cut short by the end of
 * a call goes on at the start of the stream's next call (struct
 * l2_accum_stream). */
#include "accum_impl.h"

#include <string.h>

/* Blocks in the first portable run after a block no window fits; runs
 * double while such blocks go on (such data tends to), up to the maximum. */
#define ACCUM_RUN_MIN 4
#define ACCUM_RUN_MAX 64

unsigned l2_accum_window_base(unsigned emax, unsigned emin, unsigned win)
{
    unsigned base = emax > win - 1 ? emax - (win - 2) : 1;
    return base > emin ? emin : base;
}

enum l2_status l2_accum_window_feed(const struct l2_accum_window_kernel *k, struct l2_accum *a,
                                    struct l2_accum_stream *s, enum l2_dtype dtype,
                                    const unsigned char *p, size_t n, size_t *bad_index)
{
    const size_t w = l2_dtype_size(dtype);
    const unsigned char *end = p + n * w;
    _Alignas(64) unsigned char acc[L2_ACCUM_WINDOW_STATE_MAX];
    _Alignas(64) unsigned char trial[L2_ACCUM_WINDOW_STATE_MAX];
    unsigned base, emax, emin;
    uint64_t xmax = 0, bmax; /* largest magnitude so far, of the block */
    size_t at, len, bad = 0;
    size_t since = 0; /* elements added since the last flush */
    /* blocks in the next portable run, elements left of the current one */
    size_t run = s != NULL && s->run != 0 ? s->run : ACCUM_RUN_MIN;
    uint64_t left = s != NULL ? s->portable_left : 0;

    if (left >= n) { /* the whole call goes on with the stream's portable run */
        if (s != NULL)
            s->portable_left = left - n;
        return l2_accum_feed_portable(a, dtype, p, n, bad_index);
    }
    memset(acc, 0, k->state_size);
    memset(trial, 0, k->state_size);
    /* a first guess from the first elements (a base is >= 1) */
    k->pass(dtype, p, n < k->probe ? n : k->probe, end, 1, trial, &emax, &emin, &bmax);
    base = l2_accum_window_base(emax, emin - 1 < k->e_nonfinite ? emin : 1, k->win);
    for (at = 0; at < n; at += len) {
        const unsigned char *q = p + at * w;

        if (left > 0) { /* the rest of a run the stream's last call began */
            len = n - at < left ? n - at : (size_t)left;
            left -= len;
            if (l2_accum_feed_portable(a, dtype, q, len, &bad) != L2_OK)
                goto out_non_finite;
            continue;
        }
        len = n - at < k->block ? n - at : k->block;
        if (since + len > k->segment) {
            k->flush(a, acc, base);
            since = 0;
        }
        memcpy(trial, acc, k->state_size);
        k->pass(dtype, q, len, end, base, trial, &emax, &emin, &bmax);
        if (emax == k->e_nonfinite) {
            bad = l2_accum_first_bad(dtype, q, len);
            goto out_block_non_finite;
        }
        xmax = bmax > xmax ? bmax : xmax;
        if (emin == k->e_nonfinite + 1 || (emin >= base && emax <= base + k->win)) {
            memcpy(acc, trial, k->state_size);
            since += len;
            run = ACCUM_RUN_MIN;
            continue;
        }
        if (emin == 0 || emax - emin > k->win) {
            len = n - at < run * k->block ? n - at : run * k->block;
            left = run * k->block - len;
            run = run < ACCUM_RUN_MAX ? 2 * run : ACCUM_RUN_MAX;
            if (l2_accum_feed_portable(a, dtype, q, len, &bad) != L2_OK)
                goto out_non_finite; /* the run stopped clean */
            continue;
        }
        k->flush(a, acc, base);
        base = l2_accum_window_base(emax, emin, k->win);
        k->pass(dtype, q, len, end, base, acc, &emax, &emin, &bmax);
        since = len;
        run = ACCUM_RUN_MIN;
    }
    k->flush(a, acc, base);
    l2_accum_take_max(a, k->lanes, xmax);
    if (s != NULL) {
        s->run = run > ACCUM_RUN_MIN ? (unsigned)run : 0; /* 0: the last block fitted */
        s->portable_left = left;
    }
    return L2_OK;

out_block_non_finite: /* at element bad of the block at element at: its finite
                       * elements before it go in again, a stop as clean as
                       * the portable code's (they cannot fail) */
    if (bad >= k->min_feed)
        l2_accum_window_feed(k, a, NULL, dtype, p + at * w, bad, NULL);
    else if (bad > 0)
        l2_accum_feed_portable(a, dtype, p + at * w, bad, NULL);
out_non_finite: /* at element bad of the block or run at element at */
    k->flush(a, acc, base);
    l2_accum_take_max(a, k->lanes, xmax);
    if (bad_index)
        *bad_index = at + bad;
    return L2_NON_FINITE;
}
