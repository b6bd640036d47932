/*
 * The clock formats (docs/auction-rules.md): the price is set by a clock, and a bid
 * accepts (Dutch) or confirms (Japanese) the clock price of the moment.
 *
 * The clock: level r (r = 0, 1, ..., last) is offered during
 * [starts_at + r * clock_interval, starts_at + (r + 1) * clock_interval); its price is
 * start_price moved r steps of clock_step towards clock_limit, the last level being
 * clock_limit itself. The clock is a function of the parameters and the time only:
 * nothing about it is stored but the parameters, so a restart continues it.
 *
 *  - dutch_reverse: the price rises from start_price to the ceiling clock_limit; the
 *    first bid at the clock price wins at that price and closes the auction at once.
 *  - dutch_forward: the same with the price falling to the floor clock_limit (sales).
 *  - japanese_reverse: the price falls to the floor clock_limit; every level is a
 *    round. A bidder takes part by confirming level 0 during round 0 and stays in by
 *    confirming each next level during its round; one who lets a round pass drops out
 *    for good. With one bidder left after a round, it wins at its last confirmed
 *    price; when every bidder left lets the same round pass, or the last level is
 *    confirmed by several, the earliest confirmation of the lowest level confirmed
 *    wins. Standings rank (amount, seq) ascending, so that winner is always rank 1,
 *    and the auction's end follows from the standings (japanese_end).
 */
#include "auction/auction.h"

#include <stdint.h>
#include <string.h>

/* The index of the last level: the first one at clock_limit. */
static int64_t clock_last_round(const struct auction_params *p)
{
	int64_t span = p->clock_limit > p->start_price ? p->clock_limit - p->start_price :
	    p->start_price - p->clock_limit;

	return span / p->clock_step + (span % p->clock_step != 0);
}

/* The price of level r (0 <= r). */
static int64_t clock_level(const struct auction_params *p, int64_t r)
{
	if (r >= clock_last_round(p))
		return p->clock_limit;
	/* r * clock_step < |clock_limit - start_price|: no overflow */
	return p->clock_limit > p->start_price ? p->start_price + r * p->clock_step :
	    p->start_price - r * p->clock_step;
}

/* The level offered at `now` (starts_at <= now), capped at the last one. */
static int64_t clock_round_at(const struct auction_params *p, int64_t now)
{
	int64_t r = (now - p->starts_at) / p->clock_interval, last = clock_last_round(p);

	return r > last ? last : r;
}

/* When level r ends. */
static int64_t clock_round_end(const struct auction_params *p, int64_t r)
{
	return p->starts_at + (r + 1) * p->clock_interval;
}

/* Whether the clock's run fits far inside int64 milliseconds (no overflow anywhere). */
static int clock_fits(const struct auction_params *p)
{
	return clock_last_round(p) <= (INT64_MAX / 4 - p->starts_at) / p->clock_interval - 1;
}

/* The end of a clock run to clock_limit, or -1 when `p` names no clock format (or a run
 * too long to compute). */
int64_t auction_clock_end(const struct auction_params *p)
{
	if (p->format == NULL || p->format->clock == NULL || p->clock_step < 1 ||
	    p->clock_interval < 1 || p->clock_limit < 1 || p->starts_at < 0 || !clock_fits(p))
		return -1;
	return clock_round_end(p, clock_last_round(p));
}

/* The clock of `a` at `now` as `org` sees it; -1 when none or not running. */
int auction_clock(const struct auction *a, int64_t now, int64_t org, struct auction_clock *out)
{
	memset(out, 0, sizeof(*out));
	if (a->p.format->clock == NULL || a->state != AUCTION_RUNNING || now < a->p.starts_at ||
	    now >= auction_end(a))
		return -1;
	return a->p.format->clock(a, now, org, out);
}

/* Shared clock rules: positive step and interval, a reachable run, no extensions. */
static const char *clock_check_common(const struct auction_params *p)
{
	int64_t last;

	if (p->clock_step < 1)
		return "clock_step must be at least one minor unit";
	if (p->clock_interval < 1)
		return "clock_interval must be at least 1 ms";
	if (p->clock_limit < 1)
		return "clock_limit must be above zero";
	if (p->ext_window != 0 || p->ext_length != 0 || p->max_extensions != 0 || p->latest_end != 0)
		return "a clock format has no extensions";
	if (p->tail != 0)
		return "a clock format has no second-place tail";
	if (p->starts_at < 0 || !clock_fits(p))
		return "the clock runs too long: raise clock_step or lower clock_interval";
	last = clock_last_round(p);
	if (p->ends_at < clock_round_end(p, last))
		return "end time must not be before the clock reaches clock_limit and offers it "
		    "for one clock_interval";
	return NULL;
}

