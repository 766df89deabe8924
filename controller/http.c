#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "alloc.h"
#include "api.h"
#include "dispatch.h"
#include "json.h"
#include "log.h"
#include "timeutil.h"

struct waiter {
	struct waiter *next;
	struct req *q;
};

void
reply_json(struct reply *r, unsigned status, cJSON *body)
{
	char *text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;

	cJSON_Delete(body);
	if (text == NULL) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	gd_free(r->body);
	r->status = status;
	r->body = text;
	r->len = strlen(text);
	r->content_type = "application/json";
}

void
reply_error(struct reply *r, unsigned status, const char *code, const char *fmt, ...)
{
	static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
	    "memory\"}}";
	char msg[512];
	cJSON *root, *e;
	char *text;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	root = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(root, "error");
	(void)cJSON_AddStringToObject(e, "code", code);
	(void)cJSON_AddStringToObject(e, "message", msg);
	text = e != NULL ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	gd_free(r->body);
	r->status = text != NULL ? status : 500;
	r->body = text != NULL ? text : gd_strdup(oom);
	r->len = r->body != NULL ? strlen(r->body) : 0;
	r->content_type = "application/json";
}

void
reply_text(struct reply *r, unsigned status, const char *content_type, char *text)
{
	if (text == NULL) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	gd_free(r->body);
	r->status = status;
	r->body = text;
	r->len = strlen(text);
	r->content_type = content_type;
}

const char *
req_query(struct req *q, const char *key)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, key);
}

