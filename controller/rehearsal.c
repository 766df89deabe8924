/*
 * Rehearsals (rehearsal.h): their rows, the page, the acknowledgements, the figures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "parse.h"
#include "rehearsal.h"
#include "runs.h"
#include "timeutil.h"

#define ACTOR	"scheduler"

static int
prepare(struct ctl *c, const char *sql, sqlite3_stmt **st)
{
	return store_prepare(c->store, sql, st);
}

void
rehearsal_begin(struct tx *t, const char *run, const struct playbook *pb)
{
	char now[24], det[24], rec[24], text[1024], idx[16], dw[32], rw[32];
	cJSON *body;
	char *json;

	if (!pb->has_rehearsal)
		return;
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	(void)snprintf(det, sizeof(det), "%llu", (unsigned long long)pb->rehearsal.detect_within_ms);
	(void)snprintf(rec, sizeof(rec), "%llu",
	    (unsigned long long)pb->rehearsal.recover_within_ms);
	if (store_exec(t->c->store, "INSERT OR IGNORE INTO rehearsals (run, page_url, "
	    "detect_within_ms, recover_within_ms, fault_at) VALUES (?, ?, ?, ?, ?)", 5, run,
	    pb->rehearsal.page, det, rec, now) < 0) {
		t->err = -EIO;
		return;
	}
	for (size_t i = 0; i < pb->recovery_plan.nsteps; i++) {
		(void)snprintf(idx, sizeof(idx), "%zu", i + 1);
		if (store_exec(t->c->store, "INSERT OR IGNORE INTO rehearsal_steps (run, step, text) "
		    "VALUES (?, ?, ?)", 3, run, idx, pb->recovery_plan.steps[i]) < 0)
			t->err = -EIO;
	}
	duration_format(pb->rehearsal.detect_within_ms, dw, sizeof(dw));
	duration_format(pb->rehearsal.recover_within_ms, rw, sizeof(rw));
	(void)snprintf(text, sizeof(text), "Game Day rehearsal of %s: the fault is in place. "
	    "Detect within %s, recover within %s. Acknowledge: gameday rehearsal ack %s "
	    "--detected, then --recovered%s%s", pb->name, dw, rw, run,
	    pb->recovery_plan.url != NULL ? ". Recovery plan: " : "",
	    pb->recovery_plan.url != NULL ? pb->recovery_plan.url : "");
	body = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(body, "event", "page");
	(void)cJSON_AddStringToObject(body, "run", run);
	(void)cJSON_AddStringToObject(body, "playbook", pb->name);
	(void)cJSON_AddNumberToObject(body, "detect_within_ms",
	    (double)pb->rehearsal.detect_within_ms);
	(void)cJSON_AddNumberToObject(body, "recover_within_ms",
	    (double)pb->rehearsal.recover_within_ms);
	(void)cJSON_AddStringToObject(body, "text", text);
	json = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (json == NULL || store_exec(t->c->store, "INSERT INTO outbox (created, run, event, "
	    "webhook, body, next_try) VALUES (?1, ?2, 'page', ?3, ?4, ?1)", 4, now, run,
	    REHEARSAL_WEBHOOK, json) < 0)
		t->err = -EIO;
	gd_free(json);
	(void)run_event(t, run, "note", NULL, ACTOR, "rehearsal: the oncall is paged");
	notify_kick(t->c);
}

bool
rehearsal_check_missed(struct tx *t, const char *run, int64_t now)
{
	sqlite3_stmt *st;
	int64_t fault_at = 0, within = 0;
	bool due = false;
	char why[300], rw[32];

	if (prepare(t->c, "SELECT fault_at, recover_within_ms FROM rehearsals WHERE run = ? AND "
	    "recovered_at IS NULL AND missed = 0", &st) < 0)
		return false;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		fault_at = sqlite3_column_int64(st, 0);
		within = sqlite3_column_int64(st, 1);
		due = now > fault_at + within;
	}
	sqlite3_finalize(st);
	if (!due)
		return false;
	duration_format((uint64_t)within, rw, sizeof(rw));
	(void)snprintf(why, sizeof(why), "rehearsal missed: no recovery acknowledged within %s; "
	    "the controller reverts on its own", rw);
	if (store_exec(t->c->store, "UPDATE rehearsals SET missed = 1, outcome = 'missed' WHERE "
	    "run = ?", 1, run) < 0 ||
	    store_exec(t->c->store, "UPDATE runs SET end_state = 'aborted' WHERE id = ?", 1,
	    run) < 0)
		t->err = -EIO;
	tx_audit(t, ACTOR, "rehearsal.missed", run, NULL);
	(void)run_transition(t, run, "rolling_back", ACTOR, why);
	return true;
}

void
rehearsal_probe_recovered(struct tx *t, const char *run, int64_t when)
{
	char w[24];

	(void)snprintf(w, sizeof(w), "%lld", (long long)when);
	if (store_exec(t->c->store, "UPDATE rehearsals SET probe_recovered_at = ? WHERE run = ? "
	    "AND probe_recovered_at IS NULL", 2, w, run) < 0)
		t->err = -EIO;
}

void
rehearsal_page_url(struct ctl *c, const char *run, char *buf, size_t len)
{
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (prepare(c, "SELECT coalesce(page_url, '') FROM rehearsals WHERE run = ?", &st) < 0)
		return;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		(void)snprintf(buf, len, "%s", col_text(st, 0));
	sqlite3_finalize(st);
}

static void
add_ms(cJSON *o, const char *key, sqlite3_stmt *st, int i, int64_t base)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL || base == 0)
		(void)cJSON_AddNullToObject(o, key);
	else
		(void)cJSON_AddNumberToObject(o, key, (double)(sqlite3_column_int64(st, i) - base));
}

cJSON *
rehearsal_json(struct ctl *c, const char *run)
{
	sqlite3_stmt *st;
	cJSON *o = NULL, *steps;
	int64_t fault_at;

	if (prepare(c, "SELECT page_url, detect_within_ms, recover_within_ms, fault_at, "
	    "paged_at, detected_at, detected_by, recovered_at, recovered_by, "
	    "probe_recovered_at, missed, outcome FROM rehearsals WHERE run = ?", &st) < 0)
		return NULL;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		o = cJSON_CreateObject();
		fault_at = sqlite3_column_int64(st, 3);
		(void)cJSON_AddNumberToObject(o, "detect_within_ms", sqlite3_column_double(st, 1));
		(void)cJSON_AddNumberToObject(o, "recover_within_ms", sqlite3_column_double(st, 2));
		json_add_time_col(o, "fault_at", st, 3);
		json_add_time_col(o, "paged_at", st, 4);
		json_add_time_col(o, "detected_at", st, 5);
		json_add_text_col(o, "detected_by", st, 6);
		json_add_time_col(o, "recovered_at", st, 7);
		json_add_text_col(o, "recovered_by", st, 8);
		json_add_time_col(o, "probe_recovered_at", st, 9);
		add_ms(o, "time_to_detect_ms", st, 5, fault_at);
		add_ms(o, "time_to_recover_ms", st, 7, fault_at);
		add_ms(o, "time_to_recover_probes_ms", st, 9, fault_at);
		(void)cJSON_AddBoolToObject(o, "missed", sqlite3_column_int(st, 10) != 0);
		json_add_text_col(o, "outcome", st, 11);
		if (sqlite3_column_type(st, 5) != SQLITE_NULL)
			(void)cJSON_AddBoolToObject(o, "detected_in_time", sqlite3_column_int64(st,
			    5) - fault_at <= sqlite3_column_int64(st, 1));
		if (sqlite3_column_type(st, 7) != SQLITE_NULL)
			(void)cJSON_AddBoolToObject(o, "recovered_in_time", sqlite3_column_int64(st,
			    7) - fault_at <= sqlite3_column_int64(st, 2));
	}
	sqlite3_finalize(st);
	if (o == NULL)
		return NULL;
	steps = cJSON_AddArrayToObject(o, "steps");
	if (prepare(c, "SELECT step, text, done_at, done_by FROM rehearsal_steps WHERE run = ? "
	    "ORDER BY step", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			cJSON *s = cJSON_CreateObject();

			(void)cJSON_AddNumberToObject(s, "step", sqlite3_column_int(st, 0));
			(void)cJSON_AddStringToObject(s, "text", col_text(st, 1));
			json_add_time_col(s, "done_at", st, 2);
			json_add_text_col(s, "done_by", st, 3);
			(void)cJSON_AddItemToArray(steps, s);
		}
		sqlite3_finalize(st);
	}
	return o;
}

/*
 * POST /v1/runs/{id}/rehearsal: {"ack": "detected"|"recovered"} or {"step": N}.  Acks
 * count once (a second is 409); a recovery ends the exercise: the run rolls back and ends
 * completed.
 */
