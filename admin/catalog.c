#include "admin/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/catalog_sql.h"
#include "common/lockrank.h"
#include "common/buf.h"


static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	/* FULL: a committed row must survive power loss, not just kill -9 */
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS servers("
	"  name TEXT PRIMARY KEY COLLATE NOCASE, origin TEXT NOT NULL, created INTEGER NOT NULL,"
	"  config TEXT NOT NULL, whitelist TEXT NOT NULL DEFAULT '', blacklist TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, server TEXT, url TEXT, source_format TEXT,"
	"  size INTEGER, fetched INTEGER);"
	"CREATE TABLE IF NOT EXISTS pending(path TEXT PRIMARY KEY, server TEXT, url TEXT, source_format TEXT,"
	"  size INTEGER, fetched INTEGER);"
	/* a stored file still to be uploaded to a server (fetch/upload) */
	"CREATE TABLE IF NOT EXISTS uploads(path TEXT NOT NULL, server TEXT NOT NULL, asked TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY(path, server));"
	"CREATE TABLE IF NOT EXISTS negative(path TEXT PRIMARY KEY, until INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS code_ids(debug_id TEXT PRIMARY KEY, code_file TEXT NOT NULL, code_id TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS skiplist(server TEXT NOT NULL COLLATE NOCASE, pair TEXT NOT NULL,"
	"  reason TEXT NOT NULL, added INTEGER NOT NULL, until INTEGER NOT NULL, PRIMARY KEY(server, pair));"
	"CREATE TABLE IF NOT EXISTS log(id INTEGER PRIMARY KEY AUTOINCREMENT, server TEXT NOT NULL, line TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS log_by_server ON log(server, id);";

/* The servers table's counter columns, in enum stat_counter's order. New
 * ones are added to an older catalog at open. */
static const char *const counter_columns[STAT_COUNTERS] = {
	"bytes", "ok", "failed", "fail_download", "fail_verify", "fail_conversion", "not_found",
	"uploads_ok", "uploads_failed",
};

/* Columns added since a table was first made: an older catalog gets them. */
static int add_columns(sqlite3 *db)
{
	/* fails when it is already there: fine */
	sqlite3_exec(db, "ALTER TABLE code_ids ADD COLUMN verified INTEGER NOT NULL DEFAULT 0", NULL, NULL, NULL);
	sqlite3_exec(db, "ALTER TABLE uploads ADD COLUMN asked TEXT NOT NULL DEFAULT ''", NULL, NULL, NULL);
	/* the store's budget: when a file was last used (milliseconds since
	 * 1970); an older catalog's files count as used when they were fetched */
	if (sqlite3_exec(db, "ALTER TABLE files ADD COLUMN used INTEGER NOT NULL DEFAULT 0", NULL, NULL, NULL) ==
	    SQLITE_OK)
		sqlite3_exec(db, "UPDATE files SET used = coalesce(fetched, 0) * 1000", NULL, NULL, NULL);
	return sqlite3_exec(db, "CREATE INDEX IF NOT EXISTS files_by_use ON files(used)", NULL, NULL, NULL);
}

static int add_counter_columns(sqlite3 *db)
{
	for (int i = 0; i < STAT_COUNTERS; i++) {
		char *sql = sqlite3_mprintf("ALTER TABLE servers ADD COLUMN %s INTEGER NOT NULL DEFAULT 0",
					    counter_columns[i]);
		if (!sql)
			return SQLITE_NOMEM;
		int rc = sqlite3_exec(db, sql, NULL, NULL, NULL); /* fails when it is already there: fine */
		sqlite3_free(sql);
		(void)rc;
	}
	return SQLITE_OK;
}

/* The database holds server secrets: it is made 0600 before SQLite opens it
 * (SQLite would make it 0644), so that it and the -wal and -shm files
 * SQLite gives the same mode are never readable by others, not even for a
 * moment. */
static int create_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return chmod(path, 0600) < 0 ? -errno : 0; /* one made before by older versions */
}

/* Recursive: a row callback may read or write the catalog itself (SQLite
 * allows statements on one connection to nest). */
