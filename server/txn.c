/*
 * The one write path: queue, batch, apply, persist, acknowledge after commit,
 * roll back on failure, park reads of state in flight.
 *
 * Commands wait in a FIFO. When no batch is in flight, the queue is drained
 * (up to batch_max) into one batch: each command is applied to memory (its
 * kind's apply: the engine decides) and what it changed joins the batch as
 * SQL. Every object a batch changes is marked first (its kind's mark) and
 * listed in the touched set. The batch commits as one transaction (group
 * commit); then, in order, every command is acknowledged and every touched
 * object committed (its kind tells watchers and re-arms timers). If the batch
 * does not commit, every touched object is restored to its mark (created ones
 * dropped) and every command refused: nothing a client was told is lost, and
 * nothing it was not told is kept.
 *
 * Batches in flight (max_batches_in_flight, 1..4): while one batch's commit is
 * outstanding, the next is built and sent on the same pipeline. Invariants:
 *
 * - The objects in memory are the committed state plus every batch in flight,
 *   applied in order; each batch that changes an object takes its own mark
 *   (the object's `dirty` counts them).
 * - Batches commit in order (one connection, one pipeline, each batch its own
 *   implicit transaction ended by a Sync; db.c). Their outcomes arrive in that
 *   order, and the replies and events of batch k are released only after k
 *   committed and after those of batch k-1. A reply given while a batch is
 *   applied (a refusal at apply time) is held with its command when earlier
 *   batches are in flight, since it may rest on their state.
 * - Cascade: batch k+1 was applied on top of k's state, so when k does not
 *   commit (a statement error, the connection lost) no later batch in flight
 *   commits either (db.c makes each batch fail unless the previous one
 *   committed). Every batch in flight is then rolled back in memory, newest
 *   first, and their commands refused oldest first exactly as a failed
 *   batch's are; the later batches' held replies are replaced by that
 *   refusal. db.c gives their seq numbers back.
 * - A lost connection leaves every batch in flight in doubt; db.c resolves
 *   them on reconnection: a prefix committed (acknowledged), the rest rolled
 *   back as above.
 * - A read of an object that a batch in flight changed is parked until no
 *   batch in flight has changed it, so nobody sees a state that may roll back.
 * - A serial command (a registration, a suspension) is applied only when no
 *   batch is in flight, and no batch starts while its batch is in flight.
 * - Receipts: the seq numbers a command's apply takes (db_next_seq() before and
 *   after) tell which changes are its own; once its batch has committed, the
 *   leaves are in the transparency log (db.c hands them over before the batch's
 *   outcome), and every acknowledgement (an "ok" reply) of a command that wrote a
 *   change carries the receipt of its own change. Refusals carry none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "server/notify.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/sig.h"
#include "server/tlog.h"

#define TXN_MAX_KINDS 4

/* A read parked behind the batch in flight. */
struct txn_park {
	uint64_t conn_id;
	json_t *id;
	const struct txn_kind *kind;
	int64_t obj;
	char op[48];
	int64_t t0;
	int64_t since;            /* a watch's `since` (-1: none) */
	int64_t auction, procurement;      /* the request's targets (its log line) */
};

/* An object a batch changed, with its state before (its kind's mark). */
struct txn_touched {
	struct txn_obj *o;
	void *mark;
	int64_t seq;              /* its seq before the batch */
};

/* A batch being built or in flight: its commands and its touched set. */
struct txn_batch {
	int64_t seq;
	struct txn_cmd *head, *tail;
	struct txn_touched *touched;       /* objects changed by it, in order */
	size_t ntouched, captouched;
	int serial;                        /* holds a serial command */
	int64_t sent_us;                   /* monotonic µs it was sent (metrics) */
};

#define TXN_SLOTS (DB_MAX_INFLIGHT + 1)

