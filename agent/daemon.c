#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent.h"
#include "alloc.h"
#include "enroll.h"
#include "uplink.h"
#include "json.h"
#include "log.h"
#include "proto.h"
#include "sandbox.h"
#include "timeutil.h"

#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		5000
/* Over wait_ms, for the controller's answer to travel (docs/api.md). */
#define POLL_SLACK_MS		10000
/*
 * Past the lease's end, for a request under way to come back before we give up on it; and
 * the shortest timeout a request gets.  The revert comes at most this late (REL-04).
 */
#define LEASE_SLACK_MS		250
/* A poll that holds nothing for us comes back no faster than this (a controller that does
 * not long-poll must not make the loop spin). */
#define MIN_POLL_INTERVAL_MS	200
#define REPORT_TIMEOUT_MS	10000
/* On the way out, reports still owed get one short try. */
#define FINAL_FLUSH_TIMEOUT_MS	3000
/* The same failure again is logged at most this often. */
#define FAIL_LOG_EVERY_MS	60000

#define EXIT_FAILED		1

/* What an order came to; becomes the body of POST /v1/agent/report. */
struct report {
	const char *status;		/* "done", "failed" or "refused". */
	char fault_id[GD_FAULT_ID_LEN + 1];	/* "": null. */
	const char *state;		/* NULL: null. */
	char error[GD_ORDER_ERROR_BYTES + 64];	/* "": null. */
	char *plan;			/* A dry run's text; owned. */
};

/* An order we have run, and its report until the controller has it. */
struct memo {
	char id[GD_MAX_ORDER_ID_BYTES + 1];
	char *report;			/* The report's JSON body. */
	bool pending;			/* Not yet accepted by the controller. */
};

struct daemon {
	const struct daemon_config *cfg;
	struct policy pol;
	struct uplink *cl;
	char host[256];			/* gethostname(): 64 bytes on Linux, 255 in DNS. */
	cJSON *tags;
	char cred[GD_MAX_TOKEN_BYTES + 1];	/* Secret: never logged. */
	int state_fd;
	uint64_t lease_ms;
	int64_t last_ok;		/* gd_mono_ms() of the last successful poll. */
	int64_t seq;			/* The last message's "seq" (next_seq()). */
	bool lapsed;			/* The lease ran out and everything was reverted. */
	int64_t backoff_ms;
	unsigned fails;			/* Failed polls in a row. */
	int64_t fail_logged;		/* gd_mono_ms() when a failure was last logged. */
	/* The last failure, or why the credential was refused. */
	char fail_msg[GD_ORDER_ERROR_BYTES + 64];
	struct memo memo[GD_MAX_REMEMBERED_ORDERS];
	size_t memo_next;		/* The slot the next order takes (the oldest). */
	struct gd_err err;		/* Scratch for decoding replies. */
};

static volatile sig_atomic_t stop_signo;

static void
on_stop(int signo)
{
	stop_signo = signo;
}

/*
 * SIGTERM and SIGINT only set a flag: the order under way is finished (a half-run inject
 * is reverted by the core itself, but a finished one is better), a poll under way is
 * abandoned, and the daemon exits 0.  Without SA_RESTART, so that a sleep ends at once.
 * SIGPIPE is ignored: a controller that hangs up is an error return, not our death.
 */
static void
install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0 || stop_signo != 0)
		return;
	ts = (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	/* A signal ends the sleep (EINTR): the loop looks at stop_signo next. */
	(void)nanosleep(&ts, NULL);
}

/* -------------------------------------------------------------------------------------- */
/* Talking to the controller.                                                             */

/* The request timeout: never past the lease's end while there is a lease to keep. */
static long
request_timeout(const struct daemon *d, long normal_ms)
{
	int64_t left;

	if (d->lapsed)
		return normal_ms;
	left = d->last_ok + (int64_t)d->lease_ms - gd_mono_ms() + LEASE_SLACK_MS;
	left = left < LEASE_SLACK_MS ? LEASE_SLACK_MS : left;
	return left < normal_ms ? (long)left : normal_ms;
}

/* POSTs o (consumed) to path; body and status in *rep.  Logs nothing. */
static int
post_json(struct daemon *d, const char *path, const char *bearer, cJSON *o, long timeout_ms,
    size_t max_reply, struct uplink_reply *rep)
{
	char *body = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	int r;

	cJSON_Delete(o);
	if (body == NULL) {
		memset(rep, 0, sizeof(*rep));
		(void)snprintf(rep->error, sizeof(rep->error), "out of memory");
		return -ENOMEM;
	}
	r = uplink_post(d->cl, path, bearer, body, timeout_ms, max_reply, rep);
	gd_free(body);
	return r;
}

