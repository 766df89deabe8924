/*
 * The audit log: a SHA-256 hash chain in the audit table, and its head in the anchor file.
 * audit.h states the formats and the rules verify applies; this file follows them.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "json.h"
#include "limits.h"
#include "log.h"
#include "timeutil.h"

/*
 * STRICT makes SQLite refuse a value of the wrong type; the CHECKs and triggers keep a bug
 * in our own code from breaking the chain.  hex(zeroblob(32)) is the genesis hash.  The
 * insert trigger costs two primary-key look-ups per row.  audit_object serves "the rows
 * about this run / playbook / host" (and REL-20's check that every run has its run.start
 * row, which without it scans the whole log once per run).
 */
const char audit_schema_sql[] =
	"CREATE TABLE audit (seq INTEGER PRIMARY KEY CHECK (seq > 0),\n"
	"  time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,\n"
	"  object TEXT NOT NULL, details TEXT NOT NULL,\n"
	"  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),\n"
	"  hash TEXT NOT NULL CHECK (length(hash) = 64)) STRICT;\n"
	"CREATE INDEX audit_object ON audit (object, action);\n"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit\n"
	"  BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;\n"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit\n"
	"  BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;\n"
	"CREATE TRIGGER audit_chain BEFORE INSERT ON audit\n"
	"  WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit)\n"
	"    OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM audit WHERE seq = NEW.seq - 1),\n"
	"      hex(zeroblob(32)))\n"
	"  BEGIN SELECT RAISE(ABORT, 'an audit row must extend the chain'); END;\n";

#define HEX_LEN		(GD_SHA256_HEX_LEN - 1)

/* The anchor file: two slots of one record each (audit.h). */
#define ANCHOR_MAGIC	"gameday-audit-anchor 1 "
#define ANCHOR_SLOT	4096
#define ANCHOR_BODY_LEN	(sizeof(ANCHOR_MAGIC) - 1 + 20 + 1 + HEX_LEN)
#define ANCHOR_REC_LEN	(ANCHOR_BODY_LEN + 1 + HEX_LEN + 1)

struct anchor {
	bool exists;
	struct {
		bool valid;
		int64_t seq;
		char hash[GD_SHA256_HEX_LEN];
	} slot[2];
};

/*
 * Anchor writes of this process, one at a time: callers write after their commit, outside
 * the store's lock, so two threads can race, and the later commit's write may come first.
 */
static pthread_mutex_t anchor_lock = PTHREAD_MUTEX_INITIALIZER;

static int
db_fail(sqlite3 *db, const char *what)
{
	log_warnx("audit: %s: %s", what, sqlite3_errmsg(db));
	return -EIO;
}

