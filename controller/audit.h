/*
 * The audit log (DESIGN §6): an append-only table whose rows form a SHA-256 hash chain,
 * with the chain's head also kept outside the database (the anchor file) so that deleting
 * the newest rows is found as well as changing, reordering or inserting rows.
 *
 *   audit(seq INTEGER PRIMARY KEY, time TEXT, actor TEXT, action TEXT, object TEXT,
 *         details TEXT, prev_hash TEXT, hash TEXT)
 *   hash = SHA-256(prev_hash || canonical row), hex; the first row's prev_hash is 64 '0'.
 *
 * The canonical row is each of seq, time, actor, action, object, details as
 * "<decimal length>:<bytes>\n" in that order, details being the compact JSON printed by
 * cJSON of the canonicalized object (keys sorted), so the encoding is unambiguous whatever
 * the fields contain.  seq is written in decimal ("1:7\n"), lengths are byte counts, and
 * prev_hash enters the hash as its 64 lower-case hex digits.  For example the row
 * (1, "2026-11-29T10:00:00.000Z", "alice", "run.start", "r-0123456789abcdef", {}) hashes
 *   "0000...0000" "1:1\n" "24:2026-11-29T10:00:00.000Z\n" "5:alice\n" "9:run.start\n"
 *   "18:r-0123456789abcdef\n" "2:{}\n"
 * (tests/controller/test_audit.c pins the digest, so an outside verifier can be checked).
 *
 * Seqs start at 1 and have no gaps; rows are never updated or deleted.  SQL triggers refuse
 * UPDATE, DELETE and any INSERT that does not extend the chain (next seq, prev_hash = the
 * last row's hash), so a bug cannot break the chain; someone editing the file directly can,
 * and audit_verify() finds it.
 *
 * audit_append() runs inside the caller's transaction, so the row and the effect it
 * records commit together (written before the effect is acknowledged; never one without
 * the other).  After the commit the caller calls audit_anchor_write() with the seq and
 * hash of the last row it appended.  So the anchor lags the database only by the rows of
 * transactions that committed and have not written their anchor yet (a crash in between
 * leaves them so), and verify accepts a lag of up to AUDIT_MAX_ANCHOR_LAG rows.
 *
 * The anchor file (STORE_ANCHOR_NAME in the state dir, mode 0600) holds two 4096-byte
 * slots, each one line "gameday-audit-anchor 1 <seq, 20 digits> <hash> <SHA-256 of what
 * precedes>\n"; the head is the valid slot with the higher seq.  A write is one pwrite()
 * + fdatasync() into the slot that does not hold the head, and never moves the head back.
 * A write torn by a crash damages only that slot; the head stays whole and names a row
 * before the last one, which is the lag a crash leaves anyway.  So a torn anchor never
 * makes verify report tampering.  The rules verify applies, N being the last seq:
 *   - every valid slot naming a row (seq <= N) must hold that row's hash (0: genesis);
 *   - head == N: ok; N - AUDIT_MAX_ANCHOR_LAG <= head < N: ok, with a note in reason;
 *     head > N: rows N + 1..head were removed, "rows after N are missing";
 *     head further behind: rows were added without the anchor (anchor writes that kept
 *     failing, or forged rows), not ok, first_bad_seq = head + 1;
 *   - no anchor file: ok only while the log is empty.  Rows without an anchor are not ok:
 *     the anchor being gone cannot be told from the newest rows being cut off with it.
 *     audit_recover() creates the genesis anchor (seq 0) when the controller starts on an
 *     empty log, so a crash right after the very first commit is covered too; and
 *     audit_anchor_write() does not create a missing anchor past seq 1;
 *   - neither slot valid: not ok (a single torn write cannot do that).
 * An operator who knows why the anchor disagrees (a database restored from a backup, a
 * lost anchor file, a disk that failed anchor writes) checks the rows, records that in the
 * log (an "audit.reanchor" row) and calls audit_anchor_reset() for the new head.
 *
 * What it does not do: someone who can write both the database and the anchor file can
 * rewrite the chain from any row on and anchor the result; forged rows appended after the
 * last one pass as the crash window (up to AUDIT_MAX_ANCHOR_LAG of them) until the next
 * start-up anchors them.  A keyed hash or a copy of the head outside the host would close
 * both; neither is here yet.
 */
#ifndef GD_AUDIT_H
#define GD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "hash.h"
#include "strbuf.h"

/*
 * Details are written by our own code from validated input; 256 KiB is far beyond any
 * real one (a whole playbook revision is referred to by its hash, not copied).
 */
#define AUDIT_MAX_DETAILS_BYTES	(256 * 1024)
/* audit_rows_json() returns at most this many rows at once (a page of GET /v1/audit). */
#define AUDIT_MAX_ROWS_PER_PAGE	1000
/*
 * Rows the anchor may lag the log by (see above): what the controller's threads can have
 * committed and not yet anchored when it dies.  The largest transactions today append a
 * poll's fault.gone rows (at most GD_MAX_ACTIVE_FAULTS, 64) or mark_lost()'s agent.lost
 * rows (at most 32); two threads committing such at once stay well within it.  A crash
 * with more rows in flight reads as "not covered", which an operator resolves with
 * audit_anchor_reset().  Keep transactions' row counts well below it.
 */
#define AUDIT_MAX_ANCHOR_LAG	256
/* The genesis hash: the first row's prev_hash and the hash of "row 0". */
#define AUDIT_GENESIS_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* The table and its triggers, created by the store's first migration. */
extern const char audit_schema_sql[];

