#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
gd_err_init(struct gd_err *err)
{
	err->n = 0;
	err->dropped = 0;
}

void
gd_err_add(struct gd_err *err, const char *path, const char *fmt, ...)
{
	struct gd_err_item *it;
	va_list ap;

	if (err == NULL)
		return;
	if (err->n == GD_MAX_ERRORS) {
		err->dropped++;
		return;
	}
	it = &err->items[err->n++];
	(void)snprintf(it->path, sizeof(it->path), "%s", path != NULL && *path ? path : "(root)");
	va_start(ap, fmt);
	(void)vsnprintf(it->msg, sizeof(it->msg), fmt, ap);
	va_end(ap);
}

size_t
gd_err_count(const struct gd_err *err)
{
	return err->n + err->dropped;
}

int
gd_err_has_path(const struct gd_err *err, const char *path)
{
	for (size_t i = 0; i < err->n; i++)
		if (strcmp(err->items[i].path, path) == 0)
			return 1;
	return 0;
}
