/*
 * gameday playbook validate|print: offline checks of playbook files; apply|list: the
 * playbooks stored on the controller.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "cli.h"
#include "client.h"
#include "err.h"
#include "limits.h"
#include "log.h"
#include "playbook.h"

static void
print_errors_json(const struct gd_err *err)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *text;

	if (root == NULL || cJSON_AddFalseToObject(root, "valid") == NULL ||
	    (arr = cJSON_AddArrayToObject(root, "errors")) == NULL)
		goto oom;
	for (size_t i = 0; i < err->n; i++) {
		cJSON *e = cJSON_CreateObject();

		if (e == NULL || !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			goto oom;
		}
		if (cJSON_AddStringToObject(e, "path", err->items[i].path) == NULL ||
		    cJSON_AddStringToObject(e, "message", err->items[i].msg) == NULL)
			goto oom;
	}
	if (cJSON_AddNumberToObject(root, "more", (double)err->dropped) == NULL ||
	    (text = cJSON_PrintUnformatted(root)) == NULL)
		goto oom;
	(void)puts(text);
	gd_free(text);
	cJSON_Delete(root);
	return;
oom:
	cJSON_Delete(root);
	(void)fputs("gameday: out of memory\n", stderr);
}

static void
print_errors(const struct gd_err *err)
{
	for (size_t i = 0; i < err->n; i++)
		(void)fprintf(stderr, "%s: %s\n", err->items[i].path, err->items[i].msg);
	if (err->dropped > 0)
		(void)fprintf(stderr, "(root): %zu more problems not shown\n", err->dropped);
}

static int
print_valid_json(const struct playbook *pb, const char *summary)
{
	cJSON *root = cJSON_CreateObject();
	char *text = NULL;

	if (root != NULL && cJSON_AddTrueToObject(root, "valid") != NULL &&
	    cJSON_AddStringToObject(root, "name", pb->name) != NULL &&
	    cJSON_AddStringToObject(root, "summary", summary) != NULL)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (text == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	(void)puts(text);
	gd_free(text);
	return CLI_OK;
}

/*
 * Loads and parses path; on failure prints the problems.  When ret_text is not NULL it gets
 * the file's text (the caller owns it, gd_free()), *ret_len its length.
 */
static int
load_text(const char *path, bool json, struct playbook **ret, char **ret_text, size_t *ret_len)
{
	static struct gd_err err;	/* ~40 KiB: too large for a comfortable stack frame. */
	char *buf = NULL;
	size_t len = 0;
	int r;

	gd_err_init(&err);
	if ((r = cli_read_file(path, GD_MAX_PLAYBOOK_BYTES, &buf, &len)) < 0) {
		if (r == -EFBIG) {
			gd_err_add(&err, NULL, "the file is larger than the limit of %d bytes",
			    GD_MAX_PLAYBOOK_BYTES);
			goto report;
		}
		/* cli_read_file() has said why on stderr; --json readers get it on stdout too. */
		if (json) {
			gd_err_add(&err, NULL, "cannot read the file: %s", strerror(-r));
			print_errors_json(&err);
		}
		return r;
	}
	r = playbook_parse(buf, len, ret, &err);
	if (r == 0 && ret_text != NULL) {
		*ret_text = buf;
		*ret_len = len;
		buf = NULL;
	}
	gd_free(buf);
report:
	if (r < 0) {
		if (json)
			print_errors_json(&err);
		else
			print_errors(&err);
	}
	return r;
}

static int
load(const char *path, bool json, struct playbook **ret)
{
	return load_text(path, json, ret, NULL, NULL);
}

static int
playbook_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct playbook *pb = NULL;
	char summary[512];
	bool json = false;
	int c, r;

	optind = 0;	/* 0, not 1: glibc re-reads the option string, dropping main's "+". */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage_error("playbook validate: unknown option");
		json = true;
	}
	if (argc - optind != 1)
		return cli_usage_error("usage: gameday playbook validate [--json] FILE");
	if (load(argv[optind], json, &pb) < 0)
		return CLI_FAILED;
	playbook_summary(pb, summary, sizeof(summary));
	if (json)
		r = print_valid_json(pb, summary);
	else
		r = printf("valid: %s\n", summary) < 0 ? CLI_FAILED : CLI_OK;
	playbook_free(pb);
	return r;
}

