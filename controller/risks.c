#include "risks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "api.h"
#include "json.h"
#include "log.h"
#include "runs.h"
#include "timeutil.h"

/* The 13 columns in enum risk_column order, then who changed the row last and when. */
#define RISK_COLUMNS							\
	"id, system, owner, description, identified, likelihood, severity, mitigation, "	\
	"status, eta, monitoring, triggered_plan, comment"
#define RISK_ROW_COLUMNS	RISK_COLUMNS ", created, updated, updated_by"

/* Binds the 13 columns of r as ?1..?13; the strings must outlive the statement's step. */
static void
bind_risk(sqlite3_stmt *st, const struct risk *r)
{
	for (int i = 0; i < RISK_NCOLUMNS; i++)
		(void)sqlite3_bind_text(st, i + 1, r->v[i], -1, SQLITE_STATIC);
}

/* Whether the row st holds (RISK_COLUMNS) has exactly r's texts. */
static bool
row_same(sqlite3_stmt *st, const struct risk *r)
{
	for (int i = 0; i < RISK_NCOLUMNS; i++)
		if (strcmp(col_text(st, i), r->v[i]) != 0)
			return false;
	return true;
}

struct import_stmts {
	sqlite3_stmt *get, *ins, *upd, *hist;
};

static void
import_stmts_free(struct import_stmts *s)
{
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->upd);
	sqlite3_finalize(s->hist);
}

static int
import_stmts_prepare(struct store *s, struct import_stmts *st)
{
	if (store_prepare(s, "SELECT " RISK_COLUMNS " FROM risks WHERE id = ?", &st->get) < 0 ||
	    store_prepare(s, "INSERT INTO risks (" RISK_COLUMNS ", created, updated, "
	    "updated_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
	    "?14, ?15)", &st->ins) < 0 ||
	    store_prepare(s, "UPDATE risks SET system = ?2, owner = ?3, description = ?4, "
	    "identified = ?5, likelihood = ?6, severity = ?7, mitigation = ?8, status = ?9, "
	    "eta = ?10, monitoring = ?11, triggered_plan = ?12, comment = ?13, updated = ?14, "
	    "updated_by = ?15 WHERE id = ?1", &st->upd) < 0 ||
	    store_prepare(s, "INSERT INTO risk_history (risk, time, actor, action, row) VALUES "
	    "(?, ?, ?, ?, ?)", &st->hist) < 0)
		return -EIO;
	return 0;
}

