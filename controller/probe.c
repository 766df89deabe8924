/*
 * The probe runner (probe.h): one curl easy handle per request, all of them in one multi
 * handle.  A request lives in the prober's list from prober_start() until its result is
 * handed out or it is cancelled; CURLOPT_PRIVATE leads from the easy handle back to it.
 * Every result that is not ok says why in words, and whatever part of that text came from
 * outside (a Prometheus error, a URL, curl's message) is made printable before it is kept.
 */
#include "probe.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "alloc.h"
#include "json.h"
#include "limits.h"

#define PROM_QUERY_PATH		"/api/v1/query?query="

struct preq {
	struct preq *prev, *next;
	CURL *h;
	uint64_t tag;
	enum probe_kind kind;
	uint64_t timeout_ms;
	uint16_t expect[GD_MAX_EXPECT_STATUS];
	size_t nexpect;
	char *url;		/* Owned; for a prometheus probe the whole query URL. */
	char *body;		/* Prometheus probes only: the reply so far, NUL-terminated. */
	size_t len, cap;	/* len counts the body of http probes too (not kept). */
	size_t header_bytes;
	bool body_over, header_over, oom;
	char errbuf[CURL_ERROR_SIZE];
};

struct prober {
	CURLM *m;
	struct preq *head;
	size_t n;
};

/*
 * Copies s into dst[dstlen]: printable ASCII as it is, any other byte as \xNN, and "..." in
 * place of what does not fit.  So stored and printed errors hold no control characters and
 * no broken UTF-8.
 */
static void
text_copy_safe(char *dst, size_t dstlen, const char *s)
{
	const unsigned char *p;
	size_t o = 0, total = 0, budget;

	if (dstlen == 0)
		return;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		total += *p >= 0x20 && *p < 0x7f ? 1 : 4;
	budget = total < dstlen ? total : (dstlen > 4 ? dstlen - 4 : 0);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f) {
			if (o + 1 > budget)
				break;
			dst[o++] = (char)*p;
		} else {
			if (o + 4 > budget)
				break;
			(void)snprintf(dst + o, 5, "\\x%02x", *p);
			o += 4;
		}
	}
	if (*p != '\0' && dstlen > 4) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static void __attribute__((format(printf, 3, 4)))
why_set(char *why, size_t whylen, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	text_copy_safe(why, whylen, tmp);
}

/* The sample's [time, "value"] pair: the value is a string strtod() reads whole, finite. */
static int
prom_value(const cJSON *pair, double *ret, char *why, size_t whylen)
{
	const cJSON *t, *v;
	const char *s;
	char *end;
	double d;

	if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || (t = pair->child) == NULL ||
	    (v = t->next) == NULL || !cJSON_IsNumber(t) || !cJSON_IsString(v) ||
	    v->valuestring == NULL) {
		why_set(why, whylen, "the sample is not a [time, \"value\"] pair");
		return -EINVAL;
	}
	s = v->valuestring;
	errno = 0;
	d = strtod(s, &end);
	/* strtod() skips leading blanks; Prometheus never writes them. */
	if (s[0] == '\0' || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r') || *end != '\0') {
		why_set(why, whylen, "the sample value \"%.64s\" is not a number", s);
		return -EINVAL;
	}
	if (isnan(d)) {
		why_set(why, whylen, "the query returned NaN");
		return -EINVAL;
	}
	if (isinf(d) && errno == ERANGE) {
		why_set(why, whylen, "the sample value \"%.64s\" is out of range", s);
		return -EINVAL;
	}
	if (isinf(d)) {
		why_set(why, whylen, "the query returned %s", d > 0 ? "+Inf" : "-Inf");
		return -EINVAL;
	}
	*ret = d;
	return 0;
}

static const char *
prom_str(const cJSON *obj, const char *key, const char *fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : fallback;
}

