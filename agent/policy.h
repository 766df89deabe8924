/*
 * Local policy: what this host allows, whatever the controller or an operator asks.  It is
 * built from defaults, the agent's config file and its command line, and checked again for
 * every order (policy_check()).  The controller cannot widen it.
 */
#ifndef GD_POLICY_H
#define GD_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fault.h"
#include "fault_net.h"

#define GD_MAX_ALLOW_PATHS		16
#define GD_MAX_PROTECTED_COMMS		32
#define GD_AGENT_DEFAULT_STATE_DIR	"/var/lib/gameday-agent"

struct policy {
	bool type_allowed[FAULT_TYPE_MAX];
	uint64_t ttl_cap_ms;			/* Longest TTL accepted. */
	const char *allow_paths[GD_MAX_ALLOW_PATHS];	/* disk.fill; borrowed strings. */
	size_t nallow_paths;
	const char *protected_comms[GD_MAX_PROTECTED_COMMS];	/* Never signalled. */
	size_t nprotected_comms;
	uint32_t max_cpu_cores;			/* cpu.burn ceiling; 0: the online CPUs. */
	uint64_t max_memory_bytes;		/* memory.hog ceiling. */
	struct net_exempt exempt;		/* The control channel: never faulted. */
};

/* Defaults: every type, TTL cap 1 day, no fill paths, sshd protected, SSH port 22 exempt. */
void policy_init(struct policy *p);
/* Adds host:port ("192.0.2.1:7070", "[2001:db8::1]:7070") to the exemptions. */
int policy_exempt_hostport(struct policy *p, const char *hostport, const char **why);
/* Takes the controller's address and port from its URL (http(s)://host[:port]/...). */
int policy_exempt_url(struct policy *p, const char *url, const char **why);

/*
 * Whether this host accepts fault f for ttl_ms.  On refusal returns -EPERM and writes a
 * sentence an operator can act on in why.
 */
int policy_check(const struct policy *p, const struct fault *f, uint64_t ttl_ms, char *why,
    size_t whylen);

/* Whether pid must never be signalled: pid 1, this process and its ancestors, kernel
 * threads, and processes whose comm is protected.  comm is the process's /proc comm. */
bool policy_pid_protected(const struct policy *p, pid_t pid, const char *comm);

#endif
