/*
 * The scheduler (controller/sched.c), its outage check and error-budget gate (outage.c) and
 * the webhook outbox (notify.c) end to end: the real gamedayd with "scheduler" and "notify"
 * in its config, real agent daemons (each in a UTS namespace of its own, so each has its
 * own host name), a real Alertmanager (the Debian package), and, served by this test, a
 * webhook receiver, a fake Prometheus for the error budget and a fake second Alertmanager
 * that can answer garbage, 500, or slowly.
 *
 * Every playbook here has a window that opens at the current minute (UTC, every day): a
 * newly applied playbook plans its first start looking back SCHED_START_GRACE_MS, so it
 * starts within a tick or two (its run is made ahead, then started).  Runs that would
 * overlap use agents of their own.  A window's run is told from the one made ahead for
 * tomorrow by its reason, "scheduled for <the window's start>".
 *
 *   1. a scheduled playbook starts by itself as actor `scheduler`, runs its 3 s and
 *      completes; the webhook gets `started` and `completed`; /v1/schedules shows the
 *      start and plans the next one for tomorrow (one start per window);
 *   2. REL-19, outage check: an alert firing, Alertmanager killed, slow, answering 500 or
 *      garbage: the start is skipped (a run ending `aborted`, "skipped: ..."), nothing
 *      injected;
 *   3. REL-19, error budget: below min, NaN, HTTP 500, garbage, Prometheus down: skipped;
 *   4. a blackout covering today: no start today;
 *   5. halt --all in force: skipped; cleared by an admin: schedules start again; halt --all
 *      arriving while a start's outage check is in flight stops that start (and it is not
 *      recorded as made); a halt --all cleared soon after costs no schedule its next window;
 *   6. production: the run is made ahead in awaiting_approval; not approved, it is
 *      skipped when it could no longer finish in its window; approved, it goes through
 *      scheduled and preflight and completes; a staging playbook whose target is tagged
 *      environment=production starts once approved; a playbook changed before its start
 *      keeps its window; one whose schedule is removed leaves no run waiting;
 *   7. gamedayd SIGKILLed after a start and restarted: the start is remembered, the
 *      playbook does not start twice in one window;
 *   8. a webhook failing twice gets its notification on the third attempt; one that
 *      hangs does not delay a halt;
 *   and gamedayd exits 0 on SIGTERM with no sanitizer report.
 *
 * Runs in PID and network namespaces of its own (ns.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "harness.h"
#include "ns.h"
#include "test.h"

#define TOK		128
#define AM_BIN		"/usr/bin/prometheus-alertmanager"
#define AM_READY_MS	20000
#define ALERT_NAME	"GameDayTestIncident"
#define HOOK_MAX	1024
#define DAY_MS		(24LL * 3600 * 1000)

static struct gd g;
static char adir[64], op[TOK], adm[TOK], appr[TOK];
static char *gdlog;		/* Everything gamedayd wrote on stderr. */
static size_t gdlog_len;

/* ---- The agents: one host name, one role and one partitioned port each. ---- */

enum { A_OK, A_SKIP, A_APPR, A_HALT, A_RST, A_RACE, A_PROD, A_N };

static const struct {
	const char *host, *tags;
	int port;
} agents[A_N] = {
	[A_OK] = { "gd-ok", "role=ok", 7901 },
	[A_SKIP] = { "gd-skip", "role=skip", 7902 },
	[A_APPR] = { "gd-appr", "role=appr", 7903 },
	[A_HALT] = { "gd-halt", "role=halt", 7904 },
	[A_RST] = { "gd-rst", "role=rst", 7905 },
	[A_RACE] = { "gd-race", "role=race", 7906 },
	[A_PROD] = { "gd-prod", "role=prod,environment=production", 7907 },
};
static pid_t agent_pid[A_N];

/* ---- gamedayd's log and waiting ---- */

/* Reads what gamedayd wrote so far into gdlog (and stderr with GD_VERBOSE). */
static void
pump(void)
{
	char buf[8192];
	ssize_t n;

	if (g.errfd < 0)
		return;
	(void)fcntl(g.errfd, F_SETFL, O_NONBLOCK);
	while ((n = read(g.errfd, buf, sizeof(buf))) > 0) {
		char *p = realloc(gdlog, gdlog_len + (size_t)n + 1);

		if (p == NULL)
			return;
		gdlog = p;
		memcpy(gdlog + gdlog_len, buf, (size_t)n);
		gdlog_len += (size_t)n;
		gdlog[gdlog_len] = '\0';
		if (getenv("GD_VERBOSE") != NULL)
			(void)fwrite(buf, 1, (size_t)n, stderr);
	}
}

static void
nap(long ms)
{
	pump();
	h_sleep_ms(ms);
	pump();
}

static bool
log_has(const char *needle)
{
	pump();
	return gdlog != NULL && strstr(gdlog, needle) != NULL;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "YYYY-MM-DD" of a UTC time. */
static void
date_of(int64_t ms, char buf[16])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	(void)gmtime_r(&t, &tm);
	(void)strftime(buf, 16, "%Y-%m-%d", &tm);
}

/* An RFC 3339 time of the API ("2026-11-29T13:20:00.000Z") in Unix ms; 0 if it is not. */
static int64_t
parse_time(const char *s)
{
	struct tm tm;
	int ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Past max_ms into the current minute, waits for the next one. */
static void
room_until(int64_t max_ms)
{
	int64_t now = wall_ms();

	if (now % 60000 > max_ms)
		nap((long)(60000 - now % 60000) + 300);
}

/*
 * A start is taken only close to the start of its window, and windows have minute
 * granularity: past :45 of a minute, wait for the next one.
 */
static void
room(void)
{
	room_until(45000);
}

/* ---- Small HTTP servers of this test: a webhook receiver, Prometheus, Alertmanager ---- */

enum srv_kind { SRV_HOOK, SRV_PROM, SRV_AM };

struct srv {
	enum srv_kind kind;
	int port;
	atomic_int down;	/* Asked: close the listener (connections are refused). */
	atomic_int is_down;	/* Done. */
	atomic_int bound;	/* Listening at least once. */
};

static struct srv hook_srv = { .kind = SRV_HOOK }, prom_srv = { .kind = SRV_PROM };
static struct srv am_srv = { .kind = SRV_AM };

/* The webhook receiver: what it got, and how it behaves. */
static struct {
	char path[16];
	char *body;
} hooks[HOOK_MAX];
static int nhooks;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static char flaky_run[32];		/* /flaky fails this run's notifications, */
static int flaky_left;			/* this many times (under hook_lock), */
static int flaky_attempts;		/* and counts their attempts. */
static atomic_int slow_on;		/* /slow sleeps 6 s before it answers. */
static atomic_int slow_inflight;

/* The fake Prometheus: a scalar, NaN, HTTP 500 or garbage. */
enum { PROM_VALUE, PROM_NAN, PROM_500, PROM_GARBAGE };
static atomic_int prom_mode;
static atomic_llong prom_milli = 10000;	/* The value, in thousandths. */

/* The fake second Alertmanager: "[]", garbage, HTTP 500, too slow (2.5 s), a little slow. */
enum { AM_OK, AM_GARBAGE, AM_500, AM_SLOW, AM_DELAY };
static atomic_int am_mode;
static atomic_int am_hits;

static int
listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 128) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* A free loopback port, found by binding port 0. */
static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd != -1 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd != -1)
		(void)close(fd);
	return port;
}

static void
say(int fd, const char *status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(body));

	if (write(fd, head, (size_t)n) != n || write(fd, body, strlen(body)) < 0)
		return;
}

