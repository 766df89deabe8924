/*
 * The gameday CLI (GD_CLI_BIN) against a real gamedayd (GD_CTL_BIN) on loopback, run
 * through posix_spawn() with an environment of our own (no shell, no proxies): exit codes
 * (0 done, 1 refused or failed, 2 bad usage), what each command prints, error replies
 * printed as "gameday: MESSAGE", and a broken audit chain.  A fake agent (a thread speaking
 * the agent protocol over HTTP) makes runs go all the way: inject, run, revert, plans, a
 * failed revert.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <sqlite3.h>

#include "harness.h"
#include "test.h"

#define TOK		80

static struct gd g;
static char admin[TOK], operator_[TOK], approver[TOK], viewer[TOK], enroll[TOK];
static char pbdir[64];
#include "clirun.h"

static const char wrong[] = "gdu_0000000000000000000000000000000000000000000000000000000000000000";

/* Fault duration 3 s: a run goes through every state in a few seconds. */
static const char burn_pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"cli-burn\",\"description\":\"d\","
    "\"owner\":\"qa\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"db\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"cpu.burn\",\"cores\":1,\"load_percent\":10}],"
    "\"duration\":\"3s\"}";
/* Production: needs a second person's approval; long enough to be halted while running. */
static const char prod_pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"cli-prod\",\"description\":\"d\","
    "\"owner\":\"qa\",\"environment\":\"production\",\"tier\":2,"
    "\"targets\":{\"tags\":{\"role\":\"db\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"cpu.burn\",\"cores\":1,\"load_percent\":10}],"
    "\"duration\":\"5m\"}";
/* Valid JSON, invalid playbook: the CLI must refuse it before any request. */
static const char bad_pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"not-stored\",\"description\":\"d\","
    "\"owner\":\"qa\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"db\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"cpu.burn\",\"cores\":1,\"load_percent\":10}],"
    "\"duration\":\"2x\"}";

