#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "parse.h"

void
jctx_init(struct jctx *c, struct gd_err *err)
{
	c->err = err;
	c->path[0] = '\0';
	c->len = 0;
	c->oom = false;
}

/* Appends text (already formatted) to the path; a path too long is cut, still a prefix. */
static size_t
jpath_append(struct jctx *c, const char *text)
{
	size_t old = c->len, n = strlen(text);

	if (n >= sizeof(c->path) - c->len)
		n = sizeof(c->path) - c->len - 1;
	memcpy(c->path + c->len, text, n);
	c->len += n;
	c->path[c->len] = '\0';
	return old;
}

/* A key that can stand bare in a path: letters, digits, '_' and '-'. */
static bool
key_is_plain(const char *key)
{
	if (*key == '\0')
		return false;
	for (; *key != '\0'; key++)
		if (!((*key >= 'a' && *key <= 'z') || (*key >= 'A' && *key <= 'Z') ||
		    (*key >= '0' && *key <= '9') || *key == '_' || *key == '-'))
			return false;
	return true;
}

/*
 * Plain keys as ".key"; any other key quoted and escaped, as ["a.b"], so that a key cannot
 * forge a path.
 */
size_t
jpath_push_key(struct jctx *c, const char *key)
{
	size_t old = c->len;

	if (key_is_plain(key)) {
		if (c->len > 0)
			(void)jpath_append(c, ".");
		(void)jpath_append(c, key);
	} else {
		(void)jpath_append(c, "[");
		(void)jpath_append(c, j_quote(key));
		(void)jpath_append(c, "]");
	}
	return old;
}

size_t
jpath_push_index(struct jctx *c, size_t i)
{
	char buf[32];

	(void)snprintf(buf, sizeof(buf), "[%zu]", i);
	return jpath_append(c, buf);
}

void
jpath_pop(struct jctx *c, size_t len)
{
	c->len = len;
	c->path[len] = '\0';
}

void
j_error(struct jctx *c, const char *key, const char *fmt, ...)
{
	char msg[GD_MAX_ERROR_MSG];
	size_t old = c->len;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key != NULL)
		(void)jpath_push_key(c, key);
	gd_err_add(c->err, c->path, "%s", msg);
	jpath_pop(c, old);
}

