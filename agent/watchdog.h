/*
 * The watchdog: a small detached process per fault, forked from the agent (never exec'd),
 * that reverts the fault at its TTL through the same code as `gameday-agent revert`, and
 * holds what only lives in a process: cpu.burn threads, memory.hog pages, the latency
 * proxy (whose redirect it renews every second, so a dead proxy is never a black hole).
 * For process.kill with expect_restart_within it watches for the restart and records it.
 *
 * SIGTERM (sent by a revert through a pidfd) makes it drop what it holds and exit at once;
 * the reverter does the rest.  It closes every descriptor it inherited, so it never holds
 * the journal lock of the command that started it.
 */
#ifndef GD_WATCHDOG_H
#define GD_WATCHDOG_H

#include "agent.h"

/*
 * Starts the watchdog of e (whose fault is f).  keep_fd (or -1) is handed to it: the
 * proxy's listening socket.  Returns once the watchdog holds its effect, with its identity
 * in *ret; on failure no watchdog is left running.
 */
int watchdog_start(struct agent *a, const struct jentry *e, const struct fault *f,
    int keep_fd, struct jproc *ret, char *why, size_t whylen);

/* Stops watchdog w (not when it is the caller) and waits up to 2 s for it to exit. */
int watchdog_stop(const struct jproc *w);

#endif