static void init_lock(struct catalog *c)
{
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&c->mu, &attr);
	pthread_mutexattr_destroy(&attr);
}

int catalog_open(struct catalog **out, const char *path, char *err, size_t errlen)
{
	struct catalog *c = calloc(1, sizeof *c);
	char *msg = NULL;
	if (!c)
		return -ENOMEM;
	int made = create_private(path);
	if (made < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-made));
		free(c);
		return made;
	}
	hmap_init(&c->stmts);
	int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
				 NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(c->db, 5000);
		rc = sqlite3_exec(c->db, schema, NULL, NULL, &msg);
	}
	if (rc == SQLITE_OK)
		rc = add_counter_columns(c->db);
	if (rc == SQLITE_OK)
		rc = add_columns(c->db);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(c->db));
		sqlite3_free(msg);
		sqlite3_close(c->db);
		free(c);
		return -EIO;
	}
	struct stat st;
	c->dev = stat(path, &st) == 0 ? st.st_dev : (dev_t)-1;
	init_lock(c);
	*out = c;
	return 0;
}

int catalog_open_reader(struct catalog **out, const struct catalog *c)
{
	const char *path = sqlite3_db_filename(c->db, "main");
	struct catalog *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	hmap_init(&r->stmts);
	if (!path || sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(r->db);
		free(r);
		return -EIO;
	}
	sqlite3_busy_timeout(r->db, 1000);
	r->dev = c->dev;
	init_lock(r);
	*out = r;
	return 0;
}

void cat_lock(struct catalog *c)
{
	pthread_mutex_lock(&c->mu);
	rank_taken(RANK_CATALOG, "the catalog");
}

void cat_unlock(struct catalog *c)
{
	rank_given_back(RANK_CATALOG);
	pthread_mutex_unlock(&c->mu);
}

/* A statement prepared once and kept: SQLite parses and plans a statement
 * in more time than most of ours take to run. In use by one caller at a
 * time (a row callback running the same SQL gets one of its own). */
struct cached_stmt {
	sqlite3_stmt *st;
	int busy;
};

#define CACHED_STMTS_MAX 128 /* the catalog's SQL is a fixed set; bound it anyway */

static void forget_stmts(struct catalog *c)
{
	size_t slot;
	for (struct hmap_entry *e = hmap_first(&c->stmts, &slot); e; e = hmap_next(&c->stmts, e, &slot))
		sqlite3_finalize(((struct cached_stmt *)e->value)->st);
	hmap_clear_free(&c->stmts);
}

