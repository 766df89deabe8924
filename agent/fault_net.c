/*
 * Network faults in nftables, through libnftables only: this file never runs the nft
 * program.  Everything lives in one table, "inet gameday":
 *
 *   base chains   input, output (filter, priority -150: after conntrack, before the usual
 *                 filter chains at 0) and, for the latency redirect, nat_prerouting and
 *                 nat_output (nat, priority -100, dstnat).  They are added idempotently
 *                 with `add` and hold nothing but one jump per fault.
 *   per fault     sets f_<id>_p4 and f_<id>_p6 (interval, timeout) with the peers, or
 *                 0.0.0.0/0 and ::/0 when the fault names none; chains f_<id>_in,
 *                 f_<id>_out (filter) or f_<id>_npre, f_<id>_nout (nat), made with
 *                 `create` so that a second apply of the same id fails as a whole.
 *
 * The gating: every drop or redirect rule matches `ip daddr @f_<id>_p4` (saddr on the way
 * in), and each element carries `timeout <ms>`.  When the elements expire the rules match
 * nothing, whether or not an agent is still alive.  An apply is one nft command buffer and
 * so one netlink transaction: all of it or none of it.
 *
 * Ports name the destination port in the direction of travel: egress drops what this host
 * sends to a peer's port (a fault on ports [5432] with direction egress cuts connections
 * to a remote PostgreSQL), ingress drops what a peer sends to a port of this host (peers
 * cannot reach the local service), both does both.  This is the meaning Gremlin's and
 * similar tools' "ports" have; the replies of either kind of connection are not matched,
 * which is enough to cut it.
 *
 * Exemptions come first in each fault chain and `return`: the packet goes back to the base
 * chain, which jumps to the next fault's chain, whose own exemptions come first again, and
 * so no fault chain of ours can drop it.  `accept` would do no more (an accept ends only
 * the evaluation of our base chain; other tables see the packet anyway) and would also
 * skip the later faults' chains, which have nothing to add for an exempt packet.  An
 * exempt host matches as source or destination (port: its TCP port), an exempt local port
 * as TCP source or destination port, in every chain: so the control channel is left alone
 * over loopback too, where one packet passes both output and input.
 *
 * Every string put in a command is either the validated id or text made here from numbers
 * (inet_ntop(), ports, marks); nothing is copied from user text.
 */
#include "fault_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <nftables/libnftables.h>

#include "alloc.h"
#include "strbuf.h"
#include "limits.h"

#define NET_ID_MAX		32		/* Bytes of [a-z0-9] in a fault id. */
#define NET_MAX_TEXT		(1024 * 1024)	/* Our longest command text is ~40 KiB. */
#define NET_LOSS_SCALE		100000U		/* numgen range: 0.001% steps. */
#define NET_MAX_JUMPS		16		/* One per base chain; more only by hand. */

enum { H_IN, H_OUT, H_NAT_IN, H_NAT_OUT, H_MAX };

static const struct hook {
	const char *base;	/* The base chain that jumps to the fault chain. */
	const char *spec;	/* Its type, hook and priority. */
	const char *suffix;	/* The fault chain is f_<id>_<suffix>. */
	bool ingress;		/* Packets come from the peers (saddr); else go to them. */
} hooks[H_MAX] = {
	{ "input", "type filter hook input priority -150; policy accept;", "in", true },
	{ "output", "type filter hook output priority -150; policy accept;", "out", false },
	{ "nat_prerouting", "type nat hook prerouting priority -100; policy accept;", "npre",
	    true },
	{ "nat_output", "type nat hook output priority -100; policy accept;", "nout", false },
};

static const struct fam {
	int af;
	const char *kw;		/* Payload protocol in rules. */
	const char *suffix;	/* The set is f_<id>_<suffix>. */
	const char *type;
	const char *icmp;
	const char *any;
	unsigned maxlen;
} fams[2] = {
	{ AF_INET, "ip", "p4", "ipv4_addr", "icmp", "0.0.0.0", 32 },
	{ AF_INET6, "ip6", "p6", "ipv6_addr", "ipv6-icmp", "::", 128 },
};

