/* store_watch: notices files that other tools drop into the store directory
 * (a file counts once it is closed after writing or renamed into place,
 * never while it is being written), and files removed from it. A file whose
 * path names a key is recorded in the catalog (server "(dropped)") and
 * reported; one put in with upper-case names is renamed to the store's
 * lower-case spelling first.
 * Two ways to watch: fanotify, one mark on the store's file system (needs
 * CAP_SYS_ADMIN and a file system with file handles: nothing grows with
 * the store, nothing is walked); else inotify, one watch per directory,
 * added by a walk on the first read (after the mount serves) — a very large
 * store may exhaust fs.inotify.max_user_watches (then what cannot be watched
 * is logged). */
#ifndef SYMBOLD_STORE_WATCH_H
#define SYMBOLD_STORE_WATCH_H

#include "admin/store.h"
#include "common/key.h"

struct store_watch;

/* use_inotify: 1 to use inotify even where fanotify would do. */
int store_watch_start(struct store_watch **out, struct store *store, int use_inotify);
void store_watch_stop(struct store_watch *w);
int store_watch_fd(const struct store_watch *w);

/* removed: 0 for a file that arrived, 1 for one deleted or moved away; k
 * NULL (removed 1) for a directory of a debug file or a key that went, with
 * whatever was in it. */
typedef void (*store_watch_fn)(void *ctx, const struct sym_key *k, const char *relpath, int removed);
/* Reads what inotify has, calling fn for each file that came or went. */
void store_watch_read(struct store_watch *w, store_watch_fn fn, void *ctx);

#endif
