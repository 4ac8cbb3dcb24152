/* identify: every format's id from images assembled here in memory, every
 * truncation of them, corrupt MSF directories, what unknown content looks
 * like, and the fixture generator tests/fixtures/mksym.py read back. */
#include "convert/identify.h"

#include "tests/unit/files.h"
#include "tests/unit/images.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err[256];
static struct sym_identity id;

static int identify(const void *data, size_t len)
{
	return identify_buffer(data, len, &id, err, sizeof err);
}

/* Every proper prefix of an image must be refused (and, under ASan, read
 * nothing outside it). Each prefix gets its own allocation so an overread
 * is caught. Returns how many prefixes were wrongly accepted. */
static int accepted_prefixes(const uint8_t *image, size_t len)
{
	int bad = 0;
	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, image, n);
		if (identify(copy, n) == 0) {
			if (!bad)
				printf("# prefix of %zu/%zu bytes accepted as %s\n", n, len, id.debug_id);
			bad++;
		}
		free(copy);
	}
	return bad;
}

/* ---- PDB --------------------------------------------------------------------- */

static void test_pdb_ids(void)
{
	struct pdb_layout l;
	struct pdb_spec s = {.block_size = 4096, .age = 2, .dbi_age = 2};
	uint8_t *img = build_pdb(&s, &l);
	is_int(identify(img, l.len), 0, "pdb: identified (%s)", err);
	is_int(id.format, SYM_FMT_PDB, "pdb: format");
	is_str(sym_format_name(id.format), "pdb", "pdb: format name");
	is_str(id.debug_id, TEST_GUID_HEX "2", "pdb: debug id is GUID + info age");
	is_str(id.alt_id, "", "pdb: no alt id when DBI age agrees");
	is_str(id.code_id, "", "pdb: no code id");
	free(img);

	s = (struct pdb_spec){.block_size = 512, .age = 0x1a, .dbi_age = 0x1b, .filler_blocks = 3};
	img = build_pdb(&s, &l);
	is_int(identify(img, l.len), 0, "pdb 512-byte blocks: identified (%s)", err);
	is_str(id.debug_id, TEST_GUID_HEX "1A", "pdb: age in hex, no padding");
	is_str(id.alt_id, TEST_GUID_HEX "1B", "pdb: alt id carries the DBI age");
	ok(identify_matches(&id, TEST_GUID_HEX "1A"), "matches: debug id");
	ok(identify_matches(&id, TEST_GUID_HEX "1b"), "matches: alt id, case-insensitively");
	ok(identify_matches(&id, "3844dbb920174967be7aa4a2c20430fa1a"), "matches: lower-case want");
	ok(!identify_matches(&id, TEST_GUID_HEX "1C"), "matches: another age does not");
	ok(!identify_matches(&id, ""), "matches: empty want does not");
	free(img);

	/* A directory larger than one block: its blocks come from the block map. */
	s = (struct pdb_spec){.block_size = 512, .age = 1, .dbi_age = 1, .filler_blocks = 200};
	img = build_pdb(&s, &l);
	is_int(identify(img, l.len), 0, "pdb: multi-block directory (%s)", err);
	is_str(id.debug_id, TEST_GUID_HEX "1", "pdb: multi-block directory id");
	free(img);

	s = (struct pdb_spec){.block_size = 1024, .age = 7, .without_dbi = 1};
	img = build_pdb(&s, &l);
	is_int(identify(img, l.len), 0, "pdb without DBI stream (%s)", err);
	is_str(id.debug_id, TEST_GUID_HEX "7", "pdb without DBI: id");
	is_str(id.alt_id, "", "pdb without DBI: no alt id");
	free(img);
}

static void test_pdb_truncations(void)
{
	struct pdb_layout l;
	struct pdb_spec s = {.block_size = 512, .age = 3, .dbi_age = 4, .filler_blocks = 2};
	uint8_t *img = build_pdb(&s, &l);
	is_int(accepted_prefixes(img, l.len), 0, "pdb: every truncation refused");
	identify(img, 100);
	is_int(id.format, SYM_FMT_PDB, "pdb truncated: still named a PDB");
	is_str(id.debug_id, "", "pdb truncated: no id left behind");
	free(img);
}

