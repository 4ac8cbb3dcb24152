#include "admin/missing_db.h"

#include <errno.h>
#include <stdio.h>

#include "admin/catalog_sql.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS missing(object TEXT NOT NULL, pair TEXT NOT NULL, debug_file TEXT NOT NULL,"
	"  debug_id TEXT NOT NULL, code_file TEXT NOT NULL DEFAULT '', code_id TEXT NOT NULL DEFAULT '',"
	"  since INTEGER NOT NULL, PRIMARY KEY(object, pair));"
	"CREATE INDEX IF NOT EXISTS missing_by_pair ON missing(pair);"
	"CREATE TABLE IF NOT EXISTS triggers(object TEXT NOT NULL, pair TEXT NOT NULL, due INTEGER NOT NULL,"
	"  PRIMARY KEY(object, pair));"
	"CREATE TABLE IF NOT EXISTS reprocess(seq INTEGER PRIMARY KEY AUTOINCREMENT, object TEXT NOT NULL,"
	"  pairs TEXT NOT NULL, fired INTEGER NOT NULL, spooled INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS commands(seq INTEGER PRIMARY KEY, object TEXT NOT NULL, pairs TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL);";

int mdb_init(struct catalog *c)
{
	cat_lock(c);
	int rc = sqlite3_exec(c->db, schema, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
	cat_unlock(c);
	return rc;
}

int mdb_add(struct catalog *c, const struct missing_row *rows, size_t n)
{
	cat_lock(c);
	int rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = cat_exec_locked(c, "INSERT OR IGNORE INTO missing VALUES(?,?,?,?,?,?,?)", "tttttti", rows[i].object,
				     rows[i].pair, rows[i].debug_file, rows[i].debug_id, rows[i].code_file,
				     rows[i].code_id, (long long)rows[i].since);
	rc = cat_end_txn(c, rc);
	cat_unlock(c);
	return rc;
}

int mdb_arrive(struct catalog *c, const char *const *pairs, size_t n, time_t due, long *objects)
{
	cat_lock(c);
	int rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = cat_exec_locked(c,
					     "INSERT OR IGNORE INTO triggers SELECT object, pair, ? FROM missing"
					     " WHERE pair=? AND object != ''",
					     "it", (long long)due, pairs[i]);
		objects[i] = rc == 0 ? (long)sqlite3_changes(c->db) : 0;
		if (rc == 0)
			rc = cat_exec_locked(c, "DELETE FROM missing WHERE pair=?", "t", pairs[i]);
	}
	rc = cat_end_txn(c, rc);
	cat_unlock(c);
	return rc;
}

struct due_each {
	mdb_due_fn fn;
	void *ctx;
};

static int due_row(sqlite3_stmt *st, void *ctx)
{
	struct due_each *e = ctx;
	return e->fn(cat_text(st, 0), cat_text(st, 1), e->ctx);
}

int mdb_due(struct catalog *c, time_t now, mdb_due_fn fn, void *ctx)
{
	struct due_each e = {fn, ctx};
	return cat_each(c,
			"SELECT object, group_concat(pair, ',') FROM (SELECT * FROM triggers ORDER BY pair)"
			" GROUP BY object HAVING min(due) <= ?",
			due_row, &e, "i", (long long)now);
}

static int int64_row(sqlite3_stmt *st, void *ctx)
{
	long long *v = ctx;
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		return -ENOENT;
	*v = sqlite3_column_int64(st, 0);
	return 0;
}

/* One integer a query answers; -ENOENT for NULL. */
static int one_int(struct catalog *c, const char *sql, long long *v)
{
	return cat_each(c, sql, int64_row, v, "");
}

int mdb_next_due(struct catalog *c, time_t *when)
{
	long long v = 0;
	int rc = one_int(c, "SELECT min(due) FROM triggers", &v);
	*when = (time_t)v;
	return rc;
}

int mdb_fire(struct catalog *c, const char *object, const char *pairs, time_t now, int with_command,
	     long long *seq)
{
	cat_lock(c);
	int rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	if (rc == 0)
		rc = cat_exec_locked(c, "INSERT INTO reprocess(object, pairs, fired) VALUES(?,?,?)", "tti", object,
				     pairs, (long long)now);
	*seq = rc == 0 ? (long long)sqlite3_last_insert_rowid(c->db) : 0;
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM triggers WHERE object=?", "t", object);
	if (rc == 0 && with_command)
		rc = cat_exec_locked(c, "INSERT INTO commands(seq, object, pairs, next_try) VALUES(?,?,?,?)", "itti",
				     *seq, object, pairs, (long long)now);
	rc = cat_end_txn(c, rc);
	cat_unlock(c);
	return rc;
}

struct reprocess_each {
	mdb_reprocess_fn fn;
	void *ctx;
};

static int reprocess_row(sqlite3_stmt *st, void *ctx)
{
	struct reprocess_each *e = ctx;
	return e->fn(sqlite3_column_int64(st, 0), cat_text(st, 1), cat_text(st, 2), (time_t)sqlite3_column_int64(st, 3),
		     sqlite3_column_int(st, 4), e->ctx);
}

int mdb_reprocess_each(struct catalog *c, mdb_reprocess_fn fn, void *ctx)
{
	struct reprocess_each e = {fn, ctx};
	return cat_each(c, "SELECT seq, object, pairs, fired, spooled FROM reprocess ORDER BY seq", reprocess_row, &e,
			"");
}

int mdb_reprocess_spooled(struct catalog *c, long long seq)
{
	return cat_exec(c, "UPDATE reprocess SET spooled=1 WHERE seq=?", "i", seq);
}

