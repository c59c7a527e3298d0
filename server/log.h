/* log.h -- the access log and service messages, whole lines only.
 *
 * Each line is formatted into a bounded buffer and written to stderr with
 * write(2), whole, so lines from concurrent threads never interleave. Access
 * lines can be buffered (--log-flush-ms): gathered and written together
 * when the buffer is full or its oldest line is that old, and at exit; a
 * service message writes what is buffered first, so the order holds. Lines
 * are plain text (the default) or one JSON object each (--log-format json),
 * chosen once at startup. */
#ifndef SERVER_LOG_H
#define SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LOG_LINE_MAX 2048
#define LOG_BUFFER_BYTES (64 * 1024) /* access lines gathered for one write */

enum log_format {
    LOG_TEXT,
    LOG_JSON,
};

enum log_level {
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
};

struct log_access_entry {
    const char *request_id; /* printable ASCII; spaces are escaped like the path's */
    const char *method;
    const char *path;    /* raw request path; unprintable bytes are escaped */
    int status;          /* HTTP status sent, 0 when none was */
    uint64_t body_bytes; /* request body bytes received */
    uint64_t elements;   /* tensor elements decoded (JSON lines only) */
    uint64_t duration_ns;
    const char *trace_id; /* a valid traceparent's trace id (32 hex digits), or NULL */
};

/* Chooses the format of every later line. Call once, before any thread
 * other than main's logs. */
void log_set_format(enum log_format format);

/* Lines go to fd (stderr unless a test says otherwise). flush_ms 0: every
 * line is written at once. Otherwise access lines are buffered: written
 * together when LOG_BUFFER_BYTES would overflow, and by a flusher thread
 * once the oldest is flush_ms old. Call once, before any thread other than
 * main's logs; false when the flusher could not start (lines are then
 * written at once). */
bool log_buffer_start(int fd, unsigned flush_ms);

/* Writes every buffered line and stops the flusher; later lines are written
 * at once, to stderr. Call after the last request has ended. */
void log_buffer_stop(void);

/* Writes (or buffers) one access log line. Text:
 * `2026-01-02T03:04:05.678Z <request-id> <method> <path> <status> <bytes> <ms>ms`
 * and ` trace_id=<trace-id>` when there is one;
 * JSON: {"time":…,"level":"info","msg":"request","request_id":…,"method":…,
 * "status":…,"body_bytes":…,"elements":…,"duration_ms":…,"trace_id":…,"path":…}
 * (trace_id only when there is one). */
void log_access(const struct log_access_entry *e);

/* Writes a service message: "l2d: <message>\n" in text, or
 * {"time":…,"level":…,"msg":"<message>"} (printf-style), truncated to
 * LOG_LINE_MAX. */
void log_message(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes the startup line. Text (integration tests parse it):
 * `l2d <version> listening on <url> (threads N)`; JSON:
 * {"time":…,"level":"info","msg":"listening","url":…,"port":…,"version":…,
 *  "threads":…,"tls":…,"auth":…}. */
void log_listening(const char *version, const char *url, unsigned port, uint64_t threads, bool tls,
                   bool auth);

/* Formats the access line of e at time now into buf[0..cap) (cap >= 512),
 * newline included, never splitting an escape; returns its length. Pure:
 * what log_access writes. */
size_t log_format_access(char *buf, size_t cap, enum log_format format,
                         const struct log_access_entry *e, const struct timespec *now);

/* Appends s JSON-escaped (without quotes) to buf[*len..cap): '"', '\\' and
 * control bytes escaped, valid UTF-8 kept, every byte of an invalid
 * sequence written as \ufffd. Stops before an escape that would not fit;
 * returns false when s was truncated. */
bool log_json_escape(char *buf, size_t *len, size_t cap, const char *s);

#endif
