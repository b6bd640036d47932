/*
 * The rounds format (Prozorro's auction with turns; docs/auction-rules.md, "Rounds with
 * turns"): reverse, the lowest price wins.
 *
 * The timeline is a function of the parameters, the start and the number n of initial
 * bidders only (T0 = starts_at, R = T0 + initial + pause, L = n * turn + round_pause):
 *  - the initial phase [T0, T0 + initial): every bidder may place a sealed initial bid
 *    below the start price, and lower it again; nobody sees the others' prices;
 *  - the pause [T0 + initial, R): no bids; at R the initial bids are revealed by alias;
 *  - round k (0 <= k < rounds) [R + k * L, R + k * L + n * turn): turn i is
 *    [R + k * L + i * turn, R + k * L + (i + 1) * turn) and belongs to the bidder i-th in
 *    the round's turn order: the standings at the round's start reversed (worst first,
 *    the leader last; of equal prices the later bid goes first). Only that bidder may bid,
 *    once, at least step_min and at most step_max below its OWN price; a turn without a
 *    bid is a pass;
 *  - round_pause between rounds; the end is R + rounds * n * turn + (rounds - 1) *
 *    round_pause. With fewer than two initial bidders there are no rounds: the auction
 *    closes at the end of the initial phase.
 * Nothing about the timeline is stored but the parameters, so a restart continues it; the
 * one piece of state is the turn order of the current round, fixed by the `prepare` hook
 * before the round's first bid (a->turn_order), because that bid moves the standings.
 */
#include "auction/engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The start of the first round. */
static int64_t rounds_first(const struct auction_params *p)
{
	return p->starts_at + p->rounds_initial + p->rounds_pause;
}

/* The length of one round with its following pause, with n bidders. */
static int64_t rounds_period(const struct auction_params *p, int64_t n)
{
	return n * p->rounds_turn + p->rounds_round_pause;
}

/* The end of a rounds auction with n initial bidders (no rounds under two). */
static int64_t rounds_end_for(const struct auction_params *p, int64_t n)
{
	if (n < 2)
		return p->starts_at + p->rounds_initial;
	return rounds_first(p) + p->rounds_count * rounds_period(p, n) - p->rounds_round_pause;
}

/* Whether the timeline with the most bidders fits far inside int64 milliseconds. */
static int rounds_fits(const struct auction_params *p)
{
	const int64_t lim = INT64_MAX / 4;
	int64_t per;

	if (p->starts_at < 0 || p->rounds_initial > lim / 4 || p->rounds_pause > lim / 4 ||
	    p->rounds_turn > lim / 4 / AUCTION_ROUNDS_MAX_BIDDERS ||
	    p->rounds_round_pause > lim / 4)
		return 0;
	per = rounds_period(p, AUCTION_ROUNDS_MAX_BIDDERS);
	return p->rounds_count <= (lim - p->starts_at - p->rounds_initial - p->rounds_pause) / per;
}

/* The latest end (the most bidders), or -1. */
int64_t auction_rounds_latest_end(const struct auction_params *p)
{
	if (p->format != &auction_rounds || p->rounds_initial < 1 || p->rounds_pause < 0 ||
	    p->rounds_count < 1 || p->rounds_turn < 1 || p->rounds_round_pause < 0 ||
	    !rounds_fits(p))
		return -1;
	return rounds_end_for(p, AUCTION_ROUNDS_MAX_BIDDERS);
}

/* Parameter rules: a reverse start, positive phases, no extensions, an end after the last
 * possible round. */
static const char *rounds_check(const struct auction_params *p)
{
	if (p->step_min >= p->start_price)
		return "minimum step must be below the start price";
	if (p->rounds_initial < 1)
		return "the initial phase must last at least 1 ms";
	if (p->rounds_pause < 0 || p->rounds_round_pause < 0)
		return "a pause must not be negative";
	if (p->rounds_count < 1)
		return "there must be at least one round";
	if (p->rounds_turn < 1)
		return "a turn must last at least 1 ms";
	if (p->ext_window != 0 || p->ext_length != 0 || p->max_extensions != 0 || p->latest_end != 0)
		return "a rounds auction has no extensions";
	if (!rounds_fits(p))
		return "the rounds run too long: fewer rounds or shorter turns";
	if (p->ends_at < auction_rounds_latest_end(p))
		return "end time must not be before the last round could end";
	return NULL;
}

/* Where `now` (>= the first round's start) falls: the round (may be >= rounds_count) and the
 * offset in it. */
static void rounds_locate(const struct auction *a, int64_t now, int64_t *round, int64_t *off)
{
	int64_t per = rounds_period(&a->p, (int64_t)a->nentries);

	*round = (now - rounds_first(&a->p)) / per;
	*off = (now - rounds_first(&a->p)) % per;
}

