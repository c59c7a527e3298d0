/* request.h -- one HTTP request's lifecycle on libmicrohttpd.
 *
 * The URI log callback creates the per-request state (it runs first and is
 * the only place that sees the raw, undecoded query string); the access
 * handler routes, validates and streams the upload into the api/ decoder;
 * the completed callback logs, counts and frees. */
#ifndef SERVER_REQUEST_H
#define SERVER_REQUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "auth.h"
#include "config.h"
#include "drain.h"
#include "metrics.h"
#include "tracked.h"

/* What every request shares: settings, counters, the token and the drain
 * state. The caller owns it and keeps it alive until MHD_stop_daemon has
 * returned. */
struct request_shared {
    const struct config *cfg;
    struct metrics *metrics;
    const struct auth *auth; /* disabled: no token required */
    struct tracked *tracked; /* ?track=MODEL results, for /tracked (metrics renders them too) */
    atomic_bool draining;    /* set once by main on SIGTERM/SIGINT: readiness 503,
                                every answer with Connection: close */
    atomic_long in_flight;   /* requests started and not yet completed */
    struct drain drain;      /* what else the shutdown's drain waits for */
};

/* Prepares shared for cfg, metrics and auth (all outlive the daemon). */
void request_shared_init(struct request_shared *shared, const struct config *cfg,
                         struct metrics *metrics, const struct auth *auth);

/* MHD_OPTION_NOTIFY_CONNECTION (cls: the struct request_shared): keeps the
 * open-connections gauge and the drain's record of connections. */
void request_connection_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                               enum MHD_ConnectionNotificationCode toe);

/* MHD_OPTION_URI_LOG_CALLBACK (cls: the struct request_shared). Returns the
 * new request's state, or NULL when out of memory (the request is then
 * answered 500). */
void *request_uri_log(void *cls, const char *uri, struct MHD_Connection *connection);

/* The MHD access handler (cls: the struct request_shared). */
enum MHD_Result request_handle(void *cls, struct MHD_Connection *connection, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls);

/* MHD_OPTION_NOTIFY_COMPLETED (cls: the struct request_shared): logs and
 * counts the request, then frees its state. */
void request_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                       enum MHD_RequestTerminationCode toe);

#endif
