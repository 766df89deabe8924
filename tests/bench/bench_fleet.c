/*
 * A load generator that speaks the agent protocol (docs/api.md): N simulated agents on one
 * gamedayd over loopback.  Each enrols, long-polls, applies the inject order it gets
 * (reports it applied; nothing is touched on this host) and polls again holding the fault.
 * Then it measures:
 *  - gamedayd's resident memory with the N long-polls open, per agent;
 *  - the time from `POST /v1/halt` (halt --all) to each agent receiving its revert order
 *    on its open poll: p50, p99, max;
 *  - the time from halt to the run's verified end (every agent reported its revert).
 *
 *   bench_fleet N        (GD_CTL_BIN names gamedayd; run as a user with N*2+100 fds)
 */
#include <sys/resource.h>

#include "harness.h"

#define POLL_BODY_MAX 512

enum phase { P_POLL, P_REPORT };

struct agent {
	CURL *h;
	struct curl_slist *hdr;
	char host[32], cred[80], fault_id[40], body[POLL_BODY_MAX];
	char order[32];
	enum phase phase;
	struct h_buf reply;
	bool holding, reverted;
	double t_revert;	/* When the revert order arrived (monotonic ms). */
	double t_sent;		/* Its reply's server_time (wall ms). */
	int orders_seen;
};

static struct agent *agents;
static size_t n_agents;
static struct gd g;
static CURLM *multi;

/* Stops the gamedayd we started (it holds our stdout) and exits 1. */
static _Noreturn void
die(const char *what)
{
	(void)fprintf(stderr, "bench_fleet: %s\n", what);
	if (g.pid > 0)
		gd_stop(&g);
	exit(1);
}

static void
agent_request(struct agent *a, const char *path, const char *body)
{
	char url[128];

	(void)snprintf(url, sizeof(url), "%s%s", g.url, path);
	(void)snprintf(a->body, sizeof(a->body), "%s", body);
	free(a->reply.p);
	a->reply.p = NULL;
	a->reply.len = 0;
	(void)curl_easy_setopt(a->h, CURLOPT_URL, url);
	(void)curl_easy_setopt(a->h, CURLOPT_POSTFIELDS, a->body);
	(void)curl_easy_setopt(a->h, CURLOPT_POSTFIELDSIZE, (long)strlen(a->body));
	(void)curl_multi_add_handle(multi, a->h);
}

static void
agent_poll(struct agent *a)
{
	char body[POLL_BODY_MAX];

	if (a->holding)
		(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"lease_ms\":600000,"
		    "\"wait_ms\":25000,\"faults\":[{\"id\":\"%s\",\"order\":\"%s\",\"state\":"
		    "\"applied\"}]}", a->host, a->fault_id, a->order);
	else
		(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"lease_ms\":600000,"
		    "\"wait_ms\":25000,\"faults\":[]}", a->host);
	a->phase = P_POLL;
	agent_request(a, "/v1/agent/poll", body);
}

/* "2026-11-29T10:00:00.123Z" as Unix ms. */
static double
wall_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;

	if (sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	    &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000 + ms;
}

static double
now_wall_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* A poll came back: take the first order, report it, or poll again. */
static void
agent_polled(struct agent *a)
{
	cJSON *o = cJSON_Parse(a->reply.p != NULL ? a->reply.p : "");
	const cJSON *order = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "orders"), 0);
	char body[POLL_BODY_MAX];

	if (order == NULL) {
		cJSON_Delete(o);
		agent_poll(a);
		return;
	}
	a->orders_seen++;
	(void)snprintf(a->order, sizeof(a->order), "%s", h_str(order, "id"));
	if (strcmp(h_str(order, "action"), "revert") == 0) {
		if (a->t_revert == 0) {
			a->t_revert = h_now_ms();
			a->t_sent = wall_ms(h_str(o, "server_time"));
		}
		a->holding = false;
		(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"order\":\"%s\",\"status\":"
		    "\"done\",\"fault_id\":\"%s\",\"state\":\"reverted\"}", a->host, a->order,
		    a->fault_id);
	} else {
		(void)snprintf(a->fault_id, sizeof(a->fault_id), "f%s", a->host);
		a->holding = true;
		(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"order\":\"%s\",\"status\":"
		    "\"done\",\"fault_id\":\"%s\",\"state\":\"applied\"}", a->host, a->order,
		    a->fault_id);
	}
	cJSON_Delete(o);
	a->phase = P_REPORT;
	agent_request(a, "/v1/agent/report", body);
}

