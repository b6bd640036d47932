/* Live auctions in memory: the engine state, what each viewer may see of it,
 * watchers and the timer that moves the auction along the clock. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/money.h"
#include "common/timeutil.h"
#include "server/server.h"

/* Find a book by auction id. */
struct book *
book_get(struct server *s, int64_t id)
{
	return map_get(&s->books, id);
}

/* Timer: hand the auction to the command queue. */
static void
book_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct book *b = arg;

	b->srv->book_due(b->srv, b);
}

static void book_step_arm(struct server *s, struct book *b);

/* Arm the timer at the engine's next deadline (or disarm it). */
void
book_arm(struct server *s, struct book *b)
{
	int64_t when = auction_next_deadline(&b->a), left;

	book_step_arm(s, b);
	if (b->timer == NULL)
		b->timer = evtimer_new(s->base, book_on_timer, b);
	if (when < 0) {
		evtimer_del(b->timer);
		return;
	}
	left = when - time_now_ms();
	conn_timer_in(s, b->timer, (left < 0 ? 0 : left) + 1);  /* at or after the deadline */
}

/* Free a book and everything it owns. */
void
book_free(struct book *b)
{
	if (b == NULL)
		return;
	if (b->timer)
		event_free(b->timer);
	if (b->update_ev)
		event_free(b->update_ev);
	if (b->step_ev)
		event_free(b->step_ev);
	auction_free(&b->a);
	free(b->invited);
	free(b->title);
	free(b->cancel_reason);
	free(b->event_title);
	watch_drop_target(b->srv, &b->watchers);
	map_free(&b->bids_by_org);
	free(b->salts);
	free(b);
}

/* See server.h. */
long
book_bids_of(const struct book *b, int64_t org)
{
	return (long)(intptr_t)map_get(&b->bids_by_org, org);
}

/* See server.h. */
int
book_count_bids(struct book *b, int64_t org, long delta)
{
	long n = book_bids_of(b, org) + delta;

	return map_put(&b->bids_by_org, org, (void *)(intptr_t)(n > 0 ? n : 0));
}

/* A step as the buyer gave it. */
static json_t *
book_step(int is_percent, int64_t value, int exp)
{
	char buf[48];

	money_format_step(is_percent, value, exp, buf, sizeof(buf));
	return json_string(buf);
}

/* May this viewer see the bidders' organizations? */
static int
book_sees_identities(const struct book *b, const struct participant *v)
{
	if (v == NULL)
		return 0;
	if (v->role == ROLE_OPERATOR)
		return 1;
	/* rounds (Prozorro): identities are revealed to everybody after the end */
	if (auction_format_of(&b->a) == &auction_rounds && b->a.state == AUCTION_CLOSED)
		return 1;
	return v->role == ROLE_BUYER && v->org->id == b->a.p.buyer_org &&
	    (b->a.state == AUCTION_CLOSED || b->a.state == AUCTION_CANCELLED);
}

/* Is this viewer the owning buyer's organization or an operator (who see everything)? */
static int
book_is_owner(const struct book *b, const struct participant *v)
{
	return v != NULL && (v->role == ROLE_OPERATOR ||
	    (v->role == ROLE_BUYER && v->org->id == b->a.p.buyer_org));
}

/* May this viewer see the whole ranking (by alias, unless it sees identities)? */
static int
book_sees_ranking(const struct book *b, const struct participant *v)
{
	if (auction_rounds_sealed(&b->a, time_now_ms()))
		return 0;
	/* after the reveal a rounds auction shows everyone the ranking by alias */
	return auction_shows_ranking(&b->a) || book_is_owner(b, v) ||
	    auction_format_of(&b->a) == &auction_rounds;
}

/* May this viewer see the auction at all? */
int
book_may_see(const struct book *b, const struct participant *v)
{
	if (b->a.p.ninvited == 0 || book_is_owner(b, v))
		return 1;
	return v != NULL && auction_is_invited(&b->a, v->org->id);
}

/* Give the book its own copy of an invited list and point the auction at it. */
int
book_set_invited(struct book *b, const int64_t *invited, size_t n)
{
	free(b->invited);
	b->invited = NULL;
	b->a.p.invited = NULL;
	b->a.p.ninvited = 0;
	if (n == 0)
		return 0;
	if ((b->invited = malloc(n * sizeof(*b->invited))) == NULL)
		return -1;
	memcpy(b->invited, invited, n * sizeof(*b->invited));
	b->a.p.invited = b->invited;
	b->a.p.ninvited = n;
	return 0;
}

/* The invited organizations of an invitation-only auction, for its owner and operators. */
static void
book_view_invited(json_t *j, const struct book *b, const struct participant *v)
{
	json_t *arr;

	json_object_set_new(j, "invitation_only", json_boolean(b->a.p.ninvited > 0));
	if (b->a.p.ninvited == 0 || !book_is_owner(b, v))
		return;
	arr = json_array();
	for (size_t i = 0; i < b->a.p.ninvited; i++)
		json_array_append_new(arr, json_integer(b->a.p.invited[i]));
	json_object_set_new(j, "invited", arr);
}

