/*
 * A run's report as Markdown (report.h), for pasting into a postmortem: the same sections
 * as the HTML page, with tables instead of charts and a text sparkline per probe.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "report.h"
#include "report_fmt.h"

/* Characters of a probe's sparkline. */
#define MD_SPARK_WIDTH	60

static void
esc(struct strbuf *b, const char *s)
{
	rf_esc(b, s, RF_MD);
}

/* One "| key | value |" row of the run table. */
static void
kv(struct strbuf *b, const char *key, const char *value)
{
	strbuf_addf(b, "| %s | ", key);
	esc(b, value);
	strbuf_addf(b, " |\n");
}

/* "alice at 2026-...Z", "alice", or "-". */
static void
kv_who(struct strbuf *b, const char *key, const cJSON *run, const char *who, const char *at)
{
	strbuf_addf(b, "| %s | ", key);
	esc(b, rf_str(run, who, "-"));
	if (rf_str(run, at, NULL) != NULL) {
		strbuf_addf(b, " at ");
		esc(b, rf_str(run, at, NULL));
	}
	strbuf_addf(b, " |\n");
}

static void
run_md(struct strbuf *b, const cJSON *rep)
{
	const cJSON *run = rf_get(rep, "run");
	char buf[64], rev[16];

	strbuf_addf(b, "## Run\n\n| | |\n|---|---|\n");
	kv(b, "Run", rf_str(run, "id", "-"));
	(void)snprintf(rev, sizeof(rev), "%.12s", rf_str(run, "revision", "-"));
	strbuf_addf(b, "| Playbook | ");
	esc(b, rf_str(run, "playbook", "-"));
	strbuf_addf(b, " (revision %s) |\n", rev);
	kv(b, "Description", rf_str(run, "description", "-"));
	kv(b, "Owner", rf_str(run, "owner", "-"));
	kv(b, "Environment", rf_str(run, "environment", "-"));
	kv(b, "Tier", rf_number(rf_num(run, "tier"), buf, sizeof(buf)));
	kv(b, "Risk", rf_str(run, "risk", "-"));
	kv(b, "State", rf_str(run, "state", "-"));
	kv(b, "Outcome", rf_str(run, "outcome", "-"));
	kv(b, "Dry run", rf_true(run, "dry_run") ? "yes" : "no");
	kv(b, "Reason", rf_str(run, "reason", "-"));
	kv_who(b, "Requested by", run, "requested_by", "requested_at");
	if (rf_str(run, "approved_by", NULL) != NULL)
		kv_who(b, "Approved by", run, "approved_by", "approved_at");
	else
		kv(b, "Approved by", "not approved (none needed, or not yet)");
	kv(b, "Created", rf_str(run, "created", "-"));
	kv(b, "Started", rf_str(run, "started", "-"));
	kv(b, "Planned end", rf_str(run, "ends", "-"));
	kv(b, "Ended", rf_str(run, "ended", "-"));
	kv(b, "Duration", rf_duration(rf_num(run, "duration_ms"), buf, sizeof(buf)));
	kv(b, "Recovery plan", rf_str(run, "recovery_plan", "-"));
	strbuf_addf(b, "\n");
}

