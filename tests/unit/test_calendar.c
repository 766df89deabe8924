/*
 * Start-time semantics (common/calendar.c): window occurrences across DST changes in both
 * hemispheres, blackouts at their edges, quarter ends, every daily/weekly, windows only, and
 * random (Chaos Monkey) mode: reproducible, min gap, one start per window, the mean.
 *
 * Expected UTC times were computed independently with python3's zoneinfo and are
 * hard-coded.  REL-18 (two simulated years with restarts) is in test_calendar_sim.c.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "parse.h"
#include "test.h"

#define MIN_MS		(60LL * 1000)
#define HOUR_MS		(60 * MIN_MS)
#define DAY_MS		(24 * HOUR_MS)

enum { MON = 1, TUE = 2, WED = 4, THU = 8, FRI = 16, SAT = 32, SUN = 64, ALL = 127 };

/* "2026-03-08T07:00:00Z" as Unix ms. */
static int64_t
T(const char *s)
{
	int64_t t = 0;
	const char *why = NULL;

	if (rfc3339_parse(s, &t, &why) < 0)
		TEST_FAIL("bad time in the test: %s (%s)", s, why);
	return t * 1000;
}

static const char *
fmt(int64_t ms, char buf[32])
{
	rfc3339_format(ms / 1000, buf, 32);
	return buf;
}