static int
playbook_print_cmd(int argc, char **argv)
{
	struct playbook *pb = NULL;
	char *text;

	if (argc != 2 || (argv[1][0] == '-' && argv[1][1] != '\0'))
		return cli_usage_error("usage: gameday playbook print FILE");
	if (load(argv[1], false, &pb) < 0)
		return CLI_FAILED;
	text = playbook_print(pb);
	playbook_free(pb);
	if (text == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	(void)puts(text);
	gd_free(text);
	return CLI_OK;
}

/* playbook apply FILE: the offline checks first, then POST /v1/playbooks. */
static int
playbook_apply(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	struct playbook *pb = NULL;
	cJSON *reply = NULL;
	const cJSON *created;
	char *text = NULL;
	size_t len = 0;
	long status = 0;
	int c, r;

	optind = 0;
	opterr = 0;
	if ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		return cli_bad_option("playbook apply", c, argv);
	if (argc - optind != 1)
		return cli_usage_error("usage: gameday playbook apply FILE");
	if (load_text(argv[optind], false, &pb, &text, &len) < 0)
		return CLI_FAILED;
	pb = playbook_free(pb);
	r = client_call(cli, "POST", "/v1/playbooks", text, len, 0, &reply, &status);
	gd_free(text);
	if (r != CLI_OK)
		return r;
	created = cli_get(reply, "created");
	(void)printf("%s ", cJSON_IsBool(created) ? (cJSON_IsTrue(created) ? "applied" :
	    "unchanged") : (status == 201 ? "applied" : "unchanged"));
	cli_put(stdout, cli_str(reply, "name"), false);
	(void)fputs(" revision ", stdout);
	cli_put(stdout, cli_str(reply, "revision"), false);
	(void)putchar('\n');
	cJSON_Delete(reply);
	return CLI_OK;
}

/* The first 12 characters of a revision hash, as in the table. */
static const char *
short_rev(const char *rev, char buf[13])
{
	(void)snprintf(buf, 13, "%s", rev);
	return buf;
}

static int
playbook_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const header[] = {
		"NAME", "REVISION", "ENVIRONMENT", "TIER", "UPDATED",
	};
	struct table *t = NULL;
	cJSON *reply = NULL;
	const cJSON *pb;
	bool json = false;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_bad_option("playbook list", c, argv);
		json = true;
	}
	if (argc - optind != 0)
		return cli_usage_error("usage: gameday playbook list [--json]");
	if ((r = client_get(cli, "/v1/playbooks", 0, &reply)) != CLI_OK)
		return r;
	if (json) {
		r = cli_print_json(reply, true);
		goto out;
	}
	r = CLI_FAILED;
	if ((t = table_new(5, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		goto out;
	}
	cJSON_ArrayForEach(pb, cli_array(reply, "playbooks")) {
		char tier[CLI_NUM_LEN], rev[13];

		table_add(t, (const char *const[]){ cli_str(pb, "name"),
		    short_rev(cli_str(pb, "revision"), rev), cli_str(pb, "environment"),
		    cli_num(pb, "tier", tier), cli_str(pb, "updated") });
	}
	r = table_print(t, stdout);
out:
	table_free(t);
	cJSON_Delete(reply);
	return r;
}

int
cmd_playbook(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("usage: gameday playbook validate|print|apply|list ...");
	if (strcmp(argv[1], "validate") == 0)
		return playbook_validate(argc - 1, argv + 1);
	if (strcmp(argv[1], "print") == 0)
		return playbook_print_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "apply") == 0)
		return playbook_apply(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return playbook_list(cli, argc - 1, argv + 1);
	return cli_usage_error("playbook: unknown subcommand '%s' (validate, print, apply, list)",
	    log_esc(argv[1]));
}
