/*
 * The engine's data and its format interface (struct auction_format): what the shared
 * engine (auction.c) and every format (english.c, clock.c) read and write. The formats
 * include only this header, so that they stand on the engine's data and not on the engine's
 * code, which picks a format (auction.h has the engine's operations; format.c the registry).
 */
#ifndef TENDERD_AUCTION_ENGINE_H
#define TENDERD_AUCTION_ENGINE_H

#include <stddef.h>
#include <stdint.h>

enum auction_state {
	AUCTION_SCHEDULED = 0,
	AUCTION_RUNNING,
	AUCTION_CLOSED,
	AUCTION_CANCELLED,
};

enum auction_err {
	AUCTION_OK = 0,
	AUCTION_E_NOT_STARTED,      /* "auction_not_started" */
	AUCTION_E_ENDED,            /* "auction_ended" */
	AUCTION_E_CANCELLED,        /* "auction_cancelled" */
	AUCTION_E_OWN_AUCTION,      /* "own_auction" */
	AUCTION_E_NOT_POSITIVE,     /* "bid_not_positive" */
	AUCTION_E_NOT_BELOW_START,  /* "bid_not_below_start_price" */
	AUCTION_E_NOT_BELOW_OWN,    /* "bid_not_below_own" */
	AUCTION_E_WHILE_LEADING,    /* "bid_while_leading" */
	AUCTION_E_STEP_TOO_SMALL,   /* "bid_step_too_small" */
	AUCTION_E_STEP_TOO_LARGE,   /* "bid_step_too_large" */
	AUCTION_E_NOMEM,            /* "internal" */
	AUCTION_E_NOT_ABOVE_START,  /* "bid_not_above_start_price" (forward) */
	AUCTION_E_NOT_ABOVE_OWN,    /* "bid_not_above_own" (forward) */
	AUCTION_E_NOT_INVITED,      /* "not_found": an invitation-only auction, not invited */
	AUCTION_E_PAUSED,           /* "auction_paused" */
	AUCTION_E_NOT_PAUSED,       /* "auction_not_paused" (resume of a running auction) */
	AUCTION_E_NOT_CLOCK_PRICE,  /* "bid_not_clock_price" (clock formats) */
	AUCTION_E_DROPPED_OUT,      /* "dropped_out" (japanese_reverse) */
	AUCTION_E_CONFIRMED,        /* "level_already_confirmed" (japanese_reverse) */
	AUCTION_E_CLOCK_RULE,       /* "not_for_clock_formats": pause/resume/extend of a clock auction */
	/* Second-place tail (english formats) */
	AUCTION_E_TAIL_WINNER,      /* "tail_winner": the winner may not bid in the tail */
	AUCTION_E_BELOW_FINAL,      /* "bid_below_final_best": a reverse tail bid below the final best */
	AUCTION_E_ABOVE_FINAL,      /* "bid_above_final_best": a forward tail bid above the final best */
	/* rounds format (auction/rounds.c) */
	AUCTION_E_NOT_YOUR_TURN,    /* "not_your_turn": a round's turn belongs to another bidder */
	AUCTION_E_ROUNDS_PAUSE,     /* "rounds_pause": between the initial phase and a round, or rounds */
	AUCTION_E_NOT_INITIAL,      /* "not_initial_bidder": no initial bid, so no turns */
	AUCTION_E_TURN_USED,        /* "turn_already_used": one bid per turn */
	AUCTION_E_OWN_STEP_SMALL,   /* "bid_own_step_too_small": less than step_min below own price */
	AUCTION_E_OWN_STEP_LARGE,   /* "bid_own_step_too_large": more than step_max below own price */
	AUCTION_E_TOO_MANY_BIDDERS, /* "too_many_bidders": more than AUCTION_ROUNDS_MAX_BIDDERS */
	AUCTION_E_ROUNDS_RULE,      /* "not_for_rounds": pause/resume/extend of a rounds auction */
	/* proxy bidding */
	AUCTION_E_PROXY_CLOCK,      /* "proxy_not_for_clock_formats": a proxy in a clock auction */
	AUCTION_E_NO_PROXY,         /* "no_proxy": withdrawing a proxy the bidder does not have */
	AUCTION_E_PROXY_FORMAT,     /* "proxy_not_for_format": a proxy in a sealed-bid or rounds auction */
};

