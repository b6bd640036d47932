/*
 * PostgreSQL for tenderd. Only db.c, db_boot.c, db_dial.c, db_role.c and verify_*.c include
 * libpq-fe.h.
 *
 * db.c: the asynchronous side, used inside the event loop. One non-blocking
 * connection in pipeline mode, watched by libevent. State changes are written
 * in batches (group commit): the caller opens a batch, adds prepared
 * statements, and sends it; the statements run as one implicit transaction
 * ended by a pipeline Sync, and the completion callback learns whether it
 * committed. Up to max_batches_in_flight batches are in flight at a time, in
 * the one pipeline; the next is built from what arrived meanwhile.
 *
 * Each batch first records its id in tenderd_state, and fails unless the
 * previous batch did: batches commit in order, and when one does not commit
 * no later one does (db.c's struct db_batch). When the connection is lost
 * with batches in flight, their outcome is unknown: they are held until a new
 * connection reads tenderd_state and tells which committed (a prefix).
 *
 * db_boot.c: blocking calls for start-up and the admin commands (migrations,
 * loading state, offline registration). Never called from the event loop.
 * verify_*.c (tenderd verify, an auditor's command) has blocking connections of
 * its own.
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
/* Advisory lock key held by the role session of the primary tenderd (db_role.c). */
#define DB_PRIMARY_LOCK "7443003"

/*
 * Prepared statements (SQL in db.c; the procurement projection's in db_proc.c).
 *
 * Every statement marked "change" below writes exactly one row of `changes`,
 * the log of every change: its typed rows (a bid, an auction's new state...)
 * and the change row go in the same statement. The caller passes the
 * parameters listed; db.c appends the change's `seq` as one more parameter
 * and returns it from db_batch_add().
 */
enum db_stmt {
	DB_S_MARK = 0,
	DB_S_CREATE,      /* change */
	DB_S_BID,         /* change */
	DB_S_REFUSED,     /* change */
	DB_S_EXTENDED,    /* change */
	DB_S_STARTED,     /* change */
	DB_S_CLOSED,      /* change */
	DB_S_CANCELLED,   /* change */
	DB_S_REGISTER,    /* change */
	DB_S_PROC_CHANGE, /* change: one change of a procedure (db_proc_add() adds its projection) */
	DB_S_SEED,        /* change */
	DB_S_STATUS,      /* change */
	DB_S_ORG_STATUS,  /* change */
	DB_S_CERT_ADD,    /* change */
	DB_S_BIDS,        /* internal: a run of DB_S_BID rows as one multi-row insert */
	DB_S_UNSIGNED,    /* an auction created with signed_bids false (after its DB_S_CREATE) */
	DB_S_FORMAT,      /* an auction's format and extension limits, when not the defaults
	                   * (after its DB_S_CREATE) */
	DB_S_RULES,       /* an auction's rules of every format (visibility), when not the
	                   * defaults (after its DB_S_CREATE) */
	DB_S_RULE,        /* change: an operator's pause, resume or extension (kind paused,
	                   * resumed, prolonged) */
	DB_S_CLOCK,       /* a clock format's clock parameters (after its DB_S_FORMAT) */
	/* second-place tail */
	DB_S_TAIL_MS,     /* an auction's tail length, when it has a tail (after its DB_S_CREATE) */
	DB_S_TAIL,        /* change: the main phase ended with a winner, the tail opened (kind tail) */
	DB_S_TAIL_END,    /* a pause or an operator's extension in the tail moved its end (after
	                   * the DB_S_RULE change) */
	DB_S_ROUNDS,      /* a rounds auction's timeline parameters (after its DB_S_FORMAT) */
	DB_S_LEAVES,      /* internal: the leaf hashes of the batch's changes, at its end (unless
	                   * DB_S_BIDS returned them all) */
	DB_S_HEAD,        /* a signed tree head: size, root, at, signature, key fingerprint */
	DB_S_LOG_KEY,     /* a log key's certificate: fingerprint, PEM (once) */
	/* sealed-bid auctions */
	DB_S_SEALED_BID,  /* change: as DB_S_BID, the row sealed (its body salted; docs/trust.md) */
	DB_S_SEALED,      /* an auction of a sealed format (after its DB_S_CREATE) */
	DB_S_PRICE_PAID,  /* a sealed auction's price paid (with its DB_S_CLOSED) */
	/* proxy bidding */
	DB_S_AUTOBID,     /* change: as DB_S_BID, a bid placed by a proxy (bids.automatic) */
	DB_S_PROXY,       /* change: a proxy set or withdrawn (kind proxy_set, proxy_withdrawn),
	                   * sealed until the auction is final */
	/* multi-lot auctions */
	DB_S_LOT,         /* a lot of a multi-lot event (after its DB_S_CREATE) */
	/* outage pause */
	DB_S_OUTAGE,      /* an auction's outage rule, when it has one (after its DB_S_CREATE) */
	/* the procurement projection (db_proc.c): typed rows, no change row */
	DB_S_P_CREATE,
	DB_S_P_VERSION,
	DB_S_P_DOCUMENT,
	DB_S_P_AMEND,
	DB_S_P_QUESTION,
	DB_S_P_ANSWER,
	DB_S_P_OFFER,
	DB_S_P_REVISION,
	DB_S_P_CANCEL,
	DB_S_P_STATE,
	DB_S_COUNT
};
#define DB_S_P_FIRST DB_S_P_CREATE

