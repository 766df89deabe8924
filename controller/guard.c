/*
 * The SLA guard (guard.h): probes, windows, evaluations, and the three decisions it makes
 * (steady state held, steady state failed, abort).
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "guard.h"
#include "log.h"
#include "playbook.h"
#include "probe.h"
#include "rehearsal.h"
#include "runs.h"
#include "sla.h"
#include "timeutil.h"

#define GUARD_KEEP_VALUES	8	/* Breaching values quoted in an abort's reason. */
#define GUARD_MAX_ROWS		1024	/* Timeline rows buffered between two flushes. */

enum decision { DECIDE_NONE, DECIDE_STEADY, DECIDE_PREFLIGHT_FAIL, DECIDE_ABORT };

struct gprobe {
	struct sla_sample *v;		/* Samples newer than keep_ms, oldest first. */
	size_t n, cap;
	uint64_t keep_ms;
	int64_t due;			/* Monotonic ms of the next request. */
	int64_t started;		/* Monotonic ms the request in flight started. */
	bool inflight;
};

struct gsla {
	unsigned streak;		/* Breaching evaluations in a row. */
	bool evaluated;
	double values[GUARD_KEEP_VALUES];	/* The streak's last values (NAN: none). */
	char reason[256];		/* Why the last breach was one beyond its value, or "". */
};

struct watch {
	struct watch *next;
	char run[32], state[32];
	uint64_t gen;			/* In the probes' tags: results of a dropped watch are
					 * recognised and ignored. */
	struct playbook *pb;
	struct gprobe probes[GD_MAX_PROBES];
	struct gsla slas[GD_MAX_SLAS];
	bool seen;			/* Found by the last scan. */
	bool steady;			/* Preflight's steady state has held (or is not needed). */
	int64_t preflight_from;		/* Wall ms: when this guard began to watch preflight. */
	uint64_t window_ms;		/* The longest SLA window. */
	enum decision decision;		/* Taken, or waiting to be committed. */
	bool committed;
	bool rh_breached;		/* A rehearsal: an SLA breached while running. */
	int64_t rh_recovered_at;	/* ... and then all held again (0: not yet). */
	bool rh_written;
	char why[1024];
	cJSON *details;			/* The decision's audit details. */
};

struct row {
	bool is_eval;
	char run[32], phase[32];
	int64_t time;
	char name[GD_MAX_NAME_BYTES + 1];	/* The probe. */
	char expr[160];				/* The SLA, as written (truncated). */
	int sla;
	bool ok;
	bool has_value;
	double value;
	int status;
	size_t samples;
	unsigned streak;
	char text[256];				/* The probe's error, or the reason. */
};

struct guard {
	struct ctl *c;
	pthread_t thread;
	struct prober *pr;
	struct watch *runs;
	uint64_t gen;
	int64_t scanned;
	atomic_bool stop, kick;
	struct row *rows;
	size_t nrows;
};

static struct watch *
watch_free(struct watch *w)
{
	if (w == NULL)
		return NULL;
	for (size_t i = 0; i < GD_MAX_PROBES; i++)
		gd_free(w->probes[i].v);
	playbook_free(w->pb);
	cJSON_Delete(w->details);
	gd_free(w);
	return NULL;
}

static int
load_playbook(struct ctl *c, const char *name, const char *revision, struct playbook **ret)
{
	sqlite3_stmt *st;
	int r = -ENOENT;

	if (sqlite3_prepare_v2(c->store->db, "SELECT body FROM playbooks WHERE name = ? AND "
	    "revision = ?", -1, &st, NULL) != SQLITE_OK)
		return store_fail(c->store, "guard playbook");
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, revision, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *body = col_text(st, 0);
		struct gd_err err;

		gd_err_init(&err);
		r = playbook_parse(body, strlen(body), ret, &err);
	}
	sqlite3_finalize(st);
	return r;
}