/* Applies `corrupt` to a fresh image and expects -EINVAL. */
static void expect_corrupt_pdb(const char *what, void (*corrupt)(uint8_t *img, const struct pdb_layout *l))
{
	struct pdb_layout l;
	struct pdb_spec s = {.block_size = 512, .age = 1, .dbi_age = 1, .filler_blocks = 2};
	uint8_t *img = build_pdb(&s, &l);
	corrupt(img, &l);
	int rc = identify(img, l.len);
	is_int(rc, -EINVAL, "pdb corrupt: %s (%s)", what, err);
	free(img);
}

static uint8_t *stream_size_at(uint8_t *img, const struct pdb_layout *l, int stream)
{
	return img + l->dir_off + 4 + 4 * stream;
}

static uint8_t *block_list_at(uint8_t *img, const struct pdb_layout *l)
{
	return img + l->dir_off + 4 + 4 * l->num_streams;
}

static void bad_block_size(uint8_t *img, const struct pdb_layout *l)
{
	(void)l;
	put32(img + 32, 300);
}

static void too_many_blocks(uint8_t *img, const struct pdb_layout *l)
{
	(void)l;
	put32(img + 40, 0xFFFFFFFF);
}

static void huge_directory(uint8_t *img, const struct pdb_layout *l)
{
	(void)l;
	put32(img + 44, 0xFFFFFFF0);
}

static void empty_directory(uint8_t *img, const struct pdb_layout *l)
{
	(void)l;
	put32(img + 44, 0);
}

static void block_map_outside(uint8_t *img, const struct pdb_layout *l)
{
	(void)l;
	put32(img + 52, 0x7FFFFFFF);
}

static void directory_block_outside(uint8_t *img, const struct pdb_layout *l)
{
	(void)l;
	put32(img + 3 * 512, 0xFFFFFF00);
}

static void absurd_stream_count(uint8_t *img, const struct pdb_layout *l)
{
	put32(img + l->dir_off, 0xFFFFFFFF);
}

static void absurd_stream_size(uint8_t *img, const struct pdb_layout *l)
{
	put32(stream_size_at(img, l, 5), 0x7FFFFFFF);
}

static void info_block_outside(uint8_t *img, const struct pdb_layout *l)
{
	put32(block_list_at(img, l), 0x00FFFFFF);
}

static void filler_block_outside(uint8_t *img, const struct pdb_layout *l)
{
	put32(block_list_at(img, l) + 4 * 3, 0xFFFFFFFF);
}

static void info_stream_nil(uint8_t *img, const struct pdb_layout *l)
{
	put32(stream_size_at(img, l, 1), 0xFFFFFFFF);
}

static void info_stream_short(uint8_t *img, const struct pdb_layout *l)
{
	put32(stream_size_at(img, l, 1), 27);
}

static void too_few_streams(uint8_t *img, const struct pdb_layout *l)
{
	put32(img + l->dir_off, 1); /* stream 1 (info) no longer exists */
}

