/* Unit tests of the auction formats (english_forward) and the extension limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Start price 1000.00 (the floor of a forward auction), steps 5.00 - 50.00, 10 minutes,
 * 2-minute window, 3-minute extension. */
#define BUYER   100
#define START   100000
#define STEPMIN 500
#define STEPMAX 5000
#define T0      1800000000000LL
#define DUR     600000
#define T1      (T0 + DUR)
#define WIN     120000
#define EXT     180000

/* Parameters of a forward auction (the format given by name). */
static struct auction_params params_fwd(const char *format)
{
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = START, .step_min = STEPMIN, .step_max = STEPMAX,
		.starts_at = T0, .ends_at = T1, .ext_window = WIN, .ext_length = EXT,
		.format = auction_format_find(format),
	};
	return p;
}

/* Formats are found by name; an unknown name is none; the default is english_reverse. */
static void test_lookup(void **state)
{
	struct auction a;
	struct auction_params p = params_fwd("english_reverse");

	assert_ptr_equal(auction_format_find("english_reverse"), &auction_english_reverse);
	assert_ptr_equal(auction_format_find("english_forward"), &auction_english_forward);
	assert_null(auction_format_find("dutch"));
	assert_null(auction_format_find(NULL));
	p.format = NULL;
	assert_null(auction_params_check(&p));
	auction_init(&a, 1, &p);
	assert_ptr_equal(auction_format_of(&a), &auction_english_reverse);
	assert_false(auction_format_of(&a)->higher_wins);
	auction_free(&a);
}

/* Forward parameters: step_min may exceed the start price; the limits are checked. */
static void test_forward_params(void **state)
{
	struct auction_params p = params_fwd("english_forward");

	p.step_min = p.step_max = 2 * START;
	assert_null(auction_params_check(&p));
	p.format = &auction_english_reverse;
	assert_non_null(auction_params_check(&p));
	p = params_fwd("english_forward");
	p.max_extensions = -1;
	assert_non_null(auction_params_check(&p));
	p = params_fwd("english_forward");
	p.latest_end = T1 - 1;
	assert_non_null(auction_params_check(&p));
	p.latest_end = T1;
	assert_null(auction_params_check(&p));
}

/* Every refusal of a forward bid, and acceptance at the exact bounds. */
static void test_forward_rules(void **state)
{
	struct auction a;
	struct auction_params p = params_fwd("english_forward");
	struct auction_events ev = { 0 };

	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMIN, T0 - 1, NULL), AUCTION_E_NOT_STARTED);
	assert_int_equal(auction_bid(&a, 1, BUYER, START + STEPMIN, T0, NULL), AUCTION_E_OWN_AUCTION);
	assert_int_equal(auction_bid(&a, 1, 1, 0, T0, NULL), AUCTION_E_NOT_POSITIVE);
	assert_int_equal(auction_bid(&a, 1, 1, START, T0, NULL), AUCTION_E_NOT_ABOVE_START);
	assert_int_equal(auction_bid(&a, 1, 1, START - 1, T0, NULL), AUCTION_E_NOT_ABOVE_START);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMIN - 1, T0, NULL), AUCTION_E_STEP_TOO_SMALL);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMAX + 1, T0, NULL), AUCTION_E_STEP_TOO_LARGE);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMIN, T0, &ev), AUCTION_OK);
	assert_int_equal(ev.ev[ev.n - 1].kind, AUCTION_EV_BID);
	assert_true(ev.ev[ev.n - 1].took_lead);
	assert_int_equal(auction_best(&a), START + STEPMIN);
	assert_int_equal(auction_bid(&a, 2, 1, START + 2 * STEPMIN, T0, NULL), AUCTION_E_WHILE_LEADING);
	assert_int_equal(auction_bid(&a, 2, 2, START + STEPMIN + STEPMAX, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 2), 1);
	assert_int_equal(auction_rank_of(&a, 1), 2);
	assert_int_equal(auction_bid(&a, 3, 1, START + STEPMIN, T0 + 2, NULL), AUCTION_E_NOT_ABOVE_OWN);
	assert_int_equal(auction_bid(&a, 3, 1, START + STEPMIN - 1, T0 + 2, NULL), AUCTION_E_NOT_ABOVE_OWN);
	/* a tie with the best does not take the lead: ranks after it, by sequence */
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 3, 1, START + STEPMIN + STEPMAX, T0 + 3, &ev), AUCTION_OK);
	assert_false(ev.ev[0].took_lead);
	assert_int_equal(ev.ev[0].rank, 2);
	assert_int_equal(auction_at_rank(&a, 1)->org, 2);
	/* the result at the close: the highest price, the earlier of a tie */
	ev.n = 0;
	auction_advance(&a, T1, &ev);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_CLOSED);
	assert_int_equal(ev.ev[0].org, 2);
	assert_int_equal(ev.ev[0].amount, START + STEPMIN + STEPMAX);
	auction_free(&a);
}

