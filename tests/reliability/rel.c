/* rel.c -- helpers shared by the reliability tests: the shim-aware server
 * start, process figures from /proc, and raw HTTP exchanges that never
 * assert (safe from any thread). */
#define _GNU_SOURCE /* memmem */
#include "rel.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#define REL_RECV_CAP (1u << 20)

const char *rel_shim(void)
{
    const char *so = getenv("L2D_FAILALLOC_SO");
    return so != NULL && so[0] != '\0' ? so : NULL;
}

void rel_start(struct rel_server *rs, const char *const *args, bool with_shim)
{
    static char preload[512], ctlenv[96];
    const char *env[3] = {NULL, NULL, NULL};

    memset(rs, 0, sizeof *rs);
    if (with_shim && rel_shim() != NULL) {
        snprintf(rs->ctl_path, sizeof rs->ctl_path, "/tmp/l2d-rel-ctl-XXXXXX");
        int fd = mkstemp(rs->ctl_path);
        cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
        cr_assert(ftruncate(fd, (off_t)sizeof(struct failalloc_ctl)) == 0);
        void *map =
            mmap(NULL, sizeof(struct failalloc_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        cr_assert(map != MAP_FAILED, "mmap: %s", strerror(errno));
        rs->ctl = map;
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s", rel_shim());
        snprintf(ctlenv, sizeof ctlenv, "FAILALLOC_CTL=%s", rs->ctl_path);
        env[0] = preload;
        env[1] = ctlenv;
    }
    it_start(&rs->srv, args, env);
}

void rel_release(struct rel_server *rs)
{
    if (rs->ctl != NULL)
        munmap(rs->ctl, sizeof(struct failalloc_ctl));
    rs->ctl = NULL;
    if (rs->ctl_path[0] != '\0')
        unlink(rs->ctl_path);
    rs->ctl_path[0] = '\0';
}

int rel_fd_count(int pid)
{
    char path[64];
    int n = 0;
    struct dirent *e;

    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

long rel_rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

int64_t rel_live(const struct rel_server *rs)
{
    return rs->ctl != NULL ? __atomic_load_n(&rs->ctl->live, __ATOMIC_ACQUIRE) : 0;
}

int rel_wait_fds(int pid, int want, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    int n;

    while ((n = rel_fd_count(pid)) > want && it_now_ms() < deadline)
        it_sleep_ms(20);
    return n;
}

int64_t rel_wait_live(const struct rel_server *rs, int64_t want, int timeout_ms)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    int64_t n;

    while ((n = rel_live(rs)) > want && it_now_ms() < deadline)
        it_sleep_ms(20);
    return n;
}

int rel_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {10, 0};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool reply_complete(struct rel_reply *r)
{
    struct it_response res;
    bool ok = it_parse_response(r->raw, r->len, &res);

    if (ok)
        r->status = res.status;
    free(res.body);
    free(res.headers);
    return ok;
}

bool rel_exchange(int port, const void *req, size_t len, bool shut_wr, bool wait_close,
                  int timeout_ms, struct rel_reply *out)
{
    int64_t deadline = it_now_ms() + timeout_ms;
    int fd = rel_connect(port);

    memset(out, 0, sizeof *out);
    if (fd < 0)
        return false;
    out->raw = malloc(REL_RECV_CAP + 1);
    if (out->raw == NULL) {
        close(fd);
        return false;
    }
    out->raw[0] = '\0';
    it_send_all(fd, req, len); /* a refusal may close before all is sent */
    if (shut_wr)
        shutdown(fd, SHUT_WR);
    while (out->len < REL_RECV_CAP) {
        int64_t left = deadline - it_now_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        ssize_t n = recv(fd, out->raw + out->len, REL_RECV_CAP - out->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            out->closed = true;
            break;
        }
        out->len += (size_t)n;
        out->raw[out->len] = '\0';
        if (!out->complete)
            out->complete = reply_complete(out);
        if (out->complete && !wait_close)
            break;
    }
    close(fd);
    return true;
}

void rel_reply_free(struct rel_reply *r)
{
    free(r->raw);
    r->raw = NULL;
}

bool rel_check_normal(int port, char *why, size_t why_len)
{
    static const char req[] = "POST /l2_loss HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\nContent-Length: 16\r\n"
                              "Connection: close\r\n\r\n[[1, 2], [3, 4]]";
    struct rel_reply r;
    bool ok = false;

    if (!rel_exchange(port, req, sizeof req - 1, false, false, 10000, &r)) {
        snprintf(why, why_len, "cannot connect");
        return false;
    }
    if (!r.complete)
        snprintf(why, why_len, "no complete answer (%zu bytes, closed %d)", r.len, r.closed);
    else if (r.status != 200 || strstr(r.raw, "\"loss\": 15.0") == NULL)
        snprintf(why, why_len, "wrong answer: %.300s", r.raw);
    else
        ok = true;
    rel_reply_free(&r);
    return ok;
}
