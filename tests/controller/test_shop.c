/*
 * The demo's sample service (examples/shop, GD_SHOP_BIN) as built, with a real Prometheus
 * (prom.h).  A checkout answers 200 while the db is up and 503 within --db-timeout when it
 * hangs or is gone; each checkout opens a new connection to the db (the latency fault's
 * proxy sees only new connections); the /metrics text is what Prometheus parses, and the
 * counters it scrapes match the checkouts made.
 *
 * Runs in a network namespace of its own (ns.h), so fixed loopback ports are free and
 * nothing touches the machine's network.  It stops only the processes it started, by pid.
 */
#include <math.h>
#include <pthread.h>

#include "ns.h"
#include "prom.h"
#include "test.h"

#define WEB_PORT	18080
#define DB_PORT		18081
#define DB_TIMEOUT_MS	500
#define SLACK_MS	1500	/* Scheduling slack on a busy machine (or under ASan). */
#define CONCURRENT	50

static char dir[64];
static const char *shop_bin;
static int n_ok, n_fail;	/* Checkouts answered 200 and 503, for the counters. */
static int n_ok_restart;	/* n_ok when the db restarted (with its counters at 0). */

/* Starts `gameday-shop argv...`, its stderr appended to dir/name.log. */
static pid_t
shop_start(const char *name, char *const args[])
{
	char log[128];
	char *argv[10] = { (char *)shop_bin };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	size_t i;

	for (i = 0; args[i] != NULL && i + 2 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	(void)snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	(void)posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log,
	    O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (posix_spawn(&pid, shop_bin, &fa, NULL, argv, environ) != 0)
		pid = -1;
	(void)posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Runs `gameday-shop args...` to its end; its stderr into err.  Returns the exit status. */
static int
shop_run(char *const args[], char *err, size_t errlen)
{
	char path[128];
	pid_t pid;
	ssize_t n;
	int fd, st = 0;

	(void)snprintf(path, sizeof(path), "%s/run.log", dir);
	(void)unlink(path);
	if ((pid = shop_start("run", args)) < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	err[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		if ((n = read(fd, err, errlen - 1)) > 0)
			err[n] = '\0';
		(void)close(fd);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* SIGTERM and wait; returns the exit status (128 + signal when killed by one). */
static int
shop_stop(pid_t *pid)
{
	int st = 0;

	if (*pid <= 0)
		return -1;
	(void)kill(*pid, SIGTERM);
	(void)waitpid(*pid, &st, 0);
	*pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* GET http://127.0.0.1:port/path; the HTTP status, or 0 when nothing answered. */
static long
get(int port, const char *path, char *body, size_t len)
{
	char url[128];
	long status = 0;

	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	if (prom_get(url, 10000, body, len, &status) < 0)
		return 0;
	return status;
}

/* Waits up to 10 s for /healthz on port to answer 200. */
static int
wait_healthy(int port)
{
	double t0 = prom_now_ms();
	char body[256];

	while (prom_now_ms() - t0 < 10000) {
		if (get(port, "/healthz", body, sizeof(body)) == 200)
			return 0;
		prom_sleep_ms(20);
	}
	return -1;
}

static pid_t
db_start(void)
{
	char listen[32];
	char *args[] = { "db", "--listen", listen, NULL };
	pid_t pid;

	(void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", DB_PORT);
	pid = shop_start("db", args);
	return pid > 0 && wait_healthy(DB_PORT) == 0 ? pid : -1;
}

/* One checkout: its status, counted in n_ok / n_fail; the time it took into *ms. */
static long
checkout(char *body, size_t len, double *ms)
{
	double t0 = prom_now_ms();
	long st = get(WEB_PORT, "/checkout", body, len);

	if (ms != NULL)
		*ms = prom_now_ms() - t0;
	if (st == 200)
		n_ok++;
	else if (st == 503)
		n_fail++;
	return st;
}

/* A sample of the text exposition in text, by its series name and labels; -1 if absent. */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p;

	for (p = text; (p = strstr(p, series)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void *
concurrent_checkout(void *arg)
{
	char body[256];

	*(long *)arg = get(WEB_PORT, "/checkout", body, sizeof(body));
	return NULL;
}

static void
test_flags(void)
{
	char *no_db[] = { "web", "--listen", "127.0.0.1:1", NULL };
	char *bad_addr[] = { "db", "--listen", "localhost:80", NULL };
	char *bad_dur[] = { "web", "--listen", "127.0.0.1:1", "--db", "127.0.0.1:2",
	    "--db-timeout", "5x", NULL };
	char *bad_flag[] = { "db", "--listen", "[::1]:1", "--bogus", NULL };
	char *bad_tier[] = { "cache", NULL };
	char *const *cases[] = { no_db, bad_addr, bad_dur, bad_flag, bad_tier };
	char err[2048];

	TEST_START("bad flags: usage on stderr, exit 2");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_INT_EQ(shop_run(cases[i], err, sizeof(err)), 2);
		ASSERT_TRUE(strstr(err, "usage: gameday-shop") != NULL);
	}
}

/* Checkouts while the db is up, hangs (SIGSTOP), is gone, and is back. */
static void
test_checkout(pid_t *db)
{
	pthread_t th[CONCURRENT];
	bool started[CONCURRENT];
	long st[CONCURRENT];
	char body[512];
	double ms;
	int ok = 0;

	TEST_START("GET /checkout answers 200 {\"order\":\"ok\"} while the db is up");
	for (int i = 0; i < 20; i++) {
		ASSERT_INT_EQ(checkout(body, sizeof(body), NULL), 200);
		ASSERT_STR_EQ(body, "{\"order\":\"ok\"}");
	}
	ASSERT_INT_EQ(get(DB_PORT, "/query", body, sizeof(body)), 200);
	ASSERT_STR_EQ(body, "{\"rows\":1}");
	ASSERT_INT_EQ(get(WEB_PORT, "/nowhere", body, sizeof(body)), 404);

	TEST_START("50 concurrent checkouts all answer 200");
	for (int i = 0; i < CONCURRENT; i++) {
		st[i] = 0;
		started[i] = pthread_create(&th[i], NULL, concurrent_checkout, &st[i]) == 0;
	}
	for (int i = 0; i < CONCURRENT; i++) {
		if (started[i])
			(void)pthread_join(th[i], NULL);
		ok += st[i] == 200;
		n_ok += st[i] == 200;
		n_fail += st[i] == 503;
	}
	ASSERT_INT_EQ(ok, CONCURRENT);

	TEST_START("db hangs (SIGSTOP): /checkout answers 503 after about --db-timeout");
	(void)kill(*db, SIGSTOP);
	ASSERT_INT_EQ(checkout(body, sizeof(body), &ms), 503);
	(void)kill(*db, SIGCONT);
	printf("checkout with the db stopped: 503 after %.0f ms (--db-timeout %d ms)\n", ms,
	    DB_TIMEOUT_MS);
	ASSERT_TRUE(ms >= DB_TIMEOUT_MS - 50 && ms <= DB_TIMEOUT_MS + SLACK_MS);
	ASSERT_TRUE(strstr(body, "\"error\":\"db: ") != NULL);

	TEST_START("db gone (SIGTERM): it exits 0 and /checkout answers 503 at once");
	ASSERT_INT_EQ(shop_stop(db), 0);
	for (int i = 0; i < 3; i++) {
		ASSERT_INT_EQ(checkout(body, sizeof(body), &ms), 503);
		ASSERT_TRUE(ms <= DB_TIMEOUT_MS + SLACK_MS);
		ASSERT_TRUE(strstr(body, "\"error\":\"db: ") != NULL);
	}

	TEST_START("db restarted: /checkout answers 200 again");
	ASSERT_TRUE((*db = db_start()) > 0);
	n_ok_restart = n_ok;
	for (int i = 0; i < 10; i++)
		ASSERT_INT_EQ(checkout(body, sizeof(body), NULL), 200);
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/*
 * k checkouts over one keep-alive connection to web (one thread there, so a per-thread db
 * handle would keep its connection too); returns how many answered 200, counted in n_ok.
 */
static int
checkouts_keepalive(int k)
{
	CURL *h = curl_easy_init();
	long st = 0;
	int ok = 0;
	char url[64];

	if (h == NULL)
		return 0;
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/checkout", WEB_PORT);
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	for (int i = 0; i < k; i++)
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st == 200)
			ok++;
	curl_easy_cleanup(h);
	n_ok += ok;
	return ok;
}

/*
 * Every checkout opened a new connection to the db: between two reads of the db's
 * /metrics, k checkouts add k queries and k + 1 connections (the second read's own).
 * Checkouts are made on new connections to web, then all on one.
 */
static void
test_new_connections(void)
{
	static char m1[8192], m2[8192];
	const char *conn = "shop_connections_total{tier=\"db\"}";
	const char *req = "shop_requests_total{tier=\"db\",code=\"200\"}";
	char body[256];

	TEST_START("each checkout opens a new TCP connection to the db");
	ASSERT_INT_EQ(get(DB_PORT, "/metrics", m1, sizeof(m1)), 200);
	ASSERT_TRUE(sample(m1, conn) >= 0 && sample(m1, req) >= 0);
	for (int i = 0; i < 10; i++)
		ASSERT_INT_EQ(checkout(body, sizeof(body), NULL), 200);
	ASSERT_INT_EQ(checkouts_keepalive(10), 10);
	ASSERT_INT_EQ(get(DB_PORT, "/metrics", m2, sizeof(m2)), 200);
	ASSERT_DBL_NEAR(sample(m2, req) - sample(m1, req), 20, 0);
	ASSERT_DBL_NEAR(sample(m2, conn) - sample(m1, conn), 21, 0);
}

static void
test_metrics_text(void)
{
	static const char *const le[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	    "1", "2.5", "5", "+Inf" };
	double bucket[sizeof(le) / sizeof(le[0])];
	static char m[8192];
	char series[128];
	size_t i, n = sizeof(le) / sizeof(le[0]);

	TEST_START("web /metrics: HELP/TYPE lines, counters and a consistent histogram");
	ASSERT_INT_EQ(get(WEB_PORT, "/metrics", m, sizeof(m)), 200);
	ASSERT_TRUE(strstr(m, "# HELP shop_requests_total ") != NULL);
	ASSERT_TRUE(strstr(m, "# TYPE shop_requests_total counter\n") != NULL);
	ASSERT_TRUE(strstr(m, "# HELP shop_request_duration_seconds ") != NULL);
	ASSERT_TRUE(strstr(m, "# TYPE shop_request_duration_seconds histogram\n") != NULL);
	ASSERT_DBL_NEAR(sample(m, "shop_requests_total{tier=\"web\",code=\"200\"}"), n_ok, 0);
	ASSERT_DBL_NEAR(sample(m, "shop_requests_total{tier=\"web\",code=\"503\"}"), n_fail, 0);
	for (i = 0; i < n; i++) {
		(void)snprintf(series, sizeof(series),
		    "shop_request_duration_seconds_bucket{tier=\"web\",le=\"%s\"}", le[i]);
		bucket[i] = sample(m, series);
		ASSERT_TRUE(bucket[i] >= (i > 0 ? bucket[i - 1] : 0));
	}
	ASSERT_DBL_NEAR(bucket[n - 1], n_ok + n_fail, 0);
	ASSERT_DBL_NEAR(sample(m, "shop_request_duration_seconds_count{tier=\"web\"}"),
	    n_ok + n_fail, 0);
	ASSERT_TRUE(sample(m, "shop_request_duration_seconds_sum{tier=\"web\"}") >= 0.5);
	/* The one hung checkout took --db-timeout (500 ms): over le="0.25", within le="1". */
	ASSERT_TRUE(bucket[5] < bucket[7]);
}

/* Waits up to ms for q to equal want; returns the last value seen (NAN when none). */
static double
prom_wait_value(const struct prom *p, const char *q, double want, int ms)
{
	double t0 = prom_now_ms(), v = NAN;

	while (prom_now_ms() - t0 < ms) {
		if (prom_value(p, q, &v) == 0 && v == want)
			break;
		prom_sleep_ms(100);
	}
	return v;
}

/* Prometheus scrapes both tiers every 500 ms; its numbers are the checkouts made. */
static void
test_prometheus(void)
{
	int db_ok = n_ok - n_ok_restart;
	char web[32], db[32], pdir[96], buf[16384];
	const char *const targets[] = { web, db };
	struct prom p;
	cJSON *root;
	double t0, v = 0, first_ms;
	int before;

	(void)snprintf(web, sizeof(web), "127.0.0.1:%d", WEB_PORT);
	(void)snprintf(db, sizeof(db), "127.0.0.1:%d", DB_PORT);
	(void)snprintf(pdir, sizeof(pdir), "%s/prom", dir);
	TEST_START("Prometheus starts and scrapes both tiers every 500 ms");
	t0 = prom_now_ms();
	if (prom_start(pdir, targets, 2, 500, &p) < 0) {
		TEST_FAIL("prom_start failed");
		return;
	}
	printf("prom_start took %.0f ms\n", prom_now_ms() - t0);
	ASSERT_DBL_NEAR(prom_wait_value(&p, "count(up{job=\"shop\"} == 1)", 2, 20000), 2, 0);

	TEST_START("sum(shop_requests_total{tier=\"web\"}) is the number of checkouts");
	t0 = prom_now_ms();
	while (prom_now_ms() - t0 < 20000) {
		const char *status;

		if (prom_query(&p, "sum(shop_requests_total{tier=\"web\"})", buf,
		    sizeof(buf)) < 0) {
			TEST_FAIL("the query failed");
			break;
		}
		root = cJSON_Parse(buf);
		status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "status"));
		if (root == NULL || status == NULL || strcmp(status, "success") != 0) {
			TEST_FAIL("not a successful query reply: %s", buf);
			cJSON_Delete(root);
			break;
		}
		cJSON_Delete(root);
		if (prom_value(&p, "sum(shop_requests_total{tier=\"web\"})", &v) == 0 && v > 0)
			break;
		prom_sleep_ms(100);
	}
	first_ms = prom_now_ms() - t0;
	printf("first scraped web total %.0f after %.0f ms (checkouts: %d ok, %d failed)\n", v,
	    first_ms, n_ok, n_fail);
	ASSERT_DBL_NEAR(v, n_ok + n_fail, 0);
	ASSERT_DBL_NEAR(prom_wait_value(&p,
	    "sum(shop_requests_total{tier=\"web\",code=\"503\"})", n_fail, 5000), n_fail, 0);
	ASSERT_DBL_NEAR(prom_wait_value(&p,
	    "sum(shop_request_duration_seconds_count{tier=\"web\"})", n_ok + n_fail, 5000),
	    n_ok + n_fail, 0);
	ASSERT_DBL_NEAR(prom_wait_value(&p, "sum(shop_requests_total{tier=\"db\"})", db_ok,
	    5000), db_ok, 0);
	ASSERT_INT_EQ(prom_value(&p, "sum(shop_requests_total{tier=\"cache\"})", &v), -ENOENT);

	TEST_START("checkouts made now show up in Prometheus within a few scrapes");
	before = n_ok + n_fail;
	for (int i = 0; i < 7; i++)
		ASSERT_INT_EQ(checkout(buf, sizeof(buf), NULL), 200);
	ASSERT_DBL_NEAR(prom_wait_value(&p, "sum(shop_requests_total{tier=\"web\"})",
	    before + 7, 5000), before + 7, 0);

	prom_stop(&p);
	ASSERT_INT_EQ(p.pid, 0);
	(void)prom_rmtree(pdir);
}

/* Copies a log file to stderr, for a failed run. */
static void
dump(const char *name)
{
	char path[128], buf[4096];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	(void)fprintf(stderr, "--- %s ---\n", name);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)fwrite(buf, 1, (size_t)n, stderr);
	(void)close(fd);
}

int
main(void)
{
	char listen[32], dbaddr[32], timeout[16];
	char *web_args[] = { "web", "--listen", listen, "--db", dbaddr, "--db-timeout", timeout,
	    NULL };
	pid_t db, web;
	bool have_prom, up;
	int r;

	shop_bin = getenv("GD_SHOP_BIN");
	if (shop_bin == NULL || access(shop_bin, X_OK) == -1) {
		printf("SKIP: GD_SHOP_BIN is not set to the gameday-shop binary\n");
		return 77;
	}
	have_prom = access(prom_bin(), X_OK) == 0;
	ns_enter_net();
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	(void)snprintf(dir, sizeof(dir), "/tmp/gdshop.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	(void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", WEB_PORT);
	(void)snprintf(dbaddr, sizeof(dbaddr), "127.0.0.1:%d", DB_PORT);
	(void)snprintf(timeout, sizeof(timeout), "%dms", DB_TIMEOUT_MS);

	test_flags();
	TEST_START("db and web start and answer /healthz");
	db = db_start();
	web = shop_start("web", web_args);
	up = db > 0 && web > 0 && wait_healthy(WEB_PORT) == 0;
	ASSERT_TRUE(up);
	if (up) {
		test_checkout(&db);
		test_new_connections();
		test_metrics_text();
		if (have_prom)
			test_prometheus();
	}

	TEST_START("both tiers exit 0 on SIGTERM");
	ASSERT_INT_EQ(shop_stop(&web), 0);
	ASSERT_INT_EQ(shop_stop(&db), 0);
	test_end_current();
	if (test_failed_count > 0) {
		dump("db.log");
		dump("web.log");
		dump("prom/prometheus.log");
	}
	(void)prom_rmtree(dir);
	curl_global_cleanup();
	r = test_done();
	if (r == 0 && !have_prom) {
		printf("SKIP: %s is not installed; the shop passed, the Prometheus part did not "
		    "run\n", prom_bin());
		return 77;
	}
	return r;
}
