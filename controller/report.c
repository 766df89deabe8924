/*
 * Reports (report.h): a run's report gathered from the store into JSON, and the routes of
 * the run report, the freshness report and the risk report.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "log.h"
#include "parse.h"
#include "playbook.h"
#include "rehearsal.h"
#include "runs.h"
#include "sla.h"
#include "slo.h"
#include "timeline.h"
#include "timeutil.h"

#define DAY_MS	(24LL * 3600 * 1000)

/* A fault of the run, for matching audit rows to it (sorted by host, then index). */
struct rfault {
	const char *host;	/* Borrowed from obj's host. */
	int idx;
	int64_t applied, reverted;	/* Unix ms; 0 when not seen. */
	cJSON *obj;		/* Borrowed: the fault's object in the report. */
};

/* What the sections of one report share. */
struct rinfo {
	struct ctl *c;
	const char *id;
	struct playbook *pb;	/* At the run's revision; NULL when it cannot be read. */
	char state[32];
	int64_t created, started, ended;	/* Unix ms; 0: not (yet). */
	int64_t from, to;	/* The timeline's span: the charts' time axis. */
	size_t series_cap;	/* Points one series keeps. */
	struct rfault *faults;
	size_t nfaults;
};

static int
prepare(struct ctl *c, const char *sql, sqlite3_stmt **st)
{
	return store_prepare(c->store, sql, st);
}

/* Widens the report's time span to include t (0: nothing to include). */
static void
span_add(struct rinfo *ri, int64_t t)
{
	if (t <= 0)
		return;
	if (ri->from == 0 || t < ri->from)
		ri->from = t;
	if (t > ri->to)
		ri->to = t;
}

/* Adds a number, or null when v is not finite (NaN: unknown, infinity: unbounded). */
static void
add_num(cJSON *o, const char *key, double v)
{
	if (isfinite(v))
		(void)cJSON_AddNumberToObject(o, key, v);
	else
		(void)cJSON_AddNullToObject(o, key);
}

/* Adds Unix ms t as "<key>_ms" and as RFC 3339 "<key>", or both null when t is 0. */
static void
add_time_pair(cJSON *o, const char *key, int64_t t)
{
	char k[64];

	(void)snprintf(k, sizeof(k), "%s_ms", key);
	if (t <= 0) {
		(void)cJSON_AddNullToObject(o, key);
		(void)cJSON_AddNullToObject(o, k);
		return;
	}
	json_add_time_ms(o, key, t);
	(void)cJSON_AddNumberToObject(o, k, (double)t);
}

/* The audit's "2026-11-29T10:00:00.123Z" as Unix ms; 0 when it is not such a time. */
static int64_t
audit_time_ms(const char *s)
{
	const char *dot = strchr(s, '.');
	int64_t sec, ms = 0;

	if (rfc3339_parse(s, &sec, NULL) < 0)
		return 0;
	if (dot != NULL)
		for (int i = 1, scale = 100; i <= 3 && dot[i] >= '0' && dot[i] <= '9'; i++,
		    scale /= 10)
			ms += (dot[i] - '0') * scale;
	return sec * 1000 + ms;
}

/* ---- The run ---- */

static cJSON *
run_section(struct rinfo *ri)
{
	cJSON *o = run_json(ri->c, ri->id, false);
	sqlite3_stmt *st;
	int64_t end;

	if (o == NULL)
		return NULL;
	if (prepare(ri->c, "SELECT r.state, r.created, coalesce(r.started, 0), "
	    "coalesce(r.ended, 0), r.risk, p.body FROM runs r LEFT JOIN playbooks p ON "
	    "p.name = r.playbook AND p.revision = r.revision WHERE r.id = ?", &st) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *body = col_text(st, 5);
		struct gd_err err;

		(void)snprintf(ri->state, sizeof(ri->state), "%s", col_text(st, 0));
		ri->created = sqlite3_column_int64(st, 1);
		ri->started = sqlite3_column_int64(st, 2);
		ri->ended = sqlite3_column_int64(st, 3);
		json_add_text_col(o, "risk", st, 4);
		gd_err_init(&err);
		if (body[0] != '\0' && playbook_parse(body, strlen(body), &ri->pb, &err) < 0)
			ri->pb = NULL;
	}
	sqlite3_finalize(st);
	if (ri->pb != NULL) {
		(void)cJSON_AddNumberToObject(o, "tier", ri->pb->tier);
		(void)cJSON_AddStringToObject(o, "owner", ri->pb->owner);
		(void)cJSON_AddStringToObject(o, "description", ri->pb->description);
		if (ri->pb->recovery_plan.url != NULL)
			(void)cJSON_AddStringToObject(o, "recovery_plan",
			    ri->pb->recovery_plan.url);
		else
			(void)cJSON_AddNullToObject(o, "recovery_plan");
	} else {
		(void)cJSON_AddNullToObject(o, "tier");
	}
	end = ri->ended > 0 ? ri->ended : gd_now_ms();
	if (ri->started > 0)
		(void)cJSON_AddNumberToObject(o, "duration_ms", (double)(end - ri->started));
	else
		(void)cJSON_AddNullToObject(o, "duration_ms");
	span_add(ri, ri->started);
	return o;
}

