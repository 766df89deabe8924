#include "playbook.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "json.h"
#include "schedule.h"

static const char *const keys_top[] = { "apiVersion", "name", "description", "owner",
	"environment", "tier", "risk", "recovery_plan", "targets", "faults", "duration",
	"steady_state", "guardrails", "schedule", "rehearsal", NULL };
static const char *const keys_recovery[] = { "url", "steps", NULL };
static const char *const keys_targets[] = { "tags", "pick", NULL };
static const char *const keys_pick[] = { "count", "percent", NULL };
static const char *const keys_steady[] = { "probes", "sla", NULL };
static const char *const keys_http[] = { "name", "type", "url", "interval", "timeout",
	"expect_status", NULL };
static const char *const keys_prom[] = { "name", "type", "url", "query", "interval",
	"timeout", NULL };
static const char *const keys_guard[] = { "max_hosts", "max_percent", "breaches_to_abort",
	"require_approval", NULL };
static const char *const keys_rehearsal[] = { "page", "detect_within", "recover_within",
	NULL };
static const char *const env_names[ENV_MAX] = { "development", "test", "staging",
	"production" };

const char *
pb_environment_name(enum pb_environment e)
{
	return e < ENV_MAX ? env_names[e] : "?";
}

struct pb_parser {
	struct jctx c;
	struct playbook *pb;
};

static const char *
keep(struct pb_parser *p, const char *s)
{
	char *d = arena_strdup(p->pb->arena, s);

	if (d == NULL)
		p->c.oom = true;
	return d;
}

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* [a-z0-9][a-z0-9-]* — used in URLs, file names and metric labels. */
static bool
is_slug(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* A free-text string without control characters (newlines allowed where multiline). */
static const char *
text(struct pb_parser *p, const cJSON *obj, const char *key, bool required, size_t max,
    bool multiline)
{
	const char *s;

	if (!j_string(&p->c, obj, key, required, max, &s))
		return NULL;
	for (const char *q = s; *q != '\0'; q++) {
		unsigned char ch = (unsigned char)*q;

		if ((ch < 0x20 && !(multiline && (ch == '\n' || ch == '\t'))) || ch == 0x7f) {
			j_error(&p->c, key, "contains a control character");
			return NULL;
		}
	}
	return keep(p, s);
}

/* A URL value at key; NULL (error recorded) when it is not an http(s) URL. */
static const char *
url_value(struct pb_parser *p, const cJSON *obj, const char *key, bool required)
{
	const char *s, *why = NULL;
	int r;

	if (!j_string(&p->c, obj, key, required, GD_MAX_URL_BYTES, &s))
		return NULL;
	if ((r = url_check(s, &why)) == -ENOMEM) {
		p->c.oom = true;
		return NULL;
	}
	if (r < 0) {
		j_error(&p->c, key, "%s: %s", j_quote(s), why);
		return NULL;
	}
	return keep(p, s);
}

static void
parse_identity(struct pb_parser *p, const cJSON *root)
{
	struct playbook *pb = p->pb;
	const char *s;
	int64_t tier;

	if (j_string(&p->c, root, "apiVersion", true, 64, &s) &&
	    strcmp(s, PLAYBOOK_API_VERSION) != 0)
		j_error(&p->c, "apiVersion", "%s is not supported (expected \"%s\")", j_quote(s),
		    PLAYBOOK_API_VERSION);
	if (j_string(&p->c, root, "name", true, GD_MAX_NAME_BYTES, &s)) {
		if (!is_slug(s))
			j_error(&p->c, "name", "%s: use lowercase letters, digits and dashes, "
			    "starting with a letter or digit", j_quote(s));
		else
			pb->name = keep(p, s);
	}
	pb->description = text(p, root, "description", false, GD_MAX_STRING_BYTES, true);
	pb->owner = text(p, root, "owner", true, GD_MAX_SHORT_STRING_BYTES, false);
	pb->risk = text(p, root, "risk", false, GD_MAX_NAME_BYTES, false);
	if (j_string(&p->c, root, "environment", true, 32, &s)) {
		int e;

		for (e = 0; e < ENV_MAX; e++)
			if (strcmp(s, env_names[e]) == 0)
				break;
		if (e == ENV_MAX)
			j_error(&p->c, "environment", "%s is not one of development, test, staging, "
			    "production", j_quote(s));
		else
			pb->environment = (enum pb_environment)e;
	}
	if (j_int(&p->c, root, "tier", true, 1, 4, &tier))
		pb->tier = (int)tier;
	(void)j_duration(&p->c, root, "duration", true, GD_MIN_RUN_MS, GD_MAX_RUN_MS,
	    &pb->duration_ms);
}

static void
parse_recovery(struct pb_parser *p, const cJSON *root)
{
	const cJSON *node = j_get(root, "recovery_plan"), *arr, *it;
	size_t old, n, i = 0;

	if (node == NULL)
		return;
	old = jpath_push_key(&p->c, "recovery_plan");
	if (j_object(&p->c, node, keys_recovery)) {
		if (j_get(node, "url") == NULL && j_get(node, "steps") == NULL)
			j_error(&p->c, NULL, "give a url, steps, or both");
		p->pb->recovery_plan.url = url_value(p, node, "url", false);
		if ((arr = j_array(&p->c, node, "steps", false, 0, GD_MAX_STEPS, &n)) != NULL) {
			size_t o2 = jpath_push_key(&p->c, "steps");

			cJSON_ArrayForEach(it, arr) {
				size_t o3 = jpath_push_index(&p->c, i++);

				if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
				    strlen(it->valuestring) > GD_MAX_SHORT_STRING_BYTES ||
				    !printable(it->valuestring))
					j_error(&p->c, NULL, "a step is a non-empty line of text of at "
					    "most 256 bytes");
				else
					p->pb->recovery_plan.steps[p->pb->recovery_plan.nsteps++] =
					    keep(p, it->valuestring);
				jpath_pop(&p->c, o3);
			}
			jpath_pop(&p->c, o2);
		}
	}
	jpath_pop(&p->c, old);
}

