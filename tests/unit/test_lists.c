/* lists: the whitelist / blacklist syntax of SPEC §4 — globs, exact keys,
 * comments, blank lines, CRLF — what is refused whole (control characters,
 * invalid UTF-8, a '/' that is not a key, over-long lines), and matching,
 * which ignores case. */
#include "admin/lists.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PDB_ID "3844DBB920174967BE7AA4A2C20430FA2"
#define PE_ID "5B3F5E6A1a6000"

static char err[512];

static struct sym_key key(const char *df, const char *id, const char *file)
{
	struct sym_key k;
	if (key_make(&k, df, id, file) < 0) {
		printf("# bad test key %s/%s/%s\n", df, id, file);
		memset(&k, 0, sizeof k);
	}
	return k;
}

static int matches(const struct patlist *l, const char *df, const char *id)
{
	struct sym_key k = key(df, id, df);
	return patlist_match(l, &k);
}

/* Parses text that must be accepted; the list is freed by the caller. */
static int parse_ok(struct patlist *l, const char *text, const char *what)
{
	err[0] = '\0';
	int rc = patlist_parse(l, text, err, sizeof err);
	if (!is_int(rc, 0, "accepted: %s", what))
		printf("#   err: %s\n", err);
	return rc == 0;
}

/* Parses text that must be refused with "line N: ..." containing `needle`;
 * checks that `out` is left as it was. */
static void parse_bad(const char *text, int line, const char *needle, const char *what)
{
	struct patlist l = {(char **)0x1, 42, (char *)0x2}; /* sentinel: must stay untouched */
	char prefix[32];
	err[0] = '\0';
	is_int(patlist_parse(&l, text, err, sizeof err), -EINVAL, "refused: %s", what);
	snprintf(prefix, sizeof prefix, "line %d: ", line);
	ok(strncmp(err, prefix, strlen(prefix)) == 0, "%s: error starts with '%s' (%s)", what, prefix, err);
	if (needle)
		ok(strstr(err, needle) != NULL, "%s: error mentions '%s'", what, needle);
	ok(l.entries == (char **)0x1 && l.n == 42 && l.text == (char *)0x2, "%s: output untouched", what);
}

