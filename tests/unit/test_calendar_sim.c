/*
 * REL-18: two simulated years of schedules in DST zones with blackouts.  The clock is the
 * loop's own variable: each start is fed back as the next call's after and last start, as
 * the scheduler does, and one wait in three is cut by a simulated controller crash that loses
 * everything but the persisted last start; the restarted controller (after 10 minutes or
 * up to 3 days down) asks again from its restart time.
 *
 * Every start is checked against the schedule independently of calendar.c, with the zone's
 * local time from tz.c: inside one window of its local weekday with room for the duration,
 * not on a blacked-out local date, after the time it was asked at (a missed window is
 * skipped, never run late), once per local day / ISO week (every), at the window's start
 * (every, windows only), min gap and one per window occurrence (random).  A restart before
 * the planned start must get the same start.  Pass: 0 violations.
 *
 * The crashes are drawn from a fixed seed (splitmix64), so the printed figures are the same
 * on every run; docs/scheduling.md quotes them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "parse.h"
#include "test.h"
#include "tz.h"

#define MIN_MS		(60LL * 1000)
#define HOUR_MS		(60 * MIN_MS)
#define DAY_MS		(24 * HOUR_MS)

enum { MON = 1, TUE = 2, WED = 4, THU = 8, FRI = 16, SAT = 32, SUN = 64, ALL = 127 };

struct sim_stats {
	size_t starts, restarts, same_after_restart, missed, violations;
	double mean_gap_days;
};

/* The schedules; none has overlapping windows, so each start lies in exactly one. */
struct sim_case {
	const char *name;
	uint64_t duration_ms;
	void (*build)(struct schedule *s);
};

static int64_t
T(const char *s)
{
	int64_t t = 0;
	const char *why = NULL;

	if (rfc3339_parse(s, &t, &why) < 0)
		TEST_FAIL("bad time in the test: %s", s);
	return t * 1000;
}

static void
win(struct schedule *s, uint8_t days, int sh, int sm, int eh, int em)
{
	s->windows[s->nwindows++] = (struct window){ days, sh * 60 + sm, eh * 60 + em };
}

static void
blackouts(struct schedule *s, int quarter_days)
{
	static const char *const ranges[][3] = {
		{ "2026-12-19", "2027-01-06", "holiday freeze" },
		{ "2027-07-01", "2027-07-14", "summer freeze" },
	};
	const char *why;

	for (size_t i = 0; i < 2; i++) {
		struct blackout *b = &s->blackouts[s->nblackouts++];

		(void)date_parse(ranges[i][0], &b->from, &why);
		(void)date_parse(ranges[i][1], &b->to, &why);
		b->reason = ranges[i][2];
	}
	s->blackouts[s->nblackouts].quarter_end = true;
	s->blackouts[s->nblackouts++].quarter_end_days = quarter_days;
}

static void
build_weekly(struct schedule *s)
{
	win(s, TUE | WED | THU, 10, 0, 15, 0);
	s->every = EVERY_WEEKLY;
	blackouts(s, 5);
}

static void
build_daily(struct schedule *s)
{
	win(s, MON | TUE | WED | THU | FRI, 9, 0, 12, 0);
	win(s, MON | TUE | WED | THU | FRI, 13, 0, 17, 0);
	s->every = EVERY_DAILY;
	blackouts(s, 5);
}

/* Windows only, around the hours zones change their clocks (00:00-04:00, 24:00). */
static void
build_nights(struct schedule *s)
{
	win(s, SUN, 0, 30, 2, 30);
	win(s, SUN, 2, 30, 4, 0);
	win(s, SAT | WED, 22, 0, 24, 0);
	win(s, THU, 0, 0, 1, 0);
	blackouts(s, 5);
}

/* A 2 h run in a 2 h night window: it cannot start on spring-forward nights. */
static void
build_tight(struct schedule *s)
{
	win(s, SAT | SUN, 1, 0, 3, 0);
	blackouts(s, 5);
}

static void
build_monkey(struct schedule *s)
{
	win(s, MON | TUE | WED | THU | FRI, 9, 30, 17, 0);
	s->random = true;
	s->mean_between_ms = 2 * DAY_MS;
	s->min_between_ms = 4 * HOUR_MS;
	blackouts(s, 3);
}

