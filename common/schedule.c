#include "schedule.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tz.h"

static const char *const day_names[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
static const char *const keys_schedule[] = { "timezone", "windows", "blackouts", "every",
	"random", NULL };
static const char *const keys_window[] = { "days", "start", "end", NULL };
static const char *const keys_blackout_dates[] = { "from", "to", "reason", NULL };
static const char *const keys_blackout_quarter[] = { "quarter_end_days", "reason", NULL };
static const char *const keys_random[] = { "mean_time_between", "min_time_between", NULL };

const char *
schedule_day_name(int day)
{
	return day >= 0 && day < 7 ? day_names[day] : "?";
}

static bool
parse_days(struct jctx *c, const cJSON *w, uint8_t *ret)
{
	const cJSON *arr, *it;
	size_t n, i = 0, old, item;
	bool ok = true;

	if ((arr = j_array(c, w, "days", true, 1, 7, &n)) == NULL)
		return false;
	old = jpath_push_key(c, "days");
	cJSON_ArrayForEach(it, arr) {
		int d;

		for (d = 0; d < 7; d++)
			if (cJSON_IsString(it) && strcmp(it->valuestring, day_names[d]) == 0)
				break;
		item = jpath_push_index(c, i++);
		if (d == 7) {
			j_error(c, NULL, "%s is not a day (mon tue wed thu fri sat sun)",
			    cJSON_IsString(it) ? j_quote(it->valuestring) : j_type_name(it));
			ok = false;
		} else if (*ret & (1u << d)) {
			j_error(c, NULL, "\"%s\" is listed twice", day_names[d]);
			ok = false;
		} else {
			*ret |= (uint8_t)(1u << d);
		}
		jpath_pop(c, item);
	}
	jpath_pop(c, old);
	return ok;
}

static bool
parse_hhmm(struct jctx *c, const cJSON *w, const char *key, bool is_end, int *ret)
{
	const char *s, *why = NULL;

	if (!j_string(c, w, key, true, 16, &s))
		return false;
	if (hhmm_parse(s, is_end, ret, &why) < 0) {
		j_error(c, key, "%s: %s", j_quote(s), why);
		return false;
	}
	return true;
}

static bool
parse_window(struct jctx *c, const cJSON *w, struct window *ret)
{
	bool ok;

	if (!j_object(c, w, keys_window))
		return false;
	ok = parse_days(c, w, &ret->days);
	ok &= parse_hhmm(c, w, "start", false, &ret->start_min);
	ok &= parse_hhmm(c, w, "end", true, &ret->end_min);
	if (ok && ret->end_min <= ret->start_min) {
		j_error(c, "end", "must be after start (windows do not cross midnight; "
		    "split them in two)");
		ok = false;
	}
	return ok;
}

static bool
parse_date_key(struct jctx *c, const cJSON *b, const char *key, struct gd_date *ret)
{
	const char *s, *why = NULL;

	if (!j_string(c, b, key, true, 16, &s))
		return false;
	if (date_parse(s, ret, &why) < 0) {
		j_error(c, key, "%s: %s", j_quote(s), why);
		return false;
	}
	return true;
}

/* The optional free-text reason of a blackout: one line, no control characters. */
static bool
parse_reason(struct jctx *c, const cJSON *b, struct arena *a, struct blackout *ret)
{
	const char *s;

	if (!j_string(c, b, "reason", false, GD_MAX_SHORT_STRING_BYTES, &s))
		return j_get(b, "reason") == NULL;
	for (const char *q = s; *q != '\0'; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			j_error(c, "reason", "contains a control character");
			return false;
		}
	if ((ret->reason = arena_strdup(a, s)) == NULL)
		c->oom = true;
	return true;
}

static bool
parse_blackout(struct jctx *c, const cJSON *b, struct arena *a, struct blackout *ret)
{
	int64_t v;
	bool ok;

	if (cJSON_IsObject(b) && j_get(b, "quarter_end_days") != NULL) {
		if (!j_object(c, b, keys_blackout_quarter))
			return false;
		ok = parse_reason(c, b, a, ret);
		if (!j_int(c, b, "quarter_end_days", true, 1, GD_MAX_QUARTER_END_DAYS, &v))
			return false;
		ret->quarter_end = true;
		ret->quarter_end_days = (int)v;
		return ok;
	}
	if (!j_object(c, b, keys_blackout_dates))
		return false;
	ok = parse_date_key(c, b, "from", &ret->from);
	ok &= parse_date_key(c, b, "to", &ret->to);
	if (ok && date_compare(&ret->to, &ret->from) < 0) {
		j_error(c, "to", "is before from");
		ok = false;
	}
	ok &= parse_reason(c, b, a, ret);
	return ok;
}

static bool
parse_random(struct jctx *c, const cJSON *node, struct schedule *s)
{
	size_t old = jpath_push_key(c, "random");
	bool ok = j_object(c, node, keys_random);

	if (ok) {
		ok = j_duration(c, node, "mean_time_between", true, 60 * 1000,
		    GD_MAX_DURATION_MS, &s->mean_between_ms);
		ok &= j_duration(c, node, "min_time_between", true, 0, GD_MAX_DURATION_MS,
		    &s->min_between_ms);
		if (ok && s->min_between_ms > s->mean_between_ms) {
			j_error(c, "min_time_between", "is longer than mean_time_between");
			ok = false;
		}
	}
	jpath_pop(c, old);
	s->random = true;
	return ok;
}

bool
schedule_parse(struct jctx *c, const cJSON *node, struct arena *a, struct schedule *s)
{
	const cJSON *arr, *it;
	const char *str, *why = NULL;
	size_t n, i, old;
	struct gd_tz *tz = NULL;
	bool ok;

	memset(s, 0, sizeof(*s));
	s->timezone = "UTC";
	if (!j_object(c, node, keys_schedule))
		return false;
	ok = true;
	if (j_string(c, node, "timezone", false, GD_MAX_NAME_BYTES, &str)) {
		int r = tz_load(str, &tz, &why);

		if (r == -ENOMEM) {
			c->oom = true;
		} else if (r < 0) {
			j_error(c, "timezone", "%s: %s", j_quote(str), why);
			ok = false;
		} else if ((s->timezone = arena_strdup(a, str)) == NULL) {
			c->oom = true;
		}
		tz = tz_free(tz);
	} else if (j_get(node, "timezone") != NULL) {
		ok = false;
	}
	if ((arr = j_array(c, node, "windows", true, 1, GD_MAX_WINDOWS, &n)) != NULL) {
		i = 0;
		cJSON_ArrayForEach(it, arr) {
			old = jpath_push_key(c, "windows");
			(void)jpath_push_index(c, i++);
			ok &= parse_window(c, it, &s->windows[s->nwindows++]);
			jpath_pop(c, old);
		}
	} else {
		ok = false;
	}
	if ((arr = j_array(c, node, "blackouts", false, 0, GD_MAX_BLACKOUTS, &n)) != NULL) {
		i = 0;
		cJSON_ArrayForEach(it, arr) {
			old = jpath_push_key(c, "blackouts");
			(void)jpath_push_index(c, i++);
			ok &= parse_blackout(c, it, a, &s->blackouts[s->nblackouts++]);
			jpath_pop(c, old);
		}
	} else if (j_get(node, "blackouts") != NULL) {
		ok = false;
	}
	if (j_string(c, node, "every", false, 16, &str)) {
		if (strcmp(str, "daily") == 0) {
			s->every = EVERY_DAILY;
		} else if (strcmp(str, "weekly") == 0) {
			s->every = EVERY_WEEKLY;
		} else {
			j_error(c, "every", "%s is not one of daily, weekly", j_quote(str));
			ok = false;
		}
	} else if (j_get(node, "every") != NULL) {
		ok = false;
	}
	if ((it = j_get(node, "random")) != NULL) {
		ok &= parse_random(c, it, s);
		if (s->every != EVERY_NONE) {
			j_error(c, "random", "cannot be combined with every");
			ok = false;
		}
	}
	return ok;
}

cJSON *
schedule_to_json(const struct schedule *s)
{
	cJSON *o = cJSON_CreateObject(), *arr, *w, *days, *r;
	char buf[32];
	bool oom = o == NULL;

	if (oom)
		return NULL;
	oom |= cJSON_AddStringToObject(o, "timezone", s->timezone) == NULL;
	if ((arr = cJSON_AddArrayToObject(o, "windows")) == NULL)
		oom = true;
	for (size_t i = 0; !oom && i < s->nwindows; i++) {
		const struct window *win = &s->windows[i];

		if ((w = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, w)) {
			cJSON_Delete(w);
			oom = true;
			break;
		}
		if ((days = cJSON_AddArrayToObject(w, "days")) == NULL) {
			oom = true;
			break;
		}
		for (int d = 0; d < 7; d++)
			if (win->days & (1u << d))
				oom |= !cJSON_AddItemToArray(days,
				    cJSON_CreateString(day_names[d]));
		(void)snprintf(buf, sizeof(buf), "%02d:%02d", win->start_min / 60,
		    win->start_min % 60);
		oom |= cJSON_AddStringToObject(w, "start", buf) == NULL;
		(void)snprintf(buf, sizeof(buf), "%02d:%02d", win->end_min / 60, win->end_min % 60);
		oom |= cJSON_AddStringToObject(w, "end", buf) == NULL;
	}
	if (!oom && s->nblackouts > 0) {
		if ((arr = cJSON_AddArrayToObject(o, "blackouts")) == NULL)
			oom = true;
		for (size_t i = 0; !oom && i < s->nblackouts; i++) {
			const struct blackout *b = &s->blackouts[i];

			if ((w = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, w)) {
				cJSON_Delete(w);
				oom = true;
				break;
			}
			if (b->quarter_end) {
				oom |= cJSON_AddNumberToObject(w, "quarter_end_days",
				    b->quarter_end_days) == NULL;
				if (b->reason != NULL)
					oom |= cJSON_AddStringToObject(w, "reason", b->reason) ==
					    NULL;
				continue;
			}
			(void)snprintf(buf, sizeof(buf), "%04d-%02d-%02d", b->from.year,
			    b->from.month, b->from.day);
			oom |= cJSON_AddStringToObject(w, "from", buf) == NULL;
			(void)snprintf(buf, sizeof(buf), "%04d-%02d-%02d", b->to.year, b->to.month,
			    b->to.day);
			oom |= cJSON_AddStringToObject(w, "to", buf) == NULL;
			if (b->reason != NULL)
				oom |= cJSON_AddStringToObject(w, "reason", b->reason) == NULL;
		}
	}
	if (!oom && s->every != EVERY_NONE)
		oom |= cJSON_AddStringToObject(o, "every",
		    s->every == EVERY_DAILY ? "daily" : "weekly") == NULL;
	if (!oom && s->random) {
		if ((r = cJSON_AddObjectToObject(o, "random")) == NULL) {
			oom = true;
		} else {
			duration_format(s->mean_between_ms, buf, sizeof(buf));
			oom |= cJSON_AddStringToObject(r, "mean_time_between", buf) == NULL;
			duration_format(s->min_between_ms, buf, sizeof(buf));
			oom |= cJSON_AddStringToObject(r, "min_time_between", buf) == NULL;
		}
	}
	if (oom) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
