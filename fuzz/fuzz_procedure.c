/*
 * Fuzz target: the procurement procedure engine (auction/procedure.c),
 * linked with libauction alone.
 *
 * The input is decoded into parameters and lots (kinds, deadlines, maximum
 * prices, criteria with weights and bounds; the run stops when proc_check
 * refuses them) and a sequence of operations at non-decreasing times:
 * publish, amend, submit/withdraw/confirm offers, scores, awards,
 * disqualifications, auction results, cancel, complete, clock ticks, marks
 * and rollbacks (deep copies, as the server keeps them) and evaluations.
 * After every step the engine's invariants are checked:
 *  - the state only moves forward along the lifecycle of procedure.h (final
 *    states stay; cancel only before awarded), and only a rollback goes back;
 *  - at most one offer per (lot, organization), never the buyer's, never
 *    submitted at or after the submission deadline; a live confirmed offer
 *    fits its lot; after the opening no live offer still needs confirmation;
 *  - a lot is awarded exactly when one of its offers is, and the procedure is
 *    awarded/unsuccessful exactly when every lot is decided; a lot under
 *    evaluation has a live offer (else nothing could ever decide it);
 *  - evaluations: a permutation of the lot's listed offers, ranked ones first
 *    with ranks 1..k in the documented order (price for RFQ, total score for
 *    tenders, auction rank after an auction), scores within 0..10000 and
 *    totals within 100.00 points; a short buffer gets exactly the first
 *    places of the full ranking; an award goes to the first-ranked offer;
 *  - a rollback copy is independent of later changes and restores exactly.
 * Signed overflow anywhere is a UBSan report; any violation aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auction/procedure.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ORGS 6
#define MAX_OFFERS 512

/* Stop the run with a message: the fuzzer reports the input. */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_procedure: invariant violated: %s\n", what);
	abort();
}

/* Place of a state in the lifecycle (cancelled apart). */
static int
state_order(enum proc_state s)
{
	switch (s) {
	case PROC_DRAFT:        return 0;
	case PROC_PUBLISHED:    return 1;
	case PROC_TENDERING:    return 2;
	case PROC_OPENED:       return 3;
	case PROC_EVALUATION:   return 4;
	case PROC_AWARDED:      return 5;
	case PROC_UNSUCCESSFUL: return 5;
	case PROC_COMPLETE:     return 6;
	case PROC_CANCELLED:    return 7;
	}
	fail("state out of range");
	return -1;
}

/* Whether a state is final (awarded counts: only complete may follow). */
static int
is_final(enum proc_state s)
{
	return s == PROC_AWARDED || s == PROC_COMPLETE || s == PROC_UNSUCCESSFUL ||
	    s == PROC_CANCELLED;
}

/* Whether old -> new is a move the lifecycle allows (within one call). */
static int
move_allowed(enum proc_state old, enum proc_state new)
{
	if (old == new)
		return 1;
	if (new == PROC_CANCELLED)
		return !is_final(old);
	if (old == PROC_AWARDED)
		return new == PROC_COMPLETE;
	if (is_final(old) || new == PROC_COMPLETE)
		return 0;
	return state_order(new) > state_order(old);
}

/* Whether a price and stated values fit a lot (the rule of proc_submit). */
static int
fits(const struct proc_lot *l, int64_t price, const int64_t *values)
{
	if (price <= 0 || price > l->max_price)
		return 0;
	for (int c = 1; c < l->ncrit; c++)
		if (l->crit[c].kind == CRIT_STATED &&
		    (values[c] < l->crit[c].min || values[c] > l->crit[c].max))
			return 0;
	return 1;
}

