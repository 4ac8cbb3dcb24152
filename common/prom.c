#include "common/prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const double prom_duration_bounds[PROM_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
						   2.5,   5,    10,    30,   60,  120,  300, 600};

void prom_observe(struct prom_histogram *h, double seconds)
{
	size_t i = 0;
	if (seconds < 0)
		seconds = 0;
	while (i < PROM_BUCKETS && seconds > prom_duration_bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5), memory_order_relaxed);
}

/* HELP text escapes only \ and newline (a quote is itself there). */
static int escape_help(struct buf *out, const char *text)
{
	int rc = 0;
	for (const char *p = text; *p && rc == 0; p++)
		rc = *p == '\\' ? buf_puts(out, "\\\\") : *p == '\n' ? buf_puts(out, "\\n") : buf_append(out, p, 1);
	return rc;
}

int prom_escape_label(struct buf *out, const char *value)
{
	int rc = 0;
	for (const char *p = value; *p && rc == 0; p++) {
		if (*p == '\\')
			rc = buf_puts(out, "\\\\");
		else if (*p == '"')
			rc = buf_puts(out, "\\\"");
		else if (*p == '\n')
			rc = buf_puts(out, "\\n");
		else
			rc = buf_append(out, p, 1);
	}
	return rc;
}

int prom_family(struct buf *out, const char *name, const char *type, const char *help)
{
	int rc = buf_printf(out, "# HELP %s ", name);
	if (rc == 0)
		rc = escape_help(out, help);
	if (rc == 0)
		rc = buf_printf(out, "\n# TYPE %s %s\n", name, type);
	return rc;
}

/* name{a="x",b="y"} — or the bare name when there are no labels. */
static int sample_head(struct buf *out, const char *name, const struct prom_label *labels, size_t n)
{
	int rc = buf_puts(out, name);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = buf_printf(out, "%s%s=\"", i ? "," : "{", labels[i].name);
		if (rc == 0)
			rc = prom_escape_label(out, labels[i].value);
		if (rc == 0)
			rc = buf_puts(out, "\"");
	}
	if (rc == 0 && n)
		rc = buf_puts(out, "}");
	return rc;
}

int prom_u64(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels, uint64_t value)
{
	int rc = sample_head(out, name, labels, nlabels);
	return rc ? rc : buf_printf(out, " %llu\n", (unsigned long long)value);
}

int prom_i64(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels, long long value)
{
	int rc = sample_head(out, name, labels, nlabels);
	return rc ? rc : buf_printf(out, " %lld\n", value);
}

int prom_f64(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels, double value)
{
	int rc = sample_head(out, name, labels, nlabels);
	if (rc)
		return rc;
	/* the format's own spellings, not printf's "nan" and "inf" */
	if (isnan(value))
		return buf_puts(out, " NaN\n");
	if (isinf(value))
		return buf_puts(out, value > 0 ? " +Inf\n" : " -Inf\n");
	return buf_printf(out, " %.6f\n", value);
}

#define LABELS_MAX 8

int prom_histogram_render(struct buf *out, const char *name, const struct prom_label *labels, size_t nlabels,
			  const struct prom_histogram *h)
{
	char metric[128], le[32];
	struct prom_label with_le[LABELS_MAX + 1];
	uint64_t cumulative = 0;
	int rc = 0;
	if (nlabels > LABELS_MAX)
		return -1;
	memcpy(with_le, labels, nlabels * sizeof *labels);
	with_le[nlabels] = (struct prom_label){"le", le};
	snprintf(metric, sizeof metric, "%s_bucket", name);
	for (size_t i = 0; i <= PROM_BUCKETS && rc == 0; i++) {
		cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		if (i < PROM_BUCKETS)
			snprintf(le, sizeof le, "%g", prom_duration_bounds[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		rc = prom_u64(out, metric, with_le, nlabels + 1, cumulative);
	}
	snprintf(metric, sizeof metric, "%s_sum", name);
	if (rc == 0)
		rc = prom_f64(out, metric, labels, nlabels,
			      (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
	snprintf(metric, sizeof metric, "%s_count", name);
	if (rc == 0)
		rc = prom_u64(out, metric, labels, nlabels, cumulative);
	return rc;
}
