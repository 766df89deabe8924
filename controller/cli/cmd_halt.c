/*
 * gameday halt ID | --all | --clear: stop one run, stop every run and refuse new ones, or
 * lift that.  Any user may halt; only an admin may clear.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "client.h"

#define HALT_USAGE "usage: gameday halt ID [--reason TEXT] | --all [--reason TEXT] | --clear"

/* {"reason": reason}, or {} without one; NULL when out of memory (said). */
static cJSON *
reason_body(const char *reason)
{
	cJSON *body = cJSON_CreateObject();

	if (body != NULL && reason != NULL &&
	    cJSON_AddStringToObject(body, "reason", reason) == NULL) {
		cJSON_Delete(body);
		body = NULL;
	}
	if (body == NULL)
		(void)fputs("gameday: out of memory\n", stderr);
	return body;
}

static int
halt_run(struct cli *cli, const char *id, const char *reason)
{
	char path[256];
	cJSON *body, *reply = NULL;
	int r;

	if (!cli_check_id("a run id", id))
		return CLI_USAGE;
	if ((body = reason_body(reason)) == NULL)
		return CLI_FAILED;
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/halt", id);
	r = client_post(cli, path, body, &reply, NULL);
	cJSON_Delete(body);
	if (r != CLI_OK)
		return r;
	(void)printf("halted %s, state ", id);
	cli_put(stdout, cli_str(reply, "state"), false);
	(void)putchar('\n');
	cJSON_Delete(reply);
	return CLI_OK;
}

static int
halt_all(struct cli *cli, const char *reason)
{
	cJSON *body, *reply = NULL;
	const cJSON *id;
	int r;

	if ((body = reason_body(reason)) == NULL)
		return CLI_FAILED;
	r = client_post(cli, "/v1/halt", body, &reply, NULL);
	cJSON_Delete(body);
	if (r != CLI_OK)
		return r;
	cJSON_ArrayForEach(id, cli_array(reply, "runs")) {
		(void)fputs("halted ", stdout);
		cli_put(stdout, cJSON_IsString(id) ? id->valuestring : "-", false);
		(void)putchar('\n');
	}
	(void)puts("halt-all in force: new runs are refused until an admin runs "
	    "'gameday halt --clear'");
	cJSON_Delete(reply);
	return CLI_OK;
}

static int
halt_clear(struct cli *cli)
{
	cJSON *reply = NULL;
	int r;

	if ((r = client_post(cli, "/v1/halt/clear", NULL, &reply, NULL)) != CLI_OK)
		return r;
	(void)puts("halt-all cleared: new runs may start");
	cJSON_Delete(reply);
	return CLI_OK;
}

int
cmd_halt(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "clear", no_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL;
	bool all = false, clear = false;
	int c, n;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'c')
			clear = true;
		else if (c == 'r')
			reason = optarg;
		else
			return cli_bad_option("halt", c, argv);
	}
	n = argc - optind;
	if ((all && clear) || ((all || clear) && n != 0) || (!all && !clear && n != 1))
		return cli_usage_error(HALT_USAGE);
	if (clear && reason != NULL)
		return cli_usage_error("halt --clear takes no --reason");
	if (reason != NULL && reason[0] == '\0')
		return cli_usage_error("halt: --reason must not be empty");
	if (clear)
		return halt_clear(cli);
	if (all)
		return halt_all(cli, reason);
	return halt_run(cli, argv[optind], reason);
}