/* Stores one risk: created (ins), updated (upd) or left alone; *ret_action says which. */
static int
import_one(struct store *s, struct import_stmts *st, const struct risk *r, int64_t now,
    const char *actor, const char **ret_action)
{
	sqlite3_stmt *w;
	cJSON *row;
	char *text;
	int e;

	*ret_action = NULL;
	(void)sqlite3_reset(st->get);
	(void)sqlite3_bind_text(st->get, 1, r->v[RISK_ID], -1, SQLITE_STATIC);
	e = sqlite3_step(st->get);
	if (e == SQLITE_ROW && row_same(st->get, r))
		return 0;
	if (e != SQLITE_ROW && e != SQLITE_DONE)
		return store_fail(s, "risk import: read");
	*ret_action = e == SQLITE_ROW ? "updated" : "created";
	w = e == SQLITE_ROW ? st->upd : st->ins;
	(void)sqlite3_reset(w);
	bind_risk(w, r);
	(void)sqlite3_bind_int64(w, 14, now);
	(void)sqlite3_bind_text(w, 15, actor, -1, SQLITE_STATIC);
	if (sqlite3_step(w) != SQLITE_DONE)
		return store_fail(s, "risk import: write");
	if ((row = risk_to_json(r)) == NULL || (text = cJSON_PrintUnformatted(row)) == NULL) {
		cJSON_Delete(row);
		log_warnx("risk import: out of memory");
		return -EIO;
	}
	cJSON_Delete(row);
	(void)sqlite3_reset(st->hist);
	(void)sqlite3_bind_text(st->hist, 1, r->v[RISK_ID], -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(st->hist, 2, now);
	(void)sqlite3_bind_text(st->hist, 3, actor, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st->hist, 4, *ret_action, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(st->hist, 5, text, -1, SQLITE_STATIC);
	e = sqlite3_step(st->hist);
	gd_free(text);
	return e == SQLITE_DONE ? 0 : store_fail(s, "risk import: history");
}

int
risks_import(struct ctl *c, const struct risk_set *set, enum risk_format fmt,
    const char *actor, struct risk_counts *ret)
{
	struct import_stmts st = { NULL, NULL, NULL, NULL };
	struct risk_counts n = { 0, 0, 0 };
	int64_t now = gd_now_ms();
	const char *action = NULL;
	cJSON *d;
	struct tx t;

	if (tx_begin(c, &t) < 0)
		return -EIO;
	if (import_stmts_prepare(c->store, &st) < 0)
		goto fail;
	for (size_t i = 0; i < set->n; i++) {
		if (import_one(c->store, &st, &set->items[i], now, actor, &action) < 0)
			goto fail;
		if (action == NULL)
			n.unchanged++;
		else if (strcmp(action, "created") == 0)
			n.created++;
		else
			n.updated++;
	}
	import_stmts_free(&st);
	/* Audited even when nothing changed: it records that the matrix was reviewed. */
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "format", risk_format_name(fmt));
	(void)cJSON_AddNumberToObject(d, "rows", (double)set->n);
	(void)cJSON_AddNumberToObject(d, "created", (double)n.created);
	(void)cJSON_AddNumberToObject(d, "updated", (double)n.updated);
	(void)cJSON_AddNumberToObject(d, "unchanged", (double)n.unchanged);
	tx_audit(&t, actor, "risk.import", "risks", d);
	if (tx_commit(&t) < 0)
		return -EIO;
	*ret = n;
	return 0;
fail:
	import_stmts_free(&st);
	tx_abort(&t);
	return -EIO;
}

/* ---- Routes ---- */

static cJSON *
problems_json(const struct gd_err *err)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr != NULL && i < err->n; i++) {
		cJSON *item = cJSON_CreateObject();

		(void)cJSON_AddStringToObject(item, "path", err->items[i].path);
		(void)cJSON_AddStringToObject(item, "message", err->items[i].msg);
		(void)cJSON_AddItemToArray(arr, item);
	}
	return arr;
}

/*
 * 422 with every problem: in "problems", and in error.details where the API puts every
 * validation error (docs/api.md), so that any client prints them.
 */
static void
reply_problems(struct reply *r, const struct gd_err *err)
{
	cJSON *root = cJSON_CreateObject(), *e;
	char msg[160];

	if (err->dropped > 0)
		(void)snprintf(msg, sizeof(msg), "the file has %zu problems (the first %zu are "
		    "listed); nothing was imported", gd_err_count(err), err->n);
	else
		(void)snprintf(msg, sizeof(msg), "the file has %zu problem%s; nothing was imported",
		    err->n, err->n == 1 ? "" : "s");
	e = cJSON_AddObjectToObject(root, "error");
	(void)cJSON_AddStringToObject(e, "code", "invalid_risks");
	(void)cJSON_AddStringToObject(e, "message", msg);
	(void)cJSON_AddItemToObject(e, "details", problems_json(err));
	(void)cJSON_AddItemToObject(root, "problems", problems_json(err));
	(void)cJSON_AddNumberToObject(root, "more", (double)err->dropped);
	reply_json(r, 422, root);
}

