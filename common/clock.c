#include "common/clock.h"

#include <stdio.h>

double clock_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

time_t clock_wall(void)
{
	return time(NULL);
}

void clock_fmt_utc(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct timespec clock_deadline(double seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	if (seconds <= 0)
		return until;
	until.tv_sec += (time_t)seconds;
	until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}
