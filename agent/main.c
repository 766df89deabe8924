/*
 * gameday-agent: one-shot commands (DESIGN §4) over the agent core.  Every command first
 * reverts what the journal holds past its TTL (agent_sweep()), then does its work.  With
 * no command, --controller runs the daemon (daemon.c).
 *
 *   gameday-agent --controller URL [--token-file F] [--tags k=v,...] [--lease DUR] [options]
 *   gameday-agent [options] inject --fault JSON|- --ttl DUR [--dry-run]
 *   gameday-agent [options] revert ID|--all
 *   gameday-agent [options] list [--json]
 *   gameday-agent [options] capabilities [--json]
 *
 * Exit status: 0 done, 1 refused or failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "alloc.h"
#include "daemon.h"
#include "log.h"
#include "parse.h"
#include "sandbox.h"

#define EXIT_FAILED	1
#define EXIT_USAGE	2

static const char *arg_state_dir = GD_AGENT_DEFAULT_STATE_DIR;
static const char *arg_fault;
static uint64_t arg_ttl_ms;
static const char *arg_controller, *arg_token_file, *arg_tags;
static uint64_t arg_lease_ms;
static bool arg_dry_run, arg_json, arg_all;

static _Noreturn void
usage(const char *msg)
{
	if (msg != NULL)
		(void)fprintf(stderr, "gameday-agent: %s\n", msg);
	(void)fputs("usage: gameday-agent [--state-dir DIR] [--allow-path DIR]... [--protect COMM]...\n"
	    "                     [--exempt HOST:PORT]... [--controller URL] [--ttl-cap DUR]\n"
	    "                     [--deny-type TYPE]... COMMAND\n"
	    "daemon:   gameday-agent --controller URL --token-file F --tags k=v,... [--lease DUR]\n"
	    "                        [--state-dir DIR] [--allow-path DIR]...\n"
	    "commands: inject --fault JSON|- --ttl DUR [--dry-run]   (-: the JSON on stdin)\n"
	    "          revert ID|--all\n"
	    "          list [--json]\n"
	    "          capabilities [--json]\n", stderr);
	exit(EXIT_USAGE);
}

enum {
	OPT_STATE_DIR = 256, OPT_ALLOW_PATH, OPT_PROTECT, OPT_EXEMPT, OPT_CONTROLLER,
	OPT_TTL_CAP, OPT_DENY_TYPE, OPT_FAULT, OPT_TTL, OPT_DRY_RUN, OPT_JSON, OPT_ALL,
	OPT_TOKEN_FILE, OPT_TAGS, OPT_LEASE, OPT_HELP,
};

static const struct option opts[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "allow-path", required_argument, NULL, OPT_ALLOW_PATH },
	{ "protect", required_argument, NULL, OPT_PROTECT },
	{ "exempt", required_argument, NULL, OPT_EXEMPT },
	{ "controller", required_argument, NULL, OPT_CONTROLLER },
	{ "ttl-cap", required_argument, NULL, OPT_TTL_CAP },
	{ "deny-type", required_argument, NULL, OPT_DENY_TYPE },
	{ "fault", required_argument, NULL, OPT_FAULT },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "tags", required_argument, NULL, OPT_TAGS },
	{ "lease", required_argument, NULL, OPT_LEASE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static uint64_t
duration_arg(const char *opt, const char *s)
{
	const char *why = NULL;
	uint64_t ms;
	char msg[256];

	if (duration_parse(s, &ms, &why) < 0 || ms == 0) {
		(void)snprintf(msg, sizeof(msg), "%s: '%s' is not a duration (%s)", opt,
		    log_esc(s), why != NULL ? why : "must be above zero");
		usage(msg);
	}
	return ms;
}

/* Local policy options; the controller can never widen what they allow. */
static void
policy_option(struct policy *pol, int c, const char *arg)
{
	const char *why = NULL;
	enum fault_type t;
	char msg[300];

	switch (c) {
	case OPT_ALLOW_PATH:
		if (arg[0] != '/' || pol->nallow_paths == GD_MAX_ALLOW_PATHS)
			usage("--allow-path takes an absolute directory (at most 16 of them)");
		pol->allow_paths[pol->nallow_paths++] = arg;
		return;
	case OPT_PROTECT:
		if (strlen(arg) == 0 || strlen(arg) > 15 ||
		    pol->nprotected_comms == GD_MAX_PROTECTED_COMMS)
			usage("--protect takes a process name (comm) of 1 to 15 bytes");
		pol->protected_comms[pol->nprotected_comms++] = arg;
		return;
	case OPT_EXEMPT:
	case OPT_CONTROLLER:	/* One-shot commands; the daemon resolves names itself. */
		if ((c == OPT_EXEMPT ? policy_exempt_hostport(pol, arg, &why) :
		    policy_exempt_url(pol, arg, &why)) < 0) {
			(void)snprintf(msg, sizeof(msg), "%s '%s': %s", c == OPT_EXEMPT ?
			    "--exempt" : "--controller", log_esc(arg), why);
			usage(msg);
		}
		return;
	case OPT_TTL_CAP:
		pol->ttl_cap_ms = duration_arg("--ttl-cap", arg);
		if (pol->ttl_cap_ms > GD_MAX_RUN_MS)
			usage("--ttl-cap is at most 24h");
		return;
	case OPT_DENY_TYPE:
		if (fault_type_from_name(arg, &t) < 0)
			usage("--deny-type takes a fault type such as network.partition");
		pol->type_allowed[t] = false;
		return;
	}
}

