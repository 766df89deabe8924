/*
 * fault_net: partition, loss and the latency redirect in the "inet gameday" table, tested
 * with real traffic over loopback in a network namespace of the test's own (ns.h), so no
 * rule ever reaches the host's namespace.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "alloc.h"
#include "fault_net.h"
#include "ns.h"
#include "test.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80	/* <linux/netfilter_ipv4.h>, which clashes with <netinet/in.h>. */
#endif

#define MARK		0x6764U
#define BLOCK_WAIT_MS	300

static struct fault_net *net;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* opendir()'s own. */
}

static void
loop_addr(int af, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		*len = sizeof(*sin6);
	}
}

/* A socket bound to loopback on *port (0: any, written back); TCP ones listen. */
static int
bind_loop(int af, int type, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if ((fd = socket(af, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	loop_addr(af, *port, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 128) == -1) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Accepts what is pending on lfd; returns how many connections it took. */
static int
drain_accept(int lfd)
{
	int fd, n = 0;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		close(fd);
		n++;
	}
	return n;
}

/* Connects to loopback:port; 0 when connected, -ETIMEDOUT when nothing answered, -errno. */
static int
try_connect(int af, uint16_t port, uint32_t mark)
{
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len, elen = sizeof(int);
	int fd, err = 0, r;

	if ((fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == -1) {
		r = -errno;
		goto out;
	}
	loop_addr(af, port, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		r = 0;
		goto out;
	}
	if (errno != EINPROGRESS) {
		r = -errno;
		goto out;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if ((r = poll(&p, 1, BLOCK_WAIT_MS)) <= 0) {
		r = r == 0 ? -ETIMEDOUT : -errno;
		goto out;
	}
	(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	r = -err;
out:
	close(fd);
	return r;
}

static bool
blocked(int af, uint16_t port)
{
	int r = try_connect(af, port, 0);

	return r == -ETIMEDOUT || r == -EPERM;
}

static void
peer_add(struct fault *f, const char *cidr)
{
	const char *why;
	struct net_filter *nf = &f->u.net.filter;

	if (cidr_parse(cidr, &nf->peers[nf->npeers], &why) == 0)
		nf->npeers++;
	else
		fprintf(stderr, "bad test cidr %s: %s\n", cidr, why);
}

static struct fault
partition(const char *peer, uint16_t port, enum net_direction dir)
{
	struct fault f;

	memset(&f, 0, sizeof(f));
	f.type = FAULT_NET_PARTITION;
	f.u.net.filter.direction = dir;
	f.u.net.filter.protocol = NET_PROTO_ALL;
	if (peer != NULL)
		peer_add(&f, peer);
	if (port != 0)
		f.u.net.filter.ports[f.u.net.filter.nports++] = port;
	return f;
}

static char *
ruleset(void)
{
	char *t = NULL;

	if (fault_net_ruleset(net, &t) < 0)
		return gd_strdup("(error)");
	return t;
}

/* Removes the " expires 1s996ms" parts, which change from one listing to the next. */
static void
strip_expires(char *t)
{
	char *p;

	while ((p = strstr(t, " expires ")) != NULL) {
		char *e = p + strlen(" expires ");

		e += strcspn(e, " ,\n");
		memmove(p, e, strlen(e) + 1);
	}
}

static int
count_str(const char *t, const char *s)
{
	int n = 0;

	for (const char *p = t; (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	return n;
}

static bool
is_baseline(void)
{
	char *t = ruleset();
	bool ok = t != NULL && t[0] == '\0';

	if (!ok)
		fprintf(stderr, "ruleset is not the baseline:\n%s\n", t ? t : "(null)");
	gd_free(t);
	return ok;
}

static void
test_invalid(void)
{
	static const char *const bad[] = { "", "ABC", "a_b", "a b", "a-b", "x;flush ruleset",
	    "0123456789abcdef0123456789abcdef0", NULL };
	struct fault f = partition("127.0.0.1", 0, NET_DIR_BOTH);
	char *t = NULL, why[256] = "";
	bool p, l;

	TEST_START("invalid ids are rejected with -EINVAL everywhere");
	for (size_t i = 0; bad[i] != NULL; i++) {
		ASSERT_INT_EQ(fault_net_render(bad[i], &f, NULL, NULL, 1000, &t), -EINVAL);
		ASSERT_INT_EQ(fault_net_apply(net, bad[i], &f, NULL, NULL, 1000, why,
		    sizeof(why)), -EINVAL);
		ASSERT_INT_EQ(fault_net_revert(net, bad[i]), -EINVAL);
		ASSERT_INT_EQ(fault_net_renew(net, bad[i], 1000), -EINVAL);
		ASSERT_INT_EQ(fault_net_status(net, bad[i], &p, &l), -EINVAL);
	}
	ASSERT_INT_EQ(fault_net_render(NULL, &f, NULL, NULL, 1000, &t), -EINVAL);
	ASSERT_TRUE(t == NULL);
	ASSERT_INT_EQ(fault_net_render("0123456789abcdef0123456789abcdef", &f, NULL, NULL, 1000,
	    &t), 0);
	gd_free(t);
	ASSERT_TRUE(is_baseline());

	TEST_START("timeout 0 (never expires), bad types and latency without redirect: -EINVAL");
	ASSERT_INT_EQ(fault_net_render("a1", &f, NULL, NULL, 0, &t), -EINVAL);
	ASSERT_INT_EQ(fault_net_renew(net, "a1", 0), -EINVAL);
	f.type = FAULT_CPU_BURN;
	ASSERT_INT_EQ(fault_net_render("a1", &f, NULL, NULL, 1000, &t), -EINVAL);
	f.type = FAULT_NET_LATENCY;
	ASSERT_INT_EQ(fault_net_apply(net, "a1", &f, NULL, NULL, 1000, why, sizeof(why)),
	    -EINVAL);
	f.type = FAULT_NET_PARTITION;
	f.u.net.filter.protocol = NET_PROTO_ICMP;
	f.u.net.filter.ports[f.u.net.filter.nports++] = 80;
	ASSERT_INT_EQ(fault_net_render("a1", &f, NULL, NULL, 1000, &t), -EINVAL);
	ASSERT_TRUE(is_baseline());
}

static void
test_render(void)
{
	struct fault f = partition("127.0.0.1", 5432, NET_DIR_EGRESS);
	char *t = NULL;

	TEST_START("render: sets, chains, elements with timeout, drop rule, jump");
	ASSERT_INT_EQ(fault_net_render("r1", &f, NULL, NULL, 2500, &t), 0);
	if (t == NULL)
		return;
	ASSERT_TRUE(strstr(t, "create set inet gameday f_r1_p4 { type ipv4_addr; "
	    "flags interval,timeout; }") != NULL);
	ASSERT_TRUE(strstr(t, "create set inet gameday f_r1_p6") != NULL);
	ASSERT_TRUE(strstr(t, "{ 127.0.0.1/32 timeout 2500ms }") != NULL);
	ASSERT_TRUE(strstr(t, "add rule inet gameday f_r1_out ip daddr @f_r1_p4 "
	    "meta l4proto { tcp, udp } th dport { 5432 } drop\n") != NULL);
	ASSERT_TRUE(strstr(t, "add rule inet gameday output jump f_r1_out") != NULL);
	ASSERT_TRUE(strstr(t, "f_r1_in") == NULL);	/* Egress only. */
	ASSERT_TRUE(strstr(t, "::/0") == NULL);	/* Peers given: no catch-all. */
	gd_free(t);

	TEST_START("render: loss as numgen, nested peers merged, no peers is everything");
	f = partition("10.0.0.0/8", 0, NET_DIR_INGRESS);
	f.type = FAULT_NET_LOSS;
	f.u.net.percent = 30;
	peer_add(&f, "10.1.0.0/16");
	t = NULL;
	ASSERT_INT_EQ(fault_net_render("r2", &f, NULL, NULL, 1000, &t), 0);
	if (t == NULL)
		return;
	ASSERT_TRUE(strstr(t, "ip saddr @f_r2_p4 numgen random mod 100000 < 30000 drop") != NULL);
	ASSERT_TRUE(strstr(t, "10.1.0.0") == NULL);
	ASSERT_TRUE(strstr(t, "jump f_r2_in") != NULL && strstr(t, "f_r2_out") == NULL);
	gd_free(t);
	f.u.net.filter.npeers = 0;
	t = NULL;
	ASSERT_INT_EQ(fault_net_render("r2", &f, NULL, NULL, 1000, &t), 0);
	ASSERT_TRUE(t != NULL && strstr(t, "{ 0.0.0.0/0 timeout 1000ms }") != NULL &&
	    strstr(t, "{ ::/0 timeout 1000ms }") != NULL);
	gd_free(t);

	TEST_START("render: loss 100% drops without numgen (nft refuses < 100000), 0.001% is 1");
	f.u.net.percent = 100;
	t = NULL;
	ASSERT_INT_EQ(fault_net_render("r3", &f, NULL, NULL, 1000, &t), 0);
	ASSERT_TRUE(t != NULL && strstr(t, "ip saddr @f_r3_p4 drop\n") != NULL &&
	    strstr(t, "numgen") == NULL);
	gd_free(t);
	f.u.net.percent = 0.001;
	t = NULL;
	ASSERT_INT_EQ(fault_net_render("r3", &f, NULL, NULL, 1000, &t), 0);
	ASSERT_TRUE(t != NULL && strstr(t, "numgen random mod 100000 < 1 drop\n") != NULL);
	gd_free(t);
	f.u.net.percent = 0;
	ASSERT_INT_EQ(fault_net_render("r3", &f, NULL, NULL, 1000, &t), -EINVAL);
}

/* Runs text through a libnftables context of the test's own. */
static int
nft_raw(const char *text)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int r;

	if (ctx == NULL)
		return -1;
	nft_ctx_buffer_error(ctx);
	r = nft_run_cmd_from_buffer(ctx, text);
	if (r != 0)
		fprintf(stderr, "nft: %s\n", nft_ctx_get_error_buffer(ctx));
	nft_ctx_free(ctx);
	return r;
}

static void
test_render_equals_apply(void)
{
	struct net_exempt ex = { .nlocal_ports = 1, .local_ports = { 22 }, .nhosts = 1 };
	struct fault f = partition("127.0.0.1", 5432, NET_DIR_BOTH);
	char *t = NULL, *a = NULL, *b = NULL, why[256] = "";

	TEST_START("render output is exactly what apply installs");
	ex.hosts[0].family = AF_INET6;
	ex.hosts[0].addr[15] = 1;
	ex.hosts[0].port = 443;
	peer_add(&f, "2001:db8::/32");
	ASSERT_INT_EQ(fault_net_render("eq", &f, &ex, NULL, 60000, &t), 0);
	if (t == NULL)
		return;
	ASSERT_INT_EQ(nft_raw(t), 0);
	a = ruleset();
	ASSERT_INT_EQ(fault_net_revert(net, "eq"), 0);
	ASSERT_TRUE(is_baseline());
	ASSERT_INT_EQ(fault_net_apply(net, "eq", &f, &ex, NULL, 60000, why, sizeof(why)), 0);
	b = ruleset();
	strip_expires(a);
	strip_expires(b);
	ASSERT_STR_EQ(a, b);
	ASSERT_TRUE(strstr(b, "set f_eq_p4") != NULL && strstr(b, "set f_eq_p6") != NULL);
	ASSERT_TRUE(strstr(b, "ip6 saddr ::1 tcp sport 443 return") != NULL);
	ASSERT_TRUE(strstr(b, "ip daddr @f_eq_p4 meta l4proto { tcp, udp } th dport 5432 drop")
	    != NULL);
	ASSERT_INT_EQ(fault_net_revert(net, "eq"), 0);
	ASSERT_TRUE(is_baseline());
	gd_free(t);
	gd_free(a);
	gd_free(b);
}

static void
test_partition(void)
{
	struct fault f;
	uint16_t port = 0;
	char *t, why[256] = "";
	bool present = false, live = false;
	int lfd = bind_loop(AF_INET, SOCK_STREAM, &port);

	TEST_START("partition blocks a TCP connect to 127.0.0.1:port; revert restores it");
	ASSERT_TRUE(lfd >= 0);
	ASSERT_TRUE(is_baseline());
	f = partition("127.0.0.1/32", port, NET_DIR_BOTH);
	ASSERT_INT_EQ(try_connect(AF_INET, port, 0), 0);
	ASSERT_INT_EQ(fault_net_apply(net, "p1", &f, NULL, NULL, 30000, why, sizeof(why)), 0);
	ASSERT_TRUE(blocked(AF_INET, port));
	ASSERT_INT_EQ(try_connect(AF_INET6, port, 0), -ECONNREFUSED);	/* ::1 is no peer. */
	ASSERT_INT_EQ(fault_net_status(net, "p1", &present, &live), 0);
	ASSERT_TRUE(present && live);
	t = ruleset();
	ASSERT_TRUE(strstr(t, "jump f_p1_in") != NULL && strstr(t, "jump f_p1_out") != NULL);
	gd_free(t);

	TEST_START("duplicate apply: -EEXIST, exactly one set of rules (REL-11)");
	t = ruleset();
	ASSERT_INT_EQ(fault_net_apply(net, "p1", &f, NULL, NULL, 30000, why, sizeof(why)),
	    -EEXIST);
	ASSERT_TRUE(strstr(why, "p1") != NULL);
	ASSERT_INT_EQ(count_str(t, "jump f_p1_out"), 1);
	ASSERT_INT_EQ(count_str(t, "chain f_p1_out"), 1);
	gd_free(t);
	t = ruleset();
	ASSERT_INT_EQ(count_str(t, "jump f_p1_out"), 1);
	ASSERT_INT_EQ(count_str(t, "drop"), 4);	/* p4 and p6 in f_p1_in and f_p1_out. */
	gd_free(t);

	TEST_START("revert restores; ruleset back at baseline; revert twice is 0");
	ASSERT_INT_EQ(fault_net_revert(net, "p1"), 0);
	ASSERT_INT_EQ(drain_accept(lfd) >= 1, 1);
	ASSERT_INT_EQ(try_connect(AF_INET, port, 0), 0);
	ASSERT_TRUE(is_baseline());
	ASSERT_INT_EQ(fault_net_revert(net, "p1"), 0);
	ASSERT_INT_EQ(fault_net_status(net, "p1", &present, &live), 0);
	ASSERT_TRUE(!present && !live);
	drain_accept(lfd);
	close(lfd);
}

static void
exempt_setup(struct net_exempt *ex, uint16_t port)
{
	memset(ex, 0, sizeof(*ex));
	ex->hosts[0].family = AF_INET;
	memcpy(ex->hosts[0].addr, "\x7f\x00\x00\x01", 4);
	ex->hosts[0].port = port;
	ex->nhosts = 1;
	ex->local_ports[ex->nlocal_ports++] = 22;
}

static void
test_exempt(void)
{
	uint16_t pe = 0, ps = 22, pq = 0, pq6 = 0;
	int le = bind_loop(AF_INET, SOCK_STREAM, &pe), ls = bind_loop(AF_INET, SOCK_STREAM, &ps);
	int lq = bind_loop(AF_INET, SOCK_STREAM, &pq), lq6 = bind_loop(AF_INET6, SOCK_STREAM, &pq6);
	struct fault f = partition(NULL, 0, NET_DIR_BOTH), g = f;
	struct net_exempt ex;
	char why[256] = "";

	TEST_START("exempt host:port and local port 22 pass a partition of everything (REL-16)");
	ASSERT_TRUE(le >= 0 && ls >= 0 && lq >= 0);
	exempt_setup(&ex, pe);
	ASSERT_INT_EQ(fault_net_apply(net, "x1", &f, &ex, NULL, 30000, why, sizeof(why)), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, pe, 0), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, 22, 0), 0);
	ASSERT_TRUE(blocked(AF_INET, pq));
	if (lq6 >= 0)
		ASSERT_TRUE(blocked(AF_INET6, pq6));

	TEST_START("exemptions hold with a second fault in the table (return, not accept)");
	g.type = FAULT_NET_LOSS;
	g.u.net.percent = 100;
	ASSERT_INT_EQ(fault_net_apply(net, "x2", &g, &ex, NULL, 30000, why, sizeof(why)), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, pe, 0), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, 22, 0), 0);
	ASSERT_INT_EQ(fault_net_revert(net, "x1"), 0);
	ASSERT_TRUE(blocked(AF_INET, pq));	/* x2 still drops it all. */
	ASSERT_INT_EQ(try_connect(AF_INET, pe, 0), 0);
	ASSERT_INT_EQ(fault_net_revert(net, "x2"), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, pq, 0), 0);
	ASSERT_TRUE(is_baseline());
	drain_accept(le);
	drain_accept(ls);
	drain_accept(lq);
	close(le);
	close(ls);
	close(lq);
	if (lq6 >= 0)
		close(lq6);
}

/* Removes " timeout 5s" and " expires 4s998ms": what renew changes. */
static void
strip_times(char *t)
{
	static const char *const words[] = { " timeout ", " expires " };
	char *p;

	for (size_t i = 0; i < 2; i++) {
		while ((p = strstr(t, words[i])) != NULL) {
			char *e = p + strlen(words[i]);

			e += strcspn(e, " ,\n");
			memmove(p, e, strlen(e) + 1);
		}
	}
}

static void
test_renew_keeps(struct fault *f)
{
	char *a, *b, why[256] = "";

	TEST_START("renew keeps every element (prefixes, hosts, IPv6) and only re-times them");
	f->u.net.filter.npeers = 0;
	peer_add(f, "10.0.0.0/8");
	peer_add(f, "192.0.2.7");
	peer_add(f, "2001:db8::/32");
	peer_add(f, "::1");
	ASSERT_INT_EQ(fault_net_apply(net, "k1", f, NULL, NULL, 4000, why, sizeof(why)), 0);
	a = ruleset();
	ASSERT_INT_EQ(fault_net_renew(net, "k1", 9000), 0);
	b = ruleset();
	ASSERT_TRUE(strstr(a, "timeout 4s") != NULL && strstr(b, "timeout 9s") != NULL);
	ASSERT_TRUE(strstr(b, "timeout 4s") == NULL);
	strip_times(a);
	strip_times(b);
	ASSERT_STR_EQ(a, b);
	ASSERT_TRUE(strstr(b, "2001:db8::/32") != NULL && strstr(b, "192.0.2.7") != NULL);
	gd_free(a);
	gd_free(b);
	ASSERT_INT_EQ(fault_net_revert(net, "k1"), 0);
	ASSERT_TRUE(is_baseline());
}

static void
test_expiry(void)
{
	uint16_t port = 0;
	int lfd = bind_loop(AF_INET, SOCK_STREAM, &port);
	struct fault f = partition("127.0.0.0/8", port, NET_DIR_EGRESS);
	bool present = false, live = false;
	char why[256] = "";
	int64_t t0;

	TEST_START("kernel expiry: timeout 2000 ms lifts the fault without a revert (REL-03)");
	ASSERT_INT_EQ(fault_net_apply(net, "e1", &f, NULL, NULL, 2000, why, sizeof(why)), 0);
	t0 = now_ms();
	ASSERT_TRUE(blocked(AF_INET, port));
	ASSERT_INT_EQ(fault_net_status(net, "e1", &present, &live), 0);
	ASSERT_TRUE(present && live);
	sleep_ms((int)(3000 - (now_ms() - t0)));
	ASSERT_INT_EQ(try_connect(AF_INET, port, 0), 0);
	ASSERT_INT_EQ(fault_net_status(net, "e1", &present, &live), 0);
	ASSERT_TRUE(present && !live);
	ASSERT_INT_EQ(fault_net_renew(net, "e1", 5000), -ETIME);	/* Expired stays expired. */
	ASSERT_INT_EQ(try_connect(AF_INET, port, 0), 0);
	ASSERT_INT_EQ(fault_net_revert(net, "e1"), 0);

	TEST_START("renew extends the elements' life");
	ASSERT_INT_EQ(fault_net_renew(net, "e1", 5000), -ENOENT);
	ASSERT_INT_EQ(fault_net_apply(net, "e2", &f, NULL, NULL, 1500, why, sizeof(why)), 0);
	t0 = now_ms();
	sleep_ms(700);
	ASSERT_INT_EQ(fault_net_renew(net, "e2", 5000), 0);
	sleep_ms((int)(2300 - (now_ms() - t0)));
	ASSERT_TRUE(blocked(AF_INET, port));
	ASSERT_INT_EQ(fault_net_status(net, "e2", &present, &live), 0);
	ASSERT_TRUE(present && live);
	ASSERT_INT_EQ(fault_net_revert(net, "e2"), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, port, 0), 0);
	ASSERT_TRUE(is_baseline());
	test_renew_keeps(&f);
	drain_accept(lfd);
	close(lfd);
}

