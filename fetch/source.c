#include "fetch/source.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int source_supported(const struct server_config *c)
{
	return c->type == SRV_SYMSRV || c->type == SRV_HTTP || c->type == SRV_DIR || c->type == SRV_DEBUGINFOD ||
	       c->type == SRV_S3;
}

void source_cab_name(const char *file, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", file);
	size_t len = strlen(out);
	if (len)
		out[len - 1] = '_';
}

/* "df/ID/name", or with the index2 layout "df[0..1]/df/ID/name". */
static int layout_path(const struct server_config *c, const struct sym_key *k, const char *name, char *rel,
		       size_t rellen)
{
	int n;
	if (srvconf_layout(c) == LAYOUT_INDEX2)
		n = snprintf(rel, rellen, "%.2s/%s/%s/%s", k->debug_file, k->debug_file, k->debug_id, name);
	else
		n = snprintf(rel, rellen, "%s/%s/%s", k->debug_file, k->debug_id, name);
	return n < 0 || (size_t)n >= rellen ? -ENAMETOOLONG : 0;
}

/* The key as requested, or with its names in lower case: upstreams on
 * case-sensitive file systems hold one spelling, usually one of these two. */
static int spelling(const struct sym_key *k, int lower, struct sym_key *out)
{
	*out = *k;
	if (!lower)
		return 0;
	key_lower(out->debug_file);
	key_lower(out->file);
	return strcmp(out->debug_file, k->debug_file) || strcmp(out->file, k->file) ? 0 : -ENOENT;
}

/* A key named by build-id has one place: debuginfod's "buildid/<id>/
 * debuginfo" (or "/executable"), or in a directory with the debuginfod layout
 * gdb's ".build-id/xx/rest[.debug|.sym]" — a build-id key's own store path.
 * An ELF's symbol key goes there too when its build-id is known (debuginfod
 * knows nothing else); its .sym is made from that. Other types and layouts
 * do not name files by build-id. */
static int build_id_candidate(const struct server_config *c, const struct sym_key *k, int idx, char *rel,
			      size_t rellen, enum cand_kind *kind)
{
	char gdb_path[KEY_PATH_MAX];
	struct sym_key debuginfo;
	int n;
	if (idx != 0 || (key_wants_sym(k) && (k->kind == KEY_SYMBOL || c->type == SRV_DEBUGINFOD)))
		return -ENOENT; /* no .sym there: it is made from the debug info */
	*kind = CAND_PLAIN;
	if (c->type == SRV_DEBUGINFOD) {
		n = snprintf(rel, rellen, "buildid/%s/%s", k->build_id, k->executable ? "executable" : "debuginfo");
	} else if (c->type == SRV_DIR && srvconf_layout(c) == LAYOUT_DEBUGINFOD) {
		if (k->kind == KEY_SYMBOL) { /* an ELF's debug file is its <rest>.debug there */
			char xx[3] = {k->build_id[0], k->build_id[1], '\0'}, rest[KEY_BUILD_ID_MAX + 8];
			snprintf(rest, sizeof rest, "%s.debug", k->build_id + 2);
			if (key_make_build_id(&debuginfo, xx, rest) < 0)
				return -ENOENT;
			k = &debuginfo;
		}
		key_relpath(k, gdb_path);
		n = snprintf(rel, rellen, "%s", gdb_path);
	} else {
		return -ENOENT;
	}
	return n < 0 || (size_t)n >= rellen ? -ENAMETOOLONG : 0;
}

