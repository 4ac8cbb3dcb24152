/* symbold-admin: symbold's management for scripts (SPEC §6).
 *
 * A thin client of the control tree, MOUNT/.symbold/ (SPEC §4): every
 * command is a read, a write, a mkdir, a rename or an rmdir of a control
 * file. The rules (which config keys and values are good, what a list entry
 * may be, whether a connection works, who may change what) live in one
 * place, the daemon, which answers with an errno and writes its reason to
 * the server's log. This tool never judges a value or an entry itself; it
 * carries text, and turns the daemon's errno into an exit status a script
 * can rely on. Whatever it does, echo, sed -i or vi on the same files would
 * do alike.
 *
 * Secrets are never printed: KEY=VALUE arguments are never echoed, and the
 * config is only ever shown by the daemon (which writes secrets as ***). */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/scan.h"

/* The exit statuses are an interface: docs/ADMIN.md and --help list them. */
enum exit_code {
	EXIT_DONE = 0,
	EXIT_USAGE = 1,
	EXIT_INVALID = 2,     /* EINVAL: the daemon refused the text or name */
	EXIT_NOT_FOUND = 3,   /* ENOENT: no such server or entry */
	EXIT_NO_MOUNT = 4,    /* no symbold mount, or its daemon is gone */
	EXIT_DENIED = 5,      /* EACCES/EPERM: the kernel's or a refused credential */
	EXIT_UNREACHABLE = 6, /* EHOSTUNREACH, or validation failed */
	EXIT_EXISTS = 7,      /* EEXIST: the server exists */
	EXIT_OTHER = 8,
};

static const char usage_text[] =
	"usage: symbold-admin [--mount DIR] COMMAND [ARGS...]\n"
	"\n"
	"Manages a running symbold through its control tree, MOUNT/.symbold/. Every rule\n"
	"is the daemon's: a change is refused or applied exactly as the same edit of the\n"
	"control file with echo, sed -i or vi would be.\n"
	"\n"
	"Commands:\n"
	"  server ls [-q|--quiet]             the servers: NAME TYPE ENABLED PRIORITY URL\n"
	"  server add NAME [KEY=VALUE...]     make a server and write its config; a refused\n"
	"                                     config removes the new server again\n"
	"  server edit NAME KEY=VALUE...      set keys of a server's config (secrets are kept)\n"
	"  server rm NAME                     remove a server (its stored symbols stay)\n"
	"  server enable NAME                 enabled = 1 (the daemon proves the connection)\n"
	"  server disable NAME                enabled = 0 (lists and stats are kept)\n"
	"  server validate NAME               prove the server's connection now\n"
	"  list show NAME LIST                LIST: whitelist, blacklist or skiplist\n"
	"  list add NAME LIST ENTRY...        append entries, one per line\n"
	"  list rm NAME LIST ENTRY...         remove the lines holding these entries\n"
	"  stats [NAME]                       daemon-wide figures, or one server's\n"
	"  log [NAME] [-n N]                  the daemon's or one server's log, last N lines\n"
	"  scan [--object ID] [--wait S] FILE...  record the missing symbols a crash processor\n"
	"                                     reported (minidump_stackwalk output, CSV), fetch them\n"
	"\n"
	"Options:\n"
	"  --mount DIR    the symbold mount; else $SYMBOLD_MOUNT, else the first\n"
	"                 fuse.symbold mount in /proc/self/mounts\n"
	"  -h, --help     this text; 'symbold-admin COMMAND --help' for one command\n"
	"  --version      print 'symbold-admin VERSION' and exit\n"
	"\n"
	"Exit status:\n"
	"  0  done\n"
	"  1  usage error\n"
	"  2  refused as invalid (EINVAL); the daemon's reason follows on stderr\n"
	"  3  no such server, or no such list entry (ENOENT)\n"
	"  4  no symbold mount found, or the daemon is not answering (ENOTCONN, ENXIO)\n"
	"  5  permission denied (EACCES, EPERM), or credentials refused upstream\n"
	"  6  upstream unreachable (EHOSTUNREACH), or 'server validate' failed\n"
	"  7  the server already exists (EEXIST)\n"
	"  8  any other error\n";

/* ---- text ---- */

/* A growable, always NUL-terminated byte string. */
struct text {
	char *data;
	size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
	if (n > SIZE_MAX / 2 - t->len - 1)
		return -ENOMEM;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *p = realloc(t->data, cap);
		if (!p)
			return -ENOMEM;
		t->data = p;
		t->cap = cap;
	}
	if (n)
		memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
	return 0;
}

static int text_adds(struct text *t, const char *s)
{
	return text_add(t, s, strlen(s));
}

static void text_free(struct text *t)
{
	free(t->data);
	*t = (struct text){0};
}

/* The next line of [*p, end) without its '\n'; false at the end. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len)
{
	if (*p >= end)
		return false;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*len = (size_t)((nl ? nl : end) - *p);
	*p = nl ? nl + 1 : end;
	return true;
}

/* [s, s+len) without leading and trailing white space. */
static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* ---- errors ---- */

