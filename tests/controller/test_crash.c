/*
 * gamedayd killed at random moments.
 *
 * REL-20: SIGKILL during a stream of writes, N times (GD_CRASH_N, default 60; the soak
 * label runs 1,000): after each restart PRAGMA integrity_check says ok, the audit chain
 * verifies, and nothing is half-stored (every run has its run.start audit row and its
 * first event, and every run.start row has its run).  Then the disk fills up under it (a
 * tmpfs of its own): writes fail with 500, nothing half-stored, and it carries on once
 * there is room.
 *
 * REL-08: a run whose agent (this test, speaking the protocol) applies each order, with
 * the controller SIGKILLed at a random moment and restarted, again and again: the run
 * still ends, every fault it applied is reverted, and no fault got two inject orders.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/mount.h>

#include "harness.h"
#include "ns.h"
#include "test.h"

#define TOK 80

static struct gd g;
static char op[TOK];

static const char pb_fmt[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"%s\",\"description\":\"%s\","
    "\"owner\":\"o\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"%s\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"network.partition\",\"peers\":[\"192.0.2.0/24\"]},"
    "{\"type\":\"network.loss\",\"percent\":10,\"ports\":[9]}],"
    "\"duration\":\"%s\"}";

static volatile bool writer_stop;

/* Applies playbooks and starts runs as fast as it can until told to stop. */
static void *
writer(void *arg)
{
	char body[1024], name[32], desc[32];
	unsigned i = *(unsigned *)arg;

	while (!writer_stop) {
		/* A new description each time: a new revision of one of 7 playbooks. */
		(void)snprintf(name, sizeof(name), "pb-%u", i % 7);
		(void)snprintf(desc, sizeof(desc), "revision %u", i);
		(void)snprintf(body, sizeof(body), pb_fmt, name, desc, "none", "1m");
		(void)h_http(&g, "POST", "/v1/playbooks", op, body, NULL, NULL);
		(void)snprintf(body, sizeof(body), "{\"playbook\":\"%s\",\"reason\":\"crash %u\"}",
		    name, i);
		(void)h_http(&g, "POST", "/v1/runs", op, body, NULL, NULL);
		i++;
	}
	return NULL;
}

static int
count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Opens the stopped controller's database and checks it whole; false (printed) if not. */
static bool
db_whole(const char *dir, int *ret_runs)
{
	char path[128], *msg = NULL;
	sqlite3 *db;
	bool ok = true;
	int half;

	(void)snprintf(path, sizeof(path), "%s/gameday.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return false;
	{
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW ||
		    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
			printf("integrity_check: %s\n", sqlite3_column_text(st, 0));
			ok = false;
		}
		sqlite3_finalize(st);
	}
	half = count(db, "SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM audit a "
	    "WHERE a.action = 'run.start' AND a.object = r.id) OR NOT EXISTS (SELECT 1 FROM "
	    "events e WHERE e.run = r.id)");
	half += count(db, "SELECT count(*) FROM audit a WHERE a.action = 'run.start' AND NOT "
	    "EXISTS (SELECT 1 FROM runs r WHERE r.id = a.object)");
	half += count(db, "SELECT count(*) FROM playbook_heads h WHERE NOT EXISTS (SELECT 1 FROM "
	    "audit a WHERE a.action = 'playbook.apply' AND a.object = h.name AND "
	    "json_extract(a.details, '$.revision') = h.revision)");
	if (half != 0) {
		printf("half-stored rows: %d\n", half);
		ok = false;
	}
	*ret_runs = count(db, "SELECT count(*) FROM runs");
	sqlite3_free(msg);
	(void)sqlite3_close(db);
	return ok;
}

static bool
audit_ok(void)
{
	cJSON *o = NULL;
	bool ok;

	ok = h_json(&g, "GET", "/v1/audit/verify", op, NULL, &o) == 200 &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));
	if (!ok && o != NULL) {
		char *text = cJSON_PrintUnformatted(o);

		printf("audit verify: %s\n", text != NULL ? text : "?");
		cJSON_free(text);
	}
	cJSON_Delete(o);
	return ok;
}