int source_candidate(const struct server_config *c, const struct sym_key *k, int idx, char *rel, size_t rellen,
		     enum cand_kind *kind)
{
	static const enum cand_kind kinds[] = {CAND_PLAIN, CAND_CAB, CAND_PTR};
	char name[KEY_NAME_MAX + 8];
	struct sym_key sk;
	/* debuginfod and its tree name files by build-id only */
	if (k->kind == KEY_BUILD_ID || c->type == SRV_DEBUGINFOD || srvconf_layout(c) == LAYOUT_DEBUGINFOD)
		return k->build_id[0] ? build_id_candidate(c, k, idx, rel, rellen, kind) : -ENOENT;
	/* Breakpad trees hold only the file; symstore trees may hold the
	 * compressed form or a pointer instead. A .sym is never stored those ways. */
	int symstore = c->type != SRV_HTTP && srvconf_layout(c) != LAYOUT_BREAKPAD && !key_wants_sym(k);
	int nforms = symstore ? 3 : 1;
	if (idx < 0 || idx >= 2 * nforms || spelling(k, idx >= nforms, &sk) < 0)
		return -ENOENT;
	*kind = kinds[idx % nforms];
	if (*kind == CAND_PLAIN)
		snprintf(name, sizeof name, "%s", sk.file);
	else if (*kind == CAND_CAB)
		source_cab_name(sk.file, name, sizeof name);
	else
		snprintf(name, sizeof name, "file.ptr");
	return layout_path(c, &sk, name, rel, rellen);
}

/* Appends `s` to out at *pos; -ENAMETOOLONG if it does not fit. */
static int append(char *out, size_t outlen, size_t *pos, const char *s, size_t len)
{
	if (*pos + len + 1 > outlen)
		return -ENAMETOOLONG;
	memcpy(out + *pos, s, len);
	*pos += len;
	out[*pos] = '\0';
	return 0;
}

/* Appends each '/'-separated component of `path`, escaped, with '/' between. */
static int append_escaped_path(char *out, size_t outlen, size_t *pos, const char *path)
{
	int rc = 0;
	while (*path && rc == 0) {
		size_t len = strcspn(path, "/");
		if (len) {
			char *esc = curl_easy_escape(NULL, path, (int)len);
			if (!esc)
				return -ENOMEM;
			rc = append(out, outlen, pos, "/", 1);
			if (rc == 0)
				rc = append(out, outlen, pos, esc, strlen(esc));
			curl_free(esc);
		}
		path += len;
		if (*path == '/')
			path++;
	}
	return rc;
}

static size_t trimmed_len(const char *s)
{
	size_t len = strlen(s);
	while (len && s[len - 1] == '/')
		len--;
	return len;
}

/* ---- S3 addressing ---- */

const char *source_s3_region(const struct server_config *c)
{
	return c->s3_region[0] ? c->s3_region : "us-east-1";
}

/* AWS itself (no url) is addressed virtual-host style, unless the bucket's
 * name has a dot, which the *.s3.REGION.amazonaws.com certificate does not
 * cover; an S3-compatible endpoint (url set) path-style, which they all speak. */
int source_s3_virtual_host(const struct server_config *c)
{
	return c->type == SRV_S3 && !c->url[0] && !strchr(c->s3_bucket, '.');
}

/* Appends the URL the server's paths hang from, without a trailing '/': its
 * url, or for S3 where the bucket's keys start. */
static int append_base(const struct server_config *c, char *out, size_t outlen, size_t *pos)
{
	char host[2 * SRV_STR_MAX + 64];
	if (c->type != SRV_S3)
		return append(out, outlen, pos, c->url, trimmed_len(c->url));
	if (source_s3_virtual_host(c)) {
		snprintf(host, sizeof host, "https://%s.s3.%s.amazonaws.com", c->s3_bucket, source_s3_region(c));
		return append(out, outlen, pos, host, strlen(host));
	}
	int rc;
	if (c->url[0]) {
		rc = append(out, outlen, pos, c->url, trimmed_len(c->url));
	} else {
		snprintf(host, sizeof host, "https://s3.%s.amazonaws.com", source_s3_region(c));
		rc = append(out, outlen, pos, host, strlen(host));
	}
	return rc < 0 ? rc : append_escaped_path(out, outlen, pos, c->s3_bucket);
}

