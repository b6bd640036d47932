/* Unit tests of procurement procedures (auction/procedure.c) and of a tender followed by an auction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <cmocka.h>

#include "auction/auction.h"
#include "auction/procedure.h"

/* Timeline: created and published at T0, enquiries until ENQ, offers until DL, opening at OPEN. */
#define BUYER  100
#define DAY    86400000LL
#define HOUR   3600000LL
#define T0     1800000000000LL
#define ENQ    (T0 + 3 * DAY)
#define DL     (T0 + 10 * DAY)
#define OPEN   (DL + HOUR)
#define AFTER  (OPEN + DAY)     /* a time during evaluation */
#define MAXP   100000000LL      /* 1 000 000.00 */
#define BIGP   999999999999999999LL

/* Suppliers of the worked example. */
#define ALPHA  1
#define BETA   2
#define GAMMA  3

/* Number of realloc() and malloc() calls still to succeed before one fails; 0 disables failures. */
static int fail_realloc_after;

/* realloc() that can be told to fail once, to exercise out-of-memory paths. */
void *realloc(void *ptr, size_t size)
{
	static void *(*real_realloc)(void *, size_t);

	if (fail_realloc_after > 0 && --fail_realloc_after == 0)
		return NULL;
	if (real_realloc == NULL)
		*(void **)&real_realloc = dlsym(RTLD_NEXT, "realloc");
	return real_realloc(ptr, size);
}

/* malloc() that shares the failure countdown (the compiler turns realloc(NULL, n) into malloc(n)). */
void *malloc(size_t size)
{
	static void *(*real_malloc)(size_t);

	if (fail_realloc_after > 0 && --fail_realloc_after == 0)
		return NULL;
	if (real_malloc == NULL)
		*(void **)&real_malloc = dlsym(RTLD_NEXT, "malloc");
	return real_malloc(size);
}

/* Procedure parameters of the default timeline. */
static struct proc_params params(enum proc_kind kind, int min_bids)
{
	struct proc_params p = {
		.kind = kind,
		.buyer_org = BUYER,
		.enquiry_end = ENQ,
		.submission_deadline = DL,
		.opening_at = OPEN,
		.min_bids = min_bids,
	};
	return p;
}

/* A lot evaluated on price alone. */
static struct proc_lot lot_price(int64_t id, int64_t max_price)
{
	struct proc_lot l;

	memset(&l, 0, sizeof(l));
	l.id = id;
	l.max_price = max_price;
	l.ncrit = 1;
	l.crit[0].kind = CRIT_PRICE;
	l.crit[0].weight_bp = 10000;
	return l;
}

/* The worked example's lot: price 60%, delivery days (stated, 1..60, lower better) 20%, quality (scored 0..10) 20%. */
static struct proc_lot lot_example(int64_t id)
{
	struct proc_lot l = lot_price(id, MAXP);

	l.ncrit = 3;
	l.crit[0].weight_bp = 6000;
	l.crit[1].kind = CRIT_STATED;
	l.crit[1].weight_bp = 2000;
	l.crit[1].higher_better = 0;
	l.crit[1].min = 1;
	l.crit[1].max = 60;
	l.crit[2].kind = CRIT_SCORED;
	l.crit[2].weight_bp = 2000;
	l.crit[2].min = 0;
	l.crit[2].max = 10;
	return l;
}

/* Bit of an event kind, for comparing the kinds a call reported. */
#define EVB(kind) (1 << (kind))

/* The kinds of the events in a list, as EVB bits. */
static int ev_kinds(const struct proc_events *ev)
{
	int k = 0;

	assert_int_equal(ev->dropped, 0);
	for (int i = 0; i < ev->n; i++)
		k |= EVB(ev->ev[i].kind);
	return k;
}

/* proc_advance, returning the EVB bits of its events about the procedure (the lots'
 * outcomes at the opening left out). */
static int adv_kinds(struct procedure *pr, int64_t now)
{
	struct proc_events ev = { 0 };
	int n = proc_advance(pr, now, &ev);

	assert_int_equal(n, ev.n);
	return ev_kinds(&ev) & ~(EVB(PROC_EV_LOT_AUCTION) | EVB(PROC_EV_LOT_UNSUCCESSFUL));
}

/* Initialise a valid procedure with `lots` and publish it at T0. */
static void setup(struct procedure *pr, enum proc_kind kind, int min_bids,
    const struct proc_lot *lots, int nlots)
{
	struct proc_params p = params(kind, min_bids);

	assert_null(proc_check(&p, lots, nlots));
	proc_init(pr, 500, &p, lots, nlots);
	assert_int_equal(proc_publish(pr, T0, NULL), PROC_OK);
}

/* An RFQ with one price-only lot (id 1), published. */
static void setup_rfq(struct procedure *pr, int min_bids)
{
	struct proc_lot l = lot_price(1, MAXP);

	setup(pr, PROC_RFQ, min_bids, &l, 1);
}

/* Submit an offer that must be accepted; returns its id. */
static int64_t submit_ok(struct procedure *pr, int64_t lot, int64_t org, int64_t id, int64_t price,
    const int64_t *values, int64_t now)
{
	struct proc_offer *o = NULL;

	assert_int_equal(proc_submit(pr, lot, org, id, price, values, now, &o, NULL), PROC_OK);
	assert_non_null(o);
	assert_int_equal(o->org, org);
	assert_int_equal(o->lot_id, lot);
	assert_int_equal(o->price, price);
	assert_int_equal(o->status, OFFER_ACTIVE);
	assert_int_equal(o->needs_confirm, 0);
	assert_int_equal(o->submitted_at, now);
	return o->id;
}

/* Status of an offer by id. */
static enum proc_offer_status status_of(struct procedure *pr, int64_t id)
{
	struct proc_offer *o = proc_offer_by_id(pr, id);

	assert_non_null(o);
	return o->status;
}

/* Evaluate a lot into `out` (capacity 64) expecting `n` entries. */
static void evaluate_n(const struct procedure *pr, int64_t lot, struct proc_eval *out, int n)
{
	assert_int_equal(proc_evaluate(pr, lot, out, 64), n);
}

/* Valid parameters pass, including every boundary that is just allowed. */
static void test_check_valid(void **state)
{
	struct proc_params p = params(PROC_TENDER, 1);
	struct proc_lot lots[PROC_MAX_LOTS];

	(void)state;
	lots[0] = lot_example(1);
	assert_null(proc_check(&p, lots, 1));
	p.enquiry_end = p.submission_deadline - 1;
	p.opening_at = p.submission_deadline;
	p.min_bids = 9;
	assert_null(proc_check(&p, lots, 1));
	p = params(PROC_RFQ, 1);
	for (int i = 0; i < PROC_MAX_LOTS; i++)
		lots[i] = lot_price(1000 - i, i % 2 ? 1 : BIGP);
	assert_null(proc_check(&p, lots, PROC_MAX_LOTS));
	/* Eight criteria, the smallest weights, the widest stated bounds, a scored top of 1. */
	p = params(PROC_TENDER_AUCTION, 2);
	lots[0] = lot_price(7, MAXP);
	lots[0].ncrit = PROC_MAX_CRITERIA;
	lots[0].crit[0].weight_bp = 10000 - 7;
	for (int c = 1; c < PROC_MAX_CRITERIA; c++) {
		lots[0].crit[c].kind = c % 2 ? CRIT_STATED : CRIT_SCORED;
		lots[0].crit[c].weight_bp = 1;
		lots[0].crit[c].min = c % 2 ? INT64_MIN : 0;
		lots[0].crit[c].max = c % 2 ? INT64_MAX : 1;
	}
	assert_null(proc_check(&p, lots, 1));
}

