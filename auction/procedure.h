/*
 * Procurement procedures (RFQ, sealed tender, tender followed by a live
 * auction): a pure, deterministic state machine, like auction.h.
 *
 * Commands and `now` (ms since the epoch) go in, results and events (what
 * changed, below) come out; no clock, no I/O, no floating point. Amounts are int64 minor units. Bidders are
 * organizations. The caller assigns ids (procedure, lot, offer) and keeps
 * everything the rules do not need (titles, items, documents, comments).
 *
 * Lifecycle of a procedure:
 *   draft --publish--> published (enquiries: questions allowed)
 *     --enquiry_end--> tendering (offers submitted, revised, withdrawn)
 *     --opening_at--> opened (every lot's offers open together; lots with
 *        fewer live offers than min_bids become unsuccessful)
 *     --first evaluation action--> evaluation
 *        (tender_auction: lots with enough offers go to a live auction; the
 *         caller reports each auction's ranking with proc_auction_result)
 *     --every lot awarded or unsuccessful--> awarded (at least one lot
 *        awarded) or unsuccessful (none)
 *     --proc_complete--> complete
 *   any state before awarded --cancel--> cancelled.
 * submission_deadline <= opening_at; offers are accepted while tendering and
 * now < submission_deadline.
 */
#ifndef TENDERD_PROCEDURE_H
#define TENDERD_PROCEDURE_H

#include <stddef.h>
#include <stdint.h>

#define PROC_MAX_LOTS 50
#define PROC_MAX_CRITERIA 8     /* criterion 0 is always the price */
#define PROC_SCORE_SCALE 100    /* scores are in hundredths of a point: 100.00 = 10000 */

enum proc_kind {
	PROC_RFQ = 0,          /* "rfq": lowest price wins */
	PROC_TENDER,           /* "tender": weighted criteria */
	PROC_TENDER_AUCTION,   /* "tender_auction": tender, then a live auction */
};

enum proc_state {
	PROC_DRAFT = 0,        /* "draft" */
	PROC_PUBLISHED,        /* "published" */
	PROC_TENDERING,        /* "tendering" */
	PROC_OPENED,           /* "opened" */
	PROC_EVALUATION,       /* "evaluation" */
	PROC_AWARDED,          /* "awarded" */
	PROC_COMPLETE,         /* "complete" */
	PROC_UNSUCCESSFUL,     /* "unsuccessful" */
	PROC_CANCELLED,        /* "cancelled" */
};

enum proc_lot_state {
	LOT_ACTIVE = 0,        /* "active" */
	LOT_AUCTION,           /* "auction": waiting for the live auction's result */
	LOT_AWARDED,           /* "awarded" */
	LOT_UNSUCCESSFUL,      /* "unsuccessful" */
	LOT_CANCELLED,         /* "cancelled" (procedure cancelled) */
};

enum proc_offer_status {
	OFFER_ACTIVE = 0,      /* "active" */
	OFFER_WITHDRAWN,       /* "withdrawn" */
	OFFER_DISQUALIFIED,    /* "disqualified" */
	OFFER_AWARDED,         /* "awarded" */
};

enum proc_crit_kind {
	CRIT_PRICE = 0,        /* "price": criterion 0, lower is better */
	CRIT_STATED,           /* "stated": an integer the supplier states, within [min, max] */
	CRIT_SCORED,           /* "scored": the buyer gives 0..max after opening */
};

/* One evaluation criterion of a lot. */
struct proc_criterion {
	enum proc_crit_kind kind;
	int64_t weight_bp;     /* weight in basis points; a lot's weights sum to 10000 */
	int higher_better;     /* CRIT_STATED: 1 if a higher value is better */
	int64_t min, max;      /* CRIT_STATED bounds (min < max); CRIT_SCORED: min 0, max = top score */
};

struct proc_lot {
	int64_t id;
	int64_t max_price;     /* initial maximum price; offers must not exceed it */
	int ncrit;             /* >= 1; RFQ lots have only the price (weight 10000) */
	struct proc_criterion crit[PROC_MAX_CRITERIA];
	enum proc_lot_state state;
	int64_t awarded_offer; /* offer id, 0 when none */
};

