/*
 * Allocation wrappers.  Every allocation of the project goes through here so that tests can
 * make the Nth one fail (GD_ALLOC_FAIL_AT=N in the environment, or gd_alloc_fail_at()), the
 * way curl's torture tests do.  Sizes are computed with the overflow-checked helpers.
 */
#ifndef GD_ALLOC_H
#define GD_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *gd_malloc(size_t n);
void *gd_calloc(size_t nmemb, size_t size);
void *gd_realloc(void *p, size_t n);
char *gd_strdup(const char *s);
char *gd_strndup(const char *s, size_t n);
void gd_free(void *p);

/* Make the nth allocation from now on fail (1 = the next one); 0 turns failures off. */
void gd_alloc_fail_at(unsigned long n);
/* Allocations made since the counter was last set. */
unsigned long gd_alloc_count(void);
/* Allocations that returned NULL in this thread, injected or real. */
unsigned long gd_alloc_failures(void);
/* True once an injected failure has happened since gd_alloc_fail_at(). */
bool gd_alloc_failed(void);

/* Overflow-checked arithmetic: 0 on success, -EOVERFLOW otherwise (*ret untouched). */
int gd_mul_size(size_t a, size_t b, size_t *ret);
int gd_add_size(size_t a, size_t b, size_t *ret);

/* Routes cJSON's allocations through gd_malloc()/gd_free(). */
void gd_alloc_init_cjson(void);

#endif