void catalog_close(struct catalog *c)
{
	if (!c)
		return;
	forget_stmts(c);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Prepares `sql` and binds the arguments described by `types`: 't' text,
 * 'i' 64-bit integer. */
/* `sql` prepared: the cached statement if it is free, else a new one
 * (kept in the cache when there is room). */
static sqlite3_stmt *statement(struct catalog *c, const char *sql)
{
	struct cached_stmt *cs = hmap_get(&c->stmts, sql);
	if (cs && !cs->busy) {
		cs->busy = 1;
		return cs->st;
	}
	sqlite3_stmt *st = NULL;
	int keep = !cs && c->stmts.count < CACHED_STMTS_MAX;
	if (sqlite3_prepare_v3(c->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK)
		return NULL;
	if (keep && (cs = malloc(sizeof *cs)) != NULL) {
		*cs = (struct cached_stmt){st, 1};
		if (hmap_put(&c->stmts, sql, cs) < 0)
			free(cs);
	}
	return st;
}

/* Done with a statement from statement(): reset for its next use, or
 * finalized if it is not the cache's. */
static void release(struct catalog *c, sqlite3_stmt *st)
{
	struct cached_stmt *cs = hmap_get(&c->stmts, sqlite3_sql(st));
	if (cs && cs->st == st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		cs->busy = 0;
		return;
	}
	sqlite3_finalize(st);
}

static sqlite3_stmt *prepare(struct catalog *c, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st = statement(c, sql);
	if (!st)
		return NULL;
	for (int i = 0; types[i]; i++) {
		int rc = types[i] == 't' ? sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT)
					 : sqlite3_bind_int64(st, i + 1, va_arg(ap, long long));
		if (rc != SQLITE_OK) {
			release(c, st);
			return NULL;
		}
	}
	return st;
}

static int report(struct catalog *c, const char *what)
{
	fprintf(stderr, "symbold: catalog: %s: %s\n", what, sqlite3_errmsg(c->db));
	return -EIO;
}

static int exec_va(struct catalog *c, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st = prepare(c, sql, types, ap);
	if (!st)
		return report(c, sql);
	int rc = sqlite3_step(st);
	release(c, st);
	return rc == SQLITE_DONE ? 0 : report(c, sql);
}

/* Runs one statement that returns no rows. Caller holds c->mu. */
int cat_exec_locked(struct catalog *c, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int rc = exec_va(c, sql, types, ap);
	va_end(ap);
	return rc;
}

/* Ends the transaction begun by the caller: COMMIT if rc is 0, else ROLLBACK. */
int cat_end_txn(struct catalog *c, int rc)
{
	if (rc == 0)
		return cat_exec_locked(c, "COMMIT", "");
	cat_exec_locked(c, "ROLLBACK", "");
	return rc;
}

/* The same, taking the lock. */
int cat_exec(struct catalog *c, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	cat_lock(c);
	int rc = exec_va(c, sql, types, ap);
	cat_unlock(c);
	va_end(ap);
	return rc;
}

int catalog_server_upsert(struct catalog *c, const struct catalog_server *s)
{
	return cat_exec(c,
				     "INSERT INTO servers(name, origin, created, config, whitelist, blacklist)"
				     " VALUES(?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET origin=excluded.origin,"
				     " config=excluded.config",
				     "ttittt", s->name, s->origin, (long long)s->created, s->config,
				     s->whitelist ? s->whitelist : "", s->blacklist ? s->blacklist : "");
}

static int server_delete_locked(struct catalog *c, const char *name)
{
	int rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM servers WHERE name=?", "t", name);
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM skiplist WHERE server=?", "t", name);
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM log WHERE server=?", "t", name);
	return cat_end_txn(c, rc);
}

int catalog_server_delete(struct catalog *c, const char *name)
{
	cat_lock(c);
	int rc = server_delete_locked(c, name);
	cat_unlock(c);
	return rc;
}

int catalog_server_set_config(struct catalog *c, const char *name, const char *config)
{
	return cat_exec(c, "UPDATE servers SET config=? WHERE name=?", "tt", config, name);
}

int catalog_server_set_list(struct catalog *c, const char *name, const char *column, const char *text)
{
	if (strcmp(column, "whitelist") == 0)
		return cat_exec(c, "UPDATE servers SET whitelist=? WHERE name=?", "tt", text, name);
	if (strcmp(column, "blacklist") == 0)
		return cat_exec(c, "UPDATE servers SET blacklist=? WHERE name=?", "tt", text, name);
	return -EINVAL;
}

static int skiplist_replace_locked(struct catalog *c, const char *server, const struct catalog_skip *v, size_t n)
{
	int rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM skiplist WHERE server=?", "t", server);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = cat_exec_locked(c, "INSERT INTO skiplist VALUES(?,?,?,?,?)", "tttii", server, v[i].pair, v[i].reason,
				 (long long)v[i].added, (long long)v[i].until);
	return cat_end_txn(c, rc);
}

int catalog_skiplist_replace(struct catalog *c, const char *server, const struct catalog_skip *v, size_t n)
{
	cat_lock(c);
	int rc = skiplist_replace_locked(c, server, v, n);
	cat_unlock(c);
	return rc;
}

int catalog_counters_save(struct catalog *c, const char *name, const uint64_t v[STAT_COUNTERS])
{
	struct buf sql = BUF_INIT;
	buf_puts(&sql, "UPDATE servers SET ");
	for (int i = 0; i < STAT_COUNTERS; i++)
		buf_printf(&sql, "%s%s=%llu", i ? ", " : "", counter_columns[i], (unsigned long long)v[i]);
	int rc = buf_puts(&sql, " WHERE name=?") < 0 ? -ENOMEM : cat_exec(c, sql.data, "t", name);
	buf_free(&sql);
	return rc;
}

const char *cat_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

