/*
 * gameday-shop: the two-tier sample service of the README's demo.
 *
 *   gameday-shop db  --listen ADDR:PORT
 *   gameday-shop web --listen ADDR:PORT --db ADDR:PORT [--db-timeout DUR]
 *
 * "db" answers GET /query with {"rows":1} after a fixed think time.  "web" answers
 * GET /checkout by calling the db's /query, over a new TCP connection every time: the
 * agent's latency fault is a delaying proxy that nftables redirects new connections into,
 * and a pooled connection would slip past it.  Both tiers answer GET /metrics (Prometheus
 * text format) and GET /healthz.
 *
 * Every connection has a thread of its own (MHD_USE_THREAD_PER_CONNECTION): a checkout
 * blocks for as long as the db takes, and one slow call must not hold up the others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>
/* curl's type-checking macros need GNU C; the project builds as ISO C11. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <microhttpd.h>

#include "alloc.h"
#include "log.h"
#include "parse.h"
#include "strbuf.h"

#define SHOP_THINK_NS		1000000L	/* The db's fixed think time per query: 1 ms. */
#define SHOP_MAX_CONNECTIONS	1024		/* Open client connections per tier. */
#define SHOP_CONN_TIMEOUT_S	30U		/* An idle client connection is closed after. */
#define SHOP_MAX_DB_TIMEOUT_MS	(10ULL * 60 * 1000)	/* --db-timeout at most 10m. */
#define SHOP_MAX_DB_REPLY	65536		/* Bytes of a db reply we read at most. */
#define SHOP_MAX_METRICS	65536		/* Bytes of /metrics text at most. */

enum tier { TIER_DB, TIER_WEB };

static const char *const tier_name[] = { "db", "web" };