/* May this viewer see the best price? */
int
book_sees_best(const struct book *b, const struct participant *v)
{
	/* a rounds auction's initial bids are sealed from everybody until the reveal */
	if (auction_rounds_sealed(&b->a, time_now_ms()))
		return 0;
	return auction_shows_best(&b->a) || book_is_owner(b, v);
}

/* Outage pause: see server.h. */
int
book_outage_paused(const struct book *b)
{
	return b->a.paused && b->outage_at > 0 && b->a.paused_at == b->outage_at;
}

/* The outage rule and the pause in effect, in a view (docs/protocol.md, AUCTION object). */
static void
book_outage_view(json_t *j, const struct book *b)
{
	const struct auction_outage *o = &b->outage;
	json_t *oj = json_null();

	json_object_set_new(j, "outage_share", o->share ? json_integer(o->share) : json_null());
	json_object_set_new(j, "outage_window", o->share ? json_integer(o->window / 1000) :
	    json_null());
	json_object_set_new(j, "outage_max_pause", o->share ? json_integer(o->max_pause / 1000) :
	    json_null());
	json_object_set_new(j, "outage_min_bidders", o->share ? json_integer(o->min_bidders) :
	    json_null());
	json_object_set_new(j, "pause_reason", !b->a.paused ? json_null() :
	    json_string(book_outage_paused(b) ? "outage" : "operator"));
	if (book_outage_paused(b)) {
		oj = json_object();
		json_object_set_new(oj, "lost", b->outage_lost ? json_integer(b->outage_lost) :
		    json_null());
		json_object_set_new(oj, "bidders", b->outage_bidders ?
		    json_integer(b->outage_bidders) : json_null());
		json_object_set_new(oj, "resumes_by",
		    proto_time(auction_outage_deadline(o, b->outage_at)));
	}
	json_object_set_new(j, "outage", oj);
}

/* Organization name of an id, for views. */
static const char *
book_org_name(struct server *s, int64_t id)
{
	struct org *o = map_get(&s->orgs, id);

	return o ? o->name : "?";
}

/* One ranking entry. */
static json_t *
book_entry(struct server *s, const struct book *b, const struct auction_entry *e, int rank,
    const struct participant *v, int identities)
{
	char alias[32];
	json_t *j;

	snprintf(alias, sizeof(alias), "Participant %d", e->alias);
	j = json_pack("{s:i, s:s, s:o, s:o}", "rank", rank, "alias", alias,
	    "price", proto_money(e->amount, b->exp), "at", proto_time(e->at));
	if (identities)
		json_object_set_new(j, "organization", json_string(book_org_name(s, e->org)));
	if (v && v->org->id == e->org)
		json_object_set_new(j, "you", json_true());
	if (b->a.bids[e->bid_index].automatic)  /* proxy bidding: its price is a proxy's bid */
		json_object_set_new(j, "auto", json_true());
	return j;
}

/*
 * Proxy bidding (docs/protocol.md, "auction.proxy"): last_bid_auto for everyone; a supplier's
 * own floor (your_proxy_floor); the floors of every proxy standing at the end for the owning
 * buyer and operators once the auction is closed or cancelled (sealed until then).
 */
static void
book_proxy_view(struct server *s, json_t *j, const struct book *b, const struct participant *v)
{
	const struct auction *a = &b->a;
	json_t *arr;

	if (!auction_format_of(a)->proxy)
		return;
	json_object_set_new(j, "last_bid_auto", a->nbids ?
	    json_boolean(a->bids[a->nbids - 1].automatic) : json_null());
	if (v && v->role == ROLE_SUPPLIER) {
		int64_t fl = auction_proxy_floor(a, v->org->id);

		json_object_set_new(j, "your_proxy_floor", fl ? proto_money(fl, b->exp) : json_null());
	}
	if (!book_is_owner(b, v) || (a->state != AUCTION_CLOSED && a->state != AUCTION_CANCELLED))
		return;
	arr = json_array();
	for (size_t i = 0; i < a->nproxies; i++) {
		const struct auction_proxy *p = &a->proxies[i];
		const struct auction_entry *e;
		char alias[32];

		if (auction_proxy_of(a, p->org) != p)
			continue;
		e = auction_entry_of(a, p->org);
		snprintf(alias, sizeof(alias), "Participant %d", e ? e->alias : 0);
		json_array_append_new(arr, json_pack("{s:s?, s:s, s:o, s:o}", "alias", e ? alias : NULL,
		    "organization", book_org_name(s, p->org), "floor", proto_money(p->floor, b->exp),
		    "set_at", proto_time(p->at)));
	}
	json_object_set_new(j, "proxies", arr);
}

/*
 * The clock of a clock-format auction (docs/protocol.md, "Clock formats"): its parameters,
 * and while it runs the clock price now, when it changes, and (japanese_reverse) the round
 * and how many are in; a supplier also reads what it has to do (your_clock_status).
 */
