/*
 * SSH dispatch and rescue (dispatch.h): one thread looks for work, a worker thread per SSH
 * session does it.  The store is the only memory: an order is marked delivered before its
 * session starts, and a controller restarted in between hands it out again (an inject is
 * idempotent on the agent: the same fault already in effect is not applied twice).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmsg.h"
#include "alloc.h"
#include "api.h"
#include "dispatch.h"
#include "log.h"
#include "runs.h"
#include "ssh.h"
#include "timeutil.h"

#define RESCUE_ACTOR	"scheduler"
#define MAX_MARKS	256	/* Rescues remembered (run, host), for their retry time. */

struct mark {
	char run[32], host[256];
	int64_t next;		/* Monotonic ms before which it is not tried again. */
};

struct dispatch {
	struct ctl *c;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kick;
	unsigned workers;
	int64_t rescue_checked;
	struct mark marks[MAX_MARKS];
	size_t nmarks, next_mark;
};

enum job_kind { JOB_ORDER, JOB_RESCUE };

struct job {
	struct dispatch *d;
	enum job_kind kind;
	const struct ssh_host *sh;
	char order[32], run[32], action[16], fault_id[80];
	char *fault;		/* The order's fault, JSON (gd_free()). */
	int64_t ttl_ms;
};

static bool
is_hex(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n > 0 && n <= 64 && s[n] == '\0';
}

/* The first line of text, control characters replaced, cut to len. */
static void
first_line(const char *text, char *buf, size_t len)
{
	size_t n = strcspn(text, "\n");

	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
	buf[n] = '\0';
}

static void
job_free(struct job *j)
{
	gd_free(j->fault);
	gd_free(j);
}

/* An order over SSH, its outcome recorded as its report. */
static void
run_order(struct job *j)
{
	const struct ssh_host *sh = j->sh;
	struct ssh_result res;
	struct agent_report rep = { .host = sh->host, .order = j->order, .status = "failed" };
	char why[512], err[2048], ttl[32], actor[300], id[80], line[300];
	const char *argv[10];
	const char *in = "";
	size_t k = 0;
	int r;

	argv[k++] = sh->agent;
	argv[k++] = "--state-dir";
	argv[k++] = sh->state_dir;
	if (strcmp(j->action, "revert") == 0) {
		argv[k++] = "revert";
		argv[k++] = j->fault_id;
	} else {
		argv[k++] = "inject";
		if (strcmp(j->action, "dry_run") == 0)
			argv[k++] = "--dry-run";
		argv[k++] = "--fault";
		argv[k++] = "-";
		if (strcmp(j->action, "inject") == 0) {
			(void)snprintf(ttl, sizeof(ttl), "%lldms", (long long)j->ttl_ms);
			argv[k++] = "--ttl";
			argv[k++] = ttl;
		}
		in = j->fault != NULL ? j->fault : "";
	}
	argv[k] = NULL;
	if (strcmp(j->action, "revert") == 0 && !is_hex(j->fault_id)) {
		(void)snprintf(err, sizeof(err), "over SSH: the fault id to revert is not one the "
		    "agent printed");
		rep.error = err;
		goto record;
	}
	r = ssh_run(&sh->t, argv, in, strlen(in), DISPATCH_TIMEOUT_MS, &res, why, sizeof(why));
	if (r < 0) {
		(void)snprintf(err, sizeof(err), "over SSH to %s: %s", sh->t.address, why);
		rep.error = err;
	} else if (res.exit_status != 0) {
		first_line(res.err, line, sizeof(line));
		(void)snprintf(err, sizeof(err), "over SSH: %s exited %d: %s", sh->agent,
		    res.exit_status, line[0] != '\0' ? line : "(no message)");
		rep.error = err;
	} else if (strcmp(j->action, "inject") == 0) {
		first_line(res.out, id, sizeof(id));
		if (is_hex(id)) {
			rep.status = "done";
			rep.state = "applied";
			rep.fault_id = id;
		} else {
			(void)snprintf(err, sizeof(err), "over SSH: the agent printed no fault id");
			rep.error = err;
		}
	} else if (strcmp(j->action, "dry_run") == 0) {
		rep.status = "done";
		rep.plan = res.out;
	} else {
		rep.status = "done";
		rep.state = "reverted";
		rep.fault_id = j->fault_id;
	}
record:
	(void)snprintf(actor, sizeof(actor), "agent:%s", sh->host);
	if (fleet_record_report(j->d->c, &rep, actor) < 0)
		log_warnx("ssh %s: order %s: its outcome could not be recorded", sh->host,
		    j->order);
}