/* Runs a query with bound arguments (see prepare) and hands each row to
 * `row`; stops at the first non-zero. */
int cat_each(struct catalog *c, const char *sql, int (*row)(sqlite3_stmt *, void *), void *ctx,
		    const char *types, ...)
{
	va_list ap;
	int rc = 0, step = SQLITE_DONE;
	va_start(ap, types);
	cat_lock(c);
	sqlite3_stmt *st = prepare(c, sql, types, ap);
	if (!st)
		rc = report(c, sql);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = row(st, ctx);
	if (rc == 0 && step != SQLITE_DONE)
		rc = report(c, sql);
	if (st)
		release(c, st);
	cat_unlock(c);
	va_end(ap);
	return rc;
}

struct server_each {
	catalog_server_fn fn;
	void *ctx;
};

static int server_row(sqlite3_stmt *st, void *ctx)
{
	struct server_each *e = ctx;
	struct catalog_server s = {cat_text(st, 0), cat_text(st, 1), (time_t)sqlite3_column_int64(st, 2),
				   cat_text(st, 3),  cat_text(st, 4), cat_text(st, 5), {0}};
	for (int i = 0; i < STAT_COUNTERS; i++)
		s.counters[i] = (uint64_t)sqlite3_column_int64(st, 6 + i);
	return e->fn(&s, e->ctx);
}

int catalog_servers_each(struct catalog *c, catalog_server_fn fn, void *ctx)
{
	struct server_each e = {fn, ctx};
	struct buf sql = BUF_INIT;
	buf_puts(&sql, "SELECT name, origin, created, config, whitelist, blacklist");
	for (int i = 0; i < STAT_COUNTERS; i++)
		buf_printf(&sql, ", %s", counter_columns[i]);
	if (buf_puts(&sql, " FROM servers ORDER BY name") < 0)
		return -ENOMEM;
	int rc = cat_each(c, sql.data, server_row, &e, "");
	buf_free(&sql);
	return rc;
}

/* One upload row per name of `servers` ('\n' between names, NULL: none),
 * each with the key's path as it was asked (NULL: ""). */
static int upload_rows_locked(struct catalog *c, const char *relpath, const char *servers, const char *asked)
{
	char name[FILE_META_UPLOADS_MAX];
	int rc = 0;
	for (const char *p = servers; rc == 0 && p && *p;) {
		size_t len = strcspn(p, "\n");
		if (len >= sizeof name)
			return -ENAMETOOLONG;
		snprintf(name, sizeof name, "%.*s", (int)len, p);
		if (len > 0)
			rc = cat_exec_locked(c, "INSERT OR IGNORE INTO uploads(path, server, asked) VALUES(?,?,?)", "ttt",
					     relpath, name, asked ? asked : "");
		p += len + (p[len] == '\n');
	}
	return rc;
}

/* The pending rows, each with its upload rows. */
static int pending_rows_locked(struct catalog *c, const struct catalog_publish *v, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = cat_exec_locked(c, "INSERT OR REPLACE INTO pending VALUES(?,?,?,?,?,?)", "ttttii", v[i].relpath,
				     v[i].meta->server, v[i].meta->url, v[i].meta->source_format, v[i].meta->size,
				     (long long)v[i].meta->fetched);
		if (rc == 0)
			rc = upload_rows_locked(c, v[i].relpath, v[i].meta->uploads, v[i].meta->asked);
	}
	return rc;
}

/* The file rows and the end of their pending rows. */
static int file_rows_locked(struct catalog *c, const struct catalog_publish *v, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct file_meta *m = v[i].meta;
		rc = cat_exec_locked(c,
				     "INSERT OR REPLACE INTO files(path, server, url, source_format, size, fetched, used)"
				     " VALUES(?,?,?,?,?,?,CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
				     "ttttii", v[i].relpath, m->server, m->url, m->source_format, m->size,
				     (long long)m->fetched);
		if (rc == 0)
			rc = cat_exec_locked(c, "DELETE FROM pending WHERE path=?", "t", v[i].relpath);
		if (rc == 0)
			rc = cat_exec_locked(c, "DELETE FROM negative WHERE path=?", "t", v[i].relpath);
	}
	return rc;
}

