/*
 * The server's shared state and the interfaces between its modules:
 *   conn.c    TLS connections, framing, limits, timeouts, output
 *   admin.c   SIGHUP reload, SIGUSR1 log reopen, the TLS file watch, the operators' stats
 *   metrics.c counters and histograms, the HTTP endpoint of /metrics, /healthz, /readyz
 *   proto.c   JSON request decoding, dispatch from the table, replies and errors
 *   optab.c   the table of operations: name, roles, flags, handler (optab.h)
 *   ops.c     auction and participant operations: form checks, applying them
 *   proc.c    procurement procedures and their operations
 *   txn.c     the one write path: queue, batch, commit or roll back, parked reads (txn.h)
 *   outbox.c  replies and events held back while a batch completes
 *   book.c    live auctions in memory: engine, metadata, views, watchers, timers
 *   watch.c   who watches which auction or procurement, bounded, left on close
 *   registry.c  participants, organizations, roles and certificates
 *   certs.c   certificate.add and certificate.list: a participant's certificates
 */
#ifndef TENDERD_SERVER_H
#define TENDERD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auction/auction.h"
#include "auction/outage.h"
#include "auction/procedure.h"
#include "common/map.h"
#include "server/config.h"
#include "server/db.h"
#include "server/tls.h"
#include "server/txn.h"

struct event_base;
struct event;
struct evconnlistener;
struct ssl_ctx_st;
struct db;
struct conn;
struct watch;

/* Watch links of a procedure or of a connection (server/watch.c). */
struct watch_list {
	struct watch **v;
	size_t n, cap;
};

enum role { ROLE_BUYER = 0, ROLE_SUPPLIER, ROLE_OPERATOR };

struct org {
	int64_t id;
	char *name;
	int suspended;             /* organization.suspend: every participant refused */
};

struct participant {
	int64_t id;
	struct org *org;
	char *name;
	enum role role;
	int suspended;
};

/* A registered certificate; `conns` counts its open connections. A participant may hold
 * several (s->certs, by fingerprint, finds the holder of any of them). */
struct cert {
	char fp[TLS_FP_LEN + 1];
	struct participant *who;
	int conns;
	/* what certificate.list shows (registry_cert_describe) */
	char *subject, *serial;    /* NULL: not known */
	int64_t not_before, not_after;  /* ms */
	int64_t registered_by;     /* the operator; 0: registered offline */
	int64_t registered_at;     /* ms */
};

/* A live auction: the engine state plus what the engine does not know. */
/* The salt of a sealed bid: 128 random bits as 32 hex digits. */
#define BOOK_SALT_HEX 32

struct book {
	struct auction a;
	int64_t buyer_participant;
	char *title;
	char currency[4];
	int exp;                   /* currency fraction digits */
	int step_min_percent, step_max_percent;
	int64_t step_min_value, step_max_value;
	char *cancel_reason;
	int64_t created_at;
	struct server *srv;
	struct event *timer;
	int tick_queued;           /* a tick command waits in the queue */
	int64_t proc_id;           /* tender_auction: the procedure and lot it decides */
	int unsigned_bids;         /* signed_bids false: bids need not be signed */
	int lot_id;
	struct watch_list watchers;
	struct map bids_by_org;    /* org id -> bids placed, accepted and refused (as intptr_t) */
	/* the write path's bookkeeping (txn.h) */
	struct txn_obj tx;
	int notify;                /* BOOK_N() of the events the batch made, told after commit */
	/* auction.update pacing (update_interval) */
	int pending;               /* BOOK_N_UPDATE events committed but not yet sent */
	int64_t update_due;        /* monotonic ms before which a new update waits */
	struct event *update_ev;   /* sends the pending update at update_due */
	int64_t *invited;          /* invitation-only: a.p.invited's storage (NULL: open to all) */
	/* sealed-bid formats: the salt of each bid's sealed body (docs/trust.md), by seq - 1 */
	char (*salts)[BOOK_SALT_HEX + 1];
	size_t nsalts;
	/* steps of the time (a clock step, a rounds phase or turn): tells watchers when one
	 * begins (no engine event does; book.c, book_on_step) */
	struct event *step_ev;
	int64_t step_due;          /* the step step_ev waits for (ms; 0 none), until it is told */
	/* Multi-lot auctions (auction.create with lots): lot lot_no of lot_count of the event
	 * event_id (the auction id of its lot 1; the lots' ids are consecutive); lot_count 0:
	 * not a lot. stagger_ms 0: parallel closing; else staggered (docs/auction-rules.md). */
	int64_t event_id;
	int lot_no, lot_count;
	int64_t stagger_ms;
	char *event_title;
	/* outage pause (presence.c; docs/auction-rules.md "Outage pause") */
	struct auction_outage outage;  /* the rule; share 0: none */
	int64_t outage_at;         /* paused_at of its latest outage pause (0: none); the pause is
	                            * in effect while the engine is paused since then */
	int outage_lost, outage_bidders;  /* what that pause counted (0: not known, restored) */
	int outage_queued;         /* an outage pause or resume waits on the write path */
};

