/*
 * Procurement procedures: RFQ, sealed tender, tender followed by a live
 * auction (see procedure.h for the interface, docs/procedures.md for the
 * rules and the evaluation formula).
 *
 * Offers live in one array in order of first submission; a revision or a
 * resubmission after withdrawal changes an offer in place, so an offer's
 * index never moves. Rankings are not stored: proc_evaluate derives them from
 * the offers every time, so they can never go stale after a score, a
 * disqualification or an auction result.
 */
#include "auction/procedure.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Upper bound of a lot's maximum price (18 decimal digits of minor units). */
#define PROC_PRICE_LIMIT 999999999999999999LL
/* Full marks and the sum of a lot's weights. */
#define PROC_FULL 10000

/* Validate parameters and lots; NULL when valid, else a static message. */
const char *proc_check(const struct proc_params *p, const struct proc_lot *lots, int nlots)
{
	if (p == NULL)
		return "parameters are missing";
	if (p->kind != PROC_RFQ && p->kind != PROC_TENDER && p->kind != PROC_TENDER_AUCTION)
		return "unknown procedure kind";
	if (p->enquiry_end >= p->submission_deadline)
		return "enquiry period must end before the submission deadline";
	if (p->submission_deadline > p->opening_at)
		return "opening time must not be before the submission deadline";
	if (p->min_bids < 1 || p->min_bids > 9)
		return "minimum number of bids must be between 1 and 9";
	if (nlots < 1 || lots == NULL)
		return "a procedure needs at least one lot";
	if (nlots > PROC_MAX_LOTS)
		return "too many lots";
	for (int i = 0; i < nlots; i++) {
		const struct proc_lot *l = &lots[i];
		int64_t sum = 0;

		if (l->id <= 0)
			return "lot id must be above zero";
		for (int j = 0; j < i; j++)
			if (lots[j].id == l->id)
				return "lot ids must be distinct";
		if (l->max_price <= 0)
			return "maximum price must be above zero";
		if (l->max_price > PROC_PRICE_LIMIT)
			return "maximum price is too large";
		if (l->ncrit < 1 || l->ncrit > PROC_MAX_CRITERIA)
			return "a lot needs between 1 and 8 criteria";
		if (l->crit[0].kind != CRIT_PRICE)
			return "criterion 0 must be the price";
		if (p->kind == PROC_RFQ && l->ncrit != 1)
			return "an RFQ lot has the price as its only criterion";
		for (int c = 0; c < l->ncrit; c++) {
			const struct proc_criterion *k = &l->crit[c];

			if (c > 0 && k->kind != CRIT_STATED && k->kind != CRIT_SCORED)
				return "only criterion 0 may be the price";
			if (k->weight_bp < 1 || k->weight_bp > PROC_FULL)
				return "each weight must be between 0.01% and 100%";
			sum += k->weight_bp;
			if (k->kind == CRIT_STATED && k->min >= k->max)
				return "a stated criterion needs min below max";
			if (k->kind == CRIT_SCORED && k->min != 0)
				return "a scored criterion starts at 0";
			if (k->kind == CRIT_SCORED && k->max < 1)
				return "a scored criterion needs a top score of at least 1";
		}
		if (sum != PROC_FULL)
			return "a lot's weights must sum to 100%";
	}
	return NULL;
}

/* Initialise a draft: lots copied with their states reset, no offers. */
void proc_init(struct procedure *pr, int64_t id, const struct proc_params *p,
    const struct proc_lot *lots, int nlots)
{
	memset(pr, 0, sizeof(*pr));
	pr->id = id;
	pr->p = *p;
	pr->state = PROC_DRAFT;
	pr->version = 1;
	if (nlots < 0)
		nlots = 0;
	if (nlots > PROC_MAX_LOTS)
		nlots = PROC_MAX_LOTS;
	for (int i = 0; i < nlots; i++) {
		pr->lots[i] = lots[i];
		pr->lots[i].state = LOT_ACTIVE;
		pr->lots[i].awarded_offer = 0;
	}
	pr->nlots = nlots;
}

/* Release the offers; the procedure keeps its scalars and lots. */
void proc_free(struct procedure *pr)
{
	free(pr->offers);
	pr->offers = NULL;
	pr->noffers = pr->capoffers = 0;
}

/* Deep copy for rollback; on failure dst holds no offers and nothing to free. */
int proc_copy(struct procedure *dst, const struct procedure *src)
{
	struct proc_offer *o = NULL;

	if (src->noffers > 0) {
		if (src->noffers > SIZE_MAX / sizeof(*o))
			return -1;
		o = realloc(NULL, src->noffers * sizeof(*o));
		if (o == NULL) {
			*dst = *src;
			dst->offers = NULL;
			dst->noffers = dst->capoffers = 0;
			return -1;
		}
		memcpy(o, src->offers, src->noffers * sizeof(*o));
	}
	*dst = *src;
	dst->offers = o;
	dst->capoffers = src->noffers;
	return 0;
}

/* The lot with `lot_id`, or NULL. */
static const struct proc_lot *proc_lot_c(const struct procedure *pr, int64_t lot_id)
{
	for (int i = 0; i < pr->nlots; i++)
		if (pr->lots[i].id == lot_id)
			return &pr->lots[i];
	return NULL;
}

/* The lot with `lot_id`, or NULL. */
struct proc_lot *proc_lot(struct procedure *pr, int64_t lot_id)
{
	return (struct proc_lot *)proc_lot_c(pr, lot_id);
}

