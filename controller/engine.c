/*
 * The run engine: a thread that, every tick or when kicked, carries each unfinished run
 * one step along its state machine (runs.h) and marks silent agents lost.  Every step is
 * one transaction; the store is the only memory, so a restarted controller picks up each
 * run where the store says it is, and never queues an order twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alloc.h"
#include "api.h"
#include "log.h"
#include "playbook.h"
#include "rehearsal.h"
#include "runs.h"
#include "targets.h"
#include "timeutil.h"

#define ROLLBACK_TIMEOUT_MS	(120 * 1000)	/* Unconfirmed reverts after this: failed. */
#define ENGINE_MIN_GAP_MS	25		/* Between two ticks, however often kicked. */
#define PREFLIGHT_GRACE_MS	60000		/* Steady state unconfirmed past its window. */
#define ACTOR			"scheduler"

/* Shorthand: the SQL below is long enough. */
static int
prepare(struct ctl *c, const char *sql, sqlite3_stmt **st)
{
	return store_prepare(c->store, sql, st);
}

struct run_row {
	char id[32], state[32], end_state[32], playbook[256], revision[72];
	bool dry_run, approved, steady;
	int64_t started, ends, changed;
};

/*
 * Inside the step's transaction: whether the run is still in the state the tick read.  A
 * halt or the SLA guard may have moved it in between; acting on the old state would undo
 * theirs (a preflight handing out injects to a run already rolling back).
 */
static bool
still(struct ctl *c, const struct run_row *run)
{
	sqlite3_stmt *st;
	bool same = false;

	if (prepare(c, "SELECT state FROM runs WHERE id = ?", &st) < 0)
		return false;
	(void)sqlite3_bind_text(st, 1, run->id, -1, SQLITE_STATIC);
	same = sqlite3_step(st) == SQLITE_ROW && strcmp(col_text(st, 0), run->state) == 0;
	sqlite3_finalize(st);
	return same;
}

/* Counts run_faults of a run by state: n[0] all, then one count per listed state. */
static int
count_faults(struct ctl *c, const char *run, const char *const *states, int64_t *n)
{
	sqlite3_stmt *st;

	for (size_t i = 0; states[i] != NULL; i++)
		n[i + 1] = 0;
	n[0] = 0;
	if (prepare(c, "SELECT state, count(*) FROM run_faults WHERE run = ? GROUP BY state",
	    &st) < 0)
		return -EIO;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t k = sqlite3_column_int64(st, 1);

		n[0] += k;
		for (size_t i = 0; states[i] != NULL; i++)
			if (strcmp(col_text(st, 0), states[i]) == 0)
				n[i + 1] += k;
	}
	sqlite3_finalize(st);
	return 0;
}

/* The first error a host reported for the run, for the reason of a rollback. */
static void
first_error(struct ctl *c, const char *run, const char *state, char *buf, size_t len)
{
	sqlite3_stmt *st;

	(void)snprintf(buf, len, "a fault was not applied");
	if (prepare(c, "SELECT host, idx, coalesce(error, state) FROM run_faults WHERE run = ? "
	    "AND state = ? ORDER BY host, idx LIMIT 1", &st) < 0)
		return;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		(void)snprintf(buf, len, "%s, fault %d: %s", col_text(st, 0),
		    sqlite3_column_int(st, 1), col_text(st, 2));
	sqlite3_finalize(st);
}

static bool
tags_match(const struct playbook *pb, const cJSON *tags)
{
	for (size_t i = 0; i < pb->ntags; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(tags, pb->tags[i].key);

		if (!cJSON_IsString(v) || strcmp(v->valuestring, pb->tags[i].value) != 0)
			return false;
	}
	return true;
}

struct fleet {
	struct candidate *v;
	char (*hosts)[256];
	bool *production;	/* The agent is tagged environment=production. */
	size_t n;
};

static void
fleet_free(struct fleet *f)
{
	gd_free(f->v);
	gd_free(f->hosts);
	gd_free(f->production);
}