#define ASSERT_TIME(got, want)							\
	do {									\
		char b1_[32], b2_[32];						\
		int64_t g_ = (got), want_ = T(want);				\
		if (g_ != want_)							\
			TEST_FAIL("%s: %s, want %s", #got, fmt(g_, b1_), fmt(want_, b2_));	\
	} while (0)

static struct schedule
sched(const char *zone)
{
	struct schedule s;

	memset(&s, 0, sizeof(s));
	s.timezone = zone;
	return s;
}

static void
win(struct schedule *s, uint8_t days, int sh, int sm, int eh, int em)
{
	s->windows[s->nwindows++] = (struct window){ days, sh * 60 + sm, eh * 60 + em };
}

static void
range(struct schedule *s, const char *from, const char *to, const char *reason)
{
	struct blackout *b = &s->blackouts[s->nblackouts++];
	const char *why;

	memset(b, 0, sizeof(*b));
	if (date_parse(from, &b->from, &why) < 0 || date_parse(to, &b->to, &why) < 0)
		TEST_FAIL("bad date in the test");
	b->reason = reason;
}

static void
quarter(struct schedule *s, int n)
{
	struct blackout *b = &s->blackouts[s->nblackouts++];

	memset(b, 0, sizeof(*b));
	b->quarter_end = true;
	b->quarter_end_days = n;
}

static struct calendar *
cal(const struct schedule *s)
{
	struct calendar *c = NULL;
	const char *why = NULL;
	int r = calendar_new(s, &c, &why);

	if (r != 0)
		TEST_FAIL("calendar_new = %d (%s)", r, why ? why : "no reason");
	return c;
}

/* The next window occurrence from from is [start, end). */
#define NEXT_WINDOW(c, from, ws, we)						\
	do {									\
		struct cal_window w_;						\
		int r_ = calendar_next_window((c), T(from), &w_);		\
		ASSERT_INT_EQ(r_, 0);						\
		if (r_ == 0) {							\
			ASSERT_TIME(w_.start_ms, ws);				\
			ASSERT_TIME(w_.end_ms, we);				\
		}								\
	} while (0)

/* Feeds each start back: the starts after from are want[0..n). */
static void
starts(const struct calendar *c, const char *from, uint64_t dur, uint64_t seed,
    const char *const *want, size_t n)
{
	int64_t after = T(from), last = 0;
	struct cal_window w;

	for (size_t i = 0; i < n; i++) {
		int r = calendar_next_start(c, after, last, dur, seed, &w);

		ASSERT_INT_EQ(r, 0);
		if (r != 0)
			return;
		ASSERT_TIME(w.start_ms, want[i]);
		after = last = w.start_ms;
	}
}

static void
test_errors(void)
{
	struct schedule s = sched("Nowhere/Atlantis");
	struct calendar *c = NULL;
	struct cal_window w;
	const char *why = NULL;

	TEST_START("calendar_new: an unknown zone is -ENOENT with a reason, *ret untouched");
	win(&s, MON, 9, 0, 17, 0);
	ASSERT_INT_EQ(calendar_new(&s, &c, &why), -ENOENT);
	ASSERT_TRUE(c == NULL && why != NULL);

	TEST_START("calendar_new: no windows, or a window ending before it starts: -EINVAL");
	s = sched("UTC");
	why = NULL;
	ASSERT_INT_EQ(calendar_new(&s, &c, &why), -EINVAL);
	ASSERT_TRUE(c == NULL && why != NULL);
	win(&s, MON, 9, 0, 8, 0);
	ASSERT_INT_EQ(calendar_new(&s, &c, &why), -EINVAL);

	TEST_START("times outside 1970..9990: -ERANGE, not open, no blackout");
	s = sched(NULL);	/* NULL zone: UTC. */
	win(&s, ALL, 0, 0, 24, 0);
	c = cal(&s);
	if (c == NULL)
		return;
	ASSERT_INT_EQ(calendar_next_start(c, -1, 0, 0, 0, &w), -ERANGE);
	ASSERT_INT_EQ(calendar_next_start(c, CAL_MAX_MS + 1, 0, 0, 0, &w), -ERANGE);
	ASSERT_INT_EQ(calendar_next_start(c, 0, -5, 0, 0, &w), -ERANGE);
	ASSERT_INT_EQ(calendar_next_window(c, CAL_MAX_MS + 1, &w), -ERANGE);
	ASSERT_TRUE(!calendar_open_at(c, -1, &w));
	ASSERT_TRUE(calendar_blackout_at(c, -1) == NULL);
	ASSERT_TRUE(calendar_open_at(c, CAL_MAX_MS - 30 * DAY_MS, &w));

	TEST_START("a duration longer than any window: -ENOENT");
	ASSERT_INT_EQ(calendar_next_start(c, T("2026-01-01T00:00:00Z"), 0, 26 * HOUR_MS, 0, &w),
	    -ENOENT);
	calendar_free(c);
	ASSERT_TRUE(calendar_free(NULL) == NULL);
}

static void
test_new_york(void)
{
	struct schedule s = sched("America/New_York");
	struct calendar *c;
	struct cal_window w;

	TEST_START("New York spring forward: a 02:00-03:00 window lies in the gap, never opens");
	win(&s, SUN, 2, 0, 3, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-03-07T00:00:00Z", "2026-03-15T06:00:00Z", "2026-03-15T07:00:00Z");
	ASSERT_TRUE(!calendar_open_at(c, T("2026-03-08T07:00:00Z"), &w));
	/* The Sunday before: 02:00 EST is 07:00Z. */
	NEXT_WINDOW(c, "2026-03-01T00:00:00Z", "2026-03-01T07:00:00Z", "2026-03-01T08:00:00Z");
	c = calendar_free(c);

	TEST_START("New York spring forward: 01:30-03:30 is one hour of real time that day");
	s.nwindows = 0;
	win(&s, SUN, 1, 30, 3, 30);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-03-07T00:00:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z");
	/* 90 minutes do not fit in that hour: the next Sunday is the first start. */
	starts(c, "2026-03-07T00:00:00Z", 90 * MIN_MS, 0,
	    (const char *const[]){ "2026-03-15T05:30:00Z" }, 1);
	starts(c, "2026-03-07T00:00:00Z", 60 * MIN_MS, 0,
	    (const char *const[]){ "2026-03-08T06:30:00Z", "2026-03-15T05:30:00Z" }, 2);
	c = calendar_free(c);

	TEST_START("New York spring forward: a start in the gap is the first moment after it");
	s.nwindows = 0;
	win(&s, SUN, 2, 30, 4, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-03-07T00:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z");
	c = calendar_free(c);

	TEST_START("New York fall back: 01:00-02:00 starts at the first 01:00 and lasts 2 h");
	s.nwindows = 0;
	win(&s, SUN, 1, 0, 2, 0);
	win(&s, SUN, 3, 0, 4, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-10-31T00:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z");
	ASSERT_TRUE(calendar_open_at(c, T("2026-11-01T06:30:00Z"), &w));	/* 01:30 EST. */
	NEXT_WINDOW(c, "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z");
	/* A 2 h run fits on fall-back days only. */
	starts(c, "2026-10-24T00:00:00Z", 2 * HOUR_MS, 0,
	    (const char *const[]){ "2026-11-01T05:00:00Z", "2027-11-07T05:00:00Z" }, 2);
	c = calendar_free(c);

	TEST_START("New York fall back: 01:30-03:00 is 05:30Z-08:00Z");
	s.nwindows = 0;
	win(&s, SUN, 1, 30, 3, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-10-31T00:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z");
	calendar_free(c);
}

static void
test_berlin_sydney(void)
{
	struct schedule s = sched("Europe/Berlin");
	struct calendar *c;

	TEST_START("Berlin 2026-03-29: 02:00-03:00 never opens; 02:30-04:00 opens at 03:00 CEST");
	win(&s, SUN, 2, 0, 3, 0);
	win(&s, SUN, 2, 30, 4, 0);
	if ((c = cal(&s)) == NULL)
		return;
	/* Merged to 02:00-04:00: 03:00-04:00 CEST that day, 2 h on other Sundays. */
	NEXT_WINDOW(c, "2026-03-28T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z");
	NEXT_WINDOW(c, "2026-03-21T00:00:00Z", "2026-03-22T01:00:00Z", "2026-03-22T03:00:00Z");
	c = calendar_free(c);

	TEST_START("Berlin 2026-10-25: 02:00-03:00 is the first 02:00 CEST to 03:00 CET, 2 h");
	s.nwindows = 0;
	win(&s, SUN, 2, 0, 3, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-10-24T00:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z");
	NEXT_WINDOW(c, "2026-10-26T00:00:00Z", "2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z");
	c = calendar_free(c);

	TEST_START("Berlin: an ordinary weekday window in winter and summer");
	s.nwindows = 0;
	win(&s, MON | TUE | WED | THU | FRI, 9, 30, 17, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-01-03T00:00:00Z", "2026-01-05T08:30:00Z", "2026-01-05T16:00:00Z");
	NEXT_WINDOW(c, "2026-07-04T00:00:00Z", "2026-07-06T07:30:00Z", "2026-07-06T15:00:00Z");
	c = calendar_free(c);

	TEST_START("Sydney 2026-04-05 (back): 02:00-03:00 starts at 02:00 AEDT and lasts 2 h");
	s = sched("Australia/Sydney");
	win(&s, SUN, 2, 0, 3, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-04-03T00:00:00Z", "2026-04-04T15:00:00Z", "2026-04-04T17:00:00Z");
	c = calendar_free(c);

	TEST_START("Sydney 2026-10-04 (forward): 02:00-03:00 never opens; 01:00-04:00 is 2 h");
	s.nwindows = 0;
	win(&s, SUN, 2, 0, 3, 0);
	win(&s, SUN | MON, 1, 0, 1, 30);
	if ((c = cal(&s)) == NULL)
		return;
	/* Sunday 01:00-01:30 AEST, then Monday 01:00 AEDT; no 02:00 on the Sunday. */
	NEXT_WINDOW(c, "2026-10-03T00:00:00Z", "2026-10-03T15:00:00Z", "2026-10-03T15:30:00Z");
	NEXT_WINDOW(c, "2026-10-03T15:30:00Z", "2026-10-04T14:00:00Z", "2026-10-04T14:30:00Z");
	c = calendar_free(c);
	s.nwindows = 0;
	win(&s, SUN, 1, 0, 4, 0);
	if ((c = cal(&s)) == NULL)
		return;
	NEXT_WINDOW(c, "2026-10-03T00:00:00Z", "2026-10-03T15:00:00Z", "2026-10-03T17:00:00Z");
	c = calendar_free(c);

	TEST_START("Sydney: a Monday 09:00 window is Sunday in UTC; weekly keys on the local week");
	s.nwindows = 0;
	win(&s, MON, 9, 0, 17, 0);
	s.every = EVERY_WEEKLY;
	if ((c = cal(&s)) == NULL)
		return;
	starts(c, "2026-01-01T00:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-01-04T22:00:00Z", "2026-01-11T22:00:00Z", "2026-01-18T22:00:00Z" }, 3);
	starts(c, "2026-06-30T00:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-07-05T23:00:00Z", "2026-07-12T23:00:00Z" }, 2);
	calendar_free(c);
}

static void
test_weekly_new_york(void)
{
	struct schedule s = sched("America/New_York");
	struct calendar *c;

	TEST_START("weekly Tuesday 10:00-15:00 New York: 14:00Z until November, then 15:00Z");
	win(&s, TUE, 10, 0, 15, 0);
	s.every = EVERY_WEEKLY;
	if ((c = cal(&s)) == NULL)
		return;
	starts(c, "2026-10-19T00:00:00Z", 15 * MIN_MS, 0, (const char *const[]){
	    "2026-10-20T14:00:00Z", "2026-10-27T14:00:00Z", "2026-11-03T15:00:00Z",
	    "2026-11-10T15:00:00Z" }, 4);
	/* And back in March (2026-03-08). */
	starts(c, "2026-02-28T00:00:00Z", 15 * MIN_MS, 0, (const char *const[]){
	    "2026-03-03T15:00:00Z", "2026-03-10T14:00:00Z" }, 2);

	TEST_START("a start exactly at after_ms is not after it; a window begun is not joined");
	starts(c, "2026-10-20T14:00:00Z", 15 * MIN_MS, 0,
	    (const char *const[]){ "2026-10-27T14:00:00Z" }, 1);
	starts(c, "2026-10-20T13:59:59Z", 15 * MIN_MS, 0,
	    (const char *const[]){ "2026-10-20T14:00:00Z" }, 1);
	calendar_free(c);
}

static void
test_blackouts(void)
{
	struct schedule s = sched("America/New_York");
	struct calendar *c;
	struct cal_window w;

	TEST_START("blackout from/to are inclusive local dates; the days around them open");
	/* 20:00-24:00 New York is 01:00Z-05:00Z the next UTC day. */
	win(&s, ALL, 20, 0, 24, 0);
	range(&s, "2026-12-21", "2026-12-23", "holiday freeze");
	if ((c = cal(&s)) == NULL)
		return;
	starts(c, "2026-12-20T02:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-12-21T01:00:00Z", "2026-12-25T01:00:00Z" }, 2);
	ASSERT_TRUE(calendar_open_at(c, T("2026-12-21T04:59:59Z"), &w));	/* 20th, 23:59. */
	ASSERT_TIME(w.end_ms, "2026-12-21T05:00:00Z");
	ASSERT_TRUE(calendar_blackout_at(c, T("2026-12-21T04:59:59Z")) == NULL);
	ASSERT_STR_EQ(calendar_blackout_at(c, T("2026-12-21T05:00:00Z")), "holiday freeze");
	ASSERT_TRUE(!calendar_open_at(c, T("2026-12-22T01:00:00Z"), &w));	/* 21st. */
	ASSERT_TRUE(!calendar_open_at(c, T("2026-12-24T04:00:00Z"), &w));	/* 23rd. */
	ASSERT_STR_EQ(calendar_blackout_at(c, T("2026-12-24T04:59:59Z")), "holiday freeze");
	ASSERT_TRUE(calendar_blackout_at(c, T("2026-12-24T05:00:00Z")) == NULL);
	ASSERT_TRUE(calendar_open_at(c, T("2026-12-25T01:00:00Z"), &w));	/* 24th. */
	NEXT_WINDOW(c, "2026-12-21T05:00:00Z", "2026-12-25T01:00:00Z", "2026-12-25T05:00:00Z");
	c = calendar_free(c);

	TEST_START("a blackout without a reason is named by its dates");
	s.blackouts[0].reason = NULL;
	if ((c = cal(&s)) == NULL)
		return;
	ASSERT_STR_EQ(calendar_blackout_at(c, T("2026-12-22T12:00:00Z")),
	    "blackout 2026-12-21..2026-12-23");
	c = calendar_free(c);

	TEST_START("a blackout covering 3 years: -ENOENT; from the far side, a start");
	s.nblackouts = 0;
	range(&s, "2026-01-01", "2030-12-31", NULL);
	if ((c = cal(&s)) == NULL)
		return;
	ASSERT_INT_EQ(calendar_next_start(c, T("2027-01-01T00:00:00Z"), 0, HOUR_MS, 0, &w),
	    -ENOENT);
	ASSERT_INT_EQ(calendar_next_window(c, T("2027-01-01T00:00:00Z"), &w), -ENOENT);
	starts(c, "2028-06-01T00:00:00Z", HOUR_MS, 0,
	    (const char *const[]){ "2031-01-02T01:00:00Z" }, 1);	/* The 1st, local. */
	calendar_free(c);
}

/* Whether local date y-m-d (noon in zone, UTC 12:00 in UTC) is blacked out. */
static bool
out_on(const struct calendar *c, const char *date)
{
	char t[32];

	(void)snprintf(t, sizeof(t), "%sT12:00:00Z", date);
	return calendar_blackout_at(c, T(t)) != NULL;
}

static void
test_quarter_ends(void)
{
	struct schedule s = sched("UTC");
	struct calendar *c;

	TEST_START("quarter_end_days 5: the last 5 days of March, June, September, December");
	win(&s, ALL, 9, 0, 17, 0);
	quarter(&s, 5);
	if ((c = cal(&s)) == NULL)
		return;
	ASSERT_TRUE(!out_on(c, "2026-03-26"));
	ASSERT_TRUE(out_on(c, "2026-03-27") && out_on(c, "2026-03-31"));
	ASSERT_TRUE(!out_on(c, "2026-04-01"));
	ASSERT_TRUE(!out_on(c, "2026-06-25") && out_on(c, "2026-06-26") && out_on(c, "2026-06-30"));
	ASSERT_TRUE(!out_on(c, "2026-07-01"));
	ASSERT_TRUE(!out_on(c, "2026-09-25") && out_on(c, "2026-09-26") && out_on(c, "2026-09-30"));
	ASSERT_TRUE(!out_on(c, "2026-12-26"));
	ASSERT_TRUE(out_on(c, "2026-12-27") && out_on(c, "2026-12-31"));
	ASSERT_TRUE(!out_on(c, "2027-01-01"));
	ASSERT_STR_EQ(calendar_blackout_at(c, T("2026-12-31T23:59:59Z")),
	    "quarter end (last 5 days)");

	TEST_START("quarter ends: a leap year's February is no quarter end");
	ASSERT_TRUE(!out_on(c, "2028-02-25") && !out_on(c, "2028-02-29"));
	ASSERT_TRUE(!out_on(c, "2028-03-26") && out_on(c, "2028-03-27"));
	ASSERT_TRUE(!out_on(c, "2028-12-26") && out_on(c, "2028-12-27"));

	TEST_START("quarter ends: the daily starts skip December 27-31");
	s.every = EVERY_DAILY;
	c = calendar_free(c);
	if ((c = cal(&s)) == NULL)
		return;
	starts(c, "2026-12-25T00:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-12-25T09:00:00Z", "2026-12-26T09:00:00Z", "2027-01-01T09:00:00Z" }, 3);
	c = calendar_free(c);

	TEST_START("quarter_end_days 31 reaches into May for June (30 days)");
	s.blackouts[0].quarter_end_days = 31;
	s.blackouts[0].reason = "quarter close";
	if ((c = cal(&s)) == NULL)
		return;
	ASSERT_TRUE(!out_on(c, "2026-05-30") && out_on(c, "2026-05-31"));
	ASSERT_TRUE(!out_on(c, "2026-02-28") && out_on(c, "2026-03-01"));
	ASSERT_STR_EQ(calendar_blackout_at(c, T("2026-06-01T00:00:00Z")), "quarter close");

	TEST_START("quarter ends are local dates: New York's Dec 27 starts at 05:00Z");
	c = calendar_free(c);
	s.timezone = "America/New_York";
	s.blackouts[0].quarter_end_days = 5;
	if ((c = cal(&s)) == NULL)
		return;
	ASSERT_TRUE(calendar_blackout_at(c, T("2026-12-27T04:59:59Z")) == NULL);
	ASSERT_TRUE(calendar_blackout_at(c, T("2026-12-27T05:00:00Z")) != NULL);
	ASSERT_TRUE(calendar_blackout_at(c, T("2027-01-01T04:59:59Z")) != NULL);
	ASSERT_TRUE(calendar_blackout_at(c, T("2027-01-01T05:00:00Z")) == NULL);
	calendar_free(c);
}

static void
test_every(void)
{
	struct schedule s = sched("Europe/Berlin");
	struct calendar *c;

	TEST_START("daily: one start per local day, at its first window");
	win(&s, ALL, 9, 0, 11, 0);
	win(&s, ALL, 14, 0, 16, 0);
	s.every = EVERY_DAILY;
	if ((c = cal(&s)) == NULL)
		return;
	starts(c, "2026-06-01T00:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-06-01T07:00:00Z", "2026-06-02T07:00:00Z", "2026-06-03T07:00:00Z" }, 3);

	TEST_START("daily: a day whose first window was missed uses its next one");
	starts(c, "2026-06-01T08:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-06-01T12:00:00Z", "2026-06-02T07:00:00Z" }, 2);

	TEST_START("daily: a restart after today's start waits for tomorrow");
	{
		struct cal_window w;

		ASSERT_INT_EQ(calendar_next_start(c, T("2026-06-01T10:00:00Z"),
		    T("2026-06-01T07:00:00Z"), HOUR_MS, 0, &w), 0);
		ASSERT_TIME(w.start_ms, "2026-06-02T07:00:00Z");
		ASSERT_TIME(w.end_ms, "2026-06-02T09:00:00Z");
	}
	c = calendar_free(c);

	TEST_START("weekly: one start per ISO week, Monday-based; a week begun uses its next day");
	s.nwindows = 0;
	win(&s, MON | TUE | WED | THU | FRI, 9, 0, 17, 0);
	s.every = EVERY_WEEKLY;
	if ((c = cal(&s)) == NULL)
		return;
	/* 2026-06-02 is a Tuesday. */
	starts(c, "2026-06-02T08:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-06-03T07:00:00Z", "2026-06-08T07:00:00Z", "2026-06-15T07:00:00Z" }, 3);
	/* Across the new year: 2026-12-28 (Monday) and 2027-01-01 share an ISO week. */
	starts(c, "2026-12-27T00:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-12-28T08:00:00Z", "2027-01-04T08:00:00Z" }, 2);
	c = calendar_free(c);

	TEST_START("windows only: the start of every window occurrence; overlapping ones merge");
	s.nwindows = 0;
	win(&s, MON, 9, 0, 12, 0);
	win(&s, MON, 11, 0, 13, 0);
	win(&s, MON, 13, 0, 14, 0);	/* Touches 11:00-13:00: a window of its own. */
	s.every = EVERY_NONE;
	if ((c = cal(&s)) == NULL)
		return;
	starts(c, "2026-06-01T00:00:00Z", HOUR_MS, 0, (const char *const[]){
	    "2026-06-01T07:00:00Z", "2026-06-01T11:00:00Z", "2026-06-08T07:00:00Z" }, 3);
	NEXT_WINDOW(c, "2026-06-01T00:00:00Z", "2026-06-01T07:00:00Z", "2026-06-01T11:00:00Z");

	TEST_START("windows only: the run must fit before the window ends");
	starts(c, "2026-06-01T00:00:00Z", 4 * HOUR_MS, 0, (const char *const[]){
	    "2026-06-01T07:00:00Z", "2026-06-08T07:00:00Z" }, 2);
	{
		struct cal_window w;

		ASSERT_INT_EQ(calendar_next_start(c, T("2026-06-01T00:00:00Z"), 0,
		    4 * HOUR_MS + 1, 0, &w), -ENOENT);
	}
	calendar_free(c);
}

