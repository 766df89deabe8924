/*
 * The SLA guard on a fleet (issue 5): how soon a breach aborts a run, and how soon every
 * fault is reverted after that.  50 real gameday-agent daemons, each a "host" of its own
 * (UTS, PID and mount namespaces with an init, one victim process "gdvictim" and the
 * agent; all share the benchmark's network namespace, where gamedayd listens on loopback),
 * one gamedayd, and a service the benchmark serves itself on loopback whose /flip answers
 * 200 until it is switched to 500.  The playbook pauses every host's victim
 * (process.pause, a real fault each agent reverts and verifies), probes /flip every 1 s
 * (timeout 500 ms) under the SLA "svc.error_rate < 1% over 1s" with breaches_to_abort 3,
 * and lasts 10 minutes, so only the guard ends it.
 *
 * Each of N runs: start it, wait until it is running with every victim paused (preflight
 * holds the steady state for 1 s first), wait a random 0..1000 ms, switch /flip to 500,
 * wait for the guard's abort and for every victim to run again, and for the run to end
 * aborted; switch /flip back.  Then, from the run's figures, timeline and events:
 *
 *   breach -> abort     server clock: the first breaching evaluation of the streak that
 *                       aborted to the rolling_back event by sla-guard; checked against
 *                       steady_state.figures.breach_to_abort_ms;
 *   abort -> reverted   the abort to the last fault its agent reported reverted (verified),
 *                       figures.abort_to_reverted_ms, checked against the faults' latest
 *                       changed_ms (and, to see how the 50 reports spread, the earliest);
 *   flip -> abort seen  this client's clock: the switch to the events long-poll answering
 *                       with the abort;
 *   abort -> resumed    the abort event to the last victim seen running again in /proc
 *                       (swept every 2 ms once the abort is seen, 20 ms before).
 * It prints every run, then p50 / p90 / max of each and the goals: abort within
 * breaches_to_abort x interval + 1 s = 4 s of the first breach; every revert verified
 * within 500 ms of the abort.  Missing a goal is a result (exit 0); a run that does not
 * abort, a fault not reverted or a figure that disagrees with the timeline is a failure
 * (exit 1).  As root:
 *
 *   GD_CTL_BIN=out/gcc/controller/gamedayd GD_AGENT_BIN=out/gcc/agent/gameday-agent \
 *       out/bench/tests/bench/bench_guard [RUNS]        (default 30)
 *
 * Everything runs in PID and network namespaces of the benchmark's own (ns.h); it ends
 * only processes it started, by pid.  Its files (tokens, agents' state and logs,
 * gamedayd's state) live in /tmp/gd-bench-guard-XXXXXX and /tmp/gdctl.XXXXXX, removed at
 * the end unless something failed.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "harness.h"
#include "ns.h"

#define NHOSTS		50
#define TOK		128
#define PLAYBOOK	"guard-bench"
#define INTERVAL_MS	1000	/* The probe's interval, as in the playbook. */
#define BREACHES	3	/* guardrails.breaches_to_abort, as in the playbook. */
#define GOAL_ABORT_MS	(BREACHES * INTERVAL_MS + 1000.0)
#define GOAL_REVERT_MS	500.0
#define WAIT_MS		30000.0	/* For anything to settle: starts, applies, ends. */

struct host {
	char name[16];
	pid_t init;		/* Its first process: pid 1 of its PID namespace. */
	pid_t victim;		/* As this namespace sees it. */
};

/* One run, in milliseconds. */
struct measure {
	double offset;			/* Running (every victim paused) to the flip. */
	double start_to_running;	/* POST /v1/runs to that, preflight included. */
	double flip_to_breach;		/* The flip to the first breaching sample (server). */
	double breach_to_abort, fig_breach_to_abort;
	double abort_to_reverted, fig_abort_to_reverted;
	double abort_to_first_reverted;	/* The first of the 50 reports (they are serial). */
	double flip_to_seen;		/* The flip to this client seeing the abort. */
	double abort_to_resumed;	/* The abort to the last victim running again. */
	int streak;			/* Breaching evaluations when the guard aborted. */
	int early;			/* Failed samples before the flip (none expected). */
};

