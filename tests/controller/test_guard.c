/*
 * The SLA guard (controller/guard.c) end to end: the real gamedayd, a real agent daemon
 * whose fault is a real nftables partition in this test's network namespace, probes
 * against a small service this test serves itself, and a real Prometheus (the Debian
 * package) scraping it.
 *
 *   - preflight fails closed on every kind of bad probe (REL-19: Prometheus down, 500,
 *     garbage, NaN, empty, several samples; an http probe that fails, hangs, redirects to
 *     file:// or sends 50 MB): the run ends failed with the reason, nothing injected;
 *   - an SLA that never breaches: preflight holds for its window, the run completes at its
 *     duration and every fault is reverted;
 *   - REL-07: probe interval 1 s, 3 breaches to abort: the abort comes within 3 s + 1 s of
 *     the first breach and the revert is verified within 2 s of the abort; the audit says
 *     sla-guard did it, with the expression and the values.
 *
 * Runs in PID and network namespaces of its own (ns.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "harness.h"
#include "ns.h"
#include "prom.h"
#include "svc.h"
#include "test.h"

#define TOK		128
#define FAULT_PORT	7999	/* The port every fault here partitions. */

static struct gd g;
static char adir[64], op[TOK], et[TOK];
static int svc_port;
static atomic_int flip;		/* /flip answers 200 while 0, 500 once 1. */

/* ---- The service under test: one thread per connection, the path says what it does. ---- */

static void
prom_reply(int fd, const char *kind)
{
	static const struct { const char *kind, *status, *body; } r[] = {
		{ "ok", "200 OK", "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
		    "\"result\":[1700000000.1,\"1\"]}}" },
		{ "nan", "200 OK", "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[{\"metric\":{},\"value\":[1700000000.1,\"NaN\"]}]}}" },
		{ "empty", "200 OK", "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[]}}" },
		{ "multi", "200 OK", "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[{\"metric\":{\"a\":\"1\"},\"value\":[1,\"1\"]},"
		    "{\"metric\":{\"a\":\"2\"},\"value\":[1,\"2\"]},"
		    "{\"metric\":{\"a\":\"3\"},\"value\":[1,\"3\"]}]}}" },
		{ "garbage", "200 OK", "<html>this is not Prometheus</html>" },
		{ "500", "500 Internal Server Error", "{\"status\":\"error\",\"errorType\":"
		    "\"internal\",\"error\":\"boom\"}" },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (strncmp(kind, r[i].kind, strlen(r[i].kind)) == 0 &&
		    kind[strlen(r[i].kind)] == '/') {
			svc_say(fd, r[i].status, "application/json", r[i].body);
			return;
		}
	svc_say(fd, "404 Not Found", "text/plain", "no such reply");
}

static void
serve(int fd, const char *method, const char *path, const char *req)
{
	(void)method;
	(void)req;
	if (strcmp(path, "/ok") == 0) {
		svc_say(fd, "200 OK", "text/plain", "ok");
	} else if (strcmp(path, "/fail") == 0) {
		svc_say(fd, "500 Internal Server Error", "text/plain", "down");
	} else if (strcmp(path, "/flip") == 0) {
		if (atomic_load(&flip) == 0)
			svc_say(fd, "200 OK", "text/plain", "ok");
		else
			svc_say(fd, "500 Internal Server Error", "text/plain", "down");
	} else if (strcmp(path, "/metrics") == 0) {
		svc_say(fd, "200 OK", "text/plain; version=0.0.4", "# TYPE gd_test_up gauge\n"
		    "gd_test_up 1\n");
	} else if (strcmp(path, "/hang") == 0) {
		char c;

		if (read(fd, &c, 1) < 0)	/* Until the probe gives up and closes. */
			c = 0;
	} else if (strcmp(path, "/tofile") == 0) {
		const char *h = "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n";

		if (write(fd, h, strlen(h)) < 0)
			return;
	} else if (strcmp(path, "/big") == 0) {
		static char chunk[65536];
		const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n"
		    "Connection: close\r\n\r\n";

		memset(chunk, 'x', sizeof(chunk));
		if (write(fd, h, strlen(h)) > 0)
			for (int i = 0; i < 800 && write(fd, chunk, sizeof(chunk)) > 0; i++)
				;
	} else if (strncmp(path, "/p-", 3) == 0) {
		prom_reply(fd, path + 3);
	} else {
		svc_say(fd, "404 Not Found", "text/plain", "no");
	}
}

/* ---- Runs ---- */

/* Applies playbook name with one partition fault, the given probes and SLAs. */
/* Waits up to ms for run id to reach a state of want ("|a|b|"); the last state seen. */
static const char *
wait_run(const char *id, const char *want, long ms, char buf[32])
{
	return h_wait_state(&g, op, id, want, ms, buf);
}

static long
apply(const char *name, const char *probes, const char *slas, const char *duration)
{
	char pb[4096];

	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":\"%s\","
	    "\"description\":\"d\",\"owner\":\"o\",\"environment\":\"staging\",\"tier\":3,"
	    "\"targets\":{\"tags\":{\"role\":\"t\"},\"pick\":{\"count\":1}},"
	    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[%d]}],\"duration\":\"%s\","
	    "\"steady_state\":{\"probes\":[%s],\"sla\":[%s]},"
	    "\"guardrails\":{\"breaches_to_abort\":3}}", name, FAULT_PORT, duration, probes, slas);
	return h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL);
}

