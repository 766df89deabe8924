/*
 * The scheduler (sched.h).  One thread; each round reads the applied playbooks, plans the
 * next start of those with a schedule, and acts on the starts that are due.  The checks
 * before a start (outage.h) are HTTP requests made outside any transaction.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "api.h"
#include "calendar.h"
#include "log.h"
#include "outage.h"
#include "playbook.h"
#include "runs.h"
#include "sched.h"
#include "timeutil.h"

struct entry {
	struct entry *next;
	char name[256], revision[72];
	struct playbook *pb;
	struct calendar *cal;	/* NULL: no schedule, or its zone cannot be read. */
	uint64_t seed;
	int64_t idle_until;	/* Monotonic ms: no start in sight, do not look before this. */
	bool seen;
	bool unplan;		/* No calendar for this revision: drop what was planned. */
};

struct sched {
	struct ctl *c;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kick;
	struct entry *entries;
};

/* What the store says about one playbook's schedule. */
struct plan {
	bool exists;
	char revision[72], run[32];
	int64_t last_start, next_start, next_end;	/* 0: none. */
};

static struct entry *
entry_free(struct entry *e)
{
	if (e == NULL)
		return NULL;
	calendar_free(e->cal);
	playbook_free(e->pb);
	gd_free(e);
	return NULL;
}

/* The stored body of playbook name at revision (gd_free()), or NULL.  No lock taken. */
static char *
body_of(struct ctl *c, const char *name, const char *revision)
{
	sqlite3_stmt *st;
	char *body = NULL;

	if (store_prepare(c->store, "SELECT body FROM playbooks WHERE name = ? AND revision = ?",
	    &st) < 0)
		return NULL;
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, revision, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		body = gd_strdup(col_text(st, 0));
	sqlite3_finalize(st);
	return body;
}

/* Entry e for playbook name at revision rev: parsed, with its calendar. */
static void
entry_load(struct ctl *c, struct entry *e, const char *name, const char *rev)
{
	const char *why;
	struct gd_err err;
	char *body;

	e->cal = calendar_free(e->cal);
	e->pb = playbook_free(e->pb);
	(void)snprintf(e->name, sizeof(e->name), "%s", name);
	(void)snprintf(e->revision, sizeof(e->revision), "%s", rev);
	e->seed = calendar_seed(name);
	e->idle_until = 0;
	if ((body = body_of(c, name, rev)) == NULL)
		return;
	gd_err_init(&err);
	if (playbook_parse(body, strlen(body), &e->pb, &err) == 0 && e->pb->has_schedule &&
	    calendar_new(&e->pb->schedule, &e->cal, &why) < 0)
		log_warnx("scheduler: playbook %s: %s", log_esc(name), why);
	e->unplan = e->pb != NULL && e->cal == NULL;
	gd_free(body);
}

/* The applied playbooks; a body is read and parsed only when its revision is new. */
static void
load_playbooks(struct sched *s)
{
	struct ctl *c = s->c;
	sqlite3_stmt *st;

	for (struct entry *e = s->entries; e != NULL; e = e->next)
		e->seen = false;
	(void)pthread_mutex_lock(&c->store->lock);
	if (store_prepare(c->store, "SELECT name, revision FROM playbook_heads", &st) == 0) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = col_text(st, 0), *rev = col_text(st, 1);
			struct entry *e;

			for (e = s->entries; e != NULL && strcmp(e->name, name) != 0; e = e->next)
				;
			if (e == NULL) {
				if ((e = gd_calloc(1, sizeof(*e))) == NULL)
					continue;
				e->next = s->entries;
				s->entries = e;
			} else if (strcmp(e->revision, rev) == 0) {
				e->seen = true;
				continue;
			}
			e->seen = true;
			entry_load(c, e, name, rev);
		}
		sqlite3_finalize(st);
	}
	(void)pthread_mutex_unlock(&c->store->lock);
	for (struct entry **pe = &s->entries; *pe != NULL;) {
		struct entry *e = *pe;

		if (e->seen) {
			pe = &e->next;
			continue;
		}
		*pe = e->next;
		(void)entry_free(e);
	}
}

