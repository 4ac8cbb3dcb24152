/* source: where a key lives on an upstream (SPEC §3) — the candidate paths of
 * each type and layout, in order; URLs and local paths built from them;
 * file.ptr contents and what must be refused in them; which redirect targets
 * may receive a server's credentials. */
#include "fetch/source.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ID "3844DBB920174967BE7AA4A2C20430FA2"

static char err[512];

static struct server_config server(const char *type, const char *url)
{
	struct server_config c;
	srvconf_init(&c);
	if (srvconf_set(&c, "type", type, err, sizeof err) < 0 || srvconf_set(&c, "url", url, err, sizeof err) < 0)
		printf("# bad test server: %s\n", err);
	return c;
}

static struct sym_key key(const char *df, const char *file)
{
	struct sym_key k;
	if (key_make(&k, df, ID, file) < 0) {
		printf("# bad test key %s/%s\n", df, file);
		memset(&k, 0, sizeof k);
	}
	return k;
}

/* Checks that the candidates of k on c are exactly `want` (NULL-terminated),
 * with the kinds given as a string of 'P', 'C', 'R' (plain, cab, ptr). */
static void candidates(const char *what, const struct server_config *c, const struct sym_key *k,
		       const char *const *want, const char *kinds)
{
	char rel[KEY_PATH_MAX + 16];
	enum cand_kind kind;
	int i = 0;
	for (; want[i]; i++) {
		int rc = source_candidate(c, k, i, rel, sizeof rel, &kind);
		if (!is_int(rc, 0, "%s: candidate %d exists", what, i))
			return;
		is_str(rel, want[i], "%s: candidate %d path", what, i);
		is_int("PCR"[kind], kinds[i], "%s: candidate %d kind", what, i);
	}
	is_int(source_candidate(c, k, i, rel, sizeof rel, &kind), -ENOENT, "%s: %d candidates, no more", what, i);
}