/* The events long-poll of one run, in a thread of its own while the main one sweeps. */
struct watcher {
	pthread_t thread;
	char id[32];
	char state[32];		/* The state it saw the run reach ("" if none). */
	double seen;		/* h_now_ms() when it did. */
	atomic_bool done;
};

static struct host hosts[NHOSTS];
static struct gd g = { .errfd = -1 };
static char dir[64], op[TOK];
static int svc_port;
static atomic_int flip;		/* /flip answers 200 while 0, 500 once 1. */
static bool failed;
static int problems;		/* Things that broke but let the runs go on. */

static void teardown(void);

static _Noreturn void __attribute__((format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("bench_guard: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	failed = true;
	teardown();
	exit(1);
}

static void __attribute__((format(printf, 1, 2)))
problem(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("bench_guard: PROBLEM: ", stdout);
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)fputc('\n', stdout);
	problems++;
}

/* Before any namespace: a missing piece is named, and the exit status is 1. */
static void
check_prerequisites(void)
{
	const char *missing = NULL;

	if (geteuid() != 0)
		missing = "root (it creates namespaces)";
	else if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0)
		missing = "GD_CTL_BIN naming the gamedayd binary";
	else if (access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0)
		missing = "GD_AGENT_BIN naming the gameday-agent binary";
	if (missing != NULL) {
		(void)fprintf(stderr, "bench_guard: needs %s\n", missing);
		exit(1);
	}
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	bool ok;

	if (fd == -1)
		return -errno;
	ok = write(fd, text, len) == (ssize_t)len;
	(void)close(fd);
	return ok ? 0 : -EIO;
}

static double
wall_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* ---- The hosts (as in tests/controller/test_fleet.c) ---- */

/* pid 1 of a host: its victim, its agent, and reaping until killed. */
static _Noreturn void
host_init(const struct host *h)
{
	char sdir[128], tfile[128], log[128];
	char *argv[] = { (char *)h_bin("GD_AGENT_BIN", ""), "--controller", g.url,
	    "--token-file", tfile, "--tags", "role=guard", "--state-dir", sdir, "--lease", "15s",
	    NULL };
	pid_t pid;

	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1)
		_exit(1);
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_NAME, "gdvictim", 0, 0, 0);
		for (;;)
			(void)pause();
	}
	(void)snprintf(sdir, sizeof(sdir), "%.63s/%.15s", dir, h->name);
	(void)snprintf(tfile, sizeof(tfile), "%.63s/%.15s.token", dir, h->name);
	(void)snprintf(log, sizeof(log), "%.63s/%.15s.log", dir, h->name);
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

/* The pid (in our namespace) of init's child named gdvictim, or -1. */
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

			if (fgets(buf, sizeof(buf), f) == NULL)
				buf[0] = '\0';
			(void)fclose(f);
			for (tok = strtok_r(buf, " \n", &save); tok != NULL;
			    tok = strtok_r(NULL, " \n", &save)) {
				bool is_victim;

				(void)snprintf(path, sizeof(path), "/proc/%s/comm", tok);
				if ((f = fopen(path, "r")) == NULL)
					continue;
				is_victim = fgets(comm, sizeof(comm), f) != NULL &&
				    strcmp(comm, "gdvictim\n") == 0;
				(void)fclose(f);
				if (is_victim)
					return (pid_t)strtol(tok, NULL, 10);
			}
		}
		h_sleep_ms(20);
	}
	return -1;
}