static bool
hex64_valid(const char *s, size_t len)
{
	if (len != HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void
add_field(struct strbuf *out, const char *s)
{
	if (s == NULL)
		s = "";
	strbuf_addf(out, "%zu:%s\n", strlen(s), s);
}

void
audit_row_canonical(const struct audit_row *row, struct strbuf *out)
{
	char seq[24];

	(void)snprintf(seq, sizeof(seq), "%" PRId64, row->seq);
	add_field(out, seq);
	add_field(out, row->time);
	add_field(out, row->actor);
	add_field(out, row->action);
	add_field(out, row->object);
	add_field(out, row->details);
}

int
audit_row_hash(const char prev_hash[GD_SHA256_HEX_LEN], const struct audit_row *row,
    char ret_hash[GD_SHA256_HEX_LEN])
{
	struct strbuf b = { 0 };
	char *text = NULL;
	int r;

	if (!hex64_valid(prev_hash, strnlen(prev_hash, GD_SHA256_HEX_LEN)))
		return -EINVAL;
	strbuf_addf(&b, "%s", prev_hash);
	audit_row_canonical(row, &b);
	if ((r = strbuf_finish(&b, &text)) < 0)
		return r;
	r = gd_sha256_hex(text, strlen(text), ret_hash);
	gd_free(text);
	return r;
}

static int
cmp_key(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* Sorts the keys of every object under node, in place; -EINVAL for a key twice. */
static int
sort_keys(cJSON *node)
{
	cJSON **items, *c;
	size_t n = 0, i = 0, bytes;
	int r = 0;

	for (c = node->child; c != NULL; c = c->next, n++)
		if ((r = sort_keys(c)) < 0)
			return r;
	if (!cJSON_IsObject(node) || n < 2)
		return 0;
	if (gd_mul_size(n, sizeof(*items), &bytes) < 0 || (items = gd_malloc(bytes)) == NULL)
		return -ENOMEM;
	for (c = node->child; c != NULL; c = c->next)
		items[i++] = c;
	qsort(items, n, sizeof(*items), cmp_key);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(items[i - 1]->string, items[i]->string) == 0)
			r = -EINVAL;
		items[i]->next = i + 1 < n ? items[i + 1] : NULL;
		items[i]->prev = i > 0 ? items[i - 1] : items[n - 1];
	}
	node->child = items[0];
	gd_free(items);
	return r;
}

int
audit_details_canonical_text(const char *text, size_t len, char **ret)
{
	cJSON *root = NULL;
	char *out = NULL;
	int r;

	if ((r = json_parse_doc(text, len, AUDIT_MAX_DETAILS_BYTES, &root, NULL)) < 0)
		return r;
	if (!cJSON_IsObject(root))
		r = -EINVAL;
	else if ((r = sort_keys(root)) == 0 && (out = cJSON_PrintUnformatted(root)) == NULL)
		r = -ENOMEM;
	cJSON_Delete(root);
	if (r < 0)
		return r;
	/* Escaping can make the text longer than what was parsed: keep the limit a fixed point. */
	if (strlen(out) > AUDIT_MAX_DETAILS_BYTES)
		r = -EINVAL;
	else if ((*ret = gd_strdup(out)) == NULL)
		r = -ENOMEM;
	cJSON_free(out);
	return r;
}

int
audit_details_canonical(const cJSON *details, char **ret)
{
	char *text;
	int r;

	if (details == NULL) {
		if ((*ret = gd_strdup("{}")) == NULL)
			return -ENOMEM;
		return 0;
	}
	if (!cJSON_IsObject(details))
		return -EINVAL;
	/* Printed and parsed again: whatever the caller's tree holds, the text is JSON's. */
	if ((text = cJSON_PrintUnformatted(details)) == NULL)
		return -ENOMEM;
	r = audit_details_canonical_text(text, strlen(text), ret);
	cJSON_free(text);
	return r;
}

/* The last row's seq and hash, or 0 and the genesis hash. */
static int
last_row(sqlite3 *db, int64_t *ret_seq, char ret_hash[GD_SHA256_HEX_LEN])
{
	static const char sql[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
	sqlite3_stmt *st;
	const char *h;
	int r = 0, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "read the last row");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		h = (const char *)sqlite3_column_text(st, 1);
		if (h == NULL || !hex64_valid(h, (size_t)sqlite3_column_bytes(st, 1))) {
			log_warnx("audit: row %" PRId64 " has a malformed hash: the log is "
			    "damaged, run `gameday audit verify`",
			    (int64_t)sqlite3_column_int64(st, 0));
			r = -EBADMSG;
		} else {
			*ret_seq = sqlite3_column_int64(st, 0);
			memcpy(ret_hash, h, GD_SHA256_HEX_LEN);
		}
	} else if (rc == SQLITE_DONE) {
		*ret_seq = 0;
		memcpy(ret_hash, AUDIT_GENESIS_HASH, GD_SHA256_HEX_LEN);
	} else
		r = db_fail(db, "read the last row");
	sqlite3_finalize(st);
	return r;
}

static int
insert_row(sqlite3 *db, const struct audit_row *row, const char *prev_hash,
    const char *hash)
{
	static const char sql[] = "INSERT INTO audit (seq, time, actor, action, object, "
	    "details, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
	const char *text[] = { row->time, row->actor, row->action, row->object, row->details,
	    prev_hash, hash };
	sqlite3_stmt *st;
	int r = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "prepare insert");
	if (sqlite3_bind_int64(st, 1, row->seq) != SQLITE_OK)
		r = -EIO;
	for (int i = 0; i < (int)(sizeof(text) / sizeof(text[0])) && r == 0; i++)
		if (sqlite3_bind_text(st, i + 2, text[i], -1, SQLITE_STATIC) != SQLITE_OK)
			r = -EIO;
	if (r < 0 || sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(db, "insert");
	sqlite3_finalize(st);
	return r;
}

