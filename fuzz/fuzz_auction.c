/*
 * Fuzz target: the live auction engine (auction/auction.c), linked with
 * libauction alone.
 *
 * The input is decoded into parameters (any int64 values; the run stops when
 * auction_params_check refuses them) and a sequence of operations at
 * non-decreasing times: bids with amounts around the interesting prices,
 * seeds, clock ticks, cancels, marks and rollbacks, lookups. Beside the engine
 * runs a model of the rulebook in auction.h (standings recomputed from
 * scratch, no shared code). After every step:
 *  - the engine's answer to a bid is the model's (accepted or the same refusal);
 *  - state, end, extensions, closed_at and every bid equal the model's;
 *  - entries and rank[] agree with the bids: aliases in order of first bid,
 *    each entry the bidder's latest (lowest) bid, rank[] a permutation sorted
 *    by (amount, seq); rank_of/at_rank/entry_of/best agree with it;
 *  - the best price never rises, no bid is accepted outside
 *    [starts_at, ends_at), amounts stay within (0, start_price);
 *  - a rollback restores exactly the state at its mark;
 *  - the next deadline is the one the state implies.
 * Then proxy bidding: a few floors near the best price are set on what the run left, the
 * proxies run, and every automatic bid must take the lead, stay within its floor and agree
 * with the model's standings; the proxies are settled after one run (a second places
 * nothing), and no proxy that does not lead could still reach the next least step.
 * Signed overflow anywhere is a UBSan report; any violation aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auction/auction.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ORGS 6
#define MAX_BIDS 256

/* The model: the rulebook of auction.h, kept naively. */
struct model {
	enum auction_state state;
	int64_t ends_at, closed_at;
	int extensions;
	size_t nbids;
	struct auction_bid bids[MAX_BIDS];
};

/* A full copy of the engine's state, for checking rollbacks. */
struct snapshot {
	struct auction a;               /* scalars; arrays copied below */
	struct auction_bid bids[MAX_BIDS];
	struct auction_entry entries[MAX_BIDS];
	size_t rank[MAX_BIDS];
	struct model m;
	int64_t best_floor;
};

/* Stop the run with a message: the fuzzer reports the input. */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_auction: invariant violated: %s\n", what);
	abort();
}

/* The model's clock advance (auction_advance's documented rule). */
static void
model_advance(struct model *m, const struct auction_params *p, int64_t now)
{
	if (m->state == AUCTION_SCHEDULED && now >= p->starts_at)
		m->state = AUCTION_RUNNING;
	if (m->state == AUCTION_RUNNING && now >= m->ends_at) {
		m->state = AUCTION_CLOSED;
		m->closed_at = m->ends_at;
	}
}

/* The model's current price of `org`, or -1; its seq in *seq. */
static int64_t
model_own(const struct model *m, int64_t org, int64_t *seq)
{
	int64_t own = -1;

	for (size_t i = 0; i < m->nbids; i++)
		if (m->bids[i].org == org) {
			own = m->bids[i].amount;
			if (seq)
				*seq = m->bids[i].seq;
		}
	return own;
}

/* The model's best (amount, seq) over every bidder's current price; -1 when none. */
static int64_t
model_best(const struct model *m, int64_t *leader)
{
	int64_t best = -1, bseq = 0;

	*leader = 0;
	for (size_t i = 0; i < m->nbids; i++) {
		int64_t seq, own = model_own(m, m->bids[i].org, &seq);

		if (seq != m->bids[i].seq)
			continue;   /* not the bidder's current bid */
		if (best < 0 || own < best || (own == best && seq < bseq)) {
			best = own;
			bseq = seq;
			*leader = m->bids[i].org;
		}
	}
	return best;
}