static void
remember(struct dispatch *d, const char *run, const char *host, int64_t next)
{
	struct mark *m = NULL;

	(void)pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->nmarks && m == NULL; i++)
		if (strcmp(d->marks[i].run, run) == 0 && strcmp(d->marks[i].host, host) == 0)
			m = &d->marks[i];
	if (m == NULL) {
		if (d->nmarks < MAX_MARKS)
			m = &d->marks[d->nmarks++];
		else
			m = &d->marks[d->next_mark++ % MAX_MARKS];
		(void)snprintf(m->run, sizeof(m->run), "%s", run);
		(void)snprintf(m->host, sizeof(m->host), "%s", host);
	}
	m->next = next;
	(void)pthread_mutex_unlock(&d->lock);
}

/* The agent on the host does not answer: `revert --all` over SSH, and say so. */
static void
run_rescue(struct job *j)
{
	const struct ssh_host *sh = j->sh;
	struct ctl *c = j->d->c;
	const char *argv[] = { sh->agent, "--state-dir", sh->state_dir, "revert", "--all", NULL };
	struct ssh_result res;
	char why[1536], line[300], text[2048];
	struct tx t;
	cJSON *det;
	int r;

	log_warnx("run %s: the agent on %s has not answered its revert for %d ms: reverting "
	    "over SSH (%s)", j->run, sh->host, DISPATCH_RESCUE_AFTER_MS, sh->t.address);
	r = ssh_run(&sh->t, argv, "", 0, DISPATCH_TIMEOUT_MS, &res, why, sizeof(why));
	if (r == 0 && res.exit_status != 0) {
		first_line(res.err, line, sizeof(line));
		(void)snprintf(why, sizeof(why), "%s exited %d: %s", sh->agent, res.exit_status,
		    line);
	}
	det = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(det, "host", sh->host);
	(void)cJSON_AddStringToObject(det, "address", sh->t.address);
	(void)cJSON_AddStringToObject(det, "command", "gameday-agent revert --all");
	if (r == 0) {
		(void)cJSON_AddNumberToObject(det, "exit_status", res.exit_status);
		first_line(res.err, line, sizeof(line));
		(void)cJSON_AddStringToObject(det, "stderr", line);
	}
	if (tx_begin(c, &t) < 0) {
		cJSON_Delete(det);
		remember(j->d, j->run, sh->host, gd_mono_ms() + DISPATCH_RESCUE_RETRY_MS);
		return;
	}
	if (r < 0 || res.exit_status != 0) {
		(void)cJSON_AddStringToObject(det, "error", why);
		(void)snprintf(text, sizeof(text), "rescue over SSH failed: %s; retried in %d s",
		    why, DISPATCH_RESCUE_RETRY_MS / 1000);
		(void)run_event(&t, j->run, "fault", sh->host, RESCUE_ACTOR, text);
		tx_audit(&t, RESCUE_ACTOR, "ssh.rescue_failed", j->run, det);
		remember(j->d, j->run, sh->host, gd_mono_ms() + DISPATCH_RESCUE_RETRY_MS);
	} else {
		/* revert --all reverted everything the host's journal held, every run's. */
		if (store_exec(c->store, "UPDATE run_faults SET state = 'reverted', error = NULL "
		    "WHERE host = ? AND state IN ('applied', 'reverting')", 1, sh->host) < 0 ||
		    store_exec(c->store, "UPDATE orders SET state = 'done', result = 'rescued' "
		    "WHERE host = ? AND action = 'revert' AND state IN ('pending', 'delivered')", 1,
		    sh->host) < 0)
			t.err = -EIO;
		(void)snprintf(text, sizeof(text), "reverted by the controller over SSH (%s: "
		    "gameday-agent revert --all): the agent did not answer its revert within %d ms",
		    sh->t.address, DISPATCH_RESCUE_AFTER_MS);
		(void)run_event(&t, j->run, "fault", sh->host, RESCUE_ACTOR, text);
		tx_audit(&t, RESCUE_ACTOR, "ssh.rescue", j->run, det);
	}
	if (tx_commit(&t) < 0)
		remember(j->d, j->run, sh->host, gd_mono_ms() + DISPATCH_RESCUE_RETRY_MS);
	ctl_kick(c);
}