int source_s3_list_url(const struct server_config *c, char *out, size_t outlen)
{
	static const char list[] = "?list-type=2&max-keys=1";
	size_t pos = 0;
	int rc = append_base(c, out, outlen, &pos);
	if (rc == 0 && source_s3_virtual_host(c))
		rc = append(out, outlen, &pos, "/", 1);
	if (rc == 0)
		rc = append(out, outlen, &pos, list, sizeof list - 1);
	if (rc < 0 || !c->prefix[0])
		return rc;
	/* a policy may allow listing under the prefix only */
	char prefix[SRV_STR_MAX + 1];
	const char *p = c->prefix + strspn(c->prefix, "/");
	snprintf(prefix, sizeof prefix, "%.*s/", (int)trimmed_len(p), p);
	char *esc = curl_easy_escape(NULL, prefix, 0);
	if (!esc)
		return -ENOMEM;
	rc = append(out, outlen, &pos, "&prefix=", 8);
	if (rc == 0)
		rc = append(out, outlen, &pos, esc, strlen(esc));
	curl_free(esc);
	return rc;
}

int source_url(const struct server_config *c, const char *rel, char *out, size_t outlen)
{
	size_t pos = 0;
	int rc = append_base(c, out, outlen, &pos);
	if (rc == 0 && c->prefix[0])
		rc = append_escaped_path(out, outlen, &pos, c->prefix);
	return rc < 0 ? rc : append_escaped_path(out, outlen, &pos, rel);
}

static const char *dir_root(const struct server_config *c)
{
	return strncmp(c->url, "file://", 7) == 0 ? c->url + 7 : c->url;
}

