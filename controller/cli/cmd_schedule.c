/*
 * gameday schedule preview FILE --from RFC3339 --count N [--seed S] [--json]: offline, the
 * next N starts of a playbook's schedule (common/calendar.h computes them; docs/scheduling.md
 * describes the output).  Each start comes with the end of the window occurrence it is in.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "calendar.h"
#include "cli.h"
#include "client.h"
#include "err.h"
#include "limits.h"
#include "log.h"
#include "parse.h"
#include "playbook.h"
#include "schedule.h"
#include "tz.h"

#define PREVIEW_MAX	1000
#define PREVIEW_USAGE	"usage: gameday schedule preview FILE --from RFC3339 --count N " \
			"[--seed S] [--json]"

struct preview {
	const char *path;
	int64_t from_ms;
	uint64_t count, seed;
	bool json, has_seed;	/* Without --seed: the controller's (calendar_seed()). */
};

static int
preview_args(int argc, char **argv, struct preview *ret)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct preview p = { NULL, -1, 0, 0, false, false };
	const char *why = NULL;
	int64_t from;
	int c;

	optind = 0;	/* 0, not 1: glibc re-reads the option string, dropping main's "+". */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (rfc3339_parse(optarg, &from, &why) < 0)
				return cli_usage_error("schedule preview: --from '%s': %s",
				    log_esc(optarg), why);
			if (from < CAL_MIN_MS / 1000 || from >= CAL_MAX_MS / 1000)
				return cli_usage_error("schedule preview: --from '%s': not between "
				    "1970 and 9989", log_esc(optarg));
			p.from_ms = from * 1000;
			break;
		case 'n':
			if (parse_uint(optarg, 1, PREVIEW_MAX, &p.count, &why) < 0)
				return cli_usage_error("schedule preview: --count '%s': %s (1..%d)",
				    log_esc(optarg), why, PREVIEW_MAX);
			break;
		case 's':
			if (parse_uint(optarg, 0, UINT64_MAX, &p.seed, &why) < 0)
				return cli_usage_error("schedule preview: --seed '%s': %s "
				    "(0..18446744073709551615)", log_esc(optarg), why);
			p.has_seed = true;
			break;
		case 'j':
			p.json = true;
			break;
		default:
			return cli_bad_option("schedule preview", c, argv);
		}
	}
	if (argc - optind != 1 || p.from_ms < 0 || p.count == 0)
		return cli_usage_error(PREVIEW_USAGE);
	p.path = argv[optind];
	*ret = p;
	return CLI_OK;
}

/*
 * Reads and validates path; prints the problems as `playbook validate` does.  On success the
 * caller owns *ret (playbook_free()).
 */
static int
preview_load(const char *path, struct playbook **ret)
{
	static struct gd_err err;	/* ~40 KiB: too large for a comfortable stack frame. */
	char *buf = NULL;
	size_t len = 0;
	int r;

	gd_err_init(&err);
	if ((r = cli_read_file(path, GD_MAX_PLAYBOOK_BYTES, &buf, &len)) < 0) {
		if (r == -EFBIG)
			(void)fprintf(stderr, "(root): the file is larger than the limit of "
			    "%d bytes\n", GD_MAX_PLAYBOOK_BYTES);
		return r;
	}
	r = playbook_parse(buf, len, ret, &err);
	gd_free(buf);
	if (r < 0) {
		for (size_t i = 0; i < err.n; i++)
			(void)fprintf(stderr, "%s: %s\n", err.items[i].path, err.items[i].msg);
		if (err.dropped > 0)
			(void)fprintf(stderr, "(root): %zu more problems not shown\n", err.dropped);
	}
	return r;
}

/* "10:00" for second of day 36000; "24:00" for an end at the next local midnight. */
static void
hhmm(const struct gd_date *d, int sec, const struct gd_date *start_day, char buf[8])
{
	if (start_day != NULL && date_compare(d, start_day) > 0 && sec == 0)
		sec = 86400;
	(void)snprintf(buf, 8, "%02d:%02d", sec / 3600 % 100, sec / 60 % 60);
}

/* One human line: the start and window end in UTC, the start and window in local time. */
static void
preview_row(struct table *t, const struct calendar *cal, const struct cal_window *run,
    const char *zone)
{
	const struct gd_tz *tz = calendar_tz(cal);
	struct cal_window w = *run;
	char start[32], end[32], local[48], window[96], from[8], to[8];
	struct gd_date d, wd, ed;
	int sec, wsec, esec;

	/* The occurrence the start is in: a random start is not at the window's start. */
	if (!calendar_open_at(cal, run->start_ms, &w))
		w = *run;
	rfc3339_format(run->start_ms / 1000, start, sizeof(start));
	rfc3339_format(run->end_ms / 1000, end, sizeof(end));
	tz_utc_to_local(tz, run->start_ms / 1000, &d, &sec);
	tz_utc_to_local(tz, w.start_ms / 1000, &wd, &wsec);
	tz_utc_to_local(tz, run->end_ms / 1000, &ed, &esec);
	(void)snprintf(local, sizeof(local), "%s %04d-%02d-%02d %02d:%02d:%02d",
	    schedule_day_name(date_weekday(&d)), d.year, d.month, d.day, sec / 3600,
	    sec / 60 % 60, sec % 60);
	local[0] = (char)(local[0] - 'a' + 'A');
	hhmm(&wd, wsec, NULL, from);
	hhmm(&ed, esec, &wd, to);
	(void)snprintf(window, sizeof(window), "%s-%s %s", from, to, zone);
	table_add(t, (const char *const[]){ start, end, local, window });
}

