/*
 * `gameday schedule preview` (GD_CLI_BIN), offline: the exact JSON of a weekly New York
 * schedule across the November DST change and a Thanksgiving blackout, the human form, the
 * Chaos Monkey example (reproducible with a seed, nothing in its Christmas freeze), and the
 * exit codes: 0 done, 1 invalid playbook / no schedule / no start, 2 bad usage.
 */
#include <stdbool.h>

#include "calendar.h"
#include "harness.h"
#include "test.h"

#define OUT_MAX	(1 << 18)	/* 1,000 human lines fit. */

static const char *cli_bin, *src_dir;
static char out[OUT_MAX], err[OUT_MAX], tmpdir[64];

/* Reads path (at most OUT_MAX - 1 bytes) into buf as a string. */
static void
slurp(const char *path, char *buf)
{
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		n = fread(buf, 1, OUT_MAX - 1, f);
		(void)fclose(f);
	}
	buf[n] = '\0';
}

/* Runs gameday with args (NULL-terminated, no shell); stdout in out, stderr in err. */
static int
cli(const char *const *args)
{
	char *argv[32], opath[128], epath[128];
	posix_spawn_file_actions_t fa;
	int st = 0, n = 0;
	pid_t pid;

	argv[n++] = (char *)cli_bin;
	while (*args != NULL && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	(void)snprintf(opath, sizeof(opath), "%s/stdout", tmpdir);
	(void)snprintf(epath, sizeof(epath), "%s/stderr", tmpdir);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, opath,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	(void)posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, epath,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		TEST_FAIL("cannot run %s", cli_bin);
		return -1;
	}
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)waitpid(pid, &st, 0);
	slurp(opath, out);
	slurp(epath, err);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *
example(const char *name, char buf[256])
{
	(void)snprintf(buf, 256, "%s/playbooks/%s", src_dir, name);
	return buf;
}

/* Writes a playbook made of text into the temp dir; returns its path. */
static const char *
write_pb(const char *name, const char *text, char buf[256])
{
	FILE *f;

	(void)snprintf(buf, 256, "%s/%s", tmpdir, name);
	if ((f = fopen(buf, "w")) == NULL || fputs(text, f) == EOF || fclose(f) == EOF)
		TEST_FAIL("cannot write %s", buf);
	return buf;
}

#define PB_HEAD								\
	"{\"apiVersion\":\"gameday/v1\",\"name\":\"p\",\"description\":\"d\","	\
	"\"owner\":\"qa\",\"environment\":\"staging\",\"tier\":3,"		\
	"\"targets\":{\"tags\":{\"role\":\"db\"},\"pick\":{\"count\":1}},"	\
	"\"faults\":[{\"type\":\"cpu.burn\",\"cores\":1,\"load_percent\":10}],"

static void
test_weekly_dst(void)
{
	static const char want[] =
	    "[\n"
	    "  {\"start\": \"2026-10-20T14:00:00Z\", \"end\": \"2026-10-20T19:00:00Z\"},\n"
	    "  {\"start\": \"2026-10-27T14:00:00Z\", \"end\": \"2026-10-27T19:00:00Z\"},\n"
	    "  {\"start\": \"2026-11-03T15:00:00Z\", \"end\": \"2026-11-03T20:00:00Z\"},\n"
	    "  {\"start\": \"2026-11-10T15:00:00Z\", \"end\": \"2026-11-10T20:00:00Z\"},\n"
	    "  {\"start\": \"2026-11-17T15:00:00Z\", \"end\": \"2026-11-17T20:00:00Z\"},\n"
	    "  {\"start\": \"2026-11-24T15:00:00Z\", \"end\": \"2026-11-24T20:00:00Z\"},\n"
	    "  {\"start\": \"2026-12-02T15:00:00Z\", \"end\": \"2026-12-02T20:00:00Z\"}\n"
	    "]\n";
	char pb[256];

	TEST_START("preview --json: weekly Tuesday New York, 14:00Z before November, 15:00Z after");
	example("network-latency-sla.json", pb);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-10-19T00:00:00Z", "--count", "7", "--json", NULL }), 0);
	/* Thanksgiving (2026-11-25..12-01) takes Tuesday 12-01: that week starts Wednesday. */
	ASSERT_STR_EQ(out, want);
	ASSERT_STR_EQ(err, "");

	TEST_START("preview: options in any order; --from itself may be a start");
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", "--json", "--count", "1",
	    "--from", "2026-11-03T10:00:00-05:00", pb, NULL }), 0);
	ASSERT_STR_EQ(out, "[\n  {\"start\": \"2026-11-03T15:00:00Z\", "
	    "\"end\": \"2026-11-03T20:00:00Z\"}\n]\n");

	TEST_START("preview: the human form, one line per start under a header");
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-10-26T00:00:00Z", "--count", "2", NULL }), 0);
	ASSERT_STR_EQ(out,
	    "START                 WINDOW-END            LOCAL-START              WINDOW\n"
	    "2026-10-27T14:00:00Z  2026-10-27T19:00:00Z  Tue 2026-10-27 10:00:00  "
	    "10:00-15:00 America/New_York\n"
	    "2026-11-03T15:00:00Z  2026-11-03T20:00:00Z  Tue 2026-11-03 10:00:00  "
	    "10:00-15:00 America/New_York\n");
}

