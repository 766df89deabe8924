/*
 * The API's routes (docs/api.md): one table maps method and path to the lowest role or the
 * kind of token a route needs, and to its handler.  Handlers fill a reply, or return
 * HTTP_SUSPEND to be called again when woken (long-polls).
 */
#ifndef GD_API_H
#define GD_API_H

#include "http.h"

/* Authenticates, authorizes and runs the route of q. */
int api_dispatch(struct req *q, struct reply *r);

/* Handlers, by file.  api.c: */
int api_healthz(struct req *q, struct reply *r);
int api_metrics(struct req *q, struct reply *r);
int api_playbook_apply(struct req *q, struct reply *r);
int api_playbook_list(struct req *q, struct reply *r);
int api_playbook_get(struct req *q, struct reply *r);
int api_audit_list(struct req *q, struct reply *r);
int api_audit_verify(struct req *q, struct reply *r);
/* runs.c: */
int api_run_start(struct req *q, struct reply *r);
int api_run_list(struct req *q, struct reply *r);
int api_run_get(struct req *q, struct reply *r);
int api_run_events(struct req *q, struct reply *r);
int api_run_approve(struct req *q, struct reply *r);
int api_run_halt(struct req *q, struct reply *r);
int api_halt_all(struct req *q, struct reply *r);
int api_halt_clear(struct req *q, struct reply *r);
int api_halt_get(struct req *q, struct reply *r);
/* rehearsal.c: */
int api_rehearsal_post(struct req *q, struct reply *r);
/* ui.c: the dashboard's files. */
int api_ui(struct req *q, struct reply *r);
/* sched.c: */
int api_schedule_list(struct req *q, struct reply *r);
/* risks.c: the risk matrix. */
int api_risk_import(struct req *q, struct reply *r);
int api_risk_list(struct req *q, struct reply *r);
int api_risk_get(struct req *q, struct reply *r);
/* timeline.c: */
int api_run_timeline(struct req *q, struct reply *r);
/* report.c: */
int api_run_report(struct req *q, struct reply *r);
int api_report_freshness(struct req *q, struct reply *r);
int api_report_risks(struct req *q, struct reply *r);
/* fleet.c: */
struct agent_report;
int fleet_record_report(struct ctl *c, const struct agent_report *rep, const char *actor);
int api_agent_list(struct req *q, struct reply *r);
int api_agent_enroll(struct req *q, struct reply *r);
int api_agent_poll(struct req *q, struct reply *r);
int api_agent_report(struct req *q, struct reply *r);

/*
 * Commits the open transaction after appending its audit row (actor, action, object,
 * details consumed), then anchors the chain.  On failure everything is rolled back and
 * -EIO returned; the caller answers 500.
 */
int api_commit_audited(struct ctl *c, const char *actor, const char *action,
    const char *object, cJSON *details);
/* The audit actor of a principal: the user's name or "agent:<host>". */
const char *api_actor(const struct req *q, char *buf, size_t len);

/* A string column of the current row ("" for NULL). */
const char *col_text(sqlite3_stmt *st, int i);
/* Adds a text or number column to obj, or null when the column is NULL. */
void json_add_text_col(cJSON *obj, const char *key, sqlite3_stmt *st, int i);
void json_add_num_col(cJSON *obj, const char *key, sqlite3_stmt *st, int i);
/* Adds Unix ms t to obj as RFC 3339. */
void json_add_time_ms(cJSON *obj, const char *key, int64_t t);
/* Adds a time (Unix ms, or NULL when the column is NULL) to obj as RFC 3339. */
void json_add_time_col(cJSON *obj, const char *key, sqlite3_stmt *st, int i);

#endif
