/* Unit tests of the clock formats: dutch_reverse, dutch_forward, japanese_reverse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Start 1000.00, step 10.00 every 10 s; dutch_reverse up to 1050.00 (levels 0..5), the
 * falling clocks down to 950.00 (levels 0..5). */
#define BUYER  100
#define START  100000
#define STEP   1000
#define IVL    10000
#define T0     1800000000000LL
#define A      1
#define B      2
#define C      3

/* Parameters of a clock auction of `format`, limit `limit`, ending with the clock. */
static struct auction_params params(const char *format, int64_t limit)
{
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = START, .step_min = 1, .step_max = 1,
		.starts_at = T0, .ends_at = T0 + 6 * IVL, .format = auction_format_find(format),
		.clock_step = STEP, .clock_interval = IVL, .clock_limit = limit,
	};
	return p;
}

/* A running auction of `format` with limit `limit`. */
static void open_clock(struct auction *a, const char *format, int64_t limit)
{
	struct auction_params p = params(format, limit);

	assert_null(auction_params_check(&p));
	auction_init(a, 1, &p);
	/* Dutch: the clock's end; Japanese: round 0's end until two bidders are in */
	assert_int_equal(auction_end(a), T0 + (format[0] == 'd' ? 6 : 1) * IVL);
	auction_advance(a, T0, NULL);
	assert_int_equal(a->state, AUCTION_RUNNING);
}

/* Parameters: the limit on the right side, a step and interval, no extensions, an end
 * that lets the clock reach the limit; the clock's end is computed from them. */
static void test_params(void **state)
{
	struct auction_params p = params("dutch_reverse", 105000);

	assert_non_null(p.format);
	assert_null(auction_params_check(&p));
	assert_int_equal(auction_clock_end(&p), T0 + 6 * IVL);
	p.clock_limit = 104500;  /* the last step is shorter: still 5 steps */
	assert_int_equal(auction_clock_end(&p), T0 + 6 * IVL);
	p.clock_limit = START;
	assert_non_null(auction_params_check(&p));
	p.clock_limit = 105000;
	p.clock_step = 0;
	assert_non_null(auction_params_check(&p));
	p.clock_step = STEP;
	p.clock_interval = 0;
	assert_non_null(auction_params_check(&p));
	p.clock_interval = IVL;
	p.ext_window = 1000;
	p.ext_length = 1000;
	assert_non_null(auction_params_check(&p));
	p.ext_window = 0;
	assert_non_null(auction_params_check(&p));
	p.ext_length = 0;
	p.ends_at = T0 + 6 * IVL - 1;
	assert_non_null(auction_params_check(&p));
	p = params("dutch_forward", 105000);
	assert_non_null(auction_params_check(&p));
	p.clock_limit = 95000;
	assert_null(auction_params_check(&p));
	p = params("japanese_reverse", 95000);
	assert_null(auction_params_check(&p));
	/* a run too long to count in milliseconds is refused, its end not computed */
	p = params("dutch_reverse", INT64_MAX / 2);
	p.clock_step = 1;
	p.clock_interval = 86400000;
	p.ends_at = INT64_MAX / 2;
	assert_non_null(auction_params_check(&p));
	assert_int_equal(auction_clock_end(&p), -1);
	p.format = &auction_english_reverse;
	assert_int_equal(auction_clock_end(&p), -1);
}

/* Dutch reverse: the price steps up exactly at each interval; a bid at the old price at
 * the boundary is refused, the new price accepted; the acceptance wins and closes now. */