static void test_pdb_corruptions(void)
{
	expect_corrupt_pdb("block size 300", bad_block_size);
	expect_corrupt_pdb("num_blocks beyond the file", too_many_blocks);
	expect_corrupt_pdb("directory size absurd", huge_directory);
	expect_corrupt_pdb("directory size 0", empty_directory);
	expect_corrupt_pdb("block map index outside the file", block_map_outside);
	expect_corrupt_pdb("directory block outside the file", directory_block_outside);
	expect_corrupt_pdb("stream count absurd", absurd_stream_count);
	expect_corrupt_pdb("stream size absurd", absurd_stream_size);
	expect_corrupt_pdb("info stream block outside the file", info_block_outside);
	expect_corrupt_pdb("another stream's block outside the file", filler_block_outside);
	expect_corrupt_pdb("info stream nil", info_stream_nil);
	expect_corrupt_pdb("info stream too short", info_stream_short);
	expect_corrupt_pdb("info stream index beyond stream count", too_few_streams);

	struct pdb_layout l;
	struct pdb_spec s = {.block_size = 512, .age = 5, .dbi_age = 6};
	uint8_t *img = build_pdb(&s, &l);
	put32(img + 6 * 512, 0x12345678); /* DBI block: not the -1 signature */
	is_int(identify(img, l.len), 0, "pdb: DBI without its signature is ignored");
	is_str(id.alt_id, "", "pdb: ... and gives no alt id");
	free(img);

	static const char msf2[] = "Microsoft C/C++ program database 2.00\r\n\x1a" "JG\0\0\0\0\0\0\0\0\0\0\0\0";
	is_int(identify(msf2, sizeof msf2), -ENOTSUP, "pdb: MSF 2.0 refused");
	is_str(err, "MSF 2.0 PDB not supported", "pdb: MSF 2.0 reason");
	is_int(id.format, SYM_FMT_UNKNOWN, "pdb: MSF 2.0 format unknown");
}

/* ---- PE ------------------------------------------------------------------------ */

static void test_pe(void)
{
	size_t len;
	uint8_t *img = build_pe(0, 0x5B3F5E6A, 0x1a6000, &len);
	is_int(identify(img, len), 0, "pe32: identified (%s)", err);
	is_int(id.format, SYM_FMT_PE, "pe32: format");
	is_str(id.debug_id, "5B3F5E6A1a6000", "pe32: debug id %%08X%%x");
	is_str(id.code_id, "5B3F5E6A1a6000", "pe32: code id the same");
	is_int(accepted_prefixes(img, len), 0, "pe32: every truncation refused");
	put32(img + PE_LFANEW, 0);
	is_int(identify(img, len), -EINVAL, "pe: MZ without PE signature (%s)", err);
	put32(img + PE_LFANEW, 0x4550);
	put32(img + 0x3c, 0xFFFFFFF0);
	is_int(identify(img, len), -EINVAL, "pe: e_lfanew outside the file (%s)", err);
	free(img);

	img = build_pe(1, 0x0000ABCD, 0x2000, &len);
	is_int(identify(img, len), 0, "pe32+: identified (%s)", err);
	is_str(id.debug_id, "0000ABCD2000", "pe32+: zero-padded timestamp");
	is_int(accepted_prefixes(img, len), 0, "pe32+: every truncation (incl. certificates) refused");
	put16(img + PE_LFANEW + 24, 0x107);
	is_int(identify(img, len), -EINVAL, "pe: unknown optional header magic (%s)", err);
	put16(img + PE_LFANEW + 24, 0x20b);
	put16(img + PE_LFANEW + 6, 0xFFFF);
	is_int(identify(img, len), -EINVAL, "pe: absurd section count (%s)", err);
	put16(img + PE_LFANEW + 6, 1);
	put32(img + PE_LFANEW + 24 + 240 + 20, 0xFFFFFF00);
	is_int(identify(img, len), -EINVAL, "pe: section data offset absurd (%s)", err);
	free(img);
}

/* ---- ELF ------------------------------------------------------------------------- */

