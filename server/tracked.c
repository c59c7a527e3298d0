/* tracked.c -- the store of tracked results, rendered for /metrics and
 * /tracked.
 *
 * Models and, within each, series are kept in the order first recorded, each
 * with a small open-addressing index of positions keyed by a seeded hash of
 * the name bytes (names may hold U+0000). Rendering runs under the read
 * lock, into a buffer whose hard limit is computed from what the store holds
 * at that moment, so neither can outgrow the other. */
#include "tracked.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../api/shortest.h"

/* The figures of one series or of a model's total. */
struct figures {
    double norm;
    double max_abs;
    uint64_t count;
    uint64_t nan_count;
    uint64_t inf_count;
};

struct series {
    char *name; /* owned, NUL-terminated; name_len bytes (may hold U+0000) */
    size_t name_len;
    struct figures f;
};

/* Slots hold a position + 1; 0 is an empty slot. At most half full, so
 * probing always ends. */
struct index {
    size_t *slot;
    size_t cap; /* a power of two, or 0 before the first insertion */
};

struct model {
    char name[TRACKED_MODEL_MAX + 1];
    size_t name_len;
    int64_t updated; /* Unix seconds */
    struct figures total;
    struct series *series; /* in the order first recorded */
    size_t n_series, cap_series;
    struct index ix;
};

struct tracked {
    pthread_rwlock_t lock;
    size_t max_series;    /* the cap on series, and on models */
    size_t n_series;      /* over every model */
    struct model *models; /* in the order first recorded */
    size_t n_models, cap_models;
    struct index ix;
    uint64_t seed;
    _Atomic uint64_t dropped;
};

/* Bytes of the rendered text outside the per-model and per-series lines
 * (the families' # HELP and # TYPE lines, the braces of the JSON). */
#define TRACKED_TEXT_FIXED 4096
/* Bytes of one rendered line, or one JSON figures object, besides its
 * escaped names; each name byte takes at most six (\u00XX). */
#define TRACKED_LINE_MAX 192
#define TRACKED_ESCAPE_MAX 6

/* ---- names and the index ---------------------------------------------- */

bool tracked_model_valid(const char *name, size_t len)
{
    if (len == 0 || len > TRACKED_MODEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* FNV-1a from a per-store random start, then a final mix, so that which
 * names collide is not known in advance. */
static uint64_t name_hash(uint64_t seed, const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h;
}

/* The name of entry i of the array an index is over. */
typedef const char *(*name_at_fn)(const void *base, size_t i, size_t *len);

static const char *model_name_at(const void *base, size_t i, size_t *len)
{
    const struct model *m = (const struct model *)base + i;
    *len = m->name_len;
    return m->name;
}

static const char *series_name_at(const void *base, size_t i, size_t *len)
{
    const struct series *s = (const struct series *)base + i;
    *len = s->name_len;
    return s->name;
}

/* The position of name in base (via ix), or SIZE_MAX when absent. */
static size_t index_find(const struct index *ix, uint64_t seed, const void *base, name_at_fn at,
                         const char *name, size_t len)
{
    if (ix->cap == 0)
        return SIZE_MAX;
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)name_hash(seed, name, len) & mask;; i = (i + 1) & mask) {
        size_t s = ix->slot[i], n;
        if (s == 0)
            return SIZE_MAX;
        const char *k = at(base, s - 1, &n);
        if (n == len && memcmp(k, name, len) == 0)
            return s - 1;
    }
}

static void index_put(struct index *ix, uint64_t seed, const void *base, name_at_fn at, size_t pos)
{
    size_t mask = ix->cap - 1, len;
    const char *name = at(base, pos, &len);
    size_t i = (size_t)name_hash(seed, name, len) & mask;

    while (ix->slot[i] != 0)
        i = (i + 1) & mask;
    ix->slot[i] = pos + 1;
}

/* Makes room in ix for n entries of base (n - 1 of which it holds);
 * false when out of memory (ix is then unchanged). */
static bool index_reserve(struct index *ix, uint64_t seed, const void *base, name_at_fn at,
                          size_t n)
{
    size_t cap = ix->cap == 0 ? 16 : ix->cap;
    size_t *slot;

    while (cap / 2 < n) {
        if (cap > SIZE_MAX / 4)
            return false;
        cap *= 2;
    }
    if (cap == ix->cap)
        return true;
    slot = calloc(cap, sizeof *slot);
    if (slot == NULL)
        return false;
    free(ix->slot);
    ix->slot = slot;
    ix->cap = cap;
    for (size_t i = 0; i + 1 < n; i++)
        index_put(ix, seed, base, at, i);
    return true;
}