/* The reachable agents whose tags match, each marked busy when another run holds it. */
static int
matching_hosts(struct ctl *c, const struct playbook *pb, const char *run, struct fleet *f)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int r = 0;

	memset(f, 0, sizeof(*f));
	if (prepare(c, "SELECT a.host, a.tags, EXISTS (SELECT 1 FROM run_hosts h JOIN runs r "
	    "ON r.id = h.run WHERE h.host = a.host AND r.id != ? AND r.state IN ('preflight', "
	    "'injecting', 'running', 'rolling_back')) FROM agents a WHERE a.state = 'ok' ORDER "
	    "BY a.host", &st) < 0)
		return -EIO;
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *tags = cJSON_Parse(col_text(st, 1));
		const cJSON *env = cJSON_GetObjectItemCaseSensitive(tags, "environment");
		bool ok = tags_match(pb, tags), prod = cJSON_IsString(env) &&
		    strcmp(env->valuestring, "production") == 0;

		cJSON_Delete(tags);
		if (!ok)
			continue;
		if (f->n == cap) {
			void *a, *b, *p;

			cap = cap * 2 + 16;
			a = gd_realloc(f->v, cap * sizeof(*f->v));
			if (a != NULL)
				f->v = a;
			b = gd_realloc(f->hosts, cap * sizeof(*f->hosts));
			if (b != NULL)
				f->hosts = b;
			p = gd_realloc(f->production, cap * sizeof(*f->production));
			if (p != NULL)
				f->production = p;
			if (a == NULL || b == NULL || p == NULL) {
				r = -ENOMEM;
				break;
			}
		}
		f->production[f->n] = prod;
		(void)snprintf(f->hosts[f->n], sizeof(f->hosts[0]), "%s", col_text(st, 0));
		f->v[f->n].busy = sqlite3_column_int(st, 2) != 0;
		f->n++;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < f->n; i++)
		f->v[i].host = f->hosts[i];
	return r;
}

/* The playbook of a run, at the revision the run was started (and approved) with. */
static int
load_playbook(struct ctl *c, const struct run_row *run, struct playbook **pb,
    cJSON **faults)
{
	sqlite3_stmt *st;
	int r = -ENOENT;

	if (prepare(c, "SELECT body FROM playbooks WHERE name = ? AND revision = ?", &st) < 0)
		return -EIO;
	(void)sqlite3_bind_text(st, 1, run->playbook, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st, 2, run->revision, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *body = col_text(st, 0);
		struct gd_err err;
		cJSON *doc;

		gd_err_init(&err);
		r = playbook_parse(body, strlen(body), pb, &err);
		doc = r == 0 ? cJSON_Parse(body) : NULL;
		*faults = doc != NULL ? cJSON_DetachItemFromObjectCaseSensitive(doc, "faults") :
		    NULL;
		cJSON_Delete(doc);
		if (r == 0 && *faults == NULL)
			r = -ENOMEM;
	}
	sqlite3_finalize(st);
	return r;
}

