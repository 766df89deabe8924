/*
 * A run's report as one self-contained HTML page (report.h): inline CSS, charts drawn here
 * as inline SVG, no script, nothing fetched (its Content-Security-Policy forbids both, in
 * case an escape were ever missed).  Every string is escaped (rf_esc()).
 *
 * Each chart maps time linearly onto its plot area:
 *   x = CHART_X + (t - t0) / (t1 - t0) * CHART_W,  y = CHART_Y + CHART_H - (v - ymin) /
 *   (ymax - ymin) * CHART_H,
 * with t0, t1 the report's window and the numbers on the <svg> as data-t0, data-t1,
 * data-x0, data-w, data-y0, data-h, data-ymin, data-ymax (tests read them to check the
 * drawing).  Overlaid: fault windows (rect.fault, one per host and fault; "open" when no
 * verified revert closes it), the run's phases (line.phase), SLA thresholds
 * (line.threshold), failed samples (circle.failed), breaches (circle.breach on an SLA's
 * chart, line.breach ticks on its probe's) and the rollback (line.rollback, with the class
 * abort, halt or end).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "report.h"
#include "report_fmt.h"

#define CHART_WIDTH	760
#define CHART_HEIGHT	222
#define CHART_X		64	/* The plot area inside the SVG. */
#define CHART_Y		14
#define CHART_W		680
#define CHART_H		180
#define CHART_YTICKS	4
#define CHART_XTICKS	5
/* More points than this many per pixel column are drawn as each column's min and max. */
#define CHART_DENSE	2
#define MAX_THRESHOLDS	GD_MAX_SLAS

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;"
    "margin:0 auto;max-width:1000px;padding:16px 24px}"
    "h1{font-size:24px;margin:8px 0 2px}h2{font-size:19px;margin:28px 0 8px;"
    "border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}"
    "table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}"
    "th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f6f8fa}table.kv th{width:150px}td.num{text-align:right;"
    "font-variant-numeric:tabular-nums}code,.mono{font-family:ui-monospace,monospace;"
    "font-size:12px}td.mono{overflow-wrap:anywhere}.muted{color:#57606a}"
    ".bad{color:#b42318;font-weight:600}"
    ".good{color:#1a7f37}.state{display:inline-block;padding:0 8px;border-radius:10px;"
    "background:#eaeef2}.s-completed{background:#dafbe1}.s-aborted,.s-halted{background:"
    "#fff1c2}.s-failed{background:#ffd7d5}"
    "figure{margin:10px 0 18px}figcaption{font-weight:600;margin-bottom:2px}"
    "svg.chart{max-width:100%;height:auto;background:#fff}"
    "svg .plot{fill:#fbfcfd;stroke:#d0d7de}svg .grid{stroke:#eaeef2}"
    "svg text{font:11px system-ui,sans-serif;fill:#57606a}"
    "svg .fault{fill:#f59e0b;fill-opacity:.16;stroke:#d97706;stroke-opacity:.5}"
    "svg .fault.open{fill:#dc2626;fill-opacity:.12;stroke:#dc2626;stroke-dasharray:4 3}"
    "svg .phase{stroke:#8c959f;stroke-dasharray:2 3}"
    "svg .threshold{stroke:#b42318;stroke-width:1.5;stroke-dasharray:6 4}"
    "svg .series{fill:none;stroke:#0969da;stroke-width:1.5}"
    "svg .failed{fill:#cf222e}svg .breach{fill:#cf222e;stroke:#cf222e;stroke-width:2}"
    "svg .rollback{stroke-width:2.5}svg .rollback.abort{stroke:#cf222e}"
    "svg .rollback.halt{stroke:#8250df}svg .rollback.end{stroke:#57606a}"
    "svg text.mark{font-weight:600}svg text.abort,svg text.thr{fill:#cf222e}"
    ".legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;"
    "width:18px;height:10px;margin-right:4px;vertical-align:middle}"
    "@media print{body{max-width:none}h2{break-after:avoid}figure{break-inside:avoid}}";

static void
h(struct strbuf *b, const char *s)
{
	rf_esc(b, s, RF_HTML);
}

/* <tr><th>key</th><td>value</td></tr> */
static void
kv(struct strbuf *b, const char *key, const char *value)
{
	strbuf_addf(b, "<tr><th>%s</th><td>", key);
	h(b, value);
	strbuf_addf(b, "</td></tr>\n");
}

/* ---- Charts ---- */

struct chart {
	struct strbuf *b;
	const cJSON *rep;
	double t0, t1, ymin, ymax;
};

static double
chart_x(const struct chart *c, double t)
{
	double x = CHART_X + (t - c->t0) / (c->t1 - c->t0) * CHART_W;

	return x < CHART_X ? CHART_X : x > CHART_X + CHART_W ? CHART_X + CHART_W : x;
}

