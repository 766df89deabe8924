/*
 * The risk matrix (PRACTICE.md "Risk management", docs/risks.md): a file of risks in the
 * book's columns, as CSV (RFC 4180, a header row naming the columns) or as a JSON array of
 * objects, read into typed rows.  Pure: no I/O, no logging, no global state.
 *
 * Reading is all-or-nothing, like playbook_parse(): either every row is valid and the caller
 * gets them all, or every problem is recorded in struct gd_err with its place ("row 7,
 * severity" in CSV, where the header is row 1 as in a spreadsheet; "[6].severity" in JSON)
 * and nothing is returned.
 */
#ifndef GD_RISK_H
#define GD_RISK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"

enum risk_format { RISK_FORMAT_CSV, RISK_FORMAT_JSON };

enum risk_level { RISK_LEVEL_NONE, RISK_LOW, RISK_MEDIUM, RISK_HIGH };

/* The columns, in the store's and the JSON form's order (risk_key(), risk_value()). */
enum risk_column {
	RISK_ID, RISK_SYSTEM, RISK_OWNER, RISK_DESCRIPTION, RISK_IDENTIFIED, RISK_LIKELIHOOD,
	RISK_SEVERITY, RISK_MITIGATION, RISK_STATUS, RISK_ETA, RISK_MONITORING,
	RISK_TRIGGERED_PLAN, RISK_COMMENT, RISK_NCOLUMNS
};

/*
 * One row.  Every text is trimmed of blanks at both ends and is "" when the file left an
 * optional column empty; likelihood and severity are canonical ("Low", "Medium", "High"),
 * identified is YYYY-MM-DD.  Borrowed: the strings live in the set's arena.
 */
struct risk {
	const char *v[RISK_NCOLUMNS];
	enum risk_level likelihood, severity;
	size_t row;		/* CSV: the row (the header is row 1); JSON: the array index. */
	size_t line;		/* CSV: the line the row starts on; JSON: 0. */
};

struct risk_set {
	struct risk *items;
	size_t n;
	struct arena *arena;
};

/*
 * Reads buf[0..len) in format fmt.  On success the caller owns *ret (risk_set_free()); the
 * rows are in file order.  Returns 0, -EINVAL (every problem recorded in err, which must
 * not be NULL; nothing returned) or -ENOMEM (also recorded, as "out of memory").
 */
int risk_parse(const char *buf, size_t len, enum risk_format fmt, struct risk_set **ret,
    struct gd_err *err);
/* Accepts NULL; returns NULL. */
struct risk_set *risk_set_free(struct risk_set *s);

/* JSON when the first character after a UTF-8 BOM and blanks is '[' or '{', else CSV. */
enum risk_format risk_format_sniff(const char *buf, size_t len);
/* "csv" or "json" (any case): 0, else -EINVAL. */
int risk_format_parse(const char *s, enum risk_format *ret);
const char *risk_format_name(enum risk_format fmt);

/* The JSON key of column c ("triggered_plan"), as the store and the API name it too. */
const char *risk_key(enum risk_column c);
/* The book's name of column c ("triggered plan"), as CSV headers and CSV errors name it. */
const char *risk_column_name(enum risk_column c);

/* "Low", "medium", "HIGH": 0, else -EINVAL.  The name of a level ("High"; "" for NONE). */
int risk_level_parse(const char *s, enum risk_level *ret);
const char *risk_level_name(enum risk_level l);

/* 1..64 of [A-Za-z0-9._-]. */
bool risk_id_valid(const char *s);

/* Whether a and b hold the same texts in every column. */
bool risk_equal(const struct risk *a, const struct risk *b);
/* The row as a JSON object in the import form (risk_key() keys); NULL when out of memory. */
cJSON *risk_to_json(const struct risk *r);

#endif