/* The entry index holding turn i of round k. */
static size_t rounds_turn_entry(const struct auction *a, int64_t k, int64_t i)
{
	if (a->turn_round == k)
		return a->turn_order[i];
	/* nobody bid in round k yet: the standings are those of its start */
	return a->rank[a->nentries - 1 - (size_t)i];
}

/* The turn index of entry `ei` in round k. */
static int64_t rounds_turn_of(const struct auction *a, int64_t k, size_t ei)
{
	if (a->turn_round == k) {
		for (size_t i = 0; i < a->nentries; i++)
			if (a->turn_order[i] == ei)
				return (int64_t)i;
		return -1;
	}
	return (int64_t)(a->nentries - 1 - a->entries[ei].pos);
}

/* Fix the turn order of the round at `now` before its first bid changes the standings. */
static enum auction_err rounds_prepare(struct auction *a, int64_t now)
{
	int64_t k, off;

	if (a->nentries < 2 || now < rounds_first(&a->p))
		return AUCTION_OK;
	rounds_locate(a, now, &k, &off);
	if (k >= a->p.rounds_count || off >= (int64_t)a->nentries * a->p.rounds_turn ||
	    a->turn_round == k)
		return AUCTION_OK;
	if (a->turn_cap < a->nentries) {
		size_t *o = realloc(a->turn_order, a->nentries * sizeof(*o));

		if (o == NULL)
			return AUCTION_E_NOMEM;
		a->turn_order = o;
		a->turn_cap = a->nentries;
	}
	for (size_t i = 0; i < a->nentries; i++)
		a->turn_order[i] = a->rank[a->nentries - 1 - i];
	a->turn_round = k;
	return AUCTION_OK;
}

/* An initial bid: below the start price and the bidder's own, at most the bidder cap. */
static enum auction_err rounds_initial_bid(const struct auction *a,
    const struct auction_entry *own, int64_t amount, int *took_lead)
{
	if (amount >= a->p.start_price)
		return AUCTION_E_NOT_BELOW_START;
	if (own != NULL && amount >= own->amount)
		return AUCTION_E_NOT_BELOW_OWN;
	if (own == NULL && a->nentries >= AUCTION_ROUNDS_MAX_BIDDERS)
		return AUCTION_E_TOO_MANY_BIDDERS;
	*took_lead = a->nentries == 0 || amount < auction_best(a);
	return AUCTION_OK;
}

/* Judge a bid at a->bid_at: the initial rules, or the turn rules of a round. */
static enum auction_err rounds_bid(const struct auction *a, const struct auction_entry *own,
    int leads, int64_t amount, int *took_lead)
{
	int64_t now = a->bid_at, k, off, i, start;

	if (now < a->p.starts_at + a->p.rounds_initial)
		return rounds_initial_bid(a, own, amount, took_lead);
	if (own == NULL)
		return AUCTION_E_NOT_INITIAL;
	if (now < rounds_first(&a->p))
		return AUCTION_E_ROUNDS_PAUSE;
	rounds_locate(a, now, &k, &off);
	if (off >= (int64_t)a->nentries * a->p.rounds_turn)
		return AUCTION_E_ROUNDS_PAUSE;
	i = off / a->p.rounds_turn;
	if (&a->entries[rounds_turn_entry(a, k, i)] != own)
		return AUCTION_E_NOT_YOUR_TURN;
	start = now - off % a->p.rounds_turn;
	if (own->at >= start)
		return AUCTION_E_TURN_USED;
	if (amount >= own->amount)
		return AUCTION_E_NOT_BELOW_OWN;
	/* 0 < amount < own->amount: no overflow */
	if (own->amount - amount < a->p.step_min)
		return AUCTION_E_OWN_STEP_SMALL;
	if (own->amount - amount > a->p.step_max)
		return AUCTION_E_OWN_STEP_LARGE;
	*took_lead = amount < auction_best(a);
	return AUCTION_OK;
}

/* A seeded price (a tender's) is an initial bid: at most the start price, within the cap. */
static enum auction_err rounds_seed(const struct auction *a, int64_t amount)
{
	if (amount > a->p.start_price)
		return AUCTION_E_NOT_BELOW_START;
	return a->nentries >= AUCTION_ROUNDS_MAX_BIDDERS ? AUCTION_E_TOO_MANY_BIDDERS : AUCTION_OK;
}

/* Ranking: lower amount first, then earlier sequence. */
static int rounds_before(const struct auction_entry *x, const struct auction_entry *y)
{
	if (x->amount != y->amount)
		return x->amount < y->amount;
	return x->seq < y->seq;
}

/* Bounds: in a round a bid lies step_min..step_max below the bidder's own price; in the
 * initial phase below the start price. */