const char *
j_quote(const char *s)
{
	static _Thread_local char ring[4][96];
	static _Thread_local unsigned slot;
	char *out = ring[slot++ % 4];
	size_t o = 0;

	out[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (o > 80) {
			memcpy(out + o, "...\"", 5);
			return out;
		}
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, 7, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

const char *
j_type_name(const cJSON *n)
{
	if (cJSON_IsString(n))
		return "a string";
	if (cJSON_IsNumber(n))
		return "a number";
	if (cJSON_IsBool(n))
		return "a boolean";
	if (cJSON_IsNull(n))
		return "null";
	if (cJSON_IsArray(n))
		return "an array";
	if (cJSON_IsObject(n))
		return "an object";
	return "an unknown value";
}

static void
line_col(const char *buf, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Length of the UTF-8 sequence at p (at most n bytes), or 0 when it is not valid UTF-8. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * NUL bytes, \u0000, UTF-8 and nesting depth, in one pass; records the first problem.
 * *open tells whether the text ends inside a string or with brackets left open, which is
 * how a truncated file looks.
 */
static int
json_prescan(const char *buf, size_t len, bool *open, struct gd_err *err)
{
	const unsigned char *p = (const unsigned char *)buf;
	bool in_string = false, escaped = false;
	size_t depth = 0, line, col;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);
		const char *what = NULL;

		if (p[i] == 0)
			what = "a NUL byte is not allowed";
		else if (n == 0)
			what = "invalid UTF-8";
		if (what == NULL && !in_string && (p[i] == '{' || p[i] == '[') &&
		    ++depth > GD_MAX_JSON_DEPTH)
			what = "nested deeper than 32 levels";
		if (what != NULL) {
			line_col(buf, i, &line, &col);
			gd_err_add(err, NULL, "line %zu, column %zu: %s", line, col, what);
			return -EINVAL;
		}
		if (in_string) {
			if (escaped && p[i] == 'u' && len - i >= 5 && memcmp(p + i + 1, "0000", 4) == 0) {
				/* cJSON would cut the string there; refuse rather than truncate. */
				line_col(buf, i - 1, &line, &col);
				gd_err_add(err, NULL, "line %zu, column %zu: \\u0000 (a NUL character) "
				    "is not allowed in a string", line, col);
				return -EINVAL;
			}
			if (escaped)
				escaped = false;
			else if (p[i] == '\\')
				escaped = true;
			else if (p[i] == '"')
				in_string = false;
		} else if (p[i] == '"') {
			in_string = true;
		} else if ((p[i] == '}' || p[i] == ']') && depth > 0) {
			depth--;
		}
		i += n;
	}
	*open = in_string || depth > 0;
	return 0;
}

int
json_parse_doc(const char *buf, size_t len, size_t max_bytes, cJSON **ret, struct gd_err *err)
{
	const char *end = NULL;
	size_t line, col, off;
	unsigned long failures;
	bool open = false;
	cJSON *root;

	if (len == 0) {
		gd_err_add(err, NULL, "the input is empty");
		return -EINVAL;
	}
	if (len > max_bytes) {
		gd_err_add(err, NULL, "the input is %zu bytes, more than the limit of %zu", len,
		    max_bytes);
		return -EINVAL;
	}
	if (json_prescan(buf, len, &open, err) < 0)
		return -EINVAL;
	failures = gd_alloc_failures();
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		/* cJSON reports an out-of-memory as a syntax error; the allocator knows better. */
		if (gd_alloc_failures() != failures || cJSON_GetErrorPtr() == NULL)
			return -ENOMEM;
		end = cJSON_GetErrorPtr();
		off = (size_t)(end - buf) <= len ? (size_t)(end - buf) : len;
		line_col(buf, off < len ? off : len, &line, &col);
		if (open)
			gd_err_add(err, NULL, "line %zu, column %zu: invalid JSON at the end of the "
			    "input (is the file truncated?)", line, col);
		else
			gd_err_add(err, NULL, "line %zu, column %zu: invalid JSON", line, col);
		return -EINVAL;
	}
	off = (size_t)(end - buf);
	while (off < len && (buf[off] == ' ' || buf[off] == '\n' || buf[off] == '\t' ||
	    buf[off] == '\r'))
		off++;
	if (off < len) {
		line_col(buf, off, &line, &col);
		gd_err_add(err, NULL, "line %zu, column %zu: unexpected text after the JSON value",
		    line, col);
		cJSON_Delete(root);
		return -EINVAL;
	}
	*ret = root;
	return 0;
}

bool
j_object(struct jctx *c, const cJSON *node, const char *const *allowed)
{
	const cJSON *a, *b;
	size_t n = 0;

	if (!cJSON_IsObject(node)) {
		j_error(c, NULL, "expected an object, found %s", j_type_name(node));
		return false;
	}
	cJSON_ArrayForEach(a, node)
		n++;
	if (n > GD_MAX_ERRORS * 2) {
		j_error(c, NULL, "an object with %zu keys; no object here has more than %d", n,
		    GD_MAX_ERRORS * 2);
		return false;
	}
	cJSON_ArrayForEach(a, node) {
		size_t i;

		for (b = node->child; b != a; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				break;
		if (b != a) {
			j_error(c, a->string, "the key appears twice");
			continue;
		}
		if (allowed == NULL)
			continue;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], a->string) == 0)
				break;
		if (allowed[i] == NULL)
			j_error(c, a->string, "unknown key");
	}
	return true;
}

const cJSON *
j_get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Fetches key; records "is required" when missing and required.  NULL when absent. */
static const cJSON *
j_fetch(struct jctx *c, const cJSON *obj, const char *key, bool required)
{
	const cJSON *v = j_get(obj, key);

	if (v == NULL && required)
		j_error(c, key, "is required");
	return v;
}

