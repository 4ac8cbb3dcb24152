/* pool: a fixed set of worker threads running submitted tasks in FIFO order,
 * for the slow local work (disk, decompression, verification, catalog
 * commits) that must not run on the FUSE loop or the transfer thread. */
#ifndef SYMBOLD_POOL_H
#define SYMBOLD_POOL_H

#include <stddef.h>

typedef void (*pool_fn)(void *arg);
struct pool;

int pool_start(struct pool **out, size_t nthreads);
/* Queues `fn(arg)`; -ENOMEM if it cannot, -ESHUTDOWN after pool_stop began. */
int pool_submit(struct pool *p, pool_fn fn, void *arg);
/* Runs every task already queued, then joins the threads and frees the pool. */
void pool_stop(struct pool *p);

#endif
