/* srvconf: one upstream server's configuration — the per-server keys of
 * SPEC §3, and the two that bound how long a transfer, or a wait for one,
 * may take (max_transfer_s, slot_wait_s) — parsed from "key = value" pairs,
 * checked as a whole, and rendered back (with secrets as "***" wherever a
 * human can read it). The config file's [server NAME] sections, the catalog
 * and the control tree's `config` files all go through here. */
#ifndef SYMBOLD_SRVCONF_H
#define SYMBOLD_SRVCONF_H

#include <stddef.h>

#include "common/buf.h"

#define SRV_NAME_MAX 64
#define SRV_URL_MAX 1024
#define SRV_STR_MAX 256

enum server_type { SRV_NONE, SRV_SYMSRV, SRV_HTTP, SRV_S3, SRV_DEBUGINFOD, SRV_DIR };
enum server_layout { LAYOUT_DEFAULT, LAYOUT_SYMSTORE, LAYOUT_INDEX2, LAYOUT_BREAKPAD, LAYOUT_DEBUGINFOD };

struct server_config {
	enum server_type type;
	char url[SRV_URL_MAX];
	int enabled;
	int priority; /* ascending: lower values are asked first */
	enum server_layout layout;
	char prefix[SRV_STR_MAX];
	int whitelist_enabled;
	int concurrency;    /* transfers in flight at once */
	int retries;        /* failed attempts before a key is skiplisted */
	int skiplist_ttl;   /* seconds */
	int timeout_s;      /* connect timeout, and the low-speed window */
	int max_transfer_s; /* a transfer's whole time at most; 0: no limit */
	int slot_wait_s;    /* an open's wait for a free slot before the next server is asked */
	char proxy[SRV_URL_MAX];
	char proxy_user[SRV_STR_MAX];
	char proxy_password[SRV_STR_MAX];
	char user[SRV_STR_MAX];
	char password[SRV_STR_MAX];
	char s3_bucket[SRV_STR_MAX];
	char s3_region[SRV_STR_MAX];
	char s3_access_key[SRV_STR_MAX];
	char s3_secret_key[SRV_STR_MAX];
	char ca_file[SRV_STR_MAX];
	int verify_tls;
	int upload;
};

/* The defaults every key starts from (enabled, priority 100, concurrency 4,
 * retries 3, skiplist_ttl 12 h, timeout_s 30, max_transfer_s 600,
 * slot_wait_s 2, verify_tls on). */
void srvconf_init(struct server_config *c);

/* 1 if `name` is a usable server name: 1..64 of [A-Za-z0-9._-], no leading dot. */
int srvconf_valid_name(const char *name);

/* Sets one key. Returns 0, or -EINVAL with the reason in `err` (unknown key,
 * bad number, value out of range, control characters). */
int srvconf_set(struct server_config *c, const char *key, const char *value, char *err, size_t errlen);

/* 1 if `key` is a secret (password, proxy_password, s3_secret_key): never
 * shown, rendered as "***". */
int srvconf_is_secret(const char *key);

/* Parses "key = value" lines (admin/ini_text: '#' and ';' comment lines,
 * blank lines, no [section]) onto `c`; a bad line is -EINVAL with "line N:
 * reason" in `err`, and `c` may be half-updated: parse into a copy. */
int srvconf_parse(struct server_config *c, const char *text, char *err, size_t errlen);

/* Checks the configuration as a whole (a type, a URL the type can use). */
int srvconf_check(const struct server_config *c, char *err, size_t errlen);
/* 1 if a key its type needs is not set yet (type; url; an s3 bucket): a
 * text that says so may be unfinished rather than wrong. */
int srvconf_incomplete(const struct server_config *c);

/* Renders every key as "key = value\n". With `hide_secrets`, secrets that are
 * set read "***". */
int srvconf_render(const struct server_config *c, struct buf *out, int hide_secrets);

/* The layout actually used: LAYOUT_DEFAULT resolved from the type. */
enum server_layout srvconf_layout(const struct server_config *c);

const char *srvconf_type_name(enum server_type t);

#endif
