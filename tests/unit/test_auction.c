/* Unit tests of the live reverse auction engine (auction/auction.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <cmocka.h>

#include "auction/auction.h"

/* Test parameters: 1000.00 start price, steps 5.00 - 50.00, 10 minutes, 2-minute window, 3-minute extension. */
#define BUYER   100
#define START   100000
#define STEPMIN 500
#define STEPMAX 5000
#define T0      1800000000000LL
#define DUR     600000
#define T1      (T0 + DUR)
#define WIN     120000
#define EXT     180000

/* Number of realloc() calls still to succeed before one fails; 0 disables failures. */
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

/* The parameters most tests use. */
static struct auction_params params_default(void)
{
	struct auction_params p = {
		.buyer_org = BUYER,
		.start_price = START,
		.step_min = STEPMIN,
		.step_max = STEPMAX,
		.starts_at = T0,
		.ends_at = T1,
		.ext_window = WIN,
		.ext_length = EXT,
	};
	return p;
}

/* Initialise `a` with the default parameters. */
static void auction_setup(struct auction *a)
{
	struct auction_params p = params_default();

	assert_null(auction_params_check(&p));
	auction_init(a, 7, &p);
}

/* What the events of an accepted bid say (the tests' view of AUCTION_EV_BID and
 * AUCTION_EV_EXTENDED). */
struct bid_result {
	int64_t seq;
	int rank;
	int64_t best;
	int took_lead;
	int extended;
	int64_t ends_at;
};

/* Bit of an event kind, for comparing the kinds a call reported. */
#define EVB(kind) (1 << (kind))

/* The kinds of the events in a list, as EVB bits (each kind at most once). */
static int ev_kinds(const struct auction_events *ev)
{
	int k = 0;

	for (int i = 0; i < ev->n; i++) {
		assert_int_equal(k & EVB(ev->ev[i].kind), 0);
		k |= EVB(ev->ev[i].kind);
	}
	return k;
}

/* auction_bid, its events read into `r` (left alone on refusal). */
static enum auction_err bid_into(struct auction *a, int64_t id, int64_t org, int64_t amount,
    int64_t now, struct bid_result *r)
{
	struct auction_events ev = { 0 };
	enum auction_err e = auction_bid(a, id, org, amount, now, &ev);
	const struct auction_event *b = auction_events_find(&ev, AUCTION_EV_BID);

	assert_int_equal(ev.dropped, 0);
	if (e != AUCTION_OK) {
		assert_null(b);
		return e;
	}
	assert_non_null(b);
	assert_int_equal(b->bid_id, id);
	assert_int_equal(b->org, org);
	assert_int_equal(b->amount, amount);
	assert_int_equal(b->at, now);
	r->seq = b->seq;
	r->rank = b->rank;
	r->best = b->best;
	r->took_lead = b->took_lead;
	r->ends_at = b->ends_at;
	r->extended = auction_events_find(&ev, AUCTION_EV_EXTENDED) != NULL;
	return e;
}

/* auction_advance, returning the EVB bits of the events it reported. */
static int advance_kinds(struct auction *a, int64_t now)
{
	struct auction_events ev = { 0 };
	int n = auction_advance(a, now, &ev);

	assert_int_equal(n, ev.n);
	return ev_kinds(&ev);
}

/* Place a bid that must be accepted; returns its result. */
static struct bid_result bid_ok(struct auction *a, int64_t org, int64_t amount, int64_t now)
{
	struct bid_result r;

	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(bid_into(a, (int64_t)a->nbids + 1000, org, amount, now, &r), AUCTION_OK);
	return r;
}

/* Check every structural invariant of the standings against the bid log. */
static void check_invariants(const struct auction *a)
{
	char *seen = calloc(a->nentries + 1, 1);

	assert_non_null(seen);
	assert_true(a->nbids <= a->capbids || a->nbids == 0);
	assert_true(a->nentries <= a->capentries || a->nentries == 0);
	for (size_t i = 0; i < a->nbids; i++)
		assert_int_equal(a->bids[i].seq, (int64_t)i + 1);
	for (size_t i = 0; i < a->nentries; i++) {
		const struct auction_entry *e = &a->entries[i];
		const struct auction_bid *b = &a->bids[e->bid_index];
		size_t first = a->nbids, last = 0;

		assert_int_equal(e->alias, (int)i + 1);
		assert_true(e->bid_index < a->nbids);
		assert_int_equal(b->org, e->org);
		assert_int_equal(b->amount, e->amount);
		assert_int_equal(b->seq, e->seq);
		assert_int_equal(b->at, e->at);
		for (size_t j = 0; j < a->nbids; j++) {
			if (a->bids[j].org != e->org)
				continue;
			if (first == a->nbids)
				first = j;
			last = j;
			assert_true(a->bids[j].amount >= e->amount);
		}
		assert_int_equal(last, e->bid_index);
		/* Aliases follow the order of first bids. */
		if (i > 0)
			assert_true(a->entries[i - 1].org != e->org);
		for (size_t k = 0; k < i; k++) {
			size_t fk = a->nbids;

			for (size_t j = 0; j < a->nbids; j++)
				if (a->bids[j].org == a->entries[k].org) {
					fk = j;
					break;
				}
			assert_true(fk < first);
		}
	}
	for (size_t i = 0; i < a->nentries; i++) {
		assert_true(a->rank[i] < a->nentries);
		assert_false(seen[a->rank[i]]);
		seen[a->rank[i]] = 1;
		if (i > 0) {
			const struct auction_entry *x = &a->entries[a->rank[i - 1]];
			const struct auction_entry *y = &a->entries[a->rank[i]];

			assert_true(x->amount < y->amount || (x->amount == y->amount && x->seq < y->seq));
		}
		assert_int_equal(auction_rank_of(a, a->entries[a->rank[i]].org), (int)i + 1);
		assert_ptr_equal(auction_at_rank(a, (int)i + 1), &a->entries[a->rank[i]]);
	}
	assert_int_equal(auction_best(a), a->nentries ? a->entries[a->rank[0]].amount : -1);
	free(seen);
}

/* Whether two auctions have identical bids, standings and scalar state. */
static void assert_same_auction(const struct auction *x, const struct auction *y)
{
	assert_int_equal(x->state, y->state);
	assert_int_equal(x->ends_at, y->ends_at);
	assert_int_equal(x->extensions, y->extensions);
	assert_int_equal(x->closed_at, y->closed_at);
	assert_int_equal(x->nbids, y->nbids);
	assert_int_equal(x->nentries, y->nentries);
	for (size_t i = 0; i < x->nbids; i++) {
		assert_int_equal(x->bids[i].id, y->bids[i].id);
		assert_int_equal(x->bids[i].seq, y->bids[i].seq);
		assert_int_equal(x->bids[i].org, y->bids[i].org);
		assert_int_equal(x->bids[i].amount, y->bids[i].amount);
		assert_int_equal(x->bids[i].at, y->bids[i].at);
	}
	for (size_t i = 0; i < x->nentries; i++) {
		assert_int_equal(x->entries[i].org, y->entries[i].org);
		assert_int_equal(x->entries[i].alias, y->entries[i].alias);
		assert_int_equal(x->entries[i].amount, y->entries[i].amount);
		assert_int_equal(x->entries[i].seq, y->entries[i].seq);
		assert_int_equal(x->entries[i].at, y->entries[i].at);
		assert_int_equal(x->entries[i].bid_index, y->entries[i].bid_index);
		assert_int_equal(x->rank[i], y->rank[i]);
	}
}

/* A deep copy of an auction's arrays and scalars, for before/after comparisons. */
static void auction_copy(struct auction *dst, const struct auction *src)
{
	*dst = *src;
	dst->bids = malloc((src->nbids + 1) * sizeof(*dst->bids));
	dst->entries = malloc((src->nentries + 1) * sizeof(*dst->entries));
	dst->rank = malloc((src->nentries + 1) * sizeof(*dst->rank));
	assert_non_null(dst->bids);
	assert_non_null(dst->entries);
	assert_non_null(dst->rank);
	if (src->nbids)
		memcpy(dst->bids, src->bids, src->nbids * sizeof(*dst->bids));
	if (src->nentries) {
		memcpy(dst->entries, src->entries, src->nentries * sizeof(*dst->entries));
		memcpy(dst->rank, src->rank, src->nentries * sizeof(*dst->rank));
	}
	dst->capbids = src->nbids + 1;
	dst->capentries = src->nentries + 1;
}

