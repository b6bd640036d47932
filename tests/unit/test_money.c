/* Unit tests of money parsing and formatting (common/money.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/money.h"

/* Deterministic 64-bit LCG. */
static uint64_t lcg_next(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x;
}

/* Parse that must succeed with `want`. */
static void parse_ok(const char *s, int exp, int64_t want)
{
	int64_t v = -12345;

	if (money_parse(s, exp, &v) != 0)
		fail_msg("money_parse(\"%s\", %d) refused", s, exp);
	assert_int_equal(v, want);
}

/* Parse that must fail and leave the output untouched. */
static void parse_bad(const char *s, int exp)
{
	int64_t v = -12345;

	if (money_parse(s, exp, &v) == 0)
		fail_msg("money_parse(\"%s\", %d) accepted", s ? s : "(null)", exp);
	assert_int_equal(v, -12345);
}

/* Format and compare with `want`. */
static void format_is(int64_t v, int exp, const char *want)
{
	char buf[32];

	memset(buf, 'x', sizeof(buf));
	money_format(v, exp, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* Exponents of ISO 4217 codes, including every listed exception. */
static void test_exponent(void **state)
{
	static const char *zero[] = { "JPY", "KRW", "VND", "ISK", "CLP", "PYG", "UGX", "XAF",
		"XOF", "KMF", "RWF", "VUV", "XPF", "DJF", "GNF", "BIF" };
	static const char *three[] = { "BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD" };

	(void)state;
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		assert_int_equal(money_exponent(zero[i]), 0);
	for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
		assert_int_equal(money_exponent(three[i]), 3);
	assert_int_equal(money_exponent("RUB"), 2);
	assert_int_equal(money_exponent("USD"), 2);
	assert_int_equal(money_exponent("EUR"), 2);
	assert_int_equal(money_exponent("GEL"), 2);
	assert_int_equal(money_exponent("AAA"), 2);
	assert_int_equal(money_exponent("ZZZ"), 2);
	assert_int_equal(money_exponent("rub"), -1);
	assert_int_equal(money_exponent("Rub"), -1);
	assert_int_equal(money_exponent("RU"), -1);
	assert_int_equal(money_exponent("RUBL"), -1);
	assert_int_equal(money_exponent("R1B"), -1);
	assert_int_equal(money_exponent("RU "), -1);
	assert_int_equal(money_exponent(" RU"), -1);
	assert_int_equal(money_exponent(""), -1);
	assert_int_equal(money_exponent("@[`"), -1);
	assert_int_equal(money_exponent(NULL), -1);
	/* Prefixes and suffixes of listed codes are not listed codes. */
	assert_int_equal(money_exponent("JP"), -1);
	assert_int_equal(money_exponent("JPYY"), -1);
	assert_int_equal(money_exponent("PYJ"), 2);
}

/* Accepted amount forms. */
static void test_parse_ok(void **state)
{
	(void)state;
	parse_ok("995000", 2, 99500000);
	parse_ok("995000.5", 2, 99500050);
	parse_ok("995000.50", 2, 99500050);
	parse_ok("995000.05", 2, 99500005);
	parse_ok("0", 2, 0);
	parse_ok("0.00", 2, 0);
	parse_ok("0.01", 2, 1);
	parse_ok("0.1", 2, 10);
	parse_ok("007", 2, 700);
	parse_ok("123", 0, 123);
	parse_ok("1.234", 3, 1234);
	parse_ok("1.2", 3, 1200);
	parse_ok("1", 3, 1000);
	parse_ok("0000000000000000000000000001", 2, 100);
	parse_ok("999999999999999999", 0, MONEY_MAX);
	parse_ok("9999999999999999.99", 2, MONEY_MAX);
	parse_ok("999999999999999.999", 3, MONEY_MAX);
	parse_ok("9999999999999999.98", 2, MONEY_MAX - 1);
	parse_ok("0.000000000000000001", 18, 1);
}

/* Refused amount forms: signs, exponents, spaces, missing digits, too many fraction digits. */
static void test_parse_bad(void **state)
{
	(void)state;
	parse_bad(NULL, 2);
	parse_bad("", 2);
	parse_bad("1.", 2);
	parse_bad("1.", 0);
	parse_bad(".5", 2);
	parse_bad(".", 2);
	parse_bad("+1", 2);
	parse_bad("-1", 2);
	parse_bad("-0", 2);
	parse_bad("1e3", 2);
	parse_bad("1E3", 2);
	parse_bad(" 1", 2);
	parse_bad("1 ", 2);
	parse_bad("\t1", 2);
	parse_bad("1\n", 2);
	parse_bad("1 000", 2);
	parse_bad("1,5", 2);
	parse_bad("1.2.3", 2);
	parse_bad("1..2", 2);
	parse_bad("0x10", 2);
	parse_bad("abc", 2);
	parse_bad("1.5a", 2);
	parse_bad("1.234", 2);
	parse_bad("1.0", 0);
	parse_bad("1.00", 1);
	parse_bad("1.0000", 3);
	parse_bad("0.001", 2);
	parse_bad("NaN", 2);
	parse_bad("inf", 2);
	/* Bad exponents. */
	parse_bad("1", -1);
	parse_bad("1", 19);
}

/* Values beyond MONEY_MAX are refused, however they are written. */
static void test_parse_overflow(void **state)
{
	(void)state;
	parse_bad("1000000000000000000", 0);
	parse_bad("10000000000000000", 2);
	parse_bad("10000000000000000.00", 2);
	parse_bad("99999999999999999", 2);
	parse_bad("1000000000000000", 3);
	parse_bad("9223372036854775807", 0);
	parse_bad("9223372036854775808", 0);
	parse_bad("18446744073709551616", 0);
	parse_bad("99999999999999999999999999999999999999", 0);
	parse_bad("9999999999999999.991", 2);
	parse_bad("1", 18);
	parse_ok("0.999999999999999999", 18, MONEY_MAX);
}

/* Formatting: exact fraction digits, leading zero, negative values, extremes. */
static void test_format(void **state)
{
	char buf[32];

	(void)state;
	format_is(99500000, 2, "995000.00");
	format_is(99500050, 2, "995000.50");
	format_is(5, 2, "0.05");
	format_is(50, 2, "0.50");
	format_is(100, 2, "1.00");
	format_is(0, 2, "0.00");
	format_is(0, 0, "0");
	format_is(0, 3, "0.000");
	format_is(-5, 2, "-0.05");
	format_is(-150, 2, "-1.50");
	format_is(-7, 0, "-7");
	format_is(123, 0, "123");
	format_is(1, 3, "0.001");
	format_is(1234, 3, "1.234");
	format_is(MONEY_MAX, 2, "9999999999999999.99");
	format_is(MONEY_MAX, 0, "999999999999999999");
	format_is(INT64_MAX, 0, "9223372036854775807");
	format_is(INT64_MIN, 0, "-9223372036854775808");
	format_is(INT64_MIN, 2, "-92233720368547758.08");
	format_is(1, 18, "0.000000000000000001");
	/* Out-of-range exponents are clamped, never overflow the buffer. */
	format_is(5, -3, "5");
	format_is(INT64_MIN, 40, "-9.223372036854775808");

	/* Short buffers are truncated and terminated. */
	money_format(99500000, 2, buf, 4);
	assert_string_equal(buf, "995");
	buf[0] = 'x';
	money_format(99500000, 2, buf, 1);
	assert_string_equal(buf, "");
	money_format(99500000, 2, NULL, 0);
}

/* format then parse gives back every value, for every exponent in use. */
static void test_roundtrip(void **state)
{
	static const int64_t edges[] = { 0, 1, 9, 10, 99, 100, 101, 999, 1000, 1001,
		123456789, 999999999, 1000000000, MONEY_MAX - 1, MONEY_MAX };
	uint64_t rng = 7;
	char buf[32];
	int64_t v;

	(void)state;
	for (int exp = 0; exp <= 3; exp++) {
		for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
			money_format(edges[i], exp, buf, sizeof(buf));
			assert_int_equal(money_parse(buf, exp, &v), 0);
			assert_int_equal(v, edges[i]);
		}
		for (int i = 0; i < 20000; i++) {
			/* Values of every magnitude: random digit counts. */
			uint64_t r = lcg_next(&rng);
			int64_t x = (int64_t)((r >> 1) % (uint64_t)(MONEY_MAX + 1));
			int shift = (int)(lcg_next(&rng) >> 59);

			for (int k = 0; k < shift && x > 0; k++)
				x /= 10;
			money_format(x, exp, buf, sizeof(buf));
			assert_int_equal(money_parse(buf, exp, &v), 0);
			assert_int_equal(v, x);
			if (exp > 0)
				assert_int_equal(strlen(strchr(buf, '.') + 1), exp);
			else
				assert_null(strchr(buf, '.'));
		}
	}
}

/* Steps: percents to basis points, amounts to minor units, and refusals. */
static void test_parse_step(void **state)
{
	int pct = -1;
	int64_t v = -1;

	(void)state;
	assert_int_equal(money_parse_step("0.5%", 2, &pct, &v), 0);
	assert_int_equal(pct, 1);
	assert_int_equal(v, 50);
	assert_int_equal(money_parse_step("5%", 2, &pct, &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(money_parse_step("0.01%", 0, &pct, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(money_parse_step("100%", 2, &pct, &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(money_parse_step("100.00%", 2, &pct, &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(money_parse_step("5000.00", 2, &pct, &v), 0);
	assert_int_equal(pct, 0);
	assert_int_equal(v, 500000);
	assert_int_equal(money_parse_step("0.01", 2, &pct, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(money_parse_step("5000", 0, &pct, &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(money_parse_step("0.5", 3, &pct, &v), 0);
	assert_int_equal(v, 500);

	pct = 7;
	v = 7;
	assert_int_equal(money_parse_step("100.01%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("101%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("0%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("0.00%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("0.001%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("0.005%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("5 %", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step(" 5%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("5%%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("%5", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("-1%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("+1%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step(".5%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("5.%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("1e1%", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("0", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("0.00", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("5000.001", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("5.5", 0, &pct, &v), -1);
	assert_int_equal(money_parse_step("-5", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("", 2, &pct, &v), -1);
	assert_int_equal(money_parse_step(NULL, 2, &pct, &v), -1);
	assert_int_equal(money_parse_step("10000000000000000", 2, &pct, &v), -1);
	assert_int_equal(pct, 7);
	assert_int_equal(v, 7);
}

/* Reference for money_percent_of with 128-bit arithmetic. */
static int64_t percent_ref(int64_t start, int64_t bp)
{
	__int128 x = ((__int128)start * bp * 2 + 10000) / 20000;

	return x < 1 ? 1 : (int64_t)x;
}

/* Percent steps: half-up rounding at the exact half, minimum 1, no overflow up to MONEY_MAX. */
static void test_percent_of(void **state)
{
	uint64_t rng = 99;

	(void)state;
	assert_int_equal(money_percent_of(100000000, 50), 500000);
	assert_int_equal(money_percent_of(100000000, 500), 5000000);
	assert_int_equal(money_percent_of(100000000, 10000), 100000000);
	assert_int_equal(money_percent_of(1, 5000), 1);        /* 0.5 -> 1 */
	assert_int_equal(money_percent_of(3, 5000), 2);        /* 1.5 -> 2 */
	assert_int_equal(money_percent_of(5, 5000), 3);        /* 2.5 -> 3 */
	assert_int_equal(money_percent_of(1, 1), 1);           /* 0.0001 -> at least 1 */
	assert_int_equal(money_percent_of(10001, 5000), 5001); /* 5000.5 -> 5001 */
	assert_int_equal(money_percent_of(9999, 5000), 5000);  /* 4999.5 -> 5000 */
	assert_int_equal(money_percent_of(14999, 1), 1);       /* 1.4999 -> 1 */
	assert_int_equal(money_percent_of(15000, 1), 2);       /* 1.5 -> 2 */
	assert_int_equal(money_percent_of(24999, 1), 2);       /* 2.4999 -> 2 */
	assert_int_equal(money_percent_of(25000, 1), 3);       /* 2.5 -> 3 */
	assert_int_equal(money_percent_of(MONEY_MAX, 10000), MONEY_MAX);
	assert_int_equal(money_percent_of(MONEY_MAX, 5000), 500000000000000000LL);
	assert_int_equal(money_percent_of(MONEY_MAX, 1), 100000000000000LL);
	assert_int_equal(money_percent_of(MONEY_MAX, 9999), percent_ref(MONEY_MAX, 9999));
	assert_int_equal(money_percent_of(0, 50), 1);
	assert_int_equal(money_percent_of(100, 0), 1);
	/* Outside the documented range the result saturates instead of overflowing. */
	assert_int_equal(money_percent_of(INT64_MAX, INT64_MAX), INT64_MAX);
	assert_int_equal(money_percent_of(INT64_MAX, 10000), INT64_MAX);
	assert_int_equal(money_percent_of(9999, INT64_MAX), percent_ref(9999, INT64_MAX));

	for (int i = 0; i < 100000; i++) {
		int64_t start = (int64_t)((lcg_next(&rng) >> 1) % (uint64_t)MONEY_MAX) + 1;
		int64_t bp = (int64_t)(lcg_next(&rng) >> 33) % 10000 + 1;
		int shift = (int)(lcg_next(&rng) >> 59);

		for (int k = 0; k < shift && start > 1; k++)
			start /= 10;
		assert_int_equal(money_percent_of(start, bp), percent_ref(start, bp));
	}
}

/* Steps format as they were given, and every percent step round-trips. */
static void test_format_step(void **state)
{
	char buf[32];
	int pct;
	int64_t v;

	(void)state;
	money_format_step(1, 50, 2, buf, sizeof(buf));
	assert_string_equal(buf, "0.5%");
	money_format_step(1, 500, 2, buf, sizeof(buf));
	assert_string_equal(buf, "5%");
	money_format_step(1, 10000, 2, buf, sizeof(buf));
	assert_string_equal(buf, "100%");
	money_format_step(1, 125, 2, buf, sizeof(buf));
	assert_string_equal(buf, "1.25%");
	money_format_step(1, 5, 0, buf, sizeof(buf));
	assert_string_equal(buf, "0.05%");
	money_format_step(1, 10, 2, buf, sizeof(buf));
	assert_string_equal(buf, "0.1%");
	money_format_step(1, 1000, 2, buf, sizeof(buf));
	assert_string_equal(buf, "10%");
	money_format_step(1, 1010, 2, buf, sizeof(buf));
	assert_string_equal(buf, "10.1%");
	money_format_step(0, 500000, 2, buf, sizeof(buf));
	assert_string_equal(buf, "5000.00");
	money_format_step(0, 5, 0, buf, sizeof(buf));
	assert_string_equal(buf, "5");
	money_format_step(0, 5, 3, buf, sizeof(buf));
	assert_string_equal(buf, "0.005");
	money_format_step(1, 50, 2, buf, 3);
	assert_string_equal(buf, "0.");

	for (int64_t bp = 1; bp <= 10000; bp++) {
		money_format_step(1, bp, 2, buf, sizeof(buf));
		assert_int_equal(money_parse_step(buf, 2, &pct, &v), 0);
		assert_int_equal(pct, 1);
		assert_int_equal(v, bp);
	}
}

/* Run every money test. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exponent),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_overflow),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_step),
		cmocka_unit_test(test_percent_of),
		cmocka_unit_test(test_format_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
