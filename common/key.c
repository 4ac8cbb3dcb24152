#include "common/key.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int key_valid_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > KEY_NAME_MAX)
		return 0;
	if (name[0] == '.' || name[0] == ' ' || name[len - 1] == ' ')
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			return 0;
		if (strchr("/\\:*?\"<>|", *p))
			return 0;
	}
	return 1;
}

static int all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int key_normalize_id(const char *id, char out[KEY_ID_MAX + 1])
{
	size_t len = strlen(id);
	int pdb_like = len >= 33 && len <= 40;
	int pe_like = len >= 9 && len <= 16;
	if ((!pdb_like && !pe_like) || !all_hex(id, len))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int upper = pdb_like || i < 8;
		out[i] = (char)(upper ? toupper((unsigned char)id[i]) : tolower((unsigned char)id[i]));
	}
	out[len] = '\0';
	return 0;
}

int key_sym_name(const char *debug_file, char *out, size_t outlen)
{
	size_t len = strlen(debug_file);
	int n;
	if (len > 4 && strcasecmp(debug_file + len - 4, ".pdb") == 0)
		n = snprintf(out, outlen, "%.*s.sym", (int)(len - 4), debug_file);
	else
		n = snprintf(out, outlen, "%s.sym", debug_file);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int key_make(struct sym_key *k, const char *debug_file, const char *debug_id, const char *file)
{
	char sym[KEY_NAME_MAX + 8];
	memset(k, 0, sizeof *k); /* a symbol key: no build-id */
	if (!key_valid_name(debug_file) || !key_valid_name(file))
		return -ENOENT;
	if (key_normalize_id(debug_id, k->debug_id) < 0)
		return -ENOENT;
	if (strcasecmp(file, debug_file) != 0) {
		if (key_sym_name(debug_file, sym, sizeof sym) < 0 || strcasecmp(file, sym) != 0)
			return -ENOENT;
	}
	snprintf(k->debug_file, sizeof k->debug_file, "%s", debug_file);
	snprintf(k->file, sizeof k->file, "%s", file);
	return 0;
}

int key_normalize_build_id(const char *hex, char out[KEY_BUILD_ID_MAX + 1])
{
	size_t len = strlen(hex);
	if (len < KEY_BUILD_ID_MIN || len > KEY_BUILD_ID_MAX || len % 2 || !all_hex(hex, len))
		return -EINVAL;
	memcpy(out, hex, len + 1);
	key_lower(out);
	return 0;
}

int key_build_id_dir_valid(const char *name)
{
	return strlen(name) == 2 && all_hex(name, 2);
}

/* The length of `suffix` if `name` (longer than it) ends with it, any case; else 0. */
static size_t suffix_of(const char *name, const char *suffix)
{
	size_t len = strlen(name), n = strlen(suffix);
	return len > n && strcasecmp(name + len - n, suffix) == 0 ? n : 0;
}

int key_make_build_id(struct sym_key *k, const char *xx, const char *name)
{
	char full[KEY_BUILD_ID_MAX + 1];
	size_t debuginfo = suffix_of(name, ".debug"), sym = debuginfo ? 0 : suffix_of(name, ".sym");
	size_t rest = strlen(name) - debuginfo - sym;
	memset(k, 0, sizeof *k);
	if (!key_build_id_dir_valid(xx) || 2 + rest > KEY_BUILD_ID_MAX)
		return -ENOENT;
	snprintf(full, sizeof full, "%s%.*s", xx, (int)rest, name);
	if (key_normalize_build_id(full, k->build_id) < 0)
		return -ENOENT;
	k->kind = KEY_BUILD_ID;
	k->executable = !debuginfo && !sym;
	snprintf(k->debug_file, sizeof k->debug_file, "%s", KEY_BUILD_ID_DIR);
	snprintf(k->file, sizeof k->file, "%s%s", k->build_id + 2, debuginfo ? ".debug" : sym ? ".sym" : "");
	return 0;
}

int key_wants_sym(const struct sym_key *k)
{
	if (k->kind == KEY_BUILD_ID)
		return suffix_of(k->file, ".sym") != 0;
	return strcasecmp(k->file, k->debug_file) != 0;
}

void key_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

void key_pair(const struct sym_key *k, char out[KEY_PAIR_MAX])
{
	if (k->kind == KEY_BUILD_ID) {
		snprintf(out, KEY_PAIR_MAX, "%s/%s", KEY_BUILD_ID_DIR, k->build_id);
		return;
	}
	snprintf(out, KEY_PAIR_MAX, "%s/%s", k->debug_file, k->debug_id);
	char *slash = strchr(out, '/');
	*slash = '\0';
	key_lower(out);
	*slash = '/';
}

void key_relpath(const struct sym_key *k, char out[KEY_PATH_MAX])
{
	char df[KEY_NAME_MAX + 1], f[KEY_NAME_MAX + 1];
	if (k->kind == KEY_BUILD_ID) {
		snprintf(out, KEY_PATH_MAX, "%s/%.2s/%s", KEY_BUILD_ID_DIR, k->build_id, k->file);
		return;
	}
	snprintf(df, sizeof df, "%s", k->debug_file);
	snprintf(f, sizeof f, "%s", k->file);
	key_lower(df);
	key_lower(f);
	snprintf(out, KEY_PATH_MAX, "%s/%s/%s", df, k->debug_id, f);
}

void key_path_asked(const struct sym_key *k, char out[KEY_PATH_MAX])
{
	if (k->kind == KEY_BUILD_ID)
		key_relpath(k, out); /* lower-case hex: spelled as the store spells it */
	else
		snprintf(out, KEY_PATH_MAX, "%s/%s/%s", k->debug_file, k->debug_id, k->file);
}
