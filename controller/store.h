/*
 * The controller's store: one SQLite file, gameday.db, in the state dir.  WAL journal,
 * synchronous=FULL (a commit is on disk when it returns: nothing acknowledged is lost when
 * the process is killed), foreign keys on, a busy timeout, and a schema versioned by
 * PRAGMA user_version with migrations applied in order inside one transaction.
 *
 * One connection, used under one mutex: the HTTP thread and the run engine take turns.
 * Every statement binds its parameters; no SQL text is ever built from input.
 */
#ifndef GD_STORE_H
#define GD_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "limits.h"

#define STORE_DB_NAME		"gameday.db"
#define STORE_ANCHOR_NAME	"audit.head"	/* The audit chain's head, outside the db. */

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
	char dir[GD_MAX_PATH_BYTES];
	char anchor_path[GD_MAX_PATH_BYTES];
	int schema_version;
	bool light;		/* The open transaction is a light one. */
};

/*
 * Opens (creating if needed) the store in state_dir, which must exist, be owned by the
 * effective user and not be writable by group or others.  Applies pending migrations and
 * runs PRAGMA quick_check.  On failure why says what is wrong.
 */
int store_open(struct store **ret, const char *state_dir, char *why, size_t whylen);
void store_close(struct store *s);

/* The current schema version (PRAGMA user_version after migrations). */
#define STORE_SCHEMA_VERSION 5

/*
 * Transactions: store_begin() takes the mutex and starts BEGIN IMMEDIATE; store_commit()
 * commits and releases; store_rollback() rolls back and releases.  A failed commit rolls
 * back.  Return 0 or -EIO (the SQLite message is logged).
 */
int store_begin(struct store *s);
/*
 * A transaction whose loss in a power failure costs nothing (an agent's last_seen, an
 * order's delivery mark): committed with synchronous=NORMAL, which in WAL mode still
 * survives the process being killed; the next full commit makes it durable too.
 */
int store_begin_light(struct store *s);
int store_commit(struct store *s);
/*
 * Commits and keeps the lock (0 or -EIO; on failure rolled back and still locked): the
 * audit anchor is written before anything else can commit, so it lags the log by at most
 * the one row of a crash.  store_unlock() ends it.
 */
int store_commit_hold(struct store *s);
void store_unlock(struct store *s);
void store_rollback(struct store *s);

/* fdatasync()s the WAL: makes the light commits so far as durable as full ones. */
int store_sync_wal(struct store *s);

/* Prepares sql on the store's connection: 0, or -EIO with the failure logged. */
int store_prepare(struct store *s, const char *sql, sqlite3_stmt **ret);

/* Runs one statement with no result rows: sql and n text parameters (NULL binds NULL). */
int store_exec(struct store *s, const char *sql, int n, ...);

/* Logs the connection's last error with context; returns -EIO. */
int store_fail(struct store *s, const char *what);

#endif
