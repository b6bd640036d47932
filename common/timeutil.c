/* Times: clocks, and RFC 3339 UTC text <-> int64 ms, with exact civil-calendar arithmetic. */
#include "common/timeutil.h"

#include <time.h>

/* Wall clock now, in ms since the Unix epoch. */
int64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic clock, in ms from an arbitrary origin. */
int64_t time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Floor of a / b for b > 0. */
static int64_t time_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* Non-negative remainder of a / b for b > 0 (pairs with time_floor_div). */
static int64_t time_floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;

	return r < 0 ? r + b : r;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31). */
static int64_t time_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;                                   /* 0 .. 399 */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0 .. 365, from March 1 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0 .. 146096 */
	return era * 146097 + doe - 719468;
}

/* Proleptic Gregorian date of a day count since 1970-01-01. */
static void time_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Whether `y` is a Gregorian leap year. */
static int time_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Number of days in month `m` of year `y`. */
static int time_days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && time_is_leap(y))
		return 29;
	return dim[m - 1];
}

/* Write `v` (>= 0) in decimal with at least `width` digits at p; returns the end. */
static char *time_put(char *p, uint64_t v, int width)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width)
		tmp[n++] = '0';
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). */
void time_format(int64_t ms, char *buf)
{
	int64_t secs = time_floor_div(ms, 1000);
	int64_t days = time_floor_div(secs, 86400);
	int frac = (int)time_floor_mod(ms, 1000);
	int sod = (int)time_floor_mod(secs, 86400);
	int64_t y;
	int m, d;

	char *p = buf;

	time_civil_from_days(days, &y, &m, &d);
	/* |y| < 3e8 for any int64 ms: at most 30 characters with the sign. */
	if (y < 0)
		*p++ = '-';
	p = time_put(p, (uint64_t)(y < 0 ? -y : y), 4);
	*p++ = '-';
	p = time_put(p, (uint64_t)m, 2);
	*p++ = '-';
	p = time_put(p, (uint64_t)d, 2);
	*p++ = 'T';
	p = time_put(p, (uint64_t)(sod / 3600), 2);
	*p++ = ':';
	p = time_put(p, (uint64_t)(sod / 60 % 60), 2);
	*p++ = ':';
	p = time_put(p, (uint64_t)(sod % 60), 2);
	*p++ = '.';
	p = time_put(p, (uint64_t)frac, 3);
	*p++ = 'Z';
	*p = '\0';
}

/* Read exactly `n` decimal digits at s into *v; -1 when any is not a digit. */
static int time_digits(const char *s, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

/* Parse an RFC 3339 timestamp into ms since the epoch; 0 or -1. */
int time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, frac = 0, off = 0;
	const char *p;
	int64_t days, v;

	if (s == NULL)
		return -1;
	if (time_digits(s, 4, &y) || s[4] != '-' || time_digits(s + 5, 2, &mo) || s[7] != '-' ||
	    time_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    time_digits(s + 11, 2, &h) || s[13] != ':' || time_digits(s + 14, 2, &mi) ||
	    s[16] != ':' || time_digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > time_days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	if (sec == 60)
		sec = 59;

	p = s + 19;
	if (*p == '.') {
		int nd = 0;

		p++;
		while (*p >= '0' && *p <= '9') {
			if (nd < 3)
				frac = frac * 10 + (*p - '0');
			nd++;
			p++;
		}
		if (nd == 0)
			return -1;
		for (; nd < 3; nd++)
			frac *= 10;
	}

	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;

		if (time_digits(p + 1, 2, &oh) || p[3] != ':' || time_digits(p + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * 60;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;

	days = time_days_from_civil(y, mo, d);
	v = days * 86400 + h * 3600 + mi * 60 + sec - off;
	*ms = v * 1000 + frac;
	return 0;
}
