/* ini_text: reading INI text — the config file, and the `config` text of one
 * server (written to the control tree, or kept in the catalog). libinih reads
 * the lines: it skips blank lines and comment lines ('#' or ';' first, blanks
 * before allowed), splits each other line at its first '=' (or ':') and trims
 * the blanks (space, tab, CR, LF, VT, FF) around key and value. Nothing else
 * is a comment: '#' and ';' inside a value are the value's.
 *
 * Section headers ("[...]" lines) are read here, not by libinih, which never
 * says where a section starts, so an empty or repeated one would go unseen,
 * and which cuts a header at 49 bytes. Why, and the options libinih is run
 * with: ini_text.c and docs/CONFIG.md. */
#ifndef SYMBOLD_INI_TEXT_H
#define SYMBOLD_INI_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* the longest line, in bytes, its line end ("\n" or "\r\n") not counted */
#define INI_TEXT_LINE_MAX 4096

struct ini_text_reader {
	/* A "[...]" line, blanks trimmed. NULL: a header is refused. 0, or
	 * -errno with the reason in err. */
	int (*section)(void *ctx, char *header, char *err, size_t errlen);
	/* One "key = value" line. 0, or -errno with the reason in err. */
	int (*pair)(void *ctx, const char *key, const char *value, char *err, size_t errlen);
	void *ctx;
};

/* Reads `text` line by line, stopping at the first refused line: 0, or
 * -EINVAL (or what a callback returned) with that line's number in *line
 * and the reason in err (a line with no '=', a line longer than
 * INI_TEXT_LINE_MAX). */
int ini_text_read(const char *text, const struct ini_text_reader *r, int *line, char *err, size_t errlen);

/* The same for the file `f`, read to its end; a NUL byte is refused too.
 * A file that cannot be read is -errno with *line 0. */
int ini_text_read_file(FILE *f, const struct ini_text_reader *r, int *line, char *err, size_t errlen);

#endif
