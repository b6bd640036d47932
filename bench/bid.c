/*
 * The bidding mode: N suppliers (one connection and one certificate each)
 * spread over M auctions, W watchers per auction, bids at a target rate or as
 * fast as acknowledgements come back.
 *
 * Phases: setup (create auctions through the buyer, connect, hello, read the
 * auction), warm-up, measure, drain. Only replies received inside the measure
 * window count.
 *
 * Bid strategy (valid under the 44-FZ rules of docs/auction-rules.md): every
 * supplier knows the best price of its auction from its own acknowledgements,
 * the other suppliers' acknowledgements in this process and the watchers'
 * updates; the best price only falls, so the lowest value seen is the newest.
 * A supplier that is not leading bids best - step_min: it takes the lead, or,
 * when someone got there first in the same batch, it ties the new best price,
 * which the rules accept as a rank-improving bid. A supplier that leads waits
 * until somebody else takes the lead (it may not lower its own price). Every
 * amount is a whole number of steps below the start price, so steps are never
 * too small or too large. A refused bid is counted by its code and the
 * supplier re-reads the auction (auction.get) before bidding again.
 *
 * Ack -> watcher latency: each acknowledgement stores (seq, time) in a ring of
 * its auction; a watcher's update carries "bids" = the sequence of the last
 * bid it includes, and its latency is measured from the acknowledgement of
 * that bid. Updates that arrive before that acknowledgement (the server writes
 * both in the same loop iteration) are counted as "early", not timed.
 *
 * Where the time goes: an acknowledgement carries the bid's time ("at"), the
 * moment tenderd queued the bid, in ms of the wall clock of this machine. The
 * send->ack latency is split at that point into send->queued (the request
 * waiting to be read) and queued->ack (the group commit and the way back),
 * with millisecond resolution.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench/bid.h"
#include "bench/cpu.h"
#include "bench/hist.h"
#include "bench/jscan.h"
#include "bench/lg.h"
#include "bench/net.h"
#include "bench/opts.h"
#include "bench/procfs.h"
#include "bench/sign.h"
#include "common/money.h"
#include "common/timeutil.h"

#define RING 4096
#define MAX_REFUSAL_CODES 32
#define DRAIN_S 5

enum { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };
enum { K_SUPPLIER, K_WATCHER, K_BUYER };
enum { S_CONNECTING, S_HELLO, S_INIT, S_READY, S_STOPPED, S_GONE };
enum { B_IDLE, B_BID, B_GET };

struct bconn;

/* An auction as the load generator knows it. */
struct bauc {
	int64_t id;
	int known, exp;
	int64_t start, step, best;   /* minor units; best -1 before the first bid */
	struct bconn **wait;          /* leaders waiting for someone to take the lead */
	size_t nwait, capwait;
	struct { int64_t seq; uint64_t t; } ring[RING];
};

/* One connection of the run. */
struct bconn {
	struct brun *r;
	struct lconn *c;
	struct bauc *a;
	int kind, state;
	int64_t next_id;
	/* supplier */
	int busy;                     /* B_* */
	int64_t rid, amount, own;     /* own: current price, -1 before the first accepted bid */
	int rank;
	uint64_t t_send, t_send_wall;
	int waiting, queued;
	/* buyer */
	int created;
};

struct refusal {
	char code[40];
	uint64_t n, total;
};

struct brun {
	const struct opts *o;
	struct event_base *base;
	struct net net;
	struct ident *ids, buyer_id, watcher_id;
	int have_buyer, have_watcher;
	struct bauc *auc;
	int nauc;
	struct bconn *sup, *wat, buyer;
	int nsup, nwat;
	int phase, expected, ready, setup_failed;
	struct event *phase_ev, *tick_ev, *drain_ev;
	uint64_t t_phase, t0, t1, t0_wall;
	/* rate mode: suppliers ready to bid, FIFO */
	struct bconn **rq;
	size_t rq_head, rq_len, rq_cap;
	uint64_t credit, t_tick, missed;
	/* counters of the measure window, and totals */
	uint64_t sent, acked, refused, updates, early, sent_total, acked_total, lost;
	struct hist h_ack, h_watch, h_in, h_out;
	struct hist *slices;          /* --timeline: send->ack per slice of the window */
	size_t nslices;
	struct refusal ref[MAX_REFUSAL_CODES];
	int nref;
	long rss0, rss1;
	struct cpu_window cpu;
	char cpu_text[256];
	int64_t server_cpu_us;
};

static void bid_phase(struct brun *r, int phase);
static void sup_next(struct bconn *s);

