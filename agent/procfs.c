#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"

/* Reads at most size - 1 bytes of path into buf, NUL-terminated; returns the length. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			int r = -errno;

			close(fd);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int
procfs_stat(pid_t pid, struct procstat *ret)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	unsigned flags;
	int ppid;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((n = read_small(path, buf, sizeof(buf))) < 0)
		return (int)n == -ENOENT ? -ESRCH : (int)n;
	/* comm may hold spaces and parentheses: the fields start after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -EBADMSG;
	if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
	    "%*d %*d %llu", &ret->state, &ppid, &flags, &start) != 4)
		return -EBADMSG;
	ret->ppid = (pid_t)ppid;
	ret->flags = flags;
	ret->start = start;
	return 0;
}

int
procfs_comm(pid_t pid, char ret[16])
{
	char path[64];
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((n = read_small(path, ret, 16)) < 0)
		return (int)n == -ENOENT ? -ESRCH : (int)n;
	if (n > 0 && ret[n - 1] == '\n')
		ret[n - 1] = '\0';
	return 0;
}

int
procfs_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((n = read_small(path, buf, size)) < 0)
		return (int)n == -ENOENT ? -ESRCH : (int)n;
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return 0;
}

int
procfs_cgroup(pid_t pid, char *buf, size_t size)
{
	char path[64], text[4096], *line, *save = NULL;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((n = read_small(path, text, sizeof(text))) < 0)
		return (int)n == -ENOENT ? -ESRCH : (int)n;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "0::", 3) == 0) {
			(void)snprintf(buf, size, "%s", line + 3);
			return 0;
		}
	return -ENOENT;
}

int
procfs_read_pidfile(const char *path, pid_t *ret)
{
	char buf[32];
	uint64_t v;
	ssize_t n;

	if ((n = read_small(path, buf, sizeof(buf))) < 0)
		return (int)n;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (parse_uint(buf, 2, 4194304, &v, NULL) < 0)
		return -EBADMSG;
	*ret = (pid_t)v;
	return 0;
}
