#include "watchdog.h"

#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fault_burn.h"
#include "fault_proc.h"
#include "log.h"
#include "procfs.h"
#include "proxy.h"
#include "timeutil.h"

#define WD_READY_FD	3	/* In the watchdog: the pipe to the agent that started it. */
#define WD_KEEP_FD	4	/* In the watchdog: the descriptor handed over (the proxy's). */
#define WD_READY_TIMEOUT_MS	30000

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* What the watchdog tells the agent that started it, once it holds the fault. */
struct wd_ready {
	pid_t pid;
	uint8_t status;		/* 0, or the errno that kept it from holding the fault. */
};

/* What the watchdog holds while it waits for the TTL. */
struct wd_hold {
	struct burn *burn;
	pthread_t proxy_thread;
	bool proxy_running;
	volatile sig_atomic_t proxy_stop;
	int proxy_fd;
	uint64_t delay_ms, jitter_ms;
};

static void *
proxy_thread_main(void *arg)
{
	struct wd_hold *h = arg;
	int r = proxy_run(h->proxy_fd, h->delay_ms, h->jitter_ms, GD_PROXY_MARK, &h->proxy_stop);

	if (r < 0)
		log_warnx("latency proxy stopped: %s", strerror(-r));
	return NULL;
}

/* The proxy holds two descriptors per connection: lift the soft limit to the hard one. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
hold_start(struct wd_hold *h, const struct fault *f)
{
	uint64_t bytes;
	bool locked;
	int r;

	switch (f->type) {
	case FAULT_CPU_BURN:
		return fault_burn_cpu_start(f->u.cpu.cores, f->u.cpu.load_percent, &h->burn);
	case FAULT_MEMORY_HOG:
		if ((r = fault_burn_mem_bytes(&f->u.mem.size, &bytes)) < 0)
			return r;
		return fault_burn_mem_start(bytes, &h->burn, &locked);
	case FAULT_NET_LATENCY:
		if (h->proxy_fd < 0)
			return 0;	/* The netem backend: nothing to hold. */
		h->delay_ms = f->u.net.delay_ms;
		h->jitter_ms = f->u.net.jitter_ms;
		raise_nofile();
		if ((r = pthread_create(&h->proxy_thread, NULL, proxy_thread_main, h)) != 0)
			return -r;
		h->proxy_running = true;
		return 0;
	default:
		return 0;
	}
}

static void
hold_stop(struct wd_hold *h)
{
	h->burn = fault_burn_stop(h->burn);
	if (h->proxy_running) {
		h->proxy_stop = 1;
		(void)pthread_join(h->proxy_thread, NULL);
		h->proxy_running = false;
	}
}

/* Records how long the killed processes took to come back. */
static void
record_restart(const char *state_dir, const struct policy *pol, const char *id, int64_t ms)
{
	struct agent a;
	struct jentry *e = NULL;

	if (agent_open(&a, pol, state_dir) < 0)
		return;
	if (journal_get(a.j, id, &e) == 0) {
		e->restart_ms = ms;
		(void)journal_write(a.j, e);
		jentry_free(e);
	}
	agent_close(&a);
}

/* Reverts id through the ordinary path; the journal lock serialises it with everyone. */
/*
 * Reverts id through the ordinary path; the journal lock serialises it with everyone.
 * Returns true when the fault is gone (reverted now, or by someone else before).
 */
static bool
revert_now(const char *state_dir, const struct policy *pol, const char *id)
{
	char why[256];
	struct agent a;
	int r;

	if ((r = agent_open(&a, pol, state_dir)) < 0) {
		log_warnx("fault=%s cannot open the journal: %s", id, strerror(-r));
		return false;
	}
	r = agent_revert(&a, id, why, sizeof(why));
	if (r < 0 && r != -ENOENT)
		log_warnx("fault=%s revert failed, will retry: %s", id, why);
	agent_close(&a);
	return r == 0 || r == -ENOENT;
}

/*
 * The TTL has come, or someone other than a reverter stopped us: revert, and keep trying
 * (1 s, 2 s, 4 s ... 30 s apart) until the entry is gone.  Nothing else would retry it.
 */