int
audit_append(sqlite3 *db, int64_t now_ms, const char *actor, const char *action,
    const char *object, const cJSON *details, int64_t *ret_seq,
    char ret_hash[GD_SHA256_HEX_LEN])
{
	char prev[GD_SHA256_HEX_LEN], hash[GD_SHA256_HEX_LEN], time[GD_TIME_MS_LEN];
	struct audit_row row = { .time = time, .actor = actor, .action = action,
	    .object = object != NULL ? object : "" };
	char *canon = NULL;
	int r;

	/* Outside a transaction the row could commit without the effect it records. */
	if (sqlite3_get_autocommit(db) || actor == NULL || *actor == '\0' || action == NULL ||
	    *action == '\0')
		return -EINVAL;
	if ((r = audit_details_canonical(details, &canon)) < 0)
		return r;
	row.details = canon;
	gd_format_time_ms(now_ms, time);
	if ((r = last_row(db, &row.seq, prev)) < 0)
		goto out;
	row.seq++;
	if ((r = audit_row_hash(prev, &row, hash)) < 0 ||
	    (r = insert_row(db, &row, prev, hash)) < 0)
		goto out;
	*ret_seq = row.seq;
	memcpy(ret_hash, hash, GD_SHA256_HEX_LEN);
out:
	gd_free(canon);
	return r;
}

/* The anchor record for (seq, hash): ANCHOR_REC_LEN bytes and a NUL. */
static int
anchor_record(int64_t seq, const char *hash, char rec[ANCHOR_REC_LEN + 1])
{
	char sum[GD_SHA256_HEX_LEN];
	int r;

	if (seq < 0 || !hex64_valid(hash, strnlen(hash, GD_SHA256_HEX_LEN)))
		return -EINVAL;
	(void)snprintf(rec, ANCHOR_REC_LEN + 1, ANCHOR_MAGIC "%020" PRId64 " %s", seq, hash);
	if ((r = gd_sha256_hex(rec, ANCHOR_BODY_LEN, sum)) < 0)
		return r;
	(void)snprintf(rec + ANCHOR_BODY_LEN, ANCHOR_REC_LEN + 1 - ANCHOR_BODY_LEN, " %s\n",
	    sum);
	return 0;
}

/* One slot's record, checked to the byte; false for anything else (torn, damaged). */
static bool
anchor_parse(const char *p, size_t n, int64_t *ret_seq, char ret_hash[GD_SHA256_HEX_LEN])
{
	const size_t magic = sizeof(ANCHOR_MAGIC) - 1;
	char sum[GD_SHA256_HEX_LEN];
	int64_t seq = 0;

	if (n < ANCHOR_REC_LEN || memcmp(p, ANCHOR_MAGIC, magic) != 0 ||
	    p[magic + 20] != ' ' || !hex64_valid(p + magic + 21, HEX_LEN) ||
	    p[ANCHOR_BODY_LEN] != ' ' || !hex64_valid(p + ANCHOR_BODY_LEN + 1, HEX_LEN) ||
	    p[ANCHOR_REC_LEN - 1] != '\n')
		return false;
	for (size_t i = magic; i < magic + 20; i++) {
		if (p[i] < '0' || p[i] > '9' || seq > (INT64_MAX - 9) / 10)
			return false;
		seq = seq * 10 + (p[i] - '0');
	}
	if (gd_sha256_hex(p, ANCHOR_BODY_LEN, sum) < 0 ||
	    memcmp(sum, p + ANCHOR_BODY_LEN + 1, HEX_LEN) != 0)
		return false;
	*ret_seq = seq;
	memcpy(ret_hash, p + magic + 21, HEX_LEN);
	ret_hash[HEX_LEN] = '\0';
	return true;
}