/* The offer with `offer_id`, or NULL. */
struct proc_offer *proc_offer_by_id(struct procedure *pr, int64_t offer_id)
{
	for (size_t i = 0; i < pr->noffers; i++)
		if (pr->offers[i].id == offer_id)
			return &pr->offers[i];
	return NULL;
}

/* The offer (whatever its status) of `org` on a lot, or NULL. */
struct proc_offer *proc_offer_of(struct procedure *pr, int64_t lot_id, int64_t org)
{
	for (size_t i = 0; i < pr->noffers; i++)
		if (pr->offers[i].lot_id == lot_id && pr->offers[i].org == org)
			return &pr->offers[i];
	return NULL;
}

/* Number of ACTIVE offers on a lot. */
int proc_live_offers(const struct procedure *pr, int64_t lot_id)
{
	int n = 0;

	for (size_t i = 0; i < pr->noffers; i++)
		if (pr->offers[i].lot_id == lot_id && pr->offers[i].status == OFFER_ACTIVE)
			n++;
	return n;
}

/* Append an event of `kind` at `at` to `ev` (may be NULL), with the state as it is now;
 * returns it, or NULL when not kept. */
static struct proc_event *proc_emit(struct proc_events *ev, const struct procedure *pr,
    enum proc_ev kind, int64_t at)
{
	struct proc_event *e;

	if (ev == NULL)
		return NULL;
	if (ev->n < 0 || ev->n >= PROC_EVENTS_MAX) {
		ev->dropped++;
		return NULL;
	}
	e = &ev->ev[ev->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->at = at;
	e->state = pr->state;
	return e;
}

/* Append an event about an offer (lot, offer, org filled). */
static struct proc_event *proc_emit_offer(struct proc_events *ev, const struct procedure *pr,
    enum proc_ev kind, int64_t at, const struct proc_offer *o)
{
	struct proc_event *e = proc_emit(ev, pr, kind, at);