static void *
worker_main(void *arg)
{
	struct job *j = arg;
	struct dispatch *d = j->d;

	if (j->kind == JOB_ORDER)
		run_order(j);
	else
		run_rescue(j);
	job_free(j);
	(void)pthread_mutex_lock(&d->lock);
	d->workers--;
	(void)pthread_cond_broadcast(&d->cond);
	(void)pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Starts a worker for j (consumed); false when none can start now. */
static bool
spawn(struct dispatch *d, struct job *j)
{
	pthread_attr_t attr;
	pthread_t t;
	bool ok;

	(void)pthread_mutex_lock(&d->lock);
	ok = d->workers < DISPATCH_MAX_WORKERS && !d->stop;
	if (ok)
		d->workers++;
	(void)pthread_mutex_unlock(&d->lock);
	if (!ok) {
		job_free(j);
		return false;
	}
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, worker_main, j) != 0) {
		(void)pthread_mutex_lock(&d->lock);
		d->workers--;
		(void)pthread_mutex_unlock(&d->lock);
		job_free(j);
		ok = false;
	}
	(void)pthread_attr_destroy(&attr);
	return ok;
}

static unsigned
free_workers(struct dispatch *d)
{
	unsigned n;

	(void)pthread_mutex_lock(&d->lock);
	n = DISPATCH_MAX_WORKERS - d->workers;
	(void)pthread_mutex_unlock(&d->lock);
	return n;
}

/* Orders waiting for SSH hosts: each marked delivered, then handed to a worker. */
static void
pick_orders(struct dispatch *d)
{
	struct ctl *c = d->c;
	struct job *jobs[DISPATCH_MAX_WORKERS];
	unsigned n = 0, room = free_workers(d);
	char now[24];
	sqlite3_stmt *st;

	if (room == 0 || store_begin_light(c->store) < 0)
		return;
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	if (sqlite3_prepare_v2(c->store->db, "SELECT o.id, o.host, o.run, o.action, o.fault, "
	    "o.ttl_ms, coalesce(o.fault_id, '') FROM orders o JOIN agents a ON a.host = o.host "
	    "WHERE a.via = 'ssh' AND o.state = 'pending' AND o.expires > ?1 AND (o.action = "
	    "'revert' OR EXISTS (SELECT 1 FROM runs r WHERE r.id = o.run AND r.state IN "
	    "('preflight', 'injecting'))) ORDER BY o.created LIMIT ?2", -1, &st, NULL) !=
	    SQLITE_OK) {
		(void)store_fail(c->store, "ssh orders");
		store_rollback(c->store);
		return;
	}
	(void)sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int(st, 2, (int)room);
	while (n < room && sqlite3_step(st) == SQLITE_ROW) {
		const struct ssh_host *sh = config_ssh_host(&c->cfg, col_text(st, 1));
		struct job *j;

		if (sh == NULL)
			continue;	/* No longer configured: left for an agent that enrols. */
		if ((j = gd_calloc(1, sizeof(*j))) == NULL)
			break;
		j->d = d;
		j->kind = JOB_ORDER;
		j->sh = sh;
		(void)snprintf(j->order, sizeof(j->order), "%s", col_text(st, 0));
		(void)snprintf(j->run, sizeof(j->run), "%s", col_text(st, 2));
		(void)snprintf(j->action, sizeof(j->action), "%s", col_text(st, 3));
		j->fault = gd_strdup(col_text(st, 4));
		j->ttl_ms = sqlite3_column_int64(st, 5);
		(void)snprintf(j->fault_id, sizeof(j->fault_id), "%s", col_text(st, 6));
		if (store_exec(c->store, "UPDATE orders SET state = 'delivered', delivered = "
		    "coalesce(delivered, ?) WHERE id = ?", 2, now, j->order) < 0) {
			job_free(j);
			break;
		}
		jobs[n++] = j;
	}
	sqlite3_finalize(st);
	if (store_commit(c->store) < 0) {
		for (unsigned i = 0; i < n; i++)
			job_free(jobs[i]);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		(void)spawn(d, jobs[i]);
}

static bool
rescue_due(struct dispatch *d, const char *run, const char *host, int64_t now)
{
	bool due = true;

	(void)pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->nmarks; i++)
		if (strcmp(d->marks[i].run, run) == 0 && strcmp(d->marks[i].host, host) == 0)
			due = d->marks[i].next <= now;
	(void)pthread_mutex_unlock(&d->lock);
	return due;
}

