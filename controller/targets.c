#include "targets.h"

#include <math.h>
#include <stdio.h>

size_t
targets_cap(const struct playbook *pb, size_t matching)
{
	double by_percent = floor(pb->guardrails.max_percent * (double)matching / 100.0 + 1e-9);
	size_t cap = matching;

	if ((double)cap > by_percent)
		cap = (size_t)by_percent;
	if (cap > pb->guardrails.max_hosts)
		cap = pb->guardrails.max_hosts;
	return cap;
}

/* splitmix64: a small, seedable generator; the choice need not be secret. */
static uint64_t
next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

size_t
targets_pick(const struct playbook *pb, const struct candidate *v, size_t n, uint64_t seed,
    size_t *ret, char *why, size_t whylen)
{
	size_t cap = targets_cap(pb, n), want, free_n = 0;

	switch (pb->pick) {
	case PICK_COUNT:
		want = pb->pick_count;
		break;
	case PICK_PERCENT:
		want = (size_t)floor(pb->pick_percent * (double)n / 100.0 + 1e-9);
		break;
	default:
		want = n;
	}
	if (want > cap)
		want = cap;
	for (size_t i = 0; i < n; i++)
		if (!v[i].busy)
			ret[free_n++] = i;
	if (n == 0) {
		(void)snprintf(why, whylen, "no enrolled, reachable agent matches the targets' "
		    "tags");
		return 0;
	}
	if (want == 0) {
		(void)snprintf(why, whylen, "the blast radius allows 0 of the %zu matching hosts "
		    "(max_hosts %u, max_percent %g%%, pick)", n, pb->guardrails.max_hosts,
		    pb->guardrails.max_percent);
		return 0;
	}
	if (free_n == 0) {
		(void)snprintf(why, whylen, "all %zu matching hosts are busy with other runs", n);
		return 0;
	}
	/* Fisher-Yates over the free hosts, keep the first want. */
	for (size_t i = free_n; i > 1; i--) {
		size_t j = (size_t)(next(&seed) % i), t = ret[i - 1];

		ret[i - 1] = ret[j];
		ret[j] = t;
	}
	return want < free_n ? want : free_n;
}
