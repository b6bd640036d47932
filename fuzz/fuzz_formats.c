/*
 * Fuzz target: every auction format of the engine (auction/), linked with libauction
 * alone. fuzz_auction checks english_reverse against a model of its rulebook; this target
 * checks what every format must keep, whatever its rules (the formats are read from the
 * registry, so a new format is fuzzed as soon as it is registered).
 *
 * The input is decoded into a format, parameters (realistic ones most of the time, any int64
 * values otherwise; the run stops when auction_params_check refuses them) and a sequence of
 * operations at non-decreasing times: bids near the prices that matter (the clock price, the
 * best, one's own), seeds, clock ticks, cancels, operator pauses, resumptions and
 * prolongations, marks and rollbacks. After every step:
 *  - entries agree with the bids: aliases in order of first bid, each entry its bidder's
 *    latest bid, pointing at it; bids numbered 1, 2, 3, ...;
 *  - rank[] is a permutation of the entries in the format's strict order (its `before`),
 *    each entry's pos its place; the lookups agree with it;
 *  - the state only moves forward (scheduled, running, then closed or cancelled); a final
 *    or paused auction has no next deadline, a scheduled one its start, a running one its
 *    end; only a running auction is paused;
 *  - an accepted bid happened while the auction ran and was not paused, by a bidder other
 *    than the buyer, for a positive amount, and reported exactly one bid event agreeing with
 *    the standings (a lead-taking bid ranks first); a refused bid added no bid;
 *  - a running clock auction's price lies between its start price and its limit;
 *  - a closed auction has a winner (rank 1) exactly when it is not unsuccessful;
 *  - no call reports more events than AUCTION_EVENTS_MAX holds;
 *  - a rollback restores exactly the state at its mark.
 * Signed overflow anywhere is a UBSan report; any violation aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auction/auction.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ORGS 6
#define MAX_BIDS 512
#define MAX_FORMATS 32

/* A full copy of the engine's state, for checking rollbacks. */
struct snapshot {
	struct auction a;               /* scalars; arrays copied below */
	struct auction_bid bids[MAX_BIDS];
	struct auction_entry entries[MAX_BIDS];
	size_t rank[MAX_BIDS];
};

/* Stop the run with a message: the fuzzer reports the input. */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_formats: invariant violated: %s\n", what);
	abort();
}

/* Every registered format, read once from the registry's list of names. */
static const struct auction_format *
pick_format(struct fin *in)
{
	static const struct auction_format *all[MAX_FORMATS];
	static int n = -1;

	if (n < 0) {
		char names[1024], *save = NULL;

		snprintf(names, sizeof(names), "%s", auction_format_names());
		n = 0;
		for (char *t = strtok_r(names, ", ", &save); t && n < MAX_FORMATS;
		    t = strtok_r(NULL, ", ", &save))
			if ((all[n] = auction_format_find(t)) != NULL)
				n++;
			else
				fail("a format named by auction_format_names is not found");
	}
	return all[fin_u8(in) % n];
}

