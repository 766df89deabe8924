/*
 * The risk matrix against a real gamedayd (GD_CTL_BIN) and the gameday CLI (GD_CLI_BIN):
 * imports in CSV and JSON, all or nothing; re-imports that change a risk (its history grows,
 * one audit row per import); bad files refused with every problem and nothing stored; roles;
 * the list's order (High/High first); a risk's Game Days (runs of playbooks that name it);
 * the CLI's output and exit codes.
 */
#include <stdbool.h>

#include "harness.h"
#include "test.h"

#define TOK		80
#define CLI_DEADLINE_MS	60000	/* A CLI call that takes longer is killed (and fails). */

static struct gd g;
static char operator_[TOK], viewer[TOK];
static char dir[64];

#include "clirun.h"

#define HEADER "ID,System,Owner,Description,Date identified,Likelihood,Severity," \
	"Mitigation plan,Status,ETA,Monitoring,Triggered plan,Comment\r\n"

/* Four risks, none of them in the order the list shows them. */
static const char first_csv[] = HEADER
    "R-4,search,search-team,Index corrupt,2026-02-01,Low,Low,,mitigated,,,,\r\n"
    "R-2,checkout,payments,\"Card provider slow, retries pile up\",2026-01-20,High,Medium,"
    "Circuit breaker,active,Q3,p99 alert,Fail open,\r\n"
    "R-1,orders,db-team,\"Primary fails\nreplica lags\",2026-01-12,Medium,High,"
    "\"Automate failover; test it \"\"monthly\"\"\",active,Q2,replica lag,Page DBA,\r\n"
    "R-3,network,netops,Region partition,2026-03-01,high,HIGH,,active,,,,\r\n";

/* R-1 again, unchanged, and a new R-5. */
static const char second_json[] =
    "[{\"id\": \"R-1\", \"system\": \"orders\", \"owner\": \"db-team\",\n"
    "  \"description\": \"Primary fails\\nreplica lags\", \"identified\": \"2026-01-12\",\n"
    "  \"likelihood\": \"Medium\", \"severity\": \"High\",\n"
    "  \"mitigation\": \"Automate failover; test it \\\"monthly\\\"\", \"status\": \"active\",\n"
    "  \"eta\": \"Q2\", \"monitoring\": \"replica lag\", \"triggered_plan\": \"Page DBA\"},\n"
    " {\"id\": \"R-5\", \"system\": \"dns\", \"owner\": \"netops\", \"description\": \"TTL\",\n"
    "  \"identified\": \"2026-04-01\", \"likelihood\": \"Low\", \"severity\": \"Medium\"}]\n";

/* R-1 with a lower severity and a new status; the rest as before. */
static const char change_csv[] = HEADER
    "R-1,orders,db-team,\"Primary fails\nreplica lags\",2026-01-12,Medium,Low,"
    "\"Automate failover; test it \"\"monthly\"\"\",fix in progress,Q2,replica lag,Page DBA,\r\n"
    "R-4,search,search-team,Index corrupt,2026-02-01,Low,Low,,mitigated,,,,\r\n";

/* One good new row among bad ones: nothing may be stored. */
static const char bad_csv[] = HEADER
    "R-9,billing,fin,Invoices late,2026-05-01,Low,Low,,,,,,\r\n"
    "R-1,orders,db-team,d,2026-01-12,Medium,Huge,,,,,,\r\n"
    "R-6,orders,,d,2026-02-30,Low,Low,,,,,,\r\n"
    "R-9,billing,fin,again,2026-05-01,Low,Low,,,,,,\r\n";

/* For the CLI: a new R-6 (Low likelihood, High severity) and R-4 as it is. */
static const char cli_csv[] = HEADER
    "R-6,auth,identity,Token signing key leaks,2026-06-01,Low,High,Rotate keys,active,,,,\r\n"
    "R-4,search,search-team,Index corrupt,2026-02-01,Low,Low,,mitigated,,,,\r\n";

