/* Availability, nines and error budgets (slo.h). */
#include "slo.h"

#include <errno.h>
#include <math.h>

double
slo_availability(double period_ms, double down_ms)
{
	if (!isfinite(period_ms) || !isfinite(down_ms) || period_ms <= 0 || down_ms < 0 ||
	    down_ms > period_ms)
		return NAN;
	return 100.0 * (period_ms - down_ms) / period_ms;
}

double
slo_nines(double availability_percent)
{
	double down;

	if (!(availability_percent >= 0 && availability_percent <= 100))
		return NAN;
	/* (100 - a) / 100 rather than 1 - a / 100: fewer digits lost near 100. */
	down = (100.0 - availability_percent) / 100.0;
	if (down <= 0)
		return INFINITY;
	return down >= 1.0 ? 0.0 : -log10(down);
}

double
slo_downtime_ms(uint64_t samples, uint64_t failed, double period_ms)
{
	if (failed > samples || !isfinite(period_ms) || period_ms < 0)
		return NAN;
	if (samples == 0)
		return 0;
	return period_ms * ((double)failed / (double)samples);
}

int
slo_budget(double target_percent, double period_ms, double used_ms, struct slo_budget *ret)
{
	double allowed;

	if (!isfinite(target_percent) || !isfinite(period_ms) || !isfinite(used_ms) ||
	    target_percent <= 0 || target_percent > 100 || period_ms <= 0 || used_ms < 0)
		return -EINVAL;
	/* (100 - target) first: 100 - 99.9 is nearer 0.1 than 1 - 0.999 is to 0.001. */
	allowed = period_ms * (100.0 - target_percent) / 100.0;
	ret->target_percent = target_percent;
	ret->period_ms = period_ms;
	ret->allowed_ms = allowed;
	ret->used_ms = used_ms;
	ret->used_percent = allowed > 0 ? 100.0 * used_ms / allowed :
	    used_ms > 0 ? INFINITY : 0.0;
	ret->left_ms = allowed - used_ms;
	return 0;
}
