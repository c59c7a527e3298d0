/* result.c -- the result of a decoded body: totals plus named-tensor entries.
 *
 * Named tensors are kept in the order sent, each in one allocation (its
 * exact state, shape, name and skipped dtype code side by side). Duplicates
 * are found by comparing the few first names directly and, past
 * RESULT_SCAN_MAX of them, through a small open-addressing hash set of
 * their indices (keyed by name bytes and length, so names may hold U+0000)
 * in O(1). */
#include "result.h"

#include <stdlib.h>
#include <string.h>

/* Tensors looked up by a linear scan, before the hash set is built: a
 * request of a few inputs needs no index. */
#define RESULT_SCAN_MAX 8

/* Slots hold a tensor index + 1; 0 is an empty slot. The table is kept at
 * most half full, so probing always ends. */
struct names_index {
    size_t *slot;
    size_t cap; /* a power of two */
};

static uint64_t name_hash(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static bool index_find(const struct api_result *res, const char *name, size_t len)
{
    const struct names_index *ix = res->names_index;

    if (ix == NULL) {
        for (size_t i = 0; i < res->n_tensors; i++) {
            const struct api_tensor *t = &res->tensors[i];
            if (t->name_len == len && memcmp(t->name, name, len) == 0)
                return true;
        }
        return false;
    }
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)name_hash(name, len) & mask;; i = (i + 1) & mask) {
        size_t s = ix->slot[i];
        if (s == 0)
            return false;
        const struct api_tensor *t = &res->tensors[s - 1];
        if (t->name_len == len && memcmp(t->name, name, len) == 0)
            return true;
    }
}

static void index_put(struct names_index *ix, const struct api_tensor *tensors, size_t at)
{
    size_t mask = ix->cap - 1;
    size_t i = (size_t)name_hash(tensors[at].name, tensors[at].name_len) & mask;
    while (ix->slot[i] != 0)
        i = (i + 1) & mask;
    ix->slot[i] = at + 1;
}

/* Makes room in the index for n entries, building it once there are more
 * than RESULT_SCAN_MAX; false when out of memory (the index is then
 * unchanged). */
static bool index_reserve(struct api_result *res, size_t n)
{
    struct names_index *ix = res->names_index;
    size_t cap = 16;

    if (ix == NULL && n <= RESULT_SCAN_MAX)
        return true;

    while (cap / 2 < n)
        cap *= 2; /* n <= API_MAX_TENSORS, no overflow */
    if (ix != NULL && ix->cap >= cap)
        return true;
    size_t *slot = calloc(cap, sizeof *slot);
    if (slot == NULL)
        return false;
    if (ix == NULL) {
        ix = malloc(sizeof *ix);
        if (ix == NULL) {
            free(slot);
            return false;
        }
        res->names_index = ix;
    } else {
        free(ix->slot);
    }
    ix->slot = slot;
    ix->cap = cap;
    for (size_t i = 0; i < res->n_tensors; i++)
        index_put(ix, res->tensors, i);
    return true;
}

bool api_result_pointer_append(char *dst, size_t cap, size_t *pos, const char *tok, size_t len)
{
    size_t p = *pos;
    bool ok = true;

    if (p + 1 >= cap) {
        ok = false;
        goto out;
    }
    dst[p++] = '/';
    for (size_t i = 0; i < len; i++) {
        char c = tok[i];
        size_t need = (c == '~' || c == '/') ? 2 : 1;
        if (p + need >= cap) {
            ok = false;
            break;
        }
        if (need == 2) {
            dst[p++] = '~';
            dst[p++] = c == '~' ? '0' : '1';
        } else {
            dst[p++] = c;
        }
    }
out:
    if (p < cap)
        dst[p] = '\0';
    *pos = p;
    return ok;
}

/* Sets err's pointer to /tensors/<name>. */
static void point_at_name(struct api_error *err, const char *name, size_t len)
{
    char ptr[API_POINTER_MAX];
    size_t pos = 0;

    api_result_pointer_append(ptr, sizeof ptr, &pos, "tensors", 7);
    api_result_pointer_append(ptr, sizeof ptr, &pos, name, len);
    api_error_at_pointer(err, ptr, pos);
}

void api_result_init(struct api_result *res, enum l2_dtype dtype)
{
    memset(res, 0, sizeof *res); /* total too: all zero is l2_accum_init's empty sum */
    res->dtype = dtype;
    res->named = false;
    res->ndim = 0;
    res->tensors = NULL;
    res->names_index = NULL;
}

enum api_status api_result_check_name(const struct api_result *res, const char *name, size_t len,
                                      struct api_error *err)
{
    enum api_status st = API_OK;

    if (len == 0) {
        st = api_error_set(err, API_INVALID_TENSOR, "empty tensor name");
        point_at_name(err, name, 0);
    } else if (len > API_MAX_NAME) {
        st = api_error_set(err, API_INVALID_TENSOR, "tensor name longer than %d bytes",
                           API_MAX_NAME);
        api_error_at_pointer(err, "/tensors", 8);
    } else if (index_find(res, name, len)) {
        st = api_error_set(err, API_INVALID_TENSOR, "duplicate tensor name");
        point_at_name(err, name, len);
    } else if (res->n_tensors >= API_MAX_TENSORS) {
        st = api_error_set(err, API_INVALID_TENSOR, "more than %d named tensors", API_MAX_TENSORS);
        point_at_name(err, name, len);
    }
    return st;
}

/* Appends a tensor entry (summed from acc, or skipped with its file dtype
 * code when skipped is not NULL). */
