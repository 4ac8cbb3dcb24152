/* srvconf: one server's configuration (SPEC §3) — defaults, every kind of
 * key and its bad values, "key = value" text with line numbers in errors,
 * the whole-config check, rendering (secrets as ***) and its round trip. */
#include "admin/srvconf.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

static int set(struct server_config *c, const char *key, const char *value)
{
	err[0] = '\0';
	return srvconf_set(c, key, value, err, sizeof err);
}

static void set_bad(struct server_config *c, const char *key, const char *value, const char *needle,
		    const char *what)
{
	struct server_config before = *c;
	is_int(set(c, key, value), -EINVAL, "%s refused", what);
	ok(needle == NULL || strstr(err, needle) != NULL, "%s: reason mentions '%s' (%s)", what, needle, err);
	ok(memcmp(&before, c, sizeof before) == 0, "%s: config unchanged", what);
}

static int check(const struct server_config *c)
{
	err[0] = '\0';
	return srvconf_check(c, err, sizeof err);
}

/* A config with every key set to something not the default. */
static void full_config(struct server_config *c)
{
	static const char *const kv[][2] = {
		{"type", "symsrv"},
		{"url", "https://msdl.microsoft.com/download/symbols"},
		{"enabled", "0"},
		{"priority", "-5"},
		{"layout", "index2"},
		{"prefix", "sub dir/x"},
		{"whitelist_enabled", "yes"},
		{"concurrency", "8"},
		{"retries", "7"},
		{"skiplist_ttl", "0"},
		{"timeout_s", "3600"},
		{"max_transfer_s", "0"},
		{"slot_wait_s", "9"},
		{"proxy", "socks5h://proxy.example:1080"},
		{"proxy_user", "pu"},
		{"proxy_password", "pp = with # odd chars"},
		{"user", "u"},
		{"password", "p@ss word"},
		{"s3_bucket", "bucket"},
		{"s3_region", "eu-west-1"},
		{"s3_access_key", "AKIA"},
		{"s3_secret_key", "secret/key+"},
		{"ca_file", "/etc/ssl/ca.pem"},
		{"verify_tls", "off"},
		{"upload", "on"},
	};
	srvconf_init(c);
	for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
		if (set(c, kv[i][0], kv[i][1]) < 0)
			printf("# setting %s failed: %s\n", kv[i][0], err);
}

static void test_init(void)
{
	struct server_config c;
	memset(&c, 0x5a, sizeof c);
	srvconf_init(&c);
	is_int(c.type, SRV_NONE, "no type by default");
	is_str(c.url, "", "no url");
	is_int(c.enabled, 1, "enabled");
	is_int(c.priority, 100, "priority 100");
	is_int(c.layout, LAYOUT_DEFAULT, "default layout");
	is_int(c.whitelist_enabled, 0, "whitelist off");
	is_int(c.concurrency, 4, "concurrency 4");
	is_int(c.retries, 3, "retries 3");
	is_int(c.skiplist_ttl, 12 * 3600, "skiplist_ttl 12 h");
	is_int(c.timeout_s, 30, "timeout_s 30");
	is_int(c.max_transfer_s, 600, "max_transfer_s 600");
	is_int(c.slot_wait_s, 2, "slot_wait_s 2");
	is_int(c.verify_tls, 1, "verify_tls on");
	is_int(c.upload, 0, "upload off");
	ok(!c.proxy[0] && !c.password[0] && !c.s3_secret_key[0] && !c.ca_file[0], "strings empty");
}