static double
chart_y(const struct chart *c, double v)
{
	double y = CHART_Y + CHART_H - (v - c->ymin) / (c->ymax - c->ymin) * CHART_H;

	return y < CHART_Y ? CHART_Y : y > CHART_Y + CHART_H ? CHART_Y + CHART_H : y;
}

/* The value range of a series and thresholds: from 0 (or below) to a tenth above. */
static void
chart_range(struct chart *c, const cJSON *series, const double *th, size_t nth)
{
	double lo = 0, hi = 0;
	const cJSON *p;

	cJSON_ArrayForEach(p, series) {
		double v = rf_at(p, 2);

		if (isfinite(v)) {
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
	}
	for (size_t i = 0; i < nth; i++) {
		lo = th[i] < lo ? th[i] : lo;
		hi = th[i] > hi ? th[i] : hi;
	}
	if (hi <= lo)
		hi = lo + 1;
	c->ymin = lo;
	c->ymax = hi + (hi - lo) / 10;
}

/* An axis label: whole numbers from 1,000 up, three significant digits below. */
static const char *
axis_number(double v, char *buf, size_t len)
{
	if (fabs(v) >= 1000 && fabs(v) < 1e12)
		(void)snprintf(buf, len, "%.0f", v);
	else
		(void)snprintf(buf, len, "%.3g", v);
	return buf;
}

static void
chart_open(struct chart *c, const char *caption, const char *unit)
{
	struct strbuf *b = c->b;
	char off[48], num[32];

	strbuf_addf(b, "<figure><figcaption>");
	h(b, caption);
	strbuf_addf(b, "</figcaption>\n<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
	    "height=\"%d\" role=\"img\" aria-label=\"", CHART_WIDTH, CHART_HEIGHT, CHART_WIDTH,
	    CHART_HEIGHT);
	h(b, caption);
	strbuf_addf(b, "\" data-t0=\"%.0f\" data-t1=\"%.0f\" data-x0=\"%d\" data-w=\"%d\" "
	    "data-y0=\"%d\" data-h=\"%d\" data-ymin=\"%.6g\" data-ymax=\"%.6g\">\n", c->t0, c->t1,
	    CHART_X, CHART_W, CHART_Y, CHART_H, c->ymin, c->ymax);
	strbuf_addf(b, "<rect class=\"plot\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>\n",
	    CHART_X, CHART_Y, CHART_W, CHART_H);
	for (int i = 0; i <= CHART_YTICKS; i++) {
		double v = c->ymin + (c->ymax - c->ymin) * i / CHART_YTICKS, y = chart_y(c, v);

		strbuf_addf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
		    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s%s</text>\n", CHART_X,
		    CHART_X + CHART_W, y, y, CHART_X - 6, y + 4, axis_number(v, num, sizeof(num)),
		    unit);
	}
	for (int i = 0; i <= CHART_XTICKS; i++) {
		double t = c->t0 + (c->t1 - c->t0) * i / CHART_XTICKS;

		strbuf_addf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>\n",
		    chart_x(c, t), CHART_Y + CHART_H + 16, i == 0 ? "start" : i == CHART_XTICKS ?
		    "end" : "middle", rf_offset(t, c->t0, off, sizeof(off)));
	}
}

/* One translucent band per host and fault, from its apply to its verified revert. */
static void
chart_faults(struct chart *c)
{
	const cJSON *host, *f;

	cJSON_ArrayForEach(host, rf_get(c->rep, "hosts")) {
		cJSON_ArrayForEach(f, rf_get(host, "faults")) {
			double from = rf_num(f, "applied_ms"), to = rf_num(f, "reverted_ms");
			double x0, x1;
			bool open = !isfinite(to);

			if (!isfinite(from))
				continue;
			if (open)
				to = c->t1;
			x0 = chart_x(c, from);
			x1 = chart_x(c, to);
			strbuf_addf(c->b, "<rect class=\"fault%s\" data-host=\"", open ? " open" :
			    "");
			h(c->b, rf_str(host, "host", "-"));
			strbuf_addf(c->b, "\" data-index=\"%.0f\" data-from-ms=\"%.0f\" "
			    "data-to-ms=\"%.0f\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\">"
			    "<title>", rf_num(f, "index"), from, to, x0, CHART_Y, x1 - x0 > 0.5 ?
			    x1 - x0 : 0.5, CHART_H);
			h(c->b, rf_str(host, "host", "-"));
			strbuf_addf(c->b, ": fault %.0f (", rf_num(f, "index"));
			h(c->b, rf_str(f, "type", "-"));
			strbuf_addf(c->b, ") %s</title></rect>\n", open ? "applied, no verified "
			    "revert" : "applied, then reverted and verified");
		}
	}
}