/* Name and SQL of a projection statement (db_proc.c), for db.c to prepare. */
struct db_stmt_def {
	const char *name;
	const char *sql;
	int change;       /* writes one row of `changes`: seq is the parameter after the caller's */
};
/* The projection statements of db_proc.c, DB_S_P_FIRST onwards, in order. */
extern const struct db_stmt_def db_proc_stmts[DB_S_COUNT - DB_S_P_FIRST];
/* Give db.c the statements from DB_S_P_FIRST on (main.c passes db_proc_stmts), before
 * db_new(): the store of procedures builds on db.c, not db.c on it. */
void db_use_proc_stmts(const struct db_stmt_def *defs);

/* Outcome of a batch. */
enum db_outcome {
	DB_COMMITTED = 0,
	DB_FAILED,      /* a statement failed; the transaction rolled back */
	DB_LOST,        /* the connection was lost and the batch did not commit */
	DB_SKIPPED,     /* a batch doomed by an earlier one's failure (the owner rolled it
	                 * back then) has drained: nothing to do but start the next */
};

/* Most batches in flight at once (max_batches_in_flight). */
#define DB_MAX_INFLIGHT 4

typedef void (*db_row_fn)(void *arg, const struct db_res *res);
typedef void (*db_done_fn)(void *arg, enum db_outcome outcome, const char *why);
typedef void (*db_state_fn)(void *arg, int up);

/* Create the client; it connects in the background and reconnects every
 * `retry_s` seconds while PostgreSQL is away. `on_state` is told of every
 * change of db_ready(). */
struct db *db_new(struct event_base *base, const char *conninfo, int retry_s,
    int64_t next_batch, int64_t next_seq, db_state_fn on_state, void *arg);
void db_free(struct db *db);

/* Connected, statements prepared, nothing in doubt. */
int db_ready(const struct db *db);
/* The session holds tenderd's writer lock (connected past preparing). */
int db_writer_lock(const struct db *db);
/* A batch is being built or is in flight. */
int db_busy(const struct db *db);

/* A batch is open (begun, not yet sent). */
int db_building(const struct db *db);
/* A batch may begin: ready, none open, fewer than the limit in flight, and no batch
 * doomed by a failure still draining. */
int db_can_begin(const struct db *db);
/* At most `n` batches in flight (clamped to 1..DB_MAX_INFLIGHT). */
void db_set_max_inflight(struct db *db, int n);
/* Start a batch. Only when db_can_begin(). */
void db_batch_begin(struct db *db);
/* Add a statement (params are copied; NULL is SQL NULL). `fn`, when set, is
 * called with the statement's result rows when they arrive (before the
 * outcome is known). Consecutive DB_S_BID statements without `fn` are sent as
 * one multi-row insert, in their order, when another statement is added or
 * the batch is sent. Returns the `seq` of the change the statement writes
 * (0 for a statement that writes none).
 *
 * Sequence: tenderd is the only writer of `changes` (it holds the writer
 * lock), so db.c numbers the changes itself: the next after max(seq) at
 * start-up, one after another in the order they are added. A batch that does
 * not commit gives its numbers back (the next batch reuses them); a batch in
 * doubt keeps them until a new connection tells whether it committed (no
 * batch starts meanwhile). So the numbers are gapless and in commit order. */
