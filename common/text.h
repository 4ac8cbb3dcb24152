/* text: the string chores every layer needs — walking a text line by line
 * in place, trimming blanks, and showing a URL without its secret. */
#ifndef SYMBOLD_TEXT_H
#define SYMBOLD_TEXT_H

#include <stddef.h>

/* Trims spaces, tabs, CR and LF from both ends, in place; returns the start. */
char *text_trim(char *s);

/* The next line of the text at *cursor, its '\n' replaced by NUL, and
 * *cursor advanced past it; NULL when the text is used up. Empty lines are
 * returned (so line numbers stay right); a final '\n' ends the last line. */
char *text_next_line(char **cursor);

/* `url` as a human may read it — logs, the catalog, error messages: the
 * user:password@ of its authority shown as ***@. Anything else is copied
 * as it is (truncated to len). */
void text_url_shown(const char *url, char *out, size_t len);

#endif