/* Rules of dutch_reverse: the ceiling is above the start. */
static const char *dutch_rev_check(const struct auction_params *p)
{
	if (p->clock_limit <= p->start_price)
		return "clock_limit (the ceiling) must be above the start price";
	return clock_check_common(p);
}

/* Rules of the falling clocks: the floor is below the start. */
static const char *falling_check(const struct auction_params *p)
{
	if (p->clock_limit >= p->start_price)
		return "clock_limit (the floor) must be below the start price";
	return clock_check_common(p);
}

/* A Dutch bid accepts the clock price of the moment; nothing else is a bid. */
static enum auction_err dutch_bid(const struct auction *a, const struct auction_entry *own,
    int leads, int64_t amount, int *took_lead)
{
	if (amount != clock_level(&a->p, clock_round_at(&a->p, a->bid_at)))
		return AUCTION_E_NOT_CLOCK_PRICE;
	*took_lead = 1;
	return AUCTION_OK;
}

/* Clock formats take no seeded prices: the clock sets every price. */
static enum auction_err clock_seed(const struct auction *a, int64_t amount)
{
	return AUCTION_E_NOT_CLOCK_PRICE;
}

/* Ranking by amount ascending, then sequence (dutch_reverse, japanese_reverse). */
static int low_before(const struct auction_entry *x, const struct auction_entry *y)
{
	if (x->amount != y->amount)
		return x->amount < y->amount;
	return x->seq < y->seq;
}

/* Ranking by amount descending, then sequence (dutch_forward). */
static int high_before(const struct auction_entry *x, const struct auction_entry *y)
{
	if (x->amount != y->amount)
		return x->amount > y->amount;
	return x->seq < y->seq;
}

/* Clock bounds: the only acceptable amount is the clock price. */
static void clock_bounds(const struct auction *a, const struct auction_entry *own,
    struct auction_bounds *out)
{
	int64_t now = a->bid_at < a->p.starts_at ? a->p.starts_at : a->bid_at;

	memset(out, 0, sizeof(*out));
	out->reference = clock_level(&a->p, clock_round_at(&a->p, now));
	out->own = own != NULL ? own->amount : -1;
	out->lead_min = out->lead_max = out->lead_near = out->lead_far = out->reference;
}

/* The Dutch clock: one price offered to everybody until somebody accepts. */
static int dutch_clock(const struct auction *a, int64_t now, int64_t org,
    struct auction_clock *out)
{
	out->round = clock_round_at(&a->p, now);
	out->last_round = clock_last_round(&a->p);
	out->price = clock_level(&a->p, out->round);
	out->next_step_at = clock_round_end(&a->p, out->round);
	out->status = org != 0 && org != a->p.buyer_org ? AUCTION_CLOCK_PENDING : AUCTION_CLOCK_NONE;
	return 0;
}

/* Dutch end: the clock's end, or the acceptance (the first accepted bid) at once. */
static int64_t dutch_end(const struct auction *a, int64_t now)
{
	return now < 0 ? auction_clock_end(&a->p) : now;
}

/*
 * The Japanese rules at level r: a bidder is in when it confirmed level r - 1 (or,
 * at r = 0, anybody may join); it may confirm level r once, at exactly its price.
 */
static enum auction_err japanese_bid(const struct auction *a, const struct auction_entry *own,
    int leads, int64_t amount, int *took_lead)
{
	int64_t r = clock_round_at(&a->p, a->bid_at), price = clock_level(&a->p, r);

	if (own != NULL && own->amount == price)
		return AUCTION_E_CONFIRMED;
	if (r > 0 && (own == NULL || own->amount != clock_level(&a->p, r - 1)))
		return AUCTION_E_DROPPED_OUT;
	if (amount != price)
		return AUCTION_E_NOT_CLOCK_PRICE;
	*took_lead = a->nentries == 0 || amount < auction_best(a);
	return AUCTION_OK;
}