static void test_set(void)
{
	struct server_config c;
	srvconf_init(&c);

	/* strings */
	is_int(set(&c, "url", "https://example.com/sym"), 0, "url set");
	is_str(c.url, "https://example.com/sym", "url value");
	is_int(set(&c, "prefix", ""), 0, "empty prefix");
	char *longv = malloc(SRV_URL_MAX + 2);
	memset(longv, 'u', SRV_URL_MAX - 1);
	longv[SRV_URL_MAX - 1] = '\0';
	is_int(set(&c, "url", longv), 0, "url of %d bytes fits", SRV_URL_MAX - 1);
	longv[SRV_URL_MAX - 1] = 'u';
	longv[SRV_URL_MAX] = '\0';
	set_bad(&c, "url", longv, "longer", "url of 1024 bytes");
	memset(longv, 'p', SRV_STR_MAX);
	longv[SRV_STR_MAX] = '\0';
	set_bad(&c, "password", longv, "longer", "password of 256 bytes");
	longv[SRV_STR_MAX - 1] = '\0';
	is_int(set(&c, "password", longv), 0, "password of 255 bytes fits");
	free(longv);

	/* control characters, in any key */
	set_bad(&c, "url", "https://a\nb", "control", "a newline in url");
	set_bad(&c, "user", "a\tb", "control", "a tab in user");
	set_bad(&c, "password", "x\x7f", "control", "DEL in password");
	set_bad(&c, "priority", "1\r", "control", "a CR in a number");

	/* ints */
	is_int(set(&c, "priority", "-1000000"), 0, "priority at its minimum");
	is_int(c.priority, -1000000, "priority value");
	is_int(set(&c, "priority", "1000000"), 0, "priority at its maximum");
	set_bad(&c, "priority", "1000001", "1000000", "priority above range");
	set_bad(&c, "priority", "-1000001", "whole number", "priority below range");
	set_bad(&c, "concurrency", "0", "1..64", "concurrency 0");
	set_bad(&c, "concurrency", "65", "1..64", "concurrency 65");
	is_int(set(&c, "concurrency", "64"), 0, "concurrency 64");
	is_int(c.concurrency, 64, "concurrency value");
	set_bad(&c, "retries", "0", NULL, "retries 0");
	set_bad(&c, "retries", "101", NULL, "retries 101");
	is_int(set(&c, "skiplist_ttl", "0"), 0, "skiplist_ttl 0");
	set_bad(&c, "skiplist_ttl", "-1", NULL, "skiplist_ttl -1");
	set_bad(&c, "timeout_s", "0", NULL, "timeout_s 0");
	set_bad(&c, "timeout_s", "3601", NULL, "timeout_s 3601");
	set_bad(&c, "timeout_s", "", NULL, "an empty number");
	set_bad(&c, "timeout_s", "ten", "ten", "a word for a number");
	set_bad(&c, "timeout_s", "10s", NULL, "a number with a unit");
	set_bad(&c, "timeout_s", "1.5", NULL, "a fraction");
	set_bad(&c, "priority", "99999999999999999999", NULL, "a number overflowing long");

	/* the limits of time: 0 means no total limit, or no wait for a slot */
	is_int(set(&c, "max_transfer_s", "0"), 0, "max_transfer_s 0 (no total limit)");
	is_int(c.max_transfer_s, 0, "max_transfer_s value 0");
	is_int(set(&c, "max_transfer_s", "86400"), 0, "max_transfer_s a day");
	is_int(c.max_transfer_s, 86400, "max_transfer_s value 86400");
	set_bad(&c, "max_transfer_s", "86401", "0..86400", "max_transfer_s above a day");
	set_bad(&c, "max_transfer_s", "-1", "0..86400", "max_transfer_s -1");
	set_bad(&c, "max_transfer_s", "10m", NULL, "max_transfer_s with a unit");
	is_int(set(&c, "slot_wait_s", "0"), 0, "slot_wait_s 0 (move on at once)");
	is_int(c.slot_wait_s, 0, "slot_wait_s value 0");
	is_int(set(&c, "slot_wait_s", "3600"), 0, "slot_wait_s an hour");
	is_int(c.slot_wait_s, 3600, "slot_wait_s value 3600");
	set_bad(&c, "slot_wait_s", "3601", "0..3600", "slot_wait_s above an hour");
	set_bad(&c, "slot_wait_s", "-2", "0..3600", "slot_wait_s -2");
	set_bad(&c, "slot_wait_s", "0.5", NULL, "slot_wait_s a fraction");

	/* bools */
	static const char *const yes[] = {"1", "yes", "on", "true", "YES", "On"};
	static const char *const no[] = {"0", "no", "off", "false", "NO", "Off"};
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		c.verify_tls = 0;
		is_int(set(&c, "verify_tls", yes[i]), 0, "verify_tls = %s", yes[i]);
		is_int(c.verify_tls, 1, "'%s' is on", yes[i]);
	}
	for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
		c.upload = 1;
		is_int(set(&c, "upload", no[i]), 0, "upload = %s", no[i]);
		is_int(c.upload, 0, "'%s' is off", no[i]);
	}
	set_bad(&c, "enabled", "2", "enabled", "enabled = 2");
	set_bad(&c, "enabled", "", NULL, "enabled = ''");
	set_bad(&c, "whitelist_enabled", "maybe", "maybe", "whitelist_enabled = maybe");

	/* type */
	static const struct {
		const char *name;
		enum server_type t;
	} types[] = {{"symsrv", SRV_SYMSRV}, {"http", SRV_HTTP},   {"s3", SRV_S3},
		     {"debuginfod", SRV_DEBUGINFOD}, {"dir", SRV_DIR}, {"SymSrv", SRV_SYMSRV}};
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		is_int(set(&c, "type", types[i].name), 0, "type = %s", types[i].name);
		is_int(c.type, types[i].t, "type %s", types[i].name);
	}
	is_str(srvconf_type_name(SRV_DEBUGINFOD), "debuginfod", "type name of debuginfod");
	is_str(srvconf_type_name(SRV_NONE), "", "type name of none");
	is_str(srvconf_type_name((enum server_type)99), "", "type name out of range");
	set_bad(&c, "type", "ftp", "ftp", "type = ftp");
	is_int(set(&c, "type", ""), 0, "type = '' (as rendered for a config without a type)");
	is_int(c.type, SRV_NONE, "empty type is no type");

	/* layout */
	static const struct {
		const char *name;
		enum server_layout l;
	} layouts[] = {{"symstore", LAYOUT_SYMSTORE}, {"index2", LAYOUT_INDEX2}, {"breakpad", LAYOUT_BREAKPAD},
		       {"debuginfod", LAYOUT_DEBUGINFOD}, {"", LAYOUT_DEFAULT},      {"INDEX2", LAYOUT_INDEX2}};
	for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++) {
		is_int(set(&c, "layout", layouts[i].name), 0, "layout = '%s'", layouts[i].name);
		is_int(c.layout, layouts[i].l, "layout '%s'", layouts[i].name);
	}
	set_bad(&c, "layout", "flat", "flat", "layout = flat");

	/* keys */
	set_bad(&c, "colour", "blue", "unknown key", "an unknown key");
	set_bad(&c, "URL", "https://x/", "unknown key", "keys are case-sensitive");
	set_bad(&c, "", "x", "unknown key", "an empty key");

	/* srvconf_layout resolves the default from the type */
	srvconf_init(&c);
	c.type = SRV_SYMSRV;
	is_int(srvconf_layout(&c), LAYOUT_SYMSTORE, "symsrv defaults to symstore");
	c.type = SRV_HTTP;
	is_int(srvconf_layout(&c), LAYOUT_BREAKPAD, "http defaults to breakpad");
	c.type = SRV_DEBUGINFOD;
	is_int(srvconf_layout(&c), LAYOUT_DEBUGINFOD, "debuginfod defaults to debuginfod");
	c.type = SRV_DIR;
	is_int(srvconf_layout(&c), LAYOUT_SYMSTORE, "dir defaults to symstore");
	c.layout = LAYOUT_BREAKPAD;
	is_int(srvconf_layout(&c), LAYOUT_BREAKPAD, "an explicit layout wins");
}