/* A procurement procedure: the engine state plus its published document. */
/*
 * A procurement document, typed: what procurement.create states and each
 * amendment restates (amounts in minor units, times in ms, weights in basis
 * points). proc.c parses a request into it once, renders it to JSON for the
 * log row and for views, and loads it back from log rows on replay. A document
 * is never changed once applied: an amendment makes a new one, sharing the
 * attached files of the versions before.
 */
struct proc_doc_item {
	char *description, *quantity, *unit;  /* quantity: a decimal string */
	char *classification;      /* NULL: none */
};

struct proc_doc_criterion {
	char *code, *name;
	enum proc_crit_kind kind;
	int64_t weight_bp;
	int64_t min, max;          /* stated: bounds; scored: 0 and the top score */
	int higher_better;         /* stated */
	char *unit;                /* stated; NULL: none */
};

struct proc_doc_lot {
	int64_t id, max_price;
	char *title;
	struct proc_doc_item *items;
	size_t nitems;
	struct proc_doc_criterion *crit;
	size_t ncrit;
};

/* An attached file (its content base64, NULL when only described). */
struct proc_doc_file {
	int refs;                  /* documents listing it */
	int64_t id, size;
	char *name, *media_type, *sha256, *content;
};

/* A tender_auction's auction settings (steps as "0.5%" or an amount; seconds). */
struct proc_doc_auction {
	char *step_min, *step_max;
	int64_t duration, extension_window, extension, delay;
	int unsigned_bids;         /* signed_bids false: its live auctions' bids need not be signed */
	/* multi-lot auctions: 0 parallel; else lot_closing staggered, seconds between the ends
	 * of the lots' live auctions (in lot order) */
	int64_t stagger;
};

struct proc_doc {
	int refs;                  /* the procedure and a batch's mark */
	char *title, *description;
	enum proc_kind kind;
	char currency[4];
	int exp;
	int64_t enquiry_end, submission_deadline, opening_at, min_bids;
	struct proc_doc_lot *lots;
	size_t nlots;
	struct proc_doc_file **files;
	size_t nfiles;
	int has_auction;           /* tender_auction */
	struct proc_doc_auction auction;
};

/* What tenderd keeps of an offer besides the engine's part: who submitted it and
 * the details it stated (shown in views and the opening record). */
struct proc_offer_extra {
	int64_t participant;
	char *fingerprint;
	json_t *values;            /* stated values as submitted (criterion code -> integer) */
	int64_t delivery_days;     /* -1: not stated */
	int64_t validity_days;     /* -1: not stated */
	char *comment;             /* NULL: none */
	char *reason;              /* a disqualification's; NULL: none */
	int64_t scorings;          /* bid.score changes applied */
	char *sealed_body;         /* the exact body of its last submission's change: shown with
	                            * the opening record, it opens the receipt's content_hash */
};

