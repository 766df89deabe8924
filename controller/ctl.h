/*
 * gamedayd's shared state: the configuration, the store, the HTTP server and the run
 * engine.  One struct ctl per process (tests start several, each in its own state dir).
 *
 * Threads: libmicrohttpd's single polling thread runs every request handler; the engine
 * thread advances runs and wakes long-polls.  They share the store (its mutex) and the
 * waiter list (ctl->wlock).  A long-poll is a suspended connection, never a thread.
 */
#ifndef GD_CTL_H
#define GD_CTL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "limits.h"
#include "ssh.h"
#include "store.h"

#define CTL_DEFAULT_LISTEN	"127.0.0.1:7070"
#define CTL_DEFAULT_STATE_DIR	"/var/lib/gamedayd"
#define CTL_MAX_BODY		(1024 * 1024)	/* Request bodies over this get 413. */
#define CTL_MAX_HEADERS		(16 * 1024)	/* Request headers over this get 431. */
#define CTL_POLL_MAX_MS		25000		/* The longest a long-poll is held. */
#define CTL_LOST_GRACE_MS	5000		/* Silent past lease + this: lost. */
#define CTL_INJECT_TIMEOUT_MS	60000		/* Faults not applied by then: roll back. */
#define CTL_ORDER_GRACE_MS	30000		/* Agent TTL = run's remaining time + this. */
#define CTL_ENROLL_TTL_MS	(24LL * 3600 * 1000)	/* Enrolment tokens expire. */

#define CTL_MAX_SSH_HOSTS	1024
#define CTL_DEFAULT_AGENT_PATH	"/usr/bin/gameday-agent"
#define CTL_DEFAULT_AGENT_STATE	"/var/lib/gameday-agent"

/*
 * A host the controller reaches over SSH (config "ssh_hosts"): to dispatch faults to it by
 * running the one-shot agent (dispatch), or only to rescue its agent daemon when it stops
 * answering during a rollback.  Host keys are always verified against known_hosts.
 */
struct ssh_host {
	char host[256];			/* The agent name it stands for. */
	struct ssh_target t;
	char tags[2048];		/* Compact JSON object. */
	char agent[GD_MAX_PATH_BYTES];	/* The gameday-agent binary on the host. */
	char state_dir[GD_MAX_PATH_BYTES];	/* Its state dir (the daemon's, for a rescue). */
	bool dispatch;			/* A target reached over SSH (default); else rescue only. */
};

#define CTL_MAX_WEBHOOKS	16
#define CTL_MAX_ALERTMANAGERS	4
#define CTL_MAX_MATCHERS	8

/* A webhook of the config's "notify" (notify.h). */
struct webhook {
	char name[64];			/* How logs and the outbox name it (the URL is secret). */
	char url[GD_MAX_URL_BYTES];
	bool slack;			/* "format": "slack"; else the generic JSON. */
	unsigned events;		/* 1 << enum notify_event; every event by default. */
};

/* The scheduler's checks before a scheduled start (config "scheduler", sched.h). */
struct sched_config {
	char alertmanagers[CTL_MAX_ALERTMANAGERS][GD_MAX_URL_BYTES];
	size_t nalertmanagers;
	char matchers[CTL_MAX_MATCHERS][256];	/* Alertmanager filters: severity="critical". */
	size_t nmatchers;
	char budget_url[GD_MAX_URL_BYTES];	/* "" = no error-budget gate. */
	char budget_query[4096];
	double budget_min;		/* The query's value must be at least this. */
	uint64_t check_timeout_ms;	/* Each Alertmanager or Prometheus request. */
	uint64_t approval_lead_ms;	/* Runs needing approval are created this early. */
	uint64_t tick_ms;		/* How often schedules are looked at. */
};

struct config {
	char state_dir[GD_MAX_PATH_BYTES];
	char listen_addr[64];
	uint16_t listen_port;
	char tls_cert[GD_MAX_PATH_BYTES], tls_key[GD_MAX_PATH_BYTES];	/* "" = plain HTTP. */
	uint64_t poll_max_ms;		/* CTL_POLL_MAX_MS; tests shorten it. */
	uint64_t tick_ms;		/* The engine's period; 100 ms. */
	unsigned max_connections;	/* Open connections, long-polls included. */
	struct ssh_host *ssh_hosts;	/* config_load() allocates; lives as long as the process. */
	size_t nssh_hosts;
	struct webhook *webhooks;	/* Likewise. */
	size_t nwebhooks;
	struct sched_config sched;
};

struct waiter;
struct guard;
struct dispatch;
struct notify;
struct sched;

struct ctl {
	struct config cfg;
	struct store *store;
	struct MHD_Daemon *mhd;
	uint16_t port;			/* The bound port (cfg may say 0). */

	pthread_t engine;
	bool engine_started;
	struct guard *guard;		/* The SLA guard's thread (guard.h). */
	struct dispatch *dispatch;	/* SSH dispatch and rescue (dispatch.h). */
	struct notify *notify;		/* Webhooks (notify.h); NULL without any. */
	struct sched *sched;		/* Scheduled starts (sched.h). */
	int64_t lost_checked;		/* Engine only: when silent agents were last looked for. */
	pthread_mutex_t wlock;		/* Guards the waiters and the flags below. */
	pthread_cond_t wake;		/* Signals the engine. */
#define CTL_WAIT_BUCKETS 4096
	struct waiter *waiters[CTL_WAIT_BUCKETS];	/* Suspended long-polls, by key hash. */
	size_t nwaiters;
	bool stopping, kick;
	uint64_t wake_seq;		/* Bumped by every ctl_wake(). */

	/* Counters for /metrics (under wlock). */
	uint64_t requests, polls_answered, orders_delivered;
};

/* The ssh_hosts entry of host, or NULL. */
const struct ssh_host *config_ssh_host(const struct config *cfg, const char *host);

/* Defaults, then the config file (JSON) if any; flags are applied by the caller. */
void config_defaults(struct config *cfg);
int config_load(struct config *cfg, const char *path, char *why, size_t whylen);
/* "ADDR:PORT" (IPv4, or [IPv6]:PORT) into cfg. */
int config_set_listen(struct config *cfg, const char *s, char *why, size_t whylen);

/* Opens the store, starts the HTTP server and the engine. */
int ctl_start(struct ctl *c, const struct config *cfg, char *why, size_t whylen);
/* Stops accepting, answers the long-polls, stops the engine, closes the store. */
void ctl_stop(struct ctl *c);

/* Asks the engine to run now (a run changed, an order was queued). */
void ctl_kick(struct ctl *c);
/* Answers every long-poll waiting on key (a host's polls, a run's event watchers). */
void ctl_wake(struct ctl *c, const char *key);
void ctl_wake_all(struct ctl *c);

#endif
