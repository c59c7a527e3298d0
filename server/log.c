/* log.c -- the access log and service messages, one whole line per write.
 *
 * Lines are assembled in a stack buffer of LOG_LINE_MAX bytes (truncated if
 * longer, a JSON line still closed) and handed to one write(2): POSIX keeps
 * such writes to a pipe whole up to PIPE_BUF, and in practice to a file or
 * terminal too. Client-supplied strings (path, request id, method) are
 * escaped in both formats. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../api/text.h"

/* Bytes kept free at the end of a JSON line for the fields after a
 * client-supplied string and the closing "}\n". */
#define LOG_TAIL_ROOM 256

/* Set once by main before the daemon starts; read-only afterwards. */
static enum log_format log_current_format = LOG_TEXT;

static const char *const level_names[] = {"info", "warn", "error"};

void log_set_format(enum log_format format)
{
    log_current_format = format;
}

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
    if (*len < cap)
        *len +=
            api_text_echo(buf + *len, cap - *len, s, strlen(s), SIZE_MAX, API_TEXT_ECHO_PERCENT);
}

static void append_text(char *buf, size_t *len, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends printf output to buf[*len..cap-1), truncated, keeping one byte
 * free for the newline. */
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

bool log_json_escape(char *buf, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s), used = 0;

    if (*len < cap)
        *len += api_text_json_escape(buf + *len, cap - *len, s, n, API_TEXT_JSON_UNICODE, &used);
    return used == n;
}

/* Appends `"key":"<escaped s>"` to buf[*len..cap-1), the key trusted, s not
 * (truncated so that the closing quote always fits). */
static void append_json_string(char *buf, size_t *len, size_t cap, const char *key, const char *s)
{
    size_t klen = strlen(key);

    if (*len + klen + 6 > cap)
        return;
    buf[(*len)++] = '"';
    memcpy(buf + *len, key, klen);
    *len += klen;
    memcpy(buf + *len, "\":\"", 3);
    *len += 3;
    log_json_escape(buf, len, cap - 2, s);
    buf[(*len)++] = '"';
}

/* Appends `{"time":"…Z","level":"…"` */
static void append_json_head(char *buf, size_t *len, size_t cap, const struct timespec *now,
                             enum log_level level)
{
    struct tm tm;
    char stamp[32];

