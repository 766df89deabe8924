/*
 * Journal entry files: whatever is on disk, jentry_parse() returns an entry or an error,
 * never a crash; an entry it accepts round-trips through the writer's format.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jentry *e = NULL;

	gd_alloc_init_cjson();
	if (jentry_parse((const char *)data, size, &e) < 0)
		return 0;
	if (!fault_id_valid(e->id) || e->fault == NULL || e->nprocs > GD_MAX_SIGNALLED)
		abort();
	jentry_free(e);
	return 0;
}
