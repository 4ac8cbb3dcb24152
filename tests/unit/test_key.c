/* key: which path components can name a symbol (SPEC §2), how debug ids are
 * canonicalised, the Breakpad .sym name of a debug file, and the key's store
 * path. */
#include "common/key.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <string.h>

#define PDB_ID "3844DBB920174967BE7AA4A2C20430FA2"

/* ---- key_valid_name ------------------------------------------------------------ */

static void test_valid_name(void)
{
	static const char *const good[] = {"xul.pdb", "ntdll.dll", "libc.so.6", "Electron Framework",
					   "a", "x y z.pdb", "lib-foo_bar+1.so", "name.", "~tilde", "a..b"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		is_int(key_valid_name(good[i]), 1, "valid name '%s'", good[i]);

	static const char *const bad[] = {"",      ".",      "..",    ".hidden", ".symbold", ".build-id",
					  "a/b",   "a\\b",   "c:x",   "a*",      "a?",       "a\"b",
					  "a<b",   "a>b",    "a|b",   " lead",   "trail ",   " ",
					  "/",     "a\tb",   "a\nb",  "a\rb",    "\x01",     "a\x1f",
					  "a\x7f", "\x80x",  "caf\xc3\xa9", "x\xff"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		is_int(key_valid_name(bad[i]), 0, "invalid name #%zu refused", i);

	char name[KEY_NAME_MAX + 2];
	memset(name, 'a', KEY_NAME_MAX);
	name[KEY_NAME_MAX] = '\0';
	is_int(key_valid_name(name), 1, "a name of %d bytes is accepted", KEY_NAME_MAX);
	name[KEY_NAME_MAX] = 'a';
	name[KEY_NAME_MAX + 1] = '\0';
	is_int(key_valid_name(name), 0, "a name of %d bytes is refused", KEY_NAME_MAX + 1);
}

/* ---- key_normalize_id ------------------------------------------------------------ */

static void norm_ok(const char *in, const char *want)
{
	char out[KEY_ID_MAX + 1] = "";
	int rc = key_normalize_id(in, out);
	is_int(rc, 0, "id '%s' accepted", in);
	if (rc == 0)
		is_str(out, want, "id '%s' normalised", in);
}

static void norm_bad(const char *in, const char *why)
{
	char out[KEY_ID_MAX + 1];
	is_int(key_normalize_id(in, out), -EINVAL, "id refused: %s", why);
}

static void test_normalize_id(void)
{
	/* PDB / Breakpad: 33..40 hex, all upper case */
	norm_ok(PDB_ID, PDB_ID);
	norm_ok("3844dbb920174967be7aa4a2c20430fa2", PDB_ID);
	norm_ok("3844dBB920174967Be7aA4A2c20430Fa2", PDB_ID);
	norm_ok("3844dbb920174967be7aa4a2c20430fa12345678", "3844DBB920174967BE7AA4A2C20430FA12345678");
	norm_ok("B7DFF4AB5CE1C8F61DB0EC9F48B1F6D60", "B7DFF4AB5CE1C8F61DB0EC9F48B1F6D60");

	/* PE: 9..16 hex, "%08X%x" */
	norm_ok("5b3f5e6a1A6000", "5B3F5E6A1a6000");
	norm_ok("5B3F5E6A1A6000", "5B3F5E6A1a6000");
	norm_ok("5b3f5e6a1", "5B3F5E6A1");
	norm_ok("abcdef01ABCDEF01", "ABCDEF01abcdef01");

	/* lengths that are neither */
	norm_bad("", "empty");
	norm_bad("5B3F5E6A", "8 hex digits");
	norm_bad("5B3F5E6A1a6000001", "17 hex digits");
	norm_bad("3844DBB920174967BE7AA4A2C20430FA", "32 hex digits");
	norm_bad("3844DBB920174967BE7AA4A2C20430FA123456789", "41 hex digits");

	/* non-hex */
	norm_bad("3844DBB920174967BE7AA4A2C20430FG2", "a 'G' in a PDB id");
	norm_bad("5B3F5E6A1a600x", "an 'x' in a PE id");
	norm_bad("5B3F5E6A 1a6000", "a space");
	norm_bad("-5B3F5E6A1a6000", "a sign");
	norm_bad("5B3F5E6A1a6000/", "a slash");
	norm_bad("5B3F5E6A1a60\xc3\xa9", "non-ASCII");
}

/* ---- key_sym_name ------------------------------------------------------------ */

static void test_sym_name(void)
{
	char out[KEY_NAME_MAX + 8];
	is_int(key_sym_name("xul.pdb", out, sizeof out), 0, "xul.pdb has a .sym name");
	is_str(out, "xul.sym", ".pdb is replaced");
	key_sym_name("XUL.PDB", out, sizeof out);
	is_str(out, "XUL.sym", ".PDB is replaced, case-insensitively");
	key_sym_name("Xul.Pdb", out, sizeof out);
	is_str(out, "Xul.sym", ".Pdb is replaced");
	key_sym_name("libc.so.6", out, sizeof out);
	is_str(out, "libc.so.6.sym", "anything else gets .sym appended");
	key_sym_name("ntdll.dll", out, sizeof out);
	is_str(out, "ntdll.dll.sym", "a .dll gets .sym appended");
	key_sym_name("Electron Framework", out, sizeof out);
	is_str(out, "Electron Framework.sym", "a name without extension gets .sym appended");

	char small[8];
	is_int(key_sym_name("abc.pdb", small, sizeof small), 0, "'abc.sym' fits 8 bytes");
	is_str(small, "abc.sym", "exactly-fitting name");
	is_int(key_sym_name("abcd.pdb", small, sizeof small), -ENAMETOOLONG, "'abcd.sym' does not fit 8 bytes");
	is_int(key_sym_name("abcd", small, sizeof small), -ENAMETOOLONG, "'abcd.sym' (appended) does not fit");

	char name[KEY_NAME_MAX + 1];
	memset(name, 'a', KEY_NAME_MAX);
	name[KEY_NAME_MAX] = '\0';
	char fit[KEY_NAME_MAX + 1];
	is_int(key_sym_name(name, fit, sizeof fit), -ENAMETOOLONG, "a 200-byte name's .sym overflows 201 bytes");
	is_int(key_sym_name(name, out, sizeof out), 0, "but fits KEY_NAME_MAX + 8");
}

/* ---- key_make / key_wants_sym / key_relpath ---------------------------------------- */

static void test_make(void)
{
	struct sym_key k;
	char rel[KEY_PATH_MAX];

	is_int(key_make(&k, "xul.pdb", "3844dbb920174967be7aa4a2c20430fa2", "xul.pdb"), 0, "debug file key");
	is_str(k.debug_file, "xul.pdb", "debug_file kept");
	is_str(k.debug_id, PDB_ID, "id canonical");
	is_str(k.file, "xul.pdb", "file kept");
	is_int(key_wants_sym(&k), 0, "the debug file itself is not the .sym form");

	is_int(key_make(&k, "XUL.PDB", PDB_ID, "xul.sym"), 0, ".sym of an upper-case debug file, lower-case");
	is_int(key_wants_sym(&k), 1, "wants .sym");
	is_str(k.debug_file, "XUL.PDB", "debug_file as requested");
	is_str(k.file, "xul.sym", "file as requested");
	key_relpath(&k, rel);
	is_str(rel, "xul.pdb/" PDB_ID "/xul.sym", "relpath: names lower-cased, id canonical");

	is_int(key_make(&k, "Xul.pdb", PDB_ID, "XUL.PDB"), 0, "file matches debug file case-insensitively");
	is_int(key_wants_sym(&k), 0, "XUL.PDB for Xul.pdb is the debug file");
	key_relpath(&k, rel);
	is_str(rel, "xul.pdb/" PDB_ID "/xul.pdb", "relpath of a mixed-case request");

	is_int(key_make(&k, "ntdll.dll", "5b3f5e6a1A6000", "NTDLL.DLL"), 0, "PE key");
	is_str(k.debug_id, "5B3F5E6A1a6000", "PE id canonical");
	key_relpath(&k, rel);
	is_str(rel, "ntdll.dll/5B3F5E6A1a6000/ntdll.dll", "PE relpath keeps the id's case");

	is_int(key_make(&k, "libc.so.6", "B7DFF4AB5CE1C8F61DB0EC9F48B1F6D60", "libc.so.6.sym"), 0, "ELF .sym key");
	is_int(key_wants_sym(&k), 1, "libc.so.6.sym wants .sym");
	is_int(key_make(&k, "Electron Framework", PDB_ID, "Electron Framework.sym"), 0, "name with a space");
	key_relpath(&k, rel);
	is_str(rel, "electron framework/" PDB_ID "/electron framework.sym", "relpath of a name with a space");

	/* everything else is ENOENT */
	is_int(key_make(&k, "xul.pdb", PDB_ID, "other.pdb"), -ENOENT, "another file name");
	is_int(key_make(&k, "xul.pdb", PDB_ID, "xul.pdb.sym"), -ENOENT, "'.pdb.sym' is not xul.pdb's .sym");
	is_int(key_make(&k, "libc.so.6", PDB_ID, "libc.so.sym"), -ENOENT, "'libc.so.sym' is not libc.so.6's");
	is_int(key_make(&k, "xul.pdb", PDB_ID, "xul.pd_"), -ENOENT, "the CAB name is never visible");
	is_int(key_make(&k, "xul.pdb", PDB_ID, "file.ptr"), -ENOENT, "file.ptr is never visible");
	is_int(key_make(&k, "xul.pdb", "nothex", "xul.pdb"), -ENOENT, "a bad id");
	is_int(key_make(&k, "xul.pdb", "3844DBB920174967BE7AA4A2C20430FA", "xul.pdb"), -ENOENT, "a 32-digit id");
	is_int(key_make(&k, "..", PDB_ID, ".."), -ENOENT, "'..' as debug file");
	is_int(key_make(&k, ".hidden", PDB_ID, ".hidden"), -ENOENT, "a dot name");
	is_int(key_make(&k, "xul.pdb", PDB_ID, ""), -ENOENT, "an empty file");
	is_int(key_make(&k, "", PDB_ID, ""), -ENOENT, "an empty debug file");
	is_int(key_make(&k, "a\x01.pdb", PDB_ID, "a\x01.pdb"), -ENOENT, "a control character");

	char name[KEY_NAME_MAX + 2];
	memset(name, 'a', KEY_NAME_MAX + 1);
	name[KEY_NAME_MAX + 1] = '\0';
	is_int(key_make(&k, name, PDB_ID, name), -ENOENT, "a 201-byte name");
	name[KEY_NAME_MAX] = '\0';
	is_int(key_make(&k, name, PDB_ID, name), 0, "a 200-byte name");
	is_int(strlen(k.debug_file), KEY_NAME_MAX, "kept whole");
	key_relpath(&k, rel);
	is_int(strlen(rel), 2 * KEY_NAME_MAX + strlen(PDB_ID) + 2, "the longest relpath fits KEY_PATH_MAX");
	/* the .sym of a 200-byte name is longer than any file name may be */
	char sym[KEY_NAME_MAX + 8];
	key_sym_name(name, sym, sizeof sym);
	is_int(key_make(&k, name, PDB_ID, sym), -ENOENT, "a .sym name over 200 bytes");
}

static void test_lower(void)
{
	char s[] = "MiXeD Case.PDB\xc3\x89";
	key_lower(s);
	is_str(s, "mixed case.pdb\xc3\x89", "key_lower: ASCII only");
}

/* ---- build-id keys: .build-id/<xx>/<rest>[.debug] ---------------------------------- */

#define BID_REST "3c4d5e6f708192a3b4c5d6e7f8091a11223344"
#define BID "b2" BID_REST /* 20 bytes, the usual sha1 */
#define BID_REST_ODD "c4d5e6f708192a3b4c5d6e7f8091a11223344" /* one digit short */

static void test_normalize_build_id(void)
{
	char out[KEY_BUILD_ID_MAX + 1] = "", hex[KEY_BUILD_ID_MAX + 3];
	is_int(key_normalize_build_id(BID, out), 0, "a 40-digit build-id");
	is_str(out, BID, "kept in lower case");
	is_int(key_normalize_build_id("B23C4D5E6F708192A3B4C5D6E7F8091A11223344", out), 0, "upper case accepted");
	is_str(out, BID, "lower-cased");
	is_int(key_normalize_build_id("0123456789ABCDEF", out), 0, "16 digits (8 bytes) accepted");
	is_str(out, "0123456789abcdef", "short id lower-cased");
	is_int(key_normalize_build_id("0123456789abcd", out), -EINVAL, "14 digits refused");
	is_int(key_normalize_build_id(BID "1", out), -EINVAL, "an odd number of digits (not whole bytes) refused");
	is_int(key_normalize_build_id("", out), -EINVAL, "empty refused");
	is_int(key_normalize_build_id("g23c4d5e6f708192a3b4c5d6e7f8091a11223344", out), -EINVAL, "non-hex refused");
	memset(hex, 'a', KEY_BUILD_ID_MAX);
	hex[KEY_BUILD_ID_MAX] = '\0';
	is_int(key_normalize_build_id(hex, out), 0, "128 digits (64 bytes) accepted");
	memcpy(hex + KEY_BUILD_ID_MAX, "aa", 3);
	is_int(key_normalize_build_id(hex, out), -EINVAL, "130 digits refused");

	is_int(key_build_id_dir_valid("b2"), 1, "xx directory 'b2'");
	is_int(key_build_id_dir_valid("B2"), 1, "xx directory 'B2'");
	is_int(key_build_id_dir_valid("zz"), 0, "'zz' refused");
	is_int(key_build_id_dir_valid("b"), 0, "one digit refused");
	is_int(key_build_id_dir_valid("b23"), 0, "three digits refused");
	is_int(key_build_id_dir_valid(""), 0, "empty refused");
}

static void test_make_build_id(void)
{
	struct sym_key k;
	char rel[KEY_PATH_MAX], pair[KEY_PAIR_MAX];

	is_int(key_make_build_id(&k, "b2", BID_REST ".debug"), 0, "debug info key");
	is_int(k.kind, KEY_BUILD_ID, "kind is build-id");
	is_str(k.build_id, BID, "full build-id");
	is_int(k.executable, 0, ".debug: the debug info");
	is_str(k.debug_file, ".build-id", "debug file is .build-id (lists match it)");
	is_str(k.debug_id, "", "no debug id");
	is_int(key_wants_sym(&k), 0, "not the .sym form");
	key_relpath(&k, rel);
	is_str(rel, ".build-id/b2/" BID_REST ".debug", "relpath is gdb's layout");
	key_pair(&k, pair);
	is_str(pair, ".build-id/" BID, "pair names the full build-id");

	is_int(key_make_build_id(&k, "B2", "3C4D5E6F708192A3B4C5D6E7F8091A11223344.DEBUG"), 0, "upper case");
	is_str(k.build_id, BID, "upper case: same build-id");
	key_relpath(&k, rel);
	is_str(rel, ".build-id/b2/" BID_REST ".debug", "upper case: same relpath");

	is_int(key_make_build_id(&k, "b2", BID_REST), 0, "executable key");
	is_int(k.executable, 1, "no suffix: the executable");
	key_relpath(&k, rel);
	is_str(rel, ".build-id/b2/" BID_REST, "executable relpath");
	key_pair(&k, pair);
	is_str(pair, ".build-id/" BID, "executable pair: the same build-id");

	is_int(key_make_build_id(&k, "01", "23456789abcdef.debug"), 0, "an 8-byte build-id");
	key_relpath(&k, rel);
	is_str(rel, ".build-id/01/23456789abcdef.debug", "8-byte relpath");
	char name[KEY_BUILD_ID_MAX + 8];
	memset(name, 'c', KEY_BUILD_ID_MAX - 2);
	snprintf(name + KEY_BUILD_ID_MAX - 2, 8, ".debug");
	is_int(key_make_build_id(&k, "ab", name), 0, "a 64-byte build-id");
	is_int(strlen(k.build_id), KEY_BUILD_ID_MAX, "kept whole");
	key_relpath(&k, rel);
	is_int(strlen(rel), strlen(".build-id/ab/") + KEY_BUILD_ID_MAX - 2 + strlen(".debug"), "its relpath fits");

	is_int(key_make_build_id(&k, "b2", BID_REST ".SYM"), 0, "<rest>.sym: Breakpad symbols of the build-id");
	ok(k.kind == KEY_BUILD_ID && !k.executable && key_wants_sym(&k), "a build-id key that wants the .sym");
	key_relpath(&k, rel);
	is_str(rel, ".build-id/b2/" BID_REST ".sym", "its relpath, lower case");

	/* everything else is ENOENT */
	is_int(key_make_build_id(&k, "zz", BID_REST ".debug"), -ENOENT, "non-hex xx");
	is_int(key_make_build_id(&k, "b", BID_REST ".debug"), -ENOENT, "one-digit xx");
	is_int(key_make_build_id(&k, "b23", BID_REST_ODD ".debug"), -ENOENT, "three-digit xx");
	is_int(key_make_build_id(&k, "b2", BID_REST_ODD ".debug"), -ENOENT, "an odd number of digits");
	is_int(key_make_build_id(&k, "01", "23456789abcd.debug"), -ENOENT, "7 bytes: too short");
	memset(name, 'c', KEY_BUILD_ID_MAX);
	snprintf(name + KEY_BUILD_ID_MAX, 8, ".debug");
	is_int(key_make_build_id(&k, "ab", name), -ENOENT, "65 bytes: too long");
	is_int(key_make_build_id(&k, "b2", BID_REST ".debug.debug"), -ENOENT, "two suffixes");
	is_int(key_make_build_id(&k, "b2", BID_REST ".dbg"), -ENOENT, "another suffix");
	is_int(key_make_build_id(&k, "b2", ".debug"), -ENOENT, "a suffix alone");
	is_int(key_make_build_id(&k, "b2", ""), -ENOENT, "an empty name");
	is_int(key_make_build_id(&k, "b2", "3c4d5e6f708192a3 b4c5d6e7f8091a11223344"), -ENOENT, "a space");

	/* a key struct reused for a symbol key is a symbol key again */
	key_make_build_id(&k, "b2", BID_REST ".debug");
	is_int(key_make(&k, "xul.pdb", PDB_ID, "xul.pdb"), 0, "symbol key over a build-id key");
	is_int(k.kind, KEY_SYMBOL, "kind is symbol");
	is_str(k.build_id, "", "no build-id");
	key_relpath(&k, rel);
	is_str(rel, "xul.pdb/" PDB_ID "/xul.pdb", "symbol relpath");
}

int main(void)
{
	test_valid_name();
	test_normalize_id();
	test_sym_name();
	test_make();
	test_lower();
	test_normalize_build_id();
	test_make_build_id();
	return tap_done();
}
