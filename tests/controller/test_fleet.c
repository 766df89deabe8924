/*
 * A fleet of real agents on one real gamedayd.  Each "host" is a UTS, PID and mount
 * namespace of its own (its own hostname and /proc) with an init, one victim process
 * ("gdvictim") and a gameday-agent daemon; all share this test's network namespace, where
 * gamedayd listens on loopback.  The fault is process.pause of the host's victim, which the
 * test reads from /proc as it happens.
 *
 *   REL-06: halt --all with every agent holding a fault: time from the halt to each
 *           victim running again, and to the run's verified end.
 *   REL-04: the controller SIGKILLed, SIGSTOPped, or its traffic dropped (nftables, in
 *           this namespace): every fault reverted within lease + 2 s.
 *   REL-09: a halt racing the inject at a random offset: no inject order is handed out
 *           after the halt is acknowledged, and every victim runs again.
 *
 * GD_FLEET_N sets the number of hosts (default 50).  Everything runs in PID and network
 * namespaces of the test's own; it ends only processes it started.
 */
#include <dirent.h>
#include <ftw.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#include <nftables/libnftables.h>

#include "harness.h"
#include "ns.h"
#include "test.h"

#define TOK		128
#define LEASE_MS	3000
#define MAX_HOSTS	200

struct host {
	char name[32];
	pid_t init, victim;
};

static struct gd g;
static struct host hosts[MAX_HOSTS];
static size_t nhosts;
static char dir[64], op[TOK], admin[TOK];

static const char pb_fmt[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"fleet-pause\",\"description\":\"d\","
    "\"owner\":\"o\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"fleet\"},\"pick\":\"all\"},"
    "\"faults\":[{\"type\":\"process.pause\",\"match\":{\"comm\":\"gdvictim\"}}],"
    "\"duration\":\"10m\",\"guardrails\":{\"max_hosts\":%zu,\"max_percent\":100}}";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd >= 0) {
		(void)!write(fd, text, strlen(text));
		(void)close(fd);
	}
}

/* pid 1 of a host: its victim, its agent, and reaping until killed. */
static _Noreturn void
host_init(size_t i, const char *url)
{
	char sdir[160], tfile[160], log[160];
	char *argv[] = { (char *)h_bin("GD_AGENT_BIN", "gameday-agent"), "--controller",
	    (char *)url, "--token-file", tfile, "--tags", "role=fleet", "--state-dir", sdir,
	    "--lease", "3s", NULL };
	pid_t pid;

	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1)
		_exit(1);
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_NAME, "gdvictim", 0, 0, 0);
		for (;;)
			(void)pause();
	}
	(void)snprintf(sdir, sizeof(sdir), "%.63s/%.31s", dir, hosts[i].name);
	(void)snprintf(tfile, sizeof(tfile), "%.63s/%.31s.token", dir, hosts[i].name);
	(void)snprintf(log, sizeof(log), "%.63s/%.31s.log", dir, hosts[i].name);
	if ((pid = fork()) == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd >= 0)
			(void)dup2(fd, STDERR_FILENO);
		(void)execve(argv[0], argv, environ);
		_exit(127);
	}
	for (;;)
		if (wait(NULL) == -1 && errno == ECHILD)
			(void)pause();
}

/* The outer pid of a host's victim: the child of its init named gdvictim. */
static pid_t
find_victim(pid_t init)
{
	char path[96], buf[512], comm[32];
	FILE *f;

	for (int tries = 0; tries < 100; tries++) {
		(void)snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init,
		    (int)init);
		if ((f = fopen(path, "r")) != NULL) {
			char *save = NULL, *tok;

			buf[0] = '\0';
			if (fgets(buf, sizeof(buf), f) == NULL)
				buf[0] = '\0';
			(void)fclose(f);
			for (tok = strtok_r(buf, " \n", &save); tok != NULL;
			    tok = strtok_r(NULL, " \n", &save)) {
				(void)snprintf(path, sizeof(path), "/proc/%s/comm", tok);
				if ((f = fopen(path, "r")) == NULL)
					continue;
				if (fgets(comm, sizeof(comm), f) != NULL &&
				    strcmp(comm, "gdvictim\n") == 0) {
					(void)fclose(f);
					return (pid_t)atoi(tok);
				}
				(void)fclose(f);
			}
		}
		h_sleep_ms(20);
	}
	return -1;
}