/* The refusal the rulebook gives to a bid (after the clock advance), or OK. */
static enum auction_err
model_judge(const struct model *m, const struct auction_params *p, int64_t org, int64_t amount,
    int64_t now, int *took_lead)
{
	int64_t leader, best = model_best(m, &leader), own = model_own(m, org, NULL);
	int64_t ref = best < 0 ? p->start_price : best;

	*took_lead = 0;
	if (m->state == AUCTION_CANCELLED)
		return AUCTION_E_CANCELLED;
	if (m->state == AUCTION_CLOSED || now >= m->ends_at)
		return AUCTION_E_ENDED;
	if (m->state == AUCTION_SCHEDULED || now < p->starts_at)
		return AUCTION_E_NOT_STARTED;
	if (org == p->buyer_org)
		return AUCTION_E_OWN_AUCTION;
	if (amount <= 0)
		return AUCTION_E_NOT_POSITIVE;
	if (amount >= p->start_price)
		return AUCTION_E_NOT_BELOW_START;
	if (own >= 0 && amount >= own)
		return AUCTION_E_NOT_BELOW_OWN;
	if (own >= 0 && leader == org)
		return AUCTION_E_WHILE_LEADING;
	if (amount < ref) {
		*took_lead = 1;
		if (ref - amount < p->step_min)
			return AUCTION_E_STEP_TOO_SMALL;
		if (ref - amount > p->step_max)
			return AUCTION_E_STEP_TOO_LARGE;
	}
	return m->nbids >= MAX_BIDS ? AUCTION_E_NOMEM : AUCTION_OK;
}

/* Append an accepted bid to the model. */
static void
model_append(struct model *m, int64_t id, int64_t org, int64_t amount, int64_t at)
{
	struct auction_bid *b = &m->bids[m->nbids++];

	b->id = id;
	b->seq = (int64_t)m->nbids;
	b->org = org;
	b->amount = amount;
	b->at = at;
}

