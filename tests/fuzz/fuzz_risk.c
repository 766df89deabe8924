/*
 * The risk-matrix reader: any bytes in, as CSV and as JSON, risks or errors out; never a
 * crash or a leak.  What is accepted prints as JSON that reads back to the same risks.
 * Each input is read in both formats, the sniffed one first (as the CLI does with a file
 * that has no .csv or .json name), so one corpus covers both.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "risk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints set as a JSON array and reads it back: it must be the same risks. */
static void
round_trip(const struct risk_set *set)
{
	static struct gd_err err;
	struct risk_set *again = NULL;
	cJSON *arr = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; arr != NULL && i < set->n; i++) {
		cJSON *o = risk_to_json(&set->items[i]);

		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			return;
		}
	}
	if (arr == NULL || (text = cJSON_PrintUnformatted(arr)) == NULL) {
		cJSON_Delete(arr);
		return;
	}
	cJSON_Delete(arr);
	gd_err_init(&err);
	if (risk_parse(text, strlen(text), RISK_FORMAT_JSON, &again, &err) != 0 ||
	    again->n != set->n)
		abort();
	for (size_t i = 0; i < set->n; i++) {
		if (!risk_equal(&set->items[i], &again->items[i]))
			abort();
		if (set->items[i].likelihood == RISK_LEVEL_NONE ||
		    set->items[i].severity == RISK_LEVEL_NONE)
			abort();
	}
	risk_set_free(again);
	gd_free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gd_err err;
	struct risk_set *set = NULL;
	enum risk_format fmt;

	gd_alloc_init_cjson();
	fmt = risk_format_sniff((const char *)data, size);
	for (int k = 0; k < 2; k++) {
		gd_err_init(&err);
		set = NULL;
		if (risk_parse((const char *)data, size, fmt, &set, &err) == 0) {
			round_trip(set);
			set = risk_set_free(set);
		} else if (gd_err_count(&err) == 0 || set != NULL) {
			abort();	/* A rejection always says why, and returns nothing. */
		}
		fmt = fmt == RISK_FORMAT_CSV ? RISK_FORMAT_JSON : RISK_FORMAT_CSV;
	}
	return 0;
}
