/*
 * PostgreSQL for tenderd. Only db.c and db_boot.c include libpq-fe.h.
 *
 * db.c: the asynchronous side, used inside the event loop. One non-blocking
 * connection in pipeline mode, watched by libevent. State changes are written
 * in batches (group commit): the caller opens a batch, adds prepared
 * statements, and sends it; the statements run as one implicit transaction
 * ended by a pipeline Sync, and the completion callback learns whether it
 * committed. One batch is in flight at a time; the next is built from what
 * arrived meanwhile.
 *
 * Each batch first records its id in tenderd_state. When the connection is
 * lost while a batch is in flight, its outcome is unknown: the batch is held
 * until a new connection reads tenderd_state and tells whether it committed.
 *
 * db_boot.c: blocking calls for start-up and the admin commands (migrations,
 * loading state, offline registration). Never called from the event loop.
 */
#ifndef TENDERD_DB_H
#define TENDERD_DB_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct db;
struct db_res;

/* Advisory lock key held by the session that writes (see db.c). */
#define DB_WRITER_LOCK "7443002"
/* Advisory lock key held by `tenderd migrate` while it migrates. */
#define DB_MIGRATE_LOCK "7443001"

/* Prepared statements (SQL in db.c). */
enum db_stmt {
	DB_S_MARK = 0,
	DB_S_CREATE,
	DB_S_BID,
	DB_S_REFUSED,
	DB_S_EXTENDED,
	DB_S_STARTED,
	DB_S_CLOSED,
	DB_S_CANCELLED,
	DB_S_REGISTER,
	DB_S_PROC_LOG,
	DB_S_SEED,
	DB_S_STATUS,
	DB_S_ORG_STATUS,
	DB_S_BIDS,      /* internal: a run of DB_S_BID rows as one multi-row insert */
	DB_S_COUNT
};

/* Outcome of a batch. */
enum db_outcome {
	DB_COMMITTED = 0,
	DB_FAILED,      /* a statement failed; the transaction rolled back */
	DB_LOST,        /* the connection was lost and the batch did not commit */
};

typedef void (*db_row_fn)(void *arg, const struct db_res *res);
typedef void (*db_done_fn)(void *arg, enum db_outcome outcome, const char *why);
typedef void (*db_state_fn)(void *arg, int up);

/* Create the client; it connects in the background and reconnects every
 * `retry_s` seconds while PostgreSQL is away. `on_state` is told of every
 * change of db_ready(). */
struct db *db_new(struct event_base *base, const char *conninfo, int retry_s,
    int64_t next_batch, db_state_fn on_state, void *arg);
void db_free(struct db *db);

/* Connected, statements prepared, nothing in doubt. */
int db_ready(const struct db *db);
/* A batch is being built or is in flight. */
int db_busy(const struct db *db);

/* Start a batch. Only when db_ready() and !db_busy(). */
void db_batch_begin(struct db *db);
/* Add a statement (params are copied; NULL is SQL NULL). `fn`, when set, is
 * called with the statement's result rows when they arrive (before the
 * outcome is known). Consecutive DB_S_BID statements without `fn` are sent as
 * one multi-row insert, in their order, when another statement is added or
 * the batch is sent. */
void db_batch_add(struct db *db, enum db_stmt s, int nparams, const char *const *params,
    db_row_fn fn, void *arg);
/* Number of statements added to the open batch. */
size_t db_batch_len(const struct db *db);
/* Send the open batch; `done` is called once with its outcome. */
void db_batch_send(struct db *db, db_done_fn done, void *arg);

/* Accessors for statement results. */
int db_res_rows(const struct db_res *res);
const char *db_res_value(const struct db_res *res, int row, int col);

/* ---- blocking, for start-up and admin commands (db_boot.c) ---- */

/* The application_name of tenderd's sessions, unless the conninfo sets one (it shows in
 * pg_stat_activity, and in the message of a second tenderd that finds the writer lock taken). */
void db_set_application_name(const char *name);
const char *db_application_name(void);

/* Seconds tenderd tries for the writer lock at start-up before it gives up, naming the
 * session that holds it. */
#define DB_WRITER_LOCK_WAIT_S 5

/* Apply the migrations in `dir` that are not yet recorded, as the owner role. A statement
 * that waits longer than `lock_timeout_s` for a lock fails the migration with the sessions
 * that hold locks (pid, role, application_name, transaction start). */
int db_boot_migrate(const char *conninfo, const char *dir, long lock_timeout_s, char *cause,
    size_t n);

/* Check that every migration in `dir` is recorded (tenderd does not migrate at start-up: its
 * role may not). 0, or -1 with `cause` naming the first missing one. */
int db_boot_check(const char *conninfo, const char *dir, char *cause, size_t n);

/* Rows handed to the loader, in this order: orgs, participants, auctions, bids. */
struct db_boot_org { int64_t id; const char *name, *status; };
struct db_boot_participant {
	int64_t id, org_id;
	const char *name, *role, *status, *fingerprint;
};
struct db_boot_auction {
	int64_t id, buyer_participant, buyer_org;
	const char *title, *currency, *state, *cancel_reason;
	int currency_exp;
	int64_t start_price;
	int step_min_percent, step_max_percent;
	int64_t step_min_value, step_max_value, step_min_amount, step_max_amount;
	int64_t starts_at, scheduled_end, ends_at, closed_at, ext_window, ext_length;
	int extensions;
	int64_t procurement_id;
	int lot_id;
};
struct db_boot_bid {
	int64_t id, auction_id, seq, participant_id, org_id, amount, at;
	const char *fingerprint;
	int seeded;
};
struct db_boot_proc_log {
	int64_t procurement_id, at, participant_id, org_id;
	const char *kind, *fingerprint, *detail;
};
struct db_boot_sink {
	void *arg;
	int (*proc_log)(void *arg, const struct db_boot_proc_log *r);
	int (*org)(void *arg, const struct db_boot_org *o);
	int (*participant)(void *arg, const struct db_boot_participant *p);
	int (*auction)(void *arg, const struct db_boot_auction *a);
	int (*bid)(void *arg, const struct db_boot_bid *b);
	/* refused bids recorded per (auction, organization) */
	int (*refused)(void *arg, int64_t auction_id, int64_t org_id, int64_t count);
};

/* Largest ids in use, for allocating new ones. */
struct db_boot_ids {
	int64_t last_batch, bid, auction, procurement, offer;
};

/* Load everything (organizations, participants, auctions, bids, then the
 * procurement log in order). 0, or -1 with `cause`. */
int db_boot_load(const char *conninfo, const struct db_boot_sink *sink, struct db_boot_ids *ids,
    char *cause, size_t n);

/* Register a participant with a blocking connection. Returns 0, 1 when the
 * certificate is already registered, -1 on error with `cause`. */
int db_boot_register(const char *conninfo, const char *role, const char *org,
    const char *name, const char *fp, const char *subject, const char *serial,
    const char *not_before, const char *not_after, const char *pem,
    int64_t *participant_id, int64_t *org_id, char *cause, size_t n);

#endif