/* preflight: choose the targets, queue one order per host and fault. */
static void
preflight(struct ctl *c, const struct run_row *run)
{
	struct playbook *pb = NULL;
	cJSON *faults = NULL, *d, *hosts;
	struct fleet f;
	size_t *pick = NULL, npick = 0;
	uint64_t seed = 0;
	char why[512], now[24], ends[24], exp[24], ttl[24];
	int64_t t0 = gd_now_ms();
	struct tx t;

	if (tx_begin(c, &t) < 0)
		return;
	if (!still(c, run)) {
		tx_abort(&t);
		return;
	}
	if (load_playbook(c, run, &pb, &faults) < 0) {
		(void)run_transition(&t, run->id, "aborted", ACTOR, "the run's playbook revision "
		    "cannot be read");
		goto done;
	}
	/*
	 * The SLA guard (guard.h) says when the steady state has held for a whole window.  No
	 * verdict long after that (the guard cannot run, or the store failed it): fail closed.
	 */
	if (pb->nslas > 0 && !run->dry_run && !run->steady) {
		uint64_t window = 0;

		for (size_t i = 0; i < pb->nslas; i++)
			if (pb->slas[i].expr.window_ms > window)
				window = pb->slas[i].expr.window_ms;
		if (t0 - run->changed <= (int64_t)(window + PREFLIGHT_GRACE_MS)) {
			tx_abort(&t);
			goto out;
		}
		(void)snprintf(why, sizeof(why), "the SLA guard did not confirm the steady state "
		    "within %llu ms of preflight (its window and %d s); nothing was injected",
		    (unsigned long long)(window + PREFLIGHT_GRACE_MS), PREFLIGHT_GRACE_MS / 1000);
		(void)run_transition(&t, run->id, "failed", ACTOR, why);
		goto done;
	}
	if (matching_hosts(c, pb, run->id, &f) < 0) {
		tx_abort(&t);
		goto out;
	}
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = (uint64_t)gd_mono_ms();	/* The choice need not be secret. */
	if (f.n > 0 && (pick = gd_calloc(f.n, sizeof(*pick))) == NULL) {
		fleet_free(&f);
		tx_abort(&t);
		goto out;
	}
	npick = targets_pick(pb, f.v, f.n, seed, pick, why, sizeof(why));
	if (npick == 0) {
		(void)run_transition(&t, run->id, "aborted", ACTOR, why);
		fleet_free(&f);
		goto done;
	}
	/*
	 * Authorization looks at the targets, not only the playbook: a playbook that says
	 * staging but whose tags reach hosts tagged environment=production needs the same
	 * second person as a production playbook.
	 */
	for (size_t i = 0; i < npick && !run->dry_run && !run->approved; i++)
		if (f.production[pick[i]]) {
			(void)snprintf(why, sizeof(why), "target %s is tagged environment="
			    "production: the run waits for a second person with the approver "
			    "role", f.hosts[pick[i]]);
			/*
			 * The approval may come hours later: the steady state is checked again.
			 * Its start has come (a scheduled run's too): approved, it goes to
			 * preflight, not back to `scheduled`, which nothing would start.
			 */
			if (store_exec(c->store, "UPDATE runs SET steady_at = NULL, not_before = "
			    "NULL WHERE id = ?", 1, run->id) < 0)
				t.err = -EIO;
			(void)run_transition(&t, run->id, "awaiting_approval", ACTOR, why);
			fleet_free(&f);
			goto done;
		}
	(void)snprintf(now, sizeof(now), "%lld", (long long)t0);
	(void)snprintf(ends, sizeof(ends), "%lld", (long long)(t0 + (int64_t)pb->duration_ms));
	(void)snprintf(exp, sizeof(exp), "%lld", (long long)(t0 + CTL_INJECT_TIMEOUT_MS));
	(void)snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)(pb->duration_ms +
	    CTL_ORDER_GRACE_MS));
	hosts = cJSON_CreateArray();
	for (size_t i = 0; i < npick && t.err == 0; i++) {
		const char *h = f.hosts[pick[i]];

		(void)cJSON_AddItemToArray(hosts, cJSON_CreateString(h));
		if (store_exec(c->store, "INSERT INTO run_hosts (run, host) VALUES (?, ?)", 2,
		    run->id, h) < 0)
			t.err = -EIO;
		for (size_t k = 0; k < pb->nfaults && t.err == 0; k++) {
			char oid[24], sidx[24], *text;

			new_id("o-", oid, sizeof(oid));
			(void)snprintf(sidx, sizeof(sidx), "%zu", k);
			text = cJSON_PrintUnformatted(cJSON_GetArrayItem(faults, (int)k));
			if (text == NULL ||
			    store_exec(c->store, "INSERT INTO run_faults (run, host, idx, type, "
			    "state) VALUES (?, ?, ?, ?, 'pending')", 4, run->id, h, sidx,
			    fault_type_name(pb->faults[k].type)) < 0 ||
			    store_exec(c->store, "INSERT INTO orders (id, run, host, idx, action, "
			    "fault, ttl_ms, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", 9,
			    oid, run->id, h, sidx, run->dry_run ? "dry_run" : "inject", text, ttl,
			    now, exp) < 0)
				t.err = -EIO;
			gd_free(text);
		}
	}
	d = cJSON_CreateObject();
	(void)cJSON_AddItemToObject(d, "hosts", hosts);
	(void)cJSON_AddNumberToObject(d, "matching", (double)f.n);
	(void)cJSON_AddNumberToObject(d, "cap", (double)targets_cap(pb, f.n));
	tx_audit(&t, ACTOR, "run.targets", run->id, d);
	if (!run->dry_run) {
		if (store_exec(c->store, "UPDATE runs SET started = ?, ends = ? WHERE id = ?", 3,
		    now, ends, run->id) < 0)
			t.err = -EIO;
		(void)snprintf(why, sizeof(why), "%zu of %zu matching hosts chosen; injecting",
		    npick, f.n);
		(void)run_transition(&t, run->id, "injecting", ACTOR, why);
	} else {
		(void)snprintf(why, sizeof(why), "dry run: asking %zu hosts for their plans",
		    npick);
		(void)run_event(&t, run->id, "note", NULL, ACTOR, why);
	}
	if (tx_commit(&t) == 0)
		for (size_t i = 0; i < npick; i++) {
			char key[300];

			(void)snprintf(key, sizeof(key), "host:%s", f.hosts[pick[i]]);
			ctl_wake(c, key);
		}
	fleet_free(&f);
	goto out;
