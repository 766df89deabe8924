/*
 * The other small parsers of untrusted text: CIDRs, interface names, signals, dates,
 * times of day, RFC 3339 times, URLs and bounded regular expressions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bregex.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512], buf[64];
	const char *why = NULL;
	struct gd_cidr c, c2;
	struct gd_date d;
	struct bregex *re = NULL;
	int64_t t, t2;
	int v;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cidr_parse(s, &c, &why) == 0) {
		cidr_format(&c, buf, sizeof(buf));
		if (cidr_parse(buf, &c2, &why) < 0 || memcmp(&c, &c2, sizeof(c)) != 0)
			abort();
		if (!cidr_contains(&c, c.family, c.addr))
			abort();
	}
	(void)ifname_check(s, &why);
	(void)signal_parse(s, &v, &why);
	(void)date_parse(s, &d, &why);
	(void)hhmm_parse(s, true, &v, &why);
	if (rfc3339_parse(s, &t, &why) == 0) {
		rfc3339_format(t, buf, sizeof(buf));
		if (rfc3339_parse(buf, &t2, &why) < 0 || t2 != t)
			abort();
	}
	(void)url_check(s, &why);
	if (bregex_compile(s, &re, &why) == 0) {
		(void)bregex_match(re, s);
		re = bregex_free(re);
	}
	return 0;
}