/* A dashed line where the run changed state. */
static void
chart_phases(struct chart *c)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, rf_get(c->rep, "phases")) {
		double t = rf_num(p, "time_ms"), x;
		const char *state = rf_str(p, "state", "");

		if (!isfinite(t) || t < c->t0 || t > c->t1 || strcmp(state, "rolling_back") == 0)
			continue;	/* The rollback has a marker of its own. */
		x = chart_x(c, t);
		/* Named on hover only: states a few ms apart would print over each other. */
		strbuf_addf(c->b, "<line class=\"phase\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" "
		    "y2=\"%d\"><title>", x, x, CHART_Y, CHART_Y + CHART_H);
		h(c->b, state);
		strbuf_addf(c->b, "</title></line>\n");
	}
}

static void
chart_threshold(struct chart *c, double v, const char *label)
{
	double y = chart_y(c, v);

	strbuf_addf(c->b, "<line class=\"threshold\" data-value=\"%.6g\" x1=\"%d\" x2=\"%d\" "
	    "y1=\"%.1f\" y2=\"%.1f\"><title>", v, CHART_X, CHART_X + CHART_W, y, y);
	h(c->b, label);
	strbuf_addf(c->b, "</title></line><text x=\"%d\" y=\"%.1f\" class=\"thr\">",
	    CHART_X + 4, y > CHART_Y + 12 ? y - 4 : y + 12);
	h(c->b, label);
	strbuf_addf(c->b, "</text>\n");
}

/*
 * The series' values as one polyline (dense series: each pixel column's min and max), and
 * a mark (class bad_class, one per column) where a point's flag is 0.
 */
