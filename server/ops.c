/*
 * The operations and the write path.
 *
 * Reads (hello, auction.get/list/watch) are answered at once from memory,
 * except that a read of an auction changed by the batch in flight waits for
 * that batch, so nobody sees a state that is not committed.
 *
 * State changes (bid, create, cancel, register, and the clock's ticks) are
 * checked for form and permission on arrival and queued as commands. When no
 * batch is in flight, the queue is drained into one: each command is applied
 * to the in-memory books (the engine decides), and what it changed is added
 * to the batch as SQL. The batch commits as one transaction (group commit).
 * Then, in commit order, every command is acknowledged and watchers are told.
 * If the batch does not commit, every book it touched is rolled back to its
 * mark and every command in it is refused with `unavailable`: the books are
 * as if those changes never happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/money.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/optab.h"
#include "server/server.h"

#define OPS_LIST_MAX 1000
#define OPS_LIST_DEFAULT 100

enum cmd_kind { CMD_BID, CMD_CREATE, CMD_CANCEL, CMD_REGISTER, CMD_TICK, CMD_PROC, CMD_STATUS };

/* A queued state change. */
struct cmd {
	struct cmd *next;
	enum cmd_kind kind;
	uint64_t conn_id;
	json_t *id;                 /* request id, echoed */
	int64_t at;                 /* arrival time: the time the engine uses */
	struct participant *who;
	char fp[TLS_FP_LEN + 1];
	int64_t auction_id;
	int64_t amount;
	/* create */
	struct auction_params params;
	char *title;
	char currency[4];
	int exp, smin_pct, smax_pct;
	int64_t smin_val, smax_val;
	struct book *book;
	/* cancel, status */
	char *reason;
	int org_status;             /* status: of the organization auction_id, not a participant */
	/* register */
	char *org_name, *tax_id, *country, *pname, *pem;
	enum role role;
	struct tls_cert_info cert;
	int64_t new_pid, new_org;
	/* bid result */
	int64_t bid_id;
	struct auction_bid_result res;
	int bid_counted;            /* counted in book_bids_of (undone if the batch fails) */
	/* procedure change: kind, detail, and the reply to send on commit */
	char pkind[32];
	json_t *detail;
	json_t *reply;
	/* the request, for the log line of its reply (empty op: nothing to log) */
	char op[48];
	int64_t t0;
};

static const char *const role_names[] = { "buyer", "supplier", "operator" };

/* Role as text. */
const char *
role_name(enum role r)
{
	return role_names[r];
}

/* Text to role. */
int
role_parse(const char *s, enum role *out)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum role)i;
			return 0;
		}
	}
	return -1;
}

/* ---- registry ---- */

/* Find or add an organization. */
struct org *
registry_org(struct server *s, int64_t id, const char *name)
{
	struct org *o = map_get(&s->orgs, id);
	char *key;

	if (o)
		return o;
	if ((o = calloc(1, sizeof(*o))) == NULL || (o->name = strdup(name)) == NULL) {
		free(o);
		return NULL;
	}
	o->id = id;
	if (map_put(&s->orgs, id, o) < 0)
		return NULL;
	/* by folded name: "Acme" and "ACME" are one organization */
	if ((key = text_fold(name)) == NULL)
		return NULL;
	if (map_sget(&s->orgs_by_name, key) != NULL)
		log_warn("organization=%lld \"%s\" has the name of another organization up to case "
		    "and Unicode normalization", (long long)id, name);
	else if (map_sput(&s->orgs_by_name, key, o) < 0)
		o = NULL;
	free(key);
	return o;
}

/* The organization whose name folds like `name`, or NULL. */
struct org *
registry_org_named(struct server *s, const char *name)
{
	char *key = text_fold(name);
	struct org *o = key ? map_sget(&s->orgs_by_name, key) : NULL;

	free(key);
	return o;
}

/* Add a participant and one of its certificates. */
struct participant *
registry_participant(struct server *s, int64_t id, int64_t org_id, const char *name,
    const char *role, const char *status, const char *fp)
{
	struct participant *p = map_get(&s->participants, id);
	struct cert *c;

	if (p == NULL) {
		struct org *o = map_get(&s->orgs, org_id);
		if (o == NULL || (p = calloc(1, sizeof(*p))) == NULL)
			return NULL;
		p->id = id;
		p->org = o;
		p->name = strdup(name);
		if (role_parse(role, &p->role) < 0)
			p->role = ROLE_SUPPLIER;
		p->suspended = status && strcmp(status, "suspended") == 0;
		if (p->name == NULL || map_put(&s->participants, id, p) < 0)
			return NULL;
	}
	if (fp && map_sget(&s->certs, fp) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		snprintf(c->fp, sizeof(c->fp), "%s", fp);
		c->who = p;
		if (map_sput(&s->certs, fp, c) < 0)
			return NULL;
	}
	return p;
}

/* ---- commands ---- */

/* Free a command. */
static void
cmd_free(struct cmd *k)
{
	json_decref(k->id);
	json_decref(k->detail);
	json_decref(k->reply);
	free(k->title);
	free(k->reason);
	free(k->org_name);
	free(k->tax_id);
	free(k->country);
	free(k->pname);
	free(k->pem);
	free(k);
}

/* A new command for a request on `c`. */
static struct cmd *
cmd_new(enum cmd_kind kind, struct conn *c, json_t *id)
{
	struct cmd *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->kind = kind;
	k->at = time_now_ms();
	if (c) {
		const struct conn_ident *ci = conn_ident(c);
		k->conn_id = ci->id;
		k->who = ci->who;
		snprintf(k->fp, sizeof(k->fp), "%s", ci->cert->fp);
		k->id = json_incref(id ? id : json_null());
		const char *op = proto_current(&k->t0);
		snprintf(k->op, sizeof(k->op), "%s", op ? op : "");
	}
	return k;
}

/* A message held back while a batch completes (see ops_batch_done). */
struct ops_out {
	uint64_t conn_id;
	int release;               /* a reply: frees a place among the pending requests */
	size_t len;
	char *text;                /* owned; NULL when the text is shared */
	struct ops_text *shared;
};

/* Share malloc'd text (taken over); NULL, with the text freed, when out of memory. */
struct ops_text *
ops_text_new(char *text, size_t len)
{
	struct ops_text *t = malloc(sizeof(*t));

	if (t == NULL) {
		free(text);
		return NULL;
	}
	t->refs = 1;
	t->len = len;
	t->text = text;
	return t;
}

/* Drop one reference. */
void
ops_text_release(struct ops_text *t)
{
	if (t != NULL && --t->refs == 0) {
		free(t->text);
		free(t);
	}
}

/* Make room for one more held-back message; NULL when out of memory. */
static struct ops_out *
ops_out_push(struct server *s)
{
	if (s->nout == s->capout) {
		size_t ncap = s->capout ? s->capout * 2 : 256;
		struct ops_out *no = realloc(s->out, ncap * sizeof(*no));
		if (no == NULL)
			return NULL;
		s->out = no;
		s->capout = ncap;
	}
	return &((struct ops_out *)s->out)[s->nout++];
}

/* Queue or send serialized text for a connection; `release` for replies. */
static void
ops_emit_text(struct server *s, uint64_t conn_id, char *text, size_t len, int release)
{
	struct conn *c;

	if (s->deferring) {
		struct ops_out *o = ops_out_push(s);
		if (o != NULL) {
			o->conn_id = conn_id;
			o->release = release;
			o->len = len;
			o->text = text;
			o->shared = NULL;
			return;
		}
	}
	if ((c = conn_get(s, conn_id)) != NULL) {
		if (release)
			conn_pending_add(c, -1);
		conn_send_text(c, text, len);
	}
	free(text);
}

/* Send a broadcast's text to one connection (copied when held back). */
void
ops_emit(struct server *s, struct conn *c, const char *text, size_t len)
{
	char *copy;

	if ((copy = malloc(len)) == NULL)
		return;
	memcpy(copy, text, len);
	if (!s->deferring) {
		struct ops_text *t = ops_text_new(copy, len);
		if (t != NULL) {
			conn_send_event(c, t);
			ops_text_release(t);
		}
		return;
	}
	ops_emit_text(s, conn_ident(c)->id, copy, len, 0);
}

/* Send shared text to a connection, by reference while deferring. */
void
ops_emit_shared(struct server *s, struct conn *c, struct ops_text *t)
{
	struct ops_out *o;

	if (s->deferring && (o = ops_out_push(s)) != NULL) {
		o->conn_id = conn_ident(c)->id;
		o->release = 0;
		o->len = t->len;
		o->text = NULL;
		o->shared = t;
		t->refs++;
		return;
	}
	conn_send_event(c, t);
}

/* Send a JSON message (stolen) to a connection id, held back while deferring. */
static void
ops_emit_json(struct server *s, uint64_t conn_id, json_t *msg, int release)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (text)
		ops_emit_text(s, conn_id, text, strlen(text), release);
}

