/*
 * gameday: the operator's command line.  Offline commands (playbook validate/print) work
 * without a controller; the others talk to gamedayd over its HTTP API.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cli.h"
#include "log.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
	{ "playbook", cmd_playbook },
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: gameday [--url URL] [--token TOKEN] COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n"
	    "  playbook validate [--json] FILE   check a playbook offline (exit 1 if invalid)\n"
	    "  playbook print FILE               the playbook in canonical form, defaults filled\n"
	    "\n"
	    "The URL and token may also come from GAMEDAY_URL and GAMEDAY_TOKEN.\n"
	    "Exit status: 0 success, 1 refused or failed, 2 bad usage.\n");
}

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	(void)fputs("gameday: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputs(" (see gameday --help)\n", stderr);
	return CLI_USAGE;
}

int
cli_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	size_t len = 0, cap;
	char *buf;
	ssize_t n;
	int fd, r = 0;

	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		r = -errno;
		(void)fprintf(stderr, "gameday: cannot open '%s': %s\n", log_esc(path),
		    strerror(errno));
		return r;
	}
	cap = max + 2;	/* One byte past the limit tells "too large" apart, plus the NUL. */
	if ((buf = gd_malloc(cap)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (len < max + 1) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = -errno;
			(void)fprintf(stderr, "gameday: cannot read '%s': %s\n", log_esc(path),
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = -EFBIG;	/* The caller says so, in its own words. */
		goto out;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	buf = NULL;
out:
	if (r == -ENOMEM)
		(void)fprintf(stderr, "gameday: out of memory\n");
	gd_free(buf);
	if (fd != STDIN_FILENO)
		(void)close(fd);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = {
		.url = getenv("GAMEDAY_URL"),
		.token = getenv("GAMEDAY_TOKEN"),
		.progname = "gameday",
	};
	int c;

	log_init("gameday", LOG_LEVEL_WARN);
	gd_alloc_init_cjson();
	if (cli.url == NULL)
		cli.url = "http://127.0.0.1:7070";
	/* "+": stop at the command, so that its own options are left for it. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			cli.url = optarg;
			break;
		case 't':
			cli.token = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(&cli, argc - optind, argv + optind);
	return cli_usage_error("unknown command '%s'", log_esc(argv[optind]));
}
