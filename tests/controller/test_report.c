/*
 * Reports (controller/report.c, docs/reports.md) end to end: the real gamedayd, scripted
 * agents over HTTP on loopback (no namespaces: their faults are reports, not nftables), and
 * a small HTTP service of this test's own that the runs' probes watch.
 *
 *   - a completed run whose probe fails exactly 5 times: availability, nines, downtime and
 *     the error budget against values computed here from the run's timeline;
 *   - an aborted run (its probe flipped to 500, the SLA guard aborts): breaches, the abort,
 *     the figures;
 *   - a failed run (the scripted agent reports revert_failed): the fault left open;
 *   - each report in JSON, Markdown and HTML (and through `gameday report`): the HTML is one
 *     self-contained file, and each chart's SVG puts the fault window, the SLA threshold and
 *     the abort where the times say, within 2 pixels of the chart's own scale;
 *   - the freshness report (one pass moved 100 days into the past with sqlite3) and the
 *     risk report (High/High first, the last Game Day of each risk, the ones never touched).
 *
 * GD_REPORT_DUMP=DIR keeps a copy of each Markdown and HTML report in DIR, to look at.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <sqlite3.h>

#include "harness.h"
#include "svc.h"
#include "test.h"

#define TOK		128
#define PX_TOLERANCE	2.0	/* Pixels a drawn x or y may be off its time or value. */

static struct gd g;
static char op[TOK], viewer[TOK], et[TOK];
static int svc_port;
static atomic_int flip;		/* /flip answers 500 while 1. */
static atomic_int fail_next;	/* /seq answers 500 to this many more requests. */
static atomic_int fails_served;	/* 500s /seq has answered. */

/* ---- The service the probes watch ---- */

static void
serve(int fd, const char *method, const char *path, const char *req)
{
	(void)method;
	(void)req;
	if (strcmp(path, "/flip") == 0) {
		svc_say(fd, atomic_load(&flip) ? "500 Internal Server Error" : "200 OK",
		    "text/plain", "ok");
	} else if (strcmp(path, "/seq") == 0) {
		int left = atomic_load(&fail_next);

		while (left > 0 && !atomic_compare_exchange_weak(&fail_next, &left, left - 1))
			;
		if (left > 0) {
			atomic_fetch_add(&fails_served, 1);
			svc_say(fd, "500 Internal Server Error", "text/plain", "ok");
		} else {
			svc_say(fd, "200 OK", "text/plain", "ok");
		}
	} else {
		svc_say(fd, "200 OK", "text/plain", "ok");
	}
}

/* ---- A scripted agent: polls, applies by saying so, reverts or fails to ---- */

struct sagent {
	char host[32], cred[TOK];
	bool revert_fails;
	atomic_bool stop;
	pthread_t thread;
	long long seq;
	char fault_id[20], order[64];	/* The one fault it holds ("" when none). */
	bool failed;			/* Its revert failed: still held, revert_failed. */
};

static void
agent_report(struct sagent *a, const char *order, const char *status, const char *state,
    const char *error)
{
	char body[1024];

	(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"seq\":%lld,\"order\":\"%s\","
	    "\"status\":\"%s\",\"fault_id\":\"%s\",\"state\":\"%s\",\"error\":%s%s%s}", a->host,
	    ++a->seq, order, status, a->fault_id, state, error != NULL ? "\"" : "",
	    error != NULL ? error : "null", error != NULL ? "\"" : "");
	(void)h_http(&g, "POST", "/v1/agent/report", a->cred, body, NULL, NULL);
}

static void *
agent_loop(void *arg)
{
	struct sagent *a = arg;

	while (!atomic_load(&a->stop)) {
		char body[1024], journal[512] = "[]";
		const cJSON *o;
		cJSON *r = NULL;

		if (a->fault_id[0] != '\0')
			(void)snprintf(journal, sizeof(journal), "[{\"id\":\"%s\",\"order\":\"%s\","
			    "\"state\":\"%s\",\"expires\":\"2099-01-01T00:00:00.000Z\"}]",
			    a->fault_id, a->order, a->failed ? "revert_failed" : "applied");
		(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"tags\":{\"role\":\"%s\"},"
		    "\"lease_ms\":15000,\"wait_ms\":300,\"seq\":%lld,\"faults\":%s}", a->host,
		    a->host, ++a->seq, journal);
		if (h_json(&g, "POST", "/v1/agent/poll", a->cred, body, &r) != 200) {
			cJSON_Delete(r);
			h_sleep_ms(100);
			continue;
		}
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r, "orders")) {
			const char *action = h_str(o, "action"), *id = h_str(o, "id");

			if (strcmp(action, "inject") == 0 && a->fault_id[0] == '\0') {
				(void)snprintf(a->fault_id, sizeof(a->fault_id),
				    "00000000000000f%c", a->host[strlen(a->host) - 1]);
				(void)snprintf(a->order, sizeof(a->order), "%s", id);
				agent_report(a, id, "done", "applied", NULL);
			} else if (strcmp(action, "revert") == 0 && !a->revert_fails) {
				agent_report(a, id, "done", "reverted", NULL);
				a->fault_id[0] = '\0';
			} else if (strcmp(action, "revert") == 0) {
				a->failed = true;
				agent_report(a, id, "failed", "revert_failed", "scripted: the "
				    "qdisc would not go <away> & stayed");
			}
		}
		cJSON_Delete(r);
	}
	return NULL;
}