static bool
tag_key_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("_.-/", *s) != NULL))
			return false;
	return true;
}

static void
parse_pick(struct pb_parser *p, const cJSON *targets)
{
	const cJSON *pick = j_get(targets, "pick");
	struct playbook *pb = p->pb;
	size_t old;
	int64_t v;

	pb->pick = PICK_COUNT;
	pb->pick_count = 1;
	if (pick == NULL)
		return;
	if (cJSON_IsString(pick)) {
		if (strcmp(pick->valuestring, "all") == 0)
			pb->pick = PICK_ALL;
		else
			j_error(&p->c, "pick", "%s: expected \"all\", {\"count\": N} or "
			    "{\"percent\": P}", j_quote(pick->valuestring));
		return;
	}
	old = jpath_push_key(&p->c, "pick");
	if (j_object(&p->c, pick, keys_pick)) {
		bool has_count = j_get(pick, "count") != NULL;

		if (has_count == (j_get(pick, "percent") != NULL)) {
			j_error(&p->c, NULL, "give exactly one of count, percent (or \"all\")");
		} else if (has_count) {
			if (j_int(&p->c, pick, "count", true, 1, GD_MAX_HOSTS_PER_RUN, &v))
				pb->pick_count = (uint32_t)v;
		} else {
			pb->pick = PICK_PERCENT;
			(void)j_number(&p->c, pick, "percent", true, 0.001, 100, &pb->pick_percent);
		}
	}
	jpath_pop(&p->c, old);
}