static void test_candidates(void)
{
	struct server_config ms = server("symsrv", "https://msdl.microsoft.com/download/symbols");
	struct sym_key k = key("xul.pdb", "xul.pdb");
	candidates("symsrv, lower-case request", &ms, &k,
		   (const char *const[]){"xul.pdb/" ID "/xul.pdb", "xul.pdb/" ID "/xul.pd_", "xul.pdb/" ID "/file.ptr",
					 NULL},
		   "PCR");
	k = key("XUL.PDB", "Xul.Pdb");
	candidates("symsrv, mixed-case request", &ms, &k,
		   (const char *const[]){"XUL.PDB/" ID "/Xul.Pdb", "XUL.PDB/" ID "/Xul.Pd_", "XUL.PDB/" ID "/file.ptr",
					 "xul.pdb/" ID "/xul.pdb", "xul.pdb/" ID "/xul.pd_", "xul.pdb/" ID "/file.ptr",
					 NULL},
		   "PCRPCR");
	k = key("ntdll.dll", "ntdll.dll");
	struct sym_key pe;
	key_make(&pe, "NTDLL.dll", "5b3f5e6a1A6000", "ntdll.dll");
	candidates("symsrv, PE with upper-case debug file", &ms, &pe,
		   (const char *const[]){"NTDLL.dll/5B3F5E6A1a6000/ntdll.dll", "NTDLL.dll/5B3F5E6A1a6000/ntdll.dl_",
					 "NTDLL.dll/5B3F5E6A1a6000/file.ptr", "ntdll.dll/5B3F5E6A1a6000/ntdll.dll",
					 "ntdll.dll/5B3F5E6A1a6000/ntdll.dl_", "ntdll.dll/5B3F5E6A1a6000/file.ptr", NULL},
		   "PCRPCR");
	k = key("xul.pdb", "xul.sym");
	candidates("symsrv, .sym", &ms, &k, (const char *const[]){"xul.pdb/" ID "/xul.sym", NULL}, "P");
	k = key("XUL.pdb", "XUL.sym");
	candidates("symsrv, upper-case .sym", &ms, &k,
		   (const char *const[]){"XUL.pdb/" ID "/XUL.sym", "xul.pdb/" ID "/xul.sym", NULL}, "PP");

	struct server_config moz = server("http", "https://symbols.mozilla.org/");
	k = key("xul.pdb", "xul.sym");
	candidates("http, .sym", &moz, &k, (const char *const[]){"xul.pdb/" ID "/xul.sym", NULL}, "P");
	k = key("xul.pdb", "xul.pdb");
	candidates("http, debug file: plain only", &moz, &k, (const char *const[]){"xul.pdb/" ID "/xul.pdb", NULL},
		   "P");
	k = key("Electron Framework", "Electron Framework.sym");
	candidates("http, mixed case", &moz, &k,
		   (const char *const[]){"Electron Framework/" ID "/Electron Framework.sym",
					 "electron framework/" ID "/electron framework.sym", NULL},
		   "PP");

	struct server_config dir = server("dir", "/srv/symbols");
	k = key("xul.pdb", "xul.pdb");
	candidates("dir, symstore", &dir, &k,
		   (const char *const[]){"xul.pdb/" ID "/xul.pdb", "xul.pdb/" ID "/xul.pd_", "xul.pdb/" ID "/file.ptr",
					 NULL},
		   "PCR");
	srvconf_set(&dir, "layout", "breakpad", err, sizeof err);
	candidates("dir, breakpad layout", &dir, &k, (const char *const[]){"xul.pdb/" ID "/xul.pdb", NULL}, "P");

	srvconf_set(&ms, "layout", "index2", err, sizeof err);
	candidates("symsrv, index2", &ms, &k,
		   (const char *const[]){"xu/xul.pdb/" ID "/xul.pdb", "xu/xul.pdb/" ID "/xul.pd_",
					 "xu/xul.pdb/" ID "/file.ptr", NULL},
		   "PCR");
	k = key("XUL.PDB", "XUL.PDB");
	candidates("symsrv, index2, upper case", &ms, &k,
		   (const char *const[]){"XU/XUL.PDB/" ID "/XUL.PDB", "XU/XUL.PDB/" ID "/XUL.PD_",
					 "XU/XUL.PDB/" ID "/file.ptr", "xu/xul.pdb/" ID "/xul.pdb",
					 "xu/xul.pdb/" ID "/xul.pd_", "xu/xul.pdb/" ID "/file.ptr", NULL},
		   "PCRPCR");
	k = key("a", "a.sym");
	candidates("index2, one-letter name", &ms, &k, (const char *const[]){"a/a/" ID "/a.sym", NULL}, "P");

	char rel[16];
	enum cand_kind kind;
	k = key("xul.pdb", "xul.pdb");
	is_int(source_candidate(&ms, &k, -1, rel, sizeof rel, &kind), -ENOENT, "a negative index");
	is_int(source_candidate(&ms, &k, 0, rel, sizeof rel, &kind), -ENAMETOOLONG, "a too small buffer");

	ok(source_supported(&ms) && source_supported(&moz) && source_supported(&dir), "symsrv, http, dir supported");
	struct server_config s3 = server("s3", "");
	srvconf_set(&s3, "s3_bucket", "symbols", err, sizeof err);
	struct server_config dbg = server("debuginfod", "https://debuginfod.elfutils.org/");
	ok(source_supported(&s3), "s3 supported");
	ok(source_supported(&dbg), "debuginfod supported");
}

