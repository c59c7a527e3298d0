/* openapi_blob.h -- the OpenAPI document built into the binary
 * (openapi_blob.S embeds the repository's openapi.yaml and its JSON form,
 * made at build time by tools/openapi-json.py). */
#ifndef SERVER_OPENAPI_BLOB_H
#define SERVER_OPENAPI_BLOB_H

/* openapi.yaml's bytes are [openapi_blob_start, openapi_blob_end). */
extern const char openapi_blob_start[];
extern const char openapi_blob_end[];

/* The same document as JSON: [openapi_json_start, openapi_json_end). */
extern const char openapi_json_start[];
extern const char openapi_json_end[];

#endif