/* An offer (a quote in an RFQ, a bid in a tender) of one organization on one
 * lot. At most one per (lot, org); a revision replaces the values in place
 * and increments `revision`. */
struct proc_offer {
	int64_t id;
	int64_t lot_id;
	int64_t org;
	int64_t price;
	int64_t values[PROC_MAX_CRITERIA];   /* CRIT_STATED values by criterion index */
	int64_t scores[PROC_MAX_CRITERIA];   /* CRIT_SCORED scores given by the buyer */
	unsigned scored;                     /* bit i: scores[i] given */
	int64_t submitted_at;                /* time of the current revision */
	int revision;                        /* 1 for the first submission */
	int needs_confirm;                   /* set by an amendment, cleared by a resubmission or confirm */
	enum proc_offer_status status;
	int64_t auction_rank;                /* tender_auction: final rank in the auction, 0 before */
};

struct proc_params {
	enum proc_kind kind;
	int64_t buyer_org;
	int64_t enquiry_end;          /* published -> tendering */
	int64_t submission_deadline;  /* offers accepted until (exclusive) */
	int64_t opening_at;           /* >= submission_deadline */
	int min_bids;                 /* 1..9: fewer live offers at opening -> lot unsuccessful */
};

struct procedure {
	int64_t id;
	struct proc_params p;
	enum proc_state state;
	int version;                  /* 1 at creation, +1 per amendment */
	int64_t published_at, opened_at, decided_at, closed_at;  /* ms, 0 before */
	struct proc_lot lots[PROC_MAX_LOTS];
	int nlots;
	struct proc_offer *offers;
	size_t noffers, capoffers;
	/* Limits the caller sets for the next change (0: none): proc_amend refuses once
	 * max_amendments amendments were made, proc_submit once an offer has max_revisions
	 * revisions, both with PROC_E_LIMIT after every other check. */
	int max_amendments, max_revisions;
};

enum proc_err {
	PROC_OK = 0,
	PROC_E_STATE,          /* "bad_state": not allowed in the current state */
	PROC_E_DEADLINE,       /* "deadline_passed": submissions are closed */
	PROC_E_NOT_OPEN,       /* "submissions_not_open": before the tendering period */
	PROC_E_OWN,            /* "own_procurement": the buyer's organization may not submit */
	PROC_E_NO_LOT,         /* "not_found": no such lot */
	PROC_E_NO_OFFER,       /* "no_offer": no live offer of this organization on the lot */
	PROC_E_PRICE,          /* "bad_price": price <= 0 or above the lot's maximum price */
	PROC_E_VALUE,          /* "bad_value": a stated value missing or outside its bounds */
	PROC_E_SCORE,          /* "bad_score": score outside 0..max, or not a scored criterion */
	PROC_E_NOT_FIRST,      /* "not_first_ranked": award/disqualify names an offer that is not ranked first */
	PROC_E_UNSCORED,       /* "scores_missing": the buyer has not scored every live offer */
	PROC_E_NOMEM,          /* "internal" */
	PROC_E_LIMIT,          /* "limit_exceeded": max_amendments or max_revisions reached */
};

/* One evaluated offer: the score and its breakdown, for the opening record. */
struct proc_eval {
	int64_t offer_id;
	int64_t org;
	int64_t price;
	int64_t crit_score[PROC_MAX_CRITERIA];  /* 0..10000 (hundredths of a point) per criterion */
	int64_t weighted[PROC_MAX_CRITERIA];    /* crit_score * weight_bp / 10000, rounded half up */
	int64_t total;                          /* sum of weighted, hundredths of a point */
	int rank;                               /* 1-based among the ranked offers */
	enum proc_offer_status status;
};

/*
 * Events: what an engine call changed, in the order it happened. Every call
 * that changes state appends its events to a list the caller provides (may
 * be NULL); the caller empties it (n = 0) before the first call of a change
 * and may let several calls of one change append to it. Calls that advance
 * the clock first (amend, submit, withdraw, confirm, score, award,
 * disqualify, auction_result, cancel) report the clock's events first, also
 * when they then refuse. One call appends at most PROC_MAX_LOTS + 4 events
 * (tendering, opened, one per lot, decided); a full list counts the rest in
 * `dropped`. `state` is the procedure's state right after the event.
 */
