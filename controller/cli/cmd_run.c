/* gameday run start|list|show|watch|approve: runs of playbooks on the controller. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "cli.h"
#include "client.h"
#include "log.h"
#include "parse.h"
#include "strbuf.h"
#include "timeutil.h"

/* run watch: the long-poll asks for this many seconds, and allows this much on top. */
#define WATCH_WAIT_S		20
/* ... or this many while the run has probe values to show. */
#define WATCH_PROBE_WAIT_S	2
#define WATCH_SLACK_S		30
/* A poll that brought nothing new sooner than this is followed by a pause (no busy loop). */
#define WATCH_MIN_POLL_MS	1000
/* Hosts the live fault summary lists one by one; beyond, it counts them. */
#define WATCH_MAX_HOSTS		20
/* Pages of events read after the end, to print what the last poll did not bring. */
#define WATCH_MAX_DRAIN		100
/* Longest path we build: a route, an id of 64 bytes and a short query. */
#define PATH_LEN		256

static int
run_start(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'd' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL;
	cJSON *body = NULL, *reply = NULL;
	const cJSON *id;
	bool dry_run = false;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'd')
			dry_run = true;
		else if (c == 'r')
			reason = optarg;
		else
			return cli_bad_option("run start", c, argv);
	}
	if (argc - optind != 1 || argv[optind][0] == '\0')
		return cli_usage_error("usage: gameday run start NAME [--dry-run] --reason TEXT");
	if (reason == NULL || reason[0] == '\0')
		return cli_usage_error("run start: --reason TEXT is required: say why this run "
		    "happens (it goes into the audit log)");
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "playbook", argv[optind]) == NULL ||
	    cJSON_AddStringToObject(body, "reason", reason) == NULL ||
	    cJSON_AddBoolToObject(body, "dry_run", dry_run) == NULL) {
		cJSON_Delete(body);
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	r = client_post(cli, "/v1/runs", body, &reply, NULL);
	cJSON_Delete(body);
	if (r != CLI_OK)
		return r;
	id = cli_get(reply, "id");
	if (cJSON_IsString(id) && id->valuestring[0] != '\0') {
		cli_put(stdout, id->valuestring, false);
		(void)putchar('\n');
	} else {
		(void)fputs("gameday: the controller's reply has no run id\n", stderr);
		r = CLI_FAILED;
	}
	cJSON_Delete(reply);
	return r;
}

static int
run_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const header[] = {
		"ID", "PLAYBOOK", "ENVIRONMENT", "STATE", "DRY-RUN", "REQUESTED-BY", "CREATED",
	};
	char path[PATH_LEN] = "/v1/runs";
	const char *why = NULL;
	struct table *t = NULL;
	cJSON *reply = NULL;
	const cJSON *run;
	uint64_t limit;
	bool json = false;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'l') {
			if (parse_uint(optarg, 1, 100000, &limit, &why) < 0)
				return cli_usage_error("run list: --limit '%s': %s (1..100000)",
				    log_esc(optarg), why != NULL ? why : "not a number");
			(void)snprintf(path, sizeof(path), "/v1/runs?limit=%llu",
			    (unsigned long long)limit);
		} else {
			return cli_bad_option("run list", c, argv);
		}
	}
	if (argc - optind != 0)
		return cli_usage_error("usage: gameday run list [--json] [--limit N]");
	if ((r = client_get(cli, path, 0, &reply)) != CLI_OK)
		return r;
	if (json) {
		r = cli_print_json(reply, true);
		goto out;
	}
	r = CLI_FAILED;
	if ((t = table_new(7, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		goto out;
	}
	cJSON_ArrayForEach(run, cli_array(reply, "runs")) {
		table_add(t, (const char *const[]){ cli_str(run, "id"), cli_str(run, "playbook"),
		    cli_str(run, "environment"), cli_str(run, "state"), cli_bool(run, "dry_run"),
		    cli_str(run, "requested_by"), cli_str(run, "created") });
	}
	r = table_print(t, stdout);
out:
	table_free(t);
	cJSON_Delete(reply);
	return r;
}

/* "key           value" with the value escaped; any JSON type shows as text. */
static void
show_field(const char *key, const cJSON *v)
{
	char num[CLI_NUM_LEN], *text = NULL;
	const char *s = "-";

	if (cJSON_IsString(v))
		s = v->valuestring;
	else if (cJSON_IsNumber(v))
		s = cli_num_text(v, num);
	else if (cJSON_IsBool(v))
		s = cJSON_IsTrue(v) ? "yes" : "no";
	else if (cJSON_IsObject(v) || cJSON_IsArray(v))
		s = (text = cJSON_PrintUnformatted(v)) != NULL ? text : "(out of memory)";
	(void)printf("%-13s ", key);
	cli_put(stdout, s, false);
	(void)putchar('\n');
	gd_free(text);
}

/* Multi-line text from the controller, each line indented and escaped. */
static void
put_indented(const char *text, const char *indent)
{
	const char *p = text, *nl;
	char *line;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		if ((line = gd_strndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p))) == NULL) {
			(void)fputs("gameday: out of memory\n", stderr);
			return;
		}
		(void)fputs(indent, stdout);
		cli_put(stdout, line, true);
		(void)putchar('\n');
		gd_free(line);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static void