static void
agent_start(struct sagent *a, const char *host, bool revert_fails)
{
	char body[256];
	cJSON *o = NULL;

	memset(a, 0, sizeof(*a));
	(void)snprintf(a->host, sizeof(a->host), "%s", host);
	a->revert_fails = revert_fails;
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"tags\":{\"role\":\"%s\"}}", host,
	    host);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/agent/enroll", et, body, &o), 201);
	(void)snprintf(a->cred, sizeof(a->cred), "%s", h_str(o, "credential"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(pthread_create(&a->thread, NULL, agent_loop, a), 0);
}

static void
agent_stop(struct sagent *a)
{
	atomic_store(&a->stop, true);
	(void)pthread_join(a->thread, NULL);
}

/* ---- Playbooks, runs, reports ---- */

/* Applies playbook name targeting role host, with probes and SLAs (JSON list bodies). */
static long
apply(const char *name, const char *host, const char *risk, const char *duration,
    const char *probes, const char *slas, const char *extra)
{
	char pb[4096], steady[2048] = "";

	/* A playbook with probes needs an SLA; one without has no steady_state at all. */
	if (probes[0] != '\0')
		(void)snprintf(steady, sizeof(steady), ",\"steady_state\":{\"probes\":[%s],"
		    "\"sla\":[%s]}", probes, slas);
	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":\"%s\","
	    "\"description\":\"report test <%s> & co\",\"owner\":\"sre|team\","
	    "\"environment\":\"staging\",\"tier\":2,\"risk\":\"%s\",%s"
	    "\"targets\":{\"tags\":{\"role\":\"%s\"},\"pick\":{\"count\":1}},"
	    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[7999]}],\"duration\":\"%s\""
	    "%s}", name, name, risk, extra, host, duration, steady);
	return h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL);
}

static void
start_run(const char *playbook, bool dry, char id[32])
{
	char body[256];
	cJSON *o = NULL;

	(void)snprintf(body, sizeof(body), "{\"playbook\":\"%s\",\"reason\":\"report test\","
	    "\"dry_run\":%s}", playbook, dry ? "true" : "false");
	id[0] = '\0';
	if (h_json(&g, "POST", "/v1/runs", op, body, &o) == 201)
		(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
	ASSERT_TRUE(id[0] != '\0');
}

static const char *
wait_run(const char *id, const char *want, long ms, char buf[32])
{
	return h_wait_state(&g, op, id, want, ms, buf);
}

/* GET the report of run id in format (the body into *ret, caller frees); the status. */
static long
get_report(const char *id, const char *query, char **ret)
{
	char path[256];

	(void)snprintf(path, sizeof(path), "/v1/runs/%s/report%s", id, query);
	return h_http(&g, "GET", path, op, NULL, NULL, ret);
}

static cJSON *
report_json(const char *id)
{
	char *text = NULL;
	cJSON *o;

	ASSERT_INT_EQ(get_report(id, "?format=json", &text), 200);
	o = cJSON_Parse(text != NULL ? text : "");
	free(text);
	ASSERT_TRUE(o != NULL);
	return o;
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const cJSON *
get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* "2026-11-29T10:00:00.123Z" as Unix ms; -1 when it is not one. */
static double
parse_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000 + ms;
}

/*
 * The time (Unix ms) of the first event of run id of kind whose reason starts with prefix
 * (NULL: any) and, for state events, whose state is state (NULL: any); -1 when none.
 */
static double
event_ms(const char *id, const char *kind, const char *state, const char *prefix)
{
	char path[128];
	const cJSON *e;
	cJSON *o = NULL;
	double t = -1;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s/events", id);
	(void)h_json(&g, "GET", path, op, NULL, &o);
	cJSON_ArrayForEach(e, get(o, "events")) {
		if (strcmp(h_str(e, "kind"), kind) != 0 ||
		    (state != NULL && strcmp(h_str(e, "state"), state) != 0) ||
		    (prefix != NULL && strncmp(h_str(e, "reason"), prefix, strlen(prefix)) != 0))
			continue;
		t = parse_ms(h_str(e, "time"));
		break;
	}
	cJSON_Delete(o);
	return t;
}

/* ---- Reading the HTML ---- */

/* Attribute name of the tag at tag (up to its '>') as a number; NAN when it has none. */
static double
attr_num(const char *tag, const char *name)
{
	const char *end = strchr(tag, '>'), *at;
	char key[64];

	(void)snprintf(key, sizeof(key), " %s=\"", name);
	if ((at = strstr(tag, key)) == NULL || end == NULL || at > end)
		return NAN;
	return strtod(at + strlen(key), NULL);
}

/* The next tag after p that starts with prefix ("<rect class=\"fault"), before end. */
static const char *
next_tag(const char *p, const char *end, const char *prefix)
{
	const char *t = strstr(p, prefix);

	return t != NULL && t < end ? t : NULL;
}

/* Whether text has an attribute name whose value starts with http:// or https://. */
static bool
has_remote_attr(const char *text, const char *name)
{
	char key[32];
	const char *p = text;

	(void)snprintf(key, sizeof(key), "%s=", name);
	while ((p = strcasestr(p, key)) != NULL) {
		p += strlen(key);
		if (*p == '"' || *p == '\'')
			p++;
		if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0 ||
		    strncmp(p, "//", 2) == 0)
			return true;
	}
	return false;
}

