#include "admin/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin/ini_text.h"
#include "common/text.h"

static void data_home(char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	if (xdg && xdg[0] == '/')
		snprintf(out, outlen, "%s/symbold", xdg);
	else
		snprintf(out, outlen, "%s/.local/share/symbold", home && *home ? home : "/var/lib");
}

void options_defaults(struct options *o)
{
	char base[PATH_MAX - 32];
	const char *home = getenv("HOME");
	memset(o, 0, sizeof *o);
	data_home(base, sizeof base);
	snprintf(o->store, sizeof o->store, "%s/store", base);
	snprintf(o->db, sizeof o->db, "%s/catalog.db", base);
	if (access("/etc/symbold/symbold.conf", R_OK) == 0)
		snprintf(o->config, sizeof o->config, "/etc/symbold/symbold.conf");
	else if (home && *home) {
		snprintf(o->config, sizeof o->config, "%s/.config/symbold/symbold.conf", home);
		if (access(o->config, R_OK) != 0)
			o->config[0] = '\0';
	}
	o->wait = 30;
	o->negative_ttl = 3600;
	o->default_servers = 1;
	o->workers = 4;
	o->max_file_size = 8LL << 30;
	o->log_lines = 10000;
	o->reprocess_window = 2;
	o->reprocess_concurrency = 4;
	o->reprocess_retries = 3;
	o->missing_max_age = 30;
	o->missing_max_records = 100000;
	o->watch_store = 1;
	o->lease_ttl = 30;
	budget_parse_size(BUDGET_DEFAULT_SIZE, &o->budget, NULL, 0);
	o->missing_retry = 3600;
	o->busy_poll = 50;
}

static int set_path(char *dst, size_t size, const char *key, const char *value, char *err, size_t errlen)
{
	if (strlen(value) >= size)
		return snprintf(err, errlen, "%s: too long", key), -EINVAL;
	snprintf(dst, size, "%s", value);
	return 0;
}

static int set_number(double *out, const char *key, const char *value, double lo, double hi, int whole,
		      char *err, size_t errlen)
{
	char *end;
	errno = 0;
	double v = strtod(value, &end);
	if (errno || end == value || *end || !isfinite(v) || v < lo || v > hi)
		return snprintf(err, errlen, "%s: want a number in %g..%g, got '%s'", key, lo, hi, value), -EINVAL;
	if (whole && v != (double)(long long)v) /* the range keeps the cast defined */
		return snprintf(err, errlen, "%s: want a whole number, got '%s'", key, value), -EINVAL;
	*out = v;
	return 0;
}

