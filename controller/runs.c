#include "runs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alloc.h"
#include "api.h"
#include "audit.h"
#include "guard.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "playbook.h"
#include "rehearsal.h"
#include "sched.h"
#include "timeline.h"
#include "timeutil.h"

#define MAX_REASON 1000

/* Shorthand: the SQL below is long enough. */
static int
prepare(struct ctl *c, const char *sql, sqlite3_stmt **st)
{
	return store_prepare(c->store, sql, st);
}

int
tx_begin(struct ctl *c, struct tx *t)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	return store_begin(c->store);
}

void
tx_audit(struct tx *t, const char *actor, const char *action, const char *object,
    cJSON *details)
{
	int r;

	if (t->err == 0) {
		r = audit_append(t->c->store->db, gd_now_ms(), actor, action, object, details,
		    &t->seq, t->hash);
		if (r < 0) {
			log_warnx("audit: cannot append %s: %s", action, strerror(-r));
			t->err = r;
		}
	}
	cJSON_Delete(details);
}

int
tx_commit(struct tx *t)
{
	bool light;

	if (t->err != 0) {
		store_rollback(t->c->store);
		return -EIO;
	}
	light = t->c->store->light;
	if (store_commit_hold(t->c->store) < 0) {
		store_unlock(t->c->store);
		return -EIO;
	}
	/* Audit rows are durable before their anchor says they exist. */
	if (light && t->seq > 0 && store_sync_wal(t->c->store) < 0)
		log_warn("store: cannot sync the WAL");
	if (t->seq > 0 && audit_anchor_write(t->c->store->anchor_path, t->seq, t->hash) < 0)
		log_warnx("audit: cannot write the anchor (the rows are committed)");
	store_unlock(t->c->store);
	return 0;
}

void
tx_abort(struct tx *t)
{
	store_rollback(t->c->store);
}

int
api_commit_audited(struct ctl *c, const char *actor, const char *action, const char *object,
    cJSON *details)
{
	/* The caller opened the transaction with store_begin(). */
	struct tx t = { .c = c };

	tx_audit(&t, actor, action, object, details);
	return tx_commit(&t);
}

void
new_id(const char *prefix, char *buf, size_t len)
{
	uint8_t raw[8] = { 0 };
	char hex[17];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		uint64_t t = (uint64_t)gd_mono_ms() ^ ((uint64_t)gd_now_ms() << 20);

		memcpy(raw, &t, sizeof(raw));
	}
	gd_hex(raw, sizeof(raw), hex);
	(void)snprintf(buf, len, "%s%s", prefix, hex);
}

static const char *const terminal[] = { "completed", "aborted", "failed", "halted" };
static const char *const active[] = { "preflight", "injecting", "running", "rolling_back" };

bool
run_state_terminal(const char *state)
{
	for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		if (strcmp(state, terminal[i]) == 0)
			return true;
	return false;
}

bool
run_state_active(const char *state)
{
	for (size_t i = 0; i < sizeof(active) / sizeof(active[0]); i++)
		if (strcmp(state, active[i]) == 0)
			return true;
	return false;
}

/* The run's current state into buf; -ENOENT when there is no such run. */
static int
run_state(struct ctl *c, const char *id, char *buf, size_t len, char *end_state,
    size_t elen)
{
	sqlite3_stmt *st;
	int r = -ENOENT;

	if (prepare(c, "SELECT state, end_state FROM runs WHERE id = ?", &st) < 0)
		return -EIO;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		(void)snprintf(buf, len, "%s", col_text(st, 0));
		if (end_state != NULL)
			(void)snprintf(end_state, elen, "%s", col_text(st, 1));
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

int
run_event(struct tx *t, const char *id, const char *kind, const char *host,
    const char *actor, const char *reason)
{
	sqlite3_stmt *st;
	int r = 0;

	if (prepare(t->c, "INSERT INTO events (run, time, actor, kind, state, host, reason) "
	    "VALUES (?, ?, ?, ?, (SELECT state FROM runs WHERE id = ?1), ?, ?)", &st) < 0)
		return t->err = -EIO;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 2, gd_now_ms());
	(void)sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 5, host, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = t->err = store_fail(t->c->store, "event");
	sqlite3_finalize(st);
	return r;
}

