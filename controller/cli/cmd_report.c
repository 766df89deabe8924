/*
 * gameday report: a run's report (Markdown by default, HTML, JSON), the freshness of every
 * playbook's last pass, and the risk matrix with the Game Days that exercised it
 * (docs/reports.md).  What is printed is the controller's answer: the CLI renders nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "cli.h"
#include "client.h"
#include "log.h"
#include "parse.h"

#define REPORT_USAGE "usage: gameday report ID [--format md|html|json] [--slo PERCENT] | " \
	"report --freshness [--days N] [--json] | report --risks [--json]"
/* Path of a report request: the id is at most 64 characters (cli_check_id()). */
#define REPORT_PATH_LEN	256
/* A report of a long run with many hosts takes a while to gather and send. */
#define REPORT_TIMEOUT_S	120

struct report_args {
	const char *id, *format, *slo, *days;
	bool freshness, risks, json;
};

static int
report_parse(int argc, char **argv, struct report_args *a)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "slo", required_argument, NULL, 's' },
		{ "freshness", no_argument, NULL, 'F' },
		{ "days", required_argument, NULL, 'd' },
		{ "risks", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why = NULL;
	uint64_t days;
	double slo;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			a->format = optarg;
			break;
		case 's':
			a->slo = optarg;
			break;
		case 'F':
			a->freshness = true;
			break;
		case 'd':
			a->days = optarg;
			break;
		case 'R':
			a->risks = true;
			break;
		case 'j':
			a->json = true;
			break;
		default:
			return cli_bad_option("report", c, argv);
		}
	}
	if (argc - optind == 1)
		a->id = argv[optind];
	else if (argc - optind > 1)
		return cli_usage_error(REPORT_USAGE);
	if ((a->freshness && a->risks) || ((a->freshness || a->risks) == (a->id != NULL)))
		return cli_usage_error("report: give a run ID, --freshness or --risks (one of "
		    "them; %s)", REPORT_USAGE);
	if (a->id != NULL && !cli_check_id("a run id", a->id))
		return CLI_USAGE;
	if (a->id == NULL && (a->format != NULL || a->slo != NULL))
		return cli_usage_error("report: --format and --slo are for a run's report");
	if (!a->freshness && a->days != NULL)
		return cli_usage_error("report: --days is for --freshness");
	if (a->id != NULL && a->json) {
		if (a->format != NULL && strcmp(a->format, "json") != 0)
			return cli_usage_error("report: --json and --format %s disagree",
			    log_esc(a->format));
		a->format = "json";
	}
	if (a->format == NULL)
		a->format = "md";
	if (strcmp(a->format, "md") != 0 && strcmp(a->format, "html") != 0 &&
	    strcmp(a->format, "json") != 0)
		return cli_usage_error("report: --format '%s': one of md, html, json",
		    log_esc(a->format));
	if (a->slo != NULL && (parse_decimal(a->slo, strlen(a->slo), &slo, &why) < 0 ||
	    !(slo > 0 && slo < 100)))
		return cli_usage_error("report: --slo '%s': a monthly availability target in "
		    "percent, above 0 and below 100 (such as 99.9)", log_esc(a->slo));
	if (a->days != NULL && parse_uint(a->days, 1, 3650, &days, &why) < 0)
		return cli_usage_error("report: --days '%s': a whole number of days from 1 to 3650",
		    log_esc(a->days));
	return CLI_OK;
}

/* GET /v1/runs/ID/report: JSON as it is, Markdown and HTML as the text the controller made. */
static int
report_run(struct cli *cli, const struct report_args *a)
{
	const char *format = a->format != NULL ? a->format : "md";
	char path[REPORT_PATH_LEN];
	bool json = strcmp(format, "json") == 0;
	cJSON *reply = NULL;
	const cJSON *body;
	int r;

	/* The id and the decimal were checked: nothing in them needs escaping. */
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/report?format=%s%s%s%s", a->id,
	    format, a->slo != NULL ? "&slo=" : "", a->slo != NULL ? a->slo : "",
	    json ? "" : "&envelope=json");
	if ((r = client_get(cli, path, REPORT_TIMEOUT_S, &reply)) != CLI_OK)
		return r;
	if (json) {
		r = cli_print_json(reply, true);
	} else if (!cJSON_IsString(body = cli_get(reply, "body"))) {
		(void)fputs("gameday: the controller's reply has no report body\n", stderr);
		r = CLI_FAILED;
	} else {
		cli_put(stdout, body->valuestring, true);
	}
	cJSON_Delete(reply);
	return r;
}