/* A question of a procedure's enquiry period; its number is its index + 1. */
struct proc_question {
	char *text;
	char *answer;              /* NULL until answered */
	int64_t asked_at;          /* ms */
	int64_t answered_at;       /* ms; 0 until answered */
	int64_t asked_by_org;      /* never shown */
};

/* A procedure's questions, in the order asked. */
struct proc_questions {
	struct proc_question *v;
	size_t n, cap;
};

struct proc {
	struct procedure pr;
	struct server *srv;
	int64_t buyer_participant;
	char currency[4];
	int exp;
	struct proc_doc *doc;      /* current document */
	struct proc_questions questions;
	struct map extras;         /* offer id -> struct proc_offer_extra */
	char *cancel_reason;
	int64_t lot_auction[PROC_MAX_LOTS];  /* tender_auction: live auction id per lot index */
	struct event *timer;
	int tick_queued;
	struct watch_list watchers;
	/* the write path's bookkeeping (txn.h) */
	struct txn_obj tx;
	unsigned notify;           /* PROC_N_* to broadcast after commit */
};

#define PROC_N_UPDATE  0x1
#define PROC_N_AMENDED 0x2
#define PROC_N_OPENED  0x4
#define PROC_N_AWARDED 0x8
#define PROC_N_CLOSED  0x10
#define PROC_N_OFFERS  0x20  /* the number of live offers of a lot changed */

/* A book's notify and pending hold one bit per kind of engine event (auction.h). */
#define BOOK_N(kind)    (1 << (kind))
/* the events an auction.update tells */
#define BOOK_N_UPDATE   (BOOK_N(AUCTION_EV_STARTED) | BOOK_N(AUCTION_EV_BID) | \
    BOOK_N(AUCTION_EV_EXTENDED) | BOOK_N(AUCTION_EV_PAUSED) | BOOK_N(AUCTION_EV_RESUMED) | \
    BOOK_N(AUCTION_EV_PROLONGED) | BOOK_N(AUCTION_EV_TAIL))
/* Multi-lot auctions: a lot's end moved by the staggered-closing rule (auction.update
 * with reason stagger); above every event kind's bit */
#define BOOK_N_STAGGER  (1 << 30)

struct server {
	struct event_base *base;
	struct config cfg;
	struct ssl_ctx_st *ssl_ctx;
	struct evconnlistener *listener;
	struct db *db;
	struct txn *txn;           /* the write path (txn.c) */
	struct sig_pool *sig;      /* signature workers and nonces (sig.c) */
	struct tlog *tlog;         /* the transparency log in memory (tlog.c) */
	void *logops;              /* signing tree heads (logops.c) */
	struct event *sig_term, *sig_int;
	struct event *stop_timer;
	struct event *accept_pause;

	struct map conns;          /* id -> conn (open ones) */
	struct conn *conn_head;    /* every allocated conn, closing ones too */
	struct map certs;          /* fingerprint -> cert */
	struct map orgs;           /* id -> org */
	struct map orgs_by_name;   /* name -> org */
	struct map participants;   /* id -> participant */
	struct map books;          /* id -> book */
	struct map procs;          /* id -> proc */

	uint64_t next_conn_id;
	int64_t next_bid_id, next_auction_id, next_proc_id, next_offer_id;
	size_t nconns;

	/* callbacks set at start-up: what flows up */
	void (*book_due)(struct server *s, struct book *b);       /* a book's deadline passed */
	void (*lot_auction_closed)(struct server *s, struct book *b);  /* inside its batch */

	/* replies and events held back while a batch completes (outbox.c) */
	int deferring;
	void *out;
	size_t nout, capout;
	/* events on their way to watchers, a few per turn of the loop (conn.c) */
	void *lane;
	size_t lane_head, nlane, caplane;
	struct event *lane_ev;

	int stopping;

