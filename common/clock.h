/* clock: the two clocks this code uses — monotonic seconds for deadlines and
 * durations, wall-clock seconds for anything a human or the catalog reads —
 * and the one timestamp format (ISO 8601, UTC). */
#ifndef SYMBOLD_CLOCK_H
#define SYMBOLD_CLOCK_H

#include <time.h>

double clock_mono(void);
time_t clock_wall(void);
/* The wall-clock moment `seconds` from now (none if negative), as
 * pthread_cond_timedwait takes it. */
struct timespec clock_deadline(double seconds);
/* "2026-11-26T14:37:35Z" */
void clock_fmt_utc(time_t t, char out[32]);

#endif