/* Reads a parsed reply; *ret_prom_error tells a refusal that Prometheus itself sent. */
static int
prom_reply(const cJSON *root, double *ret, char *why, size_t whylen, bool *ret_prom_error)
{
	const cJSON *data, *result;
	const char *status, *type;
	int n;

	if (!cJSON_IsObject(root)) {
		why_set(why, whylen, "the reply is not a JSON object");
		return -EINVAL;
	}
	if ((status = prom_str(root, "status", NULL)) == NULL) {
		why_set(why, whylen, "the reply has no \"status\" string");
		return -EINVAL;
	}
	if (strcmp(status, "error") == 0) {
		*ret_prom_error = true;
		why_set(why, whylen, "Prometheus error %.32s: %s",
		    prom_str(root, "errorType", "(no errorType)"),
		    prom_str(root, "error", "(no error text)"));
		return -EINVAL;
	}
	if (strcmp(status, "success") != 0) {
		why_set(why, whylen, "the reply's status is \"%.32s\", not \"success\"", status);
		return -EINVAL;
	}
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	if (!cJSON_IsObject(data) || (type = prom_str(data, "resultType", NULL)) == NULL) {
		why_set(why, whylen, "the reply has no \"data.resultType\" string");
		return -EINVAL;
	}
	result = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (strcmp(type, "scalar") == 0)
		return prom_value(result, ret, why, whylen);
	if (strcmp(type, "vector") != 0) {
		why_set(why, whylen, "the query returned a %.32s; a scalar or a single-sample "
		    "vector is needed", type);
		return -EINVAL;
	}
	if (!cJSON_IsArray(result)) {
		why_set(why, whylen, "the reply's \"data.result\" is not an array");
		return -EINVAL;
	}
	if ((n = cJSON_GetArraySize(result)) != 1) {
		if (n == 0)
			why_set(why, whylen, "the query returned no samples");
		else
			why_set(why, whylen, "the query returned %d samples; one is needed", n);
		return -EINVAL;
	}
	if (!cJSON_IsObject(result->child)) {
		why_set(why, whylen, "the sample is not an object");
		return -EINVAL;
	}
	return prom_value(cJSON_GetObjectItemCaseSensitive(result->child, "value"), ret, why,
	    whylen);
}

static int
prom_decode(const char *body, size_t len, double *ret_value, char *why, size_t whylen,
    bool *ret_prom_error)
{
	struct gd_err *err;
	cJSON *root = NULL;
	double v = 0;
	int r;

	*ret_prom_error = false;
	/* 36 KiB: too much for the stack of a thread that probes. */
	if ((err = gd_malloc(sizeof(*err))) == NULL) {
		why_set(why, whylen, "out of memory");
		return -ENOMEM;
	}
	gd_err_init(err);
	r = json_parse_doc(body != NULL ? body : "", body != NULL ? len : 0, PROBE_MAX_BODY,
	    &root, err);
	if (r == -ENOMEM)
		why_set(why, whylen, "out of memory");
	else if (r < 0)
		why_set(why, whylen, "the reply is not JSON: %s",
		    err->n > 0 ? err->items[0].msg : "invalid JSON");
	else if ((r = prom_reply(root, &v, why, whylen, ret_prom_error)) == 0)
		*ret_value = v;
	cJSON_Delete(root);
	gd_free(err);
	return r;
}

int
probe_prom_decode(const char *body, size_t len, double *ret_value, char *why, size_t whylen)
{
	bool prom_error;

	return prom_decode(body, len, ret_value, why, whylen, &prom_error);
}

/* The body callback: keeps a prometheus reply, counts an http one, fails past the cap. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct preq *q = arg;
	size_t n = size * nmemb, cap;	/* curl guarantees size == 1. */
	char *nb;

	if (n > PROBE_MAX_BODY - q->len) {
		q->body_over = true;
		return 0;	/* Makes curl fail the transfer with CURLE_WRITE_ERROR. */
	}
	if (q->kind == PROBE_HTTP) {
		q->len += n;
		return n;
	}
	if (q->len + n + 1 > q->cap) {
		cap = q->cap == 0 ? 4096 : q->cap;
		while (cap < q->len + n + 1)
			cap *= 2;
		if (cap > PROBE_MAX_BODY + 1)
			cap = PROBE_MAX_BODY + 1;
		if ((nb = gd_realloc(q->body, cap)) == NULL) {
			q->oom = true;
			return 0;
		}
		q->body = nb;
		q->cap = cap;
	}
	memcpy(q->body + q->len, data, n);
	q->len += n;
	q->body[q->len] = '\0';
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct preq *q = arg;
	size_t n = size * nmemb;

	(void)data;
	if (n > PROBE_MAX_HEADER_BYTES - q->header_bytes) {
		q->header_over = true;
		return 0;
	}
	q->header_bytes += n;
	return n;
}