/* Random around the clock: the min gap binds often and the night window spans DST. */
static void
build_dense(struct schedule *s)
{
	win(s, ALL, 0, 0, 6, 0);
	win(s, ALL, 6, 0, 12, 0);
	win(s, ALL, 12, 0, 24, 0);
	s->random = true;
	s->mean_between_ms = 8 * HOUR_MS;
	s->min_between_ms = 3 * HOUR_MS;
	blackouts(s, 5);
}

static const struct sim_case cases[] = {
	{ "weekly Tue-Thu 10-15", 15 * MIN_MS, build_weekly },
	{ "daily Mon-Fri 9-12,13-17", 30 * MIN_MS, build_daily },
	{ "windows only, nights", 20 * MIN_MS, build_nights },
	{ "2h run in 01:00-03:00", 2 * HOUR_MS, build_tight },
	{ "random Mon-Fri 9:30-17", 10 * MIN_MS, build_monkey },
	{ "random 24h, 8h/3h", HOUR_MS, build_dense },
};

static const char *const zones[] = {
	"America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
	"America/Santiago", "Asia/Kolkata",
};

/* splitmix64 for the simulated crashes: the test is the same on every run. */
static double
unit(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

struct local {
	struct gd_date date;
	int64_t day;		/* Days since 1970-01-01. */
	int sec;		/* Second of the local day. */
};

static struct local
local_of(const struct gd_tz *tz, int64_t ms)
{
	struct local l;

	tz_utc_to_local(tz, ms / 1000, &l.date, &l.sec);
	l.day = date_to_days(&l.date);
	return l;
}

/* The blackout check written out differently from calendar.c (quarter days <= 28 here). */
static bool
blacked_out(const struct schedule *s, const struct gd_date *d)
{
	for (size_t i = 0; i < s->nblackouts; i++) {
		const struct blackout *b = &s->blackouts[i];

		if (b->quarter_end && d->month % 3 == 0 &&
		    d->day > days_in_month(d->year, d->month) - b->quarter_end_days)
			return true;
		if (!b->quarter_end && date_compare(&b->from, d) <= 0 &&
		    date_compare(d, &b->to) <= 0)
			return true;
	}
	return false;
}

/*
 * The window of s whose occurrence on t's local date holds [t, t + dur), or -1.  The window's
 * local start and end become UTC through tz.c (a gap: the first moment after it; a fold: the
 * first occurrence), as DESIGN §2 defines them.
 */
static int
window_of(const struct schedule *s, const struct gd_tz *tz, int64_t t, int64_t dur)
{
	struct local a = local_of(tz, t);
	int wd = date_weekday(&a.date);

	for (size_t i = 0; i < s->nwindows; i++) {
		const struct window *w = &s->windows[i];
		int64_t ws = tz_local_to_utc(tz, &a.date, w->start_min, NULL) * 1000;
		int64_t we = tz_local_to_utc(tz, &a.date, w->end_min, NULL) * 1000;

		if ((w->days & (1u << wd)) && t >= ws && t < we && t + dur <= we)
			return (int)i;
	}
	return -1;
}

#define VIOLATION(st, ...)							\
	do {									\
		(st)->violations++;						\
		if ((st)->violations <= 3)					\
			TEST_FAIL(__VA_ARGS__);					\
	} while (0)

/* Checks start w asked for at now after the persisted last start. */
static void
check(const struct schedule *s, const struct gd_tz *tz, uint64_t dur, const struct cal_window *w,
    int64_t now, int64_t last, struct sim_stats *st)
{
	struct local l = local_of(tz, w->start_ms), p = local_of(tz, last);
	int i = window_of(s, tz, w->start_ms, (int64_t)dur);
	char buf[32];

	rfc3339_format(w->start_ms / 1000, buf, sizeof(buf));
	if (w->start_ms <= now || w->start_ms <= last)
		VIOLATION(st, "%s: not after the time asked", buf);
	if (i < 0 || w->end_ms < w->start_ms + (int64_t)dur)
		VIOLATION(st, "%s: outside every window (or no room for the run)", buf);
	if (blacked_out(s, &l.date))
		VIOLATION(st, "%s: on a blacked-out local date", buf);
	if (!s->random && i >= 0 && w->start_ms != tz_local_to_utc(tz, &l.date,
	    s->windows[i].start_min, NULL) * 1000)
		VIOLATION(st, "%s: not at its window's start", buf);
	if (last == 0)
		return;
	if (s->every == EVERY_DAILY && l.day == p.day)
		VIOLATION(st, "%s: a second start on the same local day", buf);
	if (s->every == EVERY_WEEKLY && l.day - date_weekday(&l.date) ==
	    p.day - date_weekday(&p.date))
		VIOLATION(st, "%s: a second start in the same ISO week", buf);
	if (s->random && w->start_ms - last < (int64_t)s->min_between_ms)
		VIOLATION(st, "%s: closer than min_time_between", buf);
	if (s->random && l.day == p.day && i == window_of(s, tz, last, (int64_t)dur))
		VIOLATION(st, "%s: a second start in one window occurrence", buf);
}

static void
simulate(const struct schedule *s, uint64_t dur, uint64_t seed, struct sim_stats *st)
{
	const int64_t t0 = T("2026-01-01T00:00:00Z"), t_end = T("2028-01-01T00:00:00Z");
	int64_t now = t0, last = 0, first = 0;
	struct calendar *c = NULL;
	struct gd_tz *tz = NULL;
	struct cal_window w, w2;
	uint64_t rng = seed;
	const char *why;
	int r;

	memset(st, 0, sizeof(*st));
	if (calendar_new(s, &c, &why) < 0 || tz_load(s->timezone, &tz, &why) < 0) {
		TEST_FAIL("%s: %s", s->timezone, why);
		goto out;
	}
	while ((r = calendar_next_start(c, now, last, dur, seed, &w)) == 0 && w.start_ms < t_end) {
		/* One wait in three ends in a crash: 3 in 4 down for up to 10 min, else 3 days. */
		if (unit(&rng) < 1.0 / 3) {
			int64_t down = now + (int64_t)(unit(&rng) * (double)(w.start_ms - now));
			int64_t up = down + (int64_t)(unit(&rng) * (double)(unit(&rng) < 0.75 ?
			    10 * MIN_MS : 3 * DAY_MS));

			st->restarts++;
			if (up >= w.start_ms) {
				/* Down when it was due: lost, the next comes after the restart. */
				st->missed++;
				now = up;
				continue;
			}
			if (calendar_next_start(c, up, last, dur, seed, &w2) != 0 ||
			    w2.start_ms != w.start_ms || w2.end_ms != w.end_ms)
				VIOLATION(st, "a restart changed the next start");
			else
				st->same_after_restart++;
			now = up;
		}
		check(s, tz, dur, &w, now, last, st);
		if (first == 0)
			first = w.start_ms;
		st->starts++;
		now = last = w.start_ms;
	}
	if (r != 0)
		VIOLATION(st, "calendar_next_start = %d", r);
	if (st->starts > 1)
		st->mean_gap_days = (double)(last - first) / (double)(st->starts - 1) / DAY_MS;
out:
	tz_free(tz);
	calendar_free(c);
}

int
main(void)
{
	struct sim_stats st, total = { 0, 0, 0, 0, 0, 0 };

	TEST_START("REL-18: two simulated years, 6 zones x 6 schedules, with restarts");
	printf("%-20s %-26s %6s %8s %6s %6s %5s %8s\n", "ZONE", "SCHEDULE", "STARTS",
	    "RESTARTS", "SAME", "MISSED", "BAD", "MEAN-GAP");
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			struct schedule s;

			memset(&s, 0, sizeof(s));
			s.timezone = zones[z];
			cases[k].build(&s);
			simulate(&s, cases[k].duration_ms, 1000 * z + k + 1, &st);
			printf("%-20s %-26s %6zu %8zu %6zu %6zu %5zu %7.2fd\n", zones[z],
			    cases[k].name, st.starts, st.restarts, st.same_after_restart,
			    st.missed, st.violations, st.mean_gap_days);
			ASSERT_TRUE(st.starts > 50);
			total.starts += st.starts;
			total.restarts += st.restarts;
			total.same_after_restart += st.same_after_restart;
			total.missed += st.missed;
			total.violations += st.violations;
		}
	printf("total: %zu starts, %zu restarts (%zu with the same next start, %zu missed a "
	    "start), %zu violations\n", total.starts, total.restarts, total.same_after_restart,
	    total.missed, total.violations);
	ASSERT_INT_EQ(total.violations, 0);
	return test_done();
}
