/*
 * The dashboard (docs/dashboard.md) driven in Debian's headless Chromium: log in with a
 * viewer's token, watch a run, visit every page, press HALT, see the run halted.  The
 * browser part is tests/dashboard/dashboard.test.mjs (playwright-core); this program makes
 * the world it sees and checks the outcome through the API:
 *
 *   - its own PID and network namespaces (only lo: the browser reaches nothing else);
 *   - gamedayd, a viewer's and an operator's token;
 *   - the static files' headers (CSP, nosniff, no-cache), checked without a browser;
 *   - a run that stays running: a playbook probing gamedayd's own /healthz (so that the
 *     timeline has values and an SLA threshold), and a scripted agent over HTTP (enrol,
 *     poll, take the inject, report it applied, keep polling, report the revert);
 *   - node with the URL, the viewer's token, the run's id and the screenshot directory
 *     ($GD_OUT/dashboard-screenshots, else dashboard-screenshots/ in the working
 *     directory: ctest's is this test's build directory) in its environment;
 *   - then: the run ended halted, and the audit log has the halt by the viewer's name.
 *
 * Exits 77 (skipped, reason printed) without root, /usr/bin/chromium, node, or
 * tests/dashboard/node_modules (scripts/install-deps.sh installs all three).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "ns.h"
#include "test.h"

#define TOK		128
#define CHROMIUM	"/usr/bin/chromium"
#define NODE_TIMEOUT_MS	(240 * 1000)

static struct gd g;
static char viewer[TOK], op[TOK], et[TOK];

/* The scripted agent, in a thread of this process. */
static struct {
	char cred[TOK];
	atomic_bool stop;
	char fault_id[32];		/* The fault it holds ("" for none). */
	char order[32];			/* The inject order that made it. */
	long long seq;
	atomic_int injected, reverted;
} ag;

/* Whether the headers of one reply (as curl saw them) contain line, case-sensitively. */
struct hdrs {
	char text[4096];
	size_t len;
};

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct hdrs *h = arg;
	size_t len = size * n;

	if (h->len + len < sizeof(h->text)) {
		memcpy(h->text + h->len, data, len);
		h->len += len;
		h->text[h->len] = '\0';
	}
	return len;
}

/* GET path with no token: status, headers into *h, body length into *ret_len. */
static long
get_static(const char *path, struct hdrs *h, size_t *ret_len)
{
	struct h_buf b = { NULL, 0 };
	char url[256];
	long status = 0;
	CURL *c = curl_easy_init();

	memset(h, 0, sizeof(*h));
	if (c == NULL)
		return 0;
	(void)snprintf(url, sizeof(url), "%s%s", g.url, path);
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, h_write);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	(void)curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	(void)curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	if (curl_easy_perform(c) == CURLE_OK)
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	*ret_len = b.len;
	free(b.p);
	return status;
}

static void
check_static(void)
{
	static const char csp[] = "Content-Security-Policy: default-src 'self'; img-src 'self' "
	    "data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
	    "frame-ancestors 'none'\r\n";
	static const struct {
		const char *path, *type;
	} files[] = {
		{ "/", "text/html; charset=utf-8" },
		{ "/ui/index.html", "text/html; charset=utf-8" },
		{ "/ui/app.js", "text/javascript; charset=utf-8" },
		{ "/ui/style.css", "text/css; charset=utf-8" },
	};
	char want[128];
	struct hdrs h;
	size_t len;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		ASSERT_INT_EQ(get_static(files[i].path, &h, &len), 200);
		ASSERT_TRUE(len > 100);
		(void)snprintf(want, sizeof(want), "Content-Type: %s\r\n", files[i].type);
		ASSERT_TRUE(strstr(h.text, want) != NULL);
		ASSERT_TRUE(strstr(h.text, csp) != NULL);
		ASSERT_TRUE(strstr(h.text, "X-Content-Type-Options: nosniff\r\n") != NULL);
		ASSERT_TRUE(strstr(h.text, "Cache-Control: no-cache\r\n") != NULL);
		ASSERT_TRUE(strstr(h.text, "no-store") == NULL);
	}
	ASSERT_INT_EQ(get_static("/ui/missing.js", &h, &len), 404);
	ASSERT_INT_EQ(get_static("/ui/", &h, &len), 404);
	ASSERT_INT_EQ(get_static("/ui/%2e%2e%2fmain.c", &h, &len), 404);
	/* The API itself is unchanged: no token, no data. */
	ASSERT_INT_EQ(get_static("/v1/runs", &h, &len), 401);
	ASSERT_TRUE(strstr(h.text, "Cache-Control: no-store\r\n") != NULL);
}