/* Host h: new UTS, PID and mount namespaces, its init (which starts victim and agent). */
static int
host_start(struct host *h)
{
	int p[2];
	pid_t child, init = -1;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	(void)fflush(NULL);
	if ((child = fork()) == -1) {
		(void)close(p[0]);
		(void)close(p[1]);
		return -1;
	}
	if (child == 0) {
		if (unshare(CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS) == -1 ||
		    sethostname(h->name, strlen(h->name)) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
			_exit(1);
		if ((init = fork()) == 0)
			host_init(h);
		(void)!write(p[1], &init, sizeof(init));
		_exit(0);
	}
	(void)close(p[1]);
	if (read(p[0], &init, sizeof(init)) != (ssize_t)sizeof(init))
		init = -1;
	(void)close(p[0]);
	(void)waitpid(child, NULL, 0);
	h->init = init;
	h->victim = init > 0 ? find_victim(init) : -1;
	return h->victim > 0 ? 0 : -1;
}

/* The state letter of pid from /proc (T: stopped), or '?'. */
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

	for (size_t i = 0; i < NHOSTS; i++)
		n += proc_state(hosts[i].victim) == 'T';
	return n;
}

/* ---- The service under test: one thread per connection; /flip is the switch ---- */

static void
say(int fd, const char *status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(body));

	if (write(fd, head, (size_t)n) != n || write(fd, body, strlen(body)) < 0)
		return;
}

static void *
serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[4096], path[256] = "";
	ssize_t n = read(fd, req, sizeof(req) - 1);

	if (n > 0) {
		req[n] = '\0';
		(void)sscanf(req, "GET %255s", path);
	}
	if (strcmp(path, "/flip") != 0)
		say(fd, "404 Not Found", "no");
	else if (atomic_load(&flip) == 0)
		say(fd, "200 OK", "ok");
	else
		say(fd, "500 Internal Server Error", "down");
	(void)close(fd);
	return NULL;
}

static void *
serve(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd == -1)
			continue;
		if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd) != 0)
			(void)close(fd);
		else
			(void)pthread_detach(t);
	}
	return NULL;
}

/* The service on 127.0.0.1, a port the kernel picks (svc_port). */
static int
svc_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	pthread_t t;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 128) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		return -1;
	svc_port = ntohs(sa.sin_port);
	return pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) == 0 ? 0 : -1;
}

/* ---- The controller's side ---- */

static size_t
agents_ok(void)
{
	cJSON *o = NULL, *a;
	size_t n = 0;

	if (h_json(&g, "GET", "/v1/agents", op, NULL, &o) == 200)
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "agents"))
			n += strcmp(h_str(a, "state"), "ok") == 0;
	cJSON_Delete(o);
	return n;
}

static void
wait_agents_ok(void)
{
	double t0 = h_now_ms();

	while (agents_ok() < NHOSTS) {
		if (h_now_ms() - t0 > WAIT_MS)
			die("only %zu of %d agents are ok (their logs: %s/*.log)", agents_ok(),
			    NHOSTS, dir);
		gd_drain(&g);
		h_sleep_ms(50);
	}
}

static bool
terminal(const char *s)
{
	return strcmp(s, "completed") == 0 || strcmp(s, "aborted") == 0 ||
	    strcmp(s, "failed") == 0 || strcmp(s, "halted") == 0;
}

/* GET /v1/runs/{id} (caller deletes), or die. */
static cJSON *
get_run(const char *id)
{
	char path[64];
	cJSON *o = NULL;
	long st;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	if ((st = h_json(&g, "GET", path, op, NULL, &o)) != 200 || o == NULL)
		die("GET %s: HTTP %ld", path, st);
	return o;
}

/* The run's state into state; returns how many of its faults are applied. */
static size_t
run_get(const char *id, char state[32])
{
	cJSON *o = get_run(id), *t, *f;
	size_t n = 0;

	(void)snprintf(state, 32, "%s", h_str(o, "state"));
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "targets"))
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(t, "faults"))
			n += strcmp(h_str(f, "state"), "applied") == 0;
	cJSON_Delete(o);
	return n;
}