static void
test_kill_during_writes(void)
{
	const char *env = getenv("GD_CRASH_N");
	long n = env != NULL ? atol(env) : 60;
	int bad = 0, runs = 0;
	pthread_t t[2];
	unsigned seeds[2] = { 0, 1000000 };

	TEST_START("REL-20: SIGKILL during writes, restart: integrity ok, audit verifies, "
	    "nothing half-stored");
	for (long i = 0; i < n; i++) {
		if (gd_start(&g, 0) < 0) {
			bad++;
			break;
		}
		if (!audit_ok())
			bad++;
		writer_stop = false;
		for (int k = 0; k < 2; k++)
			(void)pthread_create(&t[k], NULL, writer, &seeds[k]);
		h_sleep_ms(5 + (long)(((unsigned)i * 7919U) % 60));
		(void)gd_signal_wait(&g, SIGKILL);
		writer_stop = true;
		for (int k = 0; k < 2; k++)
			(void)pthread_join(t[k], NULL);
		if (!db_whole(g.dir, &runs))
			bad++;
		seeds[0] += 100;
		seeds[1] += 100;
	}
	printf("REL-20: %ld SIGKILLs during writes, %d runs stored, %d bad\n", n, runs, bad);
	ASSERT_INT_EQ(bad, 0);
	ASSERT_TRUE(runs > 0);
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_TRUE(audit_ok());
	gd_stop(&g);
}

/*
 * The simulated agent: polls once (short wait), reports every order it gets as done
 * (inject: applied with a fault id from the order; revert: reverted), and returns how many
 * orders it handled.
 */
static int
agent_step(const char *cred, const char *held)
{
	char body[512], *reply = NULL;
	cJSON *o, *orders, *ord;
	int n = 0;

	(void)snprintf(body, sizeof(body), "{\"host\":\"sim\",\"wait_ms\":200,\"faults\":%s}",
	    held);
	if (h_http(&g, "POST", "/v1/agent/poll", cred, body, NULL, &reply) != 200) {
		free(reply);
		return -1;
	}
	o = cJSON_Parse(reply);
	free(reply);
	orders = cJSON_GetObjectItemCaseSensitive(o, "orders");
	cJSON_ArrayForEach(ord, orders) {
		const char *id = h_str(ord, "id"), *action = h_str(ord, "action");
		bool inject = strcmp(action, "inject") == 0;

		(void)snprintf(body, sizeof(body), "{\"host\":\"sim\",\"order\":\"%s\",\"status\":"
		    "\"done\",\"fault_id\":\"%s\",\"state\":\"%s\"}", id,
		    inject ? id + 2 : h_str(ord, "fault_id"), inject ? "applied" : "reverted");
		if (h_http(&g, "POST", "/v1/agent/report", cred, body, NULL, NULL) == 200)
			n++;
	}
	cJSON_Delete(o);
	return n;
}

static void
test_kill_during_run(void)
{
	char enroll[TOK], cred[TOK], body[1024], run[32] = "", path[64], dbpath[128];
	char state[32] = "";
	int kills = 0, doubles = -1, leftovers = -1;
	double t0;
	cJSON *o = NULL;
	sqlite3 *db;

	TEST_START("REL-08: the controller SIGKILLed at random moments of a run: the run ends, "
	    "0 faults left applied, 0 double injections");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, NULL, NULL, enroll, TOK), 0);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/agent/enroll", enroll, "{\"host\":\"sim\","
	    "\"tags\":{\"role\":\"sim\"}}", &o), 201);
	(void)snprintf(cred, TOK, "%s", h_str(o, "credential"));
	cJSON_Delete(o);
	(void)snprintf(body, sizeof(body), pb_fmt, "crash-run", "d", "sim", "3s");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", op, body, NULL, NULL), 201);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/runs", op, "{\"playbook\":\"crash-run\","
	    "\"reason\":\"REL-08\"}", &o), 201);
	(void)snprintf(run, sizeof(run), "%s", h_str(o, "id"));
	cJSON_Delete(o);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s", run);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 60000) {
		char held[256] = "[]";

		/* The agent's journal: the faults it holds, as the controller last learned. */
		if (h_json(&g, "GET", path, op, NULL, &o) == 200) {
			const cJSON *tg = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o,
			    "targets"), 0), *f;
			size_t len = 1;

			(void)snprintf(state, sizeof(state), "%s", h_str(o, "state"));
			if (strcmp(state, "completed") == 0 || strcmp(state, "failed") == 0 ||
			    strcmp(state, "aborted") == 0)
				break;
			cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(tg, "faults")) {
				const char *fs = h_str(f, "state");

				if (strcmp(fs, "applied") == 0 || strcmp(fs, "reverting") == 0)
					len += (size_t)snprintf(held + len, sizeof(held) - len,
					    "%s{\"id\":\"%s\"}", len > 1 ? "," : "",
					    h_str(f, "fault_id"));
			}
			(void)snprintf(held + len, sizeof(held) - len, "]");
			held[0] = '[';
		}
		cJSON_Delete(o);
		o = NULL;
		(void)agent_step(cred, held);
		if (rand() % 3 == 0) {
			(void)gd_signal_wait(&g, SIGKILL);
			kills++;
			if (gd_start(&g, 0) < 0)
				break;
		}
	}
	cJSON_Delete(o);
	printf("REL-08: run %s ended %s after %d SIGKILLs of the controller\n", run, state,
	    kills);
	ASSERT_STR_EQ(state, "completed");
	ASSERT_TRUE(kills > 0);
	gd_stop(&g);
	(void)snprintf(dbpath, sizeof(dbpath), "%s/gameday.db", g.dir);
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		doubles = count(db, "SELECT count(*) FROM (SELECT host, idx FROM orders WHERE "
		    "action = 'inject' GROUP BY run, host, idx HAVING count(*) > 1)");
		leftovers = count(db, "SELECT count(*) FROM run_faults WHERE state NOT IN "
		    "('reverted', 'cancelled', 'inject_failed')");
		(void)sqlite3_close(db);
	}
	ASSERT_INT_EQ(doubles, 0);
	ASSERT_INT_EQ(leftovers, 0);
}