/* Valid parameters pass, including every boundary that is just allowed. */
static void test_params_valid(void **state)
{
	struct auction_params p = params_default();

	(void)state;
	assert_null(auction_params_check(&p));
	p.step_min = START - 1;
	p.step_max = START - 1;
	assert_null(auction_params_check(&p));
	p = params_default();
	p.step_min = 1;
	p.step_max = 1;
	assert_null(auction_params_check(&p));
	p.step_max = START * 10;
	assert_null(auction_params_check(&p));
	p = params_default();
	p.ends_at = p.starts_at + 1;
	assert_null(auction_params_check(&p));
	p = params_default();
	p.ext_window = 0;
	p.ext_length = 0;
	assert_null(auction_params_check(&p));
	p.ext_window = 0;
	p.ext_length = 5;
	assert_null(auction_params_check(&p));
	p = params_default();
	p.start_price = 2;
	p.step_min = 1;
	p.step_max = 1;
	assert_null(auction_params_check(&p));
}

/* Each invalid parameter is refused with its own message. */
static void test_params_invalid(void **state)
{
	struct auction_params p;
	const char *msgs[16];
	int n = 0;

	(void)state;
	assert_non_null(auction_params_check(NULL));

	p = params_default(); p.start_price = 0;
	assert_non_null(msgs[n++] = auction_params_check(&p));
	p = params_default(); p.start_price = -5;
	assert_non_null(auction_params_check(&p));
	p = params_default(); p.step_min = 0;
	assert_non_null(msgs[n++] = auction_params_check(&p));
	p = params_default(); p.step_min = -1;
	assert_non_null(auction_params_check(&p));
	p = params_default(); p.step_max = STEPMIN - 1;
	assert_non_null(msgs[n++] = auction_params_check(&p));
	p = params_default(); p.step_min = START; p.step_max = START;
	assert_non_null(msgs[n++] = auction_params_check(&p));
	p = params_default(); p.step_min = START + 1; p.step_max = START + 1;
	assert_non_null(auction_params_check(&p));
	p = params_default(); p.ends_at = p.starts_at;
	assert_non_null(msgs[n++] = auction_params_check(&p));
	p = params_default(); p.ends_at = p.starts_at - 1;
	assert_non_null(auction_params_check(&p));
	p = params_default(); p.ext_window = -1;
	assert_non_null(msgs[n++] = auction_params_check(&p));
	p = params_default(); p.ext_length = -1;
	assert_non_null(msgs[n++] = auction_params_check(&p));
	p = params_default(); p.ext_window = 0; p.ext_length = -1;
	assert_non_null(auction_params_check(&p));
	p = params_default(); p.ext_length = 0;
	assert_non_null(msgs[n++] = auction_params_check(&p));

	/* Every failure has a distinct, non-empty message. */
	for (int i = 0; i < n; i++) {
		assert_true(strlen(msgs[i]) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(msgs[i], msgs[j]);
	}
}

/* A fresh auction is scheduled, empty, and waits for its start. */
static void test_init(void **state)
{
	struct auction a;

	(void)state;
	auction_setup(&a);
	assert_int_equal(a.id, 7);
	assert_int_equal(a.state, AUCTION_SCHEDULED);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(a.extensions, 0);
	assert_int_equal(a.closed_at, 0);
	assert_int_equal(a.nbids, 0);
	assert_int_equal(a.nentries, 0);
	assert_int_equal(auction_best(&a), -1);
	assert_int_equal(auction_rank_of(&a, 1), 0);
	assert_null(auction_entry_of(&a, 1));
	assert_null(auction_at_rank(&a, 1));
	assert_null(auction_at_rank(&a, 0));
	assert_null(auction_at_rank(&a, -1));
	assert_int_equal(auction_next_deadline(&a), T0);
	auction_free(&a);
	/* Freeing twice is harmless. */
	auction_free(&a);
}

/* advance() starts at starts_at and closes at ends_at, one step at a time or both at once. */
static void test_advance(void **state)
{
	struct auction a;

	(void)state;
	auction_setup(&a);
	assert_int_equal(advance_kinds(&a, T0 - 1), 0);
	assert_int_equal(a.state, AUCTION_SCHEDULED);
	assert_int_equal(advance_kinds(&a, T0), EVB(AUCTION_EV_STARTED));
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(advance_kinds(&a, T0), 0);
	assert_int_equal(advance_kinds(&a, T1 - 1), 0);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(advance_kinds(&a, T1), EVB(AUCTION_EV_CLOSED));
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T1);
	assert_int_equal(advance_kinds(&a, T1 + 1), 0);
	assert_int_equal(a.closed_at, T1);
	auction_free(&a);

	/* Both transitions in one call, long after the end: closed_at is the end, not now. */
	auction_setup(&a);
	assert_int_equal(advance_kinds(&a, T1 + 86400000LL * 30), EVB(AUCTION_EV_STARTED) | EVB(AUCTION_EV_CLOSED));
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T1);
	auction_free(&a);

	/* Time going backwards never reopens or unstarts. */
	auction_setup(&a);
	auction_advance(&a, T0 + 5, NULL);
	assert_int_equal(advance_kinds(&a, T0 - 1000), 0);
	assert_int_equal(a.state, AUCTION_RUNNING);
	auction_free(&a);
}

/* An extended auction closes at its extended end even when advanced much later. */
static void test_advance_after_extension(void **state)
{
	struct auction a;
	struct bid_result r;

	(void)state;
	auction_setup(&a);
	r = bid_ok(&a, 1, START - STEPMIN, T1 - 1000);
	assert_true(r.extended);
	assert_int_equal(r.ends_at, T1 - 1000 + EXT);
	assert_int_equal(advance_kinds(&a, T1), 0);
	assert_int_equal(advance_kinds(&a, T1 - 1000 + EXT - 1), 0);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(advance_kinds(&a, T1 + 3600000), EVB(AUCTION_EV_CLOSED));
	assert_int_equal(a.closed_at, T1 - 1000 + EXT);
	assert_int_equal(auction_best(&a), START - STEPMIN);
	auction_free(&a);
}

/* next_deadline() is starts_at, then the current end, then none. */
static void test_next_deadline(void **state)
{
	struct auction a;

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_next_deadline(&a), T0);
	auction_advance(&a, T0, NULL);
	assert_int_equal(auction_next_deadline(&a), T1);
	bid_ok(&a, 1, START - STEPMIN, T1 - 10);
	assert_int_equal(auction_next_deadline(&a), T1 - 10 + EXT);
	auction_advance(&a, T1 - 10 + EXT, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(auction_next_deadline(&a), -1);
	auction_free(&a);

	auction_setup(&a);
	assert_int_equal(auction_cancel(&a, T0 - 5, NULL), 0);
	assert_int_equal(auction_next_deadline(&a), -1);
	auction_free(&a);
}

/* Bids before the start, at the end exactly and after it are refused; the edges inside are accepted. */
static void test_bid_timing(void **state)
{
	struct auction a;
	struct auction_params p = params_default();

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0 - 1, NULL), AUCTION_E_NOT_STARTED);
	assert_int_equal(a.state, AUCTION_SCHEDULED);
	assert_int_equal(a.nbids, 0);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_OK);
	assert_int_equal(a.state, AUCTION_RUNNING);
	auction_free(&a);

	/* Without extensions: the last millisecond is open, the end itself is not. */
	p.ext_window = 0;
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T1 - 1, NULL), AUCTION_OK);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T1, NULL), AUCTION_E_ENDED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T1);
	assert_int_equal(a.nbids, 1);
	assert_int_equal(auction_bid(&a, 3, 2, START - 2 * STEPMIN, T1 + 1, NULL), AUCTION_E_ENDED);
	auction_free(&a);

	/* A bid long after the end on an auction nobody advanced. */
	auction_init(&a, 1, &p);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T1 + 1000000, NULL), AUCTION_E_ENDED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T1);
	auction_free(&a);
}

