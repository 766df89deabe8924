/*
 * IANA zones from TZif files (common/tz.c): loading, offsets, local <-> UTC with DST gaps and
 * folds, the POSIX TZ footer rule beyond the file's transitions, and malformed files.
 *
 * Expected values were computed independently with python3's zoneinfo and glibc's TZ
 * handling (`TZ=... date -d @T`) and are hard-coded.  Zones written by this test into a
 * temporary $TZDIR check the footer rule on its own (no transitions at all).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "parse.h"
#include "test.h"
#include "tz.h"

static struct gd_tz *
load(const char *name)
{
	struct gd_tz *tz = NULL;
	const char *why = NULL;
	int r = tz_load(name, &tz, &why);

	if (r != 0) {
		TEST_FAIL("tz_load(\"%s\") = %d (%s)", name, r, why ? why : "no reason");
		return NULL;
	}
	return tz;
}

#define LOAD_BAD(name, err)							\
	do {									\
		struct gd_tz *t_ = (struct gd_tz *)&tz_sentinel;		\
		const char *why_ = NULL;					\
		int r_ = tz_load((name), &t_, &why_);				\
		if (r_ != (err))						\
			TEST_FAIL("tz_load(\"%s\") = %d, want %d", (name), r_, (err));	\
		ASSERT_TRUE(t_ == (struct gd_tz *)&tz_sentinel);		\
		ASSERT_TRUE(why_ != NULL && why_[0] != '\0');			\
		if (r_ == 0 && t_ != (struct gd_tz *)&tz_sentinel)		\
			tz_free(t_);						\
	} while (0)

static int tz_sentinel;

#define OFF(tz, t, want)							\
	do {									\
		if ((tz) != NULL)						\
			ASSERT_INT_EQ(tz_offset_at((tz), (t)), (want));		\
	} while (0)

/* Local y-m-d hh:mm in tz maps to want with kind. */
#define L2U(tz, y, m, d, hh, mm, want, wkind)					\
	do {									\
		struct gd_date d_ = { (y), (m), (d) };				\
		enum tz_local_kind k_ = (enum tz_local_kind)-1;			\
		if ((tz) != NULL) {						\
			int64_t u_ = tz_local_to_utc((tz), &d_, (hh) * 60 + (mm), &k_);	\
			if (u_ != (want) || k_ != (wkind))			\
				TEST_FAIL("%s %04d-%02d-%02d %02d:%02d -> %lld kind %d, "	\
				    "want %lld kind %d", tz_name(tz), (y), (m), (d),	\
				    (hh), (mm), (long long)u_, (int)k_,		\
				    (long long)(want), (int)(wkind));		\
		}								\
	} while (0)

/* Unix time t in tz is local y-m-d and second of day sec. */
#define U2L(tz, t, y, m, d, sec)						\
	do {									\
		struct gd_date d_ = { 0, 0, 0 };				\
		int s_ = -1;							\
		if ((tz) != NULL) {						\
			tz_utc_to_local((tz), (t), &d_, &s_);			\
			ASSERT_INT_EQ(d_.year, (y));				\
			ASSERT_INT_EQ(d_.month, (m));				\
			ASSERT_INT_EQ(d_.day, (d));				\
			ASSERT_INT_EQ(s_, (sec));				\
		}								\
	} while (0)

/*
 * Every quarter hour of [from, to) goes to local time and back.  Local times that come from
 * a real instant are never in a gap; in a fold they map to the first occurrence.  Returns
 * how many instants were the second occurrence of a folded local time.
 */
static int
round_trip(const struct gd_tz *tz, int64_t from, int64_t to)
{
	int second = 0;

	for (int64_t t = from; t < to; t += 900) {
		struct gd_date d, d2;
		enum tz_local_kind kind;
		int sec, sec2;
		int64_t u;

		tz_utc_to_local(tz, t, &d, &sec);
		if (sec < 0 || sec > 86399 || sec % 60 != 0) {
			TEST_FAIL("%s: %lld -> second of day %d", tz_name(tz), (long long)t, sec);
			return -1;
		}
		u = tz_local_to_utc(tz, &d, sec / 60, &kind);
		tz_utc_to_local(tz, u, &d2, &sec2);
		if (kind == TZ_LOCAL_GAP || date_compare(&d, &d2) != 0 || sec != sec2 ||
		    (kind == TZ_LOCAL_EXACT && u != t) || (kind == TZ_LOCAL_FOLD && u > t)) {
			TEST_FAIL("%s: %lld -> %04d-%02d-%02d +%ds -> %lld (kind %d)", tz_name(tz),
			    (long long)t, d.year, d.month, d.day, sec, (long long)u, (int)kind);
			return -1;
		}
		if (u != t)
			second++;
	}
	return second;
}

/* 2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z, 2045-01-01T00:00:00Z, 2046-01-01T00:00:00Z. */
#define Y2026 1767225600LL
#define Y2027 1798761600LL
#define Y2045 2366841600LL
#define Y2046 2398377600LL

