/* log.c -- the access log and service messages, one whole line per write.
 *
 * Lines are assembled in a stack buffer of LOG_LINE_MAX bytes (truncated if
 * longer) and handed to one write(2): POSIX keeps such writes to a pipe whole
 * up to PIPE_BUF, and in practice to a file or terminal too. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void write_line(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Appends s to buf[*len..cap-1), escaping bytes outside printable ASCII (and
 * spaces, which separate fields) as %XX. Always leaves room for "\n". */
static void append_escaped(char *buf, size_t *len, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 0x20 && c < 0x7f) {
            if (*len + 2 > cap)
                return;
            buf[(*len)++] = (char)c;
        } else {
            if (*len + 4 > cap)
                return;
            buf[(*len)++] = '%';
            buf[(*len)++] = hex[c >> 4];
            buf[(*len)++] = hex[c & 15];
        }
    }
}

static void append_text(char *buf, size_t *len, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append_text(char *buf, size_t *len, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len + 1 >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - 1 - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *len += (size_t)n < cap - 1 - *len ? (size_t)n : cap - 2 - *len;
}

void log_access(const struct log_access_entry *e)
{
    char buf[LOG_LINE_MAX];
    size_t len = 0;
    struct timespec now;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    len = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    append_text(buf, &len, sizeof(buf), ".%03ldZ ", now.tv_nsec / 1000000);
    append_escaped(buf, &len, sizeof(buf) - 64, e->request_id);
    append_text(buf, &len, sizeof(buf), " %s ", e->method);
    append_escaped(buf, &len, sizeof(buf) - 64, e->path);
    append_text(buf, &len, sizeof(buf), " %d %llu %.3fms", e->status,
                (unsigned long long)e->body_bytes, (double)e->duration_ns / 1e6);
    buf[len++] = '\n';
    write_line(buf, len);
}

void log_message(const char *fmt, ...)
{
    char buf[LOG_LINE_MAX];
    size_t len = 5;
    va_list ap;
    int n;

    memcpy(buf, "l2d: ", 5);
    va_start(ap, fmt);
    n = vsnprintf(buf + len, sizeof(buf) - len - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    len += (size_t)n < sizeof(buf) - len - 1 ? (size_t)n : sizeof(buf) - len - 2;
    while (len > 5 && buf[len - 1] == '\n')
        len--;
    buf[len++] = '\n';
    write_line(buf, len);
}