static void
start_run(const char *playbook, char id[32])
{
	char body[256];
	cJSON *o = NULL;

	(void)snprintf(body, sizeof(body), "{\"playbook\":\"%s\",\"reason\":\"guard test\"}",
	    playbook);
	id[0] = '\0';
	if (h_json(&g, "POST", "/v1/runs", op, body, &o) == 201)
		(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
}

/* GET /v1/runs/{id} (caller deletes). */
static cJSON *
get_run(const char *id)
{
	char path[128];
	cJSON *o = NULL;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	(void)h_json(&g, "GET", path, op, NULL, &o);
	return o;
}

/* Fault entries in the agent's journal: what is applied on this host now. */
static int
journal_count(void)
{
	char path[128];
	struct dirent *e;
	DIR *d;
	int n = 0;

	(void)snprintf(path, sizeof(path), "%s/state/journal", adir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	(void)closedir(d);
	return n;
}

/* ---- Tests ---- */

static void
test_preflight_fails_closed(void)
{
	char http[512], prom[512], name[64], id[32], st[32];
	static const struct { const char *path, *type, *why; } bad[] = {
		{ "/fail", "http", "500" },
		{ "/hang", "http", "timed out" },
		{ "/tofile", "http", "file" },
		{ "/big", "http", "1 MiB" },
		{ "/p-nan", "prometheus", "NaN" },
		{ "/p-empty", "prometheus", "no samples" },
		{ "/p-multi", "prometheus", "3 samples" },
		{ "/p-garbage", "prometheus", "" },
		{ "/p-500", "prometheus", "" },
		{ "down", "prometheus", "" },
	};

	TEST_START("REL-19: preflight fails closed on every bad probe; nothing is injected");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *o;
		char url[128];

		if (strcmp(bad[i].path, "down") == 0)
			(void)snprintf(url, sizeof(url), "http://127.0.0.1:9");	/* Nobody. */
		else
			(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", svc_port,
			    bad[i].path);
		(void)snprintf(name, sizeof(name), "bad-%zu", i);
		if (strcmp(bad[i].type, "http") == 0) {
			(void)snprintf(http, sizeof(http), "{\"name\":\"svc\",\"type\":\"http\","
			    "\"url\":\"%s\",\"interval\":\"200ms\",\"timeout\":\"500ms\"}", url);
			ASSERT_INT_EQ(apply(name, http, "\"svc.error_rate < 1% over 2s\"", "1m"),
			    201);
		} else {
			(void)snprintf(prom, sizeof(prom), "{\"name\":\"q\",\"type\":"
			    "\"prometheus\",\"url\":\"%s\",\"query\":\"sum(up)\","
			    "\"interval\":\"200ms\",\"timeout\":\"500ms\"}", url);
			ASSERT_INT_EQ(apply(name, prom, "\"q.value >= 1 over 2s\"", "1m"), 201);
		}
		start_run(name, id);
		ASSERT_TRUE(id[0] != '\0');
		ASSERT_STR_EQ(wait_run(id, "|failed|completed|aborted|running|", 15000, st),
		    "failed");
		o = get_run(id);
		if (!h_json_has(o, "steady state does not hold") || !h_json_has(o, bad[i].why))
			TEST_FAIL("%s: outcome '%s' does not say why (want '%s')", bad[i].path,
			    h_str(o, "outcome"), bad[i].why);
		/* No target was chosen, no order made. */
		ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "targets")),
		    0);
		cJSON_Delete(o);
		ASSERT_INT_EQ(journal_count(), 0);
		ASSERT_TRUE(h_audit_has(&g, op, "run.preflight_failed", id));
	}
}

