/*
 * Queueing disciplines over netlink (libnl-route-3; never the tc program): tbf for
 * network.bandwidth, and netem for network.latency where the kernel has sch_netem.
 *
 * A qdisc we add is the root qdisc of the device with handle GD_TC_HANDLE, so revert and
 * status can tell ours from one an operator configured.  A device whose root qdisc was set
 * by someone else (a handle other than 0:) is refused, not replaced.
 */
#ifndef GD_FAULT_TC_H
#define GD_FAULT_TC_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#define GD_TC_HANDLE	0x67640000U	/* "gd": major 0x6764, minor 0. */

/*
 * Whether this kernel can create a netem qdisc.  Checked by asking the kernel (a forked child
 * adds a netem qdisc on lo of a network namespace of its own, which dies with it; only when
 * that namespace cannot be made, the module lists), never assumed; *why (static text) says
 * how it was decided, or why not.  Decided once per process: it forks the first time.
 */
bool fault_tc_netem_supported(const char **why);

/* The device of the default route (IPv4, then IPv6).  -ENOENT when there is none. */
int fault_tc_default_dev(char ret_dev[IFNAMSIZ]);

/*
 * What fault_tc_*_apply() would do, as one line of text, for --dry-run.  tbf's burst and
 * limit follow the device's MTU, read when dev exists here (else 1500 is assumed and the
 * line says so).  -EINVAL or -ERANGE for what apply would refuse.  Caller gd_free()s it.
 */
int fault_tc_render_tbf(const char *dev, uint64_t rate_bytes_per_s, char **ret_text);
int fault_tc_render_netem(const char *dev, uint64_t delay_ms, uint64_t jitter_ms,
    char **ret_text);

/*
 * Adds our root qdisc on dev: tbf at rate (bytes per second; burst and limit derived from
 * it), or netem with delay and jitter (uniform, in milliseconds) on egress.  -EEXIST when
 * our qdisc is already there (nothing changed), -EBUSY when another root qdisc was
 * configured, -ENODEV when dev does not exist, -EINVAL/-ERANGE for parameters out of range
 * (tbf takes at most INT32_MAX bytes/s over netlink), -EOPNOTSUPP for netem on a kernel
 * without sch_netem; a reason goes in why (which may be NULL).
 */
int fault_tc_tbf_apply(const char *dev, uint64_t rate_bytes_per_s, char *why, size_t whylen);
int fault_tc_netem_apply(const char *dev, uint64_t delay_ms, uint64_t jitter_ms, char *why,
    size_t whylen);

/*
 * Removes our root qdisc from dev (the kernel restores the default).  Idempotent: 0 when
 * it is already gone or the device no longer exists.
 */
int fault_tc_revert(const char *dev);

/*
 * Reads the kernel: *ret_present when dev's root qdisc is ours, and in ret_kind the kind of
 * the root qdisc whoever added it ("tbf", "netem", "noqueue", "htb"...; "" if none is
 * listed).  -ENODEV when dev does not exist.
 */
int fault_tc_status(const char *dev, bool *ret_present, char ret_kind[16]);

#endif