static int
parse_args(int argc, char **argv, struct policy *pol)
{
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			if (optarg[0] != '/')
				usage("--state-dir takes an absolute directory");
			arg_state_dir = optarg;
			break;
		case OPT_FAULT:
			arg_fault = optarg;
			break;
		case OPT_TTL:
			arg_ttl_ms = duration_arg("--ttl", optarg);
			break;
		case OPT_DRY_RUN:
			arg_dry_run = true;
			break;
		case OPT_JSON:
			arg_json = true;
			break;
		case OPT_ALL:
			arg_all = true;
			break;
		case OPT_CONTROLLER:
			if (arg_controller != NULL)
				usage("--controller is given once");
			arg_controller = optarg;
			break;
		case OPT_TOKEN_FILE:
			arg_token_file = optarg;
			break;
		case OPT_TAGS:
			arg_tags = optarg;
			break;
		case OPT_LEASE:
			arg_lease_ms = duration_arg("--lease", optarg);
			if (arg_lease_ms < GD_MIN_LEASE_MS || arg_lease_ms > GD_MAX_LEASE_MS)
				usage("--lease is between 3s and 1h");
			break;
		case 'h':
		case OPT_HELP:
			usage(NULL);
		case '?':
			usage(NULL);
		default:
			policy_option(pol, c, optarg);
			break;
		}
	}
	if (optind < argc && (arg_token_file != NULL || arg_tags != NULL || arg_lease_ms != 0))
		usage("--token-file, --tags and --lease are for the daemon, which takes no "
		    "command");
	if (optind >= argc && arg_controller == NULL)
		usage("missing command (or --controller URL, for the daemon)");
	if (optind < argc && arg_controller != NULL)
		policy_option(pol, OPT_CONTROLLER, arg_controller);
	return optind;
}

static int
run_daemon(struct policy *pol)
{
	const struct daemon_config cfg = {
		.controller = arg_controller,
		.token_file = arg_token_file,
		.tags = arg_tags,
		.state_dir = arg_state_dir,
		.lease_ms = arg_lease_ms,
	};

	return daemon_main(&cfg, pol);
}

/*
 * --fault -: the fault's JSON on standard input, so that the controller's SSH dispatch
 * runs a fixed command line and no fault parameter is ever part of it (DESIGN §7.6).
 * Returns a NUL-terminated copy (gd_free()), or NULL with the reason printed.
 */
