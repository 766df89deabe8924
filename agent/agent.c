#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fault_burn.h"
#include "fault_disk.h"
#include "fault_proc.h"
#include "fault_tc.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "proxy.h"
#include "timeutil.h"
#include "watchdog.h"

#define WHY(...) (void)snprintf(why, whylen, __VA_ARGS__)

/*
 * Crash points for the kill-point sweep (RELIABILITY.md REL-02): with GD_CRASHPOINT=name in
 * the environment, the agent SIGKILLs itself there, as a power cut or an OOM kill would.
 * Tests set it; nothing else should.
 */
static void
crashpoint(const char *name)
{
	const char *at = getenv("GD_CRASHPOINT");

	if (at != NULL && strcmp(at, name) == 0)
		(void)raise(SIGKILL);
}

int
agent_open(struct agent *a, const struct policy *pol, const char *state_dir)
{
	memset(a, 0, sizeof(*a));
	a->pol = *pol;
	if (strlen(state_dir) >= sizeof(a->state_dir))
		return -ENAMETOOLONG;
	memcpy(a->state_dir, state_dir, strlen(state_dir) + 1);
	return journal_open(state_dir, &a->j);
}

void
agent_close(struct agent *a)
{
	a->net = fault_net_close(a->net);
	a->j = journal_close(a->j);
}

static int
agent_net(struct agent *a, struct fault_net **ret)
{
	int r;

	if (a->net == NULL && (r = fault_net_open(&a->net)) < 0)
		return r;
	*ret = a->net;
	return 0;
}

int
agent_order_parse(const char *json, size_t len, struct arena **ret_arena, struct fault *ret,
    struct gd_err *err)
{
	struct arena *ar;
	struct jctx c;
	cJSON *root = NULL;
	bool ok;
	int r;

	if ((r = json_parse_doc(json, len, GD_MAX_ORDER_BYTES, &root, err)) < 0)
		return r;
	if ((ar = arena_new()) == NULL) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	jctx_init(&c, err);
	ok = fault_parse(&c, root, ar, ret);
	cJSON_Delete(root);
	if (c.oom || !ok) {
		arena_free(ar);
		return c.oom ? -ENOMEM : -EINVAL;
	}
	*ret_arena = ar;
	return 0;
}

int
agent_entry_fault(const struct jentry *e, struct arena **ret_arena, struct fault *ret)
{
	static struct gd_err err;	/* Large; the journal lock makes this single-threaded. */

	gd_err_init(&err);
	return agent_order_parse(e->fault, strlen(e->fault), ret_arena, ret, &err);
}

/*
 * The fault of e, for reverting it: parsed in full when the validator still accepts it,
 * else only its type, which is all a revert needs (the rest is in the entry's own fields).
 * A stricter validator after an upgrade must not strand a fault applied before it.
 */
