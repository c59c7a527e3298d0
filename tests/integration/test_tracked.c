/* test_tracked.c -- ?track=MODEL against the real binary: the answer's
 * "tracked", GET /tracked, the l2d_tracked_* series of /metrics, the cap
 * (--max-tracked-series), l2d_problems_total, and tracked requests racing
 * scrapes on several connections. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(tracked, .init = it_setup, .fini = it_teardown, .timeout = 60);

/* GET target, asserting 200; returns the body (caller frees). */
static char *get_body(int port, const char *target)
{
    struct it_response r;
    it_get(port, target, &r);
    cr_assert_eq(r.status, 200, "GET %s: %ld", target, r.status);
    char *body = r.body;
    r.body = NULL;
    it_response_free(&r);
    return body;
}

/* POSTs the JSON body to target; returns the parsed answer, asserting
 * status. */
static json_t *post_json(int port, const char *target, const char *body, long status)
{
    struct it_response r;
    it_post(port, target, "application/json", body, strlen(body), &r);
    cr_assert_eq(r.status, status, "POST %s: %ld %s", target, r.status, r.body);
    json_t *j = it_json(&r);
    it_response_free(&r);
    return j;
}

Test(tracked, values_in_answer_json_and_metrics)
{
    struct it_server srv;
    it_start(&srv, NULL, NULL);
    time_t before = time(NULL);

    json_t *j = post_json(srv.port, "/l2_loss?track=resnet-50", "[[1, 2], [3, 4]]", 200);
    cr_assert(json_is_true(json_object_get(j, "tracked")));
    json_decref(j);
    j = post_json(srv.port, "/regularize?scale=0.5&track=m%3Av1&nonfinite=count",
                  "{\"tensors\": {\"dense/kernel\": [3, 4], \"dense/bias\": [NaN, 1]}}", 200);
    cr_assert(json_is_true(json_object_get(j, "tracked")));
    json_decref(j);
    /* Without track nothing is recorded and the answer says nothing. */
    j = post_json(srv.port, "/l2_loss", "[5]", 200);
    cr_assert_null(json_object_get(j, "tracked"));
    json_decref(j);

    char *body = get_body(srv.port, "/tracked");
    json_error_t jerr;
    json_t *t = json_loads(body, 0, &jerr);
    cr_assert_not_null(t, "%s: %s", jerr.text, body);
    json_t *models = json_object_get(t, "models");
    cr_assert_eq(json_object_size(models), 2, "%s", body);
    json_t *m = json_object_get(models, "resnet-50");
    json_int_t updated = json_integer_value(json_object_get(m, "updated"));
    cr_assert(updated >= before && updated <= time(NULL) + 1, "updated %lld", (long long)updated);
    it_expect_real(json_object_get(m, "total"), "norm", 5.477225575051661);
    json_t *single = json_object_get(json_object_get(m, "tensors"), "");
    it_expect_real(single, "norm", 5.477225575051661);
    it_expect_real(single, "max_abs", 4.0);
    it_expect_int(single, "count", 4);
    json_t *bias =
        json_object_get(json_object_get(json_object_get(models, "m:v1"), "tensors"), "dense/bias");
    it_expect_real(bias, "norm", 1.0);
    it_expect_int(bias, "count", 2);
    it_expect_int(bias, "nan_count", 1);
    it_expect_int(bias, "inf_count", 0);
    json_decref(t);
    free(body);

    char *text = get_body(srv.port, "/metrics");
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_norm{model=\"resnet-50\",tensor=\"\"}"),
                 5.477225575051661, "%s", text);
    cr_assert_eq(
        it_metrics_sample(text, "l2d_tracked_norm{model=\"m:v1\",tensor=\"dense/kernel\"}"), 5.0);
    cr_assert_eq(
        it_metrics_sample(text, "l2d_tracked_max_abs{model=\"m:v1\",tensor=\"dense/kernel\"}"),
        4.0);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_count{model=\"m:v1\",tensor=\"dense/bias\"}"),
                 2);
    cr_assert_eq(
        it_metrics_sample(
            text, "l2d_tracked_nonfinite{model=\"m:v1\",tensor=\"dense/bias\",kind=\"nan\"}"),
        1);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_total_norm{model=\"m:v1\"}"), sqrt(26.0));
    cr_assert_eq(
        it_metrics_sample(text, "l2d_tracked_last_update_timestamp_seconds{model=\"resnet-50\"}"),
        (double)updated);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_series"), 3);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_series_dropped_total"), 0);
    free(text);
}

/* Model names: 1..128 bytes of [A-Za-z0-9_.:/-], else invalid_parameter,
 * counted in l2d_problems_total; nothing is recorded. */
