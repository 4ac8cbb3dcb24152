/* files: the file chores unit tests share — write bytes or text to a path,
 * read a whole file back. */
#ifndef SYMBOLD_TEST_FILES_H
#define SYMBOLD_TEST_FILES_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 0, or -1 if the file could not be written whole. */
static inline int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return printf("# cannot write %s\n", path), -1;
	ssize_t n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static inline int write_text(const char *path, const char *text)
{
	return write_file(path, text, strlen(text));
}

/* The whole file, NUL-terminated, to free; NULL if it cannot be read. */
static inline void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, n = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *grown = realloc(data, cap = (n + 4096 + 1) * 2);
			if (!grown)
				break;
			data = grown;
		}
		size_t got = fread(data + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	if (data)
		data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

#endif