struct auction_format;

/*
 * Visibility (every format): what a competitor (a supplier, or a buyer that does not own the
 * auction) sees while the auction is scheduled or running. Identities are never shown to
 * competitors; the owning buyer and operators see everything, and everyone sees the ranking
 * once the auction is closed or cancelled (docs/auction-rules.md).
 *  - RANK_AND_BEST (the default): the best price and its own rank and price;
 *  - RANK: its own rank and price only (no best price);
 *  - RANKING: the best price and the full ranking by alias.
 */
enum auction_visibility {
	AUCTION_VIS_RANK_AND_BEST = 0,
	AUCTION_VIS_RANK,
	AUCTION_VIS_RANKING,
};

/* Parameters fixed at creation. All times in ms, amounts in minor units. */
struct auction_params {
	int64_t buyer_org;     /* organization that owns the auction */
	int64_t start_price;   /* the ceiling; every bid is strictly below it */
	int64_t step_min;      /* >= 1 */
	int64_t step_max;      /* >= step_min */
	int64_t starts_at;
	int64_t ends_at;       /* scheduled end, before any extension */
	int64_t ext_window;    /* 0 disables extensions */
	int64_t ext_length;
	const struct auction_format *format;  /* NULL: english_reverse */
	int max_extensions;    /* 0: no limit; else at most this many extensions */
	int64_t latest_end;    /* 0: none; else >= ends_at, no extension moves the end past it */
	enum auction_visibility visibility;  /* what competitors see while it runs */
	/* Invitation-only: when ninvited > 0, only these organizations may bid (strictly
	 * ascending ids, the buyer's not among them). The array is the caller's and must outlive
	 * the auction (auction_init keeps the pointer). */
	const int64_t *invited;
	size_t ninvited;
	/* Minimum participation: 0 none; else with fewer than this many distinct bidders at
	 * the end the auction closes unsuccessful (no winner), by rule. */
	int min_bidders;
	/* Clock formats (auction/clock.c; 0 in the others): the clock starts at start_price
	 * and moves by clock_step every clock_interval ms towards clock_limit (dutch_reverse:
	 * up to that ceiling; dutch_forward, japanese_reverse: down to that floor). */
	int64_t clock_step;
	int64_t clock_interval;
	int64_t clock_limit;
	/* Second-place tail (english formats; 0: none): after the main phase ends with a winner,
	 * a window of this many ms in which the other bidders may improve their places, at
	 * prices not better than the final best; it never changes the winner (auction.h). */
	int64_t tail;
	/* Rounds format (auction/rounds.c; 0 in the others), in ms: the initial phase, the
	 * pause before the first round, the number of rounds, one turn, the pause between
	 * rounds. */
	int64_t rounds_initial;
	int64_t rounds_pause;
	int64_t rounds_count;
	int64_t rounds_turn;
	int64_t rounds_round_pause;
};

/* One accepted bid. Bids are append-only and in sequence order. */
struct auction_bid {
	int64_t id;            /* caller-assigned, opaque to the engine */
	int64_t seq;           /* 1, 2, 3, ... within the auction */
	int64_t org;           /* bidder */
	int64_t amount;
	int64_t at;            /* ms */
	/* proxy bidding: placed by the engine on a proxy's standing instruction */
	int automatic;
};

/* One bidder's standing: its current (lowest, latest) bid. */
struct auction_entry {
	int64_t org;
	int alias;             /* 1-based, in order of first bid: "Participant N" */
	int64_t amount;        /* current price */
	int64_t seq;           /* sequence of the bid that set amount */
	int64_t at;            /* time of that bid */
	size_t bid_index;      /* index into bids[] of that bid */
	size_t pos;            /* its position in rank[] (0-based; rank[pos] is this entry) */
};

struct auction {
	int64_t id;
	struct auction_params p;
	enum auction_state state;
	int64_t ends_at;       /* current end, after extensions */
	int extensions;        /* number of extensions so far */
	int64_t closed_at;     /* ms, when closed or cancelled; 0 before */

	struct auction_bid *bids;
	size_t nbids, capbids;

	/* entries[] in alias order; rank[] holds entry indexes, best first. */
	struct auction_entry *entries;
	size_t *rank;
	size_t nentries, capentries;

