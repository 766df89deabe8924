/*
 * The fleet: agents enrol, long-poll for their orders and report what they verified.
 * An agent's credential names its host; every route checks that the host in the body is
 * that host, so agent A can never poll, report or enrol as agent B.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "json.h"
#include "log.h"
#include "agentmsg.h"
#include "runs.h"
#include "timeutil.h"

#define MAX_HOST	PROTO_MAX_HOST
#define MAX_CAPS_JSON	(64 * 1024)
#define MAX_FAULTS	256
#define LAST_SEEN_WRITE_MS 2000	/* last_seen is written at most this often per agent. */

int
api_agent_enroll(struct req *q, struct reply *r)
{
	static const char *const keys[] = { "host", "tags", "capabilities", NULL };
	struct ctl *c = q->c;
	struct gd_err err;
	struct jctx jc;
	const char *host = NULL;
	const cJSON *caps;
	char *tags = NULL, *capstext = NULL, cred[AUTH_TOKEN_LEN + 1], hash[65], now[24];
	char actor[300], tok[24];
	struct tx t;
	cJSON *in, *out, *d;

	if ((in = req_json(q, r, keys)) == NULL)
		return 0;
	gd_err_init(&err);
	jctx_init(&jc, &err);
	if (j_string(&jc, in, "host", true, MAX_HOST, &host) && !proto_valid_host(host))
		j_error(&jc, "host", "%s is not a host name", j_quote(host));
	(void)proto_tags(in, "tags", &tags, &err);
	caps = j_get(in, "capabilities");
	if (caps != NULL && !cJSON_IsObject(caps))
		j_error(&jc, "capabilities", "must be an object");
	else if ((capstext = caps != NULL ? cJSON_PrintUnformatted(caps) : gd_strdup("{}")) ==
	    NULL || strlen(capstext) > MAX_CAPS_JSON)
		j_error(&jc, "capabilities", "too large");
	if (err.n > 0) {
		reply_error(r, 400, "bad_request", "%s: %s", err.items[0].path, err.items[0].msg);
		goto out;
	}
	if (auth_new_token("gda_", cred) < 0 || auth_token_hash(cred, hash) < 0) {
		reply_error(r, 500, "internal", "cannot make a credential");
		goto out;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	(void)snprintf(tok, sizeof(tok), "%lld", (long long)q->who.token_id);
	(void)snprintf(actor, sizeof(actor), "agent:%s", host);
	if (tx_begin(c, &t) < 0) {
		reply_error(r, 500, "internal", "the store failed");
		goto out;
	}
	/* Spend the token in this transaction: two racing enrolments cannot both use it. */
	if (store_exec(c->store, "UPDATE enroll_tokens SET used = ?, used_by = ? WHERE id = ? "
	    "AND used IS NULL", 3, now, host, tok) < 0 || sqlite3_changes(c->store->db) != 1) {
		tx_abort(&t);
		reply_error(r, 401, "unauthorized", "this enrolment token is spent or expired");
		goto out;
	}
	if (store_exec(c->store, "INSERT INTO agents (host, cred_hash, tags, capabilities, "
	    "enrolled, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (host) DO UPDATE "
	    "SET cred_hash = ?2, tags = ?3, capabilities = ?4, enrolled = ?5, last_seen = ?5, "
	    "state = 'ok', via = 'poll', seq = 0", 5, host, hash, tags, capstext, now) < 0) {
		tx_abort(&t);
		reply_error(r, 500, "internal", "the store failed");
		goto out;
	}
	d = cJSON_CreateObject();
	(void)cJSON_AddRawToObject(d, "tags", tags);
	tx_audit(&t, actor, "agent.enroll", host, d);
	if (tx_commit(&t) < 0) {
		reply_error(r, 500, "internal", "the store failed");
		goto out;
	}
	log_info("agent %s enrolled", log_esc(host));
	out = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(out, "host", host);
	(void)cJSON_AddStringToObject(out, "credential", cred);
	reply_json(r, 201, out);
out:
	explicit_bzero(cred, sizeof(cred));
	gd_free(tags);
	gd_free(capstext);
	cJSON_Delete(in);
	return 0;
}

int
api_agent_list(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	sqlite3_stmt *st;
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "agents");

	(void)pthread_mutex_lock(&c->store->lock);
	if (sqlite3_prepare_v2(c->store->db, "SELECT host, tags, state, last_seen, lease_ms, "
	    "enrolled, json_array_length(faults), via FROM agents ORDER BY host", -1, &st,
	    NULL) != SQLITE_OK) {
		(void)store_fail(c->store, "agents");
		(void)pthread_mutex_unlock(&c->store->lock);
		cJSON_Delete(root);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *a = cJSON_CreateObject();

		(void)cJSON_AddStringToObject(a, "host", col_text(st, 0));
		(void)cJSON_AddItemToObject(a, "tags", cJSON_Parse(col_text(st, 1)));
		(void)cJSON_AddStringToObject(a, "state", col_text(st, 2));
		json_add_time_col(a, "last_seen", st, 3);
		(void)cJSON_AddNumberToObject(a, "lease_ms", (double)sqlite3_column_int64(st, 4));
		json_add_time_col(a, "enrolled", st, 5);
		(void)cJSON_AddNumberToObject(a, "faults", (double)sqlite3_column_int64(st, 6));
		(void)cJSON_AddStringToObject(a, "via", col_text(st, 7));	/* poll or ssh */
		(void)cJSON_AddItemToArray(arr, a);
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 200, root);
	return 0;
}