/* Drives every agent until done() says so or timeout_ms passes. */
static bool
pump(bool (*done)(void), double timeout_ms)
{
	double t0 = h_now_ms();
	int running;

	while (!done()) {
		CURLMsg *m;
		int left;

		if (h_now_ms() - t0 > timeout_ms)
			return false;
		gd_drain(&g);
		(void)curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct agent *a;

			if (m->msg != CURLMSG_DONE)
				continue;
			(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
			(void)curl_multi_remove_handle(multi, a->h);
			if (m->data.result != CURLE_OK)
				agent_poll(a);	/* Timed out or refused: poll again. */
			else if (a->phase == P_POLL)
				agent_polled(a);
			else
				agent_poll(a);
		}
		(void)curl_multi_poll(multi, NULL, 0, 20, NULL);
	}
	return true;
}

static size_t holding_count, reverted_count;

static bool
never(void)
{
	return false;
}

static bool
all_holding(void)
{
	size_t n = 0;

	for (size_t i = 0; i < n_agents; i++)
		n += agents[i].holding;
	holding_count = n;
	return n == n_agents;
}

static bool
all_reverted(void)
{
	size_t n = 0;

	for (size_t i = 0; i < n_agents; i++)
		n += agents[i].t_revert > 0;
	reverted_count = n;
	return n == n_agents;
}

static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	(void)fclose(f);
	return kb;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static const char *
run_state(const char *admin, const char *id, char *buf)
{
	char path[64];
	cJSON *o = NULL;

	long st;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	st = h_json(&g, "GET", path, admin, NULL, &o);
	(void)snprintf(buf, 32, "%s", h_str(o, "state"));
	if (buf[0] == '\0')
		(void)fprintf(stderr, "GET %s: status %ld\n", path, st);
	cJSON_Delete(o);
	return buf;
}