/* The queue, the batches in flight and the reads parked behind them. */
struct txn {
	struct event *flush_ev;
	struct txn_cmd *q_head, *q_tail;   /* waiting for the next batch, FIFO */
	size_t q_len;
	struct txn_batch b[TXN_SLOTS];     /* in flight from b[bhead], nb of them; then the one built */
	size_t bhead, nb;
	int applying;                      /* a batch is being built */
	struct txn_cmd *cur;               /* the command being applied (txn_sign, txn_own_change) */
	struct txn_park *parked;           /* reads waiting for batches in flight */
	size_t nparked, capparked;
	int64_t seq;                       /* the batch being built or in flight */
	int64_t last_now;                  /* commands are applied with non-decreasing times */
	int acking;                        /* the commands of a committed batch are answered */
	const struct txn_kind *kinds[TXN_MAX_KINDS];
	int nkinds;
};

static void txn_flush(evutil_socket_t fd, short what, void *arg);
static void txn_batch_done(void *arg, enum db_outcome o, const char *why);

/* Create the queue and the flush event. */
int
txn_init(struct server *s)
{
	struct txn *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	s->txn = t;
	t->flush_ev = event_new(s->base, -1, 0, txn_flush, s);
	return t->flush_ev ? 0 : -1;
}

static void txn_cmd_free(struct txn_cmd *k);

/* Free the queue's memory (after the loop). */
void
txn_free(struct server *s)
{
	struct txn *t = s->txn;

	if (t == NULL)
		return;
	/* commands still queued at the stop (queued while the database was away, or a tree
	 * head due as the last batch committed): never applied, nothing to undo */
	while (t->q_head) {
		struct txn_cmd *k = t->q_head;
		t->q_head = k->next;
		txn_cmd_free(k);
	}
	if (t->flush_ev)
		event_free(t->flush_ev);
	for (int i = 0; i < TXN_SLOTS; i++)
		free(t->b[i].touched);
	free(t->parked);
	free(t);
	s->txn = NULL;
}

/* Add a kind of object (start-up). */
int
txn_add_kind(struct server *s, const struct txn_kind *kind)
{
	struct txn *t = s->txn;

	if (t->nkinds == TXN_MAX_KINDS)
		return -1;
	t->kinds[t->nkinds++] = kind;
	return 0;
}

/* Fill the common part of a command. */
void
txn_cmd_init(struct txn_cmd *k, const struct txn_cmd_ops *ops, struct conn *c, json_t *id)
{
	k->ops = ops;
	k->at = time_now_ms();
	if (c) {
		const struct conn_ident *ci = conn_ident(c);
		k->conn_id = ci->id;
		k->who = ci->who;
		snprintf(k->fp, sizeof(k->fp), "%s", ci->cert->fp);
		k->id = json_incref(id ? id : json_null());
		const char *op = proto_current(&k->t0);
		snprintf(k->op, sizeof(k->op), "%s", op ? op : "");
		proto_current_target(&k->auction, &k->procurement);
		k->sig = proto_take_sig();
	}
}

/* Free a command. */
static void
txn_cmd_free(struct txn_cmd *k)
{
	json_decref(k->id);
	json_decref(k->reply);
	json_decref(k->held);
	sig_job_drop(k->sig);
	if (k->ops->free)
		k->ops->free(k);
	else
		free(k);
}

/* The batch being built. */
static struct txn_batch *
txn_open(struct txn *t)
{
	return &t->b[(t->bhead + t->nb) % TXN_SLOTS];
}

/* The receipt of a committed command's own change, added to its acknowledgement:
 * seq and leaf hash, and a sealed change's content hash (docs/trust.md). */
static void
txn_receipt(struct server *s, struct txn_cmd *k, json_t *msg)
{
	merkle_hash h;
	char hex[2 * MERKLE_HASH + 1];
	json_t *r;

	if (!json_is_true(json_object_get(msg, "ok")) || tlog_leaf(s->tlog, k->receipt_seq, h) < 0)
		return;
	merkle_hex(h, hex);
	r = json_pack("{s:I, s:s}", "seq", (json_int_t)k->receipt_seq, "leaf_hash", hex);
	if (tlog_take_content(s->tlog, k->receipt_seq, h) == 0) {
		merkle_hex(h, hex);
		json_object_set_new(r, "content_hash", json_string(hex));
	}
	json_object_set_new(msg, "receipt", r);
}