	/* TLS reload, per-address limits and counters (admin.c, conn.c) */
	struct tls_crl_info crl;   /* the CRL of ssl_ctx */
	struct map addrs;          /* source address -> struct conn_addr (open connections) */
	struct map refused_addrs;  /* source address -> uint64_t refusals (bounded) */
	uint64_t hs_completed, hs_failed;
	uint64_t hs_timeout;       /* of hs_failed: ended by handshake_timeout */
	uint64_t refused_max_conns, refused_conns_per_addr, refused_handshakes_per_addr;
	uint64_t refused_other;    /* refusals of addresses beyond the refused_addrs bound */
	int64_t started_at;        /* wall ms */
	struct event *sig_hup, *watch_timer;
	void *admin;               /* admin.c: the watched files */
	int argc;                  /* the command line, read again on SIGHUP */
	char **argv;
	/* set at start-up (main.c): what flows up from the transport and the reload */
	void (*on_line)(struct server *s, struct conn *c, const char *line, size_t len);
	void (*on_sent)(struct conn *c, json_t *msg);  /* every message conn_send sends */
	/* a connection closes (watch.c: it leaves every watch), called again when it is freed */
	void (*on_conn_close)(struct server *s, struct conn *c);
	int (*cmdline_config)(int argc, char **argv, int first, struct config *cfg, char *cause,
	    size_t n);
	/* standby and takeover (main.c, db_role.c) */
	struct db_role *role;      /* the role session */
	int standby;               /* waiting as a standby: every operation but hello refused */
	/* outage pause (presence.c): who is connected to which auction; and what flows up from
	 * it, set at start-up to ops.c's: queue an outage pause (OUTAGE_PAUSE) or its end */
	void *presence;
	void (*outage_due)(struct server *s, struct book *b, int what);
};

/* outage_due's `what`: pause; resume because every lost bidder is back, or at max pause. */
#define OUTAGE_PAUSE 0
#define OUTAGE_BACK  1
#define OUTAGE_MAX   2

/* ---- standby.c ---- */
/* hello's "server": this tenderd's role and where the primary is. */
json_t *standby_hello(const struct server *s);
/* On a standby every operation but hello is refused with error `standby`: NULL when `op` is
 * not refused, else the primary's address ("" when unknown), with the message in `msg`. */
const char *standby_refusal(const struct server *s, const char *op, char *msg, size_t n);

/* ---- conn.c ---- */
/* Serialized text that many messages share: one broadcast's view for one class of watcher.
 * Created with one reference (the text, from malloc, is taken over); every message held
 * back or queued in the lane with it takes another. */
struct conn_text {
	size_t refs, len;
	char *text;
};
struct conn_text *conn_text_new(char *text, size_t len);
void conn_text_release(struct conn_text *t);
struct conn_ident {
	uint64_t id;
	struct cert *cert;
	struct participant *who;
	char subject[512];
};
int conn_listen(struct server *s, char *cause, size_t n);
void conn_stop_listening(struct server *s);
/* Send one JSON value as a line (the reference is stolen). */
void conn_send(struct conn *c, json_t *msg);
/* Send serialized JSON (without the newline) as a line; behind the connection's
 * events still in the lane, if any. */
void conn_send_text(struct conn *c, const char *text, size_t n);
/* Send an event through the lane (takes a reference to the shared text). */
void conn_send_event(struct conn *c, struct conn_text *t);
/* Free the lane (shutdown, after the loop). */
void conn_lane_free(struct server *s);
/* Find a connection by id (NULL when gone or closing). */
struct conn *conn_get(struct server *s, uint64_t id);
/* What the connection watches. */
struct watch_list *conn_watches(struct conn *c);
const struct conn_ident *conn_ident(const struct conn *c);
/* Close with a reason, after flushing what was queued. */
void conn_close(struct conn *c, const char *reason);
/* Close every connection (shutdown). */
void conn_close_all(struct server *s, const char *reason);
/* Free every connection still allocated (after the loop has stopped). */
void conn_free_all(struct server *s);
/* Requests of this connection waiting for a commit: reading pauses above a bound. */
void conn_pending_add(struct conn *c, int delta);
/* Outage pause: whether the connection ended because its peer vanished (a reset, an end
 * without a TLS close_notify, the idle or stuck timeout) rather than a clean close. */