/* Polling agents with a revert unanswered too long, during a rollback. */
static void
check_rescues(struct dispatch *d)
{
	struct ctl *c = d->c;
	struct { char run[32], host[256]; } v[32];
	size_t n = 0;
	int64_t cutoff = gd_now_ms() - DISPATCH_RESCUE_AFTER_MS, now = gd_mono_ms();
	sqlite3_stmt *st;

	if (c->cfg.nssh_hosts == 0)
		return;
	(void)pthread_mutex_lock(&c->store->lock);
	if (sqlite3_prepare_v2(c->store->db, "SELECT DISTINCT f.run, f.host FROM run_faults f "
	    "JOIN agents a ON a.host = f.host AND a.via = 'poll' JOIN runs r ON r.id = f.run "
	    "WHERE f.state = 'reverting' AND r.state = 'rolling_back' AND EXISTS (SELECT 1 FROM "
	    "orders o WHERE o.run = f.run AND o.host = f.host AND o.idx = f.idx AND o.action = "
	    "'revert' AND o.state IN ('pending', 'delivered') AND o.created <= ?) LIMIT 32", -1,
	    &st, NULL) == SQLITE_OK) {
		(void)sqlite3_bind_int64(st, 1, cutoff);
		while (n < 32 && sqlite3_step(st) == SQLITE_ROW) {
			(void)snprintf(v[n].run, sizeof(v[n].run), "%s", col_text(st, 0));
			(void)snprintf(v[n].host, sizeof(v[n].host), "%s", col_text(st, 1));
			n++;
		}
		sqlite3_finalize(st);
	}
	(void)pthread_mutex_unlock(&c->store->lock);
	for (size_t i = 0; i < n; i++) {
		const struct ssh_host *sh = config_ssh_host(&c->cfg, v[i].host);
		struct job *j;

		if (sh == NULL || !rescue_due(d, v[i].run, v[i].host, now))
			continue;
		if ((j = gd_calloc(1, sizeof(*j))) == NULL)
			return;
		j->d = d;
		j->kind = JOB_RESCUE;
		j->sh = sh;
		(void)snprintf(j->run, sizeof(j->run), "%s", v[i].run);
		/* Not again until this one has had its chance (its outcome moves the mark). */
		remember(d, v[i].run, v[i].host, now + DISPATCH_TIMEOUT_MS + 1000);
		(void)spawn(d, j);
	}
}

static void *
dispatch_main(void *arg)
{
	struct dispatch *d = arg;

	(void)pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		struct timespec ts;

		if (!d->kick) {
			(void)clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			(void)pthread_cond_timedwait(&d->cond, &d->lock, &ts);
		}
		d->kick = false;
		if (d->stop)
			break;
		(void)pthread_mutex_unlock(&d->lock);
		pick_orders(d);
		if (gd_mono_ms() - d->rescue_checked >= 1000) {
			d->rescue_checked = gd_mono_ms();
			check_rescues(d);
		}
		(void)pthread_mutex_lock(&d->lock);
	}
	(void)pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* The config's dispatch hosts as agents of kind "ssh"; orders caught mid-session again. */