static void test_url(void)
{
	char out[256];
	struct server_config c = server("symsrv", "https://msdl.microsoft.com/download/symbols///");
	is_int(source_url(&c, "xul.pdb/" ID "/xul.pdb", out, sizeof out), 0, "url built");
	is_str(out, "https://msdl.microsoft.com/download/symbols/xul.pdb/" ID "/xul.pdb", "trailing slashes trimmed");

	srvconf_set(&c, "url", "https://h", err, sizeof err);
	source_url(&c, "Electron Framework/" ID "/Electron Framework.sym", out, sizeof out);
	is_str(out, "https://h/Electron%20Framework/" ID "/Electron%20Framework.sym", "a space is %%20");
	source_url(&c, "a#b/" ID "/a?b%c+d&e", out, sizeof out);
	is_str(out, "https://h/a%23b/" ID "/a%3Fb%25c%2Bd%26e", "#, ?, %%, + and & are escaped");
	source_url(&c, "a-b_c.d~e/x", out, sizeof out);
	is_str(out, "https://h/a-b_c.d~e/x", "unreserved characters stay");
	source_url(&c, "caf\xc3\xa9/x", out, sizeof out);
	is_str(out, "https://h/caf%C3%A9/x", "UTF-8 bytes are escaped");

	srvconf_set(&c, "prefix", "/sym bols/v1/", err, sizeof err);
	source_url(&c, "xul.pdb/" ID "/xul.pdb", out, sizeof out);
	is_str(out, "https://h/sym%20bols/v1/xul.pdb/" ID "/xul.pdb", "the prefix is inserted, escaped");

	srvconf_set(&c, "prefix", "", err, sizeof err);
	srvconf_set(&c, "url", "https://h/", err, sizeof err);
	char small[32];
	is_int(source_url(&c, "x/y", small, sizeof small), 0, "a short url fits");
	is_str(small, "https://h/x/y", "short url");
	is_int(source_url(&c, "xul.pdb/" ID "/xul.pdb", small, sizeof small), -ENAMETOOLONG, "too long");
	/* exactly fitting: "https://h/x/y" is 13 bytes + NUL */
	is_int(source_url(&c, "x/y", small, 14), 0, "a url that exactly fits");
	is_int(source_url(&c, "x/y", small, 13), -ENAMETOOLONG, "one byte short");
	is_int(source_url(&c, "x/ ", small, 15), -ENAMETOOLONG, "escaping makes it too long");
}

static void test_dir_path(void)
{
	char out[256];
	struct server_config c = server("dir", "/srv/symbols");
	is_int(source_dir_path(&c, "xul.pdb/" ID "/xul.pdb", out, sizeof out), 0, "dir path built");
	is_str(out, "/srv/symbols/xul.pdb/" ID "/xul.pdb", "from an absolute path");
	srvconf_set(&c, "url", "file:///srv/symbols/", err, sizeof err);
	source_dir_path(&c, "a b/x", out, sizeof out);
	is_str(out, "/srv/symbols/a b/x", "from a file:/// URL, trailing slash trimmed, no escaping");
	srvconf_set(&c, "prefix", "sub", err, sizeof err);
	source_dir_path(&c, "x", out, sizeof out);
	is_str(out, "/srv/symbols/sub/x", "with a prefix");
	srvconf_set(&c, "url", "/", err, sizeof err);
	srvconf_set(&c, "prefix", "", err, sizeof err);
	source_dir_path(&c, "x/y", out, sizeof out);
	is_str(out, "/x/y", "the root directory");
	char small[8];
	is_int(source_dir_path(&c, "x/y/z/w", small, sizeof small), -ENAMETOOLONG, "too long");
}

/* The root an upload opens and walks beneath: the start of every dir path. */
static void test_dir_root(void)
{
	char out[256];
	struct server_config c = server("dir", "file:///srv/symbols//");
	srvconf_set(&c, "prefix", "sub", err, sizeof err);
	is_int(source_dir_root(&c, out, sizeof out), 0, "dir root");
	is_str(out, "/srv/symbols", "without file://, trailing slashes or the prefix");
	srvconf_set(&c, "url", "/", err, sizeof err);
	source_dir_root(&c, out, sizeof out);
	is_str(out, "/", "the root directory stays /");
	char small[2];
	srvconf_set(&c, "url", "/srv", err, sizeof err);
	is_int(source_dir_root(&c, small, sizeof small), -ENAMETOOLONG, "too long");
}

static int ptr(const char *content, char *out, size_t outlen)
{
	err[0] = '\0';
	return source_parse_ptr(content, strlen(content), out, outlen, err, sizeof err);
}

