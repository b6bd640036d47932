/* Times: int64 milliseconds since the Unix epoch inside, RFC 3339 UTC on the wire. */
#ifndef TENDERD_TIMEUTIL_H
#define TENDERD_TIMEUTIL_H

#include <stdint.h>

#define TIME_BUF 32

/* Wall clock now, in ms (CLOCK_REALTIME). */
int64_t time_now_ms(void);

/* Monotonic clock, in ms, for measuring durations. */
int64_t time_mono_ms(void);

/* "2026-11-22T10:00:00.123Z" (always UTC, always milliseconds). buf >= TIME_BUF. */
void time_format(int64_t ms, char *buf);

/* Parse RFC 3339: "2026-11-22T10:00:00Z", "...00.5Z", "...00.123+03:00",
 * lower-case 't'/'z' accepted; fractions beyond ms are truncated. Validates
 * ranges (month 1-12, day within month incl. leap years, hour 0-23, minute
 * 0-59, second 0-60 where 60 is read as 59). Returns 0 or -1. */
int time_parse(const char *s, int64_t *ms);

#endif
