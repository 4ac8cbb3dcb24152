/* codeids: a module's code file by its debug id — an ELF's build-id only
 * when it gives that debug id, a PE's image only when its code id is a
 * timestamp and image size; the two never answer for each other; what a
 * stored file taught is never replaced. */
#include "fetch/codeids.h"

#include "admin/catalog.h"
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUILD_ID "b7e3c9d2a1f0e4d5c6b7a8f9e0d1c2b3a4f5e6d7"
#define ELF_ID "D2C9E3B7F0A1D5E4C6B7A8F9E0D1C2B30" /* BUILD_ID's first 16 bytes as a GUID, age 0 */
#define PDB_ID "7A5C66380770FD224C4C44205044422E1"

/* A pairing a stored file taught is kept: a record (a crash report: anyone's
 * word) cannot replace it, nor another file; a record's own can be. */
static void test_verified_kept(void)
{
	struct codeids *c;
	struct sym_key image;
	struct code_ref other = {PDB_ID, "evil.dll", "11111111A000"}, first = {PDB_ID, "first.dll", "22222222B000"};
	is_int(codeids_open(&c, NULL), 0, "opens");
	codeids_learn_many(c, &first, 1);
	codeids_learn_many(c, &other, 1);
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_file, "evil.dll") == 0,
	   "a record's pairing is replaced by a later record's");
	codeids_learn(c, PDB_ID, "beside.dll", "A97E8D0E5000");
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_file, "beside.dll") == 0,
	   "a stored PE replaces what records said");
	codeids_learn_many(c, &other, 1);
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_file, "beside.dll") == 0,
	   "a record cannot replace what a stored PE taught");
	codeids_learn(c, PDB_ID, "second.dll", "33333333C000");
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_file, "beside.dll") == 0,
	   "nor can another stored file");
	codeids_close(c);
}

/* More pairs than memory keeps: every one still answers (from the
 * catalog), a stored file's stays verified when it was forgotten from
 * memory, and a new start reads nothing until asked. */
static void test_more_than_cached(struct catalog *cat)
{
	enum { N = CODEIDS_CACHED + 500 };
	struct codeids *c;
	struct sym_key image;
	static char ids[N][40], codes[N][20];
	static struct code_ref refs[N];
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof ids[i], "%032X1", i + 1);
		snprintf(codes[i], sizeof codes[i], "%08X%x", 0x10000000 + i, 0x1000);
		refs[i] = (struct code_ref){ids[i], "many.dll", codes[i]};
	}
	is_int(codeids_open(&c, cat), 0, "opens");
	codeids_learn(c, ids[0], "stored.dll", "55555555E000");
	codeids_learn_many(c, refs + 1, N - 1);
	ok(codeids_image(c, ids[1], &image) == 1 && strcmp(image.debug_id, codes[1]) == 0,
	   "the first of %d is still known (from the catalog)", N);
	ok(codeids_image(c, ids[N - 1], &image) == 1 && strcmp(image.debug_id, codes[N - 1]) == 0, "and the last");
	codeids_learn_many(c, refs, 1);
	ok(codeids_image(c, ids[0], &image) == 1 && strcmp(image.debug_file, "stored.dll") == 0,
	   "a stored file's pairing, forgotten from memory, is still not replaced by a record");
	codeids_close(c);
	is_int(codeids_open(&c, cat), 0, "opens again");
	int all = 1;
	for (int i = 1; i < N && all; i += 97)
		all = codeids_image(c, ids[i], &image) == 1 && strcmp(image.debug_id, codes[i]) == 0;
	ok(all, "after a new start every pair answers when asked");
	codeids_close(c);
}

