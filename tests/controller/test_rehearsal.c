/*
 * Rehearsals end to end (controller/rehearsal.c): the real gamedayd, a real agent daemon
 * whose fault is a real nftables partition in this test's network namespace, a service
 * this test serves (its /flip breaks and mends it), a webhook that receives the page, and
 * a real Prometheus scraping gamedayd's /metrics.
 *
 *   - recovered: the oncall is paged when the fault lands; breaches do not abort; detected
 *     and step 1 acknowledged from the CLI; the service mended, the probes see it; the
 *     recovery acknowledged ends the run completed, figures against the targets;
 *   - missed: nobody acknowledges; past recover_within the controller reverts by itself
 *     and records the rehearsal missed;
 *   - /metrics, scraped by Prometheus: the runs by state and the missed rehearsal.
 *
 * Runs in PID and network namespaces of its own (ns.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "harness.h"
#include "ns.h"
#include "prom.h"
#include "svc.h"
#include "test.h"

#define TOK	128

static struct gd g;
static char adir[64], op[TOK], et[TOK];
static int svc_port;
static atomic_int flip;		/* /flip answers 200 while 0, 500 once 1. */
static pthread_mutex_t page_lock = PTHREAD_MUTEX_INITIALIZER;
static char page_body[4096];	/* The last page received. */
static atomic_int pages;

static void
serve(int fd, const char *method, const char *path, const char *req)
{
	(void)method;
	if (strcmp(path, "/flip") == 0) {
		svc_say(fd, atomic_load(&flip) == 0 ? "200 OK" : "500 Internal Server Error",
		    "text/plain", "x");
	} else if (strcmp(path, "/page") == 0) {
		const char *body = strstr(req, "\r\n\r\n");

		(void)pthread_mutex_lock(&page_lock);
		(void)snprintf(page_body, sizeof(page_body), "%s", body != NULL ? body + 4 : "");
		(void)pthread_mutex_unlock(&page_lock);
		atomic_fetch_add(&pages, 1);
		svc_say(fd, "200 OK", "text/plain", "paged");
	} else {
		svc_say(fd, "404 Not Found", "text/plain", "no");
	}
}

static long
apply(const char *name, const char *detect_within, const char *recover_within)
{
	char pb[2048];

	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":\"%s\","
	    "\"description\":\"d\",\"owner\":\"oncall\",\"environment\":\"staging\",\"tier\":3,"
	    "\"recovery_plan\":{\"steps\":[\"Fail over to the replica\",\"Confirm checkout\"]},"
	    "\"targets\":{\"tags\":{\"role\":\"t\"},\"pick\":{\"count\":1}},"
	    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[7999]}],\"duration\":\"2m\","
	    "\"steady_state\":{\"probes\":[{\"name\":\"svc\",\"type\":\"http\",\"url\":"
	    "\"http://127.0.0.1:%d/flip\",\"interval\":\"500ms\",\"timeout\":\"400ms\"}],"
	    "\"sla\":[\"svc.error_rate < 1%% over 1s\"]},"
	    "\"rehearsal\":{\"page\":\"http://127.0.0.1:%d/page\",\"detect_within\":\"%s\","
	    "\"recover_within\":\"%s\"}}", name, svc_port, svc_port, detect_within,
	    recover_within);
	return h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL);
}

