/*
 * fault_tc against the kernel, in a network namespace of its own (ns.h): tbf on lo, whose
 * egress goes through its root qdisc, measured with TCP traffic to 127.0.0.1; a veth pair
 * made here for the default route; a foreign htb root qdisc that must be left alone.
 */
#include <errno.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include "alloc.h"
#include "fault_tc.h"
#include "ns.h"
#include "test.h"

#define CYCLES		200
#define FOREIGN_HANDLE	0x00010000U	/* 1: */
#define VETH		"gd0"
#define VETH_PEER	"gd1"

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct nl_sock *
sock_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (sk == NULL || nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/* Root qdiscs of dev with handle (any handle when handle is UINT32_MAX), read with libnl. */
static int
root_qdiscs(const char *dev, uint32_t handle)
{
	struct nl_sock *sk = sock_open();
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int ifindex, n = 0;

	if (sk == NULL || (ifindex = (int)if_nametoindex(dev)) == 0 ||
	    rtnl_qdisc_alloc_cache(sk, &cache) < 0) {
		nl_socket_free(sk);
		return -1;
	}
	for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
		struct rtnl_tc *tc = (struct rtnl_tc *)o;

		if (rtnl_tc_get_ifindex(tc) == ifindex && rtnl_tc_get_parent(tc) == TC_H_ROOT &&
		    (handle == UINT32_MAX || rtnl_tc_get_handle(tc) == handle))
			n++;
	}
	nl_cache_free(cache);
	nl_socket_free(sk);
	return n;
}

/* Adds (add) or deletes a root qdisc of kind with handle on dev; the libnl error or 0. */
static int
qdisc_op(const char *dev, const char *kind, uint32_t handle, bool add)
{
	struct nl_sock *sk = sock_open();
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int r = -NLE_NOMEM;

	if (sk == NULL || q == NULL)
		goto out;
	rtnl_tc_set_ifindex(TC_CAST(q), (int)if_nametoindex(dev));
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	if ((r = rtnl_tc_set_kind(TC_CAST(q), kind)) < 0)
		goto out;
	if (add && strcmp(kind, "netem") == 0)
		rtnl_netem_set_delay(q, 1000);
	if (add && strcmp(kind, "htb") == 0)
		(void)rtnl_htb_set_defcls(q, 0x10);
	r = add ? rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL) : rtnl_qdisc_delete(sk, q);
out:
	if (q != NULL)
		rtnl_qdisc_put(q);
	nl_socket_free(sk);
	return r;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	(void)closedir(d);
	return n;
}

struct sender {
	int fd;
	atomic_int stop;
};

static void *
sender_main(void *arg)
{
	static char buf[64 * 1024];
	struct sender *s = arg;

	while (!atomic_load(&s->stop)) {
		if (send(s->fd, buf, sizeof(buf), MSG_NOSIGNAL) == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)
			break;
	}
	return NULL;
}