/* Check one lot's decided state against its offers. */
static void
check_lot(const struct procedure *pr, const struct proc_lot *l)
{
	int awarded = 0, live = 0;

	for (size_t i = 0; i < pr->noffers; i++) {
		const struct proc_offer *o = &pr->offers[i];

		if (o->lot_id != l->id)
			continue;
		if (o->status == OFFER_AWARDED) {
			awarded++;
			/* a cancellation keeps the awards made before it as they were */
			if ((l->state != LOT_AWARDED && l->state != LOT_CANCELLED) ||
			    l->awarded_offer != o->id) {
				fprintf(stderr, "lot %lld state %s awarded_offer %lld offer %lld\n",
				    (long long)l->id, proc_lot_state_name(l->state),
				    (long long)l->awarded_offer, (long long)o->id);
				fail("an awarded offer on a lot not awarded to it");
			}
		}
		live += o->status == OFFER_ACTIVE;
	}
	if (l->state == LOT_AWARDED && awarded != 1)
		fail("an awarded lot without exactly one awarded offer");
	if ((pr->state == PROC_OPENED || pr->state == PROC_EVALUATION) &&
	    (l->state == LOT_ACTIVE || l->state == LOT_AUCTION) && live == 0)
		fail("a lot under evaluation without a live offer can never be decided");
	if (l->state == LOT_AUCTION && pr->p.kind != PROC_TENDER_AUCTION)
		fail("a lot waits for an auction in a procedure without auctions");
}

/* Check the offers: uniqueness, ownership, deadlines, fit, scores. */
static void
check_offers(const struct procedure *pr)
{
	for (size_t i = 0; i < pr->noffers; i++) {
		const struct proc_offer *o = &pr->offers[i], *l_o;
		const struct proc_lot *l = NULL;

		for (int k = 0; k < pr->nlots; k++)
			if (pr->lots[k].id == o->lot_id)
				l = &pr->lots[k];
		if (l == NULL || o->org == pr->p.buyer_org || o->revision < 1)
			fail("an offer on no lot, of the buyer, or without a revision");
		if ((unsigned)o->status > OFFER_AWARDED)
			fail("offer status out of range");
		if (o->submitted_at >= pr->p.submission_deadline)
			fail("an offer submitted at or after the submission deadline");
		if (o->status == OFFER_ACTIVE && !o->needs_confirm && !fits(l, o->price, o->values))
			fail("a live confirmed offer does not fit its lot");
		if (o->status == OFFER_ACTIVE && o->needs_confirm && pr->state >= PROC_OPENED &&
		    pr->state != PROC_CANCELLED)
			fail("a live offer still needs confirmation after the opening");
		if (o->auction_rank != 0 && pr->p.kind != PROC_TENDER_AUCTION)
			fail("an auction rank without an auction");
		for (int c = 0; c < PROC_MAX_CRITERIA; c++)
			if ((o->scored & (1u << c)) && (c >= l->ncrit || l->crit[c].kind != CRIT_SCORED ||
			    o->scores[c] < 0 || o->scores[c] > l->crit[c].max))
				fail("a score on a criterion that is not scored, or out of range");
		for (size_t j = 0; j < i; j++) {
			l_o = &pr->offers[j];
			if ((l_o->lot_id == o->lot_id && l_o->org == o->org) || l_o->id == o->id)
				fail("two offers of one organization on a lot, or one id twice");
		}
	}
}

