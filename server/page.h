/* page.h -- the page for people at GET /: one HTML document built into the
 * binary (page_blob.S), and the response headers that go with it.
 *
 * The page loads nothing from anywhere: its style and script are inline and
 * the Content-Security-Policy allows exactly those two by their hashes, so
 * the headers are part of the page and are served only together with it. */
#ifndef SERVER_PAGE_H
#define SERVER_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

/* The Content-Type of the page. */
#define PAGE_CONTENT_TYPE "text/html; charset=utf-8"

/* A response header of the page. */
struct page_header {
    const char *name;
    const char *value;
};

/* The page's bytes (static storage, never freed); *len gets their number. */
const char *page_html(size_t *len);

/* The page's headers besides Content-Type: Content-Security-Policy and
 * the other security headers, *count of them (static storage). */
const struct page_header *page_headers(size_t *count);

/* Adds every header of page_headers() to resp. False when libmicrohttpd
 * refuses one (out of memory): resp is then to be destroyed, not queued. */
bool page_add_headers(struct MHD_Response *resp);

#endif
