/*
 * REL-17: the blast radius over random fleets and picks.  Whatever the pick, the targets
 * number at most max_hosts and at most floor(max_percent% of the matching hosts), are all
 * distinct, and none is busy with another run.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "targets.h"
#include "test.h"

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int
main(void)
{
	static struct candidate v[512];
	static size_t out[512];
	struct playbook pb = { 0 };
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	size_t cases = 0, chosen_total = 0, violations = 0;
	char why[256];

	TEST_START("blast radius property (REL-17): 100,000 random fleets and picks");
	for (int iter = 0; iter < 100000; iter++) {
		size_t n = rnd(&s) % 300, got, cap;
		bool seen[512] = { false };

		pb.guardrails.max_hosts = (uint32_t)(1 + rnd(&s) % 60);
		pb.guardrails.max_percent = (double)(rnd(&s) % 10001) / 100.0;
		switch (rnd(&s) % 3) {
		case 0:
			pb.pick = PICK_COUNT;
			pb.pick_count = (uint32_t)(1 + rnd(&s) % 400);
			break;
		case 1:
			pb.pick = PICK_PERCENT;
			pb.pick_percent = (double)(1 + rnd(&s) % 10000) / 100.0;
			break;
		default:
			pb.pick = PICK_ALL;
		}
		for (size_t i = 0; i < n; i++)
			v[i].busy = rnd(&s) % 4 == 0;
		got = targets_pick(&pb, v, n, rnd(&s), out, why, sizeof(why));
		cap = (size_t)floor(pb.guardrails.max_percent * (double)n / 100.0 + 1e-9);
		if (got > pb.guardrails.max_hosts || got > cap || got > n)
			violations++;
		for (size_t i = 0; i < got; i++) {
			if (out[i] >= n || v[out[i]].busy || seen[out[i]])
				violations++;
			else
				seen[out[i]] = true;
		}
		if (got == 0 && why[0] == '\0')
			violations++;
		chosen_total += got;
		cases++;
	}
	printf("blast radius: %zu fleets, %zu hosts chosen in all, %zu violations\n", cases,
	    chosen_total, violations);
	ASSERT_INT_EQ(violations, 0);

	TEST_START("pick count 3 of 10 free hosts with max_hosts 5, max_percent 50: 3");
	pb.guardrails.max_hosts = 5;
	pb.guardrails.max_percent = 50;
	pb.pick = PICK_COUNT;
	pb.pick_count = 3;
	for (size_t i = 0; i < 10; i++)
		v[i].busy = false;
	ASSERT_INT_EQ(targets_pick(&pb, v, 10, 1, out, why, sizeof(why)), 3);
	pb.pick = PICK_ALL;
	ASSERT_INT_EQ(targets_pick(&pb, v, 10, 1, out, why, sizeof(why)), 5);
	pb.guardrails.max_percent = 25;
	ASSERT_INT_EQ(targets_pick(&pb, v, 10, 1, out, why, sizeof(why)), 2);
	ASSERT_INT_EQ(targets_pick(&pb, v, 3, 1, out, why, sizeof(why)), 0);	/* floor(0.75) */
	ASSERT_TRUE(why[0] != '\0');
	return test_done();
}
