#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"

#define ARENA_BLOCK	(16 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	alignas(16) unsigned char data[];
};

struct arena {
	struct arena_block *head;
};

struct arena *
arena_new(void)
{
	return gd_calloc(1, sizeof(struct arena));
}

struct arena *
arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	if (a == NULL)
		return NULL;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		gd_free(b);
	}
	gd_free(a);
	return NULL;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t need, size;
	void *p;

	if (gd_add_size(n, 15, &need) < 0)
		return NULL;
	need &= ~(size_t)15;
	if (b == NULL || b->size - b->used < need) {
		size = need > ARENA_BLOCK ? need : ARENA_BLOCK;
		if (gd_add_size(size, sizeof(*b), &size) < 0 || (b = gd_malloc(size)) == NULL)
			return NULL;
		b->size = size - sizeof(*b);
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = arena_alloc(a, n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}