show_fault_rows(struct table *t, const cJSON *target)
{
	static const char *const none[] = { "-", "-", "-", "-", "-", "-" };
	const cJSON *faults = cli_array(target, "faults"), *f;
	const char *host = cli_str(target, "host");

	if (cJSON_GetArraySize(faults) == 0) {
		table_add(t, (const char *const[]){ host, none[0], none[1], none[2], none[3],
		    none[4], none[5] });
		return;
	}
	cJSON_ArrayForEach(f, faults) {
		char idx[CLI_NUM_LEN];

		table_add(t, (const char *const[]){ host, cli_num(f, "index", idx),
		    cli_str(f, "type"), cli_str(f, "state"), cli_str(f, "order"),
		    cli_str(f, "fault_id"), cli_str(f, "error") });
	}
}

/* A measured value as text: "123 ms" for latency stats, "99.50%" for rates, else "%g". */
static void
value_text(const cJSON *v, const char *sla, char *buf, size_t len)
{
	const char *dot = strchr(sla, '.');

	if (!cJSON_IsNumber(v))
		(void)snprintf(buf, len, "no value");
	else if (dot != NULL && (strncmp(dot, ".error_rate", 11) == 0 ||
	    strncmp(dot, ".availability", 13) == 0))
		(void)snprintf(buf, len, "%.2f%%", v->valuedouble);
	else if (dot != NULL && strncmp(dot, ".tp", 3) == 0)
		(void)snprintf(buf, len, "%.0f ms", v->valuedouble);
	else
		(void)snprintf(buf, len, "%g", v->valuedouble);
}

/*
 * The SLA guard's view of a run (docs/api.md "steady_state"): each probe's last sample,
 * each SLA's last evaluation, availability during the run, and the abort's figures.
 */
