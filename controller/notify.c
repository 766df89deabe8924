/*
 * Notifications (notify.h): the outbox, and the thread that empties it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "alloc.h"
#include "api.h"
#include "log.h"
#include "notify.h"
#include "rehearsal.h"
#include "runs.h"
#include "timeutil.h"

#define NOTIFY_BATCH	16	/* Rows sent per round. */

struct notify {
	struct ctl *c;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kick;
};

static const char *const event_names[NOTIFY_EVENT_MAX] = {
	[NOTIFY_SCHEDULED] = "scheduled",
	[NOTIFY_AWAITING_APPROVAL] = "awaiting_approval",
	[NOTIFY_STARTED] = "started",
	[NOTIFY_ABORTED] = "aborted",
	[NOTIFY_COMPLETED] = "completed",
	[NOTIFY_FAILED] = "failed",
	[NOTIFY_HALTED] = "halted",
};

const char *
notify_event_name(enum notify_event e)
{
	return (unsigned)e < NOTIFY_EVENT_MAX ? event_names[e] : "?";
}

enum notify_event
notify_event_of_state(const char *state)
{
	static const struct { const char *state; enum notify_event e; } map[] = {
		{ "scheduled", NOTIFY_SCHEDULED },
		{ "awaiting_approval", NOTIFY_AWAITING_APPROVAL },
		{ "injecting", NOTIFY_STARTED },
		{ "aborted", NOTIFY_ABORTED },
		{ "completed", NOTIFY_COMPLETED },
		{ "failed", NOTIFY_FAILED },
		{ "halted", NOTIFY_HALTED },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, state) == 0)
			return map[i].e;
	return NOTIFY_EVENT_MAX;
}

/* The payload of one webhook for one event; caller frees (gd_free()). */
static char *
payload(const struct webhook *w, enum notify_event e, const char *run, const char *playbook,
    const char *environment, const char *reason)
{
	char text[1024], tbuf[GD_TIME_MS_LEN];
	cJSON *o = cJSON_CreateObject(), *r;
	char *out;

	(void)snprintf(text, sizeof(text), "gameday: run %s of %s (%s) %s: %s", run, playbook,
	    environment, notify_event_name(e), reason);
	if (w->slack) {
		(void)cJSON_AddStringToObject(o, "text", text);
	} else {
		gd_format_time_ms(gd_now_ms(), tbuf);
		(void)cJSON_AddStringToObject(o, "event", notify_event_name(e));
		(void)cJSON_AddStringToObject(o, "time", tbuf);
		r = cJSON_AddObjectToObject(o, "run");
		(void)cJSON_AddStringToObject(r, "id", run);
		(void)cJSON_AddStringToObject(r, "playbook", playbook);
		(void)cJSON_AddStringToObject(r, "environment", environment);
		(void)cJSON_AddStringToObject(r, "reason", reason);
		(void)cJSON_AddStringToObject(o, "text", text);
	}
	out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

void
notify_enqueue(struct tx *t, enum notify_event e, const char *run, const char *reason)
{
	const struct config *cfg = &t->c->cfg;
	char playbook[256] = "", env[32] = "", now[24];
	sqlite3_stmt *st;

	if (cfg->nwebhooks == 0 || (unsigned)e >= NOTIFY_EVENT_MAX)
		return;
	if (store_prepare(t->c->store, "SELECT playbook, environment FROM runs WHERE id = ?",
	    &st) < 0) {
		t->err = -EIO;
		return;
	}
	(void)sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		(void)snprintf(playbook, sizeof(playbook), "%s", col_text(st, 0));
		(void)snprintf(env, sizeof(env), "%s", col_text(st, 1));
	}
	sqlite3_finalize(st);
	(void)snprintf(now, sizeof(now), "%lld", (long long)gd_now_ms());
	for (size_t i = 0; i < cfg->nwebhooks && t->err == 0; i++) {
		const struct webhook *w = &cfg->webhooks[i];
		char *body;

		if ((w->events & (1U << e)) == 0)
			continue;
		if ((body = payload(w, e, run, playbook, env, reason)) == NULL) {
			t->err = -ENOMEM;
			break;
		}
		if (store_exec(t->c->store, "INSERT INTO outbox (created, run, event, webhook, "
		    "body, next_try) VALUES (?1, ?2, ?3, ?4, ?5, ?1)", 5, now, run,
		    notify_event_name(e), w->name, body) < 0)
			t->err = -EIO;
		gd_free(body);
	}
	notify_kick(t->c);
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* POSTs body to w; 0 on a 2xx, else -EIO with why (the URL never appears in it). */
static int
post(const struct webhook *w, const char *body, char *why, size_t whylen)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (h == NULL || hdr == NULL) {
		curl_slist_free_all(hdr);
		curl_easy_cleanup(h);
		(void)snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	(void)curl_easy_setopt(h, CURLOPT_URL, w->url);
	(void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)NOTIFY_TIMEOUT_MS);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	(void)curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	(void)curl_easy_setopt(h, CURLOPT_USERAGENT, "gamedayd-notify/1");
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		(void)snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return -EIO;
	}
	if (status < 200 || status > 299) {
		(void)snprintf(why, whylen, "HTTP %ld", status);
		return -EIO;
	}
	return 0;
}