static void ptr_ok(const char *content, int want_kind, const char *want, const char *what)
{
	char out[512] = "";
	int rc = ptr(content, out, sizeof out);
	if (!is_int(rc, want_kind, "file.ptr accepted: %s", what))
		printf("#   err: %s\n", err);
	is_str(out, want, "%s: target", what);
}

static void ptr_bad(const char *content, const char *needle, const char *what)
{
	char out[512];
	is_int(ptr(content, out, sizeof out), -EINVAL, "file.ptr refused: %s", what);
	ok(strstr(err, needle) != NULL, "%s: reason mentions '%s' (%s)", what, needle, err);
}

static void test_ptr(void)
{
	ptr_ok("PATH:xul.pdb/" ID "/xul.pdb", PTR_RELATIVE, "xul.pdb/" ID "/xul.pdb", "a relative path");
	ptr_ok("PATH:sub\\xul.pdb\\" ID "\\xul.pdb", PTR_RELATIVE, "sub/xul.pdb/" ID "/xul.pdb",
	       "backslashes become slashes");
	ptr_ok("PATH:xul.pdb/x\r\n", PTR_RELATIVE, "xul.pdb/x", "CRLF after the path");
	ptr_ok("PATH:xul.pdb/x\nsecond line\n", PTR_RELATIVE, "xul.pdb/x", "only the first line");
	ptr_ok("path:  lower/case", PTR_RELATIVE, "lower/case", "lower-case path:, leading spaces");
	ptr_ok("PATH:http://h/x", PTR_URL, "http://h/x", "an http URL");
	ptr_ok("PATH:HTTPS://blob.example/a/b?sig=1", PTR_URL, "HTTPS://blob.example/a/b?sig=1",
	       "an upper-case https URL");
	ptr_ok("PATH:/abs/path/xul.pdb", PTR_LOCAL, "/abs/path/xul.pdb", "an absolute path");
	ptr_ok("PATH:a..b/..c/d..", PTR_RELATIVE, "a..b/..c/d..", "dots inside names are fine");
	ptr_ok("PATH:./x", PTR_RELATIVE, "./x", "a '.' component");

	ptr_bad("PATH:\\\\server\\share\\xul.pdb", "UNC", "a UNC path");
	ptr_bad("PATH:C:\\symbols\\xul.pdb", "Windows", "a drive path");
	ptr_bad("PATH:d:/symbols", "Windows", "a drive path with '/'");
	ptr_bad("MSG:symbol not available", "symbol not available", "a message");
	ptr_bad("msg:lower", "lower", "a lower-case message");
	ptr_bad("PATH:", "empty", "an empty PATH:");
	ptr_bad("PATH:   \r\n", "empty", "a blank PATH:");
	ptr_bad("", "neither", "an empty file");
	ptr_bad("<html>error</html>", "neither", "an HTML page");
	ptr_bad("PATH:a\tb", "control", "a tab in the path");

	/* '..' wherever it appears */
	ptr_bad("PATH:..", "..", "a bare '..'");
	ptr_bad("PATH:../x", "..", "a leading '../'");
	ptr_bad("PATH:a/../../etc/passwd", "..", "'/../' inside");
	ptr_bad("PATH:a/..", "..", "a trailing '/..'");
	ptr_bad("PATH:a/..\r\n", "..", "a trailing '/..' before CRLF");
	ptr_bad("PATH:a\\..\\b", "..", "'\\..\\' inside");
	ptr_bad("PATH:a\\..", "..", "a trailing '\\..'");
	ptr_bad("PATH:/abs/../etc", "..", "'..' in a local path");
	ptr_bad("PATH:/..", "..", "'/..'");
	ptr_bad("PATH:http://h/a/../b", "..", "'..' in a URL");
	ptr_bad("PATH:http://h/..", "..", "a trailing '..' in a URL");

	char small[8];
	is_int(ptr("PATH:0123456789", small, sizeof small), -EINVAL, "a target longer than the output");
	ok(strstr(err, "too long") != NULL, "reported as too long (%s)", err);
	char *big = malloc(4096);
	memset(big, 'a', 4095);
	memcpy(big, "PATH:", 5);
	big[4095] = '\0';
	char out[512];
	is_int(ptr(big, out, sizeof out), -EINVAL, "a file.ptr over 2 KiB");
	free(big);
	/* content is not NUL-terminated: only len bytes are read */
	is_int(source_parse_ptr("PATH:abcdef", 7, out, sizeof out, err, sizeof err), PTR_RELATIVE, "len honoured");
	is_str(out, "ab", "only the first len bytes");
}

