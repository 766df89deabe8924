/* gamedayd's configuration and its start and stop: store, then engine, then HTTP. */
#include "ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmsg.h"
#include "alloc.h"
#include "dispatch.h"
#include "guard.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "parse.h"
#include "runs.h"
#include "sched.h"

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", CTL_DEFAULT_STATE_DIR);
	(void)snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "127.0.0.1");
	cfg->listen_port = 7070;
	cfg->poll_max_ms = CTL_POLL_MAX_MS;
	cfg->tick_ms = 100;
	cfg->max_connections = 20000;
	cfg->sched.check_timeout_ms = 5000;
	cfg->sched.approval_lead_ms = 24ULL * 3600 * 1000;
	cfg->sched.tick_ms = 1000;
}

int
config_set_listen(struct config *cfg, const char *s, char *why, size_t whylen)
{
	const char *colon = strrchr(s, ':'), *host = s;
	size_t hlen;
	char *end;
	long port;

	if (colon == NULL) {
		(void)snprintf(why, whylen, "listen address '%s' must be ADDR:PORT", log_esc(s));
		return -EINVAL;
	}
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		host = s + 1;
		hlen -= 2;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (hlen == 0 || hlen >= sizeof(cfg->listen_addr) || errno != 0 || end == colon + 1 ||
	    *end != '\0' || port < 0 || port > 65535) {
		(void)snprintf(why, whylen, "listen address '%s' must be ADDR:PORT with a port "
		    "from 0 to 65535", log_esc(s));
		return -EINVAL;
	}
	memcpy(cfg->listen_addr, host, hlen);
	cfg->listen_addr[hlen] = '\0';
	cfg->listen_port = (uint16_t)port;
	return 0;
}

/* Copies a string key of the config into dst; records errors in jc. */
static void
config_str(struct jctx *jc, const cJSON *root, const char *key, char *dst, size_t len)
{
	const char *v;

	if (j_string(jc, root, key, false, len - 1, &v) && v != NULL)
		(void)snprintf(dst, len, "%s", v);
}

/* A path for the remote command line: absolute, and only characters ssh_command_line()
 * takes as a word. */
static bool
remote_path_ok(const char *s)
{
	if (s[0] != '/')
		return false;
	for (; *s != '\0'; s++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-", *s)
		    == NULL)
			return false;
	return true;
}

/* One ssh_hosts[i] entry into h; problems recorded in jc. */
static void
config_ssh_entry(struct jctx *jc, const cJSON *e, struct ssh_host *h)
{
	static const char *const keys[] = { "host", "address", "port", "user", "key",
	    "known_hosts", "tags", "agent", "state_dir", "dispatch", NULL };
	unsigned char addr[16];
	const char *v;
	char *tags = NULL;
	int64_t port = 22;

	memset(h, 0, sizeof(*h));
	h->dispatch = true;
	(void)snprintf(h->agent, sizeof(h->agent), "%s", CTL_DEFAULT_AGENT_PATH);
	(void)snprintf(h->state_dir, sizeof(h->state_dir), "%s", CTL_DEFAULT_AGENT_STATE);
	(void)snprintf(h->tags, sizeof(h->tags), "{}");
	if (!j_object(jc, e, keys))
		return;
	if (j_string(jc, e, "host", true, sizeof(h->host) - 1, &v) && v != NULL) {
		if (!proto_valid_host(v))
			j_error(jc, "host", "%s is not a host name", j_quote(v));
		(void)snprintf(h->host, sizeof(h->host), "%s", v);
	}
	if (j_string(jc, e, "address", true, sizeof(h->t.address) - 1, &v) && v != NULL) {
		if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
			j_error(jc, "address", "%s is not an IPv4 or IPv6 address", j_quote(v));
		(void)snprintf(h->t.address, sizeof(h->t.address), "%s", v);
	}
	(void)j_int(jc, e, "port", false, 1, 65535, &port);
	h->t.port = (uint16_t)port;
	if (j_string(jc, e, "user", true, 32, &v) && v != NULL) {
		if (v[0] == '\0' || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
		    strlen(v) || v[0] == '-')
			j_error(jc, "user", "%s is not a user name", j_quote(v));
		(void)snprintf(h->t.user, sizeof(h->t.user), "%s", v);
	}
	if (j_string(jc, e, "key", true, sizeof(h->t.key) - 1, &v) && v != NULL) {
		if (v[0] != '/')
			j_error(jc, "key", "must be an absolute path");
		(void)snprintf(h->t.key, sizeof(h->t.key), "%s", v);
	}
	if (j_string(jc, e, "known_hosts", true, sizeof(h->t.known_hosts) - 1, &v) &&
	    v != NULL) {
		if (v[0] != '/')
			j_error(jc, "known_hosts", "must be an absolute path: host keys are always "
			    "verified");
		(void)snprintf(h->t.known_hosts, sizeof(h->t.known_hosts), "%s", v);
	}
	if (j_string(jc, e, "agent", false, sizeof(h->agent) - 1, &v) && v != NULL) {
		if (!remote_path_ok(v))
			j_error(jc, "agent", "must be an absolute path of [A-Za-z0-9/._-]");
		(void)snprintf(h->agent, sizeof(h->agent), "%s", v);
	}
	if (j_string(jc, e, "state_dir", false, sizeof(h->state_dir) - 1, &v) && v != NULL) {
		if (!remote_path_ok(v))
			j_error(jc, "state_dir", "must be an absolute path of [A-Za-z0-9/._-]");
		(void)snprintf(h->state_dir, sizeof(h->state_dir), "%s", v);
	}
	(void)j_bool(jc, e, "dispatch", &h->dispatch);
	if (j_get(e, "tags") != NULL && proto_tags(e, "tags", &tags, jc->err) == 0 &&
	    tags != NULL) {
		if (strlen(tags) >= sizeof(h->tags))
			j_error(jc, "tags", "too long");
		else
			(void)snprintf(h->tags, sizeof(h->tags), "%s", tags);
	}
	gd_free(tags);
}