static void test_parse(void)
{
	struct server_config c;
	srvconf_init(&c);
	err[0] = '\0';
	int rc = srvconf_parse(&c,
			       "# a comment\n"
			       "\n"
			       "type = http\n"
			       "  url=https://symbols.electronjs.org  \r\n"
			       "; another comment\n"
			       "\tpriority\t=\t7\n"
			       "prefix = a=b\n"
			       "   \n"
			       "verify_tls = no",
			       err, sizeof err);
	is_int(rc, 0, "a config text parses (%s)", err);
	is_int(c.type, SRV_HTTP, "type");
	is_str(c.url, "https://symbols.electronjs.org", "url trimmed, CR gone");
	is_int(c.priority, 7, "tabs around '='");
	is_str(c.prefix, "a=b", "only the first '=' splits");
	is_int(c.verify_tls, 0, "last line without newline");
	is_int(srvconf_parse(&c, "", err, sizeof err), 0, "empty text");

	srvconf_init(&c);
	is_int(srvconf_parse(&c, "type = http\n\n# c\nurl\n", err, sizeof err), -EINVAL, "a line without '='");
	is_str(err, "line 4: want 'key = value'", "line 4 reported");
	is_int(srvconf_parse(&c, "\n\n\nretries = 0\n", err, sizeof err), -EINVAL, "a bad value");
	ok(strncmp(err, "line 4: retries", 15) == 0, "line 4 and the key reported (%s)", err);
	is_int(srvconf_parse(&c, "type = dir\nbogus = 1\nretries = 5\n", err, sizeof err), -EINVAL, "unknown key");
	ok(strstr(err, "line 2: ") == err && strstr(err, "bogus"), "line 2: unknown key 'bogus' (%s)", err);
	is_int(c.retries, 3, "parsing stopped at the bad line");
	is_int(srvconf_parse(&c, "url = a\rb\n", err, sizeof err), -EINVAL, "a CR inside a value");
	ok(strncmp(err, "line 1: ", 8) == 0, "line 1 reported (%s)", err);
	is_int(srvconf_parse(&c, "= 1\n", err, sizeof err), -EINVAL, "an empty key");
}

