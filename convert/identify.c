#include "convert/identify.h"

#include "common/key.h"
#include "convert/reader.h"
#include "convert/msf.h"
#include "convert/pe.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* The bytes under examination. `writable` is set when they are a private
 * copy-on-write mapping, which libelf may use as is; otherwise ELF input is
 * copied first because elf_memory() wants a mutable image. */
struct input {
	const uint8_t *data;
	size_t len;
	uint8_t *writable;
};

/* ---- small helpers ------------------------------------------------------ */

static int starts_with(const uint8_t *d, size_t len, const void *prefix, size_t n)
{
	return len >= n && memcmp(d, prefix, n) == 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | (uint64_t)be32(p + 4);
}

static void hex_lower(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A GUID + age: Data1..Data3 as little-endian integers, Data4 byte by
 * byte, then the age in hex without padding, in upper or lower case. */
static void guid_age_text(const uint8_t g[16], uint32_t age, int lower_age, char out[41])
{
	int n = snprintf(out, 41, "%08X%04X%04X%02X%02X%02X%02X%02X%02X%02X%02X", le32(g), le16(g + 4), le16(g + 6),
			 g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
	snprintf(out + n, 41 - (size_t)n, lower_age ? "%x" : "%X", age);
}

/* The canonical spelling (common/key.h): all upper case. */
static void guid_age_id(const uint8_t g[16], uint32_t age, char out[41])
{
	guid_age_text(g, age, 0, out);
}

void identify_module_id(const uint8_t guid[16], uint32_t age, char out[41])
{
	guid_age_text(guid, age, 1, out);
}

/* ---- PDB (MSF 7.0) ------------------------------------------------------ */

static const char MSF2_MAGIC[] = "Microsoft C/C++ program database 2.00\r\n\x1a"
				 "JG\0";
#define PDB_STREAM_INFO 1
#define PDB_STREAM_DBI 3

/* The DBI stream repeats the age; when it differs from the info stream's
 * (PDBs rewritten by tools), some producers key the file by the DBI one. */
static void pdb_dbi_alt_id(const struct msf *m, const uint8_t guid[16], uint32_t age, struct sym_identity *id)
{
	uint8_t dbi[12];
	if (msf_read(m, PDB_STREAM_DBI, 0, dbi, sizeof dbi) < 0 || le32(dbi) != 0xFFFFFFFFu)
		return;
	uint32_t dbi_age = le32(dbi + 8);
	if (dbi_age != age)
		guid_age_id(guid, dbi_age, id->alt_id);
}

static int identify_pdb(const struct input *in, struct sym_identity *id, char *err, size_t errlen)
{
	if (starts_with(in->data, in->len, MSF2_MAGIC, sizeof MSF2_MAGIC - 1))
		return say(err, errlen, -ENOTSUP, "MSF 2.0 PDB not supported");
	id->format = SYM_FMT_PDB;
	struct msf m;
	int rc = msf_open(&m, in->data, in->len, err, errlen);
	uint8_t info[28]; /* version, signature, age, GUID */
	if (rc == 0 && msf_read(&m, PDB_STREAM_INFO, 0, info, sizeof info) < 0)
		rc = say(err, errlen, -EINVAL, "PDB info stream missing or too short");
	if (rc == 0) {
		uint32_t age = le32(info + 8);
		guid_age_id(info + 12, age, id->debug_id);
		pdb_dbi_alt_id(&m, info + 12, age, id);
	}
	msf_close(&m);
	return rc;
}

/* ---- PE ------------------------------------------------------------------ */

/* TimeDateStamp and SizeOfImage as symstore names the image: "%08X%x". */
static void pe_debug_id(uint32_t timestamp, uint32_t size_of_image, char out[41])
{
	snprintf(out, 41, "%08X%x", timestamp, size_of_image);
}

static int identify_pe(const struct input *in, struct sym_identity *id, char *err, size_t errlen)
{
	struct pe_image pe;
	id->format = SYM_FMT_PE;
	int rc = pe_open(&pe, in->data, in->len, err, errlen);
	if (rc < 0)
		return rc;
	pe_debug_id(pe.timestamp, pe.size_of_image, id->debug_id);
	memcpy(id->code_id, id->debug_id, sizeof id->debug_id);
	/* the PDB it was built with: its symbols are made from that PDB and this image */
	uint8_t guid[16];
	uint32_t age;
	char pdb[260];
	if (pe_codeview(&pe, guid, &age, pdb, sizeof pdb) == 0) {
		const char *base = pdb + strlen(pdb);
		while (base > pdb && base[-1] != '/' && base[-1] != '\\')
			base--;
		snprintf(id->name, sizeof id->name, "%.200s", base);
		guid_age_id(guid, age, id->pdb_id);
	}
	return 0;
}

/* ---- ELF ------------------------------------------------------------------ */

#define BUILD_ID_MAX 64 /* bytes; code_id holds 128 hex digits, as KEY_BUILD_ID_MAX */
#define TEXT_HASH_BYTES 4096

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;
static int elf_usable;

static void elf_init(void)
{
	elf_usable = elf_version(EV_CURRENT) != EV_NONE;
}

int elf_library_ready(void)
{
	pthread_once(&elf_once, elf_init);
	return elf_usable;
}

/* Every section header, section body and segment must lie inside the file:
 * a download cut short fails here even when the build-id survived. */
static int elf_check_extents(Elf *elf, size_t len, char *err, size_t errlen)
{
	GElf_Ehdr eh;
	size_t shnum, phnum;
	if (!gelf_getehdr(elf, &eh) || elf_getshdrnum(elf, &shnum) < 0 || elf_getphdrnum(elf, &phnum) < 0)
		return say(err, errlen, -EINVAL, "bad ELF header: %s", elf_errmsg(-1));
	/* From the raw header too: libelf quietly drops a section table that
	 * lies past the end, which would hide a truncated download. With
	 * extended numbering (e_shnum 0) the table holds at least entry 0. */
	uint64_t sh_count = eh.e_shnum ? eh.e_shnum : eh.e_shoff ? 1 : 0;
	if (shnum > sh_count)
		sh_count = shnum;
	/* Sized as libelf reads them, whatever e_shentsize/e_phentsize claim. */
	uint64_t shdr_size = gelf_fsize(elf, ELF_T_SHDR, 1, EV_CURRENT);
	uint64_t phdr_size = gelf_fsize(elf, ELF_T_PHDR, 1, EV_CURRENT);
	if (sh_count && !in_bounds(len, eh.e_shoff, sh_count * shdr_size))
		return say(err, errlen, -EINVAL, "truncated ELF: section headers beyond end of file");
	/* libelf counts no program headers where their table lies past the
	 * end either: the raw count says (e_phoff 0 is none, for libelf too) */
	uint64_t ph_count = eh.e_phnum != PN_XNUM && eh.e_phoff ? eh.e_phnum : 0;
	if (phnum > ph_count)
		ph_count = phnum;
	if (ph_count && !in_bounds(len, eh.e_phoff, ph_count * phdr_size))
		return say(err, errlen, -EINVAL, "truncated ELF: program headers beyond end of file");
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			return say(err, errlen, -EINVAL, "bad ELF section header: %s", elf_errmsg(-1));
		if (sh.sh_type != SHT_NOBITS && !in_bounds(len, sh.sh_offset, sh.sh_size))
			return say(err, errlen, -EINVAL, "truncated ELF: section data beyond end of file");
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			return say(err, errlen, -EINVAL, "bad ELF program header: %s", elf_errmsg(-1));
		if (!in_bounds(len, ph.p_offset, ph.p_filesz))
			return say(err, errlen, -EINVAL, "truncated ELF: segment beyond end of file");
	}
	return 0;
}

/* Looks for a non-empty GNU build-id note in `data`; returns its length (0 if none). */
static size_t note_build_id(Elf_Data *data, uint8_t out[BUILD_ID_MAX], int *too_long)
{
	GElf_Nhdr nh;
	size_t off = 0, name_off, desc_off, next;
	while (data && (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const char *base = data->d_buf;
		int is_gnu = nh.n_namesz == 4 && in_bounds(data->d_size, name_off, 4) &&
			     memcmp(base + name_off, "GNU", 4) == 0;
		if (is_gnu && nh.n_type == NT_GNU_BUILD_ID && nh.n_descsz > 0 &&
		    in_bounds(data->d_size, desc_off, nh.n_descsz)) {
			if (nh.n_descsz > BUILD_ID_MAX) {
				*too_long = 1;
				return 0;
			}
			memcpy(out, base + desc_off, nh.n_descsz);
			return nh.n_descsz;
		}
		off = next;
	}
	return 0;
}

/* The build-id from SHT_NOTE sections, else from PT_NOTE segments (files
 * whose section headers were stripped). */
static size_t elf_build_id(Elf *elf, uint8_t out[BUILD_ID_MAX], int *too_long)
{
	size_t n = 0, phnum;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn && !n && !*too_long; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE)
			n = note_build_id(elf_getdata(scn, NULL), out, too_long);
	}
	if (n || *too_long || elf_getphdrnum(elf, &phnum) < 0)
		return n;
	for (size_t i = 0; i < phnum && !n && !*too_long; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE || ph.p_filesz == 0)
			continue;
		Elf_Type type = ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
		n = note_build_id(elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, type), out, too_long);
	}
	return n;
}

