/*
 * The web dashboard (docs/dashboard.md): the files of controller/ui/, built into gamedayd
 * by cmake/embed.cmake (which generates ui_files.c in the build tree).  ui.c serves them.
 */
#ifndef GD_UI_H
#define GD_UI_H

#include <stddef.h>

struct ui_file {
	const char *name;		/* "app.js": a plain file name, no '/'. */
	const unsigned char *data;	/* NUL-terminated; the NUL is not counted in len. */
	size_t len;
};

/* Every embedded file, ending with a NULL name. */
extern const struct ui_file ui_files[];

/* The embedded file called name, or NULL. */
const struct ui_file *ui_find(const char *name);

#endif