/* Sends n datagrams to loopback:port and returns how many arrived. */
static int
udp_through(int rfd, uint16_t port, int n)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64] = "gameday";
	int sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), got = 0;
	struct pollfd p = { .fd = rfd, .events = POLLIN };

	if (sfd == -1)
		return -1;
	loop_addr(AF_INET, port, &ss, &len);
	for (int i = 0; i < n; i++) {
		/* A datagram the output hook drops fails with EPERM: only arrivals count. */
		(void)sendto(sfd, buf, 16, 0, (struct sockaddr *)&ss, len);
		while (recv(rfd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got++;
	}
	while (poll(&p, 1, 100) == 1 && recv(rfd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		got++;
	close(sfd);
	return got;
}

static void
test_loss(void)
{
	uint16_t port = 0, other = 0;
	int rfd = bind_loop(AF_INET, SOCK_DGRAM, &port);
	int ofd = bind_loop(AF_INET, SOCK_DGRAM, &other);
	struct fault f = partition("127.0.0.1", port, NET_DIR_EGRESS);
	char why[256] = "";
	int got;

	TEST_START("loss 30% drops 30 +- 5 % of 1000 UDP datagrams; other ports untouched");
	ASSERT_TRUE(rfd >= 0 && ofd >= 0);
	f.type = FAULT_NET_LOSS;
	f.u.net.percent = 30;
	ASSERT_INT_EQ(udp_through(rfd, port, 200), 200);
	ASSERT_INT_EQ(fault_net_apply(net, "l1", &f, NULL, NULL, 30000, why, sizeof(why)), 0);
	got = udp_through(rfd, port, 1000);
	printf("loss 30%%: %d of 1000 datagrams arrived\n", got);
	ASSERT_TRUE(got >= 650 && got <= 750);
	ASSERT_INT_EQ(udp_through(ofd, other, 200), 200);
	ASSERT_INT_EQ(fault_net_revert(net, "l1"), 0);

	TEST_START("loss 100% drops every datagram; revert lets them all through");
	f.u.net.percent = 100;
	ASSERT_INT_EQ(fault_net_apply(net, "l2", &f, NULL, NULL, 30000, why, sizeof(why)), 0);
	ASSERT_INT_EQ(udp_through(rfd, port, 300), 0);
	ASSERT_INT_EQ(fault_net_revert(net, "l2"), 0);
	ASSERT_INT_EQ(udp_through(rfd, port, 300), 300);
	ASSERT_TRUE(is_baseline());
	close(rfd);
	close(ofd);
}

/* The original destination port of a redirected connection, or 0. */
static uint16_t
orig_dst_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &sin, &len) == -1)
		return 0;
	return ntohs(sin.sin_port);
}

