/* config: the daemon's options — defaults from XDG_DATA_HOME / HOME, each
 * option and its bad values — and the INI file: [symbold] keys, [server NAME]
 * sections, comments, and errors as "FILE:LINE: reason". */
#include "admin/config.h"

#include "tests/unit/files.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[1024];
static char tmpdir[64];

static int set(struct options *o, const char *key, const char *value)
{
	err[0] = '\0';
	return options_set(o, key, value, err, sizeof err);
}

static void set_bad(struct options *o, const char *key, const char *value, const char *needle)
{
	struct options before = *o;
	is_int(set(o, key, value), -EINVAL, "%s = '%s' refused", key, value);
	ok(strstr(err, needle) != NULL, "%s = '%s': reason mentions '%s' (%s)", key, value, needle, err);
	ok(memcmp(&before, o, sizeof before) == 0, "%s = '%s': options unchanged", key, value);
}

static void test_defaults(void)
{
	struct options o;
	char want[PATH_MAX + 64], home[128], conf[256];

	snprintf(home, sizeof home, "%s/home", tmpdir);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	setenv("XDG_DATA_HOME", "/xdg/data", 1);
	options_defaults(&o);
	is_str(o.store, "/xdg/data/symbold/store", "store under XDG_DATA_HOME");
	is_str(o.db, "/xdg/data/symbold/catalog.db", "catalog under XDG_DATA_HOME");

	setenv("XDG_DATA_HOME", "relative/dir", 1);
	options_defaults(&o);
	snprintf(want, sizeof want, "%s/.local/share/symbold/store", home);
	is_str(o.store, want, "a relative XDG_DATA_HOME is ignored");

	setenv("XDG_DATA_HOME", "", 1);
	options_defaults(&o);
	is_str(o.store, want, "an empty XDG_DATA_HOME is ignored");

	unsetenv("XDG_DATA_HOME");
	options_defaults(&o);
	is_str(o.store, want, "store under HOME/.local/share");
	snprintf(want, sizeof want, "%s/.local/share/symbold/catalog.db", home);
	is_str(o.db, want, "catalog under HOME/.local/share");

	int etc = access("/etc/symbold/symbold.conf", R_OK) == 0;
	if (!etc)
		is_str(o.config, "", "no config file when none exists");
	snprintf(conf, sizeof conf, "%s/.config", home);
	mkdir(conf, 0700);
	snprintf(conf, sizeof conf, "%s/.config/symbold", home);
	mkdir(conf, 0700);
	snprintf(conf, sizeof conf, "%s/.config/symbold/symbold.conf", home);
	write_text(conf, "[symbold]\n");
	options_defaults(&o);
	is_str(o.config, etc ? "/etc/symbold/symbold.conf" : conf, "~/.config/symbold/symbold.conf when present");
	unlink(conf);
	snprintf(conf, sizeof conf, "%s/.config/symbold", home);
	rmdir(conf);
	snprintf(conf, sizeof conf, "%s/.config", home);
	rmdir(conf);
	rmdir(home);

	is_int(o.wait, 30, "wait 30 s");
	is_int(o.negative_ttl, 3600, "negative_ttl 1 h");
	is_int(o.default_servers, 1, "default servers on");
	is_int(o.workers, 4, "4 workers");
	is_int(o.max_file_size, 8LL << 30, "max_file_size 8 GiB");
	is_int(o.log_lines, 10000, "log_lines 10000");
	is_str(o.reprocess_dir, "", "no reprocess dir");
	is_str(o.reprocess_cmd, "", "no reprocess command");
	is_str(o.admin_group, "", "no admin group");

	unsetenv("HOME");
	options_defaults(&o);
	is_str(o.store, "/var/lib/.local/share/symbold/store", "without HOME: under /var/lib");
	if (!etc)
		is_str(o.config, "", "without HOME: no config");
}