/* "ssh_hosts": [...], each host once. */
static void
config_ssh_hosts(struct jctx *jc, const cJSON *root, struct config *cfg)
{
	const cJSON *arr, *e;
	size_t n = 0, i = 0;

	arr = j_array(jc, root, "ssh_hosts", false, 0, CTL_MAX_SSH_HOSTS, &n);
	if (arr == NULL || n == 0)
		return;
	if ((cfg->ssh_hosts = gd_calloc(n, sizeof(*cfg->ssh_hosts))) == NULL) {
		jc->oom = true;
		return;
	}
	cJSON_ArrayForEach(e, arr) {
		size_t old = jpath_push_key(jc, "ssh_hosts"), o2 = jpath_push_index(jc, i);

		config_ssh_entry(jc, e, &cfg->ssh_hosts[i]);
		for (size_t k = 0; k < i; k++)
			if (strcmp(cfg->ssh_hosts[k].host, cfg->ssh_hosts[i].host) == 0)
				j_error(jc, "host", "%s is listed twice",
				    j_quote(cfg->ssh_hosts[i].host));
		jpath_pop(jc, o2);
		jpath_pop(jc, old);
		i++;
	}
	cfg->nssh_hosts = i;
}

/* An http or https URL, checked by the same parser as a playbook's. */
static void
config_url(struct jctx *jc, const cJSON *o, const char *key, bool required, char *dst,
    size_t len)
{
	const char *v, *why;

	if (!j_string(jc, o, key, required, len - 1, &v) || v == NULL)
		return;
	if (url_check(v, &why) < 0)
		j_error(jc, key, "%s", why);
	(void)snprintf(dst, len, "%s", v);
}