/* Count a refusal by code. */
static void
bid_count_refusal(struct brun *r, const char *code)
{
	int i;

	for (i = 0; i < r->nref; i++)
		if (strcmp(r->ref[i].code, code) == 0)
			break;
	if (i == r->nref) {
		if (r->nref == MAX_REFUSAL_CODES)
			i = MAX_REFUSAL_CODES - 1;  /* lump the rest together */
		else
			snprintf(r->ref[r->nref++].code, sizeof(r->ref[0].code), "%s", code);
	}
	r->ref[i].total++;
	if (r->phase == PH_MEASURE)
		r->ref[i].n++;
}

/* Write one request line. */
static void
bc_send(struct bconn *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
bc_send(struct bconn *b, const char *fmt, ...)
{
	char line[1024], signed_line[8192];
	va_list ap;
	size_t sn;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n <= 0 || n >= (int)sizeof(line) - 1)
		return;
	/* signed operations are signed as they are sent (bids only with --signed) */
	if (bsign_needed(line) && (b->kind != K_SUPPLIER || b->r->o->signed_bids)) {
		if ((sn = bsign_line(b->c->id, line, (size_t)n, signed_line, sizeof(signed_line))) > 0)
			net_write(b->c, signed_line, sn);
		return;
	}
	line[n++] = '\n';
	net_write(b->c, line, (size_t)n);
}

/* Parse an amount field of a line into minor units; -1 when null or absent. */
static int64_t
bid_amount(const char *line, const char *key, int exp)
{
	char buf[48];
	int64_t v;

	if (jscan_str(line, key, buf, sizeof(buf)) != 0 || money_parse(buf, exp, &v) < 0)
		return -1;
	return v;
}

/* A lower best price was seen: leaders waiting in that auction may bid again. */
static void
auc_best(struct bauc *a, int64_t v)
{
	if (v < 0 || (a->best >= 0 && v >= a->best))
		return;
	a->best = v;
	while (a->nwait) {
		struct bconn *s = a->wait[--a->nwait];
		s->waiting = 0;
		sup_next(s);
	}
}

/* Learn the auction's parameters from a view (auction.get / watch reply). */
static void
auc_learn(struct bauc *a, const char *line)
{
	char cur[8];
	int exp;

	if (!a->known && jscan_str(line, "currency", cur, sizeof(cur)) == 0 &&
	    (exp = money_exponent(cur)) >= 0) {
		a->exp = exp;
		a->start = bid_amount(line, "start_price", exp);
		a->step = bid_amount(line, "step_min_amount", exp);
		a->known = a->start > 0 && a->step > 0;
	}
	if (a->known)
		auc_best(a, bid_amount(line, "best_price", a->exp));
}

/* The amount a supplier should bid now, or -1 when it leads (or cannot bid). */
static int64_t
sup_decide(struct bconn *s)
{
	struct bauc *a = s->a;
	int64_t amount;

	if (!a->known)
		return -1;
	if (s->own >= 0 && s->rank == 1 && a->best >= 0 && s->own <= a->best) {
		if (!s->waiting) {
			if (a->nwait == a->capwait) {
				size_t ncap = a->capwait ? a->capwait * 2 : 8;
				struct bconn **nw = realloc(a->wait, ncap * sizeof(*nw));
				if (nw == NULL)
					return -1;
				a->wait = nw;
				a->capwait = ncap;
			}
			a->wait[a->nwait++] = s;
			s->waiting = 1;
		}
		return -1;
	}
	amount = (a->best >= 0 ? a->best : a->start) - a->step;
	if (s->own >= 0 && amount >= s->own)
		amount = s->own - a->step;
	return amount > 0 ? amount : -1;
}

/* Send a bid. */
static void
sup_send(struct bconn *s, int64_t amount)
{
	struct brun *r = s->r;
	char amt[40];

	money_format(amount, s->a->exp, amt, sizeof(amt));
	s->amount = amount;
	s->rid = s->next_id++;
	s->busy = B_BID;
	s->t_send = lg_now_us();
	s->t_send_wall = lg_wall_us();
	r->sent_total++;
	if (r->phase == PH_MEASURE)
		r->sent++;
	bc_send(s, "{\"id\":%lld,\"op\":\"auction.bid\",\"auction\":%lld,\"amount\":\"%s\"}",
	    (long long)s->rid, (long long)s->a->id, amt);
}