	/* Operator pause (auction_pause): while paused no bid is accepted and the end does not
	 * run; auction_resume moves the end by the pause's length (and the latest end with it,
	 * paused_ms counting every pause so far). */
	int paused;
	int64_t paused_at;     /* ms, when the current pause began */
	int64_t paused_ms;     /* the length of every finished pause */
	int64_t bid_at;        /* the time of the bid being judged (read by a clock format's bid hook) */
	int64_t clock_close;   /* a clock format's end from its standings (its `end` hook);
	                        * INT64_MAX in the others: the auction closes at
	                        * auction_end() = min(ends_at, clock_close) */
	/* Second-place tail: 0 until the tail opens at the main end (ends_at, which then stays
	 * put); from then on when the tail ends (a pause or an operator's extension in the tail
	 * moves it). The auction stays RUNNING in the tail and closes at tail_end. */
	int64_t tail_end;
	/* Rounds format: the turn order (entry indexes, worst first) of round turn_round
	 * (0-based), fixed by its `prepare` hook before the round's first bid; turn_round -1:
	 * none fixed (the order of a round nobody bid in yet follows from the standings). */
	size_t *turn_order;
	size_t turn_cap;
	int64_t turn_round;
	/* Proxy bidding (english formats; auction_proxy_set): every instruction in order, append-only
	 * like bids[] (rollback drops those after the mark). The proxy of an organization is its
	 * last instruction, when that is not a withdrawal. */
	struct auction_proxy *proxies;
	size_t nproxies, capproxies;
};

/*
 * Events: what an engine call changed, in the order it happened. Every call
 * that changes state (auction_advance, auction_bid, auction_seed,
 * auction_cancel) appends its events to a list the caller provides (may be
 * NULL); the caller empties it (n = 0) before the call. A refused bid or
 * cancellation still reports the clock transitions it made first. One call
 * appends at most 3 events (started, bid, extended; or started, closed; or
 * started, cancelled; with a second-place tail: started, tail, closed; or tail,
 * bid; or tail, paused), so AUCTION_EVENTS_MAX always holds one call's events:
 * no allocation on the bid path. Rolling back (auction_rollback) undoes the
 * events of the calls after the mark; the caller drops what it kept of them.
 */
enum auction_ev {
	AUCTION_EV_STARTED = 0,   /* SCHEDULED -> RUNNING; at = starts_at */
	AUCTION_EV_SEEDED,        /* auction_seed: bid_id, org, amount, seq, rank, best; at = its time */
	AUCTION_EV_BID,           /* an accepted bid: bid_id, org, amount, seq, rank, best,
	                           * took_lead, ends_at (the end after it); at = now */
	AUCTION_EV_EXTENDED,      /* the bid just reported moved the end: bid_id, prev_end,
	                           * ends_at (the new end), extensions; at = now */
	AUCTION_EV_CLOSED,        /* RUNNING -> CLOSED; at = closed_at (the end, not now); the
	                           * winner's bid_id, org, amount (0 when nobody bid, or when
	                           * fewer than min_bidders bid: auction_unsuccessful) */
	AUCTION_EV_CANCELLED,     /* SCHEDULED or RUNNING -> CANCELLED; at = now */
	AUCTION_EV_PAUSED,        /* auction_pause: at = now, ends_at (unchanged) */
	AUCTION_EV_RESUMED,       /* auction_resume: prev_end, ends_at (moved by amount = the
	                           * pause's length in ms); at = now */
	AUCTION_EV_PROLONGED,     /* auction_prolong (an operator's extension): prev_end, ends_at,
	                           * amount = the ms added; at = now */
	/* Second-place tail */
	AUCTION_EV_TAIL,          /* the main phase ended with a winner and the tail opened: at =
	                           * the main end (ends_at = prev_end = it), tail_ends_at; the
	                           * winner's bid_id, org, amount (the final price) */
	/* proxy bidding */
	AUCTION_EV_PROXY,         /* auction_proxy_set / _withdraw: org, amount = the floor (0: the
	                           * proxy was withdrawn); at = now */
};
#define AUCTION_EV_KINDS 11

