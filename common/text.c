#include "common/text.h"

#include <stdio.h>

#include <string.h>

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *text_trim(char *s)
{
	while (blank(*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && blank(e[-1]))
		*--e = '\0';
	return s;
}

char *text_next_line(char **cursor)
{
	char *line = *cursor;
	if (!line || !*line)
		return NULL;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	*cursor = nl ? nl + 1 : NULL;
	return line;
}

void text_url_shown(const char *url, char *out, size_t len)
{
	const char *scheme = strstr(url, "://"), *at = strchr(url, '@');
	/* an @ before the authority's end (the first /) is userinfo's */
	if (scheme && at && at > scheme && !memchr(scheme + 3, '/', (size_t)(at - scheme - 3)))
		snprintf(out, len, "%.*s***%s", (int)(scheme + 3 - url), url, at);
	else
		snprintf(out, len, "%s", url);
}
