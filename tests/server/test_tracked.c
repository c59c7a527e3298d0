/* test_tracked.c -- the tracked store: values, label escaping, the cap,
 * /tracked's JSON, and updates racing renders. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/tracked.h"

/* ---- building results ---------------------------------------------------- */

static void feed(struct l2_accum *acc, const double *v, size_t n)
{
    l2_accum_init(acc);
    for (size_t i = 0; i < n; i++) {
        if (isfinite(v[i]))
            cr_assert_eq(l2_accum_add(acc, v[i]), L2_OK);
        else
            l2_accum_add_nonfinite(acc, v[i]);
    }
}

/* A single unnamed tensor of the n values at v. */
static void single(struct api_result *res, const double *v, size_t n)
{
    api_result_init(res, L2_DTYPE_FLOAT64);
    feed(&res->total, v, n);
    res->ndim = 1;
    res->shape[0] = n;
}

static void named_init(struct api_result *res)
{
    api_result_init(res, L2_DTYPE_FLOAT64);
    res->named = true;
}

/* Adds the tensor name (len bytes) of the n values at v. */
static void add(struct api_result *res, const char *name, size_t len, const double *v, size_t n)
{
    struct l2_accum acc;
    struct api_error err;
    uint64_t shape[1] = {n};

    feed(&acc, v, n);
    cr_assert_eq(api_result_add_tensor(res, name, len, &acc, 1, shape, &err), API_OK);
}

static void add_str(struct api_result *res, const char *name, const double *v, size_t n)
{
    add(res, name, strlen(name), v, n);
}

/* ---- reading renders ----------------------------------------------------- */

static char *metrics_text(struct tracked *t)
{
    size_t len = 0;
    char *text = tracked_render_metrics(t, &len);
    cr_assert(text != NULL);
    cr_assert_eq(strlen(text), len);
    cr_assert(len > 0 && text[len - 1] == '\n');
    return text;
}

static char *json_text(struct tracked *t)
{
    size_t len = 0;
    char *text = tracked_render_json(t, &len);
    cr_assert(text != NULL);
    cr_assert_eq(strlen(text), len);
    return text;
}

/* Whether text holds line (n bytes, may hold NUL) as a whole line. */
static bool has_line_n(const char *text, size_t text_len, const char *line, size_t n)
{
    for (size_t i = 0; i + n < text_len; i++) {
        if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, line, n) == 0 &&
            text[i + n] == '\n')
            return true;
    }
    return false;
}

static void expect_line(const char *text, const char *line)
{
    cr_assert(has_line_n(text, strlen(text), line, strlen(line)), "no line \"%s\" in:\n%s", line,
              text);
}

static void expect_no(const char *text, const char *part)
{
    cr_assert(strstr(text, part) == NULL, "\"%s\" unexpected in:\n%s", part, text);
}

/* ---- values ---------------------------------------------------------------- */

Test(tracked, single_tensor_is_the_tensor_named_empty)
{
    static const double v[] = {1, 2, 3, 4};
    struct tracked *t = tracked_new(10);
    struct api_result res;

    single(&res, v, 4);
    cr_assert_eq(tracked_record(t, "resnet-50", 9, &res, 1764830000), TRACKED_ALL);
    char *m = metrics_text(t);
    expect_line(m, "# TYPE l2d_tracked_norm gauge");
    expect_line(m, "l2d_tracked_norm{model=\"resnet-50\",tensor=\"\"} 5.477225575051661");
    expect_line(m, "l2d_tracked_max_abs{model=\"resnet-50\",tensor=\"\"} 4.0");
    expect_line(m, "l2d_tracked_count{model=\"resnet-50\",tensor=\"\"} 4");
    expect_line(m, "l2d_tracked_nonfinite{model=\"resnet-50\",tensor=\"\",kind=\"nan\"} 0");
    expect_line(m, "l2d_tracked_nonfinite{model=\"resnet-50\",tensor=\"\",kind=\"inf\"} 0");
    expect_line(m, "l2d_tracked_total_norm{model=\"resnet-50\"} 5.477225575051661");
    expect_line(m, "l2d_tracked_last_update_timestamp_seconds{model=\"resnet-50\"} 1764830000");
    expect_line(m, "l2d_tracked_series 1");
    expect_line(m, "# TYPE l2d_tracked_series_dropped_total counter");
    expect_line(m, "l2d_tracked_series_dropped_total 0");
    char *j = json_text(t);
    cr_assert_str_eq(j, "{\"models\": {\"resnet-50\": {\"updated\": 1764830000, \"total\": "
                        "{\"norm\": 5.477225575051661, \"max_abs\": 4.0, \"count\": 4, "
                        "\"nan_count\": 0, \"inf_count\": 0}, \"tensors\": {\"\": "
                        "{\"norm\": 5.477225575051661, \"max_abs\": 4.0, \"count\": 4, "
                        "\"nan_count\": 0, \"inf_count\": 0}}}}}");
    free(j);
    free(m);
    api_result_free(&res);
    tracked_free(t);
}

