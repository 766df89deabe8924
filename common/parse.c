#include "parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "limits.h"

#define WHY(msg) do { if (why != NULL) *why = (msg); } while (0)

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads the digits at *p (at most 18, so no overflow) and advances past them. */
static int
read_digits(const char **p, uint64_t *ret, const char **why)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;

	for (; is_digit(s[n]); n++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[n] - '0'), &v)) {
			WHY("number is too large");
			return -ERANGE;
		}
	if (n == 0) {
		WHY("expected a number");
		return -EINVAL;
	}
	*p = s + n;
	*ret = v;
	return 0;
}

int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret, const char **why)
{
	const char *p = s;
	uint64_t v;
	int r;

	if (s[0] == '0' && s[1] != '\0') {
		WHY("leading zeros are not allowed");
		return -EINVAL;
	}
	if ((r = read_digits(&p, &v, why)) < 0)
		return r;
	if (*p != '\0') {
		WHY("not a whole number");
		return -EINVAL;
	}
	if (v < min || v > max) {
		WHY("out of range");
		return -ERANGE;
	}
	*ret = v;
	return 0;
}

int
parse_decimal(const char *s, size_t len, double *ret, const char **why)
{
	char text[40];
	size_t i = 0, intdigits = 0, fracdigits = 0, significant = 0;

	for (; i < len && is_digit(s[i]); i++) {
		if (++intdigits > 15) {
			WHY("number is too large");
			return -ERANGE;
		}
		if (significant > 0 || s[i] != '0')
			significant++;
	}
	if (intdigits == 0) {
		WHY("expected a number");
		return -EINVAL;
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && is_digit(s[i]); i++) {
			if (++fracdigits > 9) {
				WHY("too many decimal places");
				return -EINVAL;
			}
			if (significant > 0 || s[i] != '0')
				significant++;
		}
		if (fracdigits == 0) {
			WHY("expected digits after the decimal point");
			return -EINVAL;
		}
	}
	if (i != len) {
		WHY("not a number");
		return -EINVAL;
	}
	if (significant > 15) {
		WHY("more than 15 significant digits");
		return -ERANGE;
	}
	/* The text is now a plain decimal; strtod() rounds it to the nearest double. */
	memcpy(text, s, len);
	text[len] = '\0';
	*ret = strtod(text, NULL);
	return 0;
}

/*
 * Up to 9 decimals and 15 significant digits in all, so that any value parse_decimal()
 * accepted prints as the text it was written as (less trailing zeros).
 */
void
decimal_format(double v, char *buf, size_t len)
{
	double mag = v < 0 ? -v : v;
	int intdigits = 0, prec;
	size_t n;

	for (double t = 1; t <= mag && intdigits < 400; t *= 10)
		intdigits++;
	prec = 15 - intdigits;
	prec = prec > 9 ? 9 : prec < 0 ? 0 : prec;
	(void)snprintf(buf, len, "%.*f", prec, v);
	if (strchr(buf, '.') == NULL)
		return;
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (strcmp(buf, "-0") == 0)
		(void)snprintf(buf, len, "0");
}

/* Duration units, largest first; the bound applies when a larger unit came before. */
static const struct {
	const char *name;
	uint64_t ms;
	uint64_t bound;
} dur_units[] = {
	{ "d", 86400000ULL, 0 },
	{ "h", 3600000ULL, 24 },
	{ "m", 60000ULL, 60 },
	{ "s", 1000ULL, 60 },
	{ "ms", 1ULL, 1000 },
};
#define DUR_NUNITS (sizeof(dur_units) / sizeof(dur_units[0]))

static int
dur_unit_at(const char **p)
{
	const char *s = *p;

	/* "ms" before "m": the longest match wins. */
	if (s[0] == 'm' && s[1] == 's') {
		*p = s + 2;
		return 4;
	}
	for (size_t i = 0; i < DUR_NUNITS - 1; i++) {
		if (s[0] == dur_units[i].name[0]) {
			*p = s + 1;
			return (int)i;
		}
	}
	return -1;
}

