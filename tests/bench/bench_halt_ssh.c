/*
 * halt --all next to what an operator would otherwise script (issue 4): 20 hosts each hold
 * a network.partition; then either `POST /v1/halt`, timed until the fault's nftables table
 * is gone on every host, or 20 parallel `ssh root@HOST nft delete table inet gameday`,
 * timed until every ssh has returned.  Both in the same run, interleaved, ROUNDS times each;
 * prints every round, the medians of the per-round maxima and their ratio.
 *
 * The layout, all in PID, mount and network namespaces of the benchmark's own (ns.h):
 *   - a bridge gdbr0 holding 10.77.0.1/24, where gamedayd listens (on 10.77.0.1 only);
 *   - 20 hosts, each a child in network and UTS namespaces of its own (hostname bench01..,
 *     which the agent takes as its name), joined to the bridge by a veth pair, address
 *     10.77.0.2..21, running an OpenSSH server (key-only, host and client keys made here
 *     with ssh-keygen) and a gameday-agent daemon (role=bench, lease 15 s);
 *   - /run is a tmpfs private to the benchmark's mount namespace: sshd's /run/sshd is made
 *     there, and the machine's /run is left alone.
 * The network is built by running `ip` (scaffolding); the only other programs run are
 * ssh-keygen, sshd, ssh and, through ssh on each host, `nft`: the bare tool compared.  The
 * benchmark reads each host's nftables through libnftables, in that host's namespace
 * (setns on a descriptor it keeps).  Round A polls those reads (a sweep over the hosts not
 * yet done, 1 ms apart; ~0.3 ms a read, which the agents pay for in CPU); round B only
 * waits for the ssh processes, so the sessions have every cycle, and reads the tables
 * once they have all returned.  Each round also times one ssh alone, the floor of the
 * fan-out: here all 20 sshds share the machine's cores with the client, which a real
 * fleet would not (each session costs ~0.1 s of client and ~0.15 s of server CPU).
 *
 *   GD_CTL_BIN=out/bench/controller/gamedayd GD_AGENT_BIN=out/bench/agent/gameday-agent \
 *       out/bench/tests/bench/bench_halt_ssh [ROUNDS]        (default 10; as root)
 *
 * Everything it starts it ends by pid; the namespaces go with their processes.  Its files
 * (keys, configs, logs, gamedayd's state) live in /tmp/gd-bench-halt-XXXXXX, removed at
 * the end unless something failed.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/socket.h>

#include <nftables/libnftables.h>

#include "harness.h"
#include "ns.h"

#define NHOSTS		20
#define TOK		128
#define BRIDGE		"gdbr0"
#define WAIT_MS		30000.0		/* For anything to settle: starts, applies, ends. */
#define SSHD		"/usr/sbin/sshd"
#define SSH		"/usr/bin/ssh"
#define SSH_KEYGEN	"/usr/bin/ssh-keygen"
#define PLAYBOOK	"halt-bench"

struct host {
	char name[16], addr[16];
	pid_t init;		/* Its first process: holds the namespaces, reaps. */
	pid_t sshd, agent;	/* Children of init. */
	int netfd;		/* Its network namespace. */
	struct nft_ctx *nft;	/* Made inside that namespace. */
};

struct sample {
	double max, p50;
};

static struct host hosts[NHOSTS];
static struct gd g = { .errfd = -1 };
static char dir[64], admin[TOK], key[96];
static const char *ip_bin;
static int self_netfd = -1;
static bool failed;

static const char pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"" PLAYBOOK "\",\"description\":\"halt vs ssh\","
    "\"owner\":\"bench\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"bench\"},\"pick\":\"all\"},"
    "\"faults\":[{\"type\":\"network.partition\",\"peers\":[\"192.0.2.0/24\"]}],"
    "\"duration\":\"1h\",\"guardrails\":{\"max_hosts\":20,\"max_percent\":100}}";

static void teardown(void);

