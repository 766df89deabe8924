#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "alloc.h"
#include "audit.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "playbook.h"
#include "sched.h"
#include "strbuf.h"
#include "timeutil.h"

enum access { ACCESS_NONE, ACCESS_USER, ACCESS_AGENT, ACCESS_ENROLL };

/* The single table every request is checked against (docs/api.md "Routes"). */
static const struct route {
	const char *method;
	const char *path;		/* One "*" segment at most. */
	enum access access;
	enum role min_role;		/* ACCESS_USER only. */
	int (*fn)(struct req *, struct reply *);
} routes[] = {
	{ "GET", "/healthz", ACCESS_NONE, ROLE_NONE, api_healthz },
	{ "GET", "/metrics", ACCESS_NONE, ROLE_NONE, api_metrics },
	/* The dashboard's static files; its API calls carry the user's token. */
	{ "GET", "/", ACCESS_NONE, ROLE_NONE, api_ui },
	{ "GET", "/ui/*", ACCESS_NONE, ROLE_NONE, api_ui },
	{ "POST", "/v1/playbooks", ACCESS_USER, ROLE_OPERATOR, api_playbook_apply },
	{ "GET", "/v1/playbooks", ACCESS_USER, ROLE_VIEWER, api_playbook_list },
	{ "GET", "/v1/playbooks/*", ACCESS_USER, ROLE_VIEWER, api_playbook_get },
	{ "POST", "/v1/runs", ACCESS_USER, ROLE_OPERATOR, api_run_start },
	{ "GET", "/v1/runs", ACCESS_USER, ROLE_VIEWER, api_run_list },
	{ "GET", "/v1/runs/*", ACCESS_USER, ROLE_VIEWER, api_run_get },
	{ "GET", "/v1/runs/*/events", ACCESS_USER, ROLE_VIEWER, api_run_events },
	{ "GET", "/v1/runs/*/timeline", ACCESS_USER, ROLE_VIEWER, api_run_timeline },
	{ "GET", "/v1/runs/*/report", ACCESS_USER, ROLE_VIEWER, api_run_report },
	{ "GET", "/v1/reports/freshness", ACCESS_USER, ROLE_VIEWER, api_report_freshness },
	{ "GET", "/v1/reports/risks", ACCESS_USER, ROLE_VIEWER, api_report_risks },
	{ "POST", "/v1/runs/*/approve", ACCESS_USER, ROLE_APPROVER, api_run_approve },
	{ "POST", "/v1/runs/*/rehearsal", ACCESS_USER, ROLE_OPERATOR, api_rehearsal_post },
	/* Any authenticated user may halt (DESIGN §4). */
	{ "POST", "/v1/runs/*/halt", ACCESS_USER, ROLE_VIEWER, api_run_halt },
	{ "POST", "/v1/halt", ACCESS_USER, ROLE_VIEWER, api_halt_all },
	{ "POST", "/v1/halt/clear", ACCESS_USER, ROLE_ADMIN, api_halt_clear },
	{ "GET", "/v1/halt", ACCESS_USER, ROLE_VIEWER, api_halt_get },
	{ "GET", "/v1/agents", ACCESS_USER, ROLE_VIEWER, api_agent_list },
	{ "GET", "/v1/schedules", ACCESS_USER, ROLE_VIEWER, api_schedule_list },
	{ "POST", "/v1/risks", ACCESS_USER, ROLE_OPERATOR, api_risk_import },
	{ "GET", "/v1/risks", ACCESS_USER, ROLE_VIEWER, api_risk_list },
	{ "GET", "/v1/risks/*", ACCESS_USER, ROLE_VIEWER, api_risk_get },
	{ "GET", "/v1/audit", ACCESS_USER, ROLE_VIEWER, api_audit_list },
	{ "GET", "/v1/audit/verify", ACCESS_USER, ROLE_VIEWER, api_audit_verify },
	{ "POST", "/v1/agent/enroll", ACCESS_ENROLL, ROLE_NONE, api_agent_enroll },
	{ "POST", "/v1/agent/poll", ACCESS_AGENT, ROLE_NONE, api_agent_poll },
	{ "POST", "/v1/agent/report", ACCESS_AGENT, ROLE_NONE, api_agent_report },
};

