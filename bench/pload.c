/*
 * The procurement mode: M procedures (RFQs and tenders) created and published
 * by the buyer, half of them left in the enquiry period (`published`: questions)
 * and half moved on to `tendering` (offers), N suppliers (one connection and
 * one certificate each) spread over them, W watchers (procurement.watch, the
 * buyer's certificate) per procedure.
 *
 * Procedures i = 0..M-1: i % 4 == 0 an RFQ and 1 a tender in `tendering`
 * (their enquiry_end a few seconds after creation: the server moves them on by
 * itself), 2 an RFQ and 3 a tender in `published` (enquiry_end two hours on).
 *
 * What the suppliers do:
 *   - in a tendering procedure, one request in flight each (closed loop, or
 *     released by the rate limiter): submit an offer (quote.submit or
 *     bid.submit: a new offer), then revise it (the same op again, one step
 *     lower, no event), and every --withdraw-every-th operation withdraw it (the
 *     next one submits it again, which reactivates it);
 *   - in a published procedure, ask a question (question.ask) every
 *     --question-gap ms; the buyer answers every question (question.answer),
 *     several answers in flight on its connection.
 * New offers, withdrawals, questions and answers change what watchers see and
 * each is followed by a procurement.update; revisions send nothing.
 *
 * Ack -> watcher latency: the load generator knows every change of its
 * procedures, so it keeps, per procedure, the counts a watcher's view will show
 * (questions, answered questions, live offers) after each acknowledged change,
 * in the order the acknowledgements arrive, with the time of that ack. A
 * watcher's update carries the same counts; it is timed from the first
 * acknowledgement, after the one its previous update matched, whose counts are
 * those of the update. An update that matches no acknowledgement yet (it
 * arrived first) is counted as "arrived before the ack", not timed.
 *
 * Rate mode (--rate R): offers are released by a 1 ms tick at R minus the
 * rate of questions and answers (which follow --question-gap in both modes),
 * so that all operations together come to about R per second.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench/cpu.h"
#include "bench/hist.h"
#include "bench/jscan.h"
#include "bench/lg.h"
#include "bench/net.h"
#include "bench/opts.h"
#include "bench/pload.h"
#include "bench/procfs.h"
#include "bench/sign.h"
#include "common/money.h"
#include "common/timeutil.h"

#define PRING 4096              /* acknowledged changes kept per procedure */
#define MAX_CODES 32
#define DRAIN_S 5
#define MAX_PRICE 100000000     /* the lots' max_price, minor units (1,000,000.00 RUB) */
#define ANSWERS_IN_FLIGHT 64
#define ID_CREATE 1000000
#define ID_PUBLISH 2000000
#define ID_ANSWER 3000000

enum { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };
enum { K_SUPPLIER, K_WATCHER, K_BUYER };
enum { S_CONNECTING, S_HELLO, S_INIT, S_READY, S_STOPPED, S_GONE };
/* operation kinds, for the per-kind latencies */
enum { OP_NEW, OP_REVISE, OP_WITHDRAW, OP_ASK, OP_ANSWER, OP_NKINDS };
static const char *const op_names[OP_NKINDS] = { "submit", "revise", "withdraw", "ask", "answer" };

struct pconn;

/* A procedure as the load generator knows it. */
struct pproc {
	int64_t id;
	int tender, tendering;        /* tender (else RFQ); meant for offers (else questions) */
	int64_t nq, na, live;         /* as the acknowledgements so far leave them */
	uint64_t nring;               /* acknowledged changes so far */
	struct { int64_t sig; uint64_t t; } ring[PRING];
};

/* One connection of the run. */
struct pconn {
	struct prun *r;
	struct lconn *c;
	struct pproc *p;
	int kind, state;
	int64_t next_id;
	/* supplier */
	int busy, op, queued, has_offer, nops;
	int64_t rid, price;
	uint64_t t_send, next_ask;
	/* watcher: the ring index its last update matched, +1 (0: none yet) */
	uint64_t cursor;
	/* buyer */
	int created, published;
};

struct code_count {
	char code[40];
	uint64_t n, total;
};

/* A question waiting for the buyer's answer, or an answer in flight. */
struct pquestion {
	struct pproc *p;
	int64_t q;
	uint64_t t_send;
};

struct prun {
	const struct opts *o;
	struct event_base *base;
	struct net net;
	struct ident *ids, buyer_id;
	struct pproc *procs;
	int nproc;
	struct pconn *sup, *wat, buyer;
	int nsup, nwat;
	int phase, expected, ready, setup_failed;
	struct event *phase_ev, *tick_ev, *drain_ev;
	uint64_t t0, t1;
	int64_t offer_rate;           /* rate mode: offers per second */
	/* rate mode: suppliers ready to make an offer, FIFO */
	struct pconn **rq;
	size_t rq_head, rq_len, rq_cap;
	uint64_t credit, t_tick, missed;
	/* questions to answer (FIFO) and answers in flight (by request id) */
	struct pquestion *qq, inflight[ANSWERS_IN_FLIGHT];
	size_t qq_head, qq_len, qq_cap;
	int ninflight;
	int64_t next_answer_id;
	/* counters of the measure window */
	uint64_t sent, acked, refused, updates, early, lost, n_op[OP_NKINDS];
	struct hist h_ack, h_watch, h_op[OP_NKINDS];
	struct code_count ref[MAX_CODES];
	int nref;
	long rss1;
	struct cpu_window cpu;
	char cpu_text[256];
	int64_t server_cpu_us;
};

