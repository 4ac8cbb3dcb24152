/* source: where a key lives on an upstream — the candidate paths a server's
 * type and layout give (the plain file, the CAB-compressed "fil_" form, the
 * "file.ptr" redirect), the URL or local path of each, and what a file.ptr
 * says. Pure string work: no I/O. */
#ifndef SYMBOLD_SOURCE_H
#define SYMBOLD_SOURCE_H

#include <stddef.h>

#include "admin/srvconf.h"
#include "common/key.h"

enum cand_kind {
	CAND_PLAIN, /* the file itself (possibly a cabinet anyway: content decides) */
	CAND_CAB,   /* the compressed form, name with its last character '_' */
	CAND_PTR,   /* file.ptr: a pointer to where the file really is */
};

/* 1 if this version can fetch from servers of c's type. */
int source_supported(const struct server_config *c);

/* The idx-th place (0, 1, ...) to look for `k` on a server configured as `c`:
 * a path relative to the server root, its components not yet escaped. The
 * names as requested come first, then in lower case (if that differs).
 * Returns 0, or -ENOENT when there are no more. */
int source_candidate(const struct server_config *c, const struct sym_key *k, int idx, char *rel, size_t rellen,
		     enum cand_kind *kind);

/* The URL of `rel` on an HTTP-speaking server: base URL (for S3 the
 * bucket's, see below), prefix, and each path component percent-escaped. -ENAMETOOLONG if it does not fit. */
int source_url(const struct server_config *c, const char *rel, char *out, size_t outlen);

/* S3 (type = s3): the region to sign for (s3_region, else us-east-1); 1 if
 * the bucket is addressed virtual-host style (https://BUCKET.s3.REGION.
 * amazonaws.com: no url, a bucket name without '.'), 0 if path-style
 * (url or https://s3.REGION.amazonaws.com, then /BUCKET). source_url puts
 * a key below the bucket; source_s3_list_url is the bucket's listing of at
 * most one key (under the prefix, if one is set). */
const char *source_s3_region(const struct server_config *c);
int source_s3_virtual_host(const struct server_config *c);
int source_s3_list_url(const struct server_config *c, char *out, size_t outlen);

/* The local path of `rel` on a dir server. */
int source_dir_path(const struct server_config *c, const char *rel, char *out, size_t outlen);
/* The directory a dir server's paths begin with: its url without file://
 * and trailing slashes ("/" for the file system's root). What its owner
 * named; what follows it in a path is the server's tree. */
int source_dir_root(const struct server_config *c, char *out, size_t outlen);

enum ptr_target {
	PTR_URL,      /* an absolute http(s) URL */
	PTR_RELATIVE, /* a path relative to the server root */
	PTR_LOCAL,    /* an absolute local path (dir servers only) */
};

/* Reads a file.ptr ("PATH:<where>" or "MSG:<text>"). Returns the kind of
 * target with it in `out`, or -EINVAL with the reason in `err` (a message
 * instead of a path, a UNC or drive path this host cannot reach). */
int source_parse_ptr(const char *content, size_t len, char *out, size_t outlen, char *err, size_t errlen);

/* The compressed name of a file: last character replaced by '_'. */
void source_cab_name(const char *file, char *out, size_t outlen);

/* 1 if `url` is on the same scheme://host:port as the server's URL (for S3:
 * its bucket's), so that its credentials may be sent there. */
int source_same_origin(const struct server_config *c, const char *url);

/* The secrets a server's requests carry (transfer.c): HTTP Basic's password
 * to the server, an S3 server's signatures made with its secret key, the
 * proxy's password to the proxy. */
enum source_secret { SECRET_PASSWORD, SECRET_PROXY_PASSWORD, SECRET_S3_SECRET_KEY };

/* Where a server configured as `c` sends that secret: "scheme://host:port"
 * of the server (for S3 the endpoint its bucket is reached at), then
 * " via " and the proxy's if one is on the way; for the proxy's password the
 * proxy's alone. Scheme and host are in lower case, the port always given
 * (a URL's default: 80 for http, 443 for https; a proxy's as curl's: 443
 * for https, 1080 for the others). "" if the configuration never sends it
 * (a dir server, a password on S3, no proxy). -EINVAL if a URL it would go
 * to does not parse (libcurl's URL parser). */
int source_secret_destination(const struct server_config *c, enum source_secret which, char *out, size_t outlen);

#endif