int
main(int argc, char **argv)
{
	const char *bin = h_bin("GD_CTL_BIN", "gamedayd");
	char admin[80], body[1024], run[32], state[32], *tokens;
	struct rlimit rl;
	long rss0, rss1;
	double t0, t0_wall, t_end, *lat;
	cJSON *o = NULL;

	n_agents = argc > 1 ? (size_t)atol(argv[1]) : 1000;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		/* Root may raise the hard limit too; gamedayd inherits it. */
		if (rl.rlim_max < n_agents + 1000)
			rl.rlim_max = n_agents + 1000;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < n_agents + 1000) {
			(void)fprintf(stderr, "bench_fleet: %zu agents need %zu descriptors; the "
			    "limit is %llu\n", n_agents, n_agents + 1000,
			    (unsigned long long)rl.rlim_cur);
			return 1;
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (gd_start(&g, 0) < 0)
		die("gamedayd did not start");
	rss0 = rss_kb(g.pid);
	if (h_token(&g, "bench", "admin", admin, sizeof(admin)) != 0)
		die("gamedayd token create failed");
	{
		char count[24], *argv2[] = { (char *)bin, "enroll-token", "create", "--state-dir",
		    g.dir, "--count", count, NULL };
		size_t cap = n_agents * 70 + 64;

		(void)snprintf(count, sizeof(count), "%zu", n_agents);
		tokens = malloc(cap);
		t0 = h_now_ms();
		if (h_run(argv2, tokens, cap) != 0)
			die("gamedayd enroll-token create failed");
		printf("enrolment tokens: %zu in %.1f s\n", n_agents, (h_now_ms() - t0) / 1000);
	}
	agents = calloc(n_agents, sizeof(*agents));
	multi = curl_multi_init();
	(void)curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)n_agents + 16);
	t0 = h_now_ms();
	{
		char *save = NULL, *tok = strtok_r(tokens, "\n", &save);

		for (size_t i = 0; i < n_agents && tok != NULL; i++) {
			struct agent *a = &agents[i];
			char auth[128];

			(void)snprintf(a->host, sizeof(a->host), "sim%05zu", i);
			(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"tags\":{\"role\":"
			    "\"bench\"}}", a->host);
			if (h_json(&g, "POST", "/v1/agent/enroll", tok, body, &o) != 201)
				die("an enrolment failed");
			if (i % 256 == 0)
				gd_drain(&g);
			(void)snprintf(a->cred, sizeof(a->cred), "%s", h_str(o, "credential"));
			cJSON_Delete(o);
			a->h = curl_easy_init();
			(void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->cred);
			a->hdr = curl_slist_append(NULL, auth);
			a->hdr = curl_slist_append(a->hdr, "Content-Type: application/json");
			(void)curl_easy_setopt(a->h, CURLOPT_HTTPHEADER, a->hdr);
			(void)curl_easy_setopt(a->h, CURLOPT_PRIVATE, a);
			(void)curl_easy_setopt(a->h, CURLOPT_NOSIGNAL, 1L);
			(void)curl_easy_setopt(a->h, CURLOPT_TIMEOUT, 40L);
			(void)curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, h_write);
			(void)curl_easy_setopt(a->h, CURLOPT_WRITEDATA, &a->reply);
			tok = strtok_r(NULL, "\n", &save);
		}
	}
	printf("enrolled %zu agents in %.1f s\n", n_agents, (h_now_ms() - t0) / 1000);
	free(tokens);
	(void)snprintf(body, sizeof(body), "{\"apiVersion\":\"gameday/v1\",\"name\":\"fleet\","
	    "\"description\":\"bench\",\"owner\":\"bench\",\"environment\":\"staging\","
	    "\"tier\":3,\"targets\":{\"tags\":{\"role\":\"bench\"},\"pick\":\"all\"},"
	    "\"faults\":[{\"type\":\"network.partition\",\"peers\":[\"192.0.2.0/24\"]}],"
	    "\"duration\":\"1h\",\"guardrails\":{\"max_hosts\":%zu,\"max_percent\":100}}",
	    n_agents);
	if (h_http(&g, "POST", "/v1/playbooks", admin, body, NULL, NULL) != 201)
		die("playbook apply failed");
	for (size_t i = 0; i < n_agents; i++)
		agent_poll(&agents[i]);
	if (h_json(&g, "POST", "/v1/runs", admin, "{\"playbook\":\"fleet\",\"reason\":\"bench\"}",
	    &o) != 201)
		die("run start failed");
	(void)snprintf(run, sizeof(run), "%s", h_str(o, "id"));
	cJSON_Delete(o);
	t0 = h_now_ms();
	if (!pump(all_holding, 300000)) {
		(void)fprintf(stderr, "only %zu of %zu agents got their fault\n", holding_count,
		    n_agents);
		die("inject incomplete");
	}
	printf("inject: all %zu agents applied in %.0f ms\n", n_agents, h_now_ms() - t0);
	/* Let every agent settle into its held poll, then read the memory. */
	(void)pump(never, 2000);
	rss1 = rss_kb(g.pid);
	printf("gamedayd resident: %ld kB idle, %ld kB with %zu long-polls open: %.1f kB per "
	    "agent\n", rss0, rss1, n_agents, (double)(rss1 - rss0) / (double)n_agents);
	printf("run %s is %s\n", run, run_state(admin, run, state));
	t0 = h_now_ms();
	t0_wall = now_wall_ms();
	{
		long st = h_http(&g, "POST", "/v1/halt", admin, "{\"reason\":\"bench\"}", NULL,
		    NULL);

		if (st != 200) {
			(void)fprintf(stderr, "POST /v1/halt: status %ld\n", st);
			die("halt failed");
		}
	}
	printf("halt acknowledged in %.1f ms\n", h_now_ms() - t0);
	if (!pump(all_reverted, 60000))
		(void)fprintf(stderr, "only %zu of %zu agents got their revert\n", reverted_count,
		    n_agents);
	lat = calloc(n_agents, sizeof(*lat));
	for (size_t i = 0; i < n_agents; i++)
		lat[i] = agents[i].t_revert > 0 ? agents[i].t_revert - t0 : 1e9;
	qsort(lat, n_agents, sizeof(*lat), cmp_double);
	printf("halt --all to revert order read by the simulated agent, %zu agents: p50 %.1f "
	    "ms, p99 %.1f ms, max %.1f ms\n", n_agents, lat[n_agents / 2],
	    lat[(n_agents * 99) / 100], lat[n_agents - 1]);
	/* The same, as the controller stamped each reply (no load generator in it). */
	for (size_t i = 0; i < n_agents; i++)
		lat[i] = agents[i].t_sent > 0 ? agents[i].t_sent - t0_wall : 1e9;
	qsort(lat, n_agents, sizeof(*lat), cmp_double);
	printf("halt --all to revert order sent by gamedayd (its server_time), %zu agents: p50 "
	    "%.1f ms, p99 %.1f ms, max %.1f ms\n", n_agents, lat[n_agents / 2],
	    lat[(n_agents * 99) / 100], lat[n_agents - 1]);
	/* The reports come in; the run ends halted once every revert is verified. */
	t_end = h_now_ms();
	while (strcmp(run_state(admin, run, state), "halted") != 0 &&
	    h_now_ms() - t_end < 120000)
		(void)pump(never, 50);
	printf("halt to run %s: %.0f ms\n", state, h_now_ms() - t0);
	for (size_t i = 0; i < n_agents; i++) {
		(void)curl_multi_remove_handle(multi, agents[i].h);
		curl_easy_cleanup(agents[i].h);
		curl_slist_free_all(agents[i].hdr);
		free(agents[i].reply.p);
	}
	curl_multi_cleanup(multi);
	free(lat);
	free(agents);
	gd_stop(&g);
	gd_cleanup(&g);
	return 0;
}