static void test_set(void)
{
	struct options o;
	options_defaults(&o);

	is_int(set(&o, "store", "/srv/store"), 0, "store");
	is_str(o.store, "/srv/store", "store value");
	is_int(set(&o, "db", "/srv/cat.db"), 0, "db");
	is_str(o.db, "/srv/cat.db", "db value");
	is_int(set(&o, "config", ""), 0, "config ''");
	is_int(set(&o, "reprocess_dir", "/srv/spool"), 0, "reprocess_dir");
	is_str(o.reprocess_dir, "/srv/spool", "reprocess_dir value");
	is_int(set(&o, "reprocess_cmd", "/usr/bin/reprocess --fast"), 0, "reprocess_cmd");
	is_str(o.reprocess_cmd, "/usr/bin/reprocess --fast", "reprocess_cmd value");
	is_int(set(&o, "admin_group", "symadmin"), 0, "admin_group");
	is_str(o.admin_group, "symadmin", "admin_group value");

	char *longv = malloc(PATH_MAX + 1);
	memset(longv, 'x', PATH_MAX);
	longv[PATH_MAX] = '\0';
	set_bad(&o, "store", longv, "too long");
	longv[PATH_MAX - 1] = '\0';
	is_int(set(&o, "store", longv), 0, "store of PATH_MAX - 1 bytes");
	longv[64] = '\0';
	set_bad(&o, "admin_group", longv, "too long");
	longv[63] = '\0';
	is_int(set(&o, "admin_group", longv), 0, "admin_group of 63 bytes");
	memset(longv, 'c', 1024);
	longv[1024] = '\0';
	set_bad(&o, "reprocess_cmd", longv, "too long");
	free(longv);

	is_int(set(&o, "wait", "2.5"), 0, "wait 2.5");
	ok(o.wait == 2.5, "wait is fractional");
	is_int(set(&o, "wait", "0"), 0, "wait 0");
	is_int(set(&o, "wait", "86400"), 0, "wait 86400");
	set_bad(&o, "wait", "86401", "0..86400");
	set_bad(&o, "wait", "-1", "wait");
	set_bad(&o, "wait", "", "wait");
	set_bad(&o, "wait", "30s", "30s");
	set_bad(&o, "wait", "nan", "nan");
	set_bad(&o, "wait", "inf", "inf");

	is_int(set(&o, "negative_ttl", "0"), 0, "negative_ttl 0");
	is_int(set(&o, "negative_ttl", "2592000"), 0, "negative_ttl 30 days");
	is_int(o.negative_ttl, 2592000, "negative_ttl value");
	set_bad(&o, "negative_ttl", "2592001", "negative_ttl");
	set_bad(&o, "negative_ttl", "1.5", "negative_ttl");

	is_int(set(&o, "default_servers", "0"), 0, "default_servers 0");
	is_int(o.default_servers, 0, "default servers off");
	is_int(set(&o, "default_servers", "1"), 0, "default_servers 1");
	is_int(o.default_servers, 1, "default servers on");
	set_bad(&o, "default_servers", "2", "default_servers");
	set_bad(&o, "default_servers", "0.5", "default_servers");
	set_bad(&o, "default_servers", "yes", "default_servers");

	is_int(set(&o, "workers", "64"), 0, "workers 64");
	is_int(o.workers, 64, "workers value");
	set_bad(&o, "workers", "0", "1..64");
	set_bad(&o, "workers", "65", "1..64");
	set_bad(&o, "workers", "2.5", "workers");

	is_int(set(&o, "max_file_size", "1024"), 0, "max_file_size 1024");
	is_int(set(&o, "max_file_size", "10000000000"), 0, "max_file_size 10 GB");
	is_int(o.max_file_size, 10000000000LL, "max_file_size value");
	is_int(set(&o, "max_file_size", "1e12"), 0, "max_file_size 1e12");
	is_int(o.max_file_size, 1000000000000LL, "max_file_size in exponent form");
	set_bad(&o, "max_file_size", "1023", "max_file_size");
	set_bad(&o, "max_file_size", "1e14", "max_file_size");

	is_int(set(&o, "log_lines", "10"), 0, "log_lines 10");
	is_int(o.log_lines, 10, "log_lines value");
	set_bad(&o, "log_lines", "9", "log_lines");
	set_bad(&o, "log_lines", "10000001", "log_lines");

	set_bad(&o, "colour", "blue", "unknown option");
	set_bad(&o, "Store", "/x", "unknown option");
}

struct loaded {
	struct options o;
	struct config_server *servers;
	size_t n;
	int rc;
};