/* Cancellation from each state, and what it does to later bids and advances. */
static void test_cancel(void **state)
{
	struct auction a;

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_cancel(&a, T0 - 50, NULL), 0);
	assert_int_equal(a.state, AUCTION_CANCELLED);
	assert_int_equal(a.closed_at, T0 - 50);
	assert_int_equal(auction_cancel(&a, T0, NULL), -1);
	assert_int_equal(a.closed_at, T0 - 50);
	assert_int_equal(advance_kinds(&a, T1 + 1), 0);
	assert_int_equal(a.state, AUCTION_CANCELLED);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0 + 1, NULL), AUCTION_E_CANCELLED);
	auction_free(&a);

	auction_setup(&a);
	bid_ok(&a, 1, START - STEPMIN, T0 + 10);
	assert_int_equal(auction_cancel(&a, T0 + 20, NULL), 0);
	assert_int_equal(a.closed_at, T0 + 20);
	/* Cancelled is reported before every other reason. */
	assert_int_equal(auction_bid(&a, 1, BUYER, -5, T1 + 10, NULL), AUCTION_E_CANCELLED);
	assert_int_equal(auction_bid(&a, 1, 2, START, T0 - 10, NULL), AUCTION_E_CANCELLED);
	assert_int_equal(a.nbids, 1);
	assert_int_equal(auction_best(&a), START - STEPMIN);
	auction_free(&a);

	/* A closed auction cannot be cancelled. */
	auction_setup(&a);
	auction_advance(&a, T1, NULL);
	assert_int_equal(auction_cancel(&a, T1 + 1, NULL), -1);
	assert_int_equal(a.state, AUCTION_CLOSED);
	auction_free(&a);

	/* Nor one whose end has passed though nobody advanced it: it closes with its result. */
	auction_setup(&a);
	bid_ok(&a, 1, START - STEPMIN, T0 + 10);
	assert_int_equal(auction_cancel(&a, T1 + 5, NULL), -1);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_int_equal(a.closed_at, T1);
	auction_free(&a);

	/* Cancelling at the last millisecond still works. */
	auction_setup(&a);
	assert_int_equal(auction_cancel(&a, T1 - 1, NULL), 0);
	assert_int_equal(a.state, AUCTION_CANCELLED);
	auction_free(&a);
}

/* Refusals come in the documented order. */
static void test_refusal_order(void **state)
{
	struct auction a;

	(void)state;
	auction_setup(&a);
	/* Not started beats own auction and bad amounts. */
	assert_int_equal(auction_bid(&a, 1, BUYER, 0, T0 - 1, NULL), AUCTION_E_NOT_STARTED);
	/* Own auction beats bad amounts. */
	assert_int_equal(auction_bid(&a, 1, BUYER, 0, T0, NULL), AUCTION_E_OWN_AUCTION);
	assert_int_equal(auction_bid(&a, 1, BUYER, START - STEPMIN, T0, NULL), AUCTION_E_OWN_AUCTION);
	/* Not positive, then not below start. */
	assert_int_equal(auction_bid(&a, 1, 1, 0, T0, NULL), AUCTION_E_NOT_POSITIVE);
	assert_int_equal(auction_bid(&a, 1, 1, -1, T0, NULL), AUCTION_E_NOT_POSITIVE);
	assert_int_equal(auction_bid(&a, 1, 1, INT64_MIN, T0, NULL), AUCTION_E_NOT_POSITIVE);
	assert_int_equal(auction_bid(&a, 1, 1, START, T0, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_bid(&a, 1, 1, START + 1, T0, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_bid(&a, 1, 1, INT64_MAX, T0, NULL), AUCTION_E_NOT_BELOW_START);
	bid_ok(&a, 1, START - STEPMIN, T0 + 1);
	/* Not below own beats while leading. */
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0 + 2, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN - 1, T0 + 2, NULL), AUCTION_E_WHILE_LEADING);
	/* Not below start beats not below own. */
	assert_int_equal(auction_bid(&a, 1, 1, START, T0 + 2, NULL), AUCTION_E_NOT_BELOW_START);
	/* Ended beats own auction. */
	assert_int_equal(auction_bid(&a, 1, BUYER, 1, T1 + EXT, NULL), AUCTION_E_ENDED);
	assert_int_equal(a.nbids, 1);
	auction_free(&a);
}

/* The first bid is measured from the start price: exact steps pass, one unit beyond fails. */
static void test_first_bid_steps(void **state)
{
	struct auction a;
	struct bid_result r;

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN + 1, T0, NULL), AUCTION_E_STEP_TOO_SMALL);
	assert_int_equal(auction_bid(&a, 1, 1, START - 1, T0, NULL), AUCTION_E_STEP_TOO_SMALL);
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMAX - 1, T0, NULL), AUCTION_E_STEP_TOO_LARGE);
	assert_int_equal(auction_bid(&a, 1, 1, 1, T0, NULL), AUCTION_E_STEP_TOO_LARGE);
	assert_int_equal(a.nbids, 0);
	assert_int_equal(a.nentries, 0);
	r = bid_ok(&a, 1, START - STEPMIN, T0);
	assert_int_equal(r.seq, 1);
	assert_int_equal(r.rank, 1);
	assert_int_equal(r.best, START - STEPMIN);
	assert_true(r.took_lead);
	assert_false(r.extended);
	assert_int_equal(r.ends_at, T1);
	auction_free(&a);

	auction_setup(&a);
	r = bid_ok(&a, 1, START - STEPMAX, T0);
	assert_int_equal(r.best, START - STEPMAX);
	auction_free(&a);
}

/* Later lead-taking bids are measured from the best price. */
static void test_steps_from_best(void **state)
{
	struct auction a;
	struct bid_result r;
	int64_t best = START - 2000;

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, best, T0 + 1);
	assert_int_equal(auction_bid(&a, 1, 2, best - STEPMIN + 1, T0 + 2, NULL), AUCTION_E_STEP_TOO_SMALL);
	assert_int_equal(auction_bid(&a, 1, 2, best - 1, T0 + 2, NULL), AUCTION_E_STEP_TOO_SMALL);
	assert_int_equal(auction_bid(&a, 1, 2, best - STEPMAX - 1, T0 + 2, NULL), AUCTION_E_STEP_TOO_LARGE);
	r = bid_ok(&a, 2, best - STEPMAX, T0 + 3);
	assert_true(r.took_lead);
	assert_int_equal(r.rank, 1);
	best -= STEPMAX;
	r = bid_ok(&a, 3, best - STEPMIN, T0 + 4);
	assert_true(r.took_lead);
	assert_int_equal(r.best, best - STEPMIN);
	/* The former leaders may take the lead back, measured from the new best. */
	best -= STEPMIN;
	assert_int_equal(auction_bid(&a, 1, 1, best - STEPMIN + 1, T0 + 5, NULL), AUCTION_E_STEP_TOO_SMALL);
	r = bid_ok(&a, 1, best - STEPMIN, T0 + 5);
	assert_int_equal(r.rank, 1);
	assert_int_equal(auction_rank_of(&a, 3), 2);
	assert_int_equal(auction_rank_of(&a, 2), 3);
	check_invariants(&a);
	auction_free(&a);
}

/* A bid at or above the best price improves the bidder's rank without any step rule. */
static void test_rank_improvement(void **state)
{
	struct auction a;
	struct bid_result r;
	int64_t best = START - STEPMIN;

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, best, T0 + 1);
	r = bid_ok(&a, 2, START - 1, T0 + 2);
	assert_false(r.took_lead);
	assert_int_equal(r.rank, 2);
	assert_int_equal(r.best, best);
	r = bid_ok(&a, 3, START - 10, T0 + 3);
	assert_int_equal(r.rank, 2);
	assert_int_equal(auction_rank_of(&a, 2), 3);
	/* One minor unit of improvement is enough to stay in place or pass someone. */
	r = bid_ok(&a, 2, START - 11, T0 + 4);
	assert_int_equal(r.rank, 2);
	assert_int_equal(auction_rank_of(&a, 3), 3);
	/* A large jump that still stays at or above the best is not a step. */
	r = bid_ok(&a, 3, best + 1, T0 + 5);
	assert_int_equal(r.rank, 2);
	assert_false(r.took_lead);
	assert_int_equal(r.best, best);
	/* No extension for bids that do not take the lead, even inside the window. */
	r = bid_ok(&a, 2, best, T1 - 10);
	assert_int_equal(r.rank, 2);
	assert_false(r.took_lead);
	assert_false(r.extended);
	assert_int_equal(r.ends_at, T1);
	assert_int_equal(a.extensions, 0);
	check_invariants(&a);
	auction_free(&a);
}

/* Equal amounts rank by sequence: the earlier bid first. */
static void test_ties(void **state)
{
	struct auction a;
	struct bid_result r;
	int64_t best = START - STEPMIN;

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, best, T0 + 1);
	r = bid_ok(&a, 2, best, T0 + 2);
	assert_false(r.took_lead);
	assert_int_equal(r.rank, 2);
	r = bid_ok(&a, 3, best + 100, T0 + 3);
	assert_int_equal(r.rank, 3);
	r = bid_ok(&a, 3, best, T0 + 4);
	assert_int_equal(r.rank, 3);
	assert_int_equal(auction_at_rank(&a, 1)->org, 1);
	assert_int_equal(auction_at_rank(&a, 2)->org, 2);
	assert_int_equal(auction_at_rank(&a, 3)->org, 3);
	/* Same amount, same millisecond: the sequence still decides. */
	r = bid_ok(&a, 4, best + 50, T0 + 4);
	assert_int_equal(r.rank, 4);
	r = bid_ok(&a, 5, best + 50, T0 + 4);
	assert_int_equal(r.rank, 5);
	/* Rank 2 is not the leader and may bid the same tie lower, taking the lead. */
	r = bid_ok(&a, 2, best - STEPMIN, T0 + 5);
	assert_true(r.took_lead);
	assert_int_equal(r.rank, 1);
	assert_int_equal(auction_rank_of(&a, 1), 2);
	assert_int_equal(auction_rank_of(&a, 3), 3);
	check_invariants(&a);
	auction_free(&a);
}

