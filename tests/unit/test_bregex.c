/*
 * Bounded regular expressions (common/bregex.c): what is refused before compiling
 * (back-references, nested unbounded repetition, large repetition bounds, long patterns,
 * control characters), what compiles, and what matches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bregex.h"
#include "limits.h"
#include "test.h"

#define RE_OK(p)								\
	do {									\
		const char *why_ = NULL;					\
		int r_ = bregex_check((p), &why_);				\
		if (r_ != 0)							\
			TEST_FAIL("bregex_check(\"%s\") = %d (%s)", (p), r_,	\
			    why_ ? why_ : "no reason");				\
	} while (0)

/* Refused with -EINVAL and a reason, by bregex_check() and bregex_compile() alike. */
#define RE_BAD(p)								\
	do {									\
		struct bregex *re_ = (struct bregex *)&re_sentinel;		\
		const char *why_ = NULL;					\
		int r_ = bregex_check((p), &why_);				\
		if (r_ != -EINVAL)						\
			TEST_FAIL("bregex_check(\"%s\") = %d, want -EINVAL",	\
			    esc(p), r_);					\
		else								\
			ASSERT_TRUE(why_ != NULL && why_[0] != '\0');		\
		why_ = NULL;							\
		r_ = bregex_compile((p), &re_, &why_);				\
		if (r_ == 0)							\
			bregex_free(re_);					\
		else {								\
			ASSERT_INT_EQ(r_, -EINVAL);				\
			ASSERT_TRUE(why_ != NULL && why_[0] != '\0');		\
			ASSERT_TRUE(re_ == (struct bregex *)&re_sentinel);	\
		}								\
	} while (0)

static int re_sentinel;