/* Histogram buckets of shop_request_duration_seconds (upper bounds, seconds). */
static const double bucket_le[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
static const char *const bucket_text[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5" };
#define NBUCKETS	(sizeof(bucket_le) / sizeof(bucket_le[0]))

/*
 * The status codes a counted request (/checkout or /query) can end with.  Each is exported
 * from the start, at 0, so that rate() and ratios work before the first failure.
 */
static const unsigned counted_code[] = { 200, 500, 503 };
#define NCODES		(sizeof(counted_code) / sizeof(counted_code[0]))

/* Only /checkout (web) and /query (db) are counted: scrapes and health checks are not. */
static struct {
	pthread_mutex_t lock;
	uint64_t requests[NCODES];
	uint64_t buckets[NBUCKETS];	/* Not cumulative: le[i-1] < seconds <= le[i]. */
	uint64_t count;
	double sum;
	uint64_t connections;		/* TCP connections accepted, counted or not. */
} metrics = { .lock = PTHREAD_MUTEX_INITIALIZER };

static enum tier arg_tier;
static const char *arg_listen;
static const char *arg_db;
static uint64_t arg_db_timeout_ms = 1000;
static char db_url[128];	/* http://ADDR:PORT/query, from --db. */

struct reply {
	unsigned status;
	char *body;		/* Owned (gd_free()). */
	const char *content_type;
};

/* Prints the usage (on stdout for --help, else on stderr after why) and exits. */
static _Noreturn void
usage(const char *why)
{
	FILE *out = why != NULL ? stderr : stdout;

	if (why != NULL)
		(void)fprintf(stderr, "gameday-shop: %s\n", why);
	(void)fprintf(out,
	    "usage: gameday-shop db --listen ADDR:PORT\n"
	    "       gameday-shop web --listen ADDR:PORT --db ADDR:PORT [--db-timeout DUR]\n"
	    "ADDR is IPv4 (0.0.0.0 for all) or [IPv6]; DUR like 1s or 500ms (default 1s).\n");
	exit(why != NULL ? 2 : 0);
}

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * "127.0.0.1:8080", "0.0.0.0:0" or "[::1]:8080" into *ret (an AF_INET or AF_INET6 address
 * with its port).  Port 0 only when allow_port0.  Returns 0 or -EINVAL.
 */
static int
addr_parse(const char *s, bool allow_port0, struct sockaddr_storage *ret)
{
	struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)ret;
	struct sockaddr_in *sa4 = (struct sockaddr_in *)ret;
	char host[INET6_ADDRSTRLEN];
	bool v6 = s[0] == '[';
	const char *end, *port;
	uint64_t p;
	size_t n;

	if (v6) {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -EINVAL;
		s++;
		port = end + 2;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			return -EINVAL;
		port = end + 1;
	}
	n = (size_t)(end - s);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (parse_uint(port, allow_port0 ? 0 : 1, 65535, &p, NULL) < 0)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (!v6 && inet_pton(AF_INET, host, &sa4->sin_addr) == 1) {
		sa4->sin_family = AF_INET;
		sa4->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (v6 && inet_pton(AF_INET6, host, &sa6->sin6_addr) == 1) {
		sa6->sin6_family = AF_INET6;
		sa6->sin6_port = htons((uint16_t)p);
		return 0;
	}
	return -EINVAL;
}

static void
metrics_record(unsigned status, double seconds)
{
	size_t i;

	(void)pthread_mutex_lock(&metrics.lock);
	for (i = 0; i < NCODES; i++)
		if (counted_code[i] == status)
			metrics.requests[i]++;
	for (i = 0; i < NBUCKETS && seconds > bucket_le[i]; i++)
		;
	if (i < NBUCKETS)
		metrics.buckets[i]++;
	metrics.count++;
	metrics.sum += seconds;
	(void)pthread_mutex_unlock(&metrics.lock);
}

/* The Prometheus text exposition (format 0.0.4) of both metric families into r. */
static void
metrics_render(struct reply *r)
{
	struct strbuf b = { .max = SHOP_MAX_METRICS };
	const char *t = tier_name[arg_tier];
	uint64_t cum = 0;

	(void)pthread_mutex_lock(&metrics.lock);
	strbuf_addf(&b, "# HELP shop_requests_total Requests answered (/checkout on web, "
	    "/query on db), by status code.\n# TYPE shop_requests_total counter\n");
	for (size_t i = 0; i < NCODES; i++)
		strbuf_addf(&b, "shop_requests_total{tier=\"%s\",code=\"%u\"} %llu\n", t,
		    counted_code[i], (unsigned long long)metrics.requests[i]);
	strbuf_addf(&b, "# HELP shop_request_duration_seconds Time to answer a request "
	    "(/checkout on web, /query on db).\n"
	    "# TYPE shop_request_duration_seconds histogram\n");
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += metrics.buckets[i];
		strbuf_addf(&b, "shop_request_duration_seconds_bucket{tier=\"%s\",le=\"%s\"} "
		    "%llu\n", t, bucket_text[i], (unsigned long long)cum);
	}
	strbuf_addf(&b, "shop_request_duration_seconds_bucket{tier=\"%s\",le=\"+Inf\"} %llu\n"
	    "shop_request_duration_seconds_sum{tier=\"%s\"} %.9f\n"
	    "shop_request_duration_seconds_count{tier=\"%s\"} %llu\n", t,
	    (unsigned long long)metrics.count, t, metrics.sum, t,
	    (unsigned long long)metrics.count);
	strbuf_addf(&b, "# HELP shop_connections_total TCP connections accepted.\n"
	    "# TYPE shop_connections_total counter\n"
	    "shop_connections_total{tier=\"%s\"} %llu\n", t,
	    (unsigned long long)metrics.connections);
	(void)pthread_mutex_unlock(&metrics.lock);
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->status = strbuf_finish(&b, &r->body) == 0 ? 200 : 500;
}

/* A JSON reply {"error": text}; text need not be JSON-safe. */
static void
reply_error(struct reply *r, unsigned status, const char *text)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	r->status = status;
	r->content_type = "application/json";
	if (o == NULL || cJSON_AddStringToObject(o, "error", text) == NULL ||
	    (s = cJSON_PrintUnformatted(o)) == NULL) {
		r->body = gd_strdup("{\"error\":\"out of memory\"}");
		r->status = 500;
	} else {
		r->body = gd_strdup(s);
		cJSON_free(s);
	}
	cJSON_Delete(o);
}