/* Each broken rule is refused with its own message. */
static void test_check_invalid(void **state)
{
	struct proc_params p, good = params(PROC_TENDER, 2);
	struct proc_lot l[3], ok = lot_example(1);
	const char *msgs[32];
	int n = 0;

	(void)state;
	l[0] = ok;
	l[1] = lot_price(2, MAXP);
	assert_null(proc_check(&good, l, 2));
	assert_non_null(proc_check(NULL, l, 1));

	p = good; p.kind = (enum proc_kind)3;
	assert_non_null(msgs[n++] = proc_check(&p, l, 1));
	p = good; p.enquiry_end = p.submission_deadline;
	assert_non_null(msgs[n++] = proc_check(&p, l, 1));
	p = good; p.opening_at = p.submission_deadline - 1;
	assert_non_null(msgs[n++] = proc_check(&p, l, 1));
	p = good; p.min_bids = 0;
	assert_non_null(msgs[n++] = proc_check(&p, l, 1));
	p = good; p.min_bids = 10;
	assert_non_null(proc_check(&p, l, 1));
	assert_non_null(msgs[n++] = proc_check(&good, l, 0));
	assert_non_null(proc_check(&good, NULL, 1));
	assert_non_null(msgs[n++] = proc_check(&good, l, PROC_MAX_LOTS + 1));

	l[1] = ok;
	l[1].id = 0;
	assert_non_null(msgs[n++] = proc_check(&good, l, 2));
	l[1].id = 1;
	assert_non_null(msgs[n++] = proc_check(&good, l, 2));
	l[1] = ok; l[1].id = 2; l[1].max_price = 0;
	assert_non_null(msgs[n++] = proc_check(&good, l, 2));
	l[1].max_price = BIGP + 1;
	assert_non_null(msgs[n++] = proc_check(&good, l, 2));
	l[1] = ok; l[1].id = 2; l[1].ncrit = 0;
	assert_non_null(msgs[n++] = proc_check(&good, l, 1 + 1));
	l[1].ncrit = PROC_MAX_CRITERIA + 1;
	assert_non_null(proc_check(&good, l, 2));
	l[1] = ok; l[1].id = 2; l[1].crit[0].kind = CRIT_STATED;
	assert_non_null(msgs[n++] = proc_check(&good, l, 2));
	p = good; p.kind = PROC_RFQ;
	assert_non_null(msgs[n++] = proc_check(&p, l, 1));
	l[0] = ok; l[0].crit[2].kind = CRIT_PRICE;
	assert_non_null(msgs[n++] = proc_check(&good, l, 1));
	l[0] = ok; l[0].crit[2].kind = (enum proc_crit_kind)9;
	assert_non_null(proc_check(&good, l, 1));
	l[0] = ok; l[0].crit[1].weight_bp = 0; l[0].crit[0].weight_bp = 8000;
	assert_non_null(msgs[n++] = proc_check(&good, l, 1));
	l[0] = ok; l[0].crit[1].weight_bp = 2001;
	assert_non_null(msgs[n++] = proc_check(&good, l, 1));
	l[0] = ok; l[0].crit[1].weight_bp = 1999;
	assert_non_null(proc_check(&good, l, 1));
	l[0] = ok; l[0].crit[1].min = 60;
	assert_non_null(msgs[n++] = proc_check(&good, l, 1));
	l[0] = ok; l[0].crit[2].min = 1;
	assert_non_null(msgs[n++] = proc_check(&good, l, 1));
	l[0] = ok; l[0].crit[2].max = 0;
	assert_non_null(msgs[n++] = proc_check(&good, l, 1));

	for (int i = 0; i < n; i++) {
		assert_true(strlen(msgs[i]) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(msgs[i], msgs[j]);
	}
}

/* A new procedure is a draft with its lots active; free is idempotent. */
static void test_init(void **state)
{
	struct procedure pr;
	struct proc_params p = params(PROC_TENDER, 1);
	struct proc_lot lots[2] = { lot_example(4), lot_price(5, 77) };

	(void)state;
	lots[0].state = LOT_AWARDED;
	lots[0].awarded_offer = 9;
	lots[1].state = LOT_CANCELLED;
	proc_init(&pr, 42, &p, lots, 2);
	assert_int_equal(pr.id, 42);
	assert_int_equal(pr.state, PROC_DRAFT);
	assert_int_equal(pr.version, 1);
	assert_int_equal(pr.nlots, 2);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	assert_int_equal(pr.lots[0].awarded_offer, 0);
	assert_int_equal(pr.lots[1].state, LOT_ACTIVE);
	assert_int_equal(pr.lots[1].max_price, 77);
	assert_int_equal(pr.published_at, 0);
	assert_int_equal(pr.opened_at, 0);
	assert_int_equal(pr.decided_at, 0);
	assert_int_equal(pr.closed_at, 0);
	assert_int_equal(pr.noffers, 0);
	assert_ptr_equal(proc_lot(&pr, 5), &pr.lots[1]);
	assert_null(proc_lot(&pr, 6));
	assert_null(proc_offer_by_id(&pr, 1));
	assert_null(proc_offer_of(&pr, 4, 1));
	assert_int_equal(proc_live_offers(&pr, 4), 0);
	assert_int_equal(proc_next_deadline(&pr), -1);
	/* A draft does not move with the clock. */
	assert_int_equal(proc_advance(&pr, OPEN + DAY, NULL), 0);
	assert_int_equal(pr.state, PROC_DRAFT);
	proc_free(&pr);
	proc_free(&pr);
}

/* Publishing: only a draft, only before the enquiry period ends. */
static void test_publish(void **state)
{
	struct procedure pr;
	struct proc_params p = params(PROC_RFQ, 1);
	struct proc_lot l = lot_price(1, MAXP);

	(void)state;
	proc_init(&pr, 1, &p, &l, 1);
	assert_int_equal(proc_publish(&pr, ENQ, NULL), PROC_E_DEADLINE);
	assert_int_equal(proc_publish(&pr, ENQ + 1, NULL), PROC_E_DEADLINE);
	assert_int_equal(pr.state, PROC_DRAFT);
	assert_int_equal(proc_publish(&pr, ENQ - 1, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_PUBLISHED);
	assert_int_equal(pr.published_at, ENQ - 1);
	assert_int_equal(proc_publish(&pr, ENQ - 1, NULL), PROC_E_STATE);
	proc_free(&pr);

	/* A draft that fails the check cannot be published. */
	l.max_price = 0;
	proc_init(&pr, 1, &p, &l, 1);
	assert_int_equal(proc_publish(&pr, T0, NULL), PROC_E_VALUE);
	assert_int_equal(pr.state, PROC_DRAFT);
	proc_free(&pr);
}

/* The clock moves published -> tendering -> opened at the exact milliseconds, one or both at once. */
static void test_advance(void **state)
{
	struct procedure pr;

	(void)state;
	setup_rfq(&pr, 1);
	assert_int_equal(proc_next_deadline(&pr), ENQ);
	assert_int_equal(proc_advance(&pr, ENQ - 1, NULL), 0);
	assert_int_equal(pr.state, PROC_PUBLISHED);
	assert_int_equal(adv_kinds(&pr, ENQ), EVB(PROC_EV_TENDERING));
	assert_int_equal(pr.state, PROC_TENDERING);
	assert_int_equal(proc_next_deadline(&pr), OPEN);
	assert_int_equal(proc_advance(&pr, ENQ, NULL), 0);
	submit_ok(&pr, 1, 7, 70, MAXP, NULL, DL - 1);
	/* The submission deadline changes no state: the opening does. */
	assert_int_equal(proc_advance(&pr, DL, NULL), 0);
	assert_int_equal(proc_advance(&pr, OPEN - 1, NULL), 0);
	assert_int_equal(pr.state, PROC_TENDERING);
	assert_int_equal(adv_kinds(&pr, OPEN), EVB(PROC_EV_OPENED));
	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(pr.opened_at, OPEN);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	assert_int_equal(proc_next_deadline(&pr), -1);
	assert_int_equal(proc_advance(&pr, OPEN + DAY, NULL), 0);
	proc_free(&pr);

	/* Both transitions in one call, applied a week late: opened_at is the opening time. */
	setup_rfq(&pr, 1);
	assert_int_equal(adv_kinds(&pr, OPEN + 7 * DAY),
	    EVB(PROC_EV_TENDERING) | EVB(PROC_EV_OPENED) | EVB(PROC_EV_DECIDED));
	assert_int_equal(pr.opened_at, OPEN);
	assert_int_equal(pr.state, PROC_UNSUCCESSFUL);
	assert_int_equal(pr.decided_at, OPEN);
	assert_int_equal(pr.closed_at, OPEN);
	proc_free(&pr);

	/* Time going backwards changes nothing. */
	setup_rfq(&pr, 1);
	proc_advance(&pr, ENQ + 5, NULL);
	assert_int_equal(proc_advance(&pr, T0, NULL), 0);
	assert_int_equal(pr.state, PROC_TENDERING);
	proc_free(&pr);
}

/* Offers are accepted from the enquiry end to the last millisecond before the deadline. */
static void test_submit_timing(void **state)
{
	struct procedure pr;
	struct proc_params p = params(PROC_RFQ, 1);
	struct proc_lot l = lot_price(1, MAXP);

	(void)state;
	proc_init(&pr, 1, &p, &l, 1);
	assert_int_equal(proc_submit(&pr, 1, 7, 70, 100, NULL, ENQ, NULL, NULL), PROC_E_NOT_OPEN);
	assert_int_equal(proc_publish(&pr, T0, NULL), PROC_OK);
	assert_int_equal(proc_submit(&pr, 1, 7, 70, 100, NULL, ENQ - 1, NULL, NULL), PROC_E_NOT_OPEN);
	assert_int_equal(pr.state, PROC_PUBLISHED);
	submit_ok(&pr, 1, 7, 70, 100, NULL, ENQ);
	assert_int_equal(pr.state, PROC_TENDERING);
	submit_ok(&pr, 1, 8, 80, 100, NULL, DL - 1);
	assert_int_equal(proc_submit(&pr, 1, 9, 90, 100, NULL, DL, NULL, NULL), PROC_E_DEADLINE);
	assert_int_equal(proc_submit(&pr, 1, 7, 70, 99, NULL, DL, NULL, NULL), PROC_E_DEADLINE);
	assert_int_equal(proc_submit(&pr, 1, 9, 90, 100, NULL, OPEN - 1, NULL, NULL), PROC_E_DEADLINE);
	assert_int_equal(pr.state, PROC_TENDERING);
	/* After the opening (applied by the submission itself). */
	assert_int_equal(proc_submit(&pr, 1, 9, 90, 100, NULL, OPEN, NULL, NULL), PROC_E_DEADLINE);
	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(pr.noffers, 2);
	assert_int_equal(proc_offer_by_id(&pr, 70)->price, 100);
	/* Decided: bad_state, which comes before every other reason. */
	assert_int_equal(proc_award(&pr, 1, 70, AFTER, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_AWARDED);
	assert_int_equal(proc_submit(&pr, 1, BUYER, 90, 0, NULL, AFTER, NULL, NULL), PROC_E_STATE);
	assert_int_equal(proc_complete(&pr, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_submit(&pr, 1, 9, 90, 100, NULL, AFTER, NULL, NULL), PROC_E_STATE);
	proc_free(&pr);

	/* Cancelled. */
	setup_rfq(&pr, 1);
	assert_int_equal(proc_cancel(&pr, ENQ + 1, NULL), PROC_OK);
	assert_int_equal(proc_submit(&pr, 1, 9, 90, 100, NULL, ENQ + 2, NULL, NULL), PROC_E_STATE);
	proc_free(&pr);

	/* Unsuccessful. */
	setup_rfq(&pr, 1);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(pr.state, PROC_UNSUCCESSFUL);
	assert_int_equal(proc_submit(&pr, 1, 9, 90, 100, NULL, OPEN, NULL, NULL), PROC_E_STATE);
	proc_free(&pr);
}

/* Submission refusals come in the documented order; prices and values at their limits. */
static void test_submit_refusals(void **state)
{
	struct procedure pr;
	struct proc_lot l = lot_example(3);
	int64_t v[PROC_MAX_CRITERIA] = { 0 };
	int64_t now = ENQ + 1;

	(void)state;
	setup(&pr, PROC_TENDER, 1, &l, 1);
	v[1] = 30;
	/* Own before lot, lot before price, price before values. */
	assert_int_equal(proc_submit(&pr, 99, BUYER, 1, 0, NULL, now, NULL, NULL), PROC_E_OWN);
	assert_int_equal(proc_submit(&pr, 99, 7, 1, 0, NULL, now, NULL, NULL), PROC_E_NO_LOT);
	assert_int_equal(proc_submit(&pr, 3, 7, 1, 0, NULL, now, NULL, NULL), PROC_E_PRICE);
	assert_int_equal(proc_submit(&pr, 3, 7, 1, -1, v, now, NULL, NULL), PROC_E_PRICE);
	assert_int_equal(proc_submit(&pr, 3, 7, 1, INT64_MIN, v, now, NULL, NULL), PROC_E_PRICE);
	assert_int_equal(proc_submit(&pr, 3, 7, 1, MAXP + 1, v, now, NULL, NULL), PROC_E_PRICE);
	assert_int_equal(proc_submit(&pr, 3, 7, 1, INT64_MAX, v, now, NULL, NULL), PROC_E_PRICE);
	assert_int_equal(proc_submit(&pr, 3, 7, 1, MAXP, NULL, now, NULL, NULL), PROC_E_VALUE);
	v[1] = 0;
	assert_int_equal(proc_submit(&pr, 3, 7, 1, MAXP, v, now, NULL, NULL), PROC_E_VALUE);
	v[1] = 61;
	assert_int_equal(proc_submit(&pr, 3, 7, 1, MAXP, v, now, NULL, NULL), PROC_E_VALUE);
	assert_int_equal(pr.noffers, 0);
	/* The maximum price itself and the bounds themselves are accepted; 1 minor unit too. */
	v[1] = 60;
	v[2] = 12345;           /* not a stated criterion: ignored, stored as 0 */
	submit_ok(&pr, 3, 7, 1, MAXP, v, now);
	assert_int_equal(proc_offer_by_id(&pr, 1)->values[1], 60);
	assert_int_equal(proc_offer_by_id(&pr, 1)->values[2], 0);
	assert_int_equal(proc_offer_by_id(&pr, 1)->revision, 1);
	v[1] = 1;
	submit_ok(&pr, 3, 8, 2, 1, v, now);
	assert_int_equal(proc_live_offers(&pr, 3), 2);
	proc_free(&pr);

	/* An RFQ ignores values entirely; NULL is fine. */
	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, 7, 1, 1, NULL, now);
	proc_free(&pr);
}

/* Revisions keep the offer's id; a withdrawn offer comes back as the same offer. */
static void test_revise_withdraw(void **state)
{
	struct procedure pr;
	struct proc_offer *o;

	(void)state;
	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, 7, 70, 5000, NULL, ENQ + 10);
	/* A revision with a new id keeps the old one. */
	assert_int_equal(submit_ok(&pr, 1, 7, 71, 4000, NULL, ENQ + 20), 70);
	o = proc_offer_of(&pr, 1, 7);
	assert_int_equal(o->revision, 2);
	assert_int_equal(o->price, 4000);
	assert_int_equal(o->submitted_at, ENQ + 20);
	assert_int_equal(pr.noffers, 1);
	assert_null(proc_offer_by_id(&pr, 71));
	/* A revision may also raise the price (it is sealed, not an auction). */
	submit_ok(&pr, 1, 7, 72, 4500, NULL, ENQ + 25);
	assert_int_equal(o->revision, 3);

	/* Withdrawal: refusals in order, then the offer is withdrawn, not deleted. */
	assert_int_equal(proc_withdraw(&pr, 9, 7, ENQ + 30, NULL), PROC_E_NO_LOT);
	assert_int_equal(proc_withdraw(&pr, 1, 8, ENQ + 30, NULL), PROC_E_NO_OFFER);
	assert_int_equal(proc_withdraw(&pr, 1, 7, ENQ + 30, NULL), PROC_OK);
	assert_int_equal(o->status, OFFER_WITHDRAWN);
	assert_int_equal(proc_live_offers(&pr, 1), 0);
	assert_int_equal(proc_withdraw(&pr, 1, 7, ENQ + 31, NULL), PROC_E_NO_OFFER);
	assert_int_equal(proc_confirm(&pr, 1, 7, ENQ + 31, NULL), PROC_E_NO_OFFER);
	/* Resubmission reactivates the same offer. */
	assert_int_equal(submit_ok(&pr, 1, 7, 73, 4400, NULL, ENQ + 40), 70);
	assert_int_equal(o->revision, 4);
	assert_int_equal(pr.noffers, 1);
	assert_int_equal(proc_live_offers(&pr, 1), 1);

	/* Withdrawal has the same time limits as submission. */
	assert_int_equal(proc_withdraw(&pr, 1, 7, DL, NULL), PROC_E_DEADLINE);
	assert_int_equal(proc_withdraw(&pr, 1, 7, OPEN, NULL), PROC_E_DEADLINE);
	assert_int_equal(o->status, OFFER_ACTIVE);
	proc_free(&pr);

	setup_rfq(&pr, 1);
	assert_int_equal(proc_withdraw(&pr, 1, 7, ENQ - 1, NULL), PROC_E_NOT_OPEN);
	submit_ok(&pr, 1, 7, 70, 5000, NULL, ENQ);
	assert_int_equal(proc_withdraw(&pr, 1, 7, DL - 1, NULL), PROC_OK);
	proc_free(&pr);
}

/* An amendment bumps the version, replaces deadlines and criteria, and marks live offers. */
static void test_amend(void **state)
{
	struct procedure pr;
	struct proc_lot lots[2] = { lot_example(1), lot_price(2, MAXP) };
	struct proc_lot nl[2];
	struct proc_params np;
	int64_t v[PROC_MAX_CRITERIA] = { 0, 30 };

	(void)state;
	setup(&pr, PROC_TENDER, 1, lots, 2);
	/* During the enquiry period: nothing to mark; the enquiry end may move. */
	np = params(PROC_TENDER, 1);
	np.enquiry_end = ENQ + HOUR;
	nl[0] = lots[0];
	nl[1] = lots[1];
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ - 1, NULL), PROC_OK);
	assert_int_equal(pr.version, 2);
	assert_int_equal(pr.p.enquiry_end, ENQ + HOUR);
	assert_int_equal(proc_submit(&pr, 1, 7, 70, 5000, v, ENQ, NULL, NULL), PROC_E_NOT_OPEN);

	submit_ok(&pr, 1, 7, 70, 5000, v, ENQ + HOUR);
	submit_ok(&pr, 1, 8, 80, 6000, v, ENQ + HOUR + 1);
	submit_ok(&pr, 2, 7, 71, 7000, NULL, ENQ + HOUR + 2);
	assert_int_equal(proc_withdraw(&pr, 1, 8, ENQ + HOUR + 3, NULL), PROC_OK);

	/* Tendering: a later deadline, a lower maximum price on lot 2, narrower delivery bounds on lot 1. */
	np.submission_deadline = DL + DAY;
	np.opening_at = DL + DAY;
	nl[1].max_price = 6500;
	nl[0].crit[1].max = 20;
	/* Lots may come in another order. */
	{
		struct proc_lot sw[2] = { nl[1], nl[0] };

		assert_int_equal(proc_amend(&pr, &np, sw, 2, DL - 1, NULL), PROC_OK);
	}
	assert_int_equal(pr.version, 3);
	assert_int_equal(pr.p.submission_deadline, DL + DAY);
	assert_int_equal(pr.lots[0].id, 1);
	assert_int_equal(pr.lots[0].crit[1].max, 20);
	assert_int_equal(pr.lots[1].max_price, 6500);
	assert_int_equal(proc_offer_by_id(&pr, 70)->needs_confirm, 1);
	assert_int_equal(proc_offer_by_id(&pr, 71)->needs_confirm, 1);
	/* A withdrawn offer is not marked. */
	assert_int_equal(proc_offer_by_id(&pr, 80)->needs_confirm, 0);
	assert_int_equal(proc_offer_by_id(&pr, 70)->status, OFFER_ACTIVE);
	assert_int_equal(proc_next_deadline(&pr), DL + DAY);

	/* Confirmation checks the offer against the amended lot. */
	assert_int_equal(proc_confirm(&pr, 2, 7, DL, NULL), PROC_E_PRICE);
	assert_int_equal(proc_confirm(&pr, 1, 7, DL, NULL), PROC_E_VALUE);
	assert_int_equal(proc_confirm(&pr, 3, 7, DL, NULL), PROC_E_NO_LOT);
	assert_int_equal(proc_confirm(&pr, 1, 8, DL, NULL), PROC_E_NO_OFFER);
	assert_int_equal(proc_offer_by_id(&pr, 70)->needs_confirm, 1);
	/* Resubmission clears the mark; confirmation of a fitting offer too, without a new revision. */
	v[1] = 20;
	submit_ok(&pr, 1, 7, 0, 5000, v, DL);
	assert_int_equal(proc_offer_by_id(&pr, 70)->revision, 2);
	submit_ok(&pr, 1, 8, 0, 6000, v, DL + 1);
	assert_int_equal(proc_offer_by_id(&pr, 80)->revision, 2);
	submit_ok(&pr, 2, 7, 0, 6400, NULL, DL + 2);
	{
		/* One more amendment, then a bare confirmation. */
		np.submission_deadline = DL + 2 * DAY;
		np.opening_at = DL + 2 * DAY + HOUR;
		assert_int_equal(proc_amend(&pr, &np, nl, 2, DL + 3, NULL), PROC_OK);
		assert_int_equal(pr.version, 4);
		assert_int_equal(proc_offer_by_id(&pr, 71)->needs_confirm, 1);
		assert_int_equal(proc_confirm(&pr, 2, 7, DL + 4, NULL), PROC_OK);
		assert_int_equal(proc_offer_by_id(&pr, 71)->needs_confirm, 0);
		assert_int_equal(proc_offer_by_id(&pr, 71)->revision, 2);
		assert_int_equal(proc_offer_by_id(&pr, 71)->submitted_at, DL + 2);
		/* Confirming an unmarked offer is harmless. */
		assert_int_equal(proc_confirm(&pr, 2, 7, DL + 5, NULL), PROC_OK);
	}
	/* Confirmation closes with submissions. */
	assert_int_equal(proc_confirm(&pr, 1, 7, DL + 2 * DAY, NULL), PROC_E_DEADLINE);
	proc_free(&pr);
}

