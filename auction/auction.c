/*
 * The live auction engine (see auction.h for the rulebook and the formats).
 *
 * Standings: entries[] holds one entry per bidder in alias order; rank[] holds
 * entry indexes sorted best first by the format's `before` (english_reverse:
 * (amount, seq) ascending). A bidder's standing only ever improves, so an
 * accepted bid moves its entry towards the front of rank[] by insertion. Rollback re-derives entries and ranks from the bids that
 * remain, with the same insertion, so they come out identical.
 */
#include "auction/auction.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Validate parameters; returns NULL when valid, else a static message. */
const char *auction_params_check(const struct auction_params *p)
{
	if (p == NULL)
		return "parameters are missing";
	if (p->start_price <= 0)
		return "start price must be above zero";
	if (p->step_min < 1)
		return "minimum step must be at least one minor unit";
	if (p->step_max < p->step_min)
		return "maximum step must not be below the minimum step";
	if (p->ends_at <= p->starts_at)
		return "end time must be after the start time";
	if (p->ext_window < 0)
		return "extension window must not be negative";
	if (p->ext_length < 0)
		return "extension length must not be negative";
	if (p->ext_window > 0 && p->ext_length <= 0)
		return "extension length must be above zero when extensions are enabled";
	if (p->max_extensions < 0)
		return "maximum number of extensions must not be negative";
	if (p->latest_end != 0 && p->latest_end < p->ends_at)
		return "latest end must not be before the end time";
	if (auction_visibility_name(p->visibility) == NULL)
		return "visibility must be rank, rank_and_best or ranking";
	if (p->min_bidders < 0)
		return "minimum number of bidders must not be negative";
	if (p->ninvited > 0 && p->min_bidders > 0 && (size_t)p->min_bidders > p->ninvited)
		return "minimum number of bidders must not exceed the number invited";
	if (p->ninvited > 0 && p->invited == NULL)
		return "the invited organizations are missing";
	for (size_t i = 0; i < p->ninvited; i++) {
		if (p->invited[i] <= 0)
			return "an invited organization id must be above zero";
		if (i > 0 && p->invited[i] <= p->invited[i - 1])
			return "invited organizations must be in ascending order, each once";
		if (p->invited[i] == p->buyer_org)
			return "the buyer's organization cannot be invited";
	}
	return (p->format != NULL ? p->format : &auction_english_reverse)->check(p);
}

/* Initialise an auction in state SCHEDULED with no bids. */
void auction_init(struct auction *a, int64_t id, const struct auction_params *p)
{
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->p = *p;
	if (a->p.format == NULL)
		a->p.format = &auction_english_reverse;
	a->state = AUCTION_SCHEDULED;
	a->ends_at = p->ends_at;
	a->extensions = 0;
	a->closed_at = 0;
	a->clock_close = INT64_MAX;
	if (a->p.format->end != NULL)
		a->clock_close = a->p.format->end(a, -1);
}

/* When the auction closes unless something changes it. */
int64_t auction_end(const struct auction *a)
{
	return a->ends_at < a->clock_close ? a->ends_at : a->clock_close;
}

/* Release the bid and standings arrays; the auction is left empty. */
void auction_free(struct auction *a)
{
	free(a->bids);
	free(a->entries);
	free(a->rank);
	a->bids = NULL;
	a->entries = NULL;
	a->rank = NULL;
	a->nbids = a->capbids = 0;
	a->nentries = a->capentries = 0;
}

