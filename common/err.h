/*
 * Errors a user must act on: a JSON path and a reason, collected so that a validator can
 * report every problem at once.  No allocation: an error can be recorded while out of memory.
 */
#ifndef GD_ERR_H
#define GD_ERR_H

#include <stddef.h>

#include "limits.h"

struct gd_err_item {
	char path[GD_MAX_JSON_PATH];
	char msg[GD_MAX_ERROR_MSG];
};

struct gd_err {
	struct gd_err_item items[GD_MAX_ERRORS];
	size_t n;		/* Items filled. */
	size_t dropped;		/* Errors beyond GD_MAX_ERRORS, counted only. */
};

void gd_err_init(struct gd_err *err);
/* Records "path: reason".  err may be NULL (the caller only wants the return code). */
void gd_err_add(struct gd_err *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t gd_err_count(const struct gd_err *err);
/* Does any recorded error have exactly this path? (tests) */
int gd_err_has_path(const struct gd_err *err, const char *path);

#endif
