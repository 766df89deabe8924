/*
 * The audit log (controller/audit.c) on real SQLite files in a temporary state dir opened
 * through store_open(): the chain, the triggers, transactions, the anchor (missing, torn,
 * lagging after a crash), and 1,000 random tamperings made with a second connection on the
 * file, each of which verify must find (and name the right row where it can).
 *
 *   ctl_test_audit            GD_TEST_SEED=N picks the tamperings (printed on every run),
 *                             GD_TAMPER_TRIALS=N how many (default 1000).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "alloc.h"
#include "audit.h"
#include "log.h"
#include "store.h"
#include "test.h"

#define BASE_ROWS	100
#define T0_MS		INT64_C(1795946400000)	/* 2026-11-29T10:00:00.000Z */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * UINT64_C(2685821657736338717);
}

/* A number in [lo, hi]. */
static int64_t
rng_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

static void
die(const char *what)
{
	fprintf(stderr, "test_audit: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char *
make_dir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[512];
	char *d;

	(void)snprintf(tmpl, sizeof(tmpl), "%s/gd-audit-XXXXXX", base != NULL ? base : "/tmp");
	if ((d = mkdtemp(tmpl)) == NULL)
		die("mkdtemp");
	return strdup(d);
}

static void
remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				(void)unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	(void)rmdir(dir);
	free(dir);
}

static char *
path_in(const char *dir, const char *name)
{
	static char buf[4][1024];
	static int i;
	char *p = buf[i++ % 4];

	(void)snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static size_t
read_file(const char *path, char **ret)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &st) == -1)
		die(path);
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    read(fd, buf, (size_t)st.st_size) != st.st_size)
		die(path);
	close(fd);
	*ret = buf;
	return (size_t)st.st_size;
}

static void
write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd == -1 || write(fd, buf, len) != (ssize_t)len || close(fd) == -1)
		die(path);
}

/* Overwrites len bytes at off in an existing file. */
static void
patch_file(const char *path, off_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd == -1 || pwrite(fd, buf, len, off) != (ssize_t)len || close(fd) == -1)
		die(path);
}

static struct store *
open_store(const char *dir)
{
	struct store *s;
	char why[512];
	int r;

	if ((r = store_open(&s, dir, why, sizeof(why))) < 0) {
		fprintf(stderr, "store_open(%s): %s (%s)\n", dir, why, strerror(-r));
		exit(2);
	}
	return s;
}

/* store_open() without its warning about the chain (the tamper loop expects 1,000). */
static struct store *
open_store_quiet(const char *dir)
{
	struct store *s;
	int saved = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (saved == -1 || null == -1 || dup2(null, 2) == -1)
		die("dup2");
	s = open_store(dir);
	if (dup2(saved, 2) == -1)
		die("dup2");
	close(saved);
	close(null);
	return s;
}

/* One append in its own transaction; anchored unless anchor is false (a crash). */
static int
append(struct store *s, int64_t now_ms, const char *actor, const char *action,
    const char *object, const char *details, bool anchor, int64_t *ret_seq,
    char ret_hash[GD_SHA256_HEX_LEN])
{
	cJSON *d = details != NULL ? cJSON_Parse(details) : NULL;
	char hash[GD_SHA256_HEX_LEN];
	int64_t seq;
	int r;

	if ((r = store_begin(s)) < 0)
		goto out;
	if ((r = audit_append(s->db, now_ms, actor, action, object, d, &seq, hash)) < 0) {
		store_rollback(s);
		goto out;
	}
	if ((r = store_commit(s)) < 0)
		goto out;
	if (anchor && (r = audit_anchor_write(s->anchor_path, seq, hash)) < 0)
		goto out;
	if (ret_seq != NULL)
		*ret_seq = seq;
	if (ret_hash != NULL)
		memcpy(ret_hash, hash, GD_SHA256_HEX_LEN);
out:
	cJSON_Delete(d);
	return r;
}

/* Appends n rows with varied fields, each anchored. */
static void
append_rows(struct store *s, int n)
{
	static const char *const actors[] = { "alice", "bob", "agent:db1", "scheduler",
		"sla-guard", "名前 with \"quotes\"\nand a newline" };
	static const char *const actions[] = { "run.start", "run.approve", "run.halt",
		"playbook.apply", "agent.enroll" };
	char details[256], object[64];

	for (int i = 0; i < n; i++) {
		(void)snprintf(details, sizeof(details), "{\"n\": %d, \"reason\": \"r%d:\\n x\", "
		    "\"z\": [%d, {\"b\": true, \"a\": null}], \"a\": \"%s\"}", i, i * 7, i,
		    i % 3 == 0 ? "9:fake\\n" : "");
		(void)snprintf(object, sizeof(object), "r-%016x", (unsigned)i * 2654435761u);
		if (append(s, T0_MS + i * 1000 + i % 7, actors[i % 6], actions[i % 5],
		    i % 4 == 0 ? NULL : object, i % 5 == 0 ? NULL : details, true, NULL,
		    NULL) < 0) {
			fprintf(stderr, "append %d failed\n", i);
			exit(2);
		}
	}
}

static struct audit_verify
verify(struct store *s)
{
	struct audit_verify v;
	int r;

	memset(&v, 0xa5, sizeof(v));
	if ((r = audit_verify(s->db, s->anchor_path, &v)) < 0) {
		fprintf(stderr, "audit_verify: %s\n", strerror(-r));
		v.ok = false;
		v.first_bad_seq = -999;
		(void)snprintf(v.reason, sizeof(v.reason), "verify failed: %s", strerror(-r));
	}
	return v;
}