static void test_basic(void)
{
	struct patlist l;
	if (parse_ok(&l,
		     "# system libraries\n"
		     "ntdll.pdb\n"
		     "\n"
		     "  *.DLL   # every dll\n"
		     "\tlibxul.so*\t\n"
		     "   \n"
		     "#only a comment\n"
		     "XUL.PDB/" "3844dbb920174967be7aa4a2c20430fa2\n"
		     "kernel32.dll/5b3f5e6a1A6000 # a PE key\n"
		     "Electron Framework",
		     "a list with globs, keys, comments, blank lines")) {
		is_int(l.n, 6, "six entries");
		if (l.n == 6) {
			is_str(l.entries[0], "ntdll.pdb", "plain name");
			is_str(l.entries[1], "*.dll", "glob lower-cased, comment and spaces gone");
			is_str(l.entries[2], "libxul.so*", "tabs trimmed");
			is_str(l.entries[3], "xul.pdb/" PDB_ID, "key: file lower-cased, id canonical");
			is_str(l.entries[4], "kernel32.dll/" PE_ID, "PE key: id canonical");
			is_str(l.entries[5], "electron framework", "last line without newline");
		}
		ok(l.text && strncmp(l.text, "# system libraries\n", 19) == 0, "the text is kept as written");

		ok(matches(&l, "ntdll.pdb", PDB_ID), "ntdll.pdb matches");
		ok(matches(&l, "NTDLL.PDB", PDB_ID), "NTDLL.PDB matches (case-insensitive)");
		ok(matches(&l, "Kernel32.Dll", PE_ID), "*.dll matches Kernel32.Dll");
		ok(matches(&l, "user32.dll", PE_ID), "*.dll matches user32.dll");
		ok(matches(&l, "libxul.so", PDB_ID), "libxul.so* matches libxul.so");
		ok(matches(&l, "LIBXUL.so.debug", PDB_ID), "libxul.so* matches LIBXUL.so.debug");
		ok(matches(&l, "xul.pdb", PDB_ID), "the exact key matches");
		ok(matches(&l, "Xul.Pdb", "3844dbb920174967be7aa4a2c20430fa2"), "the key matches in any case");
		ok(!matches(&l, "xul.pdb", "3844DBB920174967BE7AA4A2C20430FA3"), "another id of xul.pdb does not");
		ok(!matches(&l, "ntdll.dbg", PDB_ID), "ntdll.dbg does not match");
		ok(!matches(&l, "libfoo.so", PDB_ID), "libfoo.so does not match");
		ok(matches(&l, "electron framework", PDB_ID), "a name with a space matches");
		ok(!matches(&l, "Electron", PDB_ID), "a prefix of it does not");
		patlist_free(&l);
		ok(l.entries == NULL && l.n == 0 && l.text == NULL, "patlist_free clears the list");
	}

	if (parse_ok(&l, "", "empty text")) {
		is_int(l.n, 0, "no entries");
		ok(!matches(&l, "xul.pdb", PDB_ID), "an empty list matches nothing");
		patlist_free(&l);
	}
	if (parse_ok(&l, "\n\n# c\n  \t \n", "only comments and blank lines")) {
		is_int(l.n, 0, "no entries");
		patlist_free(&l);
	}
	if (parse_ok(&l, "a.pdb\r\nb.pdb # c\r\n\r\nc.pdb\r\n", "CRLF lines")) {
		is_int(l.n, 3, "three entries");
		if (l.n == 3)
			is_str(l.entries[2], "c.pdb", "no CR left in entries");
		ok(matches(&l, "B.pdb", PDB_ID), "CRLF entry matches");
		patlist_free(&l);
	}
	if (parse_ok(&l, "x.pdb#comment right after\n#\n", "a comment without a space")) {
		is_int(l.n, 1, "one entry");
		if (l.n == 1)
			is_str(l.entries[0], "x.pdb", "the entry before '#'");
		patlist_free(&l);
	}
	if (parse_ok(&l, "caf\xc3\xa9.pdb\n\xe2\x82\xac*\n\xf0\x9f\x98\x80.so\n", "valid multi-byte UTF-8")) {
		is_int(l.n, 3, "three entries");
		patlist_free(&l);
	}
	if (parse_ok(&l, "*", "a lone '*'")) {
		ok(matches(&l, "anything.pdb", PDB_ID), "'*' matches everything");
		patlist_free(&l);
	}
	if (parse_ok(&l, "lib?.so\n[nk]tdll.pdb\n", "'?' and bracket globs")) {
		ok(matches(&l, "libc.so", PDB_ID), "lib?.so matches libc.so");
		ok(!matches(&l, "libcc.so", PDB_ID), "lib?.so does not match libcc.so");
		ok(matches(&l, "KTDLL.pdb", PDB_ID), "[nk]tdll.pdb matches KTDLL.pdb");
		patlist_free(&l);
	}

	/* a key of a PE matches only that key */
	if (parse_ok(&l, "ntdll.dll/5B3F5E6A1A6000\n", "PE key in upper case")) {
		ok(matches(&l, "ntdll.dll", "5b3f5e6a1a6000"), "matches the same id in lower case");
		ok(!matches(&l, "ntdll.dll", "5b3f5e6a1a6001"), "not another size");
		struct sym_key k = key("ntdll.dll", PE_ID, "ntdll.dll.sym");
		ok(patlist_match(&l, &k), "and the .sym of that key");
		patlist_free(&l);
	}
}

static void test_refused(void)
{
	parse_bad("ok.pdb\nbad\x01name\n", 2, "control", "a control character");
	parse_bad("a\x7f\n", 1, "control", "DEL");
	parse_bad("a.pdb\nb.pdb\n\nc\x1b[0m\n", 4, "control", "an escape sequence on line 4");
	parse_bad("a.pdb # comment with \x02 in it\n", 1, "control", "a control character inside a comment");
	parse_bad("\r\r\n", 1, "control", "a CR that is not a line ending");
	parse_bad("caf\xe9.pdb\n", 1, "UTF-8", "a Latin-1 byte");
	parse_bad("\x80\n", 1, "UTF-8", "a lone continuation byte");
	parse_bad("x\xc3\n", 1, "UTF-8", "a truncated sequence at line end");
	parse_bad("x\xc3", 1, "UTF-8", "a truncated sequence at text end");
	parse_bad("\xc0\xaf\n", 1, "UTF-8", "an overlong 2-byte '/'");
	parse_bad("\xe0\x80\xaf\n", 1, "UTF-8", "an overlong 3-byte '/'");
	parse_bad("\xf0\x80\x80\xaf\n", 1, "UTF-8", "an overlong 4-byte '/'");
	parse_bad("\xed\xa0\x80\n", 1, "UTF-8", "a UTF-16 surrogate");
	parse_bad("\xf4\x90\x80\x80\n", 1, "UTF-8", "a code point above U+10FFFF");
	parse_bad("\xf8\x88\x80\x80\x80\n", 1, "UTF-8", "a 5-byte sequence");
	parse_bad("\xff\n", 1, "UTF-8", "0xff");
	parse_bad("a/b\n", 1, "/", "'a/b'");
	parse_bad("ok.pdb\nx.pdb/" PDB_ID "/extra\n", 2, "/", "a key with a third component");
	parse_bad("x.pdb/notanid\n", 1, "not a", "a key with a bad id");
	parse_bad("/x.pdb\n", 1, "/", "a leading '/'");
	parse_bad("x.pdb/\n", 1, "/", "a trailing '/'");
	parse_bad("*.pdb/" PDB_ID "\n", 1, "/", "a glob in a key");
	parse_bad("../" PDB_ID "\n", 1, "/", "'..' as the debug file of a key");
}

