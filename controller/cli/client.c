/*
 * The CLI's HTTP client: one libcurl easy handle, made by the first request and reused (a
 * run watch keeps its connection across long-polls).  Replies are read into memory up to
 * CLIENT_MAX_REPLY_BYTES and parsed with the same checks as any untrusted JSON.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "alloc.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "parse.h"

/* Details of an error reply printed at most; the rest are counted. */
#define CLIENT_MAX_DETAILS	64

struct client {
	CURL *h;
	char *noproxy;			/* The user's no_proxy plus the loopback names. */
	struct curl_slist *headers;	/* The Authorization one holds the token. */
	char *base;			/* The URL without its trailing slashes. */
	bool has_token;
	bool curl_inited;
	char errbuf[CURL_ERROR_SIZE];
};

struct reply_buf {
	char *p;
	size_t len, cap;
	bool too_large;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply_buf *b = arg;
	size_t n, need;
	char *p;

	if (gd_mul_size(size, nmemb, &n) < 0 || gd_add_size(b->len, n, &need) < 0 ||
	    need > CLIENT_MAX_REPLY_BYTES) {
		b->too_large = true;
		return 0;
	}
	if (need + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 16384 : b->cap;

		while (cap < need + 1)
			cap *= 2;	/* Below 2 * CLIENT_MAX_REPLY_BYTES: no overflow. */
		if ((p = gd_realloc(b->p, cap)) == NULL)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len = need;
	b->p[b->len] = '\0';
	return n;
}

/* Printable ASCII without spaces: what can go into a header line, and all a token has. */
static bool
token_chars_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/*
 * The token, from --token-file or else --token / GAMEDAY_TOKEN, into *ret (NULL: none); the
 * caller clears and frees it.  Returns an exit code.
 */
static int
load_token(const struct cli *cli, char **ret)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	if (cli->token_file != NULL) {
		r = cli_read_file(cli->token_file, CLIENT_MAX_TOKEN_BYTES, &buf, &len);
		if (r == -EFBIG)
			(void)fprintf(stderr, "gameday: the token file '%s' is over %d bytes\n",
			    log_esc(cli->token_file), CLIENT_MAX_TOKEN_BYTES);
		if (r < 0)
			return CLI_FAILED;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		    buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			buf[--len] = '\0';
		if (len == 0) {
			gd_free(buf);
			(void)fprintf(stderr, "gameday: the token file '%s' is empty\n",
			    log_esc(cli->token_file));
			return CLI_FAILED;
		}
	} else if (cli->token != NULL && cli->token[0] != '\0') {
		if ((buf = gd_strdup(cli->token)) == NULL) {
			(void)fputs("gameday: out of memory\n", stderr);
			return CLI_FAILED;
		}
	}
	if (buf != NULL && !token_chars_ok(buf)) {
		explicit_bzero(buf, strlen(buf));
		gd_free(buf);
		return cli_usage_error("the token has characters no token has (spaces, control "
		    "characters or non-ASCII)");
	}
	*ret = buf;
	return CLI_OK;
}

/* The base URL: http or https, a host, no user, query or fragment; trailing '/' dropped. */
static int
check_base(const char *url, char **ret)
{
	const char *why = NULL;
	size_t len;

	if (url_check(url, &why) < 0)
		return cli_usage_error("--url '%s': %s", log_esc(url), why);
	if (strpbrk(url, "?#") != NULL)
		return cli_usage_error("--url '%s': the controller's URL has no query or fragment",
		    log_esc(url));
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if ((*ret = gd_strndup(url, len)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	return CLI_OK;
}

/* Frees an slist, clearing each line first (one of them holds the token). */
static void
headers_free(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i != NULL; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static int
make_headers(struct client *c, const char *token)
{
	static const char *const fixed[] = {
		"Accept: application/json",
		"Content-Type: application/json",
		"Expect:",	/* No 100-continue round trip before a body. */
	};
	struct curl_slist *l = NULL, *n;
	char *auth = NULL;
	size_t size;
	int r = -ENOMEM;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if ((n = curl_slist_append(l, fixed[i])) == NULL)
			goto out;
		l = n;
	}
	if (token != NULL) {
		size = strlen(token) + sizeof("Authorization: Bearer ");
		if ((auth = gd_malloc(size)) == NULL)
			goto out;
		(void)snprintf(auth, size, "Authorization: Bearer %s", token);
		n = curl_slist_append(l, auth);
		explicit_bzero(auth, size);
		gd_free(auth);
		if (n == NULL)
			goto out;
		l = n;
		c->has_token = true;
	}
	c->headers = l;
	l = NULL;
	r = 0;
out:
	headers_free(l);
	return r;
}

/*
 * Proxies from the environment are honoured (curl's way), except for a controller on this
 * host: a proxy would only break the connection, and it would see the token.
 */
static int
make_noproxy(struct client *c)
{
	static const char loopback[] = "localhost,127.0.0.1,::1";
	const char *user = getenv("no_proxy");
	size_t size;

	if (user == NULL || user[0] == '\0')
		user = getenv("NO_PROXY");
	if (user == NULL)
		user = "";
	size = strlen(user) + sizeof(loopback) + 1;
	if ((c->noproxy = gd_malloc(size)) == NULL)
		return -ENOMEM;
	(void)snprintf(c->noproxy, size, "%s%s%s", user, user[0] != '\0' ? "," : "", loopback);
	return 0;
}

static int
client_setup(struct client *c)
{
	CURL *h = c->h;

	if (make_noproxy(c) < 0 || curl_easy_setopt(h, CURLOPT_NOPROXY, c->noproxy) != CURLE_OK)
		return -ENOMEM;
	if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)CLIENT_CONNECT_TIMEOUT_S * 1000) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)CLIENT_MAX_REPLY_BYTES) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "gameday-cli") != CURLE_OK)
		return -EINVAL;
	return 0;
}