/* Forward bounds and seeds: a seed may equal the floor, not fall below it. */
static void test_forward_bounds_seed(void **state)
{
	struct auction a;
	struct auction_params p = params_fwd("english_forward");
	struct auction_bounds bd;

	auction_init(&a, 1, &p);
	assert_int_equal(auction_seed(&a, 1, 1, START - 1, T0 - 10, NULL), AUCTION_E_NOT_ABOVE_START);
	assert_int_equal(auction_seed(&a, 1, 1, START, T0 - 10, NULL), AUCTION_OK);
	assert_int_equal(auction_seed(&a, 2, 2, START + 700, T0 - 10, NULL), AUCTION_OK);
	assert_int_equal(auction_at_rank(&a, 1)->org, 2);
	auction_bounds(&a, 1, &bd);
	assert_int_equal(bd.reference, START + 700);
	assert_int_equal(bd.own, START);
	assert_int_equal(bd.lead_min, START + 700 + STEPMIN);
	assert_int_equal(bd.lead_max, START + 700 + STEPMAX);
	assert_int_equal(bd.lead_near, bd.lead_min);
	assert_int_equal(bd.lead_far, bd.lead_max);
	/* the first live bid is measured from the best seeded price */
	assert_int_equal(auction_bid(&a, 3, 1, START + 700 + STEPMIN - 1, T0, NULL),
	    AUCTION_E_STEP_TOO_SMALL);
	assert_int_equal(auction_bid(&a, 3, 1, START + 700 + STEPMIN, T0, NULL), AUCTION_OK);
	auction_free(&a);
}

/* Rollback rebuilds forward standings in forward order. */
static void test_forward_rollback(void **state)
{
	struct auction a;
	struct auction_params p = params_fwd("english_forward");
	struct auction_mark m;

	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START + 1000, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, 2, START + 2000, T0, NULL), AUCTION_OK);
	auction_mark(&a, &m);
	assert_int_equal(auction_bid(&a, 3, 3, START + 3000, T0, NULL), AUCTION_OK);
	auction_rollback(&a, &m);
	assert_int_equal(auction_best(&a), START + 2000);
	assert_int_equal(auction_at_rank(&a, 1)->org, 2);
	assert_int_equal(auction_at_rank(&a, 2)->org, 1);
	auction_free(&a);
}

/* max_extensions: the Nth extension happens, the next lead-taking bid in the window does not. */
static void test_max_extensions(void **state)
{
	struct auction a;
	struct auction_params p = params_fwd("english_reverse");
	struct auction_events ev = { 0 };
	int64_t t = T1 - 1000;

	p.max_extensions = 2;
	assert_null(auction_params_check(&p));
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, t, &ev), AUCTION_OK);
	assert_int_equal(a.extensions, 1);
	assert_int_equal(a.ends_at, t + EXT);
	t = a.ends_at - 1;   /* a bid at the last millisecond */
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, t, NULL), AUCTION_OK);
	assert_int_equal(a.extensions, 2);
	assert_int_equal(a.ends_at, t + EXT);
	t = a.ends_at - 1;
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 3, 1, START - 3 * STEPMIN, t, &ev), AUCTION_OK);
	assert_int_equal(a.extensions, 2);
	assert_int_equal(a.ends_at, t + 1);
	assert_null(auction_events_find(&ev, AUCTION_EV_EXTENDED));
	/* a bid at the deadline itself is refused and closes the auction */
	assert_int_equal(auction_bid(&a, 4, 2, START - 4 * STEPMIN, a.ends_at, NULL), AUCTION_E_ENDED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	auction_free(&a);
}

/* latest_end: an extension is cut at it, and none moves the end once it is there. */
static void test_latest_end(void **state)
{
	struct auction a;
	struct auction_params p = params_fwd("english_forward");
	struct auction_events ev = { 0 };

	p.latest_end = T1 + 60000;
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMIN, T1 - 1000, &ev), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + 60000);
	assert_int_equal(a.extensions, 1);
	assert_non_null(auction_events_find(&ev, AUCTION_EV_EXTENDED));
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 2, 2, START + 2 * STEPMIN, T1 + 59999, &ev), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + 60000);
	assert_int_equal(a.extensions, 1);
	assert_null(auction_events_find(&ev, AUCTION_EV_EXTENDED));
	assert_int_equal(auction_bid(&a, 3, 1, START + 3 * STEPMIN, T1 + 60000, NULL), AUCTION_E_ENDED);
	/* latest_end equal to the scheduled end: no extension at all */
	auction_free(&a);
	p.latest_end = T1;
	auction_init(&a, 2, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMIN, T1 - 1, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(a.extensions, 0);
	auction_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_forward_params),
		cmocka_unit_test(test_forward_rules),
		cmocka_unit_test(test_forward_bounds_seed),
		cmocka_unit_test(test_forward_rollback),
		cmocka_unit_test(test_max_extensions),
		cmocka_unit_test(test_latest_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
