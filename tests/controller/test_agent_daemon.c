/*
 * The agent daemon (agent/daemon.c), as built, against the real gamedayd: it enrols, a
 * run's inject lands in this test's network namespace, a halt reverts it, and when the
 * controller is stopped (SIGSTOP) the agent reverts everything within its lease + 2 s
 * (DESIGN §7.2).  Then against a scripted controller, for what gamedayd never does on
 * purpose: the same order delivered twice runs once, an expired order is refused, and the
 * poll names the order of each fault.
 *
 * Runs in PID and network namespaces of its own (ns.h): it stops and kills only the
 * processes it started, and its faults touch nothing outside.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "harness.h"
#include "ns.h"
#include "test.h"
#include "timeutil.h"

#define TOK	128
#define LEASE_MS	3000
#define PROBE_PORT	7999	/* The port every fault here partitions. */

static struct gd g;
static char adir[64], host[256], op[TOK], et[TOK];
static int probe_fd = -1;	/* Listens on PROBE_PORT, so "open" means a connection got in. */

/* Starts gameday-agent in daemon mode against url, its log appended to adir/agent.log. */
static pid_t
agent_start(const char *url, const char *state)
{
	return h_agent_start(url, adir, state, "role=t", "3s");
}

/* Signals pid and returns its exit status (128 + signal when killed). */
static int
agent_stop(pid_t pid, int sig)
{
	int st = 0;

	(void)kill(pid, sig);
	(void)waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Whether a TCP connection to 127.0.0.1:port gets through (a partition drops the SYN). */
static bool
port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd pf;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Take what earlier probes left in the backlog, so that it never fills. */
	while ((fd = accept4(probe_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1)
		(void)close(fd);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		(void)close(fd);
		return true;
	}
	pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (errno != EINPROGRESS || poll(&pf, 1, 300) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = -1;
	(void)close(fd);
	return err == 0;
}

/* How many faults the agent's journal holds (`gameday-agent list --json`), -1 on error. */
static int
journal_count(const char *state)
{
	static char out[65536];
	char sdir[128];
	char *argv[] = { (char *)h_bin("GD_AGENT_BIN", "gameday-agent"), "--state-dir", sdir,
	    "list", "--json", NULL };
	cJSON *o;
	int n;

	(void)snprintf(sdir, sizeof(sdir), "%s/%s", adir, state);
	if (h_run(argv, out, sizeof(out)) != 0 || (o = cJSON_Parse(out)) == NULL)
		return -1;
	n = cJSON_GetArraySize(o);
	cJSON_Delete(o);
	return n;
}

/* The state of the run's first fault as the controller sees it ("" when none yet). */
static const char *
fault_state(const char *run, char buf[32])
{
	char path[64];
	cJSON *o = NULL;
	const cJSON *t, *f;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", run);
	(void)h_json(&g, "GET", path, op, NULL, &o);
	t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "targets"), 0);
	f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "faults"), 0);
	(void)snprintf(buf, 32, "%s", h_str(f, "state"));
	cJSON_Delete(o);
	return buf;
}

static bool
wait_fault_state(const char *run, const char *want, long ms)
{
	char buf[32];
	double t0 = h_now_ms();

	while (strcmp(fault_state(run, buf), want) != 0 && h_now_ms() - t0 < ms)
		h_sleep_ms(50);
	return strcmp(buf, want) == 0;
}

static bool
wait_port(bool open, long ms)
{
	double t0 = h_now_ms();

	while (port_open(PROBE_PORT) != open && h_now_ms() - t0 < ms)
		h_sleep_ms(50);
	return port_open(PROBE_PORT) == open;
}

static void
start_run(char id[32])
{
	cJSON *o = NULL;

	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/runs", op, "{\"playbook\":\"probe-part\","
	    "\"reason\":\"agent daemon test\"}", &o), 201);
	(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
}