static void
test_never_breaches(void)
{
	char probes[512], id[32], st[32], path[128];
	struct prom p = { 0 };
	char pdir[128], target[64];
	const char *targets[] = { target };
	double v = 0;
	cJSON *o;

	TEST_START("a real Prometheus: an SLA that never breaches; the run completes, reverted");
	(void)snprintf(pdir, sizeof(pdir), "%s/prom", adir);
	(void)mkdir(pdir, 0700);
	(void)snprintf(target, sizeof(target), "127.0.0.1:%d", svc_port);
	if (prom_start(pdir, targets, 1, 500, &p) < 0) {
		TEST_FAIL("Prometheus did not start");
		return;
	}
	for (int i = 0; i < 100 && (prom_value(&p, "sum(gd_test_up)", &v) < 0 || v < 1); i++)
		h_sleep_ms(100);
	ASSERT_DBL_NEAR(v, 1.0, 1e-9);
	(void)snprintf(probes, sizeof(probes), "{\"name\":\"svc\",\"type\":\"http\",\"url\":"
	    "\"http://127.0.0.1:%d/ok\",\"interval\":\"200ms\",\"timeout\":\"1s\"},"
	    "{\"name\":\"q\",\"type\":\"prometheus\",\"url\":\"http://127.0.0.1:%u\","
	    "\"query\":\"sum(gd_test_up)\",\"interval\":\"500ms\",\"timeout\":\"2s\"}",
	    svc_port, p.port);
	ASSERT_INT_EQ(apply("calm", probes, "\"svc.tp99 < 1000ms over 2s\", "
	    "\"svc.availability >= 99% over 2s\", \"q.value >= 1 over 2s\"", "3s"), 201);
	start_run("calm", id);
	ASSERT_STR_EQ(wait_run(id, "|running|failed|aborted|", 15000, st), "running");
	ASSERT_INT_EQ(journal_count(), 1);
	ASSERT_STR_EQ(wait_run(id, "|completed|failed|aborted|", 20000, st), "completed");
	ASSERT_INT_EQ(journal_count(), 0);
	o = get_run(id);
	ASSERT_TRUE(h_json_has(o, "\"state\":\"reverted\""));
	ASSERT_TRUE(h_json_has(o, "\"probe\":\"q\""));
	ASSERT_TRUE(h_json_has(o, "\"availability_percent\":100"));
	cJSON_Delete(o);
	/* The timeline holds Prometheus' value, evaluated at every sample. */
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/timeline", id);
	ASSERT_INT_EQ(h_json(&g, "GET", path, op, NULL, &o), 200);
	ASSERT_TRUE(h_json_has(o, "\"probe\":\"q\",\"time_ms\""));
	ASSERT_TRUE(h_json_has(o, "\"sla\":\"q.value >= 1 over 2s\""));
	ASSERT_TRUE(!h_json_has(o, "\"holds\":false"));
	cJSON_Delete(o);
	ASSERT_TRUE(h_audit_has(&g, op, "run.steady_state", id));

	TEST_START("REL-19 with the real Prometheus stopped: preflight fails, nothing injected");
	prom_stop(&p);
	start_run("calm", id);
	ASSERT_STR_EQ(wait_run(id, "|failed|running|completed|", 15000, st), "failed");
	o = get_run(id);
	ASSERT_TRUE(h_json_has(o, "q.value >= 1 over 2s"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(journal_count(), 0);
	(void)prom_rmtree(pdir);
}

static void
test_rel07(void)
{
	char probes[512], id[32], st[32], out[8192];
	double t_flip, t_abort = 0, t_end;
	const cJSON *f;
	cJSON *o;

	TEST_START("REL-07: 3 breaches at 1 s: abort within 3 s + 1 s, revert within 2 s");
	atomic_store(&flip, 0);
	(void)snprintf(probes, sizeof(probes), "{\"name\":\"svc\",\"type\":\"http\",\"url\":"
	    "\"http://127.0.0.1:%d/flip\",\"interval\":\"1s\",\"timeout\":\"500ms\"}", svc_port);
	ASSERT_INT_EQ(apply("rel07", probes, "\"svc.error_rate < 1% over 2s\"", "2m"), 201);
	start_run("rel07", id);
	ASSERT_STR_EQ(wait_run(id, "|running|failed|aborted|", 15000, st), "running");
	ASSERT_INT_EQ(journal_count(), 1);
	h_sleep_ms(1500);
	atomic_store(&flip, 1);
	t_flip = h_now_ms();
	ASSERT_STR_EQ(wait_run(id, "|rolling_back|aborted|failed|", 10000, st), st);
	t_abort = h_now_ms();
	ASSERT_TRUE(strcmp(st, "rolling_back") == 0 || strcmp(st, "aborted") == 0);
	ASSERT_STR_EQ(wait_run(id, "|aborted|failed|completed|", 10000, st), "aborted");
	t_end = h_now_ms();
	ASSERT_INT_EQ(journal_count(), 0);
	(void)printf("  flip to abort seen %.0f ms, to aborted %.0f ms\n", t_abort - t_flip,
	    t_end - t_flip);
	/* The first breaching sample is at most one interval after the flip. */
	ASSERT_TRUE(t_abort - t_flip <= 1000 + 3000 + 1000);
	o = get_run(id);
	f = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o,
	    "steady_state"), "figures");
	{
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(f, "breach_to_abort_ms");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(f, "abort_to_reverted_ms");

		ASSERT_TRUE(cJSON_IsNumber(a) && cJSON_IsNumber(r));
		(void)printf("  first breach to abort %.0f ms, abort to verified revert %.0f ms\n",
		    a->valuedouble, r->valuedouble);
		ASSERT_TRUE(a->valuedouble <= 3000 + 1000);
		ASSERT_TRUE(r->valuedouble <= 2000);
	}
	cJSON_Delete(o);
	{
		char path[128];

		(void)snprintf(path, sizeof(path), "/v1/runs/%s/events", id);
		ASSERT_INT_EQ(h_json(&g, "GET", path, op, NULL, &o), 200);
		ASSERT_TRUE(h_json_has(o, "\"actor\":\"sla-guard\",\"kind\":\"state\","
		    "\"state\":\"rolling_back\""));
		ASSERT_TRUE(h_json_has(o, "SLA breached 3 times in a row: svc.error_rate < 1% "
		    "over 2s (last values: "));
		cJSON_Delete(o);
	}
	ASSERT_TRUE(h_audit_has(&g, op, "run.abort", "svc.error_rate < 1% over 2s"));
	{
		/* `gameday run show` says it too. */
		char *argv[] = { (char *)h_bin("GD_CLI_BIN", "gameday"), "--url", g.url, "--token",
		    op, "run", "show", id, NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
		ASSERT_TRUE(strstr(out, "sla svc.error_rate < 1% over 2s: BREACHED") != NULL);
		ASSERT_TRUE(strstr(out, "first breach to abort:") != NULL);
	}
	atomic_store(&flip, 0);
}

int
main(void)
{
	pid_t agent;

	ns_enter_pid();
	ns_enter_net();
	(void)signal(SIGPIPE, SIG_IGN);	/* The probes hang up on /big and /hang. */
	if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0 ||
	    access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0)
		ns_skip("needs GD_CTL_BIN (gamedayd) and GD_AGENT_BIN (gameday-agent)");
	if (access(prom_bin(), X_OK) != 0)
		ns_skip("needs Prometheus (the Debian package prometheus)");
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	(void)snprintf(adir, sizeof(adir), "/tmp/gd-test-guard-XXXXXX");
	if (mkdtemp(adir) == NULL || svc_start(serve, &svc_port) < 0)
		return 1;
	TEST_START("setup: gamedayd, an agent daemon, tokens");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	ASSERT_TRUE((agent = h_agent_enrol(&g, op, et, adir, "role=t", "3s")) > 0);
	test_preflight_fails_closed();
	test_never_breaches();
	test_rel07();
	(void)kill(agent, SIGTERM);
	(void)waitpid(agent, NULL, 0);
	gd_drain(&g);
	gd_stop(&g);
	gd_cleanup(&g);
	if (test_failed_count == 0 && !test_cur_failed)
		h_rmtree(adir);
	else
		(void)fprintf(stderr, "kept %s (agent.log)\n", adir);
	return test_done();
}