static cJSON *
enroll_body(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject(), *caps = NULL, *tags = cJSON_Duplicate(d->tags, 1);
	struct agent a;
	int r;

	if ((r = agent_open(&a, &d->pol, d->cfg->state_dir)) == 0) {
		r = agent_capabilities_json(&a, &caps);
		agent_close(&a);
	}
	if (o == NULL || tags == NULL || r < 0 ||
	    cJSON_AddStringToObject(o, "host", d->host) == NULL ||
	    !cJSON_AddItemToObject(o, "tags", tags))
		goto fail;
	tags = NULL;	/* o owns it now. */
	if (!cJSON_AddItemToObject(o, "capabilities", caps))
		goto fail;
	return o;
fail:
	cJSON_Delete(tags);
	cJSON_Delete(caps);
	cJSON_Delete(o);
	return NULL;
}

/* Enrols with the token and keeps the credential (enroll.h). */
static int
enroll(struct daemon *d, const char *token)
{
	cJSON *o = enroll_body(d);
	char *body = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	int r;

	cJSON_Delete(o);
	if (body == NULL) {
		log_warnx("enrolment: cannot build the request (capabilities): out of memory or "
		    "the state dir cannot be opened");
		return -ENOMEM;
	}
	log_info("enrolling host=%s with the controller at %s", log_esc(d->host),
	    log_esc(d->cfg->controller));
	r = enroll_run(d->cl, token, body, &stop_signo, d->cred);
	gd_free(body);
	if (r < 0)
		return r;
	if ((r = enroll_credential_store(d->state_fd, d->cred)) < 0) {
		log_warnx("cannot store %s/credential: %s", log_esc(d->cfg->state_dir),
		    strerror(-r));
		return r;
	}
	log_info("enrolled host=%s; the credential is in %s/credential", log_esc(d->host),
	    log_esc(d->cfg->state_dir));
	return 0;
}

/* -------------------------------------------------------------------------------------- */
/* Reports.                                                                                */

static struct memo *
memo_find(struct daemon *d, const char *id)
{
	for (size_t i = 0; i < GD_MAX_REMEMBERED_ORDERS; i++)
		if (d->memo[i].report != NULL && strcmp(d->memo[i].id, id) == 0)
			return &d->memo[i];
	return NULL;
}

/* Remembers the report of order id (body is consumed); the oldest memory makes room. */
static struct memo *
memo_put(struct daemon *d, const char *id, char *body)
{
	struct memo *m = &d->memo[d->memo_next];

	d->memo_next = (d->memo_next + 1) % GD_MAX_REMEMBERED_ORDERS;
	if (m->report != NULL && m->pending)
		log_warnx("order=%s its report was never accepted and is forgotten now",
		    log_esc(m->id));
	gd_free(m->report);
	memcpy(m->id, id, strlen(id) + 1);
	m->report = body;
	m->pending = true;
	return m;
}

static void
memo_clear(struct daemon *d)
{
	for (size_t i = 0; i < GD_MAX_REMEMBERED_ORDERS; i++) {
		gd_free(d->memo[i].report);
		d->memo[i].report = NULL;
	}
}

/*
 * Every poll and report carries a number that only grows, across restarts too (the clock in
 * ms, or one more than the last): a message that reaches the controller late (a TCP
 * retransmission of a request given up on) is then known as older than what came since,
 * and its journal cannot undo a report made after it (docs/api.md).
 */
static int64_t
next_seq(struct daemon *d)
{
	int64_t now = gd_now_ms();

	d->seq = now > d->seq ? now : d->seq + 1;
	return d->seq;
}

