/* libFuzzer target: the identity readers (PDB, PE, ELF, Mach-O, Breakpad)
 * must refuse any bytes cleanly — no crash, no leak, no read out of bounds —
 * and the judge of a download's first bytes (identify_prefix) must never
 * refuse, from any prefix, a file that identify_buffer accepts as the one
 * wanted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "convert/identify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Judges prefixes of the input (each in an allocation of its own size) as
 * the file with identity *id; aborts if one is refused. */
static void prefixes_agree(const uint8_t *data, size_t size, const struct sym_identity *id)
{
	struct identify_want want = {id->format, id->debug_id,
				     id->format == SYM_FMT_ELF && id->has_build_id ? id->code_id : NULL};
	size_t step = size / 7 + 1;
	for (size_t n = 0; n <= size; n = n == size ? size + 1 : (n + step < size ? n + step : size)) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, data, n);
		uint64_t need;
		char err[256];
		int known = identify_prefix(copy, n, size, &want, &need, err, sizeof err);
		int unknown = identify_prefix(copy, n, 0, &want, &need, err, sizeof err);
		free(copy);
		if (known == -EINVAL || unknown == -EINVAL)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sym_identity id;
	char err[256];
	if (identify_buffer(data, size, &id, err, sizeof err) == 0)
		prefixes_agree(data, size, &id);
	return 0;
}
