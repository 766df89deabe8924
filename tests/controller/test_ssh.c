/*
 * ssh_run() (controller/ssh.c) against a real OpenSSH server: sshd on 127.0.0.1:2222 in
 * network, mount and PID namespaces of the test's own (tests/agent/ns.h), so nothing
 * touches the machine's network and whatever the server leaves running (the `sleep 30` of
 * the timeout case) ends with the namespace.  /run is a private tmpfs holding /run/sshd.
 * Host and user keys are made by ssh-keygen in a temporary directory (scaffolding: the
 * code under test runs no program).
 *
 * Covers: stdin in, stdout and stderr out, exit statuses; word validation (refused before
 * any connection); host key refused when different, unknown, of another type or @revoked;
 * known_hosts in "[addr]:port" and "addr" forms, with CRLF and without comments; a user key
 * the server does not know, an unreadable one; deadlines against a command that never ends
 * and a server that never speaks; a closed port; 1 MB of stdin (and of stdout, truncated)
 * without deadlock; 4 MB both ways with stdin checked byte for byte, also with 4 KB TCP
 * buffers (set in the test's own namespace) so that sends are cut short all along; 8 calls
 * at once from 8 threads.  Takes about 6 s.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <libssh2.h>

#include "harness.h"
#include "ns.h"
#include "ssh.h"
#include "test.h"

#define SSHD		"/usr/sbin/sshd"
#define SSH_KEYGEN	"/usr/bin/ssh-keygen"
#define PORT		2222
#define TIMEOUT		30000	/* For calls that should succeed (slow CI, ASan). */
#define NTHREADS	8

static char dir[64], host_key[128], other_key[128], user_key[128], wrong_key[128];
static char rsa_key[128], kh_good[128], kh_bad[128], kh_empty[128], kh_plain[128];
static char kh_revoked[128], kh_ecdsa[128], ecdsa_key[128], sshd_log[128];
static pid_t sshd_pid;

#define ASSERT_R(r, want, why)							\
	do {									\
		int _r = (r), _w = (want);					\
		if (_r != _w)							\
			TEST_FAIL("ssh_run: %d (%s), wanted %d (%s); why: %s", _r,	\
			    strerror(-_r), _w, strerror(-_w), (why));		\
	} while (0)

#define ASSERT_WHY(why, needle)							\
	do {									\
		if (strstr((why), (needle)) == NULL)				\
			TEST_FAIL("why \"%s\" does not say \"%s\"", (why), (needle));	\
	} while (0)

