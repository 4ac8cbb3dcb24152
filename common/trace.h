/* trace: where a cold key's time goes, in a build made for measuring it
 * (`make trace`, -DSYMBOLD_TRACE): each stage of a fetch and of a group
 * commit stamped with the monotonic clock and written to stderr as one
 * line, which bench/trace_summary reads. In every other build the stamps
 * compile to nothing. */
#ifndef SYMBOLD_TRACE_H
#define SYMBOLD_TRACE_H

#ifdef SYMBOLD_TRACE
#include <stdio.h>

#include "common/clock.h"

#define TRACE_STAMP(stamps, stage) ((stamps)[stage] = clock_mono())
#define TRACE_LINE(...) fprintf(stderr, "trace " __VA_ARGS__)
#else
#define TRACE_STAMP(stamps, stage) ((void)(stamps))
#define TRACE_LINE(...) ((void)0)
#endif

#endif
