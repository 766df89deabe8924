/*
 * Root qdiscs over netlink (libnl-route-3).  Every operation opens its own route socket and
 * closes it before returning, so nothing is held between calls and no fd outlives one.
 * What is on a device is always read from the kernel, never remembered.
 */
#include "fault_tc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include "alloc.h"
#include "limits.h"	/* Ours: it shadows <limits.h>, hence INT32_MAX below. */

/* Room for link-layer headers on top of the MTU: Ethernet, two VLAN tags, and slack. */
#define TC_LINK_HEADROOM	64U
/* How long tbf may queue beyond its burst: 50 ms worth of bytes at the rate (tc's "latency"). */
#define TC_TBF_LATENCY_MS	50U
/* The burst is at least 4 ms worth of bytes at the rate (one jiffy at HZ=250). */
#define TC_TBF_BURST_DIV	250U
/* Time to send one full bucket; libnl stores it in 32-bit psched ticks (64 ns), so keep it sane. */
#define TC_TBF_MAX_BUCKET_US	(100ULL * 1000 * 1000)
/* When render cannot read the device's MTU (dry runs on another host), it assumes Ethernet. */
#define TC_DEFAULT_MTU		1500U

/* One netlink conversation about one device. */
struct tc_ctx {
	struct nl_sock *sk;
	struct rtnl_link *link;
	int ifindex;
	unsigned int mtu;
};

/* Burst and limit of a tbf qdisc, in bytes. */
struct tbf_params {
	uint32_t burst;
	uint32_t limit;
};

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* libnl reports its own codes (NLE_*); callers of this module get negative errno values. */
static int
nlerr_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0:			return 0;
	case NLE_EXIST:		return -EEXIST;
	case NLE_BUSY:		return -EBUSY;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_NODEV:		return -ENODEV;
	case NLE_PERM:		return -EPERM;
	case NLE_NOACCESS:	return -EACCES;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_INVAL:		return -EINVAL;
	case NLE_RANGE:		return -ERANGE;
	case NLE_AGAIN:		return -EAGAIN;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:	return -EAFNOSUPPORT;
	case NLE_MSGSIZE:	return -EMSGSIZE;
	default:		return -EIO;
	}
}

static int
dev_check(const char *dev)
{
	if (dev == NULL || dev[0] == '\0' || strlen(dev) >= IFNAMSIZ)
		return -EINVAL;
	return 0;
}

static void
tc_close(struct tc_ctx *ctx)
{
	if (ctx->link != NULL)
		rtnl_link_put(ctx->link);
	nl_socket_free(ctx->sk);	/* Takes NULL; closes the socket. */
	ctx->link = NULL;
	ctx->sk = NULL;
}