static void
test_load(void)
{
	struct gd_tz *tz;
	char name[80];

	TEST_START("tz_load real zones");
	{
		static const char *const zones[] = {
			"America/New_York", "Europe/Berlin", "Australia/Sydney", "UTC", "Etc/UTC",
			"Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Apia", "Etc/GMT+5",
			"America/Argentina/Buenos_Aires",
		};

		for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
			tz = load(zones[i]);
			if (tz != NULL)
				ASSERT_STR_EQ(tz_name(tz), zones[i]);
			ASSERT_TRUE(tz_free(tz) == NULL);
		}
		ASSERT_TRUE(tz_free(NULL) == NULL);
	}

	TEST_START("tz_load rejects names that are not zone names");
	LOAD_BAD("", -EINVAL);
	LOAD_BAD("../etc/passwd", -EINVAL);
	LOAD_BAD("/etc/localtime", -EINVAL);
	LOAD_BAD("/usr/share/zoneinfo/UTC", -EINVAL);
	LOAD_BAD("America/../Europe/Berlin", -EINVAL);
	LOAD_BAD("America/..", -EINVAL);
	LOAD_BAD("./UTC", -EINVAL);
	LOAD_BAD(".", -EINVAL);
	LOAD_BAD("..", -EINVAL);
	LOAD_BAD("Europe//Berlin", -EINVAL);
	LOAD_BAD("Europe/Berlin/", -EINVAL);
	LOAD_BAD("Europe/ Berlin", -EINVAL);
	LOAD_BAD("Europe/Berlin\n", -EINVAL);
	LOAD_BAD("Europe\\Berlin", -EINVAL);
	LOAD_BAD("Europe/Berlin;rm", -EINVAL);
	LOAD_BAD("Europe/*", -EINVAL);
	LOAD_BAD("~/x", -EINVAL);
	memset(name, 'A', 65);
	name[65] = '\0';
	LOAD_BAD(name, -EINVAL);

	TEST_START("tz_load: unknown zones are -ENOENT");
	LOAD_BAD("Mars/Base", -ENOENT);
	LOAD_BAD("America/Nowhere", -ENOENT);
	LOAD_BAD("utc", -ENOENT);
	LOAD_BAD("America", -ENOENT);	/* A directory. */
	memset(name, 'A', 64);
	name[64] = '\0';
	LOAD_BAD(name, -ENOENT);

	TEST_START("tz_load: files that are not TZif (zone.tab) are -EBADMSG");
	LOAD_BAD("zone.tab", -EBADMSG);
	LOAD_BAD("iso3166.tab", -EBADMSG);

	TEST_START("tz_load takes a NULL why");
	tz = (struct gd_tz *)&tz_sentinel;
	ASSERT_INT_EQ(tz_load("../x", &tz, NULL), -EINVAL);
	ASSERT_INT_EQ(tz_load("Mars/Base", &tz, NULL), -ENOENT);
	ASSERT_INT_EQ(tz_load("zone.tab", &tz, NULL), -EBADMSG);
	ASSERT_TRUE(tz == (struct gd_tz *)&tz_sentinel);

	TEST_START("tz_load: out of memory at each allocation");
	{
		unsigned long n;
		int r = -1;

		for (n = 1; n < 50; n++) {
			tz = NULL;
			gd_alloc_fail_at(n);
			r = tz_load("America/New_York", &tz, NULL);
			gd_alloc_fail_at(0);
			if (r == 0)
				break;
			ASSERT_INT_EQ(r, -ENOMEM);
			ASSERT_TRUE(tz == NULL);
		}
		ASSERT_INT_EQ(r, 0);
		ASSERT_TRUE(n > 1);
		if (r == 0)
			OFF(tz, 1768478400, -18000);
		tz_free(tz);
	}
}

