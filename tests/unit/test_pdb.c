/* pdb: the MSF container, the PDB streams and the Breakpad writer on a PDB
 * assembled here in memory — info stream with /names, DBI with a module,
 * section headers, old FPO and new frame data, IPI, a module stream with a
 * function, an inline site and C13 lines, publics — read back piece by
 * piece and as the exact .sym; then every truncation and every byte of it
 * corrupted, and malformed streams refused with their reason. */
#include "convert/msf.h"
#include "convert/pdb.h"
#include "convert/spans.h"
#include "convert/winsym.h"

#include "tests/unit/files.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- a byte builder ---- */

struct bytes {
	uint8_t *d;
	size_t n, cap;
};

static void put(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->d = realloc(b->d, b->cap);
	}
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void u8(struct bytes *b, uint8_t v)
{
	put(b, &v, 1);
}

static void u16(struct bytes *b, uint16_t v)
{
	uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	put(b, p, 2);
}

static void u32(struct bytes *b, uint32_t v)
{
	uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	put(b, p, 4);
}

static void str(struct bytes *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

static void align4(struct bytes *b)
{
	while (b->n % 4)
		u8(b, 0);
}

static void set32(struct bytes *b, size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b->d[at + i] = (uint8_t)(v >> (8 * i));
}

/* A CodeView record: its length is patched in when it ends. */
static size_t record(struct bytes *b, uint16_t kind)
{
	size_t at = b->n;
	u16(b, 0);
	u16(b, kind);
	return at;
}

static void end_record(struct bytes *b, size_t at)
{
	align4(b);
	uint16_t len = (uint16_t)(b->n - at - 2);
	b->d[at] = (uint8_t)len;
	b->d[at + 1] = (uint8_t)(len >> 8);
}

/* ---- the streams ---- */

enum { S_OLD_DIR, S_INFO, S_TPI, S_DBI, S_IPI, S_NAMES, S_MODULE, S_SECTIONS, S_SYMREC, S_FPO, S_NEW_FPO, N_STREAMS };

static const uint8_t GUID[16] = {0xb9, 0xdb, 0x44, 0x38, 0x17, 0x20, 0x67, 0x49,
				 0xbe, 0x7a, 0xa4, 0xa2, 0xc2, 0x04, 0x30, 0xfa};
#define PROGRAM "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = "

static void info_stream(struct bytes *b)
{
	u32(b, 20000404);
	u32(b, 0x5b3f5e6a);
	u32(b, 3);
	put(b, GUID, 16);
	u32(b, 7); /* named streams: "/names" -> S_NAMES */
	str(b, "/names");
	u32(b, 1);
	u32(b, 1);
	u32(b, 1);
	u32(b, 1); /* present: bucket 0 */
	u32(b, 0); /* deleted: none */
	u32(b, 0);
	u32(b, S_NAMES);
}

static size_t program_pad; /* hostile: 'x's added to the program string */

static void names_stream(struct bytes *b)
{
	static const char strings[] = "\0a.c\0" PROGRAM; /* a.c at 1, the program at 5 */
	u32(b, 0xEFFEEFFE);
	u32(b, 1);
	u32(b, (uint32_t)(sizeof strings + program_pad));
	put(b, strings, sizeof strings - 1);
	for (size_t i = 0; i < program_pad; i++)
		u8(b, 'x');
	u8(b, 0);
}

static void ipi_stream(struct bytes *b)
{
	u32(b, 20040203);
	u32(b, 56);
	u32(b, 0x1000);
	u32(b, 0x1001);
	while (b->n < 56)
		u8(b, 0);
	size_t r = record(b, 0x1601); /* 0x1000 LF_FUNC_ID: scope, type, name */
	u32(b, 0);
	u32(b, 0);
	str(b, "inl_fn");
	end_record(b, r);
	r = record(b, 0x1602); /* 0x1001 LF_MFUNC_ID: class S, type, name */
	u32(b, 0x1000);
	u32(b, 0);
	str(b, "m");
	end_record(b, r);
	r = record(b, 0x1605); /* 0x1002 LF_STRING_ID "ns" */
	u32(b, 0);
	str(b, "ns");
	end_record(b, r);
	r = record(b, 0x1601); /* 0x1003 LF_FUNC_ID ns::f */
	u32(b, 0x1002);
	u32(b, 0);
	str(b, "f");
	end_record(b, r);
	r = record(b, 0x1602); /* 0x1004 LF_MFUNC_ID Q::neg (Q's size leaf is negative) */
	u32(b, 0x1005);
	u32(b, 0);
	str(b, "neg");
	end_record(b, r);
}

static void tpi_stream(struct bytes *b)
{
	u32(b, 20040203);
	u32(b, 56);
	u32(b, 0x1000);
	u32(b, 0x1004);
	while (b->n < 56)
		u8(b, 0);
	size_t r = record(b, 0x1505); /* 0x1000 LF_STRUCTURE S, 12 bytes */
	u16(b, 0);
	u16(b, 0);
	u32(b, 0);
	u32(b, 0);
	u32(b, 0);
	u16(b, 12);
	str(b, "S");
	end_record(b, r);
	r = record(b, 0x1001); /* 0x1001 LF_MODIFIER const S */
	u32(b, 0x1000);
	u16(b, 1);
	end_record(b, r);
	r = record(b, 0x1002); /* 0x1002 LF_POINTER to S, 8 bytes */
	u32(b, 0x1000);
	u32(b, 8 << 13 | 0x0c);
	end_record(b, r);
	r = record(b, 0x1503); /* 0x1003 LF_ARRAY of 10000 ints: an LF_LONG size leaf */
	u32(b, 0x0074);
	u32(b, 0x0023);
	u16(b, 0x8003);
	u32(b, 40000);
	end_record(b, r);
	/* 0x1004 N, 0x1005 Q: signed size leaves (LF_CHAR -16, LF_QUADWORD -1): no size, but a name */
	static const struct {
		uint16_t leaf;
		uint8_t bytes;
		const char *name;
	} negative[] = {{0x8000, 1, "N"}, {0x8009, 8, "Q"}};
	for (int i = 0; i < 2; i++) {
		r = record(b, 0x1505);
		put(b, (uint8_t[16]){0}, 16);
		u16(b, negative[i].leaf);
		u8(b, 0xF0);
		for (int k = 1; k < negative[i].bytes; k++)
			u8(b, 0xFF);
		str(b, negative[i].name);
		end_record(b, r);
	}
}

static void section(struct bytes *b, const char *name, uint32_t va, uint32_t size, uint32_t flags)
{
	char n[8] = {0};
	memcpy(n, name, strlen(name));
	put(b, n, 8);
	u32(b, size);
	u32(b, va);
	for (int i = 0; i < 5; i++)
		u32(b, 0);
	u32(b, flags);
}

static void public(struct bytes *b, uint32_t flags, uint16_t seg, uint32_t off, const char *name)
{
	size_t r = record(b, S_PUB32);
	u32(b, flags);
	u32(b, off);
	u16(b, seg);
	str(b, name);
	end_record(b, r);
}

static void symrec_stream(struct bytes *b)
{
	public(b, 2, 1, 0x10, "_func@8"); /* hidden by the function there */
	public(b, 0, 1, 0x40, "_other@12");
	public(b, 2, 1, 0x50, "@fast@16");
	public(b, 2, 1, 0x60, "_plain");
	public(b, 2, 1, 0x60, "_alias"); /* two at one address: the least, marked m */
	public(b, 0, 2, 0x0, "_var");     /* data: no PUBLIC */
}

static void fpo_stream(struct bytes *b)
{
	u32(b, 0x1010);
	u32(b, 0x20);
	u32(b, 2); /* locals / 4 */
	u16(b, 3); /* params / 4 */
	u16(b, 5 | 2 << 8 | 1 << 12); /* prolog 5, 2 registers, uses EBP */
}

static uint32_t frame_copies = 1; /* hostile: more records, each at the next address */

static void new_fpo_stream(struct bytes *b)
{
	for (uint32_t i = 0; i < frame_copies; i++) {
		u32(b, 0x1040 + i);
		u32(b, 0x10);
		u32(b, 4);
		u32(b, 8);
		u32(b, 0);
		u32(b, 5); /* the program's offset in /names */
		u16(b, 1);
		u16(b, 4);
		u32(b, 4);
	}
}

static size_t line_count_at; /* in the module stream: the lines block's count */

/* hostile: inline sites of `inline_lines_each` one-byte lines, in the worst
 * order for a sorted array (each site's lines from the top down, the sites
 * from the top down) */
static uint32_t extra_inline_sites, inline_lines_each;
/* hostile: functions all over the lines, lines all at one address */
static uint32_t overlapping_functions, lines_at_one_address;

static void code_offset_annotation(struct bytes *b, uint32_t offset)
{
	u8(b, 1); /* CodeOffset, 4-byte form; then CodeLength 1 */
	u8(b, (uint8_t)(0xC0 | offset >> 24));
	u8(b, (uint8_t)(offset >> 16));
	u8(b, (uint8_t)(offset >> 8));
	u8(b, (uint8_t)offset);
	u8(b, 4);
	u8(b, 1);
}

/* Site `site`'s lines: its lowest address first (its range starts there),
 * then every other byte above it downwards. */
static void hostile_inline_site(struct bytes *b, uint32_t site)
{
	uint32_t base = 0x1000 + 2 * inline_lines_each * (extra_inline_sites - site);
	size_t r = record(b, S_INLINESITE);
	u32(b, 0);
	u32(b, 0);
	u32(b, 0x1000);
	code_offset_annotation(b, base);
	for (uint32_t k = inline_lines_each - 1; k > 0; k--)
		code_offset_annotation(b, base + 2 * k);
	end_record(b, r);
	r = record(b, S_INLINESITE_END);
	end_record(b, r);
}

static void proc_record(struct bytes *b, uint32_t offset, uint32_t length, const char *name)
{
	size_t r = record(b, S_GPROC32);
	for (int i = 0; i < 3; i++)
		u32(b, 0);
	u32(b, length);
	for (int i = 0; i < 3; i++)
		u32(b, 0);
	u32(b, offset);
	u16(b, 1); /* section */
	u8(b, 0);
	str(b, name);
	end_record(b, r);
}

/* Subsections of one line each, at 1:0x100 (lines of one subsection at one
 * address would be empty), 0x10 bytes long. */
static void lines_at_one_place(struct bytes *b)
{
	for (uint32_t i = 0; i < lines_at_one_address; i++) {
		u32(b, 0xF2);
		u32(b, 12 + 12 + 8);
		u32(b, 0x100);
		u16(b, 1);
		u16(b, 0);
		u32(b, 0x10);
		u32(b, 0);
		u32(b, 1);
		u32(b, 12 + 8);
		u32(b, 0);
		u32(b, (20 + i % 100) | 0x80000000u);
	}
}

/* Module symbols: a function at 1:0x10 with one inline site, then C13
 * line information. Returns the size of the symbols part. */
static uint32_t module_stream(struct bytes *b, uint32_t *c13_len)
{
	u32(b, 4);
	for (uint32_t i = 0; i < overlapping_functions; i++) { /* each over all the lines */
		char name[32];
		snprintf(name, sizeof name, "over%u", i);
		proc_record(b, 0x80 + i, 0x1000, name);
		size_t end = record(b, S_END);
		end_record(b, end);
	}
	proc_record(b, 0x10, extra_inline_sites ? 0x100000 : 0x20, "func");
	size_t r;
	/* EBP-relative: two parameters (an int at +8, a 32-bit pointer at +12) and a local */
	static const struct {
		int32_t offset;
		uint32_t type;
	} vars[] = {{8, 0x0074}, {12, 0x0470}, {-4, 0x0074}};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
		r = record(b, S_REGREL32);
		u32(b, (uint32_t)vars[i].offset);
		u32(b, vars[i].type);
		u16(b, 22);
		str(b, "v");
		end_record(b, r);
	}
	r = record(b, S_INLINESITE);
	u32(b, 0);
	u32(b, 0);
	u32(b, 0x1000);
	u8(b, 3); /* ChangeCodeOffset 4 */
	u8(b, 4);
	u8(b, 4); /* ChangeCodeLength 3 */
	u8(b, 3);
	end_record(b, r);
	r = record(b, S_INLINESITE_END);
	end_record(b, r);
	for (uint32_t site = 0; site < extra_inline_sites; site++)
		hostile_inline_site(b, site);
	r = record(b, S_END);
	end_record(b, r);
	uint32_t sym = (uint32_t)b->n;

	size_t c13 = b->n;
	u32(b, 0xF4); /* file checksums: a.c, no checksum */
	u32(b, 8);
	u32(b, 1);
	u8(b, 0);
	u8(b, 0);
	u16(b, 0);
	u32(b, 0xF2); /* lines: 1:0x10, 0x20 bytes; line 10 at 0, 11 at 8 */
	u32(b, 12 + 12 + 16);
	u32(b, 0x10);
	u16(b, 1);
	u16(b, 0);
	u32(b, 0x20);
	u32(b, 0);
	line_count_at = b->n;
	u32(b, 2);
	u32(b, 12 + 16);
	u32(b, 0);
	u32(b, 10 | 0x80000000u);
	u32(b, 8);
	u32(b, 11 | 0x80000000u);
	lines_at_one_place(b);
	u32(b, 0xF6); /* inlinee lines: inl_fn starts at a.c:50 */
	u32(b, 16);
	u32(b, 0);
	u32(b, 0x1000);
	u32(b, 0);
	u32(b, 50);
	*c13_len = (uint32_t)(b->n - c13);
	return sym;
}

