/*
 * The agent's core, shared by the one-shot commands and the watchdogs: inject, revert,
 * sweep, list and capabilities over the journal (journal.h) and the fault modules.
 *
 * Every operation runs with the journal locked (agent_open() to agent_close()), so
 * concurrent invocations and watchdogs never interleave.  The rules:
 *  - journal before effect: an entry is on disk (state applying) before anything changes,
 *    and it names what a revert will need before that thing is created;
 *  - a revert is idempotent (already gone is done) and verified against the kernel or the
 *    disk before the entry is removed; a revert that fails keeps the entry as
 *    revert_failed, with the reason, for the next invocation to retry;
 *  - agent_sweep(), which every command runs first, reverts what has expired, what belongs
 *    to an earlier boot, and what a crash left half-applied or half-reverted.
 */
#ifndef GD_AGENT_H
#define GD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "arena.h"
#include "err.h"
#include "fault.h"
#include "fault_net.h"
#include "journal.h"
#include "policy.h"

/* How long a proxy redirect lives without its watchdog renewing it. */
#define GD_PROXY_LEASE_MS	3000ULL
/* SO_MARK of the proxy's upstream sockets ("gd"), which the redirect skips. */
#define GD_PROXY_MARK		0x6764U

struct agent {
	struct policy pol;
	char state_dir[GD_MAX_PATH_BYTES];
	struct journal *j;	/* Open and locked while the agent is. */
	struct fault_net *net;	/* Opened on first use. */
};

/* Opens and locks the journal in state_dir.  pol is copied. */
int agent_open(struct agent *a, const struct policy *pol, const char *state_dir);
void agent_close(struct agent *a);

/*
 * Parses an order (one fault object, as in a playbook's faults[]) into *ret, its strings in
 * a new arena the caller owns (arena_free()).  Problems are recorded in err by JSON path.
 */
int agent_order_parse(const char *json, size_t len, struct arena **ret_arena,
    struct fault *ret, struct gd_err *err);

/* The fault of a journal entry, parsed again from its canonical JSON. */
int agent_entry_fault(const struct jentry *e, struct arena **ret_arena, struct fault *ret);

/*
 * Applies f for ttl_ms.  On success ret_id holds the fault id; when the same order is
 * already in effect, nothing changes and *ret_duplicate is set.  On failure whatever was
 * applied is reverted and why says what went wrong.  order_id, the controller's order
 * (NULL for a one-shot command), is kept in the journal entry.
 */
int agent_inject(struct agent *a, const struct fault *f, uint64_t ttl_ms, const char *order_id,
    char ret_id[GD_FAULT_ID_LEN + 1], bool *ret_duplicate, char *why, size_t whylen);

/* What agent_inject() would change, as text, changing nothing.  Caller frees *ret_text. */
int agent_dry_run(struct agent *a, const struct fault *f, uint64_t ttl_ms, char **ret_text,
    char *why, size_t whylen);

/* Reverts fault id and verifies it.  -ENOENT when the journal does not hold it. */
int agent_revert(struct agent *a, const char *id, char *why, size_t whylen);
/* Reverts every fault; *ret_failed counts those whose revert failed. */
int agent_revert_all(struct agent *a, size_t *ret_failed);
/* Reverts what is expired, from an earlier boot, or left half-done; see above. */
int agent_sweep(struct agent *a, size_t *ret_reverted, size_t *ret_failed);

/* Every fault in the journal, with what the kernel says of it now. */
int agent_list_json(struct agent *a, cJSON **ret);
/* Which fault types and backends this host supports. */
int agent_capabilities_json(struct agent *a, cJSON **ret);

/* Whether entry e is still in effect, read from the kernel, the disk or /proc. */
bool agent_in_effect(struct agent *a, const struct jentry *e);

#endif
