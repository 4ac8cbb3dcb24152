/* libFuzzer target: the PDB reader and its Breakpad writer must refuse any
 * bytes cleanly — no crash, no leak, no read out of bounds — and turn what
 * they accept into text. Output goes to /dev/null. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "convert/winsym.h"

#define FUZZ_MAX_OUTPUT (4 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	if (devnull < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct sym_identity id = {.format = SYM_FMT_PDB, .debug_id = "3844DBB920174967BE7AA4A2C20430FA1"};
	/* a limit, as the daemon has: what passes it is refused, not written */
	struct breakpad_input in = {"fuzz.pdb", &id, "fuzz.pdb", NULL, FUZZ_MAX_OUTPUT};
	char err[256];
	winsym_pdb_bytes(data, size, NULL, 0, &in, devnull, err, sizeof err);
	return 0;
}