/* A new watch for a run: its playbook's probes, each keeping its longest SLA window. */
static struct watch *
watch_new(struct guard *g, const char *run, const char *name, const char *revision)
{
	struct watch *w = gd_calloc(1, sizeof(*w));
	int64_t now = gd_mono_ms();

	if (w == NULL)
		return NULL;
	if (load_playbook(g->c, name, revision, &w->pb) < 0) {
		gd_free(w);
		return NULL;
	}
	(void)snprintf(w->run, sizeof(w->run), "%s", run);
	w->gen = ++g->gen;
	w->preflight_from = gd_now_ms();
	for (size_t i = 0; i < w->pb->nprobes; i++) {
		/* Two intervals at least, so that a probe no SLA reads still has a last value. */
		w->probes[i].keep_ms = 2 * w->pb->probes[i].interval_ms;
		w->probes[i].due = now;
	}
	for (size_t i = 0; i < w->pb->nslas; i++) {
		const struct sla_rule *s = &w->pb->slas[i];

		if (s->expr.window_ms > w->probes[s->probe].keep_ms)
			w->probes[s->probe].keep_ms = s->expr.window_ms;
		if (s->expr.window_ms > w->window_ms)
			w->window_ms = s->expr.window_ms;
	}
	w->steady = w->pb->nslas == 0;
	return w;
}

static struct watch *
find_watch(struct guard *g, const char *run)
{
	for (struct watch *w = g->runs; w != NULL; w = w->next)
		if (strcmp(w->run, run) == 0)
			return w;
	return NULL;
}

/* Re-reads the active runs: new ones get a watch, ended ones lose theirs. */
static void
scan(struct guard *g)
{
	struct ctl *c = g->c;
	sqlite3_stmt *st;

	for (struct watch *w = g->runs; w != NULL; w = w->next)
		w->seen = false;
	(void)pthread_mutex_lock(&c->store->lock);
	if (sqlite3_prepare_v2(c->store->db, "SELECT id, state, playbook, revision, steady_at "
	    "IS NOT NULL OR EXISTS (SELECT 1 FROM run_hosts h WHERE h.run = runs.id) FROM runs "
	    "WHERE state IN ('preflight', 'injecting', 'running', 'rolling_back') AND dry_run "
	    "= 0", -1, &st, NULL) != SQLITE_OK) {
		(void)store_fail(c->store, "guard scan");
		(void)pthread_mutex_unlock(&c->store->lock);
		for (struct watch *w = g->runs; w != NULL; w = w->next)
			w->seen = true;	/* Keep watching what we watch. */
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct watch *w = find_watch(g, col_text(st, 0));

		if (w == NULL) {
			w = watch_new(g, col_text(st, 0), col_text(st, 2), col_text(st, 3));
			if (w == NULL) {
				log_warnx("sla-guard: cannot watch run %s: its playbook cannot be "
				    "read", log_esc(col_text(st, 0)));
				continue;
			}
			w->next = g->runs;
			g->runs = w;
		}
		w->seen = true;
		(void)snprintf(w->state, sizeof(w->state), "%s", col_text(st, 1));
		if (sqlite3_column_int(st, 4) != 0)
			w->steady = true;
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&c->store->lock);
	for (struct watch **pw = &g->runs; *pw != NULL;) {
		struct watch *w = *pw;

		if (w->seen) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		prober_cancel(g->pr, w->gen);
		(void)watch_free(w);
	}
}

static struct row *
new_row(struct guard *g, const struct watch *w, bool is_eval, int64_t now)
{
	struct row *r;

	if (g->nrows == GUARD_MAX_ROWS)
		return NULL;	/* The store is behind: the timeline loses rows, not decisions. */
	r = &g->rows[g->nrows++];
	memset(r, 0, sizeof(*r));
	r->is_eval = is_eval;
	r->time = now;
	(void)snprintf(r->run, sizeof(r->run), "%s", w->run);
	(void)snprintf(r->phase, sizeof(r->phase), "%s", w->state);
	return r;
}

static void
push_sample(struct gprobe *p, const struct sla_sample *s)
{
	size_t drop = 0;

	while (drop < p->n && p->v[drop].t_ms <= s->t_ms - (int64_t)p->keep_ms)
		drop++;
	if (drop > 0) {
		memmove(p->v, p->v + drop, (p->n - drop) * sizeof(*p->v));
		p->n -= drop;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap * 2 + 16;
		void *v = gd_realloc(p->v, cap * sizeof(*p->v));

		if (v == NULL) {
			/* Out of memory: keep the window, lose its oldest sample. */
			if (p->n == 0)
				return;
			memmove(p->v, p->v + 1, (p->n - 1) * sizeof(*p->v));
			p->n--;
		} else {
			p->v = v;
			p->cap = cap;
		}
	}
	p->v[p->n++] = *s;
}

static void
fmt_value(char *buf, size_t len, const struct sla_expr *e, double v)
{
	if (isnan(v))
		(void)snprintf(buf, len, "no value");
	else if (e->stat == SLA_ERROR_RATE || e->stat == SLA_AVAILABILITY)
		(void)snprintf(buf, len, "%.2f%%", v);
	else if (e->stat == SLA_VALUE)
		(void)snprintf(buf, len, "%g", v);
	else
		(void)snprintf(buf, len, "%.0f ms", v);
}

