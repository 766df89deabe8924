/*
 * Controller tests' harness: a real gamedayd (the built binary, GD_CTL_BIN) in a fresh
 * state dir on a loopback port it picks itself, tokens made with `gamedayd token create`,
 * and a small libcurl client.  Header-only: each test_*.c is one executable.
 *
 * Everything here runs as the test's own children, ended by their pids.
 */
#ifndef GD_CTL_HARNESS_H
#define GD_CTL_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
/* curl's type-checking macros need GNU C; the project builds as ISO C11. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

extern char **environ;

struct gd {
	char dir[64];		/* The state dir. */
	char url[64];
	pid_t pid;
	int port;
	int errfd;		/* gamedayd's stderr, read for its port. */
	char config[128];	/* A config file to start with ("" for none). */
	char tail[4096];	/* The end of its stderr, shown when it exits badly. */
	size_t taillen;
};

static inline double
h_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static inline void
h_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static inline const char *
h_bin(const char *env, const char *fallback)
{
	const char *v = getenv(env);

	return v != NULL && v[0] != '\0' ? v : fallback;
}

/* Runs argv (no shell), its stdout into out (NUL-terminated); returns the exit status. */
static inline int
h_run(char *const argv[], char *out, size_t outlen)
{
	posix_spawn_file_actions_t fa;
	int p[2], st = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return -1;
	}
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(p[1]);
	while (outlen > 0 && len < outlen - 1 && (n = read(p[0], out + len,
	    outlen - 1 - len)) > 0)
		len += (size_t)n;
	if (outlen > 0)
		out[len] = '\0';
	(void)close(p[0]);
	(void)waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A token from `gamedayd token create` (user != NULL) or `enroll-token create`. */
static inline int
h_token(struct gd *g, const char *user, const char *role, char *tok, size_t len)
{
	const char *bin = h_bin("GD_CTL_BIN", "gamedayd");
	char *argv_user[] = { (char *)bin, "token", "create", "--state-dir", g->dir, "--user",
	    (char *)user, "--role", (char *)role, NULL };
	char *argv_enroll[] = { (char *)bin, "enroll-token", "create", "--state-dir", g->dir,
	    NULL };
	int r = h_run(user != NULL ? argv_user : argv_enroll, tok, len);

	tok[strcspn(tok, "\n")] = '\0';
	return r;
}