static void pl_phase(struct prun *r, int phase);
static void sup_next(struct pconn *s);
static void buyer_answer_more(struct prun *r);

/* Count a refusal by code. */
static void
pl_count_refusal(struct prun *r, const char *code)
{
	int i;

	for (i = 0; i < r->nref; i++)
		if (strcmp(r->ref[i].code, code) == 0)
			break;
	if (i == r->nref) {
		if (r->nref == MAX_CODES)
			i = MAX_CODES - 1;  /* lump the rest together */
		else
			snprintf(r->ref[r->nref++].code, sizeof(r->ref[0].code), "%s", code);
	}
	r->ref[i].total++;
	if (r->phase == PH_MEASURE) {
		r->ref[i].n++;
		r->refused++;
	}
}

/* Write one request line. */
static void
pc_send(struct pconn *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
pc_send(struct pconn *b, const char *fmt, ...)
{
	char line[2048], signed_line[12288];
	va_list ap;
	size_t sn;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n <= 0 || n >= (int)sizeof(line) - 1 || b->c == NULL)
		return;
	/* signed operations are signed as they are sent */
	if (bsign_needed(line)) {
		if ((sn = bsign_line(b->c->id, line, (size_t)n, signed_line, sizeof(signed_line))) > 0)
			net_write(b->c, signed_line, sn);
		return;
	}
	line[n++] = '\n';
	net_write(b->c, line, (size_t)n);
}

/* The counts a view shows, as one number (questions, answered, live offers). */
static int64_t
pl_sig(int64_t nq, int64_t na, int64_t live)
{
	return (nq << 42) | (na << 21) | live;
}

/* An acknowledged change of a procedure: remember its counts and time. */
static void
proc_changed(struct pproc *p, int dq, int da, int dlive, uint64_t now)
{
	uint64_t k = p->nring++ % PRING;

	p->nq += dq;
	p->na += da;
	p->live += dlive;
	p->ring[k].sig = pl_sig(p->nq, p->na, p->live);
	p->ring[k].t = now;
}

/* Occurrences of `pat` in `line`. */
static int64_t
pl_count(const char *line, const char *pat)
{
	size_t k = strlen(pat);
	int64_t n = 0;

	for (const char *p = line; (p = strstr(p, pat)) != NULL; p += k)
		n++;
	return n;
}

/* The counts of a procurement view (an update or a get reply). */
static int64_t
pl_view_sig(const char *line)
{
	int64_t live = 0;
	const char *p = line;

	while ((p = strstr(p, "\"offers\":")) != NULL) {
		p += 9;
		live += strtoll(p, NULL, 10);
	}
	return pl_sig(pl_count(line, "\"asked_at\":"), pl_count(line, "\"answered_at\":\""), live);
}

/* A watcher's procurement.update: time it from the acknowledgement it shows. */
static void
wat_on_update(struct pconn *w, const char *line)
{
	struct prun *r = w->r;
	struct pproc *p = w->p;
	uint64_t now = lg_now_us(), i;
	int64_t sig;

	/* matched in every phase, so that the cursor follows; timed in the window only */
	if (r->phase == PH_MEASURE)
		r->updates++;
	sig = pl_view_sig(line);
	i = w->cursor;
	if (p->nring > PRING && i < p->nring - PRING)
		i = p->nring - PRING;
	for (; i < p->nring; i++) {
		if (p->ring[i % PRING].sig == sig) {
			if (r->phase == PH_MEASURE)
				hist_add(&r->h_watch, now - p->ring[i % PRING].t);
			w->cursor = i + 1;
			return;
		}
	}
	if (r->phase == PH_MEASURE)
		r->early++;
}

