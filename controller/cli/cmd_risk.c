/*
 * gameday risk import|list|show: the risk matrix on the controller (docs/risks.md).  Import
 * reads the file with the controller's own reader first, so that a bad file is refused with
 * every problem before any request is made.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "cli.h"
#include "client.h"
#include "err.h"
#include "limits.h"
#include "log.h"
#include "risk.h"

/* Code points of a description the table shows (its first line, cut with "..."). */
#define DESCRIPTION_CUT	50

/* The format a file name says (.csv, .json in any case), else what its text looks like. */
static enum risk_format
file_format(const char *path, const char *text, size_t len)
{
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strchr(dot, '/') == NULL) {
		if (strcasecmp(dot, ".csv") == 0)
			return RISK_FORMAT_CSV;
		if (strcasecmp(dot, ".json") == 0)
			return RISK_FORMAT_JSON;
	}
	return risk_format_sniff(text, len);
}

/*
 * Reads and checks path.  On success the caller owns *ret_text (gd_free()), *ret_len bytes
 * in format *ret_fmt; on failure one "place: reason" line per problem went to stderr.
 */
static int
load(const char *path, enum risk_format *ret_fmt, char **ret_text, size_t *ret_len)
{
	static struct gd_err err;	/* ~37 KiB: too large for a comfortable stack frame. */
	struct risk_set *set = NULL;
	enum risk_format fmt;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = cli_read_file(path, GD_MAX_RISK_FILE_BYTES, &buf, &len)) < 0) {
		if (r == -EFBIG)
			(void)fprintf(stderr, "(root): the file is larger than the limit of %d "
			    "bytes\n", GD_MAX_RISK_FILE_BYTES);
		return r;
	}
	fmt = file_format(path, buf, len);
	gd_err_init(&err);
	if ((r = risk_parse(buf, len, fmt, &set, &err)) < 0) {
		for (size_t i = 0; i < err.n; i++)
			(void)fprintf(stderr, "%s: %s\n", err.items[i].path, err.items[i].msg);
		if (err.dropped > 0)
			(void)fprintf(stderr, "(root): %zu more problems not shown\n", err.dropped);
		gd_free(buf);
		return r;
	}
	risk_set_free(set);
	*ret_fmt = fmt;
	*ret_text = buf;
	*ret_len = len;
	return 0;
}

static size_t
count_of(const cJSON *reply, const char *key)
{
	int64_t n = 0;

	return cli_int(reply, key, &n) && n >= 0 ? (size_t)n : 0;
}

/* risk import FILE: the offline checks, then POST /v1/risks. */
static int
risk_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	enum risk_format fmt = RISK_FORMAT_CSV;
	cJSON *body, *reply = NULL;
	size_t len = 0, created, updated, unchanged;
	char *text = NULL;
	int c, r;

	optind = 0;
	opterr = 0;
	if ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		return cli_bad_option("risk import", c, argv);
	if (argc - optind != 1)
		return cli_usage_error("usage: gameday risk import FILE");
	if (load(argv[optind], &fmt, &text, &len) < 0)
		return CLI_FAILED;
	body = cJSON_CreateObject();
	if (cJSON_AddStringToObject(body, "format", risk_format_name(fmt)) == NULL ||
	    cJSON_AddStringToObject(body, "data", text) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		r = CLI_FAILED;
		goto out;
	}
	if ((r = client_post(cli, "/v1/risks", body, &reply, NULL)) != CLI_OK)
		goto out;
	created = count_of(reply, "created");
	updated = count_of(reply, "updated");
	unchanged = count_of(reply, "unchanged");
	(void)printf("imported %zu risk%s (%s): %zu created, %zu updated, %zu unchanged\n",
	    created + updated + unchanged, created + updated + unchanged == 1 ? "" : "s",
	    risk_format_name(fmt), created, updated, unchanged);
out:
	cJSON_Delete(reply);
	cJSON_Delete(body);
	gd_free(text);
	return r;
}

/* "H", "M", "L" for a level's name, "-" for anything else. */
static const char *
level_letter(const char *s)
{
	enum risk_level l;

	if (risk_level_parse(s, &l) < 0)
		return "-";
	return l == RISK_HIGH ? "H" : l == RISK_MEDIUM ? "M" : "L";
}

/* The first line of s, at most DESCRIPTION_CUT code points, "..." when cut. */
static void
cut_description(const char *s, char *buf, size_t len)
{
	size_t n = 0, cps = 0;
	bool cut = false;

	while (s[n] != '\0' && s[n] != '\n') {
		if (((unsigned char)s[n] & 0xc0) != 0x80 && cps++ == DESCRIPTION_CUT) {
			cut = true;
			break;
		}
		n++;
	}
	if (s[n] == '\n')
		cut = true;
	/* Text that is not UTF-8 (the reply is untrusted) can have no lead bytes at all. */
	if (n > len - 4)
		n = len - 4;
	(void)snprintf(buf, len, "%.*s%s", (int)n, s, cut ? "..." : "");
}

