/* The Breakpad output both Windows converters share, and the .sym of a
 * bare PE image. */
#include "convert/winsym.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/vec.h"
#include "convert/bp_writer.h"
#include "convert/reader.h"
#include "convert/mapfile.h"

const char *winsym_cpu(unsigned machine)
{
	switch (machine) {
	case 0x014C:
		return "x86";
	case 0x8664:
		return "x86_64";
	case 0x0200:
		return "ia64";
	case 0x01C4:
		return "arm";
	case 0xAA64:
		return "arm64";
	default:
		return "unknown";
	}
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/'), *backslash = strrchr(path, '\\');
	const char *last = slash > backslash ? slash : backslash;
	return last ? last + 1 : path;
}

int winsym_code_id(struct bp_out *out, const struct pe_image *pe, const char *path)
{
	char id[17];
	pe_code_id(pe, id);
	bp_out_printf(out, "INFO CODE_ID %s %s\n", id, path ? base_name(path) : "");
	return out->err;
}

static int print_cfi(const struct pe_unwind *u, void *ctx)
{
	struct bp_out *out = ctx;
	bp_out_printf(out, "STACK CFI INIT %x %x .cfa: $rsp .ra: .cfa %u - ^\n", u->begin, u->end - u->begin,
		      u->rip_offset);
	bp_out_printf(out, "STACK CFI %x .cfa: $rsp %u +\n", u->begin, u->stack_size);
	return out->err;
}

int winsym_stack_cfi(struct bp_out *out, const struct pe_image *pe)
{
	return pe_unwind_info(pe, print_cfi, out);
}

struct bp_out *winsym_open_output(int out_fd, const struct breakpad_input *in, int *rc)
{
	struct bp_out *out = malloc(sizeof *out); /* 64 KiB: not on a worker's stack */
	*rc = out ? 0 : -ENOMEM;
	if (out)
		bp_out_init(out, out_fd, in->max_output);
	return out;
}

int winsym_close_output(struct bp_out *out, int rc, char *err, size_t errlen)
{
	rc = bp_out_finish(out, rc, err, errlen);
	free(out);
	return rc;
}

/* ---- a bare PE image ---- */

struct export_sym {
	uint32_t rva;
	const char *name;
};

struct exports {
	struct export_sym *v;
	size_t n, cap;
};

static int add_export(uint32_t rva, const char *name, void *ctx)
{
	struct exports *e = ctx;
	if (VEC_RESERVE(e->v, e->n, e->cap, 64) < 0)
		return -ENOMEM;
	e->v[e->n++] = (struct export_sym){rva, name};
	return 0;
}

static int by_rva_then_name(const void *a, const void *b)
{
	const struct export_sym *x = a, *y = b;
	if (x->rva != y->rva)
		return x->rva < y->rva ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* PUBLIC per exported address; several names of one address are one
 * record, the least name, marked "m" as Breakpad marks folded symbols. */
static int print_exports(struct bp_out *out, const struct pe_image *pe)
{
	struct exports e = {0};
	int rc = pe_exports(pe, add_export, &e);
	if (rc == 0 && e.n)
		qsort(e.v, e.n, sizeof *e.v, by_rva_then_name);
	for (size_t i = 0; rc == 0 && i < e.n; i++) {
		if (i && e.v[i].rva == e.v[i - 1].rva)
			continue;
		int multiple = i + 1 < e.n && e.v[i + 1].rva == e.v[i].rva;
		bp_out_printf(out, "PUBLIC %s%x 0 ", multiple ? "m " : "", e.v[i].rva);
		rc = bp_out_name(out, e.v[i].name, SIZE_MAX);
	}
	free(e.v);
	return rc;
}

/* The MODULE line: the PDB's identity when the .sym is asked for under the
 * PDB's name (Breakpad's choice), else the image's own. */
static int print_module(struct bp_out *out, const struct pe_image *pe, const struct breakpad_input *in)
{
	uint8_t g[16];
	uint32_t age;
	char pdb[512], id[41];
	const char *cpu = winsym_cpu(pe->machine);
	if (pe_codeview(pe, g, &age, pdb, sizeof pdb) == 0 && strcasecmp(base_name(pdb), in->debug_file) == 0)
	{
		identify_module_id(g, age, id);
		bp_out_printf(out, "MODULE windows %s %s ", cpu, id);
		return bp_out_name(out, base_name(pdb), SIZE_MAX);
	}
	snprintf(id, sizeof id, "%08X%x", pe->timestamp, pe->size_of_image);
	bp_out_printf(out, "MODULE windows %s %s %s\n", cpu, id, in->debug_file);
	return out->err;
}

int winsym_pe_bytes(const void *data, size_t len, const struct breakpad_input *in, int out_fd, char *err,
		    size_t errlen)
{
	struct pe_image pe;
	int rc = pe_open(&pe, data, len, err, errlen);
	if (rc < 0)
		return rc;
	struct bp_out *out = winsym_open_output(out_fd, in, &rc);
	if (!out)
		return say(err, errlen, rc, "out of memory");
	err[0] = '\0';
	rc = print_module(out, &pe, in);
	if (rc == 0)
		rc = winsym_code_id(out, &pe, in->path);
	if (rc == 0 && (rc = print_exports(out, &pe)) == -EINVAL)
		snprintf(err, errlen, "malformed PE export table");
	if (rc == 0 && (rc = winsym_stack_cfi(out, &pe)) == -EINVAL)
		snprintf(err, errlen, "malformed PE exception table");
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return winsym_close_output(out, rc, err, errlen);
}

int winsym_from_pe(const struct breakpad_input *in, int out_fd, char *err, size_t errlen)
{
	struct mapped_file f;
	int rc = map_file(in->path, &f, err, errlen);
	if (rc < 0)
		return rc;
	rc = winsym_pe_bytes(f.data, f.len, in, out_fd, err, errlen);
	unmap_file(&f);
	return rc;
}