static void
parse_targets(struct pb_parser *p, const cJSON *root)
{
	const cJSON *node = j_get(root, "targets"), *tags, *it;
	size_t old;

	if (node == NULL) {
		j_error(&p->c, "targets", "is required");
		return;
	}
	old = jpath_push_key(&p->c, "targets");
	if (!j_object(&p->c, node, keys_targets))
		goto out;
	if ((tags = j_get(node, "tags")) == NULL) {
		j_error(&p->c, "tags", "is required (an object of tag: value; {} matches every "
		    "host)");
	} else {
		size_t o2 = jpath_push_key(&p->c, "tags");

		if (j_object(&p->c, tags, NULL)) {
			cJSON_ArrayForEach(it, tags) {
				if (p->pb->ntags == GD_MAX_TAGS) {
					j_error(&p->c, NULL, "more than %d tags", GD_MAX_TAGS);
					break;
				}
				if (it->string[0] == '\0' || strlen(it->string) > GD_MAX_NAME_BYTES ||
				    !tag_key_ok(it->string)) {
					j_error(&p->c, it->string, "a tag name is 1 to 64 letters, "
					    "digits and _ . - /");
					continue;
				}
				if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
				    strlen(it->valuestring) > GD_MAX_SHORT_STRING_BYTES ||
				    !printable(it->valuestring)) {
					j_error(&p->c, it->string, "a tag value is a non-empty string "
					    "of at most 256 printable bytes");
					continue;
				}
				p->pb->tags[p->pb->ntags].key = keep(p, it->string);
				p->pb->tags[p->pb->ntags++].value = keep(p, it->valuestring);
			}
		}
		jpath_pop(&p->c, o2);
	}
	parse_pick(p, node);
out:
	jpath_pop(&p->c, old);
}

static void
parse_faults(struct pb_parser *p, const cJSON *root)
{
	const cJSON *arr, *it;
	size_t n, i = 0, old;

	if ((arr = j_array(&p->c, root, "faults", true, 1, GD_MAX_FAULTS, &n)) == NULL)
		return;
	cJSON_ArrayForEach(it, arr) {
		old = jpath_push_key(&p->c, "faults");
		(void)jpath_push_index(&p->c, i++);
		if (fault_parse(&p->c, it, p->pb->arena, &p->pb->faults[p->pb->nfaults]))
			p->pb->nfaults++;
		jpath_pop(&p->c, old);
	}
}

static void
parse_expect_status(struct pb_parser *p, const cJSON *node, struct probe *pr)
{
	const cJSON *arr, *it;
	size_t n, i = 0, old;
	int64_t v;

	pr->expect_status[0] = 200;
	pr->nexpect = 1;
	if ((arr = j_array(&p->c, node, "expect_status", false, 1, GD_MAX_EXPECT_STATUS,
	    &n)) == NULL)
		return;
	pr->nexpect = 0;
	old = jpath_push_key(&p->c, "expect_status");
	cJSON_ArrayForEach(it, arr) {
		double d = it->valuedouble;
		size_t o2 = jpath_push_index(&p->c, i++);

		if (!cJSON_IsNumber(it) || !(d >= 100 && d <= 599) || d != floor(d)) {
			j_error(&p->c, NULL, "an HTTP status is a whole number from 100 to 599");
		} else {
			bool twice = false;

			v = (int64_t)d;
			for (size_t k = 0; k < pr->nexpect; k++)
				twice |= pr->expect_status[k] == (uint16_t)v;
			if (twice)
				j_error(&p->c, NULL, "status %d is listed twice", (int)v);
			else
				pr->expect_status[pr->nexpect++] = (uint16_t)v;
		}
		jpath_pop(&p->c, o2);
	}
	jpath_pop(&p->c, old);
}

