/*
 * A poll that reaches gamedayd late (a TCP retransmission of a request its agent gave up
 * on) must not undo what the agent reported since: its journal is older than the report,
 * so it is not reconciled ("seq", docs/api.md).  The failure this guards against was seen
 * in REL-09: a stale poll with an empty journal marked a fault reverted that was applied,
 * the halt queued no revert for it, and the run ended halted with the fault still on.
 *
 * One scripted agent over real HTTP on loopback, in both orders (halt before or after the
 * late poll): the agent's next poll must bring the revert of its fault.
 */
#include "harness.h"
#include "test.h"

#define TOK	128

static struct gd g;
static char op[TOK], et[TOK];

static const char pb[] = "{\"apiVersion\":\"gameday/v1\",\"name\":\"stale\","
    "\"description\":\"d\",\"owner\":\"o\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"s\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"network.partition\",\"ports\":[7999]}],\"duration\":\"10m\"}";

/* POST a poll (seq, journal faults) as the agent; its reply into *ret. */
static long
poll_as(const char *cred, const char *host, long long seq, const char *faults, cJSON **ret)
{
	char body[1024];

	(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"tags\":{\"role\":\"s\"},"
	    "\"lease_ms\":15000,\"wait_ms\":0,\"seq\":%lld,\"faults\":%s}", host, seq, faults);
	return h_json(&g, "POST", "/v1/agent/poll", cred, body, ret);
}

/* The first order of a poll reply whose action is action, or NULL. */
static const cJSON *
order_of(const cJSON *reply, const char *action)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(reply, "orders"))
		if (strcmp(h_str(o, "action"), action) == 0)
			return o;
	return NULL;
}

static void
round_trip(const char *host, bool halt_first)
{
	char cred[TOK], body[1024], id[32], journal[512], path[128], st[32];
	const cJSON *inj;
	cJSON *o = NULL, *r = NULL;

	(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"tags\":{\"role\":\"s\"}}", host);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/agent/enroll", et, body, &o), 201);
	(void)snprintf(cred, sizeof(cred), "%s", h_str(o, "credential"));
	cJSON_Delete(o);
	/* The stale poll is made now (seq 1, empty journal) and delivered at the end. */
	ASSERT_INT_EQ(poll_as(cred, host, 2, "[]", &o), 200);
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/runs", op, "{\"playbook\":\"stale\",\"reason\":"
	    "\"stale poll test\"}", &o), 201);
	(void)snprintf(id, sizeof(id), "%s", h_str(o, "id"));
	cJSON_Delete(o);
	for (int i = 0; i < 100 && (inj = order_of(r, "inject")) == NULL; i++) {
		cJSON_Delete(r);
		r = NULL;
		h_sleep_ms(50);
		ASSERT_INT_EQ(poll_as(cred, host, 3, "[]", &r), 200);
	}
	ASSERT_TRUE(inj != NULL);
	(void)snprintf(body, sizeof(body), "{\"host\":\"%s\",\"seq\":4,\"order\":\"%s\","
	    "\"status\":\"done\",\"fault_id\":\"00000000000000f1\",\"state\":\"applied\"}", host,
	    h_str(inj, "id"));
	(void)snprintf(journal, sizeof(journal), "[{\"id\":\"00000000000000f1\",\"order\":"
	    "\"%s\",\"state\":\"applied\",\"expires\":\"2099-01-01T00:00:00.000Z\"}]",
	    h_str(inj, "id"));
	cJSON_Delete(r);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/agent/report", cred, body, NULL, NULL), 200);
	ASSERT_STR_EQ(h_wait_state(&g, op, id, "|running|", 5000, st), "running");
	ASSERT_INT_EQ(poll_as(cred, host, 5, journal, &o), 200);
	cJSON_Delete(o);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", id);
	if (halt_first)
		ASSERT_INT_EQ(h_http(&g, "POST", path, op, "{\"reason\":\"t\"}", NULL, NULL), 200);
	/* The late one: made before the report, with the journal of that time. */
	ASSERT_INT_EQ(poll_as(cred, host, 1, "[]", &o), 200);
	cJSON_Delete(o);
	if (!halt_first)
		ASSERT_INT_EQ(h_http(&g, "POST", path, op, "{\"reason\":\"t\"}", NULL, NULL), 200);
	/* The agent, still holding the fault, must be told to revert it. */
	ASSERT_INT_EQ(poll_as(cred, host, 6, journal, &r), 200);
	ASSERT_TRUE(order_of(r, "revert") != NULL);
	cJSON_Delete(r);
	ASSERT_STR_EQ(h_run_state(&g, op, id, st), "rolling_back");
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	TEST_START("setup");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", op, TOK), 0);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", op, pb, NULL, NULL), 201);
	TEST_START("a late poll after the report, then the halt: the revert is handed out");
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	round_trip("stale-a", false);
	TEST_START("the halt, then a late poll: the revert is still handed out");
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, et, TOK), 0);
	/* One run per host: the first host's run must end first, so use another host. */
	round_trip("stale-b", true);
	gd_drain(&g);
	gd_stop(&g);
	if (test_failed_count == 0 && !test_cur_failed)
		gd_cleanup(&g);
	curl_global_cleanup();
	return test_done();
}