/* Starts argv (no shell): stdin and stdout on /dev/null, stderr appended to log (or ours). */
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
wait_exit(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int
keygen(const char *path, const char *type)
{
	char *argv[] = { SSH_KEYGEN, "-q", "-t", (char *)type, "-N", "", "-C", "gd-test", "-f",
	    (char *)path, NULL };
	pid_t pid = spawn(argv, NULL);

	return pid == -1 ? -1 : wait_exit(pid);
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	bool ok;

	if (fd == -1)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len;
	(void)close(fd);
	return ok ? 0 : -1;
}

/* The first line of path (without its newline) into buf. */
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

static void
path_in(char *buf, size_t len, const char *name)
{
	(void)snprintf(buf, len, "%s/%s", dir, name);
}

/* Keys, authorized_keys, sshd_config and the known_hosts variants. */
static int
make_files(char *conf, size_t conflen)
{
	char pub[512], other[512], path[160], text[2048], rsapub[1024], authorized[128];

	path_in(host_key, sizeof(host_key), "host_ed25519");
	path_in(other_key, sizeof(other_key), "other_ed25519");
	path_in(user_key, sizeof(user_key), "id_ed25519");
	path_in(wrong_key, sizeof(wrong_key), "wrong_ed25519");
	path_in(rsa_key, sizeof(rsa_key), "id_rsa");
	path_in(ecdsa_key, sizeof(ecdsa_key), "other_ecdsa");
	path_in(authorized, sizeof(authorized), "authorized_keys");
	path_in(sshd_log, sizeof(sshd_log), "sshd.log");
	if (keygen(host_key, "ed25519") != 0 || keygen(other_key, "ed25519") != 0 ||
	    keygen(user_key, "ed25519") != 0 || keygen(wrong_key, "ed25519") != 0 ||
	    keygen(rsa_key, "rsa") != 0 || keygen(ecdsa_key, "ecdsa") != 0)
		return -1;

	/* The server knows the ed25519 and the RSA user keys, not wrong_key. */
	(void)snprintf(path, sizeof(path), "%s.pub", user_key);
	if (read_line(path, pub, sizeof(pub)) < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s.pub", rsa_key);
	if (read_line(path, rsapub, sizeof(rsapub)) < 0)
		return -1;
	(void)snprintf(text, sizeof(text), "%s\n%s\n", pub, rsapub);
	if (write_file(authorized, text) < 0)
		return -1;

	path_in(conf, conflen, "sshd_config");
	(void)snprintf(text, sizeof(text),
	    "ListenAddress 127.0.0.1:%d\n"
	    "HostKey %s\n"
	    "PidFile none\n"
	    "UsePAM no\n"
	    "StrictModes no\n"
	    "PermitRootLogin prohibit-password\n"
	    "PubkeyAuthentication yes\n"
	    "AuthorizedKeysFile %s\n"
	    "PasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\n"
	    "MaxStartups 64:30:128\n", PORT, host_key, authorized);
	if (write_file(conf, text) < 0)
		return -1;

	/* known_hosts: right key ("[addr]:port"), another key, none, "addr" form, revoked. */
	(void)snprintf(path, sizeof(path), "%s.pub", host_key);
	if (read_line(path, pub, sizeof(pub)) < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s.pub", other_key);
	if (read_line(path, other, sizeof(other)) < 0)
		return -1;
	path_in(kh_good, sizeof(kh_good), "known_hosts");
	path_in(kh_bad, sizeof(kh_bad), "known_hosts.other");
	path_in(kh_empty, sizeof(kh_empty), "known_hosts.empty");
	path_in(kh_plain, sizeof(kh_plain), "known_hosts.plain");
	path_in(kh_revoked, sizeof(kh_revoked), "known_hosts.revoked");
	(void)snprintf(text, sizeof(text), "# made by test_ssh\n\n[127.0.0.1]:%d %s\n", PORT, pub);
	if (write_file(kh_good, text) < 0)
		return -1;
	(void)snprintf(text, sizeof(text), "[127.0.0.1]:%d %s\n", PORT, other);
	if (write_file(kh_bad, text) < 0 || write_file(kh_empty, "") < 0)
		return -1;
	(void)snprintf(path, sizeof(path), "%s.pub", ecdsa_key);
	if (read_line(path, other, sizeof(other)) < 0)
		return -1;
	path_in(kh_ecdsa, sizeof(kh_ecdsa), "known_hosts.ecdsa");
	(void)snprintf(text, sizeof(text), "[127.0.0.1]:%d %s\n", PORT, other);
	if (write_file(kh_ecdsa, text) < 0)
		return -1;
	/* "addr" form, the key without its comment, CRLF line ends, a line libssh2 cannot read. */
	pub[strcspn(pub, " ") + 1 + strcspn(pub + strcspn(pub, " ") + 1, " ")] = '\0';
	(void)snprintf(text, sizeof(text), "10.9.9.9 garbage\r\n127.0.0.1 %s\r\n", pub);
	if (write_file(kh_plain, text) < 0)
		return -1;
	(void)snprintf(text, sizeof(text), "[127.0.0.1]:%d %s\n@revoked * %s\n", PORT, pub, pub);
	return write_file(kh_revoked, text);
}

static bool
port_open(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd == -1)
		return false;
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	(void)close(fd);
	return ok;
}

/* A listener on 127.0.0.1 that never accepts: connections complete, then silence. */
static int
silent_listener(int *ret_port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 8) == -1 || getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

static void
target(struct ssh_target *t, int port, const char *key, const char *kh)
{
	memset(t, 0, sizeof(*t));
	(void)snprintf(t->address, sizeof(t->address), "127.0.0.1");
	t->port = (uint16_t)port;
	(void)snprintf(t->user, sizeof(t->user), "root");
	(void)snprintf(t->key, sizeof(t->key), "%s", key);
	(void)snprintf(t->known_hosts, sizeof(t->known_hosts), "%s", kh);
}

/* Writes text to a sysctl of the test's own network namespace. */
static int
set_sysctl(const char *path, const char *text)
{
	return write_file(path, text);
}

/*
 * 4 MB to `tee FILE`: the command writes stdout while it reads stdin, more than either
 * channel window (2 MB), so window adjusts cross in both directions; FILE (on our own
 * /tmp) must then hold stdin byte for byte.
 */
static void
tee_check(struct ssh_result *res)
{
	char copy[128], why[512];
	const char *const tee[] = { "/usr/bin/tee", copy, NULL };
	size_t n = 4u << 20, len = 0;
	char *in = malloc(n), *back = malloc(n + 1);
	struct ssh_target t;
	double t0 = h_now_ms();
	ssize_t k;
	int fd, r;

	path_in(copy, sizeof(copy), "tee.copy");
	(void)unlink(copy);
	if (in == NULL || back == NULL) {
		TEST_FAIL("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('A' + (i * 7 + i / 4096) % 26);
	target(&t, PORT, user_key, kh_good);
	r = ssh_run(&t, tee, in, n, TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, 0, why);
	ASSERT_INT_EQ(res->exit_status, 0);
	ASSERT_TRUE(res->out_truncated);
	ASSERT_TRUE(memcmp(res->out, in, res->outlen) == 0);
	if ((fd = open(copy, O_RDONLY | O_CLOEXEC)) != -1) {
		while (len <= n && (k = read(fd, back + len, n + 1 - len)) > 0)
			len += (size_t)k;
		(void)close(fd);
	}
	ASSERT_U64_EQ(len, n);
	ASSERT_TRUE(len == n && memcmp(back, in, n) == 0);
	printf("4 MB through tee: %.0f ms\n", h_now_ms() - t0);
out:
	free(in);
	free(back);
}

struct job {
	pthread_t tid;
	char in[64];
	int r;
	char why[256];
	struct ssh_result res;
};

static void *
job_main(void *arg)
{
	static const char *const cat[] = { "/bin/cat", NULL };
	struct job *j = arg;
	struct ssh_target t;

	target(&t, PORT, user_key, kh_good);
	j->r = ssh_run(&t, cat, j->in, strlen(j->in), TIMEOUT, &j->res, j->why, sizeof(j->why));
	return NULL;
}

static void
teardown(void)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (sshd_pid > 0) {
		(void)kill(sshd_pid, SIGTERM);
		(void)wait_exit(sshd_pid);
		sshd_pid = 0;
	}
	if (test_failed_count + test_cur_failed > 0 && (fd = open(sshd_log, O_RDONLY |
	    O_CLOEXEC)) != -1) {
		(void)fprintf(stderr, "--- sshd log ---\n");
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			(void)fwrite(buf, 1, (size_t)n, stderr);
		(void)close(fd);
	}
	if (dir[0] != '\0')
		h_rmtree(dir);
}

int
main(void)
{
	static const char *const cat[] = { "/bin/cat", NULL };
	static const char input[] = "hello\n{\"json\":1}";
	struct ssh_result *res;
	struct ssh_target t;
	struct job *jobs;
	char conf[160], why[512], *big, wmem[64] = "", rmem[64] = "";
	double t0, el;
	int r, lfd, lport, qfd, qport;

	if (geteuid() != 0 || access(SSHD, X_OK) != 0 || access(SSH_KEYGEN, X_OK) != 0) {
		printf("SKIP: needs root, %s and %s (openssh-server, openssh-client)\n", SSHD,
		    SSH_KEYGEN);
		return 77;
	}
	ns_enter_pid();
	ns_enter_net();
	ns_mount_tmpfs("/run", 16ULL << 20);
	(void)read_line("/proc/sys/net/ipv4/tcp_wmem", wmem, sizeof(wmem));
	(void)read_line("/proc/sys/net/ipv4/tcp_rmem", rmem, sizeof(rmem));
	if (mkdir("/run/sshd", 0755) == -1)
		ns_skip("cannot make /run/sshd");
	(void)snprintf(dir, sizeof(dir), "/tmp/gdssh.XXXXXX");
	res = calloc(1, sizeof(*res));
	jobs = calloc(NTHREADS, sizeof(*jobs));
	big = malloc(1 << 20);
	if (res == NULL || jobs == NULL || big == NULL || mkdtemp(dir) == NULL) {
		(void)fprintf(stderr, "test_ssh: out of memory or no temporary directory\n");
		free(big);
		free(jobs);
		free(res);
		return 1;
	}

	TEST_START("setup: keys, sshd on 127.0.0.1:2222");
	ASSERT_INT_EQ(make_files(conf, sizeof(conf)), 0);
	{
		char *argv[] = { SSHD, "-D", "-e", "-f", conf, NULL };

		ASSERT_TRUE((sshd_pid = spawn(argv, sshd_log)) > 0);
	}
	for (t0 = h_now_ms(); !port_open(PORT) && h_now_ms() - t0 < 10000;)
		h_sleep_ms(20);
	ASSERT_TRUE(port_open(PORT));
	lfd = silent_listener(&lport);
	qfd = silent_listener(&qport);
	ASSERT_TRUE(lfd >= 0 && qfd >= 0);
	if (test_cur_failed) {
		test_end_current();
		teardown();
		free(big);
		free(jobs);
		free(res);
		return test_done();
	}

	TEST_START("cat: stdin comes back on stdout exactly, exit 0");
	target(&t, PORT, user_key, kh_good);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, 0, why);
	ASSERT_INT_EQ(res->exit_status, 0);
	ASSERT_STR_EQ(res->out, input);
	ASSERT_U64_EQ(res->outlen, strlen(input));
	ASSERT_U64_EQ(res->errlen, 0);
	ASSERT_TRUE(!res->out_truncated);

	TEST_START("a word with quotes or spaces is refused before anything is connected");
	{
		static const char *const sh[] = { "/bin/sh", "-c", "'exit 3'", NULL };
		static const char *const semi[] = { "/bin/true;id", NULL };
		static const char *const subst[] = { "/bin/echo", "$(id)", NULL };
		static const char *const empty[] = { "/bin/echo", "", NULL };
		static const char *const none[] = { NULL };
		int c;

		target(&t, qport, user_key, kh_good);
		t0 = h_now_ms();
		r = ssh_run(&t, sh, NULL, 0, TIMEOUT, res, why, sizeof(why));
		ASSERT_R(r, -EINVAL, why);
		ASSERT_WHY(why, "word 2");
		ASSERT_TRUE(h_now_ms() - t0 < 1000);
		ASSERT_INT_EQ(res->exit_status, -1);
		ASSERT_R(ssh_run(&t, semi, NULL, 0, TIMEOUT, res, why, sizeof(why)), -EINVAL, why);
		ASSERT_R(ssh_run(&t, subst, NULL, 0, TIMEOUT, res, why, sizeof(why)), -EINVAL, why);
		ASSERT_R(ssh_run(&t, empty, NULL, 0, TIMEOUT, res, why, sizeof(why)), -EINVAL, why);
		ASSERT_R(ssh_run(&t, none, NULL, 0, TIMEOUT, res, why, sizeof(why)), -EINVAL, why);
		/* Not one connection reached the listener the target names. */
		c = accept4(qfd, NULL, NULL, SOCK_CLOEXEC);
		ASSERT_INT_EQ(c, -1);
		ASSERT_INT_EQ(errno, EAGAIN);
		if (c != -1)
			(void)close(c);
	}

	TEST_START("the words allowed are joined by single spaces");
	{
		static const char *const ok[] = { "/usr/bin/gameday-agent", "inject", "--ttl",
		    "5m", "--state-dir=/var/lib/x", "a,b+c@d:e", NULL };
		char cmd[128];

		ASSERT_INT_EQ(ssh_command_line(ok, cmd, sizeof(cmd), why, sizeof(why)), 0);
		ASSERT_STR_EQ(cmd, "/usr/bin/gameday-agent inject --ttl 5m --state-dir=/var/lib/x "
		    "a,b+c@d:e");
		ASSERT_INT_EQ(ssh_command_line(ok, cmd, 20, why, sizeof(why)), -E2BIG);
	}

	TEST_START("/bin/false: the command ran, exit status 1");
	{
		static const char *const f[] = { "/bin/false", NULL };

		target(&t, PORT, user_key, kh_good);
		r = ssh_run(&t, f, NULL, 0, TIMEOUT, res, why, sizeof(why));
		ASSERT_R(r, 0, why);
		ASSERT_INT_EQ(res->exit_status, 1);
	}

	TEST_START("stderr is captured apart from stdout");
	{
		static const char *const ls[] = { "/bin/ls", "/nonexistent-gd", NULL };

		r = ssh_run(&t, ls, NULL, 0, TIMEOUT, res, why, sizeof(why));
		ASSERT_R(r, 0, why);
		ASSERT_TRUE(res->exit_status > 0);
		ASSERT_TRUE(res->errlen > 0);
		ASSERT_TRUE(strstr(res->err, "nonexistent-gd") != NULL);
		ASSERT_U64_EQ(res->outlen, 0);
	}

	TEST_START("a different host key in known_hosts is refused");
	target(&t, PORT, user_key, kh_bad);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, -EPERM, why);
	ASSERT_WHY(why, "host key of 127.0.0.1:2222 does not match known_hosts");
	ASSERT_U64_EQ(res->outlen, 0);

	TEST_START("a host missing from known_hosts is refused (unknown host)");
	target(&t, PORT, user_key, kh_empty);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, -EPERM, why);
	ASSERT_WHY(why, "host key of 127.0.0.1:2222 is unknown");

	TEST_START("known_hosts has only an ECDSA key, the server only ed25519: refused");
	target(&t, PORT, user_key, kh_ecdsa);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, -EPROTO, why);
	ASSERT_WHY(why, "has only ecdsa-sha2-nistp256 keys for it");

	TEST_START("a host key listed @revoked is refused even when also listed as good");
	target(&t, PORT, user_key, kh_revoked);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, -EPERM, why);
	ASSERT_WHY(why, "@revoked");

	TEST_START("known_hosts in \"addr\" form, CRLF, no comment, a bad line: accepted");
	target(&t, PORT, user_key, kh_plain);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, 0, why);
	ASSERT_STR_EQ(res->out, input);

	TEST_START("a user key the server does not know is refused");
	target(&t, PORT, wrong_key, kh_good);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, -EACCES, why);
	ASSERT_WHY(why, "authentication as root with ");
	ASSERT_WHY(why, "refused");

	TEST_START("a private key file libssh2 cannot read: -EINVAL, says which file");
	{
		char junk[128];

		path_in(junk, sizeof(junk), "junk_key");
		ASSERT_INT_EQ(write_file(junk, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n"
		    "-----END OPENSSH PRIVATE KEY-----\n"), 0);
		target(&t, PORT, junk, kh_good);
		r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
		ASSERT_R(r, -EINVAL, why);
		ASSERT_WHY(why, "cannot use private key");
		ASSERT_WHY(why, junk);
	}

	TEST_START("an RSA user key: accepted with libssh2 >= 1.11, refused (auth) before");
	target(&t, PORT, rsa_key, kh_good);
	r = ssh_run(&t, cat, input, strlen(input), TIMEOUT, res, why, sizeof(why));
