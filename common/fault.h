/*
 * The fault catalogue's parameters (DESIGN §3): one typed struct per fault type, parsed and
 * validated from JSON (a playbook's faults[], or an agent order), and written back in
 * canonical form.  What a fault does to a host lives in agent/; this is only its shape.
 */
#ifndef GD_FAULT_H
#define GD_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "arena.h"
#include "json.h"
#include "limits.h"
#include "parse.h"

enum fault_type {
	FAULT_PROCESS_KILL,
	FAULT_PROCESS_PAUSE,
	FAULT_NET_PARTITION,
	FAULT_NET_LOSS,
	FAULT_NET_LATENCY,
	FAULT_NET_BANDWIDTH,
	FAULT_DISK_FILL,
	FAULT_CPU_BURN,
	FAULT_MEMORY_HOG,
	FAULT_TYPE_MAX
};

enum net_direction { NET_DIR_BOTH, NET_DIR_INGRESS, NET_DIR_EGRESS };
enum net_protocol { NET_PROTO_ALL, NET_PROTO_TCP, NET_PROTO_UDP, NET_PROTO_ICMP };
enum latency_backend { LATENCY_AUTO, LATENCY_NETEM, LATENCY_PROXY };

/* Strings are borrowed from the arena the fault was parsed into; NULL when not given. */
struct proc_match {
	const char *comm;	/* Exact /proc/PID/comm (at most 15 bytes). */
	const char *cmdline;	/* Bounded extended regex over the NUL-joined cmdline. */
	const char *pidfile;	/* Absolute path of a file holding a PID. */
	const char *unit;	/* systemd unit whose cgroup holds the processes. */
};

struct net_filter {
	struct gd_cidr peers[GD_MAX_PEERS];
	size_t npeers;		/* 0: any peer. */
	uint16_t ports[GD_MAX_PORTS];
	size_t nports;		/* 0: any port. */
	enum net_direction direction;
	enum net_protocol protocol;	/* Only network.partition sets it; else all. */
};

struct fault {
	enum fault_type type;
	union {
		struct {
			struct proc_match match;
			int signo;
			bool by_percent;
			uint32_t count;
			double percent;
			uint64_t expect_restart_ms;	/* 0: not checked. */
		} kill;
		struct {
			struct proc_match match;
			uint32_t count;
		} pause;
		struct {
			struct net_filter filter;
			double percent;			/* network.loss only. */
			uint64_t delay_ms, jitter_ms;	/* network.latency only. */
			enum latency_backend backend;	/* network.latency only. */
		} net;
		struct {
			uint64_t rate;			/* Bytes per second. */
			const char *device;		/* NULL: the default route's. */
		} bandwidth;
		struct {
			const char *path;
			bool by_percent;		/* fill_to_percent, else size. */
			double fill_to_percent;
			struct gd_size size;
			bool keep_free_set;
			struct gd_size keep_free;	/* Unset: 1% and 100MB. */
		} disk;
		struct {
			uint32_t cores;
			uint32_t load_percent;
		} cpu;
		struct {
			struct gd_size size;
		} mem;
	} u;
};

const char *fault_type_name(enum fault_type t);
int fault_type_from_name(const char *name, enum fault_type *ret);
bool fault_type_is_network(enum fault_type t);

/*
 * Parses one fault object at the current path of c.  Strings are copied into arena.
 * Returns true when the fault is valid (errors are recorded in c otherwise).
 */
bool fault_parse(struct jctx *c, const cJSON *node, struct arena *arena, struct fault *ret);
/* Canonical JSON, every default written out; NULL when out of memory. */
cJSON *fault_to_json(const struct fault *f);

#endif