/* Decode parameters: realistic (small prices, seconds) or anything; 0 when accepted. */
static int
pick_params(struct fin *in, struct auction_params *p, int64_t *now)
{
	uint8_t mode = fin_u8(in);

	memset(p, 0, sizeof(*p));
	p->format = pick_format(in);
	p->buyer_org = 1 + fin_u8(in) % MAX_ORGS;
	if (mode % 4 != 0) {
		p->start_price = 1000 + (int64_t)fin_bytes(in, 2);
		p->step_min = 1 + fin_u8(in) % 50;
		p->step_max = p->step_min + fin_u8(in);
		p->starts_at = 1000 * (int64_t)fin_u8(in);
		p->ends_at = p->starts_at + 1000 + 100 * (int64_t)fin_bytes(in, 2);
		p->ext_window = 100 * (int64_t)(fin_u8(in) % 8);
		p->ext_length = p->ext_window ? 100 * (1 + (int64_t)(fin_u8(in) % 8)) : 0;
		p->clock_step = 1 + fin_u8(in) % 100;
		p->clock_interval = 100 + (int64_t)fin_bytes(in, 1) * 10;
		p->clock_limit = fin_u8(in) & 1 ? p->start_price - (int64_t)fin_bytes(in, 2) % 1000 :
		    p->start_price + (int64_t)fin_bytes(in, 2) % 1000;
		if (p->format->clock != NULL) {
			int64_t run = auction_clock_end(p);

			p->step_min = p->step_max = 1;
			p->ext_window = p->ext_length = 0;
			if (run > p->ends_at)
				p->ends_at = run;
		} else {
			p->clock_step = p->clock_interval = p->clock_limit = 0;
		}
		if (p->format == &auction_rounds) {
			p->rounds_initial = 1000 * (1 + (int64_t)(fin_u8(in) % 5));
			p->rounds_pause = 500 * (int64_t)(fin_u8(in) % 3);
			p->rounds_count = 1 + fin_u8(in) % 3;
			p->rounds_turn = 100 * (1 + (int64_t)(fin_u8(in) % 10));
			p->rounds_round_pause = 100 * (int64_t)(fin_u8(in) % 3);
			p->ext_window = p->ext_length = 0;
			p->ends_at = auction_rounds_latest_end(p);
		}
	} else {
		p->start_price = fin_i64(in);
		p->step_min = fin_i64(in);
		p->step_max = sat_add(p->step_min, fin_i64(in));
		p->starts_at = fin_i64(in);
		p->ends_at = sat_add(p->starts_at, fin_i64(in));
		p->ext_window = fin_i64(in);
		p->ext_length = fin_i64(in);
		p->clock_step = fin_i64(in);
		p->clock_interval = fin_i64(in);
		p->clock_limit = fin_i64(in);
	}
	p->visibility = (enum auction_visibility)(fin_u8(in) % 3);
	p->min_bidders = fin_u8(in) % 4;
	if (fin_u8(in) % 3 == 0)
		p->tail = 100 * (int64_t)fin_u8(in);  /* refused by the formats without a tail */
	if (p->format->clock == NULL && fin_u8(in) % 3 == 0) {
		p->max_extensions = fin_u8(in) % 4;
		p->latest_end = fin_u8(in) & 1 ? sat_add(p->ends_at, 100 * (int64_t)fin_u8(in)) : 0;
	}
	*now = sat_sub(p->starts_at, fin_nonneg(in) % 100000);
	return auction_params_check(p) == NULL ? 0 : -1;
}

/* The amount of the org's latest bid, or -1. */
static int64_t
latest_of(const struct auction *a, int64_t org)
{
	for (size_t i = a->nbids; i-- > 0;)
		if (a->bids[i].org == org)
			return a->bids[i].amount;
	return -1;
}

/* Check the standings against the bids and the format's order. */
static void
check_standings(const struct auction *a)
{
	const struct auction_format *fm = auction_format_of(a);

	for (size_t i = 0; i < a->nbids; i++)
		if (a->bids[i].seq != (int64_t)i + 1)
			fail("bids are not numbered 1, 2, 3, ...");
	for (size_t i = 0; i < a->nentries; i++) {
		const struct auction_entry *e = &a->entries[i];

		if (e->alias != (int)i + 1 || e->bid_index >= a->nbids ||
		    a->bids[e->bid_index].org != e->org || a->bids[e->bid_index].seq != e->seq ||
		    a->bids[e->bid_index].amount != e->amount || latest_of(a, e->org) != e->amount)
			fail("an entry is not its bidder's latest bid");
		for (size_t j = 0; j < i; j++)
			if (a->entries[j].org == e->org)
				fail("two entries for one bidder");
		if (a->rank[i] >= a->nentries || a->entries[a->rank[i]].pos != i)
			fail("rank[] and pos disagree");
		if (i > 0 && (!fm->before(&a->entries[a->rank[i - 1]], &a->entries[a->rank[i]]) ||
		    fm->before(&a->entries[a->rank[i]], &a->entries[a->rank[i - 1]])))
			fail("rank[] is not in the format's strict order");
		if (auction_rank_of(a, a->entries[a->rank[i]].org) != (int)i + 1 ||
		    auction_at_rank(a, (int)i + 1) != &a->entries[a->rank[i]] ||
		    auction_entry_of(a, e->org) != e)
			fail("lookups disagree with rank[]");
	}
	for (size_t i = 0; i < a->nbids; i++)
		if (auction_entry_of(a, a->bids[i].org) == NULL)
			fail("a bidder without an entry");
}

