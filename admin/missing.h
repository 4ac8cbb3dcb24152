/* missing: crash reports waiting for symbols, and their reprocessing (SPEC §4
 * "Missing symbols and reprocessing"). Keeps, in the catalog, which objects
 * (crash reports, minidumps: anything with an id) wait on which missing key;
 * when a key arrives — fetched, uploaded into the mount, dropped into the
 * store — its objects are triggered once: after a short window that folds an
 * object's arrivals together, a line in `reprocess`, a file named after the
 * object renamed into the spool directory, and the reprocess command, with
 * bounded concurrency and retries. Everything goes through the catalog
 * first, so a restart loses nothing and fires nothing twice.
 *
 * One thread of its own does the work (catalog writes, spool files,
 * commands, inotify on the store and the spool: admin/spool.h,
 * admin/reprocess_cmd.h, admin/store_watch.h); the other threads only hand it
 * events, and never wait. */
#ifndef SYMBOLD_MISSING_H
#define SYMBOLD_MISSING_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/catalog.h"
#include "admin/store.h"
#include "common/buf.h"
#include "common/key.h"

#define OBJECT_ID_MAX 128

struct missing_options {
	double window;          /* seconds an object's arrivals are folded together */
	int max_age_days;       /* missing and reprocess records older than this go */
	long max_records;       /* ... and beyond this many, the oldest */
	char spool_dir[PATH_MAX]; /* reprocess_dir, or "" */
	char command[1024];     /* reprocess_cmd, or "" */
	int command_concurrency;
	int command_retries;    /* after the first run */
	int watch_store;        /* files other tools drop into the store: 0 unseen, 1 watched, 2 with inotify */
	int retry_every;        /* seconds between fetches of what objects wait on; 0: never */
};

struct missing_figures {
	long long waiting_objects, keys_missing;
	long long pending_reprocess;
	unsigned long long triggers_fired, command_runs, command_failures, store_drops;
	unsigned long long failed_opens_dropped; /* not recorded: too many waiting at once */
};

/* What this module asks of the fetcher, through main (so it needs none):
 * fetch a key (the .sym of each missing one), and learn a module's code
 * file and id from a record that names them (before its fetch); and what it
 * tells: a file another tool put into the store, or removed from it
 * (store_changed, before the arrival is handled; may be NULL; k is NULL for
 * a directory removed with what it held). */
struct missing_hooks {
	void (*prefetch)(void *ctx, const struct sym_key *k);
	void (*learn_codes)(void *ctx, const struct code_ref *refs, size_t n);
	void (*store_changed)(void *ctx, const struct sym_key *k, const char *relpath, int removed);
	void *ctx;
};

struct missing;

int missing_start(struct missing **out, struct catalog *cat, struct store *store,
		  const struct missing_options *o, const struct missing_hooks *hooks, char *err, size_t errlen);
void missing_stop(struct missing *m);

/* `missing` written: records "<object_id> <debug_file> <debug_id> [<code_file>
 * <code_id>]", whitespace- or comma-separated, # comments. All or nothing:
 * -EINVAL with "line N: reason" in err. Blocks on the catalog (a worker). */
int missing_add_text(struct missing *m, const char *text, char *err, size_t errlen);

/* Does `text` parse as records (missing) or as reprocess lines? Changes
 * nothing, takes no lock: -EINVAL with "line N: reason" in err. */
int missing_check_text(const char *text, char *err, size_t errlen);
int reprocess_check_text(const char *text, char *err, size_t errlen);

/* A failed on-demand open: the key is missing, for no object. Queued. */
void missing_note_failed(struct missing *m, const struct sym_key *k);

/* The servers or their lists changed: what objects wait on may be
 * fetchable now. Its fetches are asked for soon, by the keeper's thread. */
void missing_retry(struct missing *m);

/* A key arrived in the store (any file under debug_file/ID/). Queued. */
void missing_arrived(struct missing *m, const struct sym_key *k);

/* What is still missing: "<debug_file>/<debug_id> objects=N since=TIME
 * [code=<code_file>/<code_id>]" in the store's spelling (the debug file in
 * lower case, the canonical id), oldest first. Blocks on the catalog. */
int missing_render(struct missing *m, struct buf *out);

/* `reprocess`: "# upto SEQ" then "<seq> <object_id> <key>[,<key>...] <time>"
 * per object whose symbols arrived. Blocks on the catalog. */
int reprocess_render(struct missing *m, struct buf *out);

/* `reprocess` written by a consumer: the lines it removed are handled. A
 * line is known by its seq; what the writer could not have seen (seq past
 * the "# upto" of its text, or of `base`, the text its edit started from)
 * is kept. -EINVAL for a line that is not "<seq> ...". */
int reprocess_apply(struct missing *m, const char *base, const char *text, char *err, size_t errlen);

void missing_get_figures(struct missing *m, struct missing_figures *f);

/* 1 if `id` can name an object (and a spool file): 1..128 of
 * [A-Za-z0-9._:@+=-], not starting with '.' or '-'. */
int missing_valid_object(const char *id);

#endif
