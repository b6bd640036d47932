/* Unit tests of multi-lot auctions' staggered-closing rule (auction_stagger): lot k never
 * closes less than the stagger after lot k-1. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Start price 1000.00, steps 5.00 - 50.00, 10 minutes, a 2-minute window and extension; lot k
 * of the event ends (k-1) minutes after lot 1. */
#define BUYER   100
#define T0      1800000000000LL
#define DUR     600000
#define STAGGER 60000

/* Parameters of lot `k` (1-based) of a staggered event. */
static struct auction_params lot_params(int k)
{
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = 100000, .step_min = 500, .step_max = 5000,
		.starts_at = T0, .ends_at = T0 + DUR + (k - 1) * STAGGER,
		.ext_window = 120000, .ext_length = 120000,
	};
	return p;
}

/* An extension of lot 1 moves lot 2 to exactly the stagger after it, as a prolongation that
 * is no extension of lot 2; lot 3 then follows lot 2. */
static void test_extension_moves_the_next_lot(void **state)
{
	struct auction l1, l2, l3;
	struct auction_params p1 = lot_params(1), p2 = lot_params(2), p3 = lot_params(3);
	struct auction_events ev = { 0 };
	int64_t at = T0 + DUR - 30000;   /* 30 s before lot 1's end */

	auction_init(&l1, 1, &p1);
	auction_init(&l2, 2, &p2);
	auction_init(&l3, 3, &p3);
	/* before any extension every lot keeps its stagger: nothing moves */
	assert_int_equal(auction_stagger(&l2, &l1, STAGGER, T0 + 1000, NULL), 0);
	assert_int_equal(l2.ends_at, T0 + DUR + STAGGER);
	assert_int_equal(auction_bid(&l1, 1, 7, 99000, at, NULL), AUCTION_OK);
	assert_int_equal(l1.ends_at, at + 120000);
	assert_int_equal(auction_stagger(&l2, &l1, STAGGER, at, &ev), 1);
	assert_int_equal(l2.ends_at, at + 120000 + STAGGER);
	assert_int_equal(l2.extensions, 0);
	assert_int_equal(l2.p.ends_at, T0 + DUR + STAGGER);  /* the scheduled end stays */
	assert_non_null(auction_events_find(&ev, AUCTION_EV_PROLONGED));
	assert_int_equal(auction_events_find(&ev, AUCTION_EV_PROLONGED)->amount,
	    at + 120000 + STAGGER - (T0 + DUR + STAGGER));
	assert_int_equal(auction_stagger(&l3, &l2, STAGGER, at, NULL), 1);
	assert_int_equal(l3.ends_at, l2.ends_at + STAGGER);
	/* again: nothing left to move */
	assert_int_equal(auction_stagger(&l3, &l2, STAGGER, at, NULL), 0);
	auction_free(&l1);
	auction_free(&l2);
	auction_free(&l3);
}

/* A later lot already far enough (its own extension) stays where it is. */
static void test_far_enough_stays(void **state)
{
	struct auction l1, l2;
	struct auction_params p1 = lot_params(1), p2 = lot_params(2);
	int64_t end2;

	auction_init(&l1, 1, &p1);
	auction_init(&l2, 2, &p2);
	/* lot 1 extended to 2 minutes after a bid 1 s before its end (10:11:59) */
	assert_int_equal(auction_bid(&l1, 2, 8, 99000, T0 + DUR - 1000, NULL), AUCTION_OK);
	/* lot 2's own bid 1 s before its end: 2 minutes after it, exactly the stagger after
	 * lot 1's new end */
	assert_int_equal(auction_bid(&l2, 1, 7, 99000, T0 + DUR + STAGGER - 1000, NULL),
	    AUCTION_OK);
	end2 = l2.ends_at;
	assert_int_equal(end2, l1.ends_at + STAGGER);
	assert_int_equal(auction_stagger(&l2, &l1, STAGGER, T0 + DUR + STAGGER - 1000, NULL), 0);
	assert_int_equal(l2.ends_at, end2);
	auction_free(&l1);
	auction_free(&l2);
}

/* A lot that no longer runs cannot move (-1); one at the very edge of time saturates. */
static void test_not_running_and_edges(void **state)
{
	struct auction l1, l2;
	struct auction_params p1 = lot_params(1), p2 = lot_params(2);
	struct auction_events ev = { 0 };

	auction_init(&l1, 1, &p1);
	auction_init(&l2, 2, &p2);
	/* lot 2 cancelled */
	assert_int_equal(auction_cancel(&l2, T0 + 1000, NULL), 0);
	assert_int_equal(auction_bid(&l1, 1, 7, 99000, T0 + DUR - 1000, NULL), AUCTION_OK);
	assert_int_equal(auction_stagger(&l2, &l1, STAGGER, T0 + DUR - 1000, &ev), -1);
	assert_int_equal(l2.state, AUCTION_CANCELLED);
	auction_free(&l2);
	/* scheduled: the lot has not started (a prolongation needs a running auction) */
	p2.starts_at = T0 + DUR;
	auction_init(&l2, 2, &p2);
	assert_int_equal(auction_stagger(&l2, &l1, 10 * DUR, T0 + 2000, NULL), -1);
	assert_int_equal(l2.ends_at, p2.ends_at);
	auction_free(&l2);
	/* a stagger that would pass the end of time stops at INT64_MAX */
	p2 = lot_params(2);
	auction_init(&l2, 2, &p2);
	assert_int_equal(auction_stagger(&l2, &l1, INT64_MAX, T0 + 2000, NULL), 1);
	assert_int_equal(l2.ends_at, INT64_MAX);
	auction_free(&l1);
	auction_free(&l2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extension_moves_the_next_lot),
		cmocka_unit_test(test_far_enough_stays),
		cmocka_unit_test(test_not_running_and_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
