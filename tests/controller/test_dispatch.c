/*
 * SSH dispatch and rescue (controller/dispatch.c) against a real sshd: gamedayd with
 * "ssh_hosts" in its config, the one-shot gameday-agent run over SSH, a real nftables
 * partition in this test's network namespace.
 *
 *   - dispatch: a host without an agent daemon is a target; its fault is injected over SSH
 *     (the fault on stdin), verified, and reverted over SSH when the run ends; a dry run
 *     brings back the plan;
 *   - a host key that does not match known_hosts: nothing is injected, the reason is kept;
 *   - rescue: an agent daemon frozen with SIGSTOP during a halt: after 3 s the controller
 *     runs `gameday-agent revert --all` over SSH, the fault is gone, the run ends halted,
 *     and the audit says what it did.
 *
 * Runs in PID, network, mount and UTS namespaces of its own (ns.h).
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include "harness.h"
#include "ns.h"
#include "test.h"

#define TOK		128
#define SSH_PORT	2222
#define PORT_SSHBOX	7999	/* The port the dispatched fault partitions. */
#define PORT_FROZEN	7998	/* The port the frozen agent's fault partitions. */

static struct gd g;
static char dir[64], op[TOK], et[TOK];
static int lfd[2] = { -1, -1 };

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
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	return r == 0 ? pid : -1;
}

static int
write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok;

	if (fd == -1)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	(void)close(fd);
	return ok ? 0 : -1;
}

static int
read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (f == NULL)
		return -1;
	ok = fgets(buf, (int)len, f) != NULL;
	(void)fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return ok ? 0 : -1;
}

static int
keygen(const char *path)
{
	char *argv[] = { "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gd",
	    "-f", (char *)path, NULL };
	pid_t pid = spawn(argv, NULL);
	int st = 0;

	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* A listener on 127.0.0.1:port, so that "connects" means the partition is not there. */
static int
listen_on(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 256) == -1)
		return -1;
	return fd;
}

static bool
port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pollfd pf;
	socklen_t len = sizeof(int);
	int fd, err = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 2; i++)
		while ((fd = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC)) != -1)
			(void)close(fd);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		(void)close(fd);
		return true;
	}
	pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (errno != EINPROGRESS || poll(&pf, 1, 300) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = -1;
	(void)close(fd);
	return err == 0;
}

static bool
wait_port(int port, bool open, long ms)
{
	double t0 = h_now_ms();

	while (port_open(port) != open && h_now_ms() - t0 < ms)
		h_sleep_ms(50);
	return port_open(port) == open;
}

/* Faults in the journal of state dir dir/name (`gameday-agent list --json`); -1 on error. */
static int
journal_count(const char *name)
{
	static char out[65536];
	char sdir[128];
	char *argv[] = { (char *)h_bin("GD_AGENT_BIN", "gameday-agent"), "--state-dir", sdir,
	    "list", "--json", NULL };
	cJSON *o;
	int n;

	(void)snprintf(sdir, sizeof(sdir), "%s/%s", dir, name);
	if (h_run(argv, out, sizeof(out)) != 0 || (o = cJSON_Parse(out)) == NULL)
		return -1;
	n = cJSON_GetArraySize(o);
	cJSON_Delete(o);
	return n;
}

/* Waits up to ms for run id to reach a state of want ("|a|b|"); the last state seen. */
static const char *
wait_run(const char *id, const char *want, long ms, char buf[32])
{
	return h_wait_state(&g, op, id, want, ms, buf);
}

static long
apply(const char *name, const char *role, int port, const char *duration)
{
	char pb[1024];

	(void)snprintf(pb, sizeof(pb), "{\"apiVersion\":\"gameday/v1\",\"name\":\"%s\","
	    "\"description\":\"d\",\"owner\":\"o\",\"environment\":\"staging\",\"tier\":3,"
	    "\"targets\":{\"tags\":{\"role\":\"%s\"},\"pick\":{\"count\":1}},"
	    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[%d]}],\"duration\":\"%s\"}",
	    name, role, port, duration);
	return h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL);
}