/* Grows the array *base of *cap elements of size bytes to hold n; false
 * when out of memory (the array is then unchanged). */
static bool array_reserve(void **base, size_t *cap, size_t size, size_t n)
{
    size_t want = *cap == 0 ? 8 : *cap, bytes;
    void *p;

    while (want < n) {
        if (__builtin_mul_overflow(want, (size_t)2, &want))
            return false;
    }
    if (want == *cap)
        return true;
    if (__builtin_mul_overflow(want, size, &bytes))
        return false;
    p = realloc(*base, bytes);
    if (p == NULL)
        return false;
    *base = p;
    *cap = want;
    return true;
}

/* ---- the store -------------------------------------------------------- */

struct tracked *tracked_new(size_t max_series)
{
    struct tracked *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    if (pthread_rwlock_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    if (getrandom(&t->seed, sizeof t->seed, 0) != (ssize_t)sizeof t->seed)
        t->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u ^ (uint64_t)(uintptr_t)t;
    t->max_series = max_series;
    atomic_init(&t->dropped, 0);
    return t;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n_series; i++)
        free(m->series[i].name);
    free(m->series);
    free(m->ix.slot);
}

void tracked_free(struct tracked *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_models; i++)
        model_free(&t->models[i]);
    free(t->models);
    free(t->ix.slot);
    pthread_rwlock_destroy(&t->lock);
    free(t);
}

/* The model called name, created when absent and the cap allows; NULL when
 * it does not or out of memory. Under the write lock. */
static struct model *model_get(struct tracked *t, const char *name, size_t len)
{
    size_t pos = index_find(&t->ix, t->seed, t->models, model_name_at, name, len);
    struct model *m;

    if (pos != SIZE_MAX)
        return &t->models[pos];
    if (t->n_models >= t->max_series ||
        !array_reserve((void **)&t->models, &t->cap_models, sizeof *t->models, t->n_models + 1))
        return NULL;
    m = &t->models[t->n_models];
    memset(m, 0, sizeof *m);
    memcpy(m->name, name, len);
    m->name[len] = '\0';
    m->name_len = len;
    if (!index_reserve(&t->ix, t->seed, t->models, model_name_at, t->n_models + 1))
        return NULL;
    index_put(&t->ix, t->seed, t->models, model_name_at, t->n_models);
    t->n_models++;
    return m;
}

/* Sets the figures of m's series name (len bytes), created when absent and
 * the cap allows; false when dropped. Under the write lock. */
static bool series_set(struct tracked *t, struct model *m, const char *name, size_t len,
                       const struct figures *f)
{
    size_t pos = index_find(&m->ix, t->seed, m->series, series_name_at, name, len);
    struct series *s;
    char *copy;

    if (pos != SIZE_MAX) {
        m->series[pos].f = *f;
        return true;
    }
    if (t->n_series >= t->max_series || len == SIZE_MAX ||
        !array_reserve((void **)&m->series, &m->cap_series, sizeof *m->series, m->n_series + 1) ||
        !index_reserve(&m->ix, t->seed, m->series, series_name_at, m->n_series + 1))
        return false;
    copy = malloc(len + 1);
    if (copy == NULL)
        return false;
    memcpy(copy, name, len);
    copy[len] = '\0';
    s = &m->series[m->n_series];
    s->name = copy;
    s->name_len = len;
    s->f = *f;
    index_put(&m->ix, t->seed, m->series, series_name_at, m->n_series);
    m->n_series++;
    t->n_series++;
    return true;
}

static struct figures total_figures(const struct api_result *res)
{
    struct figures f;

    l2_accum_norm(&res->total, &f.norm);
    f.max_abs = res->total.max_abs;
    f.count = res->total.count;
    f.nan_count = res->total.nan_count;
    f.inf_count = res->total.inf_count;
    return f;
}

static struct figures tensor_figures(const struct api_tensor *tn)
{
    return (struct figures){.norm = tn->norm,
                            .max_abs = tn->max_abs,
                            .count = tn->count,
                            .nan_count = tn->nan_count,
                            .inf_count = tn->inf_count};
}