static int
fsync_parent(const char *path)
{
	char dir[GD_MAX_PATH_BYTES];
	const char *slash = strrchr(path, '/');
	int fd, r = 0;

	if (slash == NULL)
		(void)snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	else
		(void)snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path),
		    path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	if (fsync(fd) == -1)
		r = -errno;
	(void)close(fd);
	return r;
}

/* The whole file, both slots holding rec, written beside path and renamed over it. */
static int
anchor_create(const char *path, const char *rec)
{
	char buf[2 * ANCHOR_SLOT] = { 0 }, tmp[GD_MAX_PATH_BYTES + 8];
	ssize_t n;
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		return -errno;
	memcpy(buf, rec, ANCHOR_REC_LEN);
	memcpy(buf + ANCHOR_SLOT, rec, ANCHOR_REC_LEN);
	if ((n = write(fd, buf, sizeof(buf))) != (ssize_t)sizeof(buf))
		r = n == -1 ? -errno : -EIO;
	else if (fsync(fd) == -1)
		r = -errno;
	if (close(fd) == -1 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) == -1)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return fsync_parent(path);
}

int
audit_anchor_reset(const char *path, int64_t seq, const char hash[GD_SHA256_HEX_LEN])
{
	char rec[ANCHOR_REC_LEN + 1];
	int r;

	if ((r = anchor_record(seq, hash, rec)) < 0)
		return r;
	(void)pthread_mutex_lock(&anchor_lock);
	r = anchor_create(path, rec);
	(void)pthread_mutex_unlock(&anchor_lock);
	return r;
}

