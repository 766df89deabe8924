/* SLA expressions: parse, format, parse again to the same expression; evaluate. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sla_expr e, e2;
	struct sla_sample s[8];
	struct sla_result r;
	char text[512], buf[256];
	const char *why = NULL;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (sla_parse(text, &e, &why) < 0) {
		if (why == NULL)
			abort();
		return 0;
	}
	sla_format(&e, buf, sizeof(buf));
	if (sla_parse(buf, &e2, &why) < 0 || e2.stat != e.stat || e2.op != e.op ||
	    e2.window_ms != e.window_ms || strcmp(e2.probe, e.probe) != 0)
		abort();
	for (size_t i = 0; i < 8; i++)
		s[i] = (struct sla_sample){ .t_ms = (int64_t)i * 1000, .ok = (size + i) % 3 != 0,
		    .has_value = (size + i) % 5 != 0, .value = (double)(size * i % 977) };
	if (sla_eval(&e, s, 8, 7000, &r) < 0)
		abort();
	return 0;
}