static cJSON *
report_json(struct daemon *d, const char *order, const struct report *rep)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "host", d->host) == NULL ||
	    cJSON_AddNumberToObject(o, "seq", (double)next_seq(d)) == NULL ||
	    cJSON_AddStringToObject(o, "order", order) == NULL ||
	    cJSON_AddStringToObject(o, "status", rep->status) == NULL ||
	    (rep->fault_id[0] != '\0' ? cJSON_AddStringToObject(o, "fault_id", rep->fault_id) :
	    cJSON_AddNullToObject(o, "fault_id")) == NULL ||
	    (rep->state != NULL ? cJSON_AddStringToObject(o, "state", rep->state) :
	    cJSON_AddNullToObject(o, "state")) == NULL ||
	    (rep->error[0] != '\0' ? cJSON_AddStringToObject(o, "error", rep->error) :
	    cJSON_AddNullToObject(o, "error")) == NULL ||
	    (rep->plan != NULL ? cJSON_AddStringToObject(o, "plan", rep->plan) :
	    cJSON_AddNullToObject(o, "plan")) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * Sends m's report.  0 when the controller took it or refused it for good (a 4xx: sending
 * it again would not help); -EAGAIN to try again on the next loop; -EACCES when the
 * credential is refused.
 */
static int
send_report(struct daemon *d, struct memo *m, long timeout_ms)
{
	struct uplink_reply rep;
	char what[400];
	long status;
	int r;

	r = uplink_post(d->cl, "/v1/agent/report", d->cred, m->report,
	    request_timeout(d, timeout_ms), GD_MAX_SMALL_REPLY_BYTES, &rep);
	status = r == 0 ? rep.status : 0;
	if (status == 200) {
		m->pending = false;
		uplink_reply_clear(&rep);
		return 0;
	}
	uplink_describe(&rep, what, sizeof(what));
	uplink_reply_clear(&rep);
	if (status == 401 || status == 403) {
		(void)snprintf(d->fail_msg, sizeof(d->fail_msg), "%s", what);
		return -EACCES;
	}
	if (status >= 400 && status < 500) {
		log_warnx("order=%s the controller refused its report (%s), dropping it",
		    log_esc(m->id), what);
		m->pending = false;
		return 0;
	}
	/* Stopped by a signal: the flush on the way out tries again, quietly unless it fails. */
	if (r != -ECANCELED)
		log_warnx("order=%s report not delivered (%s), will retry", log_esc(m->id), what);
	return -EAGAIN;
}

/* Sends every report still owed, oldest first; stops at the first that cannot go. */
static int
flush_reports(struct daemon *d, long timeout_ms)
{
	int r;

	for (size_t k = 0; k < GD_MAX_REMEMBERED_ORDERS; k++) {
		struct memo *m = &d->memo[(d->memo_next + k) % GD_MAX_REMEMBERED_ORDERS];

		if (m->report == NULL || !m->pending)
			continue;
		if ((r = send_report(d, m, timeout_ms)) < 0)
			return r;
	}
	return 0;
}

/* -------------------------------------------------------------------------------------- */
/* Orders.                                                                                 */

/* The journal entry an order of the controller injected, if it is still there. */
static int
find_order_entry(struct agent *a, const char *order_id, struct jentry **ret)
{
	struct jentry **v = NULL;
	size_t n = 0;
	int r;

	if ((r = journal_load(a->j, &v, &n)) < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n && r == -ENOENT; i++)
		if (strcmp(v[i]->order_id, order_id) == 0) {
			*ret = v[i];
			v[i] = NULL;
			r = 0;
		}
	jentries_free(v, n);
	return r;
}

/* Refusals are the agent's decision (policy, limits, this kernel); failures happened. */
static const char *
status_of(int r)
{
	return r == -EPERM || r == -EMFILE || r == -EOPNOTSUPP || r == -EINVAL ? "refused" :
	    "failed";
}

static void
exec_inject(struct agent *a, const struct order *o, struct report *rep)
{
	struct jentry *e = NULL;
	bool dup = false;
	int r;

	/* Run before, then the agent restarted: the journal remembers what memory lost. */
	if (find_order_entry(a, o->id, &e) == 0) {
		memcpy(rep->fault_id, e->id, sizeof(rep->fault_id));
		rep->status = e->state == JSTATE_APPLIED ? "done" : "failed";
		rep->state = e->state == JSTATE_APPLIED ? "applied" : "revert_failed";
		if (e->error != NULL)
			(void)snprintf(rep->error, sizeof(rep->error), "%s", e->error);
		log_info("order=%s already applied as fault=%s (journal)", o->id, e->id);
		jentry_free(e);
		return;
	}
	r = agent_inject(a, &o->fault, o->ttl_ms, o->id, rep->fault_id, &dup, rep->error,
	    sizeof(rep->error));
	if (r == 0) {
		rep->status = "done";
		rep->state = "applied";
		if (dup)
			log_info("order=%s the same fault is already in effect as fault=%s", o->id,
			    rep->fault_id);
		return;
	}
	rep->status = status_of(r);
	rep->fault_id[0] = '\0';
	if (rep->error[0] == '\0')
		(void)snprintf(rep->error, sizeof(rep->error), "%s", strerror(-r));
	/* A failed inject undoes itself; if the undo failed too, the journal holds it. */
	if (find_order_entry(a, o->id, &e) == 0) {
		memcpy(rep->fault_id, e->id, sizeof(rep->fault_id));
		rep->state = "revert_failed";
		jentry_free(e);
	} else if (strcmp(rep->status, "failed") == 0) {
		rep->state = "reverted";
	}
}

