/* identify_prefix: judging a download from its first bytes. Every prefix of
 * the right file is "not yet" or "yes", never "no"; a file of another build
 * is "no" as soon as its id is in the prefix; what lies past the bound
 * (lld-link's PDB directory) stops the judging; hostile headers are never
 * read outside the prefix (ASan), and whatever a prefix refuses, the whole
 * file fails identify too (mutated images). */
#include "convert/identify.h"

#include "tests/unit/images.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char err[256];
static uint64_t need;

/* The judgement of the first n bytes, in an allocation of exactly n bytes
 * (an overread is ASan's). */
static int judge(const uint8_t *img, size_t n, uint64_t total, const struct identify_want *w)
{
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, img, n);
	int rc = identify_prefix(copy, n, total, w, &need, err, sizeof err);
	free(copy);
	return rc;
}

/* Judges every prefix of the right file: how many were refused, said "not
 * yet" without asking for more, or were undecided after a shorter one was
 * decided; *decided is the first length answered 0 (len + 1 if none). */
static int refused_prefixes(const uint8_t *img, size_t len, uint64_t total, const struct identify_want *w,
			    size_t *decided)
{
	int bad = 0;
	*decided = len + 1;
	for (size_t n = 0; n <= len; n++) {
		int rc = judge(img, n, total, w);
		int wrong = rc == -EAGAIN ? need <= n || *decided <= len : rc != 0;
		if (rc == 0 && *decided > len)
			*decided = n;
		if (wrong && !bad++)
			printf("# prefix %zu/%zu: %d (need %llu) %s\n", n, len, rc, (unsigned long long)need, err);
	}
	return bad;
}

/* The first length at which a prefix is refused (0 if none is). */
static size_t refused_at(const uint8_t *img, size_t len, uint64_t total, const struct identify_want *w)
{
	for (size_t n = 0; n <= len; n++)
		if (judge(img, n, total, w) == -EINVAL)
			return n;
	return 0;
}

/* ---- PDB ------------------------------------------------------------------------ */

static void test_pdb(void)
{
	struct pdb_layout l;
	struct pdb_spec s = {.block_size = 512, .age = 2, .dbi_age = 3, .filler_blocks = 2};
	uint8_t *img = build_pdb(&s, &l);
	struct identify_want w = {SYM_FMT_PDB, TEST_GUID_HEX "2", NULL};
	size_t at;
	is_int(refused_prefixes(img, l.len, 0, &w, &at), 0, "pdb: no prefix of the right file refused");
	is_int(at, l.info_off + 512, "pdb: decided once the info stream's block is in");
	is_int(refused_prefixes(img, l.len, l.len, &w, &at), 0, "pdb: nor with its size known");
	w.debug_id = TEST_GUID_HEX "3";
	is_int(refused_prefixes(img, l.len, l.len, &w, &at), 0, "pdb: the DBI stream's age is the file's too");
	w.debug_id = "0044DBB920174967BE7AA4A2C20430FA2";
	is_int(refused_at(img, l.len, 0, &w), l.info_off + 512, "pdb of another GUID: refused with its info stream");
	ok(strstr(err, "identity mismatch") != NULL, "... says why (%s)", err);
	w.debug_id = TEST_GUID_HEX "4";
	is_int(refused_at(img, l.len, 0, &w), l.info_off + 1024, "pdb of another age: refused with its DBI stream");
	w.debug_id = TEST_GUID_HEX "2";
	is_int(judge(img, l.len, l.len + 4096, &w), 0, "pdb: a file longer than its blocks is what identify reads");
	is_int(judge(img, 56, l.len - 1, &w), -EINVAL, "pdb: fewer bytes than its blocks declare: refused at once");
	ok(strstr(err, "truncated PDB") != NULL, "... says why (%s)", err);
	is_int(judge(img, 30, 0, &w), -EAGAIN, "pdb: the magic alone: not yet");
	is_int(need, 56, "... the superblock is needed");
	put32(img + 32, 300);
	is_int(judge(img, 56, 0, &w), -EINVAL, "pdb: block size 300 refused (%s)", err);
	put32(img + 32, 512);
	put32(img + 3 * 512, 9999);
	is_int(judge(img, 4 * 512, 0, &w), -EINVAL, "pdb: directory block out of range refused (%s)", err);
	put32(img + 3 * 512, 4);
	put32(img + 52, 9999);
	is_int(judge(img, 56, 0, &w), -EINVAL, "pdb: block map out of range refused (%s)", err);
	free(img);

	static const char msf2[] = "Microsoft C/C++ program database 2.00\r\n\x1a" "JG\0\0\0\0\0\0";
	is_int(judge((const uint8_t *)msf2, sizeof msf2, 0, &w), -EINVAL, "pdb: MSF 2.0 refused (%s)", err);
	is_int(judge((const uint8_t *)"Microsoft C/C++ MSF 6", 21, 0, &w), -EINVAL, "pdb: another magic refused (%s)",
	       err);
}