/* p with control characters as \xNN, for messages; long patterns are cut. */
static const char *
esc(const char *p)
{
	static char buf[128];
	size_t o = 0;

	for (; *p != '\0' && o + 5 < sizeof(buf); p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static struct bregex *
compile(const char *p)
{
	struct bregex *re = NULL;
	const char *why = NULL;
	int r = bregex_compile(p, &re, &why);

	if (r != 0) {
		TEST_FAIL("bregex_compile(\"%s\") = %d (%s)", p, r, why ? why : "no reason");
		return NULL;
	}
	return re;
}

/* p matches each of yes[] and none of no[]. */
static void
matches(const char *p, const char *const *yes, const char *const *no)
{
	struct bregex *re = compile(p);

	if (re == NULL)
		return;
	for (; yes != NULL && *yes != NULL; yes++)
		if (!bregex_match(re, *yes))
			TEST_FAIL("\"%s\" does not match \"%s\"", p, *yes);
	for (; no != NULL && *no != NULL; no++)
		if (bregex_match(re, *no))
			TEST_FAIL("\"%s\" matches \"%s\"", p, *no);
	bregex_free(re);
}

static void
test_check(void)
{
	char p[GD_MAX_REGEX_BYTES + 2];

	TEST_START("accepts ordinary cmdline matchers");
	RE_OK("^nginx: worker");
	RE_OK("java .*-jar app\\.jar");
	RE_OK("[[:alpha:]]+d$");
	RE_OK("^/usr/sbin/sshd( |$)");
	RE_OK("postgres: [a-z]+ writer");
	RE_OK("a");
	RE_OK(".");
	RE_OK("^$");
	RE_OK("[]a]");
	RE_OK("[^]a]+");
	RE_OK("[)(]+");
	RE_OK("[*+?{]");
	RE_OK("\\(a+\\)+");
	RE_OK("a\\{");
	RE_OK("[[=a=]]");
	RE_OK("(a|b)*c");
	RE_OK("(a|aa)*b");
	RE_OK("x*y+z?");
	RE_OK("caf\xc3\xa9");

	TEST_START("accepts (a+)? and (foo)+");
	RE_OK("(a+)?");
	RE_OK("(foo)+");
	RE_OK("(foo)*bar");
	RE_OK("(a+){2}");
	RE_OK("(a+){1,5}");
	RE_OK("(a+)b+");
	RE_OK("(a+)|b+");
	RE_OK("((foo)(bar))+");
	RE_OK("(.*a){20}b");

	TEST_START("rejects the back-reference (a)\\1");
	RE_BAD("(a)\\1");
	RE_BAD("(a)(b)\\2");
	RE_BAD("(a)\\9");
	RE_BAD("\\1");

	TEST_START("rejects nested unbounded repetition: (a+)+ (a*)* (a|b+)* (x.*)+");
	RE_BAD("(a+)+");
	RE_BAD("(a*)*");
	RE_BAD("(a|b+)*");
	RE_BAD("(x.*)+");
	RE_BAD("(a+)*");
	RE_BAD("(a*)+");
	RE_BAD("(a+){2,}");
	RE_BAD("(a{2,})+");
	RE_BAD("(a{1,})*");
	RE_BAD("((a+))+");
	RE_BAD("((a+)b)+");
	RE_BAD("((a)+)*");
	RE_BAD("(a*)?*");
	RE_BAD("(a*){2}*");
	RE_BAD("x(y(z|w*)v)*");
	RE_BAD("^(\\w+\\s?)*$");

	TEST_START("rejects repetition bounds adding up to more than 256 (a{200}b{100})");
	RE_OK("a{256}");
	RE_OK("a{100}b{100}c{56}");
	RE_OK("a{1,256}");
	RE_OK("a{0}");
	RE_OK("a{0,0}b{256}");
	RE_BAD("a{200}b{100}");
	RE_BAD("a{257}");
	RE_BAD("a{999}");
	RE_BAD("a{1,257}");
	RE_BAD("a{100}b{100}c{57}");
	RE_BAD("(a{200}){100}");

	TEST_START("rejects malformed repetitions");
	RE_BAD("a{1000}");
	RE_BAD("a{2,1}");
	RE_BAD("a{,5}");
	RE_BAD("a{}");
	RE_BAD("a{x}");
	RE_BAD("a{1");
	RE_BAD("a{1,");
	RE_BAD("a{1,2");
	RE_BAD("x{");

	TEST_START("rejects unbalanced parentheses and brackets");
	RE_BAD("(a");
	RE_BAD("a)");
	RE_BAD("((a)");
	RE_BAD("(a))");
	RE_BAD(")(");
	RE_BAD("[a");
	RE_BAD("[[:alpha:]");
	RE_BAD("[[:alpha]");
	RE_BAD("[]");
	RE_BAD("[^]");

	TEST_START("rejects a trailing backslash");
	RE_BAD("\\");
	RE_BAD("abc\\");
	RE_BAD("a\\\\\\");
	RE_OK("a\\\\");

	TEST_START("rejects the empty pattern and patterns over 256 bytes");
	RE_BAD("");
	memset(p, 'a', GD_MAX_REGEX_BYTES);
	p[GD_MAX_REGEX_BYTES] = '\0';
	RE_OK(p);
	p[GD_MAX_REGEX_BYTES] = 'a';
	p[GD_MAX_REGEX_BYTES + 1] = '\0';
	RE_BAD(p);
	memset(p, '(', 128);
	memset(p + 128, ')', 128);
	p[GD_MAX_REGEX_BYTES] = '\0';
	{
		/* 128 nested groups: deep, but within the length limit. */
		const char *why = NULL;
		int r = bregex_check(p, &why);

		ASSERT_TRUE(r == 0 || r == -EINVAL || r == -ENOMEM);
	}
	memset(p, '(', GD_MAX_REGEX_BYTES);
	p[GD_MAX_REGEX_BYTES] = '\0';
	RE_BAD(p);

	TEST_START("rejects control characters");
	RE_BAD("a\tb");
	RE_BAD("a\nb");
	RE_BAD("\x01");
	RE_BAD("nginx\x7f");
	RE_BAD("a\rb");
	RE_BAD("\x1b[31m");

	TEST_START("rejects what regcomp() refuses, with its reason");
	RE_BAD("[[:foo:]]");
	RE_BAD("[z-a]");
	RE_BAD("(*a)");
	RE_BAD("a|*b");
	RE_BAD("^*");
	RE_BAD("[[.hyphen.]]");
	{
		const char *why = NULL;

		ASSERT_INT_EQ(bregex_check("[z-a]", &why), -EINVAL);
		ASSERT_TRUE(why != NULL && strstr(why, "regular expression") != NULL);
	}

	TEST_START("bregex_check takes a NULL why");
	ASSERT_INT_EQ(bregex_check("(a+)+", NULL), -EINVAL);
	ASSERT_INT_EQ(bregex_check("", NULL), -EINVAL);
	ASSERT_INT_EQ(bregex_check("[z-a]", NULL), -EINVAL);
	ASSERT_INT_EQ(bregex_check("ok", NULL), 0);

	/*
	 * The header refuses "what can blow up" and limits.h says the bound sum keeps compiled
	 * automata small, but bounds only add: nested bounded groups multiply.  This 23-byte
	 * pattern sums to 64 and compiles to 65536 copies of "a"; one more level (sum 80)
	 * takes 0.25 s and 230 MB, two more (sum 96) exhaust 1.5 GB.
	 */
	TEST_START("rejects nested bounds whose product is large: (((a{16}){16}){16}){16}");
	RE_BAD("(((a{16}){16}){16}){16}");
	RE_BAD("((a{100}){100})");

	/*
	 * The same for open-ended bounds: the lower bound of {m,} is copied m times by
	 * regcomp() but is not counted at all.
	 */
	TEST_START("counts the lower bound of {m,}: a{999,} is over 256");
	RE_BAD("a{999,}");
	RE_BAD("a{200,}b{200,}");

	/* Inside a bracket or after a backslash the control-character check is skipped. */
	TEST_START("rejects control characters inside brackets and after a backslash");
	RE_BAD("[\x01]");
	RE_BAD("[\t ]x");
	RE_BAD("a\\\x01");
	RE_BAD("[[:alpha:]\n]");
}

static void
test_match(void)
{
	TEST_START("^nginx: worker");
	matches("^nginx: worker",
	    (const char *const[]){ "nginx: worker process", "nginx: worker", NULL },
	    (const char *const[]){ "nginx: master process /usr/sbin/nginx",
	    "/usr/sbin/nginx: worker", "Nginx: worker", "", NULL });

	TEST_START("java .*-jar app\\.jar");
	matches("java .*-jar app\\.jar",
	    (const char *const[]){ "/usr/bin/java -Xmx1g -jar app.jar --port 80",
	    "java -jar app.jar", NULL },
	    (const char *const[]){ "java -jar appXjar", "java -jar other.jar",
	    "/usr/bin/java -jar /opt/app.jar", "python app.jar", NULL });

	TEST_START("[[:alpha:]]+d$");
	matches("[[:alpha:]]+d$",
	    (const char *const[]){ "sshd", "/usr/lib/systemd/systemd", "a d xd", NULL },
	    (const char *const[]){ "sshd2", "sshd ", "d", "123d", "", NULL });

	TEST_START("groups, alternation and bounds");
	matches("^(foo)+bar$",
	    (const char *const[]){ "foobar", "foofoofoobar", NULL },
	    (const char *const[]){ "bar", "fobar", "foobarx", NULL });
	matches("(a+)?", (const char *const[]){ "", "b", "aaa", NULL }, NULL);
	matches("^a{3}$", (const char *const[]){ "aaa", NULL },
	    (const char *const[]){ "aa", "aaaa", NULL });
	matches("^a{2,3}$", (const char *const[]){ "aa", "aaa", NULL },
	    (const char *const[]){ "a", "aaaa", NULL });
	matches("^(get|put)_[0-9]+$", (const char *const[]){ "get_1", "put_42", NULL },
	    (const char *const[]){ "post_1", "get_", "get_1x", NULL });
	matches("^$", (const char *const[]){ "", NULL }, (const char *const[]){ " ", NULL });
	matches("caf\xc3\xa9", (const char *const[]){ "un caf\xc3\xa9", NULL },
	    (const char *const[]){ "cafe", NULL });
	matches("\\(x\\)", (const char *const[]){ "f(x)", NULL },
	    (const char *const[]){ "x", NULL });

	TEST_START("accepted patterns run quickly on a 4 KiB subject");
	{
		static const char *const pats[] = {
			"(a|aa)*b", "(a|aa)*c$", "^(a|aa)*$", "(a|a)*b", "a*a*a*a*a*a*b",
			".*.*.*.*.*.*.*.*b", "(.*a){20}b", "a{256}b", "(a|b|ab)*c",
		};
		static const int want[] = { 0, 0, 1, 0, 0, 0, 0, 0, 0 };
		char *s = malloc(4097);

		ASSERT_TRUE(s != NULL);
		if (s != NULL) {
			memset(s, 'a', 4096);
			s[4096] = '\0';
			for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
				struct bregex *re = compile(pats[i]);

				if (re == NULL)
					continue;
				if (bregex_match(re, s) != want[i])
					TEST_FAIL("\"%s\" on 4096 x 'a': %d", pats[i], !want[i]);
				bregex_free(re);
			}
			s[4095] = 'b';
			{
				struct bregex *re = compile("(a|aa)*b");

				if (re != NULL)
					ASSERT_TRUE(bregex_match(re, s));
				bregex_free(re);
			}
			free(s);
		}
	}

	TEST_START("bregex_free takes NULL and returns NULL");
	ASSERT_TRUE(bregex_free(NULL) == NULL);
	{
		struct bregex *re = compile("x");

		ASSERT_TRUE(bregex_free(re) == NULL);
	}

	TEST_START("bregex_compile: out of memory is -ENOMEM");
	{
		struct bregex *re = (struct bregex *)&re_sentinel;
		const char *why = NULL;
		int r;

		gd_alloc_fail_at(1);
		r = bregex_compile("^nginx: worker", &re, &why);
		gd_alloc_fail_at(0);
		ASSERT_INT_EQ(r, -ENOMEM);
		ASSERT_TRUE(re == (struct bregex *)&re_sentinel);
		ASSERT_TRUE(why != NULL);
	}
}

int
main(void)
{
	test_check();
	test_match();
	return test_done();
}