static int module_entries = 1; /* more: each names the same module stream (hostile) */

static void dbi_stream(struct bytes *b, uint32_t sym, uint32_t c13)
{
	struct bytes mod = {0};
	for (int copy = 0; copy < module_entries; copy++) {
		size_t start = mod.n;
		put(&mod, (uint8_t[4]){0}, 4);
		for (int i = 0; i < 28; i++)
			u8(&mod, 0);
		u16(&mod, 0);
		u16(&mod, S_MODULE);
		u32(&mod, sym);
		u32(&mod, 0);
		u32(&mod, c13);
		while (mod.n - start < 64)
			u8(&mod, 0);
		str(&mod, "mod.obj");
		str(&mod, "mod.obj");
		align4(&mod);
	}

	u32(b, 0xFFFFFFFF);
	u32(b, 19990903);
	u32(b, 3);
	u16(b, 0xFFFF);
	u16(b, 0);
	u16(b, 0xFFFF);
	u16(b, 0);
	u16(b, S_SYMREC);
	u16(b, 0);
	u32(b, (uint32_t)mod.n); /* module info */
	u32(b, 0);
	u32(b, 0);
	u32(b, 0);
	u32(b, 0);
	u32(b, 0);
	u32(b, 22); /* optional debug header: 11 slots */
	u32(b, 0);  /* EC */
	u16(b, 0);
	u16(b, 0x014C);
	u32(b, 0);
	put(b, mod.d, mod.n);
	uint16_t slots[11] = {S_FPO, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, S_SECTIONS, 0xFFFF, 0xFFFF, 0xFFFF, S_NEW_FPO, 0xFFFF};
	for (int i = 0; i < 11; i++)
		u16(b, slots[i]);
	free(mod.d);
}