/* Deliver the held-back messages, in order: replies now, events through the lane
 * (a reply to a connection with events still in the lane waits behind them). */
static void
ops_deliver(struct server *s)
{
	struct ops_out *out = s->out;

	for (size_t i = 0; i < s->nout; i++) {
		struct conn *c = conn_get(s, out[i].conn_id);
		if (c && out[i].release) {
			conn_pending_add(c, -1);
			conn_send_text(c, out[i].shared ? out[i].shared->text : out[i].text, out[i].len);
		} else if (c) {
			if (out[i].shared == NULL) {
				out[i].shared = ops_text_new(out[i].text, out[i].len);
				out[i].text = NULL;
			}
			if (out[i].shared)
				conn_send_event(c, out[i].shared);
		}
		free(out[i].text);
		ops_text_release(out[i].shared);
	}
	s->nout = 0;
}

/* Send the reply of a command (stolen) to its connection, if still there,
 * and release its place among the connection's pending requests. */
static void
cmd_reply(struct server *s, struct cmd *k, json_t *msg)
{
	if (k->conn_id != 0 && k->op[0])
		proto_log_reply(k->conn_id, k->fp, k->op, k->id, k->t0, msg);
	if (k->conn_id == 0 || conn_get(s, k->conn_id) == NULL) {
		json_decref(msg);
		return;
	}
	ops_emit_json(s, k->conn_id, msg, 1);
}

/* Refuse a command with an error reply. */
static void
cmd_refuse(struct server *s, struct cmd *k, const char *code, const char *message)
{
	if (k->conn_id)
		cmd_reply(s, k, proto_error(k->id, code, message, NULL));
}

/* Ask for a flush of the queue at the end of this loop iteration. */
void
ops_kick(struct server *s)
{
	if (s->q_head == NULL || db_busy(s->db) || !db_ready(s->db))
		return;
	if (s->cfg.batch_delay > 0 && s->q_len < (size_t)s->cfg.batch_max) {
		struct timeval tv = { s->cfg.batch_delay / 1000, (s->cfg.batch_delay % 1000) * 1000 };
		if (!event_pending(s->flush_ev, EV_TIMEOUT, NULL))
			event_add(s->flush_ev, &tv);
		return;
	}
	event_del(s->flush_ev);
	event_active(s->flush_ev, EV_TIMEOUT, 0);
}

/* Queue a checked command (or refuse it at once when the database is away). */
static void
ops_enqueue(struct server *s, struct conn *c, struct cmd *k)
{
	if (!db_ready(s->db) && k->kind != CMD_TICK) {
		if (c)
			conn_send(c, proto_error(k->id, "unavailable",
			    "the database is unavailable; nothing was changed, retry later", NULL));
		cmd_free(k);
		return;
	}
	if (c)
		conn_pending_add(c, 1);
	if (s->q_tail)
		s->q_tail->next = k;
	else
		s->q_head = k;
	s->q_tail = k;
	s->q_len++;
	ops_kick(s);
}

/* Nothing queued, nothing in flight. */
int
ops_idle(const struct server *s)
{
	return s->q_head == NULL && s->b_head == NULL && !db_busy(s->db);
}

/* A book's deadline passed: queue a tick (once). */
void
ops_tick(struct server *s, struct book *b)
{
	struct cmd *k;

	if (b->tick_queued || !db_ready(s->db))
		return;  /* re-armed when the database is back */
	if ((k = cmd_new(CMD_TICK, NULL, NULL)) == NULL)
		return;
	k->auction_id = b->a.id;
	b->tick_queued = 1;
	ops_enqueue(s, NULL, k);
}

/* ---- applying commands to the books, building the batch ---- */

/* Add a statement, opening the batch on first use. */
void
ops_sql(struct server *s, enum db_stmt st, int n, const char *const *params, db_row_fn fn,
    void *arg)
{
	if (!db_busy(s->db))
		db_batch_begin(s->db);
	db_batch_add(s->db, st, n, params, fn, arg);
}

/* The batch being built (procedures compare it to their touch marks). */
int64_t
ops_batch_seq(const struct server *s)
{
	return s->batch_seq;
}

/* Remember the state of a book before the batch first changes it. */
static void
ops_touch(struct server *s, struct book *b)
{
	if (b->touched_batch == s->batch_seq)
		return;
	if (s->b_nbooks == s->b_capbooks) {
		size_t ncap = s->b_capbooks ? s->b_capbooks * 2 : 64;
		struct book **nb = realloc(s->b_books, ncap * sizeof(*nb));
		if (nb == NULL)
			abort();  /* cannot track a rollback: an invariant would break */
		s->b_books = nb;
		s->b_capbooks = ncap;
	}
	s->b_books[s->b_nbooks++] = b;
	b->touched_batch = s->batch_seq;
	auction_mark(&b->a, &b->mark);
	b->mark_db_state = b->db_state;
	b->mark_cancel = 0;
	b->dirty = 1;
}

/* Text of an int64. */
#define I64(buf, v) (snprintf((buf), sizeof(buf), "%lld", (long long)(v)), (const char *)(buf))

/* Persist clock transitions the engine made (started, closed). */
static void
ops_transitions(struct server *s, struct book *b)
{
	struct auction *a = &b->a;
	char id[24], t[TIME_BUF], wid[24], price[24];

	if (b->db_state == AUCTION_SCHEDULED && a->state != AUCTION_SCHEDULED &&
	    a->state != AUCTION_CANCELLED) {
		const char *p[2] = { I64(id, a->id), t };
		time_format(a->p.starts_at, t);
		ops_sql(s, DB_S_STARTED, 2, p, NULL, NULL);
		b->db_state = AUCTION_RUNNING;
		b->notify |= AUCTION_EV_STARTED;
	}
	if (b->db_state == AUCTION_RUNNING && a->state == AUCTION_CLOSED) {
		const struct auction_entry *w = auction_at_rank(a, 1);
		json_t *detail = json_array();
		char *dtext;
		for (size_t i = 0; i < a->nentries; i++) {
			const struct auction_entry *e = auction_at_rank(a, (int)i + 1);
			json_array_append_new(detail, json_pack("{s:i, s:I, s:i, s:o, s:I}", "rank",
			    (int)i + 1, "organization_id", (json_int_t)e->org, "alias", e->alias,
			    "price", proto_money(e->amount, b->exp), "bid_id",
			    (json_int_t)a->bids[e->bid_index].id));
		}
		detail = json_pack("{s:o}", "ranking", detail);
		dtext = json_dumps(detail, JSON_COMPACT);
		json_decref(detail);
		{
			const char *p[5] = { I64(id, a->id), t,
			    w ? I64(wid, a->bids[w->bid_index].id) : NULL,
			    w ? I64(price, w->amount) : NULL, dtext };
			time_format(a->closed_at, t);
			ops_sql(s, DB_S_CLOSED, 5, p, NULL, NULL);
		}
		free(dtext);
		b->db_state = AUCTION_CLOSED;
		b->notify |= AUCTION_EV_CLOSED;
		if (b->proc_id)
			proc_auction_closed(s, b);
	}
}

/*
 * The message of a refused bid: what would have been accepted, with amounts as
 * decimal strings and times in RFC 3339 ("amount must be at most 945000.00
 * (best 950000.00 minus step 5000.00)").
 */
static void
ops_bid_refusal(const struct book *b, const struct cmd *k, enum auction_err e, char *msg,
    size_t n)
{
	const struct auction *a = &b->a;
	struct auction_bounds bd;
	char ref[40], own[40], lim[40], step[40], t[TIME_BUF];
	const char *refname;

	auction_bounds(a, k->who->org->id, &bd);
	refname = bd.best_is_start ? "start price" : "best";
	money_format(bd.reference, b->exp, ref, sizeof(ref));
	money_format(bd.own, b->exp, own, sizeof(own));
	switch (e) {
	case AUCTION_E_NOT_STARTED:
		time_format(a->p.starts_at, t);
		snprintf(msg, n, "the auction starts at %s", t);
		break;
	case AUCTION_E_ENDED:
		time_format(a->state == AUCTION_CLOSED ? a->closed_at : a->ends_at, t);
		snprintf(msg, n, "the auction ended at %s", t);
		break;
	case AUCTION_E_CANCELLED:
		time_format(a->closed_at, t);
		snprintf(msg, n, "the auction was cancelled at %s", t);
		break;
	case AUCTION_E_OWN_AUCTION:
		snprintf(msg, n, "the buyer's organization cannot bid in its own auction");
		break;
	case AUCTION_E_NOT_POSITIVE:
		money_format(0, b->exp, lim, sizeof(lim));
		snprintf(msg, n, "amount must be above %s", lim);
		break;
	case AUCTION_E_NOT_BELOW_START:
		money_format(a->p.start_price, b->exp, lim, sizeof(lim));
		snprintf(msg, n, "amount must be below the start price %s", lim);
		break;
	case AUCTION_E_NOT_BELOW_OWN:
		snprintf(msg, n, "amount must be below your previous bid %s", own);
		break;
	case AUCTION_E_WHILE_LEADING:
		snprintf(msg, n, "you hold the best price %s and may not lower it", own);
		break;
	case AUCTION_E_STEP_TOO_SMALL:
		money_format(bd.lead_max, b->exp, lim, sizeof(lim));
		money_format(a->p.step_min, b->exp, step, sizeof(step));
		snprintf(msg, n, "amount must be at most %s (%s %s minus step %s)", lim, refname, ref,
		    step);
		break;
	case AUCTION_E_STEP_TOO_LARGE:
		money_format(bd.lead_min, b->exp, lim, sizeof(lim));
		money_format(a->p.step_max, b->exp, step, sizeof(step));
		snprintf(msg, n, "amount must be at least %s (%s %s minus maximum step %s)", lim,
		    refname, ref, step);
		break;
	default:
		snprintf(msg, n, "%s", auction_err_message(e));
		break;
	}
}