/* What Breakpad does without a build-id: XOR the first page of .text into
 * 16 bytes. Returns 0, or -ENOENT if there is no usable .text. */
static int elf_text_hash(Elf *elf, uint8_t out[16])
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return -ENOENT;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		const char *name;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)) || strcmp(name, ".text") != 0)
			continue;
		Elf_Data *data = elf_rawdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size == 0)
			return -ENOENT;
		size_t n = data->d_size < TEXT_HASH_BYTES ? data->d_size : TEXT_HASH_BYTES;
		const uint8_t *text = data->d_buf;
		memset(out, 0, 16);
		for (size_t i = 0; i < n; i++)
			out[i % 16] ^= text[i];
		return 0;
	}
	return -ENOENT;
}

static int elf_identity(Elf *elf, size_t len, struct sym_identity *id, char *err, size_t errlen)
{
	if (elf_kind(elf) != ELF_K_ELF)
		return say(err, errlen, -EINVAL, "malformed ELF: %s", elf_errmsg(-1));
	int rc = elf_check_extents(elf, len, err, errlen);
	if (rc < 0)
		return rc;
	uint8_t build_id[BUILD_ID_MAX] = {0};
	int too_long = 0;
	size_t n = elf_build_id(elf, build_id, &too_long);
	if (too_long)
		return say(err, errlen, -EINVAL, "ELF build-id longer than %d bytes", BUILD_ID_MAX);
	if (n) {
		hex_lower(build_id, n, id->code_id);
		/* Breakpad: the first 16 bytes (zero-padded) as a little-endian GUID, age 0. */
		guid_age_id(build_id, 0, id->debug_id);
		id->has_build_id = 1;
		return 0;
	}
	uint8_t hash[16];
	if (elf_text_hash(elf, hash) < 0)
		return say(err, errlen, -EINVAL, "ELF has neither a build-id nor a .text section");
	hex_lower(hash, 16, id->code_id);
	guid_age_id(hash, 0, id->debug_id);
	return 0;
}