/* Append an event of `kind` at `at` to `ev` (may be NULL); returns it, or NULL when not kept. */
static struct auction_event *auction_emit(struct auction_events *ev, enum auction_ev kind,
    int64_t at)
{
	struct auction_event *e;

	if (ev == NULL)
		return NULL;
	if (ev->n < 0 || ev->n >= AUCTION_EVENTS_MAX) {
		ev->dropped++;
		return NULL;
	}
	e = &ev->ev[ev->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->at = at;
	return e;
}

/* The first event of `kind` in the list, or NULL. */
const struct auction_event *auction_events_find(const struct auction_events *ev,
    enum auction_ev kind)
{
	for (int i = 0; ev != NULL && i < ev->n; i++)
		if (ev->ev[i].kind == kind)
			return &ev->ev[i];
	return NULL;
}

/* Move the auction along the clock, appending started and closed events. */
int auction_advance(struct auction *a, int64_t now, struct auction_events *ev)
{
	int n = 0;

	if (a->state == AUCTION_SCHEDULED && now >= a->p.starts_at) {
		a->state = AUCTION_RUNNING;
		auction_emit(ev, AUCTION_EV_STARTED, a->p.starts_at);
		n++;
	}
	if (a->state == AUCTION_RUNNING && !a->paused && now >= auction_end(a)) {
		struct auction_event *e;

		a->state = AUCTION_CLOSED;
		a->closed_at = auction_end(a);
		if ((e = auction_emit(ev, AUCTION_EV_CLOSED, a->closed_at)) != NULL &&
		    auction_winner(a) != NULL) {
			const struct auction_entry *w = auction_winner(a);

			e->bid_id = a->bids[w->bid_index].id;
			e->org = w->org;
			e->amount = w->amount;
		}
		n++;
	}
	return n;
}

/* The next time auction_advance() has work to do, or -1 when none. */
int64_t auction_next_deadline(const struct auction *a)
{
	switch (a->state) {
	case AUCTION_SCHEDULED:
		return a->p.starts_at;
	case AUCTION_RUNNING:
		return a->paused ? -1 : auction_end(a);
	default:
		return -1;
	}
}

/*
 * The bidder index: an open-addressing hash table from org to entry, 2 * capentries
 * slots (a power of two) of uint32_t, each 0 (empty) or an entry index + 1, kept in the
 * same allocation as rank[], after its capentries elements: it grows, and is rebuilt,
 * with rank[]. A lookup is one hash and a short probe instead of a scan of entries[].
 */
static uint32_t *auction_slots(const struct auction *a)
{
	return (uint32_t *)(a->rank + a->capentries);
}

/* The first slot to probe for `org` (mask = slots - 1). */
static size_t auction_slot_of(int64_t org, size_t mask)
{
	uint64_t h = (uint64_t)org * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h ^ (h >> 29)) & mask;
}

/* Record entry `ei` (already holding its org) in the index. */
static void auction_index_add(struct auction *a, size_t ei)
{
	uint32_t *slots = auction_slots(a);
	size_t mask = 2 * a->capentries - 1, i = auction_slot_of(a->entries[ei].org, mask);

	while (slots[i] != 0)
		i = (i + 1) & mask;
	slots[i] = (uint32_t)ei + 1;
}

/* Empty the index and record entries[0..nentries) again. */
static void auction_index_rebuild(struct auction *a)
{
	if (a->capentries == 0)
		return;
	memset(auction_slots(a), 0, 2 * a->capentries * sizeof(uint32_t));
	for (size_t i = 0; i < a->nentries; i++)
		auction_index_add(a, i);
}

/* Index into entries[] of the entry of `org`, or -1 when it has not bid. */
static long auction_find_entry(const struct auction *a, int64_t org)
{
	const uint32_t *slots;
	size_t mask, i;

	if (a->nentries == 0)
		return -1;
	slots = auction_slots(a);
	mask = 2 * a->capentries - 1;
	for (i = auction_slot_of(org, mask); slots[i] != 0; i = (i + 1) & mask)
		if (a->entries[slots[i] - 1].org == org)
			return (long)slots[i] - 1;
	return -1;
}

/*
 * Move the entry at rank position `pos` towards the front until ordered; returns its new
 * position. rank[0..pos) is ordered best first by the format's `before` (a strict total
 * order: sequences differ), so the entries the moved one now ranks before form a suffix
 * of it: a binary search finds where it starts, one memmove opens the slot, and the
 * entries it passed each move back by one.
 */
static size_t auction_rank_sift(struct auction *a, size_t pos)
{
	size_t ei = a->rank[pos], lo = 0, hi = pos;
	const struct auction_entry *e = &a->entries[ei];
	int (*before)(const struct auction_entry *, const struct auction_entry *) = a->p.format->before;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (before(e, &a->entries[a->rank[mid]]))
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < pos) {
		memmove(&a->rank[lo + 1], &a->rank[lo], (pos - lo) * sizeof(a->rank[0]));
		a->rank[lo] = ei;
		for (size_t i = lo + 1; i <= pos; i++)
			a->entries[a->rank[i]].pos = i;
	}
	a->entries[ei].pos = lo;
	return lo;
}

