/*
 * process.kill and process.pause (agent/fault_proc.c), in a PID namespace of the test's
 * own: the only processes there are this test (pid 1) and the ones it starts.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fault_proc.h"
#include "ns.h"
#include "policy.h"
#include "procfs.h"
#include "test.h"
#include "timeutil.h"

#define MAXKIDS 64

static pid_t kids[MAXKIDS];
static size_t nkids;

/* A child named comm (prctl) that sleeps until signalled. */
static pid_t
spawn(const char *comm)
{
	pid_t pid = fork();

	if (pid == 0) {
		(void)prctl(PR_SET_NAME, comm, 0, 0, 0);
		for (;;)
			pause();
	}
	if (pid > 0 && nkids < MAXKIDS)
		kids[nkids++] = pid;
	return pid;
}

/* A child that execs /bin/sleep with a marker argument, for cmdline matching. */
static pid_t
spawn_sleep(const char *secs)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sleep", "sleep", secs, (char *)NULL);
		_exit(127);
	}
	if (pid > 0 && nkids < MAXKIDS)
		kids[nkids++] = pid;
	return pid;
}

static void
settle(void)
{
	const struct timespec ts = { .tv_nsec = 30 * 1000000L };

	(void)nanosleep(&ts, NULL);
}

static void
kill_all(void)
{
	for (size_t i = 0; i < nkids; i++) {
		(void)kill(kids[i], SIGKILL);
		(void)kill(kids[i], SIGCONT);
		while (waitpid(kids[i], NULL, 0) == -1 && errno == EINTR)
			;
	}
	nkids = 0;
}

/* Reaps children that died; returns how many. */
static size_t
reap(void)
{
	size_t n = 0;

	settle();
	while (waitpid(-1, NULL, WNOHANG) > 0)
		n++;
	return n;
}

static size_t
count_state(char state)
{
	size_t n = 0;

	for (size_t i = 0; i < nkids; i++) {
		struct procstat st;

		if (procfs_stat(kids[i], &st) == 0 && st.state == state)
			n++;
	}
	return n;
}

static struct fault
fault_comm(enum fault_type t, const char *comm, uint32_t count)
{
	struct fault f;

	memset(&f, 0, sizeof(f));
	f.type = t;
	if (t == FAULT_PROCESS_KILL) {
		f.u.kill.match.comm = comm;
		f.u.kill.signo = SIGKILL;
		f.u.kill.count = count;
	} else {
		f.u.pause.match.comm = comm;
		f.u.pause.count = count;
	}
	return f;
}

/* Selects and signals, as the agent does. */
static size_t
run(const struct fault *f, const struct policy *pol, int signo, struct jproc **ret,
    size_t *ret_matched)
{
	struct jproc *v = NULL;
	size_t n = 0, matched = 0, sent = 0;

	ASSERT_INT_EQ(fault_proc_select(f, pol, &v, &n, &matched), 0);
	for (size_t i = 0; i < n; i++)
		sent += fault_proc_signal(&v[i], signo) == 0;
	if (ret != NULL)
		*ret = v;
	else
		gd_free(v);
	if (ret_matched != NULL)
		*ret_matched = matched;
	return sent;
}

static void
test_kill_count(const struct policy *pol)
{
	struct fault f = fault_comm(FAULT_PROCESS_KILL, "gdvictim", 2);
	size_t matched = 0;

	TEST_START("process.kill count 2 of 5 signals exactly 2");
	for (int i = 0; i < 5; i++)
		spawn("gdvictim");
	spawn("gddecoy");
	settle();
	ASSERT_INT_EQ(run(&f, pol, SIGKILL, NULL, &matched), 2);
	ASSERT_INT_EQ(matched, 5);
	ASSERT_INT_EQ(reap(), 2);
	kill_all();
	(void)reap();

	TEST_START("process.kill percent 50 of 4 signals 2; percent 10 of 4 signals 1");
	for (int i = 0; i < 4; i++)
		spawn("gdvictim");
	settle();
	f.u.kill.by_percent = true;
	f.u.kill.percent = 50;
	ASSERT_INT_EQ(run(&f, pol, SIGKILL, NULL, NULL), 2);
	ASSERT_INT_EQ(reap(), 2);
	f.u.kill.percent = 10;
	ASSERT_INT_EQ(run(&f, pol, SIGKILL, NULL, NULL), 1);
	ASSERT_INT_EQ(reap(), 1);
	kill_all();
	(void)reap();

	TEST_START("process.kill with no match selects nothing");
	f = fault_comm(FAULT_PROCESS_KILL, "nosuchproc", 1);
	ASSERT_INT_EQ(run(&f, pol, SIGKILL, NULL, &matched), 0);
	ASSERT_INT_EQ(matched, 0);
}