/* Learned many at once, kept in the catalog: a new start knows them. */
static void test_catalog(void)
{
	char dir[] = "/tmp/test_codeids.XXXXXX", path[64], err[200] = "", bid[KEY_BUILD_ID_MAX + 1] = "";
	struct catalog *cat;
	struct codeids *c;
	struct sym_key image;
	if (!ok(mkdtemp(dir) != NULL, "a directory for the catalog"))
		return;
	snprintf(path, sizeof path, "%s/catalog.db", dir);
	if (!is_int(catalog_open(&cat, path, err, sizeof err), 0, "catalog_open (%s)", err))
		return;
	struct code_ref refs[] = {{ELF_ID, "prog", BUILD_ID}, {PDB_ID, "beside.dll", "A97E8D0E5000"},
				  {"not-an-id", "x.dll", "A97E8D0E5000"}};
	is_int(codeids_open(&c, cat), 0, "opens with a catalog");
	codeids_learn_many(c, refs, 3);
	codeids_close(c);
	is_int(codeids_open(&c, cat), 0, "opens again");
	ok(codeids_build_id(c, ELF_ID, bid) == 1 && strcmp(bid, BUILD_ID) == 0, "learned in a batch: the ELF's build-id");
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_id, "A97E8D0E5000") == 0,
	   "and the PDB's image, from the catalog");
	ok(codeids_image(c, "not-an-id", &image) == 0, "the bad one of the batch is not kept");
	codeids_learn(c, PDB_ID, "stored.dll", "44444444D000");
	codeids_close(c);
	is_int(codeids_open(&c, cat), 0, "opens once more");
	codeids_learn_many(c, refs, 2);
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_file, "stored.dll") == 0,
	   "a stored file's pairing stays verified across a restart: records do not replace it");
	codeids_close(c);
	test_more_than_cached(cat);
	catalog_close(cat);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	struct codeids *c;
	char bid[KEY_BUILD_ID_MAX + 1] = "";
	struct sym_key image;
	is_int(codeids_open(&c, NULL), 0, "opens without a catalog");

	codeids_learn(c, ELF_ID, "prog", BUILD_ID);
	ok(codeids_build_id(c, ELF_ID, bid) == 1 && strcmp(bid, BUILD_ID) == 0, "an ELF's build-id, learned");
	ok(codeids_build_id(c, "d2c9e3b7f0a1d5e4c6b7a8f9e0d1c2b30", bid) == 1, "found by the id in any case");
	ok(codeids_image(c, ELF_ID, &image) == 0, "an ELF has no PE image");
	codeids_learn(c, "00000000000000000000000000000000" "0", "prog", BUILD_ID);
	ok(codeids_build_id(c, "000000000000000000000000000000000", bid) == 0,
	   "a build-id that does not give the debug id is not believed");

	codeids_learn(c, PDB_ID, "beside.dll", "A97E8D0E5000");
	ok(codeids_image(c, PDB_ID, &image) == 1, "a PDB's PE image, learned");
	is_str(image.debug_file, "beside.dll", "its file");
	is_str(image.debug_id, "A97E8D0E5000", "its code id");
	is_str(image.file, "beside.dll", "the key names the image itself");
	ok(codeids_build_id(c, PDB_ID, bid) == 0, "and no build-id");
	codeids_learn(c, PDB_ID, "beside.dll", "A97E8D0E50001234567");
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_id, "A97E8D0E5000") == 0,
	   "a code id too long to be a PE's is not believed: the first stays");
	codeids_learn(c, PDB_ID, "bad/name", "A97E8D0E5000");
	ok(codeids_image(c, PDB_ID, &image) == 1 && strcmp(image.debug_file, "beside.dll") == 0,
	   "nor a code file that cannot be a name");
	codeids_learn(c, "not-an-id", "x.dll", "A97E8D0E5000");
	ok(codeids_image(c, "not-an-id", &image) == 0, "nor a debug id that is none");
	ok(codeids_image(c, "11111111111111111111111111111111" "1", &image) == 0, "unknown: 0");
	codeids_close(c);
	test_verified_kept();
	test_catalog();
	return tap_done();
}
