/*
 * The HTTP layer over libmicrohttpd: request bodies with limits (413 before the body is
 * read, 411 without a Content-Length), authentication, the route table, JSON replies and
 * long-polls (a handler may ask to be called again later: the connection is suspended
 * until ctl_wake() names its key or its deadline passes).
 */
#ifndef GD_HTTP_H
#define GD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "ctl.h"

struct MHD_Connection;

struct req {
	struct ctl *c;
	struct MHD_Connection *conn;
	const char *method, *url;
	char *body;			/* NUL-terminated. */
	size_t len;
	bool answered;			/* A reply was queued before the body was read. */
	struct principal who;
	const char *arg;		/* The route's "*" segment (a name, a run id). */

	/* Long-poll: set by a handler that returns HTTP_SUSPEND. */
	char wait_key[300];	/* "host:NAME" or a run id. */
	int64_t wait_deadline;		/* gd_mono_ms() at which to answer anyway. */
	uint64_t wait_seq;		/* ctl wake sequence seen before the handler looked. */
	bool resumed;
	bool answer_now;		/* Deadline passed or shutting down: no more waiting. */
	unsigned spins;
};

struct reply {
	unsigned status;
	char *body;			/* gd_malloc()ed JSON or text. */
	size_t len;
	const char *content_type;
	/*
	 * NULL, or static name/value pairs ending in NULL (the dashboard's CSP); a
	 * Cache-Control among them replaces the default "no-store".
	 */
	const char *const *headers;
};

#define HTTP_SUSPEND 1

/* Fills r with body (consumed; NULL means out of memory: 500). */
void reply_json(struct reply *r, unsigned status, cJSON *body);
/* {"error": {"code": code, "message": ...}} */
void reply_error(struct reply *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void reply_text(struct reply *r, unsigned status, const char *content_type, char *text);

/* A query parameter of the request, or NULL. */
const char *req_query(struct req *q, const char *key);
/*
 * Parses the body as a JSON object with only the allowed keys; on failure fills a 400
 * reply naming what is wrong and returns NULL.
 */
cJSON *req_json(struct req *q, struct reply *r, const char *const *allowed);

/* Starts libmicrohttpd on cfg's address (port 0: any; the port is stored in c->port). */
int http_start(struct ctl *c, char *why, size_t whylen);
/* Resumes every suspended connection (they answer), then stops the server. */
void http_stop(struct ctl *c);
/* Resumes the waiters whose deadline has passed; the engine calls it every tick. */
void http_expire_waiters(struct ctl *c);

#endif
