/* Unit tests of clocks and RFC 3339 parsing and formatting (common/timeutil.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/timeutil.h"

#define DAY_MS 86400000LL

/* Deterministic 64-bit LCG. */
static uint64_t lcg_next(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x;
}

/* Parse that must succeed with `want`. */
static void parse_is(const char *s, int64_t want)
{
	int64_t v = -12345;

	if (time_parse(s, &v) != 0)
		fail_msg("time_parse(\"%s\") refused", s);
	assert_int_equal(v, want);
}

/* Parse that must fail and leave the output untouched. */
static void parse_bad(const char *s)
{
	int64_t v = -12345;

	if (time_parse(s, &v) == 0)
		fail_msg("time_parse(\"%s\") accepted", s ? s : "(null)");
	assert_int_equal(v, -12345);
}

/* Format and compare with `want`. */
static void format_is(int64_t ms, const char *want)
{
	char buf[TIME_BUF];

	memset(buf, 'x', sizeof(buf));
	time_format(ms, buf);
	assert_string_equal(buf, want);
}

/* Formatting of known instants, before and after the epoch. */
static void test_format(void **state)
{
	(void)state;
	format_is(0, "1970-01-01T00:00:00.000Z");
	format_is(1, "1970-01-01T00:00:00.001Z");
	format_is(999, "1970-01-01T00:00:00.999Z");
	format_is(-1, "1969-12-31T23:59:59.999Z");
	format_is(-1000, "1969-12-31T23:59:59.000Z");
	format_is(-1001, "1969-12-31T23:59:58.999Z");
	format_is(-DAY_MS, "1969-12-31T00:00:00.000Z");
	format_is(1795341600000LL, "2026-11-22T10:00:00.000Z");
	format_is(1795341600123LL, "2026-11-22T10:00:00.123Z");
	format_is(951782400000LL, "2000-02-29T00:00:00.000Z");
	format_is(951782400000LL + DAY_MS, "2000-03-01T00:00:00.000Z");
	format_is(951782400000LL - 1, "2000-02-28T23:59:59.999Z");
	format_is(2147483648000LL, "2038-01-19T03:14:08.000Z");
	format_is(-62135596800000LL, "0001-01-01T00:00:00.000Z");
	format_is(253402300799999LL, "9999-12-31T23:59:59.999Z");
	/* Far outside RFC 3339's years the output still fits the buffer. */
	{
		char buf[TIME_BUF];

		time_format(INT64_MAX, buf);
		assert_true(strlen(buf) < TIME_BUF);
		assert_string_equal(buf + strlen(buf) - 5, ".807Z");
		time_format(INT64_MIN, buf);
		assert_true(strlen(buf) < TIME_BUF);
		assert_true(buf[0] == '-');
		assert_string_equal(buf + strlen(buf) - 5, ".192Z");
	}
}

/* Accepted forms: Z or offsets, with or without fractions, lower-case letters. */
static void test_parse_ok(void **state)
{
	(void)state;
	parse_is("2026-11-22T10:00:00Z", 1795341600000LL);
	parse_is("2026-11-22t10:00:00z", 1795341600000LL);
	parse_is("2026-11-22T10:00:00.000Z", 1795341600000LL);
	parse_is("2026-11-22T10:00:00.5Z", 1795341600500LL);
	parse_is("2026-11-22T10:00:00.05Z", 1795341600050LL);
	parse_is("2026-11-22T10:00:00.123Z", 1795341600123LL);
	parse_is("2026-11-22T13:00:00.123+03:00", 1795341600123LL);
	parse_is("2026-11-22T05:30:00-04:30", 1795341600000LL);
	parse_is("2026-11-22T10:00:00+00:00", 1795341600000LL);
	parse_is("2026-11-22T10:00:00-00:00", 1795341600000LL);
	parse_is("2026-11-23T09:59:00+23:59", 1795341600000LL);
	parse_is("2026-11-21T10:01:00-23:59", 1795341600000LL);
	parse_is("1970-01-01T00:00:00Z", 0);
	parse_is("1969-12-31T23:59:59.999Z", -1);
	parse_is("0001-01-01T00:00:00Z", -62135596800000LL);
	parse_is("9999-12-31T23:59:59.999Z", 253402300799999LL);
	parse_is("2038-01-19T03:14:08Z", 2147483648000LL);
}