/* Starts a run; returns once it is running with every fault applied, every victim paused. */
static void
start_running(char id[32], double *ret_ms)
{
	char state[32] = "";
	size_t applied = 0, paused = 0;
	cJSON *o = NULL;
	double t0;
	long st;

	wait_agents_ok();
	t0 = h_now_ms();
	st = h_json(&g, "POST", "/v1/runs", op, "{\"playbook\":\"" PLAYBOOK "\","
	    "\"reason\":\"bench_guard\"}", &o);
	(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
	if (st != 201)
		die("POST /v1/runs: HTTP %ld", st);
	while (h_now_ms() - t0 < WAIT_MS && !terminal(state)) {
		gd_drain(&g);
		applied = run_get(id, state);
		if (strcmp(state, "running") == 0 && applied == NHOSTS &&
		    (paused = paused_count()) == NHOSTS) {
			*ret_ms = h_now_ms() - t0;
			return;
		}
		h_sleep_ms(10);
	}
	die("run %s is %s with %zu of %d faults applied and %zu victims paused", id, state,
	    applied, NHOSTS, paused);
}

/* "2026-11-29T12:34:56.789Z" as Unix milliseconds; -1 if it is not that. */
static double
rfc3339_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0, n = 0;

	if (sscanf(s, "%d-%d-%dT%d:%d:%d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 || n == 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000 + ms;
}

/*
 * The watcher: long-polls GET /v1/runs/{id}/events (wait=20) until a state event says the
 * run left running (rolling_back, or an end), and notes when it saw that.
 */
static void *
watch_main(void *arg)
{
	struct watcher *w = arg;
	double t0 = h_now_ms();
	long long after = 0;

	while (w->state[0] == '\0' && h_now_ms() - t0 < WAIT_MS) {
		char path[128];
		cJSON *o = NULL, *e;

		(void)snprintf(path, sizeof(path), "/v1/runs/%s/events?after=%lld&wait=20", w->id,
		    after);
		if (h_json(&g, "GET", path, op, NULL, &o) != 200) {
			cJSON_Delete(o);
			h_sleep_ms(10);
			continue;
		}
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "events")) {
			const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
			const char *st = h_str(e, "state");

			if (cJSON_IsNumber(seq) && seq->valuedouble > (double)after)
				after = (long long)seq->valuedouble;
			if (w->state[0] == '\0' && strcmp(h_str(e, "kind"), "state") == 0 &&
			    (strcmp(st, "rolling_back") == 0 || terminal(st))) {
				w->seen = h_now_ms();
				(void)snprintf(w->state, sizeof(w->state), "%s", st);
			}
		}
		cJSON_Delete(o);
	}
	atomic_store(&w->done, true);
	return NULL;
}

/*
 * From the flip until every victim runs again (or WAIT_MS): the wall time at which the
 * last one was first seen running.  Sweeps /proc every 20 ms until the watcher has seen
 * the abort, every 2 ms after.  Returns how many resumed.
 */
static size_t
watch_resumes(const struct watcher *w, double *ret_last_wall)
{
	bool resumed[NHOSTS] = { false };
	double t0 = h_now_ms(), last = 0;
	size_t done = 0;

	while (done < NHOSTS && h_now_ms() - t0 < WAIT_MS) {
		for (size_t i = 0; i < NHOSTS; i++)
			if (!resumed[i] && proc_state(hosts[i].victim) != 'T') {
				resumed[i] = true;
				last = wall_ms();
				done++;
			}
		if (done < NHOSTS)
			h_sleep_ms(atomic_load(&w->done) ? 2 : 20);
	}
	*ret_last_wall = last;
	return done;
}

