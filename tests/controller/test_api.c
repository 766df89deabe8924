/*
 * gamedayd's API over real HTTP on loopback: every route against every kind of caller
 * (no token, a wrong one, a revoked one, each role, an agent's, an enrolment token), the
 * two-person rule through the API and across a restart, agent identity, and bad requests
 * that must get a 4xx while the controller lives on.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "harness.h"
#include "test.h"

#define TOK 80

static struct gd g;
static char viewer[TOK], operator_[TOK], approver[TOK], approver2[TOK], admin[TOK];
static char revoked[TOK], enroll[TOK], enroll2[TOK], agent_a[TOK], agent_b[TOK];
static const char wrong[] = "gdu_0000000000000000000000000000000000000000000000000000000000000000";

static const char staging_pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"staging-part\",\"description\":\"d\","
    "\"owner\":\"o\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"none\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"network.partition\",\"peers\":[\"192.0.2.0/24\"]}],"
    "\"duration\":\"1m\"}";
static const char prod_pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"prod-part\",\"description\":\"d\","
    "\"owner\":\"o\",\"environment\":\"production\",\"tier\":2,"
    "\"targets\":{\"tags\":{\"role\":\"none\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"network.partition\",\"peers\":[\"192.0.2.0/24\"]}],"
    "\"duration\":\"1m\"}";

/* Enrols host with an enrolment token; the credential into cred. */
static long
enrol(const char *etok, const char *host, char *cred)
{
	char body[256];
	cJSON *o = NULL;
	long st;

	(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"tags\":{\"role\":\"x\"}}", host);
	st = h_json(&g, "POST", "/v1/agent/enroll", etok, body, &o);
	(void)snprintf(cred, TOK, "%s", h_str(o, "credential"));
	cJSON_Delete(o);
	return st;
}

static void
setup(void)
{
	char out[256];

	TEST_START("gamedayd starts; tokens are made by gamedayd token create");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "vera", "viewer", viewer, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "otto", "operator", operator_, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "anna", "approver", approver, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "arne", "approver", approver2, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "adam", "admin", admin, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "rita", "admin", revoked, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, enroll, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, enroll2, TOK), 0);
	ASSERT_INT_EQ(strlen(viewer), 68);
	ASSERT_TRUE(strncmp(viewer, "gdu_", 4) == 0 && strncmp(enroll, "gde_", 4) == 0);
	{
		char *argv[] = { (char *)h_bin("GD_CTL_BIN", "gamedayd"), "token", "revoke",
		    "--state-dir", g.dir, "--user", "rita", NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 0);
		ASSERT_STR_EQ(out, "revoked 1 token of rita\n");
	}
	{
		char *argv[] = { (char *)h_bin("GD_CTL_BIN", "gamedayd"), "token", "create",
		    "--state-dir", g.dir, "--user", "x", "--role", "king", NULL };

		ASSERT_INT_EQ(h_run(argv, out, sizeof(out)), 2);
	}
	ASSERT_INT_EQ(enrol(enroll, "agent-a", agent_a), 201);
	ASSERT_INT_EQ(enrol(enroll2, "agent-b", agent_b), 201);
	ASSERT_TRUE(strncmp(agent_a, "gda_", 4) == 0);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", operator_, staging_pb, NULL, NULL),
	    201);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", operator_, prod_pb, NULL, NULL), 201);
}

/* The token file holds no token in plain text: only hashes. */
static void
test_no_plaintext(void)
{
	char path[128], *buf;
	FILE *f;
	size_t n;

	TEST_START("the database holds no token in plain text, only hashes");
	(void)snprintf(path, sizeof(path), "%s/gameday.db", g.dir);
	ASSERT_TRUE((f = fopen(path, "rb")) != NULL);
	if (f == NULL)
		return;
	buf = calloc(1, 64 << 20);
	n = fread(buf, 1, (64 << 20) - 1, f);
	(void)fclose(f);
	for (size_t i = 0; i + 64 <= n; i++) {
		ASSERT_TRUE(memcmp(buf + i, viewer + 4, 64) != 0);
		ASSERT_TRUE(memcmp(buf + i, agent_a + 4, 64) != 0);
		ASSERT_TRUE(memcmp(buf + i, admin + 4, 64) != 0);
	}
	free(buf);
}