/* Send the supplier's next operation: an offer change or a question. */
static void
sup_send(struct pconn *s)
{
	struct prun *r = s->r;
	struct pproc *p = s->p;
	const char *pre = p->tender ? "bid" : "quote";
	char price[40];

	s->rid = s->next_id++;
	s->busy = 1;
	s->t_send = lg_now_us();
	if (r->phase == PH_MEASURE)
		r->sent++;
	if (!p->tendering) {
		s->op = OP_ASK;
		pc_send(s, "{\"id\":%lld,\"op\":\"question.ask\",\"procurement\":%lld,\"text\":\"Question %d "
		    "of %s: may the goods be delivered in two batches, and is an equivalent product "
		    "acceptable?\"}", (long long)s->rid, (long long)p->id, s->nops++, s->c->id->name);
		return;
	}
	if (s->has_offer && r->o->withdraw_every > 0 && ++s->nops % r->o->withdraw_every == 0) {
		s->op = OP_WITHDRAW;
		pc_send(s, "{\"id\":%lld,\"op\":\"%s.withdraw\",\"procurement\":%lld,\"lot\":1}",
		    (long long)s->rid, pre, (long long)p->id);
		return;
	}
	s->op = s->has_offer ? OP_REVISE : OP_NEW;
	s->price = s->price > MAX_PRICE / 2 ? s->price - 100 : MAX_PRICE - 100;
	money_format(s->price, 2, price, sizeof(price));
	if (p->tender)
		pc_send(s, "{\"id\":%lld,\"op\":\"bid.submit\",\"procurement\":%lld,\"lot\":1,"
		    "\"price\":\"%s\",\"values\":{\"delivery\":%d}}", (long long)s->rid,
		    (long long)p->id, price, 1 + s->nops % 60);
	else
		pc_send(s, "{\"id\":%lld,\"op\":\"quote.submit\",\"procurement\":%lld,\"lot\":1,"
		    "\"price\":\"%s\",\"delivery_days\":%d,\"validity_days\":30}", (long long)s->rid,
		    (long long)p->id, price, 1 + s->nops % 60);
}

/* Timer of a supplier: its next question is due, or a back-off is over. */
static void
sup_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *s = arg;

	s->queued = 0;
	sup_next(s);
}

/* Wake the supplier up after `us` microseconds. */
static void
sup_later(struct pconn *s, uint64_t us)
{
	struct timeval tv = { (time_t)(us / 1000000u), (suseconds_t)(us % 1000000u) };

	s->queued = 1;
	event_base_once(s->r->base, -1, EV_TIMEOUT, sup_on_timer, s, &tv);
}

/* Send now (closed loop), wait for the question's time, or join the rate limiter's queue. */
static void
sup_next(struct pconn *s)
{
	struct prun *r = s->r;

	if (r->phase != PH_WARMUP && r->phase != PH_MEASURE)
		return;
	if (s->state != S_READY || s->busy || s->queued)
		return;
	if (!s->p->tendering) {
		uint64_t now = lg_now_us();
		if (now < s->next_ask) {
			sup_later(s, s->next_ask - now);
			return;
		}
		s->next_ask += (uint64_t)r->o->question_gap_ms * 1000u;
		if (s->next_ask < now)
			s->next_ask = now;
		sup_send(s);
		return;
	}
	if (r->o->rate == 0) {
		sup_send(s);
		return;
	}
	if (r->rq_len == r->rq_cap)
		return;  /* cannot happen: one slot per supplier */
	r->rq[(r->rq_head + r->rq_len++) % r->rq_cap] = s;
	s->queued = 1;
}

/* Rate limiter tick: release as many offers as the rate allows. */
static void
pl_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct prun *r = arg;
	uint64_t now = lg_now_us(), cap;

	/* credit is in millionths of an operation */
	r->credit += (uint64_t)r->offer_rate * (now - r->t_tick);
	r->t_tick = now;
	cap = (uint64_t)r->offer_rate * 20000u + 1000000u;  /* at most 20 ms of backlog */
	if (r->credit > cap) {
		if (r->phase == PH_MEASURE)
			r->missed += (r->credit - cap) / 1000000u;
		r->credit = cap;
	}
	while (r->credit >= 1000000u && r->rq_len) {
		struct pconn *s = r->rq[r->rq_head];
		r->rq_head = (r->rq_head + 1) % r->rq_cap;
		r->rq_len--;
		s->queued = 0;
		if (s->state != S_READY || s->busy)
			continue;
		sup_send(s);
		r->credit -= 1000000u;
	}
}

/* One acknowledged (or refused) operation: latency, counts. */
static void
pl_acked(struct prun *r, int op, uint64_t t_send, uint64_t now)
{
	if (r->phase != PH_MEASURE)
		return;
	r->acked++;
	r->n_op[op]++;
	hist_add(&r->h_ack, now - t_send);
	hist_add(&r->h_op[op], now - t_send);
}

/* Queue a question for the buyer's answer. */
static void
pl_question(struct prun *r, struct pproc *p, int64_t q)
{
	if (r->qq_len == r->qq_cap) {
		size_t ncap = r->qq_cap ? r->qq_cap * 2 : 1024;
		struct pquestion *nq = malloc(ncap * sizeof(*nq));
		if (nq == NULL)
			return;
		for (size_t i = 0; i < r->qq_len; i++)
			nq[i] = r->qq[(r->qq_head + i) % r->qq_cap];
		free(r->qq);
		r->qq = nq;
		r->qq_cap = ncap;
		r->qq_head = 0;
	}
	r->qq[(r->qq_head + r->qq_len++) % r->qq_cap] = (struct pquestion){ p, q, 0 };
	buyer_answer_more(r);
}