static _Noreturn void __attribute__((format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("bench_halt_ssh: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	failed = true;
	teardown();
	exit(1);
}

static const char *
first_executable(const char *const *paths)
{
	for (; *paths != NULL; paths++)
		if (access(*paths, X_OK) == 0)
			return *paths;
	return NULL;
}

/* Before any namespace: a missing piece is named, and the exit status is 1. */
static void
check_prerequisites(void)
{
	static const char *const ips[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip",
	    NULL };
	static const char *const nfts[] = { "/usr/sbin/nft", "/sbin/nft", NULL };
	const char *missing = NULL;

	if (geteuid() != 0)
		missing = "root (it creates namespaces and runs sshd)";
	else if (access(SSHD, X_OK) != 0)
		missing = SSHD " (package openssh-server)";
	else if (access(SSH, X_OK) != 0 || access(SSH_KEYGEN, X_OK) != 0)
		missing = SSH " and " SSH_KEYGEN " (package openssh-client)";
	else if ((ip_bin = first_executable(ips)) == NULL)
		missing = "ip (package iproute2)";
	else if (first_executable(nfts) == NULL)
		missing = "nft (package nftables: the OpenSSH side runs it on every host)";
	else if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0)
		missing = "GD_CTL_BIN naming the gamedayd binary";
	else if (access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0)
		missing = "GD_AGENT_BIN naming the gameday-agent binary";
	if (missing != NULL) {
		(void)fprintf(stderr, "bench_halt_ssh: needs %s\n", missing);
		exit(1);
	}
}

/*
 * Starts argv (no shell): stdin and stdout on /dev/null, stderr appended to log (NULL:
 * ours), no descriptor above 2 inherited.  Returns the pid, or -1.
 */
static pid_t
spawn(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (log != NULL)
		(void)posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log,
		    O_WRONLY | O_CREAT | O_APPEND, 0600);
	(void)posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	return r == 0 ? pid : -1;
}

static int
exit_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
wait_exit(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return exit_status(st);
}

/* Runs `ip ARG...` (up to NULL), its errors on our stderr; returns its exit status. */
static int
run_ip(const char *arg, ...)
{
	char *argv[16];
	size_t n = 0;
	va_list ap;
	pid_t pid;

	argv[n++] = (char *)ip_bin;
	va_start(ap, arg);
	for (; arg != NULL && n < 15; arg = va_arg(ap, const char *))
		argv[n++] = (char *)arg;
	va_end(ap);
	argv[n] = NULL;
	return (pid = spawn(argv, NULL)) == -1 ? -1 : wait_exit(pid);
}

static int
keygen(const char *path)
{
	char *argv[] = { SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "gd-bench", "-f",
	    (char *)path, NULL };
	pid_t pid = spawn(argv, NULL);

	return pid == -1 ? -1 : wait_exit(pid);
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	bool ok;

	if (fd == -1)
		return -errno;
	ok = write(fd, text, len) == (ssize_t)len;
	(void)close(fd);
	return ok ? 0 : -EIO;
}

/*
 * gd_start() of harness.h, listening on addr instead of loopback, on a port gamedayd
 * picks; its state dir under /tmp.
 */