static int
register_hosts(struct ctl *c)
{
	char now[24];
	struct tx t;

	if (c->cfg.nssh_hosts == 0)
		return 0;
	if (tx_begin(c, &t) < 0)
		return -EIO;
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	for (size_t i = 0; i < c->cfg.nssh_hosts && t.err == 0; i++) {
		const struct ssh_host *sh = &c->cfg.ssh_hosts[i];
		char via[16] = "";
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(c->store->db, "SELECT via FROM agents WHERE host = ?", -1,
		    &st, NULL) == SQLITE_OK) {
			(void)sqlite3_bind_text(st, 1, sh->host, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW)
				(void)snprintf(via, sizeof(via), "%s", col_text(st, 0));
			sqlite3_finalize(st);
		}
		if (!sh->dispatch || strcmp(via, "poll") == 0) {
			if (sh->dispatch)
				log_warnx("ssh_hosts: %s has an enrolled agent: its SSH entry "
				    "serves rescues only", sh->host);
			continue;
		}
		if (store_exec(c->store, "INSERT INTO agents (host, cred_hash, tags, "
		    "capabilities, enrolled, last_seen, lease_ms, via) VALUES (?1, 'ssh:' || ?1, "
		    "?2, '{}', ?3, ?3, 0, 'ssh') ON CONFLICT (host) DO UPDATE SET tags = ?2, "
		    "last_seen = ?3, state = 'ok'", 3, sh->host, sh->tags, now) < 0)
			t.err = -EIO;
		if (via[0] == '\0') {
			cJSON *det = cJSON_CreateObject();

			(void)cJSON_AddStringToObject(det, "address", sh->t.address);
			(void)cJSON_AddNumberToObject(det, "port", sh->t.port);
			(void)cJSON_AddStringToObject(det, "user", sh->t.user);
			tx_audit(&t, "gamedayd", "agent.ssh", sh->host, det);
		}
	}
	if (store_exec(c->store, "UPDATE orders SET state = 'pending' WHERE state = 'delivered' "
	    "AND host IN (SELECT host FROM agents WHERE via = 'ssh')", 0) < 0)
		t.err = -EIO;
	return tx_commit(&t);
}

int
dispatch_start(struct ctl *c)
{
	struct dispatch *d;
	int r;

	if ((r = register_hosts(c)) < 0)
		return r;
	if ((d = gd_calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	d->c = c;
	(void)pthread_mutex_init(&d->lock, NULL);
	(void)pthread_cond_init(&d->cond, NULL);
	if ((r = pthread_create(&d->thread, NULL, dispatch_main, d)) != 0) {
		(void)pthread_cond_destroy(&d->cond);
		(void)pthread_mutex_destroy(&d->lock);
		gd_free(d);
		return -r;
	}
	c->dispatch = d;
	return 0;
}

void
dispatch_stop(struct ctl *c)
{
	struct dispatch *d = c->dispatch;

	bool was;

	if (d == NULL)
		return;
	(void)pthread_mutex_lock(&d->lock);
	was = d->stop;
	d->stop = true;
	(void)pthread_cond_broadcast(&d->cond);
	(void)pthread_mutex_unlock(&d->lock);
	if (was)
		return;
	(void)pthread_join(d->thread, NULL);
	/* Workers end within their SSH deadline; their outcome is recorded first. */
	(void)pthread_mutex_lock(&d->lock);
	while (d->workers > 0)
		(void)pthread_cond_wait(&d->cond, &d->lock);
	(void)pthread_mutex_unlock(&d->lock);
}

void
dispatch_free(struct ctl *c)
{
	struct dispatch *d = c->dispatch;

	if (d == NULL)
		return;
	dispatch_stop(c);
	(void)pthread_cond_destroy(&d->cond);
	(void)pthread_mutex_destroy(&d->lock);
	gd_free(d);
	c->dispatch = NULL;
}

void
dispatch_kick(struct ctl *c)
{
	struct dispatch *d = c->dispatch;

	if (d == NULL)
		return;
	(void)pthread_mutex_lock(&d->lock);
	d->kick = true;
	(void)pthread_cond_signal(&d->cond);
	(void)pthread_mutex_unlock(&d->lock);
}
