/* Unit tests of the rounds format (sealed initial bids, then rounds of turns). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Start 1000.00, steps 1.00..50.00 from the bidder's own price; 10 s initial phase, 5 s
 * pause, 3 rounds of 2 s turns with 3 s between rounds. */
#define BUYER   100
#define START   100000
#define T0      1800000000000LL
#define INITIAL 10000
#define PAUSE   5000
#define TURN    2000
#define RPAUSE  3000
#define R0      (T0 + INITIAL + PAUSE)
/* the start of round k (0-based) with n bidders */
#define RS(k, n) (R0 + (k) * ((n) * TURN + RPAUSE))
#define A       1
#define B       2
#define C       3
#define D       4

/* Parameters of a rounds auction ending at its latest possible end. */
static struct auction_params params(void)
{
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = START, .step_min = 100, .step_max = 5000,
		.starts_at = T0, .format = auction_format_find("rounds"),
		.rounds_initial = INITIAL, .rounds_pause = PAUSE, .rounds_count = 3,
		.rounds_turn = TURN, .rounds_round_pause = RPAUSE,
	};
	p.ends_at = auction_rounds_latest_end(&p);
	return p;
}

/* A running rounds auction in which A, B, C bid `pa`, `pb`, `pc` in the initial phase. */
static void open_rounds(struct auction *a, int64_t pa, int64_t pb, int64_t pc)
{
	struct auction_params p = params();

	assert_null(auction_params_check(&p));
	auction_init(a, 1, &p);
	assert_int_equal(auction_end(a), T0 + INITIAL);
	assert_int_equal(auction_bid(a, 1, A, pa, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(a, 2, B, pb, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(a, 3, C, pc, T0 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_end(a), R0 + 3 * 3 * TURN + 2 * RPAUSE);
}

/* The org whose turn it is at `now` (0 when none). */
static int64_t turn_at(const struct auction *a, int64_t now)
{
	struct auction_rounds_view v;

	assert_int_equal(auction_rounds_at(a, now, 0, &v), 0);
	return v.phase == AUCTION_ROUNDS_TURN ? v.turn_org : 0;
}

/* Parameters: the format by name, positive phases, no extensions, an end after the last
 * possible round (100 bidders). */
static void test_params(void **state)
{
	struct auction_params p = params();

	assert_non_null(p.format);
	assert_null(auction_params_check(&p));
	assert_int_equal(p.ends_at, R0 + 3 * (100 * TURN + RPAUSE) - RPAUSE);
	p.ends_at--;
	assert_non_null(auction_params_check(&p));
	p = params();
	p.ext_window = 1000;
	p.ext_length = 1000;
	assert_string_equal(auction_params_check(&p), "a rounds auction has no extensions");
	p = params();
	p.rounds_turn = 0;
	assert_non_null(auction_params_check(&p));
	p = params();
	p.rounds_count = INT64_MAX / 2;
	p.ends_at = INT64_MAX;
	assert_non_null(auction_params_check(&p));
	assert_int_equal(auction_rounds_latest_end(&p), -1);
}

/* The initial phase: sealed bids below the start, revisable downwards; a bidder who did not
 * bid in it cannot enter the rounds; no bids during the pause. */
static void test_initial_phase(void **state)
{
	struct auction a;

	open_rounds(&a, 95000, 96000, 97000);
	assert_true(auction_rounds_sealed(&a, T0 + 5));
	assert_int_equal(auction_bid(&a, 4, B, 96000, T0 + 4, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_bid(&a, 4, B, START, T0 + 4, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_bid(&a, 4, B, 94000, T0 + 4, NULL), AUCTION_OK);
	/* no step rule in the initial phase */
	assert_int_equal(auction_bid(&a, 5, B, 93999, T0 + 5, NULL), AUCTION_OK);
	/* the initial phase is [T0, T0 + INITIAL) */
	assert_int_equal(auction_bid(&a, 6, D, 90000, T0 + INITIAL - 1, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 7, A, 90000, T0 + INITIAL, NULL), AUCTION_E_ROUNDS_PAUSE);
	assert_int_equal(auction_bid(&a, 7, 5, 90000, T0 + INITIAL, NULL), AUCTION_E_NOT_INITIAL);
	assert_true(auction_rounds_sealed(&a, R0 - 1));
	assert_false(auction_rounds_sealed(&a, R0));
	/* a newcomer cannot enter in a round either */
	assert_int_equal(auction_bid(&a, 7, 5, 80000, R0, NULL), AUCTION_E_NOT_INITIAL);
	assert_int_equal(a.nentries, 4);
	assert_string_equal(auction_err_code(AUCTION_E_NOT_INITIAL), "not_initial_bidder");
	assert_string_equal(auction_err_code(AUCTION_E_ROUNDS_PAUSE), "rounds_pause");
	auction_free(&a);
}

/* Turn order with ties: worst first, the leader last; of equal prices the earlier bid ranks
 * better and so goes later. A turn is [start, start + TURN); the order stays fixed through
 * the round even when the standings change. */
static void test_turn_order_ties(void **state)
{
	struct auction a;

	open_rounds(&a, 90000, 90000, 95000);  /* ranking A (seq 1), B (seq 2), C */
	assert_int_equal(turn_at(&a, R0), C);
	assert_int_equal(turn_at(&a, R0 + TURN - 1), C);
	assert_int_equal(turn_at(&a, R0 + TURN), B);
	assert_int_equal(turn_at(&a, R0 + 2 * TURN), A);
	assert_int_equal(turn_at(&a, R0 + 3 * TURN), 0);  /* the pause after round 1 */
	assert_int_equal(auction_bid(&a, 4, A, 89000, R0, NULL), AUCTION_E_NOT_YOUR_TURN);
	/* from its own price 950.00, not from the best */
	assert_int_equal(auction_bid(&a, 4, C, 89000, R0, NULL), AUCTION_E_OWN_STEP_LARGE);
	assert_int_equal(auction_bid(&a, 4, C, 94950, R0, NULL), AUCTION_E_OWN_STEP_SMALL);
	assert_int_equal(auction_bid(&a, 4, C, 95000, R0, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_bid(&a, 4, C, 91000, R0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 5, C, 90500, R0 + 1, NULL), AUCTION_E_TURN_USED);
	/* the end of C's turn is B's turn */
	assert_int_equal(auction_bid(&a, 5, C, 90500, R0 + TURN, NULL), AUCTION_E_NOT_YOUR_TURN);
	assert_int_equal(auction_bid(&a, 5, B, 85000, R0 + TURN, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, B), 1);
	/* A is no longer the leader, yet its turn is still the last of this round */
	assert_int_equal(turn_at(&a, R0 + 2 * TURN), A);
	assert_int_equal(auction_bid(&a, 6, A, 89000, R0 + 3 * TURN - 1, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 7, A, 88000, R0 + 3 * TURN, NULL), AUCTION_E_ROUNDS_PAUSE);
	auction_free(&a);
}

/* The order is recomputed at each round's start; a pass leaves the price and the turn is
 * gone; the end is deterministic and closes with the lowest price. */
static void test_rounds_recompute_pass_end(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };
	struct auction_rounds_view v;
	int64_t end = R0 + 3 * 3 * TURN + 2 * RPAUSE;

	open_rounds(&a, 90000, 92000, 95000);  /* order C, B, A */
	/* C ties A's price; A's earlier bid still ranks first */
	assert_int_equal(auction_bid(&a, 4, C, 90000, R0, NULL), AUCTION_OK);
	/* B passes; A is now worst but keeps its last turn */
	assert_int_equal(auction_bid(&a, 5, A, 88500, R0 + 2 * TURN, NULL), AUCTION_OK);
	/* round 2: standings A 885.00, C 900.00, B 920.00 -> B, C, A */
	assert_int_equal(auction_rounds_at(&a, RS(1, 3) - 1, B, &v), 0);
	assert_int_equal(v.phase, AUCTION_ROUNDS_PAUSE);
	assert_int_equal(v.round, 1);
	assert_int_equal(v.your_turn_at, RS(1, 3));
	assert_int_equal(turn_at(&a, RS(1, 3)), B);
	assert_int_equal(turn_at(&a, RS(1, 3) + TURN), C);
	assert_int_equal(turn_at(&a, RS(1, 3) + 2 * TURN), A);
	/* B passes: its price stays, its turn is gone */
	assert_int_equal(auction_bid(&a, 6, B, 88000, RS(1, 3) + TURN, NULL), AUCTION_E_NOT_YOUR_TURN);
	assert_int_equal(auction_entry_of(&a, B)->amount, 92000);
	assert_int_equal(auction_rounds_at(&a, RS(1, 3) + TURN, B, &v), 0);
	assert_int_equal(v.your_turn_at, -1);
	assert_int_equal(v.turn_alias, 3);
	assert_int_equal(auction_bid(&a, 6, C, 88000, RS(1, 3) + TURN, NULL), AUCTION_OK);
	/* round 3 */
	assert_int_equal(turn_at(&a, RS(2, 3)), B);
	assert_int_equal(turn_at(&a, RS(2, 3) + TURN), A);
	assert_int_equal(turn_at(&a, RS(2, 3) + 2 * TURN), C);
	assert_int_equal(auction_bid(&a, 7, A, 87000, RS(2, 3) + TURN, NULL), AUCTION_OK);
	assert_int_equal(RS(2, 3) + 3 * TURN, end);
	assert_int_equal(auction_bid(&a, 8, C, 86000, end, &ev), AUCTION_E_ENDED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, end);
	assert_int_equal(auction_winner(&a)->org, A);
	assert_int_equal(auction_events_find(&ev, AUCTION_EV_CLOSED)->amount, 87000);
	auction_free(&a);
}

/* With fewer than two initial bidders there are no rounds: the auction closes at the end of
 * the initial phase (one bidder wins at its initial price). */
static void test_single_bidder(void **state)
{
	struct auction_params p = params();
	struct auction a;

	auction_init(&a, 1, &p);
	auction_advance(&a, T0, NULL);
	assert_int_equal(auction_bid(&a, 1, A, 99000, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_end(&a), T0 + INITIAL);
	auction_advance(&a, T0 + INITIAL, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(auction_winner(&a)->org, A);
	auction_free(&a);
	auction_init(&a, 1, &p);
	auction_advance(&a, T0 + INITIAL, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_null(auction_winner(&a));
	auction_free(&a);
}

/* Rolling back a round's first bid gives the round its order from the standings again. */
static void test_rollback(void **state)
{
	struct auction a;
	struct auction_mark m;

	open_rounds(&a, 90000, 92000, 95000);  /* order C, B, A */
	auction_mark(&a, &m);
	assert_int_equal(auction_bid(&a, 4, C, 90500, R0, NULL), AUCTION_OK);
	assert_int_equal(a.turn_round, 0);
	assert_int_equal(turn_at(&a, R0 + TURN), B);
	auction_rollback(&a, &m);
	assert_int_equal(a.turn_round, -1);
	assert_int_equal(auction_entry_of(&a, C)->amount, 95000);
	assert_int_equal(turn_at(&a, R0), C);
	assert_int_equal(turn_at(&a, R0 + 2 * TURN), A);
	assert_int_equal(auction_bid(&a, 4, C, 91000, R0 + 1, NULL), AUCTION_OK);
	assert_int_equal(turn_at(&a, R0 + 2 * TURN), A);
	auction_free(&a);
}

/* Seeded prices (a tender's) are initial bids; operators may not pause, resume or extend. */
static void test_seed_and_rules(void **state)
{
	struct auction_params p = params();
	struct auction a;

	auction_init(&a, 1, &p);
	assert_int_equal(auction_seed(&a, 1, A, START, T0 - 10, NULL), AUCTION_OK);
	assert_int_equal(auction_seed(&a, 2, B, 95000, T0 - 10, NULL), AUCTION_OK);
	assert_int_equal(auction_seed(&a, 3, C, START + 1, T0 - 10, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_end(&a), R0 + 3 * 2 * TURN + 2 * RPAUSE);
	assert_int_equal(turn_at(&a, R0), A);
	assert_int_equal(auction_pause(&a, T0 + 1, NULL), AUCTION_E_ROUNDS_RULE);
	assert_int_equal(auction_prolong(&a, T0 + 1, 1000, NULL), AUCTION_E_ROUNDS_RULE);
	assert_string_equal(auction_err_code(AUCTION_E_ROUNDS_RULE), "not_for_rounds");
	assert_int_equal(auction_bid(&a, 4, A, 99000, R0, NULL), AUCTION_OK);
	auction_free(&a);
}

/* The timeline view: phases, whose turn and until when, the viewer's own turn. */
static void test_view(void **state)
{
	struct auction a;
	struct auction_rounds_view v;

	open_rounds(&a, 90000, 92000, 95000);
	assert_int_equal(auction_rounds_at(&a, T0 + 5, A, &v), 0);
	assert_int_equal(v.phase, AUCTION_ROUNDS_INITIAL);
	assert_int_equal(v.phase_ends_at, T0 + INITIAL);
	assert_true(v.sealed);
	assert_int_equal(auction_rounds_at(&a, R0 + TURN + 5, A, &v), 0);
	assert_int_equal(v.phase, AUCTION_ROUNDS_TURN);
	assert_int_equal(v.round, 0);
	assert_int_equal(v.turn, 1);
	assert_int_equal(v.turn_org, B);
	assert_int_equal(v.phase_ends_at, R0 + 2 * TURN);
	assert_int_equal(v.your_turn_at, R0 + 2 * TURN);
	assert_false(v.sealed);
	assert_int_equal(auction_rounds_at(&a, R0 + 3 * TURN, A, &v), 0);
	assert_int_equal(v.phase, AUCTION_ROUNDS_PAUSE);
	assert_int_equal(v.phase_ends_at, RS(1, 3));
	assert_int_equal(auction_rounds_at(&a, v.ends_at, A, &v), 0);
	assert_int_equal(v.phase, AUCTION_ROUNDS_OVER);
	auction_free(&a);
}

/* The worked example of docs/auction-rules.md ("Rounds with turns"), minute by minute. */
static void test_worked_example(void **state)
{
	const int64_t M = 60000, S = 1000;
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = 100000, .step_min = 500, .step_max = 5000,
		.starts_at = T0, .format = &auction_rounds, .rounds_initial = 600 * S,
		.rounds_pause = 300 * S, .rounds_count = 3, .rounds_turn = 120 * S,
		.rounds_round_pause = 120 * S,
	};
	struct auction a;

	p.ends_at = auction_rounds_latest_end(&p);
	assert_null(auction_params_check(&p));
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, A, 95000, T0 + 1 * M, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, B, 96000, T0 + 2 * M, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 3, C, 99000, T0 + 3 * M, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 4, C, 98000, T0 + 4 * M, NULL), AUCTION_OK);
	assert_int_equal(auction_end(&a), T0 + 37 * M);
	assert_int_equal(auction_bid(&a, 5, A, 94000, T0 + 10 * M + 30 * S, NULL),
	    AUCTION_E_ROUNDS_PAUSE);
	assert_int_equal(auction_bid(&a, 5, D, 90000, T0 + 12 * M, NULL), AUCTION_E_NOT_INITIAL);
	assert_int_equal(auction_bid(&a, 5, A, 94000, T0 + 15 * M + 10 * S, NULL),
	    AUCTION_E_NOT_YOUR_TURN);
	assert_int_equal(auction_bid(&a, 5, C, 92000, T0 + 15 * M + 20 * S, NULL),
	    AUCTION_E_OWN_STEP_LARGE);
	assert_int_equal(auction_bid(&a, 5, C, 94500, T0 + 15 * M + 30 * S, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, C), 1);
	assert_int_equal(auction_bid(&a, 6, C, 94000, T0 + 16 * M, NULL), AUCTION_E_TURN_USED);
	assert_int_equal(auction_bid(&a, 6, C, 94000, T0 + 17 * M, NULL), AUCTION_E_NOT_YOUR_TURN);
	assert_int_equal(auction_bid(&a, 6, A, 93000, T0 + 20 * M, NULL), AUCTION_OK);
	assert_int_equal(turn_at(&a, T0 + 23 * M), B);
	assert_int_equal(auction_bid(&a, 7, B, 91000, T0 + 24 * M, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 8, A, 90500, T0 + 28 * M, NULL), AUCTION_OK);
	assert_int_equal(turn_at(&a, T0 + 31 * M), C);
	assert_int_equal(turn_at(&a, T0 + 33 * M), B);
	assert_int_equal(turn_at(&a, T0 + 35 * M), A);
	assert_int_equal(auction_bid(&a, 9, C, 90000, T0 + 32 * M, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 10, B, 90700, T0 + 34 * M, NULL), AUCTION_E_OWN_STEP_SMALL);
	assert_int_equal(auction_bid(&a, 10, A, 89500, T0 + 36 * M, NULL), AUCTION_OK);
	auction_advance(&a, T0 + 37 * M, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(auction_winner(&a)->org, A);
	assert_int_equal(auction_winner(&a)->amount, 89500);
	auction_free(&a);
}

/* Runs the rounds format tests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_initial_phase),
		cmocka_unit_test(test_turn_order_ties),
		cmocka_unit_test(test_rounds_recompute_pass_end),
		cmocka_unit_test(test_single_bidder),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_seed_and_rules),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_worked_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
