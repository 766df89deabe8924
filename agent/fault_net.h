/*
 * network.partition, network.loss, and the redirect of network.latency's proxy backend,
 * through libnftables (never the nft program) in one table of our own, "inet gameday".
 *
 * Every fault gets its own chains and sets, named after its id, so faults come and go
 * independently.  What a rule matches is gated by set elements that carry a kernel timeout:
 * when no agent renews them (the agent died, or a one-shot inject has no agent left), the
 * elements expire and the rules match nothing, at the TTL at the latest.  The control
 * channel (struct net_exempt) is accepted before any of a fault's rules.
 */
#ifndef GD_FAULT_NET_H
#define GD_FAULT_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "fault.h"

#define GD_NFT_TABLE		"gameday"	/* Family inet. */
#define GD_MAX_EXEMPT_HOSTS	8
#define GD_MAX_EXEMPT_PORTS	8

/* Traffic no network fault may touch: the controller connection and local SSH. */
struct net_exempt {
	struct {
		int family;		/* AF_INET or AF_INET6. */
		uint8_t addr[16];	/* Network byte order. */
		uint16_t port;		/* Host byte order; 0: every port of that host. */
	} hosts[GD_MAX_EXEMPT_HOSTS];
	size_t nhosts;
	uint16_t local_ports[GD_MAX_EXEMPT_PORTS];	/* TCP ports of this host (SSH: 22). */
	size_t nlocal_ports;
};

/* The redirect a network.latency proxy needs; only for FAULT_NET_LATENCY. */
struct net_redirect {
	uint16_t port;		/* The proxy listens on this port, on every local address. */
	uint32_t mark;		/* The proxy's own upstream sockets carry it (SO_MARK). */
};

struct fault_net;

/* Opens a libnftables context.  On success the caller owns *ret (fault_net_close()). */
int fault_net_open(struct fault_net **ret);
struct fault_net *fault_net_close(struct fault_net *n);

/*
 * The nftables commands that apply fault f as id, in nft syntax, for `inject --dry-run`
 * and for the log; the same text fault_net_apply() hands to libnftables.  id is 1..32
 * bytes of [a-z0-9].  redir is required for FAULT_NET_LATENCY and ignored otherwise.
 * timeout_ms is the lifetime of the gating set elements.  On success the caller owns
 * *ret_text (gd_free()).
 */
int fault_net_render(const char *id, const struct fault *f, const struct net_exempt *ex,
    const struct net_redirect *redir, uint64_t timeout_ms, char **ret_text);

/*
 * Applies fault f as id in one transaction: all of it or none of it.  Applying an id that
 * is already present returns -EEXIST and changes nothing.  On failure a reason goes in why.
 */
int fault_net_apply(struct fault_net *n, const char *id, const struct fault *f,
    const struct net_exempt *ex, const struct net_redirect *redir, uint64_t timeout_ms,
    char *why, size_t whylen);

/* Gives the gating elements of id a fresh timeout_ms; -ENOENT when id is not there. */
int fault_net_renew(struct fault_net *n, const char *id, uint64_t timeout_ms);

/*
 * Removes every chain, rule and set of id, and the table when nothing else is left in it.
 * Idempotent: 0 when id was already gone.
 */
int fault_net_revert(struct fault_net *n, const char *id);

/*
 * Reads the kernel: *ret_present when id's chains or sets exist, *ret_live when at least
 * one of its gating elements has not expired yet.
 */
int fault_net_status(struct fault_net *n, const char *id, bool *ret_present, bool *ret_live);

/* The ids of every fault present in the table, for cleanup; the caller owns the strings. */
int fault_net_list(struct fault_net *n, char ***ret_ids, size_t *ret_n);

/* The whole table as nft text ("" when there is no table); the caller owns *ret_text. */
int fault_net_ruleset(struct fault_net *n, char **ret_text);

#endif
