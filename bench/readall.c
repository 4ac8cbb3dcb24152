/* readall: the crash processor's access pattern, timed — open, read to the
 * end, close, for every file in a list, relative to a root directory. Prints
 * the best of ROUNDS passes in seconds. C on purpose: a Python reader adds a
 * syscall per open (PERFORMANCE.md). With "stat", each path is stat()ed
 * instead and must not exist (what a processor asking for a symbol nobody
 * has does). With "par N", N processes read the list at once, each its
 * own contiguous share (the cold benchmark: N crash processors opening
 * symbols nobody fetched yet); a pass is timed from the moment they are let
 * go to the moment the last one has finished. With "open", the time the
 * open()s took is printed too, as a fourth figure (of the best pass): a
 * first open that fetches is what curl -o is compared with, the read
 * after it another matter.
 *
 * usage: readall ROOT LISTFILE ROUNDS [stat | par N | open] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 256

static double opening; /* seconds the last pass spent in open() */

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
	opening = 0;
	for (size_t i = 0; i < n; i++) {
		double start = now();
		int fd = openat(rootfd, files[i], O_RDONLY);
		opening += now() - start;
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

/* One pass by `procs` processes at once, process k reading the k-th
 * contiguous share of the list. They are forked first and wait on a pipe;
 * closing it lets them all go, and the clock runs from then until the last
 * has been reaped. Returns the bytes read, or -1 if any process failed; the
 * seconds in *took. */
static long long par_pass(int rootfd, char **files, size_t n, int procs, double *took)
{
	long long *got = mmap(NULL, (size_t)procs * sizeof *got, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	pid_t pids[MAX_PROCS];
	int gate[2], started = 0, failed = 0;
	if (got == MAP_FAILED || pipe(gate) < 0)
		return -1;
	for (int k = 0; k < procs; k++) {
		pid_t pid = fork();
		if (pid < 0) {
			failed = 1;
			break;
		}
		if (pid == 0) {
			char c;
			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR) /* EOF: the gate opened */
				;
			size_t lo = n * (size_t)k / (size_t)procs, hi = n * (size_t)(k + 1) / (size_t)procs;
			got[k] = pass(rootfd, files + lo, hi - lo);
			_exit(got[k] < 0 ? 1 : 0);
		}
		pids[started++] = pid;
	}
	close(gate[0]);
	double start = now();
	close(gate[1]);
	long long total = 0;
	for (int k = 0; k < started; k++) {
		int status;
		if (waitpid(pids[k], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	*took = now() - start;
	for (int k = 0; k < started && !failed; k++)
		total += got[k];
	munmap(got, (size_t)procs * sizeof *got);
	return failed ? -1 : total;
}

int main(int argc, char **argv)
{
	size_t n;
	int stats = argc == 5 && strcmp(argv[4], "stat") == 0;
	int opens = argc == 5 && strcmp(argv[4], "open") == 0;
	int procs = argc == 6 && strcmp(argv[4], "par") == 0 ? atoi(argv[5]) : 0;
	if (argc != 4 && !stats && !procs && !opens)
		return fprintf(stderr, "usage: readall ROOT LISTFILE ROUNDS [stat | par N | open]\n"), 2;
	char **files = load_list(argv[2], &n);
	int rootfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	int rounds = atoi(argv[3]);
	if (!files || rootfd < 0 || rounds < 1 || (argc == 6 && (procs < 1 || procs > MAX_PROCS)))
		return fprintf(stderr, "readall: bad arguments\n"), 2;
	double best = 1e30, best_opening = 0;
	long long bytes = 0;
	for (int r = 0; r < rounds; r++) {
		double start = now(), took;
		errno = 0;
		if (procs) {
			if ((bytes = par_pass(rootfd, files, n, procs, &took)) < 0)
				return 1;
		} else {
			if ((bytes = stats ? stat_pass(rootfd, files, n) : pass(rootfd, files, n)) < 0)
				return 1;
			took = now() - start;
		}
		if (took < best) {
			best = took;
			best_opening = opening;
		}
	}
	if (opens)
		printf("%.6f %zu %lld %.6f\n", best, n, bytes, best_opening);
	else
		printf("%.6f %zu %lld\n", best, n, bytes);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	close(rootfd);
	return 0;
}