enum who { W_NONE, W_WRONG, W_REVOKED, W_VIEWER, W_OPERATOR, W_APPROVER, W_ADMIN, W_AGENT,
	W_ENROLL, W_MAX };

static const char *
token_of(enum who w)
{
	switch (w) {
	case W_WRONG: return wrong;
	case W_REVOKED: return revoked;
	case W_VIEWER: return viewer;
	case W_OPERATOR: return operator_;
	case W_APPROVER: return approver;
	case W_ADMIN: return admin;
	case W_AGENT: return agent_a;
	case W_ENROLL: return enroll2;	/* Spent: enrolment tokens are single use. */
	default: return NULL;
	}
}

/*
 * Every route, every caller: 401 without a valid token, 403 below the route's role or with
 * the wrong kind of token, anything else (not 401/403) when allowed.
 */
static void
test_role_route_table(void)
{
	static const struct {
		const char *method, *path, *body;
		enum who min;		/* W_NONE: open; W_AGENT: agents only. */
	} routes[] = {
		{ "GET", "/healthz", NULL, W_NONE },
		{ "GET", "/metrics", NULL, W_NONE },
		{ "POST", "/v1/playbooks", "{}", W_OPERATOR },
		{ "GET", "/v1/playbooks", NULL, W_VIEWER },
		{ "GET", "/v1/playbooks/staging-part", NULL, W_VIEWER },
		{ "POST", "/v1/runs", "{\"playbook\":\"nope\",\"reason\":\"t\"}", W_OPERATOR },
		{ "GET", "/v1/runs", NULL, W_VIEWER },
		{ "GET", "/v1/runs/r-0000000000000000", NULL, W_VIEWER },
		{ "GET", "/v1/runs/r-0000000000000000/events", NULL, W_VIEWER },
		{ "POST", "/v1/runs/r-0000000000000000/approve", "{}", W_APPROVER },
		{ "POST", "/v1/runs/r-0000000000000000/halt", "{}", W_VIEWER },
		{ "GET", "/v1/halt", NULL, W_VIEWER },
		{ "POST", "/v1/halt/clear", "{}", W_ADMIN },
		{ "GET", "/v1/agents", NULL, W_VIEWER },
		{ "GET", "/v1/audit", NULL, W_VIEWER },
		{ "GET", "/v1/audit/verify", NULL, W_VIEWER },
		{ "POST", "/v1/agent/poll", "{\"host\":\"agent-a\"}", W_AGENT },
		{ "POST", "/v1/agent/report", "{\"host\":\"agent-a\",\"order\":\"o-1\","
		    "\"status\":\"done\"}", W_AGENT },
		{ "POST", "/v1/agent/enroll", "{\"host\":\"z\"}", W_ENROLL },
	};
	size_t checked = 0;

	TEST_START("role x route table: every route, every role, no/wrong/revoked/agent/"
	    "enrolment token");
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		for (int w = W_NONE; w < (int)W_MAX; w++) {
			long st = h_http(&g, routes[i].method, routes[i].path, token_of(w),
			    routes[i].body, NULL, NULL);
			long want;	/* 0: allowed (not 401 or 403). */

			if (routes[i].min == W_NONE)
				want = 0;
			else if (w == W_NONE || w == W_WRONG || w == W_REVOKED ||
			    w == W_ENROLL)
				want = 401;	/* The enrolment token here is spent. */
			else if (routes[i].min == W_AGENT || routes[i].min == W_ENROLL)
				want = w == (int)routes[i].min ? 0 : 403;
			else if (w == W_AGENT)
				want = 403;
			else
				want = w >= (int)routes[i].min ? 0 : 403;
			if (want == 0 ? (st == 401 || st == 403 || st == 0) : st != want)
				TEST_FAIL("%s %s as %d: status %ld, want %s%ld", routes[i].method,
				    routes[i].path, w, st, want == 0 ? "not 401/403, got " : "",
				    want);
			checked++;
		}
	printf("role x route: %zu combinations checked\n", checked);
	/* A fresh enrolment token works on enrol and nowhere else. */
	{
		char e[TOK];

		ASSERT_INT_EQ(h_token(&g, NULL, NULL, e, TOK), 0);
		ASSERT_INT_EQ(h_http(&g, "GET", "/v1/agents", e, NULL, NULL, NULL), 403);
		ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/poll", e, "{\"host\":\"z\"}", NULL,
		    NULL), 403);
	}
}

