#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

static struct logring global_ring;
static int global_ready;
static int global_echo;

int logring_init(struct logring *r, size_t cap)
{
	r->lines = calloc(cap ? cap : 1, sizeof *r->lines);
	if (!r->lines)
		return -ENOMEM;
	r->cap = cap ? cap : 1;
	r->start = r->count = 0;
	pthread_mutex_init(&r->mu, NULL);
	return 0;
}

void logring_free(struct logring *r)
{
	if (!r->lines)
		return;
	for (size_t i = 0; i < r->count; i++)
		free(r->lines[(r->start + i) % r->cap]);
	free(r->lines);
	r->lines = NULL;
	pthread_mutex_destroy(&r->mu);
}

void logring_add(struct logring *r, const char *line)
{
	char *copy = strdup(line);
	if (!copy)
		return; /* out of memory: the line is lost, the daemon goes on */
	pthread_mutex_lock(&r->mu);
	if (r->count == r->cap) {
		free(r->lines[r->start]);
		r->lines[r->start] = copy;
		r->start = (r->start + 1) % r->cap;
	} else {
		r->lines[(r->start + r->count) % r->cap] = copy;
		r->count++;
	}
	pthread_mutex_unlock(&r->mu);
}

int logring_render(struct logring *r, struct buf *out)
{
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->count && rc == 0; i++) {
		rc = buf_puts(out, r->lines[(r->start + i) % r->cap]);
		if (rc == 0)
			rc = buf_append(out, "\n", 1);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int log_init(size_t cap, int echo_stderr)
{
	int rc = logring_init(&global_ring, cap);
	if (rc == 0)
		global_ready = 1;
	global_echo = echo_stderr;
	return rc;
}

void log_shutdown(void)
{
	if (global_ready)
		logring_free(&global_ring);
	global_ready = 0;
}

struct logring *log_global(void)
{
	return &global_ring;
}

static void emit_global(const char *line)
{
	if (global_ready)
		logring_add(&global_ring, line);
	if (global_echo || !global_ready)
		fprintf(stderr, "symbold: %s\n", line);
}

/* "TIME " + formatted message, cut at a sane length so one bad upstream
 * reason cannot flood memory. */
static void format_line(char *out, size_t outlen, const char *prefix, const char *fmt, va_list ap)
{
	char when[32];
	clock_fmt_utc(clock_wall(), when);
	int n = snprintf(out, outlen, "%s %s", when, prefix);
	if (n < 0 || (size_t)n >= outlen)
		return;
	vsnprintf(out + n, outlen - (size_t)n, fmt, ap);
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

void log_msg(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	format_line(line, sizeof line, "", fmt, ap);
	va_end(ap);
	emit_global(line);
}

void log_server(struct logring *ring, const char *name, const char *fmt, ...)
{
	char line[2048], tagged[2200];
	va_list ap;
	va_start(ap, fmt);
	format_line(line, sizeof line, "", fmt, ap);
	va_end(ap);
	if (ring)
		logring_add(ring, line);
	/* same time stamp, the server's name after it */
	snprintf(tagged, sizeof tagged, "%.20s [%s]%s", line, name, line + 20);
	emit_global(tagged);
}
