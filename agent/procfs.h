/*
 * Reading /proc: a process's state, parent, flags and start time, its comm, cmdline and
 * cgroup.  Every reader takes a bounded amount and treats the text as untrusted (a process
 * chooses its own comm and cmdline).
 */
#ifndef GD_PROCFS_H
#define GD_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCFS_PF_KTHREAD	0x00200000U	/* include/linux/sched.h */
#define PROCFS_MAX_CMDLINE	4096		/* Bytes of cmdline a matcher sees. */

struct procstat {
	char state;		/* R, S, D, T, t, Z, X, I ... */
	pid_t ppid;
	uint32_t flags;
	uint64_t start;		/* Clock ticks after boot: with the pid, a process's identity. */
};

int procfs_stat(pid_t pid, struct procstat *ret);
/* comm, NUL-terminated, at most 15 bytes plus NUL. */
int procfs_comm(pid_t pid, char ret[16]);
/* The arguments joined by single spaces, cut at PROCFS_MAX_CMDLINE - 1 bytes. */
int procfs_cmdline(pid_t pid, char *buf, size_t size);
/* The unified (v2) cgroup path, such as /system.slice/nginx.service. */
int procfs_cgroup(pid_t pid, char *buf, size_t size);
/* The PID in a pidfile: one decimal number, optional trailing newline. */
int procfs_read_pidfile(const char *path, pid_t *ret);

#endif
