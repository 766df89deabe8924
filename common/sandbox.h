/*
 * The seccomp sandbox (libseccomp): once entered, a process may make only the system calls
 * on its allow-list; anything else kills it (SCMP_ACT_KILL_PROCESS).  execve and execveat
 * are on no list, so "the agent runs no other program" holds in the kernel, not only in
 * our code.  Sanitizer builds link sandbox_null.c instead (ASan and UBSan need calls no
 * list should carry); GD_SANDBOX_DEBUG in the environment of a debug build makes a refused
 * call print its number and abort instead, to find what a list lacks.
 */
#ifndef GD_SANDBOX_H
#define GD_SANDBOX_H

#include <stdbool.h>

enum sandbox_kind {
	/* The agent's one-shot commands and their watchdogs: files in the state dir,
	 * netlink (nftables, qdiscs), pidfds, fork (watchdogs), threads (cpu.burn, proxy). */
	SANDBOX_AGENT_ONESHOT,
	/* The agent daemon: the same lists, which already hold what libcurl needs to talk
	 * to the controller (inet sockets, poll, socketpair).  The controller's name is
	 * resolved before the sandbox and pinned, so no resolver (thread, UDP) runs inside. */
	SANDBOX_AGENT_DAEMON,
};

/* Enters the sandbox for good (PR_SET_NO_NEW_PRIVS, then the filter).  0 or -errno. */
int sandbox_enter(enum sandbox_kind kind);
/* Whether this build enforces the sandbox (false in sanitizer builds). */
bool sandbox_enforced(void);

#endif
