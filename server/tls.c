/* tls.c -- loads and checks the HTTPS certificate and key (see tls.h).
 *
 * The check starts a libmicrohttpd daemon with MHD_USE_NO_LISTEN_SOCKET and
 * the pair, and stops it at once: libmicrohttpd parses both and matches them
 * there, so the real start can then only fail on its socket. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void tls_init(struct tls *t)
{
    t->cert = NULL;
    t->key = NULL;
}

/* Reads the PEM file path (what: "--tls-cert") into a malloc'd,
 * NUL-terminated buffer; NULL, with a message, when it cannot be read, is
 * empty, larger than TLS_PEM_MAX or holds no PEM block. */
static char *read_pem(const char *path, const char *what)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (f == NULL) {
        log_message(LOG_ERROR, "%s: cannot open '%s': %s", what, path, strerror(errno));
        goto out;
    }
    buf = malloc(TLS_PEM_MAX + 1);
    if (buf == NULL) {
        log_message(LOG_ERROR, "%s: out of memory", what);
        goto out_close;
    }
    n = fread(buf, 1, TLS_PEM_MAX + 1, f);
    if (ferror(f) || n == 0 || n > TLS_PEM_MAX) {
        log_message(LOG_ERROR, "%s: '%s' is %s", what, path,
                    ferror(f) ? "unreadable"
                    : n == 0  ? "empty"
                              : "larger than 1 MiB");
        goto out_free;
    }
    buf[n] = '\0';
    if (strstr(buf, "-----BEGIN ") == NULL) {
        log_message(LOG_ERROR, "%s: '%s' holds no PEM block", what, path);
        goto out_free;
    }
    goto out_close;
out_free:
    free(buf);
    buf = NULL;
out_close:
    fclose(f);
out:
    return buf;
}

/* Frees a PEM buffer, wiping it first (it may hold the private key). */
static void free_pem(char *pem)
{
    if (pem == NULL)
        return;
    explicit_bzero(pem, strlen(pem));
    free(pem);
}

/* The probe daemon never has a connection to answer. */
static enum MHD_Result refuse_all(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)connection;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    return MHD_NO;
}

/* True when libmicrohttpd accepts cert and key. */
static bool usable(const char *cert, const char *key, MHD_LogCallback logger)
{
    struct MHD_Daemon *probe = MHD_start_daemon(
        MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL, NULL, refuse_all, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, logger, NULL, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);

    if (probe == NULL)
        return false;
    MHD_stop_daemon(probe);
    return true;
}

bool tls_load(struct tls *t, const char *cert_path, const char *key_path, MHD_LogCallback logger)
{
    bool result = false;

    tls_free(t);
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        log_message(LOG_ERROR, "--tls-cert: this libmicrohttpd was built without TLS");
        goto out;
    }
    t->cert = read_pem(cert_path, "--tls-cert");
    if (t->cert == NULL)
        goto out;
    t->key = read_pem(key_path, "--tls-key");
    if (t->key == NULL)
        goto out_free;
    if (!usable(t->cert, t->key, logger)) {
        log_message(LOG_ERROR,
                    "--tls-cert/--tls-key: '%s' and '%s' are not a valid PEM certificate "
                    "and its private key",
                    cert_path, key_path);
        goto out_free;
    }
    result = true;
    goto out;
out_free:
    tls_free(t);
out:
    return result;
}

void tls_free(struct tls *t)
{
    if (t == NULL)
        return;
    free_pem(t->cert);
    free_pem(t->key);
    tls_init(t);
}