static int
gd_start_on(struct gd *gd, const char *addr)
{
	char *bin = (char *)h_bin("GD_CTL_BIN", "gamedayd");
	char listen[32], line[4096], want[48];
	char *argv[] = { bin, "--state-dir", gd->dir, "--listen", listen, NULL };
	posix_spawn_file_actions_t fa;
	double t0 = h_now_ms();
	size_t len = 0;
	int p[2];

	(void)snprintf(gd->dir, sizeof(gd->dir), "/tmp/gdctl.XXXXXX");
	if (mkdtemp(gd->dir) == NULL || pipe2(p, O_CLOEXEC) == -1)
		return -1;
	(void)snprintf(listen, sizeof(listen), "%s:0", addr);
	(void)snprintf(want, sizeof(want), "listening on %s:", addr);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
	if (posix_spawn(&gd->pid, bin, &fa, NULL, argv, environ) != 0)
		gd->pid = 0;
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(p[1]);
	gd->errfd = p[0];
	while (gd->pid > 0 && h_now_ms() - t0 < 10000 && len < sizeof(line) - 1) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		const char *at;
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((n = read(p[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
		if ((at = strstr(line, want)) != NULL) {
			gd->port = (int)strtol(at + strlen(want), NULL, 10);
			(void)snprintf(gd->url, sizeof(gd->url), "http://%s:%d", addr, gd->port);
			return 0;
		}
	}
	line[len] = '\0';
	(void)fprintf(stderr, "gamedayd did not start: %s\n", line);
	return -1;
}

static void
host_path(char *buf, size_t len, const struct host *h, const char *suffix)
{
	(void)snprintf(buf, len, "%.63s/%.15s%.31s", dir, h->name, suffix);
}

static int
write_sshd_config(const struct host *h, const char *path)
{
	char text[1024], hostkey[128];

	host_path(hostkey, sizeof(hostkey), h, ".hostkey");
	if (keygen(hostkey) != 0)
		return -1;
	(void)snprintf(text, sizeof(text),
	    "ListenAddress %s:22\n"
	    "HostKey %s\n"
	    "PidFile none\n"
	    "UsePAM no\n"
	    "StrictModes no\n"
	    "PermitRootLogin prohibit-password\n"
	    "PubkeyAuthentication yes\n"
	    "AuthorizedKeysFile %s.pub\n"
	    "PasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\n", h->addr, hostkey, key);
	return write_file(path, text, 0600);
}

/*
 * A host's first process: new network and UTS namespaces, then (once the parent has put
 * eth0 in) its addresses, its sshd and its agent; then it reaps until killed.  up carries
 * "namespaces made" and then the two pids; down carries "eth0 is here".
 */
static _Noreturn void
host_main(const struct host *h, const char *conf, int up, int down)
{
	char sdir[128], tfile[128], alog[128], slog[128], cidr[24], c;
	char *sshd_argv[] = { SSHD, "-D", "-e", "-f", (char *)conf, NULL };
	char *agent_argv[] = { (char *)h_bin("GD_AGENT_BIN", ""), "--controller", g.url,
	    "--token-file", tfile, "--tags", "role=bench", "--state-dir", sdir, "--lease", "15s",
	    NULL };
	pid_t pids[2];

	host_path(sdir, sizeof(sdir), h, ".state");
	host_path(tfile, sizeof(tfile), h, ".token");
	host_path(alog, sizeof(alog), h, ".agent.log");
	host_path(slog, sizeof(slog), h, ".sshd.log");
	(void)snprintf(cidr, sizeof(cidr), "%s/24", h->addr);
	if (unshare(CLONE_NEWNET | CLONE_NEWUTS) == -1 ||
	    sethostname(h->name, strlen(h->name)) == -1 || write(up, "u", 1) != 1 ||
	    read(down, &c, 1) != 1)
		_exit(1);
	if (run_ip("link", "set", "lo", "up", NULL) != 0 ||
	    run_ip("addr", "add", cidr, "dev", "eth0", NULL) != 0 ||
	    run_ip("link", "set", "eth0", "up", NULL) != 0)
		_exit(1);
	pids[0] = spawn(sshd_argv, slog);
	pids[1] = spawn(agent_argv, alog);
	if (write(up, pids, sizeof(pids)) != (ssize_t)sizeof(pids))
		_exit(1);
	for (;;)
		if (wait(NULL) == -1 && errno == ECHILD)
			(void)pause();
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/* Host i: its namespaces, its end of a veth on the bridge, its sshd and agent. */
static int
host_start(struct host *h, size_t i)
{
	char conf[128], veth[16], pid_text[16], path[64], c;
	int up[2] = { -1, -1 }, down[2] = { -1, -1 }, r = -1;
	pid_t pids[2];

	(void)snprintf(h->name, sizeof(h->name), "bench%02zu", i + 1);
	(void)snprintf(h->addr, sizeof(h->addr), "10.77.0.%zu", i + 2);
	(void)snprintf(veth, sizeof(veth), "gdv%zu", i + 1);
	host_path(conf, sizeof(conf), h, ".sshd_config");
	if (write_sshd_config(h, conf) < 0 || pipe2(up, O_CLOEXEC) == -1 ||
	    pipe2(down, O_CLOEXEC) == -1)
		goto out;
	(void)fflush(NULL);
	if ((h->init = fork()) == -1)
		goto out;
	if (h->init == 0)
		host_main(h, conf, up[1], down[0]);
	close_fd(&up[1]);
	close_fd(&down[0]);
	if (read(up[0], &c, 1) != 1)
		goto out;
	(void)snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)h->init);
	(void)snprintf(pid_text, sizeof(pid_text), "%d", (int)h->init);
	if ((h->netfd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    run_ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns",
	    pid_text, NULL) != 0 ||
	    run_ip("link", "set", veth, "master", BRIDGE, "up", NULL) != 0)
		goto out;
	if (write(down[1], "g", 1) != 1 || read(up[0], pids, sizeof(pids)) != (ssize_t)sizeof(pids))
		goto out;
	h->sshd = pids[0];
	h->agent = pids[1];
	r = h->sshd > 0 && h->agent > 0 ? 0 : -1;
out:
	close_fd(&up[0]);
	close_fd(&up[1]);
	close_fd(&down[0]);
	close_fd(&down[1]);
	return r;
}

/* A libnftables context made inside h's namespace (its netlink socket belongs there). */
static int
host_nft_open(struct host *h)
{
	if (setns(h->netfd, CLONE_NEWNET) == -1)
		return -errno;
	h->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (h->nft != NULL) {
		(void)nft_ctx_buffer_output(h->nft);
		(void)nft_ctx_buffer_error(h->nft);
	}
	if (setns(self_netfd, CLONE_NEWNET) == -1)
		die("cannot return to the bench's network namespace: %s", strerror(errno));
	return h->nft != NULL ? 0 : -ENOMEM;
}

/* Whether h's nftables hold the table inet gameday: 1 yes, 0 no, -1 the question failed. */
static int
table_state(struct host *h)
{
	const char *err;
	int r;

	if (setns(h->netfd, CLONE_NEWNET) == -1)
		return -1;
	r = nft_run_cmd_from_buffer(h->nft, "list table inet gameday");
	(void)nft_ctx_get_output_buffer(h->nft);	/* Rewinds it for the next command. */
	err = nft_ctx_get_error_buffer(h->nft);
	if (setns(self_netfd, CLONE_NEWNET) == -1)
		die("cannot return to the bench's network namespace: %s", strerror(errno));
	if (r == 0)
		return 1;
	return err != NULL && strstr(err, "No such file or directory") != NULL ? 0 : -1;
}

static size_t
tables_present(void)
{
	size_t n = 0;

	for (size_t i = 0; i < NHOSTS; i++)
		n += table_state(&hosts[i]) == 1;
	return n;
}

static bool
port_open(const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd == -1)
		return false;
	(void)inet_pton(AF_INET, addr, &sin.sin_addr);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	(void)close(fd);
	return ok;
}

/* ssh to h running cmd (words up to NULL), as an operator's script would; stderr to log. */
static pid_t
ssh_spawn(const struct host *h, const char *const *cmd, const char *log)
{
	char target[32], *argv[24];
	size_t n = 0;

	(void)snprintf(target, sizeof(target), "root@%s", h->addr);
	argv[n++] = SSH;
	argv[n++] = "-i";
	argv[n++] = key;
	argv[n++] = "-o";
	argv[n++] = "StrictHostKeyChecking=no";
	argv[n++] = "-o";
	argv[n++] = "UserKnownHostsFile=/dev/null";
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	argv[n++] = target;
	for (; *cmd != NULL && n < 23; cmd++)
		argv[n++] = (char *)*cmd;
	argv[n] = NULL;
	return spawn(argv, log);
}

static void
ssh_log_path(char *buf, size_t len, const struct host *h)
{
	host_path(buf, len, h, ".ssh.log");
	(void)unlink(buf);	/* One round's messages at a time. */
}

/* Before any round: every host takes an ssh login (this also warms sshd up). */
static void
check_ssh_logins(void)
{
	static const char *const cmd[] = { "true", NULL };
	char log[128];
	pid_t pids[NHOSTS];

	for (size_t i = 0; i < NHOSTS; i++) {
		ssh_log_path(log, sizeof(log), &hosts[i]);
		pids[i] = ssh_spawn(&hosts[i], cmd, log);
	}
	for (size_t i = 0; i < NHOSTS; i++)
		if (pids[i] == -1 || wait_exit(pids[i]) != 0)
			die("ssh root@%s true failed (see %s/%s.ssh.log and .sshd.log)",
			    hosts[i].addr, dir, hosts[i].name);
}

static size_t
agents_ok(void)
{
	cJSON *o = NULL, *a;
	size_t n = 0;

	if (h_json(&g, "GET", "/v1/agents", admin, NULL, &o) == 200)
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "agents"))
			n += strcmp(h_str(a, "state"), "ok") == 0;
	cJSON_Delete(o);
	return n;
}