/* ---- The audit rows whose object is the run ---- */

static cJSON *
audit_section(struct rinfo *ri, cJSON *run, bool *ret_complete)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *st;
	int n = 0;

	*ret_complete = true;
	(void)cJSON_AddNullToObject(run, "requested_at");
	(void)cJSON_AddNullToObject(run, "approved_at");
	if (prepare(ri->c, "SELECT seq, time, actor, action, details FROM audit WHERE object = ? "
	    "ORDER BY seq LIMIT ?", &st) < 0)
		return arr;
	(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int(st, 2, REPORT_MAX_AUDIT + 1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *action = col_text(st, 3);
		cJSON *row, *d;

		if (++n > REPORT_MAX_AUDIT) {
			*ret_complete = false;
			break;
		}
		row = cJSON_CreateObject();
		(void)cJSON_AddNumberToObject(row, "seq", sqlite3_column_double(st, 0));
		(void)cJSON_AddStringToObject(row, "time", col_text(st, 1));
		(void)cJSON_AddStringToObject(row, "actor", col_text(st, 2));
		(void)cJSON_AddStringToObject(row, "action", action);
		if ((d = cJSON_Parse(col_text(st, 4))) == NULL)
			d = cJSON_CreateString(col_text(st, 4));	/* A damaged row. */
		(void)cJSON_AddItemToObject(row, "details", d);
		(void)cJSON_AddItemToArray(arr, row);
		/* Who asked and who approved, and when, as the audit log has it. */
		if (strcmp(action, "run.start") == 0 &&
		    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(run, "requested_at")))
			(void)cJSON_ReplaceItemInObjectCaseSensitive(run, "requested_at",
			    cJSON_CreateString(col_text(st, 1)));
		if (strcmp(action, "run.approve") == 0)
			(void)cJSON_ReplaceItemInObjectCaseSensitive(run, "approved_at",
			    cJSON_CreateString(col_text(st, 1)));
	}
	sqlite3_finalize(st);
	return arr;
}

/* ---- Hosts and their faults ---- */

static int
rfault_cmp(const char *host, int idx, const struct rfault *f)
{
	int r = strcmp(host, f->host);

	return r != 0 ? r : (idx > f->idx) - (idx < f->idx);
}

/* The first fault of host (idx < 0) or host's fault idx; NULL when none. */
static struct rfault *
rfault_find(struct rinfo *ri, const char *host, int idx)
{
	size_t lo = 0, hi = ri->nfaults;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rfault_cmp(host, idx < 0 ? -1 : idx, &ri->faults[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ri->nfaults && strcmp(ri->faults[lo].host, host) == 0 &&
	    (idx < 0 || ri->faults[lo].idx == idx))
		return &ri->faults[lo];
	return NULL;
}

/*
 * When each fault was applied and when its revert was verified, from the audit rows of
 * the run: fault.applied opens a window; fault.reverted, fault.gone (the agent's journal no
 * longer holds it) and ssh.rescue (the controller reverted the host over SSH) close it.
 */
static void
fault_windows(struct rinfo *ri, const cJSON *audit)
{
	const cJSON *row;

	cJSON_ArrayForEach(row, audit) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(row, "details");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "host");
		const cJSON *ix = cJSON_GetObjectItemCaseSensitive(d, "index");
		const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row,
		    "action"));
		const char *time = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row,
		    "time"));
		bool rescue = action != NULL && strcmp(action, "ssh.rescue") == 0;
		struct rfault *f;
		int64_t t;

		if (action == NULL || time == NULL || !cJSON_IsString(h) ||
		    (!rescue && (!cJSON_IsNumber(ix) || strncmp(action, "fault.", 6) != 0)))
			continue;
		if ((t = audit_time_ms(time)) <= 0)
			continue;
		if (rescue) {
			/* revert --all: every fault of the host that was on. */
			for (f = rfault_find(ri, h->valuestring, -1); f != NULL &&
			    f < ri->faults + ri->nfaults && strcmp(f->host, h->valuestring) == 0;
			    f++)
				if (f->applied > 0 && f->reverted == 0)
					f->reverted = t;
			continue;
		}
		if ((f = rfault_find(ri, h->valuestring, ix->valueint)) == NULL)
			continue;
		if (strcmp(action, "fault.applied") == 0 && f->applied == 0)
			f->applied = t;
		else if ((strcmp(action, "fault.reverted") == 0 ||
		    strcmp(action, "fault.gone") == 0) && f->applied > 0 && f->reverted == 0)
			f->reverted = t;
	}
	for (size_t i = 0; i < ri->nfaults; i++) {
		struct rfault *f = &ri->faults[i];

		add_time_pair(f->obj, "applied", f->applied);
		add_time_pair(f->obj, "reverted", f->reverted);
		/* Applied and never seen reverted: the window runs to the report's end. */
		(void)cJSON_AddBoolToObject(f->obj, "open", f->applied > 0 && f->reverted == 0);
		span_add(ri, f->applied);
		span_add(ri, f->reverted);
	}
}