/* Matches path against pattern; *arg gets the "*" segment (pointing into a static copy). */
static bool
match(const char *pattern, const char *path, char *arg, size_t arglen)
{
	const char *star = strchr(pattern, '*');
	size_t pre, post, plen = strlen(path), seg;

	if (star == NULL)
		return strcmp(pattern, path) == 0;
	pre = (size_t)(star - pattern);
	post = strlen(star + 1);
	if (plen <= pre + post || strncmp(path, pattern, pre) != 0 ||
	    strcmp(path + plen - post, star + 1) != 0)
		return false;
	seg = plen - pre - post;
	if (seg >= arglen || memchr(path + pre, '/', seg) != NULL)
		return false;
	memcpy(arg, path + pre, seg);
	arg[seg] = '\0';
	return true;
}

const char *
api_actor(const struct req *q, char *buf, size_t len)
{
	if (q->who.kind == PRINCIPAL_AGENT)
		(void)snprintf(buf, len, "agent:%s", q->who.name);
	else
		(void)snprintf(buf, len, "%s", q->who.name);
	return buf;
}

int
api_dispatch(struct req *q, struct reply *r)
{
	static __thread char arg[256];
	const struct route *rt = NULL;
	bool path_known = false;
	int e;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!match(routes[i].path, q->url, arg, sizeof(arg)))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, q->method) == 0) {
			rt = &routes[i];
			break;
		}
	}
	if (rt == NULL) {
		if (path_known)
			reply_error(r, 405, "method_not_allowed", "%s is not allowed on %s",
			    log_esc(q->method), log_esc(q->url));
		else
			reply_error(r, 404, "not_found", "no route %s", log_esc(q->url));
		return 0;
	}
	q->arg = arg;
	if (q->c->stopping && rt->fn != api_agent_poll && rt->fn != api_run_events) {
		reply_error(r, 503, "unavailable", "gamedayd is shutting down");
		return 0;
	}
	if (rt->access != ACCESS_NONE && !q->resumed) {
		e = auth_authenticate(q->c->store, MHD_lookup_connection_value(q->conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), &q->who);
		if (e == -EIO) {
			reply_error(r, 500, "internal", "the store failed; see gamedayd's log");
			return 0;
		}
		if (e < 0) {
			reply_error(r, 401, "unauthorized", "a valid token is required "
			    "(Authorization: Bearer TOKEN); this one is missing, unknown, "
			    "revoked or expired");
			return 0;
		}
		if ((rt->access == ACCESS_USER) != (q->who.kind == PRINCIPAL_USER) ||
		    (rt->access == ACCESS_AGENT && q->who.kind != PRINCIPAL_AGENT) ||
		    (rt->access == ACCESS_ENROLL && q->who.kind != PRINCIPAL_ENROLL)) {
			reply_error(r, 403, "forbidden", "this kind of token cannot be used on "
			    "%s", log_esc(q->url));
			return 0;
		}
		if (rt->access == ACCESS_USER && q->who.role < rt->min_role) {
			reply_error(r, 403, "forbidden", "%s needs the %s role; %s is %s",
			    log_esc(q->url), role_name(rt->min_role), q->who.name,
			    role_name(q->who.role));
			return 0;
		}
	}
	return rt->fn(q, r);
}

const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

void
json_add_text_col(cJSON *obj, const char *key, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		(void)cJSON_AddNullToObject(obj, key);
	else
		(void)cJSON_AddStringToObject(obj, key, col_text(st, i));
}

void
json_add_num_col(cJSON *obj, const char *key, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		(void)cJSON_AddNullToObject(obj, key);
	else
		(void)cJSON_AddNumberToObject(obj, key, sqlite3_column_double(st, i));
}

void
json_add_time_ms(cJSON *obj, const char *key, int64_t t)
{
	char buf[GD_TIME_MS_LEN];

	gd_format_time_ms(t, buf);
	(void)cJSON_AddStringToObject(obj, key, buf);
}

void
json_add_time_col(cJSON *obj, const char *key, sqlite3_stmt *st, int i)
{
	char buf[GD_TIME_MS_LEN];

	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		(void)cJSON_AddNullToObject(obj, key);
		return;
	}
	gd_format_time_ms(sqlite3_column_int64(st, i), buf);
	(void)cJSON_AddStringToObject(obj, key, buf);
}

int
api_healthz(struct req *q, struct reply *r)
{
	(void)q;
	reply_text(r, 200, "application/json", gd_strdup("{\"ok\":true}"));
	return 0;
}

