/* Unit tests of the rules that apply to every auction format: visibility, invitation-only,
 * minimum participation, operator pause / resume / extension. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Start price 1000.00, steps 5.00 - 50.00, 10 minutes, no extensions. */
#define BUYER   100
#define START   100000
#define STEPMIN 500
#define STEPMAX 5000
#define T0      1800000000000LL
#define DUR     600000
#define T1      (T0 + DUR)

/* Parameters of a reverse auction. */
static struct auction_params params(void)
{
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = START, .step_min = STEPMIN, .step_max = STEPMAX,
		.starts_at = T0, .ends_at = T1,
	};
	return p;
}

/* Visibilities are named and parsed; the zero value is rank_and_best; others are refused. */
static void test_visibility_names(void **state)
{
	enum auction_visibility v = AUCTION_VIS_RANKING;
	struct auction_params p = params();

	assert_string_equal(auction_visibility_name(AUCTION_VIS_RANK_AND_BEST), "rank_and_best");
	assert_string_equal(auction_visibility_name(AUCTION_VIS_RANK), "rank");
	assert_string_equal(auction_visibility_name(AUCTION_VIS_RANKING), "ranking");
	assert_int_equal(auction_visibility_parse("rank", &v), 0);
	assert_int_equal(v, AUCTION_VIS_RANK);
	assert_int_equal(auction_visibility_parse("ranking", &v), 0);
	assert_int_equal(v, AUCTION_VIS_RANKING);
	assert_int_equal(auction_visibility_parse("Rank", &v), -1);
	assert_int_equal(auction_visibility_parse("", &v), -1);
	assert_int_equal(auction_visibility_parse(NULL, &v), -1);
	assert_int_equal(v, AUCTION_VIS_RANKING);
	assert_int_equal(p.visibility, AUCTION_VIS_RANK_AND_BEST);
	assert_null(auction_params_check(&p));
	p.visibility = (enum auction_visibility)7;
	assert_non_null(auction_params_check(&p));
}

/* What competitors see by visibility, before, during and after the auction; cancelled too. */
static void test_visibility_shows(void **state)
{
	static const struct { enum auction_visibility v; int best, ranking; } cases[] = {
		{ AUCTION_VIS_RANK_AND_BEST, 1, 0 },
		{ AUCTION_VIS_RANK, 0, 0 },
		{ AUCTION_VIS_RANKING, 1, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct auction a;
		struct auction_params p = params();

		p.visibility = cases[i].v;
		auction_init(&a, 1, &p);
		assert_int_equal(auction_shows_best(&a), cases[i].best);
		assert_int_equal(auction_shows_ranking(&a), cases[i].ranking);
		assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_OK);
		assert_int_equal(auction_shows_best(&a), cases[i].best);
		assert_int_equal(auction_shows_ranking(&a), cases[i].ranking);
		/* closed: everyone sees the best price and the ranking (a bid at the end is late) */
		assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T1, NULL), AUCTION_E_ENDED);
		assert_int_equal(a.state, AUCTION_CLOSED);
		assert_int_equal(auction_shows_best(&a), 1);
		assert_int_equal(auction_shows_ranking(&a), 1);
		auction_free(&a);
		auction_init(&a, 2, &p);
		assert_int_equal(auction_cancel(&a, T0 + 1, NULL), 0);
		assert_int_equal(auction_shows_best(&a), 1);
		assert_int_equal(auction_shows_ranking(&a), 1);
		auction_free(&a);
	}
}

/* Invitation-only: listed organizations bid and are seeded, others are refused without a
 * trace (AUCTION_E_NOT_INVITED, the wire's not_found); an empty list is open to all. */
