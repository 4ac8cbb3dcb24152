/* stores: what the store's and the catalog's unit tests share — a temp
 * directory holding a store (`root`) and its catalog (`dbpath`), opening
 * them, temp files with some text, and removing the lot at the end. The
 * test fills in tmpdir, root and dbpath first. */
#ifndef SYMBOLD_TEST_STORES_H
#define SYMBOLD_TEST_STORES_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/catalog.h"
#include "admin/store.h"
#include "common/log.h"
#include "tests/unit/tap.h"

static char tmpdir[64], root[128], dbpath[128], err[512];

/* The temp directory (/tmp/symbold-test-NAME-XXXXXX) with root and
 * dbpath in it, and the log the store writes to: 0, or -1 (said why). */
static int stores_begin(const char *name)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* keep what was printed if an alarm fires */
	snprintf(tmpdir, sizeof tmpdir, "/tmp/symbold-test-%s-XXXXXX", name);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return -1;
	}
	log_init(1000, 0);
	snprintf(root, sizeof root, "%s/store", tmpdir);
	snprintf(dbpath, sizeof dbpath, "%s/catalog.db", tmpdir);
	return 0;
}

/* rm -r, for the temp directory at the end */
static void remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		for (struct dirent *de; d && (de = readdir(d));) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char sub[PATH_MAX];
			snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			remove_tree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static struct catalog *open_catalog(void)
{
	struct catalog *c = NULL;
	err[0] = '\0';
	if (!is_int(catalog_open(&c, dbpath, err, sizeof err), 0, "catalog_open"))
		printf("#   err: %s\n", err);
	return c;
}

static struct store *open_store(struct catalog *c)
{
	struct store *s = NULL;
	err[0] = '\0';
	alarm(20); /* recovery must not hang (a catalog callback re-entering the catalog would) */
	int rc = store_open(&s, root, c, err, sizeof err);
	alarm(0);
	if (!is_int(rc, 0, "store_open"))
		printf("#   err: %s\n", err);
	return rc == 0 ? s : NULL;
}

/* A catalog and a store over it, both opened: the store, with the catalog
 * in *c; or NULL with nothing left open. */
static struct store *open_both(struct catalog **c)
{
	*c = open_catalog();
	struct store *s = *c ? open_store(*c) : NULL;
	if (!s) {
		catalog_close(*c);
		*c = NULL;
	}
	return s;
}

/* A temp file of the store with `text` in it: its path in `path`. */
static int temp_with(struct store *s, char path[PATH_MAX], const char *text)
{
	int fd = store_tmp_create(s, path);
	if (fd < 0)
		return fd;
	int rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -EIO;
	close(fd);
	return rc;
}

/* What store_commit_async's callbacks said, by the index given as ctx. */
#define ANSWERS_MAX 64
static struct answers {
	int calls[ANSWERS_MAX], rc[ANSWERS_MAX];
} answers;

static void answered(void *ctx, int rc)
{
	int i = (int)(intptr_t)ctx;
	answers.calls[i]++;
	answers.rc[i] = rc;
}

#endif