/* The leader may not lower its price; once overtaken it may again. */
static void test_leader_refused(void **state)
{
	struct auction a;
	int64_t best = START - STEPMIN;

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, best, T0 + 1);
	assert_int_equal(auction_bid(&a, 9, 1, best - STEPMIN, T0 + 2, NULL), AUCTION_E_WHILE_LEADING);
	assert_int_equal(auction_bid(&a, 9, 1, best - 1, T0 + 2, NULL), AUCTION_E_WHILE_LEADING);
	/* Tied with a later bidder, the earlier one still leads. */
	bid_ok(&a, 2, best, T0 + 3);
	assert_int_equal(auction_bid(&a, 9, 1, best - STEPMIN, T0 + 4, NULL), AUCTION_E_WHILE_LEADING);
	bid_ok(&a, 2, best - STEPMIN, T0 + 5);
	assert_int_equal(auction_bid(&a, 9, 2, best - 2 * STEPMIN, T0 + 6, NULL), AUCTION_E_WHILE_LEADING);
	bid_ok(&a, 1, best - 2 * STEPMIN, T0 + 6);
	assert_int_equal(a.nbids, 4);
	auction_free(&a);
}

/* A bidder may not bid at or above its own previous price. */
static void test_own_bid_rule(void **state)
{
	struct auction a;
	int64_t best = START - STEPMIN;

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, best, T0 + 1);
	bid_ok(&a, 2, START - 100, T0 + 2);
	assert_int_equal(auction_bid(&a, 9, 2, START - 100, T0 + 3, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_bid(&a, 9, 2, START - 99, T0 + 3, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_bid(&a, 9, 2, START - 101, T0 + 3, NULL), AUCTION_OK);
	assert_int_equal(auction_entry_of(&a, 2)->amount, START - 101);
	assert_int_equal(auction_entry_of(&a, 2)->seq, 3);
	assert_int_equal(auction_entry_of(&a, 2)->bid_index, 2);
	assert_int_equal(auction_entry_of(&a, 2)->at, T0 + 3);
	assert_int_equal(auction_entry_of(&a, 2)->alias, 2);
	auction_free(&a);
}

/* The buyer's organization may never bid, whatever the amount. */
static void test_buyer_refused(void **state)
{
	struct auction a;

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_bid(&a, 1, BUYER, START - STEPMIN, T0 + 1, NULL), AUCTION_E_OWN_AUCTION);
	bid_ok(&a, 1, START - STEPMIN, T0 + 2);
	assert_int_equal(auction_bid(&a, 1, BUYER, START - 2 * STEPMIN, T0 + 3, NULL), AUCTION_E_OWN_AUCTION);
	assert_int_equal(auction_rank_of(&a, BUYER), 0);
	assert_int_equal(a.nbids, 1);
	auction_free(&a);
}

/* Extension inside the window, outside it, exactly at its edge, and never shortening. */
static void test_extension(void **state)
{
	struct auction a;
	struct auction_params p;
	struct bid_result r;
	int64_t best = START;

	(void)state;
	auction_setup(&a);
	/* One millisecond outside the window: no extension. */
	r = bid_ok(&a, 1, best -= STEPMIN, T1 - WIN - 1);
	assert_false(r.extended);
	assert_int_equal(r.ends_at, T1);
	assert_int_equal(a.extensions, 0);
	/* Exactly at the window's edge: extended to now + EXT. */
	r = bid_ok(&a, 2, best -= STEPMIN, T1 - WIN);
	assert_true(r.extended);
	assert_int_equal(r.ends_at, T1 - WIN + EXT);
	assert_int_equal(a.ends_at, T1 - WIN + EXT);
	assert_int_equal(a.extensions, 1);
	/* A bid after the scheduled end but before the new end is accepted and extends again. */
	r = bid_ok(&a, 1, best -= STEPMIN, T1 + 10);
	assert_true(r.extended);
	assert_int_equal(r.ends_at, T1 + 10 + EXT);
	assert_int_equal(a.extensions, 2);
	/* The last millisecond of an extension. */
	r = bid_ok(&a, 2, best -= STEPMIN, T1 + 10 + EXT - 1);
	assert_true(r.extended);
	assert_int_equal(a.extensions, 3);
	assert_int_equal(auction_next_deadline(&a), T1 + 10 + 2 * EXT - 1);
	auction_free(&a);

	/* Extension shorter than the window: it never moves the end backwards. */
	p = params_default();
	p.ext_window = 300000;
	p.ext_length = 60000;
	auction_init(&a, 1, &p);
	best = START;
	r = bid_ok(&a, 1, best -= STEPMIN, T1 - 200000);
	assert_false(r.extended);
	assert_int_equal(r.ends_at, T1);
	assert_int_equal(a.extensions, 0);
	/* now + ext_length equal to the end: no change, no extension counted. */
	r = bid_ok(&a, 2, best -= STEPMIN, T1 - 60000);
	assert_false(r.extended);
	assert_int_equal(a.extensions, 0);
	r = bid_ok(&a, 1, best -= STEPMIN, T1 - 59999);
	assert_true(r.extended);
	assert_int_equal(r.ends_at, T1 + 1);
	assert_int_equal(a.extensions, 1);
	auction_free(&a);

	/* Window 0 disables extensions. */
	p = params_default();
	p.ext_window = 0;
	auction_init(&a, 1, &p);
	r = bid_ok(&a, 1, START - STEPMIN, T1 - 1);
	assert_false(r.extended);
	assert_int_equal(a.ends_at, T1);
	auction_free(&a);

	/* A huge extension length saturates instead of overflowing. */
	p = params_default();
	p.ext_length = INT64_MAX;
	auction_init(&a, 1, &p);
	r = bid_ok(&a, 1, START - STEPMIN, T1 - 1);
	assert_true(r.extended);
	assert_int_equal(r.ends_at, INT64_MAX);
	auction_free(&a);
}

/* Rollback drops later bids and restores best price, ranks, end, extensions and aliases. */
static void test_rollback(void **state)
{
	struct auction a, snap, ref;
	struct auction_mark m;
	struct bid_result r;
	int64_t e1, e2;

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 10, START - STEPMIN, T0 + 1);
	bid_ok(&a, 20, START - 100, T0 + 2);
	bid_ok(&a, 30, START - 2 * STEPMIN, T1 - 50);
	e1 = T1 - 50 + EXT;
	assert_int_equal(a.ends_at, e1);
	bid_ok(&a, 20, START - 3 * STEPMIN, e1 - 100);
	e2 = e1 - 100 + EXT;
	assert_int_equal(a.ends_at, e2);
	assert_int_equal(a.extensions, 2);
	check_invariants(&a);
	auction_copy(&snap, &a);
	auction_mark(&a, &m);
	assert_int_equal(m.nbids, 4);

	/* New bidders, takeovers, rank changes and one more extension (the second
	 * takeover comes with EXT - 10 left, outside the window). */
	r = bid_ok(&a, 40, START - 4 * STEPMIN, e2 - 90);
	assert_true(r.extended);
	r = bid_ok(&a, 10, START - 5 * STEPMIN, e2 - 80);
	assert_true(r.took_lead);
	assert_false(r.extended);
	bid_ok(&a, 50, START - 200, e2 - 70);
	bid_ok(&a, 30, START - 5 * STEPMIN, e2 - 60);
	assert_int_equal(a.extensions, 3);
	assert_int_equal(a.nentries, 5);
	auction_rollback(&a, &m);
	check_invariants(&a);
	assert_same_auction(&a, &snap);
	assert_int_equal(auction_best(&a), START - 3 * STEPMIN);
	assert_int_equal(auction_rank_of(&a, 20), 1);
	assert_int_equal(auction_rank_of(&a, 30), 2);
	assert_int_equal(auction_rank_of(&a, 10), 3);
	assert_int_equal(auction_rank_of(&a, 40), 0);
	assert_int_equal(auction_entry_of(&a, 30)->alias, 3);
	assert_null(auction_entry_of(&a, 50));
	assert_int_equal(a.ends_at, e2);

	/* Bidding continues with the next sequence; the new bidder gets the next alias. */
	r = bid_ok(&a, 50, START - 4 * STEPMIN, e2 - 1);
	assert_int_equal(r.seq, 5);
	assert_int_equal(auction_entry_of(&a, 50)->alias, 4);

	/* Rollback undoes a close by the clock and a cancellation. */
	auction_mark(&a, &m);
	auction_advance(&a, T1 + 10 * EXT, NULL);
	assert_int_equal(a.state, AUCTION_CLOSED);
	auction_rollback(&a, &m);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(a.closed_at, 0);
	assert_int_equal(auction_cancel(&a, T1, NULL), 0);
	auction_rollback(&a, &m);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(a.closed_at, 0);
	assert_int_equal(a.nbids, 5);

	/* Rolling back to the empty auction. */
	auction_init(&ref, a.id, &a.p);
	auction_mark(&ref, &m);
	auction_rollback(&a, &m);
	assert_same_auction(&a, &ref);
	assert_int_equal(auction_best(&a), -1);
	assert_null(auction_at_rank(&a, 1));
	bid_ok(&a, 60, START - STEPMIN, T0 + 100);
	assert_int_equal(auction_entry_of(&a, 60)->alias, 1);
	check_invariants(&a);

	auction_free(&ref);
	auction_free(&snap);
	auction_free(&a);
}

