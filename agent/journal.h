/*
 * The fault journal: one file per fault in STATE_DIR/journal/, written and fsynced before
 * the fault touches the host, rewritten as it changes state, removed once the revert is
 * verified.  Whatever crashes, the next gameday-agent invocation finds every fault that may
 * still be in effect, with what it needs to revert it.
 *
 * Files are replaced atomically (write a temporary file, fsync, rename, fsync the
 * directory).  Concurrent invocations (one-shot commands, watchdogs) serialise on an
 * exclusive flock of STATE_DIR/lock, held from journal_open() to journal_close().
 */
#ifndef GD_JOURNAL_H
#define GD_JOURNAL_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "limits.h"

enum jstate {
	JSTATE_APPLYING,	/* Written before inject; the fault may be partly in effect. */
	JSTATE_APPLIED,
	JSTATE_REVERTING,
	JSTATE_REVERT_FAILED,	/* Reported as such and retried; never success. */
};

/* A process we signalled, identified beyond its PID by its start time (PID reuse). */
struct jproc {
	pid_t pid;
	uint64_t start;		/* /proc/PID/stat field 22, clock ticks since boot. */
};

struct jentry {
	char id[GD_FAULT_ID_LEN + 1];
	char order[65];		/* SHA-256 of the canonical order: duplicates apply once. */
	/* The controller's order id that injected it ("" for one-shot commands), so the
	 * daemon's poll names it after a restart; optional in the file (older entries). */
	char order_id[GD_MAX_ORDER_ID_BYTES + 1];
	enum jstate state;
	int64_t created_ms;	/* CLOCK_REALTIME, so a restart or reboot can compare. */
	int64_t expires_ms;	/* created + TTL. */
	char *fault;		/* The canonical fault JSON, as fault_to_json() wrote it. */
	char *error;		/* Why the last revert failed; NULL otherwise. */
	uint32_t attempts;	/* Revert attempts so far. */
	/* What the fault did, as far as a revert needs to know. */
	struct jproc holder;	/* The detached watchdog that holds the fault; pid 0: none. */
	struct jproc *procs;	/* Paused or killed processes. */
	size_t nprocs;
	char path[GD_MAX_PATH_BYTES];	/* disk.fill: the file we created. */
	char dev[IFNAMSIZ];		/* network.bandwidth, netem latency: the device. */
	char backend[8];		/* network.latency: "netem" or "proxy". */
	uint16_t proxy_port;
	int64_t restart_ms;	/* process.kill: ms until a new match appeared; -1: none yet. */
	uint64_t fill_bytes;	/* disk.fill: the size of the file. */
	uint64_t fill_dev, fill_ino;	/* disk.fill: its directory, to tell it from a mount. */
	char boot[40];		/* The boot the fault was applied in (boot_id). */
};

struct journal;

/*
 * Opens (creating it 0700 if needed) and locks dir.  -EACCES when dir is not owned by this
 * user or is writable by others.  Caller owns *ret (journal_close()).
 */
int journal_open(const char *dir, struct journal **ret);
struct journal *journal_close(struct journal *j);

/* Writes e durably (replacing the file of the same id).  Returns 0 only once it is on disk. */
int journal_write(struct journal *j, const struct jentry *e);
/* Removes e's file durably; 0 when it was already gone. */
int journal_remove(struct journal *j, const char *id);
/*
 * Every entry, oldest first.  A file that cannot be read or parsed is reported with
 * log_warnx() and kept aside as id.bad, never silently dropped.  Caller owns the array and
 * the entries (jentries_free()).
 */
int journal_load(struct journal *j, struct jentry ***ret, size_t *ret_n);
/*
 * The state of entry id in dir, read without the lock (files are replaced atomically): for
 * a watchdog that must tell a revert's SIGTERM from anyone else's.
 */
int journal_peek_state(const char *dir, const char *id, enum jstate *ret);
/* One entry; -ENOENT when there is none. */
int journal_get(struct journal *j, const char *id, struct jentry **ret);

/*
 * Parses the text of one entry file (what journal_write() wrote).  -EBADMSG for anything
 * else.  On success the caller owns *ret (jentry_free()).
 */
int jentry_parse(const char *buf, size_t len, struct jentry **ret);
/* A fresh entry with a random id; caller owns it (jentry_free()). */
int jentry_new(struct jentry **ret);
struct jentry *jentry_free(struct jentry *e);
void jentries_free(struct jentry **v, size_t n);
const char *jstate_name(enum jstate s);
/* This boot's id (/proc/sys/kernel/random/boot_id); "" when it cannot be read. */
const char *journal_boot_id(void);
/* Whether s is a fault id: GD_FAULT_ID_LEN lower-case hex digits. */
bool fault_id_valid(const char *s);
/* Whether s is a controller's order id: 1 to GD_MAX_ORDER_ID_BYTES of [A-Za-z0-9_-]. */
bool order_id_valid(const char *s);

#endif
