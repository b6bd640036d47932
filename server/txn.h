/*
 * The one write path (server/txn.c): every state change of every kind of
 * object goes through it. A change is a command (`struct txn_cmd`, embedded
 * first in the command of its kind); commands queue, are applied in batches
 * to memory while their SQL joins the batch, and are acknowledged only after
 * the batch commits. Objects that a batch changes (`struct txn_obj`, embedded
 * in a live auction or a procedure) are marked before the first change and
 * restored to the mark if the batch does not commit. Reads of an object the
 * batches in flight have changed are parked until they are all over.
 *
 * txn.c knows no kind of object or command: each kind plugs in through the
 * two tables below.
 */
#ifndef TENDERD_TXN_H
#define TENDERD_TXN_H

#include <stdint.h>

#include <jansson.h>

#include "server/db.h"
#include "server/tls.h"

struct server;
struct conn;
struct participant;
struct txn_obj;
struct txn_cmd;
struct sig_job;

/* What the write path needs of one kind of object (a live auction, a procedure).
 * Several batches may be in flight: each batch that changes an object takes its own
 * mark; marks are committed oldest first and rolled back newest first. `settled`
 * says no other batch in flight has changed the object (its state in memory is
 * committed): only then are watchers told. */
struct txn_kind {
	/* Remember the state before the batch first changes it; NULL when out of memory. */
	void *(*mark)(struct server *s, struct txn_obj *o);
	/* The batch committed: forget the mark; when settled, tell watchers, re-arm timers. */
	void (*commit)(struct server *s, struct txn_obj *o, void *mark, int settled);
	/* The batch failed: restore the mark and forget it; when settled, tell watchers
	 * what committed batches changed and they were not yet told. */
	void (*rollback)(struct server *s, struct txn_obj *o, void *mark, int settled);
	/* The batch that created the object failed: forget it and free it. */
	void (*drop)(struct server *s, struct txn_obj *o, void *mark);
	/* The reply to a read parked behind the batch (the object may be gone by now). */
	json_t *(*read)(struct server *s, int64_t id, json_t *req_id, const struct participant *v);
	/* The database is back: re-arm the timers of every object of this kind. */
	void (*rearm)(struct server *s);
	/* The bookkeeping of object `id`, NULL when there is none (parked reads). */
	struct txn_obj *(*find)(struct server *s, int64_t id);
};

/* The write path's bookkeeping inside an object. */
struct txn_obj {
	const struct txn_kind *kind;
	int64_t touched_batch;     /* batch that last changed it (-1: none) */
	int64_t created_batch;     /* batch that created it, until that commits (-1: none) */
	int dirty;                 /* batches in flight that changed it (0: committed state) */
	int64_t seq;               /* the change-log seq of its last change in memory (from the
	                            * log at start-up; 0: none): a batch that does not commit
	                            * gives it back (views only show committed state) */
};

/* What the write path needs of one kind of command. */
struct txn_cmd_ops {
	/* Apply to memory, adding SQL with txn_sql: 1 when kept for the commit, 0 when done
	 * (refused with txn_refuse, or nothing to do). */
	int (*apply)(struct server *s, struct txn_cmd *k);
	/* The batch committed: reply (NULL: send `reply` if set). */
	void (*commit)(struct server *s, struct txn_cmd *k);
	/* Refused without effect (dropped from the queue while the database is away, or its
	 * batch did not commit): undo what it noted outside the objects' marks. NULL: nothing. */
	void (*abort)(struct server *s, struct txn_cmd *k);
	/* Free the command (NULL: free()). */
	void (*free)(struct txn_cmd *k);
	/* Applied only when no batch is in flight: its effect on what later commands are
	 * checked against (the registry, a participant's status) exists only once it
	 * commits, so no command is applied while it is in flight either. */
	int serial;
};

