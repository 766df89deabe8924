/*
 * Decoders of what agents send the controller (docs/api.md "Agent protocol"): a poll's
 * body and a report's body.  Untrusted input: every field is checked by type and size,
 * problems are recorded by JSON path, and the strings returned are borrowed from the
 * cJSON tree.  Pure functions, so that fuzz_agent_msg drives them directly.
 */
#ifndef GD_AGENTMSG_H
#define GD_AGENTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

#define PROTO_MAX_HOST		253
#define PROTO_MAX_FAULTS	256
#define PROTO_MAX_ERROR		4096
#define PROTO_MAX_PLAN		(256 * 1024)

struct agent_poll {
	const char *host;
	int64_t lease_ms, wait_ms;	/* Defaults 15000 and 0. */
	int64_t seq;			/* Grows with every message of the agent; 0: absent. */
	const cJSON *faults;		/* The agent's journal; NULL when absent. */
	size_t nfaults;
	char *tags;			/* Compact JSON object; the caller frees (gd_free()). */
};

struct agent_report {
	const char *host, *order, *status;	/* status: done, failed or refused. */
	const char *fault_id, *state, *error, *plan;	/* NULL when absent or null. */
	int64_t seq;			/* As a poll's; 0: absent (an SSH dispatch). */
};

/* A host name: 1..253 of [A-Za-z0-9._-], not starting with - or . */
bool proto_valid_host(const char *s);

/*
 * The keys a poll, a report and an enrolment may have (for j_object() / req_json()), and
 * their decoders: 0, or -EINVAL with the problems in err (-ENOMEM when out of memory).
 */
extern const char *const proto_poll_keys[];
extern const char *const proto_report_keys[];
int agentmsg_poll_parse(const cJSON *in, struct agent_poll *ret, struct gd_err *err);
int agentmsg_report_parse(const cJSON *in, struct agent_report *ret, struct gd_err *err);
/* An object of at most GD_MAX_TAGS strings, in the playbook's limits, as compact JSON. */
int proto_tags(const cJSON *in, const char *key, char **ret, struct gd_err *err);

#endif