static void
test_disk_full(void)
{
	char body[2048], fill[128], big[1024 * 1024];
	int st500 = 0, runs = 0;
	FILE *f;

	TEST_START("REL-20: the state dir's disk full: 500s, nothing half-stored, carries on "
	    "when there is room");
	gd_stop(&g);
	gd_cleanup(&g);
	memset(&g, 0, sizeof(g));
	ns_enter_mnt();
	(void)snprintf(g.dir, sizeof(g.dir), "/tmp/gdctl-full");
	ns_mount_tmpfs(g.dir, 4ULL << 20);
	(void)chmod(g.dir, 0700);
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "op", "operator", op, TOK), 0);
	/* Fill the tmpfs to the last byte with a file of ours. */
	(void)snprintf(fill, sizeof(fill), "%s/filler", g.dir);
	memset(big, 'x', sizeof(big));
	if ((f = fopen(fill, "w")) != NULL) {
		while (fwrite(big, 1, sizeof(big), f) == sizeof(big) && fflush(f) == 0)
			;
		while (fwrite(big, 1, 512, f) == 512 && fflush(f) == 0)
			;
		(void)fclose(f);
	}
	for (int i = 0; i < 200; i++) {
		long s;

		(void)snprintf(body, sizeof(body), pb_fmt, "full", "a description long enough to "
		    "need pages", "none", "1m");
		body[strlen(body) - 1] = '\0';
		(void)snprintf(body + strlen(body), sizeof(body) - strlen(body),
		    ",\"risk\":\"R-%d\"}", i);
		s = h_http(&g, "POST", "/v1/playbooks", op, body, NULL, NULL);
		st500 += s == 500;
		ASSERT_TRUE(s == 201 || s == 500);
	}
	printf("disk full: %d of 200 applies refused with 500\n", st500);
	ASSERT_TRUE(st500 > 0);
	ASSERT_INT_EQ(h_http(&g, "GET", "/healthz", NULL, NULL, NULL, NULL), 200);
	(void)unlink(fill);
	(void)snprintf(body, sizeof(body), pb_fmt, "after", "d", "none", "1m");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", op, body, NULL, NULL), 201);
	ASSERT_TRUE(audit_ok());
	gd_stop(&g);
	ASSERT_TRUE(db_whole(g.dir, &runs));
	(void)umount2(g.dir, MNT_DETACH);
	(void)rmdir(g.dir);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srand(42);
	TEST_START("setup");
	ASSERT_INT_EQ(gd_start(&g, 0), 0);
	ASSERT_INT_EQ(h_token(&g, "op", "operator", op, TOK), 0);
	gd_stop(&g);
	test_kill_during_writes();
	test_kill_during_run();
	gd_cleanup(&g);
	if (geteuid() == 0)
		test_disk_full();
	else
		printf("disk-full case skipped: needs root for a tmpfs of its own\n");
	curl_global_cleanup();
	return test_done();
}