/* The abort: which SLA, its last values, as text and as audit details. */
static void
decide_abort(struct watch *w, size_t k, int64_t now)
{
	const struct sla_rule *s = &w->pb->slas[k];
	const struct gsla *gs = &w->slas[k];
	unsigned n = gs->streak < GUARD_KEEP_VALUES ? gs->streak : GUARD_KEEP_VALUES;
	char vals[256] = "", one[48];
	cJSON *arr;
	size_t off = 0;

	w->details = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(w->details, "sla", s->text);
	(void)cJSON_AddNumberToObject(w->details, "breaches", gs->streak);
	(void)cJSON_AddNumberToObject(w->details, "breaches_to_abort",
	    w->pb->guardrails.breaches_to_abort);
	(void)cJSON_AddNumberToObject(w->details, "time_ms", (double)now);
	arr = cJSON_AddArrayToObject(w->details, "values");
	for (unsigned i = GUARD_KEEP_VALUES - n; i < GUARD_KEEP_VALUES; i++) {
		double v = gs->values[i];

		(void)cJSON_AddItemToArray(arr, isnan(v) ? cJSON_CreateNull() :
		    cJSON_CreateNumber(v));
		fmt_value(one, sizeof(one), &s->expr, v);
		if (off < sizeof(vals))
			off += (size_t)snprintf(vals + off, sizeof(vals) - off, "%s%s",
			    off > 0 ? ", " : "", one);
	}
	(void)snprintf(w->why, sizeof(w->why), "SLA breached %u times in a row: %s (last "
	    "values: %s%s%s)", gs->streak, s->text, vals, gs->reason[0] != '\0' ?
	    "; the probe failed: " : "", gs->reason);
	if (gs->reason[0] != '\0')
		(void)cJSON_AddStringToObject(w->details, "probe_error", gs->reason);
	w->decision = DECIDE_ABORT;
}

/* Evaluates SLA k of w after a new sample of its probe; records it; maybe decides. */
static void
evaluate(struct guard *g, struct watch *w, size_t k, const struct probe_result *res,
    int64_t now)
{
	const struct sla_rule *s = &w->pb->slas[k];
	const struct gprobe *p = &w->probes[s->probe];
	struct gsla *gs = &w->slas[k];
	struct sla_result sr;
	struct row *r;
	bool holds, preflight = strcmp(w->state, "preflight") == 0;
	const char *reason = NULL;

	if (sla_eval(&s->expr, p->v, p->n, now, &sr) < 0)
		return;		/* Out of memory: no verdict either way this time. */
	holds = sr.holds && res->ok;
	if (!res->ok)
		reason = res->error;	/* A probe error is a breach, whatever the window says. */
	else if (!sr.holds && !sr.has_value)
		reason = sr.reason;
	gs->evaluated = true;
	gs->streak = holds ? 0 : gs->streak + 1;
	(void)snprintf(gs->reason, sizeof(gs->reason), "%s", !res->ok ? res->error : "");
	memmove(gs->values, gs->values + 1, (GUARD_KEEP_VALUES - 1) * sizeof(double));
	gs->values[GUARD_KEEP_VALUES - 1] = sr.has_value ? sr.value : NAN;
	if ((r = new_row(g, w, true, now)) != NULL) {
		r->sla = (int)k;
		(void)snprintf(r->expr, sizeof(r->expr), "%s", s->text);
		r->ok = holds;
		r->has_value = sr.has_value;
		r->value = sr.value;
		r->samples = sr.n;
		r->streak = gs->streak;
		(void)snprintf(r->text, sizeof(r->text), "%s", reason != NULL ? reason : "");
	}
	if (w->decision != DECIDE_NONE || holds)
		return;
	if (preflight && !w->steady) {
		char v[48];

		fmt_value(v, sizeof(v), &s->expr, sr.has_value ? sr.value : NAN);
		(void)snprintf(w->why, sizeof(w->why), "steady state does not hold at preflight: "
		    "%s (%s%s%s); nothing was injected", s->text, v, reason != NULL ? ": " : "",
		    reason != NULL ? reason : "");
		w->details = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(w->details, "sla", s->text);
		if (sr.has_value)
			(void)cJSON_AddNumberToObject(w->details, "value", sr.value);
		if (reason != NULL)
			(void)cJSON_AddStringToObject(w->details, "reason", reason);
		w->decision = DECIDE_PREFLIGHT_FAIL;
	} else if ((strcmp(w->state, "injecting") == 0 || strcmp(w->state, "running") == 0) &&
	    gs->streak >= w->pb->guardrails.breaches_to_abort && !w->pb->has_rehearsal) {
		/* A rehearsal's breaches are the exercise: recover_within bounds it instead. */
		decide_abort(w, k, now);
	}
}