int catalog_publish_rows(struct catalog *c, const struct catalog_publish *stored, size_t nstored,
			 const struct catalog_publish *starting, size_t nstarting, int synced)
{
	cat_lock(c);
	/* unsynced, the commit is written to the WAL and left for the caller's
	 * sync of the file system to make durable (NORMAL: no fsync of its own) */
	int rc = synced ? 0 : cat_exec_locked(c, "PRAGMA synchronous=NORMAL", "");
	if (rc == 0)
		rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	if (rc == 0)
		rc = file_rows_locked(c, stored, nstored);
	if (rc == 0)
		rc = pending_rows_locked(c, starting, nstarting);
	rc = cat_end_txn(c, rc);
	if (!synced)
		cat_exec_locked(c, "PRAGMA synchronous=FULL", "");
	cat_unlock(c);
	return rc;
}

int catalog_on_device(const struct catalog *c, dev_t dev)
{
	return c->dev == dev;
}

int catalog_pending_add(struct catalog *c, const char *relpath, const struct file_meta *m)
{
	struct catalog_publish one = {relpath, m};
	return catalog_publish_rows(c, NULL, 0, &one, 1, 1);
}

int catalog_file_commit(struct catalog *c, const char *relpath, const struct file_meta *m)
{
	struct catalog_publish one = {relpath, m};
	return catalog_publish_rows(c, &one, 1, NULL, 0, 1);
}

struct pending_each {
	catalog_pending_fn fn;
	void *ctx;
};

static int pending_row(sqlite3_stmt *st, void *ctx)
{
	struct pending_each *e = ctx;
	struct file_meta m = {cat_text(st, 1), cat_text(st, 2), cat_text(st, 3), sqlite3_column_int64(st, 4),
			      (time_t)sqlite3_column_int64(st, 5), NULL, NULL};
	return e->fn(cat_text(st, 0), &m, e->ctx);
}

int catalog_pending_each(struct catalog *c, catalog_pending_fn fn, void *ctx)
{
	struct pending_each e = {fn, ctx};
	return cat_each(c, "SELECT path, server, url, source_format, size, fetched FROM pending", pending_row, &e, "");
}

int catalog_pending_delete(struct catalog *c, const char *relpath)
{
	return cat_exec(c, "DELETE FROM pending WHERE path=?", "t", relpath);
}

int catalog_publish_forget(struct catalog *c, const char *relpath)
{
	int rc = catalog_begin(c);
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM pending WHERE path=?", "t", relpath);
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM uploads WHERE path=?", "t", relpath);
	return catalog_end(c, rc);
}

struct upload_each {
	catalog_upload_fn fn;
	void *ctx;
};

static int upload_row(sqlite3_stmt *st, void *ctx)
{
	struct upload_each *e = ctx;
	return e->fn(cat_text(st, 0), cat_text(st, 1), cat_text(st, 2), e->ctx);
}

int catalog_uploads_each(struct catalog *c, catalog_upload_fn fn, void *ctx)
{
	struct upload_each e = {fn, ctx};
	return cat_each(c, "SELECT path, server, asked FROM uploads ORDER BY path, server", upload_row, &e, "");
}

int catalog_uploads_delete(struct catalog *c, const struct catalog_upload *v, size_t n)
{
	int rc = catalog_begin(c);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = cat_exec_locked(c, "DELETE FROM uploads WHERE path=? AND server=?", "tt", v[i].relpath, v[i].server);
	return catalog_end(c, rc);
}

struct file_get {
	struct file_info *out;
	int found;
};

static int file_row(sqlite3_stmt *st, void *ctx)
{
	struct file_get *g = ctx;
	snprintf(g->out->server, sizeof g->out->server, "%s", cat_text(st, 0));
	snprintf(g->out->url, sizeof g->out->url, "%s", cat_text(st, 1));
	snprintf(g->out->source_format, sizeof g->out->source_format, "%s", cat_text(st, 2));
	g->out->size = sqlite3_column_int64(st, 3);
	g->out->fetched = (time_t)sqlite3_column_int64(st, 4);
	g->found = 1;
	return 0;
}

