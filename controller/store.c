#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "audit.h"
#include "log.h"

/*
 * Migrations, oldest first: migrations[i] takes the schema from version i to i + 1.  A
 * released migration is never edited; a change is a new entry.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
	"CREATE TABLE tokens (id INTEGER PRIMARY KEY, user TEXT NOT NULL, role TEXT NOT NULL,\n"
	"  hash TEXT NOT NULL UNIQUE, created INTEGER NOT NULL, revoked INTEGER);\n"
	"CREATE TABLE enroll_tokens (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,\n"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL, used INTEGER, used_by TEXT);\n"
	"CREATE TABLE agents (host TEXT PRIMARY KEY, cred_hash TEXT NOT NULL UNIQUE,\n"
	"  tags TEXT NOT NULL, capabilities TEXT NOT NULL, enrolled INTEGER NOT NULL,\n"
	"  last_seen INTEGER, lease_ms INTEGER NOT NULL DEFAULT 15000,\n"
	"  state TEXT NOT NULL DEFAULT 'ok', faults TEXT NOT NULL DEFAULT '[]');\n"
	"CREATE TABLE playbooks (name TEXT NOT NULL, revision TEXT NOT NULL,\n"
	"  body TEXT NOT NULL, created INTEGER NOT NULL, actor TEXT NOT NULL,\n"
	"  PRIMARY KEY (name, revision));\n"
	"CREATE TABLE playbook_heads (name TEXT PRIMARY KEY, revision TEXT NOT NULL,\n"
	"  updated INTEGER NOT NULL, FOREIGN KEY (name, revision)\n"
	"  REFERENCES playbooks (name, revision));\n"
	"CREATE TABLE runs (id TEXT PRIMARY KEY, playbook TEXT NOT NULL,\n"
	"  revision TEXT NOT NULL, environment TEXT NOT NULL, state TEXT NOT NULL,\n"
	"  dry_run INTEGER NOT NULL, reason TEXT NOT NULL, requested_by TEXT NOT NULL,\n"
	"  approved_by TEXT, created INTEGER NOT NULL, started INTEGER, ends INTEGER,\n"
	"  ended INTEGER, outcome TEXT, end_state TEXT,\n"
	"  FOREIGN KEY (playbook, revision) REFERENCES playbooks (name, revision));\n"
	"CREATE INDEX runs_state ON runs (state);\n"
	"CREATE TABLE run_hosts (run TEXT NOT NULL REFERENCES runs (id), host TEXT NOT NULL,\n"
	"  plan TEXT, PRIMARY KEY (run, host));\n"
	"CREATE TABLE run_faults (run TEXT NOT NULL REFERENCES runs (id),\n"
	"  host TEXT NOT NULL, idx INTEGER NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL,\n"
	"  fault_id TEXT, error TEXT, PRIMARY KEY (run, host, idx));\n"
	"CREATE TABLE orders (id TEXT PRIMARY KEY, run TEXT NOT NULL REFERENCES runs (id),\n"
	"  host TEXT NOT NULL, idx INTEGER NOT NULL, action TEXT NOT NULL,\n"
	"  fault TEXT NOT NULL, fault_id TEXT, ttl_ms INTEGER NOT NULL,\n"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL, delivered INTEGER,\n"
	"  state TEXT NOT NULL DEFAULT 'pending', result TEXT);\n"
	"CREATE INDEX orders_host ON orders (host, state);\n"
	"CREATE INDEX orders_run ON orders (run, host, idx);\n"
	"CREATE INDEX run_faults_host ON run_faults (host, state);\n"
	"CREATE INDEX run_faults_run_state ON run_faults (run, state);\n"
	"CREATE INDEX run_hosts_host ON run_hosts (host);\n"
	"CREATE TABLE events (seq INTEGER PRIMARY KEY, run TEXT NOT NULL REFERENCES runs (id),\n"
	"  time INTEGER NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, state TEXT,\n"
	"  host TEXT, reason TEXT);\n"
	"CREATE INDEX events_run ON events (run, seq);\n"
	"%AUDIT%",
	/*
	 * 1 -> 2: the SLA guard's timeline (probe samples and SLA evaluations of each run),
	 * when a run's steady state held at preflight, when each fault changed state, and
	 * hosts reached over SSH instead of an agent's poll.
	 */
	"CREATE TABLE probe_samples (run TEXT NOT NULL REFERENCES runs (id),\n"
	"  probe TEXT NOT NULL, time INTEGER NOT NULL, phase TEXT NOT NULL,\n"
	"  ok INTEGER NOT NULL, value REAL, status INTEGER, error TEXT);\n"
	"CREATE INDEX probe_samples_run ON probe_samples (run, time);\n"
	"CREATE TABLE sla_evals (run TEXT NOT NULL REFERENCES runs (id),\n"
	"  sla INTEGER NOT NULL, expr TEXT NOT NULL, time INTEGER NOT NULL,\n"
	"  phase TEXT NOT NULL, holds INTEGER NOT NULL, value REAL,\n"
	"  samples INTEGER NOT NULL, streak INTEGER NOT NULL, reason TEXT);\n"
	"CREATE INDEX sla_evals_run ON sla_evals (run, time);\n"
	"ALTER TABLE runs ADD COLUMN steady_at INTEGER;\n"
	"ALTER TABLE run_faults ADD COLUMN changed INTEGER;\n"
	"ALTER TABLE agents ADD COLUMN via TEXT NOT NULL DEFAULT 'poll';\n"
	"CREATE TRIGGER run_faults_changed AFTER UPDATE OF state ON run_faults\n"
	"  WHEN NEW.state IS NOT OLD.state BEGIN UPDATE run_faults SET changed =\n"
	"  CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)\n"
	"  WHERE rowid = NEW.rowid; END;\n",
	/*
	 * 2 -> 3: the highest message number ("seq") an agent's reports and reconciled polls
	 * carried: a poll older than that is not the truth about the host any more.
	 */
	"ALTER TABLE agents ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;\n",
	/*
	 * 3 -> 4: the scheduler (each scheduled playbook's last and next start, persisted
	 * before it acts), runs created ahead of their window, and the notifications outbox.
	 */
	"CREATE TABLE schedules (playbook TEXT PRIMARY KEY, revision TEXT NOT NULL,\n"
	"  last_start INTEGER, next_start INTEGER, next_end INTEGER, next_run TEXT,\n"
	"  updated INTEGER NOT NULL);\n"
	"ALTER TABLE runs ADD COLUMN not_before INTEGER;\n"
	"ALTER TABLE runs ADD COLUMN deadline INTEGER;\n"
	"CREATE TABLE outbox (id INTEGER PRIMARY KEY, created INTEGER NOT NULL, run TEXT,\n"
	"  event TEXT NOT NULL, webhook TEXT NOT NULL, body TEXT NOT NULL,\n"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL,\n"
	"  state TEXT NOT NULL DEFAULT 'pending', last_error TEXT);\n"
	"CREATE INDEX outbox_due ON outbox (state, next_try);\n",
	/*
	 * 4 -> 5: Game Day practice.  The risk matrix (the book's columns) with the history of
	 * every change; rehearsals (a run's oncall exercise: page, detection, recovery) and
	 * their recovery-plan steps; the risk each run exercised.
	 */
	"CREATE TABLE risks (id TEXT PRIMARY KEY, system TEXT NOT NULL, owner TEXT NOT NULL,\n"
	"  description TEXT NOT NULL, identified TEXT NOT NULL, likelihood TEXT NOT NULL,\n"
	"  severity TEXT NOT NULL, mitigation TEXT NOT NULL DEFAULT '',\n"
	"  status TEXT NOT NULL DEFAULT '', eta TEXT NOT NULL DEFAULT '',\n"
	"  monitoring TEXT NOT NULL DEFAULT '', triggered_plan TEXT NOT NULL DEFAULT '',\n"
	"  comment TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,\n"
	"  updated INTEGER NOT NULL, updated_by TEXT NOT NULL);\n"
	"CREATE TABLE risk_history (seq INTEGER PRIMARY KEY, risk TEXT NOT NULL,\n"
	"  time INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,\n"
	"  row TEXT NOT NULL);\n"
	"CREATE INDEX risk_history_risk ON risk_history (risk, seq);\n"
	"CREATE TABLE rehearsals (run TEXT PRIMARY KEY REFERENCES runs (id),\n"
	"  page_url TEXT, detect_within_ms INTEGER NOT NULL,\n"
	"  recover_within_ms INTEGER NOT NULL, fault_at INTEGER, paged_at INTEGER,\n"
	"  detected_at INTEGER, detected_by TEXT, recovered_at INTEGER, recovered_by TEXT,\n"
	"  probe_recovered_at INTEGER, missed INTEGER NOT NULL DEFAULT 0, outcome TEXT);\n"
	"CREATE TABLE rehearsal_steps (run TEXT NOT NULL REFERENCES runs (id),\n"
	"  step INTEGER NOT NULL, text TEXT NOT NULL, done_at INTEGER, done_by TEXT,\n"
	"  PRIMARY KEY (run, step));\n"
	"ALTER TABLE runs ADD COLUMN risk TEXT;\n"
	"CREATE INDEX runs_risk ON runs (risk);\n",
};