/* Preflight: every SLA evaluated, none breached, for one whole window. */
static void
check_steady(struct watch *w, int64_t now)
{
	if (w->steady || w->decision != DECIDE_NONE || strcmp(w->state, "preflight") != 0)
		return;
	if (now - w->preflight_from < (int64_t)w->window_ms)
		return;
	for (size_t k = 0; k < w->pb->nslas; k++)
		if (!w->slas[k].evaluated)
			return;
	(void)snprintf(w->why, sizeof(w->why), "steady state held for %llu ms: %zu SLA%s, "
	    "every evaluation within its limit", (unsigned long long)w->window_ms,
	    w->pb->nslas, w->pb->nslas == 1 ? "" : "s");
	w->details = cJSON_CreateObject();
	(void)cJSON_AddNumberToObject(w->details, "window_ms", (double)w->window_ms);
	w->decision = DECIDE_STEADY;
}

/*
 * A rehearsal: the first moment every SLA holds again after a breach while the faults are
 * in place is the time to recover as the probes see it (rehearsal.h).
 */
static void
check_recovered(struct watch *w, int64_t now)
{
	bool all = w->pb->nslas > 0;

	if (!w->pb->has_rehearsal || strcmp(w->state, "running") != 0 || w->rh_recovered_at != 0)
		return;
	for (size_t k = 0; k < w->pb->nslas; k++) {
		if (w->slas[k].streak > 0)
			w->rh_breached = true;
		if (!w->slas[k].evaluated || w->slas[k].streak > 0)
			all = false;
	}
	if (w->rh_breached && all)
		w->rh_recovered_at = now;
}

static void
on_result(uint64_t tag, const struct probe_result *res, void *arg)
{
	struct guard *g = arg;
	uint64_t gen = tag >> 8;
	size_t idx = (size_t)(tag & 0xff);
	int64_t now = gd_now_ms(), mono = gd_mono_ms();
	struct sla_sample smp;
	struct watch *w;
	struct gprobe *p;
	struct row *r;

	for (w = g->runs; w != NULL && w->gen != gen; w = w->next)
		;
	if (w == NULL || idx >= w->pb->nprobes)
		return;
	p = &w->probes[idx];
	p->inflight = false;
	p->due = p->started + (int64_t)w->pb->probes[idx].interval_ms;
	if (p->due < mono)
		p->due = mono;
	smp.t_ms = now;
	smp.ok = res->ok;
	smp.has_value = res->has_value;
	smp.value = res->value;
	push_sample(p, &smp);
	if ((r = new_row(g, w, false, now)) != NULL) {
		(void)snprintf(r->name, sizeof(r->name), "%s", w->pb->probes[idx].name);
		r->ok = res->ok;
		r->has_value = res->has_value;
		r->value = res->value;
		r->status = res->status;
		(void)snprintf(r->text, sizeof(r->text), "%s", res->ok ? "" : res->error);
	}
	for (size_t k = 0; k < w->pb->nslas; k++)
		if (w->pb->slas[k].probe == idx)
			evaluate(g, w, k, res, now);
	check_steady(w, now);
	check_recovered(w, now);
}

/* Starts every probe that is due; returns the milliseconds until the next one is. */
static int64_t
start_due(struct guard *g)
{
	int64_t now = gd_mono_ms(), next = GUARD_SCAN_MS;

	for (struct watch *w = g->runs; w != NULL; w = w->next)
		for (size_t i = 0; i < w->pb->nprobes; i++) {
			struct gprobe *p = &w->probes[i];

			if (p->inflight)
				continue;
			if (p->due <= now) {
				int r = prober_start(g->pr, &w->pb->probes[i], w->gen << 8 | i);

				p->started = now;
				if (r == -EINVAL) {
					/* A probe that cannot run is a failed sample. */
					struct probe_result res = { .ok = false };

					(void)snprintf(res.error, sizeof(res.error), "the probe "
					    "cannot run (its URL or query is refused)");
					p->inflight = true;
					on_result(w->gen << 8 | i, &res, g);
				} else if (r < 0) {
					p->due = now + 100;	/* Out of memory: retry soon. */
				} else {
					p->inflight = true;
				}
				continue;
			}
			if (p->due - now < next)
				next = p->due - now;
		}
	return next;
}

