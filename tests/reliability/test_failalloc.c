/* test_failalloc.c -- every allocation on the request path, made to fail
 * in turn (failalloc.c, preloaded), for twelve kinds of request: the answer is
 * the right one, a 500/503 problem+json, or a closed connection; never a
 * crash, a hang, a wrong answer or a leak. After each failure the server
 * must answer a normal request right, and its live allocation count must
 * return to where it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "rel.h"

static struct rel_server rs;

static void stop_failalloc(void)
{
    it_teardown();
    rel_release(&rs);
}

TestSuite(failalloc, .init = it_setup, .fini = stop_failalloc, .timeout = 240);

#define HDR "Host: 127.0.0.1\r\nConnection: close\r\n"
#define JSON_CT "Content-Type: application/json\r\n"

static const char npy_req[] =
    "POST /l2_loss HTTP/1.1\r\n" HDR
    "Content-Type: application/x-npy\r\nContent-Length: 144\r\n\r\n"
    "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    "                                                            \n"
    "\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40";

static const char raw_req[] =
    "POST /l2_loss?dtype=float32 HTTP/1.1\r\n" HDR "Content-Type: application/octet-stream\r\n"
    "Content-Length: 8\r\n\r\n\x00\x00\x80\x3f\x00\x00\x00\x40";

/* w F32 [2] = {1, 2}, i I8 [1] skipped, and __metadata__. */
static const char safetensors_req[] =
    "POST /l2_loss HTTP/1.1\r\n" HDR
    "Content-Type: application/x-safetensors\r\nContent-Length: 161\r\n\r\n"
    "\x90\x00\x00\x00\x00\x00\x00\x00"
    "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
    "\"data_offsets\":[0,8]},\"i\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[8,9]}}"
    "       "
    "\x00\x00\x80\x3f\x00\x00\x00\x40\x07";

/* A header that is JSON but not an entry: refused at offset 8. */
static const char bad_safetensors_req[] =
    "POST /l2_loss HTTP/1.1\r\n" HDR "Content-Type: application/x-safetensors\r\n"
    "Content-Length: 17\r\n\r\n\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}  ";

/* np.savez(a=np.array([1.0, 2.0]), i=np.arange(2, dtype='<i2')) to a file
 * (stored), and np.savez_compressed of the same to a pipe (deflate, data
 * descriptors): the .npy decoder per member, inflate's state and window. */
static const char npz_stored_req[] =
    "POST /l2_loss HTTP/1.1\r\n" HDR
    "Content-Type: application/x-npz\r\nContent-Length: 510\r\n\r\n"
    "\x50\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x64\x5b\xaa\xbf\x90\x00"
    "\x00\x00\x90\x00\x00\x00\x05\x00\x14\x00\x61\x2e\x6e\x70\x79\x01\x00\x10\x00\x90"
    "\x00\x00\x00\x00\x00\x00\x00\x90\x00\x00\x00\x00\x00\x00\x00\x93\x4e\x55\x4d\x50"
    "\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x3c\x66\x38\x27"
    "\x2c\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20\x46"
    "\x61\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x32\x2c\x29\x2c"
    "\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x0a\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40\x50"
    "\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x3b\x06\x14\xa9\x84\x00\x00"
    "\x00\x84\x00\x00\x00\x05\x00\x14\x00\x69\x2e\x6e\x70\x79\x01\x00\x10\x00\x84\x00"
    "\x00\x00\x00\x00\x00\x00\x84\x00\x00\x00\x00\x00\x00\x00\x93\x4e\x55\x4d\x50\x59"
    "\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x3c\x69\x32\x27\x2c"
    "\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20\x46\x61"
    "\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x32\x2c\x29\x2c\x20"
    "\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x0a\x00\x00\x01\x00\x50\x4b\x01\x02\x14\x03\x14\x00\x00\x00\x00\x00\x00\x00"
    "\x21\x00\x64\x5b\xaa\xbf\x90\x00\x00\x00\x90\x00\x00\x00\x05\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x61\x2e\x6e\x70\x79\x50\x4b\x01"
    "\x02\x14\x03\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x3b\x06\x14\xa9\x84\x00\x00"
    "\x00\x84\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\xc7"
    "\x00\x00\x00\x69\x2e\x6e\x70\x79\x50\x4b\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00"
    "\x66\x00\x00\x00\x82\x01\x00\x00\x00\x00";