/* The "host" of a host object, or "". */
static const char *
host_of(const cJSON *h)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "host"));

	return s != NULL ? s : "";
}

/* The fault events of the run under their hosts: what each agent reported, and when. */
static void
host_events(struct rinfo *ri, cJSON *hosts)
{
	cJSON *host = NULL, *events = NULL, *it;
	sqlite3_stmt *st;

	if (prepare(ri->c, "SELECT time, host, actor, reason FROM events WHERE run = ? AND "
	    "kind = 'fault' AND host IS NOT NULL ORDER BY host, seq LIMIT ?", &st) < 0)
		return;
	(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int(st, 2, REPORT_MAX_EVENTS);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *h = col_text(st, 1);
		cJSON *e;

		if (host == NULL || strcmp(host_of(host), h) != 0) {
			/* Hosts and events are both in host order: walk forward to this one. */
			for (it = host != NULL ? host->next : hosts->child; it != NULL &&
			    strcmp(host_of(it), h) < 0; it = it->next)
				;
			if (it == NULL || strcmp(host_of(it), h) != 0)
				continue;	/* Not a host with faults (never the case). */
			host = it;
			events = cJSON_GetObjectItemCaseSensitive(host, "events");
		}
		e = cJSON_CreateObject();
		add_time_pair(e, "time", sqlite3_column_int64(st, 0));
		(void)cJSON_AddStringToObject(e, "actor", col_text(st, 2));
		json_add_text_col(e, "reason", st, 3);
		(void)cJSON_AddItemToArray(events, e);
	}
	sqlite3_finalize(st);
}