/* One file, nothing fetched: no script, no remote src or href, no CSS import or url(). */
static void
check_self_contained(const char *html)
{
	ASSERT_TRUE(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	ASSERT_TRUE(strstr(html, "</html>") != NULL);
	ASSERT_TRUE(strcasestr(html, "<script") == NULL);
	ASSERT_TRUE(!has_remote_attr(html, "src"));
	ASSERT_TRUE(!has_remote_attr(html, "href"));
	ASSERT_TRUE(!has_remote_attr(html, "xlink:href"));
	ASSERT_TRUE(strstr(html, "@import") == NULL);
	ASSERT_TRUE(strstr(html, "url(") == NULL);
	ASSERT_TRUE(strcasestr(html, "<link") == NULL);
	ASSERT_TRUE(strcasestr(html, "<iframe") == NULL && strcasestr(html, "<img") == NULL);
	ASSERT_TRUE(strstr(html, "<style>") != NULL);
	ASSERT_TRUE(strstr(html, "default-src 'none'") != NULL);
}

/* What a chart of a run must show. */
struct expect {
	double applied, reverted;	/* The fault window (ms); reverted < 0: open. */
	double rollback;		/* The rollback marker's time (ms). */
	const char *rollback_class;	/* "rollback abort", "rollback end". */
	const char *thresholds;		/* Chart i has a threshold line when [i] is '1'. */
};

/*
 * Checks every <svg> of html against e on the chart's own scale (its data-* numbers);
 * returns how many charts there were.
 */
static int
check_charts(const char *html, const struct expect *e)
{
	const char *svg = html, *end;
	int n = 0;

	while ((svg = strstr(svg, "<svg")) != NULL) {
		double t0 = attr_num(svg, "data-t0"), t1 = attr_num(svg, "data-t1");
		double x0 = attr_num(svg, "data-x0"), w = attr_num(svg, "data-w");
		double y0 = attr_num(svg, "data-y0"), hh = attr_num(svg, "data-h");
		double ymin = attr_num(svg, "data-ymin"), ymax = attr_num(svg, "data-ymax");
		const char *t;
		char mark[64];
		int nfault = 0;

		n++;
		ASSERT_TRUE((end = strstr(svg, "</svg>")) != NULL);
		if (end == NULL)
			return n;
		ASSERT_TRUE(isfinite(t0) && isfinite(t1) && t1 > t0 && w > 0 && hh > 0);
#define X(t) (x0 + ((t) - t0) * w / (t1 - t0))
		for (t = svg; (t = next_tag(t + 1, end, "<rect class=\"fault")) != NULL; ) {
			double x = attr_num(t, "x"), width = attr_num(t, "width");

			nfault++;
			ASSERT_DBL_NEAR(x, X(e->applied), PX_TOLERANCE);
			if (e->reverted >= 0) {
				ASSERT_TRUE(strncmp(t, "<rect class=\"fault\"", 19) == 0);
				ASSERT_DBL_NEAR(x + width, X(e->reverted), PX_TOLERANCE);
			} else {
				/* No verified revert: open to the chart's end. */
				ASSERT_TRUE(strncmp(t, "<rect class=\"fault open\"", 24) == 0);
				ASSERT_DBL_NEAR(x + width, x0 + w, PX_TOLERANCE);
			}
		}
		ASSERT_INT_EQ(nfault, 1);
		(void)snprintf(mark, sizeof(mark), "<line class=\"%s\"", e->rollback_class);
		t = next_tag(svg, end, mark);
		ASSERT_TRUE(t != NULL);
		if (t != NULL)
			ASSERT_DBL_NEAR(attr_num(t, "x1"), X(e->rollback), PX_TOLERANCE);
		t = next_tag(svg, end, "<line class=\"threshold\"");
		ASSERT_TRUE((size_t)n <= strlen(e->thresholds));
		if ((size_t)n <= strlen(e->thresholds))
			ASSERT_INT_EQ(t != NULL, e->thresholds[n - 1] == '1');
		if (t != NULL) {
			double v = attr_num(t, "data-value");

			ASSERT_DBL_NEAR(attr_num(t, "y1"), y0 + hh - (v - ymin) / (ymax - ymin) *
			    hh, PX_TOLERANCE);
		}
#undef X
		svg = end;
	}
	return n;
}

/* The report of run id in fmt (caller frees); also written to $GD_REPORT_DUMP/ID.fmt. */
static char *
get_text(const char *id, const char *fmt)
{
	const char *dump = getenv("GD_REPORT_DUMP");
	char q[64], path[512], *text = NULL;
	FILE *f;

	(void)snprintf(q, sizeof(q), "?format=%s", fmt);
	ASSERT_INT_EQ(get_report(id, q, &text), 200);
	if (text == NULL)
		return strdup("");
	(void)snprintf(path, sizeof(path), "%s/%s.%s", dump != NULL ? dump : "", id, fmt);
	if (dump != NULL && (f = fopen(path, "w")) != NULL) {
		(void)fputs(text, f);
		(void)fclose(f);
	}
	return text;
}

/* The Markdown report: every section, with what the run says. */
static void
check_markdown(const char *id, const char *playbook, const char *state)
{
	static const char *const heads[] = { "\n## Run\n", "\n## Timeline\n", "\n## Faults\n",
	    "\n## Availability\n", "\n## SLAs and breaches\n", "\n## Rehearsal\n",
	    "\n## Audit\n", "No rehearsal.", "| run.start |", NULL };
	char want[128], *md = get_text(id, "md");

	(void)snprintf(want, sizeof(want), "# Game Day report: %s\n", playbook);
	ASSERT_TRUE(strncmp(md, want, strlen(want)) == 0);
	for (size_t i = 0; heads[i] != NULL; i++)
		if (strstr(md, heads[i]) == NULL)
			TEST_FAIL("the Markdown has no '%s'", heads[i]);
	(void)snprintf(want, sizeof(want), "| State | %s |", state);
	ASSERT_TRUE(strstr(md, want) != NULL);
	/* User text is escaped: no raw HTML, no table cell broken by a '|'. */
	ASSERT_TRUE(strstr(md, "report test \\<") != NULL);
	ASSERT_TRUE(strstr(md, "| Owner | sre\\|team |") != NULL);
	free(md);
}

/* ---- Tests ---- */

static char id_ok[32], id_abort[32], id_fail[32], id_old[32];

static void
test_completed(void)
{
	char probe[256], st[32], path[128], *html;
	struct sagent a;
	const cJSON *p, *s, *f, *h;
	cJSON *rep, *tl = NULL;
	double first = 0, last = 0, n = 0, bad = 0, period, down, applied, reverted, end;
	struct expect e;

	TEST_START("a completed run whose probe failed 5 times: availability by hand");
	(void)snprintf(probe, sizeof(probe), "{\"name\":\"svc\",\"type\":\"http\",\"url\":"
	    "\"http://127.0.0.1:%d/seq\",\"interval\":\"200ms\",\"timeout\":\"1s\"}", svc_port);
	/* A failed sample is a breach; 100 in a row to abort: the run goes on. */
	ASSERT_INT_EQ(apply("rep-ok", "rep-a", "R-MH", "4s", probe, "\"svc.availability >= 0% "
	    "over 1s\"", "\"guardrails\":{\"breaches_to_abort\":100},"), 201);
	agent_start(&a, "rep-a", false);
	start_run("rep-ok", false, id_ok);
	ASSERT_STR_EQ(wait_run(id_ok, "|running|failed|aborted|completed|", 15000, st),
	    "running");
	h_sleep_ms(600);
	atomic_store(&fail_next, 5);
	ASSERT_STR_EQ(wait_run(id_ok, "|completed|failed|aborted|", 20000, st), "completed");
	agent_stop(&a);
	ASSERT_INT_EQ(atomic_load(&fails_served), 5);

	/* By hand, from the timeline: each sample stands for one 200 ms interval. */
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/timeline", id_ok);
	ASSERT_INT_EQ(h_json(&g, "GET", path, op, NULL, &tl), 200);
	cJSON_ArrayForEach(s, get(tl, "samples")) {
		double t = num(s, "time_ms");

		first = n == 0 || t < first ? t : first;
		last = t > last ? t : last;
		n++;
		bad += !cJSON_IsTrue(get(s, "ok"));
	}
	cJSON_Delete(tl);
	ASSERT_DBL_NEAR(bad, 5, 0);
	ASSERT_TRUE(n >= 15);
	period = last - first + 200;
	down = bad / n * period;
	(void)printf("  %g samples, %g failed over %g ms: %.4f%%, %.1f ms down\n", n, bad,
	    period, 100 * (n - bad) / n, down);

	rep = report_json(id_ok);
	h = get(rep, "run");
	ASSERT_STR_EQ(h_str(h, "state"), "completed");
	ASSERT_STR_EQ(h_str(h, "playbook"), "rep-ok");
	ASSERT_STR_EQ(h_str(h, "environment"), "staging");
	ASSERT_STR_EQ(h_str(h, "risk"), "R-MH");
	ASSERT_STR_EQ(h_str(h, "requested_by"), "olga");
	ASSERT_DBL_NEAR(num(h, "tier"), 2, 0);
	ASSERT_TRUE(cJSON_IsString(get(h, "requested_at")));
	ASSERT_TRUE(cJSON_IsNull(get(h, "approved_by")));
	ASSERT_DBL_NEAR(num(rep, "version"), 1, 0);
	p = cJSON_GetArrayItem(get(rep, "probes"), 0);
	ASSERT_STR_EQ(h_str(p, "probe"), "svc");
	ASSERT_DBL_NEAR(num(p, "samples"), n, 0);
	ASSERT_DBL_NEAR(num(p, "failed"), 5, 0);
	ASSERT_DBL_NEAR(num(p, "period_ms"), period, 1e-6);
	ASSERT_DBL_NEAR(num(p, "downtime_ms"), down, 1e-6);
	ASSERT_DBL_NEAR(num(p, "availability_percent"), 100 * (n - 5) / n, 1e-9);
	ASSERT_DBL_NEAR(num(p, "nines"), -log10(5 / n), 1e-9);
	/* A 99.9% month allows 2,592 s; the run used its downtime of that. */
	ASSERT_DBL_NEAR(num(get(p, "budget"), "allowed_ms"), 2592000, 1e-3);
	ASSERT_DBL_NEAR(num(get(p, "budget"), "used_ms"), down, 1e-6);
	ASSERT_DBL_NEAR(num(get(p, "budget"), "used_percent"), down / 2592000 * 100, 1e-9);
	ASSERT_DBL_NEAR(num(get(rep, "slo"), "target_percent"), 99.9, 0);
	ASSERT_STR_EQ(h_str(get(rep, "rollback"), "kind"), "end");
	ASSERT_TRUE(cJSON_IsNull(get(rep, "rehearsal")));
	ASSERT_TRUE(h_json_has(get(rep, "audit"), "\"action\":\"run.start\""));
	ASSERT_TRUE(h_json_has(get(rep, "audit"), "\"action\":\"fault.applied\""));
	h = cJSON_GetArrayItem(get(rep, "hosts"), 0);
	f = cJSON_GetArrayItem(get(h, "faults"), 0);
	ASSERT_STR_EQ(h_str(h, "host"), "rep-a");
	ASSERT_STR_EQ(h_str(f, "state"), "reverted");
	ASSERT_TRUE(cJSON_IsTrue(get(f, "verified")));
	ASSERT_TRUE(cJSON_IsFalse(get(f, "open")));
	ASSERT_TRUE(cJSON_GetArraySize(get(h, "events")) >= 2);
	applied = event_ms(id_ok, "fault", NULL, "fault 0 applied");
	reverted = event_ms(id_ok, "fault", NULL, "fault 0 reverted");
	end = event_ms(id_ok, "state", "rolling_back", NULL);
	ASSERT_DBL_NEAR(num(f, "applied_ms"), applied, 2);
	ASSERT_DBL_NEAR(num(f, "reverted_ms"), reverted, 2);
	cJSON_Delete(rep);
	check_markdown(id_ok, "rep-ok", "completed");
	{
		/* The figures as the Markdown prints them. */
		char *md = get_text(id_ok, "md"), want[64];

		(void)snprintf(want, sizeof(want), "| %.3f%% |", 100 * (n - 5) / n);
		ASSERT_TRUE(strstr(md, want) != NULL);
		ASSERT_TRUE(strstr(md, "Monthly target 99.9% over 30 days: 43.2 min") != NULL);
		free(md);
	}
	html = get_text(id_ok, "html");
	check_self_contained(html);
	/* The probe's chart (availability is no latency: no line there), the SLA's chart. */
	e = (struct expect){ applied, reverted, end, "rollback end", "01" };
	ASSERT_INT_EQ(check_charts(html, &e), 2);
	/* Failed samples are drawn: one mark per failure (5 at 200 ms are 5 columns apart). */
	{
		int marks = 0;

		for (const char *c = html; (c = strstr(c, "<circle class=\"failed\"")) != NULL; c++)
			marks++;
		ASSERT_INT_EQ(marks, 5);
	}
	free(html);

	TEST_START("another monthly target: ?slo=99.99 allows 259.2 s");
	rep = NULL;
	{
		char *text = NULL;

		ASSERT_INT_EQ(get_report(id_ok, "?format=json&slo=99.99", &text), 200);
		rep = cJSON_Parse(text != NULL ? text : "");
		free(text);
	}
	p = cJSON_GetArrayItem(get(rep, "probes"), 0);
	ASSERT_DBL_NEAR(num(get(p, "budget"), "allowed_ms"), 259200, 1e-3);
	ASSERT_DBL_NEAR(num(get(p, "budget"), "used_percent"), down / 259200 * 100, 1e-9);
	cJSON_Delete(rep);
}

static void
test_aborted(void)
{
	char probe[256], st[32], *html;
	struct sagent a;
	const cJSON *h, *f, *s;
	cJSON *rep;
	double applied, reverted, abort_at;
	struct expect e;
	int nbreach = 0;

	TEST_START("an aborted run: breaches, the abort, the figures");
	(void)snprintf(probe, sizeof(probe), "{\"name\":\"svc\",\"type\":\"http\",\"url\":"
	    "\"http://127.0.0.1:%d/flip\",\"interval\":\"200ms\",\"timeout\":\"1s\"}", svc_port);
	ASSERT_INT_EQ(apply("rep-abort", "rep-b", "R-HH", "1m", probe, "\"svc.error_rate < 1% "
	    "over 1s\", \"svc.tp90 < 2000ms over 1s\"", "\"recovery_plan\":{\"url\":"
	    "\"https://wiki.example/rp/abort\",\"steps\":[\"Fail over\"]},"), 201);
	atomic_store(&flip, 0);
	agent_start(&a, "rep-b", false);
	start_run("rep-abort", false, id_abort);
	ASSERT_STR_EQ(wait_run(id_abort, "|running|failed|aborted|completed|", 15000, st),
	    "running");
	h_sleep_ms(1000);
	atomic_store(&flip, 1);
	ASSERT_STR_EQ(wait_run(id_abort, "|aborted|failed|completed|", 15000, st), "aborted");
	atomic_store(&flip, 0);
	agent_stop(&a);

	rep = report_json(id_abort);
	ASSERT_STR_EQ(h_str(get(rep, "run"), "state"), "aborted");
	ASSERT_STR_EQ(h_str(get(rep, "run"), "recovery_plan"), "https://wiki.example/rp/abort");
	ASSERT_STR_EQ(h_str(get(rep, "rollback"), "kind"), "abort");
	ASSERT_STR_EQ(h_str(get(rep, "rollback"), "actor"), "sla-guard");
	ASSERT_TRUE(num(rep, "breaches_total") >= 3);
	/* A failed sample breaches every SLA of its probe. */
	cJSON_ArrayForEach(s, get(rep, "breaches")) {
		ASSERT_TRUE(strcmp(h_str(s, "sla"), "svc.error_rate < 1% over 1s") == 0 ||
		    strcmp(h_str(s, "sla"), "svc.tp90 < 2000ms over 1s") == 0);
		nbreach++;
	}
	ASSERT_DBL_NEAR(nbreach, num(rep, "breaches_total"), 0);
	ASSERT_DBL_NEAR(num(cJSON_GetArrayItem(get(rep, "slas"), 0), "breaches") +
	    num(cJSON_GetArrayItem(get(rep, "slas"), 1), "breaches"), nbreach, 0);
	s = cJSON_GetArrayItem(get(rep, "slas"), 0);
	ASSERT_STR_EQ(h_str(s, "probe"), "svc");
	ASSERT_STR_EQ(h_str(s, "stat"), "error_rate");
	ASSERT_STR_EQ(h_str(s, "unit"), "%");
	ASSERT_DBL_NEAR(num(s, "threshold"), 1, 0);
	ASSERT_TRUE(num(s, "breaches") >= 3);
	ASSERT_TRUE(isfinite(num(get(rep, "figures"), "breach_to_abort_ms")));
	ASSERT_TRUE(num(cJSON_GetArrayItem(get(rep, "probes"), 0), "availability_percent") <
	    100);
	h = cJSON_GetArrayItem(get(rep, "hosts"), 0);
	f = cJSON_GetArrayItem(get(h, "faults"), 0);
	ASSERT_TRUE(cJSON_IsTrue(get(f, "verified")));
	cJSON_Delete(rep);
	check_markdown(id_abort, "rep-abort", "aborted");
	{
		char *md = get_text(id_abort, "md");

		ASSERT_TRUE(strstr(md, "**Abort** at ") != NULL);
		ASSERT_TRUE(strstr(md, "- First breach to abort: ") != NULL);
		free(md);
	}
	applied = event_ms(id_abort, "fault", NULL, "fault 0 applied");
	reverted = event_ms(id_abort, "fault", NULL, "fault 0 reverted");
	abort_at = event_ms(id_abort, "state", "rolling_back", NULL);
	ASSERT_TRUE(applied > 0 && reverted > applied && abort_at > applied);
	html = get_text(id_abort, "html");
	check_self_contained(html);
	/* The recovery plan's URL is text, never a link or a source. */
	ASSERT_TRUE(strstr(html, "https://wiki.example/rp/abort") != NULL);
	e = (struct expect){ applied, reverted, abort_at, "rollback abort", "111" };
	/* The probe's chart (tp90's threshold in ms) and one chart per SLA. */
	ASSERT_INT_EQ(check_charts(html, &e), 3);
	ASSERT_TRUE(strstr(html, "<circle class=\"breach\"") != NULL);
	ASSERT_TRUE(strstr(html, "<line class=\"breach\"") != NULL);
	ASSERT_TRUE(strstr(html, ">abort</text>") != NULL);
	free(html);
}

static void
test_failed(void)
{
	char probe[256], st[32], *html, *md;
	struct sagent a;
	const cJSON *f;
	cJSON *rep;
	double applied, end;
	struct expect e;

	TEST_START("a failed run: the revert failed, the fault window stays open");
	(void)snprintf(probe, sizeof(probe), "{\"name\":\"svc\",\"type\":\"http\",\"url\":"
	    "\"http://127.0.0.1:%d/ok\",\"interval\":\"200ms\",\"timeout\":\"1s\"}", svc_port);
	ASSERT_INT_EQ(apply("rep-fail", "rep-c", "R-ML", "2s", probe, "\"svc.availability >= "
	    "0% over 1s\"", ""), 201);
	agent_start(&a, "rep-c", true);
	start_run("rep-fail", false, id_fail);
	ASSERT_STR_EQ(wait_run(id_fail, "|failed|aborted|completed|", 20000, st), "failed");
	agent_stop(&a);
	rep = report_json(id_fail);
	ASSERT_STR_EQ(h_str(get(rep, "run"), "state"), "failed");
	f = cJSON_GetArrayItem(get(cJSON_GetArrayItem(get(rep, "hosts"), 0), "faults"), 0);
	ASSERT_STR_EQ(h_str(f, "state"), "revert_failed");
	ASSERT_TRUE(cJSON_IsFalse(get(f, "verified")));
	ASSERT_TRUE(cJSON_IsTrue(get(f, "open")));
	ASSERT_TRUE(cJSON_IsNull(get(f, "reverted_ms")));
	ASSERT_TRUE(strstr(h_str(f, "error"), "would not go <away>") != NULL);
	ASSERT_DBL_NEAR(num(cJSON_GetArrayItem(get(rep, "probes"), 0), "availability_percent"),
	    100, 0);
	ASSERT_TRUE(cJSON_IsNull(get(cJSON_GetArrayItem(get(rep, "probes"), 0), "nines")));
	cJSON_Delete(rep);
	check_markdown(id_fail, "rep-fail", "failed");
	md = get_text(id_fail, "md");
	ASSERT_TRUE(strstr(md, "| revert\\_failed | **no** |") != NULL);
	ASSERT_TRUE(strstr(md, "would not go \\<away\\> \\& stayed") != NULL);
	ASSERT_TRUE(strstr(md, "\xe2\x88\x9e (no failed sample)") != NULL);
	free(md);
	applied = event_ms(id_fail, "fault", NULL, "fault 0 applied");
	end = event_ms(id_fail, "state", "rolling_back", NULL);
	html = get_text(id_fail, "html");
	check_self_contained(html);
	ASSERT_TRUE(strstr(html, "would not go &lt;away&gt; &amp; stayed") != NULL);
	ASSERT_TRUE(strstr(html, "<away>") == NULL);
	e = (struct expect){ applied, -1, end, "rollback end", "01" };
	ASSERT_INT_EQ(check_charts(html, &e), 2);
	free(html);
}

static void
test_formats_and_errors(void)
{
	char *text = NULL, path[128], out[1 << 16];
	const char *cli = h_bin("GD_CLI_BIN", "gameday");
	cJSON *o = NULL;

	TEST_START("the envelope, roles, bad requests");
	ASSERT_INT_EQ(get_report(id_abort, "?format=html&envelope=json", &text), 200);
	o = cJSON_Parse(text);
	ASSERT_STR_EQ(h_str(o, "format"), "html");
	ASSERT_STR_EQ(h_str(o, "content_type"), "text/html; charset=utf-8");
	ASSERT_TRUE(strncmp(h_str(o, "body"), "<!DOCTYPE html>", 15) == 0);
	cJSON_Delete(o);
	free(text);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/report?format=md", id_abort);
	ASSERT_INT_EQ(h_http(&g, "GET", path, viewer, NULL, NULL, NULL), 200);
	ASSERT_INT_EQ(h_http(&g, "GET", path, NULL, NULL, NULL, NULL), 401);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/runs/r-0000000000000000/report", op, NULL, NULL,
	    NULL), 404);
	ASSERT_INT_EQ(get_report(id_abort, "?format=pdf", NULL), 400);
	ASSERT_INT_EQ(get_report(id_abort, "?slo=100", NULL), 400);
	ASSERT_INT_EQ(get_report(id_abort, "?slo=abc", NULL), 400);
	ASSERT_INT_EQ(get_report(id_abort, "?envelope=xml", NULL), 400);
	ASSERT_INT_EQ(h_http(&g, "POST", path, op, "{}", NULL, NULL), 405);

	TEST_START("gameday report: md by default, html, json; bad usage is exit 2");
	{
		char *argv[] = { (char *)cli, "--url", g.url, "--token", op, "report", id_abort,
		    NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
		ASSERT_TRUE(strncmp(out, "# Game Day report: rep-abort\n", 29) == 0);
		ASSERT_TRUE(strstr(out, "\n## Availability\n") != NULL);
	}
	{
		char *argv[] = { (char *)cli, "--url", g.url, "--token", op, "report", id_abort,
		    "--format", "html", NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
		ASSERT_TRUE(strncmp(out, "<!DOCTYPE html>", 15) == 0);
	}
	{
		char *argv[] = { (char *)cli, "--url", g.url, "--token", op, "report", id_abort,
		    "--format", "json", "--slo", "99.99", NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
		o = cJSON_Parse(out);
		ASSERT_STR_EQ(h_str(get(o, "run"), "id"), id_abort);
		ASSERT_DBL_NEAR(num(get(o, "slo"), "target_percent"), 99.99, 0);
		cJSON_Delete(o);
	}
	{
		char *a1[] = { (char *)cli, "--url", g.url, "report", NULL };
		char *a2[] = { (char *)cli, "--url", g.url, "report", id_abort, "--format", "pdf",
		    NULL };
		char *a3[] = { (char *)cli, "--url", g.url, "report", "--risks", "--freshness",
		    NULL };
		char *a4[] = { (char *)cli, "--url", g.url, "report", id_abort, "--slo", "100",
		    NULL };
		char *a5[] = { (char *)cli, "--url", g.url, "report", "--risks", "--days", "3",
		    NULL };
		char *a6[] = { (char *)cli, "--url", g.url, "--token", op, "report",
		    "r-0000000000000000", NULL };

		ASSERT_INT_EQ(h_run(a1, out, sizeof(out)), 2);
		ASSERT_INT_EQ(h_run(a2, out, sizeof(out)), 2);
		ASSERT_INT_EQ(h_run(a3, out, sizeof(out)), 2);
		ASSERT_INT_EQ(h_run(a4, out, sizeof(out)), 2);
		ASSERT_INT_EQ(h_run(a5, out, sizeof(out)), 2);
		ASSERT_INT_EQ(h_run(a6, out, sizeof(out)), 1);
	}
}

/* Runs SQL on gamedayd's database beside it (WAL: it keeps running). */
static int
db_exec(const char *sql, const char *arg)
{
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r = -1;

	(void)snprintf(path, sizeof(path), "%s/gameday.db", g.dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    (arg == NULL || sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC) == SQLITE_OK) &&
	    sqlite3_step(st) == SQLITE_DONE)
		r = sqlite3_changes(db);
	sqlite3_finalize(st);
	(void)sqlite3_close(db);
	return r;
}

/* The freshness report's entry for playbook name (borrowed from root), or NULL. */
static const cJSON *
entry(const cJSON *root, const char *list, const char *key, const char *name)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, get(root, list))
		if (strcmp(h_str(p, key), name) == 0)
			return p;
	return NULL;
}

