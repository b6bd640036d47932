/*
 * The auction and participant operations: their request handlers and what
 * their commands do on the write path (txn.c).
 *
 * Reads (hello, auction.get/list/watch) are answered at once from memory,
 * except that a read of an auction changed by the batch in flight is parked
 * behind that batch (txn_park), so nobody sees a state that is not committed.
 *
 * State changes (bid, create, cancel, register, suspend, and the clock's
 * ticks) are checked for form on arrival and queued as commands; applied in
 * a batch, the engine decides and what they changed joins the batch as SQL;
 * they are answered when the batch commits (txn.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "common/money.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/metrics.h"
#include "server/optab.h"
#include "server/server.h"

#define OPS_LIST_MAX 1000
#define OPS_LIST_DEFAULT 100

enum cmd_kind { CMD_BID, CMD_CREATE, CMD_CANCEL, CMD_REGISTER, CMD_TICK, CMD_STATUS,
	CMD_RULE, CMD_PROXY,
	/* outage pause: the clock's pause or resume of an auction (presence.c) */
	CMD_OUTAGE };

/* A queued state change. */
struct cmd {
	struct txn_cmd t;           /* first: the write path's part */
	enum cmd_kind kind;
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
	/* bid result: the engine's bid event, and whether the bid extended the auction */
	int64_t bid_id;
	struct auction_event res;
	int extended;
	int bid_counted;            /* counted in book_bids_of (undone if the batch fails) */
	int unsigned_bids;          /* create: signed_bids false */
	int64_t *invited;           /* create: params.invited's storage (NULL: open to all) */
	int rule;                   /* rule: OPTAB_ARG_PAUSE, _RESUME or _EXTEND; amount: ms */
	/* proxy: amount is the floor, 0 to withdraw; auto_bids: automatic bids it caused */
	int auto_bids;
	/* multi-lot auctions: create with lots (nlots 0: one auction) */
	struct ops_lot *lots;
	int nlots;
	int64_t stagger_ms;         /* 0: parallel closing */
	int lot_no;                 /* the lot being created (0: not a lot) */
	int64_t event_id;           /* its event: the id of lot 1 */
	char *event_title;
	/* outage pause: create: the rule; CMD_OUTAGE: OUTAGE_PAUSE, _BACK or _MAX and what the
	 * pause counted */
	struct auction_outage outage;
	int outage_what, outage_lost, outage_bidders;
};

/* Multi-lot auctions: one lot of auction.create's lots, checked, with its own parameters. */
struct ops_lot {
	char *title;
	struct auction_params p;    /* the shared ones, with this lot's price, steps and end */
	int smin_pct, smax_pct;
	int64_t smin_val, smax_val;
};

/* ---- commands ---- */

/* Free a command (the write path frees its own part first). */
static void
cmd_free(struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;

	free(k->title);
	free(k->reason);
	free(k->org_name);
	free(k->tax_id);
	free(k->country);
	free(k->pname);
	free(k->pem);
	free(k->invited);
	for (int i = 0; i < k->nlots; i++)
		free(k->lots[i].title);
	free(k->lots);
	free(k->event_title);
	free(k);
}

static const struct txn_cmd_ops *const cmd_ops[];

/* A new command for a request on `c` (NULL: the clock). */
static struct cmd *
cmd_new(enum cmd_kind kind, struct conn *c, json_t *id)
{
	struct cmd *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->kind = kind;
	txn_cmd_init(&k->t, cmd_ops[kind], c, id);
	return k;
}

/* Queue a checked command. */
static void
ops_enqueue(struct server *s, struct conn *c, struct cmd *k)
{
	txn_enqueue(s, c, &k->t);
}

/* A book's deadline passed: queue a tick (once). */
static void
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

/* Remember the state of a book before the batch first changes it. */
static void
ops_touch(struct server *s, struct book *b)
{
	if (txn_touch(s, &b->tx) < 0)
		abort();  /* cannot track a rollback: an invariant would break */
}

/* Text of an int64. */
#define I64(buf, v) (snprintf((buf), sizeof(buf), "%lld", (long long)(v)), (const char *)(buf))

/*
 * The body of an auction's change (the exact bytes stored in `changes`):
 * "auction", then "bid" and "amount" (a decimal string) when given, then the
 * members of `rest` (a compact JSON object: the kind's own detail), or NULL.
 * malloc'd; NULL when out of memory.
 */
static char *
ops_body(const struct book *b, int64_t bid, const int64_t *amount, const char *rest)
{
	char head[128], amt[40];
	size_t len;
	char *out = NULL;

	len = (size_t)snprintf(head, sizeof(head), "{\"auction\":%lld", (long long)b->a.id);
	if (bid)
		len += (size_t)snprintf(head + len, sizeof(head) - len, ",\"bid\":%lld", (long long)bid);
	if (amount) {
		money_format(*amount, b->exp, amt, sizeof(amt));
		snprintf(head + len, sizeof(head) - len, ",\"amount\":\"%s\"", amt);
	}
	if (rest == NULL || strcmp(rest, "{}") == 0)
		rest = "{}";
	if (asprintf(&out, "%s%s%s", head, rest[1] == '}' ? "" : ",", rest + 1) < 0)
		return NULL;
	return out;
}

/* Text of the procedure and of the lot an auction belongs to (NULL: none). */
#define PROC_OF(buf, b) ((b)->proc_id ? I64(buf, (b)->proc_id) : NULL)
#define LOT_OF(buf, b) ((b)->proc_id ? I64(buf, (b)->lot_id) : NULL)

/* Who caused the events of one engine call, for their rows (0 / NULL: the clock). */
struct ops_actor {
	int64_t participant, org;
	const char *fp;
	const char *reason;         /* a cancellation's */
	struct txn_cmd *cmd;        /* the command (its signed statement goes with its row) */
	const char *salt;           /* a sealed bid's salt (BOOK_SALT_HEX hex digits), or NULL */
	json_t *extra;              /* NULL, or members added to a pause's or resume's body */
};

/* The actor of a command's events. */
static struct ops_actor
ops_actor_of(const struct cmd *k)
{
	struct ops_actor w = { k->t.who ? k->t.who->id : 0, k->t.who ? k->t.who->org->id : 0,
	    k->t.fp, k->reason, (struct txn_cmd *)&k->t, NULL, NULL };

	return w;
}

/* started: the auction is running from starts_at. */
static void
ops_ev_started(struct server *s, struct book *b, const struct auction_event *e)
{
	char id[24], t[TIME_BUF], pr[24], lt[24], *body = ops_body(b, 0, NULL, NULL);
	const char *p[5] = { I64(id, b->a.id), t, body ? body : "{}", PROC_OF(pr, b),
	    LOT_OF(lt, b) };

	time_format(e->at, t);
	txn_obj_seq(&b->tx, txn_sql(s, DB_S_STARTED, 5, p, NULL, NULL));
	free(body);
}

/*
 * The opening of a sealed-bid auction, in its closed change's detail: the price paid (also
 * written to its row) and every sealed submission with its salt, so that anyone holding a
 * receipt rebuilds the sealed body (docs/trust.md) and checks its content_hash.
 */
static void
ops_sealed_opening(struct server *s, const struct book *b, json_t *detail)
{
	const struct auction *a = &b->a;
	json_t *arr = json_array();
	char id[24], paid[24];

	for (size_t i = 0; i < a->nbids; i++) {
		const struct auction_bid *x = &a->bids[i];

		json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:o, s:s?}", "seq",
		    (json_int_t)x->seq, "bid_id", (json_int_t)x->id, "organization_id",
		    (json_int_t)x->org, "price", proto_money(x->amount, b->exp), "salt",
		    i < b->nsalts && b->salts[i][0] ? b->salts[i] : NULL));
	}
	json_object_set_new(detail, "opening", arr);
	if (auction_price_paid(a) < 0)
		return;
	json_object_set_new(detail, "price_paid", proto_money(auction_price_paid(a), b->exp));
	{
		const char *p[2] = { I64(id, a->id), I64(paid, auction_price_paid(a)) };

		txn_sql(s, DB_S_PRICE_PAID, 2, p, NULL, NULL);
	}
}

/* closed: the result, with the final ranking as its detail. */
static void
ops_ev_closed(struct server *s, struct book *b, const struct auction_event *e)
{
	const struct auction *a = &b->a;
	char id[24], t[TIME_BUF], wid[24], price[24], pr[24], lt[24], *dtext, *body;
	json_t *detail = json_array();

	for (size_t i = 0; i < a->nentries; i++) {
		const struct auction_entry *r = auction_at_rank(a, (int)i + 1);
		json_array_append_new(detail, json_pack("{s:i, s:I, s:i, s:o, s:I}", "rank",
		    (int)i + 1, "organization_id", (json_int_t)r->org, "alias", r->alias,
		    "price", proto_money(r->amount, b->exp), "bid_id",
		    (json_int_t)a->bids[r->bid_index].id));
	}
	detail = json_pack("{s:o}", "ranking", detail);
	if (a->tail_end != 0) {
		/* after a tail: the ranking is the final one; the winner was fixed at the main end */
		json_object_set_new(detail, "ends_at", proto_time(auction_end(a)));
		json_object_set_new(detail, "tail_ends_at", proto_time(a->tail_end));
	}
	if (auction_unsuccessful(a) != NULL && a->nentries > 0)  /* by rule: min_bidders */
		json_object_set_new(detail, "unsuccessful", json_string(auction_unsuccessful(a)));
	if (auction_format_of(a)->sealed)
		ops_sealed_opening(s, b, detail);
	dtext = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	body = ops_body(b, e->bid_id, e->bid_id ? &e->amount : NULL, dtext);
	{
		const char *p[7] = { I64(id, a->id), t, e->bid_id ? I64(wid, e->bid_id) : NULL,
		    e->bid_id ? I64(price, e->amount) : NULL, body ? body : "{}", PROC_OF(pr, b),
		    LOT_OF(lt, b) };
		time_format(e->at, t);
		txn_obj_seq(&b->tx, txn_sql(s, DB_S_CLOSED, 7, p, NULL, NULL));
	}
	free(dtext);
	free(body);
}