static void
write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	(void)snprintf(path, len, "%s/%s", pbdir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		(void)fprintf(stderr, "test_cli: cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

/* The fake agent: host db1, tags role=db, polling in a thread of its own. */

struct held {
	char id[24], order[32], state[16], expires[40];
};

static struct {
	char cred[TOK];
	pthread_t th;
	atomic_bool stop, fail_revert, started;
	struct held held[8];	/* The "journal", touched by the agent thread only. */
	size_t nheld;
	unsigned next;
} agent;

static void
agent_report(const char *order, const char *status, const char *fault_id, const char *state,
    const char *error, const char *plan)
{
	cJSON *b = cJSON_CreateObject();
	char *text;

	(void)cJSON_AddStringToObject(b, "host", "db1");
	(void)cJSON_AddStringToObject(b, "order", order);
	(void)cJSON_AddStringToObject(b, "status", status);
	if (fault_id != NULL)
		(void)cJSON_AddStringToObject(b, "fault_id", fault_id);
	(void)cJSON_AddStringToObject(b, "state", state);
	if (error != NULL)
		(void)cJSON_AddStringToObject(b, "error", error);
	if (plan != NULL)
		(void)cJSON_AddStringToObject(b, "plan", plan);
	text = cJSON_PrintUnformatted(b);
	(void)h_http(&g, "POST", "/v1/agent/report", agent.cred, text, NULL, NULL);
	free(text);
	cJSON_Delete(b);
}

static void
agent_order(const cJSON *o)
{
	const char *action = h_str(o, "action"), *id = h_str(o, "id"), *fid = h_str(o, "fault_id");

	if (strcmp(action, "inject") == 0 && agent.nheld < 8) {
		struct held *h = &agent.held[agent.nheld++];

		(void)snprintf(h->id, sizeof(h->id), "%016x", ++agent.next);
		(void)snprintf(h->order, sizeof(h->order), "%s", id);
		(void)snprintf(h->state, sizeof(h->state), "applied");
		(void)snprintf(h->expires, sizeof(h->expires), "%s", h_str(o, "expires"));
		agent_report(id, "done", h->id, "applied", NULL, NULL);
	} else if (strcmp(action, "revert") == 0) {
		bool fail = atomic_load(&agent.fail_revert);

		for (size_t i = 0; i < agent.nheld; i++) {
			if (strcmp(agent.held[i].id, fid) != 0)
				continue;
			if (fail)
				(void)snprintf(agent.held[i].state, sizeof(agent.held[i].state),
				    "revert_failed");
			else
				agent.held[i--] = agent.held[--agent.nheld];
		}
		if (fail)
			agent_report(id, "failed", fid, "revert_failed", "device or resource busy",
			    NULL);
		else
			agent_report(id, "done", fid, "reverted", NULL, NULL);
	} else if (strcmp(action, "dry_run") == 0) {
		agent_report(id, "done", NULL, "planned", NULL,
		    "would start 1 busy thread at 10%\n\tfor 2s");
	}
}

static void
agent_poll_once(void)
{
	cJSON *b = cJSON_CreateObject(), *tags, *faults, *reply = NULL, *o;
	char *text;
	long st;

	/* A failed revert is cleared by hand on the host once the test is done with it. */
	for (size_t i = 0; !atomic_load(&agent.fail_revert) && i < agent.nheld; i++)
		if (strcmp(agent.held[i].state, "revert_failed") == 0)
			agent.held[i--] = agent.held[--agent.nheld];
	(void)cJSON_AddStringToObject(b, "host", "db1");
	tags = cJSON_AddObjectToObject(b, "tags");
	(void)cJSON_AddStringToObject(tags, "role", "db");
	(void)cJSON_AddNumberToObject(b, "lease_ms", 15000);
	(void)cJSON_AddNumberToObject(b, "wait_ms", 300);
	faults = cJSON_AddArrayToObject(b, "faults");
	for (size_t i = 0; i < agent.nheld; i++) {
		cJSON *f = cJSON_CreateObject();

		(void)cJSON_AddStringToObject(f, "id", agent.held[i].id);
		(void)cJSON_AddStringToObject(f, "order", agent.held[i].order);
		(void)cJSON_AddStringToObject(f, "state", agent.held[i].state);
		(void)cJSON_AddStringToObject(f, "expires", agent.held[i].expires);
		(void)cJSON_AddItemToArray(faults, f);
	}
	text = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	st = h_json(&g, "POST", "/v1/agent/poll", agent.cred, text, &reply);
	free(text);
	if (st == 200) {
		atomic_store(&agent.started, true);
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(reply, "orders"))
			agent_order(o);
	} else {
		h_sleep_ms(100);
	}
	cJSON_Delete(reply);
}

static void *
agent_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&agent.stop))
		agent_poll_once();
	return NULL;
}