static void
steady_state_text(struct strbuf *b, const cJSON *ss, const char *indent)
{
	const cJSON *p, *s, *a, *f = cli_get(ss, "figures");
	char num[CLI_NUM_LEN], val[64];
	char *e1, *e2;

	cJSON_ArrayForEach(p, cli_array(ss, "probes")) {
		const cJSON *v = cli_get(p, "value");

		e1 = cli_esc_dup(cli_str(p, "probe"), NULL);
		e2 = cli_esc_dup(cli_str(p, "error"), NULL);
		if (e1 == NULL || e2 == NULL) {
			b->r = -ENOMEM;
		} else {
			(void)snprintf(val, sizeof(val), cJSON_IsNumber(v) ? "%.4g" : "-",
			    cJSON_IsNumber(v) ? v->valuedouble : 0.0);
			strbuf_addf(b, "%sprobe %s: %s, last value %s (%s samples, ", indent, e1,
			    cJSON_IsTrue(cli_get(p, "ok")) ? "ok" : "error", val,
			    cli_num(p, "samples", num));
			strbuf_addf(b, "%s errors)%s%s\n", cli_num(p, "errors", num),
			    strcmp(e2, "-") != 0 ? ": " : "", strcmp(e2, "-") != 0 ? e2 : "");
		}
		gd_free(e1);
		gd_free(e2);
	}
	cJSON_ArrayForEach(s, cli_array(ss, "slas")) {
		e1 = cli_esc_dup(cli_str(s, "sla"), NULL);
		if (e1 == NULL) {
			b->r = -ENOMEM;
			continue;
		}
		value_text(cli_get(s, "value"), e1, val, sizeof(val));
		strbuf_addf(b, "%ssla %s: %s, %s (breaches in a row %s, ", indent, e1,
		    cJSON_IsTrue(cli_get(s, "holds")) ? "holds" : "BREACHED", val,
		    cli_num(s, "streak", num));
		strbuf_addf(b, "%s of ", cli_num(s, "breaches", num));
		strbuf_addf(b, "%s evaluations breached)\n", cli_num(s, "evaluations", num));
		gd_free(e1);
	}
	cJSON_ArrayForEach(a, cli_array(ss, "availability")) {
		const cJSON *av = cli_get(a, "availability_percent"), *n = cli_get(a, "nines");

		if ((e1 = cli_esc_dup(cli_str(a, "probe"), NULL)) == NULL) {
			b->r = -ENOMEM;
			continue;
		}
		if (cJSON_IsNumber(n))
			(void)snprintf(val, sizeof(val), "%.2f nines", n->valuedouble);
		else
			(void)snprintf(val, sizeof(val), "no failed sample");
		strbuf_addf(b, "%savailability of %s during the run: %.3f%% (%s)\n", indent, e1,
		    cJSON_IsNumber(av) ? av->valuedouble : 0.0, val);
		gd_free(e1);
	}
	if (cJSON_IsNumber(cli_get(f, "faults_to_abort_ms")))
		strbuf_addf(b, "%sfaults in place to abort: %s ms\n", indent,
		    cli_num(f, "faults_to_abort_ms", num));
	if (cJSON_IsNumber(cli_get(f, "breach_to_abort_ms")))
		strbuf_addf(b, "%sfirst breach to abort: %s ms\n", indent,
		    cli_num(f, "breach_to_abort_ms", num));
	if (cJSON_IsNumber(cli_get(f, "abort_to_reverted_ms")))
		strbuf_addf(b, "%sabort to last verified revert: %s ms\n", indent,
		    cli_num(f, "abort_to_reverted_ms", num));
}

/* A rehearsal's figures against its targets (docs/api.md "rehearsal"). */
static void
rehearsal_text(struct strbuf *b, const cJSON *rh)
{
	static const struct { const char *label, *key, *target; } rows[] = {
		{ "time to detect", "time_to_detect_ms", "detect_within_ms" },
		{ "time to recover", "time_to_recover_ms", "recover_within_ms" },
		{ "time to recover (probes)", "time_to_recover_probes_ms", "recover_within_ms" },
	};
	char num[CLI_NUM_LEN], tgt[CLI_NUM_LEN], *t;
	const cJSON *s;

	if (!cJSON_IsObject(rh))
		return;
	strbuf_addf(b, "rehearsal: %s\n", cJSON_IsTrue(cli_get(rh, "missed")) ? "MISSED" :
	    cJSON_IsString(cli_get(rh, "outcome")) ? cli_str(rh, "outcome") : "in progress");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		strbuf_addf(b, "  %s: %s ms (target %s ms)\n", rows[i].label,
		    cli_num(rh, rows[i].key, num), cli_num(rh, rows[i].target, tgt));
	cJSON_ArrayForEach(s, cli_array(rh, "steps")) {
		if ((t = cli_esc_dup(cli_str(s, "text"), NULL)) == NULL) {
			b->r = -ENOMEM;
			return;
		}
		strbuf_addf(b, "  step %s: %s (", cli_num(s, "step", num), t);
		strbuf_addf(b, "%s)\n", cJSON_IsString(cli_get(s, "done_at")) ?
		    cli_str(s, "done_at") : "not done");
		gd_free(t);
	}
}

