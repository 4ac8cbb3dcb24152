/* prom: Prometheus text exposition 0.0.4 as .symbold/metrics writes it —
 * label values escaped (server names are the operator's), HELP escaped, a
 * histogram's buckets cumulative up to +Inf with _sum and _count. */
#include "common/prom.h"

#include "tests/unit/tap.h"

#include <math.h>
#include <string.h>

static char *render_sample(const char *value)
{
	static struct buf out;
	buf_free(&out);
	out = (struct buf)BUF_INIT;
	prom_u64(&out, "m_total", &(struct prom_label){"server", value}, 1, 7);
	return out.data;
}

static void test_escaping(void)
{
	is_str(render_sample("plain"), "m_total{server=\"plain\"} 7\n", "a plain label value as it is");
	is_str(render_sample("a\\b"), "m_total{server=\"a\\\\b\"} 7\n", "backslash doubled");
	is_str(render_sample("say \"hi\""), "m_total{server=\"say \\\"hi\\\"\"} 7\n", "quotes escaped");
	is_str(render_sample("two\nlines"), "m_total{server=\"two\\nlines\"} 7\n", "newline as \\n");
	is_str(render_sample(""), "m_total{server=\"\"} 7\n", "an empty value");

	struct buf out = BUF_INIT;
	prom_family(&out, "m_total", "counter", "a \\ and a\nnewline, \"quoted\"");
	is_str(out.data, "# HELP m_total a \\\\ and a\\nnewline, \"quoted\"\n# TYPE m_total counter\n",
	       "HELP escapes backslash and newline only");
	buf_free(&out);
}

static void test_samples(void)
{
	struct buf out = BUF_INIT;
	struct prom_label two[] = {{"server", "s"}, {"outcome", "stored"}};
	prom_u64(&out, "a_total", NULL, 0, 18446744073709551615ULL);
	prom_i64(&out, "b", NULL, 0, -3);
	prom_f64(&out, "c_seconds", two, 2, 1.5);
	is_str(out.data, "a_total 18446744073709551615\nb -3\nc_seconds{server=\"s\",outcome=\"stored\"} 1.500000\n",
	       "samples: no labels, negative gauge, two labels and a float");
	buf_free(&out);
	prom_f64(&out, "d", NULL, 0, NAN);
	prom_f64(&out, "e", NULL, 0, INFINITY);
	prom_f64(&out, "f", NULL, 0, -INFINITY);
	is_str(out.data, "d NaN\ne +Inf\nf -Inf\n", "NaN and infinities as the format spells them");
	buf_free(&out);
}

static void test_histogram(void)
{
	struct prom_histogram h;
	memset(&h, 0, sizeof h);
	prom_observe(&h, 0.001);  /* le=0.005 */
	prom_observe(&h, 0.005);  /* le=0.005: a bound is inclusive */
	prom_observe(&h, 0.2);    /* le=0.25 */
	prom_observe(&h, 700);    /* +Inf only */
	prom_observe(&h, -1);     /* a clock step: 0 */
	struct buf out = BUF_INIT;
	prom_histogram_render(&out, "d_seconds", &(struct prom_label){"server", "x"}, 1, &h);
	const char *want_lines[] = {
		"d_seconds_bucket{server=\"x\",le=\"0.005\"} 3\n",
		"d_seconds_bucket{server=\"x\",le=\"0.1\"} 3\n",
		"d_seconds_bucket{server=\"x\",le=\"0.25\"} 4\n",
		"d_seconds_bucket{server=\"x\",le=\"600\"} 4\n",
		"d_seconds_bucket{server=\"x\",le=\"+Inf\"} 5\n",
		"d_seconds_sum{server=\"x\"} 700.206000\n",
		"d_seconds_count{server=\"x\"} 5\n",
	};
	for (size_t i = 0; i < sizeof want_lines / sizeof *want_lines; i++)
		ok(strstr(out.data, want_lines[i]) != NULL, "histogram has %.*s", (int)strlen(want_lines[i]) - 1,
		   want_lines[i]);
	int buckets = 0;
	for (const char *p = out.data; (p = strstr(p, "_bucket{")); p++)
		buckets++;
	is_int(buckets, PROM_BUCKETS + 1, "one line per bound and +Inf");
	ok(prom_duration_bounds[0] == 0.005 && prom_duration_bounds[PROM_BUCKETS - 1] == 600,
	   "buckets from 5 ms to 10 min");
	int rising = 1;
	for (int i = 1; i < PROM_BUCKETS; i++)
		rising &= prom_duration_bounds[i] > prom_duration_bounds[i - 1];
	ok(rising, "bounds rise");
	buf_free(&out);
}

int main(void)
{
	test_escaping();
	test_samples();
	test_histogram();
	return tap_done();
}