static void
test_offsets(void)
{
	struct gd_tz *ny = load("America/New_York"), *ber = load("Europe/Berlin"),
	    *syd = load("Australia/Sydney"), *utc = load("UTC"), *kol = load("Asia/Kolkata"),
	    *lh = load("Australia/Lord_Howe");

	TEST_START("New York: -18000 in January, -14400 in July");
	OFF(ny, 1768478400, -18000);	/* 2026-01-15T12:00:00Z */
	OFF(ny, 1784116800, -14400);	/* 2026-07-15T12:00:00Z */

	TEST_START("Berlin: +3600 in January, +7200 in July");
	OFF(ber, 1768478400, 3600);
	OFF(ber, 1784116800, 7200);

	TEST_START("Sydney: +39600 in January, +36000 in July");
	OFF(syd, 1768478400, 39600);
	OFF(syd, 1784116800, 36000);

	TEST_START("UTC, Kolkata and Lord Howe");
	OFF(utc, 1768478400, 0);
	OFF(utc, 0, 0);
	OFF(utc, Y2045, 0);
	OFF(kol, 1768478400, 19800);
	OFF(kol, 1784116800, 19800);
	OFF(kol, Y2045 + 86400 * 180, 19800);
	OFF(lh, 1768435200, 39600);	/* 2026-01-15T00:00:00Z, +11:00 */
	OFF(lh, 1784073600, 37800);	/* 2026-07-15T00:00:00Z, +10:30 */

	TEST_START("offsets change at the exact second of each 2026 transition");
	OFF(ny, 1772953199, -18000);	/* 2026-03-08T07:00:00Z */
	OFF(ny, 1772953200, -14400);
	OFF(ny, 1793512799, -14400);	/* 2026-11-01T06:00:00Z */
	OFF(ny, 1793512800, -18000);
	OFF(ber, 1774745999, 3600);	/* 2026-03-29T01:00:00Z */
	OFF(ber, 1774746000, 7200);
	OFF(ber, 1792889999, 7200);	/* 2026-10-25T01:00:00Z */
	OFF(ber, 1792890000, 3600);
	OFF(syd, 1775318399, 39600);	/* 2026-04-04T16:00:00Z */
	OFF(syd, 1775318400, 36000);
	OFF(syd, 1791043199, 36000);	/* 2026-10-03T16:00:00Z */
	OFF(syd, 1791043200, 39600);
	OFF(lh, 1775314799, 39600);	/* 2026-04-04T15:00:00Z */
	OFF(lh, 1775314800, 37800);
	OFF(lh, 1791041399, 37800);	/* 2026-10-03T15:30:00Z */
	OFF(lh, 1791041400, 39600);

	TEST_START("far future (2045): the footer rule beyond the transitions");
	OFF(ny, 2382523200, -14400);	/* 2045-07-01T12:00:00Z */
	OFF(ny, 2368094400, -18000);	/* 2045-01-15T12:00:00Z */
	OFF(ny, 2398334400, -18000);	/* 2045-12-31T12:00:00Z */
	OFF(ny, 2372914799, -18000);	/* 2045-03-12T07:00:00Z */
	OFF(ny, 2372914800, -14400);
	OFF(ny, 2393474399, -14400);	/* 2045-11-05T06:00:00Z */
	OFF(ny, 2393474400, -18000);
	OFF(ber, 2382523200, 7200);
	OFF(ber, 2366884800, 3600);	/* 2045-01-01T12:00:00Z */
	OFF(syd, 2366884800, 39600);
	OFF(syd, 2382523200, 36000);
	OFF(syd, 2398334400, 39600);
	OFF(syd, 2374675199, 39600);	/* 2045-04-01T16:00:00Z */
	OFF(syd, 2374675200, 36000);
	OFF(syd, 2390399999, 36000);	/* 2045-09-30T16:00:00Z */
	OFF(syd, 2390400000, 39600);

	TEST_START("before the first transition: the first type (LMT)");
	OFF(ny, -5364662400LL, -17762);	/* 1800-01-01T00:00:00Z, LMT -4:56:02 */
	OFF(ber, -5364662400LL, 3208);	/* LMT +0:53:28 */

	tz_free(ny);
	tz_free(ber);
	tz_free(syd);
	tz_free(utc);
	tz_free(kol);
	tz_free(lh);
}