/* Apply a bid: the engine decides; accepted bids join the batch. */
static int
ops_apply_bid(struct server *s, struct cmd *k)
{
	struct book *b = book_get(s, k->auction_id);
	char aid[24], bid[24], seq[24], pid[24], oid[24], amt[24], t[TIME_BUF], msg[200];
	enum auction_err e;
	int64_t prev_end;

	if (b == NULL) {
		cmd_refuse(s, k, "not_found", "no such auction");
		return 0;
	}
	if (b->proc_id && auction_entry_of(&b->a, k->who->org->id) == NULL) {
		cmd_refuse(s, k, "not_admitted", "only the bidders admitted by the tender take part "
		    "in this auction");
		return 0;
	}
	/* Accepted and refused bids are both recorded: beyond the limit, neither is. */
	if (book_bids_of(b, k->who->org->id) >= s->cfg.max_bids_per_bidder) {
		snprintf(msg, sizeof(msg), "max_bids_per_bidder (%ld) reached: this organization has "
		    "placed as many bids in this auction as allowed", s->cfg.max_bids_per_bidder);
		cmd_refuse(s, k, "limit_exceeded", msg);
		return 0;
	}
	k->bid_counted = book_count_bids(b, k->who->org->id, 1) == 0;
	ops_touch(s, b);
	k->bid_id = s->next_bid_id;
	prev_end = b->a.ends_at;
	e = auction_bid(&b->a, k->bid_id, k->who->org->id, k->amount, k->at, &k->res);
	ops_transitions(s, b);
	time_format(k->at, t);
	if (e != AUCTION_OK) {
		const char *p[7] = { I64(aid, b->a.id), t, I64(pid, k->who->id),
		    I64(oid, k->who->org->id), k->fp, I64(amt, k->amount), auction_err_code(e) };
		ops_sql(s, DB_S_REFUSED, 7, p, NULL, NULL);
		ops_bid_refusal(b, k, e, msg, sizeof(msg));
		log_debug("auction=%lld participant=%lld bid refused: %s", (long long)b->a.id,
		    (long long)k->who->id, auction_err_code(e));
		/* answered when the batch commits: the refusal may rest on a bid of this
		 * batch, which could still roll back */
		k->reply = proto_error(k->id, auction_err_code(e), msg, NULL);
		return 1;
	}
	s->next_bid_id++;
	{
		char *detail = NULL;
		char best[40];
		money_format(k->res.best, b->exp, best, sizeof(best));
		if (asprintf(&detail, "{\"seq\":%lld,\"rank\":%d,\"best_price\":\"%s\",\"took_lead\":%s}",
		    (long long)k->res.seq, k->res.rank, best,
		    k->res.took_lead ? "true" : "false") < 0)
			detail = NULL;
		const char *p[9] = { I64(bid, k->bid_id), I64(aid, b->a.id), I64(seq, k->res.seq),
		    I64(pid, k->who->id), I64(oid, k->who->org->id), k->fp, I64(amt, k->amount), t,
		    detail ? detail : "{}" };
		ops_sql(s, DB_S_BID, 9, p, NULL, NULL);
		free(detail);
	}
	b->notify |= BOOK_N_BID;
	if (k->res.extended) {
		char ends[TIME_BUF], from[TIME_BUF], n[24], *detail = NULL;
		time_format(k->res.ends_at, ends);
		time_format(prev_end, from);
		if (asprintf(&detail, "{\"from\":\"%s\",\"to\":\"%s\",\"extensions\":%d}", from, ends,
		    b->a.extensions) < 0)
			detail = NULL;
		const char *p[6] = { I64(aid, b->a.id), ends, I64(n, b->a.extensions), t, bid,
		    detail ? detail : "{}" };
		ops_sql(s, DB_S_EXTENDED, 6, p, NULL, NULL);
		free(detail);
		b->notify |= BOOK_N_EXTENDED;
	}
	return 1;
}

/* Apply a clock tick: start or close the auction when due. */
static void
ops_apply_tick(struct server *s, struct cmd *k)
{
	struct book *b = book_get(s, k->auction_id);
	int64_t due;

	if (b == NULL)
		return;
	b->tick_queued = 0;
	due = auction_next_deadline(&b->a);
	if (due < 0 || due > k->at) {
		/* extended meanwhile, or the timer fired early: wait for the deadline again */
		book_arm(s, b);
		return;
	}
	ops_touch(s, b);
	auction_advance(&b->a, k->at);
	ops_transitions(s, b);
}

static int ops_apply_create_proc(struct server *s, struct cmd *k, int64_t proc_id, int64_t lot_id);

/* Apply a creation: the book exists from now on, removed if the batch fails. */
static int
ops_apply_create(struct server *s, struct cmd *k)
{
	return ops_apply_create_proc(s, k, 0, 0);
}

/* Scheduled or running auctions a buyer organization created itself (not those
 * of its procedures), the batch being built included. */
static long
ops_open_auctions_of(struct server *s, int64_t buyer_org)
{
	size_t it = 0;
	void *v;
	long n = 0;

	while (map_next(&s->books, &it, NULL, NULL, &v)) {
		const struct book *b = v;
		n += b->a.p.buyer_org == buyer_org && b->proc_id == 0 &&
		    (b->a.state == AUCTION_SCHEDULED || b->a.state == AUCTION_RUNNING);
	}
	return n;
}

/* The same, for an auction that decides a procedure's lot (ids 0: none). */
static int
ops_apply_create_proc(struct server *s, struct cmd *k, int64_t proc_id, int64_t lot_id)
{
	struct book *b;
	char id[24], bp[24], bo[24], exp[24], sp[24], smv[24], sma[24], sxv[24], sxa[24];
	char st[TIME_BUF], en[TIME_BUF], ew[24], el[24], now[TIME_BUF];
	char *detail, pr[24], lt[24];
	json_t *dj;

	if (proc_id == 0 && ops_open_auctions_of(s, k->params.buyer_org) >=
	    s->cfg.max_open_auctions_per_buyer) {
		char msg[256];
		snprintf(msg, sizeof(msg), "max_open_auctions_per_buyer (%ld) reached: this buyer "
		    "organization has as many scheduled or running auctions as allowed",
		    s->cfg.max_open_auctions_per_buyer);
		cmd_refuse(s, k, "limit_exceeded", msg);
		return 0;
	}
	b = calloc(1, sizeof(*b));
	time_format(k->params.starts_at, st);
	if (b == NULL || (b->title = strdup(k->title)) == NULL) {
		free(b);
		cmd_refuse(s, k, "internal", "out of memory");
		return 0;
	}
	auction_init(&b->a, s->next_auction_id++, &k->params);
	b->srv = s;
	b->buyer_participant = k->who->id;
	memcpy(b->currency, k->currency, sizeof(b->currency));
	b->exp = k->exp;
	b->step_min_percent = k->smin_pct;
	b->step_max_percent = k->smax_pct;
	b->step_min_value = k->smin_val;
	b->step_max_value = k->smax_val;
	b->db_state = AUCTION_SCHEDULED;
	b->created_at = k->at;
	b->created_batch = s->batch_seq;
	b->touched_batch = -1;
	b->proc_id = proc_id;
	b->lot_id = (int)lot_id;
	if (map_put(&s->books, b->a.id, b) < 0) {
		book_free(b);
		cmd_refuse(s, k, "internal", "out of memory");
		return 0;
	}
	ops_touch(s, b);
	k->book = b;
	k->auction_id = b->a.id;
	/* starts now when starts_at is not in the future; a procedure's auction is first
	 * seeded with the tender prices (ops_open_auction advances it after that) */
	if (proc_id == 0)
		auction_advance(&b->a, k->at);
	time_format(k->params.ends_at, en);
	time_format(k->at, now);
	dj = json_pack("{s:s, s:s, s:s}", "title", k->title, "currency", k->currency, "starts_at", st);
	detail = json_dumps(dj, JSON_COMPACT);
	json_decref(dj);
	{
		const char *p[22] = { I64(id, b->a.id), I64(bp, k->who->id), I64(bo, k->who->org->id),
		    k->title, k->currency, I64(exp, k->exp), I64(sp, k->params.start_price),
		    k->smin_pct ? "true" : "false", I64(smv, k->smin_val), I64(sma, k->params.step_min),
		    k->smax_pct ? "true" : "false", I64(sxv, k->smax_val), I64(sxa, k->params.step_max),
		    st, en, I64(ew, k->params.ext_window), I64(el, k->params.ext_length), now, k->fp,
		    detail ? detail : "{}", proc_id ? I64(pr, proc_id) : NULL,
		    proc_id ? I64(lt, lot_id) : NULL };
		ops_sql(s, DB_S_CREATE, 22, p, NULL, NULL);
	}
	free(detail);
	if (proc_id == 0)
		ops_transitions(s, b);
	return 1;
}

