/* identify: every format's id from images assembled here in memory, every
 * truncation of them, corrupt MSF directories, what unknown content looks
 * like, and the fixture generator tests/fixtures/mksym.py read back. */
#include "convert/identify.h"

#include "tests/unit/files.h"
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

/* ---- byte writers ---------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void put32be(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
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

static const uint8_t TEST_GUID[16] = {0xb9, 0xdb, 0x44, 0x38, 0x17, 0x20, 0x67, 0x49,
				      0xbe, 0x7a, 0xa4, 0xa2, 0xc2, 0x04, 0x30, 0xfa};
#define TEST_GUID_HEX "3844DBB920174967BE7AA4A2C20430FA"

struct pdb_spec {
	uint32_t block_size;
	uint32_t age, dbi_age;
	uint32_t filler_blocks; /* enough of them spread the directory over several blocks */
	int without_dbi;
};

/* Where build_pdb put things, so tests can corrupt them. */
struct pdb_layout {
	size_t len;
	size_t dir_off; /* the directory's blocks are consecutive */
	uint32_t num_streams;
};

#define PDB_STREAMS 6 /* 0 old dir (empty), 1 info, 2 absent, 3 DBI, 4 absent, 5 filler */

/* A minimal MSF 7.0 image: superblock, two free-block maps, the block map,
 * the directory, then the info, DBI and filler streams. */
static uint8_t *build_pdb(const struct pdb_spec *s, struct pdb_layout *out)
{
	uint32_t bs = s->block_size;
	uint32_t info_len = 28, dbi_len = 64;
	uint32_t filler_len = s->filler_blocks ? s->filler_blocks * bs - 7 : 0;
	uint32_t sizes[PDB_STREAMS] = {0, info_len, 0xFFFFFFFF, s->without_dbi ? 0xFFFFFFFF : dbi_len,
				       0xFFFFFFFF, filler_len};
	uint32_t data_blocks = 1 + (s->without_dbi ? 0 : 1) + s->filler_blocks;
	uint32_t dir_len = 4 + 4 * PDB_STREAMS + 4 * data_blocks;
	uint32_t dir_blocks = (dir_len + bs - 1) / bs;
	uint32_t first_data = 4 + dir_blocks;
	uint32_t num_blocks = first_data + data_blocks;
	uint8_t *img = calloc(num_blocks, bs);

	memcpy(img, "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0", 32);
	put32(img + 32, bs);
	put32(img + 36, 1);
	put32(img + 40, num_blocks);
	put32(img + 44, dir_len);
	put32(img + 52, 3); /* block map */
	memset(img + bs, 0xff, bs);
	for (uint32_t i = 0; i < dir_blocks; i++)
		put32(img + 3 * bs + 4 * i, 4 + i);

	uint8_t *dir = img + 4 * (size_t)bs;
	put32(dir, PDB_STREAMS);
	for (int i = 0; i < PDB_STREAMS; i++)
		put32(dir + 4 + 4 * i, sizes[i]);
	uint8_t *list = dir + 4 + 4 * PDB_STREAMS;
	for (uint32_t i = 0; i < data_blocks; i++)
		put32(list + 4 * i, first_data + i);

	uint8_t *info = img + (size_t)first_data * bs;
	put32(info, 20000404);
	put32(info + 4, 0x5b3f5e6a);
	put32(info + 8, s->age);
	memcpy(info + 12, TEST_GUID, 16);
	if (!s->without_dbi) {
		uint8_t *dbi = info + bs;
		put32(dbi, 0xFFFFFFFF);
		put32(dbi + 4, 19990903);
		put32(dbi + 8, s->dbi_age);
	}
	for (uint32_t i = 0; i < s->filler_blocks * bs; i++)
		img[(size_t)(num_blocks - s->filler_blocks) * bs + i] = (uint8_t)(i * 131 + 7);
	out->len = (size_t)num_blocks * bs;
	out->dir_off = 4 * (size_t)bs;
	out->num_streams = PDB_STREAMS;
	return img;
}

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

#define PE_LFANEW 0x40
#define PE_HEADERS 0x200
#define PE_TEXT_RAW 0x200
#define PE_CERT_LEN 0x10

/* DOS header, PE signature, COFF header, optional header (PE32 or PE32+),
 * one .text section whose data ends the file — or, for PE32+, is followed by
 * a certificate table. */
static uint8_t *build_pe(int pe32plus, uint32_t timestamp, uint32_t size_of_image, size_t *len)
{
	uint16_t opt_size = pe32plus ? 240 : 224;
	size_t total = PE_HEADERS + PE_TEXT_RAW + (pe32plus ? PE_CERT_LEN : 0);
	uint8_t *img = calloc(1, total);
	img[0] = 'M';
	img[1] = 'Z';
	put32(img + 0x3c, PE_LFANEW);
	uint8_t *pe = img + PE_LFANEW;
	memcpy(pe, "PE\0\0", 4);
	put16(pe + 4, pe32plus ? 0x8664 : 0x14c);
	put16(pe + 6, 1);
	put32(pe + 8, timestamp);
	put16(pe + 20, opt_size);
	put16(pe + 22, 0x2102);
	uint8_t *opt = pe + 24;
	put16(opt, pe32plus ? 0x20b : 0x10b);
	put32(opt + 32, 0x1000); /* SectionAlignment */
	put32(opt + 36, 0x200);	 /* FileAlignment */
	put32(opt + 56, size_of_image);
	put32(opt + 60, PE_HEADERS);
	put32(opt + (pe32plus ? 108 : 92), 16);
	if (pe32plus) {
		put32(opt + 112 + 8 * 4, PE_HEADERS + PE_TEXT_RAW);
		put32(opt + 112 + 8 * 4 + 4, PE_CERT_LEN);
	}
	uint8_t *sec = opt + opt_size;
	memcpy(sec, ".text", 5);
	put32(sec + 8, 0x100);
	put32(sec + 12, 0x1000);
	put32(sec + 16, PE_TEXT_RAW);
	put32(sec + 20, PE_HEADERS);
	memset(img + PE_HEADERS, 0xcc, PE_TEXT_RAW);
	*len = total;
	return img;
}

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

