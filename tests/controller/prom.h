/*
 * A real Prometheus for tests: prom_start() writes a config that scrapes the given targets
 * (job "shop"), starts /usr/bin/prometheus (GD_PROMETHEUS_BIN overrides it) on a free
 * loopback port, and waits until it is ready; prom_query() and prom_value() ask its HTTP
 * API.  Header-only, like harness.h.  Functions are `static inline` so that a test that
 * uses only some of them builds without unused-function warnings.
 *
 * Prometheus runs as the test's child and prom_stop() ends it by its pid.  Each function
 * prints why it failed on stderr and returns -1; on success they print nothing, except
 * prom_start(), which prints one line saying how long Prometheus took to become ready.
 */
#ifndef GD_TEST_PROM_H
#define GD_TEST_PROM_H

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
/* curl's type-checking macros need GNU C; the project builds as ISO C11. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#define PROM_BIN		"/usr/bin/prometheus"
#define PROM_READY_MS		30000	/* prom_start() waits this long for /-/ready. */
#define PROM_STOP_MS		5000	/* prom_stop() waits this long before SIGKILL. */
#define PROM_START_TRIES	3	/* Ports tried, in case another process takes ours. */

extern char **environ;

struct prom {
	pid_t pid;		/* 0 when not running. */
	uint16_t port;		/* On 127.0.0.1. */
	char dir[256];		/* prometheus.yml, prometheus.log and data/. */
};

/* The Prometheus binary: $GD_PROMETHEUS_BIN, or PROM_BIN. */
static inline const char *
prom_bin(void)
{
	const char *v = getenv("GD_PROMETHEUS_BIN");

	return v != NULL && v[0] != '\0' ? v : PROM_BIN;
}

static inline double
prom_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static inline void
prom_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

struct prom_buf {
	char *p;
	size_t len, cap;	/* cap counts the NUL. */
	bool truncated;
};

static inline size_t
prom_write(char *data, size_t size, size_t n, void *arg)
{
	struct prom_buf *b = arg;
	size_t total = size * n, room = b->cap - 1 - b->len;

	if (total > room) {
		total = room;
		b->truncated = true;
	}
	memcpy(b->p + b->len, data, total);
	b->len += total;
	b->p[b->len] = '\0';
	return size * n;
}

/*
 * GET url (never through a proxy) with a timeout; the body, cut to fit, into buf.  Returns
 * 0 and the HTTP status in *ret_status, or -1 when no answer came (buf holds curl's
 * reason).  -1 too when the body did not fit, with *ret_status set.
 */
static inline int
prom_get(const char *url, long timeout_ms, char *buf, size_t len, long *ret_status)
{
	struct prom_buf b = { buf, 0, len, false };
	CURL *h;
	CURLcode cc;
	long status = 0;

	if (len == 0 || (h = curl_easy_init()) == NULL)
		return -1;
	buf[0] = '\0';
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, prom_write);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		(void)snprintf(buf, len, "%s", curl_easy_strerror(cc));
		return -1;
	}
	*ret_status = status;
	return b.truncated ? -1 : 0;
}

/* A loopback port nobody listens on now (another process may take it before we do). */
static inline int
prom_free_port(uint16_t *ret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) == -1) {
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	*ret = ntohs(sa.sin_port);
	return 0;
}

/* Prints the last bytes of DIR/prometheus.log on stderr. */
static inline void
prom_print_log(const char *dir)
{
	char path[300], buf[2048];
	ssize_t n;
	off_t end;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/prometheus.log", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	end = lseek(fd, 0, SEEK_END);
	(void)lseek(fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0,
	    SEEK_SET);
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		(void)fprintf(stderr, "--- end of %s ---\n%s\n---\n", path, buf);
	}
	(void)close(fd);
}