/* Out of memory refuses the bid and leaves the auction as it was. */
static void test_nomem(void **state)
{
	struct auction a, snap;
	struct bid_result r;

	(void)state;
	auction_setup(&a);
	/* First bid: the bid array cannot grow. */
	fail_realloc_after = 1;
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_E_NOMEM);
	fail_realloc_after = 0;
	assert_int_equal(a.nbids, 0);
	assert_int_equal(a.nentries, 0);
	assert_int_equal(auction_best(&a), -1);
	/* The entries array grows but the rank array cannot. */
	fail_realloc_after = 3;
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, NULL), AUCTION_E_NOMEM);
	fail_realloc_after = 0;
	assert_int_equal(a.nbids, 0);
	assert_int_equal(a.nentries, 0);
	assert_int_equal(a.capentries, 0);
	r = bid_ok(&a, 1, START - STEPMIN, T0);
	assert_int_equal(r.seq, 1);

	/* Fill the arrays to their capacity, then fail the growth. */
	for (int64_t org = 2; a.nentries < a.capentries; org++)
		bid_ok(&a, org, START - 1 - org, T0 + org);
	auction_copy(&snap, &a);
	for (int k = 1; k <= 2; k++) {
		/* k = 1: entries cannot grow; k = 2: entries grew, rank cannot. */
		fail_realloc_after = k;
		assert_int_equal(auction_bid(&a, 1, 999, START - 400, T0 + 500, NULL), AUCTION_E_NOMEM);
		fail_realloc_after = 0;
		assert_same_auction(&a, &snap);
		check_invariants(&a);
	}
	r = bid_ok(&a, 999, START - 400, T0 + 500);
	assert_int_equal(r.rank, 2);
	check_invariants(&a);
	assert_string_equal(auction_err_code(AUCTION_E_NOMEM), "internal");
	auction_free(&snap);
	auction_free(&a);
}

/* Codes, messages and state names. */
static void test_names(void **state)
{
	static const struct {
		enum auction_err e;
		const char *code;
	} codes[] = {
		{ AUCTION_E_NOT_STARTED, "auction_not_started" },
		{ AUCTION_E_ENDED, "auction_ended" },
		{ AUCTION_E_CANCELLED, "auction_cancelled" },
		{ AUCTION_E_OWN_AUCTION, "own_auction" },
		{ AUCTION_E_NOT_POSITIVE, "bid_not_positive" },
		{ AUCTION_E_NOT_BELOW_START, "bid_not_below_start_price" },
		{ AUCTION_E_NOT_BELOW_OWN, "bid_not_below_own" },
		{ AUCTION_E_WHILE_LEADING, "bid_while_leading" },
		{ AUCTION_E_STEP_TOO_SMALL, "bid_step_too_small" },
		{ AUCTION_E_STEP_TOO_LARGE, "bid_step_too_large" },
		{ AUCTION_E_NOMEM, "internal" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *msg = auction_err_message(codes[i].e);

		assert_string_equal(auction_err_code(codes[i].e), codes[i].code);
		assert_non_null(msg);
		assert_true(strlen(msg) > 5);
		assert_true(msg[strlen(msg) - 1] == '.');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(msg, auction_err_message(codes[j].e));
	}
	assert_non_null(auction_err_code(AUCTION_OK));
	assert_non_null(auction_err_message(AUCTION_OK));
	assert_string_equal(auction_err_code((enum auction_err)99), "internal");
	assert_string_equal(auction_state_name(AUCTION_SCHEDULED), "scheduled");
	assert_string_equal(auction_state_name(AUCTION_RUNNING), "running");
	assert_string_equal(auction_state_name(AUCTION_CLOSED), "closed");
	assert_string_equal(auction_state_name(AUCTION_CANCELLED), "cancelled");
}

/* Deterministic 64-bit LCG; returns the high 32 bits. */
static uint32_t lcg_next(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*x >> 32);
}

/* Reference model of the rules, written independently of the engine's data structures. */
struct model {
	struct auction_params p;
	enum auction_state state;
	int64_t ends_at;
	int extensions;
	int64_t nbids;
	int n;
	int64_t org[64], amount[64], seq[64];
};

/* Index of org in the model, or -1. */
static int model_find(const struct model *m, int64_t org)
{
	for (int i = 0; i < m->n; i++)
		if (m->org[i] == org)
			return i;
	return -1;
}

/* 1-based rank of model bidder i: one plus the bidders strictly ahead of it. */
static int model_rank(const struct model *m, int i)
{
	int r = 1;

	for (int j = 0; j < m->n; j++)
		if (m->amount[j] < m->amount[i] || (m->amount[j] == m->amount[i] && m->seq[j] < m->seq[i]))
			r++;
	return r;
}

/* Lowest price in the model, or -1. */
static int64_t model_best(const struct model *m)
{
	int64_t b = -1;

	for (int i = 0; i < m->n; i++)
		if (b < 0 || m->amount[i] < b)
			b = m->amount[i];
	return b;
}

/* Apply a bid to the model, following the rulebook line by line. */
static enum auction_err model_bid(struct model *m, int64_t org, int64_t amount, int64_t now,
    struct bid_result *r)
{
	int i;
	int64_t ref;

	if (m->state == AUCTION_SCHEDULED && now >= m->p.starts_at)
		m->state = AUCTION_RUNNING;
	if (m->state == AUCTION_RUNNING && now >= m->ends_at)
		m->state = AUCTION_CLOSED;
	if (m->state == AUCTION_CLOSED)
		return AUCTION_E_ENDED;
	if (m->state == AUCTION_SCHEDULED)
		return AUCTION_E_NOT_STARTED;
	if (org == m->p.buyer_org)
		return AUCTION_E_OWN_AUCTION;
	if (amount <= 0)
		return AUCTION_E_NOT_POSITIVE;
	if (amount >= m->p.start_price)
		return AUCTION_E_NOT_BELOW_START;
	i = model_find(m, org);
	if (i >= 0 && amount >= m->amount[i])
		return AUCTION_E_NOT_BELOW_OWN;
	if (i >= 0 && model_rank(m, i) == 1)
		return AUCTION_E_WHILE_LEADING;
	ref = m->n ? model_best(m) : m->p.start_price;
	r->took_lead = amount < ref;
	if (r->took_lead && ref - amount < m->p.step_min)
		return AUCTION_E_STEP_TOO_SMALL;
	if (r->took_lead && ref - amount > m->p.step_max)
		return AUCTION_E_STEP_TOO_LARGE;
	if (i < 0) {
		i = m->n++;
		m->org[i] = org;
	}
	m->amount[i] = amount;
	m->seq[i] = ++m->nbids;
	r->extended = 0;
	if (r->took_lead && m->p.ext_window > 0 && m->ends_at - now <= m->p.ext_window &&
	    now + m->p.ext_length > m->ends_at) {
		m->ends_at = now + m->p.ext_length;
		m->extensions++;
		r->extended = 1;
	}
	r->seq = m->nbids;
	r->rank = model_rank(m, i);
	r->best = model_best(m);
	r->ends_at = m->ends_at;
	return AUCTION_OK;
}

/* One accepted bid as recorded for replay. */
struct replay_bid {
	int64_t id, org, amount, at;
	struct bid_result r;
};

