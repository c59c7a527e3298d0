/* test_result.c -- named-tensor results: copies, rounding, totals, the
 * duplicate-name index (byte-exact, NUL-safe), limits, JSON Pointer
 * escaping, and that a refused tensor leaves the result unchanged. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/result.h"

static double total_of(const struct api_result *res)
{
    double s;
    l2_accum_sum(&res->total, &s);
    return s;
}

static void acc_of(struct l2_accum *acc, const double *x, size_t n)
{
    l2_accum_init(acc);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(l2_accum_add(acc, x[i]), L2_OK);
}

Test(result, init_is_empty)
{
    struct api_result res;
    api_result_init(&res, L2_DTYPE_FLOAT16);
    cr_assert_eq(res.dtype, L2_DTYPE_FLOAT16);
    cr_assert_not(res.named);
    cr_assert_eq(res.n_tensors, 0);
    cr_assert_eq(res.ndim, 0);
    cr_assert_eq(res.total.count, 0);
    cr_assert_eq(total_of(&res), 0.0);
    api_result_free(&res);
    api_result_free(NULL);
}

Test(result, add_copies_and_merges)
{
    struct api_result res;
    struct api_error err;
    struct l2_accum acc;
    char name[] = "dense/kernel";
    uint64_t shape[2] = {2, 2};
    const double k[] = {1, 2, 3, 4}, b[] = {0.1};

    api_result_init(&res, L2_DTYPE_FLOAT64);
    api_error_init(&err);
    acc_of(&acc, k, 4);
    cr_assert_eq(api_result_add_tensor(&res, name, strlen(name), &acc, 2, shape, &err), API_OK);
    name[0] = 'X'; /* the result holds its own copies */
    shape[0] = 9;
    acc_of(&acc, b, 1);
    cr_assert_eq(api_result_add_tensor(&res, "dense/bias", 10, &acc, 0, NULL, &err), API_OK);
    cr_assert_eq(res.n_tensors, 2);
    cr_assert_str_eq(res.tensors[0].name, "dense/kernel");
    cr_assert_eq(res.tensors[0].name_len, 12);
    cr_assert_eq(res.tensors[0].ndim, 2);
    cr_assert_eq(res.tensors[0].shape[0], 2);
    cr_assert_eq(res.tensors[0].shape[1], 2);
    cr_assert_eq(res.tensors[0].sum_squares, 30.0);
    cr_assert_eq(res.tensors[0].half_sum, 15.0);
    cr_assert_eq(res.tensors[0].count, 4);
    cr_assert_eq(res.tensors[1].sum_squares, 0.1 * 0.1); /* one product, rounded once */
    cr_assert_eq(res.tensors[1].ndim, 0);
    cr_assert_eq(res.total.count, 5);
    /* the total is the exact sum rounded once: 30 + 0.1^2 exactly, then rounded */
    cr_assert_eq(total_of(&res), 30.01);
    cr_assert_eq(err.status, API_OK);
    api_result_free(&res);
    cr_assert_eq(res.n_tensors, 0);
    cr_assert_eq(res.total.count, 0);
}

static void expect_refused(struct api_result *res, const char *name, size_t len,
                           const char *pointer)
{
    struct api_error err;
    struct l2_accum acc;
    const double one = 1.0;
    size_t before = res->n_tensors;
    uint64_t count = res->total.count;

    api_error_init(&err);
    acc_of(&acc, &one, 1);
    cr_assert_eq(api_result_check_name(res, name, len, NULL), API_INVALID_TENSOR);
    cr_assert_eq(api_result_add_tensor(res, name, len, &acc, 0, NULL, &err), API_INVALID_TENSOR);
    cr_assert_eq(err.status, API_INVALID_TENSOR);
    cr_assert(err.has_pointer);
    cr_assert_str_eq(err.pointer, pointer);
    cr_assert_neq(err.detail[0], '\0');
    cr_assert_eq(res->n_tensors, before);
    cr_assert_eq(res->total.count, count);
}

