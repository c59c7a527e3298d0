/* test_page.c -- the page built into the binary: a whole HTML document that
 * names no other resource, and the strict policy and headers served with it.
 * (That the policy's hashes let the page's own style and script run is
 * checked in a real browser: tests/ui/.) */
#include <criterion/criterion.h>
#include <string.h>

#include <microhttpd.h>

#include "server/page.h"

static const char *header(const char *name)
{
    size_t n, i;
    const struct page_header *h = page_headers(&n);

    for (i = 0; i < n; i++) {
        if (strcmp(h[i].name, name) == 0)
            return h[i].value;
    }
    return NULL;
}

/* One document, no NUL inside, the NUL after it that page_blob.S adds. */
Test(page, whole_document)
{
    size_t len;
    const char *html = page_html(&len);
    const char doctype[] = "<!doctype html>\n";
    const char end[] = "</html>\n";

    cr_assert_gt(len, sizeof doctype + sizeof end);
    cr_assert_eq(strlen(html), len, "a NUL inside the page, or none after it");
    cr_assert_eq(memcmp(html, doctype, sizeof doctype - 1), 0);
    cr_assert_str_eq(html + len - (sizeof end - 1), end);
}

/* Nothing to load from elsewhere: no src attribute, the one href the empty
 * data: icon (so the browser asks for no /favicon.ico), and the one URL
 * the SVG namespace, a name that is never fetched. */
Test(page, no_external_resource)
{
    size_t len;
    const char *html = page_html(&len), *p;
    const char svg_ns[] = "http://www.w3.org/2000/svg";
    int hrefs = 0;

    cr_assert_null(strstr(html, "src="));
    for (p = strstr(html, "href="); p != NULL; p = strstr(p + 1, "href=")) {
        cr_assert_eq(strncmp(p, "href=\"data:,\"", 13), 0, "%.40s", p);
        hrefs++;
    }
    cr_assert_eq(hrefs, 1);
    for (p = strstr(html, "http"); p != NULL; p = strstr(p + 1, "http")) {
        if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0)
            cr_assert_eq(strncmp(p, svg_ns, sizeof svg_ns - 1), 0, "%.40s", p);
    }
    cr_assert_null(strstr(html, "@import"));
    cr_assert_null(strstr(html, "url("));
}

/* Scripts and styles only by hash; nothing from another origin; one line. */
Test(page, strict_policy)
{
    const char *csp = header("Content-Security-Policy");

    cr_assert_not_null(csp);
    cr_assert_eq(strncmp(csp, "default-src 'none'; ", 20), 0, "%s", csp);
    cr_assert_not_null(strstr(csp, "; script-src 'sha256-"), "%s", csp);
    cr_assert_not_null(strstr(csp, "; style-src 'sha256-"), "%s", csp);
    cr_assert_not_null(strstr(csp, "; connect-src 'self';"), "%s", csp);
    cr_assert_not_null(strstr(csp, "; frame-ancestors 'none'"), "%s", csp);
    cr_assert_not_null(strstr(csp, "; require-trusted-types-for 'script'"), "%s", csp);
    cr_assert_null(strstr(csp, "unsafe"), "%s", csp);
    cr_assert_null(strstr(csp, "*"), "%s", csp);
    cr_assert_null(strstr(csp, "http"), "%s", csp);
    cr_assert_eq(strcspn(csp, "\r\n"), strlen(csp), "a line break in the policy");
}

Test(page, security_headers)
{
    cr_assert_str_eq(header("X-Content-Type-Options"), "nosniff");
    cr_assert_str_eq(header("Referrer-Policy"), "no-referrer");
    cr_assert_str_eq(header("Cache-Control"), "no-cache");
    cr_assert_str_eq(PAGE_CONTENT_TYPE, "text/html; charset=utf-8");
}

/* page_add_headers puts every header of the table on the response. */
Test(page, add_headers)
{
    size_t len, n, i;
    const char *html = page_html(&len);
    const struct page_header *h = page_headers(&n);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)html, MHD_RESPMEM_PERSISTENT);

    cr_assert_not_null(resp);
    cr_assert(page_add_headers(resp));
    cr_assert_geq(n, 5);
    for (i = 0; i < n; i++) {
        const char *got = MHD_get_response_header(resp, h[i].name);

        cr_assert_not_null(got, "%s missing", h[i].name);
        cr_assert_str_eq(got, h[i].value);
    }
    MHD_destroy_response(resp);
}