static void test_invited(void **state)
{
	static const int64_t inv[] = { 3, 5, 9 };
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };

	p.invited = inv;
	p.ninvited = 3;
	assert_null(auction_params_check(&p));
	auction_init(&a, 1, &p);
	assert_int_equal(auction_is_invited(&a, 3), 1);
	assert_int_equal(auction_is_invited(&a, 9), 1);
	assert_int_equal(auction_is_invited(&a, 4), 0);
	assert_int_equal(auction_is_invited(&a, 10), 0);
	assert_int_equal(auction_is_invited(&a, 0), 0);
	assert_int_equal(auction_seed(&a, 1, 4, START, T0 - 1, NULL), AUCTION_E_NOT_INVITED);
	assert_int_equal(auction_seed(&a, 1, 5, START, T0 - 1, NULL), AUCTION_OK);
	/* a refusal at the start still reports the start, and changes nothing else */
	assert_int_equal(auction_bid(&a, 2, 4, START - STEPMIN, T0, &ev), AUCTION_E_NOT_INVITED);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_STARTED);
	assert_int_equal(a.nbids, 1);
	assert_int_equal(auction_bid(&a, 3, 9, START - STEPMIN, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 9), 1);
	/* the buyer is refused as its own auction first, whatever the list */
	assert_int_equal(auction_bid(&a, 4, BUYER, START - 3 * STEPMIN, T0 + 2, NULL),
	    AUCTION_E_OWN_AUCTION);
	/* not invited outranks a bad amount: nothing about the auction is told */
	assert_int_equal(auction_bid(&a, 5, 7, -1, T0 + 3, NULL), AUCTION_E_NOT_INVITED);
	assert_string_equal(auction_err_code(AUCTION_E_NOT_INVITED), "not_found");
	/* after the end: ended, as for anyone */
	assert_int_equal(auction_bid(&a, 6, 7, START - 3 * STEPMIN, T1, NULL), AUCTION_E_ENDED);
	auction_free(&a);
	/* open: anyone */
	p.ninvited = 0;
	auction_init(&a, 2, &p);
	assert_int_equal(auction_is_invited(&a, 7), 1);
	auction_free(&a);
}

/* The invited list's parameter rules: ascending, each once, above zero, not the buyer. */
static void test_invited_check(void **state)
{
	static const int64_t unsorted[] = { 5, 3 }, dup[] = { 3, 3 }, zero[] = { 0, 3 },
	    buyer[] = { 3, BUYER };
	struct auction_params p = params();

	p.ninvited = 2;
	p.invited = NULL;
	assert_non_null(auction_params_check(&p));
	p.invited = unsorted;
	assert_non_null(auction_params_check(&p));
	p.invited = dup;
	assert_non_null(auction_params_check(&p));
	p.invited = zero;
	assert_non_null(auction_params_check(&p));
	p.invited = buyer;
	assert_string_equal(auction_params_check(&p), "the buyer's organization cannot be invited");
}

/* Close `a` at its end; returns the closed event's winning bid id (0: none). */
static int64_t close_at_end(struct auction *a)
{
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	auction_advance(a, a->ends_at, &ev);
	e = auction_events_find(&ev, AUCTION_EV_CLOSED);
	assert_non_null(e);
	return e->bid_id;
}

/* min_bidders: fewer distinct bidders than K at the end closes unsuccessful (no winner in
 * the event or auction_winner); exactly K wins; several bids of one bidder count once; a tie
 * at the best price between K bidders has a winner (the earlier); forward too. */
