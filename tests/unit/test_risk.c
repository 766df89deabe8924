/*
 * The risk-matrix reader: CSV (RFC 4180) and JSON, the book's columns, canonical values,
 * every problem at once with its place, limits, and allocation failures.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "limits.h"
#include "risk.h"
#include "test.h"

static struct gd_err err;

/* The book's header, its columns in another order, CRLF line ends, a BOM, quoted fields. */
static const char book_csv[] =
    "\xef\xbb\xbfID,System,Owner,Description,Date identified,Likelihood,Severity,"
    "Mitigation plan,Status,ETA,Monitoring,Triggered plan,Comment\r\n"
    "R-1,checkout,payments-oncall,\"Order DB primary fails, replica lags\",2026-01-12,"
    "high,HIGH,\"Automate failover; test it \"\"monthly\"\"\",active,Q3 2026,"
    "replica lag alert,Page DBA; fail over,\r\n"
    "R-2,search,search-team,\"Index corrupt\r\nafter a crash\",2026-02-01,Low,Medium,,"
    "mitigated,,,,\"first line\nsecond line\"\r\n";

static int
parse(enum risk_format fmt, const char *text, struct risk_set **ret)
{
	gd_err_init(&err);
	return risk_parse(text, strlen(text), fmt, ret, &err);
}

static void
dump_errors(void)
{
	for (size_t i = 0; i < err.n; i++)
		fprintf(stderr, "  %s: %s\n", err.items[i].path, err.items[i].msg);
}

/* Whether an error has exactly this place and a message containing what. */
static int
has_error(const char *place, const char *what)
{
	for (size_t i = 0; i < err.n; i++)
		if (strcmp(err.items[i].path, place) == 0 && strstr(err.items[i].msg, what) != NULL)
			return 1;
	return 0;
}

#define ASSERT_ERROR(place, what)						\
	do {									\
		if (!has_error((place), (what))) {				\
			TEST_FAIL("no error \"%s: ...%s...\"", (place), (what));	\
			dump_errors();						\
		}								\
	} while (0)

/* Parses text, expecting it valid; NULL (test failed) otherwise. */
static struct risk_set *
parse_ok(enum risk_format fmt, const char *text)
{
	struct risk_set *s = NULL;

	if (parse(fmt, text, &s) != 0) {
		TEST_FAIL("rejected");
		dump_errors();
		return NULL;
	}
	return s;
}

/* Parses text, expecting -EINVAL and nothing returned. */
static void
parse_bad(enum risk_format fmt, const char *text)
{
	struct risk_set *s = NULL;
	int r = parse(fmt, text, &s);

	ASSERT_INT_EQ(r, -EINVAL);
	ASSERT_TRUE(s == NULL);
	ASSERT_TRUE(err.n > 0);
	risk_set_free(s);
}

static void
test_book_csv(void)
{
	struct risk_set *s;
	const struct risk *r;

	TEST_START("the book's CSV: any column order, BOM, CRLF, quotes, canonical levels");
	if ((s = parse_ok(RISK_FORMAT_CSV, book_csv)) == NULL)
		return;
	ASSERT_INT_EQ(s->n, 2);
	r = &s->items[0];
	ASSERT_STR_EQ(r->v[RISK_ID], "R-1");
	ASSERT_STR_EQ(r->v[RISK_SYSTEM], "checkout");
	ASSERT_STR_EQ(r->v[RISK_DESCRIPTION], "Order DB primary fails, replica lags");
	ASSERT_STR_EQ(r->v[RISK_IDENTIFIED], "2026-01-12");
	ASSERT_STR_EQ(r->v[RISK_LIKELIHOOD], "High");
	ASSERT_STR_EQ(r->v[RISK_SEVERITY], "High");
	ASSERT_INT_EQ(r->likelihood, RISK_HIGH);
	ASSERT_INT_EQ(r->severity, RISK_HIGH);
	ASSERT_STR_EQ(r->v[RISK_MITIGATION], "Automate failover; test it \"monthly\"");
	ASSERT_STR_EQ(r->v[RISK_ETA], "Q3 2026");
	ASSERT_STR_EQ(r->v[RISK_TRIGGERED_PLAN], "Page DBA; fail over");
	ASSERT_STR_EQ(r->v[RISK_COMMENT], "");
	ASSERT_INT_EQ(r->row, 2);
	r = &s->items[1];
	/* A CRLF inside quotes is a line break, kept as LF. */
	ASSERT_STR_EQ(r->v[RISK_DESCRIPTION], "Index corrupt\nafter a crash");
	ASSERT_STR_EQ(r->v[RISK_SEVERITY], "Medium");
	ASSERT_STR_EQ(r->v[RISK_MITIGATION], "");
	ASSERT_STR_EQ(r->v[RISK_COMMENT], "first line\nsecond line");
	ASSERT_INT_EQ(r->row, 3);
	ASSERT_INT_EQ(r->line, 3);
	risk_set_free(s);
}

