/*
 * Availability, nines and error budgets (PRACTICE.md "Availability", the book's chapter 3):
 * the arithmetic of reports, pure and separate so that it can be checked against the book.
 *
 *   availability = (period - downtime) / period, in percent;
 *   nines        = -log10(1 - availability / 100)  (99.9% is 3 nines, 99.95% is 3.3);
 *   allowed      = (1 - target / 100) * budget period: the downtime a target allows;
 *   used         = downtime / allowed, in percent of the budget.
 *
 * The book's example 3-1: down 37 and 15 minutes in a 30-day month is 3,120 s of
 * 2,592,000 s, an availability of about 99.88%; a 99.9% month allows 2,592 s (43.2 min),
 * so that month used 120.4% of its budget.
 *
 * Times are milliseconds as doubles (a downtime is a share of a period, rarely whole ms).
 */
#ifndef GD_SLO_H
#define GD_SLO_H

#include <stdint.h>

/* The book's month: 30 days, 43,200 minutes, 2,592,000 s. */
#define SLO_MONTH_MS		(30.0 * 24 * 3600 * 1000)
/* The target a report uses when it is given none: the book's "three nines". */
#define SLO_DEFAULT_TARGET	99.9

/*
 * Availability in percent of a period of period_ms with down_ms of it down; NAN when the
 * period is not positive or the downtime is negative or longer than the period.
 */
double slo_availability(double period_ms, double down_ms);

/* The nines of an availability in percent (99.9 gives 3); INFINITY at 100, NAN outside
 * 0..100. */
double slo_nines(double availability_percent);

/*
 * The downtime that samples failed samples out of samples stand for over a period of
 * period_ms: the failed share of the period.  0 when there are no samples; NAN when failed
 * exceeds samples or the period is negative.
 */
double slo_downtime_ms(uint64_t samples, uint64_t failed, double period_ms);

/* What a downtime costs a target over a budget period (slo_budget()). */
struct slo_budget {
	double target_percent;	/* The availability promised, e.g. 99.9. */
	double period_ms;	/* The budget's period, e.g. SLO_MONTH_MS. */
	double allowed_ms;	/* The downtime the target allows in the period. */
	double used_ms;		/* The downtime spent. */
	double used_percent;	/* used / allowed in percent; INFINITY when allowed is 0. */
	double left_ms;		/* allowed - used; negative when overspent. */
};

/*
 * Fills *ret for a downtime of used_ms against target_percent over period_ms.  Returns 0, or
 * -EINVAL (*ret untouched) unless 0 < target_percent <= 100, period_ms > 0 and used_ms >= 0
 * (all finite).
 */
int slo_budget(double target_percent, double period_ms, double used_ms,
    struct slo_budget *ret);

#endif
