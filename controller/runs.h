/*
 * Runs: their rows, their state machine and the transactions that move them.
 *
 *   scheduled → awaiting_approval → preflight → injecting → running → rolling_back →
 *   completed | aborted | failed, plus halted (DESIGN §5).
 *
 * Every change happens in one store transaction with its event row and its audit row, so
 * a controller killed at any moment restarts from a consistent state: orders exist exactly
 * when the transition that made them committed (no double injection), and the engine
 * (engine.c) carries each run on from where the store says it is.
 *
 * Faults of a run, per host and playbook fault index (run_faults.state):
 *   pending → applied → reverting → reverted | revert_failed | revert_unconfirmed
 *   pending → inject_failed | cancelled | planned (dry run)
 */
#ifndef GD_RUNS_H
#define GD_RUNS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "hash.h"

#define RUN_ID_LEN	18	/* "r-" and 16 hex digits. */

/* A transaction that audits: rows appended as it goes, the anchor written at commit. */
struct tx {
	struct ctl *c;
	int64_t seq;
	char hash[GD_SHA256_HEX_LEN];
	int err;
};

int tx_begin(struct ctl *c, struct tx *t);
/* Appends an audit row (details consumed); a failure sticks and fails the commit. */
void tx_audit(struct tx *t, const char *actor, const char *action, const char *object,
    cJSON *details);
/* Commits (or rolls back when anything failed) and anchors the chain.  0 or -EIO. */
int tx_commit(struct tx *t);
void tx_abort(struct tx *t);

bool run_state_terminal(const char *state);
bool run_state_active(const char *state);	/* Holds its hosts. */

/*
 * Inside a transaction: moves run id to state to (from whatever it is), with an event and
 * an audit row by actor for reason.  Entering rolling_back queues the reverts.
 */
int run_transition(struct tx *t, const char *id, const char *to, const char *actor,
    const char *reason);
/* Inside a transaction: a "fault" or "note" event of a run. */
int run_event(struct tx *t, const char *id, const char *kind, const char *host,
    const char *actor, const char *reason);
/*
 * Inside a transaction: halts run id (nothing injected yet: halted at once; else rolling
 * back, ending halted).  0, or -EALREADY when it had already ended.
 */
int run_halt(struct tx *t, const char *id, const char *actor, const char *reason);
/* Inside a transaction: queues a revert order for one applied fault of a run (the fault id
 * is the one its report recorded). */
int run_queue_revert(struct tx *t, const char *run, const char *host, int idx);

/* What a new run is (run_create()). */
struct run_spec {
	const char *playbook, *revision, *environment, *reason, *actor;
	const char *risk;		/* The playbook's "risk" id, or NULL. */
	bool dry_run;
	const char *state;		/* preflight, awaiting_approval or scheduled. */
	int64_t not_before;		/* Unix ms it may start at (0: now). */
	int64_t deadline;		/* Unix ms past which it is skipped (0: none). */
};

/*
 * Inside a transaction: a new run, its first event, its run.start audit row and its
 * notification.  Returns 0 with its id, or the transaction's error.
 */
int run_create(struct tx *t, const struct run_spec *s, char id[RUN_ID_LEN + 1]);
/* The run's not_before (Unix ms), 0 when none.  Takes no lock. */
int64_t run_not_before(struct ctl *c, const char *id);
/* The halt-all flag: true (with who and why in *ret) when new runs are blocked.  No lock. */
bool halt_all_in_force(struct ctl *c, cJSON **ret);

/* Wakes the polls of every host of run id (their revert orders are waiting).  Takes the
 * store's lock: call it after the commit. */
void run_wake_hosts(struct ctl *c, const char *id);

/* The run as docs/api.md shows it; NULL when there is none.  Takes no lock. */
cJSON *run_json(struct ctl *c, const char *id, bool with_targets);

/* The engine thread (engine.c). */
int engine_start(struct ctl *c);
void engine_stop(struct ctl *c);
/* One pass over every unfinished run and every agent's lease; tests call it directly. */
void engine_tick(struct ctl *c);

/* Random hex id with a prefix ("r-", "o-"). */
void new_id(const char *prefix, char *buf, size_t len);

#endif
