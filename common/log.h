/*
 * Logging to stderr (and so to the journal under systemd): one line per event, key=value
 * context, user text escaped with log_esc().  log_warn() appends strerror(errno).
 */
#ifndef GD_LOG_H
#define GD_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN };

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define log_debug_f(fmt, ...) log_debug("%s: " fmt, __func__, ##__VA_ARGS__)

/* Only main() and start-up code call these. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Escapes untrusted text for a log line: quotes, backslashes and non-printable bytes become
 * \" \\ \xNN, and the result is cut at 200 bytes ("..." marks the cut).  Returns one of a
 * small ring of thread-local buffers, so up to 4 may appear in one log call.
 */
const char *log_esc(const char *s);

#endif
