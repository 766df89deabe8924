/*
 * SSH dispatch and rescue (config "ssh_hosts", ssh.h).
 *
 * Dispatch: hosts listed with "dispatch": true and no enrolled agent are agents of kind
 * "ssh" (agents.via).  Their orders are not polled for: a thread hands each one to a worker
 * that runs the one-shot agent over SSH with a fixed command line,
 *
 *   AGENT --state-dir DIR inject --fault - --ttl <ms>ms      (the fault on standard input)
 *   AGENT --state-dir DIR inject --dry-run --fault -
 *   AGENT --state-dir DIR revert <fault id>                  (hex, as the agent printed it)
 *
 * and records the outcome as the agent's report would be recorded (fleet_record_report()).
 *
 * Rescue: when a polling agent with an SSH entry holds faults whose revert orders have
 * waited DISPATCH_RESCUE_AFTER_MS without a report (the agent is frozen, wedged or cut
 * off) during a rollback, the controller runs `AGENT --state-dir DIR revert --all` there,
 * records the faults reverted, and audits what it did ("ssh.rescue", actor "scheduler").
 */
#ifndef GD_DISPATCH_H
#define GD_DISPATCH_H

#include "ctl.h"

#define DISPATCH_TIMEOUT_MS		30000	/* One SSH command, connect to exit. */
#define DISPATCH_MAX_WORKERS		16	/* SSH sessions at once. */
#define DISPATCH_RESCUE_AFTER_MS	3000	/* A revert unanswered this long: rescue. */
#define DISPATCH_RESCUE_RETRY_MS	10000	/* A failed rescue is tried again after this. */

/* Registers the ssh_hosts of the config as agents and starts the dispatch thread. */
int dispatch_start(struct ctl *c);
/* Stops the thread and waits for the workers; dispatch_kick() stays safe until the free. */
void dispatch_stop(struct ctl *c);
void dispatch_free(struct ctl *c);
/* An order may be waiting for an SSH host: look now. */
void dispatch_kick(struct ctl *c);

#endif
