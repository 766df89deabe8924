/*
 * Prometheus /api/v1/query replies (controller/probe.c): whatever a server sends, the
 * decoder accepts a finite value or says why in printable text, never crashes and never
 * writes past the reason's buffer.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A short buffer with a guard after it: the reason must be cut, never overflow. */
	char why[48 + 8], big[256];
	double v = 0;
	size_t i;
	int r;

	gd_alloc_init_cjson();
	memset(why, 'G', sizeof(why));
	r = probe_prom_decode((const char *)data, size, &v, why, 48);
	for (i = 48; i < sizeof(why); i++)
		if (why[i] != 'G')
			abort();
	if (r == 0) {
		if (!isfinite(v))
			abort();
	} else if (r == -EINVAL || r == -ENOMEM) {
		if (memchr(why, '\0', 48) == NULL || why[0] == '\0')
			abort();	/* A refusal must say why, in the buffer. */
		for (i = 0; why[i] != '\0'; i++)
			if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] >= 0x7f)
				abort();
	} else {
		abort();
	}
	/* The full-size reason, as the probe result holds it. */
	r = probe_prom_decode((const char *)data, size, &v, big, sizeof(big));
	if (r != 0 && (memchr(big, '\0', sizeof(big)) == NULL || big[0] == '\0'))
		abort();
	return 0;
}