/* Record bids[bi] in its bidder's entry (new on a first bid; capacity must suffice) and re-rank it; returns its 0-based position. */
static size_t auction_apply(struct auction *a, size_t bi)
{
	const struct auction_bid *b = &a->bids[bi];
	long found = auction_find_entry(a, b->org);
	struct auction_entry *e;
	size_t ei, pos;

	if (found < 0) {
		ei = a->nentries++;
		e = &a->entries[ei];
		e->org = b->org;
		e->alias = (int)ei + 1;
		pos = ei;
		a->rank[pos] = ei;
		auction_index_add(a, ei);
	} else {
		ei = (size_t)found;
		e = &a->entries[ei];
		pos = e->pos;
	}
	e->amount = b->amount;
	e->seq = b->seq;
	e->at = b->at;
	e->bid_index = bi;
	return auction_rank_sift(a, pos);
}

/* Make room for one more bid and, when `new_bidder`, one more entry. 0 or -1. */
static int auction_reserve(struct auction *a, int new_bidder)
{
	if (a->nbids == a->capbids) {
		size_t cap = a->capbids ? a->capbids * 2 : 16;
		struct auction_bid *nb;

		if (cap > SIZE_MAX / sizeof(*nb))
			return -1;
		nb = realloc(a->bids, cap * sizeof(*nb));
		if (nb == NULL)
			return -1;
		a->bids = nb;
		a->capbids = cap;
	}
	if (new_bidder && a->nentries == a->capentries) {
		size_t cap = a->capentries ? a->capentries * 2 : 8;
		struct auction_entry *ne;
		size_t *nr;

		if (cap > SIZE_MAX / sizeof(*ne) / 2 || cap > UINT32_MAX / 2)
			return -1;
		/* Both arrays share capentries: it grows only once both have grown. rank[]
		 * carries the bidder index after its elements (auction_slots). */
		ne = realloc(a->entries, cap * sizeof(*ne));
		if (ne == NULL)
			return -1;
		a->entries = ne;
		nr = realloc(a->rank, cap * sizeof(*nr) + 2 * cap * sizeof(uint32_t));
		if (nr == NULL)
			return -1;
		a->rank = nr;
		a->capentries = cap;
		auction_index_rebuild(a);
	}
	return 0;
}

/* A lead-taking bid at `now` (starts_at <= now < ends_at): move the end when
 * inside the window; returns 1 when it moved. */
static int auction_extend(struct auction *a, int64_t now)
{
	/* starts_at <= now < ends_at, so the unsigned difference is exact. */
	uint64_t left = (uint64_t)a->ends_at - (uint64_t)now;
	int64_t end;

	if (a->p.ext_window <= 0 || left > (uint64_t)a->p.ext_window)
		return 0;
	if (a->p.max_extensions > 0 && a->extensions >= a->p.max_extensions)
		return 0;
	/* ext_length >= 0: only a positive now can push the sum past INT64_MAX */
	end = now > 0 && a->p.ext_length > INT64_MAX - now ? INT64_MAX : now + a->p.ext_length;
	/* the latest end moves with the time given back after pauses */
	if (a->p.latest_end > 0 && end > a->p.latest_end + a->paused_ms)
		end = a->p.latest_end + a->paused_ms;
	if (end <= a->ends_at)
		return 0;
	a->ends_at = end;
	a->extensions++;
	return 1;
}