/* text parses onto a fresh config: 0, or -EINVAL with "line N: reason" in err */
static int parse_fresh(struct server_config *c, const char *text)
{
	srvconf_init(c);
	err[0] = '\0';
	return srvconf_parse(c, text, err, sizeof err);
}

/* text is refused, and err starts with "line N: " and mentions needle */
static void parse_bad(const char *text, int line, const char *needle, const char *what)
{
	struct server_config c;
	char prefix[32];
	is_int(parse_fresh(&c, text), -EINVAL, "refused: %s", what);
	snprintf(prefix, sizeof prefix, "line %d: ", line);
	ok(strncmp(err, prefix, strlen(prefix)) == 0, "%s: reported at line %d (%s)", what, line, err);
	ok(needle == NULL || strstr(err, needle) != NULL, "%s: the reason mentions '%s'", what, needle);
}

/* What a written config text may hold (docs/CONFIG.md): comments are whole
 * lines; '#', ';' and '=' inside a value are the value's (passwords, URL
 * fragments and queries); blanks around keys and values go. */
static void test_parse_text_rules(void)
{
	struct server_config c;

	is_int(parse_fresh(&c, "# c\n; c\n  # indented\n\t; after a tab\ntype = http\n#\n;\n"), 0,
	       "comment lines, '#' and ';', indented or not (%s)", err);
	is_int(c.type, SRV_HTTP, "the key among the comments");

	is_int(parse_fresh(&c, "password = pa#ss;w ord ;x #y\nproxy_password = ;lead\nuser = #hash\n"), 0,
	       "'#' and ';' inside values (%s)", err);
	is_str(c.password, "pa#ss;w ord ;x #y", "no inline comment: ' ;x #y' stays in the password");
	is_str(c.proxy_password, ";lead", "a value may start with ';'");
	is_str(c.user, "#hash", "a value may start with '#'");

	is_int(parse_fresh(&c, "url = https://h.example/sym?a=b&c=d#frag ; x\npassword = a=b==\n"), 0,
	       "'=' and '#' in values (%s)", err);
	is_str(c.url, "https://h.example/sym?a=b&c=d#frag ; x", "a URL with a query and a fragment, whole");
	is_str(c.password, "a=b==", "only the first '=' splits");

	is_int(parse_fresh(&c, "user = u\nuser =\npassword=\nprefix =   \n"), 0, "empty values (%s)", err);
	is_str(c.user, "", "an empty value after a set one: the last wins");
	is_str(c.password, "", "'key=' is empty");
	is_str(c.prefix, "", "blanks alone are empty");

	is_int(parse_fresh(&c, "priority = 1\npriority = 2\ntype = dir\ntype = http\n"), 0, "duplicate keys (%s)", err);
	is_int(c.priority, 2, "a duplicate key: the last wins");
	is_int(c.type, SRV_HTTP, "for every kind of key");

	is_int(parse_fresh(&c, "  user  =  some one  \r\n\tpassword\t=\tx y\t\r\n"), 0, "blanks around (%s)", err);
	is_str(c.user, "some one", "blanks trimmed around key and value, kept inside");
	is_str(c.password, "x y", "tabs and CRLF trimmed");

	is_int(parse_fresh(&c, "user = a\n    password = b\n  url = https://x/\n"), 0,
	       "indented keys after a key (%s)", err);
	ok(strcmp(c.user, "a") == 0 && strcmp(c.password, "b") == 0 && strcmp(c.url, "https://x/") == 0,
	   "an indented line is a key of its own, never the previous value's continuation");
	parse_bad("user = a\n  more words\n", 2, "key = value", "an indented line without '='");

	is_int(parse_fresh(&c, "password = ***\nproxy_password =  ***  \n"), 0, "*** (%s)", err);
	is_str(c.password, "***", "*** is read as it is (the registry keeps the stored secret)");
	is_str(c.proxy_password, "***", "blanks around *** go");

	is_int(parse_fresh(&c, "type = HTTP\nlayout = BreakPad\n"), 0, "values in any case (%s)", err);
	is_int(c.type, SRV_HTTP, "type in upper case");
	parse_bad("Type = http\n", 1, "unknown key 'Type'", "keys are case-sensitive");
	parse_bad("proxy user = x\n", 1, "unknown key 'proxy user'", "a blank inside a key");
	parse_bad("password = a\tb\n", 1, "control character", "a tab inside a value");

	parse_bad("# c\r\n\r\ntype = http\r\nbogus = 1\r\n", 4, "bogus", "line numbers count CRLF lines");
	parse_bad("type = http\nbogus = 1", 2, "bogus", "a bad last line without its newline");
	parse_bad("type = http\nbogus", 2, "key = value", "a last line without '=' or newline");
	parse_bad("type = http\n[server x]\nurl = https://x/\n", 2, NULL, "a [section] header");
	parse_bad("type = http\n[x]\n", 2, NULL, "a [section] header on the last line");
	parse_bad("[a=b]\n", 1, NULL, "a [section] header with '='");
	parse_bad("\xEF\xBB\xBFtype = http\n", 1, NULL, "a UTF-8 byte order mark");

	char *text = malloc(4200);
	strcpy(text, "type = http\n# ");
	memset(text + strlen(text), 'x', 4094);
	strcpy(text + strlen("type = http\n# ") + 4094, "\nuser = u\n");
	is_int(parse_fresh(&c, text), 0, "a comment line of 4096 bytes (%s)", err);
	is_str(c.user, "u", "and the line after it");
	free(text);
}