/* The probe's values, one block character per column, "x" where a sample failed. */
static void
sparkline(struct strbuf *b, const cJSON *probe, double t0, double t1)
{
	static const char *const blocks[] = { "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83",
	    "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88" };
	double max[MD_SPARK_WIDTH], top = 0;
	bool fail[MD_SPARK_WIDTH] = { false }, any[MD_SPARK_WIDTH] = { false };
	int width = cJSON_GetArraySize(rf_get(probe, "series"));
	const cJSON *p;

	/* One column per sample while they fit: no gaps between sparse samples. */
	if (width > MD_SPARK_WIDTH)
		width = MD_SPARK_WIDTH;
	for (int i = 0; i < MD_SPARK_WIDTH; i++)
		max[i] = 0;
	cJSON_ArrayForEach(p, rf_get(probe, "series")) {
		double t = rf_at(p, 0), v = rf_at(p, 2);
		int col = (int)((t - t0) / (t1 - t0) * width);

		if (!isfinite(t) || col < 0)
			continue;
		if (col >= width)
			col = width - 1;
		any[col] = true;
		if (rf_at(p, 1) == 0)
			fail[col] = true;
		if (isfinite(v) && v > max[col])
			max[col] = v;
		if (isfinite(v) && v > top)
			top = v;
	}
	strbuf_addf(b, "    ");
	for (int i = 0; i < width; i++) {
		if (fail[i])
			strbuf_addf(b, "x");
		else if (!any[i])
			strbuf_addf(b, " ");
		else
			strbuf_addf(b, "%s", blocks[top > 0 ? (int)(max[i] / top * 7.999) : 0]);
	}
	strbuf_addf(b, "\n");
}

static void
timeline_md(struct strbuf *b, const cJSON *rep)
{
	const cJSON *w = rf_get(rep, "window"), *rb = rf_get(rep, "rollback"), *p;
	double t0 = rf_num(w, "from_ms"), t1 = rf_num(w, "to_ms");
	char off[48], num[32];

	strbuf_addf(b, "## Timeline\n\n");
	if (isfinite(t0))
		strbuf_addf(b, "From %s to %s (offsets below are from the start).\n\n",
		    rf_str(w, "from", "-"), rf_str(w, "to", "-"));
	strbuf_addf(b, "| Time | Offset | State | Actor | Reason |\n|---|---|---|---|---|\n");
	cJSON_ArrayForEach(p, rf_get(rep, "phases")) {
		strbuf_addf(b, "| %s | %s | ", rf_str(p, "time", "-"),
		    rf_offset(rf_num(p, "time_ms"), t0, off, sizeof(off)));
		esc(b, rf_str(p, "state", "-"));
		strbuf_addf(b, " | ");
		esc(b, rf_str(p, "actor", "-"));
		strbuf_addf(b, " | ");
		esc(b, rf_str(p, "reason", "-"));
		strbuf_addf(b, " |\n");
	}
	strbuf_addf(b, "\n");
	if (cJSON_IsObject(rb)) {
		const char *kind = rf_str(rb, "kind", "end");

		strbuf_addf(b, "**%s** at %s (%s) by ", strcmp(kind, "abort") == 0 ? "Abort" :
		    strcmp(kind, "halt") == 0 ? "Halt" : "Rollback (the planned end)",
		    rf_str(rb, "time", "-"), rf_offset(rf_num(rb, "time_ms"), t0, off,
		    sizeof(off)));
		esc(b, rf_str(rb, "actor", "-"));
		strbuf_addf(b, ": ");
		esc(b, rf_str(rb, "reason", "-"));
		strbuf_addf(b, "\n\n");
	}
	if (!isfinite(t0) || !isfinite(t1) || t1 <= t0)
		return;
	cJSON_ArrayForEach(p, rf_get(rep, "probes")) {
		if (rf_num(p, "samples") <= 0)
			continue;
		strbuf_addf(b, "Probe `");
		esc(b, rf_str(p, "probe", "-"));
		strbuf_addf(b, "` (%s samples, %s failed, marked x):\n\n",
		    rf_number(rf_num(p, "samples"), num, sizeof(num)),
		    rf_number(rf_num(p, "failed"), off, sizeof(off)));
		sparkline(b, p, t0, t1);
		strbuf_addf(b, "\n");
	}
}