int
api_risk_import(struct req *q, struct reply *r)
{
	static const char *const keys[] = { "format", "data", NULL };
	struct gd_err err;
	struct jctx jc;
	struct risk_set *set = NULL;
	struct risk_counts n;
	enum risk_format fmt = RISK_FORMAT_CSV;
	const char *format = NULL, *data = NULL;
	char actor[160];
	cJSON *in, *out;
	int e;

	if ((in = req_json(q, r, keys)) == NULL)
		return 0;
	gd_err_init(&err);
	jctx_init(&jc, &err);
	if (j_string(&jc, in, "format", true, 16, &format) &&
	    risk_format_parse(format, &fmt) < 0)
		j_error(&jc, "format", "%s is not \"csv\" or \"json\"", j_quote(format));
	(void)j_string(&jc, in, "data", true, GD_MAX_RISK_FILE_BYTES, &data);
	if (err.n > 0) {
		reply_error(r, 400, "bad_request", "%s: %s", err.items[0].path, err.items[0].msg);
		goto out;
	}
	gd_err_init(&err);
	if ((e = risk_parse(data, strlen(data), fmt, &set, &err)) < 0) {
		if (e == -ENOMEM)
			reply_error(r, 500, "internal", "out of memory");
		else
			reply_problems(r, &err);
		goto out;
	}
	api_actor(q, actor, sizeof(actor));
	if (risks_import(q->c, set, fmt, actor, &n) < 0) {
		reply_error(r, 500, "internal", "the store failed; nothing was imported");
		goto out;
	}
	log_info("risks imported by %s: created=%zu updated=%zu unchanged=%zu", log_esc(actor),
	    n.created, n.updated, n.unchanged);
	out = cJSON_CreateObject();
	(void)cJSON_AddNumberToObject(out, "created", (double)n.created);
	(void)cJSON_AddNumberToObject(out, "updated", (double)n.updated);
	(void)cJSON_AddNumberToObject(out, "unchanged", (double)n.unchanged);
	reply_json(r, 200, out);
out:
	risk_set_free(set);
	cJSON_Delete(in);
	return 0;
}

/* The risk of the current row (RISK_ROW_COLUMNS) as docs/risks.md shows it. */
static cJSON *
risk_row_json(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();

	for (int i = 0; i < RISK_NCOLUMNS; i++)
		(void)cJSON_AddStringToObject(o, risk_key((enum risk_column)i), col_text(st, i));
	json_add_time_col(o, "created", st, RISK_NCOLUMNS);
	json_add_time_col(o, "updated", st, RISK_NCOLUMNS + 1);
	(void)cJSON_AddStringToObject(o, "updated_by", col_text(st, RISK_NCOLUMNS + 2));
	return o;
}

int
api_risk_list(struct req *q, struct reply *r)
{
	struct store *s = q->c->store;
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "risks");
	sqlite3_stmt *st;
	int e;

	(void)pthread_mutex_lock(&s->lock);
	if (store_prepare(s, "SELECT " RISK_ROW_COLUMNS " FROM risks " RISKS_ORDER_BY,
	    &st) < 0) {
		(void)pthread_mutex_unlock(&s->lock);
		cJSON_Delete(root);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	while ((e = sqlite3_step(st)) == SQLITE_ROW)
		(void)cJSON_AddItemToArray(arr, risk_row_json(st));
	if (e != SQLITE_DONE)
		(void)store_fail(s, "risk list");
	sqlite3_finalize(st);
	(void)pthread_mutex_unlock(&s->lock);
	if (e != SQLITE_DONE) {
		cJSON_Delete(root);
		reply_error(r, 500, "internal", "the store failed");
		return 0;
	}
	reply_json(r, 200, root);
	return 0;
}

/* The keys whose values differ between two history rows (NULL prev: none). */
static cJSON *
changed_keys(const cJSON *prev, const cJSON *row)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; prev != NULL && i < RISK_NCOLUMNS; i++) {
		const char *k = risk_key((enum risk_column)i);
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(prev, k);
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(row, k);

		if (!cJSON_Compare(a, b, true))
			(void)cJSON_AddItemToArray(arr, cJSON_CreateString(k));
	}
	return arr;
}

