/* verdicts: what the fetcher has concluded about keys it could not get — the
 * negative cache (every asked server said "not here", until a time) and how
 * the last failed fetch of a key went on each server — so that a key is not
 * asked again too soon, and so that an operator can ask why a symbol is
 * missing (getxattr on its directory). In memory, bounded, thread-safe; the
 * negative cache is persisted by the fetcher. Keys are store relpaths. */
#ifndef SYMBOLD_VERDICTS_H
#define SYMBOLD_VERDICTS_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"

#define VERDICTS_RECENT_MAX 4096 /* failed fetches remembered */

struct verdicts;

int verdicts_new(struct verdicts **out);
void verdicts_free(struct verdicts *v);

/* Until when the key is known to be nowhere, if it is at `now`; else 0. */
time_t verdicts_negative(struct verdicts *v, const char *relpath, time_t now);
void verdicts_set_negative(struct verdicts *v, const char *relpath, time_t until);
/* How the last fetch failed ("server: outcome; ..."), replacing the last. */
void verdicts_set_failed(struct verdicts *v, const char *relpath, const char *summary);
/* Copies the summary of the key's last failed fetch into out (truncated to
 * len); 0, or -ENOENT if none is remembered. */
int verdicts_failure(struct verdicts *v, const char *relpath, char *out, size_t len);
/* The key arrived: forget what was concluded. */
void verdicts_clear(struct verdicts *v, const char *relpath);
/* Forgets every negative entry (the servers changed). */
void verdicts_forget_negatives(struct verdicts *v);
/* Negative entries held now (expired ones not swept yet included). */
size_t verdicts_negative_count(struct verdicts *v);
/* Drops expired negative entries. */
void verdicts_sweep(struct verdicts *v, time_t now);

/* Appends what is known about the key, one line each; returns 1 if there
 * was anything, 0 if not. */
int verdicts_explain(struct verdicts *v, const char *relpath, time_t now, struct buf *out);

#endif
