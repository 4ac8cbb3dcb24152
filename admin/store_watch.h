/* store_watch: notices files that other tools drop into the store directory
 * (inotify: a file counts once it is closed after writing or renamed into
 * place, never while it is being written), and files removed from it. A
 * file whose path names a key is recorded in the catalog (server
 * "(dropped)") and reported; one put in with upper-case names is renamed to
 * the store's lower-case spelling first.
 * One watch per directory: a very large store may exhaust
 * fs.inotify.max_user_watches (then what cannot be watched is logged). */
#ifndef SYMBOLD_STORE_WATCH_H
#define SYMBOLD_STORE_WATCH_H

#include "admin/store.h"
#include "common/key.h"

struct store_watch;

int store_watch_start(struct store_watch **out, struct store *store);
void store_watch_stop(struct store_watch *w);
int store_watch_fd(const struct store_watch *w);

/* removed: 0 for a file that arrived, 1 for one deleted or moved away. */
typedef void (*store_watch_fn)(void *ctx, const struct sym_key *k, const char *relpath, int removed);
/* Reads what inotify has, calling fn for each file that came or went. */
void store_watch_read(struct store_watch *w, store_watch_fn fn, void *ctx);

#endif