/* Does the agent's faults[] list fault_id? */
static bool
agent_holds(const cJSON *faults, const char *fault_id)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, faults) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "id");

		if (cJSON_IsString(id) && strcmp(id->valuestring, fault_id) == 0)
			return true;
	}
	return false;
}

/*
 * The agent's journal is the truth about its host: a fault the controller believes in
 * effect that the agent no longer holds was reverted there (at its TTL, by its lease, or
 * by an operator), and the agent verified that before it dropped the entry.
 */
static void
reconcile(struct tx *t, const char *host, const cJSON *faults)
{
	struct ctl *c = t->c;
	sqlite3_stmt *st;
	struct gone {
		char run[32], fault_id[64];
		int idx;
	} v[64];
	size_t n = 0;
	char actor[300];

	if (sqlite3_prepare_v2(c->store->db, "SELECT run, idx, fault_id FROM run_faults WHERE "
	    "host = ? AND fault_id IS NOT NULL AND state IN ('applied', 'reverting', "
	    "'revert_failed', 'revert_unconfirmed')", -1, &st, NULL) != SQLITE_OK) {
		t->err = store_fail(c->store, "reconcile");
		return;
	}
	(void)sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	while (n < sizeof(v) / sizeof(v[0]) && sqlite3_step(st) == SQLITE_ROW)
		if (!agent_holds(faults, col_text(st, 2))) {
			(void)snprintf(v[n].run, sizeof(v[n].run), "%s", col_text(st, 0));
			v[n].idx = sqlite3_column_int(st, 1);
			(void)snprintf(v[n].fault_id, sizeof(v[n].fault_id), "%s", col_text(st, 2));
			n++;
		}
	sqlite3_finalize(st);
	(void)snprintf(actor, sizeof(actor), "agent:%s", host);
	for (size_t i = 0; i < n && t->err == 0; i++) {
		char sidx[16];
		cJSON *d;

		(void)snprintf(sidx, sizeof(sidx), "%d", v[i].idx);
		if (store_exec(c->store, "UPDATE run_faults SET state = 'reverted', error = NULL "
		    "WHERE run = ? AND host = ? AND idx = ?", 3, v[i].run, host, sidx) < 0) {
			t->err = -EIO;
			break;
		}
		(void)store_exec(c->store, "UPDATE orders SET state = 'done' WHERE run = ? AND "
		    "host = ? AND idx = ? AND action = 'revert' AND state IN ('pending', "
		    "'delivered')", 3, v[i].run, host, sidx);
		(void)run_event(t, v[i].run, "fault", host, actor, "gone from the agent's journal "
		    "(reverted on the host)");
		d = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(d, "host", host);
		(void)cJSON_AddNumberToObject(d, "index", v[i].idx);
		(void)cJSON_AddStringToObject(d, "fault_id", v[i].fault_id);
		tx_audit(t, actor, "fault.gone", v[i].run, d);
	}
}

/*
 * Orders for host that are waiting, as JSON; marks them delivered.  An inject is handed out
 * (again, when its report is still owed) only while its run is injecting: once a halt or a
 * rollback is committed, no inject leaves the controller.
 */