/* The validator's errors as the 422 reply's details. */
static void
reply_invalid(struct reply *r, const struct gd_err *err)
{
	cJSON *root = cJSON_CreateObject(), *e, *d;

	e = cJSON_AddObjectToObject(root, "error");
	(void)cJSON_AddStringToObject(e, "code", "invalid_playbook");
	(void)cJSON_AddStringToObject(e, "message", "the playbook is not valid; nothing was "
	    "stored");
	d = cJSON_AddArrayToObject(e, "details");
	for (size_t i = 0; d != NULL && i < err->n; i++) {
		cJSON *item = cJSON_CreateObject();

		(void)cJSON_AddStringToObject(item, "path", err->items[i].path);
		(void)cJSON_AddStringToObject(item, "message", err->items[i].msg);
		(void)cJSON_AddItemToArray(d, item);
	}
	reply_json(r, 422, root);
}

int
api_playbook_apply(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	struct playbook *pb = NULL;
	struct gd_err err;
	char rev[GD_SHA256_HEX_LEN], now[24], actor[160];
	char *canon = NULL;
	sqlite3_stmt *st = NULL;
	bool created = false, same_head = false;
	cJSON *out, *d;
	int e;

	gd_err_init(&err);
	if (q->len == 0) {
		reply_error(r, 400, "bad_request", "the request needs a playbook as its body");
		return 0;
	}
	if ((e = playbook_parse(q->body, q->len, &pb, &err)) < 0) {
		if (e == -ENOMEM)
			reply_error(r, 500, "internal", "out of memory");
		else
			reply_invalid(r, &err);
		return 0;
	}
	/* The revision is the hash of the canonical form: formatting does not make one. */
	if ((canon = playbook_print(pb)) == NULL || gd_sha256_hex(canon, strlen(canon), rev) < 0) {
		reply_error(r, 500, "internal", "out of memory");
		goto out;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	api_actor(q, actor, sizeof(actor));
	if (store_begin(c->store) < 0)
		goto fail;
	if (sqlite3_prepare_v2(c->store->db, "SELECT revision FROM playbook_heads WHERE "
	    "name = ?", -1, &st, NULL) != SQLITE_OK)
		goto fail_tx;
	(void)sqlite3_bind_text(st, 1, pb->name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && strcmp(col_text(st, 0), rev) == 0)
		same_head = true;
	sqlite3_finalize(st);
	st = NULL;
	if (same_head) {
		store_rollback(c->store);
	} else {
		if (store_exec(c->store, "INSERT OR IGNORE INTO playbooks (name, revision, body, "
		    "created, actor) VALUES (?, ?, ?, ?, ?)", 5, pb->name, rev, canon, now,
		    actor) < 0 ||
		    store_exec(c->store, "INSERT INTO playbook_heads (name, revision, updated) "
		    "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET revision = ?2, "
		    "updated = ?3", 3, pb->name, rev, now) < 0)
			goto fail_tx;
		d = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(d, "revision", rev);
		(void)cJSON_AddStringToObject(d, "environment",
		    pb_environment_name(pb->environment));
		if (api_commit_audited(c, actor, "playbook.apply", pb->name, d) < 0)
			goto fail;
		created = true;
		sched_kick(c);	/* Its schedule is planned now, not at the next tick. */
	}
	out = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(out, "name", pb->name);
	(void)cJSON_AddStringToObject(out, "revision", rev);
	(void)cJSON_AddBoolToObject(out, "created", created);
	reply_json(r, created ? 201 : 200, out);
	goto out;
fail_tx:
	sqlite3_finalize(st);
	(void)store_fail(c->store, "playbook apply");
	store_rollback(c->store);
fail:
	reply_error(r, 500, "internal", "the store failed; nothing was stored");
out:
	gd_free(canon);
	playbook_free(pb);
	return 0;
}

int
api_playbook_list(struct req *q, struct reply *r)
{
	struct store *s = q->c->store;
	sqlite3_stmt *st;
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "playbooks");

	(void)pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT h.name, h.revision, h.updated, p.body FROM "
	    "playbook_heads h JOIN playbooks p ON p.name = h.name AND p.revision = h.revision "
	    "ORDER BY h.name", -1, &st, NULL) != SQLITE_OK) {
		(void)store_fail(s, "playbook list");
		(void)pthread_mutex_unlock(&s->lock);
		cJSON_Delete(root);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject(), *body = cJSON_Parse(col_text(st, 3));
		const cJSON *env = cJSON_GetObjectItemCaseSensitive(body, "environment");
		const cJSON *tier = cJSON_GetObjectItemCaseSensitive(body, "tier");

		(void)cJSON_AddStringToObject(o, "name", col_text(st, 0));
		(void)cJSON_AddStringToObject(o, "revision", col_text(st, 1));
		(void)cJSON_AddStringToObject(o, "environment", cJSON_IsString(env) ?
		    env->valuestring : "");
		(void)cJSON_AddNumberToObject(o, "tier", cJSON_IsNumber(tier) ?
		    tier->valuedouble : 0);
		json_add_time_col(o, "updated", st, 2);
		cJSON_Delete(body);
		(void)cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&s->lock);
	reply_json(r, 200, root);
	return 0;
}