/* The bidders at the front of the standings whose price is `level` or below (the lowest
 * levels confirmed rank first). */
static int japanese_count(const struct auction *a, int64_t level)
{
	size_t i = 0;

	while (i < a->nentries && a->entries[a->rank[i]].amount <= level)
		i++;
	return (int)i;
}

/* The round of `level` (a level of the clock). */
static int64_t japanese_round_of(const struct auction_params *p, int64_t level)
{
	int64_t r = (p->start_price - level) / p->clock_step;

	return level == p->clock_limit ? clock_last_round(p) : r;
}

/*
 * The Japanese end from the standings: with nobody in, round 0's end; with the lowest
 * level confirmed k confirmed by one bidder, the end of round k (it is the last one
 * standing unless another confirms k in time); by several, the end of round k + 1
 * (when nobody confirms k + 1 the earliest of them wins), or of k when k is the last.
 */
static int64_t japanese_end(const struct auction *a, int64_t now)
{
	int64_t k, best = auction_best(a);

	if (best < 0)
		return clock_round_end(&a->p, 0);
	k = japanese_round_of(&a->p, best);
	/* one bidder at the lowest level: the next one in the standings is above it (O(1)) */
	if (a->nentries == 1 || a->entries[a->rank[1]].amount != best ||
	    k >= clock_last_round(&a->p))
		return clock_round_end(&a->p, k);
	return clock_round_end(&a->p, k + 1);
}

/* The Japanese clock: this round's price, who is still in, and the viewer's status. */
static int japanese_clock(const struct auction *a, int64_t now, int64_t org,
    struct auction_clock *out)
{
	const struct auction_entry *own = org != 0 ? auction_entry_of(a, org) : NULL;

	out->round = clock_round_at(&a->p, now);
	out->last_round = clock_last_round(&a->p);
	out->price = clock_level(&a->p, out->round);
	out->next_step_at = clock_round_end(&a->p, out->round);
	out->in = japanese_count(a, out->round > 0 ? clock_level(&a->p, out->round - 1) :
	    out->price);
	if (org == 0 || org == a->p.buyer_org)
		out->status = AUCTION_CLOCK_NONE;
	else if (own != NULL && own->amount == out->price)
		out->status = AUCTION_CLOCK_CONFIRMED;
	else if (out->round == 0 ||
	    (own != NULL && own->amount == clock_level(&a->p, out->round - 1)))
		out->status = AUCTION_CLOCK_PENDING;
	else
		out->status = AUCTION_CLOCK_OUT;
	return 0;
}

/* The clock's next step after `now` (struct auction_format's next_step). */
static int64_t clock_next_step(const struct auction *a, int64_t now)
{
	struct auction_clock ck;

	return auction_clock(a, now, 0, &ck) == 0 ? ck.next_step_at : -1;
}

const struct auction_format auction_dutch_reverse = {
	.name = "dutch_reverse", .higher_wins = 0,
	.rule = "the price rises until a supplier accepts it; the first acceptance wins",
	.step_word = "at", .near_word = "exactly", .far_word = "exactly", .improve_word = "change",
	.check = dutch_rev_check, .bid = dutch_bid, .seed = clock_seed, .before = low_before,
	.bounds = clock_bounds, .clock = dutch_clock, .end = dutch_end,
	.next_step = clock_next_step, .step_reason = "step",
};

const struct auction_format auction_dutch_forward = {
	.name = "dutch_forward", .higher_wins = 1,
	.rule = "the price falls until a buyer accepts it; the first acceptance wins",
	.step_word = "at", .near_word = "exactly", .far_word = "exactly", .improve_word = "change",
	.check = falling_check, .bid = dutch_bid, .seed = clock_seed, .before = high_before,
	.bounds = clock_bounds, .clock = dutch_clock, .end = dutch_end,
	.next_step = clock_next_step, .step_reason = "step",
};

const struct auction_format auction_japanese_reverse = {
	.name = "japanese_reverse", .higher_wins = 0,
	.rule = "the price falls each round; confirm every round to stay in; the last one in wins",
	.step_word = "at", .near_word = "exactly", .far_word = "exactly", .improve_word = "change",
	.check = falling_check, .bid = japanese_bid, .seed = clock_seed, .before = low_before,
	.bounds = clock_bounds, .clock = japanese_clock, .end = japanese_end,
	.next_step = clock_next_step, .step_reason = "step",
};