/* Re-read the auction (after a refusal). */
static void
sup_refresh(struct bconn *s)
{
	s->rid = s->next_id++;
	s->busy = B_GET;
	bc_send(s, "{\"id\":%lld,\"op\":\"auction.get\",\"auction\":%lld}", (long long)s->rid,
	    (long long)s->a->id);
}

/* Backoff timer after an `unavailable` or `internal` refusal. */
static void
sup_on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct bconn *s = arg;

	if (s->state == S_READY && s->c)
		sup_refresh(s);
}

/* Bid now (closed loop) or join the queue of the rate limiter. */
static void
sup_next(struct bconn *s)
{
	struct brun *r = s->r;
	int64_t amount;

	if (r->phase != PH_WARMUP && r->phase != PH_MEASURE)
		return;
	if (s->state != S_READY || s->busy != B_IDLE || s->queued || s->waiting)
		return;
	if (r->o->rate == 0) {
		if ((amount = sup_decide(s)) > 0)
			sup_send(s, amount);
		return;
	}
	if (r->rq_len == r->rq_cap)
		return;  /* cannot happen: one slot per supplier */
	r->rq[(r->rq_head + r->rq_len++) % r->rq_cap] = s;
	s->queued = 1;
}

/* Rate limiter tick: release as many bids as the rate allows. */
static void
bid_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct brun *r = arg;
	uint64_t now = lg_now_us(), cap;

	/* credit is in millionths of a bid */
	r->credit += (uint64_t)r->o->rate * (now - r->t_tick);
	r->t_tick = now;
	cap = (uint64_t)r->o->rate * 20000u + 1000000u;  /* at most 20 ms of backlog */
	if (r->credit > cap) {
		if (r->phase == PH_MEASURE)
			r->missed += (r->credit - cap) / 1000000u;
		r->credit = cap;
	}
	while (r->credit >= 1000000u && r->rq_len) {
		struct bconn *s = r->rq[r->rq_head];
		int64_t amount;
		r->rq_head = (r->rq_head + 1) % r->rq_cap;
		r->rq_len--;
		s->queued = 0;
		if (s->state != S_READY || s->busy != B_IDLE)
			continue;
		if ((amount = sup_decide(s)) <= 0)
			continue;  /* leading: waits for a new best price */
		sup_send(s, amount);
		r->credit -= 1000000u;
	}
}

/* One connection is ready; start when all are. */
static void
bid_ready_one(struct brun *r)
{
	r->ready++;
	if (r->phase == PH_SETUP && r->ready + r->setup_failed >= r->expected)
		bid_phase(r, PH_WARMUP);
}

/* Reply to a supplier's bid. */
static void
sup_on_bid_reply(struct bconn *s, const char *line)
{
	struct brun *r = s->r;
	uint64_t now = lg_now_us();
	char code[40];
	int64_t seq, rank;

	s->busy = B_IDLE;
	if (jscan_ok(line)) {
		struct bauc *a = s->a;
		r->acked_total++;
		if (r->phase == PH_MEASURE) {
			char at[TIME_BUF];
			int64_t at_ms;
			r->acked++;
			hist_add(&r->h_ack, now - s->t_send);
			if (r->nslices) {
				size_t k = (size_t)((now - r->t0) / ((uint64_t)r->o->timeline_ms * 1000u));
				hist_add(&r->slices[k < r->nslices ? k : r->nslices - 1], now - s->t_send);
			}
			if (jscan_str(line, "at", at, sizeof(at)) == 0 && time_parse(at, &at_ms) == 0) {
				uint64_t at_us = (uint64_t)at_ms * 1000u, wall = lg_wall_us();
				/* "at" is truncated to the ms: up to 999 us early */
				hist_add(&r->h_in, at_us + 999 > s->t_send_wall ?
				    at_us + 999 - s->t_send_wall : 0);
				hist_add(&r->h_out, wall > at_us ? wall - at_us : 0);
			}
		}
		s->own = s->amount;
		s->rank = jscan_int(line, "rank", &rank) == 0 ? (int)rank : 0;
		if (jscan_int(line, "seq", &seq) == 0) {
			a->ring[seq % RING].seq = seq;
			a->ring[seq % RING].t = now;
		}
		auc_best(a, bid_amount(line, "best_price", a->exp));
		sup_next(s);
		return;
	}
	if (jscan_str(line, "code", code, sizeof(code)) != 0)
		snprintf(code, sizeof(code), "?");
	if (r->phase == PH_MEASURE)
		r->refused++;
	bid_count_refusal(r, code);
	if (strcmp(code, "auction_ended") == 0 || strcmp(code, "auction_cancelled") == 0 ||
	    strcmp(code, "auction_not_started") == 0 || strcmp(code, "not_found") == 0 ||
	    strcmp(code, "forbidden") == 0 || strcmp(code, "own_auction") == 0) {
		s->state = S_STOPPED;  /* nothing more to do in this auction */
		return;
	}
	if (strcmp(code, "unavailable") == 0 || strcmp(code, "internal") == 0) {
		/* the server could not record anything: retry a little later */
		struct timeval tv = { 0, 100000 };
		s->busy = B_GET;  /* nothing else is sent meanwhile */
		s->rid = -1;
		event_base_once(r->base, -1, EV_TIMEOUT, sup_on_backoff, s, &tv);
		return;
	}
	sup_refresh(s);
}