/* Makes cli->client on first use.  Returns an exit code. */
static int
client_get_or_make(struct cli *cli, struct client **ret)
{
	struct client *c;
	char *token = NULL;
	int r;

	if (cli->client != NULL) {
		*ret = cli->client;
		return CLI_OK;
	}
	if ((c = gd_calloc(1, sizeof(*c))) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	if ((r = check_base(cli->url, &c->base)) != CLI_OK ||
	    (r = load_token(cli, &token)) != CLI_OK)
		goto fail;
	r = CLI_FAILED;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		(void)fputs("gameday: cannot initialise libcurl\n", stderr);
		goto fail;
	}
	c->curl_inited = true;
	if ((c->h = curl_easy_init()) == NULL || make_headers(c, token) < 0 ||
	    client_setup(c) < 0) {
		(void)fputs("gameday: cannot set up libcurl (out of memory?)\n", stderr);
		goto fail;
	}
	if (token != NULL)
		explicit_bzero(token, strlen(token));
	gd_free(token);
	cli->client = c;
	*ret = c;
	return CLI_OK;
fail:
	if (token != NULL)
		explicit_bzero(token, strlen(token));
	gd_free(token);
	client_free(c);
	return r;
}

struct client *
client_free(struct client *c)
{
	if (c == NULL)
		return NULL;
	if (c->h != NULL)
		curl_easy_cleanup(c->h);
	headers_free(c->headers);
	gd_free(c->noproxy);
	gd_free(c->base);
	if (c->curl_inited)
		curl_global_cleanup();
	gd_free(c);
	return NULL;
}

char *
client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t size, o = 0;
	char *out;

	if (gd_mul_size(strlen(s), 3, &size) < 0 || gd_add_size(size, 1, &size) < 0 ||
	    (out = gd_malloc(size)) == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0x0f];
		}
	}
	out[o] = '\0';
	return out;
}

/* Prints {"error": {"message", "details"}} as the contract says, or what can be said. */
static void
print_error_reply(const struct client *c, long status, const cJSON *reply, const char *body,
    size_t len)
{
	const cJSON *e = cli_get(reply, "error"), *msg = cli_get(e, "message");
	const cJSON *code = cli_get(e, "code"), *details = cli_get(e, "details"), *d;
	size_t n = 0;

	(void)fputs("gameday: ", stderr);
	if (cJSON_IsString(msg) && msg->valuestring[0] != '\0') {
		cli_put(stderr, msg->valuestring, false);
	} else {
		(void)fprintf(stderr, "the controller at %s answered HTTP %ld", c->base, status);
		if (cJSON_IsString(code)) {
			(void)fputs(" (", stderr);
			cli_put(stderr, code->valuestring, false);
			(void)fputc(')', stderr);
		} else if (reply == NULL && len > 0) {
			/* Not JSON at all (a proxy's page?): its start says the most. */
			(void)fprintf(stderr, ": %s", log_esc(body));
		}
	}
	(void)fputc('\n', stderr);
	if (!cJSON_IsArray(details))
		details = NULL;
	cJSON_ArrayForEach(d, details) {
		if (++n > CLIENT_MAX_DETAILS)
			continue;
		(void)fputs("  ", stderr);
		cli_put(stderr, cli_str(d, "path"), false);
		(void)fputs(": ", stderr);
		cli_put(stderr, cli_str(d, "message"), false);
		(void)fputc('\n', stderr);
	}
	if (n > CLIENT_MAX_DETAILS)
		(void)fprintf(stderr, "  (%zu more not shown)\n", n - CLIENT_MAX_DETAILS);
	if (status == 401 && !c->has_token)
		(void)fputs("gameday: no token was given (--token, --token-file or "
		    "GAMEDAY_TOKEN)\n", stderr);
}

