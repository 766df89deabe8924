/* What the agent shows without changing anything: dry runs, the fault list, capabilities. */
#include "agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"
#include "fault_burn.h"
#include "fault_disk.h"
#include "fault_proc.h"
#include "fault_tc.h"
#include "log.h"
#include "procfs.h"
#include "strbuf.h"
#include "timeutil.h"

#define WHY(...) (void)snprintf(why, whylen, __VA_ARGS__)

static int
dry_proc(struct agent *a, const struct fault *f, struct strbuf *t, char *why, size_t whylen)
{
	struct jproc *v = NULL;
	size_t n = 0, matched = 0;
	int signo = f->type == FAULT_PROCESS_KILL ? f->u.kill.signo : SIGSTOP;
	int r;

	if ((r = fault_proc_select(f, &a->pol, &v, &n, &matched)) < 0) {
		WHY("cannot select processes: %s", strerror(-r));
		return r;
	}
	strbuf_addf(t, "%zu unprotected processes match; %zu would get signal %d%s\n", matched, n,
	    signo, f->type == FAULT_PROCESS_PAUSE ? " (SIGSTOP, then SIGCONT at revert)" : "");
	for (size_t i = 0; i < n; i++) {
		char cmd[PROCFS_MAX_CMDLINE];

		if (procfs_cmdline(v[i].pid, cmd, sizeof(cmd)) < 0)
			cmd[0] = '\0';
		strbuf_addf(t, "  pid %d (start %llu): %s\n", (int)v[i].pid,
		    (unsigned long long)v[i].start, log_esc(cmd));
	}
	gd_free(v);
	return 0;
}

static int
dry_net(struct agent *a, const struct fault *f, uint64_t ttl_ms, struct strbuf *t)
{
	struct net_redirect redir = { .port = 0, .mark = GD_PROXY_MARK };
	char *cmds = NULL;
	int r;

	if (f->type == FAULT_NET_LATENCY) {
		const char *nwhy = NULL;
		bool netem = fault_tc_netem_supported(&nwhy);

		if (f->u.net.backend == LATENCY_NETEM || (f->u.net.backend == LATENCY_AUTO &&
		    netem && f->u.net.filter.npeers == 0 && f->u.net.filter.nports == 0)) {
			char dev[IFNAMSIZ] = "?";

			(void)fault_tc_default_dev(dev);
			if ((r = fault_tc_render_netem(dev, f->u.net.delay_ms, f->u.net.jitter_ms,
			    &cmds)) < 0)
				return r;
			strbuf_addf(t, "%s\n", cmds);
			gd_free(cmds);
			return 0;
		}
		strbuf_addf(t, "backend proxy (%s): a delaying TCP proxy on an ephemeral port "
		    "(shown as 0 below), and the redirect:\n", netem ? "asked" : nwhy);
	}
	if ((r = fault_net_render("0000000000000000", f, &a->pol.exempt,
	    f->type == FAULT_NET_LATENCY ? &redir : NULL, f->type == FAULT_NET_LATENCY ?
	    GD_PROXY_LEASE_MS : ttl_ms, &cmds)) < 0)
		return r;
	strbuf_addf(t, "nftables commands (the id 0000000000000000 stands for the new fault's):\n%s",
	    cmds);
	if (cmds[0] != '\0' && cmds[strlen(cmds) - 1] != '\n')
		strbuf_addf(t, "\n");
	gd_free(cmds);
	return 0;
}

