/*
 * disk.fill (agent/fault_disk.c) on tmpfs mounts the test makes in a mount namespace of its
 * own: fill targets, keep_free, the allow-list against ".." and symlinks, revert.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fault_disk.h"
#include "ns.h"
#include "policy.h"
#include "test.h"

#define ROOT	"/run/gd-test-disk"
#define FS	ROOT "/fs"	/* 256 MiB tmpfs, the allowed one. */
#define OTHER	ROOT "/other"	/* Another tmpfs, not allowed. */
#define ID	"00112233445566aa"
#define MiB	(1024ULL * 1024)

static double
used_percent(const char *path)
{
	struct statvfs v;

	if (statvfs(path, &v) == -1)
		return -1;
	return 100.0 * (double)(v.f_blocks - v.f_bfree) / (double)v.f_blocks;
}

static uint64_t
avail_bytes(const char *path)
{
	struct statvfs v;

	return statvfs(path, &v) == -1 ? 0 : (uint64_t)v.f_bavail * v.f_frsize;
}

static struct fault
fill_percent(const char *path, double pct)
{
	struct fault f;

	memset(&f, 0, sizeof(f));
	f.type = FAULT_DISK_FILL;
	f.u.disk.path = path;
	f.u.disk.by_percent = true;
	f.u.disk.fill_to_percent = pct;
	return f;
}

static void
test_fill(const struct policy *pol)
{
	struct fault f = fill_percent(FS, 50);
	struct disk_plan plan;
	char why[256] = "";
	bool present;
	uint64_t bytes;

	TEST_START("fill_to_percent 50 lands within 0.5 point of 50%");
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)), 0);
	ASSERT_INT_EQ(fault_disk_apply(&plan, why, sizeof(why)), 0);
	printf("fill 50%%: %.2f%% used, %llu bytes added\n", used_percent(FS),
	    (unsigned long long)plan.bytes);
	ASSERT_TRUE(used_percent(FS) > 49.5 && used_percent(FS) < 50.5);
	ASSERT_INT_EQ(fault_disk_status(plan.path, &present, &bytes), 0);
	ASSERT_TRUE(present);
	ASSERT_TRUE(bytes >= plan.bytes);

	TEST_START("a second fill past the current level is -EALREADY");
	f.u.disk.fill_to_percent = 40;
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, "00112233445566ab", &plan, why, sizeof(why)),
	    -EALREADY);
	ASSERT_TRUE(strstr(why, "already") != NULL);

	TEST_START("revert removes the file and is idempotent");
	(void)snprintf(plan.path, sizeof(plan.path), FS "/" GD_FILL_PREFIX ID);
	ASSERT_INT_EQ(fault_disk_revert(plan.path), 0);
	ASSERT_INT_EQ(fault_disk_revert(plan.path), 0);
	ASSERT_INT_EQ(fault_disk_status(plan.path, &present, &bytes), 0);
	ASSERT_TRUE(!present);
	ASSERT_TRUE(used_percent(FS) < 1);
}

static void
test_keep_free(const struct policy *pol)
{
	struct fault f = fill_percent(FS, 100);
	struct disk_plan plan;
	char why[256] = "";

	TEST_START("fill_to_percent 100 stops at the default keep_free (100MB here)");
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)), 0);
	ASSERT_TRUE(plan.capped);
	ASSERT_INT_EQ(plan.keep_free, 100 * MiB);
	ASSERT_INT_EQ(fault_disk_apply(&plan, why, sizeof(why)), 0);
	printf("fill 100%% with keep_free 100MB: %llu bytes still available\n",
	    (unsigned long long)avail_bytes(FS));
	ASSERT_TRUE(avail_bytes(FS) >= 100 * MiB);
	ASSERT_INT_EQ(fault_disk_revert(plan.path), 0);

	TEST_START("an explicit keep_free is honoured; size fills are capped by it too");
	memset(&f, 0, sizeof(f));
	f.type = FAULT_DISK_FILL;
	f.u.disk.path = FS;
	f.u.disk.size = (struct gd_size){ .bytes = 1024 * MiB };
	f.u.disk.keep_free_set = true;
	f.u.disk.keep_free = (struct gd_size){ .bytes = 200 * MiB };
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)), 0);
	ASSERT_TRUE(plan.capped);
	ASSERT_INT_EQ(fault_disk_apply(&plan, why, sizeof(why)), 0);
	ASSERT_TRUE(avail_bytes(FS) >= 200 * MiB);
	ASSERT_TRUE(avail_bytes(FS) < 201 * MiB);

	TEST_START("with less than keep_free available a fill is -ENOSPC, nothing created");
	f.u.disk.keep_free = (struct gd_size){ .bytes = 250 * MiB };
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, "00112233445566ab", &plan, why, sizeof(why)),
	    -ENOSPC);
	ASSERT_INT_EQ(fault_disk_revert(FS "/" GD_FILL_PREFIX ID), 0);

	TEST_START("a fill the filesystem cannot hold fails and leaves no file (ENOSPC mid-fill)");
	memset(&plan, 0, sizeof(plan));
	(void)snprintf(plan.path, sizeof(plan.path), FS "/" GD_FILL_PREFIX ID);
	plan.bytes = 512 * MiB;
	ASSERT_TRUE(fault_disk_apply(&plan, why, sizeof(why)) < 0);
	ASSERT_TRUE(access(plan.path, F_OK) == -1);
	ASSERT_TRUE(used_percent(FS) < 1);
}

static void
test_allow_list(const struct policy *pol)
{
	struct fault f = fill_percent(OTHER, 10);
	struct disk_plan plan;
	char why[256] = "";

	TEST_START("a path outside every allow path is -EPERM");
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)), -EPERM);
	ASSERT_TRUE(strstr(why, "allow path") != NULL);
	f.u.disk.path = FS "x";	/* A prefix of the string, not of the path. */
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)), -EPERM);

	TEST_START("a symlink inside the allow path cannot lead out of it");
	ASSERT_INT_EQ(symlink(OTHER, FS "/escape"), 0);
	f.u.disk.path = FS "/escape";
	ASSERT_TRUE(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)) < 0);
	ASSERT_TRUE(used_percent(OTHER) < 1);

	TEST_START("\"..\" cannot climb out of the allow path");
	ASSERT_INT_EQ(mkdir(FS "/sub", 0755), 0);
	f.u.disk.path = FS "/sub/../../other";
	ASSERT_TRUE(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)) < 0);

	TEST_START("a subdirectory of the allow path is fine");
	f.u.disk.path = FS "/sub";
	f.u.disk.fill_to_percent = 10;
	ASSERT_INT_EQ(fault_disk_plan(&f, pol, ID, &plan, why, sizeof(why)), 0);
	ASSERT_STR_EQ(plan.path, FS "/sub/" GD_FILL_PREFIX ID);

	TEST_START("revert refuses names that are not fill files");
	ASSERT_INT_EQ(fault_disk_revert(FS "/sub"), -EINVAL);
	ASSERT_INT_EQ(fault_disk_revert("/etc/passwd"), -EINVAL);
	ASSERT_TRUE(access(FS "/sub", F_OK) == 0);
}

int
main(void)
{
	struct policy pol;

	ns_enter_mnt();
	(void)mkdir(ROOT, 0755);
	ns_mount_tmpfs(FS, 256 * MiB);
	ns_mount_tmpfs(OTHER, 64 * MiB);
	policy_init(&pol);
	pol.allow_paths[pol.nallow_paths++] = FS;
	test_fill(&pol);
	test_keep_free(&pol);
	test_allow_list(&pol);
	return test_done();
}