static void
test_agent_identity(void)
{
	cJSON *o = NULL;
	char cred[TOK];

	TEST_START("agent A cannot poll or report as agent B; re-enrolment replaces the "
	    "credential");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/poll", agent_a, "{\"host\":\"agent-b\"}",
	    NULL, NULL), 403);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/report", agent_a, "{\"host\":\"agent-b\","
	    "\"order\":\"o-1\",\"status\":\"done\"}", NULL, NULL), 403);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/agent/poll", agent_b, "{\"host\":\"agent-b\"}",
	    &o), 200);
	ASSERT_TRUE(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "orders")));
	cJSON_Delete(o);
	{
		char e[TOK];

		ASSERT_INT_EQ(h_token(&g, NULL, NULL, e, TOK), 0);
		ASSERT_INT_EQ(enrol(e, "agent-b", cred), 201);
		ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/poll", agent_b,
		    "{\"host\":\"agent-b\"}", NULL, NULL), 401);
		ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/poll", cred,
		    "{\"host\":\"agent-b\"}", NULL, NULL), 200);
		(void)snprintf(agent_b, TOK, "%s", cred);
	}
}

/* The id of a new run of playbook by token, or "" (status in *st). */
static void
start_run(const char *token, const char *playbook, char *id, long *st)
{
	char body[256];
	cJSON *o = NULL;

	(void)snprintf(body, sizeof(body), "{\"playbook\":\"%s\",\"reason\":\"test\"}",
	    playbook);
	*st = h_json(&g, "POST", "/v1/runs", token, body, &o);
	(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
}

static const char *
run_state(const char *id, char *buf)
{
	char path[64];
	cJSON *o = NULL;

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	(void)h_json(&g, "GET", path, viewer, NULL, &o);
	(void)snprintf(buf, 32, "%s", h_str(o, "state"));
	cJSON_Delete(o);
	return buf;
}

static void
test_two_person_rule(void)
{
	char id[32], path[96], state[32], body[160];
	cJSON *o = NULL;
	long st;

	TEST_START("two-person rule: a production run waits; its requester cannot approve, "
	    "even as approver; a second approver can, after a restart too");
	start_run(approver, "prod-part", id, &st);
	ASSERT_INT_EQ(st, 201);
	ASSERT_STR_EQ(run_state(id, state), "awaiting_approval");
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/approve", id);
	ASSERT_INT_EQ(h_http(&g, "POST", path, approver, "{}", NULL, NULL), 403);
	ASSERT_INT_EQ(h_http(&g, "POST", path, operator_, "{}", NULL, NULL), 403);
	ASSERT_INT_EQ(h_http(&g, "POST", path, viewer, "{}", NULL, NULL), 403);
	ASSERT_STR_EQ(run_state(id, state), "awaiting_approval");
	/* The approval is bound to the revision the run will run. */
	ASSERT_INT_EQ(h_http(&g, "POST", path, approver2, "{\"revision\":\"0000\"}", NULL,
	    NULL), 409);
	gd_stop(&g);
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_STR_EQ(run_state(id, state), "awaiting_approval");
	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	ASSERT_INT_EQ(h_json(&g, "GET", path, viewer, NULL, &o), 200);
	(void)snprintf(body, sizeof(body), "{\"revision\":\"%s\"}", h_str(o, "revision"));
	cJSON_Delete(o);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/approve", id);
	ASSERT_INT_EQ(h_json(&g, "POST", path, approver2, body, &o), 200);
	ASSERT_STR_EQ(h_str(o, "approved_by"), "arne");
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_http(&g, "POST", path, admin, "{}", NULL, NULL), 409);
	/* No agent has role=none: the engine aborts it at preflight, naming why. */
	for (int i = 0; i < 50 && strcmp(run_state(id, state), "aborted") != 0; i++)
		h_sleep_ms(50);
	ASSERT_STR_EQ(state, "aborted");

	TEST_START("a staging run needs no approval; halt by a viewer; halt of an ended run is "
	    "409");
	start_run(operator_, "staging-part", id, &st);
	ASSERT_INT_EQ(st, 201);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", id);
	st = h_http(&g, "POST", path, viewer, "{\"reason\":\"just because\"}", NULL, NULL);
	ASSERT_TRUE(st == 200 || st == 409);	/* It may already have aborted. */
	for (int i = 0; i < 50 && !(strcmp(run_state(id, state), "halted") == 0 ||
	    strcmp(state, "aborted") == 0); i++)
		h_sleep_ms(50);
	ASSERT_TRUE(strcmp(state, "halted") == 0 || strcmp(state, "aborted") == 0);
	ASSERT_INT_EQ(h_http(&g, "POST", path, viewer, "{}", NULL, NULL), 409);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/runs/r-ffffffffffffffff/halt", viewer, "{}", NULL,
	    NULL), 404);
}

