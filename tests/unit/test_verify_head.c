/* What the first bytes of a file offered as a key already say
 * (fetch_verify_head), as a download is judged while it arrives: a .sym by
 * its MODULE line; a debug file by the format its name asks for and the id
 * its headers carry (PE, ELF build-id, PDB GUID and age where they lie in
 * the prefix); a cabinet by what it holds, later; anything cut short is not
 * judged yet. */
#include "fetch/fetch.h"

#include "tests/unit/images.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <string.h>

#define ID "3844DBB920174967BE7AA4A2C20430FA2"

static char why[300];
static uint64_t need;

static int judge_key(const struct sym_key *k, const void *head, size_t len, uint64_t total)
{
	why[0] = '\0';
	return fetch_verify_head(k, head, len, total, &need, why, sizeof why);
}

static int verdict_id(const char *debug_file, const char *id, const char *file, const void *head, size_t len)
{
	struct sym_key k;
	if (key_make(&k, debug_file, id, file) < 0)
		return -999;
	return judge_key(&k, head, len, 0);
}

static int verdict(const char *debug_file, const char *file, const char *head, size_t len)
{
	return verdict_id(debug_file, ID, file, head, len);
}

static void test_breakpad(void)
{
	const char *module = "MODULE windows x86_64 3844DBB920174967BE7AA4A2C20430FA2 xul.pdb\nFILE 0 a.c\n";
	const char *other = "MODULE windows x86_64 0044DBB920174967BE7AA4A2C20430FA2 xul.pdb\n";
	const char *pdb = "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0";
	is_int(verdict("xul.pdb", "xul.sym", module, strlen(module)), 0, "a .sym with the key's MODULE line");
	is_str(why, "", "... and no reason");
	is_int(verdict("xul.pdb", "xul.sym", other, strlen(other)), -EINVAL, "a .sym of another id");
	ok(strstr(why, "identity mismatch") != NULL, "... says why (%s)", why);
	is_int(verdict("xul.pdb", "xul.sym", module, 20), -EAGAIN, "a MODULE line not finished yet: not judged");
	is_int(need, 21, "... one more byte may finish it");
	is_int(verdict("xul.pdb", "xul.sym", "MOD", 3), -EAGAIN, "three bytes: not judged");
	is_int(verdict("xul.pdb", "xul.sym", pdb, 30), -EINVAL, "a PDB where a .sym belongs");
	ok(strstr(why, "MODULE") != NULL, "... says why (%s)", why);
	const char *bad = "MODULE windows x86_64 not-an-id xul.pdb\n";
	is_int(verdict("xul.pdb", "xul.sym", bad, strlen(bad)), -EINVAL, "a MODULE line with no id in it");
	char endless[1100];
	memset(endless, 'x', sizeof endless);
	memcpy(endless, "MODULE ", 7);
	is_int(verdict("xul.pdb", "xul.sym", endless, 1024), -EAGAIN, "a MODULE line of 1024 bytes: its end may come");
	is_int(verdict("xul.pdb", "xul.sym", endless, 1025), -EINVAL, "longer than identify reads: refused (%s)", why);
}

static void test_forms(void)
{
	const char *module = "MODULE windows x86_64 3844DBB920174967BE7AA4A2C20430FA2 xul.pdb\n";
	const char *html = "<html><body>Symbol not found</body></html>\n";
	is_int(verdict("xul.pdb", "xul.sym", "MSCF\0\0\0\0", 8), 0, "a cabinet: judged by what it holds, later");
	is_int(verdict("xul.pdb", "xul.pdb", "MSC", 3), -EAGAIN, "the start of a cabinet's magic: not judged");
	is_int(verdict("xul.pdb", "xul.pdb", module, strlen(module)), -EINVAL, "Breakpad where a PDB belongs");
	ok(strstr(why, "Breakpad") != NULL, "... says why (%s)", why);
	is_int(verdict("xul.pdb", "xul.pdb", "MODU", 4), -EAGAIN, "the start of MODULE: not judged yet");
	is_int(verdict("xul.pdb", "xul.pdb", html, strlen(html)), -EINVAL, "HTML where a PDB belongs");
	is_str(why, "HTML page where a PDB was asked for", "... says what it is");
	is_int(verdict("xul.pdb", "xul.pdb", "MZ", 2), -EINVAL, "a PE where a PDB belongs, by its magic");
	is_int(verdict_id("app.dll", "5B3F5E6A1a6000", "app.dll", "\x7f" "ELF", 4), -EINVAL,
	       "an ELF where a DLL belongs (%s)", why);
	is_int(verdict_id("libc.so.6", "5E4D3CB2706F9281A3B4C5D6E7F8091A0", "libc.so.6", "MZ", 2), -EINVAL,
	       "a PE where a shared object belongs (%s)", why);
	is_int(verdict_id("app", "5B3F5E6A1a6000", "app", "{\"error\":\"not found\"}", 21), -EINVAL,
	       "JSON where a debug file of any form belongs (%s)", why);
}