Test(tracked, named_tensors_and_nonfinite_counts)
{
    static const double kernel[] = {1, 2, 3, 4}, bias[] = {NAN, INFINITY, -INFINITY, -0.5};
    struct tracked *t = tracked_new(10);
    struct api_result res;

    named_init(&res);
    add_str(&res, "dense/kernel", kernel, 4);
    add_str(&res, "dense/bias", bias, 4);
    cr_assert_eq(tracked_record(t, "m:v1", 4, &res, 7), TRACKED_ALL);
    char *m = metrics_text(t);
    expect_line(m, "l2d_tracked_norm{model=\"m:v1\",tensor=\"dense/kernel\"} 5.477225575051661");
    expect_line(m, "l2d_tracked_norm{model=\"m:v1\",tensor=\"dense/bias\"} 0.5");
    expect_line(m, "l2d_tracked_max_abs{model=\"m:v1\",tensor=\"dense/bias\"} 0.5");
    expect_line(m, "l2d_tracked_count{model=\"m:v1\",tensor=\"dense/bias\"} 4");
    expect_line(m, "l2d_tracked_nonfinite{model=\"m:v1\",tensor=\"dense/bias\",kind=\"nan\"} 1");
    expect_line(m, "l2d_tracked_nonfinite{model=\"m:v1\",tensor=\"dense/bias\",kind=\"inf\"} 2");
    expect_line(m, "l2d_tracked_nonfinite{model=\"m:v1\",tensor=\"dense/kernel\",kind=\"inf\"} 0");
    /* sqrt(30.25), exactly */
    expect_line(m, "l2d_tracked_total_norm{model=\"m:v1\"} 5.5");
    expect_line(m, "l2d_tracked_last_update_timestamp_seconds{model=\"m:v1\"} 7");
    expect_line(m, "l2d_tracked_series 2");
    char *j = json_text(t);
    cr_assert_str_eq(
        j, "{\"models\": {\"m:v1\": {\"updated\": 7, \"total\": {\"norm\": 5.5, \"max_abs\": 4.0, "
           "\"count\": 8, \"nan_count\": 1, \"inf_count\": 2}, \"tensors\": {\"dense/kernel\": "
           "{\"norm\": 5.477225575051661, \"max_abs\": 4.0, \"count\": 4, \"nan_count\": 0, "
           "\"inf_count\": 0}, \"dense/bias\": {\"norm\": 0.5, \"max_abs\": 0.5, \"count\": 4, "
           "\"nan_count\": 1, \"inf_count\": 2}}}}}");
    free(j);
    free(m);
    api_result_free(&res);
    tracked_free(t);
}

/* The latest result replaces a series' figures and the model's totals and
 * time; series the new result lacks keep their last figures. */
