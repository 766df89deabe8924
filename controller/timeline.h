/*
 * A run's timeline: the SLA guard's probe samples and SLA evaluations, each fault's state
 * and when it last changed, and the figures derived from them (time from the first breach
 * to the abort, from the abort to the last verified revert, availability of each probed
 * service during the run as a percentage and in nines).  The raw material of reports.
 */
#ifndef GD_TIMELINE_H
#define GD_TIMELINE_H

#include <cjson/cJSON.h>

#include "ctl.h"

/* The summary shown by `run show`: latest values, availability, figures.  Takes no lock. */
cJSON *timeline_summary_json(struct ctl *c, const char *run);

/* The number of nines of an availability in percent (99.9 → 3); INFINITY at 100. */
double timeline_nines(double availability_percent);

#endif