struct fault_net {
	struct nft_ctx *ctx;
};

static int
id_check(const char *id)
{
	size_t n;

	if (id == NULL)
		return -EINVAL;
	for (n = 0; id[n] != '\0'; n++) {
		if (n == NET_ID_MAX)
			return -EINVAL;
		if (!((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= '0' && id[n] <= '9')))
			return -EINVAL;
	}
	return n == 0 ? -EINVAL : 0;
}

/* Splits "f_<id>_<suffix>" into id (copied into idbuf) and suffix; false if not ours. */
static bool
name_split(const char *name, char idbuf[NET_ID_MAX + 1], const char **ret_suffix)
{
	const char *us;
	size_t n;

	if (name == NULL || strncmp(name, "f_", 2) != 0 || (us = strchr(name + 2, '_')) == NULL)
		return false;
	n = (size_t)(us - (name + 2));
	if (n == 0 || n > NET_ID_MAX)
		return false;
	memcpy(idbuf, name + 2, n);
	idbuf[n] = '\0';
	*ret_suffix = us + 1;
	return id_check(idbuf) == 0;
}

static int
base_index(const char *name)
{
	for (int h = 0; h < H_MAX; h++)
		if (name != NULL && strcmp(name, hooks[h].base) == 0)
			return h;
	return -1;
}

static const struct fam *
fam_of(int af)
{
	return af == AF_INET ? &fams[0] : af == AF_INET6 ? &fams[1] : NULL;
}

/* The base chains fault f jumps from, as a bit mask of H_*. */
static unsigned
hooks_of(const struct fault *f)
{
	enum net_direction d = f->u.net.filter.direction;
	int in = f->type == FAULT_NET_LATENCY ? H_NAT_IN : H_IN;
	unsigned mask = 0;

	if (d != NET_DIR_EGRESS)
		mask |= 1U << in;
	if (d != NET_DIR_INGRESS)
		mask |= 1U << (in + 1);
	return mask;
}

static int
filter_check(const struct fault *f)
{
	const struct net_filter *nf = &f->u.net.filter;

	if (nf->npeers > GD_MAX_PEERS || nf->nports > GD_MAX_PORTS ||
	    (unsigned)nf->direction > NET_DIR_EGRESS || (unsigned)nf->protocol > NET_PROTO_ICMP)
		return -EINVAL;
	if (f->type == FAULT_NET_PARTITION && nf->protocol == NET_PROTO_ICMP && nf->nports > 0)
		return -EINVAL;	/* ICMP has no ports; the playbook parser says so too. */
	for (size_t i = 0; i < nf->npeers; i++) {
		const struct fam *fa = fam_of(nf->peers[i].family);

		if (fa == NULL || nf->peers[i].prefix > fa->maxlen)
			return -EINVAL;
	}
	if (f->type == FAULT_NET_LOSS && !(f->u.net.percent > 0 && f->u.net.percent <= 100))
		return -EINVAL;
	return 0;
}

static int
args_check(const char *id, const struct fault *f, const struct net_exempt *ex,
    const struct net_redirect *redir, uint64_t timeout_ms)
{
	if (id_check(id) < 0 || f == NULL)
		return -EINVAL;
	if (f->type != FAULT_NET_PARTITION && f->type != FAULT_NET_LOSS &&
	    f->type != FAULT_NET_LATENCY)
		return -EINVAL;
	if (f->type == FAULT_NET_LATENCY && redir == NULL)
		return -EINVAL;
	/* 0 would mean "no timeout" to nftables: a fault the kernel never lifts. */
	if (timeout_ms == 0 || timeout_ms > GD_MAX_RUN_MS)
		return -EINVAL;
	if (ex != NULL) {
		if (ex->nhosts > GD_MAX_EXEMPT_HOSTS || ex->nlocal_ports > GD_MAX_EXEMPT_PORTS)
			return -EINVAL;
		for (size_t i = 0; i < ex->nhosts; i++)
			if (fam_of(ex->hosts[i].family) == NULL)
				return -EINVAL;
	}
	return filter_check(f);
}

