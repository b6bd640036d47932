/* Unit tests of the outage pause: the rule (auction/outage.c), an outage pause across the end
 * through the engine, and tenderctl's "paused" line (client/view.c view_pause_line). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "auction/auction.h"
#include "auction/outage.h"
#include "client/view.h"
#include "common/timeutil.h"

#define T0 1800000000000LL
#define T1 (T0 + 600000)

/* The defaults of auction.create with outage_share `share`. */
static struct auction_outage rule(int share)
{
	struct auction_outage o = { share, AUCTION_OUTAGE_WINDOW_MS, AUCTION_OUTAGE_MAX_PAUSE_MS,
	    AUCTION_OUTAGE_MIN_BIDDERS };
	return o;
}

/* More than the share trips it, exactly the share does not; too few bidders never do. */
static void test_trips(void **state)
{
	struct auction_outage o = rule(50);

	assert_int_equal(auction_outage_trips(&o, 4, 3), 1);
	assert_int_equal(auction_outage_trips(&o, 4, 2), 0);   /* 50% is not more than 50% */
	assert_int_equal(auction_outage_trips(&o, 3, 2), 1);
	assert_int_equal(auction_outage_trips(&o, 2, 2), 1);
	assert_int_equal(auction_outage_trips(&o, 1, 1), 0);   /* below outage_min_bidders */
	assert_int_equal(auction_outage_trips(&o, 4, 0), 0);
	o = rule(100);
	assert_int_equal(auction_outage_trips(&o, 4, 4), 0);   /* never more than 100% */
	o = rule(1);
	assert_int_equal(auction_outage_trips(&o, 1000, 11), 1);
	assert_int_equal(auction_outage_trips(&o, 1000, 10), 0);
	o = rule(0);
	assert_int_equal(auction_outage_trips(&o, 4, 4), 0);   /* no rule */
	o = rule(50);
	o.min_bidders = 5;
	assert_int_equal(auction_outage_trips(&o, 4, 4), 0);
	assert_int_equal(auction_outage_trips(&o, 5, 3), 1);
}

/* The bounds of the rule's parameters, and its deadline. */
static void test_check(void **state)
{
	struct auction_outage o = rule(50);

	assert_null(auction_outage_check(&o));
	o.share = 101;
	assert_string_equal(auction_outage_check(&o), "outage_share must be a percent between 1 and 100");
	o = rule(50);
	o.window = 999;
	assert_string_equal(auction_outage_check(&o), "outage_window must be between 1 and 600 seconds");
	o = rule(50);
	o.max_pause = AUCTION_OUTAGE_PAUSE_MAX_MS + 1;
	assert_non_null(auction_outage_check(&o));
	o = rule(50);
	o.min_bidders = 0;
	assert_string_equal(auction_outage_check(&o), "outage_min_bidders must be between 1 and 1000");
	o = rule(50);
	assert_int_equal(auction_outage_deadline(&o, T0), T0 + 900000);
}

/* An outage pause across the scheduled end: the auction does not close while paused; the
 * resume at max pause gives the paused time back. */
static void test_outage_pause_across_end(void **state)
{
	struct auction_params p = { .buyer_org = 9, .start_price = 100000, .step_min = 100,
	    .step_max = 5000, .starts_at = T0, .ends_at = T1 };
	struct auction_outage o = rule(50);
	struct auction a;
	int64_t at = T1 - 60000, resume = auction_outage_deadline(&o, at);

	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, 99000, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_outage_trips(&o, 4, 3), 1);
	assert_int_equal(auction_pause(&a, at, NULL), AUCTION_OK);
	assert_int_equal(auction_advance(&a, T1 + 1, NULL), 0);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(auction_bid(&a, 2, 2, 98000, T1 + 2, NULL), AUCTION_E_PAUSED);
	assert_int_equal(auction_resume(&a, resume, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + (resume - at));   /* the minute left is left again */
	assert_int_equal(auction_bid(&a, 2, 2, 98000, resume + 1, NULL), AUCTION_OK);
	auction_advance(&a, a.ends_at, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	auction_free(&a);
}

/* tenderctl's "paused" line: an outage pause with its count, one restored without it, an
 * operator's pause, and nothing when not paused. */
static void test_pause_line(void **state)
{
	char t[TIME_BUF], by[TIME_BUF], buf[256];
	json_t *a;

	time_format(T0, t);
	time_format(T0 + 900000, by);
	a = json_pack("{s:b, s:s, s:s, s:{s:i, s:i, s:s}}", "paused", 1, "paused_at", t,
	    "pause_reason", "outage", "outage", "lost", 3, "bidders", 4, "resumes_by", by);
	assert_int_equal(view_pause_line(a, buf, sizeof(buf)), 1);
	assert_non_null(strstr(buf, "connection outage (3 bidders lost), time given back; no bids "
	    "until they are back, at the latest "));
	json_object_set_new(json_object_get(a, "outage"), "lost", json_null());
	assert_int_equal(view_pause_line(a, buf, sizeof(buf)), 1);
	assert_non_null(strstr(buf, "connection outage, time given back"));
	json_object_set_new(a, "outage", json_null());
	assert_int_equal(view_pause_line(a, buf, sizeof(buf)), 1);
	assert_non_null(strstr(buf, "the end waits for the operator to resume"));
	json_object_set_new(a, "paused", json_false());
	assert_int_equal(view_pause_line(a, buf, sizeof(buf)), 0);
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trips),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_outage_pause_across_end),
		cmocka_unit_test(test_pause_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