static int64_t
count_rows(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM audit", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	sqlite3_free(msg);
	return rc;
}

static void
test_canonical(void)
{
	struct audit_row row = { 1, "2026-11-29T10:00:00.000Z", "alice", "run.start",
		"r-0123456789abcdef", "{}" };
	struct strbuf b = { 0 };
	char hash[GD_SHA256_HEX_LEN], *text = NULL;

	TEST_START("canonical row encoding and the pinned digest (audit.h's example)");
	audit_row_canonical(&row, &b);
	ASSERT_INT_EQ(strbuf_finish(&b, &text), 0);
	ASSERT_STR_EQ(text, "1:1\n24:2026-11-29T10:00:00.000Z\n5:alice\n9:run.start\n"
	    "18:r-0123456789abcdef\n2:{}\n");
	gd_free(text);
	ASSERT_INT_EQ(audit_row_hash(AUDIT_GENESIS_HASH, &row, hash), 0);
	/* Computed outside C: sha256("0" * 64 + the text above). */
	ASSERT_STR_EQ(hash, "e42446eec228f35c0d9a2bda3048fee395e8044f31be5bac479662d65a75ea3e");

	TEST_START("fields that look like the encoding do not collide");
	{
		struct audit_row a = { 12, "t", "x\n1:y", "z", "", "{}" };
		struct audit_row c = { 12, "t", "x", "y\n1:z", "", "{}" };
		char ha[GD_SHA256_HEX_LEN], hc[GD_SHA256_HEX_LEN];

		ASSERT_INT_EQ(audit_row_hash(AUDIT_GENESIS_HASH, &a, ha), 0);
		ASSERT_INT_EQ(audit_row_hash(AUDIT_GENESIS_HASH, &c, hc), 0);
		ASSERT_TRUE(strcmp(ha, hc) != 0);
	}

	TEST_START("prev_hash must be 64 lower-case hex digits");
	{
		char shorter[GD_SHA256_HEX_LEN] = "abc";

		ASSERT_INT_EQ(audit_row_hash(shorter, &row, hash), -EINVAL);
	}
	ASSERT_INT_EQ(audit_row_hash("E42446EEC228F35C0D9A2BDA3048FEE395E8044F31BE5BAC479662D65A"
	    "75EA3E", &row, hash), -EINVAL);
}

static void
canon_eq(const char *in, const char *want)
{
	char *out = NULL, *again = NULL;
	int r = audit_details_canonical_text(in, strlen(in), &out);

	ASSERT_INT_EQ(r, 0);
	if (r < 0)
		return;
	ASSERT_STR_EQ(out, want);
	ASSERT_INT_EQ(audit_details_canonical_text(out, strlen(out), &again), 0);
	ASSERT_STR_EQ(again, out);
	gd_free(out);
	gd_free(again);
}

static void
test_details(void)
{
	static const char *const bad[] = { "[]", "1", "\"x\"", "null", "{\"a\":1,\"a\":2}",
		"{\"a\":{\"b\":1,\"b\":1}}", "{", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xff\"}",
		"{} {}", "" };
	char *out = NULL;
	cJSON *j;

	TEST_START("details: keys sorted at every level, compact, a fixed point");
	canon_eq("{\"b\": 1, \"a\": {\"d\": [{\"z\": 1, \"y\": 2}], \"c\": null}}",
	    "{\"a\":{\"c\":null,\"d\":[{\"y\":2,\"z\":1}]},\"b\":1}");
	canon_eq("{ }", "{}");
	canon_eq("{\"é\":1,\"e\":2,\"E\":3,\"\":4}", "{\"\":4,\"E\":3,\"e\":2,\"é\":1}");
	canon_eq("{\"s\":\"a\\/b\\u00e9\\n\",\"n\":1.50,\"m\":-7,\"big\":1e400}",
	    "{\"big\":null,\"m\":-7,\"n\":1.5,\"s\":\"a/bé\\n\"}");

	TEST_START("details: refused when not one object with distinct keys");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = NULL;
		if (audit_details_canonical_text(bad[i], strlen(bad[i]), &out) != -EINVAL)
			TEST_FAIL("accepted %s", bad[i]);
		gd_free(out);
	}

	TEST_START("details from a cJSON tree; NULL is {}");
	ASSERT_INT_EQ(audit_details_canonical(NULL, &out), 0);
	ASSERT_STR_EQ(out, "{}");
	gd_free(out);
	j = cJSON_Parse("{\"z\":[3,2,1],\"a\":\"x\"}");
	ASSERT_INT_EQ(audit_details_canonical(j, &out), 0);
	ASSERT_STR_EQ(out, "{\"a\":\"x\",\"z\":[3,2,1]}");
	gd_free(out);
	cJSON_Delete(j);
	j = cJSON_CreateArray();
	ASSERT_INT_EQ(audit_details_canonical(j, &out), -EINVAL);
	cJSON_Delete(j);
}