static void test_cab_name(void)
{
	char out[64];
	source_cab_name("xul.pdb", out, sizeof out);
	is_str(out, "xul.pd_", "xul.pdb -> xul.pd_");
	source_cab_name("ntdll.dll", out, sizeof out);
	is_str(out, "ntdll.dl_", "ntdll.dll -> ntdll.dl_");
	source_cab_name("a", out, sizeof out);
	is_str(out, "_", "a -> _");
	source_cab_name("", out, sizeof out);
	is_str(out, "", "empty stays empty");
}

static void test_same_origin(void)
{
	struct server_config c = server("symsrv", "https://msdl.microsoft.com/download/symbols");
	ok(source_same_origin(&c, "https://msdl.microsoft.com/download/symbols/x"), "same server, deeper path");
	ok(source_same_origin(&c, "https://msdl.microsoft.com/elsewhere"), "same host, other path");
	ok(source_same_origin(&c, "https://msdl.microsoft.com"), "same host, no path");
	ok(source_same_origin(&c, "HTTPS://MSDL.Microsoft.COM/x"), "scheme and host case-insensitive");
	ok(source_same_origin(&c, "https://msdl.microsoft.com?x=1"), "a query right after the host");
	ok(!source_same_origin(&c, "http://msdl.microsoft.com/x"), "other scheme");
	ok(!source_same_origin(&c, "https://msdl.microsoft.com:8443/x"), "other port");
	ok(!source_same_origin(&c, "https://blob.core.windows.net/x"), "other host");
	ok(!source_same_origin(&c, "https://msdl.microsoft.com.evil.example/x"), "host as a prefix of another");
	ok(!source_same_origin(&c, "https://msdl.microsoft.co/x"), "a prefix of the host");
	ok(!source_same_origin(&c, "https://msdl.microsoft.com@evil.example/x"), "userinfo trick");
	ok(!source_same_origin(&c, "https://evil.example/?https://msdl.microsoft.com"), "host in the query");
	ok(!source_same_origin(&c, "/relative/path"), "not a URL");
	ok(!source_same_origin(&c, ""), "empty");

	c = server("http", "http://localhost:8080/");
	ok(source_same_origin(&c, "http://localhost:8080/a"), "same port");
	ok(!source_same_origin(&c, "http://localhost:80801/a"), "a longer port");
	ok(!source_same_origin(&c, "http://localhost/a"), "no port");
	ok(!source_same_origin(&c, "http://localhost:8081/a"), "another port");

	c = server("dir", "/srv/symbols");
	ok(!source_same_origin(&c, "http://localhost/a"), "a dir server has no origin");
}

/* Build-id keys (.build-id/xx/rest[.debug]): debuginfod's buildid/<id>/debuginfo
 * and /executable, gdb's tree in a dir with the debuginfod layout, nothing
 * elsewhere; a symbol key goes there only when its build-id is known; a
 * .sym is never asked of debuginfod (it is made from the debug info). */
