/*
 * Inject and revert time per fault family, through the agent's own code, side by side with
 * the bare tools an operator would otherwise run (nft -f, tc, fallocate, kill), in the same
 * run and in namespaces of the benchmark's own.  Prints median and p99 over N cycles.
 *
 *   bench_agent [N]        (default 200; run as root)
 *
 * The bare tools are exec'd here only, as the yardstick; the agent never execs anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault_disk.h"
#include "fault_net.h"
#include "fault_proc.h"
#include "fault_tc.h"
#include "ns.h"
#include "procfs.h"

#define FILLDIR	"/run/gd-bench/fill"
#define MiB	(1024ULL * 1024)

extern char **environ;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct series {
	double *v;
	size_t n;
};

static double
pct(struct series *s, double p)
{
	size_t i;

	qsort(s->v, s->n, sizeof(double), cmp_double);
	i = (size_t)(p * (double)(s->n - 1) + 0.5);
	return s->v[i];
}

static void
report(const char *what, struct series *inj, struct series *rev, struct series *binj,
    struct series *brev)
{
	double mi = pct(inj, 0.5), mr = pct(rev, 0.5);

	printf("%-22s inject median %7.3f ms p99 %7.3f | revert median %7.3f ms p99 %7.3f",
	    what, mi, pct(inj, 0.99), mr, pct(rev, 0.99));
	if (binj != NULL && binj->n > 0)
		printf(" | bare tool: %7.3f / %7.3f ms, ratio %.2f / %.2f", pct(binj, 0.5),
		    pct(brev, 0.5), mi / pct(binj, 0.5), mr / pct(brev, 0.5));
	printf("\n");
}

/* Runs argv, waits; returns the exit status or -1 when the program is missing. */
static int
run(char *const argv[])
{
	pid_t pid;
	int st = 0, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_t fa;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(devnull);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(devnull);
	(void)waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
bench_net(size_t n)
{
	struct series inj = { calloc(n, sizeof(double)), 0 }, rev = { calloc(n, sizeof(double)), 0 };
	struct series binj = { calloc(n, sizeof(double)), 0 }, brev = { calloc(n, sizeof(double)), 0 };
	struct net_exempt ex = { .nlocal_ports = 1, .local_ports = { 22 } };
	struct fault_net *net = NULL;
	struct fault f;
	char why[256], *text = NULL, path[] = "/tmp/gd-bench-nft-XXXXXX";
	FILE *fp;
	int fd;

	memset(&f, 0, sizeof(f));
	f.type = FAULT_NET_PARTITION;
	f.u.net.filter.npeers = 1;
	f.u.net.filter.peers[0] = (struct gd_cidr){ .family = AF_INET,
	    .addr = { 192, 0, 2, 0 }, .prefix = 24 };
	f.u.net.filter.nports = 1;
	f.u.net.filter.ports[0] = 5432;
	if (fault_net_open(&net) < 0) {
		printf("network.partition: libnftables unavailable, skipped\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double t0 = now_ms(), t1, t2;

		if (fault_net_apply(net, "b0", &f, &ex, NULL, 60000, why, sizeof(why)) < 0) {
			printf("network.partition: apply failed: %s\n", why);
			goto out;
		}
		t1 = now_ms();
		(void)fault_net_revert(net, "b0");
		t2 = now_ms();
		inj.v[inj.n++] = t1 - t0;
		rev.v[rev.n++] = t2 - t1;
	}
	/* The bare tool: the very same commands, through `nft -f`. */
	if (fault_net_render("b0", &f, &ex, NULL, 60000, &text) == 0 &&
	    (fd = mkstemp(path)) >= 0 && (fp = fdopen(fd, "w")) != NULL) {
		char *add[] = { (char *)"/usr/sbin/nft", (char *)"-f", path, NULL };
		char *del[] = { (char *)"/usr/sbin/nft", (char *)"delete", (char *)"table",
		    (char *)"inet", (char *)GD_NFT_TABLE, NULL };

		fputs(text, fp);
		fclose(fp);
		for (size_t i = 0; i < n; i++) {
			double t0 = now_ms(), t1;

			if (run(add) != 0)
				break;
			t1 = now_ms();
			(void)run(del);
			brev.v[brev.n++] = now_ms() - t1;
			binj.v[binj.n++] = t1 - t0;
		}
		unlink(path);
	}
	free(text);
	report("network.partition", &inj, &rev, &binj, &brev);
	if (binj.n == 0)
		printf("  (nft not installed: no bare-tool figures)\n");
out:
	fault_net_close(net);
	free(inj.v), free(rev.v), free(binj.v), free(brev.v);
}

static void
bench_tc(size_t n)
{
	struct series inj = { calloc(n, sizeof(double)), 0 }, rev = { calloc(n, sizeof(double)), 0 };
	struct series binj = { calloc(n, sizeof(double)), 0 }, brev = { calloc(n, sizeof(double)), 0 };
	char *add[] = { (char *)"/usr/sbin/tc", (char *)"qdisc", (char *)"add", (char *)"dev",
	    (char *)"lo", (char *)"root", (char *)"handle", (char *)"6764:", (char *)"tbf",
	    (char *)"rate", (char *)"8mbit", (char *)"burst", (char *)"131200",
	    (char *)"limit", (char *)"262400", NULL };
	char *del[] = { (char *)"/usr/sbin/tc", (char *)"qdisc", (char *)"del", (char *)"dev",
	    (char *)"lo", (char *)"root", NULL };
	char why[256];

	for (size_t i = 0; i < n; i++) {
		double t0 = now_ms(), t1;

		if (fault_tc_tbf_apply("lo", 1000000, why, sizeof(why)) < 0) {
			printf("network.bandwidth: apply failed: %s\n", why);
			goto out;
		}
		t1 = now_ms();
		(void)fault_tc_revert("lo");
		rev.v[rev.n++] = now_ms() - t1;
		inj.v[inj.n++] = t1 - t0;
	}
	for (size_t i = 0; i < n; i++) {
		double t0 = now_ms(), t1;

		if (run(add) != 0)
			break;
		t1 = now_ms();
		(void)run(del);
		brev.v[brev.n++] = now_ms() - t1;
		binj.v[binj.n++] = t1 - t0;
	}
	report("network.bandwidth", &inj, &rev, &binj, &brev);
out:
	free(inj.v), free(rev.v), free(binj.v), free(brev.v);
}

static void
bench_disk(size_t n)
{
	struct series inj = { calloc(n, sizeof(double)), 0 }, rev = { calloc(n, sizeof(double)), 0 };
	struct series binj = { calloc(n, sizeof(double)), 0 }, brev = { calloc(n, sizeof(double)), 0 };
	char *add[] = { (char *)"/usr/bin/fallocate", (char *)"-l", (char *)"512MiB",
	    (char *)FILLDIR "/bare", NULL };
	char *del[] = { (char *)"/usr/bin/rm", (char *)"-f", (char *)FILLDIR "/bare", NULL };
	struct disk_plan plan;
	char why[256];

	memset(&plan, 0, sizeof(plan));
	(void)snprintf(plan.path, sizeof(plan.path), FILLDIR "/" GD_FILL_PREFIX "00000000000000b0");
	plan.bytes = 512 * MiB;
	for (size_t i = 0; i < n; i++) {
		double t0 = now_ms(), t1;

		if (fault_disk_apply(&plan, why, sizeof(why)) < 0) {
			printf("disk.fill: %s\n", why);
			goto out;
		}
		t1 = now_ms();
		(void)fault_disk_revert(plan.path);
		rev.v[rev.n++] = now_ms() - t1;
		inj.v[inj.n++] = t1 - t0;
	}
	for (size_t i = 0; i < n; i++) {
		double t0 = now_ms(), t1;

		if (run(add) != 0)
			break;
		t1 = now_ms();
		(void)run(del);
		brev.v[brev.n++] = now_ms() - t1;
		binj.v[binj.n++] = t1 - t0;
	}
	report("disk.fill 512MiB tmpfs", &inj, &rev, &binj, &brev);
out:
	free(inj.v), free(rev.v), free(binj.v), free(brev.v);
}

static void
bench_proc(size_t n)
{
	struct series inj = { calloc(n, sizeof(double)), 0 }, rev = { calloc(n, sizeof(double)), 0 };
	struct series binj = { calloc(n, sizeof(double)), 0 }, brev = { calloc(n, sizeof(double)), 0 };
	struct policy pol;
	struct fault f;
	pid_t victim = fork();
	char pidbuf[16];

	if (victim == 0) {
		(void)prctl(PR_SET_NAME, "gdbench", 0, 0, 0);
		for (;;)
			pause();
	}
	policy_init(&pol);
	memset(&f, 0, sizeof(f));
	f.type = FAULT_PROCESS_PAUSE;
	f.u.pause.match.comm = "gdbench";
	f.u.pause.count = 1;
	(void)snprintf(pidbuf, sizeof(pidbuf), "%d", (int)victim);
	usleep(20000);
	for (size_t i = 0; i < n; i++) {
		struct jproc *v = NULL;
		size_t k = 0, m = 0;
		double t0 = now_ms(), t1;

		if (fault_proc_select(&f, &pol, &v, &k, &m) < 0 || k != 1)
			break;
		(void)fault_proc_signal(&v[0], SIGSTOP);
		t1 = now_ms();
		(void)fault_proc_signal(&v[0], SIGCONT);
		rev.v[rev.n++] = now_ms() - t1;
		inj.v[inj.n++] = t1 - t0;
		free(v);
	}
	for (size_t i = 0; i < n; i++) {
		char *stop[] = { (char *)"/usr/bin/kill", (char *)"-STOP", pidbuf, NULL };
		char *cont[] = { (char *)"/usr/bin/kill", (char *)"-CONT", pidbuf, NULL };
		double t0 = now_ms(), t1;

		if (run(stop) != 0)
			break;
		t1 = now_ms();
		(void)run(cont);
		brev.v[brev.n++] = now_ms() - t1;
		binj.v[binj.n++] = t1 - t0;
	}
	report("process.pause", &inj, &rev, &binj, &brev);
	(void)kill(victim, SIGKILL);
	(void)waitpid(victim, NULL, 0);
	free(inj.v), free(rev.v), free(binj.v), free(brev.v);
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 200;

	if (n < 2)
		n = 2;
	ns_enter_pid();
	ns_enter_net();
	(void)mkdir("/run/gd-bench", 0755);
	ns_mount_tmpfs(FILLDIR, 1024 * MiB);
	printf("%zu cycles each; agent code vs the bare tool, same run\n", n);
	bench_net(n);
	bench_tc(n);
	bench_disk(n);
	bench_proc(n);
	return 0;
}
