#include "admin/lists.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	if (*p < 0x80)
		return 1;
	if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
		n = 2;
	else if ((*p & 0xf0) == 0xe0)
		n = 3;
	else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* no overlong forms, UTF-16 surrogates or code points above U+10FFFF */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) || (p[0] == 0xf0 && p[1] < 0x90) ||
	    (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return n;
}

static int check_bytes(const char *line, size_t len, char *reason, size_t rlen)
{
	const unsigned char *p = (const unsigned char *)line, *end = p + len;
	while (p < end) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return snprintf(reason, rlen, "control character 0x%02x", *p), -EINVAL;
		size_t n = utf8_seq_len(p, end);
		if (!n)
			return snprintf(reason, rlen, "invalid UTF-8 byte 0x%02x", *p), -EINVAL;
		p += n;
	}
	return 0;
}

/* The id of a "<debug_file>/<id>" key entry: a debug id, or the full
 * build-id of a ".build-id/<build-id>" key (common/key.h key_pair). */
static int normalise_key_id(const char *df, const char *id, char out[KEY_BUILD_ID_MAX + 1])
{
	if (strcasecmp(df, KEY_BUILD_ID_DIR) == 0)
		return key_normalize_build_id(id, out);
	return key_valid_name(df) ? key_normalize_id(id, out) : -EINVAL;
}

/* Turns one non-empty entry into its normalised form. */
static int normalise_entry(const char *entry, char **out, char *reason, size_t rlen)
{
	const char *slash = strchr(entry, '/');
	char buf[LIST_LINE_MAX + KEY_BUILD_ID_MAX + 2];
	if (!slash) {
		snprintf(buf, sizeof buf, "%s", entry);
	} else {
		char df[LIST_LINE_MAX + 1], id[KEY_BUILD_ID_MAX + 1];
		snprintf(df, sizeof df, "%.*s", (int)(slash - entry), entry);
		if (strchr(slash + 1, '/') || normalise_key_id(df, slash + 1, id) < 0)
			return snprintf(reason, rlen, "'%s' has a '/' but is not a <debug_file>/<debug_id> key",
					entry),
			       -EINVAL;
		key_lower(df);
		snprintf(buf, sizeof buf, "%s/%s", df, id);
	}
	if (!slash)
		key_lower(buf);
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

static int add_entry(struct patlist *l, char *entry)
{
	char **grown = realloc(l->entries, (l->n + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	l->entries = grown;
	l->entries[l->n++] = entry;
	return 0;
}

static int parse_line(struct patlist *l, char *line, size_t len, char *reason, size_t rlen)
{
	if (len && line[len - 1] == '\r') /* CRLF: the CR is part of the line ending */
		line[--len] = '\0';
	if (len > LIST_LINE_MAX)
		return snprintf(reason, rlen, "line longer than %d bytes", LIST_LINE_MAX), -EINVAL;
	int rc = check_bytes(line, len, reason, rlen);
	if (rc < 0)
		return rc;
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *entry = text_trim(line), *norm;
	if (!*entry)
		return 0;
	rc = normalise_entry(entry, &norm, reason, rlen);
	if (rc == 0 && (rc = add_entry(l, norm)) < 0)
		free(norm);
	return rc;
}

int patlist_parse(struct patlist *out, const char *text, char *err, size_t errlen)
{
	struct patlist l = {NULL, 0, strdup(text)};
	char *copy = strdup(text), reason[256] = "";
	int rc = l.text && copy ? 0 : -ENOMEM, lineno = 0;
	char *cursor = copy, *line;
	while (rc == 0 && (line = text_next_line(&cursor))) {
		lineno++;
		rc = parse_line(&l, line, strlen(line), reason, sizeof reason);
	}
	free(copy);
	if (rc < 0) {
		if (rc == -EINVAL)
			snprintf(err, errlen, "line %d: %s", lineno, reason);
		patlist_free(&l);
		return rc;
	}
	*out = l;
	return 0;
}

void patlist_free(struct patlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->entries[i]);
	free(l->entries);
	free(l->text);
	memset(l, 0, sizeof *l);
}

int patlist_match(const struct patlist *l, const struct sym_key *k)
{
	char keystr[KEY_PAIR_MAX];
	key_pair(k, keystr);
	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->entries[i];
		if (strchr(e, '/') ? strcasecmp(e, keystr) == 0 : fnmatch(e, k->debug_file, FNM_CASEFOLD) == 0)
			return 1;
	}
	return 0;
}