/* Apply a cancellation. */
static int
ops_apply_cancel(struct server *s, struct cmd *k)
{
	struct book *b = book_get(s, k->auction_id);
	char id[24], pid[24], oid[24], t[TIME_BUF];

	if (b == NULL) {
		cmd_refuse(s, k, "not_found", "no such auction");
		return 0;
	}
	ops_touch(s, b);
	auction_advance(&b->a, k->at);
	ops_transitions(s, b);
	if (auction_cancel(&b->a, k->at) < 0) {
		cmd_refuse(s, k, "bad_state", "the auction is already closed or cancelled");
		return 0;
	}
	free(b->cancel_reason);
	b->cancel_reason = strdup(k->reason);
	b->mark_cancel = 1;
	b->db_state = AUCTION_CANCELLED;
	b->notify |= BOOK_N_CANCEL;
	time_format(k->at, t);
	{
		const char *p[6] = { I64(id, b->a.id), t, k->reason, I64(pid, k->who->id),
		    I64(oid, k->who->org->id), k->fp };
		ops_sql(s, DB_S_CANCELLED, 6, p, NULL, NULL);
	}
	k->book = b;
	return 1;
}

/* Rows of the registration statement: the new ids. */
static void
ops_register_rows(void *arg, const struct db_res *res)
{
	struct cmd *k = arg;

	if (db_res_rows(res) == 1) {
		k->new_pid = strtoll(db_res_value(res, 0, 0), NULL, 10);
		k->new_org = strtoll(db_res_value(res, 0, 1), NULL, 10);
	}
}

/*
 * A registration names its organization; a name that folds like an existing
 * organization's (or like one registered earlier in this batch) joins that
 * organization: its stored name is what the statement inserts, so that the
 * conflict on the name finds its row. -1 when out of memory.
 */
static int
ops_register_org(struct server *s, struct cmd *k, struct map *pending)
{
	struct org *o = registry_org_named(s, k->org_name);
	char *key, *pkey = NULL, *name;
	struct cmd *first;

	if (o != NULL) {
		name = o->name;
	} else {
		if ((key = text_fold(k->org_name)) == NULL || asprintf(&pkey, "org %s", key) < 0)
			pkey = NULL;
		free(key);
		if (pkey == NULL)
			return -1;
		first = map_sget(pending, pkey);
		if (first == NULL && map_sput(pending, pkey, k) < 0)
			first = k;
		free(pkey);
		name = first ? first->org_name : k->org_name;
	}
	if (name != k->org_name) {
		char *copy = strdup(name);
		if (copy == NULL)
			return -1;
		free(k->org_name);
		k->org_name = copy;
	}
	return 0;
}

/* Apply a registration (a certificate registers once). */
static int
ops_apply_register(struct server *s, struct cmd *k, struct map *pending)
{
	char by[24], nb[TIME_BUF], na[TIME_BUF];

	if (map_sget(&s->certs, k->cert.fp) || map_sget(pending, k->cert.fp)) {
		cmd_refuse(s, k, "conflict", "this certificate is already registered");
		return 0;
	}
	map_sput(pending, k->cert.fp, k);
	if (ops_register_org(s, k, pending) < 0) {
		cmd_refuse(s, k, "internal", "out of memory");
		return 0;
	}
	time_format(k->cert.not_before, nb);
	time_format(k->cert.not_after, na);
	{
		const char *p[12] = { k->org_name, k->tax_id, k->country, k->pname,
		    role_name(k->role), k->cert.fp, k->cert.subject, k->cert.serial, nb, na, k->pem,
		    I64(by, k->who->id) };
		ops_sql(s, DB_S_REGISTER, 12, p, ops_register_rows, k);
	}
	return 1;
}

/* Apply a suspension or reinstatement of a participant or an organization (memory
 * changes on commit). */
static int
ops_apply_status(struct server *s, struct cmd *k)
{
	char id[24], op[24], t[TIME_BUF];

	if (k->org_status ? map_get(&s->orgs, k->auction_id) == NULL :
	    map_get(&s->participants, k->auction_id) == NULL) {
		cmd_refuse(s, k, "not_found", k->org_status ? "no such organization" :
		    "no such participant");
		return 0;
	}
	time_format(k->at, t);
	{
		const char *prm[6] = { I64(id, k->auction_id), k->amount ? "suspended" : "active", t,
		    k->reason, I64(op, k->who->id), k->fp };
		ops_sql(s, k->org_status ? DB_S_ORG_STATUS : DB_S_STATUS, 6, prm, NULL, NULL);
	}
	return 1;
}

/* Close every open connection of a participant (`p`) or of any participant of an
 * organization (`o`), each told why first. */
static void
ops_close_sessions(struct server *s, const struct participant *p, const struct org *o,
    const char *code, const char *message)
{
	struct conn **victims;
	size_t it = 0, n = 0;
	int64_t cid;
	void *v;

	/* collected first: closing a connection takes it out of the map being walked */
	if ((victims = calloc(s->conns.len + 1, sizeof(*victims))) == NULL) {
		log_error("out of memory closing the sessions of a suspension");
		return;
	}
	while (map_next(&s->conns, &it, &cid, NULL, &v)) {
		struct conn *c = conn_get(s, (uint64_t)cid);
		const struct participant *who = c ? conn_ident(c)->who : NULL;
		if (who != NULL && (who == p || (o != NULL && who->org == o)))
			victims[n++] = c;
	}
	for (size_t i = 0; i < n; i++) {
		conn_send(victims[i], json_pack("{s:s, s:{s:s, s:s}}", "event", "error", "error",
		    "code", code, "message", message));
		conn_close(victims[i], message);
	}
	free(victims);
}

/* A suspension committed: refuse the participant's (or the organization's)
 * connections from now on and close the open ones. */
static void
ops_commit_status(struct server *s, struct cmd *k)
{
	struct participant *p;
	struct org *o;
	json_t *r = proto_ok(k->id);

	if (k->org_status) {
		size_t it = 0, n = 0;
		void *v;
		o = map_get(&s->orgs, k->auction_id);
		o->suspended = k->amount != 0;
		while (map_next(&s->participants, &it, NULL, NULL, &v))
			n += ((struct participant *)v)->org == o;
		if (o->suspended)
			ops_close_sessions(s, NULL, o, "organization_suspended",
			    "this participant's organization was suspended");
		json_object_set_new(r, "organization", json_pack("{s:I, s:s, s:s, s:I}", "id",
		    (json_int_t)o->id, "name", o->name, "status", o->suspended ? "suspended" : "active",
		    "participants", (json_int_t)n));
		cmd_reply(s, k, r);
		log_info("organization=%lld %s by participant=%lld", (long long)o->id,
		    o->suspended ? "suspended" : "reinstated", (long long)k->who->id);
		return;
	}
	p = map_get(&s->participants, k->auction_id);
	p->suspended = k->amount != 0;
	if (p->suspended)
		ops_close_sessions(s, p, NULL, "participant_suspended", "this participant was suspended");
	json_object_set_new(r, "participant", json_pack("{s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)p->id, "name", p->name, "role", role_name(p->role), "status",
	    p->suspended ? "suspended" : "active"));
	cmd_reply(s, k, r);
	log_info("participant=%lld %s by participant=%lld", (long long)p->id,
	    p->suspended ? "suspended" : "reinstated", (long long)k->who->id);
}

static void ops_batch_done(void *arg, enum db_outcome o, const char *why);