/* A supplier's auction.get reply: its own price and rank, the best price. */
static void
sup_on_view(struct bconn *s, const char *line)
{
	int64_t rank;

	s->busy = B_IDLE;
	if (!jscan_ok(line)) {
		s->state = S_STOPPED;
		return;
	}
	auc_learn(s->a, line);
	s->own = bid_amount(line, "your_price", s->a->exp);
	s->rank = jscan_int(line, "your_rank", &rank) == 0 ? (int)rank : 0;
	if (s->state == S_INIT) {
		s->state = S_READY;
		bid_ready_one(s->r);
	}
	sup_next(s);
}

/* Start the connections of suppliers and watchers. */
static void bid_open_all(struct brun *r);

/* Lines on any connection of the run. */
static void
bc_on_line(struct lconn *c, char *line, size_t len)
{
	struct bconn *b = c->arg;
	struct brun *r = b->r;
	int64_t id = -1, v;

	if (strncmp(line, "{\"event\":", 9) == 0) {
		if (b->kind == K_WATCHER && strncmp(line + 9, "\"auction.update\"", 16) == 0) {
			uint64_t now = lg_now_us();
			struct bauc *a = b->a;
			if (r->phase == PH_MEASURE)
				r->updates++;
			if (jscan_int(line, "bids", &v) == 0 && v > 0 && r->phase == PH_MEASURE) {
				if (a->ring[v % RING].seq == v && a->ring[v % RING].t <= now)
					hist_add(&r->h_watch, now - a->ring[v % RING].t);
				else
					r->early++;
			}
			if (a->known)
				auc_best(a, bid_amount(line, "best_price", a->exp));
		} else if (strstr(line, "\"error\"")) {
			char code[48] = "?";
			jscan_str(line, "code", code, sizeof(code));
			lg_note(r->o, "connection %s: server error event %s", c->id->name, code);
		}
		return;
	}
	jscan_int(line, "id", &id);
	if (b->state == S_HELLO && id == 1) {
		if (!jscan_ok(line)) {
			lg_note(r->o, "%s: hello refused: %.200s", c->id->name, line);
			b->state = S_STOPPED;
			r->setup_failed++;
			return;
		}
		b->state = S_INIT;
		switch (b->kind) {
		case K_SUPPLIER:
			b->rid = b->next_id++;
			b->busy = B_GET;
			bc_send(b, "{\"id\":%lld,\"op\":\"auction.get\",\"auction\":%lld}",
			    (long long)b->rid, (long long)b->a->id);
			break;
		case K_WATCHER:
			bc_send(b, "{\"id\":2,\"op\":\"auction.watch\",\"auction\":%lld}",
			    (long long)b->a->id);
			break;
		case K_BUYER:
			for (int i = 0; i < r->nauc; i++)
				bc_send(b, "{\"id\":%d,\"op\":\"auction.create\",\"title\":\"tenderd bench lot %d\","
				    "\"currency\":\"RUB\",\"start_price\":\"%s\",\"step_min\":\"%s\","
				    "\"step_max\":\"%s\",\"duration\":%d,\"extension_window\":60,"
				    "\"extension\":60,\"signed_bids\":%s}", 100 + i, i + 1, r->o->start_price,
				    r->o->step_min, r->o->step_max, r->o->auction_duration,
				    r->o->signed_bids ? "true" : "false");
			break;
		}
		return;
	}
	switch (b->kind) {
	case K_SUPPLIER:
		if (b->busy == B_BID && id == b->rid)
			sup_on_bid_reply(b, line);
		else if (b->busy == B_GET && id == b->rid)
			sup_on_view(b, line);
		break;
	case K_WATCHER:
		if (id == 2 && b->state == S_INIT) {
			if (!jscan_ok(line)) {
				lg_note(r->o, "watch refused: %.200s", line);
				b->state = S_STOPPED;
				r->setup_failed++;
				return;
			}
			auc_learn(b->a, line);
			b->state = S_READY;
			bid_ready_one(r);
		}
		break;
	case K_BUYER:
		if (id >= 100 && id < 100 + r->nauc) {
			const char *p = jscan_find(line, "auction");
			if (!jscan_ok(line) || p == NULL || jscan_int(p, "id", &v) < 0) {
				lg_note(r->o, "auction.create refused: %.300s", line);
				r->setup_failed = 1;
				event_base_loopbreak(r->base);
				return;
			}
			r->auc[id - 100].id = v;
			if (++b->created == r->nauc) {
				b->state = S_READY;
				lg_note(r->o, "created %d auctions (ids %lld..%lld)", r->nauc,
				    (long long)r->auc[0].id, (long long)r->auc[r->nauc - 1].id);
				bid_open_all(r);
			}
		}
		break;
	}
	(void)len;
}