static void
book_clock_view(json_t *j, const struct book *b, const struct participant *v)
{
	const struct auction *a = &b->a;
	const struct auction_format *fm = auction_format_of(a);
	struct auction_clock ck;
	int japanese = fm == &auction_japanese_reverse, running;
	const char *st = NULL;

	if (fm->clock == NULL)
		return;
	running = auction_clock(a, time_now_ms(), v && v->role == ROLE_SUPPLIER ? v->org->id : 0,
	    &ck) == 0;
	json_object_set_new(j, "clock_step", proto_money(a->p.clock_step, b->exp));
	json_object_set_new(j, "clock_interval", json_integer(a->p.clock_interval));
	json_object_set_new(j, "clock_limit", proto_money(a->p.clock_limit, b->exp));
	json_object_set_new(j, "clock_price", running ? proto_money(ck.price, b->exp) : json_null());
	json_object_set_new(j, "next_step_at", running ? proto_time(ck.next_step_at) : json_null());
	if (japanese) {
		json_object_set_new(j, "round", running ? json_integer(ck.round + 1) : json_null());
		json_object_set_new(j, "in", running ? json_integer(ck.in) : json_null());
	}
	if (!v || v->role != ROLE_SUPPLIER)
		return;
	if (running && ck.status == AUCTION_CLOCK_PENDING)
		st = japanese ? "confirm" : "accept";
	else if (running && ck.status == AUCTION_CLOCK_CONFIRMED)
		st = "confirmed";
	else if (running && ck.status == AUCTION_CLOCK_OUT)
		st = "dropped_out";
	json_object_set_new(j, "your_clock_status", st ? json_string(st) : json_null());
}

/* See server.h. */
int
book_set_salt(struct book *b, int64_t seq, const char *salt)
{
	if (seq < 1 || salt == NULL || strlen(salt) != BOOK_SALT_HEX ||
	    strspn(salt, "0123456789abcdef") != BOOK_SALT_HEX)
		return -1;
	if ((size_t)seq > b->nsalts) {
		size_t n = b->nsalts ? b->nsalts : 16;
		char (*ns)[BOOK_SALT_HEX + 1];

		while (n < (size_t)seq)
			n *= 2;
		if ((ns = realloc(b->salts, n * sizeof(*ns))) == NULL)
			return -1;
		memset(ns + b->nsalts, 0, (n - b->nsalts) * sizeof(*ns));
		b->salts = ns;
		b->nsalts = n;
	}
	memcpy(b->salts[seq - 1], salt, BOOK_SALT_HEX + 1);
	return 0;
}

/* See server.h. */
char *
book_sealed_body(const struct book *b, int64_t seq, const char *salt)
{
	const struct auction_bid *x;
	char amt[40], *out = NULL;

	if (seq < 1 || (size_t)seq > b->a.nbids)
		return NULL;
	if (salt == NULL && ((size_t)seq > b->nsalts || b->salts[seq - 1][0] == '\0'))
		return NULL;
	if (salt == NULL)
		salt = b->salts[seq - 1];
	x = &b->a.bids[seq - 1];
	money_format(x->amount, b->exp, amt, sizeof(amt));
	if (asprintf(&out, "{\"auction\":%lld,\"bid\":%lld,\"amount\":\"%s\",\"seq\":%lld,"
	    "\"salt\":\"%s\"}", (long long)b->a.id, (long long)x->id, amt, (long long)x->seq,
	    salt) < 0)
		return NULL;
	return out;
}

/*
 * A sealed-bid auction (docs/protocol.md, "Sealed-bid formats"): the number of sealed bids,
 * a supplier's own submissions; once closed, the opening: every submission with its salt and
 * its exact sealed body, which the bidder's receipt (content_hash) commits to.
 */
static void
book_sealed_view(struct server *s, json_t *j, const struct book *b, const struct participant *v,
    int identities)
{
	const struct auction *a = &b->a;
	json_t *arr;

	if (!auction_format_of(a)->sealed)
		return;
	json_object_set_new(j, "sealed_bids", json_integer((json_int_t)a->nentries));
	if (v && v->role == ROLE_SUPPLIER) {
		arr = json_array();
		for (size_t i = 0; i < a->nbids; i++)
			if (a->bids[i].org == v->org->id)
				json_array_append_new(arr, json_pack("{s:I, s:I, s:o, s:o}", "bid",
				    (json_int_t)a->bids[i].id, "seq", (json_int_t)a->bids[i].seq, "price",
				    proto_money(a->bids[i].amount, b->exp), "at", proto_time(a->bids[i].at)));
		json_object_set_new(j, "your_submissions", arr);
	}
	if (a->state != AUCTION_CLOSED)
		return;
	arr = json_array();
	for (size_t i = 0; i < a->nbids; i++) {
		const struct auction_bid *x = &a->bids[i];
		const struct auction_entry *e = auction_entry_of(a, x->org);
		char alias[32], *body = book_sealed_body(b, x->seq, NULL);
		json_t *o;

		snprintf(alias, sizeof(alias), "Participant %d", e ? e->alias : 0);
		o = json_pack("{s:I, s:I, s:s, s:o, s:o, s:b}", "seq", (json_int_t)x->seq, "bid",
		    (json_int_t)x->id, "alias", alias, "price", proto_money(x->amount, b->exp), "at",
		    proto_time(x->at), "counts", e != NULL && e->bid_index == i);
		if (identities)
			json_object_set_new(o, "organization", json_string(book_org_name(s, x->org)));
		json_object_set_new(o, "salt", i < b->nsalts && b->salts[i][0] ?
		    json_string(b->salts[i]) : json_null());
		json_object_set_new(o, "sealed_content", body ? json_string(body) : json_null());
		free(body);
		json_array_append_new(arr, o);
	}
	json_object_set_new(j, "opening", arr);
}

