/*
 * Target selection (DESIGN §2 "pick", §7.7 blast radius): from the hosts whose tags match,
 * pick count, percent or all, never more than max_hosts nor floor(max_percent% of the
 * matching hosts), and never a host that is busy with another run.  Pure: the property
 * test (REL-17) drives it over random fleets.
 */
#ifndef GD_TARGETS_H
#define GD_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "playbook.h"

struct candidate {
	const char *host;
	bool busy;		/* Another run holds it. */
};

/* The most hosts a run of pb may touch when matching hosts match its tags. */
size_t targets_cap(const struct playbook *pb, size_t matching);

/*
 * Chooses targets among v[0..n) (all of which match the tags), in random order from seed.
 * Writes the chosen indexes to ret (room for n) and returns how many; 0 when none may be
 * touched, with why saying so.
 */
size_t targets_pick(const struct playbook *pb, const struct candidate *v, size_t n,
    uint64_t seed, size_t *ret, char *why, size_t whylen);

#endif