static void test_elf_build_id(void)
{
	size_t len;
	struct elf_spec s = {TEST_BUILD_ID, 20, 64, 0};
	uint8_t *img = build_elf(&s, &len);
	is_int(identify(img, len), 0, "elf: identified (%s)", err);
	is_int(id.format, SYM_FMT_ELF, "elf: format");
	is_str(id.debug_id, "5E4D3CB2706F9281A3B4C5D6E7F8091A0", "elf: Breakpad id from build-id");
	is_str(id.code_id, "b23c4d5e6f708192a3b4c5d6e7f8091a11223344", "elf: code id is the build-id");
	is_int(accepted_prefixes(img, len), 0, "elf: every truncation refused");
	free(img);

	s = (struct elf_spec){TEST_BUILD_ID, 8, 0, 0};
	img = build_elf(&s, &len);
	is_int(identify(img, len), 0, "elf short build-id: identified (%s)", err);
	is_str(id.debug_id, "5E4D3CB2706F9281" "0000000000000000" "0", "elf short build-id: zero-padded");
	is_str(id.code_id, "b23c4d5e6f708192", "elf short build-id: code id");
	free(img);

	s = (struct elf_spec){TEST_BUILD_ID, 20, 0, 1};
	img = build_elf(&s, &len);
	is_int(identify(img, len), 0, "elf build-id in PT_NOTE only: identified (%s)", err);
	is_str(id.debug_id, "5E4D3CB2706F9281A3B4C5D6E7F8091A0", "elf PT_NOTE: id");
	is_int(accepted_prefixes(img, len), 0, "elf PT_NOTE: every truncation refused");
	free(img);

	/* a program header table that runs past the end: libelf counts none */
	s = (struct elf_spec){TEST_BUILD_ID, 20, 64, 0};
	img = build_elf(&s, &len);
	put64(img + 32, len - 8);
	put16(img + 56, 1);
	is_int(identify(img, len), -EINVAL, "elf: program headers past the end refused (%s)", err);
	free(img);

	/* the longest build-id a .build-id path names (common/key.h): 64 bytes */
	uint8_t long_id[65];
	memset(long_id, 0xab, sizeof long_id);
	s = (struct elf_spec){long_id, 64, 16, 0};
	img = build_elf(&s, &len);
	is_int(identify(img, len), 0, "elf: 64-byte build-id identified (%s)", err);
	is_int(strlen(id.code_id), 128, "elf: its code id is all 128 hex digits");
	free(img);
	s = (struct elf_spec){long_id, sizeof long_id, 16, 0};
	img = build_elf(&s, &len);
	is_int(identify(img, len), -EINVAL, "elf: over-long build-id refused (%s)", err);
	free(img);
}

