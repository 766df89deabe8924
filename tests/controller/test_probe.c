/*
 * The probe runner (controller/probe.c) against small HTTP servers in this process: plain
 * sockets on 127.0.0.1 in a network namespace of its own, so no probe leaves the machine.
 * One listener, one thread per connection, and the path says how to answer: fast, slow,
 * never, 500, redirects (to http and to file://), a 50 MB body, fake Prometheus replies.
 * probe_prom_decode() is tested first on its own; it needs no namespace.
 */
/*
 * <stdlib.h> first: with gcc, <limits.h> from a system header can resolve to our
 * common/limits.h (gcc's syslimits.h is found through the quote path), which leaves
 * MB_LEN_MAX at gcc's 1 and trips the check in a _FORTIFY_SOURCE <stdlib.h> read later.
 */
#include <stdlib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ns.h"
#include "probe.h"
#include "test.h"

#define BIG_BYTES	(50LL * 1024 * 1024)
#define NPARALLEL	200

static struct {
	int fd, port;
	pthread_t thr;
	atomic_int active;		/* Connection threads still running. */
	atomic_llong big_written;	/* What the 50 MB handler managed to send. */
	atomic_int big_done;
	pthread_mutex_t lock;
	char last_prom[4096];		/* The last Prometheus request, headers included. */
} srv = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static bool
send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static void
respond(int fd, int status, const char *extra, const char *body)
{
	char buf[8192];
	int n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d Test\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n%s\r\n%s", status, strlen(body), extra, body);
	(void)send_all(fd, buf, (size_t)n);
}

/* Sends up to 50 MB, counting what the kernel took, until the client goes away. */
static void
send_big(int fd, bool with_length)
{
	char chunk[64 * 1024], head[256];
	long long sent = 0;
	int n;

	memset(chunk, 'x', sizeof(chunk));
	if (with_length)
		n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
		    "Connection: close\r\n\r\n", BIG_BYTES);
	else
		n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	if (send_all(fd, head, (size_t)n))
		while (sent < BIG_BYTES && send_all(fd, chunk, sizeof(chunk)))
			sent += (long long)sizeof(chunk);
	srv.big_written = sent;
	srv.big_done = 1;
}

