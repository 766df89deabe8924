#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "limits.h"

#define WHY(msg) do { if (why != NULL) *why = (msg); } while (0)
#define TZ_MAX_FILE	(256 * 1024)	/* The largest zone in tzdata is under 4 KiB. */
#define TZ_MAX_TIMES	2000
#define TZ_MAX_TYPES	256

/* A POSIX TZ rule date: Jn (julian, no Feb 29), n (zero-based day), or Mm.w.d. */
struct tz_rule_date {
	char kind;		/* 'J', 'D' or 'M'. */
	int day, week, month;
	int32_t secs;		/* Local time of day of the change; may be negative or > 24h. */
};

struct tz_rule {
	bool present, has_dst;
	int32_t std_off, dst_off;	/* Seconds east of UTC. */
	struct tz_rule_date start, end;
};

struct gd_tz {
	char name[GD_MAX_NAME_BYTES + 1];
	size_t ntimes, ntypes;
	int64_t *times;
	uint8_t *idx;
	int32_t *type_off;
	struct tz_rule rule;
};

struct gd_tz *
tz_free(struct gd_tz *tz)
{
	if (tz == NULL)
		return NULL;
	gd_free(tz->times);
	gd_free(tz->idx);
	gd_free(tz->type_off);
	gd_free(tz);
	return NULL;
}

const char *
tz_name(const struct gd_tz *tz)
{
	return tz->name;
}

static int
tz_name_check(const char *name, const char **why)
{
	size_t n = strlen(name);

	if (n == 0 || n > GD_MAX_NAME_BYTES || name[0] == '/' || name[n - 1] == '/') {
		WHY("not an IANA time zone name such as Europe/Berlin");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || c == '+' || c == '/' || c == '.')) {
			WHY("not an IANA time zone name such as Europe/Berlin");
			return -EINVAL;
		}
		/* No component may start with a dot: that rules out "." and "..". */
		if (c == '.' && (i == 0 || name[i - 1] == '/')) {
			WHY("not an IANA time zone name such as Europe/Berlin");
			return -EINVAL;
		}
		if (c == '/' && name[i + 1] == '/') {
			WHY("not an IANA time zone name such as Europe/Berlin");
			return -EINVAL;
		}
	}
	/* Files in the tzdata directory that are not zones a schedule means. */
	if (strcmp(name, "Factory") == 0 || strcmp(name, "posixrules") == 0 ||
	    strcmp(name, "localtime") == 0) {
		WHY("not an IANA time zone name such as Europe/Berlin");
		return -EINVAL;
	}
	return 0;
}

