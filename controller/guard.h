/*
 * The SLA guard: one thread that probes the service of every active run (probe.h), keeps
 * each probe's samples over the longest SLA window that reads them, evaluates the run's
 * SLA expressions (sla.h) at every new sample, and acts, as actor "sla-guard":
 *
 *   preflight     the steady state must hold for one full window (the longest SLA
 *                 window) before the engine may choose targets; the first evaluation that
 *                 does not hold, a probe error included, fails the run, nothing injected;
 *   injecting,    breaches_to_abort breaching evaluations of one SLA in a row abort the
 *   running       run: rolling_back, every fault reverted through the agents' open polls;
 *   rolling_back  samples and evaluations are still recorded (time to recover), no action.
 *
 * Every sample and evaluation goes to the run's timeline (probe_samples, sla_evals); an
 * abort or a failed preflight is one audited transaction with the expression and values.
 * Breach streaks live in memory: a restarted controller starts them from zero, and a run
 * caught in preflight watches a whole window again.
 */
#ifndef GD_GUARD_H
#define GD_GUARD_H

#include "ctl.h"

#define GUARD_ACTOR		"sla-guard"
#define GUARD_SCAN_MS		250	/* Runs are re-read this often, or when kicked. */

int guard_start(struct ctl *c);
/* Stops the thread; guard_kick() stays safe until guard_free() (once no thread can kick). */
void guard_stop(struct ctl *c);
void guard_free(struct ctl *c);
/* A run changed state: look at the runs now rather than at the next scan. */
void guard_kick(struct ctl *c);

#endif