/* Check the procedure after a step; `old` is its state before. */
static void
check_proc(const struct procedure *pr, enum proc_state old)
{
	int decided = 0, awarded = 0, cancelled = 0;
	int64_t dl = proc_next_deadline(pr);

	if (!move_allowed(old, pr->state)) {
		fprintf(stderr, "%s -> %s\n", proc_state_name(old), proc_state_name(pr->state));
		fail("a move the lifecycle does not allow");
	}
	check_offers(pr);
	for (int i = 0; i < pr->nlots; i++) {
		const struct proc_lot *l = &pr->lots[i];

		if ((unsigned)l->state > LOT_CANCELLED)
			fail("lot state out of range");
		if (pr->state <= PROC_TENDERING && l->state != LOT_ACTIVE)
			fail("a lot decided before the opening");
		decided += l->state == LOT_AWARDED || l->state == LOT_UNSUCCESSFUL;
		awarded += l->state == LOT_AWARDED;
		cancelled += l->state == LOT_CANCELLED;
		check_lot(pr, l);
	}
	if ((pr->state == PROC_AWARDED || pr->state == PROC_COMPLETE) &&
	    (decided != pr->nlots || awarded == 0))
		fail("awarded without every lot decided and one awarded");
	if (pr->state == PROC_UNSUCCESSFUL && (decided != pr->nlots || awarded != 0))
		fail("unsuccessful with a lot undecided or awarded");
	if ((pr->state == PROC_OPENED || pr->state == PROC_EVALUATION) && decided == pr->nlots)
		fail("every lot decided but the procedure is not");
	if (pr->state == PROC_CANCELLED && cancelled != pr->nlots)
		fail("cancelled with a lot not cancelled");
	if (pr->state <= PROC_PUBLISHED && pr->noffers != 0)
		fail("offers before the tendering period");
	if (dl != (pr->state == PROC_PUBLISHED ? pr->p.enquiry_end
	    : pr->state == PROC_TENDERING ? pr->p.opening_at : -1))
		fail("next deadline does not match the state");
	if (pr->opened_at != 0 && pr->opened_at != pr->p.opening_at)
		fail("opened at another time than opening_at");
}

/* Compare two evaluation entries (they have no padding). */
static int
eval_eq(const struct proc_eval *x, const struct proc_eval *y)
{
	return memcmp(x, y, sizeof(*x)) == 0;
}

/* Evaluate one lot fully and with short buffers; check the ranking. */
static void
check_eval(const struct procedure *pr, const struct proc_lot *l, struct proc_eval *out,
    struct proc_eval *part)
{
	int n = proc_evaluate(pr, l->id, out, MAX_OFFERS), listed = 0, k = 0, by_auction = 0;

	for (size_t i = 0; i < pr->noffers; i++) {
		const struct proc_offer *o = &pr->offers[i];
		if (o->lot_id == l->id && o->status != OFFER_WITHDRAWN) {
			listed++;
			if (o->status != OFFER_DISQUALIFIED && o->auction_rank > 0 &&
			    pr->p.kind == PROC_TENDER_AUCTION)
				by_auction = 1;
		}
	}
	if (n < 0) {
		if (pr->p.kind == PROC_RFQ || proc_evaluate(pr, l->id, part, 1) != -1)
			fail("scores missing in an RFQ, or only for a full buffer");
		return;
	}
	if (n != listed)
		fail("evaluation does not list every listed offer once");
	for (int i = 0; i < n; i++) {
		const struct proc_eval *e = &out[i];
		int64_t sum = 0;

		for (int j = 0; j < i; j++)
			if (out[j].offer_id == e->offer_id)
				fail("an offer listed twice");
		for (int c = 0; c < PROC_MAX_CRITERIA; c++) {
			if (e->crit_score[c] < 0 || e->crit_score[c] > 10000 ||
			    (c < l->ncrit && e->weighted[c] > l->crit[c].weight_bp))
				fail("a criterion score out of range");
			sum += e->weighted[c];
		}
		if (sum != e->total || e->total < 0 || e->total > 10000)
			fail("a total out of range or not the sum of its parts");
		if (e->status == OFFER_DISQUALIFIED) {
			if (e->rank != 0)
				fail("a disqualified offer ranked");
			continue;
		}
		if (e->rank != ++k || k != i + 1)
			fail("ranks are not 1..k ahead of the disqualified offers");
		if (i == 0)
			continue;
		if (!by_auction && pr->p.kind == PROC_RFQ && out[i - 1].price > e->price)
			fail("an RFQ ranking not by price");
		if (!by_auction && pr->p.kind != PROC_RFQ && out[i - 1].total < e->total)
			fail("a tender ranking not by total score");
	}
	/* a short buffer: exactly the first places */
	for (int cap = 1; cap < n; cap = cap < 3 ? cap + 1 : n - 1) {
		if (proc_evaluate(pr, l->id, part, cap) != cap)
			fail("a short buffer did not get as many places as it holds");
		for (int i = 0; i < cap; i++)
			if (!eval_eq(&part[i], &out[i]))
				fail("a short buffer's places differ from the full ranking");
		if (cap == n - 1)
			break;
	}
}