/*
 * The second-place tail (docs/protocol.md, "Second-place tail"): its length, the phase, when
 * the tail ends, and once the main phase is over the result it fixed (main_result: the winner
 * and the main end); ends_at stays the main end.
 */
static void
book_tail_view(struct server *s, json_t *j, const struct book *b, const struct participant *v,
    int identities)
{
	const struct auction *a = &b->a;
	const struct auction_entry *w = auction_tail_winner(a);
	const char *phase = NULL;

	if (a->state == AUCTION_SCHEDULED || a->state == AUCTION_RUNNING)
		phase = auction_in_tail(a) ? "tail" : "main";
	json_object_set_new(j, "tail", json_integer(a->p.tail / 1000));
	json_object_set_new(j, "phase", phase ? json_string(phase) : json_null());
	json_object_set_new(j, "tail_ends_at", a->tail_end ? proto_time(a->tail_end) : json_null());
	if (w != NULL) {
		json_t *wj = book_entry(s, b, w, 1, v, identities), *res;

		json_object_del(wj, "rank");
		res = json_pack("{s:o, s:o, s:o}", "winner", wj, "final_price",
		    proto_money(w->amount, b->exp), "ended_at", proto_time(auction_end(a)));
		json_object_set_new(j, "main_result", res);
	} else {
		json_object_set_new(j, "main_result", json_null());
	}
}

/* The name of a rounds phase on the wire. */
static const char *
book_rounds_phase(enum auction_rounds_phase ph)
{
	switch (ph) {
	case AUCTION_ROUNDS_INITIAL: return "initial";
	case AUCTION_ROUNDS_PAUSE:   return "pause";
	case AUCTION_ROUNDS_TURN:    return "round";
	case AUCTION_ROUNDS_OVER:    return "over";
	}
	return "over";
}

/*
 * The timeline of a rounds auction (docs/protocol.md, "Rounds with turns"): its parameters,
 * and while it runs the phase, the round, whose turn it is (by alias) and until when; a
 * supplier also reads when its own turn is. ends_at is the end the timeline gives.
 */
static void
book_rounds_view(json_t *j, const struct book *b, const struct participant *v)
{
	const struct auction *a = &b->a;
	struct auction_rounds_view rv;
	int64_t org = v && v->role == ROLE_SUPPLIER ? v->org->id : 0;
	int running = a->state == AUCTION_RUNNING, turn;
	char alias[32];

	if (auction_rounds_at(a, time_now_ms(), org, &rv) < 0)
		return;
	turn = running && rv.phase == AUCTION_ROUNDS_TURN;
	json_object_set_new(j, "initial", json_integer(a->p.rounds_initial / 1000));
	json_object_set_new(j, "pause", json_integer(a->p.rounds_pause / 1000));
	json_object_set_new(j, "rounds", json_integer(a->p.rounds_count));
	json_object_set_new(j, "turn", json_integer(a->p.rounds_turn / 1000));
	json_object_set_new(j, "round_pause", json_integer(a->p.rounds_round_pause / 1000));
	json_object_set_new(j, "ends_at", proto_time(a->state == AUCTION_CLOSED ? a->closed_at :
	    rv.ends_at));
	json_object_set_new(j, "sealed", json_boolean(rv.sealed));
	json_object_set_new(j, "phase", a->state == AUCTION_SCHEDULED ? json_null() :
	    json_string(book_rounds_phase(running ? rv.phase : AUCTION_ROUNDS_OVER)));
	json_object_set_new(j, "phase_ends_at", running && rv.phase != AUCTION_ROUNDS_OVER ?
	    proto_time(rv.phase_ends_at) : json_null());
	json_object_set_new(j, "round", running && (rv.phase == AUCTION_ROUNDS_TURN ||
	    rv.phase == AUCTION_ROUNDS_PAUSE) ? json_integer(rv.round + 1) : json_null());
	snprintf(alias, sizeof(alias), "Participant %d", rv.turn_alias);
	json_object_set_new(j, "turn_of", turn ? json_string(alias) : json_null());
	json_object_set_new(j, "turn_ends_at", turn ? proto_time(rv.phase_ends_at) : json_null());
	if (org == 0)
		return;
	json_object_set_new(j, "your_turn", json_boolean(turn && rv.turn_org == org));
	json_object_set_new(j, "your_turn_at", running && rv.your_turn_at >= 0 ?
	    proto_time(rv.your_turn_at) : json_null());
	json_object_set_new(j, "your_turn_ends_at", running && rv.your_turn_at >= 0 ?
	    proto_time(rv.your_turn_at + a->p.rounds_turn) : json_null());
}

/*
 * The steps of the time (auction_next_step): in a clock auction every step of the clock, in a
 * rounds auction every phase and turn changes what a viewer sees (the price, who is in, whose
 * turn it is) with no change of the log. The step timer tells watchers an auction.update with
 * the format's step_reason ("step", "turn") when one begins: not paced, and not a change, so
 * its seq is that of the last change.
 */
