/*
 * A growing text buffer for building commands and reports with printf-style appends.  The
 * first error (-ENOMEM, or -E2BIG past max) sticks, later appends do nothing, and
 * strbuf_finish() reports it once: callers append freely and check at the end.
 */
#ifndef GD_STRBUF_H
#define GD_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *p;
	size_t len, cap;
	size_t max;	/* Longest text allowed, NUL included; 0: no limit. */
	int r;		/* 0, or the first error. */
};

void strbuf_addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Hands the text ("" when nothing was added) to *ret, which the caller owns (gd_free()), or
 * frees it on error.  Returns b->r.
 */
int strbuf_finish(struct strbuf *b, char **ret);

#endif
