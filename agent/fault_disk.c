#include "fault_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal.h"

static int
sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = resolve,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* The allow path that holds path (the longest), or NULL. */
static const char *
allow_root(const struct policy *pol, const char *path, size_t *ret_len)
{
	const char *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < pol->nallow_paths; i++) {
		const char *a = pol->allow_paths[i];
		size_t n = strlen(a);

		while (n > 1 && a[n - 1] == '/')
			n--;
		if (strncmp(path, a, n) != 0 || !(path[n] == '/' || path[n] == '\0' || n == 1))
			continue;
		if (best == NULL || n > best_len) {
			best = a;
			best_len = n;
		}
	}
	*ret_len = best_len;
	return best;
}

/* Opens the directory path beneath its allow path: no "..", no symlinks on the way. */
static int
open_beneath(const struct policy *pol, const char *path)
{
	size_t n;
	const char *root = allow_root(pol, path, &n), *rest;
	int rootfd, fd;

	if (root == NULL)
		return -EPERM;
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	rest = path + n;
	while (*rest == '/')
		rest++;
	if (*rest == '\0')
		return rootfd;
	fd = sys_openat2(rootfd, rest, O_RDONLY | O_DIRECTORY,
	    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
	fd = fd == -1 ? -errno : fd;
	close(rootfd);
	return fd;
}

static uint64_t
size_bytes(const struct gd_size *s, uint64_t total)
{
	return s->is_percent ? (uint64_t)((double)total * s->percent / 100.0) : s->bytes;
}

static int
plan_bytes(const struct fault *f, struct disk_plan *p, char *why, size_t whylen)
{
	uint64_t want, room;

	if (f->u.disk.by_percent) {
		uint64_t target = (uint64_t)((double)p->total * f->u.disk.fill_to_percent / 100.0);

		if (target <= p->used) {
			(void)snprintf(why, whylen, "the filesystem is already %.1f%% full, at or "
			    "past the %.3g%% asked", 100.0 * (double)p->used / (double)p->total,
			    f->u.disk.fill_to_percent);
			return -EALREADY;
		}
		want = target - p->used;
	} else {
		want = size_bytes(&f->u.disk.size, p->total);
	}
	room = p->avail > p->keep_free ? p->avail - p->keep_free : 0;
	if (room == 0) {
		(void)snprintf(why, whylen, "only %llu bytes are available and %llu must stay free",
		    (unsigned long long)p->avail, (unsigned long long)p->keep_free);
		return -ENOSPC;
	}
	p->capped = want > room;
	p->bytes = p->capped ? room : want;
	return 0;
}

int
fault_disk_plan(const struct fault *f, const struct policy *pol, const char *id,
    struct disk_plan *ret, char *why, size_t whylen)
{
	struct disk_plan p;
	struct statvfs vfs;
	struct stat st = { 0 };
	int fd, r;

	if (f->type != FAULT_DISK_FILL || !fault_id_valid(id))
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	if ((fd = open_beneath(pol, f->u.disk.path)) < 0) {
		(void)snprintf(why, whylen, fd == -EPERM ? "%s is not under an allow path of this "
		    "agent" : "cannot open %s beneath its allow path: %s", f->u.disk.path,
		    strerror(-fd));
		return fd == -EPERM ? -EPERM : fd;
	}
	r = fstatvfs(fd, &vfs) == -1 || fstat(fd, &st) == -1 ? -errno : 0;
	close(fd);
	p.dir_dev = (uint64_t)st.st_dev;
	p.dir_ino = (uint64_t)st.st_ino;
	if (r < 0 || vfs.f_blocks == 0) {
		(void)snprintf(why, whylen, "cannot read the free space of %s", f->u.disk.path);
		return r < 0 ? r : -EIO;
	}
	p.total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	p.avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	p.used = p.total - (uint64_t)vfs.f_bfree * vfs.f_frsize;
	if (f->u.disk.keep_free_set)
		p.keep_free = size_bytes(&f->u.disk.keep_free, p.total);
	else
		p.keep_free = p.total / 100 > GD_DEFAULT_KEEP_FREE_BYTES ? p.total / 100 :
		    GD_DEFAULT_KEEP_FREE_BYTES;
	if (snprintf(p.path, sizeof(p.path), "%s/%s%s", f->u.disk.path, GD_FILL_PREFIX, id) >=
	    (int)sizeof(p.path))
		return -ENAMETOOLONG;
	if ((r = plan_bytes(f, &p, why, whylen)) < 0)
		return r;
	*ret = p;
	return 0;
}

/* Splits path into its directory (opened without following symlinks) and its file name. */
static int
open_parent(const char *path, const char **ret_name)
{
	char dir[GD_MAX_PATH_BYTES];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir) ||
	    strncmp(slash + 1, GD_FILL_PREFIX, strlen(GD_FILL_PREFIX)) != 0 ||
	    !fault_id_valid(slash + 1 + strlen(GD_FILL_PREFIX)))
		return -EINVAL;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	fd = sys_openat2(AT_FDCWD, dir[0] == '\0' ? "/" : dir, O_RDONLY | O_DIRECTORY,
	    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd == -1)
		return -errno;
	*ret_name = slash + 1;
	return fd;
}

