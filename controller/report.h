/*
 * Reports (docs/reports.md).
 *
 *   GET /v1/runs/{id}/report?format=json|md|html   a run's report: who, what, when; the
 *       timeline drawn as SVG charts (probe values, SLA thresholds, fault windows per host,
 *       breaches, the abort); what each host did and whether its revert was verified;
 *       availability in percent and nines with the error budget the run used; the
 *       rehearsal's figures; the run's audit rows;
 *   GET /v1/reports/freshness?days=N               days since each playbook last passed;
 *   GET /v1/reports/risks                          the risk matrix, High/High first, with
 *       the last Game Day that exercised each risk, and the risks none ever did.
 *
 * A run's report is gathered once from the store into JSON (report_run_json()) and the
 * Markdown and HTML renderers read only that JSON, so the three formats cannot disagree.
 * The renderers escape every string they print: all of it came from users, playbooks,
 * agents or probes.
 */
#ifndef GD_REPORT_H
#define GD_REPORT_H

#include <cjson/cJSON.h>

#include "ctl.h"

/* The JSON layout's version ("version" in every run report). */
#define REPORT_VERSION		1
/*
 * Points of all the series of one report together (probe samples and SLA evaluations):
 * past it, each series keeps every k-th point (and every k-th failed one), which is still
 * more than a chart's pixels.  The figures always count every sample.
 */
#define REPORT_MAX_POINTS	20000
/* A series keeps at least this many points, however many probes and SLAs share the rest. */
#define REPORT_MIN_SERIES_POINTS	400
/* Breaching evaluations listed one by one; the total is always given. */
#define REPORT_MAX_BREACHES	500
/* Audit rows of a run listed (a run over 1,000 hosts has a few thousand). */
#define REPORT_MAX_AUDIT	20000
/* Fault events of a run listed under their hosts. */
#define REPORT_MAX_EVENTS	20000
/* Default and largest ?days= of the freshness report. */
#define REPORT_STALE_DAYS	90
#define REPORT_MAX_DAYS		3650

/*
 * The report of run id as JSON (docs/reports.md), the monthly error budget judged against
 * slo_target percent; NULL when there is no such run (or memory ran out).  Call it under
 * the store's lock.
 */
cJSON *report_run_json(struct ctl *c, const char *id, double slo_target);

/* The report as Markdown / as one self-contained HTML page; NULL when out of memory.  The
 * caller owns the text (gd_free()). */
char *report_markdown(const cJSON *rep);
char *report_html(const cJSON *rep);

#endif
