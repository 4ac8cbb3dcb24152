#include "admin/scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_COLUMNS 32

/* ---- small text tools ---- */

struct line {
	const char *p;
	size_t len;
};

/* The next line of [*p, end), without its "\n" or "\r\n"; false at the end. */
static int next_line(const char **p, const char *end, struct line *l)
{
	if (*p >= end)
		return 0;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	l->p = *p;
	l->len = (size_t)((nl ? nl : end) - *p);
	if (l->len && l->p[l->len - 1] == '\r')
		l->len--;
	*p = nl ? nl + 1 : end;
	return 1;
}

static int starts_with(struct line l, const char *prefix)
{
	size_t n = strlen(prefix);
	return l.len >= n && memcmp(l.p, prefix, n) == 0;
}

/* Where `needle` starts in the line, or NULL. */
static const char *find(struct line l, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= l.len; i++)
		if (memcmp(l.p + i, needle, n) == 0)
			return l.p + i;
	return NULL;
}

/* Copies [s, s+len) trimmed of blanks into a field; -1 if too long. */
static int set_field(char out[SCAN_FIELD_MAX], const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= SCAN_FIELD_MAX)
		return -1;
	memmove(out, s, len); /* out may be s: trimming in place */
	out[len] = '\0';
	return 0;
}

/* A path's last component: stackwalk prints Windows and POSIX paths. */
static void strip_path(char *s)
{
	char *slash = strrchr(s, '/'), *back = strrchr(s, '\\');
	char *last = slash > back ? slash : back;
	if (last)
		memmove(s, last + 1, strlen(last + 1) + 1);
}

/* A module without a CodeView record has no id, or an id of zeros. */
static int usable_id(const char *id)
{
	return id[strspn(id, "0")] != '\0';
}

struct scanner {
	const char *object; /* given, or NULL */
	scan_fn fn;
	void *ctx;
	char *err;
	size_t errlen;
	int lineno;
	int count;
};

static int bad(struct scanner *s, const char *why)
{
	snprintf(s->err, s->errlen, "line %d: %s", s->lineno, why);
	return -EINVAL;
}

/* Hands a record on, once its object and names are known; records without
 * a usable debug file and id are skipped, as modules without symbols to
 * ask for. */
static int emit(struct scanner *s, struct scan_record *r)
{
	strip_path(r->debug_file);
	strip_path(r->code_file);
	if (!r->debug_file[0] || !usable_id(r->debug_id))
		return 0;
	if (!r->object[0]) {
		if (!s->object)
			return bad(s, "no object id: give --object, or an object column");
		if (set_field(r->object, s->object, strlen(s->object)) < 0)
			return bad(s, "the object id is too long");
	}
	/* a code file the record line cannot carry is left out: it is optional */
	if (strpbrk(r->code_file, " \t,") || strpbrk(r->code_id, " \t,"))
		r->code_file[0] = r->code_id[0] = '\0';
	if (strpbrk(r->debug_file, " \t,") || strpbrk(r->debug_id, " \t,"))
		return bad(s, "a debug file or id with blanks or commas");
	s->count++;
	return s->fn(r, s->ctx);
}

/* ---- minidump_stackwalk ---- */

static int is_stackwalk_line(struct line l)
{
	return starts_with(l, "Module|") || starts_with(l, "Operating system:") || find(l, "(WARNING: No symbols, ") ||
	       find(l, "Couldn't load symbols for: ");
}

/* Module|code_file|version|debug_file|debug_id|base|end|main */
static int stackwalk_module(struct scanner *s, struct line l, struct scan_record *r)
{
	const char *f[8], *p = l.p, *end = l.p + l.len;
	size_t n = 0, lens[8];
	while (n < 8) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		f[n] = p;
		lens[n++] = (size_t)((bar ? bar : end) - p);
		if (!bar)
			break;
		p = bar + 1;
	}
	if (n < 5)
		return bad(s, "a Module line with fewer than 5 fields");
	if (set_field(r->code_file, f[1], lens[1]) < 0 || set_field(r->debug_file, f[3], lens[3]) < 0 ||
	    set_field(r->debug_id, f[4], lens[4]) < 0)
		return bad(s, "a field over 255 bytes");
	return emit(s, r);
}