static const char risk_pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"risk-burn\",\"description\":\"d\","
    "\"owner\":\"qa\",\"environment\":\"staging\",\"tier\":3,\"risk\":\"R-1\","
    "\"targets\":{\"tags\":{\"role\":\"nowhere\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"cpu.burn\",\"cores\":1,\"load_percent\":10}],"
    "\"duration\":\"3s\"}";
static const char other_pb[] =
    "{\"apiVersion\":\"gameday/v1\",\"name\":\"no-risk\",\"description\":\"d\","
    "\"owner\":\"qa\",\"environment\":\"staging\",\"tier\":3,"
    "\"targets\":{\"tags\":{\"role\":\"nowhere\"},\"pick\":{\"count\":1}},"
    "\"faults\":[{\"type\":\"cpu.burn\",\"cores\":1,\"load_percent\":10}],"
    "\"duration\":\"3s\"}";

/* {"format": fmt, "data": data} as text; the caller frees it. */
static char *
import_body(const char *fmt, const char *data)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	(void)cJSON_AddStringToObject(o, "format", fmt);
	(void)cJSON_AddStringToObject(o, "data", data);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* POST /v1/risks; returns the status, the reply in *ret (caller deletes; may be NULL). */
static long
import(const char *token, const char *fmt, const char *data, cJSON **ret)
{
	char *body = import_body(fmt, data);
	cJSON *o = NULL;
	long st = h_json(&g, "POST", "/v1/risks", token, body, &o);

	free(body);
	if (ret != NULL)
		*ret = o;
	else
		cJSON_Delete(o);
	return st;
}

static int
num(const cJSON *o, const char *key)
{
	return (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The whole risk list as text, to compare before and after. */
static char *
list_text(void)
{
	char *text = NULL;

	(void)h_http(&g, "GET", "/v1/risks", viewer, NULL, NULL, &text);
	return text;
}

static int
audit_count(const char *action)
{
	cJSON *o = NULL;
	const cJSON *row;
	int n = 0;

	(void)h_json(&g, "GET", "/v1/audit?limit=100000", viewer, NULL, &o);
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(o, "rows"))
		n += strcmp(h_str(row, "action"), action) == 0;
	cJSON_Delete(o);
	return n;
}

static void
test_import(void)
{
	static const char *const order[] = { "R-3", "R-1", "R-2", "R-4" };
	cJSON *o = NULL, *r1;
	const cJSON *risk;
	size_t i = 0;

	TEST_START("import CSV: every row created, one audit row with the counts");
	ASSERT_INT_EQ(import(operator_, "csv", first_csv, &o), 200);
	ASSERT_INT_EQ(num(o, "created"), 4);
	ASSERT_INT_EQ(num(o, "updated"), 0);
	ASSERT_INT_EQ(num(o, "unchanged"), 0);
	cJSON_Delete(o);
	ASSERT_TRUE(h_audit_has(&g, viewer, "risk.import", "\"created\":4"));
	ASSERT_INT_EQ(audit_count("risk.import"), 1);

	TEST_START("list: High/High first, then by likelihood x severity, severity, id");
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/risks", viewer, NULL, &o), 200);
	cJSON_ArrayForEach(risk, cJSON_GetObjectItemCaseSensitive(o, "risks")) {
		if (i < 4)
			ASSERT_STR_EQ(h_str(risk, "id"), order[i]);
		i++;
	}
	ASSERT_INT_EQ(i, 4);
	risk = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "risks"), 0);
	ASSERT_STR_EQ(h_str(risk, "likelihood"), "High");	/* "high" in the file. */
	ASSERT_STR_EQ(h_str(risk, "updated_by"), "olga");
	cJSON_Delete(o);

	TEST_START("import JSON: R-1 unchanged, R-5 created, R-1's history untouched");
	ASSERT_INT_EQ(import(operator_, "json", second_json, &o), 200);
	ASSERT_INT_EQ(num(o, "created"), 1);
	ASSERT_INT_EQ(num(o, "unchanged"), 1);
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/risks/R-1", viewer, NULL, &o), 200);
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "history")), 1);
	ASSERT_STR_EQ(h_str(o, "description"), "Primary fails\nreplica lags");
	ASSERT_STR_EQ(h_str(o, "mitigation"), "Automate failover; test it \"monthly\"");
	cJSON_Delete(o);
	ASSERT_INT_EQ(audit_count("risk.import"), 2);

	TEST_START("re-import with a change: updated, history grows and names the change");
	ASSERT_INT_EQ(import(operator_, "csv", change_csv, &o), 200);
	ASSERT_INT_EQ(num(o, "updated"), 1);
	ASSERT_INT_EQ(num(o, "unchanged"), 1);
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/risks/R-1", viewer, NULL, &o), 200);
	ASSERT_STR_EQ(h_str(o, "severity"), "Low");
	r1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "history"), 1);
	ASSERT_STR_EQ(h_str(r1, "action"), "updated");
	ASSERT_STR_EQ(h_str(r1, "actor"), "olga");
	ASSERT_TRUE(h_json_has(cJSON_GetObjectItemCaseSensitive(r1, "changed"),
	    "[\"severity\",\"status\"]"));
	ASSERT_STR_EQ(h_str(cJSON_GetObjectItemCaseSensitive(r1, "row"), "status"),
	    "fix in progress");
	cJSON_Delete(o);
	ASSERT_TRUE(h_audit_has(&g, viewer, "risk.import", "\"updated\":1"));
	ASSERT_INT_EQ(audit_count("risk.import"), 3);
}

