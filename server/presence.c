/*
 * Presence: which bidders of an auction with an outage rule are connected, and which lost
 * their connections (docs/auction-rules.md, "Outage pause").
 *
 * A bidder is a supplier organization (not the buyer's) with a connection that is *in* the
 * auction: it watches it (auction.watch) or placed a bid through it. The organization is
 * connected while one such connection is open. When its last one ends because the peer
 * vanished (conn_lost: a reset, an end without a TLS close_notify, the idle or stuck
 * timeout) it is *lost* at that time; a clean close or auction.unwatch is a leave, never a
 * loss. A lost organization that comes back in is no longer lost.
 *
 * After every loss the rule (auction/outage.h) is asked whether the losses within
 * outage_window are an outage; if so an outage pause is queued through the write path
 * (s->outage_due, ops.c), which marks the organizations it counted when it is applied
 * (presence_outage_mark). Once every one of them is in again, or outage_max_pause after the
 * pause began, the resume is queued the same way. Whether an outage pause is in effect is
 * the book's to say (book_outage_paused): the engine's pause and its start, so a pause
 * rolled back or resumed by an operator is simply no longer one.
 *
 * Only auctions with an outage rule are tracked. Nothing here is persisted: after a restart
 * everyone connects again, and an outage pause restored from the log ends at its max pause
 * (presence_restore) or by an operator.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "server/server.h"

/* One bidder of one auction. */
struct pres_org {
	int64_t org;
	int conns;                 /* its open connections in the auction */
	int64_t lost_at;           /* ms its last one was lost; 0: connected, or left cleanly */
	int counted;               /* lost in the auction's latest outage pause */
};

/* The bidders of one auction. */
struct pres_auction {
	struct server *s;
	int64_t id;
	struct pres_org *v;
	size_t n, cap;
	int64_t marked_at;         /* the outage pause whose lost bidders are `counted` (0: none) */
	struct event *timer;       /* outage_max_pause of the pause in effect */
};

/* The auctions one connection is in. */
struct pres_conn {
	int64_t org;
	int64_t *auctions;
	size_t n, cap;
};

struct presence {
	struct map auctions;       /* auction id -> struct pres_auction */
	struct map conns;          /* connection id -> struct pres_conn */
};

/* Set up the bookkeeping (start-up); 0 or -1. */
int
presence_init(struct server *s)
{
	struct presence *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	map_init(&p->auctions, 0);
	map_init(&p->conns, 0);
	s->presence = p;
	return 0;
}

/* Free everything (shutdown). */
void
presence_free(struct server *s)
{
	struct presence *p = s->presence;
	size_t it = 0;
	void *v;

	if (p == NULL)
		return;
	while (map_next(&p->auctions, &it, NULL, NULL, &v)) {
		struct pres_auction *pa = v;
		if (pa->timer)
			event_free(pa->timer);
		free(pa->v);
		free(pa);
	}
	it = 0;
	while (map_next(&p->conns, &it, NULL, NULL, &v)) {
		free(((struct pres_conn *)v)->auctions);
		free(v);
	}
	map_free(&p->auctions);
	map_free(&p->conns);
	free(p);
	s->presence = NULL;
}

/* The bidders of auction `id` (created when `create`); NULL when none or out of memory. */
static struct pres_auction *
pres_auction(struct server *s, int64_t id, int create)
{
	struct presence *p = s->presence;
	struct pres_auction *pa = map_get(&p->auctions, id);

	if (pa != NULL || !create)
		return pa;
	if ((pa = calloc(1, sizeof(*pa))) == NULL)
		return NULL;
	pa->s = s;
	pa->id = id;
	if (map_put(&p->auctions, id, pa) < 0) {
		free(pa);
		return NULL;
	}
	return pa;
}

