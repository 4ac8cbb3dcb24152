/* scratch: the files editors make next to the file they edit — sed -i's
 * temporary file, vim's swap and backup files — kept in memory as the
 * control tree's scratch files (at most SCRATCH_MAX_FILES a directory), and
 * the names operations that turn them into edits: a rename of one over a
 * list or config applies its text; a rename of a control file away (vim's
 * backup) copies it, for a control file never leaves its place; unlinking a
 * list empties it. */
#ifndef SYMBOLD_SCRATCH_H
#define SYMBOLD_SCRATCH_H

#include "fs/ctlfs.h"

#define SCRATCH_MAX_FILES 64 /* per directory */

void scratch_create(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name, mode_t mode,
		    struct fuse_file_info *fi);
void scratch_unlink(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name);
void scratch_rename(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name, struct node *newdir,
		    const char *newname, unsigned int flags);

#endif