static const char npz_deflate_req[] =
    "POST /l2_loss HTTP/1.1\r\n" HDR "Content-Type: application/zip\r\nContent-Length: 430\r\n\r\n"
    "\x50\x4b\x03\x04\x14\x00\x08\x00\x08\x00\x00\x00\x21\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x05\x00\x14\x00\x61\x2e\x6e\x70\x79\x01\x00\x10\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x9b\xec\x17\xea\x1b"
    "\x10\xc9\xc8\x50\xc6\x50\xad\x9e\x92\x5a\x9c\x5c\xa4\x6e\xa5\xa0\x6e\x93\x66\xa1"
    "\xae\xa3\xa0\x9e\x96\x5f\x54\x52\x94\x98\x17\x9f\x5f\x94\x92\x0a\x12\x77\x4b\xcc"
    "\x29\x4e\x05\x8a\x17\x67\x24\x16\xa4\x02\xf9\x1a\x46\x3a\x9a\x3a\x0a\xb5\x0a\x14"
    "\x00\x2e\x06\x30\xf8\x60\x0f\xa1\x19\x1c\x00\x50\x4b\x07\x08\x64\x5b\xaa\xbf\x4c"
    "\x00\x00\x00\x00\x00\x00\x00\x90\x00\x00\x00\x00\x00\x00\x00\x50\x4b\x03\x04\x14"
    "\x00\x08\x00\x08\x00\x00\x00\x21\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x05\x00\x14\x00\x69\x2e\x6e\x70\x79\x01\x00\x10\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x9b\xec\x17\xea\x1b\x10\xc9\xc8\x50\xc6"
    "\x50\xad\x9e\x92\x5a\x9c\x5c\xa4\x6e\xa5\xa0\x6e\x93\x69\xa4\xae\xa3\xa0\x9e\x96"
    "\x5f\x54\x52\x94\x98\x17\x9f\x5f\x94\x92\x0a\x12\x77\x4b\xcc\x29\x4e\x05\x8a\x17"
    "\x67\x24\x16\xa4\x02\xf9\x1a\x46\x3a\x9a\x3a\x0a\xb5\x0a\x14\x00\x2e\x06\x06\x46"
    "\x06\x00\x50\x4b\x07\x08\x3b\x06\x14\xa9\x48\x00\x00\x00\x00\x00\x00\x00\x84\x00"
    "\x00\x00\x00\x00\x00\x00\x50\x4b\x01\x02\x14\x03\x14\x00\x08\x00\x08\x00\x00\x00"
    "\x21\x00\x64\x5b\xaa\xbf\x4c\x00\x00\x00\x90\x00\x00\x00\x05\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x61\x2e\x6e\x70\x79\x50\x4b\x01"
    "\x02\x14\x03\x14\x00\x08\x00\x08\x00\x00\x00\x21\x00\x3b\x06\x14\xa9\x48\x00\x00"
    "\x00\x84\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x9b"
    "\x00\x00\x00\x69\x2e\x6e\x70\x79\x50\x4b\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00"
    "\x66\x00\x00\x00\x32\x01\x00\x00\x00\x00";

struct kind {
    const char *name;
    const char *req;
    size_t len; /* 0: strlen(req) */
};

/* Requests answered by a result or a fixed body. */
static const struct kind answer_kinds[] = {
    {"json l2_loss",
     "POST /l2_loss HTTP/1.1\r\n" HDR JSON_CT "Content-Length: 16\r\n\r\n[[1, 2], [3, 4]]", 0},
    {"json named regularize",
     "POST /regularize?scale=0.5 HTTP/1.1\r\n" HDR JSON_CT "Content-Length: 46\r\n\r\n"
     "{\"tensors\": {\"k\": [[1, 2], [3, 4]], \"b\": [1]}}",
     0},
    {"raw float32", raw_req, sizeof raw_req - 1},
    {"npy", npy_req, sizeof npy_req - 1},
    {"safetensors", safetensors_req, sizeof safetensors_req - 1},
    {"npz stored", npz_stored_req, sizeof npz_stored_req - 1},
    {"npz deflate", npz_deflate_req, sizeof npz_deflate_req - 1},
    {"chunked json",
     "POST /l2_loss?dtype=float16 HTTP/1.1\r\n" HDR JSON_CT "Transfer-Encoding: chunked\r\n\r\n"
     "3\r\n[0.\r\n5\r\n5, 3]\r\n0\r\n\r\n",
     0},
    {"metrics", "GET /metrics HTTP/1.1\r\n" HDR "\r\n", 0},
    {"healthz", "GET /healthz HTTP/1.1\r\n" HDR "\r\n", 0},
};