    gmtime_r(&now->tv_sec, &tm);
    if (strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        stamp[0] = '\0';
    append_text(buf, len, cap, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\"", stamp,
                now->tv_nsec / 1000000, level_names[level]);
}

/* Writes `YYYY-MM-DDTHH:MM:SS` (UTC) of sec into buf (cap >= 32); returns
 * its length. The text of the last second seen is kept per thread, so a
 * busy thread formats the date once a second, not once a line. */
static size_t stamp_seconds(char *buf, size_t cap, time_t sec)
{
    static _Thread_local time_t cached_sec = (time_t)-1;
    static _Thread_local char cached[32];
    static _Thread_local size_t cached_len;
    struct tm tm;

    if (sec != cached_sec) {
        gmtime_r(&sec, &tm);
        cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = sec;
    }
    if (cached_len >= cap)
        return 0;
    memcpy(buf, cached, cached_len);
    return cached_len;
}

size_t log_format_access(char *buf, size_t cap, enum log_format format,
                         const struct log_access_entry *e, const struct timespec *now)
{
    size_t len = 0;
    /* Milliseconds with three decimals, rounded to the microsecond, in
     * integers: the request path avoids floating-point printf. */
    uint64_t micros = e->duration_ns / 1000 + (e->duration_ns % 1000 >= 500);

    if (format == LOG_JSON) {
        append_json_head(buf, &len, cap, now, LOG_INFO);
        append_text(buf, &len, cap, ",\"msg\":\"request\",");
        append_json_string(buf, &len, cap - LOG_TAIL_ROOM, "request_id", e->request_id);
        append_text(buf, &len, cap, ",");
        append_json_string(buf, &len, cap - LOG_TAIL_ROOM, "method", e->method);
        append_text(buf, &len, cap,
                    ",\"status\":%d,\"body_bytes\":%llu,\"elements\":%llu,"
                    "\"duration_ms\":%llu.%03llu,",
                    e->status, (unsigned long long)e->body_bytes, (unsigned long long)e->elements,
                    (unsigned long long)(micros / 1000), (unsigned long long)(micros % 1000));
        if (e->trace_id != NULL) {
            append_json_string(buf, &len, cap - LOG_TAIL_ROOM, "trace_id", e->trace_id);
            append_text(buf, &len, cap, ",");
        }
        /* The path goes last: whatever its length, the line stays closed. */
        append_json_string(buf, &len, cap - 1, "path", e->path);
        buf[len++] = '}';
        buf[len++] = '\n';
        return len;
    }
    len = stamp_seconds(buf, cap, now->tv_sec);
    append_text(buf, &len, cap, ".%03ldZ ", now->tv_nsec / 1000000);
    append_escaped(buf, &len, cap - 64, e->request_id);
    append_text(buf, &len, cap, " %s ", e->method);
    /* Room is kept after the path for the fields that follow it. */
    append_escaped(buf, &len, cap - 128, e->path);
    append_text(buf, &len, cap, " %d %llu %llu.%03llums", e->status,
                (unsigned long long)e->body_bytes, (unsigned long long)(micros / 1000),
                (unsigned long long)(micros % 1000));
    if (e->trace_id != NULL) {
        append_text(buf, &len, cap, " trace_id=%s", e->trace_id); /* hex digits */
    }
    buf[len++] = '\n';
    return len;
}

void log_access(const struct log_access_entry *e)
{
    char buf[LOG_LINE_MAX];
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    write_line(buf, log_format_access(buf, sizeof(buf), log_current_format, e, &now));
}

void log_message(enum log_level level, const char *fmt, ...)
{
    char buf[LOG_LINE_MAX];
    char text[LOG_LINE_MAX - LOG_TAIL_ROOM];
    size_t len = 0, tlen;
    struct timespec now;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    tlen = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    while (tlen > 0 && text[tlen - 1] == '\n')
        tlen--;
    text[tlen] = '\0';
    if (log_current_format == LOG_JSON) {
        clock_gettime(CLOCK_REALTIME, &now);
        append_json_head(buf, &len, sizeof(buf), &now, level);
        append_text(buf, &len, sizeof(buf), ",");
        append_json_string(buf, &len, sizeof(buf) - 2, "msg", text);
        append_text(buf, &len, sizeof(buf), "}");
    } else {
        append_text(buf, &len, sizeof(buf), "l2d: %s", text);
    }
    buf[len++] = '\n';
    write_line(buf, len);
}

void log_listening(const char *version, const char *url, unsigned port, uint64_t threads, bool tls,
                   bool auth)
{
    char buf[LOG_LINE_MAX];
    size_t len = 0;
    struct timespec now;

    if (log_current_format == LOG_JSON) {
        clock_gettime(CLOCK_REALTIME, &now);
        append_json_head(buf, &len, sizeof(buf), &now, LOG_INFO);
        append_text(buf, &len, sizeof(buf), ",\"msg\":\"listening\",");
        append_json_string(buf, &len, sizeof(buf) - LOG_TAIL_ROOM, "url", url);
        append_text(buf, &len, sizeof(buf), ",\"port\":%u,", port);
        append_json_string(buf, &len, sizeof(buf) - LOG_TAIL_ROOM, "version", version);
        append_text(buf, &len, sizeof(buf), ",\"threads\":%llu,\"tls\":%s,\"auth\":%s}",
                    (unsigned long long)threads, tls ? "true" : "false", auth ? "true" : "false");
    } else {
        append_text(buf, &len, sizeof(buf), "l2d %s listening on %s (threads %llu)", version, url,
                    (unsigned long long)threads);
    }
    buf[len++] = '\n';
    write_line(buf, len);
}