static void rounds_bounds(const struct auction *a, const struct auction_entry *own,
    struct auction_bounds *out)
{
	memset(out, 0, sizeof(*out));
	out->own = own != NULL ? own->amount : -1;
	out->best_is_start = own == NULL;
	out->reference = own != NULL ? own->amount : a->p.start_price;
	out->lead_max = out->reference - a->p.step_min;
	out->lead_min = out->reference - a->p.step_max;
	if (out->lead_min < 1)
		out->lead_min = 1;
	out->lead_near = out->lead_max;
	out->lead_far = out->lead_min;
}

/* The end from the standings: the initial bidders set the number of turns. */
static int64_t rounds_end(const struct auction *a, int64_t now)
{
	return rounds_end_for(&a->p, (int64_t)a->nentries);
}

/* Whether `a` is a rounds auction whose initial bids are sealed at `now`. */
int auction_rounds_sealed(const struct auction *a, int64_t now)
{
	if (a->p.format != &auction_rounds || a->state == AUCTION_CLOSED ||
	    a->state == AUCTION_CANCELLED)
		return 0;
	return now < rounds_first(&a->p);
}

/* The viewer's turn in round k (-1 when it has none left there), and whether it used it. */
static void rounds_your_turn(const struct auction *a, int64_t k, int64_t now, int64_t org,
    struct auction_rounds_view *out)
{
	const struct auction_entry *own = NULL;
	int64_t start, j;

	for (size_t e = 0; org != 0 && e < a->nentries; e++)
		if (a->entries[e].org == org)
			own = &a->entries[e];
	out->your_turn_at = -1;
	if (own == NULL || k >= a->p.rounds_count)
		return;
	j = rounds_turn_of(a, k, (size_t)(own - a->entries));
	start = rounds_first(&a->p) + k * rounds_period(&a->p, (int64_t)a->nentries) +
	    j * a->p.rounds_turn;
	out->your_turn_used = own->at >= start && now >= start;
	if (now < start + a->p.rounds_turn)
		out->your_turn_at = start;
}

/* The timeline at `now` as `org` sees it (see engine.h). */
int auction_rounds_at(const struct auction *a, int64_t now, int64_t org,
    struct auction_rounds_view *out)
{
	int64_t n = (int64_t)a->nentries, k, off;

	memset(out, 0, sizeof(*out));
	if (a->p.format != &auction_rounds)
		return -1;
	out->ends_at = rounds_end_for(&a->p, n);
	out->sealed = auction_rounds_sealed(a, now);
	out->your_turn_at = -1;
	if (a->state == AUCTION_CLOSED || a->state == AUCTION_CANCELLED || now >= out->ends_at) {
		out->phase = AUCTION_ROUNDS_OVER;
		return 0;
	}
	if (now < a->p.starts_at + a->p.rounds_initial) {
		out->phase = AUCTION_ROUNDS_INITIAL;
		out->phase_ends_at = a->p.starts_at + a->p.rounds_initial;
		return 0;
	}
	out->phase = AUCTION_ROUNDS_PAUSE;
	if (now < rounds_first(&a->p)) {
		out->phase_ends_at = rounds_first(&a->p);
		rounds_your_turn(a, 0, now, org, out);
		return 0;
	}
	rounds_locate(a, now, &k, &off);
	out->round = k;
	if (off >= n * a->p.rounds_turn) {
		out->round = k + 1;
		out->phase_ends_at = now - off + rounds_period(&a->p, n);
		rounds_your_turn(a, k + 1, now, org, out);
		return 0;
	}
	out->phase = AUCTION_ROUNDS_TURN;
	out->turn = off / a->p.rounds_turn;
	out->phase_ends_at = now - off + (out->turn + 1) * a->p.rounds_turn;
	out->turn_org = a->entries[rounds_turn_entry(a, k, out->turn)].org;
	out->turn_alias = a->entries[rounds_turn_entry(a, k, out->turn)].alias;
	rounds_your_turn(a, k, now, org, out);
	return 0;
}

/* The next phase or turn after `now` (struct auction_format's next_step). */
static int64_t rounds_next_step(const struct auction *a, int64_t now)
{
	struct auction_rounds_view rv;

	if (auction_rounds_at(a, now, 0, &rv) < 0 || rv.phase == AUCTION_ROUNDS_OVER)
		return -1;
	return rv.phase_ends_at;
}

const struct auction_format auction_rounds = {
	.name = "rounds", .higher_wins = 0,
	.rule = "lowest price wins; sealed initial bids, then rounds in which each bidder in turn "
	    "(worst price first) may lower its own price",
	.step_word = "minus", .near_word = "at most", .far_word = "at least",
	.improve_word = "lower",
	.check = rounds_check, .bid = rounds_bid, .seed = rounds_seed, .before = rounds_before,
	.bounds = rounds_bounds, .end = rounds_end, .prepare = rounds_prepare,
	.next_step = rounds_next_step, .step_reason = "turn",
};
