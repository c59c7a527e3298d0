/* openapi_blob.S -- openapi.yaml embedded in the binary, served at /openapi.yaml.
 *
 * Assembled from the repository root, so .incbin finds the file there. The
 * bytes lie between openapi_blob_start and openapi_blob_end (no NUL added). */
    .section .rodata
    .global openapi_blob_start
    .global openapi_blob_end
    .type openapi_blob_start, @object
    .type openapi_blob_end, @object
    .balign 16
openapi_blob_start:
    .incbin "openapi.yaml"
openapi_blob_end:
    .byte 0
    .size openapi_blob_start, openapi_blob_end - openapi_blob_start
    .size openapi_blob_end, 1

    .section .note.GNU-stack,"",@progbits