static void
parse_probe(struct pb_parser *p, const cJSON *node, struct probe *pr)
{
	const char *s;
	bool prom;

	if (!cJSON_IsObject(node)) {
		j_error(&p->c, NULL, "expected a probe object, found %s", j_type_name(node));
		return;
	}
	if (!j_string(&p->c, node, "type", true, 32, &s))
		return;
	if (strcmp(s, "http") != 0 && strcmp(s, "prometheus") != 0) {
		j_error(&p->c, "type", "%s is not one of http, prometheus", j_quote(s));
		return;
	}
	prom = s[0] == 'p';
	pr->kind = prom ? PROBE_PROMETHEUS : PROBE_HTTP;
	(void)j_object(&p->c, node, prom ? keys_prom : keys_http);
	if (j_string(&p->c, node, "name", true, GD_MAX_NAME_BYTES, &s)) {
		bool ok = true;

		for (const char *q = s; *q != '\0'; q++)
			if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			    (*q >= '0' && *q <= '9') || *q == '_' || *q == '-'))
				ok = false;
		if (!ok)
			j_error(&p->c, "name", "%s: a probe name has only letters, digits, _ and -",
			    j_quote(s));
		else
			pr->name = keep(p, s);
	}
	pr->url = url_value(p, node, "url", true);
	pr->interval_ms = prom ? 5000 : 1000;
	if (j_get(node, "interval") != NULL)
		(void)j_duration(&p->c, node, "interval", false, GD_MIN_PROBE_INTERVAL_MS,
		    GD_MAX_PROBE_INTERVAL_MS, &pr->interval_ms);
	pr->timeout_ms = 2000;
	if (j_get(node, "timeout") != NULL)
		(void)j_duration(&p->c, node, "timeout", false, GD_MIN_PROBE_TIMEOUT_MS,
		    GD_MAX_PROBE_TIMEOUT_MS, &pr->timeout_ms);
	if (prom)
		pr->query = text(p, node, "query", true, GD_MAX_QUERY_BYTES, true);
	else
		parse_expect_status(p, node, pr);
}

static void
parse_sla(struct pb_parser *p, const cJSON *it)
{
	struct playbook *pb = p->pb;
	struct sla_rule *rule = &pb->slas[pb->nslas];
	const char *why = NULL;
	char win[32], iv[32];
	size_t k;

	if (!cJSON_IsString(it)) {
		j_error(&p->c, NULL, "expected an SLA string such as \"checkout.tp90 < 300ms "
		    "over 30s\", found %s", j_type_name(it));
		return;
	}
	if (strlen(it->valuestring) > GD_MAX_SHORT_STRING_BYTES) {
		j_error(&p->c, NULL, "longer than %d bytes", GD_MAX_SHORT_STRING_BYTES);
		return;
	}
	if (sla_parse(it->valuestring, &rule->expr, &why) < 0) {
		j_error(&p->c, NULL, "%s: %s", j_quote(it->valuestring), why);
		return;
	}
	for (k = 0; k < pb->nprobes; k++)
		if (pb->probes[k].name != NULL && strcmp(pb->probes[k].name, rule->expr.probe) == 0)
			break;
	if (k == pb->nprobes) {
		j_error(&p->c, NULL, "%s: no probe is named \"%s\"", j_quote(it->valuestring),
		    rule->expr.probe);
		return;
	}
	if (!sla_stat_applies(rule->expr.stat, pb->probes[k].kind)) {
		j_error(&p->c, NULL, "%s: a %s probe has no stat %s (%s)", j_quote(it->valuestring),
		    pb->probes[k].kind == PROBE_HTTP ? "http" : "prometheus",
		    sla_stat_name(rule->expr.stat), pb->probes[k].kind == PROBE_HTTP ?
		    "http probes have tp50 tp90 tp95 tp99 tpmax tpmin tpavg error_rate availability" :
		    "prometheus probes have value");
		return;
	}
	if (rule->expr.window_ms < pb->probes[k].interval_ms) {
		duration_format(rule->expr.window_ms, win, sizeof(win));
		duration_format(pb->probes[k].interval_ms, iv, sizeof(iv));
		j_error(&p->c, NULL, "%s: the window (%s) is shorter than the interval of probe "
		    "\"%s\" (%s), so it may hold no sample", j_quote(it->valuestring), win,
		    pb->probes[k].name, iv);
		return;
	}
	rule->probe = k;
	rule->text = keep(p, it->valuestring);
	pb->nslas++;
}