/* Says why curl_easy_perform() failed, naming the controller's URL. */
static void
print_transfer_error(const struct client *c, CURLcode rc, const struct reply_buf *b,
    int timeout_s)
{
	const char *detail = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
		if (rc == CURLE_FILESIZE_EXCEEDED || b->too_large)
			(void)fprintf(stderr, "gameday: the reply from %s is larger than %d bytes, "
			    "refused\n", c->base, CLIENT_MAX_REPLY_BYTES);
		else
			(void)fputs("gameday: out of memory\n", stderr);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		(void)fprintf(stderr, "gameday: no answer from the controller at %s within %d s\n",
		    c->base, timeout_s);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		(void)fprintf(stderr, "gameday: cannot reach the controller at %s: %s\n", c->base,
		    log_esc(detail));
		break;
	default:
		(void)fprintf(stderr, "gameday: the request to the controller at %s failed: %s\n",
		    c->base, log_esc(detail));
		break;
	}
}

static int
set_request(struct client *c, const char *method, const char *url, const char *body,
    size_t len, int timeout_s, struct reply_buf *b)
{
	CURL *h = c->h;
	CURLcode rc;

	c->errbuf[0] = '\0';
	rc = curl_easy_setopt(h, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	if (rc == CURLE_OK && body == NULL)
		rc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (rc == CURLE_OK && body != NULL)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if (rc == CURLE_OK && body != NULL)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	/* GET and POST are curl's own; anything else is named (NULL resets it). */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
		    strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ? NULL : method);
	if (rc != CURLE_OK) {
		(void)fprintf(stderr, "gameday: cannot set up the request: %s\n",
		    curl_easy_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

/* Turns a finished transfer into the exit code and, on success, *ret_reply. */
static int
handle_reply(const struct client *c, long status, struct reply_buf *b, cJSON **ret_reply)
{
	static struct gd_err err;	/* ~40 KiB: too large for a comfortable stack frame. */
	cJSON *reply = NULL;
	char *loc = NULL;
	int r;

	gd_err_init(&err);
	r = b->len > 0 ? json_parse_doc(b->p, b->len, CLIENT_MAX_REPLY_BYTES, &reply, &err) :
	    -EINVAL;
	if (r == -ENOMEM) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	if (status >= 200 && status <= 299) {
		if (r == 0 && cJSON_IsObject(reply)) {
			*ret_reply = reply;
			return CLI_OK;
		}
		(void)fprintf(stderr, "gameday: the reply from %s (HTTP %ld) is not a JSON object",
		    c->base, status);
		if (r < 0 && err.n > 0)
			(void)fprintf(stderr, ": %s", err.items[0].msg);
		(void)fputc('\n', stderr);
	} else if (status >= 300 && status <= 399) {
		(void)curl_easy_getinfo(c->h, CURLINFO_REDIRECT_URL, &loc);
		(void)fprintf(stderr, "gameday: the controller at %s answered HTTP %ld, a redirect "
		    "to '%s', which is not followed (check --url)\n", c->base, status,
		    log_esc(loc != NULL ? loc : "?"));
	} else {
		print_error_reply(c, status, r == 0 ? reply : NULL, b->p != NULL ? b->p : "",
		    b->len);
	}
	cJSON_Delete(reply);
	return CLI_FAILED;
}

int
client_call(struct cli *cli, const char *method, const char *path, const char *body,
    size_t len, int timeout_s, cJSON **ret_reply, long *ret_status)
{
	struct reply_buf b = { 0 };
	struct client *c;
	char *url = NULL;
	long status = 0;
	CURLcode rc;
	size_t size;
	int r;

	if ((r = client_get_or_make(cli, &c)) != CLI_OK)
		return r;
	if (timeout_s <= 0)
		timeout_s = CLIENT_TIMEOUT_S;
	r = CLI_FAILED;
	size = strlen(c->base) + strlen(path) + 1;
	if ((url = gd_malloc(size)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		goto out;
	}
	(void)snprintf(url, size, "%s%s", c->base, path);
	if (set_request(c, method, url, body, len, timeout_s, &b) < 0)
		goto out;
	if ((rc = curl_easy_perform(c->h)) != CURLE_OK) {
		print_transfer_error(c, rc, &b, timeout_s);
		goto out;
	}
	(void)curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if ((r = handle_reply(c, status, &b, ret_reply)) == CLI_OK && ret_status != NULL)
		*ret_status = status;
out:
	gd_free(b.p);
	gd_free(url);
	return r;
}

int
client_get(struct cli *cli, const char *path, int timeout_s, cJSON **ret_reply)
{
	return client_call(cli, "GET", path, NULL, 0, timeout_s, ret_reply, NULL);
}

int
client_post(struct cli *cli, const char *path, const cJSON *body, cJSON **ret_reply,
    long *ret_status)
{
	char *text;
	int r;

	if (body == NULL)
		return client_call(cli, "POST", path, "{}", 2, 0, ret_reply, ret_status);
	if ((text = cJSON_PrintUnformatted(body)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	r = client_call(cli, "POST", path, text, strlen(text), 0, ret_reply, ret_status);
	gd_free(text);
	return r;
}