/* Where build() put each stream, so tests can corrupt one. */
static size_t stream_at[N_STREAMS];

#define BS 512

static uint32_t extra_sections; /* hostile: more section headers */

/* The MSF image: superblock, free maps, block map, directory, streams
 * (each starting on a block of its own). The directory takes block 4 and
 * as many more as it needs. */
static uint8_t *build(size_t *len)
{
	struct bytes s[N_STREAMS] = {0};
	uint32_t c13 = 0;
	info_stream(&s[S_INFO]);
	tpi_stream(&s[S_TPI]);
	uint32_t sym = module_stream(&s[S_MODULE], &c13);
	dbi_stream(&s[S_DBI], sym, c13);
	ipi_stream(&s[S_IPI]);
	names_stream(&s[S_NAMES]);
	section(&s[S_SECTIONS], ".text", 0x1000, 0x100, 0x60000020);
	section(&s[S_SECTIONS], ".data", 0x2000, 0x100, 0xC0000040);
	for (uint32_t i = 0; i < extra_sections; i++)
		section(&s[S_SECTIONS], ".extra", 0x3000 + 0x100 * i, 0x100, 0x40000040);
	symrec_stream(&s[S_SYMREC]);
	fpo_stream(&s[S_FPO]);
	new_fpo_stream(&s[S_NEW_FPO]);

	struct bytes dir = {0};
	u32(&dir, N_STREAMS);
	size_t stream_blocks = 0;
	for (int i = 0; i < N_STREAMS; i++) {
		u32(&dir, (uint32_t)s[i].n);
		stream_blocks += (s[i].n + BS - 1) / BS;
	}
	uint32_t dir_blocks = (uint32_t)((4 * (1 + N_STREAMS + stream_blocks) + BS - 1) / BS);
	uint32_t next = 4 + dir_blocks; /* 0 super, 1-2 free maps, 3 block map, 4... directory */
	for (int i = 0; i < N_STREAMS; i++) {
		stream_at[i] = (size_t)next * BS;
		for (size_t k = 0; k < (s[i].n + BS - 1) / BS; k++)
			u32(&dir, next++);
	}
	uint8_t *img = calloc(next, BS);
	memcpy(img, "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0", 32);
	struct bytes sb = {0};
	u32(&sb, BS);
	u32(&sb, 1);
	u32(&sb, next);
	u32(&sb, (uint32_t)dir.n);
	u32(&sb, 0);
	u32(&sb, 3);
	memcpy(img + 32, sb.d, sb.n);
	struct bytes map = {img + 3 * BS, 0, BS};
	for (uint32_t i = 0; i < dir_blocks; i++)
		u32(&map, 4 + i);
	memcpy(img + 4 * BS, dir.d, dir.n);
	for (int i = 0; i < N_STREAMS; i++) {
		if (s[i].n)
			memcpy(img + stream_at[i], s[i].d, s[i].n);
		free(s[i].d);
	}
	free(dir.d);
	free(sb.d);
	*len = (size_t)next * BS;
	return img;
}

