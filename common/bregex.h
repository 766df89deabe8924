/*
 * Bounded regular expressions for process.kill/pause cmdline matchers.  POSIX extended
 * syntax, with what can blow up refused before compiling: back-references, nested unbounded
 * quantifiers such as (a+)+, stacked quantifiers such as a+*, repetition bounds that add
 * (or, nested, multiply) past GD_MAX_REGEX_REPEAT or expand past GD_MAX_REGEX_EXPANDED
 * atoms, control characters, patterns over GD_MAX_REGEX_BYTES.  Subjects are bounded by
 * the caller (a cmdline is read up to a fixed size), so matching time is bounded too.
 */
#ifndef GD_BREGEX_H
#define GD_BREGEX_H

#include <stdbool.h>

struct bregex;

/* 0 if pattern is acceptable; else -EINVAL and a reason in *why (static or thread-local). */
int bregex_check(const char *pattern, const char **why);
/* Checks and compiles.  On success the caller owns *ret (bregex_free()). */
int bregex_compile(const char *pattern, struct bregex **ret, const char **why);
bool bregex_match(const struct bregex *re, const char *subject);
struct bregex *bregex_free(struct bregex *re);

#endif