static void
setup(void)
{
	char body[256];
	cJSON *o = NULL;

	TEST_START("gamedayd starts; tokens; a fake agent db1 enrols and polls");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "alice", "admin", admin, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "olga", "operator", operator_, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "bob", "approver", approver, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, "vic", "viewer", viewer, TOK), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, enroll, TOK), 0);
	(void)snprintf(body, sizeof(body), "{\"host\":\"db1\",\"tags\":{\"role\":\"db\"}}");
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/agent/enroll", enroll, body, &o), 201);
	(void)snprintf(agent.cred, sizeof(agent.cred), "%s", h_str(o, "credential"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(pthread_create(&agent.th, NULL, agent_main, NULL), 0);
	for (int i = 0; i < 100 && !atomic_load(&agent.started); i++)
		h_sleep_ms(50);
	ASSERT_TRUE(atomic_load(&agent.started));
	(void)snprintf(pbdir, sizeof(pbdir), "/tmp/gdcli.XXXXXX");
	if (mkdtemp(pbdir) == NULL) {
		(void)fprintf(stderr, "test_cli: mkdtemp: %s\n", strerror(errno));
		exit(2);
	}
}

static void
test_usage(void)
{
	char tokfile[128];

	TEST_START("--help lists every command; exit 0");
	ASSERT_CLI(NULL, 0, "--help");
	ASSERT_HAS(out, "playbook apply FILE");
	ASSERT_HAS(out, "run start NAME [--dry-run] --reason TEXT");
	ASSERT_HAS(out, "run watch");
	ASSERT_HAS(out, "halt --clear");
	ASSERT_HAS(out, "audit verify");
	ASSERT_HAS(out, "agents");

	TEST_START("bad usage exits 2 with one line on stderr, before any request");
	ASSERT_CLI(admin, 2, NULL);
	ASSERT_CLI(admin, 2, "bogus");
	ASSERT_HAS(err, "unknown command 'bogus'");
	ASSERT_CLI(admin, 2, "--bogus", "run", "list");
	ASSERT_CLI(admin, 2, "run");
	ASSERT_CLI(admin, 2, "run", "frobnicate");
	ASSERT_CLI(admin, 2, "run", "list", "--bogus");
	ASSERT_HAS(err, "gameday: run list: unknown option '--bogus'");
	ASSERT_CLI(admin, 2, "run", "list", "--json=yes");
	ASSERT_CLI(admin, 2, "run", "list", "--limit", "0");
	ASSERT_CLI(admin, 2, "run", "list", "extra");
	ASSERT_CLI(admin, 2, "run", "start", "cli-burn");
	ASSERT_HAS(err, "--reason");
	ASSERT_STR_EQ(out, "");
	ASSERT_CLI(admin, 2, "run", "start", "cli-burn", "--reason");
	ASSERT_HAS(err, "option '--reason' needs an argument");
	ASSERT_CLI(admin, 2, "run", "start", "cli-burn", "--reason", "");
	ASSERT_CLI(admin, 2, "run", "start", "--reason", "r");
	ASSERT_CLI(admin, 2, "run", "show");
	ASSERT_CLI(admin, 2, "run", "show", "../../v1/halt");
	ASSERT_CLI(admin, 2, "run", "show", "r-1", "r-2");
	ASSERT_CLI(admin, 2, "run", "watch");
	ASSERT_CLI(admin, 2, "run", "approve");
	ASSERT_CLI(admin, 2, "playbook", "apply");
	ASSERT_CLI(admin, 2, "playbook", "list", "x");
	ASSERT_CLI(admin, 2, "halt");
	ASSERT_CLI(admin, 2, "halt", "--all", "--clear");
	ASSERT_CLI(admin, 2, "halt", "r-1", "--all");
	ASSERT_CLI(admin, 2, "halt", "--clear", "--reason", "x");
	ASSERT_CLI(admin, 2, "agents", "--bogus");
	ASSERT_CLI(admin, 2, "audit", "--since", "yesterday");
	ASSERT_HAS(err, "--since 'yesterday'");
	ASSERT_CLI(admin, 2, "audit", "verify", "--since", "2026-01-01T00:00:00Z");
	ASSERT_CLI(admin, 2, "--url", "ftp://127.0.0.1/", "run", "list");
	ASSERT_CLI(admin, 2, "--url", "http://127.0.0.1:1/?q", "run", "list");
	ASSERT_CLI(admin, 2, "--token", "with space", "run", "list");
	write_file("token", admin, tokfile, sizeof(tokfile));
	ASSERT_CLI(NULL, 2, "--token", admin, "--token-file", tokfile, "run", "list");

	TEST_START("--token-file reads the token (a trailing newline is fine)");
	ASSERT_CLI(NULL, 0, "--token-file", tokfile, "run", "list");
	ASSERT_CLI(NULL, 1, "--token-file", "/nonexistent/token", "run", "list");
	(void)unlink(tokfile);
}

static void
test_refusals(void)
{
	TEST_START("no, wrong or low-role tokens: exit 1 and the controller's message");
	ASSERT_CLI(wrong, 1, "run", "list");
	ASSERT_MATCH(err, "^gameday: .+");
	ASSERT_STR_EQ(out, "");
	ASSERT_TRUE(strstr(err, wrong) == NULL);	/* The token is never printed. */
	ASSERT_CLI(NULL, 1, "run", "list");
	ASSERT_HAS(err, "no token was given");
	ASSERT_CLI(viewer, 1, "halt", "--clear");
	ASSERT_MATCH(err, "^gameday: .+");

	TEST_START("no controller at the URL: exit 1, the URL named");
	ASSERT_CLI(admin, 1, "--url", "http://127.0.0.1:1", "run", "list");
	ASSERT_HAS(err, "http://127.0.0.1:1");

	TEST_START("an unknown run: exit 1 with the 404's message");
	ASSERT_CLI(admin, 1, "run", "show", "r-0000000000000000");
	ASSERT_MATCH(err, "^gameday: .+");
	ASSERT_CLI(admin, 1, "run", "watch", "r-0000000000000000");
	ASSERT_CLI(admin, 1, "halt", "r-0000000000000000");
}

static void
test_playbooks(void)
{
	char path[128], bad[128], rev[65] = "", want[160];
	cJSON *o;

	write_file("burn.json", burn_pb, path, sizeof(path));
	write_file("bad.json", bad_pb, bad, sizeof(bad));

	TEST_START("playbook apply: applied, then unchanged, with the same revision");
	ASSERT_CLI(viewer, 1, "playbook", "apply", path);
	ASSERT_MATCH(err, "^gameday: .+");
	ASSERT_CLI(operator_, 0, "playbook", "apply", path);
	ASSERT_MATCH(out, "^applied cli-burn revision [0-9a-f]{64}\n$");
	if (strlen(out) == strlen("applied cli-burn revision \n") + 64)
		(void)snprintf(rev, sizeof(rev), "%.64s",
		    out + strlen("applied cli-burn revision "));
	ASSERT_CLI(operator_, 0, "playbook", "apply", path);
	(void)snprintf(want, sizeof(want), "unchanged cli-burn revision %s\n", rev);
	ASSERT_STR_EQ(out, want);

	TEST_START("playbook apply of an invalid file: the validator's errors, nothing stored");
	ASSERT_CLI(operator_, 1, "playbook", "apply", bad);
	ASSERT_HAS(err, "duration: ");
	ASSERT_STR_EQ(out, "");
	ASSERT_CLI(operator_, 1, "playbook", "apply", "/nonexistent.json");

	TEST_START("playbook list: a table, and --json the API's reply");
	ASSERT_CLI(viewer, 0, "playbook", "list");
	ASSERT_MATCH(out, "^NAME +REVISION +ENVIRONMENT +TIER +UPDATED\n");
	ASSERT_MATCH(out, "\ncli-burn +[0-9a-f]{12} +staging +3 +[0-9T:.Z-]+\n");
	ASSERT_TRUE(strstr(out, "not-stored") == NULL);
	ASSERT_CLI(viewer, 0, "playbook", "list", "--json");
	o = cJSON_Parse(out);
	ASSERT_TRUE(cJSON_IsArray(cJSON_GetObjectItem(o, "playbooks")));
	ASSERT_STR_EQ(h_str(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "playbooks"), 0), "name"),
	    "cli-burn");
	cJSON_Delete(o);
	(void)unlink(path);
	(void)unlink(bad);
}