done:
	(void)tx_commit(&t);
out:
	gd_free(pick);
	cJSON_Delete(faults);
	playbook_free(pb);
}

/* Orders that nobody picked up in time: their faults were never applied. */
static void
expire_orders(struct ctl *c, struct tx *t, const char *run)
{
	char now[24];

	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	if (store_exec(c->store, "UPDATE run_faults SET state = 'inject_failed', error = "
	    "'the host did not pick up its order in time' WHERE run = ?1 AND state = 'pending' "
	    "AND EXISTS (SELECT 1 FROM orders o WHERE o.run = ?1 AND o.host = run_faults.host "
	    "AND o.idx = run_faults.idx AND o.state = 'pending' AND o.expires <= ?2)", 2, run,
	    now) < 0 ||
	    store_exec(c->store, "UPDATE orders SET state = 'expired' WHERE run = ? AND state = "
	    "'pending' AND expires <= ?", 2, run, now) < 0)
		t->err = -EIO;
}

static void
step(struct ctl *c, const struct run_row *run)
{
	static const char *const states[] = { "pending", "applied", "inject_failed",
	    "reverting", "revert_failed", "planned", "revert_unconfirmed", NULL };
	enum { ALL, PENDING, APPLIED, INJECT_FAILED, REVERTING, REVERT_FAILED, PLANNED,
	    UNCONFIRMED };
	int64_t n[8], now = gd_now_ms();
	char why[600];
	struct tx t;

	if (strcmp(run->state, "preflight") == 0) {
		bool has_hosts;
		sqlite3_stmt *st;

		(void)pthread_mutex_lock(&c->store->lock);
		has_hosts = prepare(c, "SELECT 1 FROM run_hosts WHERE run = ?", &st) == 0 &&
		    sqlite3_bind_text(st, 1, run->id, -1, SQLITE_STATIC) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		(void)pthread_mutex_unlock(&c->store->lock);
		if (!has_hosts) {
			preflight(c, run);
			return;
		}
		if (!run->dry_run)
			return;
	}
	if (tx_begin(c, &t) < 0)
		return;
	if (!still(c, run)) {
		tx_abort(&t);
		return;
	}
	/* Only an injecting run (or a dry run's preflight) has orders that can expire. */
	if (strcmp(run->state, "injecting") == 0 || strcmp(run->state, "preflight") == 0)
		expire_orders(c, &t, run->id);
	if (count_faults(c, run->id, states, n) < 0) {
		tx_abort(&t);
		return;
	}
	if (strcmp(run->state, "preflight") == 0) {
		/* A dry run: done when every host has answered with its plan. */
		if (n[PENDING] == 0) {
			(void)snprintf(why, sizeof(why), "dry run: %lld plans, %lld refused; nothing "
			    "was injected", (long long)n[PLANNED], (long long)n[INJECT_FAILED]);
			(void)run_transition(&t, run->id, n[INJECT_FAILED] > 0 ? "aborted" :
			    "completed", ACTOR, why);
		}
	} else if (strcmp(run->state, "injecting") == 0) {
		if (n[INJECT_FAILED] > 0) {
			first_error(c, run->id, "inject_failed", why, sizeof(why));
			(void)store_exec(c->store, "UPDATE runs SET end_state = coalesce(end_state, "
			    "'aborted') WHERE id = ?", 1, run->id);
			(void)run_transition(&t, run->id, "rolling_back", ACTOR, why);
		} else if (n[APPLIED] == n[ALL] && n[ALL] > 0) {
			struct playbook *pb = NULL;
			cJSON *faults = NULL;

			(void)snprintf(why, sizeof(why), "%lld faults applied and verified",
			    (long long)n[ALL]);
			(void)run_transition(&t, run->id, "running", ACTOR, why);
			/* A rehearsal begins when the faults are in place: the oncall is paged. */
			if (load_playbook(c, run, &pb, &faults) == 0)
				rehearsal_begin(&t, run->id, pb);
			cJSON_Delete(faults);
			playbook_free(pb);
		} else if (n[PENDING] + n[APPLIED] < n[ALL]) {
			/* Applied, then gone from its host's journal before the run ran. */
			(void)store_exec(c->store, "UPDATE runs SET end_state = coalesce(end_state, "
			    "'aborted') WHERE id = ?", 1, run->id);
			(void)run_transition(&t, run->id, "rolling_back", ACTOR, "a fault was "
			    "reverted on its host while the run was injecting (TTL, lease or "
			    "operator)");
		}
	} else if (strcmp(run->state, "running") == 0) {
		if (rehearsal_check_missed(&t, run->id, now)) {
			;	/* Past recover_within: rolling back, the rehearsal missed. */
		} else if (now >= run->ends) {
			(void)store_exec(c->store, "UPDATE runs SET end_state = coalesce(end_state, "
			    "'completed') WHERE id = ?", 1, run->id);
			(void)run_transition(&t, run->id, "rolling_back", ACTOR, "the run's "
			    "duration is over");
		} else if (n[APPLIED] < n[ALL]) {
			(void)store_exec(c->store, "UPDATE runs SET end_state = coalesce(end_state, "
			    "'aborted') WHERE id = ?", 1, run->id);
			(void)run_transition(&t, run->id, "rolling_back", ACTOR, "a fault was "
			    "reverted on its host before the run's end (TTL, lease or operator)");
		}
	} else if (strcmp(run->state, "rolling_back") == 0) {
		if (n[PENDING] + n[APPLIED] + n[REVERTING] == 0) {
			const char *end = run->end_state[0] != '\0' ? run->end_state : "aborted";

			if (n[REVERT_FAILED] + n[UNCONFIRMED] > 0) {
				first_error(c, run->id, n[REVERT_FAILED] > 0 ? "revert_failed" :
				    "revert_unconfirmed", why, sizeof(why));
				(void)run_transition(&t, run->id, "failed", ACTOR, why);
			} else {
				(void)run_transition(&t, run->id, end, ACTOR, "every fault reverted "
				    "and verified on its host");
			}
		} else if (now - run->changed > ROLLBACK_TIMEOUT_MS) {
			/* The hosts' own TTLs and leases still revert; we cannot say they did. */
			(void)store_exec(c->store, "UPDATE run_faults SET state = "
			    "'revert_unconfirmed', error = 'no verified revert from the host within "
			    "120 s' WHERE run = ? AND state IN ('pending', 'applied', 'reverting')", 1,
			    run->id);
		}
	}
	(void)tx_commit(&t);
}