/* Handshake done: say hello. */
static void
bc_on_up(struct lconn *c)
{
	struct bconn *b = c->arg;

	b->state = S_HELLO;
	bc_send(b, "{\"id\":1,\"op\":\"hello\"}");
}

/* Connection failed or closed. */
static void
bc_on_down(struct lconn *c, const char *why)
{
	struct bconn *b = c->arg;
	struct brun *r = b->r;

	if (b->state < S_READY && r->phase == PH_SETUP) {
		lg_note(r->o, "%s: connection failed: %s", c->id->name, why);
		r->setup_failed++;
		if (b->kind == K_BUYER) {
			event_base_loopbreak(r->base);
		} else if (r->ready + r->setup_failed >= r->expected) {
			bid_phase(r, PH_WARMUP);
		}
	} else if (r->phase < PH_DRAIN) {
		lg_note(r->o, "%s: connection lost: %s", c->id->name, why);
		r->lost++;
	}
	b->state = S_GONE;
	b->c = NULL;
}

static const struct lconn_ops bc_ops = { bc_on_up, bc_on_line, bc_on_down };

/* Open every supplier and watcher connection. */
static void
bid_open_all(struct brun *r)
{
	int w = 0;

	r->expected = r->nsup + r->nwat;
	/* watchers first: they must be in place before the first bid */
	for (int i = 0; i < r->nauc; i++) {
		for (int k = 0; k < r->o->watchers; k++, w++) {
			struct bconn *b = &r->wat[w];
			b->r = r;
			b->kind = K_WATCHER;
			b->a = &r->auc[i];
			b->next_id = 3;
			b->c = net_open(&r->net, r->have_watcher ? &r->watcher_id : &r->buyer_id, 0,
			    &bc_ops, b);
		}
	}
	for (int i = 0; i < r->nsup; i++) {
		struct bconn *b = &r->sup[i];
		b->r = r;
		b->kind = K_SUPPLIER;
		b->a = &r->auc[i % r->nauc];
		b->own = -1;
		b->next_id = 2;
		b->c = net_open(&r->net, &r->ids[i], 0, &bc_ops, b);
	}
	lg_note(r->o, "connecting %d suppliers and %d watchers", r->nsup, r->nwat);
}

/* Drain: stop when nothing is outstanding or after DRAIN_S. */
static void
bid_on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct brun *r = arg;
	int out = 0;

	for (int i = 0; i < r->nsup; i++)
		if (r->sup[i].state == S_READY && r->sup[i].busy != B_IDLE)
			out++;
	if (out && lg_now_us() - r->t1 < DRAIN_S * 1000000u)
		return;
	if (out)
		lg_note(r->o, "%d requests still unanswered after %d s", out, DRAIN_S);
	bid_phase(r, PH_DONE);
}

/* Phase timer. */
static void
bid_on_phase_timer(evutil_socket_t fd, short what, void *arg)
{
	struct brun *r = arg;

	switch (r->phase) {
	case PH_SETUP:
		lg_note(r->o, "setup timeout: %d of %d connections ready", r->ready, r->expected);
		if (r->ready > 0)
			bid_phase(r, PH_WARMUP);
		else
			bid_phase(r, PH_DONE);
		break;
	case PH_WARMUP:
		bid_phase(r, PH_MEASURE);
		break;
	case PH_MEASURE:
		bid_phase(r, PH_DRAIN);
		break;
	}
}