/*
 * Queues a revert order for every applied fault of run (or only host's fault idx when host
 * is not NULL) and marks them reverting.  One statement however many hosts: a halt of a
 * run over a thousand hosts is acknowledged in one short transaction.  Order ids as
 * new_id() makes them: "o-" and 64 random bits in hex.
 */
static int
queue_reverts(struct tx *t, const char *run, const char *host, int idx)
{
	char now[24], exp[24], sidx[16];
	int64_t n = gd_now_ms();

	(void)snprintf(now, sizeof(now), "%lld", (long long)n);
	/* A revert is always safe to carry out, however late: it expires only with the run's
	 * longest possible fault. */
	(void)snprintf(exp, sizeof(exp), "%lld", (long long)(n + 7 * 24 * 3600 * 1000LL));
	(void)snprintf(sidx, sizeof(sidx), "%d", idx);
	if (store_exec(t->c->store, "INSERT INTO orders (id, run, host, idx, action, fault, "
	    "fault_id, ttl_ms, created, expires) SELECT 'o-' || lower(hex(randomblob(8))), f.run, "
	    "f.host, f.idx, 'revert', o.fault, f.fault_id, 0, ?2, ?3 FROM run_faults f JOIN "
	    "orders o ON o.run = f.run AND o.host = f.host AND o.idx = f.idx AND o.action = "
	    "'inject' WHERE f.run = ?1 AND f.state = 'applied' AND (?4 IS NULL OR (f.host = ?4 "
	    "AND f.idx = ?5))", 5, run, now, exp, host, sidx) < 0 ||
	    store_exec(t->c->store, "UPDATE run_faults SET state = 'reverting' WHERE run = ?1 AND "
	    "state = 'applied' AND (?2 IS NULL OR (host = ?2 AND idx = ?3))", 3, run, host,
	    sidx) < 0)
		return t->err = -EIO;
	return 0;
}

int
run_queue_revert(struct tx *t, const char *run, const char *host, int idx)
{
	return queue_reverts(t, run, host, idx);
}

/*
 * Under the store's lock: resumes the long-polls of run id's hosts.  Their handlers wait
 * for the lock, so they see the reverts of the transaction that holds it once it commits.
 */
static void
wake_hosts_locked(struct ctl *c, const char *id)
{
	sqlite3_stmt *st;
	char key[300];

	if (prepare(c, "SELECT host FROM run_hosts WHERE run = ?", &st) < 0)
		return;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		(void)snprintf(key, sizeof(key), "host:%s", col_text(st, 0));
		ctl_wake(c, key);
	}
	sqlite3_finalize(st);
}

/* Entering rolling_back: revert what is applied, cancel what was never handed out. */
static int
begin_rollback(struct tx *t, const char *id)
{
	if (store_exec(t->c->store, "UPDATE orders SET state = 'cancelled' WHERE run = ? AND "
	    "action IN ('inject', 'dry_run') AND state = 'pending'", 1, id) < 0 ||
	    store_exec(t->c->store, "UPDATE run_faults SET state = 'cancelled' WHERE run = ? AND "
	    "state = 'pending' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.run = "
	    "run_faults.run AND o.host = run_faults.host AND o.idx = run_faults.idx AND "
	    "o.state NOT IN ('cancelled', 'pending'))", 1, id) < 0)
		return t->err = -EIO;
	if (queue_reverts(t, id, NULL, 0) < 0)
		return t->err;
	wake_hosts_locked(t->c, id);
	return 0;
}

int
run_transition(struct tx *t, const char *id, const char *to, const char *actor,
    const char *reason)
{
	char from[32], now[24];
	cJSON *d;

	if (run_state(t->c, id, from, sizeof(from), NULL, 0) < 0)
		return t->err = -EIO;
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	if (store_exec(t->c->store, "UPDATE runs SET state = ?2, ended = CASE WHEN ?2 IN "
	    "('completed', 'aborted', 'failed', 'halted') THEN ?3 ELSE ended END, outcome = "
	    "CASE WHEN ?2 IN ('completed', 'aborted', 'failed', 'halted') THEN ?4 ELSE outcome "
	    "END WHERE id = ?1", 4, id, to, now, reason) < 0)
		return t->err = -EIO;
	if (strcmp(to, "rolling_back") == 0 && begin_rollback(t, id) < 0)
		return t->err;
	if (run_event(t, id, "state", NULL, actor, reason) < 0)
		return t->err;
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "from", from);
	(void)cJSON_AddStringToObject(d, "to", to);
	(void)cJSON_AddStringToObject(d, "reason", reason);
	tx_audit(t, actor, "run.state", id, d);
	notify_enqueue(t, notify_event_of_state(to), id, reason);
	ctl_wake(t->c, id);
	guard_kick(t->c);
	return t->err;
}