static void
hook_record(const char *path, const char *body)
{
	(void)pthread_mutex_lock(&hook_lock);
	if (nhooks < HOOK_MAX) {
		(void)snprintf(hooks[nhooks].path, sizeof(hooks[0].path), "%s", path);
		hooks[nhooks].body = strdup(body);
		nhooks++;
	}
	(void)pthread_mutex_unlock(&hook_lock);
}

static void
serve_hook(int fd, const char *path, const char *body)
{
	if (strcmp(path, "/flaky") == 0) {
		cJSON *o = cJSON_Parse(body);
		bool fail = false;

		(void)pthread_mutex_lock(&hook_lock);
		if (flaky_run[0] != '\0' && strcmp(h_str(cJSON_GetObjectItemCaseSensitive(o,
		    "run"), "id"), flaky_run) == 0) {
			flaky_attempts++;
			fail = flaky_left > 0;
			flaky_left -= fail;
		}
		(void)pthread_mutex_unlock(&hook_lock);
		cJSON_Delete(o);
		if (fail) {
			say(fd, "500 Internal Server Error", "{\"error\":\"try again\"}");
			return;
		}
	}
	if (strcmp(path, "/slow") == 0 && atomic_load(&slow_on)) {
		atomic_fetch_add(&slow_inflight, 1);
		h_sleep_ms(6000);
	}
	hook_record(path, body);
	say(fd, "200 OK", "{}");
}

static void
serve_prom(int fd, const char *path)
{
	char body[256];

	if (strncmp(path, "/api/v1/query?", 14) != 0) {
		say(fd, "404 Not Found", "{}");
		return;
	}
	switch (atomic_load(&prom_mode)) {
	case PROM_NAN:
		say(fd, "200 OK", "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[{\"metric\":{},\"value\":[1700000000.1,\"NaN\"]}]}}");
		break;
	case PROM_500:
		say(fd, "500 Internal Server Error", "{\"status\":\"error\",\"errorType\":"
		    "\"internal\",\"error\":\"boom\"}");
		break;
	case PROM_GARBAGE:
		say(fd, "200 OK", "<html>this is not Prometheus</html>");
		break;
	default:
		(void)snprintf(body, sizeof(body), "{\"status\":\"success\",\"data\":{"
		    "\"resultType\":\"scalar\",\"result\":[1700000000.1,\"%g\"]}}",
		    (double)atomic_load(&prom_milli) / 1000);
		say(fd, "200 OK", body);
	}
}

static void
serve_am(int fd, const char *path)
{
	if (strncmp(path, "/api/v2/alerts", 14) != 0) {
		say(fd, "404 Not Found", "{}");
		return;
	}
	atomic_fetch_add(&am_hits, 1);
	switch (atomic_load(&am_mode)) {
	case AM_GARBAGE:
		say(fd, "200 OK", "<html><body>this is not Alertmanager</body></html>");
		return;
	case AM_500:
		say(fd, "500 Internal Server Error", "{\"code\":500,\"message\":\"boom\"}");
		return;
	case AM_SLOW:
		h_sleep_ms(2500);	/* Longer than the configured 1 s timeout. */
		break;
	case AM_DELAY:
		h_sleep_ms(700);	/* Inside the timeout: an answer, late. */
		break;
	default:
		break;
	}
	say(fd, "200 OK", "[]");
}

struct conn {
	struct srv *s;
	int fd;
};

/* One request: headers, then Content-Length bytes of body (Expect: 100-continue honoured). */
static void *
serve_conn(void *arg)
{
	struct conn *cn = arg;
	char req[65536], lower[8192], method[16] = "", path[2048] = "";
	size_t len = 0, want = 0, hlen;
	const char *end, *cl;
	ssize_t n;

	for (;;) {
		if (len == sizeof(req) - 1 || (n = read(cn->fd, req + len, sizeof(req) - 1 -
		    len)) <= 0)
			goto out;
		len += (size_t)n;
		req[len] = '\0';
		if ((end = strstr(req, "\r\n\r\n")) != NULL)
			break;
	}
	hlen = (size_t)(end + 4 - req);
	for (size_t i = 0; i < hlen && i < sizeof(lower) - 1; i++)
		lower[i] = (char)(req[i] >= 'A' && req[i] <= 'Z' ? req[i] + 32 : req[i]);
	lower[hlen < sizeof(lower) - 1 ? hlen : sizeof(lower) - 1] = '\0';
	if ((cl = strstr(lower, "\r\ncontent-length:")) != NULL)
		want = strtoul(cl + 17, NULL, 10);
	if (want > sizeof(req) - 1 - hlen)
		goto out;
	if (strstr(lower, "\r\nexpect: 100-continue") != NULL &&
	    write(cn->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25)
		goto out;
	while (len < hlen + want) {
		if ((n = read(cn->fd, req + len, sizeof(req) - 1 - len)) <= 0)
			goto out;
		len += (size_t)n;
	}
	req[hlen + want] = '\0';
	(void)sscanf(req, "%15s %2047s", method, path);
	if (cn->s->kind == SRV_HOOK)
		serve_hook(cn->fd, path, req + hlen);
	else if (cn->s->kind == SRV_PROM)
		serve_prom(cn->fd, path);
	else
		serve_am(cn->fd, path);
out:
	(void)close(cn->fd);
	free(cn);
	return NULL;
}

/* The accept loop; it owns the listener, and closes or opens it again as s->down says. */
static void *
serve(void *arg)
{
	struct srv *s = arg;
	int lfd = -1;

	for (;;) {
		struct pollfd pf;
		struct conn *cn;
		pthread_t t;
		int fd;

		if (atomic_load(&s->down)) {
			if (lfd >= 0)
				(void)close(lfd);
			lfd = -1;
			atomic_store(&s->is_down, 1);
			h_sleep_ms(20);
			continue;
		}
		if (lfd < 0 && (lfd = listen_on(s->port)) < 0) {
			h_sleep_ms(20);
			continue;
		}
		atomic_store(&s->is_down, 0);
		atomic_store(&s->bound, 1);
		pf = (struct pollfd){ .fd = lfd, .events = POLLIN };
		if (poll(&pf, 1, 50) != 1 || (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if ((cn = malloc(sizeof(*cn))) == NULL) {
			(void)close(fd);
			continue;
		}
		*cn = (struct conn){ s, fd };
		if (pthread_create(&t, NULL, serve_conn, cn) != 0) {
			(void)close(fd);
			free(cn);
		} else {
			(void)pthread_detach(t);
		}
	}
	return NULL;
}

static int
srv_start(struct srv *s)
{
	pthread_t t;

	if ((s->port = free_port()) < 0 || pthread_create(&t, NULL, serve, s) != 0)
		return -1;
	for (int i = 0; i < 200 && !atomic_load(&s->bound); i++)
		h_sleep_ms(10);
	return atomic_load(&s->bound) ? 0 : -1;
}

/* Takes s down (true) or up again, and waits until it is so. */
static void
srv_set_down(struct srv *s, bool down)
{
	atomic_store(&s->down, down ? 1 : 0);
	for (int i = 0; i < 200 && atomic_load(&s->is_down) != (down ? 1 : 0); i++)
		nap(10);
}

/* How many bodies path got for event of run id (whose playbook is pb, when not NULL). */
static int
hook_count(const char *path, const char *event, const char *id, const char *pb)
{
	int n = 0;

	(void)pthread_mutex_lock(&hook_lock);
	for (int i = 0; i < nhooks; i++) {
		cJSON *o = cJSON_Parse(hooks[i].body);
		const cJSON *run = cJSON_GetObjectItemCaseSensitive(o, "run");

		if (strcmp(hooks[i].path, path) == 0 && strcmp(h_str(o, "event"), event) == 0 &&
		    strcmp(h_str(run, "id"), id) == 0 && (pb == NULL ||
		    strcmp(h_str(run, "playbook"), pb) == 0))
			n++;
		cJSON_Delete(o);
	}
	(void)pthread_mutex_unlock(&hook_lock);
	return n;
}

static bool
wait_hook(const char *path, const char *event, const char *id, const char *pb, long ms)
{
	double t0 = h_now_ms();

	while (hook_count(path, event, id, pb) == 0 && h_now_ms() - t0 < ms)
		nap(50);
	return hook_count(path, event, id, pb) > 0;
}

/* ---- The real Alertmanager ---- */

static struct gd am;		/* Only its url is used, by h_http(). */
static pid_t am_pid;

static const char *
am_bin(void)
{
	return h_bin("GD_ALERTMANAGER_BIN", AM_BIN);
}

static int
write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok;

	if (fd == -1)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	(void)close(fd);
	return ok ? 0 : -1;
}

static int
am_start(void)
{
	char dir[128], cfg[160], data[160], log[160], fcfg[192], fdata[192], flisten[64];
	char *argv[] = { (char *)am_bin(), fcfg, fdata, flisten, "--cluster.listen-address=",
	    "--log.level=warn", NULL };
	posix_spawn_file_actions_t fa;
	double t0 = h_now_ms();
	int port = free_port(), r;

	(void)snprintf(dir, sizeof(dir), "%s/am", adir);
	(void)snprintf(cfg, sizeof(cfg), "%s/alertmanager.yml", dir);
	(void)snprintf(data, sizeof(data), "%s/data", dir);
	(void)snprintf(log, sizeof(log), "%s/alertmanager.log", dir);
	(void)mkdir(dir, 0700);
	(void)mkdir(data, 0700);
	if (port < 0 || write_text(cfg, "route:\n  receiver: \"null\"\nreceivers:\n"
	    "  - name: \"null\"\n") < 0)
		return -1;
	(void)snprintf(fcfg, sizeof(fcfg), "--config.file=%s", cfg);
	(void)snprintf(fdata, sizeof(fdata), "--storage.path=%s", data);
	(void)snprintf(flisten, sizeof(flisten), "--web.listen-address=127.0.0.1:%d", port);
	(void)snprintf(am.url, sizeof(am.url), "http://127.0.0.1:%d", port);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log,
	    O_WRONLY | O_CREAT | O_APPEND, 0600);
	(void)posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log,
	    O_WRONLY | O_CREAT | O_APPEND, 0600);
	r = posix_spawn(&am_pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	while (h_now_ms() - t0 < AM_READY_MS) {
		if (h_http(&am, "GET", "/-/ready", NULL, NULL, NULL, NULL) == 200) {
			(void)printf("  Alertmanager ready on %s in %.0f ms\n", am.url,
			    h_now_ms() - t0);
			return 0;
		}
		if (waitpid(am_pid, NULL, WNOHANG) == am_pid) {
			am_pid = 0;
			break;
		}
		h_sleep_ms(50);
	}
	(void)fprintf(stderr, "Alertmanager did not become ready (see %s)\n", log);
	return -1;
}

static void
am_kill(void)
{
	if (am_pid > 0) {
		(void)kill(am_pid, SIGKILL);
		(void)waitpid(am_pid, NULL, 0);
	}
	am_pid = 0;
}

/* Posts the test's critical alert, firing or resolved (endsAt in the past). */
static long
am_alert(bool firing)
{
	char body[512], starts[32], ends[32];
	time_t now = time(NULL), s = now - 60, e = firing ? now + 3600 : now - 1;
	struct tm tm;

	(void)strftime(starts, sizeof(starts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&s, &tm));
	(void)strftime(ends, sizeof(ends), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&e, &tm));
	(void)snprintf(body, sizeof(body), "[{\"labels\":{\"alertname\":\"" ALERT_NAME "\","
	    "\"severity\":\"critical\"},\"annotations\":{\"summary\":\"gameday test\"},"
	    "\"startsAt\":\"%s\",\"endsAt\":\"%s\"}]", starts, ends);
	return h_http(&am, "POST", "/api/v2/alerts", NULL, body, NULL, NULL);
}