/* One event (the fields a kind does not name are 0). */
struct auction_event {
	enum auction_ev kind;
	int64_t at;            /* ms */
	int64_t bid_id;
	int64_t org;
	int64_t amount;
	int64_t seq;           /* the bid's sequence */
	int rank;              /* the bidder's rank after the bid, 1-based */
	int took_lead;         /* the bid is the new best price */
	int64_t best;          /* the best price after the bid */
	int64_t ends_at;
	int64_t prev_end;
	int extensions;
	/* Second-place tail: the tail's end (0 before the tail opens) on the events made in the
	 * tail or opening it (tail, bid, paused, resumed, prolonged, closed), and tail = 1 on a
	 * bid placed in the tail. In the tail, paused/resumed/prolonged leave ends_at (the main
	 * end) as it is and move tail_ends_at (prev_end: the tail's end before). */
	int64_t tail_ends_at;
	int tail;
	/* proxy bidding: a bid (AUCTION_EV_BID) the engine placed for a proxy */
	int automatic;
};

/*
 * One call appends at most 3 events of its own (see above); a call that runs the proxies
 * (auction_proxy_run) adds at most AUCTION_PROXY_BIDS automatic bids, each with its
 * extension: 3 + 2 * AUCTION_PROXY_BIDS <= AUCTION_EVENTS_MAX.
 */
#define AUCTION_PROXY_BIDS 4
#define AUCTION_EVENTS_MAX 12

/* The events of one call (`dropped` counts those that found the list full). */
struct auction_events {
	int n;
	int dropped;
	struct auction_event ev[AUCTION_EVENTS_MAX];
};

/* The first event of `kind` in the list, or NULL. */
const struct auction_event *auction_events_find(const struct auction_events *ev,
    enum auction_ev kind);

/* Stable name of an event kind ("started", "bid", ...). */
const char *auction_ev_name(enum auction_ev kind);

/* Everything needed to undo changes made after it (see auction_rollback). */
struct auction_mark {
	size_t nbids;
	enum auction_state state;
	int64_t ends_at;
	int extensions;
	int64_t closed_at;
	int paused;
	int64_t paused_at, paused_ms;
	int64_t clock_close;
	int64_t tail_end;      /* second-place tail */
	/* rounds format */
	int64_t turn_round;
	/* proxy bidding */
	size_t nproxies;
};

/* What a bidder may bid now, for explaining a refusal: amounts in minor units. */
struct auction_bounds {
	int64_t reference;     /* the best price, or the start price when there are no bids */
	int best_is_start;     /* reference is the start price */
	int64_t own;           /* the bidder's current price, -1 when it has not bid */
	int64_t lead_max;      /* the highest lead-taking amount (reverse: reference - step_min) */
	int64_t lead_min;      /* the lowest lead-taking amount (reverse: reference - step_max, >= 1) */
	int64_t lead_near;     /* the lead-taking amount nearest the reference (step_min from it) */
	int64_t lead_far;      /* the one farthest from it (step_max from it, within 1..INT64_MAX) */
};

/* A clock format's clock as one bidder sees it at a time (auction_clock). */
enum auction_clock_status {
	AUCTION_CLOCK_NONE = 0,      /* no bidder asked, or the auction is not running */
	AUCTION_CLOCK_PENDING,       /* it may (dutch) or must (japanese) bid the price by next_step_at */
	AUCTION_CLOCK_CONFIRMED,     /* japanese: it confirmed this round's price */
	AUCTION_CLOCK_OUT,           /* japanese: it dropped out (or never joined) */
};

struct auction_clock {
	int64_t price;               /* the clock price now */
	int64_t next_step_at;        /* when this price ends (the next step, or the close) */
	int64_t round;               /* 0-based level: price = start_price -/+ round * clock_step */
	int64_t last_round;          /* the round at clock_limit */
	int in;                      /* japanese: bidders still in (confirmed this or the last round) */
	enum auction_clock_status status;
};