/* The series res records: its summed tensors, or the one tensor "". */
static size_t recorded_series(const struct api_result *res)
{
    size_t n = 0;

    if (!res->named)
        return 1;
    for (size_t i = 0; i < res->n_tensors; i++)
        n += res->tensors[i].skipped == NULL;
    return n;
}

enum tracked_outcome tracked_record(struct tracked *t, const char *model, size_t len,
                                    const struct api_result *res, int64_t now_s)
{
    struct figures total = total_figures(res);
    enum tracked_outcome result = TRACKED_ALL;
    uint64_t dropped = 0;
    struct model *m;

    if (!tracked_model_valid(model, len))
        return TRACKED_INVALID;
    pthread_rwlock_wrlock(&t->lock);
    m = model_get(t, model, len);
    if (m == NULL) {
        dropped = recorded_series(res);
        result = TRACKED_PARTIAL;
        goto out_unlock;
    }
    m->total = total;
    m->updated = now_s;
    if (!res->named) {
        dropped += !series_set(t, m, "", 0, &total);
    } else {
        for (size_t i = 0; i < res->n_tensors; i++) {
            const struct api_tensor *tn = &res->tensors[i];
            struct figures f = tensor_figures(tn);

            if (tn->skipped == NULL)
                dropped += !series_set(t, m, tn->name, tn->name_len, &f);
        }
    }
    if (dropped != 0)
        result = TRACKED_PARTIAL;
out_unlock:
    if (dropped != 0)
        atomic_fetch_add_explicit(&t->dropped, dropped, memory_order_relaxed);
    pthread_rwlock_unlock(&t->lock);
    return result;
}

size_t tracked_series(struct tracked *t)
{
    size_t n;

    pthread_rwlock_rdlock(&t->lock);
    n = t->n_series;
    pthread_rwlock_unlock(&t->lock);
    return n;
}

uint64_t tracked_dropped(struct tracked *t)
{
    return atomic_load_explicit(&t->dropped, memory_order_relaxed);
}

/* ---- rendering -------------------------------------------------------- */

/* adds a * (b + c) to *acc, saturating at SIZE_MAX. */
static void bound_add(size_t *acc, size_t a, size_t b, size_t c)
{
    size_t v;

    if (__builtin_add_overflow(b, c, &v) || __builtin_mul_overflow(v, a, &v) ||
        __builtin_add_overflow(*acc, v, acc))
        *acc = SIZE_MAX;
}

/* A hard limit on either rendering of what t holds now: every line or
 * object bounded by TRACKED_LINE_MAX plus its names escaped at worst.
 * Under the read lock. */
static size_t render_bound(const struct tracked *t)
{
    size_t bound = TRACKED_TEXT_FIXED;

    for (size_t i = 0; i < t->n_models; i++) {
        const struct model *m = &t->models[i];

        bound_add(&bound, 4, TRACKED_LINE_MAX, TRACKED_ESCAPE_MAX * m->name_len);
        for (size_t j = 0; j < m->n_series; j++)
            bound_add(&bound, 6, TRACKED_LINE_MAX,
                      TRACKED_ESCAPE_MAX * (m->name_len + m->series[j].name_len));
    }
    return bound;
}

static void put_double(struct api_text_buf *b, double x)
{
    char tmp[API_SHORTEST_MAX];
    api_text_buf_append(b, tmp, api_shortest_repr(x, tmp));
}

/* A JSON number; null for a non-finite x, which JSON cannot spell (only
 * successful results are recorded, and their figures are finite). */
static void put_json_double(struct api_text_buf *b, double x)
{
    if (isfinite(x))
        put_double(b, x);
    else
        api_text_buf_append_str(b, "null");
}

/* A sample value: the exposition format spells the non-finite ones +Inf,
 * -Inf and NaN. */
static void put_value(struct api_text_buf *b, double x)
{
    if (isnan(x))
        api_text_buf_append_str(b, "NaN");
    else if (isinf(x))
        api_text_buf_append_str(b, x > 0 ? "+Inf" : "-Inf");
    else
        put_double(b, x);
}

/* A label value, quoted: '\\', '"' and newline backslashed as the text
 * exposition format says, valid UTF-8 as is, any other byte as U+FFFD. */