static void
exec_revert(struct agent *a, const struct order *o, struct report *rep)
{
	struct jentry *e = NULL;
	int r;

	memcpy(rep->fault_id, o->fault_id, sizeof(rep->fault_id));
	r = agent_revert(a, o->fault_id, rep->error, sizeof(rep->error));
	if (r == 0 || r == -ENOENT) {
		/* Not in the journal: reverted already (its TTL, the lease, an operator). */
		if (r == -ENOENT)
			log_info("order=%s fault=%s is not in the journal: already reverted", o->id,
			    o->fault_id);
		rep->status = "done";
		rep->state = "reverted";
		rep->error[0] = '\0';
		return;
	}
	rep->status = status_of(r);
	if (journal_get(a->j, o->fault_id, &e) == 0) {
		rep->state = "revert_failed";
		jentry_free(e);
	}
}

static void
exec_dry_run(struct agent *a, const struct order *o, struct report *rep)
{
	int r;

	r = agent_dry_run(a, &o->fault, o->ttl_ms, &rep->plan, rep->error, sizeof(rep->error));
	if (r == 0) {
		rep->status = "done";
		rep->state = "planned";
		return;
	}
	rep->status = status_of(r);
	if (rep->error[0] == '\0')
		(void)snprintf(rep->error, sizeof(rep->error), "%s", strerror(-r));
}

/* Runs o through the agent core, with the journal locked for just this order. */
static void
exec_order(struct daemon *d, const struct order *o, struct report *rep)
{
	struct agent a;
	int r;

	if ((r = agent_open(&a, &d->pol, d->cfg->state_dir)) < 0) {
		rep->status = "failed";
		(void)snprintf(rep->error, sizeof(rep->error), "cannot open the state dir: %s",
		    strerror(-r));
		return;
	}
	switch (o->action) {
	case ORDER_INJECT:
		exec_inject(&a, o, rep);
		break;
	case ORDER_REVERT:
		exec_revert(&a, o, rep);
		break;
	case ORDER_DRY_RUN:
		exec_dry_run(&a, o, rep);
		break;
	}
	agent_close(&a);
}

/* Whether o may run: well-formed and not past its expiry (on this agent's clock). */
static bool
order_runnable(const struct order *o, struct report *rep)
{
	char exp[GD_TIME_MS_LEN], now[GD_TIME_MS_LEN];
	int64_t t = gd_now_ms();

	if (o->error[0] != '\0') {
		(void)snprintf(rep->error, sizeof(rep->error), "bad order: %s", o->error);
		return false;
	}
	if (o->expires_ms <= t) {
		gd_format_time_ms(o->expires_ms, exp);
		gd_format_time_ms(t, now);
		(void)snprintf(rep->error, sizeof(rep->error), "the order expired at %s; this "
		    "agent's clock says %s", exp, now);
		return false;
	}
	return true;
}

static void
log_report(const struct order *o, const struct report *rep)
{
	if (strcmp(rep->status, "done") == 0)
		log_info("order=%s action=%s run=%s fault=%s status=done state=%s", o->id,
		    order_action_name(o->action), o->run[0] != '\0' ? o->run : "-",
		    rep->fault_id[0] != '\0' ? rep->fault_id : "-", rep->state);
	else
		log_warnx("order=%s action=%s run=%s fault=%s status=%s state=%s: %s", o->id,
		    order_action_name(o->action), o->run[0] != '\0' ? o->run : "-",
		    rep->fault_id[0] != '\0' ? rep->fault_id : "-", rep->status,
		    rep->state != NULL ? rep->state : "-", log_esc(rep->error));
}

/*
 * One order: run it at most once (an order delivered again is answered from memory), then
 * report it.  -EACCES when the controller refuses our credential.
 */