/* Offsets that cross midnight, the month, and the year. */
static void test_parse_offsets(void **state)
{
	(void)state;
	parse_is("2026-01-01T01:00:00+03:00", 1767218400000LL);         /* 2025-12-31T22:00Z */
	parse_is("2025-12-31T21:00:00-01:00", 1767218400000LL);
	parse_is("2025-12-31T23:30:00-01:00", 1767218400000LL + 9000000); /* 2026-01-01T00:30Z */
	parse_is("2000-03-01T00:30:00+01:00", 951782400000LL + DAY_MS - 1800000); /* 02-29T23:30Z */
	parse_is("2000-02-28T23:00:00-01:00", 951782400000LL);
	parse_is("1970-01-01T00:00:00+00:01", -60000);
}

/* Fractions beyond milliseconds are truncated, never rounded. */
static void test_parse_fraction(void **state)
{
	(void)state;
	parse_is("2026-11-22T10:00:00.1239Z", 1795341600123LL);
	parse_is("2026-11-22T10:00:00.9999Z", 1795341600999LL);
	parse_is("2026-11-22T10:00:00.123456789Z", 1795341600123LL);
	parse_is("2026-11-22T10:00:00.000999999999999999999Z", 1795341600000LL);
	parse_is("1969-12-31T23:59:59.9999+00:00", -1);
	parse_bad("2026-11-22T10:00:00.Z");
	parse_bad("2026-11-22T10:00:00.");
	parse_bad("2026-11-22T10:00:00.12a3Z");
	parse_bad("2026-11-22T10:00:00,5Z");
}

/* Calendar validation: leap years, days per month, time fields, leap second. */
static void test_parse_calendar(void **state)
{
	(void)state;
	parse_is("2000-02-29T00:00:00Z", 951782400000LL);
	parse_is("2024-02-29T00:00:00Z", 1709164800000LL);
	parse_is("1600-02-29T00:00:00Z", -11670998400000LL);
	parse_bad("1900-02-29T00:00:00Z");
	parse_bad("2100-02-29T00:00:00Z");
	parse_bad("2023-02-29T00:00:00Z");
	parse_bad("2024-02-30T00:00:00Z");
	parse_is("2023-02-28T00:00:00Z", 1677542400000LL);
	parse_bad("2026-04-31T00:00:00Z");
	parse_bad("2026-06-31T00:00:00Z");
	parse_bad("2026-09-31T00:00:00Z");
	parse_bad("2026-11-31T00:00:00Z");
	parse_is("2026-12-31T00:00:00Z", 1798675200000LL);
	parse_bad("2026-01-32T00:00:00Z");
	parse_bad("2026-01-00T00:00:00Z");
	parse_bad("2026-00-10T00:00:00Z");
	parse_bad("2026-13-10T00:00:00Z");
	parse_bad("2026-11-22T24:00:00Z");
	parse_bad("2026-11-22T10:60:00Z");
	parse_bad("2026-11-22T10:00:61Z");
	parse_bad("2026-11-22T10:00:99Z");
	/* A leap second reads as the second before it. */
	parse_is("2016-12-31T23:59:60Z", 1483228799000LL);
	parse_is("2016-12-31T23:59:60.500Z", 1483228799500LL);
	parse_is("2026-11-22T23:59:59Z", 1795341600000LL + 50399000LL);
}

