#include "fs/dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/vec.h"

struct dirlist {
	size_t n, cap;
	struct {
		char *name;
		unsigned type;
	} *e;
};

static int add(struct dirlist *l, const char *name, unsigned type)
{
	if (VEC_RESERVE(l->e, l->n, l->cap, 16) < 0 || !(l->e[l->n].name = strdup(name)))
		return -ENOMEM;
	l->e[l->n++].type = type;
	return 0;
}

struct dirlist *dirlist_new(void)
{
	struct dirlist *l = calloc(1, sizeof *l);
	if (l && (add(l, ".", DT_DIR) < 0 || add(l, "..", DT_DIR) < 0)) {
		dirlist_free(l);
		return NULL;
	}
	return l;
}

int dirlist_add(const char *name, int is_dir, void *dirlist)
{
	return add(dirlist, name, is_dir ? DT_DIR : DT_REG);
}

int dirlist_add_symlink(struct dirlist *l, const char *name)
{
	return add(l, name, DT_LNK);
}

void dirlist_free(struct dirlist *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		free(l->e[i].name);
	if (l)
		free(l->e);
	free(l);
}

void dirlist_reply_open(fuse_req_t req, struct fuse_file_info *fi, struct dirlist *l, int rc)
{
	if (rc < 0 || !l) {
		dirlist_free(l);
		fuse_reply_err(req, rc < 0 ? -rc : ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)l;
	if (fuse_reply_open(req, fi) != 0)
		dirlist_free(l);
}

void dirlist_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	struct dirlist *l = (struct dirlist *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < l->n; i++) {
		struct stat st = {.st_ino = i + 1, .st_mode = DTTOIF(l->e[i].type)};
		size_t need = fuse_add_direntry(req, buf + used, size - used, l->e[i].name, &st, (off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

void dirlist_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dirlist_free((struct dirlist *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
