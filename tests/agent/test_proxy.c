/*
 * The delaying proxy, end to end, in a network namespace of its own: an echo server on
 * 127.0.0.1:9000 and [::1]:9000, an nftables redirect of ports 9000 and 9001 to the proxy
 * (set up through libnftables, as the agent does), and proxy_run() in a thread.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "ns.h"
#include "test.h"

#define MARK		0x6764
#define ECHO_PORT	9000
#define REFUSED_PORT	9001	/* Redirected too, but nothing listens there. */
#define SINK_PORT	9002	/* Redirected too; listens but never accepts. */
#define RTT_ROUNDS	20
#define RTT_BYTES	100
#define BIG_BYTES	(4 * 1024 * 1024)

/* The echo server: echoes every byte; when the client shuts down, sends "EOF\n" and closes. */
static atomic_int echo_active;
static volatile sig_atomic_t echo_stop;
static int echo_fds[2] = { -1, -1 };
static pthread_t echo_thread;

/* One proxy_run() in a thread. */
struct px {
	pthread_t thread;
	int fd;
	uint64_t delay_ms, jitter_ms;
	volatile sig_atomic_t stop;
	int r;
};

static int proxy_fd = -1;
static uint16_t proxy_port;

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	(void)nanosleep(&ts, NULL);
}

/* Entries of /proc/self/fd, the directory's own fd included (it is there every time). */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = recv(fd, p, len, 0)) == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[65536];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0 || (n == -1 && errno == EINTR))
		if (n > 0 && write_all(fd, buf, (size_t)n) < 0)
			break;
	if (n == 0)
		(void)write_all(fd, "EOF\n", 4);
	close(fd);
	atomic_fetch_sub(&echo_active, 1);
	return NULL;
}

static void
echo_accept(int lfd)
{
	pthread_attr_t attr;
	pthread_t t;
	int fd, one = 1;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	atomic_fetch_add(&echo_active, 1);
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, echo_conn, (void *)(intptr_t)fd) != 0) {
		close(fd);
		atomic_fetch_sub(&echo_active, 1);
	}
	(void)pthread_attr_destroy(&attr);
}

static void *
echo_main(void *arg)
{
	struct pollfd pfd[2];
	int i, n = 0;

	(void)arg;
	for (i = 0; i < 2; i++)
		if (echo_fds[i] != -1)
			pfd[n++] = (struct pollfd){ .fd = echo_fds[i], .events = POLLIN };
	while (!echo_stop) {
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN)
				echo_accept(pfd[i].fd);
	}
	return NULL;
}

