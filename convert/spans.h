/* spans: address spans kept in address order, for the two ways Breakpad's
 * Windows dump_syms builds a function's lines and an inline site's ranges
 * (Lines::AddLine, Inline::ExtendRanges). Each change costs O(log n)
 * expected, so a hostile PDB whose lines come in the worst order still
 * converts in near-linear time (a sorted array with memmove was quadratic).
 * A treap in one pool, its nodes also linked in address order for walks. */
#ifndef SYMBOLD_SPANS_H
#define SYMBOLD_SPANS_H

#include <stddef.h>
#include <stdint.h>

struct span {
	uint32_t rva, len;
	uint32_t line, file; /* a line's; unused for ranges */
};

#define SPAN_NONE UINT32_MAX

struct span_node;

struct spans {
	struct span_node *v; /* the pool: nodes are indices into it, so it may grow */
	size_t n, cap;
	uint32_t root;  /* of the tree, by rva */
	uint32_t first; /* of the list, in rva order */
	uint32_t free;  /* nodes removed, for reuse */
};

void spans_init(struct spans *t);
/* Empties it, keeping its memory. */
void spans_clear(struct spans *t);
void spans_free(struct spans *t);

/* Lines::AddLine: s (len > 0) replaces whatever part of the spans there it
 * covers; what sticks out on either side stays. Spans never overlap.
 * 0 or -ENOMEM (unchanged). */
int spans_paint(struct spans *t, struct span s);

/* Lines::GetLine: the span covering rva, or NULL. */
const struct span *spans_at(const struct spans *t, uint32_t rva);

/* Inline::ExtendRanges: a span that continues one (ends where the next
 * starts, or starts where the one before ends) extends it; one starting at
 * or before every span is dropped; otherwise it is added. 0 or -ENOMEM. */
int spans_extend(struct spans *t, uint32_t rva, uint32_t len);

/* In rva order: for (const struct span *s = spans_first(t); s; s = spans_next(t, s)) */
const struct span *spans_first(const struct spans *t);
const struct span *spans_next(const struct spans *t, const struct span *s);

#endif