/* Active critical alerts, as gamedayd asks for them; -1 when Alertmanager does not answer. */
static int
am_active(void)
{
	cJSON *o = NULL;
	int n = -1;

	if (h_json(&am, "GET", "/api/v2/alerts?active=true&silenced=false&inhibited=false&"
	    "filter=severity%3D%22critical%22", NULL, NULL, &o) == 200 && cJSON_IsArray(o))
		n = cJSON_GetArraySize(o);
	cJSON_Delete(o);
	return n;
}

/* ---- Agents ---- */

/* An agent daemon with its own host name: forked into a UTS namespace of its own. */
static pid_t
agent_spawn(int i)
{
	char sub[128], tfile[192], sdir[192], log[192], tok[TOK];
	char *argv[] = { (char *)h_bin("GD_AGENT_BIN", "gameday-agent"), "--controller", g.url,
	    "--token-file", tfile, "--tags", (char *)agents[i].tags, "--state-dir", sdir,
	    "--lease", "6s", NULL };
	pid_t pid;

	(void)snprintf(sub, sizeof(sub), "%s/%s", adir, agents[i].host);
	(void)snprintf(tfile, sizeof(tfile), "%s/token", sub);
	(void)snprintf(sdir, sizeof(sdir), "%s/state", sub);
	(void)snprintf(log, sizeof(log), "%s/agent.log", sub);
	(void)mkdir(sub, 0700);
	if (h_token(&g, NULL, NULL, tok, TOK) != 0 || write_text(tfile, tok) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (unshare(CLONE_NEWUTS) == -1 ||
		    sethostname(agents[i].host, strlen(agents[i].host)) == -1)
			_exit(126);
		if (fd >= 0)
			(void)dup2(fd, STDERR_FILENO);
		if (nul >= 0) {
			(void)dup2(nul, STDIN_FILENO);
			(void)dup2(nul, STDOUT_FILENO);
		}
		(void)execve(argv[0], argv, environ);
		_exit(127);
	}
	return pid;
}

/* Fault entries in agent i's journal: what is applied on that host now. */
static int
journal_count(int i)
{
	char path[192];
	struct dirent *e;
	DIR *d;
	int n = 0;

	(void)snprintf(path, sizeof(path), "%s/%s/state/journal", adir, agents[i].host);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	(void)closedir(d);
	return n;
}

static int
agents_ok(void)
{
	cJSON *o = NULL;
	const cJSON *a;
	int n = 0;

	(void)h_json(&g, "GET", "/v1/agents", op, NULL, &o);
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "agents"))
		n += strcmp(h_str(a, "state"), "ok") == 0;
	cJSON_Delete(o);
	return n;
}

/* ---- Playbooks, runs, schedules ---- */

/*
 * Applies a playbook with one partition fault on agent i's host and port, and a window
 * that opens at ws (UTC, every day) and lasts minutes (at most until 24:00); minutes 0: no
 * schedule at all.  extra is more of the schedule object (",\"blackouts\":[...]") or "".
 */
static long
apply_at(const char *name, const char *env, int i, const char *duration, int64_t ws,
    int minutes, const char *extra)
{
	char pb[2048], role[64], sched[512] = "";
	int m = (int)(ws % DAY_MS / 60000), e = m + minutes > 1440 ? 1440 : m + minutes;

	(void)snprintf(role, sizeof(role), "%.*s", (int)strcspn(agents[i].tags + 5, ","),
	    agents[i].tags + 5);
	if (minutes > 0)
		(void)snprintf(sched, sizeof(sched), ",\"schedule\":{\"timezone\":\"UTC\","
		    "\"windows\":[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\","
		    "\"sun\"],\"start\":\"%02d:%02d\",\"end\":\"%02d:%02d\"}]%s}", m / 60, m % 60,
		    e / 60, e % 60, extra);
	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":\"%s\","
	    "\"description\":\"d\",\"owner\":\"o\",\"environment\":\"%s\",\"tier\":3,"
	    "\"targets\":{\"tags\":{\"role\":\"%s\"},\"pick\":{\"count\":1}},"
	    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[%d]}],\"duration\":\"%s\""
	    "%s}", name, env, role, agents[i].port, duration, sched);
	return h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL);
}