int mdb_reprocess_delete(struct catalog *c, long long seq)
{
	return cat_exec(c, "DELETE FROM reprocess WHERE seq=?", "i", seq);
}

int mdb_reprocess_delete_object(struct catalog *c, const char *object)
{
	return cat_exec(c, "DELETE FROM reprocess WHERE object=?", "t", object);
}

int mdb_max_seq(struct catalog *c, long long *seq)
{
	*seq = 0;
	int rc = one_int(c, "SELECT max(seq) FROM reprocess", seq);
	return rc == -ENOENT ? 0 : rc;
}

struct command_each {
	mdb_command_fn fn;
	void *ctx;
};

static int command_row(sqlite3_stmt *st, void *ctx)
{
	struct command_each *e = ctx;
	return e->fn(sqlite3_column_int64(st, 0), cat_text(st, 1), cat_text(st, 2), sqlite3_column_int(st, 3), e->ctx);
}

int mdb_commands_due(struct catalog *c, time_t now, mdb_command_fn fn, void *ctx)
{
	struct command_each e = {fn, ctx};
	return cat_each(c, "SELECT seq, object, pairs, attempts FROM commands WHERE next_try <= ? ORDER BY seq",
			command_row, &e, "i", (long long)now);
}

int mdb_command_done(struct catalog *c, long long seq)
{
	return cat_exec(c, "DELETE FROM commands WHERE seq=?", "i", seq);
}

int mdb_command_retry(struct catalog *c, long long seq, int attempts, time_t next_try)
{
	return cat_exec(c, "UPDATE commands SET attempts=?, next_try=? WHERE seq=?", "iii", (long long)attempts,
			(long long)next_try, seq);
}

/* next_try of a running command: never due */
#define COMMAND_RUNNING (1LL << 62)

int mdb_command_running(struct catalog *c, long long seq)
{
	return cat_exec(c, "UPDATE commands SET next_try=? WHERE seq=?", "ii", COMMAND_RUNNING, seq);
}

int mdb_commands_interrupted(struct catalog *c)
{
	return cat_exec(c, "UPDATE commands SET next_try=0 WHERE next_try=?", "i", COMMAND_RUNNING);
}

int mdb_command_next(struct catalog *c, time_t *when)
{
	long long v = 0;
	int rc = one_int(c, "SELECT min(next_try) FROM commands", &v);
	*when = (time_t)v;
	return rc;
}

struct summary_each {
	mdb_summary_fn fn;
	void *ctx;
};

static int summary_row(sqlite3_stmt *st, void *ctx)
{
	struct summary_each *e = ctx;
	return e->fn(cat_text(st, 0), sqlite3_column_int64(st, 1), (time_t)sqlite3_column_int64(st, 2), cat_text(st, 3),
		     cat_text(st, 4), e->ctx);
}

int mdb_summary(struct catalog *c, mdb_summary_fn fn, void *ctx)
{
	struct summary_each e = {fn, ctx};
	return cat_each(c,
			"SELECT pair, sum(object != ''), min(since), max(code_file), max(code_id) FROM missing"
			" GROUP BY pair ORDER BY min(since), pair",
			summary_row, &e, "");
}

struct key_each {
	mdb_key_fn fn;
	void *ctx;
};

static int key_row(sqlite3_stmt *st, void *ctx)
{
	struct key_each *e = ctx;
	return e->fn(cat_text(st, 0), cat_text(st, 1), e->ctx);
}

int mdb_waited_keys(struct catalog *c, mdb_key_fn fn, void *ctx)
{
	struct key_each e = {fn, ctx};
	return cat_each(c, "SELECT min(debug_file), min(debug_id) FROM missing WHERE object != '' GROUP BY pair", key_row,
			&e, "");
}

static int counts_row(sqlite3_stmt *st, void *ctx)
{
	long long *v = ctx;
	for (int i = 0; i < 3; i++)
		v[i] = sqlite3_column_int64(st, i);
	return 0;
}

int mdb_counts(struct catalog *c, long long *objects, long long *keys, long long *pending)
{
	long long v[3] = {0, 0, 0};
	int rc = cat_each(c,
			  "SELECT (SELECT count(DISTINCT object) FROM missing WHERE object != ''),"
			  " (SELECT count(DISTINCT pair) FROM missing), (SELECT count(*) FROM reprocess)",
			  counts_row, v, "");
	*objects = v[0];
	*keys = v[1];
	*pending = v[2];
	return rc;
}

int mdb_expire(struct catalog *c, time_t before, long keep)
{
	cat_lock(c);
	int rc = cat_exec_locked(c, "BEGIN IMMEDIATE", "");
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM missing WHERE since < ?", "i", (long long)before);
	if (rc == 0)
		rc = cat_exec_locked(c,
				     /* failed opens (no object) go before crash reports */
				     "DELETE FROM missing WHERE rowid IN (SELECT rowid FROM missing"
				     " ORDER BY object != '' DESC, since DESC LIMIT -1 OFFSET ?)",
				     "i", (long long)keep);
	if (rc == 0)
		rc = cat_exec_locked(c, "DELETE FROM reprocess WHERE fired < ?", "i", (long long)before);
	if (rc == 0)
		rc = cat_exec_locked(c,
				     "DELETE FROM reprocess WHERE seq IN (SELECT seq FROM reprocess"
				     " ORDER BY seq DESC LIMIT -1 OFFSET ?)",
				     "i", (long long)keep);
	rc = cat_end_txn(c, rc);
	cat_unlock(c);
	return rc;
}
