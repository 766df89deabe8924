#include "sla.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "parse.h"

#define WHY(msg) do { if (why != NULL) *why = (msg); } while (0)

static const struct {
	const char *name;
	unsigned pct;		/* For tpNN. */
	bool http, prometheus;
} stats[SLA_STAT_MAX] = {
	[SLA_TP50] = { "tp50", 50, true, false },
	[SLA_TP90] = { "tp90", 90, true, false },
	[SLA_TP95] = { "tp95", 95, true, false },
	[SLA_TP99] = { "tp99", 99, true, false },
	[SLA_TPMAX] = { "tpmax", 100, true, false },
	[SLA_TPMIN] = { "tpmin", 0, true, false },
	[SLA_TPAVG] = { "tpavg", 0, true, false },
	[SLA_ERROR_RATE] = { "error_rate", 0, true, false },
	[SLA_AVAILABILITY] = { "availability", 0, true, false },
	[SLA_VALUE] = { "value", 0, false, true },
};

static const char *const op_names[] = { "<", "<=", ">", ">=" };

const char *
sla_stat_name(enum sla_stat st)
{
	return st < SLA_STAT_MAX ? stats[st].name : "?";
}

bool
sla_stat_applies(enum sla_stat st, enum probe_kind kind)
{
	if (st >= SLA_STAT_MAX)
		return false;
	return kind == PROBE_HTTP ? stats[st].http : stats[st].prometheus;
}

static bool
stat_is_latency(enum sla_stat st)
{
	return st <= SLA_TPAVG;
}