/* The log line and metrics of a command's reply. */
static void
txn_log_reply(const struct txn_cmd *k, json_t *msg)
{
	struct proto_req r = { .conn = k->conn_id, .who = k->who, .fp = k->fp, .op = k->op,
	    .id = k->id, .t0 = k->t0, .auction = k->auction, .procurement = k->procurement };

	proto_log_reply(&r, msg);
}

/* Reply to a command, if its connection is still there; the reply releases its
 * place among the connection's pending requests. A reply given while a batch is
 * built behind batches in flight is held until its batch settles. An
 * acknowledgement of a committed command gets its receipt. */
void
txn_reply(struct server *s, struct txn_cmd *k, json_t *msg)
{
	struct txn *t = s->txn;

	if (t->applying && t->nb > 0 && k->held == NULL) {
		k->held = msg;
		return;
	}
	if (t->acking && k->receipt_seq > 0)
		txn_receipt(s, k, msg);
	if (k->conn_id != 0 && k->op[0])
		txn_log_reply(k, msg);
	if (k->conn_id == 0 || conn_get(s, k->conn_id) == NULL) {
		json_decref(msg);
		return;
	}
	outbox_reply(s, k->conn_id, msg);
}

/* Refuse a command with an error reply. */
void
txn_refuse(struct server *s, struct txn_cmd *k, const char *code, const char *message)
{
	if (k->conn_id)
		txn_reply(s, k, proto_error(k->id, code, message, NULL));
}

/* The store may take one more batch (max_batches_in_flight, read at each batch). */
static int
txn_can_begin(struct server *s)
{
	db_set_max_inflight(s->db, (int)s->cfg.max_batches_in_flight);
	return db_can_begin(s->db);
}

/* No batch may start: a serial command's batch is in flight, or the next command
 * is serial and a batch is. */
static int
txn_blocked(const struct txn *t)
{
	for (size_t i = 0; i < t->nb; i++)
		if (t->b[(t->bhead + i) % TXN_SLOTS].serial)
			return 1;
	return t->nb > 0 && t->q_head && t->q_head->ops->serial;
}

/* The next command's signature is still being checked: the drain stops there (the
 * check's end kicks the queue again). */
static int
txn_head_waits(const struct txn *t)
{
	return t->q_head && t->q_head->sig && sig_pending(t->q_head->sig);
}

/* Ask for a flush of the queue: at the end of this loop iteration, or after
 * batch_delay while the queue is below batch_max. */
void
txn_kick(struct server *s)
{
	struct txn *t = s->txn;

	if (t->q_head == NULL || txn_head_waits(t) || !txn_can_begin(s) || txn_blocked(t))
		return;
	if (s->cfg.batch_delay > 0 && t->q_len < (size_t)s->cfg.batch_max) {
		struct timeval tv = { s->cfg.batch_delay / 1000, (s->cfg.batch_delay % 1000) * 1000 };
		if (!event_pending(t->flush_ev, EV_TIMEOUT, NULL))
			event_add(t->flush_ev, &tv);
		return;
	}
	event_del(t->flush_ev);
	event_active(t->flush_ev, EV_TIMEOUT, 0);
}

/* Queue a command (or refuse a client's at once when the database is away). */
void
txn_enqueue(struct server *s, struct conn *c, struct txn_cmd *k)
{
	struct txn *t = s->txn;

	if (!db_ready(s->db) && k->conn_id != 0) {
		if (c)
			conn_send(c, proto_error(k->id, "unavailable",
			    "the database is unavailable; nothing was changed, retry later", NULL));
		txn_cmd_free(k);
		return;
	}
	if (c)
		conn_pending_add(c, 1);
	if (t->q_tail)
		t->q_tail->next = k;
	else
		t->q_head = k;
	t->q_tail = k;
	t->q_len++;
	txn_kick(s);
}

/* Nothing queued, nothing in flight. */
int
txn_idle(const struct server *s)
{
	const struct txn *t = s->txn;

	return t->q_head == NULL && t->nb == 0 && !db_busy(s->db);
}

/* Commands wait in the queue. */
int
txn_queued(const struct server *s)
{
	return s->txn->q_head != NULL;
}

