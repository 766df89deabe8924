/* gamedayd's configuration and its start and stop: store, then engine, then HTTP. */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "guard.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "runs.h"

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

int
config_load(struct config *cfg, const char *path, char *why, size_t whylen)
{
	static const char *const keys[] = { "state_dir", "listen", "tls_cert", "tls_key",
	    "poll_wait", NULL };
	char buf[65536], listen[128] = "";
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
	http_stop(c);
	guard_stop(c);
	engine_stop(c);
	store_close(c->store);
	c->store = NULL;
	(void)pthread_cond_destroy(&c->wake);
	(void)pthread_mutex_destroy(&c->wlock);
}