/* "notify": [{"name", "url", "format": "json"|"slack", "events": [...]}]. */
static void
config_webhooks(struct jctx *jc, const cJSON *root, struct config *cfg)
{
	static const char *const keys[] = { "name", "url", "format", "events", NULL };
	const cJSON *arr, *e;
	size_t n = 0, i = 0, old;

	arr = j_array(jc, root, "notify", false, 0, CTL_MAX_WEBHOOKS, &n);
	if (arr == NULL || n == 0)
		return;
	if ((cfg->webhooks = gd_calloc(n, sizeof(*cfg->webhooks))) == NULL) {
		jc->oom = true;
		return;
	}
	old = jpath_push_key(jc, "notify");
	cJSON_ArrayForEach(e, arr) {
		struct webhook *w = &cfg->webhooks[i];
		size_t o2 = jpath_push_index(jc, i++);
		const char *v;
		size_t nev = 0;
		const cJSON *evs, *ev;

		w->events = (1U << NOTIFY_EVENT_MAX) - 1;
		if (j_object(jc, e, keys)) {
			if (j_string(jc, e, "name", true, sizeof(w->name) - 1, &v) && v != NULL) {
				if (v[0] == '\0' || strspn(v, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(v))
					j_error(jc, "name", "%s is not a name of [A-Za-z0-9_.-]",
					    j_quote(v));
				(void)snprintf(w->name, sizeof(w->name), "%s", v);
			}
			config_url(jc, e, "url", true, w->url, sizeof(w->url));
			if (j_string(jc, e, "format", false, 16, &v) && v != NULL) {
				if (strcmp(v, "slack") == 0)
					w->slack = true;
				else if (strcmp(v, "json") != 0)
					j_error(jc, "format", "%s is not json or slack", j_quote(v));
			}
			evs = j_array(jc, e, "events", false, 1, NOTIFY_EVENT_MAX, &nev);
			if (evs != NULL) {
				size_t o3 = jpath_push_key(jc, "events"), k = 0;

				w->events = 0;
				cJSON_ArrayForEach(ev, evs) {
					size_t o4 = jpath_push_index(jc, k++);
					int m = NOTIFY_EVENT_MAX;

					for (int x = 0; x < NOTIFY_EVENT_MAX && cJSON_IsString(ev); x++)
						if (strcmp(ev->valuestring, notify_event_name(
						    (enum notify_event)x)) == 0)
							m = x;
					if (m == NOTIFY_EVENT_MAX)
						j_error(jc, NULL, "not an event (scheduled, "
						    "awaiting_approval, started, aborted, completed, "
						    "failed, halted)");
					else
						w->events |= 1U << m;
					jpath_pop(jc, o4);
				}
				jpath_pop(jc, o3);
			}
			for (size_t k = 0; k + 1 < i; k++)
				if (strcmp(cfg->webhooks[k].name, w->name) == 0)
					j_error(jc, "name", "%s is used twice", j_quote(w->name));
		}
		jpath_pop(jc, o2);
	}
	jpath_pop(jc, old);
	cfg->nwebhooks = i;
}

/* "scheduler": {"alertmanager": {...}, "error_budget": {...}, "approval_lead", "tick"}. */
static void
config_scheduler(struct jctx *jc, const cJSON *root, struct config *cfg)
{
	static const char *const keys[] = { "alertmanager", "error_budget", "approval_lead",
	    "tick", "timeout", NULL };
	static const char *const am_keys[] = { "urls", "matchers", NULL };
	static const char *const eb_keys[] = { "url", "query", "min", NULL };
	struct sched_config *s = &cfg->sched;
	const cJSON *o = j_get(root, "scheduler"), *am, *eb, *arr, *e;
	size_t old, n, k;
	const char *v;

	if (o == NULL)
		return;
	old = jpath_push_key(jc, "scheduler");
	if (!j_object(jc, o, keys))
		goto out;
	(void)j_duration(jc, o, "approval_lead", false, 60000, 30ULL * 24 * 3600 * 1000,
	    &s->approval_lead_ms);
	(void)j_duration(jc, o, "tick", false, 100, 60000, &s->tick_ms);
	(void)j_duration(jc, o, "timeout", false, 100, 60000, &s->check_timeout_ms);
	if ((am = j_get(o, "alertmanager")) != NULL) {
		size_t o2 = jpath_push_key(jc, "alertmanager");

		if (j_object(jc, am, am_keys)) {
			arr = j_array(jc, am, "urls", true, 1, CTL_MAX_ALERTMANAGERS, &n);
			k = 0;
			cJSON_ArrayForEach(e, arr) {
				size_t o3 = jpath_push_key(jc, "urls"), o4 = jpath_push_index(jc, k);
				const char *why;

				if (!cJSON_IsString(e) || strlen(e->valuestring) >= GD_MAX_URL_BYTES ||
				    url_check(e->valuestring, &why) < 0)
					j_error(jc, NULL, "must be an http or https URL");
				else
					(void)snprintf(s->alertmanagers[k], GD_MAX_URL_BYTES, "%s",
					    e->valuestring);
				jpath_pop(jc, o4);
				jpath_pop(jc, o3);
				k++;
			}
			s->nalertmanagers = k;
			arr = j_array(jc, am, "matchers", false, 1, CTL_MAX_MATCHERS, &n);
			k = 0;
			cJSON_ArrayForEach(e, arr) {
				size_t o3 = jpath_push_key(jc, "matchers"), o4 = jpath_push_index(jc, k);

				if (!cJSON_IsString(e) || e->valuestring[0] == '\0' ||
				    strlen(e->valuestring) >= sizeof(s->matchers[0]) ||
				    strpbrk(e->valuestring, "\n\r") != NULL)
					j_error(jc, NULL, "must be an Alertmanager matcher such as "
					    "severity=\"critical\"");
				else
					(void)snprintf(s->matchers[k], sizeof(s->matchers[0]), "%s",
					    e->valuestring);
				jpath_pop(jc, o4);
				jpath_pop(jc, o3);
				k++;
			}
			s->nmatchers = k;
		}
		jpath_pop(jc, o2);
	}
	if ((eb = j_get(o, "error_budget")) != NULL) {
		size_t o2 = jpath_push_key(jc, "error_budget");

		if (j_object(jc, eb, eb_keys)) {
			config_url(jc, eb, "url", true, s->budget_url, sizeof(s->budget_url));
			if (j_string(jc, eb, "query", true, sizeof(s->budget_query) - 1, &v) &&
			    v != NULL)
				(void)snprintf(s->budget_query, sizeof(s->budget_query), "%s", v);
			(void)j_number(jc, eb, "min", false, -1e300, 1e300, &s->budget_min);
		}
		jpath_pop(jc, o2);
	}
out:
	jpath_pop(jc, old);
}

const struct ssh_host *
config_ssh_host(const struct config *cfg, const char *host)
{
	for (size_t i = 0; i < cfg->nssh_hosts; i++)
		if (strcmp(cfg->ssh_hosts[i].host, host) == 0)
			return &cfg->ssh_hosts[i];
	return NULL;
}

int
config_load(struct config *cfg, const char *path, char *why, size_t whylen)
{
	static const char *const keys[] = { "state_dir", "listen", "tls_cert", "tls_key",
	    "poll_wait", "ssh_hosts", "notify", "scheduler", NULL };
	static char buf[1024 * 1024];	/* Called once, at start. */
	char listen[128] = "";
	struct gd_err err;
	struct jctx jc;
	cJSON *root = NULL;
	size_t len = 0;
	uint64_t wait = 0;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		(void)snprintf(why, whylen, "config '%s': %s", log_esc(path), strerror(errno));
		return -errno;
	}
	len = fread(buf, 1, sizeof(buf), f);
	(void)fclose(f);
	gd_err_init(&err);
	if (json_parse_doc(buf, len, sizeof(buf) - 1, &root, &err) < 0)
		goto bad;
	jctx_init(&jc, &err);
	if (j_object(&jc, root, keys)) {
		config_str(&jc, root, "state_dir", cfg->state_dir, sizeof(cfg->state_dir));
		config_str(&jc, root, "listen", listen, sizeof(listen));
		config_str(&jc, root, "tls_cert", cfg->tls_cert, sizeof(cfg->tls_cert));
		config_str(&jc, root, "tls_key", cfg->tls_key, sizeof(cfg->tls_key));
		if (j_duration(&jc, root, "poll_wait", false, 1000, CTL_POLL_MAX_MS, &wait) &&
		    wait > 0)
			cfg->poll_max_ms = wait;
		config_ssh_hosts(&jc, root, cfg);
		config_webhooks(&jc, root, cfg);
		config_scheduler(&jc, root, cfg);
	}
	cJSON_Delete(root);
	if (err.n > 0)
		goto bad;
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
		(void)snprintf(why, whylen, "config '%s': tls_cert and tls_key go together",
		    log_esc(path));
		return -EINVAL;
	}
	if (listen[0] != '\0')
		return config_set_listen(cfg, listen, why, whylen);
	return 0;