static cJSON *
take_orders(struct ctl *c, const char *host, size_t *ret_n)
{
	sqlite3_stmt *st;
	cJSON *arr = cJSON_CreateArray();
	int64_t now = gd_now_ms();
	char snow[24];

	*ret_n = 0;
	if (sqlite3_prepare_v2(c->store->db, "SELECT id, run, action, fault, ttl_ms, fault_id, "
	    "expires FROM orders o WHERE host = ? AND state IN ('pending', 'delivered') AND "
	    "expires > ? AND (action = 'revert' OR EXISTS (SELECT 1 FROM runs r WHERE r.id = "
	    "o.run AND r.state IN ('preflight', 'injecting'))) ORDER BY created, id LIMIT 64",
	    -1, &st, NULL) != SQLITE_OK) {
		(void)store_fail(c->store, "orders");
		return arr;
	}
	(void)sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 2, now);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();

		(void)cJSON_AddStringToObject(o, "id", col_text(st, 0));
		(void)cJSON_AddStringToObject(o, "run", col_text(st, 1));
		(void)cJSON_AddStringToObject(o, "action", col_text(st, 2));
		(void)cJSON_AddItemToObject(o, "fault", cJSON_Parse(col_text(st, 3)));
		(void)cJSON_AddNumberToObject(o, "ttl_ms", (double)sqlite3_column_int64(st, 4));
		if (sqlite3_column_type(st, 5) != SQLITE_NULL)
			(void)cJSON_AddStringToObject(o, "fault_id", col_text(st, 5));
		json_add_time_col(o, "expires", st, 6);
		(void)cJSON_AddItemToArray(arr, o);
		(*ret_n)++;
	}
	sqlite3_finalize(st);
	/*
	 * Only an inject's delivery needs remembering (a rollback cancels what was never
	 * handed out); reverts are always carried out, so handing them out writes nothing
	 * and a halt reaches a thousand open polls without a thousand commits.
	 */
	if (*ret_n > 0) {
		(void)snprintf(snow, sizeof(snow), "%lld", (long long)now);
		(void)store_exec(c->store, "UPDATE orders SET state = 'delivered', delivered = "
		    "coalesce(delivered, ?) WHERE host = ? AND state = 'pending' AND action != "
		    "'revert' AND expires > ?", 3, snow, host, snow);
	}
	return arr;
}