static char *
read_fault_stdin(size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = gd_malloc(cap), *p;
	ssize_t n;

	while (buf != NULL) {
		if (len + 1 == cap) {
			if (cap > GD_MAX_PLAYBOOK_BYTES) {
				(void)fprintf(stderr, "gameday-agent: --fault -: more than %d "
				    "bytes on standard input\n", GD_MAX_PLAYBOOK_BYTES);
				gd_free(buf);
				return NULL;
			}
			if ((p = gd_realloc(buf, cap * 2)) == NULL)
				break;
			buf = p;
			cap *= 2;
		}
		n = read(STDIN_FILENO, buf + len, cap - 1 - len);
		if (n == 0) {
			buf[len] = '\0';
			*ret_len = len;
			return buf;
		}
		if (n < 0 && errno != EINTR) {
			(void)fprintf(stderr, "gameday-agent: --fault -: reading standard input: "
			    "%s\n", strerror(errno));
			gd_free(buf);
			return NULL;
		}
		if (n > 0)
			len += (size_t)n;
	}
	gd_free(buf);
	(void)fputs("gameday-agent: out of memory\n", stderr);
	return NULL;
}

static int
cmd_inject(struct agent *a)
{
	static struct gd_err err;
	struct arena *ar = NULL;
	char id[GD_FAULT_ID_LEN + 1], why[512] = "", *text = NULL;
	struct fault f;
	bool dup = false;
	char *in = NULL;
	const char *json = arg_fault;
	size_t len;
	int r;

	if (arg_fault == NULL)
		usage("inject needs --fault JSON (or --fault - to read it from standard input)");
	if (arg_ttl_ms == 0 && !arg_dry_run)
		usage("inject needs --ttl DUR: every fault has a TTL");
	if (strcmp(arg_fault, "-") == 0) {
		if ((in = read_fault_stdin(&len)) == NULL)
			return EXIT_FAILED;
		json = in;
	} else {
		len = strlen(arg_fault);
	}
	gd_err_init(&err);
	r = agent_order_parse(json, len, &ar, &f, &err);
	if (r < 0) {
		gd_free(in);
		for (size_t i = 0; i < err.n; i++)
			(void)fprintf(stderr, "gameday-agent: --fault %s: %s\n",
			    err.items[i].path, err.items[i].msg);
		if (r == -ENOMEM)
			(void)fputs("gameday-agent: out of memory\n", stderr);
		return EXIT_FAILED;
	}
	/* The order's strings live in the arena; json is not needed past here either way. */
	if (arg_dry_run) {
		r = agent_dry_run(a, &f, arg_ttl_ms > 0 ? arg_ttl_ms : 60000, &text, why,
		    sizeof(why));
		if (r == 0)
			(void)fputs(text, stdout);
		gd_free(text);
	} else {
		r = agent_inject(a, &f, arg_ttl_ms, NULL, id, &dup, why, sizeof(why));
		if (r == 0) {
			if (dup)
				log_info("fault=%s the same order is already in effect", id);
			(void)printf("%s\n", id);
		}
	}
	arena_free(ar);
	gd_free(in);
	if (r < 0) {
		(void)fprintf(stderr, "gameday-agent: inject refused: %s\n",
		    why[0] != '\0' ? why : strerror(-r));
		return EXIT_FAILED;
	}
	return 0;
}

static int
cmd_revert(struct agent *a, int argc, char **argv)
{
	char why[512] = "";
	size_t failed = 0;
	int r;

	if (arg_all) {
		if (argc != 0)
			usage("revert takes an ID or --all, not both");
		if ((r = agent_revert_all(a, &failed)) < 0) {
			(void)fprintf(stderr, "gameday-agent: %zu faults could not be reverted; "
			    "see `gameday-agent list`\n", failed);
			return EXIT_FAILED;
		}
		return 0;
	}
	if (argc != 1)
		usage("revert takes one fault ID, or --all");
	if ((r = agent_revert(a, argv[0], why, sizeof(why))) < 0) {
		(void)fprintf(stderr, "gameday-agent: revert %s: %s\n", log_esc(argv[0]), why);
		return EXIT_FAILED;
	}
	return 0;
}

