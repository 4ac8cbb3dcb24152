/* catalog: the SQLite database of everything durable that is not a symbol
 * file — servers (config and lists), their counters, the files in the store
 * with where they came from, fetches in the middle of being published, the
 * uploads of stored files still to be made, and the negative cache. One
 * connection, serialised by a mutex; only worker threads and start-up touch
 * it, never the FUSE loop's hot path. */
#ifndef SYMBOLD_CATALOG_H
#define SYMBOLD_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct catalog;

/* Per-server counters, in the order the catalog stores them. */
enum stat_counter {
	STAT_BYTES,            /* bytes downloaded */
	STAT_OK,               /* downloads that produced a stored file */
	STAT_FAILED,           /* attempts that failed (any stage) */
	STAT_FAIL_DOWNLOAD,    /* ... in transfer: timeouts, 5xx, resets, refusals */
	STAT_FAIL_VERIFY,      /* ... because the content was not the file asked for */
	STAT_FAIL_CONVERSION,  /* ... in decompression or conversion */
	STAT_NOT_FOUND,        /* requests the server answered "not here" (not failures) */
	STAT_UPLOADS_OK,       /* symbols this host sent to it (upload = 1) */
	STAT_UPLOADS_FAILED,   /* ... and gave up sending after retries */
	STAT_COUNTERS
};

struct catalog_server {
	const char *name;
	const char *origin; /* "config", "default" or "control" */
	time_t created;
	const char *config; /* srvconf text, secrets included */
	const char *whitelist, *blacklist;
	uint64_t counters[STAT_COUNTERS];
};

/* What the store knows of a published file. */
struct file_meta {
	const char *server;
	const char *url;
	const char *source_format; /* "pdb", "cab", ... */
	long long size;
	time_t fetched;
	/* The servers the file is to be uploaded to, names separated by '\n'
	 * (NULL or "": none), at most FILE_META_UPLOADS_MAX bytes with the NUL:
	 * their upload rows (below) are written with the pending row. */
	const char *uploads;
	/* The key's path as it was asked ("Xul.pdb/ID/Xul.sym"; NULL or "":
	 * the relpath's): its upload rows keep it, for a tier's names are
	 * case-sensitive where the store's are lower case. */
	const char *asked;
};
#define FILE_META_UPLOADS_MAX 1024

int catalog_open(struct catalog **out, const char *path, char *err, size_t errlen);
/* A second, read-only connection to c's database (catalog_close closes it):
 * in WAL mode its reads wait neither for c's lock nor for a writer, so a
 * thread that must not wait behind a commit may still look things up. 0,
 * -ENOMEM or -EIO. */
int catalog_open_reader(struct catalog **out, const struct catalog *c);
void catalog_close(struct catalog *c);

/* Servers. upsert of an existing row changes only its origin and config:
 * `created`, lists and counters stay. */
int catalog_server_upsert(struct catalog *c, const struct catalog_server *s);
int catalog_server_delete(struct catalog *c, const char *name);
int catalog_server_set_config(struct catalog *c, const char *name, const char *config);
/* column: "whitelist" or "blacklist" */
int catalog_server_set_list(struct catalog *c, const char *name, const char *column, const char *text);
typedef int (*catalog_server_fn)(const struct catalog_server *s, void *ctx);
int catalog_servers_each(struct catalog *c, catalog_server_fn fn, void *ctx);
int catalog_counters_save(struct catalog *c, const char *name, const uint64_t counters[STAT_COUNTERS]);

/* A server's skiplist, replaced whole. */
struct catalog_skip {
	const char *pair, *reason;
	time_t added, until;
};
int catalog_skiplist_replace(struct catalog *c, const char *server, const struct catalog_skip *v, size_t n);
typedef int (*catalog_skip_fn)(const struct catalog_skip *e, void *ctx);
int catalog_skiplist_each(struct catalog *c, const char *server, catalog_skip_fn fn, void *ctx);

/* Files. A publish is: pending_add (before the rename) then file_commit
 * (after the file is durable), so a crash in between is finished at start.
 * The pending row's transaction also writes the file's upload rows (its
 * meta's `uploads`): durable before the rename, they survive a crash at any
 * moment after it; file_commit leaves them. */
int catalog_pending_add(struct catalog *c, const char *relpath, const struct file_meta *m);
int catalog_file_commit(struct catalog *c, const char *relpath, const struct file_meta *m);
/* Both for groups of files in one transaction (the store's group commit):
 * the file rows of `stored` (durable in their places) and the pending rows
 * of `starting` (about to be renamed into theirs). Not `synced`, the commit
 * is not made durable here: the caller syncs the file system the catalog
 * lives on (catalog_on_device) before it relies on it. */
struct catalog_publish {
	const char *relpath;
	const struct file_meta *meta;
};
int catalog_publish_rows(struct catalog *c, const struct catalog_publish *stored, size_t nstored,
			 const struct catalog_publish *starting, size_t nstarting, int synced);