/* Pick a random bid that is often valid and often refused for each reason. */
static void random_bid(uint64_t *rng, const struct auction *a, int64_t *org, int64_t *amount)
{
	const struct auction_entry *e;
	int64_t best, own, span;
	uint32_t k = lcg_next(rng) % 20;

	*org = k == 0 ? BUYER : (int64_t)(lcg_next(rng) % 12) + 1;
	best = auction_best(a) < 0 ? a->p.start_price : auction_best(a);
	e = auction_entry_of(a, *org);
	own = e ? e->amount : a->p.start_price;
	switch (lcg_next(rng) % 10) {
	case 0: case 1: case 2: case 3:
		*amount = best - (int64_t)(lcg_next(rng) % (uint32_t)(a->p.step_max + a->p.step_max / 5 + 1));
		break;
	case 4: case 5:
		span = own - best + 2;
		*amount = best + (int64_t)(lcg_next(rng) % (uint32_t)(span > 0 ? span : 1));
		break;
	case 6:
		*amount = own - (int64_t)(lcg_next(rng) % 3);
		break;
	case 7:
		switch (lcg_next(rng) % 4) {
		case 0:
			*amount = -(int64_t)(lcg_next(rng) % 3);
			break;
		case 1:
			*amount = a->p.start_price + (int64_t)(lcg_next(rng) % 3);
			break;
		default:
			*amount = (int64_t)(lcg_next(rng) % (uint32_t)a->p.start_price) + 1;
			break;
		}
		break;
	case 8:
		*amount = best - a->p.step_min;
		break;
	default:
		*amount = best - a->p.step_max;
		break;
	}
}

/* Parameters of the random runs: long enough for thousands of bids, narrow window. */
static struct auction_params params_random(void)
{
	struct auction_params p = {
		.buyer_org = BUYER,
		.start_price = 100000000,
		.step_min = 1000,
		.step_max = 40000,
		.starts_at = T0,
		.ends_at = T0 + 1200000,
		.ext_window = 30000,
		.ext_length = 45000,
	};
	return p;
}

/* Random bids against the model; then a replay of the accepted ones gives identical standings. */
static void test_random_replay(void **state)
{
	enum { NTRY = 4000 };
	struct auction_params p = params_random();
	struct auction a, b;
	struct model m;
	struct replay_bid *acc = calloc(NTRY, sizeof(*acc));
	size_t nacc = 0;
	uint64_t rng = 20261122;
	int64_t now = T0 - 3000;
	int counts[AUCTION_E_NOMEM + 1] = { 0 };

	(void)state;
	assert_non_null(acc);
	assert_null(auction_params_check(&p));
	auction_init(&a, 1, &p);
	memset(&m, 0, sizeof(m));
	m.p = p;
	m.state = AUCTION_SCHEDULED;
	m.ends_at = p.ends_at;

	for (int i = 0; i < NTRY; i++) {
		struct bid_result r, mr;
		int64_t org, amount;
		enum auction_err e, me;

		/* Mostly sub-second gaps, now and then a pause longer than an extension. */
		now += (int64_t)(lcg_next(&rng) % 1000);
		if (lcg_next(&rng) % 500 == 0)
			now += 50000;
		random_bid(&rng, &a, &org, &amount);
		memset(&r, 0, sizeof(r));
		memset(&mr, 0, sizeof(mr));
		e = bid_into(&a, 5000 + i, org, amount, now, &r);
		me = model_bid(&m, org, amount, now, &mr);
		assert_int_equal(e, me);
		counts[e]++;
		assert_int_equal(a.state, m.state);
		assert_int_equal(a.ends_at, m.ends_at);
		assert_int_equal(a.extensions, m.extensions);
		if (e != AUCTION_OK)
			continue;
		assert_int_equal(r.seq, mr.seq);
		assert_int_equal(r.rank, mr.rank);
		assert_int_equal(r.best, mr.best);
		assert_int_equal(r.took_lead, mr.took_lead);
		assert_int_equal(r.extended, mr.extended);
		assert_int_equal(r.ends_at, mr.ends_at);
		acc[nacc].id = 5000 + i;
		acc[nacc].org = org;
		acc[nacc].amount = amount;
		acc[nacc].at = now;
		acc[nacc].r = r;
		nacc++;
		if (i % 97 == 0)
			check_invariants(&a);
	}
	check_invariants(&a);
	/* The run exercised every outcome except the ones it cannot produce. */
	for (int e = AUCTION_OK; e <= AUCTION_E_STEP_TOO_LARGE; e++)
		if (e != AUCTION_E_CANCELLED)
			assert_true(counts[e] > 0);
	assert_true(nacc > 1000);
	assert_int_equal(a.state, AUCTION_CLOSED);
	assert_true(a.extensions > 0);
	assert_true(a.nentries == 12);

	auction_init(&b, 1, &p);
	for (size_t i = 0; i < nacc; i++) {
		struct bid_result r;

		assert_int_equal(bid_into(&b, acc[i].id, acc[i].org, acc[i].amount, acc[i].at, &r), AUCTION_OK);
		assert_int_equal(r.seq, acc[i].r.seq);
		assert_int_equal(r.rank, acc[i].r.rank);
		assert_int_equal(r.best, acc[i].r.best);
		assert_int_equal(r.took_lead, acc[i].r.took_lead);
		assert_int_equal(r.extended, acc[i].r.extended);
		assert_int_equal(r.ends_at, acc[i].r.ends_at);
	}
	auction_advance(&b, now, NULL);
	auction_advance(&a, now, NULL);
	assert_same_auction(&a, &b);
	/* The standings agree with the model, rank by rank. */
	assert_int_equal((int)a.nentries, m.n);
	assert_int_equal(auction_best(&b), model_best(&m));
	for (int rk = 1; rk <= m.n; rk++) {
		const struct auction_entry *e = auction_at_rank(&b, rk);
		int i = model_find(&m, e->org);

		assert_true(i >= 0);
		assert_int_equal(model_rank(&m, i), rk);
		assert_int_equal(m.amount[i], e->amount);
		assert_int_equal(m.seq[i], e->seq);
	}
	auction_free(&a);
	auction_free(&b);
	free(acc);
}

/* Random marks and rollbacks interleaved with random bids always restore the exact state. */
static void test_random_rollback(void **state)
{
	struct auction_params p = params_random();
	struct auction a, snap;
	uint64_t rng = 42;
	int64_t now = T0;
	int rollbacks = 0;

	(void)state;
	auction_init(&a, 1, &p);
	for (int round = 0; round < 150; round++) {
		struct auction_mark m;
		int64_t t = now;
		int k = (int)(lcg_next(&rng) % 25);

		for (int i = 0; i < 15; i++) {
			int64_t org, amount;

			now += (int64_t)(lcg_next(&rng) % 800);
			random_bid(&rng, &a, &org, &amount);
			auction_bid(&a, i, org, amount, now, NULL);
		}
		auction_mark(&a, &m);
		auction_copy(&snap, &a);
		t = now;
		for (int i = 0; i < k; i++) {
			int64_t org, amount;

			t += (int64_t)(lcg_next(&rng) % 800);
			random_bid(&rng, &a, &org, &amount);
			auction_bid(&a, i, org, amount, t, NULL);
		}
		if (lcg_next(&rng) % 10 == 0)
			auction_cancel(&a, t, NULL);
		auction_rollback(&a, &m);
		rollbacks++;
		assert_same_auction(&a, &snap);
		check_invariants(&a);
		auction_free(&snap);
	}
	assert_int_equal(rollbacks, 150);
	auction_free(&a);
}

/* The bounds that explain a refusal follow the best price and the bidder's own bid. */
static void test_bounds(void **state)
{
	struct auction a;
	struct auction_bounds bd;

	auction_setup(&a);
	auction_bounds(&a, 1, &bd);
	assert_int_equal(bd.reference, START);
	assert_true(bd.best_is_start);
	assert_int_equal(bd.own, -1);
	assert_int_equal(bd.lead_max, START - STEPMIN);
	assert_int_equal(bd.lead_min, START - STEPMAX);
	bid_ok(&a, 1, START - STEPMIN, T0 + 1000);
	auction_bounds(&a, 2, &bd);
	assert_int_equal(bd.reference, START - STEPMIN);
	assert_false(bd.best_is_start);
	assert_int_equal(bd.own, -1);
	assert_int_equal(bd.lead_max, START - 2 * STEPMIN);
	assert_int_equal(bd.lead_min, START - STEPMIN - STEPMAX);
	/* the leader's own price; a maximum step beyond zero stops at 1 */
	for (int64_t p = START - STEPMIN; p > STEPMAX;) {
		int64_t next = p - STEPMAX;
		bid_ok(&a, (a.nbids % 2) ? 2 : 1, next, T0 + 2000 + (int64_t)a.nbids);
		p = next;
	}
	auction_bounds(&a, a.entries[a.rank[0]].org, &bd);
	assert_int_equal(bd.own, bd.reference);
	assert_int_equal(bd.lead_min, 1);
	auction_free(&a);
}

