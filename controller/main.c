/*
 * gamedayd: the controller daemon, and its local administration commands.
 *
 *   gamedayd [--config FILE] [--state-dir DIR] [--listen ADDR:PORT]
 *   gamedayd token create --state-dir DIR --user NAME --role ROLE
 *   gamedayd token revoke --state-dir DIR --user NAME
 *   gamedayd enroll-token create --state-dir DIR [--ttl DUR] [--count N]
 *
 * The token commands print the new token alone on one line, once; only its hash is kept.
 * Exit status: 0 done, 1 failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "auth.h"
#include "ctl.h"
#include "log.h"
#include "parse.h"

#define EXIT_FAILED	1
#define EXIT_USAGE	2

static _Noreturn void
usage(const char *msg)
{
	if (msg != NULL)
		(void)fprintf(stderr, "gamedayd: %s\n", msg);
	(void)fputs("usage: gamedayd [--config FILE] [--state-dir DIR] [--listen ADDR:PORT]\n"
	    "       gamedayd token create --state-dir DIR --user NAME --role "
	    "viewer|operator|approver|admin\n"
	    "       gamedayd token revoke --state-dir DIR --user NAME\n"
	    "       gamedayd enroll-token create --state-dir DIR [--ttl DUR] [--count N]\n",
	    stderr);
	exit(EXIT_USAGE);
}

enum { OPT_CONFIG = 256, OPT_STATE_DIR, OPT_LISTEN, OPT_USER, OPT_ROLE, OPT_TTL, OPT_COUNT,
	OPT_HELP };

static const struct option opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "user", required_argument, NULL, OPT_USER },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int
serve(const struct config *cfg)
{
	struct ctl c;
	char why[512];
	struct rlimit rl;
	sigset_t set;
	int sig = 0;

	/* Every thread inherits the mask; main waits for the signals synchronously. */
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGHUP);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	/* Every agent holds a connection open: take all the descriptors we are allowed. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (ctl_start(&c, cfg, why, sizeof(why)) < 0) {
		log_warnx("cannot start: %s", why);
		return EXIT_FAILED;
	}
	log_info("listening on %s:%u%s, state in %s (schema %d)", cfg->listen_addr, c.port,
	    cfg->tls_cert[0] != '\0' ? " (TLS)" : "", cfg->state_dir,
	    c.store->schema_version);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: nothing to reload; restart to change the configuration");
			continue;
		}
		break;
	}
	log_info("signal %d: stopping; runs carry on from the store at the next start", sig);
	ctl_stop(&c);
	return 0;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	const char *config = NULL, *state_dir = NULL, *listen = NULL, *user = NULL;
	const char *role = NULL, *ttl = NULL, *err;
	char why[512], tok[AUTH_TOKEN_LEN + 1];
	struct store *s;
	uint64_t ttl_ms = CTL_ENROLL_TTL_MS;
	long count = 1;
	char *end;
	int ch, r, n;

	log_init("gamedayd", LOG_LEVEL_INFO);
	gd_alloc_init_cjson();
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1)
		switch (ch) {
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_LISTEN:
			listen = optarg;
			break;
		case OPT_HELP:
			usage(NULL);
		default:
			usage(NULL);
		}
	argc -= optind;
	argv += optind;
	config_defaults(&cfg);
	if (config != NULL && config_load(&cfg, config, why, sizeof(why)) < 0) {
		(void)fprintf(stderr, "gamedayd: %s\n", why);
		return EXIT_USAGE;
	}
	if (argc == 0) {
		if (state_dir != NULL)
			(void)snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", state_dir);
		if (listen != NULL && config_set_listen(&cfg, listen, why, sizeof(why)) < 0)
			usage(why);
		r = serve(&cfg);
		/* What config_load() allocated: LeakSanitizer checks every exit. */
		gd_free(cfg.ssh_hosts);
		gd_free(cfg.webhooks);
		return r;
	}
	/* Local administration: token create|revoke, enroll-token create. */
	if (argc < 2 || (strcmp(argv[0], "token") != 0 && strcmp(argv[0], "enroll-token") != 0))
		usage("unknown command");
	{
		bool is_token = strcmp(argv[0], "token") == 0;
		const char *verb = argv[1];

		optind = 1;
		argc -= 1;
		argv += 1;
		while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1)
			switch (ch) {
			case OPT_STATE_DIR:
				state_dir = optarg;
				break;
			case OPT_USER:
				user = optarg;
				break;
			case OPT_ROLE:
				role = optarg;
				break;
			case OPT_TTL:
				ttl = optarg;
				break;
			case OPT_COUNT:
				count = strtol(optarg, &end, 10);
				if (*optarg == '\0' || *end != '\0' || count < 1 || count > 100000)
					usage("--count must be from 1 to 100000");
				break;
			default:
				usage(NULL);
			}
		if (optind != argc)
			usage("unexpected argument");
		if (state_dir != NULL)
			(void)snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", state_dir);
		if (is_token && strcmp(verb, "create") == 0) {
			if (user == NULL || role == NULL)
				usage("token create needs --user and --role");
			if (role_parse(role) == ROLE_NONE)
				usage("--role must be viewer, operator, approver or admin");
		} else if (is_token && strcmp(verb, "revoke") == 0) {
			if (user == NULL)
				usage("token revoke needs --user");
		} else if (!is_token && strcmp(verb, "create") == 0) {
			if (ttl != NULL && duration_parse(ttl, &ttl_ms, &err) < 0) {
				(void)snprintf(why, sizeof(why), "--ttl: %s", err);
				usage(why);
			}
		} else
			usage("unknown command");
		if ((r = store_open(&s, cfg.state_dir, why, sizeof(why))) < 0) {
			(void)fprintf(stderr, "gamedayd: %s\n", why);
			return EXIT_FAILED;
		}
		if (is_token && strcmp(verb, "create") == 0)
			r = auth_create_user_token(s, user, role_parse(role), tok, why,
			    sizeof(why));
		else if (is_token)
			r = auth_revoke_user(s, user, &n, why, sizeof(why));
		else {
			/* A fleet's worth at once, one per line: each is still single use. */
			for (long i = 0; i < count; i++) {
				r = auth_create_enroll_token(s, (int64_t)ttl_ms, tok, why,
				    sizeof(why));
				if (r < 0)
					break;
				if (i + 1 < count)
					(void)printf("%s\n", tok);
			}
		}
		store_close(s);
		if (r < 0) {
			(void)fprintf(stderr, "gamedayd: %s\n", why);
			return EXIT_FAILED;
		}
		if (is_token && strcmp(verb, "revoke") == 0)
			(void)printf("revoked %d token%s of %s\n", n, n == 1 ? "" : "s", user);
		else
			(void)printf("%s\n", tok);
		explicit_bzero(tok, sizeof(tok));
		return fflush(stdout) == 0 ? 0 : EXIT_FAILED;
	}
}