/* apply_at() with a window that opens offset minutes after the current one (in *ret_ws). */
static long
apply(const char *name, const char *env, int i, const char *duration, int offset,
    int minutes, const char *extra, int64_t *ret_ws)
{
	int64_t ws;

	room();
	ws = wall_ms() / 60000 * 60000 + offset * 60000LL;
	if (ret_ws != NULL)
		*ret_ws = ws;
	return apply_at(name, env, i, duration, ws, minutes, extra);
}

/* The API's form of a time: "2026-11-29T13:20:00.000Z". */
static void
iso_of(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[24];

	(void)strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
	(void)snprintf(buf, 32, "%s.%03dZ", s, (int)(ms % 1000));
}

/*
 * The runs of playbook pb, newest first, into ids; how many there are.  With ws not 0, only
 * those made for the window occurrence that starts at ws: the scheduler makes each run ahead
 * of its start, with the reason "scheduled for <start>".
 */
static int
runs_of(const char *pb, int64_t ws, char ids[][32], int max)
{
	char when[32];
	cJSON *o = NULL;
	const cJSON *r;
	int n = 0;

	iso_of(ws, when);
	(void)h_json(&g, "GET", "/v1/runs?limit=10000", op, NULL, &o);
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "runs"))
		if (strcmp(h_str(r, "playbook"), pb) == 0 && (ws == 0 ||
		    strstr(h_str(r, "reason"), when) != NULL)) {
			if (n < max)
				(void)snprintf(ids[n], 32, "%s", h_str(r, "id"));
			n++;
		}
	cJSON_Delete(o);
	return n;
}

static int
nruns_of(const char *pb, int64_t ws)
{
	char ids[1][32];

	return runs_of(pb, ws, ids, 1);
}

/* Waits up to ms for the run of pb's window at ws; its id, or "" on timeout. */
static const char *
wait_run_of(const char *pb, int64_t ws, long ms, char id[32])
{
	double t0 = h_now_ms();
	char ids[1][32];

	id[0] = '\0';
	while (h_now_ms() - t0 < ms) {
		if (runs_of(pb, ws, ids, 1) > 0) {
			(void)snprintf(id, 32, "%s", ids[0]);
			break;
		}
		nap(50);
	}
	return id;
}

/* Waits up to ms for run id to reach a state of want ("|a|b|"); the last state seen. */
static const char *
wait_run(const char *id, const char *want, long ms, char buf[32])
{
	double t0 = h_now_ms();
	char pat[40];

	for (;;) {
		(void)snprintf(pat, sizeof(pat), "|%s|", h_run_state(&g, op, id, buf));
		if ((buf[0] != '\0' && strstr(want, pat) != NULL) || h_now_ms() - t0 >= ms)
			return buf;
		nap(30);
	}
}

static cJSON *
get_run(const char *id)
{
	char path[128];
	cJSON *o = NULL;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	(void)h_json(&g, "GET", path, op, NULL, &o);
	return o;
}

static cJSON *
get_events(const char *id)
{
	char path[128];
	cJSON *o = NULL;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s/events", id);
	(void)h_json(&g, "GET", path, op, NULL, &o);
	return o;
}

static long
post_run(const char *id, const char *what, const char *token)
{
	char path[128];

	(void)snprintf(path, sizeof(path), "/v1/runs/%s/%s", id, what);
	return h_http(&g, "POST", path, token, strcmp(what, "halt") == 0 ?
	    "{\"reason\":\"sched test\"}" : "{}", NULL, NULL);
}

static bool
terminal(const char *st)
{
	return strcmp(st, "completed") == 0 || strcmp(st, "aborted") == 0 ||
	    strcmp(st, "failed") == 0 || strcmp(st, "halted") == 0;
}

/* Halts run id unless it has ended, and waits for its end: cleanup after a failure. */
static void
end_run(const char *id)
{
	char st[32];

	if (id[0] == '\0' || terminal(h_run_state(&g, op, id, st)))
		return;
	(void)post_run(id, "halt", op);
	(void)wait_run(id, "|halted|aborted|failed|completed|", 10000, st);
}

/* The row of GET /v1/schedules for playbook pb (caller deletes), or NULL. */
static cJSON *
sched_row(const char *pb)
{
	cJSON *o = NULL, *row = NULL;
	const cJSON *r;

	(void)h_json(&g, "GET", "/v1/schedules", op, NULL, &o);
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "schedules"))
		if (row == NULL && strcmp(h_str(r, "playbook"), pb) == 0)
			row = cJSON_Duplicate(r, 1);
	cJSON_Delete(o);
	return row;
}

/* "YYYY-MM-DDTHH:MM:00.000Z" of the window that opens a day after ws. */
static void
tomorrow_start(int64_t ws, char buf[32])
{
	iso_of(ws + DAY_MS, buf);
}

/* Whether the audit has a row of action on object id by actor. */
static bool
audit_by(const char *action, const char *id, const char *actor)
{
	cJSON *o = NULL;
	const cJSON *row;
	bool found = false;

	(void)h_json(&g, "GET", "/v1/audit?limit=100000", op, NULL, &o);
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(o, "rows"))
		if (strcmp(h_str(row, "action"), action) == 0 &&
		    strcmp(h_str(row, "object"), id) == 0 &&
		    strcmp(h_str(row, "actor"), actor) == 0)
			found = true;
	cJSON_Delete(o);
	return found;
}

/*
 * The window of pb at ws had its one attempt; the schedule now names tomorrow's start and
 * the run made ahead for it, in state want (scheduled, or awaiting_approval).
 */
static void
check_next_ahead(const char *pb, int64_t ws, const char *want)
{
	char id[32], when[32], st[32];
	cJSON *o = NULL;

	tomorrow_start(ws, when);
	if (wait_run_of(pb, ws + DAY_MS, 3000, id)[0] == '\0') {
		TEST_FAIL("%s: no run made ahead for %s", pb, when);
		return;
	}
	for (int i = 0; i < 60; i++) {
		cJSON_Delete(o);
		o = sched_row(pb);
		if (strcmp(h_str(o, "next_run"), id) == 0)
			break;
		nap(50);
	}
	ASSERT_INT_EQ(nruns_of(pb, ws), 1);
	ASSERT_STR_EQ(h_str(o, "next_start"), when);
	ASSERT_STR_EQ(h_str(o, "next_run"), id);
	ASSERT_STR_EQ(h_run_state(&g, op, id, st), want);
	cJSON_Delete(o);
}

/*
 * The one run of pb's window at ws was a skipped start: made by the scheduler, ended
 * aborted with "skipped: ", needle and needle2 (unless NULL) in its outcome, no target
 * chosen, nothing in the journal of the agent it would have hit.
 */
static void
check_skipped(const char *pb, int64_t ws, int agent, const char *needle, const char *needle2)
{
	char id[32], st[32];
	const char *out;
	cJSON *o;

	if (wait_run_of(pb, ws, 6000, id)[0] == '\0') {
		TEST_FAIL("%s: the scheduler made no run (skipped or started)", pb);
		return;
	}
	ASSERT_STR_EQ(wait_run(id, "|aborted|preflight|injecting|running|completed|failed|",
	    6000, st), "aborted");
	o = get_run(id);
	out = h_str(o, "outcome");
	(void)printf("  %s: %s\n", pb, out);
	ASSERT_STR_EQ(h_str(o, "requested_by"), "scheduler");
	if (strncmp(out, "skipped: ", 9) != 0 || strstr(out, needle) == NULL ||
	    (needle2 != NULL && strstr(out, needle2) == NULL))
		TEST_FAIL("%s: outcome '%s' is not a skip naming '%s' and '%s'", pb, out, needle,
		    needle2 != NULL ? needle2 : "");
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "targets")), 0);
	ASSERT_TRUE(h_str(o, "started")[0] == '\0');
	cJSON_Delete(o);
	ASSERT_INT_EQ(journal_count(agent), 0);
	ASSERT_INT_EQ(nruns_of(pb, ws), 1);	/* One attempt per window. */
}