static int identify_elf(const struct input *in, struct sym_identity *id, char *err, size_t errlen)
{
	id->format = SYM_FMT_ELF;
	size_t header_len = in->len > EI_CLASS && in->data[EI_CLASS] == ELFCLASS64 ? sizeof(Elf64_Ehdr)
										   : sizeof(Elf32_Ehdr);
	if (in->len < header_len)
		return say(err, errlen, -EINVAL, "truncated ELF header");
	if (!elf_library_ready())
		return say(err, errlen, -ENOSYS, "libelf version mismatch");
	uint8_t *copy = NULL, *image = in->writable;
	if (!image) {
		if (!(copy = malloc(in->len)))
			return say(err, errlen, -ENOMEM, "out of memory");
		memcpy(copy, in->data, in->len);
		image = copy;
	}
	int rc;
	Elf *elf = elf_memory((char *)image, in->len);
	if (!elf) {
		rc = say(err, errlen, -EINVAL, "malformed ELF: %s", elf_errmsg(-1));
	} else {
		rc = elf_identity(elf, in->len, id, err, errlen);
		elf_end(elf);
	}
	free(copy);
	return rc;
}

/* ---- Mach-O --------------------------------------------------------------- */

#define MACHO_LC_SEGMENT 0x1
#define MACHO_LC_SEGMENT_64 0x19
#define MACHO_LC_UUID 0x1b

struct macho {
	const uint8_t *d;
	size_t len;
	int big_endian;
};

static uint32_t mo32(const struct macho *m, size_t off)
{
	return m->big_endian ? be32(m->d + off) : le32(m->d + off);
}

static uint64_t mo64(const struct macho *m, size_t off)
{
	return m->big_endian ? be64(m->d + off) : le64(m->d + off);
}

/* Segments must lie inside the file, which also catches truncation. */
static int macho_segment_ok(const struct macho *m, size_t off, uint32_t cmd, uint32_t size)
{
	if (cmd == MACHO_LC_SEGMENT && size >= 56)
		return in_bounds(m->len, mo32(m, off + 32), mo32(m, off + 36));
	if (cmd == MACHO_LC_SEGMENT_64 && size >= 72)
		return in_bounds(m->len, mo64(m, off + 40), mo64(m, off + 48));
	return 1;
}

