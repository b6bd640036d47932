/*
 * The sealed-bid formats: sealed_first_price and sealed_second_price (reverse: the lowest
 * price wins). Each supplier submits one sealed price, strictly below the start price,
 * between the start and the deadline; a later submission replaces its earlier one (the
 * latest counts, ranked by its own time). No step rule, no extension. Nobody sees a price
 * or a rank while the auction runs (server/book.c asks `sealed`); at the deadline the
 * auction opens: the ranking by price (equal prices by the earlier submission), the lowest
 * wins. First price pays the winner's price; second price (Vickrey) pays the runner-up's,
 * or the start price when the winner bid alone (docs/auction-rules.md).
 */
#include "auction/engine.h"

#include <stdint.h>
#include <string.h>

/* Format parameter rules: no extensions of any kind. */
static const char *sealed_check(const struct auction_params *p)
{
	if (p->ext_window != 0 || p->ext_length != 0)
		return "a sealed-bid auction has no extensions (extension_window, extension)";
	if (p->max_extensions != 0 || p->latest_end != 0)
		return "a sealed-bid auction has no extensions (max_extensions, latest_end)";
	if (p->clock_step != 0 || p->clock_interval != 0 || p->clock_limit != 0)
		return "a sealed-bid auction has no clock";
	return NULL;
}

/* Judge a sealed price: below the start price; any earlier one of the bidder is replaced. */
static enum auction_err sealed_bid(const struct auction *a, const struct auction_entry *own,
    int leads, int64_t amount, int *took_lead)
{
	(void)own;
	(void)leads;
	*took_lead = 0;  /* nobody leads while the prices are sealed: no extension follows */
	return amount >= a->p.start_price ? AUCTION_E_NOT_BELOW_START : AUCTION_OK;
}

/* A seeded sealed price may equal the start price, not exceed it. */
static enum auction_err sealed_seed(const struct auction *a, int64_t amount)
{
	return amount > a->p.start_price ? AUCTION_E_NOT_BELOW_START : AUCTION_OK;
}

/* Ranking at the opening: lower price first, then the earlier submission. */
static int sealed_before(const struct auction_entry *x, const struct auction_entry *y)
{
	if (x->amount != y->amount)
		return x->amount < y->amount;
	return x->seq < y->seq;
}

/* Bounds: the only rule is the start price (the reference never shows a sealed price). */
static void sealed_bounds(const struct auction *a, const struct auction_entry *own,
    struct auction_bounds *out)
{
	memset(out, 0, sizeof(*out));
	out->reference = a->p.start_price;
	out->best_is_start = 1;
	out->own = own != NULL ? own->amount : -1;
	out->lead_max = a->p.start_price - 1;
	out->lead_min = 1;
	out->lead_near = out->lead_max;
	out->lead_far = out->lead_min;
}

/* Second price: the runner-up's price, or the start price when the winner bid alone. */
static int64_t sealed_second(const struct auction *a)
{
	return a->nentries >= 2 ? a->entries[a->rank[1]].amount : a->p.start_price;
}

const struct auction_format auction_sealed_first_price = {
	.name = "sealed_first_price", .higher_wins = 0, .rule = "lowest sealed price wins",
	.step_word = "minus", .near_word = "at most", .far_word = "at least",
	.improve_word = "lower",
	.check = sealed_check, .bid = sealed_bid, .seed = sealed_seed,
	.before = sealed_before, .bounds = sealed_bounds,
	.sealed = 1,
};

const struct auction_format auction_sealed_second_price = {
	.name = "sealed_second_price", .higher_wins = 0,
	.rule = "lowest sealed price wins, paid the second-lowest",
	.step_word = "minus", .near_word = "at most", .far_word = "at least",
	.improve_word = "lower",
	.check = sealed_check, .bid = sealed_bid, .seed = sealed_seed,
	.before = sealed_before, .bounds = sealed_bounds,
	.sealed = 1, .price_paid = sealed_second,
};
