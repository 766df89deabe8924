#include "uplink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "alloc.h"
#include "json.h"
#include "limits.h"
#include "log.h"
#include "parse.h"

#define CONNECT_TIMEOUT_MS	5000L

struct uplink {
	CURL *h;
	char base[GD_MAX_URL_BYTES + 1];	/* The URL without a trailing '/'. */
	uint16_t port;
	char addrs[GD_MAX_EXEMPT_HOSTS][INET6_ADDRSTRLEN];
	size_t naddrs;
	char addrs_text[GD_MAX_EXEMPT_HOSTS * (INET6_ADDRSTRLEN + 1)];
	struct curl_slist *resolve;
	char curl_error[CURL_ERROR_SIZE];
	volatile sig_atomic_t *abort_flag;
	int abortable;
};

/* Where a reply goes while it arrives; never past max. */
struct sink {
	char *buf;
	size_t len, cap, max;
	bool over;
};

static size_t
sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, cap;	/* curl guarantees size == 1. */
	char *nb;

	if (n > s->max - s->len) {
		s->over = true;
		return 0;	/* Makes curl fail the transfer with CURLE_WRITE_ERROR. */
	}
	if (s->len + n + 1 > s->cap) {
		cap = s->cap == 0 ? 4096 : s->cap;
		while (cap < s->len + n + 1)
			cap *= 2;
		if ((nb = gd_realloc(s->buf, cap)) == NULL)
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

static int
progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	const struct uplink *c = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return c->abortable && c->abort_flag != NULL && *c->abort_flag != 0;
}

/* Splits url into base, host and port; refuses what is not a plain controller URL. */
static int
url_split(struct uplink *c, const char *url, char *host, size_t hostlen, const char **why)
{
	char *h = NULL, *port = NULL, *query = NULL, *frag = NULL, *user = NULL;
	CURLU *u = curl_url();
	uint64_t pn = 0;
	size_t n;
	int r = -EINVAL;

	if (u == NULL)
		return -ENOMEM;
	if (url_check(url, why) < 0)
		goto out;
	*why = "not a URL with a host and port";
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    parse_uint(port, 1, 65535, &pn, NULL) < 0)
		goto out;
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		*why = "the controller URL takes no user, query or fragment";
		goto out;
	}
	/* curl keeps the brackets of an IPv6 literal. */
	n = strlen(h);
	if (h[0] == '[' && n > 2) {
		memmove(h, h + 1, n - 2);
		h[n - 2] = '\0';
	}
	if (strlen(h) >= hostlen)
		goto out;
	memcpy(host, h, strlen(h) + 1);
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	memcpy(c->base, url, n);
	c->base[n] = '\0';
	c->port = (uint16_t)pn;
	r = 0;
out:
	curl_free(h);
	curl_free(port);
	curl_free(query);
	curl_free(frag);
	curl_free(user);
	curl_url_cleanup(u);
	return r;
}

/* The host's addresses, each once, at most max; numeric hosts are taken as they are. */
static int
resolve(struct uplink *c, const char *host, size_t max, bool *ret_numeric)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	int gr;

	hints.ai_flags = AI_NUMERICHOST;
	*ret_numeric = getaddrinfo(host, NULL, &hints, &res) == 0;
	if (!*ret_numeric) {
		hints.ai_flags = 0;
		if ((gr = getaddrinfo(host, NULL, &hints, &res)) != 0)
			return gr == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
	}
	for (ai = res; ai != NULL && c->naddrs < max; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
		char text[INET6_ADDRSTRLEN];
		bool seen = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    inet_ntop(ai->ai_family, a, text, sizeof(text)) == NULL)
			continue;
		for (size_t i = 0; i < c->naddrs; i++)
			seen = seen || strcmp(c->addrs[i], text) == 0;
		if (!seen)
			memcpy(c->addrs[c->naddrs++], text, strlen(text) + 1);
	}
	freeaddrinfo(res);
	return c->naddrs > 0 ? 0 : -EHOSTUNREACH;
}

