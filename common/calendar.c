/*
 * Start-time semantics of schedules (calendar.h has the rules; docs/scheduling.md the
 * examples).  Everything is computed from local dates: each local date between two limits
 * yields its window occurrences in time order, blacked-out dates yield none.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"

#include "alloc.h"
#include "limits.h"

#define SEC_MS		1000LL
#define DAY_MS		(86400LL * SEC_MS)
#define WEEK_MS		(7 * DAY_MS)
/* The longest occurrence: 24 h plus the hour an autumn fold adds. */
#define CAL_MAX_OCC_MS	(25 * 3600 * SEC_MS)

/* One weekday's window after overlapping windows were merged, in local minutes. */
struct cal_def {
	int start_min, end_min;
	double p;		/* Random mode: the chance that an occurrence has a start. */
};

struct cal_blackout {
	bool quarter_end;
	int quarter_end_days;
	int64_t from_day, to_day;	/* Days since 1970-01-01, both inclusive. */
	char reason[GD_MAX_SHORT_STRING_BYTES + 1];
};

struct calendar {
	struct gd_tz *tz;
	struct cal_def defs[7][GD_MAX_WINDOWS];	/* [weekday 0 = Monday][i], by start. */
	size_t ndefs[7];
	struct cal_blackout blackouts[GD_MAX_BLACKOUTS];
	size_t nblackouts;
	enum sched_every every;
	bool random;
	int64_t min_between_ms;
};

/* A window occurrence: def on local date day. */
struct cal_occ {
	int64_t day;
	const struct cal_def *def;
	struct cal_window w;
};

/* Walks the occurrences of local dates day..end_day in time order. */
struct cal_iter {
	int64_t day, end_day;
	size_t next;		/* The next def of the current day. */
};

/* What calendar_next_start() was asked. */
struct cal_query {
	int64_t after_ms, last_ms;	/* last_ms 0: no previous start. */
	int64_t last_key;		/* The local day or ISO week of last_ms. */
	int64_t duration_ms;
	uint64_t seed;
};

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* 0 = Monday .. 6 = Sunday; day 0 (1970-01-01) was a Thursday. */
static int
day_weekday(int64_t day)
{
	return (int)(day + 3 - floor_div(day + 3, 7) * 7);
}

/* ISO weeks numbered from the one of 1969-12-29, a Monday. */
static int64_t
day_week(int64_t day)
{
	return floor_div(day + 3, 7);
}

static bool
in_range(int64_t t_ms)
{
	return t_ms >= CAL_MIN_MS && t_ms <= CAL_MAX_MS;
}

/* The local date of t_ms, in days since 1970-01-01. */
static int64_t
cal_day_of(const struct calendar *c, int64_t t_ms)
{
	struct gd_date d;
	int sec;

	tz_utc_to_local(c->tz, floor_div(t_ms, SEC_MS), &d, &sec);
	return date_to_days(&d);
}

/* The reason local date day is blacked out, or NULL. */
static const char *
cal_blackout_day(const struct calendar *c, int64_t day)
{
	struct gd_date d, qend;
	bool have_qend = false;

	for (size_t i = 0; i < c->nblackouts; i++) {
		const struct cal_blackout *b = &c->blackouts[i];

		if (!b->quarter_end) {
			if (day >= b->from_day && day <= b->to_day)
				return b->reason;
			continue;
		}
		if (!have_qend) {
			date_from_days(day, &d);
			qend.year = d.year;
			qend.month = (d.month - 1) / 3 * 3 + 3;
			qend.day = days_in_month(qend.year, qend.month);
			have_qend = true;
		}
		if (date_to_days(&qend) - day < b->quarter_end_days)
			return b->reason;
	}
	return NULL;
}

static void
cal_iter_init(struct cal_iter *it, int64_t first_day, int64_t last_day)
{
	it->day = first_day;
	it->end_day = last_day;
	it->next = 0;
}