static void
test_append_verify(void)
{
	char *dir = make_dir(), hash[GD_SHA256_HEX_LEN];
	struct store *s = open_store(dir);
	struct audit_verify v;
	int64_t seq;
	struct stat st;

	TEST_START("a new store: empty log, recover writes the genesis anchor, verifies");
	ASSERT_INT_EQ(audit_recover(s->db, s->anchor_path, &v), 0);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 0);
	ASSERT_STR_EQ(v.head, AUDIT_GENESIS_HASH);
	ASSERT_INT_EQ(stat(s->anchor_path, &st), 0);
	ASSERT_INT_EQ(st.st_mode & 0777, 0600);
	ASSERT_INT_EQ(st.st_size, 8192);

	TEST_START("append + verify: 300 rows");
	append_rows(s, 299);
	ASSERT_INT_EQ(append(s, T0_MS + 999999, "carol", "run.halt", "r-x",
	    "{\"reason\":\"db on fire\"}", true, &seq, hash), 0);
	ASSERT_INT_EQ(seq, 300);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 300);
	ASSERT_STR_EQ(v.head, hash);
	ASSERT_STR_EQ(v.reason, "");

	TEST_START("the chain survives closing and opening the store");
	store_close(s);
	s = open_store(dir);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 300);

	TEST_START("append refuses bad arguments and runs only inside a transaction");
	{
		cJSON *arr = cJSON_CreateArray();

		ASSERT_INT_EQ(audit_append(s->db, T0_MS, "a", "b", "c", NULL, &seq, hash),
		    -EINVAL);
		ASSERT_INT_EQ(store_begin(s), 0);
		ASSERT_INT_EQ(audit_append(s->db, T0_MS, "", "b", "c", NULL, &seq, hash), -EINVAL);
		ASSERT_INT_EQ(audit_append(s->db, T0_MS, "a", NULL, "c", NULL, &seq, hash),
		    -EINVAL);
		ASSERT_INT_EQ(audit_append(s->db, T0_MS, "a", "b", "c", arr, &seq, hash), -EINVAL);
		store_rollback(s);
		cJSON_Delete(arr);
		ASSERT_INT_EQ(count_rows(s->db), 300);
	}
	store_close(s);
	remove_dir(dir);
}

static void
test_triggers(void)
{
	char *dir = make_dir(), hash[GD_SHA256_HEX_LEN];
	struct store *s = open_store(dir);
	struct audit_verify v;
	int64_t seq;
	sqlite3_stmt *st;

	(void)audit_recover(s->db, s->anchor_path, &v);
	append_rows(s, 5);
	TEST_START("triggers refuse UPDATE and DELETE");
	ASSERT_TRUE(exec(s->db, "UPDATE audit SET actor = 'mallory' WHERE seq = 2") !=
	    SQLITE_OK);
	ASSERT_TRUE(exec(s->db, "DELETE FROM audit WHERE seq = 5") != SQLITE_OK);
	ASSERT_TRUE(exec(s->db, "DELETE FROM audit") != SQLITE_OK);

	TEST_START("triggers refuse an INSERT that does not extend the chain");
	ASSERT_INT_EQ(sqlite3_prepare_v2(s->db, "INSERT INTO audit VALUES (?1, 't', 'a', 'b', "
	    "'', '{}', ?2, ?2)", -1, &st, NULL), SQLITE_OK);
	(void)sqlite3_bind_int64(st, 1, 7);	/* A gap. */
	(void)sqlite3_bind_text(st, 2, AUDIT_GENESIS_HASH, -1, SQLITE_STATIC);
	ASSERT_TRUE(sqlite3_step(st) != SQLITE_DONE);
	(void)sqlite3_reset(st);
	(void)sqlite3_bind_int64(st, 1, 6);	/* The right seq, a wrong prev_hash. */
	ASSERT_TRUE(sqlite3_step(st) != SQLITE_DONE);
	sqlite3_finalize(st);
	ASSERT_TRUE(exec(s->db, "INSERT INTO audit (time, actor, action, object, details, "
	    "prev_hash, hash) SELECT time, actor, action, object, details, hash, hash FROM audit "
	    "WHERE seq = 5") != SQLITE_OK);
	ASSERT_INT_EQ(count_rows(s->db), 5);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(append(s, T0_MS, "a", "b", NULL, NULL, true, &seq, hash), 0);
	ASSERT_INT_EQ(seq, 6);
	store_close(s);
	remove_dir(dir);
}

static void
test_rollback(void)
{
	char *dir = make_dir(), hash[GD_SHA256_HEX_LEN], hash2[GD_SHA256_HEX_LEN];
	struct store *s = open_store(dir);
	struct audit_verify v;
	int64_t seq, seq2;

	(void)audit_recover(s->db, s->anchor_path, &v);
	append_rows(s, 10);
	TEST_START("an append in a rolled-back transaction leaves no row");
	ASSERT_INT_EQ(store_begin(s), 0);
	ASSERT_INT_EQ(store_exec(s, "INSERT INTO meta (key, value) VALUES (?1, ?2)", 2, "k",
	    "v"), 0);
	ASSERT_INT_EQ(audit_append(s->db, T0_MS, "alice", "run.start", "r-1", NULL, &seq, hash),
	    0);
	ASSERT_INT_EQ(seq, 11);
	store_rollback(s);
	ASSERT_INT_EQ(count_rows(s->db), 10);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 10);
	ASSERT_STR_EQ(v.reason, "");

	TEST_START("the next append takes the same seq and the chain verifies");
	ASSERT_INT_EQ(append(s, T0_MS + 1, "bob", "run.start", "r-2", NULL, true, &seq2, hash2),
	    0);
	ASSERT_INT_EQ(seq2, 11);
	ASSERT_TRUE(strcmp(hash, hash2) != 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 11);
	store_close(s);
	remove_dir(dir);
}