/* A new object's bookkeeping. */
void
txn_obj_init(struct txn_obj *o, const struct txn_kind *kind)
{
	o->kind = kind;
	o->touched_batch = -1;
	o->created_batch = -1;
	o->dirty = 0;
	o->seq = 0;
}

/* Mark an object before the batch first changes it and add it to the touched set. */
int
txn_touch(struct server *s, struct txn_obj *o)
{
	struct txn *t = s->txn;
	struct txn_batch *b = txn_open(t);
	void *mark;

	if (o->touched_batch == t->seq)
		return 0;
	if (b->ntouched == b->captouched) {
		size_t ncap = b->captouched ? b->captouched * 2 : 64;
		struct txn_touched *nt = realloc(b->touched, ncap * sizeof(*nt));
		if (nt == NULL)
			return -1;
		b->touched = nt;
		b->captouched = ncap;
	}
	if ((mark = o->kind->mark(s, o)) == NULL)
		return -1;
	b->touched[b->ntouched].o = o;
	b->touched[b->ntouched].mark = mark;
	b->touched[b->ntouched].seq = o->seq;
	b->ntouched++;
	o->touched_batch = t->seq;
	o->dirty++;
	return 0;
}

/* See txn.h. */
int64_t
txn_obj_seq(struct txn_obj *o, int64_t seq)
{
	if (seq > o->seq)
		o->seq = seq;
	return seq;
}

/* A new object: touched, and dropped if its batch fails. */
int
txn_created(struct server *s, struct txn_obj *o)
{
	o->created_batch = s->txn->seq;
	return txn_touch(s, o);
}

/* The batch being built or in flight. */
int64_t
txn_batch(const struct server *s)
{
	return s->txn->seq;
}

/* Add a statement, opening the batch on first use. */
int64_t
txn_sql(struct server *s, enum db_stmt st, int n, const char *const *params, db_row_fn fn,
    void *arg)
{
	return db_batch_add(txn_db(s), st, n, params, fn, arg);
}

/* The command being applied names its own change. */
void
txn_own_change(struct server *s, int64_t seq)
{
	if (s->txn->cur != NULL && seq > 0)
		s->txn->cur->receipt_seq = seq;
}

/* The store, the batch opened on first use. */
struct db *
txn_db(struct server *s)
{
	if (!db_building(s->db))
		db_batch_begin(s->db);
	return s->db;
}

/* Park a read behind the batch in flight; it counts against the connection's bound. */
void
txn_park(struct server *s, struct conn *c, json_t *req_id, const struct txn_kind *kind,
    int64_t id)
{
	struct txn *t = s->txn;
	struct txn_park *w;
	const char *op;

	if (t->nparked == t->capparked) {
		size_t ncap = t->capparked ? t->capparked * 2 : 16;
		struct txn_park *np = realloc(t->parked, ncap * sizeof(*np));
		if (np == NULL) {
			conn_send(c, proto_error(req_id, "internal", "out of memory", NULL));
			return;
		}
		t->parked = np;
		t->capparked = ncap;
	}
	w = &t->parked[t->nparked++];
	w->conn_id = conn_ident(c)->id;
	w->id = json_incref(req_id ? req_id : json_null());
	w->kind = kind;
	w->obj = id;
	op = proto_current(&w->t0);
	snprintf(w->op, sizeof(w->op), "%s", op ? op : "-");
	w->since = -1;
	proto_current_target(&w->auction, &w->procurement);
	conn_pending_add(c, 1);
}

/* See txn.h. */
void
txn_park_since(struct server *s, struct conn *c, json_t *req_id, const struct txn_kind *kind,
    int64_t id, int64_t since)
{
	size_t n = s->txn->nparked;

	txn_park(s, c, req_id, kind, id);
	if (s->txn->nparked > n)
		s->txn->parked[n].since = since;
}

/* Answer the reads parked behind batches whose objects no batch in flight has
 * changed any more, from the committed state. */
