/* dwarf_lines: a compilation unit's line table as Breakpad's line reader
 * records it, then Breakpad's sweep that hands each line to the function
 * whose range holds it.
 *
 * The table is decoded here rather than with libdw's dwarf_getsrclines, for
 * three reasons: libdw keeps every unit's decoded rows (about 40 bytes a
 * row) until dwarf_end, which alone outweighed the rest of a conversion;
 * it sorts rows across sequences, while dump_syms pairs each row with the
 * next one of its own sequence; and it joins a relative include directory
 * without the compilation directory, which dump_syms puts in front. */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"
#include "convert/dwarf_cursor.h"
#include "convert/dwarf_unit.h"

/* ---- the line table header ---- */

static const char *string_at(const struct dw_section *s, uint64_t off)
{
	if (!s->data || off >= s->size || !memchr(s->data + off, 0, s->size - off))
		return NULL;
	return (const char *)s->data + off;
}

struct header {
	int version, offset_size;
	const unsigned char *tables, *end; /* the directory and file tables */
	const unsigned char *program, *program_end;
	unsigned min_inst_length, default_is_stmt, line_range, opcode_base;
	int line_base;
	const unsigned char *opcode_lengths; /* opcode_base - 1 of them */
};

static int read_header(const struct dw_section *line, uint64_t off, struct header *h)
{
	if (!line->data || off >= line->size)
		return -1;
	struct dw_cursor c = {line->data + off, line->data + line->size, 0};
	uint64_t len = cur_initial_length(&c, &h->offset_size);
	if (c.bad || len > (uint64_t)(c.end - c.p))
		return -1;
	c.end = c.p + len;
	h->program_end = c.end;
	h->version = (int)cur_fixed(&c, 2);
	if (h->version < 2 || h->version > 5)
		return -1;
	if (h->version >= 5)
		cur_fixed(&c, 2); /* address and segment selector sizes */
	uint64_t header_len = cur_fixed(&c, (size_t)h->offset_size);
	if (c.bad || header_len > (uint64_t)(c.end - c.p))
		return -1;
	h->end = h->program = c.p + header_len;
	c.end = h->end;
	h->min_inst_length = (unsigned)cur_fixed(&c, 1);
	if (h->version >= 4)
		cur_fixed(&c, 1); /* maximum operations per instruction: dump_syms ignores it */
	h->default_is_stmt = (unsigned)cur_fixed(&c, 1);
	h->line_base = (int8_t)cur_fixed(&c, 1);
	h->line_range = (unsigned)cur_fixed(&c, 1);
	h->opcode_base = (unsigned)cur_fixed(&c, 1);
	h->opcode_lengths = c.p;
	if (h->opcode_base)
		cur_skip(&c, h->opcode_base - 1);
	h->tables = c.p;
	return c.bad || h->line_range == 0 ? -1 : 0;
}

/* ---- names as Breakpad's DwarfLineToModule makes them ---- */

/* ExpandPath: a relative path under `base` (when there is one). */
static char *expand_path(const char *path, const char *base)
{
	size_t pl = strlen(path), bl = base ? strlen(base) : 0;
	int slash = bl && base[bl - 1] != '/';
	char *out = malloc(pl + bl + 2);
	if (!out)
		return NULL;
	if (path[0] == '/' || !bl) {
		memcpy(out, path, pl + 1);
		return out;
	}
	memcpy(out, base, bl);
	if (slash)
		out[bl] = '/';
	memcpy(out + bl + slash, path, pl + 1);
	return out;
}

struct table {
	char **dirs; /* expanded; [0] unused (the compilation directory) */
	size_t ndirs, dirs_cap;
	const char *comp_dir;
};

static int add_dir(struct table *t, const char *name, size_t index)
{
	if (index != t->ndirs) /* only ever appended in order */
		return -1;
	if (VEC_RESERVE(t->dirs, t->ndirs, t->dirs_cap, 16) < 0)
		return -ENOMEM;
	t->dirs[t->ndirs] = index == 0 ? NULL : expand_path(name ? name : "", t->comp_dir);
	if (index != 0 && !t->dirs[t->ndirs])
		return -ENOMEM;
	t->ndirs++;
	return 0;
}

static void free_table(struct table *t)
{
	for (size_t i = 0; i < t->ndirs; i++)
		free(t->dirs[i]);
	free(t->dirs);
}

