/* text: the two string chores every line-oriented parser here needs —
 * walking a text line by line in place, and trimming blanks. */
#ifndef SYMBOLD_TEXT_H
#define SYMBOLD_TEXT_H

/* Trims spaces, tabs, CR and LF from both ends, in place; returns the start. */
char *text_trim(char *s);

/* The next line of the text at *cursor, its '\n' replaced by NUL, and
 * *cursor advanced past it; NULL when the text is used up. Empty lines are
 * returned (so line numbers stay right); a final '\n' ends the last line. */
char *text_next_line(char **cursor);

#endif
