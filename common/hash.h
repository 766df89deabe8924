/* SHA-256 (OpenSSL libcrypto) and constant-time comparison. */
#ifndef GD_HASH_H
#define GD_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GD_SHA256_LEN 32
#define GD_SHA256_HEX_LEN 65	/* 64 hex digits and the NUL. */

/* 0, or -EIO when libcrypto fails. */
int gd_sha256(const void *data, size_t len, uint8_t out[GD_SHA256_LEN]);
int gd_sha256_hex(const void *data, size_t len, char out[GD_SHA256_HEX_LEN]);
void gd_hex(const uint8_t *in, size_t len, char *out);
/* Compares in time that depends only on len. */
bool gd_consttime_eq(const void *a, const void *b, size_t len);

#endif