static void test_min_bidders(void **state)
{
	struct auction a;
	struct auction_params p = params();

	p.min_bidders = 2;
	assert_null(auction_params_check(&p));
	/* one bidder, three bids: unsuccessful by rule */
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, 1, START - 2 * STEPMIN, T0 + 1, NULL),
	    AUCTION_E_WHILE_LEADING);
	assert_null(auction_unsuccessful(&a));  /* running: not decided */
	assert_null(auction_winner(&a));
	assert_int_equal(close_at_end(&a), 0);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_string_equal(auction_unsuccessful(&a), "min_bidders");
	assert_null(auction_winner(&a));
	assert_int_equal(auction_rank_of(&a, 1), 1);  /* the standings stay */
	auction_free(&a);
	/* a tie at the best price between exactly K bidders: the earlier wins */
	auction_init(&a, 2, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, 2, START - STEPMIN, T0 + 5, NULL), AUCTION_OK);
	assert_int_equal(close_at_end(&a), 1);
	assert_null(auction_unsuccessful(&a));
	assert_int_equal(auction_winner(&a)->org, 1);
	auction_free(&a);
	/* nobody: no_bids, whatever the rule */
	auction_init(&a, 3, &p);
	assert_int_equal(close_at_end(&a), 0);
	assert_string_equal(auction_unsuccessful(&a), "no_bids");
	auction_free(&a);
	/* a bid at the end itself does not count */
	auction_init(&a, 4, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T1 - 1, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T1, NULL), AUCTION_E_ENDED);
	assert_string_equal(auction_unsuccessful(&a), "min_bidders");
	auction_free(&a);
	/* rollback of the closing reopens the decision */
	auction_init(&a, 5, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_OK);
	{
		struct auction_mark m;

		auction_mark(&a, &m);
		close_at_end(&a);
		assert_non_null(auction_unsuccessful(&a));
		auction_rollback(&a, &m);
		assert_null(auction_unsuccessful(&a));
	}
	auction_free(&a);
	/* no rule: one bidder wins; a negative rule or one above the invited count is refused */
	p.min_bidders = 0;
	auction_init(&a, 6, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_OK);
	assert_int_equal(close_at_end(&a), 1);
	auction_free(&a);
	p.min_bidders = -1;
	assert_non_null(auction_params_check(&p));
	{
		static const int64_t inv[] = { 3, 5 };

		p.invited = inv;
		p.ninvited = 2;
		p.min_bidders = 3;
		assert_string_equal(auction_params_check(&p),
		    "minimum number of bidders must not exceed the number invited");
		p.min_bidders = 2;
		assert_null(auction_params_check(&p));
	}
}

/* min_bidders in a forward auction: the same rule, the highest price would have won. */
static void test_min_bidders_forward(void **state)
{
	struct auction a;
	struct auction_params p = params();

	p.format = auction_format_find("english_forward");
	p.min_bidders = 3;
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMIN, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, 2, START + 2 * STEPMIN, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(close_at_end(&a), 0);
	assert_string_equal(auction_unsuccessful(&a), "min_bidders");
	auction_free(&a);
	auction_init(&a, 2, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START + STEPMIN, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, 2, START + 2 * STEPMIN, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 3, 3, START + STEPMIN, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(close_at_end(&a), 2);
	assert_int_equal(auction_winner(&a)->org, 2);
	auction_free(&a);
}

/* A pause across the scheduled end: no bids, no close, no deadline; the resume gives the
 * paused time back and the auction closes at the moved end. */
static void test_pause_across_end(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	auction_init(&a, 1, &p);
	assert_int_equal(auction_pause(&a, T0 - 1, NULL), AUCTION_E_NOT_STARTED);
	assert_int_equal(auction_resume(&a, T0 - 1, NULL), AUCTION_E_NOT_STARTED);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_resume(&a, T0 + 1, NULL), AUCTION_E_NOT_PAUSED);
	assert_int_equal(auction_pause(&a, T1 - 1000, &ev), AUCTION_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_PAUSED);
	assert_int_equal(auction_next_deadline(&a), -1);
	assert_int_equal(auction_pause(&a, T1 - 999, NULL), AUCTION_E_PAUSED);
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T1 - 500, NULL),
	    AUCTION_E_PAUSED);
	/* long past the end: still running, still paused; a bid says paused, not ended */
	ev.n = 0;
	assert_int_equal(auction_advance(&a, T1 + 60000, &ev), 0);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T1 + 60000, NULL),
	    AUCTION_E_PAUSED);
	/* resumed 61 s after the pause: the 1 s that was left remains */
	ev.n = 0;
	assert_int_equal(auction_resume(&a, T1 + 60000, &ev), AUCTION_OK);
	e = auction_events_find(&ev, AUCTION_EV_RESUMED);
	assert_non_null(e);
	assert_int_equal(e->prev_end, T1);
	assert_int_equal(e->ends_at, T1 + 61000);
	assert_int_equal(e->amount, 61000);
	assert_int_equal(a.ends_at, T1 + 61000);
	assert_int_equal(auction_next_deadline(&a), T1 + 61000);
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T1 + 60999, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 3, 3, START - 3 * STEPMIN, T1 + 61000, NULL),
	    AUCTION_E_ENDED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T1 + 61000);
	assert_int_equal(auction_pause(&a, T1 + 70000, NULL), AUCTION_E_ENDED);
	auction_free(&a);
}

