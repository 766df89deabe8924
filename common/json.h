/*
 * Reading untrusted JSON into typed values, with every problem recorded against its JSON
 * path.  json_parse_doc() checks what cJSON does not (size, NUL bytes, UTF-8, depth) and
 * turns syntax errors into line and column; the j_* getters check one key each and record
 * "path: reason" errors, so a caller can walk a whole document and report everything.
 * Strings returned by the getters are borrowed from the cJSON tree.
 */
#ifndef GD_JSON_H
#define GD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "limits.h"

struct jctx {
	struct gd_err *err;
	char path[GD_MAX_JSON_PATH];
	size_t len;
	bool oom;		/* An allocation failed: the caller reports it once. */
};

void jctx_init(struct jctx *c, struct gd_err *err);
/* Appends ".key" (or "key" at the root) / "[i]"; returns the length to restore. */
size_t jpath_push_key(struct jctx *c, const char *key);
size_t jpath_push_index(struct jctx *c, size_t i);
void jpath_pop(struct jctx *c, size_t len);
/* Records an error at the current path, or at path.key when key is not NULL. */
void j_error(struct jctx *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Escaped, quoted and shortened user text for a message ("\"2x\""); thread-local ring. */
const char *j_quote(const char *s);
/* The JSON type of a node in words: "a string", "a number", ... */
const char *j_type_name(const cJSON *node);

/*
 * Parses buf[0..len) as one JSON document of at most max_bytes.  On success the caller owns
 * *ret (cJSON_Delete()).  Errors are recorded at path "(root)" with line and column.
 * Returns 0, -EINVAL (bad input, recorded) or -ENOMEM.
 */
int json_parse_doc(const char *buf, size_t len, size_t max_bytes, cJSON **ret,
    struct gd_err *err);

/*
 * Checks that node is an object whose keys are all in allowed (NULL-terminated), with no
 * key twice and at most GD_MAX_ERRORS * 2 keys.  Records errors; false when node is not an
 * object at all (then nothing inside should be read).
 */
bool j_object(struct jctx *c, const cJSON *node, const char *const *allowed);

/* Getters: the key's value if present and of the right type, else an error is recorded. */
const cJSON *j_get(const cJSON *obj, const char *key);
bool j_string(struct jctx *c, const cJSON *obj, const char *key, bool required,
    size_t max_bytes, const char **ret);
bool j_int(struct jctx *c, const cJSON *obj, const char *key, bool required, int64_t min,
    int64_t max, int64_t *ret);
bool j_number(struct jctx *c, const cJSON *obj, const char *key, bool required, double min,
    double max, double *ret);
bool j_bool(struct jctx *c, const cJSON *obj, const char *key, bool *ret);
/* A duration string in [min_ms, max_ms]. */
bool j_duration(struct jctx *c, const cJSON *obj, const char *key, bool required,
    uint64_t min_ms, uint64_t max_ms, uint64_t *ret);
/* An array of at most max_items (min_items when present); *ret_n is its size. */
const cJSON *j_array(struct jctx *c, const cJSON *obj, const char *key, bool required,
    size_t min_items, size_t max_items, size_t *ret_n);

#endif