static void
test_production_targets(void)
{
	char e[TOK], cred[TOK], id[32], path[96], state[32], body[1024];
	cJSON *o = NULL;
	long st;

	TEST_START("authorization looks at the targets: a staging playbook that reaches a host "
	    "tagged environment=production waits for approval");
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, e, TOK), 0);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/agent/enroll", e, "{\"host\":\"prod-1\",\"tags\":"
	    "{\"role\":\"pay\",\"environment\":\"production\"}}", &o), 201);
	(void)snprintf(cred, TOK, "%s", h_str(o, "credential"));
	cJSON_Delete(o);
	(void)snprintf(body, sizeof(body), "%s", staging_pb);
	{
		char *at = strstr(body, "\"role\":\"none\"");
		char *nm = strstr(body, "staging-part");

		memcpy(at, "\"role\":\"pay\" ", 13);	/* Same length: "none" -> "pay " */
		memcpy(nm, "staging-pays", 12);
	}
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", operator_, body, NULL, NULL), 201);
	start_run(operator_, "staging-pays", id, &st);
	ASSERT_INT_EQ(st, 201);
	for (int i = 0; i < 50 && strcmp(run_state(id, state), "awaiting_approval") != 0; i++)
		h_sleep_ms(50);
	ASSERT_STR_EQ(state, "awaiting_approval");
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/approve", id);
	ASSERT_INT_EQ(h_http(&g, "POST", path, operator_, "{}", NULL, NULL), 403);
	ASSERT_INT_EQ(h_http(&g, "POST", path, approver, "{}", NULL, NULL), 200);
	for (int i = 0; i < 50 && strcmp(run_state(id, state), "injecting") != 0; i++)
		h_sleep_ms(50);
	ASSERT_STR_EQ(state, "injecting");
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", id);
	ASSERT_INT_EQ(h_http(&g, "POST", path, viewer, "{}", NULL, NULL), 200);
	(void)h_http(&g, "POST", "/v1/agent/poll", cred, "{\"host\":\"prod-1\"}", NULL, NULL);
	for (int i = 0; i < 50 && strcmp(run_state(id, state), "halted") != 0; i++)
		h_sleep_ms(50);
	/* The inject order was handed out before the halt reached it: nothing is confirmed
	 * applied, nothing is left pending, so the run ends halted. */
	ASSERT_TRUE(strcmp(state, "halted") == 0 || strcmp(state, "rolling_back") == 0);
}

