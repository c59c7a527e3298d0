/* page.c -- the page for people at GET / and its response headers.
 *
 * The HTML and its policy are blobs of page_blob.S; the policy is made from
 * the page at build time, so a changed script cannot be served under a
 * stale hash. */
#include "page.h"

/* page_blob.S: [start, end), a NUL after each end. */
extern const char page_html_start[];
extern const char page_html_end[];
extern const char page_csp_start[];
extern const char page_csp_end[];

static const struct page_header headers[] = {
    {"Content-Security-Policy", page_csp_start},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cache-Control", "no-cache"},
};

const char *page_html(size_t *len)
{
    *len = (size_t)(page_html_end - page_html_start);
    return page_html_start;
}

const struct page_header *page_headers(size_t *count)
{
    *count = sizeof headers / sizeof headers[0];
    return headers;
}

bool page_add_headers(struct MHD_Response *resp)
{
    size_t i;

    for (i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        if (MHD_add_response_header(resp, headers[i].name, headers[i].value) != MHD_YES)
            return false;
    }
    return true;
}