int
api_rehearsal_post(struct req *q, struct reply *r)
{
	static const char *const keys[] = { "ack", "step", NULL };
	struct ctl *c = q->c;
	const char *ack = NULL;
	int64_t step = 0;
	char actor[160], state[32] = "", now[24], sstep[24], why[300];
	struct gd_err err;
	struct jctx jc;
	sqlite3_stmt *st;
	struct tx t;
	cJSON *in, *d;
	bool have = false, done = false;

	if ((in = req_json(q, r, keys)) == NULL)
		return 0;
	gd_err_init(&err);
	jctx_init(&jc, &err);
	(void)j_string(&jc, in, "ack", false, 16, &ack);
	(void)j_int(&jc, in, "step", false, 1, GD_MAX_STEPS, &step);
	if (err.n == 0 && (ack == NULL) == (step == 0))
		gd_err_add(&err, "(root)", "give either \"ack\" or \"step\"");
	if (err.n == 0 && ack != NULL && strcmp(ack, "detected") != 0 &&
	    strcmp(ack, "recovered") != 0)
		gd_err_add(&err, "ack", "must be \"detected\" or \"recovered\"");
	if (err.n > 0) {
		reply_error(r, 400, "bad_request", "%s: %s", err.items[0].path, err.items[0].msg);
		cJSON_Delete(in);
		return 0;
	}
	api_actor(q, actor, sizeof(actor));
	if (tx_begin(c, &t) < 0) {
		reply_error(r, 500, "internal", "the store failed");
		cJSON_Delete(in);
		return 0;
	}
	if (prepare(c, "SELECT r.state, h.recovered_at IS NOT NULL OR h.missed = 1 FROM runs r "
	    "JOIN rehearsals h ON h.run = r.id WHERE r.id = ?", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			have = true;
			(void)snprintf(state, sizeof(state), "%s", col_text(st, 0));
			done = sqlite3_column_int(st, 1) != 0;
		}
		sqlite3_finalize(st);
	}
	if (!have) {
		tx_abort(&t);
		reply_error(r, 404, "not_found", "run '%s' has no rehearsal (yet: it starts when "
		    "the faults are in place)", log_esc(q->arg));
		cJSON_Delete(in);
		return 0;
	}
	if (done || strcmp(state, "running") != 0) {
		tx_abort(&t);
		reply_error(r, 409, "conflict", "the rehearsal of run %s is over (run %s)",
		    log_esc(q->arg), state);
		cJSON_Delete(in);
		return 0;
	}
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	d = cJSON_CreateObject();
	if (step > 0) {
		(void)snprintf(sstep, sizeof(sstep), "%lld", (long long)step);
		if (store_exec(c->store, "UPDATE rehearsal_steps SET done_at = ?, done_by = ? WHERE "
		    "run = ? AND step = ? AND done_at IS NULL", 4, now, actor, q->arg, sstep) < 0 ||
		    sqlite3_changes(c->store->db) != 1) {
			tx_abort(&t);
			cJSON_Delete(d);
			reply_error(r, 409, "conflict", "run %s has no open recovery-plan step %lld",
			    log_esc(q->arg), (long long)step);
			cJSON_Delete(in);
			return 0;
		}
		(void)cJSON_AddNumberToObject(d, "step", (double)step);
		(void)snprintf(why, sizeof(why), "rehearsal: step %lld done by %s", (long long)step,
		    actor);
		(void)run_event(&t, q->arg, "note", NULL, actor, why);
		tx_audit(&t, actor, "rehearsal.step", q->arg, d);
	} else {
		bool detected = strcmp(ack, "detected") == 0;

		if (store_exec(c->store, detected ? "UPDATE rehearsals SET detected_at = ?, "
		    "detected_by = ? WHERE run = ? AND detected_at IS NULL" : "UPDATE rehearsals SET "
		    "recovered_at = ?, recovered_by = ?, detected_at = coalesce(detected_at, ?1), "
		    "detected_by = coalesce(detected_by, ?2), outcome = 'recovered' WHERE run = ? "
		    "AND recovered_at IS NULL", 3, now, actor, q->arg) < 0 ||
		    sqlite3_changes(c->store->db) != 1) {
			tx_abort(&t);
			cJSON_Delete(d);
			reply_error(r, 409, "conflict", "run %s: %s was acknowledged already",
			    log_esc(q->arg), ack);
			cJSON_Delete(in);
			return 0;
		}
		(void)cJSON_AddStringToObject(d, "ack", ack);
		(void)snprintf(why, sizeof(why), "rehearsal: %s, acknowledged by %s", ack, actor);
		(void)run_event(&t, q->arg, "note", NULL, actor, why);
		tx_audit(&t, actor, "rehearsal.ack", q->arg, d);
		if (!detected) {
			/* The exercise is over: take the fault back, the run ends completed. */
			(void)store_exec(c->store, "UPDATE runs SET end_state = 'completed' WHERE "
			    "id = ?", 1, q->arg);
			(void)run_transition(&t, q->arg, "rolling_back", actor, "rehearsal: recovery "
			    "acknowledged; the fault is taken back");
		}
	}
	cJSON_Delete(in);
	if (tx_commit(&t) < 0) {
		reply_error(r, 500, "internal", "the store failed; nothing was recorded");
		return 0;
	}
	run_wake_hosts(c, q->arg);
	ctl_kick(c);
	(void)pthread_mutex_lock(&c->store->lock);
	d = rehearsal_json(c, q->arg);
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 200, d != NULL ? d : cJSON_CreateObject());
	return 0;
}
