/* log.c -- the access log and service messages, whole lines only.
 *
 * Lines are assembled in a stack buffer of LOG_LINE_MAX bytes (truncated if
 * longer, a JSON line still closed). Unbuffered, each is handed to one
 * write(2): POSIX keeps such writes to a pipe whole up to PIPE_BUF, and in
 * practice to a file or terminal too. Buffered (log_buffer_start), access
 * lines are gathered into LOG_BUFFER_BYTES and written together, by one
 * writer at a time, so no other writer can come between two lines. Client-supplied strings
 * (path, request id, method) are escaped in both formats. The request path
 * formats without printf. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
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

/* The access log's buffer: lines waiting for one write(2), the monotonic
 * time of the oldest, and the flusher thread that writes them once they are
 * flush_ms old. Lines go into one of two buffers under `lock`, held only to
 * copy a line; writing takes `write_lock` (first), swaps the buffers under
 * `lock` and writes the full one with `lock` released, so a slow reader of
 * the log (a pipe) holds up only the thread that writes, and lines keep
 * their order. fd and flush_ms are set by log_buffer_start before any other
 * thread logs. */
static struct {
    pthread_mutex_t lock, write_lock;
    pthread_cond_t wake; /* the flusher's: a first line came, or stop */
    pthread_t flusher;
    bool on; /* buffering, and the flusher running */
    int fd;
    unsigned flush_ms;
    struct timespec oldest; /* CLOCK_MONOTONIC of the first line in data[cur] */
    unsigned cur;           /* the buffer lines go into */
    size_t used;
    char data[2][LOG_BUFFER_BYTES];
} log_buffer = {.lock = PTHREAD_MUTEX_INITIALIZER,
                .write_lock = PTHREAD_MUTEX_INITIALIZER,
                .fd = STDERR_FILENO};

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Writes out the buffered lines; write_lock held, lock not. */
static void buffer_write(void)
{
    const char *full;
    size_t n;

    pthread_mutex_lock(&log_buffer.lock);
    full = log_buffer.data[log_buffer.cur];
    n = log_buffer.used;
    log_buffer.cur ^= 1;
    log_buffer.used = 0;
    pthread_mutex_unlock(&log_buffer.lock);
    write_all(log_buffer.fd, full, n);
}

/* Writes the buffered lines now, then buf[0..len) (nothing more when len
 * is 0), one writer at a time. */
static void write_line(const char *buf, size_t len)
{
    pthread_mutex_lock(&log_buffer.write_lock);
    buffer_write();
    write_all(log_buffer.fd, buf, len);
    pthread_mutex_unlock(&log_buffer.write_lock);
}

/* Buffers one access line (len <= LOG_LINE_MAX), writing the buffer first
 * when it would not fit; the first line of an empty buffer wakes the
 * flusher. Unbuffered, writes it now. */
static void buffer_line(const char *buf, size_t len)
{
    pthread_mutex_lock(&log_buffer.lock);
    while (log_buffer.on && log_buffer.used + len > LOG_BUFFER_BYTES) {
        pthread_mutex_unlock(&log_buffer.lock);
        write_line(NULL, 0);
        pthread_mutex_lock(&log_buffer.lock);
    }
    if (!log_buffer.on) {
        pthread_mutex_unlock(&log_buffer.lock);
        write_line(buf, len);
        return;
    }
    if (log_buffer.used == 0) {
        clock_gettime(CLOCK_MONOTONIC, &log_buffer.oldest);
        pthread_cond_signal(&log_buffer.wake);
    }
    memcpy(log_buffer.data[log_buffer.cur] + log_buffer.used, buf, len);
    log_buffer.used += len;
    pthread_mutex_unlock(&log_buffer.lock);
}

/* The flusher: sleeps while the buffer is empty, else until its oldest line
 * is flush_ms old, then writes it out; log_buffer_stop writes the rest. */
static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_buffer.lock);
    while (log_buffer.on) {
        struct timespec due = log_buffer.oldest, now;

        if (log_buffer.used == 0) {
            pthread_cond_wait(&log_buffer.wake, &log_buffer.lock);
            continue;
        }
        due.tv_sec += (time_t)(log_buffer.flush_ms / 1000);
        due.tv_nsec += (long)(log_buffer.flush_ms % 1000) * 1000000L;
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > due.tv_sec || (now.tv_sec == due.tv_sec && now.tv_nsec >= due.tv_nsec)) {
            pthread_mutex_unlock(&log_buffer.lock);
            write_line(NULL, 0);
            pthread_mutex_lock(&log_buffer.lock);
        } else {
            pthread_cond_timedwait(&log_buffer.wake, &log_buffer.lock, &due);
        }
    }
    pthread_mutex_unlock(&log_buffer.lock);
    return NULL;
}

bool log_buffer_start(int fd, unsigned flush_ms)
{
    pthread_condattr_t attr;
    bool ok;

    log_buffer.fd = fd;
    if (flush_ms == 0)
        return true;
    if (pthread_condattr_init(&attr) != 0)
        return false;
    ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&log_buffer.wake, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!ok)
        return false;
    log_buffer.flush_ms = flush_ms;
    log_buffer.used = 0;
    log_buffer.on = true;
    if (pthread_create(&log_buffer.flusher, NULL, flusher_main, NULL) != 0) {
        log_buffer.on = false;
        pthread_cond_destroy(&log_buffer.wake);
        return false;
    }
    return true;
}