/* The next open occurrence in time order; false past end_day. */
static bool
cal_iter_next(const struct calendar *c, struct cal_iter *it, struct cal_occ *ret)
{
	struct gd_date d;

	while (it->day <= it->end_day) {
		int wd = day_weekday(it->day);
		const struct cal_def *def;
		int64_t start, end;

		if (it->next >= c->ndefs[wd] ||
		    (it->next == 0 && cal_blackout_day(c, it->day) != NULL)) {
			it->day++;
			it->next = 0;
			continue;
		}
		def = &c->defs[wd][it->next++];
		date_from_days(it->day, &d);
		start = tz_local_to_utc(c->tz, &d, def->start_min, NULL) * SEC_MS;
		end = tz_local_to_utc(c->tz, &d, def->end_min, NULL) * SEC_MS;
		/* A window wholly inside a spring-forward gap does not exist that day. */
		if (end <= start)
			continue;
		ret->day = it->day;
		ret->def = def;
		ret->w.start_ms = start;
		ret->w.end_ms = end;
		return true;
	}
	return false;
}

struct calendar *
calendar_free(struct calendar *c)
{
	if (c == NULL)
		return NULL;
	tz_free(c->tz);
	gd_free(c);
	return NULL;
}

const struct gd_tz *
calendar_tz(const struct calendar *c)
{
	return c->tz;
}

static bool
date_valid(const struct gd_date *d)
{
	return d->year >= 1970 && d->year <= 9999 && d->month >= 1 && d->month <= 12 &&
	    d->day >= 1 && d->day <= days_in_month(d->year, d->month);
}

/* Checks what the parser guarantees, for schedules built by other code (tests, fuzzers). */
static const char *
cal_check(const struct schedule *s)
{
	if (s->nwindows < 1 || s->nwindows > GD_MAX_WINDOWS)
		return "a schedule needs 1 to 32 windows";
	for (size_t i = 0; i < s->nwindows; i++) {
		const struct window *w = &s->windows[i];

		if (w->days == 0 || w->days > 0x7f || w->start_min < 0 ||
		    w->end_min <= w->start_min || w->end_min > 1440)
			return "a window has no days or does not end after it starts";
	}
	if (s->nblackouts > GD_MAX_BLACKOUTS)
		return "too many blackouts";
	for (size_t i = 0; i < s->nblackouts; i++) {
		const struct blackout *b = &s->blackouts[i];

		if (b->quarter_end && (b->quarter_end_days < 1 ||
		    b->quarter_end_days > GD_MAX_QUARTER_END_DAYS))
			return "quarter_end_days is out of range";
		if (!b->quarter_end && (!date_valid(&b->from) || !date_valid(&b->to) ||
		    date_compare(&b->to, &b->from) < 0))
			return "a blackout's dates are not a valid range";
	}
	if (s->random && s->every != EVERY_NONE)
		return "random cannot be combined with every";
	if (s->random && (s->mean_between_ms == 0 || s->mean_between_ms > GD_MAX_DURATION_MS ||
	    s->min_between_ms > GD_MAX_DURATION_MS))
		return "random needs a mean_time_between of 1ms to 366d";
	return NULL;
}

/* Merges the windows of weekday wd into c->defs[wd], sorted by start. */
static void
cal_merge_day(struct calendar *c, const struct schedule *s, int wd)
{
	struct cal_def *defs = c->defs[wd], tmp;
	size_t n = 0, m = 0;

	for (size_t i = 0; i < s->nwindows; i++) {
		if (!(s->windows[i].days & (1u << wd)))
			continue;
		defs[n].start_min = s->windows[i].start_min;
		defs[n].end_min = s->windows[i].end_min;
		defs[n].p = 0;	/* cal_weights() sets it in random mode. */
		for (size_t k = n++; k > 0 && defs[k - 1].start_min > defs[k].start_min; k--) {
			tmp = defs[k - 1];
			defs[k - 1] = defs[k];
			defs[k] = tmp;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && defs[i].start_min < defs[m - 1].end_min) {
			if (defs[i].end_min > defs[m - 1].end_min)
				defs[m - 1].end_min = defs[i].end_min;
			continue;
		}
		defs[m++] = defs[i];
	}
	c->ndefs[wd] = m;
}

/*
 * Random mode: p of each weekly window, proportional to its length, adding up to the starts
 * a week should have (7d / mean).  A window whose share reaches 1 is capped at 1 and the
 * others share the rest ("water filling"); each round caps at least one window or ends.
 */