static void
wait_agents_ok(void)
{
	double t0 = h_now_ms();

	while (agents_ok() < NHOSTS) {
		if (h_now_ms() - t0 > WAIT_MS)
			die("only %zu of %d agents are ok (their logs: %s/*.agent.log)", agents_ok(),
			    NHOSTS, dir);
		gd_drain(&g);
		h_sleep_ms(50);
	}
}

static bool
terminal(const char *s)
{
	return strcmp(s, "completed") == 0 || strcmp(s, "aborted") == 0 ||
	    strcmp(s, "failed") == 0 || strcmp(s, "halted") == 0;
}

/* The run's state into state; returns how many of its faults are applied. */
static size_t
run_get(const char *id, char state[32])
{
	char path[64];
	cJSON *o = NULL, *t, *f;
	size_t n = 0;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	(void)h_json(&g, "GET", path, admin, NULL, &o);
	(void)snprintf(state, 32, "%s", h_str(o, "state"));
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "targets"))
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(t, "faults"))
			n += strcmp(h_str(f, "state"), "applied") == 0;
	cJSON_Delete(o);
	return n;
}

/* Starts a run; returns once all its faults are applied and every host holds the table. */
static void
start_applied(char id[32])
{
	char state[32] = "";
	size_t applied = 0, present = 0;
	cJSON *o = NULL;
	double t0;
	long st;

	wait_agents_ok();
	st = h_json(&g, "POST", "/v1/runs", admin, "{\"playbook\":\"" PLAYBOOK "\","
	    "\"reason\":\"bench_halt_ssh\"}", &o);
	(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
	if (st != 201)
		die("POST /v1/runs: HTTP %ld", st);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < WAIT_MS && !terminal(state)) {
		gd_drain(&g);
		if ((applied = run_get(id, state)) == NHOSTS && (present = tables_present()) == NHOSTS)
			return;
		h_sleep_ms(20);
	}
	die("run %s is %s with %zu of %d faults applied and %zu tables present", id, state,
	    applied, NHOSTS, present);
}