static void load(struct loaded *l, const char *path, const char *text)
{
	options_defaults(&l->o);
	snprintf(l->o.config, sizeof l->o.config, "%s", path);
	if (text)
		write_text(path, text);
	err[0] = '\0';
	l->servers = (struct config_server *)0x1;
	l->n = 99;
	l->rc = config_load(&l->o, &l->servers, &l->n, err, sizeof err);
}

static void load_bad(const char *path, const char *text, int line, const char *needle, const char *what)
{
	struct loaded l;
	char prefix[PATH_MAX + 32];
	load(&l, path, text);
	is_int(l.rc, -EINVAL, "refused: %s", what);
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	ok(strncmp(err, prefix, strlen(prefix)) == 0, "%s: error starts with FILE:%d: (%s)", what, line, err);
	ok(strstr(err, needle) != NULL, "%s: reason mentions '%s'", what, needle);
	ok(l.servers == NULL && l.n == 0, "%s: no servers returned", what);
}

static void test_load(void)
{
	char path[128];
	struct loaded l;
	snprintf(path, sizeof path, "%s/symbold.conf", tmpdir);

	load(&l, path,
	     "# symbold configuration\n"
	     "; another comment style\n"
	     "\n"
	     "[symbold]\n"
	     "store = /srv/symbols\n"
	     "  wait=5   \n"
	     "default_servers = 0\r\n"
	     "\n"
	     "[server corp]\n"
	     "type = symsrv\n"
	     "url = https://symbols.corp.example/sym\n"
	     "priority = 10\n"
	     "\t# indented comment\n"
	     "[ server   local-dir ]\n"
	     "type = dir\n"
	     "url = file:///srv/dropbox\n"
	     "upload = 1\n"
	     "[symbold]\n"
	     "workers = 8\n"
	     "[server\tS3.bucket]\n"
	     "type = s3\n"
	     "s3_bucket = syms\n"
	     "s3_secret_key = k = v");
	is_int(l.rc, 0, "a full config file loads (%s)", err);
	is_str(l.o.store, "/srv/symbols", "[symbold] store");
	ok(l.o.wait == 5, "[symbold] wait");
	is_int(l.o.default_servers, 0, "[symbold] default_servers, CRLF line");
	is_int(l.o.workers, 8, "a second [symbold] section");
	is_int(l.n, 3, "three servers");
	if (l.rc == 0 && l.n == 3) {
		is_str(l.servers[0].name, "corp", "first server");
		is_int(l.servers[0].cfg.type, SRV_SYMSRV, "corp type");
		is_str(l.servers[0].cfg.url, "https://symbols.corp.example/sym", "corp url");
		is_int(l.servers[0].cfg.priority, 10, "corp priority");
		is_int(l.servers[0].cfg.retries, 3, "corp keeps defaults");
		is_str(l.servers[1].name, "local-dir", "second server, spaces in the header");
		is_int(l.servers[1].cfg.type, SRV_DIR, "local-dir type");
		is_int(l.servers[1].cfg.upload, 1, "local-dir upload");
		is_str(l.servers[2].name, "S3.bucket", "third server, tab in the header");
		is_str(l.servers[2].cfg.s3_secret_key, "k = v", "value after the first '='");
	}
	if (l.rc == 0)
		free(l.servers);

	load(&l, path, "");
	is_int(l.rc, 0, "an empty file loads");
	is_int(l.n, 0, "no servers");
	free(l.rc == 0 ? l.servers : NULL);

	options_defaults(&l.o);
	l.o.config[0] = '\0';
	l.servers = (struct config_server *)0x1;
	is_int(config_load(&l.o, &l.servers, &l.n, err, sizeof err), 0, "no config file configured");
	ok(l.servers == NULL && l.n == 0, "no servers");

	char missing[160];
	snprintf(missing, sizeof missing, "%s/nonexistent.conf", tmpdir);
	load(&l, missing, NULL);
	is_int(l.rc, -ENOENT, "a missing file is -ENOENT");
	ok(strstr(err, missing) != NULL, "the error names the file (%s)", err);
	ok(l.servers == NULL && l.n == 0, "a missing file returns no servers");
	load(&l, tmpdir, NULL);
	ok(l.rc < 0 && l.rc != -EINVAL, "a directory is a negative errno (%d)", l.rc);
	if (l.rc == 0)
		free(l.servers);

	load_bad(path, "[symbold]\nwait = 1\n[daemon]\n", 3, "unknown section", "an unknown section");
	load_bad(path, "[server]\n", 1, "section", "[server] without a name");
	load_bad(path, "# c\nwait = 1\n", 2, "outside", "a key outside a section");
	load_bad(path, "[server a]\ntype = dir\nurl = /x\n\n[server A]\n", 5, "twice",
		 "a duplicate server (case-insensitive)");
	load_bad(path, "[server bad name!]\n", 1, "bad server name", "a bad server name");
	load_bad(path, "[server .hidden]\n", 1, "bad server name", "a dot server name");
	load_bad(path, "[symbold]\n\nworkers = 100\n", 3, "workers", "a bad [symbold] value");
	load_bad(path, "[symbold]\ncolour = blue\n", 2, "unknown option", "an unknown [symbold] key");
	load_bad(path, "[server x]\ntype = dir\nretries = many\n", 3, "retries", "a bad server value");
	load_bad(path, "[server x]\ntype = dir\nflavour = 1\n", 3, "unknown key", "an unknown server key");
	load_bad(path, "[server x]\ntype = http\nurl = https://x/\nuser = u\npassword = ***\n", 5, "password = ***",
		 "password = *** (a shown config pasted in: nothing to keep)");
	load_bad(path, "[server x]\ntype = http\nurl = https://x/\nproxy_password=***\n", 4, "proxy_password = ***",
		 "proxy_password = ***");
	load_bad(path, "[server x]\ntype = s3\ns3_bucket = b\ns3_secret_key = ***\n", 4, "s3_secret_key = ***",
		 "s3_secret_key = ***");
	load_bad(path, "[symbold\n", 1, "malformed", "an unclosed section header");
	load_bad(path, "[symbold] extra\n", 1, "malformed", "text after a section header");
	load_bad(path, "[symbold]\njust words\n", 2, "key = value", "a line without '='");

	char *longline = malloc(5000);
	strcpy(longline, "[symbold]\nreprocess_cmd = ");
	size_t len = strlen(longline);
	memset(longline + len, 'x', 4500);
	strcpy(longline + len + 4500, "\n");
	load_bad(path, longline, 2, "too long", "a line over 4 KiB");
	free(longline);

	/* srvconf_check failures name the server */
	load(&l, path, "[server good]\ntype = dir\nurl = /x\n[server broken]\ntype = http\nurl = /not/a/url\n");
	is_int(l.rc, -EINVAL, "a server failing its check is refused");
	ok(strstr(err, path) == err && strstr(err, "[server broken]") && strstr(err, "url"),
	   "the error names the file, the server and the reason (%s)", err);
	ok(l.servers == NULL && l.n == 0, "no servers returned");
	load(&l, path, "[server notype]\nurl = https://x/\n");
	is_int(l.rc, -EINVAL, "a server without a type is refused");
	ok(strstr(err, "[server notype]") && strstr(err, "type"), "named with the reason (%s)", err);
	unlink(path);
}