static enum api_status add_entry(struct api_result *res, const char *name, size_t len,
                                 enum l2_dtype dtype, const char *skipped,
                                 const struct l2_accum *acc, unsigned ndim, const uint64_t *shape,
                                 struct api_error *err)
{
    enum api_status st;
    size_t exact_bytes, shape_bytes, skipped_bytes;
    unsigned char *mem = NULL;

    st = api_result_check_name(res, name, len, err);
    if (st != API_OK)
        goto out;
    if (ndim > API_MAX_DEPTH) {
        st = api_error_set(err, API_INVALID_TENSOR, "tensor with more than %d dimensions",
                           API_MAX_DEPTH);
        point_at_name(err, name, len);
        goto out;
    }
    st = API_INTERNAL_ERROR;
    /* Bounded: len <= API_MAX_NAME, ndim <= API_MAX_DEPTH, a file's dtype
     * code is a few bytes. The exact state comes first, at malloc's
     * alignment; the shape's entries stay 8-byte aligned after it. */
    exact_bytes = res->keep_exact && skipped == NULL ? sizeof(struct l2_accum) : 0;
    shape_bytes = ndim * sizeof(uint64_t);
    skipped_bytes = skipped != NULL ? strlen(skipped) + 1 : 0;
    mem = malloc(exact_bytes + shape_bytes + len + 1 + skipped_bytes);
    if (mem == NULL)
        goto out_oom;
    if (res->n_tensors == res->cap_tensors) {
        size_t cap = res->cap_tensors ? res->cap_tensors * 2 : 8;
        size_t bytes;
        if (__builtin_mul_overflow(cap, sizeof *res->tensors, &bytes))
            goto out_oom;
        struct api_tensor *grown = realloc(res->tensors, bytes);
        if (grown == NULL)
            goto out_oom;
        res->tensors = grown;
        res->cap_tensors = cap;
    }
    if (!index_reserve(res, res->n_tensors + 1))
        goto out_oom;

    struct api_tensor *t = &res->tensors[res->n_tensors];
    memset(t, 0, sizeof *t);
    t->mem = mem;
    if (exact_bytes != 0)
        t->exact = (struct l2_accum *)(void *)mem; /* filled by api_result_set_sums below */
    if (ndim > 0) {
        t->shape = (uint64_t *)(void *)(mem + exact_bytes);
        memcpy(t->shape, shape, shape_bytes);
    }
    t->name = (char *)mem + exact_bytes + shape_bytes;
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    t->name_len = len;
    if (skipped != NULL) {
        t->skipped = t->name + len + 1;
        memcpy(t->skipped, skipped, skipped_bytes);
    }
    t->dtype = dtype;
    t->ndim = ndim;
    res->n_tensors++;
    if (skipped == NULL)
        api_result_set_sums(res, res->n_tensors - 1, acc);
    if (res->names_index != NULL)
        index_put(res->names_index, res->tensors, res->n_tensors - 1);
    st = API_OK;
    goto out;

out_oom:
    api_error_set(err, API_INTERNAL_ERROR, "out of memory");
    free(mem);
out:
    return st;
}

void api_result_set_sums(struct api_result *res, size_t i, const struct l2_accum *acc)
{
    struct api_tensor *t = &res->tensors[i];

    t->count = acc->count;
    t->nan_count = acc->nan_count;
    t->inf_count = acc->inf_count;
    t->max_abs = acc->max_abs;
    if (t->exact != NULL)
        *t->exact = *acc;
    l2_accum_sum(acc, &t->sum_squares); /* +inf on overflow, as documented */
    l2_accum_half(acc, &t->half_sum);
    l2_accum_norm(acc, &t->norm);
    l2_accum_merge(&res->total, acc);
}

enum api_status api_result_add_tensor(struct api_result *res, const char *name, size_t len,
                                      const struct l2_accum *acc, unsigned ndim,
                                      const uint64_t *shape, struct api_error *err)
{
    return add_entry(res, name, len, res->dtype, NULL, acc, ndim, shape, err);
}

enum api_status api_result_add_typed(struct api_result *res, const char *name, size_t len,
                                     enum l2_dtype dtype, const struct l2_accum *acc, unsigned ndim,
                                     const uint64_t *shape, struct api_error *err)
{
    res->typed = true;
    return add_entry(res, name, len, dtype, NULL, acc, ndim, shape, err);
}

enum api_status api_result_add_skipped(struct api_result *res, const char *name, size_t len,
                                       const char *file_dtype, struct api_error *err)
{
    res->typed = true;
    return add_entry(res, name, len, res->dtype, file_dtype, NULL, 0, NULL, err);
}

bool api_result_common_dtype(const struct api_result *res, enum l2_dtype *out)
{
    bool found = false;

    for (size_t i = 0; i < res->n_tensors; i++) {
        const struct api_tensor *t = &res->tensors[i];

        if (t->skipped != NULL)
            continue;
        if (found && t->dtype != *out)
            return false;
        *out = t->dtype;
        found = true;
    }
    return found;
}

void api_result_settle_dtype(struct api_result *res)
{
    enum l2_dtype common;

    res->dtype = api_result_common_dtype(res, &common) ? common : L2_DTYPE_FLOAT64;
}

void api_result_free(struct api_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->n_tensors; i++)
        free(res->tensors[i].mem);
    free(res->tensors);
    struct names_index *ix = res->names_index;
    if (ix != NULL) {
        free(ix->slot);
        free(ix);
    }
    api_result_init(res, res->dtype);
}
