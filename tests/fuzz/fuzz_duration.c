/*
 * Durations, sizes and rates: whatever parses formats canonically, and the canonical form
 * parses back to the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], buf[64];
	const char *why = NULL;
	struct gd_size sz, sz2;
	uint64_t v, v2;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (duration_parse(s, &v, &why) == 0) {
		duration_format(v, buf, sizeof(buf));
		if (duration_parse(buf, &v2, &why) < 0 || v2 != v)
			abort();
	} else if (why == NULL) {
		abort();
	}
	if (size_parse(s, true, &sz, &why) == 0) {
		size_format(&sz, buf, sizeof(buf));
		if (size_parse(buf, true, &sz2, &why) < 0 || sz2.is_percent != sz.is_percent ||
		    sz2.bytes != sz.bytes)
			abort();
	}
	if (rate_parse(s, &v, &why) == 0) {
		rate_format(v, buf, sizeof(buf));
		if (rate_parse(buf, &v2, &why) < 0 || v2 != v)
			abort();
	}
	return 0;
}
