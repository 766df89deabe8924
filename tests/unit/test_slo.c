/*
 * common/slo.c against the book's chapter 3 (PRACTICE.md "Availability"): example 3-1, the
 * table of nines per 30-day month, and the error budget a run's failed samples use.
 */
#include <errno.h>
#include <math.h>

#include "slo.h"
#include "test.h"

#define MIN_MS	(60.0 * 1000)

static void
test_example_3_1(void)
{
	struct slo_budget b;
	double down = (37 + 15) * MIN_MS, a;

	TEST_START("example 3-1: 37 + 15 min down in a 30-day month is about 99.88%");
	ASSERT_DBL_NEAR(SLO_MONTH_MS, 2592000.0 * 1000, 0);
	ASSERT_DBL_NEAR(down, 3120.0 * 1000, 0);
	a = slo_availability(SLO_MONTH_MS, down);
	/* (2,592,000 - 3,120) / 2,592,000 = 99.87962...% */
	ASSERT_DBL_NEAR(a, 100.0 * 2588880.0 / 2592000.0, 1e-12);
	ASSERT_DBL_NEAR(a, 99.88, 0.005);
	ASSERT_DBL_NEAR(slo_nines(a), 2.91948, 1e-5);

	TEST_START("example 3-1 against a 99.9% month: 2,592 s allowed, 3,120 s used (120.4%)");
	ASSERT_INT_EQ(slo_budget(99.9, SLO_MONTH_MS, down, &b), 0);
	ASSERT_DBL_NEAR(b.allowed_ms, 2592.0 * 1000, 1e-3);
	ASSERT_DBL_NEAR(b.allowed_ms / MIN_MS, 43.2, 1e-9);
	ASSERT_DBL_NEAR(b.used_ms, 3120.0 * 1000, 0);
	ASSERT_DBL_NEAR(b.used_percent, 100.0 * 3120.0 / 2592.0, 1e-9);
	ASSERT_DBL_NEAR(b.left_ms, -528.0 * 1000, 1e-3);
}

static void
test_nines_table(void)
{
	/* PRACTICE.md: per 30-day month, 99% allows 432 min, 99.9% 43 min, 99.99% 4 min,
	 * 99.999% 26 s, 99.9999% 2.6 s. */
	static const struct { double target, allowed_s, nines; } t[] = {
		{ 99.0, 432 * 60.0, 2 },
		{ 99.9, 43.2 * 60.0, 3 },
		{ 99.99, 4.32 * 60.0, 4 },
		{ 99.999, 25.92, 5 },
		{ 99.9999, 2.592, 6 },
	};
	struct slo_budget b;

	TEST_START("the nines per 30-day month: 432 min, 43.2 min, 4.32 min, 25.9 s, 2.6 s");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ASSERT_INT_EQ(slo_budget(t[i].target, SLO_MONTH_MS, 0, &b), 0);
		ASSERT_DBL_NEAR(b.allowed_ms / 1000, t[i].allowed_s, 1e-6);
		ASSERT_DBL_NEAR(b.used_percent, 0, 0);
		ASSERT_DBL_NEAR(slo_nines(t[i].target), t[i].nines, 1e-9);
		/* Spending exactly the budget is exactly the target. */
		ASSERT_DBL_NEAR(slo_availability(SLO_MONTH_MS, b.allowed_ms), t[i].target, 1e-9);
	}
	ASSERT_DBL_NEAR(slo_nines(99.95), 3.30103, 1e-5);
	ASSERT_DBL_NEAR(slo_nines(90), 1, 1e-12);
	ASSERT_DBL_NEAR(slo_nines(0), 0, 0);
	ASSERT_TRUE(isinf(slo_nines(100)));
}