/* Decode the procedure's parameters and lots; 0 when the engine accepts them. */
static int
pick_proc(struct fin *in, struct proc_params *p, struct proc_lot *lots, int *nlots, int64_t *now)
{
	uint8_t b = fin_u8(in);

	memset(p, 0, sizeof(*p));
	p->kind = (enum proc_kind)(b % 3);
	p->buyer_org = 1 + (b >> 2) % MAX_ORGS;
	p->min_bids = fin_u8(in) % 11;
	p->enquiry_end = fin_i64(in);
	p->submission_deadline = sat_add(p->enquiry_end, fin_i64(in));
	p->opening_at = sat_add(p->submission_deadline, fin_nonneg(in) % 4 ? fin_nonneg(in) : 0);
	*now = sat_sub(p->enquiry_end, fin_nonneg(in));
	b = fin_u8(in);
	*nlots = b == 255 ? PROC_MAX_LOTS : 1 + b % 4;
	for (int i = 0; i < *nlots; i++) {
		struct proc_lot *l = &lots[i];
		int64_t sum = 0;

		memset(l, 0, sizeof(*l));
		b = fin_u8(in);
		l->id = b == 0 ? 1 : i + 1;   /* sometimes a duplicate id */
		l->max_price = fin_i64(in);
		l->ncrit = p->kind == PROC_RFQ ? 1 : 1 + fin_u8(in) % 4;
		for (int c = 1; c < l->ncrit; c++) {
			struct proc_criterion *k = &l->crit[c];

			b = fin_u8(in);
			k->kind = b % 2 ? CRIT_STATED : CRIT_SCORED;
			k->weight_bp = 1 + (int64_t)(b >> 1) * 37;
			k->higher_better = (b >> 7) & 1;
			k->min = k->kind == CRIT_SCORED ? 0 : fin_i64(in);
			k->max = k->kind == CRIT_SCORED ? 1 + fin_nonneg(in) % 1000 : sat_add(sat_add(k->min, 1), fin_nonneg(in));
			sum += k->weight_bp;
		}
		l->crit[0].kind = CRIT_PRICE;
		l->crit[0].weight_bp = 10000 - sum;
	}
	return proc_check(p, lots, *nlots) == NULL ? 0 : -1;
}

/* How far the clock moves: a little, to one of the deadlines, or far. */
static int64_t
pick_now(struct fin *in, const struct procedure *pr, int64_t now)
{
	int64_t d = (int64_t)fin_u8(in), t;

	switch (fin_u8(in) % 7) {
	case 0:  t = sat_add(now, d); break;
	case 1:  t = sat_add(pr->p.enquiry_end, d % 3 - 1); break;
	case 2:  t = sat_add(pr->p.submission_deadline, d % 3 - 1); break;
	case 3:  t = sat_add(pr->p.opening_at, d % 3 - 1); break;
	case 4:  t = sat_add(now, fin_nonneg(in)); break;
	default: t = now;
	}
	return t > now ? t : now;
}

/* A lot id: one of the procedure's, or any. */
static int64_t
pick_lot(struct fin *in, const struct procedure *pr)
{
	uint8_t b = fin_u8(in);

	return b < 250 ? pr->lots[b % pr->nlots].id : (int64_t)b - 250;
}

/* An offer id: one of the procedure's, or any. */
static int64_t
pick_offer(struct fin *in, const struct procedure *pr)
{
	uint8_t b = fin_u8(in);

	if (b < 250 && pr->noffers > 0)
		return pr->offers[b % pr->noffers].id;
	return (int64_t)b;
}

