/*
 * gameday rehearsal ack ID --detected|--recovered, gameday rehearsal step ID N: the oncall
 * team's side of a rehearsal (controller/rehearsal.h).  Each prints the rehearsal's
 * figures as they stand (--json: the controller's reply).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "client.h"
#include "log.h"
#include "parse.h"

#define USAGE	"usage: gameday rehearsal ack ID --detected|--recovered [--json]\n" \
		"       gameday rehearsal step ID N [--json]"

/* "time to detect 42 s (target 5m: in time)" and the like. */
static void
print_figures(const cJSON *o)
{
	char num[CLI_NUM_LEN];
	const cJSON *s;

	(void)printf("time to detect:  %s ms", cli_num(o, "time_to_detect_ms", num));
	(void)printf(" (target %s ms)\n", cli_num(o, "detect_within_ms", num));
	(void)printf("time to recover: %s ms", cli_num(o, "time_to_recover_ms", num));
	(void)printf(" (target %s ms; ", cli_num(o, "recover_within_ms", num));
	(void)printf("as the probes see it: %s ms)\n", cli_num(o, "time_to_recover_probes_ms",
	    num));
	cJSON_ArrayForEach(s, cli_array(o, "steps")) {
		(void)printf("step %s: ", cli_num(s, "step", num));
		cli_put(stdout, cli_str(s, "text"), false);
		(void)fputs(" -- ", stdout);
		cli_put(stdout, cli_str(s, "done_at"), false);
		(void)putchar('\n');
	}
}

int
cmd_rehearsal(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "detected", no_argument, NULL, 'd' },
		{ "recovered", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ack = NULL, *why;
	char path[160];
	bool json = false, step;
	uint64_t n = 0;
	cJSON *body, *reply = NULL;
	int c, r;

	if (argc < 2)
		return cli_usage_error(USAGE);
	step = strcmp(argv[1], "step") == 0;
	if (!step && strcmp(argv[1], "ack") != 0)
		return cli_usage_error("rehearsal: unknown subcommand '%s' (ack, step)",
		    log_esc(argv[1]));
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if ((c == 'd' || c == 'r') && !step && ack == NULL)
			ack = c == 'd' ? "detected" : "recovered";
		else
			return cli_bad_option("rehearsal", c, argv);
	}
	if (argc - optind != (step ? 2 : 1) || (!step && ack == NULL))
		return cli_usage_error(USAGE);
	if (!cli_check_id("a run id", argv[optind]))
		return CLI_USAGE;
	if (step && parse_uint(argv[optind + 1], 1, 64, &n, &why) < 0)
		return cli_usage_error("rehearsal step: '%s': %s (a step number, 1..64)",
		    log_esc(argv[optind + 1]), why);
	body = cJSON_CreateObject();
	if (step)
		(void)cJSON_AddNumberToObject(body, "step", (double)n);
	else
		(void)cJSON_AddStringToObject(body, "ack", ack);
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/rehearsal", argv[optind]);
	r = client_post(cli, path, body, &reply, NULL);
	cJSON_Delete(body);
	if (r != CLI_OK)
		return r;
	if (json)
		r = cli_print_json(reply, true);
	else
		print_figures(reply);
	cJSON_Delete(reply);
	return r;
}
