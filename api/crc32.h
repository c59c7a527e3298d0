/* crc32.h -- CRC-32 of zip and gzip (zlib's crc32()) at memory speed.
 *
 * An .npz member's CRC is checked over every byte of it, so the check must
 * cost a small fraction of the exact kernel's time. The same value as
 * zlib's crc32(), from the fastest implementation the CPU has. */
#ifndef API_CRC32_H
#define API_CRC32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_crc32_impl {
    API_CRC32_ZLIB,    /* zlib's crc32(): every CPU */
    API_CRC32_PCLMUL,  /* 128-bit carry-less multiply folding (x86-64 with PCLMULQDQ) */
    API_CRC32_VPCLMUL, /* 512-bit folding (x86-64 with AVX-512F and VPCLMULQDQ) */
    API_CRC32_IMPL_COUNT
};

/* The CRC-32 of len bytes at p (any alignment; p may be NULL when len is
 * 0) continuing from crc, the CRC of the bytes before (0 to start): what
 * zlib's crc32(crc, p, len) returns, by the fastest implementation. */
uint32_t api_crc32(uint32_t crc, const void *p, size_t len);

/* api_crc32, which also brings the `ahead` bytes after p[len) into the
 * cache while it runs (prefetches, one line per line it reads), for a
 * caller that reads them next: the CRC's arithmetic then overlaps their
 * wait for memory. Only the speed differs from api_crc32. */
uint32_t api_crc32_ahead(uint32_t crc, const void *p, size_t len, size_t ahead);

/* Whether api_crc32_ahead prefetches on this CPU (the VPCLMULQDQ folds do;
 * the 128-bit folds and zlib ignore `ahead`). */
bool api_crc32_prefetches(void);

/* api_crc32 by implementation impl, which must be supported (tests and
 * benchmarks compare them). */
uint32_t api_crc32_with(enum api_crc32_impl impl, uint32_t crc, const void *p, size_t len);

/* True when this CPU (and build) can run impl. */
bool api_crc32_supported(enum api_crc32_impl impl);

/* The implementation api_crc32 uses on this CPU. */
enum api_crc32_impl api_crc32_best(void);

/* The name of impl ("zlib", "pclmul", "vpclmul"). Static storage. */
const char *api_crc32_name(enum api_crc32_impl impl);

#endif
