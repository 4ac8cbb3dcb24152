/* readall: the crash processor's access pattern, timed — open, read to the
 * end, close, for every file in a list, relative to a root directory. Prints
 * the best of ROUNDS passes in seconds. C on purpose: a Python reader adds a
 * syscall per open (PERFORMANCE.md). With "stat", each path is stat()ed
 * instead and must not exist (what a processor asking for a symbol nobody
 * has does).
 *
 * usage: readall ROOT LISTFILE ROUNDS [stat] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* One pass of stats of paths that must be missing; 0, or -1 if one exists. */
static long long stat_pass(int rootfd, char **files, size_t n)
{
	struct stat st;
	for (size_t i = 0; i < n; i++) {
		if (fstatat(rootfd, files[i], &st, 0) == 0 || errno != ENOENT) {
			fprintf(stderr, "readall: %s: %s\n", files[i], errno ? strerror(errno) : "exists");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t n;
	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "stat") == 0))
		return fprintf(stderr, "usage: readall ROOT LISTFILE ROUNDS [stat]\n"), 2;
	int stats = argc == 5;
	char **files = load_list(argv[2], &n);
	int rootfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	int rounds = atoi(argv[3]);
	if (!files || rootfd < 0 || rounds < 1)
		return fprintf(stderr, "readall: bad arguments\n"), 2;
	double best = 1e30;
	long long bytes = 0;
	for (int r = 0; r < rounds; r++) {
		double start = now();
		errno = 0;
		if ((bytes = stats ? stat_pass(rootfd, files, n) : pass(rootfd, files, n)) < 0)
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