/* 32 hex digits of 128 random bits into `out` (BOOK_SALT_HEX + 1 bytes); 0 or -1. */
static int
ops_salt(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[BOOK_SALT_HEX / 2];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (size_t i = 0; i < sizeof(r); i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[BOOK_SALT_HEX] = '\0';
	return 0;
}

/*
 * bid of a sealed-bid auction: its row is sealed and its body holds the price next to 128
 * random bits (docs/trust.md), so that neither its leaf hash nor its receipt's content hash
 * can be matched by guessing the price; no standing in it (nothing is ranked before the
 * opening). The salt was drawn before the engine took the bid (ops_apply_bid).
 */
static void
ops_ev_sealed_bid(struct server *s, struct book *b, const struct auction_event *e,
    const struct ops_actor *w)
{
	char aid[24], bid[24], seq[24], pid[24], oid[24], amt[24], pr[24], lt[24], t[TIME_BUF];
	char *body = book_sealed_body(b, e->seq, w->salt);

	/* kept for the opening (without it, the opening shows no salt for this bid) */
	if (w->salt == NULL || book_set_salt(b, e->seq, w->salt) < 0)
		log_error("auction=%lld bid=%lld: the salt of a sealed bid is not kept",
		    (long long)b->a.id, (long long)e->bid_id);
	time_format(e->at, t);
	{
		const char *p[11] = { I64(bid, e->bid_id), I64(aid, b->a.id), I64(seq, e->seq),
		    I64(pid, w->participant), I64(oid, w->org), w->fp, I64(amt, e->amount), t,
		    body ? body : "{}", PROC_OF(pr, b), LOT_OF(lt, b) };
		txn_sign(s, w->cmd);
		txn_own_change(s, txn_obj_seq(&b->tx, txn_sql(s, DB_S_SEALED_BID, 11, p, NULL,
		    NULL)));
	}
	free(body);
}

/* bid: an accepted bid, with its standing as its detail. */
static void
ops_ev_bid(struct server *s, struct book *b, const struct auction_event *e,
    const struct ops_actor *w)
{
	char aid[24], bid[24], seq[24], pid[24], oid[24], amt[24], pr[24], lt[24], t[TIME_BUF];
	char best[40], amount[40], *detail = NULL;

	if (auction_format_of(&b->a)->sealed) {
		ops_ev_sealed_bid(s, b, e, w);
		return;
	}
	time_format(e->at, t);
	money_format(e->best, b->exp, best, sizeof(best));
	money_format(e->amount, b->exp, amount, sizeof(amount));
	if (asprintf(&detail, "{\"auction\":%lld,\"bid\":%lld,\"amount\":\"%s\",\"seq\":%lld,"
	    "\"rank\":%d,\"best_price\":\"%s\",\"took_lead\":%s%s}", (long long)b->a.id,
	    (long long)e->bid_id, amount, (long long)e->seq, e->rank, best,
	    e->took_lead ? "true" : "false", e->tail ? ",\"tail\":true" : "") < 0)
		detail = NULL;
	{
		const char *p[11] = { I64(bid, e->bid_id), I64(aid, b->a.id), I64(seq, e->seq),
		    I64(pid, w->participant), I64(oid, w->org), w->fp, I64(amt, e->amount), t,
		    detail ? detail : "{}", PROC_OF(pr, b), LOT_OF(lt, b) };
		txn_sign(s, w->cmd);
		/* the bid's receipt names this change, not a start the bid made first */
		txn_own_change(s, txn_obj_seq(&b->tx, txn_sql(s, DB_S_BID, 11, p, NULL, NULL)));
	}
	free(detail);
}

/* extended: a bid moved the end. */
static void
ops_ev_extended(struct server *s, struct book *b, const struct auction_event *e)
{
	char aid[24], bid[24], n[24], pr[24], lt[24], t[TIME_BUF], ends[TIME_BUF], from[TIME_BUF];
	char *detail = NULL;

	time_format(e->at, t);
	time_format(e->ends_at, ends);
	time_format(e->prev_end, from);
	if (asprintf(&detail, "{\"auction\":%lld,\"bid\":%lld,\"from\":\"%s\",\"to\":\"%s\","
	    "\"extensions\":%d}", (long long)b->a.id, (long long)e->bid_id, from, ends,
	    e->extensions) < 0)
		detail = NULL;
	{
		const char *p[8] = { I64(aid, b->a.id), ends, I64(n, e->extensions), t,
		    I64(bid, e->bid_id), detail ? detail : "{}", PROC_OF(pr, b), LOT_OF(lt, b) };
		txn_obj_seq(&b->tx, txn_sql(s, DB_S_EXTENDED, 8, p, NULL, NULL));
	}
	free(detail);
}

/* seeded: a tender price carried into the auction. */
static void
ops_ev_seeded(struct server *s, struct book *b, const struct auction_event *e,
    const struct ops_actor *w)
{
	char aid[24], bid[24], seq[24], pid[24], oid[24], amt[24], pr[24], lt[24], t[TIME_BUF];
	char *body = ops_body(b, e->bid_id, &e->amount, "{\"seeded\":true}");
	const char *p[11] = { I64(bid, e->bid_id), I64(aid, b->a.id), I64(seq, e->seq),
	    I64(pid, w->participant), I64(oid, e->org), w->fp, I64(amt, e->amount), t,
	    body ? body : "{}", PROC_OF(pr, b), LOT_OF(lt, b) };

	time_format(e->at, t);
	txn_obj_seq(&b->tx, txn_sql(s, DB_S_SEED, 11, p, NULL, NULL));
	free(body);
}

/* cancelled: with the reason and who cancelled. */
static void
ops_ev_cancelled(struct server *s, struct book *b, const struct auction_event *e,
    const struct ops_actor *w)
{
	char id[24], pid[24], oid[24], pr[24], lt[24], t[TIME_BUF], *body;
	json_t *bj = json_pack("{s:I, s:s?}", "auction", (json_int_t)b->a.id, "reason", w->reason);
	const char *p[9] = { I64(id, b->a.id), t, w->reason, I64(pid, w->participant),
	    I64(oid, w->org), w->fp, NULL, PROC_OF(pr, b), LOT_OF(lt, b) };

	body = bj ? json_dumps(bj, JSON_COMPACT) : NULL;
	json_decref(bj);
	p[6] = body ? body : "{}";
	free(b->cancel_reason);
	b->cancel_reason = w->reason ? strdup(w->reason) : NULL;
	time_format(e->at, t);
	txn_sign(s, w->cmd);
	txn_obj_seq(&b->tx, txn_sql(s, DB_S_CANCELLED, 9, p, NULL, NULL));
	free(body);
}

/* paused, resumed, prolonged: an operator's change of the clock, with its reason; the row
 * moves the end (amount: the pause's length or the time added, in ms). */
static void
ops_ev_rule(struct server *s, struct book *b, const struct auction_event *e,
    const struct ops_actor *w)
{
	char id[24], pid[24], oid[24], pr[24], lt[24], amt[24], t[TIME_BUF], ends[TIME_BUF];
	char *body;
	const char *kind = auction_ev_name(e->kind);
	json_t *bj;
	const char *p[12];

	time_format(e->at, t);
	time_format(e->ends_at, ends);
	bj = json_pack("{s:I, s:s?, s:s}", "auction", (json_int_t)b->a.id, "reason", w->reason,
	    "ends_at", ends);
	if (bj != NULL && e->kind != AUCTION_EV_PAUSED)
		json_object_set_new(bj, e->kind == AUCTION_EV_RESUMED ? "paused_ms" : "added_ms",
		    json_integer(e->amount));
	if (bj != NULL && e->tail_ends_at != 0)  /* in the tail: the tail's end moves */
		json_object_set_new(bj, "tail_ends_at", proto_time(e->tail_ends_at));
	if (bj != NULL && w->extra != NULL)
		json_object_update(bj, w->extra);
	body = bj ? json_dumps(bj, JSON_COMPACT) : NULL;
	json_decref(bj);
	p[0] = I64(id, b->a.id);
	p[1] = t;
	p[2] = ends;
	p[3] = w->participant ? I64(pid, w->participant) : NULL;
	p[4] = w->org ? I64(oid, w->org) : NULL;
	p[5] = w->fp;
	p[6] = body ? body : "{}";
	p[7] = PROC_OF(pr, b);
	p[8] = LOT_OF(lt, b);
	p[9] = kind;
	p[10] = w->reason;
	p[11] = e->kind == AUCTION_EV_PAUSED ? NULL : I64(amt, e->amount);
	txn_sign(s, w->cmd);
	txn_obj_seq(&b->tx, txn_sql(s, DB_S_RULE, 12, p, NULL, NULL));
	if (e->tail_ends_at != 0 && e->kind != AUCTION_EV_PAUSED) {
		char te[TIME_BUF];
		const char *q[2] = { p[0], te };

		time_format(e->tail_ends_at, te);
		txn_sql(s, DB_S_TAIL_END, 2, q, NULL, NULL);
	}
	free(body);
}

/* tail: the main phase ended with a winner (fixed: bid and final price) and the tail opened. */
static void
ops_ev_tail(struct server *s, struct book *b, const struct auction_event *e)
{
	char id[24], t[TIME_BUF], te[TIME_BUF], wid[24], price[24], pr[24], lt[24], *body, *d = NULL;

	time_format(e->at, t);
	time_format(e->tail_ends_at, te);
	if (asprintf(&d, "{\"ends_at\":\"%s\",\"tail_ends_at\":\"%s\"}", t, te) < 0)
		d = NULL;
	body = ops_body(b, e->bid_id, &e->amount, d);
	{
		const char *p[8] = { I64(id, b->a.id), t, I64(wid, e->bid_id), I64(price, e->amount),
		    te, body ? body : "{}", PROC_OF(pr, b), LOT_OF(lt, b) };

		txn_obj_seq(&b->tx, txn_sql(s, DB_S_TAIL, 8, p, NULL, NULL));
	}
	free(d);
	free(body);
}

/* The fingerprint of a certificate of participant `pid` (an automatic bid's row names the
 * participant who set the proxy and one of its certificates), "" when none is loaded. */
static const char *
ops_participant_fp(struct server *s, int64_t pid)
{
	size_t it = 0;
	void *v;

	while (map_next(&s->certs, &it, NULL, NULL, &v)) {
		const struct cert *c = v;

		if (c->who != NULL && c->who->id == pid)
			return c->fp;
	}
	return "";
}

/* bid, placed by a proxy: the row of the participant who set it, marked automatic, without
 * a signed statement of its own (it was made on the signed proxy instruction). */
static void
ops_ev_autobid(struct server *s, struct book *b, const struct auction_event *e)
{
	char aid[24], bid[24], seq[24], pid[24], oid[24], amt[24], pr[24], lt[24], t[TIME_BUF];
	char best[40], amount[40], *detail = NULL;
	const struct auction_proxy *px = auction_proxy_of(&b->a, e->org);
	int64_t who = px ? px->ref : 0;

	time_format(e->at, t);
	money_format(e->best, b->exp, best, sizeof(best));
	money_format(e->amount, b->exp, amount, sizeof(amount));
	if (asprintf(&detail, "{\"auction\":%lld,\"bid\":%lld,\"amount\":\"%s\",\"seq\":%lld,"
	    "\"rank\":%d,\"best_price\":\"%s\",\"took_lead\":%s,\"auto\":true}",
	    (long long)b->a.id, (long long)e->bid_id, amount, (long long)e->seq, e->rank, best,
	    e->took_lead ? "true" : "false") < 0)
		detail = NULL;
	{
		const char *p[11] = { I64(bid, e->bid_id), I64(aid, b->a.id), I64(seq, e->seq),
		    I64(pid, who), I64(oid, e->org), ops_participant_fp(s, who), I64(amt, e->amount), t,
		    detail ? detail : "{}", PROC_OF(pr, b), LOT_OF(lt, b) };
		txn_obj_seq(&b->tx, txn_sql(s, DB_S_AUTOBID, 11, p, NULL, NULL));
	}
	free(detail);
	book_count_bids(b, e->org, 1);  /* counted as at start-up, where every bid is */
	log_info("auction=%lld bid=%lld organization=%lld amount=%s rank=%d automatic (proxy)",
	    (long long)b->a.id, (long long)e->bid_id, (long long)e->org, amount, e->rank);
}

/* proxy: a floor set (amount) or withdrawn (0); sealed until the auction is final, its body
 * salted (128 random bits) as a sealed offer's is, so that neither the receipt's content hash
 * nor a leaf hash lets anyone guess the floor. The instruction is signed like a bid, and its
 * receipt names this change. */
static void
ops_ev_proxy(struct server *s, struct book *b, const struct auction_event *e,
    const struct ops_actor *w)
{
	char id[24], pid[24], oid[24], fl[24], pr[24], lt[24], t[TIME_BUF], floor[40], *body = NULL;
	char salt[33];
	unsigned char r[16];
	const char *p[10];

	time_format(e->at, t);
	money_format(e->amount, b->exp, floor, sizeof(floor));
	salt[0] = '\0';
	if (RAND_bytes(r, sizeof(r)) == 1) {
		for (int i = 0; i < 16; i++)
			snprintf(salt + 2 * i, 3, "%02x", r[i]);
	}
	if (e->amount > 0 ? asprintf(&body, "{\"auction\":%lld,\"floor\":\"%s\",\"salt\":\"%s\"}",
	    (long long)b->a.id, floor, salt) < 0 : asprintf(&body,
	    "{\"auction\":%lld,\"floor\":null,\"salt\":\"%s\"}", (long long)b->a.id, salt) < 0)
		body = NULL;
	p[0] = I64(id, b->a.id);
	p[1] = t;
	p[2] = I64(pid, w->participant);
	p[3] = I64(oid, e->org);
	p[4] = w->fp;
	p[5] = e->amount > 0 ? I64(fl, e->amount) : NULL;
	p[6] = body ? body : "{}";
	p[7] = PROC_OF(pr, b);
	p[8] = LOT_OF(lt, b);
	p[9] = e->amount > 0 ? "proxy_set" : "proxy_withdrawn";
	txn_sign(s, w->cmd);
	txn_own_change(s, txn_obj_seq(&b->tx, txn_sql(s, DB_S_PROXY, 10, p, NULL, NULL)));
	free(body);
}

static void ops_events(struct server *s, struct book *b, const struct auction_events *ev,
    const struct ops_actor *w);

static void ops_stagger(struct server *s, struct book *b, int64_t at);

/* Run the proxies of a book after a change (the same command, the same batch): their
 * automatic bids join the batch behind it; returns how many. */
static int
ops_proxies(struct server *s, struct book *b, int64_t at)
{
	struct auction_events ev = { 0 };
	struct ops_actor none = { 0, 0, NULL, NULL, NULL, NULL, NULL };
	int n;

	if (b->a.nproxies == 0)
		return 0;
	n = auction_proxy_run(&b->a, at, &s->next_bid_id, &ev);
	ops_events(s, b, &ev, &none);
	/* an automatic bid that extended a lot moves the later lots as a bid by hand does */
	if (b->stagger_ms > 0 && auction_events_find(&ev, AUCTION_EV_EXTENDED) != NULL)
		ops_stagger(s, b, at);
	return n;
}

/*
 * The events of one engine call, in order: each adds its one statement to the
 * batch and its kind to what the watchers are told once the batch commits. A
 * closing auction that decides a procedure's lot reports its ranking there,
 * in the same batch.
 */
static void
ops_events(struct server *s, struct book *b, const struct auction_events *ev,
    const struct ops_actor *w)
{
	for (int i = 0; i < ev->n; i++) {
		const struct auction_event *e = &ev->ev[i];

		switch (e->kind) {
		case AUCTION_EV_STARTED:
			ops_ev_started(s, b, e);
			break;
		case AUCTION_EV_SEEDED:
			ops_ev_seeded(s, b, e, w);
			break;
		case AUCTION_EV_BID:
			if (e->automatic)
				ops_ev_autobid(s, b, e);
			else
				ops_ev_bid(s, b, e, w);
			break;
		case AUCTION_EV_PROXY:
			ops_ev_proxy(s, b, e, w);
			break;
		case AUCTION_EV_EXTENDED:
			ops_ev_extended(s, b, e);
			break;
		case AUCTION_EV_CLOSED:
			ops_ev_closed(s, b, e);
			break;
		case AUCTION_EV_CANCELLED:
			ops_ev_cancelled(s, b, e, w);
			break;
		case AUCTION_EV_PAUSED:
		case AUCTION_EV_RESUMED:
		case AUCTION_EV_PROLONGED:
			ops_ev_rule(s, b, e, w);
			break;
		case AUCTION_EV_TAIL:
			ops_ev_tail(s, b, e);
			break;
		}
		b->notify |= BOOK_N(e->kind);
		if (e->kind == AUCTION_EV_CLOSED && b->proc_id)
			s->lot_auction_closed(s, b);
	}
	if (ev->dropped)
		abort();  /* an event lost would leave memory and the database apart */
}

/* Move an auction along the clock to `at`, with what that changed. */
static void
ops_advance(struct server *s, struct book *b, int64_t at)
{
	struct auction_events ev = { 0 };
	struct ops_actor clock = { 0, 0, NULL, NULL, NULL, NULL, NULL };

	auction_advance(&b->a, at, &ev);
	ops_events(s, b, &ev, &clock);
}

/* The message of a bid a clock format refused, with the clock price of the moment. */
static void
ops_clock_refusal(const struct book *b, const struct cmd *k, enum auction_err e, char *msg,
    size_t n)
{
	struct auction_clock ck;
	char price[40], t[TIME_BUF];

	if (auction_clock(&b->a, k->t.at, k->t.who->org->id, &ck) < 0) {
		snprintf(msg, n, "%s", auction_err_message(e));
		return;
	}
	money_format(ck.price, b->exp, price, sizeof(price));
	time_format(ck.next_step_at, t);
	if (e == AUCTION_E_NOT_CLOCK_PRICE)
		snprintf(msg, n, "amount must be the clock price %s (until %s)", price, t);
	else if (e == AUCTION_E_DROPPED_OUT)
		snprintf(msg, n, "you did not confirm the price of round %lld in time (or never joined) and are out of "
		    "this auction (round %lld price %s)", (long long)ck.round, (long long)ck.round + 1,
		    price);
	else
		snprintf(msg, n, "you have already confirmed the round %lld price %s; the next "
		    "round starts at %s", (long long)ck.round + 1, price, t);
}

/* The message of a bid the second-place tail refused, with the final best and the tail's end. */
static void
ops_tail_refusal(const struct book *b, enum auction_err e, char *msg, size_t n)
{
	char best[40], t[TIME_BUF];

	money_format(auction_best(&b->a), b->exp, best, sizeof(best));
	time_format(b->a.tail_end, t);
	if (e == AUCTION_E_TAIL_WINNER)
		snprintf(msg, n, "you won with the final best price %s: the second-place tail (until "
		    "%s) is for the other bidders", best, t);
	else
		snprintf(msg, n, "in the second-place tail (until %s) the amount must not be %s the "
		    "final best price %s", t, e == AUCTION_E_BELOW_FINAL ? "below" : "above", best);
}

/* The message of a bid the rounds format refused: whose turn it is and when the bidder's
 * own is, or the bounds from its own price. */
static void
ops_rounds_refusal(const struct book *b, const struct cmd *k, enum auction_err e,
    const struct auction_bounds *bd, char *msg, size_t n)
{
	struct auction_rounds_view v;
	char t[TIME_BUF], yt[TIME_BUF] = "", lim[40], own[40], step[40];

	auction_rounds_at(&b->a, k->t.at, k->t.who->org->id, &v);
	time_format(v.phase_ends_at, t);
	if (v.your_turn_at >= 0)
		time_format(v.your_turn_at, yt);
	money_format(bd->own, b->exp, own, sizeof(own));
	switch (e) {
	case AUCTION_E_NOT_YOUR_TURN:
		snprintf(msg, n, "it is the turn of Participant %d until %s; %s%s", v.turn_alias, t,
		    yt[0] ? "your turn starts at " : "your turn in this round is over; the next "
		    "round's order is set at its start from the standings", yt);
		break;
	case AUCTION_E_ROUNDS_PAUSE:
		snprintf(msg, n, "no bids during the pause: round %lld starts at %s%s%s",
		    (long long)v.round + 1, t, yt[0] ? "; your turn starts at " : "", yt);
		break;
	case AUCTION_E_NOT_INITIAL:
		snprintf(msg, n, "only bidders who placed an initial bid (before the end of the "
		    "initial phase) take part in the rounds");
		break;
	case AUCTION_E_TURN_USED:
		snprintf(msg, n, "you have already bid in this turn (it ends at %s)", t);
		break;
	case AUCTION_E_TOO_MANY_BIDDERS:
		snprintf(msg, n, "the auction has %d bidders, the most a rounds auction takes",
		    AUCTION_ROUNDS_MAX_BIDDERS);
		break;
	default:
		money_format(e == AUCTION_E_OWN_STEP_SMALL ? bd->lead_max : bd->lead_min, b->exp, lim,
		    sizeof(lim));
		money_format(e == AUCTION_E_OWN_STEP_SMALL ? b->a.p.step_min : b->a.p.step_max,
		    b->exp, step, sizeof(step));
		snprintf(msg, n, "amount must be %s %s (your price %s minus %s step %s)",
		    e == AUCTION_E_OWN_STEP_SMALL ? "at most" : "at least", lim, own,
		    e == AUCTION_E_OWN_STEP_SMALL ? "minimum" : "maximum", step);
		break;
	}
}

/*
 * The message of a refused bid: what would have been accepted, with amounts as
 * decimal strings and times in RFC 3339 ("amount must be at most 945000.00
 * (best 950000.00 minus step 5000.00)").
 */
static void ops_bid_step_refusal(const struct book *b, enum auction_err e,
    const struct auction_bounds *bd, const char *refname, const char *ref, char *msg, size_t n);

/* The message of a bid refused during an outage pause (since `since`). */
static void
ops_outage_refusal(const struct book *b, const char *since, char *msg, size_t n)
{
	char by[TIME_BUF], lost[48] = "";

	time_format(auction_outage_deadline(&b->outage, b->outage_at), by);
	if (b->outage_lost > 0)
		snprintf(lost, sizeof(lost), " (%d of %d bidders lost)", b->outage_lost,
		    b->outage_bidders);
	snprintf(msg, n, "the auction is paused since %s: connection outage%s; it resumes when "
	    "they are back, at the latest at %s, with the paused time given back", since, lost, by);
}

static void
ops_bid_refusal(const struct book *b, const struct cmd *k, enum auction_err e, char *msg,
    size_t n)
{
	const struct auction *a = &b->a;
	const struct auction_format *fm = auction_format_of(a);
	struct auction_bounds bd;
	char ref[40], own[40], lim[40], step[40], t[TIME_BUF];
	const char *refname;

	auction_bounds(a, k->t.who->org->id, &bd);
	refname = bd.best_is_start ? "start price" : "best";
	money_format(bd.reference, b->exp, ref, sizeof(ref));
	money_format(bd.own, b->exp, own, sizeof(own));
	switch (e) {
	case AUCTION_E_NOT_STARTED:
		time_format(a->p.starts_at, t);
		snprintf(msg, n, "the auction starts at %s", t);
		break;
	case AUCTION_E_ENDED:
		time_format(a->state == AUCTION_CLOSED ? a->closed_at : auction_close_at(a), t);
		snprintf(msg, n, "the auction ended at %s", t);
		break;
	case AUCTION_E_CANCELLED:
		time_format(a->closed_at, t);
		snprintf(msg, n, "the auction was cancelled at %s", t);
		break;
	case AUCTION_E_PAUSED:
		time_format(a->paused_at, t);
		if (book_outage_paused(b)) {
			ops_outage_refusal(b, t, msg, n);
			break;
		}
		snprintf(msg, n, "the auction is paused since %s: no bids until an operator resumes it",
		    t);
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
	case AUCTION_E_NOT_ABOVE_START:
		money_format(a->p.start_price, b->exp, lim, sizeof(lim));
		snprintf(msg, n, "amount must be above the start price %s", lim);
		break;
	case AUCTION_E_NOT_BELOW_OWN:
		snprintf(msg, n, "amount must be below your previous bid %s", own);
		break;
	case AUCTION_E_NOT_ABOVE_OWN:
		snprintf(msg, n, "amount must be above your previous bid %s", own);
		break;
	case AUCTION_E_WHILE_LEADING:
		snprintf(msg, n, "you hold the best price %s and may not %s it", own, fm->improve_word);
		break;
	case AUCTION_E_STEP_TOO_SMALL:
	case AUCTION_E_STEP_TOO_LARGE:
		if (book_sees_best(b, k->t.who)) {
			ops_bid_step_refusal(b, e, &bd, refname, ref, msg, n);
			break;
		}
		/* visibility rank: the message must not tell the best price */
		money_format(e == AUCTION_E_STEP_TOO_SMALL ? a->p.step_min : a->p.step_max, b->exp,
		    step, sizeof(step));
		snprintf(msg, n, "amount must improve the best price by %s the %s step %s",
		    e == AUCTION_E_STEP_TOO_SMALL ? "at least" : "at most",
		    e == AUCTION_E_STEP_TOO_SMALL ? "minimum" : "maximum", step);
		break;
	case AUCTION_E_NOT_CLOCK_PRICE:
	case AUCTION_E_DROPPED_OUT:
	case AUCTION_E_CONFIRMED:
		ops_clock_refusal(b, k, e, msg, n);
		break;
	case AUCTION_E_TAIL_WINNER:
	case AUCTION_E_BELOW_FINAL:
	case AUCTION_E_ABOVE_FINAL:
		ops_tail_refusal(b, e, msg, n);
		break;
	case AUCTION_E_NOT_YOUR_TURN:
	case AUCTION_E_ROUNDS_PAUSE:
	case AUCTION_E_NOT_INITIAL:
	case AUCTION_E_TURN_USED:
	case AUCTION_E_OWN_STEP_SMALL:
	case AUCTION_E_OWN_STEP_LARGE:
	case AUCTION_E_TOO_MANY_BIDDERS:
		ops_rounds_refusal(b, k, e, &bd, msg, n);
		break;
	default:
		snprintf(msg, n, "%s", auction_err_message(e));
		break;
	}
}

/* The message of a refused step, naming the reference (the best or the start price). */
static void
ops_bid_step_refusal(const struct book *b, enum auction_err e, const struct auction_bounds *bd,
    const char *refname, const char *ref, char *msg, size_t n)
{
	const struct auction *a = &b->a;
	const struct auction_format *fm = auction_format_of(a);
	char lim[40], step[40];

	switch (e) {
	case AUCTION_E_STEP_TOO_SMALL:
		money_format(bd->lead_near, b->exp, lim, sizeof(lim));
		money_format(a->p.step_min, b->exp, step, sizeof(step));
		snprintf(msg, n, "amount must be %s %s (%s %s %s step %s)", fm->near_word, lim, refname,
		    ref, fm->step_word, step);
		break;
	default:
		money_format(bd->lead_far, b->exp, lim, sizeof(lim));
		money_format(a->p.step_max, b->exp, step, sizeof(step));
		snprintf(msg, n, "amount must be %s %s (%s %s %s maximum step %s)", fm->far_word, lim,
		    refname, ref, fm->step_word, step);
		break;
	}
}

static void ops_stagger(struct server *s, struct book *b, int64_t at);

/* Whether `k`'s organization may act as a bidder in auction `b` (NULL: none): the auction
 * exists, a tender's auction admitted it, and it has not placed max_bids_per_bidder `what`
 * ("bids") in it; else the command is refused (0). */
static int
ops_bidder_may(struct server *s, struct cmd *k, const struct book *b, const char *what)
{
	char msg[200];

	if (b == NULL) {
		txn_refuse(s, &k->t, "not_found", "no such auction");
		return 0;
	}
	if (b->proc_id && auction_entry_of(&b->a, k->t.who->org->id) == NULL) {
		txn_refuse(s, &k->t, "not_admitted", "only the bidders admitted by the tender take part "
		    "in this auction");
		return 0;
	}
	if (book_bids_of(b, k->t.who->org->id) >= s->cfg.max_bids_per_bidder) {
		snprintf(msg, sizeof(msg), "max_bids_per_bidder (%ld) reached: this organization has "
		    "placed as many %s in this auction as allowed", s->cfg.max_bids_per_bidder, what);
		txn_refuse(s, &k->t, "limit_exceeded", msg);
		return 0;
	}
	return 1;
}

/* Apply a bid: the engine decides; accepted bids join the batch. */
static int
ops_apply_bid(struct server *s, struct txn_cmd *tc)
{
	struct cmd *k = (struct cmd *)tc;
	struct book *b = book_get(s, k->auction_id);
	char aid[24], pid[24], oid[24], amt[24], t[TIME_BUF], msg[200], salt[BOOK_SALT_HEX + 1];
	struct auction_events ev = { 0 };
	struct ops_actor w = ops_actor_of(k);
	const struct auction_event *be;
	enum auction_err e;

	/* Accepted and refused bids are both recorded: beyond the limit, neither is. */
	if (!ops_bidder_may(s, k, b, "bids"))
		return 0;
	/* a sealed bid's salt, drawn before anything changes: without one it is refused */
	if (auction_format_of(&b->a)->sealed && ops_salt(salt) < 0) {
		txn_refuse(s, &k->t, "internal", "no random bytes for the seal");
		return 0;
	}
	w.salt = auction_format_of(&b->a)->sealed ? salt : NULL;
	k->bid_counted = book_count_bids(b, k->t.who->org->id, 1) == 0;
	ops_touch(s, b);
	k->bid_id = s->next_bid_id;
	e = auction_bid(&b->a, k->bid_id, k->t.who->org->id, k->amount, k->t.at, &ev);
	ops_events(s, b, &ev, &w);
	if (e != AUCTION_OK) {
		char reason[64], pr[24], lt[24], *body;
		/* a refused sealed bid's row names no price: its leaf would not be salted */
		int hide = auction_format_of(&b->a)->sealed;
		snprintf(reason, sizeof(reason), "{\"reason\":\"%s\"}", auction_err_code(e));
		body = ops_body(b, 0, hide ? NULL : &k->amount, reason);
		const char *p[10] = { I64(aid, b->a.id), t, I64(pid, k->t.who->id),
		    I64(oid, k->t.who->org->id), k->t.fp, hide ? NULL : I64(amt, k->amount),
		    auction_err_code(e),
		    body ? body : "{}", PROC_OF(pr, b), LOT_OF(lt, b) };
		time_format(k->t.at, t);
		txn_sign(s, &k->t);
		txn_obj_seq(&b->tx, txn_sql(s, DB_S_REFUSED, 10, p, NULL, NULL));
		free(body);
		ops_bid_refusal(b, k, e, msg, sizeof(msg));
		log_debug("auction=%lld participant=%lld bid refused: %s", (long long)b->a.id,
		    (long long)k->t.who->id, auction_err_code(e));
		/* answered when the batch commits: the refusal may rest on a bid of this
		 * batch, which could still roll back */
		k->t.reply = proto_error(k->t.id, auction_err_code(e), msg, NULL);
		return 1;
	}
	s->next_bid_id++;
	if ((be = auction_events_find(&ev, AUCTION_EV_BID)) != NULL)
		k->res = *be;
	k->extended = auction_events_find(&ev, AUCTION_EV_EXTENDED) != NULL;
	k->auto_bids = ops_proxies(s, b, k->t.at);  /* the proxies answer in the same batch */
	if (k->extended && b->stagger_ms > 0)
		ops_stagger(s, b, k->t.at);
	return 1;
}

/* Apply a clock tick: start or close the auction when due (nothing to answer). */
static int
ops_apply_tick(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	struct book *b = book_get(s, k->auction_id);
	int64_t due;

	if (b == NULL)
		return 0;
	b->tick_queued = 0;
	due = auction_next_deadline(&b->a);
	if (due < 0 || due > k->t.at) {
		/* extended meanwhile, or the timer fired early: wait for the deadline again */
		book_arm(s, b);
		return 0;
	}
	ops_touch(s, b);
	ops_advance(s, b, k->t.at);
	return 0;
}

/* The format and extension limits in a created change's body, when not the defaults. */
static void
ops_format_detail(json_t *dj, const struct auction *a)
{
	if (auction_format_is_default(a))
		return;
	json_object_set_new(dj, "format", json_string(auction_format_of(a)->name));
	if (a->p.max_extensions)
		json_object_set_new(dj, "max_extensions", json_integer(a->p.max_extensions));
	if (a->p.latest_end)
		json_object_set_new(dj, "latest_end", proto_time(a->p.latest_end));
	if (a->p.clock_step) {
		json_object_set_new(dj, "clock_step", json_integer(a->p.clock_step));
		json_object_set_new(dj, "clock_interval", json_integer(a->p.clock_interval));
		json_object_set_new(dj, "clock_limit", json_integer(a->p.clock_limit));
	}
	if (auction_format_of(a) == &auction_rounds) {
		json_object_set_new(dj, "initial_ms", json_integer(a->p.rounds_initial));
		json_object_set_new(dj, "pause_ms", json_integer(a->p.rounds_pause));
		json_object_set_new(dj, "rounds", json_integer(a->p.rounds_count));
		json_object_set_new(dj, "turn_ms", json_integer(a->p.rounds_turn));
		json_object_set_new(dj, "round_pause_ms", json_integer(a->p.rounds_round_pause));
	}
}

/* Store the format and extension limits of a new auction when they are not the defaults. */
static void
ops_store_format(struct server *s, const struct book *b)
{
	const struct auction_params *ap = &b->a.p;
	const struct auction_format *fm = auction_format_of(&b->a);
	char id[24], mx[24], t[TIME_BUF];
	const char *p[5];

	if (auction_format_is_default(&b->a))
		return;
	if (ap->latest_end)
		time_format(ap->latest_end, t);
	p[0] = I64(id, b->a.id);
	p[1] = fm->name;
	p[2] = fm->higher_wins ? "true" : "false";
	p[3] = ap->max_extensions ? I64(mx, ap->max_extensions) : NULL;
	p[4] = ap->latest_end ? t : NULL;
	txn_sql(s, DB_S_FORMAT, 5, p, NULL, NULL);
	if (ap->clock_step) {
		char st[24], iv[24], lm[24];
		const char *q[4] = { id, I64(st, ap->clock_step), I64(iv, ap->clock_interval),
		    I64(lm, ap->clock_limit) };

		txn_sql(s, DB_S_CLOCK, 4, q, NULL, NULL);
	}
	if (fm->sealed) {
		const char *q[1] = { id };

		txn_sql(s, DB_S_SEALED, 1, q, NULL, NULL);
	}
	if (fm == &auction_rounds) {
		char in[24], pa[24], rc[24], tu[24], rp[24];
		const char *q[6] = { id, I64(in, ap->rounds_initial), I64(pa, ap->rounds_pause),
		    I64(rc, ap->rounds_count), I64(tu, ap->rounds_turn),
		    I64(rp, ap->rounds_round_pause) };

		txn_sql(s, DB_S_ROUNDS, 6, q, NULL, NULL);
	}
}

/* The rules of every format (visibility, invited, min_bidders) in a created change's body,
 * when not the defaults. */
static void
ops_rules_detail(json_t *dj, const struct auction *a)
{
	if (a->p.visibility != AUCTION_VIS_RANK_AND_BEST)
		json_object_set_new(dj, "visibility",
		    json_string(auction_visibility_name(a->p.visibility)));
	if (a->p.ninvited > 0) {
		json_t *arr = json_array();

		for (size_t i = 0; i < a->p.ninvited; i++)
			json_array_append_new(arr, json_integer(a->p.invited[i]));
		json_object_set_new(dj, "invited", arr);
	}
	if (a->p.min_bidders > 0)
		json_object_set_new(dj, "min_bidders", json_integer(a->p.min_bidders));
}

/* Store the rules of every format of a new auction when they are not the defaults. */
static void
ops_store_rules(struct server *s, const struct book *b)
{
	char id[24], mb[24], *inv = NULL;
	const char *p[4];
	size_t n = b->a.p.ninvited, len = 0;

	if (b->a.p.visibility == AUCTION_VIS_RANK_AND_BEST && n == 0 && b->a.p.min_bidders == 0)
		return;
	if (n > 0 && (inv = malloc(n * 21 + 1)) != NULL) {
		for (size_t i = 0; i < n; i++)
			len += (size_t)sprintf(inv + len, "%s%lld", i ? "," : "",
			    (long long)b->a.p.invited[i]);
	}
	p[0] = I64(id, b->a.id);
	p[1] = auction_visibility_name(b->a.p.visibility);
	p[2] = inv;
	p[3] = b->a.p.min_bidders ? I64(mb, b->a.p.min_bidders) : NULL;
	txn_sql(s, DB_S_RULES, 4, p, NULL, NULL);
	free(inv);
}

/* Outage pause: the rule in a created change's body, when the auction has one. */
static void
ops_outage_detail(json_t *dj, const struct book *b)
{
	if (b->outage.share <= 0)
		return;
	json_object_set_new(dj, "outage_share", json_integer(b->outage.share));
	json_object_set_new(dj, "outage_window", json_integer(b->outage.window / 1000));
	json_object_set_new(dj, "outage_max_pause", json_integer(b->outage.max_pause / 1000));
	json_object_set_new(dj, "outage_min_bidders", json_integer(b->outage.min_bidders));
}

/* Outage pause: store the rule of a new auction when it has one. */
static void
ops_store_outage(struct server *s, const struct book *b)
{
	char id[24], sh[24], w[24], mp[24], mb[24];
	const char *p[5];

	if (b->outage.share <= 0)
		return;
	p[0] = I64(id, b->a.id);
	p[1] = I64(sh, b->outage.share);
	p[2] = I64(w, b->outage.window);
	p[3] = I64(mp, b->outage.max_pause);
	p[4] = I64(mb, b->outage.min_bidders);
	txn_sql(s, DB_S_OUTAGE, 5, p, NULL, NULL);
}

static int ops_apply_create_proc(struct server *s, struct cmd *k, int64_t proc_id, int64_t lot_id);
static int ops_apply_create_lots(struct server *s, struct cmd *k);

/* Apply a creation: the book exists from now on, removed if the batch fails. */
static int
ops_apply_create(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;

	return k->nlots > 0 ? ops_apply_create_lots(s, k) : ops_apply_create_proc(s, k, 0, 0);
}

/* Multi-lot auctions: a lot's place in its event, on its new book; 0 or -1. */
static int
ops_lot_set(struct book *b, const struct cmd *k)
{
	b->event_id = k->event_id;
	b->lot_no = k->lot_no;
	b->lot_count = k->nlots;
	b->stagger_ms = k->stagger_ms;
	b->event_title = strdup(k->event_title);
	return b->event_title ? 0 : -1;
}

/* Multi-lot auctions: the event and lot in a created change's body. */
static void
ops_lot_detail(json_t *dj, const struct book *b)
{
	if (b->lot_count <= 0)
		return;
	json_object_set_new(dj, "event", json_pack("{s:I, s:s, s:i, s:s, s:I}", "id",
	    (json_int_t)b->event_id, "title", b->event_title, "lot_count", b->lot_count,
	    "lot_closing", b->stagger_ms > 0 ? "staggered" : "parallel", "stagger",
	    (json_int_t)(b->stagger_ms / 1000)));
	json_object_set_new(dj, "lot", json_integer(b->lot_no));
}

/* Multi-lot auctions: store a new lot's place in its event. */
static void
ops_store_lot(struct server *s, const struct book *b)
{
	char id[24], ev[24], no[24], cnt[24], st[24];
	const char *p[7];

	if (b->lot_count <= 0)
		return;
	p[0] = I64(id, b->a.id);
	p[1] = I64(ev, b->event_id);
	p[2] = I64(no, b->lot_no);
	p[3] = I64(cnt, b->lot_count);
	p[4] = b->event_title;
	p[5] = b->stagger_ms > 0 ? "staggered" : "parallel";
	p[6] = I64(st, b->stagger_ms);
	txn_sql(s, DB_S_LOT, 7, p, NULL, NULL);
}

static long ops_open_auctions_of(struct server *s, int64_t buyer_org);

/*
 * Multi-lot auctions: apply the creation of an event, every lot an auction of its own with
 * consecutive ids, in this one command: all lots or none. The limit is checked for them all
 * first; each lot's creation then cannot be refused but for memory, which would leave a
 * part of the event in the batch: that is a broken invariant.
 */
static int
ops_apply_create_lots(struct server *s, struct cmd *k)
{
	char *event_title = k->title;
	struct book *first = NULL;
	char msg[256];

	if (ops_open_auctions_of(s, k->params.buyer_org) + k->nlots >
	    s->cfg.max_open_auctions_per_buyer) {
		snprintf(msg, sizeof(msg), "max_open_auctions_per_buyer (%ld) reached: the %d lots "
		    "would give this buyer organization more scheduled or running auctions than "
		    "allowed (every lot is an auction)", s->cfg.max_open_auctions_per_buyer, k->nlots);
		txn_refuse(s, &k->t, "limit_exceeded", msg);
		return 0;
	}
	k->event_id = s->next_auction_id;
	for (int i = 0; i < k->nlots; i++) {
		const struct ops_lot *l = &k->lots[i];

		k->lot_no = i + 1;
		k->title = l->title;
		k->params = l->p;
		k->smin_pct = l->smin_pct;
		k->smax_pct = l->smax_pct;
		k->smin_val = l->smin_val;
		k->smax_val = l->smax_val;
		if (!ops_apply_create_proc(s, k, 0, 0)) {
			k->title = event_title;
			if (i == 0)
				return 0;
			abort();  /* a part of the event would commit: an invariant would break */
		}
		if (i == 0)
			first = k->book;
	}
	k->title = event_title;
	k->book = first;
	k->auction_id = first->a.id;
	return 1;
}

/*
 * Multi-lot auctions, staggered closing: lot `b` was extended by a bid at `at`; every later
 * lot of its event that would now close less than the stagger after the lot before it moves
 * so that it closes exactly that long after (an auction_prolong with the reason stagger, in
 * the same batch as the bid; watchers are told auction.update with reason stagger). A lot
 * that need not move leaves the later ones where they are: they already keep the stagger.
 */
static void
ops_stagger(struct server *s, struct book *b, int64_t at)
{
	struct ops_actor w = { 0, 0, NULL, "stagger", NULL, NULL, NULL };
	const struct book *prev = b;

	for (int n = b->lot_no + 1; n <= b->lot_count; n++) {
		struct book *l = book_get(s, b->event_id + n - 1);
		struct auction_events ev = { 0 };
		int moved;

		if (l == NULL || l->event_id != b->event_id || l->lot_no != n)
			break;
		if (l->a.state == AUCTION_CANCELLED)
			continue;  /* the next lot keeps its stagger after `prev` */
		ops_touch(s, l);
		moved = auction_stagger(&l->a, &prev->a, b->stagger_ms, at, &ev);
		ops_events(s, l, &ev, &w);
		if (moved == 0)
			break;
		if (moved < 0)
			continue;  /* it cannot move (no longer running): the next one follows `prev` */
		l->notify |= BOOK_N_STAGGER;
		prev = l;
	}
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
	struct auction_events ev = { 0 };
	struct ops_actor w = ops_actor_of(k);
	json_t *dj;

	if (proc_id == 0 && ops_open_auctions_of(s, k->params.buyer_org) >=
	    s->cfg.max_open_auctions_per_buyer) {
		char msg[256];
		snprintf(msg, sizeof(msg), "max_open_auctions_per_buyer (%ld) reached: this buyer "
		    "organization has as many scheduled or running auctions as allowed",
		    s->cfg.max_open_auctions_per_buyer);
		txn_refuse(s, &k->t, "limit_exceeded", msg);
		return 0;
	}
	b = calloc(1, sizeof(*b));
	time_format(k->params.starts_at, st);
	if (b == NULL || (b->title = strdup(k->title)) == NULL) {
		free(b);
		txn_refuse(s, &k->t, "internal", "out of memory");
		return 0;
	}
	auction_init(&b->a, s->next_auction_id++, &k->params);
	b->srv = s;
	if (book_set_invited(b, k->params.invited, k->params.ninvited) < 0) {
		free(b->title);
		free(b);
		s->next_auction_id--;
		txn_refuse(s, &k->t, "internal", "out of memory");
		return 0;
	}
	b->buyer_participant = k->t.who->id;
	memcpy(b->currency, k->currency, sizeof(b->currency));
	b->exp = k->exp;
	b->step_min_percent = k->smin_pct;
	b->step_max_percent = k->smax_pct;
	b->step_min_value = k->smin_val;
	b->step_max_value = k->smax_val;
	b->created_at = k->t.at;
	txn_obj_init(&b->tx, &book_txn);
	b->proc_id = proc_id;
	b->lot_id = (int)lot_id;
	b->unsigned_bids = k->unsigned_bids;
	if (k->lot_no > 0 && ops_lot_set(b, k) < 0) {
		book_free(b);
		txn_refuse(s, &k->t, "internal", "out of memory");
		return 0;
	}
	b->outage = k->outage;
	if (map_put(&s->books, b->a.id, b) < 0) {
		book_free(b);
		txn_refuse(s, &k->t, "internal", "out of memory");
		return 0;
	}
	if (txn_created(s, &b->tx) < 0)
		abort();  /* cannot track a rollback: an invariant would break */
	k->book = b;
	k->auction_id = b->a.id;
	/* starts now when starts_at is not in the future; a procedure's auction is first
	 * seeded with the tender prices (ops_open_auction advances it after that) */
	if (proc_id == 0)
		auction_advance(&b->a, k->t.at, &ev);
	time_format(k->params.ends_at, en);
	time_format(k->t.at, now);
	dj = json_pack("{s:I, s:s, s:s, s:s}", "auction", (json_int_t)b->a.id, "title", k->title,
	    "currency", k->currency, "starts_at", st);
	if (k->unsigned_bids)
		json_object_set_new(dj, "signed_bids", json_false());
	ops_format_detail(dj, &b->a);
	ops_rules_detail(dj, &b->a);
	if (b->a.p.tail > 0)  /* second-place tail */
		json_object_set_new(dj, "tail", json_integer(b->a.p.tail / 1000));
	ops_lot_detail(dj, b);
	ops_outage_detail(dj, b);
	detail = json_dumps(dj, JSON_COMPACT);
	json_decref(dj);
	{
		const char *p[22] = { I64(id, b->a.id), I64(bp, k->t.who->id), I64(bo, k->t.who->org->id),
		    k->title, k->currency, I64(exp, k->exp), I64(sp, k->params.start_price),
		    k->smin_pct ? "true" : "false", I64(smv, k->smin_val), I64(sma, k->params.step_min),
		    k->smax_pct ? "true" : "false", I64(sxv, k->smax_val), I64(sxa, k->params.step_max),
		    st, en, I64(ew, k->params.ext_window), I64(el, k->params.ext_length), now, k->t.fp,
		    detail ? detail : "{}", proc_id ? I64(pr, proc_id) : NULL,
		    proc_id ? I64(lt, lot_id) : NULL };
		txn_sign(s, &k->t);
		txn_obj_seq(&b->tx, txn_sql(s, DB_S_CREATE, 22, p, NULL, NULL));
		if (k->unsigned_bids)
			txn_sql(s, DB_S_UNSIGNED, 1, p, NULL, NULL);
		ops_store_format(s, b);
		ops_store_rules(s, b);
		if (k->params.tail > 0) {
			char tl[24];
			const char *q[2] = { p[0], I64(tl, k->params.tail) };

			txn_sql(s, DB_S_TAIL_MS, 2, q, NULL, NULL);
		}
		ops_store_lot(s, b);
		ops_store_outage(s, b);
	}
	free(detail);
	ops_events(s, b, &ev, &w);  /* after the row they refer to */
	return 1;
}

/* Apply a cancellation (an auction whose end has passed closes instead, refused). */
static int
ops_apply_cancel(struct server *s, struct txn_cmd *tc)
{
	struct cmd *k = (struct cmd *)tc;
	struct book *b = book_get(s, k->auction_id);
	struct auction_events ev = { 0 };
	struct ops_actor w = ops_actor_of(k);
	int rc;

	if (b == NULL) {
		txn_refuse(s, &k->t, "not_found", "no such auction");
		return 0;
	}
	ops_touch(s, b);
	rc = auction_cancel(&b->a, k->t.at, &ev);
	ops_events(s, b, &ev, &w);
	if (rc < 0) {
		txn_refuse(s, &k->t, "bad_state", "the auction is already closed or cancelled");
		return 0;
	}
	k->book = b;
	return 1;
}

/* Apply an operator's pause, resume or extension: the engine decides. */
static int
ops_apply_rule(struct server *s, struct txn_cmd *tc)
{
	struct cmd *k = (struct cmd *)tc;
	struct book *b = book_get(s, k->auction_id);
	struct auction_events ev = { 0 };
	struct ops_actor w = ops_actor_of(k);
	enum auction_err e;
	char msg[160];

	if (b == NULL) {
		txn_refuse(s, &k->t, "not_found", "no such auction");
		return 0;
	}
	ops_touch(s, b);
	if (k->rule == OPTAB_ARG_PAUSE)
		e = auction_pause(&b->a, k->t.at, &ev);
	else if (k->rule == OPTAB_ARG_RESUME)
		e = auction_resume(&b->a, k->t.at, &ev);
	else
		e = auction_prolong(&b->a, k->t.at, k->amount, &ev);
	ops_events(s, b, &ev, &w);
	if (e != AUCTION_OK) {
		snprintf(msg, sizeof(msg), "%s", e == AUCTION_E_PAUSED ? "the auction is already "
		    "paused" : e == AUCTION_E_NOT_PAUSED ? "the auction is not paused" :
		    e == AUCTION_E_NOT_STARTED ? "the auction has not started" :
		    e == AUCTION_E_ENDED ? "the auction has ended" :
		    e == AUCTION_E_CLOCK_RULE ? "a clock auction cannot be paused, resumed or extended: "
		    "its price moves with the time; cancel it instead" :
		    e == AUCTION_E_ROUNDS_RULE ? "a rounds auction cannot be paused, resumed or "
		    "extended: its turns follow from its start and the time; cancel it instead" :
		    "the auction was cancelled");
		txn_refuse(s, &k->t, auction_err_code(e), msg);
		return 0;
	}
	if (k->rule == OPTAB_ARG_RESUME)
		ops_proxies(s, b, k->t.at);  /* proxies set while paused bid now */
	k->book = b;
	return 1;
}

/* The message of a refused proxy instruction. */
static const char *
ops_proxy_refusal(enum auction_err e)
{
	switch (e) {
	case AUCTION_E_PROXY_CLOCK:
		return "a clock auction takes no proxy: its price moves with the time; bid the clock "
		    "price yourself";
	case AUCTION_E_NO_PROXY:
		return "you have no proxy in this auction";
	case AUCTION_E_PROXY_FORMAT:
		return "proxy bidding is for the english formats (english_reverse, english_forward): a "
		    "sealed-bid or rounds auction takes each price from the bidder itself";
	case AUCTION_E_NOT_STARTED:
		return "the auction has not started: a proxy may be set once it runs";
	case AUCTION_E_ENDED:
		return "the auction has ended";
	case AUCTION_E_CANCELLED:
		return "the auction was cancelled";
	case AUCTION_E_OWN_AUCTION:
		return "the buyer's organization cannot bid in its own auction";
	case AUCTION_E_NOT_POSITIVE:
		return "floor must be above 0";
	case AUCTION_E_NOT_BELOW_START:
		return "floor must be below the start price: a proxy bids below it";
	case AUCTION_E_NOT_ABOVE_START:
		return "floor must be above the start price: a proxy bids above it";
	default:
		return auction_err_message(e);
	}
}

/* Apply a proxy instruction (set or withdraw a floor), then run the proxies: setting one
 * may bid at once, in the same batch. */
static int
ops_apply_proxy(struct server *s, struct txn_cmd *tc)
{
	struct cmd *k = (struct cmd *)tc;
	struct book *b = book_get(s, k->auction_id);
	struct auction_events ev = { 0 };
	struct ops_actor w = ops_actor_of(k);
	enum auction_err e;

	/* an instruction counts towards max_bids_per_bidder as a bid does */
	if (!ops_bidder_may(s, k, b, "bids and proxy instructions"))
		return 0;
	ops_touch(s, b);
	if (k->amount > 0)
		e = auction_proxy_set(&b->a, k->t.who->org->id, k->amount, k->t.who->id, k->t.at, &ev);
	else
		e = auction_proxy_withdraw(&b->a, k->t.who->org->id, k->t.at, &ev);
	ops_events(s, b, &ev, &w);
	if (e != AUCTION_OK) {
		txn_refuse(s, &k->t, e == AUCTION_E_NOT_INVITED ? "not_found" : auction_err_code(e),
		    e == AUCTION_E_NOT_INVITED ? "no such auction" : ops_proxy_refusal(e));
		return 0;
	}
	k->bid_counted = book_count_bids(b, k->t.who->org->id, 1) == 0;
	k->auto_bids = ops_proxies(s, b, k->t.at);
	k->book = b;
	return 1;
}

/* A proxy instruction committed: the floor, the automatic bids it placed at once, and the
 * auction as the supplier sees it. */
static void
ops_commit_proxy(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	json_t *r = proto_ok(t->id);

	json_object_set_new(r, "proxy", json_pack("{s:o, s:i}", "floor", k->amount > 0 ?
	    proto_money(k->amount, k->book->exp) : json_null(), "auto_bids", k->auto_bids));
	json_object_set_new(r, "auction", book_view(s, k->book, t->who, 1));
	txn_reply(s, t, r);
	log_info("auction=%lld proxy %s by participant=%lld (%d automatic bids)",
	    (long long)k->auction_id, k->amount > 0 ? "set" : "withdrawn", (long long)t->who->id,
	    k->auto_bids);
}

/* A pause, resume or extension committed: the auction as the operator sees it. */
static void
ops_commit_rule(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	json_t *r = proto_ok(t->id);

	json_object_set_new(r, "auction", book_view(s, k->book, t->who, 1));
	txn_reply(s, t, r);
	log_info("auction=%lld %s by participant=%lld: %s", (long long)k->auction_id,
	    k->rule == OPTAB_ARG_PAUSE ? "paused" : k->rule == OPTAB_ARG_RESUME ? "resumed" :
	    "prolonged", (long long)t->who->id, k->reason);
}

/* The words of an outage command, for its change and its log line. */
static const char *
ops_outage_word(int what)
{
	return what == OUTAGE_PAUSE ? "pause" : what == OUTAGE_BACK ? "bidders_back" : "max_pause";
}

/*
 * Apply the clock's outage pause or its end (presence.c queued it). A pause is applied only
 * while the losses are still an outage and nothing else paused the auction; an end only
 * while that outage pause is in effect (an operator may have resumed it). Either is an
 * auction change without an actor (the clock), with reason "outage".
 */
static int
ops_apply_outage(struct server *s, struct txn_cmd *tc)
{
	struct cmd *k = (struct cmd *)tc;
	struct book *b = book_get(s, k->auction_id);
	struct auction_events ev = { 0 };
	struct ops_actor w = { 0, 0, NULL, "outage", NULL, NULL, NULL };
	enum auction_err e;

	if (b == NULL)
		return 0;
	b->outage_queued = 0;
	if (k->outage_what == OUTAGE_PAUSE) {
		if (!presence_outage_mark(s, b, k->t.at, &k->outage_bidders, &k->outage_lost))
			return 0;
		w.extra = json_pack("{s:s, s:i, s:i, s:I}", "outage", "pause", "lost",
		    k->outage_lost, "bidders", k->outage_bidders, "window_s",
		    (json_int_t)(b->outage.window / 1000));
	} else {
		if (!book_outage_paused(b))
			return 0;
		w.extra = json_pack("{s:s}", "outage", ops_outage_word(k->outage_what));
	}
	ops_touch(s, b);
	e = k->outage_what == OUTAGE_PAUSE ? auction_pause(&b->a, k->t.at, &ev) :
	    auction_resume(&b->a, k->t.at, &ev);
	ops_events(s, b, &ev, &w);
	json_decref(w.extra);
	if (e != AUCTION_OK)
		return 0;
	if (k->outage_what == OUTAGE_PAUSE) {
		b->outage_at = k->t.at;
		b->outage_lost = k->outage_lost;
		b->outage_bidders = k->outage_bidders;
		presence_outage_paused(s, b);
	}
	k->book = b;
	return 1;
}

/* An outage pause or its end committed: logged and counted. */
static void
ops_commit_outage(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;

	(void)s;
	if (k->outage_what == OUTAGE_PAUSE) {
		metrics_outage_pause();
		log_warn("auction=%lld paused: connection outage, %d of %d bidders lost",
		    (long long)k->auction_id, k->outage_lost, k->outage_bidders);
	} else {
		log_info("auction=%lld resumed after a connection outage (%s), ends_at moved by "
		    "the pause", (long long)k->auction_id, ops_outage_word(k->outage_what));
	}
}

/* An outage command dropped (the database went away): it may be queued again. */
static void
ops_outage_abort(struct server *s, struct txn_cmd *t)
{
	struct book *b = book_get(s, ((struct cmd *)t)->auction_id);

	if (b)
		b->outage_queued = 0;
}

/* presence.c: queue the clock's outage pause of `b` or its end (`what`). */
static void
ops_outage_due(struct server *s, struct book *b, int what)
{
	struct cmd *k;

	if (s->db == NULL || !db_ready(s->db) || (k = cmd_new(CMD_OUTAGE, NULL, NULL)) == NULL) {
		b->outage_queued = 0;
		return;
	}
	k->auction_id = b->a.id;
	k->outage_what = what;
	ops_enqueue(s, NULL, k);
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

/* Registrations in the batch being built: by fingerprint and by folded organization name. */
static struct map ops_reg_pending;
static int64_t ops_reg_batch = -1;

/* Apply a registration (a certificate registers once). */
static int
ops_apply_register(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	struct map *pending = &ops_reg_pending;
	char by[24], byorg[24], nb[TIME_BUF], na[TIME_BUF], at[TIME_BUF], *tail;

	if (ops_reg_batch != txn_batch(s)) {  /* the first of a new batch */
		if (ops_reg_batch >= 0)
			map_free(pending);
		map_init(pending, 1);
		ops_reg_batch = txn_batch(s);
	}

	/* certificate.add claims fingerprints the same way (certs.c) */
	if (registry_fp_claim(s, txn_batch(s), k->cert.fp) < 0) {
		txn_refuse(s, &k->t, "conflict", "this certificate is already registered");
		return 0;
	}
	if (ops_register_org(s, k, pending) < 0) {
		txn_refuse(s, &k->t, "internal", "out of memory");
		return 0;
	}
	time_format(k->cert.not_before, nb);
	time_format(k->cert.not_after, na);
	time_format(k->t.at, at);
	tail = db_registered_tail(k->pname, role_name(k->role), k->org_name, k->cert.fp);
	{
		const char *p[16] = { k->org_name, k->tax_id, k->country, k->pname,
		    role_name(k->role), k->cert.fp, k->cert.subject, k->cert.serial, nb, na, k->pem,
		    I64(by, k->t.who->id), at, I64(byorg, k->t.who->org->id), k->t.fp,
		    tail ? tail : "}" };
		txn_sql(s, DB_S_REGISTER, 16, p, ops_register_rows, k);
	}
	free(tail);
	return 1;
}

/* Apply a suspension or reinstatement of a participant or an organization (memory
 * changes on commit). */
static int
ops_apply_status(struct server *s, struct txn_cmd *tc)
{
	struct cmd *k = (struct cmd *)tc;
	char id[24], op[24], oporg[24], sorg[24], t[TIME_BUF], *body;
	const char *status = k->amount ? "suspended" : "active";
	const struct participant *subject;
	json_t *bj;

	if (k->org_status ? map_get(&s->orgs, k->auction_id) == NULL :
	    map_get(&s->participants, k->auction_id) == NULL) {
		txn_refuse(s, &k->t, "not_found", k->org_status ? "no such organization" :
		    "no such participant");
		return 0;
	}
	subject = k->org_status ? NULL : map_get(&s->participants, k->auction_id);
	time_format(k->t.at, t);
	bj = json_pack("{s:I, s:s, s:s}", k->org_status ? "organization" : "participant",
	    (json_int_t)k->auction_id, "status", status, "reason", k->reason);
	body = bj ? json_dumps(bj, JSON_COMPACT) : NULL;
	json_decref(bj);
	{
		const char *prm[10] = { I64(id, k->auction_id), status, t, k->reason,
		    I64(op, k->t.who->id), k->t.fp, I64(oporg, k->t.who->org->id),
		    k->amount ? "suspended" : "reinstated", body ? body : "{}",
		    subject ? I64(sorg, subject->org->id) : NULL };
		txn_sql(s, k->org_status ? DB_S_ORG_STATUS : DB_S_STATUS, k->org_status ? 9 : 10, prm,
		    NULL, NULL);
	}
	free(body);
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
ops_commit_status(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	struct participant *p;
	struct org *o;
	json_t *r = proto_ok(k->t.id);

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
		txn_reply(s, &k->t, r);
		log_info("organization=%lld %s by participant=%lld", (long long)o->id,
		    o->suspended ? "suspended" : "reinstated", (long long)k->t.who->id);
		return;
	}
	p = map_get(&s->participants, k->auction_id);
	p->suspended = k->amount != 0;
	if (p->suspended)
		ops_close_sessions(s, p, NULL, "participant_suspended", "this participant was suspended");
	json_object_set_new(r, "participant", json_pack("{s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)p->id, "name", p->name, "role", role_name(p->role), "status",
	    p->suspended ? "suspended" : "active"));
	txn_reply(s, &k->t, r);
	log_info("participant=%lld %s by participant=%lld", (long long)p->id,
	    p->suspended ? "suspended" : "reinstated", (long long)k->t.who->id);
}

/* A bid committed: its acknowledgement, or its refusal by the engine (whose log row
 * is now committed). */
static void
ops_commit_bid(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	struct book *b = book_get(s, k->auction_id);
	char amount[40];
	json_t *r;
	struct conn *c = conn_get(s, t->conn_id);

	if (b != NULL && c != NULL)  /* outage pause: its connection is in the auction */
		presence_join(s, b, c);
	if (t->reply) {
		r = t->reply;
		t->reply = NULL;
		txn_reply(s, t, r);
		return;
	}
	r = proto_ok(t->id);
	json_object_set_new(r, "bid", json_pack("{s:I, s:I, s:o, s:o}", "id",
	    (json_int_t)k->bid_id, "seq", (json_int_t)k->res.seq, "amount",
	    proto_money(k->amount, b->exp), "at", proto_time(t->at)));
	/* a sealed bid, or a rounds auction's sealed initial bid: not even the bidder's rank is
	 * told before the opening (the reveal) */
	json_object_set_new(r, "rank", auction_format_of(&b->a)->sealed ||
	    auction_rounds_sealed(&b->a, time_now_ms()) ? json_null() : json_integer(k->res.rank));
	json_object_set_new(r, "best_price", book_sees_best(b, t->who) &&
	    !auction_format_of(&b->a)->sealed ? proto_money(k->res.best, b->exp) : json_null());
	json_object_set_new(r, "ends_at", proto_time(k->res.ends_at));
	json_object_set_new(r, "extended", json_boolean(k->extended));
	if (k->res.tail) {  /* a bid in the second-place tail */
		json_object_set_new(r, "tail", json_true());
		json_object_set_new(r, "tail_ends_at", proto_time(k->res.tail_ends_at));
	}
	txn_reply(s, t, r);
	if (auction_format_of(&b->a)->sealed) {  /* the log file does not open it either */
		log_info("auction=%lld bid=%lld participant=%lld sealed accepted",
		    (long long)k->auction_id, (long long)k->bid_id, (long long)t->who->id);
		return;
	}
	money_format(k->amount, b->exp, amount, sizeof(amount));
	log_info("auction=%lld bid=%lld participant=%lld amount=%s rank=%d%s accepted",
	    (long long)k->auction_id, (long long)k->bid_id, (long long)t->who->id,
	    amount, k->res.rank, k->extended ? " extended" : "");
}

/* An auction's creation or cancellation committed: the auction as its buyer sees it. */
static void
ops_commit_auction(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	json_t *r = proto_ok(t->id);

	k->book->tx.created_batch = -1;
	if (k->kind == CMD_CREATE && k->nlots > 0) {
		/* multi-lot auctions: every lot, as its buyer sees it */
		json_t *arr = json_array();

		for (int i = 0; i < k->nlots; i++) {
			struct book *l = book_get(s, k->event_id + i);

			if (l == NULL)
				continue;
			l->tx.created_batch = -1;
			json_array_append_new(arr, book_view(s, l, t->who, 1));
		}
		json_object_set_new(r, "auctions", arr);
	}
	json_object_set_new(r, "auction", book_view(s, k->book, t->who, 1));
	txn_reply(s, t, r);
	log_info("auction=%lld %s by participant=%lld", (long long)k->auction_id,
	    k->kind == CMD_CREATE ? "created" : "cancelled", (long long)t->who->id);
}

/* A registration committed: the participant joins the registry. */
static void
ops_commit_register(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	struct participant *p;
	json_t *r;

	if (registry_org(s, k->new_org, k->org_name) == NULL ||
	    (p = registry_participant(s, k->new_pid, k->new_org, k->pname,
	    role_name(k->role), "active", k->cert.fp)) == NULL ||
	    registry_cert_describe(s, k->cert.fp, &k->cert, t->who->id, t->at) < 0) {
		txn_refuse(s, t, "internal", "registered, but not loaded; restart tenderd");
		return;
	}
	r = proto_ok(t->id);
	json_object_set_new(r, "participant", json_pack("{s:I, s:s, s:s}", "id",
	    (json_int_t)p->id, "name", p->name, "role", role_name(p->role)));
	json_object_set_new(r, "organization", json_pack("{s:I, s:s}", "id",
	    (json_int_t)p->org->id, "name", p->org->name));
	json_object_set_new(r, "fingerprint", json_string(k->cert.fp));
	txn_reply(s, t, r);
	log_info("participant=%lld role=%s fp=%.16s registered", (long long)p->id,
	    role_name(p->role), k->cert.fp);
}

/* A bid whose batch failed: it no longer counts against max_bids_per_bidder. */
static void
ops_bid_abort(struct server *s, struct txn_cmd *t)
{
	struct cmd *k = (struct cmd *)t;
	struct book *b = k->bid_counted ? book_get(s, k->auction_id) : NULL;

	if (b != NULL)
		book_count_bids(b, t->who->org->id, -1);
}

/* A tick dropped with the queue (the database went away): the timer may queue again. */
static void
ops_tick_abort(struct server *s, struct txn_cmd *t)
{
	struct book *b = book_get(s, ((struct cmd *)t)->auction_id);

	if (b)
		b->tick_queued = 0;
}

static const struct txn_cmd_ops ops_bid_ops = {
	ops_apply_bid, ops_commit_bid, ops_bid_abort, cmd_free, 0 };
static const struct txn_cmd_ops ops_create_ops = {
	ops_apply_create, ops_commit_auction, NULL, cmd_free, 0 };
static const struct txn_cmd_ops ops_cancel_ops = {
	ops_apply_cancel, ops_commit_auction, NULL, cmd_free, 0 };
static const struct txn_cmd_ops ops_register_ops = {
	ops_apply_register, ops_commit_register, NULL, cmd_free, 1 };
static const struct txn_cmd_ops ops_tick_ops = { ops_apply_tick, NULL, ops_tick_abort, cmd_free, 0 };
static const struct txn_cmd_ops ops_status_ops = {
	ops_apply_status, ops_commit_status, NULL, cmd_free, 1 };
static const struct txn_cmd_ops ops_rule_ops = {
	ops_apply_rule, ops_commit_rule, NULL, cmd_free, 0 };
static const struct txn_cmd_ops ops_proxy_ops = {
	ops_apply_proxy, ops_commit_proxy, ops_bid_abort, cmd_free, 0 };
static const struct txn_cmd_ops ops_outage_ops = {
	ops_apply_outage, ops_commit_outage, ops_outage_abort, cmd_free, 0 };

/* The write path's table of each kind of command, by enum cmd_kind. */
static const struct txn_cmd_ops *const cmd_ops[] = {
	[CMD_BID] = &ops_bid_ops, [CMD_CREATE] = &ops_create_ops, [CMD_CANCEL] = &ops_cancel_ops,
	[CMD_REGISTER] = &ops_register_ops, [CMD_TICK] = &ops_tick_ops,
	[CMD_STATUS] = &ops_status_ops, [CMD_RULE] = &ops_rule_ops, [CMD_PROXY] = &ops_proxy_ops,
	[CMD_OUTAGE] = &ops_outage_ops,
};

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
	return ops_open_auction_lot(s, p, li, at, 0, 0, 0);
}

/* The same, as a lot of a staggered event (multi-lot auctions; lot_no 0: none). */
struct book *
ops_open_auction_lot(struct server *s, struct proc *p, int li, int64_t at, int64_t event_id,
    int lot_no, int lot_count)
{
	const struct proc_lot *lot = &p->pr.lots[li];
	const struct proc_doc_auction *au = &p->doc->auction;
	struct cmd k;
	struct book *b;
	int64_t delay = au->delay * 1000;
	char title[600];
	struct ops_actor w = { 0, 0, NULL, NULL, NULL, NULL, NULL };
	struct proc_eval *order;
	const char *why;
	int n;

	memset(&k, 0, sizeof(k));
	snprintf(title, sizeof(title), "%s, lot %lld: %s", p->doc->title, (long long)lot->id,
	    p->doc->lots[li].title);
	k.params.buyer_org = p->pr.p.buyer_org;
	k.params.start_price = lot->max_price;
	money_parse_step(au->step_min, p->exp, &k.smin_pct, &k.smin_val);
	money_parse_step(au->step_max, p->exp, &k.smax_pct, &k.smax_val);
	k.params.step_min = k.smin_pct ? money_percent_of(lot->max_price, k.smin_val) : k.smin_val;
	k.params.step_max = k.smax_pct ? money_percent_of(lot->max_price, k.smax_val) : k.smax_val;
	k.params.starts_at = at + delay;
	k.params.ends_at = k.params.starts_at + au->duration * 1000;
	if (lot_no > 0) {
		/* multi-lot auctions: lot_no of the procedure's staggered lots */
		k.lot_no = lot_no;
		k.nlots = lot_count;
		k.stagger_ms = au->stagger * 1000;
		k.event_id = event_id > 0 ? event_id : s->next_auction_id;
		k.event_title = p->doc->title;
		k.params.ends_at += (lot_no - 1) * k.stagger_ms;
	}
	k.params.ext_window = au->extension_window * 1000;
	k.params.ext_length = au->extension * 1000;
	if ((why = auction_params_check(&k.params)) != NULL) {
		log_error("procurement=%lld lot=%lld auction parameters invalid: %s",
		    (long long)p->pr.id, (long long)lot->id, why);
		return NULL;
	}
	k.title = title;
	memcpy(k.currency, p->currency, sizeof(k.currency));
	k.exp = p->exp;
	k.unsigned_bids = au->unsigned_bids;
	k.t.at = at;
	k.t.who = map_get(&s->participants, p->buyer_participant);
	if (k.t.who == NULL)
		return NULL;
	snprintf(k.t.fp, sizeof(k.t.fp), "%s", "procedure");
	k.t.conn_id = 0;
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
		struct auction_events ev = { 0 };
		const struct proc_offer_extra *x;
		if (o == NULL || o->status != OFFER_ACTIVE)
			continue;
		x = map_get(&p->extras, o->id);
		w.participant = x ? x->participant : 0;
		w.org = o->org;
		w.fp = x ? x->fingerprint : NULL;
		if (auction_seed(&b->a, s->next_bid_id, o->org, o->price, at, &ev) != AUCTION_OK)
			continue;
		ops_events(s, b, &ev, &w);
		s->next_bid_id++;
	}
	free(order);
	ops_advance(s, b, at);
	return b;
}