Test(result, names_checked_by_bytes)
{
    struct api_result res;
    struct l2_accum acc;
    const double two = 2.0;
    static char big[API_MAX_NAME + 1];

    api_result_init(&res, L2_DTYPE_FLOAT64);
    acc_of(&acc, &two, 1);
    cr_assert_eq(api_result_add_tensor(&res, "a\0b", 3, &acc, 0, NULL, NULL), API_OK);
    cr_assert_eq(api_result_add_tensor(&res, "a\0c", 3, &acc, 0, NULL, NULL), API_OK);
    cr_assert_eq(api_result_add_tensor(&res, "a", 1, &acc, 0, NULL, NULL), API_OK);
    cr_assert_eq(api_result_add_tensor(&res, "a\0", 2, &acc, 0, NULL, NULL), API_OK);
    cr_assert_eq(api_result_add_tensor(&res, "a/b~c", 5, &acc, 0, NULL, NULL), API_OK);
    memset(big, 'n', sizeof big);
    cr_assert_eq(api_result_add_tensor(&res, big, API_MAX_NAME, &acc, 0, NULL, NULL), API_OK);
    cr_assert_eq(res.tensors[1].name_len, 3);
    cr_assert_eq(memcmp(res.tensors[1].name, "a\0c", 4), 0); /* NUL-terminated too */

    expect_refused(&res, "a\0b", 3, "/tensors/a\0b"); /* pointer is NUL-truncated text */
    expect_refused(&res, "a/b~c", 5, "/tensors/a~1b~0c");
    expect_refused(&res, "a", 1, "/tensors/a");
    expect_refused(&res, "", 0, "/tensors/");
    expect_refused(&res, big, API_MAX_NAME + 1, "/tensors");
    cr_assert_eq(res.n_tensors, 6);
    cr_assert_eq(total_of(&res), 24.0);
    api_result_free(&res);
}

Test(result, tensor_limit)
{
    struct api_result res;
    struct l2_accum acc;
    const double one = 1.0;
    char name[32];

    api_result_init(&res, L2_DTYPE_FLOAT64);
    acc_of(&acc, &one, 1);
    for (int i = 0; i < API_MAX_TENSORS; i++) {
        int n = snprintf(name, sizeof name, "t%d", i);
        cr_assert_eq(api_result_add_tensor(&res, name, (size_t)n, &acc, 0, NULL, NULL), API_OK);
    }
    /* every name still found after the index grew many times */
    for (int i = 0; i < API_MAX_TENSORS; i += 97) {
        int n = snprintf(name, sizeof name, "t%d", i);
        cr_assert_eq(api_result_check_name(&res, name, (size_t)n, NULL), API_INVALID_TENSOR);
    }
    expect_refused(&res, "one-too-many", 12, "/tensors/one-too-many");
    cr_assert_eq(res.n_tensors, API_MAX_TENSORS);
    cr_assert_eq(total_of(&res), (double)API_MAX_TENSORS);
    api_result_free(&res);
}

Test(result, overflowing_tensor_sum_is_inf)
{
    struct api_result res;
    struct l2_accum acc;
    const double x[] = {1e300, 1.0};

    api_result_init(&res, L2_DTYPE_FLOAT64);
    acc_of(&acc, x, 2);
    cr_assert_eq(api_result_add_tensor(&res, "big", 3, &acc, 0, NULL, NULL), API_OK);
    cr_assert(isinf(res.tensors[0].sum_squares));
    cr_assert(isinf(res.tensors[0].half_sum));
    double s;
    cr_assert_eq(l2_accum_sum(&res.total, &s), L2_OVERFLOW);
    api_result_free(&res);
}

Test(result, half_sum_rounded_once)
{
    /* Five squares of 2^-538 sum to 1.25 * 2^-1074: the sum rounds to
     * 2^-1074, whose half rounds (ties to even) to 0; the exact half,
     * 0.625 * 2^-1074, rounds once to 2^-1074. */
    struct api_result res;
    struct l2_accum acc;
    const double x[] = {0x1p-538, 0x1p-538, 0x1p-538, 0x1p-538, 0x1p-538};

    api_result_init(&res, L2_DTYPE_FLOAT64);
    acc_of(&acc, x, 5);
    cr_assert_eq(api_result_add_tensor(&res, "five", 4, &acc, 1, (uint64_t[]){5}, NULL), API_OK);
    cr_assert_eq(res.tensors[0].sum_squares, 0x1p-1074);
    cr_assert_eq(res.tensors[0].sum_squares / 2, 0.0);
    cr_assert_eq(res.tensors[0].half_sum, 0x1p-1074);
    api_result_free(&res);
}