/* run_faults grouped by host, with each fault's window (fault_windows()). */
static cJSON *
hosts_section(struct rinfo *ri, const cJSON *audit)
{
	cJSON *arr = cJSON_CreateArray(), *host, *faults = NULL;
	const char *cur = NULL;		/* The current host's name, in its object. */
	sqlite3_stmt *st;
	int64_t n = 0;

	if (prepare(ri->c, "SELECT count(*) FROM run_faults WHERE run = ?", &st) < 0)
		return arr;
	(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (n <= 0 || (ri->faults = gd_calloc((size_t)n, sizeof(*ri->faults))) == NULL)
		return arr;
	/* BINARY collation: the order strcmp() gives, which rfault_find() relies on. */
	if (prepare(ri->c, "SELECT host, idx, type, state, error, changed FROM run_faults WHERE "
	    "run = ? ORDER BY host, idx", &st) < 0)
		return arr;
	(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
	while (ri->nfaults < (size_t)n && sqlite3_step(st) == SQLITE_ROW) {
		const char *state = col_text(st, 3);
		struct rfault *f = &ri->faults[ri->nfaults];
		cJSON *o;

		if (cur == NULL || strcmp(cur, col_text(st, 0)) != 0) {
			host = cJSON_CreateObject();
			(void)cJSON_AddStringToObject(host, "host", col_text(st, 0));
			faults = cJSON_AddArrayToObject(host, "faults");
			(void)cJSON_AddArrayToObject(host, "events");
			(void)cJSON_AddItemToArray(arr, host);
			cur = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(host, "host"));
		}
		o = cJSON_CreateObject();
		(void)cJSON_AddNumberToObject(o, "index", sqlite3_column_int(st, 1));
		(void)cJSON_AddStringToObject(o, "type", col_text(st, 2));
		(void)cJSON_AddStringToObject(o, "state", state);
		json_add_text_col(o, "error", st, 4);
		/* Verified: the host checked its revert (the kernel, /proc, the disk said so). */
		(void)cJSON_AddBoolToObject(o, "verified", strcmp(state, "reverted") == 0);
		add_time_pair(o, "changed", sqlite3_column_int64(st, 5));
		if (cur == NULL || !cJSON_AddItemToArray(faults, o)) {
			cJSON_Delete(o);	/* Out of memory: the report says less. */
			continue;
		}
		f->host = cur;
		f->idx = sqlite3_column_int(st, 1);
		f->obj = o;
		ri->nfaults++;
	}
	sqlite3_finalize(st);
	fault_windows(ri, audit);
	host_events(ri, arr);
	return arr;
}

/* ---- The run's phases (its state events) and how its rollback began ---- */

static cJSON *
phases_section(struct rinfo *ri, cJSON **ret_rollback)
{
	cJSON *arr = cJSON_CreateArray(), *rb = NULL;
	sqlite3_stmt *st;

	*ret_rollback = NULL;
	if (prepare(ri->c, "SELECT time, state, actor, reason FROM events WHERE run = ? AND "
	    "kind = 'state' ORDER BY seq", &st) < 0)
		return arr;
	(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *p = cJSON_CreateObject();
		const char *state = col_text(st, 1), *actor = col_text(st, 2);
		const char *reason = col_text(st, 3), *kind;

		add_time_pair(p, "time", sqlite3_column_int64(st, 0));
		(void)cJSON_AddStringToObject(p, "state", state);
		(void)cJSON_AddStringToObject(p, "actor", actor);
		(void)cJSON_AddStringToObject(p, "reason", reason);
		(void)cJSON_AddItemToArray(arr, p);
		if (rb != NULL || strcmp(state, "rolling_back") != 0)
			continue;
		/* Why the faults came off: the SLA guard's abort, a halt, or the end. */
		if (strncmp(reason, "halted by ", 10) == 0)
			kind = "halt";
		else if (strcmp(actor, "sla-guard") == 0 || strcmp(ri->state, "aborted") == 0)
			kind = "abort";
		else
			kind = "end";
		rb = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(rb, "kind", kind);
		add_time_pair(rb, "time", sqlite3_column_int64(st, 0));
		(void)cJSON_AddStringToObject(rb, "actor", actor);
		(void)cJSON_AddStringToObject(rb, "reason", reason);
		span_add(ri, sqlite3_column_int64(st, 0));
	}
	sqlite3_finalize(st);
	*ret_rollback = rb;
	return arr;
}

/* ---- Series: probe samples and SLA evaluations, thinned past the report's cap ---- */

/*
 * Appends [time_ms, flag, value|null] rows of st (columns time, flag, value) to arr: every
 * k-th row, and every kb-th row whose flag is 0 (a failed sample, a breach), so that no
 * series keeps more than about twice cap points and failures are never all thinned away.
 */
static void
series_add(sqlite3_stmt *st, int64_t n, int64_t bad, size_t cap, cJSON *o)
{
	int64_t k = n > (int64_t)cap ? (n + (int64_t)cap - 1) / (int64_t)cap : 1;
	int64_t kb = bad > (int64_t)cap ? (bad + (int64_t)cap - 1) / (int64_t)cap : 1;
	cJSON *arr = cJSON_AddArrayToObject(o, "series");
	int64_t i = 0, ib = 0;

	(void)cJSON_AddNumberToObject(o, "series_stride", (double)k);
	while (sqlite3_step(st) == SQLITE_ROW) {
		bool good = sqlite3_column_int(st, 1) != 0, keep = i++ % k == 0;
		cJSON *p;

		if (!good && ib++ % kb == 0)
			keep = true;
		if (!keep)
			continue;
		p = cJSON_CreateArray();
		(void)cJSON_AddItemToArray(p, cJSON_CreateNumber(sqlite3_column_double(st, 0)));
		(void)cJSON_AddItemToArray(p, cJSON_CreateNumber(good ? 1 : 0));
		if (sqlite3_column_type(st, 2) == SQLITE_NULL)
			(void)cJSON_AddItemToArray(p, cJSON_CreateNull());
		else
			(void)cJSON_AddItemToArray(p, cJSON_CreateNumber(sqlite3_column_double(st,
			    2)));
		(void)cJSON_AddItemToArray(arr, p);
	}
}

/*
 * One probe: its samples over the run, and its availability.  Each sample stands for one
 * probe interval, so the period it measured is from the first sample to the last plus one
 * interval, and the downtime is the failed share of that period (slo.h).
 */
static cJSON *
probe_json(struct rinfo *ri, const char *name, const char *type, uint64_t interval_ms,
    double slo_target)
{
	cJSON *o = cJSON_CreateObject(), *b;
	int64_t n = 0, bad = 0, first = 0, last = 0;
	struct slo_budget bud;
	double period, down, avail;
	sqlite3_stmt *st;

	(void)cJSON_AddStringToObject(o, "probe", name);
	(void)cJSON_AddStringToObject(o, "type", type);
	(void)cJSON_AddStringToObject(o, "unit", strcmp(type, "http") == 0 ? "ms" : "");
	(void)cJSON_AddNumberToObject(o, "interval_ms", (double)interval_ms);
	if (prepare(ri->c, "SELECT count(*), coalesce(sum(ok = 0), 0), coalesce(min(time), 0), "
	    "coalesce(max(time), 0) FROM probe_samples WHERE run = ? AND probe = ?", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			n = sqlite3_column_int64(st, 0);
			bad = sqlite3_column_int64(st, 1);
			first = sqlite3_column_int64(st, 2);
			last = sqlite3_column_int64(st, 3);
		}
		sqlite3_finalize(st);
	}
	period = n > 0 ? (double)(last - first) + (double)interval_ms : 0;
	down = slo_downtime_ms((uint64_t)n, (uint64_t)bad, period);
	avail = slo_availability(period, down);
	(void)cJSON_AddNumberToObject(o, "samples", (double)n);
	(void)cJSON_AddNumberToObject(o, "failed", (double)bad);
	add_time_pair(o, "first", first);
	add_time_pair(o, "last", last);
	(void)cJSON_AddNumberToObject(o, "period_ms", period);
	(void)cJSON_AddNumberToObject(o, "downtime_ms", isfinite(down) ? down : 0);
	add_num(o, "availability_percent", avail);
	add_num(o, "nines", slo_nines(avail));	/* null: no sample, or none failed. */
	b = cJSON_AddObjectToObject(o, "budget");
	if (slo_budget(slo_target, SLO_MONTH_MS, isfinite(down) ? down : 0, &bud) == 0) {
		(void)cJSON_AddNumberToObject(b, "target_percent", bud.target_percent);
		(void)cJSON_AddNumberToObject(b, "period_ms", bud.period_ms);
		(void)cJSON_AddNumberToObject(b, "allowed_ms", bud.allowed_ms);
		(void)cJSON_AddNumberToObject(b, "used_ms", bud.used_ms);
		add_num(b, "used_percent", bud.used_percent);
		(void)cJSON_AddNumberToObject(b, "left_ms", bud.left_ms);
	}
	span_add(ri, first);
	span_add(ri, last);
	if (prepare(ri->c, "SELECT time, ok, value FROM probe_samples WHERE run = ? AND probe = "
	    "? ORDER BY time, rowid", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		series_add(st, n, bad, ri->series_cap, o);
		sqlite3_finalize(st);
	}
	return o;
}

static const char *
sla_op_text(enum sla_op op)
{
	static const char *const ops[] = { "<", "<=", ">", ">=" };

	return (size_t)op < sizeof(ops) / sizeof(ops[0]) ? ops[op] : "?";
}

/* One SLA: its expression taken apart, its evaluations, the breaching ones counted. */
static cJSON *
sla_json(struct rinfo *ri, int idx, const char *text)
{
	cJSON *o = cJSON_CreateObject();
	struct sla_expr e;
	int64_t n = 0, bad = 0;
	sqlite3_stmt *st;

	(void)cJSON_AddNumberToObject(o, "index", idx);
	(void)cJSON_AddStringToObject(o, "sla", text);
	if (sla_parse(text, &e, NULL) == 0) {
		(void)cJSON_AddStringToObject(o, "probe", e.probe);
		(void)cJSON_AddStringToObject(o, "stat", sla_stat_name(e.stat));
		(void)cJSON_AddStringToObject(o, "op", sla_op_text(e.op));
		(void)cJSON_AddNumberToObject(o, "threshold", e.threshold);
		(void)cJSON_AddStringToObject(o, "unit", e.stat == SLA_VALUE ? "" :
		    e.stat == SLA_ERROR_RATE || e.stat == SLA_AVAILABILITY ? "%" : "ms");
		(void)cJSON_AddNumberToObject(o, "window_ms", (double)e.window_ms);
	}
	if (prepare(ri->c, "SELECT count(*), coalesce(sum(holds = 0), 0) FROM sla_evals WHERE "
	    "run = ? AND sla = ?", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int(st, 2, idx);
		if (sqlite3_step(st) == SQLITE_ROW) {
			n = sqlite3_column_int64(st, 0);
			bad = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	(void)cJSON_AddNumberToObject(o, "evaluations", (double)n);
	(void)cJSON_AddNumberToObject(o, "breaches", (double)bad);
	if (prepare(ri->c, "SELECT time, holds, value FROM sla_evals WHERE run = ? AND sla = ? "
	    "ORDER BY time, rowid", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int(st, 2, idx);
		series_add(st, n, bad, ri->series_cap, o);
		sqlite3_finalize(st);
	}
	return o;
}

/* Every breaching evaluation (holds = 0), oldest first, up to REPORT_MAX_BREACHES. */
static cJSON *
breaches_section(struct rinfo *ri, cJSON *root)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *st;
	int64_t total = 0;

	if (prepare(ri->c, "SELECT count(*) FROM sla_evals WHERE run = ? AND holds = 0", &st) ==
	    0) {
		(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	(void)cJSON_AddNumberToObject(root, "breaches_total", (double)total);
	if (prepare(ri->c, "SELECT sla, expr, time, phase, value, streak, reason FROM sla_evals "
	    "WHERE run = ? AND holds = 0 ORDER BY time, rowid LIMIT ?", &st) < 0)
		return arr;
	(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int(st, 2, REPORT_MAX_BREACHES);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *b = cJSON_CreateObject();

		(void)cJSON_AddNumberToObject(b, "index", sqlite3_column_int(st, 0));
		(void)cJSON_AddStringToObject(b, "sla", col_text(st, 1));
		add_time_pair(b, "time", sqlite3_column_int64(st, 2));
		(void)cJSON_AddStringToObject(b, "phase", col_text(st, 3));
		json_add_num_col(b, "value", st, 4);
		(void)cJSON_AddNumberToObject(b, "streak", sqlite3_column_int(st, 5));
		json_add_text_col(b, "reason", st, 6);
		(void)cJSON_AddItemToArray(arr, b);
	}
	sqlite3_finalize(st);
	return arr;
}

/*
 * The probes and SLAs of the run's playbook; for a playbook that cannot be read any more,
 * whatever the timeline holds.
 */
static void
steady_sections(struct rinfo *ri, cJSON *root, double slo_target)
{
	cJSON *probes = cJSON_AddArrayToObject(root, "probes");
	cJSON *slas = cJSON_AddArrayToObject(root, "slas");
	const struct playbook *pb = ri->pb;
	size_t nseries = pb != NULL ? pb->nprobes + pb->nslas : GD_MAX_PROBES + GD_MAX_SLAS;
	sqlite3_stmt *st;

	ri->series_cap = REPORT_MAX_POINTS / (nseries > 0 ? nseries : 1);
	if (ri->series_cap < REPORT_MIN_SERIES_POINTS)
		ri->series_cap = REPORT_MIN_SERIES_POINTS;
	if (pb != NULL) {
		for (size_t i = 0; i < pb->nprobes; i++)
			(void)cJSON_AddItemToArray(probes, probe_json(ri, pb->probes[i].name,
			    pb->probes[i].kind == PROBE_HTTP ? "http" : "prometheus",
			    pb->probes[i].interval_ms, slo_target));
		for (size_t i = 0; i < pb->nslas; i++)
			(void)cJSON_AddItemToArray(slas, sla_json(ri, (int)i, pb->slas[i].text));
		return;
	}
	if (prepare(ri->c, "SELECT DISTINCT probe FROM probe_samples WHERE run = ? ORDER BY "
	    "probe LIMIT ?", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int(st, 2, GD_MAX_PROBES);
		while (sqlite3_step(st) == SQLITE_ROW)
			(void)cJSON_AddItemToArray(probes, probe_json(ri, col_text(st, 0),
			    "unknown", 0, slo_target));
		sqlite3_finalize(st);
	}
	if (prepare(ri->c, "SELECT sla, min(expr) FROM sla_evals WHERE run = ? GROUP BY sla "
	    "ORDER BY sla LIMIT ?", &st) == 0) {
		(void)sqlite3_bind_text(st, 1, ri->id, -1, SQLITE_STATIC);
		(void)sqlite3_bind_int(st, 2, GD_MAX_SLAS);
		while (sqlite3_step(st) == SQLITE_ROW)
			(void)cJSON_AddItemToArray(slas, sla_json(ri, sqlite3_column_int(st, 0),
			    col_text(st, 1)));
		sqlite3_finalize(st);
	}
}

cJSON *
report_run_json(struct ctl *c, const char *id, double slo_target)
{
	struct rinfo ri = { .c = c, .id = id };
	cJSON *root, *run, *audit, *rollback, *phases, *sum, *w, *s;
	struct slo_budget month;
	bool complete;

	if ((run = run_section(&ri)) == NULL)
		return NULL;
	root = cJSON_CreateObject();
	(void)cJSON_AddNumberToObject(root, "version", REPORT_VERSION);
	json_add_time_ms(root, "generated", gd_now_ms());
	(void)cJSON_AddItemToObject(root, "run", run);
	s = cJSON_AddObjectToObject(root, "slo");
	(void)cJSON_AddNumberToObject(s, "target_percent", slo_target);
	(void)cJSON_AddNumberToObject(s, "period_days", SLO_MONTH_MS / DAY_MS);
	(void)cJSON_AddNumberToObject(s, "period_ms", SLO_MONTH_MS);
	if (slo_budget(slo_target, SLO_MONTH_MS, 0, &month) == 0)
		(void)cJSON_AddNumberToObject(s, "allowed_ms", month.allowed_ms);
	audit = audit_section(&ri, run, &complete);
	phases = phases_section(&ri, &rollback);
	(void)cJSON_AddItemToObject(root, "phases", phases);
	(void)cJSON_AddItemToObject(root, "rollback", rollback != NULL ? rollback :
	    cJSON_CreateNull());
	(void)cJSON_AddItemToObject(root, "hosts", hosts_section(&ri, audit));
	steady_sections(&ri, root, slo_target);
	(void)cJSON_AddItemToObject(root, "breaches", breaches_section(&ri, root));
	sum = timeline_summary_json(c, id);
	(void)cJSON_AddItemToObject(root, "figures", cJSON_DetachItemFromObjectCaseSensitive(sum,
	    "figures"));
	cJSON_Delete(sum);
	if ((s = rehearsal_json(c, id)) == NULL)
		s = cJSON_CreateNull();
	(void)cJSON_AddItemToObject(root, "rehearsal", s);
	(void)cJSON_AddItemToObject(root, "audit", audit);
	(void)cJSON_AddBoolToObject(root, "audit_complete", complete);
	/*
	 * The time axis of the charts: everything above, to the end (or now, while the run goes
	 * on); none when nothing was measured or injected.
	 */
	if (ri.from > 0)
		span_add(&ri, run_state_terminal(ri.state) ? ri.ended : gd_now_ms());
	w = cJSON_AddObjectToObject(root, "window");
	add_time_pair(w, "from", ri.from);
	add_time_pair(w, "to", ri.to);
	gd_free(ri.faults);
	playbook_free(ri.pb);
	return root;
}

/* ---- Routes ---- */

static const struct {
	const char *name, *type;
} formats[] = {
	{ "json", "application/json" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "html", "text/html; charset=utf-8" },
};

/* GET /v1/runs/{id}/report?format=json|md|html&slo=PERCENT&envelope=json */
int
api_run_report(struct req *q, struct reply *r)
{
	const char *fmt = req_query(q, "format"), *slo = req_query(q, "slo");
	const char *env = req_query(q, "envelope"), *why = NULL;
	double target = SLO_DEFAULT_TARGET;
	size_t f = 0;
	cJSON *rep, *out;
	char *text;

	if (fmt != NULL)
		for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++)
			if (strcmp(fmt, formats[f].name) == 0)
				break;
	if (f == sizeof(formats) / sizeof(formats[0])) {
		reply_error(r, 400, "bad_request", "?format must be json, md or html");
		return 0;
	}
	if (slo != NULL && (parse_decimal(slo, strlen(slo), &target, &why) < 0 ||
	    !(target > 0 && target < 100))) {
		reply_error(r, 400, "bad_request", "?slo must be a monthly availability target in "
		    "percent, above 0 and below 100 (such as 99.9)");
		return 0;
	}
	if (env != NULL && strcmp(env, "json") != 0) {
		reply_error(r, 400, "bad_request", "?envelope can only be json");
		return 0;
	}
	(void)pthread_mutex_lock(&q->c->store->lock);
	rep = report_run_json(q->c, q->arg, target);
	(void)pthread_mutex_unlock(&q->c->store->lock);
	if (rep == NULL) {
		reply_error(r, 404, "not_found", "no run '%s'", log_esc(q->arg));
		return 0;
	}
	if (f == 0) {
		reply_json(r, 200, rep);
		return 0;
	}
	text = f == 1 ? report_markdown(rep) : report_html(rep);
	cJSON_Delete(rep);
	if (env == NULL) {
		reply_text(r, 200, formats[f].type, text);	/* NULL: a 500. */
		return 0;
	}
	/* For clients that take JSON only (the CLI): the document as a string. */
	if (text == NULL) {
		reply_error(r, 500, "internal", "out of memory");
		return 0;
	}
	out = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(out, "run", q->arg);
	(void)cJSON_AddStringToObject(out, "format", formats[f].name);
	(void)cJSON_AddStringToObject(out, "content_type", formats[f].type);
	(void)cJSON_AddStringToObject(out, "body", text);
	gd_free(text);
	reply_json(r, 200, out);
	return 0;
}

/* The environment and tier of a stored playbook body (canonical JSON). */
static void
add_playbook_facts(cJSON *o, const char *body)
{
	cJSON *pb = cJSON_Parse(body);
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(pb, "environment");
	const cJSON *tier = cJSON_GetObjectItemCaseSensitive(pb, "tier");

	(void)cJSON_AddStringToObject(o, "environment", cJSON_IsString(env) ? env->valuestring :
	    "");
	if (cJSON_IsNumber(tier))
		(void)cJSON_AddNumberToObject(o, "tier", tier->valuedouble);
	else
		(void)cJSON_AddNullToObject(o, "tier");
	cJSON_Delete(pb);
}

/*
 * GET /v1/reports/freshness?days=N: every applied playbook with the days since it last
 * passed (its newest run, not a dry run, that ended completed), stale past N days (default
 * 90: "a recovery plan not rehearsed for a quarter no longer works") or never passed.
 * Never passed first, then the oldest pass first: what most needs a Game Day leads.
 */
int
api_report_freshness(struct req *q, struct reply *r)
{
	const char *v = req_query(q, "days");
	struct store *s = q->c->store;
	int64_t now = gd_now_ms(), nstale = 0;
	uint64_t days = REPORT_STALE_DAYS;
	cJSON *root, *arr;
	sqlite3_stmt *st;

	if (v != NULL && parse_uint(v, 1, REPORT_MAX_DAYS, &days, NULL) < 0) {
		reply_error(r, 400, "bad_request", "?days must be a whole number from 1 to %d",
		    REPORT_MAX_DAYS);
		return 0;
	}
	root = cJSON_CreateObject();
	(void)cJSON_AddNumberToObject(root, "days", (double)days);
	json_add_time_ms(root, "generated", now);
	arr = cJSON_AddArrayToObject(root, "playbooks");
	(void)pthread_mutex_lock(&s->lock);
	if (prepare(q->c, "SELECT h.name, p.body, ok.id, ok.ended, l.id, l.state, l.created, "
	    "l.ended FROM playbook_heads h JOIN playbooks p ON p.name = h.name AND p.revision = "
	    "h.revision LEFT JOIN runs ok ON ok.id = (SELECT id FROM runs WHERE playbook = "
	    "h.name AND state = 'completed' AND dry_run = 0 ORDER BY ended DESC, rowid DESC "
	    "LIMIT 1) LEFT JOIN runs l ON l.id = (SELECT id FROM runs WHERE playbook = h.name "
	    "AND dry_run = 0 ORDER BY created DESC, rowid DESC LIMIT 1) ORDER BY ok.ended IS "
	    "NOT NULL, ok.ended, h.name", &st) < 0) {
		(void)pthread_mutex_unlock(&s->lock);
		cJSON_Delete(root);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject(), *l;
		bool never = sqlite3_column_type(st, 3) == SQLITE_NULL, stale;
		int64_t age = now - sqlite3_column_int64(st, 3);

		(void)cJSON_AddStringToObject(o, "name", col_text(st, 0));
		add_playbook_facts(o, col_text(st, 1));
		json_add_text_col(o, "last_passed_run", st, 2);
		json_add_time_col(o, "last_passed", st, 3);
		if (never)
			(void)cJSON_AddNullToObject(o, "days_since");
		else
			(void)cJSON_AddNumberToObject(o, "days_since",
			    (double)((age > 0 ? age : 0) / DAY_MS));
		stale = never || age > (int64_t)days * DAY_MS;
		nstale += stale;
		(void)cJSON_AddBoolToObject(o, "never_passed", never);
		(void)cJSON_AddBoolToObject(o, "stale", stale);
		if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
			(void)cJSON_AddNullToObject(o, "last_run");
		} else {
			l = cJSON_AddObjectToObject(o, "last_run");
			(void)cJSON_AddStringToObject(l, "id", col_text(st, 4));
			(void)cJSON_AddStringToObject(l, "state", col_text(st, 5));
			json_add_time_col(l, "created", st, 6);
			json_add_time_col(l, "ended", st, 7);
		}
		(void)cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&s->lock);
	(void)cJSON_AddNumberToObject(root, "stale", (double)nstale);
	reply_json(r, 200, root);
	return 0;
}

/* High 3, Medium 2, Low 1, anything else 0: the risk matrix's scale as SQL. */
#define RISK_LEVEL(col) "(CASE lower(trim(" col ")) WHEN 'high' THEN 3 WHEN 'medium' THEN 2 " \
	"WHEN 'low' THEN 1 ELSE 0 END)"

/*
 * GET /v1/reports/risks: the risk matrix ordered by likelihood x severity (High/High
 * first), then severity, each with the last Game Day that exercised it (the newest run,
 * not a dry run, that injected: started is set, whose playbook names the risk) and how that
 * run ended; the risks no Game Day ever exercised are flagged.
 */
int
api_report_risks(struct req *q, struct reply *r)
{
	struct store *s = q->c->store;
	int64_t never = 0, total = 0;
	cJSON *root, *arr;
	sqlite3_stmt *st;

	root = cJSON_CreateObject();
	json_add_time_ms(root, "generated", gd_now_ms());
	arr = cJSON_AddArrayToObject(root, "risks");
	(void)pthread_mutex_lock(&s->lock);
	if (prepare(q->c, "SELECT k.id, k.system, k.owner, k.description, k.likelihood, "
	    "k.severity, k.status, k.identified, " RISK_LEVEL("k.likelihood") ", "
	    RISK_LEVEL("k.severity") ", x.id, x.playbook, x.state, x.outcome, x.started, "
	    "x.ended, (SELECT count(*) FROM runs c WHERE c.risk = k.id AND c.dry_run = 0 AND "
	    "c.started IS NOT NULL) FROM risks k LEFT JOIN runs x ON x.id = (SELECT id FROM "
	    "runs WHERE risk = k.id AND dry_run = 0 AND started IS NOT NULL ORDER BY started "
	    "DESC, rowid DESC LIMIT 1) ORDER BY " RISK_LEVEL("k.likelihood") " * "
	    RISK_LEVEL("k.severity") " DESC, " RISK_LEVEL("k.severity") " DESC, "
	    RISK_LEVEL("k.likelihood") " DESC, k.id LIMIT ?", &st) < 0) {
		(void)pthread_mutex_unlock(&s->lock);
		cJSON_Delete(root);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	(void)sqlite3_bind_int(st, 1, GD_MAX_RISK_ROWS);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject(), *l;
		bool untouched = sqlite3_column_type(st, 10) == SQLITE_NULL;

		(void)cJSON_AddStringToObject(o, "id", col_text(st, 0));
		(void)cJSON_AddStringToObject(o, "system", col_text(st, 1));
		(void)cJSON_AddStringToObject(o, "owner", col_text(st, 2));
		(void)cJSON_AddStringToObject(o, "description", col_text(st, 3));
		(void)cJSON_AddStringToObject(o, "likelihood", col_text(st, 4));
		(void)cJSON_AddStringToObject(o, "severity", col_text(st, 5));
		(void)cJSON_AddStringToObject(o, "status", col_text(st, 6));
		(void)cJSON_AddStringToObject(o, "identified", col_text(st, 7));
		(void)cJSON_AddNumberToObject(o, "score", sqlite3_column_int(st, 8) *
		    sqlite3_column_int(st, 9));
		json_add_time_col(o, "last_exercised", st, 14);
		(void)cJSON_AddNumberToObject(o, "runs", sqlite3_column_double(st, 16));
		(void)cJSON_AddBoolToObject(o, "never_exercised", untouched);
		if (untouched) {
			(void)cJSON_AddNullToObject(o, "last_run");
			never++;
		} else {
			l = cJSON_AddObjectToObject(o, "last_run");
			(void)cJSON_AddStringToObject(l, "id", col_text(st, 10));
			(void)cJSON_AddStringToObject(l, "playbook", col_text(st, 11));
			(void)cJSON_AddStringToObject(l, "state", col_text(st, 12));
			json_add_text_col(l, "outcome", st, 13);
			json_add_time_col(l, "started", st, 14);
			json_add_time_col(l, "ended", st, 15);
		}
		(void)cJSON_AddItemToArray(arr, o);
		total++;
	}
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&s->lock);
	(void)cJSON_AddNumberToObject(root, "total", (double)total);
	(void)cJSON_AddNumberToObject(root, "never_exercised", (double)never);
	reply_json(r, 200, root);
	return 0;
}
