#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "alloc.h"
#include "json.h"
#include "parse.h"

static const char *const keys_order[] = {
	"id", "run", "action", "fault", "ttl_ms", "fault_id", "expires", NULL,
};

static const char *const action_names[] = {
	[ORDER_INJECT] = "inject",
	[ORDER_REVERT] = "revert",
	[ORDER_DRY_RUN] = "dry_run",
};

const char *
order_action_name(enum order_action a)
{
	return a <= ORDER_DRY_RUN ? action_names[a] : "unknown";
}

int
time_ms_parse(const char *s, int64_t *ret_ms, const char **why)
{
	int64_t unix_s, ms = 0;
	int digits = 0;

	if (rfc3339_parse(s, &unix_s, why) < 0)
		return -EINVAL;
	/* rfc3339_parse() checked the shape: a fraction, when there is one, starts at 19. */
	if (s[19] == '.')
		for (const char *p = s + 20; *p >= '0' && *p <= '9'; p++)
			if (digits++ < 3)
				ms = ms * 10 + (*p - '0');
	for (; digits < 3; digits++)
		ms *= 10;
	*ret_ms = unix_s * 1000 + ms;
	return 0;
}

/* A key present with the value null counts as absent: "fault_id": null on an inject. */
static bool
present(const cJSON *o, const char *key)
{
	const cJSON *v = j_get(o, key);

	return v != NULL && !cJSON_IsNull(v);
}

/* The first problem recorded in err as one line, "path: reason", and how many more. */
static void
first_error(const struct gd_err *err, char *buf, size_t size)
{
	const struct gd_err_item *it = &err->items[0];
	char more[40] = "";

	if (err->n == 0) {
		(void)snprintf(buf, size, "cannot be read");
		return;
	}
	if (gd_err_count(err) > 1)
		(void)snprintf(more, sizeof(more), " (and %zu more)", gd_err_count(err) - 1);
	if (strcmp(it->path, "(root)") == 0)
		(void)snprintf(buf, size, "%s%s", it->msg, more);
	else
		(void)snprintf(buf, size, "%s: %s%s", it->path, it->msg, more);
}

/* Moves the fault parser's problems below "fault" in the order's error list. */
static void
add_fault_errors(struct jctx *c, const struct gd_err *scratch)
{
	char path[GD_MAX_JSON_PATH + 8];	/* "fault." and a path; cut, never overrun. */

	for (size_t i = 0; i < scratch->n; i++) {
		const char *p = scratch->items[i].path;

		if (strcmp(p, "(root)") == 0)
			p = "";
		(void)snprintf(path, sizeof(path), "fault%s%s", p[0] == '\0' || p[0] == '[' ? "" :
		    ".", p);
		gd_err_add(c->err, path, "%s", scratch->items[i].msg);
	}
	if (scratch->n == 0)
		gd_err_add(c->err, "fault", "cannot be read");
}

/* The fault of an inject or dry run, through the parser the one-shot commands use. */
static void
decode_fault(struct jctx *c, const cJSON *node, struct order *o, struct gd_err *scratch)
{
	const cJSON *f = j_get(node, "fault");
	char *text;
	int r;

	if (f == NULL || !cJSON_IsObject(f)) {
		if (f == NULL)
			j_error(c, "fault", "is required");
		else
			j_error(c, "fault", "expected an object, found %s", j_type_name(f));
		return;
	}
	if ((text = cJSON_PrintUnformatted(f)) == NULL) {
		c->oom = true;
		return;
	}
	gd_err_init(scratch);
	r = agent_order_parse(text, strlen(text), &o->ar, &o->fault, scratch);
	gd_free(text);
	if (r == -ENOMEM)
		c->oom = true;
	else if (r < 0)
		add_fault_errors(c, scratch);
}

/* The fields every action has: id (checked first, so a refusal can be reported), expires. */
static void
decode_common(struct jctx *c, const cJSON *node, struct order *o)
{
	const char *s, *why = NULL;

	if (j_string(c, node, "id", true, GD_MAX_ORDER_ID_BYTES, &s)) {
		if (order_id_valid(s))
			memcpy(o->id, s, strlen(s) + 1);
		else
			j_error(c, "id", "%s is not an order id (letters, digits, _ and -)",
			    j_quote(s));
	}
	if (present(node, "run") && j_string(c, node, "run", true, GD_MAX_ORDER_ID_BYTES, &s)) {
		if (order_id_valid(s))
			memcpy(o->run, s, strlen(s) + 1);
		else
			j_error(c, "run", "%s is not a run id", j_quote(s));
	}
	if (j_string(c, node, "expires", true, 64, &s) && time_ms_parse(s, &o->expires_ms,
	    &why) < 0)
		j_error(c, "expires", "%s is not an RFC 3339 time: %s", j_quote(s), why);
}