static void
cal_weights(struct calendar *c, uint64_t mean_ms)
{
	double want = (double)WEEK_MS / (double)mean_ms, rest, len, scale;
	bool again = true;

	while (again) {
		again = false;
		rest = want;
		len = 0;
		for (int wd = 0; wd < 7; wd++)
			for (size_t i = 0; i < c->ndefs[wd]; i++) {
				if (c->defs[wd][i].p >= 1)
					rest -= 1;
				else
					len += c->defs[wd][i].end_min - c->defs[wd][i].start_min;
			}
		scale = len > 0 && rest > 0 ? rest / len : 0;
		for (int wd = 0; wd < 7; wd++)
			for (size_t i = 0; i < c->ndefs[wd]; i++) {
				struct cal_def *d = &c->defs[wd][i];

				if (d->p >= 1)
					continue;
				d->p = scale * (d->end_min - d->start_min);
				if (d->p >= 1) {
					d->p = 1;
					again = true;
				}
			}
	}
}

static void
cal_copy_blackout(struct cal_blackout *dst, const struct blackout *b)
{
	dst->quarter_end = b->quarter_end;
	dst->quarter_end_days = b->quarter_end_days;
	if (b->quarter_end) {
		dst->from_day = dst->to_day = 0;
		if (b->reason != NULL)
			(void)snprintf(dst->reason, sizeof(dst->reason), "%s", b->reason);
		else
			(void)snprintf(dst->reason, sizeof(dst->reason),
			    "quarter end (last %d days)", b->quarter_end_days);
		return;
	}
	dst->from_day = date_to_days(&b->from);
	dst->to_day = date_to_days(&b->to);
	if (b->reason != NULL)
		(void)snprintf(dst->reason, sizeof(dst->reason), "%s", b->reason);
	else
		(void)snprintf(dst->reason, sizeof(dst->reason),
		    "blackout %04d-%02d-%02d..%04d-%02d-%02d", b->from.year, b->from.month,
		    b->from.day, b->to.year, b->to.month, b->to.day);
}

int
calendar_new(const struct schedule *s, struct calendar **ret, const char **why)
{
	struct calendar *c;
	const char *msg;
	int r;

	if ((msg = cal_check(s)) != NULL) {
		if (why != NULL)
			*why = msg;
		return -EINVAL;
	}
	if ((c = gd_calloc(1, sizeof(*c))) == NULL) {
		if (why != NULL)
			*why = "out of memory";
		return -ENOMEM;
	}
	if ((r = tz_load(s->timezone != NULL ? s->timezone : "UTC", &c->tz, why)) < 0) {
		calendar_free(c);
		return r;
	}
	for (int wd = 0; wd < 7; wd++)
		cal_merge_day(c, s, wd);
	for (size_t i = 0; i < s->nblackouts; i++)
		cal_copy_blackout(&c->blackouts[i], &s->blackouts[i]);
	c->nblackouts = s->nblackouts;
	c->every = s->every;
	c->random = s->random;
	c->min_between_ms = (int64_t)s->min_between_ms;
	if (c->random)
		cal_weights(c, s->mean_between_ms);
	*ret = c;
	return 0;
}

bool
calendar_open_at(const struct calendar *c, int64_t t_ms, struct cal_window *ret)
{
	struct cal_iter it;
	struct cal_occ o;
	int64_t day;

	if (!in_range(t_ms))
		return false;
	day = cal_day_of(c, t_ms);
	cal_iter_init(&it, day - 1, day + 1);
	while (cal_iter_next(c, &it, &o)) {
		if (o.w.start_ms > t_ms)
			break;
		if (t_ms < o.w.end_ms) {
			*ret = o.w;
			return true;
		}
	}
	return false;
}

int
calendar_next_window(const struct calendar *c, int64_t from_ms, struct cal_window *ret)
{
	struct cal_iter it;
	struct cal_occ o;
	int64_t day;

	if (!in_range(from_ms))
		return -ERANGE;
	day = cal_day_of(c, from_ms);
	cal_iter_init(&it, day - 1, day + CAL_HORIZON_DAYS);
	while (cal_iter_next(c, &it, &o))
		if (o.w.end_ms > from_ms) {
			*ret = o.w;
			return 0;
		}
	return -ENOENT;
}

