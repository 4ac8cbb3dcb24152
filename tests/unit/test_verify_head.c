/* What the first bytes of a file offered as a key already say
 * (fetch_verify_head): a .sym by its MODULE line; a debug file only by not
 * being Breakpad; a cabinet and anything cut short are not judged yet. */
#include "fetch/fetch.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <string.h>

#define ID "3844DBB920174967BE7AA4A2C20430FA2"

static int verdict(const char *debug_file, const char *file, const char *head, size_t len, char *why)
{
	struct sym_key k;
	if (key_make(&k, debug_file, ID, file) < 0)
		return -999;
	why[0] = '\0';
	return fetch_verify_head(&k, head, len, why, 300);
}

int main(void)
{
	char why[300];
	const char *module = "MODULE windows x86_64 3844DBB920174967BE7AA4A2C20430FA2 xul.pdb\nFILE 0 a.c\n";
	const char *other = "MODULE windows x86_64 0044DBB920174967BE7AA4A2C20430FA2 xul.pdb\n";
	const char *pdb = "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0";
	is_int(verdict("xul.pdb", "xul.sym", module, strlen(module), why), 0, "a .sym with the key's MODULE line");
	is_str(why, "", "... and no reason");
	is_int(verdict("xul.pdb", "xul.sym", other, strlen(other), why), -EINVAL, "a .sym of another id");
	ok(strstr(why, "identity mismatch") != NULL, "... says why (%s)", why);
	is_int(verdict("xul.pdb", "xul.sym", module, 20, why), -EAGAIN, "a MODULE line not finished yet: not judged");
	is_int(verdict("xul.pdb", "xul.sym", "MOD", 3, why), -EAGAIN, "three bytes: not judged");
	is_int(verdict("xul.pdb", "xul.sym", pdb, 30, why), -EINVAL, "a PDB where a .sym belongs");
	ok(strstr(why, "MODULE") != NULL, "... says why (%s)", why);
	is_int(verdict("xul.pdb", "xul.sym", "MSCF\0\0\0\0", 8, why), -EAGAIN, "a cabinet: judged by what it holds");
	is_int(verdict("xul.pdb", "xul.pdb", pdb, 30, why), -EAGAIN, "a PDB where a PDB belongs: needs all of it");
	is_int(verdict("xul.pdb", "xul.pdb", module, strlen(module), why), -EINVAL, "Breakpad where a PDB belongs");
	ok(strstr(why, "Breakpad") != NULL, "... says why (%s)", why);
	is_int(verdict("xul.pdb", "xul.pdb", "MODU", 4, why), -EAGAIN, "the start of MODULE: not judged yet");
	const char *bad = "MODULE windows x86_64 not-an-id xul.pdb\n";
	is_int(verdict("xul.pdb", "xul.sym", bad, strlen(bad), why), -EINVAL, "a MODULE line with no id in it");
	return tap_done();
}