static void
test_refusals(void)
{
	char *before, *after;
	cJSON *o = NULL;

	TEST_START("bad rows: 422 with every problem, by row and column; nothing stored");
	before = list_text();
	ASSERT_INT_EQ(import(operator_, "csv", bad_csv, &o), 422);
	ASSERT_STR_EQ(h_str(cJSON_GetObjectItemCaseSensitive(o, "error"), "code"),
	    "invalid_risks");
	ASSERT_TRUE(h_json_has(o, "{\"path\":\"row 3, severity\",\"message\":\"\\\"Huge\\\" is "
	    "not Low, Medium or High\"}"));
	ASSERT_TRUE(h_json_has(o, "{\"path\":\"row 4, owner\",\"message\":\"is required\"}"));
	ASSERT_TRUE(h_json_has(o, "\"path\":\"row 4, date identified\""));
	ASSERT_TRUE(h_json_has(o, "{\"path\":\"row 5, id\",\"message\":\"\\\"R-9\\\" is also on "
	    "row 2\"}"));
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "problems")), 4);
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(o, "error"), "details")), 4);
	cJSON_Delete(o);
	after = list_text();
	ASSERT_STR_EQ(after, before);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/risks/R-9", viewer, NULL, NULL, NULL), 404);
	ASSERT_INT_EQ(audit_count("risk.import"), 3);
	free(before);
	free(after);

	TEST_START("bad JSON documents, bad bodies");
	ASSERT_INT_EQ(import(operator_, "json", "[{\"id\": \"R-1\"", &o), 422);
	ASSERT_TRUE(h_json_has(o, "truncated"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(import(operator_, "json", "[{\"id\":\"R-7\",\"sev\":\"High\"}]", &o), 422);
	ASSERT_TRUE(h_json_has(o, "{\"path\":\"[0].sev\",\"message\":\"unknown key\"}"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(import(operator_, "xml", "<risks/>", &o), 400);
	ASSERT_TRUE(h_json_has(o, "format: \\\"xml\\\" is not"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/risks", operator_, "{\"format\":\"csv\"}", &o),
	    400);
	ASSERT_TRUE(h_json_has(o, "data: is required"));
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/risks", operator_,
	    "{\"format\":\"csv\",\"data\":\"x\",\"dry\":1}", &o), 400);
	cJSON_Delete(o);
	ASSERT_INT_EQ(audit_count("risk.import"), 3);

	TEST_START("roles: a viewer reads but cannot import; no token, no list");
	ASSERT_INT_EQ(import(viewer, "csv", first_csv, NULL), 403);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/risks", NULL, NULL, NULL, NULL), 401);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/risks", viewer, NULL, NULL, NULL), 200);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/risks/no-such", viewer, NULL, NULL, NULL), 404);
	ASSERT_INT_EQ(h_http(&g, "GET", "/v1/risks/a%20b", viewer, NULL, NULL, NULL), 404);
	ASSERT_INT_EQ(audit_count("risk.import"), 3);
}