/* Requests answered by a problem+json refusal. */
static const struct kind problem_kinds[] = {
    {"invalid json", "POST /l2_loss HTTP/1.1\r\n" HDR JSON_CT "Content-Length: 6\r\n\r\n[1, ]]", 0},
    {"integer scale",
     "POST /regularize?scale=1 HTTP/1.1\r\n" HDR JSON_CT "Content-Length: 3\r\n\r\n[1]", 0},
    {"not found", "GET /nowhere HTTP/1.1\r\n" HDR "\r\n", 0},
    {"invalid safetensors", bad_safetensors_req, sizeof bad_safetensors_req - 1},
};

static void arm(uint64_t fail_at)
{
    __atomic_store_n(&rs.ctl->armed, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&rs.ctl->count, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&rs.ctl->injected, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&rs.ctl->fail_at, fail_at, __ATOMIC_RELEASE);
    __atomic_store_n(&rs.ctl->armed, 1, __ATOMIC_RELEASE);
}

static void disarm(void)
{
    __atomic_store_n(&rs.ctl->armed, 0, __ATOMIC_RELEASE);
}

static const char *body_of(const struct rel_reply *r)
{
    const char *b = strstr(r->raw, "\r\n\r\n");
    return b != NULL ? b + 4 : "";
}

/* The reply's status and body, as a malloc'd "STATUS BODY" string, or
 * NULL when incomplete. */
static char *outcome(const struct rel_reply *r)
{
    if (!r->complete)
        return NULL;
    const char *b = body_of(r);
    size_t n = strlen(b) + 16;
    char *s = malloc(n);
    cr_assert(s != NULL);
    snprintf(s, n, "%ld %s", r->status, b);
    return s;
}

/* The metrics change between two scrapes (the counters move): for them a
 * right answer is a 200 exposition; for the rest, the same bytes. */
static bool same_answer(const char *got, const char *want)
{
    static const char metrics[] = "200 # HELP l2d_requests_total";
    if (strncmp(want, metrics, sizeof metrics - 1) == 0)
        return strncmp(got, metrics, sizeof metrics - 1) == 0;
    return strcmp(got, want) == 0;
}