/* Creates the state dir (once) and starts gamedayd on 127.0.0.1:port (0: any). */
static inline int
gd_start(struct gd *g, int port)
{
	const char *bin = h_bin("GD_CTL_BIN", "gamedayd");
	char listen[32], line[4096];
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	double t0 = h_now_ms();
	int p[2];

	if (g->dir[0] == '\0') {
		(void)snprintf(g->dir, sizeof(g->dir), "/tmp/gdctl.XXXXXX");
		if (mkdtemp(g->dir) == NULL)
			return -1;
	}
	(void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	{
		char *argv[] = { (char *)bin, "--state-dir", g->dir, "--listen", listen,
		    g->config[0] != '\0' ? "--config" : NULL, g->config, NULL };

		if (pipe2(p, O_CLOEXEC) == -1)
			return -1;
		(void)posix_spawn_file_actions_init(&fa);
		(void)posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
		if (posix_spawn(&g->pid, bin, &fa, NULL, argv, environ) != 0)
			return -1;
		(void)posix_spawn_file_actions_destroy(&fa);
		(void)close(p[1]);
	}
	g->errfd = p[0];
	/* Its log says "listening on 127.0.0.1:PORT". */
	while (h_now_ms() - t0 < 10000 && len < sizeof(line) - 1) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		const char *at;
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((n = read(p[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		if ((at = strstr(line, "listening on 127.0.0.1:")) != NULL) {
			g->port = atoi(at + strlen("listening on 127.0.0.1:"));
			(void)snprintf(g->url, sizeof(g->url), "http://127.0.0.1:%d", g->port);
			return 0;
		}
	}
	(void)fprintf(stderr, "gamedayd did not start: %s\n", line);
	return -1;
}

static inline int
h_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == -1 ? -1 : 0;
}

/* Removes dir and everything below it, links not followed: only for dirs a test made. */
static inline void
h_rmtree(const char *dir)
{
	(void)nftw(dir, h_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/*
 * Starts gameday-agent in daemon mode against url: token file dir/token, state dir
 * dir/state, its log appended to dir/agent.log.  Returns its pid, or -1.
 */
static inline pid_t
h_agent_start(const char *url, const char *dir, const char *state, const char *tags,
    const char *lease)
{
	char sdir[256], tfile[256], log[256];
	char *argv[] = { (char *)h_bin("GD_AGENT_BIN", "gameday-agent"), "--controller",
	    (char *)url, "--token-file", tfile, "--tags", (char *)tags, "--state-dir", sdir,
	    "--lease", (char *)lease, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;

	(void)snprintf(sdir, sizeof(sdir), "%s/%s", dir, state);
	(void)snprintf(tfile, sizeof(tfile), "%s/token", dir);
	(void)snprintf(log, sizeof(log), "%s/agent.log", dir);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log,
	    O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	(void)posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Drains gamedayd's stderr so it never blocks on a full pipe; echoes it with GD_VERBOSE. */
static inline void
gd_drain(struct gd *g)
{
	char buf[4096];
	ssize_t n;

	if (g->errfd < 0)
		return;
	(void)fcntl(g->errfd, F_SETFL, O_NONBLOCK);
	while ((n = read(g->errfd, buf, sizeof(buf))) > 0) {
		size_t k = (size_t)n, keep = sizeof(g->tail) - 1;

		if (getenv("GD_VERBOSE") != NULL)
			(void)fwrite(buf, 1, k, stderr);
		/* Keep the last bytes: a sanitizer's report is at the very end. */
		if (k >= keep) {
			memcpy(g->tail, buf + k - keep, keep);
			g->taillen = keep;
		} else {
			if (g->taillen + k > keep) {
				memmove(g->tail, g->tail + (g->taillen + k - keep),
				    keep - k);
				g->taillen = keep - k;
			}
			memcpy(g->tail + g->taillen, buf, k);
			g->taillen += k;
		}
		g->tail[g->taillen] = '\0';
	}
}

static inline int
gd_signal_wait(struct gd *g, int sig)
{
	int st = 0;

	if (g->pid <= 0)
		return -1;
	gd_drain(g);
	(void)kill(g->pid, sig);
	(void)waitpid(g->pid, &st, 0);
	g->pid = 0;
	gd_drain(g);	/* What it said on its way out. */
	if (g->errfd >= 0)
		(void)close(g->errfd);
	g->errfd = -1;
	return st;
}

static inline void
gd_stop(struct gd *g)
{
	int st = gd_signal_wait(g, SIGTERM);

	/*
	 * SIGTERM is a clean stop: anything but exit 0 is a bug, a sanitizer's report (leaks:
	 * exit 23) included.  The whole test fails, loudly, with gamedayd's last words.
	 */
	if (st != -1 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		(void)fprintf(stderr, "gamedayd did not stop cleanly on SIGTERM (%s %d); the end "
		    "of its output:\n%s\n", WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ?
		    WEXITSTATUS(st) : WTERMSIG(st), g->tail);
		(void)fflush(NULL);
		_exit(1);
	}
}

/* Removes the state dir's files and the dir. */
static inline void
gd_cleanup(struct gd *g)
{
	static const char *const files[] = { "gameday.db", "gameday.db-wal", "gameday.db-shm",
	    "audit.head", NULL };
	char path[128];

	for (size_t i = 0; files[i] != NULL; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", g->dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(g->dir);
}

struct h_buf {
	char *p;
	size_t len;
};

static size_t
h_write(char *data, size_t size, size_t n, void *arg)
{
	struct h_buf *b = arg;
	char *p = realloc(b->p, b->len + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, size * n);
	b->p = p;
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/*
 * One request; returns the HTTP status (0 when the connection failed) and, when reply is
 * not NULL, the body (caller frees).  body NULL sends no body; extra_header may be NULL.
 */
static inline long
h_http(const struct gd *g, const char *method, const char *path, const char *token,
    const char *body, const char *extra_header, char **reply)
{
	struct curl_slist *hdr = NULL;
	struct h_buf b = { NULL, 0 };
	char url[512], auth[256];
	long status = 0;
	CURL *h = curl_easy_init();

	if (h == NULL)
		return 0;
	(void)snprintf(url, sizeof(url), "%s%s", g->url, path);
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, h_write);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (token != NULL) {
		(void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdr = curl_slist_append(hdr, auth);
	}
	if (extra_header != NULL)
		hdr = curl_slist_append(hdr, extra_header);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (body != NULL) {
		(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		(void)curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (curl_easy_perform(h) == CURLE_OK)
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (reply != NULL)
		*reply = b.p != NULL ? b.p : strdup("");
	else
		free(b.p);
	return status;
}

/* A request whose reply is JSON: parsed into *ret (caller cJSON_Delete()s). */
static inline long
h_json(const struct gd *g, const char *method, const char *path, const char *token,
    const char *body, cJSON **ret)
{
	char *text = NULL;
	long st = h_http(g, method, path, token, body, NULL, &text);

	*ret = cJSON_Parse(text != NULL ? text : "");
	free(text);
	return st;
}

/* Whether the compact text of o contains needle. */
static inline bool
h_json_has(const cJSON *o, const char *needle)
{
	char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	bool r = text != NULL && strstr(text, needle) != NULL;

	cJSON_free(text);
	return r;
}

/* A string member of a JSON object, or "". */
static inline const char *
h_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* The state of run id ("" when the controller does not answer). */
static inline const char *
h_run_state(const struct gd *g, const char *token, const char *id, char buf[32])
{
	char path[128];
	cJSON *o = NULL;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	(void)h_json(g, "GET", path, token, NULL, &o);
	(void)snprintf(buf, 32, "%s", h_str(o, "state"));
	cJSON_Delete(o);
	return buf;
}

/* Waits up to ms for run id to reach a state of want ("|a|b|"); returns the last seen. */
static inline const char *
h_wait_state(const struct gd *g, const char *token, const char *id, const char *want,
    long ms, char buf[32])
{
	double t0 = h_now_ms();
	char pat[40];

	for (;;) {
		(void)snprintf(pat, sizeof(pat), "|%s|", h_run_state(g, token, id, buf));
		if ((buf[0] != '\0' && strstr(want, pat) != NULL) || h_now_ms() - t0 >= ms)
			return buf;
		h_sleep_ms(20);
	}
}

/* Whether the audit log has a row of action whose JSON contains needle. */
static inline bool
h_audit_has(const struct gd *g, const char *token, const char *action, const char *needle)
{
	cJSON *o = NULL;
	const cJSON *row;
	bool found = false;

	(void)h_json(g, "GET", "/v1/audit?limit=100000", token, NULL, &o);
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(o, "rows"))
		if (strcmp(h_str(row, "action"), action) == 0 && h_json_has(row, needle))
			found = true;
	cJSON_Delete(o);
	return found;
}

/*
 * An agent daemon enrolled with enrolment token et (written to dir/token, 0600), state in
 * dir/state, waited for until the controller lists an agent as ok (5 s at most).  Its pid,
 * or -1.
 */
static inline pid_t
h_agent_enrol(const struct gd *g, const char *token, const char *et, const char *dir,
    const char *tags, const char *lease)
{
	char path[256];
	pid_t pid;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/token", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write(fd, et, strlen(et)) != (ssize_t)strlen(et)) {
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	if ((pid = h_agent_start(g->url, dir, "state", tags, lease)) <= 0)
		return -1;
	for (int i = 0; i < 100; i++) {
		cJSON *o = NULL;
		bool up;

		(void)h_json(g, "GET", "/v1/agents", token, NULL, &o);
		up = h_json_has(o, "\"state\":\"ok\"");
		cJSON_Delete(o);
		if (up)
			break;
		h_sleep_ms(50);
	}
	return pid;
}

#endif
