/* The catalog's upload rows (fetch/upload's durable queue): written with a
 * file's pending row in one transaction — by catalog_pending_add and by the
 * store's group commit —, kept when the store's recovery finishes the
 * publish and deleted when it forgets it, kept with a file that was already
 * in its place, listed, and deleted in batches. */
#include "admin/catalog.h"
#include "admin/store.h"
#include "common/log.h"

#include "tests/unit/files.h"
#include "tests/unit/stores.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DONE "ntdll.pdb/1234567890ABCDEF1234567890ABCDEF1/ntdll.pdb"
#define LOST "lost.pdb/1234567890ABCDEF1234567890ABCDEF1/lost.pdb"


static struct file_meta meta_to(const char *uploads)
{
	return (struct file_meta){"origin", "http://127.0.0.1/x", "pdb", 5, 1700000000, uploads, NULL};
}

/* The rows, "path server" each (" asked" after when it is not ""), '\n'
 * after each, into `out`. */
struct rows {
	char text[4096];
	int n;
};

static int note_row(const char *relpath, const char *server, const char *asked, void *ctx)
{
	struct rows *r = ctx;
	size_t used = strlen(r->text);
	snprintf(r->text + used, sizeof r->text - used, "%s %s%s%s\n", relpath, server, *asked ? " " : "", asked);
	r->n++;
	return 0;
}

static struct rows rows_of(struct catalog *c)
{
	struct rows r = {"", 0};
	if (catalog_uploads_each(c, note_row, &r) < 0)
		r.n = -1;
	return r;
}

static int note_pending(const char *relpath, const struct file_meta *m, void *ctx)
{
	(void)relpath;
	(void)m;
	(*(int *)ctx)++;
	return 0;
}

static int pending_count(struct catalog *c)
{
	int n = 0;
	return catalog_pending_each(c, note_pending, &n) < 0 ? -1 : n;
}

