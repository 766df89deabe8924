/*
 * The outage check and the error-budget gate (outage.h).  Blocking requests, made from the
 * scheduler's thread only: nothing on the way to a halt or a revert waits for them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "alloc.h"
#include "json.h"
#include "log.h"
#include "outage.h"
#include "probe.h"

struct body {
	char *p;
	size_t len;
	bool over;
};

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	char *p;

	if (b->len + add > OUTAGE_MAX_BODY) {
		b->over = true;
		return 0;
	}
	if ((p = gd_realloc(b->p, b->len + add + 1)) == NULL)
		return 0;
	memcpy(p + b->len, data, add);
	b->p = p;
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* GET url; 0 with the body (caller frees b->p) on HTTP 200, else -EIO with why. */
static int
get(const char *url, uint64_t timeout_ms, struct body *b, char *why, size_t whylen)
{
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode rc;

	memset(b, 0, sizeof(*b));
	if (h == NULL) {
		(void)snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(h, CURLOPT_PROXY, "");
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	(void)curl_easy_setopt(h, CURLOPT_USERAGENT, "gamedayd-scheduler/1");
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK || status != 200) {
		if (b->over)
			(void)snprintf(why, whylen, "the reply is over %d bytes", OUTAGE_MAX_BODY);
		else if (rc != CURLE_OK)
			(void)snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		else
			(void)snprintf(why, whylen, "HTTP %ld", status);
		gd_free(b->p);
		b->p = NULL;
		return -EIO;
	}
	if (b->p == NULL && (b->p = gd_strdup("")) == NULL)
		return -ENOMEM;
	return 0;
}

int
outage_parse_alerts(const char *body, size_t len, size_t *ret_n, char *why, size_t whylen)
{
	struct gd_err err;
	cJSON *root = NULL;
	const cJSON *a;
	size_t n = 0, off = 0;

	gd_err_init(&err);
	if (json_parse_doc(body, len, OUTAGE_MAX_BODY, &root, &err) < 0 || !cJSON_IsArray(root)) {
		cJSON_Delete(root);
		(void)snprintf(why, whylen, "not an Alertmanager v2 alerts reply (a JSON array)");
		return -EINVAL;
	}
	why[0] = '\0';
	cJSON_ArrayForEach(a, root) {
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(labels, "alertname");

		if (!cJSON_IsObject(a) || !cJSON_IsObject(labels)) {
			cJSON_Delete(root);
			(void)snprintf(why, whylen, "not an Alertmanager v2 alerts reply (an alert "
			    "without labels)");
			return -EINVAL;
		}
		if (n < OUTAGE_MAX_NAMED && off < whylen)
			off += (size_t)snprintf(why + off, whylen - off, "%s%s", n > 0 ? ", " : "",
			    cJSON_IsString(name) && name->valuestring[0] != '\0' ?
			    log_esc(name->valuestring) : "(no alertname)");
		n++;
	}
	if (n > OUTAGE_MAX_NAMED && off < whylen)
		(void)snprintf(why + off, whylen - off, " and %zu more", n - OUTAGE_MAX_NAMED);
	cJSON_Delete(root);
	*ret_n = n;
	return 0;
}

int
outage_check(const struct sched_config *s, char *why, size_t whylen)
{
	for (size_t i = 0; i < s->nalertmanagers; i++) {
		char url[GD_MAX_URL_BYTES + 2048], names[512], err[256];
		size_t off, n = 0;
		struct body b;
		CURL *h = curl_easy_init();
		int r;

		if (h == NULL)
			return -ENOMEM;
		off = (size_t)snprintf(url, sizeof(url), "%s%s", s->alertmanagers[i],
		    s->alertmanagers[i][strlen(s->alertmanagers[i]) - 1] == '/' ? "" : "/");
		off += (size_t)snprintf(url + off, sizeof(url) - off, "api/v2/alerts?active=true&"
		    "silenced=false&inhibited=false");
		for (size_t k = 0; k < s->nmatchers && off < sizeof(url); k++) {
			char *e = curl_easy_escape(h, s->matchers[k], 0);

			if (e != NULL)
				off += (size_t)snprintf(url + off, sizeof(url) - off, "&filter=%s", e);
			curl_free(e);
		}
		curl_easy_cleanup(h);
		if ((r = get(url, s->check_timeout_ms, &b, err, sizeof(err))) < 0) {
			(void)snprintf(why, whylen, "Alertmanager %zu (%s) could not be asked: %s; "
			    "the outage check fails closed", i + 1, s->alertmanagers[i], err);
			return r;
		}
		r = outage_parse_alerts(b.p, b.len, &n, names, sizeof(names));
		gd_free(b.p);
		if (r < 0) {
			(void)snprintf(why, whylen, "Alertmanager %zu (%s): %s; the outage check fails "
			    "closed", i + 1, s->alertmanagers[i], names);
			return r;
		}
		if (n > 0) {
			(void)snprintf(why, whylen, "%zu alert%s firing on Alertmanager %zu (%s): %s",
			    n, n == 1 ? "" : "s", i + 1, s->alertmanagers[i], names);
			return -EBUSY;
		}
	}
	return 0;
}

int
budget_check(const struct sched_config *s, double *ret_value, char *why, size_t whylen)
{
	char url[GD_MAX_URL_BYTES + 3 * 4096 + 32], err[256];
	struct body b;
	double v;
	char *e;
	CURL *h;
	int r;

	*ret_value = NAN;
	if (s->budget_url[0] == '\0')
		return 0;
	if ((h = curl_easy_init()) == NULL)
		return -ENOMEM;
	e = curl_easy_escape(h, s->budget_query, 0);
	(void)snprintf(url, sizeof(url), "%s%sapi/v1/query?query=%s", s->budget_url,
	    s->budget_url[strlen(s->budget_url) - 1] == '/' ? "" : "/", e != NULL ? e : "");
	curl_free(e);
	curl_easy_cleanup(h);
	if ((r = get(url, s->check_timeout_ms, &b, err, sizeof(err))) < 0) {
		(void)snprintf(why, whylen, "the error-budget query could not be run: %s; the gate "
		    "fails closed", err);
		return r;
	}
	r = probe_prom_decode(b.p, b.len, &v, err, sizeof(err));
	gd_free(b.p);
	if (r < 0) {
		(void)snprintf(why, whylen, "the error-budget query: %s; the gate fails closed", err);
		return r;
	}
	*ret_value = v;
	if (v < s->budget_min) {
		(void)snprintf(why, whylen, "the error budget does not allow a Game Day now: %g, "
		    "below %g", v, s->budget_min);
		return -EBUSY;
	}
	return 0;
}