/* File `index` of the table (they come in order, from 0 or 1). */
static int set_file(struct dw_unit *u, const struct table *t, size_t index, const char *name, uint64_t dir)
{
	const char *base = dir == 0 ? t->comp_dir : dir < t->ndirs ? t->dirs[dir] : "";
	while (index >= u->nfiles) {
		if (VEC_RESERVE(u->files, u->nfiles, u->files_cap, 64) < 0)
			return -ENOMEM;
		u->files[u->nfiles++] = NULL;
	}
	char *full = expand_path(name ? name : "", base);
	if (!full)
		return -ENOMEM;
	u->files[index] = bp_module_file(u->file->m, full, strlen(full));
	free(full);
	return u->files[index] ? 0 : -ENOMEM;
}

static int read_tables_v4(struct dw_unit *u, struct dw_cursor *c, struct table *t)
{
	int rc = add_dir(t, "", 0);
	for (size_t i = 1; rc == 0 && !c->bad && c->p < c->end && *c->p; i++)
		rc = add_dir(t, cur_cstr(c), i);
	cur_fixed(c, 1);
	if (rc == 0)
		rc = set_file(u, t, 0, "", 0);
	for (size_t i = 1; rc == 0 && !c->bad && c->p < c->end && *c->p; i++) {
		const char *name = cur_cstr(c);
		uint64_t dir = cur_uleb(c);
		cur_uleb(c); /* modification time */
		cur_uleb(c); /* length */
		if (!c->bad)
			rc = set_file(u, t, i, name, dir);
	}
	return rc;
}

#define MAX_FORMATS 16

struct entry_format {
	uint64_t type[MAX_FORMATS], form[MAX_FORMATS];
	size_t n;
};

static int read_format(struct dw_cursor *c, struct entry_format *fmt)
{
	fmt->n = (size_t)cur_fixed(c, 1);
	if (fmt->n > MAX_FORMATS)
		return -1;
	for (size_t i = 0; i < fmt->n; i++) {
		fmt->type[i] = cur_uleb(c);
		fmt->form[i] = cur_uleb(c);
	}
	return c->bad ? -1 : 0;
}

/* One field of a DWARF 5 directory or file entry: a string (NULL if not
 * one), a number into *num; -1 for a form this reader does not know. */
static int read_field(struct dw_unit *u, struct dw_cursor *c, int offset_size, uint64_t form, const char **str,
		      uint64_t *num)
{
	const struct dw_sections *s = u->file->sections;
	*str = NULL;
	*num = 0;
	switch (form) {
	case DW_FORM_string:
		*str = cur_cstr(c);
		return 0;
	case DW_FORM_line_strp:
		*str = string_at(&s->line_str, cur_fixed(c, (size_t)offset_size));
		return 0;
	case DW_FORM_strp:
		*str = string_at(&s->str, cur_fixed(c, (size_t)offset_size));
		return 0;
	case DW_FORM_udata:
		*num = cur_uleb(c);
		return 0;
	case DW_FORM_data1:
		*num = cur_fixed(c, 1);
		return 0;
	case DW_FORM_data2:
		*num = cur_fixed(c, 2);
		return 0;
	case DW_FORM_data4:
		*num = cur_fixed(c, 4);
		return 0;
	case DW_FORM_data8:
		*num = cur_fixed(c, 8);
		return 0;
	case DW_FORM_data16:
		cur_skip(c, 16);
		return 0;
	case DW_FORM_block:
		cur_skip(c, cur_uleb(c));
		return 0;
	default:
		return -1;
	}
}

/* A DWARF 5 entry's path and directory index. */
static int read_entry(struct dw_unit *u, struct dw_cursor *c, int offset_size, const struct entry_format *fmt,
		      const char **path, uint64_t *dir)
{
	*path = NULL;
	*dir = 0;
	for (size_t k = 0; k < fmt->n; k++) {
		const char *str;
		uint64_t num;
		if (read_field(u, c, offset_size, fmt->form[k], &str, &num) < 0 || c->bad)
			return -1;
		if (fmt->type[k] == DW_LNCT_path)
			*path = str;
		else if (fmt->type[k] == DW_LNCT_directory_index)
			*dir = num;
	}
	return 0;
}

/* Every entry takes a byte at least: a count the table cannot hold is a lie. */
static int entries_fit(const struct dw_cursor *c, const struct entry_format *fmt, uint64_t n)
{
	return n == 0 || (fmt->n > 0 && n <= (uint64_t)(c->end - c->p));
}