static void
req_free(struct preq *q)
{
	if (q == NULL)
		return;
	if (q->h != NULL)
		curl_easy_cleanup(q->h);
	gd_free(q->url);
	gd_free(q->body);
	gd_free(q);
}

/* Takes q out of the multi handle and the list; the caller frees it. */
static void
req_detach(struct prober *pr, struct preq *q)
{
	(void)curl_multi_remove_handle(pr->m, q->h);
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		pr->head = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	pr->n--;
}

/* The URL to fetch: the probe's, or for Prometheus <url>/api/v1/query?query=<escaped>. */
static int
req_url(struct preq *q, const struct probe *p)
{
	size_t n, total;
	char *esc;
	int r = 0;

	if (p->kind == PROBE_HTTP)
		return (q->url = gd_strdup(p->url)) == NULL ? -ENOMEM : 0;
	n = strlen(p->url);
	while (n > 0 && p->url[n - 1] == '/')
		n--;
	if ((esc = curl_easy_escape(q->h, p->query, (int)strlen(p->query))) == NULL)
		return -ENOMEM;
	if (gd_add_size(n, sizeof(PROM_QUERY_PATH) + strlen(esc), &total) < 0)
		r = -EINVAL;
	else if ((q->url = gd_malloc(total)) == NULL)
		r = -ENOMEM;
	else
		(void)snprintf(q->url, total, "%.*s%s%s", (int)n, p->url, PROM_QUERY_PATH, esc);
	curl_free(esc);
	return r;
}

/* Everything that bounds a request (probe.h).  Any failure: the request is not started. */
static int
req_setopt(struct preq *q)
{
	long timeout = (long)q->timeout_ms, follow = q->kind == PROBE_HTTP;
	CURL *h = q->h;
	CURLcode rc;

	if ((rc = curl_easy_setopt(h, CURLOPT_URL, q->url)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_PRIVATE, q)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, follow)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)PROBE_MAX_REDIRS)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)PROBE_MAX_BODY)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, q)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_HEADERDATA, q)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_PROXY, "")) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_NOPROXY, "*")) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_USERAGENT, PROBE_USER_AGENT)) != CURLE_OK ||
	    (rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, q->errbuf)) != CURLE_OK)
		return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	/* No CURLOPT_COOKIEFILE (no cookie engine) and no CURLOPT_ACCEPT_ENCODING (no gzip). */
	return 0;
}

static bool
probe_valid(const struct probe *p)
{
	if (p == NULL || p->url == NULL || strlen(p->url) > GD_MAX_URL_BYTES ||
	    p->timeout_ms == 0 || p->timeout_ms > GD_MAX_PROBE_TIMEOUT_MS ||
	    p->nexpect > GD_MAX_EXPECT_STATUS)
		return false;
	if (p->kind == PROBE_HTTP)
		return true;
	return p->kind == PROBE_PROMETHEUS && p->query != NULL &&
	    strlen(p->query) <= GD_MAX_QUERY_BYTES;
}

