/*
 * Parsers for the small value types of playbooks and the command line: durations, sizes,
 * rates, CIDRs, interface names, signals, dates and times of day, URLs.
 *
 * Each returns 0 or a negative errno (-EINVAL malformed, -ERANGE out of range) and, where
 * the caller passes a non-NULL why, a static sentence saying what is wrong.  The out-param
 * is set only on success.  None of them allocates, logs or reads global state.
 */
#ifndef GD_PARSE_H
#define GD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unsigned decimal in [min, max]; no sign, no spaces, no leading zeros beyond "0". */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret, const char **why);
/* Strict decimal "12", "0.5", "99.95" (no exponent, sign, inf or nan) into a finite double. */
int parse_decimal(const char *s, size_t len, double *ret, const char **why);

/* A finite double without exponent, trailing zeros trimmed ("0.5", "300", "-2.25"). */
void decimal_format(double v, char *buf, size_t len);

/* "1h30m", "500ms", "2d": components d h m s ms, largest first, each once. */
int duration_parse(const char *s, uint64_t *ret_ms, const char **why);
/* Canonical form ("1h30m", "0s"); buf of 32 bytes is always enough. */
void duration_format(uint64_t ms, char *buf, size_t len);

/* A size is bytes or a percentage of something the context names. */
struct gd_size {
	bool is_percent;
	uint64_t bytes;		/* When !is_percent. */
	double percent;		/* When is_percent: 0 < percent <= 100. */
};
/* "512MB", "10GB", "4096B" (powers of 1024); "5%" or "0.5%" when allow_percent. */
int size_parse(const char *s, bool allow_percent, struct gd_size *ret, const char **why);
void size_format(const struct gd_size *sz, char *buf, size_t len);

/* "10mbit", "512kbit" (powers of 1000, bits) or "1MB/s" (powers of 1024, bytes): bytes/s. */
int rate_parse(const char *s, uint64_t *ret_bytes_per_s, const char **why);
void rate_format(uint64_t bytes_per_s, char *buf, size_t len);

struct gd_cidr {
	int family;		/* AF_INET or AF_INET6. */
	uint8_t addr[16];	/* Network byte order; the first 4 bytes for IPv4. */
	uint8_t prefix;		/* 0..32 or 0..128. */
};
/* "10.20.0.0/16", "::/0", "192.0.2.7" (a host: /32 or /128).  Host bits must be zero. */
int cidr_parse(const char *s, struct gd_cidr *ret, const char **why);
void cidr_format(const struct gd_cidr *c, char *buf, size_t len);
bool cidr_contains(const struct gd_cidr *c, int family, const void *addr);

/* A Linux interface name: 1..15 bytes of [A-Za-z0-9_.@-], not "." or "..". */
int ifname_check(const char *s, const char **why);

/* "SIGKILL" or "KILL" (the signals the fault catalogue allows) into a signal number. */
int signal_parse(const char *s, int *ret_signo, const char **why);
/* "SIGKILL" for SIGKILL; NULL for a signal the catalogue does not use. */
const char *signal_name(int signo);

struct gd_date {
	int year;	/* 1970..9999 */
	int month;	/* 1..12 */
	int day;	/* 1..31, valid for the month */
};
/* "2026-12-21": a real calendar date. */
int date_parse(const char *s, struct gd_date *ret, const char **why);
int date_compare(const struct gd_date *a, const struct gd_date *b);
int days_in_month(int year, int month);
/* Days since 1970-01-01 (proleptic Gregorian), and back. */
int64_t date_to_days(const struct gd_date *d);
void date_from_days(int64_t days, struct gd_date *ret);
/* 0 = Monday .. 6 = Sunday (ISO). */
int date_weekday(const struct gd_date *d);

/* "HH:MM" into minutes since midnight; "24:00" only with allow_24 (a window's end). */
int hhmm_parse(const char *s, bool allow_24, int *ret_minutes, const char **why);

/* RFC 3339 "2026-11-28T10:00:00Z" or "...+01:00" (fractions accepted, dropped): Unix s. */
int rfc3339_parse(const char *s, int64_t *ret_unix, const char **why);
/* "2026-11-28T10:00:00Z"; buf of 32 bytes is enough. */
void rfc3339_format(int64_t unix_s, char *buf, size_t len);

/* An absolute http:// or https:// URL with a host, at most GD_MAX_URL_BYTES. */
int url_check(const char *s, const char **why);

#endif