int
run_halt(struct tx *t, const char *id, const char *actor, const char *reason)
{
	char state[32], why[MAX_REASON + 200];
	int r;

	if ((r = run_state(t->c, id, state, sizeof(state), NULL, 0)) < 0)
		return r;
	if (run_state_terminal(state))
		return -EALREADY;
	(void)snprintf(why, sizeof(why), "halted by %s: %s", actor, reason);
	if (strcmp(state, "rolling_back") == 0) {
		/* Already reverting: it ends halted unless a revert fails. */
		if (store_exec(t->c->store, "UPDATE runs SET end_state = 'halted' WHERE id = ?", 1,
		    id) < 0)
			return t->err = -EIO;
		return run_event(t, id, "note", NULL, actor, why);
	}
	if (strcmp(state, "injecting") == 0 || strcmp(state, "running") == 0 ||
	    strcmp(state, "preflight") == 0) {
		if (store_exec(t->c->store, "UPDATE runs SET end_state = 'halted' WHERE id = ?", 1,
		    id) < 0)
			return t->err = -EIO;
		return run_transition(t, id, "rolling_back", actor, why);
	}
	return run_transition(t, id, "halted", actor, why);
}

/* ---- JSON ---- */

static cJSON *
targets_json(struct ctl *c, const char *id)
{
	cJSON *arr = cJSON_CreateArray(), *host = NULL, *faults = NULL;
	sqlite3_stmt *st;
	char cur[256] = "";

	if (prepare(c, "SELECT h.host, h.plan, f.idx, f.type, f.state, f.fault_id, f.error, "
	    "(SELECT o.id FROM orders o WHERE o.run = f.run AND o.host = f.host AND o.idx = "
	    "f.idx ORDER BY o.created DESC LIMIT 1) FROM run_hosts h LEFT JOIN run_faults f "
	    "ON f.run = h.run AND f.host = h.host WHERE h.run = ? ORDER BY h.host, f.idx",
	    &st) < 0)
		return arr;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *f;

		if (host == NULL || strcmp(cur, col_text(st, 0)) != 0) {
			(void)snprintf(cur, sizeof(cur), "%s", col_text(st, 0));
			host = cJSON_CreateObject();
			(void)cJSON_AddStringToObject(host, "host", cur);
			faults = cJSON_AddArrayToObject(host, "faults");
			if (sqlite3_column_type(st, 1) == SQLITE_NULL)
				(void)cJSON_AddNullToObject(host, "plan");
			else
				(void)cJSON_AddStringToObject(host, "plan", col_text(st, 1));
			(void)cJSON_AddItemToArray(arr, host);
		}
		if (sqlite3_column_type(st, 2) == SQLITE_NULL)
			continue;
		f = cJSON_CreateObject();
		(void)cJSON_AddNumberToObject(f, "index", sqlite3_column_int(st, 2));
		(void)cJSON_AddStringToObject(f, "type", col_text(st, 3));
		(void)cJSON_AddStringToObject(f, "state", col_text(st, 4));
		(void)cJSON_AddStringToObject(f, "order", col_text(st, 7));
		if (sqlite3_column_type(st, 5) == SQLITE_NULL)
			(void)cJSON_AddNullToObject(f, "fault_id");
		else
			(void)cJSON_AddStringToObject(f, "fault_id", col_text(st, 5));
		if (sqlite3_column_type(st, 6) == SQLITE_NULL)
			(void)cJSON_AddNullToObject(f, "error");
		else
			(void)cJSON_AddStringToObject(f, "error", col_text(st, 6));
		(void)cJSON_AddItemToArray(faults, f);
	}
	sqlite3_finalize(st);
	return arr;
}