static int
host_start(size_t i)
{
	int p[2];
	pid_t child, init = -1;
	char sdir[160];

	(void)snprintf(hosts[i].name, sizeof(hosts[i].name), "fleet%03u", (unsigned)(i % 1000));
	(void)snprintf(sdir, sizeof(sdir), "%.63s/%.31s", dir, hosts[i].name);
	(void)mkdir(sdir, 0700);
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((child = fork()) == 0) {
		if (unshare(CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS) == -1 ||
		    sethostname(hosts[i].name, strlen(hosts[i].name)) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
			_exit(1);
		if ((init = fork()) == 0)
			host_init(i, g.url);
		(void)!write(p[1], &init, sizeof(init));
		_exit(0);
	}
	(void)close(p[1]);
	if (read(p[0], &init, sizeof(init)) != (ssize_t)sizeof(init))
		init = -1;
	(void)close(p[0]);
	(void)waitpid(child, NULL, 0);
	hosts[i].init = init;
	hosts[i].victim = init > 0 ? find_victim(init) : -1;
	return hosts[i].victim > 0 ? 0 : -1;
}

static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return '?';
	p = fgets(buf, sizeof(buf), f);
	(void)fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return '?';
	return p[2];
}

static size_t
paused_count(void)
{
	size_t n = 0;

	for (size_t i = 0; i < nhosts; i++)
		n += proc_state(hosts[i].victim) == 'T';
	return n;
}

static size_t
ok_agents(void)
{
	cJSON *o = NULL, *a;
	size_t n = 0;

	if (h_json(&g, "GET", "/v1/agents", op, NULL, &o) == 200)
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "agents"))
			n += strcmp(h_str(a, "state"), "ok") == 0;
	cJSON_Delete(o);
	return n;
}

static const char *
run_state(const char *id, char buf[32])
{
	char path[64];
	cJSON *o = NULL;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	(void)h_json(&g, "GET", path, op, NULL, &o);
	(void)snprintf(buf, 32, "%s", h_str(o, "state"));
	cJSON_Delete(o);
	return buf;
}

static bool
terminal(const char *s)
{
	return strcmp(s, "completed") == 0 || strcmp(s, "aborted") == 0 ||
	    strcmp(s, "failed") == 0 || strcmp(s, "halted") == 0;
}

static bool
wait_terminal(const char *id, char state[32], long ms)
{
	double t0 = h_now_ms();

	while (!terminal(run_state(id, state)) && h_now_ms() - t0 < ms) {
		gd_drain(&g);
		h_sleep_ms(50);
	}
	return terminal(state);
}