/* True when peer i is inside another peer of the list (nested intervals conflict). */
static bool
peer_nested(const struct net_filter *nf, size_t i)
{
	const struct gd_cidr *p = &nf->peers[i];

	for (size_t j = 0; j < nf->npeers; j++) {
		const struct gd_cidr *q = &nf->peers[j];

		if (j == i || !cidr_contains(q, p->family, p->addr))
			continue;
		if (q->prefix < p->prefix || (q->prefix == p->prefix && j < i))
			return true;
	}
	return false;
}

/* "a.b.c.d/len" with the host bits cleared. */
static void
cidr_text(int af, const uint8_t *addr, unsigned prefix, char *buf, size_t len)
{
	uint8_t a[16] = { 0 };
	char s[INET6_ADDRSTRLEN];

	for (unsigned b = 0; b < prefix; b++)
		a[b / 8] |= (uint8_t)(addr[b / 8] & (0x80 >> (b % 8)));
	(void)inet_ntop(af, a, s, sizeof(s));
	(void)snprintf(buf, len, "%s/%u", s, prefix);
}

/* Appends one element (its text made here) to an "add element" command begun lazily. */
static void
elem_add(struct strbuf *b, size_t *k, const char *id, const struct fam *fa, const char *elem,
    uint64_t timeout_ms)
{
	if ((*k)++ == 0)
		strbuf_addf(b, "add element inet " GD_NFT_TABLE " f_%s_%s { ", id, fa->suffix);
	else
		strbuf_addf(b, ", ");
	strbuf_addf(b, "%s timeout %" PRIu64 "ms", elem, timeout_ms);
}

static void
render_sets(struct strbuf *b, const char *id, const struct net_filter *nf, uint64_t timeout_ms)
{
	char txt[INET6_ADDRSTRLEN + 8];

	for (size_t f = 0; f < 2; f++) {
		const struct fam *fa = &fams[f];
		size_t k = 0;

		strbuf_addf(b, "create set inet " GD_NFT_TABLE " f_%s_%s { type %s; "
		    "flags interval,timeout; }\n", id, fa->suffix, fa->type);
		for (size_t i = 0; i < nf->npeers; i++) {
			if (nf->peers[i].family != fa->af || peer_nested(nf, i))
				continue;
			cidr_text(fa->af, nf->peers[i].addr, nf->peers[i].prefix, txt, sizeof(txt));
			elem_add(b, &k, id, fa, txt, timeout_ms);
		}
		if (nf->npeers == 0) {
			(void)snprintf(txt, sizeof(txt), "%s/0", fa->any);
			elem_add(b, &k, id, fa, txt, timeout_ms);
		}
		if (k > 0)
			strbuf_addf(b, " }\n");
	}
}

/* Begins a rule in the fault chain of id for hook h. */
static void
rule_head(struct strbuf *b, const char *id, const struct hook *h)
{
	strbuf_addf(b, "add rule inet " GD_NFT_TABLE " f_%s_%s", id, h->suffix);
}

/* Rules that send the control channel back to the base chain, untouched. */
static void
render_exempt(struct strbuf *b, const char *id, const struct hook *h, const struct net_exempt *ex)
{
	static const char *const addr[2] = { "daddr", "saddr" };
	static const char *const port[2] = { "dport", "sport" };
	char s[INET6_ADDRSTRLEN];

	for (size_t i = 0; ex != NULL && i < ex->nhosts; i++) {
		const struct fam *fa = fam_of(ex->hosts[i].family);

		(void)inet_ntop(fa->af, ex->hosts[i].addr, s, sizeof(s));
		for (int d = 0; d < 2; d++) {
			rule_head(b, id, h);
			strbuf_addf(b, " %s %s %s", fa->kw, addr[d], s);
			if (ex->hosts[i].port != 0)
				strbuf_addf(b, " tcp %s %u", port[d], ex->hosts[i].port);
			strbuf_addf(b, " return\n");
		}
	}
	for (size_t i = 0; ex != NULL && i < ex->nlocal_ports; i++) {
		for (int d = 0; d < 2; d++) {
			rule_head(b, id, h);
			strbuf_addf(b, " tcp %s %u return\n", port[d], ex->local_ports[i]);
		}
	}
}

