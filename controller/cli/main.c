/*
 * gameday: the operator's command line.  Offline commands (playbook validate/print, schedule
 * preview) work without a controller; the others talk to gamedayd over its HTTP API.
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
#include "client.h"
#include "log.h"

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
	{ "playbook", cmd_playbook },
	{ "run", cmd_run },
	{ "halt", cmd_halt },
	{ "agents", cmd_agents },
	{ "audit", cmd_audit },
	{ "schedule", cmd_schedule },
	{ "rehearsal", cmd_rehearsal },
	{ "risk", cmd_risk },
	{ "report", cmd_report },
};

static void
usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: gameday [--url URL] [--token TOKEN | --token-file FILE] COMMAND [ARGS]\n"
	    "\n"
	    "playbooks:\n"
	    "  playbook validate [--json] FILE   check a playbook offline (exit 1 if invalid)\n"
	    "  playbook print FILE               the playbook in canonical form, defaults filled\n"
	    "  playbook apply FILE               validate, then store it on the controller\n"
	    "  playbook list [--json]            the stored playbooks\n"
	    "  schedule preview FILE --from RFC3339 --count N [--seed S] [--json]\n"
	    "                                    offline: the next N starts (1..1000) of the\n"
	    "                                    playbook's schedule and their window's end\n"
	    "  schedule list [--json]            the controller's plan: each scheduled\n"
	    "                                    playbook's next and last start\n"
	    "runs:\n"
	    "  run start NAME [--dry-run] --reason TEXT\n"
	    "                                    start a run of playbook NAME; prints its id\n"
	    "  run list [--json] [--limit N]     runs, newest first (default limit 100)\n"
	    "  run show [--json] ID              state, people, times, probes and SLAs,\n"
	    "                                    availability, faults per host, plans\n"
	    "  run watch [--json] ID             follow a run's events and probe values until\n"
	    "                                    it ends: exit 0 if completed, aborted or\n"
	    "                                    halted, 1 if failed\n"
	    "  run approve ID                    approve a run awaiting approval (approver)\n"
	    "  halt ID [--reason TEXT]           halt one run (any user)\n"
	    "  halt --all [--reason TEXT]        halt every run and refuse new ones until cleared\n"
	    "  halt --clear                      lift a halt --all (admin)\n"
	    "  rehearsal ack ID --detected|--recovered\n"
	    "                                    the oncall's acknowledgements; --recovered ends\n"
	    "                                    the rehearsal (the fault is taken back)\n"
	    "  rehearsal step ID N               tick recovery-plan step N\n"
	    "risks:\n"
	    "  risk import FILE                  check, then store a risk matrix (CSV or JSON,\n"
	    "                                    docs/risks.md); exit 1 with every problem\n"
	    "  risk list [--json]                the risks, High/High first\n"
	    "  risk show [--json] ID             one risk, its history and its Game Days\n"
	    "reports:\n"
	    "  report ID [--format md|html|json] [--slo PERCENT]\n"
	    "                                    a run's report (default md; html is one\n"
	    "                                    self-contained page); budget against a monthly\n"
	    "                                    target (default 99.9)\n"
	    "  report --freshness [--days N] [--json]\n"
	    "                                    days since each playbook last passed; stale\n"
	    "                                    past N days (default 90)\n"
	    "  report --risks [--json]           risks, High/High first, with their last Game\n"
	    "                                    Day and outcome; the ones never exercised\n"
	    "hosts and audit:\n"
	    "  agents [--json]                   agents: state, last seen, tags, faults, via\n"
	    "  audit [--since RFC3339] [--json]  the audit log, oldest first\n"
	    "  audit verify [--json]             check the audit hash chain (exit 1 if broken)\n"
	    "\n"
	    "--url defaults to http://127.0.0.1:7070; the URL and token may also come from\n"
	    "GAMEDAY_URL and GAMEDAY_TOKEN.  --token-file reads the token from a file.\n"
	    "--json prints the controller's reply as JSON (run watch: one event per line).\n"
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
cli_bad_option(const char *what, int c, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";
	const char *pre = what != NULL ? what : "", *sep = what != NULL ? ": " : "";

	/* No command has a short option that takes an argument: ':' is about a long one. */
	if (c == ':')
		return cli_usage_error("%s%soption '%s' needs an argument", pre, sep, log_esc(arg));
	/* getopt sets optopt for "--json=x" (an argument given to a flag) and for "-x". */
	if (optopt != 0 && strncmp(arg, "--", 2) == 0 && strchr(arg, '=') != NULL)
		return cli_usage_error("%s%soption '%s' takes no argument", pre, sep, log_esc(arg));
	if (optopt > 0 && optopt < 0x7f)
		return cli_usage_error("%s%sunknown option '-%c'", pre, sep, optopt);
	return cli_usage_error("%s%sunknown option '%s'", pre, sep, log_esc(arg));
}

bool
cli_check_id(const char *what, const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64 || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") != n) {
		(void)cli_usage_error("'%s' is not %s", log_esc(id), what);
		return false;
	}
	return true;
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
		{ "token-file", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = {
		.url = getenv("GAMEDAY_URL"),
		.token = getenv("GAMEDAY_TOKEN"),
		.progname = "gameday",
	};
	bool token_arg = false;
	int c, r;

	log_init("gameday", LOG_LEVEL_WARN);
	gd_alloc_init_cjson();
	if (cli.url == NULL)
		cli.url = "http://127.0.0.1:7070";
	/* "+": stop at the command, so that its own options are left for it. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			cli.url = optarg;
			break;
		case 't':
			cli.token = optarg;
			token_arg = true;
			break;
		case 'T':
			cli.token_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_bad_option(NULL, c, argv);
		}
	}
	if (token_arg && cli.token_file != NULL)
		return cli_usage_error("--token and --token-file exclude each other");
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	r = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && r == -1; i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			r = commands[i].fn(&cli, argc - optind, argv + optind);
	cli.client = client_free(cli.client);
	if (r == -1)
		return cli_usage_error("unknown command '%s'", log_esc(argv[optind]));
	/* Output that did not reach its file (a full disk) is a failure too. */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		(void)fprintf(stderr, "gameday: cannot write the output: %s\n", strerror(errno));
		return CLI_FAILED;
	}
	return r;
}