/* A connected route socket; on success the caller owns *ret_sk (nl_socket_free()). */
static int
route_socket(struct nl_sock **ret_sk)
{
	struct nl_sock *sk;
	int r;

	if ((sk = nl_socket_alloc()) == NULL)
		return -ENOMEM;
	if ((r = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(sk);
		return nlerr_errno(r);
	}
	*ret_sk = sk;
	return 0;
}

/* Connects and looks dev up.  -ENODEV when it does not exist; tc_close() in every case. */
static int
tc_open(const char *dev, struct tc_ctx *ctx)
{
	int r;

	memset(ctx, 0, sizeof(*ctx));
	if ((r = dev_check(dev)) < 0 || (r = route_socket(&ctx->sk)) < 0)
		return r;
	r = rtnl_link_get_kernel(ctx->sk, 0, dev, &ctx->link);
	if (r < 0) {
		r = nlerr_errno(r);
		return r == -ENOENT ? -ENODEV : r;
	}
	ctx->ifindex = rtnl_link_get_ifindex(ctx->link);
	ctx->mtu = rtnl_link_get_mtu(ctx->link);
	return 0;
}

/* The handle and kind of dev's root qdisc: handle 0 and kind "" when the kernel lists none. */
static int
tc_root(struct tc_ctx *ctx, uint32_t *ret_handle, char ret_kind[16])
{
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	const char *kind;
	int r;

	if ((r = rtnl_qdisc_alloc_cache(ctx->sk, &cache)) < 0)
		return nlerr_errno(r);
	*ret_handle = 0;
	ret_kind[0] = '\0';
	q = rtnl_qdisc_get_by_parent(cache, ctx->ifindex, TC_H_ROOT);
	if (q != NULL) {
		*ret_handle = rtnl_tc_get_handle(TC_CAST(q));
		if ((kind = rtnl_tc_get_kind(TC_CAST(q))) != NULL)
			(void)snprintf(ret_kind, 16, "%s", kind);
		rtnl_qdisc_put(q);
	}
	nl_cache_free(cache);
	return 0;
}

/* 0 when dev's root qdisc is a default one (handle 0:), which ours may replace. */
static int
tc_check_free(struct tc_ctx *ctx, const char *dev, char *why, size_t whylen)
{
	char kind[16];
	uint32_t handle;
	int r;

	if ((r = tc_root(ctx, &handle, kind)) < 0) {
		set_why(why, whylen, "cannot list the qdiscs of %s", dev);
		return r;
	}
	if (handle == 0)
		return 0;
	if (handle == GD_TC_HANDLE) {
		set_why(why, whylen, "our %s qdisc is already the root qdisc of %s", kind, dev);
		return -EEXIST;
	}
	set_why(why, whylen, "%s already has a root qdisc %s with handle %x:, not ours; left alone",
	    dev, kind, handle >> 16);
	return -EBUSY;
}

/* A root qdisc of kind for ctx's device with our handle; the caller puts *ret_q. */
static int
tc_qdisc_new(struct tc_ctx *ctx, const char *kind, struct rtnl_qdisc **ret_q)
{
	struct rtnl_qdisc *q;
	int r;

	if ((q = rtnl_qdisc_alloc()) == NULL)
		return -ENOMEM;
	rtnl_tc_set_link(TC_CAST(q), ctx->link);	/* Sets the ifindex and MTU too. */
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), GD_TC_HANDLE);
	if ((r = rtnl_tc_set_kind(TC_CAST(q), kind)) < 0) {
		rtnl_qdisc_put(q);
		return nlerr_errno(r);
	}
	*ret_q = q;
	return 0;
}

/*
 * Adds q, never replacing anything.  The kernel answers EEXIST both when our qdisc is there
 * and when another root qdisc appeared since tc_check_free(); look again to tell which.
 */
static int
tc_add(struct tc_ctx *ctx, struct rtnl_qdisc *q, const char *dev, char *why, size_t whylen)
{
	int r;

	r = nlerr_errno(rtnl_qdisc_add(ctx->sk, q, NLM_F_CREATE | NLM_F_EXCL));
	if (r == -EEXIST) {
		if ((r = tc_check_free(ctx, dev, why, whylen)) == 0)
			r = -EEXIST;
		return r;
	}
	if (r < 0)
		set_why(why, whylen, "the kernel refused the %s qdisc on %s: %s",
		    rtnl_tc_get_kind(TC_CAST(q)), dev, strerror(-r));
	return r;
}

/*
 * tbf's burst and limit, from the rate and the device MTU:
 *
 *   pkt   = mtu + 64                          (largest frame, with link-layer headers)
 *   burst = max(rate / 250, 2 * pkt)          (4 ms worth of bytes, at least two frames)
 *   limit = burst + max(rate * 50 ms, 2 * pkt) (tc's "latency 50ms", at least two frames)
 *
 * A frame larger than the bucket can never be sent (tbf drops it, and segments GSO packets
 * only down to their MSS), hence the frames; below 4 ms worth of bytes a coarse timer caps
 * the rate under the request, hence rate/250.  The limit bounds the added queueing delay to
 * about 50 ms after the burst, as "tc qdisc add ... tbf latency 50ms" would.  libnl takes an
 * int rate, so rates above INT32_MAX bytes/s (17 Gbit/s) are refused with -ERANGE.
 */
static int
tbf_params(uint64_t rate, unsigned int mtu, struct tbf_params *ret, char *why, size_t whylen)
{
	uint64_t pkt = (uint64_t)mtu + TC_LINK_HEADROOM, burst, queue, limit;

	if (rate == 0 || rate > GD_MAX_RATE_BYTES_PER_S) {
		set_why(why, whylen, "rate %llu bytes/s is not in 1..%llu",
		    (unsigned long long)rate, GD_MAX_RATE_BYTES_PER_S);
		return -EINVAL;
	}
	if (rate > INT32_MAX) {
		set_why(why, whylen, "rate %llu bytes/s is above what tbf takes over netlink (%d)",
		    (unsigned long long)rate, INT32_MAX);
		return -ERANGE;
	}
	burst = rate / TC_TBF_BURST_DIV > 2 * pkt ? rate / TC_TBF_BURST_DIV : 2 * pkt;
	queue = rate * TC_TBF_LATENCY_MS / 1000;
	limit = burst + (queue > 2 * pkt ? queue : 2 * pkt);
	if (burst * 1000000 / rate > TC_TBF_MAX_BUCKET_US || limit > INT32_MAX) {
		set_why(why, whylen, "rate %llu bytes/s is too low for an MTU of %u",
		    (unsigned long long)rate, mtu);
		return -ERANGE;
	}
	ret->burst = (uint32_t)burst;
	ret->limit = (uint32_t)limit;
	return 0;
}