static void
book_on_step(evutil_socket_t fd, short what, void *arg)
{
	struct book *b = arg;

	/* told once the step has come, and not while a batch of the auction is in flight (its
	 * commit tells its own update; the step follows it): step_due stays until told */
	if (b->step_due > 0 && time_now_ms() >= b->step_due && b->a.state == AUCTION_RUNNING &&
	    !b->tx.dirty) {
		book_broadcast(b->srv, b, "auction.update", auction_format_of(&b->a)->step_reason);
		b->step_due = 0;
	}
	book_step_arm(b->srv, b);
}

/* Arm the step timer at the next step of the time before the end (or disarm it); a step that
 * has come but is not told yet (a batch in flight) is looked at again shortly. */
static void
book_step_arm(struct server *s, struct book *b)
{
	int64_t now = time_now_ms(), left;

	if (b->a.state != AUCTION_RUNNING)
		b->step_due = 0;
	else if (b->step_due <= 0 || b->step_due > now)
		b->step_due = auction_next_step(&b->a, now);
	if (b->step_due <= 0 && b->step_ev == NULL)
		return;
	if (b->step_ev == NULL && (b->step_ev = evtimer_new(s->base, book_on_step, b)) == NULL)
		return;
	if (b->step_due <= 0) {
		evtimer_del(b->step_ev);
		return;
	}
	left = b->step_due <= now ? 50 : b->step_due - now;
	conn_timer_in(s, b->step_ev, left + 1);
}

/*
 * A lot of a multi-lot event (docs/protocol.md, "Multi-lot auctions"): `lot` (its number and
 * title) and `event` (the event's id, title, lot count, closing rule and every lot with its
 * auction id, state and end). Every lot of an event has the same buyer and invited list, so
 * whoever sees one lot sees them all.
 */
static void
book_lot_view(struct server *s, json_t *j, const struct book *b)
{
	json_t *lots, *ev;

	if (b->lot_count <= 0)
		return;
	json_object_set_new(j, "lot", json_pack("{s:i, s:s}", "number", b->lot_no, "title",
	    b->title));
	lots = json_array();
	for (int k = 1; k <= b->lot_count; k++) {
		const struct book *l = book_get(s, b->event_id + k - 1);

		if (l == NULL || l->event_id != b->event_id || l->lot_no != k)
			continue;  /* not created yet (the batch that creates the event) */
		json_array_append_new(lots, json_pack("{s:i, s:I, s:s, s:s, s:o}", "number", k,
		    "auction", (json_int_t)l->a.id, "title", l->title, "state",
		    auction_state_name(l->a.state), "ends_at", proto_time(l->a.ends_at)));
	}
	ev = json_pack("{s:I, s:s, s:i, s:s, s:I, s:o}", "id", (json_int_t)b->event_id, "title",
	    b->event_title ? b->event_title : b->title, "lot_count", b->lot_count, "lot_closing",
	    b->stagger_ms > 0 ? "staggered" : "parallel", "stagger",
	    (json_int_t)(b->stagger_ms / 1000), "lots", lots);
	json_object_set_new(j, "event", ev);
}