/* Drain the queue into one batch and send it. */
static void
ops_flush(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct map pending;
	long n = 0;

	if (db_busy(s->db) || s->q_head == NULL)
		return;
	if (!db_ready(s->db)) {
		ops_db_state(s, 0);
		return;
	}
	map_init(&pending, 1);
	s->batch_seq++;
	s->b_nbooks = 0;
	s->b_nprocs = 0;
	while (s->q_head && n < s->cfg.batch_max) {
		struct cmd *k = s->q_head;
		int64_t now = k->at;
		int keep = 0;

		s->q_head = k->next;
		if (s->q_head == NULL)
			s->q_tail = NULL;
		s->q_len--;
		k->next = NULL;
		/* the engine sees a clock that never goes back */
		if (now < s->last_now)
			k->at = s->last_now;
		s->last_now = k->at;
		switch (k->kind) {
		case CMD_BID: keep = ops_apply_bid(s, k); break;
		case CMD_CREATE: keep = ops_apply_create(s, k); break;
		case CMD_CANCEL: keep = ops_apply_cancel(s, k); break;
		case CMD_REGISTER: keep = ops_apply_register(s, k, &pending); break;
		case CMD_TICK: ops_apply_tick(s, k); break;
		case CMD_STATUS: keep = ops_apply_status(s, k); break;
		case CMD_PROC: {
			const char *code = NULL, *message = NULL;
			keep = proc_apply(s, k->pkind, k->detail, k->at, k->who, k->fp, 0, &k->reply,
			    &code, &message);
			if (!keep && k->conn_id)
				cmd_reply(s, k, proto_error(k->id, code ? code : "internal",
				    message ? message : "refused", proc_refused_field()));
			break;
		}
		}
		if (keep) {
			if (s->b_tail)
				s->b_tail->next = k;
			else
				s->b_head = k;
			s->b_tail = k;
		} else {
			cmd_free(k);
		}
		n++;
	}
	map_free(&pending);
	if (db_busy(s->db)) {
		db_batch_send(s->db, ops_batch_done, s);
	} else {
		/* nothing to write (every command refused without a trace, or no-op ticks) */
		for (size_t i = 0; i < s->b_nbooks; i++) {
			s->b_books[i]->dirty = 0;
			book_update(s, s->b_books[i], 0);
		}
		s->b_nbooks = 0;
		proc_commit(s);
		ops_kick(s);
	}
}

/* Reply to a committed command. */
static void
ops_commit_cmd(struct server *s, struct cmd *k)
{
	json_t *r;
	struct participant *p;

	switch (k->kind) {
	case CMD_BID: {
		struct book *b = book_get(s, k->auction_id);
		if (k->reply) {  /* refused by the engine; its log row is now committed */
			r = k->reply;
			k->reply = NULL;
			cmd_reply(s, k, r);
			break;
		}
		r = proto_ok(k->id);
		json_object_set_new(r, "bid", json_pack("{s:I, s:I, s:o, s:o}", "id",
		    (json_int_t)k->bid_id, "seq", (json_int_t)k->res.seq, "amount",
		    proto_money(k->amount, b->exp), "at", proto_time(k->at)));
		json_object_set_new(r, "rank", json_integer(k->res.rank));
		json_object_set_new(r, "best_price", proto_money(k->res.best, b->exp));
		json_object_set_new(r, "ends_at", proto_time(k->res.ends_at));
		json_object_set_new(r, "extended", json_boolean(k->res.extended));
		cmd_reply(s, k, r);
		{
			char amount[40];
			money_format(k->amount, b->exp, amount, sizeof(amount));
			log_info("auction=%lld bid=%lld participant=%lld amount=%s rank=%d%s accepted",
			    (long long)k->auction_id, (long long)k->bid_id, (long long)k->who->id,
			    amount, k->res.rank, k->res.extended ? " extended" : "");
		}
		break;
	}
	case CMD_CREATE:
		k->book->created_batch = -1;
		r = proto_ok(k->id);
		json_object_set_new(r, "auction", book_view(s, k->book, k->who, 1));
		cmd_reply(s, k, r);
		log_info("auction=%lld created by participant=%lld", (long long)k->auction_id,
		    (long long)k->who->id);
		break;
	case CMD_CANCEL:
		r = proto_ok(k->id);
		json_object_set_new(r, "auction", book_view(s, k->book, k->who, 1));
		cmd_reply(s, k, r);
		log_info("auction=%lld cancelled by participant=%lld", (long long)k->auction_id,
		    (long long)k->who->id);
		break;
	case CMD_REGISTER:
		if (registry_org(s, k->new_org, k->org_name) == NULL ||
		    (p = registry_participant(s, k->new_pid, k->new_org, k->pname,
		    role_name(k->role), "active", k->cert.fp)) == NULL) {
			cmd_refuse(s, k, "internal", "registered, but not loaded; restart tenderd");
			break;
		}
		r = proto_ok(k->id);
		json_object_set_new(r, "participant", json_pack("{s:I, s:s, s:s}", "id",
		    (json_int_t)p->id, "name", p->name, "role", role_name(p->role)));
		json_object_set_new(r, "organization", json_pack("{s:I, s:s}", "id",
		    (json_int_t)p->org->id, "name", p->org->name));
		json_object_set_new(r, "fingerprint", json_string(k->cert.fp));
		cmd_reply(s, k, r);
		log_info("participant=%lld role=%s fp=%.16s registered", (long long)p->id,
		    role_name(p->role), k->cert.fp);
		break;
	case CMD_TICK:
		break;
	case CMD_STATUS:
		ops_commit_status(s, k);
		break;
	case CMD_PROC:
		if (k->reply) {
			r = k->reply;
			k->reply = NULL;
			json_object_set(r, "id", k->id);
			cmd_reply(s, k, r);
		}
		break;
	}
}

/* Answer reads parked behind the batch. */
static void
ops_answer_waiters(struct server *s)
{
	size_t i;
	json_t *w;

	if (s->b_waiters == NULL)
		return;
	json_array_foreach(s->b_waiters, i, w) {
		uint64_t cid = (uint64_t)json_integer_value(json_array_get(w, 0));
		json_t *id = json_array_get(w, 1);
		struct book *b = book_get(s, json_integer_value(json_array_get(w, 2)));
		struct conn *c = conn_get(s, cid);
		json_t *r, *pv, *ctx = json_array_get(w, json_array_size(w) - 1);
		if (c == NULL)
			continue;
		if (json_is_integer(json_array_get(w, 3))) {  /* a procurement */
			pv = proc_view_of(s, json_integer_value(json_array_get(w, 2)), conn_ident(c)->who);
			if (pv == NULL) {
				r = proto_error(id, "not_found", "no such procurement", NULL);
			} else {
				r = proto_ok(id);
				json_object_set_new(r, "procurement", pv);
			}
		} else if (b == NULL) {
			r = proto_error(id, "not_found", "no such auction", NULL);
		} else {
			r = proto_ok(id);
			json_object_set_new(r, "auction", book_view(s, b, conn_ident(c)->who, 1));
		}
		if (json_is_array(ctx))
			proto_log_reply(cid, conn_ident(c)->cert->fp,
			    json_string_value(json_array_get(ctx, 0)), id,
			    json_integer_value(json_array_get(ctx, 1)), r);
		ops_emit_json(s, cid, r, 1);
	}
	json_decref(s->b_waiters);
	s->b_waiters = NULL;
}

/* The batch in flight is over: acknowledge and broadcast, or roll back. */
static void
ops_batch_done(void *arg, enum db_outcome o, const char *why)
{
	struct server *s = arg;
	struct cmd *k, *next;

	/*
	 * Replies and events of this batch are rendered now, from the committed
	 * state, but written only after the next batch has been sent: PostgreSQL
	 * commits it while tenderd encrypts and writes these.
	 */
	s->deferring++;
	if (o == DB_COMMITTED) {
		for (k = s->b_head; k; k = k->next)
			ops_commit_cmd(s, k);
		for (size_t i = 0; i < s->b_nbooks; i++) {
			struct book *b = s->b_books[i];
			b->dirty = 0;
			b->touched_batch = -1;
			b->created_batch = -1;
			if (b->notify & (AUCTION_EV_CLOSED | BOOK_N_CANCEL))
				book_closed(s, b);
			else
				book_update(s, b, b->notify);  /* now, or at the end of update_interval */
			b->notify = 0;
			book_arm(s, b);
		}
		proc_commit(s);
	} else {
		log_warn("batch not committed (%s): %zu books rolled back", why ? why : "?",
		    s->b_nbooks);
		for (size_t i = s->b_nbooks; i-- > 0;) {
			struct book *b = s->b_books[i];
			if (b->created_batch == s->batch_seq) {
				map_del(&s->books, b->a.id);
				book_free(b);
				continue;
			}
			auction_rollback(&b->a, &b->mark);
			b->db_state = b->mark_db_state;
			if (b->mark_cancel) {
				free(b->cancel_reason);
				b->cancel_reason = NULL;
			}
			b->dirty = 0;
			b->notify = 0;
			b->touched_batch = -1;
			book_arm(s, b);
			/* an update held back while the batch was in flight: from the state
			 * rolled back to, which is committed */
			book_update(s, b, 0);
		}
		proc_rollback(s);
		for (k = s->b_head; k; k = k->next) {
			struct book *kb = k->bid_counted ? book_get(s, k->auction_id) : NULL;
			if (kb != NULL)
				book_count_bids(kb, k->who->org->id, -1);
			k->book = NULL;
			if (o == DB_LOST)
				cmd_refuse(s, k, "unavailable",
				    "the database became unavailable; nothing was changed, retry later");
			else
				cmd_refuse(s, k, "internal", "the change could not be recorded; nothing was changed");
		}
	}
	for (k = s->b_head; k; k = next) {
		next = k->next;
		cmd_free(k);
	}
	s->b_head = s->b_tail = NULL;
	s->b_nbooks = 0;
	ops_answer_waiters(s);
	if (s->cfg.batch_delay == 0 && s->q_head && db_ready(s->db) && !db_busy(s->db))
		ops_flush(-1, 0, s);
	else
		ops_kick(s);
	s->deferring--;
	ops_deliver(s);
}