static int
dry_other(struct agent *a, const struct fault *f, struct strbuf *t, char *why, size_t whylen)
{
	struct disk_plan plan;
	char dev[IFNAMSIZ] = "", *s = NULL;
	uint64_t bytes;
	int r;

	switch (f->type) {
	case FAULT_NET_BANDWIDTH:
		if (f->u.bandwidth.device != NULL)
			(void)snprintf(dev, sizeof(dev), "%s", f->u.bandwidth.device);
		else if ((r = fault_tc_default_dev(dev)) < 0) {
			WHY("no device given and no default route to find one");
			return r;
		}
		if ((r = fault_tc_render_tbf(dev, f->u.bandwidth.rate, &s)) < 0)
			return r;
		strbuf_addf(t, "%s\n", s);
		gd_free(s);
		return 0;
	case FAULT_DISK_FILL:
		if ((r = fault_disk_plan(f, &a->pol, "0000000000000000", &plan, why, whylen)) < 0)
			return r;
		strbuf_addf(t, "create %s (the id stands for the new fault's) and fallocate %llu "
		    "bytes; the filesystem has %llu of %llu bytes available, %llu must stay "
		    "free%s\n", plan.path, (unsigned long long)plan.bytes,
		    (unsigned long long)plan.avail, (unsigned long long)plan.total,
		    (unsigned long long)plan.keep_free, plan.capped ?
		    " (keep_free makes the fill smaller than asked)" : "");
		return 0;
	case FAULT_CPU_BURN:
		strbuf_addf(t, "start %u threads, each busy %u%% of every 100 ms, in a watchdog "
		    "process (%u CPUs online)\n", f->u.cpu.cores, f->u.cpu.load_percent,
		    fault_burn_online_cpus());
		return 0;
	case FAULT_MEMORY_HOG:
		if ((r = fault_burn_mem_bytes(&f->u.mem.size, &bytes)) < 0)
			return r;
		strbuf_addf(t, "map and touch %llu bytes of anonymous memory in a watchdog process, "
		    "locked with mlock() where the host allows\n", (unsigned long long)bytes);
		return 0;
	default:
		return -EINVAL;
	}
}

int
agent_dry_run(struct agent *a, const struct fault *f, uint64_t ttl_ms, char **ret_text,
    char *why, size_t whylen)
{
	struct strbuf t = { 0 };
	int r;

	if ((r = policy_check(&a->pol, f, ttl_ms, why, whylen)) < 0)
		return r;
	strbuf_addf(&t, "dry run: %s for %llu ms; nothing is changed\n", fault_type_name(f->type),
	    (unsigned long long)ttl_ms);
	if (f->type == FAULT_PROCESS_KILL || f->type == FAULT_PROCESS_PAUSE)
		r = dry_proc(a, f, &t, why, whylen);
	else if (f->type == FAULT_NET_PARTITION || f->type == FAULT_NET_LOSS ||
	    f->type == FAULT_NET_LATENCY)
		r = dry_net(a, f, ttl_ms, &t);
	else
		r = dry_other(a, f, &t, why, whylen);
	if (r < 0) {
		if (why[0] == '\0')
			WHY("%s", strerror(-r));
		gd_free(t.p);
		return r;
	}
	return strbuf_finish(&t, ret_text);
}

