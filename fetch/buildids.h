/* buildids: which full build-id an ELF's Breakpad debug id stands for.
 * debuginfod knows files by build-id only, while Breakpad asks for
 * <name>/<debug id>/<name>.sym, and the debug id keeps only the first 16
 * bytes of the build-id; so the fetcher learns the pair from every ELF
 * stored (identify gives both) and asks debuginfod by the full build-id.
 * In memory for the transfer thread (loaded from the catalog at start); a
 * new pair goes to the catalog from the worker that stored the file. */
#ifndef SYMBOLD_BUILDIDS_H
#define SYMBOLD_BUILDIDS_H

#include "admin/catalog.h"
#include "common/key.h"

struct buildids;

/* Loads what the catalog knows. 0 or -ENOMEM (an unreadable catalog is
 * no pairs). */
int buildids_open(struct buildids **out, struct catalog *cat);
void buildids_close(struct buildids *b);

/* 1 and the build-id (lower-case hex) if the debug id's is known, else 0. */
int buildids_get(struct buildids *b, const char *debug_id, char out[KEY_BUILD_ID_MAX + 1]);

/* Learns a pair: at once in memory, and in the catalog (blocks on it: call
 * from a worker). Pairs that do not agree (the debug id is not the build-id's)
 * are ignored. */
void buildids_learn(struct buildids *b, const char *debug_id, const char *build_id);

#endif