int catalog_file_get(struct catalog *c, const char *relpath, struct file_info *out)
{
	struct file_get g = {out, 0};
	/* a file whose publish is durable but not yet recorded has its pending row */
	int rc = cat_each(c,
			  "SELECT server, url, source_format, size, fetched FROM files WHERE path=?1 UNION ALL"
			  " SELECT server, url, source_format, size, fetched FROM pending WHERE path=?1 LIMIT 1",
			  file_row, &g, "t", relpath);
	return rc < 0 ? rc : g.found ? 0 : -ENOENT;
}

static int known_row(sqlite3_stmt *st, void *ctx)
{
	*(int *)ctx = sqlite3_column_int(st, 0) > 0;
	return 0;
}

int catalog_file_known(struct catalog *c, const char *relpath)
{
	int known = 0;
	int rc = cat_each(c,
			  "SELECT (SELECT count(*) FROM files WHERE path=?1) + (SELECT count(*) FROM pending WHERE path=?1)",
			  known_row, &known, "t", relpath);
	return rc < 0 ? rc : known;
}

static int count_row(sqlite3_stmt *st, void *ctx)
{
	long long *out = ctx;
	out[0] = sqlite3_column_int64(st, 0);
	out[1] = sqlite3_column_int64(st, 1);
	return 0;
}

int catalog_file_count(struct catalog *c, long long *count, long long *bytes)
{
	long long v[2] = {0, 0};
	int rc = cat_each(c, "SELECT count(*), coalesce(sum(size), 0) FROM files", count_row, v, "");
	*count = v[0];
	*bytes = v[1];
	return rc;
}

int catalog_files_used(struct catalog *c, const struct catalog_use *v, size_t n)
{
	int rc = catalog_begin(c);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = cat_exec_locked(c, "UPDATE files SET used=? WHERE path=?", "it", v[i].when_ms, v[i].relpath);
	return catalog_end(c, rc);
}

struct least_used {
	catalog_file_size_fn fn;
	void *ctx;
};

static int least_used_row(sqlite3_stmt *st, void *ctx)
{
	struct least_used *l = ctx;
	return l->fn(cat_text(st, 0), sqlite3_column_int64(st, 1), l->ctx);
}

int catalog_files_least_used(struct catalog *c, long long before_ms, size_t limit, catalog_file_size_fn fn,
			     void *ctx)
{
	struct least_used l = {fn, ctx};
	return cat_each(c, "SELECT path, size FROM files WHERE used < ? ORDER BY used LIMIT ?", least_used_row, &l,
			"ii", before_ms, (long long)limit);
}

int catalog_files_forget(struct catalog *c, const char *const *relpaths, size_t n)
{
	int rc = catalog_begin(c);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = cat_exec_locked(c, "DELETE FROM files WHERE path=?", "t", relpaths[i]);
	return catalog_end(c, rc);
}

struct skip_each {
	catalog_skip_fn fn;
	void *ctx;
};

static int skip_row(sqlite3_stmt *st, void *ctx)
{
	struct skip_each *e = ctx;
	struct catalog_skip row = {cat_text(st, 0), cat_text(st, 1), (time_t)sqlite3_column_int64(st, 2),
				   (time_t)sqlite3_column_int64(st, 3)};
	return e->fn(&row, e->ctx);
}

int catalog_skiplist_each(struct catalog *c, const char *server, catalog_skip_fn fn, void *ctx)
{
	struct skip_each e = {fn, ctx};
	return cat_each(c, "SELECT pair, reason, added, until FROM skiplist WHERE server=? ORDER BY pair", skip_row,
			&e, "t", server);
}

int catalog_negative_put(struct catalog *c, const char *relpath, time_t until)
{
	return cat_exec(c, "INSERT OR REPLACE INTO negative VALUES(?,?)", "ti", relpath,
				     (long long)until);
}

struct negative_each {
	catalog_negative_fn fn;
	void *ctx;
};

static int negative_row(sqlite3_stmt *st, void *ctx)
{
	struct negative_each *e = ctx;
	return e->fn(cat_text(st, 0), (time_t)sqlite3_column_int64(st, 1), e->ctx);
}