static int
entry_fault_for_revert(const struct jentry *e, struct arena **ret_arena, struct fault *ret)
{
	cJSON *o;
	enum fault_type t;
	int r;

	if ((r = agent_entry_fault(e, ret_arena, ret)) != -EINVAL)
		return r;
	if ((o = cJSON_Parse(e->fault)) == NULL)
		return -EBADMSG;
	r = fault_type_from_name(cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")) != NULL ?
	    cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")) : "", &t);
	cJSON_Delete(o);
	if (r < 0)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	ret->type = t;
	*ret_arena = NULL;
	log_warnx("fault=%s no longer passes the validator; reverting it by its type, %s", e->id,
	    fault_type_name(t));
	return 0;
}

/* Whether the effect of type t exists only while its watchdog lives. */
static bool
held_by_watchdog(const struct jentry *e, enum fault_type t)
{
	return t == FAULT_CPU_BURN || t == FAULT_MEMORY_HOG ||
	    (t == FAULT_NET_LATENCY && strcmp(e->backend, "proxy") == 0);
}

/* -------------------------------------------------------------------------------------- */
/* Apply, one function per family.  Each records in e what its revert will need, writes   */
/* the journal, and only then changes the host.                                            */

static int
apply_proc(struct agent *a, struct jentry *e, const struct fault *f, char *why,
    size_t whylen)
{
	int signo = f->type == FAULT_PROCESS_KILL ? f->u.kill.signo : SIGSTOP;
	size_t n = 0, matched = 0, done = 0;
	struct jproc *v = NULL;
	int r;

	if ((r = fault_proc_select(f, &a->pol, &v, &n, &matched)) < 0) {
		if (r == -E2BIG)
			WHY("more than %d processes match; narrow the matcher", GD_MAX_SIGNALLED);
		else
			WHY("cannot read the process list: %s", strerror(-r));
		return r;
	}
	if (n == 0) {
		gd_free(v);
		WHY("no unprotected process matches");
		return -ESRCH;
	}
	e->procs = v;
	e->nprocs = n;
	if ((r = journal_write(a->j, e)) < 0) {
		WHY("cannot write the journal: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = fault_proc_signal(&v[i], signo)) == 0)
			v[done++] = v[i];
		else
			log_info("fault=%s pid=%d not signalled: %s", e->id, (int)v[i].pid,
			    strerror(-r));
	}
	e->nprocs = done;
	if (done == 0) {
		WHY("every matching process exited before it could be signalled");
		return -ESRCH;
	}
	return 0;
}

static int
latency_backend(const struct fault *f, char ret[8], char *why, size_t whylen)
{
	const char *nwhy = NULL;
	bool netem = fault_tc_netem_supported(&nwhy);
	bool device_wide = f->u.net.filter.npeers == 0 && f->u.net.filter.nports == 0 &&
	    f->u.net.filter.direction != NET_DIR_INGRESS;

	if (f->u.net.backend == LATENCY_NETEM && !netem) {
		WHY("backend netem: this kernel cannot add a netem qdisc (%s); use proxy or auto",
		    nwhy != NULL ? nwhy : "no sch_netem");
		return -EOPNOTSUPP;
	}
	if (f->u.net.backend == LATENCY_NETEM && !device_wide) {
		WHY("backend netem delays a whole device's egress: give no peers or ports and "
		    "direction egress, or use the proxy backend");
		return -EOPNOTSUPP;
	}
	(void)snprintf(ret, 8, "%s", f->u.net.backend == LATENCY_NETEM ||
	    (f->u.net.backend == LATENCY_AUTO && netem && device_wide) ? "netem" : "proxy");
	return 0;
}

static int
apply_latency(struct agent *a, struct jentry *e, const struct fault *f, char *why,
    size_t whylen)
{
	struct net_redirect redir = { .mark = GD_PROXY_MARK };
	struct fault_net *net;
	int64_t left;
	int fd = -1, r;

	if ((r = latency_backend(f, e->backend, why, whylen)) < 0)
		return r;
	if (strcmp(e->backend, "netem") == 0) {
		if ((r = fault_tc_default_dev(e->dev)) < 0) {
			WHY("no default route to find the device for netem");
			return r;
		}
		if ((r = journal_write(a->j, e)) < 0)
			return r;
		return fault_tc_netem_apply(e->dev, f->u.net.delay_ms, f->u.net.jitter_ms, why,
		    whylen);
	}
	if ((r = agent_net(a, &net)) < 0 || (r = proxy_listen(&fd, &redir.port)) < 0) {
		WHY("cannot set up the latency proxy: %s", strerror(-r));
		return r;
	}
	e->proxy_port = redir.port;
	if ((r = journal_write(a->j, e)) < 0 ||
	    (r = watchdog_start(a, e, f, fd, &e->holder, why, whylen)) < 0) {
		close(fd);
		return r;
	}
	close(fd);
	if ((r = journal_write(a->j, e)) < 0)
		return r;
	left = e->expires_ms - gd_now_ms();
	left = left < 1 ? 1 : left > (int64_t)GD_PROXY_LEASE_MS ? (int64_t)GD_PROXY_LEASE_MS : left;
	return fault_net_apply(net, e->id, f, &a->pol.exempt, &redir, (uint64_t)left, why,
	    whylen);
}

static int
apply_net(struct agent *a, struct jentry *e, const struct fault *f, char *why, size_t whylen)
{
	struct fault_net *net;
	int64_t left = e->expires_ms - gd_now_ms();
	int r;

	if (f->type == FAULT_NET_LATENCY)
		return apply_latency(a, e, f, why, whylen);
	if ((r = agent_net(a, &net)) < 0) {
		WHY("cannot open libnftables: %s", strerror(-r));
		return r;
	}
	/* The kernel lifts the rules at the TTL even if no agent process is left. */
	return fault_net_apply(net, e->id, f, &a->pol.exempt, NULL,
	    left > 0 ? (uint64_t)left : 1, why, whylen);
}

static int
apply_bandwidth(struct agent *a, struct jentry *e, const struct fault *f, char *why,
    size_t whylen)
{
	int r;

	if (f->u.bandwidth.device != NULL)
		(void)snprintf(e->dev, sizeof(e->dev), "%s", f->u.bandwidth.device);
	else if ((r = fault_tc_default_dev(e->dev)) < 0) {
		WHY("no device given and no default route to find one");
		return r;
	}
	if ((r = journal_write(a->j, e)) < 0)
		return r;
	return fault_tc_tbf_apply(e->dev, f->u.bandwidth.rate, why, whylen);
}

static int
apply_disk(struct agent *a, struct jentry *e, const struct fault *f, char *why, size_t whylen)
{
	struct disk_plan plan;
	int r;

	if ((r = fault_disk_plan(f, &a->pol, e->id, &plan, why, whylen)) < 0)
		return r;
	(void)snprintf(e->path, sizeof(e->path), "%s", plan.path);
	e->fill_bytes = plan.bytes;
	e->fill_dev = plan.dir_dev;
	e->fill_ino = plan.dir_ino;
	if ((r = journal_write(a->j, e)) < 0)
		return r;
	return fault_disk_apply(&plan, why, whylen);
}

/* Without a configured cap, memory.hog may take at most half of MemAvailable. */
static int
memory_allowed(struct agent *a, const struct fault *f, char *why, size_t whylen)
{
	uint64_t bytes, avail = 0;
	int r;

	if ((r = fault_burn_mem_bytes(&f->u.mem.size, &bytes)) < 0) {
		WHY("cannot read the memory size: %s", strerror(-r));
		return r;
	}
	if (a->pol.max_memory_bytes > 0)
		return 0;	/* policy_check() has held it to the cap. */
	if ((r = fault_burn_mem_available(&avail)) < 0) {
		WHY("cannot read MemAvailable: %s", strerror(-r));
		return r;
	}
	if (bytes > avail / 2) {
		WHY("memory.hog asks for %llu bytes; this host allows half of MemAvailable, %llu",
		    (unsigned long long)bytes, (unsigned long long)(avail / 2));
		return -EPERM;
	}
	return 0;
}

static int
apply_held(struct agent *a, struct jentry *e, const struct fault *f, char *why, size_t whylen)
{
	int r;

	if (f->type == FAULT_MEMORY_HOG && (r = memory_allowed(a, f, why, whylen)) < 0)
		return r;
	if (f->type == FAULT_CPU_BURN && f->u.cpu.cores > fault_burn_online_cpus()) {
		WHY("cpu.burn asks for %u cores; this host has %u online", f->u.cpu.cores,
		    fault_burn_online_cpus());
		return -EPERM;
	}
	if ((r = watchdog_start(a, e, f, -1, &e->holder, why, whylen)) < 0)
		return r;
	return journal_write(a->j, e);
}

static int
apply(struct agent *a, struct jentry *e, const struct fault *f, char *why, size_t whylen)
{
	switch (f->type) {
	case FAULT_PROCESS_KILL:
	case FAULT_PROCESS_PAUSE:
		return apply_proc(a, e, f, why, whylen);
	case FAULT_NET_PARTITION:
	case FAULT_NET_LOSS:
	case FAULT_NET_LATENCY:
		return apply_net(a, e, f, why, whylen);
	case FAULT_NET_BANDWIDTH:
		return apply_bandwidth(a, e, f, why, whylen);
	case FAULT_DISK_FILL:
		return apply_disk(a, e, f, why, whylen);
	case FAULT_CPU_BURN:
	case FAULT_MEMORY_HOG:
		return apply_held(a, e, f, why, whylen);
	case FAULT_TYPE_MAX:
		break;
	}
	WHY("unknown fault type");
	return -EINVAL;
}

/* -------------------------------------------------------------------------------------- */
/* Revert and verify.                                                                      */

static int
revert_effect(struct agent *a, const struct jentry *e, const struct fault *f)
{
	struct fault_net *net;
	int r = 0, r2;

	/* The proxy's redirect goes first: a redirect to a stopped proxy refuses connections. */
	if (f->type == FAULT_NET_LATENCY && strcmp(e->backend, "proxy") == 0 &&
	    ((r2 = agent_net(a, &net)) < 0 || (r2 = fault_net_revert(net, e->id)) < 0))
		r = r2;
	if (e->holder.pid != 0 && e->holder.pid != getpid() && (r2 = watchdog_stop(&e->holder)) < 0)
		r = r2;
	switch (f->type) {
	case FAULT_PROCESS_PAUSE:
		for (size_t i = 0; i < e->nprocs; i++)
			if ((r2 = fault_proc_signal(&e->procs[i], SIGCONT)) < 0 && r2 != -ESRCH)
				r = r2;
		break;
	case FAULT_NET_LATENCY:
		if (strcmp(e->backend, "netem") == 0) {
			r2 = e->dev[0] != '\0' ? fault_tc_revert(e->dev) : 0;
			r = r2 < 0 ? r2 : r;
			break;
		}
		/* The proxy's redirect is an nftables fault like the others. */
		__attribute__((fallthrough));
	case FAULT_NET_PARTITION:
	case FAULT_NET_LOSS:
		if ((r2 = agent_net(a, &net)) < 0 || (r2 = fault_net_revert(net, e->id)) < 0)
			r = r2;
		break;
	case FAULT_NET_BANDWIDTH:
		if (e->dev[0] != '\0' && (r2 = fault_tc_revert(e->dev)) < 0)
			r = r2;
		break;
	case FAULT_DISK_FILL:
		/* A mount over the directory (or a new one in its place) hides the file. */
		if (e->path[0] != '\0' &&
		    ((r2 = fault_disk_same_dir(e->path, e->fill_dev, e->fill_ino)) == -ESTALE ||
		    (r2 = fault_disk_revert(e->path)) < 0))
			r = r2;
		break;
	default:
		break;
	}
	return r;
}

/* Our root qdisc on dev; a device that is gone holds nothing, any other error counts. */
static bool
tc_in_effect(const char *dev)
{
	bool present = false;
	char kind[16];
	int r;

	if (dev[0] == '\0')
		return false;
	r = fault_tc_status(dev, &present, kind);
	return r == -ENODEV ? false : r < 0 || present;
}

/*
 * Reads the kernel, /proc or the disk: is anything of e still in effect?  When the answer
 * cannot be read, it is yes: a revert is never reported done on a guess.
 */
static bool
in_effect(struct agent *a, const struct jentry *e, const struct fault *f)
{
	struct fault_net *net;
	bool present = false, live = false;
	uint64_t bytes;

	if (held_by_watchdog(e, f->type) && e->holder.pid != 0 && e->holder.pid != getpid() &&
	    fault_proc_alive(&e->holder))
		return true;
	switch (f->type) {
	case FAULT_PROCESS_PAUSE:
		for (size_t i = 0; i < e->nprocs; i++)
			if (fault_proc_is_stopped(&e->procs[i]))
				return true;
		return false;
	case FAULT_NET_LATENCY:
		if (strcmp(e->backend, "netem") == 0)
			return tc_in_effect(e->dev);
		__attribute__((fallthrough));
	case FAULT_NET_PARTITION:
	case FAULT_NET_LOSS:
		if (agent_net(a, &net) < 0 || fault_net_status(net, e->id, &present, &live) < 0)
			return true;	/* Unknown counts as in effect: never claim a revert. */
		return present;
	case FAULT_NET_BANDWIDTH:
		return tc_in_effect(e->dev);
	case FAULT_DISK_FILL:
		return e->path[0] != '\0' && (fault_disk_same_dir(e->path, e->fill_dev,
		    e->fill_ino) == -ESTALE || fault_disk_status(e->path, &present, &bytes) < 0 ||
		    present);
	default:
		return false;
	}
}

bool
agent_in_effect(struct agent *a, const struct jentry *e)
{
	struct arena *ar = NULL;
	struct fault f;
	bool r;

	if (entry_fault_for_revert(e, &ar, &f) < 0)
		return true;
	r = in_effect(a, e, &f);
	arena_free(ar);
	return r;
}

/* Reverts e (and verifies).  On success its journal entry is gone. */
static int
revert_entry(struct agent *a, struct jentry *e, char *why, size_t whylen)
{
	struct arena *ar = NULL;
	struct fault f;
	int r;

	if ((r = entry_fault_for_revert(e, &ar, &f)) < 0) {
		WHY("the journal entry names no fault type");
		return r;
	}
	e->state = JSTATE_REVERTING;
	e->attempts++;
	/*
	 * If the journal cannot be written (a full disk, perhaps this very fault's), revert
	 * anyway: the entry on disk still names the fault, and reverts are idempotent.
	 */
	if ((r = journal_write(a->j, e)) < 0)
		log_warnx("fault=%s cannot write the journal (%s), reverting anyway", e->id,
		    strerror(-r));
	crashpoint("revert:journaled");
	r = revert_effect(a, e, &f);
	crashpoint("revert:reverted");
	if (r == 0 && in_effect(a, e, &f))
		r = -EBUSY;
	if (r < 0) {
		WHY(r == -EBUSY ? "the revert ran but the fault is still in effect" :
		    "revert failed: %s", strerror(-r));
		gd_free(e->error);
		e->error = gd_strdup(why);
		e->state = JSTATE_REVERT_FAILED;
		(void)journal_write(a->j, e);
		log_warnx("fault=%s revert failed (attempt %u): %s", e->id, e->attempts, why);
		goto out;
	}
	if ((r = journal_remove(a->j, e->id)) < 0)
		WHY("reverted, but the journal entry cannot be removed: %s", strerror(-r));
	else
		log_info("fault=%s type=%s reverted", e->id, fault_type_name(f.type));
out:
	arena_free(ar);
	return r;
}

int
agent_revert(struct agent *a, const char *id, char *why, size_t whylen)
{
	struct jentry *e = NULL;
	int r;

	if (!fault_id_valid(id)) {
		WHY("not a fault id (16 hex digits)");
		return -EINVAL;
	}
	if ((r = journal_get(a->j, id, &e)) < 0) {
		WHY(r == -ENOENT ? "no fault %s in this agent's journal" :
		    "cannot read the journal entry of %s", id);
		return r;
	}
	r = revert_entry(a, e, why, whylen);
	jentry_free(e);
	return r;
}

int
agent_revert_all(struct agent *a, size_t *ret_failed)
{
	struct jentry **v = NULL;
	size_t n = 0, failed = 0;
	char why[256];
	int r;

	if ((r = journal_load(a->j, &v, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (revert_entry(a, v[i], why, sizeof(why)) < 0)
			failed++;
	jentries_free(v, n);
	*ret_failed = failed;
	return failed > 0 ? -EIO : 0;
}

/*
 * Whether the sweep must revert e now: it expired, it belongs to an earlier boot, a crash
 * left it half-applied or half-reverted, or its watchdog died.  A fault whose watchdog is
 * gone has nobody left to revert it at the TTL, so it is reverted at once.
 */
static bool
needs_sweep(const struct jentry *e)
{
	if (e->state != JSTATE_APPLIED || e->expires_ms <= gd_now_ms() ||
	    strcmp(e->boot, journal_boot_id()) != 0)
		return true;
	return e->holder.pid != 0 && e->holder.pid != getpid() && !fault_proc_alive(&e->holder);
}

int
agent_sweep(struct agent *a, size_t *ret_reverted, size_t *ret_failed)
{
	struct jentry **v = NULL;
	size_t n = 0, reverted = 0, failed = 0;
	char why[256];
	int r;

	if ((r = journal_load(a->j, &v, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!needs_sweep(v[i]))
			continue;
		log_info("fault=%s state=%s expired or left over, reverting", v[i]->id,
		    jstate_name(v[i]->state));
		if (revert_entry(a, v[i], why, sizeof(why)) < 0)
			failed++;
		else
			reverted++;
	}
	jentries_free(v, n);
	*ret_reverted = reverted;
	*ret_failed = failed;
	return 0;
}

/* -------------------------------------------------------------------------------------- */
/* Inject.                                                                                 */

/* The order's identity: SHA-256 of the fault's canonical JSON. */
static int
order_text(const struct fault *f, char **ret_text, char ret_hash[65])
{
	cJSON *o = fault_to_json(f);
	char *text;

	if (o == NULL)
		return -ENOMEM;
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return -ENOMEM;
	if (gd_sha256_hex(text, strlen(text), ret_hash) < 0) {
		gd_free(text);
		return -EIO;
	}
	*ret_text = text;
	return 0;
}

/* An entry of the same order still in effect, or an error when the agent is full. */
static int
find_duplicate(struct agent *a, const char *hash, char ret_id[GD_FAULT_ID_LEN + 1])
{
	struct jentry **v = NULL;
	size_t n = 0;
	int r, found = 0;

	if ((r = journal_load(a->j, &v, &n)) < 0)
		return r;
	for (size_t i = 0; i < n && !found; i++)
		if (strcmp(v[i]->order, hash) == 0 && v[i]->state == JSTATE_APPLIED &&
		    v[i]->expires_ms > gd_now_ms()) {
			memcpy(ret_id, v[i]->id, GD_FAULT_ID_LEN + 1);
			found = 1;
		}
	jentries_free(v, n);
	if (!found && n >= GD_MAX_ACTIVE_FAULTS)
		return -EMFILE;
	return found;
}

int
agent_inject(struct agent *a, const struct fault *f, uint64_t ttl_ms, const char *order_id,
    char ret_id[GD_FAULT_ID_LEN + 1], bool *ret_duplicate, char *why, size_t whylen)
{
	struct jentry *e = NULL;
	char hash[65], rwhy[256];
	int r;

	*ret_duplicate = false;
	if (order_id != NULL && !order_id_valid(order_id)) {
		WHY("not an order id");
		return -EINVAL;
	}
	if ((r = policy_check(&a->pol, f, ttl_ms, why, whylen)) < 0)
		return r;
	if ((r = jentry_new(&e)) < 0 || (r = order_text(f, &e->fault, hash)) < 0) {
		WHY("out of memory");
		goto out;
	}
	if ((r = find_duplicate(a, hash, ret_id)) != 0) {
		if (r > 0)
			*ret_duplicate = true;
		else if (r == -EMFILE)
			WHY("this agent already holds %d faults", GD_MAX_ACTIVE_FAULTS);
		else
			WHY("cannot read the journal: %s", strerror(-r));
		r = r > 0 ? 0 : r;
		goto out;
	}
	memcpy(e->order, hash, sizeof(e->order));
	if (order_id != NULL)
		memcpy(e->order_id, order_id, strlen(order_id) + 1);
	e->state = JSTATE_APPLYING;
	e->expires_ms = e->created_ms + (int64_t)ttl_ms;
	if ((r = journal_write(a->j, e)) < 0) {
		WHY("cannot write the journal: %s", strerror(-r));
		goto out;
	}
	crashpoint("inject:journaled");
	if ((r = apply(a, e, f, why, whylen)) < 0)
		goto undo;
	crashpoint("inject:applied");
	/* Every fault gets a watchdog that reverts it at the TTL, unless it already has one. */
	if (e->holder.pid == 0 && f->type != FAULT_PROCESS_KILL &&
	    (r = watchdog_start(a, e, f, -1, &e->holder, why, whylen)) < 0)
		goto undo;
	if (f->type == FAULT_PROCESS_KILL && f->u.kill.expect_restart_ms > 0 &&
	    (r = watchdog_start(a, e, f, -1, &e->holder, why, whylen)) < 0)
		goto undo;
	crashpoint("inject:watchdog");
	e->state = JSTATE_APPLIED;
	if ((r = journal_write(a->j, e)) < 0) {
		WHY("cannot write the journal: %s", strerror(-r));
		goto undo;
	}
	crashpoint("inject:done");
	memcpy(ret_id, e->id, GD_FAULT_ID_LEN + 1);
	log_info("fault=%s type=%s applied ttl=%llums", e->id, fault_type_name(f->type),
	    (unsigned long long)ttl_ms);
	goto out;
undo:
	if (revert_entry(a, e, rwhy, sizeof(rwhy)) < 0)
		log_warnx("fault=%s could not be undone after a failed inject: %s", e->id, rwhy);
out:
	jentry_free(e);
	return r;
}