struct audit_row {
	int64_t seq;
	const char *time;	/* RFC 3339 UTC with ms (gd_format_time_ms()). */
	const char *actor;	/* A user's name, "agent:<host>", "scheduler", "sla-guard". */
	const char *action;	/* "playbook.apply", "run.start", "run.approve", ... */
	const char *object;	/* What it acted on: a playbook name, a run id, a host. */
	const char *details;	/* Canonical compact JSON object. */
};

/* The canonical encoding of row (see above) into out; a NULL field encodes as "". */
void audit_row_canonical(const struct audit_row *row, struct strbuf *out);
/*
 * hash = SHA-256(prev_hash || canonical row) in hex.  Returns 0, -EINVAL when prev_hash
 * is not 64 lower-case hex digits, -ENOMEM or -EIO.
 */
int audit_row_hash(const char prev_hash[GD_SHA256_HEX_LEN], const struct audit_row *row,
    char ret_hash[GD_SHA256_HEX_LEN]);

/*
 * The canonical details text: details (an object; NULL means {}) with the keys of every
 * object sorted by their bytes, printed compact by cJSON.  Refused with -EINVAL: not an
 * object, a key twice in one object, invalid UTF-8, \u0000, nesting deeper than
 * GD_MAX_JSON_DEPTH, more than AUDIT_MAX_DETAILS_BYTES.  Numbers are cJSON's doubles: keep
 * ids and counters past 2^53 as strings.  On success the caller owns *ret (gd_free()).
 * The canonical text of a canonical text is itself.
 */
int audit_details_canonical(const cJSON *details, char **ret);
/* The same from JSON text of len bytes (a stored row, the fuzzer). */
int audit_details_canonical_text(const char *text, size_t len, char **ret);

/*
 * Appends one row at time now_ms, inside the caller's open transaction.  details may be
 * NULL ({}), object may be NULL (""); actor and action must not be empty.  Returns 0 with
 * the new seq and hash, -EINVAL (no transaction open, bad details, empty actor or action),
 * -EBADMSG (the last row's hash is malformed: the log was damaged, nothing is appended),
 * -ENOMEM or -EIO (SQLite failed; logged).
 */
int audit_append(sqlite3 *db, int64_t now_ms, const char *actor, const char *action,
    const char *object, const cJSON *details, int64_t *ret_seq,
    char ret_hash[GD_SHA256_HEX_LEN]);

/*
 * Durably records (seq, hash) as the chain's head in the anchor file at path (see above:
 * one pwrite() + fdatasync()); a head already at or past seq is left as it is (0).  Safe
 * to call from several threads.  When the file does not exist it is created (tmp + rename,
 * fsync of file and directory) only for seq 0 or 1, the start of a log; for a later seq it
 * returns -ENOENT, and with both records damaged -EBADMSG, because those are evidence that
 * verify must go on reporting until an operator calls audit_anchor_reset().  Returns 0 or
 * a negative errno.
 */
int audit_anchor_write(const char *path, int64_t seq, const char hash[GD_SHA256_HEX_LEN]);
/* Replaces the anchor file whatever it holds (tmp + rename), for the operator's re-anchor. */
int audit_anchor_reset(const char *path, int64_t seq, const char hash[GD_SHA256_HEX_LEN]);

struct audit_verify {
	bool ok;
	int64_t rows;			/* Rows in the log (all of them, also past a bad one). */
	int64_t first_bad_seq;		/* When !ok: the first row that does not match. */
	char head[GD_SHA256_HEX_LEN];	/* The last good hash. */
	char reason[256];		/* When !ok: why.  When ok: "" or a note (anchor lag). */
};

/*
 * Walks the whole chain and compares its end with the anchor file at anchor_path.  The
 * first row that does not match sets first_bad_seq and reason: its hash does not match its
 * content, its prev_hash does not match the row before, its seq leaves a gap (then the
 * missing seq is named), a field is not text.  Then the anchor rules above; rows missing
 * at the end are named by the first missing seq.  Returns 0 with *ret filled (ok or not),
 * or a negative errno when it could not tell (SQLite failed, the anchor could not be read
 * for another reason than not existing).  Run it under the store's lock, so that no row
 * commits between reading the anchor and walking the rows.
 */
int audit_verify(sqlite3 *db, const char *anchor_path, struct audit_verify *ret);

/*
 * At start-up, before anything appends: verifies (audit_verify()); on an empty log with
 * no anchor file writes the genesis anchor (seq 0); when the chain verifies and the anchor
 * lags (a crash between a commit and its anchor write) moves it to the last row.
 * Returns 0 with the verification in *ret (the caller logs a failed one and keeps going:
 * GET /v1/audit/verify reports it), or a negative errno.
 */
int audit_recover(sqlite3 *db, const char *anchor_path, struct audit_verify *ret);

/*
 * Rows with seq > after_seq and time >= since_ms (0: no bound), at most limit (1..
 * AUDIT_MAX_ROWS_PER_PAGE, larger is cut to it), oldest first, as a JSON array of audit row
 * objects (docs/api.md).  A details text that does not parse (a damaged row) is given as a
 * string.  On success the caller owns *ret (cJSON_Delete()).  -EINVAL, -ENOMEM or -EIO.
 */
int audit_rows_json(sqlite3 *db, int64_t after_seq, int64_t since_ms, int limit,
    cJSON **ret);

#endif