/* Where libinih reads differently from the hand-written reader it replaced
 * (docs/CONFIG.md): what was refused may now be read; nothing read before
 * is read otherwise. */
static void test_parse_libinih(void)
{
	struct server_config c;

	is_int(parse_fresh(&c, "url: https://x/a=b\nuser :u\n"), 0, "'key: value' (%s)", err);
	is_str(c.url, "https://x/a=b", "':' splits as '=' does, where it comes first");
	is_str(c.user, "u", "blanks around ':' trimmed");
	is_int(parse_fresh(&c, "user = \v\fu\f\v\n"), 0, "vertical tab and form feed around a value (%s)", err);
	is_str(c.user, "u", "trimmed as blanks");
	parse_bad("user = a\vb\n", 1, "control character", "a vertical tab inside a value");
	parse_bad("type = http\n[server x]\n", 2, "[section]", "a header says why");

	char *text = malloc(5100);
	strcpy(text, "type = http\n# ");
	memset(text + strlen(text), 'x', 4095);
	strcpy(text + strlen("type = http\n# ") + 4095, "\nuser = u\n");
	parse_bad(text, 2, "too long", "a line of 4097 bytes");
	strcpy(text, "type = http\r\nprefix = ");
	memset(text + strlen(text), 'x', 4096 - strlen("prefix = "));
	strcpy(text + strlen("type = http\r\n") + 4096, "\r\n");
	parse_bad(text, 2, "prefix", "a line of 4096 bytes and CRLF is read (and its value is too long)");
	free(text);
}

static void check_bad(const struct server_config *c, const char *needle, const char *what)
{
	is_int(check(c), -EINVAL, "check refuses %s", what);
	ok(strstr(err, needle) != NULL, "%s: reason mentions '%s' (%s)", what, needle, err);
}

