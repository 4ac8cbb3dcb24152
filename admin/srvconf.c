#include "admin/srvconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/ini_text.h"
#include "common/text.h"

enum field_kind { F_STR, F_INT, F_BOOL, F_TYPE, F_LAYOUT };

struct field {
	const char *key;
	enum field_kind kind;
	size_t offset;
	size_t size; /* F_STR: capacity */
	long min, max;
	int secret;
};

#define STR(k, s) {#k, F_STR, offsetof(struct server_config, k), sizeof(((struct server_config *)0)->k), 0, 0, s}
#define INT(k, lo, hi) {#k, F_INT, offsetof(struct server_config, k), 0, lo, hi, 0}
#define BOOL(k) {#k, F_BOOL, offsetof(struct server_config, k), 0, 0, 1, 0}

/* Rendering order is this table's order: the SPEC's order, the two limits
 * of time beside timeout_s. */
static const struct field fields[] = {
	{"type", F_TYPE, offsetof(struct server_config, type), 0, 0, 0, 0},
	STR(url, 0),
	BOOL(enabled),
	INT(priority, -1000000, 1000000),
	{"layout", F_LAYOUT, offsetof(struct server_config, layout), 0, 0, 0, 0},
	STR(prefix, 0),
	BOOL(whitelist_enabled),
	INT(concurrency, 1, 64),
	INT(retries, 1, 100),
	INT(skiplist_ttl, 0, 365 * 86400),
	INT(timeout_s, 1, 3600),
	INT(max_transfer_s, 0, 86400),
	INT(slot_wait_s, 0, 3600),
	STR(proxy, 0),
	STR(proxy_user, 0),
	STR(proxy_password, 1),
	STR(user, 0),
	STR(password, 1),
	STR(s3_bucket, 0),
	STR(s3_region, 0),
	STR(s3_access_key, 0),
	STR(s3_secret_key, 1),
	STR(ca_file, 0),
	BOOL(verify_tls),
	BOOL(upload),
};

static const char *const type_names[] = {
	[SRV_NONE] = "", [SRV_SYMSRV] = "symsrv", [SRV_HTTP] = "http",
	[SRV_S3] = "s3", [SRV_DEBUGINFOD] = "debuginfod", [SRV_DIR] = "dir",
};
static const char *const layout_names[] = {
	[LAYOUT_DEFAULT] = "", [LAYOUT_SYMSTORE] = "symstore", [LAYOUT_INDEX2] = "index2",
	[LAYOUT_BREAKPAD] = "breakpad", [LAYOUT_DEBUGINFOD] = "debuginfod",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void srvconf_init(struct server_config *c)
{
	memset(c, 0, sizeof *c);
	c->enabled = 1;
	c->priority = 100;
	c->concurrency = 4;
	c->retries = 3;
	c->skiplist_ttl = 12 * 3600;
	c->timeout_s = 30;
	/* 1.2 GB at 2 MB/s: the biggest PDBs on a slow link still arrive */
	c->max_transfer_s = 600;
	/* well under an open's wait limit (30 s), and above most transfers of
	 * a healthy server */
	c->slot_wait_s = 2;
	c->verify_tls = 1;
}

int srvconf_valid_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > SRV_NAME_MAX || name[0] == '.')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

const char *srvconf_type_name(enum server_type t)
{
	return (size_t)t < COUNT(type_names) ? type_names[t] : "";
}

static int lookup_name(const char *const *names, size_t n, const char *value)
{
	for (size_t i = 1; i < n; i++)
		if (strcasecmp(names[i], value) == 0)
			return (int)i;
	return -1;
}