static void test_build_id_candidates(void)
{
	struct server_config dbg = server("debuginfod", "http://127.0.0.1:8002/");
	struct server_config tree = server("dir", "/srv/debug");
	struct server_config ms = server("symsrv", "https://msdl.microsoft.com/download/symbols");
	struct server_config moz = server("http", "https://symbols.mozilla.org");
	struct server_config dir = server("dir", "/srv/symbols");
	struct sym_key info, exe;
	char url[512], rel[KEY_PATH_MAX + 16];
	enum cand_kind kind;
	srvconf_set(&tree, "layout", "debuginfod", err, sizeof err);
	key_make_build_id(&info, "B2", "3C4D5E6F708192A3B4C5D6E7F8091A11223344.debug");
	key_make_build_id(&exe, "b2", "3c4d5e6f708192a3b4c5d6e7f8091a11223344");
	candidates("debuginfod, debug info", &dbg, &info,
		   (const char *const[]){"buildid/b23c4d5e6f708192a3b4c5d6e7f8091a11223344/debuginfo", NULL}, "P");
	candidates("debuginfod, executable", &dbg, &exe,
		   (const char *const[]){"buildid/b23c4d5e6f708192a3b4c5d6e7f8091a11223344/executable", NULL}, "P");
	source_candidate(&dbg, &info, 0, rel, sizeof rel, &kind);
	source_url(&dbg, rel, url, sizeof url);
	is_str(url, "http://127.0.0.1:8002/buildid/b23c4d5e6f708192a3b4c5d6e7f8091a11223344/debuginfo",
	       "debuginfod URL");
	candidates("dir with debuginfod layout, debug info", &tree, &info,
		   (const char *const[]){".build-id/b2/3c4d5e6f708192a3b4c5d6e7f8091a11223344.debug", NULL}, "P");
	candidates("dir with debuginfod layout, executable", &tree, &exe,
		   (const char *const[]){".build-id/b2/3c4d5e6f708192a3b4c5d6e7f8091a11223344", NULL}, "P");
	source_candidate(&tree, &info, 0, rel, sizeof rel, &kind);
	source_dir_path(&tree, rel, url, sizeof url);
	is_str(url, "/srv/debug/.build-id/b2/3c4d5e6f708192a3b4c5d6e7f8091a11223344.debug", "gdb tree path");
	const char *const none[] = {NULL};
	candidates("symsrv has no build-id candidate", &ms, &info, none, "");
	candidates("http has no build-id candidate", &moz, &info, none, "");
	candidates("a symstore dir has no build-id candidate", &dir, &info, none, "");
	struct sym_key sym = key("libc.so.6", "libc.so.6");
	candidates("debuginfod has no symbol-key candidate", &dbg, &sym, none, "");
	candidates("a debuginfod tree has no symbol-key candidate", &tree, &sym, none, "");
	snprintf(sym.build_id, sizeof sym.build_id, "%s", info.build_id);
	candidates("debuginfod, a symbol key whose build-id is known", &dbg, &sym,
		   (const char *const[]){"buildid/b23c4d5e6f708192a3b4c5d6e7f8091a11223344/debuginfo", NULL}, "P");
	candidates("a debuginfod tree, the same", &tree, &sym,
		   (const char *const[]){".build-id/b2/3c4d5e6f708192a3b4c5d6e7f8091a11223344.debug", NULL}, "P");
	struct sym_key sym_of_sym = key("libc.so.6", "libc.so.6.sym"), bid_sym;
	snprintf(sym_of_sym.build_id, sizeof sym_of_sym.build_id, "%s", info.build_id);
	candidates("its .sym is not asked of debuginfod", &dbg, &sym_of_sym, none, "");
	key_make_build_id(&bid_sym, "b2", "3c4d5e6f708192a3b4c5d6e7f8091a11223344.sym");
	candidates("nor is a build-id's .sym", &dbg, &bid_sym, none, "");
	candidates("a debuginfod tree may hold .build-id/xx/rest.sym", &tree, &bid_sym,
		   (const char *const[]){".build-id/b2/3c4d5e6f708192a3b4c5d6e7f8091a11223344.sym", NULL}, "P");
	char small[16];
	is_int(source_candidate(&dbg, &info, 0, small, sizeof small, &kind), -ENAMETOOLONG, "a too small buffer");
}

/* S3 addressing (SPEC §3): path-style below an endpoint when url is set,
 * virtual-host on AWS when it is not (path-style there for a dotted bucket);
 * any layout below the prefix; the listing URL of the probe; credentials only
 * to the bucket's own origin. */