/* The starts as a JSON array, one object per line (the contract of DESIGN §4). */
static void
preview_json(const struct cal_window *w, size_t n)
{
	char start[32], end[32];

	if (n == 0) {
		(void)puts("[]");
		return;
	}
	(void)puts("[");
	for (size_t i = 0; i < n; i++) {
		rfc3339_format(w[i].start_ms / 1000, start, sizeof(start));
		rfc3339_format(w[i].end_ms / 1000, end, sizeof(end));
		(void)printf("  {\"start\": \"%s\", \"end\": \"%s\"}%s\n", start, end,
		    i + 1 < n ? "," : "");
	}
	(void)puts("]");
}

static int
preview_print(const struct preview *p, const struct calendar *cal, const char *zone,
    const struct cal_window *w, size_t n)
{
	static const char *const header[] = { "START", "WINDOW-END", "LOCAL-START", "WINDOW" };
	struct table *t;
	int r;

	if (p->json) {
		preview_json(w, n);
		return CLI_OK;
	}
	if ((t = table_new(4, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	for (size_t i = 0; i < n; i++)
		preview_row(t, cal, &w[i], zone);
	r = table_print(t, stdout);
	table_free(t);
	return r;
}

static int
schedule_preview(int argc, char **argv)
{
	struct playbook *pb = NULL;
	struct calendar *cal = NULL;
	struct cal_window *w = NULL;
	const char *why = NULL, *zone;
	struct preview p = { NULL, 0, 0, 0, false, false };
	int64_t after, last = 0;
	char from[32];
	size_t n = 0;
	int r;

	if ((r = preview_args(argc, argv, &p)) != CLI_OK)
		return r;
	if (preview_load(p.path, &pb) < 0)
		return CLI_FAILED;
	r = CLI_FAILED;
	if (!pb->has_schedule) {
		(void)fprintf(stderr, "gameday: '%s' has no schedule: it runs only when someone "
		    "starts it (gameday run start)\n", log_esc(p.path));
		goto out;
	}
	zone = pb->schedule.timezone != NULL ? pb->schedule.timezone : "UTC";
	if (!p.has_seed)
		p.seed = calendar_seed(pb->name);
	if (calendar_new(&pb->schedule, &cal, &why) < 0) {
		(void)fprintf(stderr, "schedule: %s\n", why);
		goto out;
	}
	if ((w = gd_calloc(p.count, sizeof(*w))) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		goto out;
	}
	/* --from itself is a possible start: ask for starts after the millisecond before it. */
	after = p.from_ms > 0 ? p.from_ms - 1 : 0;
	while (n < p.count && calendar_next_start(cal, after, last, pb->duration_ms, p.seed,
	    &w[n]) == 0) {
		after = last = w[n++].start_ms;
	}
	if (n < p.count) {
		rfc3339_format((n == 0 ? p.from_ms : after) / 1000, from, sizeof(from));
		(void)fprintf(stderr, "gameday: %s %s %s in the %d days that follow (windows "
		    "too short for the duration, or blacked out?)\n", n == 0 ? "no start" :
		    "no further start", n == 0 ? "from" : "after", from, CAL_HORIZON_DAYS);
	}
	if ((r = preview_print(&p, cal, zone, w, n)) == CLI_OK && n == 0)
		r = CLI_FAILED;
out:
	gd_free(w);
	calendar_free(cal);
	playbook_free(pb);
	return r;
}

/* gameday schedule list [--json]: the controller's plan (GET /v1/schedules). */
static int
schedule_list(struct cli *cli, int argc, char **argv)
{
	static const char *const header[] = { "PLAYBOOK", "NEXT-START", "WINDOW-END", "NEXT-RUN",
	    "LAST-START" };
	struct table *t;
	cJSON *reply = NULL;
	const cJSON *s;
	bool json;
	int r;

	if ((r = cli_json_flag("schedule list", argc, argv, &json)) != CLI_OK)
		return r;
	if (argc - optind != 0)
		return cli_usage_error("usage: gameday schedule list [--json]");
	if ((r = client_get(cli, "/v1/schedules", 0, &reply)) != CLI_OK)
		return r;
	if (json) {
		r = cli_print_json(reply, true);
	} else if ((t = table_new(5, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		r = CLI_FAILED;
	} else {
		cJSON_ArrayForEach(s, cli_array(reply, "schedules"))
			table_add(t, (const char *const[]){ cli_str(s, "playbook"),
			    cli_str(s, "next_start"), cli_str(s, "next_window_end"),
			    cli_str(s, "next_run"), cli_str(s, "last_start") });
		r = table_print(t, stdout);
		table_free(t);
	}
	cJSON_Delete(reply);
	return r;
}

int
cmd_schedule(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(PREVIEW_USAGE);
	if (strcmp(argv[1], "preview") == 0)
		return schedule_preview(argc - 1, argv + 1);	/* Offline. */
	if (strcmp(argv[1], "list") == 0)
		return schedule_list(cli, argc - 1, argv + 1);
	return cli_usage_error("schedule: unknown subcommand '%s' (preview, list)",
	    log_esc(argv[1]));
}