/* Writes the buffered timeline rows in one light transaction. */
static void
flush(struct guard *g)
{
	struct store *s = g->c->store;
	sqlite3_stmt *ps = NULL, *pe = NULL;

	if (g->nrows == 0 || store_begin_light(s) < 0)
		return;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO probe_samples (run, probe, time, phase, ok, "
	    "value, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1, &ps, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO sla_evals (run, sla, expr, time, phase, holds, "
	    "value, samples, streak, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &pe,
	    NULL) != SQLITE_OK) {
		(void)store_fail(s, "guard timeline");
		goto out;
	}
	for (size_t i = 0; i < g->nrows; i++) {
		const struct row *r = &g->rows[i];
		sqlite3_stmt *st = r->is_eval ? pe : ps;
		int k = 1;

		(void)sqlite3_reset(st);
		(void)sqlite3_bind_text(st, k++, r->run, -1, SQLITE_STATIC);
		if (r->is_eval) {
			(void)sqlite3_bind_int(st, k++, r->sla);
			(void)sqlite3_bind_text(st, k++, r->expr, -1, SQLITE_STATIC);
		} else
			(void)sqlite3_bind_text(st, k++, r->name, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int64(st, k++, r->time);
		(void)sqlite3_bind_text(st, k++, r->phase, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int(st, k++, r->ok);
		if (r->has_value && isfinite(r->value))
			(void)sqlite3_bind_double(st, k++, r->value);
		else
			(void)sqlite3_bind_null(st, k++);
		if (r->is_eval) {
			(void)sqlite3_bind_int64(st, k++, (sqlite3_int64)r->samples);
			(void)sqlite3_bind_int(st, k++, (int)r->streak);
		} else if (r->status > 0)
			(void)sqlite3_bind_int(st, k++, r->status);
		else
			(void)sqlite3_bind_null(st, k++);
		if (r->text[0] != '\0')
			(void)sqlite3_bind_text(st, k++, r->text, -1, SQLITE_STATIC);
		else
			(void)sqlite3_bind_null(st, k++);
		if (sqlite3_step(st) != SQLITE_DONE) {
			(void)store_fail(s, "guard timeline row");
			break;
		}
	}
out:
	sqlite3_finalize(ps);
	sqlite3_finalize(pe);
	(void)store_commit(s);
	g->nrows = 0;
}

/* Commits w's decision: one audited transaction, if the run is still where it was. */
static void
commit_decision(struct guard *g, struct watch *w)
{
	struct ctl *c = g->c;
	char state[32] = "";
	bool has_hosts = false;
	sqlite3_stmt *st;
	struct tx t;

	if (tx_begin(c, &t) < 0)
		return;		/* Tried again after the next round of probes. */
	if (sqlite3_prepare_v2(c->store->db, "SELECT state, EXISTS (SELECT 1 FROM run_hosts h "
	    "WHERE h.run = runs.id) FROM runs WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
		(void)sqlite3_bind_text(st, 1, w->run, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			(void)snprintf(state, sizeof(state), "%s", col_text(st, 0));
			has_hosts = sqlite3_column_int(st, 1) != 0;
		}
		sqlite3_finalize(st);
	}
	switch (w->decision) {
	case DECIDE_STEADY:
		if (strcmp(state, "preflight") != 0)
			break;
		if (store_exec(c->store, "UPDATE runs SET steady_at = CAST((julianday('now') - "
		    "2440587.5) * 86400000 AS INTEGER) WHERE id = ?", 1, w->run) < 0)
			t.err = -EIO;
		(void)run_event(&t, w->run, "note", NULL, GUARD_ACTOR, w->why);
		tx_audit(&t, GUARD_ACTOR, "run.steady_state", w->run, w->details);
		w->details = NULL;
		break;
	case DECIDE_PREFLIGHT_FAIL:
		if (strcmp(state, "preflight") != 0 || has_hosts)
			break;
		(void)run_transition(&t, w->run, "failed", GUARD_ACTOR, w->why);
		tx_audit(&t, GUARD_ACTOR, "run.preflight_failed", w->run, w->details);
		w->details = NULL;
		break;
	case DECIDE_ABORT:
		if (strcmp(state, "injecting") != 0 && strcmp(state, "running") != 0)
			break;
		if (store_exec(c->store, "UPDATE runs SET end_state = 'aborted' WHERE id = ?", 1,
		    w->run) < 0)
			t.err = -EIO;
		(void)run_transition(&t, w->run, "rolling_back", GUARD_ACTOR, w->why);
		tx_audit(&t, GUARD_ACTOR, "run.abort", w->run, w->details);
		w->details = NULL;
		break;
	case DECIDE_NONE:
		break;
	}
	if (tx_commit(&t) < 0)
		return;
	w->committed = true;
	if (w->decision == DECIDE_STEADY)
		w->steady = true;
	if (w->decision == DECIDE_ABORT)
		log_warnx("sla-guard: run %s aborted: %s", w->run, log_esc(w->why));
	else if (w->decision == DECIDE_PREFLIGHT_FAIL)
		log_warnx("sla-guard: run %s failed preflight: %s", w->run, log_esc(w->why));
	if (w->decision == DECIDE_ABORT)
		run_wake_hosts(c, w->run);
	/* A steady state lets the next decision come; the others end the guard's say. */
	if (w->decision == DECIDE_STEADY) {
		w->decision = DECIDE_NONE;
		w->committed = false;
	}
	ctl_kick(c);
}

/* A rehearsal's time to recover from the probes, with an event saying so. */
static void
commit_recovered(struct guard *g, struct watch *w)
{
	char why[200];
	struct tx t;

	if (tx_begin(g->c, &t) < 0)
		return;
	rehearsal_probe_recovered(&t, w->run, w->rh_recovered_at);
	(void)snprintf(why, sizeof(why), "rehearsal: every SLA holds again (time to recover as "
	    "the probes see it)");
	(void)run_event(&t, w->run, "note", NULL, GUARD_ACTOR, why);
	if (tx_commit(&t) == 0)
		w->rh_written = true;
}

static void *
guard_main(void *arg)
{
	struct guard *g = arg;

	while (!atomic_load(&g->stop)) {
		int64_t wait;

		if (atomic_exchange(&g->kick, false) ||
		    gd_mono_ms() - g->scanned >= GUARD_SCAN_MS) {
			g->scanned = gd_mono_ms();
			scan(g);
		}
		wait = start_due(g);
		if (wait > GUARD_SCAN_MS)
			wait = GUARD_SCAN_MS;
		(void)prober_run(g->pr, (int)(wait > 0 ? wait : 0), on_result, g);
		flush(g);
		for (struct watch *w = g->runs; w != NULL; w = w->next) {
			if (w->decision != DECIDE_NONE && !w->committed)
				commit_decision(g, w);
			if (w->rh_recovered_at != 0 && !w->rh_written)
				commit_recovered(g, w);
		}
	}
	return NULL;
}

int
guard_start(struct ctl *c)
{
	struct guard *g = gd_calloc(1, sizeof(*g));
	int r;

	if (g == NULL)
		return -ENOMEM;
	g->c = c;
	atomic_init(&g->stop, false);
	atomic_init(&g->kick, true);
	if ((g->rows = gd_calloc(GUARD_MAX_ROWS, sizeof(*g->rows))) == NULL) {
		gd_free(g);
		return -ENOMEM;
	}
	if ((r = prober_new(&g->pr)) < 0)
		goto fail;
	if ((r = -pthread_create(&g->thread, NULL, guard_main, g)) < 0)
		goto fail;
	c->guard = g;
	return 0;
fail:
	(void)prober_free(g->pr);
	gd_free(g->rows);
	gd_free(g);
	return r;
}

void
guard_stop(struct ctl *c)
{
	struct guard *g = c->guard;

	if (g == NULL || atomic_exchange(&g->stop, true))
		return;
	prober_wakeup(g->pr);
	(void)pthread_join(g->thread, NULL);
}

void
guard_free(struct ctl *c)
{
	struct guard *g = c->guard;

	if (g == NULL)
		return;
	guard_stop(c);
	while (g->runs != NULL) {
		struct watch *w = g->runs;

		g->runs = w->next;
		(void)watch_free(w);
	}
	(void)prober_free(g->pr);
	gd_free(g->rows);
	gd_free(g);
	c->guard = NULL;
}

void
guard_kick(struct ctl *c)
{
	struct guard *g = c->guard;

	if (g == NULL)
		return;
	atomic_store(&g->kick, true);
	prober_wakeup(g->pr);
}