#if LIBSSH2_VERSION_NUM >= 0x010b00
	ASSERT_R(r, 0, why);
#else
	/* libssh2 1.10 signs with ssh-rsa (SHA-1), which OpenSSH >= 8.8 no longer accepts. */
	ASSERT_TRUE(r == 0 || r == -EACCES);
	if (r != 0)
		ASSERT_WHY(why, "authentication as root");
#endif
	printf("RSA user key with libssh2 %s: %d (%s)\n", LIBSSH2_VERSION, r, r == 0 ? "ok" : why);

	TEST_START("a missing key file: -ENOENT, nothing connected");
	target(&t, qport, "/nonexistent-gd/key", kh_good);
	r = ssh_run(&t, cat, NULL, 0, TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, -ENOENT, why);
	ASSERT_WHY(why, "/nonexistent-gd/key");
	ASSERT_INT_EQ(accept4(qfd, NULL, NULL, SOCK_CLOEXEC), -1);

	TEST_START("sleep 30 with a 1000 ms deadline: -ETIMEDOUT in time");
	{
		static const char *const sl[] = { "/bin/sleep", "30", NULL };

		target(&t, PORT, user_key, kh_good);
		t0 = h_now_ms();
		r = ssh_run(&t, sl, NULL, 0, 1000, res, why, sizeof(why));
		el = h_now_ms() - t0;
		ASSERT_R(r, -ETIMEDOUT, why);
		ASSERT_WHY(why, "timed out after 1000 ms");
		ASSERT_TRUE(el >= 900 && el < 3000);
		printf("sleep 30, deadline 1000 ms: returned after %.0f ms (%s)\n", el, why);
	}

	TEST_START("a server that accepts and never speaks: -ETIMEDOUT in time");
	target(&t, lport, user_key, kh_good);
	t0 = h_now_ms();
	r = ssh_run(&t, cat, NULL, 0, 1000, res, why, sizeof(why));
	el = h_now_ms() - t0;
	ASSERT_R(r, -ETIMEDOUT, why);
	ASSERT_WHY(why, "during the handshake");
	ASSERT_TRUE(el >= 900 && el < 3000);
	printf("silent server, deadline 1000 ms: returned after %.0f ms (%s)\n", el, why);

	TEST_START("a closed port: connection refused");
	target(&t, 1, user_key, kh_good);
	r = ssh_run(&t, cat, NULL, 0, TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, -ECONNREFUSED, why);
	ASSERT_WHY(why, "connect 127.0.0.1:1: Connection refused");

	TEST_START("not an IP literal: -EINVAL");
	target(&t, PORT, user_key, kh_good);
	(void)snprintf(t.address, sizeof(t.address), "localhost");
	ASSERT_R(ssh_run(&t, cat, NULL, 0, TIMEOUT, res, why, sizeof(why)), -EINVAL, why);

	TEST_START("1 MB of stdin to wc -c: all of it arrives");
	{
		static const char *const wc[] = { "/usr/bin/wc", "-c", NULL };

		for (size_t i = 0; i < (1 << 20); i++)
			big[i] = (char)('a' + i % 26);
		target(&t, PORT, user_key, kh_good);
		t0 = h_now_ms();
		r = ssh_run(&t, wc, big, 1 << 20, TIMEOUT, res, why, sizeof(why));
		ASSERT_R(r, 0, why);
		ASSERT_INT_EQ(res->exit_status, 0);
		ASSERT_STR_EQ(res->out, "1048576\n");
		printf("1 MB to wc -c: %.0f ms\n", h_now_ms() - t0);
	}

	TEST_START("1 MB through cat: stdin and stdout at once, stdout cut at 8191 bytes");
	r = ssh_run(&t, cat, big, 1 << 20, TIMEOUT, res, why, sizeof(why));
	ASSERT_R(r, 0, why);
	ASSERT_INT_EQ(res->exit_status, 0);
	ASSERT_U64_EQ(res->outlen, sizeof(res->out) - 1);
	ASSERT_TRUE(res->out_truncated);
	ASSERT_TRUE(memcmp(res->out, big, res->outlen) == 0);

	TEST_START("4 MB through tee: stdin intact while stdout streams back (both windows roll)");
	tee_check(res);

	TEST_START("the same with 4 KB TCP buffers: partial sends all along");
	ASSERT_INT_EQ(set_sysctl("/proc/sys/net/ipv4/tcp_wmem", "4096 4096 4096"), 0);
	ASSERT_INT_EQ(set_sysctl("/proc/sys/net/ipv4/tcp_rmem", "4096 4096 4096"), 0);
	tee_check(res);
	ASSERT_INT_EQ(set_sysctl("/proc/sys/net/ipv4/tcp_wmem", wmem), 0);
	ASSERT_INT_EQ(set_sysctl("/proc/sys/net/ipv4/tcp_rmem", rmem), 0);

	TEST_START("8 calls at once from 8 threads all succeed");
	for (size_t i = 0; i < NTHREADS; i++) {
		(void)snprintf(jobs[i].in, sizeof(jobs[i].in), "thread %zu says hello\n", i);
		ASSERT_INT_EQ(pthread_create(&jobs[i].tid, NULL, job_main, &jobs[i]), 0);
	}
	for (size_t i = 0; i < NTHREADS; i++) {
		(void)pthread_join(jobs[i].tid, NULL);
		ASSERT_R(jobs[i].r, 0, jobs[i].why);
		ASSERT_INT_EQ(jobs[i].res.exit_status, 0);
		ASSERT_STR_EQ(jobs[i].res.out, jobs[i].in);
	}

	test_end_current();
	teardown();
	(void)close(lfd);
	(void)close(qfd);
	free(big);
	free(jobs);
	free(res);
	return test_done();
}