/* As lld-link writes them, a PDB's directory and info stream are its last
 * blocks: past the bound, only the superblock and block map are judged. */
static void test_pdb_lld(void)
{
	struct pdb_layout l;
	struct pdb_spec s = {.block_size = 4096, .age = 1, .dbi_age = 1, .filler_blocks = 300, .lld_layout = 1};
	uint8_t *img = build_pdb(&s, &l);
	struct identify_want w = {SYM_FMT_PDB, "0044DBB920174967BE7AA4A2C20430FA1", NULL};
	ok(l.len > IDENTIFY_PREFIX_MAX && l.dir_off > IDENTIFY_PREFIX_MAX, "lld layout: %zu bytes, directory at %zu",
	   l.len, l.dir_off);
	is_int(judge(img, 64 * 1024, 0, &w), 0, "lld layout, another GUID: cannot be told early, judging stops");
	is_int(need, 0, "... and asks for nothing more");
	is_int(judge(img, 64 * 1024, l.len, &w), 0, "... nor with its size known");
	is_int(judge(img, 3 * 4096 + 2, l.len, &w), -EAGAIN, "... but not before the block map is in");
	is_int(need, 3 * 4096 + 4, "... which it asks for");
	is_int(judge(img, 64 * 1024, l.len - 4096, &w), -EINVAL, "lld layout: a size short of its blocks refused");
	put32(img + 3 * 4096, (uint32_t)(l.len / 4096));
	is_int(judge(img, 64 * 1024, 0, &w), -EINVAL, "lld layout: directory block past the last refused (%s)", err);
	free(img);

	s = (struct pdb_spec){.block_size = 512, .age = 1, .dbi_age = 1, .filler_blocks = 2, .lld_layout = 1};
	img = build_pdb(&s, &l);
	is_int(refused_at(img, l.len, 0, &w), l.len, "lld layout, small: refused once the last block is in");
	w.debug_id = TEST_GUID_HEX "1";
	size_t at;
	is_int(refused_prefixes(img, l.len, l.len, &w, &at), 0, "lld layout, small, right file: never refused");
	is_int(at, l.len, "... decided by the last block");
	free(img);
}

/* ---- PE ------------------------------------------------------------------------- */