int catalog_negative_each(struct catalog *c, catalog_negative_fn fn, void *ctx)
{
	struct negative_each e = {fn, ctx};
	catalog_negative_expire(c);
	return cat_each(c, "SELECT path, until FROM negative", negative_row, &e, "");
}

int catalog_negative_expire(struct catalog *c)
{
	return cat_exec(c, "DELETE FROM negative WHERE until <= strftime('%s','now')", "");
}

int catalog_negative_clear(struct catalog *c)
{
	return cat_exec(c, "DELETE FROM negative", "");
}

int catalog_code_id_put(struct catalog *c, const char *debug_id, const char *code_file, const char *code_id,
			int verified)
{
	return cat_exec(c, "INSERT OR REPLACE INTO code_ids(debug_id, code_file, code_id, verified) VALUES(?,?,?,?)",
			"ttti", debug_id, code_file, code_id, (long long)verified);
}

struct code_id_each {
	catalog_code_id_fn fn;
	void *ctx;
};

static int code_id_row(sqlite3_stmt *st, void *ctx)
{
	struct code_id_each *e = ctx;
	return e->fn(cat_text(st, 0), cat_text(st, 1), cat_text(st, 2), sqlite3_column_int(st, 3), e->ctx);
}

int catalog_code_id_get(struct catalog *c, const char *debug_id, catalog_code_id_fn fn, void *ctx)
{
	struct code_id_each e = {fn, ctx};
	return cat_each(c, "SELECT debug_id, code_file, code_id, verified FROM code_ids WHERE debug_id = ?",
			code_id_row, &e, "t", debug_id);
}

int catalog_begin(struct catalog *c)
{
	cat_lock(c);
	int rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	if (rc < 0)
		cat_unlock(c);
	return rc;
}

int catalog_end(struct catalog *c, int rc)
{
	rc = cat_end_txn(c, rc);
	cat_unlock(c);
	return rc;
}

int catalog_log_add(struct catalog *c, const char *server, const char *line)
{
	return cat_exec(c, "INSERT INTO log(server, line) VALUES(?,?)", "tt", server, line);
}

int catalog_log_trim(struct catalog *c, const char *server, int keep)
{
	return cat_exec(c,
			"DELETE FROM log WHERE server=? AND id <= (SELECT id FROM log WHERE server=?"
			" ORDER BY id DESC LIMIT 1 OFFSET ?)",
			"tti", server, server, (long long)keep);
}

struct log_each {
	catalog_log_fn fn;
	void *ctx;
};

static int log_row(sqlite3_stmt *st, void *ctx)
{
	struct log_each *e = ctx;
	return e->fn(cat_text(st, 0), cat_text(st, 1), e->ctx);
}

int catalog_log_each(struct catalog *c, const char *server, int limit, catalog_log_fn fn, void *ctx)
{
	struct log_each e = {fn, ctx};
	if (server)
		return cat_each(c,
				"SELECT server, line FROM (SELECT id, server, line FROM log WHERE server=?"
				" ORDER BY id DESC LIMIT ?) ORDER BY id",
				log_row, &e, "ti", server, (long long)limit);
	return cat_each(c,
			"SELECT server, line FROM (SELECT id, server, line FROM log ORDER BY id DESC LIMIT ?)"
			" ORDER BY id",
			log_row, &e, "i", (long long)limit);
}

struct meta_out {
	char *out;
	size_t outlen;
	int found;
};

static int meta_row(sqlite3_stmt *st, void *ctx)
{
	struct meta_out *m = ctx;
	snprintf(m->out, m->outlen, "%s", cat_text(st, 0));
	m->found = 1;
	return 0;
}

int catalog_meta_get(struct catalog *c, const char *key, char *out, size_t outlen)
{
	struct meta_out m = {out, outlen, 0};
	int rc = cat_each(c, "SELECT value FROM meta WHERE key=?", meta_row, &m, "t", key);
	return rc < 0 ? rc : m.found ? 0 : -ENOENT;
}

int catalog_meta_set(struct catalog *c, const char *key, const char *value)
{
	return cat_exec(c, "INSERT OR REPLACE INTO meta VALUES(?,?)", "tt", key, value);
}