/* The protocol and port part of a fault rule for family fa. */
static void
render_l4(struct strbuf *b, const struct fault *f, const struct fam *fa)
{
	const struct net_filter *nf = &f->u.net.filter;
	enum net_protocol p = f->type == FAULT_NET_PARTITION ? nf->protocol : NET_PROTO_ALL;

	if (f->type == FAULT_NET_LATENCY)
		p = NET_PROTO_TCP;	/* The proxy speaks TCP only. */
	if (p == NET_PROTO_ICMP) {
		strbuf_addf(b, " meta l4proto %s", fa->icmp);
		return;
	}
	if (p != NET_PROTO_ALL && nf->nports == 0) {
		strbuf_addf(b, " meta l4proto %s", p == NET_PROTO_TCP ? "tcp" : "udp");
		return;
	}
	if (nf->nports == 0)
		return;
	if (p == NET_PROTO_ALL)
		strbuf_addf(b, " meta l4proto { tcp, udp } th dport {");
	else
		strbuf_addf(b, " %s dport {", p == NET_PROTO_TCP ? "tcp" : "udp");
	for (size_t i = 0; i < nf->nports; i++)
		strbuf_addf(b, "%s %u", i == 0 ? "" : ",", nf->ports[i]);
	strbuf_addf(b, " }");
}

static void
render_action(struct strbuf *b, const struct fault *f, const struct net_redirect *redir)
{
	unsigned n;

	switch (f->type) {
	case FAULT_NET_LOSS:
		/*
		 * round(percent * 1000) of 100000: 0.001% steps, at least one.  nft refuses
		 * "< 100000" (beyond the range of mod 100000), and 100% needs no dice anyway.
		 */
		n = (unsigned)(f->u.net.percent * 1000.0 + 0.5);
		n = n < 1 ? 1 : n;
		if (n >= NET_LOSS_SCALE)
			strbuf_addf(b, " drop\n");
		else
			strbuf_addf(b, " numgen random mod %u < %u drop\n", NET_LOSS_SCALE, n);
		break;
	case FAULT_NET_LATENCY:
		strbuf_addf(b, " redirect to :%u\n", redir->port);
		break;
	default:
		strbuf_addf(b, " drop\n");
		break;
	}
}

static void
render_chain(struct strbuf *b, const char *id, const struct hook *h, const struct fault *f,
    const struct net_exempt *ex, const struct net_redirect *redir)
{
	strbuf_addf(b, "create chain inet " GD_NFT_TABLE " f_%s_%s\n", id, h->suffix);
	render_exempt(b, id, h, ex);
	if (f->type == FAULT_NET_LATENCY) {
		/* The proxy's own upstream connections go where they were meant to. */
		rule_head(b, id, h);
		strbuf_addf(b, " meta mark 0x%08" PRIx32 " return\n", redir->mark);
	}
	for (size_t i = 0; i < 2; i++) {
		rule_head(b, id, h);
		strbuf_addf(b, " %s %s @f_%s_%s", fams[i].kw, h->ingress ? "saddr" : "daddr", id,
		    fams[i].suffix);
		render_l4(b, f, &fams[i]);
		render_action(b, f, redir);
	}
}

int
fault_net_render(const char *id, const struct fault *f, const struct net_exempt *ex,
    const struct net_redirect *redir, uint64_t timeout_ms, char **ret_text)
{
	struct strbuf b = { .max = NET_MAX_TEXT };
	unsigned mask;
	int r;

	if ((r = args_check(id, f, ex, redir, timeout_ms)) < 0)
		return r;
	mask = hooks_of(f);
	strbuf_addf(&b, "add table inet " GD_NFT_TABLE "\n");
	for (int h = 0; h < H_MAX; h++)
		if (mask & (1U << h))
			strbuf_addf(&b, "add chain inet " GD_NFT_TABLE " %s { %s }\n", hooks[h].base,
			    hooks[h].spec);
	render_sets(&b, id, &f->u.net.filter, timeout_ms);
	for (int h = 0; h < H_MAX; h++)
		if (mask & (1U << h))
			render_chain(&b, id, &hooks[h], f, ex, redir);
	for (int h = 0; h < H_MAX; h++)
		if (mask & (1U << h))
			strbuf_addf(&b, "add rule inet " GD_NFT_TABLE " %s jump f_%s_%s\n",
			    hooks[h].base, id, hooks[h].suffix);
	return strbuf_finish(&b, ret_text);
}

