#include "admin/ini_text.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

/* libinih's options. Debian builds libinih1 with its run-time options: each
 * is a global the program may set (upstream fixes them when libinih is
 * compiled). Debian's values, and why each would make things worse here:
 *   ini_allow_inline_comments = 1, prefixes ";": "password = pa ;ss" would
 *     be read as "pa" — a password, a URL, a command may hold " ;";
 *   ini_allow_multiline = 1: an indented line continues the previous key,
 *     so "user = u" then "  password = p" would set user to "password = p";
 *   ini_max_line = 200: a longer line is cut, and its rest read as a line of
 *     its own (a URL may be 1,023 bytes);
 *   ini_stop_on_first_error = 0: keys after a refused line would be read;
 *   ini_allow_bom = 1: harmless, but it was refused before, as any byte a
 *     key cannot hold.
 * The process has no other user of libinih; every reader comes through
 * here, so the options are set once, before the first one, and never again. */
static pthread_once_t options_once = PTHREAD_ONCE_INIT;
static char comment_prefixes[] = "#;";

static void set_libinih_options(void)
{
	ini_allow_inline_comments = false;
	ini_allow_multiline = false;
	ini_allow_bom = false;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;
	ini_start_comment_prefixes = comment_prefixes;
	/* the line buffer, on the stack: the longest line, "\r\n" and a NUL */
	ini_use_stack = true;
	ini_max_line = INI_TEXT_LINE_MAX + 3;
}

struct reading {
	const struct ini_text_reader *r;
	const char *text; /* what is left of the text, or NULL to read `file` */
	FILE *file;
	int lineno;       /* the lines handed to libinih */
	int bad_line;     /* the first refused line; 0 while there is none */
	int rc;
	char *err;
	size_t errlen;
};

/* Stops the reading at the line being read; `reason` NULL: err holds it. */
static void refuse(struct reading *rd, int rc, const char *reason)
{
	rd->bad_line = rd->lineno;
	rd->rc = rc;
	if (reason)
		snprintf(rd->err, rd->errlen, "%s", reason);
}

/* The next byte, or EOF. In a file a NUL is a byte (refused); in a text it
 * is the end. */
static int next_byte(struct reading *rd)
{
	if (rd->file)
		return getc(rd->file);
	return *rd->text ? (unsigned char)*rd->text++ : EOF;
}

/* Reads one line, its "\n" included, into line[size]; stops short when the
 * line fills it. Returns the bytes read; *nul if one of them was NUL. */
static size_t read_bytes(struct reading *rd, char *line, size_t size, int *nul)
{
	size_t n = 0;
	int c;
	*nul = 0;
	while (n + 1 < size && (c = next_byte(rd)) != EOF) {
		line[n++] = (char)c;
		*nul |= c == '\0';
		if (c == '\n')
			break;
	}
	line[n] = '\0';
	return n;
}

static size_t without_line_end(const char *line, size_t n)
{
	if (n && line[n - 1] == '\n')
		n--;
	if (n && line[n - 1] == '\r')
		n--;
	return n;
}

/* isspace, as libinih skips blanks: a line libinih would take for a
 * header is always taken here first */
static char *skip_blanks(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static char *trim_end(char *s)
{
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A header goes to the section callback, and libinih gets a blank line in
 * its place: its own idea of the section plays no part. */
static int take_header(struct reading *rd, char *line, char *header)
{
	int rc = rd->r->section ? rd->r->section(rd->r->ctx, trim_end(header), rd->err, rd->errlen) : -EINVAL;
	if (rc < 0) {
		refuse(rd, rc, rd->r->section ? NULL : "want 'key = value', not a [section] header");
		return rc;
	}
	strcpy(line, "\n");
	return 0;
}

/* libinih's reader: the next line into line[size] (size is ini_max_line);
 * NULL at the end, and to stop at a refused line. */
static char *next_line(char *line, int size, void *stream)
{
	struct reading *rd = stream;
	int nul;
	if (rd->bad_line || rd->rc < 0)
		return NULL;
	size_t n = read_bytes(rd, line, (size_t)size, &nul);
	if (rd->file && ferror(rd->file)) { /* e.g. EISDIR: unreadable, not empty */
		rd->rc = errno ? -errno : -EIO;
		return NULL;
	}
	if (n == 0)
		return NULL;
	rd->lineno++;
	if (without_line_end(line, n) > INI_TEXT_LINE_MAX)
		return refuse(rd, -EINVAL, "line too long"), NULL;
	if (nul)
		return refuse(rd, -EINVAL, "a NUL byte in the line"), NULL;
	char *start = skip_blanks(line);
	if (*start == '[' && take_header(rd, line, start) < 0)
		return NULL;
	return line;
}

/* libinih's handler: 1 to go on, 0 for an error (libinih then stops). */
static int on_pair(void *user, const char *section, const char *key, const char *value)
{
	struct reading *rd = user;
	(void)section; /* always "": libinih never sees a header (take_header) */
	int rc = rd->r->pair(rd->r->ctx, key, value, rd->err, rd->errlen);
	if (rc < 0)
		refuse(rd, rc, NULL);
	return rc == 0;
}

static int read_lines(struct reading *rd, int *line)
{
	pthread_once(&options_once, set_libinih_options);
	int at = ini_parse_stream(next_line, rd, on_pair, rd);
	if (at > 0 && !rd->bad_line) { /* libinih's own refusal: no '=' (or ':') */
		rd->lineno = at;
		refuse(rd, -EINVAL, "want 'key = value'");
	} else if (at < 0 && rd->rc == 0) { /* -2: no memory (only with a heap buffer) */
		rd->rc = -ENOMEM;
	}
	*line = rd->bad_line;
	return rd->rc;
}

int ini_text_read(const char *text, const struct ini_text_reader *r, int *line, char *err, size_t errlen)
{
	struct reading rd = {.r = r, .text = text, .err = err, .errlen = errlen};
	return read_lines(&rd, line);
}

int ini_text_read_file(FILE *f, const struct ini_text_reader *r, int *line, char *err, size_t errlen)
{
	struct reading rd = {.r = r, .file = f, .err = err, .errlen = errlen};
	errno = 0;
	return read_lines(&rd, line);
}