static void test_s3(void)
{
	struct server_config c = server("s3", "http://127.0.0.1:4569/");
	char url[1024];
	srvconf_set(&c, "s3_bucket", "syms", err, sizeof err);
	srvconf_set(&c, "prefix", "team a/v1", err, sizeof err);
	struct sym_key k = key("ntdll.pdb", "ntdll.pdb");
	candidates("s3, symstore by default", &c, &k,
		   (const char *const[]){"ntdll.pdb/" ID "/ntdll.pdb", "ntdll.pdb/" ID "/ntdll.pd_",
					 "ntdll.pdb/" ID "/file.ptr", NULL},
		   "PCR");
	is_int(source_url(&c, "ntdll.pdb/" ID "/ntdll.pd_", url, sizeof url), 0, "s3 path-style URL");
	is_str(url, "http://127.0.0.1:4569/syms/team%20a/v1/ntdll.pdb/" ID "/ntdll.pd_",
	       "path-style: endpoint, bucket, prefix, key");
	is_int(source_s3_list_url(&c, url, sizeof url), 0, "s3 listing URL");
	is_str(url, "http://127.0.0.1:4569/syms?list-type=2&max-keys=1&prefix=team%20a%2Fv1%2F",
	       "path-style listing: no '/' after the bucket, the prefix as a parameter");
	is_int(source_s3_virtual_host(&c), 0, "an endpoint is addressed path-style");
	is_str(source_s3_region(&c), "us-east-1", "no region: us-east-1 is signed for");
	ok(source_same_origin(&c, "http://127.0.0.1:4569/syms/x"), "credentials to the endpoint");
	ok(!source_same_origin(&c, "http://127.0.0.1:4570/syms/x"), "not to another port");

	srvconf_set(&c, "layout", "breakpad", err, sizeof err);
	k = key("app.pdb", "app.sym");
	candidates("s3, breakpad layout", &c, &k, (const char *const[]){"app.pdb/" ID "/app.sym", NULL}, "P");

	c = server("s3", "");
	srvconf_set(&c, "s3_bucket", "corp-symbols", err, sizeof err);
	srvconf_set(&c, "s3_region", "eu-west-1", err, sizeof err);
	is_int(source_s3_virtual_host(&c), 1, "AWS (no url) is addressed virtual-host style");
	source_url(&c, "a.pdb/" ID "/a.pdb", url, sizeof url);
	is_str(url, "https://corp-symbols.s3.eu-west-1.amazonaws.com/a.pdb/" ID "/a.pdb", "virtual-host URL");
	source_s3_list_url(&c, url, sizeof url);
	is_str(url, "https://corp-symbols.s3.eu-west-1.amazonaws.com/?list-type=2&max-keys=1",
	       "virtual-host listing of the bucket's root");
	ok(source_same_origin(&c, "https://corp-symbols.s3.eu-west-1.amazonaws.com/x"), "credentials to the bucket");
	ok(!source_same_origin(&c, "https://other.s3.eu-west-1.amazonaws.com/x"), "not to another bucket");

	srvconf_set(&c, "s3_bucket", "corp.symbols", err, sizeof err);
	source_url(&c, "a.pdb/" ID "/a.pdb", url, sizeof url);
	is_str(url, "https://s3.eu-west-1.amazonaws.com/corp.symbols/a.pdb/" ID "/a.pdb",
	       "a dotted bucket is path-style (the wildcard certificate does not cover it)");
	is_int(srvconf_check(&c, err, sizeof err), 0, "that configuration is valid");
	srvconf_set(&c, "s3_region", "eu-west-1.evil.example/", err, sizeof err);
	is_int(srvconf_check(&c, err, sizeof err), -EINVAL, "a region that is not a name is refused");
	srvconf_set(&c, "s3_region", "", err, sizeof err);
	srvconf_set(&c, "s3_bucket", "a/b", err, sizeof err);
	is_int(srvconf_check(&c, err, sizeof err), -EINVAL, "a bucket with '/' is refused");
	srvconf_set(&c, "s3_bucket", "b", err, sizeof err);
	srvconf_set(&c, "url", "ftp://x", err, sizeof err);
	is_int(srvconf_check(&c, err, sizeof err), -EINVAL, "an endpoint that is not http(s) is refused");
}