static void
test_aliases(void)
{
	struct risk_set *s;

	TEST_START("header aliases, snake_case headers, blanks trimmed, blank rows skipped");
	s = parse_ok(RISK_FORMAT_CSV,
	    "  comments , triggered_plan,MITIGATION,identified,severity,likelihood,description,"
	    "owner,system,id\n"
	    "\n"
	    ",,,,,,,,,\n"
	    "c, t , m ,2026-03-01 , low,MeDiUm,  d  ,o,s,  A.b_c-9\n");
	if (s == NULL)
		return;
	ASSERT_INT_EQ(s->n, 1);
	ASSERT_STR_EQ(s->items[0].v[RISK_ID], "A.b_c-9");
	ASSERT_STR_EQ(s->items[0].v[RISK_COMMENT], "c");
	ASSERT_STR_EQ(s->items[0].v[RISK_TRIGGERED_PLAN], "t");
	ASSERT_STR_EQ(s->items[0].v[RISK_LIKELIHOOD], "Medium");
	ASSERT_STR_EQ(s->items[0].v[RISK_SEVERITY], "Low");
	ASSERT_STR_EQ(s->items[0].v[RISK_DESCRIPTION], "d");
	/* The blank line and the row of empty cells still count as rows 2 and 3. */
	ASSERT_INT_EQ(s->items[0].row, 4);
	risk_set_free(s);

	TEST_START("no line break at the end, blanks around quoted fields");
	s = parse_ok(RISK_FORMAT_CSV, "id,system,owner,description,identified,likelihood,"
	    "severity\nR,s,o, \"d, e\" ,2026-01-01,High,Low");
	if (s == NULL)
		return;
	ASSERT_STR_EQ(s->items[0].v[RISK_DESCRIPTION], "d, e");
	risk_set_free(s);
}

static const char header[] = "id,system,owner,description,date identified,likelihood,severity,"
    "status\n";