static void
send_prom(int fd, const char *c, const char *req)
{
	static const struct {
		const char *name;
		int status;
		const char *body;
	} replies[] = {
		{ "scalar", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
		    "\"result\":[1700000000.1,\"0.5\"]}}" },
		{ "vector", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[{\"metric\":{\"job\":\"api\"},\"value\":[1700000000,\"42.25\"]}]}}" },
		{ "nan", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[{\"metric\":{},\"value\":[1700000000,\"NaN\"]}]}}" },
		{ "inf", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
		    "\"result\":[1700000000,\"+Inf\"]}}" },
		{ "empty", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[]}}" },
		{ "three", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[{\"metric\":{\"i\":\"1\"},\"value\":[1,\"1\"]},{\"metric\":{\"i\":"
		    "\"2\"},\"value\":[1,\"2\"]},{\"metric\":{\"i\":\"3\"},\"value\":[1,\"3\"]}]}}" },
		{ "error", 400, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
		    "\"invalid parameter \\\"query\\\": parse error\"}" },
		{ "error200", 200, "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":"
		    "\"line1\\nline2\\u001b[31m\"}" },
		{ "garbage", 200, "<html><body>502 Bad Gateway</body></html>" },
		{ "truncated", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
		    "\"result\":[{\"metric\":{},\"value\":[1700000000,\"0.5\"" },
		{ "500", 500, "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":"
		    "\"boom\"}" },
		{ "500ok", 500, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
		    "\"result\":[1700000000.1,\"0.5\"]}}" },
	};
	size_t i;

	(void)pthread_mutex_lock(&srv.lock);
	(void)snprintf(srv.last_prom, sizeof(srv.last_prom), "%s", req);
	(void)pthread_mutex_unlock(&srv.lock);
	if (strcmp(c, "redirect") == 0) {
		respond(fd, 302, "Location: /prom/scalar/api/v1/query?query=1\r\n", "");
		return;
	}
	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++)
		if (strcmp(c, replies[i].name) == 0) {
			respond(fd, replies[i].status, "Content-Type: application/json\r\n",
			    replies[i].body);
			return;
		}
	respond(fd, 404, "", "no such case");
}

/* Waits until the client closes the connection (or 20 s): a server that never answers. */
static void
hang(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b[256];
	double t0 = now_ms();

	while (now_ms() - t0 < 20000) {
		if (poll(&pfd, 1, 100) == 1 && recv(fd, b, sizeof(b), 0) <= 0)
			return;
	}
}

static void
route(int fd, const char *path, const char *req)
{
	char pad[100 * 1024], extra[256], c[64];
	size_t i;

	if (strcmp(path, "/ok") == 0) {
		respond(fd, 200, "", "ok\n");
	} else if (strcmp(path, "/204") == 0) {
		respond(fd, 204, "", "");
	} else if (strcmp(path, "/500") == 0) {
		respond(fd, 500, "", "broken\n");
	} else if (strcmp(path, "/slow") == 0 || strcmp(path, "/slow100") == 0) {
		sleep_ms(strcmp(path, "/slow") == 0 ? 300 : 100);
		respond(fd, 200, "", "slow\n");
	} else if (strcmp(path, "/hang") == 0) {
		hang(fd);
	} else if (strcmp(path, "/file") == 0) {
		respond(fd, 302, "Location: file:///etc/passwd\r\n", "");
	} else if (strcmp(path, "/redir") == 0) {
		respond(fd, 302, "Location: /ok\r\n", "");
	} else if (strcmp(path, "/redir2") == 0) {
		(void)snprintf(extra, sizeof(extra), "Location: http://127.0.0.1:%d/redir\r\n",
		    srv.port);
		respond(fd, 301, extra, "");
	} else if (strcmp(path, "/loop") == 0) {
		respond(fd, 302, "Location: /loop\r\n", "");
	} else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigstream") == 0) {
		send_big(fd, strcmp(path, "/big") == 0);
	} else if (strcmp(path, "/headers") == 0) {
		/* 100 headers of 1 KiB each. */
		memset(pad, 'h', sizeof(pad));
		for (i = 0; i < 100; i++) {
			memcpy(pad + i * 1024, "X-Pad: ", 7);
			memcpy(pad + i * 1024 + 1022, "\r\n", 2);
		}
		(void)send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n", 36);
		(void)send_all(fd, pad, sizeof(pad));
		(void)send_all(fd, "Content-Length: 0\r\n\r\n", 21);
	} else if (sscanf(path, "/prom/%63[^/]/api/v1/query?", c) == 1) {
		send_prom(fd, c, req);
	} else {
		respond(fd, 404, "", "not found\n");
	}
}

static void *
conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[4096], path[2048];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(req) - 1) {
		n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	req[len] = '\0';
	if (sscanf(req, "GET %2047s HTTP/1.1", path) == 1)
		route(fd, path, req);
	(void)shutdown(fd, SHUT_WR);
	close(fd);
	srv.active--;
	return NULL;
}

static void *
accept_main(void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int fd;

	(void)arg;
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, 512 * 1024);
	for (;;) {
		fd = accept4(srv.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd == -1)
			break;
		srv.active++;
		if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)fd) != 0) {
			srv.active--;
			close(fd);
		}
	}
	(void)pthread_attr_destroy(&attr);
	return NULL;
}