static void
test_freshness(void)
{
	char st[32], idle1[32], idle2[32], out[8192];
	const cJSON *p;
	struct sagent a;
	cJSON *o = NULL;
	int i = 0;

	TEST_START("freshness: a pass 100 days ago is stale, never-passed ones are listed");
	ASSERT_INT_EQ(apply("rep-old", "rep-d", "R-XX", "1s", "", "", ""), 201);
	ASSERT_INT_EQ(apply("rep-idle", "rep-nobody", "R-LL", "1s", "", "", ""), 201);
	agent_start(&a, "rep-d", false);
	start_run("rep-old", false, id_old);
	ASSERT_STR_EQ(wait_run(id_old, "|completed|failed|aborted|", 15000, st), "completed");
	agent_stop(&a);
	/* No host matches rep-idle: both end aborted at preflight, nothing injected. */
	start_run("rep-idle", true, idle1);
	ASSERT_STR_EQ(wait_run(idle1, "|completed|failed|aborted|", 15000, st), "aborted");
	start_run("rep-idle", false, idle2);
	ASSERT_STR_EQ(wait_run(idle2, "|completed|failed|aborted|", 15000, st), "aborted");
	{
		/* A run that chose no host and measured nothing still has a report. */
		char *md = get_text(idle2, "md"), *html = get_text(idle2, "html");
		cJSON *rep = report_json(idle2);

		ASSERT_TRUE(strstr(md, "No host was chosen: nothing was injected.") != NULL);
		ASSERT_TRUE(strstr(html, "Nothing was measured or injected") != NULL);
		ASSERT_INT_EQ(cJSON_GetArraySize(get(rep, "hosts")), 0);
		ASSERT_TRUE(cJSON_IsNull(get(get(rep, "window"), "from_ms")));
		ASSERT_TRUE(cJSON_IsNull(get(rep, "rollback")));
		check_self_contained(html);
		cJSON_Delete(rep);
		free(md);
		free(html);
	}
	ASSERT_INT_EQ(db_exec("UPDATE runs SET ended = ended - 100 * 86400000 WHERE id = ?",
	    id_old), 1);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/reports/freshness", viewer, NULL, &o), 200);
	ASSERT_DBL_NEAR(num(o, "days"), 90, 0);
	/* Never passed first (by name), then the oldest pass. */
	cJSON_ArrayForEach(p, get(o, "playbooks")) {
		static const char *const order[] = { "rep-abort", "rep-fail", "rep-idle",
		    "rep-old", "rep-ok" };

		if (i < 5)
			ASSERT_STR_EQ(h_str(p, "name"), order[i]);
		i++;
	}
	ASSERT_INT_EQ(i, 5);
	ASSERT_DBL_NEAR(num(o, "stale"), 4, 0);
	p = entry(o, "playbooks", "name", "rep-old");
	ASSERT_DBL_NEAR(num(p, "days_since"), 100, 0);
	ASSERT_TRUE(cJSON_IsTrue(get(p, "stale")) && cJSON_IsFalse(get(p, "never_passed")));
	ASSERT_STR_EQ(h_str(p, "last_passed_run"), id_old);
	p = entry(o, "playbooks", "name", "rep-ok");
	ASSERT_DBL_NEAR(num(p, "days_since"), 0, 0);
	ASSERT_TRUE(cJSON_IsFalse(get(p, "stale")));
	ASSERT_STR_EQ(h_str(p, "environment"), "staging");
	ASSERT_DBL_NEAR(num(p, "tier"), 2, 0);
	p = entry(o, "playbooks", "name", "rep-abort");
	ASSERT_TRUE(cJSON_IsTrue(get(p, "never_passed")) && cJSON_IsNull(get(p, "days_since")));
	ASSERT_STR_EQ(h_str(get(p, "last_run"), "state"), "aborted");
	/* A dry run is no run here: the last run of rep-idle is the real one. */
	p = entry(o, "playbooks", "name", "rep-idle");
	ASSERT_STR_EQ(h_str(get(p, "last_run"), "id"), idle2);
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/reports/freshness?days=120", op, NULL, &o), 200);
	ASSERT_TRUE(cJSON_IsFalse(get(entry(o, "playbooks", "name", "rep-old"), "stale")));
	ASSERT_DBL_NEAR(num(o, "stale"), 3, 0);
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/reports/freshness?days=0", op, NULL, NULL, NULL),
	    400);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/reports/freshness?days=x", op, NULL, NULL, NULL),
	    400);
	{
		char *argv[] = { (char *)h_bin("GD_CLI_BIN", "gameday"), "--url", g.url,
		    "--token", op, "report", "--freshness", NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
		ASSERT_TRUE(strstr(out, "NEVER PASSED") != NULL && strstr(out, "STALE") != NULL);
		ASSERT_TRUE(strstr(out, "4 of 5 playbooks not passed within 90 days") != NULL);
	}
}