/*
 * A format: the rules of one kind of auction. The engine calls these hooks;
 * nothing outside auction/ names a format, it asks the format instead.
 *  - check: format-specific parameter rules (the shared ones are checked first).
 *  - bid: judge a bid of `amount` (> 0, state RUNNING, not the buyer) by a
 *    bidder whose current entry is `own` (NULL before its first bid) and who
 *    holds the lead when `leads`; sets *took_lead; AUCTION_OK or the refusal.
 *  - seed: judge a seeded price (> 0; no step rule).
 *  - before: whether entry x ranks strictly before entry y (best first); an
 *    accepted bid moves its bidder's entry towards the front (a sealed format's
 *    replacement may move it back).
 *  - bounds: what a bid by a bidder with entry `own` must meet now.
 * The views read the words: higher_wins (1 when the highest price wins), rule
 * (one line a bidder reads: "lowest price wins"), and for refusal messages
 * step_word ("minus"/"plus": a lead-taking amount from the reference),
 * near_word / far_word ("at most"/"at least": the bound nearest / farthest from
 * the reference) and improve_word ("lower"/"raise": what a leader may not do).
 * Clock formats (auction/clock.c; NULL in the English ones) add:
 *  - clock: the clock at `now` as bidder `org` (0: nobody) sees it (called by
 *    auction_clock() while the auction runs); 0.
 *  - end: when the auction closes given its standings; a->clock_close is set
 *    to it at auction_init (`now` -1) and after every accepted bid (`now` the
 *    bid's time); ends_at, the stored end, does not move. An end at or before
 *    the bid closes the auction in that call (a Dutch acceptance); a later one
 *    is where auction_advance closes it (a Japanese round after which one
 *    bidder, or none, is left): timer-driven transitions need no timer of
 *    their own, and a bid reads the format's time through a->bid_at.
 */
struct auction_format {
	const char *name;
	int higher_wins;
	const char *rule;
	const char *step_word;
	const char *near_word;
	const char *far_word;
	const char *improve_word;
	const char *(*check)(const struct auction_params *p);
	enum auction_err (*bid)(const struct auction *a, const struct auction_entry *own, int leads,
	    int64_t amount, int *took_lead);
	enum auction_err (*seed)(const struct auction *a, int64_t amount);
	int (*before)(const struct auction_entry *x, const struct auction_entry *y);
	void (*bounds)(const struct auction *a, const struct auction_entry *own,
	    struct auction_bounds *out);
	int (*clock)(const struct auction *a, int64_t now, int64_t org, struct auction_clock *out);
	int64_t (*end)(const struct auction *a, int64_t now);
	/* Sealed-bid formats (auction/sealed.c; 0 / NULL in the others):
	 *  - sealed: no price, rank or ranking is shown to anyone while the auction is not
	 *    closed (a bidder sees its own price), and a cancelled one never opens;
	 *  - price_paid: the price the winner is paid (NULL: its own price). */
	int sealed;
	int64_t (*price_paid)(const struct auction *a);
	/* Second-place tail (NULL: the format has none, and refuses a tail parameter): judge a
	 * tail bid of `amount` (> 0) by a bidder that is not the winner, whose entry is `own`
	 * (NULL before its first bid): not better than the final best (the winner's price),
	 * better than its own previous price; no step rule. */
	enum auction_err (*tail_bid)(const struct auction *a, const struct auction_entry *own,
	    int64_t amount);
	/* Rounds format (NULL in the others): called by auction_bid before `bid`, with
	 * a->bid_at set, to fix state the judgement needs (the round's turn order); AUCTION_OK
	 * or a refusal (out of memory). */
	enum auction_err (*prepare)(struct auction *a, int64_t now);
	/* Proxy bidding (auction_proxy_set): 1 when the format takes proxies (the english
	 * formats); the others refuse them (clock formats AUCTION_E_PROXY_CLOCK, the rest
	 * AUCTION_E_PROXY_FORMAT) and never bid for one. */
	int proxy;
	/* Steps of the time (NULL: none): when, after `now`, what a viewer sees changes with the
	 * time alone while the auction runs (a clock format's next step, a rounds auction's next
	 * phase or turn), or -1; auction_next_step bounds it by the end. step_reason names such a
	 * change in a watcher's update ("step", "turn"). */
	int64_t (*next_step)(const struct auction *a, int64_t now);
	const char *step_reason;
};

extern const struct auction_format auction_english_reverse;
extern const struct auction_format auction_english_forward;
extern const struct auction_format auction_dutch_reverse;
extern const struct auction_format auction_dutch_forward;
extern const struct auction_format auction_japanese_reverse;
extern const struct auction_format auction_rounds;

/* The clock of a clock-format auction at `now` as `org` (0: nobody) sees it: 0, or -1
 * when `a` has no clock or is not running at `now` (see struct auction_format). */
int auction_clock(const struct auction *a, int64_t now, int64_t org, struct auction_clock *out);