/* "0x... - 0x...  code_file  version  (WARNING: No symbols, debug_file, debug_id)" */
static int stackwalk_warning(struct scanner *s, struct line l, const char *at, struct scan_record *r)
{
	const char *p = at + strlen("(WARNING: No symbols, "), *end = l.p + l.len;
	const char *comma = memchr(p, ',', (size_t)(end - p));
	const char *close = comma ? memchr(comma, ')', (size_t)(end - comma)) : NULL;
	if (!close)
		return bad(s, "a WARNING without 'file, id)'");
	char a[32], b[32], c[SCAN_FIELD_MAX] = "";
	if (set_field(r->debug_file, p, (size_t)(comma - p)) < 0 ||
	    set_field(r->debug_id, comma + 1, (size_t)(close - comma - 1)) < 0)
		return bad(s, "a field over 255 bytes");
	char head[3 * SCAN_FIELD_MAX];
	size_t hl = (size_t)(at - l.p) < sizeof head - 1 ? (size_t)(at - l.p) : sizeof head - 1;
	memcpy(head, l.p, hl);
	head[hl] = '\0';
	if (sscanf(head, "%31s - %31s %255s", a, b, c) == 3)
		snprintf(r->code_file, sizeof r->code_file, "%s", c);
	return emit(s, r);
}

/* "Couldn't load symbols for: debug_file|debug_id" (its log, on stderr) */
static int stackwalk_log(struct scanner *s, struct line l, const char *at, struct scan_record *r)
{
	const char *p = at + strlen("Couldn't load symbols for: "), *end = l.p + l.len;
	const char *bar = memchr(p, '|', (size_t)(end - p));
	if (!bar)
		return bad(s, "'Couldn't load symbols for:' without 'file|id'");
	if (set_field(r->debug_file, p, (size_t)(bar - p)) < 0 ||
	    set_field(r->debug_id, bar + 1, (size_t)(end - bar - 1)) < 0)
		return bad(s, "a field over 255 bytes");
	return emit(s, r);
}

static int scan_stackwalk(struct scanner *s, const char *text, const char *end)
{
	struct line l;
	int rc = 0;
	while (rc == 0 && next_line(&text, end, &l)) {
		struct scan_record r;
		const char *at;
		memset(&r, 0, sizeof r);
		s->lineno++;
		if (starts_with(l, "Module|"))
			rc = stackwalk_module(s, l, &r);
		else if ((at = find(l, "(WARNING: No symbols, ")))
			rc = stackwalk_warning(s, l, at, &r);
		else if ((at = find(l, "Couldn't load symbols for: ")))
			rc = stackwalk_log(s, l, at, &r);
	}
	return rc;
}

/* ---- CSV ---- */

/* Splits a CSV line into fields ("..." quoting, "" inside quotes), each
 * copied into cells; the number of fields, or -1. */
static int csv_split(struct line l, char cells[][SCAN_FIELD_MAX], int max)
{
	int n = 0;
	size_t i = 0;
	for (;;) {
		char *out = cells[n];
		size_t len = 0;
		int quoted = i < l.len && l.p[i] == '"';
		i += (size_t)quoted;
		while (i < l.len && (quoted || l.p[i] != ',')) {
			if (quoted && l.p[i] == '"') {
				if (i + 1 < l.len && l.p[i + 1] == '"')
					i++;
				else {
					quoted = 0;
					i++;
					continue;
				}
			}
			if (len + 1 >= SCAN_FIELD_MAX)
				return -1;
			out[len++] = l.p[i++];
		}
		out[len] = '\0';
		set_field(out, out, len); /* trims */
		if (++n == max || i >= l.len)
			return i >= l.len ? n : -1;
		i++; /* the comma */
	}
}

enum column { COL_OBJECT, COL_DEBUG_FILE, COL_DEBUG_ID, COL_CODE_FILE, COL_CODE_ID, NCOLS };

static const char *const column_names[][4] = {
	[COL_OBJECT] = {"object", "object_id", "crash_id", "uuid"},
	[COL_DEBUG_FILE] = {"debug_file", NULL},
	[COL_DEBUG_ID] = {"debug_id", "debug_identifier", NULL},
	[COL_CODE_FILE] = {"code_file", NULL},
	[COL_CODE_ID] = {"code_id", "code_identifier", NULL},
};