/* A queued state change. */
struct txn_cmd {
	struct txn_cmd *next;
	const struct txn_cmd_ops *ops;
	uint64_t conn_id;          /* 0: the clock's own */
	json_t *id;                /* request id, echoed */
	int64_t at;                /* arrival time: the time the engine uses */
	struct participant *who;
	char fp[TLS_FP_LEN + 1];
	json_t *reply;             /* the reply to send on commit, when apply prepared it */
	json_t *held;              /* a reply given during apply while earlier batches are in
	                            * flight: sent when its batch settles */
	/* the request, for the log line of its reply (empty op: nothing to log) */
	char op[48];
	int64_t t0;
	int64_t auction, procurement;  /* the request's targets; 0: none */
	/* a signed request: its signature check (server/sig.h), NULL when unsigned. The
	 * command is applied only once the check is done, and refused if it failed. */
	struct sig_job *sig;
	int sig_used;              /* its statement went with one of its change rows */
	/* the seq of the command's own change, whose receipt its acknowledgement carries
	 * (0: it wrote none); noted by txn.c around apply */
	int64_t receipt_seq;
};

/* Create the queue and the flush event. */
int txn_init(struct server *s);
void txn_free(struct server *s);
/* A kind of object whose timers are re-armed when the database is back; objects are
 * committed and rolled back kind by kind, in the order the kinds were added. */
int txn_add_kind(struct server *s, const struct txn_kind *kind);

/* Fill the common part of a command for a request on `c` (NULL: the clock). */
void txn_cmd_init(struct txn_cmd *k, const struct txn_cmd_ops *ops, struct conn *c, json_t *id);
/* Queue a command (or refuse it at once when the database is away and it comes from
 * a client; the clock's commands wait). Takes the command. */
void txn_enqueue(struct server *s, struct conn *c, struct txn_cmd *k);
/* Start a batch when the queue holds commands and another may be in flight. */
void txn_kick(struct server *s);
/* Nothing queued, nothing in flight. */
int txn_idle(const struct server *s);
/* Commands wait in the queue (they will form or join the next batch). */
int txn_queued(const struct server *s);
/* Re-arm the timers of every object (start-up, the database back). */
void txn_rearm(struct server *s);
/* The database came back or went away (db.c's callback). */
void txn_db_state(void *arg, int up);

/* Inside apply: remember an object before the batch first changes it (0, or -1). */
int txn_touch(struct server *s, struct txn_obj *o);
/* Inside apply: the object is new; removed with kind->drop if the batch fails. */
int txn_created(struct server *s, struct txn_obj *o);
/* A new object's bookkeeping (not touched, not created by a batch). */
void txn_obj_init(struct txn_obj *o, const struct txn_kind *kind);
/* The batch being built or in flight (a number that grows with every batch). */
int64_t txn_batch(const struct server *s);
/* Inside apply: add a statement to the batch; the seq of the change it writes (0: none). */
int64_t txn_sql(struct server *s, enum db_stmt st, int n, const char *const *params,
    db_row_fn fn, void *arg);
/* Inside apply, just before the change row that records what command `k` asked for
 * (an accepted or refused bid, a creation, a procedure change by its actor; NULL: the
 * command being applied): its signed statement, if any, goes with that row, once, when
 * `k` is the command being applied. */
void txn_sign(struct server *s, struct txn_cmd *k);
/* Inside apply: the change numbered `seq` is the command's own, the one its receipt
 * names (by default its first change: a bid that starts its auction first names the
 * bid). */
void txn_own_change(struct server *s, int64_t seq);
/* Inside apply: the store with the batch open, for its typed row writers (db_proc_add). */
struct db *txn_db(struct server *s);
/* Reply to a command (stolen): logged, held back while the batch completes. */
void txn_reply(struct server *s, struct txn_cmd *k, json_t *msg);
/* Refuse a command with an error reply. */
void txn_refuse(struct server *s, struct txn_cmd *k, const char *code, const char *message);

/* A read of object `id` of `kind` on `c` that waits for the batch in flight (the object
 * is dirty); answered with kind->read when the batch is over. */
void txn_park(struct server *s, struct conn *c, json_t *req_id, const struct txn_kind *kind,
    int64_t id);
/* Object `o` has a change at log position `seq` (what txn_sql returned): its seq. Returns
 * seq. */
int64_t txn_obj_seq(struct txn_obj *o, int64_t seq);
/* The same for a watch that gives `since`: its reply also says whether the object's seq
 * is above it ("changed"). */
void txn_park_since(struct server *s, struct conn *c, json_t *req_id,
    const struct txn_kind *kind, int64_t id, int64_t since);

#endif