/* Reply to a supplier's operation. */
static void
sup_on_reply(struct pconn *s, const char *line)
{
	struct prun *r = s->r;
	uint64_t now = lg_now_us();
	char code[40];
	int64_t q;

	s->busy = 0;
	if (jscan_ok(line)) {
		pl_acked(r, s->op, s->t_send, now);
		switch (s->op) {
		case OP_NEW:
			s->has_offer = 1;
			proc_changed(s->p, 0, 0, 1, now);
			break;
		case OP_WITHDRAW:
			s->has_offer = 0;
			proc_changed(s->p, 0, 0, -1, now);
			break;
		case OP_ASK:
			proc_changed(s->p, 1, 0, 0, now);
			if (jscan_int(line, "question", &q) == 0)
				pl_question(r, s->p, q);
			break;
		}
		sup_next(s);
		return;
	}
	if (jscan_str(line, "code", code, sizeof(code)) != 0)
		snprintf(code, sizeof(code), "?");
	pl_count_refusal(r, code);
	if (strcmp(code, "no_offer") == 0)
		s->has_offer = 0;
	else if (s->op == OP_NEW && strcmp(code, "limit_exceeded") != 0)
		s->has_offer = 0;
	if (strcmp(code, "limit_exceeded") == 0 || strcmp(code, "deadline_passed") == 0 ||
	    strcmp(code, "forbidden") == 0 || strcmp(code, "not_found") == 0) {
		s->state = S_STOPPED;  /* nothing more to do in this procedure */
		return;
	}
	sup_later(s, 100000);  /* then carry on */
}

/* Send answers while fewer than ANSWERS_IN_FLIGHT are in flight. */
static void
buyer_answer_more(struct prun *r)
{
	struct pconn *b = &r->buyer;

	if (b->state != S_READY || b->c == NULL)
		return;
	while (r->qq_len && r->ninflight < ANSWERS_IN_FLIGHT) {
		struct pquestion *x = &r->qq[r->qq_head];
		int64_t id = r->next_answer_id++;
		struct pquestion *slot = &r->inflight[id % ANSWERS_IN_FLIGHT];
		if (slot->p != NULL)
			break;  /* that slot's answer is still out (replies come in order) */
		*slot = *x;
		slot->t_send = lg_now_us();
		r->qq_head = (r->qq_head + 1) % r->qq_cap;
		r->qq_len--;
		r->ninflight++;
		if (r->phase == PH_MEASURE)
			r->sent++;
		pc_send(b, "{\"id\":%lld,\"op\":\"question.answer\",\"procurement\":%lld,\"question\":%lld,"
		    "\"text\":\"Yes: two batches are fine, and an equivalent product is acceptable if "
		    "its specification is attached.\"}", (long long)(ID_ANSWER + id),
		    (long long)slot->p->id, (long long)slot->q);
	}
}

/* The buyer's reply to an answer. */
static void
buyer_on_answer(struct prun *r, int64_t id, const char *line)
{
	struct pquestion *slot = &r->inflight[id % ANSWERS_IN_FLIGHT];
	uint64_t now = lg_now_us();
	char code[40];

	if (slot->p == NULL)
		return;
	if (jscan_ok(line)) {
		pl_acked(r, OP_ANSWER, slot->t_send, now);
		proc_changed(slot->p, 0, 1, 0, now);
	} else {
		if (jscan_str(line, "code", code, sizeof(code)) != 0)
			snprintf(code, sizeof(code), "?");
		pl_count_refusal(r, code);
	}
	slot->p = NULL;
	r->ninflight--;
	buyer_answer_more(r);
}

/* One connection is ready; start when all are. */
static void
pl_ready_one(struct prun *r)
{
	r->ready++;
	if (r->phase == PH_SETUP && r->ready + r->setup_failed >= r->expected)
		pl_phase(r, PH_WARMUP);
}

/* Ask a supplier's procedure again (setup, waiting for `tendering`). */
static void
sup_get(struct pconn *s)
{
	s->rid = s->next_id++;
	pc_send(s, "{\"id\":%lld,\"op\":\"procurement.get\",\"procurement\":%lld}", (long long)s->rid,
	    (long long)s->p->id);
}

/* Timer: ask again. */
static void
sup_on_regget(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *s = arg;

	if (s->state == S_INIT && s->c)
		sup_get(s);
}

/* A supplier's procurement.get during setup: ready once the procedure is in its state. */
static void
sup_on_view(struct pconn *s, const char *line)
{
	struct prun *r = s->r;
	char state[24];

	if (!jscan_ok(line) || jscan_str(line, "state", state, sizeof(state)) != 0) {
		lg_note(r->o, "procurement.get refused: %.200s", line);
		s->state = S_STOPPED;
		r->setup_failed++;
		return;
	}
	if (strcmp(state, s->p->tendering ? "tendering" : "published") != 0) {
		struct timeval tv = { 0, 250000 };
		event_base_once(r->base, -1, EV_TIMEOUT, sup_on_regget, s, &tv);
		return;
	}
	s->state = S_READY;
	/* questions spread over the gap, so that they do not come in waves */
	s->next_ask = lg_now_us() + (uint64_t)(rand() % (r->o->question_gap_ms + 1)) * 1000u;
	pl_ready_one(r);
}

