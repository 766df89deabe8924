#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <linux/sockios.h>
#include <unistd.h>

#include <seccomp.h>

/* Allow-lists, grouped by purpose.  Every name must exist on every architecture we build
 * for; seccomp_syscall_resolve_name() skips the ones that do not. */
static const char *const sc_base[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "close_range",
	"lseek", "fstat", "newfstatat", "statx", "stat", "lstat", "fcntl", "dup", "dup2", "dup3",
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mlock", "munlock",
	"getrandom", "futex", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"rt_sigtimedwait", "sigaltstack", "exit", "exit_group", "getpid", "getppid", "gettid",
	"getuid", "geteuid", "getgid", "getegid", "clock_gettime", "clock_nanosleep",
	"nanosleep", "gettimeofday", "uname", "sysinfo", "sched_getaffinity", "sched_yield",
	"prlimit64", "getrlimit", "setrlimit", "set_robust_list", "rseq", "restart_syscall", "tgkill",
	"poll", "ppoll", "select", "pselect6", "pipe2", "umask", "prctl", "set_tid_address",
	NULL,
};
static const char *const sc_files[] = {
	"openat", "open", "openat2", "getdents64", "mkdir", "mkdirat", "unlink", "unlinkat",
	"rename", "renameat", "renameat2", "fsync", "fdatasync", "flock", "fallocate",
	"ftruncate", "fstatfs", "statfs", "readlink", "readlinkat", "access", "faccessat",
	"faccessat2", NULL,
};
static const char *const sc_procs[] = {
	/* Watchdogs are forked (never exec'd); clone is filtered below.  No kill(): signals
	 * go through pidfds, checked against the process's start time. */
	"fork", "vfork", "wait4", "waitid", "setsid", "pidfd_open", "pidfd_send_signal", NULL,
};
static const char *const sc_net[] = {
	"bind", "listen", "accept", "accept4", "connect", "getsockopt", "setsockopt",
	"getsockname", "getpeername", "sendto", "sendmsg", "recvfrom", "recvmsg", "shutdown",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "timerfd_create",
	"timerfd_settime", "eventfd2", "socketpair", NULL,
};

static int
allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	for (; *names != NULL; names++) {
		int nr = seccomp_syscall_resolve_name(*names), r;

		if (nr == __NR_SCMP_ERROR)
			continue;	/* Not a system call on this architecture. */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			return r;
	}
	return 0;
}

/*
 * Calls allowed only with some arguments: socket() for the families the agent uses;
 * unshare() only for a network namespace (the netem probe runs in a throwaway one); clone()
 * without any namespace flag (fork and threads), and clone3(), whose flags a filter cannot
 * see, answered ENOSYS so that glibc falls back to clone(); ioctl() only for reading
 * terminal and interface facts (stdio's isatty, if_nametoindex), never TIOCSTI.
 */
static int
allow_filtered(scmp_filter_ctx ctx)
{
	static const int families[] = { AF_UNIX, AF_NETLINK, AF_INET, AF_INET6 };
	static const unsigned long ioctls[] = { TCGETS, FIONREAD, FIONBIO, FIOCLEX,
		SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFMTU };
	const scmp_datum_t ns = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
	    CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
	int r;

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]))) < 0)
			return r;
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]))) < 0)
			return r;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, ns, 0))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		return r;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)CLONE_NEWNET));
}

static void
sigsys_debug(int sig, siginfo_t *si, void *uctx)
{
	char buf[96];
	int n;

	(void)sig;
	(void)uctx;
	n = snprintf(buf, sizeof(buf), "sandbox: system call %d is not on the allow-list\n",
	    si->si_syscall);
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		_exit(99);
	_exit(99);
}

int
sandbox_enter(enum sandbox_kind kind)
{
	bool debug = getenv("GD_SANDBOX_DEBUG") != NULL;
	scmp_filter_ctx ctx;
	int r;

	if (kind != SANDBOX_AGENT_ONESHOT && kind != SANDBOX_AGENT_DAEMON)
		return -EINVAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -errno;
	if (debug) {
		struct sigaction sa = { .sa_sigaction = sigsys_debug, .sa_flags = SA_SIGINFO };

		(void)sigaction(SIGSYS, &sa, NULL);
	}
	if ((ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS)) == NULL)
		return -ENOMEM;
	if ((r = allow_list(ctx, sc_base)) < 0 || (r = allow_list(ctx, sc_files)) < 0 ||
	    (r = allow_list(ctx, sc_procs)) < 0 || (r = allow_list(ctx, sc_net)) < 0 ||
	    (r = allow_filtered(ctx)) < 0 || (r = seccomp_load(ctx)) < 0) {
		seccomp_release(ctx);
		return r;
	}
	seccomp_release(ctx);
	return 0;
}

bool
sandbox_enforced(void)
{
	return true;
}