/* The time of the abort: the rolling_back event by sla-guard (wall ms), or -1. */
static double
abort_time(const char *id)
{
	char path[128];
	cJSON *o = NULL, *e;
	double t = -1;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s/events", id);
	if (h_json(&g, "GET", path, op, NULL, &o) != 200)
		die("GET %s failed", path);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "events"))
		if (t < 0 && strcmp(h_str(e, "kind"), "state") == 0 &&
		    strcmp(h_str(e, "state"), "rolling_back") == 0 &&
		    strcmp(h_str(e, "actor"), "sla-guard") == 0)
			t = rfc3339_ms(h_str(e, "time"));
	cJSON_Delete(o);
	return t;
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static bool
is_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/*
 * From the timeline's evaluations: the time of the first breaching evaluation of the streak
 * that was breaching when the guard aborted at abort_ms, and that streak's length there.
 */
static double
streak_start(const cJSON *evals, double abort_ms, int *ret_streak)
{
	int n = cJSON_GetArraySize(evals), last = -1, idx;
	double first;

	for (int i = 0; i < n; i++) {
		const cJSON *e = cJSON_GetArrayItem(evals, i);

		if (num(e, "time_ms") <= abort_ms && !is_true(e, "holds"))
			last = i;
	}
	if (last < 0)
		return NAN;
	idx = (int)num(cJSON_GetArrayItem(evals, last), "index");
	*ret_streak = (int)num(cJSON_GetArrayItem(evals, last), "streak");
	first = num(cJSON_GetArrayItem(evals, last), "time_ms");
	for (int i = last - 1; i >= 0; i--) {
		const cJSON *e = cJSON_GetArrayItem(evals, i);

		if ((int)num(e, "index") != idx)
			continue;
		if (is_true(e, "holds"))
			break;
		first = num(e, "time_ms");
	}
	return first;
}

/* Fills m from run id's figures, events and timeline; flip_wall is when /flip went 500. */
static void
analyse(const char *id, double flip_wall, double resumed_wall, struct measure *m)
{
	char path[128];
	cJSON *run = get_run(id), *tl = NULL, *f;
	const cJSON *figures;
	double abort_ms, first, last_changed = -1, first_changed = INFINITY;
	size_t reverted = 0, nfaults = 0;

	figures = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run,
	    "steady_state"), "figures");
	m->fig_breach_to_abort = num(figures, "breach_to_abort_ms");
	m->fig_abort_to_reverted = num(figures, "abort_to_reverted_ms");
	cJSON_Delete(run);
	if ((abort_ms = abort_time(id)) < 0)
		die("run %s: no rolling_back event by sla-guard", id);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/timeline", id);
	if (h_json(&g, "GET", path, op, NULL, &tl) != 200 || tl == NULL)
		die("GET %s failed", path);
	/* The server stamps whole milliseconds: a sample at flip_wall - 1 may be after it. */
	m->flip_to_breach = NAN;
	m->early = 0;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(tl, "samples")) {
		if (is_true(f, "ok"))
			continue;
		if (num(f, "time_ms") < floor(flip_wall))
			m->early++;
		else if (isnan(m->flip_to_breach))
			m->flip_to_breach = num(f, "time_ms") - flip_wall;
	}
	m->streak = 0;
	first = streak_start(cJSON_GetObjectItemCaseSensitive(tl, "evaluations"), abort_ms,
	    &m->streak);
	m->breach_to_abort = abort_ms - first;
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(tl, "faults")) {
		double changed = num(f, "changed_ms");

		nfaults++;
		if (strcmp(h_str(f, "state"), "reverted") == 0)
			reverted++;
		if (changed > last_changed)
			last_changed = changed;
		if (changed < first_changed)
			first_changed = changed;
	}
	cJSON_Delete(tl);
	m->abort_to_reverted = last_changed - abort_ms;
	m->abort_to_first_reverted = first_changed - abort_ms;
	m->abort_to_resumed = resumed_wall - abort_ms;
	if (nfaults != NHOSTS || reverted != NHOSTS)
		problem("run %s: %zu of %zu faults reverted (%d hosts)", id, reverted, nfaults,
		    NHOSTS);
	if (isnan(first) || m->streak < BREACHES)
		problem("run %s: no breaching streak of %d before the abort (found %d)", id,
		    BREACHES, m->streak);
	else if (first < floor(flip_wall))
		problem("run %s: the streak that aborted began %.0f ms before the flip", id,
		    flip_wall - first);
	if (isnan(m->fig_breach_to_abort) || fabs(m->fig_breach_to_abort -
	    m->breach_to_abort) > 1)
		problem("run %s: figures.breach_to_abort_ms %.0f, the timeline says %.0f", id,
		    m->fig_breach_to_abort, m->breach_to_abort);
	if (isnan(m->fig_abort_to_reverted) || fabs(m->fig_abort_to_reverted -
	    m->abort_to_reverted) > 1)
		problem("run %s: figures.abort_to_reverted_ms %.0f, the faults say %.0f", id,
		    m->fig_abort_to_reverted, m->abort_to_reverted);
}