/* Starts a run of name as token; its id into id (r- and 16 hex digits). */
static void
start_run(const char *token, const char *name, bool dry, char id[32])
{
	id[0] = '\0';
	if (dry)
		ASSERT_CLI(token, 0, "run", "start", name, "--dry-run", "--reason", "cli test");
	else
		ASSERT_CLI(token, 0, "run", "start", "--reason", "cli test", name);
	ASSERT_MATCH(out, "^r-[0-9a-f]{16}\n$");
	(void)snprintf(id, 32, "%.*s", (int)strcspn(out, "\n"), out);
}

static void
test_runs(void)
{
	char id[32], dry[32], fail[32], re[128];
	cJSON *o, *line;

	TEST_START("run start prints the id alone; run watch follows it to completed (exit 0)");
	start_run(operator_, "cli-burn", false, id);
	ASSERT_CLI(viewer, 0, "run", "watch", id);
	(void)snprintf(re, sizeof(re), "^run %s of cli-burn, state [a-z_]+\n", id);
	ASSERT_MATCH(out, re);
	ASSERT_MATCH(out, "^[0-9T:.Z-]+ state running by scheduler: .+$");
	ASSERT_MATCH(out, "^[0-9T:.Z-]+ fault db1 [a-z_]+ by agent:db1: .+$");
	ASSERT_MATCH(out, "^  db1  cpu\\.burn applied$");
	ASSERT_MATCH(out, "^  db1  cpu\\.burn reverted$");
	(void)snprintf(re, sizeof(re), "\nrun %s ended: completed\n$", id);
	ASSERT_MATCH(out, re);

	TEST_START("run watch --json: one JSON event per line; a finished run ends at once");
	ASSERT_CLI(viewer, 0, "run", "watch", "--json", id);
	{
		char *save = NULL, *l;
		int n = 0;

		for (l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
			line = cJSON_Parse(l);
			ASSERT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(line, "seq")));
			ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItem(line, "kind")));
			cJSON_Delete(line);
			n++;
		}
		ASSERT_TRUE(n >= 4);
	}

	TEST_START("run show: state, people, times and the faults per host");
	ASSERT_CLI(viewer, 0, "run", "show", id);
	(void)snprintf(re, sizeof(re), "^id +%s$", id);
	ASSERT_MATCH(out, re);
	ASSERT_MATCH(out, "^playbook +cli-burn$");
	ASSERT_MATCH(out, "^state +completed$");
	ASSERT_MATCH(out, "^requested by +olga$");
	ASSERT_MATCH(out, "^approved by +-$");
	ASSERT_MATCH(out, "^reason +cli test$");
	ASSERT_MATCH(out, "^started +[0-9]{4}-[0-9T:.Z-]+$");
	ASSERT_MATCH(out, "^HOST +FAULT +TYPE +STATE +ORDER +FAULT-ID +ERROR$");
	ASSERT_MATCH(out, "^db1 +0 +cpu\\.burn +reverted +o-[0-9a-f]{16} +[0-9a-f]{16} +-$");
	ASSERT_CLI(viewer, 0, "run", "show", "--json", id);
	o = cJSON_Parse(out);
	ASSERT_STR_EQ(h_str(o, "id"), id);
	ASSERT_STR_EQ(h_str(o, "state"), "completed");
	cJSON_Delete(o);

	TEST_START("run list: newest first, a table or --json");
	ASSERT_CLI(viewer, 0, "run", "list");
	ASSERT_MATCH(out, "^ID +PLAYBOOK +ENVIRONMENT +STATE +DRY-RUN +REQUESTED-BY +CREATED\n");
	(void)snprintf(re, sizeof(re), "^%s +cli-burn +staging +completed +no +olga +", id);
	ASSERT_MATCH(out, re);
	ASSERT_CLI(viewer, 0, "run", "list", "--json", "--limit", "1");
	o = cJSON_Parse(out);
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(o, "runs")), 1);
	ASSERT_STR_EQ(h_str(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "runs"), 0), "id"), id);
	cJSON_Delete(o);

	TEST_START("a dry run: completed, and run show prints each host's plan");
	start_run(operator_, "cli-burn", true, dry);
	ASSERT_CLI(viewer, 0, "run", "watch", dry);
	ASSERT_HAS(out, "ended: completed");
	ASSERT_CLI(viewer, 0, "run", "show", dry);
	ASSERT_MATCH(out, "^dry run +yes$");
	ASSERT_HAS(out, "\nplan for db1:\n    would start 1 busy thread at 10%\n    \tfor 2s\n");

	TEST_START("a revert that fails ends the run failed: run watch exits 1");
	atomic_store(&agent.fail_revert, true);
	start_run(operator_, "cli-burn", false, fail);
	ASSERT_CLI(viewer, 1, "run", "watch", fail);
	ASSERT_HAS(out, "ended: failed");
	ASSERT_MATCH(out, "^  db1  cpu\\.burn revert_failed \\(device or resource busy\\)$");
	ASSERT_CLI(viewer, 0, "run", "show", fail);
	ASSERT_MATCH(out, "^db1 +0 +cpu\\.burn +revert_failed +.* device or resource busy$");
	atomic_store(&agent.fail_revert, false);

	TEST_START("schedule list: the controller's plan (no scheduled playbook here)");
	ASSERT_CLI(viewer, 0, "schedule", "list");
	ASSERT_MATCH(out, "^PLAYBOOK +NEXT-START +WINDOW-END +NEXT-RUN +LAST-START\n$");
	ASSERT_CLI(viewer, 0, "schedule", "list", "--json");
	ASSERT_MATCH(out, "\"schedules\":[[:space:]]*\\[\\]");
	ASSERT_CLI(viewer, 2, "schedule", "list", "extra");

	TEST_START("agents: host, state, via, last seen, tags, faults");
	ASSERT_CLI(viewer, 0, "agents");
	ASSERT_MATCH(out, "^HOST +STATE +VIA +LAST-SEEN +TAGS +FAULTS\ndb1 +ok +poll +"
	    "[0-9T:.Z-]+ +role=db +[0-9]+\n$");
	ASSERT_CLI(viewer, 0, "agents", "--json");
	o = cJSON_Parse(out);
	ASSERT_STR_EQ(h_str(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "agents"), 0), "host"),
	    "db1");
	cJSON_Delete(o);
}

