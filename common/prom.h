/* prom: Prometheus's text exposition format 0.0.4, written — a family's
 * HELP and TYPE lines, its samples with their labels escaped as the format
 * says, histograms — and the histogram of durations itself, which the hot
 * paths fill with two relaxed atomic adds (no lock: a fetch's thread must
 * never wait for a scrape). Only text: serving it is someone else's
 * (.symbold/metrics, read by node-exporter's textfile collector). */
#ifndef SYMBOLD_PROM_H
#define SYMBOLD_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The upper bounds of a duration histogram's buckets, in seconds: from a
 * local hit (5 ms) to the longest transfer a server may take (10 min). */
#define PROM_BUCKETS 16
extern const double prom_duration_bounds[PROM_BUCKETS];

struct prom_histogram {
	_Atomic uint64_t counts[PROM_BUCKETS + 1]; /* per bucket, not cumulative; the last is above every bound */
	_Atomic uint64_t sum_us;                   /* microseconds: no atomic add of doubles */
};

/* One observation, in seconds (a negative one counts as 0). Thread-safe, lock-free. */
void prom_observe(struct prom_histogram *h, double seconds);

struct prom_label {
	const char *name, *value;
};

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * histogram); every family once, before its samples, which must follow
 * together. */
int prom_family(struct buf *out, const char *name, const char *type, const char *help);

/* One sample line: name{labels} value (a double's NaN and infinities as
 * NaN, +Inf, -Inf). */
int prom_u64(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels, uint64_t value);
int prom_i64(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels, long long value);
int prom_f64(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels, double value);

/* A histogram's samples: name_bucket{labels,le="..."} cumulative, up to
 * le="+Inf", then name_sum and name_count (the +Inf bucket's count, so the
 * two always agree). */
int prom_histogram_render(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels,
			  const struct prom_histogram *h);

/* A label value as the format wants it inside its quotes: \ " and newline
 * escaped. */
int prom_escape_label(struct buf *out, const char *value);

#endif
