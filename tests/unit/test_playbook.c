/* The playbook validator: typed results, every error at once, defaults, allocation failures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "playbook.h"
#include "test.h"

static struct gd_err err;

static const char design[] =
    "{\"apiVersion\": \"gameday/v1\", \"name\": \"db-latency\",\n"
    " \"description\": \"Slow the order database.\", \"owner\": \"payments-oncall\",\n"
    " \"environment\": \"staging\", \"tier\": 2, \"risk\": \"R-12\",\n"
    " \"recovery_plan\": {\"url\": \"https://wiki.example/rp/db\",\n"
    "   \"steps\": [\"Fail over to replica\", \"Confirm checkout\"]},\n"
    " \"targets\": {\"tags\": {\"role\": \"db\"}, \"pick\": {\"count\": 1}},\n"
    " \"faults\": [{\"type\": \"network.latency\", \"delay\": \"200ms\", \"jitter\": \"20ms\",\n"
    "   \"peers\": [\"10.20.0.0/16\"], \"ports\": [5432], \"direction\": \"egress\"}],\n"
    " \"duration\": \"5m\",\n"
    " \"steady_state\": {\"probes\": [\n"
    "   {\"name\": \"checkout\", \"type\": \"http\", \"url\": \"http://10.20.0.5:8080/checkout\",\n"
    "    \"interval\": \"1s\", \"timeout\": \"2s\", \"expect_status\": [200]},\n"
    "   {\"name\": \"errors\", \"type\": \"prometheus\", \"url\": \"http://127.0.0.1:9090\",\n"
    "    \"query\": \"sum(rate(http_requests_total[1m]))\", \"interval\": \"5s\"}],\n"
    "  \"sla\": [\"checkout.tp90 < 300ms over 30s\", \"checkout.error_rate < 1% over 30s\",\n"
    "          \"errors.value < 0.5\"]},\n"
    " \"guardrails\": {\"max_hosts\": 1, \"max_percent\": 25, \"breaches_to_abort\": 3,\n"
    "   \"require_approval\": false},\n"
    " \"schedule\": {\"timezone\": \"America/New_York\",\n"
    "   \"windows\": [{\"days\": [\"tue\", \"wed\", \"thu\"], \"start\": \"10:00\", \"end\": \"15:00\"}],\n"
    "   \"blackouts\": [{\"from\": \"2026-12-21\", \"to\": \"2027-01-04\", \"reason\": \"freeze\"},\n"
    "                 {\"quarter_end_days\": 5}],\n"
    "   \"every\": \"weekly\"}}\n";

static const char minimal[] =
    "{\"apiVersion\": \"gameday/v1\", \"name\": \"m\", \"owner\": \"o\",\n"
    " \"environment\": \"%s\", \"tier\": %d, \"targets\": {\"tags\": {}},\n"
    " \"faults\": [{\"type\": \"cpu.burn\"}], \"duration\": \"1m\"%s}";

static int
parse(const char *text, struct playbook **pb)
{
	gd_err_init(&err);
	return playbook_parse(text, strlen(text), pb, &err);
}

static void
dump_errors(void)
{
	for (size_t i = 0; i < err.n; i++)
		fprintf(stderr, "  %s: %s\n", err.items[i].path, err.items[i].msg);
}

static void
test_design_example(void)
{
	struct playbook *pb = NULL;
	const struct fault *f;

	TEST_START("the DESIGN.md example parses into typed fields");
	if (parse(design, &pb) != 0) {
		dump_errors();
		TEST_FAIL("rejected");
		return;
	}
	ASSERT_STR_EQ(pb->name, "db-latency");
	ASSERT_INT_EQ(pb->environment, ENV_STAGING);
	ASSERT_INT_EQ(pb->tier, 2);
	ASSERT_INT_EQ(pb->recovery_plan.nsteps, 2);
	ASSERT_INT_EQ(pb->ntags, 1);
	ASSERT_STR_EQ(pb->tags[0].value, "db");
	ASSERT_INT_EQ(pb->pick, PICK_COUNT);
	ASSERT_INT_EQ(pb->pick_count, 1);
	ASSERT_INT_EQ(pb->nfaults, 1);
	f = &pb->faults[0];
	ASSERT_INT_EQ(f->type, FAULT_NET_LATENCY);
	ASSERT_U64_EQ(f->u.net.delay_ms, 200);
	ASSERT_U64_EQ(f->u.net.jitter_ms, 20);
	ASSERT_INT_EQ(f->u.net.filter.npeers, 1);
	ASSERT_INT_EQ(f->u.net.filter.peers[0].prefix, 16);
	ASSERT_INT_EQ(f->u.net.filter.ports[0], 5432);
	ASSERT_INT_EQ(f->u.net.filter.direction, NET_DIR_EGRESS);
	ASSERT_INT_EQ(f->u.net.backend, LATENCY_AUTO);
	ASSERT_U64_EQ(pb->duration_ms, 300000);
	ASSERT_INT_EQ(pb->nprobes, 2);
	ASSERT_U64_EQ(pb->probes[1].interval_ms, 5000);
	ASSERT_U64_EQ(pb->probes[1].timeout_ms, 2000);
	ASSERT_INT_EQ(pb->nslas, 3);
	ASSERT_INT_EQ(pb->slas[2].probe, 1);
	ASSERT_U64_EQ(pb->slas[2].expr.window_ms, 30000);
	ASSERT_INT_EQ(pb->guardrails.max_hosts, 1);
	ASSERT_DBL_NEAR(pb->guardrails.max_percent, 25, 0);
	ASSERT_TRUE(!pb->guardrails.require_approval);
	ASSERT_TRUE(pb->has_schedule);
	ASSERT_STR_EQ(pb->schedule.timezone, "America/New_York");
	ASSERT_INT_EQ(pb->schedule.windows[0].days, (1 << 1) | (1 << 2) | (1 << 3));
	ASSERT_INT_EQ(pb->schedule.windows[0].start_min, 600);
	ASSERT_INT_EQ(pb->schedule.windows[0].end_min, 900);
	ASSERT_INT_EQ(pb->schedule.nblackouts, 2);
	ASSERT_TRUE(pb->schedule.blackouts[1].quarter_end);
	ASSERT_INT_EQ(pb->schedule.every, EVERY_WEEKLY);
	playbook_free(pb);
}

static void
test_all_errors(void)
{
	struct playbook *pb = NULL;
	char *bad = strdup(design), *p;

	TEST_START("every problem is reported, each with its path");
	/* Five independent mistakes in five places. */
	p = strstr(bad, "\"tier\": 2");
	p[8] = '7';
	p = strstr(bad, "\"200ms\"");
	memcpy(p, "\"2x\"   ", 7);
	p = strstr(bad, "\"10:00\"");
	memcpy(p, "\"25:00\"", 7);
	p = strstr(bad, "\"egress\"");
	memcpy(p, "\"upward\"", 8);
	p = strstr(bad, "tp90 < 300ms");
	memcpy(p, "tp91", 4);
	ASSERT_INT_EQ(parse(bad, &pb), -EINVAL);
	ASSERT_TRUE(pb == NULL);
	ASSERT_INT_EQ(err.n, 5);
	ASSERT_TRUE(gd_err_has_path(&err, "tier"));
	ASSERT_TRUE(gd_err_has_path(&err, "faults[0].delay"));
	ASSERT_TRUE(gd_err_has_path(&err, "faults[0].direction"));
	ASSERT_TRUE(gd_err_has_path(&err, "steady_state.sla[0]"));
	ASSERT_TRUE(gd_err_has_path(&err, "schedule.windows[0].start"));
	for (size_t i = 0; i < err.n; i++)
		if (strcmp(err.items[i].path, "faults[0].delay") == 0)
			ASSERT_TRUE(strstr(err.items[i].msg, "\"2x\" is not a duration") != NULL);
	free(bad);
}

