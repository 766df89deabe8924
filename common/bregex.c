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

/* Reads "{m}", "{m,}" or "{m,n}" at p[i] == '{'; sets *lo and *hi (-1 when unbounded). */
static long
read_brace(const char *p, long i, long n, long *lo, long *hi)
{
	long m = 0, h = 0;
	int digits = 0;

	for (i++; i < n && p[i] >= '0' && p[i] <= '9' && digits < 4; i++, digits++)
		m = m * 10 + (p[i] - '0');
	if (digits == 0 || digits == 4)
		return -1;
	*lo = m;
	if (i < n && p[i] == '}') {
		*hi = m;
		return i + 1;
	}
	if (i >= n || p[i] != ',')
		return -1;
	i++;
	if (i < n && p[i] == '}') {
		*hi = -1;
		return i + 1;
	}
	for (digits = 0; i < n && p[i] >= '0' && p[i] <= '9' && digits < 4; i++, digits++)
		h = h * 10 + (p[i] - '0');
	if (digits == 0 || digits == 4 || i >= n || p[i] != '}' || h < m)
		return -1;
	*hi = h;
	return i + 1;
}

/*
 * One pass over the pattern, tracking per open group:
 *  - whether it holds an unbounded quantifier: an unbounded quantifier applied to such a
 *    group is the shape that backtracks catastrophically, so it is refused;
 *  - its repetition cost: a quantifier with bound f on an atom costs f times the atom's own
 *    cost (at least 1), so nested bounds multiply, as they do when regcomp() copies them;
 *  - its expanded size: atoms after regcomp() has copied every repeated atom.
 * Two quantifiers in a row ("a+*", "a{2}{3}") are undefined in POSIX and make glibc copy
 * the tree once per quantifier; they are refused.
 */
struct scan_group {
	bool unbounded;
	long cost;
	long size;
};

static int
regex_scan(const char *p, const char **why)
{
	struct scan_group g[GD_MAX_REGEX_BYTES + 1];
	long n = (long)strlen(p);
	int depth = 0;
	bool last_group_unbounded = false;	/* The atom just closed was such a group. */
	bool have_atom = false;			/* An atom a quantifier may apply to. */
	bool last_was_quant = false;
	long last_cost = 0, last_size = 0;

	for (long i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			WHY("control characters are not allowed in a regular expression");
			return -EINVAL;
		}
	g[0] = (struct scan_group){ false, 0, 0 };
	for (long i = 0; i < n;) {
		char c = p[i];
		bool atom_was_group = false;

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
			g[++depth] = (struct scan_group){ false, 0, 0 };
			have_atom = false;
			last_was_quant = false;
			i++;
			continue;
		case '|':
			have_atom = false;
			last_was_quant = false;
			i++;
			continue;
		case ')':
			if (depth == 0) {
				WHY("unbalanced parenthesis");
				return -EINVAL;
			}
			last_group_unbounded = g[depth].unbounded;
			last_cost = g[depth].cost;
			last_size = g[depth].size;
			depth--;
			if (last_group_unbounded)
				g[depth].unbounded = true;
			g[depth].cost += last_cost;
			g[depth].size += last_size;
			atom_was_group = true;
			have_atom = true;
			last_was_quant = false;
			i++;
			last_group_unbounded = atom_was_group && last_group_unbounded;
			continue;
		case '*':
		case '+':
		case '?':
		case '{': {
			long factor, lo = 0, hi = -1;

			if (c == '{') {
				if ((i = read_brace(p, i, n, &lo, &hi)) < 0) {
					WHY("malformed repetition {m,n} (bounds are 0 to 999)");
					return -EINVAL;
				}
			} else {
				lo = c == '+' ? 1 : 0;
				hi = c == '?' ? 1 : -1;
				i++;
			}
			if (!have_atom)
				break;	/* regcomp() refuses it or takes it literally ("^*"). */
			if (last_was_quant) {
				WHY("two repetition operators in a row (such as a+* or a{2}{3})");
				return -EINVAL;
			}
			if (hi < 0 && last_group_unbounded) {
				WHY("a repeated group that itself repeats without bound, such "
				    "as (a+)+, can take exponential time");
				return -EINVAL;
			}
			if (hi < 0)
				g[depth].unbounded = true;
			/* regcomp() makes hi copies, or lo + 1 when open-ended. */
			factor = hi >= 0 ? hi : lo + 1;
			g[depth].cost += factor * (last_cost > 1 ? last_cost : 1) - last_cost;
			if (factor > 1)
				g[depth].size += last_size * (factor - 1);
			if (g[depth].cost > GD_MAX_REGEX_REPEAT) {
				WHY("repetition bounds, multiplied where nested, come to more "
				    "than 256");
				return -EINVAL;
			}
			if (g[depth].size > GD_MAX_REGEX_EXPANDED) {
				WHY("the repeated parts expand to more than 4096 atoms");
				return -EINVAL;
			}
			last_was_quant = true;
			continue;
		}
		default:
			i++;
			break;
		}
		/* An ordinary atom: a character, an escape or a bracket expression. */
		g[depth].size++;
		last_cost = 0;
		last_size = 1;
		have_atom = true;
		last_was_quant = false;
		last_group_unbounded = false;
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
