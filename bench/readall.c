/* readall: the crash processor's access pattern, timed — open, read to the
 * end, close, for every file in a list, relative to a root directory. Prints
 * the best of ROUNDS passes in seconds. C on purpose: a Python reader adds a
 * syscall per open (PERFORMANCE.md).
 *
 * usage: readall ROOT LISTFILE ROUNDS */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char **load_list(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[4096], **v = NULL;
	size_t cap = 0;
	*n = 0;
	if (!f)
		return NULL;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			char **grown = realloc(v, cap * sizeof *v);
			if (!grown)
				exit(2);
			v = grown;
		}
		if (!(v[(*n)++] = strdup(line)))
			exit(2);
	}
	fclose(f);
	return v;
}

/* One pass; returns bytes read, or -1 on the first error. */
static long long pass(int rootfd, char **files, size_t n)
{
	static char buf[1 << 16];
	long long total = 0;
	for (size_t i = 0; i < n; i++) {
		int fd = openat(rootfd, files[i], O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "readall: %s: %s\n", files[i], strerror(errno));
			return -1;
		}
		ssize_t got;
		while ((got = read(fd, buf, sizeof buf)) > 0)
			total += got;
		close(fd);
		if (got < 0)
			return -1;
	}
	return total;
}

int main(int argc, char **argv)
{
	size_t n;
	if (argc != 4)
		return fprintf(stderr, "usage: readall ROOT LISTFILE ROUNDS\n"), 2;
	char **files = load_list(argv[2], &n);
	int rootfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	int rounds = atoi(argv[3]);
	if (!files || rootfd < 0 || rounds < 1)
		return fprintf(stderr, "readall: bad arguments\n"), 2;
	double best = 1e30;
	long long bytes = 0;
	for (int r = 0; r < rounds; r++) {
		double start = now();
		if ((bytes = pass(rootfd, files, n)) < 0)
			return 1;
		double took = now() - start;
		if (took < best)
			best = took;
	}
	printf("%.6f %zu %lld\n", best, n, bytes);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	close(rootfd);
	return 0;
}