static void
test_approval_rules(void)
{
	struct playbook *pb = NULL;
	char text[1024];

	TEST_START("production implies approval");
	(void)snprintf(text, sizeof(text), minimal, "production", 3, "");
	ASSERT_INT_EQ(parse(text, &pb), 0);
	if (pb != NULL)
		ASSERT_TRUE(pb->guardrails.require_approval);
	pb = playbook_free(pb);

	TEST_START("tier 1 implies approval in staging too");
	(void)snprintf(text, sizeof(text), minimal, "staging", 1, "");
	ASSERT_INT_EQ(parse(text, &pb), 0);
	if (pb != NULL)
		ASSERT_TRUE(pb->guardrails.require_approval);
	pb = playbook_free(pb);

	TEST_START("tier 3 staging needs no approval");
	(void)snprintf(text, sizeof(text), minimal, "staging", 3, "");
	ASSERT_INT_EQ(parse(text, &pb), 0);
	if (pb != NULL)
		ASSERT_TRUE(!pb->guardrails.require_approval);
	pb = playbook_free(pb);

	TEST_START("production cannot turn approval off");
	(void)snprintf(text, sizeof(text), minimal, "production", 3,
	    ", \"guardrails\": {\"require_approval\": false}");
	ASSERT_INT_EQ(parse(text, &pb), -EINVAL);
	ASSERT_TRUE(gd_err_has_path(&err, "guardrails.require_approval"));
}