int
fault_net_open(struct fault_net **ret)
{
	struct fault_net *n;

	if ((n = gd_calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	if ((n->ctx = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL ||
	    nft_ctx_buffer_output(n->ctx) != 0 || nft_ctx_buffer_error(n->ctx) != 0) {
		fault_net_close(n);
		return -ENOMEM;
	}
	*ret = n;
	return 0;
}

struct fault_net *
fault_net_close(struct fault_net *n)
{
	if (n == NULL)
		return NULL;
	if (n->ctx != NULL)
		nft_ctx_free(n->ctx);
	gd_free(n);
	return NULL;
}

/* libnftables reports errors as text only: the strerror() words give the errno back. */
static int
nft_errno(const char *err)
{
	static const struct {
		const char *text;
		int r;
	} map[] = {
		{ "File exists", -EEXIST },
		{ "No such file or directory", -ENOENT },
		{ "Operation not permitted", -EPERM },
		{ "Device or resource busy", -EBUSY },
		{ "Cannot allocate memory", -ENOMEM },
		{ "Operation not supported", -EOPNOTSUPP },
		{ "Protocol not supported", -EPROTONOSUPPORT },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strstr(err, map[i].text) != NULL)
			return map[i].r;
	return -EIO;
}

/* Copies the first "Error: ..." line of libnftables' error text into why. */
static void
why_set(char *why, size_t whylen, const char *err)
{
	const char *s = strstr(err, "Error: ");
	size_t n;

	if (why == NULL || whylen == 0)
		return;
	s = s != NULL ? s + 7 : err;
	n = strcspn(s, "\n");
	(void)snprintf(why, whylen, "nftables: %.*s", (int)n, s);
}

/*
 * Runs cmd (nft syntax, possibly many lines: one transaction) with the output flags given.
 * On success *ret_out, when not NULL, borrows the output until the next command on n.
 */
static int
nft_run(struct fault_net *n, unsigned flags, const char *cmd, const char **ret_out, char *why,
    size_t whylen)
{
	const char *out, *err;
	int rc;

	nft_ctx_output_set_flags(n->ctx, flags);
	rc = nft_run_cmd_from_buffer(n->ctx, cmd);
	out = nft_ctx_get_output_buffer(n->ctx);
	err = nft_ctx_get_error_buffer(n->ctx);
	if (rc != 0) {
		why_set(why, whylen, err != NULL ? err : "");
		return nft_errno(err != NULL ? err : "");
	}
	if (ret_out != NULL)
		*ret_out = out != NULL ? out : "";
	return 0;
}

/* What the kernel holds of the table, seen for one id (or for all ids: list). */
struct scan {
	const char *id;			/* NULL: every id. */
	bool table, present, live;
	bool foreign;			/* Anything in the table besides id and empty bases. */
	unsigned chains, sets;		/* Bit masks: hooks[] and fams[] objects of id. */
	struct {
		int hook;
		uint64_t handle;
	} jumps[NET_MAX_JUMPS];
	size_t njumps;
	char **ids;			/* With list: the ids found (gd_malloc()ed). */
	size_t nids;
	struct strbuf *renew;		/* With renew: add the live elements here... */
	uint64_t timeout_ms;		/* ...with this timeout. */
	int r;
};

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
scan_add_id(struct scan *s, const char *id)
{
	char **ids;

	for (size_t i = 0; i < s->nids; i++)
		if (strcmp(s->ids[i], id) == 0)
			return;
	if (s->r < 0 || (ids = gd_realloc(s->ids, (s->nids + 1) * sizeof(*ids))) == NULL) {
		s->r = -ENOMEM;
		return;
	}
	s->ids = ids;
	if ((s->ids[s->nids] = gd_strdup(id)) == NULL) {
		s->r = -ENOMEM;
		return;
	}
	s->nids++;
}

/* One address from a JSON listing, checked by inet_pton() and printed again by us. */
static bool
addr_text(const struct fam *fa, const cJSON *v, uint8_t *a)
{
	return cJSON_IsString(v) && inet_pton(fa->af, v->valuestring, a) == 1;
}

/* An element value ("a", {"prefix": {"addr", "len"}}, {"range": [a, b]}) as our text. */
static bool
elem_text(const struct fam *fa, const cJSON *val, char *buf, size_t len)
{
	const cJSON *pfx = cJSON_GetObjectItemCaseSensitive(val, "prefix");
	const cJSON *rng = cJSON_GetObjectItemCaseSensitive(val, "range");
	const cJSON *plen = cJSON_GetObjectItemCaseSensitive(pfx, "len");
	char s1[INET6_ADDRSTRLEN], s2[INET6_ADDRSTRLEN];
	uint8_t a[16], z[16];

	if (addr_text(fa, val, a)) {
		cidr_text(fa->af, a, fa->maxlen, buf, len);
		return true;
	}
	if (pfx != NULL && addr_text(fa, cJSON_GetObjectItemCaseSensitive(pfx, "addr"), a) &&
	    cJSON_IsNumber(plen) && plen->valuedouble >= 0 && plen->valuedouble <= fa->maxlen) {
		cidr_text(fa->af, a, (unsigned)plen->valuedouble, buf, len);
		return true;
	}
	if (cJSON_GetArraySize(rng) == 2 && addr_text(fa, cJSON_GetArrayItem(rng, 0), a) &&
	    addr_text(fa, cJSON_GetArrayItem(rng, 1), z)) {
		(void)inet_ntop(fa->af, a, s1, sizeof(s1));
		(void)inet_ntop(fa->af, z, s2, sizeof(s2));
		(void)snprintf(buf, len, "%s-%s", s1, s2);
		return true;
	}
	return false;
}

/* Renew: the live elements of one of id's sets, flushed and added again with a new timeout. */
static void
scan_renew_set(struct scan *s, const struct fam *fa, const cJSON *elems)
{
	char txt[2 * INET6_ADDRSTRLEN + 8];
	const cJSON *it;
	size_t k = 0;

	if (cJSON_GetArraySize(elems) == 0)
		return;
	strbuf_addf(s->renew, "flush set inet " GD_NFT_TABLE " f_%s_%s\n", s->id, fa->suffix);
	cJSON_ArrayForEach(it, elems) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "elem");
		const cJSON *val = e != NULL ? cJSON_GetObjectItemCaseSensitive(e, "val") : it;

		if (!elem_text(fa, val, txt, sizeof(txt))) {
			s->r = -EPROTO;	/* An element we never add: leave the set alone. */
			return;
		}
		elem_add(s->renew, &k, s->id, fa, txt, s->timeout_ms);
	}
	strbuf_addf(s->renew, " }\n");
}

/* A chain or set: ours (f_<id>_...), or a base chain, or foreign. */
static void
scan_object(struct scan *s, const cJSON *o, bool is_set)
{
	const char *name = jstr(o, "name"), *suffix;
	char id[NET_ID_MAX + 1];

	if (!is_set && base_index(name) >= 0)
		return;
	if (!name_split(name, id, &suffix)) {
		s->foreign = true;
		return;
	}
	if (s->id == NULL)
		scan_add_id(s, id);
	if (s->id == NULL || strcmp(id, s->id) != 0) {
		s->foreign = true;
		return;
	}
	s->present = true;
	for (unsigned i = 0; i < (is_set ? 2U : (unsigned)H_MAX); i++) {
		if (strcmp(suffix, is_set ? fams[i].suffix : hooks[i].suffix) != 0)
			continue;
		if (!is_set) {
			s->chains |= 1U << i;
			continue;
		}
		s->sets |= 1U << i;
		s->live |= cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "elem")) > 0;
		if (s->renew != NULL)
			scan_renew_set(s, &fams[i], cJSON_GetObjectItemCaseSensitive(o, "elem"));
	}
}

