#include "convert/pe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "convert/reader.h"

#define PE_SECTION_LEN 40
#define PE_DIR_EXPORT 0
#define PE_DIR_EXCEPTION 3
#define PE_DIR_SECURITY 4
#define PE_DIR_DEBUG 6
#define PE_DEBUG_ENTRY_LEN 28
#define PE_DEBUG_CODEVIEW 2
#define RUNTIME_FUNCTION_LEN 12
#define CHAIN_LIMIT 32 /* chained unwind infos followed per function */

/* ---- headers ---------------------------------------------------------------- */

static int check_sections(const struct pe_image *pe, char *err, size_t errlen)
{
	/* every export and RUNTIME_FUNCTION looks its RVA up among them */
	if (pe->n_sections > PE_SECTIONS_MAX)
		return say(err, errlen, -EINVAL, "PE with %u sections (the Windows loader takes %d at most)",
			   pe->n_sections, PE_SECTIONS_MAX);
	if (!in_bounds(pe->len, pe->sections, (uint64_t)pe->n_sections * PE_SECTION_LEN))
		return say(err, errlen, -EINVAL, "truncated PE: section table beyond end of file");
	for (uint16_t i = 0; i < pe->n_sections; i++) {
		const uint8_t *s = pe->data + pe->sections + (size_t)i * PE_SECTION_LEN;
		uint32_t raw_size = le32(s + 16), raw_ptr = le32(s + 20);
		if (raw_size && !in_bounds(pe->len, raw_ptr, raw_size))
			return say(err, errlen, -EINVAL, "truncated PE: section %.8s data beyond end of file",
				   (const char *)s);
	}
	return 0;
}

/* Data directory i: 0 and its (rva, size), or -ENOENT. */
static int pe_dir(const struct pe_image *pe, uint32_t i, uint32_t *rva, uint32_t *size)
{
	if (i >= pe->n_dirs)
		return -ENOENT;
	const uint8_t *d = pe->data + pe->dirs + 8 * (size_t)i;
	*rva = le32(d);
	*size = le32(d + 4);
	return *size ? 0 : -ENOENT;
}

/* The certificate table is the one data directory given as a file offset;
 * signed binaries end with it, so it also catches truncation. */
static int check_certificates(const struct pe_image *pe)
{
	uint32_t off, size;
	if (pe_dir(pe, PE_DIR_SECURITY, &off, &size) < 0)
		return 0;
	return in_bounds(pe->len, off, size) ? 0 : -EINVAL;
}

int pe_open(struct pe_image *pe, const void *data, size_t len, char *err, size_t errlen)
{
	const uint8_t *d = data;
	memset(pe, 0, sizeof *pe);
	pe->data = d;
	pe->len = len;
	if (len < 0x40)
		return say(err, errlen, -EINVAL, "truncated DOS header");
	uint32_t at = le32(d + 0x3c);
	if (!in_bounds(len, at, 24))
		return say(err, errlen, -EINVAL, "truncated PE: header beyond end of file");
	if (memcmp(d + at, "PE\0\0", 4) != 0)
		return say(err, errlen, -EINVAL, "MZ executable without a PE header");
	const uint8_t *coff = d + at + 4;
	pe->machine = le16(coff);
	pe->n_sections = le16(coff + 2);
	pe->timestamp = le32(coff + 4);
	uint16_t opt_size = le16(coff + 16);
	size_t opt = (size_t)at + 24;
	if (opt_size < 64 || !in_bounds(len, opt, opt_size))
		return say(err, errlen, -EINVAL, "truncated PE optional header");
	uint16_t magic = le16(d + opt);
	if (magic != 0x10b && magic != 0x20b)
		return say(err, errlen, -EINVAL, "unknown PE optional header magic 0x%x", magic);
	pe->pe32plus = magic == 0x20b;
	pe->size_of_image = le32(d + opt + 56);
	if (le32(d + opt + 60) > len)
		return say(err, errlen, -EINVAL, "truncated PE: headers beyond end of file");
	size_t count_at = pe->pe32plus ? 108 : 92;
	if (opt_size >= count_at + 4) {
		pe->dirs = opt + count_at + 4;
		uint32_t fits = (uint32_t)((opt_size - count_at - 4) / 8), n = le32(d + opt + count_at);
		pe->n_dirs = n < fits ? n : fits;
	}
	pe->sections = opt + opt_size;
	int rc = check_sections(pe, err, errlen);
	if (rc < 0)
		return rc;
	if (check_certificates(pe) < 0)
		return say(err, errlen, -EINVAL, "truncated PE: certificate table beyond end of file");
	return 0;
}