Test(tracked, latest_result_wins)
{
    static const double a[] = {3, 4}, b[] = {1e-5}, c[] = {1e16};
    struct tracked *t = tracked_new(10);
    struct api_result r1, r2;

    named_init(&r1);
    add_str(&r1, "a", a, 2);
    add_str(&r1, "b", b, 1);
    cr_assert_eq(tracked_record(t, "m", 1, &r1, 100), TRACKED_ALL);
    named_init(&r2);
    add_str(&r2, "a", c, 1);
    cr_assert_eq(tracked_record(t, "m", 1, &r2, 160), TRACKED_ALL);
    char *m = metrics_text(t);
    expect_line(m, "l2d_tracked_norm{model=\"m\",tensor=\"a\"} 1e+16");
    expect_line(m, "l2d_tracked_count{model=\"m\",tensor=\"a\"} 1");
    expect_line(m, "l2d_tracked_norm{model=\"m\",tensor=\"b\"} 1e-05");
    expect_line(m, "l2d_tracked_total_norm{model=\"m\"} 1e+16");
    expect_line(m, "l2d_tracked_last_update_timestamp_seconds{model=\"m\"} 160");
    expect_line(m, "l2d_tracked_series 2");
    expect_no(m, "tensor=\"a\"} 5.0");
    free(m);
    api_result_free(&r1);
    api_result_free(&r2);
    tracked_free(t);
}

Test(tracked, skipped_tensors_are_not_recorded)
{
    static const double a[] = {2};
    struct tracked *t = tracked_new(10);
    struct api_result res;
    struct api_error err;

    named_init(&res);
    res.typed = true;
    add_str(&res, "w", a, 1);
    cr_assert_eq(api_result_add_skipped(&res, "step", 4, "I64", &err), API_OK);
    cr_assert_eq(tracked_record(t, "m", 1, &res, 1), TRACKED_ALL);
    char *m = metrics_text(t);
    expect_line(m, "l2d_tracked_norm{model=\"m\",tensor=\"w\"} 2.0");
    expect_no(m, "step");
    expect_line(m, "l2d_tracked_series 1");
    free(m);
    api_result_free(&res);
    tracked_free(t);
}

/* An empty store: the families are declared with no samples, so a
 * scrape before anything is tracked is still well-formed. */
Test(tracked, empty_store)
{
    struct tracked *t = tracked_new(10);
    char *m = metrics_text(t);
    expect_line(m, "# TYPE l2d_tracked_norm gauge");
    expect_line(m, "# TYPE l2d_tracked_last_update_timestamp_seconds gauge");
    expect_line(m, "l2d_tracked_series 0");
    expect_line(m, "l2d_tracked_series_dropped_total 0");
    expect_no(m, "{model=");
    free(m);
    char *j = json_text(t);
    cr_assert_str_eq(j, "{\"models\": {}}");
    free(j);
    tracked_free(t);
}

/* ---- model names ------------------------------------------------------------ */

Test(tracked, model_names)
{
    char longest[TRACKED_MODEL_MAX + 1];
    struct tracked *t = tracked_new(10);
    struct api_result res;
    static const double v[] = {1};

    memset(longest, 'x', sizeof longest);
    cr_assert(tracked_model_valid("a", 1));
    cr_assert(tracked_model_valid("Az09_.:/-", 9));
    cr_assert(tracked_model_valid(longest, TRACKED_MODEL_MAX));
    cr_assert_not(tracked_model_valid(longest, TRACKED_MODEL_MAX + 1));
    cr_assert_not(tracked_model_valid("", 0));
    cr_assert_not(tracked_model_valid("a b", 3));
    cr_assert_not(tracked_model_valid("a\"b", 3));
    cr_assert_not(tracked_model_valid("a\0b", 3));
    cr_assert_not(tracked_model_valid("caf\xc3\xa9", 5));
    cr_assert_not(tracked_model_valid("a{b}", 4));
    single(&res, v, 1);
    cr_assert_eq(tracked_record(t, "a b", 3, &res, 1), TRACKED_INVALID);
    cr_assert_eq(tracked_series(t), 0);
    cr_assert_eq(tracked_dropped(t), 0);
    api_result_free(&res);
    tracked_free(t);
}

/* ---- escaping ---------------------------------------------------------------- */

/* Tensor names hold any UTF-8 (U+0000 too): the exposition format
 * backslashes '\\', '"' and newline; a byte that is not UTF-8 becomes
 * U+FFFD; JSON escapes as the responses do. */