/* Appends n rows in one transaction, anchoring the last unless anchor is false. */
static int
append_tx(struct store *s, int n, bool anchor, int64_t *ret_seq)
{
	char hash[GD_SHA256_HEX_LEN], host[32];
	int64_t seq = 0;
	int r;

	if ((r = store_begin(s)) < 0)
		return r;
	for (int i = 0; i < n; i++) {
		(void)snprintf(host, sizeof(host), "db%d", i);
		if ((r = audit_append(s->db, T0_MS, "scheduler", "agent.lost", host, NULL, &seq,
		    hash)) < 0) {
			store_rollback(s);
			return r;
		}
	}
	if ((r = store_commit(s)) < 0)
		return r;
	if (anchor && (r = audit_anchor_write(s->anchor_path, seq, hash)) < 0)
		return r;
	*ret_seq = seq;
	return 0;
}

static void
test_crash_lag(void)
{
	char *dir = make_dir(), hash[GD_SHA256_HEX_LEN], h[3][GD_SHA256_HEX_LEN];
	struct store *s = open_store(dir);
	struct audit_verify v;
	int64_t seq, sq[3];

	(void)audit_recover(s->db, s->anchor_path, &v);
	TEST_START("a crash after the very first commit: the genesis anchor covers it");
	ASSERT_INT_EQ(append(s, T0_MS, "alice", "playbook.apply", "db", NULL, false, &seq,
	    hash), 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_STR_EQ(v.reason, "the anchor names seq 0, 1 row(s) behind the log (committed "
	    "just before a crash, or being anchored now)");

	TEST_START("a crash between commit and anchor write: the anchor lags one row, ok");
	append_rows(s, 20);
	ASSERT_INT_EQ(append(s, T0_MS, "alice", "run.start", "r-1", NULL, false, &seq, hash),
	    0);
	ASSERT_INT_EQ(seq, 22);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 22);
	ASSERT_STR_EQ(v.head, hash);
	ASSERT_TRUE(strstr(v.reason, "1 row(s) behind") != NULL);

	TEST_START("store_open (audit_recover) moves the lagging anchor to the last row");
	store_close(s);
	s = open_store(dir);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 22);
	ASSERT_STR_EQ(v.reason, "");

	TEST_START("a crash after a transaction of 40 rows committed: ok, then recovered");
	ASSERT_INT_EQ(append_tx(s, 40, false, &seq), 0);
	ASSERT_INT_EQ(seq, 62);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_TRUE(strstr(v.reason, "40 row(s) behind") != NULL);
	ASSERT_INT_EQ(audit_recover(s->db, s->anchor_path, &v), 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_STR_EQ(v.reason, "");

	TEST_START("anchor writes arriving out of order never move the head back");
	for (int i = 0; i < 3; i++)
		ASSERT_INT_EQ(append(s, T0_MS, "bob", "run.halt", "r-3", NULL, false, &sq[i],
		    h[i]), 0);
	ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, sq[2], h[2]), 0);
	ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, sq[0], h[0]), 0);
	ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, sq[1], h[1]), 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_STR_EQ(v.reason, "");

	TEST_START("AUDIT_MAX_ANCHOR_LAG rows behind: ok; one more: not ok, and it names it");
	ASSERT_INT_EQ(append_tx(s, AUDIT_MAX_ANCHOR_LAG, false, &seq), 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(append(s, T0_MS, "alice", "run.start", "r-4", NULL, false, NULL, NULL),
	    0);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	ASSERT_INT_EQ(v.first_bad_seq, sq[2] + 1);
	ASSERT_TRUE(strstr(v.reason, "not covered by the anchor") != NULL);
	ASSERT_INT_EQ(audit_recover(s->db, s->anchor_path, &v), 0);
	ASSERT_TRUE(!v.ok);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	store_close(s);
	remove_dir(dir);
}

/* The first len bytes of slot i of the anchor file at path (len: its record's length). */
static size_t
anchor_slot(const char *path, int i, char out[4096])
{
	char *buf;
	size_t n = read_file(path, &buf);
	char *nl;

	if (n != 8192)
		die("anchor size");
	memcpy(out, buf + i * 4096, 4096);
	free(buf);
	nl = memchr(out, '\n', 4096);
	return nl != NULL ? (size_t)(nl - out) + 1 : 0;
}