	if (e != NULL) {
		e->lot = o->lot_id;
		e->offer = o->id;
		e->org = o->org;
	}
	return e;
}

/* The first event of `kind` in the list, or NULL. */
const struct proc_event *proc_events_find(const struct proc_events *ev, enum proc_ev kind)
{
	for (int i = 0; ev != NULL && i < ev->n; i++)
		if (ev->ev[i].kind == kind)
			return &ev->ev[i];
	return NULL;
}

/* An evaluation action moves an opened procedure to evaluation. */
static void proc_to_evaluation(struct procedure *pr, int64_t now, struct proc_events *ev)
{
	if (pr->state == PROC_EVALUATION)
		return;
	pr->state = PROC_EVALUATION;
	proc_emit(ev, pr, PROC_EV_EVALUATION, now);
}

/* Whether the procedure has reached a final state. */
static int proc_final(enum proc_state s)
{
	return s == PROC_AWARDED || s == PROC_COMPLETE || s == PROC_UNSUCCESSFUL ||
	    s == PROC_CANCELLED;
}

/* When every lot is awarded or unsuccessful, decide the procedure at `at`; returns 1 when decided. */
static int proc_decide(struct procedure *pr, int64_t at, struct proc_events *ev)
{
	int awarded = 0;

	for (int i = 0; i < pr->nlots; i++) {
		if (pr->lots[i].state == LOT_AWARDED)
			awarded = 1;
		else if (pr->lots[i].state != LOT_UNSUCCESSFUL)
			return 0;
	}
	pr->decided_at = at;
	if (awarded) {
		pr->state = PROC_AWARDED;
	} else {
		pr->state = PROC_UNSUCCESSFUL;
		pr->closed_at = at;
	}
	proc_emit(ev, pr, PROC_EV_DECIDED, at);
	return 1;
}

/* The opening at opening_at: unconfirmed offers drop out, thin lots fail, the rest go on;
 * returns the number of events. */
static int proc_open(struct procedure *pr, struct proc_events *ev)
{
	int n = 1;

	for (size_t i = 0; i < pr->noffers; i++) {
		struct proc_offer *o = &pr->offers[i];

		/* needs_confirm stays set: it tells this withdrawal from the supplier's own. */
		if (o->status == OFFER_ACTIVE && o->needs_confirm)
			o->status = OFFER_WITHDRAWN;
	}
	for (int i = 0; i < pr->nlots; i++) {
		struct proc_lot *l = &pr->lots[i];
		int live = proc_live_offers(pr, l->id);

		if (live < pr->p.min_bids)
			l->state = LOT_UNSUCCESSFUL;
		else if (pr->p.kind == PROC_TENDER_AUCTION)
			l->state = LOT_AUCTION;
	}
	pr->state = PROC_OPENED;
	pr->opened_at = pr->p.opening_at;
	proc_emit(ev, pr, PROC_EV_OPENED, pr->opened_at);
	/* every lot was active before the opening: the others are its outcome */
	for (int i = 0; i < pr->nlots; i++) {
		struct proc_event *e;

		if (pr->lots[i].state == LOT_ACTIVE)
			continue;
		e = proc_emit(ev, pr, pr->lots[i].state == LOT_AUCTION ? PROC_EV_LOT_AUCTION :
		    PROC_EV_LOT_UNSUCCESSFUL, pr->opened_at);
		if (e != NULL)
			e->lot = pr->lots[i].id;
		n++;
	}
	return n + proc_decide(pr, pr->p.opening_at, ev);
}

/* Move along the clock, appending its events; returns their number. */
int proc_advance(struct procedure *pr, int64_t now, struct proc_events *ev)
{
	int n = 0;

	if (pr->state == PROC_PUBLISHED && now >= pr->p.enquiry_end) {
		pr->state = PROC_TENDERING;
		proc_emit(ev, pr, PROC_EV_TENDERING, pr->p.enquiry_end);
		n++;
	}
	if (pr->state == PROC_TENDERING && now >= pr->p.opening_at)
		n += proc_open(pr, ev);
	return n;
}

/* Next time proc_advance has work, or -1. */
int64_t proc_next_deadline(const struct procedure *pr)
{
	switch (pr->state) {
	case PROC_PUBLISHED:
		return pr->p.enquiry_end;
	case PROC_TENDERING:
		return pr->p.opening_at;
	default:
		return -1;
	}
}

/* draft -> published, while the enquiry period still lies ahead. */
enum proc_err proc_publish(struct procedure *pr, int64_t now, struct proc_events *ev)
{
	if (pr->state != PROC_DRAFT)
		return PROC_E_STATE;
	if (proc_check(&pr->p, pr->lots, pr->nlots) != NULL)
		return PROC_E_VALUE;
	if (now >= pr->p.enquiry_end)
		return PROC_E_DEADLINE;
	pr->state = PROC_PUBLISHED;
	pr->published_at = now;
	proc_emit(ev, pr, PROC_EV_PUBLISHED, now);
	return PROC_OK;
}

/* Amend deadlines, maximum prices and criteria of a published or tendering procedure. */
enum proc_err proc_amend(struct procedure *pr, const struct proc_params *p,
    const struct proc_lot *lots, int nlots, int64_t now, struct proc_events *ev)
{
	struct proc_event *e;

	proc_advance(pr, now, ev);
	if (pr->state != PROC_PUBLISHED && pr->state != PROC_TENDERING)
		return PROC_E_STATE;
	/* Between the submission deadline and the opening the offers are closed. */
	if (pr->state == PROC_TENDERING && now >= pr->p.submission_deadline)
		return PROC_E_STATE;
	if (proc_check(p, lots, nlots) != NULL)
		return PROC_E_VALUE;
	if (p->kind != pr->p.kind || p->buyer_org != pr->p.buyer_org || nlots != pr->nlots)
		return PROC_E_VALUE;
	for (int i = 0; i < nlots; i++)
		if (proc_lot_c(pr, lots[i].id) == NULL)
			return PROC_E_VALUE;
	/* A past enquiry period stays as it was; a running one may move but not into the past. */
	if (pr->state == PROC_TENDERING ? p->enquiry_end != pr->p.enquiry_end : p->enquiry_end <= now)
		return PROC_E_VALUE;
	if (p->submission_deadline <= now)
		return PROC_E_VALUE;
	if (pr->max_amendments > 0 && pr->version - 1 >= pr->max_amendments)
		return PROC_E_LIMIT;

	pr->p = *p;
	for (int i = 0; i < nlots; i++) {
		struct proc_lot *l = proc_lot(pr, lots[i].id);

		l->max_price = lots[i].max_price;
		l->ncrit = lots[i].ncrit;
		memcpy(l->crit, lots[i].crit, sizeof(l->crit));
	}
	pr->version++;
	for (size_t i = 0; i < pr->noffers; i++)
		if (pr->offers[i].status == OFFER_ACTIVE)
			pr->offers[i].needs_confirm = 1;
	if ((e = proc_emit(ev, pr, PROC_EV_AMENDED, now)) != NULL)
		e->version = pr->version;
	return PROC_OK;
}

/* The refusal shared by submit, withdraw and confirm for the state and the clock, or PROC_OK. */
static enum proc_err proc_open_for_offers(const struct procedure *pr, int64_t now)
{
	switch (pr->state) {
	case PROC_DRAFT:
	case PROC_PUBLISHED:
		return PROC_E_NOT_OPEN;
	case PROC_TENDERING:
		return now >= pr->p.submission_deadline ? PROC_E_DEADLINE : PROC_OK;
	case PROC_OPENED:
	case PROC_EVALUATION:
		return PROC_E_DEADLINE;
	default:
		return PROC_E_STATE;
	}
}

/* Whether a price and stated values satisfy a lot: PROC_OK, PROC_E_PRICE or PROC_E_VALUE. */
static enum proc_err proc_offer_fits(const struct proc_lot *l, int64_t price, const int64_t *values)
{
	if (price <= 0 || price > l->max_price)
		return PROC_E_PRICE;
	for (int c = 1; c < l->ncrit; c++) {
		if (l->crit[c].kind != CRIT_STATED)
			continue;
		if (values == NULL || values[c] < l->crit[c].min || values[c] > l->crit[c].max)
			return PROC_E_VALUE;
	}
	return PROC_OK;
}

/* Make room for one more offer; 0 or -1. */
static int proc_reserve(struct procedure *pr)
{
	size_t cap;
	struct proc_offer *no;

	if (pr->noffers < pr->capoffers)
		return 0;
	cap = pr->capoffers ? pr->capoffers * 2 : 8;
	if (cap > SIZE_MAX / sizeof(*no))
		return -1;
	no = realloc(pr->offers, cap * sizeof(*no));
	if (no == NULL)
		return -1;
	pr->offers = no;
	pr->capoffers = cap;
	return 0;
}

/* Submit, revise or resubmit the offer of `org` on a lot. */
enum proc_err proc_submit(struct procedure *pr, int64_t lot_id, int64_t org, int64_t offer_id,
    int64_t price, const int64_t *values, int64_t now, struct proc_offer **offer,
    struct proc_events *ev)
{
	const struct proc_lot *l;
	struct proc_offer *o;
	struct proc_event *x;
	enum proc_err e;
	int added;

