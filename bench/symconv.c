/* symconv: symbold's converter as a command — identify a debug file and
 * write its Breakpad .sym to stdout, as the fetcher's publish_conversion
 * would; then, on stderr, the seconds the conversion took and the peak RSS.
 * The PDB benchmark times it and tests compare its output with an
 * independent reader's.
 *
 * usage: symconv FILE [DEBUG_NAME [CODE_FILE]]
 *   DEBUG_NAME  the name the MODULE line carries (default: FILE's base name)
 *   CODE_FILE   the PE beside a PDB */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "convert/breakpad.h"
#include "convert/identify.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: symconv FILE [DEBUG_NAME [CODE_FILE]]\n");
		return 2;
	}
	const char *slash = strrchr(argv[1], '/');
	const char *name = argc > 2 ? argv[2] : slash ? slash + 1 : argv[1];
	char err[512] = "";
	struct sym_identity id;
	double start = now();
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "symconv: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	int rc = identify_fd(fd, &id, err, sizeof err);
	close(fd);
	if (rc == 0) {
		/* no output limit: a command run by hand, not the daemon */
		struct breakpad_input in = {argv[1], &id, name, argc > 3 ? argv[3] : NULL, 0};
		rc = breakpad_convert(&in, STDOUT_FILENO, err, sizeof err);
	}
	double secs = now() - start;
	if (rc < 0) {
		fprintf(stderr, "symconv: %s: %s\n", argv[1], err[0] ? err : strerror(-rc));
		return 1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "seconds %.6f\nmax_rss_kb %ld\n", secs, ru.ru_maxrss);
	return 0;
}
