/*
 * What the CLI prints of the controller's replies: typed reads of untrusted JSON that never
 * fail ("-" stands for a missing or wrong-typed field), text escaped for a terminal, and
 * plain aligned tables.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "cli.h"

#define TABLE_GAP 2	/* Spaces between columns. */

/*
 * Length of the UTF-8 sequence at p (at most n bytes) and its code point, or 0 when the
 * bytes are not valid UTF-8 (overlong forms and surrogates included).
 */
static size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *ret_cp)
{
	uint32_t cp, min;
	size_t len;

	if (p[0] < 0x80) {
		*ret_cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return len;
}

/* Code points a terminal acts on rather than shows: C1 controls and bidi overrides. */
static bool
is_hidden_control(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Escapes s into out (room for 4 * strlen(s) + 1 bytes: no escape is longer than the bytes
 * it replaces times 4) and returns the width in code points.  keep_lines keeps '\n' and '\t'.
 */
static size_t
escape_into(const char *s, char *out, bool keep_lines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0, width = 0, len;
	uint32_t cp;

	for (size_t i = 0; i < n; i += len, width++) {
		len = utf8_decode(p + i, n - i, &cp);
		if (len == 0) {
			len = 1;
			o += (size_t)snprintf(out + o, 5, "\\x%02x", p[i]);
			width += 3;
		} else if ((cp < 0x20 && !(keep_lines && (cp == '\n' || cp == '\t'))) ||
		    cp == 0x7f) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", (unsigned)cp);
			width += 3;
		} else if (is_hidden_control(cp)) {
			/* 2 or 3 bytes become 6: within the 4x bound. */
			o += (size_t)snprintf(out + o, 7, "\\u%04x", (unsigned)cp);
			width += 5;
		} else {
			memcpy(out + o, p + i, len);
			o += len;
		}
	}
	out[o] = '\0';
	return width;
}

char *
cli_esc_dup(const char *s, size_t *ret_width)
{
	size_t size, width;
	char *out;

	if (s == NULL)
		s = "-";
	if (gd_mul_size(strlen(s), 4, &size) < 0 || gd_add_size(size, 1, &size) < 0 ||
	    (out = gd_malloc(size)) == NULL)
		return NULL;
	width = escape_into(s, out, false);
	if (ret_width != NULL)
		*ret_width = width;
	return out;
}

void
cli_put(FILE *f, const char *s, bool keep_lines)
{
	char small[1024], *out = small;
	size_t size;

	if (s == NULL)
		s = "-";
	if (gd_mul_size(strlen(s), 4, &size) < 0 || gd_add_size(size, 1, &size) < 0)
		return;
	if (size > sizeof(small) && (out = gd_malloc(size)) == NULL) {
		(void)fputs("(out of memory)", f);
		return;
	}
	(void)escape_into(s, out, keep_lines);
	(void)fputs(out, f);
	if (out != small)
		gd_free(out);
}

const cJSON *
cli_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

const char *
cli_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cli_get(obj, key);

	return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "-";
}

const char *
cli_num_text(const cJSON *v, char buf[CLI_NUM_LEN])
{
	double d;

	if (!cJSON_IsNumber(v))
		return "-";
	d = v->valuedouble;
	/* The range first: converting a double beyond int64_t is undefined. */
	if (d > -1e18 && d < 1e18 && d == (double)(int64_t)d)
		(void)snprintf(buf, CLI_NUM_LEN, "%lld", (long long)d);
	else
		(void)snprintf(buf, CLI_NUM_LEN, "%g", d);
	return buf;
}

const char *
cli_num(const cJSON *obj, const char *key, char buf[CLI_NUM_LEN])
{
	return cli_num_text(cli_get(obj, key), buf);
}

const char *
cli_bool(const cJSON *obj, const char *key)
{
	const cJSON *v = cli_get(obj, key);

	if (!cJSON_IsBool(v))
		return "-";
	return cJSON_IsTrue(v) ? "yes" : "no";
}