/* Random mode: n starts from from, fed back; checks min gap and one per window. */
static size_t
random_run(const struct calendar *c, const char *from, size_t n, uint64_t dur, uint64_t seed,
    uint64_t min_ms, int64_t *out)
{
	int64_t after = T(from), last = 0;
	struct cal_window w, prev = { 0, 0 }, cur;
	size_t i;

	for (i = 0; i < n; i++) {
		if (calendar_next_start(c, after, last, dur, seed, &w) != 0)
			break;
		if (!calendar_open_at(c, w.start_ms, &cur) || cur.end_ms != w.end_ms ||
		    w.start_ms + (int64_t)dur > w.end_ms) {
			TEST_FAIL("start %zu is not inside an open window with room to run", i);
			break;
		}
		if (last != 0 && (w.start_ms - last < (int64_t)min_ms ||
		    cur.start_ms == prev.start_ms)) {
			TEST_FAIL("start %zu: %lld ms after the previous, in window %lld", i,
			    (long long)(w.start_ms - last), (long long)cur.start_ms);
			break;
		}
		if (out != NULL)
			out[i] = w.start_ms;
		prev = cur;
		after = last = w.start_ms;
	}
	return i;
}

static void
test_random(void)
{
	static int64_t a[2000], b[2000];
	struct schedule s = sched("Europe/Berlin");
	struct calendar *c;
	struct cal_window w, w2;
	size_t n, same;
	double mean;

	TEST_START("random: the same seed gives the same starts; another seed others");
	win(&s, MON | TUE | WED | THU | FRI, 9, 30, 17, 0);
	s.random = true;
	s.mean_between_ms = 2 * DAY_MS;
	s.min_between_ms = 4 * HOUR_MS;
	if ((c = cal(&s)) == NULL)
		return;
	n = random_run(c, "2026-01-01T00:00:00Z", 2000, 10 * MIN_MS, 42, 4 * HOUR_MS, a);
	ASSERT_INT_EQ(n, 2000);
	ASSERT_INT_EQ(random_run(c, "2026-01-01T00:00:00Z", 2000, 10 * MIN_MS, 42,
	    4 * HOUR_MS, b), 2000);
	ASSERT_TRUE(memcmp(a, b, sizeof(a)) == 0);
	ASSERT_INT_EQ(random_run(c, "2026-01-01T00:00:00Z", 50, 10 * MIN_MS, 43, 4 * HOUR_MS,
	    b), 50);
	same = 0;
	for (size_t i = 0; i < 50; i++)
		same += a[i] == b[i];
	ASSERT_TRUE(same < 5);

	TEST_START("random: the mean gap over 2,000 starts is mean_time_between within 10%");
	mean = (double)(a[1999] - a[0]) / 1999 / (double)DAY_MS;
	printf("random Mon-Fri 09:30-17:00 Berlin, mean 2d, min 4h: 2000 starts, "
	    "mean gap %.3f d\n", mean);
	ASSERT_TRUE(fabs(mean - 2) <= 0.2);

	TEST_START("random: the first call's from time does not change the sequence");
	/* a[0] is the first start after 2026-01-01; any from before it gives the same. */
	ASSERT_INT_EQ(calendar_next_start(c, a[0] - 1, 0, 10 * MIN_MS, 42, &w), 0);
	ASSERT_INT_EQ(w.start_ms, a[0]);
	ASSERT_INT_EQ(calendar_next_start(c, T("2026-01-01T00:00:00Z"), 0, 10 * MIN_MS, 42,
	    &w2), 0);
	ASSERT_INT_EQ(w2.start_ms, a[0]);

	TEST_START("random: a restart with the persisted last start gets the same next start");
	for (size_t i = 1; i < 200; i++) {
		int64_t mid = a[i - 1] + (a[i] - a[i - 1]) / 2;

		if (calendar_next_start(c, mid, a[i - 1], 10 * MIN_MS, 42, &w) != 0 ||
		    w.start_ms != a[i]) {
			TEST_FAIL("restart between start %zu and %zu changed the answer", i - 1, i);
			break;
		}
	}
	c = calendar_free(c);

	TEST_START("random: a mean shorter than the windows allow gives one start per window");
	s.mean_between_ms = 4 * HOUR_MS;
	s.min_between_ms = 0;
	if ((c = cal(&s)) == NULL)
		return;
	n = random_run(c, "2026-06-01T00:00:00Z", 20, 10 * MIN_MS, 7, 0, a);
	ASSERT_INT_EQ(n, 20);
	for (size_t i = 0; i + 1 < n; i++) {
		/* Berlin's 09:30-17:00 is the same date in UTC: days since 1970 (0 = Thursday). */
		int64_t day = a[i] / DAY_MS, next = a[i + 1] / DAY_MS;
		int64_t want = (day + 3) % 7 == 4 ? day + 3 : day + 1;	/* Friday: Monday. */

		if (next != want) {
			TEST_FAIL("a window without a start before %lld", (long long)a[i + 1]);
			break;
		}
	}
	c = calendar_free(c);

	TEST_START("random: a min gap that binds (two windows a day) holds, the mean stays");
	s = sched("America/New_York");
	win(&s, ALL, 9, 0, 12, 0);
	win(&s, ALL, 13, 0, 17, 0);
	s.random = true;
	s.mean_between_ms = DAY_MS;
	s.min_between_ms = 4 * HOUR_MS;
	if ((c = cal(&s)) == NULL)
		return;
	n = random_run(c, "2026-01-01T00:00:00Z", 2000, 10 * MIN_MS, 1, 4 * HOUR_MS, a);
	ASSERT_INT_EQ(n, 2000);
	mean = (double)(a[1999] - a[0]) / 1999 / (double)DAY_MS;
	printf("random daily 09-12 + 13-17 New York, mean 1d, min 4h: 2000 starts, "
	    "mean gap %.3f d\n", mean);
	ASSERT_TRUE(fabs(mean - 1) <= 0.1);
	c = calendar_free(c);

	TEST_START("random: blackouts remove starts and add none after them");
	s = sched("Europe/Berlin");
	win(&s, MON | TUE | WED | THU | FRI, 9, 30, 17, 0);
	s.random = true;
	s.mean_between_ms = 2 * DAY_MS;
	s.min_between_ms = 4 * HOUR_MS;
	if ((c = cal(&s)) == NULL)
		return;
	ASSERT_INT_EQ(random_run(c, "2026-01-01T00:00:00Z", 400, 10 * MIN_MS, 42, 4 * HOUR_MS,
	    a), 400);
	c = calendar_free(c);
	range(&s, "2026-12-19", "2027-01-06", "Christmas freeze");
	if ((c = cal(&s)) == NULL)
		return;
	ASSERT_INT_EQ(random_run(c, "2026-01-01T00:00:00Z", 400, 10 * MIN_MS, 42, 4 * HOUR_MS,
	    b), 400);
	calendar_free(c);
	/* b is a without the starts in the freeze (whose local dates are the UTC dates here). */
	same = n = 0;
	for (size_t i = 0, j = 0; i < 400 && j < 400; ) {
		if (a[i] == b[j]) {
			same++;
			i++;
			j++;
		} else if (a[i] < b[j] && a[i] >= T("2026-12-19T00:00:00Z") &&
		    a[i] < T("2027-01-07T00:00:00Z")) {
			i++;
		} else {
			n++;
			break;
		}
	}
	ASSERT_INT_EQ(n, 0);
	ASSERT_TRUE(same > 380);
	printf("random with a Christmas freeze: %zu of 400 starts unchanged\n", same);
}

int
main(void)
{
	test_errors();
	test_new_york();
	test_berlin_sydney();
	test_weekly_new_york();
	test_blackouts();
	test_quarter_ends();
	test_every();
	test_random();
	return test_done();
}
