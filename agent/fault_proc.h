/*
 * process.kill and process.pause.  Processes are chosen from /proc by the fault's matcher
 * (every given criterion must hold), protected ones are left out (policy.h), and each is
 * signalled through a pidfd opened and then checked against the start time seen while
 * matching, so a PID the kernel reused in between is never signalled.
 */
#ifndef GD_FAULT_PROC_H
#define GD_FAULT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "journal.h"
#include "policy.h"

/*
 * The processes fault f (kill or pause) would signal: every unprotected match, then a
 * random subset of count, or of floor(percent x matches) but at least 1 when anything
 * matched.  *ret_matched counts the unprotected matches.  On success the caller owns *ret
 * (gd_free()); no match is success with *ret_n == 0.
 */
int fault_proc_select(const struct fault *f, const struct policy *pol, struct jproc **ret,
    size_t *ret_n, size_t *ret_matched);

/* Sends signo to p if it is still the same process.  -ESRCH when it is gone or reused. */
int fault_proc_signal(const struct jproc *p, int signo);

/*
 * Whether p is still the same process and stopped (state T); false when it is gone, true
 * when /proc cannot be read (a revert must not be reported on a guess).
 */
bool fault_proc_is_stopped(const struct jproc *p);

/* Whether p is still the same process (and not a zombie). */
bool fault_proc_alive(const struct jproc *p);

/*
 * After a kill: waits until a process matching f appears that is not one of killed[], or
 * until wait_ms pass.  Returns the milliseconds it took, or -1.
 */
int64_t fault_proc_wait_restart(const struct fault *f, const struct policy *pol,
    const struct jproc *killed, size_t nkilled, int64_t since_mono_ms, uint64_t wait_ms);

#endif