static cJSON *
entry_json(struct agent *a, const struct jentry *e)
{
	cJSON *o = cJSON_CreateObject(), *fault = cJSON_Parse(e->fault), *procs;
	int64_t now = gd_now_ms();
	bool oom = o == NULL || fault == NULL;

	if (!oom) {
		if (cJSON_AddItemToObject(o, "fault", fault))
			fault = NULL;	/* o owns it now. */
		else
			oom = true;
	}
	oom = oom || cJSON_AddStringToObject(o, "id", e->id) == NULL ||
	    cJSON_AddStringToObject(o, "state", jstate_name(e->state)) == NULL ||
	    (e->order_id[0] != '\0' &&
	    cJSON_AddStringToObject(o, "order_id", e->order_id) == NULL) ||
	    cJSON_AddBoolToObject(o, "in_effect", agent_in_effect(a, e)) == NULL ||
	    cJSON_AddNumberToObject(o, "created_ms", (double)e->created_ms) == NULL ||
	    cJSON_AddNumberToObject(o, "expires_ms", (double)e->expires_ms) == NULL ||
	    cJSON_AddNumberToObject(o, "ttl_left_ms", (double)(e->expires_ms > now ?
	    e->expires_ms - now : 0)) == NULL ||
	    cJSON_AddNumberToObject(o, "revert_attempts", e->attempts) == NULL ||
	    (e->error != NULL && cJSON_AddStringToObject(o, "error", e->error) == NULL) ||
	    (e->path[0] != '\0' && cJSON_AddStringToObject(o, "file", e->path) == NULL) ||
	    (e->dev[0] != '\0' && cJSON_AddStringToObject(o, "device", e->dev) == NULL) ||
	    (e->backend[0] != '\0' && cJSON_AddStringToObject(o, "backend", e->backend) ==
	    NULL) ||
	    (e->holder.pid != 0 && cJSON_AddNumberToObject(o, "watchdog_pid", e->holder.pid) ==
	    NULL) ||
	    (e->restart_ms >= 0 && cJSON_AddNumberToObject(o, "restarted_after_ms",
	    (double)e->restart_ms) == NULL) ||
	    (procs = cJSON_AddArrayToObject(o, "pids")) == NULL;
	for (size_t i = 0; !oom && i < e->nprocs; i++)
		oom = !cJSON_AddItemToArray(procs, cJSON_CreateNumber(e->procs[i].pid));
	cJSON_Delete(fault);
	if (oom) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int
agent_list_json(struct agent *a, cJSON **ret)
{
	struct jentry **v = NULL;
	size_t n = 0;
	cJSON *arr;
	int r;

	if ((r = journal_load(a->j, &v, &n)) < 0)
		return r;
	if ((arr = cJSON_CreateArray()) == NULL)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		cJSON *o = entry_json(a, v[i]);

		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			r = -ENOMEM;
		}
	}
	jentries_free(v, n);
	if (r < 0) {
		cJSON_Delete(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

static bool
have_pidfd(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (fd == -1)
		return false;
	close(fd);
	return true;
}

int
agent_capabilities_json(struct agent *a, cJSON **ret)
{
	const char *nwhy = NULL;
	bool netem = fault_tc_netem_supported(&nwhy), nft, pidfd = have_pidfd();
	struct fault_net *net = NULL;
	cJSON *o = cJSON_CreateObject(), *types, *be;
	bool oom = o == NULL;

	nft = fault_net_open(&net) == 0;
	net = fault_net_close(net);
	oom = oom || (types = cJSON_AddObjectToObject(o, "types")) == NULL;
	for (int t = 0; !oom && t < FAULT_TYPE_MAX; t++) {
		bool ok = a->pol.type_allowed[t];

		if (t == FAULT_PROCESS_KILL || t == FAULT_PROCESS_PAUSE)
			ok = ok && pidfd;
		else if (fault_type_is_network(t) && t != FAULT_NET_BANDWIDTH)
			ok = ok && nft;
		else if (t == FAULT_DISK_FILL)
			ok = ok && a->pol.nallow_paths > 0;
		oom = cJSON_AddBoolToObject(types, fault_type_name(t), ok) == NULL;
	}
	oom = oom || (be = cJSON_AddArrayToObject(o, "latency_backends")) == NULL ||
	    (netem && !cJSON_AddItemToArray(be, cJSON_CreateString("netem"))) ||
	    (nft && !cJSON_AddItemToArray(be, cJSON_CreateString("proxy"))) ||
	    cJSON_AddBoolToObject(o, "netem", netem) == NULL ||
	    cJSON_AddStringToObject(o, "netem_reason", nwhy != NULL ? nwhy : "") == NULL ||
	    cJSON_AddBoolToObject(o, "nftables", nft) == NULL ||
	    cJSON_AddBoolToObject(o, "pidfd", pidfd) == NULL ||
	    cJSON_AddNumberToObject(o, "online_cpus", fault_burn_online_cpus()) == NULL ||
	    cJSON_AddNumberToObject(o, "ttl_cap_ms", (double)a->pol.ttl_cap_ms) == NULL;
	if (oom) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}