Test(tracked, bad_model_names_refused_and_counted)
{
    static const char *const bad[] = {"/l2_loss?track=", "/l2_loss?track=a%20b",
                                      "/l2_loss?track=caf%C3%A9", "/l2_loss?track=a&track=b",
                                      "/l2_loss?track=a%22b"};
    char longest[300];
    struct it_server srv;
    it_start(&srv, NULL, NULL);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = post_json(srv.port, bad[i], "[1]", 400);
        it_expect_str(j, "code", "invalid_parameter");
        json_decref(j);
    }
    snprintf(longest, sizeof longest, "/l2_loss?track=%0129d", 0);
    json_t *j = post_json(srv.port, longest, "[1]", 400);
    json_decref(j);
    longest[strlen(longest) - 1] = '\0'; /* 128 bytes */
    j = post_json(srv.port, longest, "[1]", 200);
    cr_assert(json_is_true(json_object_get(j, "tracked")));
    json_decref(j);
    char *text = get_body(srv.port, "/metrics");
    cr_assert_eq(it_metrics_sample(
                     text, "l2d_problems_total{endpoint=\"l2_loss\",code=\"invalid_parameter\"}"),
                 6, "%s", text);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_series"), 1);
    free(text);
}

Test(tracked, the_cap_makes_answers_partial)
{
    static const char *const args[] = {"--max-tracked-series", "2", NULL};
    struct it_server srv;
    it_start(&srv, args, NULL);

    json_t *j = post_json(srv.port, "/l2_loss?track=m",
                          "{\"tensors\": {\"a\": [1], \"b\": [2], \"c\": [3]}}", 200);
    it_expect_str(j, "tracked", "partial");
    json_decref(j);
    /* Existing series still update. */
    j = post_json(srv.port, "/l2_loss?track=m", "{\"tensors\": {\"a\": [7], \"b\": [8]}}", 200);
    cr_assert(json_is_true(json_object_get(j, "tracked")));
    json_decref(j);
    char *text = get_body(srv.port, "/metrics");
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_norm{model=\"m\",tensor=\"a\"}"), 7.0, "%s",
                 text);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_norm{model=\"m\",tensor=\"c\"}"), -1);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_series"), 2);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_series_dropped_total"), 1);
    free(text);
}

Test(tracked, problems_total_by_code)
{
    struct it_server srv;
    struct it_response r;
    it_start(&srv, NULL, NULL);

    json_t *j = post_json(srv.port, "/l2_loss", "[1, ", 400);
    json_decref(j);
    it_get(srv.port, "/nowhere", &r);
    cr_assert_eq(r.status, 404);
    it_response_free(&r);
    char *text = get_body(srv.port, "/metrics");
    cr_assert_eq(
        it_metrics_sample(text, "l2d_problems_total{endpoint=\"l2_loss\",code=\"invalid_json\"}"),
        1, "%s", text);
    cr_assert_eq(
        it_metrics_sample(text, "l2d_problems_total{endpoint=\"other\",code=\"not_found\"}"), 1);
    free(text);
}

enum { RACERS = 4, RACE_REQUESTS = 40 };

struct racer {
    int port;
    int id;
    int failures;
};

/* Tracked requests under its own model, or scrapes of /metrics and
 * /tracked, each checked: a torn or failed answer is a failure. */
static void *race(void *arg)
{
    struct racer *w = arg;
    CURL *easy = curl_easy_init();
    char target[64], body[64];

    for (int i = 0; i < RACE_REQUESTS && easy != NULL; i++) {
        struct it_response r;
        struct it_request req = {.method = w->id % 2 ? "GET" : "POST"};
        if (w->id % 2 == 0) {
            snprintf(target, sizeof target, "/l2_loss?track=racer-%d", w->id);
            snprintf(body, sizeof body, "{\"tensors\": {\"t%d\": [%d, 4]}}", i % 5, 3 * (i + 1));
            req.target = target;
            req.content_type = "application/json";
            req.body = body;
            req.body_len = strlen(body);
        } else {
            req.target = i % 2 ? "/tracked" : "/metrics";
        }
        if (it_perform(easy, w->port, &req, &r) != CURLE_OK || r.status != 200 || r.body_len == 0 ||
            (w->id % 2 == 0 && strstr(r.body, "\"tracked\": true}") == NULL) ||
            (w->id % 2 == 1 && i % 2 == 1 && r.body[r.body_len - 1] != '}') ||
            (w->id % 2 == 1 && i % 2 == 0 && r.body[r.body_len - 1] != '\n'))
            w->failures++;
        it_response_free(&r);
    }
    if (easy != NULL)
        curl_easy_cleanup(easy);
    else
        w->failures++;
    return NULL;
}