static int64_t
be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* POSIX TZ string parsing, over [p, end). */
static const char *
rule_name(const char *p, const char *end)
{
	const char *s = p;

	if (p < end && *p == '<') {
		while (p < end && *p != '>')
			p++;
		return p < end && p - s >= 4 ? p + 1 : NULL;
	}
	while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; hours up to max_h. */
static const char *
rule_hms(const char *p, const char *end, int max_h, int32_t *ret)
{
	int sign = 1, part[3] = { 0, 0, 0 }, np = 0;

	if (p < end && (*p == '+' || *p == '-'))
		sign = *p++ == '-' ? -1 : 1;
	while (np < 3) {
		int v = 0, digits = 0;

		while (p < end && *p >= '0' && *p <= '9' && digits < 3) {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (digits == 0)
			return NULL;
		part[np++] = v;
		if (p < end && *p == ':' && np < 3)
			p++;
		else
			break;
	}
	if (part[0] > max_h || part[1] > 59 || part[2] > 59)
		return NULL;
	*ret = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	return p;
}

static const char *
rule_num(const char *p, const char *end, int lo, int hi, int *ret)
{
	int v = 0, digits = 0;

	while (p < end && *p >= '0' && *p <= '9' && digits < 4) {
		v = v * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0 || v < lo || v > hi)
		return NULL;
	*ret = v;
	return p;
}

static const char *
rule_date(const char *p, const char *end, struct tz_rule_date *d)
{
	d->secs = 2 * 3600;
	if (p < end && *p == 'J') {
		d->kind = 'J';
		p = rule_num(p + 1, end, 1, 365, &d->day);
	} else if (p < end && *p == 'M') {
		d->kind = 'M';
		if ((p = rule_num(p + 1, end, 1, 12, &d->month)) == NULL || p >= end || *p != '.' ||
		    (p = rule_num(p + 1, end, 1, 5, &d->week)) == NULL || p >= end || *p != '.')
			return NULL;
		p = rule_num(p + 1, end, 0, 6, &d->day);
	} else {
		d->kind = 'D';
		p = rule_num(p, end, 0, 365, &d->day);
	}
	if (p != NULL && p < end && *p == '/')
		p = rule_hms(p + 1, end, 167, &d->secs);
	return p;
}

static int
rule_parse(const char *p, const char *end, struct tz_rule *r)
{
	int32_t off;

	if (p == end)
		return 0;	/* An empty footer: no rule. */
	if ((p = rule_name(p, end)) == NULL || (p = rule_hms(p, end, 24, &off)) == NULL)
		return -EBADMSG;
	r->std_off = -off;
	r->present = true;
	if (p == end)
		return 0;
	if ((p = rule_name(p, end)) == NULL)
		return -EBADMSG;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (p < end && *p != ',') {
		if ((p = rule_hms(p, end, 24, &off)) == NULL)
			return -EBADMSG;
		r->dst_off = -off;
	}
	if (p == end) {
		/* POSIX leaves the default rule to the implementation; glibc uses the US one. */
		r->start = (struct tz_rule_date){ 'M', 0, 2, 3, 7200 };
		r->end = (struct tz_rule_date){ 'M', 0, 1, 11, 7200 };
		return 0;
	}
	if (*p != ',' || (p = rule_date(p + 1, end, &r->start)) == NULL || p >= end ||
	    *p != ',' || (p = rule_date(p + 1, end, &r->end)) == NULL || p != end)
		return -EBADMSG;
	return 0;
}

/* Unix time (in local seconds, not yet adjusted for the offset) of a rule date in year y. */
static int64_t
rule_date_local(const struct tz_rule_date *d, int year)
{
	struct gd_date jan1 = { year, 1, 1 };
	int64_t days;

	if (d->kind == 'J') {
		days = date_to_days(&jan1) + d->day - 1;
		if (days_in_month(year, 2) == 29 && d->day >= 60)
			days++;
	} else if (d->kind == 'D') {
		days = date_to_days(&jan1) + d->day;
	} else {
		struct gd_date first = { year, d->month, 1 };
		int wd = (date_weekday(&first) + 1) % 7;	/* 0 = Sunday, as in POSIX. */
		int mday = 1 + (d->day - wd + 7) % 7 + (d->week - 1) * 7;

		while (mday > days_in_month(year, d->month))
			mday -= 7;
		first.day = mday;
		days = date_to_days(&first);
	}
	return days * 86400 + d->secs;
}

#define TZ_T_MAX	(INT64_C(1) << 42)	/* About 139000 years, in seconds. */

static int32_t
rule_offset_at(const struct tz_rule *r, int64_t t)
{
	struct gd_date d;
	int64_t start, end;

	if (!r->has_dst)
		return r->std_off;
	/* Far past year 100000 the rule still applies; the clamp keeps the sums in range. */
	if (t > TZ_T_MAX)
		t = TZ_T_MAX;
	else if (t < -TZ_T_MAX)
		t = -TZ_T_MAX;
	date_from_days((t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0), &d);
	start = rule_date_local(&r->start, d.year) - r->std_off;
	end = rule_date_local(&r->end, d.year) - r->dst_off;
	if (start < end)
		return t >= start && t < end ? r->dst_off : r->std_off;
	return t >= end && t < start ? r->std_off : r->dst_off;
}

int32_t
tz_offset_at(const struct gd_tz *tz, int64_t t)
{
	size_t lo = 0, hi = tz->ntimes;

	if (tz->ntimes == 0 || t < tz->times[0])
		return tz->rule.present && tz->ntimes == 0 ? rule_offset_at(&tz->rule, t) :
		    tz->type_off[0];
	if (t >= tz->times[tz->ntimes - 1] && tz->rule.present)
		return rule_offset_at(&tz->rule, t);
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->type_off[tz->idx[lo]];
}

/* Parses the TZif data in buf[0..len). */
static int
tz_parse(struct gd_tz *tz, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;
	int64_t cnt[6];
	size_t tsize = 4, body;
	int r;

	for (int pass = 0; pass < 2; pass++) {
		if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0)
			return -EBADMSG;
		for (int i = 0; i < 6; i++)
			cnt[i] = be(p + 20 + 4 * i, 4);
		/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
		if (cnt[3] < 0 || cnt[3] > TZ_MAX_TIMES || cnt[4] < 1 || cnt[4] > TZ_MAX_TYPES ||
		    cnt[0] < 0 || cnt[0] > cnt[4] || cnt[1] < 0 || cnt[1] > cnt[4] || cnt[2] < 0 ||
		    cnt[2] > 100 || cnt[5] < 0 || cnt[5] > 4096)
			return -EBADMSG;
		body = (size_t)(cnt[3] * (int64_t)tsize + cnt[3] + cnt[4] * 6 + cnt[5] +
		    cnt[2] * (int64_t)(tsize + 4) + cnt[1] + cnt[0]);
		if ((size_t)(end - p) - 44 < body)
			return -EBADMSG;
		if (pass == 0 && p[4] >= '2') {
			p += 44 + body;	/* Skip the 32-bit block; the 64-bit one follows. */
			tsize = 8;
			continue;
		}
		break;
	}
	if (cnt[2] != 0)
		return -ENOTSUP;
	p += 44;
	tz->ntimes = (size_t)cnt[3];
	tz->ntypes = (size_t)cnt[4];
	tz->times = gd_calloc(tz->ntimes + 1, sizeof(*tz->times));
	tz->idx = gd_calloc(tz->ntimes + 1, 1);
	tz->type_off = gd_calloc(tz->ntypes, sizeof(*tz->type_off));
	if (tz->times == NULL || tz->idx == NULL || tz->type_off == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < tz->ntimes; i++) {
		tz->times[i] = be(p + i * tsize, (int)tsize);
		if (i > 0 && tz->times[i] <= tz->times[i - 1])
			return -EBADMSG;
	}
	p += tz->ntimes * tsize;
	for (size_t i = 0; i < tz->ntimes; i++)
		if ((tz->idx[i] = p[i]) >= tz->ntypes)
			return -EBADMSG;
	p += tz->ntimes;
	for (size_t i = 0; i < tz->ntypes; i++) {
		int32_t off = (int32_t)be(p + 6 * i, 4);

		if (off < -25 * 3600 || off > 26 * 3600)
			return -EBADMSG;
		tz->type_off[i] = off;
	}
	p += tz->ntypes * 6 + (size_t)cnt[5] + (size_t)cnt[2] * (tsize + 4) + (size_t)cnt[1] +
	    (size_t)cnt[0];
	if (tsize == 8) {
		const uint8_t *nl;

		if (p >= end || *p != '\n' ||
		    (nl = memchr(p + 1, '\n', (size_t)(end - p - 1))) == NULL)
			return -EBADMSG;
		if ((r = rule_parse((const char *)p + 1, (const char *)nl, &tz->rule)) < 0)
			return r;
	}
	return 0;
}

static int
tz_read_file(const char *name, uint8_t **ret_buf, size_t *ret_len, const char **why)
{
	const char *dir = getenv("TZDIR");
	char path[GD_MAX_PATH_BYTES];
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd, r = 0;

	if (dir == NULL || *dir != '/')
		dir = "/usr/share/zoneinfo";
	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1 && errno == ELOOP)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);	/* Links within tzdata. */
	if (fd == -1) {
		WHY("no such time zone in the system's tzdata");
		return -ENOENT;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > TZ_MAX_FILE) {
		WHY("no such time zone in the system's tzdata");
		r = -ENOENT;
		goto out;
	}
	if ((buf = gd_malloc((size_t)st.st_size + 1)) == NULL) {
		WHY("out of memory");
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size + 1);
	if (n == -1 || n > st.st_size) {
		gd_free(buf);
		WHY("cannot read the time zone file");
		r = -EIO;
		goto out;
	}
	*ret_buf = buf;
	*ret_len = (size_t)n;