/* A connected pair of TCP sockets over 127.0.0.1, with 100 ms send/receive timeouts. */
static int
tcp_pair(int *ret_cli, int *ret_srv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_usec = 100000 };
	socklen_t len = sizeof(sin);
	int lfd, cli = -1, srv = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1 ||
	    (cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(cli, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		if (cli != -1)
			close(cli);
		close(lfd);
		return -errno;
	}
	close(lfd);
	(void)setsockopt(cli, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*ret_cli = cli;
	*ret_srv = srv;
	return 0;
}

/* Least-squares slope of cumulative bytes over time: less noisy than end points alone. */
struct fit {
	double n, sx, sy, sxx, sxy;
};

static void
fit_add(struct fit *f, double x, double y)
{
	f->n += 1;
	f->sx += x;
	f->sy += y;
	f->sxx += x * x;
	f->sxy += x * y;
}

static double
fit_slope(const struct fit *f)
{
	double d = f->n * f->sxx - f->sx * f->sx;

	return d > 0 ? (f->n * f->sxy - f->sx * f->sy) / d : -1;
}

/*
 * TCP goodput over lo in bytes per second, fitted over secs seconds that start warm seconds
 * in (so a full token bucket and slow start do not count).  On lo, segments are up to 64 KiB,
 * a few dozen per window at 1 MB/s; end points alone would be off by one segment (3-5%).
 */
static double
measure_rate(double warm, double secs)
{
	static char buf[256 * 1024];
	struct sender s = { .fd = -1 };
	struct fit f = { 0 };
	double t0, t = 0;
	long long total = 0;
	pthread_t th;
	int srv;

	if (tcp_pair(&s.fd, &srv) < 0)
		return -1;
	atomic_init(&s.stop, 0);
	if (pthread_create(&th, NULL, sender_main, &s) != 0) {
		close(s.fd);
		close(srv);
		return -1;
	}
	for (t0 = now_s(); t - t0 < warm + secs;) {
		ssize_t n = recv(srv, buf, sizeof(buf), 0);

		if (n > 0)
			total += n;
		t = now_s();
		if (n > 0 && t - t0 >= warm)
			fit_add(&f, t - t0, (double)total);
	}
	atomic_store(&s.stop, 1);
	(void)pthread_join(th, NULL);
	close(s.fd);
	close(srv);
	return fit_slope(&f);
}

/* Milliseconds a TCP connect to 127.0.0.1 takes (SYN and SYN-ACK both leave through lo). */
static double
connect_ms(void)
{
	double t0 = now_s();
	int cli, srv;

	if (tcp_pair(&cli, &srv) < 0)
		return -1;
	close(cli);
	close(srv);
	return (now_s() - t0) * 1000;
}

static int
link_up(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link = NULL, *change = rtnl_link_alloc();
	int r = -NLE_NOMEM;

	if (change != NULL && (r = rtnl_link_get_kernel(sk, 0, name, &link)) == 0) {
		rtnl_link_set_flags(change, IFF_UP);
		r = rtnl_link_change(sk, link, change, 0);
	}
	if (link != NULL)
		rtnl_link_put(link);
	if (change != NULL)
		rtnl_link_put(change);
	return r;
}

static int
addr_add(struct nl_sock *sk, int ifindex, const char *cidr)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	int r = -NLE_NOMEM;

	if (a != NULL && (r = nl_addr_parse(cidr, AF_INET, &local)) == 0) {
		rtnl_addr_set_ifindex(a, ifindex);
		if ((r = rtnl_addr_set_local(a, local)) == 0)
			r = rtnl_addr_add(sk, a, 0);
	}
	nl_addr_put(local);
	if (a != NULL)
		rtnl_addr_put(a);
	return r;
}

static int
default_route_add(struct nl_sock *sk, int ifindex, const char *gw)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = NULL, *via = NULL;
	int r;

	if (rt == NULL || nh == NULL || (r = nl_addr_parse("0.0.0.0/0", AF_INET, &dst)) < 0 ||
	    (r = nl_addr_parse(gw, AF_INET, &via)) < 0) {
		r = -NLE_NOMEM;
		goto out;
	}
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	if ((r = rtnl_route_set_dst(rt, dst)) < 0)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL;	/* The route owns it now. */
	r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
out:
	if (nh != NULL)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(via);
	if (rt != NULL)
		rtnl_route_put(rt);
	return r;
}