/* build() with hostile knobs turned, then back to normal. */
static uint8_t *build_hostile(size_t *len, int modules, size_t pad, uint32_t frames, uint32_t sections)
{
	module_entries = modules;
	program_pad = pad;
	frame_copies = frames;
	extra_sections = sections;
	uint8_t *img = build(len);
	module_entries = 1;
	program_pad = 0;
	frame_copies = 1;
	extra_sections = 0;
	return img;
}

/* build() with the line knobs turned, then back to normal. */
static uint8_t *build_many_lines(size_t *len, uint32_t sites, uint32_t lines_each, uint32_t functions,
				 uint32_t lines_at_one)
{
	extra_inline_sites = sites;
	inline_lines_each = lines_each;
	overlapping_functions = functions;
	lines_at_one_address = lines_at_one;
	uint8_t *img = build(len);
	extra_inline_sites = inline_lines_each = overlapping_functions = lines_at_one_address = 0;
	return img;
}

/* ---- running the writer ---- */

static char err[256];

/* The .sym of the image, at most max_output bytes (0: no limit), or NULL
 * (err says why); the caller frees. *written: the bytes written. */
static char *convert_limited(const uint8_t *img, size_t len, uint64_t max_output, int *rc, off_t *written)
{
	char path[] = "/tmp/test_pdb_XXXXXX";
	int fd = mkstemp(path);
	struct sym_identity id = {.format = SYM_FMT_PDB, .debug_id = "3844DBB920174967BE7AA4A2C20430FA3"};
	struct breakpad_input in = {"test.pdb", &id, "test.pdb", NULL, max_output};
	*rc = winsym_pdb_bytes(img, len, NULL, 0, &in, fd, err, sizeof err);
	*written = lseek(fd, 0, SEEK_END);
	close(fd);
	char *text = *rc == 0 ? read_file(path, NULL) : NULL;
	unlink(path);
	return text;
}

static char *convert(const uint8_t *img, size_t len, int *rc)
{
	off_t written;
	return convert_limited(img, len, 0, rc, &written);
}

static const char EXPECTED[] =
	"MODULE windows x86 3844DBB920174967BE7AA4A2C20430FA3 test.pdb\n"
	"FILE 0 unknown file\n"
	"FILE 1 a.c\n"
	"FUNC 1010 20 8 func\n"
	"INLINE 0 10 1 0 1014 3\n"
	"1010 4 10 1\n"
	"1014 3 50 1\n"
	"1017 1 10 1\n"
	"1018 18 11 1\n"
	"PUBLIC 1040 c other\n"
	"PUBLIC 1050 8 fast\n"
	"PUBLIC m 1060 0 alias\n"
	"STACK WIN 0 1010 20 5 0 c 8 8 0 0 1\n"
	"STACK WIN 4 1040 10 1 0 8 4 4 0 1 " PROGRAM "\n"
	"INLINE_ORIGIN 0 inl_fn\n";

static void test_msf(void)
{
	size_t len;
	uint8_t *img = build(&len);
	struct msf m;
	is_int(msf_open(&m, img, len, err, sizeof err), 0, "msf: opens (%s)", err);
	is_int(m.num_streams, N_STREAMS, "msf: stream count");
	is_int(msf_stream_size(&m, 999), 0, "msf: a stream past the count has size 0");
	uint8_t *s;
	size_t n;
	is_int(msf_read_stream(&m, 999, &s, &n), -ENOENT, "msf: reading a stream past the count: ENOENT");
	is_int(msf_read_stream(&m, S_INFO, &s, &n), 0, "msf: reads the info stream");
	ok(n > 28 && memcmp(s + 12, GUID, 16) == 0, "msf: ... its bytes");
	free(s);
	uint8_t two[2];
	is_int(msf_read(&m, S_INFO, n - 1, two, 2), -ENOENT, "msf: a read past the stream's end is refused");
	msf_close(&m);
	free(img);
}

static void test_streams(void)
{
	size_t len;
	uint8_t *img = build(&len);
	struct pdb p;
	is_int(pdb_open(&p, img, len, err, sizeof err), 0, "pdb: opens (%s)", err);
	is_int(p.age, 3, "pdb: age");
	ok(memcmp(p.guid, GUID, 16) == 0, "pdb: GUID");
	is_int(p.machine, 0x14C, "pdb: machine from the DBI stream");
	is_int(p.n_modules, 1, "pdb: one module");
	is_str(p.modules[0].name, "mod.obj", "pdb: module name");
	is_int(p.n_sections, 2, "pdb: section headers");
	is_str(p.sections[1].name, ".data", "pdb: section name");
	is_str(pdb_string(&p, 1), "a.c", "pdb: /names string");
	ok(pdb_string(&p, 100000) == NULL, "pdb: a /names offset outside is NULL");
	static const struct {
		uint32_t id;
		const char *name;
	} ids[] = {{0x1000, "inl_fn"}, {0x1001, "S::m"}, {0x1003, "ns::f"}, {0x1004, "Q::neg"}, {0x1002, NULL}, {0x1005, NULL}, {5, NULL}};
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		char *name = pdb_inlinee_name(&p, ids[i].id);
		if (ids[i].name)
			is_str(name, ids[i].name, "pdb: inlinee 0x%x named, qualified by class or scope", ids[i].id);
		else
			ok(name == NULL, "pdb: id 0x%x is no function: no name", ids[i].id);
		free(name);
	}
	static const uint32_t sizes[][2] = {{0x1000, 12}, {0x1001, 12}, {0x1002, 8}, {0x1003, 40000}, {0x1004, 0}, {0x1005, 0}, {0x1006, 0},
					    {0x0041, 8}, {0x0470, 4}, {0x0603, 8}, {0x0003, 0}};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		is_int(pdb_type_size(&p, sizes[i][0]), sizes[i][1], "pdb: size of type 0x%x", sizes[i][0]);
	uint32_t rva;
	ok(pdb_rva(&p, 2, 8, &rva) == 0 && rva == 0x2008, "pdb: section:offset to RVA");
	is_int(pdb_rva(&p, 3, 0, &rva), -ERANGE, "pdb: an unknown section");
	is_int(p.modules[0].n_inlinees, 1, "pdb: inlinee lines read");
	pdb_close(&p);
	free(img);
}

