/* Unit tests of the second-place tail (44-FZ; english_reverse and english_forward): the
 * window after the main end in which the bidders but the winner may improve their places. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Start price 1000.00, steps 5.00 - 50.00, 10 minutes, no extensions, a 10-minute tail. */
#define BUYER   100
#define START   100000
#define STEPMIN 500
#define STEPMAX 5000
#define T0      1800000000000LL
#define DUR     600000
#define T1      (T0 + DUR)
#define TAIL    600000
#define T2      (T1 + TAIL)

/* Parameters of a reverse auction with a tail. */
static struct auction_params params(void)
{
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = START, .step_min = STEPMIN, .step_max = STEPMAX,
		.starts_at = T0, .ends_at = T1, .tail = TAIL,
	};
	return p;
}

/* Org 1 bids 995.00, org 2 990.00: org 2 wins the main phase at 990.00. */
static void two_bids(struct auction *a)
{
	assert_int_equal(auction_bid(a, 11, 1, 99500, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(a, 12, 2, 99000, T0 + 1, NULL), AUCTION_OK);
}

/* The tail parameter: not negative, at most a day, english formats only (a clock format
 * says so). */
static void test_tail_params(void **state)
{
	struct auction_params p = params();

	assert_null(auction_params_check(&p));
	p.tail = -1;
	assert_string_equal(auction_params_check(&p), "tail must not be negative");
	p.tail = AUCTION_TAIL_MAX + 1;
	assert_string_equal(auction_params_check(&p), "tail must not be longer than a day");
	p.tail = AUCTION_TAIL_MAX;
	assert_null(auction_params_check(&p));
	p = params();
	p.format = &auction_english_forward;
	assert_null(auction_params_check(&p));
	/* every clock format refuses a tail */
	const struct auction_format *clocks[] = { &auction_dutch_reverse, &auction_dutch_forward,
	    &auction_japanese_reverse };
	for (size_t i = 0; i < 3; i++) {
		p = params();
		p.format = clocks[i];
		p.clock_step = 1000;
		p.clock_interval = 1000;
		p.clock_limit = clocks[i] == &auction_dutch_reverse ? START + 10000 : START - 10000;
		p.ends_at = T0 + 3600000;
		p.tail = 0;
		assert_null(auction_params_check(&p));
		p.tail = 1000;
		assert_string_equal(auction_params_check(&p), "a clock format has no second-place tail");
	}
}

/* The main end opens the tail (event at the main end, with the winner); the auction runs
 * on until the tail's end, where it closes with the same winner and final price. */
static void test_tail_opens_and_closes(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	auction_init(&a, 1, &p);
	two_bids(&a);
	assert_int_equal(auction_next_deadline(&a), T1);
	assert_int_equal(auction_advance(&a, T1 - 1, NULL), 0);
	assert_int_equal(auction_in_tail(&a), 0);
	assert_int_equal(auction_advance(&a, T1, &ev), 1);
	assert_int_equal(ev.n, 1);
	e = &ev.ev[0];
	assert_int_equal(e->kind, AUCTION_EV_TAIL);
	assert_string_equal(auction_ev_name(e->kind), "tail");
	assert_int_equal(e->at, T1);
	assert_int_equal(e->ends_at, T1);
	assert_int_equal(e->tail_ends_at, T2);
	assert_int_equal(e->bid_id, 12);
	assert_int_equal(e->org, 2);
	assert_int_equal(e->amount, 99000);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(auction_in_tail(&a), 1);
	assert_int_equal(a.tail_end, T2);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(auction_close_at(&a), T2);
	assert_int_equal(auction_next_deadline(&a), T2);
	assert_null(auction_winner(&a));                  /* not closed yet */
	assert_int_equal(auction_tail_winner(&a)->org, 2);
	/* a bid just before the tail's end is a tail bid; at the end it is late */
	assert_int_equal(auction_bid(&a, 13, 1, 99100, T2 - 1, NULL), AUCTION_OK);
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 14, 1, 99000, T2, &ev), AUCTION_E_ENDED);
	assert_int_equal(ev.n, 1);
	e = &ev.ev[0];
	assert_int_equal(e->kind, AUCTION_EV_CLOSED);
	assert_int_equal(e->at, T2);
	assert_int_equal(e->bid_id, 12);
	assert_int_equal(e->amount, 99000);
	assert_int_equal(e->tail_ends_at, T2);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T2);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(auction_winner(&a)->org, 2);
	assert_int_equal(auction_tail_winner(&a)->org, 2);
	assert_int_equal(auction_at_rank(&a, 2)->amount, 99100);
	assert_int_equal(auction_next_deadline(&a), -1);
	auction_free(&a);
}