static void
test_anchor(void)
{
	char *dir = make_dir(), *saved, rec[4096], hash[GD_SHA256_HEX_LEN];
	struct store *s = open_store(dir);
	struct audit_verify v;
	size_t len, reclen;
	int64_t seq;
	int fails = 0, wrote;

	TEST_START("store_open writes the genesis anchor on an empty log");
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_STR_EQ(v.reason, "");
	ASSERT_INT_EQ(anchor_slot(s->anchor_path, 0, rec), 174);	/* One record, 174 bytes. */

	TEST_START("no anchor and no rows: ok; audit_anchor_write creates it for seq 0 and 1 only");
	ASSERT_INT_EQ(unlink(s->anchor_path), 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, 2, AUDIT_GENESIS_HASH), -ENOENT);
	ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, -1, AUDIT_GENESIS_HASH), -EINVAL);
	{
		char nothex[GD_SHA256_HEX_LEN] = "nothex";

		ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, 1, nothex), -EINVAL);
	}
	ASSERT_INT_EQ(append(s, T0_MS, "alice", "a", "b", NULL, true, &seq, hash), 0);
	ASSERT_INT_EQ(seq, 1);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_STR_EQ(v.reason, "");
	append_rows(s, 40);

	TEST_START("anchor missing while rows exist: not ok, and appends do not re-create it");
	saved = NULL;
	len = read_file(s->anchor_path, &saved);
	ASSERT_INT_EQ(unlink(s->anchor_path), 0);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	ASSERT_INT_EQ(v.rows, 41);
	ASSERT_INT_EQ(v.first_bad_seq, 42);
	ASSERT_TRUE(strstr(v.reason, "anchor file is missing") != NULL);
	ASSERT_INT_EQ(append(s, T0_MS, "alice", "a", "b", NULL, true, NULL, NULL), -ENOENT);
	v = verify(s);
	ASSERT_TRUE(!v.ok);

	TEST_START("audit_anchor_reset re-anchors for the operator");
	ASSERT_INT_EQ(audit_anchor_reset(s->anchor_path, v.rows, v.head), 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 42);

	TEST_START("an anchor whose hash differs from its row: not ok, that row named");
	ASSERT_INT_EQ(audit_anchor_reset(s->anchor_path, 42, "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef"), 0);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	ASSERT_INT_EQ(v.first_bad_seq, 42);
	ASSERT_TRUE(strstr(v.reason, "anchor") != NULL);

	TEST_START("an anchor ahead of the log (a restored backup, cut rows): not ok");
	ASSERT_INT_EQ(audit_anchor_reset(s->anchor_path, 50, AUDIT_GENESIS_HASH), 0);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	ASSERT_INT_EQ(v.first_bad_seq, 43);
	ASSERT_STR_EQ(v.reason, "rows after 42 are missing (the anchor names seq 50)");

	/*
	 * A torn write of seq 43's record: from the state "anchored through 42", every prefix
	 * and every suffix of the new record over the old one (sectors reaching the disk in
	 * any order), and garbage.  Each must verify: the other slot still names 42.
	 */
	TEST_START("a torn anchor write never reports tampering");
	ASSERT_INT_EQ(audit_anchor_reset(s->anchor_path, v.rows, v.head), 0);
	ASSERT_INT_EQ(append(s, T0_MS, "alice", "a", "b", NULL, false, &seq, hash), 0);
	ASSERT_INT_EQ(seq, 43);
	free(saved);
	len = read_file(s->anchor_path, &saved);
	ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, 43, hash), 0);
	/* The slot that changed: the write must have left the other one (the head) alone. */
	reclen = anchor_slot(s->anchor_path, 1, rec);
	wrote = memcmp(rec, saved + 4096, reclen) != 0 ? 1 : 0;
	if (wrote == 0)
		reclen = anchor_slot(s->anchor_path, 0, rec);
	ASSERT_TRUE(memcmp(rec, saved + wrote * 4096, reclen) != 0);
	ASSERT_TRUE(reclen > 100);
	for (size_t k = 0; k <= reclen; k++) {
		for (int side = 0; side < 2; side++) {
			write_file(s->anchor_path, saved, len);
			if (side == 0)
				patch_file(s->anchor_path, wrote * 4096, rec, k);
			else
				patch_file(s->anchor_path, wrote * 4096 + (off_t)(reclen - k),
				    rec + reclen - k, k);
			v = verify(s);
			if (!v.ok && fails++ < 5)
				TEST_FAIL("torn at %zu (side %d): %s", k, side, v.reason);
		}
	}
	write_file(s->anchor_path, saved, len);
	patch_file(s->anchor_path, wrote * 4096 + 30, "\x00\xff garbage", 10);
	v = verify(s);
	ASSERT_TRUE(v.ok);

	TEST_START("after a torn write the next anchor write goes on from the whole record");
	ASSERT_INT_EQ(audit_anchor_write(s->anchor_path, 43, hash), 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_STR_EQ(v.reason, "");

	TEST_START("both anchor records damaged: not ok, and anchor writes leave it so");
	patch_file(s->anchor_path, 60, "x", 1);
	patch_file(s->anchor_path, 4096 + 60, "x", 1);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	ASSERT_INT_EQ(v.first_bad_seq, 44);
	ASSERT_TRUE(strstr(v.reason, "damaged") != NULL);
	ASSERT_INT_EQ(append(s, T0_MS, "alice", "a", "b", NULL, true, NULL, NULL), -EBADMSG);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	write_file(s->anchor_path, "", 0);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	ASSERT_TRUE(strstr(v.reason, "damaged") != NULL);
	free(saved);
	store_close(s);
	remove_dir(dir);
}

static void
test_rows_json(void)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	struct audit_verify v;
	cJSON *rows = NULL, *r0;

	(void)audit_recover(s->db, s->anchor_path, &v);
	append_rows(s, 10);	/* Row i + 1 at T0 + i s (+ i % 7 ms). */
	TEST_START("rows as JSON: after, limit, oldest first, fields");
	ASSERT_INT_EQ(audit_rows_json(s->db, 3, 0, 4, &rows), 0);
	ASSERT_INT_EQ(cJSON_GetArraySize(rows), 4);
	r0 = cJSON_GetArrayItem(rows, 0);
	ASSERT_INT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(r0, "seq")), 4);
	ASSERT_INT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 3),
	    "seq")), 7);
	ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(r0, "time")),
	    "2026-11-29T10:00:03.003Z");
	ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(r0, "action")), "playbook.apply");
	ASSERT_TRUE(cJSON_IsObject(cJSON_GetObjectItem(r0, "details")));
	ASSERT_INT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r0,
	    "details"), "n")), 3);
	ASSERT_INT_EQ(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(r0, "hash"))), 64);
	ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(r0, "hash")),
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "prev_hash")));
	cJSON_Delete(rows);

	TEST_START("rows as JSON: since a time, and the limits");
	ASSERT_INT_EQ(audit_rows_json(s->db, 0, T0_MS + 5000, 100, &rows), 0);
	ASSERT_INT_EQ(cJSON_GetArraySize(rows), 5);	/* Rows 6..10: row 6 is at +5.005 s. */
	ASSERT_INT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0),
	    "seq")), 6);
	cJSON_Delete(rows);
	ASSERT_INT_EQ(audit_rows_json(s->db, 10, 0, 100, &rows), 0);
	ASSERT_INT_EQ(cJSON_GetArraySize(rows), 0);
	cJSON_Delete(rows);
	rows = NULL;
	ASSERT_INT_EQ(audit_rows_json(s->db, 0, 0, 0, &rows), -EINVAL);
	ASSERT_TRUE(rows == NULL);
	store_close(s);
	remove_dir(dir);
}

