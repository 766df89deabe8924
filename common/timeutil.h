/* Clocks, in milliseconds.  Wall time for records, monotonic time for timeouts. */
#ifndef GD_TIMEUTIL_H
#define GD_TIMEUTIL_H

#include <stdint.h>

int64_t gd_now_ms(void);	/* CLOCK_REALTIME. */
int64_t gd_mono_ms(void);	/* CLOCK_MONOTONIC. */

#endif