static void
faults_md(struct strbuf *b, const cJSON *rep)
{
	const cJSON *h, *f, *e;
	double t0 = rf_num(rf_get(rep, "window"), "from_ms");
	char off[48], off2[48];

	strbuf_addf(b, "## Faults\n\n");
	if (cJSON_GetArraySize(rf_get(rep, "hosts")) == 0)
		strbuf_addf(b, "No host was chosen: nothing was injected.\n\n");
	cJSON_ArrayForEach(h, rf_get(rep, "hosts")) {
		strbuf_addf(b, "### Host ");
		esc(b, rf_str(h, "host", "-"));
		strbuf_addf(b, "\n\n| Fault | Type | State | Revert verified | Applied | "
		    "Reverted | Error |\n|---|---|---|---|---|---|---|\n");
		cJSON_ArrayForEach(f, rf_get(h, "faults")) {
			strbuf_addf(b, "| %.0f | ", rf_num(f, "index"));
			esc(b, rf_str(f, "type", "-"));
			strbuf_addf(b, " | ");
			esc(b, rf_str(f, "state", "-"));
			strbuf_addf(b, " | %s | %s | %s | ", rf_true(f, "verified") ? "yes" :
			    "**no**", rf_offset(rf_num(f, "applied_ms"), t0, off, sizeof(off)),
			    rf_offset(rf_num(f, "reverted_ms"), t0, off2, sizeof(off2)));
			esc(b, rf_str(f, "error", "-"));
			strbuf_addf(b, " |\n");
		}
		strbuf_addf(b, "\n");
		cJSON_ArrayForEach(e, rf_get(h, "events")) {
			strbuf_addf(b, "- %s (%s) ", rf_str(e, "time", "-"),
			    rf_offset(rf_num(e, "time_ms"), t0, off, sizeof(off)));
			esc(b, rf_str(e, "actor", "-"));
			strbuf_addf(b, ": ");
			esc(b, rf_str(e, "reason", "-"));
			strbuf_addf(b, "\n");
		}
		strbuf_addf(b, "\n");
	}
}

static void
availability_md(struct strbuf *b, const cJSON *rep)
{
	const cJSON *slo = rf_get(rep, "slo"), *p;
	char a[32], c[32], d[32], e[32], g[48], h[32], k[32];

	strbuf_addf(b, "## Availability\n\n");
	strbuf_addf(b, "Monthly target %s%% over %s days: %s of downtime allowed. Each sample "
	    "stands for one probe interval; downtime = failed samples / samples x period.\n\n",
	    rf_exact(rf_num(slo, "target_percent"), a, sizeof(a)),
	    rf_number(rf_num(slo, "period_days"), c, sizeof(c)),
	    rf_duration(rf_num(slo, "allowed_ms"), d, sizeof(d)));
	if (cJSON_GetArraySize(rf_get(rep, "probes")) == 0) {
		strbuf_addf(b, "The playbook has no probes: availability was not measured.\n\n");
		return;
	}
	strbuf_addf(b, "| Probe | Samples | Failed | Period | Availability | Nines | Downtime | "
	    "Budget used |\n|---|---|---|---|---|---|---|---|\n");
	cJSON_ArrayForEach(p, rf_get(rep, "probes")) {
		const cJSON *bu = rf_get(p, "budget");

		strbuf_addf(b, "| ");
		esc(b, rf_str(p, "probe", "-"));
		strbuf_addf(b, " | %s | %s | %s | %s | ", rf_number(rf_num(p, "samples"), a,
		    sizeof(a)), rf_number(rf_num(p, "failed"), c, sizeof(c)),
		    rf_duration(rf_num(p, "period_ms"), d, sizeof(d)),
		    rf_percent(rf_num(p, "availability_percent"), 3, e, sizeof(e)));
		esc(b, rf_nines(p, g, sizeof(g)));
		strbuf_addf(b, " | %s | %s of %s (%s) |\n", rf_duration(rf_num(p, "downtime_ms"),
		    h, sizeof(h)), rf_duration(rf_num(bu, "used_ms"), k, sizeof(k)),
		    rf_duration(rf_num(bu, "allowed_ms"), d, sizeof(d)),
		    rf_percent(rf_num(bu, "used_percent"), 2, a, sizeof(a)));
	}
	strbuf_addf(b, "\n");
}

