/* libFuzzer target: the text parsers of missing symbols — symbold-admin
 * scan's reader of stackwalk output and CSV, and the daemon's checks of
 * what is written to `missing` and `reprocess` — must take any bytes
 * cleanly: an answer or -EINVAL, no crash, no leak, no read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/missing.h"
#include "admin/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ignore(const struct scan_record *r, void *ctx)
{
	char line[5 * SCAN_FIELD_MAX + 8];
	(void)ctx;
	return scan_format_record(r, line, sizeof line) < 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	scan_text(text, size, size % 2 ? "object" : NULL, "report", ignore, NULL, err, sizeof err);
	missing_check_text(text, err, sizeof err);
	reprocess_check_text(text, err, sizeof err);
	free(text);
	return 0;
}