static int identify_macho(const struct input *in, int is64, int big_endian, struct sym_identity *id, char *err,
			  size_t errlen)
{
	struct macho m = {in->data, in->len, big_endian};
	size_t header = is64 ? 32 : 28;
	id->format = SYM_FMT_MACHO;
	if (m.len < header)
		return say(err, errlen, -EINVAL, "truncated Mach-O header");
	uint32_t ncmds = mo32(&m, 16), sizeofcmds = mo32(&m, 20);
	if (!in_bounds(m.len, header, sizeofcmds))
		return say(err, errlen, -EINVAL, "truncated Mach-O: load commands beyond end of file");
	const uint8_t *uuid = NULL;
	size_t off = header, end = header + sizeofcmds;
	for (uint32_t i = 0; i < ncmds; i++) {
		if (end - off < 8)
			return say(err, errlen, -EINVAL, "Mach-O load command %u beyond sizeofcmds", i);
		uint32_t cmd = mo32(&m, off), size = mo32(&m, off + 4);
		if (size < 8 || size > end - off)
			return say(err, errlen, -EINVAL, "Mach-O load command %u has bad size %u", i, size);
		if (!macho_segment_ok(&m, off, cmd, size))
			return say(err, errlen, -EINVAL, "truncated Mach-O: segment beyond end of file");
		if (cmd == MACHO_LC_UUID && size >= 24 && !uuid)
			uuid = m.d + off + 8;
		off += size;
	}
	if (!uuid)
		return say(err, errlen, -EINVAL, "Mach-O without LC_UUID");
	for (int i = 0; i < 16; i++)
		snprintf(id->debug_id + 2 * i, 3, "%02X", uuid[i]);
	id->debug_id[32] = '0';
	id->debug_id[33] = '\0';
	return 0;
}

/* ---- Breakpad text ------------------------------------------------------- */

#define MODULE_LINE_MAX IDENTIFY_MODULE_LINE_MAX

/* Splits off the next space-terminated token of `*rest`; NULL if empty. */
static char *next_token(char **rest)
{
	char *tok = *rest, *space = strchr(tok, ' ');
	if (!space || space == tok)
		return NULL;
	*space = '\0';
	*rest = space + 1;
	return tok;
}

static int identify_breakpad(const struct input *in, struct sym_identity *id, char *err, size_t errlen)
{
	id->format = SYM_FMT_BREAKPAD;
	const uint8_t *nl = memchr(in->data, '\n', in->len);
	size_t n = nl ? (size_t)(nl - in->data) : in->len;
	if (n > 0 && in->data[n - 1] == '\r')
		n--;
	if (n >= MODULE_LINE_MAX)
		return say(err, errlen, -EINVAL, "Breakpad MODULE line too long");
	if (memchr(in->data, '\0', n))
		return say(err, errlen, -EINVAL, "NUL byte in Breakpad MODULE line");
	char line[MODULE_LINE_MAX];
	memcpy(line, in->data, n);
	line[n] = '\0';
	char *rest = line + strlen("MODULE ");
	char *os = next_token(&rest), *arch = os ? next_token(&rest) : NULL;
	char *debug_id = arch ? next_token(&rest) : NULL;
	if (!debug_id || !*rest)
		return say(err, errlen, -EINVAL, "malformed Breakpad MODULE line");
	if (key_normalize_id(debug_id, id->debug_id) < 0)
		return say(err, errlen, -EINVAL, "invalid debug id '%.40s' in MODULE line", debug_id);
	if (strlen(rest) >= sizeof id->name)
		return say(err, errlen, -EINVAL, "module name too long in MODULE line");
	snprintf(id->name, sizeof id->name, "%s", rest);
	return 0;
}

/* ---- dispatch -------------------------------------------------------------- */

/* Java class files share the fat Mach-O magic; a fat header's architecture
 * count is small where a class file has its version number. */
static const char *describe_cafebabe(const uint8_t *d, size_t len)
{
	return len >= 8 && be32(d + 4) < 45 ? "fat Mach-O" : "Java class file";
}