int
store_fail(struct store *s, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
	return -EIO;
}

static int
exec_script(struct store *s, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("store: %s: %s", what, msg != NULL ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int
pragma_int(struct store *s, const char *sql, int *ret)
{
	sqlite3_stmt *st;
	int r = -EIO;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, sql);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = sqlite3_column_int(st, 0);
		r = 0;
	} else
		r = store_fail(s, sql);
	sqlite3_finalize(st);
	return r;
}

/* PRAGMA quick_check answers one row "ok", or rows naming each problem. */
static int
quick_check(struct store *s)
{
	sqlite3_stmt *st;
	const unsigned char *v;
	int r = -EIO;

	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, "quick_check");
	if (sqlite3_step(st) == SQLITE_ROW && (v = sqlite3_column_text(st, 0)) != NULL) {
		if (strcmp((const char *)v, "ok") == 0)
			r = 0;
		else
			log_warnx("store: quick_check: %s", log_esc((const char *)v));
	}
	sqlite3_finalize(st);
	return r;
}

/* The audit table's SQL goes where a migration says %AUDIT% (audit.c owns its schema). */
static int
run_migration(struct store *s, const char *tmpl, int to)
{
	const char *mark = strstr(tmpl, "%AUDIT%");
	char what[64], version[64];
	char *sql;
	size_t n;
	int r;

	n = strlen(tmpl) + strlen(audit_schema_sql) + 1;
	if ((sql = gd_malloc(n)) == NULL)
		return -ENOMEM;
	if (mark != NULL)
		(void)snprintf(sql, n, "%.*s%s%s", (int)(mark - tmpl), tmpl, audit_schema_sql,
		    mark + strlen("%AUDIT%"));
	else
		(void)snprintf(sql, n, "%s", tmpl);
	(void)snprintf(what, sizeof(what), "migration to schema %d", to);
	(void)snprintf(version, sizeof(version), "PRAGMA user_version = %d", to);
	r = exec_script(s, sql, what);
	if (r == 0)
		r = exec_script(s, version, what);
	gd_free(sql);
	return r;
}

