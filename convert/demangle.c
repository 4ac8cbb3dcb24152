#include "convert/demangle.h"

#include <libiberty/demangle.h>
#include <string.h>

char *demangle_cxx(const char *name)
{
	if (strnlen(name, DEMANGLE_MAX_INPUT + 1) > DEMANGLE_MAX_INPUT)
		return NULL;
	return cplus_demangle_v3(name, DMGL_PARAMS | DMGL_TYPES);
}