/* The human form of a run object (docs/api.md "run"). */
static int
show_run(const cJSON *run)
{
	static const struct { const char *label, *key; } fields[] = {
		{ "id", "id" }, { "playbook", "playbook" }, { "revision", "revision" },
		{ "environment", "environment" }, { "state", "state" }, { "dry run", "dry_run" },
		{ "reason", "reason" }, { "requested by", "requested_by" },
		{ "approved by", "approved_by" }, { "created", "created" },
		{ "started", "started" }, { "ends", "ends" }, { "ended", "ended" },
		{ "outcome", "outcome" },
	};
	static const char *const header[] = {
		"HOST", "FAULT", "TYPE", "STATE", "ORDER", "FAULT-ID", "ERROR",
	};
	const cJSON *targets = cli_array(run, "targets"), *target, *plan;
	struct table *t;
	int r;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		show_field(fields[i].label, cli_get(run, fields[i].key));
	(void)putchar('\n');
	{
		struct strbuf b = { 0 };
		char *text;

		steady_state_text(&b, cli_get(run, "steady_state"), "");
		rehearsal_text(&b, cli_get(run, "rehearsal"));
		if (strbuf_finish(&b, &text) == 0) {
			if (text[0] != '\0')
				(void)printf("%s\n", text);
			gd_free(text);
		}
	}
	if (cJSON_GetArraySize(targets) == 0) {
		(void)puts("no targets");
		return CLI_OK;
	}
	if ((t = table_new(7, header)) == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	cJSON_ArrayForEach(target, targets)
		show_fault_rows(t, target);
	r = table_print(t, stdout);
	table_free(t);
	cJSON_ArrayForEach(target, targets) {
		plan = cli_get(target, "plan");
		if (!cJSON_IsString(plan))
			continue;
		(void)fputs("\nplan for ", stdout);
		cli_put(stdout, cli_str(target, "host"), false);
		(void)puts(":");
		put_indented(plan->valuestring, "    ");
	}
	return r;
}

/* GET /v1/runs/{id}. */
static int
fetch_run(struct cli *cli, const char *id, cJSON **ret)
{
	char path[PATH_LEN];

	(void)snprintf(path, sizeof(path), "/v1/runs/%s", id);
	return client_get(cli, path, 0, ret);
}

static int
run_show(struct cli *cli, int argc, char **argv)
{
	cJSON *run = NULL;
	bool json;
	int r;

	if ((r = cli_json_flag("run show", argc, argv, &json)) != CLI_OK)
		return r;
	if (argc - optind != 1)
		return cli_usage_error("usage: gameday run show [--json] ID");
	if (!cli_check_id("a run id", argv[optind]))
		return CLI_USAGE;
	if ((r = fetch_run(cli, argv[optind], &run)) != CLI_OK)
		return r;
	r = json ? cli_print_json(run, true) : show_run(run);
	cJSON_Delete(run);
	return r;
}

static int
run_approve(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	char path[PATH_LEN];
	cJSON *reply = NULL;
	int c, r;

	optind = 0;
	opterr = 0;
	if ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		return cli_bad_option("run approve", c, argv);
	if (argc - optind != 1)
		return cli_usage_error("usage: gameday run approve ID");
	if (!cli_check_id("a run id", argv[optind]))
		return CLI_USAGE;
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/approve", argv[optind]);
	if ((r = client_post(cli, path, NULL, &reply, NULL)) != CLI_OK)
		return r;
	(void)printf("approved %s, state ", argv[optind]);
	cli_put(stdout, cli_str(reply, "state"), false);
	(void)putchar('\n');
	cJSON_Delete(reply);
	return CLI_OK;
}

/* run watch */

struct watch {
	struct cli *cli;
	const char *id;		/* Checked by cli_check_id(). */
	bool json;
	int64_t after;		/* The highest event seq seen. */
	char *summary;		/* The fault summary printed last (escaped). */
	bool headed;		/* The first line, about the run, is out. */
	bool probes;		/* The run has probe values: refresh them every few seconds. */
};

/* 0: the run goes on; else the exit code of a run that ended in this state. */
static int
end_code(const char *state, bool *ret_ended)
{
	static const char *const ok[] = { "completed", "aborted", "halted" };

	*ret_ended = true;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(state, ok[i]) == 0)
			return CLI_OK;
	if (strcmp(state, "failed") == 0)
		return CLI_FAILED;
	*ret_ended = false;
	return CLI_OK;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* "TIME KIND [HOST] [STATE] [by ACTOR][: REASON]", escaped. */
static void
print_event(const cJSON *ev)
{
	static const char *const keys[] = { "time", "kind", "host", "state" };
	const char *reason = cli_str(ev, "reason"), *actor = cli_str(ev, "actor");
	bool first = true;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = cli_str(ev, keys[i]);

		if (strcmp(v, "-") == 0 && i >= 2)
			continue;	/* Host and state are often absent; time and kind never. */
		if (!first)
			(void)putchar(' ');
		cli_put(stdout, v, false);
		first = false;
	}
	if (strcmp(actor, "-") != 0) {
		(void)fputs(" by ", stdout);
		cli_put(stdout, actor, false);
	}
	if (strcmp(reason, "-") != 0) {
		(void)fputs(": ", stdout);
		cli_put(stdout, reason, false);
	}
	(void)putchar('\n');
}