int
api_playbook_get(struct req *q, struct reply *r)
{
	struct store *s = q->c->store;
	sqlite3_stmt *st;
	cJSON *root = NULL;

	(void)pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT h.name, h.revision, h.updated, p.body FROM "
	    "playbook_heads h JOIN playbooks p ON p.name = h.name AND p.revision = h.revision "
	    "WHERE h.name = ?", -1, &st, NULL) != SQLITE_OK) {
		(void)store_fail(s, "playbook get");
		(void)pthread_mutex_unlock(&s->lock);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		root = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(root, "name", col_text(st, 0));
		(void)cJSON_AddStringToObject(root, "revision", col_text(st, 1));
		json_add_time_col(root, "updated", st, 2);
		(void)cJSON_AddItemToObject(root, "playbook", cJSON_Parse(col_text(st, 3)));
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&s->lock);
	if (root == NULL)
		reply_error(r, 404, "not_found", "no playbook named '%s'", log_esc(q->arg));
	else
		reply_json(r, 200, root);
	return 0;
}

/* A non-negative integer query parameter, or def; false (400 filled) when malformed. */
static bool
query_int(struct req *q, struct reply *r, const char *key, int64_t def, int64_t max,
    int64_t *ret)
{
	const char *v = req_query(q, key);
	char *end;
	long long n;

	*ret = def;
	if (v == NULL)
		return true;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0 || n > max) {
		reply_error(r, 400, "bad_request", "?%s must be an integer from 0 to %lld", key,
		    (long long)max);
		return false;
	}
	*ret = n;
	return true;
}

int
api_audit_list(struct req *q, struct reply *r)
{
	struct store *s = q->c->store;
	const char *since = req_query(q, "since"), *why;
	int64_t after, limit, since_s = 0;
	cJSON *rows = NULL, *root;
	int e;

	if (!query_int(q, r, "after", 0, INT64_MAX, &after) ||
	    !query_int(q, r, "limit", 1000, 100000, &limit))
		return 0;
	if (since != NULL && rfc3339_parse(since, &since_s, &why) < 0) {
		reply_error(r, 400, "bad_request", "?since: %s", why);
		return 0;
	}
	(void)pthread_mutex_lock(&s->lock);
	e = audit_rows_json(s->db, after, since_s * 1000, (int)limit, &rows);
	(void)pthread_mutex_unlock(&s->lock);
	if (e < 0) {
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	root = cJSON_CreateObject();
	(void)cJSON_AddItemToObject(root, "rows", rows);
	reply_json(r, 200, root);
	return 0;
}

int
api_audit_verify(struct req *q, struct reply *r)
{
	struct store *s = q->c->store;
	struct audit_verify v;
	cJSON *root;
	int e;

	(void)pthread_mutex_lock(&s->lock);
	e = audit_verify(s->db, s->anchor_path, &v);
	(void)pthread_mutex_unlock(&s->lock);
	if (e < 0) {
		reply_error(r, 500, "internal", "cannot read the audit log: %s", strerror(-e));
		return 0;
	}
	root = cJSON_CreateObject();
	(void)cJSON_AddBoolToObject(root, "ok", v.ok);
	(void)cJSON_AddNumberToObject(root, "rows", (double)v.rows);
	if (v.ok) {
		(void)cJSON_AddStringToObject(root, "head", v.head);
	} else {
		(void)cJSON_AddNumberToObject(root, "first_bad_seq", (double)v.first_bad_seq);
		(void)cJSON_AddStringToObject(root, "reason", v.reason);
	}
	reply_json(r, 200, root);
	return 0;
}