static void
test_samples(void)
{
	struct slo_budget b;
	double down;

	TEST_START("a run: 5 of 40 samples failed over 10 min is 75 s down, 87.5%");
	down = slo_downtime_ms(40, 5, 10 * MIN_MS);
	ASSERT_DBL_NEAR(down, 75.0 * 1000, 1e-9);
	ASSERT_DBL_NEAR(slo_availability(10 * MIN_MS, down), 87.5, 1e-12);
	ASSERT_DBL_NEAR(slo_nines(87.5), 0.90309, 1e-5);
	ASSERT_INT_EQ(slo_budget(99.9, SLO_MONTH_MS, down, &b), 0);
	/* 75 s of a 2,592 s budget. */
	ASSERT_DBL_NEAR(b.used_percent, 100.0 * 75.0 / 2592.0, 1e-9);
	ASSERT_DBL_NEAR(b.left_ms, (2592.0 - 75.0) * 1000, 1e-3);

	TEST_START("no failed sample: no downtime, 100%, infinitely many nines");
	down = slo_downtime_ms(300, 0, 5 * MIN_MS);
	ASSERT_DBL_NEAR(down, 0, 0);
	ASSERT_DBL_NEAR(slo_availability(5 * MIN_MS, down), 100, 0);
	ASSERT_TRUE(isinf(slo_nines(100)));

	TEST_START("every sample failed: the whole period down, 0%, 0 nines");
	down = slo_downtime_ms(7, 7, 3500);
	ASSERT_DBL_NEAR(down, 3500, 0);
	ASSERT_DBL_NEAR(slo_availability(3500, down), 0, 0);
	ASSERT_DBL_NEAR(slo_nines(0), 0, 0);
}

static void
test_edges(void)
{
	struct slo_budget b = { .allowed_ms = -1 };

	TEST_START("edges: no samples, empty period, nonsense targets");
	ASSERT_DBL_NEAR(slo_downtime_ms(0, 0, 1000), 0, 0);
	ASSERT_TRUE(isnan(slo_downtime_ms(3, 4, 1000)));
	ASSERT_TRUE(isnan(slo_downtime_ms(3, 1, -1)));
	ASSERT_TRUE(isnan(slo_availability(0, 0)));
	ASSERT_TRUE(isnan(slo_availability(1000, 1001)));
	ASSERT_TRUE(isnan(slo_availability(1000, -1)));
	ASSERT_TRUE(isnan(slo_availability(NAN, 0)));
	ASSERT_TRUE(isnan(slo_nines(100.5)));
	ASSERT_TRUE(isnan(slo_nines(-1)));
	ASSERT_TRUE(isnan(slo_nines(NAN)));
	ASSERT_INT_EQ(slo_budget(0, SLO_MONTH_MS, 0, &b), -EINVAL);
	ASSERT_INT_EQ(slo_budget(100.01, SLO_MONTH_MS, 0, &b), -EINVAL);
	ASSERT_INT_EQ(slo_budget(NAN, SLO_MONTH_MS, 0, &b), -EINVAL);
	ASSERT_INT_EQ(slo_budget(99.9, 0, 0, &b), -EINVAL);
	ASSERT_INT_EQ(slo_budget(99.9, SLO_MONTH_MS, -1, &b), -EINVAL);
	ASSERT_INT_EQ(slo_budget(99.9, SLO_MONTH_MS, INFINITY, &b), -EINVAL);
	ASSERT_DBL_NEAR(b.allowed_ms, -1, 0);	/* Untouched on failure. */
	/* A 100% target allows nothing: any downtime overspends it without bound. */
	ASSERT_INT_EQ(slo_budget(100, SLO_MONTH_MS, 1, &b), 0);
	ASSERT_DBL_NEAR(b.allowed_ms, 0, 0);
	ASSERT_TRUE(isinf(b.used_percent));
	ASSERT_INT_EQ(slo_budget(100, SLO_MONTH_MS, 0, &b), 0);
	ASSERT_DBL_NEAR(b.used_percent, 0, 0);
}

int
main(void)
{
	test_example_3_1();
	test_nines_table();
	test_samples();
	test_edges();
	return test_done();
}