static int
srv_start(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr =
	    htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);

	if ((srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(srv.fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(srv.fd, 1024) == -1 ||
	    getsockname(srv.fd, (struct sockaddr *)&sin, &sl) == -1)
		return -errno;
	srv.port = ntohs(sin.sin_port);
	return -pthread_create(&srv.thr, NULL, accept_main, NULL);
}

static void
srv_stop(void)
{
	double t0 = now_ms();

	(void)shutdown(srv.fd, SHUT_RDWR);
	(void)pthread_join(srv.thr, NULL);
	close(srv.fd);
	while (srv.active > 0 && now_ms() - t0 < 25000)
		sleep_ms(10);
}

/* A port where nothing listens: bound once, then closed. */
static int
closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr =
	    htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd, port = 9;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return port;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

struct got {
	int n;
	uint64_t tag;
	double t_ms;
	struct probe_result res;
};

static void
on_done(uint64_t tag, const struct probe_result *res, void *arg)
{
	struct got *g = arg;

	g->n++;
	g->tag = tag;
	g->res = *res;
	g->t_ms = now_ms();
}

/* Runs probe p to its result; returns the milliseconds it took, -1 if it never came. */
static double
run_probe(struct prober *pr, const struct probe *p, struct probe_result *ret)
{
	struct got g = { 0 };
	double t0 = now_ms();
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = prober_start(pr, p, 42)) < 0) {
		fprintf(stderr, "prober_start: %s\n", strerror(-r));
		return -1;
	}
	while (g.n == 0 && now_ms() - t0 < 30000)
		if (prober_run(pr, 100, on_done, &g) < 0)
			return -1;
	if (g.n != 1 || g.tag != 42)
		return -1;
	*ret = g.res;
	if (!printable(ret->error) || memchr(ret->error, '\0', sizeof(ret->error)) == NULL)
		fprintf(stderr, "error text is not printable ASCII\n"), ret->ok = false;
	return g.t_ms - t0;
}

static struct probe
http_probe(char *url, size_t len, const char *path, uint64_t timeout_ms)
{
	struct probe p = { .name = "p", .kind = PROBE_HTTP, .url = url, .interval_ms = 1000,
	    .timeout_ms = timeout_ms, .expect_status = { 200 }, .nexpect = 1 };

	(void)snprintf(url, len, "http://127.0.0.1:%d%s", srv.port, path);
	return p;
}

static double
http_run(struct prober *pr, const char *path, uint64_t timeout_ms, struct probe_result *ret)
{
	char url[256];
	struct probe p = http_probe(url, sizeof(url), path, timeout_ms);

	return run_probe(pr, &p, ret);
}

static double
prom_run(struct prober *pr, const char *c, const char *query, struct probe_result *ret)
{
	char url[256];
	struct probe p = { .name = "q", .kind = PROBE_PROMETHEUS, .url = url, .query = query,
	    .interval_ms = 1000, .timeout_ms = 5000 };

	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/prom/%s/", srv.port, c);
	return run_probe(pr, &p, ret);
}

static int
decode(const char *s, double *v, char *why, size_t whylen)
{
	return probe_prom_decode(s, strlen(s), v, why, whylen);
}