/* A price and stated values for a lot: fitting most of the time. */
static int64_t
pick_price(struct fin *in, const struct procedure *pr, int64_t lot_id, int64_t *values)
{
	const struct proc_lot *l = NULL;
	uint8_t b = fin_u8(in);

	for (int i = 0; i < pr->nlots; i++)
		if (pr->lots[i].id == lot_id)
			l = &pr->lots[i];
	for (int c = 0; c < PROC_MAX_CRITERIA; c++) {
		values[c] = fin_i64(in);
		if (l != NULL && c < l->ncrit && l->crit[c].kind == CRIT_STATED && b % 4 != 0) {
			uint64_t span = (uint64_t)l->crit[c].max - (uint64_t)l->crit[c].min;
			values[c] = (int64_t)((uint64_t)l->crit[c].min + (uint64_t)values[c] % (span + 1));
		}
	}
	if (l != NULL && b % 3 != 0)
		return 1 + (int64_t)(fin_bytes(in, 8) % (uint64_t)l->max_price);
	return fin_i64(in);
}

/* Amended parameters and lots: the current ones with a few things moved. */
static void
pick_amend(struct fin *in, const struct procedure *pr, int64_t now, struct proc_params *p,
    struct proc_lot *lots)
{
	*p = pr->p;
	if (fin_u8(in) % 2)
		p->enquiry_end = sat_add(now, 1 + fin_nonneg(in) % 100000);
	p->submission_deadline = sat_add(p->enquiry_end, fin_i64(in));
	p->opening_at = sat_add(p->submission_deadline, fin_nonneg(in));
	for (int i = 0; i < pr->nlots; i++) {
		lots[i] = pr->lots[i];
		if (fin_u8(in) % 2)
			lots[i].max_price = sat_add(lots[i].max_price, fin_i64(in) % 1000);
		if (fin_u8(in) % 4 == 0 && lots[i].ncrit > 1) {
			struct proc_criterion *k = &lots[i].crit[lots[i].ncrit - 1];
			if (k->kind == CRIT_STATED)
				k->max = sat_add(k->min, 1 + fin_nonneg(in) % 100);
		}
	}
}

/* Award or disqualify the first-ranked offer (or another) of a lot. */
static void
do_decide(struct fin *in, struct procedure *pr, int64_t now, int award, struct proc_events *ev)
{
	struct proc_eval first;
	int64_t lot = pick_lot(in, pr), offer;
	enum proc_err e;
	int n;

	/* the ranking as the decision sees it: after the clock moved */
	proc_advance(pr, now, ev);
	n = proc_evaluate(pr, lot, &first, 1);

	offer = fin_u8(in) % 2 && n == 1 ? first.offer_id : pick_offer(in, pr);
	e = award ? proc_award(pr, lot, offer, now, ev) : proc_disqualify(pr, lot, offer, now, ev);
	if (e == PROC_OK) {
		const struct proc_offer *o = proc_offer_by_id(pr, offer);

		if (n != 1 || first.offer_id != offer || first.rank != 1)
			fail("a decision on an offer that was not ranked first");
		if (o->status != (award ? OFFER_AWARDED : OFFER_DISQUALIFIED))
			fail("a decision did not change the offer");
	}
}

/* One operation decoded from the input, its events into `ev` (checked by do_op). */
static void
do_op1(struct fin *in, struct procedure *pr, int64_t *now, int64_t *next_offer,
    struct proc_events *ev)
{
	uint8_t op = fin_u8(in);
	int64_t org = 1 + (op >> 4) % MAX_ORGS, values[PROC_MAX_CRITERIA], lot;