static int read_tables_v5(struct dw_unit *u, struct dw_cursor *c, int offset_size, struct table *t)
{
	struct entry_format fmt;
	const char *path;
	uint64_t dir;
	if (read_format(c, &fmt) < 0)
		return -1;
	uint64_t n = cur_uleb(c);
	int rc = 0;
	if (!entries_fit(c, &fmt, n))
		return -1;
	for (uint64_t i = 0; rc == 0 && i < n; i++) {
		if (read_entry(u, c, offset_size, &fmt, &path, &dir) < 0)
			return -1;
		rc = add_dir(t, path, (size_t)i);
	}
	if (rc < 0 || read_format(c, &fmt) < 0)
		return rc < 0 ? rc : -1;
	n = cur_uleb(c);
	if (!entries_fit(c, &fmt, n))
		return -1;
	for (uint64_t i = 0; rc == 0 && i < n && !c->bad; i++) {
		if (read_entry(u, c, offset_size, &fmt, &path, &dir) < 0)
			return -1;
		rc = set_file(u, t, (size_t)i, path, dir);
	}
	return rc;
}

static int read_file_table(struct dw_unit *u, const struct header *h)
{
	struct dw_cursor c = {h->tables, h->end, 0};
	struct table t = {NULL, 0, 0, u->file->comp_dir};
	int rc = h->version >= 5 ? read_tables_v5(u, &c, h->offset_size, &t) : read_tables_v4(u, &c, &t);
	free_table(&t);
	return rc == -ENOMEM ? rc : 0;
}

/* ---- rows to lines ---- */

static int push_line(struct dw_unit *u, const struct dw_line *l)
{
	if (VEC_RESERVE(u->lines, u->nlines, u->lines_cap, 256) < 0)
		return -ENOMEM;
	u->lines[u->nlines++] = *l;
	return 0;
}

struct pending {
	int have;
	uint64_t addr;
	size_t file;
	int line;
	uint64_t omitted_end; /* lines that continue one at address 0 are dropped too */
};

/* DwarfLineToModule::AddLine */
static int add_line(struct dw_unit *u, struct pending *p, uint64_t length)
{
	uint64_t addr = p->addr;
	if (length == 0)
		return 0;
	if (addr + length < addr)
		length = 0 - addr;
	if (addr == 0 || addr == p->omitted_end) {
		p->omitted_end = addr + length;
		return 0;
	}
	p->omitted_end = 0;
	if (p->file >= u->nfiles || !u->files[p->file])
		return 0;
	struct dw_line l = {addr, length, u->files[p->file], p->line};
	return push_line(u, &l);
}

/* line + delta as Breakpad's 32-bit line register has it: a file may
 * advance it past INT_MAX, which wraps (signed overflow would be UB). */
static int add_wrapping(int line, int64_t delta)
{
	return (int)(int32_t)((uint32_t)line + (uint32_t)(uint64_t)delta);
}

/* The state machine's registers that matter here. */
struct row {
	uint64_t addr;
	size_t file;
	int line;
};

/* Breakpad's LineInfo::ReadLines: a row's line lasts until the next row of
 * its sequence. */
static int emit_row(struct dw_unit *u, struct pending *p, const struct row *r, int end_sequence)
{
	int rc = p->have ? add_line(u, p, r->addr - p->addr) : 0;
	p->have = !end_sequence;
	p->addr = r->addr;
	p->file = r->file;
	p->line = r->line;
	return rc;
}

static void reset_row(struct row *r)
{
	r->addr = 0;
	r->file = 1;
	r->line = 1;
}

/* An extended opcode; 1 if it ended a sequence. */
static int extended_op(struct dw_cursor *c, struct row *r, int address_size)
{
	uint64_t len = cur_uleb(c);
	if (c->bad || len == 0 || len > (uint64_t)(c->end - c->p)) {
		c->bad = 1;
		return 0;
	}
	const unsigned char *next = c->p + len;
	unsigned op = (unsigned)cur_fixed(c, 1);
	if (op == DW_LNE_set_address)
		r->addr = cur_fixed(c, (size_t)address_size);
	c->p = next;
	return op == DW_LNE_end_sequence;
}

/* A standard opcode that does not add a row (Breakpad's handling: the
 * address advances in minimum instruction lengths, operation index and
 * the view are ignored). */