static int parse_long(const char *value, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || end == value || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *value, int *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false", "off"};
	for (size_t i = 0; i < COUNT(yes); i++) {
		if (strcasecmp(value, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(value, no[i]) == 0)
			return *out = 0, 0;
	}
	return -EINVAL;
}

static const struct field *find_field(const char *key)
{
	for (size_t i = 0; i < COUNT(fields); i++)
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	return NULL;
}

static int set_field(struct server_config *c, const struct field *f, const char *value, char *err, size_t errlen)
{
	char *base = (char *)c + f->offset;
	long n;
	int b, idx;
	switch (f->kind) {
	case F_STR:
		if (strlen(value) >= f->size)
			return snprintf(err, errlen, "%s: value longer than %zu bytes", f->key, f->size - 1), -EINVAL;
		memcpy(base, value, strlen(value) + 1);
		return 0;
	case F_INT:
		if (parse_long(value, &n) < 0 || n < f->min || n > f->max)
			return snprintf(err, errlen, "%s: want a whole number in %ld..%ld, got '%s'", f->key,
					f->min, f->max, value),
			       -EINVAL;
		*(int *)base = (int)n;
		return 0;
	case F_BOOL:
		if (parse_bool(value, &b) < 0)
			return snprintf(err, errlen, "%s: want 0 or 1, got '%s'", f->key, value), -EINVAL;
		*(int *)base = b;
		return 0;
	case F_TYPE: /* "" is no type yet: what srvconf_render writes for it */
		idx = value[0] ? lookup_name(type_names, COUNT(type_names), value) : 0;
		if (idx < 0)
			return snprintf(err, errlen, "type: want symsrv, http, s3, debuginfod or dir, got '%s'", value),
			       -EINVAL;
		*(enum server_type *)base = (enum server_type)idx;
		return 0;
	case F_LAYOUT:
		idx = value[0] ? lookup_name(layout_names, COUNT(layout_names), value) : 0;
		if (idx < 0)
			return snprintf(err, errlen,
					"layout: want symstore, index2, breakpad or debuginfod, got '%s'", value),
			       -EINVAL;
		*(enum server_layout *)base = (enum server_layout)idx;
		return 0;
	}
	return -EINVAL;
}

int srvconf_set(struct server_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct field *f = find_field(key);
	if (!f)
		return snprintf(err, errlen, "unknown key '%s'", key), -EINVAL;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return snprintf(err, errlen, "%s: control character in value", key), -EINVAL;
	return set_field(c, f, value, err, errlen);
}

int srvconf_is_secret(const char *key)
{
	const struct field *f = find_field(key);
	return f && f->secret;
}

static int parse_pair(void *ctx, const char *key, const char *value, char *err, size_t errlen)
{
	return srvconf_set(ctx, key, value, err, errlen);
}

int srvconf_parse(struct server_config *c, const char *text, char *err, size_t errlen)
{
	const struct ini_text_reader reader = {NULL, parse_pair, c}; /* no [sections] in a server's config */
	char reason[256];
	int line, rc = ini_text_read(text, &reader, &line, reason, sizeof reason);
	if (rc < 0 && line)
		snprintf(err, errlen, "line %d: %s", line, reason);
	return rc;
}

static int has_scheme(const char *url, const char *const *schemes)
{
	for (; *schemes; schemes++)
		if (strncasecmp(url, *schemes, strlen(*schemes)) == 0 && url[strlen(*schemes)])
			return 1;
	return 0;
}

/* The bucket and region become part of a host name (BUCKET.s3.REGION.
 * amazonaws.com) or a path: letters, digits, '.', '-', '_' only. */
static int check_s3(const struct server_config *c, char *err, size_t errlen)
{
	static const char *const web[] = {"http://", "https://", NULL};
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
	if (!c->s3_bucket[0])
		return snprintf(err, errlen, "s3_bucket: an s3 server needs a bucket"), -EINVAL;
	if (strspn(c->s3_bucket, name_chars) != strlen(c->s3_bucket) || c->s3_bucket[0] == '.')
		return snprintf(err, errlen, "s3_bucket: letters, digits, '.', '-' and '_' only"), -EINVAL;
	if (strspn(c->s3_region, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
	    strlen(c->s3_region))
		return snprintf(err, errlen, "s3_region: letters, digits, '-' and '_' only"), -EINVAL;
	if (c->url[0] && !has_scheme(c->url, web))
		return snprintf(err, errlen, "url: want the S3 endpoint as an http:// or https:// URL, or none"),
		       -EINVAL;
	return 0;
}

int srvconf_check(const struct server_config *c, char *err, size_t errlen)
{
	static const char *const web[] = {"http://", "https://", NULL};
	static const char *const proxies[] = {"http://", "https://", "socks4://", "socks4a://",
					      "socks5://", "socks5h://", NULL};
	switch (c->type) {
	case SRV_NONE:
		return snprintf(err, errlen, "no type: set type = symsrv, http, s3, debuginfod or dir"), -EINVAL;
	case SRV_SYMSRV:
	case SRV_HTTP:
	case SRV_DEBUGINFOD:
		if (!has_scheme(c->url, web))
			return snprintf(err, errlen, "url: want an http:// or https:// URL"), -EINVAL;
		break;
	case SRV_DIR:
		if (c->url[0] != '/' && strncmp(c->url, "file:///", 8) != 0)
			return snprintf(err, errlen, "url: want an absolute path or a file:/// URL"), -EINVAL;
		break;
	case SRV_S3:
		return check_s3(c, err, errlen);
	}
	if (c->proxy[0] && !has_scheme(c->proxy, proxies))
		return snprintf(err, errlen, "proxy: want an http, https or socks URL"), -EINVAL;
	return 0;
}

int srvconf_incomplete(const struct server_config *c)
{
	switch (c->type) {
	case SRV_NONE:
		return 1;
	case SRV_S3:
		return !c->s3_bucket[0];
	default:
		return !c->url[0];
	}
}

enum server_layout srvconf_layout(const struct server_config *c)
{
	if (c->layout != LAYOUT_DEFAULT)
		return c->layout;
	switch (c->type) {
	case SRV_HTTP:
		return LAYOUT_BREAKPAD;
	case SRV_DEBUGINFOD:
		return LAYOUT_DEBUGINFOD;
	default:
		return LAYOUT_SYMSTORE;
	}
}

/* A string key; shown to a human (hide_secrets), a secret is "***", and
 * a URL's user:password@ is "***@" (text_url_shown). */
static int render_str(struct buf *out, const struct field *f, const char *value, int hide_secrets)
{
	char shown[SRV_URL_MAX];
	if (hide_secrets && f->secret && *value)
		return buf_printf(out, "%s = ***\n", f->key);
	if (hide_secrets && (strcmp(f->key, "url") == 0 || strcmp(f->key, "proxy") == 0)) {
		text_url_shown(value, shown, sizeof shown);
		return buf_printf(out, "%s = %s\n", f->key, shown);
	}
	return buf_printf(out, "%s = %s\n", f->key, value);
}

int srvconf_render(const struct server_config *c, struct buf *out, int hide_secrets)
{
	int rc = 0;
	for (size_t i = 0; i < COUNT(fields) && rc == 0; i++) {
		const struct field *f = &fields[i];
		const char *base = (const char *)c + f->offset;
		switch (f->kind) {
		case F_STR:
			rc = render_str(out, f, base, hide_secrets);
			break;
		case F_INT:
		case F_BOOL:
			rc = buf_printf(out, "%s = %d\n", f->key, *(const int *)base);
			break;
		case F_TYPE:
			rc = buf_printf(out, "%s = %s\n", f->key, srvconf_type_name(c->type));
			break;
		case F_LAYOUT:
			rc = buf_printf(out, "%s = %s\n", f->key, layout_names[srvconf_layout(c)]);
			break;
		}
	}
	return rc;
}