/* One run: start, flip at a random moment, watch the abort and the resumes, measure. */
static void
one_run(int k, struct measure *m)
{
	struct watcher w = { .state = "" };
	char state[32];
	double flip_wall, flip_mono, resumed_wall = 0, t0;
	size_t resumed;

	start_running(w.id, &m->start_to_running);
	atomic_init(&w.done, false);
	if (pthread_create(&w.thread, NULL, watch_main, &w) != 0)
		die("pthread_create: %s", strerror(errno));
	m->offset = rand() % 1001;
	h_sleep_ms((long)m->offset);
	flip_mono = h_now_ms();
	flip_wall = wall_ms();
	atomic_store(&flip, 1);
	resumed = watch_resumes(&w, &resumed_wall);
	(void)pthread_join(w.thread, NULL);
	if (w.state[0] == '\0')
		die("run %d (%s): no abort within %.0f s of the flip", k, w.id, WAIT_MS / 1000);
	m->flip_to_seen = w.seen - flip_mono;
	t0 = h_now_ms();
	for (;;) {
		(void)run_get(w.id, state);
		if (terminal(state))
			break;
		if (h_now_ms() - t0 > WAIT_MS)
			die("run %s still %s %.0f s after the abort", w.id, state, WAIT_MS / 1000);
		h_sleep_ms(10);
	}
	atomic_store(&flip, 0);
	if (strcmp(state, "aborted") != 0)
		die("run %d (%s) ended %s, not aborted", k, w.id, state);
	if (resumed < NHOSTS)
		die("run %s: only %zu of %d victims run again", w.id, resumed, NHOSTS);
	gd_drain(&g);
	analyse(w.id, flip_wall, resumed_wall, m);
}

/* ---- Figures ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct pct {
	double p50, p90, max;
};

/* Nearest-rank p50, p90 and the max of one field of the n measures. */
static struct pct
percentiles(const struct measure *ms, size_t n, size_t off)
{
	double *v = calloc(n, sizeof(*v));
	struct pct p;

	if (v == NULL)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = *(const double *)(const void *)((const char *)&ms[i] + off);
	qsort(v, n, sizeof(*v), cmp_double);
	p.p50 = v[(size_t)ceil(0.5 * (double)n) - 1];
	p.p90 = v[(size_t)ceil(0.9 * (double)n) - 1];
	p.max = v[n - 1];
	free(v);
	return p;
}

static void
load_text(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	(void)snprintf(buf, len, "?");
	if (f != NULL) {
		if (fgets(buf, (int)len, f) != NULL)
			buf[strcspn(buf, "\n")] = '\0';
		(void)fclose(f);
	}
}

static void
print_run(long k, const struct measure *m)
{
	printf("run %2ld: running after %4.0f ms, flip +%4.0f ms | flip -> breach %4.0f | breach "
	    "-> abort %4.0f (fig %4.0f, streak %d) | abort -> reverted first %3.0f, last %4.0f "
	    "(fig %4.0f) | flip -> abort seen %4.0f | abort -> victims running %4.0f\n", k,
	    m->start_to_running, m->offset, m->flip_to_breach, m->breach_to_abort,
	    m->fig_breach_to_abort, m->streak, m->abort_to_first_reverted, m->abort_to_reverted,
	    m->fig_abort_to_reverted, m->flip_to_seen, m->abort_to_resumed);
	if (m->early > 0)
		printf("run %2ld: %d failed sample%s before the flip\n", k, m->early,
		    m->early == 1 ? "" : "s");
}

