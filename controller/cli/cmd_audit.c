/* gameday audit [--since T] | audit verify: the audit log and its hash chain (DESIGN §6). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "cli.h"
#include "client.h"
#include "log.h"
#include "parse.h"

/* Rows asked for per page; the controller may send fewer. */
#define AUDIT_PAGE		1000
/* Pages read at most (so at least 10 million rows): a controller that pages forever stops. */
#define AUDIT_MAX_PAGES		10000
/* "/v1/audit?after=N&limit=N&since=" and an escaped RFC 3339 time. */
#define AUDIT_PATH_LEN		512

struct audit_out {
	bool json;
	cJSON *all;		/* --json: the rows of every page, moved here. */
	struct table *t;	/* Else: the table. */
};

/*
 * One page of rows past *after: moves them to out and *after to the last seq.  *ret_n counts
 * the rows taken; a page that does not go forward ends the listing.  Returns an exit code.
 */
static int
audit_page(struct cli *cli, const char *since, int64_t *after, struct audit_out *out,
    size_t *ret_n)
{
	char path[AUDIT_PATH_LEN];
	cJSON *reply = NULL, *rows, *row;
	int64_t seq;
	int r;

	*ret_n = 0;
	(void)snprintf(path, sizeof(path), "/v1/audit?after=%lld&limit=%d%s%s",
	    (long long)*after, AUDIT_PAGE, since != NULL ? "&since=" : "",
	    since != NULL ? since : "");
	if ((r = client_get(cli, path, 0, &reply)) != CLI_OK)
		return r;
	rows = cJSON_GetObjectItemCaseSensitive(reply, "rows");	/* reply is an object. */
	if (!cJSON_IsArray(rows))
		rows = NULL;
	while (rows != NULL && (row = cJSON_DetachItemFromArray(rows, 0)) != NULL) {
		if (!cli_int(row, "seq", &seq) || seq <= *after) {
			cJSON_Delete(row);
			break;	/* Out of order or no seq: paging cannot go on safely. */
		}
		*after = seq;
		(*ret_n)++;
		if (out->json) {
			if (!cJSON_AddItemToArray(out->all, row)) {
				cJSON_Delete(row);
				r = CLI_FAILED;
				break;
			}
			continue;
		}
		{
			char s[CLI_NUM_LEN];

			table_add(out->t, (const char *const[]){ cli_num(row, "seq", s),
			    cli_str(row, "time"), cli_str(row, "actor"), cli_str(row, "action"),
			    cli_str(row, "object") });
		}
		cJSON_Delete(row);
	}
	cJSON_Delete(reply);
	if (r != CLI_OK)
		(void)fputs("gameday: out of memory\n", stderr);
	return r;
}

static int
audit_list(struct cli *cli, const char *since, bool json)
{
	static const char *const header[] = { "SEQ", "TIME", "ACTOR", "ACTION", "OBJECT" };
	struct audit_out out = { .json = json };
	cJSON *root = NULL;
	char *esc = NULL;
	int64_t after = 0;
	size_t n = 1;
	int r = CLI_FAILED;

	if (since != NULL && (esc = client_escape(since)) == NULL)
		goto oom;
	if (json && ((root = cJSON_CreateObject()) == NULL ||
	    (out.all = cJSON_AddArrayToObject(root, "rows")) == NULL))
		goto oom;
	if (!json && (out.t = table_new(5, header)) == NULL)
		goto oom;
	for (int page = 0; page < AUDIT_MAX_PAGES && n > 0; page++)
		if ((r = audit_page(cli, esc, &after, &out, &n)) != CLI_OK)
			goto out;
	r = json ? cli_print_json(root, true) : table_print(out.t, stdout);
	goto out;
oom:
	(void)fputs("gameday: out of memory\n", stderr);
out:
	table_free(out.t);
	cJSON_Delete(root);
	gd_free(esc);
	return r;
}

/* audit verify: "audit: N rows, chain ok, head HASH", or where the chain breaks (exit 1). */
static int
audit_verify(struct cli *cli, bool json)
{
	cJSON *reply = NULL;
	const cJSON *ok;
	char rows[CLI_NUM_LEN], seq[CLI_NUM_LEN];
	int r;

	if ((r = client_get(cli, "/v1/audit/verify", 0, &reply)) != CLI_OK)
		return r;
	ok = cli_get(reply, "ok");
	if (!cJSON_IsBool(ok)) {
		(void)fputs("gameday: the controller's reply to audit verify has no \"ok\"\n",
		    stderr);
		r = CLI_FAILED;
	} else if (json) {
		r = cli_print_json(reply, true);
		if (r == CLI_OK && !cJSON_IsTrue(ok))
			r = CLI_FAILED;
	} else if (cJSON_IsTrue(ok)) {
		(void)printf("audit: %s rows, chain ok, head ", cli_num(reply, "rows", rows));
		cli_put(stdout, cli_str(reply, "head"), false);
		(void)putchar('\n');
	} else {
		(void)printf("audit: chain broken at seq %s: ",
		    cli_num(reply, "first_bad_seq", seq));
		cli_put(stdout, cli_str(reply, "reason"), false);
		(void)putchar('\n');
		r = CLI_FAILED;
	}
	cJSON_Delete(reply);
	return r;
}

int
cmd_audit(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *since = NULL, *why = NULL;
	bool json = false;
	int64_t t;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 's')
			since = optarg;
		else
			return cli_bad_option("audit", c, argv);
	}
	if (argc - optind == 1 && strcmp(argv[optind], "verify") == 0) {
		if (since != NULL)
			return cli_usage_error("audit verify takes no --since");
		return audit_verify(cli, json);
	}
	if (argc - optind != 0)
		return cli_usage_error("usage: gameday audit [--since RFC3339] [--json] | "
		    "audit verify [--json]");
	if (since != NULL && rfc3339_parse(since, &t, &why) < 0)
		return cli_usage_error("audit: --since '%s': %s", log_esc(since),
		    why != NULL ? why : "not an RFC 3339 time");
	return audit_list(cli, since, json);
}