static void
test_local(void)
{
	struct gd_tz *ny = load("America/New_York"), *ber = load("Europe/Berlin"),
	    *syd = load("Australia/Sydney"), *utc = load("UTC"), *lh = load("Australia/Lord_Howe"),
	    *apia = load("Pacific/Apia");

	TEST_START("exact local times");
	L2U(ny, 2026, 7, 4, 12, 0, 1783180800, TZ_LOCAL_EXACT);
	L2U(ny, 2026, 12, 31, 23, 59, 1798779540, TZ_LOCAL_EXACT);
	L2U(syd, 2026, 1, 1, 0, 0, 1767186000, TZ_LOCAL_EXACT);
	L2U(utc, 2026, 7, 4, 12, 0, 1783166400, TZ_LOCAL_EXACT);
	L2U(utc, 1970, 1, 1, 0, 0, 0, TZ_LOCAL_EXACT);
	L2U(ny, 2026, 3, 8, 1, 59, 1772953140, TZ_LOCAL_EXACT);
	L2U(ny, 2026, 3, 8, 3, 0, 1772953200, TZ_LOCAL_EXACT);
	L2U(ny, 2026, 11, 1, 0, 59, 1793509140, TZ_LOCAL_EXACT);
	L2U(ny, 2026, 11, 1, 2, 0, 1793516400, TZ_LOCAL_EXACT);

	TEST_START("minute 1440 is midnight of the next day");
	L2U(ny, 2026, 7, 4, 24, 0, 1783224000, TZ_LOCAL_EXACT);
	L2U(utc, 2026, 12, 31, 24, 0, Y2027, TZ_LOCAL_EXACT);

	TEST_START("New York 2026-03-08 02:30 is a GAP: the first instant after it, 07:00Z");
	L2U(ny, 2026, 3, 8, 2, 30, 1772953200, TZ_LOCAL_GAP);
	L2U(ny, 2026, 3, 8, 2, 0, 1772953200, TZ_LOCAL_GAP);
	L2U(ny, 2026, 3, 8, 2, 59, 1772953200, TZ_LOCAL_GAP);

	TEST_START("New York 2026-11-01 01:30 is a FOLD: the first (EDT) occurrence, 05:30Z");
	L2U(ny, 2026, 11, 1, 1, 30, 1793511000, TZ_LOCAL_FOLD);
	L2U(ny, 2026, 11, 1, 1, 0, 1793509200, TZ_LOCAL_FOLD);
	L2U(ny, 2026, 11, 1, 1, 59, 1793512740, TZ_LOCAL_FOLD);

	TEST_START("Berlin 2026-03-29 02:30 gap and 2026-10-25 02:30 fold");
	L2U(ber, 2026, 3, 29, 2, 30, 1774746000, TZ_LOCAL_GAP);
	L2U(ber, 2026, 10, 25, 2, 30, 1792888200, TZ_LOCAL_FOLD);
	L2U(ber, 2026, 3, 29, 3, 0, 1774746000, TZ_LOCAL_EXACT);
	L2U(ber, 2026, 10, 25, 3, 0, 1792893600, TZ_LOCAL_EXACT);

	TEST_START("Sydney: gap 2026-10-04 02:30, fold 2026-04-05 02:30");
	L2U(syd, 2026, 10, 4, 2, 30, 1791043200, TZ_LOCAL_GAP);
	L2U(syd, 2026, 4, 5, 2, 30, 1775316600, TZ_LOCAL_FOLD);

	TEST_START("Lord Howe: half-hour DST gap and fold");
	L2U(lh, 2026, 10, 4, 2, 15, 1791041400, TZ_LOCAL_GAP);
	L2U(lh, 2026, 4, 5, 1, 45, 1775313900, TZ_LOCAL_FOLD);

	TEST_START("Apia skipped 2011-12-30: the whole day is a gap");
	L2U(apia, 2011, 12, 30, 12, 0, 1325239200, TZ_LOCAL_GAP);
	L2U(apia, 2011, 12, 30, 0, 0, 1325239200, TZ_LOCAL_GAP);
	U2L(apia, 1325239200, 2011, 12, 31, 0);
	U2L(apia, 1325239199, 2011, 12, 29, 86399);

	TEST_START("gaps and folds in 2045 (footer rule)");
	L2U(ny, 2045, 3, 12, 2, 30, 2372914800, TZ_LOCAL_GAP);
	L2U(ny, 2045, 11, 5, 1, 30, 2393472600, TZ_LOCAL_FOLD);
	L2U(ber, 2045, 3, 26, 2, 30, 2374102800, TZ_LOCAL_GAP);
	L2U(ber, 2045, 10, 29, 2, 30, 2392849800, TZ_LOCAL_FOLD);
	L2U(syd, 2045, 10, 1, 2, 30, 2390400000, TZ_LOCAL_GAP);
	L2U(syd, 2045, 4, 2, 2, 30, 2374673400, TZ_LOCAL_FOLD);

	TEST_START("tz_local_to_utc takes a NULL kind");
	if (ny != NULL) {
		struct gd_date d = { 2026, 3, 8 };

		ASSERT_INT_EQ(tz_local_to_utc(ny, &d, 150, NULL), 1772953200);
	}

	TEST_START("tz_utc_to_local");
	U2L(ny, 1772953200, 2026, 3, 8, 3 * 3600);
	U2L(ny, 1772953199, 2026, 3, 8, 2 * 3600 - 1);
	U2L(ny, 1793512800, 2026, 11, 1, 3600);
	U2L(ny, 1793512799, 2026, 11, 1, 2 * 3600 - 1);
	U2L(syd, 1767186000, 2026, 1, 1, 0);
	U2L(syd, 1767185999, 2025, 12, 31, 86399);
	U2L(utc, -1, 1969, 12, 31, 86399);
	U2L(utc, 0, 1970, 1, 1, 0);
	U2L(ny, 2382523200, 2045, 7, 1, 8 * 3600);

	TEST_START("round trips through local time, 2026 every 15 minutes");
	if (ny != NULL)
		ASSERT_INT_EQ(round_trip(ny, Y2026, Y2027), 4);
	if (ber != NULL)
		ASSERT_INT_EQ(round_trip(ber, Y2026, Y2027), 4);
	if (syd != NULL)
		ASSERT_INT_EQ(round_trip(syd, Y2026, Y2027), 4);
	if (lh != NULL)
		ASSERT_INT_EQ(round_trip(lh, Y2026, Y2027), 2);
	if (utc != NULL)
		ASSERT_INT_EQ(round_trip(utc, Y2026, Y2027), 0);

	TEST_START("round trips through local time, 2045 every 15 minutes (footer rule)");
	if (ny != NULL)
		ASSERT_INT_EQ(round_trip(ny, Y2045, Y2046), 4);
	if (ber != NULL)
		ASSERT_INT_EQ(round_trip(ber, Y2045, Y2046), 4);
	if (syd != NULL)
		ASSERT_INT_EQ(round_trip(syd, Y2045, Y2046), 4);

	TEST_START("every minute of the New York gap maps to 07:00Z, of the fold to EDT");
	if (ny != NULL) {
		struct gd_date spring = { 2026, 3, 8 }, fall = { 2026, 11, 1 };

		for (int m = 120; m < 180; m++) {
			enum tz_local_kind k;

			if (tz_local_to_utc(ny, &spring, m, &k) != 1772953200 || k != TZ_LOCAL_GAP)
				TEST_FAIL("spring minute %d", m);
			if (tz_local_to_utc(ny, &fall, m - 60, &k) != 1793509200 + (m - 120) * 60 ||
			    k != TZ_LOCAL_FOLD)
				TEST_FAIL("fall minute %d", m - 60);
		}
	}

	tz_free(ny);
	tz_free(ber);
	tz_free(syd);
	tz_free(utc);
	tz_free(lh);
	tz_free(apia);
}