static void expected_text_hash(size_t text_len, char out[41])
{
	uint8_t h[16] = {0};
	size_t n = text_len < 4096 ? text_len : 4096;
	for (size_t i = 0; i < n; i++)
		h[i % 16] ^= (uint8_t)(i * 37 + (i >> 8));
	snprintf(out, 41, "%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X0", h[3], h[2], h[1],
		 h[0], h[5], h[4], h[7], h[6], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
}

static void test_elf_text_hash(void)
{
	char want[41];
	size_t len;
	struct elf_spec s = {NULL, 0, 100, 0};
	uint8_t *img = build_elf(&s, &len);
	is_int(identify(img, len), 0, "elf without build-id: identified from .text (%s)", err);
	expected_text_hash(100, want);
	is_str(id.debug_id, want, "elf .text hash: id");
	is_int(strlen(id.code_id), 32, "elf .text hash: code id is 16 bytes of hex");
	is_int(accepted_prefixes(img, len), 0, "elf .text hash: every truncation refused");
	free(img);

	s = (struct elf_spec){NULL, 0, 5000, 0};
	img = build_elf(&s, &len);
	is_int(identify(img, len), 0, "elf big .text: identified (%s)", err);
	expected_text_hash(5000, want);
	is_str(id.debug_id, want, "elf big .text: only the first 4096 bytes count");
	free(img);

	s = (struct elf_spec){NULL, 0, 0, 0};
	img = build_elf(&s, &len);
	is_int(identify(img, len), -EINVAL, "elf with neither build-id nor .text refused (%s)", err);
	is_int(id.format, SYM_FMT_ELF, "elf refused: still named ELF");
	free(img);

	s = (struct elf_spec){TEST_BUILD_ID, 20, 64, 0};
	img = build_elf(&s, &len);
	put64(img + 40, 0xFFFFFFFFFFFFFF00ull); /* e_shoff */
	is_int(identify(img, len), -EINVAL, "elf: absurd e_shoff refused (%s)", err);
	free(img);
}

/* ---- Mach-O -------------------------------------------------------------------------- */

static void test_macho(void)
{
	static const int shapes[4][2] = {{1, 0}, {1, 1}, {0, 0}, {0, 1}};
	for (int i = 0; i < 4; i++) {
		size_t len;
		int is64 = shapes[i][0], be = shapes[i][1];
		uint8_t *img = build_macho(is64, be, &len);
		is_int(identify(img, len), 0, "macho %d-bit %s: identified (%s)", is64 ? 64 : 32, be ? "BE" : "LE",
		       err);
		is_int(id.format, SYM_FMT_MACHO, "macho: format");
		is_str(id.debug_id, "0123456789ABCDEFFEDCBA98765432100", "macho: UUID + 0");
		is_int(accepted_prefixes(img, len), 0, "macho: every truncation refused");
		free(img);
	}
	size_t len;
	uint8_t *img = build_macho(1, 0, &len);
	put32(img + 32 + 72, 0x2); /* LC_UUID -> LC_SYMTAB */
	is_int(identify(img, len), -EINVAL, "macho without LC_UUID refused (%s)", err);
	put32(img + 16, 0xFFFFFFFF);
	is_int(identify(img, len), -EINVAL, "macho absurd ncmds refused (%s)", err);
	free(img);

	static const uint8_t fat[8] = {0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2};
	is_int(identify(fat, sizeof fat), -ENOTSUP, "fat Mach-O refused");
	is_str(err, "fat Mach-O", "fat Mach-O named");
}

/* ---- Breakpad ------------------------------------------------------------------------ */

static int identify_str(const char *s)
{
	return identify(s, strlen(s));
}

static void test_breakpad(void)
{
	is_int(identify_str("MODULE windows x86_64 3844dbb920174967be7aa4a2c20430fa2 xul.pdb\r\nFILE 0 a.cpp\n"), 0,
	       "breakpad: identified (%s)", err);
	is_int(id.format, SYM_FMT_BREAKPAD, "breakpad: format");
	is_str(id.debug_id, TEST_GUID_HEX "2", "breakpad: id canonicalised");
	is_str(id.name, "xul.pdb", "breakpad: name, CR stripped");
	is_int(identify_str("MODULE mac x86_64 0123456789ABCDEFFEDCBA98765432100 My Framework"), 0,
	       "breakpad: no newline, name with a space");
	is_str(id.name, "My Framework", "breakpad: name keeps spaces");
	is_int(identify_str("MODULE windows x86 5B3F5E6A1A6000 ntdll.dll\n"), 0, "breakpad: PE-style id");
	is_str(id.debug_id, "5B3F5E6A1a6000", "breakpad: PE-style id canonical case");
	is_int(identify_str("MODULE Linux x86_64 NOTHEX123 libc.so.6\n"), -EINVAL, "breakpad: bad id refused");
	is_int(id.format, SYM_FMT_BREAKPAD, "breakpad: bad id still named Breakpad");
	is_int(identify_str("MODULE Linux x86_64 5E4D3CB2706F9281A3B4C5D6E7F8091A0\n"), -EINVAL,
	       "breakpad: missing name refused");
	is_int(identify_str("MODULE Linux  x86_64 5E4D3CB2706F9281A3B4C5D6E7F8091A0 a\n"), -EINVAL,
	       "breakpad: empty field refused");
	char longname[400];
	snprintf(longname, sizeof longname, "MODULE Linux x86_64 5E4D3CB2706F9281A3B4C5D6E7F8091A0 %0250d\n", 0);
	is_int(identify_str(longname), -EINVAL, "breakpad: over-long name refused");
}

/* ---- unknown content -------------------------------------------------------------- */

static void expect_unknown(const void *data, size_t len, const char *want)
{
	int rc = identify(data, len);
	ok(rc == -ENOTSUP && id.format == SYM_FMT_UNKNOWN && strcmp(err, want) == 0, "unknown: '%s' (got %d '%s')",
	   want, rc, err);
}

static void test_unknown(void)
{
	expect_unknown("", 0, "empty file");
	expect_unknown(NULL, 0, "empty file");
	expect_unknown("<!DOCTYPE html><html>", 21, "HTML page");
	expect_unknown("\xef\xbb\xbf \r\n\t<html>", 13, "HTML page");
	expect_unknown("<?xml version=\"1.0\"?><Error>", 28, "XML document");
	expect_unknown("\x1f\x8b\x08\x00", 4, "gzip data");
	expect_unknown("\x28\xb5\x2f\xfd\x00", 5, "zstd data");
	expect_unknown("MSCF\0\0\0\0", 8, "cabinet (compressed) data");
	expect_unknown("PATH:\\\\server\\share\\x.pdb", 25, "symbol server file pointer (file.ptr)");
	expect_unknown("hello world", 11, "unrecognised content");
	expect_unknown("\x7f", 1, "unrecognised content");
	is_str(sym_format_name(SYM_FMT_UNKNOWN), "unknown", "format name: unknown");
	is_str(sym_format_name(SYM_FMT_ELF), "elf", "format name: elf");
	is_str(sym_format_name(SYM_FMT_MACHO), "macho", "format name: macho");
	is_str(sym_format_name(SYM_FMT_BREAKPAD), "breakpad", "format name: breakpad");
	is_str(sym_format_name(SYM_FMT_PE), "pe", "format name: pe");
}

/* ---- mutations ------------------------------------------------------------------------ */

/* Random byte changes to valid images: any answer is fine, crashing or
 * reading outside the buffer (ASan) is not, and success must carry an id. */
static int survives_mutations(const uint8_t *image, size_t len, int rounds)
{
	uint32_t seed = 12345;
	int bad = 0;
	for (int r = 0; r < rounds; r++) {
		uint8_t *copy = malloc(len);
		memcpy(copy, image, len);
		for (int k = 0; k < 1 + r % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			copy[at] = (r & 1) ? (uint8_t)(seed >> 16) : (uint8_t)(copy[at] ^ 0xff);
		}
		int rc = identify(copy, len);
		if (rc > 0 || (rc == 0 && id.debug_id[0] == '\0'))
			bad++;
		free(copy);
	}
	return bad == 0;
}

static void test_mutations(void)
{
	size_t len;
	struct pdb_layout l;
	struct pdb_spec ps = {.block_size = 512, .age = 1, .dbi_age = 2, .filler_blocks = 2};
	uint8_t *img = build_pdb(&ps, &l);
	ok(survives_mutations(img, l.len, 3000), "mutations: pdb");
	free(img);
	img = build_pe(1, 1, 0x1000, &len);
	ok(survives_mutations(img, len, 3000), "mutations: pe");
	free(img);
	struct elf_spec es = {TEST_BUILD_ID, 20, 64, 0};
	img = build_elf(&es, &len);
	ok(survives_mutations(img, len, 3000), "mutations: elf");
	free(img);
	es = (struct elf_spec){TEST_BUILD_ID, 20, 0, 1};
	img = build_elf(&es, &len);
	ok(survives_mutations(img, len, 3000), "mutations: elf with PT_NOTE only");
	free(img);
	img = build_macho(1, 1, &len);
	ok(survives_mutations(img, len, 3000), "mutations: macho");
	free(img);
}

/* ---- identify_fd ------------------------------------------------------------------- */

static int identify_path(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	int rc = identify_fd(fd, &id, err, sizeof err);
	close(fd);
	return rc;
}

static void test_fd(const char *dir)
{
	char path[512];
	snprintf(path, sizeof path, "%s/f", dir);
	size_t len;
	struct elf_spec s = {TEST_BUILD_ID, 20, 64, 0};
	uint8_t *img = build_elf(&s, &len);
	write_file(path, img, len);
	free(img);
	is_int(identify_path(path), 0, "fd: ELF identified (%s)", err);
	is_str(id.debug_id, "5E4D3CB2706F9281A3B4C5D6E7F8091A0", "fd: ELF id");
	write_file(path, "", 0);
	is_int(identify_path(path), -ENOTSUP, "fd: empty file");
	is_str(err, "empty file", "fd: empty file named");
	write_file(path, "<html>", 6);
	is_int(identify_path(path), -ENOTSUP, "fd: HTML");
	unlink(path);
	is_int(identify_fd(-1, &id, err, sizeof err), -EBADF, "fd: bad descriptor");
}

/* ---- the fixture generator --------------------------------------------------------- */

static int find_mksym(const char *argv0, char *out, size_t outlen)
{
	const char *src = getenv("SYMBOLD_SRC");
	if (src) {
		snprintf(out, outlen, "%s/tests/fixtures/mksym.py", src);
		if (access(out, R_OK) == 0)
			return 0;
	}
	snprintf(out, outlen, "tests/fixtures/mksym.py");
	if (access(out, R_OK) == 0)
		return 0;
	char self[512];
	snprintf(self, sizeof self, "%s", argv0);
	snprintf(out, outlen, "%s/../../tests/fixtures/mksym.py", dirname(self));
	return access(out, R_OK);
}

/* Runs mksym.py with `args`, then checks the file it wrote identifies to the
 * id it printed and to `want`. */
static void check_mksym(const char *script, const char *dir, const char *args, enum sym_format fmt, const char *want)
{
	char cmd[2048], printed[64] = "", out[512], idfile[512];
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(idfile, sizeof idfile, "%s/id", dir);
	snprintf(cmd, sizeof cmd, "python3 '%s' %s '%s' > '%s'", script, args, out, idfile);
	int rc = system(cmd);
	FILE *f = fopen(idfile, "r");
	if (f) {
		if (!fgets(printed, sizeof printed, f))
			printed[0] = '\0';
		printed[strcspn(printed, "\n")] = '\0';
		fclose(f);
	}
	is_int(rc, 0, "mksym %s: ran", args);
	is_int(identify_path(out), 0, "mksym %s: identified (%s)", args, err);
	is_int(id.format, fmt, "mksym %s: format", args);
	is_str(id.debug_id, want, "mksym %s: id", args);
	is_str(printed, want, "mksym %s: printed id", args);
	unlink(out);
	unlink(idfile);
}

static void test_mksym(const char *argv0, const char *dir)
{
	char script[1024];
	if (system("command -v python3 >/dev/null 2>&1") != 0 || find_mksym(argv0, script, sizeof script) != 0) {
		for (int i = 0; i < 6 * 5; i++)
			printf("ok %d # SKIP python3 or tests/fixtures/mksym.py missing\n", ++tap_n);
		return;
	}
	check_mksym(script, dir, "pdb --guid 3844DBB920174967BE7AA4A2C20430FA --age 2", SYM_FMT_PDB, TEST_GUID_HEX "2");
	check_mksym(script, dir, "pdb --guid 3844dbb9-2017-4967-be7a-a4a2c20430fa --age 0x1f --size 1000000",
		    SYM_FMT_PDB, TEST_GUID_HEX "1F");
	check_mksym(script, dir, "pe --timestamp 5B3F5E6A --size-of-image 1a6000", SYM_FMT_PE, "5B3F5E6A1a6000");
	check_mksym(script, dir, "pe --timestamp 0000abcd --size-of-image 2000 --size 100000", SYM_FMT_PE,
		    "0000ABCD2000");
	check_mksym(script, dir, "sym --id 3844dbb920174967be7aa4a2c20430fa2 --name xul.pdb --lines 50",
		    SYM_FMT_BREAKPAD, TEST_GUID_HEX "2");
	check_mksym(script, dir, "sym --id 5E4D3CB2706F9281A3B4C5D6E7F8091A0 --name libc.so.6 --os Linux", SYM_FMT_BREAKPAD,
		    "5E4D3CB2706F9281A3B4C5D6E7F8091A0");
}

int main(int argc, char **argv)
{
	(void)argc;
	char dir[] = "/tmp/test_identify.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_pdb_ids();
	test_pdb_truncations();
	test_pdb_corruptions();
	test_pe();
	test_elf_build_id();
	test_elf_text_hash();
	test_macho();
	test_breakpad();
	test_mutations();
	test_unknown();
	test_fd(dir);
	test_mksym(argv[0], dir);
	rmdir(dir);
	return tap_done();
}