/* A bid at exactly the main end is the call that opens the tail and is judged as a tail
 * bid: equal to the final best, accepted, after the winner by sequence; no lead, no
 * extension. */
static void test_tail_bid_at_main_end(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };

	p.ext_window = 120000;
	p.ext_length = 120000;
	auction_init(&a, 1, &p);
	two_bids(&a);
	assert_int_equal(auction_bid(&a, 13, 1, 99000, T1, &ev), AUCTION_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_TAIL);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_BID);
	assert_int_equal(ev.ev[1].tail, 1);
	assert_int_equal(ev.ev[1].took_lead, 0);
	assert_int_equal(ev.ev[1].rank, 2);
	assert_int_equal(ev.ev[1].best, 99000);
	assert_int_equal(ev.ev[1].ends_at, T1);
	assert_int_equal(ev.ev[1].tail_ends_at, T2);
	assert_null(auction_events_find(&ev, AUCTION_EV_EXTENDED));
	assert_int_equal(a.extensions, 0);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(a.tail_end, T2);
	assert_int_equal(auction_at_rank(&a, 1)->org, 2);
	assert_int_equal(auction_at_rank(&a, 2)->org, 1);
	auction_free(&a);
}

/* Tail refusals: the winner (its own code), below the final best, not below its own, at or
 * above the start price, the buyer, not invited; no step rule. */