static void
test_approve_halt(void)
{
	char path[128], id[32], id2[32], want[96];

	write_file("prod.json", prod_pb, path, sizeof(path));
	ASSERT_CLI(operator_, 0, "playbook", "apply", path);
	(void)unlink(path);

	TEST_START("run approve: not by the requester, nor below approver; then by bob");
	start_run(approver, "cli-prod", false, id);
	ASSERT_CLI(viewer, 0, "run", "show", id);
	ASSERT_MATCH(out, "^state +awaiting_approval$");
	ASSERT_CLI(approver, 1, "run", "approve", id);
	ASSERT_MATCH(err, "^gameday: .+");
	ASSERT_CLI(operator_, 1, "run", "approve", id);
	ASSERT_CLI(admin, 0, "run", "approve", id);
	(void)snprintf(want, sizeof(want), "approved %s, state ", id);
	ASSERT_TRUE(strncmp(out, want, strlen(want)) == 0);
	ASSERT_CLI(admin, 1, "run", "approve", id);	/* 409: not awaiting approval now. */
	ASSERT_CLI(viewer, 0, "run", "show", id);
	ASSERT_MATCH(out, "^approved by +alice$");

	TEST_START("halt ID (any user): the run is halted; run watch ends with exit 0");
	ASSERT_CLI(viewer, 0, "halt", id, "--reason", "db on fire");
	(void)snprintf(want, sizeof(want), "halted %s, state ", id);
	ASSERT_TRUE(strncmp(out, want, strlen(want)) == 0);
	ASSERT_CLI(viewer, 0, "run", "watch", id);
	ASSERT_HAS(out, "ended: halted");
	ASSERT_HAS(out, "db on fire");

	TEST_START("halt --all blocks new runs until an admin's halt --clear");
	start_run(approver, "cli-prod", false, id2);
	ASSERT_CLI(viewer, 0, "halt", "--all", "--reason", "freeze");
	(void)snprintf(want, sizeof(want), "halted %s\n", id2);
	ASSERT_HAS(out, want);
	ASSERT_HAS(out, "halt-all in force");
	ASSERT_CLI(operator_, 1, "run", "start", "cli-burn", "--reason", "r");
	ASSERT_MATCH(err, "^gameday: .+");
	ASSERT_STR_EQ(out, "");
	ASSERT_CLI(operator_, 1, "halt", "--clear");
	ASSERT_CLI(admin, 0, "halt", "--clear");
	ASSERT_HAS(out, "cleared");
	start_run(operator_, "cli-burn", true, id);
	ASSERT_CLI(viewer, 0, "run", "watch", id);
}

