/*
 * When a scheduled playbook starts (DESIGN §2, docs/scheduling.md): a parsed `schedule`
 * bound to its IANA zone, turned into UTC window occurrences and start times.  Pure and
 * thread-safe: no global TZ, no localtime(), no clock; the caller passes every time in, so
 * that a test can drive two simulated years through it in a second.
 *
 * Window occurrences.  On every local date whose weekday a window lists, the window's local
 * start and end are mapped to UTC with tz_local_to_utc(): a local time in a spring-forward
 * gap becomes the first moment after the gap, one in an autumn fold its first occurrence.
 * The length of an occurrence is therefore end - start in local wall-clock time, and in UTC
 * an occurrence that spans a DST change is an hour shorter (spring) or longer (autumn); one
 * that lies wholly inside a gap is empty and never opens.  Windows of the same weekday that
 * overlap are merged into one occurrence (windows that only touch, 10:00-12:00 and
 * 12:00-14:00, stay two).  An occurrence on a blacked-out local date does not open at all.
 *
 * Blackouts.  `from`/`to` are local dates, both inclusive.  `quarter_end_days: N` blacks out
 * the last N local dates of each calendar quarter (counted back from 31 March, 30 June,
 * 30 September and 31 December; N may reach into the month before).
 *
 * Starts (calendar_next_start()).  A start always leaves the playbook's duration before the
 * end of its occurrence (in real, UTC time), lies strictly after the `after` time and after
 * the previous start, and is never inside the occurrence of the previous start.  A window
 * that began before `after` is never joined late (every/neither); missed is skipped.
 *
 * Random (Chaos Monkey) mode, reproducible.  Each weekly window w (a weekday's merged
 * window) gets a probability p_w, proportional to its local length and scaled so that the
 * p_w of a week add up to 7d / mean_time_between (capped at 1 each, the excess spread over
 * the others); when every p_w is 1 the mean cannot be reached and every occurrence starts
 * once.  Each occurrence draws two numbers from splitmix64 seeded with hash(seed, its UTC
 * start): a coin (u1 < p_w: it has a start) and a position u2.  The start is the whole
 * second at fraction u2 of [max(occurrence start, previous start + min_time_between),
 * occurrence end - duration]; if that range is empty the occurrence has no start.  So the
 * choice for an occurrence depends only on (schedule, seed, its start, the previous start):
 * a restarted controller that passes the persisted previous start gets the same answer as
 * one that never stopped, and blackouts only remove starts (they are not made up later).
 * This is Netflix Chaos Monkey's per-workday weighted coin, generalized to any windows.
 */
#ifndef GD_CALENDAR_H
#define GD_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#include "playbook.h"
#include "tz.h"

/* Times the calendar accepts: 1970-01-01T00:00:00Z up to 9990-01-01T00:00:00Z. */
#define CAL_MIN_MS	0LL
#define CAL_MAX_MS	253086768000000LL
/* How far calendar_next_start() and calendar_next_window() look: 3 years. */
#define CAL_HORIZON_DAYS 1096

struct cal_window {
	int64_t start_ms, end_ms;	/* UTC Unix ms; end_ms > start_ms. */
};

struct calendar;

/*
 * Binds s to its zone (tz_load()) and copies what it needs from s, which may be freed
 * afterwards.  On success the caller owns *ret (calendar_free()).  On failure *ret is
 * untouched and *why (when why is not NULL) says why: -EINVAL (s is not a valid schedule),
 * -ENOENT or -EBADMSG (the zone), -ENOMEM.
 */
int calendar_new(const struct schedule *s, struct calendar **ret, const char **why);
struct calendar *calendar_free(struct calendar *c);
/* Borrowed: valid while c lives. */
const struct gd_tz *calendar_tz(const struct calendar *c);

/* The open window occurrence containing t (start <= t < end), or false. */
bool calendar_open_at(const struct calendar *c, int64_t t_ms, struct cal_window *ret);
/*
 * The first open window occurrence whose end is after from_ms (its start may be before
 * from_ms).  0, -ENOENT when none opens in the next CAL_HORIZON_DAYS, -ERANGE when from_ms
 * is outside CAL_MIN_MS..CAL_MAX_MS.
 */
int calendar_next_window(const struct calendar *c, int64_t from_ms, struct cal_window *ret);
/*
 * Why the local date at t is blacked out ("holiday freeze", "quarter end (last 5 days)",
 * "blackout 2026-12-21..2027-01-04" when the blackout gave no reason), or NULL when it is
 * not.  Borrowed: valid while c lives.
 */
const char *calendar_blackout_at(const struct calendar *c, int64_t t_ms);
/*
 * The next start strictly after after_ms, given the previous start last_start_ms (0: none):
 *   every daily:  the start of the first open window of each local day that has no start yet
 *                 (a day whose first window was missed uses its next one);
 *   every weekly: the same per ISO week (Monday-based, local);
 *   neither:      the start of every open window occurrence;
 *   random:       Chaos Monkey, see above: a random moment inside open windows, at most one
 *                 per window occurrence, never closer than min_time_between to the previous
 *                 start, with gaps that average mean_time_between over a long run.
 * Reproducible: the same (schedule, seed, after_ms, last_start_ms) gives the same answer, and
 * a sequence built by feeding each answer back (as both after_ms and last_start_ms) is the
 * same whatever the from time of the first call, among those that give the same first answer.
 * seed only matters in random mode.  *ret: start_ms = the start, end_ms = the end of its window
 * occurrence; start_ms + duration_ms <= end_ms.  0; -ENOENT when no start exists in the next
 * CAL_HORIZON_DAYS (e.g. a blackout covering everything); -ERANGE when after_ms is outside
 * CAL_MIN_MS..CAL_MAX_MS.
 */
int calendar_next_start(const struct calendar *c, int64_t after_ms, int64_t last_start_ms,
    uint64_t duration_ms, uint64_t seed, struct cal_window *ret);

/*
 * The seed gamedayd uses for a playbook's random mode (FNV-1a of its name), so that two
 * playbooks with the same windows do not fire together; `schedule preview` uses it too
 * unless --seed is given, so that a preview shows the controller's plan.
 */
uint64_t calendar_seed(const char *playbook_name);

#endif