/* Seeding a scheduled auction: limits, refusals in order, standings like ordinary bids. */
static void test_seed(void **state)
{
	struct auction a;
	struct auction_mark m;

	(void)state;
	auction_setup(&a);
	auction_mark(&a, &m);
	/* The start price itself is a valid seed; one unit above it is not. */
	assert_int_equal(auction_seed(&a, 1, 1, START + 1, T0 - 500, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_seed(&a, 1, 1, INT64_MAX, T0 - 500, NULL), AUCTION_E_NOT_BELOW_START);
	assert_int_equal(auction_seed(&a, 1, 1, 0, T0 - 500, NULL), AUCTION_E_NOT_POSITIVE);
	assert_int_equal(auction_seed(&a, 1, 1, INT64_MIN, T0 - 500, NULL), AUCTION_E_NOT_POSITIVE);
	/* The buyer is refused before the amount is looked at. */
	assert_int_equal(auction_seed(&a, 1, BUYER, 0, T0 - 500, NULL), AUCTION_E_OWN_AUCTION);
	assert_int_equal(a.nbids, 0);
	assert_int_equal(auction_seed(&a, 1, 1, START, T0 - 500, NULL), AUCTION_OK);
	/* No step rule: any amount below the start price, however far. */
	assert_int_equal(auction_seed(&a, 2, 2, START - 3 * STEPMAX, T0 - 400, NULL), AUCTION_OK);
	assert_int_equal(auction_seed(&a, 3, 3, START - 3 * STEPMAX, T0 - 300, NULL), AUCTION_OK);
	assert_int_equal(auction_seed(&a, 4, 4, START - 1, T0 - 200, NULL), AUCTION_OK);
	/* One seed per bidder, higher or lower. */
	assert_int_equal(auction_seed(&a, 5, 2, START - 4 * STEPMAX, T0 - 100, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(auction_seed(&a, 5, 1, START - 1, T0 - 100, NULL), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(a.state, AUCTION_SCHEDULED);
	assert_int_equal(a.nbids, 4);
	assert_int_equal(a.bids[3].id, 4);
	assert_int_equal(a.bids[3].seq, 4);
	assert_int_equal(a.bids[3].at, T0 - 200);
	/* Ranks by price, equal prices by sequence; aliases in seeding order. */
	assert_int_equal(auction_best(&a), START - 3 * STEPMAX);
	assert_int_equal(auction_rank_of(&a, 2), 1);
	assert_int_equal(auction_rank_of(&a, 3), 2);
	assert_int_equal(auction_rank_of(&a, 4), 3);
	assert_int_equal(auction_rank_of(&a, 1), 4);
	assert_int_equal(auction_entry_of(&a, 3)->alias, 3);
	check_invariants(&a);
	/* Seeding does not consult the clock: the auction stays scheduled. */
	assert_int_equal(auction_next_deadline(&a), T0);

	/* Ordinary bids then follow the ordinary rules, measured from the best seeded price. */
	assert_int_equal(auction_bid(&a, 10, 2, START - 3 * STEPMAX - STEPMIN, T0, NULL), AUCTION_E_WHILE_LEADING);
	assert_int_equal(auction_bid(&a, 10, 3, START - 3 * STEPMAX - STEPMIN + 1, T0, NULL), AUCTION_E_STEP_TOO_SMALL);
	assert_int_equal(auction_bid(&a, 10, 3, START - 4 * STEPMAX - 1, T0, NULL), AUCTION_E_STEP_TOO_LARGE);
	assert_int_equal(auction_bid(&a, 10, 1, START, T0, NULL), AUCTION_E_NOT_BELOW_START);
	/* A bidder seeded at the start price improves its rank without a step rule. */
	assert_int_equal(auction_bid(&a, 10, 1, START - 2, T0, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 1), 3);
	assert_int_equal(auction_bid(&a, 11, 3, START - 3 * STEPMAX - STEPMIN, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 3), 1);
	assert_int_equal(a.bids[5].seq, 6);
	/* A bidder that never was seeded may still be refused or accepted by the normal rules. */
	assert_int_equal(auction_bid(&a, 12, 9, START - 1, T0 + 2, NULL), AUCTION_OK);
	assert_int_equal(auction_rank_of(&a, 9), 5);
	check_invariants(&a);

	/* Once running, seeding is over. */
	assert_int_equal(auction_seed(&a, 13, 8, START - 10, T0 + 3, NULL), AUCTION_E_ENDED);
	assert_null(auction_entry_of(&a, 8));

	/* Rolling back to before the seeds empties the standings. */
	auction_rollback(&a, &m);
	assert_int_equal(a.nbids, 0);
	assert_int_equal(a.state, AUCTION_SCHEDULED);
	assert_int_equal(auction_best(&a), -1);
	auction_free(&a);

	/* Closed and cancelled auctions refuse seeds. */
	auction_setup(&a);
	auction_advance(&a, T1, NULL);
	assert_int_equal(auction_seed(&a, 1, 1, START, T1, NULL), AUCTION_E_ENDED);
	auction_free(&a);
	auction_setup(&a);
	assert_int_equal(auction_cancel(&a, T0 - 10, NULL), 0);
	assert_int_equal(auction_seed(&a, 1, BUYER, 0, T0 - 5, NULL), AUCTION_E_CANCELLED);
	assert_int_equal(a.nbids, 0);
	auction_free(&a);
}

/* A seed that cannot get memory changes nothing; a rollback over seeds restores them exactly. */
static void test_seed_nomem_rollback(void **state)
{
	struct auction a, snap;
	struct auction_mark m;

	(void)state;
	auction_setup(&a);
	fail_realloc_after = 1;
	assert_int_equal(auction_seed(&a, 1, 1, START, T0 - 5, NULL), AUCTION_E_NOMEM);
	fail_realloc_after = 2;
	assert_int_equal(auction_seed(&a, 1, 1, START, T0 - 5, NULL), AUCTION_E_NOMEM);
	fail_realloc_after = 0;
	assert_int_equal(a.nbids, 0);
	assert_int_equal(a.nentries, 0);
	for (int64_t org = 1; org <= 20; org++)
		assert_int_equal(auction_seed(&a, org, org, START - 37 * (org % 7), T0 - 100 + org, NULL), AUCTION_OK);
	check_invariants(&a);
	auction_copy(&snap, &a);
	auction_mark(&a, &m);
	bid_ok(&a, 30, auction_best(&a) - STEPMIN, T0 + 1);
	bid_ok(&a, 7, START - 1, T0 + 2);
	auction_rollback(&a, &m);
	assert_same_auction(&a, &snap);
	check_invariants(&a);
	auction_free(&snap);
	auction_free(&a);
}

/* Run every engine test. */
/* ---- events ---- */

/* A lead-taking bid inside the window reports the bid, then the extension. */
static void test_events_bid_extends(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };
	const struct auction_event *e;

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, START - STEPMIN, T0 + 10);
	assert_int_equal(auction_bid(&a, 77, 2, START - 2 * STEPMIN, T1 - 1000, &ev), AUCTION_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.dropped, 0);
	e = &ev.ev[0];
	assert_int_equal(e->kind, AUCTION_EV_BID);
	assert_int_equal(e->at, T1 - 1000);
	assert_int_equal(e->bid_id, 77);
	assert_int_equal(e->org, 2);
	assert_int_equal(e->amount, START - 2 * STEPMIN);
	assert_int_equal(e->seq, 2);
	assert_int_equal(e->rank, 1);
	assert_int_equal(e->best, START - 2 * STEPMIN);
	assert_true(e->took_lead);
	assert_int_equal(e->ends_at, T1 - 1000 + EXT);
	e = &ev.ev[1];
	assert_int_equal(e->kind, AUCTION_EV_EXTENDED);
	assert_int_equal(e->at, T1 - 1000);
	assert_int_equal(e->bid_id, 77);
	assert_int_equal(e->prev_end, T1);
	assert_int_equal(e->ends_at, T1 - 1000 + EXT);
	assert_int_equal(e->extensions, 1);
	assert_int_equal(a.ends_at, e->ends_at);
	/* a bid that does not take the lead, inside the window: no extension */
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 78, 1, START - 2 * STEPMIN, T1, &ev), AUCTION_OK);
	assert_int_equal(ev_kinds(&ev), EVB(AUCTION_EV_BID));
	assert_false(ev.ev[0].took_lead);
	assert_int_equal(ev.ev[0].rank, 2);
	assert_int_equal(ev.ev[0].ends_at, T1 - 1000 + EXT);
	auction_free(&a);
}