static void
start_run(const char *playbook, char id[32])
{
	char body[256];
	cJSON *o = NULL;

	(void)snprintf(body, sizeof(body), "{\"playbook\":\"%s\",\"reason\":\"drill\"}", playbook);
	id[0] = '\0';
	if (h_json(&g, "POST", "/v1/runs", op, body, &o) == 201)
		(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
}

/* The run's "rehearsal" object (caller deletes the whole reply, *ret_root). */
static const cJSON *
rehearsal_of(const char *id, cJSON **ret_root)
{
	char path[128];

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	*ret_root = NULL;
	(void)h_json(&g, "GET", path, op, NULL, ret_root);
	return cJSON_GetObjectItemCaseSensitive(*ret_root, "rehearsal");
}

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

/* Runs the CLI as the operator; its exit status, stdout into out. */
static int
cli(const char *a, const char *b, const char *c3, const char *d, char *out, size_t len)
{
	char *argv[] = { (char *)h_bin("GD_CLI_BIN", "gameday"), "--url", g.url, "--token", op,
	    "rehearsal", (char *)a, (char *)b, (char *)c3, (char *)d, NULL };

	return h_run(argv, out, len);
}

static void
test_recovered(void)
{
	char id[32], st[32], out[4096];
	const cJSON *rh, *steps;
	cJSON *root;
	double t0;

	TEST_START("rehearsal: paged when the fault lands; breaches do not abort it");
	ASSERT_INT_EQ(apply("drill", "10s", "1m"), 201);
	atomic_store(&pages, 0);
	start_run("drill", id);
	ASSERT_STR_EQ(h_wait_state(&g, op, id, "|running|aborted|failed|", 15000, st), "running");
	ASSERT_INT_EQ(journal_count(), 1);
	for (t0 = h_now_ms(); atomic_load(&pages) == 0 && h_now_ms() - t0 < 5000;)
		h_sleep_ms(50);
	ASSERT_INT_EQ(atomic_load(&pages), 1);
	(void)pthread_mutex_lock(&page_lock);
	ASSERT_TRUE(strstr(page_body, "\"event\":\"page\"") != NULL);
	ASSERT_TRUE(strstr(page_body, id) != NULL);
	ASSERT_TRUE(strstr(page_body, "gameday rehearsal ack") != NULL);
	(void)pthread_mutex_unlock(&page_lock);
	atomic_store(&flip, 1);		/* The service breaks. */
	h_sleep_ms(3000);
	ASSERT_STR_EQ(h_run_state(&g, op, id, st), "running");

	TEST_START("rehearsal: detected and step 1 from the CLI; the probes see the recovery");
	ASSERT_INT_EQ(cli("ack", id, "--detected", NULL, out, sizeof(out)), 0);
	ASSERT_TRUE(strstr(out, "time to detect:") != NULL);
	ASSERT_INT_EQ(cli("step", id, "1", NULL, out, sizeof(out)), 0);
	ASSERT_INT_EQ(cli("step", id, "1", NULL, out, sizeof(out)), 1);	/* Done already. */
	ASSERT_INT_EQ(cli("ack", id, "--sideways", NULL, out, sizeof(out)), 2);
	atomic_store(&flip, 0);		/* Mended. */
	for (t0 = h_now_ms(); h_now_ms() - t0 < 5000; h_sleep_ms(100)) {
		rh = rehearsal_of(id, &root);
		if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rh,
		    "time_to_recover_probes_ms"))) {
			cJSON_Delete(root);
			break;
		}
		cJSON_Delete(root);
	}
	rh = rehearsal_of(id, &root);
	ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rh,
	    "time_to_recover_probes_ms")));
	cJSON_Delete(root);

	TEST_START("rehearsal: recovery acknowledged: the fault is taken back, figures kept");
	ASSERT_INT_EQ(cli("ack", id, "--recovered", NULL, out, sizeof(out)), 0);
	ASSERT_STR_EQ(h_wait_state(&g, op, id, "|completed|aborted|failed|", 10000, st),
	    "completed");
	ASSERT_INT_EQ(journal_count(), 0);
	rh = rehearsal_of(id, &root);
	ASSERT_STR_EQ(h_str(rh, "outcome"), "recovered");
	ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rh, "detected_in_time")));
	ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rh, "recovered_in_time")));
	ASSERT_TRUE(cJSON_GetObjectItemCaseSensitive(rh, "time_to_detect_ms")->valuedouble >=
	    3000);
	ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rh, "paged_at")));
	steps = cJSON_GetObjectItemCaseSensitive(rh, "steps");
	ASSERT_INT_EQ(cJSON_GetArraySize(steps), 2);
	ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(steps,
	    0), "done_at")));
	ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(steps,
	    1), "done_at")));
	cJSON_Delete(root);
	ASSERT_INT_EQ(cli("ack", id, "--recovered", NULL, out, sizeof(out)), 1);	/* Over. */
	ASSERT_TRUE(h_audit_has(&g, op, "rehearsal.ack", "\"ack\":\"detected\""));
	ASSERT_TRUE(h_audit_has(&g, op, "rehearsal.step", id));
}