static void
decode_action(struct jctx *c, const cJSON *node, struct order *o, struct gd_err *scratch)
{
	const char *s;
	int64_t ttl = (int64_t)GD_DRY_RUN_TTL_MS;
	size_t i;

	if (!j_string(c, node, "action", true, 16, &s))
		return;
	for (i = 0; i <= ORDER_DRY_RUN; i++)
		if (strcmp(s, action_names[i]) == 0)
			break;
	if (i > ORDER_DRY_RUN) {
		j_error(c, "action", "%s is not inject, revert or dry_run", j_quote(s));
		return;
	}
	o->action = (enum order_action)i;
	if (o->action == ORDER_REVERT) {
		/* A revert names the fault by its id; a fault object or TTL is ignored. */
		if (j_string(c, node, "fault_id", true, GD_FAULT_ID_LEN, &s)) {
			if (fault_id_valid(s))
				memcpy(o->fault_id, s, GD_FAULT_ID_LEN + 1);
			else
				j_error(c, "fault_id", "%s is not a fault id (16 hex digits)",
				    j_quote(s));
		}
		return;
	}
	if (o->action == ORDER_INJECT || present(node, "ttl_ms"))
		(void)j_int(c, node, "ttl_ms", true, 1, (int64_t)GD_MAX_RUN_MS, &ttl);
	o->ttl_ms = (uint64_t)ttl;
	decode_fault(c, node, o, scratch);
}

/*
 * Decodes one order into o.  Problems go to o->error (the first one, with its path inside
 * the order); the reply as a whole stays good.  false only when out of memory.
 */
static bool
decode_order(const cJSON *node, struct order *o, struct gd_err *err, struct gd_err *scratch)
{
	struct jctx c;

	gd_err_init(err);
	jctx_init(&c, err);
	if (j_object(&c, node, keys_order)) {
		decode_common(&c, node, o);
		decode_action(&c, node, o, scratch);
	}
	if (c.oom)
		return false;
	if (gd_err_count(err) > 0) {
		first_error(err, o->error, sizeof(o->error));
		o->ar = arena_free(o->ar);
	}
	return true;
}

/* The reply's own shape: an object with an orders array and perhaps a server_time. */
static const cJSON *
decode_top(struct jctx *c, const cJSON *root, size_t *ret_n, int64_t *ret_server_ms)
{
	const cJSON *orders;
	const char *s, *why = NULL;

	*ret_server_ms = -1;
	if (!j_object(c, root, NULL))
		return NULL;
	orders = j_array(c, root, "orders", true, 0, GD_MAX_ORDERS_PER_POLL, ret_n);
	if (present(root, "server_time") &&
	    j_string(c, root, "server_time", true, 64, &s) &&
	    time_ms_parse(s, ret_server_ms, &why) < 0)
		j_error(c, "server_time", "%s is not an RFC 3339 time: %s", j_quote(s), why);
	return gd_err_count(c->err) > 0 ? NULL : orders;
}

int
poll_reply_parse(const char *buf, size_t len, struct poll_reply **ret, struct gd_err *err)
{
	struct gd_err *oerr = NULL, *scratch = NULL;
	struct poll_reply *pr = NULL;
	const cJSON *orders, *it;
	cJSON *root = NULL;
	struct jctx c;
	int64_t server_ms;
	size_t n = 0, i = 0;
	int r;

	if ((r = json_parse_doc(buf, len, GD_MAX_POLL_REPLY_BYTES, &root, err)) < 0)
		return r;
	jctx_init(&c, err);
	if ((orders = decode_top(&c, root, &n, &server_ms)) == NULL) {
		r = c.oom ? -ENOMEM : -EINVAL;
		goto out;
	}
	r = -ENOMEM;
	if ((pr = gd_calloc(1, sizeof(*pr))) == NULL ||
	    (n > 0 && (pr->orders = gd_calloc(n, sizeof(*pr->orders))) == NULL) ||
	    (oerr = gd_malloc(sizeof(*oerr))) == NULL ||
	    (scratch = gd_malloc(sizeof(*scratch))) == NULL)
		goto out;
	pr->server_ms = server_ms;
	cJSON_ArrayForEach(it, orders) {
		pr->norders = i + 1;	/* So that poll_reply_free() sees a half-decoded one. */
		if (!decode_order(it, &pr->orders[i++], oerr, scratch))
			goto out;
	}
	*ret = pr;
	pr = NULL;
	r = 0;
out:
	poll_reply_free(pr);
	gd_free(oerr);
	gd_free(scratch);
	cJSON_Delete(root);
	return r;
}

struct poll_reply *
poll_reply_free(struct poll_reply *r)
{
	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < r->norders; i++)
		arena_free(r->orders[i].ar);
	gd_free(r->orders);
	gd_free(r);
	return NULL;
}
