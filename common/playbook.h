/*
 * A playbook (DESIGN §2), parsed once into typed structs and validated whole: every problem
 * is reported with its JSON path.  The parsed playbook owns all its memory in one arena;
 * strings and arrays are borrowed from it.
 */
#ifndef GD_PLAYBOOK_H
#define GD_PLAYBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "fault.h"
#include "limits.h"
#include "parse.h"
#include "sla.h"

#define PLAYBOOK_API_VERSION "gameday/v1"

enum pb_environment { ENV_DEVELOPMENT, ENV_TEST, ENV_STAGING, ENV_PRODUCTION, ENV_MAX };
enum pick_kind { PICK_COUNT, PICK_PERCENT, PICK_ALL };
enum sched_every { EVERY_NONE, EVERY_DAILY, EVERY_WEEKLY };

struct tag {
	const char *key, *value;
};

struct probe {
	const char *name;
	enum probe_kind kind;
	const char *url;
	const char *query;		/* prometheus only. */
	uint64_t interval_ms, timeout_ms;
	uint16_t expect_status[GD_MAX_EXPECT_STATUS];	/* http only; default {200}. */
	size_t nexpect;
};

struct sla_rule {
	const char *text;		/* As written. */
	struct sla_expr expr;
	size_t probe;			/* Index into steady_state.probes. */
};

struct window {
	uint8_t days;			/* Bit 0 = Monday .. bit 6 = Sunday. */
	int start_min, end_min;		/* Local minutes since midnight; end > start. */
};

struct blackout {
	bool quarter_end;		/* {"quarter_end_days": N}, else a date range. */
	int quarter_end_days;
	struct gd_date from, to;	/* Inclusive local dates. */
	const char *reason;		/* May be NULL. */
};

struct schedule {
	const char *timezone;		/* IANA name; "UTC" by default. */
	struct window windows[GD_MAX_WINDOWS];
	size_t nwindows;
	struct blackout blackouts[GD_MAX_BLACKOUTS];
	size_t nblackouts;
	enum sched_every every;
	bool random;
	uint64_t mean_between_ms, min_between_ms;
};

struct playbook {
	struct arena *arena;
	const char *name, *description, *owner, *risk;
	enum pb_environment environment;
	int tier;				/* 1..4 */
	struct {
		const char *url;		/* May be NULL. */
		const char *steps[GD_MAX_STEPS];
		size_t nsteps;
	} recovery_plan;
	struct tag tags[GD_MAX_TAGS];
	size_t ntags;
	enum pick_kind pick;
	uint32_t pick_count;
	double pick_percent;
	struct fault faults[GD_MAX_FAULTS];
	size_t nfaults;
	uint64_t duration_ms;
	struct probe probes[GD_MAX_PROBES];
	size_t nprobes;
	struct sla_rule slas[GD_MAX_SLAS];
	size_t nslas;
	struct {
		uint32_t max_hosts;		/* Default 1. */
		double max_percent;		/* Default 100. */
		uint32_t breaches_to_abort;	/* Default 3. */
		bool require_approval;		/* Effective value: forced by production/tier 1. */
	} guardrails;
	bool has_schedule;
	struct schedule schedule;
	bool has_rehearsal;
	struct {
		const char *page;
		uint64_t detect_within_ms, recover_within_ms;
	} rehearsal;
};

/*
 * Parses and validates buf[0..len).  On success the caller owns *ret_pb (playbook_free()).
 * On -EINVAL every problem found is in err; -ENOMEM when memory ran out (also recorded).
 */
int playbook_parse(const char *buf, size_t len, struct playbook **ret_pb, struct gd_err *err);
struct playbook *playbook_free(struct playbook *pb);

/* Canonical JSON with every default written out; NULL when out of memory. */
cJSON *playbook_to_json(const struct playbook *pb);
/* The canonical text (what `gameday playbook print` shows); caller frees with gd_free(). */
char *playbook_print(const struct playbook *pb);
/* "db-latency: staging, tier 2, 1 fault (network.latency), 2 probes, 3 SLAs, ..." */
void playbook_summary(const struct playbook *pb, char *buf, size_t len);

const char *pb_environment_name(enum pb_environment e);

#endif