static void
chart_series(struct chart *c, const cJSON *series, const char *bad_class)
{
	const cJSON *p;
	int n = cJSON_GetArraySize(series), col = -1, bad_col = -1;
	bool dense = n > CHART_DENSE * CHART_W;
	double lo = 0, hi = 0;

	strbuf_addf(c->b, "<polyline class=\"series\" points=\"");
	cJSON_ArrayForEach(p, series) {
		double t = rf_at(p, 0), v = rf_at(p, 2), x;

		if (!isfinite(t) || !isfinite(v))
			continue;
		x = chart_x(c, t);
		if (!dense) {
			strbuf_addf(c->b, "%.1f,%.1f ", x, chart_y(c, v));
			continue;
		}
		if ((int)x != col) {
			if (col >= 0)
				strbuf_addf(c->b, "%d,%.1f %d,%.1f ", col, chart_y(c, lo), col,
				    chart_y(c, hi));
			col = (int)x;
			lo = hi = v;
		}
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	if (dense && col >= 0)
		strbuf_addf(c->b, "%d,%.1f %d,%.1f ", col, chart_y(c, lo), col, chart_y(c, hi));
	strbuf_addf(c->b, "\"/>\n");
	cJSON_ArrayForEach(p, series) {
		double t = rf_at(p, 0), v = rf_at(p, 2), x;

		if (!isfinite(t) || rf_at(p, 1) != 0 || (int)(x = chart_x(c, t)) == bad_col)
			continue;
		bad_col = (int)x;
		strbuf_addf(c->b, "<circle class=\"%s\" data-ms=\"%.0f\" cx=\"%.1f\" cy=\"%.1f\" "
		    "r=\"3\"/>\n", bad_class, t, x, chart_y(c, isfinite(v) ? v : c->ymin));
	}
}

/* Ticks along the top where an SLA of this probe breached. */
static void
chart_breach_ticks(struct chart *c, const cJSON *series)
{
	const cJSON *p;
	int last = -1;

	cJSON_ArrayForEach(p, series) {
		double t = rf_at(p, 0), x;

		if (!isfinite(t) || rf_at(p, 1) != 0 || (int)(x = chart_x(c, t)) == last)
			continue;
		last = (int)x;
		strbuf_addf(c->b, "<line class=\"breach\" data-ms=\"%.0f\" x1=\"%.1f\" x2=\"%.1f\" "
		    "y1=\"%d\" y2=\"%d\"/>\n", t, x, x, CHART_Y, CHART_Y + 8);
	}
}

/* The rollback: the SLA guard's abort, a halt, or the planned end. */
static void
chart_rollback(struct chart *c)
{
	const cJSON *rb = rf_get(c->rep, "rollback");
	const char *kind = rf_str(rb, "kind", "end");
	double t = rf_num(rb, "time_ms"), x;

	if (!isfinite(t))
		return;
	x = chart_x(c, t);
	strbuf_addf(c->b, "<line class=\"rollback %s\" data-ms=\"%.0f\" x1=\"%.1f\" x2=\"%.1f\" "
	    "y1=\"%d\" y2=\"%d\"><title>", strcmp(kind, "abort") == 0 ? "abort" :
	    strcmp(kind, "halt") == 0 ? "halt" : "end", t, x, x, CHART_Y - 4,
	    CHART_Y + CHART_H);
	h(c->b, rf_str(rb, "reason", "-"));
	strbuf_addf(c->b, "</title></line><text class=\"mark%s\" x=\"%.1f\" y=\"%d\" "
	    "text-anchor=\"end\">%s</text>\n", strcmp(kind, "abort") == 0 ? " abort" : "", x - 3,
	    CHART_Y + 10, strcmp(kind, "abort") == 0 ? "abort" : strcmp(kind, "halt") == 0 ?
	    "halt" : "rollback");
}

static void
chart_close(struct chart *c)
{
	strbuf_addf(c->b, "</svg></figure>\n");
}

/*
 * A probe's chart: its values (latency in ms, or the query's value), failed samples, the
 * thresholds of the SLAs that read it in the same unit, and ticks where those breached.
 */
static void
probe_chart(struct chart *c, const cJSON *probe)
{
	const char *name = rf_str(probe, "probe", "-"), *unit = rf_str(probe, "unit", "");
	double th[MAX_THRESHOLDS];
	const cJSON *s;
	char caption[200];
	size_t nth = 0;

	cJSON_ArrayForEach(s, rf_get(c->rep, "slas"))
		if (nth < MAX_THRESHOLDS && strcmp(rf_str(s, "probe", ""), name) == 0 &&
		    strcmp(rf_str(s, "unit", "?"), unit) == 0 && isfinite(rf_num(s, "threshold")))
			th[nth++] = rf_num(s, "threshold");
	chart_range(c, rf_get(probe, "series"), th, nth);
	(void)snprintf(caption, sizeof(caption), "Probe %s: %s", name,
	    strcmp(rf_str(probe, "type", ""), "http") == 0 ? "latency of each request (ms); "
	    "red dots: failed requests" : "the query's value; red dots: failed queries");
	chart_open(c, caption, unit);
	chart_faults(c);
	chart_phases(c);
	cJSON_ArrayForEach(s, rf_get(c->rep, "slas")) {
		if (strcmp(rf_str(s, "probe", ""), name) != 0)
			continue;
		if (strcmp(rf_str(s, "unit", "?"), unit) == 0 && isfinite(rf_num(s, "threshold")))
			chart_threshold(c, rf_num(s, "threshold"), rf_str(s, "sla", "-"));
		chart_breach_ticks(c, rf_get(s, "series"));
	}
	chart_series(c, rf_get(probe, "series"), "failed");
	chart_rollback(c);
	chart_close(c);
}

/* An SLA's chart: the value of each evaluation, the threshold, breaches in red. */
static void
sla_chart(struct chart *c, const cJSON *sla)
{
	double th = rf_num(sla, "threshold");
	char caption[300];

	chart_range(c, rf_get(sla, "series"), &th, isfinite(th) ? 1 : 0);
	(void)snprintf(caption, sizeof(caption), "SLA %s: its value at each evaluation; red: "
	    "breached", rf_str(sla, "sla", "-"));
	chart_open(c, caption, rf_str(sla, "unit", ""));
	chart_faults(c);
	chart_phases(c);
	if (isfinite(th))
		chart_threshold(c, th, rf_str(sla, "sla", "-"));
	chart_series(c, rf_get(sla, "series"), "breach");
	chart_rollback(c);
	chart_close(c);
}

/* ---- Sections ---- */

static void
run_html(struct strbuf *b, const cJSON *rep)
{
	const cJSON *run = rf_get(rep, "run");
	char buf[64], rev[16];

	strbuf_addf(b, "<section id=\"run\"><h2>Run</h2>\n<table class=\"kv\">\n");
	kv(b, "Run", rf_str(run, "id", "-"));
	(void)snprintf(rev, sizeof(rev), "%.12s", rf_str(run, "revision", "-"));
	strbuf_addf(b, "<tr><th>Playbook</th><td>");
	h(b, rf_str(run, "playbook", "-"));
	strbuf_addf(b, " <span class=\"muted mono\">revision ");
	h(b, rev);
	strbuf_addf(b, "</span></td></tr>\n");
	kv(b, "Description", rf_str(run, "description", "-"));
	kv(b, "Owner", rf_str(run, "owner", "-"));
	kv(b, "Environment", rf_str(run, "environment", "-"));
	kv(b, "Tier", rf_number(rf_num(run, "tier"), buf, sizeof(buf)));
	kv(b, "Risk", rf_str(run, "risk", "-"));
	strbuf_addf(b, "<tr><th>State</th><td><span class=\"state s-");
	h(b, rf_str(run, "state", "-"));
	strbuf_addf(b, "\">");
	h(b, rf_str(run, "state", "-"));
	strbuf_addf(b, "</span></td></tr>\n");
	kv(b, "Outcome", rf_str(run, "outcome", "-"));
	kv(b, "Dry run", rf_true(run, "dry_run") ? "yes" : "no");
	kv(b, "Reason", rf_str(run, "reason", "-"));
	strbuf_addf(b, "<tr><th>Requested by</th><td>");
	h(b, rf_str(run, "requested_by", "-"));
	strbuf_addf(b, " <span class=\"muted\">");
	h(b, rf_str(run, "requested_at", ""));
	strbuf_addf(b, "</span></td></tr>\n<tr><th>Approved by</th><td>");
	if (rf_str(run, "approved_by", NULL) != NULL) {
		h(b, rf_str(run, "approved_by", "-"));
		strbuf_addf(b, " <span class=\"muted\">");
		h(b, rf_str(run, "approved_at", ""));
		strbuf_addf(b, "</span>");
	} else {
		strbuf_addf(b, "<span class=\"muted\">not approved (none needed, or not yet)"
		    "</span>");
	}
	strbuf_addf(b, "</td></tr>\n");
	kv(b, "Created", rf_str(run, "created", "-"));
	kv(b, "Started", rf_str(run, "started", "-"));
	kv(b, "Planned end", rf_str(run, "ends", "-"));
	kv(b, "Ended", rf_str(run, "ended", "-"));
	kv(b, "Duration", rf_duration(rf_num(run, "duration_ms"), buf, sizeof(buf)));
	kv(b, "Recovery plan", rf_str(run, "recovery_plan", "-"));
	strbuf_addf(b, "</table></section>\n");
}

static void
legend(struct strbuf *b)
{
	strbuf_addf(b, "<p class=\"legend muted\">"
	    "<span><i class=\"sw\" style=\"background:#f59e0b44;border:1px solid #d97706\"></i>"
	    "fault in place (per host), revert verified</span>"
	    "<span><i class=\"sw\" style=\"background:#dc262622;border:1px dashed #dc2626\"></i>"
	    "fault without a verified revert</span>"
	    "<span><i class=\"sw\" style=\"border-top:2px dashed #b42318;height:0\"></i>"
	    "SLA threshold</span>"
	    "<span><i class=\"sw\" style=\"border-left:3px solid #cf222e;width:0\"></i>"
	    "abort</span>"
	    "<span><i class=\"sw\" style=\"border-left:1px dashed #8c959f;width:0\"></i>"
	    "state change</span></p>\n");
}

static void
timeline_html(struct strbuf *b, const cJSON *rep)
{
	const cJSON *w = rf_get(rep, "window"), *p, *rb = rf_get(rep, "rollback");
	struct chart c = { .b = b, .rep = rep, .t0 = rf_num(w, "from_ms"),
	    .t1 = rf_num(w, "to_ms") };
	char off[48];

	strbuf_addf(b, "<section id=\"timeline\"><h2>Timeline</h2>\n");
	if (isfinite(c.t0) && isfinite(c.t1)) {
		if (c.t1 <= c.t0)
			c.t1 = c.t0 + 1000;
		strbuf_addf(b, "<p>From %s to %s; times on the charts are offsets from the "
		    "start.</p>\n", rf_str(w, "from", "-"), rf_str(w, "to", "-"));
		legend(b);
		cJSON_ArrayForEach(p, rf_get(rep, "probes"))
			probe_chart(&c, p);
		cJSON_ArrayForEach(p, rf_get(rep, "slas"))
			sla_chart(&c, p);
		if (cJSON_GetArraySize(rf_get(rep, "probes")) == 0)
			strbuf_addf(b, "<p class=\"muted\">The playbook has no probes: there is "
			    "nothing to chart.</p>\n");
	} else {
		strbuf_addf(b, "<p class=\"muted\">Nothing was measured or injected: there is "
		    "nothing to chart.</p>\n");
	}
	if (cJSON_IsObject(rb)) {
		strbuf_addf(b, "<p><strong class=\"%s\">%s</strong> at %s (%s) by ",
		    strcmp(rf_str(rb, "kind", ""), "abort") == 0 ? "bad" : "",
		    strcmp(rf_str(rb, "kind", ""), "abort") == 0 ? "Abort" :
		    strcmp(rf_str(rb, "kind", ""), "halt") == 0 ? "Halt" :
		    "Rollback (the planned end)",
		    rf_str(rb, "time", "-"), rf_offset(rf_num(rb, "time_ms"), c.t0, off,
		    sizeof(off)));
		h(b, rf_str(rb, "actor", "-"));
		strbuf_addf(b, ": ");
		h(b, rf_str(rb, "reason", "-"));
		strbuf_addf(b, "</p>\n");
	}
	strbuf_addf(b, "<h3>State changes</h3>\n<table><tr><th>Time</th><th>Offset</th>"
	    "<th>State</th><th>Actor</th><th>Reason</th></tr>\n");
	cJSON_ArrayForEach(p, rf_get(rep, "phases")) {
		strbuf_addf(b, "<tr><td class=\"mono\">%s</td><td class=\"num\">%s</td><td>",
		    rf_str(p, "time", "-"), rf_offset(rf_num(p, "time_ms"), c.t0, off,
		    sizeof(off)));
		h(b, rf_str(p, "state", "-"));
		strbuf_addf(b, "</td><td>");
		h(b, rf_str(p, "actor", "-"));
		strbuf_addf(b, "</td><td>");
		h(b, rf_str(p, "reason", "-"));
		strbuf_addf(b, "</td></tr>\n");
	}
	strbuf_addf(b, "</table></section>\n");
}

static void
faults_html(struct strbuf *b, const cJSON *rep)
{
	const cJSON *host, *f, *e;
	double t0 = rf_num(rf_get(rep, "window"), "from_ms");
	char off[48], off2[48];

	strbuf_addf(b, "<section id=\"faults\"><h2>Faults</h2>\n");
	if (cJSON_GetArraySize(rf_get(rep, "hosts")) == 0)
		strbuf_addf(b, "<p class=\"muted\">No host was chosen: nothing was injected."
		    "</p>\n");
	cJSON_ArrayForEach(host, rf_get(rep, "hosts")) {
		strbuf_addf(b, "<h3>Host ");
		h(b, rf_str(host, "host", "-"));
		strbuf_addf(b, "</h3>\n<table><tr><th>Fault</th><th>Type</th><th>State</th>"
		    "<th>Revert verified</th><th>Applied</th><th>Reverted</th><th>Error</th>"
		    "</tr>\n");
		cJSON_ArrayForEach(f, rf_get(host, "faults")) {
			bool ok = rf_true(f, "verified");

			strbuf_addf(b, "<tr><td class=\"num\">%.0f</td><td>", rf_num(f, "index"));
			h(b, rf_str(f, "type", "-"));
			strbuf_addf(b, "</td><td>");
			h(b, rf_str(f, "state", "-"));
			strbuf_addf(b, "</td><td class=\"%s\">%s</td><td class=\"num\">%s</td>"
			    "<td class=\"num\">%s</td><td>", ok ? "good" : "bad", ok ? "yes" : "no",
			    rf_offset(rf_num(f, "applied_ms"), t0, off, sizeof(off)),
			    rf_offset(rf_num(f, "reverted_ms"), t0, off2, sizeof(off2)));
			h(b, rf_str(f, "error", ""));
			strbuf_addf(b, "</td></tr>\n");
		}
		strbuf_addf(b, "</table>\n<ul>\n");
		cJSON_ArrayForEach(e, rf_get(host, "events")) {
			strbuf_addf(b, "<li><span class=\"mono\">%s</span> (%s) ", rf_str(e, "time",
			    "-"), rf_offset(rf_num(e, "time_ms"), t0, off, sizeof(off)));
			h(b, rf_str(e, "actor", "-"));
			strbuf_addf(b, ": ");
			h(b, rf_str(e, "reason", "-"));
			strbuf_addf(b, "</li>\n");
		}
		strbuf_addf(b, "</ul>\n");
	}
	strbuf_addf(b, "</section>\n");
}

static void
availability_html(struct strbuf *b, const cJSON *rep)
{
	const cJSON *slo = rf_get(rep, "slo"), *p;
	char a[32], c[32], d[32], e[32], g[48], k[32];

	strbuf_addf(b, "<section id=\"availability\"><h2>Availability</h2>\n<p>Monthly target "
	    "%s%% over %s days: %s of downtime allowed. Each sample stands for one probe "
	    "interval; the downtime is the failed share of the period the probe measured.</p>\n",
	    rf_exact(rf_num(slo, "target_percent"), a, sizeof(a)),
	    rf_number(rf_num(slo, "period_days"), c, sizeof(c)),
	    rf_duration(rf_num(slo, "allowed_ms"), d, sizeof(d)));
	if (cJSON_GetArraySize(rf_get(rep, "probes")) == 0) {
		strbuf_addf(b, "<p class=\"muted\">The playbook has no probes: availability was "
		    "not measured.</p></section>\n");
		return;
	}
	strbuf_addf(b, "<table><tr><th>Probe</th><th>Samples</th><th>Failed</th><th>Period</th>"
	    "<th>Availability</th><th>Nines</th><th>Downtime</th><th>Budget used</th></tr>\n");
	cJSON_ArrayForEach(p, rf_get(rep, "probes")) {
		const cJSON *bu = rf_get(p, "budget");
		double used = rf_num(bu, "used_percent");

		strbuf_addf(b, "<tr><td>");
		h(b, rf_str(p, "probe", "-"));
		strbuf_addf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
		    "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">",
		    rf_number(rf_num(p, "samples"), a, sizeof(a)), rf_number(rf_num(p, "failed"),
		    c, sizeof(c)), rf_duration(rf_num(p, "period_ms"), d, sizeof(d)),
		    rf_percent(rf_num(p, "availability_percent"), 3, e, sizeof(e)));
		h(b, rf_nines(p, g, sizeof(g)));
		strbuf_addf(b, "</td><td class=\"num\">%s</td>", rf_duration(rf_num(p,
		    "downtime_ms"), a, sizeof(a)));
		strbuf_addf(b, "<td class=\"num%s\">%s of %s (%s)</td></tr>\n", used > 100 ?
		    " bad" : "", rf_duration(rf_num(bu, "used_ms"), c, sizeof(c)),
		    rf_duration(rf_num(bu, "allowed_ms"), d, sizeof(d)), rf_percent(used, 2, k,
		    sizeof(k)));
	}
	strbuf_addf(b, "</table></section>\n");
}