static void pl_open_all(struct prun *r);

/* The buyer's creates and publishes. */
static void
buyer_on_setup(struct prun *r, int64_t id, const char *line)
{
	struct pconn *b = &r->buyer;
	const char *p;
	int64_t v;

	if (!jscan_ok(line)) {
		lg_note(r->o, "procurement %s refused: %.300s", id < ID_PUBLISH ? "create" : "publish",
		    line);
		r->setup_failed = 1;
		event_base_loopbreak(r->base);
		return;
	}
	if (id < ID_PUBLISH) {
		if ((p = jscan_find(line, "procurement")) == NULL || jscan_int(p, "id", &v) < 0)
			return;
		r->procs[id - ID_CREATE].id = v;
		pc_send(b, "{\"id\":%lld,\"op\":\"procurement.publish\",\"procurement\":%lld}",
		    (long long)(ID_PUBLISH + (id - ID_CREATE)), (long long)v);
		return;
	}
	if (++b->published == r->nproc) {
		b->state = S_READY;
		lg_note(r->o, "created and published %d procedures (ids %lld..%lld)", r->nproc,
		    (long long)r->procs[0].id, (long long)r->procs[r->nproc - 1].id);
		pl_open_all(r);
	}
}

/* Send the buyer's procurement.create requests. */
static void
buyer_create_all(struct prun *r)
{
	static const char *const tender_criteria =
	    ",\"criteria\":[{\"kind\":\"price\",\"weight\":\"80\"},{\"code\":\"delivery\","
	    "\"name\":\"Delivery days\",\"kind\":\"stated\",\"weight\":\"20\",\"better\":\"lower\","
	    "\"min\":1,\"max\":60}]";
	int64_t now = time_now_ms();
	char soon[TIME_BUF], later[TIME_BUF], deadline[TIME_BUF];

	time_format(now + (int64_t)r->o->enquiry_s * 1000, soon);
	time_format(now + 7200 * 1000, later);
	time_format(now + 3 * 7200 * 1000, deadline);
	for (int i = 0; i < r->nproc; i++) {
		struct pproc *p = &r->procs[i];
		pc_send(&r->buyer, "{\"id\":%d,\"op\":\"procurement.create\",\"kind\":\"%s\","
		    "\"title\":\"tenderd bench procedure %d\",\"description\":\"Office paper for the "
		    "year\",\"currency\":\"RUB\",\"enquiry_end\":\"%s\",\"submission_deadline\":\"%s\","
		    "\"opening_at\":\"%s\",\"min_bids\":1,\"lots\":[{\"title\":\"A4 paper\","
		    "\"max_price\":\"1000000.00\",\"items\":[{\"description\":\"A4 paper, 80 g/m2\","
		    "\"quantity\":\"1200\",\"unit\":\"ream\",\"classification\":\"30197630-1\"}]%s}]}",
		    ID_CREATE + i, p->tender ? "tender" : "rfq", i + 1, p->tendering ? soon : later,
		    deadline, deadline, p->tender ? tender_criteria : "");
	}
}

/* The request id a reply echoes: first in replies to reads, last (after the
 * result, whose nested objects have ids of their own) in replies to changes. */
static int
pl_reply_id(const char *line, int64_t *out)
{
	const char *p, *last = NULL;

	if (strncmp(line, "{\"id\":", 6) == 0)
		return jscan_int(line, "id", out);
	for (p = line; (p = strstr(p, "\"id\":")) != NULL; p += 5)
		last = p;
	return last ? jscan_int(last, "id", out) : -1;
}

