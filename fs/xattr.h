/* xattr: the state of the symbol tree as extended attributes (SPEC §4), for
 * `getfattr -d`: a stored file tells where it came from (user.symbold.server,
 * .url, .fetched, .source_format); the directory of a key that was tried
 * and is missing tells why (user.symbold.missing). Everything else has no
 * attributes (ENODATA), which keeps `ls -l` cheap. A stored file's come
 * from the catalog and are answered on the slow thread (symfs.slow), never
 * on the loop. */
#ifndef SYMBOLD_XATTR_H
#define SYMBOLD_XATTR_H

#include "fs/ops.h"

void xattr_get(fuse_req_t req, struct symfs *fs, fuse_ino_t ino, const char *name, size_t size);
void xattr_list(fuse_req_t req, struct symfs *fs, fuse_ino_t ino, size_t size);

#endif
