/*
 * GET /metrics: Prometheus text exposition (version 0.0.4).  Names follow Prometheus'
 * conventions: a gameday_ prefix, _total for counters, base units; label values escaped.
 * Everything is read from the store in one pass under its lock, so a scrape sees one
 * consistent moment; probe and SLA series exist only for runs that are active.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "strbuf.h"

/* A label value as the exposition format wants it: \, " and newline escaped. */
static void
add_label(struct strbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			strbuf_addf(b, "\\%c", *v);
		else if (*v == '\n')
			strbuf_addf(b, "\\n");
		else
			strbuf_addf(b, "%c", *v);
	}
}

static void
header(struct strbuf *b, const char *name, const char *type, const char *help)
{
	strbuf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * One query as metric lines: its first nlabels columns are the labels named in labels[],
 * the next one the value.
 */
static void
rows(struct store *s, struct strbuf *b, const char *name, const char *const *labels,
    size_t nlabels, const char *sql)
{
	sqlite3_stmt *st;

	if (store_prepare(s, sql, &st) < 0)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		double v = sqlite3_column_double(st, (int)nlabels);

		strbuf_addf(b, "%s", name);
		for (size_t i = 0; i < nlabels; i++) {
			strbuf_addf(b, "%s%s=\"", i == 0 ? "{" : ",", labels[i]);
			add_label(b, col_text(st, (int)i));
			strbuf_addf(b, "\"%s", i + 1 == nlabels ? "}" : "");
		}
		if (sqlite3_column_type(st, (int)nlabels) == SQLITE_NULL || !isfinite(v))
			strbuf_addf(b, " NaN\n");
		else
			strbuf_addf(b, " %.17g\n", v);
	}
	sqlite3_finalize(st);
}

static void
store_metrics(struct store *s, struct strbuf *b)
{
	static const char *const state[] = { "state" };
	static const char *const reason[] = { "reason" };
	static const char *const result[] = { "result" };
	static const char *const probe[] = { "run", "playbook", "probe" };
	static const char *const sla[] = { "run", "playbook", "sla" };
	static const char *const log_[] = { "log" };

	header(b, "gameday_runs", "gauge", "Runs by state.");
	rows(s, b, "gameday_runs", state, 1, "SELECT state, count(*) FROM runs GROUP BY state");
	header(b, "gameday_run_aborts_total", "counter", "Runs that did not end as planned, by "
	    "reason: sla (the SLA guard), halt, skipped (a scheduled start), rehearsal_missed, "
	    "preflight (steady state), other.");
	rows(s, b, "gameday_run_aborts_total", reason, 1, "SELECT reason, count(*) FROM (SELECT "
	    "CASE WHEN r.state = 'halted' THEN 'halt' WHEN r.outcome LIKE 'skipped:%' THEN "
	    "'skipped' WHEN EXISTS (SELECT 1 FROM events e WHERE e.run = r.id AND e.actor = "
	    "'sla-guard' AND e.kind = 'state') AND r.state = 'aborted' THEN 'sla' WHEN "
	    "r.state = 'failed' AND EXISTS (SELECT 1 FROM events e WHERE e.run = r.id AND "
	    "e.actor = 'sla-guard' AND e.state = 'failed') THEN 'preflight' WHEN EXISTS (SELECT "
	    "1 FROM rehearsals h WHERE h.run = r.id AND h.missed = 1) THEN 'rehearsal_missed' "
	    "ELSE 'other' END AS reason FROM runs r WHERE r.state IN ('aborted', 'halted', "
	    "'failed')) GROUP BY reason");
	header(b, "gameday_agents", "gauge", "Agents by state (ok: polling or reached by SSH; "
	    "lost: silent past its lease).");
	rows(s, b, "gameday_agents", state, 1, "SELECT state, count(*) FROM agents GROUP BY "
	    "state");
	header(b, "gameday_faults_active", "gauge", "Faults applied on hosts, their revert not "
	    "yet verified.");
	rows(s, b, "gameday_faults_active", NULL, 0, "SELECT count(*) FROM run_faults WHERE "
	    "state IN ('applied', 'reverting')");
	header(b, "gameday_probe_value", "gauge", "The last sample of each probe of an active "
	    "run, in the probe's unit: latency in milliseconds (http, as SLA expressions write "
	    "it) or the query's value (prometheus); NaN when it failed.");
	rows(s, b, "gameday_probe_value", probe, 3, "SELECT p.run, r.playbook, p.probe, CASE "
	    "WHEN p.ok THEN p.value END FROM probe_samples p JOIN runs r ON r.id = p.run WHERE "
	    "r.state IN ('preflight', 'injecting', 'running', 'rolling_back') AND p.rowid = "
	    "(SELECT max(rowid) FROM probe_samples q WHERE q.run = p.run AND q.probe = p.probe)");
	header(b, "gameday_sla_holds", "gauge", "1 when the last evaluation of each SLA of an "
	    "active run held, else 0.");
	rows(s, b, "gameday_sla_holds", sla, 3, "SELECT e.run, r.playbook, e.expr, e.holds FROM "
	    "sla_evals e JOIN runs r ON r.id = e.run WHERE r.state IN ('preflight', "
	    "'injecting', 'running', 'rolling_back') AND e.rowid = (SELECT max(rowid) FROM "
	    "sla_evals q WHERE q.run = e.run AND q.sla = e.sla)");
	header(b, "gameday_sla_evaluations_total", "counter", "SLA evaluations, by result.");
	rows(s, b, "gameday_sla_evaluations_total", result, 1, "SELECT CASE WHEN holds THEN "
	    "'holds' ELSE 'breach' END, count(*) FROM sla_evals GROUP BY holds");
	header(b, "gameday_audit_rows", "gauge", "Rows in the audit log.");
	rows(s, b, "gameday_audit_rows", log_, 1, "SELECT 'main', count(*) FROM audit");
}

int
api_metrics(struct req *q, struct reply *r)
{
	struct ctl *c = q->c;
	struct strbuf b = { .max = 4 << 20 };
	uint64_t requests, answered, delivered;
	size_t waiting;
	char *text;

	(void)pthread_mutex_lock(&c->wlock);
	requests = c->requests;
	answered = c->polls_answered;
	delivered = c->orders_delivered;
	waiting = c->nwaiters;
	(void)pthread_mutex_unlock(&c->wlock);
	(void)pthread_mutex_lock(&c->store->lock);
	store_metrics(c->store, &b);
	(void)pthread_mutex_unlock(&c->store->lock);
	header(&b, "gameday_http_requests_total", "counter", "Requests received.");
	strbuf_addf(&b, "gameday_http_requests_total %llu\n", (unsigned long long)requests);
	header(&b, "gameday_polls_waiting", "gauge", "Agent and watch long-polls held open.");
	strbuf_addf(&b, "gameday_polls_waiting %zu\n", waiting);
	header(&b, "gameday_polls_answered_total", "counter", "Agent polls answered.");
	strbuf_addf(&b, "gameday_polls_answered_total %llu\n", (unsigned long long)answered);
	header(&b, "gameday_orders_delivered_total", "counter", "Orders handed to agents.");
	strbuf_addf(&b, "gameday_orders_delivered_total %llu\n", (unsigned long long)delivered);
	if (strbuf_finish(&b, &text) < 0) {
		reply_error(r, 500, "internal", "out of memory");
		return 0;
	}
	reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text);
	return 0;
}
