#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_progname = "gameday";
static enum log_level log_level = LOG_LEVEL_INFO;

void
log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level = level;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

static void __attribute__((format(printf, 2, 0)))
log_vwrite(const char *tag, const char *fmt, va_list ap, int errnum)
{
	char msg[2048];
	struct timespec ts;
	struct tm tm;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	if (errnum != 0)
		(void)fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%s]: %s: %s\n",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, ts.tv_nsec / 1000000, log_progname, tag, msg, strerror(errnum));
	else
		(void)fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%s]: %s\n",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, ts.tv_nsec / 1000000, log_progname, tag, msg);
}

#define LOG_BODY(tag, errnum)			\
	do {					\
		va_list ap;			\
		va_start(ap, fmt);		\
		log_vwrite(tag, fmt, ap, errnum);	\
		va_end(ap);			\
	} while (0)

void
log_warn(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY("warn", saved);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY("warn", 0);
}

void
log_info(const char *fmt, ...)
{
	if (log_level <= LOG_LEVEL_INFO)
		LOG_BODY("info", 0);
}

void
log_debug(const char *fmt, ...)
{
	if (log_level <= LOG_LEVEL_DEBUG)
		LOG_BODY("debug", 0);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;

	LOG_BODY("fatal", saved);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY("fatal", 0);
	exit(1);
}

const char *
log_esc(const char *s)
{
	static _Thread_local char ring[4][256];
	static _Thread_local unsigned slot;
	char *out = ring[slot++ % 4];
	size_t o = 0;

	if (s == NULL)
		return "(null)";
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (o > 200) {
			memcpy(out + o, "...", 4);
			return out;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}