static bool
is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-';
}

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses "<number>[unit]" at p for stat st into e->threshold; returns the end or NULL. */
static const char *
parse_threshold(const char *p, struct sla_expr *e, const char **why)
{
	const char *num = p, *unit;
	bool neg = false;
	double v;
	size_t ulen;

	if (*p == '-' && e->stat == SLA_VALUE) {
		neg = true;
		num = ++p;
	}
	while ((*p >= '0' && *p <= '9') || *p == '.')
		p++;
	if (parse_decimal(num, (size_t)(p - num), &v, why) < 0)
		return NULL;
	unit = p;
	while ((*p >= 'a' && *p <= 'z') || *p == '%')
		p++;
	ulen = (size_t)(p - unit);
	if (stat_is_latency(e->stat)) {
		static const struct { const char *u; double ms; } lu[] = {
			{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		};
		size_t i;

		for (i = 0; i < sizeof(lu) / sizeof(lu[0]); i++)
			if (ulen == strlen(lu[i].u) && strncmp(unit, lu[i].u, ulen) == 0)
				break;
		if (i == sizeof(lu) / sizeof(lu[0])) {
			WHY("a latency threshold needs a unit: ms, s, m or h (as in 300ms)");
			return NULL;
		}
		v *= lu[i].ms;
		if (v > GD_MAX_SLA_WINDOW_MS) {
			WHY("a latency threshold is at most 1h");
			return NULL;
		}
	} else if (e->stat == SLA_ERROR_RATE || e->stat == SLA_AVAILABILITY) {
		if (ulen != 1 || *unit != '%') {
			WHY("error_rate and availability are percentages: write the % (as in 1%)");
			return NULL;
		}
		if (v > 100) {
			WHY("a percentage is at most 100");
			return NULL;
		}
	} else if (ulen != 0) {
		WHY("a prometheus value takes a plain number, without a unit");
		return NULL;
	}
	e->threshold = neg ? -v : v;
	return p;
}

int
sla_parse(const char *s, struct sla_expr *ret, const char **why)
{
	struct sla_expr e = { .window_ms = GD_DEFAULT_SLA_WINDOW_MS };
	const char *p = skip_ws(s), *start;
	size_t len;
	int st;

	for (start = p; is_ident(*p); p++)
		;
	len = (size_t)(p - start);
	if (len == 0 || *p != '.') {
		WHY("expected <probe>.<stat> <op> <value> [over <duration>], "
		    "as in checkout.tp90 < 300ms over 30s");
		return -EINVAL;
	}
	if (len > GD_MAX_NAME_BYTES) {
		WHY("the probe name is longer than 64 bytes");
		return -EINVAL;
	}
	memcpy(e.probe, start, len);
	for (start = ++p; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'; p++)
		;
	len = (size_t)(p - start);
	for (st = 0; st < SLA_STAT_MAX; st++)
		if (strlen(stats[st].name) == len && strncmp(start, stats[st].name, len) == 0)
			break;
	if (st == SLA_STAT_MAX) {
		WHY("unknown stat (tp50 tp90 tp95 tp99 tpmax tpmin tpavg error_rate availability "
		    "for http probes, value for prometheus probes)");
		return -EINVAL;
	}
	e.stat = (enum sla_stat)st;
	p = skip_ws(p);
	if (p[0] == '<' || p[0] == '>') {
		e.op = p[0] == '<' ? SLA_LT : SLA_GT;
		if (p[1] == '=') {
			e.op = e.op == SLA_LT ? SLA_LE : SLA_GE;
			p++;
		}
		p++;
	} else {
		WHY("expected an operator: <, <=, > or >=");
		return -EINVAL;
	}
	p = skip_ws(p);
	if ((p = parse_threshold(p, &e, why)) == NULL)
		return -EINVAL;
	p = skip_ws(p);
	if (strncmp(p, "over", 4) == 0 && (p[4] == ' ' || p[4] == '\t')) {
		char dur[32];
		uint64_t ms;

		p = skip_ws(p + 4);
		for (start = p; *p != '\0' && *p != ' ' && *p != '\t'; p++)
			;
		len = (size_t)(p - start);
		if (len == 0 || len >= sizeof(dur)) {
			WHY("expected a duration after \"over\" (as in over 30s)");
			return -EINVAL;
		}
		memcpy(dur, start, len);
		dur[len] = '\0';
		if (duration_parse(dur, &ms, why) < 0)
			return -EINVAL;
		if (ms == 0 || ms > GD_MAX_SLA_WINDOW_MS) {
			WHY("the window after \"over\" is above 0 and at most 1h");
			return -ERANGE;
		}
		e.window_ms = ms;
		p = skip_ws(p);
	}
	if (*p != '\0') {
		WHY("unexpected text after the expression (only \"over <duration>\" may follow)");
		return -EINVAL;
	}
	*ret = e;
	return 0;
}

void
sla_format(const struct sla_expr *e, char *buf, size_t len)
{
	char win[32], num[48];

	duration_format(e->window_ms, win, sizeof(win));
	decimal_format(e->threshold, num, sizeof(num));
	(void)snprintf(buf, len, "%s.%s %s %s%s over %s", e->probe, stats[e->stat].name,
	    op_names[e->op], num, stat_is_latency(e->stat) ? "ms" :
	    e->stat == SLA_VALUE ? "" : "%", win);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
sla_percentile(double *values, size_t n, unsigned pct)
{
	size_t drop;

	qsort(values, n, sizeof(values[0]), cmp_double);
	if (pct >= 100)
		return values[n - 1];
	drop = n / 100 * (100 - pct) + n % 100 * (100 - pct) / 100;	/* floor(n*(100-pct)/100) */
	if (drop >= n)
		drop = n - 1;
	return values[n - 1 - drop];
}

static bool
compare(double v, enum sla_op op, double t)
{
	switch (op) {
	case SLA_LT: return v < t;
	case SLA_LE: return v <= t;
	case SLA_GT: return v > t;
	case SLA_GE: return v >= t;
	}
	return false;
}

static int
eval_latency(const struct sla_expr *e, const struct sla_sample *s, size_t n, int64_t from,
    int64_t now_ms, struct sla_result *r)
{
	double *v, sum = 0;
	size_t k = 0, sz;

	if (gd_mul_size(n, sizeof(*v), &sz) < 0 || (v = gd_malloc(sz)) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (s[i].t_ms > from && s[i].t_ms <= now_ms && s[i].has_value &&
		    isfinite(s[i].value))
			v[k++] = s[i].value;
	if (k == 0) {
		r->reason = "no latency samples in the window";
	} else {
		r->has_value = true;
		switch (e->stat) {
		case SLA_TPMIN:
			r->value = v[0];
			for (size_t i = 1; i < k; i++)
				r->value = fmin(r->value, v[i]);
			break;
		case SLA_TPAVG:
			for (size_t i = 0; i < k; i++)
				sum += v[i];
			r->value = sum / (double)k;
			break;
		default:
			r->value = sla_percentile(v, k, stats[e->stat].pct);
			break;
		}
	}
	gd_free(v);
	return 0;
}

int
sla_eval(const struct sla_expr *e, const struct sla_sample *s, size_t n, int64_t now_ms,
    struct sla_result *ret)
{
	struct sla_result r = { 0 };
	int64_t from = now_ms - (int64_t)e->window_ms;
	size_t ok = 0, newest = SIZE_MAX;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (s[i].t_ms <= from || s[i].t_ms > now_ms)
			continue;
		r.n++;
		ok += s[i].ok;
		if (newest == SIZE_MAX || s[i].t_ms >= s[newest].t_ms)
			newest = i;
	}
	if (r.n == 0) {
		r.reason = "no samples in the window";
	} else if (stat_is_latency(e->stat)) {
		if ((rc = eval_latency(e, s, n, from, now_ms, &r)) < 0)
			return rc;
	} else if (e->stat == SLA_VALUE) {
		if (!s[newest].ok || !s[newest].has_value || !isfinite(s[newest].value)) {
			r.reason = "the newest probe failed";
		} else {
			r.has_value = true;
			r.value = s[newest].value;
		}
	} else {
		r.has_value = true;
		r.value = 100.0 * (double)(e->stat == SLA_AVAILABILITY ? ok : r.n - ok) /
		    (double)r.n;
	}
	r.holds = r.has_value && compare(r.value, e->op, e->threshold);
	*ret = r;
	return 0;
}
