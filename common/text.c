#include "common/text.h"

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
