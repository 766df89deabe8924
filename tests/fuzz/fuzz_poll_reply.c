/*
 * Poll replies from the controller (agent/proto.c): whatever the bytes, poll_reply_parse()
 * returns orders or an error that says why, never a crash; an order it calls runnable has
 * everything its action needs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "journal.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_order(const struct order *o)
{
	if (o->id[0] != '\0' && !order_id_valid(o->id))
		abort();
	if (o->error[0] != '\0') {
		if (o->ar != NULL)
			abort();	/* A refused order keeps nothing. */
		return;
	}
	if (o->id[0] == '\0')
		abort();
	if (o->action == ORDER_REVERT && !fault_id_valid(o->fault_id))
		abort();
	if (o->action != ORDER_REVERT && (o->ar == NULL || o->ttl_ms == 0 ||
	    o->ttl_ms > GD_MAX_RUN_MS || o->fault.type >= FAULT_TYPE_MAX))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gd_err err;
	struct poll_reply *pr = NULL;

	gd_alloc_init_cjson();
	gd_err_init(&err);
	if (poll_reply_parse((const char *)data, size, &pr, &err) < 0) {
		if (err.n == 0 && !gd_alloc_failed())
			abort();	/* A refusal must say why. */
		return 0;
	}
	if (pr->norders > GD_MAX_ORDERS_PER_POLL)
		abort();
	for (size_t i = 0; i < pr->norders; i++)
		check_order(&pr->orders[i]);
	poll_reply_free(pr);
	return 0;
}
