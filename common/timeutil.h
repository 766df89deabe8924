/* Clocks, in milliseconds.  Wall time for records, monotonic time for timeouts. */
#ifndef GD_TIMEUTIL_H
#define GD_TIMEUTIL_H

#include <stdint.h>

int64_t gd_now_ms(void);	/* CLOCK_REALTIME. */
int64_t gd_mono_ms(void);	/* CLOCK_MONOTONIC. */

#define GD_TIME_MS_LEN 25	/* "2026-11-29T10:00:00.000Z" and the NUL. */
/* Unix milliseconds as RFC 3339 UTC with milliseconds, the API's and the audit's form. */
void gd_format_time_ms(int64_t unix_ms, char buf[GD_TIME_MS_LEN]);

#endif