static void
slas_html(struct strbuf *b, const cJSON *rep)
{
	const cJSON *s, *f = rf_get(rep, "figures");
	double t0 = rf_num(rf_get(rep, "window"), "from_ms");
	char a[48], c[48];

	strbuf_addf(b, "<section id=\"slas\"><h2>SLAs and breaches</h2>\n");
	if (cJSON_GetArraySize(rf_get(rep, "slas")) == 0) {
		strbuf_addf(b, "<p class=\"muted\">The playbook has no SLAs.</p></section>\n");
		return;
	}
	strbuf_addf(b, "<table><tr><th>SLA</th><th>Evaluations</th><th>Breaches</th></tr>\n");
	cJSON_ArrayForEach(s, rf_get(rep, "slas")) {
		strbuf_addf(b, "<tr><td class=\"mono\">");
		h(b, rf_str(s, "sla", "-"));
		strbuf_addf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n",
		    rf_number(rf_num(s, "evaluations"), a, sizeof(a)), rf_number(rf_num(s,
		    "breaches"), c, sizeof(c)));
	}
	strbuf_addf(b, "</table>\n<ul>\n");
	if (isfinite(rf_num(f, "breach_to_abort_ms")))
		strbuf_addf(b, "<li>First breach to abort: %s</li>\n", rf_duration(rf_num(f,
		    "breach_to_abort_ms"), a, sizeof(a)));
	if (isfinite(rf_num(f, "faults_to_abort_ms")))
		strbuf_addf(b, "<li>Faults in place to abort: %s</li>\n", rf_duration(rf_num(f,
		    "faults_to_abort_ms"), a, sizeof(a)));
	if (isfinite(rf_num(f, "abort_to_reverted_ms")))
		strbuf_addf(b, "<li>Abort to the last verified revert: %s</li>\n",
		    rf_duration(rf_num(f, "abort_to_reverted_ms"), a, sizeof(a)));
	strbuf_addf(b, "</ul>\n<p>%s breaching evaluations", rf_number(rf_num(rep,
	    "breaches_total"), a, sizeof(a)));
	if (cJSON_GetArraySize(rf_get(rep, "breaches")) < rf_num(rep, "breaches_total"))
		strbuf_addf(b, " (the first %d listed)", cJSON_GetArraySize(rf_get(rep,
		    "breaches")));
	strbuf_addf(b, ".</p>\n");
	if (cJSON_GetArraySize(rf_get(rep, "breaches")) > 0) {
		strbuf_addf(b, "<table><tr><th>Time</th><th>Offset</th><th>SLA</th><th>Value</th>"
		    "<th>Streak</th><th>Reason</th></tr>\n");
		cJSON_ArrayForEach(s, rf_get(rep, "breaches")) {
			strbuf_addf(b, "<tr><td class=\"mono\">%s</td><td class=\"num\">%s</td>"
			    "<td class=\"mono\">", rf_str(s, "time", "-"), rf_offset(rf_num(s,
			    "time_ms"), t0, a, sizeof(a)));
			h(b, rf_str(s, "sla", "-"));
			strbuf_addf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%.0f</td>"
			    "<td>", rf_number(rf_num(s, "value"), c, sizeof(c)), rf_num(s,
			    "streak"));
			h(b, rf_str(s, "reason", ""));
			strbuf_addf(b, "</td></tr>\n");
		}
		strbuf_addf(b, "</table>\n");
	}
	strbuf_addf(b, "</section>\n");
}