/* Makes every allocation of each kind's request fail in turn. */
static void fail_in_turn(const struct kind *kinds, size_t count)
{
    if (rel_shim() == NULL)
        cr_skip_test("L2D_FAILALLOC_SO is not set (sanitizer build)");
    const char *args[] = {"--threads", "2", "--timeout", "5", NULL};
    rel_start(&rs, args, true);
    int port = rs.srv.port;
    char why[512];
    cr_assert(rs.ctl != NULL);
    for (int i = 0; i < 10; i++)
        cr_assert(rel_check_normal(port, why, sizeof why), "warm-up: %s", why);
    int base_fds = rel_wait_fds(rs.srv.pid, 0, 0);

    long total_runs = 0;
    int wrong = 0;
    static char first_wrong[800];
    for (size_t k = 0; k < count; k++) {
        const struct kind *kd = &kinds[k];
        size_t len = kd->len != 0 ? kd->len : strlen(kd->req);
        struct rel_reply r;

        /* The right answer, and how many allocations it takes. */
        arm(0);
        cr_assert(rel_exchange(port, kd->req, len, false, true, 10000, &r));
        int64_t settle = it_now_ms() + 200;
        while (it_now_ms() < settle)
            it_sleep_ms(10);
        disarm();
        uint64_t allocs = __atomic_load_n(&rs.ctl->count, __ATOMIC_ACQUIRE);
        char *want = outcome(&r);
        cr_assert(want != NULL, "%s: no answer without failures: %.200s", kd->name, r.raw);
        rel_reply_free(&r);
        cr_assert(allocs > 0, "%s: no allocation counted (is the shim preloaded?)", kd->name);

        int same = 0, errors = 0, closed = 0;
        for (uint64_t n = 1; n <= allocs; n++) {
            int64_t live0 = rel_live(&rs);
            arm(n);
            bool connected = rel_exchange(port, kd->req, len, false, true, 10000, &r);
            disarm();
            total_runs++;
            cr_assert(connected, "%s, allocation %llu failing: cannot connect", kd->name,
                      (unsigned long long)n);
            cr_assert(it_alive(&rs.srv), "%s, allocation %llu failing: the server died", kd->name,
                      (unsigned long long)n);
            char *got = outcome(&r);
            if (got != NULL && same_answer(got, want)) {
                same++;
            } else if (got != NULL && (r.status == 500 || r.status == 503)) {
                struct it_response res;
                cr_assert(it_parse_response(r.raw, r.len, &res));
                cr_assert_str_eq(res.content_type, "application/problem+json",
                                 "%s, allocation %llu failing: %ld is not problem+json", kd->name,
                                 (unsigned long long)n, r.status);
                json_decref(it_expect_problem(&res, r.status,
                                              r.status == 500 ? "internal_error" : "draining"));
                it_response_free(&res);
                errors++;
            } else if (got != NULL) {
                /* Recorded, not fatal at once, so one run lists them all. */
                if (wrong++ == 0)
                    snprintf(first_wrong, sizeof first_wrong,
                             "%s, allocation %llu failing: %.400s (want %.200s)", kd->name,
                             (unsigned long long)n, r.raw, want);
                fprintf(stderr, "[rel] failalloc WRONG %s, allocation %llu: %.300s\n", kd->name,
                        (unsigned long long)n, body_of(&r));
            } else {
                cr_assert(r.closed, "%s, allocation %llu failing: the connection hung (%zu bytes)",
                          kd->name, (unsigned long long)n, r.len);
                closed++;
            }
            free(got);
            rel_reply_free(&r);
            int64_t live = rel_wait_live(&rs, live0, 5000);
            cr_assert(live <= live0, "%s, allocation %llu failing: %lld allocations leaked",
                      kd->name, (unsigned long long)n, (long long)(live - live0));
            cr_assert(rel_check_normal(port, why, sizeof why),
                      "%s, allocation %llu failing, then a normal request: %s", kd->name,
                      (unsigned long long)n, why);
            live = rel_wait_live(&rs, live0, 5000);
            cr_assert(live <= live0, "%s, allocation %llu failing: %lld allocations leaked",
                      kd->name, (unsigned long long)n, (long long)(live - live0));
        }
        fprintf(stderr,
                "[rel] failalloc %-22s %3llu allocations: %d answered right, %d 5xx problem, "
                "%d closed\n",
                kd->name, (unsigned long long)allocs, same, errors, closed);
        free(want);
    }
    int fds = rel_wait_fds(rs.srv.pid, base_fds, 5000);
    fprintf(stderr, "[rel] failalloc: %ld failing runs, server fds %d -> %d\n", total_runs,
            base_fds, fds);
    cr_assert(fds <= base_fds, "server fds %d after, %d before", fds, base_fds);
    cr_assert_eq(wrong, 0, "%d wrong answers under allocation failures; the first: %s", wrong,
                 first_wrong);
}

Test(failalloc, answers_under_allocation_failures)
{
    fail_in_turn(answer_kinds, sizeof answer_kinds / sizeof *answer_kinds);
}

/* Problem bodies under allocation failure: jansson 2.14's json_dumps went on
 * past a failed write of an object key and sent invalid JSON, e.g.
 * {..., "status": 400, : "invalid JSON at byte 4: ..."}; the encoder now
 * sizes the text first and dumps into one allocation. */
Test(failalloc, problems_under_allocation_failures)
{
    fail_in_turn(problem_kinds, sizeof problem_kinds / sizeof *problem_kinds);
}