/* 1 if the database lives on the file system of device `dev`. */
int catalog_on_device(const struct catalog *c, dev_t dev);
typedef int (*catalog_pending_fn)(const char *relpath, const struct file_meta *m, void *ctx);
int catalog_pending_each(struct catalog *c, catalog_pending_fn fn, void *ctx);
/* The pending row alone (the file is someone else's: its upload rows stay
 * for the upload the fetcher still makes). */
int catalog_pending_delete(struct catalog *c, const char *relpath);
/* A publish given up — the file never reached its place: its pending row
 * and its upload rows, in one transaction. */
int catalog_publish_forget(struct catalog *c, const char *relpath);

/* Uploads still to be made (fetch/upload): one row per stored file and
 * server, written with the file's pending row (and the key's path as it
 * was asked, "" if the relpath is it); deleted once the upload settles
 * (made, given up, or its server gone), in batches. */
struct catalog_upload {
	const char *relpath, *server;
};
typedef int (*catalog_upload_fn)(const char *relpath, const char *server, const char *asked, void *ctx);
int catalog_uploads_each(struct catalog *c, catalog_upload_fn fn, void *ctx);
int catalog_uploads_delete(struct catalog *c, const struct catalog_upload *v, size_t n);
/* Where a stored file came from (or one being published): fills the
 * caller's buffers; -ENOENT if the catalog has no row for it (a file another
 * tool dropped in). */
struct file_info {
	char server[64], url[1300], source_format[16];
	long long size;
	time_t fetched;
};
int catalog_file_get(struct catalog *c, const char *relpath, struct file_info *out);
/* 1 if the catalog has the file, or a publish of it in progress; 0 if not. */
int catalog_file_known(struct catalog *c, const char *relpath);

/* How many files the catalog records, and their total size. */
int catalog_file_count(struct catalog *c, long long *count, long long *bytes);

/* The store's budget: when files were last used (milliseconds since 1970,
 * in one transaction), the least recently used (used before `before_ms`,
 * oldest first, at most `limit`), and files that left the store (one
 * transaction). */
struct catalog_use {
	const char *relpath;
	long long when_ms;
};
int catalog_files_used(struct catalog *c, const struct catalog_use *v, size_t n);
typedef int (*catalog_file_size_fn)(const char *relpath, long long size, void *ctx);
int catalog_files_least_used(struct catalog *c, long long before_ms, size_t limit, catalog_file_size_fn fn,
			     void *ctx);
int catalog_files_forget(struct catalog *c, const char *const *relpaths, size_t n);

/* The negative cache: keys every server lacked, until when (wall clock). */
int catalog_negative_put(struct catalog *c, const char *relpath, time_t until);
typedef int (*catalog_negative_fn)(const char *relpath, time_t until, void *ctx);
int catalog_negative_each(struct catalog *c, catalog_negative_fn fn, void *ctx);
/* Deletes the rows whose time has passed. */
int catalog_negative_expire(struct catalog *c);
/* Deletes every row (what the servers lacked may be had now). */
int catalog_negative_clear(struct catalog *c);

/* The code file and code id of the module with a debug id (an ELF's full
 * build-id; the PE a PDB was built with), as fetch/codeids learns them;
 * `verified`: learned from a stored file, not from what a record says. */
int catalog_code_id_put(struct catalog *c, const char *debug_id, const char *code_file, const char *code_id,
			int verified);
typedef int (*catalog_code_id_fn)(const char *debug_id, const char *code_file, const char *code_id, int verified,
				  void *ctx);
/* fn for the row of debug_id, if there is one; 0 or -errno. */
int catalog_code_id_get(struct catalog *c, const char *debug_id, catalog_code_id_fn fn, void *ctx);

/* A batch of changes as one transaction: begin takes the catalog for this
 * thread until end, which commits (rc 0) or rolls back. */
int catalog_begin(struct catalog *c);
int catalog_end(struct catalog *c, int rc);

/* Logs kept across restarts: one row per line, server "" for the daemon's
 * own lines. trim keeps a server's newest `keep`; each hands out the newest
 * `limit` lines (of one server, or of all with server NULL), oldest first. */
int catalog_log_add(struct catalog *c, const char *server, const char *line);
int catalog_log_trim(struct catalog *c, const char *server, int keep);
typedef int (*catalog_log_fn)(const char *server, const char *line, void *ctx);
int catalog_log_each(struct catalog *c, const char *server, int limit, catalog_log_fn fn, void *ctx);

/* Small named values (e.g. "defaults_seeded"). get returns -ENOENT if unset. */
int catalog_meta_get(struct catalog *c, const char *key, char *out, size_t outlen);
int catalog_meta_set(struct catalog *c, const char *key, const char *value);

#endif
