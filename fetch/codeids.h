/* codeids: the code file of a module, known by its debug id. Two uses:
 * - an ELF's full build-id: debuginfod knows files by build-id only, while
 *   Breakpad asks for <name>/<debug id>/<name>.sym, and the debug id keeps
 *   only the first 16 bytes of the build-id;
 * - the PE image a PDB was built with: a PDB's .sym takes its INFO CODE_ID
 *   and x64 unwind information (STACK CFI) from the image.
 * Learned from every ELF and PE stored (identify gives both ids) and from
 * missing records that name a code file and id. The catalog holds them
 * all; the ones asked for lately are kept in memory (at most CODEIDS_CACHED,
 * so a catalog of millions costs neither start-up time nor memory), read
 * through a connection of their own that never waits behind a commit (a
 * lookup comes from the request path). A new pair goes to the catalog from
 * the thread that learned it. */
#ifndef SYMBOLD_CODEIDS_H
#define SYMBOLD_CODEIDS_H

#include "admin/catalog.h"
#include "common/key.h"

struct codeids;

#define CODEIDS_CACHED 4096

/* What the catalog knows, asked for when needed (an unreadable catalog is
 * nothing known; without one, memory is all). 0 or -ENOMEM. */
int codeids_open(struct codeids **out, struct catalog *cat);
void codeids_close(struct codeids *c);

/* An ELF's: 1 and its full build-id (lower-case hex) if known, else 0. */
int codeids_build_id(struct codeids *c, const char *debug_id, char out[KEY_BUILD_ID_MAX + 1]);

/* A PDB's: 1 and the key of the PE image it was built with if known, else 0. */
int codeids_image(struct codeids *c, const char *debug_id, struct sym_key *image);

/* Learns, from a file stored (verified as its key), that the module with
 * this debug id has this code file and id: at once in memory, and in the
 * catalog (blocks on it: call from a worker). Pairs that do not agree are
 * ignored: an ELF's build-id must give the debug id; a PE's code id must be
 * a timestamp and image size, with a code file to name it. What a stored
 * file taught is never replaced. */
void codeids_learn(struct codeids *c, const char *debug_id, const char *code_file, const char *code_id);
/* The same for many that records say (a crash report's word, anyone's),
 * written to the catalog in one transaction: they replace only what other
 * records said. */
void codeids_learn_many(struct codeids *c, const struct code_ref *refs, size_t n);

#endif