static void test_tail_rules(void **state)
{
	static const int64_t invited[] = { 1, 2, 3 };
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };

	p.invited = invited;
	p.ninvited = 3;
	auction_init(&a, 1, &p);
	two_bids(&a);
	auction_advance(&a, T1, NULL);
	assert_int_equal(auction_bid(&a, 20, 2, 98000, T1 + 1, NULL), AUCTION_E_TAIL_WINNER);
	assert_int_equal(auction_bid(&a, 20, 2, 99000, T1 + 1, NULL), AUCTION_E_TAIL_WINNER);
	assert_string_equal(auction_err_code(AUCTION_E_TAIL_WINNER), "tail_winner");
	assert_int_equal(auction_bid(&a, 20, 1, 98999, T1 + 1, NULL), AUCTION_E_BELOW_FINAL);
	assert_string_equal(auction_err_code(AUCTION_E_BELOW_FINAL), "bid_below_final_best");
	assert_int_equal(auction_bid(&a, 20, 1, 99500, T1 + 1, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_bid(&a, 20, 3, START, T1 + 1, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_bid(&a, 20, BUYER, 99000, T1 + 1, NULL), AUCTION_E_OWN_AUCTION);
	assert_int_equal(auction_bid(&a, 20, 4, 99000, T1 + 1, NULL), AUCTION_E_NOT_INVITED);
	assert_int_equal(a.nbids, 2);
	/* one minor unit below its own: no step rule in the tail */
	assert_int_equal(auction_bid(&a, 21, 1, 99499, T1 + 2, NULL), AUCTION_OK);
	/* a bidder new in the tail enters the ranking; the final best itself ranks after the
	 * bidders that had it first */
	assert_int_equal(auction_bid(&a, 22, 3, 99200, T1 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 3), 2);
	assert_int_equal(auction_bid(&a, 23, 1, 99000, T1 + 4, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 24, 3, 99000, T1 + 5, &ev), AUCTION_OK);
	assert_int_equal(ev.ev[0].rank, 3);
	assert_int_equal(auction_at_rank(&a, 1)->org, 2);
	assert_int_equal(auction_at_rank(&a, 2)->org, 1);
	assert_int_equal(auction_at_rank(&a, 3)->org, 3);
	assert_int_equal(auction_bid(&a, 25, 3, 99000, T1 + 6, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_best(&a), 99000);
	auction_advance(&a, T2, NULL);
	assert_int_equal(auction_winner(&a)->org, 2);
	assert_int_equal(a.nentries, 3);
	auction_free(&a);
}

/* english_forward mirrors the tail: not above the final best, above its own. */
static void test_tail_forward(void **state)
{
	struct auction a;
	struct auction_params p = params();

	p.format = &auction_english_forward;
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 11, 1, START + 500, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 12, 2, START + 1000, T0 + 1, NULL), AUCTION_OK);
	auction_advance(&a, T1, NULL);
	assert_int_equal(auction_in_tail(&a), 1);
	assert_int_equal(auction_bid(&a, 20, 2, START + 2000, T1, NULL), AUCTION_E_TAIL_WINNER);
	assert_int_equal(auction_bid(&a, 20, 1, START + 1001, T1, NULL), AUCTION_E_ABOVE_FINAL);
	assert_string_equal(auction_err_code(AUCTION_E_ABOVE_FINAL), "bid_above_final_best");
	assert_int_equal(auction_bid(&a, 20, 1, START + 500, T1, NULL), AUCTION_E_NOT_ABOVE_OWN);
	assert_int_equal(auction_bid(&a, 20, 3, START, T1, NULL), AUCTION_E_NOT_ABOVE_START);
	assert_int_equal(auction_bid(&a, 21, 1, START + 1000, T1 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 1), 2);
	auction_advance(&a, T2, NULL);
	assert_int_equal(auction_winner(&a)->org, 2);
	assert_int_equal(auction_winner(&a)->amount, START + 1000);
	auction_free(&a);
}

/* No winner at the main end (no bids; fewer than min_bidders there): no tail, the auction
 * closes at the main end, and nobody may come in later. With enough bidders at the main end
 * the tail opens and a newcomer joins it. */
static void test_tail_needs_a_winner(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };

	auction_init(&a, 1, &p);
	assert_int_equal(auction_advance(&a, T1, &ev), 2);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_CLOSED);
	assert_int_equal(a.closed_at, T1);
	assert_int_equal(a.tail_end, 0);
	assert_string_equal(auction_unsuccessful(&a), "no_bids");
	auction_free(&a);

	p.min_bidders = 3;
	auction_init(&a, 1, &p);
	two_bids(&a);
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 13, 3, 99000, T1, &ev), AUCTION_E_ENDED);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_CLOSED);
	assert_int_equal(a.closed_at, T1);
	assert_null(auction_tail_winner(&a));
	assert_string_equal(auction_unsuccessful(&a), "min_bidders");
	auction_free(&a);

	p.min_bidders = 2;
	auction_init(&a, 1, &p);
	two_bids(&a);
	assert_int_equal(auction_bid(&a, 13, 3, 99000, T1, NULL), AUCTION_OK);
	auction_advance(&a, T2, NULL);
	assert_null(auction_unsuccessful(&a));
	assert_int_equal(auction_winner(&a)->org, 2);
	auction_free(&a);
}

/* Extensions move the main end and the tail opens from the moved end; at max_extensions or
 * latest_end the tail opens from the end they allow; a tail bid extends nothing. */
