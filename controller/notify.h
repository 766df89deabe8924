/*
 * Notifications: webhooks told when a run is scheduled, awaits approval, starts, or ends
 * (config "notify").  A run's transition writes one outbox row per webhook inside its own
 * transaction (notify_enqueue()), so a notification is never lost with a crash and never
 * sent for something that did not commit; a thread of its own sends the outbox with
 * libcurl, retrying with backoff.  Nothing on the way to a halt or a revert waits for a
 * webhook: the run's transaction only inserts rows.
 *
 * Formats: "json" (generic: {"event", "time", "run": {...}, "text"}) and "slack"
 * ({"text": ...}, which Slack's incoming webhooks and compatible tools accept).  Webhook URLs
 * carry secrets: logs and the audit name a webhook by its "name", never its URL.
 */
#ifndef GD_NOTIFY_H
#define GD_NOTIFY_H

#include <stdbool.h>

#include "ctl.h"

#define NOTIFY_TIMEOUT_MS	5000	/* One POST, connect to answer. */
#define NOTIFY_MAX_ATTEMPTS	12	/* Then the row is given up (logged). */
#define NOTIFY_BACKOFF_MAX_MS	(5 * 60 * 1000)

/* The events, as named in the config's "events" and in the payload's "event". */
enum notify_event {
	NOTIFY_SCHEDULED, NOTIFY_AWAITING_APPROVAL, NOTIFY_STARTED, NOTIFY_ABORTED,
	NOTIFY_COMPLETED, NOTIFY_FAILED, NOTIFY_HALTED, NOTIFY_EVENT_MAX
};

const char *notify_event_name(enum notify_event e);
/* The event a run entering state sends, or NOTIFY_EVENT_MAX for none. */
enum notify_event notify_event_of_state(const char *state);

struct tx;
/*
 * Inside a transaction: one outbox row per webhook that wants event, for run (its playbook,
 * environment and reason are read from the store).  Failures stick in the transaction.
 */
void notify_enqueue(struct tx *t, enum notify_event e, const char *run, const char *reason);

int notify_start(struct ctl *c);
/* Stops the thread; notify_kick() stays safe until notify_free(). */
void notify_stop(struct ctl *c);
void notify_free(struct ctl *c);
void notify_kick(struct ctl *c);

#endif