/* Lines on any connection of the run. */
static void
pc_on_line(struct lconn *c, char *line, size_t len)
{
	struct pconn *b = c->arg;
	struct prun *r = b->r;
	int64_t id = -1;

	(void)len;
	if (strncmp(line, "{\"event\":", 9) == 0) {
		if (b->kind == K_WATCHER && strncmp(line + 9, "\"procurement.update\"", 20) == 0) {
			wat_on_update(b, line);
		} else if (strstr(line, "\"error\"")) {
			char code[48] = "?";
			jscan_str(line, "code", code, sizeof(code));
			lg_note(r->o, "connection %s: server error event %s", c->id->name, code);
		}
		return;
	}
	pl_reply_id(line, &id);
	if (b->state == S_HELLO && id == 1) {
		if (!jscan_ok(line)) {
			lg_note(r->o, "%s: hello refused: %.200s", c->id->name, line);
			b->state = S_STOPPED;
			r->setup_failed++;
			return;
		}
		b->state = S_INIT;
		if (b->kind == K_SUPPLIER)
			sup_get(b);
		else if (b->kind == K_WATCHER)
			pc_send(b, "{\"id\":2,\"op\":\"procurement.watch\",\"procurement\":%lld}",
			    (long long)b->p->id);
		else
			buyer_create_all(r);
		return;
	}
	switch (b->kind) {
	case K_SUPPLIER:
		if (id != b->rid)
			break;
		if (b->state == S_INIT)
			sup_on_view(b, line);
		else if (b->busy)
			sup_on_reply(b, line);
		break;
	case K_WATCHER:
		if (id == 2 && b->state == S_INIT) {
			if (!jscan_ok(line)) {
				lg_note(r->o, "watch refused: %.200s", line);
				b->state = S_STOPPED;
				r->setup_failed++;
				return;
			}
			b->state = S_READY;
			pl_ready_one(r);
		}
		break;
	case K_BUYER:
		if (id >= ID_ANSWER)
			buyer_on_answer(r, id - ID_ANSWER, line);
		else if (id >= ID_CREATE)
			buyer_on_setup(r, id, line);
		break;
	}
}

/* Handshake done: say hello. */
static void
pc_on_up(struct lconn *c)
{
	struct pconn *b = c->arg;

	b->state = S_HELLO;
	pc_send(b, "{\"id\":1,\"op\":\"hello\"}");
}

/* Connection failed or closed. */
static void
pc_on_down(struct lconn *c, const char *why)
{
	struct pconn *b = c->arg;
	struct prun *r = b->r;

	if (b->state < S_READY && r->phase == PH_SETUP) {
		lg_note(r->o, "%s: connection failed: %s", c->id->name, why);
		r->setup_failed++;
		if (b->kind == K_BUYER)
			event_base_loopbreak(r->base);
		else if (r->ready + r->setup_failed >= r->expected)
			pl_phase(r, PH_WARMUP);
	} else if (r->phase < PH_DRAIN) {
		lg_note(r->o, "%s: connection lost: %s", c->id->name, why);
		r->lost++;
	}
	b->state = S_GONE;
	b->c = NULL;
}

static const struct lconn_ops pc_ops = { pc_on_up, pc_on_line, pc_on_down };

/* Open every supplier and watcher connection (the buyer's is open). */
static void
pl_open_all(struct prun *r)
{
	int w = 0;

	r->expected = r->nsup + r->nwat;
	for (int i = 0; i < r->nproc; i++) {
		for (int k = 0; k < r->o->watchers; k++, w++) {
			struct pconn *b = &r->wat[w];
			b->r = r;
			b->kind = K_WATCHER;
			b->p = &r->procs[i];
			b->next_id = 3;
			b->c = net_open(&r->net, &r->buyer_id, 0, &pc_ops, b);
		}
	}
	for (int i = 0; i < r->nsup; i++) {
		struct pconn *b = &r->sup[i];
		b->r = r;
		b->kind = K_SUPPLIER;
		b->p = &r->procs[i % r->nproc];
		b->next_id = 2;
		b->price = MAX_PRICE - 100 * (int64_t)(i / r->nproc);
		/* suppliers start at different points of their submit-revise-withdraw cycle:
		 * otherwise they move in step, and withdraw and resubmit all at once */
		b->nops = r->o->withdraw_every > 0 ? i / r->nproc % r->o->withdraw_every : 0;
		b->c = net_open(&r->net, &r->ids[i], 0, &pc_ops, b);
	}
	lg_note(r->o, "connecting %d suppliers and %d watchers", r->nsup, r->nwat);
}

/* Drain: stop when nothing is outstanding or after DRAIN_S. */
static void
pl_on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct prun *r = arg;
	int out = r->ninflight;

	for (int i = 0; i < r->nsup; i++)
		if (r->sup[i].state == S_READY && r->sup[i].busy)
			out++;
	if (out && lg_now_us() - r->t1 < DRAIN_S * 1000000u)
		return;
	if (out)
		lg_note(r->o, "%d requests still unanswered after %d s", out, DRAIN_S);
	pl_phase(r, PH_DONE);
}

/* Phase timer. */
static void
pl_on_phase_timer(evutil_socket_t fd, short what, void *arg)
{
	struct prun *r = arg;

	switch (r->phase) {
	case PH_SETUP:
		lg_note(r->o, "setup timeout: %d of %d connections ready", r->ready, r->expected);
		pl_phase(r, r->ready > 0 ? PH_WARMUP : PH_DONE);
		break;
	case PH_WARMUP:
		pl_phase(r, PH_MEASURE);
		break;
	case PH_MEASURE:
		pl_phase(r, PH_DRAIN);
		break;
	}
}

