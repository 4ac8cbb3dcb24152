/* lease: one flight per fleet. Hosts that share an S3 tier (a server with
 * upload = 1) take a lease on a key in that tier before they fetch it from
 * an origin or convert it, so that the slow work is done once for the
 * fleet and the others wait for the tier to have it.
 *
 * A lease is the object `.symbold-lease/<relpath>` under the tier's prefix.
 * It is written with `If-None-Match: *`; on a tier known to keep that (the
 * first lease held there probes it: the same write again must get 412)
 * nothing more is needed; on one that may ignore it, the lease is read
 * before the write and again a few round trips after it (at least
 * LEASE_SETTLE_S), and the token read
 * back decides who holds it. The body names the holder, its ttl and its
 * servers (a hash); the holder rewrites it every ttl/3 while it works, and
 * deletes it once the key is in the tier or its work failed — on a tier
 * that keeps conditions, with If-Match: the ETag it last wrote, so that a
 * holder whose lease was taken over while it was silent undoes nothing. A key found
 * nowhere leaves the lease saying so for LEASE_MISSING_TTL_S: hosts with
 * the same servers take that word instead of asking the origin in turn.
 * A lease older than its ttl by the tier's own clock (Date minus
 * Last-Modified: no host's clock is trusted) was left by a holder that
 * died: it is deleted and taken.
 *
 * Everything runs on the transfer thread's curl multi, like the uploads;
 * nothing here blocks. docs/ARCHITECTURE.md ("A fleet") has the failure
 * cases and what a lease costs in requests. */
#ifndef SYMBOLD_LEASE_H
#define SYMBOLD_LEASE_H

#include <curl/curl.h>
#include <stdatomic.h>

#include "admin/registry.h"

#define LEASE_SETTLE_S 0.3 /* seconds at least between a write and its read-back (lease.c) */
/* seconds a holder's word that a key is nowhere stands: the hosts that
 * waited for it conclude so too, rather than asking the origin one after
 * the other; each keeps it in its own negative cache */
#define LEASE_MISSING_TTL_S 60

enum lease_result {
	LEASE_TAKEN,      /* this host holds it: do the work, then lease_release */
	LEASE_HELD,       /* another host holds it: wait for the tier to have the key */
	LEASE_MISSING,    /* its holder, with the same servers, found the key nowhere: it is not found */
	LEASE_UNAVAILABLE /* the tier did not answer as it should: work alone */
};

/* From the transfer thread, once per lease_take. */
typedef void (*lease_done_fn)(void *ctx, enum lease_result r, const char *why);

struct leases;

/* Counted here, read anywhere. */
struct lease_counters {
	atomic_ullong taken;       /* leases this host took (it did the work) */
	atomic_ullong waited;      /* found held by another host: the tier was asked again */
	atomic_ullong broken;      /* expired leases of hosts gone, deleted */
	atomic_ullong unavailable; /* the tier did not answer as it should: worked alone */
	atomic_ullong missing;     /* another host's word that the key is nowhere, taken */
	atomic_ullong lost;        /* held ones another host took over while this one was silent past the ttl */
};

/* counters must outlive l. */
int leases_new(struct leases **out, CURLM *multi, int ttl_s, struct lease_counters *counters);
/* Drops every lease without a word (their objects expire on the tier) and
 * every take in progress without calling back. */
void leases_free(struct leases *l);

/* Transfer thread: asks the tier `s` for the lease on relpath; done
 * follows. `servers` (16 hex digits) names the servers this host would
 * ask: a holder's word that the key is nowhere counts only for hosts with
 * the same. 0, or -errno (done is not called: work alone); -EAGAIN for
 * LEASE_QUIET_S after a lease failed on that tier. */
int lease_take(struct leases *l, struct server *s, const char *relpath, const char *servers, lease_done_fn done,
	       void *ctx);
/* Transfer thread: the work on relpath is over; the lease this host holds
 * on it in tier `server` (if any) is deleted. */
void lease_release(struct leases *l, const char *server, const char *relpath);
/* The same, when every server found the key nowhere: the lease becomes
 * that word, for LEASE_MISSING_TTL_S (others' takes end LEASE_MISSING). */
void lease_conclude_missing(struct leases *l, const char *server, const char *relpath);
/* Transfer thread: a take in progress for ctx is dropped, never called
 * back (its job ended). */
void lease_forget(struct leases *l, void *ctx);

/* Transfer thread: renewals and read-backs that are due; returns the
 * earlier of `next` and the next due time. */
double lease_turn(struct leases *l, double next);
/* Transfer thread: 1 if e was a lease's request (handled and freed here). */
int lease_finished(struct leases *l, CURL *e, CURLcode rc);

#endif