/* The first bid at the start reports the start before the bid. */
static void test_events_bid_starts(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_bid(&a, 5, 1, START - STEPMIN, T0 + 7, &ev), AUCTION_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_STARTED);
	assert_int_equal(ev.ev[0].at, T0);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_BID);
	assert_int_equal(ev.ev[1].seq, 1);
	auction_free(&a);
}

/* Advancing over both deadlines reports started then closed, with the winner. */
static void test_events_advance_start_close(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_advance(&a, T0 - 1, &ev), 0);
	assert_int_equal(ev.n, 0);
	assert_int_equal(auction_advance(&a, T1 + 86400000LL, &ev), 2);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_STARTED);
	assert_int_equal(ev.ev[0].at, T0);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_CLOSED);
	assert_int_equal(ev.ev[1].at, T1);  /* the end, not the time it was noticed */
	assert_int_equal(ev.ev[1].bid_id, 0);
	assert_int_equal(ev.ev[1].org, 0);
	assert_int_equal(ev.ev[1].amount, 0);
	ev.n = 0;
	assert_int_equal(auction_advance(&a, T1 + 2 * 86400000LL, &ev), 0);
	assert_int_equal(ev.n, 0);
	auction_free(&a);

	/* with bids: the winner's bid */
	auction_setup(&a);
	bid_ok(&a, 1, START - STEPMIN, T0);
	bid_ok(&a, 2, START - 2 * STEPMIN, T0 + 1);
	ev.n = 0;
	assert_int_equal(auction_advance(&a, T1, &ev), 1);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_CLOSED);
	assert_int_equal(ev.ev[0].bid_id, a.bids[1].id);
	assert_int_equal(ev.ev[0].org, 2);
	assert_int_equal(ev.ev[0].amount, START - 2 * STEPMIN);
	auction_free(&a);
}

/* A bid refused because the end passed still reports the closing it made. */
static void test_events_refused_bid_closes(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, START - STEPMIN, T0);
	assert_int_equal(auction_bid(&a, 9, 2, START - 2 * STEPMIN, T1, &ev), AUCTION_E_ENDED);
	assert_int_equal(ev_kinds(&ev), EVB(AUCTION_EV_CLOSED));
	assert_int_equal(ev.ev[0].org, 1);
	/* a refusal that changes nothing reports nothing */
	ev.n = 0;
	assert_int_equal(auction_bid(&a, 10, 2, START - 2 * STEPMIN, T1 + 1, &ev), AUCTION_E_ENDED);
	assert_int_equal(ev.n, 0);
	auction_free(&a);
}

/* Cancellation: cancelled at now; past the start, started first; past the end, closed and refused. */
static void test_events_cancel(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_cancel(&a, T0 - 5, &ev), 0);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_CANCELLED);
	assert_int_equal(ev.ev[0].at, T0 - 5);
	ev.n = 0;
	assert_int_equal(auction_cancel(&a, T0 - 4, &ev), -1);
	assert_int_equal(ev.n, 0);
	auction_free(&a);

	auction_setup(&a);
	ev.n = 0;
	assert_int_equal(auction_cancel(&a, T0 + 5, &ev), 0);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_STARTED);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_CANCELLED);
	assert_int_equal(ev.ev[1].at, T0 + 5);
	auction_free(&a);

	auction_setup(&a);
	ev.n = 0;
	assert_int_equal(auction_cancel(&a, T1, &ev), -1);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].kind, AUCTION_EV_STARTED);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_CLOSED);
	assert_int_equal(a.state, AUCTION_CLOSED);
	auction_free(&a);
}

/* A seed reports its bid and standing; a refused seed reports nothing. */
static void test_events_seed(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };

	(void)state;
	auction_setup(&a);
	assert_int_equal(auction_seed(&a, 40, 1, START - 10, T0 - 100, &ev), AUCTION_OK);
	assert_int_equal(auction_seed(&a, 41, 2, START - 20, T0 - 90, &ev), AUCTION_OK);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[1].kind, AUCTION_EV_SEEDED);
	assert_int_equal(ev.ev[1].bid_id, 41);
	assert_int_equal(ev.ev[1].org, 2);
	assert_int_equal(ev.ev[1].amount, START - 20);
	assert_int_equal(ev.ev[1].at, T0 - 90);
	assert_int_equal(ev.ev[1].seq, 2);
	assert_int_equal(ev.ev[1].rank, 1);
	assert_int_equal(ev.ev[1].best, START - 20);
	ev.n = 0;
	assert_int_equal(auction_seed(&a, 42, 2, START - 30, T0 - 80, &ev), AUCTION_E_NOT_BELOW_OWN);
	assert_int_equal(ev.n, 0);
	auction_free(&a);
}

/* A full list counts what it could not hold; a NULL list is allowed. */
static void test_events_full(void **state)
{
	struct auction a;
	struct auction_events ev = { 0 };

	(void)state;
	auction_setup(&a);
	ev.n = AUCTION_EVENTS_MAX - 1;
	assert_int_equal(auction_bid(&a, 1, 1, START - STEPMIN, T0, &ev), AUCTION_OK);
	assert_int_equal(ev.n, AUCTION_EVENTS_MAX);
	assert_int_equal(ev.dropped, 1);
	assert_int_equal(ev.ev[AUCTION_EVENTS_MAX - 1].kind, AUCTION_EV_STARTED);
	assert_int_equal(auction_bid(&a, 2, 2, START - 2 * STEPMIN, T0 + 1, NULL), AUCTION_OK);
	assert_int_equal(a.nbids, 2);
	assert_string_equal(auction_ev_name(AUCTION_EV_EXTENDED), "extended");
	assert_string_equal(auction_ev_name(AUCTION_EV_CANCELLED), "cancelled");
	auction_free(&a);
}

/* After a rollback the same calls report the same events again. */
static void test_events_rollback(void **state)
{
	struct auction a;
	struct auction_mark m;
	struct auction_events first = { 0 }, again = { 0 }, close1 = { 0 }, close2 = { 0 };

	(void)state;
	auction_setup(&a);
	bid_ok(&a, 1, START - STEPMIN, T0);
	auction_mark(&a, &m);
	assert_int_equal(auction_bid(&a, 50, 2, START - 2 * STEPMIN, T1 - 10, &first), AUCTION_OK);
	assert_int_equal(ev_kinds(&first), EVB(AUCTION_EV_BID) | EVB(AUCTION_EV_EXTENDED));
	assert_int_equal(auction_advance(&a, T1 - 10 + EXT, &close1), 1);
	auction_rollback(&a, &m);
	assert_int_equal(a.ends_at, T1);
	assert_int_equal(a.state, AUCTION_RUNNING);
	assert_int_equal(auction_bid(&a, 50, 2, START - 2 * STEPMIN, T1 - 10, &again), AUCTION_OK);
	assert_int_equal(again.n, first.n);
	assert_memory_equal(again.ev, first.ev, sizeof(first.ev[0]) * (size_t)first.n);
	assert_int_equal(auction_advance(&a, T1 - 10 + EXT, &close2), 1);
	assert_memory_equal(close2.ev, close1.ev, sizeof(close1.ev[0]));
	assert_int_equal(close2.ev[0].org, 2);
	/* rolled back over a closing: the closing is reported again */
	auction_rollback(&a, &m);
	close2.n = 0;
	assert_int_equal(auction_advance(&a, T1, &close2), 1);
	assert_int_equal(close2.ev[0].kind, AUCTION_EV_CLOSED);
	assert_int_equal(close2.ev[0].org, 1);
	auction_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_valid),
		cmocka_unit_test(test_events_bid_extends),
		cmocka_unit_test(test_events_bid_starts),
		cmocka_unit_test(test_events_advance_start_close),
		cmocka_unit_test(test_events_refused_bid_closes),
		cmocka_unit_test(test_events_cancel),
		cmocka_unit_test(test_events_seed),
		cmocka_unit_test(test_events_full),
		cmocka_unit_test(test_events_rollback),
		cmocka_unit_test(test_params_invalid),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_advance),
		cmocka_unit_test(test_advance_after_extension),
		cmocka_unit_test(test_next_deadline),
		cmocka_unit_test(test_bid_timing),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_refusal_order),
		cmocka_unit_test(test_first_bid_steps),
		cmocka_unit_test(test_steps_from_best),
		cmocka_unit_test(test_rank_improvement),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_leader_refused),
		cmocka_unit_test(test_own_bid_rule),
		cmocka_unit_test(test_buyer_refused),
		cmocka_unit_test(test_extension),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_nomem),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_random_replay),
		cmocka_unit_test(test_random_rollback),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_seed_nomem_rollback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