static void
report(const struct measure *ms, size_t n)
{
	static const struct {
		const char *what;
		size_t off;
	} rows[] = {
#define ROW(what, field)	{ what, offsetof(struct measure, field) }
		ROW("first breach -> abort (timeline)", breach_to_abort),
		ROW("  figures.breach_to_abort_ms", fig_breach_to_abort),
		ROW("abort -> last verified revert", abort_to_reverted),
		ROW("  figures.abort_to_reverted_ms", fig_abort_to_reverted),
		ROW("abort -> first verified revert", abort_to_first_reverted),
		ROW("flip -> abort seen (client)", flip_to_seen),
		ROW("flip -> first breaching sample", flip_to_breach),
		ROW("abort -> last victim running (/proc)", abort_to_resumed),
		ROW("start -> running (preflight, inject)", start_to_running),
#undef ROW
	};
	struct pct a = percentiles(ms, n, offsetof(struct measure, breach_to_abort));
	struct pct r = percentiles(ms, n, offsetof(struct measure, abort_to_reverted));

	printf("\n%zu runs, %d agents, probe every %d ms, breaches_to_abort %d (ms):\n", n,
	    NHOSTS, INTERVAL_MS, BREACHES);
	printf("%-40s %8s %8s %8s\n", "", "p50", "p90", "max");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pct p = percentiles(ms, n, rows[i].off);

		printf("%-40s %8.0f %8.0f %8.0f\n", rows[i].what, p.p50, p.p90, p.max);
	}
	printf("goal: abort within %d x %d ms + 1 s = %.0f ms of the first breach: %s (max %.0f "
	    "ms)\n", BREACHES, INTERVAL_MS, GOAL_ABORT_MS, a.max <= GOAL_ABORT_MS ? "met" :
	    "NOT met", a.max);
	printf("goal: every revert verified within %.0f ms of the abort: %s (max %.0f ms)\n",
	    GOAL_REVERT_MS, r.max <= GOAL_REVERT_MS ? "met" : "NOT met", r.max);
}

/* ---- Setup and teardown ---- */