static void put_file(const char *relpath, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", root, relpath);
	for (char *slash = strchr(p + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	write_text(p, text);
}

/* ---- the catalog alone ---- */

static void test_pending_add(void)
{
	struct catalog *c = open_catalog();
	if (!c)
		return;
	struct file_meta m = meta_to("tier\nbucket");
	is_int(catalog_pending_add(c, "a.pdb/ID/a.pdb", &m), 0, "pending_add with two upload servers");
	struct rows r = rows_of(c);
	is_int(r.n, 2, "two upload rows");
	is_str(r.text, "a.pdb/ID/a.pdb bucket\na.pdb/ID/a.pdb tier\n", "one per server, named");
	is_int(pending_count(c), 1, "and the pending row");

	m = meta_to(NULL);
	is_int(catalog_pending_add(c, "b.pdb/ID/b.pdb", &m), 0, "pending_add with no upload list");
	m = meta_to("");
	is_int(catalog_pending_add(c, "c.pdb/ID/c.pdb", &m), 0, "pending_add with an empty one");
	m = meta_to("tier\n\ntier\n");
	is_int(catalog_pending_add(c, "d.pdb/ID/d.pdb", &m), 0, "pending_add naming a server twice, empty lines");
	r = rows_of(c);
	is_int(r.n, 3, "no rows for none, one for a name given twice");

	/* the same transaction: a list the catalog refuses leaves no pending row either */
	char long_list[FILE_META_UPLOADS_MAX + 8];
	memset(long_list, 'x', sizeof long_list - 1);
	long_list[sizeof long_list - 1] = '\0';
	m = meta_to(long_list);
	int before = pending_count(c);
	ok(catalog_pending_add(c, "e.pdb/ID/e.pdb", &m) < 0, "a name too long fails the pending row");
	is_int(pending_count(c), before, "no pending row written");
	is_int(rows_of(c).n, 3, "no upload row written");

	struct file_meta done = meta_to(NULL);
	is_int(catalog_file_commit(c, "a.pdb/ID/a.pdb", &done), 0, "file_commit after the rename");
	is_int(rows_of(c).n, 3, "the file row leaves the upload rows");

	is_int(catalog_publish_forget(c, "d.pdb/ID/d.pdb"), 0, "publish_forget");
	r = rows_of(c);
	ok(r.n == 2 && !strstr(r.text, "d.pdb"), "the forgotten publish's upload rows are gone");

	struct catalog_upload gone[] = {{"a.pdb/ID/a.pdb", "tier"}, {"a.pdb/ID/a.pdb", "nowhere"}};
	is_int(catalog_uploads_delete(c, gone, 2), 0, "uploads_delete of a batch (one row not there)");
	r = rows_of(c);
	is_str(r.text, "a.pdb/ID/a.pdb bucket\n", "only the other server's row is left");
	is_int(catalog_uploads_delete(c, NULL, 0), 0, "an empty batch");

	/* the key's path as it was asked goes with each of its rows */
	m = meta_to("tier");
	m.asked = "NtDll.pdb/ID/NtDll.pdb";
	is_int(catalog_pending_add(c, "ntdll.pdb/ID/ntdll.pdb", &m), 0, "pending_add with the key as asked");
	r = rows_of(c);
	is_str(r.text, "a.pdb/ID/a.pdb bucket\nntdll.pdb/ID/ntdll.pdb tier NtDll.pdb/ID/NtDll.pdb\n",
	       "its row keeps the spelling asked");
	catalog_close(c);
}

/* A batch larger than any the uploader deletes at once. */
static void test_batch_delete(void)
{
	struct catalog *c = open_catalog();
	if (!c)
		return;
	enum { N = 300 };
	static char paths[N][64];
	struct catalog_upload v[N];
	struct file_meta m = meta_to("tier");
	int added = 0;
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof paths[i], "many.pdb/%032X1/many.pdb", i);
		added += catalog_pending_add(c, paths[i], &m) == 0;
		v[i] = (struct catalog_upload){paths[i], "tier"};
	}
	is_int(added, N, "%d publishes with an upload row each", N);
	int before = rows_of(c).n;
	is_int(catalog_uploads_delete(c, v, N - 1), 0, "all but one deleted in one call");
	is_int(rows_of(c).n, before - (N - 1), "one left");
	catalog_close(c);
}

/* ---- with the store ---- */

/* The group commit writes each file's upload rows with its pending row; a
 * file that never reaches its place takes its rows away; a file already
 * in its place (-EEXIST, which the fetcher answers as stored and uploads)
 * keeps them. */
static void test_group_commit(void)
{
	struct catalog *c;
	struct store *s = open_both(&c);
	char tmp[PATH_MAX];
	if (!s)
		return;
	memset(&answers, 0, sizeof answers);
	struct file_meta m = meta_to("tier\nbucket"), none = meta_to(NULL);
	const char *rel[] = {"g0.pdb/11111111111111111111111111111111A/g0.pdb",
			     "g1.pdb/11111111111111111111111111111111A/g1.pdb",
			     "bad/path", "g3.pdb/11111111111111111111111111111111A/g3.pdb"};
	for (int i = 0; i < 4; i++) {
		temp_with(s, tmp, "file");
		store_commit_async(s, tmp, rel[i], i == 3 ? &none : &m, answered, (void *)(intptr_t)i);
	}
	store_commit_drain(s);
	ok(answers.rc[0] == 0 && answers.rc[1] == 0 && answers.rc[3] == 0, "three files stored");
	is_int(answers.rc[2], -EINVAL, "one refused");
	struct rows r = rows_of(c);
	is_int(r.n, 4, "two upload rows for each file that named servers");
	ok(!strstr(r.text, "bad/path"), "none for the refused file");
	is_int(pending_count(c), 0, "nothing pending");

	/* a file already in its place: the publish's rows stay with it */
	temp_with(s, tmp, "again");
	struct file_meta other = meta_to("mirror");
	is_int(store_commit(s, tmp, rel[3], &other), -EEXIST, "a commit where a file is: -EEXIST");
	r = rows_of(c);
	ok(strstr(r.text, "g3.pdb/11111111111111111111111111111111A/g3.pdb mirror\n") != NULL,
	   "its upload row stays (the fetcher uploads what is there)");
	is_int(pending_count(c), 0, "its pending row is gone");

	/* a list the store cannot carry whole is refused, not cut */
	char long_list[FILE_META_UPLOADS_MAX + 8];
	memset(long_list, 'y', sizeof long_list - 1);
	long_list[sizeof long_list - 1] = '\0';
	struct file_meta too_long = meta_to(long_list);
	temp_with(s, tmp, "long");
	is_int(store_commit(s, tmp, "long.pdb/11111111111111111111111111111111A/long.pdb", &too_long), -ENAMETOOLONG,
	       "an upload list longer than FILE_META_UPLOADS_MAX: -ENAMETOOLONG");
	ok(access(tmp, F_OK) < 0, "its temp file is gone");

	struct catalog_upload done[] = {{rel[0], "tier"},   {rel[0], "bucket"}, {rel[1], "tier"},
					{rel[1], "bucket"}, {rel[3], "mirror"}};
	is_int(catalog_uploads_delete(c, done, 5), 0, "the settled uploads' rows deleted in one batch");
	is_int(rows_of(c).n, 0, "none left");
	store_close(s);
	catalog_close(c);
}