/* "NEVER PASSED", "STALE" or "ok". */
static const char *
freshness_status(const cJSON *p)
{
	if (cJSON_IsTrue(cli_get(p, "never_passed")))
		return "NEVER PASSED";
	return cJSON_IsTrue(cli_get(p, "stale")) ? "STALE" : "ok";
}

static int
report_freshness(struct cli *cli, const struct report_args *a)
{
	static const char *const header[] = { "PLAYBOOK", "ENV", "TIER", "LAST-PASSED", "DAYS",
	    "STATUS", "LAST-RUN", "LAST-STATE" };
	char path[REPORT_PATH_LEN], tier[CLI_NUM_LEN], days[CLI_NUM_LEN], lim[CLI_NUM_LEN];
	char stale[CLI_NUM_LEN];
	cJSON *reply = NULL;
	const cJSON *p;
	struct table *t;
	int r, n = 0;

	(void)snprintf(path, sizeof(path), "/v1/reports/freshness%s%s", a->days != NULL ?
	    "?days=" : "", a->days != NULL ? a->days : "");
	if ((r = client_get(cli, path, 0, &reply)) != CLI_OK)
		return r;
	if (a->json) {
		r = cli_print_json(reply, true);
	} else if ((t = table_new(8, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		r = CLI_FAILED;
	} else {
		cJSON_ArrayForEach(p, cli_array(reply, "playbooks")) {
			const cJSON *l = cli_get(p, "last_run");

			table_add(t, (const char *const[]){ cli_str(p, "name"),
			    cli_str(p, "environment"), cli_num(p, "tier", tier),
			    cli_str(p, "last_passed"), cli_num(p, "days_since", days),
			    freshness_status(p), cli_str(l, "id"), cli_str(l, "state") });
			n++;
		}
		r = table_print(t, stdout);
		table_free(t);
		(void)printf("%s of %d playbooks not passed within %s days\n", cli_num(reply,
		    "stale", stale), n, cli_num(reply, "days", lim));
	}
	cJSON_Delete(reply);
	return r;
}

static int
report_risks(struct cli *cli, const struct report_args *a)
{
	static const char *const header[] = { "RISK", "LIKELIHOOD", "SEVERITY", "SCORE",
	    "SYSTEM", "OWNER", "STATUS", "LAST-EXERCISED", "LAST-STATE", "RUNS" };
	char score[CLI_NUM_LEN], runs[CLI_NUM_LEN], total[CLI_NUM_LEN], never[CLI_NUM_LEN];
	cJSON *reply = NULL;
	const cJSON *k;
	struct table *t;
	int r;

	if ((r = client_get(cli, "/v1/reports/risks", 0, &reply)) != CLI_OK)
		return r;
	if (a->json) {
		r = cli_print_json(reply, true);
	} else if ((t = table_new(10, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		r = CLI_FAILED;
	} else {
		cJSON_ArrayForEach(k, cli_array(reply, "risks")) {
			const cJSON *l = cli_get(k, "last_run");
			bool untouched = cJSON_IsTrue(cli_get(k, "never_exercised"));

			table_add(t, (const char *const[]){ cli_str(k, "id"),
			    cli_str(k, "likelihood"), cli_str(k, "severity"),
			    cli_num(k, "score", score), cli_str(k, "system"), cli_str(k, "owner"),
			    cli_str(k, "status"), untouched ? "NEVER" :
			    cli_str(k, "last_exercised"), cli_str(l, "state"),
			    cli_num(k, "runs", runs) });
		}
		r = table_print(t, stdout);
		table_free(t);
		(void)printf("%s risks, %s never exercised by a Game Day\n", cli_num(reply,
		    "total", total), cli_num(reply, "never_exercised", never));
	}
	cJSON_Delete(reply);
	return r;
}

int
cmd_report(struct cli *cli, int argc, char **argv)
{
	struct report_args a = { 0 };
	int r;

	if ((r = report_parse(argc, argv, &a)) != CLI_OK)
		return r;
	if (a.freshness)
		return report_freshness(cli, &a);
	if (a.risks)
		return report_risks(cli, &a);
	return report_run(cli, &a);
}