/* The risk's history, oldest first, each change with the keys it changed.  Under the lock. */
static int
history_json(struct store *s, const char *id, cJSON *arr)
{
	sqlite3_stmt *st;
	cJSON *prev = NULL;
	int e;

	if (arr == NULL)
		return -ENOMEM;
	if (store_prepare(s, "SELECT seq, time, actor, action, row FROM risk_history WHERE "
	    "risk = ? ORDER BY seq", &st) < 0)
		return -EIO;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((e = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *h = cJSON_CreateObject(), *row = cJSON_Parse(col_text(st, 4));

		(void)cJSON_AddNumberToObject(h, "seq", sqlite3_column_double(st, 0));
		json_add_time_col(h, "time", st, 1);
		(void)cJSON_AddStringToObject(h, "actor", col_text(st, 2));
		(void)cJSON_AddStringToObject(h, "action", col_text(st, 3));
		(void)cJSON_AddItemToObject(h, "changed", changed_keys(prev, row));
		(void)cJSON_AddItemToArray(arr, h);
		prev = row;
		(void)cJSON_AddItemToObject(h, "row", row != NULL ? row : cJSON_CreateNull());
	}
	sqlite3_finalize(st);
	return e == SQLITE_DONE ? 0 : store_fail(s, "risk history");
}

/* Every run of a playbook that names the risk, newest first.  Under the lock. */
static int
runs_json(struct store *s, const char *id, cJSON *arr)
{
	sqlite3_stmt *st;
	int e;

	if (arr == NULL)
		return -ENOMEM;
	if (store_prepare(s, "SELECT id, playbook, state, dry_run, created, ended, outcome FROM "
	    "runs WHERE risk = ? ORDER BY created DESC, id", &st) < 0)
		return -EIO;
	(void)sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((e = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();

		(void)cJSON_AddStringToObject(o, "id", col_text(st, 0));
		(void)cJSON_AddStringToObject(o, "playbook", col_text(st, 1));
		(void)cJSON_AddStringToObject(o, "state", col_text(st, 2));
		(void)cJSON_AddBoolToObject(o, "dry_run", sqlite3_column_int(st, 3) != 0);
		json_add_time_col(o, "created", st, 4);
		json_add_time_col(o, "ended", st, 5);
		json_add_text_col(o, "outcome", st, 6);
		(void)cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
	return e == SQLITE_DONE ? 0 : store_fail(s, "risk runs");
}

int
api_risk_get(struct req *q, struct reply *r)
{
	struct store *s = q->c->store;
	sqlite3_stmt *st;
	cJSON *o = NULL;
	int e = 0;

	if (!risk_id_valid(q->arg)) {
		reply_error(r, 404, "not_found", "no risk '%s'", log_esc(q->arg));
		return 0;
	}
	(void)pthread_mutex_lock(&s->lock);
	if (store_prepare(s, "SELECT " RISK_ROW_COLUMNS " FROM risks WHERE id = ?", &st) < 0) {
		e = -EIO;
		goto unlock;
	}
	(void)sqlite3_bind_text(st, 1, q->arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = risk_row_json(st);
	sqlite3_finalize(st);
	if (o != NULL) {
		e = history_json(s, q->arg, cJSON_AddArrayToObject(o, "history"));
		if (e == 0)
			e = runs_json(s, q->arg, cJSON_AddArrayToObject(o, "runs"));
	}
unlock:
	(void)pthread_mutex_unlock(&s->lock);
	if (e < 0) {
		cJSON_Delete(o);
		reply_error(r, 500, "internal", "the store failed");
	} else if (o == NULL)
		reply_error(r, 404, "not_found", "no risk '%s'", log_esc(q->arg));
	else
		reply_json(r, 200, o);
	return 0;
}