static void
slas_md(struct strbuf *b, const cJSON *rep)
{
	const cJSON *s, *f = rf_get(rep, "figures");
	double t0 = rf_num(rf_get(rep, "window"), "from_ms");
	char a[48], c[48];

	strbuf_addf(b, "## SLAs and breaches\n\n");
	if (cJSON_GetArraySize(rf_get(rep, "slas")) == 0) {
		strbuf_addf(b, "The playbook has no SLAs.\n\n");
		return;
	}
	strbuf_addf(b, "| SLA | Evaluations | Breaches |\n|---|---|---|\n");
	cJSON_ArrayForEach(s, rf_get(rep, "slas")) {
		strbuf_addf(b, "| ");
		esc(b, rf_str(s, "sla", "-"));
		strbuf_addf(b, " | %s | %s |\n", rf_number(rf_num(s, "evaluations"), a, sizeof(a)),
		    rf_number(rf_num(s, "breaches"), c, sizeof(c)));
	}
	strbuf_addf(b, "\n%s breaching evaluations", rf_number(rf_num(rep, "breaches_total"), a,
	    sizeof(a)));
	if (cJSON_GetArraySize(rf_get(rep, "breaches")) < rf_num(rep, "breaches_total"))
		strbuf_addf(b, " (the first %d listed)", cJSON_GetArraySize(rf_get(rep,
		    "breaches")));
	strbuf_addf(b, ".\n\n");
	if (cJSON_GetArraySize(rf_get(rep, "breaches")) > 0) {
		strbuf_addf(b, "| Time | Offset | SLA | Value | Streak | Reason |\n"
		    "|---|---|---|---|---|---|\n");
		cJSON_ArrayForEach(s, rf_get(rep, "breaches")) {
			strbuf_addf(b, "| %s | %s | ", rf_str(s, "time", "-"),
			    rf_offset(rf_num(s, "time_ms"), t0, a, sizeof(a)));
			esc(b, rf_str(s, "sla", "-"));
			strbuf_addf(b, " | %s | %.0f | ", rf_number(rf_num(s, "value"), c,
			    sizeof(c)), rf_num(s, "streak"));
			esc(b, rf_str(s, "reason", "-"));
			strbuf_addf(b, " |\n");
		}
		strbuf_addf(b, "\n");
	}
	if (isfinite(rf_num(f, "breach_to_abort_ms")))
		strbuf_addf(b, "- First breach to abort: %s\n", rf_duration(rf_num(f,
		    "breach_to_abort_ms"), a, sizeof(a)));
	if (isfinite(rf_num(f, "faults_to_abort_ms")))
		strbuf_addf(b, "- Faults in place to abort: %s\n", rf_duration(rf_num(f,
		    "faults_to_abort_ms"), a, sizeof(a)));
	if (isfinite(rf_num(f, "abort_to_reverted_ms")))
		strbuf_addf(b, "- Abort to the last verified revert: %s\n", rf_duration(rf_num(f,
		    "abort_to_reverted_ms"), a, sizeof(a)));
	strbuf_addf(b, "\n");
}

/* "4.2 s (target 5.0 min, met)" */
static void
against(struct strbuf *b, const cJSON *r, const char *key, const char *target)
{
	double v = rf_num(r, key), t = rf_num(r, target);
	char a[32], c[32];

	if (!isfinite(v)) {
		strbuf_addf(b, "not recorded");
		return;
	}
	strbuf_addf(b, "%s", rf_duration(v, a, sizeof(a)));
	if (isfinite(t))
		strbuf_addf(b, " (target %s, %s)", rf_duration(t, c, sizeof(c)), v <= t ? "met" :
		    "missed");
}