bad:
	(void)snprintf(why, whylen, "config '%s': %s: %s", log_esc(path),
	    err.n > 0 ? err.items[0].path : "(root)", err.n > 0 ? err.items[0].msg :
	    "out of memory");
	return -EINVAL;
}

int
ctl_start(struct ctl *c, const struct config *cfg, char *why, size_t whylen)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	(void)pthread_mutex_init(&c->wlock, NULL);
	(void)pthread_cond_init(&c->wake, NULL);
	if ((r = store_open(&c->store, cfg->state_dir, why, whylen)) < 0)
		return r;
	if ((r = engine_start(c)) < 0) {
		(void)snprintf(why, whylen, "cannot start the engine: %s", strerror(-r));
		goto fail;
	}
	if ((r = guard_start(c)) < 0) {
		(void)snprintf(why, whylen, "cannot start the SLA guard: %s", strerror(-r));
		goto fail;
	}
	if ((r = dispatch_start(c)) < 0) {
		(void)snprintf(why, whylen, "cannot start SSH dispatch: %s", strerror(-r));
		goto fail;
	}
	if ((r = notify_start(c)) < 0) {
		(void)snprintf(why, whylen, "cannot start notifications: %s", strerror(-r));
		goto fail;
	}
	if ((r = sched_start(c)) < 0) {
		(void)snprintf(why, whylen, "cannot start the scheduler: %s", strerror(-r));
		goto fail;
	}
	if ((r = http_start(c, why, whylen)) < 0)
		goto fail;
	return 0;
fail:
	ctl_stop(c);
	return r;
}

void
ctl_stop(struct ctl *c)
{
	/* Every thread stops before any of them is freed: they kick one another. */
	http_stop(c);
	sched_stop(c);
	dispatch_stop(c);
	guard_stop(c);
	engine_stop(c);
	notify_stop(c);
	sched_free(c);
	dispatch_free(c);
	guard_free(c);
	notify_free(c);
	store_close(c->store);
	c->store = NULL;
	(void)pthread_cond_destroy(&c->wake);
	(void)pthread_mutex_destroy(&c->wlock);
}