static void standard_op(struct dw_cursor *c, const struct header *h, unsigned op, struct row *r)
{
	switch (op) {
	case DW_LNS_advance_pc:
		r->addr += h->min_inst_length * cur_uleb(c);
		break;
	case DW_LNS_advance_line:
		r->line = add_wrapping(r->line, cur_sleb(c));
		break;
	case DW_LNS_set_file:
		r->file = (uint32_t)cur_uleb(c);
		break;
	case DW_LNS_const_add_pc:
		r->addr += h->min_inst_length * ((255 - h->opcode_base) / h->line_range);
		break;
	case DW_LNS_fixed_advance_pc:
		r->addr += cur_fixed(c, 2);
		break;
	case DW_LNS_set_column:
		cur_uleb(c);
		break;
	case DW_LNS_negate_stmt:
	case DW_LNS_set_basic_block:
		break;
	default: /* unknown: skip the operands the header says it has */
		for (unsigned k = 0; op < h->opcode_base && k < h->opcode_lengths[op - 1]; k++)
			cur_uleb(c);
		break;
	}
}

static int end_sequence(struct dw_unit *u)
{
	if (u->nseqs && u->seq_ends[u->nseqs - 1] == u->nlines)
		return 0;
	if (VEC_RESERVE(u->seq_ends, u->nseqs, u->seqs_cap, 64) < 0)
		return -ENOMEM;
	u->seq_ends[u->nseqs++] = u->nlines;
	return 0;
}

static int run_program(struct dw_unit *u, const struct header *h, int address_size)
{
	struct dw_cursor c = {h->program, h->program_end, 0};
	struct pending p = {0};
	struct row r;
	int rc = 0;
	reset_row(&r);
	while (rc == 0 && !c.bad && c.p < c.end) {
		unsigned op = (unsigned)cur_fixed(&c, 1);
		if (op >= h->opcode_base) {
			op -= h->opcode_base;
			r.addr += (uint64_t)(op / h->line_range) * h->min_inst_length;
			r.line = add_wrapping(r.line, (int64_t)(op % h->line_range) + h->line_base);
			rc = emit_row(u, &p, &r, 0);
		} else if (op == DW_LNS_copy) {
			rc = emit_row(u, &p, &r, 0);
		} else if (op == 0) {
			if (extended_op(&c, &r, address_size)) {
				rc = emit_row(u, &p, &r, 1);
				if (rc == 0)
					rc = end_sequence(u);
				reset_row(&r);
			}
		} else {
			standard_op(&c, h, op, &r);
		}
	}
	return rc;
}

int dw_read_lines(struct dw_unit *u)
{
	const struct dw_section *line = &u->file->sections->line;
	struct header h;
	uint8_t address_size, offset_size;
	uint64_t end;
	int rc = dw_need_unit(line, u->stmt_list, &end);
	if (rc < 0 || read_header(line, u->stmt_list, &h) < 0 ||
	    !dwarf_diecu(&u->die, &(Dwarf_Die){0}, &address_size, &offset_size))
		return rc;
	rc = read_file_table(u, &h);
	if (rc == 0)
		rc = run_program(u, &h, address_size == 4 ? 4 : 8);
	dw_done(line, u->stmt_list, (uint64_t)(h.program_end - line->data));
	return rc;
}

/* ---- lines to functions (Breakpad's AssignLinesToFunctions) ---- */

struct func_range {
	uint64_t addr, size;
	struct bp_func *fn;
	size_t seq; /* ties keep the order they came in */
};