/* The database came back (re-arm every timer) or went away (refuse the queue). */
void
ops_db_state(void *arg, int up)
{
	struct server *s = arg;
	size_t it = 0;
	void *v;

	if (up) {
		while (map_next(&s->books, &it, NULL, NULL, &v))
			book_arm(s, v);
		it = 0;
		while (map_next(&s->procs, &it, NULL, NULL, &v))
			proc_arm(s, v);
		ops_kick(s);
		return;
	}
	while (s->q_head) {
		struct cmd *k = s->q_head;
		s->q_head = k->next;
		if (k->kind == CMD_TICK) {
			struct book *b = book_get(s, k->auction_id);
			if (b)
				b->tick_queued = 0;
		}
		if (k->kind == CMD_PROC && k->conn_id == 0) {
			struct proc *p = map_get(&s->procs, k->auction_id);
			if (p)
				p->tick_queued = 0;
		}
		cmd_refuse(s, k, "unavailable", "the database is unavailable; nothing was changed, retry later");
		cmd_free(k);
	}
	s->q_tail = NULL;
	s->q_len = 0;
}

/* Queue a procedure change (checked by proc.c) for the next batch. */
void
ops_enqueue_proc(struct server *s, struct conn *c, json_t *id, const char *kind, json_t *detail,
    int64_t proc_id)
{
	struct cmd *k = cmd_new(CMD_PROC, c, id);

	if (k == NULL) {
		json_decref(detail);
		return;
	}
	snprintf(k->pkind, sizeof(k->pkind), "%s", kind);
	k->detail = detail;
	k->auction_id = proc_id;
	ops_enqueue(s, c, k);
}

/* Offers by price, then submission time (kept in `total` for this sort). */
static int
ops_cmp_price(const void *x, const void *y)
{
	const struct proc_eval *a = x, *b = y;

	if (a->price != b->price)
		return a->price < b->price ? -1 : 1;
	return a->total < b->total ? -1 : a->total > b->total ? 1 : 0;
}

/* Open the live auction of a tender_auction lot: a restricted auction whose
 * first bids are the admitted bidders' tender prices. */
struct book *
ops_open_auction(struct server *s, struct proc *p, int li, int64_t at)
{
	const struct proc_lot *lot = &p->pr.lots[li];
	json_t *au = json_object_get(p->doc, "auction"), *jlot;
	struct cmd k;
	struct book *b;
	int64_t delay = json_integer_value(json_object_get(au, "delay")) * 1000;
	char title[600], id[24], bid[24], seq[24], pid[24], oid[24], amt[24], t[TIME_BUF];
	struct proc_eval *order;
	const char *why;
	int n;

	memset(&k, 0, sizeof(k));
	jlot = json_array_get(json_object_get(p->doc, "lots"), (size_t)li);
	snprintf(title, sizeof(title), "%s, lot %lld: %s",
	    json_string_value(json_object_get(p->doc, "title")), (long long)lot->id,
	    json_string_value(json_object_get(jlot, "title")));
	k.params.buyer_org = p->pr.p.buyer_org;
	k.params.start_price = lot->max_price;
	money_parse_step(json_string_value(json_object_get(au, "step_min")), p->exp, &k.smin_pct,
	    &k.smin_val);
	money_parse_step(json_string_value(json_object_get(au, "step_max")), p->exp, &k.smax_pct,
	    &k.smax_val);
	k.params.step_min = k.smin_pct ? money_percent_of(lot->max_price, k.smin_val) : k.smin_val;
	k.params.step_max = k.smax_pct ? money_percent_of(lot->max_price, k.smax_val) : k.smax_val;
	k.params.starts_at = at + delay;
	k.params.ends_at = k.params.starts_at +
	    json_integer_value(json_object_get(au, "duration")) * 1000;
	k.params.ext_window = json_integer_value(json_object_get(au, "extension_window")) * 1000;
	k.params.ext_length = json_integer_value(json_object_get(au, "extension")) * 1000;
	if ((why = auction_params_check(&k.params)) != NULL) {
		log_error("procurement=%lld lot=%lld auction parameters invalid: %s",
		    (long long)p->pr.id, (long long)lot->id, why);
		return NULL;
	}
	k.title = title;
	memcpy(k.currency, p->currency, sizeof(k.currency));
	k.exp = p->exp;
	k.at = at;
	k.who = map_get(&s->participants, p->buyer_participant);
	if (k.who == NULL)
		return NULL;
	snprintf(k.fp, sizeof(k.fp), "%s", "procedure");
	k.conn_id = 0;
	if (!ops_apply_create_proc(s, &k, p->pr.id, lot->id))
		return NULL;
	b = k.book;
	/* seed every live offer's price in tender-ranking order (by price and time
	 * when scores are still missing), so equal prices keep their tender order */
	order = calloc(p->pr.noffers + 1, sizeof(*order));
	if (order == NULL)
		return b;
	n = proc_evaluate(&p->pr, lot->id, order, (int)p->pr.noffers + 1);
	if (n < 0) {
		n = 0;
		for (size_t i = 0; i < p->pr.noffers; i++) {
			const struct proc_offer *o = &p->pr.offers[i];
			if (o->lot_id == lot->id && o->status == OFFER_ACTIVE) {
				order[n].offer_id = o->id;
				order[n].price = o->price;
				order[n].total = o->submitted_at;  /* sort key only */
				order[n++].status = o->status;
			}
		}
		qsort(order, (size_t)n, sizeof(*order), ops_cmp_price);
	}
	for (int i = 0; i < n; i++) {
		const struct proc_offer *o = proc_offer_by_id(&p->pr, order[i].offer_id);
		json_t *x;
		if (o == NULL || o->status != OFFER_ACTIVE)
			continue;
		x = json_object_get(p->extras, I64(id, o->id));
		if (auction_seed(&b->a, s->next_bid_id, o->org, o->price, at) != AUCTION_OK)
			continue;
		time_format(at, t);
		{
			const char *prm[8] = { I64(bid, s->next_bid_id), I64(id, b->a.id),
			    I64(seq, (int64_t)b->a.nbids),
			    I64(pid, json_integer_value(json_object_get(x, "participant"))),
			    I64(oid, o->org), json_string_value(json_object_get(x, "fingerprint")),
			    I64(amt, o->price), t };
			ops_sql(s, DB_S_SEED, 8, prm, NULL, NULL);
		}
		s->next_bid_id++;
	}
	free(order);
	auction_advance(&b->a, at);
	ops_transitions(s, b);
	return b;
}

/* Create the flush event. */
int
ops_init(struct server *s)
{
	s->flush_ev = event_new(s->base, -1, 0, ops_flush, s);
	return s->flush_ev ? 0 : -1;
}

/* ---- request handlers ---- */

/* hello: who am I. */
void
ops_hello(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct conn_ident *ci = conn_ident(c);
	json_t *r = proto_ok(id);

	json_object_set_new(r, "participant", json_pack("{s:I, s:s, s:s}", "id",
	    (json_int_t)ci->who->id, "name", ci->who->name, "role", role_name(ci->who->role)));
	json_object_set_new(r, "organization", json_pack("{s:I, s:s}", "id",
	    (json_int_t)ci->who->org->id, "name", ci->who->org->name));
	json_object_set_new(r, "fingerprint", json_string(ci->cert->fp));
	json_object_set_new(r, "subject", json_string(ci->subject));
	json_object_set_new(r, "server_time", proto_time(time_now_ms()));
	conn_send(c, r);
}

/* Look up the auction named by the request's "auction" field. */
static struct book *
ops_book_arg(struct server *s, struct conn *c, json_t *id, json_t *req)
{
	int64_t aid;
	struct book *b;

	if (proto_get_int(c, req, "auction", 1, &aid) != 0)
		return NULL;
	if ((b = book_get(s, aid)) == NULL) {
		conn_send(c, proto_error(id, "not_found", "no such auction", "auction"));
		return NULL;
	}
	return b;
}