/* Check the engine's standings against its bids and the model. */
static void
check_state(const struct auction *a, const struct model *m)
{
	int64_t leader, best = model_best(m, &leader);

	if (a->state != m->state || a->ends_at != m->ends_at || a->closed_at != m->closed_at ||
	    a->extensions != m->extensions || a->nbids != m->nbids)
		fail("state differs from the model");
	for (size_t i = 0; i < a->nbids; i++)
		if (memcmp(&a->bids[i], &m->bids[i], sizeof(a->bids[i])) != 0)
			fail("a bid differs from the model");
	if (auction_best(a) != best)
		fail("best price differs from the model");
	if (best >= 0 && auction_at_rank(a, 1)->org != leader)
		fail("leader differs from the model");
	for (size_t i = 0; i < a->nentries; i++) {
		const struct auction_entry *e = &a->entries[i], *r;
		int64_t seq = 0, own = model_own(m, e->org, &seq);

		if (e->alias != (int)i + 1 || own != e->amount || seq != e->seq)
			fail("an entry differs from the model");
		if (e->bid_index >= a->nbids || a->bids[e->bid_index].seq != e->seq ||
		    a->bids[e->bid_index].org != e->org || a->bids[e->bid_index].at != e->at)
			fail("an entry does not point at its bid");
		for (size_t j = 0; j < i; j++)
			if (a->entries[j].org == e->org)
				fail("two entries for one bidder");
		if (a->rank[i] >= a->nentries)
			fail("rank[] holds an index out of range");
		r = &a->entries[a->rank[i]];
		if (i > 0) {
			/* strictly sorted: no entry twice, so rank[] is a permutation */
			const struct auction_entry *q = &a->entries[a->rank[i - 1]];
			if (q->amount > r->amount || (q->amount == r->amount && q->seq >= r->seq))
				fail("rank[] is not sorted by (amount, seq)");
		}
		if (auction_rank_of(a, r->org) != (int)i + 1 || auction_at_rank(a, (int)i + 1) != r ||
		    auction_entry_of(a, e->org) != e)
			fail("lookups disagree with rank[]");
	}
	/* every bidder of the model has an entry */
	for (size_t i = 0; i < m->nbids; i++)
		if (auction_entry_of(a, m->bids[i].org) == NULL)
			fail("a bidder without an entry");
	if (auction_at_rank(a, 0) != NULL || auction_at_rank(a, (int)a->nentries + 1) != NULL)
		fail("at_rank outside 1..n is not NULL");
	switch (a->state) {
	case AUCTION_SCHEDULED:
		if (auction_next_deadline(a) != a->p.starts_at)
			fail("next deadline of a scheduled auction");
		break;
	case AUCTION_RUNNING:
		if (auction_next_deadline(a) != a->ends_at)
			fail("next deadline of a running auction");
		break;
	default:
		if (auction_next_deadline(a) != -1)
			fail("next deadline of a final auction");
	}
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

/* Copy the engine and the model for a later rollback check. */
static void
snap_take(struct snapshot *s, const struct auction *a, const struct model *m, int64_t floor)
{
	s->a = *a;
	mem_copy(s->bids, a->bids, a->nbids * sizeof(*a->bids));
	mem_copy(s->entries, a->entries, a->nentries * sizeof(*a->entries));
	mem_copy(s->rank, a->rank, a->nentries * sizeof(*a->rank));
	s->m = *m;
	s->best_floor = floor;
}

/* Whether the engine equals the snapshot exactly. */
static int
snap_equal(const struct snapshot *s, const struct auction *a)
{
	return a->state == s->a.state && a->ends_at == s->a.ends_at &&
	    a->extensions == s->a.extensions && a->closed_at == s->a.closed_at &&
	    a->nbids == s->a.nbids && a->nentries == s->a.nentries &&
	    mem_eq(a->bids, s->bids, a->nbids * sizeof(*a->bids)) &&
	    mem_eq(a->entries, s->entries, a->nentries * sizeof(*a->entries)) &&
	    mem_eq(a->rank, s->rank, a->nentries * sizeof(*a->rank));
}

/* An amount near the prices that matter: the reference less a step, own less one, raw. */
static int64_t
pick_amount(struct fin *in, const struct auction *a, int64_t org)
{
	int64_t best = auction_best(a), ref = best < 0 ? a->p.start_price : best;
	const struct auction_entry *own = auction_entry_of(a, org);
	int64_t d = (int64_t)fin_u8(in) - 128;

	switch (fin_u8(in) % 7) {
	case 0:  return sat_add(sat_sub(ref, a->p.step_min), d);
	case 1:  return sat_add(sat_sub(ref, a->p.step_max), d);
	case 2:  return sat_add(own ? own->amount : ref, d);
	case 3:  return sat_add(a->p.start_price, d);
	case 4:  return sat_sub(ref, sat_add(a->p.step_min,
	    (int64_t)(fin_bytes(in, 8) % (uint64_t)(a->p.step_max - a->p.step_min + 1))));
	case 5:  return d;
	default: return fin_i64(in);
	}
}

/* How far the clock moves: a little, to a deadline, or far. */
static int64_t
pick_now(struct fin *in, const struct auction *a, int64_t now)
{
	int64_t dl = auction_next_deadline(a), d = (int64_t)fin_u8(in);

	switch (fin_u8(in) % 5) {
	case 0:  return sat_add(now, d);
	case 1:  return dl > now ? (sat_sub(dl, now) > 2 ? sat_add(dl, d % 3 - 1) : dl) : now;
	case 2:  return sat_add(now, (int64_t)fin_bytes(in, 4));
	case 3:  return sat_add(now, fin_nonneg(in));
	default: return now;
	}
}

/* Decode parameters; 0 when the engine accepts them. */
static int
pick_params(struct fin *in, struct auction_params *p, int64_t *now)
{
	memset(p, 0, sizeof(*p));
	p->buyer_org = 1 + fin_u8(in) % MAX_ORGS;
	p->start_price = fin_i64(in);
	p->step_min = fin_i64(in);
	p->step_max = sat_add(p->step_min, fin_i64(in));
	p->starts_at = fin_i64(in);
	p->ends_at = sat_add(p->starts_at, fin_i64(in));
	p->ext_window = fin_i64(in);
	p->ext_length = fin_i64(in);
	*now = sat_sub(p->starts_at, fin_nonneg(in));
	return auction_params_check(p) == NULL ? 0 : -1;
}

/* One bid through the engine and the model; their answers must agree. */
static void
do_bid(struct fin *in, struct auction *a, struct model *m, int64_t org, int64_t now,
    int64_t *floor, int64_t *next_id)
{
	int64_t amount = pick_amount(in, a, org), ends_before, id = (*next_id)++;
	struct auction_events ev = { 0 };
	const struct auction_event *r, *x;
	enum auction_err want, got;
	int took;

	model_advance(m, &a->p, now);
	want = model_judge(m, &a->p, org, amount, now, &took);
	if (want == AUCTION_E_NOMEM)
		return;   /* the harness's bound, not the engine's */
	ends_before = a->ends_at;
	got = auction_bid(a, id, org, amount, now, &ev);
	if (got != want) {
		fprintf(stderr, "bid org %lld amount %lld at %lld: engine %s, rules %s\n",
		    (long long)org, (long long)amount, (long long)now, auction_err_code(got),
		    auction_err_code(want));
		fail("the engine's answer to a bid differs from the rulebook");
	}
	r = auction_events_find(&ev, AUCTION_EV_BID);
	x = auction_events_find(&ev, AUCTION_EV_EXTENDED);
	if (ev.dropped || (got != AUCTION_OK) != (r == NULL))
		fail("a bid's events disagree with its result");
	if (got != AUCTION_OK)
		return;
	if (now < a->p.starts_at || now >= ends_before || amount <= 0 || amount >= a->p.start_price)
		fail("a bid accepted outside [starts_at, ends_at) or (0, start_price)");
	model_append(m, id, org, amount, now);
	if (took && a->p.ext_window > 0 && (uint64_t)ends_before - (uint64_t)now <=
	    (uint64_t)a->p.ext_window) {
		int64_t end = sat_add(now, a->p.ext_length);
		if (end > m->ends_at) {
			m->ends_at = end;
			m->extensions++;
		}
	}
	if (r->seq != (int64_t)a->nbids || r->rank != auction_rank_of(a, org) ||
	    r->best != auction_best(a) || r->took_lead != took || r->ends_at != a->ends_at ||
	    (x != NULL) != (a->ends_at != ends_before) || (x && !r->took_lead) ||
	    (x && (x->prev_end != ends_before || x->ends_at != a->ends_at ||
	    x->extensions != a->extensions)))
		fail("bid events disagree with the state");
	if (*floor >= 0 && r->best > *floor)
		fail("the best price rose");
	*floor = r->best;
}

/* One seed (scheduled auctions only) through the engine and the model. */
static void
do_seed(struct fin *in, struct auction *a, struct model *m, int64_t org, int64_t *floor,
    int64_t *next_id)
{
	int64_t amount = pick_amount(in, a, org), at = fin_i64(in), id = (*next_id)++;
	enum auction_err want = AUCTION_OK, got;

	if (m->state == AUCTION_CANCELLED)
		want = AUCTION_E_CANCELLED;
	else if (m->state != AUCTION_SCHEDULED)
		want = AUCTION_E_ENDED;
	else if (org == a->p.buyer_org)
		want = AUCTION_E_OWN_AUCTION;
	else if (amount <= 0)
		want = AUCTION_E_NOT_POSITIVE;
	else if (amount > a->p.start_price)
		want = AUCTION_E_NOT_BELOW_START;
	else if (model_own(m, org, NULL) >= 0)
		want = AUCTION_E_NOT_BELOW_OWN;
	else if (m->nbids >= MAX_BIDS)
		return;
	got = auction_seed(a, id, org, amount, at, NULL);
	if (got != want)
		fail("the engine's answer to a seed differs from the rulebook");
	if (got == AUCTION_OK) {
		int64_t leader;

		model_append(m, id, org, amount, at);
		*floor = model_best(m, &leader);
	}
}

/* Proxy bidding on what the run left (see the header comment). */
static void
proxy_phase(struct fin *in, struct auction *a, struct model *m, int64_t now, int64_t *next_id)
{
	struct auction_events ev = { 0 };
	int n = 0;

	for (int k = 0; k < 3 && fin_more(in) && m->nbids + 8 < MAX_BIDS; k++) {
		int64_t org = 1 + fin_u8(in) % MAX_ORGS, best = auction_best(a);
		int64_t ref = best < 0 ? a->p.start_price : best;
		int64_t floor = sat_add(ref, -(int64_t)(fin_u8(in) % 8) * a->p.step_min -
		    (int64_t)(fin_u8(in) % 4));

		ev.n = 0;
		if (auction_proxy_set(a, org, floor, 0, now, &ev) != AUCTION_OK)
			continue;
		n = auction_proxy_run(a, now, next_id, &ev);
		if (n > 3)
			fail("a proxy run placed more than three bids");
		for (int i = 0; i < ev.n; i++) {
			const struct auction_event *e = &ev.ev[i];

			if (e->kind != AUCTION_EV_BID)
				continue;
			if (!e->automatic || !e->took_lead)
				fail("an automatic bid is not marked or did not take the lead");
			if (e->amount < auction_proxy_floor(a, e->org))
				fail("an automatic bid went below its floor");
			model_append(m, e->bid_id, e->org, e->amount, e->at);
			m->bids[m->nbids - 1].automatic = 1;
		}
		m->ends_at = a->ends_at;
		m->extensions = a->extensions;
		if (auction_proxy_run(a, now, next_id, NULL) != 0)
			fail("the proxies were not settled after one run");
		check_state(a, m);
	}
}

/* Run one decoded scenario. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct auction_params p;
	struct auction a;
	static struct model m;
	static struct snapshot snap;
	int64_t now, floor = -1, next_id = 1;
	int marked = 0;
	struct auction_mark mk;

	if (pick_params(&in, &p, &now) != 0)
		return 0;
	auction_init(&a, 1, &p);
	memset(&m, 0, sizeof(m));
	m.state = AUCTION_SCHEDULED;
	m.ends_at = p.ends_at;
	check_state(&a, &m);
	while (fin_more(&in)) {
		uint8_t op = fin_u8(&in);
		int64_t org = 1 + (op >> 4) % MAX_ORGS;

		switch (op % 8) {
		case 0: case 1: case 2:
			now = pick_now(&in, &a, now);
			do_bid(&in, &a, &m, org, now, &floor, &next_id);
			break;
		case 3:
			do_seed(&in, &a, &m, org, &floor, &next_id);
			break;
		case 4: {
			struct auction_events ev = { 0 };
			int was = m.state;

			now = pick_now(&in, &a, now);
			auction_advance(&a, now, &ev);
			model_advance(&m, &p, now);
			if ((auction_events_find(&ev, AUCTION_EV_STARTED) != NULL) !=
			    (was == AUCTION_SCHEDULED && m.state != AUCTION_SCHEDULED) ||
			    (auction_events_find(&ev, AUCTION_EV_CLOSED) != NULL) !=
			    (was != AUCTION_CLOSED && m.state == AUCTION_CLOSED))
				fail("advance events disagree with the state change");
			break;
		}
		case 5: {
			int rc, final;

			now = pick_now(&in, &a, now);
			model_advance(&m, &p, now);
			final = m.state == AUCTION_CLOSED || m.state == AUCTION_CANCELLED;
			rc = auction_cancel(&a, now, NULL);
			if (rc != (final ? -1 : 0))
				fail("cancel of a final auction accepted, or of a live one refused");
			if (!final) {
				m.state = AUCTION_CANCELLED;
				m.closed_at = now;
			}
			break;
		}
		case 6:
			auction_mark(&a, &mk);
			snap_take(&snap, &a, &m, floor);
			marked = 1;
			break;
		default:
			if (!marked)
				break;
			auction_rollback(&a, &mk);
			if (!snap_equal(&snap, &a))
				fail("rollback did not restore the state at its mark");
			m = snap.m;
			floor = snap.best_floor;
			break;
		}
		check_state(&a, &m);
	}
	proxy_phase(&in, &a, &m, now, &next_id);
	auction_free(&a);
	return 0;
}
