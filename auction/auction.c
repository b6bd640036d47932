/*
 * The live auction engine (see auction.h for the rulebook and the formats).
 *
 * Standings: entries[] holds one entry per bidder in alias order; rank[] holds
 * entry indexes sorted best first by the format's `before` (english_reverse:
 * (amount, seq) ascending). A bidder's standing only ever improves (but for a sealed
 * price replaced by a higher one, which moves back), so an accepted bid moves its entry
 * towards the front of rank[] by insertion. Rollback re-derives entries and ranks from the bids that
 * remain, with the same insertion, so they come out identical.
 */
#include "auction/auction.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Validate parameters; returns NULL when valid, else a static message. */
const char *auction_params_check(const struct auction_params *p)
{
	const struct auction_format *fm;
	const char *why;

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
	if (p->tail < 0)
		return "tail must not be negative";
	if (p->tail > AUCTION_TAIL_MAX)
		return "tail must not be longer than a day";
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
	fm = p->format != NULL ? p->format : &auction_english_reverse;
	if ((why = fm->check(p)) != NULL)
		return why;
	if (p->tail > 0 && fm->tail_bid == NULL)
		return "this format has no second-place tail";
	return NULL;
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
	a->turn_round = -1;
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
	free(a->turn_order);
	a->turn_order = NULL;
	a->turn_cap = 0;
	free(a->proxies);
	a->proxies = NULL;
	a->nproxies = a->capproxies = 0;
	a->bids = NULL;
	a->entries = NULL;
	a->rank = NULL;
	a->nbids = a->capbids = 0;
	a->nentries = a->capentries = 0;
}

static const char *auction_short(const struct auction *a);
static void auction_tail_open(struct auction *a, struct auction_events *ev);

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
	if (a->state == AUCTION_RUNNING && !a->paused && a->tail_end == 0 &&
	    now >= auction_end(a) && a->p.tail > 0 && auction_short(a) == NULL) {
		auction_tail_open(a, ev);
		n++;
	}
	if (a->state == AUCTION_RUNNING && !a->paused && now >= auction_close_at(a)) {
		struct auction_event *e;

		a->state = AUCTION_CLOSED;
		a->closed_at = auction_close_at(a);
		if ((e = auction_emit(ev, AUCTION_EV_CLOSED, a->closed_at)) != NULL &&
		    auction_winner(a) != NULL) {
			const struct auction_entry *w = auction_winner(a);

			e->bid_id = a->bids[w->bid_index].id;
			e->org = w->org;
			e->amount = w->amount;
			e->tail_ends_at = a->tail_end;
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
		return a->paused ? -1 : auction_close_at(a);
	default:
		return -1;
	}
}