static void test_line_length(void)
{
	struct patlist l;
	char *text = malloc(LIST_LINE_MAX + 16);
	memset(text, 'a', LIST_LINE_MAX);
	strcpy(text + LIST_LINE_MAX, "\nb\n");
	if (parse_ok(&l, text, "a 1024-byte line")) {
		is_int(l.n, 2, "two entries");
		patlist_free(&l);
	}
	strcpy(text + LIST_LINE_MAX, "\r\n");
	if (parse_ok(&l, text, "a 1024-byte line ending in CRLF")) {
		is_int(l.n, 1, "one entry");
		patlist_free(&l);
	}
	memset(text, 'a', LIST_LINE_MAX + 1);
	strcpy(text + LIST_LINE_MAX + 1, "\n");
	parse_bad(text, 1, "longer", "a 1025-byte line");
	text[LIST_LINE_MAX + 1] = '\0';
	parse_bad(text, 1, "longer", "a 1025-byte last line without newline");
	/* a long comment is still a long line */
	text[0] = '#';
	parse_bad(text, 1, "longer", "a 1025-byte comment");
	free(text);

	/* many lines: line numbers count every line */
	struct buf_ {
		char s[8192];
	} *big = calloc(1, sizeof *big);
	size_t pos = 0;
	for (int i = 0; i < 500; i++)
		pos += (size_t)snprintf(big->s + pos, sizeof big->s - pos, i % 2 ? "\n" : "f%d.pdb\n", i);
	snprintf(big->s + pos, sizeof big->s - pos, "bad/entry\n");
	parse_bad(big->s, 501, "/", "the bad line after 500 others");
	big->s[pos] = '\0';
	if (parse_ok(&l, big->s, "500 lines")) {
		is_int(l.n, 250, "250 entries");
		ok(matches(&l, "F498.PDB", PDB_ID), "the last one matches");
		patlist_free(&l);
	}
	free(big);
}

/* Build-id lookups (.build-id/xx/rest[.debug]) are named ".build-id" by
 * globs and ".build-id/<build-id>" by exact keys. */
static void test_build_id(void)
{
	struct patlist l;
	struct sym_key dbg, exe, other, sym = key("libc.so.6", PDB_ID, "libc.so.6");
	key_make_build_id(&dbg, "b2", "3c4d5e6f708192a3b4c5d6e7f8091a11223344.debug");
	key_make_build_id(&exe, "B2", "3C4D5E6F708192A3B4C5D6E7F8091A11223344");
	key_make_build_id(&other, "00", "112233445566778899aabbccddeeff0011223344.debug");
	if (parse_ok(&l, ".build-id\n", "'.build-id'")) {
		ok(patlist_match(&l, &dbg) && patlist_match(&l, &exe) && patlist_match(&l, &other),
		   "'.build-id' matches every build-id lookup");
		ok(!patlist_match(&l, &sym), "but no symbol key");
		patlist_free(&l);
	}
	if (parse_ok(&l, "libc.so.6\n*.pdb\n", "globs of debug files")) {
		ok(!patlist_match(&l, &dbg), "debug-file globs do not match build-id lookups");
		patlist_free(&l);
	}
	if (parse_ok(&l, ".Build-ID/B23C4D5E6F708192A3B4C5D6E7F8091A11223344\n", "a build-id key")) {
		is_str(l.entries[0], ".build-id/b23c4d5e6f708192a3b4c5d6e7f8091a11223344", "normalised to lower case");
		ok(patlist_match(&l, &dbg) && patlist_match(&l, &exe), "matches its debug info and executable");
		ok(!patlist_match(&l, &other), "not another build-id");
		patlist_free(&l);
	}
	parse_bad(".build-id/b23c\n", 1, "not a", "a build-id key too short");
	parse_bad(".build-id/" PDB_ID "\n", 1, "not a", "a build-id key of odd length");
}

int main(void)
{
	test_basic();
	test_refused();
	test_line_length();
	test_build_id();
	return tap_done();
}