int conn_lost(const struct conn *c);

/* After a reload: when `recheck`, verify every open connection's certificate against
 * the new TLS context (closing those it refuses, revoked ones with certificate_revoked);
 * re-arm idle timers for the new idle_timeout. */
void conn_reload(struct server *s, int recheck);
/* Connections in the TLS handshake and open ones (stats). */
void conn_counts(struct server *s, size_t *handshaking, size_t *open);
/* Free the per-address tables (after the loop). */
void conn_addrs_free(struct server *s);

/* ---- admin.c: reload, file watch, stats ---- */
/* Install signal handlers (SIGHUP) and the file watch; remember the command line. */
int admin_init(struct server *s, int argc, char **argv);
void admin_free(struct server *s);
/* The reply of the operators' `stats` operation. */
json_t *admin_stats(struct server *s, json_t *id);
/* main.c: the settings from the command line from argv[first] on (the -c file first,
 * then --KEY VALUE options), without exiting. 0, or -1 with `cause`. */
int args_to_config(int argc, char **argv, int first, struct config *cfg, char *cause, size_t n);

/* tenderd verify (verify.c, docs/audit.md). Its replay runs through main.c's start-up code,
 * handed down as a function (calls point down only): `replay` builds a server state of its
 * own, replays the log into it as the auditor inside the caller's transaction on `pg` (a
 * PGconn), calling `hook->proc_log` after each procedure change replayed and `hook->check`
 * on the state replayed, then frees it. 0; -1 when the log does not replay (`cause`); -2
 * when `check` failed. verify_main returns the command's exit status. */
struct restore_hook {
	int (*proc_log)(void *arg, struct server *s, const struct db_boot_proc_log *r);
	int (*check)(void *arg, struct server *s);
	void *arg;
};
struct pg_conn;
typedef int (*verify_replay_fn)(const struct config *cfg, struct pg_conn *pg,
    const struct restore_hook *hook, char *cause, size_t n);
int verify_main(const struct config *cfg, verify_replay_fn replay);

/* Arm a timer to fire `ms` milliseconds from now (0 when negative), counted from the
 * current time rather than the loop's cached one, so that it never fires early. */
void conn_timer_in(struct server *s, struct event *ev, int64_t ms);

/* ---- watch.c: who watches what ---- */
#define WATCH_AUCTION 1
#define WATCH_PROC    2
/*
 * Let `c` watch a procedure whose watch list is `tl`. 0 when added or
 * already watching; -1 when a limit (max_watches_per_conn,
 * max_watchers_per_procedure) refuses it, -2 when out of memory; `why` says
 * which limit and its value.
 */
int watch_add(struct server *s, struct conn *c, int kind, int64_t target, struct watch_list *tl,
    char *why, size_t n);
/* Stop `c` watching the procedure (nothing when it does not). */
void watch_del(struct server *s, struct conn *c, int kind, int64_t target, struct watch_list *tl);
/* The connection closes: leave every list it is in, free its links (the
 * transport's on_conn_close, set at start-up). */
void watch_drop_conn(struct server *s, struct conn *c);
/* The procedure is freed: take its links out of their connections. */
void watch_drop_target(struct server *s, struct watch_list *tl);
/* A class of viewers: viewers of one class see the same view of a procedure.
 * `org` is the viewer's organization when its view depends on it, else a
 * negative value the procedure chooses. */