/* Enter a phase. */
static void
bid_phase(struct brun *r, int phase)
{
	struct timeval tv = { 0, 0 };

	r->phase = phase;
	r->t_phase = lg_now_us();
	evtimer_del(r->phase_ev);
	switch (phase) {
	case PH_WARMUP:
		lg_note(r->o, "%d connections ready (%d failed); warm-up %d s", r->ready,
		    r->setup_failed, r->o->warmup);
		if (r->o->rate > 0) {
			struct timeval tick = { 0, 1000 };
			r->t_tick = lg_now_us();
			r->tick_ev = event_new(r->base, -1, EV_PERSIST, bid_on_tick, r);
			event_add(r->tick_ev, &tick);
		}
		for (int i = 0; i < r->nsup; i++)
			sup_next(&r->sup[i]);
		tv.tv_sec = r->o->warmup;
		evtimer_add(r->phase_ev, &tv);
		break;
	case PH_MEASURE:
		r->t0 = lg_now_us();
		r->t0_wall = lg_wall_us();
		if (r->o->timeline_ms > 0) {
			size_t ms = (size_t)r->o->timeline_ms;
			r->nslices = ((size_t)r->o->duration * 1000u + ms - 1) / ms;
			r->nslices = r->nslices ? r->nslices : 1;
			if ((r->slices = calloc(r->nslices, sizeof(*r->slices))) == NULL)
				r->nslices = 0;
		}
		r->rss0 = procfs_rss_kb(r->o->server_pid);
		cpu_begin(r->o, &r->cpu);
		lg_note(r->o, "measuring for %d s", r->o->duration);
		tv.tv_sec = r->o->duration;
		evtimer_add(r->phase_ev, &tv);
		break;
	case PH_DRAIN: {
		struct timeval poll = { 0, 20000 };
		r->t1 = lg_now_us();
		r->rss1 = procfs_rss_kb(r->o->server_pid);
		cpu_end(r->o, &r->cpu, r->cpu_text, sizeof(r->cpu_text), &r->server_cpu_us);
		if (r->tick_ev)
			event_del(r->tick_ev);
		r->drain_ev = event_new(r->base, -1, EV_PERSIST, bid_on_drain, r);
		event_add(r->drain_ev, &poll);
		break;
	}
	case PH_DONE:
		if (r->drain_ev)
			event_del(r->drain_ev);
		event_base_loopbreak(r->base);
		break;
	}
}