/* Check the state: forward only, deadlines, the clock, the result. */
static void
check_state(const struct auction *a, enum auction_state was, int64_t now)
{
	int final = a->state == AUCTION_CLOSED || a->state == AUCTION_CANCELLED;
	struct auction_clock ck;

	check_standings(a);
	if (a->state < was || (was == AUCTION_CLOSED && a->state != AUCTION_CLOSED))
		fail("the state moved backwards");
	if (auction_next_deadline(a) != (final || a->paused ? -1 :
	    a->state == AUCTION_SCHEDULED ? a->p.starts_at : auction_close_at(a)))
		fail("the next deadline disagrees with the state");
	if (a->paused && a->state != AUCTION_RUNNING)
		fail("an auction not running is paused");
	if (a->state == AUCTION_RUNNING && auction_format_of(a)->clock != NULL &&
	    auction_clock(a, now, 0, &ck) == 0) {
		int64_t lo = a->p.start_price < a->p.clock_limit ? a->p.start_price : a->p.clock_limit;
		int64_t hi = a->p.start_price < a->p.clock_limit ? a->p.clock_limit : a->p.start_price;

		if (ck.price < lo || ck.price > hi)
			fail("the clock price left [start price, clock limit]");
	}
	if (a->state == AUCTION_CLOSED &&
	    (auction_winner(a) == NULL) != (auction_unsuccessful(a) != NULL))
		fail("a closed auction's winner and unsuccessful disagree");
	if (auction_winner(a) != NULL && auction_winner(a) != auction_at_rank(a, 1))
		fail("the winner is not rank 1");
}

/* memcmp that accepts NULL for empty ranges (empty engine arrays are NULL). */
static int
mem_eq(const void *x, const void *y, size_t n)
{
	return n == 0 || memcmp(x, y, n) == 0;
}

/* memcpy that accepts NULL for empty ranges. */
static void
mem_copy(void *dst, const void *src, size_t n)
{
	if (n > 0)
		memcpy(dst, src, n);
}

/* Copy the engine for a later rollback check. */
static void
snap_take(struct snapshot *s, const struct auction *a)
{
	s->a = *a;
	mem_copy(s->bids, a->bids, a->nbids * sizeof(*a->bids));
	mem_copy(s->entries, a->entries, a->nentries * sizeof(*a->entries));
	mem_copy(s->rank, a->rank, a->nentries * sizeof(*a->rank));
}

/* Whether the engine equals the snapshot exactly. */
static int
snap_equal(const struct snapshot *s, const struct auction *a)
{
	return a->state == s->a.state && a->ends_at == s->a.ends_at &&
	    a->extensions == s->a.extensions && a->closed_at == s->a.closed_at &&
	    a->paused == s->a.paused && a->paused_at == s->a.paused_at &&
	    a->paused_ms == s->a.paused_ms && a->clock_close == s->a.clock_close &&
	    a->nbids == s->a.nbids && a->nentries == s->a.nentries &&
	    mem_eq(a->bids, s->bids, a->nbids * sizeof(*a->bids)) &&
	    mem_eq(a->entries, s->entries, a->nentries * sizeof(*a->entries)) &&
	    mem_eq(a->rank, s->rank, a->nentries * sizeof(*a->rank));
}

/* An amount near the prices that matter: the clock price, the best, one's own, raw. */
static int64_t
pick_amount(struct fin *in, const struct auction *a, int64_t org, int64_t now)
{
	int64_t best = auction_best(a), ref = best < 0 ? a->p.start_price : best;
	const struct auction_entry *own = auction_entry_of(a, org);
	int64_t d = (int64_t)(fin_u8(in) % 9) - 4;
	struct auction_clock ck;

	switch (fin_u8(in) % 6) {
	case 0:
		if (auction_clock(a, now, org, &ck) == 0)
			return sat_add(ck.price, d % 2);
		/* FALLTHROUGH */
	case 1:  return auction_format_of(a)->higher_wins ? sat_add(sat_add(ref, a->p.step_min), d) :
	    sat_sub(sat_sub(ref, a->p.step_min), d);
	case 2:  return sat_add(own ? own->amount : ref, d);
	case 3:  return sat_add(a->p.start_price, d);
	case 4:  return sat_add(ref, d * (int64_t)fin_u8(in));
	default: return fin_i64(in);
	}
}

/* How far the clock moves: not at all, a little, to a deadline, or far. */
static int64_t
pick_now(struct fin *in, const struct auction *a, int64_t now)
{
	int64_t dl = auction_next_deadline(a), d = (int64_t)fin_u8(in);

	switch (fin_u8(in) % 5) {
	case 0:  return sat_add(now, d);
	case 1:  return dl > now ? (sat_sub(dl, now) > 2 ? sat_add(dl, d % 3 - 1) : dl) : now;
	case 2:  return sat_add(now, 10 * d * (int64_t)fin_u8(in));
	case 3:  return sat_add(now, fin_nonneg(in));
	default: return now;
	}
}