static void
parse_steady(struct pb_parser *p, const cJSON *root)
{
	const cJSON *node = j_get(root, "steady_state"), *arr, *it;
	struct playbook *pb = p->pb;
	size_t old, n, i = 0;

	if (node == NULL)
		return;
	old = jpath_push_key(&p->c, "steady_state");
	if (!j_object(&p->c, node, keys_steady))
		goto out;
	if ((arr = j_array(&p->c, node, "probes", true, 1, GD_MAX_PROBES, &n)) != NULL) {
		cJSON_ArrayForEach(it, arr) {
			size_t o2 = jpath_push_key(&p->c, "probes");
			struct probe *pr = &pb->probes[pb->nprobes++];

			(void)jpath_push_index(&p->c, i++);
			parse_probe(p, it, pr);
			for (size_t k = 0; pr->name != NULL && k + 1 < pb->nprobes; k++)
				if (pb->probes[k].name != NULL &&
				    strcmp(pb->probes[k].name, pr->name) == 0)
					j_error(&p->c, "name", "\"%s\" is also the name of probes[%zu]",
					    pr->name, k);
			jpath_pop(&p->c, o2);
		}
	}
	i = 0;
	if ((arr = j_array(&p->c, node, "sla", true, 1, GD_MAX_SLAS, &n)) != NULL) {
		cJSON_ArrayForEach(it, arr) {
			size_t o2 = jpath_push_key(&p->c, "sla");

			(void)jpath_push_index(&p->c, i++);
			parse_sla(p, it);
			jpath_pop(&p->c, o2);
		}
	}
out:
	jpath_pop(&p->c, old);
}

static void
parse_guardrails(struct pb_parser *p, const cJSON *root)
{
	const cJSON *node = j_get(root, "guardrails");
	struct playbook *pb = p->pb;
	bool approval = false, explicit_approval = false;
	int64_t v;
	size_t old;

	pb->guardrails.max_hosts = 1;
	pb->guardrails.max_percent = 100;
	pb->guardrails.breaches_to_abort = 3;
	old = jpath_push_key(&p->c, "guardrails");
	if (node != NULL && j_object(&p->c, node, keys_guard)) {
		if (j_get(node, "max_hosts") != NULL &&
		    j_int(&p->c, node, "max_hosts", true, 1, GD_MAX_HOSTS_PER_RUN, &v))
			pb->guardrails.max_hosts = (uint32_t)v;
		if (j_get(node, "max_percent") != NULL)
			(void)j_number(&p->c, node, "max_percent", true, 0.001, 100,
			    &pb->guardrails.max_percent);
		if (j_get(node, "breaches_to_abort") != NULL &&
		    j_int(&p->c, node, "breaches_to_abort", true, 1, GD_MAX_BREACHES_TO_ABORT, &v))
			pb->guardrails.breaches_to_abort = (uint32_t)v;
		explicit_approval = j_bool(&p->c, node, "require_approval", &approval);
	}
	if (explicit_approval && !approval &&
	    (pb->environment == ENV_PRODUCTION || pb->tier == 1))
		j_error(&p->c, "require_approval", "cannot be false: %s playbooks need a second "
		    "person's approval", pb->environment == ENV_PRODUCTION ? "production" :
		    "tier 1");
	pb->guardrails.require_approval = approval || pb->environment == ENV_PRODUCTION ||
	    pb->tier == 1;
	jpath_pop(&p->c, old);
}