/* Parse "1-100" or "3,5,9-12" into the auction table. */
static int
bid_parse_ids(struct brun *r, const char *spec)
{
	const char *p = spec;
	int n = 0, cap = 0;

	while (*p) {
		char *end;
		long long lo = strtoll(p, &end, 10), hi = lo;
		if (end == p || lo <= 0)
			return -1;
		p = end;
		if (*p == '-') {
			hi = strtoll(p + 1, &end, 10);
			if (end == p + 1 || hi < lo)
				return -1;
			p = end;
		}
		for (long long v = lo; v <= hi; v++) {
			if (n == cap) {
				struct bauc *na;
				cap = cap ? cap * 2 : 64;
				if ((na = realloc(r->auc, (size_t)cap * sizeof(*na))) == NULL)
					return -1;
				r->auc = na;
			}
			memset(&r->auc[n], 0, sizeof(r->auc[n]));
			r->auc[n].id = v;
			r->auc[n].best = -1;
			n++;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	r->nauc = n;
	return n > 0 ? 0 : -1;
}

/* Print the report of the run. */
static void
bid_report(struct brun *r)
{
	uint64_t span = r->t1 > r->t0 ? r->t1 - r->t0 : 1;
	char ack[256], wat[256], in[256], out[256];

	hist_summary(&r->h_ack, ack, sizeof(ack));
	hist_summary(&r->h_in, in, sizeof(in));
	hist_summary(&r->h_out, out, sizeof(out));
	hist_summary(&r->h_watch, wat, sizeof(wat));
	printf("== bid run: %d suppliers over %d auctions, %d watchers each, %s\n", r->nsup, r->nauc,
	    r->o->watchers, r->o->rate ? "open loop" : "closed loop (one bid in flight per supplier)");
	if (r->o->rate)
		printf("target rate        %lld bids/s (%llu sends missed: no supplier was free)\n",
		    (long long)r->o->rate, (unsigned long long)r->missed);
	printf("window             %.3f s\n", (double)span / 1e6);
	printf("bids sent          %llu (%llu/s)\n", (unsigned long long)r->sent,
	    (unsigned long long)(r->sent * 1000000u / span));
	printf("bids acknowledged  %llu (%llu/s)\n", (unsigned long long)r->acked,
	    (unsigned long long)(r->acked * 1000000u / span));
	printf("bids refused       %llu\n", (unsigned long long)r->refused);
	for (int i = 0; i < r->nref; i++)
		printf("  %-28s %llu in window, %llu in all\n", r->ref[i].code,
		    (unsigned long long)r->ref[i].n, (unsigned long long)r->ref[i].total);
	printf("send->ack us       %s\n", ack);
	printf("  send->queued us  %s\n", in);
	printf("  queued->ack us   %s\n", out);
	printf("ack->watcher us    %s (updates %llu/s, %llu arrived before the ack)\n", wat,
	    (unsigned long long)(r->updates * 1000000u / span), (unsigned long long)r->early);
	printf("connections        opened %llu, failed %llu, lost during the run %llu\n",
	    (unsigned long long)r->net.opened, (unsigned long long)r->net.failed,
	    (unsigned long long)r->lost);
	if (r->o->server_pid > 0)
		printf("server RSS         %ld KiB at start of window, %ld KiB at end, peak %ld KiB\n",
		    r->rss0, r->rss1, procfs_hwm_kb(r->o->server_pid));
	printf("cpu (%% of a core)  %s\n", r->cpu_text);
	if (r->acked && r->server_cpu_us > 0)
		printf("server cpu per ack %llu us\n",
		    (unsigned long long)((uint64_t)r->server_cpu_us / r->acked));
	printf("RESULT mode=bid suppliers=%d auctions=%d watchers=%d rate=%lld acked=%llu "
	    "acked_per_s=%llu sent_per_s=%llu refused=%llu ack_p50_us=%llu ack_p90_us=%llu "
	    "ack_p99_us=%llu ack_p999_us=%llu ack_max_us=%llu queued_p99_us=%llu "
	    "commit_p99_us=%llu watch_n=%llu watch_p50_us=%llu "
	    "watch_p99_us=%llu watch_max_us=%llu watch_early=%llu updates_per_s=%llu "
	    "conn_opened=%llu conn_failed=%llu conn_lost=%llu server_rss_kb=%ld %s\n",
	    r->nsup, r->nauc, r->o->watchers, (long long)r->o->rate, (unsigned long long)r->acked,
	    (unsigned long long)(r->acked * 1000000u / span),
	    (unsigned long long)(r->sent * 1000000u / span), (unsigned long long)r->refused,
	    (unsigned long long)hist_quantile(&r->h_ack, 50, 100),
	    (unsigned long long)hist_quantile(&r->h_ack, 90, 100),
	    (unsigned long long)hist_quantile(&r->h_ack, 99, 100),
	    (unsigned long long)hist_quantile(&r->h_ack, 999, 1000),
	    (unsigned long long)r->h_ack.max,
	    (unsigned long long)hist_quantile(&r->h_in, 99, 100),
	    (unsigned long long)hist_quantile(&r->h_out, 99, 100), (unsigned long long)r->h_watch.n,
	    (unsigned long long)hist_quantile(&r->h_watch, 50, 100),
	    (unsigned long long)hist_quantile(&r->h_watch, 99, 100),
	    (unsigned long long)r->h_watch.max, (unsigned long long)r->early,
	    (unsigned long long)(r->updates * 1000000u / span),
	    (unsigned long long)r->net.opened, (unsigned long long)r->net.failed,
	    (unsigned long long)r->lost, r->rss1, r->cpu_text);
	for (size_t k = 0; k < r->nslices; k++)
		printf("TIMELINE t_ms=%llu wall_ms=%llu acked=%llu ack_p99_us=%llu ack_max_us=%llu\n",
		    (unsigned long long)k * (unsigned long long)r->o->timeline_ms,
		    (unsigned long long)(r->t0_wall / 1000u + k * (unsigned long long)r->o->timeline_ms),
		    (unsigned long long)r->slices[k].n,
		    (unsigned long long)hist_quantile(&r->slices[k], 99, 100),
		    (unsigned long long)r->slices[k].max);
	fflush(stdout);
}

/* Close everything and free the run. */
static void
bid_free(struct brun *r)
{
	for (int i = 0; i < r->nsup; i++)
		if (r->sup[i].c)
			net_close(r->sup[i].c);
	for (int i = 0; i < r->nwat; i++)
		if (r->wat[i].c)
			net_close(r->wat[i].c);
	if (r->buyer.c)
		net_close(r->buyer.c);
	for (int i = 0; i < r->nauc; i++)
		free(r->auc[i].wait);
	for (int i = 0; i < r->nsup && r->ids; i++)
		ident_free(&r->ids[i]);
	if (r->have_buyer)
		ident_free(&r->buyer_id);
	if (r->have_watcher)
		ident_free(&r->watcher_id);
	net_free(&r->net);
	if (r->phase_ev)
		event_free(r->phase_ev);
	if (r->tick_ev)
		event_free(r->tick_ev);
	if (r->drain_ev)
		event_free(r->drain_ev);
	free(r->ids);
	free(r->slices);
	free(r->auc);
	free(r->sup);
	free(r->wat);
	free(r->rq);
}

/* The bidding mode. */
int
bid_run(const struct opts *o)
{
	static struct brun run;
	struct brun *r = &run;
	char cause[512];
	struct timeval tv = { 0, 0 };
	int rc = 1;

	r->o = o;
	hist_init(&r->h_ack);
	hist_init(&r->h_in);
	hist_init(&r->h_out);
	hist_init(&r->h_watch);
	{
		/* the epoll changelist, as tenderd uses it (server/main.c) */
		struct event_config *ec = event_config_new();
		if (ec != NULL) {
			event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
			r->base = event_base_new_with_config(ec);
			event_config_free(ec);
		}
	}
	if (r->base == NULL ||
	    net_init(&r->net, r->base, o->server, o->ca, o->concurrency, cause, sizeof(cause)) < 0) {
		fprintf(stderr, "loadgen: %s\n", r->base ? cause : "event_base_new failed");
		return 1;
	}
	if (o->buyer_cert) {
		if (ident_load(&r->buyer_id, NULL, "buyer", o->buyer_cert, o->buyer_key, cause,
		    sizeof(cause)) < 0)
			goto fail;
		r->have_buyer = 1;
	}
	if (o->watcher_cert) {
		if (ident_load(&r->watcher_id, NULL, "watcher", o->watcher_cert, o->watcher_key,
		    cause, sizeof(cause)) < 0)
			goto fail;
		r->have_watcher = 1;
	}
	if (o->auction_ids) {
		if (bid_parse_ids(r, o->auction_ids) < 0) {
			snprintf(cause, sizeof(cause), "bad --auction-ids '%s'", o->auction_ids);
			goto fail;
		}
	} else {
		if (!r->have_buyer) {
			snprintf(cause, sizeof(cause), "--auctions needs --buyer-cert and --buyer-key "
			    "(or give existing ones with --auction-ids)");
			goto fail;
		}
		r->nauc = o->auctions;
		if ((r->auc = calloc((size_t)r->nauc, sizeof(*r->auc))) == NULL)
			goto oom;
		for (int i = 0; i < r->nauc; i++)
			r->auc[i].best = -1;
	}
	if (o->watchers > 0 && !r->have_buyer && !r->have_watcher) {
		snprintf(cause, sizeof(cause), "watchers need --watcher-cert or --buyer-cert");
		goto fail;
	}
	r->nsup = o->conns;
	r->nwat = r->nauc * o->watchers;
	if ((r->ids = ident_load_bulk(o, r->nsup, cause, sizeof(cause))) == NULL)
		goto fail;
	r->sup = calloc((size_t)r->nsup + 1, sizeof(*r->sup));
	r->wat = calloc((size_t)r->nwat + 1, sizeof(*r->wat));
	r->rq_cap = (size_t)r->nsup + 1;
	r->rq = calloc(r->rq_cap, sizeof(*r->rq));
	r->phase_ev = evtimer_new(r->base, bid_on_phase_timer, r);
	if (r->sup == NULL || r->wat == NULL || r->rq == NULL || r->phase_ev == NULL)
		goto oom;

	r->phase = PH_SETUP;
	tv.tv_sec = o->connect_timeout;
	evtimer_add(r->phase_ev, &tv);
	if (o->auction_ids) {
		bid_open_all(r);
	} else {
		r->buyer.r = r;
		r->buyer.kind = K_BUYER;
		r->buyer.c = net_open(&r->net, &r->buyer_id, 0, &bc_ops, &r->buyer);
		lg_note(o, "creating %d auctions as the buyer", r->nauc);
	}
	event_base_dispatch(r->base);
	if (r->phase == PH_DONE && r->t1 > r->t0) {
		bid_report(r);
		rc = 0;
	} else {
		fprintf(stderr, "loadgen: the run did not complete (setup failed)\n");
	}
	bid_free(r);
	event_base_free(r->base);
	return rc;
oom:
	snprintf(cause, sizeof(cause), "out of memory");
fail:
	fprintf(stderr, "loadgen: %s\n", cause);
	bid_free(r);
	event_base_free(r->base);
	return 1;
}