static void
test_missed(void)
{
	char id[32], st[32];
	const cJSON *rh;
	cJSON *root;
	double t0, dt;

	TEST_START("rehearsal: nobody recovers: past recover_within the controller reverts");
	ASSERT_INT_EQ(apply("drill-missed", "2s", "4s"), 201);
	start_run("drill-missed", id);
	ASSERT_STR_EQ(h_wait_state(&g, op, id, "|running|aborted|failed|", 15000, st), "running");
	t0 = h_now_ms();
	ASSERT_STR_EQ(h_wait_state(&g, op, id, "|aborted|completed|failed|", 15000, st),
	    "aborted");
	dt = h_now_ms() - t0;
	(void)printf("  missed rehearsal reverted %.0f ms after the faults were in place\n", dt);
	ASSERT_TRUE(dt >= 3500 && dt < 4000 + 3000);
	ASSERT_INT_EQ(journal_count(), 0);
	rh = rehearsal_of(id, &root);
	ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rh, "missed")));
	ASSERT_STR_EQ(h_str(rh, "outcome"), "missed");
	cJSON_Delete(root);
	ASSERT_TRUE(h_audit_has(&g, op, "rehearsal.missed", id));
}

static void
test_metrics(void)
{
	struct prom p = { 0 };
	char pdir[128], target[64];
	const char *targets[] = { target };
	double v = -1;

	TEST_START("/metrics scraped by a real Prometheus");
	(void)snprintf(pdir, sizeof(pdir), "%s/prom", adir);
	(void)mkdir(pdir, 0700);
	(void)snprintf(target, sizeof(target), "127.0.0.1:%d", g.port);
	if (prom_start(pdir, targets, 1, 500, &p) < 0) {
		TEST_FAIL("Prometheus did not start");
		return;
	}
	for (int i = 0; i < 150 && prom_value(&p, "gameday_runs{state=\"completed\"}", &v) < 0;
	    i++)
		h_sleep_ms(100);
	ASSERT_DBL_NEAR(v, 1.0, 1e-9);
	ASSERT_INT_EQ(prom_value(&p, "gameday_run_aborts_total{reason=\"rehearsal_missed\"}",
	    &v), 0);
	ASSERT_DBL_NEAR(v, 1.0, 1e-9);
	ASSERT_INT_EQ(prom_value(&p, "gameday_faults_active", &v), 0);
	ASSERT_DBL_NEAR(v, 0.0, 1e-9);
	ASSERT_INT_EQ(prom_value(&p, "up{job=\"shop\"}", &v), 0);
	ASSERT_DBL_NEAR(v, 1.0, 1e-9);	/* The exposition parsed. */
	prom_stop(&p);
	(void)prom_rmtree(pdir);
}

int
main(void)
{
	pid_t agent;

	ns_enter_pid();
	ns_enter_net();
	(void)signal(SIGPIPE, SIG_IGN);
	if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0 ||
	    access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0 ||
	    access(h_bin("GD_CLI_BIN", ""), X_OK) != 0)
		ns_skip("needs GD_CTL_BIN, GD_AGENT_BIN and GD_CLI_BIN");
	if (access(prom_bin(), X_OK) != 0)
		ns_skip("needs Prometheus (the Debian package prometheus)");
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	(void)snprintf(adir, sizeof(adir), "/tmp/gd-test-rehearsal-XXXXXX");
	if (mkdtemp(adir) == NULL || svc_start(serve, &svc_port) < 0)
		return 1;
	TEST_START("setup: gamedayd, an agent daemon, tokens");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	ASSERT_TRUE((agent = h_agent_enrol(&g, op, et, adir, "role=t", "3s")) > 0);
	test_recovered();
	test_missed();
	test_metrics();
	(void)kill(agent, SIGTERM);
	(void)waitpid(agent, NULL, 0);
	gd_drain(&g);
	gd_stop(&g);
	if (test_failed_count == 0 && !test_cur_failed) {
		gd_cleanup(&g);
		h_rmtree(adir);
	} else {
		(void)fprintf(stderr, "kept %s (agent.log) and %s\n", adir, g.dir);
	}
	return test_done();
}