static const struct webhook *
find_webhook(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nwebhooks; i++)
		if (strcmp(cfg->webhooks[i].name, name) == 0)
			return &cfg->webhooks[i];
	return NULL;
}

/* Backoff after attempt n (1, 2, ...): 1 s, 2 s, 4 s, ... at most NOTIFY_BACKOFF_MAX_MS. */
static int64_t
backoff_ms(int n)
{
	int64_t ms = 1000;

	for (int i = 1; i < n && ms < NOTIFY_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < NOTIFY_BACKOFF_MAX_MS ? ms : NOTIFY_BACKOFF_MAX_MS;
}

struct outrow {
	int64_t id;
	int attempts;
	char webhook[64], event[32], run[32];
	char *body;
};

/* Sends one outbox row and writes its outcome back. */
static void
send_one(struct ctl *c, const struct outrow *row)
{
	const struct webhook *w = find_webhook(&c->cfg, row->webhook);
	struct webhook page = { .events = ~0U };
	char why[256] = "the webhook is no longer configured", sid[24], snext[24], snow[24];
	char sattempts[16];
	int r, attempts = row->attempts + 1;
	const char *state;

	if (strcmp(row->webhook, REHEARSAL_WEBHOOK) == 0) {
		/* A rehearsal's page goes to the playbook's own URL. */
		(void)pthread_mutex_lock(&c->store->lock);
		rehearsal_page_url(c, row->run, page.url, sizeof(page.url));
		(void)pthread_mutex_unlock(&c->store->lock);
		(void)snprintf(page.name, sizeof(page.name), "%s", REHEARSAL_WEBHOOK);
		w = page.url[0] != '\0' ? &page : NULL;
	}
	r = w != NULL ? post(w, row->body, why, sizeof(why)) : -ENOENT;
	state = r == 0 ? "sent" : (r == -ENOENT || attempts >= NOTIFY_MAX_ATTEMPTS) ?
	    "given_up" : "pending";
	if (r < 0)
		log_warnx("notify: webhook %s, event %s: %s (attempt %d%s)", row->webhook,
		    row->event, why, attempts, strcmp(state, "given_up") == 0 ? ", giving up" :
		    "");
	(void)snprintf(sid, sizeof(sid), "%lld", (long long)row->id);
	(void)snprintf(snow, sizeof(snow), "%lld", (long long)gd_now_ms());
	(void)snprintf(snext, sizeof(snext), "%lld", (long long)(gd_now_ms() +
	    backoff_ms(attempts)));
	(void)snprintf(sattempts, sizeof(sattempts), "%d", attempts);
	if (store_begin_light(c->store) < 0)
		return;
	(void)store_exec(c->store, "UPDATE outbox SET state = ?, attempts = ?, next_try = ?, "
	    "last_error = ? WHERE id = ?", 5, state, sattempts, snext, r == 0 ? NULL : why, sid);
	if (r == 0 && strcmp(row->event, "page") == 0)
		(void)store_exec(c->store, "UPDATE rehearsals SET paged_at = coalesce(paged_at, ?) "
		    "WHERE run = ?", 2, snow, row->run);
	(void)store_commit(c->store);
}

/* One round: the rows due, each sent once, the outcome written back. */
static void
send_due(struct notify *n)
{
	struct ctl *c = n->c;
	struct outrow v[NOTIFY_BATCH];
	size_t k = 0;
	sqlite3_stmt *st;

	(void)pthread_mutex_lock(&c->store->lock);
	if (store_prepare(c->store, "SELECT id, attempts, webhook, event, body, coalesce(run, '') "
	    "FROM outbox WHERE state = 'pending' AND next_try <= ? ORDER BY id LIMIT 16",
	    &st) == 0) {
		(void)sqlite3_bind_int64(st, 1, gd_now_ms());
		while (k < NOTIFY_BATCH && sqlite3_step(st) == SQLITE_ROW) {
			v[k].id = sqlite3_column_int64(st, 0);
			v[k].attempts = sqlite3_column_int(st, 1);
			(void)snprintf(v[k].webhook, sizeof(v[k].webhook), "%s", col_text(st, 2));
			(void)snprintf(v[k].event, sizeof(v[k].event), "%s", col_text(st, 3));
			(void)snprintf(v[k].run, sizeof(v[k].run), "%s", col_text(st, 5));
			if ((v[k].body = gd_strdup(col_text(st, 4))) != NULL)
				k++;
		}
		sqlite3_finalize(st);
	}
	(void)pthread_mutex_unlock(&c->store->lock);
	for (size_t i = 0; i < k; i++) {
		send_one(c, &v[i]);
		gd_free(v[i].body);
	}
}

static void *
notify_main(void *arg)
{
	struct notify *n = arg;

	(void)pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		struct timespec ts;

		if (!n->kick) {
			(void)clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 500 * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			(void)pthread_cond_timedwait(&n->cond, &n->lock, &ts);
		}
		n->kick = false;
		if (n->stop)
			break;
		(void)pthread_mutex_unlock(&n->lock);
		send_due(n);
		(void)pthread_mutex_lock(&n->lock);
	}
	(void)pthread_mutex_unlock(&n->lock);
	return NULL;
}

