/*
 * Rehearsals (DESIGN §2 "rehearsal", §4 `rehearsal ack` and `rehearsal step`): a run that
 * practises a recovery plan with the oncall team.
 *
 *   the faults are in place (running)   the oncall is paged through the playbook's webhook
 *                                        (the notifications outbox, event "page");
 *   `rehearsal ack ID --detected`        time to detect = that moment - the faults' moment;
 *   `rehearsal step ID N`                recovery-plan step N ticked, with its time;
 *   the SLAs hold again (after a breach) time to recover as the probes see it;
 *   `rehearsal ack ID --recovered`       time to recover as the team says; the run rolls
 *                                        back and ends completed;
 *   recover_within passes first          the controller reverts on its own (rolling back,
 *                                        ends aborted) and the rehearsal is recorded missed.
 *
 * In a rehearsal the SLA guard records breaches but does not abort: breaking the service
 * is the exercise, and recover_within is its bound.  Preflight's steady state still holds
 * before anything is injected.
 */
#ifndef GD_REHEARSAL_H
#define GD_REHEARSAL_H

#include <cjson/cJSON.h>

#include "ctl.h"
#include "playbook.h"

#define REHEARSAL_WEBHOOK	"rehearsal-page"	/* The outbox's name for a page. */

struct tx;

/* Inside the transaction that moves run to running: the rehearsal starts, the page goes. */
void rehearsal_begin(struct tx *t, const char *run, const struct playbook *pb);
/* Inside a transaction, for a running rehearsal: past recover_within, missed and reverted.
 * True when it acted. */
bool rehearsal_check_missed(struct tx *t, const char *run, int64_t now);
/* The rehearsal's figures against its targets, or NULL when the run is none.  No lock. */
cJSON *rehearsal_json(struct ctl *c, const char *run);
/* The page's URL for an outbox row of run (REHEARSAL_WEBHOOK), "" when none.  No lock. */
void rehearsal_page_url(struct ctl *c, const char *run, char *buf, size_t len);
/* The SLA guard saw every SLA hold again after a breach (a light fact: once).  No lock. */
void rehearsal_probe_recovered(struct tx *t, const char *run, int64_t when);

#endif