/* The entry of `org` in `pa` (added when `create`); NULL when none or out of memory. */
static struct pres_org *
pres_org(struct pres_auction *pa, int64_t org, int create)
{
	for (size_t i = 0; i < pa->n; i++)
		if (pa->v[i].org == org)
			return &pa->v[i];
	if (!create)
		return NULL;
	if (pa->n == pa->cap) {
		size_t ncap = pa->cap ? pa->cap * 2 : 8;
		struct pres_org *nv = realloc(pa->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return NULL;
		pa->v = nv;
		pa->cap = ncap;
	}
	pa->v[pa->n] = (struct pres_org){ .org = org };
	return &pa->v[pa->n++];
}

/* Whether `o` counts as lost at `now` within the auction's window. */
static int
pres_lost_now(const struct book *b, const struct pres_org *o, int64_t now)
{
	return o->conns == 0 && o->lost_at > 0 && now - o->lost_at <= b->outage.window;
}

/* Bidders connected before the recent losses, and those lost within the window. */
static void
pres_count(const struct book *b, const struct pres_auction *pa, int64_t now, int *bidders,
    int *lost)
{
	*bidders = *lost = 0;
	for (size_t i = 0; i < pa->n; i++) {
		int l = pres_lost_now(b, &pa->v[i], now);
		*lost += l;
		*bidders += l || pa->v[i].conns > 0;
	}
}

/* Whether the losses at `now` are an outage of a running auction not paused already. */
static int
pres_trips(const struct book *b, const struct pres_auction *pa, int64_t now, int *bidders,
    int *lost)
{
	if (b->a.state != AUCTION_RUNNING || b->a.paused || now >= auction_end(&b->a))
		return 0;
	pres_count(b, pa, now, bidders, lost);
	return auction_outage_trips(&b->outage, *bidders, *lost);
}

/* A bidder was lost: queue an outage pause when the rule says so. */
static void
pres_check_outage(struct server *s, struct book *b, struct pres_auction *pa, int64_t now)
{
	int bidders, lost;

	if (b->outage_queued || !pres_trips(b, pa, now, &bidders, &lost))
		return;
	log_info("auction=%lld outage: %d of %d bidders lost within %lld s; pausing",
	    (long long)b->a.id, lost, bidders, (long long)(b->outage.window / 1000));
	b->outage_queued = 1;
	s->outage_due(s, b, OUTAGE_PAUSE);
}

/* A bidder is back: queue the resume once every bidder the outage pause counted is. */
static void
pres_check_back(struct server *s, struct book *b, struct pres_auction *pa)
{
	int absent = 0;

	if (b->outage_queued || !book_outage_paused(b) || pa->marked_at != b->outage_at)
		return;
	for (size_t i = 0; i < pa->n; i++)
		absent += pa->v[i].counted && pa->v[i].conns == 0;
	if (absent > 0)
		return;
	log_info("auction=%lld outage over: every lost bidder is back; resuming", (long long)b->a.id);
	b->outage_queued = 1;
	s->outage_due(s, b, OUTAGE_BACK);
}

/* The max-pause timer: resume an outage pause still in effect at its deadline. */
static void
pres_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pres_auction *pa = arg;
	struct book *b = book_get(pa->s, pa->id);
	int64_t due, now = time_now_ms();

	(void)fd;
	(void)what;
	if (b == NULL || !book_outage_paused(b))
		return;
	due = auction_outage_deadline(&b->outage, b->outage_at);
	if (now < due) {
		conn_timer_in(pa->s, pa->timer, due - now);
		return;
	}
	if (b->outage_queued)
		return;  /* the resume on return is on its way */
	log_info("auction=%lld outage pause reached outage_max_pause (%lld s); resuming",
	    (long long)b->a.id, (long long)(b->outage.max_pause / 1000));
	b->outage_queued = 1;
	pa->s->outage_due(pa->s, b, OUTAGE_MAX);
	if (!b->outage_queued)  /* not queued (the database is away, a standby): try again */
		conn_timer_in(pa->s, pa->timer, 1000);
}

/* Arm the max-pause timer of `b`'s outage pause. */
static void
pres_arm(struct server *s, struct book *b, struct pres_auction *pa)
{
	if (pa->timer == NULL && (pa->timer = evtimer_new(s->base, pres_on_timer, pa)) == NULL)
		return;
	conn_timer_in(s, pa->timer, auction_outage_deadline(&b->outage, b->outage_at) -
	    time_now_ms());
}

