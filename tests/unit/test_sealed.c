/* Unit tests of the sealed-bid formats: sealed_first_price, sealed_second_price. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Start (the ceiling) 1000.00; open from T0 to T0 + 60 s. */
#define BUYER  100
#define START  100000
#define T0     1800000000000LL
#define END    (T0 + 60000)
#define A      1
#define B      2
#define C      3

/* Parameters of a sealed auction of `format` (no extensions). */
static struct auction_params params(const char *format)
{
	struct auction_params p = {
		.buyer_org = BUYER, .start_price = START, .step_min = 1, .step_max = 1,
		.starts_at = T0, .ends_at = END, .format = auction_format_find(format),
	};
	return p;
}

/* A running sealed auction of `format`. */
static void open_sealed(struct auction *a, const char *format)
{
	struct auction_params p = params(format);

	assert_non_null(p.format);
	assert_null(auction_params_check(&p));
	auction_init(a, 1, &p);
	auction_advance(a, T0, NULL);
	assert_int_equal(a->state, AUCTION_RUNNING);
}

/* Bid `amount` by `org` at `at`, expecting `want`. */
static void bid(struct auction *a, int64_t id, int64_t org, int64_t amount, int64_t at,
    enum auction_err want)
{
	assert_int_equal(auction_bid(a, id, org, amount, at, NULL), want);
}

/* Parameters: any extension, its limits or a clock are refused; the names are registered. */
static void test_params(void **state)
{
	struct auction_params p = params("sealed_first_price");

	assert_null(auction_params_check(&p));
	p.ext_window = 1000;
	p.ext_length = 1000;
	assert_non_null(auction_params_check(&p));
	p = params("sealed_second_price");
	assert_null(auction_params_check(&p));
	p.max_extensions = 2;
	assert_non_null(auction_params_check(&p));
	p.max_extensions = 0;
	p.latest_end = END + 1000;
	assert_non_null(auction_params_check(&p));
	assert_non_null(strstr(auction_format_names(), "sealed_second_price"));
	assert_ptr_equal(auction_format_find("sealed_first_price"), &auction_sealed_first_price);
}

/* While it runs nothing is shown; bids at or above the start are refused; no step rule. */
static void test_sealed_while_running(void **state)
{
	struct auction a;

	open_sealed(&a, "sealed_first_price");
	bid(&a, 1, A, START, T0 + 1, AUCTION_E_NOT_BELOW_START);
	bid(&a, 1, A, 90000, T0 + 1, AUCTION_OK);
	bid(&a, 2, B, 1, T0 + 2, AUCTION_OK);          /* far below: no step rule */
	bid(&a, 3, BUYER, 5000, T0 + 3, AUCTION_E_OWN_AUCTION);
	assert_true(auction_is_sealed(&a));
	assert_false(auction_shows_best(&a));
	assert_false(auction_shows_ranking(&a));
	assert_int_equal(auction_price_paid(&a), -1);
	assert_int_equal(a.ends_at, END);              /* no extension */
	auction_free(&a);
}

/* Replacement: the latest price counts, lower or higher, ranked by its own time. */
static void test_replacement(void **state)
{
	struct auction a;

	open_sealed(&a, "sealed_first_price");
	bid(&a, 1, A, 90000, T0 + 1, AUCTION_OK);
	bid(&a, 2, B, 80000, T0 + 2, AUCTION_OK);
	bid(&a, 3, C, 85000, T0 + 3, AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, B), 1);
	bid(&a, 4, B, 95000, T0 + 4, AUCTION_OK);      /* higher: B moves back to the last */
	assert_int_equal(auction_rank_of(&a, C), 1);
	assert_int_equal(auction_rank_of(&a, A), 2);
	assert_int_equal(auction_rank_of(&a, B), 3);
	assert_int_equal(auction_entry_of(&a, B)->amount, 95000);
	bid(&a, 5, A, 70000, T0 + 5, AUCTION_OK);      /* lower: A moves to the front */
	assert_int_equal(auction_rank_of(&a, A), 1);
	bid(&a, 6, A, 70000, T0 + 6, AUCTION_OK);      /* the same price again is accepted */
	assert_int_equal(a.nentries, 3);
	assert_int_equal(a.nbids, 6);
	for (int r = 1; r <= 3; r++)
		assert_int_equal(auction_at_rank(&a, r)->pos, (size_t)r - 1);
	auction_advance(&a, END, NULL);
	assert_int_equal(auction_winner(&a)->org, A);
	assert_int_equal(auction_price_paid(&a), 70000);
	auction_free(&a);
}

