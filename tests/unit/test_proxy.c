/* Unit tests of proxy bidding (english formats): automatic bids by the least step down to a
 * floor, proxy wars resolved directly, extensions, step_max, pause, rollback, clock formats. */
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

/* A running auction with parameters `p`. */
static void running(struct auction *a, const struct auction_params *p)
{
	assert_null(auction_params_check(p));
	auction_init(a, 1, p);
	assert_int_equal(auction_advance(a, T0, NULL), 1);
}

/* The number of automatic bids in `ev`. */
static int autos(const struct auction_events *ev)
{
	int n = 0;

	for (int i = 0; i < ev->n; i++)
		n += ev->ev[i].kind == AUCTION_EV_BID && ev->ev[i].automatic;
	return n;
}

/* The org holding rank 1. */
static int64_t leader(const struct auction *a)
{
	return auction_at_rank(a, 1)->org;
}

/* A single proxy answers a manual bid by the least step and stops at its floor; it never bids
 * below it; setting a proxy while not leading bids at once; the holder leading: nothing. */
static void test_single_proxy(void **state)
{
	struct auction_params p = params();
	struct auction a;
	struct auction_events ev = { 0 };
	int64_t id = 100;

	running(&a, &p);
	assert_int_equal(auction_bid(&a, 1, 1, 99000, T0 + 1, NULL), AUCTION_OK);
	/* org 2 sets a floor of 97600: it bids 98500 at once */
	assert_int_equal(auction_proxy_set(&a, 2, 97600, 22, T0 + 2, &ev), AUCTION_OK);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_PROXY);
	assert_int_equal(ev.ev[0].amount, 97600);
	assert_int_equal(auction_proxy_run(&a, T0 + 2, &id, &ev), 1);
	assert_int_equal(id, 101);
	assert_int_equal(autos(&ev), 1);
	assert_int_equal(leader(&a), 2);
	assert_int_equal(auction_best(&a), 98500);
	assert_true(a.bids[a.nbids - 1].automatic);
	/* leading: running again places nothing */
	assert_int_equal(auction_proxy_run(&a, T0 + 3, &id, NULL), 0);
	/* org 1 bids 98000: the proxy answers 97500? below its floor 97600: no */
	assert_int_equal(auction_bid(&a, 2, 1, 98000, T0 + 4, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 4, &id, NULL), 0);
	assert_int_equal(leader(&a), 1);
	/* a manual bid of the proxy holder still works alongside its proxy */
	assert_int_equal(auction_bid(&a, 3, 2, 97000, T0 + 5, NULL), AUCTION_OK);
	assert_int_equal(leader(&a), 2);
	assert_int_equal(auction_proxy_floor(&a, 2), 97600);
	assert_int_equal(auction_proxy_of(&a, 2)->ref, 22);
	/* withdrawn: no more automatic bids */
	assert_int_equal(auction_proxy_withdraw(&a, 2, T0 + 6, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_floor(&a, 2), 0);
	assert_int_equal(auction_proxy_withdraw(&a, 2, T0 + 6, NULL), AUCTION_E_NO_PROXY);
	auction_free(&a);
}

