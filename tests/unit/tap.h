/* tap: the few TAP helpers every C unit test uses. Each test binary prints
 * "ok N - what" / "not ok N - what" lines and a plan, and exits non-zero if
 * anything failed; tests/run counts the lines. */
#ifndef SYMBOLD_TAP_H
#define SYMBOLD_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 4, 5))) static int tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("%sok %d - ", pass ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	return pass;
}

#define TAP_MSG(buf, fmt)                                                                          \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vsnprintf(buf, sizeof buf, fmt, ap);                                               \
		va_end(ap);                                                                        \
	} while (0)

__attribute__((format(printf, 5, 6))) static int tap_is_int(long long got, long long want, const char *file,
							    int line, const char *fmt, ...)
{
	char msg[512];
	TAP_MSG(msg, fmt);
	int pass = tap_ok(got == want, file, line, "%s", msg);
	if (!pass)
		printf("#   got %lld, want %lld\n", got, want);
	return pass;
}

__attribute__((format(printf, 5, 6))) static int tap_is_str(const char *got, const char *want, const char *file,
							    int line, const char *fmt, ...)
{
	char msg[512];
	TAP_MSG(msg, fmt);
	int pass = tap_ok(got && want && strcmp(got, want) == 0, file, line, "%s", msg);
	if (!pass)
		printf("#   got '%s', want '%s'\n", got ? got : "(null)", want ? want : "(null)");
	return pass;
}

static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