static void
test_halt_all(void)
{
	char id[32];
	cJSON *o = NULL;
	long st;

	TEST_START("halt --all blocks new runs until an admin clears it");
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/halt", viewer, "{\"reason\":\"incident 42\"}", &o),
	    200);
	cJSON_Delete(o);
	start_run(operator_, "staging-part", id, &st);
	ASSERT_INT_EQ(st, 409);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/halt", viewer, NULL, &o), 200);
	ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "halted")));
	ASSERT_STR_EQ(h_str(o, "by"), "vera");
	ASSERT_STR_EQ(h_str(o, "reason"), "incident 42");
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt/clear", approver, "{}", NULL, NULL), 403);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/halt/clear", admin, "{}", NULL, NULL), 200);
	start_run(operator_, "staging-part", id, &st);
	ASSERT_INT_EQ(st, 201);
}

/* Sends raw bytes, returns the status line's code (0 when none came back). */
static int
raw(const char *req, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g.port) };
	char buf[512] = "";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), code = 0;
	struct timeval tv = { 5, 0 };
	size_t off = 0;
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		(void)close(fd);
		return 0;
	}
	while (off < len && (n = send(fd, req + off, len - off, MSG_NOSIGNAL)) > 0)
		off += (size_t)n;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0)
		code = atoi(buf + 9);
	(void)close(fd);
	return code;
}

static void
test_bad_requests(void)
{
	char req[1024], *big;
	cJSON *o = NULL;
	size_t n;

	TEST_START("bad bodies: truncated, wrong types, unknown keys, not an object -> 400 "
	    "naming the problem; invalid playbook -> 422 with paths");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/runs", operator_, "{\"playbook\":", NULL, NULL),
	    400);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/runs", operator_, "{\"playbook\":5,\"reason\":\"x\"}",
	    &o), 400);
	ASSERT_TRUE(h_json_has(o, "playbook"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/runs", operator_, "{\"playbook\":\"x\",\"reason\":"
	    "\"x\",\"evil\":1}", NULL, NULL), 400);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/runs", operator_, "[1,2]", NULL, NULL), 400);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/runs", operator_, "{\"playbook\":\"staging-part\","
	    "\"reason\":\"\"}", NULL, NULL), 400);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/playbooks", operator_, "{\"apiVersion\":"
	    "\"gameday/v1\",\"name\":\"x\",\"faults\":[{\"type\":\"network.latency\","
	    "\"delay\":\"2x\"}]}", &o), 422);
	ASSERT_TRUE(h_json_has(o, "faults[0].delay"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/nope", viewer, NULL, NULL, NULL), 404);
	ASSERT_INT_EQ(h_http(&g, "DELETE", "/v1/runs", viewer, NULL, NULL, NULL), 405);

	TEST_START("a body over the limit gets 413 before it is read; chunked gets 411; "
	    "duplicate Content-Length and huge headers are refused");
	n = (size_t)snprintf(req, sizeof(req), "POST /v1/playbooks HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer %s\r\nContent-Length: 104857600\r\n\r\n", operator_);
	ASSERT_INT_EQ(raw(req, n), 413);	/* We never send the 100 MB. */
	n = (size_t)snprintf(req, sizeof(req), "POST /v1/playbooks HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
	    "\r\n", operator_);
	ASSERT_INT_EQ(raw(req, n), 411);
	n = (size_t)snprintf(req, sizeof(req), "POST /v1/runs HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer %s\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
	    operator_);
	{
		int code = raw(req, n);

		ASSERT_TRUE(code == 400 || code == 413);
	}
	big = malloc(64 * 1024);
	n = (size_t)snprintf(big, 64 * 1024, "GET /v1/agents HTTP/1.1\r\nHost: x\r\nX-Pad: ");
	memset(big + n, 'a', 40000);
	n += 40000;
	memcpy(big + n, "\r\n\r\n", 4);
	{
		int code = raw(big, n + 4);

		ASSERT_TRUE(code == 431 || code == 413 || code == 400);
	}
	free(big);
	{
		/* Not HTTP at all: a 400, or the connection closed; either way it lives on. */
		int code = raw("GARBAGE\r\n\r\n", 11);

		ASSERT_TRUE(code == 0 || code == 400);
	}
	ASSERT_INT_EQ(h_http(&g, "GET", "/healthz", NULL, NULL, NULL, NULL), 200);
}

/* The state of agent host in GET /v1/agents ("" when not listed). */
static void
agent_state(const char *host, char out[16])
{
	cJSON *o = NULL, *a;

	out[0] = '\0';
	(void)h_json(&g, "GET", "/v1/agents", viewer, NULL, &o);
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "agents"))
		if (strcmp(h_str(a, "host"), host) == 0)
			(void)snprintf(out, 16, "%s", h_str(a, "state"));
	cJSON_Delete(o);
}