static enum exit_code exit_for(int err)
{
	switch (err) {
	case EINVAL:
		return EXIT_INVALID;
	case ENOENT:
		return EXIT_NOT_FOUND;
	case ENOTCONN:
	case ENXIO:
		return EXIT_NO_MOUNT;
	case EACCES:
	case EPERM:
		return EXIT_DENIED;
	case EHOSTUNREACH:
		return EXIT_UNREACHABLE;
	case EEXIST:
		return EXIT_EXISTS;
	default:
		return EXIT_OTHER;
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("symbold-admin: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* "symbold-admin: <what>: <strerror>"; returns the exit status for err. */
static enum exit_code fail(int err, const char *what)
{
	say("%s: %s", what, strerror(err));
	return exit_for(err);
}

/* ---- files of the control tree ---- */

static char control_dir[PATH_MAX]; /* MOUNT/.symbold */

/* control_dir + "/" + the formatted rest. */
static int ctl_path(char out[PATH_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctl_path(char out[PATH_MAX], const char *fmt, ...)
{
	char rest[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof rest)
		return -ENAMETOOLONG;
	n = snprintf(out, PATH_MAX, "%s/%s", control_dir, rest);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Reads a whole file to EOF (never trusting st_size alone). */
static int read_file(const char *path, struct text *out)
{
	*out = (struct text){0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = text_add(out, "", 0);
	char chunk[65536];
	while (rc == 0) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else if (n == 0)
			break;
		else
			rc = text_add(out, chunk, (size_t)n);
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		text_free(out);
	return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The daemon judges a written control file when it is closed and refuses
 * it there (or at the write() that completes a bad line), so the error of
 * close() is the answer and is checked like write()'s. Nothing this tool
 * writes is larger than one write() takes, so the text arrives whole. */
static int write_file(const char *path, int flags, mode_t mode, const char *data, size_t len)
{
	int fd = open(path, flags | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int rc = write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* ---- the daemon's reasons ---- */

/* Where a log ended before an edit: only lines written after it can give
 * the reason for this edit's refusal, never an older one. */
struct log_mark {
	char path[PATH_MAX];
	char *last_line; /* NULL: the log was empty or unreadable */
};

static void mark_log(struct log_mark *m, const char *path)
{
	struct text log;
	m->last_line = NULL;
	snprintf(m->path, sizeof m->path, "%s", path);
	if (read_file(path, &log) < 0)
		return;
	const char *p = log.data, *end = log.data + log.len, *line, *last = NULL;
	size_t len, last_len = 0;
	while (next_line(&p, end, &line, &len))
		if (len) {
			last = line;
			last_len = len;
		}
	if (last)
		m->last_line = strndup(last, last_len); /* NULL on ENOMEM: every line counts as new */
	text_free(&log);
}

static void unmark_log(struct log_mark *m)
{
	free(m->last_line);
	m->last_line = NULL;
}

/* Where the lines written after the mark begin. */
static const char *after_mark(const struct log_mark *m, const struct text *log)
{
	const char *p = log->data, *end = log->data + log->len, *line, *start = log->data;
	size_t len;
	if (!m->last_line)
		return start;
	size_t mark_len = strlen(m->last_line);
	while (next_line(&p, end, &line, &len))
		if (len == mark_len && memcmp(line, m->last_line, len) == 0)
			start = p;
	return start;
}

static bool holds_any(const char *line, size_t len, const char *const needles[])
{
	for (; *needles; needles++) {
		size_t n = strlen(*needles);
		for (size_t i = 0; n <= len && i <= len - n; i++)
			if (memcmp(line + i, *needles, n) == 0)
				return true;
	}
	return false;
}

/* Log lines begin with their UTC time stamp; the reason is what follows. */
static void skip_timestamp(const char **line, size_t *len)
{
	if (!*len || !isdigit((unsigned char)**line))
		return;
	const char *space = memchr(*line, ' ', *len);
	if (space) {
		*len -= (size_t)(space + 1 - *line);
		*line = space + 1;
	}
}

/* Prints the newest line written since the mark that holds one of the
 * needles: the daemon's own words for why it refused. */
static void print_daemon_reason(const struct log_mark *m, const char *const needles[])
{
	struct text log;
	if (read_file(m->path, &log) < 0)
		return;
	const char *p = after_mark(m, &log), *end = log.data + log.len, *line, *reason = NULL;
	size_t len, reason_len = 0;
	while (next_line(&p, end, &line, &len))
		if (holds_any(line, len, needles)) {
			reason = line;
			reason_len = len;
		}
	if (reason) {
		skip_timestamp(&reason, &reason_len);
		say("daemon: %.*s", (int)reason_len, reason);
	}
	text_free(&log);
}

static const char *const edit_refusals[] = {"refused", "validation failed", NULL};

/* A change the daemon (or the kernel) turned down: what, why, and the
 * daemon's reason from the log behind `m`. */
static enum exit_code refused(int err, const char *what, const struct log_mark *m)
{
	enum exit_code code = fail(err, what);
	print_daemon_reason(m, edit_refusals);
	return code;
}

/* ---- arguments ---- */

/* A NAME becomes one path component under servers/; the daemon judges
 * the rest of what makes a good name. */
static bool one_component(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static bool is_list_name(const char *list)
{
	return strcmp(list, "whitelist") == 0 || strcmp(list, "blacklist") == 0 || strcmp(list, "skiplist") == 0;
}

/* Each control file is one line per entry, so a newline inside an argument
 * would smuggle in a second entry or key. */
static bool one_line(const char *arg)
{
	return !strchr(arg, '\n');
}

/* KEY=VALUE, with a key and on one line. Never echoes the argument: its
 * value may be a password. */
static bool check_pairs(char **pairs, int n)
{
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(pairs[i], '=');
		if (!eq || eq == pairs[i] || !one_line(pairs[i])) {
			say("argument %d after the server name is not KEY=VALUE on one line", i + 1);
			return false;
		}
	}
	return true;
}

static bool check_entries(char **entries, int n)
{
	for (int i = 0; i < n; i++) {
		const char *s = entries[i];
		size_t len = strlen(s);
		trim(&s, &len);
		if (!len || !one_line(entries[i])) {
			say("an ENTRY must be one non-empty line");
			return false;
		}
	}
	return true;
}

/* ---- servers ---- */

/* Every command about one server starts here, so that a missing server is
 * "no server NAME" (3), not a puzzling path. */
static enum exit_code require_server(const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	if (!one_component(name)) {
		say("'%s' is not a server name", name);
		return EXIT_USAGE;
	}
	if (ctl_path(path, "servers/%s", name) < 0)
		return fail(ENAMETOOLONG, name);
	if (stat(path, &st) == 0)
		return EXIT_DONE;
	int err = errno;
	if (err != ENOENT)
		return fail(err, path);
	say("no server %s", name);
	return EXIT_NOT_FOUND;
}

static size_t key_length(const char *pair)
{
	return (size_t)(strchr(pair, '=') - pair);
}

/* The last KEY=VALUE naming `key` (the last one given wins), or -1. */
static int pair_for_key(char **pairs, int n, const char *key, size_t key_len)
{
	for (int i = n - 1; i >= 0; i--)
		if (key_length(pairs[i]) == key_len && memcmp(pairs[i], key, key_len) == 0)
			return i;
	return -1;
}

static int add_pair_line(struct text *out, const char *pair)
{
	size_t key_len = key_length(pair);
	int rc = text_add(out, pair, key_len);
	if (rc == 0)
		rc = text_adds(out, " = ");
	if (rc == 0)
		rc = text_adds(out, pair + key_len + 1);
	if (rc == 0)
		rc = text_adds(out, "\n");
	return rc;
}

/* The key of a "key = value" line, trimmed; false for a line without '='. */
static bool line_key(const char *line, size_t len, const char **key, size_t *key_len)
{
	const char *eq = memchr(line, '=', len);
	if (!eq)
		return false;
	*key = line;
	*key_len = (size_t)(eq - line);
	trim(key, key_len);
	return true;
}

static bool config_has_key(const struct text *config, const char *key, size_t key_len)
{
	const char *p = config->data, *end = config->data + config->len, *line, *k;
	size_t len, klen;
	while (next_line(&p, end, &line, &len))
		if (line_key(line, len, &k, &klen) && klen == key_len && memcmp(k, key, klen) == 0)
			return true;
	return false;
}

/* The config as read with each KEY=VALUE in place of its key's line, or
 * added at the end (the last value given for a key wins). Lines not named
 * go back as read: a secret the daemon showed as *** is written back as
 * ***, which the daemon reads as "keep it". */
static int edit_config_text(const struct text *config, char **pairs, int n, struct text *out)
{
	const char *p = config->data, *end = config->data + config->len, *line, *key;
	size_t len, key_len;
	int rc = text_add(out, "", 0);
	while (rc == 0 && next_line(&p, end, &line, &len)) {
		int i = line_key(line, len, &key, &key_len) ? pair_for_key(pairs, n, key, key_len) : -1;
		if (i >= 0)
			rc = add_pair_line(out, pairs[i]);
		else if ((rc = text_add(out, line, len)) == 0)
			rc = text_adds(out, "\n");
	}
	for (int i = 0; rc == 0 && i < n; i++) {
		size_t klen = key_length(pairs[i]);
		if (pair_for_key(pairs, n, pairs[i], klen) == i && !config_has_key(config, pairs[i], klen))
			rc = add_pair_line(out, pairs[i]);
	}
	return rc;
}

/* Writes a whole config: O_TRUNC, because the text written is the new
 * config (SPEC §4); the daemon judges it at close(). */
static enum exit_code write_config(const char *name, const struct text *config)
{
	char path[PATH_MAX], log[PATH_MAX], what[PATH_MAX + 32];
	struct log_mark mark;
	if (ctl_path(path, "servers/%s/config", name) < 0 || ctl_path(log, "servers/%s/log", name) < 0)
		return fail(ENAMETOOLONG, name);
	mark_log(&mark, log);
	int rc = write_file(path, O_WRONLY | O_TRUNC, 0, config->data, config->len);
	enum exit_code code = EXIT_DONE;
	if (rc < 0) {
		snprintf(what, sizeof what, "server %s: config refused", name);
		code = refused(-rc, what, &mark);
	}
	unmark_log(&mark);
	return code;
}

static enum exit_code edit_server(const char *name, char **pairs, int n)
{
	char path[PATH_MAX];
	struct text config, edited = {0};
	enum exit_code code = require_server(name);
	if (code != EXIT_DONE || !check_pairs(pairs, n))
		return code != EXIT_DONE ? code : EXIT_USAGE;
	if (ctl_path(path, "servers/%s/config", name) < 0)
		return fail(ENAMETOOLONG, name);
	int rc = read_file(path, &config);
	if (rc < 0)
		return fail(-rc, path);
	rc = edit_config_text(&config, pairs, n, &edited);
	code = rc < 0 ? fail(-rc, "editing the config") : write_config(name, &edited);
	text_free(&config);
	text_free(&edited);
	return code;
}

/* rmdir alone removes a server; should the daemon ever want its directory
 * emptied first, the files go the way rm -r sends them. */
static int empty_server_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int rc = 0;
	struct dirent *e;
	char path[PATH_MAX];
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			rc = -ENAMETOOLONG;
		else if (unlink(path) < 0 && errno != ENOENT)
			rc = -errno;
	}
	if (rc == 0 && errno != 0)
		rc = -errno;
	if (closedir(d) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int remove_server_dir(const char *name)
{
	char dir[PATH_MAX];
	if (ctl_path(dir, "servers/%s", name) < 0)
		return -ENAMETOOLONG;
	if (rmdir(dir) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	int rc = empty_server_dir(dir);
	return rc < 0 ? rc : rmdir(dir) < 0 ? -errno : 0;
}

/* ---- commands: server ---- */

/* The value of `key` in a config's text, trimmed; "-" when it has none,
 * so that every cell of `server ls` is one word. */
static char *config_value(const struct text *config, const char *key)
{
	const char *p = config->data, *end = config->data + config->len, *line, *k;
	size_t len, klen;
	while (next_line(&p, end, &line, &len)) {
		if (!line_key(line, len, &k, &klen) || klen != strlen(key) || memcmp(k, key, klen) != 0)
			continue;
		const char *value = (const char *)memchr(line, '=', len) + 1;
		size_t vlen = len - (size_t)(value - line);
		trim(&value, &vlen);
		return vlen ? strndup(value, vlen) : strdup("-");
	}
	return strdup("-");
}

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct names){0};
}

static int names_add(struct names *s, const char *name)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strdup(name)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in servers/, sorted. */
static int server_names(struct names *out)
{
	char dir[PATH_MAX];
	*out = (struct names){0};
	if (ctl_path(dir, "servers") < 0)
		return -ENAMETOOLONG;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			rc = names_add(out, e->d_name);
	if (rc == 0 && errno != 0)
		rc = -errno;
	if (closedir(d) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		names_free(out);
	else if (out->n)
		qsort(out->v, out->n, sizeof *out->v, by_name);
	return rc;
}

enum column { COL_TYPE, COL_ENABLED, COL_PRIORITY, COL_URL, NCOLUMNS };
static const char *const column_keys[NCOLUMNS] = {"type", "enabled", "priority", "url"};

struct server_row {
	const char *name;
	char *cells[NCOLUMNS]; /* NULL: the server went away while listed */
};

/* One row of `server ls` from the server's config; a server removed in the
 * meantime leaves an empty row, which is skipped. */
static int fill_row(struct server_row *row)
{
	char path[PATH_MAX];
	struct text config;
	if (ctl_path(path, "servers/%s/config", row->name) < 0)
		return -ENAMETOOLONG;
	int rc = read_file(path, &config);
	if (rc == -ENOENT)
		return 0;
	for (int c = 0; rc == 0 && c < NCOLUMNS; c++)
		if (!(row->cells[c] = config_value(&config, column_keys[c])))
			rc = -ENOMEM;
	text_free(&config);
	return rc;
}

static void free_rows(struct server_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < NCOLUMNS; c++)
			free(rows[i].cells[c]);
	free(rows);
}

static int widest(int width, const char *cell)
{
	return (int)strlen(cell) > width ? (int)strlen(cell) : width;
}

/* Columns as wide as their longest cell, so the table reads on a terminal;
 * a script splits it on white space (every cell but the last, the URL,
 * which may hold a space in a dir path, is one word). */
static void print_rows(const struct server_row *rows, size_t n)
{
	int name_w = 4, type_w = 4;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].cells[COL_TYPE]) {
			name_w = widest(name_w, rows[i].name);
			type_w = widest(type_w, rows[i].cells[COL_TYPE]);
		}
	}
	printf("%-*s  %-*s  %-7s  %-8s  %s\n", name_w, "NAME", type_w, "TYPE", "ENABLED", "PRIORITY", "URL");
	for (size_t i = 0; i < n; i++)
		if (rows[i].cells[COL_TYPE])
			printf("%-*s  %-*s  %-7s  %-8s  %s\n", name_w, rows[i].name, type_w, rows[i].cells[COL_TYPE],
			       rows[i].cells[COL_ENABLED], rows[i].cells[COL_PRIORITY], rows[i].cells[COL_URL]);
}

static enum exit_code server_ls(char **args, int n)
{
	bool quiet = n == 1 && (strcmp(args[0], "-q") == 0 || strcmp(args[0], "--quiet") == 0);
	if (n > 0 && !quiet) {
		say("server ls takes only -q or --quiet");
		return EXIT_USAGE;
	}
	struct names names;
	int rc = server_names(&names);
	if (rc < 0)
		return fail(-rc, "reading servers/");
	struct server_row *rows = calloc(names.n ? names.n : 1, sizeof *rows);
	if (!rows)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		rows[i].name = names.v[i];
		rc = quiet ? 0 : fill_row(&rows[i]);
	}
	for (size_t i = 0; rc == 0 && quiet && i < names.n; i++)
		puts(names.v[i]);
	if (rc == 0 && !quiet)
		print_rows(rows, names.n);
	if (rows)
		free_rows(rows, names.n);
	names_free(&names);
	return rc < 0 ? fail(-rc, "reading the servers' configs") : EXIT_DONE;
}

/* mkdir servers/NAME: the daemon makes the server, disabled, and says why
 * not in the global log. */
static enum exit_code make_server(const char *name)
{
	char dir[PATH_MAX], log[PATH_MAX], what[PATH_MAX + 32], needle[PATH_MAX + 32];
	struct log_mark mark;
	if (ctl_path(dir, "servers/%s", name) < 0 || ctl_path(log, "log") < 0)
		return fail(ENAMETOOLONG, name);
	mark_log(&mark, log);
	enum exit_code code = EXIT_DONE;
	if (mkdir(dir, 0775) < 0) {
		int err = errno;
		snprintf(what, sizeof what, "creating server %s", name);
		snprintf(needle, sizeof needle, "mkdir servers/%s:", name);
		code = fail(err, what);
		print_daemon_reason(&mark, (const char *const[]){needle, NULL});
	}
	unmark_log(&mark);
	return code;
}

/* The text of a new config: one "key = value" line per argument. */
static int config_from_pairs(char **pairs, int n, struct text *out)
{
	int rc = text_add(out, "", 0);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = add_pair_line(out, pairs[i]);
	return rc;
}

static enum exit_code cmd_server_add(char **args, int n)
{
	const char *name = args[0];
	struct text config = {0};
	if (!one_component(name)) {
		say("'%s' is not a server name", name);
		return EXIT_USAGE;
	}
	if (!check_pairs(args + 1, n - 1))
		return EXIT_USAGE;
	int rc = config_from_pairs(args + 1, n - 1, &config);
	enum exit_code code = rc < 0 ? fail(-rc, "building the config") : make_server(name);
	if (code == EXIT_DONE && n > 1 && (code = write_config(name, &config)) != EXIT_DONE) {
		/* a server whose config was refused must not stay behind half made */
		if ((rc = remove_server_dir(name)) < 0)
			say("removing the new server %s again: %s", name, strerror(-rc));
	}
	text_free(&config);
	return code;
}

static enum exit_code cmd_server_edit(char **args, int n)
{
	return edit_server(args[0], args + 1, n - 1);
}

static enum exit_code cmd_server_enable(char **args, int n)
{
	(void)n;
	char *pair[] = {"enabled=1"};
	return edit_server(args[0], pair, 1);
}

static enum exit_code cmd_server_disable(char **args, int n)
{
	(void)n;
	char *pair[] = {"enabled=0"};
	return edit_server(args[0], pair, 1);
}

static enum exit_code cmd_server_rm(char **args, int n)
{
	(void)n;
	char what[PATH_MAX + 32];
	enum exit_code code = require_server(args[0]);
	if (code != EXIT_DONE)
		return code;
	int rc = remove_server_dir(args[0]);
	if (rc == 0)
		return EXIT_DONE;
	snprintf(what, sizeof what, "removing server %s", args[0]);
	return fail(-rc, what);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Reading servers/NAME/validate makes the daemon prove the connection of
 * the server's current config; it answers "ok: ..." or "failed: ...". */
static enum exit_code cmd_server_validate(char **args, int n)
{
	(void)n;
	char path[PATH_MAX];
	struct text answer;
	enum exit_code code = require_server(args[0]);
	if (code != EXIT_DONE)
		return code;
	if (ctl_path(path, "servers/%s/validate", args[0]) < 0)
		return fail(ENAMETOOLONG, args[0]);
	int rc = read_file(path, &answer);
	if (rc == -ENOENT) {
		say("this symbold has no servers/%s/validate (too old for 'server validate')", args[0]);
		return EXIT_OTHER;
	}
	if (rc < 0)
		return fail(-rc, path);
	fputs(answer.data, stdout);
	if (answer.len && answer.data[answer.len - 1] != '\n')
		putchar('\n');
	code = starts_with(answer.data, "ok:")	    ? EXIT_DONE
	       : starts_with(answer.data, "failed:") ? EXIT_UNREACHABLE
						     : EXIT_OTHER;
	text_free(&answer);
	return code;
}

/* ---- commands: list ---- */

/* servers/NAME/LIST after the checks every list command shares. */
static enum exit_code list_path(const char *name, const char *list, char path[PATH_MAX])
{
	if (!is_list_name(list)) {
		say("'%s' is not a list: whitelist, blacklist or skiplist", list);
		return EXIT_USAGE;
	}
	enum exit_code code = require_server(name);
	if (code == EXIT_DONE && ctl_path(path, "servers/%s/%s", name, list) < 0)
		return fail(ENAMETOOLONG, list);
	return code;
}

static enum exit_code print_file(const char *path)
{
	struct text t;
	int rc = read_file(path, &t);
	if (rc < 0)
		return fail(-rc, path);
	fwrite(t.data, 1, t.len, stdout);
	text_free(&t);
	return EXIT_DONE;
}

static enum exit_code cmd_list_show(char **args, int n)
{
	(void)n;
	char path[PATH_MAX];
	enum exit_code code = list_path(args[0], args[1], path);
	return code != EXIT_DONE ? code : print_file(path);
}

/* Appended text: the entries, one per line, after a newline if the list
 * does not end in one (so the first entry is not glued to the last). */
static int appended_text(const char *path, char **entries, int n, struct text *out)
{
	struct text current;
	int rc = read_file(path, &current);
	if (rc < 0)
		return rc;
	rc = text_add(out, "", 0);
	if (rc == 0 && current.len && current.data[current.len - 1] != '\n')
		rc = text_adds(out, "\n");
	for (int i = 0; rc == 0 && i < n; i++)
		if ((rc = text_adds(out, entries[i])) == 0)
			rc = text_adds(out, "\n");
	text_free(&current);
	return rc;
}

/* echo ENTRY >> LIST: O_APPEND, one write, and the daemon's verdict at
 * write() or close(). */
static enum exit_code cmd_list_add(char **args, int n)
{
	char path[PATH_MAX], log[PATH_MAX], what[PATH_MAX + 32];
	struct text text = {0};
	struct log_mark mark;
	enum exit_code code = list_path(args[0], args[1], path);
	if (code != EXIT_DONE)
		return code;
	if (!check_entries(args + 2, n - 2))
		return EXIT_USAGE;
	if (ctl_path(log, "servers/%s/log", args[0]) < 0)
		return fail(ENAMETOOLONG, args[0]);
	int rc = appended_text(path, args + 2, n - 2, &text);
	if (rc < 0) {
		text_free(&text);
		return fail(-rc, path);
	}
	mark_log(&mark, log);
	rc = write_file(path, O_WRONLY | O_APPEND, 0, text.data, text.len);
	if (rc < 0) {
		snprintf(what, sizeof what, "server %s: %s refused", args[0], args[1]);
		code = refused(-rc, what, &mark);
	}
	unmark_log(&mark);
	text_free(&text);
	return code;
}

/* A line's entry: its text before any '#', trimmed. */
static bool line_holds(const char *line, size_t len, const char *entry)
{
	const char *hash = memchr(line, '#', len);
	if (hash)
		len = (size_t)(hash - line);
	trim(&line, &len);
	size_t elen = strlen(entry);
	trim(&entry, &elen);
	return len == elen && strncasecmp(line, entry, len) == 0;
}

/* The list without the lines holding any of the entries; matched[i] says
 * whether entry i was on it. */
static int list_without(const struct text *list, char **entries, int n, bool *matched, struct text *out)
{
	const char *p = list->data, *end = list->data + list->len, *line;
	size_t len;
	int rc = text_add(out, "", 0);
	while (rc == 0 && next_line(&p, end, &line, &len)) {
		bool drop = false;
		for (int i = 0; i < n; i++)
			if (line_holds(line, len, entries[i]))
				drop = matched[i] = true;
		if (!drop && (rc = text_add(out, line, len)) == 0)
			rc = text_adds(out, "\n");
	}
	return rc;
}

/* A scratch file left by a failed replace; one that never came to be is
 * no error. */
static void remove_scratch(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		say("removing %s: %s", path, strerror(errno));
}

/* Like sed -i: the new text goes to a scratch file beside the list and is
 * renamed over it, so the list changes whole or not at all. */
static enum exit_code replace_list(const char *server, const char *list, const struct text *text)
{
	char path[PATH_MAX], scratch[PATH_MAX], log[PATH_MAX], what[PATH_MAX + 32];
	struct log_mark mark;
	if (ctl_path(path, "servers/%s/%s", server, list) < 0 ||
	    ctl_path(scratch, "servers/%s/.%s.symbold-admin.%ld", server, list, (long)getpid()) < 0 ||
	    ctl_path(log, "servers/%s/log", server) < 0)
		return fail(ENAMETOOLONG, list);
	int rc = write_file(scratch, O_WRONLY | O_CREAT | O_EXCL, 0664, text->data, text->len);
	if (rc < 0) {
		remove_scratch(scratch);
		return fail(-rc, scratch);
	}
	mark_log(&mark, log);
	enum exit_code code = EXIT_DONE;
	if (rename(scratch, path) < 0) {
		int err = errno;
		remove_scratch(scratch); /* a refused rename leaves it behind */
		snprintf(what, sizeof what, "server %s: %s refused", server, list);
		code = refused(err, what, &mark);
	}
	unmark_log(&mark);
	return code;
}

static enum exit_code report_unmatched(const char *server, const char *list, char **entries, int n,
				       const bool *matched)
{
	for (int i = 0; i < n; i++)
		if (!matched[i])
			say("%s is not on server %s's %s", entries[i], server, list);
	return EXIT_NOT_FOUND;
}

/* Every entry must be on the list, or nothing changes: a script that
 * removes what is not there learns so (exit 3). */
static enum exit_code cmd_list_rm(char **args, int n)
{
	char path[PATH_MAX];
	char **entries = args + 2;
	int count = n - 2;
	struct text list, rest = {0};
	enum exit_code code = list_path(args[0], args[1], path);
	if (code != EXIT_DONE)
		return code;
	if (!check_entries(entries, count))
		return EXIT_USAGE;
	int rc = read_file(path, &list);
	if (rc < 0)
		return fail(-rc, path);
	bool *matched = calloc((size_t)count, sizeof *matched);
	rc = matched ? list_without(&list, entries, count, matched, &rest) : -ENOMEM;
	bool all = rc == 0;
	for (int i = 0; all && i < count; i++)
		all = matched[i];
	code = rc < 0 ? fail(-rc, "editing the list")
	       : !all ? report_unmatched(args[0], args[1], entries, count, matched)
		      : replace_list(args[0], args[1], &rest);
	free(matched);
	text_free(&list);
	text_free(&rest);
	return code;
}

/* ---- commands: stats, log ---- */

static enum exit_code cmd_stats(char **args, int n)
{
	char path[PATH_MAX];
	enum exit_code code = n ? require_server(args[0]) : EXIT_DONE;
	if (code != EXIT_DONE)
		return code;
	if ((n ? ctl_path(path, "servers/%s/stats", args[0]) : ctl_path(path, "stats")) < 0)
		return fail(ENAMETOOLONG, "stats");
	return print_file(path);
}

/* A figure of the daemon's stats file, or -1. */
static long long stat_figure(const struct text *t, const char *name)
{
	size_t len = strlen(name);
	for (const char *at = t->data; at && (at = strstr(at, name)) != NULL; at += len)
		if ((at == t->data || at[-1] == '\n') && at[len] == ' ')
			return strtoll(at + len + 1, NULL, 10);
	return -1;
}

static void print_size(const char *label, long long bytes)
{
	printf("%s%.1f MiB (%lld bytes)", label, (double)bytes / (1 << 20), bytes);
}

/* The store against its budget. */
static enum exit_code cmd_store(char **args, int n)
{
	(void)args;
	(void)n;
	char path[PATH_MAX];
	struct text t;
	if (ctl_path(path, "stats") < 0 || read_file(path, &t) < 0)
		return fail(EIO, "reading stats");
	long long bytes = stat_figure(&t, "store_bytes"), budget = stat_figure(&t, "store_budget_bytes");
	print_size("store: ", bytes);
	printf(" in %lld files\n", stat_figure(&t, "store_files"));
	print_size("budget: ", budget);
	if (budget > 0)
		printf(", %.0f%% used", 100.0 * (double)bytes / (double)budget);
	printf("\n");
	print_size("evicted: ", stat_figure(&t, "evicted_bytes"));
	printf(" in %lld files\n", stat_figure(&t, "evictions"));
	text_free(&t);
	return EXIT_DONE;
}

/* Where the last `lines` lines of t begin. */
static size_t tail_start(const struct text *t, long lines)
{
	size_t i = t->len;
	if (i && t->data[i - 1] == '\n')
		i--; /* the final newline ends the last line; it does not start one */
	for (long seen = 0; i > 0; i--)
		if (t->data[i - 1] == '\n' && ++seen == lines)
			break;
	return lines == 0 ? t->len : i;
}

static bool parse_count(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return false;
	*out = v;
	return true;
}

static enum exit_code cmd_log(char **args, int n)
{
	const char *server = NULL;
	long lines = -1; /* all */
	for (int i = 0; i < n; i++) {
		if (strcmp(args[i], "-n") == 0 && i + 1 < n && parse_count(args[i + 1], &lines))
			i++;
		else if (args[i][0] != '-' && !server)
			server = args[i];
		else {
			say("usage: symbold-admin log [NAME] [-n N]");
			return EXIT_USAGE;
		}
	}
	char path[PATH_MAX];
	struct text t;
	enum exit_code code = server ? require_server(server) : EXIT_DONE;
	if (code != EXIT_DONE)
		return code;
	if ((server ? ctl_path(path, "servers/%s/log", server) : ctl_path(path, "log")) < 0)
		return fail(ENAMETOOLONG, "log");
	int rc = read_file(path, &t);
	if (rc < 0)
		return fail(-rc, path);
	size_t start = lines < 0 ? 0 : tail_start(&t, lines);
	fwrite(t.data + start, 1, t.len - start, stdout);
	text_free(&t);
	return EXIT_DONE;
}

/* ---- scan ---- */

#define SCAN_BATCH 2000 /* records per write of `missing`: one catalog transaction each */

static enum exit_code usage_error(const char *message);
#define WAIT_POLL_MS 500

struct scan_state {
	struct text lines;  /* every record, as lines of `missing` */
	size_t records;
	struct names pairs; /* "debug_file/debug_id" of every record, for --wait */
	bool bar;           /* stderr is a terminal: show progress */
};

static int keep_record(const struct scan_record *r, void *ctx)
{
	struct scan_state *st = ctx;
	char line[5 * SCAN_FIELD_MAX + 8], pair[2 * SCAN_FIELD_MAX + 2];
	int rc = scan_format_record(r, line, sizeof line);
	if (rc == 0 && (rc = text_adds(&st->lines, line)) == 0)
		rc = text_adds(&st->lines, "\n");
	snprintf(pair, sizeof pair, "%s/%s", r->debug_file, r->debug_id);
	if (rc == 0 && (rc = names_add(&st->pairs, pair)) == 0)
		st->records++;
	return rc;
}

static void scan_state_free(struct scan_state *st)
{
	names_free(&st->pairs);
	text_free(&st->lines);
}

static int by_pair(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct keys, sorted (for bsearch). */
static void unique_pairs(struct names *pairs)
{
	if (!pairs->n)
		return;
	qsort(pairs->v, pairs->n, sizeof *pairs->v, by_pair);
	size_t kept = 1;
	for (size_t i = 1; i < pairs->n; i++) {
		if (by_pair(&pairs->v[i], &pairs->v[kept - 1]) == 0)
			free(pairs->v[i]);
		else
			pairs->v[kept++] = pairs->v[i];
	}
	pairs->n = kept;
}

static void progress(bool bar, const char *what, size_t done, size_t total)
{
	if (!bar)
		return;
	int width = 30, filled = total ? (int)((double)done / (double)total * width) : width;
	fprintf(stderr, "\r%-9s [%.*s%*s] %3d%% %zu/%zu", what, filled, "##############################",
		width - filled, "", total ? (int)(done * 100 / total) : 100, done, total);
	fflush(stderr);
}

static void progress_end(bool bar)
{
	if (bar)
		fputc('\n', stderr);
}

/* A stackwalk report's crash is named after its file (crash-42.txt -> crash-42). */
static void object_from_path(const char *path, char out[SCAN_FIELD_MAX])
{
	const char *base = strrchr(path, '/');
	snprintf(out, SCAN_FIELD_MAX, "%s", base ? base + 1 : path);
	char *dot = strrchr(out, '.');
	if (dot && dot != out)
		*dot = '\0';
}

static enum exit_code scan_file(const char *path, const char *object, struct scan_state *st)
{
	struct text t;
	char err[300], named[SCAN_FIELD_MAX];
	int rc = strcmp(path, "-") == 0 ? read_file("/dev/stdin", &t) : read_file(path, &t);
	if (rc < 0)
		return fail(-rc, path);
	object_from_path(path, named);
	rc = scan_text(t.data, t.len, object, strcmp(path, "-") ? named : NULL, keep_record, st, err, sizeof err);
	text_free(&t);
	if (rc == -EINVAL) {
		say("%s: %s", path, err);
		return EXIT_INVALID;
	}
	return rc < 0 ? fail(-rc, path) : EXIT_DONE;
}

/* Appends the records to `missing`, SCAN_BATCH lines per close. */
static enum exit_code write_records(const struct scan_state *st)
{
	char path[PATH_MAX], log[PATH_MAX];
	if (ctl_path(path, "missing") < 0 || ctl_path(log, "log") < 0)
		return fail(ENAMETOOLONG, "missing");
	const char *p = st->lines.data, *end = p + st->lines.len;
	size_t written = 0;
	while (p < end) {
		const char *q = p;
		size_t n = 0;
		while (q < end && n < SCAN_BATCH) {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			q = nl ? nl + 1 : end;
			n++;
		}
		struct log_mark mark;
		mark_log(&mark, log);
		int rc = write_file(path, O_WRONLY | O_APPEND, 0, p, (size_t)(q - p));
		enum exit_code code = EXIT_DONE;
		if (rc < 0) {
			progress_end(st->bar);
			say("records %zu-%zu refused (the %zu before them were recorded)", written + 1, written + n,
			    written);
			code = refused(-rc, path, &mark);
		}
		unmark_log(&mark);
		if (code != EXIT_DONE)
			return code;
		written += n;
		progress(st->bar, "recorded", written, st->records);
		p = q;
	}
	progress_end(st->bar && st->records);
	return EXIT_DONE;
}

/* How many of the keys `missing` still lists, and the fetches in flight. */
static int still_missing(const struct scan_state *st, size_t *missing, long *in_flight)
{
	char path[PATH_MAX];
	struct text t;
	*missing = 0;
	*in_flight = 0;
	if (ctl_path(path, "missing") < 0 || read_file(path, &t) < 0)
		return -EIO;
	const char *p = t.data, *end = t.data + t.len, *line;
	size_t len;
	while (next_line(&p, end, &line, &len)) {
		char *pair = strndup(line, strcspn(line, " \n"));
		if (pair && bsearch(&pair, st->pairs.v, st->pairs.n, sizeof *st->pairs.v, by_pair))
			(*missing)++;
		free(pair);
	}
	text_free(&t);
	if (ctl_path(path, "stats") < 0 || read_file(path, &t) < 0)
		return -EIO;
	const char *at = strstr(t.data, "fetches_in_flight ");
	if (at)
		*in_flight = strtol(at + strlen("fetches_in_flight "), NULL, 10);
	text_free(&t);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Follows the fetches the records queued until every key is in, nothing is
 * being fetched any more (twice in a row), or `seconds` pass (< 0: no limit). */
static enum exit_code wait_for_keys(const struct scan_state *st, double seconds)
{
	double deadline = now_s() + seconds;
	size_t missing = st->pairs.n;
	long in_flight;
	int idle = 0;
	while (seconds < 0 || now_s() < deadline) {
		if (still_missing(st, &missing, &in_flight) < 0)
			return fail(EIO, "reading missing and stats");
		progress(st->bar, "fetched", st->pairs.n - missing, st->pairs.n);
		idle = in_flight == 0 ? idle + 1 : 0;
		if (missing == 0 || idle >= 2)
			break;
		nanosleep(&(struct timespec){0, WAIT_POLL_MS * 1000000L}, NULL);
	}
	progress_end(st->bar);
	printf("%zu keys: %zu in the store, %zu still missing\n", st->pairs.n, st->pairs.n - missing, missing);
	return EXIT_DONE;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0)
		return false;
	*out = v;
	return true;
}

static enum exit_code cmd_scan(char **args, int n)
{
	const char *object = NULL;
	struct scan_state st = {.bar = isatty(STDERR_FILENO) == 1};
	double wait = st.bar ? -1 : 0; /* on a terminal, follow the fetches */
	enum exit_code code = EXIT_DONE;
	int files = 0;
	for (int i = 0; i < n && code == EXIT_DONE; i++) {
		if (strcmp(args[i], "--object") == 0 && i + 1 < n)
			object = args[++i];
		else if (strcmp(args[i], "--wait") == 0 && i + 1 < n && parse_seconds(args[i + 1], &wait))
			i++;
		else if (strcmp(args[i], "--no-wait") == 0)
			wait = 0;
		else if (args[i][0] == '-' && args[i][1])
			code = usage_error("scan: unknown option, or --object/--wait without a value");
		else
			files++;
	}
	if (code == EXIT_DONE && !files)
		code = usage_error("scan: no FILE given ('-' reads standard input)");
	for (int i = 0; i < n && code == EXIT_DONE; i++) {
		if (strcmp(args[i], "--object") == 0 || strcmp(args[i], "--wait") == 0)
			i++;
		else if (strcmp(args[i], "--no-wait") != 0)
			code = scan_file(args[i], object, &st);
	}
	if (code == EXIT_DONE)
		code = write_records(&st);
	unique_pairs(&st.pairs);
	if (code == EXIT_DONE)
		printf("%zu records for %zu keys from %d files\n", st.records, st.pairs.n, files);
	if (code == EXIT_DONE && wait != 0 && st.pairs.n)
		code = wait_for_keys(&st, wait);
	scan_state_free(&st);
	return code;
}

/* ---- the command table ---- */

struct command {
	const char *group; /* the first word */
	const char *name;  /* the second word, or NULL */
	int min_args, max_args; /* after the words; max -1: any */
	enum exit_code (*run)(char **args, int n);
	const char *synopsis;
	const char *help;
};

static const struct command commands[] = {
	{"server", "ls", 0, 1, server_ls, "server ls [-q|--quiet]",
	 "Lists the servers, one line each under a header: NAME TYPE ENABLED PRIORITY URL,\n"
	 "as their configs say. With -q, only the names.\n"},
	{"server", "add", 1, -1, cmd_server_add, "server add NAME [KEY=VALUE...]",
	 "Makes the server (mkdir servers/NAME) and writes a config of the KEY=VALUE given;\n"
	 "keys not given take their defaults, so the server is enabled unless enabled=0 is\n"
	 "given, and the daemon then proves its connection. A refused config removes the\n"
	 "new server again. Keys: type url enabled priority layout prefix whitelist_enabled\n"
	 "concurrency retries skiplist_ttl timeout_s max_transfer_s slot_wait_s proxy\n"
	 "proxy_user proxy_password user password s3_bucket s3_region s3_access_key\n"
	 "s3_secret_key ca_file verify_tls upload\n"
	 "(docs/CONFIG.md). Arguments are never echoed: values may be secrets.\n"},
	{"server", "edit", 2, -1, cmd_server_edit, "server edit NAME KEY=VALUE...",
	 "Reads the server's config, sets the keys given and writes the whole config back;\n"
	 "secrets not given stay as they are.\n"},
	{"server", "rm", 1, 1, cmd_server_rm, "server rm NAME",
	 "Removes the server with its lists and figures; its stored symbols stay.\n"},
	{"server", "enable", 1, 1, cmd_server_enable, "server enable NAME",
	 "Sets enabled = 1; the daemon proves the connection first.\n"},
	{"server", "disable", 1, 1, cmd_server_disable, "server disable NAME",
	 "Sets enabled = 0; the server keeps its lists and figures.\n"},
	{"server", "validate", 1, 1, cmd_server_validate, "server validate NAME",
	 "Proves the connection of the server's current config now and prints the daemon's\n"
	 "answer, 'ok: ...' (exit 0) or 'failed: reason' (exit 6).\n"},
	{"list", "show", 2, 2, cmd_list_show, "list show NAME LIST",
	 "Prints a server's whitelist, blacklist or skiplist.\n"},
	{"list", "add", 3, -1, cmd_list_add, "list add NAME LIST ENTRY...",
	 "Appends each ENTRY as a line of the list; a bad entry refuses them all (exit 2).\n"},
	{"list", "rm", 3, -1, cmd_list_rm, "list rm NAME LIST ENTRY...",
	 "Removes the lines whose entry (the text before any '#', trimmed) is one of the\n"
	 "ENTRYs, ignoring case. The list changes at once, whole (a rename). If an ENTRY is\n"
	 "on no line, nothing changes and the exit status is 3.\n"},
	{"stats", NULL, 0, 1, cmd_stats, "stats [NAME]",
	 "Prints the daemon-wide figures, or one server's.\n"},
	{"store", NULL, 0, 0, cmd_store, "store",
	 "Prints what the store holds against its budget (max_store_size, less what keeps its\n"
	 "file system's free reserve), and what was evicted to keep it.\n"},
	{"log", NULL, 0, 3, cmd_log, "log [NAME] [-n N]",
	 "Prints the daemon's log, or one server's, oldest first; -n N: the last N lines.\n"},
	{"scan", NULL, 1, -1, cmd_scan, "scan [--object ID] [--wait SECONDS|--no-wait] FILE...",
	 "Reads what a crash processor reported missing and appends it to .symbold/missing,\n"
	 "where the daemon records each crash report (object) as waiting for its symbols and\n"
	 "fetches them (every list and limit applies); when they arrive, the objects are\n"
	 "reprocessed (.symbold/reprocess, reprocess_dir, reprocess_cmd). FILE ('-': standard\n"
	 "input) is minidump_stackwalk output — its -m 'Module|...' lines, its plain output's\n"
	 "'(WARNING: No symbols, FILE, ID)' modules, its 'Couldn't load symbols for: FILE|ID'\n"
	 "log lines — whose object is FILE's name without its extension, or --object ID; or\n"
	 "CSV: a header naming debug_file, debug_id, code_file, code_id and an object column\n"
	 "(object, object_id, crash_id or uuid), or no header and the fields in the order\n"
	 "[object,]debug_file,debug_id[,code_file,code_id]; without an object column, --object\n"
	 "names it. Then follows the fetches (a progress bar on a terminal) until every key is\n"
	 "in or nothing more is being fetched, for at most --wait SECONDS (default: not at all\n"
	 "unless on a terminal). A record the daemon refuses refuses its batch of 2000 (exit 2).\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* `symbold-admin GROUP --help` shows the group; `GROUP NAME --help` one. */
static void print_help(FILE *to, const char *group, const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		if (strcmp(c->group, group) != 0 || (name && c->name && strcmp(c->name, name) != 0))
			continue;
		fprintf(to, "usage: symbold-admin [--mount DIR] %s\n%s\n", c->synopsis, c->help);
	}
	fprintf(to, "Exit status: 0 done, 1 usage, 2 invalid, 3 no such server or entry, 4 no mount,\n"
	       "5 permission denied, 6 unreachable, 7 exists, 8 other (symbold-admin --help).\n");
}

static bool group_exists(const char *group)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0)
			return true;
	return false;
}

static const struct command *find_command(const char *group, const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0 && (!commands[i].name || (name && strcmp(commands[i].name, name) == 0)))
			return &commands[i];
	return NULL;
}

static enum exit_code usage_error(const char *message)
{
	say("%s", message);
	fputs("Try 'symbold-admin --help'.\n", stderr);
	return EXIT_USAGE;
}

/* ---- finding the mount ---- */

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/* /proc/self/mounts writes space, tab, newline and backslash as \ooo. */
static void unescape_mount_field(char *s)
{
	char *out = s;
	for (const char *p = s; *p;) {
		if (p[0] == '\\' && is_octal(p[1]) && is_octal(p[2]) && is_octal(p[3])) {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 4;
		} else {
			*out++ = *p++;
		}
	}
	*out = '\0';
}

/* The mount point of a "fuse.symbold" line, or NULL. */
static char *symbold_mount_point(char *line)
{
	char *save, *device = strtok_r(line, " \n", &save);
	char *dir = device ? strtok_r(NULL, " \n", &save) : NULL;
	char *type = dir ? strtok_r(NULL, " \n", &save) : NULL;
	if (!type || strcmp(type, "fuse.symbold") != 0)
		return NULL;
	unescape_mount_field(dir);
	return dir;
}

static bool control_tree_answers(const char *mount)
{
	char version[PATH_MAX];
	struct stat st;
	return snprintf(version, sizeof version, "%s/.symbold/version", mount) < (int)sizeof version &&
	       stat(version, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first symbold mount whose daemon answers; else the first one, so that
 * the caller says why it does not answer. A dead mount a killed daemon left
 * behind must not hide a live one mounted after it. */
static int first_symbold_mount(char out[PATH_MAX])
{
	FILE *f = fopen("/proc/self/mounts", "re");
	if (!f)
		return -errno;
	char *line = NULL, *dir = NULL;
	size_t cap = 0;
	int rc = -ENOENT;
	bool answers = false;
	while (!answers && getline(&line, &cap, f) >= 0) {
		if (!(dir = symbold_mount_point(line)) || strlen(dir) >= PATH_MAX)
			continue;
		answers = control_tree_answers(dir);
		if (rc == -ENOENT || answers) {
			strcpy(out, dir);
			rc = 0;
		}
	}
	if (rc == -ENOENT && ferror(f))
		rc = -EIO;
	free(line);
	if (fclose(f) != 0 && rc == -ENOENT)
		rc = -errno;
	return rc;
}

/* --mount, else $SYMBOLD_MOUNT, else /proc/self/mounts; then the control
 * tree must answer there. */
static enum exit_code find_control_tree(const char *option)
{
	char mount[PATH_MAX], version[PATH_MAX];
	const char *env = getenv("SYMBOLD_MOUNT");
	const char *given = option ? option : env && *env ? env : NULL;
	struct stat st;
	if (given && snprintf(mount, sizeof mount, "%s", given) >= (int)sizeof mount)
		return fail(ENAMETOOLONG, given);
	if (!given && first_symbold_mount(mount) < 0) {
		say("no symbold mount found: give --mount DIR or set SYMBOLD_MOUNT");
		return EXIT_NO_MOUNT;
	}
	if (snprintf(control_dir, sizeof control_dir, "%s/.symbold", mount) >= (int)sizeof control_dir ||
	    ctl_path(version, "version") < 0)
		return fail(ENAMETOOLONG, mount);
	int found = stat(version, &st) == 0, err = found ? 0 : errno;
	if (found && S_ISREG(st.st_mode))
		return EXIT_DONE;
	if (err == ENOTCONN || err == ENXIO)
		say("%s: the symbold daemon is not answering: %s", mount, strerror(err));
	else
		say("%s: no symbold mount here (no .symbold/version)", mount);
	return err == EACCES ? EXIT_DENIED : EXIT_NO_MOUNT;
}

/* ---- main ---- */

struct invocation {
	const char *mount; /* --mount, or NULL */
	char **words;      /* the command and its arguments */
	int nwords;
	bool help;
	bool version;
};

static bool parse_global_options(int argc, char **argv, struct invocation *inv)
{
	int i = 1;
	*inv = (struct invocation){0};
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (is_help(argv[i]))
			inv->help = true;
		else if (strcmp(argv[i], "--version") == 0)
			inv->version = true;
		else if (strcmp(argv[i], "--mount") == 0 && i + 1 < argc)
			inv->mount = argv[++i];
		else if (starts_with(argv[i], "--mount="))
			inv->mount = argv[i] + strlen("--mount=");
		else
			return false;
	}
	inv->words = argv + i;
	inv->nwords = argc - i;
	return true;
}

static bool wants_help(char **words, int n)
{
	for (int i = 0; i < n; i++)
		if (is_help(words[i]))
			return true;
	return false;
}

static enum exit_code check_arg_count(const struct command *c, int n)
{
	if (n >= c->min_args && (c->max_args < 0 || n <= c->max_args))
		return EXIT_DONE;
	fprintf(stderr, "usage: symbold-admin [--mount DIR] %s\n", c->synopsis);
	return EXIT_USAGE;
}

/* Output goes to a pipe or file a script reads: a failed write is an error. */
static enum exit_code finish_output(enum exit_code code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int err = errno ? errno : EIO;
		say("writing the output: %s", strerror(err));
		return code == EXIT_DONE ? EXIT_OTHER : code;
	}
	return code;
}

static enum exit_code run(int argc, char **argv)
{
	struct invocation inv;
	if (!parse_global_options(argc, argv, &inv))
		return usage_error("unknown option, or --mount without DIR");
	if (inv.version && !inv.help) { /* needs no mount: a package check runs it anywhere */
		printf("symbold-admin %s\n", SYMBOLD_VERSION);
		return EXIT_DONE;
	}
	if (inv.nwords == 0) {
		fputs(usage_text, inv.help ? stdout : stderr);
		return inv.help ? EXIT_DONE : EXIT_USAGE;
	}
	const char *group = inv.words[0], *name = inv.nwords > 1 ? inv.words[1] : NULL;
	if (!group_exists(group))
		return usage_error("unknown command");
	if (inv.help || wants_help(inv.words + 1, inv.nwords - 1)) {
		const struct command *c = find_command(group, name);
		print_help(stdout, group, c && c->name ? c->name : NULL);
		return EXIT_DONE;
	}
	const struct command *c = find_command(group, name);
	if (!c) {
		say("unknown %s sub-command", group);
		print_help(stderr, group, NULL);
		return EXIT_USAGE;
	}
	int skip = c->name ? 2 : 1;
	enum exit_code code = check_arg_count(c, inv.nwords - skip);
	if (code == EXIT_DONE)
		code = find_control_tree(inv.mount);
	return code == EXIT_DONE ? c->run(inv.words + skip, inv.nwords - skip) : code;
}

int main(int argc, char **argv)
{
	return (int)finish_output(run(argc, argv));
}