static void
print_list_text(const cJSON *arr)
{
	const cJSON *e;

	(void)printf("%-16s  %-17s  %-13s  %-9s  %s\n", "ID", "TYPE", "STATE", "IN_EFFECT",
	    "TTL_LEFT");
	cJSON_ArrayForEach(e, arr) {
		const cJSON *f = cJSON_GetObjectItem(e, "fault");
		const cJSON *err = cJSON_GetObjectItem(e, "error");

		(void)printf("%-16s  %-17s  %-13s  %-9s  %.0fs%s%s\n",
		    cJSON_GetStringValue(cJSON_GetObjectItem(e, "id")),
		    cJSON_GetStringValue(cJSON_GetObjectItem(f, "type")),
		    cJSON_GetStringValue(cJSON_GetObjectItem(e, "state")),
		    cJSON_IsTrue(cJSON_GetObjectItem(e, "in_effect")) ? "yes" : "no",
		    cJSON_GetNumberValue(cJSON_GetObjectItem(e, "ttl_left_ms")) / 1000.0,
		    err != NULL ? "  error: " : "", err != NULL ? log_esc(err->valuestring) : "");
	}
}

static void
print_caps_text(const cJSON *caps)
{
	const cJSON *t, *b;

	cJSON_ArrayForEach(t, cJSON_GetObjectItem(caps, "types"))
		(void)printf("%-18s %s\n", t->string, cJSON_IsTrue(t) ? "yes" : "no");
	(void)printf("latency backends: ");
	cJSON_ArrayForEach(b, cJSON_GetObjectItem(caps, "latency_backends"))
		(void)printf("%s%s", b->valuestring, b->next != NULL ? ", " : "");
	(void)printf("\nnetem: %s (%s)\n", cJSON_IsTrue(cJSON_GetObjectItem(caps, "netem")) ?
	    "yes" : "no", cJSON_GetStringValue(cJSON_GetObjectItem(caps, "netem_reason")));
}

static int
cmd_show(struct agent *a, bool caps)
{
	cJSON *o = NULL;
	char *text;
	int r;

	r = caps ? agent_capabilities_json(a, &o) : agent_list_json(a, &o);
	if (r < 0) {
		(void)fprintf(stderr, "gameday-agent: %s\n", strerror(-r));
		return EXIT_FAILED;
	}
	if (arg_json) {
		if ((text = cJSON_PrintUnformatted(o)) == NULL) {
			cJSON_Delete(o);
			return EXIT_FAILED;
		}
		(void)puts(text);
		gd_free(text);
	} else if (caps) {
		print_caps_text(o);
	} else {
		print_list_text(o);
	}
	cJSON_Delete(o);
	return 0;
}

int
main(int argc, char **argv)
{
	struct policy pol;
	struct agent a;
	size_t reverted = 0, failed = 0;
	const char *cmd;
	int i, r;

	log_init("gameday-agent", LOG_LEVEL_INFO);
	gd_alloc_init_cjson();
	policy_init(&pol);
	i = parse_args(argc, argv, &pol);
	if (i >= argc)
		return run_daemon(&pol);
	cmd = argv[i++];
	if (strcmp(cmd, "inject") != 0 && strcmp(cmd, "revert") != 0 &&
	    strcmp(cmd, "list") != 0 && strcmp(cmd, "capabilities") != 0)
		usage("unknown command");
	if (strcmp(cmd, "revert") != 0 && i != argc)
		usage("unexpected argument");
	if ((r = agent_open(&a, &pol, arg_state_dir)) < 0) {
		(void)fprintf(stderr, "gameday-agent: cannot open the state dir %s: %s\n",
		    log_esc(arg_state_dir), r == -EACCES ? "it must belong to this user and not "
		    "be writable by group or others" : strerror(-r));
		return EXIT_FAILED;
	}
	if ((r = sandbox_enter(SANDBOX_AGENT_ONESHOT)) < 0) {
		(void)fprintf(stderr, "gameday-agent: cannot enter the sandbox: %s\n",
		    strerror(-r));
		agent_close(&a);
		return EXIT_FAILED;
	}
	if (agent_sweep(&a, &reverted, &failed) < 0 || failed > 0)
		log_warnx("%zu expired faults could not be reverted; see `gameday-agent list`",
		    failed);
	if (strcmp(cmd, "inject") == 0)
		r = cmd_inject(&a);
	else if (strcmp(cmd, "revert") == 0)
		r = cmd_revert(&a, argc - i, argv + i);
	else
		r = cmd_show(&a, strcmp(cmd, "capabilities") == 0);
	agent_close(&a);
	return r;
}
