#include "alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/*
 * Failure injection.  The counters are process-wide and not atomic: tests that use them are
 * single-threaded, and with injection off (the default) the only cost is one comparison.
 */
static unsigned long alloc_fail_at;
static unsigned long alloc_count;
static bool alloc_env_read;
static bool alloc_failed;
static _Thread_local unsigned long alloc_failures;

static void
alloc_read_env(void)
{
	const char *s;
	char *end;
	unsigned long n;

	alloc_env_read = true;
	s = getenv("GD_ALLOC_FAIL_AT");
	if (s == NULL || *s == '\0')
		return;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno == 0 && *end == '\0')
		alloc_fail_at = n;
}

static bool
alloc_should_fail(void)
{
	if (!alloc_env_read)
		alloc_read_env();
	if (alloc_fail_at == 0)
		return false;
	if (++alloc_count == alloc_fail_at) {
		alloc_failed = true;
		alloc_failures++;
		return true;
	}
	return false;
}

unsigned long
gd_alloc_failures(void)
{
	return alloc_failures;
}

/* Counts real failures too, so callers can tell "out of memory" from "bad input". */
static void *
alloc_result(void *p)
{
	if (p == NULL)
		alloc_failures++;
	return p;
}

void
gd_alloc_fail_at(unsigned long n)
{
	alloc_env_read = true;
	alloc_fail_at = n;
	alloc_count = 0;
	alloc_failed = false;
}

unsigned long
gd_alloc_count(void)
{
	return alloc_count;
}

bool
gd_alloc_failed(void)
{
	return alloc_failed;
}

void *
gd_malloc(size_t n)
{
	if (alloc_should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_result(malloc(n == 0 ? 1 : n));
}

void *
gd_calloc(size_t nmemb, size_t size)
{
	size_t n;

	if (gd_mul_size(nmemb, size, &n) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (alloc_should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_result(calloc(1, n == 0 ? 1 : n));
}

void *
gd_realloc(void *p, size_t n)
{
	if (alloc_should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_result(realloc(p, n == 0 ? 1 : n));
}

char *
gd_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d;

	if ((d = gd_malloc(len + 1)) == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *
gd_strdup(const char *s)
{
	return gd_strndup(s, SIZE_MAX - 1);
}

void
gd_free(void *p)
{
	free(p);
}

int
gd_mul_size(size_t a, size_t b, size_t *ret)
{
	size_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return -EOVERFLOW;
	*ret = r;
	return 0;
}

int
gd_add_size(size_t a, size_t b, size_t *ret)
{
	size_t r;

	if (__builtin_add_overflow(a, b, &r))
		return -EOVERFLOW;
	*ret = r;
	return 0;
}

void
gd_alloc_init_cjson(void)
{
	cJSON_Hooks hooks = { .malloc_fn = gd_malloc, .free_fn = gd_free };

	cJSON_InitHooks(&hooks);
}