/* Writes DIR/prometheus.yml.  Targets are "host:port" or "[v6]:port", nothing else. */
static inline int
prom_write_config(const char *dir, const char *const *targets, size_t ntargets,
    unsigned scrape_ms)
{
	char path[300];
	FILE *f;

	for (size_t i = 0; i < ntargets; i++) {
		const char *c = targets[i];

		while (*c != '\0' && (isalnum((unsigned char)*c) || strchr(".:[]-_", *c) != NULL))
			c++;
		if (*c != '\0' || c == targets[i]) {
			(void)fprintf(stderr, "prom: target '%s' is not host:port\n", targets[i]);
			return -1;
		}
	}
	(void)snprintf(path, sizeof(path), "%s/prometheus.yml", dir);
	if ((f = fopen(path, "we")) == NULL) {
		(void)fprintf(stderr, "prom: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* scrape_timeout defaults to 10s, over a short interval, which Prometheus refuses. */
	(void)fprintf(f, "global:\n  scrape_interval: %ums\n  scrape_timeout: %ums\n"
	    "  evaluation_interval: %ums\nscrape_configs:\n  - job_name: shop\n"
	    "    static_configs:\n      - targets:\n", scrape_ms, scrape_ms, scrape_ms);
	for (size_t i = 0; i < ntargets; i++)
		(void)fprintf(f, "          - '%s'\n", targets[i]);
	if (fclose(f) != 0) {
		(void)fprintf(stderr, "prom: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts Prometheus on port, its output into DIR/prometheus.log.  Returns the pid or -1. */
static inline pid_t
prom_spawn(const char *dir, uint16_t port)
{
	char config[300], data[300], listen[64], log[300];
	char *argv[] = { (char *)prom_bin(), config, data, listen,
	    "--storage.tsdb.retention.time=1h", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	(void)snprintf(config, sizeof(config), "--config.file=%s/prometheus.yml", dir);
	(void)snprintf(data, sizeof(data), "--storage.tsdb.path=%s/data", dir);
	(void)snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", port);
	(void)snprintf(log, sizeof(log), "%s/prometheus.log", dir);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log,
	    O_WRONLY | O_CREAT | O_APPEND, 0600);
	(void)posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		(void)fprintf(stderr, "prom: cannot run %s: %s\n", argv[0], strerror(r));
		return -1;
	}
	return pid;
}

/*
 * Waits until p answers 200 on /-/ready.  Returns 0; 1 when Prometheus exited (p->pid is
 * then 0); -1 after PROM_READY_MS.
 */
static inline int
prom_wait_ready(struct prom *p, double t0)
{
	char url[64], buf[256];
	long status = 0;
	int st;

	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%u/-/ready", p->port);
	while (prom_now_ms() - t0 < PROM_READY_MS) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			return 1;
		}
		if (prom_get(url, 1000, buf, sizeof(buf), &status) == 0 && status == 200)
			return 0;
		prom_sleep_ms(100);
	}
	return -1;
}

static inline void prom_stop(struct prom *p);

/*
 * Writes DIR/prometheus.yml scraping each target every scrape_ms (job "shop"), starts
 * Prometheus with its data in DIR/data and its output in DIR/prometheus.log, and waits up
 * to 30 s for /-/ready.  DIR is created if missing.  Returns 0 (stop it with prom_stop()),
 * or -1 with the reason printed.
 */
static inline int
prom_start(const char *dir, const char *const *targets, size_t ntargets, unsigned scrape_ms,
    struct prom *ret)
{
	struct prom p = { 0 };
	double t0;
	int r = -1;

	if (ntargets == 0 || scrape_ms == 0 || strlen(dir) > sizeof(p.dir) - 32) {
		(void)fprintf(stderr, "prom: needs targets, a scrape interval and a short dir\n");
		return -1;
	}
	if (access(prom_bin(), X_OK) == -1) {
		(void)fprintf(stderr, "prom: cannot run %s: %s\n", prom_bin(), strerror(errno));
		return -1;
	}
	(void)snprintf(p.dir, sizeof(p.dir), "%s", dir);
	if ((mkdir(dir, 0700) == -1 && errno != EEXIST) ||
	    prom_write_config(dir, targets, ntargets, scrape_ms) < 0)
		return -1;
	for (int i = 0; i < PROM_START_TRIES && r != 0; i++) {
		t0 = prom_now_ms();
		if (prom_free_port(&p.port) < 0 || (p.pid = prom_spawn(dir, p.port)) < 0) {
			(void)fprintf(stderr, "prom: cannot start Prometheus\n");
			return -1;
		}
		/* It exits when another process took the port meanwhile: try another. */
		if ((r = prom_wait_ready(&p, t0)) == 0)
			break;
		if (r < 0) {
			(void)fprintf(stderr, "prom: not ready after %d ms\n", PROM_READY_MS);
			prom_stop(&p);
			break;
		}
	}
	if (r != 0) {
		(void)fprintf(stderr, "prom: Prometheus did not start\n");
		prom_print_log(dir);
		return -1;
	}
	(void)printf("prometheus on 127.0.0.1:%u ready after %.0f ms\n", p.port,
	    prom_now_ms() - t0);
	*ret = p;
	return 0;
}

/* SIGTERM, then SIGKILL after PROM_STOP_MS; only p's own pid.  Leaves DIR in place. */
static inline void
prom_stop(struct prom *p)
{
	double t0 = prom_now_ms();
	int st;

	if (p->pid <= 0)
		return;
	(void)kill(p->pid, SIGTERM);
	while (waitpid(p->pid, &st, WNOHANG) == 0) {
		if (prom_now_ms() - t0 > PROM_STOP_MS) {
			(void)fprintf(stderr, "prom: pid %d ignored SIGTERM, killing it\n",
			    (int)p->pid);
			(void)kill(p->pid, SIGKILL);
			(void)waitpid(p->pid, &st, 0);
			break;
		}
		prom_sleep_ms(50);
	}
	p->pid = 0;
}

/*
 * GET /api/v1/query?query=<q, escaped>; the body into buf.  Returns 0 when Prometheus
 * answered 200 and the body fit, else -1 with the reason printed (buf holds the body, or
 * curl's reason).
 */
static inline int
prom_query(const struct prom *p, const char *q, char *buf, size_t len)
{
	char url[2048];
	long status = 0;
	char *esc;
	CURL *h;
	int r;

	if ((h = curl_easy_init()) == NULL)
		return -1;
	esc = curl_easy_escape(h, q, 0);
	curl_easy_cleanup(h);
	if (esc == NULL || (size_t)snprintf(url, sizeof(url),
	    "http://127.0.0.1:%u/api/v1/query?query=%s", p->port, esc) >= sizeof(url)) {
		(void)fprintf(stderr, "prom: query too long: %s\n", q);
		curl_free(esc);
		return -1;
	}
	curl_free(esc);
	r = prom_get(url, 10000, buf, len, &status);
	if (r < 0 || status != 200) {
		(void)fprintf(stderr, "prom: query %s: HTTP %ld%s: %s\n", q, status,
		    r < 0 && status != 0 ? " (reply cut)" : "", buf);
		return -1;
	}
	return 0;
}

/*
 * The value of an instant query whose result is one sample (a vector of one, or a scalar):
 * 0 and *ret, -ENOENT when the vector is empty, -EINVAL when the query failed or the reply
 * is not what the HTTP API documents (printed).
 */
static inline int
prom_value(const struct prom *p, const char *q, double *ret)
{
	char buf[16384], *end;
	const cJSON *data, *result, *value = NULL, *v;
	cJSON *root;
	int r = -EINVAL;

	if (prom_query(p, q, buf, sizeof(buf)) < 0)
		return -EINVAL;
	root = cJSON_Parse(buf);
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	result = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (cJSON_IsArray(result) && cJSON_GetArraySize(result) == 0)
		r = -ENOENT;
	else if (cJSON_IsArray(result) && cJSON_GetArraySize(result) == 1)
		value = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(result, 0), "value");
	else
		value = result;		/* A scalar: [ time, "value" ]. */
	if (r != -ENOENT && cJSON_IsArray(value) && cJSON_GetArraySize(value) == 2 &&
	    cJSON_IsString(v = cJSON_GetArrayItem(value, 1))) {
		errno = 0;
		*ret = strtod(v->valuestring, &end);
		if (errno == 0 && end != v->valuestring && *end == '\0')
			r = 0;
	}
	if (r == -EINVAL)
		(void)fprintf(stderr, "prom: query %s: unexpected reply %s\n", q, buf);
	cJSON_Delete(root);
	return r;
}

static inline int
prom_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) == -1 ? -1 : 0;
	return unlink(path) == -1 ? -1 : 0;
}

/* Removes dir and everything in it, without following links: only for dirs a test made. */
static inline int
prom_rmtree(const char *dir)
{
	return nftw(dir, prom_rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

#endif