/* The auction as `v` may see it. */
json_t *
book_view(struct server *s, struct book *b, const struct participant *v, int full)
{
	const struct auction *a = &b->a;
	int identities = book_sees_identities(b, v);
	const struct auction_entry *mine = v ? auction_entry_of(a, v->org->id) : NULL;
	int64_t best = auction_best(a);
	int sealed = auction_is_sealed(a);  /* no price or rank for anyone */
	json_t *j;

	j = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)a->id, "title", b->title,
	    "currency", b->currency, "buyer", book_org_name(s, a->p.buyer_org),
	    "state", auction_state_name(a->state));
	json_object_set_new(j, "start_price", proto_money(a->p.start_price, b->exp));
	json_object_set_new(j, "step_min", book_step(b->step_min_percent, b->step_min_value, b->exp));
	json_object_set_new(j, "step_max", book_step(b->step_max_percent, b->step_max_value, b->exp));
	json_object_set_new(j, "step_min_amount", proto_money(a->p.step_min, b->exp));
	json_object_set_new(j, "step_max_amount", proto_money(a->p.step_max, b->exp));
	json_object_set_new(j, "starts_at", proto_time(a->p.starts_at));
	json_object_set_new(j, "scheduled_end", proto_time(a->p.ends_at));
	json_object_set_new(j, "ends_at", proto_time(a->ends_at));
	json_object_set_new(j, "extension_window", json_integer(a->p.ext_window / 1000));
	json_object_set_new(j, "extension", json_integer(a->p.ext_length / 1000));
	json_object_set_new(j, "extensions", json_integer(a->extensions));
	json_object_set_new(j, "format", json_string(auction_format_of(a)->name));
	json_object_set_new(j, "higher_wins", json_boolean(auction_format_of(a)->higher_wins));
	json_object_set_new(j, "max_extensions", a->p.max_extensions ?
	    json_integer(a->p.max_extensions) : json_null());
	json_object_set_new(j, "latest_end", a->p.latest_end ? proto_time(a->p.latest_end) :
	    json_null());
	json_object_set_new(j, "signed_bids", json_boolean(!b->unsigned_bids));
	json_object_set_new(j, "visibility", json_string(auction_visibility_name(a->p.visibility)));
	book_view_invited(j, b, v);
	json_object_set_new(j, "min_bidders", a->p.min_bidders ? json_integer(a->p.min_bidders) :
	    json_null());
	json_object_set_new(j, "paused", json_boolean(a->paused));
	json_object_set_new(j, "paused_at", a->paused ? proto_time(a->paused_at) : json_null());
	book_clock_view(j, b, v);
	book_tail_view(s, j, b, v, identities);
	book_rounds_view(j, b, v);
	book_proxy_view(s, j, b, v);
	book_lot_view(s, j, b);
	json_object_set_new(j, "best_price", best < 0 || !book_sees_best(b, v) || sealed ?
	    json_null() : proto_money(best, b->exp));
	/* sealed: the number of sealed bids only (a replacement is not one more) */
	json_object_set_new(j, "bids", json_integer((json_int_t)(sealed ? a->nentries : a->nbids)));
	json_object_set_new(j, "bidders", json_integer((json_int_t)a->nentries));
	json_object_set_new(j, "seq", json_integer(b->tx.seq));
	if (v && v->role == ROLE_SUPPLIER) {
		char alias[32];
		snprintf(alias, sizeof(alias), "Participant %d", mine ? mine->alias : 0);
		json_object_set_new(j, "your_rank", mine && !sealed &&
		    !auction_rounds_sealed(a, time_now_ms()) ?
		    json_integer(auction_rank_of(a, v->org->id)) : json_null());
		json_object_set_new(j, "your_price", mine ? proto_money(mine->amount, b->exp) : json_null());
		json_object_set_new(j, "your_alias", mine ? json_string(alias) : json_null());
	}
	book_sealed_view(s, j, b, v, identities);
	if (full && book_sees_ranking(b, v) && !sealed) {
		json_t *r = json_array();
		for (size_t i = 0; i < a->nentries; i++)
			json_array_append_new(r, book_entry(s, b, auction_at_rank(a, (int)i + 1),
			    (int)i + 1, v, identities));
		json_object_set_new(j, "ranking", r);
	}
	if (a->state == AUCTION_CLOSED) {
		const struct auction_entry *w = auction_winner(a);
		json_t *res = json_object();
		const char *why = auction_unsuccessful(a);
		if (w) {
			json_t *wj = book_entry(s, b, w, 1, v, identities);
			json_object_del(wj, "rank");
			json_object_set_new(res, "winner", wj);
		} else {
			json_object_set_new(res, "winner", json_null());
		}
		json_object_set_new(res, "closed_at", proto_time(a->closed_at));
		json_object_set_new(res, "price_paid", w ? proto_money(auction_price_paid(a), b->exp) :
		    json_null());
		/* only by rule: the result of an auction nobody bid in stays as it always was */
		if (why != NULL && a->nentries > 0)
			json_object_set_new(res, "unsuccessful", json_string(why));
		json_object_set_new(j, "result", res);
	} else {
		json_object_set_new(j, "result", json_null());
	}
	json_object_set_new(j, "cancel_reason", b->cancel_reason ? json_string(b->cancel_reason) : json_null());
	book_outage_view(j, b);
	json_object_set_new(j, "server_time", proto_time(time_now_ms()));
	return j;
}

/* The class of a viewer: a view depends on the organization only when it has
 * bid (its rank and price, "you" in the ranking) or owns the auction. */
static struct watch_class
book_class_of(struct server *s, void *target, const struct participant *v)
{
	const struct book *b = target;
	struct watch_class k = { (int)v->role, -1 };

	(void)s;
	if (auction_entry_of(&b->a, v->org->id) != NULL ||
	    (v->role == ROLE_SUPPLIER && auction_proxy_of(&b->a, v->org->id) != NULL))
		k.org = v->org->id;
	else if (v->role == ROLE_BUYER && v->org->id == b->a.p.buyer_org)
		k.org = -2;
	return k;
}

/* The view an event carries. */
static json_t *
book_event_view(struct server *s, void *target, const struct participant *v)
{
	return book_view(s, target, v, 1);
}

/* Send an event to every watcher, each with the view of its class (watch.c). */
void
book_broadcast(struct server *s, struct book *b, const char *event, const char *reason)
{
	struct watch_msg ev = {
		.event = event, .reason = reason, .field = "auction", .kind = WATCH_AUCTION,
		.id = b->a.id, .target = b, .class_of = book_class_of, .view = book_event_view,
	};

	watch_broadcast(s, &b->watchers, &ev);
}

/* The reason an update names: the most significant of the changes it shows. */
static const char *
book_reason(int n)
{
	if (n & BOOK_N(AUCTION_EV_TAIL))
		return "tail";  /* the main phase ended: the winner is fixed, the tail is open */
	if (n & BOOK_N_STAGGER)
		return "stagger";
	if (n & (BOOK_N(AUCTION_EV_PAUSED) | BOOK_N(AUCTION_EV_RESUMED) |
	    BOOK_N(AUCTION_EV_PROLONGED)))
		return (n & BOOK_N(AUCTION_EV_PROLONGED)) ? "prolonged" :
		    (n & BOOK_N(AUCTION_EV_RESUMED)) ? "resumed" : "paused";
	return (n & BOOK_N(AUCTION_EV_EXTENDED)) ? "extended" : (n & BOOK_N(AUCTION_EV_BID)) ? "bid" :
	    "started";
}