/*
 * One GET .../events?after=SEQ&wait=W: prints the events past w->after and moves it on.
 * *ret_new counts them.  Returns an exit code.
 */
static int
poll_events(struct watch *w, int wait_s, size_t *ret_new)
{
	char path[PATH_LEN];
	cJSON *reply = NULL;
	const cJSON *ev;
	int64_t seq;
	int r = CLI_OK;

	*ret_new = 0;
	(void)snprintf(path, sizeof(path), "/v1/runs/%s/events?after=%lld&wait=%d", w->id,
	    (long long)w->after, wait_s);
	if ((r = client_get(w->cli, path, wait_s + WATCH_SLACK_S, &reply)) != CLI_OK)
		return r;
	cJSON_ArrayForEach(ev, cli_array(reply, "events")) {
		/* Events without a seq past ours cannot be placed: a second copy, or garbage. */
		if (!cli_int(ev, "seq", &seq) || seq <= w->after)
			continue;
		w->after = seq;
		(*ret_new)++;
		if (w->json)
			r = cli_print_json(ev, false);
		else
			print_event(ev);
		if (r != CLI_OK)
			break;
	}
	(void)fflush(stdout);
	cJSON_Delete(reply);
	return r;
}

/* One host's faults: "  HOST  TYPE STATE[ (ERROR)], ..." */
static void
summary_host(struct strbuf *b, const cJSON *target)
{
	const cJSON *f;
	char *s;
	bool first = true;

	if ((s = cli_esc_dup(cli_str(target, "host"), NULL)) == NULL) {
		b->r = -ENOMEM;
		return;
	}
	strbuf_addf(b, "  %s ", s);
	gd_free(s);
	cJSON_ArrayForEach(f, cli_array(target, "faults")) {
		char *type = cli_esc_dup(cli_str(f, "type"), NULL);
		char *state = cli_esc_dup(cli_str(f, "state"), NULL);
		char *error = cli_esc_dup(cli_str(f, "error"), NULL);

		if (type == NULL || state == NULL || error == NULL)
			b->r = -ENOMEM;
		else if (strcmp(error, "-") == 0)
			strbuf_addf(b, "%s %s %s", first ? "" : ",", type, state);
		else
			strbuf_addf(b, "%s %s %s (%s)", first ? "" : ",", type, state, error);
		first = false;
		gd_free(type);
		gd_free(state);
		gd_free(error);
	}
	if (first)
		strbuf_addf(b, " no faults");
	strbuf_addf(b, "\n");
}

/* Prints the per-host fault summary of run when it differs from the last one. */
static int
print_summary(struct watch *w, const cJSON *run)
{
	struct strbuf b = { 0 };
	const cJSON *target;
	size_t n = 0;
	char *text;

	cJSON_ArrayForEach(target, cli_array(run, "targets")) {
		if (++n <= WATCH_MAX_HOSTS)
			summary_host(&b, target);
	}
	if (n > WATCH_MAX_HOSTS)
		strbuf_addf(&b, "  (%zu more hosts: gameday run show %s)\n", n - WATCH_MAX_HOSTS,
		    w->id);
	steady_state_text(&b, cli_get(run, "steady_state"), "  ");
	w->probes = cJSON_GetArraySize(cli_array(cli_get(run, "steady_state"), "probes")) > 0;
	if (strbuf_finish(&b, &text) < 0) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	if (text[0] == '\0' || (w->summary != NULL && strcmp(text, w->summary) == 0)) {
		gd_free(text);
		return CLI_OK;
	}
	(void)fputs(text, stdout);
	(void)fflush(stdout);
	gd_free(w->summary);
	w->summary = text;
	return CLI_OK;
}