	proc_advance(pr, now, ev);
	if ((e = proc_open_for_offers(pr, now)) != PROC_OK)
		return e;
	if (org == pr->p.buyer_org)
		return PROC_E_OWN;
	if ((l = proc_lot_c(pr, lot_id)) == NULL)
		return PROC_E_NO_LOT;
	if ((e = proc_offer_fits(l, price, values)) != PROC_OK)
		return e;

	o = proc_offer_of(pr, lot_id, org);
	if (o != NULL && pr->max_revisions > 0 && o->revision >= pr->max_revisions)
		return PROC_E_LIMIT;
	added = o == NULL || o->status != OFFER_ACTIVE;
	if (o == NULL) {
		if (proc_reserve(pr) != 0)
			return PROC_E_NOMEM;
		o = &pr->offers[pr->noffers++];
		memset(o, 0, sizeof(*o));
		o->id = offer_id;
		o->lot_id = lot_id;
		o->org = org;
	}
	o->price = price;
	memset(o->values, 0, sizeof(o->values));
	for (int c = 1; c < l->ncrit; c++)
		if (l->crit[c].kind == CRIT_STATED)
			o->values[c] = values[c];
	o->submitted_at = now;
	o->revision++;
	o->needs_confirm = 0;
	o->status = OFFER_ACTIVE;
	if ((x = proc_emit_offer(ev, pr, PROC_EV_SUBMITTED, now, o)) != NULL) {
		x->revision = o->revision;
		x->added_live = added;
	}
	if (offer != NULL)
		*offer = o;
	return PROC_OK;
}

/* The ACTIVE offer of `org` on a lot open for offers, through the shared refusals. */
static enum proc_err proc_live_offer(struct procedure *pr, int64_t lot_id, int64_t org,
    int64_t now, struct proc_offer **out, struct proc_events *ev)
{
	struct proc_offer *o;
	enum proc_err e;

	proc_advance(pr, now, ev);
	if ((e = proc_open_for_offers(pr, now)) != PROC_OK)
		return e;
	if (proc_lot_c(pr, lot_id) == NULL)
		return PROC_E_NO_LOT;
	o = proc_offer_of(pr, lot_id, org);
	if (o == NULL || o->status != OFFER_ACTIVE)
		return PROC_E_NO_OFFER;
	*out = o;
	return PROC_OK;
}

/* Withdraw the live offer of `org` on a lot, until the submission deadline. */
enum proc_err proc_withdraw(struct procedure *pr, int64_t lot_id, int64_t org, int64_t now,
    struct proc_events *ev)
{
	struct proc_offer *o;
	enum proc_err e = proc_live_offer(pr, lot_id, org, now, &o, ev);

	if (e != PROC_OK)
		return e;
	o->status = OFFER_WITHDRAWN;
	o->needs_confirm = 0;
	proc_emit_offer(ev, pr, PROC_EV_WITHDRAWN, now, o);
	return PROC_OK;
}

/* Re-confirm an offer unchanged after an amendment; it must fit the amended lot. */
enum proc_err proc_confirm(struct procedure *pr, int64_t lot_id, int64_t org, int64_t now,
    struct proc_events *ev)
{
	struct proc_offer *o;
	struct proc_event *x;
	enum proc_err e = proc_live_offer(pr, lot_id, org, now, &o, ev);