static void
test_risks(void)
{
	/* Likelihood x severity: 9, 6 (severity High), 6 (Medium), 2, 1. */
	static const char risks[] = "[{\"id\":\"R-LL\",\"system\":\"s\",\"owner\":\"o\","
	    "\"description\":\"d\",\"identified\":\"2026-01-02\",\"likelihood\":\"Low\","
	    "\"severity\":\"Low\"},{\"id\":\"R-HM\",\"system\":\"s\",\"owner\":\"o\","
	    "\"description\":\"d\",\"identified\":\"2026-01-02\",\"likelihood\":\"High\","
	    "\"severity\":\"Medium\"},{\"id\":\"R-ML\",\"system\":\"s\",\"owner\":\"o\","
	    "\"description\":\"d\",\"identified\":\"2026-01-02\",\"likelihood\":\"Medium\","
	    "\"severity\":\"Low\"},{\"id\":\"R-HH\",\"system\":\"orders db\",\"owner\":\"dba\","
	    "\"description\":\"the primary fails\",\"identified\":\"2026-01-02\","
	    "\"likelihood\":\"High\",\"severity\":\"High\"},{\"id\":\"R-MH\",\"system\":\"s\","
	    "\"owner\":\"o\",\"description\":\"d\",\"identified\":\"2026-01-02\","
	    "\"likelihood\":\"Medium\",\"severity\":\"High\"}]";
	static const char *const order[] = { "R-HH", "R-MH", "R-HM", "R-ML", "R-LL" };
	char *body, out[8192];
	const cJSON *k;
	cJSON *in, *o = NULL;
	long st;
	int i = 0;

	TEST_START("risks: High/High first, each with its last Game Day, the untouched flagged");
	in = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(in, "format", "json");
	(void)cJSON_AddStringToObject(in, "data", risks);
	body = cJSON_PrintUnformatted(in);
	cJSON_Delete(in);
	st = h_http(&g, "POST", "/v1/risks", op, body, NULL, NULL);
	cJSON_free(body);
	if (st != 200) {
		/* No import route (yet): the rows straight into the table. */
		static const char *const ids[] = { "R-LL", "R-HM", "R-ML", "R-HH", "R-MH" };
		static const char *const lv[][2] = { { "Low", "Low" }, { "High", "Medium" },
		    { "Medium", "Low" }, { "High", "High" }, { "Medium", "High" } };

		(void)printf("  POST /v1/risks answered %ld: rows inserted with sqlite3\n", st);
		for (size_t j = 0; j < 5; j++) {
			char sql[512];

			(void)snprintf(sql, sizeof(sql), "INSERT INTO risks (id, system, owner, "
			    "description, identified, likelihood, severity, created, updated, "
			    "updated_by) VALUES (?, 's', 'o', 'd', '2026-01-02', '%s', '%s', 0, 0, "
			    "'test')", lv[j][0], lv[j][1]);
			ASSERT_INT_EQ(db_exec(sql, ids[j]), 1);
		}
	}
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/reports/risks", viewer, NULL, &o), 200);
	cJSON_ArrayForEach(k, get(o, "risks")) {
		if (i < 5)
			ASSERT_STR_EQ(h_str(k, "id"), order[i]);
		i++;
	}
	ASSERT_INT_EQ(i, 5);
	ASSERT_DBL_NEAR(num(o, "total"), 5, 0);
	ASSERT_DBL_NEAR(num(o, "never_exercised"), 2, 0);
	k = entry(o, "risks", "id", "R-HH");
	ASSERT_DBL_NEAR(num(k, "score"), 9, 0);
	ASSERT_TRUE(cJSON_IsFalse(get(k, "never_exercised")));
	ASSERT_STR_EQ(h_str(get(k, "last_run"), "id"), id_abort);
	ASSERT_STR_EQ(h_str(get(k, "last_run"), "state"), "aborted");
	ASSERT_TRUE(cJSON_IsString(get(k, "last_exercised")));
	ASSERT_DBL_NEAR(num(k, "runs"), 1, 0);
	ASSERT_STR_EQ(h_str(get(entry(o, "risks", "id", "R-MH"), "last_run"), "state"),
	    "completed");
	ASSERT_STR_EQ(h_str(get(entry(o, "risks", "id", "R-ML"), "last_run"), "state"),
	    "failed");
	/* R-LL's playbook ran twice (a dry run, and a run with no host): nothing injected. */
	k = entry(o, "risks", "id", "R-LL");
	ASSERT_TRUE(cJSON_IsTrue(get(k, "never_exercised")) && cJSON_IsNull(get(k, "last_run")));
	ASSERT_TRUE(cJSON_IsTrue(get(entry(o, "risks", "id", "R-HM"), "never_exercised")));
	cJSON_Delete(o);
	{
		char *argv[] = { (char *)h_bin("GD_CLI_BIN", "gameday"), "--url", g.url,
		    "--token", op, "report", "--risks", NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
		ASSERT_TRUE(strstr(out, "R-HH") != NULL && strstr(out, "R-HH") < strstr(out,
		    "R-LL"));
		ASSERT_TRUE(strstr(out, "NEVER") != NULL);
		ASSERT_TRUE(strstr(out, "5 risks, 2 never exercised by a Game Day") != NULL);
	}
}

int
main(void)
{
	double t0 = h_now_ms();

	(void)signal(SIGPIPE, SIG_IGN);
	if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0) {
		(void)printf("skipped: needs GD_CTL_BIN (gamedayd)\n");
		return 77;
	}
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	TEST_START("setup: gamedayd, tokens, the probed service");
	ASSERT_INT_EQ(svc_start(serve, &svc_port), 0);
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "vera", "viewer", viewer, TOK), 0);
	if (test_cur_failed)
		return test_done();
	test_completed();
	test_aborted();
	test_failed();
	test_formats_and_errors();
	test_freshness();
	test_risks();
	gd_drain(&g);
	gd_stop(&g);
	if (test_failed_count == 0 && !test_cur_failed)
		gd_cleanup(&g);
	else
		(void)fprintf(stderr, "kept %s\n", g.dir);
	(void)printf("  %.1f s\n", (h_now_ms() - t0) / 1000);
	curl_global_cleanup();
	return test_done();
}
