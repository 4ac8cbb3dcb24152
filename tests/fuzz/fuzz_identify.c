/* libFuzzer target: the identity readers (PDB, PE, ELF, Mach-O, Breakpad)
 * must refuse any bytes cleanly — no crash, no leak, no read out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "convert/identify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_identity id;
	char err[256];
	identify_buffer(data, size, &id, err, sizeof err);
	return 0;
}