/* Amendments outside their window or with inconsistent data are refused and change nothing. */
static void test_amend_refusals(void **state)
{
	struct procedure pr;
	struct proc_lot lots[2] = { lot_example(1), lot_price(2, MAXP) };
	struct proc_lot nl[2] = { lots[0], lots[1] };
	struct proc_params np = params(PROC_TENDER, 1);

	(void)state;
	{
		struct proc_params p = params(PROC_TENDER, 1);

		proc_init(&pr, 1, &p, lots, 2);
		assert_int_equal(proc_amend(&pr, &np, nl, 2, T0, NULL), PROC_E_STATE);
		assert_int_equal(pr.version, 1);
		proc_free(&pr);
	}
	setup(&pr, PROC_TENDER, 1, lots, 2);
	/* Invalid data. */
	np.min_bids = 0;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 1, NULL), PROC_E_VALUE);
	np = params(PROC_TENDER, 1);
	np.kind = PROC_TENDER_AUCTION;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 1, NULL), PROC_E_VALUE);
	np = params(PROC_TENDER, 1);
	np.buyer_org = BUYER + 1;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 1, NULL), PROC_E_VALUE);
	np = params(PROC_TENDER, 1);
	assert_int_equal(proc_amend(&pr, &np, nl, 1, ENQ + 1, NULL), PROC_E_VALUE);
	nl[1].id = 3;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 1, NULL), PROC_E_VALUE);
	nl[1].id = 2;
	/* While tendering the past enquiry end must stay as it was. */
	np.enquiry_end = ENQ + 1;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 1, NULL), PROC_E_VALUE);
	np.enquiry_end = ENQ;
	/* New deadlines must lie in the future. */
	np.submission_deadline = ENQ + 5;
	np.opening_at = ENQ + 5;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 5, NULL), PROC_E_VALUE);
	assert_int_equal(pr.version, 1);
	assert_int_equal(pr.p.submission_deadline, DL);
	np.opening_at = ENQ + HOUR;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 4, NULL), PROC_OK);
	assert_int_equal(pr.version, 2);
	/* After the submission deadline and before the opening: closed. */
	assert_int_equal(proc_amend(&pr, &np, nl, 2, ENQ + 5, NULL), PROC_E_STATE);
	assert_int_equal(pr.state, PROC_TENDERING);
	assert_int_equal(pr.version, 2);
	proc_free(&pr);

	/* In the enquiry period, the new enquiry end must lie in the future. */
	setup(&pr, PROC_TENDER, 1, lots, 2);
	np = params(PROC_TENDER, 1);
	np.enquiry_end = T0 + 10;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, T0 + 10, NULL), PROC_E_VALUE);
	assert_int_equal(proc_amend(&pr, &np, nl, 2, T0 + 9, NULL), PROC_OK);
	/* The amendment's own clock advance comes first: at the new enquiry end it is tendering. */
	np.enquiry_end = T0 + 10;
	assert_int_equal(proc_amend(&pr, &np, nl, 2, T0 + 10, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_TENDERING);
	/* After the opening. */
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(proc_amend(&pr, &np, nl, 2, OPEN, NULL), PROC_E_STATE);
	proc_free(&pr);
}

/* At the opening an offer still waiting for confirmation is withdrawn and does not count. */
static void test_opening_needs_confirm(void **state)
{
	struct procedure pr;
	struct proc_lot l = lot_price(1, MAXP);
	struct proc_params np = params(PROC_RFQ, 2);
	struct proc_eval ev[64];

	(void)state;
	setup(&pr, PROC_RFQ, 2, &l, 1);
	submit_ok(&pr, 1, 7, 70, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 8, 80, 6000, NULL, ENQ + 2);
	submit_ok(&pr, 1, 9, 90, 7000, NULL, ENQ + 3);
	assert_int_equal(proc_amend(&pr, &np, &l, 1, ENQ + 4, NULL), PROC_OK);
	assert_int_equal(proc_confirm(&pr, 1, 8, ENQ + 5, NULL), PROC_OK);
	submit_ok(&pr, 1, 9, 0, 6900, NULL, ENQ + 6);
	assert_int_equal(adv_kinds(&pr, OPEN), EVB(PROC_EV_OPENED));
	assert_int_equal(status_of(&pr, 70), OFFER_WITHDRAWN);
	/* The mark stays: this withdrawal was the opening's, not the supplier's. */
	assert_int_equal(proc_offer_by_id(&pr, 70)->needs_confirm, 1);
	assert_int_equal(status_of(&pr, 80), OFFER_ACTIVE);
	assert_int_equal(status_of(&pr, 90), OFFER_ACTIVE);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	evaluate_n(&pr, 1, ev, 2);
	assert_int_equal(ev[0].offer_id, 80);
	assert_int_equal(ev[1].offer_id, 90);
	/* Award goes to the lowest confirmed price, not to the unconfirmed cheaper one. */
	assert_int_equal(proc_award(&pr, 1, 70, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(proc_award(&pr, 1, 80, AFTER, NULL), PROC_OK);
	proc_free(&pr);

	/* Unconfirmed offers can push a lot below the minimum. */
	setup(&pr, PROC_RFQ, 2, &l, 1);
	submit_ok(&pr, 1, 7, 70, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 8, 80, 6000, NULL, ENQ + 2);
	assert_int_equal(proc_amend(&pr, &np, &l, 1, ENQ + 4, NULL), PROC_OK);
	assert_int_equal(proc_confirm(&pr, 1, 8, ENQ + 5, NULL), PROC_OK);
	assert_int_equal(adv_kinds(&pr, OPEN), EVB(PROC_EV_OPENED) | EVB(PROC_EV_DECIDED));
	assert_int_equal(pr.lots[0].state, LOT_UNSUCCESSFUL);
	assert_int_equal(pr.state, PROC_UNSUCCESSFUL);
	assert_int_equal(proc_live_offers(&pr, 1), 1);
	proc_free(&pr);
}

/* Lots with fewer live offers than min_bids fail at the opening; the others go on. */
static void test_min_bids(void **state)
{
	struct procedure pr;
	struct proc_lot lots[3] = { lot_price(1, MAXP), lot_price(2, MAXP), lot_price(3, MAXP) };
	struct proc_eval ev[64];

	(void)state;
	setup(&pr, PROC_RFQ, 2, lots, 3);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 8, 81, 6000, NULL, ENQ + 2);
	submit_ok(&pr, 2, 7, 72, 5000, NULL, ENQ + 3);
	submit_ok(&pr, 2, 8, 82, 6000, NULL, ENQ + 4);
	submit_ok(&pr, 3, 7, 73, 5000, NULL, ENQ + 5);
	/* A withdrawn offer does not count towards the minimum. */
	assert_int_equal(proc_withdraw(&pr, 2, 8, ENQ + 6, NULL), PROC_OK);
	assert_int_equal(adv_kinds(&pr, OPEN), EVB(PROC_EV_OPENED));
	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	assert_int_equal(pr.lots[1].state, LOT_UNSUCCESSFUL);
	assert_int_equal(pr.lots[2].state, LOT_UNSUCCESSFUL);
	/* The single offers stay active (they were valid), but their lots are closed. */
	assert_int_equal(status_of(&pr, 73), OFFER_ACTIVE);
	evaluate_n(&pr, 3, ev, 1);
	assert_int_equal(proc_award(&pr, 3, 73, AFTER, NULL), PROC_E_STATE);
	assert_int_equal(proc_disqualify(&pr, 3, 73, AFTER, NULL), PROC_E_STATE);
	/* Awarding the remaining lot decides the procedure: one lot awarded is enough. */
	assert_int_equal(proc_award(&pr, 1, 71, AFTER, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_AWARDED);
	assert_int_equal(pr.decided_at, AFTER);
	assert_int_equal(pr.closed_at, 0);
	proc_free(&pr);

	/* min_bids = 1: a single offer suffices. */
	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ + 1);
	assert_int_equal(adv_kinds(&pr, OPEN), EVB(PROC_EV_OPENED));
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	proc_free(&pr);

	/* Exactly min_bids offers suffice, one fewer does not. */
	setup_rfq(&pr, 3);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 8, 81, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 9, 91, 5000, NULL, ENQ + 1);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	proc_free(&pr);
}

/* When every lot fails at the opening the procedure is unsuccessful at once. */
static void test_all_unsuccessful(void **state)
{
	struct procedure pr;
	struct proc_lot lots[2] = { lot_price(1, MAXP), lot_price(2, MAXP) };

	(void)state;
	setup(&pr, PROC_TENDER, 2, lots, 2);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 2, 8, 82, 5000, NULL, ENQ + 1);
	assert_int_equal(adv_kinds(&pr, OPEN + HOUR), EVB(PROC_EV_OPENED) | EVB(PROC_EV_DECIDED));
	assert_int_equal(pr.state, PROC_UNSUCCESSFUL);
	assert_int_equal(pr.opened_at, OPEN);
	assert_int_equal(pr.decided_at, OPEN);
	assert_int_equal(pr.closed_at, OPEN);
	assert_int_equal(pr.lots[0].state, LOT_UNSUCCESSFUL);
	assert_int_equal(pr.lots[1].state, LOT_UNSUCCESSFUL);
	assert_int_equal(proc_next_deadline(&pr), -1);
	assert_int_equal(proc_award(&pr, 1, 71, OPEN + HOUR, NULL), PROC_E_STATE);
	assert_int_equal(proc_cancel(&pr, OPEN + HOUR, NULL), PROC_E_STATE);
	assert_int_equal(proc_complete(&pr, OPEN + HOUR, NULL), PROC_E_STATE);
	proc_free(&pr);

	/* No offers at all. */
	setup(&pr, PROC_TENDER, 1, lots, 2);
	assert_int_equal(adv_kinds(&pr, OPEN),
	    EVB(PROC_EV_TENDERING) | EVB(PROC_EV_OPENED) | EVB(PROC_EV_DECIDED));
	assert_int_equal(pr.state, PROC_UNSUCCESSFUL);
	proc_free(&pr);
}