struct watch_class {
	int role;
	int64_t org;
};
/* One event for the watchers of one procedure of any kind. */
struct watch_msg {
	const char *event;         /* "auction.update", "procurement.update", ... */
	const char *reason;        /* NULL: no reason field */
	const char *field;         /* the field that holds the view: "auction", "procurement" */
	int kind;                  /* WATCH_AUCTION or WATCH_PROC */
	int64_t id;                /* the procedure's id */
	void *target;              /* the book or proc */
	/* the class of a viewer, and the view of the procedure for a viewer */
	struct watch_class (*class_of)(struct server *s, void *target, const struct participant *v);
	json_t *(*view)(struct server *s, void *target, const struct participant *v);
	/* NULL, or which connected participants that do not watch get the event too */
	int (*also)(struct server *s, void *target, const struct participant *v);
};
/*
 * Send an event to every watcher in `tl` (and to those `also` names): rendered
 * once per class of viewer, shared by reference, held back while a batch
 * completes and then written through the lane, behind what each connection
 * was sent before.
 */
void watch_broadcast(struct server *s, const struct watch_list *tl, const struct watch_msg *ev);

/* ---- proto.c ---- */
/* Decode one line and dispatch it. */
void proto_handle_line(struct server *s, struct conn *c, const char *line, size_t len);
json_t *proto_error(json_t *id, const char *code, const char *message, const char *field);
/* The signature check of the request being handled, taken by the command it queues
 * (NULL: the request is not signed); whether it is signed. */
struct sig_job *proto_take_sig(void);
int proto_signed(void);
json_t *proto_ok(json_t *id);
/* Field getters: return 0, or send an error reply for `id` and return -1. */
int proto_get_int(struct conn *c, json_t *req, const char *field, int required, int64_t *out);
/* String fields: 1 to `maxlen` characters (Unicode code points, NFC); proto_get_text
 * adds the rules of a common/text.h kind (TEXT_NAME, TEXT_LINE). */
int proto_get_str(struct conn *c, json_t *req, const char *field, int required, size_t maxlen,
    const char **out);
int proto_get_text(struct conn *c, json_t *req, const char *field, int required, size_t maxlen,
    int kind, const char **out);
json_t *proto_time(int64_t ms);
json_t *proto_money(int64_t v, int exp);
/* Logging replies, one info line each (docs/operations.md "Logs"), and counting them
 * (server/metrics.h). */
int64_t proto_clock_us(void);
/* The operation and start time of the request being handled; NULL outside one. */
const char *proto_current(int64_t *t0_us);
/* The auction and procurement the request being handled names (0: none). */
void proto_current_target(int64_t *auction, int64_t *procurement);
/* conn_send hands every message here: the reply to the request being handled is logged. */
void proto_sent(struct conn *c, json_t *msg);
/* What the log line of a reply shows of its request. */
struct proto_req {
	uint64_t conn;
	const struct participant *who;  /* NULL: not known */
	const char *fp;            /* the client certificate's fingerprint; NULL: none */
	const char *op;            /* from proto_current() */
	json_t *id;                /* the request id; NULL: none */
	int64_t t0;                /* from proto_current(): monotonic µs the line was read */
	int64_t auction, procurement;  /* from proto_current_target(); 0: none */
};
/* Log and count a reply sent later (after a commit, or a parked read). */
void proto_log_reply(const struct proto_req *r, json_t *reply);

/* ---- logops.c: signed tree heads through the write path ---- */
/* Start the timer that queues a signed head whenever the tree grew (every second). */
int logops_init(struct server *s);
void logops_free(struct server *s);

/* ---- outbox.c: output held back while a batch completes ---- */
/* Hold messages back from now on; outbox_release delivers them in order. */
void outbox_hold(struct server *s);
void outbox_release(struct server *s);
/* The reply to a request (stolen) for a connection id; releases its pending place. */
void outbox_reply(struct server *s, uint64_t conn_id, json_t *msg);
/* Send a broadcast's serialized text to a connection (copied when held back). */
void outbox_emit(struct server *s, struct conn *c, const char *text, size_t len);
/* Send shared text to a connection; held back by reference. */
void outbox_emit_shared(struct server *s, struct conn *c, struct conn_text *t);

