#include "bregex.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "limits.h"

#define WHY(msg) do { if (why != NULL) *why = (msg); } while (0)

struct bregex {
	regex_t re;
};

/* Skips a bracket expression starting at p[0] == '['; returns the index after ']' or -1. */
static long
skip_bracket(const char *p, long i, long n)
{
	i++;
	if (i < n && p[i] == '^')
		i++;
	if (i < n && p[i] == ']')
		i++;
	while (i < n && p[i] != ']') {
		if (p[i] == '[' && i + 1 < n && (p[i + 1] == ':' || p[i + 1] == '.' ||
		    p[i + 1] == '=')) {
			char close = p[i + 1];

			i += 2;
			while (i + 1 < n && !(p[i] == close && p[i + 1] == ']'))
				i++;
			if (i + 1 >= n)
				return -1;
			i += 2;
			continue;
		}
		i++;
	}
	return i < n ? i + 1 : -1;
}

/* Reads "{m}", "{m,}" or "{m,n}" at p[i] == '{'; sets *max (-1 when unbounded). */
static long
read_brace(const char *p, long i, long n, long *max)
{
	long m = 0, hi = -1;
	int digits = 0;

	for (i++; i < n && p[i] >= '0' && p[i] <= '9' && digits < 4; i++, digits++)
		m = m * 10 + (p[i] - '0');
	if (digits == 0 || digits == 4)
		return -1;
	if (i < n && p[i] == '}') {
		*max = m;
		return i + 1;
	}
	if (i >= n || p[i] != ',')
		return -1;
	i++;
	if (i < n && p[i] == '}') {
		*max = -1;
		return i + 1;
	}
	for (hi = 0, digits = 0; i < n && p[i] >= '0' && p[i] <= '9' && digits < 4; i++, digits++)
		hi = hi * 10 + (p[i] - '0');
	if (digits == 0 || digits == 4 || i >= n || p[i] != '}' || hi < m)
		return -1;
	*max = hi;
	return i + 1;
}

/*
 * One pass over the pattern.  For each open group we remember whether it contains an
 * unbounded quantifier; an unbounded quantifier applied to such a group is the shape that
 * backtracks catastrophically, so it is refused.
 */
static int
regex_scan(const char *p, const char **why)
{
	bool group_unbounded[GD_MAX_REGEX_BYTES + 1];
	long n = (long)strlen(p), repeat = 0;
	int depth = 0;
	bool last_group_unbounded = false;	/* The atom just closed was such a group. */

	group_unbounded[0] = false;
	for (long i = 0; i < n;) {
		char c = p[i];
		bool atom_was_group = false;

		if ((unsigned char)c < 0x20 || c == 0x7f) {
			WHY("control characters are not allowed in a regular expression");
			return -EINVAL;
		}
		switch (c) {
		case '\\':
			if (i + 1 >= n) {
				WHY("the regular expression ends with a lone backslash");
				return -EINVAL;
			}
			if (p[i + 1] >= '1' && p[i + 1] <= '9') {
				WHY("back-references (\\1 ... \\9) are not allowed");
				return -EINVAL;
			}
			i += 2;
			break;
		case '[':
			if ((i = skip_bracket(p, i, n)) < 0) {
				WHY("unterminated bracket expression [...]");
				return -EINVAL;
			}
			break;
		case '(':
			group_unbounded[++depth] = false;
			i++;
			break;
		case ')':
			if (depth == 0) {
				WHY("unbalanced parenthesis");
				return -EINVAL;
			}
			last_group_unbounded = group_unbounded[depth--];
			if (last_group_unbounded)
				group_unbounded[depth] = true;
			atom_was_group = true;
			i++;
			break;
		case '*':
		case '+':
		case '?':
		case '{': {
			long max = -1;

			if (c == '{') {
				if ((i = read_brace(p, i, n, &max)) < 0) {
					WHY("malformed repetition {m,n} (bounds are 0 to 999)");
					return -EINVAL;
				}
				if (max > 0 && (repeat += max) > GD_MAX_REGEX_REPEAT) {
					WHY("repetition bounds add up to more than 256");
					return -EINVAL;
				}
			} else {
				max = c == '?' ? 1 : -1;
				i++;
			}
			if (max < 0) {
				if (last_group_unbounded) {
					WHY("a repeated group that itself repeats without bound, such "
					    "as (a+)+, can take exponential time");
					return -EINVAL;
				}
				group_unbounded[depth] = true;
			}
			/* A quantifier may follow a quantifier ("a*?"): still the same atom. */
			continue;
		}
		default:
			i++;
			break;
		}
		last_group_unbounded = atom_was_group && last_group_unbounded;
	}
	if (depth != 0) {
		WHY("unbalanced parenthesis");
		return -EINVAL;
	}
	return 0;
}

int
bregex_compile(const char *pattern, struct bregex **ret, const char **why)
{
	static _Thread_local char msg[200];
	struct bregex *re;
	size_t len = strlen(pattern);
	int r;

	if (len == 0 || len > GD_MAX_REGEX_BYTES) {
		WHY("a regular expression is 1 to 256 bytes");
		return -EINVAL;
	}
	if ((r = regex_scan(pattern, why)) < 0)
		return r;
	if ((re = gd_malloc(sizeof(*re))) == NULL) {
		WHY("out of memory");
		return -ENOMEM;
	}
	if ((r = regcomp(&re->re, pattern, REG_EXTENDED | REG_NOSUB)) != 0) {
		char detail[120];

		(void)regerror(r, &re->re, detail, sizeof(detail));
		(void)snprintf(msg, sizeof(msg), "not a valid extended regular expression (%s)",
		    detail);
		WHY(msg);
		gd_free(re);
		return r == REG_ESPACE ? -ENOMEM : -EINVAL;
	}
	if (ret != NULL)
		*ret = re;
	else
		bregex_free(re);
	return 0;
}

int
bregex_check(const char *pattern, const char **why)
{
	return bregex_compile(pattern, NULL, why);
}

bool
bregex_match(const struct bregex *re, const char *subject)
{
	return regexec(&re->re, subject, 0, NULL, 0) == 0;
}

struct bregex *
bregex_free(struct bregex *re)
{
	if (re == NULL)
		return NULL;
	regfree(&re->re);
	gd_free(re);
	return NULL;
}
