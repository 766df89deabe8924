/*
 * The agent daemon's HTTP client (libcurl): POSTs of JSON to the controller and nowhere
 * else.  One easy handle lives as long as the daemon, so the connection is reused.
 *
 * The controller's name is resolved once, by uplink_new(), before the sandbox: its
 * addresses are pinned (CURLOPT_RESOLVE) and are exactly the ones uplink_exempt() adds to
 * the policy's control channel, so a network fault never cuts the agent's own polls, and no
 * resolver runs inside the sandbox.  Proxies from the environment are ignored for the same
 * reason: the exemption names the controller, not a proxy.
 */
#ifndef GD_UPLINK_H
#define GD_UPLINK_H

#include <signal.h>
#include <stddef.h>

#include "policy.h"

struct uplink;

struct uplink_reply {
	long status;		/* The HTTP status; 0 when no reply came. */
	char *body;		/* NUL-terminated; NULL when there was none. */
	size_t len;
	char error[256];	/* Why no reply came (status 0), or why it was cut. */
};

/*
 * Parses url (http or https, an address or a name), resolves it and keeps at most max_addrs
 * of its addresses.  curl_global_init() must have run.  Caller owns *ret (uplink_free()).
 */
int uplink_new(const char *url, size_t max_addrs, struct uplink **ret, char *why,
    size_t whylen);
struct uplink *uplink_free(struct uplink *c);

/* Adds the pinned addresses with the controller's port to pol's control channel. */
int uplink_exempt(const struct uplink *c, struct policy *pol, char *why, size_t whylen);
/* The controller's addresses as text, for a log line. */
const char *uplink_addrs(const struct uplink *c);

/*
 * While *flag is non-zero and abortable is true, a transfer under way is abandoned within
 * about a second (a signal asked us to stop).
 */
void uplink_set_abort(struct uplink *c, volatile sig_atomic_t *flag, int abortable);

/*
 * POSTs body (JSON) to the URL's base joined with path, with "Authorization: Bearer
 * bearer".  The reply is cut at max_reply bytes (then ret->status is 0 and error says so).
 * Returns 0 when a reply of any status came, -EIO (transport), -E2BIG (too large),
 * -ECANCELED (aborted) or -ENOMEM; ret is filled either way (uplink_reply_clear()).
 */
int uplink_post(struct uplink *c, const char *path, const char *bearer, const char *body,
    long timeout_ms, size_t max_reply, struct uplink_reply *ret);
void uplink_reply_clear(struct uplink_reply *r);
/*
 * One line for a log: "HTTP 401 unauthorized: message" (the API's error object, escaped)
 * for a reply, or why none came.
 */
void uplink_describe(const struct uplink_reply *r, char *buf, size_t size);

#endif