/* The request being handled, for a parked read's log line: [op, start µs]. */
json_t *
ops_log_ctx(void)
{
	int64_t t0 = 0;
	const char *op = proto_current(&t0);

	return json_pack("[s, I]", op ? op : "-", (json_int_t)t0);
}

/* Reply with the auction now, or after the batch in flight when it changed it. */
static void
ops_reply_view(struct server *s, struct conn *c, json_t *id, struct book *b)
{
	json_t *r;

	if (b->dirty) {
		if (s->b_waiters == NULL)
			s->b_waiters = json_array();
		json_array_append_new(s->b_waiters, json_pack("[I, O, I, n, o]",
		    (json_int_t)conn_ident(c)->id, id ? id : json_null(), (json_int_t)b->a.id,
		    ops_log_ctx()));
		conn_pending_add(c, 1);  /* parked reads count against the connection's bound */
		return;
	}
	r = proto_ok(id);
	json_object_set_new(r, "auction", book_view(s, b, conn_ident(c)->who, 1));
	conn_send(c, r);
}

/* auction.get */
void
ops_auction_get(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct book *b = ops_book_arg(s, c, id, req);

	if (b)
		ops_reply_view(s, c, id, b);
}

/* Newest first. */
static int
ops_cmp_books(const void *x, const void *y)
{
	const struct book *a = *(struct book *const *)x, *b = *(struct book *const *)y;

	return a->a.id < b->a.id ? 1 : a->a.id > b->a.id ? -1 : 0;
}

/* Read the paging and filter fields of a list; see server.h. */
int
ops_list_args(struct conn *c, json_t *id, json_t *req, struct ops_list *l)
{
	const char *after = NULL, *status = NULL;
	char msg[96], *end;

	l->limit = OPS_LIST_DEFAULT;
	l->after = INT64_MAX;
	l->state = l->kind = NULL;
	l->buyer = -1;
	if (proto_get_int(c, req, "limit", 0, &l->limit) < 0 ||
	    proto_get_str(c, req, "after", 0, 20, &after) < 0 ||
	    proto_get_str(c, req, "state", 0, 20, &l->state) < 0 ||
	    proto_get_str(c, req, "status", 0, 20, &status) < 0 ||
	    proto_get_str(c, req, "kind", 0, 20, &l->kind) < 0 ||
	    proto_get_int(c, req, "buyer", 0, &l->buyer) < 0)
		return -1;
	if (l->limit < 1 || l->limit > OPS_LIST_MAX) {
		snprintf(msg, sizeof(msg), "limit must be 1 to %d", OPS_LIST_MAX);
		conn_send(c, proto_error(id, "bad_field", msg, "limit"));
		return -1;
	}
	if (after != NULL) {
		long long v = strtoll(after, &end, 10);
		if (after[0] < '0' || after[0] > '9' || *end != '\0' || v <= 0) {
			conn_send(c, proto_error(id, "bad_field", "after must be a cursor returned as next "
			    "by the same list", "after"));
			return -1;
		}
		l->after = v;
	}
	if (status != NULL) {
		if (l->state != NULL && strcmp(l->state, status) != 0) {
			conn_send(c, proto_error(id, "bad_field", "state and status (its alias) differ",
			    "status"));
			return -1;
		}
		l->state = status;
	}
	return 0;
}

/* The cursor of the next page: the last id listed, as text; null on the last page. */
json_t *
ops_list_next(int more, int64_t last_id)
{
	char buf[24];

	if (!more)
		return json_null();
	snprintf(buf, sizeof(buf), "%lld", (long long)last_id);
	return json_string(buf);
}

/* auction.list: newest first, a page at a time, by state, kind and buyer. */
void
ops_auction_list(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct ops_list l;
	struct book **all;
	size_t n = 0, it = 0;
	json_t *arr, *r;
	void *v;
	int lot = 0;

	if (ops_list_args(c, id, req, &l) < 0)
		return;
	if (l.state && strcmp(l.state, "scheduled") && strcmp(l.state, "running") &&
	    strcmp(l.state, "closed") && strcmp(l.state, "cancelled")) {
		conn_send(c, proto_error(id, "bad_field",
		    "state must be scheduled, running, closed or cancelled",
		    json_object_get(req, "state") ? "state" : "status"));
		return;
	}
	lot = l.kind && strcmp(l.kind, "tender_auction") == 0;
	if (l.kind && !lot && strcmp(l.kind, "auction") != 0) {
		conn_send(c, proto_error(id, "bad_field", "kind must be auction (created with "
		    "auction.create) or tender_auction (a lot of a tender_auction procurement)", "kind"));
		return;
	}
	if ((all = calloc(s->books.len + 1, sizeof(*all))) == NULL) {
		conn_send(c, proto_error(id, "internal", "out of memory", NULL));
		return;
	}
	while (map_next(&s->books, &it, NULL, NULL, &v)) {
		struct book *b = v;
		if (b->created_batch >= 0 || b->a.id >= l.after)
			continue;  /* not yet committed, or on an earlier page */
		if ((l.state && strcmp(l.state, auction_state_name(b->a.state)) != 0) ||
		    (l.kind && (b->proc_id != 0) != lot) || (l.buyer >= 0 && b->a.p.buyer_org != l.buyer))
			continue;
		all[n++] = b;
	}
	qsort(all, n, sizeof(*all), ops_cmp_books);
	arr = json_array();
	for (size_t i = 0; i < n && i < (size_t)l.limit; i++)
		json_array_append_new(arr, book_view(s, all[i], conn_ident(c)->who, 0));
	r = proto_ok(id);
	json_object_set_new(r, "auctions", arr);
	json_object_set_new(r, "next", ops_list_next(n > (size_t)l.limit,
	    n > (size_t)l.limit ? all[l.limit - 1]->a.id : 0));
	free(all);
	conn_send(c, r);
}

/* auction.watch: at most max_watches_per_conn per connection and
 * max_watchers_per_procedure per auction. */
void
ops_auction_watch(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct book *b = ops_book_arg(s, c, id, req);
	char why[256];
	int rc;

	if (b == NULL)
		return;
	if ((rc = watch_add(s, c, WATCH_AUCTION, b->a.id, &b->watchers, why, sizeof(why))) < 0) {
		conn_send(c, proto_error(id, rc == -1 ? "limit_exceeded" : "internal", why, NULL));
		return;
	}
	ops_reply_view(s, c, id, b);
}

/* auction.unwatch */
void
ops_auction_unwatch(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct book *b = ops_book_arg(s, c, id, req);

	if (b == NULL)
		return;
	watch_del(s, c, WATCH_AUCTION, b->a.id, &b->watchers);
	conn_send(c, proto_ok(id));
}

/* auction.bid (suppliers): check form, queue for the engine. */
void
ops_auction_bid(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *amount;
	struct book *b;
	struct cmd *k;
	int64_t v;
	json_t *jv;

	if ((b = ops_book_arg(s, c, id, req)) == NULL)
		return;
	jv = json_object_get(req, "amount");
	if (jv && json_is_number(jv)) {
		conn_send(c, proto_error(id, "bad_field",
		    "amount must be a decimal string such as \"995000.00\", not a JSON number", "amount"));
		return;
	}
	if (proto_get_str(c, req, "amount", 1, 40, &amount) != 0)
		return;
	if (money_parse(amount, b->exp, &v) < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "amount must be a decimal with at most %d fraction digits",
		    b->exp);
		conn_send(c, proto_error(id, "bad_field", msg, "amount"));
		return;
	}
	if ((k = cmd_new(CMD_BID, c, id)) == NULL)
		return;
	k->auction_id = b->a.id;
	k->amount = v;
	ops_enqueue(s, c, k);
}

/* Parse a step field ("0.5%" or an amount) with a default. */
static int
ops_step(struct conn *c, json_t *id, json_t *req, const char *field, const char *def, int exp,
    int64_t start, int *pct, int64_t *val, int64_t *amount)
{
	const char *text = def;
	int rc = proto_get_str(c, req, field, 0, 40, &text);
	char msg[160];

	if (rc < 0)
		return -1;
	if (rc == 1)
		text = def;
	if (money_parse_step(text, exp, pct, val) < 0) {
		snprintf(msg, sizeof(msg), "%s must be a percent such as \"0.5%%\" or an amount", field);
		conn_send(c, proto_error(id, "bad_field", msg, field));
		return -1;
	}
	*amount = *pct ? money_percent_of(start, *val) : *val;
	return 0;
}