/* A table row: a measured duration against its target. */
static void
against(struct strbuf *b, const char *what, const cJSON *r, const char *key,
    const char *target)
{
	double v = rf_num(r, key), t = rf_num(r, target);
	char a[32], c[32];

	strbuf_addf(b, "<tr><th>%s</th><td>", what);
	if (!isfinite(v))
		strbuf_addf(b, "<span class=\"muted\">not recorded</span>");
	else if (isfinite(t))
		strbuf_addf(b, "%s <span class=\"%s\">(target %s, %s)</span>", rf_duration(v, a,
		    sizeof(a)), v <= t ? "good" : "bad", rf_duration(t, c, sizeof(c)), v <= t ?
		    "met" : "missed");
	else
		strbuf_addf(b, "%s", rf_duration(v, a, sizeof(a)));
	strbuf_addf(b, "</td></tr>\n");
}

static void
rehearsal_html(struct strbuf *b, const cJSON *rep)
{
	const cJSON *r = rf_get(rep, "rehearsal"), *s;
	int n = 0, done = 0;

	strbuf_addf(b, "<section id=\"rehearsal\"><h2>Rehearsal</h2>\n");
	if (!cJSON_IsObject(r)) {
		strbuf_addf(b, "<p class=\"muted\">No rehearsal.</p></section>\n");
		return;
	}
	strbuf_addf(b, "<table class=\"kv\">\n");
	kv(b, "Paged at", rf_str(r, "paged_at", "-"));
	kv(b, "Detected at", rf_str(r, "detected_at", "-"));
	kv(b, "Detected by", rf_str(r, "detected_by", "-"));
	against(b, "Time to detect", r, "time_to_detect_ms", "detect_within_ms");
	kv(b, "Recovered at", rf_str(r, "recovered_at", "-"));
	kv(b, "Recovered by", rf_str(r, "recovered_by", "-"));
	against(b, "Time to recover", r, "time_to_recover_ms", "recover_within_ms");
	against(b, "Recovered (probes)", r, "time_to_recover_probes_ms", "recover_within_ms");
	kv(b, "Missed", rf_true(r, "missed") ? "yes" : "no");
	kv(b, "Outcome", rf_str(r, "outcome", "-"));
	strbuf_addf(b, "</table>\n");
	cJSON_ArrayForEach(s, rf_get(r, "steps")) {
		n++;
		done += rf_str(s, "done_at", NULL) != NULL;
	}
	strbuf_addf(b, "<p>Recovery-plan steps ticked: %d of %d</p>\n<ol>\n", done, n);
	cJSON_ArrayForEach(s, rf_get(r, "steps")) {
		bool ticked = rf_str(s, "done_at", NULL) != NULL;

		strbuf_addf(b, "<li>%s ", ticked ? "&#9745;" : "&#9744;");
		h(b, rf_str(s, "text", "-"));
		if (ticked) {
			strbuf_addf(b, " <span class=\"muted\">(");
			h(b, rf_str(s, "done_by", "-"));
			strbuf_addf(b, ", %s)</span>", rf_str(s, "done_at", "-"));
		}
		strbuf_addf(b, "</li>\n");
	}
	strbuf_addf(b, "</ol></section>\n");
}