static void
start_run(const char *playbook, bool dry, char id[32])
{
	char body[256];
	cJSON *o = NULL;

	(void)snprintf(body, sizeof(body), "{\"playbook\":\"%s\",\"reason\":\"ssh test\"%s}",
	    playbook, dry ? ",\"dry_run\":true" : "");
	id[0] = '\0';
	if (h_json(&g, "POST", "/v1/runs", op, body, &o) == 201)
		(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
}

/* GET prefix + id + suffix. */
static cJSON *
get3(const char *prefix, const char *id, const char *suffix)
{
	char path[128];
	cJSON *o = NULL;

	(void)snprintf(path, sizeof(path), "%s%s%s", prefix, id, suffix);
	(void)h_json(&g, "GET", path, op, NULL, &o);
	return o;
}

/* Keys, sshd on 127.0.0.1:2222, and gamedayd's config naming three SSH hosts. */
static int
setup(void)
{
	char hk[128], uk[128], ok2[128], kh[128], khbad[128], auth[128], conf[128], cfg[128];
	char pub[512], other[512], path[160], text[4096], log[128];
	const char *agent = h_bin("GD_AGENT_BIN", "gameday-agent");

	(void)snprintf(hk, sizeof(hk), "%s/host_key", dir);
	(void)snprintf(ok2, sizeof(ok2), "%s/other_key", dir);
	(void)snprintf(uk, sizeof(uk), "%s/id_ed25519", dir);
	(void)snprintf(auth, sizeof(auth), "%s/authorized_keys", dir);
	(void)snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
	(void)snprintf(khbad, sizeof(khbad), "%s/known_hosts.bad", dir);
	(void)snprintf(conf, sizeof(conf), "%s/sshd_config", dir);
	(void)snprintf(cfg, sizeof(cfg), "%s/gamedayd.json", dir);
	(void)snprintf(log, sizeof(log), "%s/sshd.log", dir);
	if (keygen(hk) < 0 || keygen(ok2) < 0 || keygen(uk) < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s.pub", uk);
	if (read_line(path, pub, sizeof(pub)) < 0 || write_text(auth, pub) < 0)
		return -1;
	(void)snprintf(text, sizeof(text), "ListenAddress 127.0.0.1:%d\nHostKey %s\n"
	    "PidFile none\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
	    "AuthorizedKeysFile %s\nPasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\nMaxStartups 64:30:128\n", SSH_PORT, hk, auth);
	if (write_text(conf, text) < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s.pub", hk);
	if (read_line(path, pub, sizeof(pub)) < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s.pub", ok2);
	if (read_line(path, other, sizeof(other)) < 0)
		return -1;
	(void)snprintf(text, sizeof(text), "[127.0.0.1]:%d %s\n", SSH_PORT, pub);
	if (write_text(kh, text) < 0)
		return -1;
	(void)snprintf(text, sizeof(text), "[127.0.0.1]:%d %s\n", SSH_PORT, other);
	if (write_text(khbad, text) < 0)
		return -1;
	{
		char *argv[] = { "/usr/sbin/sshd", "-D", "-e", "-f", conf, NULL };

		if (spawn(argv, log) < 0)
			return -1;
	}
	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(SSH_PORT) };
		bool up;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		(void)close(fd);
		if (up)
			break;
		h_sleep_ms(25);
	}
	(void)snprintf(text, sizeof(text), "{\"ssh_hosts\":["
	    "{\"host\":\"sshbox\",\"address\":\"127.0.0.1\",\"port\":%d,\"user\":\"root\","
	    "\"key\":\"%s\",\"known_hosts\":\"%s\",\"tags\":{\"role\":\"ssh\"},\"agent\":\"%s\","
	    "\"state_dir\":\"%s/sshbox\"},"
	    "{\"host\":\"badkey\",\"address\":\"127.0.0.1\",\"port\":%d,\"user\":\"root\","
	    "\"key\":\"%s\",\"known_hosts\":\"%s\",\"tags\":{\"role\":\"bad\"},\"agent\":\"%s\","
	    "\"state_dir\":\"%s/badkey\"},"
	    "{\"host\":\"frozen\",\"address\":\"127.0.0.1\",\"port\":%d,\"user\":\"root\","
	    "\"key\":\"%s\",\"known_hosts\":\"%s\",\"agent\":\"%s\",\"state_dir\":\"%s/state\","
	    "\"dispatch\":false}]}", SSH_PORT, uk, kh, agent, dir, SSH_PORT, uk, khbad, agent,
	    dir, SSH_PORT, uk, kh, agent, dir);
	if (write_text(cfg, text) < 0)
		return -1;
	(void)snprintf(g.config, sizeof(g.config), "%s", cfg);
	return 0;
}

static void
test_dispatch(void)
{
	char id[32], st[32];
	cJSON *o;

	TEST_START("SSH dispatch: a host without an agent gets its fault over SSH, verified, "
	    "and reverted over SSH at the end");
	o = get3("/v1/agents", "", "");
	ASSERT_TRUE(h_json_has(o, "\"host\":\"sshbox\""));
	ASSERT_TRUE(!h_json_has(o, "\"host\":\"frozen\""));	/* Rescue only: no target. */
	cJSON_Delete(o);
	ASSERT_TRUE(h_audit_has(&g, op, "agent.ssh", "\"address\":\"127.0.0.1\""));
	ASSERT_INT_EQ(apply("ssh-part", "ssh", PORT_SSHBOX, "3s"), 201);
	ASSERT_TRUE(wait_port(PORT_SSHBOX, true, 1000));
	start_run("ssh-part", false, id);
	ASSERT_STR_EQ(wait_run(id, "|running|aborted|failed|", 20000, st), "running");
	ASSERT_INT_EQ(journal_count("sshbox"), 1);
	ASSERT_TRUE(wait_port(PORT_SSHBOX, false, 2000));
	ASSERT_STR_EQ(wait_run(id, "|completed|aborted|failed|", 20000, st), "completed");
	ASSERT_INT_EQ(journal_count("sshbox"), 0);
	ASSERT_TRUE(wait_port(PORT_SSHBOX, true, 2000));
	o = get3("/v1/runs/", id, "");
	ASSERT_TRUE(h_json_has(o, "\"state\":\"reverted\""));
	cJSON_Delete(o);
	ASSERT_TRUE(h_audit_has(&g, op, "fault.applied", "\"host\":\"sshbox\""));
	ASSERT_TRUE(h_audit_has(&g, op, "fault.reverted", "\"host\":\"sshbox\""));

	TEST_START("SSH dispatch: a dry run brings the agent's plan back, nothing applied");
	start_run("ssh-part", true, id);
	ASSERT_STR_EQ(wait_run(id, "|completed|aborted|failed|", 20000, st), "completed");
	o = get3("/v1/runs/", id, "");
	ASSERT_TRUE(h_json_has(o, "nft"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(journal_count("sshbox"), 0);

	TEST_START("SSH dispatch: a host key unlike known_hosts: nothing injected, reason kept");
	ASSERT_INT_EQ(apply("ssh-bad", "bad", PORT_SSHBOX, "1m"), 201);
	start_run("ssh-bad", false, id);
	ASSERT_STR_EQ(wait_run(id, "|running|aborted|failed|", 40000, st), "aborted");
	o = get3("/v1/runs/", id, "");
	if (!h_json_has(o, "host key"))
		TEST_FAIL("the reason does not name the host key");
	cJSON_Delete(o);
	ASSERT_TRUE(port_open(PORT_SSHBOX));
	ASSERT_TRUE(journal_count("badkey") <= 0);	/* -1: never even created. */
}

static void
test_rescue(void)
{
	char id[32], st[32], path[128], tok[256];
	double t0, dt;
	pid_t agent;
	cJSON *o;
	int fd;

	TEST_START("rescue: an agent frozen during a halt is reverted over SSH");
	(void)snprintf(path, sizeof(path), "%s/token", dir);
	(void)snprintf(tok, sizeof(tok), "%s", et);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0 && write(fd, tok, strlen(tok)) == (ssize_t)strlen(tok));
	(void)close(fd);
	/* A long lease: only the rescue can take the fault away in time. */
	ASSERT_TRUE((agent = h_agent_start(g.url, dir, "state", "role=frozen", "60s")) > 0);
	for (int i = 0; i < 100; i++) {
		o = get3("/v1/agents", "", "");
		if (h_json_has(o, "\"host\":\"frozen\""))
			i = 100;
		cJSON_Delete(o);
		h_sleep_ms(50);
	}
	ASSERT_INT_EQ(apply("frozen-part", "frozen", PORT_FROZEN, "10m"), 201);
	ASSERT_TRUE(wait_port(PORT_FROZEN, true, 1000));
	start_run("frozen-part", false, id);
	ASSERT_STR_EQ(wait_run(id, "|running|aborted|failed|", 20000, st), "running");
	ASSERT_TRUE(wait_port(PORT_FROZEN, false, 2000));
	ASSERT_INT_EQ(kill(agent, SIGSTOP), 0);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", id);
	t0 = h_now_ms();
	ASSERT_INT_EQ(h_http(&g, "POST", path, op, "{\"reason\":\"test\"}", NULL, NULL), 200);
	ASSERT_STR_EQ(wait_run(id, "|halted|failed|", 20000, st), "halted");
	dt = h_now_ms() - t0;
	(void)printf("  halt to halted through the SSH rescue: %.0f ms\n", dt);
	ASSERT_TRUE(dt < 3000 + 1000 + 5000);
	ASSERT_TRUE(port_open(PORT_FROZEN));
	ASSERT_INT_EQ(journal_count("state"), 0);
	ASSERT_TRUE(h_audit_has(&g, op, "ssh.rescue", "\"host\":\"frozen\""));
	o = get3("/v1/runs/", id, "/events");
	ASSERT_TRUE(h_json_has(o, "reverted by the controller over SSH"));
	cJSON_Delete(o);

	TEST_START("rescue: the agent, thawed, finds its journal empty and polls on");
	ASSERT_INT_EQ(kill(agent, SIGCONT), 0);
	h_sleep_ms(1500);
	ASSERT_INT_EQ(journal_count("state"), 0);
	ASSERT_TRUE(port_open(PORT_FROZEN));
	(void)kill(agent, SIGTERM);
	(void)waitpid(agent, NULL, 0);
}

int
main(void)
{
	if (geteuid() != 0 || access("/usr/sbin/sshd", X_OK) != 0 ||
	    access("/usr/bin/ssh-keygen", X_OK) != 0) {
		printf("SKIP: needs root, sshd and ssh-keygen (openssh-server, openssh-client)\n");
		return 77;
	}
	ns_enter_pid();
	ns_enter_net();
	ns_mount_tmpfs("/run", 16ULL << 20);
	if (mkdir("/run/sshd", 0755) == -1)
		ns_skip("cannot make /run/sshd");
	/* The agent daemon's host name is this namespace's: "frozen". */
	if (unshare(CLONE_NEWUTS) == -1 || sethostname("frozen", 6) == -1)
		ns_skip("cannot make a UTS namespace");
	if (access(h_bin("GD_CTL_BIN", ""), X_OK) != 0 ||
	    access(h_bin("GD_AGENT_BIN", ""), X_OK) != 0)
		ns_skip("needs GD_CTL_BIN (gamedayd) and GD_AGENT_BIN (gameday-agent)");
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	(void)snprintf(dir, sizeof(dir), "/tmp/gd-test-dispatch-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	lfd[0] = listen_on(PORT_SSHBOX);
	lfd[1] = listen_on(PORT_FROZEN);
	TEST_START("setup: sshd, gamedayd with three SSH hosts, tokens");
	ASSERT_TRUE(lfd[0] >= 0 && lfd[1] >= 0);
	ASSERT_INT_EQ(setup(), 0);
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	if (!test_cur_failed) {
		test_dispatch();
		test_rescue();
	}
	gd_drain(&g);
	gd_stop(&g);
	if (test_failed_count == 0 && !test_cur_failed) {
		gd_cleanup(&g);
		h_rmtree(dir);
	} else {
		(void)fprintf(stderr, "kept %s (sshd.log, agent.log) and %s\n", dir, g.dir);
	}
	return test_done();
}