void log_buffer_stop(void)
{
    bool was_on;

    pthread_mutex_lock(&log_buffer.lock);
    was_on = log_buffer.on;
    log_buffer.on = false; /* lines from here on are written at once */
    if (was_on)
        pthread_cond_signal(&log_buffer.wake);
    pthread_mutex_unlock(&log_buffer.lock);
    if (was_on) {
        pthread_join(log_buffer.flusher, NULL);
        pthread_cond_destroy(&log_buffer.wake);
    }
    pthread_mutex_lock(&log_buffer.write_lock);
    buffer_write();
    log_buffer.fd = STDERR_FILENO;
    pthread_mutex_unlock(&log_buffer.write_lock);
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

/* Appends the n bytes at s to buf[*len..cap-1), truncated, keeping one
 * byte free for the newline (as append_text, without printf). */
static void append_raw(char *buf, size_t *len, size_t cap, const char *s, size_t n)
{
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
}

static void append_str(char *buf, size_t *len, size_t cap, const char *s)
{
    append_raw(buf, len, cap, s, strlen(s));
}

/* Appends v in decimal, at least min_digits of them (zeros in front). */
static void append_u64(char *buf, size_t *len, size_t cap, uint64_t v, size_t min_digits)
{
    char digits[API_TEXT_U64_MAX];
    size_t n = api_text_u64(digits, v);

    for (; n < min_digits; min_digits--)
        append_raw(buf, len, cap, "0", 1);
    append_raw(buf, len, cap, digits, n);
}

/* Appends "<micros / 1000>.<micros % 1000, 3 digits>". */
static void append_millis(char *buf, size_t *len, size_t cap, uint64_t micros)
{
    append_u64(buf, len, cap, micros / 1000, 1);
    append_raw(buf, len, cap, ".", 1);
    append_u64(buf, len, cap, micros % 1000, 3);
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

/* Appends `{"time":"…Z","level":"…"` */
static void append_json_head(char *buf, size_t *len, size_t cap, const struct timespec *now,
                             enum log_level level)
{
    char stamp[32];
    size_t n = stamp_seconds(stamp, sizeof stamp, now->tv_sec);

    append_str(buf, len, cap, "{\"time\":\"");
    append_raw(buf, len, cap, stamp, n);
    append_raw(buf, len, cap, ".", 1);
    append_u64(buf, len, cap, (uint64_t)(now->tv_nsec / 1000000), 3);
    append_str(buf, len, cap, "Z\",\"level\":\"");
    append_str(buf, len, cap, level_names[level]);
    append_raw(buf, len, cap, "\"", 1);
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
        append_str(buf, &len, cap, ",\"msg\":\"request\",");
        append_json_string(buf, &len, cap - LOG_TAIL_ROOM, "request_id", e->request_id);
        append_raw(buf, &len, cap, ",", 1);
        append_json_string(buf, &len, cap - LOG_TAIL_ROOM, "method", e->method);
        append_str(buf, &len, cap, ",\"status\":");
        append_u64(buf, &len, cap, (uint64_t)e->status, 1);
        append_str(buf, &len, cap, ",\"body_bytes\":");
        append_u64(buf, &len, cap, e->body_bytes, 1);
        append_str(buf, &len, cap, ",\"elements\":");
        append_u64(buf, &len, cap, e->elements, 1);
        append_str(buf, &len, cap, ",\"duration_ms\":");
        append_millis(buf, &len, cap, micros);
        append_raw(buf, &len, cap, ",", 1);
        if (e->trace_id != NULL) {
            append_json_string(buf, &len, cap - LOG_TAIL_ROOM, "trace_id", e->trace_id);
            append_raw(buf, &len, cap, ",", 1);
        }
        /* The path goes last: whatever its length, the line stays closed. */
        append_json_string(buf, &len, cap - 1, "path", e->path);
        buf[len++] = '}';
        buf[len++] = '\n';
        return len;
    }
    len = stamp_seconds(buf, cap, now->tv_sec);
    append_raw(buf, &len, cap, ".", 1);
    append_u64(buf, &len, cap, (uint64_t)now->tv_nsec / 1000000u, 3);
    append_raw(buf, &len, cap, "Z ", 2);
    append_escaped(buf, &len, cap - 64, e->request_id);
    append_raw(buf, &len, cap, " ", 1);
    append_str(buf, &len, cap, e->method);
    append_raw(buf, &len, cap, " ", 1);
    /* Room is kept after the path for the fields that follow it. */
    append_escaped(buf, &len, cap - 128, e->path);
    append_raw(buf, &len, cap, " ", 1);
    append_u64(buf, &len, cap, (uint64_t)e->status, 1);
    append_raw(buf, &len, cap, " ", 1);
    append_u64(buf, &len, cap, e->body_bytes, 1);
    append_raw(buf, &len, cap, " ", 1);
    append_millis(buf, &len, cap, micros);
    append_raw(buf, &len, cap, "ms", 2);
    if (e->trace_id != NULL) {
        append_str(buf, &len, cap, " trace_id="); /* then hex digits */
        append_str(buf, &len, cap, e->trace_id);
    }
    buf[len++] = '\n';
    return len;
}

void log_access(const struct log_access_entry *e)
{
    char buf[LOG_LINE_MAX];
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    buffer_line(buf, log_format_access(buf, sizeof(buf), log_current_format, e, &now));
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