int
duration_parse(const char *s, uint64_t *ret_ms, const char **why)
{
	const char *p = s;
	uint64_t total = 0;
	int last = -1;

	if (*s == '\0') {
		WHY("empty duration");
		return -EINVAL;
	}
	while (*p != '\0') {
		uint64_t v, add;
		int u, r;

		if (!is_digit(*p)) {
			WHY("expected a number followed by a unit (ms, s, m, h, d)");
			return -EINVAL;
		}
		if ((r = read_digits(&p, &v, why)) < 0)
			return r;
		if ((u = dur_unit_at(&p)) < 0) {
			WHY(*p == '\0' ? "missing unit (ms, s, m, h, d)" :
			    "unknown unit (use ms, s, m, h, d)");
			return -EINVAL;
		}
		if (u <= last) {
			WHY("units must go from largest to smallest, each once (as in 1h30m)");
			return -EINVAL;
		}
		if (last >= 0 && v >= dur_units[u].bound) {
			WHY(u == 1 ? "hours after days must be below 24" :
			    u == 2 ? "minutes after a larger unit must be below 60" :
			    u == 3 ? "seconds after a larger unit must be below 60" :
			    "milliseconds after a larger unit must be below 1000");
			return -ERANGE;
		}
		if (__builtin_mul_overflow(v, dur_units[u].ms, &add) ||
		    __builtin_add_overflow(total, add, &total) || total > GD_MAX_DURATION_MS) {
			WHY("longer than 366d");
			return -ERANGE;
		}
		last = u;
	}
	*ret_ms = total;
	return 0;
}

void
duration_format(uint64_t ms, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		(void)snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < DUR_NUNITS && o < len; i++) {
		uint64_t v = ms / dur_units[i].ms;

		if (v == 0)
			continue;
		ms -= v * dur_units[i].ms;
		o += (size_t)snprintf(buf + o, len - o, "%llu%s", (unsigned long long)v,
		    dur_units[i].name);
	}
}

static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
	{ "TB", 1ULL << 40 }, { "GB", 1ULL << 30 }, { "MB", 1ULL << 20 }, { "KB", 1ULL << 10 },
	{ "B", 1 },
};

int
size_parse(const char *s, bool allow_percent, struct gd_size *ret, const char **why)
{
	size_t len = strlen(s);
	const char *p = s;
	uint64_t v, bytes;
	int r;

	if (len > 0 && s[len - 1] == '%') {
		double pct;

		if (!allow_percent) {
			WHY("a percentage is not allowed here");
			return -EINVAL;
		}
		if ((r = parse_decimal(s, len - 1, &pct, why)) < 0)
			return r;
		if (!(pct >= 0.001 && pct <= 100)) {
			WHY("a percentage must be at least 0.001 and at most 100");
			return -ERANGE;
		}
		*ret = (struct gd_size){ .is_percent = true, .percent = pct };
		return 0;
	}
	if ((r = read_digits(&p, &v, why)) < 0) {
		if (r == -EINVAL)
			WHY("expected a number followed by B, KB, MB, GB or TB");
		return r;
	}
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strcmp(p, size_units[i].name) != 0)
			continue;
		if (__builtin_mul_overflow(v, size_units[i].mult, &bytes) ||
		    bytes > GD_MAX_SIZE_BYTES) {
			WHY("larger than 1024TB");
			return -ERANGE;
		}
		*ret = (struct gd_size){ .is_percent = false, .bytes = bytes };
		return 0;
	}
	WHY(*p == '\0' ? "missing unit (B, KB, MB, GB, TB)" :
	    "unknown unit (use B, KB, MB, GB, TB; they are powers of 1024)");
	return -EINVAL;
}

