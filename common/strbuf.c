#include "strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "alloc.h"

void
strbuf_addf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->r < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (b->max > 0 && b->len + (size_t)n + 1 > b->max)) {
		b->r = n < 0 ? -EINVAL : -E2BIG;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		char *p;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		if ((p = gd_realloc(b->p, cap)) == NULL) {
			b->r = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	(void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int
strbuf_finish(struct strbuf *b, char **ret)
{
	if (b->r == 0 && b->p == NULL && (b->p = gd_strdup("")) == NULL)
		b->r = -ENOMEM;
	if (b->r < 0) {
		gd_free(b->p);
		b->p = NULL;
		return b->r;
	}
	*ret = b->p;
	b->p = NULL;
	return 0;
}