/* Tampering, with a connection of its own on the file and the triggers dropped. */
enum tamper { T_CHANGE, T_DELETE, T_SWAP, T_INSERT, T_INSERT_CHAINED, T_TRUNCATE, T_REWRITE,
	T_MAX };
static const char *const tamper_names[] = { "change a field", "delete a row", "swap two rows",
	"insert a forged row", "insert a forged row chained to the one before",
	"truncate the newest rows", "change a row and rehash the chain after it" };
static const char *const cols[] = { "time", "actor", "action", "object", "details",
	"prev_hash", "hash", "seq" };

static void
must(sqlite3 *db, int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "tamper: %s: %s\n", what, sqlite3_errmsg(db));
		exit(2);
	}
}

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	must(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, sql);
	return st;
}

static void
run(sqlite3 *db, sqlite3_stmt *st)
{
	must(db, sqlite3_step(st) == SQLITE_DONE, sqlite3_sql(st));
	sqlite3_finalize(st);
}

/* Row seq's text columns, 7 strings the caller frees. */
static void
get_row(sqlite3 *db, int64_t seq, char *f[7])
{
	sqlite3_stmt *st = prep(db, "SELECT time, actor, action, object, details, prev_hash, "
	    "hash FROM audit WHERE seq = ?1");

	(void)sqlite3_bind_int64(st, 1, seq);
	must(db, sqlite3_step(st) == SQLITE_ROW, "get_row");
	for (int i = 0; i < 7; i++)
		f[i] = strdup((const char *)sqlite3_column_text(st, i));
	sqlite3_finalize(st);
}

static void
put_row(sqlite3 *db, int64_t seq, char *const f[7], bool insert)
{
	sqlite3_stmt *st = prep(db, insert ? "INSERT INTO audit (time, actor, action, object, "
	    "details, prev_hash, hash, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" :
	    "UPDATE audit SET time = ?1, actor = ?2, action = ?3, object = ?4, details = ?5, "
	    "prev_hash = ?6, hash = ?7 WHERE seq = ?8");

	for (int i = 0; i < 7; i++)
		(void)sqlite3_bind_text(st, i + 1, f[i], -1, SQLITE_TRANSIENT);
	(void)sqlite3_bind_int64(st, 8, seq);
	run(db, st);
}

static void
free_row(char *f[7])
{
	for (int i = 0; i < 7; i++)
		free(f[i]);
}

/* A different value of the same kind: one character changed, one added, or emptied. */
static char *
mutate(const char *old)
{
	size_t n = strlen(old);
	char *s = malloc(n + 2);
	size_t at;

	memcpy(s, old, n + 1);
	switch (n == 0 ? 1 : rng() % 3) {
	case 0:
		at = (size_t)rng_range(0, (int64_t)n - 1);
		s[at] = s[at] == 'a' ? 'b' : 'a';
		break;
	case 1:
		s[n] = (char)('a' + rng() % 26);
		s[n + 1] = '\0';
		break;
	default:
		s[0] = '\0';
		break;
	}
	return s;
}

/* Rehashes rows from..last so that each one chains to the one before (the forger's work). */
static void
rehash_from(sqlite3 *db, int64_t from, int64_t last)
{
	char prev[GD_SHA256_HEX_LEN], *f[7];

	if (from == 1)
		memcpy(prev, AUDIT_GENESIS_HASH, sizeof(prev));
	else {
		get_row(db, from - 1, f);
		memcpy(prev, f[6], sizeof(prev));
		free_row(f);
	}
	for (int64_t seq = from; seq <= last; seq++) {
		struct audit_row row;

		get_row(db, seq, f);
		row = (struct audit_row){ seq, f[0], f[1], f[2], f[3], f[4] };
		free(f[5]);
		f[5] = strdup(prev);
		must(db, audit_row_hash(prev, &row, f[6]) == 0, "rehash");
		memcpy(prev, f[6], sizeof(prev));
		put_row(db, seq, f, false);
		free_row(f);
	}
}

/*
 * Tampers with the database at path; returns the seq verify must name (0: any row, only
 * "not ok" is checked).  n is the number of rows, all anchored.
 */