static void
audit_html(struct strbuf *b, const cJSON *rep)
{
	const cJSON *row;

	strbuf_addf(b, "<section id=\"audit\"><h2>Audit</h2>\n");
	if (!rf_true(rep, "audit_complete"))
		strbuf_addf(b, "<p class=\"muted\">The first %d rows; <code>gameday audit</code> "
		    "has them all.</p>\n", cJSON_GetArraySize(rf_get(rep, "audit")));
	strbuf_addf(b, "<table><tr><th>Seq</th><th>Time</th><th>Actor</th><th>Action</th>"
	    "<th>Details</th></tr>\n");
	cJSON_ArrayForEach(row, rf_get(rep, "audit")) {
		char *d = cJSON_PrintUnformatted(rf_get(row, "details"));

		strbuf_addf(b, "<tr><td class=\"num\">%.0f</td><td class=\"mono\">",
		    rf_num(row, "seq"));
		h(b, rf_str(row, "time", "-"));
		strbuf_addf(b, "</td><td>");
		h(b, rf_str(row, "actor", "-"));
		strbuf_addf(b, "</td><td>");
		h(b, rf_str(row, "action", "-"));
		strbuf_addf(b, "</td><td class=\"mono\">");
		h(b, d);
		strbuf_addf(b, "</td></tr>\n");
		cJSON_free(d);
	}
	strbuf_addf(b, "</table></section>\n");
}