int options_set(struct options *o, const char *key, const char *value, char *err, size_t errlen)
{
	double v;
	int rc;
#define PATH_OPT(name)                                                                                     \
	if (strcmp(key, #name) == 0)                                                                       \
		return set_path(o->name, sizeof o->name, key, value, err, errlen);
	PATH_OPT(store)
	PATH_OPT(db)
	PATH_OPT(config)
	PATH_OPT(reprocess_dir)
	PATH_OPT(reprocess_cmd)
	PATH_OPT(admin_group)
	PATH_OPT(control_dir)
#undef PATH_OPT
#define NUM_OPT(name, lo, hi, whole, assign)                                                               \
	if (strcmp(key, #name) == 0) {                                                                     \
		if ((rc = set_number(&v, key, value, lo, hi, whole, err, errlen)) < 0)                     \
			return rc;                                                                         \
		assign;                                                                                    \
		return 0;                                                                                  \
	}
	NUM_OPT(wait, 0, 86400, 0, o->wait = v)
	NUM_OPT(negative_ttl, 0, 30 * 86400, 1, o->negative_ttl = (int)v)
	NUM_OPT(default_servers, 0, 1, 1, o->default_servers = (int)v)
	NUM_OPT(workers, 1, 64, 1, o->workers = (int)v)
	NUM_OPT(max_file_size, 1024, 1e13, 1, o->max_file_size = (long long)v)
	NUM_OPT(log_lines, 10, 10000000, 1, o->log_lines = (int)v)
	NUM_OPT(reprocess_window, 0, 3600, 0, o->reprocess_window = v)
	NUM_OPT(reprocess_concurrency, 1, 16, 1, o->reprocess_concurrency = (int)v)
	NUM_OPT(reprocess_retries, 0, 20, 1, o->reprocess_retries = (int)v)
	NUM_OPT(missing_max_age, 1, 3650, 1, o->missing_max_age = (int)v)
	NUM_OPT(missing_max_records, 10, 1e9, 1, o->missing_max_records = (long long)v)
	NUM_OPT(watch_store, 0, 2, 1, o->watch_store = (int)v)
	NUM_OPT(lease_ttl, 0, 3600, 1, o->lease_ttl = (int)v)
	NUM_OPT(missing_retry, 0, 86400 * 30, 1, o->missing_retry = (int)v)
	NUM_OPT(busy_poll, 0, 100000, 0, o->busy_poll = v)
	NUM_OPT(max_unused_age, 0, 1e10, 1, o->budget.unused_age = (long long)v)
	if (strcmp(key, "max_store_size") == 0) {
		char why[160];
		if ((rc = budget_parse_size(value, &o->budget, why, sizeof why)) < 0)
			snprintf(err, errlen, "%s: %s", key, why);
		return rc;
	}
#undef NUM_OPT
	snprintf(err, errlen, "unknown option '%s'", key);
	return -EINVAL;
}

struct ini_state {
	struct options *o;
	struct config_server *servers;
	size_t n;
	struct config_server *current; /* NULL while in [symbold] */
	int in_section;
};

/* "[symbold]" or "[server NAME]", read here rather than by libinih, which
 * would not see an empty or repeated header (admin/ini_text.h) */
static int ini_section(void *ctx, char *s, char *err, size_t errlen)
{
	struct ini_state *st = ctx;
	char *end = strchr(s, ']');
	if (!end || text_trim(end + 1)[0])
		return snprintf(err, errlen, "malformed section header"), -EINVAL;
	*end = '\0';
	s = text_trim(s + 1);
	st->in_section = 1;
	if (strcmp(s, "symbold") == 0) {
		st->current = NULL;
		return 0;
	}
	if (strncmp(s, "server", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
		return snprintf(err, errlen, "unknown section [%s]: want [symbold] or [server NAME]", s), -EINVAL;
	const char *name = text_trim(s + 6);
	if (!srvconf_valid_name(name))
		return snprintf(err, errlen, "bad server name '%s'", name), -EINVAL;
	for (size_t i = 0; i < st->n; i++)
		if (strcasecmp(st->servers[i].name, name) == 0)
			return snprintf(err, errlen, "server '%s' defined twice", name), -EINVAL;
	struct config_server *grown = realloc(st->servers, (st->n + 1) * sizeof *grown);
	if (!grown)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	st->servers = grown;
	st->current = &grown[st->n++];
	snprintf(st->current->name, sizeof st->current->name, "%s", name);
	srvconf_init(&st->current->cfg);
	return 0;
}

/* A key of a [server NAME] section. "***" is how the control tree shows a
 * secret, and written back there it keeps the stored one; this file has
 * none to keep (it replaces its servers at every start), so a "***" here is
 * a shown config pasted in: refused, rather than sent as the secret. */
static int ini_server_key(struct config_server *s, const char *key, const char *value, char *err, size_t errlen)
{
	if (srvconf_is_secret(key) && strcmp(value, "***") == 0)
		return snprintf(err, errlen,
				"%s = ***: \"***\" keeps a stored secret only when written to the control tree; "
				"give the secret itself here",
				key),
		       -EINVAL;
	return srvconf_set(&s->cfg, key, value, err, errlen);
}

static int ini_pair(void *ctx, const char *key, const char *value, char *err, size_t errlen)
{
	struct ini_state *st = ctx;
	if (!st->in_section)
		return snprintf(err, errlen, "key outside a section"), -EINVAL;
	if (st->current)
		return ini_server_key(st->current, key, value, err, errlen);
	return options_set(st->o, key, value, err, errlen);
}

/* Reads the file into st; -errno with "FILE:LINE: reason" (or "FILE:
 * reason" if it cannot be read) in err. */
static int ini_read(struct ini_state *st, FILE *f, char *err, size_t errlen)
{
	const struct ini_text_reader reader = {ini_section, ini_pair, st};
	char reason[512] = "";
	int line, rc = ini_text_read_file(f, &reader, &line, reason, sizeof reason);
	if (rc < 0 && line)
		snprintf(err, errlen, "%s:%d: %s", st->o->config, line, reason);
	else if (rc < 0)
		snprintf(err, errlen, "%s: %s", st->o->config, strerror(-rc));
	return rc;
}

int config_load(struct options *o, struct config_server **servers, size_t *nservers, char *err, size_t errlen)
{
	struct ini_state st = {o, NULL, 0, NULL, 0};
	char reason[512];
	int rc;
	*servers = NULL;
	*nservers = 0;
	if (!o->config[0])
		return 0;
	FILE *f = fopen(o->config, "r");
	if (!f)
		return rc = -errno, snprintf(err, errlen, "%s: %s", o->config, strerror(-rc)), rc;
	rc = ini_read(&st, f, err, errlen);
	fclose(f);
	for (size_t i = 0; rc == 0 && i < st.n; i++)
		if ((rc = srvconf_check(&st.servers[i].cfg, reason, sizeof reason)) < 0)
			snprintf(err, errlen, "%s: [server %s]: %s", o->config, st.servers[i].name, reason);
	if (rc < 0) {
		free(st.servers);
		return rc;
	}
	*servers = st.servers;
	*nservers = st.n;
	return 0;
}