/* Place a bid by `org` at `now`; on refusal nothing but the clock advance changes. */
enum auction_err auction_bid(struct auction *a, int64_t bid_id, int64_t org,
    int64_t amount, int64_t now, struct auction_events *ev)
{
	long found;
	int64_t prev_end = a->ends_at;
	int took_lead = 0, extended = 0;
	enum auction_err err;
	struct auction_bid *b;
	struct auction_event *e;
	size_t pos;

	auction_advance(a, now, ev);

	if (a->state == AUCTION_CANCELLED)
		return AUCTION_E_CANCELLED;
	if (a->state == AUCTION_RUNNING && a->paused)
		return AUCTION_E_PAUSED;
	if (a->state == AUCTION_CLOSED || now >= auction_end(a))
		return AUCTION_E_ENDED;
	if (a->state == AUCTION_SCHEDULED || now < a->p.starts_at)
		return AUCTION_E_NOT_STARTED;
	if (org == a->p.buyer_org)
		return AUCTION_E_OWN_AUCTION;
	if (!auction_is_invited(a, org))
		return AUCTION_E_NOT_INVITED;
	if (amount <= 0)
		return AUCTION_E_NOT_POSITIVE;

	found = auction_find_entry(a, org);
	a->bid_at = now;
	err = a->p.format->bid(a, found >= 0 ? &a->entries[found] : NULL,
	    found >= 0 && a->rank[0] == (size_t)found, amount, &took_lead);
	if (err != AUCTION_OK)
		return err;

	if (auction_reserve(a, found < 0) != 0)
		return AUCTION_E_NOMEM;

	b = &a->bids[a->nbids];
	b->id = bid_id;
	b->seq = (int64_t)a->nbids + 1;
	b->org = org;
	b->amount = amount;
	b->at = now;
	a->nbids++;
	pos = auction_apply(a, a->nbids - 1);

	if (took_lead)
		extended = auction_extend(a, now);
	if (a->p.format->end != NULL)
		a->clock_close = a->p.format->end(a, now);

	if ((e = auction_emit(ev, AUCTION_EV_BID, now)) != NULL) {
		e->bid_id = bid_id;
		e->org = org;
		e->amount = amount;
		e->seq = b->seq;
		e->rank = (int)pos + 1;
		e->best = auction_best(a);
		e->took_lead = took_lead;
		e->ends_at = auction_end(a);
	}
	if (extended && (e = auction_emit(ev, AUCTION_EV_EXTENDED, now)) != NULL) {
		e->bid_id = bid_id;
		e->prev_end = prev_end;
		e->ends_at = a->ends_at;
		e->extensions = a->extensions;
	}
	/* a clock format's end may be this bid (a Dutch acceptance): it closes now */
	if (auction_end(a) <= now)
		auction_advance(a, now, ev);
	return AUCTION_OK;
}

/* Seed a scheduled auction with a bidder's starting price (no step rule; see auction.h). */
enum auction_err auction_seed(struct auction *a, int64_t bid_id, int64_t org, int64_t amount,
    int64_t at, struct auction_events *ev)
{
	struct auction_bid *b;
	struct auction_event *e;
	enum auction_err err;
	size_t pos;

	if (a->state == AUCTION_CANCELLED)
		return AUCTION_E_CANCELLED;
	if (a->state != AUCTION_SCHEDULED)
		return AUCTION_E_ENDED;
	if (org == a->p.buyer_org)
		return AUCTION_E_OWN_AUCTION;
	if (!auction_is_invited(a, org))
		return AUCTION_E_NOT_INVITED;
	if (amount <= 0)
		return AUCTION_E_NOT_POSITIVE;
	if ((err = a->p.format->seed(a, amount)) != AUCTION_OK)
		return err;
	if (auction_find_entry(a, org) >= 0)
		return AUCTION_E_NOT_BELOW_OWN;
	if (auction_reserve(a, 1) != 0)
		return AUCTION_E_NOMEM;

	b = &a->bids[a->nbids];
	b->id = bid_id;
	b->seq = (int64_t)a->nbids + 1;
	b->org = org;
	b->amount = amount;
	b->at = at;
	a->nbids++;
	pos = auction_apply(a, a->nbids - 1);
	if ((e = auction_emit(ev, AUCTION_EV_SEEDED, at)) != NULL) {
		e->bid_id = bid_id;
		e->org = org;
		e->amount = amount;
		e->seq = b->seq;
		e->rank = (int)pos + 1;
		e->best = auction_best(a);
	}
	return AUCTION_OK;
}

/* Cancel a scheduled or running auction at `now`; -1 when already closed or cancelled. */
int auction_cancel(struct auction *a, int64_t now, struct auction_events *ev)
{
	auction_advance(a, now, ev);
	if (a->state == AUCTION_CLOSED || a->state == AUCTION_CANCELLED)
		return -1;
	a->state = AUCTION_CANCELLED;
	a->closed_at = now;
	a->paused = 0;
	auction_emit(ev, AUCTION_EV_CANCELLED, now);
	return 0;
}

/* 1-based rank of `org`, 0 when it has not bid. */
int auction_rank_of(const struct auction *a, int64_t org)
{
	long found = auction_find_entry(a, org);

	if (found < 0)
		return 0;
	return (int)a->entries[found].pos + 1;
}

/* The entry of `org`, or NULL when it has not bid. */
const struct auction_entry *auction_entry_of(const struct auction *a, int64_t org)
{
	long found = auction_find_entry(a, org);

	return found < 0 ? NULL : &a->entries[found];
}