/* A pause asked after the end has passed closes the auction instead (refused, ended). */
static void test_pause_after_end(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };

	auction_init(&a, 1, &p);
	assert_int_equal(auction_pause(&a, T1, &ev), AUCTION_E_ENDED);
	assert_non_null(auction_events_find(&ev, AUCTION_EV_CLOSED));
	assert_int_equal(a.paused, 0);
	auction_free(&a);
}

/* Extensions at their limit while paused: a bid cannot extend (it is refused); an operator's
 * extension works paused or not and is not counted; the latest end moves with the pause. */
static void test_extension_limits_and_pause(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	p.ext_window = 120000;
	p.ext_length = 120000;
	p.max_extensions = 1;
	p.latest_end = T1 + 60000;
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T1 - 1000, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + 60000);    /* capped at latest_end */
	assert_int_equal(a.extensions, 1);          /* at the limit */
	assert_int_equal(auction_pause(&a, T1, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T1 + 1, NULL),
	    AUCTION_E_PAUSED);
	assert_int_equal(auction_prolong(&a, T1 + 2, 0, NULL), AUCTION_E_NOT_POSITIVE);
	assert_int_equal(auction_prolong(&a, T1 + 2, 30000, &ev), AUCTION_OK);
	e = auction_events_find(&ev, AUCTION_EV_PROLONGED);
	assert_non_null(e);
	assert_int_equal(e->prev_end, T1 + 60000);
	assert_int_equal(e->ends_at, T1 + 90000);
	assert_int_equal(a.extensions, 1);          /* not counted */
	assert_int_equal(a.paused, 1);              /* still paused */
	assert_int_equal(auction_resume(&a, T1 + 10000, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + 100000);
	assert_int_equal(a.paused_ms, 10000);
	auction_free(&a);
	/* with room for extensions: latest_end + the paused time caps a bid's extension */
	p.max_extensions = 0;
	auction_init(&a, 2, &p);
	assert_int_equal(auction_pause(&a, T0 + 1000, NULL), AUCTION_OK);
	assert_int_equal(auction_resume(&a, T0 + 21000, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + 20000);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T1 + 19000, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + 80000);    /* latest_end + 20 s, not now + 120 s */
	auction_free(&a);
}

/* Rollback undoes a pause and a resume; a cancellation ends a pause. */
static void test_pause_rollback_cancel(void **state)
{
	struct auction a;
	struct auction_params p = params();
	struct auction_mark m;

	auction_init(&a, 1, &p);
	assert_int_equal(auction_advance(&a, T0, NULL), 1);
	auction_mark(&a, &m);
	assert_int_equal(auction_pause(&a, T0 + 10, NULL), AUCTION_OK);
	auction_rollback(&a, &m);
	assert_int_equal(a.paused, 0);
	assert_int_equal(auction_pause(&a, T0 + 10, NULL), AUCTION_OK);
	auction_mark(&a, &m);
	assert_int_equal(auction_resume(&a, T0 + 1010, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1 + 1000);
	auction_rollback(&a, &m);
	assert_int_equal(a.paused, 1);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(a.paused_ms, 0);
	assert_int_equal(auction_cancel(&a, T1 + 5, NULL), 0);
	assert_int_equal(a.state, AUCTION_CANCELLED);
	assert_int_equal(a.paused, 0);
	assert_int_equal(auction_resume(&a, T1 + 6, NULL), AUCTION_E_CANCELLED);
	auction_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_visibility_names),
		cmocka_unit_test(test_visibility_shows),
		cmocka_unit_test(test_invited),
		cmocka_unit_test(test_invited_check),
		cmocka_unit_test(test_min_bidders),
		cmocka_unit_test(test_min_bidders_forward),
		cmocka_unit_test(test_pause_across_end),
		cmocka_unit_test(test_pause_after_end),
		cmocka_unit_test(test_extension_limits_and_pause),
		cmocka_unit_test(test_pause_rollback_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