static void put_label(struct api_text_buf *b, const char *s, size_t len)
{
    size_t i = 0;

    api_text_buf_append_str(b, "\"");
    while (i < len) {
        size_t n = api_text_utf8_len(s + i, len - i);

        if (n == 0) {
            api_text_buf_append_str(b, "\xef\xbf\xbd");
            i++;
            continue;
        }
        if (s[i] == '\\')
            api_text_buf_append_str(b, "\\\\");
        else if (s[i] == '"')
            api_text_buf_append_str(b, "\\\"");
        else if (s[i] == '\n')
            api_text_buf_append_str(b, "\\n");
        else if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) /* NUL, controls */
            api_text_buf_append_str(b, "\xef\xbf\xbd");
        else
            api_text_buf_append(b, s + i, n);
        i += n;
    }
    api_text_buf_append_str(b, "\"");
}

static void family(struct api_text_buf *b, const char *name, const char *type, const char *help)
{
    api_text_buf_append_str(b, "# HELP ");
    api_text_buf_append_str(b, name);
    api_text_buf_append_str(b, " ");
    api_text_buf_append_str(b, help);
    api_text_buf_append_str(b, "\n# TYPE ");
    api_text_buf_append_str(b, name);
    api_text_buf_append_str(b, " ");
    api_text_buf_append_str(b, type);
    api_text_buf_append_str(b, "\n");
}

/* name{model="...",tensor="..."<extra>} (the tensor label when s is not
 * NULL), then a space. */
static void sample_head(struct api_text_buf *b, const char *name, const struct model *m,
                        const struct series *s, const char *extra)
{
    api_text_buf_append_str(b, name);
    api_text_buf_append_str(b, "{model=");
    put_label(b, m->name, m->name_len);
    if (s != NULL) {
        api_text_buf_append_str(b, ",tensor=");
        put_label(b, s->name, s->name_len);
    }
    api_text_buf_append_str(b, extra);
    api_text_buf_append_str(b, "} ");
}

/* The per-series families, one row each: which figure and how to print it. */
enum series_figure { FIG_NORM, FIG_MAX_ABS, FIG_COUNT, FIG_NONFINITE };

static const struct {
    const char *name;
    const char *help;
    enum series_figure fig;
} series_families[] = {
    {"l2d_tracked_norm", "Latest L2 norm of a tracked tensor.", FIG_NORM},
    {"l2d_tracked_max_abs", "Latest largest absolute element of a tracked tensor.", FIG_MAX_ABS},
    {"l2d_tracked_count", "Latest element count of a tracked tensor.", FIG_COUNT},
    {"l2d_tracked_nonfinite",
     "Latest count of NaN (kind=\"nan\") and infinite (kind=\"inf\") elements of a tracked "
     "tensor.",
     FIG_NONFINITE},
};

static void render_series_family(struct api_text_buf *b, const struct tracked *t, size_t k)
{
    const char *name = series_families[k].name;

    family(b, name, "gauge", series_families[k].help);
    for (size_t i = 0; i < t->n_models; i++) {
        const struct model *m = &t->models[i];

        for (size_t j = 0; j < m->n_series; j++) {
            const struct series *s = &m->series[j];

            switch (series_families[k].fig) {
            case FIG_NORM:
                sample_head(b, name, m, s, "");
                put_value(b, s->f.norm);
                break;
            case FIG_MAX_ABS:
                sample_head(b, name, m, s, "");
                put_value(b, s->f.max_abs);
                break;
            case FIG_COUNT:
                sample_head(b, name, m, s, "");
                api_text_buf_append_u64(b, s->f.count);
                break;
            case FIG_NONFINITE:
                sample_head(b, name, m, s, ",kind=\"nan\"");
                api_text_buf_append_u64(b, s->f.nan_count);
                api_text_buf_append_str(b, "\n");
                sample_head(b, name, m, s, ",kind=\"inf\"");
                api_text_buf_append_u64(b, s->f.inf_count);
                break;
            }
            api_text_buf_append_str(b, "\n");
        }
    }
}