/* TZif files written by the test. */
struct tzif {
	char version;			/* '\0', '2' or '3'. */
	const int64_t *times;
	const uint8_t *idx;
	size_t ntimes;
	const int32_t *offs;
	size_t ntypes;
	const char *footer;		/* For version >= '2'. */
	int leaps;
};

static uint8_t *
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint8_t *
tzif_block(uint8_t *p, const struct tzif *z, int tsize)
{
	memcpy(p, "TZif", 4);
	p[4] = (uint8_t)z->version;
	memset(p + 5, 0, 15);
	p += 20;
	p = put_be(p, 0, 4);				/* isutcnt */
	p = put_be(p, 0, 4);				/* isstdcnt */
	p = put_be(p, (uint64_t)z->leaps, 4);		/* leapcnt */
	p = put_be(p, z->ntimes, 4);			/* timecnt */
	p = put_be(p, z->ntypes, 4);			/* typecnt */
	p = put_be(p, 4, 4);				/* charcnt */
	for (size_t i = 0; i < z->ntimes; i++)
		p = put_be(p, (uint64_t)z->times[i], tsize);
	for (size_t i = 0; i < z->ntimes; i++)
		*p++ = z->idx[i];
	for (size_t i = 0; i < z->ntypes; i++) {
		p = put_be(p, (uint32_t)z->offs[i], 4);
		*p++ = 0;
		*p++ = 0;
	}
	memcpy(p, "ZZZ", 4);
	p += 4;
	for (int i = 0; i < z->leaps; i++) {
		p = put_be(p, 100000000ULL * (unsigned)(i + 1), tsize);
		p = put_be(p, (uint64_t)(i + 1), 4);
	}
	return p;
}

static size_t
tzif_build(const struct tzif *z, uint8_t *buf)
{
	uint8_t *p = tzif_block(buf, z, 4);

	if (z->version >= '2') {
		p = tzif_block(p, z, 8);
		size_t n = strlen(z->footer);

		*p++ = '\n';
		memcpy(p, z->footer, n);
		p += n;
		*p++ = '\n';
	}
	return (size_t)(p - buf);
}

static char tzdir[64];

static void
put_file(const char *name, const void *data, size_t len)
{
	char path[256];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", tzdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len)
		TEST_FAIL("cannot write %s", path);
	if (fd != -1)
		close(fd);
}

static void
put_zone(const char *name, const struct tzif *z)
{
	uint8_t buf[4096];

	put_file(name, buf, tzif_build(z, buf));
}

static const char *const made_files[] = {
	"thin_ny", "thin_syd", "thin_ber", "thin_jul", "thin_zero", "thin_nuuk", "thin_ind",
	"one", "v1", "nofooter_rule", "link", "big", "empty", "magic", "trunc", "sametime",
	"badidx", "badoff", "notypes", "leap", "nonl", "badfooter", "badmonth", "badname",
	"manytimes", "dstonly", "thin_perm",
};

