/*
 * The controller's probe runner: the requests behind a playbook's steady_state.probes
 * (DESIGN §2), many in flight at once on one thread with libcurl's multi interface.  The
 * SLA guard starts a request per probe tick and gets one struct probe_result back for it,
 * whatever happened: an answer, a refusal, a timeout, a connection error.
 *
 * What a probe may do is bounded, because its URL comes from a playbook and its answer
 * from a service under test: http and https only (redirects included, so a Location to
 * file:// is an error sample, never a read), at most PROBE_MAX_REDIRS redirects for http
 * probes and none for prometheus ones, the probe's timeout for the whole transfer, at most
 * PROBE_MAX_BODY bytes of body and PROBE_MAX_HEADER_BYTES of headers, no proxy from the
 * environment, no cookies, no compressed bodies.
 *
 * A prober is used by one thread at a time; only prober_wakeup() may be called from others.
 */
#ifndef GD_PROBE_H
#define GD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "playbook.h"

/* A health page or a Prometheus reply is a few KiB; 1 MiB is far beyond either. */
#define PROBE_MAX_BODY		(1024 * 1024)
/* All response headers of one request, redirects included. */
#define PROBE_MAX_HEADER_BYTES	(64 * 1024)
/* Redirects an http probe follows; a prometheus probe follows none. */
#define PROBE_MAX_REDIRS	5
#define PROBE_USER_AGENT	"gameday-probe/1"

struct probe_result {
	bool ok;		/* http: a status in expect_status; prometheus: a finite value. */
	bool has_value;		/* Only when ok. */
	double value;		/* http: total time in ms; prometheus: the query's value. */
	int status;		/* The last HTTP status, 0 when none. */
	char error[256];	/* Why !ok, printable ASCII (anything else is \xNN); "" when ok. */
};

struct prober;

/* On success the caller owns *ret (prober_free()). */
int prober_new(struct prober **ret);
/* Aborts the transfers in flight (no callback for them).  NULL-safe; returns NULL. */
struct prober *prober_free(struct prober *pr);

/*
 * Starts one request for probe p.  Its url, query, timeout and expect_status are copied,
 * so p may be freed afterwards.  tag is the caller's cookie, handed back with the result.
 * Returns 0, -EINVAL (p is not a valid probe) or -ENOMEM.
 */
int prober_start(struct prober *pr, const struct probe *p, uint64_t tag);
/* Cancels every request in flight with this tag; there will be no callback for them. */
void prober_cancel(struct prober *pr, uint64_t tag);

/*
 * Drives the transfers for at most wait_ms (less when one finishes or prober_wakeup() is
 * called), calling done(tag, result, arg) once for each request that finished, failures
 * and timeouts included.  res is borrowed for the call.  done may call prober_start() and
 * prober_cancel(), not prober_free().  Returns 0, -ENOMEM or -EIO (libcurl failed).
 */
int prober_run(struct prober *pr, int wait_ms,
    void (*done)(uint64_t tag, const struct probe_result *res, void *arg), void *arg);
/* Wakes a prober_run() waiting in another thread; safe from any thread. */
void prober_wakeup(struct prober *pr);
/* Requests started and not yet finished or cancelled. */
size_t prober_inflight(const struct prober *pr);

/*
 * Decodes a Prometheus /api/v1/query reply of at most PROBE_MAX_BODY bytes: a scalar or a
 * vector of exactly one sample, whose value is a finite number.  Returns 0 and *ret_value;
 * -EINVAL with the reason in why (printable ASCII, cut to whylen), e.g. "the query returned
 * no samples" or "Prometheus error bad_data: ..."; or -ENOMEM.
 */
int probe_prom_decode(const char *body, size_t len, double *ret_value, char *why,
    size_t whylen);

#endif