static void
bytes_format(uint64_t bytes, const char *suffix, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		uint64_t m = size_units[i].mult;

		if (bytes != 0 && bytes % m == 0) {
			(void)snprintf(buf, len, "%llu%s%s", (unsigned long long)(bytes / m),
			    size_units[i].name, suffix);
			return;
		}
	}
	(void)snprintf(buf, len, "0B%s", suffix);
}

void
size_format(const struct gd_size *sz, char *buf, size_t len)
{
	if (sz->is_percent) {
		char num[40];

		decimal_format(sz->percent, num, sizeof(num));
		(void)snprintf(buf, len, "%s%%", num);
	} else
		bytes_format(sz->bytes, "", buf, len);
}

int
rate_parse(const char *s, uint64_t *ret_bytes_per_s, const char **why)
{
	static const struct {
		const char *name;
		uint64_t bits;
	} bit_units[] = {
		{ "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 },
	};
	const char *p = s;
	uint64_t v, r64;
	size_t len = strlen(s);
	int r;

	if ((r = read_digits(&p, &v, why)) < 0) {
		if (r == -EINVAL)
			WHY("expected a rate such as 10mbit or 1MB/s");
		return r;
	}
	for (size_t i = 0; i < sizeof(bit_units) / sizeof(bit_units[0]); i++) {
		if (strcmp(p, bit_units[i].name) != 0)
			continue;
		if (__builtin_mul_overflow(v, bit_units[i].bits, &r64) ||
		    r64 / 8 > GD_MAX_RATE_BYTES_PER_S) {
			WHY("faster than 100gbit");
			return -ERANGE;
		}
		if (r64 < 8) {
			WHY("a rate must be at least 8bit (1 byte per second)");
			return -ERANGE;
		}
		if (r64 % 8 != 0) {
			/* Rates are kept in bytes per second; rounding would change the ask. */
			WHY("not a whole number of bytes per second (bits must be a multiple of 8)");
			return -EINVAL;
		}
		*ret_bytes_per_s = r64 / 8;
		return 0;
	}
	if (len > 2 && strcmp(s + len - 2, "/s") == 0) {
		char tmp[32];
		struct gd_size sz;

		if (len - 2 >= sizeof(tmp)) {
			WHY("expected a rate such as 10mbit or 1MB/s");
			return -EINVAL;
		}
		memcpy(tmp, s, len - 2);
		tmp[len - 2] = '\0';
		if ((r = size_parse(tmp, false, &sz, why)) < 0)
			return r;
		if (sz.bytes == 0 || sz.bytes > GD_MAX_RATE_BYTES_PER_S) {
			WHY(sz.bytes == 0 ? "a rate must be above zero" : "faster than 100gbit");
			return -ERANGE;
		}
		*ret_bytes_per_s = sz.bytes;
		return 0;
	}
	WHY("unknown unit (use bit, kbit, mbit, gbit, or B/s, KB/s, MB/s, GB/s)");
	return -EINVAL;
}

void
rate_format(uint64_t bytes_per_s, char *buf, size_t len)
{
	bytes_format(bytes_per_s, "/s", buf, len);
}

int
cidr_parse(const char *s, struct gd_cidr *ret, const char **why)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	struct gd_cidr c = { 0 };
	uint64_t prefix;
	unsigned bits;
	int r;

	if (alen == 0 || alen >= sizeof(addr)) {
		WHY("not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1) {
		c.family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
		c.family = AF_INET6;
		bits = 128;
	} else {
		WHY("not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	prefix = bits;
	if (slash != NULL && (r = parse_uint(slash + 1, 0, bits, &prefix, NULL)) < 0) {
		WHY(r == -ERANGE ? (bits == 32 ? "an IPv4 prefix length is 0 to 32" :
		    "an IPv6 prefix length is 0 to 128") : "the prefix length is not a number");
		return r;
	}
	c.prefix = (uint8_t)prefix;
	for (unsigned b = c.prefix; b < bits; b++) {
		if (c.addr[b / 8] & (0x80 >> (b % 8))) {
			WHY("host bits are set after the prefix length (use the network address)");
			return -EINVAL;
		}
	}
	*ret = c;
	return 0;
}

void
cidr_format(const struct gd_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, a, sizeof(a)) == NULL)
		(void)snprintf(a, sizeof(a), "?");
	(void)snprintf(buf, len, "%s/%u", a, c->prefix);
}

bool
cidr_contains(const struct gd_cidr *c, int family, const void *addr)
{
	const uint8_t *a = addr;

	if (family != c->family)
		return false;
	for (unsigned b = 0; b < c->prefix; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));

		if ((a[b / 8] & m) != (c->addr[b / 8] & m))
			return false;
	}
	return true;
}