static void
read_plan(struct ctl *c, const char *name, struct plan *p)
{
	sqlite3_stmt *st;

	memset(p, 0, sizeof(*p));
	(void)pthread_mutex_lock(&c->store->lock);
	if (store_prepare(c->store, "SELECT revision, coalesce(last_start, 0), "
	    "coalesce(next_start, 0), coalesce(next_end, 0), coalesce(next_run, '') FROM "
	    "schedules WHERE playbook = ?", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			p->exists = true;
			(void)snprintf(p->revision, sizeof(p->revision), "%s", col_text(st, 0));
			p->last_start = sqlite3_column_int64(st, 1);
			p->next_start = sqlite3_column_int64(st, 2);
			p->next_end = sqlite3_column_int64(st, 3);
			(void)snprintf(p->run, sizeof(p->run), "%s", col_text(st, 4));
		}
		sqlite3_finalize(st);
	}
	(void)pthread_mutex_unlock(&c->store->lock);
}

/* Inside a transaction: the playbook's schedule row as p says. */
static void
write_plan(struct tx *t, const char *name, const char *revision, const struct plan *p)
{
	char ls[24], ns[24], ne[24], now[24];

	(void)snprintf(ls, sizeof(ls), "%lld", (long long)p->last_start);
	(void)snprintf(ns, sizeof(ns), "%lld", (long long)p->next_start);
	(void)snprintf(ne, sizeof(ne), "%lld", (long long)p->next_end);
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	if (store_exec(t->c->store, "INSERT INTO schedules (playbook, revision, last_start, "
	    "next_start, next_end, next_run, updated) VALUES (?1, ?2, nullif(?3, '0'), "
	    "nullif(?4, '0'), nullif(?5, '0'), nullif(?6, ''), ?7) ON CONFLICT (playbook) DO "
	    "UPDATE SET revision = ?2, last_start = nullif(?3, '0'), next_start = nullif(?4, "
	    "'0'), next_end = nullif(?5, '0'), next_run = nullif(?6, ''), updated = ?7", 7, name,
	    revision, ls, ns, ne, p->run, now) < 0)
		t->err = -EIO;
}