/* gd0 <-> gd1 in this namespace, both up, 10.77.0.1/24 on gd0, default via 10.77.0.254. */
static int
veth_setup(void)
{
	struct nl_sock *sk = sock_open();
	int r = -NLE_NOMEM;

	if (sk == NULL)
		return r;
	if ((r = rtnl_link_veth_add(sk, VETH, VETH_PEER, getpid())) < 0 ||
	    (r = link_up(sk, VETH)) < 0 || (r = link_up(sk, VETH_PEER)) < 0 ||
	    (r = addr_add(sk, (int)if_nametoindex(VETH), "10.77.0.1/24")) < 0 ||
	    (r = default_route_add(sk, (int)if_nametoindex(VETH), "10.77.0.254")) < 0)
		fprintf(stderr, "veth setup: %s\n", nl_geterror(r));
	nl_socket_free(sk);
	return r;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static char default_kind[16];
static double unthrottled;

static void
test_render(void)
{
	char *s = NULL;

	TEST_START("render tbf names device, kind and parameters");
	ASSERT_INT_EQ(fault_tc_render_tbf("lo", 1000000, &s), 0);
	ASSERT_TRUE(s != NULL && strstr(s, "dev lo") != NULL && strstr(s, "tbf") != NULL);
	ASSERT_TRUE(s != NULL && strstr(s, "rate 1000000 bytes/s") != NULL);
	ASSERT_TRUE(s != NULL && strstr(s, "burst") != NULL && strstr(s, "limit") != NULL);
	ASSERT_TRUE(s != NULL && strchr(s, '\n') == NULL);
	printf("render: %s\n", s ? s : "(null)");
	gd_free(s);
	s = NULL;

	TEST_START("render tbf of a device not here assumes mtu 1500");
	ASSERT_INT_EQ(fault_tc_render_tbf("eth9", 125000, &s), 0);
	ASSERT_TRUE(s != NULL && strstr(s, "dev eth9") != NULL &&
	    strstr(s, "mtu 1500, assumed") != NULL);
	printf("render: %s\n", s ? s : "(null)");
	gd_free(s);
	s = NULL;

	TEST_START("render netem names device, kind, delay and jitter");
	ASSERT_INT_EQ(fault_tc_render_netem("eth0", 100, 10, &s), 0);
	ASSERT_TRUE(s != NULL && strstr(s, "dev eth0") != NULL && strstr(s, "netem") != NULL);
	ASSERT_TRUE(s != NULL && strstr(s, "delay 100 ms") != NULL &&
	    strstr(s, "jitter 10 ms") != NULL);
	printf("render: %s\n", s ? s : "(null)");
	gd_free(s);
	s = NULL;

	TEST_START("render refuses bad arguments");
	ASSERT_INT_EQ(fault_tc_render_tbf("lo", 0, &s), -EINVAL);
	ASSERT_INT_EQ(fault_tc_render_tbf("a-name-far-too-long", 1000, &s), -EINVAL);
	ASSERT_INT_EQ(fault_tc_render_netem("lo", 61000, 0, &s), -EINVAL);
	ASSERT_TRUE(s == NULL);
}

static void
test_bad_args(void)
{
	char why[256] = "";

	TEST_START("apply refuses bad rates and names, touching nothing");
	ASSERT_INT_EQ(fault_tc_tbf_apply("lo", 0, why, sizeof(why)), -EINVAL);
	ASSERT_TRUE(why[0] != '\0');
	ASSERT_INT_EQ(fault_tc_tbf_apply("lo", (uint64_t)INT32_MAX + 1, why, sizeof(why)), -ERANGE);
	ASSERT_INT_EQ(fault_tc_tbf_apply("lo", 10, why, sizeof(why)), -ERANGE);
	ASSERT_INT_EQ(fault_tc_tbf_apply("", 1000000, why, sizeof(why)), -EINVAL);
	ASSERT_INT_EQ(fault_tc_tbf_apply(NULL, 1000000, NULL, 0), -EINVAL);
	ASSERT_INT_EQ(root_qdiscs("lo", GD_TC_HANDLE), 0);
}

static void
test_initial(void)
{
	bool present = true;

	TEST_START("status reads lo's default root qdisc");
	ASSERT_INT_EQ(fault_tc_status("lo", &present, default_kind), 0);
	ASSERT_TRUE(!present);
	ASSERT_TRUE(default_kind[0] != '\0' && strcmp(default_kind, "tbf") != 0);
	printf("default root qdisc of lo: %s\n", default_kind);

	TEST_START("unthrottled lo is fast");
	unthrottled = measure_rate(0.2, 0.5);
	printf("unthrottled: %.1f MB/s\n", unthrottled / 1e6);
	ASSERT_TRUE(unthrottled > 40e6);
}

static void
test_tbf_rate(uint64_t rate)
{
	char kind[16] = "", why[256] = "";
	bool present = false;
	double got;

	TEST_START("tbf applies, status reads it, the rate holds");
	ASSERT_INT_EQ(fault_tc_tbf_apply("lo", rate, why, sizeof(why)), 0);
	ASSERT_INT_EQ(fault_tc_status("lo", &present, kind), 0);
	ASSERT_TRUE(present);
	ASSERT_STR_EQ(kind, "tbf");
	got = measure_rate(0.5, 2.0);
	printf("tbf %llu bytes/s: achieved %.0f bytes/s (%.1f%%)\n", (unsigned long long)rate,
	    got, (got / (double)rate - 1) * 100);
	ASSERT_DBL_NEAR(got, (double)rate, 0.10 * (double)rate);

	TEST_START("apply twice is -EEXIST and leaves one qdisc");
	why[0] = '\0';
	ASSERT_INT_EQ(fault_tc_tbf_apply("lo", rate * 2, why, sizeof(why)), -EEXIST);
	ASSERT_TRUE(why[0] != '\0');
	ASSERT_INT_EQ(root_qdiscs("lo", GD_TC_HANDLE), 1);
	ASSERT_INT_EQ(root_qdiscs("lo", UINT32_MAX), 1);

	TEST_START("revert restores the default and the speed; twice is fine");
	ASSERT_INT_EQ(fault_tc_revert("lo"), 0);
	ASSERT_INT_EQ(fault_tc_status("lo", &present, kind), 0);
	ASSERT_TRUE(!present);
	ASSERT_STR_EQ(kind, default_kind);
	ASSERT_INT_EQ(fault_tc_revert("lo"), 0);
	ASSERT_INT_EQ(root_qdiscs("lo", GD_TC_HANDLE), 0);
	got = measure_rate(0.2, 0.5);
	printf("after revert: %.1f MB/s\n", got / 1e6);
	ASSERT_TRUE(got > 4 * (double)rate);
}

static void
test_foreign(void)
{
	char kind[16] = "", why[256] = "";
	bool present = true;
	int r;

	TEST_START("a foreign root qdisc is refused and left untouched");
	r = qdisc_op("lo", "htb", FOREIGN_HANDLE, true);
	ASSERT_INT_EQ(r, 0);
	if (r != 0)
		fprintf(stderr, "htb: %s\n", nl_geterror(r));
	ASSERT_INT_EQ(fault_tc_tbf_apply("lo", 1000000, why, sizeof(why)), -EBUSY);
	printf("foreign: %s\n", why);
	ASSERT_TRUE(strstr(why, "htb") != NULL);
	ASSERT_INT_EQ(fault_tc_status("lo", &present, kind), 0);
	ASSERT_TRUE(!present);
	ASSERT_STR_EQ(kind, "htb");
	ASSERT_INT_EQ(fault_tc_revert("lo"), 0);
	ASSERT_INT_EQ(root_qdiscs("lo", FOREIGN_HANDLE), 1);
	ASSERT_INT_EQ(qdisc_op("lo", "htb", FOREIGN_HANDLE, false), 0);
	ASSERT_INT_EQ(root_qdiscs("lo", FOREIGN_HANDLE), 0);
}

static void
test_missing_dev(void)
{
	char kind[16], why[256] = "";
	bool present;

	TEST_START("a missing device: revert 0, status and apply -ENODEV");
	ASSERT_INT_EQ(fault_tc_revert("gdnone0"), 0);
	ASSERT_INT_EQ(fault_tc_status("gdnone0", &present, kind), -ENODEV);
	ASSERT_INT_EQ(fault_tc_tbf_apply("gdnone0", 1000000, why, sizeof(why)), -ENODEV);
	ASSERT_TRUE(strstr(why, "gdnone0") != NULL);
}

static void
test_default_dev(void)
{
	char dev[IFNAMSIZ] = "", kind[16] = "", why[256] = "";
	bool present = false;

	TEST_START("no default route: -ENOENT");
	ASSERT_INT_EQ(fault_tc_default_dev(dev), -ENOENT);

	TEST_START("default route via a veth: its device");
	ASSERT_INT_EQ(veth_setup(), 0);
	ASSERT_INT_EQ(fault_tc_default_dev(dev), 0);
	ASSERT_STR_EQ(dev, VETH);

	TEST_START("tbf on the veth, then back to its default");
	ASSERT_INT_EQ(fault_tc_tbf_apply(VETH, 500000, why, sizeof(why)), 0);
	ASSERT_INT_EQ(fault_tc_status(VETH, &present, kind), 0);
	ASSERT_TRUE(present);
	ASSERT_STR_EQ(kind, "tbf");
	ASSERT_INT_EQ(fault_tc_revert(VETH), 0);
	ASSERT_INT_EQ(fault_tc_status(VETH, &present, kind), 0);
	ASSERT_TRUE(!present);
	ASSERT_TRUE(strcmp(kind, "tbf") != 0 && kind[0] != '\0');
}

static void
test_netem(void)
{
	const char *reason = NULL;
	char why[256] = "", kind[16] = "";
	bool ok, present = true;
	int kr;
	double ms;

	TEST_START("netem support matches what the kernel says");
	ok = fault_tc_netem_supported(&reason);
	printf("netem supported: %s (%s)\n", ok ? "yes" : "no", reason ? reason : "(null)");
	ASSERT_TRUE(reason != NULL && reason[0] != '\0');
	kr = qdisc_op("lo", "netem", 0x00020000U, true);
	if (kr == 0)
		ASSERT_INT_EQ(qdisc_op("lo", "netem", 0x00020000U, false), 0);
	ASSERT_INT_EQ(kr == 0, ok);

	if (!ok) {
		TEST_START("netem apply fails cleanly without sch_netem");
		ASSERT_INT_EQ(fault_tc_netem_apply("lo", 100, 0, why, sizeof(why)), -EOPNOTSUPP);
		ASSERT_TRUE(strstr(why, "netem") != NULL);
		ASSERT_INT_EQ(fault_tc_status("lo", &present, kind), 0);
		ASSERT_TRUE(!present);
		printf("SKIP: netem delay test: %s\n", reason ? reason : "(null)");
		return;
	}
	TEST_START("netem delays lo's traffic");
	ASSERT_INT_EQ(fault_tc_netem_apply("lo", 100, 0, why, sizeof(why)), 0);
	ASSERT_INT_EQ(fault_tc_status("lo", &present, kind), 0);
	ASSERT_TRUE(present);
	ASSERT_STR_EQ(kind, "netem");
	ms = connect_ms();
	printf("connect with netem 100 ms: %.1f ms\n", ms);
	ASSERT_TRUE(ms >= 180);
	ASSERT_INT_EQ(fault_tc_revert("lo"), 0);
	ASSERT_TRUE(connect_ms() < 50);
}

static void
test_cycles(void)
{
	static double t_apply[CYCLES], t_revert[CYCLES];
	char kind[16] = "", why[256];
	bool present = true;
	int fds, bad = 0;

	TEST_START("200 apply/revert cycles leak no fd and end at the default");
	fds = count_fds();
	for (int i = 0; i < CYCLES; i++) {
		double t0 = now_s();

		bad += fault_tc_tbf_apply("lo", 4000000, why, sizeof(why)) != 0;
		t_apply[i] = (now_s() - t0) * 1000;
		t0 = now_s();
		bad += fault_tc_revert("lo") != 0;
		t_revert[i] = (now_s() - t0) * 1000;
	}
	ASSERT_INT_EQ(bad, 0);
	ASSERT_INT_EQ(count_fds(), fds);
	ASSERT_INT_EQ(fault_tc_status("lo", &present, kind), 0);
	ASSERT_TRUE(!present);
	ASSERT_STR_EQ(kind, default_kind);
	qsort(t_apply, CYCLES, sizeof(double), cmp_double);
	qsort(t_revert, CYCLES, sizeof(double), cmp_double);
	printf("median over %d cycles: apply %.3f ms, revert %.3f ms (max %.3f, %.3f)\n",
	    CYCLES, t_apply[CYCLES / 2], t_revert[CYCLES / 2], t_apply[CYCLES - 1],
	    t_revert[CYCLES - 1]);
}

int
main(void)
{
	ns_enter_net();
	test_render();
	test_bad_args();
	test_initial();
	test_tbf_rate(1000000);
	test_tbf_rate(4000000);
	test_foreign();
	test_missing_dev();
	test_netem();
	test_default_dev();
	test_cycles();
	return test_done();
}