static void
txn_answer_parked(struct server *s)
{
	struct txn *t = s->txn;
	size_t kept = 0;

	for (size_t i = 0; i < t->nparked; i++) {
		struct txn_park *w = &t->parked[i];
		struct txn_obj *o = w->kind->find(s, w->obj);
		struct conn *c;
		if (o != NULL && o->dirty) {
			t->parked[kept++] = *w;
			continue;
		}
		if ((c = conn_get(s, w->conn_id)) != NULL) {
			json_t *r = w->kind->read(s, w->obj, w->id, conn_ident(c)->who);
			if (w->since >= 0 && o != NULL && json_is_true(json_object_get(r, "ok")))
				json_object_set_new(r, "changed", json_boolean(o->seq > w->since));
			struct proto_req pr = { .conn = w->conn_id, .who = conn_ident(c)->who,
			    .fp = conn_ident(c)->cert->fp, .op = w->op, .id = w->id, .t0 = w->t0,
			    .auction = w->auction, .procurement = w->procurement };
			proto_log_reply(&pr, r);
			outbox_reply(s, w->conn_id, r);
		}
		json_decref(w->id);
	}
	t->nparked = kept;
}

/* Take the next command off the queue, its time made non-decreasing. */
static struct txn_cmd *
txn_pop(struct txn *t)
{
	struct txn_cmd *k = t->q_head;

	t->q_head = k->next;
	if (t->q_head == NULL)
		t->q_tail = NULL;
	t->q_len--;
	k->next = NULL;
	/* the engine sees a clock that never goes back */
	if (k->at < t->last_now)
		k->at = t->last_now;
	t->last_now = k->at;
	return k;
}

/* Commit or roll back every object a batch touched, kind by kind; rollbacks in
 * reverse. An object is settled when no other batch in flight changed it. */
static void
txn_settle_objects(struct server *s, struct txn_batch *b, int committed)
{
	struct txn *t = s->txn;

	for (int j = 0; j < t->nkinds; j++) {
		const struct txn_kind *kind = t->kinds[j];
		for (size_t n = 0; n < b->ntouched; n++) {
			size_t i = committed ? n : b->ntouched - 1 - n;
			struct txn_obj *o = b->touched[i].o;
			void *mark = b->touched[i].mark;
			if (o->kind != kind)
				continue;
			if (--o->dirty == 0)
				o->touched_batch = -1;
			if (committed) {
				if (o->created_batch == b->seq)
					o->created_batch = -1;
				kind->commit(s, o, mark, o->dirty == 0);
			} else if (o->created_batch == b->seq) {
				kind->drop(s, o, mark);
			} else {
				o->seq = b->touched[i].seq;
				kind->rollback(s, o, mark, o->dirty == 0);
			}
		}
	}
	b->ntouched = 0;
}

/* Send a reply held during apply. */
static void
txn_send_held(struct server *s, struct txn_cmd *k)
{
	json_t *r = k->held;

	k->held = NULL;
	txn_reply(s, k, r);
}

/* Acknowledge every command of a committed batch. */
static void
txn_commit_cmds(struct server *s, struct txn_batch *b)
{
	s->txn->acking = 1;
	for (struct txn_cmd *k = b->head; k; k = k->next) {
		if (k->held) {
			txn_send_held(s, k);
		} else if (k->ops->commit) {
			k->ops->commit(s, k);
		} else if (k->reply) {
			json_t *r = k->reply;
			k->reply = NULL;
			json_object_set(r, "id", k->id);
			txn_reply(s, k, r);
		}
	}
	s->txn->acking = 0;
}

/* Refuse every command of a batch that did not commit. A reply held during apply
 * stands when the batch failed itself (it rested on committed state); in a batch
 * rolled back with an earlier one (`cascaded`) it is replaced by the refusal. */
static void
txn_refuse_cmds(struct server *s, struct txn_batch *b, enum db_outcome o, int cascaded)
{
	for (struct txn_cmd *k = b->head; k; k = k->next) {
		if (k->held && !cascaded) {
			txn_send_held(s, k);
			continue;
		}
		if (k->held) {
			json_decref(k->held);
			k->held = NULL;
		} else if (k->ops->abort) {
			k->ops->abort(s, k);
		}
		if (o == DB_LOST)
			txn_refuse(s, k, "unavailable",
			    "the database became unavailable; nothing was changed, retry later");
		else
			txn_refuse(s, k, "internal", "the change could not be recorded; nothing was changed");
	}
}

