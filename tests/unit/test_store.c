/* store and catalog: a publish (temp file -> commit) lands at its relpath
 * and in the catalog; store_open cleans up after a crash (temp files, pending
 * rows with and without their file); listing skips internal names; errors
 * are negative errno. Then the catalog on its own: meta values, the negative
 * cache, server rows and their counters. */
#include "admin/catalog.h"
#include "admin/store.h"
#include "common/log.h"

#include "tests/unit/files.h"
#include "tests/unit/logged.h"
#include "tests/unit/stores.h"
#include "tests/unit/tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REL "xul.pdb/3844DBB920174967BE7AA4A2C20430FA2/xul.pdb"


/* ---- helpers ------------------------------------------------------------------- */

/* The file's text into out; its length, or -errno. */
static int read_into(const char *path, char *out, size_t outlen)
{
	size_t len;
	char *data = read_file(path, &len);
	if (!data)
		return -errno;
	snprintf(out, outlen, "%s", data);
	free(data);
	return (int)len;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

struct pending_seen {
	int n;
	char path[256];
	char server[64], url[256], format[16];
	long long size;
	time_t fetched;
};

static int note_pending(const char *relpath, const struct file_meta *m, void *ctx)
{
	struct pending_seen *p = ctx;
	p->n++;
	snprintf(p->path, sizeof p->path, "%s", relpath);
	snprintf(p->server, sizeof p->server, "%s", m->server);
	snprintf(p->url, sizeof p->url, "%s", m->url);
	snprintf(p->format, sizeof p->format, "%s", m->source_format);
	p->size = m->size;
	p->fetched = m->fetched;
	return 0;
}

static int pending_count(struct catalog *c)
{
	struct pending_seen p = {0};
	return catalog_pending_each(c, note_pending, &p) < 0 ? -1 : p.n;
}

static long long file_count(struct catalog *c, long long *bytes)
{
	long long n = -1, b = -1;
	if (catalog_file_count(c, &n, &b) < 0)
		return -1;
	if (bytes)
		*bytes = b;
	return n;
}

static const struct file_meta META = {"microsoft", "https://msdl.microsoft.com/download/symbols/" REL, "cab", 5,
				      1700000000, NULL, NULL};

/* ---- store -------------------------------------------------------------------- */

static void test_commit(void)
{
	struct catalog *c;
	struct store *s = open_both(&c);
	char path[PATH_MAX], buf[64], tmp[PATH_MAX];
	if (!s)
		return;
	snprintf(tmp, sizeof tmp, "%s/%s", root, STORE_TMPDIR);
	struct stat st;
	ok(stat(tmp, &st) == 0 && S_ISDIR(st.st_mode), "store_open made the temp directory");

	int fd = store_tmp_create(s, path);
	ok(fd >= 0, "store_tmp_create gives an fd (%d)", fd);
	ok(strncmp(path, tmp, strlen(tmp)) == 0 && path[strlen(tmp)] == '/', "the temp file is in %s (%s)", tmp,
	   path);
	int fd2 = store_tmp_create(s, tmp);
	ok(fd2 >= 0 && strcmp(tmp, path) != 0, "a second temp file has another name");
	if (fd2 >= 0) {
		close(fd2);
		unlink(tmp);
	}
	is_int(write(fd, "hello", 5), 5, "write the temp file");
	close(fd);

	is_int(store_commit(s, path, REL, &META), 0, "store_commit");
	char full[PATH_MAX];
	snprintf(full, sizeof full, "%s/%s", root, REL);
	is_int(read_into(full, buf, sizeof buf), 5, "the file is at its relpath");
	is_str(buf, "hello", "with its content");
	ok(access(path, F_OK) < 0 && errno == ENOENT, "the temp file is gone");
	snprintf(tmp, sizeof tmp, "%s/%s", root, STORE_TMPDIR);
	is_int(count_entries(tmp), 0, "the temp directory is empty");
	long long bytes;
	is_int(file_count(c, &bytes), 1, "the catalog has one file");
	is_int(bytes, 5, "of 5 bytes");
	is_int(pending_count(c), 0, "nothing pending");
	long long files = -1;
	store_usage(s, &files, &bytes);
	ok(files == 1 && bytes == 5, "store_usage agrees");

	is_int(store_stat(s, REL, &st), 0, "store_stat on the file");
	ok(S_ISREG(st.st_mode) && st.st_size == 5, "a regular file of 5 bytes");
	is_int(store_stat(s, "xul.pdb", &st), 0, "store_stat on its directory");
	ok(S_ISDIR(st.st_mode), "a directory");
	fd = store_open_file(s, REL);
	ok(fd >= 0, "store_open_file");
	if (fd >= 0) {
		ok(read(fd, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "reads the content");
		close(fd);
	}

	/* a second commit of the same key never replaces it */
	fd = store_tmp_create(s, path);
	is_int(write(fd, "hello again", 11), 11, "write a second temp file");
	close(fd);
	is_int(store_commit(s, path, REL, &META), -EEXIST, "a commit where a file is: -EEXIST");
	is_int(read_into(full, buf, sizeof buf), 5, "the stored file is as it was");
	ok(access(path, F_OK) < 0 && errno == ENOENT, "the second temp file is gone");
	is_int(file_count(c, &bytes), 1, "still one file in the catalog");

	/* a bad relpath fails and cleans up */
	fd = store_tmp_create(s, path);
	close(fd);
	is_int(store_commit(s, path, "no-slash", &META), -EINVAL, "a relpath that is not a/b/c");
	ok(access(path, F_OK) < 0, "the temp file is gone after a failed commit");
	is_int(pending_count(c), 0, "no pending row left after a failed commit");
	fd = store_tmp_create(s, path);
	close(fd);
	is_int(store_commit(s, path, "xul.pdb/ID", &META), -EINVAL, "a relpath with two components");
	ok(access(path, F_OK) < 0, "temp file gone");
	is_int(store_commit(s, path, "a/b/c", &META), -ENOENT, "a temp file that does not exist");
	const char *climbs[] = {"../ID/x.pdb", "x.pdb/../x.pdb", "x.pdb/./x.pdb", "x.pdb//x.pdb", "a/b/c/d"};
	for (size_t i = 0; i < sizeof climbs / sizeof climbs[0]; i++) {
		fd = store_tmp_create(s, path);
		close(fd);
		is_int(store_commit(s, path, climbs[i], &META), -EINVAL, "a relpath %s: -EINVAL", climbs[i]);
	}
	is_int(file_count(c, NULL), 1, "the catalog still has one file");

	struct statvfs sv;
	is_int(store_statfs(s, &sv), 0, "store_statfs");

	store_close(s);
	catalog_close(c);
}

struct listing {
	int n, dirs;
	char names[8][64];
};

static int note_entry(const char *name, int is_dir, void *ctx)
{
	struct listing *l = ctx;
	if (l->n < 8)
		snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
	l->n++;
	l->dirs += is_dir;
	return 0;
}

static int stop_at_first(const char *name, int is_dir, void *ctx)
{
	(void)name, (void)is_dir;
	++*(int *)ctx;
	return 42;
}

static void test_list_and_errors(void)
{
	struct catalog *c;
	struct store *s = open_both(&c);
	char p[PATH_MAX];
	if (!s)
		return;
	snprintf(p, sizeof p, "%s/.hidden", root);
	write_text(p, "x");
	snprintf(p, sizeof p, "%s/.symbold-dir", root);
	mkdir(p, 0755);

	struct listing l = {0};
	is_int(store_list(s, "", note_entry, &l), 0, "store_list of the root");
	is_int(l.n, 1, "one visible entry: .tmp and dot names skipped");
	is_str(l.names[0], "xul.pdb", "the debug file directory");
	is_int(l.dirs, 1, "it is a directory");
	memset(&l, 0, sizeof l);
	is_int(store_list(s, "xul.pdb/3844DBB920174967BE7AA4A2C20430FA2", note_entry, &l), 0, "store_list of an id");
	ok(l.n == 1 && l.dirs == 0 && strcmp(l.names[0], "xul.pdb") == 0, "one file, not a directory");
	memset(&l, 0, sizeof l);
	is_int(store_list(s, "nothing.pdb", note_entry, &l), 0, "a directory that does not exist lists empty");
	is_int(l.n, 0, "no entries");
	is_int(store_list(s, REL, note_entry, &l), -ENOTDIR, "listing a file is -ENOTDIR");
	int calls = 0;
	is_int(store_list(s, "", stop_at_first, &calls), 42, "a callback's non-zero stops the listing");
	is_int(calls, 1, "after one call");

	struct stat st;
	is_int(store_stat(s, "nothing.pdb", &st), -ENOENT, "store_stat of nothing is -ENOENT");
	is_int(store_stat(s, REL "/below", &st), -ENOTDIR, "store_stat below a file is -ENOTDIR");
	is_int(store_open_file(s, "nothing.pdb/ID/nothing.pdb"), -ENOENT, "store_open_file of nothing is -ENOENT");
	snprintf(p, sizeof p, "%s/link", root);
	if (symlink(REL, p) == 0)
		is_int(store_open_file(s, "link"), -ELOOP, "store_open_file does not follow symlinks");
	unlink(p);
	/* a key's directory linked elsewhere (to /etc, say): not followed */
	snprintf(p, sizeof p, "%s/linked.pdb", root);
	if (symlink("xul.pdb", p) == 0) {
		const char *through = "linked.pdb/3844DBB920174967BE7AA4A2C20430FA2/xul.pdb";
		is_int(store_open_file(s, through), -ELOOP, "store_open_file: not through a linked directory");
		is_int(store_stat(s, through, &st), -ELOOP, "store_stat: not through a linked directory");
		is_int(store_stat(s, "linked.pdb", &st), -ELOOP, "store_stat: not of the link itself");
		int rc = store_list(s, "linked.pdb", note_entry, &l);
		ok(rc == -ELOOP || rc == -ENOTDIR, "store_list: not through it (%d)", rc);
	}
	unlink(p);

	store_close(s);
	catalog_close(c);
}

/* ---- the group commit ---- */

#define GROUP 40

/* Many files queued at once go as groups: each answered once, durable at
 * its place; the catalog records them all once drained; a bad one fails
 * alone. */
static void test_group_commit(void)
{
	struct catalog *c;
	struct store *s = open_both(&c);
	char tmp[PATH_MAX], rel[128], full[PATH_MAX + 128], buf[64];
	if (!s)
		return;
	long long files0, bytes0, files, bytes;
	store_usage(s, &files0, &bytes0);
	memset(&answers, 0, sizeof answers);
	int queued = 0;
	for (int i = 0; i < GROUP; i++) {
		int fd = store_tmp_create(s, tmp);
		dprintf(fd, "file %d", i);
		close(fd);
		snprintf(rel, sizeof rel, "g%d.pdb/%032X1/g%d.pdb", i % 7, i, i % 7);
		queued += store_commit_async(s, tmp, rel, &META, answered, (void *)(intptr_t)i) == 0;
	}
	queued += store_commit_async(s, "/nonexistent/temp", "bad.pdb/ID/bad.pdb", &META, answered,
				     (void *)(intptr_t)GROUP) == 0;
	is_int(queued, GROUP + 1, "every file is queued");
	store_commit_drain(s);
	int once = 1, good = 1, there = 1;
	for (int i = 0; i < GROUP; i++) {
		once &= answers.calls[i] == 1;
		good &= answers.rc[i] == 0;
		snprintf(full, sizeof full, "%s/g%d.pdb/%032X1/g%d.pdb", root, i % 7, i, i % 7);
		char want[32];
		snprintf(want, sizeof want, "file %d", i);
		there &= read_into(full, buf, sizeof buf) > 0 && strcmp(buf, want) == 0;
	}
	ok(once, "each file is answered exactly once");
	ok(good, "each with success");
	ok(there, "each is at its place with its content");
	is_int(answers.calls[GROUP], 1, "the bad one is answered once");
	is_int(answers.rc[GROUP], -ENOENT, "with its error");
	is_int(pending_count(c), 0, "nothing pending once drained");
	store_usage(s, &files, &bytes);
	is_int((int)(files - files0), GROUP, "store_usage counts the group");
	snprintf(tmp, sizeof tmp, "%s/%s", root, STORE_TMPDIR);
	is_int(count_entries(tmp), 0, "no temp file left");
	store_close(s);
	catalog_close(c);
}

/* ---- a linked debug-file directory ---- */

/* A component of a placed file's path that is a symbolic link — the debug
 * file's directory linked to a directory outside the store, or the id's —
 * is never followed: the commit fails with -ELOOP, logged, its temp file
 * and pending row go, and nothing appears outside the store. */
static void test_linked_parents(void)
{
	struct catalog *c;
	struct store *s = open_both(&c);
	char outside[PATH_MAX], p[PATH_MAX], tmp[PATH_MAX];
	if (!s)
		return;
	snprintf(outside, sizeof outside, "%s/outside", tmpdir);
	mkdir(outside, 0755);
	long long files0 = file_count(c, NULL);

	snprintf(p, sizeof p, "%s/evil.pdb", root);
	ok(symlink(outside, p) == 0, "evil.pdb in the store is a link to a directory outside it");
	temp_with(s, tmp, "evil");
	is_int(store_commit(s, tmp, "evil.pdb/3844DBB920174967BE7AA4A2C20430FA2/evil.pdb", &META), -ELOOP,
	       "a commit under the linked debug-file directory: -ELOOP");
	is_int(count_entries(outside), 0, "nothing was made outside the store");
	ok(access(tmp, F_OK) < 0 && errno == ENOENT, "the temp file is gone");
	ok(logged("evil.pdb", "symbolic link"), "the log names the link");

	/* the same through the group commit, with other files beside it */
	memset(&answers, 0, sizeof answers);
	temp_with(s, tmp, "evil again");
	store_commit_async(s, tmp, "evil.pdb/1111DBB920174967BE7AA4A2C20430FA2/evil.pdb", &META, answered,
			   (void *)(intptr_t)0);
	temp_with(s, tmp, "fine");
	store_commit_async(s, tmp, "fine.pdb/1111DBB920174967BE7AA4A2C20430FA2/fine.pdb", &META, answered,
			   (void *)(intptr_t)1);
	store_commit_drain(s);
	ok(answers.calls[0] == 1 && answers.rc[0] == -ELOOP, "an async commit under it: -ELOOP (%d)", answers.rc[0]);
	ok(answers.calls[1] == 1 && answers.rc[1] == 0, "the file beside it is stored (%d)", answers.rc[1]);
	is_int(count_entries(outside), 0, "still nothing outside");

	/* the id's directory a link, under a real debug-file directory */
	snprintf(p, sizeof p, "%s/idlink.pdb", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/idlink.pdb/2222DBB920174967BE7AA4A2C20430FA2", root);
	ok(symlink(outside, p) == 0, "an id directory that is a link to outside");
	temp_with(s, tmp, "idlink");
	is_int(store_commit(s, tmp, "idlink.pdb/2222DBB920174967BE7AA4A2C20430FA2/idlink.pdb", &META), -ELOOP,
	       "a commit into the linked id directory: -ELOOP");
	is_int(count_entries(outside), 0, "nothing outside");

	/* a link to a file where a directory belongs: not a directory */
	snprintf(p, sizeof p, "%s/filelink.pdb", root);
	snprintf(tmp, sizeof tmp, "%s/%s", root, REL);
	ok(symlink(tmp, p) == 0, "a debug-file directory that is a link to a file");
	temp_with(s, tmp, "filelink");
	is_int(store_commit(s, tmp, "filelink.pdb/3844DBB920174967BE7AA4A2C20430FA2/filelink.pdb", &META), -ELOOP,
	       "a commit under it: -ELOOP");

	/* a file respelled into the linked directory */
	snprintf(p, sizeof p, "%s/Dropped.pdb", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/Dropped.pdb/3844DBB920174967BE7AA4A2C20430FA2", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/Dropped.pdb/3844DBB920174967BE7AA4A2C20430FA2/evil.pdb", root);
	write_text(p, "dropped");
	is_int(store_respell(s, "Dropped.pdb/3844DBB920174967BE7AA4A2C20430FA2/evil.pdb",
			     "evil.pdb/3844DBB920174967BE7AA4A2C20430FA2/evil.pdb"),
	       -ELOOP, "store_respell into the linked directory: -ELOOP");
	ok(access(p, F_OK) == 0, "the dropped file stays where it was");
	is_int(count_entries(outside), 0, "nothing outside");

	is_int(pending_count(c), 0, "no pending row left");
	is_int(file_count(c, NULL), files0 + 1, "only the good file is in the catalog");
	store_close(s);
	catalog_close(c);
}

static void test_recovery(void)
{
	char tmp[PATH_MAX], p[PATH_MAX + 16];
	struct catalog *c = open_catalog();
	if (!c)
		return;

	/* (a) leftovers in .tmp */
	snprintf(tmp, sizeof tmp, "%s/%s", root, STORE_TMPDIR);
	snprintf(p, sizeof p, "%s/123-4", tmp);
	write_text(p, "half a file");
	snprintf(p, sizeof p, "%s/999-0", tmp);
	write_text(p, "another");
	is_int(count_entries(tmp), 2, "two leftover temp files");

	/* (b) a pending row whose rename happened */
	const char *done = "ntdll.pdb/1234567890ABCDEF1234567890ABCDEF1/ntdll.pdb";
	struct file_meta m = META;
	m.size = 999; /* the file's real size wins */
	is_int(catalog_pending_add(c, done, &m), 0, "pending row for a file that got renamed");
	snprintf(p, sizeof p, "%s/ntdll.pdb", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/ntdll.pdb/1234567890ABCDEF1234567890ABCDEF1", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/%s", root, done);
	write_text(p, "complete");

	/* (c) a pending row whose rename did not happen */
	const char *lost = "lost.pdb/1234567890ABCDEF1234567890ABCDEF1/lost.pdb";
	is_int(catalog_pending_add(c, lost, &META), 0, "pending row for a file that never arrived");

	struct pending_seen seen = {0};
	is_int(catalog_pending_each(c, note_pending, &seen), 0, "catalog_pending_each");
	is_int(seen.n, 2, "two pending rows");
	long long before = file_count(c, NULL);
	catalog_close(c);

	c = open_catalog();
	if (!c)
		return;
	seen.n = 0;
	catalog_pending_each(c, note_pending, &seen);
	is_int(seen.n, 2, "pending rows survive a reopen");
	struct store *s = open_store(c);
	if (s) {
		is_int(count_entries(tmp), 0, "(a) leftover temp files removed");
		long long bytes = 0;
		is_int(file_count(c, &bytes), before + 1, "(b) the renamed file is committed");
		memset(&seen, 0, sizeof seen);
		is_int(catalog_pending_each(c, note_pending, &seen), 0, "pending_each after recovery");
		is_int(seen.n, 0, "(b, c) nothing pending any more");
		struct stat st;
		is_int(store_stat(s, done, &st), 0, "(b) the file is still there");
		is_int(store_stat(s, lost, &st), -ENOENT, "(c) the lost one is not");
		store_close(s);
	}
	catalog_close(c);

	/* recovery is idempotent: a second open finds nothing to do */
	c = open_catalog();
	if (!c)
		return;
	s = open_store(c);
	if (s) {
		is_int(file_count(c, NULL), before + 1, "a second open changes nothing");
		is_int(pending_count(c), 0, "and nothing is pending");
		store_close(s);
	}
	catalog_close(c);

	/* a store root that cannot be made */
	c = open_catalog();
	if (!c)
		return;
	struct store *bad = NULL;
	snprintf(p, sizeof p, "%s/%s/sub", root, REL);
	err[0] = '\0';
	is_int(store_open(&bad, p, c, err, sizeof err), -ENOTDIR, "a store under a file is refused");
	ok(strstr(err, p) != NULL, "the error names the root (%s)", err);
	catalog_close(c);
}

/* ---- catalog ------------------------------------------------------------------- */

static int note_negative(const char *relpath, time_t until, void *ctx)
{
	struct pending_seen *p = ctx;
	p->n++;
	snprintf(p->path, sizeof p->path, "%s", relpath);
	p->fetched = until;
	return 0;
}

struct servers_seen {
	int n;
	struct {
		char name[64], origin[16], config[64], whitelist[64], blacklist[64];
		time_t created;
		uint64_t counters[STAT_COUNTERS];
	} row[4];
};

static int note_server(const struct catalog_server *s, void *ctx)
{
	struct servers_seen *v = ctx;
	if (v->n < 4) {
		snprintf(v->row[v->n].name, sizeof v->row[0].name, "%s", s->name);
		snprintf(v->row[v->n].origin, sizeof v->row[0].origin, "%s", s->origin);
		snprintf(v->row[v->n].config, sizeof v->row[0].config, "%s", s->config);
		snprintf(v->row[v->n].whitelist, sizeof v->row[0].whitelist, "%s", s->whitelist);
		snprintf(v->row[v->n].blacklist, sizeof v->row[0].blacklist, "%s", s->blacklist);
		v->row[v->n].created = s->created;
		memcpy(v->row[v->n].counters, s->counters, sizeof s->counters);
	}
	v->n++;
	return 0;
}

/* The mode of a file, or -1. */
static int mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void test_catalog(void)
{
	mode_t was = umask(022); /* SQLite's own mode would be 0644 */
	struct catalog *c = open_catalog();
	char out[64], side[200];
	umask(was);
	if (!c)
		return;
	is_int(mode_of(dbpath), 0600, "the catalog is made 0600: it holds secrets");
	is_int(catalog_meta_set(c, "made", "1"), 0, "a first write");
	snprintf(side, sizeof side, "%s-wal", dbpath);
	is_int(mode_of(side), 0600, "its -wal file too");
	snprintf(side, sizeof side, "%s-shm", dbpath);
	is_int(mode_of(side), 0600, "its -shm file too");

	/* meta */
	is_int(catalog_meta_get(c, "defaults_seeded", out, sizeof out), -ENOENT, "meta: unset is -ENOENT");
	is_int(catalog_meta_set(c, "defaults_seeded", "1"), 0, "meta set");
	is_int(catalog_meta_get(c, "defaults_seeded", out, sizeof out), 0, "meta get");
	is_str(out, "1", "meta value");
	is_int(catalog_meta_set(c, "defaults_seeded", "a longer value"), 0, "meta overwrite");
	char small[4];
	is_int(catalog_meta_get(c, "defaults_seeded", small, sizeof small), 0, "meta get into a small buffer");
	is_str(small, "a l", "truncated, terminated");
	is_int(catalog_meta_get(c, "other", out, sizeof out), -ENOENT, "another key is unset");

	/* pending rows carry their metadata */
	struct pending_seen seen = {0};
	is_int(catalog_pending_add(c, "p/ID/p", &META), 0, "pending_add");
	catalog_pending_each(c, note_pending, &seen);
	ok(seen.n == 1 && strcmp(seen.path, "p/ID/p") == 0, "one pending row");
	is_str(seen.server, "microsoft", "server kept");
	is_str(seen.url, META.url, "url kept");
	is_str(seen.format, "cab", "source_format kept");
	ok(seen.size == 5 && seen.fetched == 1700000000, "size and fetched kept");
	is_int(catalog_pending_delete(c, "p/ID/p"), 0, "pending_delete");
	is_int(pending_count(c), 0, "gone");

	/* negative cache */
	time_t now = time(NULL);
	is_int(catalog_negative_put(c, "live.pdb/ID/live.pdb", now + 3600), 0, "negative put (live)");
	is_int(catalog_negative_put(c, "dead.pdb/ID/dead.pdb", now - 10), 0, "negative put (expired)");
	is_int(catalog_negative_put(c, "x.pdb/ID/x.pdb", now + 60), 0, "negative put (to be committed)");
	is_int(catalog_negative_put(c, "x.pdb/ID/x.pdb", now + 120), 0, "negative put again replaces");
	memset(&seen, 0, sizeof seen);
	is_int(catalog_negative_each(c, note_negative, &seen), 0, "negative each");
	is_int(seen.n, 2, "the expired row is dropped");
	is_int(catalog_file_commit(c, "x.pdb/ID/x.pdb", &META), 0, "file_commit of a negative key");
	memset(&seen, 0, sizeof seen);
	catalog_negative_each(c, note_negative, &seen);
	is_int(seen.n, 1, "a committed file is no longer negative");
	is_str(seen.path, "live.pdb/ID/live.pdb", "the live row remains");
	is_int(seen.fetched, now + 3600, "with its time");

	/* servers */
	struct catalog_server row = {"ms", "config", 1000, "type = symsrv\n", "ntdll.pdb\n", "bad.pdb\n", {0}};
	is_int(catalog_server_upsert(c, &row), 0, "server insert");
	struct catalog_server row2 = {"zz", "default", 3000, "type = http\n", NULL, NULL, {0}};
	is_int(catalog_server_upsert(c, &row2), 0, "server insert without lists");
	struct catalog_server again = {"MS", "control", 2000, "type = dir\n", "changed\n", "changed\n", {0}};
	is_int(catalog_server_upsert(c, &again), 0, "server upsert, name in another case");
	struct servers_seen sv = {0};
	is_int(catalog_servers_each(c, note_server, &sv), 0, "servers each");
	is_int(sv.n, 2, "two servers");
	is_str(sv.row[0].name, "ms", "the original name stays");
	is_str(sv.row[0].origin, "control", "origin updated");
	is_str(sv.row[0].config, "type = dir\n", "config updated");
	is_int(sv.row[0].created, 1000, "created kept");
	is_str(sv.row[0].whitelist, "ntdll.pdb\n", "whitelist kept");
	is_str(sv.row[0].blacklist, "bad.pdb\n", "blacklist kept");
	is_str(sv.row[1].whitelist, "", "NULL lists stored empty");

	uint64_t counters[STAT_COUNTERS];
	for (int i = 0; i < STAT_COUNTERS; i++)
		counters[i] = (uint64_t)(i + 1) * 1000000007ULL;
	is_int(catalog_counters_save(c, "ms", counters), 0, "counters save");
	is_int(catalog_server_upsert(c, &again), 0, "upsert again");
	memset(&sv, 0, sizeof sv);
	catalog_servers_each(c, note_server, &sv);
	ok(memcmp(sv.row[0].counters, counters, sizeof counters) == 0, "counters loaded back, kept by upsert");
	int zero = 1;
	for (int i = 0; i < STAT_COUNTERS; i++)
		zero &= sv.row[1].counters[i] == 0;
	ok(zero, "other server's counters untouched");
	is_int(catalog_counters_save(c, "nobody", counters), 0, "counters of an unknown server: no error");

	is_int(catalog_server_delete(c, "Zz"), 0, "server delete (case-insensitive)");
	memset(&sv, 0, sizeof sv);
	catalog_servers_each(c, note_server, &sv);
	is_int(sv.n, 1, "one server left");
	catalog_close(c);

	/* everything survives a reopen */
	c = open_catalog();
	if (!c)
		return;
	memset(&sv, 0, sizeof sv);
	catalog_servers_each(c, note_server, &sv);
	ok(sv.n == 1 && sv.row[0].counters[STAT_NOT_FOUND] == counters[STAT_NOT_FOUND], "servers persist");
	is_int(catalog_meta_get(c, "defaults_seeded", out, sizeof out), 0, "meta persists");
	catalog_close(c);

	struct catalog *bad = NULL;
	char badpath[PATH_MAX];
	snprintf(badpath, sizeof badpath, "%s/no/such/dir/cat.db", tmpdir);
	err[0] = '\0';
	is_int(catalog_open(&bad, badpath, err, sizeof err), -ENOENT, "catalog_open in a missing directory: -ENOENT");
	ok(strstr(err, badpath) != NULL, "the error names the path (%s)", err);
}

int main(void)
{
	if (stores_begin("store") < 0)
		return 1;
	test_commit();
	test_list_and_errors();
	test_group_commit();
	test_linked_parents();
	test_recovery();
	snprintf(dbpath, sizeof dbpath, "%s/catalog2.db", tmpdir);
	test_catalog();
	remove_tree(tmpdir);
	log_shutdown();
	return tap_done();
}
