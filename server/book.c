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

/* Arm the timer at the engine's next deadline (or disarm it). */
void
book_arm(struct server *s, struct book *b)
{
	int64_t when = auction_next_deadline(&b->a), left;

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
	auction_free(&b->a);
	free(b->invited);
	free(b->title);
	free(b->cancel_reason);
	watch_drop_target(b->srv, &b->watchers);
	map_free(&b->bids_by_org);
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
	return auction_shows_ranking(&b->a) || book_is_owner(b, v);
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
	return j;
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

/* The auction as `v` may see it. */
json_t *
book_view(struct server *s, struct book *b, const struct participant *v, int full)
{
	const struct auction *a = &b->a;
	int identities = book_sees_identities(b, v);
	const struct auction_entry *mine = v ? auction_entry_of(a, v->org->id) : NULL;
	int64_t best = auction_best(a);
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
	json_object_set_new(j, "best_price", best < 0 || !book_sees_best(b, v) ? json_null() :
	    proto_money(best, b->exp));
	json_object_set_new(j, "bids", json_integer((json_int_t)a->nbids));
	json_object_set_new(j, "bidders", json_integer((json_int_t)a->nentries));
	json_object_set_new(j, "seq", json_integer(b->tx.seq));
	if (v && v->role == ROLE_SUPPLIER) {
		char alias[32];
		snprintf(alias, sizeof(alias), "Participant %d", mine ? mine->alias : 0);
		json_object_set_new(j, "your_rank", mine ? json_integer(auction_rank_of(a, v->org->id)) : json_null());
		json_object_set_new(j, "your_price", mine ? proto_money(mine->amount, b->exp) : json_null());
		json_object_set_new(j, "your_alias", mine ? json_string(alias) : json_null());
	}
	if (full && book_sees_ranking(b, v)) {
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
	if (auction_entry_of(&b->a, v->org->id) != NULL)
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

	b->pending |= reasons & BOOK_N_UPDATE;
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