/* Which column each field is: from a header, or by count as `missing`
 * orders them ([object,] debug_file, debug_id [, code_file, code_id]). */
static int header_columns(char cells[][SCAN_FIELD_MAX], int n, int where[NCOLS])
{
	for (int c = 0; c < NCOLS; c++) {
		where[c] = -1;
		for (int i = 0; i < n; i++)
			for (int k = 0; k < 4 && column_names[c][k]; k++)
				if (strcasecmp(cells[i], column_names[c][k]) == 0)
					where[c] = i;
	}
	return where[COL_DEBUG_FILE] >= 0 && where[COL_DEBUG_ID] >= 0;
}

static int positional_columns(int n, int where[NCOLS])
{
	if (n < 2 || n > 5)
		return 0;
	int first = n % 2; /* 3 and 5 fields start with the object */
	where[COL_OBJECT] = first ? 0 : -1;
	where[COL_DEBUG_FILE] = first;
	where[COL_DEBUG_ID] = first + 1;
	where[COL_CODE_FILE] = n - first == 4 ? first + 2 : -1;
	where[COL_CODE_ID] = n - first == 4 ? first + 3 : -1;
	return 1;
}

static void take(char out[SCAN_FIELD_MAX], char cells[][SCAN_FIELD_MAX], int n, int col)
{
	if (col >= 0 && col < n)
		memcpy(out, cells[col], SCAN_FIELD_MAX);
}

static int scan_csv(struct scanner *s, const char *text, const char *end)
{
	char cells[MAX_COLUMNS][SCAN_FIELD_MAX]; /* 8 KiB */
	int where[NCOLS], have_columns = 0, rc = 0;
	struct line l;
	while (rc == 0 && next_line(&text, end, &l)) {
		s->lineno++;
		struct line t = l;
		while (t.len && (*t.p == ' ' || *t.p == '\t')) {
			t.p++;
			t.len--;
		}
		if (!t.len || *t.p == '#')
			continue;
		int n = csv_split(l, cells, MAX_COLUMNS);
		if (n < 0)
			return bad(s, "a field over 255 bytes, or over 32 fields");
		if (!have_columns && header_columns(cells, n, where)) {
			have_columns = 1;
			continue;
		}
		if (!have_columns && !positional_columns(n, where))
			return bad(s, "want [object,]debug_file,debug_id[,code_file,code_id], or a header line");
		have_columns = 1;
		struct scan_record r;
		memset(&r, 0, sizeof r);
		take(r.object, cells, n, where[COL_OBJECT]);
		take(r.debug_file, cells, n, where[COL_DEBUG_FILE]);
		take(r.debug_id, cells, n, where[COL_DEBUG_ID]);
		take(r.code_file, cells, n, where[COL_CODE_FILE]);
		take(r.code_id, cells, n, where[COL_CODE_ID]);
		rc = emit(s, &r);
	}
	return rc;
}

/* ---- the public side ---- */

static int looks_like_stackwalk(const char *text, const char *end)
{
	struct line l;
	while (next_line(&text, end, &l))
		if (is_stackwalk_line(l))
			return 1;
	return 0;
}

int scan_text(const char *text, size_t len, const char *object, const char *report_name, scan_fn fn, void *ctx,
	      char *err, size_t errlen)
{
	struct scanner s = {object, fn, ctx, err, errlen, 0, 0};
	const char *end = text + len;
	int rc;
	if (looks_like_stackwalk(text, end)) {
		s.object = object ? object : report_name; /* one report, one crash */
		rc = scan_stackwalk(&s, text, end);
	} else {
		rc = scan_csv(&s, text, end);
	}
	return rc < 0 ? rc : s.count;
}

int scan_format_record(const struct scan_record *r, char *out, size_t outlen)
{
	int n = r->code_file[0] && r->code_id[0]
			? snprintf(out, outlen, "%s %s %s %s %s", r->object, r->debug_file, r->debug_id, r->code_file,
				   r->code_id)
			: snprintf(out, outlen, "%s %s %s", r->object, r->debug_file, r->debug_id);
	return n < 0 || (size_t)n >= outlen ? -ENOSPC : 0;
}