bool
cli_int(const cJSON *obj, const char *key, int64_t *ret)
{
	const cJSON *v = cli_get(obj, key);
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!(d > -9007199254740992.0 && d < 9007199254740992.0) || d != (double)(int64_t)d)
		return false;
	*ret = (int64_t)d;
	return true;
}

const cJSON *
cli_array(const cJSON *obj, const char *key)
{
	const cJSON *v = cli_get(obj, key);

	return cJSON_IsArray(v) ? v : NULL;
}

int
cli_print_json(const cJSON *v, bool pretty)
{
	char *text = pretty ? cJSON_Print(v) : cJSON_PrintUnformatted(v);

	if (text == NULL) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	(void)puts(text);
	gd_free(text);
	return CLI_OK;
}

struct table {
	size_t ncols;
	size_t nrows, cap;	/* Rows filled and allocated, the header included. */
	char **cells;		/* nrows * ncols escaped texts, row by row. */
	size_t *width;		/* Widest cell of each column, in code points. */
	size_t *cellw;		/* Width of each cell. */
	int r;			/* 0, or the first error (sticks). */
};

struct table *
table_new(size_t ncols, const char *const *header)
{
	struct table *t = gd_calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	if ((t->width = gd_calloc(ncols, sizeof(*t->width))) == NULL)
		return table_free(t);
	table_add(t, header);
	if (t->r < 0)
		return table_free(t);
	return t;
}

static int
table_grow(struct table *t)
{
	size_t cap = t->cap == 0 ? 16 : t->cap, n;
	char **cells;
	size_t *cellw;

	if (t->cap != 0 && gd_mul_size(cap, 2, &cap) < 0)
		return -ENOMEM;
	if (gd_mul_size(cap, t->ncols, &n) < 0 || gd_mul_size(n, sizeof(*cells), &n) < 0)
		return -ENOMEM;
	if ((cells = gd_realloc(t->cells, n)) == NULL)
		return -ENOMEM;
	t->cells = cells;
	if ((cellw = gd_realloc(t->cellw, n / sizeof(*cells) * sizeof(*cellw))) == NULL)
		return -ENOMEM;
	t->cellw = cellw;
	t->cap = cap;
	return 0;
}

void
table_add(struct table *t, const char *const *cells)
{
	size_t base;

	if (t->r < 0)
		return;
	if (t->nrows == t->cap && (t->r = table_grow(t)) < 0)
		return;
	base = t->nrows * t->ncols;
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-";

		if ((t->cells[base + i] = cli_esc_dup(s, &t->cellw[base + i])) == NULL) {
			while (i-- > 0)
				gd_free(t->cells[base + i]);
			t->r = -ENOMEM;
			return;
		}
		if (t->cellw[base + i] > t->width[i])
			t->width[i] = t->cellw[base + i];
	}
	t->nrows++;
}

int
table_print(struct table *t, FILE *f)
{
	if (t->r < 0) {
		(void)fputs("gameday: out of memory\n", stderr);
		return CLI_FAILED;
	}
	for (size_t row = 0; row < t->nrows; row++) {
		for (size_t i = 0; i < t->ncols; i++) {
			size_t c = row * t->ncols + i;

			(void)fputs(t->cells[c], f);
			if (i + 1 < t->ncols)
				(void)fprintf(f, "%*s",
				    (int)(t->width[i] - t->cellw[c] + TABLE_GAP), "");
		}
		(void)fputc('\n', f);
	}
	return CLI_OK;
}

struct table *
table_free(struct table *t)
{
	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		gd_free(t->cells[i]);
	gd_free(t->cells);
	gd_free(t->cellw);
	gd_free(t->width);
	gd_free(t);
	return NULL;
}

int
cli_json_flag(const char *what, int argc, char **argv, bool *ret_json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*ret_json = false;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_bad_option(what, c, argv);
		*ret_json = true;
	}
	return CLI_OK;
}