/* The entry at 1-based `rank`, or NULL. */
const struct auction_entry *auction_at_rank(const struct auction *a, int rank)
{
	if (rank < 1 || (size_t)rank > a->nentries)
		return NULL;
	return &a->entries[a->rank[rank - 1]];
}

/* Capture the state needed to undo later changes. */
void auction_mark(const struct auction *a, struct auction_mark *m)
{
	m->nbids = a->nbids;
	m->state = a->state;
	m->ends_at = a->ends_at;
	m->extensions = a->extensions;
	m->closed_at = a->closed_at;
	m->paused = a->paused;
	m->paused_at = a->paused_at;
	m->paused_ms = a->paused_ms;
	m->clock_close = a->clock_close;
}

/* Undo changes made after `m`: drop later bids, restore scalars, rebuild standings. */
void auction_rollback(struct auction *a, const struct auction_mark *m)
{
	if (m->nbids < a->nbids)
		a->nbids = m->nbids;
	a->state = m->state;
	a->ends_at = m->ends_at;
	a->extensions = m->extensions;
	a->closed_at = m->closed_at;
	a->paused = m->paused;
	a->paused_at = m->paused_at;
	a->paused_ms = m->paused_ms;
	a->clock_close = m->clock_close;

	/* Fewer bids never need more entries than were there: no allocation. */
	a->nentries = 0;
	auction_index_rebuild(a);
	for (size_t i = 0; i < a->nbids; i++)
		auction_apply(a, i);
}

/* Stable machine code of an engine result. */
const char *auction_err_code(enum auction_err e)
{
	switch (e) {
	case AUCTION_OK:                return "ok";
	case AUCTION_E_NOT_STARTED:     return "auction_not_started";
	case AUCTION_E_ENDED:           return "auction_ended";
	case AUCTION_E_CANCELLED:       return "auction_cancelled";
	case AUCTION_E_OWN_AUCTION:     return "own_auction";
	case AUCTION_E_NOT_POSITIVE:    return "bid_not_positive";
	case AUCTION_E_NOT_BELOW_START: return "bid_not_below_start_price";
	case AUCTION_E_NOT_BELOW_OWN:   return "bid_not_below_own";
	case AUCTION_E_WHILE_LEADING:   return "bid_while_leading";
	case AUCTION_E_STEP_TOO_SMALL:  return "bid_step_too_small";
	case AUCTION_E_STEP_TOO_LARGE:  return "bid_step_too_large";
	case AUCTION_E_NOMEM:           return "internal";
	case AUCTION_E_NOT_ABOVE_START: return "bid_not_above_start_price";
	case AUCTION_E_NOT_ABOVE_OWN:   return "bid_not_above_own";
	case AUCTION_E_NOT_INVITED:     return "not_found";
	case AUCTION_E_PAUSED:          return "auction_paused";
	case AUCTION_E_NOT_PAUSED:      return "auction_not_paused";
	case AUCTION_E_NOT_CLOCK_PRICE: return "bid_not_clock_price";
	case AUCTION_E_DROPPED_OUT:     return "dropped_out";
	case AUCTION_E_CONFIRMED:       return "level_already_confirmed";
	case AUCTION_E_CLOCK_RULE:      return "not_for_clock_formats";
	}
	return "internal";
}