/* Starts a run of the fleet playbook; its id into id. */
static long
start_run(char id[32])
{
	cJSON *o = NULL;
	long st = h_json(&g, "POST", "/v1/runs", op, "{\"playbook\":\"fleet-pause\","
	    "\"reason\":\"fleet test\"}", &o);

	(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
	return st;
}

/* Starts a run and waits until every victim is paused. */
static bool
all_paused_run(char id[32])
{
	double t0 = h_now_ms();

	if (start_run(id) != 201)
		return false;
	while (paused_count() < nhosts && h_now_ms() - t0 < 20000) {
		gd_drain(&g);
		h_sleep_ms(20);
	}
	return paused_count() == nhosts;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * From t0, the time at which each victim runs again (or limit_ms); sorted into out.
 * Returns how many resumed.
 */
static size_t
time_resumes(double t0, double limit_ms, double *out)
{
	size_t done = 0;

	for (size_t i = 0; i < nhosts; i++)
		out[i] = -1;
	while (done < nhosts && h_now_ms() - t0 < limit_ms) {
		for (size_t i = 0; i < nhosts; i++)
			if (out[i] < 0 && proc_state(hosts[i].victim) != 'T') {
				out[i] = h_now_ms() - t0;
				done++;
			}
		if (g.pid > 0)
			gd_drain(&g);
		h_sleep_ms(5);
	}
	for (size_t i = 0; i < nhosts; i++)
		if (out[i] < 0)
			out[i] = 1e9;
	qsort(out, nhosts, sizeof(*out), cmp_double);
	return done;
}

static void
wait_agents_ok(void)
{
	for (int i = 0; i < 200 && ok_agents() < nhosts; i++) {
		gd_drain(&g);
		h_sleep_ms(50);
	}
}

static void
test_halt_all(void)
{
	double t0, lat[MAX_HOSTS];
	char id[32], state[32];
	size_t n;

	TEST_START("REL-06: halt --all with every agent holding a fault: p99 <= 2 s to every "
	    "verified revert");
	ASSERT_TRUE(all_paused_run(id));
	t0 = h_now_ms();
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt", op, "{\"reason\":\"REL-06\"}", NULL, NULL),
	    200);
	n = time_resumes(t0, 10000, lat);
	ASSERT_INT_EQ(n, nhosts);
	ASSERT_TRUE(wait_terminal(id, state, 15000));
	printf("REL-06: halt --all, %zu agents: victims running again p50 %.0f ms, p99 %.0f ms, "
	    "max %.0f ms; run %s after %.0f ms\n", nhosts, lat[nhosts / 2],
	    lat[(nhosts * 99) / 100], lat[nhosts - 1], state, h_now_ms() - t0);
	ASSERT_TRUE(lat[(nhosts * 99) / 100] <= 2000);
	ASSERT_STR_EQ(state, "halted");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt/clear", admin, "{}", NULL, NULL), 200);
}

static int
nft(const char *cmd)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int r;

	if (ctx == NULL)
		return -1;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	r = nft_run_cmd_from_buffer(ctx, cmd);
	nft_ctx_free(ctx);
	return r;
}

static void
test_controller_lost(void)
{
	static const char *const how[] = { "SIGKILL", "SIGSTOP", "traffic dropped" };
	double t0, lat[MAX_HOSTS];
	char id[32], state[32], rule[256];

	for (int k = 0; k < 3; k++) {
		size_t n;

		TEST_START(how[k]);
		printf("REL-04: controller lost by %s\n", how[k]);
		ASSERT_TRUE(all_paused_run(id));
		t0 = h_now_ms();
		if (k == 0) {
			(void)gd_signal_wait(&g, SIGKILL);
		} else if (k == 1) {
			ASSERT_INT_EQ(kill(g.pid, SIGSTOP), 0);
		} else {
			(void)snprintf(rule, sizeof(rule), "add table inet gdtest\n"
			    "add chain inet gdtest out { type filter hook output priority -10; }\n"
			    "add rule inet gdtest out tcp dport %d drop\n"
			    "add rule inet gdtest out tcp sport %d drop\n", g.port, g.port);
			ASSERT_INT_EQ(nft(rule), 0);
		}
		n = time_resumes(t0, LEASE_MS + 6000, lat);
		printf("REL-04 (%s): %zu of %zu faults reverted by the agents' lease: p50 %.0f ms, "
		    "max %.0f ms (lease %d ms)\n", how[k], n, nhosts, lat[nhosts / 2],
		    lat[nhosts - 1], LEASE_MS);
		ASSERT_INT_EQ(n, nhosts);
		ASSERT_TRUE(lat[nhosts - 1] <= LEASE_MS + 2000);
		/* Back in touch: the run learns from the journals that the faults are gone. */
		if (k == 0)
			ASSERT_INT_EQ(gd_start(&g, g.port), 0);
		else if (k == 1)
			(void)kill(g.pid, SIGCONT);
		else
			ASSERT_INT_EQ(nft("delete table inet gdtest\n"), 0);
		ASSERT_TRUE(wait_terminal(id, state, 30000));
		ASSERT_STR_EQ(state, "aborted");
		wait_agents_ok();
		ASSERT_INT_EQ(ok_agents(), nhosts);
	}
}

static int
count_sql(const char *sql, int64_t arg)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	(void)snprintf(path, sizeof(path), "%s/gameday.db", g.dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		(void)sqlite3_bind_int64(st, 1, arg);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	(void)sqlite3_close(db);
	return n;
}