	if (e != PROC_OK)
		return e;
	if ((e = proc_offer_fits(proc_lot_c(pr, lot_id), o->price, o->values)) != PROC_OK)
		return e;
	if ((x = proc_emit_offer(ev, pr, PROC_EV_CONFIRMED, now, o)) != NULL) {
		x->revision = o->revision;
		x->confirm_needed = o->needs_confirm;
	}
	o->needs_confirm = 0;
	return PROC_OK;
}

/* Whether the procedure is between the opening and the decision. */
static int proc_evaluating(const struct procedure *pr)
{
	return pr->state == PROC_OPENED || pr->state == PROC_EVALUATION;
}

/* Record the buyer's score for a scored criterion of a live opened offer. */
enum proc_err proc_score(struct procedure *pr, int64_t offer_id, int crit, int64_t score,
    int64_t now, struct proc_events *ev)
{
	struct proc_offer *o;
	const struct proc_lot *l;
	struct proc_event *e;

	proc_advance(pr, now, ev);
	if (!proc_evaluating(pr))
		return PROC_E_STATE;
	if ((o = proc_offer_by_id(pr, offer_id)) == NULL)
		return PROC_E_NO_OFFER;
	l = proc_lot_c(pr, o->lot_id);
	if (l == NULL || (l->state != LOT_ACTIVE && l->state != LOT_AUCTION))
		return PROC_E_STATE;
	if (o->status != OFFER_ACTIVE)
		return PROC_E_NO_OFFER;
	if (crit < 1 || crit >= l->ncrit || l->crit[crit].kind != CRIT_SCORED)
		return PROC_E_SCORE;
	if (score < 0 || score > l->crit[crit].max)
		return PROC_E_SCORE;
	o->scores[crit] = score;
	o->scored |= 1u << crit;
	proc_to_evaluation(pr, now, ev);
	if ((e = proc_emit_offer(ev, pr, PROC_EV_SCORED, now, o)) != NULL) {
		e->crit = crit;
		e->score = score;
	}
	return PROC_OK;
}

/* a / b rounded half up; b > 0. */
static uint64_t proc_div_round(unsigned __int128 a, unsigned __int128 b)
{
	return (uint64_t)((2 * a + b) / (2 * b));
}

/* What proc_evaluate needs to know of a lot before it scores the offers. */
struct proc_lot_view {
	const struct proc_lot *lot;
	enum proc_kind kind;
	int64_t min_price;     /* lowest price of the ACTIVE and AWARDED offers, 0 when none */
	int by_auction;        /* tender_auction with an auction result: rank by auction_rank */
	int unscored;          /* the ranking needs totals and a buyer score is missing */
	int n;                 /* ACTIVE, AWARDED and DISQUALIFIED offers */
};

/* Whether an offer takes part in the ranking (ACTIVE or AWARDED). */
static int proc_ranked(const struct proc_offer *o)
{
	return o->status == OFFER_ACTIVE || o->status == OFFER_AWARDED;
}

/* Whether an offer appears in the evaluation of `lot_id`. */
static int proc_listed(const struct proc_offer *o, int64_t lot_id)
{
	return o->lot_id == lot_id && o->status != OFFER_WITHDRAWN;
}

/* Gather the lot-wide inputs of an evaluation. */
static void proc_view(const struct procedure *pr, const struct proc_lot *l, struct proc_lot_view *v)
{
	unsigned need = 0;

	memset(v, 0, sizeof(*v));
	v->lot = l;
	v->kind = pr->p.kind;
	for (int c = 1; c < l->ncrit; c++)
		if (l->crit[c].kind == CRIT_SCORED)
			need |= 1u << c;
	for (size_t i = 0; i < pr->noffers; i++) {
		const struct proc_offer *o = &pr->offers[i];

		if (!proc_listed(o, l->id))
			continue;
		v->n++;
		if (!proc_ranked(o))
			continue;
		if (v->min_price == 0 || o->price < v->min_price)
			v->min_price = o->price;
		if (o->auction_rank > 0 && v->kind == PROC_TENDER_AUCTION)
			v->by_auction = 1;
		if ((o->scored & need) != need)
			v->unscored = 1;
	}
	if (v->kind == PROC_RFQ || v->by_auction)
		v->unscored = 0;
}

/* Score one offer by the documented formula into `e` (rank left 0). */
static void proc_eval_offer(const struct proc_lot_view *v, const struct proc_offer *o,
    struct proc_eval *e)
{
	const struct proc_lot *l = v->lot;

	memset(e, 0, sizeof(*e));
	e->offer_id = o->id;
	e->org = o->org;
	e->price = o->price;
	e->status = o->status;
	/* Disqualified offers are out of the evaluation: listed, not scored. */
	if (!proc_ranked(o))
		return;
	for (int c = 0; c < l->ncrit; c++) {
		const struct proc_criterion *k = &l->crit[c];
		uint64_t s = 0;

		switch (k->kind) {
		case CRIT_PRICE:
			/* min_price <= price: ranked offers set min_price. */
			s = proc_div_round((unsigned __int128)PROC_FULL * (uint64_t)v->min_price,
			    (uint64_t)o->price);
			break;
		case CRIT_STATED: {
			int64_t x = o->values[c];
			/* Differences of int64 values as uint64 are exact when non-negative. */
			uint64_t span = (uint64_t)k->max - (uint64_t)k->min, d;

			if (x < k->min)
				x = k->min;
			if (x > k->max)
				x = k->max;
			d = k->higher_better ? (uint64_t)x - (uint64_t)k->min
			    : (uint64_t)k->max - (uint64_t)x;
			s = proc_div_round((unsigned __int128)PROC_FULL * d, span);
			break;
		}
		case CRIT_SCORED:
			if (o->scored & (1u << c))
				s = proc_div_round((unsigned __int128)PROC_FULL * (uint64_t)o->scores[c],
				    (uint64_t)k->max);
			break;
		}
		e->crit_score[c] = (int64_t)s;
		e->weighted[c] = (int64_t)proc_div_round((unsigned __int128)s * (uint64_t)k->weight_bp,
		    PROC_FULL);
		e->total += e->weighted[c];
	}
}

/* Whether offer x (evaluated as ex) ranks strictly before offer y (as ey); a strict total order. */
static int proc_before(const struct proc_lot_view *v, const struct proc_offer *x,
    const struct proc_eval *ex, const struct proc_offer *y, const struct proc_eval *ey)
{
	if (proc_ranked(x) != proc_ranked(y))
		return proc_ranked(x);
	if (v->by_auction && x->auction_rank != y->auction_rank) {
		if (x->auction_rank == 0 || y->auction_rank == 0)
			return y->auction_rank == 0;
		return x->auction_rank < y->auction_rank;
	}
	if (v->kind != PROC_RFQ && ex->total != ey->total)
		return ex->total > ey->total;
	if (x->price != y->price)
		return x->price < y->price;
	if (x->submitted_at != y->submitted_at)
		return x->submitted_at < y->submitted_at;
	if (x->id != y->id)
		return x->id < y->id;
	/* Ids are the caller's and should be unique; the array order settles the rest. */
	return x < y;
}

/* Evaluate every listed offer into out[0..n) (cap >= n) and sort it in place. */
static void proc_rank_all(const struct procedure *pr, const struct proc_lot_view *v,
    struct proc_eval *out)
{
	int64_t lot_id = v->lot->id;
	int a = 0;