static void
setup(void)
{
	char *bin = (char *)h_bin("GD_CTL_BIN", "gamedayd");
	char tokens[NHOSTS * 80 + 64], path[128], pb[2048], *save = NULL, *tok;
	char *argv[] = { bin, "enroll-token", "create", "--state-dir", g.dir, "--count", "50",
	    NULL };
	long st;

	(void)snprintf(dir, sizeof(dir), "/tmp/gd-bench-guard-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	if (gd_start(&g, 0) < 0)
		die("cannot start gamedayd");
	if (h_token(&g, "bench", "operator", op, sizeof(op)) != 0 ||
	    h_run(argv, tokens, sizeof(tokens)) != 0)
		die("gamedayd token create / enroll-token create failed");
	tok = strtok_r(tokens, "\n", &save);
	for (size_t i = 0; i < NHOSTS; i++, tok = strtok_r(NULL, "\n", &save)) {
		(void)snprintf(hosts[i].name, sizeof(hosts[i].name), "guard%02zu", i + 1);
		(void)snprintf(path, sizeof(path), "%.63s/%.15s.token", dir, hosts[i].name);
		if (tok == NULL || write_file(path, tok, 0600) < 0)
			die("no enrolment token for host %zu", i + 1);
		(void)snprintf(path, sizeof(path), "%.63s/%.15s", dir, hosts[i].name);
		if (mkdir(path, 0700) == -1)
			die("mkdir %s: %s", path, strerror(errno));
		if (host_start(&hosts[i]) < 0)
			die("host %s did not start", hosts[i].name);
		gd_drain(&g);
	}
	/* Threads only now: the hosts above were forked from a single-threaded process. */
	if (svc_start() < 0)
		die("cannot start the service: %s", strerror(errno));
	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":\"" PLAYBOOK
	    "\",\"description\":\"SLA guard benchmark\",\"owner\":\"bench\","
	    "\"environment\":\"staging\",\"tier\":3,"
	    "\"targets\":{\"tags\":{\"role\":\"guard\"},\"pick\":\"all\"},"
	    "\"faults\":[{\"type\":\"process.pause\",\"match\":{\"comm\":\"gdvictim\"}}],"
	    "\"duration\":\"10m\","
	    "\"steady_state\":{\"probes\":[{\"name\":\"svc\",\"type\":\"http\","
	    "\"url\":\"http://127.0.0.1:%d/flip\",\"interval\":\"1s\",\"timeout\":\"500ms\"}],"
	    "\"sla\":[\"svc.error_rate < 1%% over 1s\"]},"
	    "\"guardrails\":{\"max_hosts\":%d,\"max_percent\":100,\"breaches_to_abort\":%d}}",
	    svc_port, NHOSTS, BREACHES);
	if ((st = h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL)) != 201)
		die("POST /v1/playbooks: HTTP %ld", st);
	wait_agents_ok();
	if (paused_count() != 0)
		die("a victim is paused before any run");
}

/* Ends, by pid, what setup() started (safe on a half-built setup). */
static void
teardown(void)
{
	/* A host's init is pid 1 of its namespace: killing it ends its agent and victim. */
	for (size_t i = 0; i < NHOSTS; i++)
		if (hosts[i].init > 0)
			(void)kill(hosts[i].init, SIGKILL);
	if (g.pid > 0)
		gd_stop(&g);
	if (!failed) {
		if (g.dir[0] != '\0')
			gd_cleanup(&g);
		if (dir[0] != '\0')
			h_rmtree(dir);
	} else {
		(void)fprintf(stderr, "bench_guard: kept gamedayd's state in %s, the agents' "
		    "tokens, state and logs in %s\n", g.dir, dir);
	}
}

int
main(int argc, char **argv)
{
	struct measure *ms;
	double t_setup = h_now_ms(), t_runs;
	char load[128];
	long runs = 30;
	char *end = NULL;

	if (argc > 1 && ((runs = strtol(argv[1], &end, 10)) < 1 || runs > 1000 ||
	    *end != '\0')) {
		(void)fprintf(stderr, "usage: bench_guard [RUNS]   (1..1000, default 30)\n");
		return 2;
	}
	check_prerequisites();
	ns_enter_pid();
	ns_enter_net();
	(void)signal(SIGPIPE, SIG_IGN);
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	srand(5);
	if ((ms = calloc((size_t)runs, sizeof(*ms))) == NULL)
		die("out of memory");
	setup();
	load_text(load, sizeof(load));
	printf("bench_guard: %d hosts (victim + gameday-agent each), %ld runs; set up in %.1f s; "
	    "load average before: %s\n", NHOSTS, runs, (h_now_ms() - t_setup) / 1000, load);
	t_runs = h_now_ms();
	for (long k = 0; k < runs; k++) {
		one_run((int)k + 1, &ms[k]);
		print_run(k + 1, &ms[k]);
		(void)fflush(stdout);
	}
	report(ms, (size_t)runs);
	load_text(load, sizeof(load));
	printf("%ld runs in %.1f s; load average after: %s\n", runs,
	    (h_now_ms() - t_runs) / 1000, load);
	if (problems > 0)
		printf("%d problem%s (see above): exit 1\n", problems, problems == 1 ? "" : "s");
	free(ms);
	failed = problems > 0;
	teardown();
	return problems > 0 ? 1 : 0;
}