static void
test_csv_errors(void)
{
	char text[2048];

	TEST_START("every bad value is reported, each with its row and column");
	(void)snprintf(text, sizeof(text), "%s"
	    "R-1,s,o,d,2026-01-01,High,High,active\n"
	    "R-2,s,o,d,2026-01-01,High,Huge,active\n"
	    "R-3,s,o,d,2026-02-30,Low,Low,\n"
	    "R-4,s,,d,12/03/2026,Low,Low,\n"
	    "R 5,s,o,d,2026-01-01,Sometimes,Low,\n"
	    "R-1,s,o,d,2026-01-01,Low,Low,\n"
	    "R-7,\"multi\nline\",o,d,2026-01-01,Low,Low,\"tab\there\"\n"
	    "R-8,s,o,d,2026-01-01,Low,Low,\"ok\"\n", header);
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("row 3, severity", "\"Huge\" is not Low, Medium or High");
	ASSERT_ERROR("row 4, date identified", "\"2026-02-30\": no such calendar date");
	ASSERT_ERROR("row 5, owner", "is required");
	ASSERT_ERROR("row 5, date identified", "not a date of the form YYYY-MM-DD");
	ASSERT_ERROR("row 6, id", "\"R 5\": use 1 to 64 letters");
	ASSERT_ERROR("row 6, likelihood", "\"Sometimes\" is not Low, Medium or High");
	ASSERT_ERROR("row 7, id", "\"R-1\" is also on row 2");
	ASSERT_ERROR("row 8, system", "line break or a tab");
	/* Row 8 starts on line 8 but its line break pushed row 9 to line 10. */
	ASSERT_ERROR("row 8, status", "line break or a tab");
	ASSERT_INT_EQ(err.n, 9);

	TEST_START("a row with the wrong number of fields");
	(void)snprintf(text, sizeof(text), "%sR-1,s,o,d, e,2026-01-01,High,High,active\n",
	    header);
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("row 2", "9 fields, but the header has 8");

	TEST_START("a row after a multi-line field names its line too");
	(void)snprintf(text, sizeof(text), "%sR-1,s,o,\"a\nb\",2026-01-01,High,High,\n"
	    "R-2,s,o,d,2026-01-01,High,Huge,\n", header);
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("row 3 (line 4), severity", "\"Huge\"");

	TEST_START("quotes: stray, text after the closing one, never closed");
	(void)snprintf(text, sizeof(text), "%sR-1,s,o,say \"hi\",2026-01-01,High,High,\n"
	    "R-2,s,o,\"d\"x,2026-01-01,High,High,\n", header);
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("row 2, description", "a '\"' in a field that is not quoted");
	ASSERT_ERROR("row 3, description", "text after the closing '\"'");
	(void)snprintf(text, sizeof(text), "%sR-1,s,o,d,2026-01-01,High,High,\n"
	    "R-2,s,o,\"never closed,2026-01-01,High,High,\n", header);
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("row 3, description", "starts on line 3 never ends");

	TEST_START("NUL bytes and invalid UTF-8 name line and column");
	{
		static const char nul[] = "id,system\nR-1,s\0x\n";
		struct risk_set *s = NULL;

		gd_err_init(&err);
		ASSERT_INT_EQ(risk_parse(nul, sizeof(nul) - 1, RISK_FORMAT_CSV, &s, &err), -EINVAL);
		ASSERT_ERROR("(root)", "line 2, column 6: a NUL byte");
		ASSERT_TRUE(s == NULL);
	}
	(void)snprintf(text, sizeof(text), "%sR-1,s,o,caf\xe9,2026-01-01,High,High,\n", header);
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("(root)", "line 2, column 12: invalid UTF-8");
	ASSERT_INT_EQ(err.n, 1);

	TEST_START("control characters, lengths");
	(void)snprintf(text, sizeof(text), "%sR-1,s\x01,o,d\x7f,2026-01-01,High,High,\n"
	    "%.*s,s,o,d,2026-01-01,High,High,\n", header, 65,
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("row 2, system", "control character (byte 0x01)");
	ASSERT_ERROR("row 2, description", "control character (byte 0x7f)");
	ASSERT_ERROR("row 3, id", "65 bytes long, more than the limit of 64");
}

static void
test_csv_header(void)
{
	TEST_START("header: unknown, repeated and missing columns, all reported");
	parse_bad(RISK_FORMAT_CSV, "id,system,owner,description,Sevrity,likelihood,System\n"
	    "R-1,s,o,d,High,High,s\n");
	ASSERT_ERROR("header, column 5", "\"Sevrity\" is not a column of the risk matrix");
	ASSERT_ERROR("header, column 7", "\"System\" is column 2 again");
	ASSERT_ERROR("header", "the column \"date identified\" is missing");
	ASSERT_ERROR("header", "the column \"severity\" is missing");

	TEST_START("header: ';' as the separator gets a hint");
	parse_bad(RISK_FORMAT_CSV, "id;system;owner\nR-1;s;o\n");
	ASSERT_ERROR("header, column 1", "separated by ',' here, not ';'");
	ASSERT_INT_EQ(err.n, 1);

	TEST_START("an unnamed column is fine while it stays empty");
	parse_bad(RISK_FORMAT_CSV, "id,system,owner,description,identified,likelihood,severity,\n"
	    "R-1,s,o,d,2026-01-01,High,High,\n"
	    "R-2,s,o,d,2026-01-01,High,High,x\n");
	ASSERT_ERROR("row 3, column 8", "no name in the header");
	ASSERT_INT_EQ(err.n, 1);

	TEST_START("blank files and files without rows");
	parse_bad(RISK_FORMAT_CSV, "\n\n");
	ASSERT_ERROR("(root)", "the file is blank");
	parse_bad(RISK_FORMAT_CSV, "id,system,owner,description,identified,likelihood,severity\n");
	ASSERT_ERROR("(root)", "no risks");
	parse_bad(RISK_FORMAT_CSV, "");
	ASSERT_ERROR("(root)", "the input is empty");
	parse_bad(RISK_FORMAT_CSV, "\xef\xbb\xbf");
	ASSERT_ERROR("(root)", "the input is empty");
}

static const char good_json[] =
    "[{\"id\": \"R-1\", \"system\": \"checkout\", \"owner\": \"payments\",\n"
    "  \"description\": \"Primary fails\\nreplica lags\", \"identified\": \"2026-01-12\",\n"
    "  \"likelihood\": \"medium\", \"severity\": \"High\", \"mitigation\": \"failover\",\n"
    "  \"status\": \"active\", \"eta\": null, \"monitoring\": \"lag alert\",\n"
    "  \"triggered_plan\": \"page\", \"comment\": \"\"},\n"
    " {\"id\": \"R-2\", \"system\": \"s\", \"owner\": \"o\", \"description\": \"d\",\n"
    "  \"identified\": \"2026-02-01\", \"likelihood\": \"Low\", \"severity\": \"Low\"}]\n";

static void
test_json(void)
{
	struct risk_set *s;

	TEST_START("JSON: snake_case keys, null and missing optional keys");
	if ((s = parse_ok(RISK_FORMAT_JSON, good_json)) == NULL)
		return;
	ASSERT_INT_EQ(s->n, 2);
	ASSERT_STR_EQ(s->items[0].v[RISK_DESCRIPTION], "Primary fails\nreplica lags");
	ASSERT_STR_EQ(s->items[0].v[RISK_LIKELIHOOD], "Medium");
	ASSERT_STR_EQ(s->items[0].v[RISK_ETA], "");
	ASSERT_STR_EQ(s->items[1].v[RISK_STATUS], "");
	ASSERT_INT_EQ(s->items[1].row, 1);
	risk_set_free(s);

	TEST_START("JSON: every problem at its path");
	parse_bad(RISK_FORMAT_JSON,
	    "[{\"id\": \"R-1\", \"system\": \"s\", \"owner\": \"o\", \"description\": \"d\","
	    "  \"identified\": \"2026-01-01\", \"likelihood\": \"High\", \"severity\": \"Huge\","
	    "  \"date identified\": \"x\", \"eta\": 3},"
	    " \"R-2\","
	    " {\"id\": \"R-1\", \"system\": \"s\", \"owner\": \"o\", \"description\": \"d\","
	    "  \"identified\": \"2026-01-01\", \"likelihood\": \"High\", \"severity\": \"Low\","
	    "  \"id\": \"R-9\"}]");
	ASSERT_ERROR("[0].severity", "\"Huge\" is not Low, Medium or High");
	ASSERT_ERROR("[0][\"date identified\"]", "unknown key");
	ASSERT_ERROR("[0].eta", "expected a string, found a number");
	ASSERT_ERROR("[1]", "expected an object, found a string");
	ASSERT_ERROR("[2].id", "the key appears twice");
	ASSERT_ERROR("[2].id", "\"R-1\" is also at [0]");

	TEST_START("JSON: the document itself");
	parse_bad(RISK_FORMAT_JSON, "{\"risks\": []}");
	ASSERT_ERROR("(root)", "expected an array of risks, found an object");
	parse_bad(RISK_FORMAT_JSON, "[]");
	ASSERT_ERROR("(root)", "the array is empty");
	parse_bad(RISK_FORMAT_JSON, "[{\"id\": \"R-1\"");
	ASSERT_ERROR("(root)", "truncated");
	parse_bad(RISK_FORMAT_JSON, "[{\"id\": \"R-\\u0000\"}]");
	ASSERT_ERROR("(root)", "NUL");
}

static void
test_limits(void)
{
	static const char row[] = "R-%05zu,s,o,d,2026-01-01,Low,Low,\n";
	size_t cap = (GD_MAX_RISK_ROWS + 2) * 40, len;
	struct risk_set *s = NULL;
	char *text, *desc;

	TEST_START("10,000 rows are fine, 10,001 are not");
	if ((text = malloc(cap)) == NULL)
		abort();
	len = (size_t)snprintf(text, cap, "%s", header);
	for (size_t i = 0; i < GD_MAX_RISK_ROWS; i++)
		len += (size_t)snprintf(text + len, cap - len, row, i);
	gd_err_init(&err);
	ASSERT_INT_EQ(risk_parse(text, len, RISK_FORMAT_CSV, &s, &err), 0);
	ASSERT_INT_EQ(s != NULL ? s->n : 0, GD_MAX_RISK_ROWS);
	s = risk_set_free(s);
	len += (size_t)snprintf(text + len, cap - len, row, (size_t)GD_MAX_RISK_ROWS);
	gd_err_init(&err);
	ASSERT_INT_EQ(risk_parse(text, len, RISK_FORMAT_CSV, &s, &err), -EINVAL);
	ASSERT_ERROR("(root)", "more than 10000 risks");
	free(text);

	TEST_START("a description over its limit, a file over the size limit");
	if ((text = malloc(GD_MAX_RISK_FILE_BYTES + 2)) == NULL ||
	    (desc = malloc(GD_MAX_RISK_TEXT_BYTES + 2)) == NULL)
		abort();
	memset(desc, 'x', GD_MAX_RISK_TEXT_BYTES + 1);
	desc[GD_MAX_RISK_TEXT_BYTES + 1] = '\0';
	(void)snprintf(text, GD_MAX_RISK_FILE_BYTES, "%sR-1,s,o,%s,2026-01-01,Low,Low,\n",
	    header, desc);
	parse_bad(RISK_FORMAT_CSV, text);
	ASSERT_ERROR("row 2, description", "4097 bytes long, more than the limit of 4096");
	memset(text, ' ', GD_MAX_RISK_FILE_BYTES + 1);
	gd_err_init(&err);
	ASSERT_INT_EQ(risk_parse(text, GD_MAX_RISK_FILE_BYTES + 1, RISK_FORMAT_CSV, &s, &err),
	    -EINVAL);
	ASSERT_ERROR("(root)", "more than the limit of 1048576");
	free(text);
	free(desc);
}

static void
test_helpers(void)
{
	enum risk_format f;
	enum risk_level l;

	TEST_START("format sniffing and names, levels, ids");
	ASSERT_INT_EQ(risk_format_sniff("\xef\xbb\xbf \n [", 7), RISK_FORMAT_JSON);
	ASSERT_INT_EQ(risk_format_sniff("id,system", 9), RISK_FORMAT_CSV);
	ASSERT_INT_EQ(risk_format_sniff("", 0), RISK_FORMAT_CSV);
	ASSERT_INT_EQ(risk_format_parse("JSON", &f), 0);
	ASSERT_INT_EQ(f, RISK_FORMAT_JSON);
	ASSERT_INT_EQ(risk_format_parse("xml", &f), -EINVAL);
	ASSERT_INT_EQ(risk_level_parse("mEdIuM", &l), 0);
	ASSERT_INT_EQ(l, RISK_MEDIUM);
	ASSERT_INT_EQ(risk_level_parse("Med", &l), -EINVAL);
	ASSERT_STR_EQ(risk_level_name(RISK_HIGH), "High");
	ASSERT_TRUE(risk_id_valid("R-1.a_b"));
	ASSERT_TRUE(!risk_id_valid(""));
	ASSERT_TRUE(!risk_id_valid("R/1"));
	ASSERT_STR_EQ(risk_key(RISK_TRIGGERED_PLAN), "triggered_plan");
	ASSERT_STR_EQ(risk_column_name(RISK_IDENTIFIED), "date identified");
}

/* CSV in, JSON out, JSON in again: the same risks. */
static void
test_round_trip(void)
{
	struct risk_set *a, *b = NULL;
	cJSON *arr;
	char *text;

	TEST_START("what is read prints as JSON that reads back the same");
	if ((a = parse_ok(RISK_FORMAT_CSV, book_csv)) == NULL)
		return;
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < a->n; i++)
		(void)cJSON_AddItemToArray(arr, risk_to_json(&a->items[i]));
	text = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if ((b = parse_ok(RISK_FORMAT_JSON, text)) != NULL) {
		ASSERT_INT_EQ(b->n, a->n);
		for (size_t i = 0; i < a->n && i < b->n; i++)
			ASSERT_TRUE(risk_equal(&a->items[i], &b->items[i]));
	}
	gd_free(text);
	risk_set_free(a);
	risk_set_free(b);
}