/* One poll as the scripted agent (journal: the fault it holds); reply into *ret. */
static long
agent_poll(cJSON **ret)
{
	char body[1024], journal[256] = "[]";

	if (ag.fault_id[0] != '\0')
		(void)snprintf(journal, sizeof(journal), "[{\"id\":\"%s\",\"order\":\"%s\","
		    "\"state\":\"applied\",\"expires\":\"2099-01-01T00:00:00.000Z\"}]",
		    ag.fault_id, ag.order);
	(void)snprintf(body, sizeof(body), "{\"host\":\"web1\",\"tags\":{\"role\":\"web\"},"
	    "\"lease_ms\":15000,\"wait_ms\":500,\"seq\":%lld,\"faults\":%s}", ++ag.seq, journal);
	return h_json(&g, "POST", "/v1/agent/poll", ag.cred, body, ret);
}

static void
agent_report(const char *order, const char *fault_id, const char *state)
{
	char body[512];

	(void)snprintf(body, sizeof(body), "{\"host\":\"web1\",\"order\":\"%s\",\"seq\":%lld,"
	    "\"status\":\"done\",\"fault_id\":\"%s\",\"state\":\"%s\"}", order, ++ag.seq,
	    fault_id, state);
	(void)h_http(&g, "POST", "/v1/agent/report", ag.cred, body, NULL, NULL);
}

/* The scripted agent: polls, applies (on paper) what it is told, reports, until stopped. */
static void *
agent_main(void *arg)
{
	const cJSON *o;
	cJSON *r;

	(void)arg;
	while (!atomic_load(&ag.stop)) {
		r = NULL;
		if (agent_poll(&r) != 200) {
			cJSON_Delete(r);
			h_sleep_ms(100);
			continue;
		}
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r, "orders")) {
			if (strcmp(h_str(o, "action"), "inject") == 0) {
				(void)snprintf(ag.order, sizeof(ag.order), "%s", h_str(o, "id"));
				(void)snprintf(ag.fault_id, sizeof(ag.fault_id), "00000000000000d1");
				agent_report(ag.order, ag.fault_id, "applied");
				atomic_fetch_add(&ag.injected, 1);
			} else if (strcmp(h_str(o, "action"), "revert") == 0) {
				agent_report(h_str(o, "id"), h_str(o, "fault_id"), "reverted");
				ag.fault_id[0] = '\0';
				atomic_fetch_add(&ag.reverted, 1);
			}
		}
		cJSON_Delete(r);
	}
	return NULL;
}

/* A risk for the risks page to show (best effort: the page copes without one). */
static void
add_risk(void)
{
	static const char risk[] = "[{\"id\":\"R-1\",\"system\":\"checkout\",\"owner\":"
	    "\"payments\",\"description\":\"the web tier loses its database\","
	    "\"identified\":\"2026-11-01\",\"likelihood\":\"Medium\",\"severity\":\"High\"}]";
	cJSON *o = cJSON_CreateObject();
	char *body;

	(void)cJSON_AddStringToObject(o, "format", "json");
	(void)cJSON_AddStringToObject(o, "data", risk);
	if ((body = cJSON_PrintUnformatted(o)) != NULL)
		(void)h_http(&g, "POST", "/v1/risks", op, body, NULL, NULL);
	cJSON_free(body);
	cJSON_Delete(o);
}

/*
 * A scheduled playbook for the schedule page to show.  Today and the next two days (UTC)
 * are blacked out, so its next start is over a day away: no run is made ahead of it (that
 * happens a day before) and nothing of it starts during the test.
 */