int
ifname_check(const char *s, const char **why)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15) {
		WHY("an interface name is 1 to 15 characters");
		return -EINVAL;
	}
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		WHY("not an interface name");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
		    c == '_' || c == '-' || c == '.' || c == '@')) {
			WHY("an interface name has only letters, digits and _ - . @");
			return -EINVAL;
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int signo;
} signals[] = {
	{ "SIGHUP", SIGHUP }, { "SIGINT", SIGINT }, { "SIGQUIT", SIGQUIT },
	{ "SIGABRT", SIGABRT }, { "SIGKILL", SIGKILL }, { "SIGUSR1", SIGUSR1 },
	{ "SIGUSR2", SIGUSR2 }, { "SIGSEGV", SIGSEGV }, { "SIGPIPE", SIGPIPE },
	{ "SIGALRM", SIGALRM }, { "SIGTERM", SIGTERM }, { "SIGSTOP", SIGSTOP },
	{ "SIGCONT", SIGCONT }, { "SIGBUS", SIGBUS },
};

int
signal_parse(const char *s, int *ret_signo, const char **why)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (strcmp(s, signals[i].name) == 0 || strcmp(s, signals[i].name + 3) == 0) {
			*ret_signo = signals[i].signo;
			return 0;
		}
	}
	WHY("not a signal the fault catalogue sends (SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT, "
	    "SIGABRT, SIGSEGV, SIGBUS, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGSTOP, SIGCONT)");
	return -EINVAL;
}

const char *
signal_name(int signo)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].signo == signo)
			return signals[i].name;
	return NULL;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
days_in_month(int year, int month)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month < 1 || month > 12)
		return 0;
	return month == 2 && is_leap(year) ? 29 : dim[month - 1];
}

/* Reads exactly n digits. */
static int
fixed_digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

int
date_parse(const char *s, struct gd_date *ret, const char **why)
{
	struct gd_date d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || fixed_digits(s, 4, &d.year) < 0 ||
	    fixed_digits(s + 5, 2, &d.month) < 0 || fixed_digits(s + 8, 2, &d.day) < 0) {
		WHY("not a date of the form YYYY-MM-DD");
		return -EINVAL;
	}
	if (d.year < 1970 || d.month < 1 || d.month > 12 || d.day < 1 ||
	    d.day > days_in_month(d.year, d.month)) {
		WHY("no such calendar date");
		return -ERANGE;
	}
	*ret = d;
	return 0;
}

int
date_compare(const struct gd_date *a, const struct gd_date *b)
{
	if (a->year != b->year)
		return a->year < b->year ? -1 : 1;
	if (a->month != b->month)
		return a->month < b->month ? -1 : 1;
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	return 0;
}