/* Send the pending update now; the next one waits update_interval. */
static void
book_update_send(struct server *s, struct book *b, int64_t now)
{
	book_broadcast(s, b, "auction.update", book_reason(b->pending));
	b->pending = 0;
	b->update_due = now + s->cfg.update_interval;
	if (b->update_ev)
		evtimer_del(b->update_ev);
}

/* The update timer: send what is pending, unless the batch in flight changed the book. */
static void
book_on_update(evutil_socket_t fd, short what, void *arg)
{
	struct book *b = arg;

	book_update(b->srv, b, 0);
}

/* Committed changes: send them now (leading edge) or once the interval is over
 * (trailing edge, one update with the latest committed state). */
void
book_update(struct server *s, struct book *b, int reasons)
{
	int64_t now, left;

	b->pending |= reasons & (BOOK_N_UPDATE | BOOK_N_STAGGER);
	if (b->pending == 0 || b->tx.dirty)
		return;  /* nothing to say, or the end of the batch in flight says it */
	if (b->a.state == AUCTION_CLOSED || b->a.state == AUCTION_CANCELLED) {
		/* auction.closed carried the final view */
		b->pending = 0;
		if (b->update_ev)
			evtimer_del(b->update_ev);
		return;
	}
	now = time_mono_ms();
	left = b->update_due - now;
	if (left <= 0) {
		book_update_send(s, b, now);
		return;
	}
	if (b->update_ev == NULL && (b->update_ev = evtimer_new(s->base, book_on_update, b)) == NULL) {
		book_update_send(s, b, now);  /* without a timer, now rather than never */
		return;
	}
	if (evtimer_pending(b->update_ev, NULL))
		return;  /* already set for update_due */
	conn_timer_in(s, b->update_ev, left);
}

/* The auction closed or was cancelled: the closed event replaces any pending update. */
void
book_closed(struct server *s, struct book *b)
{
	b->pending = 0;
	if (b->update_ev)
		evtimer_del(b->update_ev);
	book_broadcast(s, b, "auction.closed", NULL);
}

/* Send every pending update at once (shutdown: nothing is in flight). */
void
book_update_all(struct server *s)
{
	size_t it = 0;
	void *v;

	while (map_next(&s->books, &it, NULL, NULL, &v)) {
		struct book *b = v;
		if (b->pending && !b->tx.dirty)
			book_update_send(s, b, time_mono_ms());
	}
}

/* Read a persisted invited list ("3,5,9", "" or NULL: open to all) into b->invited and
 * b->a.p.ninvited (ascending, as stored); 0 or -1. */
static int
book_parse_invited(const char *text, struct book *b)
{
	size_t n = 0, cap = 0;
	const char *q = text;
	char *end;

	while (q != NULL && *q != '\0') {
		long long id = strtoll(q, &end, 10);
		if (end == q || (*end != ',' && *end != '\0'))
			return -1;
		if (n == cap) {
			int64_t *nb = realloc(b->invited, (cap = cap ? 2 * cap : 16) * sizeof(*nb));
			if (nb == NULL)
				return -1;
			b->invited = nb;
		}
		b->invited[n++] = id;
		q = *end == ',' ? end + 1 : end;
	}
	b->a.p.ninvited = n;
	return 0;
}

/* Build a book from its persisted row; bids are replayed afterwards, then the
 * persisted state is applied (main.c). */