/* Waits for the run to end; returns when (ms since t0) and its state in state. */
static double
wait_end(const char *id, double t0, char state[32])
{
	double start = h_now_ms();

	for (;;) {
		(void)run_get(id, state);
		if (terminal(state))
			break;
		if (h_now_ms() - start > WAIT_MS)
			die("run %s still %s after %.0f s", id, state, WAIT_MS / 1000);
		gd_drain(&g);
		h_sleep_ms(10);
	}
	return h_now_ms() - t0;
}

/*
 * From t0 until every host's table is gone (or WAIT_MS): when each was first seen gone,
 * in ms since t0, into gone[].  One sweep asks every host not yet done, then 1 ms of
 * sleep.  Returns how many are gone.
 */
static size_t
watch_tables(double t0, double gone[])
{
	size_t done = 0;

	for (size_t i = 0; i < NHOSTS; i++)
		gone[i] = -1;
	while (done < NHOSTS && h_now_ms() - t0 < WAIT_MS) {
		for (size_t i = 0; i < NHOSTS; i++)
			if (gone[i] < 0 && table_state(&hosts[i]) == 0) {
				gone[i] = h_now_ms() - t0;
				done++;
			}
		if (done < NHOSTS)
			h_sleep_ms(1);
	}
	return done;
}

