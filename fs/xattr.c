#include "fs/xattr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/key.h"
#include "common/pool.h"

#define PREFIX "user.symbold."

static const char *const file_attrs[] = {"server", "url", "fetched", "source_format"};
#define NFILE_ATTRS (sizeof file_attrs / sizeof file_attrs[0])

/* Answers a getxattr/listxattr: the size when asked for it, the bytes when
 * they fit, ERANGE when they do not. */
static void reply_value(fuse_req_t req, const char *value, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

static int file_attr(struct symfs *fs, const char *path, const char *attr, struct buf *out)
{
	struct file_info info;
	char when[32];
	if (store_file_info(fs->store, path, &info) < 0)
		return -ENODATA; /* put there by another tool: nothing recorded */
	if (strcmp(attr, "server") == 0)
		return buf_puts(out, info.server);
	if (strcmp(attr, "url") == 0)
		return buf_puts(out, info.url);
	if (strcmp(attr, "fetched") == 0) {
		clock_fmt_utc(info.fetched, when);
		return buf_puts(out, when);
	}
	if (strcmp(attr, "source_format") == 0)
		return buf_puts(out, info.source_format);
	return -ENODATA;
}

/* Why the debug file and its .sym are missing from a key's directory. */
static int missing_attr(struct symfs *fs, const struct node *keydir, struct buf *out)
{
	char sym[KEY_NAME_MAX + 8];
	const char *debug_file = keydir->parent->name;
	struct sym_key k;
	int any = 0;
	if (key_make(&k, debug_file, keydir->name, debug_file) == 0)
		any |= fetch_explain(fs->fetch, &k, out);
	if (key_sym_name(debug_file, sym, sizeof sym) == 0 && key_make(&k, debug_file, keydir->name, sym) == 0)
		any |= fetch_explain(fs->fetch, &k, out);
	return any ? 0 : -ENODATA;
}

/* A stored file's attributes come from the catalog, which may wait behind
 * a commit's fsync: they are read on the slow thread, never on the loop. */
struct file_ask {
	fuse_req_t req;
	struct symfs *fs;
	size_t size;
	int list; /* listxattr; else getxattr of attr */
	char attr[64];
	char path[]; /* the file's relpath in the store */
};

static void answer_file(void *arg)
{
	struct file_ask *a = arg;
	struct buf value = BUF_INIT;
	struct file_info info;
	if (a->list) {
		int recorded = store_file_info(a->fs->store, a->path, &info) == 0;
		for (size_t i = 0; recorded && i < NFILE_ATTRS; i++)
			buf_printf(&value, PREFIX "%s%c", file_attrs[i], '\0');
		reply_value(a->req, value.data ? value.data : "", value.len, a->size);
	} else {
		int rc = file_attr(a->fs, a->path, a->attr, &value);
		if (rc < 0)
			fuse_reply_err(a->req, -rc);
		else
			reply_value(a->req, value.data ? value.data : "", value.len, a->size);
	}
	buf_free(&value);
	free(a);
}

/* Hands a stored file's getxattr (attr) or listxattr (attr NULL) to the
 * slow thread; answered there, or here if it cannot be handed over. */
static void ask_file(fuse_req_t req, struct symfs *fs, const struct node *n, const char *attr, size_t size)
{
	size_t len = strlen(n->path);
	if (attr && strlen(attr) >= sizeof ((struct file_ask *)0)->attr) {
		fuse_reply_err(req, ENODATA); /* no attribute has so long a name */
		return;
	}
	struct file_ask *a = malloc(sizeof *a + len + 1);
	if (!a) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*a = (struct file_ask){req, fs, size, attr == NULL, ""};
	snprintf(a->attr, sizeof a->attr, "%s", attr ? attr : "");
	memcpy(a->path, n->path, len + 1);
	if (!fs->slow || pool_submit(fs->slow, answer_file, a) < 0)
		answer_file(a);
}

void xattr_get(fuse_req_t req, struct symfs *fs, fuse_ino_t ino, const char *name, size_t size)
{
	struct node *n = tree_node(&fs->tree, ino);
	struct buf value = BUF_INIT;
	int rc = -ENODATA;
	if (strncmp(name, PREFIX, strlen(PREFIX)) == 0) {
		const char *attr = name + strlen(PREFIX);
		if (n->kind == NODE_SYMFILE) {
			ask_file(req, fs, n, attr, size);
			return;
		}
		if (n->kind == NODE_KEYDIR && strcmp(attr, "missing") == 0)
			rc = missing_attr(fs, n, &value); /* memory only */
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_value(req, value.data ? value.data : "", value.len, size);
	buf_free(&value);
}

void xattr_list(fuse_req_t req, struct symfs *fs, fuse_ino_t ino, size_t size)
{
	struct node *n = tree_node(&fs->tree, ino);
	struct buf names = BUF_INIT, scratch = BUF_INIT;
	if (n->kind == NODE_SYMFILE) {
		ask_file(req, fs, n, NULL, size);
		return;
	}
	if (n->kind == NODE_KEYDIR && missing_attr(fs, n, &scratch) == 0)
		buf_printf(&names, PREFIX "missing%c", '\0');
	reply_value(req, names.data ? names.data : "", names.len, size);
	buf_free(&names);
	buf_free(&scratch);
}