/* The auctions' timers queue ticks here. */
void
ops_init(struct server *s)
{
	s->book_due = ops_tick;
	s->outage_due = ops_outage_due;
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
	json_object_set_new(r, "server", standby_hello(s));
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
	/* an invitation-only auction does not exist for those it does not invite */
	if ((b = book_get(s, aid)) == NULL || !book_may_see(b, conn_ident(c)->who)) {
		conn_send(c, proto_error(id, "not_found", "no such auction", "auction"));
		return NULL;
	}
	return b;
}

/* Reply with the auction now, or after the batch in flight when it changed it. */
static void
ops_reply_view(struct server *s, struct conn *c, json_t *id, struct book *b)
{
	json_t *r;

	if (b->tx.dirty) {
		txn_park(s, c, id, &book_txn, b->a.id);
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
	int64_t event = 0;

	if (ops_list_args(c, id, req, &l) < 0 || proto_get_int(c, req, "event", 0, &event) < 0)
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
		if (b->tx.created_batch >= 0 || b->a.id >= l.after)
			continue;  /* not yet committed, or on an earlier page */
		if ((l.state && strcmp(l.state, auction_state_name(b->a.state)) != 0) ||
		    (l.kind && (b->proc_id != 0) != lot) || (l.buyer >= 0 && b->a.p.buyer_org != l.buyer) ||
		    (event > 0 && b->event_id != event) ||
		    !book_may_see(b, conn_ident(c)->who))
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
	int64_t since = -1;
	int rc;

	if (b == NULL || proto_get_int(c, req, "since", 0, &since) < 0)
		return;
	if ((rc = watch_add(s, c, WATCH_AUCTION, b->a.id, &b->watchers, why, sizeof(why))) < 0) {
		conn_send(c, proto_error(id, rc == -1 ? "limit_exceeded" : "internal", why, NULL));
		return;
	}
	presence_join(s, b, c);
	if (since < 0) {
		ops_reply_view(s, c, id, b);
	} else if (b->tx.dirty) {
		txn_park_since(s, c, id, &book_txn, b->a.id, since);
	} else {
		json_t *r = proto_ok(id);
		json_object_set_new(r, "auction", book_view(s, b, conn_ident(c)->who, 1));
		json_object_set_new(r, "changed", json_boolean(b->tx.seq > since));
		conn_send(c, r);
	}
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
	presence_unwatch(s, b, c);
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
	if (!b->unsigned_bids && !proto_signed()) {
		conn_send(c, proto_error(id, "signature_required", "auction.bid must be signed in this "
		    "auction (signed_bids): send 'statement' (the exact bytes signed) and 'signature' "
		    "(base64 of a detached CMS signature over them)", "statement"));
		return;
	}
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

/* At most this many organizations invited to one auction. */
#define OPS_INVITED_MAX 1000

/* Compare two organization ids (qsort). */
static int
ops_cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

/* The optional invited list of auction.create: organization ids, sorted, each once, into a
 * new array *out (NULL when absent) and *n; -1 refused. */
static int
ops_invited(struct server *s, struct conn *c, json_t *id, json_t *req, int64_t buyer_org,
    int64_t **out, size_t *n)
{
	json_t *jv = json_object_get(req, "invited"), *e;
	size_t i, m = 0;
	char msg[160];
	int64_t *ids;

	*out = NULL;
	*n = 0;
	if (jv == NULL || json_is_null(jv))
		return 0;
	if (!json_is_array(jv) || json_array_size(jv) < 1 || json_array_size(jv) > OPS_INVITED_MAX) {
		snprintf(msg, sizeof(msg), "invited must be an array of 1 to %d organization ids",
		    OPS_INVITED_MAX);
		conn_send(c, proto_error(id, "bad_field", msg, "invited"));
		return -1;
	}
	if ((ids = malloc(json_array_size(jv) * sizeof(*ids))) == NULL) {
		conn_send(c, proto_error(id, "internal", "out of memory", NULL));
		return -1;
	}
	json_array_foreach(jv, i, e) {
		int64_t org = json_is_integer(e) ? (int64_t)json_integer_value(e) : 0;

		if (org <= 0 || map_get(&s->orgs, org) == NULL || org == buyer_org) {
			snprintf(msg, sizeof(msg), org == buyer_org ? "invited: the buyer's own "
			    "organization cannot be invited" : "invited: element %zu is not the id of an "
			    "organization", i);
			conn_send(c, proto_error(id, "bad_field", msg, "invited"));
			free(ids);
			return -1;
		}
		ids[m++] = org;
	}
	qsort(ids, m, sizeof(*ids), ops_cmp_i64);
	for (i = 1, *n = m ? 1 : 0; i < m; i++)
		if (ids[i] != ids[*n - 1])
			ids[(*n)++] = ids[i];  /* an organization listed twice is invited once */
	*out = ids;
	return 0;
}

/* The optional rules of auction.create that apply to every format (visibility, invited,
 * min_bidders) into `p` (p->invited: a new array the caller frees); -1 refused. */
static int
ops_rules(struct server *s, struct conn *c, json_t *id, json_t *req, struct auction_params *p)
{
	const char *vis = NULL;
	int64_t *inv, minb = 0;
	int rc;

	if ((rc = proto_get_str(c, req, "visibility", 0, 32, &vis)) < 0)
		return -1;
	if (rc == 0 && auction_visibility_parse(vis, &p->visibility) < 0) {
		conn_send(c, proto_error(id, "bad_field", "visibility must be one of: rank, "
		    "rank_and_best, ranking", "visibility"));
		return -1;
	}
	if ((rc = proto_get_int(c, req, "min_bidders", 0, &minb)) < 0)
		return -1;
	if (rc == 0 && (minb < 1 || minb > OPS_INVITED_MAX)) {
		conn_send(c, proto_error(id, "bad_field", "min_bidders must be between 1 and 1000",
		    "min_bidders"));
		return -1;
	}
	p->min_bidders = (int)minb;
	if (ops_invited(s, c, id, req, p->buyer_org, &inv, &p->ninvited) < 0)
		return -1;
	p->invited = inv;
	if (p->ninvited > 0 && (size_t)p->min_bidders > p->ninvited) {
		conn_send(c, proto_error(id, "bad_field", "min_bidders must not exceed the number of "
		    "invited organizations", "min_bidders"));
		free(inv);
		p->invited = NULL;
		return -1;
	}
	return 0;
}

/* Outage pause: the optional outage_share ("50%" or an integer percent; 0 or absent: no rule),
 * outage_window, outage_max_pause (seconds) and outage_min_bidders of auction.create into
 * `o`; -1 refused. */
static int
ops_outage_args(struct conn *c, json_t *id, json_t *req, const struct auction_params *p,
    struct auction_outage *o)
{
	json_t *jv = json_object_get(req, "outage_share");
	int64_t share = 0, minb = AUCTION_OUTAGE_MIN_BIDDERS;
	const char *why, *str;
	char *end;

	memset(o, 0, sizeof(*o));
	if (jv != NULL && json_is_integer(jv)) {
		share = json_integer_value(jv);
	} else if (jv != NULL && json_is_string(jv) && *(str = json_string_value(jv)) >= '0' &&
	    *str <= '9') {
		share = strtoll(str, &end, 10);
		if (strcmp(end, "%") != 0)
			share = -1;
	} else if (jv != NULL && !json_is_null(jv)) {
		share = -1;
	}
	if (share < 0 || share > 100) {
		conn_send(c, proto_error(id, "bad_field", "outage_share must be a percent from 0 to 100 "
		    "(\"50%\" or 50; 0: no outage pause)", "outage_share"));
		return -1;
	}
	if (share == 0) {
		static const char *const others[] = { "outage_window", "outage_max_pause",
		    "outage_min_bidders" };
		for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
			char msg[96];
			if (json_object_get(req, others[i]) == NULL)
				continue;
			snprintf(msg, sizeof(msg), "%s applies only with outage_share", others[i]);
			conn_send(c, proto_error(id, "bad_field", msg, others[i]));
			return -1;
		}
		return 0;
	}
	if (p->format != NULL && p->format->clock != NULL) {
		conn_send(c, proto_error(id, "bad_field", "outage_share does not apply to the clock "
		    "formats: a clock auction is never paused", "outage_share"));
		return -1;
	}
	if (p->format == &auction_rounds) {
		conn_send(c, proto_error(id, "bad_field", "outage_share does not apply to format "
		    "rounds: its turns follow from its start and the time, and it is never paused",
		    "outage_share"));
		return -1;
	}
	o->share = (int)share;
	if (ops_seconds(c, id, req, "outage_window", AUCTION_OUTAGE_WINDOW_MS / 1000, 1,
	    AUCTION_OUTAGE_WINDOW_MAX_MS / 1000, &o->window) < 0 ||
	    ops_seconds(c, id, req, "outage_max_pause", AUCTION_OUTAGE_MAX_PAUSE_MS / 1000, 1,
	    AUCTION_OUTAGE_PAUSE_MAX_MS / 1000, &o->max_pause) < 0 ||
	    proto_get_int(c, req, "outage_min_bidders", 0, &minb) < 0)
		return -1;
	o->min_bidders = minb < 1 || minb > 1000 ? 0 : (int)minb;
	if ((why = auction_outage_check(o)) != NULL) {
		conn_send(c, proto_error(id, "bad_field", why, "outage_min_bidders"));
		return -1;
	}
	return 0;
}

/* The optional format, max_extensions and latest_end of auction.create into `p`; -1 refused. */
static int
ops_format(struct conn *c, json_t *id, json_t *req, struct auction_params *p)
{
	const char *name = NULL, *latest = NULL;
	int64_t maxext = 0;
	char msg[200];
	int rc;

	if ((rc = proto_get_str(c, req, "format", 0, 64, &name)) < 0)
		return -1;
	if (rc == 0 && (p->format = auction_format_find(name)) == NULL) {
		snprintf(msg, sizeof(msg), "format must be one of: %s", auction_format_names());
		conn_send(c, proto_error(id, "bad_field", msg, "format"));
		return -1;
	}
	if ((rc = proto_get_int(c, req, "max_extensions", 0, &maxext)) < 0)
		return -1;
	if (rc == 0 && (maxext < 1 || maxext > 1000)) {
		conn_send(c, proto_error(id, "bad_field", "max_extensions must be between 1 and 1000",
		    "max_extensions"));
		return -1;
	}
	p->max_extensions = (int)maxext;
	if ((rc = proto_get_str(c, req, "latest_end", 0, 64, &latest)) < 0)
		return -1;
	if (rc == 0 && (time_parse(latest, &p->latest_end) < 0 || p->latest_end < p->ends_at)) {
		conn_send(c, proto_error(id, "bad_field", "latest_end must be an RFC 3339 time, not "
		    "before the scheduled end (starts_at plus duration)", "latest_end"));
		return -1;
	}
	return 0;
}

/* One money field of auction.create (a decimal string) into *out; `need`: required. 0, 1
 * absent, -1 refused. */
static int
ops_money_field(struct conn *c, json_t *id, json_t *req, const char *name, int exp, int need,
    int64_t *out)
{
	const char *v;
	char msg[160];
	int rc = proto_get_str(c, req, name, need, 40, &v);

	if (rc != 0)
		return rc;
	if (money_parse(v, exp, out) < 0 || *out <= 0) {
		snprintf(msg, sizeof(msg), "%s must be a positive decimal amount (a string)", name);
		conn_send(c, proto_error(id, "bad_field", msg, name));
		return -1;
	}
	return 0;
}

/*
 * The clock parameters of auction.create into `p` (after ops_format): required for a
 * clock format, refused for the others. A clock auction has no extensions unless asked
 * (then refused by the engine), and ends with its clock unless a duration is given.
 */
static int
ops_clock(struct conn *c, json_t *id, json_t *req, int exp, struct auction_params *p)
{
	int clock = p->format != NULL && p->format->clock != NULL;
	const char *names[3] = { "clock_step", "clock_interval", "clock_limit" };
	char msg[200];
	int64_t ivl = 0;
	int rc;

	if (!clock) {
		for (int i = 0; i < 3; i++)
			if (json_object_get(req, names[i]) != NULL) {
				snprintf(msg, sizeof(msg), "%s applies only to the clock formats "
				    "(dutch_reverse, dutch_forward, japanese_reverse)", names[i]);
				conn_send(c, proto_error(id, "bad_field", msg, names[i]));
				return -1;
			}
		return 0;
	}
	if (ops_money_field(c, id, req, "clock_step", exp, 1, &p->clock_step) != 0 ||
	    ops_money_field(c, id, req, "clock_limit", exp, 1, &p->clock_limit) != 0)
		return -1;
	if ((rc = proto_get_int(c, req, "clock_interval", 1, &ivl)) != 0)
		return -1;
	if (ivl < 100 || ivl > 86400000) {
		conn_send(c, proto_error(id, "bad_field", "clock_interval must be between 100 and "
		    "86400000 (milliseconds)", "clock_interval"));
		return -1;
	}
	p->clock_interval = ivl;
	if (json_object_get(req, "extension_window") == NULL)
		p->ext_window = 0;
	if (json_object_get(req, "extension") == NULL && p->ext_window == 0)
		p->ext_length = 0;
	if (json_object_get(req, "duration") == NULL && auction_clock_end(p) > p->starts_at)
		p->ends_at = auction_clock_end(p);
	return 0;
}

/*
 * The sealed formats' rules of auction.create into `p` (after ops_format): a sealed-bid
 * auction has no steps and no extensions, so their fields are refused; -1 refused.
 */
static int
ops_sealed(struct conn *c, json_t *id, json_t *req, struct auction_params *p)
{
	const char *names[6] = { "step_min", "step_max", "extension_window", "extension",
	    "max_extensions", "latest_end" };
	char msg[200];

	if (p->format == NULL || !p->format->sealed)
		return 0;
	for (int i = 0; i < 6; i++)
		if (json_object_get(req, names[i]) != NULL) {
			snprintf(msg, sizeof(msg), "%s does not apply to the sealed-bid formats "
			    "(sealed_first_price, sealed_second_price): they have no steps and no "
			    "extensions", names[i]);
			conn_send(c, proto_error(id, "bad_field", msg, names[i]));
			return -1;
		}
	p->ext_window = 0;
	p->ext_length = 0;
	return 0;
}

/* The optional second-place tail of auction.create (seconds, after ops_format) into `p`;
 * refused for a format without one (the clock formats); -1 refused. */
static int
ops_tail(struct conn *c, json_t *id, json_t *req, struct auction_params *p)
{
	const struct auction_format *fm = p->format != NULL ? p->format : &auction_english_reverse;

	if (ops_seconds(c, id, req, "tail", 0, 0, AUCTION_TAIL_MAX / 1000, &p->tail) < 0)
		return -1;
	if (p->tail > 0 && fm->tail_bid == NULL) {
		conn_send(c, proto_error(id, "bad_field", fm->clock != NULL ? "tail: a clock format has "
		    "no second-place tail (english_reverse and english_forward have one)" : "tail: this "
		    "format has no second-place tail (english_reverse and english_forward have one)",
		    "tail"));
		return -1;
	}
	return 0;
}

/*
 * The timeline of a rounds auction (auction.create after ops_format): initial, pause, rounds,
 * turn, round_pause (seconds; a count for rounds), each with its default; refused for the
 * other formats. A rounds auction has no extensions (rounds_no_extensions) and no duration:
 * its scheduled end is the latest its rounds could end (AUCTION_ROUNDS_MAX_BIDDERS bidders).
 */
static int
ops_rounds(struct conn *c, json_t *id, json_t *req, struct auction_params *p)
{
	static const char *const names[5] = { "initial", "pause", "rounds", "turn", "round_pause" };
	static const char *const ext[5] = { "extension_window", "extension", "max_extensions",
	    "latest_end", "duration" };
	char msg[200];
	int64_t n = 3;

	for (int i = 0; i < 5; i++) {
		if (p->format == &auction_rounds && json_object_get(req, ext[i]) != NULL) {
			snprintf(msg, sizeof(msg), "%s does not apply to format rounds: its end follows "
			    "from its timeline and it has no extensions", ext[i]);
			conn_send(c, proto_error(id, "rounds_no_extensions", msg, ext[i]));
			return -1;
		}
		if (p->format != &auction_rounds && json_object_get(req, names[i]) != NULL) {
			snprintf(msg, sizeof(msg), "%s applies only to format rounds", names[i]);
			conn_send(c, proto_error(id, "bad_field", msg, names[i]));
			return -1;
		}
	}
	if (p->format != &auction_rounds)
		return 0;
	if (ops_seconds(c, id, req, "initial", 600, 1, 86400, &p->rounds_initial) < 0 ||
	    ops_seconds(c, id, req, "pause", 300, 0, 86400, &p->rounds_pause) < 0 ||
	    ops_seconds(c, id, req, "turn", 120, 1, 3600, &p->rounds_turn) < 0 ||
	    ops_seconds(c, id, req, "round_pause", 120, 0, 3600, &p->rounds_round_pause) < 0 ||
	    proto_get_int(c, req, "rounds", 0, &n) < 0)
		return -1;
	if (n < 1 || n > 10) {
		conn_send(c, proto_error(id, "bad_field", "rounds must be between 1 and 10", "rounds"));
		return -1;
	}
	p->rounds_count = n;
	p->ext_window = p->ext_length = 0;
	p->ends_at = auction_rounds_latest_end(p);
	return 0;
}

/* Multi-lot auctions: at most this many lots in one event. */
#define OPS_LOTS_MAX 100

/* Multi-lot auctions: refuse the request for lot `n` (1-based) of `lots`; always -1. */
static int
ops_lot_refuse(struct conn *c, json_t *id, int n, const char *code, const char *why)
{
	char msg[400];
	json_t *r;

	snprintf(msg, sizeof(msg), "lot %d: %s", n, why);
	r = proto_error(id, code, msg, "lots");
	json_object_set_new(json_object_get(r, "error"), "lot", json_integer(n));
	conn_send(c, r);
	return -1;
}

/* Multi-lot auctions: a lot's start price into *out; -1 refused. */
static int
ops_lot_price(struct conn *c, json_t *id, json_t *lot, int n, int exp, int64_t *out)
{
	json_t *v = json_object_get(lot, "start_price");

	if (v == NULL || json_is_null(v))
		return ops_lot_refuse(c, id, n, "missing_field", "start_price is required");
	if (!json_is_string(v) || money_parse(json_string_value(v), exp, out) < 0 || *out <= 0)
		return ops_lot_refuse(c, id, n, "bad_field", "start_price must be a positive decimal "
		    "amount (a string)");
	return 0;
}

/* Multi-lot auctions: the shape of `lots` and lot 1's start price (the shared checks of
 * auction.create run with it); -1 refused. */
static int
ops_lots_first(struct conn *c, json_t *id, json_t *req, json_t *jl, int exp, int64_t *price)
{
	char msg[160];

	if (json_object_get(req, "start_price") != NULL) {
		conn_send(c, proto_error(id, "bad_field", "start_price: with lots, every lot has its "
		    "own start_price", "start_price"));
		return -1;
	}
	if (!json_is_array(jl) || json_array_size(jl) < 1 || json_array_size(jl) > OPS_LOTS_MAX) {
		snprintf(msg, sizeof(msg), "lots must be an array of 1 to %d lots", OPS_LOTS_MAX);
		conn_send(c, proto_error(id, "bad_field", msg, "lots"));
		return -1;
	}
	if (!json_is_object(json_array_get(jl, 0)))
		return ops_lot_refuse(c, id, 1, "bad_field", "a lot must be an object");
	return ops_lot_price(c, id, json_array_get(jl, 0), 1, exp, price);
}

/* Multi-lot auctions: a lot's step field (its own, or the event's `pct`/`val`) into `l`. */
static int
ops_lot_step(struct conn *c, json_t *id, json_t *lot, int n, const char *field, int exp,
    int64_t price, int *pct, int64_t *val, int64_t *amount)
{
	json_t *v = json_object_get(lot, field);
	char why[160];

	if (v != NULL && (!json_is_string(v) ||
	    money_parse_step(json_string_value(v), exp, pct, val) < 0)) {
		snprintf(why, sizeof(why), "%s must be a percent such as \"0.5%%\" or an amount", field);
		return ops_lot_refuse(c, id, n, "bad_field", why);
	}
	*amount = *pct ? money_percent_of(price, *val) : *val;
	return 0;
}

/* Multi-lot auctions: one lot (`n` 1-based, index n-1) of `lots` into `l`, with the event's
 * parameters `ev` and its steps; -1 refused (the message names the lot). */
static int
ops_lot_parse(struct conn *c, json_t *id, json_t *lot, int n, int exp,
    const struct auction_params *ev, int64_t stagger_ms, const struct ops_lot *steps,
    struct ops_lot *l)
{
	const char *key, *title, *why;
	char msg[160];
	json_t *v;

	if (!json_is_object(lot))
		return ops_lot_refuse(c, id, n, "bad_field", "a lot must be an object");
	json_object_foreach(lot, key, v) {
		if (strcmp(key, "title") && strcmp(key, "start_price") && strcmp(key, "step_min") &&
		    strcmp(key, "step_max")) {
			snprintf(msg, sizeof(msg), "unknown field '%.60s' (a lot has title, start_price, "
			    "step_min, step_max)", key);
			return ops_lot_refuse(c, id, n, "bad_field", msg);
		}
	}
	v = json_object_get(lot, "title");
	if (v == NULL || json_is_null(v))
		return ops_lot_refuse(c, id, n, "missing_field", "title is required");
	title = json_is_string(v) ? json_string_value(v) : NULL;
	if (title == NULL || json_string_length(v) == 0 || strlen(title) != json_string_length(v) ||
	    text_len(title, strlen(title)) > 500 ||
	    text_check(title, strlen(title), TEXT_LINE, msg, sizeof(msg)) < 0)
		return ops_lot_refuse(c, id, n, "bad_field", "title must be a line of 1 to 500 "
		    "characters");
	l->p = *ev;
	if (ops_lot_price(c, id, lot, n, exp, &l->p.start_price) < 0)
		return -1;
	*l = (struct ops_lot){ .p = l->p, .smin_pct = steps->smin_pct, .smax_pct = steps->smax_pct,
	    .smin_val = steps->smin_val, .smax_val = steps->smax_val };
	if (ops_lot_step(c, id, lot, n, "step_min", exp, l->p.start_price, &l->smin_pct,
	    &l->smin_val, &l->p.step_min) < 0 ||
	    ops_lot_step(c, id, lot, n, "step_max", exp, l->p.start_price, &l->smax_pct,
	    &l->smax_val, &l->p.step_max) < 0)
		return -1;
	/* staggered: lot n is scheduled to end (n - 1) stagger after the event's end */
	l->p.ends_at += (n - 1) * stagger_ms;
	if (l->p.latest_end)
		l->p.latest_end += (n - 1) * stagger_ms;
	if (l->p.step_min > l->p.step_max)
		return ops_lot_refuse(c, id, n, "bad_field", "step_min must not exceed step_max");
	if ((why = auction_params_check(&l->p)) != NULL)
		return ops_lot_refuse(c, id, n, "bad_field", why);
	if ((l->title = strdup(title)) == NULL)
		return ops_lot_refuse(c, id, n, "internal", "out of memory");
	return 0;
}

/* Multi-lot auctions: lot_closing and stagger of auction.create into *stagger_ms (0:
 * parallel); -1 refused. Without lots neither may be given. */
static int
ops_lot_closing(struct conn *c, json_t *id, json_t *req, int lots,
    const struct auction_params *p, int64_t *stagger_ms)
{
	const char *mode = "parallel";
	int64_t secs = 0;
	int rc;

	*stagger_ms = 0;
	if (!lots) {
		const char *f = json_object_get(req, "lot_closing") ? "lot_closing" :
		    json_object_get(req, "stagger") ? "stagger" : NULL;
		if (f != NULL)
			conn_send(c, proto_error(id, "bad_field", "lot_closing and stagger apply only to "
			    "an auction with lots", f));
		return f != NULL ? -1 : 0;
	}
	if ((rc = proto_get_str(c, req, "lot_closing", 0, 20, &mode)) < 0)
		return -1;
	if (rc == 1)
		mode = "parallel";
	if (strcmp(mode, "parallel") && strcmp(mode, "staggered")) {
		conn_send(c, proto_error(id, "bad_field", "lot_closing must be parallel or staggered",
		    "lot_closing"));
		return -1;
	}
	if ((rc = proto_get_int(c, req, "stagger", 0, &secs)) < 0)
		return -1;
	if (strcmp(mode, "parallel") == 0) {
		if (rc == 0) {
			conn_send(c, proto_error(id, "bad_field", "stagger applies only to lot_closing "
			    "staggered", "stagger"));
			return -1;
		}
		return 0;
	}
	if (rc == 1 || secs < 1 || secs > 86400) {
		conn_send(c, proto_error(id, rc == 1 ? "missing_field" : "bad_field", "stagger (seconds "
		    "between the ends of consecutive lots, 1 to 86400) is required with lot_closing "
		    "staggered", "stagger"));
		return -1;
	}
	*stagger_ms = secs * 1000;
	(void)p;
	return 0;
}

/* Multi-lot auctions: free the first n lots of `lots` and the array. */
static void
ops_lots_free(struct ops_lot *lots, int n)
{
	for (int i = 0; lots != NULL && i < n; i++)
		free(lots[i].title);
	free(lots);
}

/* Multi-lot auctions: every lot of `lots` into the new array `k->lots` (`k` a command not
 * yet made: it holds the lots until cmd_new); -1 refused, nothing kept. */
static int
ops_lots(struct conn *c, json_t *id, json_t *req, json_t *jl, int exp,
    const struct auction_params *p, const struct ops_lot *steps, struct cmd *k)
{
	int n = (int)json_array_size(jl);

	if (p->format != NULL && p->format->clock != NULL) {
		conn_send(c, proto_error(id, "bad_field", "lots: a clock format (dutch_reverse, "
		    "dutch_forward, japanese_reverse) runs one lot per auction", "lots"));
		return -1;
	}
	if (p->format == &auction_rounds) {
		conn_send(c, proto_error(id, "bad_field", "lots: a rounds auction's end follows from "
		    "its timeline, so it runs one lot per auction", "lots"));
		return -1;
	}
	if (ops_lot_closing(c, id, req, 1, p, &k->stagger_ms) < 0)
		return -1;
	if ((k->lots = calloc((size_t)n, sizeof(*k->lots))) == NULL) {
		conn_send(c, proto_error(id, "internal", "out of memory", NULL));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (ops_lot_parse(c, id, json_array_get(jl, (size_t)i), i + 1, exp, p, k->stagger_ms,
		    steps, &k->lots[i]) < 0) {
			ops_lots_free(k->lots, i);
			k->lots = NULL;
			return -1;
		}
		k->nlots = i + 1;
	}
	return 0;
}

/* auction.create, checked: queue the command made from `tpl` (the checked parameters, lots and
 * rules); on failure free what `tpl` holds. */
static void
ops_create_queue(struct server *s, struct conn *c, json_t *id, const char *title,
    const struct cmd *tpl)
{
	struct cmd *k;

	if ((k = cmd_new(CMD_CREATE, c, id)) == NULL || (k->title = strdup(title)) == NULL ||
	    (tpl->nlots > 0 && (k->event_title = strdup(title)) == NULL)) {
		free((void *)tpl->params.invited);
		ops_lots_free(tpl->lots, tpl->nlots);
		if (k != NULL)
			free(k->title);
		free(k);
		return;
	}
	k->lots = tpl->lots;
	k->nlots = tpl->nlots;
	k->stagger_ms = tpl->stagger_ms;
	k->params = tpl->params;
	k->invited = (int64_t *)tpl->params.invited;
	snprintf(k->currency, sizeof(k->currency), "%s", tpl->currency);
	k->exp = tpl->exp;
	k->smin_pct = tpl->smin_pct;
	k->smax_pct = tpl->smax_pct;
	k->smin_val = tpl->smin_val;
	k->smax_val = tpl->smax_val;
	k->unsigned_bids = tpl->unsigned_bids;
	k->outage = tpl->outage;
	ops_enqueue(s, c, k);
}

/* auction.create: check everything, queue. */
void
ops_auction_create(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *title, *currency, *start, *starts_at = NULL;
	struct auction_params p = { 0 };
	struct auction_outage outage;
	int smin_pct, smax_pct, exp, rc, signed_bids;
	int64_t smin_val, smax_val, now = time_now_ms(), dur, nostag;
	struct cmd lots = { .nlots = 0 };  /* what the command is made from (ops_create_queue) */
	const char *why;
	json_t *jv, *jlots = json_object_get(req, "lots");

	if (proto_get_text(c, req, "title", 1, 500, TEXT_LINE, &title) != 0 ||
	    proto_get_str(c, req, "currency", 1, 3, &currency) != 0)
		return;
	if ((exp = money_exponent(currency)) < 0) {
		conn_send(c, proto_error(id, "bad_field", "currency must be an ISO 4217 code such as RUB",
		    "currency"));
		return;
	}
	jv = json_object_get(req, "start_price");
	if (jlots != NULL && !json_is_null(jlots)) {
		if (ops_lots_first(c, id, req, jlots, exp, &p.start_price) < 0)
			return;
	} else if (jv && json_is_number(jv)) {
		conn_send(c, proto_error(id, "bad_field",
		    "start_price must be a decimal string, not a JSON number", "start_price"));
		return;
	} else if (proto_get_str(c, req, "start_price", 1, 40, &start) != 0) {
		return;
	} else if (money_parse(start, exp, &p.start_price) < 0 || p.start_price <= 0) {
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
	if (ops_format(c, id, req, &p) < 0 || ops_clock(c, id, req, exp, &p) < 0 ||
	    ops_sealed(c, id, req, &p) < 0 || ops_tail(c, id, req, &p) < 0 ||
	    ops_rounds(c, id, req, &p) < 0)
		return;
	/* with lots, every lot is checked as an auction of its own (ops_lots), naming the lot */
	if (jlots == NULL || json_is_null(jlots)) {
		if (p.step_min > p.step_max) {
			conn_send(c, proto_error(id, "bad_field", "step_min must not exceed step_max",
			    "step_min"));
			return;
		}
		if ((why = auction_params_check(&p)) != NULL) {
			conn_send(c, proto_error(id, "bad_field", why, NULL));
			return;
		}
	}
	jv = json_object_get(req, "signed_bids");
	if (jv && !json_is_boolean(jv)) {
		conn_send(c, proto_error(id, "bad_field", "signed_bids must be true or false",
		    "signed_bids"));
		return;
	}
	signed_bids = jv == NULL || json_is_true(jv);
	if ((jlots == NULL || json_is_null(jlots)) && ops_lot_closing(c, id, req, 0, &p, &nostag) < 0)
		return;
	if (ops_outage_args(c, id, req, &p, &outage) < 0)
		return;
	if (ops_rules(s, c, id, req, &p) < 0)
		return;
	if (jlots != NULL && !json_is_null(jlots)) {
		/* checked before the command is made: a refusal leaves nothing to free but these */
		struct ops_lot steps = { .smin_pct = smin_pct, .smax_pct = smax_pct,
		    .smin_val = smin_val, .smax_val = smax_val };

		if (ops_lots(c, id, req, jlots, exp, &p, &steps, &lots) < 0) {
			free((void *)p.invited);
			return;
		}
	}
	lots.params = p;
	snprintf(lots.currency, sizeof(lots.currency), "%s", currency);
	lots.exp = exp;
	lots.smin_pct = smin_pct;
	lots.smax_pct = smax_pct;
	lots.smin_val = smin_val;
	lots.smax_val = smax_val;
	lots.unsigned_bids = !signed_bids;
	lots.outage = outage;
	ops_create_queue(s, c, id, title, &lots);
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

/* auction.pause, auction.resume, auction.extend (operators): with a reason; extend with a
 * duration in seconds. The engine judges the state when the command is applied. */
void
ops_auction_rule(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *reason;
	struct book *b;
	struct cmd *k;
	int64_t secs = 0;

	if ((b = ops_book_arg(s, c, id, req)) == NULL)
		return;
	if (proto_get_text(c, req, "reason", 1, 1000, TEXT_LINE, &reason) != 0)
		return;
	if (op->arg == OPTAB_ARG_EXTEND) {
		if (proto_get_int(c, req, "duration", 1, &secs) != 0)
			return;
		if (secs < 1 || secs > 86400) {
			conn_send(c, proto_error(id, "bad_field", "duration must be 1 to 86400 seconds",
			    "duration"));
			return;
		}
	}
	if ((k = cmd_new(CMD_RULE, c, id)) == NULL || (k->reason = strdup(reason)) == NULL) {
		free(k);
		return;
	}
	k->auction_id = b->a.id;
	k->rule = op->arg;
	k->amount = secs * 1000;
	ops_enqueue(s, c, k);
}

/* auction.proxy (suppliers): set a floor ("floor": a decimal string) or withdraw it ("floor"
 * null or absent); queued for the engine like a bid, and signed like one. */
void
ops_auction_proxy(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *floor;
	struct book *b;
	struct cmd *k;
	int64_t v = 0;
	json_t *jv;

	if ((b = ops_book_arg(s, c, id, req)) == NULL)
		return;
	if (!b->unsigned_bids && !proto_signed()) {
		conn_send(c, proto_error(id, "signature_required", "auction.proxy must be signed in this "
		    "auction (signed_bids), as a bid is: send 'statement' (the exact bytes signed) and "
		    "'signature' (base64 of a detached CMS signature over them)", "statement"));
		return;
	}
	jv = json_object_get(req, "floor");
	if (jv != NULL && !json_is_null(jv)) {
		if (!json_is_string(jv)) {
			conn_send(c, proto_error(id, "bad_field", "floor must be a decimal string such as "
			    "\"950000.00\", or null to withdraw the proxy", "floor"));
			return;
		}
		if (proto_get_str(c, req, "floor", 1, 40, &floor) != 0)
			return;
		if (money_parse(floor, b->exp, &v) < 0 || v <= 0) {
			char msg[160];
			snprintf(msg, sizeof(msg), "floor must be a decimal above 0 with at most %d "
			    "fraction digits", b->exp);
			conn_send(c, proto_error(id, "bad_field", msg, "floor"));
			return;
		}
	}
	if ((k = cmd_new(CMD_PROXY, c, id)) == NULL)
		return;
	k->auction_id = b->a.id;
	k->amount = v;
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
		cmd_free(&k->t);
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