static bool
agent_listed(void)
{
	cJSON *o = NULL;
	const cJSON *a;
	bool found = false;

	(void)h_json(&g, "GET", "/v1/agents", op, NULL, &o);
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "agents"))
		found = found || (strcmp(h_str(a, "host"), host) == 0 &&
		    strcmp(h_str(a, "state"), "ok") == 0);
	cJSON_Delete(o);
	return found;
}

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[128];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", adir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
			TEST_FAIL("cannot write %s", path);
		(void)fchmod(fd, mode);
		(void)close(fd);
	}
}

static void
test_real_controller(void)
{
	static const char pb[] = "{\"apiVersion\":\"gameday/v1\",\"name\":\"probe-part\","
	    "\"description\":\"d\",\"owner\":\"o\",\"environment\":\"staging\",\"tier\":3,"
	    "\"targets\":{\"tags\":{\"role\":\"t\"},\"pick\":{\"count\":1}},"
	    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[7999]}],\"duration\":\"2m\"}";
	char run[32], path[128];
	struct stat st;
	double t0, dt;
	pid_t agent;

	TEST_START("the agent enrols with a token file, keeps its credential 0600, and polls");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	write_file("token", et, 0644);
	(void)snprintf(path, sizeof(path), "%s/token", adir);
	ASSERT_TRUE((agent = agent_start(g.url, "state")) > 0);
	ASSERT_INT_EQ(agent_stop(agent, 0), 1);	/* Refused: the token file is 0644. */
	(void)chmod(path, 0600);
	ASSERT_TRUE((agent = agent_start(g.url, "state")) > 0);
	for (int i = 0; i < 100 && !agent_listed(); i++)
		h_sleep_ms(50);
	ASSERT_TRUE(agent_listed());
	(void)snprintf(path, sizeof(path), "%s/state/credential", adir);
	ASSERT_TRUE(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/enroll", et, "{\"host\":\"again\"}", NULL,
	    NULL), 401);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL), 201);

	TEST_START("a run's inject lands here, through the agent's poll; a halt reverts it");
	ASSERT_TRUE(wait_port(true, 1000));
	start_run(run);
	ASSERT_TRUE(wait_fault_state(run, "applied", 10000));
	ASSERT_TRUE(wait_port(false, 2000));
	ASSERT_INT_EQ(journal_count("state"), 1);
	/* The control channel is exempt: the agent keeps polling through its own partition. */
	h_sleep_ms(2 * LEASE_MS);
	ASSERT_TRUE(!port_open(PROBE_PORT));
	ASSERT_TRUE(agent_listed());
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", run);
	ASSERT_INT_EQ(h_http(&g, "POST", path, op, "{\"reason\":\"test\"}", NULL, NULL), 200);
	ASSERT_TRUE(wait_fault_state(run, "reverted", 10000));
	ASSERT_TRUE(wait_port(true, 2000));
	ASSERT_INT_EQ(journal_count("state"), 0);

	TEST_START("the controller stopped (SIGSTOP): the agent reverts within lease + 2 s");
	start_run(run);
	ASSERT_TRUE(wait_fault_state(run, "applied", 10000));
	ASSERT_TRUE(wait_port(false, 2000));
	ASSERT_INT_EQ(kill(g.pid, SIGSTOP), 0);
	t0 = h_now_ms();
	ASSERT_TRUE(wait_port(true, LEASE_MS + 4000));
	dt = h_now_ms() - t0;
	ASSERT_TRUE(dt <= LEASE_MS + 2000);
	ASSERT_INT_EQ(journal_count("state"), 0);
	(void)kill(g.pid, SIGCONT);
	/* Back in touch, the agent's journal tells the controller the fault is gone. */
	ASSERT_TRUE(wait_fault_state(run, "reverted", 15000));

	TEST_START("SIGTERM: the agent exits 0");
	ASSERT_INT_EQ(agent_stop(agent, SIGTERM), 0);
	gd_stop(&g);
}