/* Starts a run of playbook name; its id into id. */
static void
start_run(const char *name, char id[32])
{
	char body[128];
	cJSON *o = NULL;

	(void)snprintf(body, sizeof(body), "{\"playbook\":\"%s\",\"reason\":\"risk test\"}",
	    name);
	ASSERT_INT_EQ(h_json(&g, "POST", "/v1/runs", operator_, body, &o), 201);
	(void)snprintf(id, 32, "%s", h_str(o, "id"));
	cJSON_Delete(o);
}

static char run_id[32];

static void
test_runs(void)
{
	char other[32], state[32];
	const cJSON *runs;
	cJSON *o = NULL;

	TEST_START("a risk lists every run of a playbook that names it, and only those");
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", operator_, risk_pb, NULL, NULL), 201);
	ASSERT_INT_EQ(h_http(&g, "POST", "/v1/playbooks", operator_, other_pb, NULL, NULL), 201);
	start_run("risk-burn", run_id);
	start_run("no-risk", other);
	/* No agent matches: the run ends quickly, and it still exercised the risk. */
	(void)h_wait_state(&g, viewer, run_id, "|aborted|failed|completed|", 30000, state);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/risks/R-1", viewer, NULL, &o), 200);
	runs = cJSON_GetObjectItemCaseSensitive(o, "runs");
	ASSERT_INT_EQ(cJSON_GetArraySize(runs), 1);
	ASSERT_STR_EQ(h_str(cJSON_GetArrayItem(runs, 0), "id"), run_id);
	ASSERT_STR_EQ(h_str(cJSON_GetArrayItem(runs, 0), "playbook"), "risk-burn");
	ASSERT_STR_EQ(h_str(cJSON_GetArrayItem(runs, 0), "state"), state);
	cJSON_Delete(o);
	ASSERT_INT_EQ(h_json(&g, "GET", "/v1/risks/R-2", viewer, NULL, &o), 200);
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "runs")), 0);
	cJSON_Delete(o);
}

/* ---- The CLI ---- */

