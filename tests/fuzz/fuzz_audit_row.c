/*
 * The audit row encoder and the details canonicalizer (controller/audit.c).  The input is
 * up to six NUL-separated fields: seq (decimal), time, actor, action, object, details.
 *  - The canonical encoding decodes back to exactly those fields and nothing else, so two
 *    different rows never share an encoding (the hash chain relies on it).
 *  - Details the canonicalizer accepts come out as a JSON object whose canonical text is
 *    itself (a fixed point), and equal to the canonical text of the same tree printed
 *    through cJSON (audit_details_canonical()).
 *  - The hash is 64 lower-case hex digits and depends on prev_hash.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads "<decimal length>:<bytes>\n" at *p; NULL when the text is not exactly that. */
static const char *
decode_field(const char **p, const char *end, size_t *ret_len)
{
	const char *s = *p, *v;
	size_t n = 0;

	if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] != ':'))
		return NULL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (n > SIZE_MAX / 10 - 1)
			return NULL;
		n = n * 10 + (size_t)(*s - '0');
	}
	if (s >= end || *s != ':' || (size_t)(end - s - 1) < n + 1 || s[1 + n] != '\n')
		return NULL;
	v = s + 1;
	*p = v + n + 1;
	*ret_len = n;
	return v;
}

static void
check_encoding(const struct audit_row *row)
{
	const char *want[6], *p, *end, *v;
	struct strbuf b = { 0 };
	char seq[24], *text = NULL;
	size_t n;

	(void)snprintf(seq, sizeof(seq), "%" PRId64, row->seq);
	want[0] = seq;
	want[1] = row->time;
	want[2] = row->actor;
	want[3] = row->action;
	want[4] = row->object;
	want[5] = row->details;
	audit_row_canonical(row, &b);
	if (strbuf_finish(&b, &text) < 0)
		return;
	p = text;
	end = text + strlen(text);
	for (int i = 0; i < 6; i++) {
		if ((v = decode_field(&p, end, &n)) == NULL || n != strlen(want[i]) ||
		    memcmp(v, want[i], n) != 0)
			abort();
	}
	if (p != end)
		abort();
	gd_free(text);
}

static void
check_details(const char *details, size_t len)
{
	char *canon = NULL, *again = NULL, *via_tree = NULL;
	cJSON *tree;

	if (audit_details_canonical_text(details, len, &canon) < 0)
		return;
	if (audit_details_canonical_text(canon, strlen(canon), &again) < 0 ||
	    strcmp(again, canon) != 0)
		abort();
	if ((tree = cJSON_Parse(canon)) == NULL || !cJSON_IsObject(tree)) {
		/* Only an allocation failure may stop cJSON here. */
		if (tree != NULL)
			abort();
	} else if (audit_details_canonical(tree, &via_tree) == 0 &&
	    strcmp(via_tree, canon) != 0)
		abort();
	cJSON_Delete(tree);
	gd_free(canon);
	gd_free(again);
	gd_free(via_tree);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[6] = { "", "", "", "", "", "" };
	size_t flen[6] = { 0 };
	char *buf, h1[GD_SHA256_HEX_LEN], h2[GD_SHA256_HEX_LEN];
	struct audit_row row;
	const char *p;
	int nf = 0;
	int64_t seq = 0;

	gd_alloc_init_cjson();
	if (size > 64 * 1024 || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* Split at NUL bytes; the last field runs to the end. */
	for (p = buf; nf < 6; nf++) {
		const char *z = memchr(p, '\0', size - (size_t)(p - buf) + 1);

		f[nf] = p;
		flen[nf] = (size_t)(z - p);
		if (z == buf + size)
			break;
		p = z + 1;
	}
	for (const char *s = f[0]; *s >= '0' && *s <= '9' && seq < INT64_MAX / 10 - 9; s++)
		seq = seq * 10 + (*s - '0');
	if (f[0][0] == '-')
		seq = -seq;

	check_details(f[5], flen[5]);
	row = (struct audit_row){ seq, f[1], f[2], f[3], f[4], f[5] };
	check_encoding(&row);
	if (audit_row_hash(AUDIT_GENESIS_HASH, &row, h1) == 0) {
		if (strlen(h1) != 64 || strspn(h1, "0123456789abcdef") != 64)
			abort();
		if (audit_row_hash(h1, &row, h2) == 0 && strcmp(h1, h2) == 0)
			abort();
	}
	free(buf);
	return 0;
}