int
fault_tc_tbf_apply(const char *dev, uint64_t rate_bytes_per_s, char *why, size_t whylen)
{
	struct rtnl_qdisc *q = NULL;
	struct tbf_params p;
	struct tc_ctx ctx;
	int r;

	if ((r = tc_open(dev, &ctx)) < 0) {
		set_why(why, whylen, "cannot find device %s: %s", dev ? dev : "(null)",
		    strerror(-r));
		goto out;
	}
	if ((r = tbf_params(rate_bytes_per_s, ctx.mtu, &p, why, whylen)) < 0 ||
	    (r = tc_check_free(&ctx, dev, why, whylen)) < 0 ||
	    (r = tc_qdisc_new(&ctx, "tbf", &q)) < 0)
		goto out;
	rtnl_qdisc_tbf_set_rate(q, (int)rate_bytes_per_s, (int)p.burst, 0);
	rtnl_qdisc_tbf_set_limit(q, (int)p.limit);
	r = tc_add(&ctx, q, dev, why, whylen);
out:
	if (q != NULL)
		rtnl_qdisc_put(q);
	tc_close(&ctx);
	return r;
}

/* The kernel's answer to adding a netem qdisc, as the probe child's exit status. */
enum netem_probe {
	NETEM_OK,		/* The kernel created it. */
	NETEM_UNKNOWN_KIND,	/* ENOENT: no sch_netem, built in or loadable. */
	NETEM_REFUSED,		/* Another error from the kernel. */
	NETEM_NO_NETNS,		/* unshare(CLONE_NEWNET) failed: cannot ask safely. */
	NETEM_NO_NETLINK,	/* No route socket or no lo in the new namespace. */
	NETEM_NO_PROBE,		/* fork() or waitpid() failed, or the child died. */
};

/* In the forked child: a netem qdisc on lo of a namespace that dies with the child. */
static int
netem_probe_child(void)
{
	struct rtnl_qdisc *q = NULL;
	struct tc_ctx ctx;
	int r;

	if (unshare(CLONE_NEWNET) == -1)
		return NETEM_NO_NETNS;
	if (tc_open("lo", &ctx) < 0) {
		tc_close(&ctx);
		return NETEM_NO_NETLINK;
	}
	if (tc_qdisc_new(&ctx, "netem", &q) < 0) {
		tc_close(&ctx);
		return NETEM_NO_NETLINK;
	}
	rtnl_netem_set_delay(q, 1000);
	r = nlerr_errno(rtnl_qdisc_add(ctx.sk, q, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_qdisc_put(q);
	tc_close(&ctx);
	if (r == -ENOENT)
		return NETEM_UNKNOWN_KIND;
	return r == 0 ? NETEM_OK : NETEM_REFUSED;
}

static enum netem_probe
netem_probe(void)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == -1)
		return NETEM_NO_PROBE;
	if (pid == 0)
		_exit(netem_probe_child());
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return NETEM_NO_PROBE;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > NETEM_NO_PROBE)
		return NETEM_NO_PROBE;
	return (enum netem_probe)WEXITSTATUS(status);
}

/* Whether the file path contains a line starting with prefix. */
static bool
file_has_line(const char *path, const char *prefix)
{
	char line[512];
	bool found = false;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strncmp(line, prefix, strlen(prefix)) == 0;
	(void)fclose(f);
	return found;
}

#define NETEM_KO	"kernel/net/sched/sch_netem.ko"