/* A file of `len` bytes (NULs allowed) loads: its result in l. */
static void load_bytes(struct loaded *l, const char *path, const char *bytes, size_t len)
{
	write_file(path, bytes, len);
	load(l, path, NULL);
}

static void free_loaded(struct loaded *l)
{
	if (l->rc == 0)
		free(l->servers);
}

/* "[symbold]\nKEY = " and `n` bytes of 'x' and "\n": a line of 6 + n bytes */
static char *long_line_file(const char *key, size_t n)
{
	char *text = malloc(strlen(key) + n + 32);
	size_t at = (size_t)sprintf(text, "[symbold]\n%s = ", key);
	memset(text + at, 'x', n);
	strcpy(text + at + n, "\n");
	return text;
}

/* What the file may hold (docs/CONFIG.md): comments are whole lines; '#',
 * ';' and '=' inside a value are the value's; sections are [symbold] and
 * [server NAME] only, each header checked where it stands. */
static void test_load_text_rules(void)
{
	char path[128];
	struct loaded l;
	snprintf(path, sizeof path, "%s/rules.conf", tmpdir);

	load(&l, path,
	     "[symbold]\n"
	     "reprocess_cmd = /bin/run --tag=#1 ; echo done # and more\n"
	     "workers = 2\n"
	     "workers = 3\n"
	     "admin_group =\n"
	     "[server s]\n"
	     "type = http\n"
	     "url = https://h.example/sym?a=b#frag\n"
	     "    user = ***\n"
	     "password = pa ;ss#w=rd ;\n"
	     "priority = 1\n"
	     "priority = 2\n"
	     "proxy_user =\n");
	is_int(l.rc, 0, "values with '#', ';' and '=' load (%s)", err);
	is_str(l.o.reprocess_cmd, "/bin/run --tag=#1 ; echo done # and more", "no inline comment in a command");
	is_int(l.o.workers, 3, "a duplicate [symbold] key: the last wins");
	is_str(l.o.admin_group, "", "an empty value");
	if (l.rc == 0 && l.n == 1) {
		is_str(l.servers[0].cfg.url, "https://h.example/sym?a=b#frag", "a URL with a query and a fragment");
		is_str(l.servers[0].cfg.user, "***", "*** is refused only for a secret");
		is_str(l.servers[0].cfg.password, "pa ;ss#w=rd ;", "a password with ' ;', '#' and '='");
		is_int(l.servers[0].cfg.priority, 2, "a duplicate server key: the last wins");
	}
	free_loaded(&l);

	load_bad(path, "[symbold]\nwait = 5 # seconds\n", 2, "wait", "an inline '#' is the value's, not a comment");
	load_bad(path, "[symbold]\nwait = 5 ; seconds\n", 2, "wait", "an inline ';' is the value's, not a comment");
	load_bad(path, "[server x]\ntype = http\nurl = https://x/\npassword =  ***  \n", 4, "password = ***",
		 "*** with blanks around");
	load_bad(path, "[symbold]\nstore = /x\n  more words\n", 3, "key = value", "an indented line without '='");
	load(&l, path, "[symbold]\nstore = /x\n    workers = 7\n");
	ok(l.rc == 0 && strcmp(l.o.store, "/x") == 0 && l.o.workers == 7,
	   "an indented key after a key is a key of its own (%s)", err);
	free_loaded(&l);

	/* sections */
	load(&l, path, "[ symbold ]  \t\n[server\t \tx ]\ntype = dir\nurl = /x\n");
	ok(l.rc == 0 && l.n == 1 && strcmp(l.servers[0].name, "x") == 0, "blanks inside and after headers (%s)", err);
	free_loaded(&l);
	load_bad(path, "[Symbold]\n", 1, "unknown section", "section names are case-sensitive");
	load_bad(path, "[SERVER x]\n", 1, "unknown section", "'server' in upper case");
	load_bad(path, "[servers x]\n", 1, "unknown section", "[servers x]");
	load_bad(path, "[]\n", 1, "unknown section", "an empty header");
	load_bad(path, "[server  ]\n", 1, "section", "[server] and blanks");
	load_bad(path, "[symbold] ; comment\n", 1, "malformed", "a comment after a header");
	load_bad(path, "[server a]\ntype = dir\n[server a]\nurl = /x\n", 3, "twice", "the same server twice in a row");
	load_bad(path, "[symbold]\n[server a=b]\n", 2, "bad server name", "a header with '='");

	load(&l, path, "[server a]\ntype = dir\nurl = /x\n[server lonely]\n");
	is_int(l.rc, -EINVAL, "a server with no keys at the end is refused (no type)");
	ok(strstr(err, "[server lonely]") && strstr(err, "type"), "named, with the reason (%s)", err);
	load(&l, path, "[server empty]\n[server b]\ntype = dir\nurl = /x\n");
	ok(l.rc == -EINVAL && strstr(err, "[server empty]"), "an empty server before another is refused (%s)", err);

	char name64[SRV_NAME_MAX + 1], text[512];
	memset(name64, 'n', SRV_NAME_MAX);
	name64[SRV_NAME_MAX] = '\0';
	snprintf(text, sizeof text, "[server %s]\ntype = dir\nurl = /a\n[server %.*s]\ntype = dir\nurl = /b\n", name64,
		 SRV_NAME_MAX - 1, name64);
	load(&l, path, text);
	is_int(l.rc, 0, "servers with names of 64 and 63 bytes (%s)", err);
	if (l.rc == 0 && l.n == 2) {
		is_str(l.servers[0].name, name64, "the 64-byte name whole");
		is_str(l.servers[0].cfg.url, "/a", "with its keys");
		is_int((int)strlen(l.servers[1].name), SRV_NAME_MAX - 1, "the 63-byte name whole");
		is_str(l.servers[1].cfg.url, "/b", "with its keys");
	}
	free_loaded(&l);

	/* line numbers, odd bytes, long lines */
	load_bad(path, "[symbold]\r\n\r\n; c\r\nworkers = 100\r\n", 4, "workers", "line numbers count CRLF lines");
	load_bad(path, "[symbold]\nworkers = 100", 2, "workers", "a bad last line without its newline");
	load_bad(path, "\xEF\xBB\xBF[symbold]\n", 1, "", "a UTF-8 byte order mark");
	static const char with_nul[] = "[symbold]\nwait = 1\0junk\nworkers = 2\n";
	load_bytes(&l, path, with_nul, sizeof with_nul - 1);
	is_int(l.rc, -EINVAL, "a NUL byte is refused");
	char prefix[PATH_MAX + 32];
	snprintf(prefix, sizeof prefix, "%s:2: ", path);
	ok(strncmp(err, prefix, strlen(prefix)) == 0, "at its line (%s)", err);

	char *longline = long_line_file("reprocess_cmd", 1023 - 6);
	load(&l, path, longline);
	ok(l.rc == 0 && strlen(l.o.reprocess_cmd) == 1023 - 6, "a line of 1 KiB (%s)", err);
	free(longline);
	longline = long_line_file("store", 4094 - 8);
	load(&l, path, longline);
	ok(l.rc == 0 && strlen(l.o.store) == 4094 - 8, "a line of 4094 bytes (%s)", err);
	free(longline);
	longline = long_line_file("store", 4097 - 8);
	load_bad(path, longline, 2, "too long", "a line of 4097 bytes");
	free(longline);
	longline = malloc(6000);
	strcpy(longline, "# ");
	memset(longline + 2, 'x', 5000);
	strcpy(longline + 5002, "\n[symbold]\n");
	load_bad(path, longline, 1, "too long", "a comment line over 4 KiB");
	free(longline);
	unlink(path);
}