cJSON *
req_json(struct req *q, struct reply *r, const char *const *allowed)
{
	struct gd_err err;
	struct jctx c;
	cJSON *root = NULL;

	gd_err_init(&err);
	if (q->len == 0) {
		reply_error(r, 400, "bad_request", "the request needs a JSON object body");
		return NULL;
	}
	if (json_parse_doc(q->body, q->len, CTL_MAX_BODY, &root, &err) < 0) {
		if (err.n > 0)
			reply_error(r, 400, "bad_request", "body: %s: %s", err.items[0].path,
			    err.items[0].msg);
		else
			reply_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	jctx_init(&c, &err);
	if (!j_object(&c, root, allowed) || err.n > 0) {
		if (err.n > 0)
			reply_error(r, 400, "bad_request", "body: %s: %s", err.items[0].path,
			    err.items[0].msg);
		else
			reply_error(r, 400, "bad_request", "body: must be a JSON object");
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

static enum MHD_Result
queue(struct MHD_Connection *conn, struct reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	bool cache_set = false;

	if (r->body == NULL)
		reply_error(r, 500, "internal", "no reply");
	resp = MHD_create_response_from_buffer(r->len, r->body != NULL ? r->body : (char *)"",
	    MHD_RESPMEM_MUST_COPY);
	gd_free(r->body);
	r->body = NULL;
	if (resp == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, "Content-Type", r->content_type != NULL ?
	    r->content_type : "application/json");
	for (const char *const *h = r->headers; h != NULL && h[0] != NULL; h += 2) {
		(void)MHD_add_response_header(resp, h[0], h[1]);
		cache_set |= strcmp(h[0], "Cache-Control") == 0;
	}
	if (!cache_set)
		(void)MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* FNV-1a: a waiter's bucket, so that a wake touches only the polls of its key. */
static size_t
bucket(const char *key)
{
	uint32_t h = 2166136261U;

	for (; *key != '\0'; key++)
		h = (h ^ (uint8_t)*key) * 16777619U;
	return h % CTL_WAIT_BUCKETS;
}

/* Registers q as a waiter and suspends its connection, unless a wake came meanwhile. */
static bool
suspend(struct ctl *c, struct req *q)
{
	struct waiter *w;

	(void)pthread_mutex_lock(&c->wlock);
	if (c->stopping || q->wait_seq != c->wake_seq) {
		(void)pthread_mutex_unlock(&c->wlock);
		return false;	/* Something changed since the handler looked: look again. */
	}
	if ((w = gd_calloc(1, sizeof(*w))) == NULL) {
		(void)pthread_mutex_unlock(&c->wlock);
		return false;
	}
	w->q = q;
	w->next = c->waiters[bucket(q->wait_key)];
	c->waiters[bucket(q->wait_key)] = w;
	c->nwaiters++;
	MHD_suspend_connection(q->conn);
	(void)pthread_mutex_unlock(&c->wlock);
	return true;
}

/* Under wlock: unlinks *pw and resumes its connection. */
static void
resume_locked(struct ctl *c, struct waiter **pw)
{
	struct waiter *w = *pw;

	*pw = w->next;
	c->nwaiters--;
	w->q->resumed = true;
	MHD_resume_connection(w->q->conn);
	gd_free(w);
}

void
ctl_wake(struct ctl *c, const char *key)
{
	if (strncmp(key, "host:", 5) == 0)
		dispatch_kick(c);	/* The host may be one reached over SSH. */
	(void)pthread_mutex_lock(&c->wlock);
	c->wake_seq++;
	for (struct waiter **pw = &c->waiters[bucket(key)]; *pw != NULL;)
		if (strcmp((*pw)->q->wait_key, key) == 0)
			resume_locked(c, pw);
		else
			pw = &(*pw)->next;
	(void)pthread_mutex_unlock(&c->wlock);
}

void
ctl_wake_all(struct ctl *c)
{
	(void)pthread_mutex_lock(&c->wlock);
	c->wake_seq++;
	for (size_t b = 0; b < CTL_WAIT_BUCKETS; b++)
		while (c->waiters[b] != NULL)
			resume_locked(c, &c->waiters[b]);
	(void)pthread_mutex_unlock(&c->wlock);
}

void
http_expire_waiters(struct ctl *c)
{
	int64_t now = gd_mono_ms();

	(void)pthread_mutex_lock(&c->wlock);
	for (size_t b = 0; b < CTL_WAIT_BUCKETS; b++)
		for (struct waiter **pw = &c->waiters[b]; *pw != NULL;)
			if ((*pw)->q->wait_deadline <= now)
				resume_locked(c, pw);
			else
				pw = &(*pw)->next;
	(void)pthread_mutex_unlock(&c->wlock);
}

/* The Content-Length header: -1 when absent, -2 when malformed. */
static long long
content_length(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	long long n;

	if (v == NULL)
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0)
		return -2;
	return n;
}

static bool
has_body_method(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "PATCH") == 0;
}

/* First call of a request: limits on the body, before any of it is read. */
static int
first_call(struct req *q, struct reply *r)
{
	long long n = content_length(q->conn);

	if (!has_body_method(q->method))
		return 0;
	if (n == -2) {
		reply_error(r, 400, "bad_request", "Content-Length is not a number");
		return -1;
	}
	if (n == -1) {
		/* Chunked or unbounded bodies would be read before their size is known. */
		reply_error(r, 411, "length_required", "a request body needs a Content-Length "
		    "(chunked bodies are not accepted)");
		return -1;
	}
	if (n > CTL_MAX_BODY) {
		reply_error(r, 413, "too_large", "the body is %lld bytes; the limit is %d", n,
		    CTL_MAX_BODY);
		return -1;
	}
	return 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct ctl *c = cls;
	struct req *q = *con_cls;
	struct reply r = { 0 };
	int rc;

	(void)version;
	if (q == NULL) {
		if ((q = gd_calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		q->c = c;
		q->conn = conn;
		q->method = method;
		q->url = url;
		*con_cls = q;
		(void)pthread_mutex_lock(&c->wlock);
		c->requests++;
		(void)pthread_mutex_unlock(&c->wlock);
		if (first_call(q, &r) < 0) {
			q->answered = true;
			return queue(conn, &r);
		}
		return MHD_YES;
	}
	if (q->answered) {
		*upload_size = 0;	/* Discard: the reply is already out. */
		return MHD_YES;
	}
	if (*upload_size > 0) {
		char *p;

		if (q->len + *upload_size > CTL_MAX_BODY) {
			/* More than Content-Length promised (MHD checks too). */
			*upload_size = 0;
			q->answered = true;
			reply_error(&r, 413, "too_large", "the body is over %d bytes",
			    CTL_MAX_BODY);
			return queue(conn, &r);
		}
		if ((p = gd_realloc(q->body, q->len + *upload_size + 1)) == NULL)
			return MHD_NO;
		memcpy(p + q->len, upload, *upload_size);
		q->body = p;
		q->len += *upload_size;
		q->body[q->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	/* The whole body is here (or the request was resumed): dispatch. */
	for (;;) {
		(void)pthread_mutex_lock(&c->wlock);
		q->wait_seq = c->wake_seq;
		if (c->stopping || (q->wait_key[0] != '\0' && q->wait_deadline <= gd_mono_ms()))
			q->answer_now = true;
		(void)pthread_mutex_unlock(&c->wlock);
		rc = api_dispatch(q, &r);
		if (rc != HTTP_SUSPEND)
			break;
		if (q->answer_now || q->wait_deadline <= gd_mono_ms() || ++q->spins > 1000) {
			/* The handler asked to wait, but time is up: it answers now. */
			q->answer_now = true;
			continue;
		}
		if (suspend(c, q))
			return MHD_YES;
	}
	return queue(conn, &r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q == NULL)
		return;
	gd_free(q->body);
	gd_free(q);
	*con_cls = NULL;
}

static int
read_pem(const char *path, char **ret, char *why, size_t whylen)
{
	char buf[65536];
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		(void)snprintf(why, whylen, "cannot open '%s': %s", log_esc(path),
		    strerror(errno));
		return -errno;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	(void)close(fd);
	buf[len] = '\0';
	if (len == 0 || len == sizeof(buf) - 1) {
		(void)snprintf(why, whylen, "'%s' is empty or over 64 KiB", log_esc(path));
		return -EINVAL;
	}
	*ret = gd_strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *ret != NULL ? 0 : -ENOMEM;
}

int
http_start(struct ctl *c, char *why, size_t whylen)
{
	struct sockaddr_in6 sa6 = { 0 };
	struct sockaddr_in sa4 = { 0 };
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	char *cert = NULL, *key = NULL;
	const union MHD_DaemonInfo *info;
	int r;

	if (inet_pton(AF_INET, c->cfg.listen_addr, &sa4.sin_addr) == 1) {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons(c->cfg.listen_port);
		sa = (const struct sockaddr *)&sa4;
	} else if (inet_pton(AF_INET6, c->cfg.listen_addr, &sa6.sin6_addr) == 1) {
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons(c->cfg.listen_port);
		sa = (const struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else {
		(void)snprintf(why, whylen, "listen address '%s' is not an IP address",
		    log_esc(c->cfg.listen_addr));
		return -EINVAL;
	}
	if (c->cfg.tls_cert[0] != '\0') {
		if ((r = read_pem(c->cfg.tls_cert, &cert, why, whylen)) < 0 ||
		    (r = read_pem(c->cfg.tls_key, &key, why, whylen)) < 0) {
			gd_free(cert);
			return r;
		}
		flags |= MHD_USE_TLS;
	}
	c->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, c,
	    MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, c,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	    MHD_OPTION_CONNECTION_LIMIT, c->cfg.max_connections,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(CTL_MAX_HEADERS + 16384),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_END);
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	gd_free(cert);
	gd_free(key);
	if (c->mhd == NULL) {
		(void)snprintf(why, whylen, "cannot listen on %s:%u (in use, or not an address "
		    "of this host%s)", log_esc(c->cfg.listen_addr), c->cfg.listen_port,
		    c->cfg.tls_cert[0] != '\0' ? ", or a bad certificate or key" : "");
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_BIND_PORT);
	c->port = info != NULL ? info->port : c->cfg.listen_port;
	return 0;
}

void
http_stop(struct ctl *c)
{
	if (c->mhd == NULL)
		return;
	(void)pthread_mutex_lock(&c->wlock);
	c->stopping = true;
	(void)pthread_mutex_unlock(&c->wlock);
	ctl_wake_all(c);
	/* Give the resumed long-polls a moment to answer before the sockets close. */
	for (int i = 0; i < 50; i++) {
		const union MHD_DaemonInfo *info = MHD_get_daemon_info(c->mhd,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

		if (info == NULL || info->num_connections == 0)
			break;
		(void)usleep(10000);
	}
	(void)MHD_quiesce_daemon(c->mhd);
	ctl_wake_all(c);
	MHD_stop_daemon(c->mhd);
	c->mhd = NULL;
}