/*
 * Others write too, and the allocation has its own metadata: check keep_free again once
 * the space is taken, and give back what it lacks.
 */
static int
keep_free_after(int fd, const struct disk_plan *plan, char *why, size_t whylen)
{
	struct statvfs vfs;
	uint64_t avail, lack;

	if (fstatvfs(fd, &vfs) == -1)
		return -errno;
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail >= plan->keep_free)
		return 0;
	lack = plan->keep_free - avail;
	if (lack >= plan->bytes) {
		(void)snprintf(why, whylen, "the filesystem filled up meanwhile: less than "
		    "keep_free (%llu bytes) would stay available", (unsigned long long)plan->keep_free);
		return -ENOSPC;
	}
	return ftruncate(fd, (off_t)(plan->bytes - lack)) == -1 ? -errno : 0;
}

int
fault_disk_apply(const struct disk_plan *plan, char *why, size_t whylen)
{
	const char *name;
	int dfd, fd, r = 0;

	if ((dfd = open_parent(plan->path, &name)) < 0) {
		(void)snprintf(why, whylen, "cannot open the directory of %s: %s", plan->path,
		    strerror(-dfd));
		return dfd;
	}
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		r = -errno;
		(void)snprintf(why, whylen, "cannot create %s: %s", plan->path, strerror(-r));
		close(dfd);
		return r;
	}
	if (plan->bytes > 0 && (r = posix_fallocate(fd, 0, (off_t)plan->bytes)) != 0) {
		r = -r;
		(void)snprintf(why, whylen, "fallocate of %llu bytes in %s failed: %s",
		    (unsigned long long)plan->bytes, plan->path, strerror(-r));
	}
	if (r == 0)
		r = keep_free_after(fd, plan, why, whylen);
	if (r == 0 && fsync(fd) == -1)
		r = -errno;
	close(fd);
	if (r < 0)
		(void)unlinkat(dfd, name, 0);
	close(dfd);
	return r;
}

int
fault_disk_revert(const char *path)
{
	const char *name;
	int dfd, r = 0;

	if ((dfd = open_parent(path, &name)) < 0)
		return dfd == -ENOENT ? 0 : dfd;
	if (unlinkat(dfd, name, 0) == -1 && errno != ENOENT)
		r = -errno;
	close(dfd);
	return r;
}

int
fault_disk_same_dir(const char *path, uint64_t dev, uint64_t ino)
{
	const char *name;
	struct stat st;
	int dfd, r = 0;

	if (dev == 0 && ino == 0)
		return 0;
	if ((dfd = open_parent(path, &name)) < 0)
		return dfd;
	if (fstat(dfd, &st) == -1)
		r = -errno;
	else if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
		r = -ESTALE;
	close(dfd);
	return r;
}

int
fault_disk_status(const char *path, bool *ret_present, uint64_t *ret_bytes)
{
	const char *name;
	struct stat st;
	int dfd, r = 0;

	if ((dfd = open_parent(path, &name)) < 0) {
		if (dfd != -ENOENT)
			return dfd;
		*ret_present = false;
		*ret_bytes = 0;
		return 0;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		r = errno == ENOENT ? 0 : -errno;
		*ret_present = false;
		*ret_bytes = 0;
	} else {
		*ret_present = true;
		*ret_bytes = (uint64_t)st.st_blocks * 512;
	}
	close(dfd);
	return r;
}