/* When the kernel cannot be asked: the module list, then what modules this kernel has. */
static bool
netem_fallback(const char **why)
{
	static const char *const exts[] = { "", ".xz", ".zst", ".gz" };
	char path[GD_MAX_PATH_BYTES];
	struct utsname u;
	struct stat st;

	if (file_has_line("/proc/modules", "sch_netem ")) {
		*why = "cannot probe in a namespace, but sch_netem is loaded (/proc/modules)";
		return true;
	}
	if (uname(&u) == -1)
		goto none;
	(void)snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin", u.release);
	if (file_has_line(path, NETEM_KO)) {
		*why = "cannot probe in a namespace, but sch_netem is built in (modules.builtin)";
		return true;
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		(void)snprintf(path, sizeof(path), "/lib/modules/%s/" NETEM_KO "%s", u.release,
		    exts[i]);
		if (stat(path, &st) == 0) {
			*why = "cannot probe in a namespace, but sch_netem is a loadable module";
			return true;
		}
	}
none:
	*why = "cannot probe in a namespace, and sch_netem is neither loaded, built in nor "
	    "installed as a module";
	return false;
}

static bool netem_ok;
static const char *netem_why;

/* Runs once per process: the kernel's qdisc kinds do not change while we run. */
static void
netem_decide(void)
{
	switch (netem_probe()) {
	case NETEM_OK:
		netem_ok = true;
		netem_why = "the kernel created a netem qdisc in a private network namespace";
		break;
	case NETEM_UNKNOWN_KIND:
		netem_why = "the kernel does not know the netem qdisc (no sch_netem, built in "
		    "or loadable): ENOENT in a private network namespace";
		break;
	case NETEM_REFUSED:
		netem_why = "the kernel refused a netem qdisc in a private network namespace";
		break;
	default:
		netem_ok = netem_fallback(&netem_why);
		break;
	}
}

bool
fault_tc_netem_supported(const char **why)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, netem_decide);
	if (why != NULL)
		*why = netem_why;
	return netem_ok;
}

int
fault_tc_netem_apply(const char *dev, uint64_t delay_ms, uint64_t jitter_ms, char *why,
    size_t whylen)
{
	struct rtnl_qdisc *q = NULL;
	struct tc_ctx ctx;
	const char *reason;
	int r;

	memset(&ctx, 0, sizeof(ctx));
	if (delay_ms > GD_MAX_DELAY_MS || jitter_ms > GD_MAX_DELAY_MS) {
		set_why(why, whylen, "delay and jitter must be at most %llu ms", GD_MAX_DELAY_MS);
		return -EINVAL;
	}
	if (!fault_tc_netem_supported(&reason)) {
		set_why(why, whylen, "netem is not available: %s", reason);
		return -EOPNOTSUPP;
	}
	if ((r = tc_open(dev, &ctx)) < 0) {
		set_why(why, whylen, "cannot find device %s: %s", dev ? dev : "(null)",
		    strerror(-r));
		goto out;
	}
	if ((r = tc_check_free(&ctx, dev, why, whylen)) < 0 ||
	    (r = tc_qdisc_new(&ctx, "netem", &q)) < 0)
		goto out;
	rtnl_netem_set_delay(q, (int)(delay_ms * 1000));
	rtnl_netem_set_jitter(q, (int)(jitter_ms * 1000));
	r = tc_add(&ctx, q, dev, why, whylen);
out:
	if (q != NULL)
		rtnl_qdisc_put(q);
	tc_close(&ctx);
	return r;
}

/*
 * Deletes the root qdisc only when its handle is ours.  The request names our handle too, so
 * the kernel refuses (EINVAL) should another root qdisc replace ours in between.
 */
int
fault_tc_revert(const char *dev)
{
	struct rtnl_qdisc *q = NULL;
	struct tc_ctx ctx;
	uint32_t handle;
	char kind[16];
	int r;

	if ((r = tc_open(dev, &ctx)) < 0) {
		r = r == -ENODEV ? 0 : r;
		goto out;
	}
	if ((r = tc_root(&ctx, &handle, kind)) < 0 || handle != GD_TC_HANDLE)
		goto out;
	if ((q = rtnl_qdisc_alloc()) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	rtnl_tc_set_ifindex(TC_CAST(q), ctx.ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), GD_TC_HANDLE);
	r = nlerr_errno(rtnl_qdisc_delete(ctx.sk, q));
	/* Gone meanwhile (ENOENT), or no longer ours (EINVAL): either way not ours to remove. */
	if (r == -ENOENT || r == -EINVAL || r == -ENODEV)
		r = (tc_root(&ctx, &handle, kind) == 0 && handle == GD_TC_HANDLE) ? r : 0;
out:
	if (q != NULL)
		rtnl_qdisc_put(q);
	tc_close(&ctx);
	return r;
}

