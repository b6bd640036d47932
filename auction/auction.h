/*
 * The live auction engine: a pure, deterministic state machine. A format (the
 * rules: what a bid means, how bidders rank) is a struct auction_format looked
 * up by name; everything else (the clock, extensions, events, rollback) is
 * shared. Formats: "english_reverse" (the default, below) and "english_forward"
 * (its mirror for sales: prices rise, the highest wins; see
 * docs/auction-rules.md).
 *
 * Commands and `now` (int64 milliseconds since the Unix epoch) go in; results
 * and events (what changed, below) come out. It never reads the clock, never
 * does I/O, never exits. Amounts are
 * int64 minor units of the auction's currency. Bidders are organizations: two
 * certificates of one company are one bidder.
 *
 * Default rulebook (public 44-FZ rules, every number a parameter):
 *  - 0 < amount < start price (a bid seeded before the start with
 *    auction_seed() may equal the start price);
 *  - a bidder may not bid at or above its own previous bid, nor lower its
 *    price while it holds the lead;
 *  - a bid that takes the lead (strictly below the best price, or the start
 *    price when there are no bids) must beat that reference by at least
 *    step_min and at most step_max;
 *  - a bid that does not take the lead (amount >= best) may still improve the
 *    bidder's own rank;
 *  - equal amounts rank by sequence (earlier first);
 *  - a lead-taking bid with (ends_at - now) <= ext_window moves the end to
 *    max(ends_at, now + ext_length);
 *  - the buyer's organization may not bid; bids before starts_at or at/after
 *    ends_at are refused.
 * Extension limits (every format): with max_extensions > 0 the end moves at
 * most that many times; with latest_end > 0 an extension never moves the end
 * past latest_end (an extension that would not move it is no extension).
 *
 * english_forward mirrors it: start price < amount (a seeded bid may equal it);
 * not at or below the bidder's own previous bid, nor raising while leading; a
 * lead-taking bid (strictly above the best, or the start price) beats it by
 * step_min..step_max; ties rank by sequence.
 */
#ifndef TENDERD_AUCTION_H
#define TENDERD_AUCTION_H

#include "auction/engine.h"

/* Wire name of a visibility ("rank", "rank_and_best", "ranking"). */
const char *auction_visibility_name(enum auction_visibility v);

/* The visibility called `name` into *out; 0, or -1 when there is none. */
int auction_visibility_parse(const char *name, enum auction_visibility *out);

/* Whether `org` may take part in `a`: 1 when the auction is open to all or `org` is invited. */
int auction_is_invited(const struct auction *a, int64_t org);

/* The winner of a closed auction: the entry at rank 1, or NULL when it is not closed or is
 * unsuccessful (nobody bid, or fewer distinct bidders than min_bidders). */
const struct auction_entry *auction_winner(const struct auction *a);

/* Why a closed auction is unsuccessful: NULL when it has a winner (or is not closed),
 * "no_bids", or "min_bidders" (fewer distinct bidders than the rule asks). */
const char *auction_unsuccessful(const struct auction *a);

/* Whether a competitor sees the best price of `a` now (always once it is final). */
int auction_shows_best(const struct auction *a);

/* Whether a competitor sees the ranking (by alias) of `a` now (always once it is final). */
int auction_shows_ranking(const struct auction *a);

/* Validate parameters; returns NULL when valid, else a static message. */
const char *auction_params_check(const struct auction_params *p);

/* Initialise `a` (state SCHEDULED, no bids). `p` must have passed the check. */
void auction_init(struct auction *a, int64_t id, const struct auction_params *p);
void auction_free(struct auction *a);

/*
 * Move the auction along the clock: SCHEDULED -> RUNNING at starts_at,
 * RUNNING -> CLOSED at ends_at (closed_at = ends_at, not now: an auction whose
 * end passed while nobody looked closes with the result it had at its end).
 * Both may happen in one call; each appends its event to `ev` (may be NULL).
 * Returns the number of events appended.
 */
int auction_advance(struct auction *a, int64_t now, struct auction_events *ev);

/* When the auction closes unless something changes it: min(ends_at, clock_close). */
int64_t auction_end(const struct auction *a);

/* The next time auction_advance() has work to do, or -1 when none. */
int64_t auction_next_deadline(const struct auction *a);

/*
 * Place a bid by `org` at `now`. Calls auction_advance(a, now, ev) first. On
 * success appends the bid (with `bid_id`), updates standings and appends
 * AUCTION_EV_BID (then AUCTION_EV_EXTENDED when it moved the end) to `ev`
 * (may be NULL). On refusal nothing changes beyond that clock advance, whose
 * events are in `ev`.
 */
