/*
 * Schedules (DESIGN §2): business-hours windows in an IANA time zone, blackout dates and
 * quarter ends, "every" daily/weekly or Chaos Monkey random mode.  This file parses and
 * validates them; calendar.h computes their start times.
 */
#ifndef GD_SCHEDULE_H
#define GD_SCHEDULE_H

#include <cjson/cJSON.h>

#include "arena.h"
#include "json.h"
#include "playbook.h"

/* Parses the "schedule" object at the current path of c into ret. */
bool schedule_parse(struct jctx *c, const cJSON *node, struct arena *a, struct schedule *ret);
/* Canonical JSON; NULL when out of memory. */
cJSON *schedule_to_json(const struct schedule *s);
/* "mon", "tue", ... for bit 0..6. */
const char *schedule_day_name(int day);

#endif