/* Free a settled batch's commands. */
static void
txn_free_cmds(struct txn_batch *b)
{
	struct txn_cmd *k, *next;

	for (k = b->head; k; k = next) {
		next = k->next;
		txn_cmd_free(k);
	}
	b->head = b->tail = NULL;
	b->serial = 0;
}

/* The oldest batch in flight committed: acknowledge, commit its objects. */
static void
txn_settle_committed(struct server *s)
{
	struct txn *t = s->txn;
	struct txn_batch *b = &t->b[t->bhead];

	txn_commit_cmds(s, b);
	txn_settle_objects(s, b, 1);
	txn_free_cmds(b);
	t->bhead = (t->bhead + 1) % TXN_SLOTS;
	t->nb--;
}

/* The oldest batch in flight did not commit, so none in flight did: roll them all
 * back, newest first, then refuse their commands, oldest first. */
static void
txn_settle_failed(struct server *s, enum db_outcome o, const char *why)
{
	struct txn *t = s->txn;
	size_t nobj = 0;

	for (size_t i = t->nb; i-- > 0;) {
		struct txn_batch *b = &t->b[(t->bhead + i) % TXN_SLOTS];
		nobj += b->ntouched;
		txn_settle_objects(s, b, 0);
	}
	log_warn("batch not committed (%s): %zu batches, %zu objects rolled back",
	    why ? why : "?", t->nb, nobj);
	for (size_t i = 0; i < t->nb; i++) {
		struct txn_batch *b = &t->b[(t->bhead + i) % TXN_SLOTS];
		txn_refuse_cmds(s, b, o, i > 0);
		txn_free_cmds(b);
	}
	t->bhead = (t->bhead + t->nb) % TXN_SLOTS;
	t->nb = 0;
}

/* A signed command whose check failed: refused at once, outside any batch (the
 * refusal rests on no state a batch may roll back). 1 when it was refused. */
static int
txn_sig_refused(struct server *s, struct txn_cmd *k)
{
	const char *code = NULL;
	char msg[300];
	json_t *r;

	if (k->sig == NULL || sig_verdict(s, k->sig, k->who, &code, msg, sizeof(msg)) == 0)
		return 0;
	r = proto_error(k->id, code, msg, "signature");
	if (k->op[0])
		txn_log_reply(k, r);
	if (conn_get(s, k->conn_id) != NULL)
		outbox_reply(s, k->conn_id, r);
	else
		json_decref(r);
	return 1;
}

/* See txn.h. */
void
txn_sign(struct server *s, struct txn_cmd *k)
{
	size_t len;
	const unsigned char *der;

	if (k == NULL)
		k = s->txn->cur;
	if (k == NULL || k != s->txn->cur || k->sig == NULL || k->sig_used)
		return;
	der = sig_der(k->sig, &len);
	db_batch_sign(s->db, sig_statement(k->sig), der, len, sig_signer(k->sig));
	k->sig_used = 1;
}

/* Apply queued commands into the batch being built. A command whose signature is
 * still being checked stops the drain: commands are applied in arrival order. */
static void
txn_fill(struct server *s, struct txn_batch *b)
{
	struct txn *t = s->txn;
	long n = 0;

	t->applying = 1;
	while (t->q_head && n++ < s->cfg.batch_max) {
		struct txn_cmd *k;
		int kept;
		if (t->q_head->ops->serial && t->nb > 0)
			break;  /* a serial command waits until nothing is in flight */
		if (txn_head_waits(t))
			break;
		int64_t seq0;
		k = txn_pop(t);
		if (txn_sig_refused(s, k)) {
			txn_cmd_free(k);
			continue;
		}
		if (k->ops->serial)
			b->serial = 1;
		seq0 = db_next_seq(s->db);
		t->cur = k;
		kept = k->ops->apply(s, k);
		t->cur = NULL;
		db_batch_sign(s->db, NULL, NULL, 0, NULL);  /* unused: goes with no other row */
		if (k->receipt_seq == 0 && db_next_seq(s->db) > seq0)
			k->receipt_seq = seq0;
		if (!kept && k->held == NULL) {
			txn_cmd_free(k);
			continue;
		}
		if (b->tail)
			b->tail->next = k;
		else
			b->head = k;
		b->tail = k;
	}
	t->applying = 0;
}