void pe_code_id(const struct pe_image *pe, char out[17])
{
	snprintf(out, 17, "%08X%X", pe->timestamp, pe->size_of_image);
}

/* The section holding rva: its raw bytes from rva on, and how many. */
static const uint8_t *section_bytes(const struct pe_image *pe, uint32_t rva, uint32_t *avail)
{
	for (uint16_t i = 0; i < pe->n_sections; i++) {
		const uint8_t *s = pe->data + pe->sections + (size_t)i * PE_SECTION_LEN;
		uint32_t va = le32(s + 12), raw_size = le32(s + 16), raw_ptr = le32(s + 20);
		if (rva >= va && rva - va < raw_size) {
			*avail = raw_size - (rva - va);
			return pe->data + raw_ptr + (rva - va);
		}
	}
	return NULL;
}

const uint8_t *pe_at(const struct pe_image *pe, uint32_t rva, uint32_t n)
{
	uint32_t avail;
	const uint8_t *p = section_bytes(pe, rva, &avail);
	return p && n <= avail ? p : NULL;
}

/* A NUL-terminated string at rva, at most READER_STRING_MAX long (names
 * may all point at one string: each must not scan the section's rest);
 * NULL if it is longer or runs out of its section. */
static const char *pe_string(const struct pe_image *pe, uint32_t rva)
{
	uint32_t avail;
	const uint8_t *p = section_bytes(pe, rva, &avail);
	return p ? bounded_string(p, avail) : NULL;
}

/* ---- the CodeView record ------------------------------------------------------ */

int pe_codeview(const struct pe_image *pe, uint8_t guid[16], uint32_t *age, char *pdb, size_t pdb_len)
{
	uint32_t rva, size;
	const uint8_t *dir;
	if (pe_dir(pe, PE_DIR_DEBUG, &rva, &size) < 0 || !(dir = pe_at(pe, rva, size)))
		return -ENOENT;
	for (uint32_t at = 0; size - at >= PE_DEBUG_ENTRY_LEN; at += PE_DEBUG_ENTRY_LEN) {
		const uint8_t *e = dir + at;
		uint32_t data_size = le32(e + 16), file_off = le32(e + 24);
		if (le32(e + 12) != PE_DEBUG_CODEVIEW || data_size < 24 + 1 || !in_bounds(pe->len, file_off, data_size))
			continue;
		const uint8_t *cv = pe->data + file_off;
		const uint8_t *end = memchr(cv + 24, '\0', data_size - 24);
		if (memcmp(cv, "RSDS", 4) != 0 || !end)
			continue;
		memcpy(guid, cv + 4, 16);
		*age = le32(cv + 20);
		snprintf(pdb, pdb_len, "%s", (const char *)cv + 24);
		return 0;
	}
	return -ENOENT;
}

/* ---- exports ---------------------------------------------------------------------- */

