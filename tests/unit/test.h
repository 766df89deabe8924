/*
 * A minimal test harness: each test file is a main() that runs TEST_START blocks.  A failed
 * assertion prints file:line and the values, counts the failure and returns from the test
 * function; the process exits 1 if anything failed.  The last line is "N passed, N failed".
 */
#ifndef GD_TEST_H
#define GD_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_count, test_passed_count, test_cur_failed;
static const char *test_cur_name;

#define TEST_START(name)						\
	do {								\
		test_end_current();					\
		test_cur_name = (name);					\
		test_cur_failed = 0;					\
	} while (0)

static inline void
test_end_current(void)
{
	if (test_cur_name == NULL)
		return;
	if (test_cur_failed)
		test_failed_count++;
	else
		test_passed_count++;
	test_cur_name = NULL;
}

static inline int
test_done(void)
{
	test_end_current();
	printf("%d passed, %d failed\n", test_passed_count, test_failed_count);
	return test_failed_count == 0 ? 0 : 1;
}

#define TEST_FAIL(...)							\
	do {								\
		fprintf(stderr, "%s:%d: [%s] ", __FILE__, __LINE__,	\
		    test_cur_name ? test_cur_name : "?");		\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		test_cur_failed = 1;					\
	} while (0)

#define ASSERT_TRUE(x)							\
	do {								\
		if (!(x))						\
			TEST_FAIL("expected true: %s", #x);		\
	} while (0)

#define ASSERT_INT_EQ(a, b)						\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b)						\
			TEST_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);	\
	} while (0)

#define ASSERT_U64_EQ(a, b)						\
	do {								\
		unsigned long long _a = (a), _b = (b);			\
		if (_a != _b)						\
			TEST_FAIL("%s == %s: %llu != %llu", #a, #b, _a, _b);	\
	} while (0)

#define ASSERT_DBL_NEAR(a, b, eps)					\
	do {								\
		double _a = (a), _b = (b);				\
		if (!(fabs(_a - _b) <= (eps)))				\
			TEST_FAIL("%s ~= %s: %.9g != %.9g", #a, #b, _a, _b);	\
	} while (0)

#define ASSERT_STR_EQ(a, b)						\
	do {								\
		const char *_a = (a), *_b = (b);			\
		if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0)	\
			TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,	\
			    _a ? _a : "(null)", _b ? _b : "(null)");	\
	} while (0)

#endif