static void
parse_rehearsal(struct pb_parser *p, const cJSON *root)
{
	const cJSON *node = j_get(root, "rehearsal");
	struct playbook *pb = p->pb;
	char a[32], b[32];
	size_t old;
	bool ok;

	if (node == NULL)
		return;
	pb->has_rehearsal = true;
	old = jpath_push_key(&p->c, "rehearsal");
	if (!j_object(&p->c, node, keys_rehearsal))
		goto out;
	pb->rehearsal.page = url_value(p, node, "page", true);
	ok = j_duration(&p->c, node, "detect_within", true, 1000, GD_MAX_RUN_MS,
	    &pb->rehearsal.detect_within_ms);
	ok &= j_duration(&p->c, node, "recover_within", true, 1000, GD_MAX_RUN_MS,
	    &pb->rehearsal.recover_within_ms);
	if (ok && pb->rehearsal.recover_within_ms < pb->rehearsal.detect_within_ms)
		j_error(&p->c, "recover_within", "is shorter than detect_within");
	if (ok && pb->duration_ms > 0 && pb->rehearsal.recover_within_ms > pb->duration_ms) {
		duration_format(pb->rehearsal.recover_within_ms, a, sizeof(a));
		duration_format(pb->duration_ms, b, sizeof(b));
		j_error(&p->c, "recover_within", "%s is longer than the playbook's duration (%s): "
		    "the fault would be reverted before the deadline", a, b);
	}
out:
	jpath_pop(&p->c, old);
}

static void
parse_schedule(struct pb_parser *p, const cJSON *root)
{
	const cJSON *node = j_get(root, "schedule");
	struct playbook *pb = p->pb;
	char a[32], b[32];
	size_t old;

	if (node == NULL)
		return;
	pb->has_schedule = true;
	old = jpath_push_key(&p->c, "schedule");
	if (schedule_parse(&p->c, node, pb->arena, &pb->schedule)) {
		for (size_t i = 0; i < pb->schedule.nwindows; i++) {
			const struct window *w = &pb->schedule.windows[i];
			uint64_t len_ms = (uint64_t)(w->end_min - w->start_min) * 60000;

			if (pb->duration_ms > len_ms) {
				size_t o2 = jpath_push_key(&p->c, "windows");

				(void)jpath_push_index(&p->c, i);
				duration_format(len_ms, a, sizeof(a));
				duration_format(pb->duration_ms, b, sizeof(b));
				j_error(&p->c, NULL, "the window lasts %s, less than the playbook's "
				    "duration (%s): a run started in it would end outside it", a, b);
				jpath_pop(&p->c, o2);
			}
		}
	}
	jpath_pop(&p->c, old);
}

struct playbook *
playbook_free(struct playbook *pb)
{
	if (pb == NULL)
		return NULL;
	arena_free(pb->arena);
	return NULL;
}

int
playbook_parse(const char *buf, size_t len, struct playbook **ret_pb, struct gd_err *err)
{
	struct pb_parser p = { 0 };
	struct arena *arena;
	cJSON *root = NULL;
	size_t before = gd_err_count(err);
	int r;

	if ((r = json_parse_doc(buf, len, GD_MAX_PLAYBOOK_BYTES, &root, err)) < 0) {
		if (r == -ENOMEM)
			gd_err_add(err, NULL, "out of memory");
		return r;
	}
	jctx_init(&p.c, err);
	if ((arena = arena_new()) == NULL ||
	    (p.pb = arena_alloc(arena, sizeof(*p.pb))) == NULL) {
		arena_free(arena);
		cJSON_Delete(root);
		gd_err_add(err, NULL, "out of memory");
		return -ENOMEM;
	}
	p.pb->arena = arena;
	if (j_object(&p.c, root, keys_top)) {
		parse_identity(&p, root);
		parse_recovery(&p, root);
		parse_targets(&p, root);
		parse_faults(&p, root);
		parse_steady(&p, root);
		parse_guardrails(&p, root);
		parse_rehearsal(&p, root);
		parse_schedule(&p, root);
	}
	cJSON_Delete(root);
	if (p.c.oom) {
		gd_err_add(err, NULL, "out of memory");
		playbook_free(p.pb);
		return -ENOMEM;
	}
	if (gd_err_count(err) != before) {
		playbook_free(p.pb);
		return -EINVAL;
	}
	*ret_pb = p.pb;
	return 0;
}

