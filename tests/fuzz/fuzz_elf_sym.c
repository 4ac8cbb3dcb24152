/* libFuzzer target: the ELF/DWARF -> Breakpad converter on any bytes that
 * identify accepts as ELF (as the fetcher only converts those) — no crash,
 * no leak, no read out of bounds, whatever the DWARF, CFI or symbols say. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "convert/elf_sym.h"
#include "convert/identify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int out = -1;
	struct sym_identity id;
	char err[256];
	if (out < 0)
		out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (identify_buffer(data, size, &id, err, sizeof err) == 0 && id.format == SYM_FMT_ELF)
		elf_sym_convert_memory(data, size, &id, "fuzz", out, err, sizeof err);
	return 0;
}