static void test_dutch_boundary(void **state)
{
	struct auction a;
	struct auction_clock ck;
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	open_clock(&a, "dutch_reverse", 105000);
	assert_int_equal(auction_clock(&a, T0 + 2 * IVL - 1, A, &ck), 0);
	assert_int_equal(ck.price, 101000);
	assert_int_equal(ck.next_step_at, T0 + 2 * IVL);
	assert_int_equal(ck.status, AUCTION_CLOCK_PENDING);
	assert_int_equal(auction_clock(&a, T0 + 2 * IVL, A, &ck), 0);
	assert_int_equal(ck.price, 102000);
	assert_int_equal(ck.round, 2);
	assert_int_equal(auction_bid(&a, 1, A, 101000, T0 + 2 * IVL, &ev), AUCTION_E_NOT_CLOCK_PRICE);
	assert_int_equal(auction_bid(&a, 2, BUYER, 102000, T0 + 2 * IVL, &ev), AUCTION_E_OWN_AUCTION);
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 3, A, 102000, T0 + 2 * IVL, &ev), AUCTION_OK);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T0 + 2 * IVL);
	assert_non_null(auction_events_find(&ev, AUCTION_EV_BID));
	e = auction_events_find(&ev, AUCTION_EV_CLOSED);
	assert_non_null(e);
	assert_int_equal(e->org, A);
	assert_int_equal(e->amount, 102000);
	assert_int_equal(e->bid_id, 3);
	/* a second acceptance in the same millisecond comes too late */
	assert_int_equal(auction_bid(&a, 4, B, 102000, T0 + 2 * IVL, NULL), AUCTION_E_ENDED);
	assert_int_equal(auction_clock(&a, T0 + 2 * IVL, A, &ck), -1);
	auction_free(&a);
}

/* A bid in the last millisecond of the ceiling's interval is accepted; at the clock's end
 * the auction is closed (unsuccessful when nobody accepted). */
static void test_dutch_deadline(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	open_clock(&a, "dutch_reverse", 105000);
	assert_int_equal(auction_bid(&a, 1, A, 105000, T0 + 6 * IVL - 1, NULL), AUCTION_OK);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(auction_at_rank(&a, 1)->org, A);
	auction_free(&a);

	open_clock(&a, "dutch_reverse", 105000);
	assert_int_equal(auction_bid(&a, 1, A, 105000, T0 + 6 * IVL, &ev), AUCTION_E_ENDED);
	e = auction_events_find(&ev, AUCTION_EV_CLOSED);
	assert_non_null(e);
	assert_int_equal(e->amount, 0);
	assert_int_equal(a.closed_at, T0 + 6 * IVL);
	assert_null(auction_at_rank(&a, 1));
	auction_free(&a);
}

/* The ceiling: a shorter last step reaches the limit exactly, and the clock stays there
 * until the end; the auction closes unsuccessful with no acceptance. */
static void test_dutch_ceiling(void **state)
{
	struct auction a;
	struct auction_clock ck;
	struct auction_params p = params("dutch_reverse", 104500);

	auction_init(&a, 1, &p);
	auction_advance(&a, T0, NULL);
	assert_int_equal(auction_clock(&a, T0 + 4 * IVL, 0, &ck), 0);
	assert_int_equal(ck.price, 104000);
	assert_int_equal(auction_clock(&a, T0 + 5 * IVL, 0, &ck), 0);
	assert_int_equal(ck.price, 104500);
	assert_int_equal(ck.round, ck.last_round);
	assert_int_equal(ck.next_step_at, T0 + 6 * IVL);
	assert_int_equal(auction_next_deadline(&a), T0 + 6 * IVL);
	auction_advance(&a, T0 + 6 * IVL, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.nbids, 0);
	auction_free(&a);
}

/* Dutch forward: the price falls to the floor; the first acceptance wins. */
static void test_dutch_forward(void **state)
{
	struct auction a;
	struct auction_clock ck;

	open_clock(&a, "dutch_forward", 95000);
	assert_int_equal(auction_clock(&a, T0 + IVL, 0, &ck), 0);
	assert_int_equal(ck.price, 99000);
	assert_int_equal(auction_bid(&a, 1, A, 100000, T0 + IVL, NULL), AUCTION_E_NOT_CLOCK_PRICE);
	assert_int_equal(auction_bid(&a, 2, A, 99000, T0 + IVL + 5, NULL), AUCTION_OK);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T0 + IVL + 5);
	auction_free(&a);
}