/* The next step of the time a viewer sees (engine.h). */
int64_t auction_next_step(const struct auction *a, int64_t now)
{
	int64_t t;

	if (a->state != AUCTION_RUNNING || a->paused || a->p.format->next_step == NULL ||
	    (t = a->p.format->next_step(a, now)) < 0 || t <= now || t >= auction_end(a))
		return -1;
	return t;
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

/*
 * Move the entry at rank position `pos` towards the back until ordered (a sealed price
 * replaced by a higher one); returns its new position. rank[pos+1..n) is ordered, so the
 * entries that now rank before it form a prefix of it: found by a binary search.
 */
static size_t auction_rank_sift_back(struct auction *a, size_t pos)
{
	size_t ei = a->rank[pos], lo = pos + 1, hi = a->nentries;
	const struct auction_entry *e = &a->entries[ei];
	int (*before)(const struct auction_entry *, const struct auction_entry *) = a->p.format->before;

	if (lo >= hi || before(e, &a->entries[a->rank[lo]]))
		return pos;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (before(e, &a->entries[a->rank[mid]]))
			hi = mid;
		else
			lo = mid + 1;
	}
	memmove(&a->rank[pos], &a->rank[pos + 1], (lo - 1 - pos) * sizeof(a->rank[0]));
	for (size_t i = pos; i < lo - 1; i++)
		a->entries[a->rank[i]].pos = i;
	a->rank[lo - 1] = ei;
	a->entries[ei].pos = lo - 1;
	return lo - 1;
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
	pos = auction_rank_sift(a, pos);
	/* a sealed price may be replaced by a higher one: its entry moves back */
	return found >= 0 ? auction_rank_sift_back(a, pos) : pos;
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

/* The latest end moved by every pause so far (latest_end > 0), saturating at INT64_MAX. */
static int64_t auction_latest_end(const struct auction *a)
{
	return a->p.latest_end > INT64_MAX - a->paused_ms ? INT64_MAX :
	    a->p.latest_end + a->paused_ms;
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
	if (a->p.latest_end > 0 && end > auction_latest_end(a))
		end = auction_latest_end(a);
	if (end <= a->ends_at)
		return 0;
	a->ends_at = end;
	a->extensions++;
	return 1;
}

/* After the clock advance: whether `org` may bid `amount` in the auction's state (before the
 * format's rules). */
static enum auction_err auction_bid_state(const struct auction *a, int64_t org, int64_t amount,
    int64_t now)
{
	if (a->state == AUCTION_CANCELLED)
		return AUCTION_E_CANCELLED;
	if (a->state == AUCTION_RUNNING && a->paused)
		return AUCTION_E_PAUSED;
	if (a->state == AUCTION_CLOSED || now >= auction_close_at(a))
		return AUCTION_E_ENDED;
	if (a->state == AUCTION_SCHEDULED || now < a->p.starts_at)
		return AUCTION_E_NOT_STARTED;
	if (org == a->p.buyer_org)
		return AUCTION_E_OWN_AUCTION;
	if (!auction_is_invited(a, org))
		return AUCTION_E_NOT_INVITED;
	if (amount <= 0)
		return AUCTION_E_NOT_POSITIVE;
	return AUCTION_OK;
}

/* Judge and record a bid whose state checks passed (an automatic one may move the best by
 * more than step_max: a proxy war's compressed bid); appends its events. */
static enum auction_err auction_place(struct auction *a, int64_t bid_id, int64_t org,
    int64_t amount, int64_t now, int automatic, struct auction_events *ev)
{
	long found = auction_find_entry(a, org);
	int64_t prev_end = a->ends_at;
	int took_lead = 0, extended = 0;
	enum auction_err err;
	struct auction_bid *b;
	struct auction_event *e;
	size_t pos;

	a->bid_at = now;
	if (a->p.format->prepare != NULL && (err = a->p.format->prepare(a, now)) != AUCTION_OK)
		return err;
	found = auction_find_entry(a, org);
	if (auction_in_tail(a))
		err = found >= 0 && a->rank[0] == (size_t)found ? AUCTION_E_TAIL_WINNER :
		    a->p.format->tail_bid(a, found >= 0 ? &a->entries[found] : NULL, amount);
	else
		err = a->p.format->bid(a, found >= 0 ? &a->entries[found] : NULL,
		    found >= 0 && a->rank[0] == (size_t)found, amount, &took_lead);
	if (err == AUCTION_E_STEP_TOO_LARGE && automatic)
		err = AUCTION_OK;
	if (err != AUCTION_OK)
		return err;

	if (auction_reserve(a, found < 0) != 0)
		return AUCTION_E_NOMEM;

	b = &a->bids[a->nbids];
	memset(b, 0, sizeof(*b));  /* padding too: a bid compares whole (fuzz/fuzz_auction.c) */
	b->id = bid_id;
	b->seq = (int64_t)a->nbids + 1;
	b->org = org;
	b->amount = amount;
	b->at = now;
	b->automatic = automatic;
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
		e->tail_ends_at = a->tail_end;
		e->tail = a->tail_end != 0;
		e->automatic = automatic;
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

/* Place a bid by `org` at `now`; on refusal nothing but the clock advance changes. */
enum auction_err auction_bid(struct auction *a, int64_t bid_id, int64_t org,
    int64_t amount, int64_t now, struct auction_events *ev)
{
	enum auction_err err;

	auction_advance(a, now, ev);
	if ((err = auction_bid_state(a, org, amount, now)) != AUCTION_OK)
		return err;
	return auction_place(a, bid_id, org, amount, now, 0, ev);
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
	memset(b, 0, sizeof(*b));
	b->id = bid_id;
	b->seq = (int64_t)a->nbids + 1;
	b->org = org;
	b->amount = amount;
	b->at = at;
	a->nbids++;
	pos = auction_apply(a, a->nbids - 1);
	/* a format whose end follows from its bidders (rounds) counts a seeded one too */
	if (a->p.format->end != NULL)
		a->clock_close = a->p.format->end(a, at);
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
	m->tail_end = a->tail_end;
	m->turn_round = a->turn_round;
	m->nproxies = a->nproxies;
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
	a->tail_end = m->tail_end;
	/* a turn order fixed after the mark was fixed by a bid now undone: the order of that
	 * round follows from the standings again (nobody bid in it any more) */
	if (m->turn_round != a->turn_round)
		a->turn_round = -1;
	if (m->nproxies < a->nproxies)
		a->nproxies = m->nproxies;

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
	case AUCTION_E_TAIL_WINNER:     return "tail_winner";
	case AUCTION_E_BELOW_FINAL:     return "bid_below_final_best";
	case AUCTION_E_ABOVE_FINAL:     return "bid_above_final_best";
	case AUCTION_E_NOT_YOUR_TURN:   return "not_your_turn";
	case AUCTION_E_ROUNDS_PAUSE:    return "rounds_pause";
	case AUCTION_E_NOT_INITIAL:     return "not_initial_bidder";
	case AUCTION_E_TURN_USED:       return "turn_already_used";
	case AUCTION_E_OWN_STEP_SMALL:  return "bid_own_step_too_small";
	case AUCTION_E_OWN_STEP_LARGE:  return "bid_own_step_too_large";
	case AUCTION_E_TOO_MANY_BIDDERS: return "too_many_bidders";
	case AUCTION_E_ROUNDS_RULE:     return "not_for_rounds";
	case AUCTION_E_PROXY_CLOCK:     return "proxy_not_for_clock_formats";
	case AUCTION_E_NO_PROXY:        return "no_proxy";
	case AUCTION_E_PROXY_FORMAT:    return "proxy_not_for_format";
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
	case AUCTION_E_TAIL_WINNER:
		return "You hold the final best price: the second-place tail is for the other bidders.";
	case AUCTION_E_BELOW_FINAL:
		return "A tail bid must not be below the final best price.";
	case AUCTION_E_ABOVE_FINAL:
		return "A tail bid must not be above the final best price.";
	case AUCTION_E_NOT_YOUR_TURN:
		return "It is not your turn.";
	case AUCTION_E_ROUNDS_PAUSE:
		return "No bids are taken during a pause between the phases of a rounds auction.";
	case AUCTION_E_NOT_INITIAL:
		return "Only bidders who placed an initial bid take part in the rounds.";
	case AUCTION_E_TURN_USED:
		return "You have already bid in this turn.";
	case AUCTION_E_OWN_STEP_SMALL:
		return "The bid lowers your own price by less than the minimum step.";
	case AUCTION_E_OWN_STEP_LARGE:
		return "The bid lowers your own price by more than the maximum step.";
	case AUCTION_E_TOO_MANY_BIDDERS:
		return "The auction has as many bidders as it can take.";
	case AUCTION_E_ROUNDS_RULE:
		return "A rounds auction cannot be paused, resumed or extended.";
	case AUCTION_E_PROXY_CLOCK:
		return "A clock auction takes no proxy: bid the clock price yourself.";
	case AUCTION_E_NO_PROXY:
		return "You have no proxy in this auction.";
	case AUCTION_E_PROXY_FORMAT:
		return "Proxy bidding is for the english formats.";
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
	case AUCTION_EV_TAIL:      return "tail";
	case AUCTION_EV_PROXY:     return "proxy";
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
	if (auction_is_sealed(a))
		return 0;
	/* in the tail the final best price is every bidder's floor (ceiling): everyone sees it */
	return auction_final(a) || auction_in_tail(a) || a->p.visibility != AUCTION_VIS_RANK;
}

/* Whether a competitor sees the ranking by alias now. */
int auction_shows_ranking(const struct auction *a)
{
	if (auction_is_sealed(a))
		return 0;
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
	return auction_short(a);
}

/* Why the standings as they are would make no winner: "no_bids", "min_bidders" or NULL. A
 * tail opens only when the main phase has a winner and only adds bidders, so the
 * standings at the tail's end answer as those at the main end did. */
static const char *auction_short(const struct auction *a)
{
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
	/* nor is a rounds auction: its turns are a function of the start and the time */
	if (auction_format_of(a) == &auction_rounds)
		return AUCTION_E_ROUNDS_RULE;
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
	if ((x = auction_emit(ev, AUCTION_EV_PAUSED, now)) != NULL) {
		x->ends_at = a->ends_at;
		x->tail_ends_at = a->tail_end;
	}
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
	/* the pause's length and the moved end saturate at INT64_MAX (times may be negative) */
	len = now > a->paused_at ? (int64_t)((uint64_t)now - (uint64_t)a->paused_at > INT64_MAX ?
	    INT64_MAX : (uint64_t)now - (uint64_t)a->paused_at) : 0;
	if (a->tail_end != 0) {
		/* a pause in the tail: the tail's end moves, the main end stays */
		prev = a->tail_end;
		if (a->tail_end > INT64_MAX - len)
			len = INT64_MAX - a->tail_end;
		a->tail_end += len;
	} else {
		if (a->ends_at > INT64_MAX - len)
			len = INT64_MAX - a->ends_at;
		a->ends_at += len;
		a->paused_ms = a->paused_ms > INT64_MAX - len ? INT64_MAX : a->paused_ms + len;
	}
	a->paused = 0;
	a->paused_at = 0;
	if ((x = auction_emit(ev, AUCTION_EV_RESUMED, now)) != NULL) {
		x->prev_end = prev;
		x->ends_at = a->ends_at;
		x->amount = len;
		x->tail_ends_at = a->tail_end;
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
	if (a->tail_end != 0) {
		/* in the tail the operator prolongs the tail; the main end (and winner) stay */
		prev = a->tail_end;
		a->tail_end = a->tail_end > INT64_MAX - ms ? INT64_MAX : a->tail_end + ms;
	} else {
		a->ends_at = a->ends_at > INT64_MAX - ms ? INT64_MAX : a->ends_at + ms;
	}
	if ((x = auction_emit(ev, AUCTION_EV_PROLONGED, now)) != NULL) {
		x->prev_end = prev;
		x->ends_at = a->ends_at;
		x->amount = ms;
		x->tail_ends_at = a->tail_end;
	}
	return AUCTION_OK;
}

/* The price the winner of a closed auction is paid, or -1 when there is no winner. */
int64_t auction_price_paid(const struct auction *a)
{
	const struct auction_entry *w = auction_winner(a);

	if (w == NULL)
		return -1;
	return auction_format_of(a)->price_paid != NULL ? auction_format_of(a)->price_paid(a) :
	    w->amount;
}

/* Whether the prices of `a` are sealed now: a sealed format that is not closed. */
int auction_is_sealed(const struct auction *a)
{
	return auction_format_of(a)->sealed && a->state != AUCTION_CLOSED;
}

/* ---- second-place tail ---- */

/* Whether `a` is in its second-place tail (running, the main phase over). */
int auction_in_tail(const struct auction *a)
{
	return a->state == AUCTION_RUNNING && a->tail_end != 0;
}

/* When the auction closes unless something changes it: the tail's end once the tail is open,
 * else the main end. */
int64_t auction_close_at(const struct auction *a)
{
	return a->tail_end != 0 ? a->tail_end : auction_end(a);
}

/* The main phase ended with a winner: open the tail from the main end (AUCTION_EV_TAIL). */
static void auction_tail_open(struct auction *a, struct auction_events *ev)
{
	int64_t main_end = auction_end(a);
	const struct auction_entry *w = &a->entries[a->rank[0]];
	struct auction_event *e;

	a->tail_end = main_end > INT64_MAX - a->p.tail ? INT64_MAX : main_end + a->p.tail;
	if ((e = auction_emit(ev, AUCTION_EV_TAIL, main_end)) == NULL)
		return;
	e->bid_id = a->bids[w->bid_index].id;
	e->org = w->org;
	e->amount = w->amount;
	e->ends_at = main_end;
	e->prev_end = main_end;
	e->tail_ends_at = a->tail_end;
}

/* The winner fixed at the main end of an auction in its tail or closed after one, else NULL. */
const struct auction_entry *auction_tail_winner(const struct auction *a)
{
	if (a->tail_end == 0 || a->nentries == 0 ||
	    (a->state != AUCTION_RUNNING && a->state != AUCTION_CLOSED))
		return NULL;
	/* no tail bid ranks before it: rank 1 is the winner of the main end */
	return &a->entries[a->rank[0]];
}

/* ---- proxy bidding (see auction.h) ---- */

/* Whether price x is better than y for the auction's format (reverse: lower). */
static int proxy_better(const struct auction *a, int64_t x, int64_t y)
{
	return a->p.format->higher_wins ? x > y : x < y;
}

/* The price `n` least steps beyond y (reverse: y - n * step_min), or -1 out of range. */
static int64_t proxy_beyond(const struct auction *a, int64_t y, int n)
{
	int64_t d = a->p.step_min * n;

	if (a->p.format->higher_wins)
		return y > INT64_MAX - d ? -1 : y + d;
	return y - d > 0 ? y - d : -1;
}

/* Whether instruction i is the proxy of its organization now (its last, not a withdrawal). */
static int proxy_active(const struct auction *a, size_t i)
{
	if (a->proxies[i].floor <= 0)
		return 0;
	for (size_t j = i + 1; j < a->nproxies; j++)
		if (a->proxies[j].org == a->proxies[i].org)
			return 0;
	return 1;
}

/* The index of `org`'s proxy, or -1. */
static long proxy_find(const struct auction *a, int64_t org)
{
	for (size_t i = a->nproxies; i-- > 0;)
		if (a->proxies[i].org == org)
			return a->proxies[i].floor > 0 ? (long)i : -1;
	return -1;
}

/* The proxy of `org`, or NULL. */
const struct auction_proxy *auction_proxy_of(const struct auction *a, int64_t org)
{
	long i = proxy_find(a, org);

	return i < 0 ? NULL : &a->proxies[i];
}

/* The floor of `org`'s proxy, 0 when none. */
int64_t auction_proxy_floor(const struct auction *a, int64_t org)
{
	const struct auction_proxy *p = auction_proxy_of(a, org);

	return p ? p->floor : 0;
}

/* After the clock advance: whether `org` may give a proxy instruction now. */
static enum auction_err proxy_state(const struct auction *a, int64_t org)
{
	if (a->p.format->clock != NULL)
		return AUCTION_E_PROXY_CLOCK;
	if (!a->p.format->proxy)
		return AUCTION_E_PROXY_FORMAT;
	switch (a->state) {
	case AUCTION_SCHEDULED: return AUCTION_E_NOT_STARTED;
	case AUCTION_CLOSED:    return AUCTION_E_ENDED;
	case AUCTION_CANCELLED: return AUCTION_E_CANCELLED;
	default:                break;
	}
	if (org == a->p.buyer_org)
		return AUCTION_E_OWN_AUCTION;
	if (!auction_is_invited(a, org))
		return AUCTION_E_NOT_INVITED;
	return AUCTION_OK;
}

/* Append an instruction and its event. */
static enum auction_err proxy_append(struct auction *a, int64_t org, int64_t floor, int64_t ref,
    int64_t now, struct auction_events *ev)
{
	struct auction_event *e;

	if (a->nproxies == a->capproxies) {
		size_t cap = a->capproxies ? a->capproxies * 2 : 4;
		struct auction_proxy *np = realloc(a->proxies, cap * sizeof(*np));

		if (np == NULL)
			return AUCTION_E_NOMEM;
		a->proxies = np;
		a->capproxies = cap;
	}
	a->proxies[a->nproxies++] = (struct auction_proxy){ org, floor, ref, now };
	if ((e = auction_emit(ev, AUCTION_EV_PROXY, now)) != NULL) {
		e->org = org;
		e->amount = floor;
	}
	return AUCTION_OK;
}

/* Set `org`'s floor (see auction.h). */
enum auction_err auction_proxy_set(struct auction *a, int64_t org, int64_t floor, int64_t ref,
    int64_t now, struct auction_events *ev)
{
	enum auction_err e;

	auction_advance(a, now, ev);
	if ((e = proxy_state(a, org)) != AUCTION_OK)
		return e;
	if (floor <= 0)
		return AUCTION_E_NOT_POSITIVE;
	if (!proxy_better(a, floor, a->p.start_price))
		return a->p.format->higher_wins ? AUCTION_E_NOT_ABOVE_START : AUCTION_E_NOT_BELOW_START;
	return proxy_append(a, org, floor, ref, now, ev);
}

/* Withdraw `org`'s proxy (see auction.h). */
enum auction_err auction_proxy_withdraw(struct auction *a, int64_t org, int64_t now,
    struct auction_events *ev)
{
	enum auction_err e;
	long i;

	auction_advance(a, now, ev);
	if ((e = proxy_state(a, org)) != AUCTION_OK)
		return e;
	if ((i = proxy_find(a, org)) < 0)
		return AUCTION_E_NO_PROXY;
	return proxy_append(a, org, 0, a->proxies[i].ref, now, ev);
}

/* One side of a proxy war: its last price (the better of its floor and its standing) and its
 * instruction's index (ties: the earlier wins; a bidder without a proxy loses them). */
struct proxy_side {
	int64_t org, last;
	size_t order;
	int set;
};

/* Whether side x ends before side y (a better last price, or the same and earlier). */
static int proxy_ahead(const struct auction *a, const struct proxy_side *x,
    const struct proxy_side *y)
{
	if (!y->set)
		return x->set;
	if (!x->set)
		return 0;
	if (x->last != y->last)
		return proxy_better(a, x->last, y->last);
	return x->order < y->order;
}

/* Place one automatic bid; 0, or -1 when it is refused. */
static int proxy_bid(struct auction *a, int64_t org, int64_t amount, int64_t now,
    int64_t *next_id, struct auction_events *ev)
{
	if (amount <= 0 || auction_bid_state(a, org, amount, now) != AUCTION_OK)
		return -1;
	if (auction_place(a, *next_id, org, amount, now, 1, ev) != AUCTION_OK)
		return -1;
	(*next_id)++;
	return 0;
}

/*
 * The proxies' automatic bids due now. Each round finds the leader (with its proxy, if any)
 * and the challengers: the proxies not leading that may bid one least step beyond the best.
 * The sides rank by last price; the first (W) must end up leading:
 *  - W is a challenger: it bids one least step beyond the best;
 *  - W leads: the best challenger (R) places its last bid, the worse of its floor and one
 *    step behind W's floor (no farther than one step beyond the best), and W answers one
 *    least step beyond it if its floor allows.
 * After W leads and has answered, no challenger is left: any other proxy's floor is at or
 * behind R's, and the best is a step beyond R's last bid. So a run places at most three bids
 * (W's step, R's last bid, W's answer); AUCTION_PROXY_BIDS bounds it all the same.
 */
int auction_proxy_run(struct auction *a, int64_t now, int64_t *next_id, struct auction_events *ev)
{
	int placed = 0;

	if (a->nproxies == 0 || a->state != AUCTION_RUNNING || a->paused ||
	    !a->p.format->proxy)
		return 0;
	while (placed < AUCTION_PROXY_BIDS) {
		int64_t ref = a->nentries ? auction_best(a) : a->p.start_price;
		int64_t next = proxy_beyond(a, ref, 1), lead = a->nentries ? a->entries[a->rank[0]].org : 0;
		struct proxy_side w = { 0 }, c1 = { 0 }, c2 = { 0 }, l = { 0 };

		if (next < 0 || now >= auction_end(a))
			break;
		if (lead) {
			l = (struct proxy_side){ lead, ref, (size_t)-1, 1 };
		}
		for (size_t i = 0; i < a->nproxies; i++) {
			const struct auction_proxy *p = &a->proxies[i];
			struct proxy_side x = { p->org, p->floor, i, 1 };

			if (!proxy_active(a, i))
				continue;
			if (p->org == lead) {
				if (proxy_better(a, p->floor, ref))
					l.last = p->floor;
				l.order = i;
				continue;
			}
			if (proxy_better(a, next, p->floor) || p->org == a->p.buyer_org ||
			    !auction_is_invited(a, p->org))
				continue;  /* cannot reach the next step */
			if (proxy_ahead(a, &x, &c1)) {
				c2 = c1;
				c1 = x;
			} else if (proxy_ahead(a, &x, &c2)) {
				c2 = x;
			}
		}
		if (!c1.set)
			break;
		w = proxy_ahead(a, &c1, &l) ? c1 : l;
		if (w.org != lead) {
			if (proxy_bid(a, w.org, next, now, next_id, ev) < 0)
				break;
			placed++;
			continue;
		}
		{
			/* W leads: R = c1 places its last bid, W answers one step beyond it */
			int64_t back = a->p.format->higher_wins ? w.last - a->p.step_min :
			    w.last > INT64_MAX - a->p.step_min ? INT64_MAX : w.last + a->p.step_min;
			int64_t r = proxy_better(a, back, c1.last) ? c1.last : back, ans;

			if (back <= 0)
				r = c1.last;
			if (proxy_better(a, next, r))
				r = next;  /* no farther than one step beyond the best */
			if (proxy_bid(a, c1.org, r, now, next_id, ev) < 0)
				break;
			placed++;
			ans = proxy_beyond(a, r, 1);
			if (placed < AUCTION_PROXY_BIDS && ans > 0 && !proxy_better(a, ans, w.last) &&
			    proxy_bid(a, w.org, ans, now, next_id, ev) == 0)
				placed++;
		}
	}
	return placed;
}

/* Replay an automatic bid from the log. */
enum auction_err auction_bid_auto(struct auction *a, int64_t bid_id, int64_t org, int64_t amount,
    int64_t now, struct auction_events *ev)
{
	enum auction_err err;

	auction_advance(a, now, ev);
	if ((err = auction_bid_state(a, org, amount, now)) != AUCTION_OK)
		return err;
	return auction_place(a, bid_id, org, amount, now, 1, ev);
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
