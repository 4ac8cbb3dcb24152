/* bp_module_write: the .sym text, record for record as Breakpad's
 * Module::Write lays it out (with dump_syms -m -d: the `m` flag and inline
 * records). */
#include "convert/bp_module.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"
#include "convert/bp_writer.h"

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct bp_file *const *)a)->name, (*(const struct bp_file *const *)b)->name);
}

static int names_in_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int funcs_in_order(const void *a, const void *b)
{
	const struct bp_func *x = *(const struct bp_func *const *)a, *y = *(const struct bp_func *const *)b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Visits every inline of a tree in the order Breakpad writes them (each
 * call before the calls inlined into it). */
typedef int (*inline_fn)(struct bp_inline *in, void *ctx);
static int each_inline(struct bp_inline *in, inline_fn fn, void *ctx)
{
	for (; in; in = in->next) {
		int rc = fn(in, ctx);
		if (rc == 0)
			rc = each_inline(in->children, fn, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int mark_call_file(struct bp_inline *in, void *ctx)
{
	(void)ctx;
	if (in->call_file)
		((struct bp_file *)in->call_file)->id = 0;
	return 0;
}

/* Files get ids in name order, counting only those a line or an inlined
 * call cites; the cited ones, in that order, into *cited (malloc'd). */
static int number_files(struct bp_module *m, struct bp_file ***cited, size_t *ncited)
{
	for (size_t i = 0; i < m->nfiles; i++)
		m->files[i]->id = -1;
	for (size_t i = 0; i < m->nfuncs; i++) {
		struct bp_line_reader r;
		for (bp_lines_begin(&r, m->funcs[i]); bp_lines_next(&r);)
			m->files[r.line.file]->id = 0;
		each_inline(m->funcs[i]->inlines, mark_call_file, NULL);
	}
	size_t n = 0;
	struct bp_file **list = malloc((m->nfiles ? m->nfiles : 1) * sizeof *list);
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < m->nfiles; i++)
		if (m->files[i]->id == 0)
			list[n++] = m->files[i];
	bp_sort(list, n, sizeof *list, by_name);
	for (size_t i = 0; i < n; i++)
		list[i]->id = (int)i;
	*cited = list;
	*ncited = n;
	return 0;
}

struct origin_names {
	const char **names;
	size_t n, cap;
	struct u64map seen; /* interned name -> id */
};

static int collect_origin(struct bp_inline *in, void *ctx)
{
	struct origin_names *o = ctx;
	uint64_t v;
	if (u64map_get(&o->seen, (uintptr_t)in->origin->name, &v))
		return 0;
	if (VEC_RESERVE(o->names, o->n, o->cap, 64) < 0)
		return -ENOMEM;
	o->names[o->n++] = in->origin->name;
	return u64map_put(&o->seen, (uintptr_t)in->origin->name, 0);
}

/* Origins are told apart by name alone, and numbered in name order. */
static int number_origins(struct bp_module *m, struct origin_names *o)
{
	for (size_t i = 0; i < m->nfuncs; i++)
		if (each_inline(m->funcs[i]->inlines, collect_origin, o) < 0)
			return -ENOMEM;
	if (o->n)
		bp_sort(o->names, o->n, sizeof *o->names, names_in_order);
	for (size_t i = 0; i < o->n; i++)
		if (u64map_put(&o->seen, (uintptr_t)o->names[i], i) < 0)
			return -ENOMEM;
	return 0;
}

struct inline_writer {
	struct bp_out *out;
	const struct u64map *origin_ids;
	uint64_t load;
};

static int write_inline(struct bp_inline *in, void *ctx)
{
	struct inline_writer *w = ctx;
	uint64_t id = 0;
	u64map_get(w->origin_ids, (uintptr_t)in->origin->name, &id);
	bp_out_str(w->out, "INLINE ");
	bp_out_dec(w->out, in->nest);
	bp_out_char(w->out, ' ');
	bp_out_dec(w->out, in->call_line);
	bp_out_char(w->out, ' ');
	bp_out_dec(w->out, in->call_file ? in->call_file->id : -1);
	bp_out_char(w->out, ' ');
	bp_out_dec(w->out, (int64_t)id);
	for (uint32_t i = 0; i < in->nranges; i++) {
		bp_out_char(w->out, ' ');
		bp_out_hex(w->out, in->ranges[i].addr - w->load);
		bp_out_char(w->out, ' ');
		bp_out_hex(w->out, in->ranges[i].size);
	}
	bp_out_char(w->out, '\n');
	return 0;
}

static void write_line(struct bp_out *out, uint64_t addr, const struct bp_line *l, int file_id)
{
	bp_out_hex(out, addr);
	bp_out_char(out, ' ');
	bp_out_hex(out, l->size);
	bp_out_char(out, ' ');
	bp_out_dec(out, l->number);
	bp_out_char(out, ' ');
	bp_out_dec(out, file_id);
	bp_out_char(out, '\n');
}

/* One FUNC record per range, each followed by all the function's inlines
 * and by its lines that fall in that range, taken in order: Breakpad's
 * Module::Write does exactly this. */
static void write_function(struct bp_out *out, struct bp_func *f, struct inline_writer *iw,
			   struct bp_file *const *files, uint64_t load)
{
	struct bp_line_reader lines;
	bp_lines_begin(&lines, f);
	int more = bp_lines_next(&lines);
	for (uint32_t r = 0; r < f->nranges; r++) {
		const struct bp_range *range = &f->ranges[r];
		bp_out_str(out, f->multiple ? "FUNC m " : "FUNC ");
		bp_out_hex(out, range->addr - load);
		bp_out_char(out, ' ');
		bp_out_hex(out, range->size);
		bp_out_str(out, " 0 ");
		bp_out_name(out, f->name, SIZE_MAX);
		each_inline(f->inlines, write_inline, iw);
		for (; more; more = bp_lines_next(&lines)) {
			uint64_t addr = f->addr + lines.line.offset;
			if (addr < range->addr || addr - range->addr >= range->size)
				break;
			write_line(out, addr - load, &lines.line, files[lines.line.file]->id);
		}
	}
}

static void write_publics(struct bp_out *out, const struct bp_module *m)
{
	for (size_t i = 0; i < m->nexterns; i++) {
		const struct bp_extern *e = &m->externs[i];
		if (e->removed)
			continue;
		bp_out_str(out, e->multiple ? "PUBLIC m " : "PUBLIC ");
		bp_out_hex(out, e->addr - m->load_address);
		bp_out_str(out, " 0 ");
		bp_out_name(out, e->name, SIZE_MAX);
	}
}

static void write_header(struct bp_out *out, const struct bp_module *m)
{
	bp_out_str(out, "MODULE ");
	bp_out_str(out, m->os);
	bp_out_char(out, ' ');
	bp_out_str(out, m->arch);
	bp_out_char(out, ' ');
	bp_out_str(out, m->id);
	bp_out_char(out, ' ');
	bp_out_name(out, m->name, SIZE_MAX);
	if (m->code_id && m->code_id[0]) {
		bp_out_str(out, "INFO CODE_ID ");
		bp_out_str(out, m->code_id);
		bp_out_char(out, '\n');
	}
}

static void write_files(struct bp_out *out, struct bp_file *const *cited, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bp_out_str(out, "FILE ");
		bp_out_dec(out, cited[i]->id);
		bp_out_char(out, ' ');
		bp_out_name(out, cited[i]->name, SIZE_MAX);
	}
}

int bp_module_write(struct bp_module *m, struct bp_out *out)
{
	struct origin_names origins = {0};
	struct bp_file **cited = NULL;
	size_t ncited = 0;
	u64map_init(&origins.seen);
	int rc = number_origins(m, &origins);
	if (rc == 0)
		rc = number_files(m, &cited, &ncited);
	if (rc == 0) {
		if (m->nfuncs)
			bp_sort(m->funcs, m->nfuncs, sizeof *m->funcs, funcs_in_order);
		write_header(out, m);
		write_files(out, cited, ncited);
		for (size_t i = 0; i < origins.n; i++) {
			bp_out_str(out, "INLINE_ORIGIN ");
			bp_out_dec(out, (int64_t)i);
			bp_out_char(out, ' ');
			bp_out_name(out, origins.names[i], SIZE_MAX);
		}
		struct inline_writer iw = {out, &origins.seen, m->load_address};
		for (size_t i = 0; i < m->nfuncs; i++)
			write_function(out, m->funcs[i], &iw, m->files, m->load_address);
		write_publics(out, m);
	}
	free(cited);
	free(origins.names);
	u64map_free(&origins.seen);
	return rc;
}