static void
test_halt_races_inject(void)
{
	const char *env = getenv("GD_RACE_N");
	int rounds = env != NULL ? atoi(env) : 15, late = 0, stuck = 0, not_halted = 0;
	char id[32], state[32], path[64];

	TEST_START("REL-09: halt racing the inject at random offsets: no inject handed out "
	    "after the halt is acknowledged; every victim runs again");
	for (int i = 0; i < rounds; i++) {
		struct timespec ts;
		int64_t ack_ms;
		double lat[MAX_HOSTS];

		ASSERT_INT_EQ(start_run(id), 201);
		h_sleep_ms(rand() % 400);
		(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", id);
		if (h_http(&g, "POST", path, op, "{\"reason\":\"race\"}", NULL, NULL) != 200) {
			(void)wait_terminal(id, state, 20000);
			continue;	/* It ended first (cannot: 10 minutes) or the halt failed. */
		}
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ack_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (time_resumes(h_now_ms(), 5000, lat) < nhosts)
			stuck++;
		if (!wait_terminal(id, state, 20000) || strcmp(state, "halted") != 0)
			not_halted++;
		late += count_sql("SELECT count(*) FROM orders WHERE action = 'inject' AND "
		    "delivered > ?", ack_ms);
	}
	printf("REL-09: %d halts at random offsets: %d injects handed out after the ack, %d "
	    "rounds with a victim still paused 5 s later, %d runs not ending halted\n", rounds,
	    late, stuck, not_halted);
	ASSERT_INT_EQ(late, 0);
	ASSERT_INT_EQ(stuck, 0);
	ASSERT_INT_EQ(not_halted, 0);
}

int
main(void)
{
	const char *env = getenv("GD_FLEET_N");
	char body[2048], tok[TOK], path[160];

	ns_enter_pid();
	ns_enter_net();
	if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0 ||
	    access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0)
		ns_skip("needs GD_CTL_BIN (gamedayd) and GD_AGENT_BIN (gameday-agent)");
	nhosts = env != NULL ? (size_t)atol(env) : 50;
	if (nhosts < 1 || nhosts > MAX_HOSTS)
		nhosts = 50;
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	srand(7);
	(void)snprintf(dir, sizeof(dir), "/tmp/gd-test-fleet-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;

	TEST_START("a fleet enrols: each host its own hostname, /proc, victim and agent");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "otto", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "adam", "admin", admin, TOK), 0);
	for (size_t i = 0; i < nhosts; i++) {
		(void)snprintf(hosts[i].name, sizeof(hosts[i].name), "fleet%03u", (unsigned)(i % 1000));
		ASSERT_INT_EQ(h_token(&g, NULL, NULL, tok, TOK), 0);
		(void)snprintf(path, sizeof(path), "%.63s/%.31s.token", dir, hosts[i].name);
		write_file(path, tok, 0600);
		ASSERT_INT_EQ(host_start(i), 0);
	}
	(void)snprintf(body, sizeof(body), pb_fmt, nhosts);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", op, body, NULL, NULL), 201);
	wait_agents_ok();
	ASSERT_INT_EQ(ok_agents(), nhosts);
	ASSERT_INT_EQ(paused_count(), 0);

	test_halt_all();
	test_controller_lost();
	test_halt_races_inject();

	TEST_START("the end: no victim paused, the audit log verifies");
	ASSERT_INT_EQ(paused_count(), 0);
	{
		cJSON *o = NULL;

		ASSERT_INT_EQ(h_json(&g, "GET", "/v1/audit/verify", op, NULL, &o), 200);
		ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")));
		cJSON_Delete(o);
	}
	for (size_t i = 0; i < nhosts; i++)
		if (hosts[i].init > 0)
			(void)kill(hosts[i].init, SIGKILL);
	gd_stop(&g);
	if (test_failed_count == 0 && !test_cur_failed) {
		gd_cleanup(&g);
		h_rmtree(dir);
	} else {
		(void)fprintf(stderr, "agents' logs kept in %s, gamedayd's state in %s\n", dir,
		    g.dir);
	}
	return test_done();
}