int64_t db_batch_add(struct db *db, enum db_stmt s, int nparams, const char *const *params,
    db_row_fn fn, void *arg);
/* The seq the next change will get. */
int64_t db_next_seq(const struct db *db);
/* The signed request behind the next change statement added: its statement's
 * exact bytes, the detached CMS signature (DER) and the signing certificate's
 * fingerprint. They are stored in that change row (and covered by its leaf
 * hash) and forgotten once it is added. NULL `statement`: none. */
void db_batch_sign(struct db *db, const char *statement, const unsigned char *sig, size_t siglen,
    const char *signer);

struct json_t;
/* One change of a procedure (a procurement-stream row of `changes`). */
struct db_proc_change {
	int64_t procurement_id, at;            /* at: ms since the epoch */
	const char *kind;
	int64_t participant_id, org_id;        /* the actor; 0: the clock */
	const char *fingerprint;
	int64_t lot_id, offer_id;              /* 0: none */
	int sealed;
	const char *body;                      /* the exact bytes stored */
	struct json_t *detail;                 /* the same, parsed: what the projection reads */
};
/* Add a procedure's change and its projection into the typed tables (procurements,
 * procurement_versions, procurement_documents, questions, offers, offer_revisions) to the
 * open batch (db_proc.c). Returns the change's seq. */
int64_t db_proc_add(struct db *db, const struct db_proc_change *c);
/*
 * The leaves of the transparency log. A run of bids (DB_S_BIDS) returns the leaf
 * hashes of its changes (changes.leaf_hash, computed by PostgreSQL as it inserts
 * each row); a batch with other changes ends with a query of its leaves and, for a
 * sealed change, its content hash (DB_S_LEAVES; docs/trust.md).
 * When the batch commits, `fn` gets them in seq order before the batch's `done`
 * (so before its replies); a batch that does not commit gives nothing. Batches
 * found committed after a lost connection give theirs from the new connection.
 * `content` is NULL for a change that is not sealed.
 */
typedef void (*db_leaf_fn)(void *arg, int64_t seq, const uint8_t *leaf, const uint8_t *content);
void db_on_leaves(struct db *db, db_leaf_fn fn, void *arg);

/* Number of statements added to the open batch. */
size_t db_batch_len(const struct db *db);
/* Send the open batch; `done` is called once with its outcome, batches in the order
 * sent. When a batch does not commit (DB_FAILED, DB_LOST), `done` is not called for the
 * batches sent after it: the owner rolls them back with it (newest first), and each
 * of them, once drained, calls its `done` with DB_SKIPPED. */
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
/* The first reconnection attempt after a loss, in ms; each failed one doubles it up to db_retry. */
#define DB_RETRY_FIRST_MS 100

/* Apply the migrations in `dir` that are not yet recorded, as the owner role. A statement
 * that waits longer than `lock_timeout_s` for a lock fails the migration with the sessions
 * that hold locks (pid, role, application_name, transaction start). */
int db_boot_migrate(const char *conninfo, const char *dir, long lock_timeout_s, char *cause,
    size_t n);

/* Check that every migration in `dir` is recorded (tenderd does not migrate at start-up: its
 * role may not). 0, or -1 with `cause` naming the first missing one. */
int db_boot_check(const char *conninfo, const char *dir, char *cause, size_t n);

/* Rows handed to the loader: organizations, participants, then in the order of the log
 * auctions (at their first change), bids, refused bids and procedures' changes. */