	*now = pick_now(in, pr, *now);
	switch (op % 13) {
	case 0:
		proc_publish(pr, *now, ev);
		break;
	case 1: {
		struct proc_params p;
		struct proc_lot lots[PROC_MAX_LOTS];
		int before = pr->version;

		pick_amend(in, pr, *now, &p, lots);
		if (proc_amend(pr, &p, lots, pr->nlots, *now, ev) == PROC_OK && pr->version != before + 1)
			fail("an amendment did not make a new version");
		break;
	}
	case 2: case 3: {
		int64_t price;

		lot = pick_lot(in, pr);
		price = pick_price(in, pr, lot, values);
		if (pr->noffers < MAX_OFFERS)
			proc_submit(pr, lot, org, (*next_offer)++, price,
			    fin_u8(in) == 0 ? NULL : values, *now, NULL, ev);
		break;
	}
	case 4:
		proc_withdraw(pr, pick_lot(in, pr), org, *now, ev);
		break;
	case 5:
		proc_confirm(pr, pick_lot(in, pr), org, *now, ev);
		break;
	case 6: {
		int64_t offer = pick_offer(in, pr);
		int crit = (int)(fin_u8(in) % (PROC_MAX_CRITERIA + 2)) - 1;
		int64_t score = (int64_t)fin_u8(in) - 2;

		proc_score(pr, offer, crit, fin_u8(in) == 0 ? fin_i64(in) : score, *now, ev);
		break;
	}
	case 7: case 8:
		do_decide(in, pr, *now, op % 13 == 7, ev);
		break;
	case 9: {
		int64_t orgs[8];
		int n = fin_u8(in) % 9;

		for (int i = 0; i < n; i++)
			orgs[i] = 1 + fin_u8(in) % (MAX_ORGS + 1);
		proc_auction_result(pr, pick_lot(in, pr), orgs, n, *now, ev);
		break;
	}
	case 10:
		proc_cancel(pr, *now, ev);
		break;
	case 11:
		proc_complete(pr, *now, ev);
		break;
	default:
		proc_advance(pr, *now, ev);
		break;
	}
}

/* The events of one operation agree with what it did: none lost, a state change
 * reported, the last event naming the state the procedure is left in. */
static void
do_op(struct fin *in, struct procedure *pr, int64_t *now, int64_t *next_offer)
{
	static struct proc_events ev;
	enum proc_state before = pr->state;

	ev.n = 0;
	ev.dropped = 0;
	do_op1(in, pr, now, next_offer, &ev);
	if (ev.dropped)
		fail("one operation made more events than a list holds");
	if (pr->state != before && ev.n == 0)
		fail("a state change without an event");
	if (ev.n > 0 && ev.ev[ev.n - 1].state != pr->state)
		fail("the last event does not name the state the procedure is in");
}

/* Run one decoded scenario. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct proc_params p;
	static struct proc_lot lots[PROC_MAX_LOTS];
	static struct procedure pr, mark, check;
	static struct proc_eval out[MAX_OFFERS], part[MAX_OFFERS];
	enum proc_state mark_state = PROC_DRAFT;
	int64_t now, next_offer = 1;
	int nlots, marked = 0;

	if (pick_proc(&in, &p, lots, &nlots, &now) != 0)
		return 0;
	proc_init(&pr, 1, &p, lots, nlots);
	check_proc(&pr, PROC_DRAFT);
	while (fin_more(&in)) {
		enum proc_state old = pr.state;
		uint8_t what = fin_u8(&in);

		if (what < 200) {
			in.p--, in.n++;   /* not a control byte: it starts an operation */
			do_op(&in, &pr, &now, &next_offer);
		} else if (what < 220) {
			if (marked) {
				proc_free(&mark);
				proc_free(&check);
			}
			if (proc_copy(&mark, &pr) != 0 || proc_copy(&check, &pr) != 0)
				fail("copy failed");
			mark_state = pr.state;
			marked = 1;
		} else if (what < 235 && marked) {
			proc_free(&pr);
			pr = mark;
			if (proc_copy(&mark, &pr) != 0)
				fail("copy failed");
			if (pr.noffers != check.noffers || memcmp(pr.lots, check.lots, sizeof(pr.lots)) ||
			    (pr.noffers && memcmp(pr.offers, check.offers, pr.noffers * sizeof(*pr.offers))) ||
			    pr.state != check.state || pr.version != check.version)
				fail("a rollback did not restore the procedure at its mark");
			old = mark_state;
		} else {
			for (int i = 0; i < pr.nlots; i++)
				check_eval(&pr, &pr.lots[i], out, part);
		}
		check_proc(&pr, old);
	}
	if (marked) {
		proc_free(&mark);
		proc_free(&check);
	}
	proc_free(&pr);
	return 0;
}