/* Ties: equal prices rank by the earlier submission; a replacement counts from its time. */
static void test_ties(void **state)
{
	struct auction a;
	struct auction_mark m;

	open_sealed(&a, "sealed_second_price");
	bid(&a, 1, A, 80000, T0 + 1, AUCTION_OK);
	bid(&a, 2, B, 80000, T0 + 2, AUCTION_OK);
	bid(&a, 3, C, 90000, T0 + 3, AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, A), 1);
	assert_int_equal(auction_rank_of(&a, B), 2);
	auction_mark(&a, &m);
	bid(&a, 4, A, 80000, T0 + 4, AUCTION_OK);      /* resubmitted: now later than B */
	assert_int_equal(auction_rank_of(&a, B), 1);
	assert_int_equal(auction_rank_of(&a, A), 2);
	auction_rollback(&a, &m);                      /* rollback rebuilds the same order */
	assert_int_equal(auction_rank_of(&a, A), 1);
	auction_advance(&a, END, NULL);
	assert_int_equal(auction_winner(&a)->org, A);
	assert_int_equal(auction_price_paid(&a), 80000);  /* the runner-up's equal price */
	auction_free(&a);
}

/* A bid at the deadline is refused; one a millisecond before it counts. */
static void test_deadline(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	open_sealed(&a, "sealed_first_price");
	bid(&a, 1, A, 90000, END - 1, AUCTION_OK);
	assert_int_equal(auction_bid(&a, 2, B, 80000, END, &ev), AUCTION_E_ENDED);
	assert_non_null(e = auction_events_find(&ev, AUCTION_EV_CLOSED));
	assert_int_equal(e->org, A);
	assert_int_equal(e->amount, 90000);
	assert_false(auction_is_sealed(&a));
	assert_true(auction_shows_ranking(&a));
	assert_int_equal(auction_price_paid(&a), 90000);
	auction_free(&a);
}

/* Second price: the runner-up's price; with one bid, the start price. */
static void test_second_price(void **state)
{
	struct auction a;

	open_sealed(&a, "sealed_second_price");
	bid(&a, 1, A, 90000, T0 + 1, AUCTION_OK);
	bid(&a, 2, B, 70000, T0 + 2, AUCTION_OK);
	bid(&a, 3, C, 85000, T0 + 3, AUCTION_OK);
	auction_advance(&a, END, NULL);
	assert_int_equal(auction_winner(&a)->org, B);
	assert_int_equal(auction_winner(&a)->amount, 70000);
	assert_int_equal(auction_price_paid(&a), 85000);
	auction_free(&a);

	open_sealed(&a, "sealed_second_price");
	bid(&a, 1, A, 90000, T0 + 1, AUCTION_OK);
	auction_advance(&a, END, NULL);
	assert_int_equal(auction_winner(&a)->org, A);
	assert_int_equal(auction_price_paid(&a), START);
	auction_free(&a);
}

/* No bids: unsuccessful, nothing paid; a cancelled sealed auction never opens. */
static void test_no_bids_and_cancel(void **state)
{
	struct auction a;

	open_sealed(&a, "sealed_second_price");
	auction_advance(&a, END, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_null(auction_winner(&a));
	assert_string_equal(auction_unsuccessful(&a), "no_bids");
	assert_int_equal(auction_price_paid(&a), -1);
	auction_free(&a);

	open_sealed(&a, "sealed_first_price");
	bid(&a, 1, A, 90000, T0 + 1, AUCTION_OK);
	assert_int_equal(auction_cancel(&a, T0 + 2, NULL), 0);
	assert_true(auction_is_sealed(&a));
	assert_false(auction_shows_best(&a));
	assert_false(auction_shows_ranking(&a));
	auction_free(&a);
}

/* The English formats are unchanged by the move-back rule: a price never rises. */
static void test_english_unchanged(void **state)
{
	struct auction_params p = params("english_reverse");
	struct auction a;

	p.step_max = START;
	auction_init(&a, 1, &p);
	bid(&a, 1, A, 90000, T0 + 1, AUCTION_OK);
	bid(&a, 2, B, 80000, T0 + 2, AUCTION_OK);
	bid(&a, 3, A, 95000, T0 + 3, AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_rank_of(&a, B), 1);
	assert_false(auction_is_sealed(&a));
	auction_advance(&a, END, NULL);
	assert_int_equal(auction_price_paid(&a), 80000);
	auction_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_sealed_while_running),
		cmocka_unit_test(test_replacement),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_second_price),
		cmocka_unit_test(test_no_bids_and_cancel),
		cmocka_unit_test(test_english_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