static _Noreturn void
revert_until_gone(struct wd_hold *h, const struct agent *a, const char *id,
    const char *entry_path)
{
	int64_t backoff = 1000;

	for (;;) {
		bool gone = revert_now(a->state_dir, &a->pol, id);

		/* Whatever we hold ends only now: the redirect of a proxy is gone first. */
		hold_stop(h);
		if (gone || (access(entry_path, F_OK) == -1 && errno == ENOENT))
			_exit(0);
		sleep_ms(backoff);
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	}
}

/* A SIGTERM from a revert comes after the entry says "reverting"; any other is not one. */
static bool
revert_under_way(const struct agent *a, const char *id)
{
	enum jstate st;

	return journal_peek_state(a->state_dir, id, &st) < 0 || st == JSTATE_REVERTING ||
	    st == JSTATE_REVERT_FAILED;
}

/* The watchdog's life: hold, wait for the TTL or SIGTERM, act. */
static _Noreturn void
watchdog_main(struct agent *a, const struct jentry *e, const struct fault *f, int keep_fd)
{
	struct wd_hold h = { .proxy_fd = keep_fd };
	struct fault_net *net = NULL;
	bool restart_watch = f->type == FAULT_PROCESS_KILL && f->u.kill.expect_restart_ms > 0;
	int64_t kill_mono = gd_mono_ms(), next_renew = 0;
	/* Both clocks: the wall clock may be stepped back; the TTL must not grow with it. */
	int64_t mono_deadline = gd_mono_ms() + (e->expires_ms - gd_now_ms());
	char entry_path[GD_MAX_PATH_BYTES + 64];
	struct wd_ready ready = { 0 };
	sigset_t set;
	int r;

	(void)snprintf(entry_path, sizeof(entry_path), "%s/journal/%s.json", a->state_dir, e->id);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
	r = hold_start(&h, f);
	/* One write of pid and status: atomic on a pipe, so it is never read interleaved. */
	ready.pid = getpid();
	ready.status = r < 0 ? (uint8_t)-r : 0;
	if (write(WD_READY_FD, &ready, sizeof(ready)) != (ssize_t)sizeof(ready))
		r = -EPIPE;	/* Nobody waits for us: the inject gave up. */
	close(WD_READY_FD);
	if (r < 0)
		_exit(1);
	for (;;) {
		int64_t left = e->expires_ms - gd_now_ms(), mleft = mono_deadline - gd_mono_ms();
		int64_t wait;
		struct timespec ts;
		siginfo_t si;

		left = mleft < left ? mleft : left;
		if (left <= 0)
			break;
		/*
		 * No entry, no fault: a sweep reverted it, perhaps after the command that started
		 * this watchdog died before it could write down who we are.
		 */
		if (access(entry_path, F_OK) == -1 && errno == ENOENT) {
			hold_stop(&h);
			fault_net_close(net);
			_exit(0);
		}
		if (h.proxy_running && gd_mono_ms() >= next_renew) {
			/* Keep the redirect alive only as long as the proxy is. */
			uint64_t lease = (uint64_t)left < GD_PROXY_LEASE_MS ? (uint64_t)left :
			    GD_PROXY_LEASE_MS;

			if (net != NULL || fault_net_open(&net) == 0)
				(void)fault_net_renew(net, e->id, lease);
			next_renew = gd_mono_ms() + 1000;
		}
		if (restart_watch) {
			int64_t ms = fault_proc_wait_restart(f, &a->pol, e->procs, e->nprocs,
			    kill_mono, 0);

			if (ms >= 0 || gd_mono_ms() - kill_mono > (int64_t)f->u.kill.expect_restart_ms) {
				restart_watch = false;
				if (ms >= 0)
					record_restart(a->state_dir, &a->pol, e->id, ms);
			}
		}
		wait = restart_watch ? 20 : 1000;
		wait = left < wait ? left : wait;
		ts = (struct timespec){ .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L };
		if (sigtimedwait(&set, &si, &ts) <= 0)
			continue;
		if (revert_under_way(a, e->id)) {
			/* The reverter holds the lock and does the rest: just let go. */
			hold_stop(&h);
			fault_net_close(net);
			_exit(0);
		}
		/* A service manager or a session ending: the fault must not lose its guard. */
		log_warnx("fault=%s watchdog stopped by signal %d, reverting first", e->id,
		    si.si_signo);
		break;
	}
	net = fault_net_close(net);
	revert_until_gone(&h, a, e->id, entry_path);
}