static void
test_decode(void)
{
	char why[256], small[24];
	double v = -1;
	int r;

	TEST_START("decode: scalar");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	    "\"result\":[1700000000.1,\"0.5\"]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, 0);
	ASSERT_DBL_NEAR(v, 0.5, 1e-12);

	TEST_START("decode: vector of one sample");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
	    "[{\"metric\":{\"a\":\"b\"},\"value\":[1,\"-1.25e+2\"]}]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, 0);
	ASSERT_DBL_NEAR(v, -125, 1e-12);

	TEST_START("decode: NaN, +Inf, -Inf and out of range are not values");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,\"NaN\"]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "the query returned NaN");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,\"+Inf\"]}}", &v, why, sizeof(why));
	ASSERT_STR_EQ(why, "the query returned +Inf");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,\"-Inf\"]}}", &v, why, sizeof(why));
	ASSERT_STR_EQ(why, "the query returned -Inf");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,\"1e999\"]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "the sample value \"1e999\" is out of range");

	TEST_START("decode: value strings are read whole");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,\"12abc\"]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "the sample value \"12abc\" is not a number");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,\" 12\"]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,\"\"]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
	    "[1,0.5]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "the sample is not a [time, \"value\"] pair");

	TEST_START("decode: no sample, several samples");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
	    &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "the query returned no samples");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
	    "{\"value\":[1,\"1\"]},{\"value\":[1,\"2\"]},{\"value\":[1,\"3\"]}]}}", &v, why,
	    sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "the query returned 3 samples; one is needed");

	TEST_START("decode: matrix and string results");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
	    &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "the query returned a matrix; a scalar or a single-sample vector "
	    "is needed");
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":"
	    "[1,\"x\"]}}", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);

	TEST_START("decode: Prometheus errors, escaped");
	r = decode("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}",
	    &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(why, "Prometheus error bad_data: parse error");
	r = decode("{\"status\":\"error\",\"errorType\":\"x\",\"error\":\"a\\nb\\u001bc\\u00e9\"}",
	    &v, why, sizeof(why));
	ASSERT_STR_EQ(why, "Prometheus error x: a\\x0ab\\x1bc\\xc3\\xa9");

	TEST_START("decode: a long reason is cut to the buffer");
	memset(small, 'G', sizeof(small));
	r = decode("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"a very long "
	    "explanation of what went wrong\"}", &v, small, 16);
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_STR_EQ(small, "Prometheus e...");
	ASSERT_TRUE(small[16] == 'G');

	TEST_START("decode: not JSON, truncated, missing fields, empty");
	r = decode("<html>502</html>", &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_TRUE(strncmp(why, "the reply is not JSON: ", 23) == 0);
	r = decode("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,",
	    &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_TRUE(strstr(why, "truncated") != NULL);
	r = decode("{\"status\":\"success\"}", &v, why, sizeof(why));
	ASSERT_STR_EQ(why, "the reply has no \"data.resultType\" string");
	r = decode("{\"data\":{}}", &v, why, sizeof(why));
	ASSERT_STR_EQ(why, "the reply has no \"status\" string");
	r = decode("[1]", &v, why, sizeof(why));
	ASSERT_STR_EQ(why, "the reply is not a JSON object");
	r = probe_prom_decode("", 0, &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_TRUE(why[0] != '\0');
	r = probe_prom_decode(NULL, 0, &v, why, sizeof(why));
	ASSERT_INT_EQ(r, -EINVAL);
}

static void
test_start_invalid(struct prober *pr)
{
	char url[256];
	struct probe p = http_probe(url, sizeof(url), "/ok", 1000);

	TEST_START("prober_start refuses what is not a probe");
	p.timeout_ms = 0;
	ASSERT_INT_EQ(prober_start(pr, &p, 1), -EINVAL);
	p.timeout_ms = GD_MAX_PROBE_TIMEOUT_MS + 1;
	ASSERT_INT_EQ(prober_start(pr, &p, 1), -EINVAL);
	p.timeout_ms = 1000;
	p.url = NULL;
	ASSERT_INT_EQ(prober_start(pr, &p, 1), -EINVAL);
	p.url = url;
	p.kind = PROBE_PROMETHEUS;	/* Without a query. */
	ASSERT_INT_EQ(prober_start(pr, &p, 1), -EINVAL);
	ASSERT_INT_EQ(prober_start(pr, NULL, 1), -EINVAL);
	ASSERT_INT_EQ(prober_inflight(pr), 0);
}

static void
test_http(struct prober *pr)
{
	struct probe_result res;
	char url[256];
	struct probe p;
	double t;

	TEST_START("http: 200 answered fast is ok with its time");
	t = http_run(pr, "/ok", 2000, &res);
	ASSERT_TRUE(t >= 0);
	ASSERT_TRUE(res.ok && res.has_value);
	ASSERT_INT_EQ(res.status, 200);
	ASSERT_TRUE(res.value >= 0 && res.value < 1000);
	ASSERT_STR_EQ(res.error, "");

	TEST_START("http: 500 is an error sample");
	(void)http_run(pr, "/500", 2000, &res);
	ASSERT_TRUE(!res.ok && !res.has_value);
	ASSERT_INT_EQ(res.status, 500);
	ASSERT_STR_EQ(res.error, "HTTP 500 (expected 200)");

	TEST_START("http: expect_status lists every accepted status");
	p = http_probe(url, sizeof(url), "/204", 2000);
	p.expect_status[1] = 204;
	p.nexpect = 2;
	(void)run_probe(pr, &p, &res);
	ASSERT_TRUE(res.ok);
	ASSERT_INT_EQ(res.status, 204);
	p = http_probe(url, sizeof(url), "/500", 2000);
	p.expect_status[1] = 204;
	p.nexpect = 2;
	(void)run_probe(pr, &p, &res);
	ASSERT_STR_EQ(res.error, "HTTP 500 (expected 200, 204)");

	TEST_START("http: a 300 ms answer measures about 300 ms");
	(void)http_run(pr, "/slow", 2000, &res);
	ASSERT_TRUE(res.ok && res.has_value);
	ASSERT_TRUE(res.value >= 295 && res.value < 1500);
	printf("slow probe: %.1f ms\n", res.value);

	TEST_START("http: no answer times out after the probe's timeout");
	t = http_run(pr, "/hang", 500, &res);
	ASSERT_TRUE(!res.ok && !res.has_value);
	ASSERT_STR_EQ(res.error, "timed out after 500 ms");
	ASSERT_INT_EQ(res.status, 0);
	ASSERT_TRUE(t >= 480 && t < 2500);
	printf("timeout probe: result after %.0f ms\n", t);

	TEST_START("http: connection refused says where");
	{
		char want[64];
		int port = closed_port();

		p = http_probe(url, sizeof(url), "/", 2000);
		(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
		(void)run_probe(pr, &p, &res);
		(void)snprintf(want, sizeof(want), "connect 127.0.0.1:%d: Connection refused", port);
		ASSERT_STR_EQ(res.error, want);
		ASSERT_INT_EQ(res.status, 0);
	}
}

static void
test_redirects(struct prober *pr)
{
	struct probe_result res;
	char url[256];
	struct probe p;

	TEST_START("redirect: to file:// is refused and nothing is read");
	(void)http_run(pr, "/file", 2000, &res);
	ASSERT_TRUE(!res.ok && !res.has_value);
	ASSERT_STR_EQ(res.error, "redirect to a file:// URL refused");
	ASSERT_TRUE(strstr(res.error, "root:") == NULL);
	ASSERT_INT_EQ(res.status, 302);

	TEST_START("redirect: a file:// probe URL is refused too");
	p = http_probe(url, sizeof(url), "", 2000);
	(void)snprintf(url, sizeof(url), "file:///etc/passwd");
	(void)run_probe(pr, &p, &res);
	ASSERT_TRUE(!res.ok);
	ASSERT_STR_EQ(res.error, "the URL scheme \"file\" is not allowed (http and https only)");

	TEST_START("redirect: to another http path is followed");
	(void)http_run(pr, "/redir", 2000, &res);
	ASSERT_TRUE(res.ok && res.has_value);
	ASSERT_INT_EQ(res.status, 200);
	(void)http_run(pr, "/redir2", 2000, &res);
	ASSERT_TRUE(res.ok);
	ASSERT_INT_EQ(res.status, 200);

	TEST_START("redirect: at most 5");
	(void)http_run(pr, "/loop", 2000, &res);
	ASSERT_TRUE(!res.ok);
	ASSERT_STR_EQ(res.error, "more than 5 redirects");
}

static void
test_limits(struct prober *pr)
{
	struct probe_result res;
	double t0;

	TEST_START("limits: a 50 MB body with Content-Length is refused at the headers");
	srv.big_done = 0;
	(void)http_run(pr, "/big", 10000, &res);
	ASSERT_TRUE(!res.ok && !res.has_value);
	ASSERT_STR_EQ(res.error, "response body over 1 MiB");
	t0 = now_ms();
	while (!srv.big_done && now_ms() - t0 < 10000)
		sleep_ms(10);
	ASSERT_TRUE(srv.big_done);
	ASSERT_TRUE(srv.big_written < BIG_BYTES);
	printf("50 MB with length: the server sent %lld bytes\n", (long long)srv.big_written);

	TEST_START("limits: a 50 MB streamed body is cut at 1 MiB");
	srv.big_done = 0;
	(void)http_run(pr, "/bigstream", 10000, &res);
	ASSERT_TRUE(!res.ok && !res.has_value);
	ASSERT_STR_EQ(res.error, "response body over 1 MiB");
	ASSERT_INT_EQ(res.status, 200);
	t0 = now_ms();
	while (!srv.big_done && now_ms() - t0 < 10000)
		sleep_ms(10);
	ASSERT_TRUE(srv.big_done);
	ASSERT_TRUE(srv.big_written < BIG_BYTES);
	printf("50 MB streamed: the server sent %lld bytes\n", (long long)srv.big_written);

	TEST_START("limits: 100 KiB of headers");
	(void)http_run(pr, "/headers", 5000, &res);
	ASSERT_TRUE(!res.ok);
	ASSERT_STR_EQ(res.error, "response headers over 64 KiB");
}

static void
prom_expect_error(struct prober *pr, const char *c, const char *want, bool prefix)
{
	struct probe_result res;

	(void)prom_run(pr, c, "up", &res);
	ASSERT_TRUE(!res.ok && !res.has_value);
	if (prefix) {
		if (strncmp(res.error, want, strlen(want)) != 0)
			TEST_FAIL("%s: \"%s\" does not start with \"%s\"", c, res.error, want);
	} else if (strcmp(res.error, want) != 0) {
		TEST_FAIL("%s: \"%s\" != \"%s\"", c, res.error, want);
	}
}

static void
test_prometheus(struct prober *pr)
{
	struct probe_result res;
	char req[4096];

	TEST_START("prometheus: scalar, and the query is escaped into the URL");
	(void)prom_run(pr, "scalar", "sum(rate(x{code=~\"5..\"}[1m])) > 0", &res);
	ASSERT_TRUE(res.ok && res.has_value);
	ASSERT_DBL_NEAR(res.value, 0.5, 1e-12);
	ASSERT_INT_EQ(res.status, 200);
	(void)pthread_mutex_lock(&srv.lock);
	memcpy(req, srv.last_prom, sizeof(req));
	(void)pthread_mutex_unlock(&srv.lock);
	ASSERT_TRUE(strncmp(req, "GET /prom/scalar/api/v1/query?query=sum%28rate%28x%7Bcode%3D~"
	    "%225..%22%7D%5B1m%5D%29%29%20%3E%200 HTTP/1.1\r\n", 90) == 0);
	ASSERT_TRUE(strstr(req, "\r\nUser-Agent: gameday-probe/1\r\n") != NULL);
	ASSERT_TRUE(strstr(req, "Cookie") == NULL);

	TEST_START("prometheus: single-sample vector");
	(void)prom_run(pr, "vector", "up", &res);
	ASSERT_TRUE(res.ok && res.has_value);
	ASSERT_DBL_NEAR(res.value, 42.25, 1e-12);

	TEST_START("prometheus: replies that are not a value");
	prom_expect_error(pr, "nan", "the query returned NaN", false);
	prom_expect_error(pr, "inf", "the query returned +Inf", false);
	prom_expect_error(pr, "empty", "the query returned no samples", false);
	prom_expect_error(pr, "three", "the query returned 3 samples; one is needed", false);
	prom_expect_error(pr, "error", "HTTP 400: Prometheus error bad_data: invalid parameter "
	    "\"query\": parse error", false);
	prom_expect_error(pr, "error200", "Prometheus error execution: line1\\x0aline2\\x1b[31m",
	    false);
	prom_expect_error(pr, "garbage", "the reply is not JSON: ", true);
	prom_expect_error(pr, "truncated", "the reply is not JSON: ", true);
	prom_expect_error(pr, "500", "HTTP 500: Prometheus error internal: boom", false);
	prom_expect_error(pr, "500ok", "HTTP 500 (expected 200)", false);
	prom_expect_error(pr, "redirect", "HTTP 302 (expected 200)", false);
}

struct tally {
	unsigned char seen[NPARALLEL];
	size_t n, bad;
};

static void
on_tally(uint64_t tag, const struct probe_result *res, void *arg)
{
	struct tally *t = arg;

	t->n++;
	if (tag < 1000 || tag >= 1000 + NPARALLEL || t->seen[tag - 1000]++ != 0 || !res->ok)
		t->bad++;
}

/* NPARALLEL requests in flight at once; each tag must come back once, ok. */
static void
test_parallel(struct prober *pr, const char *path)
{
	static struct tally t;
	char url[256];
	struct probe p = http_probe(url, sizeof(url), path, 10000);
	double t0 = now_ms();
	size_t i;
	int r = 0;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < NPARALLEL && r == 0; i++)
		r = prober_start(pr, &p, 1000 + i);
	ASSERT_INT_EQ(r, 0);
	ASSERT_INT_EQ(prober_inflight(pr), NPARALLEL);
	while (prober_inflight(pr) > 0 && now_ms() - t0 < 30000)
		(void)prober_run(pr, 100, on_tally, &t);
	printf("parallel %s: %zu results in %.0f ms\n", path, t.n, now_ms() - t0);
	ASSERT_INT_EQ(prober_inflight(pr), 0);
	ASSERT_INT_EQ(t.n, NPARALLEL);
	ASSERT_INT_EQ(t.bad, 0);
	for (i = 0; i < NPARALLEL; i++)
		if (t.seen[i] != 1)
			TEST_FAIL("tag %zu seen %d times", 1000 + i, t.seen[i]);
}

struct restart {
	struct got g;
	struct prober *pr;
};

static void
on_restart(uint64_t tag, const struct probe_result *res, void *arg)
{
	struct restart *c = arg;
	char url[256];
	struct probe p = http_probe(url, sizeof(url), "/ok", 2000);

	on_done(tag, res, &c->g);
	/* A callback may start the next request; the first result starts the second. */
	if (c->g.n == 1 && tag == 1)
		(void)prober_start(c->pr, &p, 2);
}

static void
test_cancel(struct prober *pr)
{
	struct restart ctx = { .pr = pr };
	char url[256];
	struct probe p = http_probe(url, sizeof(url), "/slow", 5000);
	double t0;
	int i;

	TEST_START("cancel: no callback for cancelled requests");
	for (i = 0; i < 3; i++)
		ASSERT_INT_EQ(prober_start(pr, &p, 7), 0);
	ASSERT_INT_EQ(prober_start(pr, &p, 8), 0);
	ASSERT_INT_EQ(prober_inflight(pr), 4);
	(void)prober_run(pr, 10, on_done, &ctx.g);	/* Connected, waiting for answers. */
	prober_cancel(pr, 7);
	prober_cancel(pr, 99);
	ASSERT_INT_EQ(prober_inflight(pr), 1);
	t0 = now_ms();
	while (prober_inflight(pr) > 0 && now_ms() - t0 < 10000)
		(void)prober_run(pr, 100, on_done, &ctx.g);
	/* And nothing late: run a little longer. */
	(void)prober_run(pr, 400, on_done, &ctx.g);
	ASSERT_INT_EQ(ctx.g.n, 1);
	ASSERT_U64_EQ(ctx.g.tag, 8);
	ASSERT_TRUE(ctx.g.res.ok);

	TEST_START("callback: done may start the next request");
	memset(&ctx.g, 0, sizeof(ctx.g));
	p = http_probe(url, sizeof(url), "/ok", 2000);
	ASSERT_INT_EQ(prober_start(pr, &p, 1), 0);
	t0 = now_ms();
	while (ctx.g.n < 2 && now_ms() - t0 < 10000)
		(void)prober_run(pr, 100, on_restart, &ctx);
	ASSERT_INT_EQ(ctx.g.n, 2);
	ASSERT_U64_EQ(ctx.g.tag, 2);
	ASSERT_INT_EQ(prober_inflight(pr), 0);
}

struct waiter {
	struct prober *pr;
	double returned_ms;
	int r;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->r = prober_run(w->pr, 5000, NULL, NULL);
	w->returned_ms = now_ms();
	return NULL;
}

static void
test_wakeup(void)
{
	struct waiter w = { 0 };
	pthread_t t;
	double t0;

	TEST_START("wakeup: a waiting prober_run returns quickly");
	ASSERT_INT_EQ(prober_new(&w.pr), 0);
	if (w.pr == NULL)
		return;
	t0 = now_ms();
	ASSERT_INT_EQ(pthread_create(&t, NULL, waiter_main, &w), 0);
	sleep_ms(200);
	prober_wakeup(w.pr);
	(void)pthread_join(t, NULL);
	ASSERT_INT_EQ(w.r, 0);
	ASSERT_TRUE(w.returned_ms - t0 >= 150 && w.returned_ms - t0 < 1500);
	printf("wakeup: prober_run returned after %.0f ms\n", w.returned_ms - t0);
	w.pr = prober_free(w.pr);
	ASSERT_TRUE(w.pr == NULL);
}

static void
test_free_inflight(void)
{
	struct prober *pr = NULL;
	char url[256];
	struct probe p = http_probe(url, sizeof(url), "/hang", 5000);

	TEST_START("free: requests in flight are aborted");
	ASSERT_INT_EQ(prober_new(&pr), 0);
	ASSERT_INT_EQ(prober_start(pr, &p, 1), 0);
	ASSERT_INT_EQ(prober_start(pr, &p, 2), 0);
	(void)prober_run(pr, 50, NULL, NULL);
	pr = prober_free(pr);
	ASSERT_TRUE(pr == NULL);
	ASSERT_TRUE(prober_free(NULL) == NULL);
}

int
main(void)
{
	struct prober *pr = NULL;
	int r;

	test_decode();
	if (test_failed_count > 0)
		return test_done();
	ns_enter_net();
	/* A proxy in the environment must not be used (it does not exist). */
	(void)setenv("http_proxy", "http://127.0.0.1:1", 1);
	(void)setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
	(void)setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "curl_global_init failed\n");
		return 1;
	}
	if ((r = srv_start()) < 0) {
		fprintf(stderr, "cannot start the test server: %s\n", strerror(-r));
		return 1;
	}
	if ((r = prober_new(&pr)) < 0) {
		fprintf(stderr, "prober_new: %s\n", strerror(-r));
		return 1;
	}
	test_start_invalid(pr);
	test_http(pr);
	test_redirects(pr);
	test_limits(pr);
	test_prometheus(pr);
	TEST_START("parallel: 200 slow probes in flight at once all complete");
	test_parallel(pr, "/slow100");
	TEST_START("parallel: 200 fast probes, each tag back exactly once");
	test_parallel(pr, "/ok");
	test_cancel(pr);
	test_wakeup();
	test_free_inflight();
	pr = prober_free(pr);
	srv_stop();
	curl_global_cleanup();
	return test_done();
}