int source_dir_path(const struct server_config *c, const char *rel, char *out, size_t outlen)
{
	const char *root = dir_root(c);
	int n = snprintf(out, outlen, "%.*s%s%s/%s", (int)trimmed_len(root), root, c->prefix[0] ? "/" : "",
			 c->prefix, rel);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int source_dir_root(const struct server_config *c, char *out, size_t outlen)
{
	const char *root = dir_root(c);
	size_t len = trimmed_len(root);
	int n = len ? snprintf(out, outlen, "%.*s", (int)len, root) : snprintf(out, outlen, "/");
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int source_parse_ptr(const char *content, size_t len, char *out, size_t outlen, char *err, size_t errlen)
{
	char text[2048];
	if (len >= sizeof text)
		return snprintf(err, errlen, "file.ptr larger than %zu bytes", sizeof text - 1), -EINVAL;
	memcpy(text, content, len);
	text[len] = '\0';
	text[strcspn(text, "\r\n")] = '\0'; /* one line is all symsrv reads */
	if (strncasecmp(text, "MSG:", 4) == 0)
		return snprintf(err, errlen, "file.ptr says: %.200s", text + 4), -EINVAL;
	if (strncasecmp(text, "PATH:", 5) != 0)
		return snprintf(err, errlen, "file.ptr holds neither PATH: nor MSG:"), -EINVAL;
	char *where = text + 5;
	while (*where == ' ')
		where++;
	if (!*where)
		return snprintf(err, errlen, "file.ptr has an empty PATH:"), -EINVAL;
	for (const unsigned char *p = (const unsigned char *)where; *p; p++)
		if (*p < 0x20)
			return snprintf(err, errlen, "file.ptr path has a control character"), -EINVAL;
	if (strncmp(where, "\\\\", 2) == 0)
		return snprintf(err, errlen, "file.ptr points at UNC path %.200s, unreachable from this host", where),
		       -EINVAL;
	if (where[0] && where[1] == ':' && (where[2] == '\\' || where[2] == '/'))
		return snprintf(err, errlen, "file.ptr points at Windows path %.200s", where), -EINVAL;
	if (strlen(where) >= outlen)
		return snprintf(err, errlen, "file.ptr path too long"), -EINVAL;
	for (char *p = where; *p; p++)
		if (*p == '\\')
			*p = '/';
	for (const char *p = where; *p;) { /* no '..' component anywhere, first, inside or last */
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return snprintf(err, errlen, "file.ptr path climbs out with '..'"), -EINVAL;
		p += n + (p[n] == '/');
	}
	snprintf(out, outlen, "%s", where);
	if (strncasecmp(where, "http://", 7) == 0 || strncasecmp(where, "https://", 8) == 0)
		return PTR_URL;
	return where[0] == '/' ? PTR_LOCAL : PTR_RELATIVE;
}

/* Length of "scheme://host[:port]" at the start of url. */
static size_t origin_len(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	return (size_t)(p - url) + strcspn(p, "/?#");
}

int source_same_origin(const struct server_config *c, const char *url)
{
	char base[SRV_URL_MAX + 3 * SRV_STR_MAX + 64];
	size_t pos = 0;
	if (append_base(c, base, sizeof base, &pos) < 0)
		return 0;
	size_t a = origin_len(base), b = origin_len(url);
	return a && a == b && strncasecmp(base, url, a) == 0;
}

/* ---- where secrets go ---- */

/* The port curl connects to for a proxy URL that names none
 * (CURLOPT_PROXYPORT): 443 for https, 1080 for every other kind. */
static const char *proxy_default_port(const char *scheme)
{
	return strcmp(scheme, "https") == 0 ? "443" : "1080";
}

/* "scheme://host:port" of url, by libcurl's parser (which gives the scheme
 * in lower case and the host as written: lowered here). A URL without a
 * port gets its scheme's; a proxy's, the one curl connects to. Proxies may
 * be socks*://, a scheme the parser has no default port for. */
static int url_origin(const char *url, int proxy, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = u ? -EINVAL : -ENOMEM;
	if (u && curl_url_set(u, CURLUPART_URL, url, proxy ? CURLU_NON_SUPPORT_SCHEME : 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		CURLUcode got = curl_url_get(u, CURLUPART_PORT, &port, proxy ? 0 : CURLU_DEFAULT_PORT);
		if (got == CURLUE_OK || (proxy && got == CURLUE_NO_PORT)) {
			for (char *p = host; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			const char *at = port ? port : proxy_default_port(scheme);
			int n = snprintf(out, outlen, "%s://%s:%s", scheme, host, at);
			rc = n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* 1 if c's requests carry `which` to the server itself (set_credentials in
 * transfer.c): Basic auth for the HTTP types, signatures for S3. */
static int sent_to_server(const struct server_config *c, enum source_secret which)
{
	if (which == SECRET_PASSWORD)
		return c->type == SRV_SYMSRV || c->type == SRV_HTTP || c->type == SRV_DEBUGINFOD;
	return which == SECRET_S3_SECRET_KEY && c->type == SRV_S3;
}

int source_secret_destination(const struct server_config *c, enum source_secret which, char *out, size_t outlen)
{
	char proxy[SRV_URL_MAX + 16] = "", server[SRV_URL_MAX + 3 * SRV_STR_MAX + 64] = "";
	char base[SRV_URL_MAX + 3 * SRV_STR_MAX + 64];
	size_t pos = 0;
	int rc = 0;
	out[0] = '\0';
	if (c->type == SRV_DIR || !source_supported(c))
		return 0; /* nothing of it goes over the network */
	if (c->proxy[0] && (rc = url_origin(c->proxy, 1, proxy, sizeof proxy)) < 0)
		return rc;
	if (sent_to_server(c, which) && (rc = append_base(c, base, sizeof base, &pos)) == 0)
		rc = url_origin(base, 0, server, sizeof server);
	if (rc < 0)
		return rc;
	int n = 0;
	if (which == SECRET_PROXY_PASSWORD)
		n = snprintf(out, outlen, "%s", proxy);
	else if (server[0])
		n = snprintf(out, outlen, "%s%s%s", server, proxy[0] ? " via " : "", proxy);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}