const char *
calendar_blackout_at(const struct calendar *c, int64_t t_ms)
{
	if (!in_range(t_ms))
		return NULL;
	return cal_blackout_day(c, cal_day_of(c, t_ms));
}

/* splitmix64 (Steele, Lea, Flood 2014): a 64-bit mix and a generator stepping by a constant. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from the generator state *s. */
static double
next_unit(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return (double)(mix64(*s) >> 11) * 0x1.0p-53;
}

/* Random mode: the start occurrence o gets, if any (calendar.h says how it is drawn). */
static bool
cal_random_start(const struct calendar *c, const struct cal_occ *o, const struct cal_query *q,
    int64_t *ret)
{
	int64_t lo = o->w.start_ms, hi = o->w.end_ms - q->duration_ms, n, k;
	uint64_t state = mix64(q->seed ^ mix64((uint64_t)o->w.start_ms + 0x9e3779b97f4a7c15ULL));
	double coin = next_unit(&state), pos = next_unit(&state);

	if (!(coin < o->def->p))
		return false;
	if (q->last_ms != 0) {
		if (q->last_ms >= o->w.start_ms && q->last_ms < o->w.end_ms)
			return false;
		if (q->last_ms + c->min_between_ms > lo)
			lo = q->last_ms + c->min_between_ms;
	}
	/* Whole seconds: what RFC 3339 shows is exactly the start. */
	lo = floor_div(lo + SEC_MS - 1, SEC_MS) * SEC_MS;
	hi = floor_div(hi, SEC_MS) * SEC_MS;
	if (hi < lo)
		return false;
	n = (hi - lo) / SEC_MS + 1;
	k = (int64_t)(pos * (double)n);
	if (k >= n)	/* pos * n may round up to n. */
		k = n - 1;
	*ret = lo + k * SEC_MS;
	return *ret > q->after_ms;
}

/* The start occurrence o gives q, if any. */
static bool
cal_start_in(const struct calendar *c, const struct cal_occ *o, const struct cal_query *q,
    int64_t *ret)
{
	if (o->w.end_ms - o->w.start_ms < q->duration_ms)
		return false;
	if (c->random)
		return cal_random_start(c, o, q, ret);
	/* every and windows-only start at the window's start, never late. */
	if (o->w.start_ms <= q->after_ms)
		return false;
	if (q->last_ms != 0 && c->every == EVERY_DAILY && o->day == q->last_key)
		return false;
	if (q->last_ms != 0 && c->every == EVERY_WEEKLY && day_week(o->day) == q->last_key)
		return false;
	*ret = o->w.start_ms;
	return true;
}

int
calendar_next_start(const struct calendar *c, int64_t after_ms, int64_t last_start_ms,
    uint64_t duration_ms, uint64_t seed, struct cal_window *ret)
{
	struct cal_query q = { after_ms, last_start_ms, 0, 0, seed };
	struct cal_iter it;
	struct cal_occ o;
	int64_t day, t;

	if (!in_range(after_ms) || (last_start_ms != 0 && !in_range(last_start_ms)))
		return -ERANGE;
	/* No occurrence is longer than 25 h: a longer run never fits. */
	if (duration_ms > (uint64_t)CAL_MAX_OCC_MS)
		return -ENOENT;
	q.duration_ms = (int64_t)duration_ms;
	if (q.last_ms > q.after_ms)
		q.after_ms = q.last_ms;
	if (q.last_ms != 0) {
		q.last_key = cal_day_of(c, q.last_ms);
		if (c->every == EVERY_WEEKLY)
			q.last_key = day_week(q.last_key);
	}
	day = cal_day_of(c, q.after_ms);
	cal_iter_init(&it, day - 1, day + CAL_HORIZON_DAYS);
	while (cal_iter_next(c, &it, &o)) {
		if (o.w.end_ms <= q.after_ms || !cal_start_in(c, &o, &q, &t))
			continue;
		ret->start_ms = t;
		ret->end_ms = o.w.end_ms;
		return 0;
	}
	return -ENOENT;
}

uint64_t
calendar_seed(const char *playbook_name)
{
	uint64_t h = 14695981039346656037ULL;

	for (const char *s = playbook_name; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}