/* Rollback undoes an acceptance: the auction runs again at the same clock. */
static void test_dutch_rollback(void **state)
{
	struct auction a;
	struct auction_mark m;

	open_clock(&a, "dutch_reverse", 105000);
	auction_mark(&a, &m);
	assert_int_equal(auction_bid(&a, 1, A, 101000, T0 + IVL, NULL), AUCTION_OK);
	assert_int_equal(a.state, AUCTION_CLOSED);
	auction_rollback(&a, &m);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(auction_end(&a), T0 + 6 * IVL);
	assert_int_equal(auction_bid(&a, 2, B, 101000, T0 + IVL + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_at_rank(&a, 1)->org, B);
	auction_free(&a);
}

/* Japanese: join in round 0, confirm each level; one who lets a round pass is out for
 * good; the last one standing wins at its last confirmed price when the round ends. */
static void test_japanese_dropouts(void **state)
{
	struct auction a;
	struct auction_clock ck;
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	open_clock(&a, "japanese_reverse", 95000);
	assert_int_equal(auction_end(&a), T0 + IVL);
	assert_int_equal(auction_bid(&a, 1, A, 99000, T0, NULL), AUCTION_E_NOT_CLOCK_PRICE);
	assert_int_equal(auction_bid(&a, 2, A, START, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_end(&a), T0 + IVL);          /* one in: it would win at round 0's end */
	assert_int_equal(auction_bid(&a, 3, A, START, T0 + 2, NULL), AUCTION_E_CONFIRMED);
	assert_int_equal(auction_bid(&a, 4, B, START, T0 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 5, C, START, T0 + IVL - 1, NULL), AUCTION_OK);
	assert_int_equal(auction_end(&a), T0 + 2 * IVL);
	/* round 1 (990.00): C comes too late for round 0, A and B confirm, C does not */
	assert_int_equal(auction_clock(&a, T0 + IVL, C, &ck), 0);
	assert_int_equal(ck.price, 99000);
	assert_int_equal(ck.in, 3);
	assert_int_equal(ck.status, AUCTION_CLOCK_PENDING);
	assert_int_equal(auction_bid(&a, 6, A, 99000, T0 + IVL, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 7, B, 99000, T0 + IVL + 10, NULL), AUCTION_OK);
	assert_int_equal(auction_clock(&a, T0 + IVL + 20, A, &ck), 0);
	assert_int_equal(ck.status, AUCTION_CLOCK_CONFIRMED);
	/* round 2 (980.00): C is out; a newcomer is out; B confirms, A lets it pass */
	assert_int_equal(auction_clock(&a, T0 + 2 * IVL, C, &ck), 0);
	assert_int_equal(ck.status, AUCTION_CLOCK_OUT);
	assert_int_equal(ck.in, 2);
	assert_int_equal(auction_bid(&a, 8, C, 98000, T0 + 2 * IVL, NULL), AUCTION_E_DROPPED_OUT);
	assert_int_equal(auction_bid(&a, 9, 7, 98000, T0 + 2 * IVL, NULL), AUCTION_E_DROPPED_OUT);
	assert_int_equal(auction_bid(&a, 10, B, 98000, T0 + 2 * IVL + 500, NULL), AUCTION_OK);
	assert_int_equal(auction_end(&a), T0 + 3 * IVL);
	assert_int_equal(auction_next_deadline(&a), T0 + 3 * IVL);
	/* the round ends with B the only one in: B wins at 980.00 */
	assert_int_equal(auction_advance(&a, T0 + 3 * IVL, &ev), 1);
	e = auction_events_find(&ev, AUCTION_EV_CLOSED);
	assert_non_null(e);
	assert_int_equal(e->org, B);
	assert_int_equal(e->amount, 98000);
	assert_int_equal(e->bid_id, 10);
	assert_int_equal(a.closed_at, T0 + 3 * IVL);
	auction_free(&a);
}

/* Japanese: everybody left lets the same round pass: the earliest confirmation of the
 * previous level wins; nobody joining round 0 closes it unsuccessful. */
static void test_japanese_all_drop(void **state)
{
	struct auction a;

	open_clock(&a, "japanese_reverse", 95000);
	assert_int_equal(auction_bid(&a, 1, B, START, T0 + 5, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, A, START, T0 + 6, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 3, A, 99000, T0 + IVL + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 4, B, 99000, T0 + IVL + 2, NULL), AUCTION_OK);
	/* nobody confirms 980.00: A confirmed 990.00 first */
	assert_int_equal(auction_bid(&a, 5, B, 98000, T0 + 3 * IVL, NULL), AUCTION_E_ENDED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T0 + 3 * IVL);
	assert_int_equal(auction_at_rank(&a, 1)->org, A);
	assert_int_equal(auction_at_rank(&a, 1)->amount, 99000);
	auction_free(&a);

	open_clock(&a, "japanese_reverse", 95000);
	auction_advance(&a, T0 + IVL, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_null(auction_at_rank(&a, 1));
	auction_free(&a);
}

/* Japanese: a tie at the final level (the floor): the earlier confirmation wins, at the
 * floor's round end; a confirmation in the last millisecond of a round counts. */
static void test_japanese_final_tie(void **state)
{
	struct auction a;
	int64_t r;

	open_clock(&a, "japanese_reverse", 95000);
	assert_int_equal(auction_bid(&a, 1, A, START, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, B, START, T0, NULL), AUCTION_OK);
	for (r = 1; r <= 5; r++) {
		int64_t price = START - r * STEP;

		/* B confirms each level in the last millisecond of its round, A at its start */
		assert_int_equal(auction_bid(&a, 10 * r + 2, B, price, T0 + (r + 1) * IVL - 1, NULL),
		    AUCTION_OK);
		assert_int_equal(auction_bid(&a, 10 * r + 1, A, price, T0 + (r + 1) * IVL - 1, NULL),
		    AUCTION_OK);
	}
	assert_int_equal(auction_end(&a), T0 + 6 * IVL);
	assert_int_equal(a.state, AUCTION_RUNNING);
	auction_advance(&a, T0 + 6 * IVL, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(auction_at_rank(&a, 1)->org, B);
	assert_int_equal(auction_at_rank(&a, 1)->amount, 95000);
	assert_int_equal(auction_at_rank(&a, 2)->org, A);
	auction_free(&a);
}

/* Japanese rollback: a dropped confirmation brings the previous end back. */
static void test_japanese_rollback(void **state)
{
	struct auction a;
	struct auction_mark m;

	open_clock(&a, "japanese_reverse", 95000);
	assert_int_equal(auction_bid(&a, 1, A, START, T0, NULL), AUCTION_OK);
	auction_mark(&a, &m);
	assert_int_equal(auction_bid(&a, 2, B, START, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_end(&a), T0 + 2 * IVL);
	auction_rollback(&a, &m);
	assert_int_equal(auction_end(&a), T0 + IVL);
	assert_int_equal(a.nentries, 1);
	auction_free(&a);
}

/* Operator rules: a clock auction is never paused, resumed or extended (its price moves with
 * the time); nothing changes, and a bid goes on at the clock price. */
static void test_clock_refuses_operator_rules(void **state)
{
	struct auction a;

	open_clock(&a, "dutch_reverse", 105000);
	assert_int_equal(auction_pause(&a, T0 + 10, NULL), AUCTION_E_CLOCK_RULE);
	assert_int_equal(auction_resume(&a, T0 + 10, NULL), AUCTION_E_CLOCK_RULE);
	assert_int_equal(auction_prolong(&a, T0 + 10, 60000, NULL), AUCTION_E_CLOCK_RULE);
	assert_int_equal(a.paused, 0);
	assert_int_equal(auction_end(&a), T0 + 6 * IVL);
	assert_string_equal(auction_err_code(AUCTION_E_CLOCK_RULE), "not_for_clock_formats");
	assert_int_equal(auction_bid(&a, 1, A, START, T0 + 20, NULL), AUCTION_OK);
	auction_free(&a);
}

/* Runs the clock format tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_dutch_boundary),
		cmocka_unit_test(test_dutch_deadline),
		cmocka_unit_test(test_dutch_ceiling),
		cmocka_unit_test(test_dutch_forward),
		cmocka_unit_test(test_dutch_rollback),
		cmocka_unit_test(test_japanese_dropouts),
		cmocka_unit_test(test_japanese_all_drop),
		cmocka_unit_test(test_japanese_final_tie),
		cmocka_unit_test(test_japanese_rollback),
		cmocka_unit_test(test_clock_refuses_operator_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