static const uint8_t TEST_BUILD_ID[20] = {0xb2, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81, 0x92, 0xa3, 0xb4,
					  0xc5, 0xd6, 0xe7, 0xf8, 0x09, 0x1a, 0x11, 0x22, 0x33, 0x44};

struct elf_spec {
	const uint8_t *build_id; /* NULL: no note */
	uint32_t build_id_len;
	size_t text_len;
	int note_in_segment_only; /* no section headers, a PT_NOTE program header */
};

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void put_shdr(uint8_t *sh, uint32_t name, uint32_t type, uint64_t off, uint64_t size, uint64_t align)
{
	put32(sh, name);
	put32(sh + 4, type);
	put64(sh + 24, off);
	put64(sh + 32, size);
	put64(sh + 48, align);
}

/* ELF64 little-endian: header, [program header], [build-id note], [.text],
 * .shstrtab, then the section header table at the very end. */
static uint8_t *build_elf(const struct elf_spec *s, size_t *len)
{
	static const char shstrtab[] = "\0.note.gnu.build-id\0.text\0.shstrtab";
	enum { NAME_NOTE = 1, NAME_TEXT = 20, NAME_SHSTRTAB = 26 };
	int has_note = s->build_id != NULL, sections = !s->note_in_segment_only;
	size_t phoff = 64, note_off = phoff + (s->note_in_segment_only ? 56 : 0);
	size_t note_len = has_note ? 16 + ((s->build_id_len + 3) & ~3u) : 0;
	size_t text_off = note_off + note_len;
	size_t str_off = text_off + s->text_len;
	size_t shoff = align8(str_off + sizeof shstrtab);
	int shnum = sections ? 2 + has_note + (s->text_len > 0) : 0;
	size_t total = sections ? shoff + 64 * (size_t)shnum : str_off;
	uint8_t *img = calloc(1, total);

	memcpy(img, "\x7f" "ELF", 4);
	img[4] = 2; /* ELFCLASS64 */
	img[5] = 1; /* little-endian */
	img[6] = 1;
	put16(img + 16, 3);    /* ET_DYN */
	put16(img + 18, 0x3e); /* x86-64 */
	put32(img + 20, 1);
	put16(img + 52, 64);
	put16(img + 54, 56);
	put16(img + 58, 64);
	if (s->note_in_segment_only) {
		put64(img + 32, phoff);
		put16(img + 56, 1);
		uint8_t *ph = img + phoff;
		put32(ph, 4); /* PT_NOTE */
		put64(ph + 8, note_off);
		put64(ph + 32, note_len);
		put64(ph + 40, note_len);
		put64(ph + 48, 4);
	}
	if (has_note) {
		uint8_t *n = img + note_off;
		put32(n, 4);
		put32(n + 4, s->build_id_len);
		put32(n + 8, 3); /* NT_GNU_BUILD_ID */
		memcpy(n + 12, "GNU", 4);
		memcpy(n + 16, s->build_id, s->build_id_len);
	}
	for (size_t i = 0; i < s->text_len; i++)
		img[text_off + i] = (uint8_t)(i * 37 + (i >> 8));
	if (!sections) {
		*len = total;
		return img;
	}
	memcpy(img + str_off, shstrtab, sizeof shstrtab);
	put64(img + 40, shoff);
	put16(img + 60, (uint16_t)shnum);
	put16(img + 62, (uint16_t)(shnum - 1));
	uint8_t *sh = img + shoff + 64; /* entry 0 stays null */
	if (has_note) {
		put_shdr(sh, NAME_NOTE, 7 /* SHT_NOTE */, note_off, note_len, 4);
		sh += 64;
	}
	if (s->text_len) {
		put_shdr(sh, NAME_TEXT, 1 /* SHT_PROGBITS */, text_off, s->text_len, 16);
		sh += 64;
	}
	put_shdr(sh, NAME_SHSTRTAB, 3 /* SHT_STRTAB */, str_off, sizeof shstrtab, 1);
	*len = total;
	return img;
}

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

static const uint8_t TEST_UUID[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				      0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};

/* Header, one segment covering the file, LC_UUID. */
static uint8_t *build_macho(int is64, int big_endian, size_t *len)
{
	void (*w32)(uint8_t *, uint32_t) = big_endian ? put32be : put32;
	size_t header = is64 ? 32 : 28, seg = is64 ? 72 : 56, total = header + seg + 24 + 64;
	uint8_t *img = calloc(1, total);
	w32(img, is64 ? 0xfeedfacf : 0xfeedface);
	w32(img + 4, is64 ? 0x01000007 : 7);
	w32(img + 12, 6); /* MH_DYLIB */
	w32(img + 16, 2);
	w32(img + 20, (uint32_t)(seg + 24));
	uint8_t *lc = img + header;
	w32(lc, is64 ? 0x19 : 0x1);
	w32(lc + 4, (uint32_t)seg);
	memcpy(lc + 8, "__TEXT", 6);
	if (is64) {
		w32(lc + 48 + (big_endian ? 4 : 0), (uint32_t)total); /* filesize (u64) */
	} else {
		w32(lc + 36, (uint32_t)total);
	}
	lc += seg;
	w32(lc, 0x1b);
	w32(lc + 4, 24);
	memcpy(lc + 8, TEST_UUID, 16);
	*len = total;
	return img;
}

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