Test(tracked, label_and_json_escaping)
{
    static const double v[] = {1};
    static const char weird[] = "a\"b\\c\nd\te\xff\xce\xbb\0z";
    struct tracked *t = tracked_new(10);
    struct api_result res;
    size_t len = 0;

    named_init(&res);
    add(&res, weird, sizeof weird - 1, v, 1);
    cr_assert_eq(tracked_record(t, "m", 1, &res, 1), TRACKED_ALL);
    char *m = tracked_render_metrics(t, &len);
    cr_assert(m != NULL);
    static const char want[] = "l2d_tracked_norm{model=\"m\",tensor=\"a\\\"b\\\\c\\nd\te"
                               "\xef\xbf\xbd\xce\xbb\xef\xbf\xbdz\"} 1.0";
    cr_assert(has_line_n(m, len, want, sizeof want - 1), "escaped line missing");
    free(m);
    char *j = json_text(t);
    cr_assert(strstr(j, "\"tensors\": {\"a\\\"b\\\\c\\nd\\te\xef\xbf\xbd\xce\xbb\\u0000z\": ") !=
                  NULL,
              "%s", j);
    free(j);
    api_result_free(&res);
    tracked_free(t);
}

/* The real parser agrees: promtool accepts the rendering of awkward names,
 * with no remark but the one tests/ops/promtool_metrics.sh allows (when the
 * Debian package prometheus is installed: the dashboards checks need it
 * anyway). */
Test(tracked, promtool_accepts_the_exposition)
{
    static const double v[] = {1, NAN};
    static const char weird[] = "q\"u\\o\nte \xe2\x9c\x93 \xc0";
    struct tracked *t = tracked_new(10);
    struct api_result res;
    size_t len = 0;

    if (access("/usr/bin/promtool", X_OK) != 0)
        cr_skip_test("promtool is not installed (apt-get install prometheus)");
    named_init(&res);
    add(&res, weird, sizeof weird - 1, v, 2);
    add_str(&res, "plain", v, 1);
    cr_assert_eq(tracked_record(t, "m.1:a/b-c_d", 11, &res, 1764830000), TRACKED_ALL);
    char *m = tracked_render_metrics(t, &len);
    cr_assert(m != NULL);
    FILE *p = popen("sh tests/ops/promtool_metrics.sh", "w");
    cr_assert(p != NULL);
    cr_assert_eq(fwrite(m, 1, len, p), len);
    cr_assert_eq(pclose(p), 0, "promtool check metrics refused:\n%s", m);
    free(m);
    api_result_free(&res);
    tracked_free(t);
}

/* ---- the cap ------------------------------------------------------------------ */

Test(tracked, the_cap_drops_new_series_only)
{
    static const double v[] = {3}, w[] = {5};
    struct tracked *t = tracked_new(3);
    struct api_result r1, r2, r3;

    named_init(&r1);
    add_str(&r1, "x", v, 1);
    add_str(&r1, "y", v, 1);
    cr_assert_eq(tracked_record(t, "a", 1, &r1, 1), TRACKED_ALL);
    named_init(&r2);
    add_str(&r2, "x", w, 1);
    add_str(&r2, "y", w, 1);
    add_str(&r2, "z", w, 1);
    cr_assert_eq(tracked_record(t, "b", 1, &r2, 2), TRACKED_PARTIAL);
    cr_assert_eq(tracked_series(t), 3);
    cr_assert_eq(tracked_dropped(t), 2);
    /* Full: existing series still update, new ones are dropped. */
    cr_assert_eq(tracked_record(t, "a", 1, &r2, 3), TRACKED_PARTIAL);
    cr_assert_eq(tracked_dropped(t), 3);
    named_init(&r3);
    add_str(&r3, "x", w, 1);
    cr_assert_eq(tracked_record(t, "b", 1, &r3, 4), TRACKED_ALL);
    char *m = metrics_text(t);
    expect_line(m, "l2d_tracked_norm{model=\"a\",tensor=\"x\"} 5.0");
    expect_line(m, "l2d_tracked_norm{model=\"a\",tensor=\"y\"} 5.0");
    expect_line(m, "l2d_tracked_norm{model=\"b\",tensor=\"x\"} 5.0");
    expect_no(m, "tensor=\"z\"");
    expect_no(m, "model=\"b\",tensor=\"y\"");
    expect_line(m, "l2d_tracked_series 3");
    expect_line(m, "l2d_tracked_series_dropped_total 3");
    free(m);
    api_result_free(&r1);
    api_result_free(&r2);
    api_result_free(&r3);
    tracked_free(t);
}