/* Writers for playbook_to_json(): each notes an allocation failure in *oom. */
static void
w_str(cJSON *o, const char *k, const char *v, bool *oom)
{
	if (v != NULL && cJSON_AddStringToObject(o, k, v) == NULL)
		*oom = true;
}

static void
w_num(cJSON *o, const char *k, double v, bool *oom)
{
	if (cJSON_AddNumberToObject(o, k, v) == NULL)
		*oom = true;
}

static void
w_dur(cJSON *o, const char *k, uint64_t ms, bool *oom)
{
	char buf[32];

	duration_format(ms, buf, sizeof(buf));
	w_str(o, k, buf, oom);
}

static cJSON *
w_obj(cJSON *o, const char *k, bool *oom)
{
	cJSON *r = cJSON_AddObjectToObject(o, k);

	if (r == NULL)
		*oom = true;
	return r;
}

static cJSON *
w_arr(cJSON *o, const char *k, bool *oom)
{
	cJSON *r = cJSON_AddArrayToObject(o, k);

	if (r == NULL)
		*oom = true;
	return r;
}

static void
w_item(cJSON *arr, cJSON *item, bool *oom)
{
	if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		*oom = true;
	}
}

static void
write_targets(cJSON *root, const struct playbook *pb, bool *oom)
{
	cJSON *t, *tags, *pick;

	if ((t = w_obj(root, "targets", oom)) == NULL || (tags = w_obj(t, "tags", oom)) == NULL)
		return;
	for (size_t i = 0; i < pb->ntags; i++)
		w_str(tags, pb->tags[i].key, pb->tags[i].value, oom);
	if (pb->pick == PICK_ALL) {
		w_str(t, "pick", "all", oom);
	} else if ((pick = w_obj(t, "pick", oom)) != NULL) {
		if (pb->pick == PICK_COUNT)
			w_num(pick, "count", pb->pick_count, oom);
		else
			w_num(pick, "percent", pb->pick_percent, oom);
	}
}

static void
write_steady(cJSON *root, const struct playbook *pb, bool *oom)
{
	cJSON *ss, *probes, *sla, *p, *st;
	char buf[160];

	if (pb->nprobes == 0)
		return;
	if ((ss = w_obj(root, "steady_state", oom)) == NULL ||
	    (probes = w_arr(ss, "probes", oom)) == NULL)
		return;
	for (size_t i = 0; i < pb->nprobes && !*oom; i++) {
		const struct probe *pr = &pb->probes[i];

		w_item(probes, p = cJSON_CreateObject(), oom);
		if (*oom)
			return;
		w_str(p, "name", pr->name, oom);
		w_str(p, "type", pr->kind == PROBE_HTTP ? "http" : "prometheus", oom);
		w_str(p, "url", pr->url, oom);
		w_str(p, "query", pr->query, oom);
		w_dur(p, "interval", pr->interval_ms, oom);
		w_dur(p, "timeout", pr->timeout_ms, oom);
		if (pr->kind == PROBE_HTTP && (st = w_arr(p, "expect_status", oom)) != NULL)
			for (size_t k = 0; k < pr->nexpect; k++)
				w_item(st, cJSON_CreateNumber(pr->expect_status[k]), oom);
	}
	if ((sla = w_arr(ss, "sla", oom)) == NULL)
		return;
	for (size_t i = 0; i < pb->nslas; i++) {
		sla_format(&pb->slas[i].expr, buf, sizeof(buf));
		w_item(sla, cJSON_CreateString(buf), oom);
	}
}