int
prober_start(struct prober *pr, const struct probe *p, uint64_t tag)
{
	struct preq *q;
	int r;

	if (pr == NULL || !probe_valid(p))
		return -EINVAL;
	if ((q = gd_calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->tag = tag;
	q->kind = p->kind;
	q->timeout_ms = p->timeout_ms;
	/* A probe built by hand may leave expect_status empty: the playbook default. */
	if (p->nexpect == 0) {
		q->expect[0] = 200;
		q->nexpect = 1;
	} else {
		memcpy(q->expect, p->expect_status, p->nexpect * sizeof(q->expect[0]));
		q->nexpect = p->nexpect;
	}
	if ((q->h = curl_easy_init()) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = req_url(q, p)) < 0 || (r = req_setopt(q)) < 0)
		goto fail;
	if (curl_multi_add_handle(pr->m, q->h) != CURLM_OK) {
		r = -ENOMEM;
		goto fail;
	}
	q->next = pr->head;
	if (pr->head != NULL)
		pr->head->prev = q;
	pr->head = q;
	pr->n++;
	return 0;
fail:
	req_free(q);
	return r;
}

void
prober_cancel(struct prober *pr, uint64_t tag)
{
	struct preq *q, *next;

	if (pr == NULL)
		return;
	for (q = pr->head; q != NULL; q = next) {
		next = q->next;
		if (q->tag != tag)
			continue;
		req_detach(pr, q);
		req_free(q);
	}
}

/* "scheme" of a URL, lower-case, or "" when it has none we can show. */
static void
url_scheme(const char *url, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && url[i] != '\0' && url[i] != ':'; i++) {
		if (!((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
		    (url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-' ||
		    url[i] == '.'))
			break;
		buf[i] = (char)(url[i] | 0x20);
	}
	if (url[i] != ':' || i == 0)
		i = 0;
	buf[i] = '\0';
}

/* A scheme other than http and https, in the probe's URL or in a redirect. */
static void
fail_protocol(struct preq *q, struct probe_result *res)
{
	char *eff = NULL, scheme[16];
	long redirects = 0;

	(void)curl_easy_getinfo(q->h, CURLINFO_REDIRECT_COUNT, &redirects);
	(void)curl_easy_getinfo(q->h, CURLINFO_EFFECTIVE_URL, &eff);
	if (eff == NULL)
		eff = q->url;
	url_scheme(eff, scheme, sizeof(scheme));
	if (redirects > 0 || strcmp(eff, q->url) != 0) {
		if (scheme[0] != '\0')
			why_set(res->error, sizeof(res->error), "redirect to a %s:// URL refused",
			    scheme);
		else
			why_set(res->error, sizeof(res->error), "redirect to a URL that is "
			    "neither http nor https refused");
	} else {
		why_set(res->error, sizeof(res->error), "the URL scheme \"%s\" is not allowed "
		    "(http and https only)", scheme);
	}
}

/*
 * A refused connection: "connect 127.0.0.1:9: Connection refused".  libcurl 7.88 leaves
 * CURLINFO_PRIMARY_IP empty when no connection was made, so the host and port come from
 * the URL it was connecting to (the last redirect's, if any).
 */
static void
fail_connect(struct preq *q, struct probe_result *res)
{
	char *eff = NULL, *host = NULL, *port = NULL, ebuf[128];
	long oserr = 0;
	CURLU *u;

	(void)curl_easy_getinfo(q->h, CURLINFO_OS_ERRNO, &oserr);
	(void)curl_easy_getinfo(q->h, CURLINFO_EFFECTIVE_URL, &eff);
	if ((u = curl_url()) != NULL &&
	    curl_url_set(u, CURLUPART_URL, eff != NULL ? eff : q->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    oserr > 0)
		why_set(res->error, sizeof(res->error), "connect %s:%s: %s", host, port,
		    strerror_r((int)oserr, ebuf, sizeof(ebuf)));
	else
		why_set(res->error, sizeof(res->error), "%s", q->errbuf[0] != '\0' ? q->errbuf :
		    curl_easy_strerror(CURLE_COULDNT_CONNECT));
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

static void
req_failed(struct preq *q, CURLcode cc, struct probe_result *res)
{
	char *err = res->error;
	size_t len = sizeof(res->error);

	if (q->body_over || cc == CURLE_FILESIZE_EXCEEDED)
		why_set(err, len, "response body over %d MiB", PROBE_MAX_BODY / (1024 * 1024));
	else if (q->header_over)
		why_set(err, len, "response headers over %d KiB", PROBE_MAX_HEADER_BYTES / 1024);
	else if (q->oom || cc == CURLE_OUT_OF_MEMORY)
		why_set(err, len, "out of memory");
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		why_set(err, len, "timed out after %llu ms", (unsigned long long)q->timeout_ms);
	else if (cc == CURLE_TOO_MANY_REDIRECTS)
		why_set(err, len, "more than %d redirects", PROBE_MAX_REDIRS);
	else if (cc == CURLE_UNSUPPORTED_PROTOCOL)
		fail_protocol(q, res);
	else if (cc == CURLE_COULDNT_CONNECT)
		fail_connect(q, res);
	else
		why_set(err, len, "%s", q->errbuf[0] != '\0' ? q->errbuf : curl_easy_strerror(cc));
}

static void
http_done(struct preq *q, struct probe_result *res)
{
	curl_off_t us = 0;
	char list[GD_MAX_EXPECT_STATUS * 8] = "";
	size_t i, o = 0;

	for (i = 0; i < q->nexpect; i++)
		if (res->status == q->expect[i])
			break;
	if (i < q->nexpect) {
		(void)curl_easy_getinfo(q->h, CURLINFO_TOTAL_TIME_T, &us);
		res->ok = res->has_value = true;
		res->value = (double)us / 1000.0;
		return;
	}
	for (i = 0; i < q->nexpect; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%u", i > 0 ? ", " : "",
		    (unsigned)q->expect[i]);
	why_set(res->error, sizeof(res->error), "HTTP %d (expected %s)", res->status, list);
}

static void
prom_done(struct preq *q, struct probe_result *res)
{
	char why[sizeof(res->error)];
	bool prom_error;
	double v;

	if (prom_decode(q->body, q->len, &v, why, sizeof(why), &prom_error) == 0 &&
	    res->status == 200) {
		res->ok = res->has_value = true;
		res->value = v;
	} else if (res->status != 200) {
		if (prom_error)
			why_set(res->error, sizeof(res->error), "HTTP %d: %s", res->status, why);
		else
			why_set(res->error, sizeof(res->error), "HTTP %d (expected 200)",
			    res->status);
	} else {
		memcpy(res->error, why, sizeof(why));
	}
}

static void
req_result(struct preq *q, CURLcode cc, struct probe_result *res)
{
	long status = 0;

	memset(res, 0, sizeof(*res));
	(void)curl_easy_getinfo(q->h, CURLINFO_RESPONSE_CODE, &status);
	res->status = status > 0 && status < 1000 ? (int)status : 0;
	if (cc != CURLE_OK)
		req_failed(q, cc, res);
	else if (q->kind == PROBE_HTTP)
		http_done(q, res);
	else
		prom_done(q, res);
}

/* Hands out every finished request; returns how many. */
static size_t
drain(struct prober *pr, void (*done)(uint64_t, const struct probe_result *, void *),
    void *arg)
{
	struct probe_result res;
	struct preq *q;
	CURLMsg *msg;
	char *priv;
	CURLcode cc;
	uint64_t tag;
	size_t n = 0;
	int left;

	while ((msg = curl_multi_info_read(pr->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		cc = msg->data.result;	/* msg is gone once the handle is removed. */
		(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		if ((q = (struct preq *)priv) == NULL) {
			(void)curl_multi_remove_handle(pr->m, msg->easy_handle);
			continue;
		}
		req_result(q, cc, &res);
		tag = q->tag;
		req_detach(pr, q);
		req_free(q);
		/* Last: done may start and cancel requests. */
		if (done != NULL)
			done(tag, &res, arg);
		n++;
	}
	return n;
}

static int
mc_errno(CURLMcode mc)
{
	if (mc == CURLM_OK)
		return 0;
	return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

int
prober_run(struct prober *pr, int wait_ms,
    void (*done)(uint64_t tag, const struct probe_result *res, void *arg), void *arg)
{
	int running, r;

	if (pr == NULL)
		return -EINVAL;
	if ((r = mc_errno(curl_multi_perform(pr->m, &running))) < 0)
		return r;
	if (drain(pr, done, arg) > 0)
		return 0;
	/* curl_multi_poll() also returns when a transfer's own timer is due. */
	if ((r = mc_errno(curl_multi_poll(pr->m, NULL, 0, wait_ms > 0 ? wait_ms : 0,
	    NULL))) < 0)
		return r;
	if ((r = mc_errno(curl_multi_perform(pr->m, &running))) < 0)
		return r;
	(void)drain(pr, done, arg);
	return 0;
}

void
prober_wakeup(struct prober *pr)
{
	if (pr != NULL)
		(void)curl_multi_wakeup(pr->m);
}

size_t
prober_inflight(const struct prober *pr)
{
	return pr != NULL ? pr->n : 0;
}

int
prober_new(struct prober **ret)
{
	struct prober *pr;

	if ((pr = gd_calloc(1, sizeof(*pr))) == NULL)
		return -ENOMEM;
	if ((pr->m = curl_multi_init()) == NULL) {
		gd_free(pr);
		return -ENOMEM;
	}
	*ret = pr;
	return 0;
}

struct prober *
prober_free(struct prober *pr)
{
	struct preq *q;

	if (pr == NULL)
		return NULL;
	while ((q = pr->head) != NULL) {
		req_detach(pr, q);
		req_free(q);
	}
	(void)curl_multi_cleanup(pr->m);
	gd_free(pr);
	return NULL;
}
