/*
 * A run's timeline (timeline.h): what the SLA guard measured and what the run did, and the
 * figures a Game Day is judged by.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "runs.h"
#include "timeline.h"
#include "timeutil.h"

/* Shorthand: the SQL below is long enough. */
static int
prepare(struct ctl *c, const char *sql, sqlite3_stmt **st)
{
	return store_prepare(c->store, sql, st);
}

/* One int64 from a query with one text and one optional int64 parameter; def when none. */
static int64_t
query_i64(struct ctl *c, const char *sql, const char *run, int64_t arg, int64_t def)
{
	sqlite3_stmt *st;
	int64_t v = def;

	if (prepare(c, sql, &st) < 0)
		return def;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) > 1)
		(void)sqlite3_bind_int64(st, 2, arg);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

double
timeline_nines(double availability_percent)
{
	double down = 1.0 - availability_percent / 100.0;

	if (down <= 0.0)
		return INFINITY;
	return down >= 1.0 ? 0.0 : -log10(down);
}

/*
 * Availability of each probe over the run, preflight to the end: the share of good samples
 * (the book's availability, measured the way the service's users see it).
 */
static cJSON *
availability_json(struct ctl *c, const char *run)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *st;

	if (prepare(c, "SELECT probe, count(*), sum(ok), min(time), max(time) FROM probe_samples "
	    "WHERE run = ? GROUP BY probe "
	    "ORDER BY probe", &st) < 0)
		return arr;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();
		int64_t n = sqlite3_column_int64(st, 1), good = sqlite3_column_int64(st, 2);
		double a = n > 0 ? 100.0 * (double)good / (double)n : 0.0, nines;

		(void)cJSON_AddStringToObject(o, "probe", col_text(st, 0));
		(void)cJSON_AddNumberToObject(o, "samples", (double)n);
		(void)cJSON_AddNumberToObject(o, "good", (double)good);
		(void)cJSON_AddNumberToObject(o, "availability_percent", a);
		nines = timeline_nines(a);
		if (isinf(nines))
			(void)cJSON_AddNullToObject(o, "nines");	/* No bad sample at all. */
		else
			(void)cJSON_AddNumberToObject(o, "nines", nines);
		(void)cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
	return arr;
}

/* The latest sample of each probe, and each SLA's latest evaluation. */
static void
latest_json(struct ctl *c, const char *run, cJSON *o)
{
	cJSON *probes = cJSON_AddArrayToObject(o, "probes");
	cJSON *slas = cJSON_AddArrayToObject(o, "slas");
	sqlite3_stmt *st;

	if (prepare(c, "SELECT p.probe, p.time, p.ok, p.value, p.status, p.error, (SELECT "
	    "count(*) FROM probe_samples q WHERE q.run = p.run AND q.probe = p.probe), (SELECT "
	    "count(*) FROM probe_samples q WHERE q.run = p.run AND q.probe = p.probe AND q.ok = "
	    "0) FROM probe_samples p WHERE p.run = ?1 AND p.rowid = (SELECT max(rowid) FROM "
	    "probe_samples q WHERE q.run = ?1 AND q.probe = p.probe) ORDER BY p.probe", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *p = cJSON_CreateObject();

			(void)cJSON_AddStringToObject(p, "probe", col_text(st, 0));
			json_add_time_col(p, "time", st, 1);
			(void)cJSON_AddBoolToObject(p, "ok", sqlite3_column_int(st, 2) != 0);
			json_add_num_col(p, "value", st, 3);
			json_add_num_col(p, "status", st, 4);
			json_add_text_col(p, "error", st, 5);
			(void)cJSON_AddNumberToObject(p, "samples", sqlite3_column_double(st, 6));
			(void)cJSON_AddNumberToObject(p, "errors", sqlite3_column_double(st, 7));
			(void)cJSON_AddItemToArray(probes, p);
		}
		sqlite3_finalize(st);
	}
	if (prepare(c, "SELECT e.sla, e.expr, e.time, e.holds, e.value, e.streak, e.reason, "
	    "(SELECT count(*) FROM sla_evals q WHERE q.run = e.run AND q.sla = e.sla), (SELECT "
	    "count(*) FROM sla_evals q WHERE q.run = e.run AND q.sla = e.sla AND q.holds = 0) "
	    "FROM sla_evals e WHERE e.run = ?1 AND e.rowid = (SELECT max(rowid) FROM sla_evals q "
	    "WHERE q.run = ?1 AND q.sla = e.sla) ORDER BY e.sla", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *s = cJSON_CreateObject();

			(void)cJSON_AddNumberToObject(s, "index", sqlite3_column_int(st, 0));
			(void)cJSON_AddStringToObject(s, "sla", col_text(st, 1));
			json_add_time_col(s, "time", st, 2);
			(void)cJSON_AddBoolToObject(s, "holds", sqlite3_column_int(st, 3) != 0);
			json_add_num_col(s, "value", st, 4);
			(void)cJSON_AddNumberToObject(s, "streak", sqlite3_column_int(st, 5));
			json_add_text_col(s, "reason", st, 6);
			(void)cJSON_AddNumberToObject(s, "evaluations",
			    sqlite3_column_double(st, 7));
			(void)cJSON_AddNumberToObject(s, "breaches", sqlite3_column_double(st, 8));
			(void)cJSON_AddItemToArray(slas, s);
		}
		sqlite3_finalize(st);
	}
}

