/*
 * Isolation for agent tests, which run as root: each test moves itself into namespaces it
 * created, so its rules, qdiscs, signals and files touch nothing else on the machine.
 */
#ifndef GD_TEST_NS_H
#define GD_TEST_NS_H

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Skips the whole test program: prints why and exits 77 (ctest SKIP_RETURN_CODE). */
static inline void
ns_skip(const char *why)
{
	printf("SKIP: %s\n", why);
	exit(77);
}

/* A fresh network namespace with lo up; skips when this is not root or unshare fails. */
static inline void
ns_enter_net(void)
{
	struct ifreq ifr;
	int fd;

	if (geteuid() != 0)
		ns_skip("needs root to create a network namespace");
	if (unshare(CLONE_NEWNET) == -1) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		ns_skip("cannot create a network namespace");
	}
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		ns_skip("no socket in the new namespace");
	memset(&ifr, 0, sizeof(ifr));
	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == -1 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) == -1) {
		close(fd);
		ns_skip("cannot bring lo up in the new namespace");
	}
	close(fd);
}

/*
 * A fresh PID namespace (with its own /proc) and mount namespace.  Its pid 1 is a small
 * init that reaps orphans (watchdogs end up there) and exits with the test's status; the
 * caller continues as pid 2, in a child.  (Not as pid 1 itself: the kernel shields pid 1
 * from signals, which breaks LeakSanitizer.)  The original process waits and exits with the
 * same status.  Processes the test starts are the only ones it can see or signal.
 */
static inline void
ns_wait_exit(pid_t worker, bool reap_all)
{
	int status = 0;
	pid_t p;

	for (;;) {
		p = waitpid(reap_all ? -1 : worker, &status, 0);
		if (p == -1 && errno == EINTR)
			continue;
		if (p == -1 || p == worker)
			break;
	}
	_exit(p == worker && WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

static inline void
ns_enter_pid(void)
{
	pid_t child, worker;

	if (geteuid() != 0)
		ns_skip("needs root to create a PID namespace");
	if (unshare(CLONE_NEWPID | CLONE_NEWNS) == -1)
		ns_skip("cannot create PID and mount namespaces");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		ns_skip("cannot make / private in the new mount namespace");
	fflush(NULL);
	if ((child = fork()) == -1)
		ns_skip("fork failed");
	if (child != 0)
		ns_wait_exit(child, false);
	/* pid 1 of the new namespace. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == -1) {
		fprintf(stderr, "mount /proc: %s\n", strerror(errno));
		_exit(1);
	}
	if ((worker = fork()) == -1)
		_exit(1);
	if (worker != 0)
		ns_wait_exit(worker, true);
}

/* A tmpfs of size bytes on dir (created), private to this mount namespace. */
static inline void
ns_mount_tmpfs(const char *dir, unsigned long long size)
{
	char opts[64];

	(void)mkdir(dir, 0755);
	(void)snprintf(opts, sizeof(opts), "size=%llu,mode=0755", size);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) == -1) {
		fprintf(stderr, "mount tmpfs on %s: %s\n", dir, strerror(errno));
		ns_skip("cannot mount a tmpfs");
	}
}

/* Enters a mount namespace of its own, with / private, for tests that mount. */
static inline void
ns_enter_mnt(void)
{
	if (geteuid() != 0)
		ns_skip("needs root to create a mount namespace");
	if (unshare(CLONE_NEWNS) == -1 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		ns_skip("cannot create a private mount namespace");
}

#endif