/* A supplier's connection `c` is in auction `b` from now on (it watches it, or bid). */
void
presence_join(struct server *s, struct book *b, struct conn *c)
{
	struct presence *p = s->presence;
	const struct participant *who = conn_ident(c)->who;
	uint64_t cid = conn_ident(c)->id;
	struct pres_conn *pc;
	struct pres_auction *pa;
	struct pres_org *o;

	if (p == NULL || b->outage.share <= 0 || who == NULL || who->role != ROLE_SUPPLIER ||
	    who->org->id == b->a.p.buyer_org)
		return;
	if ((pc = map_get(&p->conns, (int64_t)cid)) == NULL) {
		if ((pc = calloc(1, sizeof(*pc))) == NULL)
			return;
		pc->org = who->org->id;
		if (map_put(&p->conns, (int64_t)cid, pc) < 0) {
			free(pc);
			return;
		}
	}
	for (size_t i = 0; i < pc->n; i++)
		if (pc->auctions[i] == b->a.id)
			return;  /* in already */
	if (pc->n == pc->cap) {
		size_t ncap = pc->cap ? pc->cap * 2 : 4;
		int64_t *nv = realloc(pc->auctions, ncap * sizeof(*nv));
		if (nv == NULL)
			return;
		pc->auctions = nv;
		pc->cap = ncap;
	}
	if ((pa = pres_auction(s, b->a.id, 1)) == NULL || (o = pres_org(pa, pc->org, 1)) == NULL)
		return;
	pc->auctions[pc->n++] = b->a.id;
	o->conns++;
	o->lost_at = 0;
	pres_check_back(s, b, pa);
}

/* One connection of `org` leaves auction `id` (lost or not) at `now`. */
static void
pres_leave(struct server *s, int64_t id, int64_t org, int lost, int64_t now)
{
	struct pres_auction *pa = pres_auction(s, id, 0);
	struct pres_org *o = pa ? pres_org(pa, org, 0) : NULL;
	struct book *b;

	if (o == NULL || o->conns <= 0)
		return;
	if (--o->conns > 0)
		return;
	o->lost_at = lost ? now : 0;
	if (lost && (b = book_get(s, id)) != NULL && b->outage.share > 0)
		pres_check_outage(s, b, pa, now);
}

/* Connection `c` stops watching auction `b` (auction.unwatch): a clean leave. */
void
presence_unwatch(struct server *s, struct book *b, struct conn *c)
{
	struct presence *p = s->presence;
	struct pres_conn *pc = p ? map_get(&p->conns, (int64_t)conn_ident(c)->id) : NULL;

	if (pc == NULL)
		return;
	for (size_t i = 0; i < pc->n; i++) {
		if (pc->auctions[i] != b->a.id)
			continue;
		pc->auctions[i] = pc->auctions[--pc->n];
		pres_leave(s, b->a.id, pc->org, 0, time_now_ms());
		return;
	}
}

/* Connection `c` closed (the transport's on_conn_close; again when it is freed): it leaves
 * every auction it was in, each a loss when its peer vanished. */
void
presence_drop_conn(struct server *s, struct conn *c)
{
	struct presence *p = s->presence;
	struct pres_conn *pc = p ? map_del(&p->conns, (int64_t)conn_ident(c)->id) : NULL;
	int64_t now = time_now_ms();

	if (pc == NULL)
		return;
	for (size_t i = 0; i < pc->n; i++)
		pres_leave(s, pc->auctions[i], pc->org, conn_lost(c), now);
	free(pc->auctions);
	free(pc);
}

/*
 * Inside the batch, before an outage pause of `b` at `at` is applied: whether the losses
 * are still an outage; if so the bidders lost within the window are the pause's (counted
 * for its end), *bidders and *lost are set, and the max-pause timer is armed for the pause
 * that starts at `at`.
 */
int
presence_outage_mark(struct server *s, struct book *b, int64_t at, int *bidders, int *lost)
{
	struct pres_auction *pa = s->presence ? pres_auction(s, b->a.id, 0) : NULL;

	if (pa == NULL || !pres_trips(b, pa, at, bidders, lost))
		return 0;
	for (size_t i = 0; i < pa->n; i++)
		pa->v[i].counted = pres_lost_now(b, &pa->v[i], at);
	pa->marked_at = at;
	return 1;
}

/* An outage pause of `b` was applied (b->outage_at set): arm its max-pause timer. */
void
presence_outage_paused(struct server *s, struct book *b)
{
	struct pres_auction *pa = s->presence ? pres_auction(s, b->a.id, 1) : NULL;

	if (pa != NULL)
		pres_arm(s, b, pa);
}

/* Start-up: `b` is in an outage pause restored from the log: arm its max-pause timer. */
void
presence_restore(struct server *s, struct book *b)
{
	if (book_outage_paused(b))
		presence_outage_paused(s, b);
}