static void
write_tail(cJSON *root, const struct playbook *pb, bool *oom)
{
	cJSON *g, *r, *s;

	if ((g = w_obj(root, "guardrails", oom)) != NULL) {
		w_num(g, "max_hosts", pb->guardrails.max_hosts, oom);
		w_num(g, "max_percent", pb->guardrails.max_percent, oom);
		w_num(g, "breaches_to_abort", pb->guardrails.breaches_to_abort, oom);
		if (cJSON_AddBoolToObject(g, "require_approval",
		    pb->guardrails.require_approval) == NULL)
			*oom = true;
	}
	if (pb->has_schedule) {
		if ((s = schedule_to_json(&pb->schedule)) == NULL ||
		    !cJSON_AddItemToObject(root, "schedule", s)) {
			cJSON_Delete(s);
			*oom = true;
		}
	}
	if (pb->has_rehearsal && (r = w_obj(root, "rehearsal", oom)) != NULL) {
		w_str(r, "page", pb->rehearsal.page, oom);
		w_dur(r, "detect_within", pb->rehearsal.detect_within_ms, oom);
		w_dur(r, "recover_within", pb->rehearsal.recover_within_ms, oom);
	}
}

cJSON *
playbook_to_json(const struct playbook *pb)
{
	cJSON *root = cJSON_CreateObject(), *rp, *arr;
	bool oom = root == NULL;

	if (oom)
		return NULL;
	w_str(root, "apiVersion", PLAYBOOK_API_VERSION, &oom);
	w_str(root, "name", pb->name, &oom);
	w_str(root, "description", pb->description, &oom);
	w_str(root, "owner", pb->owner, &oom);
	w_str(root, "environment", env_names[pb->environment], &oom);
	w_num(root, "tier", pb->tier, &oom);
	w_str(root, "risk", pb->risk, &oom);
	if ((pb->recovery_plan.url != NULL || pb->recovery_plan.nsteps > 0) &&
	    (rp = w_obj(root, "recovery_plan", &oom)) != NULL) {
		w_str(rp, "url", pb->recovery_plan.url, &oom);
		if (pb->recovery_plan.nsteps > 0 && (arr = w_arr(rp, "steps", &oom)) != NULL)
			for (size_t i = 0; i < pb->recovery_plan.nsteps; i++)
				w_item(arr, cJSON_CreateString(pb->recovery_plan.steps[i]), &oom);
	}
	if (!oom)
		write_targets(root, pb, &oom);
	if (!oom && (arr = w_arr(root, "faults", &oom)) != NULL)
		for (size_t i = 0; i < pb->nfaults; i++)
			w_item(arr, fault_to_json(&pb->faults[i]), &oom);
	w_dur(root, "duration", pb->duration_ms, &oom);
	if (!oom)
		write_steady(root, pb, &oom);
	if (!oom)
		write_tail(root, pb, &oom);
	if (oom) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

char *
playbook_print(const struct playbook *pb)
{
	cJSON *root = playbook_to_json(pb);
	char *text;

	if (root == NULL)
		return NULL;
	text = cJSON_Print(root);
	cJSON_Delete(root);
	return text;
}

void
playbook_summary(const struct playbook *pb, char *buf, size_t len)
{
	char dur[32], sched[64] = "no schedule";
	size_t o;

	duration_format(pb->duration_ms, dur, sizeof(dur));
	if (pb->has_schedule)
		(void)snprintf(sched, sizeof(sched), "schedule %s in %s",
		    pb->schedule.random ? "random" : pb->schedule.every == EVERY_DAILY ? "daily" :
		    pb->schedule.every == EVERY_WEEKLY ? "weekly" : "windows only",
		    pb->schedule.timezone);
	o = (size_t)snprintf(buf, len, "%s: %s, tier %d, %zu fault%s (", pb->name,
	    env_names[pb->environment], pb->tier, pb->nfaults, pb->nfaults == 1 ? "" : "s");
	for (size_t i = 0; i < pb->nfaults && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
		    fault_type_name(pb->faults[i].type));
	if (o < len)
		(void)snprintf(buf + o, len - o, ") for %s, %zu probe%s, %zu SLA%s, %s%s", dur,
		    pb->nprobes, pb->nprobes == 1 ? "" : "s", pb->nslas, pb->nslas == 1 ? "" : "s",
		    sched, pb->guardrails.require_approval ? ", needs approval" : "");
}