#define RUN_COLUMNS "id, playbook, revision, environment, state, dry_run, reason, " \
	"requested_by, approved_by, created, started, ends, ended, outcome"

static cJSON *
run_row_json(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();

	(void)cJSON_AddStringToObject(o, "id", col_text(st, 0));
	(void)cJSON_AddStringToObject(o, "playbook", col_text(st, 1));
	(void)cJSON_AddStringToObject(o, "revision", col_text(st, 2));
	(void)cJSON_AddStringToObject(o, "environment", col_text(st, 3));
	(void)cJSON_AddStringToObject(o, "state", col_text(st, 4));
	(void)cJSON_AddBoolToObject(o, "dry_run", sqlite3_column_int(st, 5) != 0);
	(void)cJSON_AddStringToObject(o, "reason", col_text(st, 6));
	(void)cJSON_AddStringToObject(o, "requested_by", col_text(st, 7));
	json_add_text_col(o, "approved_by", st, 8);
	json_add_time_col(o, "created", st, 9);
	json_add_time_col(o, "started", st, 10);
	json_add_time_col(o, "ends", st, 11);
	json_add_time_col(o, "ended", st, 12);
	json_add_text_col(o, "outcome", st, 13);
	return o;
}

cJSON *
run_json(struct ctl *c, const char *id, bool with_targets)
{
	sqlite3_stmt *st;
	cJSON *o = NULL;

	if (prepare(c, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", &st) < 0)
		return NULL;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = run_row_json(st);
	sqlite3_finalize(st);
	if (o != NULL && with_targets)
		(void)cJSON_AddItemToObject(o, "targets", targets_json(c, id));
	return o;
}

/* ---- API handlers ---- */

static void
reply_store_failed(struct reply *r)
{
	reply_error(r, 500, "internal", "the store failed; nothing was changed (see gamedayd's "
	    "log)");
}

int64_t
run_not_before(struct ctl *c, const char *id)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (prepare(c, "SELECT coalesce(not_before, 0) FROM runs WHERE id = ?", &st) < 0)
		return 0;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

bool
halt_all_in_force(struct ctl *c, cJSON **ret)
{
	sqlite3_stmt *st;
	bool on = false;

	if (ret != NULL)
		*ret = NULL;
	if (prepare(c, "SELECT value FROM meta WHERE key = 'halt'", &st) < 0)
		return true;	/* Unknown counts as halted: never start on a guess. */
	if (sqlite3_step(st) == SQLITE_ROW) {
		on = true;
		if (ret != NULL)
			*ret = cJSON_Parse(col_text(st, 0));
	}
	sqlite3_finalize(st);
	return on;
}

int
run_create(struct tx *t, const struct run_spec *s, char id[RUN_ID_LEN + 1])
{
	char now[24], nb[24], dl[24];
	const char *first;
	cJSON *d;

	new_id("r-", id, RUN_ID_LEN + 1);
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	(void)snprintf(nb, sizeof(nb), "%lld", (long long)s->not_before);
	(void)snprintf(dl, sizeof(dl), "%lld", (long long)s->deadline);
	if (store_exec(t->c->store, "INSERT INTO runs (id, playbook, revision, environment, "
	    "state, dry_run, reason, requested_by, created, not_before, deadline, risk) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, '0'), nullif(?, '0'), ?)", 12, id,
	    s->playbook, s->revision, s->environment, s->state, s->dry_run ? "1" : "0",
	    s->reason, s->actor, now, nb, dl, s->risk) < 0)
		return t->err = -EIO;
	if (strcmp(s->state, "awaiting_approval") == 0)
		first = "requested; waits for a second person with the approver role";
	else if (strcmp(s->state, "scheduled") == 0)
		first = "scheduled";
	else
		first = "requested";
	(void)run_event(t, id, "state", NULL, s->actor, first);
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "playbook", s->playbook);
	(void)cJSON_AddStringToObject(d, "revision", s->revision);
	(void)cJSON_AddStringToObject(d, "reason", s->reason);
	(void)cJSON_AddBoolToObject(d, "dry_run", s->dry_run);
	(void)cJSON_AddStringToObject(d, "state", s->state);
	if (s->not_before > 0)
		json_add_time_ms(d, "not_before", s->not_before);
	tx_audit(t, s->actor, "run.start", id, d);
	notify_enqueue(t, notify_event_of_state(s->state), id, s->reason);
	return t->err;
}

int
api_run_start(struct req *q, struct reply *r)
{
	static const char *const keys[] = { "playbook", "reason", "dry_run", NULL };
	struct ctl *c = q->c;
	struct gd_err err;
	struct jctx jc;
	struct playbook *pb = NULL;
	const char *name = NULL, *reason = NULL;
	char id[RUN_ID_LEN + 1], actor[160], rev[GD_SHA256_HEX_LEN] = "";
	char *body = NULL;
	bool dry = false, approval;
	sqlite3_stmt *st;
	struct tx t;
	cJSON *in, *out;

	if ((in = req_json(q, r, keys)) == NULL)
		return 0;
	gd_err_init(&err);
	jctx_init(&jc, &err);
	(void)j_string(&jc, in, "playbook", true, 256, &name);
	(void)j_string(&jc, in, "reason", true, MAX_REASON, &reason);
	(void)j_bool(&jc, in, "dry_run", &dry);
	if (err.n == 0 && reason[0] == '\0')
		gd_err_add(&err, "reason", "must say why (it goes into the audit log)");
	if (err.n > 0) {
		reply_error(r, 400, "bad_request", "%s: %s", err.items[0].path, err.items[0].msg);
		goto out;
	}
	api_actor(q, actor, sizeof(actor));
	if (tx_begin(c, &t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	if (halt_all_in_force(c, NULL)) {
		tx_abort(&t);
		reply_error(r, 409, "conflict", "a halt of all runs is in force; an admin must "
		    "clear it (gameday halt --clear) before new runs start");
		goto out;
	}
	if (prepare(c, "SELECT h.revision, p.body FROM playbook_heads h JOIN playbooks p ON "
	    "p.name = h.name AND p.revision = h.revision WHERE h.name = ?", &st) < 0) {
		tx_abort(&t);
		reply_store_failed(r);
		goto out;
	}
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		(void)snprintf(rev, sizeof(rev), "%s", col_text(st, 0));
		body = gd_strdup(col_text(st, 1));
	}
	sqlite3_finalize(st);
	if (body == NULL) {
		tx_abort(&t);
		reply_error(r, 404, "not_found", "no playbook named '%s' (gameday playbook apply "
		    "FILE first)", log_esc(name));
		goto out;
	}
	if (playbook_parse(body, strlen(body), &pb, &err) < 0) {
		tx_abort(&t);
		reply_error(r, 500, "internal", "the stored playbook '%s' no longer validates",
		    log_esc(name));
		goto out;
	}
	approval = pb->guardrails.require_approval && !dry;
	{
		struct run_spec spec = { .playbook = name, .revision = rev, .environment =
		    pb_environment_name(pb->environment), .reason = reason, .actor = actor,
		    .risk = pb->risk, .dry_run = dry, .state = approval ? "awaiting_approval" :
		    "preflight" };

		if (run_create(&t, &spec, id) < 0) {
			tx_abort(&t);
			reply_store_failed(r);
			goto out;
		}
	}
	if (tx_commit(&t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	ctl_kick(c);
	(void)pthread_mutex_lock(&c->store->lock);
	out = run_json(c, id, true);
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 201, out);
out:
	playbook_free(pb);
	gd_free(body);
	cJSON_Delete(in);
	return 0;
}

int
api_run_list(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	const char *v = req_query(q, "limit");
	long limit = v != NULL ? strtol(v, NULL, 10) : 100;
	sqlite3_stmt *st;
	cJSON *root, *arr;

	if (limit <= 0 || limit > 10000)
		limit = 100;
	root = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(root, "runs");
	(void)pthread_mutex_lock(&c->store->lock);
	if (prepare(c, "SELECT " RUN_COLUMNS " FROM runs ORDER BY created DESC, rowid DESC "
	    "LIMIT ?", &st) < 0) {
		(void)pthread_mutex_unlock(&c->store->lock);
		cJSON_Delete(root);
		reply_store_failed(r);
		return 0;
	}
	(void)sqlite3_bind_int64(st, 1, limit);
	while (sqlite3_step(st) == SQLITE_ROW)
		(void)cJSON_AddItemToArray(arr, run_row_json(st));
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 200, root);
	return 0;
}

int
api_run_get(struct req *q, struct reply *r)
{
	cJSON *o;

	(void)pthread_mutex_lock(&q->c->store->lock);
	o = run_json(q->c, q->arg, true);
	if (o != NULL) {
		cJSON *rh = rehearsal_json(q->c, q->arg);

		(void)cJSON_AddItemToObject(o, "steady_state", timeline_summary_json(q->c, q->arg));
		if (rh != NULL)
			(void)cJSON_AddItemToObject(o, "rehearsal", rh);
	}
	(void)pthread_mutex_unlock(&q->c->store->lock);
	if (o == NULL)
		reply_error(r, 404, "not_found", "no run '%s'", log_esc(q->arg));
	else
		reply_json(r, 200, o);
	return 0;
}

int
api_run_events(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	const char *va = req_query(q, "after"), *vw = req_query(q, "wait");
	long long after = va != NULL ? strtoll(va, NULL, 10) : 0;
	long wait = vw != NULL ? strtol(vw, NULL, 10) : 0;
	char state[32];
	sqlite3_stmt *st;
	cJSON *root, *arr;
	int n = 0;

	(void)pthread_mutex_lock(&c->store->lock);
	if (run_state(c, q->arg, state, sizeof(state), NULL, 0) < 0 ||
	    prepare(c, "SELECT seq, time, actor, kind, state, host, reason FROM events WHERE "
	    "run = ? AND seq > ? ORDER BY seq LIMIT 1000", &st) < 0) {
		(void)pthread_mutex_unlock(&c->store->lock);
		reply_error(r, 404, "not_found", "no run '%s'", log_esc(q->arg));
		return 0;
	}
	(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 2, after);
	root = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(root, "events");
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *e = cJSON_CreateObject();

		(void)cJSON_AddNumberToObject(e, "seq", (double)sqlite3_column_int64(st, 0));
		json_add_time_col(e, "time", st, 1);
		(void)cJSON_AddStringToObject(e, "actor", col_text(st, 2));
		(void)cJSON_AddStringToObject(e, "kind", col_text(st, 3));
		json_add_text_col(e, "state", st, 4);
		json_add_text_col(e, "host", st, 5);
		json_add_text_col(e, "reason", st, 6);
		(void)cJSON_AddItemToArray(arr, e);
		n++;
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&c->store->lock);
	(void)cJSON_AddStringToObject(root, "state", state);
	if (n == 0 && wait > 0 && !run_state_terminal(state) && !q->answer_now) {
		if (q->wait_key[0] == '\0') {
			if (wait > (long)(c->cfg.poll_max_ms / 1000))
				wait = (long)(c->cfg.poll_max_ms / 1000);
			(void)snprintf(q->wait_key, sizeof(q->wait_key), "%s", q->arg);
			q->wait_deadline = gd_mono_ms() + wait * 1000;
		}
		cJSON_Delete(root);
		return HTTP_SUSPEND;
	}
	reply_json(r, 200, root);
	return 0;
}

int
api_run_approve(struct req *q, struct reply *r)
{
	static const char *const keys[] = { "revision", NULL };
	struct ctl *c = q->c;
	char actor[160], state[32];
	const char *want = NULL;
	sqlite3_stmt *st;
	char requester[160] = "", rev[GD_SHA256_HEX_LEN] = "";
	struct gd_err err;
	struct jctx jc;
	struct tx t;
	cJSON *in = NULL, *d, *out;

	if (q->len > 0) {
		if ((in = req_json(q, r, keys)) == NULL)
			return 0;
		gd_err_init(&err);
		jctx_init(&jc, &err);
		(void)j_string(&jc, in, "revision", false, 64, &want);
		if (err.n > 0) {
			reply_error(r, 400, "bad_request", "%s: %s", err.items[0].path,
			    err.items[0].msg);
			goto out;
		}
	}
	api_actor(q, actor, sizeof(actor));
	if (tx_begin(c, &t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	if (run_state(c, q->arg, state, sizeof(state), NULL, 0) < 0 ||
	    prepare(c, "SELECT requested_by, revision FROM runs WHERE id = ?", &st) < 0) {
		tx_abort(&t);
		reply_error(r, 404, "not_found", "no run '%s'", log_esc(q->arg));
		goto out;
	}
	(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		(void)snprintf(requester, sizeof(requester), "%s", col_text(st, 0));
		(void)snprintf(rev, sizeof(rev), "%s", col_text(st, 1));
	}
	sqlite3_finalize(st);
	if (strcmp(state, "awaiting_approval") != 0) {
		tx_abort(&t);
		reply_error(r, 409, "conflict", "run %s is %s, not awaiting_approval",
		    log_esc(q->arg), state);
		goto out;
	}
	if (strcmp(requester, actor) == 0) {
		tx_abort(&t);
		reply_error(r, 403, "forbidden", "two-person rule: %s requested this run and "
		    "cannot approve it; another user with the approver role must", actor);
		goto out;
	}
	if (want != NULL && strcmp(want, rev) != 0) {
		tx_abort(&t);
		reply_error(r, 409, "conflict", "the run is of revision %s, not %s: the approval "
		    "is bound to the revision that will run", rev, log_esc(want));
		goto out;
	}
	if (store_exec(c->store, "UPDATE runs SET approved_by = ? WHERE id = ?", 2, actor,
	    q->arg) < 0) {
		tx_abort(&t);
		reply_store_failed(r);
		goto out;
	}
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "revision", rev);
	(void)cJSON_AddStringToObject(d, "requested_by", requester);
	tx_audit(&t, actor, "run.approve", q->arg, d);
	/* A run the scheduler made ahead of its window is started by it (sched.h). */
	(void)run_transition(&t, q->arg, run_not_before(c, q->arg) > 0 ? "scheduled" :
	    "preflight", actor, "approved");
	if (tx_commit(&t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	ctl_kick(c);
	sched_kick(c);	/* An approved run made ahead waits for the scheduler. */
	(void)pthread_mutex_lock(&c->store->lock);
	out = run_json(c, q->arg, true);
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 200, out);
out:
	cJSON_Delete(in);
	return 0;
}

/* The optional {"reason": ...} of a halt. */
static bool
halt_reason(struct req *q, struct reply *r, cJSON **in, const char **reason)
{
	static const char *const keys[] = { "reason", NULL };
	struct gd_err err;
	struct jctx jc;

	*in = NULL;
	*reason = "no reason given";
	if (q->len == 0)
		return true;
	if ((*in = req_json(q, r, keys)) == NULL)
		return false;
	gd_err_init(&err);
	jctx_init(&jc, &err);
	(void)j_string(&jc, *in, "reason", false, MAX_REASON, reason);
	if (err.n > 0) {
		reply_error(r, 400, "bad_request", "%s: %s", err.items[0].path, err.items[0].msg);
		return false;
	}
	return true;
}

void
run_wake_hosts(struct ctl *c, const char *id)
{
	(void)pthread_mutex_lock(&c->store->lock);
	wake_hosts_locked(c, id);
	(void)pthread_mutex_unlock(&c->store->lock);
}

int
api_run_halt(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	const char *reason;
	char actor[160];
	struct tx t;
	cJSON *in, *d, *out;
	int e;

	if (!halt_reason(q, r, &in, &reason))
		goto out;
	api_actor(q, actor, sizeof(actor));
	if (tx_begin(c, &t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "reason", reason);
	tx_audit(&t, actor, "run.halt", q->arg, d);
	e = run_halt(&t, q->arg, actor, reason);
	if (e == -ENOENT || e == -EALREADY) {
		tx_abort(&t);
		if (e == -ENOENT)
			reply_error(r, 404, "not_found", "no run '%s'", log_esc(q->arg));
		else
			reply_error(r, 409, "conflict", "run %s has already ended",
			    log_esc(q->arg));
		goto out;
	}
	if (tx_commit(&t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	/* The reverts are queued: hand them to the open polls now, not at the next tick. */
	run_wake_hosts(c, q->arg);
	ctl_kick(c);
	(void)pthread_mutex_lock(&c->store->lock);
	out = run_json(c, q->arg, true);
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 200, out);
out:
	cJSON_Delete(in);
	return 0;
}

int
api_halt_all(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	const char *reason;
	char actor[160], now[GD_TIME_MS_LEN], (*ids)[RUN_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	struct tx t;
	cJSON *in, *d, *flag, *out, *arr;
	char *text;

	if (!halt_reason(q, r, &in, &reason))
		goto out;
	api_actor(q, actor, sizeof(actor));
	gd_format_time_ms(gd_now_ms(), now);
	if (tx_begin(c, &t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	flag = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(flag, "by", actor);
	(void)cJSON_AddStringToObject(flag, "reason", reason);
	(void)cJSON_AddStringToObject(flag, "time", now);
	text = cJSON_PrintUnformatted(flag);
	cJSON_Delete(flag);
	if (text == NULL || store_exec(c->store, "INSERT OR REPLACE INTO meta (key, value) "
	    "VALUES ('halt', ?)", 1, text) < 0) {
		gd_free(text);
		tx_abort(&t);
		reply_store_failed(r);
		goto out;
	}
	gd_free(text);
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "reason", reason);
	tx_audit(&t, actor, "halt.all", "*", d);
	/*
	 * Runs the scheduler made ahead for a later window are not stopped: the flag skips
	 * their start while it is in force, and they keep their window once it is cleared.
	 */
	if (prepare(c, "SELECT id FROM runs WHERE state NOT IN ('completed', 'aborted', "
	    "'failed', 'halted') AND NOT (state IN ('scheduled', 'awaiting_approval') AND "
	    "coalesce(not_before, 0) > ?)", &st) == 0) {
		(void)sqlite3_bind_int64(st, 1, gd_now_ms());
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (n == cap) {
				void *p = gd_realloc(ids, (cap = cap * 2 + 16) * sizeof(*ids));

				if (p == NULL) {
					t.err = -ENOMEM;
					break;
				}
				ids = p;
			}
			(void)snprintf(ids[n++], RUN_ID_LEN + 1, "%s", col_text(st, 0));
		}
		sqlite3_finalize(st);
	} else
		t.err = -EIO;
	for (size_t i = 0; i < n && t.err == 0; i++)
		(void)run_halt(&t, ids[i], actor, reason);
	if (tx_commit(&t) < 0) {
		reply_store_failed(r);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		run_wake_hosts(c, ids[i]);
	ctl_kick(c);
	out = cJSON_CreateObject();
	(void)cJSON_AddBoolToObject(out, "halted", true);
	arr = cJSON_AddArrayToObject(out, "runs");
	for (size_t i = 0; i < n; i++)
		(void)cJSON_AddItemToArray(arr, cJSON_CreateString(ids[i]));
	reply_json(r, 200, out);
out:
	gd_free(ids);
	cJSON_Delete(in);
	return 0;
}

int
api_halt_clear(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	char actor[160];
	cJSON *out;

	api_actor(q, actor, sizeof(actor));
	if (store_begin(c->store) < 0) {
		reply_store_failed(r);
		return 0;
	}
	if (store_exec(c->store, "DELETE FROM meta WHERE key = 'halt'", 0) < 0) {
		store_rollback(c->store);
		reply_store_failed(r);
		return 0;
	}
	if (api_commit_audited(c, actor, "halt.clear", "*", NULL) < 0) {
		reply_store_failed(r);
		return 0;
	}
	out = cJSON_CreateObject();
	(void)cJSON_AddBoolToObject(out, "halted", false);
	reply_json(r, 200, out);
	return 0;
}

int
api_halt_get(struct req *q, struct reply *r)
{
	cJSON *flag, *out = cJSON_CreateObject();
	bool on;

	(void)pthread_mutex_lock(&q->c->store->lock);
	on = halt_all_in_force(q->c, &flag);
	(void)pthread_mutex_unlock(&q->c->store->lock);
	(void)cJSON_AddBoolToObject(out, "halted", on);
	if (flag != NULL) {
		const char *const keys[] = { "by", "reason", "time" };

		for (size_t i = 0; i < 3; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(flag, keys[i]);

			(void)cJSON_AddStringToObject(out, keys[i], cJSON_IsString(v) ?
			    v->valuestring : "");
		}
		cJSON_Delete(flag);
	}
	reply_json(r, 200, out);
	return 0;
}
