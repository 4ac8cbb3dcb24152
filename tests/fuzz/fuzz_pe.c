/* libFuzzer target: the PE reader (headers, CodeView record, exports, x64
 * unwind information) and the PE-only Breakpad writer must refuse any bytes
 * cleanly — no crash, no leak, no read out of bounds. Each input is read
 * both as a module of its own and as the image of a PDB named fixture.pdb. */
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
	struct sym_identity id = {.format = SYM_FMT_PE, .debug_id = "5B3F5E6A1a6000"};
	char err[256];
	struct breakpad_input own = {"fuzz.dll", &id, "fuzz.dll", NULL, FUZZ_MAX_OUTPUT};
	winsym_pe_bytes(data, size, &own, devnull, err, sizeof err);
	struct breakpad_input as_pdb = {"fuzz.dll", &id, "fixture.pdb", NULL, FUZZ_MAX_OUTPUT};
	winsym_pe_bytes(data, size, &as_pdb, devnull, err, sizeof err);
	return 0;
}
