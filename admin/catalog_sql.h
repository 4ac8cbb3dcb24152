/* catalog_sql: the catalog's SQL plumbing, for the catalog's own files
 * (catalog.c, missing_db.c) and no one else: the connection, its lock, and
 * the few ways to run a statement. Argument types are spelled 't' (text) and
 * 'i' (64-bit integer), one per '?'. */
#ifndef SYMBOLD_CATALOG_SQL_H
#define SYMBOLD_CATALOG_SQL_H

#include <pthread.h>
#include <sqlite3.h>
#include <sys/types.h>

#include "common/hmap.h"

struct catalog {
	sqlite3 *db;
	pthread_mutex_t mu; /* recursive: a row callback may use the catalog */
	struct hmap stmts;  /* SQL text -> struct cached_stmt: prepared once (mu) */
	dev_t dev;          /* the file system the database lives on */
};

/* The connection's lock (recursive), in its rank (common/lockrank.h). */
void cat_lock(struct catalog *c);
void cat_unlock(struct catalog *c);

/* One statement that returns no rows: taking the lock, or with it held. */
int cat_exec(struct catalog *c, const char *sql, const char *types, ...);
int cat_exec_locked(struct catalog *c, const char *sql, const char *types, ...);
/* Ends the caller's transaction: COMMIT if rc is 0, else ROLLBACK. Lock held. */
int cat_end_txn(struct catalog *c, int rc);
/* A query, each row to `row` until it returns non-zero. */
int cat_each(struct catalog *c, const char *sql, int (*row)(sqlite3_stmt *, void *), void *ctx, const char *types,
	     ...);
/* A text column, "" for NULL. */
const char *cat_text(sqlite3_stmt *st, int i);

#endif
