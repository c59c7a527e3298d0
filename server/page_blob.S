/* page_blob.S -- the page served at GET / embedded in the binary: the HTML
 * of server/page/index.html and its Content-Security-Policy, made from it at
 * build time by server/page/csp.py (the hashes of its inline style and
 * script) into the file PAGE_CSP names (mk/ui.mk).
 *
 * Assembled from the repository root, so .incbin finds the page there. Each
 * blob lies between its _start and _end symbols (no NUL counted; one
 * follows, so page_csp_start is a C string). */
#ifndef PAGE_CSP
#error "PAGE_CSP: the path of the built policy (see mk/ui.mk)"
#endif
    .section .rodata
    .global page_html_start
    .global page_html_end
    .global page_csp_start
    .global page_csp_end
    .type page_html_start, @object
    .type page_html_end, @object
    .type page_csp_start, @object
    .type page_csp_end, @object
    .balign 16
page_html_start:
    .incbin "server/page/index.html"
page_html_end:
    .byte 0
    .size page_html_start, page_html_end - page_html_start
    .size page_html_end, 1

    .balign 16
page_csp_start:
    .incbin PAGE_CSP
page_csp_end:
    .byte 0
    .size page_csp_start, page_csp_end - page_csp_start
    .size page_csp_end, 1

    .section .note.GNU-stack,"",@progbits
