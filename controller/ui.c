/*
 * GET / and GET /ui/<file>: the dashboard's static files (docs/dashboard.md).  They need
 * no token: the page asks the user for one and sends it on every API call it makes, so
 * the API's roles apply to the dashboard unchanged.  The files come from the binary itself
 * (ui.h), never from the disk, and go out with a Content-Security-Policy that lets the page
 * load and talk to nothing but this controller.
 */
#include "ui.h"

#include <string.h>

#include "alloc.h"
#include "api.h"
#include "log.h"

/* Sent with every file: no inline script or style, no other origin, no framing. */
static const char *const ui_headers[] = {
	"Cache-Control", "no-cache",
	"Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
	    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options", "nosniff",
	"Referrer-Policy", "no-referrer",
	NULL,
};

static const struct {
	const char *ext;
	const char *type;
} ui_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
};

const struct ui_file *
ui_find(const char *name)
{
	for (const struct ui_file *f = ui_files; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* The Content-Type of a file name, by its extension. */
static const char *
ui_type(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(ui_types) / sizeof(ui_types[0]); i++) {
		size_t e = strlen(ui_types[i].ext);

		if (n > e && strcmp(name + n - e, ui_types[i].ext) == 0)
			return ui_types[i].type;
	}
	return "application/octet-stream";
}

int
api_ui(struct req *q, struct reply *r)
{
	const char *name = strcmp(q->url, "/") == 0 ? "index.html" : q->arg;
	const struct ui_file *f = ui_find(name);
	char *body;

	if (f == NULL) {
		reply_error(r, 404, "not_found", "no dashboard file '%s'", log_esc(name));
		return 0;
	}
	if ((body = gd_malloc(f->len + 1)) == NULL) {
		reply_error(r, 500, "internal", "out of memory");
		return 0;
	}
	memcpy(body, f->data, f->len + 1);
	reply_text(r, 200, ui_type(f->name), body);
	r->len = f->len;	/* Not strlen(): the file may hold a NUL. */
	r->headers = ui_headers;
	return 0;
}