cJSON *
timeline_summary_json(struct ctl *c, const char *run)
{
	cJSON *o = cJSON_CreateObject(), *f;
	int64_t abort_at, first, reverted, sla, applied;

	latest_json(c, run, o);
	(void)cJSON_AddItemToObject(o, "availability", availability_json(c, run));
	f = cJSON_AddObjectToObject(o, "figures");
	/* The guard's abort, the first breach of the streak that caused it, the last revert. */
	abort_at = query_i64(c, "SELECT min(time) FROM events WHERE run = ? AND kind = 'state' "
	    "AND state = 'rolling_back' AND actor = 'sla-guard'", run, 0, -1);
	reverted = query_i64(c, "SELECT max(changed) FROM run_faults WHERE run = ? AND state = "
	    "'reverted'", run, 0, -1);
	if (abort_at >= 0) {
		sla = query_i64(c, "SELECT sla FROM sla_evals WHERE run = ? AND holds = 0 AND time "
		    "<= ? ORDER BY time DESC LIMIT 1", run, abort_at, -1);
		first = sla < 0 ? -1 : query_i64(c, "SELECT max(time) FROM sla_evals WHERE "
		    "run = ?1 AND sla = (SELECT sla FROM sla_evals WHERE run = ?1 AND holds = 0 "
		    "AND time <= ?2 ORDER BY time DESC LIMIT 1) AND streak = 1 AND time <= ?2", run,
		    abort_at, -1);
		if (first >= 0)
			(void)cJSON_AddNumberToObject(f, "breach_to_abort_ms",
			    (double)(abort_at - first));
		/* From the moment every fault was in place (the run entered running). */
		applied = query_i64(c, "SELECT min(time) FROM events WHERE run = ? AND kind = "
		    "'state' AND state = 'running'", run, 0, -1);
		if (applied >= 0 && applied <= abort_at)
			(void)cJSON_AddNumberToObject(f, "faults_to_abort_ms",
			    (double)(abort_at - applied));
		if (reverted >= abort_at)
			(void)cJSON_AddNumberToObject(f, "abort_to_reverted_ms",
			    (double)(reverted - abort_at));
	}
	return o;
}

/* GET /v1/runs/{id}/timeline?after=MS: samples and evaluations newer than after. */
int
api_run_timeline(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	const char *va = req_query(q, "after");
	long long after = va != NULL ? strtoll(va, NULL, 10) : 0;
	cJSON *root = NULL, *arr, *run;
	sqlite3_stmt *st;

	(void)pthread_mutex_lock(&c->store->lock);
	if ((run = run_json(c, q->arg, false)) == NULL) {
		(void)pthread_mutex_unlock(&c->store->lock);
		reply_error(r, 404, "not_found", "no run '%s'", log_esc(q->arg));
		return 0;
	}
	cJSON_Delete(run);
	root = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(root, "samples");
	if (prepare(c, "SELECT probe, time, phase, ok, value, status, error FROM probe_samples "
	    "WHERE run = ? AND time > ? ORDER BY time LIMIT 10000", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int64(st, 2, after);
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *s = cJSON_CreateObject();

			(void)cJSON_AddStringToObject(s, "probe", col_text(st, 0));
			(void)cJSON_AddNumberToObject(s, "time_ms", sqlite3_column_double(st, 1));
			(void)cJSON_AddStringToObject(s, "phase", col_text(st, 2));
			(void)cJSON_AddBoolToObject(s, "ok", sqlite3_column_int(st, 3) != 0);
			json_add_num_col(s, "value", st, 4);
			json_add_num_col(s, "status", st, 5);
			json_add_text_col(s, "error", st, 6);
			(void)cJSON_AddItemToArray(arr, s);
		}
		sqlite3_finalize(st);
	}
	arr = cJSON_AddArrayToObject(root, "evaluations");
	if (prepare(c, "SELECT sla, expr, time, phase, holds, value, samples, streak, reason FROM "
	    "sla_evals WHERE run = ? AND time > ? ORDER BY time LIMIT 10000", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int64(st, 2, after);
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *e = cJSON_CreateObject();

			(void)cJSON_AddNumberToObject(e, "index", sqlite3_column_int(st, 0));
			(void)cJSON_AddStringToObject(e, "sla", col_text(st, 1));
			(void)cJSON_AddNumberToObject(e, "time_ms", sqlite3_column_double(st, 2));
			(void)cJSON_AddStringToObject(e, "phase", col_text(st, 3));
			(void)cJSON_AddBoolToObject(e, "holds", sqlite3_column_int(st, 4) != 0);
			json_add_num_col(e, "value", st, 5);
			(void)cJSON_AddNumberToObject(e, "samples", sqlite3_column_int(st, 6));
			(void)cJSON_AddNumberToObject(e, "streak", sqlite3_column_int(st, 7));
			json_add_text_col(e, "reason", st, 8);
			(void)cJSON_AddItemToArray(arr, e);
		}
		sqlite3_finalize(st);
	}
	arr = cJSON_AddArrayToObject(root, "faults");
	if (prepare(c, "SELECT host, idx, type, state, changed, error FROM run_faults WHERE run = "
	    "? ORDER BY host, idx", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *f = cJSON_CreateObject();

			(void)cJSON_AddStringToObject(f, "host", col_text(st, 0));
			(void)cJSON_AddNumberToObject(f, "index", sqlite3_column_int(st, 1));
			(void)cJSON_AddStringToObject(f, "type", col_text(st, 2));
			(void)cJSON_AddStringToObject(f, "state", col_text(st, 3));
			json_add_num_col(f, "changed_ms", st, 4);
			json_add_text_col(f, "error", st, 5);
			(void)cJSON_AddItemToArray(arr, f);
		}
		sqlite3_finalize(st);
	}
	(void)cJSON_AddItemToObject(root, "summary", timeline_summary_json(c, q->arg));
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 200, root);
	return 0;
}
