/* lists: a server's whitelist / blacklist (and later skiplist) as parsed
 * pattern lists — the syntax of SPEC §4 and the one matching rule. An entry is
 * a debug-file name or glob ("ntdll.pdb", "*.pdb", "libxul.so*") or an exact
 * key "<debug_file>/<debug_id>" (".build-id/<build-id>" for a build-id key, whose
 * debug-file name is ".build-id"); "#" starts a comment; matching ignores case. */
#ifndef SYMBOLD_LISTS_H
#define SYMBOLD_LISTS_H

#include <stddef.h>

#include "common/key.h"

#define LIST_LINE_MAX 1024

struct patlist {
	char **entries; /* normalised: lower-case globs, or "debug_file/ID" keys */
	size_t n;
	char *text;     /* the text as written, for reading the list back */
};

/* Parses `text` into `out`. A bad line (control character, non-UTF-8 byte,
 * a "/" that is not a file/id key, a line over LIST_LINE_MAX bytes) fails the
 * whole list: -EINVAL with "line N: reason" in err, `out` untouched. */
int patlist_parse(struct patlist *out, const char *text, char *err, size_t errlen);
void patlist_free(struct patlist *l);
/* 1 if any entry matches the key's debug file (glob) or the key itself. */
int patlist_match(const struct patlist *l, const struct sym_key *k);

#endif
