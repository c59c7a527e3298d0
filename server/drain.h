/* drain.h -- what the shutdown's drain waits for besides the requests in
 * flight: requests that have arrived but not yet started.
 *
 * Two kinds. A connection main takes from the closed listener's queue and
 * hands to the daemon (drain_backlog_handed) is waited for until its first
 * request starts or it closes. Any open connection is waited for while
 * bytes wait in its socket: a request the daemon has not read yet, on a new
 * connection or a kept-alive one. A connection that is merely open is not
 * (an idle client would hold the drain up to its timeout for nothing).
 * Everything here is called from libmicrohttpd's callbacks (request.c) and
 * from main. */
#ifndef SERVER_DRAIN_H
#define SERVER_DRAIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

/* Connections taken from the closed listener's queue at shutdown, at most
 * (the queue holds what arrived in the moment before the close; a flood is
 * not taken for ever). */
#define DRAIN_BACKLOG_MAX 1024

struct drain_conn; /* one connection's state: its socket context */

struct drain {
    atomic_bool listener_closed;              /* set by main once the listener is closed */
    atomic_int backlog_fd[DRAIN_BACKLOG_MAX]; /* the handed sockets; -1 once seen */
    atomic_size_t backlog_n;
    atomic_long backlog_pending; /* handed, first request not started, not closed */
    pthread_mutex_t lock;        /* guards open */
    struct drain_conn *open;     /* every open connection */
};

void drain_init(struct drain *d);

/* main, once the listener is closed, before taking its queue. */
void drain_listener_closed(struct drain *d);

/* main, before MHD_add_connection of a connection taken from the closed
 * listener's queue: records fd and counts it in backlog_pending. False
 * (nothing recorded) when DRAIN_BACKLOG_MAX already are. */
bool drain_backlog_handed(struct drain *d, int fd);

/* main, when MHD_add_connection refused fd (and closed it): no longer
 * waited for. */
void drain_backlog_refused(struct drain *d, int fd);

/* MHD_CONNECTION_NOTIFY_STARTED: *socket_context gets the connection's
 * state (NULL when out of memory: then it is not waited for). */
void drain_connection_started(struct drain *d, struct MHD_Connection *connection,
                              void **socket_context);

/* A request starts on the connection whose socket context is ctx (the
 * request is in flight now): a handed connection is no longer waited for
 * as such. ctx may be NULL. */
void drain_request_started(struct drain *d, void *ctx);

/* MHD_CONNECTION_NOTIFY_CLOSED: forgets the connection and frees its state;
 * *socket_context becomes NULL. Called before the daemon closes the socket. */
void drain_connection_closed(struct drain *d, void **socket_context);

/* How many connections the drain waits for now: the handed ones whose first
 * request has not started, and the open ones with bytes in their socket. */
long drain_waiting(struct drain *d);

#endif
