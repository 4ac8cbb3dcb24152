/* dirlist: opens of a directory that stayed the same share one snapshot;
 * a change (a new version, or entries that differ) gives the next open a
 * new one while the old one's readers keep theirs; the last release frees
 * a snapshot; readdir's slices hold whole entries and resume at any offset;
 * beyond the cap an open that needs a new snapshot fails with -ENFILE and
 * the log says so. (The FUSE request is NULL here: fuse_add_direntry
 * ignores it.) */
#include "fs/dirlist.h"

#include "common/log.h"
#include "tests/unit/logged.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a fill lists: `n` names "entry-<i>" from `first`. */
struct names {
	int first, n;
	int calls; /* how often the directory was listed */
};

static int fill_names(struct dirlist *l, void *ctx)
{
	struct names *w = ctx;
	char name[64];
	w->calls++;
	for (int i = w->first; i < w->first + w->n; i++) {
		snprintf(name, sizeof name, "entry-%d", i);
		int rc = dirlist_add(name, i % 2, l);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int fill_fails(struct dirlist *l, void *ctx)
{
	(void)l, (void)ctx;
	return -EIO;
}

static struct dirlist_snapshot *acquire(struct dirlist_cache *c, const char *dir, const struct dirlist_version *v,
					struct names *w)
{
	struct dirlist_snapshot *s = NULL;
	int rc = dirlist_acquire(c, NULL, dir, v, fill_names, w, &s);
	return rc == 0 ? s : NULL;
}

/* Every name the snapshot gives reading `chunk` bytes at a time, joined
 * with spaces, into out; 0, or -1 if an offset or a slice was wrong. */
static int read_all(const struct dirlist_snapshot *s, size_t chunk, char *out, size_t outlen)
{
	off_t off = 0;
	const char *data;
	size_t len, used = 0;
	out[0] = '\0';
	while ((len = dirlist_slice(s, off, chunk, &data)) > 0) {
		if (len > chunk)
			return -1;
		for (size_t at = 0; at < len;) {
			const struct fuse_dirent *d = (const struct fuse_dirent *)(data + at);
			if ((off_t)d->off != off + 1 || at + FUSE_DIRENT_SIZE(d) > len)
				return -1;
			used += (size_t)snprintf(out + used, outlen - used, "%s%.*s", used ? " " : "", (int)d->namelen,
						 d->name);
			off = (off_t)d->off;
			at += FUSE_DIRENT_SIZE(d);
		}
	}
	return 0;
}

static void test_sharing(void)
{
	struct dirlist_cache c;
	dirlist_cache_init(&c, "test tree");
	struct names w = {0, 100, 0};
	struct dirlist_version v = {{1, 2, 3, 4}, 1};
	size_t empty = dirlist_held();

	struct dirlist_snapshot *a = acquire(&c, "dir", &v, &w), *b = acquire(&c, "dir", &v, &w);
	ok(a && a == b, "two opens at one settled version share a snapshot");
	is_int(w.calls, 1, "the directory was listed once");
	size_t one = dirlist_held() - empty;
	ok(one > 100 * 8 && one < 100 * 64, "it holds one listing (%zu bytes for 100 entries)", one);

	struct dirlist_version unsettled = v;
	unsettled.settled = 0;
	struct dirlist_snapshot *u = acquire(&c, "dir", &unsettled, &w);
	ok(u == a && w.calls == 2, "unsettled: listed again, and shared since its entries are the same");
	struct dirlist_snapshot *n = acquire(&c, "dir", NULL, &w);
	ok(n == a && w.calls == 3, "no version at all: the same");
	is_int(dirlist_held() - empty, one, "still one listing held");

	/* a change: the next open gets a new snapshot; the old one lives on */
	w.first = 1;
	struct dirlist_version v2 = {{1, 2, 5, 6}, 1};
	struct dirlist_snapshot *d = acquire(&c, "dir", &v2, &w);
	ok(d && d != a, "after a change (a new version, other entries) an open gets a new snapshot");
	char text[4096];
	ok(read_all(a, 4096, text, sizeof text) == 0 && strncmp(text, ". .. entry-0 entry-1", 20) == 0,
	   "the old one still reads as it was (%.30s...)", text);
	ok(read_all(d, 4096, text, sizeof text) == 0 && strncmp(text, ". .. entry-1 entry-2", 20) == 0,
	   "the new one reads the change (%.30s...)", text);
	struct dirlist_snapshot *e = acquire(&c, "dir", &v2, &w);
	ok(e == d, "later opens share the new one");
	struct dirlist_snapshot *other = acquire(&c, "other", &v2, &w);
	ok(other && other != d, "another directory has its own, whatever its version");

	/* the old version's entries again, but a snapshot that is no longer
	 * current is never handed out anew */
	w.first = 0;
	struct dirlist_snapshot *back = acquire(&c, "dir", &v, &w);
	ok(back && back != a, "back to the old entries: a new snapshot, the old one is not current");
	dirlist_release(back);

	for (int i = 0; i < 4; i++)
		dirlist_release(a); /* a, b, u, n */
	dirlist_release(d);
	dirlist_release(e);
	dirlist_release(other);
	is_int(dirlist_held(), empty, "every release given back: nothing held");
	struct dirlist_snapshot *f = acquire(&c, "dir", &v2, &w);
	ok(f != NULL, "an open after all were released lists again");
	dirlist_release(f);

	struct dirlist_snapshot *bad = NULL;
	is_int(dirlist_acquire(&c, NULL, "dir", NULL, fill_fails, NULL, &bad), -EIO, "a failed listing is its error");
	is_int(dirlist_held(), empty, "and holds nothing");
	dirlist_cache_destroy(&c);
}

static void test_slices(void)
{
	struct dirlist_cache c;
	dirlist_cache_init(&c, "test tree");
	struct names w = {0, 500, 0};
	struct dirlist_snapshot *s = acquire(&c, "big", NULL, &w);
	char whole[32768], chunked[32768];
	ok(s && read_all(s, 1 << 20, whole, sizeof whole) == 0, "read in one slice");
	ok(strstr(whole, "entry-499") && !strstr(whole, "entry-500"), "every entry, and no more");
	ok(s && read_all(s, 100, chunked, sizeof chunked) == 0, "read 100 bytes at a time: whole entries, in order");
	is_str(chunked, whole, "the same names");
	const char *data;
	is_int(dirlist_slice(s, 502, 4096, &data), 0, "at the end: nothing");
	is_int(dirlist_slice(s, 9999, 4096, &data), 0, "past the end: nothing");
	is_int(dirlist_slice(s, -1, 4096, &data), 0, "a negative offset: nothing");
	dirlist_release(s);
	dirlist_cache_destroy(&c);
}

static void test_cap(void)
{
	struct dirlist_cache c;
	dirlist_cache_init(&c, "test tree");
	struct names w = {0, 1000, 0};
	struct dirlist_version v = {{7}, 1};
	struct dirlist_snapshot *a = acquire(&c, "a", &v, &w);
	size_t one = dirlist_held();
	dirlist_set_limit(one * 2 + one / 2);
	struct dirlist_snapshot *b = acquire(&c, "b", &v, &w), *s = NULL;
	ok(a && b, "two listings fit under a cap of two and a half");
	is_int(dirlist_acquire(&c, NULL, "c", &v, fill_names, &w, &s), -ENFILE, "a third needs room: -ENFILE");
	ok(logged("test tree: opendir of /c refused (ENFILE)", "the most is"), "the log says so");
	struct dirlist_snapshot *again = acquire(&c, "a", &v, &w);
	ok(again == a, "an open that shares a snapshot needs no room: it still succeeds");
	dirlist_release(again);
	dirlist_release(b);
	s = acquire(&c, "c", &v, &w);
	ok(s != NULL, "once one is released, the third fits");
	dirlist_release(s);
	dirlist_set_limit(one / 2);
	is_int(dirlist_acquire(&c, NULL, "huge", NULL, fill_names, &w, &s), -ENFILE,
	       "a listing larger than the cap on its own: -ENFILE while it is made");
	dirlist_set_limit(DIRLIST_MAX_BYTES);
	/* a handle the kernel never released: freed with the cache */
	dirlist_cache_destroy(&c);
	is_int(dirlist_held(), 0, "destroying the cache frees what was left");
}

int main(void)
{
	log_init(100, 0);
	test_sharing();
	test_slices();
	test_cap();
	log_shutdown();
	return tap_done();
}