/* ---- ops.c (its request handlers: server/optab.h) ---- */
/* Set the auctions' clock callback (start-up). */
void ops_init(struct server *s);

/* ---- book.c ---- */
/* Live auctions on the write path. */
extern const struct txn_kind book_txn;
struct book *book_get(struct server *s, int64_t id);
/* Re-arm the timer from the engine's next deadline. */
void book_arm(struct server *s, struct book *b);
void book_free(struct book *b);
/* Bids an organization has placed in an auction, accepted and refused (recorded) ones, those
 * of the batch being built included; seeded tender prices are not counted. */
long book_bids_of(const struct book *b, int64_t org);
/* Count `delta` bids of an organization; 0, or -1 when out of memory. */
int book_count_bids(struct book *b, int64_t org, long delta);
/* The auction as `viewer` may see it; `full` adds the ranking where allowed. */
json_t *book_view(struct server *s, struct book *b, const struct participant *viewer, int full);
/* Whether `viewer` may see the auction at all (not when it is invitation-only and the
 * viewer's organization is not invited, unless it owns the auction or is an operator). */
int book_may_see(const struct book *b, const struct participant *viewer);
/* Give `b` its own copy of the invited list of `p` (a.p.invited points to it); 0 or -1. */
int book_set_invited(struct book *b, const int64_t *invited, size_t n);
/* Whether `viewer` sees the best price of the auction now (its visibility, its role). */
int book_sees_best(const struct book *b, const struct participant *viewer);
/* Send an event to every watcher (each gets its own view). */
void book_broadcast(struct server *s, struct book *b, const char *event, const char *reason);
/*
 * Committed events (BOOK_N_UPDATE bits of `reasons`, may be 0) join the
 * book's pending update, sent at once when the last one is older than
 * update_interval, otherwise by the book's update timer. Never while the batch
 * in flight has changed the book: its commit or rollback calls this again.
 */
void book_update(struct server *s, struct book *b, int reasons);
/* The auction closed or was cancelled (committed): auction.closed, no pending update. */
void book_closed(struct server *s, struct book *b);
/* Send every pending update now (shutdown, nothing in flight). */
void book_update_all(struct server *s);
/* Rebuild a book from persisted rows (start-up). */
struct book *book_restore(struct server *s, const struct db_boot_auction *a);
/* Sealed-bid formats: keep the salt (BOOK_SALT_HEX hex digits) of the bid with sequence
 * `seq`; 0, or -1 when out of memory or it is not a salt. */
int book_set_salt(struct book *b, int64_t seq, const char *salt);
/* The exact body of the sealed bid with sequence `seq` (its change row's `body`, which its
 * receipt's content_hash covers) with `salt` (NULL: the one kept): malloc'd, NULL when out
 * of memory or it has no salt. */
char *book_sealed_body(const struct book *b, int64_t seq, const char *salt);

/* Outage pause: whether `b` is in an outage pause now (paused since b->outage_at). */
int book_outage_paused(const struct book *b);

/* ---- presence.c: the bidders connected to auctions with an outage rule ---- */
int presence_init(struct server *s);
void presence_free(struct server *s);
/* A supplier's connection is in the auction from now on: it watches it, or bid through it. */
void presence_join(struct server *s, struct book *b, struct conn *c);
/* auction.unwatch: a clean leave. */
void presence_unwatch(struct server *s, struct book *b, struct conn *c);
/* A connection closed (on_conn_close, with watch_drop_conn): a loss when conn_lost(). */
void presence_drop_conn(struct server *s, struct conn *c);
/* Inside the batch: whether the losses at `at` are still an outage (then its lost bidders
 * are the pause's, counted in *bidders and *lost). */
int presence_outage_mark(struct server *s, struct book *b, int64_t at, int *bidders, int *lost);
/* An outage pause was applied, or restored at start-up: arm its max-pause timer. */
void presence_outage_paused(struct server *s, struct book *b);
void presence_restore(struct server *s, struct book *b);