struct book *
book_restore(struct server *s, const struct db_boot_auction *r)
{
	struct book *b = calloc(1, sizeof(*b));
	struct auction_params p = {
		.buyer_org = r->buyer_org, .start_price = r->start_price,
		.step_min = r->step_min_amount, .step_max = r->step_max_amount,
		.starts_at = r->starts_at, .ends_at = r->scheduled_end,
		.ext_window = r->ext_window, .ext_length = r->ext_length,
		.format = auction_format_find(r->format), .max_extensions = r->max_extensions,
		.latest_end = r->latest_end, .clock_step = r->clock_step,
		.clock_interval = r->clock_interval, .clock_limit = r->clock_limit,
		.tail = r->tail,
		.rounds_initial = r->rounds_initial, .rounds_pause = r->rounds_pause,
		.rounds_count = r->rounds_count, .rounds_turn = r->rounds_turn,
		.rounds_round_pause = r->rounds_round_pause,
	};
	const char *why;

	if (b == NULL)
		return NULL;
	if (auction_visibility_parse(r->visibility, &p.visibility) < 0) {
		log_error("auction=%lld persisted visibility unknown: %s", (long long)r->id,
		    r->visibility ? r->visibility : "(null)");
		free(b);
		return NULL;
	}
	if (p.format == NULL) {
		log_error("auction=%lld persisted format unknown: %s", (long long)r->id,
		    r->format ? r->format : "(null)");
		free(b);
		return NULL;
	}
	if (book_parse_invited(r->invited, b) < 0) {
		log_error("auction=%lld persisted invited list unreadable", (long long)r->id);
		free(b->invited);
		free(b);
		return NULL;
	}
	p.invited = b->invited;
	p.ninvited = b->a.p.ninvited;
	p.min_bidders = r->min_bidders;
	if ((why = auction_params_check(&p)) != NULL) {
		log_error("auction=%lld persisted parameters invalid: %s", (long long)r->id, why);
		free(b->invited);
		free(b);
		return NULL;
	}
	auction_init(&b->a, r->id, &p);
	b->srv = s;
	b->buyer_participant = r->buyer_participant;
	b->title = strdup(r->title);
	snprintf(b->currency, sizeof(b->currency), "%s", r->currency);
	b->exp = r->currency_exp;
	b->step_min_percent = r->step_min_percent;
	b->step_max_percent = r->step_max_percent;
	b->step_min_value = r->step_min_value;
	b->step_max_value = r->step_max_value;
	b->cancel_reason = r->cancel_reason ? strdup(r->cancel_reason) : NULL;
	b->proc_id = r->procurement_id;
	b->lot_id = r->lot_id;
	b->unsigned_bids = r->unsigned_bids;
	if (r->lot_count > 0) {
		b->event_id = r->event_id;
		b->lot_no = r->lot_no;
		b->lot_count = r->lot_count;
		b->stagger_ms = r->stagger_ms;
		b->event_title = strdup(r->event_title ? r->event_title : r->title);
	}
	txn_obj_init(&b->tx, &book_txn);
	if (map_put(&s->books, r->id, b) < 0) {
		book_free(b);
		return NULL;
	}
	return b;
}

/* ---- on the write path (txn.h) ---- */

/* The book holding a write path's bookkeeping. */
static struct book *
book_of(struct txn_obj *o)
{
	return (struct book *)((char *)o - offsetof(struct book, tx));
}

/* A book's state before one batch first changed it. */
struct book_mark {
	struct auction_mark a;
	int had_cancel;            /* cancel_reason was set before the batch */
	int notify;                /* events of earlier batches not yet told */
};

/* Remember the state before the batch first changes the book. */
static void *
book_mark(struct server *s, struct txn_obj *o)
{
	struct book *b = book_of(o);
	struct book_mark *m = malloc(sizeof(*m));

	if (m == NULL)
		return NULL;
	auction_mark(&b->a, &m->a);
	m->had_cancel = b->cancel_reason != NULL;
	m->notify = b->notify;
	return m;
}

/* Tell what the committed batches changed: auction.closed, or the update (now
 * or at the end of update_interval); re-arm the timer. */
static void
book_tell(struct server *s, struct book *b)
{
	if (b->notify & (BOOK_N(AUCTION_EV_CLOSED) | BOOK_N(AUCTION_EV_CANCELLED)))
		book_closed(s, b);
	else
		book_update(s, b, b->notify);
	b->notify = 0;
	book_arm(s, b);
}

/* The batch committed: forget the mark; once no later batch in flight changed
 * the book, tell watchers (a later batch's commit tells both). */
static void
book_commit(struct server *s, struct txn_obj *o, void *mark, int settled)
{
	free(mark);
	if (settled)
		book_tell(s, book_of(o));
}

/* The batch failed: back to the mark (bids after it dropped, standings rebuilt);
 * when earlier batches committed changes not yet told, tell them now. */
static void
book_rollback(struct server *s, struct txn_obj *o, void *mark, int settled)
{
	struct book *b = book_of(o);
	struct book_mark *m = mark;

	auction_rollback(&b->a, &m->a);
	if (!m->had_cancel) {
		free(b->cancel_reason);
		b->cancel_reason = NULL;
	}
	b->notify = m->notify;
	free(m);
	if (settled) {
		/* an update held back while the batch was in flight: from the state rolled
		 * back to, which is committed */
		book_tell(s, b);
	} else {
		book_arm(s, b);
	}
}

/* The batch that created the auction failed: it never existed. */
static void
book_drop(struct server *s, struct txn_obj *o, void *mark)
{
	struct book *b = book_of(o);

	free(mark);
	map_del(&s->books, b->a.id);
	book_free(b);
}

/* A parked auction.get or auction.watch: the auction now. */
static json_t *
book_read(struct server *s, int64_t id, json_t *req_id, const struct participant *v)
{
	struct book *b = book_get(s, id);
	json_t *r;

	if (b == NULL)
		return proto_error(req_id, "not_found", "no such auction", NULL);
	r = proto_ok(req_id);
	json_object_set_new(r, "auction", book_view(s, b, v, 1));
	return r;
}

/* Re-arm every auction's timer. */
static void
book_rearm(struct server *s)
{
	size_t it = 0;
	void *v;

	while (map_next(&s->books, &it, NULL, NULL, &v))
		book_arm(s, v);
}

/* The bookkeeping of auction `id`, NULL when there is none. */
static struct txn_obj *
book_find(struct server *s, int64_t id)
{
	struct book *b = book_get(s, id);

	return b ? &b->tx : NULL;
}

const struct txn_kind book_txn = {
	book_mark, book_commit, book_rollback, book_drop, book_read, book_rearm, book_find,
};