/*
 * From t0 until every ssh in pids has exited (or WAIT_MS): when each ended, in ms since
 * t0, into ended[] and its exit status into st[].  Nothing but waitpid() in the loop (1 ms
 * apart): the sessions get all the CPU there is.  Returns how many ended.
 */
static size_t
watch_ssh(double t0, const pid_t pids[], double ended[], int st[])
{
	size_t done = 0;

	for (size_t i = 0; i < NHOSTS; i++)
		ended[i] = -1;
	while (done < NHOSTS && h_now_ms() - t0 < WAIT_MS) {
		for (size_t i = 0; i < NHOSTS; i++) {
			int s = 0;

			if (ended[i] < 0 && waitpid(pids[i], &s, WNOHANG) == pids[i]) {
				ended[i] = h_now_ms() - t0;
				st[i] = exit_status(s);
				done++;
			}
		}
		if (done < NHOSTS)
			h_sleep_ms(1);
	}
	return done;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Max and median of n values (sorted in place). */
static struct sample
summary(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct sample){ v[n - 1], n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2 };
}

/* Round A: halt --all; per host, the time until its table is gone. */
static void
round_gameday(struct sample *ret, double *ret_end)
{
	double t0, gone[NHOSTS];
	char id[32], state[32];
	long st;

	start_applied(id);
	t0 = h_now_ms();
	if ((st = h_http(&g, "POST", "/v1/halt", admin, "{\"reason\":\"bench_halt_ssh\"}", NULL,
	    NULL)) != 200)
		die("POST /v1/halt: HTTP %ld", st);
	if (watch_tables(t0, gone) < NHOSTS)
		die("a table still present %.0f s after halt --all", WAIT_MS / 1000);
	*ret = summary(gone, NHOSTS);
	*ret_end = wait_end(id, t0, state);
	if (strcmp(state, "halted") != 0)
		die("run %s ended %s after halt --all", id, state);
	if ((st = h_http(&g, "POST", "/v1/halt/clear", admin, "{}", NULL, NULL)) != 200)
		die("POST /v1/halt/clear: HTTP %ld", st);
}

/*
 * Round B: 20 parallel `ssh root@HOST nft delete table inet gameday`, timed until each
 * returns (what the operator's script waits for); then every table is checked gone, and
 * the run, which gamedayd still believes in, is halted and left to end.
 */
static void
round_ssh(struct sample *ret, char end_state[32])
{
	static const char *const cmd[] = { "nft", "delete", "table", "inet", "gameday", NULL };
	double t0, ended[NHOSTS];
	char id[32], path[64], log[NHOSTS][128];
	pid_t pids[NHOSTS];
	int st[NHOSTS];
	size_t done;

	start_applied(id);
	for (size_t i = 0; i < NHOSTS; i++)
		ssh_log_path(log[i], sizeof(log[i]), &hosts[i]);
	t0 = h_now_ms();
	for (size_t i = 0; i < NHOSTS; i++)
		if ((pids[i] = ssh_spawn(&hosts[i], cmd, log[i])) == -1)
			die("cannot start ssh: %s", strerror(errno));
	done = watch_ssh(t0, pids, ended, st);
	for (size_t i = 0; i < NHOSTS; i++)
		if (ended[i] < 0) {
			(void)kill(pids[i], SIGKILL);
			(void)wait_exit(pids[i]);
		}
	if (done < NHOSTS)
		die("only %zu of %d ssh sessions returned within %.0f s", done, NHOSTS,
		    WAIT_MS / 1000);
	for (size_t i = 0; i < NHOSTS; i++)
		if (st[i] != 0)
			die("ssh root@%s nft delete table inet gameday: exit %d (see %s)",
			    hosts[i].addr, st[i], log[i]);
	if (tables_present() != 0)
		die("a table is still there after its ssh returned 0");
	*ret = summary(ended, NHOSTS);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", id);
	if (h_http(&g, "POST", path, admin, "{\"reason\":\"bench_halt_ssh\"}", NULL, NULL) != 200)
		die("POST %s failed", path);
	(void)wait_end(id, h_now_ms(), end_state);
}

/*
 * One ssh alone (nothing else in flight) running nft on h: what one host's session costs
 * when it has the machine to itself, the floor of the fan-out above.
 */
