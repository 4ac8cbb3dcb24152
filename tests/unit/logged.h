/* logged: what unit tests ask of the daemon's log — whether a line of the
 * global log names both of two things. */
#ifndef SYMBOLD_TEST_LOGGED_H
#define SYMBOLD_TEST_LOGGED_H

#include <string.h>

#include "common/buf.h"
#include "common/log.h"

/* 1 if the global log has a line with both strings. */
static inline int logged(const char *a, const char *b)
{
	struct buf text = BUF_INIT;
	logring_render(log_global(), &text);
	int found = 0;
	for (char *line = text.data, *end; line && *line && !found; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		found = strstr(line, a) && strstr(line, b);
	}
	buf_free(&text);
	return found;
}

#endif