/* Models count against the cap too: past it a new model is not created
 * and every series of its result is dropped. */
Test(tracked, the_cap_bounds_models)
{
    static const double v[] = {1};
    struct tracked *t = tracked_new(2);
    struct api_result empty, one;

    named_init(&empty);
    cr_assert_eq(tracked_record(t, "e1", 2, &empty, 1), TRACKED_ALL);
    cr_assert_eq(tracked_record(t, "e2", 2, &empty, 1), TRACKED_ALL);
    single(&one, v, 1);
    cr_assert_eq(tracked_record(t, "e3", 2, &one, 1), TRACKED_PARTIAL);
    cr_assert_eq(tracked_dropped(t), 1);
    cr_assert_eq(tracked_record(t, "e1", 2, &one, 1), TRACKED_ALL);
    char *j = json_text(t);
    cr_assert(strstr(j, "\"e3\"") == NULL, "%s", j);
    cr_assert(strstr(j,
                     "\"e2\": {\"updated\": 1, \"total\": {\"norm\": 0.0, \"max_abs\": 0.0, "
                     "\"count\": 0, \"nan_count\": 0, \"inf_count\": 0}, \"tensors\": {}}") != NULL,
              "%s", j);
    free(j);
    api_result_free(&empty);
    api_result_free(&one);
    tracked_free(t);
}

Test(tracked, a_zero_cap_tracks_nothing)
{
    static const double v[] = {1};
    struct tracked *t = tracked_new(0);
    struct api_result res;

    single(&res, v, 1);
    cr_assert_eq(tracked_record(t, "m", 1, &res, 1), TRACKED_PARTIAL);
    cr_assert_eq(tracked_series(t), 0);
    cr_assert_eq(tracked_dropped(t), 1);
    api_result_free(&res);
    tracked_free(t);
}

/* Many series in one model and many models: the indexes grow and every
 * series is found again by name (an update does not add one). */
Test(tracked, many_series_found_again)
{
    enum { MODELS = 40, TENSORS = 150 };
    static const double v[] = {2};
    struct tracked *t = tracked_new(MODELS * TENSORS);
    struct api_result res;
    char name[32], model[32];

    named_init(&res);
    for (int i = 0; i < TENSORS; i++) {
        int n = snprintf(name, sizeof name, "layer.%d.weight", i);
        add(&res, name, (size_t)n, v, 1);
    }
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < MODELS; k++) {
            int n = snprintf(model, sizeof model, "model-%d", k);
            cr_assert_eq(tracked_record(t, model, (size_t)n, &res, round), TRACKED_ALL);
        }
    }
    cr_assert_eq(tracked_series(t), MODELS * TENSORS);
    cr_assert_eq(tracked_dropped(t), 0);
    char *m = metrics_text(t);
    expect_line(m, "l2d_tracked_norm{model=\"model-39\",tensor=\"layer.149.weight\"} 2.0");
    expect_line(m, "l2d_tracked_last_update_timestamp_seconds{model=\"model-0\"} 1");
    free(m);
    api_result_free(&res);
    tracked_free(t);
}

/* ---- concurrency ------------------------------------------------------------ */

enum { WRITERS = 4, READERS = 2, ROUNDS = 300, PER_WRITER = 5 };

struct worker {
    struct tracked *t;
    int id;
    struct api_result res;
    int failures;
};

/* Each writer records, in turn, one of its own models and the model
 * "shared". The cap is below the series offered, so the records race for
 * the last free ones; "shared" is first recorded while at most 2 * WRITERS
 * series exist, so its "k" is always held. */