/* After a crash: a publish whose rename happened is finished and keeps its
 * upload rows; one whose rename did not is forgotten with them. */
static void test_recovery(void)
{
	struct catalog *c = open_catalog();
	if (!c)
		return;
	struct file_meta m = meta_to("tier");
	is_int(catalog_pending_add(c, DONE, &m), 0, "a pending row with an upload row, the file renamed");
	put_file(DONE, "complete");
	is_int(catalog_pending_add(c, LOST, &m), 0, "another, the file never renamed");
	is_int(rows_of(c).n, 2, "two upload rows before the crash");
	catalog_close(c);

	c = open_catalog();
	struct store *s = c ? open_store(c) : NULL;
	if (s) {
		struct rows r = rows_of(c);
		is_str(r.text, DONE " tier\n", "the finished publish keeps its upload row, the forgotten one's is gone");
		is_int(pending_count(c), 0, "nothing pending");
		store_close(s);
	}
	catalog_close(c);
}

/* A catalog made before the rows kept the key's spelling: opened, its
 * rows read with none ("") and new rows written with it. */
static void test_older_catalog(void)
{
	sqlite3 *db = NULL;
	int made = sqlite3_open(dbpath, &db) == SQLITE_OK &&
		   sqlite3_exec(db,
				"CREATE TABLE uploads(path TEXT NOT NULL, server TEXT NOT NULL, PRIMARY KEY(path, server));"
				"INSERT INTO uploads VALUES('old.pdb/ID/old.pdb', 'tier');",
				NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_close(db);
	if (!ok(made, "an older catalog's uploads table"))
		return;
	struct catalog *c = open_catalog();
	if (!c)
		return;
	struct file_meta m = meta_to("tier");
	m.asked = "New.pdb/ID/New.pdb";
	is_int(catalog_pending_add(c, "new.pdb/ID/new.pdb", &m), 0, "a row with the spelling asked, added to it");
	is_str(rows_of(c).text, "new.pdb/ID/new.pdb tier New.pdb/ID/New.pdb\nold.pdb/ID/old.pdb tier\n",
	       "the older row reads as asked in the store's spelling");
	catalog_close(c);
}

int main(void)
{
	if (stores_begin("uprows") < 0)
		return 1;
	test_pending_add();
	test_batch_delete();
	snprintf(dbpath, sizeof dbpath, "%s/catalog2.db", tmpdir);
	test_group_commit();
	snprintf(dbpath, sizeof dbpath, "%s/catalog3.db", tmpdir);
	test_recovery();
	snprintf(dbpath, sizeof dbpath, "%s/catalog4.db", tmpdir);
	test_older_catalog();
	remove_tree(tmpdir);
	log_shutdown();
	return tap_done();
}
