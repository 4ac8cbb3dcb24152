#include "convert/spans.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/vec.h"

struct span_node {
	struct span s; /* first: spans_next finds its node from it */
	uint32_t priority;
	uint32_t left, right; /* the tree: a heap by priority, ordered by rva */
	uint32_t prev, next;  /* the list in rva order; next links the free nodes */
};

/* Random priorities keep the tree's depth logarithmic whatever order the
 * spans come in. Seeded unpredictably (the clock, an address under ASLR),
 * so that a hostile file cannot pick addresses that make it a chain: split
 * and merge recurse as deep as the tree. */
static uint32_t next_priority(void)
{
	static _Thread_local uint64_t state;
	if (state == 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		state = ((uint64_t)now.tv_nsec << 32 ^ (uint64_t)now.tv_sec ^ (uintptr_t)&now) | 1;
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (uint32_t)(state * 0x2545F4914F6CDD1DULL >> 32);
}

void spans_init(struct spans *t)
{
	*t = (struct spans){NULL, 0, 0, SPAN_NONE, SPAN_NONE, SPAN_NONE};
}

void spans_clear(struct spans *t)
{
	t->n = 0;
	t->root = t->first = t->free = SPAN_NONE;
}

void spans_free(struct spans *t)
{
	free(t->v);
	spans_init(t);
}

/* Room for `more` nodes, so that a change cannot fail half done. */
static int reserve_nodes(struct spans *t, size_t more)
{
	if (t->n >= SPAN_NONE - more)
		return -ENOMEM;
	return VEC_ROOM(t->v, t->n, t->cap, more, 16) < 0 ? -ENOMEM : 0;
}

static uint32_t take_node(struct spans *t, struct span s)
{
	uint32_t i = t->free;
	if (i != SPAN_NONE)
		t->free = t->v[i].next;
	else
		i = (uint32_t)t->n++;
	t->v[i] = (struct span_node){s, next_priority(), SPAN_NONE, SPAN_NONE, SPAN_NONE, SPAN_NONE};
	return i;
}

static void release_node(struct spans *t, uint32_t i)
{
	t->v[i].next = t->free;
	t->free = i;
}

/* a before b in the list (either may be SPAN_NONE) */
static void link_nodes(struct spans *t, uint32_t a, uint32_t b)
{
	if (a != SPAN_NONE)
		t->v[a].next = b;
	else
		t->first = b;
	if (b != SPAN_NONE)
		t->v[b].prev = a;
}

static uint64_t end_of(const struct span_node *n)
{
	return (uint64_t)n->s.rva + n->s.len;
}

/* The tree at `node` as the nodes before `rva` (*below) and the rest (*from). */
static void split(struct span_node *v, uint32_t node, uint32_t rva, uint32_t *below, uint32_t *from)
{
	if (node == SPAN_NONE) {
		*below = *from = SPAN_NONE;
	} else if (v[node].s.rva < rva) {
		split(v, v[node].right, rva, &v[node].right, from);
		*below = node;
	} else {
		split(v, v[node].left, rva, below, &v[node].left);
		*from = node;
	}
}

/* One tree of a and b, every node of a being before every node of b. */
static uint32_t merge(struct span_node *v, uint32_t a, uint32_t b)
{
	if (a == SPAN_NONE)
		return b;
	if (b == SPAN_NONE)
		return a;
	if (v[a].priority > v[b].priority) {
		v[a].right = merge(v, v[a].right, b);
		return a;
	}
	v[b].left = merge(v, a, v[b].left);
	return b;
}

static uint32_t last_of(const struct span_node *v, uint32_t node)
{
	while (node != SPAN_NONE && v[node].right != SPAN_NONE)
		node = v[node].right;
	return node;
}

/* The first node of the part of the list after `pred` (the whole list if none). */
static uint32_t after(const struct spans *t, uint32_t pred)
{
	return pred != SPAN_NONE ? t->v[pred].next : t->first;
}

/* What of `old` lies past `end`, as *tail; 1 if anything (and `end` is an rva). */
static int tail_past(const struct span_node *old, uint64_t end, struct span *tail)
{
	if (end_of(old) <= end || end > UINT32_MAX)
		return 0;
	*tail = old->s;
	tail->rva = (uint32_t)end;
	tail->len = (uint32_t)(end_of(old) - end);
	return 1;
}

/* Releases the nodes from `node` on that start before `end` (the list
 * still links them; the tree no longer holds them); what the last sticks
 * out past `end` goes to *tail. Returns the first node kept. */
static uint32_t release_covered(struct spans *t, uint32_t node, uint64_t end, struct span *tail, int *has_tail)
{
	while (node != SPAN_NONE && t->v[node].s.rva < end) {
		uint32_t next = t->v[node].next;
		*has_tail |= tail_past(&t->v[node], end, tail);
		release_node(t, node);
		node = next;
	}
	return node;
}

int spans_paint(struct spans *t, struct span s)
{
	if (reserve_nodes(t, 2) < 0)
		return -ENOMEM;
	uint64_t end = (uint64_t)s.rva + s.len;
	uint32_t below, from, covered, beyond = SPAN_NONE;
	split(t->v, t->root, s.rva, &below, &from);
	if (end <= UINT32_MAX)
		split(t->v, from, (uint32_t)end, &covered, &beyond);
	uint32_t pred = last_of(t->v, below);
	struct span tail;
	int has_tail = 0;
	if (pred != SPAN_NONE && end_of(&t->v[pred]) > s.rva) { /* the one before runs into s: cut it */
		has_tail = tail_past(&t->v[pred], end, &tail);
		t->v[pred].s.len = s.rva - t->v[pred].s.rva;
	}
	uint32_t succ = release_covered(t, after(t, pred), end, &tail, &has_tail);
	uint32_t added = take_node(t, s), last = added;
	link_nodes(t, pred, added);
	if (has_tail) {
		last = take_node(t, tail);
		link_nodes(t, added, last);
		beyond = merge(t->v, last, beyond);
	}
	link_nodes(t, last, succ);
	t->root = merge(t->v, merge(t->v, below, added), beyond);
	return 0;
}

const struct span *spans_at(const struct spans *t, uint32_t rva)
{
	uint32_t node = t->root, found = SPAN_NONE; /* the last starting at or before rva */
	while (node != SPAN_NONE) {
		if (t->v[node].s.rva <= rva) {
			found = node;
			node = t->v[node].right;
		} else {
			node = t->v[node].left;
		}
	}
	return found != SPAN_NONE && rva - t->v[found].s.rva < t->v[found].s.len ? &t->v[found].s : NULL;
}

int spans_extend(struct spans *t, uint32_t rva, uint32_t len)
{
	if (reserve_nodes(t, 1) < 0)
		return -ENOMEM;
	uint32_t below, from, added = SPAN_NONE;
	split(t->v, t->root, rva, &below, &from);
	uint32_t pred = last_of(t->v, below), succ = after(t, pred);
	if (pred == SPAN_NONE && succ != SPAN_NONE) {
		/* at or before every span: dropped */
	} else if (succ != SPAN_NONE && (uint64_t)rva + len == t->v[succ].s.rva) {
		t->v[succ].s.rva = rva; /* still after every node below */
		t->v[succ].s.len += len;
	} else if (pred != SPAN_NONE && end_of(&t->v[pred]) == rva) {
		t->v[pred].s.len += len;
	} else {
		added = take_node(t, (struct span){rva, len, 0, 0});
		link_nodes(t, pred, added);
		link_nodes(t, added, succ);
	}
	t->root = merge(t->v, below, merge(t->v, added, from));
	return 0;
}

const struct span *spans_first(const struct spans *t)
{
	return t->first != SPAN_NONE ? &t->v[t->first].s : NULL;
}

const struct span *spans_next(const struct spans *t, const struct span *s)
{
	uint32_t next = ((const struct span_node *)s)->next;
	return next != SPAN_NONE ? &t->v[next].s : NULL;
}
