/*
 * Agent orders (one fault object): parse; when valid, the canonical form must parse again
 * to the same canonical text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
canonical(const struct fault *f)
{
	cJSON *o = fault_to_json(f);
	char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gd_err err;
	struct arena *a1 = NULL, *a2 = NULL;
	struct fault f1, f2;
	char *t1, *t2 = NULL;

	gd_alloc_init_cjson();
	gd_err_init(&err);
	if (agent_order_parse((const char *)data, size, &a1, &f1, &err) < 0) {
		if (err.n == 0 && !gd_alloc_failed())
			abort();	/* A refusal must say why. */
		return 0;
	}
	if ((t1 = canonical(&f1)) == NULL)
		abort();
	gd_err_init(&err);
	if (agent_order_parse(t1, strlen(t1), &a2, &f2, &err) < 0 ||
	    (t2 = canonical(&f2)) == NULL || strcmp(t1, t2) != 0)
		abort();
	gd_free(t1);
	gd_free(t2);
	arena_free(a1);
	arena_free(a2);
	return 0;
}
