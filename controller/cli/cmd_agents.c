/* gameday agents: the enrolled agents, their state, last poll, tags and faults held. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "cli.h"
#include "client.h"
#include "strbuf.h"

/* "k=v,k2=v2" of a tags object (string values only); NULL when out of memory. */
static char *
tags_text(const cJSON *agent)
{
	const cJSON *tags = cli_get(agent, "tags"), *tag;
	struct strbuf b = { 0 };
	char *text;

	if (!cJSON_IsObject(tags))
		tags = NULL;
	cJSON_ArrayForEach(tag, tags) {
		if (!cJSON_IsString(tag))
			continue;
		strbuf_addf(&b, "%s%s=%s", b.len > 0 ? "," : "", tag->string, tag->valuestring);
	}
	if (strbuf_finish(&b, &text) < 0)
		return NULL;
	return text;
}

int
cmd_agents(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const header[] = { "HOST", "STATE", "VIA", "LAST-SEEN", "TAGS",
	    "FAULTS" };
	struct table *t = NULL;
	cJSON *reply = NULL;
	const cJSON *agent;
	bool json = false;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_bad_option("agents", c, argv);
		json = true;
	}
	if (argc - optind != 0)
		return cli_usage_error("usage: gameday agents [--json]");
	if ((r = client_get(cli, "/v1/agents", 0, &reply)) != CLI_OK)
		return r;
	if (json) {
		r = cli_print_json(reply, true);
		goto out;
	}
	r = CLI_FAILED;
	if ((t = table_new(6, header)) == NULL)
		goto oom;
	cJSON_ArrayForEach(agent, cli_array(reply, "agents")) {
		char faults[CLI_NUM_LEN], *tags;

		if ((tags = tags_text(agent)) == NULL)
			goto oom;
		table_add(t, (const char *const[]){ cli_str(agent, "host"),
		    cli_str(agent, "state"), cli_str(agent, "via"), cli_str(agent, "last_seen"),
		    tags, cli_num(agent, "faults", faults) });
		gd_free(tags);
	}
	r = table_print(t, stdout);
	goto out;
oom:
	(void)fputs("gameday: out of memory\n", stderr);
out:
	table_free(t);
	cJSON_Delete(reply);
	return r;
}