static void test_sym(void)
{
	size_t len;
	uint8_t *img = build(&len);
	int rc;
	char *text = convert(img, len, &rc);
	is_int(rc, 0, "sym: converts (%s)", err);
	is_str(text, EXPECTED, "sym: the exact .sym");
	free(text);
	free(img);
}

/* A name cannot make records of its own. */
static void test_hostile_name(void)
{
	size_t len;
	uint8_t *img = build(&len);
	/* the module stream: signature, record length and kind, 35 bytes of S_GPROC32, then "func" */
	img[stream_at[S_MODULE] + 4 + 4 + 35 + 1] = '\n';
	int rc;
	char *text = convert(img, len, &rc);
	ok(rc == 0 && strstr(text, "\nFUNC 1010 20 8 f?nc\n") != NULL, "a newline in a name is written as '?'");
	free(text);
	free(img);
}

/* Every proper prefix is refused (the superblock's block count says the
 * file is longer), and reads nothing outside it under ASan. */
static void test_truncations(void)
{
	size_t len;
	uint8_t *img = build(&len);
	int accepted = 0;
	for (size_t n = 0; n < len; n += 7) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, img, n);
		struct pdb p;
		accepted += pdb_open(&p, copy, n, err, sizeof err) == 0;
		pdb_close(&p);
		free(copy);
	}
	is_int(accepted, 0, "truncated: every prefix refused");
	free(img);
}

/* Each byte of each stream set to 0xFF, then 0x7F: a conversion either
 * works or fails with a reason — never a crash or an overread (ASan). */
static void test_every_byte(void)
{
	size_t len;
	uint8_t *img = build(&len);
	int unexplained = 0, failed = 0, runs = 0;
	for (size_t at = 4 * BS; at < len; at++) {
		for (int v = 0; v < 2; v++) {
			uint8_t saved = img[at];
			img[at] = v ? 0x7F : 0xFF;
			int rc;
			err[0] = '\0';
			char *text = convert(img, len, &rc);
			if (rc < 0) {
				failed++;
				unexplained += err[0] == '\0';
			}
			free(text);
			img[at] = saved;
			runs++;
		}
	}
	ok(runs > 0 && failed > 0, "corrupted bytes: %d conversions, %d refused", runs, failed);
	is_int(unexplained, 0, "corrupted bytes: every refusal says why");
	free(img);
}

static void expect_refused_rc(const char *what, size_t at, uint32_t value, int want, const char *reason)
{
	size_t len;
	uint8_t *img = build(&len);
	struct bytes b = {img, len, len};
	set32(&b, at, value);
	int rc;
	char *text = convert(img, len, &rc);
	is_int(rc, want, "refused: %s", what);
	ok(strstr(err, reason) != NULL, "refused: %s: reason '%s' in '%s'", what, reason, err);
	free(text);
	free(img);
}

static void expect_refused(const char *what, size_t at, uint32_t value, const char *reason)
{
	expect_refused_rc(what, at, value, -EINVAL, reason);
}

static void test_refusals(void)
{
	expect_refused("DBI module list past the stream", stream_at[S_DBI] + 24, 0x7FFFFFF0, "DBI substream");
	expect_refused("DBI without its signature", stream_at[S_DBI], 0, "DBI stream header");
	expect_refused("module C13 size past the stream", stream_at[S_DBI] + 64 + 44, 0x10000, "module 0");
	expect_refused("/names signature", stream_at[S_NAMES], 0x12345678, "/names");
	expect_refused("a lines block claiming a billion lines", stream_at[S_MODULE] + line_count_at, 1000000000,
		       "line information");
	/* the optional debug header's OMAP-from-source slot (the 5th) names a stream with content */
	size_t omap_slot = stream_at[S_DBI] + 64 + 80 + 2 * 4; /* after 80 bytes of module info */
	expect_refused_rc("OMAP address maps", omap_slot - 2, (uint32_t)S_FPO << 16 | 0xFFFF, -ENOTSUP, "OMAP");
}

static long peak_rss_kib(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}

static double seconds_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* An MSF of 4 KiB blocks whose directory lists block 4 `reuses` times as
 * the info stream's: a file of about 4 * reuses bytes declaring a stream
 * 1024 times that. */
static uint8_t *reused_blocks_msf(uint32_t reuses, size_t *len)
{
	enum { BIG = 4096 };
	struct bytes dir = {0};
	u32(&dir, 2);
	u32(&dir, 0);
	u32(&dir, reuses * BIG);
	for (uint32_t i = 0; i < reuses; i++)
		u32(&dir, 4);
	uint32_t dir_blocks = (uint32_t)((dir.n + BIG - 1) / BIG), n_blocks = 4 + dir_blocks;
	uint8_t *img = calloc(n_blocks, BIG);
	memcpy(img, "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0", 32);
	struct bytes b = {img, 0, (size_t)n_blocks * BIG};
	b.n = 32;
	u32(&b, BIG);
	u32(&b, 1);
	u32(&b, n_blocks);
	u32(&b, (uint32_t)dir.n);
	u32(&b, 0);
	u32(&b, 3); /* the block map: block 3, the directory from block 4 */
	b.n = 3 * BIG;
	for (uint32_t i = 0; i < dir_blocks; i++)
		u32(&b, 4 + i);
	memcpy(img + 4 * BIG, dir.d, dir.n);
	free(dir.d);
	*len = (size_t)n_blocks * BIG;
	return img;
}

