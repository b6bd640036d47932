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
 * Only one batch is in flight: the objects in memory are the committed state
 * plus that batch. A read of an object the batch changed is parked and
 * answered when the batch is over, so nobody sees a state that may roll back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "server/server.h"

#define TXN_MAX_KINDS 4

/* A read parked behind the batch in flight. */
struct txn_park {
	uint64_t conn_id;
	json_t *id;
	const struct txn_kind *kind;
	int64_t obj;
	char op[48];
	int64_t t0;
};

/* The queue, the batch in flight and its touched set. */
struct txn {
	struct event *flush_ev;
	struct txn_cmd *q_head, *q_tail;   /* waiting for the next batch, FIFO */
	size_t q_len;
	struct txn_cmd *b_head, *b_tail;   /* the batch in flight */
	struct txn_obj **touched;          /* objects changed by it, in order */
	size_t ntouched, captouched;
	struct txn_park *parked;           /* reads waiting for it */
	size_t nparked, capparked;
	int64_t seq;                       /* the batch being built or in flight */
	int64_t last_now;                  /* commands are applied with non-decreasing times */
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

/* Free the queue's memory (after the loop). */
void
txn_free(struct server *s)
{
	struct txn *t = s->txn;

	if (t == NULL)
		return;
	if (t->flush_ev)
		event_free(t->flush_ev);
	free(t->touched);
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
	}
}

/* Free a command. */
static void
txn_cmd_free(struct txn_cmd *k)
{
	json_decref(k->id);
	json_decref(k->reply);
	if (k->ops->free)
		k->ops->free(k);
	else
		free(k);
}

/* Reply to a command, if its connection is still there; the reply releases its
 * place among the connection's pending requests. */
void
txn_reply(struct server *s, struct txn_cmd *k, json_t *msg)
{
	if (k->conn_id != 0 && k->op[0])
		proto_log_reply(k->conn_id, k->fp, k->op, k->id, k->t0, msg);
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

/* Ask for a flush of the queue: at the end of this loop iteration, or after
 * batch_delay while the queue is below batch_max. */
void
txn_kick(struct server *s)
{
	struct txn *t = s->txn;

	if (t->q_head == NULL || db_busy(s->db) || !db_ready(s->db))
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

	return t->q_head == NULL && t->b_head == NULL && !db_busy(s->db);
}

/* A new object's bookkeeping. */
void
txn_obj_init(struct txn_obj *o, const struct txn_kind *kind)
{
	o->kind = kind;
	o->touched_batch = -1;
	o->created_batch = -1;
	o->dirty = 0;
}

/* Mark an object before the batch first changes it and add it to the touched set. */
int
txn_touch(struct server *s, struct txn_obj *o)
{
	struct txn *t = s->txn;

	if (o->touched_batch == t->seq)
		return 0;
	if (t->ntouched == t->captouched) {
		size_t ncap = t->captouched ? t->captouched * 2 : 64;
		struct txn_obj **nt = realloc(t->touched, ncap * sizeof(*nt));
		if (nt == NULL)
			return -1;
		t->touched = nt;
		t->captouched = ncap;
	}
	if (o->kind->mark(s, o) < 0)
		return -1;
	t->touched[t->ntouched++] = o;
	o->touched_batch = t->seq;
	o->dirty = 1;
	return 0;
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

/* The store, the batch opened on first use. */
struct db *
txn_db(struct server *s)
{
	if (!db_busy(s->db))
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
	conn_pending_add(c, 1);
}

/* Answer the reads parked behind the batch, from the state it left. */
static void
txn_answer_parked(struct server *s)
{
	struct txn *t = s->txn;

	for (size_t i = 0; i < t->nparked; i++) {
		struct txn_park *w = &t->parked[i];
		struct conn *c = conn_get(s, w->conn_id);
		if (c != NULL) {
			json_t *r = w->kind->read(s, w->obj, w->id, conn_ident(c)->who);
			proto_log_reply(w->conn_id, conn_ident(c)->cert->fp, w->op, w->id, w->t0, r);
			outbox_reply(s, w->conn_id, r);
		}
		json_decref(w->id);
	}
	t->nparked = 0;
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

/* Commit or roll back every touched object, kind by kind; rollbacks in reverse. */
static void
txn_settle_objects(struct server *s, int committed)
{
	struct txn *t = s->txn;

	for (int j = 0; j < t->nkinds; j++) {
		const struct txn_kind *kind = t->kinds[j];
		for (size_t n = 0; n < t->ntouched; n++) {
			size_t i = committed ? n : t->ntouched - 1 - n;
			struct txn_obj *o = t->touched[i];
			if (o->kind != kind)
				continue;
			o->dirty = 0;
			o->touched_batch = -1;
			if (committed) {
				o->created_batch = -1;
				kind->commit(s, o);
			} else if (o->created_batch == t->seq) {
				kind->drop(s, o);
			} else {
				kind->rollback(s, o);
			}
		}
	}
	t->ntouched = 0;
}

/* The batch is over: acknowledge every command, or refuse it; free the batch. */
static void
txn_settle(struct server *s, enum db_outcome o, const char *why)
{
	struct txn *t = s->txn;
	struct txn_cmd *k, *next;

	if (o == DB_COMMITTED) {
		for (k = t->b_head; k; k = k->next) {
			if (k->ops->commit) {
				k->ops->commit(s, k);
			} else if (k->reply) {
				json_t *r = k->reply;
				k->reply = NULL;
				json_object_set(r, "id", k->id);
				txn_reply(s, k, r);
			}
		}
		txn_settle_objects(s, 1);
	} else {
		log_warn("batch not committed (%s): %zu objects rolled back", why ? why : "?",
		    t->ntouched);
		txn_settle_objects(s, 0);
		for (k = t->b_head; k; k = k->next) {
			if (k->ops->abort)
				k->ops->abort(s, k);
			if (o == DB_LOST)
				txn_refuse(s, k, "unavailable",
				    "the database became unavailable; nothing was changed, retry later");
			else
				txn_refuse(s, k, "internal", "the change could not be recorded; nothing was changed");
		}
	}
	for (k = t->b_head; k; k = next) {
		next = k->next;
		txn_cmd_free(k);
	}
	t->b_head = t->b_tail = NULL;
	txn_answer_parked(s);
}

/* Drain the queue into one batch and send it. */
static void
txn_flush(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct txn *t = s->txn;
	long n = 0;

	if (db_busy(s->db) || t->q_head == NULL)
		return;
	if (!db_ready(s->db)) {
		txn_db_state(s, 0);
		return;
	}
	t->seq++;
	t->ntouched = 0;
	while (t->q_head && n++ < s->cfg.batch_max) {
		struct txn_cmd *k = txn_pop(t);
		if (!k->ops->apply(s, k)) {
			txn_cmd_free(k);
			continue;
		}
		if (t->b_tail)
			t->b_tail->next = k;
		else
			t->b_head = k;
		t->b_tail = k;
	}
	if (db_busy(s->db)) {
		db_batch_send(s->db, txn_batch_done, s);
		return;
	}
	/* nothing to write (every command refused without a trace, or no-op ticks) */
	outbox_hold(s);
	txn_settle(s, DB_COMMITTED, NULL);
	txn_kick(s);
	outbox_release(s);
}

/* The batch in flight is over: acknowledge and tell watchers, or roll back. */
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
	txn_settle(s, o, why);
	if (s->cfg.batch_delay == 0 && t->q_head && db_ready(s->db) && !db_busy(s->db))
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

	if (up) {
		txn_rearm(s);
		txn_kick(s);
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