static void
add_schedule(void)
{
	char pb[1024], from[16], to[16];
	time_t now = time(NULL), later = now + 2 * 86400;
	struct tm tm;

	(void)strftime(from, sizeof(from), "%Y-%m-%d", gmtime_r(&now, &tm));
	(void)strftime(to, sizeof(to), "%Y-%m-%d", gmtime_r(&later, &tm));
	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":"
	    "\"dash-daily\",\"description\":\"d\",\"owner\":\"o\",\"environment\":"
	    "\"staging\",\"tier\":3,\"targets\":{\"tags\":{\"role\":\"nobody\"},"
	    "\"pick\":{\"count\":1}},\"faults\":[{\"type\":\"network.partition\","
	    "\"ports\":[7999]}],\"duration\":\"10m\",\"schedule\":{\"timezone\":\"UTC\","
	    "\"windows\":[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\","
	    "\"sun\"],\"start\":\"10:00\",\"end\":\"12:00\"}],\"blackouts\":[{\"from\":"
	    "\"%s\",\"to\":\"%s\",\"reason\":\"the dashboard test\"}],\"every\":\"daily\"}}",
	    from, to);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL), 201);
}

/* Why the browser test cannot run here, or NULL.  *node gets node's path. */
static const char *
missing_tools(const char *src, char *node, size_t len)
{
	const char *path = getenv("PATH");
	char pkg[512];

	if (access(CHROMIUM, X_OK) != 0)
		return CHROMIUM " is missing (Debian's chromium: scripts/install-deps.sh)";
	node[0] = '\0';
	for (const char *p = path != NULL ? path : "/usr/bin"; *p != '\0';) {
		size_t n = strcspn(p, ":");

		(void)snprintf(node, len, "%.*s/node", (int)n, p);
		if (n > 0 && access(node, X_OK) == 0)
			break;
		node[0] = '\0';
		p += n + (p[n] == ':');
	}
	if (node[0] == '\0')
		return "node is not on PATH";
	(void)snprintf(pkg, sizeof(pkg), "%s/tests/dashboard/node_modules/playwright-core/"
	    "package.json", src);
	if (access(pkg, R_OK) != 0)
		return "tests/dashboard/node_modules is missing (npm ci in tests/dashboard, or "
		    "scripts/install-deps.sh)";
	return NULL;
}

/* Runs node on the browser test; its exit status (-1: could not start or timed out). */
static int
run_browser_test(const char *node, const char *src, const char *run, const char *shots)
{
	char script[512], e_url[128], e_tok[TOK + 32], e_run[64], e_shots[600];
	char *argv[] = { (char *)node, script, NULL };
	char **envp;
	size_t n = 0;
	double t0 = h_now_ms();
	int st = 0;
	pid_t pid, w;

	(void)snprintf(script, sizeof(script), "%s/tests/dashboard/dashboard.test.mjs", src);
	(void)snprintf(e_url, sizeof(e_url), "GD_URL=%s", g.url);
	(void)snprintf(e_tok, sizeof(e_tok), "GD_TOKEN=%s", viewer);
	(void)snprintf(e_run, sizeof(e_run), "GD_RUN_ID=%s", run);
	(void)snprintf(e_shots, sizeof(e_shots), "GD_SHOTS=%s", shots);
	while (environ[n] != NULL)
		n++;
	if ((envp = calloc(n + 5, sizeof(*envp))) == NULL)
		return -1;
	memcpy(envp, environ, n * sizeof(*envp));
	envp[n++] = e_url;
	envp[n++] = e_tok;
	envp[n++] = e_run;
	envp[n++] = e_shots;
	(void)fflush(NULL);
	if (posix_spawn(&pid, node, NULL, NULL, argv, envp) != 0) {
		free(envp);
		return -1;
	}
	free(envp);
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 && h_now_ms() - t0 < NODE_TIMEOUT_MS) {
		gd_drain(&g);
		h_sleep_ms(100);
	}
	if (w == 0) {
		(void)fprintf(stderr, "the browser test took over %d s: killed\n",
		    NODE_TIMEOUT_MS / 1000);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &st, 0);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