/* Changes one audit row behind the controller's back (its triggers dropped first). */
static void
tamper_audit(void)
{
	char path[128];
	sqlite3 *db = NULL;

	(void)snprintf(path, sizeof(path), "%s/gameday.db", g.dir);
	ASSERT_INT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_exec(db, "DROP TRIGGER audit_no_update; "
	    "UPDATE audit SET actor = 'mallory' WHERE seq = 2", NULL, NULL, NULL), SQLITE_OK);
	(void)sqlite3_close(db);
}

static void
test_audit(void)
{
	cJSON *o, *row;
	int64_t last = 0;
	bool ordered = true;

	TEST_START("audit: a table of seq, time, actor, action, object; --since; --json");
	ASSERT_CLI(viewer, 0, "audit");
	ASSERT_MATCH(out, "^SEQ +TIME +ACTOR +ACTION +OBJECT\n1 +");
	ASSERT_MATCH(out, "^[0-9]+ +[0-9T:.Z-]+ +olga +playbook\\.apply +cli-burn$");
	ASSERT_MATCH(out, "^[0-9]+ +[0-9T:.Z-]+ +olga +run\\.start +r-[0-9a-f]{16}$");
	ASSERT_CLI(viewer, 0, "audit", "--since", "2999-01-01T00:00:00Z");
	ASSERT_STR_EQ(out, "SEQ  TIME  ACTOR  ACTION  OBJECT\n");
	ASSERT_CLI(viewer, 0, "audit", "--json");
	o = cJSON_Parse(out);
	ASSERT_TRUE(cJSON_GetArraySize(cJSON_GetObjectItem(o, "rows")) > 10);
	cJSON_ArrayForEach(row, cJSON_GetObjectItem(o, "rows")) {
		int64_t seq = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(row, "seq"));

		ordered = ordered && seq == last + 1;
		last = seq;
	}
	ASSERT_TRUE(ordered);
	cJSON_Delete(o);

	TEST_START("audit verify: rows, chain ok, head (exit 0)");
	ASSERT_CLI(viewer, 0, "audit", "verify");
	ASSERT_MATCH(out, "^audit: [0-9]+ rows, chain ok, head [0-9a-f]{64}\n$");

	TEST_START("audit verify after a row was changed: where it breaks (exit 1)");
	atomic_store(&agent.stop, true);
	(void)pthread_join(agent.th, NULL);
	gd_stop(&g);
	tamper_audit();
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_CLI(viewer, 1, "audit", "verify");
	ASSERT_MATCH(out, "^audit: chain broken at seq 2: .+\n$");
	ASSERT_CLI(viewer, 1, "audit", "verify", "--json");
	o = cJSON_Parse(out);
	ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(o, "ok")));
	ASSERT_INT_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "first_bad_seq")), 2);
	cJSON_Delete(o);
}

int
main(void)
{
	const char *ctl = getenv("GD_CTL_BIN");

	if (ctl == NULL || ctl[0] == '\0' || access(ctl, X_OK) != 0) {
		(void)fprintf(stderr, "skip: gamedayd is not built (GD_CTL_BIN)\n");
		return 77;
	}
	cli_bin = h_bin("GD_CLI_BIN", "gameday");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setup();
	test_usage();
	test_refusals();
	test_playbooks();
	test_runs();
	test_approve_halt();
	test_audit();
	if (!atomic_load(&agent.stop)) {
		atomic_store(&agent.stop, true);
		(void)pthread_join(agent.th, NULL);
	}
	gd_stop(&g);
	gd_cleanup(&g);
	(void)rmdir(pbdir);
	curl_global_cleanup();
	return test_done();
}