/* ---- Tests ---- */

static char ok_id[32];
static int64_t ok_ws;

static void
test_start(void)
{
	char st[32];
	cJSON *o;

	TEST_START("1. a scheduled playbook starts by itself in its window, as actor scheduler");
	ASSERT_INT_EQ(apply("s-ok", "staging", A_OK, "3s", 0, 10, "", &ok_ws), 201);
	if (wait_run_of("s-ok", ok_ws, 5000, ok_id)[0] == '\0') {
		TEST_FAIL("no run of s-ok within 5 s of its window's start");
		return;
	}
	o = get_run(ok_id);
	ASSERT_STR_EQ(h_str(o, "requested_by"), "scheduler");
	cJSON_Delete(o);
	ASSERT_TRUE(audit_by("run.start", ok_id, "scheduler"));
	ASSERT_STR_EQ(wait_run(ok_id, "|running|completed|aborted|failed|", 15000, st),
	    "running");
	ASSERT_INT_EQ(journal_count(A_OK), 1);
}

static void
test_start_done(void)
{
	char st[32], today[16];
	int64_t started, ended;
	cJSON *o;

	TEST_START("1. ... it completes after its 3 s, the webhook hears started and completed, "
	    "and the next start is tomorrow's window");
	if (ok_id[0] == '\0') {
		TEST_FAIL("no run of s-ok");
		return;
	}
	ASSERT_STR_EQ(wait_run(ok_id, "|completed|aborted|failed|halted|", 20000, st),
	    "completed");
	o = get_run(ok_id);
	started = parse_time(h_str(o, "started"));
	ended = parse_time(h_str(o, "ended"));
	(void)printf("  s-ok ran %lld ms (%s)\n", (long long)(ended - started),
	    h_str(o, "outcome"));
	ASSERT_TRUE(started > 0 && ended - started >= 3000 && ended - started < 10000);
	ASSERT_TRUE(started >= ok_ws && started < ok_ws + 60000);
	cJSON_Delete(o);
	ASSERT_INT_EQ(journal_count(A_OK), 0);
	ASSERT_TRUE(wait_hook("/hook", "started", ok_id, "s-ok", 10000));
	ASSERT_TRUE(wait_hook("/hook", "completed", ok_id, "s-ok", 10000));
	ASSERT_INT_EQ(hook_count("/hook", "started", ok_id, "s-ok"), 1);
	check_next_ahead("s-ok", ok_ws, "scheduled");
	o = sched_row("s-ok");
	date_of(ok_ws, today);
	(void)printf("  /v1/schedules s-ok: last_start %s, next_start %s\n",
	    h_str(o, "last_start"), h_str(o, "next_start"));
	ASSERT_TRUE(strncmp(h_str(o, "last_start"), today, 10) == 0);
	ASSERT_TRUE(parse_time(h_str(o, "last_start")) >= ok_ws);
	cJSON_Delete(o);
}