static void destination(const struct server_config *c, enum source_secret which, const char *want, const char *what)
{
	char out[2048] = "?";
	is_int(source_secret_destination(c, which, out, sizeof out), 0, "%s: found", what);
	is_str(out, want, "%s", what);
}

/* Where each secret goes: what a "***" that keeps it is compared by. */
static void test_secret_destination(void)
{
	struct server_config c = server("symsrv", "HTTPS://Symbols.Corp.Example/download/symbols?x=1");
	char out[2048];
	destination(&c, SECRET_PASSWORD, "https://symbols.corp.example:443",
		    "scheme and host lowered, port 443 filled in");
	destination(&c, SECRET_S3_SECRET_KEY, "", "a symsrv server signs nothing");
	destination(&c, SECRET_PROXY_PASSWORD, "", "no proxy: the proxy password goes nowhere");
	c = server("http", "http://[::1]:8080/x");
	destination(&c, SECRET_PASSWORD, "http://[::1]:8080", "an IPv6 host and its port");
	c = server("debuginfod", "http://u:p@127.0.0.1/x");
	destination(&c, SECRET_PASSWORD, "http://127.0.0.1:80", "userinfo is not the host; port 80 filled in");
	srvconf_set(&c, "proxy", "socks5h://Proxy.Example", err, sizeof err);
	destination(&c, SECRET_PASSWORD, "http://127.0.0.1:80 via socks5h://proxy.example:1080",
		    "through a socks proxy: curl's 1080");
	destination(&c, SECRET_PROXY_PASSWORD, "socks5h://proxy.example:1080", "the proxy password: the proxy alone");
	srvconf_set(&c, "proxy", "https://proxy.example", err, sizeof err);
	destination(&c, SECRET_PROXY_PASSWORD, "https://proxy.example:443", "an https proxy: 443");
	srvconf_set(&c, "proxy", "http://proxy.example", err, sizeof err);
	destination(&c, SECRET_PROXY_PASSWORD, "http://proxy.example:1080", "an http proxy: 1080, as curl connects");
	srvconf_set(&c, "proxy", "proxy.example:3128", err, sizeof err);
	is_int(source_secret_destination(&c, SECRET_PROXY_PASSWORD, out, sizeof out), -EINVAL,
	       "a proxy without a scheme does not parse");
	c = server("http", "http://");
	is_int(source_secret_destination(&c, SECRET_PASSWORD, out, sizeof out), -EINVAL, "a URL without a host");
	c = server("dir", "/srv/symbols");
	srvconf_set(&c, "proxy", "http://proxy.example:3128", err, sizeof err);
	destination(&c, SECRET_PASSWORD, "", "a dir server sends nothing");
	destination(&c, SECRET_PROXY_PASSWORD, "", "not even to its proxy");
	c = server("s3", "");
	srvconf_set(&c, "s3_bucket", "corp-symbols", err, sizeof err);
	srvconf_set(&c, "s3_region", "eu-west-1", err, sizeof err);
	destination(&c, SECRET_S3_SECRET_KEY, "https://corp-symbols.s3.eu-west-1.amazonaws.com:443",
		    "s3 on AWS: the bucket's own host");
	destination(&c, SECRET_PASSWORD, "", "an s3 server sends no password");
	srvconf_set(&c, "url", "http://MinIO.example:9000/", err, sizeof err);
	destination(&c, SECRET_S3_SECRET_KEY, "http://minio.example:9000", "s3 with an endpoint: the endpoint");
}

int main(void)
{
	test_candidates();
	test_build_id_candidates();
	test_url();
	test_dir_path();
	test_dir_root();
	test_ptr();
	test_cab_name();
	test_same_origin();
	test_s3();
	test_secret_destination();
	return tap_done();
}