/* A rule in a base chain should be a jump to a fault chain; rules in fault chains are theirs. */
static void
scan_rule(struct scan *s, const cJSON *o)
{
	const char *chain = jstr(o, "chain"), *suffix;
	const cJSON *expr = cJSON_GetObjectItemCaseSensitive(o, "expr");
	const cJSON *jump = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(expr, 0), "jump");
	const cJSON *handle = cJSON_GetObjectItemCaseSensitive(o, "handle");
	char id[NET_ID_MAX + 1];
	int h = base_index(chain);

	if (h < 0)
		return;	/* Fault chains go with their chain; foreign ones count there. */
	if (cJSON_GetArraySize(expr) != 1 || !name_split(jstr(jump, "target"), id, &suffix) ||
	    s->id == NULL || strcmp(id, s->id) != 0) {
		s->foreign = true;
		return;
	}
	if (!cJSON_IsNumber(handle) || s->njumps == NET_MAX_JUMPS) {
		s->r = -EPROTO;
		return;
	}
	s->jumps[s->njumps].hook = h;
	s->jumps[s->njumps++].handle = (uint64_t)handle->valuedouble;
}

/* Lists the table as JSON and fills s; a missing table is not an error (s->table false). */
static int
scan_table(struct fault_net *n, struct scan *s)
{
	const cJSON *it;
	const char *out;
	cJSON *doc;
	int r;

	r = nft_run(n, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE,
	    "list table inet " GD_NFT_TABLE, &out, NULL, 0);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if ((doc = cJSON_Parse(out)) == NULL)
		return -EPROTO;
	s->table = true;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "nftables")) {
		const cJSON *o = it->child;

		if (o == NULL || o->string == NULL)
			continue;
		if (strcmp(o->string, "chain") == 0 || strcmp(o->string, "set") == 0)
			scan_object(s, o, strcmp(o->string, "set") == 0);
		else if (strcmp(o->string, "rule") == 0)
			scan_rule(s, o);
		else if (strcmp(o->string, "table") != 0 && strcmp(o->string, "metainfo") != 0)
			s->foreign = true;	/* Maps, counters, flowtables: not ours. */
		if (s->r < 0)
			break;
	}
	cJSON_Delete(doc);
	return s->r;
}