static double
ssh_alone(const struct host *h)
{
	static const char *const cmd[] = { "nft", "list", "tables", NULL };
	double t0 = h_now_ms();
	char log[128];
	pid_t pid;

	ssh_log_path(log, sizeof(log), h);
	if ((pid = ssh_spawn(h, cmd, log)) == -1 || wait_exit(pid) != 0)
		die("ssh root@%s nft list tables failed (see %s)", h->addr, log);
	return h_now_ms() - t0;
}

static void
load_text(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	(void)snprintf(buf, len, "?");
	if (f != NULL) {
		if (fgets(buf, (int)len, f) != NULL)
			buf[strcspn(buf, "\n")] = '\0';
		(void)fclose(f);
	}
}

/* The bridge and gamedayd on it, tokens, the client key, the hosts; then wait for all. */
static void
setup(void)
{
	char *bin = (char *)h_bin("GD_CTL_BIN", "gamedayd");
	char tokens[NHOSTS * 80 + 64], path[128], *save = NULL, *tok;
	char *argv[] = { bin, "enroll-token", "create", "--state-dir", g.dir, "--count", "20",
	    NULL };
	double t0;

	ns_mount_tmpfs("/run", 16ULL << 20);
	if (mkdir("/run/sshd", 0755) == -1)
		die("mkdir /run/sshd: %s", strerror(errno));
	(void)snprintf(dir, sizeof(dir), "/tmp/gd-bench-halt-XXXXXX");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	if (run_ip("link", "add", BRIDGE, "type", "bridge", NULL) != 0 ||
	    run_ip("addr", "add", "10.77.0.1/24", "dev", BRIDGE, NULL) != 0 ||
	    run_ip("link", "set", BRIDGE, "up", NULL) != 0)
		die("cannot set up the bridge " BRIDGE);
	if (gd_start_on(&g, "10.77.0.1") < 0)
		die("cannot start gamedayd on 10.77.0.1");
	if (h_token(&g, "bench", "admin", admin, sizeof(admin)) != 0 ||
	    h_run(argv, tokens, sizeof(tokens)) != 0)
		die("gamedayd token create / enroll-token create failed");
	(void)snprintf(key, sizeof(key), "%s/id_ed25519", dir);
	if (keygen(key) != 0)
		die("ssh-keygen failed");
	tok = strtok_r(tokens, "\n", &save);
	for (size_t i = 0; i < NHOSTS; i++, tok = strtok_r(NULL, "\n", &save)) {
		(void)snprintf(hosts[i].name, sizeof(hosts[i].name), "bench%02zu", i + 1);
		host_path(path, sizeof(path), &hosts[i], ".token");
		if (tok == NULL || write_file(path, tok, 0600) < 0)
			die("no enrolment token for host %zu", i + 1);
		host_path(path, sizeof(path), &hosts[i], ".state");
		if (mkdir(path, 0700) == -1)
			die("mkdir %s: %s", path, strerror(errno));
		if (host_start(&hosts[i], i) < 0)
			die("host %s did not start", hosts[i].name);
		gd_drain(&g);
	}
	if (h_http(&g, "POST", "/v1/playbooks", admin, pb, NULL, NULL) != 201)
		die("POST /v1/playbooks failed");
	for (size_t i = 0; i < NHOSTS; i++) {
		for (t0 = h_now_ms(); !port_open(hosts[i].addr, 22); h_sleep_ms(20))
			if (h_now_ms() - t0 > WAIT_MS)
				die("sshd of %s not listening (see %s/%s.sshd.log)", hosts[i].name,
				    dir, hosts[i].name);
		if (host_nft_open(&hosts[i]) < 0)
			die("libnftables: no context in %s's namespace", hosts[i].name);
	}
	wait_agents_ok();
	check_ssh_logins();
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == -1 ? -1 : 0;
}