/* One bid; its answer must fit the state and its events the standings. */
static void
do_bid(struct fin *in, struct auction *a, int64_t org, int64_t now, int64_t *next_id)
{
	int64_t amount = pick_amount(in, a, org, now);
	struct auction_events ev = { 0 };
	const struct auction_event *r;
	size_t before = a->nbids;
	enum auction_err got;

	if (a->nbids >= MAX_BIDS)
		return;   /* the harness's bound, not the engine's */
	got = auction_bid(a, (*next_id)++, org, amount, now, &ev);
	r = auction_events_find(&ev, AUCTION_EV_BID);
	if (ev.dropped || (got == AUCTION_OK) != (r != NULL))
		fail("a bid's events disagree with its result");
	if (got != AUCTION_OK) {
		if (a->nbids != before)
			fail("a refused bid was added");
		return;
	}
	if (a->nbids != before + 1 || now < a->p.starts_at || a->paused ||
	    org == a->p.buyer_org || amount <= 0 || (a->state != AUCTION_RUNNING &&
	    a->closed_at != now))
		fail("a bid accepted while the auction did not run, or from the buyer, or not positive");
	if (r->seq != (int64_t)a->nbids || r->org != org || r->amount != amount ||
	    r->rank != auction_rank_of(a, org) || r->best != auction_best(a) ||
	    (r->took_lead && r->rank != 1))
		fail("a bid event disagrees with the standings");
}

/* One operator rule or cancellation at `now`; the events must fit in their list. */
static void
do_operator(struct fin *in, struct auction *a, uint8_t op, int64_t now)
{
	struct auction_events ev = { 0 };
	int paused = a->paused;
	enum auction_err e;

	switch (op) {
	case 0:
		auction_cancel(a, now, &ev);
		break;
	case 1:
		if ((e = auction_pause(a, now, &ev)) == AUCTION_OK && (paused || !a->paused))
			fail("a pause accepted while paused, or leaving the auction unpaused");
		break;
	case 2:
		if ((e = auction_resume(a, now, &ev)) == AUCTION_OK && (!paused || a->paused))
			fail("a resumption accepted while not paused, or leaving it paused");
		break;
	default:
		auction_prolong(a, now, 1 + (int64_t)fin_bytes(in, 2), &ev);
		break;
	}
	if (ev.dropped)
		fail("an operator call dropped events");
}

/* Run one decoded scenario. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct auction_params p;
	struct auction a;
	static struct snapshot snap;
	int64_t now, next_id = 1;
	int marked = 0;
	struct auction_mark mk;

	if (pick_params(&in, &p, &now) != 0)
		return 0;
	auction_init(&a, 1, &p);
	check_state(&a, AUCTION_SCHEDULED, now);
	while (fin_more(&in)) {
		uint8_t op = fin_u8(&in);
		int64_t org = 1 + (op >> 4) % MAX_ORGS;
		enum auction_state was = a.state;

		switch (op % 11) {
		case 0: case 1: case 2: case 3:
			now = pick_now(&in, &a, now);
			do_bid(&in, &a, org, now, &next_id);
			break;
		case 4:
			if (a.nbids < MAX_BIDS)
				auction_seed(&a, next_id++, org, pick_amount(&in, &a, org, now), now, NULL);
			break;
		case 5: {
			struct auction_events ev = { 0 };

			now = pick_now(&in, &a, now);
			auction_advance(&a, now, &ev);
			if (ev.dropped)
				fail("an advance dropped events");
			break;
		}
		case 6: case 7: case 8:
			now = pick_now(&in, &a, now);
			do_operator(&in, &a, (uint8_t)(fin_u8(&in) % 4), now);
			break;
		case 9:
			auction_mark(&a, &mk);
			snap_take(&snap, &a);
			marked = 1;
			break;
		default:
			if (!marked)
				break;
			auction_rollback(&a, &mk);
			if (!snap_equal(&snap, &a))
				fail("rollback did not restore the state at its mark");
			was = a.state;
			break;
		}
		check_state(&a, was, now);
	}
	auction_free(&a);
	return 0;
}