static void test_pe(void)
{
	size_t len;
	uint8_t *img = build_pe(1, 0x5B3F5E6A, 0x1a6000, &len);
	is_int(verdict_id("app.dll", "5B3F5E6A1a6000", "app.dll", img, 512), 0, "the key's PE: 0 from its headers");
	is_int(verdict_id("app.dll", "5B3F5E6B1a6000", "app.dll", img, 512), -EINVAL, "a PE of another build");
	ok(strstr(why, "identity mismatch: content is 5B3F5E6A1a6000") != NULL, "... says why (%s)", why);
	is_int(verdict_id("app.exe", "5B3F5E6A1a7000", "APP.EXE", img, 512), -EINVAL, "... of another size, any case");
	is_int(verdict_id("app.dll", "5B3F5E6B1a6000", "app.dll", img, 100), -EAGAIN, "... not before its headers");
	is_int(need, PE_LFANEW + 24 + 64, "... which it asks for");
	free(img);
}

static void test_elf(void)
{
	size_t len;
	struct elf_spec s = {TEST_BUILD_ID, 20, 0, 1};
	uint8_t *img = build_elf(&s, &len);
	struct sym_key k;
	key_make_build_id(&k, "b2", "3c4d5e6f708192a3b4c5d6e7f8091a11223344.debug");
	is_int(judge_key(&k, img, len, len), 0, "the key's ELF by build-id: 0 from its note");
	key_make_build_id(&k, "b2", "3c4d5e6f708192a3b4c5d6e7f8091a11223345.debug");
	is_int(judge_key(&k, img, len, len), -EINVAL, "an ELF of another build-id");
	ok(strstr(why, "build-id mismatch") != NULL, "... says why (%s)", why);
	key_make_build_id(&k, "b2", "3c4d5e6f708192a3b4c5d6e7f8091a");
	is_int(judge_key(&k, img, len, len), -EINVAL, "... nor one whose build-id only starts the same");
	is_int(judge_key(&k, img, 100, len), -EAGAIN, "... not before its note");
	is_int(verdict_id("libc.so.6", "5E4D3CB2706F9281A3B4C5D6E7F8091A0", "libc.so.6", img, len), 0,
	       "an ELF asked for by its Breakpad id");
	is_int(verdict_id("libc.so.6", "5E4D3CB2706F9281A3B4C5D6E7F8091B0", "libc.so.6", img, len), -EINVAL,
	       "an ELF of another Breakpad id");
	free(img);
}

static void test_pdb(void)
{
	struct pdb_layout l;
	struct pdb_spec s = {.block_size = 512, .age = 2, .dbi_age = 2, .filler_blocks = 2};
	uint8_t *img = build_pdb(&s, &l);
	struct sym_key k;
	key_make(&k, "xul.pdb", "0044DBB920174967BE7AA4A2C20430FA2", "xul.pdb");
	is_int(judge_key(&k, img, l.len, l.len), -EINVAL, "a PDB of another GUID");
	ok(strstr(why, "identity mismatch") != NULL, "... says why (%s)", why);
	is_int(judge_key(&k, img, 56, l.len), -EAGAIN, "... not from its superblock alone");
	key_make(&k, "xul.pdb", TEST_GUID_HEX "2", "xul.pdb");
	is_int(judge_key(&k, img, l.len, l.len), 0, "the key's PDB");
	is_int(judge_key(&k, img, 56, l.len - 512), -EINVAL, "a PDB the server says is shorter than its blocks");
	free(img);
}

int main(void)
{
	test_breakpad();
	test_forms();
	test_pe();
	test_elf();
	test_pdb();
	return tap_done();
}