static void
test_lost_agent(void)
{
	char state[16];
	double t0 = h_now_ms();

	TEST_START("an agent silent past its lease + 5 s is marked lost, and ok when it polls "
	    "again (both audited)");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/poll", agent_a, "{\"host\":\"agent-a\","
	    "\"lease_ms\":1000}", NULL, NULL), 200);
	agent_state("agent-a", state);
	ASSERT_STR_EQ(state, "ok");
	while (h_now_ms() - t0 < 12000) {
		agent_state("agent-a", state);
		if (strcmp(state, "lost") == 0)
			break;
		h_sleep_ms(200);
	}
	ASSERT_STR_EQ(state, "lost");
	ASSERT_TRUE(h_now_ms() - t0 >= 6000 - 300);	/* Not before lease + 5 s. */
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/poll", agent_a, "{\"host\":\"agent-a\"}",
	    NULL, NULL), 200);
	agent_state("agent-a", state);
	ASSERT_STR_EQ(state, "ok");
}

static void
test_audit(void)
{
	cJSON *o = NULL, *rows;
	bool saw_approve = false, saw_enrol = false, saw_lost = false;

	TEST_START("the audit log holds who did what, and verifies");
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/audit/verify", viewer, NULL, &o), 200);
	ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")));
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/audit?limit=10000", viewer, NULL, &o), 200);
	rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
	for (int i = 0; i < cJSON_GetArraySize(rows); i++) {
		const cJSON *r = cJSON_GetArrayItem(rows, i);

		if (strcmp(h_str(r, "action"), "run.approve") == 0 &&
		    strcmp(h_str(r, "actor"), "arne") == 0)
			saw_approve = true;
		if (strcmp(h_str(r, "action"), "agent.lost") == 0 &&
		    strcmp(h_str(r, "object"), "agent-a") == 0)
			saw_lost = true;
		if (strcmp(h_str(r, "action"), "agent.enroll") == 0 &&
		    strcmp(h_str(r, "actor"), "agent:agent-a") == 0)
			saw_enrol = true;
	}
	ASSERT_TRUE(saw_approve);
	ASSERT_TRUE(saw_enrol);
	ASSERT_TRUE(saw_lost);
	cJSON_Delete(o);
}

int
main(void)
{
	if (geteuid() != 0)
		(void)fprintf(stderr, "note: not root; fine, these tests need no privilege\n");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setup();
	test_no_plaintext();
	test_role_route_table();
	test_agent_identity();
	test_two_person_rule();
	test_production_targets();
	test_halt_all();
	test_bad_requests();
	test_lost_agent();
	test_audit();
	gd_stop(&g);
	gd_cleanup(&g);
	curl_global_cleanup();
	return test_done();
}