enum proc_ev {
	PROC_EV_PUBLISHED = 0,    /* draft -> published; at = now */
	PROC_EV_AMENDED,          /* version: the new version; at = now */
	PROC_EV_TENDERING,        /* published -> tendering; at = enquiry_end */
	PROC_EV_OPENED,           /* tendering -> opened; at = opening_at (the lots follow) */
	PROC_EV_LOT_AUCTION,      /* at the opening: `lot` goes to its live auction */
	PROC_EV_LOT_UNSUCCESSFUL, /* `lot` failed: too few offers at the opening, or none left
	                           * after a disqualification */
	PROC_EV_EVALUATION,       /* opened -> evaluation (first evaluation action) */
	PROC_EV_SUBMITTED,        /* offer, lot, org, revision; added_live: the lot has one more
	                           * live offer (new, or resubmitted after a withdrawal) */
	PROC_EV_WITHDRAWN,        /* offer, lot, org */
	PROC_EV_CONFIRMED,        /* offer, lot, org; confirm_needed: it was needed */
	PROC_EV_SCORED,           /* offer, lot, crit, score */
	PROC_EV_AUCTION_RESULT,   /* lot: ranked by its live auction, back in evaluation */
	PROC_EV_AWARDED,          /* lot, offer, org */
	PROC_EV_DISQUALIFIED,     /* lot, offer, org */
	PROC_EV_DECIDED,          /* every lot decided: state is awarded or unsuccessful */
	PROC_EV_CANCELLED,        /* at = now */
	PROC_EV_COMPLETED,        /* awarded -> complete; at = now */
};
#define PROC_EV_KINDS 17

/* One event (the fields a kind does not name are 0). */
struct proc_event {
	enum proc_ev kind;
	int64_t at;
	enum proc_state state;
	int64_t lot, offer, org;
	int revision;
	int version;
	int crit;
	int64_t score;
	int added_live;
	int confirm_needed;
};

#define PROC_EVENTS_MAX (PROC_MAX_LOTS + 16)

/* The events of one change. */
struct proc_events {
	int n;
	int dropped;
	struct proc_event ev[PROC_EVENTS_MAX];
};

/* The first event of `kind` in the list, or NULL. */
const struct proc_event *proc_events_find(const struct proc_events *ev, enum proc_ev kind);

/* Stable name of an event kind ("tendering", "lot_unsuccessful", ...). */
const char *proc_ev_name(enum proc_ev kind);

/* Validate parameters and lots; NULL when valid, else a static message. */
const char *proc_check(const struct proc_params *p, const struct proc_lot *lots, int nlots);

/* Initialise a draft. `lots` is copied (states reset to LOT_ACTIVE). */
void proc_init(struct procedure *pr, int64_t id, const struct proc_params *p,
    const struct proc_lot *lots, int nlots);
void proc_free(struct procedure *pr);
/* Deep copy (for rollback); 0 or -1 on allocation failure. */
int proc_copy(struct procedure *dst, const struct procedure *src);

/* draft -> published. Requires now < enquiry_end. */
enum proc_err proc_publish(struct procedure *pr, int64_t now, struct proc_events *ev);

/*
 * Amend a published or tendering procedure: replace the deadlines (the new
 * ones must lie in the future, in order) and the lots' maximum prices and
 * criteria (same lot ids, same number of lots). version++; every active
 * offer gets needs_confirm = 1. Returns PROC_OK, PROC_E_STATE, or
 * PROC_E_VALUE when the new data fail proc_check.
 */
enum proc_err proc_amend(struct procedure *pr, const struct proc_params *p,
    const struct proc_lot *lots, int nlots, int64_t now, struct proc_events *ev);

/* Move along the clock (published -> tendering -> opened, with the opening
 * applied), appending what happened to `ev`. Returns the number of events. */
int proc_advance(struct procedure *pr, int64_t now, struct proc_events *ev);

