/*
 * The small value parsers of common/parse.c: numbers, durations, sizes, rates, CIDRs,
 * interface names, signals, dates, times of day, RFC 3339 times and URLs.  Expected values
 * were computed independently (python3 datetime, glibc) and are hard-coded here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "limits.h"
#include "parse.h"
#include "test.h"

/*
 * Each *_OK macro checks success and the value; each *_BAD macro checks the exact error,
 * that a reason was given and that the out-param was left alone.
 */
#define UINT_OK(s, lo, hi, want)						\
	do {									\
		uint64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = parse_uint((s), (lo), (hi), &v_, &why_);		\
		if (r_ != 0)							\
			TEST_FAIL("parse_uint(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else								\
			ASSERT_U64_EQ(v_, (want));				\
	} while (0)

#define UINT_BAD(s, lo, hi, err)						\
	do {									\
		uint64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = parse_uint((s), (lo), (hi), &v_, &why_);		\
		if (r_ != (err))						\
			TEST_FAIL("parse_uint(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_U64_EQ(v_, 4242);					\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define DEC_OK(s, want)								\
	do {									\
		double v_ = -1;							\
		const char *why_ = NULL;					\
		int r_ = parse_decimal((s), strlen(s), &v_, &why_);		\
		if (r_ != 0)							\
			TEST_FAIL("parse_decimal(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else								\
			ASSERT_DBL_NEAR(v_, (want), 1e-12);			\
	} while (0)

#define DEC_BAD(s, err)								\
	do {									\
		double v_ = -1;							\
		const char *why_ = NULL;					\
		int r_ = parse_decimal((s), strlen(s), &v_, &why_);		\
		if (r_ != (err))						\
			TEST_FAIL("parse_decimal(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_TRUE(v_ == -1);						\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define DUR_OK(s, want)								\
	do {									\
		uint64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = duration_parse((s), &v_, &why_);			\
		if (r_ != 0)							\
			TEST_FAIL("duration_parse(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else								\
			ASSERT_U64_EQ(v_, (want));				\
	} while (0)

#define DUR_BAD(s, err)								\
	do {									\
		uint64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = duration_parse((s), &v_, &why_);			\
		if (r_ != (err))						\
			TEST_FAIL("duration_parse(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_U64_EQ(v_, 4242);					\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define DUR_FMT(ms, want)							\
	do {									\
		char b_[32];							\
		duration_format((ms), b_, sizeof(b_));				\
		ASSERT_STR_EQ(b_, (want));					\
	} while (0)

#define SIZE_OK(s, want)							\
	do {									\
		struct gd_size z_ = { .bytes = 4242 };				\
		const char *why_ = NULL;					\
		int r_ = size_parse((s), true, &z_, &why_);			\
		if (r_ != 0)							\
			TEST_FAIL("size_parse(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else {								\
			ASSERT_TRUE(!z_.is_percent);				\
			ASSERT_U64_EQ(z_.bytes, (want));			\
		}								\
	} while (0)

#define PCT_OK(s, want)								\
	do {									\
		struct gd_size z_ = { .bytes = 4242 };				\
		const char *why_ = NULL;					\
		int r_ = size_parse((s), true, &z_, &why_);			\
		if (r_ != 0)							\
			TEST_FAIL("size_parse(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else {								\
			ASSERT_TRUE(z_.is_percent);				\
			ASSERT_DBL_NEAR(z_.percent, (want), 1e-12);		\
		}								\
	} while (0)

#define SIZE_BAD(s, allow, err)							\
	do {									\
		struct gd_size z_ = { .bytes = 4242 };				\
		const char *why_ = NULL;					\
		int r_ = size_parse((s), (allow), &z_, &why_);			\
		if (r_ != (err))						\
			TEST_FAIL("size_parse(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_TRUE(!z_.is_percent);					\
		ASSERT_U64_EQ(z_.bytes, 4242);					\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define RATE_OK(s, want)							\
	do {									\
		uint64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = rate_parse((s), &v_, &why_);				\
		if (r_ != 0)							\
			TEST_FAIL("rate_parse(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else								\
			ASSERT_U64_EQ(v_, (want));				\
	} while (0)

#define RATE_BAD(s, err)							\
	do {									\
		uint64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = rate_parse((s), &v_, &why_);				\
		if (r_ != (err))						\
			TEST_FAIL("rate_parse(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_U64_EQ(v_, 4242);					\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define CIDR_BAD(s, err)							\
	do {									\
		struct gd_cidr c_ = { .family = 4242 };				\
		const char *why_ = NULL;					\
		int r_ = cidr_parse((s), &c_, &why_);				\
		if (r_ != (err))						\
			TEST_FAIL("cidr_parse(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_INT_EQ(c_.family, 4242);					\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

/* Parses s, formats it and compares with want (the canonical text). */
#define CIDR_ROUND(s, want)							\
	do {									\
		struct gd_cidr c_;						\
		char b_[64];							\
		int r_ = cidr_parse((s), &c_, NULL);				\
		if (r_ != 0)							\
			TEST_FAIL("cidr_parse(\"%s\") = %d", (s), r_);		\
		else {								\
			cidr_format(&c_, b_, sizeof(b_));			\
			ASSERT_STR_EQ(b_, (want));				\
		}								\
	} while (0)

#define DATE_OK(s, y, m, d)							\
	do {									\
		struct gd_date d_ = { 0, 0, 0 };				\
		const char *why_ = NULL;					\
		int r_ = date_parse((s), &d_, &why_);				\
		if (r_ != 0)							\
			TEST_FAIL("date_parse(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else {								\
			ASSERT_INT_EQ(d_.year, (y));				\
			ASSERT_INT_EQ(d_.month, (m));				\
			ASSERT_INT_EQ(d_.day, (d));				\
		}								\
	} while (0)

#define DATE_BAD(s, err)							\
	do {									\
		struct gd_date d_ = { 4242, 42, 42 };				\
		const char *why_ = NULL;					\
		int r_ = date_parse((s), &d_, &why_);				\
		if (r_ != (err))						\
			TEST_FAIL("date_parse(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_INT_EQ(d_.year, 4242);					\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define HHMM_OK(s, a24, want)							\
	do {									\
		int v_ = -1;							\
		int r_ = hhmm_parse((s), (a24), &v_, NULL);			\
		if (r_ != 0)							\
			TEST_FAIL("hhmm_parse(\"%s\") = %d", (s), r_);		\
		else								\
			ASSERT_INT_EQ(v_, (want));				\
	} while (0)

#define HHMM_BAD(s, a24, err)							\
	do {									\
		int v_ = -1;							\
		const char *why_ = NULL;					\
		int r_ = hhmm_parse((s), (a24), &v_, &why_);			\
		if (r_ != (err))						\
			TEST_FAIL("hhmm_parse(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_INT_EQ(v_, -1);						\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define RFC_OK(s, want)								\
	do {									\
		int64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = rfc3339_parse((s), &v_, &why_);			\
		if (r_ != 0)							\
			TEST_FAIL("rfc3339_parse(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
		else								\
			ASSERT_INT_EQ(v_, (want));				\
	} while (0)

#define RFC_BAD(s)								\
	do {									\
		int64_t v_ = 4242;						\
		const char *why_ = NULL;					\
		int r_ = rfc3339_parse((s), &v_, &why_);			\
		if (r_ != -EINVAL)						\
			TEST_FAIL("rfc3339_parse(\"%s\") = %d, want -EINVAL", (s), r_);	\
		ASSERT_INT_EQ(v_, 4242);					\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

#define URL_OK(s)								\
	do {									\
		const char *why_ = NULL;					\
		int r_ = url_check((s), &why_);					\
		if (r_ != 0)							\
			TEST_FAIL("url_check(\"%s\") = %d (%s)", (s), r_,	\
			    why_ ? why_ : "no reason");				\
	} while (0)

#define URL_BAD(s, err)								\
	do {									\
		const char *why_ = NULL;					\
		int r_ = url_check((s), &why_);					\
		if (r_ != (err))						\
			TEST_FAIL("url_check(\"%s\") = %d, want %d", (s), r_, (err));	\
		ASSERT_TRUE(why_ != NULL);					\
	} while (0)

/* A small deterministic generator for the property tests. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
test_parse_uint(void)
{
	char big[64];

	TEST_START("parse_uint accepts plain decimals in range");
	UINT_OK("0", 0, 10, 0);
	UINT_OK("7", 0, 10, 7);
	UINT_OK("10", 0, 10, 10);
	UINT_OK("1", 1, 65535, 1);
	UINT_OK("65535", 1, 65535, 65535);
	UINT_OK("5432", 1, 65535, 5432);
	UINT_OK("999999999999999999", 0, UINT64_MAX, 999999999999999999ULL);

	TEST_START("parse_uint port bounds: 0 and 65536 are out of range");
	UINT_BAD("0", 1, 65535, -ERANGE);
	UINT_BAD("65536", 1, 65535, -ERANGE);
	UINT_BAD("99999", 1, 65535, -ERANGE);
	UINT_BAD("11", 0, 10, -ERANGE);
	UINT_BAD("4", 5, 10, -ERANGE);

	TEST_START("parse_uint rejects signs, spaces, leading zeros and junk");
	UINT_BAD("", 0, 100, -EINVAL);
	UINT_BAD("-1", 0, 100, -EINVAL);
	UINT_BAD("-0", 0, 100, -EINVAL);
	UINT_BAD("+1", 0, 100, -EINVAL);
	UINT_BAD(" 1", 0, 100, -EINVAL);
	UINT_BAD("1 ", 0, 100, -EINVAL);
	UINT_BAD("1a", 0, 100, -EINVAL);
	UINT_BAD("a1", 0, 100, -EINVAL);
	UINT_BAD("01", 0, 100, -EINVAL);
	UINT_BAD("00", 0, 100, -EINVAL);
	UINT_BAD("0x10", 0, 100, -EINVAL);
	UINT_BAD("1.0", 0, 100, -EINVAL);
	UINT_BAD("1e2", 0, 1000, -EINVAL);

	TEST_START("parse_uint overflow is -ERANGE, never a wrapped value");
	UINT_BAD("99999999999999999999", 0, UINT64_MAX, -ERANGE);
	UINT_BAD("18446744073709551616", 0, UINT64_MAX, -ERANGE);
	UINT_BAD("184467440737095516160000", 0, UINT64_MAX, -ERANGE);
	(void)snprintf(big, sizeof(big), "%0*d", 60, 1);
	big[0] = '9';
	UINT_BAD(big, 0, UINT64_MAX, -ERANGE);

	TEST_START("parse_uint takes a NULL why");
	{
		uint64_t v = 3;

		ASSERT_INT_EQ(parse_uint("x", 0, 10, &v, NULL), -EINVAL);
		ASSERT_INT_EQ(parse_uint("11", 0, 10, &v, NULL), -ERANGE);
		ASSERT_U64_EQ(v, 3);
	}

	/*
	 * The header promises [min, max]; read_digits() stops at 18 digits, so values of 19 and
	 * 20 digits that fit in a uint64_t are refused even when max allows them.
	 */
	TEST_START("parse_uint: 19- and 20-digit values within max are accepted");
	UINT_OK("1000000000000000000", 0, UINT64_MAX, 1000000000000000000ULL);
	UINT_OK("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
}

static void
test_parse_decimal(void)
{
	TEST_START("parse_decimal accepts strict decimals");
	DEC_OK("0", 0);
	DEC_OK("12", 12);
	DEC_OK("0.5", 0.5);
	DEC_OK("99.95", 99.95);
	DEC_OK("300", 300);
	DEC_OK("2.25", 2.25);
	DEC_OK("0.001", 0.001);
	DEC_OK("100.000", 100);
	DEC_OK("999999999999999", 999999999999999.0);
	DEC_OK("0.123456789", 0.123456789);

	TEST_START("parse_decimal honours len");
	{
		double v = 0;

		ASSERT_INT_EQ(parse_decimal("12abc", 2, &v, NULL), 0);
		ASSERT_DBL_NEAR(v, 12, 0);
		ASSERT_INT_EQ(parse_decimal("2.5ms", 3, &v, NULL), 0);
		ASSERT_DBL_NEAR(v, 2.5, 1e-15);
		v = -1;
		ASSERT_INT_EQ(parse_decimal("12", 0, &v, NULL), -EINVAL);
		ASSERT_TRUE(v == -1);
	}

	TEST_START("parse_decimal rejects exponents, signs, inf, nan, bare dots");
	DEC_BAD("1e309", -EINVAL);
	DEC_BAD("1e5", -EINVAL);
	DEC_BAD("1E5", -EINVAL);
	DEC_BAD("-1", -EINVAL);
	DEC_BAD("+1", -EINVAL);
	DEC_BAD(".5", -EINVAL);
	DEC_BAD("5.", -EINVAL);
	DEC_BAD(".", -EINVAL);
	DEC_BAD("", -EINVAL);
	DEC_BAD("inf", -EINVAL);
	DEC_BAD("nan", -EINVAL);
	DEC_BAD("infinity", -EINVAL);
	DEC_BAD("1.2.3", -EINVAL);
	DEC_BAD(" 1", -EINVAL);
	DEC_BAD("1 ", -EINVAL);
	DEC_BAD("0x1", -EINVAL);
	DEC_BAD("1,5", -EINVAL);

	TEST_START("parse_decimal limits: 15 integer digits, 9 decimals");
	DEC_BAD("1000000000000000", -ERANGE);
	DEC_BAD("99999999999999999999999999999", -ERANGE);
	DEC_OK("0.000000001", 1e-9);
	DEC_BAD("0.0000000001", -EINVAL);
	DEC_BAD("1.1234567891", -EINVAL);

	/*
	 * A decimal should become the nearest double, as strtod() gives; otherwise an SLA
	 * threshold "value >= 0.3" is not met by a measured 0.3 (see test_sla.c).
	 */
	TEST_START("parse_decimal gives the nearest double (0.3 == 0.3)");
	{
		static const char *const in[] = { "0.3", "0.7", "0.123456789", "0.1", "99.95" };
		static const double want[] = { 0.3, 0.7, 0.123456789, 0.1, 99.95 };

		for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
			double v = 0;

			ASSERT_INT_EQ(parse_decimal(in[i], strlen(in[i]), &v, NULL), 0);
			if (v != want[i])
				TEST_FAIL("parse_decimal(\"%s\") = %.17g, want %.17g", in[i], v,
				    want[i]);
		}
	}
}

static void
test_decimal_format(void)
{
	TEST_START("decimal_format trims zeros and never writes an exponent");
	{
		static const struct { double v; const char *want; } t[] = {
			{ 0, "0" }, { -0.0, "0" }, { 0.5, "0.5" }, { 300, "300" },
			{ -2.25, "-2.25" }, { 99.95, "99.95" }, { 1e-10, "0" },
			{ -1e-10, "0" }, { 0.1 + 0.2, "0.3" }, { 1.0 / 3, "0.333333333" },
			{ 123456789.125, "123456789.125" }, { 1e15, "1000000000000000" },
			{ 2500, "2500" }, { -1, "-1" }, { 0.000001, "0.000001" },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			char buf[64];

			decimal_format(t[i].v, buf, sizeof(buf));
			ASSERT_STR_EQ(buf, t[i].want);
			ASSERT_TRUE(strchr(buf, 'e') == NULL);
		}
	}

	TEST_START("decimal_format output parses back (non-negative values)");
	for (int i = 0; i < 2000; i++) {
		double v = (double)(rng_next() % 1000000000000ULL) / 1000.0, back = -1;
		char buf[64];

		decimal_format(v, buf, sizeof(buf));
		if (parse_decimal(buf, strlen(buf), &back, NULL) != 0) {
			TEST_FAIL("\"%s\" does not parse", buf);
			break;
		}
		ASSERT_DBL_NEAR(back, v, 1e-6);
	}

	TEST_START("decimal_format truncates to the buffer");
	{
		char buf[4] = "xxx";

		decimal_format(12345.5, buf, sizeof(buf));
		ASSERT_INT_EQ(strlen(buf), 3);
	}
}

static void
test_duration_parse(void)
{
	TEST_START("duration_parse single units");
	DUR_OK("500ms", 500);
	DUR_OK("1ms", 1);
	DUR_OK("1s", 1000);
	DUR_OK("1m", 60000);
	DUR_OK("1h", 3600000);
	DUR_OK("2d", 172800000);
	DUR_OK("30s", 30000);
	DUR_OK("5m", 300000);

	TEST_START("duration_parse zero");
	DUR_OK("0s", 0);
	DUR_OK("0ms", 0);
	DUR_OK("0d", 0);
	DUR_OK("0d0h0m0s0ms", 0);

	TEST_START("duration_parse compound, largest first");
	DUR_OK("1h30m", 5400000);
	DUR_OK("1m30s", 90000);
	DUR_OK("1s500ms", 1500);
	DUR_OK("1d1h1m1s1ms", 90061001);
	DUR_OK("1d23h59m59s999ms", 172799999);
	DUR_OK("2h0m", 7200000);
	DUR_OK("1d1s", 86401000);
	DUR_OK("1h1ms", 3600001);

	TEST_START("duration_parse: the first unit is unbounded");
	DUR_OK("90m", 5400000);
	DUR_OK("25h", 90000000);
	DUR_OK("120s", 120000);
	DUR_OK("1500ms", 1500);
	DUR_OK("100h59m", 363540000);

	TEST_START("rejects 25h61m: minutes after a larger unit must be < 60");
	DUR_BAD("25h61m", -ERANGE);
	DUR_BAD("1h60m", -ERANGE);
	DUR_BAD("1m60s", -ERANGE);
	DUR_BAD("1h60s", -ERANGE);
	DUR_BAD("1s1000ms", -ERANGE);
	DUR_BAD("1m1000ms", -ERANGE);
	DUR_BAD("1d24h", -ERANGE);
	DUR_BAD("1d60m", -ERANGE);
	DUR_OK("1h59m", 7140000);
	DUR_OK("1d23h", 169200000);
	DUR_OK("1s999ms", 1999);

	TEST_START("rejects units out of order (1m1h) and repeated (1s1s)");
	DUR_BAD("1m1h", -EINVAL);
	DUR_BAD("1s1m", -EINVAL);
	DUR_BAD("1ms1s", -EINVAL);
	DUR_BAD("1h1d", -EINVAL);
	DUR_BAD("1s1s", -EINVAL);
	DUR_BAD("1h1h", -EINVAL);
	DUR_BAD("1ms1ms", -EINVAL);
	DUR_BAD("1m1m", -EINVAL);
	DUR_BAD("0s0s", -EINVAL);

	TEST_START("rejects a missing unit (10) and an unknown one (2x)");
	DUR_BAD("10", -EINVAL);
	DUR_BAD("0", -EINVAL);
	DUR_BAD("1h30", -EINVAL);
	DUR_BAD("2x", -EINVAL);
	DUR_BAD("1S", -EINVAL);
	DUR_BAD("1H", -EINVAL);
	DUR_BAD("1us", -EINVAL);
	DUR_BAD("1w", -EINVAL);
	DUR_BAD("1y", -EINVAL);
	DUR_BAD("1sec", -EINVAL);
	DUR_BAD("1msx", -EINVAL);
	DUR_BAD("1e309", -EINVAL);
	DUR_BAD("1e3s", -EINVAL);

	TEST_START("rejects empty, signs, fractions and spaces");
	DUR_BAD("", -EINVAL);
	DUR_BAD("-1s", -EINVAL);
	DUR_BAD("+1s", -EINVAL);
	DUR_BAD("1.5h", -EINVAL);
	DUR_BAD(" 1s", -EINVAL);
	DUR_BAD("1s ", -EINVAL);
	DUR_BAD("1 s", -EINVAL);
	DUR_BAD("1h 30m", -EINVAL);
	DUR_BAD("s", -EINVAL);
	DUR_BAD("ms", -EINVAL);
	DUR_BAD("h1", -EINVAL);

	TEST_START("duration_parse: 366d is the limit");
	DUR_OK("366d", GD_MAX_DURATION_MS);
	DUR_OK("365d23h59m59s999ms", GD_MAX_DURATION_MS - 1);
	DUR_OK("8784h", GD_MAX_DURATION_MS);
	DUR_OK("527040m", GD_MAX_DURATION_MS);
	DUR_OK("31622400s", GD_MAX_DURATION_MS);
	DUR_OK("31622400000ms", GD_MAX_DURATION_MS);
	DUR_BAD("366d1ms", -ERANGE);
	DUR_BAD("367d", -ERANGE);
	DUR_BAD("8785h", -ERANGE);
	DUR_BAD("31622400001ms", -ERANGE);
	DUR_BAD("366d0h0m1s", -ERANGE);

	TEST_START("duration_parse overflow is -ERANGE");
	DUR_BAD("999999999999999999d", -ERANGE);
	DUR_BAD("999999999999999999ms", -ERANGE);
	DUR_BAD("99999999999999999999ms", -ERANGE);
	DUR_BAD("1000000000000000000000000000000s", -ERANGE);
	DUR_BAD("213503982334d", -ERANGE);

	TEST_START("duration_parse takes a NULL why");
	{
		uint64_t v = 1;

		ASSERT_INT_EQ(duration_parse("2x", &v, NULL), -EINVAL);
		ASSERT_INT_EQ(duration_parse("25h61m", &v, NULL), -ERANGE);
		ASSERT_INT_EQ(duration_parse("", &v, NULL), -EINVAL);
		ASSERT_U64_EQ(v, 1);
	}
}

static void
test_duration_format(void)
{
	TEST_START("duration_format canonical forms");
	DUR_FMT(0, "0s");
	DUR_FMT(1, "1ms");
	DUR_FMT(500, "500ms");
	DUR_FMT(1000, "1s");
	DUR_FMT(1500, "1s500ms");
	DUR_FMT(60000, "1m");
	DUR_FMT(90000, "1m30s");
	DUR_FMT(5400000, "1h30m");
	DUR_FMT(3600001, "1h1ms");
	DUR_FMT(86400000, "1d");
	DUR_FMT(90061001, "1d1h1m1s1ms");
	DUR_FMT(GD_MAX_DURATION_MS, "366d");
	DUR_FMT(GD_MAX_DURATION_MS - 1, "365d23h59m59s999ms");

	TEST_START("duration_format fits 32 bytes for any value");
	{
		char buf[32];

		duration_format(UINT64_MAX, buf, sizeof(buf));
		ASSERT_STR_EQ(buf, "213503982334d14h25m51s615ms");
	}

	TEST_START("duration_format respects short buffers");
	{
		char buf[8];

		memset(buf, 'x', sizeof(buf));
		duration_format(5400000, buf, 4);
		ASSERT_TRUE(strlen(buf) <= 3);
		ASSERT_TRUE(buf[4] == 'x');
		memset(buf, 'x', sizeof(buf));
		duration_format(5400000, buf, 0);
		ASSERT_TRUE(buf[0] == 'x');
		duration_format(0, buf, 1);
		ASSERT_STR_EQ(buf, "");
	}

	TEST_START("duration canonical round trips: format(parse(x)) is stable");
	{
		static const struct { const char *in, *canon; } t[] = {
			{ "90m", "1h30m" }, { "1h0m", "1h" }, { "0d0h0m0s0ms", "0s" },
			{ "0ms", "0s" }, { "1500ms", "1s500ms" }, { "120s", "2m" },
			{ "25h", "1d1h" }, { "48h", "2d" }, { "8784h", "366d" },
			{ "1h30m", "1h30m" }, { "3600s", "1h" }, { "86399999ms", "23h59m59s999ms" },
			{ "1d0h0m1s", "1d1s" }, { "60m", "1h" }, { "1000ms", "1s" },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			uint64_t a = 0, b = 0;
			char f1[32], f2[32];

			if (duration_parse(t[i].in, &a, NULL) != 0) {
				TEST_FAIL("\"%s\" does not parse", t[i].in);
				continue;
			}
			duration_format(a, f1, sizeof(f1));
			ASSERT_STR_EQ(f1, t[i].canon);
			ASSERT_INT_EQ(duration_parse(f1, &b, NULL), 0);
			ASSERT_U64_EQ(b, a);
			duration_format(b, f2, sizeof(f2));
			ASSERT_STR_EQ(f2, f1);
		}
	}

	TEST_START("parse(format(ms)) == ms for random ms up to 366d");
	for (int i = 0; i < 20000; i++) {
		uint64_t ms = rng_next() % (GD_MAX_DURATION_MS + 1), back = 0;
		char buf[32];

		if (i < 4)
			ms = (uint64_t[]){ 0, 1, GD_MAX_DURATION_MS, GD_MAX_DURATION_MS - 1 }[i];
		else if (i % 3 == 0)
			ms = ms / 1000 * 1000;	/* Whole seconds as well. */
		duration_format(ms, buf, sizeof(buf));
		if (duration_parse(buf, &back, NULL) != 0 || back != ms) {
			TEST_FAIL("%llu -> \"%s\" -> %llu", (unsigned long long)ms, buf,
			    (unsigned long long)back);
			break;
		}
	}
}

static void
test_size(void)
{
	TEST_START("size_parse: units are powers of 1024 (1KB = 1024)");
	SIZE_OK("1KB", 1024);
	SIZE_OK("4096B", 4096);
	SIZE_OK("1B", 1);
	SIZE_OK("512MB", 536870912ULL);
	SIZE_OK("1MB", 1048576ULL);
	SIZE_OK("10GB", 10737418240ULL);
	SIZE_OK("1TB", 1099511627776ULL);
	SIZE_OK("1024TB", GD_MAX_SIZE_BYTES);
	SIZE_OK("1048576GB", GD_MAX_SIZE_BYTES);
	SIZE_OK("1125899906842624B", GD_MAX_SIZE_BYTES);

	TEST_START("size_parse: over 1024TB is -ERANGE");
	SIZE_BAD("1025TB", true, -ERANGE);
	SIZE_BAD("1048577GB", true, -ERANGE);
	SIZE_BAD("1125899906842625B", true, -ERANGE);
	SIZE_BAD("999999999999999999TB", true, -ERANGE);
	SIZE_BAD("99999999999999999999B", true, -ERANGE);

	TEST_START("size_parse rejects malformed sizes");
	SIZE_BAD("", true, -EINVAL);
	SIZE_BAD("10", true, -EINVAL);
	SIZE_BAD("KB", true, -EINVAL);
	SIZE_BAD("1kb", true, -EINVAL);
	SIZE_BAD("1K", true, -EINVAL);
	SIZE_BAD("1KiB", true, -EINVAL);
	SIZE_BAD("1 KB", true, -EINVAL);
	SIZE_BAD(" 1KB", true, -EINVAL);
	SIZE_BAD("1KB ", true, -EINVAL);
	SIZE_BAD("1.5GB", true, -EINVAL);
	SIZE_BAD("-1KB", true, -EINVAL);
	SIZE_BAD("+1KB", true, -EINVAL);
	SIZE_BAD("1PB", true, -EINVAL);
	SIZE_BAD("1e3B", true, -EINVAL);
	SIZE_BAD("1e309", true, -EINVAL);

	TEST_START("size_parse percentages");
	PCT_OK("5%", 5);
	PCT_OK("0.5%", 0.5);
	PCT_OK("100%", 100);
	PCT_OK("99.9%", 99.9);
	PCT_OK("0.001%", 0.001);
	PCT_OK("100.0%", 100);

	TEST_START("size_parse: 0% and 101% are rejected");
	SIZE_BAD("0%", true, -ERANGE);
	SIZE_BAD("0.0%", true, -ERANGE);
	SIZE_BAD("0.0009%", true, -ERANGE);
	SIZE_BAD("101%", true, -ERANGE);
	SIZE_BAD("100.5%", true, -ERANGE);
	SIZE_BAD("100.000000001%", true, -ERANGE);
	SIZE_BAD("%", true, -EINVAL);
	SIZE_BAD("-5%", true, -EINVAL);
	SIZE_BAD("5%%", true, -EINVAL);
	SIZE_BAD("5 %", true, -EINVAL);
	SIZE_BAD("1e2%", true, -EINVAL);
	SIZE_BAD(".5%", true, -EINVAL);

	TEST_START("size_parse: no percentages unless allowed");
	SIZE_BAD("5%", false, -EINVAL);
	SIZE_BAD("0.5%", false, -EINVAL);
	{
		struct gd_size z;

		ASSERT_INT_EQ(size_parse("1KB", false, &z, NULL), 0);
		ASSERT_U64_EQ(z.bytes, 1024);
		ASSERT_INT_EQ(size_parse("2x", false, &z, NULL), -EINVAL);
	}

	TEST_START("size_format");
	{
		static const struct { uint64_t b; const char *want; } t[] = {
			{ 0, "0B" }, { 1, "1B" }, { 1023, "1023B" }, { 1024, "1KB" },
			{ 1536, "1536B" }, { 3145728, "3MB" }, { 10737418240ULL, "10GB" },
			{ 1099511627776ULL, "1TB" }, { GD_MAX_SIZE_BYTES, "1024TB" },
			{ 1025ULL << 30, "1025GB" },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct gd_size z = { .is_percent = false, .bytes = t[i].b };
			char buf[64];

			size_format(&z, buf, sizeof(buf));
			ASSERT_STR_EQ(buf, t[i].want);
		}
	}
	{
		struct gd_size z = { .is_percent = true, .percent = 0.5 };
		char buf[64];

		size_format(&z, buf, sizeof(buf));
		ASSERT_STR_EQ(buf, "0.5%");
		z.percent = 100;
		size_format(&z, buf, sizeof(buf));
		ASSERT_STR_EQ(buf, "100%");
	}

	TEST_START("size round trips");
	{
		static const struct { const char *in, *canon; } t[] = {
			{ "1KB", "1KB" }, { "4096B", "4KB" }, { "512MB", "512MB" },
			{ "10GB", "10GB" }, { "1TB", "1TB" }, { "1024TB", "1024TB" },
			{ "1536B", "1536B" }, { "2048KB", "2MB" }, { "1024MB", "1GB" },
			{ "5%", "5%" }, { "0.5%", "0.5%" }, { "100%", "100%" },
			{ "0.001%", "0.001%" }, { "12.75%", "12.75%" }, { "100.0%", "100%" },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct gd_size a, b;
			char buf[64];

			if (size_parse(t[i].in, true, &a, NULL) != 0) {
				TEST_FAIL("\"%s\" does not parse", t[i].in);
				continue;
			}
			size_format(&a, buf, sizeof(buf));
			ASSERT_STR_EQ(buf, t[i].canon);
			ASSERT_INT_EQ(size_parse(buf, true, &b, NULL), 0);
			ASSERT_TRUE(a.is_percent == b.is_percent);
			ASSERT_U64_EQ(a.bytes, b.bytes);
			ASSERT_DBL_NEAR(a.percent, b.percent, 1e-12);
		}
	}
}

static void
test_rate(void)
{
	TEST_START("rate_parse bits (powers of 1000): 10mbit = 1250000 B/s");
	RATE_OK("10mbit", 1250000);
	RATE_OK("512kbit", 64000);
	RATE_OK("1kbit", 125);
	RATE_OK("1mbit", 125000);
	RATE_OK("1gbit", 125000000);
	RATE_OK("100gbit", GD_MAX_RATE_BYTES_PER_S);
	RATE_OK("8bit", 1);
	RATE_OK("800bit", 100);

	TEST_START("rate_parse bytes per second (powers of 1024): 1MB/s = 1048576");
	RATE_OK("1MB/s", 1048576);
	RATE_OK("1KB/s", 1024);
	RATE_OK("500B/s", 500);
	RATE_OK("1B/s", 1);
	RATE_OK("11GB/s", 11811160064ULL);
	RATE_OK("12500000000B/s", GD_MAX_RATE_BYTES_PER_S);

	TEST_START("rate_parse limits: above 0, at most 100gbit");
	RATE_BAD("0bit", -ERANGE);
	RATE_BAD("7bit", -ERANGE);
	RATE_BAD("0kbit", -ERANGE);
	RATE_BAD("0B/s", -ERANGE);
	RATE_BAD("0MB/s", -ERANGE);
	RATE_BAD("101gbit", -ERANGE);
	RATE_BAD("100000001kbit", -ERANGE);
	RATE_BAD("12GB/s", -ERANGE);
	RATE_BAD("12500000001B/s", -ERANGE);
	RATE_BAD("1TB/s", -ERANGE);
	RATE_BAD("999999999999999999gbit", -ERANGE);

	TEST_START("rate_parse rejects malformed rates");
	RATE_BAD("", -EINVAL);
	RATE_BAD("10", -EINVAL);
	RATE_BAD("mbit", -EINVAL);
	RATE_BAD("10Mbit", -EINVAL);
	RATE_BAD("10mbps", -EINVAL);
	RATE_BAD("10mbit/s", -EINVAL);
	RATE_BAD("1MB", -EINVAL);
	RATE_BAD("1mb/s", -EINVAL);
	RATE_BAD("/s", -EINVAL);
	RATE_BAD("5%/s", -EINVAL);
	RATE_BAD("1.5mbit", -EINVAL);
	RATE_BAD("1e309mbit", -EINVAL);
	RATE_BAD("-1mbit", -EINVAL);
	RATE_BAD(" 10mbit", -EINVAL);
	RATE_BAD("10mbit ", -EINVAL);
	RATE_BAD("10 mbit", -EINVAL);
	RATE_BAD("1MB/s/s", -EINVAL);
	RATE_BAD("1000000000000000000000000000000000000000MB/s", -ERANGE);

	TEST_START("rate_format and round trips");
	{
		static const struct { uint64_t v; const char *want; } t[] = {
			{ 1250000, "1250000B/s" }, { 1048576, "1MB/s" }, { 1024, "1KB/s" },
			{ 1, "1B/s" }, { 64000, "64000B/s" }, { 1073741824, "1GB/s" },
			{ GD_MAX_RATE_BYTES_PER_S, "12500000000B/s" },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			uint64_t back = 0;
			char buf[64];

			rate_format(t[i].v, buf, sizeof(buf));
			ASSERT_STR_EQ(buf, t[i].want);
			ASSERT_INT_EQ(rate_parse(buf, &back, NULL), 0);
			ASSERT_U64_EQ(back, t[i].v);
		}
	}
}

static void
test_cidr(void)
{
	TEST_START("cidr_parse IPv4");
	{
		struct gd_cidr c;
		const char *why = NULL;

		ASSERT_INT_EQ(cidr_parse("10.20.0.0/16", &c, &why), 0);
		ASSERT_INT_EQ(c.family, AF_INET);
		ASSERT_INT_EQ(c.prefix, 16);
		ASSERT_INT_EQ(c.addr[0], 10);
		ASSERT_INT_EQ(c.addr[1], 20);
		ASSERT_INT_EQ(c.addr[2], 0);
		ASSERT_INT_EQ(c.addr[3], 0);
		ASSERT_INT_EQ(cidr_parse("192.0.2.7", &c, NULL), 0);
		ASSERT_INT_EQ(c.prefix, 32);
		ASSERT_INT_EQ(c.addr[3], 7);
		ASSERT_INT_EQ(cidr_parse("0.0.0.0/0", &c, NULL), 0);
		ASSERT_INT_EQ(c.prefix, 0);
		ASSERT_INT_EQ(cidr_parse("10.0.0.0/7", &c, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("255.255.255.255/32", &c, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("10.20.16.0/20", &c, NULL), 0);
	}

	TEST_START("cidr_parse IPv6");
	{
		struct gd_cidr c;

		ASSERT_INT_EQ(cidr_parse("::/0", &c, NULL), 0);
		ASSERT_INT_EQ(c.family, AF_INET6);
		ASSERT_INT_EQ(c.prefix, 0);
		ASSERT_INT_EQ(cidr_parse("2001:db8::/32", &c, NULL), 0);
		ASSERT_INT_EQ(c.prefix, 32);
		ASSERT_INT_EQ(c.addr[0], 0x20);
		ASSERT_INT_EQ(c.addr[1], 0x01);
		ASSERT_INT_EQ(c.addr[2], 0x0d);
		ASSERT_INT_EQ(c.addr[3], 0xb8);
		ASSERT_INT_EQ(cidr_parse("2001:db8::1", &c, NULL), 0);
		ASSERT_INT_EQ(c.prefix, 128);
		ASSERT_INT_EQ(c.addr[15], 1);
		ASSERT_INT_EQ(cidr_parse("2001:db8::/29", &c, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("::1/128", &c, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("fe80::/10", &c, NULL), 0);
	}

	TEST_START("cidr_parse: /33 on IPv4 and /129 on IPv6 are out of range");
	CIDR_BAD("10.0.0.0/33", -ERANGE);
	CIDR_BAD("0.0.0.0/33", -ERANGE);
	CIDR_BAD("10.0.0.0/255", -ERANGE);
	CIDR_BAD("::/129", -ERANGE);
	CIDR_BAD("2001:db8::/200", -ERANGE);
	{
		struct gd_cidr c = { .family = 4242 };

		ASSERT_TRUE(cidr_parse("10.0.0.0/99999999999999999999", &c, NULL) < 0);
		ASSERT_INT_EQ(c.family, 4242);
	}

	TEST_START("cidr_parse: host bits set after the prefix");
	CIDR_BAD("10.20.0.1/16", -EINVAL);
	CIDR_BAD("10.0.0.0/6", -EINVAL);
	CIDR_BAD("192.168.1.1/24", -EINVAL);
	CIDR_BAD("0.0.0.1/0", -EINVAL);
	CIDR_BAD("10.20.16.0/19", -EINVAL);
	CIDR_BAD("2001:db8::/28", -EINVAL);
	CIDR_BAD("2001:db8::1/64", -EINVAL);
	CIDR_BAD("::1/127", -EINVAL);

	TEST_START("cidr_parse rejects malformed text");
	CIDR_BAD("", -EINVAL);
	CIDR_BAD("/8", -EINVAL);
	CIDR_BAD("10.0.0.0/", -EINVAL);
	CIDR_BAD("10.0.0.0/08", -EINVAL);
	CIDR_BAD("10.0.0.0/-1", -EINVAL);
	CIDR_BAD("10.0.0.0/+8", -EINVAL);
	CIDR_BAD("10.0.0.0/8/8", -EINVAL);
	CIDR_BAD("10.0.0.0/8 ", -EINVAL);
	CIDR_BAD("10.0.0.0 /8", -EINVAL);
	CIDR_BAD(" 10.0.0.0/8", -EINVAL);
	CIDR_BAD("10.0.0/8", -EINVAL);
	CIDR_BAD("256.0.0.0/8", -EINVAL);
	CIDR_BAD("10.0.0.0.0/8", -EINVAL);
	CIDR_BAD("fe80::1%eth0", -EINVAL);
	CIDR_BAD("example.com/8", -EINVAL);
	CIDR_BAD("2001:db8:::/32", -EINVAL);
	CIDR_BAD("1111:2222:3333:4444:5555:6666:7777:8888:9999/128", -EINVAL);
	CIDR_BAD("0000000000000000000000000000000000000000000000000000000000000000/8",
	    -EINVAL);

	TEST_START("cidr_format and round trips");
	CIDR_ROUND("10.20.0.0/16", "10.20.0.0/16");
	CIDR_ROUND("192.0.2.7", "192.0.2.7/32");
	CIDR_ROUND("0.0.0.0/0", "0.0.0.0/0");
	CIDR_ROUND("::/0", "::/0");
	CIDR_ROUND("2001:db8::/32", "2001:db8::/32");
	CIDR_ROUND("2001:DB8:0:0::1", "2001:db8::1/128");
	CIDR_ROUND("fe80::/10", "fe80::/10");
	{
		static const char *const t[] = {
			"10.20.0.0/16", "0.0.0.0/0", "2001:db8::/32", "::1/128", "10.20.16.0/20",
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct gd_cidr a, b;
			char buf[64];

			ASSERT_INT_EQ(cidr_parse(t[i], &a, NULL), 0);
			cidr_format(&a, buf, sizeof(buf));
			ASSERT_INT_EQ(cidr_parse(buf, &b, NULL), 0);
			ASSERT_INT_EQ(a.family, b.family);
			ASSERT_INT_EQ(a.prefix, b.prefix);
			ASSERT_TRUE(memcmp(a.addr, b.addr, sizeof(a.addr)) == 0);
		}
	}

	TEST_START("cidr_contains IPv4");
	{
		struct gd_cidr c, all, host;
		uint8_t a[4];

		ASSERT_INT_EQ(cidr_parse("10.20.16.0/20", &c, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("0.0.0.0/0", &all, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("192.0.2.7", &host, NULL), 0);
		ASSERT_INT_EQ(inet_pton(AF_INET, "10.20.16.0", a), 1);
		ASSERT_TRUE(cidr_contains(&c, AF_INET, a));
		ASSERT_INT_EQ(inet_pton(AF_INET, "10.20.31.255", a), 1);
		ASSERT_TRUE(cidr_contains(&c, AF_INET, a));
		ASSERT_TRUE(cidr_contains(&all, AF_INET, a));
		ASSERT_TRUE(!cidr_contains(&host, AF_INET, a));
		ASSERT_INT_EQ(inet_pton(AF_INET, "10.20.32.0", a), 1);
		ASSERT_TRUE(!cidr_contains(&c, AF_INET, a));
		ASSERT_INT_EQ(inet_pton(AF_INET, "10.20.15.255", a), 1);
		ASSERT_TRUE(!cidr_contains(&c, AF_INET, a));
		ASSERT_INT_EQ(inet_pton(AF_INET, "192.0.2.7", a), 1);
		ASSERT_TRUE(cidr_contains(&host, AF_INET, a));
		ASSERT_INT_EQ(inet_pton(AF_INET, "192.0.2.6", a), 1);
		ASSERT_TRUE(!cidr_contains(&host, AF_INET, a));
		ASSERT_INT_EQ(inet_pton(AF_INET, "255.255.255.255", a), 1);
		ASSERT_TRUE(cidr_contains(&all, AF_INET, a));
	}

	TEST_START("cidr_contains IPv6 and family mismatch");
	{
		struct gd_cidr c, all, v4all;
		uint8_t a[16];

		ASSERT_INT_EQ(cidr_parse("2001:db8::/32", &c, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("::/0", &all, NULL), 0);
		ASSERT_INT_EQ(cidr_parse("0.0.0.0/0", &v4all, NULL), 0);
		ASSERT_INT_EQ(inet_pton(AF_INET6, "2001:db8:ffff::1", a), 1);
		ASSERT_TRUE(cidr_contains(&c, AF_INET6, a));
		ASSERT_TRUE(cidr_contains(&all, AF_INET6, a));
		ASSERT_TRUE(!cidr_contains(&v4all, AF_INET6, a));
		ASSERT_INT_EQ(inet_pton(AF_INET6, "2001:db9::", a), 1);
		ASSERT_TRUE(!cidr_contains(&c, AF_INET6, a));
		ASSERT_INT_EQ(inet_pton(AF_INET, "10.0.0.1", a), 1);
		ASSERT_TRUE(!cidr_contains(&all, AF_INET, a));
		ASSERT_TRUE(cidr_contains(&v4all, AF_INET, a));
	}
}

static void
test_ifname(void)
{
	TEST_START("ifname_check accepts Linux interface names");
	ASSERT_INT_EQ(ifname_check("eth0", NULL), 0);
	ASSERT_INT_EQ(ifname_check("lo", NULL), 0);
	ASSERT_INT_EQ(ifname_check("a", NULL), 0);
	ASSERT_INT_EQ(ifname_check("veth1@if2", NULL), 0);
	ASSERT_INT_EQ(ifname_check("br-0a1b2c", NULL), 0);
	ASSERT_INT_EQ(ifname_check("eth0.100", NULL), 0);
	ASSERT_INT_EQ(ifname_check("wlp2s0_X", NULL), 0);
	ASSERT_INT_EQ(ifname_check("abcdefghijklmno", NULL), 0);
	ASSERT_INT_EQ(ifname_check("...", NULL), 0);

	TEST_START("ifname_check rejects");
	{
		static const char *const bad[] = {
			"", ".", "..", "abcdefghijklmnop", "eth 0", "eth/0", "eth0\n", "eth:0",
			"eth0\t", "ä", "e*", "$(x)",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			const char *why = NULL;

			if (ifname_check(bad[i], &why) != -EINVAL)
				TEST_FAIL("ifname_check(\"%s\") accepted", bad[i]);
			ASSERT_TRUE(why != NULL);
		}
	}
}

static void
test_signal(void)
{
	TEST_START("signal_parse with and without SIG");
	{
		int s = 0;

		ASSERT_INT_EQ(signal_parse("SIGKILL", &s, NULL), 0);
		ASSERT_INT_EQ(s, SIGKILL);
		ASSERT_INT_EQ(signal_parse("KILL", &s, NULL), 0);
		ASSERT_INT_EQ(s, SIGKILL);
		ASSERT_INT_EQ(signal_parse("SIGTERM", &s, NULL), 0);
		ASSERT_INT_EQ(s, SIGTERM);
		ASSERT_INT_EQ(signal_parse("STOP", &s, NULL), 0);
		ASSERT_INT_EQ(s, SIGSTOP);
		ASSERT_INT_EQ(signal_parse("SIGCONT", &s, NULL), 0);
		ASSERT_INT_EQ(s, SIGCONT);
		ASSERT_INT_EQ(signal_parse("HUP", &s, NULL), 0);
		ASSERT_INT_EQ(s, SIGHUP);
		ASSERT_INT_EQ(signal_parse("SIGUSR2", &s, NULL), 0);
		ASSERT_INT_EQ(s, SIGUSR2);
	}

	TEST_START("signal_parse rejects");
	{
		static const char *const bad[] = {
			"", "SIG", "sigkill", "kill", "9", "SIGSYS", "SYS", "SIGKILL ", " KILL",
			"SIGRTMIN", "SIGSIGKILL", "SIGWINCH",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int s = -42;
			const char *why = NULL;

			if (signal_parse(bad[i], &s, &why) != -EINVAL)
				TEST_FAIL("signal_parse(\"%s\") accepted", bad[i]);
			ASSERT_INT_EQ(s, -42);
			ASSERT_TRUE(why != NULL);
		}
	}

	TEST_START("signal_name");
	ASSERT_STR_EQ(signal_name(SIGKILL), "SIGKILL");
	ASSERT_STR_EQ(signal_name(SIGTERM), "SIGTERM");
	ASSERT_STR_EQ(signal_name(SIGSTOP), "SIGSTOP");
	ASSERT_STR_EQ(signal_name(SIGBUS), "SIGBUS");
	ASSERT_TRUE(signal_name(0) == NULL);
	ASSERT_TRUE(signal_name(SIGSYS) == NULL);
	ASSERT_TRUE(signal_name(-1) == NULL);
	ASSERT_TRUE(signal_name(1000) == NULL);
	{
		static const char *const names[] = {
			"SIGHUP", "SIGINT", "SIGQUIT", "SIGABRT", "SIGKILL", "SIGUSR1", "SIGUSR2",
			"SIGSEGV", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTOP", "SIGCONT", "SIGBUS",
		};

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			int s = 0;

			ASSERT_INT_EQ(signal_parse(names[i], &s, NULL), 0);
			ASSERT_STR_EQ(signal_name(s), names[i]);
		}
	}
}

static void
test_dates(void)
{
	TEST_START("date_parse valid dates");
	DATE_OK("2026-12-21", 2026, 12, 21);
	DATE_OK("1970-01-01", 1970, 1, 1);
	DATE_OK("9999-12-31", 9999, 12, 31);
	DATE_OK("2026-01-31", 2026, 1, 31);
	DATE_OK("2026-04-30", 2026, 4, 30);

	TEST_START("2024-02-29 is valid, 2026-02-29 is not");
	DATE_OK("2024-02-29", 2024, 2, 29);
	DATE_OK("2000-02-29", 2000, 2, 29);
	DATE_OK("2400-02-29", 2400, 2, 29);
	DATE_BAD("2026-02-29", -ERANGE);
	DATE_BAD("2100-02-29", -ERANGE);
	DATE_BAD("1900-02-29", -ERANGE);

	TEST_START("date_parse rejects 2026-02-30 and other impossible dates");
	DATE_BAD("2026-02-30", -ERANGE);
	DATE_BAD("2024-02-30", -ERANGE);
	DATE_BAD("2026-04-31", -ERANGE);
	DATE_BAD("2026-06-31", -ERANGE);
	DATE_BAD("2026-01-32", -ERANGE);
	DATE_BAD("2026-13-01", -ERANGE);
	DATE_BAD("2026-00-10", -ERANGE);
	DATE_BAD("2026-01-00", -ERANGE);
	DATE_BAD("1969-12-31", -ERANGE);
	DATE_BAD("0000-01-01", -ERANGE);

	TEST_START("date_parse rejects malformed text");
	DATE_BAD("", -EINVAL);
	DATE_BAD("2026-1-01", -EINVAL);
	DATE_BAD("2026-01-1", -EINVAL);
	DATE_BAD("2026/01/01", -EINVAL);
	DATE_BAD("20260101", -EINVAL);
	DATE_BAD("2026-01-01T", -EINVAL);
	DATE_BAD(" 2026-01-01", -EINVAL);
	DATE_BAD("2026-01-01 ", -EINVAL);
	DATE_BAD("+026-01-01", -EINVAL);
	DATE_BAD("2026-+1-01", -EINVAL);
	DATE_BAD("2026-01--1", -EINVAL);
	DATE_BAD("20266-01-01", -EINVAL);
	DATE_BAD("2o26-01-01", -EINVAL);

	TEST_START("days_in_month");
	ASSERT_INT_EQ(days_in_month(2024, 2), 29);
	ASSERT_INT_EQ(days_in_month(2026, 2), 28);
	ASSERT_INT_EQ(days_in_month(2000, 2), 29);
	ASSERT_INT_EQ(days_in_month(1900, 2), 28);
	ASSERT_INT_EQ(days_in_month(2100, 2), 28);
	ASSERT_INT_EQ(days_in_month(2026, 1), 31);
	ASSERT_INT_EQ(days_in_month(2026, 4), 30);
	ASSERT_INT_EQ(days_in_month(2026, 9), 30);
	ASSERT_INT_EQ(days_in_month(2026, 12), 31);
	ASSERT_INT_EQ(days_in_month(2026, 0), 0);
	ASSERT_INT_EQ(days_in_month(2026, 13), 0);
	ASSERT_INT_EQ(days_in_month(2026, -1), 0);

	TEST_START("date_compare");
	{
		struct gd_date a = { 2026, 3, 8 }, b = { 2026, 3, 9 }, c = { 2026, 4, 1 },
		    d = { 2027, 1, 1 }, e = { 2026, 3, 8 };

		ASSERT_INT_EQ(date_compare(&a, &b), -1);
		ASSERT_INT_EQ(date_compare(&b, &a), 1);
		ASSERT_INT_EQ(date_compare(&b, &c), -1);
		ASSERT_INT_EQ(date_compare(&d, &c), 1);
		ASSERT_INT_EQ(date_compare(&a, &e), 0);
	}

	TEST_START("date_to_days and date_weekday (values from python3 datetime)");
	{
		static const struct { struct gd_date d; int64_t days; int wd; } t[] = {
			{ { 1970, 1, 1 }, 0, 3 }, { { 2000, 1, 1 }, 10957, 5 },
			{ { 2024, 2, 29 }, 19782, 3 }, { { 2026, 3, 8 }, 20520, 6 },
			{ { 2026, 12, 21 }, 20808, 0 }, { { 9999, 12, 31 }, 2932896, 4 },
			{ { 1969, 12, 31 }, -1, 2 }, { { 2038, 1, 19 }, 24855, 1 },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct gd_date back;

			ASSERT_INT_EQ(date_to_days(&t[i].d), t[i].days);
			ASSERT_INT_EQ(date_weekday(&t[i].d), t[i].wd);
			date_from_days(t[i].days, &back);
			ASSERT_INT_EQ(back.year, t[i].d.year);
			ASSERT_INT_EQ(back.month, t[i].d.month);
			ASSERT_INT_EQ(back.day, t[i].d.day);
		}
	}

	TEST_START("date_from_days walks every day from 1969 to 9999");
	{
		struct gd_date prev = { 1969, 12, 30 };
		int prev_wd = 1;	/* 1969-12-30 was a Tuesday. */

		for (int64_t days = -2; days <= 2932896; days++) {
			struct gd_date d;
			int wd;

			date_from_days(days, &d);
			wd = date_weekday(&d);
			/* The day after prev, and one weekday later. */
			if (days > -2) {
				bool same_month = d.year == prev.year && d.month == prev.month;
				bool next_month = d.year == prev.year && d.month == prev.month + 1;
				bool next = (same_month && d.day == prev.day + 1) ||
				    (next_month && d.day == 1 &&
				    prev.day == days_in_month(prev.year, prev.month)) ||
				    (d.year == prev.year + 1 && d.month == 1 && d.day == 1 &&
				    prev.month == 12 && prev.day == 31);

				if (!next || wd != (prev_wd + 1) % 7) {
					TEST_FAIL("day %lld: %04d-%02d-%02d after %04d-%02d-%02d",
					    (long long)days, d.year, d.month, d.day, prev.year,
					    prev.month, prev.day);
					break;
				}
			}
			if (date_to_days(&d) != days) {
				TEST_FAIL("date_to_days(date_from_days(%lld)) = %lld",
				    (long long)days, (long long)date_to_days(&d));
				break;
			}
			prev = d;
			prev_wd = wd;
		}
		ASSERT_INT_EQ(prev.year, 9999);
		ASSERT_INT_EQ(prev.month, 12);
		ASSERT_INT_EQ(prev.day, 31);
	}
}

static void
test_hhmm(void)
{
	TEST_START("hhmm_parse");
	HHMM_OK("00:00", false, 0);
	HHMM_OK("10:00", false, 600);
	HHMM_OK("15:30", false, 930);
	HHMM_OK("23:59", false, 1439);
	HHMM_OK("09:05", true, 545);
	HHMM_OK("24:00", true, 1440);

	TEST_START("hhmm_parse rejects 25:00 and 24:00 unless allowed");
	HHMM_BAD("25:00", false, -ERANGE);
	HHMM_BAD("25:00", true, -ERANGE);
	HHMM_BAD("24:00", false, -ERANGE);
	HHMM_BAD("24:01", true, -ERANGE);
	HHMM_BAD("12:60", false, -ERANGE);
	HHMM_BAD("99:99", true, -ERANGE);

	TEST_START("hhmm_parse rejects malformed times");
	HHMM_BAD("", false, -EINVAL);
	HHMM_BAD("9:00", false, -EINVAL);
	HHMM_BAD("09:0", false, -EINVAL);
	HHMM_BAD("0900", false, -EINVAL);
	HHMM_BAD("09-00", false, -EINVAL);
	HHMM_BAD("09:00:00", false, -EINVAL);
	HHMM_BAD("09:0a", false, -EINVAL);
	HHMM_BAD(" 9:00", false, -EINVAL);
	HHMM_BAD("-1:00", false, -EINVAL);
	HHMM_BAD("+1:00", false, -EINVAL);
}

static void
test_rfc3339(void)
{
	TEST_START("rfc3339_parse (values from python3 datetime)");
	RFC_OK("2026-11-28T10:00:00Z", 1795860000);
	RFC_OK("2026-11-28T10:00:00+01:00", 1795856400);
	RFC_OK("2026-11-28T10:00:00-05:00", 1795878000);
	RFC_OK("2026-11-28T10:00:00+14:00", 1795809600);
	RFC_OK("2026-11-28T10:00:00+00:00", 1795860000);
	RFC_OK("2026-11-28T10:00:00-00:00", 1795860000);
	RFC_OK("2026-11-28t10:00:00z", 1795860000);
	RFC_OK("2026-11-28T10:00:00.123456Z", 1795860000);
	RFC_OK("2026-11-28T10:00:00.9+01:00", 1795856400);
	RFC_OK("1970-01-01T00:00:00Z", 0);
	RFC_OK("1970-01-01T00:00:00+01:00", -3600);
	RFC_OK("2024-02-29T12:00:00Z", 1709208000);
	RFC_OK("9999-12-31T23:59:59Z", 253402300799LL);

	TEST_START("rfc3339_parse: a leap second counts as :59");
	RFC_OK("2016-12-31T23:59:60Z", 1483228799);

	TEST_START("rfc3339_parse rejects");
	RFC_BAD("");
	RFC_BAD("2026-11-28");
	RFC_BAD("2026-11-28T10:00:00");
	RFC_BAD("2026-11-28 10:00:00Z");
	RFC_BAD("2026-11-28T10:00Z");
	RFC_BAD("2026-02-30T10:00:00Z");
	RFC_BAD("2026-02-29T10:00:00Z");
	RFC_BAD("2026-11-28T25:00:00Z");
	RFC_BAD("2026-11-28T24:00:00Z");
	RFC_BAD("2026-11-28T10:60:00Z");
	RFC_BAD("2026-11-28T10:00:61Z");
	RFC_BAD("2026-11-28T10:00:00.Z");
	RFC_BAD("2026-11-28T10:00:00ZZ");
	RFC_BAD("2026-11-28T10:00:00Z ");
	RFC_BAD("2026-11-28T10:00:00+0100");
	RFC_BAD("2026-11-28T10:00:00+01");
	RFC_BAD("2026-11-28T10:00:00+24:00");
	RFC_BAD("2026-11-28T10:00:00+01:60");
	RFC_BAD("2026-11-28T10:00:00+01:00:00");
	RFC_BAD("2026-11-28T1a:00:00Z");
	RFC_BAD("2026-11-28T10:00:00UTC");
	RFC_BAD("1969-12-31T23:59:59Z");

	TEST_START("rfc3339_format");
	{
		static const struct { int64_t t; const char *want; } t[] = {
			{ 0, "1970-01-01T00:00:00Z" }, { -1, "1969-12-31T23:59:59Z" },
			{ -86400, "1969-12-31T00:00:00Z" },
			{ 1795860000, "2026-11-28T10:00:00Z" },
			{ 1709208000, "2024-02-29T12:00:00Z" },
			{ 253402300799LL, "9999-12-31T23:59:59Z" },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			char buf[32];

			rfc3339_format(t[i].t, buf, sizeof(buf));
			ASSERT_STR_EQ(buf, t[i].want);
		}
	}

	TEST_START("rfc3339 round trips");
	for (int i = 0; i < 5000; i++) {
		int64_t t = (int64_t)(rng_next() % 253402300800ULL), back = -1;
		char buf[32];

		rfc3339_format(t, buf, sizeof(buf));
		if (rfc3339_parse(buf, &back, NULL) != 0 || back != t) {
			TEST_FAIL("%lld -> \"%s\" -> %lld", (long long)t, buf, (long long)back);
			break;
		}
	}
}

static void
test_url(void)
{
	char *longurl;
	size_t n;

	TEST_START("url_check accepts http and https with a host");
	URL_OK("http://example.com");
	URL_OK("https://example.com/");
	URL_OK("http://10.20.0.5:8080/checkout");
	URL_OK("http://127.0.0.1:9090");
	URL_OK("https://wiki.example/rp/db");
	URL_OK("https://[::1]:8443/x?y=1#z");
	URL_OK("HTTPS://EXAMPLE.COM/");

	TEST_START("url_check rejects other schemes, relative URLs and no host");
	URL_BAD("", -EINVAL);
	URL_BAD("example.com", -EINVAL);
	URL_BAD("/checkout", -EINVAL);
	URL_BAD("ftp://example.com/", -EINVAL);
	URL_BAD("file:///etc/passwd", -EINVAL);
	URL_BAD("gopher://example.com/", -EINVAL);
	URL_BAD("javascript:alert(1)", -EINVAL);
	URL_BAD("http://", -EINVAL);
	URL_BAD("http:/example.com", -EINVAL);
	URL_BAD("http:example.com", -EINVAL);

	TEST_START("url_check rejects spaces, control characters and raw non-ASCII");
	URL_BAD("http://exa mple.com/", -EINVAL);
	URL_BAD("http://example.com/\n", -EINVAL);
	URL_BAD("http://example.com/\t", -EINVAL);
	URL_BAD("http://example.com/\x7f", -EINVAL);
	URL_BAD("http://ex\xc3\xa4mple.com/", -EINVAL);
	URL_BAD(" http://example.com/", -EINVAL);

	TEST_START("url_check: at most GD_MAX_URL_BYTES");
	n = GD_MAX_URL_BYTES + 2;
	longurl = malloc(n);
	ASSERT_TRUE(longurl != NULL);
	if (longurl != NULL) {
		memcpy(longurl, "http://a/", 9);
		memset(longurl + 9, 'x', n - 10);
		longurl[GD_MAX_URL_BYTES] = '\0';
		URL_OK(longurl);
		longurl[GD_MAX_URL_BYTES] = 'x';
		longurl[GD_MAX_URL_BYTES + 1] = '\0';
		URL_BAD(longurl, -ERANGE);
		free(longurl);
	}
}

int
main(void)
{
	test_parse_uint();
	test_parse_decimal();
	test_decimal_format();
	test_duration_parse();
	test_duration_format();
	test_size();
	test_rate();
	test_cidr();
	test_ifname();
	test_signal();
	test_dates();
	test_hhmm();
	test_rfc3339();
	test_url();
	return test_done();
}
