/* Unit tests of tenderctl's clock lines (client/view.c view_clock_lines): what a bidder reads
 * in a clock auction, carried forward from the view to the time of the redraw. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "client/view.h"
#include "common/timeutil.h"

/* An AUCTION object of `format` whose clock shows `price` until next_step_at `next`. */
static json_t *clock_view(const char *format, const char *price, const char *limit,
    const char *status, int64_t next)
{
	char t[TIME_BUF];

	time_format(next, t);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:s?}", "format", format,
	    "currency", "RUB", "start_price", "1000.00", "clock_price", price, "clock_step", "10.00",
	    "clock_interval", 10000, "clock_limit", limit, "next_step_at", t, "round", 3, "in", 2,
	    "your_clock_status", status);
}

/* Dutch: the price and its deadline move on with the time; capped at the ceiling. */
static void test_dutch_forward_in_time(void **state)
{
	int64_t next = 1800000030000LL;
	json_t *a = clock_view("dutch_reverse", "1020.00", "1100.00", "accept", next);
	char clock[256], todo[256];

	view_clock_lines(a, next - 1, clock, todo, sizeof(todo));
	assert_string_equal(clock, "1020.00 RUB, rising 10.00 every 10.0 s to 1100.00 (the ceiling)");
	assert_non_null(strstr(todo, "accept 1020.00 RUB now (until "));
	view_clock_lines(a, next + 10000, clock, todo, sizeof(todo));
	assert_non_null(strstr(todo, "accept 1040.00 RUB now (until "));
	view_clock_lines(a, next + 1000000, clock, todo, sizeof(todo));
	assert_non_null(strstr(todo, "accept 1100.00 RUB now"));
	json_decref(a);
}

/* Japanese: confirmed this round, so the next one must be confirmed; a round let pass is out. */
static void test_japanese_next_round(void **state)
{
	int64_t next = 1800000045000LL;
	json_t *a = clock_view("japanese_reverse", "980.00", "900.00", "confirmed", next);
	char clock[256], todo[256];

	view_clock_lines(a, next - 5, clock, todo, sizeof(todo));
	assert_string_equal(clock, "round 3: 980.00 RUB, 2 in; falling 10.00 every 10.0 s to 900.00");
	assert_non_null(strstr(todo, "confirmed 980.00 RUB; the next round starts at "));
	view_clock_lines(a, next, clock, todo, sizeof(todo));
	assert_string_equal(clock, "round 4: 970.00 RUB; falling 10.00 every 10.0 s to 900.00");
	assert_non_null(strstr(todo, "confirm 970.00 RUB by "));
	assert_non_null(strstr(todo, "to stay in"));
	view_clock_lines(a, next + 10000, clock, todo, sizeof(todo));
	assert_string_equal(todo, "you are out: you did not confirm a round in time");
	json_decref(a);
	a = clock_view("japanese_reverse", "980.00", "900.00", "confirm", next);
	view_clock_lines(a, next + 1, clock, todo, sizeof(todo));
	assert_string_equal(todo, "you are out: you did not confirm a round in time");
	json_decref(a);
}

/* Not a clock auction, or not running: no lines. */
static void test_no_clock(void **state)
{
	json_t *a = json_pack("{s:s, s:s}", "format", "english_reverse", "currency", "RUB");
	char clock[256], todo[256];

	view_clock_lines(a, 0, clock, todo, sizeof(todo));
	assert_string_equal(clock, "");
	assert_string_equal(todo, "");
	json_decref(a);
}

/* Runs the clock line tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dutch_forward_in_time),
		cmocka_unit_test(test_japanese_next_round),
		cmocka_unit_test(test_no_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
