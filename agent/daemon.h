/*
 * gameday-agent's daemon mode (DESIGN §4, docs/api.md "Agent protocol"): enrol once, then
 * long-poll the controller for orders, run them through the agent core exactly as the
 * one-shot commands do, report each one, and revert everything when the controller has
 * been out of reach for longer than the lease (DESIGN §7.2).
 *
 * One process, one loop, no threads: sweep the journal, send reports still owed, poll,
 * run the orders that came back.  The journal lock is taken for each step and never held
 * across a poll, so the faults' watchdogs revert at their TTLs while the daemon waits.
 */
#ifndef GD_DAEMON_H
#define GD_DAEMON_H

#include <stdint.h>

#include "policy.h"

/* How long faults stay without a successful poll, unless --lease says otherwise. */
#define GD_DEFAULT_LEASE_MS	15000ULL
/* The shortest lease: below it a poll could not even be answered in time. */
#define GD_MIN_LEASE_MS		3000ULL
/* The longest: a switch that waits longer than an hour is not a dead man's switch. */
#define GD_MAX_LEASE_MS		(3600ULL * 1000)

struct daemon_config {
	const char *controller;		/* The controller's URL. */
	const char *token_file;		/* The enrolment token; NULL once enrolled. */
	const char *tags;		/* "k=v,k2=v2", or NULL for none. */
	const char *state_dir;
	uint64_t lease_ms;
};

/*
 * Runs the daemon until SIGTERM or SIGINT (exit status 0) or a fatal error (1).  pol is
 * the local policy from the command line; the controller's addresses are added to its
 * control channel here.  Logs every event; prints nothing on stdout.
 */
int daemon_main(const struct daemon_config *cfg, struct policy *pol);

#endif