static const char *describe_text(const uint8_t *d, size_t len)
{
	size_t i = 0;
	if (starts_with(d, len, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
		i++;
	if (i < len && d[i] == '<')
		return len - i >= 5 && strncasecmp((const char *)d + i, "<?xml", 5) == 0 ? "XML document"
										 : "HTML page";
	if (i < len && d[i] == '{')
		return "JSON document";
	if (starts_with(d + i, len - i, "PATH:", 5) || starts_with(d + i, len - i, "MSG:", 4))
		return "symbol server file pointer (file.ptr)";
	return "unrecognised content";
}

/* What a file we cannot identify looks like, for the fetcher's log line:
 * typically an upstream's error page or a body still compressed. */
static const char *describe_unknown(const uint8_t *d, size_t len)
{
	if (len == 0)
		return "empty file";
	if (starts_with(d, len, "MSCF", 4))
		return "cabinet (compressed) data";
	if (starts_with(d, len, "\x1f\x8b", 2))
		return "gzip data";
	if (starts_with(d, len, "\x28\xb5\x2f\xfd", 4))
		return "zstd data";
	if (starts_with(d, len, "\xca\xfe\xba\xbe", 4) || starts_with(d, len, "\xca\xfe\xba\xbf", 4))
		return describe_cafebabe(d, len);
	return describe_text(d, len);
}

/* The formats identify reads, by their first bytes. */
static const struct magic {
	const char *bytes;
	size_t len;
	enum sym_format format;
} MAGICS[] = {
	{"Microsoft C/C++ ", 16, SYM_FMT_PDB},
	{"MZ", 2, SYM_FMT_PE},
	{"\x7f" "ELF", 4, SYM_FMT_ELF},
	{"\xfe\xed\xfa\xce", 4, SYM_FMT_MACHO}, /* 32-bit, big-endian */
	{"\xce\xfa\xed\xfe", 4, SYM_FMT_MACHO}, /* 32-bit, little-endian */
	{"\xfe\xed\xfa\xcf", 4, SYM_FMT_MACHO}, /* 64-bit, big-endian */
	{"\xcf\xfa\xed\xfe", 4, SYM_FMT_MACHO}, /* 64-bit, little-endian */
	{"MODULE ", 7, SYM_FMT_BREAKPAD},
};

/* The format whose magic the bytes start with (SYM_FMT_UNKNOWN if none);
 * -EAGAIN if none yet but the bytes are the start of one. */
static int magic_format(const uint8_t *d, size_t len, enum sym_format *f)
{
	int maybe = 0;
	*f = SYM_FMT_UNKNOWN;
	for (size_t i = 0; i < sizeof MAGICS / sizeof *MAGICS; i++) {
		const struct magic *m = &MAGICS[i];
		size_t n = len < m->len ? len : m->len;
		if (memcmp(d, m->bytes, n) != 0)
			continue;
		if (n == m->len) {
			*f = m->format;
			return 0;
		}
		maybe = 1;
	}
	return maybe ? -EAGAIN : 0;
}

static int identify_input(const struct input *in, struct sym_identity *id, char *err, size_t errlen)
{
	const uint8_t *d = in->data;
	enum sym_format f;
	magic_format(d, in->len, &f);
	switch (f) {
	case SYM_FMT_PDB:
		return identify_pdb(in, id, err, errlen);
	case SYM_FMT_PE:
		return identify_pe(in, id, err, errlen);
	case SYM_FMT_ELF:
		return identify_elf(in, id, err, errlen);
	case SYM_FMT_MACHO: /* 0xcf ends a 64-bit magic; 0xfe starts a big-endian one */
		return identify_macho(in, d[0] == 0xcf || d[3] == 0xcf, d[0] == 0xfe, id, err, errlen);
	case SYM_FMT_BREAKPAD:
		return identify_breakpad(in, id, err, errlen);
	default:
		return say(err, errlen, -ENOTSUP, "%s", describe_unknown(d, in->len));
	}
}

static int identify_with(const struct input *in, struct sym_identity *id, char *err, size_t errlen)
{
	memset(id, 0, sizeof *id);
	if (err && errlen)
		err[0] = '\0';
	int rc = identify_input(in, id, err, errlen);
	if (rc == -ENOTSUP)
		id->format = SYM_FMT_UNKNOWN;
	if (rc < 0) { /* never leave a half-filled identity that might match */
		id->debug_id[0] = id->alt_id[0] = id->code_id[0] = id->name[0] = '\0';
	}
	return rc;
}

int identify_buffer(const void *data, size_t len, struct sym_identity *id, char *err, size_t errlen)
{
	if (!data && len)
		return say(err, errlen, -EINVAL, "no data");
	static const uint8_t nothing[1];
	struct input in = {data ? data : nothing, len, NULL};
	return identify_with(&in, id, err, errlen);
}

int identify_fd(int fd, struct sym_identity *id, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return say(err, errlen, -errno, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return say(err, errlen, -EINVAL, "not a regular file");
	if (st.st_size == 0)
		return identify_buffer(NULL, 0, id, err, errlen);
	if ((uint64_t)st.st_size > SIZE_MAX)
		return say(err, errlen, -EFBIG, "file too large to map");
	size_t len = (size_t)st.st_size;
	/* Private and writable: copy-on-write pages libelf may use in place. */
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return say(err, errlen, -errno, "mmap: %s", strerror(errno));
	struct input in = {map, len, map};
	int rc = identify_with(&in, id, err, errlen);
	munmap(map, len);
	return rc;
}

/* ---- judging a prefix ------------------------------------------------------- */

/* A prefix under judgement: its bytes (at most IDENTIFY_PREFIX_MAX), what
 * is wanted, and where the verdict's details go. */
struct prefix {
	const uint8_t *d;
	size_t len;
	enum sym_format format; /* what the magic says */
	const struct identify_want *want;
	uint64_t *need;
	char *err;
	size_t errlen;
};

/* Not yet: the first `end` bytes of the file are needed. */
static int wait_for_bytes(const struct prefix *p, uint64_t end)
{
	*p->need = end;
	return -EAGAIN;
}

/* Is the id the content carries the one wanted? */
static int judge_debug_id(const struct prefix *p, const struct sym_identity *id)
{
	if (!p->want->debug_id || identify_matches(id, p->want->debug_id))
		return 0;
	return say(p->err, p->errlen, -EINVAL, "identity mismatch: content is %s, key is %s", id->debug_id,
		   p->want->debug_id);
}

/* PDB: the id is stream 1's GUID and age. lld-link (tests/fixtures/mkpdb.py
 * builds with it) puts the block map at block 3 but allocates the stream
 * directory after every stream, and stream 1's block late too: both are in
 * the file's last blocks. So for a PDB of more than IDENTIFY_PREFIX_MAX
 * only the superblock (magic, block size, block count against the file's
 * size) and the block map's directory block numbers are judged early. */
static int prefix_pdb_id(const struct prefix *p, const struct msf *m)
{
	uint8_t info[28]; /* version, signature, age, GUID */
	uint64_t end = msf_needed(m, PDB_STREAM_INFO, 0, sizeof info);
	if (end == 0)
		return say(p->err, p->errlen, -EINVAL, "PDB info stream missing or too short");
	if (end > p->len)
		return wait_for_bytes(p, end);
	msf_read(m, PDB_STREAM_INFO, 0, info, sizeof info);
	struct sym_identity id = {.format = SYM_FMT_PDB};
	uint32_t age = le32(info + 8);
	guid_age_id(info + 12, age, id.debug_id);
	const char *want = p->want->debug_id;
	if (want && !identify_matches(&id, want) && strncasecmp(id.debug_id, want, 32) == 0) {
		/* the GUID wanted, another age: the DBI stream's may be the one */
		end = msf_needed(m, PDB_STREAM_DBI, 0, 12);
		if (end > p->len)
			return wait_for_bytes(p, end);
		pdb_dbi_alt_id(m, info + 12, age, &id);
	}
	return judge_debug_id(p, &id);
}

static int prefix_pdb(const struct prefix *p, uint64_t total)
{
	if (starts_with(p->d, p->len, MSF2_MAGIC, sizeof MSF2_MAGIC - 1))
		return say(p->err, p->errlen, -EINVAL, "MSF 2.0 PDB not supported");
	struct msf m;
	int rc = msf_open_prefix(&m, p->d, p->len, total, p->need, p->err, p->errlen);
	if (rc == 0)
		rc = prefix_pdb_id(p, &m);
	msf_close(&m);
	return rc;
}

/* PE: the COFF header's TimeDateStamp and the optional header's
 * SizeOfImage, both within the first KBs; checked as pe_open does. */
static int prefix_pe(const struct prefix *p)
{
	if (p->len < 0x40)
		return wait_for_bytes(p, 0x40);
	uint64_t at = le32(p->d + 0x3c), opt = at + 24;
	if (!in_bounds(p->len, at, 24))
		return wait_for_bytes(p, at + 24);
	if (memcmp(p->d + at, "PE\0\0", 4) != 0)
		return say(p->err, p->errlen, -EINVAL, "MZ executable without a PE header");
	if (le16(p->d + at + 20) < 64)
		return say(p->err, p->errlen, -EINVAL, "truncated PE optional header");
	if (!in_bounds(p->len, opt, 64))
		return wait_for_bytes(p, opt + 64);
	uint16_t magic = le16(p->d + opt);
	if (magic != 0x10b && magic != 0x20b)
		return say(p->err, p->errlen, -EINVAL, "unknown PE optional header magic 0x%x", magic);
	struct sym_identity id = {.format = SYM_FMT_PE};
	pe_debug_id(le32(p->d + at + 8), le32(p->d + opt + 56), id.debug_id);
	return judge_debug_id(p, &id);
}

/* An ELF integer of `size` bytes in the file's byte order. */
static uint64_t elf_int(const uint8_t *q, int size, int big)
{
	uint64_t v = 0;
	for (int i = 0; i < size; i++)
		v |= (uint64_t)q[big ? size - 1 - i : i] << (8 * i);
	return v;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* The GNU build-id note among the notes of one PT_NOTE segment (`align`:
 * 8 or 4, as libelf reads them): its descriptor, or NULL. */
static const uint8_t *note_gnu_build_id(const uint8_t *d, size_t len, uint64_t align, int big, size_t *id_len)
{
	for (uint64_t off = 0; len - off >= 12;) {
		uint64_t namesz = elf_int(d + off, 4, big), descsz = elf_int(d + off + 4, 4, big);
		uint64_t name_off = off + 12, desc_off = align_up(name_off + namesz, align);
		if (desc_off > len || !in_bounds(len, desc_off, descsz))
			return NULL;
		int gnu = namesz == 4 && memcmp(d + name_off, "GNU", 4) == 0;
		if (gnu && elf_int(d + off + 8, 4, big) == NT_GNU_BUILD_ID && descsz > 0) {
			*id_len = (size_t)descsz;
			return d + desc_off;
		}
		off = align_up(desc_off + descsz, align);
		if (off > len)
			return NULL;
	}
	return NULL;
}

/* Is the ELF with this build-id the one wanted (by build-id, or by the
 * Breakpad id it gives)? */
static int judge_build_id(const struct prefix *p, const uint8_t *bid, size_t n)
{
	if (n > BUILD_ID_MAX)
		return say(p->err, p->errlen, -EINVAL, "ELF build-id longer than %d bytes", BUILD_ID_MAX);
	struct sym_identity id = {.format = SYM_FMT_ELF};
	uint8_t first[16] = {0};
	memcpy(first, bid, n < sizeof first ? n : sizeof first);
	guid_age_id(first, 0, id.debug_id);
	hex_lower(bid, n, id.code_id);
	if (p->want->build_id && strcmp(id.code_id, p->want->build_id) != 0)
		return say(p->err, p->errlen, -EINVAL, "build-id mismatch: content is %.128s, key is %.128s",
			   id.code_id, p->want->build_id);
	return judge_debug_id(p, &id);
}

/* One PT_NOTE segment: waits for it, and judges its build-id if it has
 * one. 1 if it has none. */
static int prefix_elf_note(const struct prefix *p, const uint8_t *ph, int is64, int big)
{
	uint64_t off = elf_int(ph + (is64 ? 8 : 4), is64 ? 8 : 4, big);
	uint64_t size = elf_int(ph + (is64 ? 32 : 16), is64 ? 8 : 4, big);
	uint64_t align = elf_int(ph + (is64 ? 48 : 28), is64 ? 8 : 4, big) == 8 ? 8 : 4;
	if (size == 0)
		return 1;
	if (!in_bounds(p->len, off, size)) /* past the prefix (or the file: then refused) */
		return wait_for_bytes(p, off > UINT64_MAX - size ? UINT64_MAX : off + size);
	size_t n = 0;
	const uint8_t *bid = note_gnu_build_id(p->d + off, (size_t)size, align, big, &n);
	return bid ? judge_build_id(p, bid, n) : 1;
}

/* ELF: the program headers follow the ELF header, and the PT_NOTE segment
 * holding the build-id is near them; a file without program headers (or
 * with unusual ones) is left to libelf at the end. */
static int prefix_elf(const struct prefix *p)
{
	if (p->len < EI_NIDENT)
		return wait_for_bytes(p, EI_NIDENT);
	int cls = p->d[EI_CLASS], data = p->d[EI_DATA];
	if ((cls != ELFCLASS32 && cls != ELFCLASS64) || (data != ELFDATA2LSB && data != ELFDATA2MSB))
		return 0;
	int is64 = cls == ELFCLASS64, big = data == ELFDATA2MSB;
	size_t ehdr = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phdr = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (p->len < ehdr)
		return wait_for_bytes(p, ehdr);
	uint64_t phoff = elf_int(p->d + (is64 ? 32 : 28), is64 ? 8 : 4, big);
	uint64_t phentsize = elf_int(p->d + (is64 ? 54 : 42), 2, big), phnum = elf_int(p->d + (is64 ? 56 : 44), 2, big);
	if (phoff == 0 || phnum == 0 || phnum == PN_XNUM || phentsize != phdr) /* libelf reads none at 0 */
		return 0;
	if (!in_bounds(p->len, phoff, phnum * phdr))
		return wait_for_bytes(p, phoff > UINT64_MAX / 2 ? UINT64_MAX : phoff + phnum * phdr);
	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = p->d + phoff + i * phdr;
		int rc = elf_int(ph, 4, big) == PT_NOTE ? prefix_elf_note(p, ph, is64, big) : 1;
		if (rc <= 0)
			return rc;
	}
	return 0; /* no build-id: the .text hash identifies it, at the end */
}

/* What a format is called in a refusal: "PE image where a PDB was asked
 * for" (the noun), or with its article (the wanted one). */
static const char *format_noun(enum sym_format f, int article)
{
	static const char *const nouns[][2] = {
		[SYM_FMT_UNKNOWN] = {"debug file", "a debug file"},
		[SYM_FMT_PDB] = {"PDB", "a PDB"},
		[SYM_FMT_PE] = {"PE image", "a PE image"},
		[SYM_FMT_ELF] = {"ELF file", "an ELF file"},
		[SYM_FMT_MACHO] = {"Mach-O file", "a Mach-O file"},
		[SYM_FMT_BREAKPAD] = {"Breakpad symbols", "Breakpad symbols"},
	};
	return nouns[f][article];
}

/* The format, then what the format's headers say. */
static int judge_prefix(struct prefix *p, uint64_t total)
{
	enum sym_format want = p->want->format;
	if (magic_format(p->d, p->len, &p->format) < 0)
		return wait_for_bytes(p, p->len + 1);
	const char *what = p->format == SYM_FMT_UNKNOWN ? describe_unknown(p->d, p->len) : format_noun(p->format, 0);
	int other_form = want == SYM_FMT_UNKNOWN ? p->format == SYM_FMT_BREAKPAD : p->format != want;
	if (p->format == SYM_FMT_UNKNOWN || other_form)
		return say(p->err, p->errlen, -EINVAL, "%s where %s was asked for", what, format_noun(want, 1));
	switch (p->format) {
	case SYM_FMT_PDB:
		return prefix_pdb(p, total);
	case SYM_FMT_PE:
		return prefix_pe(p);
	case SYM_FMT_ELF:
		return prefix_elf(p);
	default:
		return 0; /* a Mach-O by its magic; Breakpad is the caller's */
	}
}

int identify_prefix(const void *head, size_t len, uint64_t total, const struct identify_want *want, uint64_t *need,
		    char *err, size_t errlen)
{
	static const uint8_t nothing[1];
	size_t n = !head ? 0 : len < IDENTIFY_PREFIX_MAX ? len : IDENTIFY_PREFIX_MAX;
	struct prefix p = {n ? head : nothing, n, SYM_FMT_UNKNOWN, want, need, err, errlen};
	*need = 0;
	if (err && errlen)
		err[0] = '\0';
	int rc = judge_prefix(&p, total);
	if (rc != -EAGAIN)
		return rc;
	if (total && *need > total && p.format == SYM_FMT_UNKNOWN) /* the whole file is less than a magic */
		return say(err, errlen, -EINVAL, "%s where %s was asked for", describe_unknown(p.d, p.len),
			   format_noun(want->format, 1));
	if (total && *need > total) /* what the format must hold lies past the end */
		return say(err, errlen, -EINVAL, "truncated %s: its headers need %llu bytes, the file has %llu",
			   format_noun(p.format, 0), (unsigned long long)*need, (unsigned long long)total);
	if (*need > IDENTIFY_PREFIX_MAX) {
		*need = 0;
		return 0; /* judged whole, at the end */
	}
	return rc;
}

int identify_build_id_debug_id(const char *build_id_hex, char out[41])
{
	char hex[KEY_BUILD_ID_MAX + 1];
	uint8_t raw[16] = {0};
	if (key_normalize_build_id(build_id_hex, hex) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof raw && hex[2 * i]; i++)
		sscanf(hex + 2 * i, "%2hhx", &raw[i]);
	guid_age_id(raw, 0, out);
	return 0;
}

const char *sym_format_name(enum sym_format f)
{
	switch (f) {
	case SYM_FMT_PDB:
		return "pdb";
	case SYM_FMT_PE:
		return "pe";
	case SYM_FMT_ELF:
		return "elf";
	case SYM_FMT_MACHO:
		return "macho";
	case SYM_FMT_BREAKPAD:
		return "breakpad";
	default:
		return "unknown";
	}
}

int identify_matches(const struct sym_identity *id, const char *want_debug_id)
{
	if (!id || !want_debug_id || !*want_debug_id)
		return 0;
	return (id->debug_id[0] && strcasecmp(id->debug_id, want_debug_id) == 0) ||
	       (id->alt_id[0] && strcasecmp(id->alt_id, want_debug_id) == 0);
}