static int64_t
tamper(const char *path, enum tamper kind, int64_t n, char *what, size_t whatlen)
{
	sqlite3 *db;
	int64_t k = rng_range(1, n), j, want = k;
	char *f[7], *g[7];
	sqlite3_stmt *st;

	must(NULL, sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK, path);
	must(db, exec(db, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; "
	    "DROP TRIGGER audit_chain") == SQLITE_OK, "drop triggers");
	switch (kind) {
	case T_CHANGE: {
		int c = (int)(rng() % 8);

		if (c == 7) {
			/* A seq moved past the end: row k is gone from its place. */
			st = prep(db, "UPDATE audit SET seq = ?2 WHERE seq = ?1");
			(void)sqlite3_bind_int64(st, 1, k);
			(void)sqlite3_bind_int64(st, 2, n + rng_range(2, 50));
			run(db, st);
		} else {
			get_row(db, k, f);
			if (c >= 5) {
				/* The CHECKs keep hashes 64 characters: change one digit. */
				size_t at = (size_t)rng_range(0, 63);

				f[c][at] = f[c][at] == '0' ? '1' : '0';
			} else {
				char *old = f[c];

				f[c] = mutate(old);
				free(old);
			}
			put_row(db, k, f, false);
			free_row(f);
		}
		(void)snprintf(what, whatlen, "row %" PRId64 " %s", k, cols[c]);
		break;
	}
	case T_DELETE:
		st = prep(db, "DELETE FROM audit WHERE seq = ?1");
		(void)sqlite3_bind_int64(st, 1, k);
		run(db, st);
		(void)snprintf(what, whatlen, "row %" PRId64, k);
		break;
	case T_SWAP:
		do
			j = rng_range(1, n);
		while (j == k);
		get_row(db, k, f);
		get_row(db, j, g);
		put_row(db, k, g, false);
		put_row(db, j, f, false);
		free_row(f);
		free_row(g);
		want = k < j ? k : j;
		(void)snprintf(what, whatlen, "rows %" PRId64 " and %" PRId64, k, j);
		break;
	case T_INSERT:
	case T_INSERT_CHAINED: {
		struct audit_row row;

		k = rng_range(1, n - 1);	/* The forged row goes between k and k + 1. */
		must(db, exec(db, "UPDATE audit SET seq = seq + 1000000") == SQLITE_OK, "shift");
		st = prep(db, "UPDATE audit SET seq = seq - 1000000 + (seq - 1000000 > ?1) "
		    "WHERE seq > 1000000");
		(void)sqlite3_bind_int64(st, 1, k);
		run(db, st);
		get_row(db, k, f);
		row = (struct audit_row){ k + 1, f[0], "mallory", "run.approve", "r-forged",
			"{\"forged\":true}" };
		g[0] = strdup(f[0]);
		g[1] = strdup(row.actor);
		g[2] = strdup(row.action);
		g[3] = strdup(row.object);
		g[4] = strdup(row.details);
		g[5] = strdup(f[6]);
		g[6] = calloc(1, GD_SHA256_HEX_LEN);
		if (kind == T_INSERT_CHAINED)
			must(db, audit_row_hash(f[6], &row, g[6]) == 0, "forge");
		else
			memcpy(g[6], f[5], GD_SHA256_HEX_LEN);	/* Some other row's hash. */
		put_row(db, k + 1, g, true);
		free_row(f);
		free_row(g);
		/* A chained forgery matches; the row after it, moved, no longer does. */
		want = kind == T_INSERT_CHAINED ? k + 2 : k + 1;
		(void)snprintf(what, whatlen, "after row %" PRId64, k);
		break;
	}
	case T_TRUNCATE:
		st = prep(db, "DELETE FROM audit WHERE seq >= ?1");
		(void)sqlite3_bind_int64(st, 1, k);
		run(db, st);
		(void)snprintf(what, whatlen, "rows %" PRId64 "..%" PRId64, k, n);
		break;
	case T_REWRITE:
		get_row(db, k, f);
		free(f[1]);
		f[1] = strdup("mallory");
		put_row(db, k, f, false);
		free_row(f);
		rehash_from(db, k, n);
		/* Only the anchor can tell; it holds seqs n - 1 and n. */
		want = k < n ? n - 1 : n;
		(void)snprintf(what, whatlen, "row %" PRId64 " and rehashed", k);
		break;
	default:
		abort();
	}
	must(db, sqlite3_close(db) == SQLITE_OK, "close");
	return want;
}

static void
test_tamper(void)
{
	const char *env = getenv("GD_TAMPER_TRIALS");
	int trials = env != NULL ? (int)strtol(env, NULL, 10) : 1000;
	char *base = make_dir(), *trial = make_dir(), *db_img, *anchor_img, what[128];
	int counts[T_MAX] = { 0 }, found = 0, named = 0, shown = 0;
	size_t db_len, anchor_len;
	struct store *s = open_store(base);
	struct audit_verify v;

	(void)audit_recover(s->db, s->anchor_path, &v);
	append_rows(s, BASE_ROWS);
	store_close(s);
	db_len = read_file(path_in(base, STORE_DB_NAME), &db_img);
	anchor_len = read_file(path_in(base, STORE_ANCHOR_NAME), &anchor_img);

	TEST_START("random tamperings with the file are all found, at the right row");
	for (int t = 0; t < trials; t++) {
		enum tamper kind = (enum tamper)(rng() % T_MAX);
		int64_t want;

		(void)unlink(path_in(trial, STORE_DB_NAME "-wal"));
		(void)unlink(path_in(trial, STORE_DB_NAME "-shm"));
		write_file(path_in(trial, STORE_DB_NAME), db_img, db_len);
		write_file(path_in(trial, STORE_ANCHOR_NAME), anchor_img, anchor_len);
		want = tamper(path_in(trial, STORE_DB_NAME), kind, BASE_ROWS, what, sizeof(what));
		s = open_store_quiet(trial);
		v = verify(s);
		store_close(s);
		counts[kind]++;
		found += !v.ok;
		named += !v.ok && v.first_bad_seq == want;
		if ((v.ok || v.first_bad_seq != want) && shown++ < 10)
			TEST_FAIL("trial %d, %s (%s): ok %d, first_bad_seq %" PRId64 " (want %"
			    PRId64 "): %s", t, tamper_names[kind], what, v.ok, v.first_bad_seq,
			    want, v.reason);
		else if (t < (int)T_MAX * 2 && getenv("GD_TEST_VERBOSE") != NULL)
			printf("  %s (%s): %s\n", tamper_names[kind], what, v.reason);
	}
	printf("tamperings: %d on a %d-row log; found %d; right first_bad_seq %d\n", trials,
	    BASE_ROWS, found, named);
	for (int k = 0; k < T_MAX; k++)
		printf("  %4d  %s\n", counts[k], tamper_names[k]);
	ASSERT_INT_EQ(found, trials);
	ASSERT_INT_EQ(named, trials);
	free(db_img);
	free(anchor_img);
	remove_dir(base);
	remove_dir(trial);
}

