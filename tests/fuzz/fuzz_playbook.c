/* The playbook validator: any bytes in, a playbook or errors out; never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "playbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gd_err err;
	struct playbook *pb = NULL;
	char *text;

	gd_alloc_init_cjson();
	gd_err_init(&err);
	if (playbook_parse((const char *)data, size, &pb, &err) == 0) {
		/* What is accepted must print, and what is printed must be accepted again. */
		if ((text = playbook_print(pb)) != NULL) {
			struct playbook *again = NULL;

			gd_err_init(&err);
			if (playbook_parse(text, strlen(text), &again, &err) != 0)
				abort();
			playbook_free(again);
			gd_free(text);
		}
		playbook_free(pb);
	} else if (gd_err_count(&err) == 0) {
		abort();	/* A rejection always says why. */
	}
	return 0;
}
