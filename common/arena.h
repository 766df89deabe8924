/*
 * A bump allocator for objects that live and die together (a parsed playbook and all its
 * strings): one free releases everything, so a half-built object never leaks.
 */
#ifndef GD_ARENA_H
#define GD_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(void);
/* Frees every block; accepts NULL; returns NULL. */
struct arena *arena_free(struct arena *a);
/* Zeroed, 16-byte aligned memory, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);

#endif