/* Malformed strings of every kind are refused. */
static void test_parse_malformed(void **state)
{
	(void)state;
	parse_bad(NULL);
	parse_bad("");
	parse_bad("2026");
	parse_bad("2026-11-22");
	parse_bad("2026-11-22T10:00");
	parse_bad("2026-11-22T10:00Z");
	parse_bad("2026-11-22T10:00:00");
	parse_bad("2026-11-22 10:00:00Z");
	parse_bad("2026-11-22X10:00:00Z");
	parse_bad("2026-11-22T10:00:00ZZ");
	parse_bad("2026-11-22T10:00:00Z ");
	parse_bad(" 2026-11-22T10:00:00Z");
	parse_bad("26-11-22T10:00:00Z");
	parse_bad("02026-11-22T10:00:00Z");
	parse_bad("2026-1-22T10:00:00Z");
	parse_bad("2026-11-2T10:00:00Z");
	parse_bad("2026/11/22T10:00:00Z");
	parse_bad("2026-11-22T10-00-00Z");
	parse_bad("2026-11-22T1:00:00Z");
	parse_bad("+2026-11-22T10:00:00Z");
	parse_bad("-2026-11-22T10:00:00Z");
	parse_bad("2026-11-22T10:00:00+03");
	parse_bad("2026-11-22T10:00:00+0300");
	parse_bad("2026-11-22T10:00:00+03:0");
	parse_bad("2026-11-22T10:00:00+3:00");
	parse_bad("2026-11-22T10:00:00+24:00");
	parse_bad("2026-11-22T10:00:00+03:60");
	parse_bad("2026-11-22T10:00:00+03:00Z");
	parse_bad("2026-11-22T10:00:00UTC");
	parse_bad("2026-11-22T10:00:00 Z");
	parse_bad("2026-11-22T10:00:00.5");
	parse_bad("2026-1a-22T10:00:00Z");
}

/* Every day from 1600 to 2400 parses to the previous day plus 24 hours and formats back. */
static void test_every_day(void **state)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	char in[40], out[TIME_BUF];
	int64_t prev = 0, v;
	int first = 1, days = 0;

	(void)state;
	for (int y = 1600; y <= 2400; y++) {
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

		for (int m = 1; m <= 12; m++) {
			int n = dim[m - 1] + (m == 2 && leap);

			for (int d = 1; d <= n; d++) {
				snprintf(in, sizeof(in), "%04d-%02d-%02dT00:00:00Z", y, m, d);
				assert_int_equal(time_parse(in, &v), 0);
				if (!first)
					assert_int_equal(v, prev + DAY_MS);
				first = 0;
				prev = v;
				days++;
				time_format(v, out);
				assert_memory_equal(out, in, 19);
				assert_string_equal(out + 19, ".000Z");
			}
			/* The day after the last is refused. */
			snprintf(in, sizeof(in), "%04d-%02d-%02dT00:00:00Z", y, m, n + 1);
			assert_int_equal(time_parse(in, &v), -1);
		}
	}
	/* 801 years with 97 leap years per 400 (and 2400 a leap year). */
	assert_int_equal(days, 801 * 365 + 195);
	assert_int_equal(prev, 13601001600000LL);  /* 2400-12-31 */
}

/* format/parse round-trips over random instants across years 0000-9999. */
static void test_roundtrip(void **state)
{
	const int64_t lo = -62167219200000LL;  /* 0000-01-01T00:00:00Z */
	const int64_t hi = 253402300800000LL;  /* 10000-01-01T00:00:00Z */
	uint64_t rng = 2026;
	char buf[TIME_BUF];
	int64_t v;

	(void)state;
	parse_is("0000-01-01T00:00:00Z", lo);
	for (int i = 0; i < 200000; i++) {
		int64_t ms = lo + (int64_t)(lcg_next(&rng) % (uint64_t)(hi - lo));

		time_format(ms, buf);
		assert_int_equal(strlen(buf), 24);
		assert_int_equal(time_parse(buf, &v), 0);
		assert_int_equal(v, ms);
	}
}

/* The clocks: wall clock agrees with time(), monotonic never goes back. */
static void test_clocks(void **state)
{
	int64_t now = time_now_ms();
	int64_t t = (int64_t)time(NULL) * 1000;
	int64_t m1 = time_mono_ms(), m2;

	(void)state;
	assert_true(now > 1577836800000LL);  /* after 2020-01-01 */
	assert_true(now - t > -2000 && now - t < 2000);
	for (int i = 0; i < 1000; i++) {
		m2 = time_mono_ms();
		assert_true(m2 >= m1);
		m1 = m2;
	}
}

/* Run every time test. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_offsets),
		cmocka_unit_test(test_parse_fraction),
		cmocka_unit_test(test_parse_calendar),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_every_day),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