/*
 * Fetches the run, prints its summary, and says whether it has ended (*ret_ended) and so
 * with which exit code (*ret_code).  Returns an exit code for the request itself.
 */
static int
check_run(struct watch *w, bool *ret_ended, int *ret_code, char state[64])
{
	cJSON *run = NULL;
	int r;

	if ((r = fetch_run(w->cli, w->id, &run)) != CLI_OK)
		return r;
	if (!cJSON_IsString(cli_get(run, "state"))) {
		/* Without a state the end cannot be seen: say so rather than watch forever. */
		(void)fputs("gameday: the controller's reply has no run state\n", stderr);
		cJSON_Delete(run);
		return CLI_FAILED;
	}
	(void)snprintf(state, 64, "%s", cli_str(run, "state"));
	*ret_code = end_code(state, ret_ended);
	if (!w->json && !w->headed) {
		(void)fputs("run ", stdout);
		cli_put(stdout, cli_str(run, "id"), false);
		(void)fputs(" of ", stdout);
		cli_put(stdout, cli_str(run, "playbook"), false);
		(void)printf("%s, state ",
		    cJSON_IsTrue(cli_get(run, "dry_run")) ? " (dry run)" : "");
		cli_put(stdout, state, false);
		(void)putchar('\n');
		w->headed = true;
	}
	if (!w->json)
		r = print_summary(w, run);
	cJSON_Delete(run);
	return r;
}

static int
watch_loop(struct watch *w)
{
	char state[64];
	int64_t t0;
	bool ended;
	size_t n;
	int r, code;

	if ((r = check_run(w, &ended, &code, state)) != CLI_OK)
		return r;
	while (!ended) {
		t0 = gd_mono_ms();
		if ((r = poll_events(w, w->probes ? WATCH_PROBE_WAIT_S : WATCH_WAIT_S, &n)) !=
		    CLI_OK)
			return r;
		if ((r = check_run(w, &ended, &code, state)) != CLI_OK)
			return r;
		if (!ended && n == 0 && gd_mono_ms() - t0 < WATCH_MIN_POLL_MS)
			sleep_ms(WATCH_MIN_POLL_MS);
	}
	/* The run has ended: print the events the last poll did not bring. */
	for (int i = 0; i < WATCH_MAX_DRAIN; i++) {
		if ((r = poll_events(w, 0, &n)) != CLI_OK)
			return r;
		if (n == 0)
			break;
	}
	if (!w->json) {
		(void)printf("run %s ended: ", w->id);
		cli_put(stdout, state, false);
		(void)putchar('\n');
	}
	return code;
}

static int
run_watch(struct cli *cli, int argc, char **argv)
{
	struct watch w = { .cli = cli };
	int r;

	if ((r = cli_json_flag("run watch", argc, argv, &w.json)) != CLI_OK)
		return r;
	if (argc - optind != 1)
		return cli_usage_error("usage: gameday run watch [--json] ID");
	if (!cli_check_id("a run id", argv[optind]))
		return CLI_USAGE;
	w.id = argv[optind];
	r = watch_loop(&w);
	gd_free(w.summary);
	return r;
}

int
cmd_run(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} subs[] = {
		{ "start", run_start }, { "list", run_list }, { "show", run_show },
		{ "watch", run_watch }, { "approve", run_approve },
	};

	if (argc < 2)
		return cli_usage_error("usage: gameday run start|list|show|watch|approve ...");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(cli, argc - 1, argv + 1);
	return cli_usage_error("run: unknown subcommand '%s' (start, list, show, watch, approve)",
	    log_esc(argv[1]));
}