static void test_tail_after_extensions(void **state)
{
	struct auction a;
	struct auction_params p = params();
	int64_t end;

	p.ext_window = 120000;
	p.ext_length = 120000;
	p.max_extensions = 1;
	p.latest_end = T1 + 60000;
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 11, 1, 99500, T1 - 1000, NULL), AUCTION_OK);
	end = T1 + 60000;                          /* capped by latest_end */
	assert_int_equal(a.ends_at, end);
	assert_int_equal(a.extensions, 1);
	assert_int_equal(auction_bid(&a, 12, 2, 99000, end - 1000, NULL), AUCTION_OK);
	assert_int_equal(a.extensions, 1);         /* max_extensions reached */
	assert_int_equal(a.ends_at, end);
	assert_int_equal(auction_bid(&a, 13, 1, 99000, end, NULL), AUCTION_OK);
	assert_int_equal(a.tail_end, end + TAIL);
	assert_int_equal(auction_bid(&a, 14, 3, 99400, end + TAIL - 1, NULL), AUCTION_OK);
	assert_int_equal(a.extensions, 1);
	assert_int_equal(a.ends_at, end);
	assert_int_equal(auction_next_deadline(&a), end + TAIL);
	auction_advance(&a, end + TAIL, NULL);
	assert_int_equal(a.closed_at, end + TAIL);
	assert_int_equal(auction_winner(&a)->org, 2);
	auction_free(&a);
}

/* A pause across the main end: the end does not run while paused, no tail opens; resume
 * moves the main end by the pause and the main phase goes on (a lead-taking bid); the tail
 * opens from the moved end. */
static void test_tail_pause_across_main_end(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };
	int64_t end = T1 + 11000;

	auction_init(&a, 1, &p);
	two_bids(&a);
	assert_int_equal(auction_pause(&a, T1 - 1000, NULL), AUCTION_OK);
	assert_int_equal(auction_advance(&a, T1 + 5000, NULL), 0);
	assert_int_equal(auction_in_tail(&a), 0);
	assert_int_equal(auction_next_deadline(&a), -1);
	assert_int_equal(auction_resume(&a, T1 + 10000, &ev), AUCTION_OK);
	assert_int_equal(a.ends_at, end);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].tail_ends_at, 0);
	/* still the main phase: a bid takes the lead by the step rule */
	assert_int_equal(auction_bid(&a, 13, 1, 98500, T1 + 10500, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 1), 1);
	ev.n = 0;
	assert_int_equal(auction_advance(&a, end, &ev), 1);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_TAIL);
	assert_int_equal(ev.ev[0].org, 1);
	assert_int_equal(a.tail_end, end + TAIL);
	auction_free(&a);
}

/* A pause in the tail: no bids, the tail's end does not run; resume moves the tail's end by
 * the pause, the main end stays. An operator's extension in the tail moves the tail's end. */
static void test_tail_pause_and_extend_in_tail(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };
	int64_t len = TAIL - 50000;

	auction_init(&a, 1, &p);
	two_bids(&a);
	/* the pause at the main end is made in the tail: the call opens it first */
	assert_int_equal(auction_pause(&a, T1 + 100000, &ev), AUCTION_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_TAIL);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_PAUSED);
	assert_int_equal(ev.ev[1].ends_at, T1);
	assert_int_equal(ev.ev[1].tail_ends_at, T2);
	assert_int_equal(auction_bid(&a, 13, 1, 99000, T1 + 100001, NULL), AUCTION_E_PAUSED);
	assert_int_equal(auction_next_deadline(&a), -1);
	assert_int_equal(auction_advance(&a, T2 + 50000, NULL), 0);
	assert_int_equal(a.state, AUCTION_RUNNING);
	ev.n = 0;
	assert_int_equal(auction_resume(&a, T2 + 50000, &ev), AUCTION_OK);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_RESUMED);
	assert_int_equal(ev.ev[0].prev_end, T2);
	assert_int_equal(ev.ev[0].ends_at, T1);
	assert_int_equal(ev.ev[0].amount, len);
	assert_int_equal(ev.ev[0].tail_ends_at, T2 + len);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(a.tail_end, T2 + len);
	assert_int_equal(auction_bid(&a, 13, 1, 99000, T2 + 50001, NULL), AUCTION_OK);
	ev.n = 0;
	assert_int_equal(auction_prolong(&a, T2 + 60000, 30000, &ev), AUCTION_OK);
	assert_int_equal(ev.ev[0].prev_end, T2 + len);
	assert_int_equal(ev.ev[0].ends_at, T1);
	assert_int_equal(ev.ev[0].tail_ends_at, T2 + len + 30000);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(a.extensions, 0);
	assert_int_equal(auction_next_deadline(&a), T2 + len + 30000);
	auction_advance(&a, T2 + len + 30000, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T2 + len + 30000);
	assert_int_equal(auction_winner(&a)->org, 2);
	auction_free(&a);
}

