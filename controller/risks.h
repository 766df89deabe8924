/*
 * The risk matrix in the store (docs/risks.md): imports of a whole CSV or JSON file, all or
 * nothing, each changed risk with a risk_history row and the import with one audit row; and
 * the order risks are listed in.  The routes (POST /v1/risks, GET /v1/risks,
 * GET /v1/risks/{id}) are declared in api.h.
 */
#ifndef GD_RISKS_H
#define GD_RISKS_H

#include <stddef.h>

#include "ctl.h"
#include "risk.h"

/*
 * High/High first: likelihood times severity (Low 1, Medium 2, High 3), then severity, then
 * id.  An ORDER BY clause over a table with the risks' likelihood and severity columns.
 */
#define RISK_LEVEL_SQL(col)	\
	"(CASE " col " WHEN 'High' THEN 3 WHEN 'Medium' THEN 2 ELSE 1 END)"
#define RISKS_ORDER_BY							\
	"ORDER BY " RISK_LEVEL_SQL("likelihood") " * " RISK_LEVEL_SQL("severity") " DESC, " \
	RISK_LEVEL_SQL("severity") " DESC, id"

struct risk_counts {
	size_t created, updated, unchanged;
};

/*
 * In one audited transaction: inserts the risks of set that are new, updates those that
 * differ from the stored row (each with a risk_history row: the whole new row), leaves the
 * others untouched, and appends one "risk.import" audit row by actor with the counts.
 * Returns 0 with the counts, or -EIO with nothing changed.  Takes the store's lock.
 */
int risks_import(struct ctl *c, const struct risk_set *set, enum risk_format fmt,
    const char *actor, struct risk_counts *ret);

#endif
