/*
 * The agent's side of the controller protocol (docs/api.md, "Agent protocol"): decoding a
 * poll reply into orders, and the reports the daemon sends back.  Everything here reads
 * untrusted bytes from the network; it returns errors, never crashes, and allocates only
 * what the reply's limits allow.  tests/fuzz/fuzz_poll_reply.c attacks it.
 */
#ifndef GD_PROTO_H
#define GD_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "fault.h"
#include "limits.h"

enum order_action { ORDER_INJECT, ORDER_REVERT, ORDER_DRY_RUN };

/* An order's error: a JSON path, a message, and "(and N more)". */
#define GD_ORDER_ERROR_BYTES	(GD_MAX_JSON_PATH + GD_MAX_ERROR_MSG + 48)

/* A dry run's TTL when the order gives none (the one-shot `inject --dry-run` uses the same). */
#define GD_DRY_RUN_TTL_MS	60000ULL

/*
 * One order as the controller sent it.  An order that cannot be executed still decodes:
 * error says why (with its JSON path) and the daemon refuses it, reporting that text; an
 * order without a usable id cannot even be reported, and has id "".
 */
struct order {
	char id[GD_MAX_ORDER_ID_BYTES + 1];
	char run[GD_MAX_ORDER_ID_BYTES + 1];	/* Informational; "" when absent. */
	enum order_action action;
	struct fault fault;		/* inject and dry_run; its strings live in ar. */
	struct arena *ar;
	uint64_t ttl_ms;
	char fault_id[GD_FAULT_ID_LEN + 1];	/* revert. */
	int64_t expires_ms;		/* Unix ms. */
	char error[GD_ORDER_ERROR_BYTES];	/* "" when the order can be executed. */
};

struct poll_reply {
	struct order *orders;
	size_t norders;
	int64_t server_ms;		/* server_time in Unix ms; -1 when absent. */
};

/*
 * Decodes a poll reply (at most GD_MAX_POLL_REPLY_BYTES).  A reply whose shape is wrong
 * (not JSON, no orders array, too many orders, a bad server_time) fails with -EINVAL and
 * err says why; a bad order inside a good reply only fills that order's error.  Keys of the
 * reply the agent does not know are ignored (a newer controller may add some); keys of an
 * order it does not know make that order refused (it may carry a condition we would miss).
 * On success the caller owns *ret (poll_reply_free()).  -ENOMEM when out of memory.
 */
int poll_reply_parse(const char *buf, size_t len, struct poll_reply **ret, struct gd_err *err);
struct poll_reply *poll_reply_free(struct poll_reply *r);

const char *order_action_name(enum order_action a);

/* RFC 3339 with an optional fraction, into Unix milliseconds (the fraction kept to ms). */
int time_ms_parse(const char *s, int64_t *ret_ms, const char **why);

#endif