Test(tracked, tracked_requests_race_scrapes)
{
    static const char *const args[] = {"--threads", "4", NULL};
    struct it_server srv;
    struct racer w[RACERS];
    pthread_t th[RACERS];
    it_start(&srv, args, NULL);

    for (int i = 0; i < RACERS; i++) {
        w[i] = (struct racer){.port = srv.port, .id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, race, &w[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(w[i].failures, 0, "racer %d", i);
    }
    char *text = get_body(srv.port, "/metrics");
    /* Each writer's last request was i = RACE_REQUESTS - 1: t4 = [120, 4]. */
    for (int i = 0; i < RACERS; i += 2) {
        char series[96];
        snprintf(series, sizeof series, "l2d_tracked_norm{model=\"racer-%d\",tensor=\"t4\"}", i);
        cr_assert_eq(it_metrics_sample(text, series), sqrt(120.0 * 120.0 + 16.0), "%s", text);
    }
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_series"), 5 * ((RACERS + 1) / 2));
    free(text);
}

/* parameters.track on the inference protocol and ?track on /merge record
 * as ?track does on the native endpoints; the protocol's answer says so in
 * its parameters; a bad name is the protocol's 400. */
Test(tracked, inference_and_merge)
{
    struct it_server srv;
    it_start(&srv, NULL, NULL);

    json_t *j = post_json(srv.port, "/v2/models/l2_loss/infer",
                          "{\"parameters\": {\"track\": \"oip-model\", \"partial\": true}, "
                          "\"inputs\": [{\"name\": \"w\", \"shape\": [2], \"datatype\": \"FP32\", "
                          "\"data\": [3, 4]}, {\"name\": \"b\", \"shape\": [1], "
                          "\"datatype\": \"FP64\", \"data\": [12]}]}",
                          200);
    cr_assert(json_is_true(json_object_get(json_object_get(j, "parameters"), "tracked")));
    /* the partials of both inputs, merged under another model name */
    json_t *outputs = json_object_get(j, "outputs"), *parts = NULL;
    for (size_t i = 0; i < json_array_size(outputs); i++) {
        json_t *o = json_array_get(outputs, i);
        if (strcmp(json_string_value(json_object_get(o, "name")), "input_partial") == 0)
            parts = json_object_get(o, "data");
    }
    cr_assert_eq(json_array_size(parts), 2);
    char body[4096];
    snprintf(body, sizeof body, "{\"partials\": {\"w\": [\"%s\"], \"b\": [\"%s\"]}}",
             json_string_value(json_array_get(parts, 0)),
             json_string_value(json_array_get(parts, 1)));
    json_decref(j);
    j = post_json(srv.port, "/merge?track=merged", body, 200);
    cr_assert(json_is_true(json_object_get(j, "tracked")));
    json_decref(j);

    char *text = get_body(srv.port, "/metrics");
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_norm{model=\"oip-model\",tensor=\"w\"}"), 5.0,
                 "%s", text);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_norm{model=\"oip-model\",tensor=\"b\"}"),
                 12.0);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_total_norm{model=\"oip-model\"}"), 13.0);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_norm{model=\"merged\",tensor=\"w\"}"), 5.0);
    cr_assert_eq(it_metrics_sample(text, "l2d_tracked_total_norm{model=\"merged\"}"), 13.0);
    free(text);

    /* A refused result (its sum overflows float64) records nothing, and
     * /tracked stays JSON. */
    struct it_response r;
    const char *huge = "{\"parameters\": {\"track\": \"too-big\"}, \"inputs\": [{\"name\": "
                       "\"w\", \"shape\": [2], \"datatype\": \"FP64\", \"data\": [1e200, 1e200]}]}";
    it_post(srv.port, "/v2/models/l2_loss/infer", "application/json", huge, strlen(huge), &r);
    cr_assert_eq(r.status, 400, "%ld %s", r.status, r.body);
    it_response_free(&r);
    char *tracked = get_body(srv.port, "/tracked");
    json_error_t jerr;
    json_t *tj = json_loads(tracked, 0, &jerr);
    cr_assert_not_null(tj, "/tracked is not JSON (%s): %s", jerr.text, tracked);
    cr_assert_null(json_object_get(json_object_get(tj, "models"), "too-big"), "%s", tracked);
    json_decref(tj);
    free(tracked);

    const char *bad = "{\"parameters\": {\"track\": \"no spaces\"}, \"inputs\": [{\"name\": \"w\", "
                      "\"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}";
    it_post(srv.port, "/v2/models/l2_loss/infer", "application/json", bad, strlen(bad), &r);
    cr_assert_eq(r.status, 400);
    cr_assert_not_null(strstr(r.body, "parameters.track must be a model name"), "%s", r.body);
    it_response_free(&r);
}
