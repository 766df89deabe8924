/*
 * The scheduler: applied playbooks with a "schedule" get runs at their start times
 * (calendar.h says when), as actor "scheduler".
 *
 * For each scheduled playbook, its row in `schedules` holds the last start and the next
 * planned one (start, and the end of its window), written before anything is done about
 * them, so a restart neither loses a limit (once a day, once a week, min_time_between) nor
 * starts twice.  At the planned start, within SCHED_START_GRACE_MS of it:
 *
 *   - halt --all in force, an alert firing (outage check), the error budget spent or the
 *     check failing: the run is recorded and ends `aborted` at once, "skipped: <why>",
 *     nothing injected;
 *   - else the run goes to preflight (which checks its steady state first).
 *
 * A start found more than SCHED_START_GRACE_MS late (the controller was down) is skipped,
 * never run late, and recorded the same way.  Playbooks that need approval get their run
 * created ahead (approval_lead before the start) in `awaiting_approval`; once approved it
 * waits in `scheduled` for its start; still not approved when it could no longer finish
 * inside its window, it is skipped.  After a skip the next start is planned after the end
 * of that window: a window gets one attempt.
 */
#ifndef GD_SCHED_H
#define GD_SCHED_H

#include "ctl.h"

#define SCHED_ACTOR		"scheduler"
#define SCHED_START_GRACE_MS	60000	/* A start taken later than this is a missed one. */

int sched_start(struct ctl *c);
/* Stops the thread; sched_kick() stays safe until sched_free(). */
void sched_stop(struct ctl *c);
void sched_free(struct ctl *c);
/* A playbook was applied, a run approved or halted: look at the schedules now. */
void sched_kick(struct ctl *c);

#endif
