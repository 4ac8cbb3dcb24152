/* lockrank: the order in which the daemon's long-held locks are taken. A
 * thread holding one may take only a lock of a higher rank, so no two
 * threads can each hold what the other waits for:
 *
 *   RANK_DAEMON_FETCH  fs/main.c's fetch_mu (the fetcher's life, for hooks)
 *   RANK_FETCHER       the fetcher's job table (fetch/fetch.c)
 *   RANK_CATALOG       the catalog's connection (admin/catalog.c; recursive)
 *
 * So the catalog is never held while the fetcher is called: a catalog
 * callback copies what it needs and acts after (missing.c's revisits).
 * In a build with SYMBOLD_LOCK_RANKS (the sanitizer build, which runs every
 * test), taking a lock out of order aborts naming both, so the tests catch
 * an inversion whether or not it deadlocks that day; elsewhere the checks
 * compile to nothing. */
#ifndef SYMBOLD_LOCKRANK_H
#define SYMBOLD_LOCKRANK_H

enum lock_rank { RANK_DAEMON_FETCH = 10, RANK_FETCHER = 20, RANK_CATALOG = 30 };

#ifdef SYMBOLD_LOCK_RANKS
/* This thread now holds a lock of `rank` (named `name`): aborts if it holds
 * one of a higher rank. Taking the same rank again (the recursive catalog)
 * is allowed. */
void rank_taken(enum lock_rank rank, const char *name);
void rank_given_back(enum lock_rank rank);
#else
#define rank_taken(rank, name) ((void)(rank), (void)(name))
#define rank_given_back(rank) ((void)(rank))
#endif

#endif