char *
report_html(const cJSON *rep)
{
	struct strbuf b = { .max = RF_MAX_TEXT };
	const cJSON *run = rf_get(rep, "run");
	char *text;

	strbuf_addf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	    "style-src 'unsafe-inline'\">\n<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>Game Day report: ");
	h(&b, rf_str(run, "playbook", "-"));
	strbuf_addf(&b, " (");
	h(&b, rf_str(run, "id", "-"));
	strbuf_addf(&b, ")</title>\n<style>%s</style></head><body>\n<header><h1>Game Day "
	    "report: ", css);
	h(&b, rf_str(run, "playbook", "-"));
	strbuf_addf(&b, "</h1><p class=\"muted\">Run <code>");
	h(&b, rf_str(run, "id", "-"));
	strbuf_addf(&b, "</code>, <span class=\"state s-");
	h(&b, rf_str(run, "state", "-"));
	strbuf_addf(&b, "\">");
	h(&b, rf_str(run, "state", "-"));
	strbuf_addf(&b, "</span>, generated %s by gamedayd.</p></header>\n",
	    rf_str(rep, "generated", "-"));
	run_html(&b, rep);
	timeline_html(&b, rep);
	faults_html(&b, rep);
	availability_html(&b, rep);
	slas_html(&b, rep);
	rehearsal_html(&b, rep);
	audit_html(&b, rep);
	strbuf_addf(&b, "<footer class=\"muted\"><p>Availability, nines and error budgets as in "
	    "<cite>Architecting for Scale</cite>, chapter 3 (docs/reports.md).</p></footer>\n"
	    "</body></html>\n");
	if (strbuf_finish(&b, &text) < 0)
		return NULL;
	return text;
}