/* "host:port:a,[b]" for CURLOPT_RESOLVE, and the same addresses for log lines. */
static int
pin(struct uplink *c, const char *host, bool numeric)
{
	char entry[512 + sizeof(c->addrs_text) * 2];
	size_t o, t = 0;

	o = (size_t)snprintf(entry, sizeof(entry), "%s:%u:", host, c->port);
	for (size_t i = 0; i < c->naddrs; i++) {
		bool v6 = strchr(c->addrs[i], ':') != NULL;

		o += (size_t)snprintf(entry + o, sizeof(entry) - o, "%s%s%s%s", i > 0 ? "," : "",
		    v6 ? "[" : "", c->addrs[i], v6 ? "]" : "");
		t += (size_t)snprintf(c->addrs_text + t, sizeof(c->addrs_text) - t, "%s%s",
		    i > 0 ? "," : "", c->addrs[i]);
	}
	if (o >= sizeof(entry))
		return -ENAMETOOLONG;
	/* A numeric host is never resolved by curl; a name is only ever looked up here. */
	if (!numeric && (c->resolve = curl_slist_append(NULL, entry)) == NULL)
		return -ENOMEM;
	return 0;
}

static int
setup_handle(struct uplink *c)
{
	CURL *h = c->h;

	/* NOSIGNAL: no SIGALRM around name lookups (there are none) and no signal handlers of
	 * curl's in a daemon that has its own; SIGPIPE is ignored by the caller. */
	if (curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    (c->resolve != NULL && curl_easy_setopt(h, CURLOPT_RESOLVE, c->resolve) != CURLE_OK) ||
	    curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "gameday-agent") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_error) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c) != CURLE_OK)
		return -EINVAL;
	return 0;
}