/* The end of a clock auction whose clock runs to clock_limit (every level offered for one
 * clock_interval), or -1 when `p` names no clock format. */
int64_t auction_clock_end(const struct auction_params *p);

/* When, after `now`, what a viewer of running auction `a` sees next changes with the time
 * alone (a clock step, a rounds phase or turn; struct auction_format's next_step), before its
 * end and not while paused; -1 when nothing does. */
int64_t auction_next_step(const struct auction *a, int64_t now);

/* The format called `name`, or NULL when there is none. */
const struct auction_format *auction_format_find(const char *name);

/* The format of `a` (english_reverse when its parameters named none). */
const struct auction_format *auction_format_of(const struct auction *a);

/* Whether `a` has the default format (english_reverse) and no extension limits: what an
 * auction stored before formats existed is. */
int auction_format_is_default(const struct auction *a);

/* The names of every format, comma-separated, for messages ("english_reverse, ..."). */
const char *auction_format_names(void);

/* Sealed-bid formats (auction/sealed.c): one sealed price per supplier, replaceable until
 * the deadline; the lowest wins; first price pays the winner's price, second price the
 * runner-up's (the start price when it bid alone). */
extern const struct auction_format auction_sealed_first_price;
extern const struct auction_format auction_sealed_second_price;

/* The price the winner of a closed auction is paid (its own price unless its format says
 * otherwise: sealed_second_price), or -1 when there is no winner. */
int64_t auction_price_paid(const struct auction *a);

/* Whether the prices of `a` are sealed now: a sealed format, not closed. */
int auction_is_sealed(const struct auction *a);
/*
 * Rounds format (auction/rounds.c): the timeline at a time, as one bidder sees it. T0 =
 * starts_at; the initial phase [T0, T0 + initial); the pause until R = T0 + initial + pause;
 * round k (0-based) starts at R + k * (n * turn + round_pause), n being the number of
 * initial bidders, and gives turn i its [start + i * turn, start + (i + 1) * turn).
 */
#define AUCTION_ROUNDS_MAX_BIDDERS 100

enum auction_rounds_phase {
	AUCTION_ROUNDS_INITIAL = 0,  /* sealed initial bids */
	AUCTION_ROUNDS_PAUSE,        /* before the first round, or between rounds */
	AUCTION_ROUNDS_TURN,         /* a round: turn `turn` belongs to `turn_org` */
	AUCTION_ROUNDS_OVER,         /* at or after the end */
};

struct auction_rounds_view {
	enum auction_rounds_phase phase;
	int64_t phase_ends_at;       /* when this phase (the initial phase, pause or turn) ends */
	int64_t round;               /* 0-based round now, or the next one during a pause */
	int64_t turn;                /* 0-based turn within the round (TURN) */
	int64_t turn_org;            /* whose turn (TURN) */
	int turn_alias;              /* its alias (TURN) */
	int64_t your_turn_at;        /* the viewer's turn in this (or, in a pause, the next)
	                              * round not yet begun or now; -1 none known */
	int your_turn_used;          /* the viewer bid in its turn of this round */
	int64_t ends_at;             /* the end of the whole auction (initial bidders so far) */
	int sealed;                  /* the initial bids are not revealed yet */
};

/* The timeline of rounds auction `a` at `now` as `org` (0: nobody) sees it: 0, or -1 when `a`
 * is not a rounds auction. */
int auction_rounds_at(const struct auction *a, int64_t now, int64_t org,
    struct auction_rounds_view *out);

/* Whether `a` is a rounds auction whose initial bids are still sealed at `now`. */
int auction_rounds_sealed(const struct auction *a, int64_t now);

/* The latest end of a rounds auction (with AUCTION_ROUNDS_MAX_BIDDERS bidders), or -1 when
 * `p` names no rounds format or the timeline does not fit. */
int64_t auction_rounds_latest_end(const struct auction_params *p);

/* Best price, or -1 when there are no bids. */
static inline int64_t
auction_best(const struct auction *a)
{
	return a->nentries == 0 ? -1 : a->entries[a->rank[0]].amount;
}

/* Proxy bidding: one standing instruction (floor 0: a withdrawal). `ref` is the caller's
 * (tenderd: the participant who gave it); `at` its time. */
struct auction_proxy {
	int64_t org;
	int64_t floor;
	int64_t ref;
	int64_t at;
};

#endif
