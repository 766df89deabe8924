/*
 * IANA time zones read straight from the system's TZif files (RFC 8536), so that many
 * threads can convert between UTC and local times in different zones at once: no setenv
 * ("TZ"), no tzset(), no global state.  Times past the file's last transition follow the
 * POSIX TZ rule in its footer.
 */
#ifndef GD_TZ_H
#define GD_TZ_H

#include <stdint.h>

#include "parse.h"

struct gd_tz;

/*
 * Loads zone name ("America/New_York", "UTC") from $TZDIR or /usr/share/zoneinfo.
 * On success the caller owns *ret (tz_free()).  -EINVAL: a name that is not a zone name;
 * -ENOENT: no such zone; -EBADMSG: the file is not a usable TZif file.  *why says which.
 */
int tz_load(const char *name, struct gd_tz **ret, const char **why);
struct gd_tz *tz_free(struct gd_tz *tz);
const char *tz_name(const struct gd_tz *tz);

/* Seconds east of UTC in force at Unix time t. */
int32_t tz_offset_at(const struct gd_tz *tz, int64_t t);

enum tz_local_kind {
	TZ_LOCAL_EXACT,	/* The local time exists once. */
	TZ_LOCAL_GAP,	/* Skipped by a DST change: mapped to the first moment after the gap. */
	TZ_LOCAL_FOLD,	/* Happens twice: mapped to the first occurrence. */
};

/* The Unix time of local date d at minute_of_day (0..1440) in tz. */
int64_t tz_local_to_utc(const struct gd_tz *tz, const struct gd_date *d, int minute_of_day,
    enum tz_local_kind *ret_kind);
/* The local date and second of day (0..86399) of Unix time t in tz. */
void tz_utc_to_local(const struct gd_tz *tz, int64_t t, struct gd_date *ret_date,
    int *ret_second_of_day);

#endif