static void
test_outage(void)
{
	int64_t ws;

	TEST_START("2. REL-19: a critical alert firing in the real Alertmanager: skipped, "
	    "named in the reason");
	ASSERT_INT_EQ(am_alert(true), 200);
	for (int i = 0; i < 100 && am_active() < 1; i++)
		nap(50);
	ASSERT_INT_EQ(am_active(), 1);
	ASSERT_INT_EQ(apply("s-alert", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-alert", ws, A_SKIP, "1 alert firing on Alertmanager 1", ALERT_NAME);
	ASSERT_INT_EQ(am_alert(false), 200);
	for (int i = 0; i < 100 && am_active() != 0; i++)
		nap(50);
	ASSERT_INT_EQ(am_active(), 0);

	TEST_START("2. REL-19: an Alertmanager answering garbage: skipped (fails closed)");
	atomic_store(&am_mode, AM_GARBAGE);
	ASSERT_INT_EQ(apply("s-am-garbage", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-am-garbage", ws, A_SKIP, "not an Alertmanager v2 alerts reply", NULL);

	TEST_START("2. REL-19: an Alertmanager answering HTTP 500: skipped");
	atomic_store(&am_mode, AM_500);
	ASSERT_INT_EQ(apply("s-am-500", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-am-500", ws, A_SKIP, "could not be asked: HTTP 500", NULL);

	TEST_START("2. REL-19: an Alertmanager slower than the 1 s timeout: skipped");
	atomic_store(&am_mode, AM_SLOW);
	ASSERT_INT_EQ(apply("s-am-slow", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-am-slow", ws, A_SKIP, "could not be asked", "Timeout");
	atomic_store(&am_mode, AM_OK);
}

static void
test_budget(void)
{
	int64_t ws;

	TEST_START("3. REL-19: the error budget below min: skipped, the value in the reason");
	atomic_store(&prom_milli, -5250);
	ASSERT_INT_EQ(apply("s-budget-low", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-budget-low", ws, A_SKIP, "-5.25, below 0", NULL);
	atomic_store(&prom_milli, 10000);

	TEST_START("3. REL-19: the error-budget query returns NaN: skipped");
	atomic_store(&prom_mode, PROM_NAN);
	ASSERT_INT_EQ(apply("s-budget-nan", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-budget-nan", ws, A_SKIP, "NaN", NULL);

	TEST_START("3. REL-19: Prometheus answers 500: skipped");
	atomic_store(&prom_mode, PROM_500);
	ASSERT_INT_EQ(apply("s-budget-500", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-budget-500", ws, A_SKIP, "HTTP 500", "fails closed");

	TEST_START("3. REL-19: Prometheus answers garbage: skipped");
	atomic_store(&prom_mode, PROM_GARBAGE);
	ASSERT_INT_EQ(apply("s-budget-garbage", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-budget-garbage", ws, A_SKIP, "not JSON", "fails closed");
	atomic_store(&prom_mode, PROM_VALUE);

	TEST_START("3. REL-19: Prometheus down: skipped");
	srv_set_down(&prom_srv, true);
	ASSERT_INT_EQ(apply("s-budget-down", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-budget-down", ws, A_SKIP, "could not be run", NULL);
	srv_set_down(&prom_srv, false);
}

static void
test_blackout(void)
{
	char extra[256], today[16], want[32];
	int64_t ws;
	cJSON *o;

	TEST_START("4. a blackout covering today: no start today");
	room();
	date_of(wall_ms(), today);
	(void)snprintf(extra, sizeof(extra), ",\"blackouts\":[{\"from\":\"%s\",\"to\":\"%s\","
	    "\"reason\":\"test freeze\"}]", today, today);
	ASSERT_INT_EQ(apply("s-blackout", "staging", A_SKIP, "3s", 0, 10, extra, &ws), 201);
	tomorrow_start(ws, want);
	for (int i = 0; i < 60; i++) {
		o = sched_row("s-blackout");
		if (h_str(o, "next_start")[0] != '\0')
			break;
		cJSON_Delete(o);
		o = NULL;
		nap(50);
	}
	(void)printf("  /v1/schedules s-blackout: next_start %s\n", h_str(o, "next_start"));
	ASSERT_TRUE(strncmp(h_str(o, "next_start"), today, 10) != 0);
	ASSERT_STR_EQ(h_str(o, "next_start"), want);
	cJSON_Delete(o);
	nap(600);	/* Three ticks. */
	ASSERT_INT_EQ(nruns_of("s-blackout", ws), 0);
	ASSERT_INT_EQ(journal_count(A_SKIP), 0);
}

static char cleared_id[32];

static void
test_halt_all(void)
{
	char st[32], id[32], want[32];
	int64_t ws;
	cJSON *o;

	TEST_START("5. halt --all in force: the scheduled start is skipped");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt", op, "{\"reason\":\"sched test\"}", NULL,
	    NULL), 200);
	ASSERT_INT_EQ(apply("s-halted", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-halted", ws, A_SKIP, "halt of all runs", NULL);

	TEST_START("5. halt --all arriving while a start's outage check is in flight: that "
	    "start does not go ahead");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt/clear", adm, "{}", NULL, NULL), 200);
	atomic_store(&am_mode, AM_DELAY);
	atomic_store(&am_hits, 0);
	ASSERT_INT_EQ(apply("s-race", "staging", A_RACE, "3s", 0, 10, "", &ws), 201);
	for (int i = 0; i < 300 && atomic_load(&am_hits) == 0; i++)
		nap(10);
	ASSERT_TRUE(atomic_load(&am_hits) > 0);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt", op, "{\"reason\":\"race\"}", NULL, NULL),
	    200);
	nap(1500);
	atomic_store(&am_mode, AM_OK);
	if (wait_run_of("s-race", ws, 1000, id)[0] == '\0') {
		TEST_FAIL("no run of s-race");
	} else {
		o = get_run(id);
		(void)printf("  s-race: run %s is %s (%s), %d faults in the journal\n", id,
		    h_str(o, "state"), h_str(o, "outcome"), journal_count(A_RACE));
		if (strcmp(h_str(o, "state"), "aborted") != 0 &&
		    strcmp(h_str(o, "state"), "halted") != 0)
			TEST_FAIL("run %s of s-race started after halt --all: it is %s", id,
			    h_str(o, "state"));
		ASSERT_TRUE(h_str(o, "started")[0] == '\0');
		cJSON_Delete(o);
		end_run(id);
	}
	ASSERT_INT_EQ(journal_count(A_RACE), 0);

	TEST_START("5. ... and the schedule does not record that start as made");
	o = sched_row("s-race");
	(void)printf("  /v1/schedules s-race: last_start %s\n", h_str(o, "last_start"));
	ASSERT_STR_EQ(h_str(o, "last_start"), "");
	cJSON_Delete(o);
	if (id[0] != '\0') {
		char needle[96];

		(void)snprintf(needle, sizeof(needle), "s-race: run %s started", id);
		ASSERT_TRUE(!log_has(needle));
	}

	TEST_START("5. halt --all cleared by an admin: schedules start again");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt/clear", op, "{}", NULL, NULL), 403);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt/clear", adm, "{}", NULL, NULL), 200);
	ASSERT_INT_EQ(apply("s-cleared", "staging", A_OK, "3s", 0, 10, "", &ws), 201);
	if (wait_run_of("s-cleared", ws, 5000, cleared_id)[0] == '\0') {
		TEST_FAIL("no run of s-cleared after the halt was cleared");
		return;
	}
	ASSERT_STR_EQ(wait_run(cleared_id, "|running|completed|aborted|failed|", 15000, st),
	    "running");
	ASSERT_INT_EQ(nruns_of("s-cleared", ws), 1);

	TEST_START("5. a halt --all cleared a minute later costs no schedule its next window");
	o = sched_row("s-ok");
	tomorrow_start(ok_ws, want);
	(void)printf("  /v1/schedules s-ok after halt and clear: next_start %s (run %s, %s)\n",
	    h_str(o, "next_start"), h_str(o, "next_run"), h_str(o, "next_run")[0] != '\0' ?
	    h_run_state(&g, op, h_str(o, "next_run"), st) : "-");
	ASSERT_STR_EQ(h_str(o, "next_start"), want);
	cJSON_Delete(o);
}

static char appr_id[32], noappr_id[32];
static int64_t appr_ws, noappr_ws;

static void
test_approval(void)
{
	char st[32], dur[16];
	int64_t now;
	cJSON *o;

	TEST_START("6. production: the run is made ahead in awaiting_approval by the scheduler");
	room_until(40000);	/* Both in this minute (apply() waits past :45). */
	/* The unapproved one can no longer finish in its window ~10 s from now. */
	now = wall_ms();
	(void)snprintf(dur, sizeof(dur), "%ds", (int)(50 - now % 60000 / 1000));
	ASSERT_INT_EQ(apply("p-noappr", "production", A_SKIP, dur, 0, 1, "", &noappr_ws), 201);
	ASSERT_INT_EQ(apply("p-appr", "production", A_APPR, "3s", 0, 1, "", &appr_ws), 201);
	if (wait_run_of("p-noappr", noappr_ws, 5000, noappr_id)[0] == '\0' ||
	    wait_run_of("p-appr", appr_ws, 5000, appr_id)[0] == '\0') {
		TEST_FAIL("the scheduler made no run ahead for p-noappr or p-appr");
		return;
	}
	ASSERT_STR_EQ(wait_run(appr_id, "|awaiting_approval|", 3000, st), "awaiting_approval");
	ASSERT_STR_EQ(h_run_state(&g, op, noappr_id, st), "awaiting_approval");
	o = get_run(appr_id);
	ASSERT_STR_EQ(h_str(o, "requested_by"), "scheduler");
	cJSON_Delete(o);
	ASSERT_TRUE(audit_by("run.start", noappr_id, "scheduler"));
	ASSERT_TRUE(wait_hook("/hook", "awaiting_approval", noappr_id, "p-noappr", 5000));

	TEST_START("6. approved by a second person: scheduled, then started by the scheduler");
	/* An operator may not approve; an approver may: the scheduler asked. */
	ASSERT_INT_EQ(post_run(appr_id, "approve", op), 403);
	ASSERT_INT_EQ(post_run(appr_id, "approve", appr), 200);
	ASSERT_STR_EQ(wait_run(appr_id, "|running|completed|aborted|failed|", 15000, st),
	    "running");
	ASSERT_INT_EQ(journal_count(A_APPR), 1);
	o = get_events(appr_id);
	ASSERT_TRUE(h_json_has(o, "\"actor\":\"abe\",\"kind\":\"state\",\"state\":\"scheduled\""));
	ASSERT_TRUE(h_json_has(o, "\"actor\":\"scheduler\",\"kind\":\"state\","
	    "\"state\":\"preflight\""));
	cJSON_Delete(o);
	o = get_run(appr_id);
	ASSERT_STR_EQ(h_str(o, "approved_by"), "abe");
	cJSON_Delete(o);
}

static void
test_approval_done(void)
{
	char st[32];
	cJSON *o;

	TEST_START("6. ... the approved run completes");
	ASSERT_STR_EQ(wait_run(appr_id, "|completed|aborted|failed|halted|", 20000, st),
	    "completed");
	ASSERT_INT_EQ(journal_count(A_APPR), 0);
	check_next_ahead("p-appr", appr_ws, "awaiting_approval");

	TEST_START("6. not approved: skipped once it could no longer finish in its window");
	ASSERT_STR_EQ(wait_run(noappr_id, "|aborted|scheduled|preflight|running|completed|", 60000,
	    st), "aborted");
	o = get_run(noappr_id);
	(void)printf("  p-noappr: %s\n", h_str(o, "outcome"));
	ASSERT_STR_EQ(h_str(o, "outcome"), "skipped: not approved before its window closed");
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "targets")), 0);
	cJSON_Delete(o);
	ASSERT_INT_EQ(journal_count(A_SKIP), 0);
	check_next_ahead("p-noappr", noappr_ws, "awaiting_approval");
}

static void
test_prod_target(void)
{
	char st[32], id[32];
	int64_t ws;

	TEST_START("6. a staging playbook whose target is tagged environment=production: "
	    "approved, its scheduled run starts");
	ASSERT_INT_EQ(apply("s-prodtag", "staging", A_PROD, "3s", 0, 10, "", &ws), 201);
	if (wait_run_of("s-prodtag", ws, 5000, id)[0] == '\0') {
		TEST_FAIL("no run of s-prodtag");
		return;
	}
	ASSERT_STR_EQ(wait_run(id, "|awaiting_approval|running|aborted|failed|", 10000, st),
	    "awaiting_approval");
	ASSERT_INT_EQ(journal_count(A_PROD), 0);
	ASSERT_INT_EQ(post_run(id, "approve", appr), 200);
	if (strcmp(wait_run(id, "|running|completed|aborted|failed|", 8000, st), "running") !=
	    0 && strcmp(st, "completed") != 0)
		TEST_FAIL("approved run %s of s-prodtag is still '%s' 8 s later", id, st);
	(void)wait_run(id, "|completed|aborted|failed|", 10000, st);
	end_run(id);
	ASSERT_INT_EQ(journal_count(A_PROD), 0);
}

static void
test_schedule_changed(void)
{
	char st[32], id[32], when[32];
	int64_t ws;
	cJSON *o;

	TEST_START("6. a scheduled playbook changed before its start: the run made for the old "
	    "revision is dropped, its window is not");
	/* A window two minutes ahead: its run is made at once, and waits in scheduled. */
	ASSERT_INT_EQ(apply("s-edit", "staging", A_RACE, "3s", 2, 1, "", &ws), 201);
	if (wait_run_of("s-edit", ws, 5000, id)[0] == '\0') {
		TEST_FAIL("no run of s-edit made ahead");
		return;
	}
	ASSERT_STR_EQ(wait_run(id, "|scheduled|", 3000, st), "scheduled");
	ASSERT_INT_EQ(apply_at("s-edit", "staging", A_RACE, "4s", ws, 1, ""), 201);
	ASSERT_STR_EQ(wait_run(id, "|aborted|halted|", 3000, st), "aborted");
	o = get_run(id);
	ASSERT_STR_EQ(h_str(o, "outcome"), "skipped: the playbook was changed before its start");
	cJSON_Delete(o);
	iso_of(ws, when);
	nap(600);	/* Three ticks: planned again, and its run made ahead. */
	o = sched_row("s-edit");
	(void)printf("  s-edit changed: next_start %s (the window: %s), next_run %s\n",
	    h_str(o, "next_start"), when, h_str(o, "next_run"));
	ASSERT_STR_EQ(h_str(o, "next_start"), when);
	ASSERT_INT_EQ(nruns_of("s-edit", ws), 2);
	cJSON_Delete(o);
	/* No start in two minutes: no schedule any more (and any run made ahead halted). */
	ASSERT_INT_EQ(apply_at("s-edit", "staging", A_RACE, "4s", ws, 0, ""), 201);
	{
		char ids[4][32];
		int n = runs_of("s-edit", 0, ids, 4);

		for (int i = 0; i < n && i < 4; i++)
			end_run(ids[i]);
	}

	TEST_START("6. a schedule removed while its next run waits, made ahead: that run is not "
	    "left behind");
	ASSERT_INT_EQ(apply("s-orphan", "staging", A_RACE, "3s", 2, 1, "", &ws), 201);
	if (wait_run_of("s-orphan", ws, 5000, id)[0] == '\0') {
		TEST_FAIL("no run of s-orphan made ahead");
		return;
	}
	ASSERT_STR_EQ(wait_run(id, "|scheduled|", 3000, st), "scheduled");
	ASSERT_INT_EQ(apply_at("s-orphan", "staging", A_RACE, "3s", ws, 0, ""), 201);
	(void)wait_run(id, "|aborted|halted|", 2000, st);
	(void)printf("  s-orphan: run %s is %s 2 s after its schedule was removed\n", id, st);
	if (!terminal(st))
		TEST_FAIL("run %s of s-orphan, whose schedule is gone, is left '%s'", id, st);
	end_run(id);
	ASSERT_INT_EQ(journal_count(A_RACE), 0);
}

static void
test_restart(void)
{
	char st[32], id[32], last[40], want[32];
	int64_t ws;
	cJSON *o;

	TEST_START("7. gamedayd SIGKILLed after a start: the start survives, no second start");
	ASSERT_INT_EQ(apply("s-rst", "staging", A_RST, "3s", 0, 10, "", &ws), 201);
	if (wait_run_of("s-rst", ws, 5000, id)[0] == '\0') {
		TEST_FAIL("no run of s-rst");
		return;
	}
	ASSERT_STR_EQ(wait_run(id, "|running|completed|aborted|failed|", 15000, st), "running");
	o = sched_row("s-rst");
	(void)snprintf(last, sizeof(last), "%s", h_str(o, "last_start"));
	cJSON_Delete(o);
	ASSERT_TRUE(last[0] != '\0');
	pump();
	(void)gd_signal_wait(&g, SIGKILL);
	if (gd_start(&g, g.port) != 0) {
		TEST_FAIL("gamedayd did not start again on port %d", g.port);
		return;
	}
	o = sched_row("s-rst");
	(void)printf("  after the restart: s-rst last_start %s (before: %s)\n",
	    h_str(o, "last_start"), last);
	ASSERT_STR_EQ(h_str(o, "last_start"), last);
	cJSON_Delete(o);
	nap(1500);	/* Seven ticks, inside the grace of the window's start. */
	ASSERT_INT_EQ(nruns_of("s-rst", ws), 1);
	o = sched_row("s-rst");
	tomorrow_start(ws, want);
	ASSERT_STR_EQ(h_str(o, "last_start"), last);
	ASSERT_STR_EQ(h_str(o, "next_start"), want);
	cJSON_Delete(o);
	ASSERT_STR_EQ(wait_run(id, "|completed|aborted|failed|halted|", 20000, st), "completed");
	ASSERT_INT_EQ(journal_count(A_RST), 0);
	check_next_ahead("s-rst", ws, "scheduled");
}

static char halt_id[32];

static void
test_webhooks(void)
{
	char st[32];
	double t0, t_reply, t_halted;
	int64_t ws;

	TEST_START("8. a webhook that hangs 6 s does not delay a halt");
	atomic_store(&slow_on, 1);
	atomic_store(&slow_inflight, 0);
	ASSERT_INT_EQ(apply("s-halt", "staging", A_HALT, "1m", 0, 10, "", &ws), 201);
	if (wait_run_of("s-halt", ws, 5000, halt_id)[0] == '\0') {
		TEST_FAIL("no run of s-halt");
		atomic_store(&slow_on, 0);
		return;
	}
	ASSERT_STR_EQ(wait_run(halt_id, "|running|completed|aborted|failed|", 15000, st),
	    "running");
	ASSERT_INT_EQ(journal_count(A_HALT), 1);
	/* The notification thread is now inside its POST of "started" to /slow. */
	for (int i = 0; i < 300 && atomic_load(&slow_inflight) == 0; i++)
		nap(10);
	ASSERT_TRUE(atomic_load(&slow_inflight) > 0);
	(void)pthread_mutex_lock(&hook_lock);
	(void)snprintf(flaky_run, sizeof(flaky_run), "%s", halt_id);
	flaky_left = 2;
	flaky_attempts = 0;
	(void)pthread_mutex_unlock(&hook_lock);
	t0 = h_now_ms();
	ASSERT_INT_EQ(post_run(halt_id, "halt", op), 200);
	t_reply = h_now_ms() - t0;
	ASSERT_STR_EQ(wait_run(halt_id, "|halted|aborted|failed|completed|", 10000, st),
	    "halted");
	t_halted = h_now_ms() - t0;
	(void)printf("  halt answered in %.0f ms, run halted in %.0f ms; the webhook's POST was "
	    "still hanging: %s\n", t_reply, t_halted, atomic_load(&slow_inflight) > 0 &&
	    t_halted < 5000 ? "yes" : "no");
	atomic_store(&slow_on, 0);
	ASSERT_TRUE(t_reply < 1000);
	ASSERT_TRUE(t_halted < 4000);
	ASSERT_INT_EQ(journal_count(A_HALT), 0);
}

static void
test_webhooks_done(void)
{
	double t0 = h_now_ms();
	int attempts;

	TEST_START("8. a webhook that answers 500 twice gets the notification on attempt 3");
	ASSERT_TRUE(wait_hook("/flaky", "halted", halt_id, "s-halt", 25000));
	(void)pthread_mutex_lock(&hook_lock);
	attempts = flaky_attempts;
	(void)pthread_mutex_unlock(&hook_lock);
	(void)printf("  /flaky: %d attempts, delivered %.0f ms after this check began\n",
	    attempts, h_now_ms() - t0);
	ASSERT_INT_EQ(attempts, 3);
	ASSERT_INT_EQ(hook_count("/flaky", "halted", halt_id, "s-halt"), 1);
	ASSERT_TRUE(log_has("webhook flaky, event halted: HTTP 500 (attempt 1)"));
	ASSERT_TRUE(log_has("webhook flaky, event halted: HTTP 500 (attempt 2)"));
	/* The slow webhook's timed-out POST was tried again and went through. */
	ASSERT_TRUE(wait_hook("/slow", "started", halt_id, "s-halt", 15000));
	ASSERT_TRUE(wait_hook("/hook", "halted", halt_id, "s-halt", 5000));
	/* Logs name a webhook, never its URL. */
	ASSERT_TRUE(!log_has("/flaky"));
}

static void
test_am_down(void)
{
	int64_t ws;

	TEST_START("2. REL-19: Alertmanager killed: skipped, it could not be asked");
	am_kill();
	ASSERT_INT_EQ(am_active(), -1);
	ASSERT_INT_EQ(apply("s-am-down", "staging", A_SKIP, "3s", 0, 10, "", &ws), 201);
	check_skipped("s-am-down", ws, A_SKIP, "Alertmanager 1", "could not be asked");
}

/* Stops gamedayd with SIGTERM and reads the rest of its log; its wait status. */
static int
gd_term(void)
{
	int st = 0;

	if (g.pid <= 0)
		return -1;
	pump();
	(void)kill(g.pid, SIGTERM);
	(void)waitpid(g.pid, &st, 0);
	g.pid = 0;
	pump();		/* It has exited: what is left in the pipe, then EOF. */
	if (g.errfd >= 0)
		(void)close(g.errfd);
	g.errfd = -1;
	return st;
}

static int
write_config(void)
{
	char path[128], text[2048];

	(void)snprintf(path, sizeof(path), "%s/gamedayd.json", adir);
	(void)snprintf(text, sizeof(text), "{\"scheduler\":{\"tick\":\"200ms\",\"timeout\":"
	    "\"1s\",\"alertmanager\":{\"urls\":[\"%s\",\"http://127.0.0.1:%d\"],"
	    "\"matchers\":[\"severity=\\\"critical\\\"\"]},\"error_budget\":{\"url\":"
	    "\"http://127.0.0.1:%d\",\"query\":\"gameday_error_budget_left\",\"min\":0}},"
	    "\"notify\":[{\"name\":\"t\",\"url\":\"http://127.0.0.1:%d/hook\",\"format\":"
	    "\"json\"},{\"name\":\"flaky\",\"url\":\"http://127.0.0.1:%d/flaky\",\"format\":"
	    "\"json\",\"events\":[\"halted\"]},{\"name\":\"slow\",\"url\":"
	    "\"http://127.0.0.1:%d/slow\",\"format\":\"json\",\"events\":[\"started\"]}]}",
	    am.url, am_srv.port, prom_srv.port, hook_srv.port, hook_srv.port, hook_srv.port);
	(void)snprintf(g.config, sizeof(g.config), "%s", path);
	return write_text(path, text);
}

int
main(void)
{
	double t0;
	int up = 0;

	ns_enter_pid();
	ns_enter_net();
	(void)signal(SIGPIPE, SIG_IGN);	/* Clients give up on the slow servers. */
	if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0 ||
	    access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0)
		ns_skip("needs GD_CTL_BIN (gamedayd) and GD_AGENT_BIN (gameday-agent)");
	if (access(am_bin(), X_OK) != 0)
		ns_skip("needs Alertmanager (the Debian package prometheus-alertmanager)");
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	(void)snprintf(adir, sizeof(adir), "/tmp/gd-test-sched-XXXXXX");
	if (mkdtemp(adir) == NULL)
		return 1;
	t0 = h_now_ms();
	TEST_START("setup: Alertmanager, the test's servers, gamedayd, seven agents, tokens");
	ASSERT_INT_EQ(am_start(), 0);
	ASSERT_INT_EQ(srv_start(&hook_srv), 0);
	ASSERT_INT_EQ(srv_start(&prom_srv), 0);
	ASSERT_INT_EQ(srv_start(&am_srv), 0);
	ASSERT_INT_EQ(write_config(), 0);
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	if (test_cur_failed) {
		am_kill();
		(void)fprintf(stderr, "kept %s\n", adir);
		return test_done();
	}
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "ada", "admin", adm, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "abe", "approver", appr, TOK), 0);
	for (int i = 0; i < A_N; i++)
		ASSERT_TRUE((agent_pid[i] = agent_spawn(i)) > 0);
	for (int i = 0; i < 200 && (up = agents_ok()) < A_N; i++)
		nap(50);
	ASSERT_INT_EQ(up, A_N);
	(void)printf("  setup took %.0f ms\n", h_now_ms() - t0);
	if (!test_cur_failed) {
		test_start();
		test_outage();
		test_budget();
		test_blackout();
		test_start_done();
		test_halt_all();
		test_approval();
		test_prod_target();
		test_schedule_changed();
		test_restart();
		test_webhooks();
		test_approval_done();
		test_am_down();
		test_webhooks_done();
		if (cleared_id[0] != '\0') {
			char st[32];

			TEST_START("5. ... and the start after the clear completes");
			ASSERT_STR_EQ(wait_run(cleared_id, "|completed|aborted|failed|halted|",
			    20000, st), "completed");
			ASSERT_INT_EQ(journal_count(A_OK), 0);
		}
	}
	(void)printf("  total %.0f ms\n", h_now_ms() - t0);
	for (int i = 0; i < A_N; i++)
		if (agent_pid[i] > 0) {
			(void)kill(agent_pid[i], SIGTERM);
			(void)waitpid(agent_pid[i], NULL, 0);
		}
	am_kill();
	{
		int st = gd_term();

		TEST_START("gamedayd stops on SIGTERM with status 0 and no sanitizer report");
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		ASSERT_TRUE(!log_has("Sanitizer") && !log_has("runtime error"));
	}
	if (test_failed_count == 0 && !test_cur_failed) {
		gd_cleanup(&g);
		h_rmtree(g.dir);
		h_rmtree(adir);
	} else {
		(void)fprintf(stderr, "kept %s (agents' logs, alertmanager.log) and %s\n", adir,
		    g.dir);
		if (gdlog != NULL) {
			char path[128];

			(void)snprintf(path, sizeof(path), "%s/gamedayd.log", adir);
			(void)write_text(path, gdlog);
		}
	}
	return test_done();
}