browser_test(const char *node, const char *src)
{
	char pb[1024], body[256], id[32], st[32], shots[512], cwd[256];
	const char *out = getenv("GD_OUT");
	pthread_t t;
	cJSON *o = NULL;

	TEST_START("a run that stays running: probes on /healthz, a scripted agent");
	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":\"dash\","
	    "\"description\":\"the dashboard test's run\",\"owner\":\"o\","
	    "\"environment\":\"staging\",\"tier\":3,"
	    "\"targets\":{\"tags\":{\"role\":\"web\"},\"pick\":{\"count\":1}},"
	    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[7999]}],\"duration\":\"10m\","
	    "\"steady_state\":{\"probes\":[{\"name\":\"self\",\"type\":\"http\",\"url\":"
	    "\"%s/healthz\",\"interval\":\"250ms\",\"timeout\":\"1s\"}],"
	    "\"sla\":[\"self.tp90 < 500ms over 2s\",\"self.error_rate < 50%% over 2s\"]}}", g.url);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL), 201);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/agent/enroll", et, "{\"host\":\"web1\","
	    "\"tags\":{\"role\":\"web\"}}", &o), 201);
	(void)snprintf(ag.cred, sizeof(ag.cred), "%s", h_str(o, "credential"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(pthread_create(&t, NULL, agent_main, NULL), 0);
	add_risk();
	add_schedule();
	(void)snprintf(body, sizeof(body), "{\"playbook\":\"dash\",\"reason\":\"dashboard test\"}");
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/runs", op, body, &o), 201);
	(void)snprintf(id, sizeof(id), "%s", h_str(o, "id"));
	cJSON_Delete(o);
	ASSERT_STR_EQ(h_wait_state(&g, op, id, "|running|failed|aborted|", 30000, st), "running");

	TEST_START("the browser: log in, watch the run, every page, HALT, see it halted");
	if (out != NULL && out[0] != '\0')
		(void)snprintf(shots, sizeof(shots), "%s/dashboard-screenshots", out);
	else
		(void)snprintf(shots, sizeof(shots), "%s/dashboard-screenshots",
		    getcwd(cwd, sizeof(cwd)) != NULL ? cwd : "/tmp");
	(void)mkdir(shots, 0755);
	if (strcmp(st, "running") == 0)
		ASSERT_INT_EQ(run_browser_test(node, src, id, shots), 0);

	TEST_START("through the API: the run ended halted, the audit names the viewer");
	ASSERT_STR_EQ(h_wait_state(&g, op, id, "|halted|", 15000, st), "halted");
	ASSERT_INT_EQ(atomic_load(&ag.injected), 1);
	ASSERT_INT_EQ(atomic_load(&ag.reverted), 1);
	ASSERT_TRUE(h_audit_has(&g, op, "halt.all", "\"actor\":\"vera\""));
	(void)snprintf(body, sizeof(body), "/v1/runs/%s/events", id);
	ASSERT_INT_EQ(h_json(&g, "GET", body, op, NULL, &o), 200);
	ASSERT_TRUE(h_json_has(o, "halted by vera: dashboard test"));
	cJSON_Delete(o);
	atomic_store(&ag.stop, true);
	(void)pthread_join(t, NULL);
	printf("screenshots: %s\n", shots);
}

int
main(void)
{
	const char *src = getenv("GD_SOURCE_DIR"), *why;
	char node[512];

	ns_enter_net();
	ns_enter_pid();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	TEST_START("setup");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "vera", "viewer", viewer, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	TEST_START("static files: no token, their types, the CSP, nosniff, no-cache");
	check_static();
	why = src == NULL ? "GD_SOURCE_DIR is not set (ctest sets it)" :
	    missing_tools(src, node, sizeof(node));
	if (why != NULL && test_failed_count == 0 && !test_cur_failed) {
		gd_stop(&g);
		gd_cleanup(&g);
		printf("SKIP: %s\n", why);
		return 77;
	}
	if (why == NULL)
		browser_test(node, src);
	gd_drain(&g);
	gd_stop(&g);
	if (test_failed_count == 0 && !test_cur_failed)
		gd_cleanup(&g);
	curl_global_cleanup();
	return test_done();
}