	for (size_t i = 0; i < pr->noffers; i++)
		if (proc_listed(&pr->offers[i], lot_id))
			proc_eval_offer(v, &pr->offers[i], &out[a++]);
	/* Each entry's place is the number of entries ranking before it; it is kept in rank. */
	a = 0;
	for (size_t i = 0; i < pr->noffers; i++) {
		const struct proc_offer *x = &pr->offers[i];
		int b = 0, pos = 0;

		if (!proc_listed(x, lot_id))
			continue;
		for (size_t j = 0; j < pr->noffers; j++) {
			const struct proc_offer *y = &pr->offers[j];

			if (!proc_listed(y, lot_id))
				continue;
			if (j != i && proc_before(v, y, &out[b], x, &out[a]))
				pos++;
			b++;
		}
		out[a++].rank = pos;
	}
	/* The places form a permutation: move each entry to its place by cycles. */
	for (a = 0; a < v->n; a++) {
		while (out[a].rank != a) {
			int to = out[a].rank;
			struct proc_eval t = out[to];

			out[to] = out[a];
			out[a] = t;
		}
	}
	for (a = 0; a < v->n; a++)
		out[a].rank = out[a].status == OFFER_DISQUALIFIED ? 0 : a + 1;
}

/* Fill out[0..cap) (cap < n) with the first cap places, by repeated selection. */
static void proc_rank_first(const struct procedure *pr, const struct proc_lot_view *v,
    struct proc_eval *out, int cap)
{
	const struct proc_offer *prev = NULL;
	struct proc_eval eprev;

	memset(&eprev, 0, sizeof(eprev));
	for (int pos = 0; pos < cap; pos++) {
		const struct proc_offer *best = NULL;
		struct proc_eval ebest, ex;

		memset(&ebest, 0, sizeof(ebest));
		for (size_t i = 0; i < pr->noffers; i++) {
			const struct proc_offer *x = &pr->offers[i];

			if (!proc_listed(x, v->lot->id))
				continue;
			proc_eval_offer(v, x, &ex);
			if (prev != NULL && !proc_before(v, prev, &eprev, x, &ex))
				continue;
			if (best == NULL || proc_before(v, x, &ex, best, &ebest)) {
				best = x;
				ebest = ex;
			}
		}
		if (best == NULL)
			return;
		ebest.rank = proc_ranked(best) ? pos + 1 : 0;
		out[pos] = ebest;
		prev = best;
		eprev = ebest;
	}
}

/* Evaluate and rank a lot's offers into out; returns the entries written (at most cap), 0 for an unknown lot, -1 when scores are missing. */
int proc_evaluate(const struct procedure *pr, int64_t lot_id, struct proc_eval *out, int cap)
{
	const struct proc_lot *l = proc_lot_c(pr, lot_id);
	struct proc_lot_view v;
	int k = 0;

	if (l == NULL)
		return 0;
	if (cap < 0 || out == NULL)
		cap = 0;
	proc_view(pr, l, &v);

	if (v.unscored) {
		/* Partial totals, in order of first submission, unranked. */
		for (size_t i = 0; i < pr->noffers && k < cap; i++)
			if (proc_listed(&pr->offers[i], lot_id))
				proc_eval_offer(&v, &pr->offers[i], &out[k++]);
		return -1;
	}
	if (cap >= v.n) {
		proc_rank_all(pr, &v, out);
		return v.n;
	}
	/* A short buffer gets the first cap places: never more than it holds. */
	proc_rank_first(pr, &v, out, cap);
	return cap;
}

/* The checks award and disqualify share: the lot, the offer, the scores, the first rank. */
static enum proc_err proc_first_check(struct procedure *pr, int64_t lot_id, int64_t offer_id,
    int64_t now, struct proc_lot **lot, struct proc_offer **offer, struct proc_events *ev)
{
	struct proc_eval first;
	struct proc_offer *o;
	int n;

	proc_advance(pr, now, ev);
	if (!proc_evaluating(pr))
		return PROC_E_STATE;
	if ((*lot = proc_lot(pr, lot_id)) == NULL)
		return PROC_E_NO_LOT;
	if ((*lot)->state != LOT_ACTIVE)
		return PROC_E_STATE;
	o = proc_offer_by_id(pr, offer_id);
	if (o == NULL || o->lot_id != lot_id)
		return PROC_E_NO_OFFER;
	n = proc_evaluate(pr, lot_id, &first, 1);
	if (n < 0)
		return PROC_E_UNSCORED;
	if (o->status != OFFER_ACTIVE || n == 0 || first.offer_id != offer_id || first.rank != 1)
		return PROC_E_NOT_FIRST;
	*offer = o;
	return PROC_OK;
}

/* Award the first-ranked offer of a lot. */
enum proc_err proc_award(struct procedure *pr, int64_t lot_id, int64_t offer_id, int64_t now,
    struct proc_events *ev)
{
	struct proc_lot *l;
	struct proc_offer *o;
	enum proc_err e = proc_first_check(pr, lot_id, offer_id, now, &l, &o, ev);