static void
rehearsal_md(struct strbuf *b, const cJSON *rep)
{
	const cJSON *r = rf_get(rep, "rehearsal"), *s;
	int n = 0, done = 0;

	strbuf_addf(b, "## Rehearsal\n\n");
	if (!cJSON_IsObject(r)) {
		strbuf_addf(b, "No rehearsal.\n\n");
		return;
	}
	strbuf_addf(b, "- Paged at: %s\n- Detected at: %s", rf_str(r, "paged_at", "-"),
	    rf_str(r, "detected_at", "-"));
	if (rf_str(r, "detected_by", NULL) != NULL) {
		strbuf_addf(b, " by ");
		esc(b, rf_str(r, "detected_by", NULL));
	}
	strbuf_addf(b, "\n- Time to detect: ");
	against(b, r, "time_to_detect_ms", "detect_within_ms");
	strbuf_addf(b, "\n- Recovered at: %s", rf_str(r, "recovered_at", "-"));
	if (rf_str(r, "recovered_by", NULL) != NULL) {
		strbuf_addf(b, " by ");
		esc(b, rf_str(r, "recovered_by", NULL));
	}
	strbuf_addf(b, "\n- Time to recover: ");
	against(b, r, "time_to_recover_ms", "recover_within_ms");
	strbuf_addf(b, "\n- Time to recover, as the probes saw it: ");
	against(b, r, "time_to_recover_probes_ms", "recover_within_ms");
	strbuf_addf(b, "\n- Missed: %s\n- Outcome: ", rf_true(r, "missed") ? "yes" : "no");
	esc(b, rf_str(r, "outcome", "-"));
	cJSON_ArrayForEach(s, rf_get(r, "steps")) {
		n++;
		done += rf_str(s, "done_at", NULL) != NULL;
	}
	strbuf_addf(b, "\n\nRecovery-plan steps ticked: %d of %d\n\n", done, n);
	cJSON_ArrayForEach(s, rf_get(r, "steps")) {
		bool ticked = rf_str(s, "done_at", NULL) != NULL;

		strbuf_addf(b, "- [%s] %.0f. ", ticked ? "x" : " ", rf_num(s, "step"));
		esc(b, rf_str(s, "text", "-"));
		if (ticked) {
			strbuf_addf(b, " (");
			esc(b, rf_str(s, "done_by", "-"));
			strbuf_addf(b, ", %s)", rf_str(s, "done_at", "-"));
		}
		strbuf_addf(b, "\n");
	}
	strbuf_addf(b, "\n");
}

static void
audit_md(struct strbuf *b, const cJSON *rep)
{
	const cJSON *row;

	strbuf_addf(b, "## Audit\n\n");
	if (!rf_true(rep, "audit_complete"))
		strbuf_addf(b, "(The first %d rows; `gameday audit` has them all.)\n\n",
		    cJSON_GetArraySize(rf_get(rep, "audit")));
	strbuf_addf(b, "| Seq | Time | Actor | Action | Details |\n|---|---|---|---|---|\n");
	cJSON_ArrayForEach(row, rf_get(rep, "audit")) {
		char *d = cJSON_PrintUnformatted(rf_get(row, "details"));

		strbuf_addf(b, "| %.0f | ", rf_num(row, "seq"));
		esc(b, rf_str(row, "time", "-"));
		strbuf_addf(b, " | ");
		esc(b, rf_str(row, "actor", "-"));
		strbuf_addf(b, " | ");
		esc(b, rf_str(row, "action", "-"));
		strbuf_addf(b, " | ");
		esc(b, d);
		strbuf_addf(b, " |\n");
		cJSON_free(d);
	}
	strbuf_addf(b, "\n");
}

char *
report_markdown(const cJSON *rep)
{
	struct strbuf b = { .max = RF_MAX_TEXT };
	const cJSON *run = rf_get(rep, "run");
	char *text;

	strbuf_addf(&b, "# Game Day report: ");
	esc(&b, rf_str(run, "playbook", "-"));
	strbuf_addf(&b, "\n\nRun %s, %s, generated %s by gamedayd.\n\n", rf_str(run, "id", "-"),
	    rf_str(run, "state", "-"), rf_str(rep, "generated", "-"));
	run_md(&b, rep);
	timeline_md(&b, rep);
	faults_md(&b, rep);
	availability_md(&b, rep);
	slas_md(&b, rep);
	rehearsal_md(&b, rep);
	audit_md(&b, rep);
	if (strbuf_finish(&b, &text) < 0)
		return NULL;
	return text;
}