static void
test_latency_redirect(void)
{
	uint16_t pport = 0, target = 0;
	int pfd = bind_loop(AF_INET, SOCK_STREAM, &pport), tfd, cfd;
	struct fault f = partition("127.0.0.1/32", 0, NET_DIR_EGRESS);
	struct net_redirect redir = { .port = pport, .mark = MARK };
	char why[256] = "", *t;

	TEST_START("latency: TCP to a peer port is redirected to the proxy; marked is not");
	/* A port with no listener: refused unless the redirect takes the connection. */
	tfd = bind_loop(AF_INET, SOCK_STREAM, &target);
	close(tfd);
	ASSERT_TRUE(pfd >= 0);
	f.type = FAULT_NET_LATENCY;
	f.u.net.backend = LATENCY_PROXY;
	f.u.net.filter.ports[f.u.net.filter.nports++] = target;
	ASSERT_INT_EQ(try_connect(AF_INET, target, 0), -ECONNREFUSED);
	redir.port = 0;
	ASSERT_INT_EQ(fault_net_apply(net, "lat1", &f, NULL, &redir, 30000, why, sizeof(why)),
	    -EINVAL);
	redir.port = pport;
	ASSERT_INT_EQ(fault_net_apply(net, "lat1", &f, NULL, &redir, 30000, why, sizeof(why)), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, target, 0), 0);
	cfd = accept4(pfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_TRUE(cfd >= 0);
	if (cfd >= 0) {
		ASSERT_INT_EQ(orig_dst_port(cfd), target);
		close(cfd);
	}
	ASSERT_INT_EQ(try_connect(AF_INET, target, MARK), -ECONNREFUSED);
	ASSERT_INT_EQ(drain_accept(pfd), 0);
	t = ruleset();
	ASSERT_TRUE(strstr(t, "redirect to :") != NULL && strstr(t, "jump f_lat1_nout") != NULL);
	gd_free(t);
	ASSERT_INT_EQ(fault_net_revert(net, "lat1"), 0);
	ASSERT_INT_EQ(try_connect(AF_INET, target, 0), -ECONNREFUSED);
	ASSERT_TRUE(is_baseline());

	TEST_START("latency both ways: nat prerouting and output chains, one transaction");
	f.u.net.filter.direction = NET_DIR_BOTH;
	ASSERT_INT_EQ(fault_net_apply(net, "lat2", &f, NULL, &redir, 30000, why, sizeof(why)), 0);
	t = ruleset();
	ASSERT_TRUE(strstr(t, "jump f_lat2_npre") != NULL && strstr(t, "jump f_lat2_nout") != NULL);
	gd_free(t);
	ASSERT_INT_EQ(try_connect(AF_INET, target, 0), 0);
	ASSERT_INT_EQ(drain_accept(pfd), 1);
	ASSERT_INT_EQ(fault_net_revert(net, "lat2"), 0);
	ASSERT_TRUE(is_baseline());
	close(pfd);
}

