#include "timeutil.h"

#include <stdio.h>
#include <time.h>

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
gd_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
gd_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

void
gd_format_time_ms(int64_t unix_ms, char buf[GD_TIME_MS_LEN])
{
	int64_t s = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
	time_t t = (time_t)s;
	struct tm tm;
	char tmp[96];

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		(void)snprintf(buf, GD_TIME_MS_LEN, "0000-00-00T00:00:00.000Z");
		return;
	}
	/* The fields are in range here; the wide buffer only quiets -Wformat-truncation. */
	(void)snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(unix_ms - s * 1000));
	(void)snprintf(buf, GD_TIME_MS_LEN, "%.24s", tmp);
}