static int
risk_list(struct cli *cli, int argc, char **argv)
{
	static const char *const header[] = {
		"ID", "L", "S", "SYSTEM", "OWNER", "STATUS", "DESCRIPTION",
	};
	struct table *t = NULL;
	cJSON *reply = NULL;
	const cJSON *risk;
	bool json;
	int r;

	if ((r = cli_json_flag("risk list", argc, argv, &json)) != CLI_OK)
		return r;
	if (argc - optind != 0)
		return cli_usage_error("usage: gameday risk list [--json]");
	if ((r = client_get(cli, "/v1/risks", 0, &reply)) != CLI_OK)
		return r;
	if (json) {
		r = cli_print_json(reply, true);
		goto out;
	}
	r = CLI_FAILED;
	if ((t = table_new(7, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		goto out;
	}
	cJSON_ArrayForEach(risk, cli_array(reply, "risks")) {
		char desc[DESCRIPTION_CUT * 4 + 8];

		cut_description(cli_str(risk, "description"), desc, sizeof(desc));
		table_add(t, (const char *const[]){ cli_str(risk, "id"),
		    level_letter(cli_str(risk, "likelihood")),
		    level_letter(cli_str(risk, "severity")), cli_str(risk, "system"),
		    cli_str(risk, "owner"), cli_str(risk, "status"), desc });
	}
	r = table_print(t, stdout);
out:
	table_free(t);
	cJSON_Delete(reply);
	return r;
}

/* "label:        value", a multi-line value indented on the lines below. */
static void
show_text(const char *label, const char *value)
{
	const char *p = value, *nl;

	(void)printf("%-16s", label);
	if (value[0] == '\0') {
		(void)puts("-");
		return;
	}
	for (bool first = true; ; first = false) {
		char *line;

		nl = strchr(p, '\n');
		if ((line = gd_strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p))) == NULL) {
			(void)fputs("gameday: out of memory\n", stderr);
			return;
		}
		if (!first)
			(void)printf("%-16s", "");
		cli_put(stdout, line, true);
		(void)putchar('\n');
		gd_free(line);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* The columns a history entry changed, by the book's names, comma-separated. */
static void
changed_text(const cJSON *entry, char *buf, size_t len)
{
	const cJSON *k;
	size_t o = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(k, cli_array(entry, "changed")) {
		const char *name = NULL;

		for (int i = 0; i < RISK_NCOLUMNS && cJSON_IsString(k); i++)
			if (strcmp(k->valuestring, risk_key((enum risk_column)i)) == 0)
				name = risk_column_name((enum risk_column)i);
		if (name == NULL || o >= len)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o > 0 ? ", " : "", name);
	}
}

static int
show_risk(const cJSON *risk)
{
	static const char *const hist_header[] = { "TIME", "ACTOR", "ACTION", "CHANGED" };
	static const char *const run_header[] = {
		"RUN", "PLAYBOOK", "STATE", "OUTCOME", "CREATED", "ENDED",
	};
	const cJSON *runs = cli_array(risk, "runs"), *h, *run;
	struct table *t;
	int r;

	for (int i = 0; i < RISK_NCOLUMNS; i++)
		show_text(risk_column_name((enum risk_column)i), cli_str(risk,
		    risk_key((enum risk_column)i)));
	show_text("updated", cli_str(risk, "updated"));
	show_text("updated by", cli_str(risk, "updated_by"));
	(void)puts("\nhistory:");
	if ((t = table_new(4, hist_header)) == NULL)
		goto oom;
	cJSON_ArrayForEach(h, cli_array(risk, "history")) {
		char changed[512];

		changed_text(h, changed, sizeof(changed));
		table_add(t, (const char *const[]){ cli_str(h, "time"), cli_str(h, "actor"),
		    cli_str(h, "action"), changed });
	}
	r = table_print(t, stdout);
	table_free(t);
	if (cJSON_GetArraySize(runs) == 0) {
		(void)puts("\ngame days: none has exercised this risk yet");
		return r;
	}
	(void)puts("\ngame days:");
	if ((t = table_new(6, run_header)) == NULL)
		goto oom;
	cJSON_ArrayForEach(run, runs) {
		char state[64];

		(void)snprintf(state, sizeof(state), "%s%s", cli_str(run, "state"),
		    cJSON_IsTrue(cli_get(run, "dry_run")) ? " (dry run)" : "");
		table_add(t, (const char *const[]){ cli_str(run, "id"), cli_str(run, "playbook"),
		    state, cli_str(run, "outcome"), cli_str(run, "created"),
		    cli_str(run, "ended") });
	}
	if (table_print(t, stdout) != CLI_OK)
		r = CLI_FAILED;
	table_free(t);
	return r;
oom:
	(void)fputs("gameday: out of memory\n", stderr);
	return CLI_FAILED;
}

static int
risk_show(struct cli *cli, int argc, char **argv)
{
	char path[96];
	cJSON *reply = NULL;
	bool json;
	int r;

	if ((r = cli_json_flag("risk show", argc, argv, &json)) != CLI_OK)
		return r;
	if (argc - optind != 1)
		return cli_usage_error("usage: gameday risk show [--json] ID");
	if (!risk_id_valid(argv[optind]))
		return cli_usage_error("'%s' is not a risk id (1 to %d letters, digits, '.', '_' "
		    "or '-')", log_esc(argv[optind]), GD_MAX_RISK_ID_BYTES);
	(void)snprintf(path, sizeof(path), "/v1/risks/%s", argv[optind]);
	if ((r = client_get(cli, path, 0, &reply)) != CLI_OK)
		return r;
	r = json ? cli_print_json(reply, true) : show_risk(reply);
	cJSON_Delete(reply);
	return r;
}

int
cmd_risk(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("usage: gameday risk import|list|show ...");
	if (strcmp(argv[1], "import") == 0)
		return risk_import(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return risk_list(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return risk_show(cli, argc - 1, argv + 1);
	return cli_usage_error("risk: unknown subcommand '%s' (import, list, show)",
	    log_esc(argv[1]));
}