static void test_check(void)
{
	struct server_config c;
	srvconf_init(&c);
	check_bad(&c, "type", "a config without a type");

	static const enum server_type web[] = {SRV_SYMSRV, SRV_HTTP, SRV_DEBUGINFOD};
	for (size_t i = 0; i < 3; i++) {
		srvconf_init(&c);
		c.type = web[i];
		const char *tn = srvconf_type_name(web[i]);
		check_bad(&c, "url", tn);
		set(&c, "url", "ftp://x/");
		check_bad(&c, "url", "an ftp URL");
		set(&c, "url", "https://");
		check_bad(&c, "url", "a scheme alone");
		set(&c, "url", "/srv/symbols");
		check_bad(&c, "url", "a path");
		set(&c, "url", "https://example.com/symbols");
		is_int(check(&c), 0, "%s with an https URL", tn);
		set(&c, "url", "HTTP://example.com");
		is_int(check(&c), 0, "%s with an upper-case http URL", tn);
	}

	srvconf_init(&c);
	c.type = SRV_DIR;
	check_bad(&c, "absolute", "dir without url");
	set(&c, "url", "relative/path");
	check_bad(&c, "absolute", "dir with a relative path");
	set(&c, "url", "http://example.com/");
	check_bad(&c, "absolute", "dir with an http URL");
	set(&c, "url", "file://host/path");
	check_bad(&c, "absolute", "dir with a file URL naming a host");
	set(&c, "url", "/srv/symbols");
	is_int(check(&c), 0, "dir with an absolute path");
	set(&c, "url", "file:///srv/symbols");
	is_int(check(&c), 0, "dir with a file:/// URL");

	srvconf_init(&c);
	c.type = SRV_S3;
	check_bad(&c, "bucket", "s3 without a bucket");
	set(&c, "s3_bucket", "b");
	is_int(check(&c), 0, "s3 with a bucket");

	srvconf_init(&c);
	c.type = SRV_HTTP;
	set(&c, "url", "https://example.com");
	static const char *const good_proxies[] = {"http://p:3128", "https://p", "socks4://p", "socks4a://p",
						   "socks5://p:1080", "socks5h://p", "SOCKS5://p"};
	for (size_t i = 0; i < sizeof good_proxies / sizeof *good_proxies; i++) {
		set(&c, "proxy", good_proxies[i]);
		is_int(check(&c), 0, "proxy %s accepted", good_proxies[i]);
	}
	static const char *const bad_proxies[] = {"p:3128", "ftp://p", "socks://p", "http://"};
	for (size_t i = 0; i < sizeof bad_proxies / sizeof *bad_proxies; i++) {
		set(&c, "proxy", bad_proxies[i]);
		check_bad(&c, "proxy", bad_proxies[i]);
	}
}

/* Incomplete (a key its type needs is missing: the text may go on) is not
 * wrong (what is there is bad). */
static void test_incomplete(void)
{
	struct server_config c;
	srvconf_init(&c);
	ok(srvconf_incomplete(&c), "no type: incomplete");
	c.type = SRV_SYMSRV;
	ok(srvconf_incomplete(&c), "symsrv without a url: incomplete");
	set(&c, "url", "ftp://x/");
	ok(!srvconf_incomplete(&c), "symsrv with a wrong url: complete (and wrong)");
	c.type = SRV_DIR;
	set(&c, "url", "");
	ok(srvconf_incomplete(&c), "dir without a url: incomplete");
	c.type = SRV_S3;
	ok(srvconf_incomplete(&c), "s3 without a bucket: incomplete, a url or not");
	set(&c, "s3_bucket", "b");
	ok(!srvconf_incomplete(&c), "s3 with a bucket and no url (AWS): complete");
}

