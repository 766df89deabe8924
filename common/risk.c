#include "risk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "arena.h"
#include "json.h"
#include "limits.h"
#include "parse.h"

enum kind { KIND_ID, KIND_TEXT, KIND_DATE, KIND_LEVEL };

/* The book's columns (PRACTICE.md): how each is named, whether it is needed, its limit. */
static const struct column {
	const char *key;	/* JSON key, store column. */
	const char *name;	/* The book's name: a CSV header, and the place in CSV errors. */
	const char *alias;	/* Another CSV header for it, or NULL. */
	enum kind kind;
	bool required;
	bool multiline;		/* Line breaks and tabs allowed inside. */
	size_t max;		/* Bytes, after trimming. */
} columns[RISK_NCOLUMNS] = {
	[RISK_ID] = { "id", "id", NULL, KIND_ID, true, false, GD_MAX_RISK_ID_BYTES },
	[RISK_SYSTEM] = { "system", "system", NULL, KIND_TEXT, true, false,
	    GD_MAX_RISK_SHORT_BYTES },
	[RISK_OWNER] = { "owner", "owner", NULL, KIND_TEXT, true, false,
	    GD_MAX_RISK_SHORT_BYTES },
	[RISK_DESCRIPTION] = { "description", "description", NULL, KIND_TEXT, true, true,
	    GD_MAX_RISK_TEXT_BYTES },
	/* Dates and levels are checked by their grammar, not cut short by a byte limit. */
	[RISK_IDENTIFIED] = { "identified", "date identified", "identified", KIND_DATE, true,
	    false, GD_MAX_RISK_SHORT_BYTES },
	[RISK_LIKELIHOOD] = { "likelihood", "likelihood", NULL, KIND_LEVEL, true, false,
	    GD_MAX_RISK_SHORT_BYTES },
	[RISK_SEVERITY] = { "severity", "severity", NULL, KIND_LEVEL, true, false,
	    GD_MAX_RISK_SHORT_BYTES },
	[RISK_MITIGATION] = { "mitigation", "mitigation plan", "mitigation", KIND_TEXT, false,
	    true, GD_MAX_RISK_TEXT_BYTES },
	[RISK_STATUS] = { "status", "status", NULL, KIND_TEXT, false, false,
	    GD_MAX_RISK_SHORT_BYTES },
	[RISK_ETA] = { "eta", "eta", NULL, KIND_TEXT, false, false, GD_MAX_RISK_SHORT_BYTES },
	[RISK_MONITORING] = { "monitoring", "monitoring", NULL, KIND_TEXT, false, true,
	    GD_MAX_RISK_TEXT_BYTES },
	[RISK_TRIGGERED_PLAN] = { "triggered_plan", "triggered plan", NULL, KIND_TEXT, false,
	    true, GD_MAX_RISK_TEXT_BYTES },
	[RISK_COMMENT] = { "comment", "comment", "comments", KIND_TEXT, false, true,
	    GD_MAX_RISK_TEXT_BYTES },
};

/* The JSON form's keys, in columns[] order (j_object() wants them as a list). */
static const char *const json_keys[] = { "id", "system", "owner", "description",
	"identified", "likelihood", "severity", "mitigation", "status", "eta", "monitoring",
	"triggered_plan", "comment", NULL };

static const char *const level_names[] = { "", "Low", "Medium", "High" };

/* A column of a CSV header that is not one of ours (-1), or has no name (-2). */
#define COL_UNKNOWN	(-1)
#define COL_UNNAMED	(-2)

struct rp {
	struct gd_err *err;
	struct risk_set *set;
	size_t cap;		/* Items allocated. */
	enum risk_format fmt;
	bool oom;
};

const char *
risk_key(enum risk_column c)
{
	return c < RISK_NCOLUMNS ? columns[c].key : "?";
}

const char *
risk_column_name(enum risk_column c)
{
	return c < RISK_NCOLUMNS ? columns[c].name : "?";
}

const char *
risk_level_name(enum risk_level l)
{
	return l <= RISK_HIGH ? level_names[l] : "";
}