/* A 240 KiB file whose info stream reuses one block 60000 times (240 MiB):
 * refused before anything is read, in little time and memory. */
static void test_reused_blocks(void)
{
	size_t len;
	uint8_t *img = reused_blocks_msf(60000, &len);
	long rss = peak_rss_kib();
	double start = seconds_now();
	struct pdb p;
	err[0] = '\0';
	is_int(pdb_open(&p, img, len, err, sizeof err), -EINVAL, "reused blocks: refused");
	pdb_close(&p);
	ok(strstr(err, "blocks reused") != NULL, "reused blocks: reason '%s'", err);
	ok(seconds_now() - start < 1.0, "reused blocks: refused at once");
	ok(peak_rss_kib() - rss < 16 * 1024, "reused blocks: peak RSS grew %ld KiB for a %zu-byte file",
	   peak_rss_kib() - rss, len);
	free(img);
}

/* Two modules naming one module stream: each would get a copy. */
static void test_shared_module_stream(void)
{
	size_t len;
	uint8_t *img = build_hostile(&len, 2, 0, 1, 0);
	int rc;
	char *text = convert(img, len, &rc);
	is_int(rc, -EINVAL, "shared module stream: refused");
	free(text);
	ok(strstr(err, "module 1") && strstr(err, "already another module's"), "shared module stream: reason '%s'",
	   err);
	free(img);
}

/* The cap is exact: the .sym fits a limit of its own size, not one less. */
static void test_output_limit(void)
{
	size_t len;
	uint8_t *img = build(&len);
	int rc;
	off_t written;
	char *text = convert_limited(img, len, strlen(EXPECTED), &rc, &written);
	is_int(rc, 0, "limit: a .sym of exactly the limit is written (%s)", err);
	free(text);
	text = convert_limited(img, len, strlen(EXPECTED) - 1, &rc, &written);
	is_int(rc, -EFBIG, "limit: one byte more is refused");
	char want[64];
	snprintf(want, sizeof want, "output exceeds %zu bytes", strlen(EXPECTED) - 1);
	is_str(err, want, "limit: the reason");
	ok(written <= (off_t)strlen(EXPECTED) - 1, "limit: nothing past it written (%lld bytes)", (long long)written);
	free(text);
	free(img);
}

/* 2000 STACK WIN records printing one 60 KiB program string: 120 MB of
 * text from a 200 KB file, stopped at the limit. */
static void test_huge_output(void)
{
	size_t len;
	uint8_t *img = build_hostile(&len, 1, 60000, 2000, 0);
	int rc;
	off_t written;
	double start = seconds_now();
	char *text = convert_limited(img, len, 1 << 20, &rc, &written);
	is_int(rc, -EFBIG, "huge output: refused past the limit");
	is_str(err, "output exceeds 1048576 bytes", "huge output: the reason");
	ok(written <= 1 << 20, "huge output: %lld bytes written", (long long)written);
	ok(seconds_now() - start < 2.0, "huge output: stopped at once");
	free(text);
	free(img);
}

/* A string longer than READER_STRING_MAX is no string: the frame data
 * record is written without its program. */
static void test_long_string(void)
{
	size_t len;
	uint8_t *img = build_hostile(&len, 1, 70000, 1, 0);
	struct pdb p;
	err[0] = '\0';
	is_int(pdb_open(&p, img, len, err, sizeof err), 0, "long string: the PDB opens (%s)", err);
	ok(pdb_string(&p, 5) == NULL, "long string: a 70 KB /names string is none");
	is_str(pdb_string(&p, 1), "a.c", "long string: a short one still reads");
	pdb_close(&p);
	int rc;
	char *text = convert(img, len, &rc);
	ok(rc == 0 && strstr(text, "STACK WIN 4 1040 10 1 0 8 4 4 0 0 0\n") && !strstr(text, "xxx"),
	   "long string: STACK WIN without a program (%s)", err);
	free(text);
	free(img);
}

/* ---- line splitting: spans against the simple models they replace ---- */

#define MODEL_ADDRS 48

