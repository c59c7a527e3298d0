/* openapi_blob.S -- the OpenAPI document embedded in the binary: openapi.yaml,
 * served at /openapi.yaml, and its JSON form (tools/openapi-json.py, built to
 * $(BUILD)/openapi.json), served at /openapi.json.
 *
 * Assembled from the repository root, so .incbin finds openapi.yaml there;
 * the Makefile defines OPENAPI_JSON as the JSON file's path. Each document
 * lies between its _start and _end symbols (no NUL counted; one follows). */
#ifndef OPENAPI_JSON
#error "OPENAPI_JSON: the path of the built openapi.json (see the Makefile)"
#endif
    .section .rodata
    .global openapi_blob_start
    .global openapi_blob_end
    .global openapi_json_start
    .global openapi_json_end
    .type openapi_blob_start, @object
    .type openapi_blob_end, @object
    .type openapi_json_start, @object
    .type openapi_json_end, @object
    .balign 16
openapi_blob_start:
    .incbin "openapi.yaml"
openapi_blob_end:
    .byte 0
    .size openapi_blob_start, openapi_blob_end - openapi_blob_start
    .size openapi_blob_end, 1

    .balign 16
openapi_json_start:
    .incbin OPENAPI_JSON
openapi_json_end:
    .byte 0
    .size openapi_json_start, openapi_json_end - openapi_json_start
    .size openapi_json_end, 1

    .section .note.GNU-stack,"",@progbits