int pe_exports(const struct pe_image *pe, int (*each)(uint32_t rva, const char *name, void *ctx), void *ctx)
{
	uint32_t dir_rva, dir_size;
	const uint8_t *dir;
	if (pe_dir(pe, PE_DIR_EXPORT, &dir_rva, &dir_size) < 0)
		return 0;
	if (!(dir = pe_at(pe, dir_rva, 40)))
		return -EINVAL;
	uint32_t n_functions = le32(dir + 20), n_names = le32(dir + 24);
	/* the arrays must lie in the image whole: that bounds the counts */
	const uint8_t *functions = n_functions < UINT32_MAX / 4 ? pe_at(pe, le32(dir + 28), 4 * n_functions) : NULL;
	const uint8_t *names = n_names < UINT32_MAX / 4 ? pe_at(pe, le32(dir + 32), 4 * n_names) : NULL;
	const uint8_t *ordinals = n_names < UINT32_MAX / 2 ? pe_at(pe, le32(dir + 36), 2 * n_names) : NULL;
	if (n_names && (!functions || !names || !ordinals))
		return -EINVAL;
	for (uint32_t i = 0; i < n_names; i++) {
		uint16_t ordinal = le16(ordinals + 2 * (size_t)i);
		const char *name = pe_string(pe, le32(names + 4 * (size_t)i));
		if (ordinal >= n_functions || !name)
			return -EINVAL;
		uint32_t rva = le32(functions + 4 * (size_t)ordinal);
		if (rva - dir_rva < dir_size)
			continue; /* a forwarder: its "address" is a string naming another module's export */
		int rc = each(rva, name, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- x64 unwind information ------------------------------------------------------------ */

enum unwind_op {
	UWOP_PUSH_NONVOL,
	UWOP_ALLOC_LARGE,
	UWOP_ALLOC_SMALL,
	UWOP_SET_FPREG,
	UWOP_SAVE_NONVOL,
	UWOP_SAVE_NONVOL_FAR,
	UWOP_SAVE_XMM,
	UWOP_SAVE_XMM_FAR,
	UWOP_SAVE_XMM128,
	UWOP_SAVE_XMM128_FAR,
	UWOP_PUSH_MACHFRAME,
};

#define UNW_FLAG_CHAININFO 0x4

/* Adds one UNWIND_INFO's codes to *u. Returns the chained UNWIND_INFO's
 * RVA, 0 if there is none, or -1 if the codes run out of the image. */
static int64_t sum_unwind_codes(const struct pe_image *pe, uint32_t rva, struct pe_unwind *u)
{
	const uint8_t *info = pe_at(pe, rva, 4);
	if (!info)
		return -1;
	uint8_t count = info[2];
	uint32_t slots = ((uint32_t)count + 1) & ~1u; /* the array is padded to an even count */
	const uint8_t *codes = pe_at(pe, rva, 4 + 2 * slots + ((info[0] >> 3) & UNW_FLAG_CHAININFO ? 12 : 0));
	if (!codes)
		return -1;
	codes += 4;
	/* Breakpad's dump_syms reads the codes this way: an allocation's size,
	 * pushes, a machine frame; saves only skip their slots. */
	for (uint32_t c = 0; c < count; c++) {
		const uint8_t *code = codes + 2 * (size_t)c;
		uint8_t op = code[1] & 0xF, op_info = code[1] >> 4;
		uint32_t first = c;
		switch (op) {
		case UWOP_PUSH_NONVOL:
			u->stack_size += 8;
			break;
		case UWOP_ALLOC_LARGE:
			c += op_info == 0 ? 1 : 2;
			if (c < count)
				u->stack_size += op_info == 0 ? le16(codes + 2 * (first + 1)) * 8u
							      : le32(codes + 2 * (first + 1));
			break;
		case UWOP_ALLOC_SMALL:
			u->stack_size += op_info * 8u + 8;
			break;
		case UWOP_SAVE_NONVOL:
		case UWOP_SAVE_XMM128:
			c++;
			break;
		case UWOP_SAVE_NONVOL_FAR:
		case UWOP_SAVE_XMM128_FAR:
			c += 2;
			break;
		case UWOP_PUSH_MACHFRAME:
			u->stack_size += op_info ? 88 : 80;
			u->rip_offset += 80;
			break;
		default: /* SET_FPREG, SAVE_XMM, SAVE_XMM_FAR: nothing to add */
			break;
		}
	}
	if (!((info[0] >> 3) & UNW_FLAG_CHAININFO))
		return 0;
	return le32(codes + 2 * (size_t)slots + 8); /* the chained RUNTIME_FUNCTION's UnwindInfoAddress */
}

static int unwind_one(const struct pe_image *pe, const uint8_t *f, struct pe_unwind *u)
{
	*u = (struct pe_unwind){le32(f), le32(f + 4), 8, 8};
	uint32_t rva = le32(f + 8);
	/* an odd address names another RUNTIME_FUNCTION whose info is shared */
	for (int i = 0; rva & 1; i++) {
		const uint8_t *chained = pe_at(pe, rva ^ 1, RUNTIME_FUNCTION_LEN);
		if (!chained || i == CHAIN_LIMIT)
			return -1;
		rva = le32(chained + 8);
	}
	for (int i = 0; i < CHAIN_LIMIT; i++) {
		int64_t next = sum_unwind_codes(pe, rva, u);
		if (next <= 0)
			return (int)next;
		rva = (uint32_t)next;
	}
	return -1;
}

int pe_unwind_info(const struct pe_image *pe, int (*each)(const struct pe_unwind *u, void *ctx), void *ctx)
{
	uint32_t rva, size;
	const uint8_t *table;
	if (!pe->pe32plus || pe_dir(pe, PE_DIR_EXCEPTION, &rva, &size) < 0)
		return 0;
	if (!(table = pe_at(pe, rva, size - size % RUNTIME_FUNCTION_LEN)))
		return -EINVAL;
	for (uint32_t at = 0; size - at >= RUNTIME_FUNCTION_LEN; at += RUNTIME_FUNCTION_LEN) {
		struct pe_unwind u;
		if (unwind_one(pe, table + at, &u) < 0 || u.end <= u.begin)
			continue;
		int rc = each(&u, ctx);
		if (rc)
			return rc;
	}
	return 0;
}