/* Where libinih reads differently from the hand-written reader it replaced
 * (docs/CONFIG.md): what was refused may now be read. */
static void test_load_libinih(void)
{
	char path[128];
	struct loaded l;
	snprintf(path, sizeof path, "%s/inih.conf", tmpdir);

	load(&l, path, "[symbold]\nworkers: 5\n[server s]\ntype: dir\nurl :/x\n");
	ok(l.rc == 0 && l.o.workers == 5 && l.n == 1 && strcmp(l.servers[0].cfg.url, "/x") == 0,
	   "'key: value' lines (%s)", err);
	free_loaded(&l);

	char *longline = long_line_file("store", 4096 - 8);
	load(&l, path, longline);
	ok(l.rc == 0 && strlen(l.o.store) == 4096 - 8, "a line of 4096 bytes (%s)", err);
	free(longline);
	longline = long_line_file("store", 4095 - 8);
	strcpy(longline + strlen(longline) - 1, "\r\n");
	load(&l, path, longline);
	ok(l.rc == 0 && strlen(l.o.store) == 4095 - 8, "a line of 4095 bytes and CRLF (%s)", err);
	free(longline);

	static const char nul_last[] = "[symbold]\nwait = 1\0";
	load_bytes(&l, path, nul_last, sizeof nul_last - 1);
	char prefix[PATH_MAX + 32];
	snprintf(prefix, sizeof prefix, "%s:2: a NUL byte", path);
	ok(l.rc == -EINVAL && strncmp(err, prefix, strlen(prefix)) == 0, "a NUL byte on the last line is refused too (%s)",
	   err);
	unlink(path);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/symbold-test-config-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_defaults();
	test_set();
	test_load();
	test_load_text_rules();
	test_load_libinih();
	rmdir(tmpdir);
	return tap_done();
}