Test(result, pointer_append)
{
    char buf[16];
    size_t pos = 0;

    cr_assert(api_result_pointer_append(buf, sizeof buf, &pos, "tensors", 7));
    cr_assert(api_result_pointer_append(buf, sizeof buf, &pos, "a~/", 3));
    cr_assert_str_eq(buf, "/tensors/a~0~1");
    cr_assert_eq(pos, 14);
    /* "/x" does not fit in the 1 byte left: refused, text stays terminated */
    cr_assert_not(api_result_pointer_append(buf, sizeof buf, &pos, "xy", 2));
    cr_assert_eq(strlen(buf), pos);
    cr_assert_lt(pos, sizeof buf);
    pos = 0;
    cr_assert(api_result_pointer_append(buf, sizeof buf, &pos, "", 0));
    cr_assert_str_eq(buf, "/");
}

/* A tensor keeps its exact state (for partials) only when the result asks
 * for it: a checkpoint of 10000 tensors costs a small entry each, not a
 * whole accumulator. */
Test(result, exact_state_kept_only_when_asked)
{
    struct api_result res;
    struct api_error err;
    struct l2_accum acc;

    l2_accum_init(&acc);
    l2_accum_add(&acc, 3.0);
    api_result_init(&res, L2_DTYPE_FLOAT64);
    cr_assert_eq(api_result_add_tensor(&res, "a", 1, &acc, 0, NULL, &err), API_OK);
    cr_assert_null(res.tensors[0].exact);
    res.keep_exact = true;
    cr_assert_eq(api_result_add_tensor(&res, "b", 1, &acc, 0, NULL, &err), API_OK);
    cr_assert_not_null(res.tensors[1].exact);
    cr_assert_eq(memcmp(res.tensors[1].exact, &acc, sizeof acc), 0);
    cr_assert_eq(api_result_add_skipped(&res, "c", 1, "I64", &err), API_OK);
    cr_assert_null(res.tensors[2].exact);
    api_result_free(&res);
}

/* Duplicates are found by bytes both while the names are scanned (the first
 * few) and once they are in the hash set (more than eight): every earlier
 * name is refused after each addition, names that differ past a NUL byte
 * are not, and a refusal leaves the result as it was. */
Test(result, duplicates_found_by_scan_and_by_index)
{
    struct api_result res;
    struct l2_accum acc;
    const double one = 1.0;
    char name[16];

    api_result_init(&res, L2_DTYPE_FLOAT64);
    acc_of(&acc, &one, 1);
    for (size_t k = 0; k < 40; k++) {
        int len = snprintf(name, sizeof name, "t%zu%cx", k, '\0');
        name[len - 1] = (char)('a' + k % 3); /* "t<k>\0a", "t<k>\0b", ... */
        cr_assert_eq(api_result_add_tensor(&res, name, (size_t)len, &acc, 0, NULL, NULL), API_OK,
                     "tensor %zu", k);
        for (size_t j = 0; j <= k; j++) {
            char again[16];
            int n = snprintf(again, sizeof again, "t%zu%cx", j, '\0');
            again[n - 1] = (char)('a' + j % 3);
            cr_assert_eq(api_result_add_tensor(&res, again, (size_t)n, &acc, 0, NULL, NULL),
                         API_INVALID_TENSOR, "tensor %zu again, after %zu", j, k);
            again[n - 1] = (char)('a' + (j + 1) % 3); /* differs after the NUL */
            cr_assert_eq(api_result_check_name(&res, again, (size_t)n, NULL), API_OK,
                         "a twin of %zu, after %zu", j, k);
        }
        cr_assert_eq(res.n_tensors, k + 1);
        cr_assert_eq(res.total.count, k + 1);
    }
    for (size_t k = 0; k < 40; k++) {
        cr_assert_eq(res.tensors[k].name_len, (size_t)snprintf(name, sizeof name, "t%zu", k) + 2);
        cr_assert_str_eq(res.tensors[k].name, name);
    }
    api_result_free(&res);
}