static void test_render(void)
{
	struct server_config c, back;
	struct buf a = BUF_INIT, b = BUF_INIT;

	full_config(&c);
	is_int(srvconf_render(&c, &a, 0), 0, "render a full config");
	ok(a.data && strstr(a.data, "type = symsrv\n") == a.data, "type comes first");
	ok(a.data && strstr(a.data, "\npassword = p@ss word\n"), "password shown without hiding");
	ok(a.data && strstr(a.data, "\nproxy_password = pp = with # odd chars\n"), "proxy_password shown");
	ok(a.data && strstr(a.data, "\ns3_secret_key = secret/key+\n"), "s3_secret_key shown");
	ok(a.data && strstr(a.data, "\nlayout = index2\n"), "layout");
	ok(a.data && strstr(a.data, "\nverify_tls = 0\nupload = 1\n"), "bools as 0/1, upload last");
	int lines = 0;
	for (const char *p = a.data; p && *p; p++)
		lines += *p == '\n';
	is_int(lines, 25, "one line per key");
	ok(a.data && strstr(a.data, "\ntimeout_s = 3600\nmax_transfer_s = 0\nslot_wait_s = 9\nproxy = "),
	   "the limits of time follow timeout_s");

	srvconf_init(&back);
	err[0] = '\0';
	is_int(srvconf_parse(&back, a.data ? a.data : "", err, sizeof err), 0, "rendered text parses (%s)", err);
	is_int(srvconf_render(&back, &b, 0), 0, "render again");
	is_str(b.data, a.data, "render -> parse -> render is identical");
	ok(memcmp(&c, &back, sizeof c) == 0, "and the config is the same");
	buf_free(&a);
	buf_free(&b);

	/* hiding secrets */
	is_int(srvconf_render(&c, &a, 1), 0, "render hiding secrets");
	ok(a.data && strstr(a.data, "\npassword = ***\n"), "password is ***");
	ok(a.data && strstr(a.data, "\nproxy_password = ***\n"), "proxy_password is ***");
	ok(a.data && strstr(a.data, "\ns3_secret_key = ***\n"), "s3_secret_key is ***");
	ok(a.data && !strstr(a.data, "p@ss") && !strstr(a.data, "odd chars") && !strstr(a.data, "secret/"),
	   "no secret appears");
	ok(a.data && strstr(a.data, "\nuser = u\n") && strstr(a.data, "\ns3_access_key = AKIA\n"),
	   "non-secrets shown");
	buf_free(&a);

	srvconf_init(&c);
	set(&c, "user", "someone");
	is_int(srvconf_render(&c, &a, 1), 0, "render a config without secrets, hiding");
	ok(a.data && strstr(a.data, "\npassword = \n"), "unset password is empty");
	ok(a.data && strstr(a.data, "\nproxy_password = \n"), "unset proxy_password is empty");
	ok(a.data && strstr(a.data, "\ns3_secret_key = \n"), "unset s3_secret_key is empty");
	ok(a.data && strstr(a.data, "type = \n") == a.data, "no type renders empty");
	ok(a.data && strstr(a.data, "\nlayout = symstore\n"), "layout shows the one used");
	ok(a.data && strstr(a.data, "\nmax_transfer_s = 600\nslot_wait_s = 2\n"), "the limits of time by default");
	buf_free(&a);

	/* a fresh config (as mkdir creates it) survives the round trip too */
	is_int(srvconf_render(&c, &a, 0), 0, "render a fresh config");
	srvconf_init(&back);
	err[0] = '\0';
	is_int(srvconf_parse(&back, a.data ? a.data : "", err, sizeof err), 0, "fresh config parses back (%s)",
	       err);
	is_int(srvconf_render(&back, &b, 0), 0, "render it again");
	is_str(b.data, a.data, "fresh config round trip is identical");
	buf_free(&a);
	buf_free(&b);

	/* each type renders with its name and layout */
	srvconf_init(&c);
	set(&c, "type", "http");
	srvconf_render(&c, &a, 0);
	ok(a.data && strstr(a.data, "type = http\n") && strstr(a.data, "\nlayout = breakpad\n"),
	   "http renders layout breakpad");
	buf_free(&a);
}

static void test_is_secret(void)
{
	ok(srvconf_is_secret("password") && srvconf_is_secret("proxy_password") && srvconf_is_secret("s3_secret_key"),
	   "password, proxy_password and s3_secret_key are secrets");
	ok(!srvconf_is_secret("user") && !srvconf_is_secret("s3_access_key") && !srvconf_is_secret("url"),
	   "user, s3_access_key and url are not");
	ok(!srvconf_is_secret("colour") && !srvconf_is_secret(""), "nor an unknown key");
}

static void test_valid_name(void)
{
	static const char *const good[] = {"microsoft", "Mozilla", "my-server_2", "a.b", "x", "0"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		is_int(srvconf_valid_name(good[i]), 1, "server name '%s'", good[i]);
	static const char *const bad[] = {"", ".hidden", ".", "..", "a b", "a/b", "é", "a\n", "a:b", "a*"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		is_int(srvconf_valid_name(bad[i]), 0, "bad server name #%zu", i);
	char name[SRV_NAME_MAX + 2];
	memset(name, 'n', SRV_NAME_MAX);
	name[SRV_NAME_MAX] = '\0';
	is_int(srvconf_valid_name(name), 1, "a 64-byte name");
	name[SRV_NAME_MAX] = 'n';
	name[SRV_NAME_MAX + 1] = '\0';
	is_int(srvconf_valid_name(name), 0, "a 65-byte name");
}

int main(void)
{
	test_init();
	test_set();
	test_parse();
	test_parse_text_rules();
	test_parse_libinih();
	test_check();
	test_incomplete();
	test_render();
	test_is_secret();
	test_valid_name();
	return tap_done();
}