/* The floor exactly one step below the best: the proxy bids at its floor. */
static void test_floor_one_step(void **state)
{
	struct auction_params p = params();
	struct auction a;
	int64_t id = 100;

	running(&a, &p);
	assert_int_equal(auction_bid(&a, 1, 1, 99000, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_set(&a, 2, 98500, 0, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 2, &id, NULL), 1);
	assert_int_equal(auction_best(&a), 98500);
	/* one minor unit short of a step: nothing */
	assert_int_equal(auction_proxy_set(&a, 3, 98001, 0, T0 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 3, &id, NULL), 0);
	assert_int_equal(leader(&a), 2);
	auction_free(&a);
}

/* Two proxies with equal floors: the earlier one leads, at its floor, the later one step
 * behind; bounded: three automatic bids from the start price down to the floors. */
static void test_war_equal_floors(void **state)
{
	struct auction_params p = params();
	struct auction a;
	struct auction_events ev = { 0 };
	int64_t id = 100;

	running(&a, &p);
	assert_int_equal(auction_proxy_set(&a, 1, 50000, 0, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 1, &id, &ev), 1);
	assert_int_equal(auction_best(&a), START - STEPMIN);
	ev.n = 0;
	assert_int_equal(auction_proxy_set(&a, 2, 50000, 0, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 2, &id, &ev), 2);
	assert_int_equal(autos(&ev), 2);
	assert_int_equal(leader(&a), 1);
	assert_int_equal(auction_best(&a), 50000);
	assert_int_equal(auction_at_rank(&a, 2)->org, 2);
	assert_int_equal(auction_at_rank(&a, 2)->amount, 50500);
	/* settled: nothing more */
	assert_int_equal(auction_proxy_run(&a, T0 + 3, &id, NULL), 0);
	assert_int_equal(a.nbids, 3);
	auction_free(&a);
}

/* The better floor wins at the least step beyond the other's floor, whoever led; a manual
 * bid between them starts the war once more and stays bounded. */
static void test_war_better_floor(void **state)
{
	struct auction_params p = params();
	struct auction a;
	int64_t id = 100;

	running(&a, &p);
	assert_int_equal(auction_proxy_set(&a, 1, 70000, 0, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 1, &id, NULL), 1);
	/* org 2's floor is better: it ends up leading at 70000 - 500 */
	assert_int_equal(auction_proxy_set(&a, 2, 60000, 0, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 2, &id, NULL), 3);
	assert_int_equal(leader(&a), 2);
	assert_int_equal(auction_best(&a), 69500);
	assert_int_equal(auction_at_rank(&a, 2)->amount, 70000);
	/* org 3 bids 65000 by hand: org 2's proxy answers 64500 */
	assert_int_equal(auction_bid(&a, 1, 3, 65000, T0 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 3, &id, NULL), 1);
	assert_int_equal(auction_best(&a), 64500);
	assert_int_equal(leader(&a), 2);
	auction_free(&a);
}

/* A floor less than a step better than the other's: the winner bids at its own floor. */
static void test_war_own_floor(void **state)
{
	struct auction_params p = params();
	struct auction a;
	int64_t id = 100;

	running(&a, &p);
	assert_int_equal(auction_proxy_set(&a, 1, 80200, 0, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 1, &id, NULL), 1);
	assert_int_equal(auction_proxy_set(&a, 2, 80000, 0, T0 + 2, NULL), AUCTION_OK);
	auction_proxy_run(&a, T0 + 2, &id, NULL);
	assert_int_equal(leader(&a), 2);
	assert_int_equal(auction_best(&a), 80000);
	assert_int_equal(auction_at_rank(&a, 2)->amount, 80500);
	auction_free(&a);
}

/* An automatic bid in the extension window extends the auction like any lead-taking bid. */
static void test_auto_extends(void **state)
{
	struct auction_params p = params();
	struct auction a;
	struct auction_events ev = { 0 };
	int64_t id = 100;

	p.ext_window = 60000;
	p.ext_length = 120000;
	running(&a, &p);
	assert_int_equal(auction_proxy_set(&a, 2, 90000, 0, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 1, &id, NULL), 1);
	assert_int_equal(a.ends_at, T1);
	/* org 1 bids 30 s before the end: its own bid extends, the proxy's answer too */
	assert_int_equal(auction_bid(&a, 1, 1, 99000, T1 - 30000, &ev), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T1 - 30000, &id, &ev), 1);
	assert_int_equal(leader(&a), 2);
	assert_non_null(auction_events_find(&ev, AUCTION_EV_EXTENDED));
	assert_int_equal(a.ends_at, T1 - 30000 + 120000);
	assert_int_equal(ev.ev[ev.n - 1].kind, AUCTION_EV_BID);
	assert_true(ev.ev[ev.n - 1].automatic);
	auction_free(&a);
	/* the proxy's own answer alone extends: the manual bid is not lead-taking */
	p.ext_window = 60000;
	running(&a, &p);
	assert_int_equal(auction_bid(&a, 1, 1, 99000, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_set(&a, 2, 90000, 0, T1 - 10000, NULL), AUCTION_OK);
	ev.n = 0;
	assert_int_equal(auction_proxy_run(&a, T1 - 10000, &id, &ev), 1);
	assert_non_null(auction_events_find(&ev, AUCTION_EV_EXTENDED));
	assert_int_equal(a.extensions, 1);
	auction_free(&a);
}

/* step_min = step_max: an automatic bid is exactly that step; forward mirrors it. */
static void test_step_max_limit(void **state)
{
	struct auction_params p = params();
	struct auction a;
	int64_t id = 100;

	p.step_max = STEPMIN;
	running(&a, &p);
	assert_int_equal(auction_bid(&a, 1, 1, 99500, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_set(&a, 2, 90000, 0, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 2, &id, NULL), 1);
	assert_int_equal(auction_best(&a), 99000);
	/* a war's compressed bid stands for the least-step bids it replaces */
	assert_int_equal(auction_proxy_set(&a, 3, 95000, 0, T0 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 3, &id, NULL), 2);
	assert_int_equal(leader(&a), 2);
	assert_int_equal(auction_best(&a), 94500);
	assert_int_equal(auction_at_rank(&a, 2)->amount, 95000);
	auction_free(&a);

	/* english_forward: a ceiling, prices rise */
	p = params();
	p.format = &auction_english_forward;
	p.start_price = 1000;
	p.step_min = 100;
	p.step_max = 100;
	running(&a, &p);
	assert_int_equal(auction_proxy_set(&a, 1, 1000, 0, T0 + 1, NULL), AUCTION_E_NOT_ABOVE_START);
	assert_int_equal(auction_proxy_set(&a, 1, 1550, 0, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 1, &id, NULL), 1);
	assert_int_equal(auction_best(&a), 1100);
	assert_int_equal(auction_proxy_set(&a, 2, 2000, 0, T0 + 2, NULL), AUCTION_OK);
	auction_proxy_run(&a, T0 + 2, &id, NULL);
	assert_int_equal(leader(&a), 2);
	assert_int_equal(auction_best(&a), 1650);
	assert_int_equal(auction_at_rank(&a, 2)->amount, 1550);
	auction_free(&a);
}

/* Paused: a proxy may be set, it bids only once the auction resumes; refusals; rollback. */
static void test_pause_and_refusals(void **state)
{
	struct auction_params p = params();
	struct auction a;
	struct auction_mark m;
	int64_t id = 100;

	running(&a, &p);
	assert_int_equal(auction_bid(&a, 1, 1, 99000, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_pause(&a, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_set(&a, 2, 90000, 0, T0 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 3, &id, NULL), 0);
	assert_int_equal(auction_resume(&a, T0 + 4, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 4, &id, NULL), 1);
	assert_int_equal(leader(&a), 2);
	/* rollback drops instructions and automatic bids after the mark */
	auction_mark(&a, &m);
	assert_int_equal(auction_proxy_set(&a, 3, 80000, 0, T0 + 5, NULL), AUCTION_OK);
	assert_int_equal(auction_proxy_run(&a, T0 + 5, &id, NULL), 3);
	auction_rollback(&a, &m);
	assert_int_equal(auction_proxy_floor(&a, 3), 0);
	assert_int_equal(leader(&a), 2);
	assert_int_equal(a.nbids, 2);
	/* refusals */
	assert_int_equal(auction_proxy_set(&a, BUYER, 90000, 0, T0 + 6, NULL), AUCTION_E_OWN_AUCTION);
	assert_int_equal(auction_proxy_set(&a, 3, 0, 0, T0 + 6, NULL), AUCTION_E_NOT_POSITIVE);
	assert_int_equal(auction_proxy_set(&a, 3, START, 0, T0 + 6, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_proxy_set(&a, 3, 90000, 0, T1 + 10, NULL), AUCTION_E_ENDED);
	assert_int_equal(auction_proxy_run(&a, T1 + 10, &id, NULL), 0);
	auction_free(&a);
	auction_init(&a, 1, &p);
	assert_int_equal(auction_proxy_set(&a, 3, 90000, 0, T0 - 1, NULL), AUCTION_E_NOT_STARTED);
	auction_free(&a);
	/* a bid replayed as automatic is marked so */
	running(&a, &p);
	assert_int_equal(auction_bid_auto(&a, 7, 1, 99500, T0 + 1, NULL), AUCTION_OK);
	assert_true(a.bids[0].automatic);
	auction_free(&a);
}

/* Clock formats take no proxy. */
static void test_clock_refused(void **state)
{
	struct auction_params p = params();
	struct auction a;

	p.format = &auction_dutch_reverse;
	p.start_price = 50000;
	p.clock_step = 1000;
	p.clock_interval = 10000;
	p.clock_limit = 100000;
	p.step_min = 1;
	p.step_max = 1;
	assert_null(auction_params_check(&p));
	auction_init(&a, 1, &p);
	auction_advance(&a, T0, NULL);
	assert_int_equal(auction_proxy_set(&a, 1, 60000, 0, T0 + 1, NULL), AUCTION_E_PROXY_CLOCK);
	assert_string_equal(auction_err_code(AUCTION_E_PROXY_CLOCK), "proxy_not_for_clock_formats");
	assert_string_equal(auction_err_code(AUCTION_E_NO_PROXY), "no_proxy");
	assert_string_equal(auction_ev_name(AUCTION_EV_PROXY), "proxy");
	auction_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_proxy),
		cmocka_unit_test(test_floor_one_step),
		cmocka_unit_test(test_war_equal_floors),
		cmocka_unit_test(test_war_better_floor),
		cmocka_unit_test(test_war_own_floor),
		cmocka_unit_test(test_auto_extends),
		cmocka_unit_test(test_step_max_limit),
		cmocka_unit_test(test_pause_and_refusals),
		cmocka_unit_test(test_clock_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
