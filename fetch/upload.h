/* upload: the fleet's shared tier. Every symbol this host materializes is
 * sent to each server marked `upload = 1` (an S3 bucket or a writable dir),
 * in that server's own layout, so that the other hosts of a fleet fetch it
 * from there rather than fetching and converting it again. Asynchronous:
 * queued here, started by the transfer thread (PUTs on its curl multi, dir
 * copies on the workers), retried with backoff, counted (uploads_ok,
 * uploads_failed) and logged. A failed upload never fails the open that
 * caused it. Uploads still queued when the daemon stops are logged as
 * abandoned, not kept. */
#ifndef SYMBOLD_UPLOAD_H
#define SYMBOLD_UPLOAD_H

#include <curl/curl.h>

#include "admin/registry.h"
#include "admin/store.h"
#include "common/key.h"
#include "common/pool.h"

#define UPLOAD_TRIES 5 /* attempts per symbol and server */

struct uploader;

int uploader_new(struct uploader **out, struct registry *reg, struct store *store, struct pool *pool,
		 CURLM *multi);
/* Drops what is running or queued (the pool must be stopped first). */
void uploader_free(struct uploader *u);

/* The file at relpath (key k) has just been stored, from server `from` (or
 * NULL): queue it for every upload server but that one. Thread-safe. */
void upload_symbol(struct uploader *u, const struct sym_key *k, const char *relpath, const char *from);

/* Who is told, on the transfer thread, that an upload of relpath to
 * `server` is over (sent, or given up): the fleet's lease on it ends then
 * (fetch/lease.h). fn must not call the uploader. */
typedef void (*upload_settled_fn)(void *ctx, const char *server, const char *relpath);
void uploader_on_settled(struct uploader *u, upload_settled_fn fn, void *ctx);

/* 1 if relpath is queued for (or being sent to) `server`. */
int upload_pending(struct uploader *u, const char *server, const char *relpath);

/* Transfer thread: starts the uploads that are due and settles those the
 * workers finished; returns the earlier of `next` and the next due time. */
double upload_turn(struct uploader *u, double next);

/* Transfer thread: 1 if e was an upload's (then it is finished and freed
 * here), 0 if not. */
int upload_finished(struct uploader *u, CURL *e, CURLcode rc);

#endif