int
notify_start(struct ctl *c)
{
	struct notify *n;
	int r;

	/* Even with no webhook configured: rehearsals page their playbook's own URL. */
	if ((n = gd_calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->c = c;
	(void)pthread_mutex_init(&n->lock, NULL);
	(void)pthread_cond_init(&n->cond, NULL);
	if ((r = pthread_create(&n->thread, NULL, notify_main, n)) != 0) {
		(void)pthread_cond_destroy(&n->cond);
		(void)pthread_mutex_destroy(&n->lock);
		gd_free(n);
		return -r;
	}
	c->notify = n;
	return 0;
}

void
notify_stop(struct ctl *c)
{
	struct notify *n = c->notify;

	bool was;

	if (n == NULL)
		return;
	(void)pthread_mutex_lock(&n->lock);
	was = n->stop;
	n->stop = true;
	(void)pthread_cond_signal(&n->cond);
	(void)pthread_mutex_unlock(&n->lock);
	if (!was)
		(void)pthread_join(n->thread, NULL);
}

void
notify_free(struct ctl *c)
{
	struct notify *n = c->notify;

	if (n == NULL)
		return;
	notify_stop(c);
	(void)pthread_cond_destroy(&n->cond);
	(void)pthread_mutex_destroy(&n->lock);
	gd_free(n);
	c->notify = NULL;
}

void
notify_kick(struct ctl *c)
{
	struct notify *n = c->notify;

	if (n == NULL)
		return;
	(void)pthread_mutex_lock(&n->lock);
	n->kick = true;
	(void)pthread_cond_signal(&n->cond);
	(void)pthread_mutex_unlock(&n->lock);
}