int
fault_net_apply(struct fault_net *n, const char *id, const struct fault *f,
    const struct net_exempt *ex, const struct net_redirect *redir, uint64_t timeout_ms,
    char *why, size_t whylen)
{
	struct scan s = { .id = id };
	char *text = NULL;
	int r;

	if (f != NULL && f->type == FAULT_NET_LATENCY && (redir == NULL || redir->port == 0))
		r = -EINVAL;
	else
		r = fault_net_render(id, f, ex, redir, timeout_ms, &text);
	if (r < 0) {
		if (why != NULL && whylen > 0)
			(void)snprintf(why, whylen, "invalid network fault: %s", strerror(-r));
		return r;
	}
	if ((r = scan_table(n, &s)) < 0) {
		if (why != NULL && whylen > 0)
			(void)snprintf(why, whylen, "cannot list the nftables table: %s",
			    strerror(-r));
		goto out;
	}
	if (s.present) {
		r = -EEXIST;
		if (why != NULL && whylen > 0)
			(void)snprintf(why, whylen, "fault %s is already in nftables", id);
		goto out;
	}
	/* create chain/set fail the whole transaction if the id appeared meanwhile. */
	r = nft_run(n, 0, text, NULL, why, whylen);
out:
	gd_free(text);
	return r;
}

/*
 * The elements are read back and added again with the new timeout after a flush, in one
 * transaction: a packet sees either the old elements or the new ones, never an empty set.
 * (Kernels from 6.10 on also update a timeout on a plain `add element`, older ones do not.)
 * Elements that expired are gone from the kernel and are not brought back: once every one
 * has expired the kernel has lifted the fault for good and renew says -ETIME.
 */
