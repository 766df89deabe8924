/*
 * Alertmanager v2 /api/v2/alerts replies (controller/outage.c): whatever an Alertmanager,
 * or something pretending to be one, sends, the parser counts the alerts and names them in
 * a bounded, printable reason, or refuses; never a crash, never a write past the buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "outage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[64 + 8];
	size_t n = 0, i;
	int r;

	gd_alloc_init_cjson();
	memset(why, 'G', sizeof(why));
	r = outage_parse_alerts((const char *)data, size, &n, why, 64);
	for (i = 64; i < sizeof(why); i++)
		if (why[i] != 'G')
			abort();
	if (r != 0 && r != -EINVAL)
		abort();
	if (memchr(why, '\0', 64) == NULL)
		abort();
	if (r == 0 && n > 0 && why[0] == '\0')
		abort();	/* Alerts firing are named. */
	for (i = 0; why[i] != '\0'; i++)
		if ((unsigned char)why[i] < 0x20 || (unsigned char)why[i] == 0x7f)
			abort();
	return 0;
}