/* Next time proc_advance has work, or -1. */
int64_t proc_next_deadline(const struct procedure *pr);

/*
 * Submit or revise the offer of `org` on lot `lot_id`. `values` holds one
 * entry per criterion index (entries for non-stated criteria are ignored).
 * Calls proc_advance(now) first. On success *offer (may be NULL) points at
 * the offer; a new offer takes `offer_id`, a revision keeps its id.
 */
enum proc_err proc_submit(struct procedure *pr, int64_t lot_id, int64_t org, int64_t offer_id,
    int64_t price, const int64_t *values, int64_t now, struct proc_offer **offer,
    struct proc_events *ev);

/* Withdraw the live offer of `org` on a lot (until the deadline). */
enum proc_err proc_withdraw(struct procedure *pr, int64_t lot_id, int64_t org, int64_t now,
    struct proc_events *ev);

/* Re-confirm an offer after an amendment without changing it. */
enum proc_err proc_confirm(struct procedure *pr, int64_t lot_id, int64_t org, int64_t now,
    struct proc_events *ev);

/* Buyer's score for a CRIT_SCORED criterion of an opened offer (opened or evaluation). */
enum proc_err proc_score(struct procedure *pr, int64_t offer_id, int crit, int64_t score,
    int64_t now, struct proc_events *ev);

/*
 * Evaluate a lot: fill `out` (capacity `cap`) with its ACTIVE, AWARDED and
 * DISQUALIFIED offers (withdrawn ones excluded; offers still needing
 * confirmation at opening were withdrawn by the opening), ranked:
 *  - rfq: by price, then submitted_at, then offer id;
 *  - tender: by total score descending, then price, then submitted_at;
 *  - tender_auction after the auction: by auction_rank;
 * disqualified offers last (rank 0). Returns the number of entries, or -1
 * with PROC_E_UNSCORED semantics when scored criteria are missing (then
 * totals are partial and ranks are 0).
 */
int proc_evaluate(const struct procedure *pr, int64_t lot_id, struct proc_eval *out, int cap);

/* Award the first-ranked offer of a lot (it must be `offer_id`). */
enum proc_err proc_award(struct procedure *pr, int64_t lot_id, int64_t offer_id, int64_t now,
    struct proc_events *ev);

/* Disqualify the first-ranked offer of a lot (it must be `offer_id`); the
 * next one becomes first. No offer left: the lot becomes unsuccessful. */
enum proc_err proc_disqualify(struct procedure *pr, int64_t lot_id, int64_t offer_id,
    int64_t now, struct proc_events *ev);

/* tender_auction: the live auction of a lot ended; `orgs` lists the bidders
 * from first to last rank (n entries). Orgs without an offer are ignored. */
enum proc_err proc_auction_result(struct procedure *pr, int64_t lot_id, const int64_t *orgs,
    int n, int64_t now, struct proc_events *ev);

/* Cancel (any state before awarded). */
enum proc_err proc_cancel(struct procedure *pr, int64_t now, struct proc_events *ev);

/* awarded -> complete (the contract is signed). */
enum proc_err proc_complete(struct procedure *pr, int64_t now, struct proc_events *ev);

/* Lookups. */
struct proc_lot *proc_lot(struct procedure *pr, int64_t lot_id);
struct proc_offer *proc_offer_by_id(struct procedure *pr, int64_t offer_id);
struct proc_offer *proc_offer_of(struct procedure *pr, int64_t lot_id, int64_t org);
/* Live (ACTIVE) offers on a lot. */
int proc_live_offers(const struct procedure *pr, int64_t lot_id);

/* Names and codes. */
const char *proc_err_code(enum proc_err e);
const char *proc_err_message(enum proc_err e);
const char *proc_state_name(enum proc_state s);
const char *proc_lot_state_name(enum proc_lot_state s);
const char *proc_offer_status_name(enum proc_offer_status s);
const char *proc_kind_name(enum proc_kind k);
int proc_kind_parse(const char *s, enum proc_kind *out);
const char *proc_crit_kind_name(enum proc_crit_kind k);
int proc_crit_kind_parse(const char *s, enum proc_crit_kind *out);

#endif