/* -------------------------------------------------------------------------------------- */
/* A scripted controller: one request per connection, answered at once.                   */

struct req {
	char path[64];
	char body[65536];
};

static int
fake_listen(int *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		return -1;
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* Accepts one request within ms; returns the connection to answer on, or -1. */
static int
fake_next(int lfd, long ms, struct req *q)
{
	struct pollfd pf = { .fd = lfd, .events = POLLIN };
	static char buf[sizeof(q->body) + 4096];
	size_t len = 0, need = 0;
	const char *eoh = NULL, *cl;
	ssize_t n;
	int c;

	if (poll(&pf, 1, (int)ms) != 1 || (c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return -1;
	while (len < sizeof(buf) - 1 && (eoh == NULL || len < need) &&
	    (n = read(c, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (eoh == NULL && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "\r\ncontent-length:");
			need = (size_t)(eoh - buf) + 4 + (cl != NULL ?
			    strtoul(cl + 17, NULL, 10) : 0);
		}
	}
	if (eoh == NULL || sscanf(buf, "POST %63s ", q->path) != 1) {
		(void)close(c);
		return -1;
	}
	(void)snprintf(q->body, sizeof(q->body), "%s", eoh + 4);
	return c;
}

static void
fake_answer(int c, const char *json)
{
	char head[256];

	(void)snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json"
	    "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", strlen(json));
	if (write(c, head, strlen(head)) < 0 || write(c, json, strlen(json)) < 0)
		TEST_FAIL("cannot answer the agent");
	(void)close(c);
}

/* An inject of the probe partition, expiring at expires (Unix ms). */
static void
inject_order(char *buf, size_t len, const char *id, int64_t expires)
{
	char t[GD_TIME_MS_LEN];

	gd_format_time_ms(expires, t);
	(void)snprintf(buf, len, "{\"id\":\"%s\",\"run\":\"r-1\",\"action\":\"inject\","
	    "\"fault\":{\"type\":\"network.partition\",\"ports\":[7999]},\"ttl_ms\":60000,"
	    "\"expires\":\"%s\"}", id, t);
}

struct script {
	int polls;
	char x_reports[2][1024];	/* The reports of order o-x, as sent. */
	int nx;
	char y_report[1024];
	char faults_after[4096];	/* faults[] of a poll after both were reported. */
};

/* The answer to a poll: o-x, then o-x again with the expired o-y, then nothing. */
static void
answer_poll(int c, struct script *s)
{
	char x[512], y[512], reply[1200];
	int64_t now = gd_now_ms();

	s->polls++;
	inject_order(x, sizeof(x), "o-x", now + 30000);
	inject_order(y, sizeof(y), "o-y", now - 1000);
	if (s->polls == 1)
		(void)snprintf(reply, sizeof(reply), "{\"orders\":[%s]}", x);
	else if (s->polls == 2)
		(void)snprintf(reply, sizeof(reply), "{\"orders\":[%s,%s]}", x, y);
	else
		(void)snprintf(reply, sizeof(reply), "{\"orders\":[]}");
	fake_answer(c, reply);
}

static void
serve(int lfd, struct script *s)
{
	struct req *q = calloc(1, sizeof(*q));
	double t0 = h_now_ms();
	int c;

	while (q != NULL && h_now_ms() - t0 < 20000 && s->faults_after[0] == '\0') {
		if ((c = fake_next(lfd, 1000, q)) < 0)
			continue;
		if (strcmp(q->path, "/v1/agent/poll") == 0) {
			cJSON *o = cJSON_Parse(q->body);
			char *f = o != NULL ? cJSON_PrintUnformatted(cJSON_GetObjectItem(o,
			    "faults")) : NULL;

			if (s->nx == 2 && s->y_report[0] != '\0' && f != NULL)
				(void)snprintf(s->faults_after, sizeof(s->faults_after), "%s", f);
			free(f);
			cJSON_Delete(o);
			answer_poll(c, s);
		} else {
			if (strstr(q->body, "\"order\":\"o-x\"") != NULL && s->nx < 2)
				(void)snprintf(s->x_reports[s->nx++], 1024, "%.1000s", q->body);
			else if (strstr(q->body, "\"order\":\"o-y\"") != NULL)
				(void)snprintf(s->y_report, 1024, "%.1000s", q->body);
			fake_answer(c, "{}");
		}
	}
	free(q);
}

static void
test_scripted_controller(void)
{
	static struct script s;
	char url[64], path[128];
	pid_t agent;
	int lfd, port = 0;

	TEST_START("an order delivered again is reported again, not run twice; an expired "
	    "order is refused; the poll names each fault's order");
	ASSERT_TRUE((lfd = fake_listen(&port)) >= 0);
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	(void)snprintf(path, sizeof(path), "%s/scripted", adir);
	(void)mkdir(path, 0700);
	write_file("scripted/credential", "gda_scripted\n", 0600);
	ASSERT_TRUE(wait_port(true, 1000));
	ASSERT_TRUE((agent = agent_start(url, "scripted")) > 0);
	serve(lfd, &s);
	ASSERT_INT_EQ(s.nx, 2);
	ASSERT_STR_EQ(s.x_reports[0], s.x_reports[1]);
	ASSERT_TRUE(strstr(s.x_reports[0], "\"status\":\"done\"") != NULL);
	ASSERT_TRUE(strstr(s.x_reports[0], "\"state\":\"applied\"") != NULL);
	ASSERT_TRUE(strstr(s.y_report, "\"status\":\"refused\"") != NULL);
	ASSERT_TRUE(strstr(s.y_report, "expired") != NULL);
	ASSERT_TRUE(strstr(s.faults_after, "\"order\":\"o-x\"") != NULL);
	ASSERT_INT_EQ(journal_count("scripted"), 1);
	ASSERT_TRUE(!port_open(PROBE_PORT));

	TEST_START("SIGTERM leaves the fault to its watchdog; the next agent still names it");
	ASSERT_INT_EQ(agent_stop(agent, SIGTERM), 0);
	ASSERT_INT_EQ(journal_count("scripted"), 1);
	ASSERT_TRUE(!port_open(PROBE_PORT));
	{
		char *argv[] = { (char *)h_bin("GD_AGENT_BIN", "gameday-agent"), "--state-dir",
		    path, "revert", "--all", NULL };

		ASSERT_INT_EQ(h_run(argv, NULL, 0), 0);
	}
	ASSERT_TRUE(wait_port(true, 2000));
	(void)close(lfd);
}

int
main(void)
{
	ns_enter_pid();
	ns_enter_net();
	if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0 ||
	    access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0)
		ns_skip("needs GD_CTL_BIN (gamedayd) and GD_AGENT_BIN (gameday-agent)");
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	(void)snprintf(adir, sizeof(adir), "/tmp/gd-test-daemon-XXXXXX");
	if (mkdtemp(adir) == NULL || gethostname(host, sizeof(host)) == -1)
		return 1;
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PROBE_PORT) };

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((probe_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0)) == -1 || bind(probe_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    listen(probe_fd, 64) == -1)
			return 1;
	}
	test_real_controller();
	test_scripted_controller();
	gd_cleanup(&g);
	/* On failure the agent's log is shown and its directory kept; else both go. */
	if (test_failed_count > 0 || test_cur_failed) {
		char log[128], line[4096];
		FILE *f;

		(void)snprintf(log, sizeof(log), "%s/agent.log", adir);
		if ((f = fopen(log, "r")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				(void)fputs(line, stderr);
			(void)fclose(f);
		}
	} else {
		h_rmtree(adir);
	}
	(void)close(probe_fd);
	return test_done();
}
