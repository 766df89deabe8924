/*
 * Running the built `gameday` CLI in a test: its stdout and stderr into out and err, its
 * exit status back (128 + signal when killed: a crash is never a pass), against the
 * controller of the including test (it declares `static struct gd g` and sets cli_bin
 * before it includes this, after test.h).  Header-only, like harness.h.
 */
#ifndef GD_TEST_CLIRUN_H
#define GD_TEST_CLIRUN_H

#include <regex.h>

#ifndef OUT_MAX
#define OUT_MAX		(1 << 17)
#endif
#ifndef CLI_DEADLINE_MS
#define CLI_DEADLINE_MS	120000	/* A CLI call that takes longer is killed (and fails). */
#endif

static char out[OUT_MAX], err[OUT_MAX];
static const char *cli_bin;

/* Reads both pipes to EOF (or the deadline) into out and err. */
static inline void
collect(int ofd, int efd, pid_t pid)
{
	struct pollfd pf[2] = { { ofd, POLLIN, 0 }, { efd, POLLIN, 0 } };
	size_t olen = 0, elen = 0;
	double t0 = h_now_ms();

	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		if (h_now_ms() - t0 > CLI_DEADLINE_MS) {
			(void)kill(pid, SIGKILL);
			break;
		}
		if (poll(pf, 2, 500) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			char *buf = i == 0 ? out : err;
			size_t *len = i == 0 ? &olen : &elen;
			char scratch[4096];
			ssize_t n;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			if (*len < OUT_MAX - 1)
				n = read(pf[i].fd, buf + *len, OUT_MAX - 1 - *len);
			else
				n = read(pf[i].fd, scratch, sizeof(scratch));
			if (n <= 0) {
				(void)close(pf[i].fd);
				pf[i].fd = -1;
			} else if (*len < OUT_MAX - 1) {
				*len += (size_t)n;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			(void)close(pf[i].fd);
	out[olen] = '\0';
	err[elen] = '\0';
}

/*
 * Runs gameday args... with GAMEDAY_URL set to the controller and GAMEDAY_TOKEN to token
 * (none when NULL); stdout into out, stderr into err.  Returns the exit status (128 + signal
 * when killed: a crash is never a pass).
 */
static inline int
cli(const char *token, const char *const *args)
{
	static const char *const pass[] = { "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=",
	    NULL };
	char *argv[48], *envp[8], url_env[128], tok_env[TOK + 16];
	posix_spawn_file_actions_t fa;
	size_t n = 0, ne = 0;
	int o[2], e[2], st = 0;
	pid_t pid;

	argv[n++] = (char *)cli_bin;
	for (size_t i = 0; args[i] != NULL && n < 47; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	(void)snprintf(url_env, sizeof(url_env), "GAMEDAY_URL=%s", g.url);
	envp[ne++] = url_env;
	if (token != NULL) {
		(void)snprintf(tok_env, sizeof(tok_env), "GAMEDAY_TOKEN=%s", token);
		envp[ne++] = tok_env;
	}
	for (char **v = environ; *v != NULL; v++)
		for (size_t i = 0; pass[i] != NULL && ne < 7; i++)
			if (strncmp(*v, pass[i], strlen(pass[i])) == 0)
				envp[ne++] = *v;
	envp[ne] = NULL;
	out[0] = err[0] = '\0';
	if (pipe2(o, O_CLOEXEC) == -1 || pipe2(e, O_CLOEXEC) == -1)
		return -1;
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_adddup2(&fa, o[1], STDOUT_FILENO);
	(void)posix_spawn_file_actions_adddup2(&fa, e[1], STDERR_FILENO);
	if (posix_spawn(&pid, cli_bin, &fa, NULL, argv, envp) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(o[1]);
	(void)close(e[1]);
	collect(o[0], e[0], pid);
	(void)waitpid(pid, &st, 0);
	gd_drain(&g);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The exit status, and on a mismatch what the CLI printed. */
#define ASSERT_CLI(tok, want, ...)						\
	do {									\
		int _rc = cli((tok), ARGS(__VA_ARGS__));			\
		if (_rc != (want))						\
			TEST_FAIL("gameday exit %d, want %d\nstdout: %s\nstderr: %s",	\
			    _rc, (want), out, err);				\
	} while (0)

/* Whether s matches the extended regular expression re (lines are anchors). */
static inline bool
matches(const char *s, const char *re)
{
	regex_t r;
	bool ok;

	if (regcomp(&r, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB) != 0)
		return false;
	ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

#define ASSERT_MATCH(s, re)							\
	do {									\
		if (!matches((s), (re)))					\
			TEST_FAIL("'%s' does not match /%s/", (s), (re));	\
	} while (0)
#define ASSERT_HAS(s, sub)							\
	do {									\
		if (strstr((s), (sub)) == NULL)					\
			TEST_FAIL("'%s' does not contain '%s'", (s), (sub));	\
	} while (0)

#endif