static int
handle_order(struct daemon *d, const struct order *o, size_t index)
{
	struct report rep = { .status = "refused" };
	struct memo *m;
	cJSON *body;
	char *text;

	if (o->id[0] == '\0') {
		log_warnx("poll reply orders[%zu] cannot be reported (%s), skipping", index,
		    log_esc(o->error));
		return 0;
	}
	if ((m = memo_find(d, o->id)) != NULL) {
		log_info("order=%s delivered again: not run twice, reporting it again", o->id);
		m->pending = true;
		return send_report(d, m, REPORT_TIMEOUT_MS) == -EACCES ? -EACCES : 0;
	}
	if (order_runnable(o, &rep))
		exec_order(d, o, &rep);
	log_report(o, &rep);
	body = report_json(d, o->id, &rep);
	gd_free(rep.plan);
	text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	if (text == NULL) {
		log_warnx("order=%s out of memory for its report", o->id);
		return 0;
	}
	m = memo_put(d, o->id, text);
	return send_report(d, m, REPORT_TIMEOUT_MS) == -EACCES ? -EACCES : 0;
}

static int
run_orders(struct daemon *d, const struct poll_reply *pr)
{
	for (size_t i = 0; i < pr->norders; i++) {
		if (stop_signo != 0) {
			log_info("stopping: %zu orders of this poll are left for the next agent",
			    pr->norders - i);
			return 0;
		}
		if (handle_order(d, &pr->orders[i], i) == -EACCES)
			return -EACCES;
	}
	return 0;
}

/* -------------------------------------------------------------------------------------- */
/* The poll.                                                                               */

/* The journal as the controller should see it: id, order, state, expiry of each fault. */
static int
faults_json(struct agent *a, cJSON **ret)
{
	struct jentry **v = NULL;
	size_t n = 0;
	cJSON *arr = cJSON_CreateArray(), *f;
	char exp[GD_TIME_MS_LEN];
	int r;

	if (arr == NULL)
		return -ENOMEM;
	if ((r = journal_load(a->j, &v, &n)) < 0) {
		cJSON_Delete(arr);
		return r;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		gd_format_time_ms(v[i]->expires_ms, exp);
		if ((f = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, f) ||
		    cJSON_AddStringToObject(f, "id", v[i]->id) == NULL ||
		    (v[i]->order_id[0] != '\0' ? cJSON_AddStringToObject(f, "order",
		    v[i]->order_id) : cJSON_AddNullToObject(f, "order")) == NULL ||
		    cJSON_AddStringToObject(f, "state", jstate_name(v[i]->state)) == NULL ||
		    cJSON_AddStringToObject(f, "expires", exp) == NULL)
			r = -ENOMEM;
	}
	jentries_free(v, n);
	if (r < 0) {
		cJSON_Delete(arr);
		return r;
	}
	*ret = arr;
	return 0;
}

/* What every command does first (agent_sweep()), then the journal for the poll. */
static int
sweep(struct daemon *d, cJSON **ret_faults)
{
	size_t reverted = 0, failed = 0;
	struct agent a;
	int r;

	if ((r = agent_open(&a, &d->pol, d->cfg->state_dir)) < 0) {
		log_warnx("cannot open the state dir %s: %s", log_esc(d->cfg->state_dir),
		    strerror(-r));
		return r;
	}
	if (agent_sweep(&a, &reverted, &failed) < 0 || failed > 0)
		log_warnx("%zu expired faults could not be reverted; see `gameday-agent list`",
		    failed);
	if ((r = faults_json(&a, ret_faults)) < 0)
		log_warnx("cannot read the journal: %s", strerror(-r));
	agent_close(&a);
	return r;
}