/* A batch is sent: its size and start for the metrics. */
static void
txn_count_sent(struct txn_batch *b)
{
	size_t n = 0;

	for (const struct txn_cmd *k = b->head; k != NULL; k = k->next)
		n++;
	b->sent_us = proto_clock_us();
	metrics_batch_sent(n);
}

/* Drain the queue into one batch and send it. */
static void
txn_flush(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct txn *t = s->txn;
	struct txn_batch *b;

	if (t->q_head == NULL || txn_head_waits(t))
		return;
	if (!txn_can_begin(s) || txn_blocked(t)) {
		if (!db_busy(s->db) && !db_ready(s->db))
			txn_db_state(s, 0);
		return;
	}
	b = txn_open(t);
	b->seq = ++t->seq;
	b->ntouched = 0;
	b->head = b->tail = NULL;
	b->serial = 0;
	txn_fill(s, b);
	if (!db_building(s->db) && t->nb > 0 && (b->head || b->ntouched))
		db_batch_begin(s->db);  /* settles behind the batches in flight */
	if (db_building(s->db)) {
		t->nb++;
		txn_count_sent(b);
		db_batch_send(s->db, txn_batch_done, s);
		return;
	}
	/* nothing to write (every command refused without a trace, or no-op ticks),
	 * nothing in flight */
	outbox_hold(s);
	t->nb++;
	txn_settle_committed(s);
	txn_answer_parked(s);
	txn_kick(s);
	outbox_release(s);
}

/* The oldest batch in flight is over: acknowledge and tell watchers, or roll
 * back it and every later one. */
static void
txn_batch_done(void *arg, enum db_outcome o, const char *why)
{
	struct server *s = arg;
	struct txn *t = s->txn;

	/*
	 * Replies and events of this batch are rendered now, from the committed
	 * state, but written only after the next batch has been sent: PostgreSQL
	 * commits it while tenderd encrypts and writes these.
	 */
	outbox_hold(s);
	if (o == DB_COMMITTED)
		metrics_batch_done(1, proto_clock_us() - t->b[t->bhead].sent_us);
	else if (o != DB_SKIPPED)
		for (size_t i = 0; i < t->nb; i++)
			metrics_batch_done(0, 0);
	if (o == DB_COMMITTED)
		txn_settle_committed(s);
	else if (o != DB_SKIPPED)
		txn_settle_failed(s, o, why);
	txn_answer_parked(s);
	if (s->cfg.batch_delay == 0 && t->q_head && !txn_head_waits(t) && txn_can_begin(s) &&
	    !txn_blocked(t))
		txn_flush(-1, 0, s);
	else
		txn_kick(s);
	outbox_release(s);
}

/* Re-arm the timers of every object of every kind. */
void
txn_rearm(struct server *s)
{
	struct txn *t = s->txn;

	for (int j = 0; j < t->nkinds; j++)
		t->kinds[j]->rearm(s);
}

/* The database came back (re-arm every timer) or went away (refuse the queue). */
void
txn_db_state(void *arg, int up)
{
	struct server *s = arg;
	struct txn *t = s->txn;

	metrics_db_state(up);
	if (up) {
		txn_rearm(s);
		txn_kick(s);
		notify_ready();  /* listening (serve() listens first) and the writer lock held */
		return;
	}
	while (t->q_head) {
		struct txn_cmd *k = t->q_head;
		t->q_head = k->next;
		if (k->ops->abort)
			k->ops->abort(s, k);
		txn_refuse(s, k, "unavailable", "the database is unavailable; nothing was changed, retry later");
		txn_cmd_free(k);
	}
	t->q_tail = NULL;
	t->q_len = 0;
}