int
fault_net_renew(struct fault_net *n, const char *id, uint64_t timeout_ms)
{
	struct strbuf b = { .max = NET_MAX_TEXT };
	struct scan s = { .id = id, .renew = &b, .timeout_ms = timeout_ms };
	int r;

	if (id_check(id) < 0 || timeout_ms == 0 || timeout_ms > GD_MAX_RUN_MS)
		return -EINVAL;
	if ((r = scan_table(n, &s)) < 0 || (r = b.r) < 0)
		goto out;
	if (s.sets == 0)
		r = -ENOENT;
	else if (!s.live)
		r = -ETIME;
	else
		r = nft_run(n, 0, b.p, NULL, NULL, 0);
out:
	gd_free(b.p);
	return r;
}

static void
revert_render(struct strbuf *b, const struct scan *s, const char *id)
{
	if (!s->foreign) {
		strbuf_addf(b, "delete table inet " GD_NFT_TABLE "\n");
		return;
	}
	for (size_t i = 0; i < s->njumps; i++)
		strbuf_addf(b, "delete rule inet " GD_NFT_TABLE " %s handle %" PRIu64 "\n",
		    hooks[s->jumps[i].hook].base, s->jumps[i].handle);
	for (int h = 0; h < H_MAX; h++)
		if (s->chains & (1U << h))
			strbuf_addf(b, "delete chain inet " GD_NFT_TABLE " f_%s_%s\n", id,
			    hooks[h].suffix);
	for (int f = 0; f < 2; f++)
		if (s->sets & (1U << f))
			strbuf_addf(b, "delete set inet " GD_NFT_TABLE " f_%s_%s\n", id,
			    fams[f].suffix);
}

/*
 * One transaction deletes the jumps, then the chains, then the sets (the order the
 * kernel's references need), or the whole table when nothing else is in it.  A concurrent
 * revert can delete something between our listing and our transaction: then the
 * transaction fails as a whole and we list again, once.  An apply of another id between
 * the two could be lost with the table; the agent serializes its faults (journal lock).
 */
int
fault_net_revert(struct fault_net *n, const char *id)
{
	int r = 0;

	if (id_check(id) < 0)
		return -EINVAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct scan s = { .id = id };
		struct strbuf b = { .max = NET_MAX_TEXT };

		if ((r = scan_table(n, &s)) < 0)
			return r;
		if (!s.present && s.njumps == 0)
			return 0;
		revert_render(&b, &s, id);
		r = b.r < 0 ? b.r : nft_run(n, 0, b.p, NULL, NULL, 0);
		gd_free(b.p);
		if (r != -ENOENT)
			break;
	}
	return r;
}

int
fault_net_status(struct fault_net *n, const char *id, bool *ret_present, bool *ret_live)
{
	struct scan s = { .id = id };
	int r;

	if (id_check(id) < 0)
		return -EINVAL;
	if ((r = scan_table(n, &s)) < 0)
		return r;
	*ret_present = s.present || s.njumps > 0;
	*ret_live = s.live;
	return 0;
}

int
fault_net_list(struct fault_net *n, char ***ret_ids, size_t *ret_n)
{
	struct scan s = { 0 };
	int r;

	if ((r = scan_table(n, &s)) < 0) {
		for (size_t i = 0; i < s.nids; i++)
			gd_free(s.ids[i]);
		gd_free(s.ids);
		return r;
	}
	*ret_ids = s.ids;
	*ret_n = s.nids;
	return 0;
}

int
fault_net_ruleset(struct fault_net *n, char **ret_text)
{
	const char *out;
	char *t;
	int r;

	r = nft_run(n, 0, "list table inet " GD_NFT_TABLE, &out, NULL, 0);
	if (r == -ENOENT)
		out = "";
	else if (r < 0)
		return r;
	if ((t = gd_strdup(out)) == NULL)
		return -ENOMEM;
	*ret_text = t;
	return 0;
}
