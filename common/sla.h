/*
 * SLA expressions (DESIGN §2): "<probe>.<stat> <op> <value>[unit] [over <duration>]", and
 * their evaluation over a window of probe samples.  Latency thresholds are kept in
 * milliseconds, rates in percent.
 */
#ifndef GD_SLA_H
#define GD_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

enum sla_stat {
	SLA_TP50, SLA_TP90, SLA_TP95, SLA_TP99, SLA_TPMAX, SLA_TPMIN, SLA_TPAVG,
	SLA_ERROR_RATE, SLA_AVAILABILITY, SLA_VALUE, SLA_STAT_MAX
};
enum sla_op { SLA_LT, SLA_LE, SLA_GT, SLA_GE };
enum probe_kind { PROBE_HTTP, PROBE_PROMETHEUS, PROBE_KIND_MAX };

struct sla_expr {
	char probe[GD_MAX_NAME_BYTES + 1];
	enum sla_stat stat;
	enum sla_op op;
	double threshold;	/* ms (latency stats), percent (rates), raw (value). */
	uint64_t window_ms;	/* GD_DEFAULT_SLA_WINDOW_MS unless "over" was given. */
};

/* Parses s; on failure *why says what is wrong (static or thread-local text). */
int sla_parse(const char *s, struct sla_expr *ret, const char **why);
/* Canonical text, e.g. "checkout.tp90 < 300ms over 30s"; 128 bytes is enough. */
void sla_format(const struct sla_expr *e, char *buf, size_t len);
const char *sla_stat_name(enum sla_stat st);
bool sla_stat_applies(enum sla_stat st, enum probe_kind kind);

/* One probe result.  has_value: the probe measured something (latency or query value). */
struct sla_sample {
	int64_t t_ms;
	bool ok;
	bool has_value;
	double value;
};

struct sla_result {
	bool holds;
	bool has_value;		/* value is meaningful (false: no data, which is a breach). */
	double value;		/* In the expression's unit (ms, percent or raw). */
	size_t n;		/* Samples in the window. */
	const char *reason;	/* Static text when !holds and !has_value. */
};

/*
 * Evaluates e over the samples with t_ms in (now_ms - window, now_ms], in any order.
 * TPn follows the book: sort, drop the highest floor(N * (100 - n) / 100) values, take the
 * largest left.  Latency stats use samples that have a value; error_rate and availability
 * use every sample; value uses the newest sample, and an error there is a breach.
 * Returns 0, or -ENOMEM.
 */
int sla_eval(const struct sla_expr *e, const struct sla_sample *samples, size_t n,
    int64_t now_ms, struct sla_result *ret);

/* The book's TPn over values[0..n) (sorted in place); n must be > 0. */
double sla_percentile(double *values, size_t n, unsigned pct);

#endif