static void
mark_lost(struct ctl *c)
{
	char hosts[32][256];
	size_t n = 0;
	int64_t now = gd_now_ms();
	sqlite3_stmt *st;
	struct tx t;

	if (tx_begin(c, &t) < 0)
		return;
	if (prepare(c, "SELECT host FROM agents WHERE state = 'ok' AND via = 'poll' AND "
	    "last_seen + lease_ms + ? < ? LIMIT 32", &st) == 0) {
		(void)sqlite3_bind_int64(st, 1, CTL_LOST_GRACE_MS);
		(void)sqlite3_bind_int64(st, 2, now);
		while (sqlite3_step(st) == SQLITE_ROW && n < 32)
			(void)snprintf(hosts[n++], sizeof(hosts[0]), "%s", col_text(st, 0));
		sqlite3_finalize(st);
	}
	for (size_t i = 0; i < n; i++) {
		if (store_exec(c->store, "UPDATE agents SET state = 'lost' WHERE host = ?", 1,
		    hosts[i]) < 0)
			t.err = -EIO;
		tx_audit(&t, ACTOR, "agent.lost", hosts[i], NULL);
		log_warnx("agent %s lost: no poll for longer than its lease", log_esc(hosts[i]));
	}
	if (n == 0)
		tx_abort(&t);
	else
		(void)tx_commit(&t);
}