static const char *
run_state_of(struct ctl *c, const char *id, char buf[32])
{
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (store_prepare(c->store, "SELECT state FROM runs WHERE id = ?", &st) < 0)
		return buf;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		(void)snprintf(buf, 32, "%s", col_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

/* Plans e's next start after after_ms (the row p is updated and written). */
static void
plan_next(struct sched *s, struct entry *e, struct plan *p, int64_t after_ms)
{
	struct cal_window w;
	struct tx t;
	int r;

	r = calendar_next_start(e->cal, after_ms, p->last_start, e->pb->duration_ms, e->seed, &w);
	if (tx_begin(s->c, &t) < 0)
		return;
	(void)snprintf(p->revision, sizeof(p->revision), "%s", e->revision);
	p->run[0] = '\0';
	p->next_start = r == 0 ? w.start_ms : 0;
	p->next_end = r == 0 ? w.end_ms : 0;
	write_plan(&t, e->name, e->revision, p);
	if (tx_commit(&t) == 0)
		p->exists = true;
}

/* A run that is recorded as skipped: created (unless run is given) and aborted at once. */
static void
skip(struct sched *s, struct entry *e, struct plan *p, const char *run, const char *why)
{
	char id[RUN_ID_LEN + 1], reason[1200], state[32];
	struct run_spec spec = { .playbook = e->name, .revision = e->revision, .environment =
	    pb_environment_name(e->pb->environment), .risk = e->pb->risk,
	    .actor = SCHED_ACTOR, .state = "scheduled",
	    .not_before = p->next_start, .deadline = p->next_end };
	struct tx t;

	(void)snprintf(reason, sizeof(reason), "skipped: %s", why);
	spec.reason = reason;
	if (tx_begin(s->c, &t) < 0)
		return;
	if (run != NULL && run[0] != '\0') {
		(void)snprintf(id, sizeof(id), "%s", run);
		if (!run_state_terminal(run_state_of(s->c, id, state)))
			(void)run_transition(&t, id, "aborted", SCHED_ACTOR, reason);
	} else if (run_create(&t, &spec, id) == 0) {
		(void)run_transition(&t, id, "aborted", SCHED_ACTOR, reason);
	}
	/* One attempt per window: the next start is planned after this window's end. */
	p->next_start = 0;
	p->run[0] = '\0';
	write_plan(&t, e->name, e->revision, p);
	if (tx_commit(&t) == 0)
		log_info("scheduler: %s: %s", log_esc(e->name), reason);
}

/* The checks before a start; 0 when it may go, else why it may not. */
static int
checks(struct sched *s, char *why, size_t whylen)
{
	struct ctl *c = s->c;
	double v;
	bool halted;
	int r;

	(void)pthread_mutex_lock(&c->store->lock);
	halted = halt_all_in_force(c, NULL);
	(void)pthread_mutex_unlock(&c->store->lock);
	if (halted) {
		(void)snprintf(why, whylen, "a halt of all runs is in force");
		return -EBUSY;
	}
	if ((r = outage_check(&c->cfg.sched, why, whylen)) < 0)
		return r;
	return budget_check(&c->cfg.sched, &v, why, whylen);
}

/* The start itself: a new run in preflight (or run, approved and waiting, moved there). */
static void
start(struct sched *s, struct entry *e, struct plan *p, const char *run)
{
	char id[RUN_ID_LEN + 1], reason[300], when[GD_TIME_MS_LEN], state[32];
	struct run_spec spec = { .playbook = e->name, .revision = e->revision, .environment =
	    pb_environment_name(e->pb->environment), .risk = e->pb->risk,
	    .actor = SCHED_ACTOR, .state = "preflight",
	    .not_before = p->next_start, .deadline = p->next_end };
	struct tx t;

	gd_format_time_ms(p->next_start, when);
	(void)snprintf(reason, sizeof(reason), "scheduled start at %s", when);
	spec.reason = reason;
	if (tx_begin(s->c, &t) < 0)
		return;
	if (run != NULL && run[0] != '\0') {
		(void)snprintf(id, sizeof(id), "%s", run);
		/* Halted, or halt --all, since the checks: no start (the next round skips it). */
		if (strcmp(run_state_of(s->c, id, state), "scheduled") != 0 ||
		    halt_all_in_force(s->c, NULL)) {
			tx_abort(&t);
			return;
		}
		(void)run_transition(&t, id, "preflight", SCHED_ACTOR, reason);
	} else {
		(void)run_create(&t, &spec, id);
	}
	p->last_start = gd_now_ms();
	p->next_start = 0;
	p->next_end = 0;
	p->run[0] = '\0';
	write_plan(&t, e->name, e->revision, p);
	if (tx_commit(&t) == 0) {
		log_info("scheduler: %s: run %s started (%s)", log_esc(e->name), id, reason);
		ctl_kick(s->c);
	}
}

/*
 * The run of the next start, made ahead of it (approval_lead before): `scheduled`, or
 * `awaiting_approval` when the playbook needs a second person.  People see it coming
 * (`run list`, the "scheduled" notification) and approvers have time to approve it.
 */
static void
create_ahead(struct sched *s, struct entry *e, struct plan *p)
{
	bool approval = e->pb->guardrails.require_approval;
	char id[RUN_ID_LEN + 1], reason[300], when[GD_TIME_MS_LEN];
	struct run_spec spec = { .playbook = e->name, .revision = e->revision, .environment =
	    pb_environment_name(e->pb->environment), .risk = e->pb->risk,
	    .actor = SCHED_ACTOR, .state = approval ?
	    "awaiting_approval" : "scheduled", .not_before = p->next_start, .deadline =
	    p->next_end - (int64_t)e->pb->duration_ms };
	struct tx t;

	gd_format_time_ms(p->next_start, when);
	(void)snprintf(reason, sizeof(reason), "scheduled for %s%s", when, approval ? "; needs a "
	    "second person with the approver role before its window closes" : "");
	spec.reason = reason;
	if (tx_begin(s->c, &t) < 0)
		return;
	if (run_create(&t, &spec, id) == 0) {
		(void)snprintf(p->run, sizeof(p->run), "%s", id);
		write_plan(&t, e->name, e->revision, p);
	}
	if (tx_commit(&t) < 0)
		p->run[0] = '\0';
}

/*
 * A playbook that has no schedule any more (or one that cannot be used): the run made
 * ahead for it would wait for a start that never comes; it ends, and the plan is cleared.
 */
static void
unplan(struct sched *s, struct entry *e)
{
	char state[32], reason[128];
	struct plan p;
	struct tx t;

	read_plan(s->c, e->name, &p);
	if (!p.exists || (p.run[0] == '\0' && p.next_start == 0)) {
		e->unplan = false;
		return;
	}
	(void)snprintf(reason, sizeof(reason), "skipped: %s", e->pb->has_schedule ?
	    "the playbook's schedule cannot be used" : "the playbook no longer has a schedule");
	if (tx_begin(s->c, &t) < 0)
		return;
	if (p.run[0] != '\0' && !run_state_terminal(run_state_of(s->c, p.run, state)))
		(void)run_transition(&t, p.run, "aborted", SCHED_ACTOR, reason);
	p.next_start = p.next_end = 0;
	p.run[0] = '\0';
	write_plan(&t, e->name, e->revision, &p);
	if (tx_commit(&t) == 0) {
		e->unplan = false;
		log_info("scheduler: %s: %s", log_esc(e->name), reason);
	}
}

/* When run's start was due: its planned start, or its approval when that came later. */
static int64_t
start_due_at(struct ctl *c, const char *run, int64_t planned)
{
	sqlite3_stmt *st;
	int64_t approved = 0;

	(void)pthread_mutex_lock(&c->store->lock);
	if (store_prepare(c->store, "SELECT max(time) FROM events WHERE run = ? AND kind = "
	    "'state' AND state = 'scheduled' AND actor != 'scheduler'", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			approved = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	(void)pthread_mutex_unlock(&c->store->lock);
	return approved > planned ? approved : planned;
}

/* One scheduled playbook: plan, create ahead, then at its time start or skip. */
static void
step(struct sched *s, struct entry *e)
{
	const struct sched_config *cfg = &s->c->cfg.sched;
	bool approval = e->pb->guardrails.require_approval;
	int64_t now = gd_now_ms(), deadline;
	char why[1024], state[32] = "";
	struct plan p;

	if (gd_mono_ms() < e->idle_until)
		return;
	read_plan(s->c, e->name, &p);
	if (p.exists && strcmp(p.revision, e->revision) != 0 && p.run[0] != '\0') {
		/* The playbook changed: a run made for the old revision does not start. */
		skip(s, e, &p, p.run, "the playbook was changed before its start");
		read_plan(s->c, e->name, &p);
		p.next_end = 0;		/* That window had no attempt: the new revision may. */
	}
	if (!p.exists || strcmp(p.revision, e->revision) != 0 || p.next_start == 0) {
		int64_t after = now - SCHED_START_GRACE_MS;

		if (p.last_start >= after)
			after = p.last_start;	/* Never the start already made. */
		if (p.next_end > after && p.next_start == 0 && p.exists)
			after = p.next_end;	/* A skipped window gets no second attempt. */
		plan_next(s, e, &p, after);
		if (p.next_start == 0) {
			/* None in the next three years: look again in an hour, not every tick. */
			e->idle_until = gd_mono_ms() + 3600 * 1000;
			return;
		}
	}
	deadline = p.next_end - (int64_t)e->pb->duration_ms;
	if (p.run[0] == '\0') {
		if (now < p.next_start - (int64_t)cfg->approval_lead_ms)
			return;
		if (now > deadline || (!approval && now - p.next_start > SCHED_START_GRACE_MS)) {
			skip(s, e, &p, NULL, "the start was missed (the controller was not running "
			    "at its time); a window missed is never run late");
			return;
		}
		create_ahead(s, e, &p);
		return;		/* The next round acts on it. */
	}
	(void)pthread_mutex_lock(&s->c->store->lock);
	(void)run_state_of(s->c, p.run, state);
	(void)pthread_mutex_unlock(&s->c->store->lock);
	if (strcmp(state, "awaiting_approval") == 0) {
		if (now > deadline)
			skip(s, e, &p, p.run, "not approved before its window closed");
		return;
	}
	if (strcmp(state, "scheduled") != 0) {
		/* Halted, or gone some other way, before its start: nothing to start. */
		skip(s, e, &p, p.run, "the run was stopped before its start");
		return;
	}
	if (now < p.next_start)
		return;
	/*
	 * A start is taken close to its time: the planned one, or the approval's when that
	 * came later (an approval may come late in the window); never once the run could no
	 * longer finish inside it.  Later than that, the controller was not running.
	 */
	if (now - start_due_at(s->c, p.run, p.next_start) > SCHED_START_GRACE_MS ||
	    now > deadline) {
		(void)snprintf(why, sizeof(why), "the start was missed (the controller was not "
		    "running at its time); a window missed is never run late");
		skip(s, e, &p, p.run, why);
		return;
	}
	if (checks(s, why, sizeof(why)) < 0) {
		skip(s, e, &p, p.run, why);
		return;
	}
	start(s, e, &p, p.run);
}

static void *
sched_main(void *arg)
{
	struct sched *s = arg;

	(void)pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec ts;
		uint64_t tick = s->c->cfg.sched.tick_ms;

		if (!s->kick) {
			(void)clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)(tick % 1000) * 1000000L;
			ts.tv_sec += (time_t)(tick / 1000) + ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			(void)pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		s->kick = false;
		if (s->stop)
			break;
		(void)pthread_mutex_unlock(&s->lock);
		load_playbooks(s);
		for (struct entry *e = s->entries; e != NULL; e = e->next)
			if (e->pb != NULL && e->cal != NULL)
				step(s, e);
			else if (e->unplan)
				unplan(s, e);
		(void)pthread_mutex_lock(&s->lock);
	}
	(void)pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* GET /v1/schedules: each scheduled playbook's last start and the next one planned. */
int
api_schedule_list(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "schedules");
	sqlite3_stmt *st;

	(void)pthread_mutex_lock(&c->store->lock);
	if (store_prepare(c->store, "SELECT s.playbook, s.revision, s.last_start, s.next_start, "
	    "s.next_end, s.next_run, s.updated FROM schedules s JOIN playbook_heads h ON "
	    "h.name = s.playbook ORDER BY s.next_start IS NULL, s.next_start, s.playbook",
	    &st) < 0) {
		(void)pthread_mutex_unlock(&c->store->lock);
		cJSON_Delete(root);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();

		(void)cJSON_AddStringToObject(o, "playbook", col_text(st, 0));
		(void)cJSON_AddStringToObject(o, "revision", col_text(st, 1));
		json_add_time_col(o, "last_start", st, 2);
		json_add_time_col(o, "next_start", st, 3);
		json_add_time_col(o, "next_window_end", st, 4);
		json_add_text_col(o, "next_run", st, 5);
		json_add_time_col(o, "updated", st, 6);
		(void)cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&c->store->lock);
	reply_json(r, 200, root);
	return 0;
}

int
sched_start(struct ctl *c)
{
	struct sched *s = gd_calloc(1, sizeof(*s));
	int r;

	if (s == NULL)
		return -ENOMEM;
	s->c = c;
	(void)pthread_mutex_init(&s->lock, NULL);
	(void)pthread_cond_init(&s->cond, NULL);
	if ((r = pthread_create(&s->thread, NULL, sched_main, s)) != 0) {
		(void)pthread_cond_destroy(&s->cond);
		(void)pthread_mutex_destroy(&s->lock);
		gd_free(s);
		return -r;
	}
	c->sched = s;
	return 0;
}

void
sched_stop(struct ctl *c)
{
	struct sched *s = c->sched;
	bool was;

	if (s == NULL)
		return;
	(void)pthread_mutex_lock(&s->lock);
	was = s->stop;
	s->stop = true;
	(void)pthread_cond_signal(&s->cond);
	(void)pthread_mutex_unlock(&s->lock);
	if (!was)
		(void)pthread_join(s->thread, NULL);
}

void
sched_free(struct ctl *c)
{
	struct sched *s = c->sched;

	if (s == NULL)
		return;
	sched_stop(c);
	while (s->entries != NULL) {
		struct entry *e = s->entries;

		s->entries = e->next;
		(void)entry_free(e);
	}
	(void)pthread_cond_destroy(&s->cond);
	(void)pthread_mutex_destroy(&s->lock);
	gd_free(s);
	c->sched = NULL;
}

void
sched_kick(struct ctl *c)
{
	struct sched *s = c->sched;

	if (s == NULL)
		return;
	(void)pthread_mutex_lock(&s->lock);
	s->kick = true;
	(void)pthread_cond_signal(&s->cond);
	(void)pthread_mutex_unlock(&s->lock);
}