static void
test_pause(const struct policy *pol)
{
	struct fault f = fault_comm(FAULT_PROCESS_PAUSE, "gdpause", 3);
	struct jproc *v = NULL;
	size_t n;

	TEST_START("process.pause count 3 of 4 stops exactly 3; SIGCONT resumes them");
	for (int i = 0; i < 4; i++)
		spawn("gdpause");
	settle();
	n = run(&f, pol, SIGSTOP, &v, NULL);
	ASSERT_INT_EQ(n, 3);
	settle();
	ASSERT_INT_EQ(count_state('T'), 3);
	for (size_t i = 0; i < n; i++)
		ASSERT_TRUE(fault_proc_is_stopped(&v[i]));
	for (size_t i = 0; i < n; i++)
		ASSERT_INT_EQ(fault_proc_signal(&v[i], SIGCONT), 0);
	settle();
	ASSERT_INT_EQ(count_state('T'), 0);
	for (size_t i = 0; i < n; i++)
		ASSERT_TRUE(!fault_proc_is_stopped(&v[i]));
	gd_free(v);
	kill_all();
	(void)reap();
}

static void
test_matchers(const struct policy *pol)
{
	struct fault f;
	struct jproc *v = NULL;
	size_t n = 0, matched = 0;
	char cg[256];

	TEST_START("cmdline regex matches exec'd processes by their arguments");
	spawn_sleep("1001");
	spawn_sleep("1002");
	spawn_sleep("2001");
	settle();
	memset(&f, 0, sizeof(f));
	f.type = FAULT_PROCESS_PAUSE;
	f.u.pause.match.cmdline = "^sleep 100[0-9]$";
	f.u.pause.count = 10;
	ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
	ASSERT_INT_EQ(matched, 2);
	gd_free(v);

	TEST_START("comm and cmdline together must both hold");
	f.u.pause.match.comm = "sleep";
	f.u.pause.match.cmdline = "2001$";
	ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
	ASSERT_INT_EQ(matched, 1);
	if (n == 1)
		ASSERT_INT_EQ(v[0].pid, kids[nkids - 1]);
	gd_free(v);

	TEST_START("pidfile names exactly one process; a missing pidfile matches nothing");
	{
		char path[] = "/tmp/gd-test-pidfile-XXXXXX", buf[32];
		int fd = mkstemp(path);

		ASSERT_TRUE(fd >= 0);
		(void)snprintf(buf, sizeof(buf), "%d\n", (int)kids[0]);
		ASSERT_TRUE(write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf));
		close(fd);
		memset(&f, 0, sizeof(f));
		f.type = FAULT_PROCESS_PAUSE;
		f.u.pause.match.pidfile = path;
		f.u.pause.count = 5;
		ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
		ASSERT_INT_EQ(n, 1);
		if (n == 1)
			ASSERT_INT_EQ(v[0].pid, kids[0]);
		gd_free(v);
		(void)unlink(path);
		ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
		ASSERT_INT_EQ(n, 0);
		gd_free(v);
	}

	TEST_START("unit matches the cgroup path component, not a substring");
	if (procfs_cgroup(kids[0], cg, sizeof(cg)) == 0 && strcmp(cg, "/") != 0) {
		const char *last = strrchr(cg, '/');

		memset(&f, 0, sizeof(f));
		f.type = FAULT_PROCESS_PAUSE;
		f.u.pause.count = 100;
		f.u.pause.match.unit = last + 1;
		f.u.pause.match.comm = "sleep";
		ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
		ASSERT_INT_EQ(matched, 3);
		gd_free(v);
		f.u.pause.match.unit = "ession.scope-not";
		ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
		ASSERT_INT_EQ(matched, 0);
		gd_free(v);
	} else {
		printf("note: the test runs in the root cgroup; unit matching not exercised\n");
	}
	kill_all();
	(void)reap();
}