void
engine_tick(struct ctl *c)
{
	struct run_row *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;

	http_expire_waiters(c);
	/* A scan of every agent: once a second is plenty for a lease of seconds. */
	if (gd_mono_ms() - c->lost_checked >= 1000) {
		c->lost_checked = gd_mono_ms();
		mark_lost(c);
	}
	(void)pthread_mutex_lock(&c->store->lock);
	if (prepare(c, "SELECT id, state, coalesce(end_state, ''), playbook, revision, dry_run, "
	    "coalesce(started, 0), coalesce(ends, 0), (SELECT max(time) FROM events e WHERE "
	    "e.run = runs.id AND e.kind = 'state'), approved_by IS NOT NULL, steady_at IS NOT NULL "
	    "FROM runs WHERE "
	    "state IN ('preflight', "
	    "'injecting', 'running', 'rolling_back')", &st) == 0) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct run_row *row;

			if (n == cap) {
				void *p = gd_realloc(v, (cap = cap * 2 + 8) * sizeof(*v));

				if (p == NULL)
					break;
				v = p;
			}
			row = &v[n++];
			(void)snprintf(row->id, sizeof(row->id), "%s", col_text(st, 0));
			(void)snprintf(row->state, sizeof(row->state), "%s", col_text(st, 1));
			(void)snprintf(row->end_state, sizeof(row->end_state), "%s",
			    col_text(st, 2));
			(void)snprintf(row->playbook, sizeof(row->playbook), "%s",
			    col_text(st, 3));
			(void)snprintf(row->revision, sizeof(row->revision), "%s",
			    col_text(st, 4));
			row->dry_run = sqlite3_column_int(st, 5) != 0;
			row->started = sqlite3_column_int64(st, 6);
			row->ends = sqlite3_column_int64(st, 7);
			row->changed = sqlite3_column_int64(st, 8);
			row->approved = sqlite3_column_int(st, 9) != 0;
			row->steady = sqlite3_column_int(st, 10) != 0;
		}
		sqlite3_finalize(st);
	}
	(void)pthread_mutex_unlock(&c->store->lock);
	for (size_t i = 0; i < n; i++)
		step(c, &v[i]);
	gd_free(v);
}

static void *
engine_main(void *arg)
{
	struct ctl *c = arg;

	(void)pthread_mutex_lock(&c->wlock);
	while (!c->stopping) {
		struct timespec ts;

		if (!c->kick) {
			(void)clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)(c->cfg.tick_ms % 1000) * 1000000L;
			ts.tv_sec += (time_t)(c->cfg.tick_ms / 1000) + ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			(void)pthread_cond_timedwait(&c->wake, &c->wlock, &ts);
		}
		c->kick = false;
		if (c->stopping)
			break;
		(void)pthread_mutex_unlock(&c->wlock);
		engine_tick(c);
		/*
		 * Kicks come with every report: coalesce them, so that a thousand reports make
		 * a few ticks, and the HTTP thread gets the store between them.
		 */
		{
			const struct timespec gap = { 0, ENGINE_MIN_GAP_MS * 1000000L };

			(void)nanosleep(&gap, NULL);
		}
		(void)pthread_mutex_lock(&c->wlock);
	}
	(void)pthread_mutex_unlock(&c->wlock);
	return NULL;
}

void
ctl_kick(struct ctl *c)
{
	(void)pthread_mutex_lock(&c->wlock);
	c->kick = true;
	(void)pthread_cond_signal(&c->wake);
	(void)pthread_mutex_unlock(&c->wlock);
}

int
engine_start(struct ctl *c)
{
	int r = pthread_create(&c->engine, NULL, engine_main, c);

	if (r != 0)
		return -r;
	c->engine_started = true;
	return 0;
}

void
engine_stop(struct ctl *c)
{
	if (!c->engine_started)
		return;
	(void)pthread_mutex_lock(&c->wlock);
	c->stopping = true;
	(void)pthread_cond_signal(&c->wake);
	(void)pthread_mutex_unlock(&c->wlock);
	(void)pthread_join(c->engine, NULL);
	c->engine_started = false;
}
