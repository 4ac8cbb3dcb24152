/* fetch: turns a key that is not in the store into a stored file. Owns the
 * job table (one job per key however many ask: coalescing), the order in
 * which servers are asked and what makes one eligible (enabled, lists,
 * blackout after repeated failures), per-server concurrency (opens before
 * the background; an open moves on from a busy server), the negative
 * cache, the transfer thread (one libcurl multi: no thread per transfer) and
 * the worker pool that unpacks, verifies and commits. Knows nothing of FUSE:
 * a requester gets a callback. */
#ifndef SYMBOLD_FETCH_H
#define SYMBOLD_FETCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "admin/catalog.h"
#include "admin/registry.h"
#include "admin/store.h"
#include "common/buf.h"
#include "common/key.h"
#include "fetch/lease.h"

struct fetcher;

/* What the fetcher tells its owner. `stored`: a key landed in the store
 * (fetched, converted, or published from here), after what was concluded
 * about it was forgotten; from a fetcher thread, must not block.
 * `forgot_negatives`: every negative verdict was dropped at once (the
 * servers changed); from the thread that called fetch_forget_negatives,
 * which it may hold briefly. Either may be NULL. */
struct fetch_hooks {
	void (*stored)(void *ctx, const struct sym_key *k);
	void (*forgot_negatives)(void *ctx);
	void *ctx;
};

struct fetch_config {
	int negative_ttl;        /* seconds */
	long long max_file_size; /* bytes */
	int workers;             /* worker threads */
	int lease_ttl;           /* seconds; 0: no fleet leases (fetch/lease.h) */
	struct fetch_hooks hooks;
};

/* A .sym made here from its debug file, by the debug file's format and how
 * it went (metrics). */
enum conv_format { CONV_PDB, CONV_PE, CONV_ELF, CONV_OTHER, CONV_FORMATS };
enum conv_outcome { CONV_STORED, CONV_FAILED, CONV_FAILED_LOCAL, CONV_OUTCOMES };

struct fetch_counters {
	atomic_ullong jobs;          /* fetches started (one per key, however many asked) */
	atomic_ullong coalesced;     /* requests that joined a fetch already running */
	atomic_ullong stored;        /* fetches that stored a file */
	atomic_ullong not_found;     /* fetches no server could answer */
	atomic_ullong failed;        /* fetches that ended in failures */
	atomic_ullong failed_local;  /* ... of this host's disk or catalog, not a server's */
	atomic_ullong negative_hits; /* requests answered by the negative cache */
	atomic_ullong bytes;         /* bytes downloaded */
	atomic_int in_flight;        /* fetches running now */
	atomic_int waiting;          /* requests parked on a fetch now (opens, prefetches, conversions) */
	atomic_ullong conversions[CONV_FORMATS][CONV_OUTCOMES]; /* since the start */
	struct lease_counters leases; /* the fleet's (fetch/lease.h) */
};

/* Called exactly once per parked request, from a fetcher thread:
 *   0           the file is in the store now
 *   -ENOENT     no server has it
 *   -ETIMEDOUT  the wait limit passed (the fetch goes on)
 *   -EIO        it could not be had this time (failures; not negative-cached)
 *   -ESHUTDOWN  the daemon is stopping */
typedef void (*fetch_done_fn)(void *ctx, int status);

int fetch_start(struct fetcher **out, struct registry *reg, struct store *store, struct catalog *cat,
		const struct fetch_config *cfg);
/* Stops the transfer thread and the workers; every parked request is
 * answered with -ESHUTDOWN. */
void fetch_stop(struct fetcher *f);

/* Asks for `k`, for someone waiting (an open): its fetch goes before the
 * background's at every server, and moves on from a server without a free
 * slot for slot_wait_s. Returns 0 when parked (`done` follows, after at most
 * `wait_s` seconds), or -ENOENT at once if the negative cache knows the key is
 * nowhere (done is not called). Never blocks on I/O. */
int fetch_request(struct fetcher *f, const struct sym_key *k, double wait_s, fetch_done_fn done, void *ctx);

/* How many more seconds the negative cache holds that `k` is nowhere (at
 * least 1), or 0 if it does not. Memory only. */
long fetch_negative_left(struct fetcher *f, const struct sym_key *k);

/* The servers, their settings or their lists changed: every key the
 * negative cache holds may be had now. Forgets them all (memory and
 * catalog: blocks on the catalog) and tells hooks.forgot_negatives. */
void fetch_forget_negatives(struct fetcher *f);

/* `k` was put into the store by someone else: what was concluded about it
 * is forgotten (no hook is told). Memory only. */
void fetch_forget_key(struct fetcher *f, const struct sym_key *k);

/* What the first `len` bytes of a file offered as `k` already say, the
 * whole being `total` bytes (0: not known): 0 if it may be k's file and
 * they can tell no more (stop asking), -EAGAIN if they cannot tell yet (ask
 * again with at least *need bytes), -EINVAL if it cannot be (the reason in
 * why). A .sym is judged by its MODULE line; a debug file by its format
 * (the one k's name asks for) and the id its headers carry, where those lie
 * in its first IDENTIFY_PREFIX_MAX bytes (convert/identify.h); a cabinet by
 * what it holds, later. Pure. */
int fetch_verify_head(const struct sym_key *k, const void *head, size_t len, uint64_t total, uint64_t *need,
		      char *why, size_t whylen);

/* A file offered as `k` by this host (written into the mount) was refused:
 * logged, and remembered as k's last failure (getxattr
 * user.symbold.missing shows it). */
void fetch_note_refused(struct fetcher *f, const struct sym_key *k, const char *origin, const char *why);

const struct fetch_counters *fetch_counters(const struct fetcher *f);
/* Keys the negative cache holds now. Memory only. */
size_t fetch_negative_count(struct fetcher *f);

/* A module's code file and id, as a missing record names them: an ELF's
 * build-id (debuginfod is asked by it), the PE a PDB was built with (its
 * .sym is made with it). Kept if they agree (fetch/codeids). Blocks on the
 * catalog. */
void fetch_learn_codes(struct fetcher *f, const struct code_ref *refs, size_t n);

/* Fetches k in the background, for no one waiting (a missing record): it
 * waits for a server's slot behind every open, however long. */
void fetch_prefetch(struct fetcher *f, const struct sym_key *k);

/* A file made here rather than fetched (written into the mount): verified
 * as k (its identity must be k's), committed to the store, sent to the
 * upload tier, and whatever was concluded of k forgotten. Consumes
 * tmp_path. Blocks on the disk and the catalog: call it from a worker.
 * 0, or -EINVAL with the reason in err (not the file k names), -EIO. */
int fetch_publish_local(struct fetcher *f, const struct sym_key *k, char tmp_path[], const char *origin, char *err,
			size_t errlen);

/* Why `k` is missing, as this daemon knows it: its negative-cache entry, how
 * its last fetch went on each server, and what keeps each server from being
 * asked now. Appends lines to `out`; returns 1, or 0 if k was never tried
 * (nothing appended). Memory only: safe on the FUSE loop. */
int fetch_explain(struct fetcher *f, const struct sym_key *k, struct buf *out);

#endif
