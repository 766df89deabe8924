/* The gameday CLI: shared declarations of the command files. */
#ifndef GD_CLI_H
#define GD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* Exit codes (DESIGN §4). */
#define CLI_OK		0
#define CLI_FAILED	1	/* Refused or failed request, invalid input. */
#define CLI_USAGE	2	/* Bad usage. */

struct client;

struct cli {
	const char *url;	/* --url or GAMEDAY_URL. */
	const char *token;	/* --token or GAMEDAY_TOKEN. */
	const char *token_file;	/* --token-file: read when the first request is made. */
	const char *progname;
	struct client *client;	/* Made by the first request (client.h); main() frees it. */
};

int cmd_playbook(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_rehearsal(struct cli *cli, int argc, char **argv);
int cmd_halt(struct cli *cli, int argc, char **argv);
int cmd_agents(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_schedule(struct cli *cli, int argc, char **argv);
int cmd_risk(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);

/* Prints "gameday: ..." to stderr and returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * For a subcommand's getopt_long() loop (optstring starting with ':'): says which option of
 * "what" was unknown or lacked its argument, and returns CLI_USAGE.
 */
int cli_bad_option(const char *what, int c, char **argv);
/*
 * Reads a whole file ("-" is standard input) of at most max bytes.  On success the caller
 * owns *ret (gd_free()); a NUL is appended that *ret_len does not count.  On failure returns
 * -errno, having printed why, except for -EFBIG (larger than max), which the caller words.
 */
int cli_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * A run id or other id that goes into a URL path: 1..64 of [A-Za-z0-9_-].  Otherwise prints
 * a usage error naming what and returns false.
 */
bool cli_check_id(const char *what, const char *id);

/*
 * Output (output.c).  Everything the controller sends is untrusted: these readers never fail
 * and give "-" for a field that is missing, null or of the wrong type; text is escaped for a
 * terminal (control characters, C1 controls and bidi overrides as \xNN or \uNNNN).
 */
#define CLI_NUM_LEN 32

const cJSON *cli_get(const cJSON *obj, const char *key);	/* NULL unless obj is an object. */
const char *cli_str(const cJSON *obj, const char *key);	/* Borrowed from obj, or "-". */
const char *cli_num(const cJSON *obj, const char *key, char buf[CLI_NUM_LEN]);
const char *cli_num_text(const cJSON *v, char buf[CLI_NUM_LEN]);
const char *cli_bool(const cJSON *obj, const char *key);	/* "yes", "no" or "-". */
bool cli_int(const cJSON *obj, const char *key, int64_t *ret);	/* An exact integer. */
const cJSON *cli_array(const cJSON *obj, const char *key);	/* NULL unless an array. */
/* Escaped copy of s (NULL: "-"), the caller owns it (gd_free()); its width in code points. */
char *cli_esc_dup(const char *s, size_t *ret_width);
/* Writes s escaped; keep_lines lets '\n' and '\t' through (multi-line text). */
void cli_put(FILE *f, const char *s, bool keep_lines);
/* Prints v on stdout, indented or on one line; returns CLI_OK or CLI_FAILED (out of memory). */
int cli_print_json(const cJSON *v, bool pretty);

/*
 * A table of plain aligned columns under a header line.  Cells are copied escaped; NULL or
 * "" shows as "-".  An allocation failure sticks and table_print() reports it.
 */
struct table;
struct table *table_new(size_t ncols, const char *const *header);
/* Parses a subcommand's only option, --json; returns CLI_OK or CLI_USAGE. */
int cli_json_flag(const char *what, int argc, char **argv, bool *ret_json);
void table_add(struct table *t, const char *const *cells);
int table_print(struct table *t, FILE *f);	/* CLI_OK or CLI_FAILED. */
struct table *table_free(struct table *t);

#endif