int
risk_level_parse(const char *s, enum risk_level *ret)
{
	for (enum risk_level l = RISK_LOW; l <= RISK_HIGH; l++) {
		if (strcasecmp(s, level_names[l]) == 0) {
			*ret = l;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
risk_format_name(enum risk_format fmt)
{
	return fmt == RISK_FORMAT_JSON ? "json" : "csv";
}

int
risk_format_parse(const char *s, enum risk_format *ret)
{
	if (strcasecmp(s, "csv") == 0)
		*ret = RISK_FORMAT_CSV;
	else if (strcasecmp(s, "json") == 0)
		*ret = RISK_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

/* Spreadsheets put a UTF-8 byte order mark in front of what they export. */
static size_t
bom_len(const char *buf, size_t len)
{
	return len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

static bool
blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

enum risk_format
risk_format_sniff(const char *buf, size_t len)
{
	size_t i = bom_len(buf, len);

	while (i < len && blank(buf[i]))
		i++;
	return i < len && (buf[i] == '[' || buf[i] == '{') ? RISK_FORMAT_JSON : RISK_FORMAT_CSV;
}

bool
risk_id_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= GD_MAX_RISK_ID_BYTES && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

bool
risk_equal(const struct risk *a, const struct risk *b)
{
	for (size_t c = 0; c < RISK_NCOLUMNS; c++)
		if (strcmp(a->v[c], b->v[c]) != 0)
			return false;
	return true;
}

cJSON *
risk_to_json(const struct risk *r)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t c = 0; o != NULL && c < RISK_NCOLUMNS; c++) {
		if (cJSON_AddStringToObject(o, columns[c].key, r->v[c]) == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

struct risk_set *
risk_set_free(struct risk_set *s)
{
	if (s == NULL)
		return NULL;
	gd_free(s->items);
	arena_free(s->arena);
	gd_free(s);
	return NULL;
}

/* ---- Places and problems ---- */

/* Where row r is: "row 7", "row 7 (line 9)" when a quoted line break moved it, or "[6]". */
static void
row_place(const struct rp *p, const struct risk *r, char *buf, size_t len)
{
	if (p->fmt == RISK_FORMAT_JSON)
		(void)snprintf(buf, len, "[%zu]", r->row);
	else if (r->line != r->row)
		(void)snprintf(buf, len, "row %zu (line %zu)", r->row, r->line);
	else
		(void)snprintf(buf, len, "row %zu", r->row);
}

/* Records a problem of row r; at column col, or at the whole row when col is negative. */
static void
problem(struct rp *p, const struct risk *r, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
problem(struct rp *p, const struct risk *r, int col, const char *fmt, ...)
{
	char row[64], place[GD_MAX_JSON_PATH], msg[GD_MAX_ERROR_MSG];
	va_list ap;

	row_place(p, r, row, sizeof(row));
	if (col < 0)
		(void)snprintf(place, sizeof(place), "%s", row);
	else if (p->fmt == RISK_FORMAT_JSON)
		(void)snprintf(place, sizeof(place), "%s.%s", row, columns[col].key);
	else
		(void)snprintf(place, sizeof(place), "%s, %s", row, columns[col].name);
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gd_err_add(p->err, place, "%s", msg);
}

/* ---- One value ---- */

/* Checks that s[0..n) has no control character c may not hold; records the first one. */
static bool
check_controls(struct rp *p, const struct risk *r, enum risk_column c, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch == '\n' || ch == '\t') && !columns[c].multiline) {
			problem(p, r, (int)c, "contains a line break or a tab; only description, "
			    "mitigation, monitoring, triggered plan and comment may");
			return false;
		}
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f) {
			problem(p, r, (int)c, "contains a control character (byte 0x%02x)", ch);
			return false;
		}
	}
	return true;
}

/*
 * Checks raw[0..n) (NULL: not given) as column c of r, and keeps its canonical form in
 * r->v[c].  Blanks at both ends are not part of a value; nothing left means not given.
 */
static void
set_value(struct rp *p, struct risk *r, enum risk_column c, const char *raw, size_t n)
{
	const struct column *col = &columns[c];
	enum risk_level l;
	struct gd_date d;
	const char *why = NULL;
	char *s;

	r->v[c] = "";
	while (n > 0 && blank(*raw))
		raw++, n--;
	while (n > 0 && blank(raw[n - 1]))
		n--;
	if (n == 0) {
		if (col->required)
			problem(p, r, (int)c, "is required");
		return;
	}
	if (n > col->max) {
		problem(p, r, (int)c, "is %zu bytes long, more than the limit of %zu", n, col->max);
		return;
	}
	if (!check_controls(p, r, c, raw, n))
		return;
	if ((s = arena_alloc(p->set->arena, n + 1)) == NULL) {
		p->oom = true;
		return;
	}
	memcpy(s, raw, n);
	switch (col->kind) {
	case KIND_ID:
		if (risk_id_valid(s))
			r->v[c] = s;
		else
			problem(p, r, (int)c, "%s: use 1 to %d letters, digits, '.', '_' or '-'",
			    j_quote(s), GD_MAX_RISK_ID_BYTES);
		break;
	case KIND_DATE:
		if (date_parse(s, &d, &why) == 0)
			r->v[c] = s;
		else
			problem(p, r, (int)c, "%s: %s", j_quote(s), why);
		break;
	case KIND_LEVEL:
		if (risk_level_parse(s, &l) < 0) {
			problem(p, r, (int)c, "%s is not Low, Medium or High", j_quote(s));
			break;
		}
		r->v[c] = level_names[l];
		if (c == RISK_LIKELIHOOD)
			r->likelihood = l;
		else
			r->severity = l;
		break;
	case KIND_TEXT:
		r->v[c] = s;
		break;
	}
}

/* A row with every column "" (not given yet). */
static void
row_init(struct risk *r, size_t row, size_t line)
{
	memset(r, 0, sizeof(*r));
	for (size_t c = 0; c < RISK_NCOLUMNS; c++)
		r->v[c] = "";
	r->row = row;
	r->line = line;
}

static void
push(struct rp *p, const struct risk *r)
{
	struct risk_set *s = p->set;
	struct risk *items;
	size_t cap, bytes;

	if (s->n == p->cap) {
		cap = p->cap == 0 ? 16 : p->cap * 2;
		if (cap > GD_MAX_RISK_ROWS)
			cap = GD_MAX_RISK_ROWS;
		if (gd_mul_size(cap, sizeof(*items), &bytes) < 0 ||
		    (items = gd_realloc(s->items, bytes)) == NULL) {
			p->oom = true;
			return;
		}
		s->items = items;
		p->cap = cap;
	}
	s->items[s->n++] = *r;
}

/* ---- Duplicate ids ---- */

/* By id, then by place in the file (the items are one array: their addresses are in order). */
static int
by_id(const void *a, const void *b)
{
	const struct risk *x = *(const struct risk *const *)a, *y = *(const struct risk *const *)b;
	int d = strcmp(x->v[RISK_ID], y->v[RISK_ID]);

	return d != 0 ? d : (x < y ? -1 : x > y);
}

/* Every id given twice, reported at each later row, in file order. */
static void
check_duplicates(struct rp *p)
{
	const struct risk *items = p->set->items, **sorted = NULL, **first = NULL;
	size_t n = 0, run = 0;
	char where[64];

	if (p->set->n < 2)
		return;
	if ((sorted = gd_calloc(p->set->n, sizeof(*sorted))) == NULL ||
	    (first = gd_calloc(p->set->n, sizeof(*first))) == NULL) {
		p->oom = true;
		goto out;
	}
	for (size_t i = 0; i < p->set->n; i++)
		if (items[i].v[RISK_ID][0] != '\0')
			sorted[n++] = &items[i];
	qsort(sorted, n, sizeof(*sorted), by_id);
	for (size_t k = 1; k < n; k++) {
		if (strcmp(sorted[k]->v[RISK_ID], sorted[run]->v[RISK_ID]) != 0)
			run = k;
		else
			first[sorted[k] - items] = sorted[run];
	}
	for (size_t i = 0; i < p->set->n; i++) {
		if (first[i] == NULL)
			continue;
		row_place(p, first[i], where, sizeof(where));
		problem(p, &items[i], RISK_ID, "%s is also %s %s", j_quote(items[i].v[RISK_ID]),
		    p->fmt == RISK_FORMAT_JSON ? "at" : "on", where);
	}
out:
	gd_free(sorted);
	gd_free(first);
}

/* ---- CSV (RFC 4180) ---- */

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when it is not valid UTF-8. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* NUL bytes and invalid UTF-8 stop everything: the first one is reported by line and column. */
static int
csv_prescan(struct rp *p, const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t line = 1, col = 1, n;

	for (size_t i = 0; i < len; i += n, col++) {
		n = utf8_len(s + i, len - i);
		if (s[i] == 0 || n == 0) {
			gd_err_add(p->err, NULL, "line %zu, column %zu: %s", line, col, s[i] == 0 ?
			    "a NUL byte is not allowed" : "invalid UTF-8 (save the file as UTF-8)");
			return -EINVAL;
		}
		if (s[i] == '\n') {
			line++;
			col = 0;
		}
	}
	return 0;
}

enum csv_flaw { CSV_OK, CSV_STRAY_QUOTE, CSV_AFTER_QUOTE };

struct csv {
	const char *p, *end;
	size_t line;		/* The line p is on, from 1. */
	char *buf;		/* The current record's fields, each NUL-terminated. */
	size_t used;
	size_t off[GD_MAX_RISK_COLUMNS], len[GD_MAX_RISK_COLUMNS];
	size_t nfields;		/* Every field of the record, also those past off[]. */
	size_t rec_line;	/* The line the record starts on. */
	enum csv_flaw flaw;	/* The record's first flaw, and in which field. */
	size_t flaw_field;
	size_t open_line;	/* Not 0: a quoted field started on this line never ends. */
};

static bool
csv_stop(char ch)
{
	return ch == ',' || ch == '\r' || ch == '\n';
}

static void
csv_flaw(struct csv *c, enum csv_flaw f)
{
	if (c->flaw == CSV_OK) {
		c->flaw = f;
		c->flaw_field = c->nfields;
	}
}

static void
csv_plain(struct csv *c)
{
	while (c->p < c->end && !csv_stop(*c->p)) {
		if (*c->p == '"')
			csv_flaw(c, CSV_STRAY_QUOTE);
		c->buf[c->used++] = *c->p++;
	}
}

/* A quoted field: "" is a quote, CRLF inside becomes LF; blanks may follow the closing quote. */
static void
csv_quoted(struct csv *c)
{
	size_t start = c->line;

	c->p++;
	for (;;) {
		if (c->p == c->end) {
			c->open_line = start;
			return;
		}
		if (*c->p == '"') {
			if (c->p + 1 < c->end && c->p[1] == '"') {
				c->buf[c->used++] = '"';
				c->p += 2;
				continue;
			}
			c->p++;
			break;
		}
		if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') {
			c->p++;
			continue;
		}
		if (*c->p == '\n')
			c->line++;
		c->buf[c->used++] = *c->p++;
	}
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	if (c->p < c->end && !csv_stop(*c->p)) {
		csv_flaw(c, CSV_AFTER_QUOTE);
		csv_plain(c);
	}
}

/*
 * Reads the next record into c: true, or false at the end of the input.  c->buf holds at
 * least as many bytes as the input plus one, which is always enough: a field's text is
 * never longer than its bytes in the file, and each NUL takes a separator's place.
 */
static bool
csv_record(struct csv *c)
{
	const char *q;

	if (c->p == c->end)
		return false;
	c->used = 0;
	c->nfields = 0;
	c->flaw = CSV_OK;
	c->rec_line = c->line;
	for (;;) {
		size_t start = c->used;

		/* Blanks before an opening quote are not part of anything. */
		for (q = c->p; q < c->end && (*q == ' ' || *q == '\t'); q++)
			;
		if (q < c->end && *q == '"') {
			c->p = q;
			csv_quoted(c);
			if (c->open_line != 0)
				return true;
		} else {
			csv_plain(c);
		}
		c->buf[c->used++] = '\0';
		if (c->nfields < GD_MAX_RISK_COLUMNS) {
			c->off[c->nfields] = start;
			c->len[c->nfields] = c->used - 1 - start;
		}
		c->nfields++;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == '\r')
			c->p++;
		if (c->p < c->end && *c->p == '\n')
			c->p++;
		c->line++;
		return true;
	}
}

static size_t
csv_nstored(const struct csv *c)
{
	return c->nfields < GD_MAX_RISK_COLUMNS ? c->nfields : GD_MAX_RISK_COLUMNS;
}

static bool
csv_blank_field(const struct csv *c, size_t i)
{
	for (size_t k = 0; k < c->len[i]; k++)
		if (!blank(c->buf[c->off[i] + k]))
			return false;
	return true;
}

/* A blank line, or a row of empty cells (spreadsheets export those): not a risk. */
static bool
csv_blank_record(const struct csv *c)
{
	if (c->nfields > GD_MAX_RISK_COLUMNS)
		return false;	/* Its fields past off[] are unknown: not blank for sure. */
	for (size_t i = 0; i < csv_nstored(c); i++)
		if (!csv_blank_field(c, i))
			return false;
	return true;
}

/* A header cell: lower case, '_' and '-' as spaces, blanks squeezed ("Date_Identified"). */
static void
header_norm(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	bool space = false;

	for (size_t i = 0; i < n && o + 2 < outlen; i++) {
		char ch = s[i];

		if (blank(ch) || ch == '_' || ch == '-') {
			space = o > 0;
			continue;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	out[o] = '\0';
}

static int
header_column(const char *norm)
{
	for (int c = 0; c < RISK_NCOLUMNS; c++)
		if (strcmp(norm, columns[c].name) == 0 || (columns[c].alias != NULL &&
		    strcmp(norm, columns[c].alias) == 0))
			return c;
	return COL_UNKNOWN;
}

/* What each field of a CSV row is, from the header. */
struct csv_header {
	int map[GD_MAX_RISK_COLUMNS];	/* A column, COL_UNKNOWN or COL_UNNAMED. */
	size_t n;			/* Fields in the header. */
	bool has[RISK_NCOLUMNS];
};

static void
csv_header(struct rp *p, struct csv *c, struct csv_header *h)
{
	char norm[64], place[64];
	size_t seen_at[RISK_NCOLUMNS] = { 0 };

	h->n = c->nfields;
	if (c->nfields > GD_MAX_RISK_COLUMNS)
		gd_err_add(p->err, "header", "%zu columns; a risk matrix has %d, and more than %d "
		    "are refused", c->nfields, RISK_NCOLUMNS, GD_MAX_RISK_COLUMNS);
	for (size_t i = 0; i < csv_nstored(c); i++) {
		const char *text = c->buf + c->off[i];
		int col;

		(void)snprintf(place, sizeof(place), "header, column %zu", i + 1);
		header_norm(text, c->len[i], norm, sizeof(norm));
		col = norm[0] == '\0' ? COL_UNNAMED : header_column(norm);
		h->map[i] = col;
		if (col == COL_UNKNOWN && c->nfields == 1 && strchr(text, ';') != NULL) {
			/* Not a matrix with the wrong columns: the wrong separator. */
			gd_err_add(p->err, place, "%s: fields are separated by ',' here, not ';'",
			    j_quote(text));
			return;
		} else if (col == COL_UNKNOWN) {
			gd_err_add(p->err, place, "%s is not a column of the risk matrix (id, "
			    "system, owner, description, date identified, likelihood, severity, "
			    "mitigation plan, status, eta, monitoring, triggered plan, comment)",
			    j_quote(text));
		} else if (col >= 0 && h->has[col]) {
			gd_err_add(p->err, place, "%s is column %zu again", j_quote(text),
			    seen_at[col]);
			h->map[i] = COL_UNKNOWN;
		} else if (col >= 0) {
			h->has[col] = true;
			seen_at[col] = i + 1;
		}
	}
	for (int col = 0; col < RISK_NCOLUMNS; col++)
		if (columns[col].required && !h->has[col])
			gd_err_add(p->err, "header", "the column \"%s\" is missing",
			    columns[col].name);
}

static void
csv_row(struct rp *p, const struct csv *c, const struct csv_header *h, size_t row)
{
	const char *val[RISK_NCOLUMNS] = { NULL };
	size_t vlen[RISK_NCOLUMNS] = { 0 };
	int flawed = COL_UNKNOWN;
	struct risk r;

	row_init(&r, row, c->rec_line);
	if (c->nfields != h->n) {
		problem(p, &r, -1, "%zu fields, but the header has %zu (is there a ',' in a field "
		    "that is not quoted?)", c->nfields, h->n);
		return;
	}
	if (c->flaw != CSV_OK) {
		flawed = h->map[c->flaw_field];
		if (flawed < 0) {
			char place[96];

			row_place(p, &r, place, sizeof(place));
			gd_err_add(p->err, NULL, "%s, column %zu: a misplaced '\"'", place,
			    c->flaw_field + 1);
		} else if (c->flaw == CSV_STRAY_QUOTE) {
			problem(p, &r, flawed, "a '\"' in a field that is not quoted: quote the "
			    "whole field and write the '\"' as \"\"");
		} else {
			problem(p, &r, flawed, "text after the closing '\"': a '\"' inside a "
			    "quoted field is written as \"\"");
		}
	}
	for (size_t i = 0; i < csv_nstored(c); i++) {
		if (h->map[i] >= 0) {
			val[h->map[i]] = c->buf + c->off[i];
			vlen[h->map[i]] = c->len[i];
		} else if (h->map[i] == COL_UNNAMED && !csv_blank_field(c, i)) {
			char place[96];

			row_place(p, &r, place, sizeof(place));
			(void)snprintf(place + strlen(place), sizeof(place) - strlen(place),
			    ", column %zu", i + 1);
			gd_err_add(p->err, place, "a value under a column with no name in the "
			    "header");
		}
	}
	for (int col = 0; col < RISK_NCOLUMNS; col++)
		if (h->has[col] && col != flawed)
			set_value(p, &r, (enum risk_column)col, val[col], vlen[col]);
	push(p, &r);
}

static int
parse_csv(struct rp *p, const char *buf, size_t len)
{
	struct csv_header h = { .n = 0 };
	struct csv *c;
	size_t row = 0, before = gd_err_count(p->err);
	bool header = false;

	if (csv_prescan(p, buf, len) < 0)
		return -EINVAL;
	if ((c = gd_calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	if ((c->buf = gd_malloc(len + 1)) == NULL) {
		gd_free(c);
		return -ENOMEM;
	}
	c->p = buf;
	c->end = buf + len;
	c->line = 1;
	while (!p->oom && csv_record(c)) {
		row++;
		if (c->open_line != 0) {
			struct risk r;
			/* The field being read is the record's c->nfields-th. */
			int col = header && c->nfields < h.n ? h.map[c->nfields] : COL_UNKNOWN;

			row_init(&r, row, c->rec_line);
			problem(p, &r, col >= 0 ? col : -1, "the quoted field that starts on line "
			    "%zu never ends (is the file cut short, or a closing '\"' missing?)",
			    c->open_line);
			break;
		}
		if (csv_blank_record(c))
			continue;
		if (!header) {
			csv_header(p, c, &h);
			header = true;
			/* Rows cannot be read against a header that is not a risk matrix's. */
			if (h.n > GD_MAX_RISK_COLUMNS)
				break;
		} else if (p->set->n == GD_MAX_RISK_ROWS) {
			gd_err_add(p->err, NULL, "more than %d risks (row %zu); split the file",
			    GD_MAX_RISK_ROWS, row);
			break;
		} else {
			csv_row(p, c, &h, row);
		}
	}
	if (!header && gd_err_count(p->err) == before)
		gd_err_add(p->err, NULL, "the file is blank: it needs a header row and a row per "
		    "risk");
	else if (header && p->set->n == 0 && gd_err_count(p->err) == before)
		gd_err_add(p->err, NULL, "no risks: the file has a header but no rows");
	gd_free(c->buf);
	gd_free(c);
	return 0;
}

/* ---- JSON ---- */

static void
json_row(struct rp *p, const cJSON *item, size_t i)
{
	struct jctx jc;
	struct risk r;

	jctx_init(&jc, p->err);
	(void)jpath_push_index(&jc, i);
	row_init(&r, i, 0);
	if (!j_object(&jc, item, json_keys))
		return;
	for (int col = 0; col < RISK_NCOLUMNS; col++) {
		const cJSON *v = j_get(item, columns[col].key);

		if (v == NULL || cJSON_IsNull(v))
			set_value(p, &r, (enum risk_column)col, NULL, 0);
		else if (!cJSON_IsString(v))
			problem(p, &r, col, "expected a string, found %s", j_type_name(v));
		else
			set_value(p, &r, (enum risk_column)col, v->valuestring,
			    strlen(v->valuestring));
	}
	push(p, &r);
}

static int
parse_json(struct rp *p, const char *buf, size_t len)
{
	const cJSON *item;
	cJSON *root = NULL;
	size_t i = 0;
	int n, e;

	if ((e = json_parse_doc(buf, len, GD_MAX_RISK_FILE_BYTES, &root, p->err)) < 0)
		return e;
	n = cJSON_GetArraySize(root);
	if (!cJSON_IsArray(root))
		gd_err_add(p->err, NULL, "expected an array of risks, found %s",
		    j_type_name(root));
	else if (n == 0)
		gd_err_add(p->err, NULL, "no risks: the array is empty");
	else if (n > GD_MAX_RISK_ROWS)
		gd_err_add(p->err, NULL, "%d risks, more than the limit of %d; split the file", n,
		    GD_MAX_RISK_ROWS);
	else {
		cJSON_ArrayForEach(item, root) {
			json_row(p, item, i++);
			if (p->oom)
				break;
		}
	}
	cJSON_Delete(root);
	return 0;
}

int
risk_parse(const char *buf, size_t len, enum risk_format fmt, struct risk_set **ret,
    struct gd_err *err)
{
	struct rp p = { .err = err, .fmt = fmt };
	size_t before = gd_err_count(err), skip;
	int e;

	if (len == 0) {
		gd_err_add(err, NULL, "the input is empty");
		return -EINVAL;
	}
	if (len > GD_MAX_RISK_FILE_BYTES) {
		gd_err_add(err, NULL, "the input is %zu bytes, more than the limit of %d", len,
		    GD_MAX_RISK_FILE_BYTES);
		return -EINVAL;
	}
	if ((p.set = gd_calloc(1, sizeof(*p.set))) == NULL ||
	    (p.set->arena = arena_new()) == NULL) {
		risk_set_free(p.set);
		gd_err_add(err, NULL, "out of memory");
		return -ENOMEM;
	}
	skip = bom_len(buf, len);
	if (skip == len) {
		gd_err_add(err, NULL, "the input is empty");
		e = -EINVAL;
	} else if (fmt == RISK_FORMAT_JSON) {
		e = parse_json(&p, buf + skip, len - skip);
	} else {
		e = parse_csv(&p, buf + skip, len - skip);
	}
	if (e == 0 && !p.oom)
		check_duplicates(&p);
	if (e == 0 && p.oom)
		e = -ENOMEM;
	if (e == -ENOMEM)
		gd_err_add(err, NULL, "out of memory");
	if (e == 0 && gd_err_count(err) != before)
		e = -EINVAL;
	if (e < 0) {
		risk_set_free(p.set);
		return e;
	}
	*ret = p.set;
	return 0;
}
