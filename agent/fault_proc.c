#include "fault_proc.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "bregex.h"
#include "procfs.h"
#include "timeutil.h"

/* glibc 2.36 has wrappers, but not every build host does; the syscalls are stable. */
static int
sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Whether pid matches every criterion of m.  re is m->cmdline compiled, or NULL. */
static bool
proc_matches(pid_t pid, const struct proc_match *m, const struct bregex *re, pid_t filepid)
{
	char buf[PROCFS_MAX_CMDLINE];

	if (m->pidfile != NULL && pid != filepid)
		return false;
	if (m->comm != NULL && (procfs_comm(pid, buf) < 0 || strcmp(buf, m->comm) != 0))
		return false;
	if (re != NULL && (procfs_cmdline(pid, buf, sizeof(buf)) < 0 || buf[0] == '\0' ||
	    !bregex_match(re, buf)))
		return false;
	if (m->unit != NULL) {
		const char *base;
		size_t n;

		if (procfs_cgroup(pid, buf, sizeof(buf)) < 0)
			return false;
		/* The unit is a component of the cgroup path: .../nginx.service[/...]. */
		n = strlen(m->unit);
		for (base = strstr(buf, m->unit); base != NULL; base = strstr(base + 1, m->unit))
			if (base > buf && base[-1] == '/' && (base[n] == '\0' || base[n] == '/'))
				break;
		if (base == NULL)
			return false;
	}
	return true;
}

static const struct proc_match *
fault_match(const struct fault *f)
{
	return f->type == FAULT_PROCESS_KILL ? &f->u.kill.match : &f->u.pause.match;
}

/*
 * Every unprotected process matching m, with its start time, excluding except[].  On
 * success the caller owns *ret.
 */
static int
scan(const struct proc_match *m, const struct policy *pol, const struct jproc *except,
    size_t nexcept, struct jproc **ret, size_t *ret_n)
{
	struct bregex *re = NULL;
	struct jproc *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	pid_t filepid = 0;
	DIR *d;
	int r = 0;

	if (m->pidfile != NULL && procfs_read_pidfile(m->pidfile, &filepid) < 0) {
		*ret = NULL;	/* No pidfile (or garbage in it): nothing matches. */
		*ret_n = 0;
		return 0;
	}
	if (m->cmdline != NULL && (r = bregex_compile(m->cmdline, &re, NULL)) < 0)
		return r;
	if ((d = opendir("/proc")) == NULL) {
		r = -errno;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		char *end, comm[16];
		long pid = strtol(de->d_name, &end, 10);
		struct procstat st;
		bool skip = false;

		if (*end != '\0' || pid <= 0 || de->d_name[0] == '0')
			continue;
		if (procfs_stat((pid_t)pid, &st) < 0 || st.state == 'Z' || st.state == 'X' ||
		    procfs_comm((pid_t)pid, comm) < 0 ||
		    policy_pid_protected(pol, (pid_t)pid, comm) ||
		    !proc_matches((pid_t)pid, m, re, filepid))
			continue;
		for (size_t i = 0; i < nexcept && !skip; i++)
			skip = except[i].pid == (pid_t)pid && except[i].start == st.start;
		if (skip)
			continue;
		if (n == GD_MAX_SIGNALLED) {
			r = -E2BIG;
			break;
		}
		if (n == cap) {
			struct jproc *nv;

			cap = cap == 0 ? 16 : cap * 2;
			if ((nv = gd_realloc(v, cap * sizeof(*v))) == NULL) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = (struct jproc){ .pid = (pid_t)pid, .start = st.start };
	}
	closedir(d);
out:
	bregex_free(re);
	if (r < 0) {
		gd_free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Fisher-Yates with getrandom(): the first k of v become a uniform random subset. */
static int
shuffle_prefix(struct jproc *v, size_t n, size_t k)
{
	for (size_t i = 0; i < k && i + 1 < n; i++) {
		uint64_t rnd;
		size_t j;
		struct jproc t;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		j = i + (size_t)(rnd % (n - i));
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	return 0;
}

int
fault_proc_select(const struct fault *f, const struct policy *pol, struct jproc **ret,
    size_t *ret_n, size_t *ret_matched)
{
	struct jproc *v = NULL;
	size_t n = 0, want;
	int r;

	if (f->type != FAULT_PROCESS_KILL && f->type != FAULT_PROCESS_PAUSE)
		return -EINVAL;
	if ((r = scan(fault_match(f), pol, NULL, 0, &v, &n)) < 0)
		return r;
	if (f->type == FAULT_PROCESS_KILL && f->u.kill.by_percent) {
		want = (size_t)floor(f->u.kill.percent * (double)n / 100.0);
		if (want == 0 && n > 0)
			want = 1;
	} else {
		want = f->type == FAULT_PROCESS_KILL ? f->u.kill.count : f->u.pause.count;
	}
	if (want > n)
		want = n;
	if ((r = shuffle_prefix(v, n, want)) < 0) {
		gd_free(v);
		return r;
	}
	*ret = v;
	*ret_n = want;
	*ret_matched = n;
	return 0;
}

/* A pidfd for p, or -ESRCH when p is gone or its PID now belongs to another process. */
static int
pidfd_for(const struct jproc *p)
{
	struct procstat st;
	int fd;

	if (p->pid <= 1)
		return -EPERM;
	if ((fd = sys_pidfd_open(p->pid)) == -1)
		return errno == ESRCH ? -ESRCH : -errno;
	/* Checked after opening: from here on the pidfd pins this very process. */
	if (procfs_stat(p->pid, &st) < 0 || st.start != p->start || st.state == 'Z') {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int
fault_proc_signal(const struct jproc *p, int signo)
{
	int fd = pidfd_for(p), r = 0;

	if (fd < 0)
		return fd;
	if (sys_pidfd_send_signal(fd, signo) == -1)
		r = errno == ESRCH ? -ESRCH : -errno;
	close(fd);
	return r;
}

bool
fault_proc_is_stopped(const struct jproc *p)
{
	struct procstat st;
	int r = procfs_stat(p->pid, &st);

	if (r == -ESRCH)
		return false;
	return r < 0 || (st.start == p->start && st.state == 'T');	/* Unknown: maybe. */
}

bool
fault_proc_alive(const struct jproc *p)
{
	struct procstat st;

	return procfs_stat(p->pid, &st) == 0 && st.start == p->start && st.state != 'Z' &&
	    st.state != 'X';
}

int64_t
fault_proc_wait_restart(const struct fault *f, const struct policy *pol,
    const struct jproc *killed, size_t nkilled, int64_t since_mono_ms, uint64_t wait_ms)
{
	const struct timespec tick = { .tv_nsec = 20 * 1000000L };

	for (;;) {
		struct jproc *v = NULL;
		size_t n = 0;
		int64_t now;

		if (scan(fault_match(f), pol, killed, nkilled, &v, &n) == 0) {
			/* A killed process that has not exited yet is still in the list. */
			size_t fresh = 0;

			for (size_t i = 0; i < n; i++)
				fresh += fault_proc_alive(&v[i]);
			gd_free(v);
			if (fresh > 0)
				return gd_mono_ms() - since_mono_ms;
		}
		now = gd_mono_ms();
		if (now - since_mono_ms >= (int64_t)wait_ms)
			return -1;
		(void)nanosleep(&tick, NULL);
	}
}
