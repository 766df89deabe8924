/*
 * What the report renderers (report_md.c, report_html.c) share: typed reads of the report's
 * JSON that never fail, the formatting of durations, percentages and nines, and escaping.
 * Internal to the report; header-only, every function small.
 */
#ifndef GD_REPORT_FMT_H
#define GD_REPORT_FMT_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "strbuf.h"

/* The longest report text (the reply's body). */
#define RF_MAX_TEXT	(64 * 1024 * 1024)

static inline const cJSON *
rf_get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* A string member, or def when missing, null or not a string. */
static inline const char *
rf_str(const cJSON *o, const char *key, const char *def)
{
	const cJSON *v = rf_get(o, key);

	return cJSON_IsString(v) ? v->valuestring : def;
}

/* A number member, or NAN. */
static inline double
rf_num(const cJSON *o, const char *key)
{
	const cJSON *v = rf_get(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static inline bool
rf_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(rf_get(o, key));
}

/* Element i of a [time, flag, value] series point, or NAN. */
static inline double
rf_at(const cJSON *point, int i)
{
	const cJSON *v = cJSON_GetArrayItem(point, i);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* "850 ms", "12.5 s", "43.2 min", "5.1 h", "3.0 d"; "-" when unknown. */
static inline const char *
rf_duration(double ms, char *buf, size_t len)
{
	double a = fabs(ms);

	if (!isfinite(ms))
		(void)snprintf(buf, len, "-");
	else if (a < 1000)
		(void)snprintf(buf, len, "%.0f ms", ms);
	else if (a < 60 * 1000)
		(void)snprintf(buf, len, "%.1f s", ms / 1000);
	else if (a < 3600 * 1000)
		(void)snprintf(buf, len, "%.1f min", ms / 60000);
	else if (a < 86400 * 1000)
		(void)snprintf(buf, len, "%.1f h", ms / 3600000);
	else
		(void)snprintf(buf, len, "%.1f d", ms / 86400000);
	return buf;
}

/* A time as an offset from the report's window start: "+12.3 s". */
static inline const char *
rf_offset(double t, double t0, char *buf, size_t len)
{
	char d[32];

	if (!isfinite(t) || !isfinite(t0))
		(void)snprintf(buf, len, "-");
	else
		(void)snprintf(buf, len, "%s%s", t >= t0 ? "+" : "",
		    rf_duration(t - t0, d, sizeof(d)));
	return buf;
}

/* An availability in percent with three decimals ("99.880%"), or "-". */
static inline const char *
rf_percent(double p, int decimals, char *buf, size_t len)
{
	if (!isfinite(p))
		(void)snprintf(buf, len, "-");
	else
		(void)snprintf(buf, len, "%.*f%%", decimals, p);
	return buf;
}

/* The nines of a probe: "2.92", "∞ (no failed sample)", or "-" with no samples. */
static inline const char *
rf_nines(const cJSON *probe, char *buf, size_t len)
{
	double n = rf_num(probe, "nines"), a = rf_num(probe, "availability_percent");

	if (isfinite(n))
		(void)snprintf(buf, len, "%.2f", n);
	else if (a == 100)
		(void)snprintf(buf, len, "\xe2\x88\x9e (no failed sample)");
	else
		(void)snprintf(buf, len, "-");
	return buf;
}

/* A plain number without needless decimals ("1", "0.25", "300"); "-" when unknown. */
static inline const char *
rf_number(double v, char *buf, size_t len)
{
	if (!isfinite(v))
		(void)snprintf(buf, len, "-");
	else if (v == floor(v) && fabs(v) < 1e15)
		(void)snprintf(buf, len, "%.0f", v);
	else
		(void)snprintf(buf, len, "%.4g", v);
	return buf;
}

/* A number as given, up to ten digits ("99.9", "99.99999"): targets, not measurements. */
static inline const char *
rf_exact(double v, char *buf, size_t len)
{
	if (!isfinite(v))
		(void)snprintf(buf, len, "-");
	else
		(void)snprintf(buf, len, "%.10g", v);
	return buf;
}

enum rf_esc { RF_MD, RF_HTML };

/*
 * Appends s escaped for Markdown (backslashes before the characters that make links,
 * images, emphasis, code, HTML and table cells) or for HTML text and attribute values
 * (& < > " ' as entities).  Control characters become spaces either way, so nothing a user
 * typed breaks a table row or a terminal.  NULL appends "-".
 */
static inline void
rf_esc(struct strbuf *b, const char *s, enum rf_esc how)
{
	char out[1024];
	size_t o = 0;

	if (s == NULL)
		s = "-";
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		const char *rep = NULL;
		char one[3] = { 0 };

		if (*p < 0x20 || *p == 0x7f) {
			rep = " ";
		} else if (how == RF_HTML) {
			rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" :
			    *p == '"' ? "&quot;" : *p == '\'' ? "&#39;" : NULL;
		} else if (strchr("\\`*_[]<>|~&#!", *p) != NULL) {
			one[0] = '\\';
			one[1] = (char)*p;
			rep = one;
		}
		if (o + 8 > sizeof(out)) {
			strbuf_addf(b, "%.*s", (int)o, out);
			o = 0;
		}
		if (rep == NULL) {
			out[o++] = (char)*p;
		} else {
			memcpy(out + o, rep, strlen(rep));
			o += strlen(rep);
		}
	}
	strbuf_addf(b, "%.*s", (int)o, out);
}

#endif