/* English sentence describing an engine result. */
const char *auction_err_message(enum auction_err e)
{
	switch (e) {
	case AUCTION_OK:
		return "The bid was accepted.";
	case AUCTION_E_NOT_STARTED:
		return "The auction has not started yet.";
	case AUCTION_E_ENDED:
		return "The auction has ended.";
	case AUCTION_E_CANCELLED:
		return "The auction was cancelled.";
	case AUCTION_E_OWN_AUCTION:
		return "The buyer's organization cannot bid in its own auction.";
	case AUCTION_E_NOT_POSITIVE:
		return "The amount must be above zero.";
	case AUCTION_E_NOT_BELOW_START:
		return "The amount must be below the start price.";
	case AUCTION_E_NOT_BELOW_OWN:
		return "The amount must be below your previous bid.";
	case AUCTION_E_WHILE_LEADING:
		return "You hold the best price and may not lower it.";
	case AUCTION_E_STEP_TOO_SMALL:
		return "The bid improves the best price by less than the minimum step.";
	case AUCTION_E_STEP_TOO_LARGE:
		return "The bid improves the best price by more than the maximum step.";
	case AUCTION_E_NOMEM:
		return "Internal error: out of memory.";
	case AUCTION_E_NOT_ABOVE_START:
		return "The amount must be above the start price.";
	case AUCTION_E_NOT_ABOVE_OWN:
		return "The amount must be above your previous bid.";
	case AUCTION_E_NOT_INVITED:
		return "No such auction.";
	case AUCTION_E_PAUSED:
		return "The auction is paused.";
	case AUCTION_E_NOT_PAUSED:
		return "The auction is not paused.";
	case AUCTION_E_NOT_CLOCK_PRICE:
		return "The amount must be the clock price of the moment.";
	case AUCTION_E_DROPPED_OUT:
		return "You did not confirm the previous round's price and are out of this auction.";
	case AUCTION_E_CONFIRMED:
		return "You have already confirmed this round's price.";
	case AUCTION_E_CLOCK_RULE:
		return "A clock auction cannot be paused, resumed or extended.";
	}
	return "Internal error.";
}

/* The bounds a bid by `org` must meet now. */
void auction_bounds(const struct auction *a, int64_t org, struct auction_bounds *out)
{
	long found = auction_find_entry(a, org);

	a->p.format->bounds(a, found >= 0 ? &a->entries[found] : NULL, out);
}

/* Stable name of an event kind. */
const char *auction_ev_name(enum auction_ev kind)
{
	switch (kind) {
	case AUCTION_EV_STARTED:   return "started";
	case AUCTION_EV_SEEDED:    return "seeded";
	case AUCTION_EV_BID:       return "bid";
	case AUCTION_EV_EXTENDED:  return "extended";
	case AUCTION_EV_CLOSED:    return "closed";
	case AUCTION_EV_CANCELLED: return "cancelled";
	case AUCTION_EV_PAUSED:    return "paused";
	case AUCTION_EV_RESUMED:   return "resumed";
	case AUCTION_EV_PROLONGED: return "prolonged";
	}
	return "unknown";
}

/* Lower-case name of a state, as used on the wire. */
const char *auction_state_name(enum auction_state s)
{
	switch (s) {
	case AUCTION_SCHEDULED: return "scheduled";
	case AUCTION_RUNNING:   return "running";
	case AUCTION_CLOSED:    return "closed";
	case AUCTION_CANCELLED: return "cancelled";
	}
	return "unknown";
}

/* Wire name of a visibility, NULL when out of range. */
const char *auction_visibility_name(enum auction_visibility v)
{
	switch (v) {
	case AUCTION_VIS_RANK_AND_BEST: return "rank_and_best";
	case AUCTION_VIS_RANK:          return "rank";
	case AUCTION_VIS_RANKING:       return "ranking";
	}
	return NULL;
}

/* The visibility called `name`; 0, or -1 when there is none. */
int auction_visibility_parse(const char *name, enum auction_visibility *out)
{
	for (int v = AUCTION_VIS_RANK_AND_BEST; name != NULL && v <= AUCTION_VIS_RANKING; v++)
		if (strcmp(auction_visibility_name((enum auction_visibility)v), name) == 0) {
			*out = (enum auction_visibility)v;
			return 0;
		}
	return -1;
}

/* Whether `a` is closed or cancelled: every view shows everything but identities then. */
static int auction_final(const struct auction *a)
{
	return a->state == AUCTION_CLOSED || a->state == AUCTION_CANCELLED;
}

/* Whether a competitor sees the best price now. */
int auction_shows_best(const struct auction *a)
{
	return auction_final(a) || a->p.visibility != AUCTION_VIS_RANK;
}

/* Whether a competitor sees the ranking by alias now. */
int auction_shows_ranking(const struct auction *a)
{
	return auction_final(a) || a->p.visibility == AUCTION_VIS_RANKING;
}

/* Whether `org` may take part: the auction is open to all, or `org` is on the sorted list. */
int auction_is_invited(const struct auction *a, int64_t org)
{
	size_t lo = 0, hi = a->p.ninvited;

	if (a->p.ninvited == 0)
		return 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->p.invited[mid] == org)
			return 1;
		if (a->p.invited[mid] < org)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The winner of a closed auction, NULL when there is none (see auction.h). */
