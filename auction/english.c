/*
 * The English formats: english_reverse (procurement: prices fall, the lowest
 * wins) and english_forward (sales: prices rise, the highest wins). Each is a
 * struct auction_format (auction.h); the shared engine calls its hooks.
 */
#include "auction/engine.h"

#include <stdint.h>
#include <string.h>

/* Format parameter rules of english_reverse: the first step must fit under the start price. */
static const char *reverse_check(const struct auction_params *p)
{
	if (p->step_min >= p->start_price)
		return "minimum step must be below the start price";
	return NULL;
}

/* Judge a reverse bid: below the start price and the bidder's own; steps when it takes the lead. */
static enum auction_err reverse_bid(const struct auction *a, const struct auction_entry *own,
    int leads, int64_t amount, int *took_lead)
{
	int64_t best, reference;

	if (amount >= a->p.start_price)
		return AUCTION_E_NOT_BELOW_START;
	if (own != NULL) {
		if (amount >= own->amount)
			return AUCTION_E_NOT_BELOW_OWN;
		if (leads)
			return AUCTION_E_WHILE_LEADING;
	}
	best = auction_best(a);
	reference = best < 0 ? a->p.start_price : best;
	*took_lead = amount < reference;
	if (*took_lead) {
		/* 0 < amount < reference <= start_price: the difference cannot overflow. */
		int64_t step = reference - amount;

		if (step < a->p.step_min)
			return AUCTION_E_STEP_TOO_SMALL;
		if (step > a->p.step_max)
			return AUCTION_E_STEP_TOO_LARGE;
	}
	return AUCTION_OK;
}

/* A reverse seed may equal the start price, not exceed it. */
static enum auction_err reverse_seed(const struct auction *a, int64_t amount)
{
	return amount > a->p.start_price ? AUCTION_E_NOT_BELOW_START : AUCTION_OK;
}

/* Reverse ranking: lower amount first, then earlier sequence. */
static int reverse_before(const struct auction_entry *x, const struct auction_entry *y)
{
	if (x->amount != y->amount)
		return x->amount < y->amount;
	return x->seq < y->seq;
}

/* The reference of a bid now: the best price, or the start price before any bid. */
static void english_reference(const struct auction *a, const struct auction_entry *own,
    struct auction_bounds *out)
{
	int64_t best = auction_best(a);

	memset(out, 0, sizeof(*out));
	out->best_is_start = best < 0;
	out->reference = best < 0 ? a->p.start_price : best;
	out->own = own != NULL ? own->amount : -1;
}

/* Reverse bounds: a lead-taking amount lies step_min..step_max below the reference. */
static void reverse_bounds(const struct auction *a, const struct auction_entry *own,
    struct auction_bounds *out)
{
	english_reference(a, own, out);
	out->lead_max = out->reference - a->p.step_min;
	out->lead_min = out->reference - a->p.step_max;
	if (out->lead_min < 1)
		out->lead_min = 1;
	out->lead_near = out->lead_max;
	out->lead_far = out->lead_min;
}

/* Format parameter rules of english_forward: none beyond the shared ones. */
static const char *forward_check(const struct auction_params *p)
{
	return NULL;
}

/* Judge a forward bid: above the start price and the bidder's own; steps when it takes the lead. */
static enum auction_err forward_bid(const struct auction *a, const struct auction_entry *own,
    int leads, int64_t amount, int *took_lead)
{
	int64_t best, reference;

	if (amount <= a->p.start_price)
		return AUCTION_E_NOT_ABOVE_START;
	if (own != NULL) {
		if (amount <= own->amount)
			return AUCTION_E_NOT_ABOVE_OWN;
		if (leads)
			return AUCTION_E_WHILE_LEADING;
	}
	best = auction_best(a);
	reference = best < 0 ? a->p.start_price : best;
	*took_lead = amount > reference;
	if (*took_lead) {
		/* 0 < reference < amount: the difference cannot overflow. */
		int64_t step = amount - reference;

		if (step < a->p.step_min)
			return AUCTION_E_STEP_TOO_SMALL;
		if (step > a->p.step_max)
			return AUCTION_E_STEP_TOO_LARGE;
	}
	return AUCTION_OK;
}

/* A forward seed may equal the start price, not fall below it. */
static enum auction_err forward_seed(const struct auction *a, int64_t amount)
{
	return amount < a->p.start_price ? AUCTION_E_NOT_ABOVE_START : AUCTION_OK;
}

/* Forward ranking: higher amount first, then earlier sequence. */
static int forward_before(const struct auction_entry *x, const struct auction_entry *y)
{
	if (x->amount != y->amount)
		return x->amount > y->amount;
	return x->seq < y->seq;
}

/* Forward bounds: a lead-taking amount lies step_min..step_max above the reference. */
static void forward_bounds(const struct auction *a, const struct auction_entry *own,
    struct auction_bounds *out)
{
	english_reference(a, own, out);
	out->lead_min = out->reference > INT64_MAX - a->p.step_min ? INT64_MAX :
	    out->reference + a->p.step_min;
	out->lead_max = out->reference > INT64_MAX - a->p.step_max ? INT64_MAX :
	    out->reference + a->p.step_max;
	out->lead_near = out->lead_min;
	out->lead_far = out->lead_max;
}

/* Second-place tail, reverse: not below the final best, below the own price and the start. */
static enum auction_err reverse_tail_bid(const struct auction *a, const struct auction_entry *own,
    int64_t amount)
{
	if (amount >= a->p.start_price)
		return AUCTION_E_NOT_BELOW_START;
	if (amount < auction_best(a))
		return AUCTION_E_BELOW_FINAL;
	if (own != NULL && amount >= own->amount)
		return AUCTION_E_NOT_BELOW_OWN;
	return AUCTION_OK;
}

/* Second-place tail, forward: not above the final best, above the own price and the start. */
static enum auction_err forward_tail_bid(const struct auction *a, const struct auction_entry *own,
    int64_t amount)
{
	if (amount <= a->p.start_price)
		return AUCTION_E_NOT_ABOVE_START;
	if (amount > auction_best(a))
		return AUCTION_E_ABOVE_FINAL;
	if (own != NULL && amount <= own->amount)
		return AUCTION_E_NOT_ABOVE_OWN;
	return AUCTION_OK;
}

const struct auction_format auction_english_reverse = {
	.name = "english_reverse", .higher_wins = 0, .rule = "lowest price wins",
	.step_word = "minus", .near_word = "at most", .far_word = "at least",
	.improve_word = "lower",
	.check = reverse_check, .bid = reverse_bid, .seed = reverse_seed,
	.before = reverse_before, .bounds = reverse_bounds,
	.tail_bid = reverse_tail_bid, .proxy = 1,
};

const struct auction_format auction_english_forward = {
	.name = "english_forward", .higher_wins = 1, .rule = "highest price wins",
	.step_word = "plus", .near_word = "at least", .far_word = "at most",
	.improve_word = "raise",
	.check = forward_check, .bid = forward_bid, .seed = forward_seed,
	.before = forward_before, .bounds = forward_bounds,
	.tail_bid = forward_tail_bid, .proxy = 1,
};

/* The format of `a`. */
const struct auction_format *auction_format_of(const struct auction *a)
{
	return a->p.format != NULL ? a->p.format : &auction_english_reverse;
}

/* Whether `a` has the default format and no extension limits. */
int auction_format_is_default(const struct auction *a)
{
	return auction_format_of(a) == &auction_english_reverse && a->p.max_extensions == 0 &&
	    a->p.latest_end == 0;
}