enum auction_err auction_bid(struct auction *a, int64_t bid_id, int64_t org,
    int64_t amount, int64_t now, struct auction_events *ev);

/*
 * Seed the standings of a scheduled auction with a price set before it starts
 * (a tender_auction carries each admitted bidder's tender price into the
 * auction as its starting rank). No step rule applies: 0 < amount <= start
 * price (a seeded price may equal the start price), one seed per bidder, and
 * only while the auction is SCHEDULED; the clock is not consulted and `at` is
 * recorded as the bid's time. The bid takes the next sequence and ranks like
 * any other; later auction_bid() calls follow the normal rules, a lead-taking
 * bid being measured from the best seeded price. Refusals: cancelled
 * AUCTION_E_CANCELLED; running or closed AUCTION_E_ENDED; the buyer's
 * organization AUCTION_E_OWN_AUCTION; amount <= 0 AUCTION_E_NOT_POSITIVE;
 * above the start price AUCTION_E_NOT_BELOW_START; the org has already bid
 * AUCTION_E_NOT_BELOW_OWN; out of memory AUCTION_E_NOMEM. Accepted:
 * AUCTION_EV_SEEDED is appended to `ev` (may be NULL).
 */
enum auction_err auction_seed(struct auction *a, int64_t bid_id, int64_t org, int64_t amount,
    int64_t at, struct auction_events *ev);

/* Cancel a scheduled or running auction (closed_at = now). Calls
 * auction_advance(a, now, ev) first, so an auction whose end has passed closes
 * with its result instead. Returns 0 (AUCTION_EV_CANCELLED appended to `ev`,
 * which may be NULL), or -1 when already final. */
int auction_cancel(struct auction *a, int64_t now, struct auction_events *ev);

/*
 * Operator rules (every format), each calling auction_advance(a, now, ev) first and appending
 * its event to `ev` (may be NULL); AUCTION_OK or the refusal (nothing changed beyond the
 * clock advance):
 *  - auction_pause: a RUNNING auction stops taking bids and its end stops running
 *    (AUCTION_EV_PAUSED). Refused: scheduled AUCTION_E_NOT_STARTED, closed AUCTION_E_ENDED,
 *    cancelled AUCTION_E_CANCELLED, already paused AUCTION_E_PAUSED.
 *  - auction_resume: a paused auction runs again; its end (and latest end) move by the
 *    pause's length (AUCTION_EV_RESUMED). Refused: not paused AUCTION_E_NOT_PAUSED (or the
 *    refusals of a pause for a final auction).
 *  - auction_prolong: a RUNNING auction (paused or not) ends `ms` (> 0) later
 *    (AUCTION_EV_PROLONGED). Not an extension: not counted in `extensions`, not bound by
 *    max_extensions or latest_end. Refused as a pause is, but a paused auction may be
 *    prolonged.
 * A cancellation of a paused auction is allowed; it ends the pause.
 */
enum auction_err auction_pause(struct auction *a, int64_t now, struct auction_events *ev);
enum auction_err auction_resume(struct auction *a, int64_t now, struct auction_events *ev);
enum auction_err auction_prolong(struct auction *a, int64_t now, int64_t ms,
    struct auction_events *ev);

/* 1-based rank of `org`, 0 when it has not bid. */
int auction_rank_of(const struct auction *a, int64_t org);

/* The entry of `org`, or NULL when it has not bid. */
const struct auction_entry *auction_entry_of(const struct auction *a, int64_t org);

/* The entry at 1-based `rank`, or NULL. */
const struct auction_entry *auction_at_rank(const struct auction *a, int rank);

/* Capture / restore state; rollback drops bids placed after the mark and
 * rebuilds the standings from the remaining bids. */
void auction_mark(const struct auction *a, struct auction_mark *m);
void auction_rollback(struct auction *a, const struct auction_mark *m);

/* The bounds a bid by `org` must meet now (the state as it is; no clock advance). */
void auction_bounds(const struct auction *a, int64_t org, struct auction_bounds *out);