static void
test_list(void)
{
	struct fault f = partition("192.0.2.0/24", 0, NET_DIR_BOTH);
	char **ids = NULL, why[256] = "";
	size_t n = 9;
	bool a = false, b = false;

	TEST_START("list names every fault present; reverting one keeps the other");
	ASSERT_INT_EQ(fault_net_list(net, &ids, &n), 0);
	ASSERT_INT_EQ(n, 0);
	gd_free(ids);
	ASSERT_INT_EQ(fault_net_apply(net, "aa1", &f, NULL, NULL, 30000, why, sizeof(why)), 0);
	ASSERT_INT_EQ(fault_net_apply(net, "bb2", &f, NULL, NULL, 30000, why, sizeof(why)), 0);
	ASSERT_INT_EQ(fault_net_list(net, &ids, &n), 0);
	ASSERT_INT_EQ(n, 2);
	for (size_t i = 0; i < n; i++) {
		a |= strcmp(ids[i], "aa1") == 0;
		b |= strcmp(ids[i], "bb2") == 0;
		gd_free(ids[i]);
	}
	gd_free(ids);
	ASSERT_TRUE(a && b);
	ASSERT_INT_EQ(fault_net_revert(net, "aa1"), 0);
	ASSERT_INT_EQ(fault_net_status(net, "bb2", &a, &b), 0);
	ASSERT_TRUE(a && b);
	ASSERT_INT_EQ(fault_net_list(net, &ids, &n), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(n == 1 ? ids[0] : NULL, "bb2");
	for (size_t i = 0; i < n; i++)
		gd_free(ids[i]);
	gd_free(ids);
	ASSERT_INT_EQ(fault_net_revert(net, "bb2"), 0);
	ASSERT_TRUE(is_baseline());
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void
test_cycles(void)
{
	static int64_t us[1000];
	struct fault f = partition("127.0.0.1/32", 8080, NET_DIR_BOTH);
	struct net_exempt ex;
	char why[256] = "";
	int fds = count_fds(), bad = 0;
	struct fault_net *m = NULL;

	TEST_START("1000 apply/revert cycles: baseline ruleset, no fd leak (REL-10)");
	exempt_setup(&ex, 443);
	for (int i = 0; i < 1000; i++) {
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		bad += fault_net_apply(net, "cyc", &f, &ex, NULL, 30000, why, sizeof(why)) != 0;
		bad += fault_net_revert(net, "cyc") != 0;
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
	}
	qsort(us, 1000, sizeof(us[0]), cmp_i64);
	printf("apply+revert: median %.2f ms, p99 %.2f ms\n", us[500] / 1000.0, us[990] / 1000.0);
	ASSERT_INT_EQ(bad, 0);
	ASSERT_TRUE(is_baseline());
	ASSERT_INT_EQ(count_fds(), fds);

	TEST_START("open/close 200 times leaks no fd");
	for (int i = 0; i < 200; i++) {
		ASSERT_INT_EQ(fault_net_open(&m), 0);
		m = fault_net_close(m);
	}
	ASSERT_TRUE(m == NULL);
	ASSERT_INT_EQ(count_fds(), fds);
}

int
main(void)
{
	ns_enter_net();
	if (fault_net_open(&net) < 0)
		ns_skip("cannot open a libnftables context");
	test_invalid();
	test_render();
	test_render_equals_apply();
	test_partition();
	test_exempt();
	test_expiry();
	test_loss();
	test_latency_redirect();
	test_list();
	test_cycles();
	net = fault_net_close(net);
	return test_done();
}