/* The first sum into an empty total is copied rather than added: the total
 * has every bit l2_accum_merge would give it, also for an empty or all-zero
 * tensor (max_abs +0.0), and later sums are added to it. */
Test(result, total_bits_as_merged)
{
    static const double zeros[] = {0.0, -0.0}, some[] = {3.0, -0.5, 1e-300}, more[] = {7.25};
    const struct {
        const double *v;
        size_t n;
    } seqs[][3] = {
        {{zeros, 2}, {some, 3}, {more, 1}},
        {{some, 3}, {zeros, 2}, {more, 1}},
        {{NULL, 0}, {some, 3}, {zeros, 2}},
        {{more, 1}, {NULL, 0}, {some, 3}},
    };

    for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
        struct api_result res;
        struct l2_accum acc, want;

        api_result_init(&res, L2_DTYPE_FLOAT64);
        l2_accum_init(&want);
        for (size_t k = 0; k < 3; k++) {
            char name[8];
            snprintf(name, sizeof name, "x%zu", k);
            acc_of(&acc, seqs[s][k].v, seqs[s][k].n);
            cr_assert_eq(api_result_add_tensor(&res, name, strlen(name), &acc, 0, NULL, NULL),
                         API_OK);
            l2_accum_merge(&want, &acc);
            cr_assert_eq(memcmp(&res.total, &want, sizeof want), 0, "sequence %zu, tensor %zu", s,
                         k);
        }
        api_result_free(&res);
    }
}

/* Everything a tensor holds (exact state, shape, name, a skipped tensor's
 * dtype code) is its own copy, whole, for the longest shape and name. */
Test(result, tensor_copies_whole)
{
    struct api_result res;
    struct l2_accum acc;
    uint64_t shape[API_MAX_DEPTH];
    static char big[API_MAX_NAME];
    const double x[] = {2.0, 0.5};

    for (unsigned d = 0; d < API_MAX_DEPTH; d++)
        shape[d] = 1000u + d;
    memset(big, 'q', sizeof big);
    big[7] = '\0';
    acc_of(&acc, x, 2);
    api_result_init(&res, L2_DTYPE_FLOAT32);
    res.keep_exact = true;
    cr_assert_eq(api_result_add_typed(&res, big, sizeof big, L2_DTYPE_BFLOAT16, &acc, API_MAX_DEPTH,
                                      shape, NULL),
                 API_OK);
    cr_assert_eq(api_result_add_skipped(&res, "s", 1, "<i8", NULL), API_OK);
    cr_assert_eq(api_result_add_typed(&res, "r", 1, L2_DTYPE_FLOAT16, &acc, 1, shape, NULL),
                 API_OK);
    memset(shape, 0, sizeof shape);
    l2_accum_add(&acc, 9.0);
    memset(big, 'z', sizeof big);

    const struct api_tensor *t = &res.tensors[0];
    cr_assert_eq(t->ndim, API_MAX_DEPTH);
    for (unsigned d = 0; d < API_MAX_DEPTH; d++)
        cr_assert_eq(t->shape[d], 1000u + d, "shape[%u]", d);
    cr_assert_eq(t->name_len, API_MAX_NAME);
    cr_assert_eq(t->name[API_MAX_NAME], '\0');
    for (size_t i = 0; i < API_MAX_NAME; i++)
        cr_assert_eq(t->name[i], i == 7 ? '\0' : 'q', "name[%zu]", i);
    cr_assert_not_null(t->exact);
    cr_assert_eq(t->exact->count, 2);
    cr_assert_eq(t->sum_squares, 4.25);
    cr_assert_null(t->skipped);
    cr_assert_str_eq(res.tensors[1].skipped, "<i8");
    cr_assert_str_eq(res.tensors[1].name, "s");
    cr_assert_null(res.tensors[1].exact);
    cr_assert_eq(res.tensors[2].shape[0], 1000u);
    cr_assert_eq(res.tensors[2].exact->count, 2);
    cr_assert_str_eq(res.tensors[2].name, "r");
    api_result_free(&res);
}