const struct auction_entry *auction_winner(const struct auction *a)
{
	if (a->state != AUCTION_CLOSED || auction_unsuccessful(a) != NULL)
		return NULL;
	return &a->entries[a->rank[0]];
}

/* Why a closed auction has no winner; NULL when it has one or is not closed. */
const char *auction_unsuccessful(const struct auction *a)
{
	if (a->state != AUCTION_CLOSED)
		return NULL;
	if (a->nentries == 0)
		return "no_bids";
	if (a->p.min_bidders > 0 && a->nentries < (size_t)a->p.min_bidders)
		return "min_bidders";
	return NULL;
}

/* After the clock advance: whether an operator rule may act on `a` (running), else why not. */
static enum auction_err auction_rule_state(const struct auction *a)
{
	/*
	 * A clock format's price and rounds are a function of the start and the time
	 * (auction/clock.c): a pause would not stop its clock, and a moved end would not add
	 * levels. Operators cancel a clock auction instead.
	 */
	if (auction_format_of(a)->clock != NULL)
		return AUCTION_E_CLOCK_RULE;
	switch (a->state) {
	case AUCTION_SCHEDULED: return AUCTION_E_NOT_STARTED;
	case AUCTION_CLOSED:    return AUCTION_E_ENDED;
	case AUCTION_CANCELLED: return AUCTION_E_CANCELLED;
	default:                return AUCTION_OK;
	}
}

/* Pause a running auction at `now` (see auction.h). */
enum auction_err auction_pause(struct auction *a, int64_t now, struct auction_events *ev)
{
	enum auction_err e;
	struct auction_event *x;

	auction_advance(a, now, ev);
	if ((e = auction_rule_state(a)) != AUCTION_OK)
		return e;
	if (a->paused)
		return AUCTION_E_PAUSED;
	a->paused = 1;
	a->paused_at = now;
	if ((x = auction_emit(ev, AUCTION_EV_PAUSED, now)) != NULL)
		x->ends_at = a->ends_at;
	return AUCTION_OK;
}

/* Resume a paused auction at `now`: the end moves by the pause's length. */
enum auction_err auction_resume(struct auction *a, int64_t now, struct auction_events *ev)
{
	enum auction_err e;
	struct auction_event *x;
	int64_t len, prev = a->ends_at;

	auction_advance(a, now, ev);
	if ((e = auction_rule_state(a)) != AUCTION_OK)
		return e;
	if (!a->paused)
		return AUCTION_E_NOT_PAUSED;
	len = now > a->paused_at ? now - a->paused_at : 0;
	if (len > INT64_MAX - a->ends_at)
		len = INT64_MAX - a->ends_at;
	a->ends_at += len;
	a->paused_ms += len;
	a->paused = 0;
	a->paused_at = 0;
	if ((x = auction_emit(ev, AUCTION_EV_RESUMED, now)) != NULL) {
		x->prev_end = prev;
		x->ends_at = a->ends_at;
		x->amount = len;
	}
	/* a resume at or after the moved end closes it now */
	auction_advance(a, now, ev);
	return AUCTION_OK;
}

/* An operator's extension of a running auction (paused or not) by `ms`. */
enum auction_err auction_prolong(struct auction *a, int64_t now, int64_t ms,
    struct auction_events *ev)
{
	enum auction_err e;
	struct auction_event *x;
	int64_t prev = a->ends_at;

	auction_advance(a, now, ev);
	if ((e = auction_rule_state(a)) != AUCTION_OK)
		return e;
	if (ms <= 0)
		return AUCTION_E_NOT_POSITIVE;
	a->ends_at = ms > INT64_MAX - a->ends_at ? INT64_MAX : a->ends_at + ms;
	if ((x = auction_emit(ev, AUCTION_EV_PROLONGED, now)) != NULL) {
		x->prev_end = prev;
		x->ends_at = a->ends_at;
		x->amount = ms;
	}
	return AUCTION_OK;
}

/* Multi-lot auctions: keep `next` closing at least `stagger` ms after `prev` (auction.h). */
int auction_stagger(struct auction *next, const struct auction *prev, int64_t stagger,
    int64_t now, struct auction_events *ev)
{
	int64_t end = auction_end(prev), need;

	need = stagger > INT64_MAX - end ? INT64_MAX : end + stagger;
	if (next->ends_at >= need)
		return 0;
	return auction_prolong(next, now, need - next->ends_at, ev) == AUCTION_OK ? 1 : -1;
}