int
api_agent_poll(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	struct agent_poll p;
	struct gd_err err;
	const char *host;
	int64_t lease, wait, last = 0;
	char *tags = NULL, *faults_text = NULL, now[24], slease[24], sseq[24], key[300];
	const cJSON *faults;
	size_t norders = 0;
	char state[16] = "";
	sqlite3_stmt *st;
	struct tx t;
	cJSON *in, *orders = NULL, *out;
	bool write, same = false, stale = false;

	if ((in = req_json(q, r, proto_poll_keys)) == NULL)
		return 0;
	gd_err_init(&err);
	if (agentmsg_poll_parse(in, &p, &err) < 0) {
		if (err.n > 0)
			reply_error(r, 400, "bad_request", "%s: %s", err.items[0].path,
			    err.items[0].msg);
		else
			reply_error(r, 500, "internal", "out of memory");
		goto out;
	}
	host = p.host;
	lease = p.lease_ms;
	wait = p.wait_ms;
	faults = p.faults;
	tags = p.tags;
	if (strcmp(host, q->who.name) != 0) {
		reply_error(r, 403, "forbidden", "this credential belongs to agent %s, not %s",
		    q->who.name, log_esc(host));
		goto out;
	}
	/* Light unless something audited happens below (then it is made durable at once). */
	memset(&t, 0, sizeof(t));
	t.c = c;
	if (store_begin_light(c->store) < 0) {
		reply_error(r, 500, "internal", "the store failed");
		goto out;
	}
	faults_text = faults != NULL ? cJSON_PrintUnformatted(faults) : gd_strdup("[]");
	if (sqlite3_prepare_v2(c->store->db, "SELECT state, last_seen, faults = ? AND "
	    "lease_ms = ?, seq FROM agents WHERE host = ?", -1, &st, NULL) == SQLITE_OK) {
		(void)sqlite3_bind_text(st, 1, faults_text, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int64(st, 2, lease);
		(void)sqlite3_bind_text(st, 3, host, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			(void)snprintf(state, sizeof(state), "%s", col_text(st, 0));
			last = sqlite3_column_int64(st, 1);
			same = sqlite3_column_int(st, 2) != 0;	/* Same journal, same lease. */
			/*
			 * Made before a report or poll we already took (it arrived late: a
			 * retransmission of a request the agent gave up on): its journal is
			 * not the host's any more, and must not undo that report.
			 */
			stale = p.seq > 0 && p.seq < sqlite3_column_int64(st, 3);
		}
		sqlite3_finalize(st);
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	(void)snprintf(slease, sizeof(slease), "%lld", (long long)lease);
	/* A write (an fsync) per poll of every agent would be the controller's whole load;
	 * last_seen needs a resolution of seconds, the faults list only when it changes. */
	write = !q->resumed && (strcmp(state, "ok") != 0 || !same ||
	    gd_now_ms() - last >= LAST_SEEN_WRITE_MS);
	if (write && stale) {
		log_info("agent %s: a poll older than its last report came late; its journal is "
		    "not the host's any more and is ignored", log_esc(host));
		write = false;
	}
	(void)snprintf(sseq, sizeof(sseq), "%lld", (long long)p.seq);
	if (write && faults_text != NULL) {
		if (store_exec(c->store, "UPDATE agents SET last_seen = ?, lease_ms = ?, faults = ?, "
		    "state = 'ok', seq = max(seq, CAST(? AS INTEGER)) WHERE host = ?", 5, now, slease,
		    faults_text, sseq, host) < 0)
			t.err = -EIO;
		if (strcmp(state, "lost") == 0) {
			char actor[300];

			(void)snprintf(actor, sizeof(actor), "agent:%s", host);
			tx_audit(&t, actor, "agent.back", host, NULL);
		}
		reconcile(&t, host, faults);
	}
	orders = take_orders(c, host, &norders);
	if (tx_commit(&t) < 0) {
		reply_error(r, 500, "internal", "the store failed");
		goto out;
	}
	if (norders == 0 && !q->answer_now && wait > 0) {
		if (q->wait_key[0] == '\0') {
			if ((uint64_t)wait > c->cfg.poll_max_ms)
				wait = (int64_t)c->cfg.poll_max_ms;
			(void)snprintf(key, sizeof(key), "host:%s", host);
			(void)snprintf(q->wait_key, sizeof(q->wait_key), "%s", key);
			q->wait_deadline = gd_mono_ms() + wait;
		}
		cJSON_Delete(orders);
		orders = NULL;
		gd_free(tags);
		gd_free(faults_text);
		cJSON_Delete(in);
		return HTTP_SUSPEND;
	}
	(void)pthread_mutex_lock(&c->wlock);
	c->polls_answered++;
	c->orders_delivered += norders;
	(void)pthread_mutex_unlock(&c->wlock);
	out = cJSON_CreateObject();
	(void)cJSON_AddItemToObject(out, "orders", orders);
	orders = NULL;
	{
		char t_now[GD_TIME_MS_LEN];

		gd_format_time_ms(gd_now_ms(), t_now);
		(void)cJSON_AddStringToObject(out, "server_time", t_now);
	}
	reply_json(r, 200, out);
out:
	cJSON_Delete(orders);
	gd_free(tags);
	gd_free(faults_text);
	cJSON_Delete(in);
	return 0;
}

/*
 * Records what host did with one of its orders (a poll agent's report, or the outcome of
 * an SSH dispatch): the order done, the fault's new state, an event and an audit row by
 * actor, and, for a fault applied after its run stopped wanting it, a revert queued.
 * 0 (also for a report already recorded); -ENOENT when host has no such order; -EIO.
 */
int
fleet_record_report(struct ctl *c, const struct agent_report *rep, const char *actor)
{
	const char *host = rep->host, *order = rep->order, *status = rep->status;
	const char *fault_id = rep->fault_id, *state = rep->state, *error = rep->error;
	const char *plan = rep->plan, *fstate;
	char run[32] = "", action[16] = "", ostate[16] = "", ohost[300] = "", rstate[32] = "";
	char sidx[16], what[64], key[300], sseq[24];
	int idx = 0;
	sqlite3_stmt *st;
	struct tx t;
	cJSON *d;

	if (tx_begin(c, &t) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(c->store->db, "SELECT o.run, o.host, o.idx, o.action, o.state, "
	    "r.state FROM orders o JOIN runs r ON r.id = o.run WHERE o.id = ?", -1, &st,
	    NULL) == SQLITE_OK) {
		(void)sqlite3_bind_text(st, 1, order, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			(void)snprintf(run, sizeof(run), "%s", col_text(st, 0));
			(void)snprintf(ohost, sizeof(ohost), "%s", col_text(st, 1));
			idx = sqlite3_column_int(st, 2);
			(void)snprintf(action, sizeof(action), "%s", col_text(st, 3));
			(void)snprintf(ostate, sizeof(ostate), "%s", col_text(st, 4));
			(void)snprintf(rstate, sizeof(rstate), "%s", col_text(st, 5));
		}
		sqlite3_finalize(st);
	}
	if (run[0] == '\0' || strcmp(ohost, host) != 0) {
		tx_abort(&t);
		return -ENOENT;
	}
	if (strcmp(ostate, "done") == 0) {
		/* Reported already (the agent resends until it has our 200). */
		tx_abort(&t);
		return 0;
	}
	(void)snprintf(sidx, sizeof(sidx), "%d", idx);
	if (strcmp(action, "dry_run") == 0) {
		fstate = strcmp(status, "done") == 0 ? "planned" : "inject_failed";
		(void)store_exec(c->store, "UPDATE run_hosts SET plan = coalesce(plan || char(10), "
		    "'') || ? WHERE run = ? AND host = ?", 3, plan != NULL ? plan : error != NULL ?
		    error : "", run, host);
	} else if (strcmp(action, "inject") == 0) {
		fstate = strcmp(status, "done") == 0 && state != NULL &&
		    strcmp(state, "applied") == 0 ? "applied" : "inject_failed";
	} else {
		fstate = strcmp(status, "done") == 0 && state != NULL &&
		    strcmp(state, "reverted") == 0 ? "reverted" : "revert_failed";
	}
	(void)snprintf(sseq, sizeof(sseq), "%lld", (long long)rep->seq);
	if (store_exec(c->store, "UPDATE orders SET state = 'done', result = ? WHERE id = ?", 2,
	    status, order) < 0 ||
	    (rep->seq > 0 && store_exec(c->store, "UPDATE agents SET seq = max(seq, CAST(? AS "
	    "INTEGER)) WHERE host = ?", 2, sseq, host) < 0) ||
	    store_exec(c->store, "UPDATE run_faults SET state = ?, fault_id = coalesce(?, "
	    "fault_id), error = ? WHERE run = ? AND host = ? AND idx = ?", 6, fstate, fault_id,
	    error, run, host, sidx) < 0)
		t.err = -EIO;
	(void)snprintf(what, sizeof(what), "fault %d %s", idx, fstate);
	(void)run_event(&t, run, "fault", host, actor, error != NULL ? error : what);
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "host", host);
	(void)cJSON_AddStringToObject(d, "order", order);
	(void)cJSON_AddNumberToObject(d, "index", idx);
	(void)cJSON_AddStringToObject(d, "status", status);
	if (fault_id != NULL)
		(void)cJSON_AddStringToObject(d, "fault_id", fault_id);
	if (error != NULL)
		(void)cJSON_AddStringToObject(d, "error", error);
	(void)snprintf(what, sizeof(what), "fault.%s", fstate);
	tx_audit(&t, actor, what, run, d);
	/* Applied after the run stopped wanting it (halted, rolled back): take it back now. */
	if (strcmp(fstate, "applied") == 0 && strcmp(rstate, "injecting") != 0 &&
	    strcmp(rstate, "running") != 0)
		(void)run_queue_revert(&t, run, host, idx);
	if (tx_commit(&t) < 0)
		return -EIO;
	(void)snprintf(key, sizeof(key), "host:%s", host);
	ctl_wake(c, key);
	ctl_kick(c);
	return 0;
}

int
api_agent_report(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	struct agent_report rep;
	struct gd_err err;
	char actor[300];
	cJSON *in;
	int e;

	if ((in = req_json(q, r, proto_report_keys)) == NULL)
		return 0;
	gd_err_init(&err);
	if (agentmsg_report_parse(in, &rep, &err) < 0) {
		reply_error(r, 400, "bad_request", "%s: %s", err.n > 0 ? err.items[0].path :
		    "(root)", err.n > 0 ? err.items[0].msg : "invalid");
		goto out;
	}
	if (strcmp(rep.host, q->who.name) != 0) {
		reply_error(r, 403, "forbidden", "this credential belongs to agent %s, not %s",
		    q->who.name, log_esc(rep.host));
		goto out;
	}
	(void)snprintf(actor, sizeof(actor), "agent:%s", rep.host);
	e = fleet_record_report(c, &rep, actor);
	if (e == -ENOENT)
		reply_error(r, 404, "not_found", "no order %s for agent %s", log_esc(rep.order),
		    log_esc(rep.host));
	else if (e < 0)
		reply_error(r, 500, "internal", "the store failed");
	else
		reply_text(r, 200, "application/json", gd_strdup("{}"));
out:
	cJSON_Delete(in);
	return 0;
}