/* ---- proc.c: procurement procedures (its request handlers: server/optab.h) ---- */
/*
 * Apply one procedure change (`kind` with its `detail`) at `at`: live (SQL is
 * added to the batch, the reply filled for the commit) or in replay at start-up.
 * Returns 1 when applied, 0 when refused (code and message set).
 */
int proc_apply(struct server *s, const char *kind, json_t *detail, int64_t at,
    const struct participant *who, const char *fp, int replay, json_t **reply,
    const char **code, const char **message);
/* The field the last refusal of proc_apply names (NULL: none). */
const char *proc_refused_field(void);
/* Procedures on the write path. */
extern const struct txn_kind proc_txn;
void proc_arm(struct server *s, struct proc *p);
void proc_tick(struct server *s, struct proc *p);
/* A tender_auction lot's live auction closed (inside the batch that closes it). */
void proc_auction_closed(struct server *s, struct book *b);
/* Start-up: replay one log row. */
int proc_replay(struct server *s, const struct db_boot_proc_log *r);
void proc_free_all(struct server *s);
/* Start-up: link tender_auction lots to their loaded auctions. */
void proc_restore_finish(struct server *s);
/* The opening record of procedure `id` as the engine has it now: by lot id, every opened
 * offer in rank order with its score, as the "opened" change holds it (tenderd verify
 * compares the two). NULL when there is no such procedure. */
json_t *proc_opening_record(struct server *s, int64_t id);

/* ---- ops.c, for proc.c ---- */
/* The paging and filters of auction.list and procurement.list. */
struct ops_list {
	int64_t limit;             /* 1-1000, default 100 */
	int64_t after;             /* list ids below this one (INT64_MAX: from the newest) */
	const char *state;         /* `state` or its alias `status`; NULL: any */
	const char *kind;          /* NULL: any */
	int64_t buyer;             /* buyer organization id; -1: any */
};
/* Read the paging and filter fields; 0, or -1 after an error reply. */
int ops_list_args(struct conn *c, json_t *id, json_t *req, struct ops_list *l);
/* The cursor of the page after one that ended with `last_id` (`more` when there is one). */
json_t *ops_list_next(int more, int64_t last_id);

/* Open the live auction of a tender_auction lot, seeded with the tender prices. */
struct book *ops_open_auction(struct server *s, struct proc *p, int lot_index, int64_t at);
/* Multi-lot auctions: the same, as lot `lot_no` of `lot_count` of the staggered event
 * `event_id` (0: this lot is the first, its auction's id is the event's). */
struct book *ops_open_auction_lot(struct server *s, struct proc *p, int lot_index, int64_t at,
    int64_t event_id, int lot_no, int lot_count);

/* ---- registry.c ---- */
struct org *registry_org(struct server *s, int64_t id, const char *name);
/* The organization whose name is `name` up to case and Unicode normalization. */
struct org *registry_org_named(struct server *s, const char *name);
struct participant *registry_participant(struct server *s, int64_t id, int64_t org_id,
    const char *name, const char *role, const char *status, const char *fp);
/* Describe a registered certificate (for certificate.list); `info` may be NULL to set only
 * who registered it and when. -1 when out of memory or the fingerprint is not registered. */
int registry_cert_describe(struct server *s, const char *fp, const struct tls_cert_info *info,
    int64_t registered_by, int64_t registered_at);
/* Free a certificate of s->certs (shutdown). */
void registry_cert_free(struct cert *c);
/* Inside apply: claim fingerprint `fp` for a registration in the batch being built
 * (`batch`: txn_batch()). -1 when it is registered already, or claimed by an earlier
 * command of the batch. */
int registry_fp_claim(struct server *s, int64_t batch, const char *fp);
/* The certificate as certificate.list and certificate.add show it. */
json_t *registry_cert_json(const struct cert *c);
const char *role_name(enum role r);
int role_parse(const char *s, enum role *out);

#endif
