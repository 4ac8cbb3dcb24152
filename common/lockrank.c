#include "common/lockrank.h"

#ifdef SYMBOLD_LOCK_RANKS
#include <stdio.h>
#include <stdlib.h>

#define HELD_MAX 32

/* The ranks this thread holds, in the order taken. */
static _Thread_local struct held {
	enum lock_rank rank;
	const char *name;
} held[HELD_MAX];
static _Thread_local int nheld;

void rank_taken(enum lock_rank rank, const char *name)
{
	if (nheld > 0 && held[nheld - 1].rank > rank) {
		fprintf(stderr, "symbold: lock order broken: %s (rank %d) taken while holding %s (rank %d)\n", name,
			rank, held[nheld - 1].name, held[nheld - 1].rank);
		abort();
	}
	if (nheld < HELD_MAX)
		held[nheld] = (struct held){rank, name};
	nheld++;
}

void rank_given_back(enum lock_rank rank)
{
	/* the newest of that rank: locks are given back in the reverse order */
	for (int i = (nheld < HELD_MAX ? nheld : HELD_MAX) - 1; i >= 0; i--)
		if (held[i].rank == rank) {
			for (int k = i; k + 1 < nheld && k + 1 < HELD_MAX; k++)
				held[k] = held[k + 1];
			nheld--;
			return;
		}
	nheld -= nheld > 0;
}
#else
/* an empty translation unit is not ISO C */
typedef int lockrank_unused;
#endif