/* Reads both slots of the open anchor file fd. */
static int
anchor_read_fd(int fd, struct anchor *a)
{
	char buf[2 * ANCHOR_SLOT];
	size_t got = 0;
	ssize_t n;

	memset(a, 0, sizeof(*a));
	a->exists = true;
	while (got < sizeof(buf) && (n = pread(fd, buf + got, sizeof(buf) - got,
	    (off_t)got)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (int i = 0; i < 2; i++) {
		size_t off = (size_t)i * ANCHOR_SLOT;

		a->slot[i].valid = got > off && anchor_parse(buf + off, got - off,
		    &a->slot[i].seq, a->slot[i].hash);
	}
	return 0;
}

/* The slot holding the newest valid record, or -1. */
static int
anchor_newest(const struct anchor *a)
{
	if (a->slot[0].valid && (!a->slot[1].valid || a->slot[0].seq >= a->slot[1].seq))
		return 0;
	return a->slot[1].valid ? 1 : -1;
}

/* Reads both slots; a missing file is not an error (a->exists tells). */
static int
anchor_read(const char *path, struct anchor *a)
{
	int fd, r;

	memset(a, 0, sizeof(*a));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? 0 : -errno;
	r = anchor_read_fd(fd, a);
	(void)close(fd);
	return r;
}

/*
 * One pwrite() into a slot and fdatasync(): a small in-place write, no metadata to
 * journal, the cheapest durable write there is (tests/bench/bench_audit.c measures it
 * against tmp + rename).  It goes into the slot that does not hold the newest record, so
 * a torn write leaves that record whole; and it never moves the head back: a head at or
 * past seq already covers it (the chain links every row before the head to it).
 */
static int
anchor_update(int fd, const char *rec, int64_t seq)
{
	struct anchor a;
	ssize_t n;
	int newest, r;

	if ((r = anchor_read_fd(fd, &a)) < 0)
		return r;
	if ((newest = anchor_newest(&a)) == -1)
		return -EBADMSG;	/* Not one torn write: evidence, kept for verify. */
	if (a.slot[newest].seq >= seq)
		return 0;
	n = pwrite(fd, rec, ANCHOR_REC_LEN, (off_t)(1 - newest) * ANCHOR_SLOT);
	if (n != (ssize_t)ANCHOR_REC_LEN)
		return n == -1 ? -errno : -EIO;
	if (fdatasync(fd) == -1)
		return -errno;
	return 0;
}

int
audit_anchor_write(const char *path, int64_t seq, const char hash[GD_SHA256_HEX_LEN])
{
	char rec[ANCHOR_REC_LEN + 1];
	int fd, r;

	if ((r = anchor_record(seq, hash, rec)) < 0)
		return r;
	(void)pthread_mutex_lock(&anchor_lock);
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		r = -errno;
		if (r == -ENOENT && seq <= 1)
			r = anchor_create(path, rec);
	} else {
		r = anchor_update(fd, rec, seq);
		if (close(fd) == -1 && r == 0)
			r = -errno;
	}
	(void)pthread_mutex_unlock(&anchor_lock);
	return r;
}

/* The verification walk: where it is, and the hashes of the rows the anchor names. */
struct walk {
	int64_t next;				/* The seq the next row must have. */
	char prev[GD_SHA256_HEX_LEN];		/* The hash of the row before it. */
	int64_t want[2];			/* The anchor slots' seqs (-1: none). */
	char got[2][GD_SHA256_HEX_LEN];		/* Their rows' hashes, once walked. */
};

static const char *const walk_cols[] = { "seq", "time", "actor", "action", "object",
	"details", "prev_hash", "hash" };

static void
set_bad(struct audit_verify *v, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_bad(struct audit_verify *v, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	v->ok = false;
	v->first_bad_seq = seq;
	va_start(ap, fmt);
	(void)vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/*
 * One row against the chain so far: 0 when it matches (w moves on), 1 when it does not
 * (v says why), -ENOMEM.  A field must be text without NUL bytes: SQLite would hand a blob
 * "abc\0x" to C as "abc", and the hash of "abc" would hide the change.
 */
static int
walk_row(sqlite3_stmt *st, struct walk *w, struct audit_verify *v)
{
	const char *f[8];
	char hash[GD_SHA256_HEX_LEN];
	struct audit_row row;
	int64_t seq = sqlite3_column_int64(st, 0);
	int r;

	if (seq != w->next) {
		if (seq < w->next)
			set_bad(v, seq, "row %" PRId64 ": seq is not a positive number", seq);
		else if (w->next == 1)
			set_bad(v, 1, "the log starts at row %" PRId64 ", not 1", seq);
		else
			set_bad(v, w->next, "seq gap after %" PRId64 " (the next row is %" PRId64
			    ")", w->next - 1, seq);
		return 1;
	}
	for (int i = 1; i < 8; i++) {
		if (sqlite3_column_type(st, i) != SQLITE_TEXT) {
			set_bad(v, seq, "row %" PRId64 ": %s is not text", seq, walk_cols[i]);
			return 1;
		}
		if ((f[i] = (const char *)sqlite3_column_text(st, i)) == NULL)
			return -ENOMEM;
		if (strlen(f[i]) != (size_t)sqlite3_column_bytes(st, i)) {
			set_bad(v, seq, "row %" PRId64 ": %s holds a NUL byte", seq, walk_cols[i]);
			return 1;
		}
	}
	for (int i = 6; i < 8; i++)
		if (!hex64_valid(f[i], strlen(f[i]))) {
			set_bad(v, seq, "row %" PRId64 ": %s is not a SHA-256 hex digest", seq,
			    walk_cols[i]);
			return 1;
		}
	row = (struct audit_row){ .seq = seq, .time = f[1], .actor = f[2], .action = f[3],
	    .object = f[4], .details = f[5] };
	if ((r = audit_row_hash(f[6], &row, hash)) < 0)
		return r;
	if (strcmp(hash, f[7]) != 0) {
		set_bad(v, seq, "row %" PRId64 ": hash does not match its content", seq);
		return 1;
	}
	if (strcmp(f[6], w->prev) != 0) {
		if (seq == 1)
			set_bad(v, seq, "row 1: prev_hash is not the genesis hash");
		else
			set_bad(v, seq, "row %" PRId64 ": prev_hash does not match row %" PRId64,
			    seq, seq - 1);
		return 1;
	}
	for (int i = 0; i < 2; i++)
		if (w->want[i] == seq)
			memcpy(w->got[i], hash, GD_SHA256_HEX_LEN);
	memcpy(w->prev, hash, GD_SHA256_HEX_LEN);
	w->next = seq + 1;
	return 0;
}

/* All rows in seq order; checks stop at the first bad one, the count goes on. */
static int
walk_chain(sqlite3 *db, struct walk *w, struct audit_verify *v)
{
	static const char sql[] = "SELECT seq, time, actor, action, object, details, "
	    "prev_hash, hash FROM audit ORDER BY seq";
	sqlite3_stmt *st;
	int r = 0, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "verify");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v->rows++;
		if (v->ok && (r = walk_row(st, w, v)) < 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(db, "verify");
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

/*
 * The chain's end against the anchor (rules in audit.h).  The anchor may name a row before
 * the last one.  The anchor is written after the commit (writing it before would leave an
 * anchor naming rows that a rollback then removed), so the controller can die after a
 * commit returned and before the anchor write that follows it reached the disk: those rows
 * are committed, chained and legitimate, and all of them belong to the transactions that
 * were between their commit and their anchor write at that moment.  That is one
 * transaction's rows (several: agent.lost for every lost host) for each thread that
 * commits, so the lag is bounded by AUDIT_MAX_ANCHOR_LAG rather than 1; more than that
 * cannot come from a crash, only from anchor writes that kept failing (logged) or from rows
 * added by someone else.  The same bound covers a verify that runs while a write is on its
 * way.  The price: up to that many forged rows appended after the last one pass, which
 * one forged row could do as well, and audit_recover() anchors them at the next start.
 */
static void
check_anchor(const struct anchor *a, const struct walk *w, struct audit_verify *v,
    int64_t *ret_head)
{
	int64_t last = w->next - 1, head;
	int newest = anchor_newest(a);

	*ret_head = -1;
	if (!a->exists) {
		if (last > 0)
			set_bad(v, last + 1, "the anchor file is missing while the log has %" PRId64
			    " rows: rows after %" PRId64 " may have been removed with it", last,
			    last);
		return;
	}
	if (newest == -1) {
		set_bad(v, last + 1, "the anchor file is damaged (neither record passes its "
		    "checksum): rows after %" PRId64 " may have been removed", last);
		return;
	}
	/* Every record that names a row must hold its hash; the lower seq first. */
	for (int k = 0; k < 2; k++) {
		int i = k == 0 ? 1 - newest : newest;
		int64_t s = a->slot[i].seq;

		if (!a->slot[i].valid || s > last)
			continue;
		if (strcmp(s == 0 ? AUDIT_GENESIS_HASH : w->got[i], a->slot[i].hash) != 0) {
			set_bad(v, s > 0 ? s : 1, "row %" PRId64 ": hash does not match the "
			    "anchor's (the chain up to it was rewritten)", s);
			return;
		}
	}
	*ret_head = head = a->slot[newest].seq;
	if (head > last)
		set_bad(v, last + 1, "rows after %" PRId64 " are missing (the anchor names seq %"
		    PRId64 ")", last, head);
	else if (last - head > AUDIT_MAX_ANCHOR_LAG)
		set_bad(v, head + 1, "rows after %" PRId64 " are not covered by the anchor (the "
		    "last row is %" PRId64 ")", head, last);
	else if (head < last)
		(void)snprintf(v->reason, sizeof(v->reason), "the anchor names seq %" PRId64
		    ", %" PRId64 " row(s) behind the log (committed just before a crash, or "
		    "being anchored now)", head, last - head);
}

static int
verify(sqlite3 *db, const char *anchor_path, struct audit_verify *ret, int64_t *ret_head)
{
	struct audit_verify v = { .ok = true };
	struct walk w = { .next = 1, .prev = AUDIT_GENESIS_HASH };
	struct anchor a;
	int r;

	/* The anchor first: an append committing meanwhile can then only look like a lag. */
	if ((r = anchor_read(anchor_path, &a)) < 0) {
		log_warnx("audit: cannot read the anchor '%s': %s", log_esc(anchor_path),
		    strerror(-r));
		return r;
	}
	for (int i = 0; i < 2; i++)
		w.want[i] = a.slot[i].valid ? a.slot[i].seq : -1;
	if ((r = walk_chain(db, &w, &v)) < 0)
		return r;
	memcpy(v.head, w.prev, GD_SHA256_HEX_LEN);
	*ret_head = -2;
	if (v.ok)
		check_anchor(&a, &w, &v, ret_head);
	*ret = v;
	return 0;
}

int
audit_verify(sqlite3 *db, const char *anchor_path, struct audit_verify *ret)
{
	int64_t head;

	return verify(db, anchor_path, ret, &head);
}

int
audit_recover(sqlite3 *db, const char *anchor_path, struct audit_verify *ret)
{
	struct audit_verify v;
	int64_t head;
	int r;

	if ((r = verify(db, anchor_path, &v, &head)) < 0)
		return r;
	if (v.ok && v.rows == 0 && head == -1)
		r = audit_anchor_write(anchor_path, 0, AUDIT_GENESIS_HASH);
	else if (v.ok && head >= 0 && head < v.rows) {
		/* When ok, seqs are 1..rows, so the last row is seq rows and v.head its hash. */
		if ((r = audit_anchor_write(anchor_path, v.rows, v.head)) == 0) {
			log_info("audit: the anchor lagged %" PRId64 " row(s) (a crash between a "
			    "commit and its anchor write); moved from seq %" PRId64 " to %" PRId64,
			    v.rows - head, head, v.rows);
			v.reason[0] = '\0';
		}
	}
	if (r < 0) {
		log_warnx("audit: cannot write the anchor '%s': %s", log_esc(anchor_path),
		    strerror(-r));
		return r;
	}
	*ret = v;
	return 0;
}

/* Adds column col as key: text, or null; false when out of memory. */
static bool
add_column(cJSON *obj, const char *key, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	if (s == NULL)
		return cJSON_AddNullToObject(obj, key) != NULL;
	return cJSON_AddStringToObject(obj, key, s) != NULL;
}

static cJSON *
row_json(sqlite3_stmt *st)
{
	static const char *const keys[] = { "time", "actor", "action", "object" };
	const char *d = (const char *)sqlite3_column_text(st, 5);
	cJSON *o, *details = NULL;
	bool ok;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	ok = cJSON_AddNumberToObject(o, "seq", (double)sqlite3_column_int64(st, 0)) != NULL;
	for (int i = 0; i < 4 && ok; i++)
		ok = add_column(o, keys[i], st, i + 1);
	if (ok && d != NULL)
		details = cJSON_ParseWithLength(d, (size_t)sqlite3_column_bytes(st, 5));
	if (ok && details != NULL)
		cJSON_AddItemToObject(o, "details", details);
	else if (ok)
		ok = add_column(o, "details", st, 5);
	if (ok)
		ok = add_column(o, "prev_hash", st, 6) && add_column(o, "hash", st, 7);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int
audit_rows_json(sqlite3 *db, int64_t after_seq, int64_t since_ms, int limit,
    cJSON **ret)
{
	static const char sql[] = "SELECT seq, time, actor, action, object, details, "
	    "prev_hash, hash FROM audit WHERE seq > ?1 AND time >= ?2 ORDER BY seq LIMIT ?3";
	char since[GD_TIME_MS_LEN] = "";
	sqlite3_stmt *st;
	cJSON *rows, *o;
	int r = 0, rc = SQLITE_DONE;

	if (limit < 1)
		return -EINVAL;
	if (limit > AUDIT_MAX_ROWS_PER_PAGE)
		limit = AUDIT_MAX_ROWS_PER_PAGE;
	/* Times are fixed-width RFC 3339 UTC text, so text order is time order. */
	if (since_ms != 0)
		gd_format_time_ms(since_ms, since);
	if ((rows = cJSON_CreateArray()) == NULL)
		return -ENOMEM;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		cJSON_Delete(rows);
		return db_fail(db, "list");
	}
	if (sqlite3_bind_int64(st, 1, after_seq) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, since, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, limit) != SQLITE_OK)
		r = db_fail(db, "list");
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((o = row_json(st)) == NULL)
			r = -ENOMEM;
		else
			cJSON_AddItemToArray(rows, o);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(db, "list");
	sqlite3_finalize(st);
	if (r < 0) {
		cJSON_Delete(rows);
		return r;
	}
	*ret = rows;
	return 0;
}