static void
reply_json(struct reply *r, unsigned status, const char *json)
{
	r->status = status;
	r->content_type = "application/json";
	r->body = gd_strdup(json);
}

/* Counts the bytes of the db's reply and drops them; more than the limit aborts. */
static size_t
db_discard(char *data, size_t size, size_t n, void *arg)
{
	size_t *total = arg;

	(void)data;
	if (n != 0 && size > SHOP_MAX_DB_REPLY / n)
		return 0;
	*total += size * n;
	return *total > SHOP_MAX_DB_REPLY ? 0 : size * n;
}

/*
 * One call of the db's /query on a fresh handle, so on a new TCP connection.  Returns 0
 * when the db answered 200, else -1 with a sentence in why.
 */
static int
db_query(char *why, size_t whylen)
{
	CURL *h = curl_easy_init();
	size_t total = 0;
	long status = 0;
	CURLcode cc;

	if (h == NULL) {
		(void)snprintf(why, whylen, "db: cannot make a request (out of memory)");
		return -1;
	}
	(void)curl_easy_setopt(h, CURLOPT_URL, db_url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	(void)curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	(void)curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)arg_db_timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)arg_db_timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, db_discard);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &total);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		(void)snprintf(why, whylen, "db: %s", curl_easy_strerror(cc));
		return -1;
	}
	if (status != 200) {
		(void)snprintf(why, whylen, "db: answered %ld", status);
		return -1;
	}
	return 0;
}

static void
handle_query(struct reply *r)
{
	struct timespec think = { 0, SHOP_THINK_NS };

	while (nanosleep(&think, &think) == -1 && errno == EINTR)
		;
	reply_json(r, 200, "{\"rows\":1}");
}

static void
handle_checkout(struct reply *r)
{
	char why[256];

	if (db_query(why, sizeof(why)) == 0)
		reply_json(r, 200, "{\"order\":\"ok\"}");
	else
		reply_error(r, 503, why);
}

/* Routes one request (the whole of it is in: we take no bodies) and fills r. */
static void
route(const char *method, const char *url, struct reply *r)
{
	double t0 = now_s();
	bool counted = false;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		reply_error(r, 405, "only GET is served");
	else if (strcmp(url, "/healthz") == 0)
		reply_json(r, 200, "{\"status\":\"ok\"}");
	else if (strcmp(url, "/metrics") == 0)
		metrics_render(r);
	else if (arg_tier == TIER_DB && strcmp(url, "/query") == 0) {
		handle_query(r);
		counted = true;
	} else if (arg_tier == TIER_WEB && strcmp(url, "/checkout") == 0) {
		handle_checkout(r);
		counted = true;
	} else
		reply_error(r, 404, "no such path");
	if (r->body == NULL)
		r->status = 500;
	if (counted)
		metrics_record(r->status, now_s() - t0);
}

