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

/* lines not yet handed to log_drain */
struct unsaved {
	struct unsaved *next;
	char *server, *line;
};
static pthread_mutex_t unsaved_mu = PTHREAD_MUTEX_INITIALIZER;
static struct unsaved *unsaved_head, **unsaved_tail = &unsaved_head;
static size_t unsaved_count;

static void unsaved_free(struct unsaved *u)
{
	free(u->server);
	free(u->line);
	free(u);
}

static void queue_unsaved(const char *server, const char *line)
{
	struct unsaved *u = calloc(1, sizeof *u);
	if (!u || !(u->server = strdup(server)) || !(u->line = strdup(line))) {
		if (u)
			unsaved_free(u);
		return; /* out of memory: the line stays in memory only */
	}
	pthread_mutex_lock(&unsaved_mu);
	*unsaved_tail = u;
	unsaved_tail = &u->next;
	if (++unsaved_count > LOG_UNSAVED_MAX) {
		struct unsaved *old = unsaved_head;
		unsaved_head = old->next;
		unsaved_count--;
		unsaved_free(old);
	}
	pthread_mutex_unlock(&unsaved_mu);
}

int log_drain(log_drain_fn fn, void *ctx)
{
	pthread_mutex_lock(&unsaved_mu);
	struct unsaved *list = unsaved_head;
	unsaved_head = NULL;
	unsaved_tail = &unsaved_head;
	unsaved_count = 0;
	pthread_mutex_unlock(&unsaved_mu);
	int rc = 0;
	while (list) {
		struct unsaved *u = list;
		if (rc == 0 && (rc = fn(u->server, u->line, ctx)) != 0) {
			/* give back what was not taken, ahead of newer lines */
			pthread_mutex_lock(&unsaved_mu);
			struct unsaved *last = u;
			size_t n = 1;
			while (last->next) {
				last = last->next;
				n++;
			}
			last->next = unsaved_head;
			if (!unsaved_head)
				unsaved_tail = &last->next;
			unsaved_head = u;
			unsaved_count += n;
			pthread_mutex_unlock(&unsaved_mu);
			return rc;
		}
		list = u->next;
		unsaved_free(u);
	}
	return rc;
}

void log_tag(const char *line, const char *name, char *out, size_t outlen)
{
	/* the time stamp is the first 20 characters */
	snprintf(out, outlen, "%.20s [%s]%s", line, name, strlen(line) > 20 ? line + 20 : "");
}

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

void logring_clear(struct logring *r)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->count; i++)
		free(r->lines[(r->start + i) % r->cap]);
	r->start = r->count = 0;
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
	pthread_mutex_lock(&unsaved_mu);
	while (unsaved_head) {
		struct unsaved *u = unsaved_head;
		unsaved_head = u->next;
		unsaved_free(u);
	}
	unsaved_tail = &unsaved_head;
	unsaved_count = 0;
	pthread_mutex_unlock(&unsaved_mu);
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
	queue_unsaved("", line);
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
	log_tag(line, name, tagged, sizeof tagged);
	emit_global(tagged);
	queue_unsaved(name, line);
}