static void
test_chaos_monkey(void)
{
	static char first[OUT_MAX];
	char pb[256];

	TEST_START("preview: Chaos Monkey mode is reproducible with --seed");
	example("chaos-monkey-random.json", pb);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-11-02T00:00:00Z", "--count", "30", "--seed", "7", "--json", NULL }), 0);
	memcpy(first, out, sizeof(first));
	ASSERT_TRUE(starts_with(out, "[\n  {\"start\": \"2026-11-"));
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-11-02T00:00:00Z", "--count", "30", "--seed", "7", "--json", NULL }), 0);
	ASSERT_STR_EQ(out, first);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-11-02T00:00:00Z", "--count", "30", "--seed", "8", "--json", NULL }), 0);
	ASSERT_TRUE(strcmp(out, first) != 0);

	TEST_START("preview: the default seed is the controller's (the name's hash); nothing in "
	    "the Christmas freeze");
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-12-18T16:00:00Z", "--count", "1", "--json", NULL }), 0);
	memcpy(first, out, sizeof(first));
	{
		char seed[32];

		(void)snprintf(seed, sizeof(seed), "%llu",
		    (unsigned long long)calendar_seed("chaos-monkey-random"));
		ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
		    "2026-12-18T16:00:00Z", "--count", "1", "--json", "--seed", seed, NULL }), 0);
	}
	ASSERT_STR_EQ(out, first);
	/* The freeze ends 2027-01-06 (inclusive); 09:30 in Berlin is 08:30Z. */
	ASSERT_TRUE(starts_with(out, "[\n  {\"start\": \"2027-01-"));
	ASSERT_TRUE(strcmp(out + 15, "2027-01-07T08:30:00Z") >= 0);
}