static int
migrate(struct store *s, char *why, size_t whylen)
{
	const int latest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	int v, r;

	if ((r = pragma_int(s, "PRAGMA user_version", &v)) < 0)
		return r;
	if (v > latest) {
		(void)snprintf(why, whylen, "the database has schema %d, newer than this "
		    "gamedayd knows (%d): run the newer gamedayd, or restore a backup", v, latest);
		return -EPROTO;
	}
	if (v == latest) {
		s->schema_version = v;
		return 0;
	}
	/* All pending migrations in one transaction: a crash leaves the old schema whole. */
	if ((r = exec_script(s, "BEGIN IMMEDIATE", "begin migration")) < 0)
		return r;
	for (int i = v; i < latest && r == 0; i++)
		r = run_migration(s, migrations[i], i + 1);
	if (r == 0)
		r = exec_script(s, "COMMIT", "commit migration");
	if (r < 0) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		(void)snprintf(why, whylen, "cannot migrate the database from schema %d to %d: "
		    "%s", v, latest, sqlite3_errmsg(s->db));
		return r;
	}
	log_info("store: schema migrated from %d to %d", v, latest);
	s->schema_version = latest;
	return 0;
}

static int
check_dir(const char *dir, char *why, size_t whylen)
{
	struct stat st;

	if (stat(dir, &st) == -1) {
		(void)snprintf(why, whylen, "state dir '%s': %s", log_esc(dir), strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		(void)snprintf(why, whylen, "state dir '%s' is not a directory", log_esc(dir));
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		(void)snprintf(why, whylen, "state dir '%s' must be owned by uid %u and not "
		    "writable by group or others (it holds token hashes and the audit log)",
		    log_esc(dir), (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

int
store_open(struct store **ret, const char *state_dir, char *why, size_t whylen)
{
	static const char setup[] =
	    "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON;"
	    "PRAGMA secure_delete = ON;"
	    /* 64 MiB of page cache: a run over 10,000 hosts is read every engine tick. */
	    "PRAGMA cache_size = -65536;";
	char path[GD_MAX_PATH_BYTES];
	struct audit_verify v;
	struct store *s;
	int r;

	*ret = NULL;
	if ((r = check_dir(state_dir, why, whylen)) < 0)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, STORE_DB_NAME) >=
	    sizeof(path)) {
		(void)snprintf(why, whylen, "state dir path too long");
		return -ENAMETOOLONG;
	}
	if ((s = gd_calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	(void)snprintf(s->dir, sizeof(s->dir), "%s", state_dir);
	(void)snprintf(s->anchor_path, sizeof(s->anchor_path), "%s/%s", state_dir,
	    STORE_ANCHOR_NAME);
	(void)pthread_mutex_init(&s->lock, NULL);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		(void)snprintf(why, whylen, "cannot open %s: %s", log_esc(path),
		    s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		r = -EIO;
		goto fail;
	}
	(void)sqlite3_busy_timeout(s->db, 5000);
	(void)sqlite3_extended_result_codes(s->db, 1);
	if (exec_script(s, setup, "setup") < 0) {
		(void)snprintf(why, whylen, "cannot set up %s: %s", log_esc(path),
		    sqlite3_errmsg(s->db));
		r = -EIO;
		goto fail;
	}
	if ((r = quick_check(s)) < 0) {
		(void)snprintf(why, whylen, "%s fails its integrity check (PRAGMA quick_check); "
		    "restore the state dir from a backup", log_esc(path));
		goto fail;
	}
	if ((r = migrate(s, why, whylen)) < 0)
		goto fail;
	if ((r = audit_recover(s->db, s->anchor_path, &v)) < 0) {
		(void)snprintf(why, whylen, "cannot read the audit log or its anchor %s: %s",
		    log_esc(s->anchor_path), strerror(-r));
		goto fail;
	}
	if (!v.ok)
		log_warnx("audit: the chain does not verify: first bad row %lld: %s (gameday "
		    "audit verify reports it until an operator re-anchors; see "
		    "docs/operations.md)", (long long)v.first_bad_seq, v.reason);
	*ret = s;
	return 0;
fail:
	store_close(s);
	return r;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(s->db));
	(void)pthread_mutex_destroy(&s->lock);
	gd_free(s);
}

int
store_begin(struct store *s)
{
	(void)pthread_mutex_lock(&s->lock);
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		int r = store_fail(s, "begin");

		(void)pthread_mutex_unlock(&s->lock);
		return r;
	}
	return 0;
}

int
store_begin_light(struct store *s)
{
	(void)pthread_mutex_lock(&s->lock);
	if (sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		int r = store_fail(s, "begin");

		(void)sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
		(void)pthread_mutex_unlock(&s->lock);
		return r;
	}
	s->light = true;
	return 0;
}

/* After a light transaction: every other commit is durable again. */
static void
end_light(struct store *s)
{
	if (s->light &&
	    sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
		(void)store_fail(s, "synchronous = FULL");
	s->light = false;
}

int
store_commit_hold(struct store *s)
{
	int r = 0;

	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		r = store_fail(s, "commit");
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return r;
}

void
store_unlock(struct store *s)
{
	end_light(s);
	(void)pthread_mutex_unlock(&s->lock);
}

int
store_commit(struct store *s)
{
	int r = store_commit_hold(s);

	store_unlock(s);
	return r;
}

void
store_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db) == 0 &&
	    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		(void)store_fail(s, "rollback");
	end_light(s);
	(void)pthread_mutex_unlock(&s->lock);
}

int
store_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) != SQLITE_OK)
		return store_fail(s, sql);
	return 0;
}

int
store_exec(struct store *s, const char *sql, int n, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int r = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_fail(s, sql);
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *v = va_arg(ap, const char *);

		if (sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT) != SQLITE_OK)
			r = -EIO;
	}
	va_end(ap);
	if (r == 0 && sqlite3_step(st) != SQLITE_DONE)
		r = store_fail(s, sql);
	sqlite3_finalize(st);
	return r;
}

int
store_sync_wal(struct store *s)
{
	char path[GD_MAX_PATH_BYTES + 16];
	int fd, r = 0;

	(void)snprintf(path, sizeof(path), "%s/%s-wal", s->dir, STORE_DB_NAME);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -errno;	/* Checkpointed away: on disk. */
	if (fdatasync(fd) == -1)
		r = -errno;
	(void)close(fd);
	return r;
}
