/* tls.h -- the certificate and private key for HTTPS (--tls-cert, --tls-key).
 *
 * Both PEM files are read into memory and tried on a libmicrohttpd daemon
 * without a socket before the service starts, so that a bad file is a
 * clear message and exit 2 at startup, never a failed handshake later. */
#ifndef SERVER_TLS_H
#define SERVER_TLS_H

#include <stdbool.h>

#include <microhttpd.h>

#define TLS_PEM_MAX (1024 * 1024) /* bytes of one PEM file */

/* What libmicrohttpd's MHD_OPTION_HTTPS_MEM_CERT and _KEY take. */
struct tls {
    char *cert; /* PEM text, NUL-terminated; NULL when nothing is loaded */
    char *key;  /* the same for the private key */
};

/* Leaves t with nothing loaded (HTTPS off). Cannot fail. */
void tls_init(struct tls *t);

/* Reads the certificate at cert_path and the key at key_path into t
 * (initialised with tls_init; anything it held is freed first) and
 * checks that libmicrohttpd accepts them (both parse, the key matches the
 * certificate); its messages go to logger (MHD_OPTION_EXTERNAL_LOGGER).
 * On failure logs one line naming the flag and the file (a libmicrohttpd
 * built without TLS, a file that cannot be read, is empty, over TLS_PEM_MAX
 * bytes or holds no PEM block, a pair libmicrohttpd refuses) and returns
 * false with nothing loaded. Call tls_free either way. */
bool tls_load(struct tls *t, const char *cert_path, const char *key_path, MHD_LogCallback logger);

/* Wipes (the key is a secret) and frees what tls_load read, leaving t with
 * nothing loaded. t may be NULL. */
void tls_free(struct tls *t);

#endif