static void
test_failures(void)
{
	char pb[256], path[256];

	TEST_START("preview: an invalid playbook exits 1 with validate's message");
	write_pb("bad.json", PB_HEAD "\"duration\":\"2x\"}", pb);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-10-19T00:00:00Z", "--count", "1", NULL }), 1);
	ASSERT_TRUE(strstr(err, "duration: ") != NULL);
	ASSERT_STR_EQ(out, "");

	TEST_START("preview: a playbook without a schedule exits 1 and says so");
	write_pb("nosched.json", PB_HEAD "\"duration\":\"5m\"}", pb);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-10-19T00:00:00Z", "--count", "1", NULL }), 1);
	ASSERT_TRUE(strstr(err, "has no schedule") != NULL);

	TEST_START("preview: no start in 3 years exits 1; --json still prints an array");
	write_pb("frozen.json", PB_HEAD "\"duration\":\"5m\",\"schedule\":{\"windows\":"
	    "[{\"days\":[\"mon\"],\"start\":\"09:00\",\"end\":\"10:00\"}],\"blackouts\":"
	    "[{\"from\":\"2026-01-01\",\"to\":\"2031-12-31\"}]}}", pb);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-10-19T00:00:00Z", "--count", "3", "--json", NULL }), 1);
	ASSERT_STR_EQ(out, "[]\n");
	ASSERT_TRUE(strstr(err, "no start") != NULL);

	TEST_START("preview: fewer starts than asked: those found, a note, exit 0");
	write_pb("ends.json", PB_HEAD "\"duration\":\"5m\",\"schedule\":{\"timezone\":"
	    "\"Asia/Tokyo\",\"windows\":[{\"days\":[\"mon\"],\"start\":\"09:00\",\"end\":"
	    "\"10:00\"}],\"blackouts\":[{\"from\":\"2026-10-27\",\"to\":\"2031-12-31\"}],"
	    "\"every\":\"daily\"}}", pb);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-10-19T00:00:00Z", "--count", "3", "--json", NULL }), 0);
	ASSERT_STR_EQ(out, "[\n  {\"start\": \"2026-10-19T00:00:00Z\", "
	    "\"end\": \"2026-10-19T01:00:00Z\"},\n  {\"start\": \"2026-10-26T00:00:00Z\", "
	    "\"end\": \"2026-10-26T01:00:00Z\"}\n]\n");
	ASSERT_TRUE(strstr(err, "no further start") != NULL);

	TEST_START("preview: a file that cannot be read exits 1");
	(void)snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", path, "--from",
	    "2026-10-19T00:00:00Z", "--count", "1", NULL }), 1);
}

static void
test_usage(void)
{
	static const char *const bad[][11] = {
		{ "schedule", NULL },
		{ "schedule", "frob", NULL },
		{ "schedule", "preview", "F", "--count", "1", NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19T00:00:00Z", NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19", "--count", "1", NULL },
		{ "schedule", "preview", "F", "--from", "2026-13-01T00:00:00Z", "--count", "1",
		    NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19T00:00:00Z", "--count", "0",
		    NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19T00:00:00Z", "--count",
		    "1001", NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19T00:00:00Z", "--count", "x",
		    NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19T00:00:00Z", "--count", "1",
		    "--seed", "-1", NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19T00:00:00Z", "--count", "1",
		    "--seed", "18446744073709551616", NULL },
		{ "schedule", "preview", "F", "--from", "2026-10-19T00:00:00Z", "--count", "1",
		    "--frob", NULL },
		{ "schedule", "preview", "--from", "2026-10-19T00:00:00Z", "--count", "1", NULL },
		{ "schedule", "preview", "F", "G", "--from", "2026-10-19T00:00:00Z", "--count",
		    "1", NULL },
		{ "schedule", "preview", "F", "--from", "9999-12-31T00:00:00Z", "--count", "1",
		    NULL },
		{ "schedule", "preview", "F", "--from", NULL },
	};
	char pb[256];

	TEST_START("preview: bad usage exits 2 with a message, before reading the file");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = cli(bad[i]);

		if (r != 2 || strstr(err, "gameday: ") == NULL || out[0] != '\0')
			TEST_FAIL("case %zu: exit %d, stderr \"%s\"", i, r, err);
	}

	TEST_START("preview: the largest --count and --seed are accepted");
	example("network-latency-sla.json", pb);
	ASSERT_INT_EQ(cli((const char *[]){ "schedule", "preview", pb, "--from",
	    "2026-10-19T00:00:00Z", "--count", "1000", "--seed", "18446744073709551615", NULL }),
	    0);
	{
		size_t lines = 0;

		for (const char *p = out; *p != '\0'; p++)
			lines += *p == '\n';
		ASSERT_INT_EQ(lines, 1001);	/* The header and 1,000 starts. */
	}

	TEST_START("gameday --help lists schedule preview");
	ASSERT_INT_EQ(cli((const char *[]){ "--help", NULL }), 0);
	ASSERT_TRUE(strstr(out, "schedule preview FILE --from RFC3339 --count N") != NULL);
}

int
main(void)
{
	cli_bin = h_bin("GD_CLI_BIN", "gameday");
	src_dir = h_bin("GD_SOURCE_DIR", ".");
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/gd-preview-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_weekly_dst();
	test_chaos_monkey();
	test_failures();
	test_usage();
	h_rmtree(tmpdir);
	return test_done();
}