static int by_address(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int func_order(const void *a, const void *b)
{
	const struct bp_func *x = *(const struct bp_func *const *)a, *y = *(const struct bp_func *const *)b;
	int c = by_address(x->addr, y->addr);
	return c ? c : by_address(x->seq, y->seq);
}

static int line_order(const void *a, const void *b)
{
	return by_address(((const struct dw_line *)a)->addr, ((const struct dw_line *)b)->addr);
}

static int range_order(const void *a, const void *b)
{
	const struct func_range *x = a, *y = b;
	int c = by_address(x->addr, y->addr);
	return c ? c : by_address(x->seq, y->seq);
}

static int within(uint64_t start, uint64_t size, uint64_t addr)
{
	return addr - start < size;
}

static struct func_range *sorted_ranges(struct dw_unit *u, size_t *count)
{
	size_t n = 0;
	for (size_t i = 0; i < u->nfuncs; i++)
		n += u->funcs[i]->nranges;
	struct func_range *fr = malloc((n ? n : 1) * sizeof *fr);
	if (!fr)
		return NULL;
	n = 0;
	for (size_t i = 0; i < u->nfuncs; i++)
		for (uint32_t k = 0; k < u->funcs[i]->nranges; k++)
			if (u->funcs[i]->ranges[k].size)
				fr[n] = (struct func_range){u->funcs[i]->ranges[k].addr, u->funcs[i]->ranges[k].size,
							    u->funcs[i], n},
				n++;
	bp_sort(fr, n, sizeof *fr, range_order);
	*count = n;
	return fr;
}

/* The next address where a function range or a line begins or ends. */
static uint64_t next_transition(const struct func_range *r, const struct dw_line *l, uint64_t cur, int *emit)
{
	*emit = 0;
	if (r && cur >= r->addr) {
		if (l && cur >= l->addr) {
			uint64_t r_left = r->size - (cur - r->addr), l_left = l->size - (cur - l->addr);
			*emit = 1;
			return cur + (r_left < l_left ? r_left : l_left);
		}
		return l && within(r->addr, r->size, l->addr) ? l->addr : r->addr + r->size;
	}
	if (l && cur >= l->addr)
		return r && within(l->addr, l->size, r->addr) ? r->addr : l->addr + l->size;
	if (r && l)
		return r->addr < l->addr ? r->addr : l->addr;
	return r ? r->addr : l->addr;
}

struct sequence {
	uint64_t first;
	size_t start, end;
};

static int sequence_order(const void *a, const void *b)
{
	const struct sequence *x = a, *y = b;
	int c = by_address(x->first, y->first);
	return c ? c : by_address(x->start, y->start);
}

/* The unit's lines in address order. Each sequence is in order already, and
 * sequences (one a function, with -ffunction-sections) seldom overlap: put
 * them in order of their first address, and sort only if that is not
 * enough. */
static int sort_lines(struct dw_unit *u)
{
	if (u->nseqs < 2 || u->nlines < 2)
		return bp_sort(u->lines, u->nlines, sizeof *u->lines, line_order), 0;
	struct sequence *seqs = malloc((u->nseqs + 1) * sizeof *seqs); /* + lines after the last end */
	struct dw_line *sorted = malloc(u->nlines * sizeof *sorted);
	if (!seqs || !sorted) {
		free(seqs);
		free(sorted);
		return -ENOMEM;
	}
	size_t n = 0, start = 0, k = 0;
	for (size_t i = 0; i < u->nseqs; start = u->seq_ends[i++])
		if (u->seq_ends[i] > start)
			seqs[n++] = (struct sequence){u->lines[start].addr, start, u->seq_ends[i]};
	if (start < u->nlines)
		seqs[n++] = (struct sequence){u->lines[start].addr, start, u->nlines};
	bp_sort(seqs, n, sizeof *seqs, sequence_order);
	for (size_t i = 0; i < n; i++)
		for (size_t j = seqs[i].start; j < seqs[i].end; j++)
			sorted[k++] = u->lines[j];
	free(seqs);
	free(u->lines);
	u->lines = sorted;
	u->lines_cap = u->nlines;
	bp_sort(u->lines, u->nlines, sizeof *u->lines, line_order);
	return 0;
}

int dw_assign_lines(struct dw_unit *u)
{
	size_t nr;
	if (u->nfuncs)
		bp_sort(u->funcs, u->nfuncs, sizeof *u->funcs, func_order);
	if (sort_lines(u) < 0)
		return -ENOMEM;
	struct func_range *fr = sorted_ranges(u, &nr);
	if (!fr)
		return -ENOMEM;
	size_t ri = 0, li = 0;
	const struct func_range *r = nr ? &fr[0] : NULL;
	const struct dw_line *l = u->nlines ? &u->lines[0] : NULL;
	uint64_t cur = r && l ? (r->addr < l->addr ? r->addr : l->addr) : r ? r->addr : l ? l->addr : UINT64_MAX;
	int rc = 0;
	while ((r || l) && cur != UINT64_MAX && rc == 0) {
		int emit;
		uint64_t next = next_transition(r, l, cur, &emit);
		if (emit)
			rc = bp_func_add_line(r->fn, cur, next - cur, l->number, l->file);
		if (!next || next == UINT64_MAX || next <= cur)
			break;
		while (ri < nr && next >= fr[ri].addr && !within(fr[ri].addr, fr[ri].size, next))
			ri++;
		r = ri < nr ? &fr[ri] : NULL;
		while (li < u->nlines && next >= u->lines[li].addr && !within(u->lines[li].addr, u->lines[li].size, next))
			li++;
		l = li < u->nlines ? &u->lines[li] : NULL;
		cur = next;
	}
	free(fr);
	return rc;
}