struct db_boot_org { int64_t id; const char *name, *status; };
struct db_boot_participant {
	int64_t id, org_id;
	const char *name, *role, *status, *fingerprint;
	/* the certificate (one row per certificate of the participant) */
	const char *subject, *serial;
	int64_t not_before, not_after, registered_by, registered_at;  /* ms; registered_by 0: none */
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
	int unsigned_bids;         /* auctions.signed_bids is false */
	const char *format;        /* auctions.format */
	int max_extensions;        /* 0: no limit */
	int64_t latest_end;        /* ms; 0: none */
	const char *visibility;    /* auctions.visibility */
	const char *invited;       /* auctions.invited as "3,5,9"; NULL or "": open to all */
	int min_bidders;           /* auctions.min_bidders; 0: no rule */
	int64_t clock_step, clock_interval, clock_limit;  /* clock formats; else 0 */
	int64_t tail;              /* second-place tail: auctions.tail_ms; 0: none */
	/* rounds format (ms, count); else 0 */
	int64_t rounds_initial, rounds_pause, rounds_count, rounds_turn, rounds_round_pause;
	/* multi-lot auctions: lot_count 0: not a lot (migration 025) */
	int64_t event_id, stagger_ms;
	int lot_no, lot_count;
	const char *event_title;
};
struct db_boot_bid {
	int64_t id, auction_id, seq, participant_id, org_id, amount, at;  /* seq 0: not known */
	const char *fingerprint;   /* NULL: not read at replay */
	int seeded;
	const char *body;          /* a sealed bid's body (its salt), NULL otherwise or withheld */
	int automatic;             /* placed by a proxy (bids.automatic) */
};
struct db_boot_proc_log {
	int64_t seq, procurement_id, at, participant_id, org_id;
	const char *kind, *fingerprint, *detail;
};
/* A signed tree head as stored (tree_heads). */
struct db_boot_head {
	int64_t size, at;                  /* at: ms since the epoch */
	const uint8_t *root;               /* 32 bytes */
	const uint8_t *sig;
	size_t siglen;
	const char *key_fingerprint;
};
struct db_boot_sink {
	void *arg;
	/* a signed statement stored by `participant` in the last two hours (its nonce) */
	int (*statement)(void *arg, int64_t participant, const char *statement);
	int (*proc_log)(void *arg, const struct db_boot_proc_log *r);
	int (*org)(void *arg, const struct db_boot_org *o);
	int (*participant)(void *arg, const struct db_boot_participant *p);
	int (*auction)(void *arg, const struct db_boot_auction *a);
	int (*bid)(void *arg, const struct db_boot_bid *b);
	/* refused bids recorded per (auction, organization) */
	int (*refused)(void *arg, int64_t auction_id, int64_t org_id, int64_t count);
	/* an auction's `started`, `tail`, `closed` or `cancelled` change (kind is that name) */
	int (*transition)(void *arg, int64_t auction_id, const char *kind);
	/* an auction's `paused`, `resumed` or `prolonged` change, in order with its bids: `at`
	 * its time, `ms` its amount (the pause's length, the time added; 0 for a pause) */
	int (*rule)(void *arg, int64_t auction_id, const char *kind, int64_t at, int64_t ms,
	    int64_t by);  /* by: the operator's participant id; 0: the clock (an outage pause) */
	/* every change's leaf hash (32 bytes), in seq order; then the log keys and the
	 * signed tree heads (by size) */
	int (*leaf)(void *arg, int64_t seq, const uint8_t *leaf);
	int (*log_key)(void *arg, const char *fingerprint, const char *pem);
	int (*head)(void *arg, const struct db_boot_head *h);
	/* every change of an auction (stream "auction") or a procurement ("procurement"), in
	 * seq order, after it has been replayed (NULL: not wanted) */
	void (*seen)(void *arg, const char *stream, int64_t id, int64_t seq);
	/* proxy bidding: an auction's proxy_set (floor > 0) or proxy_withdrawn (floor 0) change,
	 * in order with its bids; floor -1 when withheld (the auditor, before the end) */
	int (*proxy)(void *arg, int64_t auction_id, int64_t org_id, int64_t participant_id,
	    int64_t floor, int64_t at);
	/* outage pause: an auction's outage rule (after the auctions; NULL: not wanted) */
	int (*outage)(void *arg, int64_t auction_id, int share, int64_t window_ms,
	    int64_t max_pause_ms, int min_bidders);
};

/* Largest ids in use, for allocating new ones. */
struct db_boot_ids {
	int64_t last_batch, bid, auction, procurement, offer, seq;
};

/* Load everything: organizations and participants from their tables, then the
 * log of every change (`changes`) in seq order: each auction restored from its
 * `auctions` row at its first change, its bids replayed from the typed columns
 * (and the bids table), its refused bids counted; procurements replayed from
 * their changes' bodies. 0, or -1 with `cause`. */
int db_boot_load(const char *conninfo, const struct db_boot_sink *sink, struct db_boot_ids *ids,
    char *cause, size_t n);