static void test_pe(void)
{
	size_t len, at;
	uint8_t *img = build_pe(0, 0x5B3F5E6A, 0x1a6000, &len);
	struct identify_want w = {SYM_FMT_PE, "5B3F5E6A1a6000", NULL};
	is_int(refused_prefixes(img, len, 0, &w, &at), 0, "pe: no prefix of the right file refused");
	is_int(at, PE_LFANEW + 24 + 64, "pe: decided by the optional header's first 64 bytes");
	w.debug_id = "5B3F5E6B1a6000";
	is_int(refused_at(img, len, 0, &w), PE_LFANEW + 24 + 64, "pe of another build: refused with its headers");
	ok(strstr(err, "content is 5B3F5E6A1a6000") != NULL, "... says why (%s)", err);
	w.format = SYM_FMT_UNKNOWN;
	is_int(judge(img, len, 0, &w), -EINVAL, "pe of another build where any debug file will do: refused");
	w.format = SYM_FMT_PDB;
	is_int(judge(img, 2, 0, &w), -EINVAL, "pe where a PDB is wanted: refused by its magic");
	is_str(err, "PE image where a PDB was asked for", "... says so");
	w = (struct identify_want){SYM_FMT_PE, "5B3F5E6A1a6000", NULL};
	put32(img + 0x3c, 0xFFFFFFF0);
	is_int(judge(img, len, 0, &w), 0, "pe: e_lfanew past the bound, size unknown: judging stops");
	is_int(judge(img, len, len, &w), -EINVAL, "pe: e_lfanew past the file's size: refused (%s)", err);
	put32(img + 0x3c, 200);
	is_int(judge(img, 100, 0, &w), -EAGAIN, "pe: headers not in yet");
	is_int(need, 224, "... needs them");
	put32(img + 0x3c, PE_LFANEW);
	put32(img + PE_LFANEW, 0x12345678);
	is_int(judge(img, len, 0, &w), -EINVAL, "pe: MZ without a PE header refused (%s)", err);
	put32(img + PE_LFANEW, 0x4550);
	put16(img + PE_LFANEW + 24, 0x107);
	is_int(judge(img, len, 0, &w), -EINVAL, "pe: unknown optional header magic refused (%s)", err);
	put16(img + PE_LFANEW + 24, 0x10b);
	put16(img + PE_LFANEW + 20, 10);
	is_int(judge(img, len, 0, &w), -EINVAL, "pe: optional header too small refused (%s)", err);
	free(img);
}

/* ---- ELF ------------------------------------------------------------------------- */

/* A 32-bit big-endian ELF: header, one PT_NOTE program header, the note. */
static uint8_t *build_elf32be(const uint8_t *bid, uint32_t n, size_t *len)
{
	size_t note = 52 + 32, total = note + 16 + ((n + 3) & ~3u);
	uint8_t *img = calloc(1, total);
	memcpy(img, "\x7f" "ELF\x01\x02\x01", 7);
	img[17] = 3;	     /* e_type ET_DYN, big-endian */
	put32be(img + 28, 52); /* e_phoff */
	img[43] = 32;	     /* e_phentsize */
	img[45] = 1;	     /* e_phnum */
	uint8_t *ph = img + 52;
	put32be(ph, 4); /* PT_NOTE */
	put32be(ph + 4, (uint32_t)note);
	put32be(ph + 16, (uint32_t)(total - note));
	put32be(ph + 28, 4);
	put32be(img + note, 4);
	put32be(img + note + 4, n);
	put32be(img + note + 8, 3);
	memcpy(img + note + 12, "GNU", 4);
	memcpy(img + note + 16, bid, n);
	*len = total;
	return img;
}

#define BID_HEX "b23c4d5e6f708192a3b4c5d6e7f8091a11223344"
#define BID_DEBUG_ID "5E4D3CB2706F9281A3B4C5D6E7F8091A0"