out:
	close(fd);
	return r;
}

int
tz_load(const char *name, struct gd_tz **ret, const char **why)
{
	struct gd_tz *tz;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = tz_name_check(name, why)) < 0)
		return r;
	if ((r = tz_read_file(name, &buf, &len, why)) < 0)
		return r;
	if ((tz = gd_calloc(1, sizeof(*tz))) == NULL) {
		gd_free(buf);
		WHY("out of memory");
		return -ENOMEM;
	}
	(void)snprintf(tz->name, sizeof(tz->name), "%s", name);
	r = tz_parse(tz, buf, len);
	gd_free(buf);
	if (r < 0) {
		WHY(r == -ENOMEM ? "out of memory" : r == -ENOTSUP ?
		    "zones that count leap seconds (right/...) are not supported" :
		    "the time zone file is not a valid TZif file");
		tz_free(tz);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	*ret = tz;
	return 0;
}

int64_t
tz_local_to_utc(const struct gd_tz *tz, const struct gd_date *d, int minute_of_day,
    enum tz_local_kind *ret_kind)
{
	int64_t local = date_to_days(d) * 86400 + (int64_t)minute_of_day * 60;
	int32_t before = tz_offset_at(tz, local - 86400 - 26 * 3600);
	int32_t after = tz_offset_at(tz, local + 86400 + 26 * 3600);
	int64_t t1 = local - before, t2 = local - after, lo, hi;
	bool ok1 = t1 + tz_offset_at(tz, t1) == local, ok2 = t2 + tz_offset_at(tz, t2) == local;
	enum tz_local_kind kind = TZ_LOCAL_EXACT;
	int64_t t;

	/* Offsets a day away on either side frame any single change near this time. */
	if (ok1 && ok2) {
		t = t1 < t2 ? t1 : t2;
		if (t1 != t2)
			kind = TZ_LOCAL_FOLD;
	} else if (ok1 || ok2) {
		t = ok1 ? t1 : t2;
	} else {
		/* A gap: find the first instant whose offset is the later one. */
		lo = t1 < t2 ? t1 : t2;
		hi = t1 < t2 ? t2 : t1;
		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;

			if (tz_offset_at(tz, mid) == tz_offset_at(tz, hi))
				hi = mid;
			else
				lo = mid;
		}
		t = hi;
		kind = TZ_LOCAL_GAP;
	}
	if (ret_kind != NULL)
		*ret_kind = kind;
	return t;
}

void
tz_utc_to_local(const struct gd_tz *tz, int64_t t, struct gd_date *ret_date,
    int *ret_second_of_day)
{
	int64_t local = t + tz_offset_at(tz, t);
	int64_t days = local / 86400, rem = local % 86400;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	date_from_days(days, ret_date);
	*ret_second_of_day = (int)rem;
}