	if (e != PROC_OK)
		return e;
	o->status = OFFER_AWARDED;
	l->state = LOT_AWARDED;
	l->awarded_offer = o->id;
	proc_to_evaluation(pr, now, ev);
	proc_emit_offer(ev, pr, PROC_EV_AWARDED, now, o);
	proc_decide(pr, now, ev);
	return PROC_OK;
}

/* Disqualify the first-ranked offer of a lot; with none left the lot is unsuccessful. */
enum proc_err proc_disqualify(struct procedure *pr, int64_t lot_id, int64_t offer_id,
    int64_t now, struct proc_events *ev)
{
	struct proc_lot *l;
	struct proc_offer *o;
	struct proc_event *x;
	enum proc_err e = proc_first_check(pr, lot_id, offer_id, now, &l, &o, ev);

	if (e != PROC_OK)
		return e;
	o->status = OFFER_DISQUALIFIED;
	proc_to_evaluation(pr, now, ev);
	proc_emit_offer(ev, pr, PROC_EV_DISQUALIFIED, now, o);
	if (proc_live_offers(pr, lot_id) == 0) {
		l->state = LOT_UNSUCCESSFUL;
		if ((x = proc_emit(ev, pr, PROC_EV_LOT_UNSUCCESSFUL, now)) != NULL)
			x->lot = lot_id;
		proc_decide(pr, now, ev);
	}
	return PROC_OK;
}

/* Whether live offer x comes before y among the offers the auction result did not list. */
static int proc_unlisted_before(const struct proc_offer *x, const struct proc_offer *y)
{
	if (x->price != y->price)
		return x->price < y->price;
	if (x->submitted_at != y->submitted_at)
		return x->submitted_at < y->submitted_at;
	return x->id < y->id;
}

/* Record the ranking of a lot's live auction and return the lot to evaluation. */
enum proc_err proc_auction_result(struct procedure *pr, int64_t lot_id, const int64_t *orgs,
    int n, int64_t now, struct proc_events *ev)
{
	struct proc_lot *l;
	struct proc_event *e;
	int64_t next = 0;

	proc_advance(pr, now, ev);
	if (!proc_evaluating(pr))
		return PROC_E_STATE;
	if ((l = proc_lot(pr, lot_id)) == NULL)
		return PROC_E_NO_LOT;
	if (l->state != LOT_AUCTION)
		return PROC_E_STATE;
	if (n < 0 || (n > 0 && orgs == NULL))
		return PROC_E_VALUE;

	for (size_t i = 0; i < pr->noffers; i++)
		if (pr->offers[i].lot_id == lot_id)
			pr->offers[i].auction_rank = 0;
	/* Listed organizations first, in the auction's order; repeats and strangers ignored. */
	for (int k = 0; k < n; k++) {
		struct proc_offer *o = proc_offer_of(pr, lot_id, orgs[k]);

		if (o != NULL && o->status == OFFER_ACTIVE && o->auction_rank == 0)
			o->auction_rank = ++next;
	}
	/* Then every other live offer, by its tender price. */
	for (size_t i = 0; i < pr->noffers; i++) {
		struct proc_offer *x = &pr->offers[i];
		int64_t pos = next + 1;

		if (x->lot_id != lot_id || x->status != OFFER_ACTIVE || x->auction_rank != 0)
			continue;
		for (size_t j = 0; j < pr->noffers; j++) {
			const struct proc_offer *y = &pr->offers[j];

			if (j != i && y->lot_id == lot_id && y->status == OFFER_ACTIVE &&
			    (y->auction_rank == 0 || y->auction_rank > next) && proc_unlisted_before(y, x))
				pos++;
		}
		x->auction_rank = pos;
	}
	l->state = LOT_ACTIVE;
	proc_to_evaluation(pr, now, ev);
	if ((e = proc_emit(ev, pr, PROC_EV_AUCTION_RESULT, now)) != NULL)
		e->lot = lot_id;
	return PROC_OK;
}

/* Cancel a procedure that is not yet decided. */
enum proc_err proc_cancel(struct procedure *pr, int64_t now, struct proc_events *ev)
{
	proc_advance(pr, now, ev);
	if (proc_final(pr->state))
		return PROC_E_STATE;
	for (int i = 0; i < pr->nlots; i++)
		pr->lots[i].state = LOT_CANCELLED;
	pr->state = PROC_CANCELLED;
	pr->closed_at = now;
	proc_emit(ev, pr, PROC_EV_CANCELLED, now);
	return PROC_OK;
}

/* awarded -> complete, once the contract is signed. */
enum proc_err proc_complete(struct procedure *pr, int64_t now, struct proc_events *ev)
{
	if (pr->state != PROC_AWARDED)
		return PROC_E_STATE;
	pr->state = PROC_COMPLETE;
	pr->closed_at = now;
	proc_emit(ev, pr, PROC_EV_COMPLETED, now);
	return PROC_OK;
}

/* Names of the event kinds, by value. */
static const char *const proc_ev_names[PROC_EV_KINDS] = {
	"published", "amended", "tendering", "opened", "lot_auction", "lot_unsuccessful",
	"evaluation", "submitted", "withdrawn", "confirmed", "scored", "auction_result",
	"awarded", "disqualified", "decided", "cancelled", "completed",
};

/* Stable name of an event kind. */
const char *proc_ev_name(enum proc_ev kind)
{
	if ((unsigned)kind < PROC_EV_KINDS)
		return proc_ev_names[kind];
	return "unknown";
}

/* Stable machine code of a result. */
const char *proc_err_code(enum proc_err e)
{
	switch (e) {
	case PROC_OK:           return "ok";
	case PROC_E_STATE:      return "bad_state";
	case PROC_E_DEADLINE:   return "deadline_passed";
	case PROC_E_NOT_OPEN:   return "submissions_not_open";
	case PROC_E_OWN:        return "own_procurement";
	case PROC_E_NO_LOT:     return "not_found";
	case PROC_E_NO_OFFER:   return "no_offer";
	case PROC_E_PRICE:      return "bad_price";
	case PROC_E_VALUE:      return "bad_value";
	case PROC_E_SCORE:      return "bad_score";
	case PROC_E_NOT_FIRST:  return "not_first_ranked";
	case PROC_E_UNSCORED:   return "scores_missing";
	case PROC_E_NOMEM:      return "internal";
	case PROC_E_LIMIT:      return "limit_exceeded";
	}
	return "internal";
}

/* English sentence describing a result. */
const char *proc_err_message(enum proc_err e)
{
	switch (e) {
	case PROC_OK:
		return "Done.";
	case PROC_E_STATE:
		return "Not allowed in the procedure's current state.";
	case PROC_E_DEADLINE:
		return "The deadline has passed.";
	case PROC_E_NOT_OPEN:
		return "Submissions are not open yet.";
	case PROC_E_OWN:
		return "The buyer's organization cannot submit to its own procurement.";
	case PROC_E_NO_LOT:
		return "No such lot.";
	case PROC_E_NO_OFFER:
		return "There is no such live offer on this lot.";
	case PROC_E_PRICE:
		return "The price must be above zero and not above the lot's maximum price.";
	case PROC_E_VALUE:
		return "A value is missing or outside its bounds.";
	case PROC_E_SCORE:
		return "The score is outside its range, or the criterion is not scored by the buyer.";
	case PROC_E_NOT_FIRST:
		return "The offer is not ranked first.";
	case PROC_E_UNSCORED:
		return "Every live offer must be scored first.";
	case PROC_E_NOMEM:
		return "Internal error: out of memory.";
	case PROC_E_LIMIT:
		return "A configured limit is reached.";
	}
	return "Internal error.";
}

/* Wire name of a procedure state. */
const char *proc_state_name(enum proc_state s)
{
	switch (s) {
	case PROC_DRAFT:        return "draft";
	case PROC_PUBLISHED:    return "published";
	case PROC_TENDERING:    return "tendering";
	case PROC_OPENED:       return "opened";
	case PROC_EVALUATION:   return "evaluation";
	case PROC_AWARDED:      return "awarded";
	case PROC_COMPLETE:     return "complete";
	case PROC_UNSUCCESSFUL: return "unsuccessful";
	case PROC_CANCELLED:    return "cancelled";
	}
	return "unknown";
}

/* Wire name of a lot state. */
const char *proc_lot_state_name(enum proc_lot_state s)
{
	switch (s) {
	case LOT_ACTIVE:       return "active";
	case LOT_AUCTION:      return "auction";
	case LOT_AWARDED:      return "awarded";
	case LOT_UNSUCCESSFUL: return "unsuccessful";
	case LOT_CANCELLED:    return "cancelled";
	}
	return "unknown";
}

/* Wire name of an offer status. */
const char *proc_offer_status_name(enum proc_offer_status s)
{
	switch (s) {
	case OFFER_ACTIVE:       return "active";
	case OFFER_WITHDRAWN:    return "withdrawn";
	case OFFER_DISQUALIFIED: return "disqualified";
	case OFFER_AWARDED:      return "awarded";
	}
	return "unknown";
}

/* Names of the procedure kinds, by value. */
static const char *const proc_kind_names[] = { "rfq", "tender", "tender_auction" };

/* Wire name of a procedure kind. */
const char *proc_kind_name(enum proc_kind k)
{
	if ((unsigned)k < sizeof(proc_kind_names) / sizeof(proc_kind_names[0]))
		return proc_kind_names[k];
	return "unknown";
}

/* Parse a procedure kind's wire name; 0 or -1. */
int proc_kind_parse(const char *s, enum proc_kind *out)
{
	for (size_t i = 0; s != NULL && i < sizeof(proc_kind_names) / sizeof(proc_kind_names[0]); i++)
		if (strcmp(s, proc_kind_names[i]) == 0) {
			*out = (enum proc_kind)i;
			return 0;
		}
	return -1;
}

/* Names of the criterion kinds, by value. */
static const char *const proc_crit_names[] = { "price", "stated", "scored" };

/* Wire name of a criterion kind. */
const char *proc_crit_kind_name(enum proc_crit_kind k)
{
	if ((unsigned)k < sizeof(proc_crit_names) / sizeof(proc_crit_names[0]))
		return proc_crit_names[k];
	return "unknown";
}

/* Parse a criterion kind's wire name; 0 or -1. */
int proc_crit_kind_parse(const char *s, enum proc_crit_kind *out)
{
	for (size_t i = 0; s != NULL && i < sizeof(proc_crit_names) / sizeof(proc_crit_names[0]); i++)
		if (strcmp(s, proc_crit_names[i]) == 0) {
			*out = (enum proc_crit_kind)i;
			return 0;
		}
	return -1;
}