/* Fails the 1st, 2nd, ... allocation in turn: -ENOMEM and nothing leaked, until it passes. */
static void
test_alloc_failures(void)
{
	static const char *const inputs[] = { book_csv, good_json };
	unsigned long n = 0;
	int r;

	for (size_t k = 0; k < 2; k++) {
		TEST_START(k == 0 ? "every allocation failure while reading CSV is handled" :
		    "every allocation failure while reading JSON is handled");
		r = -ENOMEM;
		for (n = 1; n < 100000 && r != 0; n++) {
			struct risk_set *s = NULL;

			gd_alloc_fail_at(n);
			r = parse(k == 0 ? RISK_FORMAT_CSV : RISK_FORMAT_JSON, inputs[k], &s);
			gd_alloc_fail_at(0);
			if (r == 0) {
				risk_set_free(s);
				break;
			}
			if (r != -ENOMEM || s != NULL || !has_error("(root)", "out of memory")) {
				TEST_FAIL("allocation %lu: r=%d", n, r);
				dump_errors();
				break;
			}
		}
		ASSERT_INT_EQ(r, 0);
		ASSERT_TRUE(n > 5);	/* The sweep did cover the reader's allocations. */
		printf("allocation-failure sweep (%s): %lu points\n", k == 0 ? "CSV" : "JSON", n);
	}
}

int
main(void)
{
	gd_alloc_init_cjson();
	test_book_csv();
	test_aliases();
	test_csv_errors();
	test_csv_header();
	test_json();
	test_limits();
	test_helpers();
	test_round_trip();
	test_alloc_failures();
	return test_done();
}