/* The poll's body; faults is consumed. */
static cJSON *
poll_body(struct daemon *d, cJSON *faults, uint64_t wait_ms)
{
	cJSON *o = cJSON_CreateObject(), *tags = cJSON_Duplicate(d->tags, 1);
	bool ok = o != NULL && cJSON_AddStringToObject(o, "host", d->host) != NULL &&
	    tags != NULL && cJSON_AddItemToObject(o, "tags", tags);

	if (!ok)
		cJSON_Delete(tags);	/* o does not hold it. */
	/* faults goes in last: when ok is false here, o does not hold it either. */
	ok = ok && cJSON_AddNumberToObject(o, "lease_ms", (double)d->lease_ms) != NULL &&
	    cJSON_AddNumberToObject(o, "seq", (double)next_seq(d)) != NULL &&
	    cJSON_AddNumberToObject(o, "wait_ms", (double)wait_ms) != NULL &&
	    cJSON_AddItemToObject(o, "faults", faults);
	if (!ok) {
		cJSON_Delete(faults);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A failed poll, logged when it is news: the first, a new reason, or once a minute. */
static void
poll_failed(struct daemon *d, const char *why)
{
	int64_t now = gd_mono_ms();

	d->fails++;
	if (d->fails == 1 || strcmp(why, d->fail_msg) != 0 ||
	    now - d->fail_logged >= FAIL_LOG_EVERY_MS) {
		log_warnx("poll failed: %s (%u in a row)", why, d->fails);
		(void)snprintf(d->fail_msg, sizeof(d->fail_msg), "%s", why);
		d->fail_logged = now;
	}
}

static void
poll_ok(struct daemon *d)
{
	if (d->lapsed)
		log_info("the controller answers again, after %llds", (long long)(gd_mono_ms() -
		    d->last_ok) / 1000);
	else if (d->fails > 0)
		log_info("the controller answers again, after %u failed polls", d->fails);
	d->last_ok = gd_mono_ms();
	d->lapsed = false;
	d->fails = 0;
	d->fail_msg[0] = '\0';
	d->backoff_ms = BACKOFF_MIN_MS;
}

/* Decodes a 200 reply; a reply that does not decode is a failed poll. */
static int
poll_decode(struct daemon *d, const struct uplink_reply *rep, struct poll_reply **ret)
{
	char why[GD_MAX_ERROR_MSG + GD_MAX_JSON_PATH + 64];
	int r;

	gd_err_init(&d->err);
	if (rep->body == NULL) {
		poll_failed(d, "the reply is empty");
		return -EBADMSG;
	}
	if ((r = poll_reply_parse(rep->body, rep->len, ret, &d->err)) == 0)
		return 0;
	if (r == -ENOMEM || d->err.n == 0)
		(void)snprintf(why, sizeof(why), "cannot decode the reply: %s", strerror(-r));
	else
		(void)snprintf(why, sizeof(why), "bad reply: %s: %s", d->err.items[0].path,
		    d->err.items[0].msg);
	poll_failed(d, why);
	return -EBADMSG;
}

/*
 * One poll.  0 with *ret on success (HTTP 200 and a reply that decodes); -EACCES when the
 * credential is refused; -ECANCELED on a signal; another error for a failed poll (logged).
 */
static int
poll_once(struct daemon *d, cJSON *faults, struct poll_reply **ret)
{
	uint64_t wait_ms = d->lease_ms / 3;
	int64_t left = d->last_ok + (int64_t)d->lease_ms - gd_mono_ms();
	struct uplink_reply rep;
	char what[400];
	int r;

	/* Near the lease's end, ask for a short wait, so the answer comes back in time. */
	if (!d->lapsed && (int64_t)wait_ms > left / 2)
		wait_ms = left > 0 ? (uint64_t)left / 2 : 0;
	r = post_json(d, "/v1/agent/poll", d->cred, poll_body(d, faults, wait_ms),
	    request_timeout(d, (long)wait_ms + POLL_SLACK_MS), GD_MAX_POLL_REPLY_BYTES, &rep);
	if (r == 0 && rep.status == 200) {
		r = poll_decode(d, &rep, ret);
	} else if (r == 0 && (rep.status == 401 || rep.status == 403)) {
		uplink_describe(&rep, d->fail_msg, sizeof(d->fail_msg));
		r = -EACCES;
	} else if (r != -ECANCELED) {
		uplink_describe(&rep, what, sizeof(what));
		poll_failed(d, what);
		r = r == 0 ? -EPROTO : r;
	}
	uplink_reply_clear(&rep);
	return r;
}

/* -------------------------------------------------------------------------------------- */
/* The lease and the loop.                                                                 */

static void
revert_everything(struct daemon *d, const char *reason)
{
	struct jentry **v = NULL;
	size_t n = 0, failed = 0;
	struct agent a;
	int r;

	if ((r = agent_open(&a, &d->pol, d->cfg->state_dir)) < 0) {
		log_warnx("%s: cannot open the state dir to revert: %s", reason, strerror(-r));
		return;
	}
	/* How many there were, for the log line an operator will look for. */
	if (journal_load(a.j, &v, &n) == 0)
		jentries_free(v, n);
	r = agent_revert_all(&a, &failed);
	agent_close(&a);
	if (r < 0)
		log_warnx("%s: %zu of %zu faults could not be reverted; they are retried on "
		    "every loop", reason, failed, n);
	else
		log_warnx("%s: %zu faults reverted", reason, n);
}

/* DESIGN §7.2: no successful poll for the lease: revert everything, once per outage. */
static void
lease_check(struct daemon *d)
{
	char reason[128];

	if (d->lapsed || gd_mono_ms() - d->last_ok < (int64_t)d->lease_ms)
		return;
	(void)snprintf(reason, sizeof(reason), "lease expired: no successful poll for %llu ms",
	    (unsigned long long)d->lease_ms);
	revert_everything(d, reason);
	d->lapsed = true;
}

/* Waits before the next try: the backoff, but never past the lease's end. */
static void
backoff(struct daemon *d)
{
	int64_t wait = d->backoff_ms;
	int64_t left = d->last_ok + (int64_t)d->lease_ms - gd_mono_ms();

	if (!d->lapsed && left < wait)
		wait = left > 0 ? left : 0;
	sleep_ms(wait);
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
}

/*
 * The credential is refused: another enrolment of this host replaced it, or it was revoked.
 * Nobody can halt our faults any more, which is what the lease guards against: revert them
 * now rather than leave them to their TTLs, and stop (exit 1) instead of polling in vain.
 */
static int
credential_refused(struct daemon *d)
{
	log_warnx("the controller refuses this agent's credential (%s); to enrol again, remove "
	    "%s/credential and restart with a new --token-file", d->fail_msg,
	    log_esc(d->cfg->state_dir));
	revert_everything(d, "credential refused");
	return EXIT_FAILED;
}

/*
 * One turn: sweep, send the reports still owed, poll.  0 with *ret after a successful
 * poll; -EACCES when the credential is refused; another error for a failed turn.
 */
static int
turn(struct daemon *d, struct poll_reply **ret)
{
	cJSON *faults = NULL;
	int r;

	if ((r = sweep(d, &faults)) < 0)
		return r;	/* No poll: it would show a journal we cannot read. */
	if (flush_reports(d, REPORT_TIMEOUT_MS) == -EACCES) {
		cJSON_Delete(faults);
		return -EACCES;
	}
	/* Reports owed to a silent controller may have used up the lease: revert now. */
	lease_check(d);
	return poll_once(d, faults, ret);
}

static int
loop(struct daemon *d)
{
	struct poll_reply *pr = NULL;
	int64_t started;
	int r;

	d->last_ok = gd_mono_ms();	/* The lease counts from start. */
	d->backoff_ms = BACKOFF_MIN_MS;
	while (stop_signo == 0) {
		lease_check(d);	/* The lease is time, not failures: look before each turn. */
		started = gd_mono_ms();
		if ((r = turn(d, &pr)) == 0) {
			poll_ok(d);
			r = run_orders(d, pr);
			if (pr->norders == 0)
				sleep_ms(started + MIN_POLL_INTERVAL_MS - gd_mono_ms());
			pr = poll_reply_free(pr);
		}
		if (r == -EACCES)
			return credential_refused(d);
		if (r == 0 || r == -ECANCELED)
			continue;
		lease_check(d);
		backoff(d);
	}
	return 0;
}

/* -------------------------------------------------------------------------------------- */
/* Start and stop.                                                                         */

/* The uplink to the controller, its addresses exempt from every network fault (DESIGN §7.3). */
static int
setup_uplink(struct daemon *d)
{
	char why[300];
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("cannot initialise libcurl");
		return -ENOMEM;
	}
	if ((r = uplink_new(d->cfg->controller, GD_MAX_EXEMPT_HOSTS - d->pol.exempt.nhosts,
	    &d->cl, why, sizeof(why))) < 0 || (r = uplink_exempt(d->cl, &d->pol, why,
	    sizeof(why))) < 0) {
		log_warnx("--controller %s: %s", log_esc(d->cfg->controller), why);
		return r;
	}
	uplink_set_abort(d->cl, &stop_signo, 1);
	return 0;
}

/* The state dir (created and checked as for every command) and a descriptor of it. */
static int
setup_state(struct daemon *d)
{
	struct agent a;
	int r;

	if ((r = agent_open(&a, &d->pol, d->cfg->state_dir)) < 0) {
		log_warnx("cannot open the state dir %s: %s", log_esc(d->cfg->state_dir),
		    r == -EACCES ? "it must belong to this user and not be writable by group or "
		    "others" : strerror(-r));
		return r;
	}
	agent_close(&a);
	if ((d->state_fd = open(d->cfg->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		r = -errno;
		log_warnx("cannot open the state dir %s: %s", log_esc(d->cfg->state_dir),
		    strerror(-r));
		return r;
	}
	return 0;
}

static int
setup(struct daemon *d, const struct daemon_config *cfg, struct policy *pol)
{
	const char *why = NULL;
	int r;

	d->cfg = cfg;
	d->state_fd = -1;
	d->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : GD_DEFAULT_LEASE_MS;
	if (gethostname(d->host, sizeof(d->host) - 1) == -1 || d->host[0] == '\0') {
		log_warnx("cannot read this host's name");
		return -EINVAL;
	}
	if ((r = enroll_tags_parse(cfg->tags, &d->tags, &why)) < 0) {
		log_warnx("--tags: %s", r == -ENOMEM ? strerror(ENOMEM) : why);
		return r;
	}
	d->pol = *pol;
	if ((r = setup_uplink(d)) < 0 || (r = setup_state(d)) < 0)
		return r;
	/* The local policy as it is now (with the controller exempt) is what orders meet. */
	*pol = d->pol;
	return 0;
}

static void
teardown(struct daemon *d)
{
	memo_clear(d);
	d->cl = uplink_free(d->cl);
	cJSON_Delete(d->tags);
	if (d->state_fd != -1)
		close(d->state_fd);
	explicit_bzero(d->cred, sizeof(d->cred));
	curl_global_cleanup();
}

/* A stored credential, or the token to enrol with; read before the sandbox is entered. */
static int
load_secrets(struct daemon *d, char token[GD_MAX_TOKEN_BYTES + 1])
{
	int r;

	if ((r = enroll_credential_read(d->state_fd, d->cfg->state_dir, d->cred)) != -ENOENT)
		return r;
	if (d->cfg->token_file == NULL) {
		log_warnx("this agent has not enrolled (no %s/credential) and no --token-file "
		    "was given", log_esc(d->cfg->state_dir));
		return -ENOENT;
	}
	return enroll_token_read(d->cfg->token_file, token);
}

static int
run(struct daemon *d)
{
	char token[GD_MAX_TOKEN_BYTES + 1] = "";
	int r;

	if ((r = load_secrets(d, token)) < 0)
		return EXIT_FAILED;
	if ((r = sandbox_enter(SANDBOX_AGENT_DAEMON)) < 0) {
		log_warnx("cannot enter the sandbox: %s", strerror(-r));
		explicit_bzero(token, sizeof(token));
		return EXIT_FAILED;
	}
	if (token[0] != '\0') {
		r = enroll(d, token);
		explicit_bzero(token, sizeof(token));
		if (r == -ECANCELED)
			return 0;
		if (r < 0)
			return EXIT_FAILED;
	}
	log_info("polling the controller at %s (%s) host=%s lease=%llums", log_esc(
	    d->cfg->controller), uplink_addrs(d->cl), log_esc(d->host),
	    (unsigned long long)d->lease_ms);
	if ((r = loop(d)) != 0)
		return r;
	/*
	 * Stopped by a signal.  The faults are left to their watchdogs, which hold their TTLs
	 * (the run's end plus a grace): a restart of the agent, for an upgrade or by the
	 * service manager, must not end a Game Day, and the controller still reverts through
	 * the next agent.  What is owed to the controller gets one short try.
	 */
	log_info("stopping on signal %d; faults stay with their watchdogs until their TTLs",
	    (int)stop_signo);
	uplink_set_abort(d->cl, &stop_signo, 0);
	(void)flush_reports(d, FINAL_FLUSH_TIMEOUT_MS);
	return 0;
}

int
daemon_main(const struct daemon_config *cfg, struct policy *pol)
{
	struct daemon *d;
	int r;

	if ((d = gd_calloc(1, sizeof(*d))) == NULL) {
		log_warnx("out of memory");
		return EXIT_FAILED;
	}
	install_signals();
	r = setup(d, cfg, pol) < 0 ? EXIT_FAILED : run(d);
	teardown(d);
	gd_free(d);
	return r;
}