int
uplink_new(const char *url, size_t max_addrs, struct uplink **ret, char *why, size_t whylen)
{
	const char *uwhy = NULL;
	struct uplink *c;
	char host[256];
	bool numeric = false;
	int r;

	if ((c = gd_calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	if (max_addrs > GD_MAX_EXEMPT_HOSTS)
		max_addrs = GD_MAX_EXEMPT_HOSTS;
	if ((r = url_split(c, url, host, sizeof(host), &uwhy)) < 0) {
		(void)snprintf(why, whylen, "%s", r == -ENOMEM ? strerror(ENOMEM) : uwhy);
		goto fail;
	}
	if ((r = resolve(c, host, max_addrs, &numeric)) < 0) {
		(void)snprintf(why, whylen, "cannot resolve %s: %s", host, r == -ENOMEM ?
		    strerror(ENOMEM) : "no IPv4 or IPv6 address");
		goto fail;
	}
	if ((r = pin(c, host, numeric)) < 0 || (c->h = curl_easy_init()) == NULL ||
	    (r = setup_handle(c)) < 0) {
		r = r < 0 ? r : -ENOMEM;
		(void)snprintf(why, whylen, "cannot set up libcurl: %s", strerror(-r));
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	uplink_free(c);
	return r;
}

struct uplink *
uplink_free(struct uplink *c)
{
	if (c == NULL)
		return NULL;
	if (c->h != NULL)
		curl_easy_cleanup(c->h);
	curl_slist_free_all(c->resolve);
	gd_free(c);
	return NULL;
}

int
uplink_exempt(const struct uplink *c, struct policy *pol, char *why, size_t whylen)
{
	char hp[INET6_ADDRSTRLEN + 16];
	const char *pwhy = NULL;
	int r;

	for (size_t i = 0; i < c->naddrs; i++) {
		(void)snprintf(hp, sizeof(hp), strchr(c->addrs[i], ':') != NULL ? "[%s]:%u" :
		    "%s:%u", c->addrs[i], c->port);
		if ((r = policy_exempt_hostport(pol, hp, &pwhy)) < 0) {
			(void)snprintf(why, whylen, "cannot exempt the controller at %s: %s", hp,
			    pwhy);
			return r;
		}
	}
	return 0;
}

const char *
uplink_addrs(const struct uplink *c)
{
	return c->addrs_text;
}

void
uplink_set_abort(struct uplink *c, volatile sig_atomic_t *flag, int abortable)
{
	c->abort_flag = flag;
	c->abortable = abortable;
}

void
uplink_reply_clear(struct uplink_reply *r)
{
	gd_free(r->body);
	memset(r, 0, sizeof(*r));
}

void
uplink_describe(const struct uplink_reply *r, char *buf, size_t size)
{
	struct gd_err *err = gd_malloc(sizeof(*err));
	const char *code = NULL, *msg = NULL;
	cJSON *root = NULL;
	const cJSON *e;

	if (r->status == 0) {
		(void)snprintf(buf, size, "%s", r->error[0] != '\0' ? r->error : "no reply");
		gd_free(err);
		return;
	}
	if (err != NULL)
		gd_err_init(err);
	if (err != NULL && r->body != NULL && json_parse_doc(r->body, r->len,
	    GD_MAX_SMALL_REPLY_BYTES, &root, err) == 0 &&
	    (e = cJSON_GetObjectItemCaseSensitive(root, "error")) != NULL) {
		code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
		msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
	}
	(void)snprintf(buf, size, "HTTP %ld%s%s%s%s", r->status, code != NULL ? " " : "",
	    code != NULL ? log_esc(code) : "", msg != NULL ? ": " : "",
	    msg != NULL ? log_esc(msg) : "");
	cJSON_Delete(root);
	gd_free(err);
}

/* The headers of one request; our copy of the bearer line is wiped once curl has its own. */
static struct curl_slist *
headers(const char *bearer)
{
	char auth[GD_MAX_TOKEN_BYTES + 32];
	const char *const lines[] = { "Content-Type: application/json", "Expect:", auth };
	struct curl_slist *l = NULL, *n;

	(void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if ((n = curl_slist_append(l, lines[i])) == NULL) {
			curl_slist_free_all(l);
			l = NULL;
			break;
		}
		l = n;
	}
	explicit_bzero(auth, sizeof(auth));
	return l;
}

static int
transport_error(struct uplink *c, CURLcode cc, const struct sink *s, struct uplink_reply *ret)
{
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		(void)snprintf(ret->error, sizeof(ret->error), "stopped by a signal");
		return -ECANCELED;
	}
	if (s->over || cc == CURLE_FILESIZE_EXCEEDED) {
		(void)snprintf(ret->error, sizeof(ret->error), "the reply is larger than %zu bytes",
		    s->max);
		return -E2BIG;
	}
	(void)snprintf(ret->error, sizeof(ret->error), "%s", c->curl_error[0] != '\0' ?
	    c->curl_error : curl_easy_strerror(cc));
	return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

int
uplink_post(struct uplink *c, const char *path, const char *bearer, const char *body,
    long timeout_ms, size_t max_reply, struct uplink_reply *ret)
{
	struct sink s = { .max = max_reply };
	char url[GD_MAX_URL_BYTES + 64];
	struct curl_slist *hdr;
	CURLcode cc;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url))
		return -ENAMETOOLONG;
	if ((hdr = headers(bearer)) == NULL)
		return -ENOMEM;
	c->curl_error[0] = '\0';
	if (curl_easy_setopt(c->h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) !=
	    CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L) !=
	    CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_reply) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s) != CURLE_OK)
		cc = CURLE_FAILED_INIT;
	else
		cc = curl_easy_perform(c->h);
	(void)curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	if (cc != CURLE_OK) {
		r = transport_error(c, cc, &s, ret);
		gd_free(s.buf);
		return r;
	}
	(void)curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &ret->status);
	ret->body = s.buf;
	ret->len = s.len;
	return 0;
}
