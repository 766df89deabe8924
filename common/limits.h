/*
 * Every limit on untrusted input, in one place.  Each one says why it is what it is.
 * Over a limit, input is rejected with the JSON path and the limit named; nothing is
 * truncated silently.
 */
#ifndef GD_LIMITS_H
#define GD_LIMITS_H

/* A playbook is a human-written file; 1 MiB is far beyond any real one. */
#define GD_MAX_PLAYBOOK_BYTES		(1024 * 1024)
/* The playbook schema nests 5 levels deep; 32 leaves room and stops stack abuse. */
#define GD_MAX_JSON_DEPTH		32
/* Any single string value (descriptions are the longest legitimate ones). */
#define GD_MAX_STRING_BYTES		16384
/* Names of playbooks, probes, tags: short identifiers that show up in logs and URLs. */
#define GD_MAX_NAME_BYTES		64
/* Tag values, owners, risk ids, recovery-plan steps. */
#define GD_MAX_SHORT_STRING_BYTES	256
/* URLs of probes, webhooks and recovery plans. */
#define GD_MAX_URL_BYTES		2048
/* A PromQL query. */
#define GD_MAX_QUERY_BYTES		4096
/* Absolute paths (PATH_MAX is 4096; we keep well below to leave room for our suffixes). */
#define GD_MAX_PATH_BYTES		1024
/* A cmdline regular expression; longer ones are not matchers a person can review. */
#define GD_MAX_REGEX_BYTES		256
/*
 * Repetition in one regex: bounds {m,n} add up, nested ones multiply, and must stay within
 * GD_MAX_REGEX_REPEAT; the pattern with every repeated part copied out (as regcomp() does)
 * must stay within GD_MAX_REGEX_EXPANDED atoms.  Together they keep compiled automata small.
 */
#define GD_MAX_REGEX_REPEAT		256
#define GD_MAX_REGEX_EXPANDED		4096

#define GD_MAX_FAULTS			16
#define GD_MAX_PROBES			32
#define GD_MAX_SLAS			64
#define GD_MAX_TAGS			32
#define GD_MAX_PEERS			64
#define GD_MAX_PORTS			64
#define GD_MAX_STEPS			64
#define GD_MAX_WINDOWS			32
#define GD_MAX_BLACKOUTS		64
#define GD_MAX_EXPECT_STATUS		16
/* Hosts one run may target; also the ceiling of guardrails.max_hosts. */
#define GD_MAX_HOSTS_PER_RUN		10000

/* Durations are milliseconds in a uint64_t; nothing we schedule is longer than a year. */
#define GD_MAX_DURATION_MS		(366ULL * 24 * 3600 * 1000)
/* A run (and so any fault TTL) lasts at most a day: longer is an outage, not a Game Day. */
#define GD_MAX_RUN_MS			(24ULL * 3600 * 1000)
#define GD_MIN_RUN_MS			1000ULL
/* Probe intervals and timeouts. */
#define GD_MIN_PROBE_INTERVAL_MS	100ULL
#define GD_MAX_PROBE_INTERVAL_MS	(3600ULL * 1000)
#define GD_MIN_PROBE_TIMEOUT_MS		10ULL
#define GD_MAX_PROBE_TIMEOUT_MS		(60ULL * 1000)
/* SLA windows ("over 30s"). */
#define GD_DEFAULT_SLA_WINDOW_MS	(30ULL * 1000)
#define GD_MAX_SLA_WINDOW_MS		(3600ULL * 1000)
/* Added latency: beyond a minute every TCP stack gives up anyway. */
#define GD_MAX_DELAY_MS			(60ULL * 1000)
/* process.kill's expect_restart_within. */
#define GD_MAX_RESTART_WAIT_MS		(3600ULL * 1000)
/* breaches_to_abort. */
#define GD_MAX_BREACHES_TO_ABORT	100
/* cpu.burn cores. */
#define GD_MAX_CPU_CORES		1024
/* Sizes (disk.fill, memory.hog): 1 PiB is beyond any disk we fill. */
#define GD_MAX_SIZE_BYTES		(1ULL << 50)
/* Bandwidth: 100 Gbit/s in bytes per second. */
#define GD_MAX_RATE_BYTES_PER_S		(12500000000ULL)
/* quarter_end_days: a quarter has at most 92 days. */
#define GD_MAX_QUARTER_END_DAYS		31

/* The agent: a fault order (--fault JSON, or a message from the controller). */
#define GD_MAX_ORDER_BYTES		(64 * 1024)
/* One journal entry on disk; an entry lists at most GD_MAX_SIGNALLED processes. */
#define GD_MAX_JOURNAL_ENTRY_BYTES	(256 * 1024)
/* Processes one process fault signals; matching more than this refuses the fault. */
#define GD_MAX_SIGNALLED		1024
/* Faults one agent holds at once. */
#define GD_MAX_ACTIVE_FAULTS		64
/* A fault id: 16 lower-case hex digits (64 random bits). */
#define GD_FAULT_ID_LEN			16
/* The controller's order ids ("o-" + 16 hex); room for a longer form, not for prose. */
#define GD_MAX_ORDER_ID_BYTES		64
/*
 * The agent daemon's replies from the controller.  A poll reply carries at most
 * GD_MAX_ORDERS_PER_POLL orders (a host holds at most GD_MAX_ACTIVE_FAULTS faults, and a
 * halt sends one revert for each); real replies are a few KiB, 1 MiB is far beyond them.
 * Enrolment and report replies are small objects.
 */
#define GD_MAX_POLL_REPLY_BYTES		(1024 * 1024)
#define GD_MAX_ORDERS_PER_POLL		64
#define GD_MAX_SMALL_REPLY_BYTES	(64 * 1024)
/* Orders the daemon remembers (id and report), so that one delivered again runs once. */
#define GD_MAX_REMEMBERED_ORDERS	256
/* An enrolment token or an agent credential ("gde_"/"gda_" + 64 hex). */
#define GD_MAX_TOKEN_BYTES		256

/* Validation errors reported for one input; the rest are counted, not listed. */
#define GD_MAX_ERRORS			64
/* A JSON path such as steady_state.probes[12].expect_status[3]. */
#define GD_MAX_JSON_PATH		256
/* One error message. */
#define GD_MAX_ERROR_MSG		320

/*
 * The risk matrix (common/risk.c, docs/risks.md).  A real matrix has tens to hundreds of
 * rows: 10,000 is far beyond one.  The file is held to the playbook's 1 MiB.  Ids go into
 * URLs and name the risk a playbook exercises (its "risk" is at most GD_MAX_NAME_BYTES);
 * system, owner, status and ETA are one line; the other texts a few paragraphs at most.
 */
#define GD_MAX_RISK_ROWS		10000
#define GD_MAX_RISK_FILE_BYTES		(1024 * 1024)
#define GD_MAX_RISK_ID_BYTES		64
#define GD_MAX_RISK_SHORT_BYTES		256
#define GD_MAX_RISK_TEXT_BYTES		4096
/* Columns of a CSV header: the book has 13, more than this is not a risk matrix. */
#define GD_MAX_RISK_COLUMNS		64

#endif /* GD_LIMITS_H */