static void render_model_families(struct api_text_buf *b, const struct tracked *t)
{
    family(b, "l2d_tracked_total_norm", "gauge",
           "L2 norm over every tensor of the latest result tracked under a model.");
    for (size_t i = 0; i < t->n_models; i++) {
        sample_head(b, "l2d_tracked_total_norm", &t->models[i], NULL, "");
        put_value(b, t->models[i].total.norm);
        api_text_buf_append_str(b, "\n");
    }
    family(b, "l2d_tracked_last_update_timestamp_seconds", "gauge",
           "Unix time of the latest result tracked under a model.");
    for (size_t i = 0; i < t->n_models; i++) {
        sample_head(b, "l2d_tracked_last_update_timestamp_seconds", &t->models[i], NULL, "");
        api_text_buf_appendf(b, "%lld\n", (long long)t->models[i].updated);
    }
}

static void render_store_families(struct api_text_buf *b, struct tracked *t)
{
    family(b, "l2d_tracked_series", "gauge", "Tracked (model, tensor) series held.");
    api_text_buf_append_str(b, "l2d_tracked_series ");
    api_text_buf_append_u64(b, t->n_series);
    api_text_buf_append_str(b, "\n");
    family(b, "l2d_tracked_series_dropped_total", "counter",
           "Tracked series not created because --max-tracked-series was reached.");
    api_text_buf_append_str(b, "l2d_tracked_series_dropped_total ");
    api_text_buf_append_u64(b, tracked_dropped(t));
    api_text_buf_append_str(b, "\n");
}

/* Renders the store with body under the read lock, into a buffer bounded by
 * what the store holds; the text (malloc'd) or NULL when out of memory. */
static char *render_locked(struct tracked *t, void (*body)(struct api_text_buf *, struct tracked *),
                           size_t *out_len)
{
    struct api_text_buf b;
    char *text;
    size_t len = 0;

    pthread_rwlock_rdlock(&t->lock);
    api_text_buf_init(&b, render_bound(t));
    body(&b, t);
    pthread_rwlock_unlock(&t->lock);
    text = api_text_buf_take(&b, &len);
    if (text != NULL)
        *out_len = len;
    return text;
}

static void metrics_body(struct api_text_buf *b, struct tracked *t)
{
    for (size_t k = 0; k < sizeof series_families / sizeof series_families[0]; k++)
        render_series_family(b, t, k);
    render_model_families(b, t);
    render_store_families(b, t);
}

char *tracked_render_metrics(struct tracked *t, size_t *out_len)
{
    return render_locked(t, metrics_body, out_len);
}

/* {"norm": ..., "max_abs": ..., "count": ..., "nan_count": ..., "inf_count": ...} */
static void put_figures(struct api_text_buf *b, const struct figures *f)
{
    api_text_buf_append_str(b, "{\"norm\": ");
    put_json_double(b, f->norm);
    api_text_buf_append_str(b, ", \"max_abs\": ");
    put_json_double(b, f->max_abs);
    api_text_buf_append_str(b, ", \"count\": ");
    api_text_buf_append_u64(b, f->count);
    api_text_buf_append_str(b, ", \"nan_count\": ");
    api_text_buf_append_u64(b, f->nan_count);
    api_text_buf_append_str(b, ", \"inf_count\": ");
    api_text_buf_append_u64(b, f->inf_count);
    api_text_buf_append_str(b, "}");
}

static void put_model_json(struct api_text_buf *b, const struct model *m)
{
    api_text_buf_json_string(b, m->name, m->name_len, API_TEXT_JSON_SHORT);
    api_text_buf_appendf(b, ": {\"updated\": %lld, \"total\": ", (long long)m->updated);
    put_figures(b, &m->total);
    api_text_buf_append_str(b, ", \"tensors\": {");
    for (size_t j = 0; j < m->n_series; j++) {
        if (j > 0)
            api_text_buf_append_str(b, ", ");
        api_text_buf_json_string(b, m->series[j].name, m->series[j].name_len, API_TEXT_JSON_SHORT);
        api_text_buf_append_str(b, ": ");
        put_figures(b, &m->series[j].f);
    }
    api_text_buf_append_str(b, "}}");
}

static void json_body(struct api_text_buf *b, struct tracked *t)
{
    api_text_buf_append_str(b, "{\"models\": {");
    for (size_t i = 0; i < t->n_models; i++) {
        if (i > 0)
            api_text_buf_append_str(b, ", ");
        put_model_json(b, &t->models[i]);
    }
    api_text_buf_append_str(b, "}}");
}

char *tracked_render_json(struct tracked *t, size_t *out_len)
{
    return render_locked(t, json_body, out_len);
}
