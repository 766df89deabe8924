/*
 * disk.fill: one file, .gameday-fill-<id>, created with fallocate() in the fault's
 * directory, which must lie under one of the agent's allow paths.  The directory is opened
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the allow path, so neither ".."
 * nor a symlink planted by someone else can lead the file anywhere else.  The size is
 * computed from statvfs() so that at least keep_free stays available (default: the larger
 * of 1% of the filesystem and 100MB); the fill never takes more.
 */
#ifndef GD_FAULT_DISK_H
#define GD_FAULT_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "fault.h"
#include "policy.h"

#define GD_FILL_PREFIX	".gameday-fill-"
#define GD_DEFAULT_KEEP_FREE_BYTES	(100ULL * 1024 * 1024)

/* What a fill would do: the file, the bytes it adds, and the filesystem's figures. */
struct disk_plan {
	char path[GD_MAX_PATH_BYTES];	/* The file to create. */
	uint64_t bytes;			/* Its size. */
	uint64_t total, avail, used;	/* Filesystem bytes before the fill. */
	uint64_t keep_free;		/* Bytes that must stay available. */
	bool capped;			/* keep_free made the fill smaller than asked. */
	uint64_t dir_dev, dir_ino;	/* The directory the file goes in. */
};

/*
 * Plans fault f (disk.fill) for id.  -EPERM when the path is outside every allow path,
 * -ENOSPC when keep_free leaves nothing to fill, -EALREADY when the filesystem is already
 * past fill_to_percent; a reason goes in why.
 */
int fault_disk_plan(const struct fault *f, const struct policy *pol, const char *id,
    struct disk_plan *ret, char *why, size_t whylen);

/* Creates and allocates plan->path.  On any failure nothing is left behind. */
int fault_disk_apply(const struct disk_plan *plan, char *why, size_t whylen);

/* Removes the fill file at path; 0 when it is already gone.  Refuses other names. */
int fault_disk_revert(const char *path);

/*
 * Whether the directory of path is still the one the fill was made in (dev and ino from
 * the plan): -ESTALE when a mount now covers it or it was replaced, so that a revert does
 * not report a file gone that is only hidden.  0 when dev and ino are 0 (not recorded).
 */
int fault_disk_same_dir(const char *path, uint64_t dev, uint64_t ino);

/* Whether the fill file at path exists, and its allocated size. */
int fault_disk_status(const char *path, bool *ret_present, uint64_t *ret_bytes);

#endif
