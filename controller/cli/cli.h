/* The gameday CLI: shared declarations of the command files. */
#ifndef GD_CLI_H
#define GD_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Exit codes (DESIGN §4). */
#define CLI_OK		0
#define CLI_FAILED	1	/* Refused or failed request, invalid input. */
#define CLI_USAGE	2	/* Bad usage. */

struct cli {
	const char *url;	/* --url or GAMEDAY_URL. */
	const char *token;	/* --token or GAMEDAY_TOKEN. */
	const char *progname;
};

int cmd_playbook(struct cli *cli, int argc, char **argv);

/* Prints "gameday: ..." to stderr and returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Reads a whole file ("-" is standard input) of at most max bytes.  On success the caller
 * owns *ret (gd_free()); a NUL is appended that *ret_len does not count.  On failure returns
 * -errno, having printed why, except for -EFBIG (larger than max), which the caller words.
 */
int cli_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

#endif