static void test_elf(void)
{
	size_t len, at;
	struct elf_spec s = {TEST_BUILD_ID, 20, 0, 1};
	uint8_t *img = build_elf(&s, &len);
	struct identify_want w = {SYM_FMT_ELF, NULL, BID_HEX};
	is_int(refused_prefixes(img, len, 0, &w, &at), 0, "elf: no prefix of the right file refused");
	is_int(at, len, "elf: decided once its note is in");
	w.build_id = "b23c4d5e6f708192a3b4c5d6e7f8091a11223345";
	is_int(refused_at(img, len, 0, &w), len, "elf of another build-id: refused with its note");
	ok(strstr(err, "build-id mismatch") != NULL, "... says why (%s)", err);
	w = (struct identify_want){SYM_FMT_UNKNOWN, BID_DEBUG_ID, NULL};
	is_int(judge(img, len, 0, &w), 0, "elf asked for by its Breakpad id: the id its build-id gives");
	w.debug_id = "5E4D3CB2706F9281A3B4C5D6E7F8091B0";
	is_int(judge(img, len, 0, &w), -EINVAL, "elf asked for by another Breakpad id: refused (%s)", err);
	w = (struct identify_want){SYM_FMT_PE, NULL, NULL};
	is_int(judge(img, 4, 0, &w), -EINVAL, "elf where a PE is wanted: refused by its magic (%s)", err);

	w = (struct identify_want){SYM_FMT_ELF, NULL, "00"};
	put64(img + 32, 0xFFFFFFFFFFFFFF00ull); /* e_phoff */
	is_int(judge(img, len, 0, &w), 0, "elf: program headers past the bound, size unknown: judging stops");
	is_int(judge(img, len, len, &w), -EINVAL, "elf: program headers past the file refused (%s)", err);
	put64(img + 32, 64);
	put64(img + 64 + 8, 0xFFFFFFFFFFFFFFF0ull); /* p_offset */
	is_int(judge(img, len, 0, &w), 0, "elf: note past the bound: judging stops");
	is_int(judge(img, len, len, &w), -EINVAL, "elf: note past the file refused (%s)", err);
	put64(img + 64 + 8, 120);
	put32(img + 120, 0xFFFFFFF0); /* namesz */
	is_int(judge(img, len, 0, &w), 0, "elf: a note's absurd name size: no build-id read, judging stops");
	free(img);

	s = (struct elf_spec){TEST_BUILD_ID, 20, 64, 0};
	img = build_elf(&s, &len);
	w.build_id = "00";
	is_int(judge(img, len, 0, &w), 0, "elf without program headers (notes only in sections): left to the end");
	free(img);

	uint8_t long_id[65];
	memset(long_id, 0xab, sizeof long_id);
	s = (struct elf_spec){long_id, sizeof long_id, 0, 1};
	img = build_elf(&s, &len);
	is_int(judge(img, len, 0, &w), -EINVAL, "elf: over-long build-id refused (%s)", err);
	free(img);

	img = build_elf32be(TEST_BUILD_ID, 20, &len);
	w = (struct identify_want){SYM_FMT_ELF, NULL, BID_HEX};
	is_int(refused_prefixes(img, len, len, &w, &at), 0, "elf32 big-endian: no prefix refused");
	w.build_id = "b23c4d5e6f708192a3b4c5d6e7f8091a11223345";
	is_int(refused_at(img, len, 0, &w), len, "elf32 big-endian of another build-id: refused");
	free(img);
}

/* ---- everything else -------------------------------------------------------------- */

static void test_other(void)
{
	struct identify_want pdb = {SYM_FMT_PDB, TEST_GUID_HEX "1", NULL};
	struct identify_want any = {SYM_FMT_UNKNOWN, TEST_GUID_HEX "1", NULL};
	const char *html = "<!DOCTYPE html><html><body>Not Found</body></html>";
	is_int(judge((const uint8_t *)html, strlen(html), 0, &pdb), -EINVAL, "HTML where a PDB belongs: refused");
	is_str(err, "HTML page where a PDB was asked for", "... says what it is");
	is_int(judge((const uint8_t *)"<", 1, 0, &pdb), -EINVAL, "... from its first byte");
	is_int(judge((const uint8_t *)"{\"error\": 1}", 12, 0, &any), -EINVAL, "JSON where a debug file belongs (%s)",
	       err);
	is_int(judge((const uint8_t *)"<?xml version=\"1.0\"?><Error>", 28, 0, &pdb), -EINVAL, "an XML error (%s)",
	       err);
	is_int(judge((const uint8_t *)"\x1f\x8b\x08\x00", 4, 0, &pdb), -EINVAL, "gzip data (%s)", err);
	is_int(judge((const uint8_t *)"MODULE windows x86 ", 19, 0, &any), -EINVAL,
	       "Breakpad where a debug file belongs");
	is_str(err, "Breakpad symbols where a debug file was asked for", "... says so");
	is_int(judge((const uint8_t *)"", 0, 0, &pdb), -EAGAIN, "nothing yet: not judged");
	is_int(need, 1, "... one byte is needed");
	is_int(judge((const uint8_t *)"Micro", 5, 0, &pdb), -EAGAIN, "the start of a PDB's magic: not judged");
	is_int(judge((const uint8_t *)"Micro", 5, 5, &pdb), -EINVAL, "... unless that is the whole file");
	is_int(judge((const uint8_t *)"\x7f" "EL", 3, 0, &pdb), -EAGAIN, "the start of an ELF's magic: not judged");
	is_int(judge((const uint8_t *)"\x7f" "ELF", 4, 0, &pdb), -EINVAL, "an ELF where a PDB belongs (%s)", err);
	size_t len;
	uint8_t *macho = build_macho(1, 0, &len);
	is_int(judge(macho, 4, 0, &any), 0, "a Mach-O: judged by its magic only");
	free(macho);
}