static void
make_zones(void)
{
	static const int32_t est[] = { -18000 }, aest[] = { 36000 }, cet[] = { 3600 },
	    m3[] = { -10800 }, m2[] = { -7200 }, ist[] = { 19800 }, one_offs[] = { 3600, 7200 },
	    bad_offs[] = { 30 * 3600 };
	static const int64_t one_times[] = { 1000000000 }, same_times[] = { 1000, 1000 };
	static const uint8_t one_idx[] = { 1 }, same_idx[] = { 0, 0 }, bad_idx[] = { 5 };
	uint8_t buf[4096], *big;
	size_t n;

	TEST_START("write test zones into a temporary TZDIR");
	(void)snprintf(tzdir, sizeof(tzdir), "/tmp/gd-test-tz-XXXXXX");
	if (mkdtemp(tzdir) == NULL) {
		TEST_FAIL("mkdtemp failed");
		return;
	}
	put_zone("thin_ny", &(struct tzif){ '2', NULL, NULL, 0, est, 1,
	    "EST5EDT,M3.2.0,M11.1.0", 0 });
	put_zone("thin_syd", &(struct tzif){ '2', NULL, NULL, 0, aest, 1,
	    "AEST-10AEDT,M10.1.0,M4.1.0/3", 0 });
	put_zone("thin_ber", &(struct tzif){ '2', NULL, NULL, 0, cet, 1,
	    "CET-1CEST,M3.5.0,M10.5.0/3", 0 });
	put_zone("thin_jul", &(struct tzif){ '2', NULL, NULL, 0, m3, 1, "XST3XDT,J60,J300", 0 });
	put_zone("thin_zero", &(struct tzif){ '2', NULL, NULL, 0, m3, 1, "YST3YDT,59,299", 0 });
	put_zone("thin_nuuk", &(struct tzif){ '2', NULL, NULL, 0, m2, 1,
	    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 0 });
	put_zone("thin_ind", &(struct tzif){ '2', NULL, NULL, 0, ist, 1, "IST-5:30", 0 });
	put_zone("one", &(struct tzif){ '2', one_times, one_idx, 1, one_offs, 2, "BBB-2", 0 });
	put_zone("v1", &(struct tzif){ '\0', one_times, one_idx, 1, one_offs, 2, NULL, 0 });
	put_zone("nofooter_rule", &(struct tzif){ '3', one_times, one_idx, 1, one_offs, 2, "",
	    0 });
	put_zone("dstonly", &(struct tzif){ '2', NULL, NULL, 0, est, 1, "EST5EDT", 0 });
	put_zone("thin_perm", &(struct tzif){ '2', NULL, NULL, 0, m3, 1,
	    "<-03>3<-02>,0/0,J365/25", 0 });
	{
		char path[256];

		(void)snprintf(path, sizeof(path), "%s/link", tzdir);
		if (symlink("thin_ny", path) != 0)
			TEST_FAIL("cannot symlink %s", path);
	}

	/* Broken files. */
	big = calloc(1, 300 * 1024);
	if (big != NULL) {
		n = tzif_build(&(struct tzif){ '2', NULL, NULL, 0, est, 1, "EST5", 0 }, big);
		(void)n;
		put_file("big", big, 300 * 1024);
		free(big);
	}
	put_file("empty", "", 0);
	put_file("magic", "TZif2 this is not a zone", 24);
	n = tzif_build(&(struct tzif){ '2', one_times, one_idx, 1, one_offs, 2, "BBB-2", 0 },
	    buf);
	put_file("trunc", buf, n - 20);
	put_zone("sametime", &(struct tzif){ '2', same_times, same_idx, 2, est, 1, "EST5", 0 });
	put_zone("badidx", &(struct tzif){ '2', one_times, bad_idx, 1, est, 1, "EST5", 0 });
	put_zone("badoff", &(struct tzif){ '2', NULL, NULL, 0, bad_offs, 1, "EST5", 0 });
	put_zone("notypes", &(struct tzif){ '2', NULL, NULL, 0, est, 0, "EST5", 0 });
	put_zone("leap", &(struct tzif){ '2', NULL, NULL, 0, est, 1, "EST5", 1 });
	n = tzif_build(&(struct tzif){ '2', NULL, NULL, 0, est, 1, "EST5", 0 }, buf);
	put_file("nonl", buf, n - 1);
	put_zone("badfooter", &(struct tzif){ '2', NULL, NULL, 0, est, 1, "!!!", 0 });
	put_zone("badmonth", &(struct tzif){ '2', NULL, NULL, 0, est, 1,
	    "EST5EDT,M13.1.0,M11.1.0", 0 });
	put_zone("badname", &(struct tzif){ '2', NULL, NULL, 0, est, 1, "E5", 0 });
	{
		/* More transitions than tz.c takes (TZ_MAX_TIMES is 2000). */
		static int64_t times[2001];
		static uint8_t idx[2001];
		uint8_t *many = calloc(1, 64 * 1024);

		for (int i = 0; i < 2001; i++)
			times[i] = 1000 * (int64_t)i;

		if (many != NULL) {
			n = tzif_build(&(struct tzif){ '2', times, idx, 2001, est, 1, "EST5", 0 },
			    many);
			put_file("manytimes", many, n);
			free(many);
		}
	}
	if (setenv("TZDIR", tzdir, 1) != 0)
		TEST_FAIL("setenv");
}

