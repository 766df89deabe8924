#include "hash.h"

#include <errno.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int
gd_sha256(const void *data, size_t len, uint8_t out[GD_SHA256_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != GD_SHA256_LEN)
		return -EIO;
	return 0;
}

void
gd_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
gd_sha256_hex(const void *data, size_t len, char out[GD_SHA256_HEX_LEN])
{
	uint8_t md[GD_SHA256_LEN];
	int r;

	if ((r = gd_sha256(data, len, md)) < 0)
		return r;
	gd_hex(md, sizeof(md), out);
	return 0;
}

bool
gd_consttime_eq(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