/* RFQ ranking: price, then submission time, then offer id; award only the first. */
static void test_rfq_ranking_award(void **state)
{
	struct procedure pr;
	struct proc_eval ev[64];

	(void)state;
	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, 1, 10, 5000, NULL, ENQ + 50);
	submit_ok(&pr, 1, 2, 20, 4000, NULL, ENQ + 40);
	submit_ok(&pr, 1, 3, 30, 4000, NULL, ENQ + 30);
	submit_ok(&pr, 1, 4, 45, 4000, NULL, ENQ + 30);
	submit_ok(&pr, 1, 5, 44, 4000, NULL, ENQ + 30);
	submit_ok(&pr, 1, 6, 60, 3000, NULL, ENQ + 60);
	/* A revision resets the submission time used for ties. */
	submit_ok(&pr, 1, 3, 0, 4000, NULL, ENQ + 45);
	proc_advance(&pr, OPEN, NULL);
	evaluate_n(&pr, 1, ev, 6);
	{
		static const int64_t order[] = { 60, 44, 45, 20, 30, 10 };

		for (int i = 0; i < 6; i++) {
			assert_int_equal(ev[i].offer_id, order[i]);
			assert_int_equal(ev[i].rank, i + 1);
			assert_int_equal(ev[i].status, OFFER_ACTIVE);
			/* The price score is filled in RFQs too; it is 100.00 for the lowest. */
			assert_int_equal(ev[i].total, ev[i].crit_score[0]);
			assert_int_equal(ev[i].weighted[0], ev[i].crit_score[0]);
		}
	}
	assert_int_equal(ev[0].crit_score[0], 10000);
	assert_int_equal(ev[0].org, 6);
	assert_int_equal(ev[0].price, 3000);
	assert_int_equal(ev[1].crit_score[0], 7500);
	assert_int_equal(ev[5].crit_score[0], 6000);

	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(proc_award(&pr, 1, 20, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(proc_award(&pr, 1, 60, AFTER, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_AWARDED);
	assert_int_equal(pr.decided_at, AFTER);
	assert_int_equal(pr.lots[0].state, LOT_AWARDED);
	assert_int_equal(pr.lots[0].awarded_offer, 60);
	assert_int_equal(status_of(&pr, 60), OFFER_AWARDED);
	/* The record after the award still ranks the winner first. */
	evaluate_n(&pr, 1, ev, 6);
	assert_int_equal(ev[0].offer_id, 60);
	assert_int_equal(ev[0].rank, 1);
	assert_int_equal(ev[0].status, OFFER_AWARDED);
	assert_int_equal(proc_award(&pr, 1, 20, AFTER, NULL), PROC_E_STATE);
	assert_int_equal(proc_complete(&pr, AFTER + 1, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_COMPLETE);
	assert_int_equal(pr.closed_at, AFTER + 1);
	assert_int_equal(proc_complete(&pr, AFTER + 2, NULL), PROC_E_STATE);
	proc_free(&pr);
}

/* Award refusals in their order; a multi-lot procedure is decided by its last lot. */
static void test_award_refusals(void **state)
{
	struct procedure pr;
	struct proc_lot lots[2] = { lot_price(1, MAXP), lot_price(2, MAXP) };

	(void)state;
	setup(&pr, PROC_RFQ, 1, lots, 2);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 8, 81, 6000, NULL, ENQ + 2);
	submit_ok(&pr, 2, 7, 72, 5000, NULL, ENQ + 3);
	/* Before the opening. */
	assert_int_equal(proc_award(&pr, 1, 71, OPEN - 1, NULL), PROC_E_STATE);
	assert_int_equal(proc_disqualify(&pr, 1, 71, OPEN - 1, NULL), PROC_E_STATE);
	assert_int_equal(pr.state, PROC_TENDERING);
	/* The award itself applies the opening. */
	assert_int_equal(proc_award(&pr, 3, 71, OPEN, NULL), PROC_E_NO_LOT);
	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(proc_award(&pr, 1, 999, OPEN, NULL), PROC_E_NO_OFFER);
	assert_int_equal(proc_award(&pr, 1, 72, OPEN, NULL), PROC_E_NO_OFFER);
	assert_int_equal(proc_award(&pr, 1, 81, OPEN, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(proc_award(&pr, 1, 71, OPEN + 1, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_EVALUATION);
	assert_int_equal(pr.decided_at, 0);
	assert_int_equal(proc_award(&pr, 1, 71, OPEN + 2, NULL), PROC_E_STATE);
	assert_int_equal(proc_disqualify(&pr, 1, 81, OPEN + 2, NULL), PROC_E_STATE);
	/* The awarded lot's offers take no scores (the lot state is checked before the criterion). */
	assert_int_equal(proc_score(&pr, 81, 1, 0, OPEN + 2, NULL), PROC_E_STATE);
	assert_int_equal(proc_score(&pr, 72, 1, 0, OPEN + 2, NULL), PROC_E_SCORE);
	assert_int_equal(proc_award(&pr, 2, 72, OPEN + 3, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_AWARDED);
	assert_int_equal(pr.decided_at, OPEN + 3);
	assert_int_equal(proc_cancel(&pr, OPEN + 4, NULL), PROC_E_STATE);
	assert_int_equal(pr.lots[0].state, LOT_AWARDED);
	proc_free(&pr);
}

/* Disqualification passes the award down the ranking, below min_bids, until none remains. */
static void test_disqualify_chain(void **state)
{
	struct procedure pr;
	struct proc_lot lots[2] = { lot_price(1, MAXP), lot_price(2, MAXP) };
	struct proc_eval ev[64];

	(void)state;
	setup(&pr, PROC_RFQ, 3, lots, 2);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 8, 81, 6000, NULL, ENQ + 2);
	submit_ok(&pr, 1, 9, 91, 4000, NULL, ENQ + 3);
	submit_ok(&pr, 2, 7, 72, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 2, 8, 82, 6000, NULL, ENQ + 2);
	submit_ok(&pr, 2, 9, 92, 4000, NULL, ENQ + 3);
	proc_advance(&pr, OPEN, NULL);
	/* Lot 1: 91, 71, 81. Only the first may be disqualified. */
	assert_int_equal(proc_disqualify(&pr, 1, 71, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(proc_disqualify(&pr, 1, 92, AFTER, NULL), PROC_E_NO_OFFER);
	assert_int_equal(proc_disqualify(&pr, 1, 91, AFTER, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_EVALUATION);
	assert_int_equal(status_of(&pr, 91), OFFER_DISQUALIFIED);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	/* The disqualified offer is listed last, unranked and unscored; prices rescale to the new lowest. */
	evaluate_n(&pr, 1, ev, 3);
	assert_int_equal(ev[0].offer_id, 71);
	assert_int_equal(ev[0].rank, 1);
	assert_int_equal(ev[0].crit_score[0], 10000);
	assert_int_equal(ev[1].offer_id, 81);
	assert_int_equal(ev[1].rank, 2);
	assert_int_equal(ev[1].crit_score[0], 8333);
	assert_int_equal(ev[2].offer_id, 91);
	assert_int_equal(ev[2].rank, 0);
	assert_int_equal(ev[2].status, OFFER_DISQUALIFIED);
	assert_int_equal(ev[2].price, 4000);
	assert_int_equal(ev[2].crit_score[0], 0);
	assert_int_equal(ev[2].total, 0);
	/* Disqualified and withdrawn offers cannot be disqualified or awarded again. */
	assert_int_equal(proc_disqualify(&pr, 1, 91, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(proc_award(&pr, 1, 91, AFTER, NULL), PROC_E_NOT_FIRST);
	/* Two live offers remain, below min_bids 3: the award still passes on. */
	assert_int_equal(proc_disqualify(&pr, 1, 71, AFTER + 1, NULL), PROC_OK);
	assert_int_equal(proc_live_offers(&pr, 1), 1);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	evaluate_n(&pr, 1, ev, 3);
	assert_int_equal(ev[0].offer_id, 81);
	assert_int_equal(ev[0].crit_score[0], 10000);
	/* Disqualified ones after the ranked, among themselves by price. */
	assert_int_equal(ev[1].offer_id, 91);
	assert_int_equal(ev[2].offer_id, 71);
	assert_int_equal(ev[1].rank, 0);
	assert_int_equal(proc_disqualify(&pr, 1, 81, AFTER + 2, NULL), PROC_OK);
	assert_int_equal(pr.lots[0].state, LOT_UNSUCCESSFUL);
	assert_int_equal(pr.state, PROC_EVALUATION);
	assert_int_equal(pr.decided_at, 0);
	evaluate_n(&pr, 1, ev, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ev[i].rank, 0);
	assert_int_equal(proc_disqualify(&pr, 1, 81, AFTER + 2, NULL), PROC_E_STATE);

	/* Lot 2 likewise; its last disqualification decides the procedure as unsuccessful. */
	assert_int_equal(proc_disqualify(&pr, 2, 92, AFTER + 3, NULL), PROC_OK);
	assert_int_equal(proc_disqualify(&pr, 2, 72, AFTER + 4, NULL), PROC_OK);
	assert_int_equal(proc_disqualify(&pr, 2, 82, AFTER + 5, NULL), PROC_OK);
	assert_int_equal(pr.lots[1].state, LOT_UNSUCCESSFUL);
	assert_int_equal(pr.state, PROC_UNSUCCESSFUL);
	assert_int_equal(pr.decided_at, AFTER + 5);
	assert_int_equal(pr.closed_at, AFTER + 5);
	proc_free(&pr);
}

/* Run the worked example of docs/procedures.md up to the opening. */
static void example_setup(struct procedure *pr)
{
	struct proc_lot l = lot_example(1);
	int64_t v[PROC_MAX_CRITERIA] = { 0 };

	setup(pr, PROC_TENDER, 2, &l, 1);
	v[1] = 30;
	submit_ok(pr, 1, ALPHA, 11, 90000000, v, ENQ + 1 * HOUR);
	v[1] = 45;
	submit_ok(pr, 1, BETA, 12, 85000000, v, ENQ + 2 * HOUR);
	v[1] = 10;
	submit_ok(pr, 1, GAMMA, 13, 95000000, v, ENQ + 3 * HOUR);
	assert_int_equal(adv_kinds(pr, OPEN), EVB(PROC_EV_OPENED));
}

/* The worked example of docs/procedures.md, number by number. */
static void test_worked_example(void **state)
{
	struct procedure pr;
	struct proc_eval ev[64];
	static const struct {
		int64_t offer, org, price;
		int64_t crit[3], weighted[3], total;
		int rank;
	} want[3] = {
		{ 13, GAMMA, 95000000, { 8947, 8475, 9000 }, { 5368, 1695, 1800 }, 8863, 1 },
		{ 11, ALPHA, 90000000, { 9444, 5085, 8000 }, { 5666, 1017, 1600 }, 8283, 2 },
		{ 12, BETA, 85000000, { 10000, 2542, 6000 }, { 6000, 508, 1200 }, 7708, 3 },
	};

	(void)state;
	example_setup(&pr);
	/* At the opening the quality scores are missing: partial totals, no ranks. */
	assert_int_equal(proc_evaluate(&pr, 1, ev, 64), -1);
	assert_int_equal(ev[0].offer_id, 11);
	assert_int_equal(ev[0].total, 5666 + 1017);
	assert_int_equal(ev[0].crit_score[2], 0);
	assert_int_equal(ev[0].rank, 0);
	assert_int_equal(ev[1].offer_id, 12);
	assert_int_equal(ev[1].total, 6000 + 508);
	assert_int_equal(ev[2].offer_id, 13);
	assert_int_equal(ev[2].total, 5368 + 1695);
	assert_int_equal(ev[2].rank, 0);
	assert_int_equal(proc_award(&pr, 1, 13, AFTER, NULL), PROC_E_UNSCORED);
	assert_int_equal(proc_disqualify(&pr, 1, 13, AFTER, NULL), PROC_E_UNSCORED);
	assert_int_equal(pr.state, PROC_OPENED);

	assert_int_equal(proc_score(&pr, 11, 2, 8, AFTER, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_EVALUATION);
	assert_int_equal(proc_score(&pr, 12, 2, 6, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_evaluate(&pr, 1, ev, 64), -1);
	assert_int_equal(proc_award(&pr, 1, 13, AFTER, NULL), PROC_E_UNSCORED);
	assert_int_equal(proc_score(&pr, 13, 2, 9, AFTER, NULL), PROC_OK);

	evaluate_n(&pr, 1, ev, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ev[i].offer_id, want[i].offer);
		assert_int_equal(ev[i].org, want[i].org);
		assert_int_equal(ev[i].price, want[i].price);
		for (int c = 0; c < 3; c++) {
			assert_int_equal(ev[i].crit_score[c], want[i].crit[c]);
			assert_int_equal(ev[i].weighted[c], want[i].weighted[c]);
		}
		for (int c = 3; c < PROC_MAX_CRITERIA; c++) {
			assert_int_equal(ev[i].crit_score[c], 0);
			assert_int_equal(ev[i].weighted[c], 0);
		}
		assert_int_equal(ev[i].total, want[i].total);
		assert_int_equal(ev[i].rank, want[i].rank);
		assert_int_equal(ev[i].status, OFFER_ACTIVE);
	}
	/* The cheapest offer does not win; the best score does. */
	assert_int_equal(proc_award(&pr, 1, 12, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(proc_award(&pr, 1, 11, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(proc_award(&pr, 1, 13, AFTER + 1, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_AWARDED);
	assert_int_equal(pr.decided_at, AFTER + 1);
	/* Scores are frozen once the lot is awarded. */
	assert_int_equal(proc_score(&pr, 11, 2, 10, AFTER + 2, NULL), PROC_E_STATE);
	proc_free(&pr);

	/* The documented disqualification: Gamma out, Alpha first with unchanged scores. */
	example_setup(&pr);
	assert_int_equal(proc_score(&pr, 11, 2, 8, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_score(&pr, 12, 2, 6, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_score(&pr, 13, 2, 9, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_disqualify(&pr, 1, 13, AFTER, NULL), PROC_OK);
	evaluate_n(&pr, 1, ev, 3);
	assert_int_equal(ev[0].offer_id, 11);
	assert_int_equal(ev[0].total, 8283);
	assert_int_equal(ev[0].rank, 1);
	assert_int_equal(ev[1].offer_id, 12);
	assert_int_equal(ev[1].total, 7708);
	assert_int_equal(ev[2].offer_id, 13);
	assert_int_equal(ev[2].rank, 0);
	assert_int_equal(proc_award(&pr, 1, 11, AFTER, NULL), PROC_OK);
	proc_free(&pr);
}

/* Buyer scores: only scored criteria, within 0..max, on live offers of open lots, after the opening. */
static void test_scores(void **state)
{
	struct procedure pr;
	struct proc_eval ev[64];

	(void)state;
	example_setup(&pr);
	{
		struct procedure early;
		struct proc_lot l = lot_example(1);
		int64_t v[PROC_MAX_CRITERIA] = { 0, 5 };

		setup(&early, PROC_TENDER, 1, &l, 1);
		submit_ok(&early, 1, 7, 70, 100, v, ENQ);
		assert_int_equal(proc_score(&early, 70, 2, 5, OPEN - 1, NULL), PROC_E_STATE);
		assert_int_equal(proc_score(&early, 70, 2, 5, OPEN, NULL), PROC_OK);
		proc_free(&early);
	}
	assert_int_equal(proc_score(&pr, 99, 2, 5, AFTER, NULL), PROC_E_NO_OFFER);
	assert_int_equal(proc_score(&pr, 11, 0, 5, AFTER, NULL), PROC_E_SCORE);
	assert_int_equal(proc_score(&pr, 11, 1, 5, AFTER, NULL), PROC_E_SCORE);
	assert_int_equal(proc_score(&pr, 11, 3, 5, AFTER, NULL), PROC_E_SCORE);
	assert_int_equal(proc_score(&pr, 11, -1, 5, AFTER, NULL), PROC_E_SCORE);
	assert_int_equal(proc_score(&pr, 11, 2, 11, AFTER, NULL), PROC_E_SCORE);
	assert_int_equal(proc_score(&pr, 11, 2, -1, AFTER, NULL), PROC_E_SCORE);
	assert_int_equal(pr.state, PROC_OPENED);
	assert_int_equal(proc_offer_by_id(&pr, 11)->scored, 0);
	/* The limits themselves, and a change of mind. */
	assert_int_equal(proc_score(&pr, 11, 2, 10, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_score(&pr, 12, 2, 0, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_score(&pr, 13, 2, 0, AFTER, NULL), PROC_OK);
	evaluate_n(&pr, 1, ev, 3);
	assert_int_equal(ev[0].offer_id, 11);
	assert_int_equal(ev[0].crit_score[2], 10000);
	assert_int_equal(ev[2].crit_score[2], 0);
	assert_int_equal(proc_score(&pr, 11, 2, 0, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_offer_by_id(&pr, 11)->scores[2], 0);
	assert_int_equal(proc_offer_by_id(&pr, 11)->scored, 1u << 2);
	/* Alpha 66.83, Beta 65.08, Gamma 70.63. */
	evaluate_n(&pr, 1, ev, 3);
	assert_int_equal(ev[0].offer_id, 13);
	assert_int_equal(ev[0].total, 7063);
	assert_int_equal(ev[1].total, 6683);
	assert_int_equal(ev[2].total, 6508);
	/* A disqualified offer takes no more scores. */
	assert_int_equal(proc_disqualify(&pr, 1, 13, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_score(&pr, 13, 2, 3, AFTER, NULL), PROC_E_NO_OFFER);
	proc_free(&pr);
}

/* The formula at its edges: rounding, higher-better values, huge prices and bounds, rescaling. */
static void test_formula_edges(void **state)
{
	struct procedure pr;
	struct proc_lot l;
	struct proc_eval ev[64];
	int64_t v[PROC_MAX_CRITERIA] = { 0 };

	(void)state;
	/* Half up: 10000 * 2 / 8 = 2500 exactly; 10000 * 1 / 3 = 3333.33 -> 3333; 10000 * 2 / 3 -> 6667;
	 * 10000 * 1 / 16 = 625; weighted at 50%: 312.5 -> 313. */
	l = lot_price(1, BIGP);
	l.ncrit = 2;
	l.crit[0].weight_bp = 5000;
	l.crit[1].kind = CRIT_STATED;
	l.crit[1].weight_bp = 5000;
	l.crit[1].higher_better = 1;
	l.crit[1].min = 0;
	l.crit[1].max = 16;
	setup(&pr, PROC_TENDER, 1, &l, 1);
	v[1] = 1;
	submit_ok(&pr, 1, 1, 1, 1, v, ENQ);                  /* price 1: full marks */
	v[1] = 16;
	submit_ok(&pr, 1, 2, 2, BIGP, v, ENQ);               /* the largest price */
	v[1] = 0;
	submit_ok(&pr, 1, 3, 3, 3, v, ENQ);
	v[1] = 8;
	submit_ok(&pr, 1, 4, 4, 16, v, ENQ);
	proc_advance(&pr, OPEN, NULL);
	evaluate_n(&pr, 1, ev, 4);
	/* Offer 1: 10000, 625 -> 5000 + 313 = 5313. */
	assert_int_equal(ev[0].offer_id, 1);
	assert_int_equal(ev[0].crit_score[0], 10000);
	assert_int_equal(ev[0].crit_score[1], 625);
	assert_int_equal(ev[0].weighted[1], 313);
	assert_int_equal(ev[0].total, 5313);
	/* Offer 2: 10000 / 999999999999999999 rounds to 0; value 16 is full marks. */
	assert_int_equal(ev[1].offer_id, 2);
	assert_int_equal(ev[1].crit_score[0], 0);
	assert_int_equal(ev[1].crit_score[1], 10000);
	assert_int_equal(ev[1].total, 5000);
	/* Offer 4: 10000 / 16 = 625 -> 313; 8 of 16 = 5000 -> 2500: 2813. */
	assert_int_equal(ev[2].offer_id, 4);
	assert_int_equal(ev[2].crit_score[0], 625);
	assert_int_equal(ev[2].weighted[0], 313);
	assert_int_equal(ev[2].total, 2813);
	/* Offer 3: 10000 / 3 = 3333.33 -> 3333 -> 1666.5 -> 1667; 0 of 16. */
	assert_int_equal(ev[3].offer_id, 3);
	assert_int_equal(ev[3].crit_score[0], 3333);
	assert_int_equal(ev[3].weighted[0], 1667);
	assert_int_equal(ev[3].total, 1667);
	proc_free(&pr);

	/* Prices near the limit, a stated range spanning all of int64, lower better. */
	l = lot_price(1, BIGP);
	l.ncrit = 2;
	l.crit[0].weight_bp = 9999;
	l.crit[1].kind = CRIT_STATED;
	l.crit[1].weight_bp = 1;
	l.crit[1].min = INT64_MIN;
	l.crit[1].max = INT64_MAX;
	setup(&pr, PROC_TENDER, 1, &l, 1);
	v[1] = INT64_MIN;
	submit_ok(&pr, 1, 1, 1, BIGP - 1, v, ENQ);
	v[1] = INT64_MAX;
	submit_ok(&pr, 1, 2, 2, BIGP, v, ENQ);
	v[1] = 0;
	submit_ok(&pr, 1, 3, 3, BIGP / 3 * 2, v, ENQ);
	proc_advance(&pr, OPEN, NULL);
	evaluate_n(&pr, 1, ev, 3);
	assert_int_equal(ev[0].offer_id, 3);
	assert_int_equal(ev[0].crit_score[0], 10000);
	assert_int_equal(ev[0].crit_score[1], 5000);
	assert_int_equal(ev[0].weighted[1], 1);      /* 0.5 rounds up */
	assert_int_equal(ev[0].total, 10000);
	assert_int_equal(ev[1].offer_id, 1);
	assert_int_equal(ev[1].crit_score[0], 6667);
	assert_int_equal(ev[1].crit_score[1], 10000);
	assert_int_equal(ev[2].offer_id, 2);
	assert_int_equal(ev[2].crit_score[0], 6667);
	assert_int_equal(ev[2].crit_score[1], 0);
	/* 6667 * 0.9999 = 6666.33 -> 6666, plus 1 for the value. */
	assert_int_equal(ev[1].total, 6667);
	assert_int_equal(ev[2].total, 6666);
	proc_free(&pr);

	/* A scored criterion with a large top score. */
	l = lot_price(1, MAXP);
	l.ncrit = 2;
	l.crit[0].weight_bp = 1;
	l.crit[1].kind = CRIT_SCORED;
	l.crit[1].weight_bp = 9999;
	l.crit[1].max = INT64_MAX;
	setup(&pr, PROC_TENDER, 1, &l, 1);
	submit_ok(&pr, 1, 1, 1, 100, NULL, ENQ);
	submit_ok(&pr, 1, 2, 2, 200, NULL, ENQ);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(proc_score(&pr, 1, 1, INT64_MAX / 2, OPEN, NULL), PROC_OK);
	assert_int_equal(proc_score(&pr, 2, 1, INT64_MAX, OPEN, NULL), PROC_OK);
	evaluate_n(&pr, 1, ev, 2);
	assert_int_equal(ev[0].offer_id, 2);
	assert_int_equal(ev[0].crit_score[1], 10000);
	assert_int_equal(ev[0].total, 9999 + 1);      /* 5000 * 0.0001 = 0.5 -> 1 */
	assert_int_equal(ev[1].crit_score[1], 5000);
	assert_int_equal(ev[1].total, 5000 + 1);
	proc_free(&pr);
}

/* Tender ties: equal totals rank by price, then by submission time, then by offer id. */
static void test_tender_ties(void **state)
{
	struct procedure pr;
	struct proc_lot l;
	struct proc_eval ev[64];
	int64_t v[PROC_MAX_CRITERIA] = { 0 };

	(void)state;
	/* Price 50%, a stated 0..100 higher-better value 50%. */
	l = lot_price(1, MAXP);
	l.ncrit = 2;
	l.crit[0].weight_bp = 5000;
	l.crit[1].kind = CRIT_STATED;
	l.crit[1].weight_bp = 5000;
	l.crit[1].higher_better = 1;
	l.crit[1].max = 100;
	setup(&pr, PROC_TENDER, 1, &l, 1);
	/* 1000 with 0: 5000 + 0 = 5000; 2000 with 100: 2500 + 5000 = 7500;
	 * 1000 with 50: 5000 + 2500 = 7500: same total, the lower price first. */
	v[1] = 0;
	submit_ok(&pr, 1, 1, 1, 1000, v, ENQ + 1);
	v[1] = 100;
	submit_ok(&pr, 1, 2, 2, 2000, v, ENQ + 1);
	v[1] = 50;
	submit_ok(&pr, 1, 3, 3, 1000, v, ENQ + 5);
	/* Identical to offer 3 but earlier. */
	submit_ok(&pr, 1, 4, 4, 1000, v, ENQ + 4);
	/* Identical to offer 4 in time too: the lower id first. */
	submit_ok(&pr, 1, 5, 9, 1000, v, ENQ + 4);
	submit_ok(&pr, 1, 6, 8, 1000, v, ENQ + 4);
	proc_advance(&pr, OPEN, NULL);
	evaluate_n(&pr, 1, ev, 6);
	{
		static const int64_t order[] = { 4, 8, 9, 3, 2, 1 };

		for (int i = 0; i < 6; i++) {
			assert_int_equal(ev[i].offer_id, order[i]);
			assert_int_equal(ev[i].rank, i + 1);
		}
	}
	assert_int_equal(ev[3].total, 7500);
	assert_int_equal(ev[4].total, 7500);
	assert_int_equal(ev[5].total, 5000);
	proc_free(&pr);
}

/* Cancellation in every state before the decision; refused after it. */
static void test_cancel(void **state)
{
	static const int64_t when[] = { T0 + 1, ENQ, DL, OPEN, AFTER };
	struct procedure pr;

	(void)state;
	/* Draft. */
	{
		struct proc_params p = params(PROC_RFQ, 1);
		struct proc_lot l = lot_price(1, MAXP);

		proc_init(&pr, 1, &p, &l, 1);
		assert_int_equal(proc_cancel(&pr, T0, NULL), PROC_OK);
		assert_int_equal(pr.state, PROC_CANCELLED);
		assert_int_equal(pr.lots[0].state, LOT_CANCELLED);
		assert_int_equal(pr.closed_at, T0);
		assert_int_equal(proc_cancel(&pr, T0 + 1, NULL), PROC_E_STATE);
		assert_int_equal(proc_publish(&pr, T0 + 1, NULL), PROC_E_STATE);
		assert_int_equal(proc_advance(&pr, OPEN, NULL), 0);
		assert_int_equal(proc_next_deadline(&pr), -1);
		proc_free(&pr);
	}
	/* Published, tendering, after the deadline, opened, evaluation. */
	for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		struct proc_lot lots[2] = { lot_price(1, MAXP), lot_price(2, MAXP) };

		setup(&pr, PROC_RFQ, 1, lots, 2);
		if (when[i] >= ENQ) {
			submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ);
			submit_ok(&pr, 2, 7, 72, 5000, NULL, ENQ);
		}
		if (when[i] == AFTER)
			assert_int_equal(proc_award(&pr, 1, 71, AFTER, NULL), PROC_OK);
		assert_int_equal(proc_cancel(&pr, when[i], NULL), PROC_OK);
		assert_int_equal(pr.state, PROC_CANCELLED);
		assert_int_equal(pr.closed_at, when[i]);
		assert_int_equal(pr.decided_at, 0);
		assert_int_equal(pr.lots[0].state, LOT_CANCELLED);
		assert_int_equal(pr.lots[1].state, LOT_CANCELLED);
		/* The history stays: an award before the cancellation is still recorded. */
		if (when[i] == AFTER) {
			assert_int_equal(status_of(&pr, 71), OFFER_AWARDED);
			assert_int_equal(pr.lots[0].awarded_offer, 71);
		}
		assert_int_equal(proc_cancel(&pr, when[i] + 1, NULL), PROC_E_STATE);
		assert_int_equal(proc_submit(&pr, 1, 8, 81, 1, NULL, when[i] + 1, NULL, NULL), PROC_E_STATE);
		assert_int_equal(proc_award(&pr, 2, 72, when[i] + 1, NULL), PROC_E_STATE);
		assert_int_equal(proc_advance(&pr, OPEN + DAY, NULL), 0);
		assert_int_equal(pr.opened_at, when[i] >= OPEN ? OPEN : 0);
		proc_free(&pr);
	}
	/* Cancelling after the opening time nobody applied: the opening happens first. */
	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ);
	assert_int_equal(proc_cancel(&pr, OPEN + 5, NULL), PROC_OK);
	assert_int_equal(pr.opened_at, OPEN);
	proc_free(&pr);
	/* ...and when that opening decides the procedure, there is nothing left to cancel. */
	setup_rfq(&pr, 1);
	assert_int_equal(proc_cancel(&pr, OPEN, NULL), PROC_E_STATE);
	assert_int_equal(pr.state, PROC_UNSUCCESSFUL);
	proc_free(&pr);
	/* Awarded and complete. */
	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ);
	assert_int_equal(proc_award(&pr, 1, 71, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_cancel(&pr, AFTER, NULL), PROC_E_STATE);
	assert_int_equal(proc_complete(&pr, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_cancel(&pr, AFTER, NULL), PROC_E_STATE);
	assert_int_equal(pr.state, PROC_COMPLETE);
	proc_free(&pr);
}

/* Complete only from awarded. */
static void test_complete(void **state)
{
	struct procedure pr;

	(void)state;
	setup_rfq(&pr, 1);
	assert_int_equal(proc_complete(&pr, T0, NULL), PROC_E_STATE);
	submit_ok(&pr, 1, 7, 71, 5000, NULL, ENQ);
	assert_int_equal(proc_complete(&pr, ENQ, NULL), PROC_E_STATE);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(proc_complete(&pr, OPEN, NULL), PROC_E_STATE);
	assert_int_equal(proc_award(&pr, 1, 71, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_complete(&pr, AFTER + 1, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_COMPLETE);
	assert_int_equal(pr.decided_at, AFTER);
	assert_int_equal(pr.closed_at, AFTER + 1);
	proc_free(&pr);
}

/* A tender followed by an auction: lots go to auction, the result ranks, award follows it. */
static void test_tender_auction(void **state)
{
	struct procedure pr;
	struct proc_lot lots[3] = { lot_price(1, MAXP), lot_price(2, MAXP), lot_price(3, MAXP) };
	struct proc_eval ev[64];
	int64_t orgs[6];

	(void)state;
	setup(&pr, PROC_TENDER_AUCTION, 1, lots, 3);
	/* Lot 1: four offers. Lot 2: one offer. Lot 3: none. */
	submit_ok(&pr, 1, 1, 11, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 2, 12, 4000, NULL, ENQ + 2);
	submit_ok(&pr, 1, 3, 13, 4500, NULL, ENQ + 3);
	submit_ok(&pr, 1, 4, 14, 4000, NULL, ENQ + 4);
	submit_ok(&pr, 1, 5, 15, 3000, NULL, ENQ + 5);
	assert_int_equal(proc_withdraw(&pr, 1, 5, ENQ + 6, NULL), PROC_OK);
	submit_ok(&pr, 2, 1, 21, 5000, NULL, ENQ + 1);
	assert_int_equal(adv_kinds(&pr, OPEN), EVB(PROC_EV_OPENED));
	assert_int_equal(pr.lots[0].state, LOT_AUCTION);
	/* min_bids 1: a single offer goes to its auction too (where it can only keep its price). */
	assert_int_equal(pr.lots[1].state, LOT_AUCTION);
	assert_int_equal(pr.lots[2].state, LOT_UNSUCCESSFUL);
	/* Before the auction the tender ranking stands (the auction's starting ranks). */
	evaluate_n(&pr, 1, ev, 4);
	assert_int_equal(ev[0].offer_id, 12);
	assert_int_equal(ev[1].offer_id, 14);
	assert_int_equal(ev[2].offer_id, 13);
	assert_int_equal(ev[3].offer_id, 11);
	assert_int_equal(proc_award(&pr, 1, 12, AFTER, NULL), PROC_E_STATE);
	assert_int_equal(proc_disqualify(&pr, 1, 12, AFTER, NULL), PROC_E_STATE);
	/* Auction results: only for a lot in auction, a sane list. */
	assert_int_equal(proc_auction_result(&pr, 3, orgs, 0, AFTER, NULL), PROC_E_STATE);
	assert_int_equal(proc_auction_result(&pr, 9, orgs, 0, AFTER, NULL), PROC_E_NO_LOT);
	assert_int_equal(proc_auction_result(&pr, 1, NULL, 2, AFTER, NULL), PROC_E_VALUE);
	assert_int_equal(proc_auction_result(&pr, 1, orgs, -1, AFTER, NULL), PROC_E_VALUE);
	assert_int_equal(pr.state, PROC_OPENED);
	/* The auction: org 3 won, org 1 second; org 77 has no offer, org 5 withdrew, org 3 is repeated.
	 * Orgs 2 and 4 did not bid: they follow by tender price, equal prices by submission. */
	orgs[0] = 77;
	orgs[1] = 3;
	orgs[2] = 5;
	orgs[3] = 1;
	orgs[4] = 3;
	assert_int_equal(proc_auction_result(&pr, 1, orgs, 5, AFTER, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_EVALUATION);
	assert_int_equal(pr.lots[0].state, LOT_ACTIVE);
	assert_int_equal(proc_offer_of(&pr, 1, 3)->auction_rank, 1);
	assert_int_equal(proc_offer_of(&pr, 1, 1)->auction_rank, 2);
	assert_int_equal(proc_offer_of(&pr, 1, 2)->auction_rank, 3);
	assert_int_equal(proc_offer_of(&pr, 1, 4)->auction_rank, 4);
	assert_int_equal(proc_offer_of(&pr, 1, 5)->auction_rank, 0);
	assert_int_equal(proc_auction_result(&pr, 1, orgs, 5, AFTER, NULL), PROC_E_STATE);
	evaluate_n(&pr, 1, ev, 4);
	{
		static const int64_t order[] = { 13, 11, 12, 14 };

		for (int i = 0; i < 4; i++) {
			assert_int_equal(ev[i].offer_id, order[i]);
			assert_int_equal(ev[i].rank, i + 1);
		}
	}
	/* The record still shows the tender prices and their scores. */
	assert_int_equal(ev[0].price, 4500);
	assert_int_equal(ev[0].crit_score[0], 8889);
	/* Award follows the auction; disqualification passes it down the auction ranking. */
	assert_int_equal(proc_award(&pr, 1, 12, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(proc_disqualify(&pr, 1, 13, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_award(&pr, 1, 12, AFTER, NULL), PROC_E_NOT_FIRST);
	assert_int_equal(proc_award(&pr, 1, 11, AFTER, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_EVALUATION);
	/* The single-offer lot's auction ends with its seed alone. */
	assert_int_equal(proc_award(&pr, 2, 21, AFTER + 1, NULL), PROC_E_STATE);
	orgs[0] = 1;
	assert_int_equal(proc_auction_result(&pr, 2, orgs, 1, AFTER + 1, NULL), PROC_OK);
	assert_int_equal(proc_award(&pr, 2, 21, AFTER + 1, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_AWARDED);
	assert_int_equal(pr.decided_at, AFTER + 1);
	proc_free(&pr);

	/* An empty result: everyone ranks by tender price, then submission time, then offer id. */
	setup(&pr, PROC_TENDER_AUCTION, 2, lots, 1);
	submit_ok(&pr, 1, 1, 11, 5000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 2, 12, 4000, NULL, ENQ + 2);
	submit_ok(&pr, 1, 3, 19, 4000, NULL, ENQ + 1);
	submit_ok(&pr, 1, 4, 18, 4000, NULL, ENQ + 1);
	assert_int_equal(proc_auction_result(&pr, 1, NULL, 0, OPEN - 1, NULL), PROC_E_STATE);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(pr.lots[0].state, LOT_AUCTION);
	assert_int_equal(proc_auction_result(&pr, 1, NULL, 0, AFTER, NULL), PROC_OK);
	assert_int_equal(proc_offer_of(&pr, 1, 4)->auction_rank, 1);
	assert_int_equal(proc_offer_of(&pr, 1, 3)->auction_rank, 2);
	assert_int_equal(proc_offer_of(&pr, 1, 2)->auction_rank, 3);
	assert_int_equal(proc_offer_of(&pr, 1, 1)->auction_rank, 4);
	assert_int_equal(proc_award(&pr, 1, 18, AFTER, NULL), PROC_OK);
	proc_free(&pr);
}

/* End to end with the engine: tender prices seed the auction, its ranking decides the award. */
static void test_tender_auction_engine(void **state)
{
	struct procedure pr;
	struct proc_lot l = lot_price(1, MAXP);
	struct auction a;
	struct auction_params ap = {
		.buyer_org = BUYER,
		.start_price = MAXP,
		.step_min = MAXP / 200,
		.step_max = MAXP / 20,
		.starts_at = AFTER,
		.ends_at = AFTER + 600000,
		.ext_window = 0,
		.ext_length = 0,
	};
	struct proc_eval ev[64];
	int64_t orgs[8];
	int n;

	(void)state;
	setup(&pr, PROC_TENDER_AUCTION, 2, &l, 1);
	submit_ok(&pr, 1, ALPHA, 11, MAXP, NULL, ENQ + 1);            /* at the maximum price */
	submit_ok(&pr, 1, BETA, 12, 98000000, NULL, ENQ + 2);
	submit_ok(&pr, 1, GAMMA, 13, 98000000, NULL, ENQ + 3);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(pr.lots[0].state, LOT_AUCTION);

	/* Seed in the tender's order: equal tender prices keep the earlier submission ahead. */
	assert_null(auction_params_check(&ap));
	auction_init(&a, 1, &ap);
	n = proc_evaluate(&pr, 1, ev, 64);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++) {
		const struct proc_offer *o = proc_offer_by_id(&pr, ev[i].offer_id);

		assert_int_equal(auction_seed(&a, 100 + i, o->org, o->price, OPEN, NULL), AUCTION_OK);
	}
	assert_int_equal(auction_rank_of(&a, BETA), 1);
	assert_int_equal(auction_rank_of(&a, GAMMA), 2);
	assert_int_equal(auction_rank_of(&a, ALPHA), 3);
	/* The bidding. */
	assert_int_equal(auction_bid(&a, 200, GAMMA, 98000000 - MAXP / 200, AFTER + 1000, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 201, ALPHA, 98000000 - 1, AFTER + 2000, NULL), AUCTION_OK);
	assert_int_equal(auction_bid(&a, 202, BETA, 98000000 - 2 * (MAXP / 200), AFTER + 3000, NULL), AUCTION_OK);
	auction_advance(&a, AFTER + 600000, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	for (int r = 1; r <= (int)a.nentries; r++)
		orgs[r - 1] = auction_at_rank(&a, r)->org;
	assert_int_equal(proc_auction_result(&pr, 1, orgs, (int)a.nentries, AFTER + 600000, NULL), PROC_OK);
	evaluate_n(&pr, 1, ev, 3);
	assert_int_equal(ev[0].org, BETA);
	assert_int_equal(ev[1].org, GAMMA);
	assert_int_equal(ev[2].org, ALPHA);
	assert_int_equal(proc_award(&pr, 1, 12, AFTER + 600001, NULL), PROC_OK);
	assert_int_equal(pr.state, PROC_AWARDED);
	auction_free(&a);
	proc_free(&pr);
}

/* A copy is deep: changing either side leaves the other as it was; it serves as a rollback. */
static void test_copy(void **state)
{
	struct procedure pr, cp, empty;
	struct proc_eval ev[64];

	(void)state;
	setup_rfq(&pr, 1);
	assert_int_equal(proc_copy(&empty, &pr), 0);
	assert_null(empty.offers);
	assert_int_equal(empty.noffers, 0);
	for (int i = 0; i < 20; i++)
		submit_ok(&pr, 1, 10 + i, 100 + i, 5000 - i, NULL, ENQ + i);
	assert_int_equal(proc_copy(&cp, &pr), 0);
	assert_true(cp.offers != pr.offers);
	assert_int_equal(cp.noffers, 20);
	assert_int_equal(memcmp(cp.offers, pr.offers, 20 * sizeof(*cp.offers)), 0);
	/* Changes to the original... */
	submit_ok(&pr, 1, 10, 0, 1, NULL, ENQ + 100);
	submit_ok(&pr, 1, 99, 999, 1, NULL, ENQ + 101);
	assert_int_equal(proc_withdraw(&pr, 1, 11, ENQ + 102, NULL), PROC_OK);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(proc_award(&pr, 1, 100, AFTER, NULL), PROC_OK);
	/* ...do not reach the copy. */
	assert_int_equal(cp.state, PROC_TENDERING);
	assert_int_equal(cp.noffers, 20);
	assert_int_equal(proc_offer_by_id(&cp, 100)->price, 5000);
	assert_int_equal(proc_offer_by_id(&cp, 101)->status, OFFER_ACTIVE);
	assert_int_equal(cp.lots[0].state, LOT_ACTIVE);
	/* Rollback: drop the changed original, take the copy. */
	proc_free(&pr);
	pr = cp;
	assert_int_equal(adv_kinds(&pr, OPEN), EVB(PROC_EV_OPENED));
	evaluate_n(&pr, 1, ev, 20);
	assert_int_equal(ev[0].offer_id, 119);
	/* The copy grows on its own. */
	{
		struct procedure c2;

		assert_int_equal(proc_copy(&c2, &empty), 0);
		submit_ok(&c2, 1, 7, 70, 1, NULL, ENQ);
		assert_int_equal(empty.noffers, 0);
		proc_free(&c2);
	}
	proc_free(&pr);
	proc_free(&empty);
}

/* Out of memory: a new offer is refused with nothing changed; a failed copy holds nothing. */
static void test_nomem(void **state)
{
	struct procedure pr, cp;

	(void)state;
	setup_rfq(&pr, 1);
	fail_realloc_after = 1;
	assert_int_equal(proc_submit(&pr, 1, 7, 70, 5000, NULL, ENQ, NULL, NULL), PROC_E_NOMEM);
	fail_realloc_after = 0;
	assert_int_equal(pr.noffers, 0);
	assert_null(proc_offer_of(&pr, 1, 7));
	for (int i = 0; i < 8; i++)
		submit_ok(&pr, 1, 10 + i, 100 + i, 5000, NULL, ENQ);
	assert_int_equal(pr.capoffers, 8);
	fail_realloc_after = 1;
	assert_int_equal(proc_submit(&pr, 1, 7, 70, 5000, NULL, ENQ, NULL, NULL), PROC_E_NOMEM);
	/* A revision needs no memory. */
	fail_realloc_after = 1;
	submit_ok(&pr, 1, 10, 0, 4000, NULL, ENQ + 1);
	fail_realloc_after = 0;
	assert_int_equal(pr.noffers, 8);
	submit_ok(&pr, 1, 7, 70, 5000, NULL, ENQ + 2);
	assert_int_equal(pr.noffers, 9);

	fail_realloc_after = 1;
	assert_int_equal(proc_copy(&cp, &pr), -1);
	fail_realloc_after = 0;
	assert_null(cp.offers);
	assert_int_equal(cp.noffers, 0);
	proc_free(&cp);
	assert_int_equal(pr.noffers, 9);
	assert_string_equal(proc_err_code(PROC_E_NOMEM), "internal");
	proc_free(&pr);
}

/* max_amendments and max_revisions refuse with PROC_E_LIMIT, after the other checks and
 * with nothing changed; 0 means no limit. */
static void test_limits(void **state)
{
	struct procedure pr;
	struct proc_lot l = lot_price(1, MAXP);
	struct proc_params np = params(PROC_RFQ, 1);

	(void)state;
	setup_rfq(&pr, 1);
	pr.max_amendments = 2;
	assert_int_equal(proc_amend(&pr, &np, &l, 1, ENQ - 3, NULL), PROC_OK);
	assert_int_equal(proc_amend(&pr, &np, &l, 1, ENQ - 2, NULL), PROC_OK);
	assert_int_equal(proc_amend(&pr, &np, &l, 1, ENQ - 1, NULL), PROC_E_LIMIT);
	assert_int_equal(pr.version, 3);
	pr.max_revisions = 2;
	submit_ok(&pr, 1, 7, 70, 5000, NULL, ENQ);
	submit_ok(&pr, 1, 7, 0, 4000, NULL, ENQ + 1);
	/* the checks before it still decide first */
	assert_int_equal(proc_submit(&pr, 1, 7, 0, MAXP + 1, NULL, ENQ + 2, NULL, NULL), PROC_E_PRICE);
	assert_int_equal(proc_submit(&pr, 1, 7, 0, 3000, NULL, ENQ + 2, NULL, NULL), PROC_E_LIMIT);
	assert_int_equal(proc_offer_of(&pr, 1, 7)->revision, 2);
	assert_int_equal(proc_offer_of(&pr, 1, 7)->price, 4000);
	assert_int_equal(proc_withdraw(&pr, 1, 7, ENQ + 3, NULL), PROC_OK);
	assert_int_equal(proc_submit(&pr, 1, 7, 0, 3000, NULL, ENQ + 4, NULL, NULL), PROC_E_LIMIT);
	submit_ok(&pr, 1, 8, 80, 5000, NULL, ENQ + 5);
	pr.max_revisions = 0;
	submit_ok(&pr, 1, 7, 0, 3000, NULL, ENQ + 6);
	assert_int_equal(proc_offer_of(&pr, 1, 7)->revision, 3);
	proc_free(&pr);
}

/* Deterministic 64-bit LCG; returns the high 32 bits. */
static uint32_t lcg_next(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*x >> 32);
}

/* a / b rounded half up, for the test's own small numbers. */
static int64_t model_round(int64_t a, int64_t b)
{
	return (2 * a + b) / (2 * b);
}

/* The total of offer `o` by the documented formula, computed independently (small numbers only). */
static int64_t model_total(const struct proc_lot *l, const struct proc_offer *o, int64_t min_price)
{
	int64_t total = 0;

	for (int c = 0; c < l->ncrit; c++) {
		const struct proc_criterion *k = &l->crit[c];
		int64_t s;

		if (k->kind == CRIT_PRICE)
			s = model_round(10000 * min_price, o->price);
		else if (k->kind == CRIT_STATED && k->higher_better)
			s = model_round(10000 * (o->values[c] - k->min), k->max - k->min);
		else if (k->kind == CRIT_STATED)
			s = model_round(10000 * (k->max - o->values[c]), k->max - k->min);
		else
			s = model_round(10000 * o->scores[c], k->max);
		total += model_round(s * k->weight_bp, 10000);
	}
	return total;
}

/* Random lots: the full ranking matches an independent model, and every smaller cap its prefix. */
static void test_random_ranking(void **state)
{
	uint64_t rng = 20260314;

	(void)state;
	for (int round = 0; round < 60; round++) {
		struct procedure pr;
		struct proc_lot l = lot_price(1, 10000);
		struct proc_eval full[64], part[64];
		int64_t v[PROC_MAX_CRITERIA] = { 0 };
		int64_t min_price = 0;
		int nof = 1 + (int)(lcg_next(&rng) % 40), n, ranked = 0;

		l.ncrit = 4;
		l.crit[0].weight_bp = 2500 + (int64_t)(lcg_next(&rng) % 5000);
		l.crit[1].kind = CRIT_STATED;
		l.crit[1].weight_bp = 1000;
		l.crit[1].higher_better = (int)(lcg_next(&rng) % 2);
		l.crit[1].min = 3;
		l.crit[1].max = 7;
		l.crit[2].kind = CRIT_SCORED;
		l.crit[2].weight_bp = 1500;
		l.crit[2].max = 4;
		l.crit[3].kind = CRIT_STATED;
		l.crit[3].weight_bp = 10000 - l.crit[0].weight_bp - 2500;
		l.crit[3].min = -2;
		l.crit[3].max = 2;
		if (round % 3 == 0)
			l = lot_price(1, 10000);
		setup(&pr, round % 3 == 0 ? PROC_RFQ : PROC_TENDER, 1, &l, 1);
		for (int i = 0; i < nof; i++) {
			v[1] = 3 + (int64_t)(lcg_next(&rng) % 5);
			v[3] = -2 + (int64_t)(lcg_next(&rng) % 5);
			/* Few distinct prices and times, ids out of order: plenty of ties. */
			submit_ok(&pr, 1, 1 + i, 1000 - 7 * i, 100 * (1 + (int64_t)(lcg_next(&rng) % 6)), v,
			    ENQ + (int64_t)(lcg_next(&rng) % 3));
			if (lcg_next(&rng) % 6 == 0)
				assert_int_equal(proc_withdraw(&pr, 1, 1 + i, ENQ + 5, NULL), PROC_OK);
		}
		proc_advance(&pr, OPEN, NULL);
		if (pr.state != PROC_OPENED) {
			proc_free(&pr);
			continue;
		}
		for (size_t i = 0; i < pr.noffers; i++) {
			if (pr.offers[i].status != OFFER_ACTIVE)
				continue;
			if (l.ncrit > 2)
				assert_int_equal(proc_score(&pr, pr.offers[i].id, 2,
				    (int64_t)(lcg_next(&rng) % 5), OPEN, NULL), PROC_OK);
			if (lcg_next(&rng) % 5 == 0)
				pr.offers[i].status = OFFER_DISQUALIFIED;
		}
		for (size_t i = 0; i < pr.noffers; i++)
			if (pr.offers[i].status == OFFER_ACTIVE &&
			    (min_price == 0 || pr.offers[i].price < min_price))
				min_price = pr.offers[i].price;
		n = proc_evaluate(&pr, 1, full, 64);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			struct proc_offer *o = proc_offer_by_id(&pr, full[i].offer_id);

			assert_non_null(o);
			assert_int_equal(full[i].status, o->status);
			if (o->status == OFFER_DISQUALIFIED) {
				assert_int_equal(full[i].rank, 0);
				assert_int_equal(full[i].total, 0);
				continue;
			}
			ranked++;
			assert_int_equal(full[i].rank, i + 1);
			assert_int_equal(full[i].total, model_total(&l, o, min_price));
			if (i > 0 && full[i - 1].rank > 0) {
				const struct proc_eval *a = &full[i - 1], *b = &full[i];
				const struct proc_offer *oa = proc_offer_by_id(&pr, a->offer_id);
				int64_t ta = pr.p.kind == PROC_RFQ ? 0 : a->total;
				int64_t tb = pr.p.kind == PROC_RFQ ? 0 : b->total;

				assert_true(ta > tb || (ta == tb && (a->price < b->price ||
				    (a->price == b->price && (oa->submitted_at < o->submitted_at ||
				    (oa->submitted_at == o->submitted_at && a->offer_id < b->offer_id))))));
			}
		}
		assert_int_equal(ranked, proc_live_offers(&pr, 1));
		/* Every smaller capacity gives exactly the prefix, and says how much it wrote. */
		for (int cap = 0; cap < n; cap++) {
			memset(part, 0x5a, sizeof(part));
			assert_int_equal(proc_evaluate(&pr, 1, part, cap), cap);
			for (int i = 0; i < cap; i++)
				assert_int_equal(memcmp(&part[i], &full[i], sizeof(part[i])), 0);
			assert_int_equal(part[cap].offer_id, (int64_t)0x5a5a5a5a5a5a5a5aLL);
		}
		proc_free(&pr);
	}
}

/* Unknown lots and odd capacities. */
static void test_evaluate_bounds(void **state)
{
	struct procedure pr;
	struct proc_eval ev[2];

	(void)state;
	setup_rfq(&pr, 1);
	assert_int_equal(proc_evaluate(&pr, 9, ev, 2), 0);
	assert_int_equal(proc_evaluate(&pr, 1, ev, 2), 0);
	submit_ok(&pr, 1, 7, 70, 5000, NULL, ENQ);
	submit_ok(&pr, 1, 8, 80, 4000, NULL, ENQ);
	submit_ok(&pr, 1, 9, 90, 3000, NULL, ENQ);
	/* Sealed or not, the engine evaluates on request: the server decides who may see it.
	 * The result never exceeds the capacity, so `for (i < n)` stays inside the buffer. */
	assert_int_equal(proc_evaluate(&pr, 1, NULL, 5), 0);
	assert_int_equal(proc_evaluate(&pr, 1, ev, -1), 0);
	assert_int_equal(proc_evaluate(&pr, 1, ev, 2), 2);
	assert_int_equal(ev[0].offer_id, 90);
	assert_int_equal(ev[1].offer_id, 80);
	assert_int_equal(ev[1].rank, 2);
	proc_free(&pr);
}

/* Codes, messages, names and parsers. */
static void test_names(void **state)
{
	static const struct {
		enum proc_err e;
		const char *code;
	} codes[] = {
		{ PROC_OK, "ok" },
		{ PROC_E_STATE, "bad_state" },
		{ PROC_E_DEADLINE, "deadline_passed" },
		{ PROC_E_NOT_OPEN, "submissions_not_open" },
		{ PROC_E_OWN, "own_procurement" },
		{ PROC_E_NO_LOT, "not_found" },
		{ PROC_E_NO_OFFER, "no_offer" },
		{ PROC_E_PRICE, "bad_price" },
		{ PROC_E_VALUE, "bad_value" },
		{ PROC_E_SCORE, "bad_score" },
		{ PROC_E_NOT_FIRST, "not_first_ranked" },
		{ PROC_E_UNSCORED, "scores_missing" },
		{ PROC_E_NOMEM, "internal" },
		{ PROC_E_LIMIT, "limit_exceeded" },
	};
	static const char *const states[] = { "draft", "published", "tendering", "opened",
		"evaluation", "awarded", "complete", "unsuccessful", "cancelled" };
	static const char *const lot_states[] = { "active", "auction", "awarded", "unsuccessful",
		"cancelled" };
	static const char *const statuses[] = { "active", "withdrawn", "disqualified", "awarded" };
	static const char *const kinds[] = { "rfq", "tender", "tender_auction" };
	static const char *const crits[] = { "price", "stated", "scored" };
	enum proc_kind k;
	enum proc_crit_kind ck;

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *msg = proc_err_message(codes[i].e);

		assert_string_equal(proc_err_code(codes[i].e), codes[i].code);
		assert_true(strlen(msg) > 4);
		assert_true(msg[strlen(msg) - 1] == '.');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(msg, proc_err_message(codes[j].e));
	}
	assert_string_equal(proc_err_code((enum proc_err)99), "internal");
	assert_non_null(proc_err_message((enum proc_err)99));
	for (int i = 0; i < 9; i++)
		assert_string_equal(proc_state_name((enum proc_state)i), states[i]);
	assert_string_equal(proc_state_name((enum proc_state)9), "unknown");
	for (int i = 0; i < 5; i++)
		assert_string_equal(proc_lot_state_name((enum proc_lot_state)i), lot_states[i]);
	assert_string_equal(proc_lot_state_name((enum proc_lot_state)5), "unknown");
	for (int i = 0; i < 4; i++)
		assert_string_equal(proc_offer_status_name((enum proc_offer_status)i), statuses[i]);
	assert_string_equal(proc_offer_status_name((enum proc_offer_status)4), "unknown");
	for (int i = 0; i < 3; i++) {
		assert_string_equal(proc_kind_name((enum proc_kind)i), kinds[i]);
		assert_int_equal(proc_kind_parse(kinds[i], &k), 0);
		assert_int_equal(k, i);
		assert_string_equal(proc_crit_kind_name((enum proc_crit_kind)i), crits[i]);
		assert_int_equal(proc_crit_kind_parse(crits[i], &ck), 0);
		assert_int_equal(ck, i);
	}
	assert_string_equal(proc_kind_name((enum proc_kind)3), "unknown");
	assert_string_equal(proc_crit_kind_name((enum proc_crit_kind)-1), "unknown");
	k = PROC_TENDER;
	assert_int_equal(proc_kind_parse("auction", &k), -1);
	assert_int_equal(proc_kind_parse("RFQ", &k), -1);
	assert_int_equal(proc_kind_parse("", &k), -1);
	assert_int_equal(proc_kind_parse(NULL, &k), -1);
	assert_int_equal(k, PROC_TENDER);
	assert_int_equal(proc_crit_kind_parse("weight", &ck), -1);
	assert_int_equal(proc_crit_kind_parse(NULL, &ck), -1);
}

/* Run every procedure test. */
/* ---- events ---- */

/* Publish, advance over both deadlines: published, tendering, opened, each lot's
 * outcome, decided, with their times and the state after each. */
static void test_events_lifecycle(void **state)
{
	struct procedure pr;
	struct proc_lot lots[3] = { lot_price(1, MAXP), lot_price(2, MAXP), lot_price(3, MAXP) };
	struct proc_params p = params(PROC_TENDER_AUCTION, 2);
	struct proc_events ev = { 0 };

	(void)state;
	proc_init(&pr, 500, &p, lots, 3);
	assert_int_equal(proc_publish(&pr, T0, &ev), PROC_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, PROC_EV_PUBLISHED);
	assert_int_equal(ev.ev[0].at, T0);
	assert_int_equal(ev.ev[0].state, PROC_PUBLISHED);
	submit_ok(&pr, 2, ALPHA, 21, 1000, NULL, ENQ);
	submit_ok(&pr, 2, BETA, 22, 900, NULL, ENQ + 1);
	submit_ok(&pr, 3, ALPHA, 31, 1000, NULL, ENQ + 2);
	ev.n = 0;
	assert_int_equal(proc_advance(&pr, OPEN + DAY, &ev), 4);
	assert_int_equal(ev.n, 4);
	assert_int_equal(ev.dropped, 0);
	assert_int_equal(ev.ev[0].kind, PROC_EV_OPENED);
	assert_int_equal(ev.ev[0].at, OPEN);
	assert_int_equal(ev.ev[0].state, PROC_OPENED);
	assert_int_equal(ev.ev[1].kind, PROC_EV_LOT_UNSUCCESSFUL);
	assert_int_equal(ev.ev[1].lot, 1);
	assert_int_equal(ev.ev[2].kind, PROC_EV_LOT_AUCTION);
	assert_int_equal(ev.ev[2].lot, 2);
	assert_int_equal(ev.ev[3].kind, PROC_EV_LOT_UNSUCCESSFUL);
	assert_int_equal(ev.ev[3].lot, 3);
	ev.n = 0;
	assert_int_equal(proc_advance(&pr, OPEN + 2 * DAY, &ev), 0);
	assert_int_equal(ev.n, 0);
	proc_free(&pr);

	/* a week late, nobody bid: tendering, opened, one lot unsuccessful, decided */
	setup_rfq(&pr, 1);
	ev.n = 0;
	assert_int_equal(proc_advance(&pr, OPEN + 7 * DAY, &ev), 4);
	assert_int_equal(ev.ev[0].kind, PROC_EV_TENDERING);
	assert_int_equal(ev.ev[0].at, ENQ);
	assert_int_equal(ev.ev[0].state, PROC_TENDERING);
	assert_int_equal(ev.ev[1].kind, PROC_EV_OPENED);
	assert_int_equal(ev.ev[2].kind, PROC_EV_LOT_UNSUCCESSFUL);
	assert_int_equal(ev.ev[3].kind, PROC_EV_DECIDED);
	assert_int_equal(ev.ev[3].at, OPEN);
	assert_int_equal(ev.ev[3].state, PROC_UNSUCCESSFUL);
	proc_free(&pr);
}

/* Offers: a new offer and a resubmission add a live offer, a revision does not;
 * withdrawals and confirmations name the offer. */
static void test_events_offers(void **state)
{
	struct procedure pr;
	struct proc_lot l = lot_price(1, MAXP);
	struct proc_params np = params(PROC_RFQ, 1);
	struct proc_events ev = { 0 };

	(void)state;
	setup_rfq(&pr, 1);
	/* the first submission at the enquiry end: the transition it made, then the offer */
	assert_int_equal(proc_submit(&pr, 1, ALPHA, 11, 5000, NULL, ENQ, NULL, &ev), PROC_OK);
	assert_int_equal(ev_kinds(&ev), EVB(PROC_EV_TENDERING) | EVB(PROC_EV_SUBMITTED));
	assert_int_equal(ev.ev[1].offer, 11);
	assert_int_equal(ev.ev[1].lot, 1);
	assert_int_equal(ev.ev[1].org, ALPHA);
	assert_int_equal(ev.ev[1].revision, 1);
	assert_true(ev.ev[1].added_live);
	ev.n = 0;
	assert_int_equal(proc_submit(&pr, 1, ALPHA, 99, 4000, NULL, ENQ + 1, NULL, &ev), PROC_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].offer, 11);
	assert_int_equal(ev.ev[0].revision, 2);
	assert_false(ev.ev[0].added_live);
	ev.n = 0;
	assert_int_equal(proc_withdraw(&pr, 1, ALPHA, ENQ + 2, &ev), PROC_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, PROC_EV_WITHDRAWN);
	assert_int_equal(ev.ev[0].offer, 11);
	ev.n = 0;
	assert_int_equal(proc_submit(&pr, 1, ALPHA, 99, 4500, NULL, ENQ + 3, NULL, &ev), PROC_OK);
	assert_true(ev.ev[0].added_live);
	assert_int_equal(ev.ev[0].revision, 3);
	/* an amendment, then a needed confirmation, then one not needed */
	np.enquiry_end = ENQ;
	ev.n = 0;
	assert_int_equal(proc_amend(&pr, &np, &l, 1, ENQ + 4, &ev), PROC_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, PROC_EV_AMENDED);
	assert_int_equal(ev.ev[0].version, 2);
	ev.n = 0;
	assert_int_equal(proc_confirm(&pr, 1, ALPHA, ENQ + 5, &ev), PROC_OK);
	assert_int_equal(ev.ev[0].kind, PROC_EV_CONFIRMED);
	assert_true(ev.ev[0].confirm_needed);
	ev.n = 0;
	assert_int_equal(proc_confirm(&pr, 1, ALPHA, ENQ + 6, &ev), PROC_OK);
	assert_false(ev.ev[0].confirm_needed);
	/* refused after the deadline: only the opening it made is reported */
	ev.n = 0;
	assert_int_equal(proc_withdraw(&pr, 1, ALPHA, OPEN, &ev), PROC_E_DEADLINE);
	assert_int_equal(ev_kinds(&ev), EVB(PROC_EV_OPENED));
	proc_free(&pr);
}

/* Evaluation: the first action moves to evaluation; an award that decides the last lot
 * reports the decision; a disqualification that leaves none makes the lot unsuccessful. */
static void test_events_evaluation(void **state)
{
	struct procedure pr;
	struct proc_events ev = { 0 };
	struct proc_lot lots[2] = { lot_price(1, MAXP), lot_price(2, MAXP) };

	(void)state;
	example_setup(&pr);
	assert_int_equal(proc_score(&pr, 11, 2, 7, AFTER, &ev), PROC_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, PROC_EV_EVALUATION);
	assert_int_equal(ev.ev[0].state, PROC_EVALUATION);
	assert_int_equal(ev.ev[1].kind, PROC_EV_SCORED);
	assert_int_equal(ev.ev[1].offer, 11);
	assert_int_equal(ev.ev[1].crit, 2);
	assert_int_equal(ev.ev[1].score, 7);
	ev.n = 0;
	assert_int_equal(proc_score(&pr, 12, 2, 5, AFTER, &ev), PROC_OK);
	assert_int_equal(ev_kinds(&ev), EVB(PROC_EV_SCORED));
	ev.n = 0;
	assert_int_equal(proc_score(&pr, 12, 1, 5, AFTER, &ev), PROC_E_SCORE);
	assert_int_equal(ev.n, 0);
	proc_free(&pr);

	setup(&pr, PROC_RFQ, 1, lots, 2);
	submit_ok(&pr, 1, ALPHA, 11, 5000, NULL, ENQ);
	submit_ok(&pr, 2, BETA, 21, 5000, NULL, ENQ);
	proc_advance(&pr, OPEN, NULL);
	ev.n = 0;
	assert_int_equal(proc_award(&pr, 1, 11, AFTER, &ev), PROC_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, PROC_EV_EVALUATION);
	assert_int_equal(ev.ev[1].kind, PROC_EV_AWARDED);
	assert_int_equal(ev.ev[1].lot, 1);
	assert_int_equal(ev.ev[1].offer, 11);
	assert_int_equal(ev.ev[1].org, ALPHA);
	ev.n = 0;
	assert_int_equal(proc_disqualify(&pr, 2, 21, AFTER + 1, &ev), PROC_OK);
	assert_int_equal(ev.n, 3);
	assert_int_equal(ev.ev[0].kind, PROC_EV_DISQUALIFIED);
	assert_int_equal(ev.ev[0].offer, 21);
	assert_int_equal(ev.ev[1].kind, PROC_EV_LOT_UNSUCCESSFUL);
	assert_int_equal(ev.ev[1].lot, 2);
	assert_int_equal(ev.ev[2].kind, PROC_EV_DECIDED);
	assert_int_equal(ev.ev[2].state, PROC_AWARDED);
	assert_int_equal(ev.ev[2].at, AFTER + 1);
	ev.n = 0;
	assert_int_equal(proc_complete(&pr, AFTER + 2, &ev), PROC_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, PROC_EV_COMPLETED);
	assert_int_equal(ev.ev[0].state, PROC_COMPLETE);
	proc_free(&pr);
}

/* A tender_auction lot's auction result; a cancellation after the clock's transitions. */
static void test_events_auction_result_cancel(void **state)
{
	struct procedure pr;
	struct proc_lot l = lot_price(1, MAXP);
	struct proc_events ev = { 0 };
	int64_t orgs[2] = { BETA, ALPHA };

	(void)state;
	setup(&pr, PROC_TENDER_AUCTION, 2, &l, 1);
	submit_ok(&pr, 1, ALPHA, 11, 5000, NULL, ENQ);
	submit_ok(&pr, 1, BETA, 12, 6000, NULL, ENQ);
	proc_advance(&pr, OPEN, NULL);
	assert_int_equal(proc_auction_result(&pr, 1, orgs, 2, AFTER, &ev), PROC_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, PROC_EV_EVALUATION);
	assert_int_equal(ev.ev[1].kind, PROC_EV_AUCTION_RESULT);
	assert_int_equal(ev.ev[1].lot, 1);
	ev.n = 0;
	assert_int_equal(proc_cancel(&pr, AFTER + 1, &ev), PROC_OK);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, PROC_EV_CANCELLED);
	assert_int_equal(ev.ev[0].at, AFTER + 1);
	assert_int_equal(ev.ev[0].state, PROC_CANCELLED);
	proc_free(&pr);

	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, ALPHA, 11, 5000, NULL, ENQ);
	ev.n = 0;
	assert_int_equal(proc_cancel(&pr, OPEN, &ev), PROC_OK);
	assert_int_equal(ev_kinds(&ev), EVB(PROC_EV_OPENED) | EVB(PROC_EV_CANCELLED));
	assert_int_equal(ev.ev[ev.n - 1].kind, PROC_EV_CANCELLED);
	/* refused: nothing more */
	ev.n = 0;
	assert_int_equal(proc_cancel(&pr, OPEN + 1, &ev), PROC_E_STATE);
	assert_int_equal(ev.n, 0);
	proc_free(&pr);
}

/* The most lots fit one list; a full list counts what it could not hold. */
static void test_events_capacity(void **state)
{
	struct procedure pr;
	struct proc_lot lots[PROC_MAX_LOTS];
	struct proc_events ev = { 0 };

	(void)state;
	for (int i = 0; i < PROC_MAX_LOTS; i++)
		lots[i] = lot_price(i + 1, MAXP);
	setup(&pr, PROC_RFQ, 1, lots, PROC_MAX_LOTS);
	assert_int_equal(proc_advance(&pr, OPEN, &ev), PROC_MAX_LOTS + 3);
	assert_int_equal(ev.n, PROC_MAX_LOTS + 3);
	assert_int_equal(ev.dropped, 0);
	assert_int_equal(ev.ev[ev.n - 1].kind, PROC_EV_DECIDED);
	proc_free(&pr);

	setup(&pr, PROC_RFQ, 1, lots, PROC_MAX_LOTS);
	ev.n = PROC_EVENTS_MAX - 2;
	ev.dropped = 0;
	assert_int_equal(proc_advance(&pr, OPEN, &ev), PROC_MAX_LOTS + 3);
	assert_int_equal(ev.n, PROC_EVENTS_MAX);
	assert_int_equal(ev.dropped, PROC_MAX_LOTS + 1);
	assert_string_equal(proc_ev_name(PROC_EV_LOT_UNSUCCESSFUL), "lot_unsuccessful");
	assert_string_equal(proc_ev_name(PROC_EV_COMPLETED), "completed");
	assert_string_equal(proc_ev_name((enum proc_ev)PROC_EV_KINDS), "unknown");
	proc_free(&pr);
}

/* Restored to a copy taken before, the same calls report the same events. */
static void test_events_rollback(void **state)
{
	struct procedure pr, mark;
	struct proc_events first = { 0 }, again = { 0 };

	(void)state;
	setup_rfq(&pr, 1);
	submit_ok(&pr, 1, ALPHA, 11, 5000, NULL, ENQ);
	submit_ok(&pr, 1, BETA, 12, 4000, NULL, ENQ + 1);
	assert_int_equal(proc_copy(&mark, &pr), 0);
	assert_int_equal(proc_award(&pr, 1, 12, AFTER, &first), PROC_OK);
	assert_int_equal(ev_kinds(&first), EVB(PROC_EV_OPENED) | EVB(PROC_EV_EVALUATION) |
	    EVB(PROC_EV_AWARDED) | EVB(PROC_EV_DECIDED));
	proc_free(&pr);
	pr = mark;
	assert_int_equal(pr.state, PROC_TENDERING);
	assert_int_equal(proc_award(&pr, 1, 12, AFTER, &again), PROC_OK);
	assert_int_equal(again.n, first.n);
	assert_memory_equal(again.ev, first.ev, sizeof(first.ev[0]) * (size_t)first.n);
	proc_free(&pr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_valid),
		cmocka_unit_test(test_events_lifecycle),
		cmocka_unit_test(test_events_offers),
		cmocka_unit_test(test_events_evaluation),
		cmocka_unit_test(test_events_auction_result_cancel),
		cmocka_unit_test(test_events_capacity),
		cmocka_unit_test(test_events_rollback),
		cmocka_unit_test(test_check_invalid),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_advance),
		cmocka_unit_test(test_submit_timing),
		cmocka_unit_test(test_submit_refusals),
		cmocka_unit_test(test_revise_withdraw),
		cmocka_unit_test(test_amend),
		cmocka_unit_test(test_amend_refusals),
		cmocka_unit_test(test_opening_needs_confirm),
		cmocka_unit_test(test_min_bids),
		cmocka_unit_test(test_all_unsuccessful),
		cmocka_unit_test(test_rfq_ranking_award),
		cmocka_unit_test(test_award_refusals),
		cmocka_unit_test(test_disqualify_chain),
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_formula_edges),
		cmocka_unit_test(test_tender_ties),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_tender_auction),
		cmocka_unit_test(test_tender_auction_engine),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_nomem),
		cmocka_unit_test(test_random_ranking),
		cmocka_unit_test(test_evaluate_bounds),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