struct writer {
	struct store *s;
	int n, failed;
	const char *actor;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < w->n; i++)
		if (append(w->s, T0_MS + i, w->actor, "run.state", "r-1", "{\"i\":1}", true, NULL,
		    NULL) < 0)
			w->failed++;
	return NULL;
}

static void *
verifier_main(void *arg)
{
	struct writer *w = arg;
	struct audit_verify v;

	for (int i = 0; i < w->n; i++) {
		(void)pthread_mutex_lock(&w->s->lock);
		if (audit_verify(w->s->db, w->s->anchor_path, &v) < 0 || !v.ok)
			w->failed++;
		(void)pthread_mutex_unlock(&w->s->lock);
		usleep(2000);
	}
	return NULL;
}

static void
test_threads(void)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	struct writer w[3] = { { s, 300, 0, "alice" }, { s, 300, 0, "bob" },
		{ s, 50, 0, "verifier" } };
	pthread_t t[3];
	struct audit_verify v;

	TEST_START("two threads appending and anchoring, a third verifying meanwhile");
	for (int i = 0; i < 3; i++)
		ASSERT_INT_EQ(pthread_create(&t[i], NULL, i < 2 ? writer_main : verifier_main,
		    &w[i]), 0);
	for (int i = 0; i < 3; i++)
		(void)pthread_join(t[i], NULL);
	for (int i = 0; i < 3; i++)
		ASSERT_INT_EQ(w[i].failed, 0);
	v = verify(s);
	ASSERT_TRUE(v.ok);
	ASSERT_INT_EQ(v.rows, 600);
	ASSERT_STR_EQ(v.reason, "");
	store_close(s);
	remove_dir(dir);
}

static void
test_nul_bytes(void)
{
	char *dir = make_dir();
	struct store *s = open_store(dir);
	struct audit_verify v;
	sqlite3 *db;
	int rc;

	(void)audit_recover(s->db, s->anchor_path, &v);
	append_rows(s, 8);
	store_close(s);
	TEST_START("a field turned into a blob with a NUL byte (C would see the old text)");
	rc = sqlite3_open_v2(path_in(dir, STORE_DB_NAME), &db, SQLITE_OPEN_READWRITE, NULL);
	ASSERT_INT_EQ(rc, SQLITE_OK);
	/* STRICT refuses blobs in TEXT columns, so the forger rebuilds the table first. */
	ASSERT_INT_EQ(exec(db, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; "
	    "DROP TRIGGER audit_chain; CREATE TABLE t AS SELECT * FROM audit; "
	    "DROP TABLE audit; ALTER TABLE t RENAME TO audit; "
	    "UPDATE audit SET actor = CAST(actor || char(0) || 'mallory' AS BLOB) WHERE seq = 5"),
	    SQLITE_OK);
	sqlite3_close(db);
	s = open_store_quiet(dir);
	v = verify(s);
	ASSERT_TRUE(!v.ok);
	ASSERT_INT_EQ(v.first_bad_seq, 5);
	ASSERT_STR_EQ(v.reason, "row 5: actor is not text");
	store_close(s);

	TEST_START("append refuses to extend a chain whose last hash is malformed");
	rc = sqlite3_open_v2(path_in(dir, STORE_DB_NAME), &db, SQLITE_OPEN_READWRITE, NULL);
	ASSERT_INT_EQ(exec(db, "UPDATE audit SET hash = 'zz' WHERE seq = 8"), SQLITE_OK);
	sqlite3_close(db);
	s = open_store_quiet(dir);
	ASSERT_INT_EQ(append(s, T0_MS, "a", "b", NULL, NULL, true, NULL, NULL), -EBADMSG);
	store_close(s);
	remove_dir(dir);
}

int
main(void)
{
	const char *seed = getenv("GD_TEST_SEED");

	rng_state = seed != NULL ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
	if (rng_state == 0)
		rng_state = 1;
	printf("GD_TEST_SEED=%" PRIu64 "\n", rng_state);
	log_init("test_audit", LOG_LEVEL_WARN);
	gd_alloc_init_cjson();
	test_canonical();
	test_details();
	test_append_verify();
	test_triggers();
	test_rollback();
	test_crash_lag();
	test_anchor();
	test_rows_json();
	test_nul_bytes();
	test_threads();
	test_tamper();
	return test_done();
}