/* The same as a standby: without the writer lock when `lock` is 0 (one consistent snapshot:
 * what is committed), and only the changes after seq `after` when it is not 0, replayed onto
 * a state that has every change up to it (organizations, participants, log keys and tree
 * heads are all handed over again; auctions too, the sink keeping those it has). */
int db_boot_load_after(const char *conninfo, int lock, int64_t after,
    const struct db_boot_sink *sink, struct db_boot_ids *ids, char *cause, size_t n);

/* The same replay as the auditor (tenderd verify), inside the caller's transaction on `pg`
 * (a PGconn): from the views of schema audit; the procedures that are not opened yet are
 * left out (their offers are sealed). 0, or -1 with `cause`. */
struct pg_conn;
int db_boot_load_audit(struct pg_conn *pg, const struct db_boot_sink *sink, char *cause,
    size_t n);

/*
 * The body of a participant's `registered` change: {"participant":ID,
 * "organization_id":ID, then the tail: "name", "role", "organization" (its
 * name), "fingerprint"}. The ids come from PostgreSQL's sequences in the
 * statement that inserts the participant, so DB_S_REGISTER writes the body as
 * the head with the ids, then the tail tenderd made (db_registered_tail, which
 * starts with a comma); the rows it returns give tenderd the ids, from which
 * db_registered_body() makes the same bytes. Both malloc'd; NULL when out of memory.
 */
char *db_registered_tail(const char *name, const char *role, const char *org, const char *fp);
char *db_registered_body(int64_t participant_id, int64_t org_id, const char *name,
    const char *role, const char *org, const char *fp);

/* How long the next db_boot_load waits for the writer lock: DB_WRITER_LOCK_WAIT_S at
 * start-up; 0 (until it has it) for a standby taking over. */
void db_boot_set_writer_wait(long seconds);

/* Name the session that holds the writer lock, in `cause` (pg: a PGconn). */
void db_boot_writer_holder(struct pg_conn *pg, char *cause, size_t n);

/*
 * The role session (db_role.c): one more session of every tenderd, besides its write
 * path's. The primary holds advisory lock DB_PRIMARY_LOCK on it and publishes its
 * advertised address in tenderd_primary; a standby tries for the lock every
 * DB_ROLE_POLL_MS and reads that address in the same query. Once a standby has it, it takes
 * the writer lock (DB_WRITER_LOCK) before it reads anything: the write path's lock stays the
 * only guard against two writers.
 */
#define DB_ROLE_POLL_MS 200
struct db_role;
enum db_role_event {
	DB_ROLE_TAKEN,    /* a standby has just taken the primary lock */
	DB_ROLE_DEPOSED,  /* the primary lost its session and another session holds the lock */
};
typedef void (*db_role_fn)(void *arg, enum db_role_event ev);
/* Connect the role session and try for the primary lock for `wait_s` seconds (0: once);
 * `*primary` tells whether it has it. NULL with `cause` when PostgreSQL cannot be reached. */
struct db_role *db_role_open(struct event_base *base, const char *conninfo, long wait_s,
    int *primary, char *cause, size_t n);
/* The primary: publish its advertised address (tenderd_primary). 0, or -1 with `cause`. */
int db_role_publish(struct db_role *r, const char *advertise, char *cause, size_t n);
/* The address the primary advertises, as last read; "" when not known. */
const char *db_role_primary(const struct db_role *r);
/* Name the session holding the writer lock (a second tenderd with standby off). */
void db_role_writer_holder(struct db_role *r, char *cause, size_t n);
/* Watch the session from the event loop: a standby polls for the lock, the primary notices
 * the loss of its session; `fn` is called on a change of role. */
void db_role_watch(struct db_role *r, db_role_fn fn, void *arg);
void db_role_free(struct db_role *r);

/* Register a participant with a blocking connection, holding the writer lock (so not while
 * tenderd runs on the database): the participant, its organization when new, and its
 * `registered` change. Returns 0, 1 when the certificate is already registered, -1 on
 * error with `cause`. */
int db_boot_register(const char *conninfo, const char *role, const char *org,
    const char *name, const char *fp, const char *subject, const char *serial,
    const char *not_before, const char *not_after, const char *pem,
    int64_t *participant_id, int64_t *org_id, char *cause, size_t n);

#endif
