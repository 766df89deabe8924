/*
 * Durable audit appends per second: each one a transaction of its own (BEGIN IMMEDIATE,
 * audit_append(), COMMIT with WAL and synchronous=FULL) followed by the anchor write, the
 * way gamedayd does it.  Also the same without the anchor, and with the anchor written by
 * tmp + rename + fsync instead of pwrite + fdatasync, to show what the choice costs.
 * The goal (issue 4) is >= 2,000 durable appends/s.
 *
 *   bench_audit [N] [DIR] [ROUNDS]
 *
 * N appends per variant and round (default 2000), in a new directory under DIR (default
 * /var/tmp; it must be on the disk, not tmpfs), ROUNDS rounds (default 5) with the variants
 * interleaved so that a noisy neighbour hits them alike.  Prints each variant's median
 * round (appends/s) and its latency over all rounds; 200 unmeasured appends warm up first
 * (the WAL file grows to its working size).  Removes its directory at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "audit.h"
#include "log.h"
#include "store.h"
#include "timeutil.h"

#define TMPFS_MAGIC_ 0x01021994

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(double), cmp_double);
	return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

/* The alternative anchor write: a whole new file renamed over the old one. */
static int
anchor_rename(const char *dir, const char *path, int64_t seq, const char *hash)
{
	char tmp[1200], line[128];
	int fd, dfd, n, r = 0;

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(line, sizeof(line), "%" PRId64 " %s\n", seq, hash);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		return -errno;
	if (write(fd, line, (size_t)n) != n || fsync(fd) == -1)
		r = -EIO;
	(void)close(fd);
	if (r == 0 && rename(tmp, path) == -1)
		r = -errno;
	if (r == 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		if (fsync(dfd) == -1)
			r = -errno;
		(void)close(dfd);
	}
	return r;
}

enum variant { V_PWRITE, V_NONE, V_RENAME };

static int
run(struct store *s, enum variant var, int n, double *lat)
{
	char hash[GD_SHA256_HEX_LEN], rename_path[1100], obj[32];
	cJSON *details = cJSON_Parse("{\"reason\":\"weekly game day\",\"targets\":[\"db1\","
	    "\"db2\"],\"dry_run\":false}");
	int64_t seq;
	int r = 0;

	(void)snprintf(rename_path, sizeof(rename_path), "%s/audit.head.renamed", s->dir);
	for (int i = 0; i < n && r == 0; i++) {
		double t0 = now_ms();

		(void)snprintf(obj, sizeof(obj), "r-%016x", (unsigned)i);
		if ((r = store_begin(s)) < 0)
			break;
		if ((r = audit_append(s->db, gd_now_ms(), "alice", "run.start", obj, details,
		    &seq, hash)) < 0) {
			store_rollback(s);
			break;
		}
		if ((r = store_commit(s)) < 0)
			break;
		if (var == V_PWRITE)
			r = audit_anchor_write(s->anchor_path, seq, hash);
		else if (var == V_RENAME)
			r = anchor_rename(s->dir, rename_path, seq, hash);
		lat[i] = now_ms() - t0;
	}
	cJSON_Delete(details);
	return r;
}

static void
remove_dir(const char *dir)
{
	static const char *const names[] = { STORE_DB_NAME, STORE_DB_NAME "-wal",
		STORE_DB_NAME "-shm", STORE_ANCHOR_NAME, "audit.head.renamed" };
	char path[1200];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

int
main(int argc, char **argv)
{
	static const char *const names[] = { "commit + anchor (pwrite + fdatasync)",
		"commit only, no anchor", "commit + anchor (tmp + rename + fsyncs)" };
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2000;
	const char *base = argc > 2 ? argv[2] : "/var/tmp";
	int rounds = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
	double rate[3][64], *lat[3], t0;
	char dir[1024], why[512];
	struct audit_verify v;
	struct statfs sfs;
	struct store *s;
	int r;

	log_init("bench_audit", LOG_LEVEL_WARN);
	gd_alloc_init_cjson();
	if (n < 10 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: bench_audit [N >= 10] [DIR] [ROUNDS 1..64]\n");
		return 2;
	}
	for (int var = 0; var < 3; var++)
		if ((lat[var] = calloc((size_t)n * (size_t)rounds, sizeof(double))) == NULL)
			return 1;
	(void)snprintf(dir, sizeof(dir), "%s/gd-bench-audit-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	if (statfs(dir, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC_)
		printf("warning: %s is on tmpfs: fsync costs nothing there\n", dir);
	if ((r = store_open(&s, dir, why, sizeof(why))) < 0) {
		fprintf(stderr, "store_open: %s\n", why);
		return 1;
	}
	if (audit_recover(s->db, s->anchor_path, &v) < 0 || run(s, V_PWRITE, 200, lat[0]) < 0)
		return 1;
	printf("bench_audit: %d appends x %d rounds per variant in %s (WAL, synchronous=FULL)\n",
	    n, rounds, dir);
	for (int k = 0; k < rounds; k++) {
		for (int var = 0; var < 3; var++) {
			t0 = now_ms();
			r = run(s, (enum variant)var, n, lat[var] + (size_t)k * (size_t)n);
			if (r < 0) {
				fprintf(stderr, "%s: %s\n", names[var], strerror(-r));
				return 1;
			}
			rate[var][k] = n / ((now_ms() - t0) / 1e3);
			/* After the variants without the anchor, anchor the head again. */
			if (audit_verify(s->db, s->anchor_path, &v) < 0 ||
			    (var == V_PWRITE && !v.ok)) {
				fprintf(stderr, "verify after %s: %s\n", names[var], v.reason);
				return 1;
			}
			(void)audit_anchor_reset(s->anchor_path, v.rows, v.head);
		}
	}
	for (int var = 0; var < 3; var++)
		printf("%-42s %6.0f appends/s (rounds %.0f..%.0f)  median %5.3f ms  p99 %5.3f ms\n",
		    names[var], pct(rate[var], (size_t)rounds, 0.5), pct(rate[var],
		    (size_t)rounds, 0), pct(rate[var], (size_t)rounds, 1), pct(lat[var],
		    (size_t)n * (size_t)rounds, 0.5), pct(lat[var], (size_t)n * (size_t)rounds,
		    0.99));
	t0 = now_ms();
	if (audit_verify(s->db, s->anchor_path, &v) < 0 || !v.ok) {
		fprintf(stderr, "verify: %s\n", v.reason);
		return 1;
	}
	printf("verify: %" PRId64 " rows in %.1f ms\n", v.rows, now_ms() - t0);
	store_close(s);
	remove_dir(dir);
	for (int var = 0; var < 3; var++)
		free(lat[var]);
	return 0;
}
