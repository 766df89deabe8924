/*
 * What agents send the controller (controller/agentmsg.c): a poll's body and a report's
 * body.  Whatever the bytes, the decoders accept or say why, never crash; what they accept
 * is what the controller relies on (a valid host name, a known status, tags as a JSON
 * object within the limits, faults as an array of at most PROTO_MAX_FAULTS).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentmsg.h"
#include "alloc.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gd_err err;
	struct agent_report rep;
	struct agent_poll p;
	cJSON *root = NULL, *tags;

	gd_alloc_init_cjson();
	gd_err_init(&err);
	if (json_parse_doc((const char *)data, size, 1024 * 1024, &root, &err) < 0)
		return 0;
	gd_err_init(&err);
	if (agentmsg_poll_parse(root, &p, &err) == 0) {
		if (!proto_valid_host(p.host) || p.tags == NULL || p.lease_ms < 1000 ||
		    p.wait_ms < 0 || p.nfaults > PROTO_MAX_FAULTS ||
		    (p.faults != NULL && !cJSON_IsArray(p.faults)))
			abort();
		tags = cJSON_Parse(p.tags);
		if (tags == NULL ? !gd_alloc_failed() : !cJSON_IsObject(tags))
			abort();
		cJSON_Delete(tags);
		gd_free(p.tags);
	} else if (err.n == 0 && !gd_alloc_failed()) {
		abort();	/* A refusal must say why. */
	}
	gd_err_init(&err);
	if (agentmsg_report_parse(root, &rep, &err) == 0) {
		if (!proto_valid_host(rep.host) || rep.order == NULL ||
		    (strcmp(rep.status, "done") != 0 && strcmp(rep.status, "failed") != 0 &&
		    strcmp(rep.status, "refused") != 0) ||
		    (rep.error != NULL && strlen(rep.error) > PROTO_MAX_ERROR))
			abort();
	} else if (err.n == 0 && !gd_alloc_failed()) {
		abort();
	}
	cJSON_Delete(root);
	return 0;
}