/* Start the load: the rate limiter's tick and every supplier. */
static void
pl_start(struct prun *r)
{
	int npub = 0;

	for (int i = 0; i < r->nsup; i++)
		npub += !r->sup[i].p->tendering;
	if (r->o->rate > 0) {
		struct timeval tick = { 0, 1000 };
		/* questions and as many answers, at one per supplier per gap */
		int64_t qa = 2 * (int64_t)npub * 1000 / (r->o->question_gap_ms ? r->o->question_gap_ms : 1);
		r->offer_rate = r->o->rate > qa + 1 ? r->o->rate - qa : 1;
		lg_note(r->o, "offers at %lld/s (questions and answers about %lld/s)",
		    (long long)r->offer_rate, (long long)qa);
		r->t_tick = lg_now_us();
		r->tick_ev = event_new(r->base, -1, EV_PERSIST, pl_on_tick, r);
		event_add(r->tick_ev, &tick);
	}
	for (int i = 0; i < r->nsup; i++)
		sup_next(&r->sup[i]);
}

/* Enter a phase. */
static void
pl_phase(struct prun *r, int phase)
{
	struct timeval tv = { 0, 0 };

	r->phase = phase;
	evtimer_del(r->phase_ev);
	switch (phase) {
	case PH_WARMUP:
		lg_note(r->o, "%d connections ready (%d failed); warm-up %d s", r->ready,
		    r->setup_failed, r->o->warmup);
		pl_start(r);
		tv.tv_sec = r->o->warmup;
		evtimer_add(r->phase_ev, &tv);
		break;
	case PH_MEASURE:
		r->t0 = lg_now_us();
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
		r->drain_ev = event_new(r->base, -1, EV_PERSIST, pl_on_drain, r);
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

/* Print the report of the run. */
static void
pl_report(struct prun *r)
{
	uint64_t span = r->t1 > r->t0 ? r->t1 - r->t0 : 1;
	char ack[256], wat[256], kinds[1024] = "";
	size_t kl = 0;

	hist_summary(&r->h_ack, ack, sizeof(ack));
	hist_summary(&r->h_watch, wat, sizeof(wat));
	printf("== procurement run: %d suppliers over %d procedures (half tendering, half in "
	    "enquiries), %d watchers each, %s\n", r->nsup, r->nproc, r->o->watchers,
	    r->o->rate ? "open loop" : "closed loop (one request in flight per supplier)");
	if (r->o->rate)
		printf("target rate        %lld operations/s, offers %lld/s (%llu sends missed)\n",
		    (long long)r->o->rate, (long long)r->offer_rate, (unsigned long long)r->missed);
	printf("window             %.3f s\n", (double)span / 1e6);
	printf("operations sent    %llu (%llu/s)\n", (unsigned long long)r->sent,
	    (unsigned long long)(r->sent * 1000000u / span));
	printf("acknowledged       %llu (%llu/s)\n", (unsigned long long)r->acked,
	    (unsigned long long)(r->acked * 1000000u / span));
	printf("refused            %llu\n", (unsigned long long)r->refused);
	for (int i = 0; i < r->nref; i++)
		printf("  %-28s %llu in window, %llu in all\n", r->ref[i].code,
		    (unsigned long long)r->ref[i].n, (unsigned long long)r->ref[i].total);
	printf("send->ack us       %s\n", ack);
	for (int k = 0; k < OP_NKINDS; k++) {
		char one[256];
		hist_summary(&r->h_op[k], one, sizeof(one));
		printf("  %-8s %6llu/s  %s\n", op_names[k],
		    (unsigned long long)(r->n_op[k] * 1000000u / span), one);
		if (kl < sizeof(kinds))
			kl += (size_t)snprintf(kinds + kl, sizeof(kinds) - kl, " %s_per_s=%llu %s_p99_us=%llu",
			    op_names[k], (unsigned long long)(r->n_op[k] * 1000000u / span), op_names[k],
			    (unsigned long long)hist_quantile(&r->h_op[k], 99, 100));
	}
	printf("ack->watcher us    %s (updates %llu/s, %llu arrived before the ack)\n", wat,
	    (unsigned long long)(r->updates * 1000000u / span), (unsigned long long)r->early);
	printf("connections        opened %llu, failed %llu, lost during the run %llu\n",
	    (unsigned long long)r->net.opened, (unsigned long long)r->net.failed,
	    (unsigned long long)r->lost);
	printf("cpu (%% of a core)  %s\n", r->cpu_text);
	if (r->acked && r->server_cpu_us > 0)
		printf("server cpu per ack %llu us\n",
		    (unsigned long long)((uint64_t)r->server_cpu_us / r->acked));
	printf("RESULT mode=procurement suppliers=%d procedures=%d watchers=%d rate=%lld acked=%llu "
	    "acked_per_s=%llu refused=%llu ack_p50_us=%llu ack_p99_us=%llu ack_max_us=%llu "
	    "watch_n=%llu watch_p50_us=%llu watch_p99_us=%llu watch_early=%llu updates_per_s=%llu "
	    "conn_lost=%llu server_rss_kb=%ld%s %s\n",
	    r->nsup, r->nproc, r->o->watchers, (long long)r->o->rate, (unsigned long long)r->acked,
	    (unsigned long long)(r->acked * 1000000u / span), (unsigned long long)r->refused,
	    (unsigned long long)hist_quantile(&r->h_ack, 50, 100),
	    (unsigned long long)hist_quantile(&r->h_ack, 99, 100), (unsigned long long)r->h_ack.max,
	    (unsigned long long)r->h_watch.n,
	    (unsigned long long)hist_quantile(&r->h_watch, 50, 100),
	    (unsigned long long)hist_quantile(&r->h_watch, 99, 100), (unsigned long long)r->early,
	    (unsigned long long)(r->updates * 1000000u / span), (unsigned long long)r->lost, r->rss1,
	    kinds, r->cpu_text);
	fflush(stdout);
}

/* Close everything and free the run. */
static void
pl_free(struct prun *r)
{
	for (int i = 0; i < r->nsup && r->sup; i++)
		if (r->sup[i].c)
			net_close(r->sup[i].c);
	for (int i = 0; i < r->nwat && r->wat; i++)
		if (r->wat[i].c)
			net_close(r->wat[i].c);
	if (r->buyer.c)
		net_close(r->buyer.c);
	for (int i = 0; i < r->nsup && r->ids; i++)
		ident_free(&r->ids[i]);
	ident_free(&r->buyer_id);
	net_free(&r->net);
	if (r->phase_ev)
		event_free(r->phase_ev);
	if (r->tick_ev)
		event_free(r->tick_ev);
	if (r->drain_ev)
		event_free(r->drain_ev);
	free(r->ids);
	free(r->procs);
	free(r->sup);
	free(r->wat);
	free(r->rq);
	free(r->qq);
}

/* The procurement mode. */
int
pload_run(const struct opts *o)
{
	static struct prun run;
	struct prun *r = &run;
	struct event_config *ec;
	char cause[512];
	struct timeval tv = { 0, 0 };
	int rc = 1;

	r->o = o;
	hist_init(&r->h_ack);
	hist_init(&r->h_watch);
	for (int k = 0; k < OP_NKINDS; k++)
		hist_init(&r->h_op[k]);
	srand(12345);
	/* the epoll changelist, as tenderd uses it (server/main.c) */
	if ((ec = event_config_new()) != NULL) {
		event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		r->base = event_base_new_with_config(ec);
		event_config_free(ec);
	}
	if (r->base == NULL ||
	    net_init(&r->net, r->base, o->server, o->ca, o->concurrency, cause, sizeof(cause)) < 0) {
		fprintf(stderr, "loadgen: %s\n", r->base ? cause : "event_base_new failed");
		return 1;
	}
	if (o->buyer_cert == NULL) {
		snprintf(cause, sizeof(cause), "--procedures needs --buyer-cert and --buyer-key");
		goto fail;
	}
	if (ident_load(&r->buyer_id, NULL, "buyer", o->buyer_cert, o->buyer_key, cause,
	    sizeof(cause)) < 0)
		goto fail;
	r->nproc = o->procedures;
	r->nsup = o->conns;
	r->nwat = r->nproc * o->watchers;
	r->procs = calloc((size_t)r->nproc, sizeof(*r->procs));
	r->sup = calloc((size_t)r->nsup + 1, sizeof(*r->sup));
	r->wat = calloc((size_t)r->nwat + 1, sizeof(*r->wat));
	r->rq_cap = (size_t)r->nsup + 1;
	r->rq = calloc(r->rq_cap, sizeof(*r->rq));
	r->phase_ev = evtimer_new(r->base, pl_on_phase_timer, r);
	if (r->procs == NULL || r->sup == NULL || r->wat == NULL || r->rq == NULL || r->phase_ev == NULL)
		goto oom;
	for (int i = 0; i < r->nproc; i++) {
		r->procs[i].tender = i % 2;
		r->procs[i].tendering = i % 4 < 2;
	}
	if ((r->ids = ident_load_bulk(o, r->nsup, cause, sizeof(cause))) == NULL)
		goto fail;
	r->phase = PH_SETUP;
	tv.tv_sec = o->connect_timeout;
	evtimer_add(r->phase_ev, &tv);
	r->buyer.r = r;
	r->buyer.kind = K_BUYER;
	r->buyer.c = net_open(&r->net, &r->buyer_id, 0, &pc_ops, &r->buyer);
	lg_note(o, "creating and publishing %d procedures as the buyer", r->nproc);
	event_base_dispatch(r->base);
	if (r->phase == PH_DONE && r->t1 > r->t0) {
		pl_report(r);
		rc = 0;
	} else {
		fprintf(stderr, "loadgen: the run did not complete (setup failed)\n");
	}
	pl_free(r);
	event_base_free(r->base);
	return rc;
oom:
	snprintf(cause, sizeof(cause), "out of memory");
fail:
	fprintf(stderr, "loadgen: %s\n", cause);
	pl_free(r);
	event_base_free(r->base);
	return 1;
}