static void *writer(void *arg)
{
    struct worker *w = arg;
    char model[32];

    for (int r = 0; r < ROUNDS; r++) {
        int n = snprintf(model, sizeof model, "w%d-%d", w->id, r % PER_WRITER);
        if (tracked_record(w->t, model, (size_t)n, &w->res, r) == TRACKED_INVALID)
            w->failures++;
        if (tracked_record(w->t, "shared", 6, &w->res, r) == TRACKED_INVALID)
            w->failures++;
    }
    return NULL;
}

/* Each render must be whole: the store never shows more series than the
 * cap, and every sample is terminated. */
static void *reader(void *arg)
{
    struct worker *w = arg;

    for (int r = 0; r < ROUNDS; r++) {
        size_t len = 0;
        char *m = tracked_render_metrics(w->t, &len);
        char *j = tracked_render_json(w->t, &len);
        if (m == NULL || j == NULL || m[strlen(m) - 1] != '\n' || j[strlen(j) - 1] != '}')
            w->failures++;
        free(m);
        free(j);
    }
    return NULL;
}

Test(tracked, writers_and_readers_race)
{
    static const double v[] = {3, 4};
    const size_t cap = WRITERS * PER_WRITER + 3;
    struct tracked *t = tracked_new(cap);
    struct worker w[WRITERS + READERS];
    pthread_t th[WRITERS + READERS];

    for (int i = 0; i < WRITERS + READERS; i++) {
        w[i] = (struct worker){.t = t, .id = i};
        named_init(&w[i].res);
        /* tensor "k" in every writer's result, and one of its own */
        add_str(&w[i].res, "k", v, 2);
        char own[8];
        int n = snprintf(own, sizeof own, "t%d", i);
        add(&w[i].res, own, (size_t)n, v, 1);
    }
    for (int i = 0; i < WRITERS + READERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, &w[i]), 0);
    for (int i = 0; i < WRITERS + READERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(w[i].failures, 0, "worker %d", i);
    }
    cr_assert_eq(tracked_series(t), cap);
    /* Every record offers two series; those not held were dropped. */
    uint64_t offered = (uint64_t)WRITERS * ROUNDS * 2 * 2;
    uint64_t dropped = tracked_dropped(t);
    cr_assert(dropped > 0 && dropped < offered);
    char *m = metrics_text(t);
    expect_line(m, "l2d_tracked_norm{model=\"shared\",tensor=\"k\"} 5.0");
    expect_line(m, "l2d_tracked_last_update_timestamp_seconds{model=\"shared\"} 299");
    free(m);
    for (int i = 0; i < WRITERS + READERS; i++)
        api_result_free(&w[i].res);
    tracked_free(t);
}

/* The longest names, every byte at its costliest escape (a control
 * character is six bytes in JSON, an invalid byte three in a label): both
 * renderings stay within the limit computed from what the store holds. */
Test(tracked, worst_case_names_fit_the_render_limit)
{
    static const double v[] = {1};
    char model[TRACKED_MODEL_MAX];
    char name[API_MAX_NAME];
    struct tracked *t = tracked_new(100);
    struct api_result res;
    size_t len = 0;

    memset(model, 'M', sizeof model);
    named_init(&res);
    for (int k = 0; k < 3; k++) {
        memset(name, k == 0 ? '\x01' : k == 1 ? '\xff' : '"', sizeof name);
        name[0] = (char)('a' + k); /* distinct names */
        add(&res, name, sizeof name, v, 1);
    }
    cr_assert_eq(tracked_record(t, model, sizeof model, &res, 1), TRACKED_ALL);
    char *m = tracked_render_metrics(t, &len);
    cr_assert(m != NULL, "the metrics text did not fit");
    cr_assert(len > 3 * 5 * API_MAX_NAME, "%zu", len);
    free(m);
    char *j = tracked_render_json(t, &len);
    cr_assert(j != NULL, "the JSON did not fit");
    cr_assert(len > 6 * API_MAX_NAME, "%zu", len);
    free(j);
    api_result_free(&res);
    tracked_free(t);
}
