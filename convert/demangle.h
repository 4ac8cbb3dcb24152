/* demangle: C++ names as Breakpad's dump_syms prints them. dump_syms calls
 * libstdc++'s abi::__cxa_demangle, which is libiberty's cp-demangle with
 * DMGL_PARAMS | DMGL_TYPES; this calls the same demangler through
 * libiberty's C interface, so the text is the same. */
#ifndef SYMBOLD_DEMANGLE_H
#define SYMBOLD_DEMANGLE_H

#include <stddef.h>

/* The demangler keeps a work array on the stack sized by the input: longer
 * names are left as they are rather than risk the thread's stack. */
#define DEMANGLE_MAX_INPUT (16 * 1024)

/* The demangled form of `name` (malloc'd), or NULL when it is not a name
 * the demangler accepts (a plain C name, a broken one, or too long). Like
 * __cxa_demangle, a bare type code demangles too ("i" -> "int"). */
char *demangle_cxx(const char *name);

#endif