static void
test_protected(const struct policy *pol)
{
	struct fault f;
	struct jproc *v = NULL;
	size_t n = 0, matched = 0;
	pid_t sshd;

	TEST_START("pid 1, this process and protected names are never selected");
	sshd = spawn("sshd");
	spawn("gdvictim");
	settle();
	memset(&f, 0, sizeof(f));
	f.type = FAULT_PROCESS_KILL;
	f.u.kill.signo = SIGKILL;
	f.u.kill.count = 1000;
	f.u.kill.match.cmdline = ".*";
	ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
	for (size_t i = 0; i < n; i++) {
		ASSERT_TRUE(v[i].pid != 1);
		ASSERT_TRUE(v[i].pid != getpid());
		ASSERT_TRUE(v[i].pid != sshd);
	}
	ASSERT_INT_EQ(matched, 1);	/* gdvictim only: sshd, pid 1 and this test are not. */
	gd_free(v);
	f.u.kill.match.cmdline = NULL;
	f.u.kill.match.comm = "sshd";
	ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
	ASSERT_INT_EQ(matched, 0);
	gd_free(v);

	/* REL-15: random matchers with decoys; no protected process is ever selected. */
	TEST_START("10,000 random matchers never select a protected process (REL-15)");
	{
		static const char *const comms[] = { "sshd", "gdvictim", "gameday-agent",
			"agent_test_faul", "init", "sleep", "x" };
		static const char *const res[] = { ".*", ".", "^", "$", "agent", "sshd", "gd",
			"a|b", "[a-z]+", "^/", "test", "[[:alpha:]]" };
		size_t bad = 0;

		spawn("gameday-agent");
		settle();
		for (int i = 0; i < 10000; i++) {
			uint32_t rnd = 0;

			if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
				rnd = (uint32_t)i;
			memset(&f, 0, sizeof(f));
			f.type = FAULT_PROCESS_KILL;
			f.u.kill.count = 1000;
			if (rnd & 1)
				f.u.kill.match.comm = comms[(rnd >> 1) % 7];
			if ((rnd & 2) || f.u.kill.match.comm == NULL)
				f.u.kill.match.cmdline = res[(rnd >> 4) % 12];
			if (fault_proc_select(&f, pol, &v, &n, &matched) != 0) {
				bad++;
				continue;
			}
			for (size_t k = 0; k < n; k++) {
				char comm[16] = "";

				(void)procfs_comm(v[k].pid, comm);
				if (v[k].pid == 1 || v[k].pid == getpid() || v[k].pid == sshd ||
				    strcmp(comm, "gameday-agent") == 0)
					bad++;
			}
			gd_free(v);
		}
		ASSERT_INT_EQ(bad, 0);
	}
	kill_all();
	(void)reap();
}

static void
test_reuse(void)
{
	struct jproc p;
	struct procstat st;
	pid_t pid;

	TEST_START("a stale start time means another process: not signalled (PID reuse)");
	pid = spawn("gdreuse");
	settle();
	ASSERT_INT_EQ(procfs_stat(pid, &st), 0);
	p = (struct jproc){ .pid = pid, .start = st.start + 1 };
	ASSERT_INT_EQ(fault_proc_signal(&p, SIGKILL), -ESRCH);
	settle();
	ASSERT_TRUE(procfs_stat(pid, &st) == 0 && st.state != 'Z');
	p.start = st.start;
	ASSERT_INT_EQ(fault_proc_signal(&p, SIGKILL), 0);
	ASSERT_INT_EQ(reap(), 1);
	nkids = 0;

	TEST_START("a process that exited is -ESRCH, and pid 1 is refused");
	ASSERT_INT_EQ(fault_proc_signal(&p, SIGKILL), -ESRCH);
	p = (struct jproc){ .pid = 1, .start = 0 };
	ASSERT_INT_EQ(fault_proc_signal(&p, SIGCONT), -EPERM);
}

static void
test_restart(const struct policy *pol)
{
	struct fault f = fault_comm(FAULT_PROCESS_KILL, "gdsvc", 1);
	struct jproc *v = NULL;
	size_t n = 0, matched = 0;
	int64_t t0, ms;

	TEST_START("expect_restart_within: a new matching process is seen, with its delay");
	spawn("gdsvc");
	settle();
	ASSERT_INT_EQ(fault_proc_select(&f, pol, &v, &n, &matched), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_INT_EQ(fault_proc_signal(&v[0], SIGKILL), 0);
	t0 = gd_mono_ms();
	ASSERT_INT_EQ(reap(), 1);
	nkids = 0;
	spawn("gdsvc");	/* The "supervisor" restarts it. */
	ms = fault_proc_wait_restart(&f, pol, v, n, t0, 2000);
	ASSERT_TRUE(ms >= 0 && ms < 2000);

	TEST_START("expect_restart_within: nothing comes back within the wait: -1");
	kill_all();
	(void)reap();
	t0 = gd_mono_ms();
	ASSERT_INT_EQ(fault_proc_wait_restart(&f, pol, v, n, t0, 200), -1);
	ASSERT_TRUE(gd_mono_ms() - t0 >= 200);
	gd_free(v);
}

int
main(void)
{
	struct policy pol;

	ns_enter_pid();
	policy_init(&pol);
	test_kill_count(&pol);
	test_pause(&pol);
	test_matchers(&pol);
	test_protected(&pol);
	test_reuse();
	test_restart(&pol);
	kill_all();
	return test_done();
}