/* An optional duration in seconds with a default, within bounds. */
static int
ops_seconds(struct conn *c, json_t *id, json_t *req, const char *field, int64_t def,
    int64_t min, int64_t max, int64_t *out_ms)
{
	int64_t v = def;
	int rc = proto_get_int(c, req, field, 0, &v);
	char msg[160];

	if (rc < 0)
		return -1;
	if (v < min || v > max) {
		snprintf(msg, sizeof(msg), "%s must be between %lld and %lld seconds", field,
		    (long long)min, (long long)max);
		conn_send(c, proto_error(id, "bad_field", msg, field));
		return -1;
	}
	*out_ms = v * 1000;
	return 0;
}

/* auction.create: check everything, queue. */
void
ops_auction_create(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *title, *currency, *start, *starts_at = NULL;
	struct auction_params p = { 0 };
	int smin_pct, smax_pct, exp, rc;
	int64_t smin_val, smax_val, now = time_now_ms(), dur;
	const char *why;
	struct cmd *k;
	json_t *jv;

	if (proto_get_text(c, req, "title", 1, 500, TEXT_LINE, &title) != 0 ||
	    proto_get_str(c, req, "currency", 1, 3, &currency) != 0)
		return;
	if ((exp = money_exponent(currency)) < 0) {
		conn_send(c, proto_error(id, "bad_field", "currency must be an ISO 4217 code such as RUB",
		    "currency"));
		return;
	}
	jv = json_object_get(req, "start_price");
	if (jv && json_is_number(jv)) {
		conn_send(c, proto_error(id, "bad_field",
		    "start_price must be a decimal string, not a JSON number", "start_price"));
		return;
	}
	if (proto_get_str(c, req, "start_price", 1, 40, &start) != 0)
		return;
	if (money_parse(start, exp, &p.start_price) < 0 || p.start_price <= 0) {
		conn_send(c, proto_error(id, "bad_field", "start_price must be a positive decimal amount",
		    "start_price"));
		return;
	}
	if (ops_step(c, id, req, "step_min", "0.5%", exp, p.start_price, &smin_pct, &smin_val,
	    &p.step_min) < 0 ||
	    ops_step(c, id, req, "step_max", "5%", exp, p.start_price, &smax_pct, &smax_val,
	    &p.step_max) < 0)
		return;
	rc = proto_get_str(c, req, "starts_at", 0, 64, &starts_at);
	if (rc < 0)
		return;
	p.starts_at = now;
	if (rc == 0 && (time_parse(starts_at, &p.starts_at) < 0 || p.starts_at < now - 60000)) {
		conn_send(c, proto_error(id, "bad_field",
		    "starts_at must be an RFC 3339 time, not more than 60 s in the past", "starts_at"));
		return;
	}
	/* defaults: a 10-minute auction (44-FZ's first 10 minutes) whose last 2 minutes
	 * extend: a lead-taking bid with 2 minutes or less left moves the end to 2 minutes
	 * after it (etenders.ge); the same as a tender_auction's (proc.c) */
	if (ops_seconds(c, id, req, "duration", 600, 1, 30L * 86400, &dur) < 0 ||
	    ops_seconds(c, id, req, "extension_window", 120, 0, 86400, &p.ext_window) < 0 ||
	    ops_seconds(c, id, req, "extension", 120, 0, 86400, &p.ext_length) < 0)
		return;
	p.ends_at = p.starts_at + dur;
	p.buyer_org = conn_ident(c)->who->org->id;
	if (p.step_min > p.step_max) {
		conn_send(c, proto_error(id, "bad_field", "step_min must not exceed step_max", "step_min"));
		return;
	}
	if ((why = auction_params_check(&p)) != NULL) {
		conn_send(c, proto_error(id, "bad_field", why, NULL));
		return;
	}
	if ((k = cmd_new(CMD_CREATE, c, id)) == NULL || (k->title = strdup(title)) == NULL) {
		free(k);
		return;
	}
	k->params = p;
	snprintf(k->currency, sizeof(k->currency), "%s", currency);
	k->exp = exp;
	k->smin_pct = smin_pct;
	k->smax_pct = smax_pct;
	k->smin_val = smin_val;
	k->smax_val = smax_val;
	ops_enqueue(s, c, k);
}

/* auction.cancel: owning buyer's organization or an operator, with a reason. */
void
ops_auction_cancel(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct participant *who = conn_ident(c)->who;
	const char *reason;
	struct book *b;
	struct cmd *k;

	if ((b = ops_book_arg(s, c, id, req)) == NULL)
		return;
	if (who->role == ROLE_BUYER && who->org->id != b->a.p.buyer_org) {
		conn_send(c, proto_error(id, "forbidden", "only the buyer that owns the auction or an "
		    "operator may cancel it", NULL));
		return;
	}
	if (proto_get_str(c, req, "reason", 1, 1000, &reason) != 0)
		return;
	if (b->a.state == AUCTION_CLOSED || b->a.state == AUCTION_CANCELLED) {
		conn_send(c, proto_error(id, "bad_state", "the auction is already closed or cancelled",
		    NULL));
		return;
	}
	if ((k = cmd_new(CMD_CANCEL, c, id)) == NULL || (k->reason = strdup(reason)) == NULL) {
		free(k);
		return;
	}
	k->auction_id = b->a.id;
	ops_enqueue(s, c, k);
}

/* participant.register: operator registers a certificate. */
void
ops_participant_register(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *org, *role, *name, *pem, *tax = NULL, *country = NULL;
	struct tls_cert_info info;
	char cause[256];
	enum role r;
	struct cmd *k;

	if (proto_get_text(c, req, "organization", 1, 200, TEXT_NAME, &org) != 0 ||
	    proto_get_str(c, req, "role", 1, 16, &role) != 0 ||
	    proto_get_text(c, req, "name", 1, 200, TEXT_NAME, &name) != 0 ||
	    proto_get_str(c, req, "certificate", 1, 65536, &pem) != 0 ||
	    proto_get_str(c, req, "tax_id", 0, 64, &tax) < 0 ||
	    proto_get_str(c, req, "country", 0, 2, &country) < 0)
		return;
	if (role_parse(role, &r) < 0) {
		conn_send(c, proto_error(id, "bad_field", "role must be buyer, supplier or operator",
		    "role"));
		return;
	}
	if (country && (strlen(country) != 2 || country[0] < 'A' || country[0] > 'Z' ||
	    country[1] < 'A' || country[1] > 'Z')) {
		conn_send(c, proto_error(id, "bad_field", "country must be an ISO 3166 alpha-2 code",
		    "country"));
		return;
	}
	if (tls_cert_check(s->ssl_ctx, pem, &info, cause, sizeof(cause)) < 0) {
		conn_send(c, proto_error(id, "bad_field", cause, "certificate"));
		return;
	}
	if (map_sget(&s->certs, info.fp)) {
		conn_send(c, proto_error(id, "conflict", "this certificate is already registered",
		    "certificate"));
		return;
	}
	if ((k = cmd_new(CMD_REGISTER, c, id)) == NULL)
		return;
	k->org_name = strdup(org);
	k->tax_id = tax ? strdup(tax) : NULL;
	k->country = country ? strdup(country) : NULL;
	k->pname = strdup(name);
	k->pem = strdup(pem);
	k->role = r;
	k->cert = info;
	if (k->org_name == NULL || k->pname == NULL || k->pem == NULL) {
		cmd_free(k);
		return;
	}
	ops_enqueue(s, c, k);
}

/* participant.suspend / participant.reinstate and organization.suspend /
 * organization.reinstate (operators), with a reason; the row's arg says which
 * (OPTAB_ARG_SUSPEND, OPTAB_ARG_ORG). */
void
ops_participant_status(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct participant *me = conn_ident(c)->who;
	int suspend = (op->arg & OPTAB_ARG_SUSPEND) != 0, org = (op->arg & OPTAB_ARG_ORG) != 0;
	const char *reason, *field = org ? "organization" : "participant";
	int64_t pid;
	struct cmd *k;

	if (proto_get_int(c, req, field, 1, &pid) != 0 ||
	    proto_get_str(c, req, "reason", 1, 1000, &reason) != 0)
		return;
	if (org ? map_get(&s->orgs, pid) == NULL : map_get(&s->participants, pid) == NULL) {
		conn_send(c, proto_error(id, "not_found", org ? "no such organization" :
		    "no such participant", field));
		return;
	}
	if (suspend && (org ? pid == me->org->id : pid == me->id)) {
		conn_send(c, proto_error(id, "bad_field", org ? "an operator cannot suspend its own "
		    "organization" : "an operator cannot suspend itself", field));
		return;
	}
	if ((k = cmd_new(CMD_STATUS, c, id)) == NULL || (k->reason = strdup(reason)) == NULL) {
		free(k);
		return;
	}
	k->auction_id = pid;
	k->amount = suspend;
	k->org_status = org;
	ops_enqueue(s, c, k);
}

/* stats (operators): a small picture of the server. */
void
ops_stats(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	conn_send(c, admin_stats(s, id));
}