/* ---- mutations: never refuse what identify would accept ---------------------------- */

/* 1 if the whole image is the wanted file, as the final verify sees it. */
static int accepted_whole(const uint8_t *img, size_t len, const struct identify_want *w)
{
	struct sym_identity id;
	char e[256];
	if (identify_buffer(img, len, &id, e, sizeof e) < 0 || id.format != w->format)
		return 0;
	return w->build_id ? strcmp(id.code_id, w->build_id) == 0 : identify_matches(&id, w->debug_id);
}

/* Random byte changes; every 61st prefix (and the whole) judged with the
 * size known and not. How many prefixes refused an image identify accepts. */
static int wrongly_refused(const uint8_t *image, size_t len, const struct identify_want *w, int rounds)
{
	uint32_t seed = 4242;
	int bad = 0, kept = 0;
	for (int r = 0; r < rounds; r++) {
		uint8_t *copy = malloc(len);
		memcpy(copy, image, len);
		for (int k = 0; k < 1 + r % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % (len < 4096 ? len : 4096); /* the headers */
			seed = seed * 1103515245u + 12345u;
			copy[at] = (r & 1) ? (uint8_t)(seed >> 16) : (uint8_t)(copy[at] ^ (1u << (seed >> 29)));
		}
		int accepted = accepted_whole(copy, len, w);
		kept += accepted;
		for (size_t n = 0; n <= len && accepted; n = n == len ? len + 1 : (n + 61 < len ? n + 61 : len)) {
			if (judge(copy, n, len, w) == -EINVAL || judge(copy, n, 0, w) == -EINVAL) {
				printf("# round %d: prefix %zu/%zu refused an accepted image: %s\n", r, n, len, err);
				bad++;
				break;
			}
		}
		free(copy);
	}
	printf("# %d of %d mutated images still the wanted file\n", kept, rounds);
	return bad;
}

static void test_mutations(void)
{
	struct pdb_layout l;
	struct pdb_spec ps = {.block_size = 512, .age = 1, .dbi_age = 2, .filler_blocks = 2};
	uint8_t *img = build_pdb(&ps, &l);
	struct identify_want w = {SYM_FMT_PDB, TEST_GUID_HEX "2", NULL};
	is_int(wrongly_refused(img, l.len, &w, 1500), 0, "mutations: pdb");
	free(img);
	size_t len;
	img = build_pe(1, 1, 0x1000, &len);
	w = (struct identify_want){SYM_FMT_PE, "000000011000", NULL};
	is_int(wrongly_refused(img, len, &w, 1500), 0, "mutations: pe");
	free(img);
	struct elf_spec es = {TEST_BUILD_ID, 20, 0, 1};
	img = build_elf(&es, &len);
	w = (struct identify_want){SYM_FMT_ELF, NULL, BID_HEX};
	is_int(wrongly_refused(img, len, &w, 1500), 0, "mutations: elf with a PT_NOTE");
	free(img);
}

int main(void)
{
	test_pdb();
	test_pdb_lld();
	test_pe();
	test_elf();
	test_other();
	test_mutations();
	return tap_done();
}