/*
 * Counts accepted connections.  With it, a test (or an operator) sees that every checkout
 * opened a new connection to the db, as the latency fault's proxy needs.
 */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	(void)conn;
	(void)socket_context;
	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	(void)pthread_mutex_lock(&metrics.lock);
	metrics.connections++;
	(void)pthread_mutex_unlock(&metrics.lock);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	static int seen;	/* A marker: the first call (headers only) was made. */
	struct reply r = { 0 };
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	(void)upload;
	if (*con_cls == NULL) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*upload_size = 0;	/* Bodies are read and dropped. */
		return MHD_YES;
	}
	route(method, url, &r);
	resp = MHD_create_response_from_buffer(r.body != NULL ? strlen(r.body) : 0,
	    r.body != NULL ? r.body : (char *)"", MHD_RESPMEM_MUST_COPY);
	gd_free(r.body);
	if (resp == NULL)
		return MHD_NO;
	if (r.content_type != NULL)
		(void)MHD_add_response_header(resp, "Content-Type", r.content_type);
	if (r.status == 405)
		(void)MHD_add_response_header(resp, "Allow", "GET, HEAD");
	ret = MHD_queue_response(conn, r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
parse_args(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "db", required_argument, NULL, 'd' },
		{ "db-timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_storage ss;
	bool timeout_set = false;
	const char *why = NULL;
	char msg[160];
	int c;

	if (argc < 2)
		usage("the first argument is the tier: db or web");
	if (strcmp(argv[1], "db") == 0)
		arg_tier = TIER_DB;
	else if (strcmp(argv[1], "web") == 0)
		arg_tier = TIER_WEB;
	else
		usage(strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ? NULL :
		    "the first argument is the tier: db or web");
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			arg_listen = optarg;
			break;
		case 'd':
			arg_db = optarg;
			break;
		case 't':
			timeout_set = true;
			if (duration_parse(optarg, &arg_db_timeout_ms, &why) < 0 ||
			    arg_db_timeout_ms == 0 || arg_db_timeout_ms > SHOP_MAX_DB_TIMEOUT_MS) {
				(void)snprintf(msg, sizeof(msg), "--db-timeout: %s", why != NULL ?
				    why : "must be from 1ms to 10m");
				usage(msg);
			}
			break;
		case 'h':
			usage(NULL);
		default:
			usage("unknown option, or an option without its value");
		}
	}
	if (optind + 1 != argc)
		usage("unexpected argument");
	if (arg_listen == NULL || addr_parse(arg_listen, true, &ss) < 0)
		usage("--listen ADDR:PORT is required (IPv4 or [IPv6], port 0..65535)");
	if (arg_tier == TIER_DB && arg_db != NULL)
		usage("--db is for the web tier");
	if (arg_tier == TIER_DB && timeout_set)
		usage("--db-timeout is for the web tier");
	if (arg_tier == TIER_WEB && (arg_db == NULL || addr_parse(arg_db, false, &ss) < 0))
		usage("--db ADDR:PORT is required (IPv4 or [IPv6], port 1..65535)");
	if (arg_tier == TIER_WEB)
		(void)snprintf(db_url, sizeof(db_url), "http://%s/query", arg_db);
}

/* Starts the HTTP server on --listen; the caller owns the daemon (MHD_stop_daemon()). */
static struct MHD_Daemon *
listen_start(char *where, size_t wherelen)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	char host[INET6_ADDRSTRLEN] = "";
	unsigned port;

	(void)addr_parse(arg_listen, true, &ss);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SHOP_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, SHOP_CONN_TIMEOUT_S,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_END);
	if (d == NULL)
		return NULL;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = info != NULL ? info->port : 0;
	if (ss.ss_family == AF_INET6) {
		(void)inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
		    sizeof(host));
		(void)snprintf(where, wherelen, "[%s]:%u", host, port);
	} else {
		(void)inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
		    sizeof(host));
		(void)snprintf(where, wherelen, "%s:%u", host, port);
	}
	return d;
}

int
main(int argc, char *argv[])
{
	struct MHD_Daemon *d;
	char where[INET6_ADDRSTRLEN + 16];
	sigset_t set;
	int sig = 0;

	parse_args(argc, argv);
	log_init("gameday-shop", LOG_LEVEL_INFO);
	/* Blocked before any thread starts, so that only sigwait() below sees them. */
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("cannot initialise libcurl");
	if ((d = listen_start(where, sizeof(where))) == NULL)
		fatalx("cannot listen on %s (in use, or not an address of this host)",
		    log_esc(arg_listen));
	if (arg_tier == TIER_WEB)
		log_info("tier=web db=%s db_timeout_ms=%llu listening on %s", log_esc(arg_db),
		    (unsigned long long)arg_db_timeout_ms, where);
	else
		log_info("tier=db listening on %s", where);
	while (sigwait(&set, &sig) != 0)
		;
	log_info("tier=%s signal=%d, stopping", tier_name[arg_tier], sig);
	MHD_stop_daemon(d);
	curl_global_cleanup();
	return 0;
}