/* Moves fd to target, whatever other descriptor sits there. */
static int
move_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0) == -1 ? -errno : 0;
	if (dup2(fd, target) == -1)
		return -errno;
	close(fd);
	return 0;
}

/* In the grandchild: only the descriptors it needs, stdio on /dev/null, its own session. */
static int
detach(int ready_fd, int keep_fd)
{
	int hi_ready, hi_keep = -1, null;

	/* Park both above 0..4 first, so that moving one cannot close the other. */
	if ((hi_ready = fcntl(ready_fd, F_DUPFD_CLOEXEC, WD_KEEP_FD + 1)) == -1 ||
	    (keep_fd >= 0 && (hi_keep = fcntl(keep_fd, F_DUPFD_CLOEXEC, WD_KEEP_FD + 1)) == -1))
		return -errno;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -errno;
	for (int i = 0; i < 3; i++)
		if (dup2(null, i) == -1)
			return -errno;
	if (move_fd(hi_ready, WD_READY_FD) < 0 || (hi_keep >= 0 && move_fd(hi_keep,
	    WD_KEEP_FD) < 0))
		return -EBADF;
	if (syscall(SYS_close_range, hi_keep >= 0 ? WD_KEEP_FD + 1 : WD_KEEP_FD, ~0U, 0) == -1)
		return -errno;
	return setsid() == -1 ? -errno : 0;
}

int
watchdog_start(struct agent *a, const struct jentry *e, const struct fault *f, int keep_fd,
    struct jproc *ret, char *why, size_t whylen)
{
	struct wd_ready ready = { 0 };
	struct procstat st;
	struct pollfd pfd;
	int p[2], wstatus, r = 0;
	pid_t child, wd;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -errno;
	fflush(NULL);
	if ((child = fork()) == -1) {
		r = -errno;
		goto out;
	}
	if (child == 0) {
		/* The middle process: fork the watchdog and exit, so that init adopts it. */
		pid_t g = fork();

		if (g == 0) {
			close(p[0]);
			if (detach(p[1], keep_fd) < 0)
				_exit(1);
			watchdog_main(a, e, f, keep_fd >= 0 ? WD_KEEP_FD : -1);
		}
		_exit(g > 0 ? 0 : 1);
	}
	close(p[1]);
	p[1] = -1;
	while (waitpid(child, &wstatus, 0) == -1 && errno == EINTR)
		;
	/*
	 * Not forever, with the journal locked: a watchdog that cannot even start holding its
	 * fault in 30 s (a memory.hog thrashing) is a failed inject.  When we close the pipe,
	 * its report kills it with SIGPIPE.
	 */
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, WD_READY_TIMEOUT_MS) != 1 ||
	    read(p[0], &ready, sizeof(ready)) != (ssize_t)sizeof(ready) || ready.pid <= 1) {
		r = -ECHILD;
		(void)snprintf(why, whylen, "the watchdog did not start");
		goto out;
	}
	wd = ready.pid;
	if (ready.status != 0 || procfs_stat(wd, &st) < 0) {
		r = ready.status != 0 ? -(int)ready.status : -ESRCH;
		(void)snprintf(why, whylen, "the watchdog could not hold the fault: %s",
		    strerror(-r));
		goto out;
	}
	*ret = (struct jproc){ .pid = wd, .start = st.start };
out:
	close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	return r;
}

/* Whether pid runs the same program as we do: a watchdog is a fork of the agent. */
static bool
is_agent(pid_t pid)
{
	char mine[16], theirs[16];

	return procfs_comm(getpid(), mine) == 0 && procfs_comm(pid, theirs) == 0 &&
	    strcmp(mine, theirs) == 0;
}

int
watchdog_stop(const struct jproc *w)
{
	int r, fd;
	struct pollfd pfd;

	if (w->pid == 0 || w->pid == getpid())
		return 0;
	if ((fd = (int)syscall(SYS_pidfd_open, w->pid, 0)) == -1)
		return 0;	/* Gone already. */
	if (!fault_proc_alive(w) || !is_agent(w->pid)) {
		close(fd);
		return 0;	/* The PID is someone else's now, or the journal lies. */
	}
	r = (int)syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	/* A pidfd becomes readable when the process exits. */
	if (r == 0 && poll(&pfd, 1, 2000) == 0) {
		(void)syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
		(void)poll(&pfd, 1, 2000);
	}
	close(fd);
	return fault_proc_alive(w) ? -EBUSY : 0;
}
