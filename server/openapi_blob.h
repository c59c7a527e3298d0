/* openapi_blob.h -- the OpenAPI document built into the binary
 * (openapi_blob.S embeds the repository's openapi.yaml). */
#ifndef SERVER_OPENAPI_BLOB_H
#define SERVER_OPENAPI_BLOB_H

/* The document's bytes are [openapi_blob_start, openapi_blob_end). */
extern const char openapi_blob_start[];
extern const char openapi_blob_end[];

#endif
