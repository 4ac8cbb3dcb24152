#include "convert/breakpad.h"

#include <errno.h>
#include <stdio.h>

int breakpad_convert(const struct breakpad_input *in, int out_fd, char *err, size_t errlen)
{
	(void)out_fd;
	switch (in->id->format) {
	default:
		snprintf(err, errlen, "no converter from %s to Breakpad symbols", sym_format_name(in->id->format));
		return -ENOTSUP;
	}
}