static uint32_t next_random(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Lines::AddLine as painting bytes: each byte knows the last line over it;
 * the spans must be its runs, in order. */
static int paint_matches_model(uint32_t *seed, int ops)
{
	int owner[MODEL_ADDRS];
	struct spans t;
	spans_init(&t);
	for (int i = 0; i < MODEL_ADDRS; i++)
		owner[i] = -1;
	int same = 1;
	for (int k = 0; k < ops && same; k++) {
		uint32_t rva = next_random(seed) % (MODEL_ADDRS - 8), len = 1 + next_random(seed) % 8;
		uint32_t probe = next_random(seed) % MODEL_ADDRS;
		const struct span *at = spans_at(&t, probe);
		same = at ? owner[probe] == (int)at->line : owner[probe] < 0;
		spans_paint(&t, (struct span){rva, len, (uint32_t)k, 0});
		for (uint32_t a = rva; a < rva + len; a++)
			owner[a] = k;
	}
	const struct span *sp = spans_first(&t);
	for (int a = 0; a < MODEL_ADDRS && same; a++) {
		if (owner[a] < 0 || (a > 0 && owner[a] == owner[a - 1]))
			continue;
		int end = a;
		while (end < MODEL_ADDRS && owner[end] == owner[a])
			end++;
		same = sp && sp->rva == (uint32_t)a && sp->len == (uint32_t)(end - a) && sp->line == (uint32_t)owner[a];
		sp = sp ? spans_next(&t, sp) : NULL;
	}
	spans_free(&t);
	return same && sp == NULL;
}

/* Inline::ExtendRanges as winsym_pdb.c did it, over a sorted array. */
static void extend_model(uint32_t (*v)[2], size_t *n, uint32_t rva, uint32_t len)
{
	size_t i = *n;
	while (i > 0 && v[i - 1][0] >= rva)
		i--;
	if (*n && i == 0)
		return;
	if (i < *n && rva + len == v[i][0]) {
		v[i][0] = rva;
		v[i][1] += len;
	} else if (i > 0 && v[i - 1][0] + v[i - 1][1] == rva) {
		v[i - 1][1] += len;
	} else {
		memmove(v + i + 1, v + i, (*n - i) * sizeof *v);
		v[i][0] = rva;
		v[i][1] = len;
		(*n)++;
	}
}

static int extend_matches_model(uint32_t *seed, int ops)
{
	uint32_t v[64][2];
	size_t n = 0;
	struct spans t;
	spans_init(&t);
	for (int k = 0; k < ops; k++) {
		uint32_t rva = next_random(seed) % MODEL_ADDRS, len = 1 + next_random(seed) % 3;
		extend_model(v, &n, rva, len);
		spans_extend(&t, rva, len);
	}
	size_t i = 0;
	const struct span *sp = spans_first(&t);
	for (; sp && i < n && sp->rva == v[i][0] && sp->len == v[i][1]; sp = spans_next(&t, sp))
		i++;
	spans_free(&t);
	return sp == NULL && i == n;
}

static void test_spans_models(void)
{
	uint32_t seed = 2463534242u;
	int painted = 0, extended = 0;
	for (int run = 0; run < 2000; run++) {
		painted += paint_matches_model(&seed, 1 + run % 40);
		extended += extend_matches_model(&seed, 1 + run % 40);
	}
	is_int(painted, 2000, "spans: painting lines = the last line over each byte, 2000 random runs");
	is_int(extended, 2000, "spans: extending ranges = the array it replaced, 2000 random runs");
}

/* 25 inline sites of 8000 one-byte lines each, every line placed before
 * the ones already there (a sorted array moved every line for each). */
static void test_many_inline_lines(void)
{
	size_t len;
	uint8_t *img = build_many_lines(&len, 25, 8000, 0, 0);
	int rc;
	double start = seconds_now();
	char *text = convert(img, len, &rc);
	double took = seconds_now() - start;
	is_int(rc, 0, "200000 inline lines: converted (%s)", err);
	ok(took < 0.5, "200000 inline lines: in %.3f s", took);
	size_t lines = 0, words = 0; /* line records; words of INLINE records */
	for (const char *at = text; at && *at; at = strchr(at, '\n') + 1) {
		int is_inline = strncmp(at, "INLINE ", 7) == 0;
		lines += (*at >= '0' && *at <= '9') || (*at >= 'a' && *at <= 'f'); /* records are upper case */
		for (const char *c = at; is_inline && *c != '\n'; c++)
			words += *c == ' ';
	}
	is_int(lines, 200000 + 4, "200000 inline lines: every line written, with func's own");
	/* 26 INLINE records of 4 fields, then an rva and a size per range: func's 1, 200000 */
	is_int(words, 26 * 4 + 2 * (1 + 200000), "200000 inline lines: each its own range");
	ok(text && strstr(text, "\n5e90 1 50 1\n5e92 1 50 1\n"), "200000 inline lines: in address order");
	free(text);
	free(img);
}

/* 1000 functions over one address with 20000 lines: each function would
 * paint them all for one line of output. */
static void test_overlapping_functions(void)
{
	size_t len;
	uint8_t *img = build_many_lines(&len, 0, 0, 1000, 20000);
	double start = seconds_now();
	int rc;
	char *text = convert(img, len, &rc);
	is_int(rc, -EFBIG, "overlapping functions: refused");
	ok(strstr(err, "too many line records") != NULL, "overlapping functions: reason '%s'", err);
	ok(seconds_now() - start < 0.5, "overlapping functions: refused at once");
	free(text);
	free(img);

	img = build_many_lines(&len, 0, 0, 100, 2000); /* few enough: converted, each with its line */
	text = convert(img, len, &rc);
	is_int(rc, 0, "100 overlapping functions over 2000 lines: converted (%s)", err);
	ok(text && strstr(text, "\nFUNC 1080 1000 0 over0\n1100 10 119 1\n") != NULL,
	   "overlapping functions: the last line at the address wins");
	free(text);
	free(img);
}

/* ---- a PE image ---- */

#define PE_AT 0x40
#define PE_OPT (PE_AT + 24)
#define PE_OPT_LEN 224 /* PE32: 96 bytes, then 16 data directories */
#define PE_SECTIONS (PE_OPT + PE_OPT_LEN)
#define PE_DATA 0x3000 /* the first section's raw data, past a table of 200 sections */

/* A PE32 image with `n_sections` sections; the first, at RVA 0x1000, holds
 * `data` (the caller's), an export table at its start. */
static uint8_t *build_pe(uint16_t n_sections, const struct bytes *data, size_t *len)
{
	*len = PE_DATA + data->n;
	uint8_t *img = calloc(1, *len);
	struct bytes b = {img, 0, *len};
	img[0] = 'M';
	img[1] = 'Z';
	b.n = 0x3c;
	u32(&b, PE_AT);
	b.n = PE_AT;
	put(&b, "PE\0\0", 4);
	u16(&b, 0x14C);
	u16(&b, n_sections);
	u32(&b, 0x5B3F5E6A);
	b.n = PE_AT + 20;
	u16(&b, PE_OPT_LEN);
	b.n = PE_OPT;
	u16(&b, 0x10b);
	b.n = PE_OPT + 56;
	u32(&b, 0x10000); /* SizeOfImage */
	u32(&b, 0x400);   /* SizeOfHeaders */
	b.n = PE_OPT + 92;
	u32(&b, 16);
	u32(&b, 0x1000); /* the export directory */
	u32(&b, 40);
	for (uint16_t i = 0; i < n_sections; i++) {
		b.n = PE_SECTIONS + 40 * (size_t)i;
		put(&b, i ? ".rdata\0\0" : ".edata\0\0", 8);
		u32(&b, i ? 0x1000 : (uint32_t)data->n);
		u32(&b, 0x1000 * (i + 1));
		u32(&b, i ? 0 : (uint32_t)data->n);
		u32(&b, i ? 0 : PE_DATA);
	}
	memcpy(img + PE_DATA, data->d, data->n);
	return img;
}

/* An export table at RVA 0x1000 of n names, all one string of `name_len`
 * 'x's, for n functions at 0x8000 on. */
static void export_table(struct bytes *b, uint32_t n, size_t name_len)
{
	uint32_t functions = 0x1000 + 40, names = functions + 4 * n, ordinals = names + 4 * n;
	uint32_t string = ordinals + 2 * n;
	for (int i = 0; i < 5; i++)
		u32(b, 0);
	u32(b, n);
	u32(b, n);
	u32(b, functions);
	u32(b, names);
	u32(b, ordinals);
	for (uint32_t i = 0; i < n; i++)
		u32(b, 0x8000 + i);
	for (uint32_t i = 0; i < n; i++)
		u32(b, string);
	for (uint32_t i = 0; i < n; i++)
		u16(b, (uint16_t)i);
	for (size_t i = 0; i < name_len; i++)
		u8(b, 'x');
	u8(b, 0);
}

/* A PE of n_sections whose n exports all name one string of name_len 'x's. */
static uint8_t *pe_with_exports(uint16_t n_sections, uint32_t n, size_t name_len, size_t *len)
{
	struct bytes data = {0};
	export_table(&data, n, name_len);
	uint8_t *img = build_pe(n_sections, &data, len);
	free(data.d);
	return img;
}

static int convert_pe(const uint8_t *img, size_t len, uint64_t max_output, off_t *written)
{
	char path[] = "/tmp/test_pe_XXXXXX";
	int fd = mkstemp(path);
	struct sym_identity id = {.format = SYM_FMT_PE, .debug_id = "5B3F5E6A10000"};
	struct breakpad_input in = {"test.dll", &id, "test.dll", NULL, max_output};
	err[0] = '\0';
	int rc = winsym_pe_bytes(img, len, &in, fd, err, sizeof err);
	*written = lseek(fd, 0, SEEK_END);
	close(fd);
	unlink(path);
	return rc;
}

/* 1000 exports naming one 60 KB string: 60 MB of PUBLIC records from a
 * 70 KB image, stopped at the limit; a name past READER_STRING_MAX is a
 * malformed export table. */
static void test_pe_exports(void)
{
	size_t len;
	uint8_t *img = pe_with_exports(1, 1000, 60000, &len);
	off_t written;
	is_int(convert_pe(img, len, 0, &written), 0, "pe exports: convert without a limit (%s)", err);
	ok(written > 60000000, "pe exports: ... to %lld bytes", (long long)written);
	is_int(convert_pe(img, len, 1 << 20, &written), -EFBIG, "pe exports: refused past the limit");
	is_str(err, "output exceeds 1048576 bytes", "pe exports: the reason");
	ok(written <= 1 << 20, "pe exports: %lld bytes written", (long long)written);
	free(img);
	img = pe_with_exports(1, 1000, 70000, &len);
	is_int(convert_pe(img, len, 0, &written), -EINVAL, "pe exports: a 70 KB name is refused");
	is_str(err, "malformed PE export table", "pe exports: the reason");
	free(img);
}

/* The Windows loader's limit, 96 sections, holds for PE images and for
 * the section headers a PDB keeps of its image. */
static void test_section_limit(void)
{
	size_t len;
	uint8_t *img = pe_with_exports(96, 1, 1, &len);
	off_t written;
	is_int(convert_pe(img, len, 0, &written), 0, "96 PE sections: converted (%s)", err);
	free(img);
	img = pe_with_exports(200, 1, 1, &len);
	is_int(convert_pe(img, len, 0, &written), -EINVAL, "200 PE sections: refused");
	is_str(err, "PE with 200 sections (the Windows loader takes 96 at most)", "200 PE sections: the reason");
	free(img);

	img = build_hostile(&len, 1, 0, 1, 94);
	int rc;
	char *text = convert(img, len, &rc);
	is_int(rc, 0, "96 PDB section headers: converted (%s)", err);
	free(text);
	free(img);
	img = build_hostile(&len, 1, 0, 1, 198);
	text = convert(img, len, &rc);
	is_int(rc, -EINVAL, "200 PDB section headers: refused");
	ok(strstr(err, "200 sections") != NULL, "200 PDB section headers: reason '%s'", err);
	free(text);
	free(img);
}

/* The MODULE line spells the age as dump_syms does, in lower-case hex;
 * the canonical id (the store's) keeps it upper case. */
static void test_module_age(void)
{
	size_t len;
	uint8_t *img = build(&len);
	struct bytes b = {img, len, len};
	set32(&b, stream_at[S_INFO] + 8, 0x1a);
	set32(&b, stream_at[S_DBI] + 8, 0x1a);
	int rc;
	char *text = convert(img, len, &rc);
	static const char want[] = "MODULE windows x86 3844DBB920174967BE7AA4A2C20430FA1a test.pdb\n";
	ok(rc == 0 && strncmp(text, want, strlen(want)) == 0, "age 0x1a: MODULE age in lower case (%s)", err);
	struct sym_identity id;
	is_int(identify_buffer(img, len, &id, err, sizeof err), 0, "age 0x1a: identified");
	is_str(id.debug_id, "3844DBB920174967BE7AA4A2C20430FA1A", "age 0x1a: the canonical id in upper case");
	free(text);
	free(img);
}

int main(void)
{
	test_msf();
	test_streams();
	test_sym();
	test_hostile_name();
	test_truncations();
	test_every_byte();
	test_refusals();
	test_reused_blocks();
	test_shared_module_stream();
	test_output_limit();
	test_huge_output();
	test_long_string();
	test_pe_exports();
	test_section_limit();
	test_module_age();
	test_spans_models();
	test_many_inline_lines();
	test_overlapping_functions();
	return tap_done();
}