int
fault_tc_status(const char *dev, bool *ret_present, char ret_kind[16])
{
	struct tc_ctx ctx;
	uint32_t handle;
	char kind[16];
	int r;

	if ((r = tc_open(dev, &ctx)) == 0 && (r = tc_root(&ctx, &handle, kind)) == 0) {
		*ret_present = handle == GD_TC_HANDLE;
		memcpy(ret_kind, kind, sizeof(kind));
	}
	tc_close(&ctx);
	return r;
}

/* The best default route of family in the main table: its device and metric. */
static int
default_route(struct nl_sock *sk, int family, int *ret_ifindex, uint32_t *ret_prio)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int r, found = -ENOENT;

	if ((r = rtnl_route_alloc_cache(sk, family, 0, &cache)) < 0)
		return nlerr_errno(r);
	for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);
		struct rtnl_nexthop *nh;

		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
		    rtnl_route_get_type(rt) != RTN_UNICAST ||
		    (dst != NULL && nl_addr_get_prefixlen(dst) != 0) ||
		    rtnl_route_get_nnexthops(rt) < 1 ||
		    (nh = rtnl_route_nexthop_n(rt, 0)) == NULL ||
		    rtnl_route_nh_get_ifindex(nh) <= 0)
			continue;
		if (found == 0 && rtnl_route_get_priority(rt) >= *ret_prio)
			continue;
		*ret_ifindex = rtnl_route_nh_get_ifindex(nh);
		*ret_prio = rtnl_route_get_priority(rt);
		found = 0;
	}
	nl_cache_free(cache);
	return found;
}

int
fault_tc_default_dev(char ret_dev[IFNAMSIZ])
{
	struct rtnl_link *link = NULL;
	struct nl_sock *sk = NULL;
	uint32_t prio = 0;
	int ifindex = 0, r;

	if ((r = route_socket(&sk)) < 0)
		return r;
	if ((r = default_route(sk, AF_INET, &ifindex, &prio)) == -ENOENT)
		r = default_route(sk, AF_INET6, &ifindex, &prio);
	if (r < 0)
		goto out;
	if ((r = nlerr_errno(rtnl_link_get_kernel(sk, ifindex, NULL, &link))) < 0) {
		r = r == -ENODEV ? -ENOENT : r;	/* The device went away meanwhile. */
		goto out;
	}
	(void)snprintf(ret_dev, IFNAMSIZ, "%s", rtnl_link_get_name(link));
out:
	if (link != NULL)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return r;
}

/* Copies the rendered line into memory the caller frees with gd_free(). */
static int
render_dup(const char *line, char **ret_text)
{
	char *s;

	if ((s = gd_strdup(line)) == NULL)
		return -ENOMEM;
	*ret_text = s;
	return 0;
}

/* The burst and limit depend on the MTU: read it when dev exists here, else assume 1500. */
int
fault_tc_render_tbf(const char *dev, uint64_t rate_bytes_per_s, char **ret_text)
{
	char line[256];
	struct tbf_params p;
	struct tc_ctx ctx;
	unsigned int mtu = TC_DEFAULT_MTU;
	bool assumed = true;
	int r;

	if ((r = dev_check(dev)) < 0)
		return r;
	if (tc_open(dev, &ctx) == 0) {
		mtu = ctx.mtu;
		assumed = false;
	}
	tc_close(&ctx);
	if ((r = tbf_params(rate_bytes_per_s, mtu, &p, NULL, 0)) < 0)
		return r;
	(void)snprintf(line, sizeof(line), "dev %s: root qdisc tbf handle %x: rate %llu bytes/s "
	    "(%.2f Mbit/s) burst %u bytes limit %u bytes (mtu %u%s)", dev, GD_TC_HANDLE >> 16,
	    (unsigned long long)rate_bytes_per_s, (double)rate_bytes_per_s * 8 / 1e6, p.burst,
	    p.limit, mtu, assumed ? ", assumed" : "");
	return render_dup(line, ret_text);
}

int
fault_tc_render_netem(const char *dev, uint64_t delay_ms, uint64_t jitter_ms, char **ret_text)
{
	char line[256];
	int r;

	if ((r = dev_check(dev)) < 0)
		return r;
	if (delay_ms > GD_MAX_DELAY_MS || jitter_ms > GD_MAX_DELAY_MS)
		return -EINVAL;
	(void)snprintf(line, sizeof(line), "dev %s: root qdisc netem handle %x: delay %llu ms "
	    "jitter %llu ms (uniform) on egress", dev, GD_TC_HANDLE >> 16,
	    (unsigned long long)delay_ms, (unsigned long long)jitter_ms);
	return render_dup(line, ret_text);
}