bool
j_string(struct jctx *c, const cJSON *obj, const char *key, bool required, size_t max_bytes,
    const char **ret)
{
	const cJSON *v = j_fetch(c, obj, key, required);
	size_t n;

	if (v == NULL)
		return false;
	if (!cJSON_IsString(v)) {
		j_error(c, key, "expected a string, found %s", j_type_name(v));
		return false;
	}
	n = strlen(v->valuestring);
	if (n == 0) {
		j_error(c, key, "must not be empty");
		return false;
	}
	if (n > max_bytes) {
		j_error(c, key, "is %zu bytes long, more than the limit of %zu", n, max_bytes);
		return false;
	}
	*ret = v->valuestring;
	return true;
}

bool
j_number(struct jctx *c, const cJSON *obj, const char *key, bool required, double min,
    double max, double *ret)
{
	const cJSON *v = j_fetch(c, obj, key, required);

	if (v == NULL)
		return false;
	if (!cJSON_IsNumber(v)) {
		j_error(c, key, "expected a number, found %s", j_type_name(v));
		return false;
	}
	if (!isfinite(v->valuedouble) || v->valuedouble < min || v->valuedouble > max) {
		j_error(c, key, "%.9g is not in %.9g..%.9g", v->valuedouble, min, max);
		return false;
	}
	*ret = v->valuedouble;
	return true;
}

bool
j_int(struct jctx *c, const cJSON *obj, const char *key, bool required, int64_t min,
    int64_t max, int64_t *ret)
{
	const cJSON *v = j_fetch(c, obj, key, required);
	double d;

	if (v == NULL)
		return false;
	if (!cJSON_IsNumber(v)) {
		j_error(c, key, "expected a whole number, found %s", j_type_name(v));
		return false;
	}
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d)) {
		j_error(c, key, "%.9g is not a whole number", d);
		return false;
	}
	if (d < (double)min || d > (double)max) {
		j_error(c, key, "%.17g is not in %lld..%lld", d, (long long)min, (long long)max);
		return false;
	}
	*ret = (int64_t)d;
	return true;
}

bool
j_bool(struct jctx *c, const cJSON *obj, const char *key, bool *ret)
{
	const cJSON *v = j_get(obj, key);

	if (v == NULL)
		return false;
	if (!cJSON_IsBool(v)) {
		j_error(c, key, "expected true or false, found %s", j_type_name(v));
		return false;
	}
	*ret = cJSON_IsTrue(v);
	return true;
}

bool
j_duration(struct jctx *c, const cJSON *obj, const char *key, bool required, uint64_t min_ms,
    uint64_t max_ms, uint64_t *ret)
{
	const char *s, *why = NULL;
	char lo[32], hi[32];
	uint64_t ms;

	if (!j_string(c, obj, key, required, 64, &s))
		return false;
	if (duration_parse(s, &ms, &why) < 0) {
		j_error(c, key, "%s is not a duration: %s", j_quote(s), why);
		return false;
	}
	if (ms < min_ms || ms > max_ms) {
		duration_format(min_ms, lo, sizeof(lo));
		duration_format(max_ms, hi, sizeof(hi));
		j_error(c, key, "%s is not in %s..%s", j_quote(s), lo, hi);
		return false;
	}
	*ret = ms;
	return true;
}

const cJSON *
j_array(struct jctx *c, const cJSON *obj, const char *key, bool required, size_t min_items,
    size_t max_items, size_t *ret_n)
{
	const cJSON *v = j_fetch(c, obj, key, required);
	size_t n;

	if (v == NULL)
		return NULL;
	if (!cJSON_IsArray(v)) {
		j_error(c, key, "expected an array, found %s", j_type_name(v));
		return NULL;
	}
	n = (size_t)cJSON_GetArraySize(v);
	if (n < min_items) {
		if (min_items == 1)
			j_error(c, key, "must not be empty");
		else
			j_error(c, key, "needs at least %zu items", min_items);
		return NULL;
	}
	if (n > max_items) {
		j_error(c, key, "has %zu items, more than the limit of %zu", n, max_items);
		return NULL;
	}
	*ret_n = n;
	return v;
}