/*
 * Proxy bidding (english formats; docs/auction-rules.md "Proxy bidding"). A bidder leaves a
 * floor (english_reverse: the lowest price it will go to; english_forward: the highest);
 * whenever it does not hold the lead, auction_proxy_run bids for it by the least step
 * (best - step_min; forward best + step_min) as long as that is not beyond its floor.
 *  - auction_proxy_set: `org` sets (or replaces) its floor at `now` (`ref` is the caller's,
 *    kept with it), after auction_advance. AUCTION_EV_PROXY is appended. Refused: a clock
 *    format AUCTION_E_PROXY_CLOCK; another format without proxies (sealed-bid, rounds)
 *    AUCTION_E_PROXY_FORMAT; scheduled AUCTION_E_NOT_STARTED; closed AUCTION_E_ENDED;
 *    cancelled AUCTION_E_CANCELLED; the buyer AUCTION_E_OWN_AUCTION; not invited
 *    AUCTION_E_NOT_INVITED; floor <= 0 AUCTION_E_NOT_POSITIVE; a floor the proxy could never
 *    bid (reverse: at or above the start price, AUCTION_E_NOT_BELOW_START; forward: at or
 *    below it, AUCTION_E_NOT_ABOVE_START). A paused auction takes proxies (they bid once
 *    it resumes). It places no bid: the caller runs the proxies next.
 *  - auction_proxy_withdraw: `org`'s proxy ends (AUCTION_EV_PROXY with amount 0). Refused as
 *    a set is, or AUCTION_E_NO_PROXY when it has none.
 *  - auction_proxy_run: place the automatic bids due at `now` (ids from *next_id, which is
 *    advanced): nothing unless RUNNING and not paused. A war between proxies is resolved
 *    directly: the one with the better floor (ties: the earlier instruction) ends up leading
 *    at the least step beyond the other's floor, or at its own floor; the loser's last bid
 *    stands one step behind it. At most AUCTION_PROXY_BIDS bids; returns how many.
 *  - auction_proxy_floor: `org`'s floor, 0 when it has no proxy.
 *  - auction_bid_auto: replay an automatic bid from the log (as auction_bid, marked
 *    automatic; a war's compressed bid may move the best by more than step_max).
 */
enum auction_err auction_proxy_set(struct auction *a, int64_t org, int64_t floor, int64_t ref,
    int64_t now, struct auction_events *ev);
enum auction_err auction_proxy_withdraw(struct auction *a, int64_t org, int64_t now,
    struct auction_events *ev);
int auction_proxy_run(struct auction *a, int64_t now, int64_t *next_id, struct auction_events *ev);
int64_t auction_proxy_floor(const struct auction *a, int64_t org);
const struct auction_proxy *auction_proxy_of(const struct auction *a, int64_t org);
enum auction_err auction_bid_auto(struct auction *a, int64_t bid_id, int64_t org, int64_t amount,
    int64_t now, struct auction_events *ev);

/*
 * Multi-lot auctions, staggered closing: lot `next` must close at least `stagger` ms (> 0)
 * after lot `prev` (the lot before it in its event). When it would close sooner, its end
 * moves to exactly auction_end(prev) + stagger at `now`, as an auction_prolong (a
 * PROLONGED event appended to `ev`, which may be NULL; not an extension: no count, no
 * limit). Returns 1 when it moved, 0 when it already keeps the stagger, -1 when `next`
 * cannot move (not running, or a clock format; the clock advance's events are in `ev`).
 */
int auction_stagger(struct auction *next, const struct auction *prev, int64_t stagger,
    int64_t now, struct auction_events *ev);

/* Stable machine code ("bid_step_too_small") and English message. */
const char *auction_err_code(enum auction_err e);
const char *auction_err_message(enum auction_err e);
const char *auction_state_name(enum auction_state s);

/*
 * Second-place tail (44-FZ; english_reverse and english_forward, params.tail > 0): when the
 * main phase ends (auction_end(), after every extension) with a winner, the auction stays
 * RUNNING in its tail until tail_end = main end + tail (AUCTION_EV_TAIL at the main end); it
 * closes at tail_end (AUCTION_EV_CLOSED, closed_at = tail_end, with the winner of the main
 * end). Without a winner at the main end (no bids, min_bidders) no tail opens: it closes
 * there. In the tail, from the main end (included) to tail_end (excluded), every bidder that
 * may bid but the winner (AUCTION_E_TAIL_WINNER) may bid a price not better than the final
 * best (reverse: >= it, AUCTION_E_BELOW_FINAL; forward: <= it, AUCTION_E_ABOVE_FINAL) and
 * better than its own previous price (AUCTION_E_NOT_BELOW_OWN / _NOT_ABOVE_OWN), within the
 * start price; no step rule. A tail bid never takes the lead (an equal price ranks after by
 * sequence) and never extends. A pause in the tail stops the tail's clock (resume moves
 * tail_end by its length); an operator's extension in the tail moves tail_end. The main end
 * (ends_at) and the winner do not move in the tail.
 */
#define AUCTION_TAIL_MAX 86400000

/* Whether `a` is in its second-place tail. */
int auction_in_tail(const struct auction *a);

/* When the auction closes unless something changes it: tail_end in the tail, else
 * auction_end(). */
int64_t auction_close_at(const struct auction *a);

/* The winner fixed at the main end, while in the tail or once closed after one; else NULL. */
const struct auction_entry *auction_tail_winner(const struct auction *a);

#endif
