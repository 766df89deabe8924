/*
 * The checks before a scheduled start (config "scheduler"), like Chaos Monkey's outage
 * check: no Game Day while an incident is open, none while the service's error budget is
 * spent.  Both fail closed: an answer that cannot be had, or read, skips the start.
 *
 *   outage: GET <alertmanager>/api/v2/alerts?active=true&silenced=false&inhibited=false
 *           &filter=<matcher>... on every configured Alertmanager; any alert in the reply
 *           is an open incident.
 *   budget: the configured Prometheus instant query (a scalar or one sample, as a probe);
 *           the start may go ahead when its value is at least "min".
 */
#ifndef GD_OUTAGE_H
#define GD_OUTAGE_H

#include "ctl.h"

#define OUTAGE_MAX_BODY		(1024 * 1024)
#define OUTAGE_MAX_NAMED	5	/* Alerts named in a skip's reason. */

/*
 * 0: no matching alert is firing (or no Alertmanager is configured).  -EBUSY: alerts are
 * firing, named in why.  Another negative errno: an Alertmanager could not be asked or its
 * answer read (why says which and why): the caller skips, as for -EBUSY.
 */
int outage_check(const struct sched_config *s, char *why, size_t whylen);

/*
 * 0 with *ret_value when the budget allows a start (or none is configured: *ret_value is
 * then NAN).  -EBUSY: the value is below min (*ret_value set).  Another negative errno: the
 * query failed (why).
 */
int budget_check(const struct sched_config *s, double *ret_value, char *why, size_t whylen);

/* The alert names of an Alertmanager v2 /api/v2/alerts reply; pure, for tests and fuzzing.
 * 0 with *ret_n alerts and their names in why; -EINVAL when it is not such a reply. */
int outage_parse_alerts(const char *body, size_t len, size_t *ret_n, char *why,
    size_t whylen);

#endif