/* Ends, by pid, what setup() started (safe on a half-built setup). */
static void
teardown(void)
{
	double t0 = h_now_ms();
	bool left = true;

	for (size_t i = 0; i < NHOSTS; i++) {
		if (hosts[i].agent > 0)
			(void)kill(hosts[i].agent, SIGTERM);
		if (hosts[i].sshd > 0)
			(void)kill(hosts[i].sshd, SIGTERM);
	}
	/* Their parent (each host's init) reaps them. */
	while (left && h_now_ms() - t0 < 5000) {
		left = false;
		for (size_t i = 0; i < NHOSTS; i++)
			left |= (hosts[i].agent > 0 && kill(hosts[i].agent, 0) == 0) ||
			    (hosts[i].sshd > 0 && kill(hosts[i].sshd, 0) == 0);
		if (left)
			h_sleep_ms(20);
	}
	for (size_t i = 0; i < NHOSTS; i++) {
		if (hosts[i].init > 0) {
			(void)kill(hosts[i].init, SIGKILL);
			(void)wait_exit(hosts[i].init);
		}
		if (hosts[i].nft != NULL)
			nft_ctx_free(hosts[i].nft);
		close_fd(&hosts[i].netfd);
		hosts[i] = (struct host){ .netfd = -1 };
	}
	if (g.pid > 0)
		gd_stop(&g);
	if (g.dir[0] != '\0')
		gd_cleanup(&g);
	if (dir[0] != '\0' && !failed)
		(void)nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	else if (dir[0] != '\0')
		(void)fprintf(stderr, "bench_halt_ssh: keys, configs and logs kept in %s\n", dir);
}

static double
median(double *v, size_t n)
{
	return summary(v, n).p50;
}

int
main(int argc, char **argv)
{
	struct sample a, b;
	double *a_max, *b_max, *alone, a_end, t_setup = h_now_ms();
	char load[128], end_state[32];
	long rounds = 10;
	char *end = NULL;

	if (argc > 1 && ((rounds = strtol(argv[1], &end, 10)) < 1 || rounds > 1000 ||
	    *end != '\0')) {
		(void)fprintf(stderr, "usage: bench_halt_ssh [ROUNDS]   (1..1000, default 10)\n");
		return 2;
	}
	check_prerequisites();
	for (size_t i = 0; i < NHOSTS; i++)
		hosts[i].netfd = -1;
	ns_enter_pid();
	ns_enter_net();
	if ((self_netfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1)
		die("open /proc/self/ns/net: %s", strerror(errno));
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	a_max = calloc((size_t)rounds, sizeof(double));
	b_max = calloc((size_t)rounds, sizeof(double));
	alone = calloc((size_t)rounds, sizeof(double));
	if (a_max == NULL || b_max == NULL || alone == NULL)
		die("out of memory");
	setup();
	load_text(load, sizeof(load));
	printf("bench_halt_ssh: %d hosts (sshd + gameday-agent each), %ld rounds; set up in %.1f "
	    "s; load average before: %s\n", NHOSTS, rounds, (h_now_ms() - t_setup) / 1000, load);
	for (long r = 0; r < rounds; r++) {
		round_gameday(&a, &a_end);
		round_ssh(&b, end_state);
		alone[r] = ssh_alone(&hosts[(size_t)r % NHOSTS]);
		a_max[r] = a.max;
		b_max[r] = b.max;
		printf("round %2ld: halt --all: tables gone max %5.1f ms (p50 %5.1f), run halted at "
		    "%4.0f ms | %d x ssh nft delete: all returned at %6.1f ms (p50 %6.1f), run then "
		    "%s | one ssh alone %5.1f ms\n", r + 1, a.max, a.p50, a_end, NHOSTS, b.max,
		    b.p50, end_state, alone[r]);
		(void)fflush(stdout);
	}
	a.max = median(a_max, (size_t)rounds);
	b.max = median(b_max, (size_t)rounds);
	load_text(load, sizeof(load));
	printf("halt --all, %d hosts: gameday median of max %.0f ms, OpenSSH median of max %.0f "
	    "ms, ratio %.3f (one ssh alone: median %.0f ms; load average after: %s)\n", NHOSTS,
	    a.max, b.max, a.max / b.max, median(alone, (size_t)rounds), load);
	free(a_max);
	free(b_max);
	free(alone);
	teardown();
	return 0;
}