static void
test_defaults(void)
{
	struct playbook *pb = NULL;
	char text[1024];

	TEST_START("defaults: pick one host, max_hosts 1, 3 breaches, cpu.burn 1 core at 100%");
	(void)snprintf(text, sizeof(text), minimal, "test", 4, "");
	ASSERT_INT_EQ(parse(text, &pb), 0);
	if (pb == NULL)
		return;
	ASSERT_INT_EQ(pb->pick, PICK_COUNT);
	ASSERT_INT_EQ(pb->pick_count, 1);
	ASSERT_INT_EQ(pb->guardrails.max_hosts, 1);
	ASSERT_DBL_NEAR(pb->guardrails.max_percent, 100, 0);
	ASSERT_INT_EQ(pb->guardrails.breaches_to_abort, 3);
	ASSERT_INT_EQ(pb->faults[0].u.cpu.cores, 1);
	ASSERT_INT_EQ(pb->faults[0].u.cpu.load_percent, 100);
	ASSERT_TRUE(!pb->has_schedule && !pb->has_rehearsal && pb->nprobes == 0);
	playbook_free(pb);
}

static void
test_print_fixed_point(void)
{
	struct playbook *pb = NULL, *again = NULL;
	char *t1 = NULL, *t2 = NULL;

	TEST_START("print is accepted again and is a fixed point");
	ASSERT_INT_EQ(parse(design, &pb), 0);
	if (pb == NULL)
		return;
	t1 = playbook_print(pb);
	ASSERT_TRUE(t1 != NULL);
	if (t1 != NULL) {
		ASSERT_INT_EQ(parse(t1, &again), 0);
		if (again != NULL)
			t2 = playbook_print(again);
		ASSERT_STR_EQ(t1, t2);
	}
	gd_free(t1);
	gd_free(t2);
	playbook_free(again);
	playbook_free(pb);
}

static void
test_document_errors(void)
{
	static const struct {
		const char *text;
		size_t len;
		const char *want;
	} cases[] = {
		{ "", 0, "empty" },
		{ "{\"a\":", 5, "truncated" },
		{ "{\"a\":1}x", 8, "unexpected text" },
		{ "{\"a\":\"\xff\"}", 8, "invalid UTF-8" },
		{ "{\"a\":\"\xed\xa0\x80\"}", 10, "invalid UTF-8" },	/* A UTF-16 surrogate. */
		{ "{\"a\":\"x\0y\"}", 10, "NUL" },
		{ "[]", 2, "expected an object" },
	};

	TEST_START("document-level problems name line, column and cause");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct playbook *pb = NULL;

		gd_err_init(&err);
		ASSERT_INT_EQ(playbook_parse(cases[i].text, cases[i].len, &pb, &err), -EINVAL);
		ASSERT_INT_EQ(err.n, 1);
		if (err.n == 1 && strstr(err.items[0].msg, cases[i].want) == NULL)
			TEST_FAIL("case %zu: \"%s\" lacks \"%s\"", i, err.items[0].msg,
			    cases[i].want);
	}

	TEST_START("nesting deeper than the limit is refused before cJSON recurses");
	{
		char deep[200];
		struct playbook *pb = NULL;

		memset(deep, '[', sizeof(deep));
		gd_err_init(&err);
		ASSERT_INT_EQ(playbook_parse(deep, sizeof(deep), &pb, &err), -EINVAL);
		ASSERT_TRUE(err.n == 1 && strstr(err.items[0].msg, "nested deeper") != NULL);
	}
}

/*
 * curl-style torture: fail the 1st, 2nd, ... allocation in turn.  Each run must fail cleanly
 * (-ENOMEM, an error recorded, nothing leaked: the sanitizer build checks leaks) until N is
 * past the last allocation, when the parse succeeds.
 */
static void
test_alloc_failures(void)
{
	unsigned long n;
	int r = -ENOMEM;

	TEST_START("every allocation failure during parse and print is handled");
	for (n = 1; n < 100000 && r != 0; n++) {
		struct playbook *pb = NULL;
		char *text;

		gd_err_init(&err);
		gd_alloc_fail_at(n);
		r = playbook_parse(design, strlen(design), &pb, &err);
		if (r == 0) {
			text = playbook_print(pb);
			gd_free(text);
			playbook_free(pb);
			if (gd_alloc_failed()) {
				/* The failure hit print, which reported it by returning NULL. */
				ASSERT_TRUE(text == NULL);
				r = -ENOMEM;
			}
			continue;
		}
		if (r != -ENOMEM || !gd_alloc_failed()) {
			TEST_FAIL("allocation %lu: r=%d failed=%d", n, r, gd_alloc_failed());
			dump_errors();
			break;
		}
		ASSERT_TRUE(pb == NULL);
		ASSERT_TRUE(gd_err_has_path(&err, "(root)"));
	}
	gd_alloc_fail_at(0);
	ASSERT_INT_EQ(r, 0);
	ASSERT_TRUE(n > 20);	/* The sweep did cover the parser's allocations. */
	printf("allocation-failure sweep: %lu points\n", n - 1);
}

int
main(void)
{
	gd_alloc_init_cjson();
	test_design_example();
	test_all_errors();
	test_approval_rules();
	test_defaults();
	test_print_fixed_point();
	test_document_errors();
	test_alloc_failures();
	return test_done();
}