/* Howard Hinnant's days_from_civil. */
int64_t
date_to_days(const struct gd_date *d)
{
	int64_t y = d->year - (d->month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (d->month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d->day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void
date_from_days(int64_t z, struct gd_date *ret)
{
	int64_t era, doe, yoe, y, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	ret->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	ret->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	ret->year = (int)(y + (ret->month <= 2));
}

int
date_weekday(const struct gd_date *d)
{
	int64_t days = date_to_days(d);	/* 1970-01-01 was a Thursday (ISO 3). */
	int64_t w = (days + 3) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

int
hhmm_parse(const char *s, bool allow_24, int *ret_minutes, const char **why)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':' || fixed_digits(s, 2, &h) < 0 ||
	    fixed_digits(s + 3, 2, &m) < 0) {
		WHY("not a time of day of the form HH:MM");
		return -EINVAL;
	}
	if (allow_24 && h == 24 && m == 0) {
		*ret_minutes = 24 * 60;
		return 0;
	}
	if (h > 23 || m > 59) {
		WHY(allow_24 ? "hours are 00 to 23 (or 24:00 for the end of the day), minutes 00 to 59" :
		    "hours are 00 to 23, minutes 00 to 59");
		return -ERANGE;
	}
	*ret_minutes = h * 60 + m;
	return 0;
}

int
rfc3339_parse(const char *s, int64_t *ret_unix, const char **why)
{
	struct gd_date d;
	char date[11];
	int hh, mm, ss, off = 0;
	const char *p;

	if (strlen(s) < 20 || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':') {
		WHY("not an RFC 3339 time such as 2026-11-28T10:00:00Z");
		return -EINVAL;
	}
	memcpy(date, s, 10);
	date[10] = '\0';
	if (date_parse(date, &d, why) < 0)
		return -EINVAL;
	if (fixed_digits(s + 11, 2, &hh) < 0 || fixed_digits(s + 14, 2, &mm) < 0 ||
	    fixed_digits(s + 17, 2, &ss) < 0 || hh > 23 || mm > 59 || ss > 60) {
		WHY("the time of day is not HH:MM:SS");
		return -EINVAL;
	}
	p = s + 19;
	if (*p == '.') {
		p++;
		if (!is_digit(*p)) {
			WHY("expected digits after the decimal point");
			return -EINVAL;
		}
		while (is_digit(*p))
			p++;
	}
	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
		off = 0;
	} else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;

		if (fixed_digits(p + 1, 2, &oh) < 0 || fixed_digits(p + 4, 2, &om) < 0 ||
		    oh > 23 || om > 59) {
			WHY("the UTC offset is not +HH:MM or -HH:MM");
			return -EINVAL;
		}
		off = (oh * 60 + om) * 60 * (p[0] == '-' ? -1 : 1);
	} else {
		WHY("expected Z or a UTC offset such as +01:00 after the time");
		return -EINVAL;
	}
	if (ss == 60)
		ss = 59;	/* A leap second: Unix time has none. */
	*ret_unix = date_to_days(&d) * 86400 + hh * 3600 + mm * 60 + ss - off;
	return 0;
}

void
rfc3339_format(int64_t unix_s, char *buf, size_t len)
{
	int64_t days = unix_s / 86400, rem = unix_s % 86400;
	struct gd_date d;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	date_from_days(days, &d);
	(void)snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", d.year, d.month, d.day,
	    (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

int
url_check(const char *s, const char **why)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL;
	int r = 0;

	if (strlen(s) > GD_MAX_URL_BYTES) {
		WHY("a URL is at most 2048 bytes");
		return -ERANGE;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			WHY("a URL has no spaces, control characters or raw non-ASCII bytes");
			return -EINVAL;
		}
	}
	if ((u = curl_url()) == NULL) {
		WHY("out of memory");
		return -ENOMEM;
	}
	if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		WHY("not an absolute URL");
		r = -EINVAL;
	} else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		WHY("only http:// and https:// URLs are allowed");
		r = -EINVAL;
	} else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || *host == '\0') {
		WHY("the URL has no host");
		r = -EINVAL;
	} else if (strncasecmp(s, "http://", 7) != 0 && strncasecmp(s, "https://", 8) != 0) {
		WHY("only http:// and https:// URLs are allowed");
		r = -EINVAL;
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		/* Playbooks are stored, printed and shown in reports: no secrets in them. */
		WHY("a URL may not carry a user name or password");
		r = -EINVAL;
	}
	curl_free(user);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}