static void
remove_zones(void)
{
	char path[256];

	for (size_t i = 0; i < sizeof(made_files) / sizeof(made_files[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", tzdir, made_files[i]);
		(void)unlink(path);
	}
	if (rmdir(tzdir) != 0)
		TEST_FAIL("cannot remove %s", tzdir);
	(void)unsetenv("TZDIR");
}

static void
test_made_zones(void)
{
	struct gd_tz *tz;

	make_zones();

	TEST_START("TZDIR is honoured");
	LOAD_BAD("America/New_York", -ENOENT);
	tz = load("thin_ny");
	tz_free(tz);

	TEST_START("footer only: EST5EDT,M3.2.0,M11.1.0 (glibc and zoneinfo agree)");
	tz = load("thin_ny");
	OFF(tz, 1768478400, -18000);
	OFF(tz, 1784116800, -14400);
	OFF(tz, 1772953199, -18000);
	OFF(tz, 1772953200, -14400);
	OFF(tz, 1793512799, -14400);
	OFF(tz, 1793512800, -18000);
	OFF(tz, 1836457199, -18000);	/* 2028-03-12T07:00:00Z */
	OFF(tz, 1836457200, -14400);
	OFF(tz, 1857016799, -14400);	/* 2028-11-05T06:00:00Z */
	OFF(tz, 1857016800, -18000);
	OFF(tz, 2382523200, -14400);
	L2U(tz, 2026, 3, 8, 2, 30, 1772953200, TZ_LOCAL_GAP);
	L2U(tz, 2026, 11, 1, 1, 30, 1793511000, TZ_LOCAL_FOLD);
	L2U(tz, 2026, 7, 4, 12, 0, 1783180800, TZ_LOCAL_EXACT);
	if (tz != NULL)
		ASSERT_INT_EQ(round_trip(tz, Y2026, Y2027), 4);
	tz_free(tz);

	TEST_START("footer only, southern hemisphere: AEST-10AEDT,M10.1.0,M4.1.0/3");
	tz = load("thin_syd");
	OFF(tz, 1768478400, 39600);
	OFF(tz, 1784116800, 36000);
	OFF(tz, 1775318399, 39600);
	OFF(tz, 1775318400, 36000);
	OFF(tz, 1791043199, 36000);
	OFF(tz, 1791043200, 39600);
	OFF(tz, 1838217599, 39600);	/* 2028-04-01T16:00:00Z */
	OFF(tz, 1838217600, 36000);
	OFF(tz, 1853942399, 36000);	/* 2028-09-30T16:00:00Z */
	OFF(tz, 1853942400, 39600);
	/* Around new year, on both sides of the standard-time year boundary. */
	OFF(tz, Y2027 - 11 * 3600 + 1800, 39600);
	OFF(tz, Y2027 - 10 * 3600 + 1800, 39600);
	OFF(tz, Y2027 - 9 * 3600, 39600);
	L2U(tz, 2026, 10, 4, 2, 30, 1791043200, TZ_LOCAL_GAP);
	L2U(tz, 2026, 4, 5, 2, 30, 1775316600, TZ_LOCAL_FOLD);
	L2U(tz, 2026, 1, 1, 0, 0, 1767186000, TZ_LOCAL_EXACT);
	if (tz != NULL)
		ASSERT_INT_EQ(round_trip(tz, Y2026, Y2027), 4);
	tz_free(tz);

	TEST_START("footer only: CET-1CEST,M3.5.0,M10.5.0/3 (last Sunday)");
	tz = load("thin_ber");
	OFF(tz, 1774745999, 3600);
	OFF(tz, 1774746000, 7200);
	OFF(tz, 1792889999, 7200);
	OFF(tz, 1792890000, 3600);
	OFF(tz, 1837645199, 3600);	/* 2028-03-26T01:00:00Z */
	OFF(tz, 1837645200, 7200);
	OFF(tz, 1856393999, 7200);	/* 2028-10-29T01:00:00Z */
	OFF(tz, 1856394000, 3600);
	L2U(tz, 2026, 3, 29, 2, 30, 1774746000, TZ_LOCAL_GAP);
	L2U(tz, 2026, 10, 25, 2, 30, 1792888200, TZ_LOCAL_FOLD);
	tz_free(tz);

	TEST_START("footer only: Julian days J60,J300 skip Feb 29");
	tz = load("thin_jul");
	OFF(tz, 1772341199, -10800);	/* 2026-03-01T05:00:00Z */
	OFF(tz, 1772341200, -7200);
	OFF(tz, 1793073599, -7200);	/* 2026-10-27T04:00:00Z */
	OFF(tz, 1793073600, -10800);
	OFF(tz, 1835499599, -10800);	/* 2028-03-01T05:00:00Z (a leap year) */
	OFF(tz, 1835499600, -7200);
	OFF(tz, 1856231999, -7200);	/* 2028-10-27T04:00:00Z */
	OFF(tz, 1856232000, -10800);
	tz_free(tz);

	TEST_START("footer only: zero-based days 59,299 count Feb 29");
	tz = load("thin_zero");
	OFF(tz, 1772341199, -10800);	/* 2026-03-01T05:00:00Z */
	OFF(tz, 1772341200, -7200);
	OFF(tz, 1793073599, -7200);	/* 2026-10-27T04:00:00Z */
	OFF(tz, 1793073600, -10800);
	OFF(tz, 1835413199, -10800);	/* 2028-02-29T05:00:00Z */
	OFF(tz, 1835413200, -7200);
	OFF(tz, 1856145599, -7200);	/* 2028-10-26T04:00:00Z */
	OFF(tz, 1856145600, -10800);
	tz_free(tz);

	TEST_START("footer only: <-02>2<-01>,M3.5.0/-1,M10.5.0/0 (negative rule time)");
	tz = load("thin_nuuk");
	OFF(tz, 1774745999, -7200);	/* 2026-03-29T01:00:00Z */
	OFF(tz, 1774746000, -3600);
	OFF(tz, 1792889999, -3600);	/* 2026-10-25T01:00:00Z */
	OFF(tz, 1792890000, -7200);
	L2U(tz, 2026, 3, 28, 23, 30, 1774746000, TZ_LOCAL_GAP);
	L2U(tz, 2026, 10, 24, 23, 30, 1792888200, TZ_LOCAL_FOLD);
	tz_free(tz);

	/*
	 * RFC 8536 3.3.1: "0/0,J365/25" is daylight saving time all year (python's zoneinfo
	 * agrees; glibc shows standard time for the first hours of each year).
	 */
	TEST_START("footer only: <-03>3<-02>,0/0,J365/25 is DST all year");
	tz = load("thin_perm");
	OFF(tz, 1767225600, -7200);	/* 2026-01-01T00:00:00Z */
	OFF(tz, 1767236399, -7200);
	OFF(tz, 1767236400, -7200);
	OFF(tz, 1784116800, -7200);
	OFF(tz, 1798772399, -7200);	/* 2027-01-01T02:59:59Z */
	OFF(tz, 1798772400, -7200);
	L2U(tz, 2026, 1, 1, 0, 30, 1767234600, TZ_LOCAL_EXACT);
	L2U(tz, 2026, 12, 31, 23, 30, 1798767000, TZ_LOCAL_EXACT);
	if (tz != NULL)
		ASSERT_INT_EQ(round_trip(tz, Y2026, Y2027), 0);
	tz_free(tz);

	TEST_START("footer only: IST-5:30 has no DST");
	tz = load("thin_ind");
	OFF(tz, 0, 19800);
	OFF(tz, 1784116800, 19800);
	L2U(tz, 2026, 7, 4, 12, 0, 1783146600, TZ_LOCAL_EXACT);	/* 06:30Z */
	tz_free(tz);

	TEST_START("one transition: the first type before it, the footer after it");
	tz = load("one");
	OFF(tz, 0, 3600);
	OFF(tz, 999999999, 3600);
	OFF(tz, 1000000000, 7200);
	OFF(tz, 2000000000, 7200);
	tz_free(tz);

	TEST_START("version 1 file (32-bit times, no footer)");
	tz = load("v1");
	OFF(tz, 999999999, 3600);
	OFF(tz, 1000000000, 7200);
	OFF(tz, 2000000000, 7200);
	tz_free(tz);

	TEST_START("empty footer: the last type stays in force");
	tz = load("nofooter_rule");
	OFF(tz, 999999999, 3600);
	OFF(tz, 2000000000, 7200);
	tz_free(tz);

	TEST_START("footer without rule dates uses the US rule");
	tz = load("dstonly");
	OFF(tz, 1768478400, -18000);
	OFF(tz, 1784116800, -14400);
	OFF(tz, 1772953200, -14400);
	OFF(tz, 1772953199, -18000);
	tz_free(tz);

	TEST_START("symlinks inside TZDIR are followed");
	tz = load("link");
	if (tz != NULL)
		ASSERT_STR_EQ(tz_name(tz), "link");
	OFF(tz, 1784116800, -14400);
	tz_free(tz);

	TEST_START("malformed TZif files are -EBADMSG");
	LOAD_BAD("empty", -EBADMSG);
	LOAD_BAD("magic", -EBADMSG);
	LOAD_BAD("trunc", -EBADMSG);
	LOAD_BAD("sametime", -EBADMSG);
	LOAD_BAD("badidx", -EBADMSG);
	LOAD_BAD("badoff", -EBADMSG);
	LOAD_BAD("notypes", -EBADMSG);
	LOAD_BAD("nonl", -EBADMSG);
	LOAD_BAD("badfooter", -EBADMSG);
	LOAD_BAD("badmonth", -EBADMSG);
	LOAD_BAD("badname", -EBADMSG);
	LOAD_BAD("manytimes", -EBADMSG);

	TEST_START("leap-second zones (right/...) are refused");
	LOAD_BAD("leap", -EBADMSG);

	TEST_START("oversized files are refused");
	{
		struct gd_tz *t = (struct gd_tz *)&tz_sentinel;

		ASSERT_TRUE(tz_load("big", &t, NULL) < 0);
		ASSERT_TRUE(t == (struct gd_tz *)&tz_sentinel);
	}

	remove_zones();

	TEST_START("a relative TZDIR is ignored");
	(void)setenv("TZDIR", "relative/dir", 1);
	tz = load("America/New_York");
	tz_free(tz);
	(void)unsetenv("TZDIR");
}

int
main(void)
{
	(void)unsetenv("TZDIR");
	test_load();
	test_offsets();
	test_local();
	test_made_zones();
	return test_done();
}