/* One late call: the tail opens and closes at once (tail, closed), closed_at the tail's end;
 * a cancellation in the tail cancels (no winner). */
static void test_tail_late_call_and_cancel(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };

	auction_init(&a, 1, &p);
	two_bids(&a);
	assert_int_equal(auction_advance(&a, T2 + 999999, &ev), 2);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_TAIL);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_CLOSED);
	assert_int_equal(ev.ev[1].at, T2);
	assert_int_equal(a.closed_at, T2);
	auction_free(&a);

	auction_init(&a, 1, &p);
	two_bids(&a);
	auction_advance(&a, T1 + 1, NULL);
	assert_int_equal(auction_cancel(&a, T1 + 2, NULL), 0);
	assert_int_equal(a.state, AUCTION_CANCELLED);
	assert_null(auction_winner(&a));
	assert_null(auction_tail_winner(&a));
	auction_free(&a);
}

/* Rolling back the call that opened the tail closes it again; the bid it carried is gone. */
static void test_tail_rollback(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_mark m;

	auction_init(&a, 1, &p);
	two_bids(&a);
	auction_mark(&a, &m);
	assert_int_equal(auction_bid(&a, 13, 3, 99100, T1 + 5, NULL), AUCTION_OK);
	assert_int_equal(a.tail_end, T2);
	auction_rollback(&a, &m);
	assert_int_equal(a.tail_end, 0);
	assert_int_equal(auction_in_tail(&a), 0);
	assert_int_equal(a.nentries, 2);
	assert_int_equal(auction_next_deadline(&a), T1);
	auction_free(&a);
}

/* In the tail everyone sees the final best (the tail's bound), whatever the visibility. */
static void test_tail_shows_best(void **state)
{
	struct auction a;
	struct auction_params p = params();

	p.visibility = AUCTION_VIS_RANK;
	auction_init(&a, 1, &p);
	two_bids(&a);
	assert_int_equal(auction_shows_best(&a), 0);
	auction_advance(&a, T1, NULL);
	assert_int_equal(auction_shows_best(&a), 1);
	assert_int_equal(auction_shows_ranking(&a), 0);
	auction_free(&a);
}

/* Without a tail nothing changes: the auction closes at the main end. */
static void test_no_tail(void **state)
{
	struct auction a;
	struct auction_params p = params();

	p.tail = 0;
	auction_init(&a, 1, &p);
	two_bids(&a);
	assert_int_equal(auction_bid(&a, 13, 1, 99000, T1, NULL), AUCTION_E_ENDED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T1);
	assert_int_equal(a.tail_end, 0);
	assert_null(auction_tail_winner(&a));
	auction_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tail_params),
		cmocka_unit_test(test_tail_opens_and_closes),
		cmocka_unit_test(test_tail_bid_at_main_end),
		cmocka_unit_test(test_tail_rules),
		cmocka_unit_test(test_tail_forward),
		cmocka_unit_test(test_tail_needs_a_winner),
		cmocka_unit_test(test_tail_after_extensions),
		cmocka_unit_test(test_tail_pause_across_main_end),
		cmocka_unit_test(test_tail_pause_and_extend_in_tail),
		cmocka_unit_test(test_tail_late_call_and_cancel),
		cmocka_unit_test(test_tail_rollback),
		cmocka_unit_test(test_tail_shows_best),
		cmocka_unit_test(test_no_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