static void
write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	(void)snprintf(path, len, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		(void)fprintf(stderr, "test_risks: cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static void
test_cli(void)
{
	char csv[128], json[128], sniff[128], bad[128], re[256];
	cJSON *o;

	write_file("risks.CSV", cli_csv, csv, sizeof(csv));
	write_file("more.json", second_json, json, sizeof(json));
	write_file("matrix", change_csv, sniff, sizeof(sniff));
	write_file("bad.csv", bad_csv, bad, sizeof(bad));

	TEST_START("risk import FILE: the format from the name or the text; one summary line");
	ASSERT_CLI(operator_, 0, "risk", "import", csv);
	ASSERT_STR_EQ(out, "imported 2 risks (csv): 1 created, 0 updated, 1 unchanged\n");
	ASSERT_CLI(operator_, 0, "risk", "import", json);
	ASSERT_STR_EQ(out, "imported 2 risks (json): 0 created, 1 updated, 1 unchanged\n");
	ASSERT_CLI(operator_, 0, "risk", "import", sniff);
	ASSERT_STR_EQ(out, "imported 2 risks (csv): 0 created, 1 updated, 1 unchanged\n");
	ASSERT_INT_EQ(audit_count("risk.import"), 6);

	TEST_START("risk import of a bad file: exit 1, one place: reason line each, no request");
	ASSERT_CLI(operator_, 1, "risk", "import", bad);
	ASSERT_STR_EQ(out, "");
	ASSERT_STR_EQ(err, "row 3, severity: \"Huge\" is not Low, Medium or High\n"
	    "row 4, owner: is required\n"
	    "row 4, date identified: \"2026-02-30\": no such calendar date\n"
	    "row 5, id: \"R-9\" is also on row 2\n");
	ASSERT_INT_EQ(audit_count("risk.import"), 6);
	ASSERT_CLI(viewer, 1, "risk", "import", csv);
	ASSERT_HAS(err, "operator");
	ASSERT_CLI(operator_, 1, "risk", "import", "/nonexistent/risks.csv");
	ASSERT_CLI(operator_, 2, "risk", "import");
	ASSERT_CLI(operator_, 2, "risk", "import", csv, json);
	ASSERT_CLI(operator_, 2, "risk");
	ASSERT_CLI(operator_, 2, "risk", "drop");
	ASSERT_INT_EQ(audit_count("risk.import"), 6);

	TEST_START("risk list: a table, High/High first; --json");
	ASSERT_CLI(viewer, 0, "risk", "list");
	ASSERT_MATCH(out, "^ID +L +S +SYSTEM +OWNER +STATUS +DESCRIPTION\n"
	    "R-3 +H +H +network +netops +active +Region partition\n"
	    "R-2 +H +M +checkout +payments +active +Card provider slow, retries pile up\n"
	    "R-6 +L +H +auth +identity +active +Token signing key leaks\n"
	    "R-5 +L +M +dns +netops +- +TTL\n"
	    "R-1 +M +L +orders +db-team +fix in progress +Primary fails\\.\\.\\.\n"
	    "R-4 +L +L +search +search-team +mitigated +Index corrupt\n$");
	ASSERT_CLI(viewer, 0, "risk", "list", "--json");
	o = cJSON_Parse(out);
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "risks")), 6);
	cJSON_Delete(o);
	ASSERT_CLI(viewer, 2, "risk", "list", "extra");

	TEST_START("risk show ID: the columns, the history, the Game Days");
	ASSERT_CLI(viewer, 0, "risk", "show", "R-1");
	ASSERT_MATCH(out, "^id +R-1$");
	ASSERT_MATCH(out, "^description +Primary fails\n +replica lags$");
	ASSERT_MATCH(out, "^severity +Low$");
	ASSERT_MATCH(out, "^comment +-$");
	ASSERT_MATCH(out, "^history:\nTIME +ACTOR +ACTION +CHANGED\n"
	    "[0-9T:.Z-]+ +olga +created +-\n");
	ASSERT_MATCH(out, "^[0-9T:.Z-]+ +olga +updated +severity, status$");
	(void)snprintf(re, sizeof(re), "^game days:\nRUN +PLAYBOOK +STATE +OUTCOME +CREATED "
	    "+ENDED\n%s +risk-burn +[a-z_]+ ", run_id);
	ASSERT_MATCH(out, re);
	ASSERT_CLI(viewer, 0, "risk", "show", "R-4");
	ASSERT_HAS(out, "game days: none has exercised this risk yet\n");
	ASSERT_CLI(viewer, 0, "risk", "show", "--json", "R-1");
	o = cJSON_Parse(out);
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "runs")), 1);
	ASSERT_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "history")), 4);
	cJSON_Delete(o);
	ASSERT_CLI(viewer, 1, "risk", "show", "R-404");
	ASSERT_HAS(err, "no risk 'R-404'");
	ASSERT_CLI(viewer, 2, "risk", "show", "a/b");

	(void)unlink(csv);
	(void)unlink(json);
	(void)unlink(sniff);
	(void)unlink(bad);
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
	TEST_START("gamedayd starts; tokens");
	if (gd_start(&g, 0) != 0 || h_token(&g, "olga", "operator", operator_, TOK) != 0 ||
	    h_token(&g, "vic", "viewer", viewer, TOK) != 0) {
		TEST_FAIL("cannot start gamedayd");
		return test_done();
	}
	(void)snprintf(dir, sizeof(dir), "/tmp/gdrisk.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		(void)fprintf(stderr, "test_risks: mkdtemp: %s\n", strerror(errno));
		return 2;
	}
	test_import();
	test_refusals();
	test_runs();
	test_cli();
	gd_stop(&g);
	gd_cleanup(&g);
	(void)rmdir(dir);
	curl_global_cleanup();
	return test_done();
}