static int
listen_on(int family, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		(void)inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		(void)inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof(*s6);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 || listen(fd, 64) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
echo_start(void)
{
	if ((echo_fds[0] = listen_on(AF_INET, "127.0.0.1", ECHO_PORT)) == -1)
		ns_skip("cannot listen on 127.0.0.1:9000");
	echo_fds[1] = listen_on(AF_INET6, "::1", ECHO_PORT);
	if (pthread_create(&echo_thread, NULL, echo_main, NULL) != 0)
		ns_skip("cannot start the echo server thread");
}

static void
echo_finish(void)
{
	echo_stop = 1;
	(void)pthread_join(echo_thread, NULL);
	close(echo_fds[0]);
	if (echo_fds[1] != -1)
		close(echo_fds[1]);
}

/* Waits up to 3 s for every echo connection to end; returns how many are left. */
static int
echo_wait_idle(void)
{
	int i;

	for (i = 0; i < 300 && atomic_load(&echo_active) > 0; i++)
		sleep_ms(10);
	return atomic_load(&echo_active);
}

/* A blocking TCP connection with a 5 s receive timeout; -1 on failure. */
static int
dial(int family, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct timeval tv = { .tv_sec = 5 };
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		(void)inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		(void)inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof(*s6);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends RTT_BYTES and reads them back, rounds times; fills rtt[] in ms. */
static int
measure_rtts(int fd, double *rtt, int rounds)
{
	unsigned char out[RTT_BYTES], in[RTT_BYTES];
	double t0;
	int i, r;

	for (i = 0; i < rounds; i++) {
		memset(out, 'a' + i % 26, sizeof(out));
		t0 = now_ms();
		if ((r = write_all(fd, out, sizeof(out))) < 0 ||
		    (r = read_all(fd, in, sizeof(in))) < 0)
			return r;
		rtt[i] = now_ms() - t0;
		if (memcmp(in, out, sizeof(in)) != 0)
			return -EBADMSG;
	}
	return 0;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, int n)
{
	double s[RTT_ROUNDS];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_dbl);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void *
px_main(void *arg)
{
	struct px *x = arg;

	x->r = proxy_run(x->fd, x->delay_ms, x->jitter_ms, MARK, &x->stop);
	return NULL;
}

static void
px_start(struct px *x, uint64_t delay_ms, uint64_t jitter_ms)
{
	memset(x, 0, sizeof(*x));
	x->fd = proxy_fd;
	x->delay_ms = delay_ms;
	x->jitter_ms = jitter_ms;
	x->r = 1;
	if (pthread_create(&x->thread, NULL, px_main, x) != 0) {
		fprintf(stderr, "cannot start the proxy thread\n");
		exit(1);
	}
	/* Lets proxy_run() open its epoll fd, so that fd counts taken from now on include it. */
	sleep_ms(50);
}

/* Raises the stop flag; returns how long proxy_run() took to return, in ms. */
static double
px_stop(struct px *x)
{
	double t0 = now_ms();

	x->stop = 1;
	(void)pthread_join(x->thread, NULL);
	return now_ms() - t0;
}

/* Redirects TCP ports 9000, 9001 and 9002 of every family to the proxy, as fault_net would. */
static int
nft_redirect(uint16_t port)
{
	struct nft_ctx *ctx;
	char cmd[512];
	int r;

	(void)snprintf(cmd, sizeof(cmd),
	    "add table inet gdpx\n"
	    "add chain inet gdpx out { type nat hook output priority -100; }\n"
	    "add rule inet gdpx out meta mark != 0x%x tcp dport { %d, %d, %d } redirect to :%u\n",
	    MARK, ECHO_PORT, REFUSED_PORT, SINK_PORT, (unsigned)port);
	if ((ctx = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL)
		return -ENOMEM;
	(void)nft_ctx_buffer_error(ctx);
	if ((r = nft_run_cmd_from_buffer(ctx, cmd)) != 0)
		fprintf(stderr, "nft: %s", nft_ctx_get_error_buffer(ctx));
	nft_ctx_free(ctx);
	return r == 0 ? 0 : -EIO;
}

/*
 * With the proxy not running, a connection to addr:9000 lands in its listen backlog iff
 * the redirect works for that family.  Accepts and closes it; returns true if it came.
 */
static bool
redirect_works(int family, const char *addr)
{
	struct pollfd pfd = { .fd = proxy_fd, .events = POLLIN };
	bool ok;
	int fd, afd;

	if ((fd = dial(family, addr, ECHO_PORT)) == -1)
		return false;
	ok = poll(&pfd, 1, 500) == 1;
	if (ok && (afd = accept4(proxy_fd, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(afd);
	close(fd);
	return ok;
}

/* Waits up to timeout_ms for fd to be closed by its peer: true on EOF or reset. */
static bool
closed_by_peer(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static void
test_rtt_delay(double base)
{
	double rtt[RTT_ROUNDS] = { 0 }, med, want, lo = 1e9;
	struct px x;
	int fd, i;

	TEST_START("delay 100ms adds 100ms to every round trip");
	px_start(&x, 100, 0);
	fd = dial(AF_INET, "127.0.0.1", ECHO_PORT);
	ASSERT_TRUE(fd != -1);
	if (fd != -1) {
		ASSERT_INT_EQ(measure_rtts(fd, rtt, RTT_ROUNDS), 0);
		med = median(rtt, RTT_ROUNDS);
		want = base + 100;
		for (i = 0; i < RTT_ROUNDS; i++)
			lo = rtt[i] < lo ? rtt[i] : lo;
		printf("delay 100: median rtt %.3f ms (want %.3f +- 10%%), min %.3f ms\n",
		    med, want, lo);
		ASSERT_TRUE(med >= want * 0.9 && med <= want * 1.1);
		ASSERT_TRUE(lo >= 99.0);
		close(fd);
	}
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
}

static void
test_rtt_jitter(void)
{
	double rtt[RTT_ROUNDS] = { 0 }, lo = 1e9, hi = 0;
	struct px x;
	int fd, i;

	TEST_START("jitter 50ms spreads round trips over [50, 150] ms");
	px_start(&x, 100, 50);
	fd = dial(AF_INET, "127.0.0.1", ECHO_PORT);
	ASSERT_TRUE(fd != -1);
	if (fd != -1) {
		ASSERT_INT_EQ(measure_rtts(fd, rtt, RTT_ROUNDS), 0);
		for (i = 0; i < RTT_ROUNDS; i++) {
			lo = rtt[i] < lo ? rtt[i] : lo;
			hi = rtt[i] > hi ? rtt[i] : hi;
		}
		printf("delay 100 jitter 50: rtt min %.3f ms, median %.3f ms, max %.3f ms\n",
		    lo, median(rtt, RTT_ROUNDS), hi);
		/* 1 ms below: release times are whole milliseconds.  Above: scheduling. */
		ASSERT_TRUE(lo >= 49.0);
		ASSERT_TRUE(hi <= 150.0 + 20.0);
		ASSERT_TRUE(hi - lo >= 5.0);
		close(fd);
	}
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
}

/*
 * Sends out (then shuts down) while reading into in, until EOF or 30 s.  Non-blocking, so
 * that neither direction waits for the other.  Returns the bytes read or -errno.
 */
static ssize_t
xfer(int fd, const unsigned char *out, size_t outlen, unsigned char *in, size_t inmax)
{
	double deadline = now_ms() + 30000;
	size_t sent = 0, got = 0;
	bool shut = false;
	ssize_t n;

	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (now_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = shut ? POLLIN : POLLIN | POLLOUT };

		if (poll(&pfd, 1, 1000) == -1 && errno != EINTR)
			return -errno;
		if (sent < outlen && (n = send(fd, out + sent, outlen - sent, MSG_NOSIGNAL)) > 0)
			sent += (size_t)n;
		if (sent == outlen && !shut)
			shut = shutdown(fd, SHUT_WR) == 0;
		if (got == inmax)
			return -EMSGSIZE;
		n = recv(fd, in + got, inmax - got, 0);
		if (n == 0)
			return (ssize_t)got;
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return -ETIMEDOUT;
}

static uint64_t
fnv1a(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len-- > 0)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void
test_integrity(void)
{
	unsigned char *out = malloc(BIG_BYTES), *in = malloc(BIG_BYTES + 16);
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	double t0, ms;
	struct px x;
	ssize_t n;
	size_t i;
	int fd;

	TEST_START("4 MiB both ways keep their order and content (delay 20, jitter 15)");
	ASSERT_TRUE(out != NULL && in != NULL);
	if (out == NULL || in == NULL)
		goto out;
	for (i = 0; i < BIG_BYTES; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		out[i] = (unsigned char)s;
	}
	px_start(&x, 20, 15);
	fd = dial(AF_INET, "127.0.0.1", ECHO_PORT);
	ASSERT_TRUE(fd != -1);
	t0 = now_ms();
	n = fd == -1 ? -1 : xfer(fd, out, BIG_BYTES, in, BIG_BYTES + 16);
	ms = now_ms() - t0;
	printf("4 MiB echoed in %.0f ms: sent fnv %016llx, received fnv %016llx\n", ms,
	    (unsigned long long)fnv1a(out, BIG_BYTES),
	    (unsigned long long)fnv1a(in, n >= BIG_BYTES ? BIG_BYTES : 0));
	ASSERT_INT_EQ(n, BIG_BYTES + 4);
	if (n == BIG_BYTES + 4) {
		ASSERT_TRUE(memcmp(in, out, BIG_BYTES) == 0);
		ASSERT_TRUE(memcmp(in + BIG_BYTES, "EOF\n", 4) == 0);
	}
	if (fd != -1)
		close(fd);
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
out:
	free(out);
	free(in);
}

static void
test_half_close(void)
{
	unsigned char in[64];
	double t0, ms;
	struct px x;
	ssize_t n;
	int fd;

	TEST_START("half-close reaches the server after the delayed data");
	px_start(&x, 100, 0);
	fd = dial(AF_INET, "127.0.0.1", ECHO_PORT);
	ASSERT_TRUE(fd != -1);
	t0 = now_ms();
	n = fd == -1 ? -1 : xfer(fd, (const unsigned char *)"hello", 5, in, sizeof(in));
	ms = now_ms() - t0;
	printf("half-close: %zd bytes back, EOF after %.1f ms\n", n, ms);
	ASSERT_INT_EQ(n, 9);
	if (n == 9)
		ASSERT_TRUE(memcmp(in, "helloEOF\n", 9) == 0);
	ASSERT_TRUE(ms >= 99.0 && ms < 1000.0);
	if (fd != -1)
		close(fd);
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
}

/* Connects to the proxy's own port, not redirected: the proxy must close it, not relay it. */
static void
direct_closed(int family, const char *addr)
{
	int fd, before = count_fds(), i;

	fd = dial(family, addr, proxy_port);
	ASSERT_TRUE(fd != -1);
	ASSERT_TRUE(fd != -1 && closed_by_peer(fd, 1000));
	/*
	 * Relaying it would have connected to the proxy again, and again, until the connection
	 * limit: while the client is open, only its own fd may be new.
	 */
	ASSERT_INT_EQ(count_fds(), before + 1);
	if (fd != -1)
		close(fd);
	for (i = 0; i < 100 && count_fds() != before; i++)
		sleep_ms(10);
	ASSERT_INT_EQ(count_fds(), before);
}

static void
test_direct_and_refused(void)
{
	struct px x;
	double t0;
	int fd, before, i;

	px_start(&x, 100, 0);
	TEST_START("a connection to the proxy port itself is closed, not relayed");
	direct_closed(AF_INET, "127.0.0.1");
	direct_closed(AF_INET6, "::1");

	TEST_START("upstream refused: the client is closed at once, nothing leaks");
	before = count_fds();
	fd = dial(AF_INET, "127.0.0.1", REFUSED_PORT);
	ASSERT_TRUE(fd != -1);
	t0 = now_ms();
	ASSERT_TRUE(fd != -1 && closed_by_peer(fd, 1000));
	printf("refused upstream: client closed after %.1f ms\n", now_ms() - t0);
	ASSERT_TRUE(now_ms() - t0 < 500);
	if (fd != -1)
		close(fd);
	for (i = 0; i < 100 && count_fds() != before; i++)
		sleep_ms(10);
	ASSERT_INT_EQ(count_fds(), before);
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
}

static void
test_ipv6(void)
{
	double rtt[5] = { 0 };
	struct px x;
	int fd;

	if (echo_fds[1] == -1) {
		printf("SKIP ipv6: cannot listen on [::1]:9000\n");
		return;
	}
	if (!redirect_works(AF_INET6, "::1")) {
		printf("SKIP ipv6: the nftables redirect does not work for ::1 here\n");
		return;
	}
	TEST_START("IPv6 through ::1 is delayed too");
	px_start(&x, 100, 0);
	fd = dial(AF_INET6, "::1", ECHO_PORT);
	ASSERT_TRUE(fd != -1);
	if (fd != -1) {
		ASSERT_INT_EQ(measure_rtts(fd, rtt, 5), 0);
		printf("ipv6 delay 100: median rtt %.3f ms\n", median(rtt, 5));
		ASSERT_TRUE(median(rtt, 5) >= 99.0 && median(rtt, 5) <= 110.0);
		close(fd);
	}
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
}

/* Opens n redirected connections to the sink; returns how many dials succeeded. */
static int
dial_many(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if ((fds[i] = dial(AF_INET, "127.0.0.1", SINK_PORT)) == -1)
			break;
	return i;
}

static void
close_many(int *fds, int n)
{
	while (n-- > 0)
		close(fds[n]);
}

/*
 * GD_PROXY_MAX_CONNS connections to a server that never accepts stay open; the one after
 * them is closed at once.  Each takes three fds here (client, and the proxy's two).
 */
static void
test_max_conns(void)
{
	struct rlimit rl = { .rlim_cur = 4 * GD_PROXY_MAX_CONNS + 256,
	    .rlim_max = 4 * GD_PROXY_MAX_CONNS + 256 };
	struct pollfd pfd;
	struct px x;
	int *fds, sink, n, i, open_ok = 1;

	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		printf("SKIP max conns: cannot raise RLIMIT_NOFILE: %s\n", strerror(errno));
		return;
	}
	TEST_START("connections beyond GD_PROXY_MAX_CONNS are closed at once");
	sink = listen_on(AF_INET, "127.0.0.1", SINK_PORT);
	fds = calloc(GD_PROXY_MAX_CONNS + 1, sizeof(*fds));
	ASSERT_TRUE(sink != -1 && fds != NULL);
	if (sink == -1 || fds == NULL)
		goto out;
	px_start(&x, 0, 0);
	n = dial_many(fds, GD_PROXY_MAX_CONNS + 1);
	ASSERT_INT_EQ(n, GD_PROXY_MAX_CONNS + 1);
	if (n == GD_PROXY_MAX_CONNS + 1)
		ASSERT_TRUE(closed_by_peer(fds[GD_PROXY_MAX_CONNS], 1000));
	for (i = 0; i < n && i < GD_PROXY_MAX_CONNS; i++) {
		pfd = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(&pfd, 1, 0) != 0)
			open_ok = 0;
	}
	ASSERT_TRUE(open_ok);
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
	close_many(fds, n);
out:
	free(fds);
	if (sink != -1)
		close(sink);
}

/*
 * Floods a server that never reads: once the socket buffers on the way and the proxy's
 * GD_PROXY_BUF_BYTES are full, the proxy stops reading and the client's sends block.
 * Socket buffers grow to tcp_wmem/tcp_rmem's maximum (4 and 6 MiB by default), about
 * 20 MiB in all; a proxy that read without bound would take all FLOOD_BYTES.
 */
#define FLOOD_BYTES	(64 * 1024 * 1024)
#define FLOOD_LIMIT	(40 * 1024 * 1024)

static size_t
flood(int fd)
{
	static unsigned char buf[65536];
	double idle_since = now_ms();
	size_t total = 0;
	ssize_t n;

	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (total < FLOOD_BYTES && now_ms() - idle_since < 500) {
		if ((n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL)) > 0) {
			total += (size_t)n;
			idle_since = now_ms();
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			break;
		} else {
			sleep_ms(5);
		}
	}
	return total;
}

static void
test_backpressure(void)
{
	struct px x;
	int sink, fd;
	size_t total;

	TEST_START("a full queue stops reading from the client");
	sink = listen_on(AF_INET, "127.0.0.1", SINK_PORT);
	ASSERT_TRUE(sink != -1);
	px_start(&x, 0, 0);
	fd = dial(AF_INET, "127.0.0.1", SINK_PORT);
	ASSERT_TRUE(fd != -1);
	total = fd == -1 ? 0 : flood(fd);
	printf("backpressure: the client could send %.1f MiB before blocking\n",
	    (double)total / (1024 * 1024));
	ASSERT_TRUE(total > GD_PROXY_BUF_BYTES);
	ASSERT_TRUE(total < FLOOD_LIMIT);
	ASSERT_TRUE(px_stop(&x) < 200);
	ASSERT_INT_EQ(x.r, 0);
	if (fd != -1)
		close(fd);
	if (sink != -1)
		close(sink);
}

/* Stops the proxy with connections open, one of them with bytes still held back. */
static void
test_stop(int fds_before)
{
	unsigned char buf[RTT_BYTES] = { 0 };
	double rtt[1] = { 0 }, ms;
	struct px x;
	int a, b;

	TEST_START("stop returns within 200 ms, resets connections, leaks no fd");
	px_start(&x, 100, 0);
	a = dial(AF_INET, "127.0.0.1", ECHO_PORT);
	b = dial(AF_INET, "127.0.0.1", ECHO_PORT);
	ASSERT_TRUE(a != -1 && b != -1);
	if (a != -1)
		ASSERT_INT_EQ(measure_rtts(a, rtt, 1), 0);
	if (b != -1)
		ASSERT_INT_EQ(write_all(b, buf, sizeof(buf)), 0);
	sleep_ms(20);
	ms = px_stop(&x);
	printf("stop: proxy_run returned after %.1f ms\n", ms);
	ASSERT_TRUE(ms < 200);
	ASSERT_INT_EQ(x.r, 0);
	ASSERT_TRUE(a != -1 && closed_by_peer(a, 500));
	ASSERT_TRUE(b != -1 && closed_by_peer(b, 500));
	if (a != -1)
		close(a);
	if (b != -1)
		close(b);
	ASSERT_INT_EQ(echo_wait_idle(), 0);
	ASSERT_INT_EQ(count_fds(), fds_before);
}

static void
test_bad_args(void)
{
	volatile sig_atomic_t stop = 0;

	TEST_START("delays beyond GD_MAX_DELAY_MS are refused");
	ASSERT_INT_EQ(proxy_run(proxy_fd, 61 * 1000, 0, MARK, &stop), -EINVAL);
	ASSERT_INT_EQ(proxy_run(proxy_fd, 0, 61 * 1000, MARK, &stop), -EINVAL);
}

int
main(void)
{
	double rtt[RTT_ROUNDS] = { 0 }, base;
	int fd, fds_before;

	ns_enter_net();
	echo_start();

	TEST_START("baseline round trip without the proxy");
	fd = dial(AF_INET, "127.0.0.1", ECHO_PORT);
	ASSERT_TRUE(fd != -1);
	ASSERT_INT_EQ(fd == -1 ? -1 : measure_rtts(fd, rtt, RTT_ROUNDS), 0);
	base = median(rtt, RTT_ROUNDS);
	printf("baseline: median rtt %.3f ms\n", base);
	ASSERT_TRUE(base < 5.0);
	if (fd != -1)
		close(fd);

	TEST_START("proxy_listen");
	ASSERT_INT_EQ(proxy_listen(&proxy_fd, &proxy_port), 0);
	ASSERT_TRUE(proxy_port != 0);
	if (proxy_fd == -1)
		return test_done();
	if (nft_redirect(proxy_port) < 0)
		ns_skip("cannot load the nftables redirect (no nf_tables nat?)");
	if (!redirect_works(AF_INET, "127.0.0.1"))
		ns_skip("the nftables redirect does not reach the proxy");
	ASSERT_INT_EQ(echo_wait_idle(), 0);
	fds_before = count_fds();

	test_bad_args();
	test_rtt_delay(base);
	test_rtt_jitter();
	test_integrity();
	test_half_close();
	test_direct_and_refused();
	test_ipv6();
	test_max_conns();
	test_backpressure();
	test_stop(fds_before);

	close(proxy_fd);
	echo_finish();
	return test_done();
}
