/* totals: daemon-wide counters that outlive a restart. The modules that
 * count (the FUSE layer, the fetcher) register theirs by name; start-up
 * restores the saved values into them and the registry's periodic flush saves
 * them in the catalog. Only restored counters are saved, so a counter that
 * has not been restored yet never overwrites its saved total with zero. */
#ifndef SYMBOLD_TOTALS_H
#define SYMBOLD_TOTALS_H

#include <stdatomic.h>
#include <stddef.h>

#include "admin/catalog.h"

#define TOTALS_MAX 32

/* Registers (or re-points) the counter called `name`. */
void totals_track(const char *name, atomic_ullong *counter);
/* Stops tracking the counters that live in [start, start + len): their
 * owner is going (save first). */
void totals_untrack(const void *start, size_t len);
/* Adds its saved total to every tracked counter not restored yet. */
int totals_restore(struct catalog *c);
int totals_save(struct catalog *c);

#endif
