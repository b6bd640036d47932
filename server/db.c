#include "server/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "server/db_dial.h"

/* A time in ms as SQL: exact integer arithmetic, no floating point. */
#define MS(col) "(extract(epoch from " col ") * 1000)::bigint"

/*
 * The insert of one change row. Every change statement names all 21 columns of
 * the row, in the order of the leaf's input (sql/011_leaves.sql), and the row's
 * leaf_hash is tenderd_leaf() of the same 21 expressions: the hash is computed
 * once, as the row is written. After the caller's parameters, db.c adds four:
 * seq, statement, signature and signer (NULL unless db_batch_sign() gave them).
 */
#define CH_COLS "seq, at, stream, kind, auction_id, procurement_id, lot_id, offer_id, bid_id," \
	" participant_id, organization_id, fingerprint, subject_participant_id," \
	" subject_organization_id, amount, reason, sealed, body, statement, signature, signer," \
	" leaf_hash"
#define CH_ARGS(seq, at, stream, kind, auc, proc, lot, offer, bid, part, org, fp, sp, so, \
	    amount, reason, sealed, body, stmt, sig, signer) \
	seq ", " at ", " stream ", " kind ", " auc ", " proc ", " lot ", " offer ", " bid ", " \
	part ", " org ", " fp ", " sp ", " so ", " amount ", " reason ", " sealed ", " body ", " \
	stmt ", " sig ", " signer
#define CH_ROW(...) CH_ARGS(__VA_ARGS__) ", tenderd_leaf(" CH_ARGS(__VA_ARGS__) ")"
/* INSERT ... VALUES of one change row */
#define CH_VALUES(...) "INSERT INTO changes (" CH_COLS ") VALUES (" CH_ROW(__VA_ARGS__) ")"
/* INSERT ... SELECT of change rows (the FROM clause follows) */
#define CH_SELECT(...) "INSERT INTO changes (" CH_COLS ") SELECT " CH_ROW(__VA_ARGS__)

static const struct db_stmt_def db_stmts[DB_S_P_FIRST] = {
	/* the batch's id; fails (division by zero) unless the previous batch committed: a
	 * batch pipelined behind one that failed must not commit on top of it */
	[DB_S_MARK] = { "mark",
	    "WITH u AS (UPDATE tenderd_state SET last_batch = $1::bigint"
	    " WHERE last_batch = $1::bigint - 1 RETURNING 1)"
	    " SELECT 1 / (SELECT count(*)::int FROM u)", 0 },
	/* $1-$19, $21, $22: the auction; $20 body; $23 seq */
	[DB_S_CREATE] = { "create",
	    "WITH a AS (INSERT INTO auctions (id, buyer_participant_id, buyer_organization_id, title,"
	    " currency, currency_exp, start_price, step_min_percent, step_min_value, step_min_amount,"
	    " step_max_percent, step_max_value, step_max_amount, starts_at, scheduled_end, ends_at,"
	    " ext_window_ms, ext_length_ms, state, created_at, created_fingerprint, procurement_id, lot_id)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17,"
	    " 'scheduled', $18, $19, $21, $22))"
	    " " CH_VALUES("$23", "$18", "'auction'", "'created'", "$1", "$21", "$22", "NULL", "NULL",
	    "$2", "$3", "$19", "NULL", "NULL", "NULL", "NULL", "false", "$20", "$24", "$25", "$26"),
	    1 },
	/* Every auction statement ends with the auction's procurement and lot (NULL: none). */
	/* bid id, auction, bid seq, participant, organization, fingerprint, amount, at, body,
	 * procurement, lot; $12 seq */
	[DB_S_BID] = { "bid",
	    "WITH b AS (INSERT INTO bids (id, auction_id, seq, participant_id, organization_id,"
	    " fingerprint, amount, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8))"
	    " " CH_VALUES("$12", "$8", "'auction'", "'bid_accepted'", "$2", "$10", "$11", "NULL",
	    "$1", "$4", "$5", "$6", "NULL", "NULL", "$7", "NULL", "false", "$9", "$13", "$14", "$15"),
	    1 },
	/* auction, at, participant, organization, fingerprint, amount, reason, body, procurement,
	 * lot; $11 seq */
	[DB_S_REFUSED] = { "refused",
	    CH_VALUES("$11", "$2", "'auction'", "'bid_refused'", "$1", "$9", "$10", "NULL", "NULL",
	    "$3", "$4", "$5", "NULL", "NULL", "$6", "$7", "false", "$8", "$12", "$13", "$14"), 1 },
	/* auction, ends_at, extensions, at, bid, body, procurement, lot; $9 seq */
	[DB_S_EXTENDED] = { "extended",
	    "WITH u AS (UPDATE auctions SET ends_at = $2, extensions = $3 WHERE id = $1)"
	    " " CH_VALUES("$9", "$4", "'auction'", "'extended'", "$1", "$7", "$8", "NULL", "$5",
	    "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "false", "$6", "$10", "$11",
	    "$12"), 1 },
	/* auction, at, body, procurement, lot; $6 seq */
	[DB_S_STARTED] = { "started",
	    "WITH u AS (UPDATE auctions SET state = 'running' WHERE id = $1)"
	    " " CH_VALUES("$6", "$2", "'auction'", "'started'", "$1", "$4", "$5", "NULL", "NULL",
	    "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "false", "$3", "$7", "$8", "$9"),
	    1 },
	/* auction, at, winner bid, final price, body, procurement, lot; $8 seq */
	[DB_S_CLOSED] = { "closed",
	    "WITH u AS (UPDATE auctions SET state = 'closed', closed_at = $2, winner_bid_id = $3,"
	    " final_price = $4 WHERE id = $1)"
	    " " CH_VALUES("$8", "$2", "'auction'", "'closed'", "$1", "$6", "$7", "NULL", "$3", "NULL",
	    "NULL", "NULL", "NULL", "NULL", "$4", "NULL", "false", "$5", "$9", "$10", "$11"), 1 },
	/* auction, at, reason, participant, organization, fingerprint, body, procurement, lot;
	 * $10 seq */
	[DB_S_CANCELLED] = { "cancelled",
	    "WITH u AS (UPDATE auctions SET state = 'cancelled', closed_at = $2, cancel_reason = $3,"
	    " cancelled_by = $4 WHERE id = $1)"
	    " " CH_VALUES("$10", "$2", "'auction'", "'cancelled'", "$1", "$8", "$9", "NULL", "NULL",
	    "$4", "$5", "$6", "NULL", "NULL", "NULL", "$3", "false", "$7", "$11", "$12", "$13"),
	    1 },
	/* organization name, tax id, country, name, role, fingerprint, subject, serial, not before,
	 * not after, pem, operator, at, operator's organization, operator's fingerprint, the tail
	 * of the body (db.h); $17 seq */
	[DB_S_REGISTER] = { "register",
	    "WITH i AS (INSERT INTO organizations (name, tax_id, country) VALUES ($1, $2, $3)"
	    " ON CONFLICT (name) DO NOTHING RETURNING id),"
	    " o AS (SELECT id FROM i UNION ALL SELECT id FROM organizations WHERE name = $1),"
	    " p AS (INSERT INTO participants (organization_id, name, role, registered_by)"
	    " SELECT id, $4, $5, $12 FROM o RETURNING id, organization_id),"
	    " c AS (INSERT INTO certificates (fingerprint, participant_id, subject, serial, not_before,"
	    " not_after, pem, registered_by, registered_at) SELECT $6, id, $7, $8, $9, $10, $11, $12,"
	    " $13 FROM p RETURNING participant_id),"
	    " g AS (" CH_SELECT("$17", "$13", "'participant'", "'registered'", "NULL", "NULL", "NULL",
	    "NULL", "NULL", "$12", "$14", "$15", "id", "organization_id", "NULL", "NULL", "false",
	    "'{\"participant\":' || id || ',\"organization_id\":' || organization_id || $16::text",
	    "$18", "$19", "$20") " FROM p)"
	    " SELECT p.id, p.organization_id FROM p JOIN c ON c.participant_id = p.id", 1 },
	/* procurement, at, kind, participant, organization, fingerprint, lot, offer, sealed, body,
	 * amount (an offer's price), reason; $13 seq */
	[DB_S_PROC_CHANGE] = { "proc_change",
	    CH_VALUES("$13", "$2", "'procurement'", "$3", "NULL", "$1", "$7", "$8", "NULL", "$4",
	    "$5", "$6", "NULL", "NULL", "$11", "$12", "$9", "$10", "$14", "$15", "$16"), 1 },
	/* as DB_S_BID, for a seeded bid */
	[DB_S_SEED] = { "seed",
	    "WITH b AS (INSERT INTO bids (id, auction_id, seq, participant_id, organization_id,"
	    " fingerprint, amount, placed_at, seeded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true))"
	    " " CH_VALUES("$12", "$8", "'auction'", "'bid_accepted'", "$2", "$10", "$11", "NULL",
	    "$1", "$4", "$5", "$6", "NULL", "NULL", "$7", "NULL", "false", "$9", "$13", "$14", "$15"),
	    1 },
	/* the same rows as DB_S_BID, many at once: one array per column, seq last */
	[DB_S_BIDS] = { "bids",
	    "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::integer[],"
	    " $4::bigint[], $5::bigint[], $6::text[], $7::bigint[], $8::timestamptz[], $9::text[],"
	    " $10::bigint[], $11::integer[], $12::bigint[], $13::text[], $14::bytea[], $15::text[])"
	    " AS v (id, auction_id, seq, participant_id, organization_id, fingerprint, amount,"
	    " placed_at, body, procurement_id, lot_id, change_seq, statement, signature, signer)),"
	    " b AS (INSERT INTO bids (id, auction_id, seq, participant_id, organization_id,"
	    " fingerprint, amount, placed_at) SELECT id, auction_id, seq, participant_id,"
	    " organization_id, fingerprint, amount, placed_at FROM v)"
	    " " CH_SELECT("change_seq", "placed_at", "'auction'", "'bid_accepted'", "auction_id",
	    "procurement_id", "lot_id", "NULL::bigint", "id", "participant_id", "organization_id",
	    "fingerprint", "NULL::bigint", "NULL::bigint", "amount", "NULL::text", "false", "body",
	    "statement", "signature", "signer") " FROM v"
	    /* their leaves, so that a batch of bids alone needs no DB_S_LEAVES (docs/trust.md) */
	    " RETURNING seq, leaf_hash, NULL::bytea", 0 },
	/* the leaves of the batch's changes (from its first seq): leaf hash, and a sealed
	 * change's content hash, SHA-256 of its body (docs/trust.md) */
	[DB_S_LEAVES] = { "leaves",
	    "SELECT seq, leaf_hash, CASE WHEN sealed THEN sha256(convert_to(body, 'UTF8')) END"
	    " FROM changes WHERE seq >= $1 ORDER BY seq", 0 },
	/* size, root, at, signature, key fingerprint */
	[DB_S_HEAD] = { "head",
	    "INSERT INTO tree_heads (tree_size, root, at, signature, key_fingerprint)"
	    " VALUES ($1, $2, $3, $4, $5)", 0 },
	/* fingerprint, PEM */
	[DB_S_LOG_KEY] = { "log_key",
	    "INSERT INTO log_keys (fingerprint, pem) VALUES ($1, $2) ON CONFLICT DO NOTHING", 0 },
	/* sealed-bid auctions: a sealed bid, the parameters of DB_S_BID; $12 seq */
	[DB_S_SEALED_BID] = { "sealed_bid",
	    "WITH b AS (INSERT INTO bids (id, auction_id, seq, participant_id, organization_id,"
	    " fingerprint, amount, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8))"
	    " " CH_VALUES("$12", "$8", "'auction'", "'bid_accepted'", "$2", "$10", "$11", "NULL",
	    "$1", "$4", "$5", "$6", "NULL", "NULL", "$7", "NULL", "true", "$9", "$13", "$14", "$15"),
	    1 },
	/* auction */
	[DB_S_SEALED] = { "sealed", "UPDATE auctions SET sealed = true WHERE id = $1", 0 },
	/* auction, price paid */
	[DB_S_PRICE_PAID] = { "price_paid", "UPDATE auctions SET price_paid = $2 WHERE id = $1", 0 },
	/* multi-lot auctions: auction, event, lot number, lot count, event title, lot_closing,
	 * stagger (ms) */
	[DB_S_LOT] = { "lot", "UPDATE auctions SET event_id = $2, lot_number = $3, lot_count = $4,"
	    " event_title = $5, lot_closing = $6, stagger_ms = $7 WHERE id = $1", 0 },
	/* auction: its bids need not be signed (auction.create's signed_bids: false, which its
	 * created change's body says too) */
	[DB_S_UNSIGNED] = { "unsigned_bids", "UPDATE auctions SET signed_bids = false WHERE id = $1",
	    0 },
	/* auction, format, higher_wins, max_extensions (NULL: none), latest_end (NULL: none) */
	[DB_S_FORMAT] = { "format", "UPDATE auctions SET format = $2, higher_wins = $3,"
	    " max_extensions = $4, latest_end = $5 WHERE id = $1", 0 },
	/* auction, at, the end after it, participant, organization, fingerprint, body,
	 * procurement, lot, kind (paused, resumed, prolonged), reason, amount (ms; NULL for a
	 * pause); $13 seq */
	[DB_S_RULE] = { "rule",
	    "WITH u AS (UPDATE auctions SET ends_at = $3 WHERE id = $1)"
	    " " CH_VALUES("$13", "$2", "'auction'", "$10::text", "$1", "$8", "$9", "NULL", "NULL",
	    "$4", "$5", "$6", "NULL", "NULL", "$12::bigint", "$11", "false", "$7", "$14", "$15",
	    "$16"), 1 },
	/* auction, visibility, invited ("3,5,9"; NULL: open to all), min_bidders (NULL: none) */
	[DB_S_RULES] = { "rules", "UPDATE auctions SET visibility = $2,"
	    " invited = string_to_array($3, ',')::bigint[], min_bidders = $4 WHERE id = $1", 0 },
	/* second-place tail: auction, tail_ms */
	[DB_S_TAIL_MS] = { "tail_ms", "UPDATE auctions SET tail_ms = $2 WHERE id = $1", 0 },
	/* auction, at (the main end), winner bid, final price, tail end, body, procurement, lot;
	 * $9 seq */
	[DB_S_TAIL] = { "tail",
	    "WITH u AS (UPDATE auctions SET tail_ends_at = $5 WHERE id = $1)"
	    " " CH_VALUES("$9", "$2", "'auction'", "'tail'", "$1", "$7", "$8", "NULL", "$3", "NULL",
	    "NULL", "NULL", "NULL", "NULL", "$4", "NULL", "false", "$6", "$10", "$11", "$12"), 1 },
	/* auction, tail end */
	[DB_S_TAIL_END] = { "tail_end", "UPDATE auctions SET tail_ends_at = $2 WHERE id = $1", 0 },
	/* auction, outage_share (percent), outage_window_ms, outage_max_pause_ms,
	 * outage_min_bidders (migration 026) */
	[DB_S_OUTAGE] = { "outage", "UPDATE auctions SET outage_share = $2, outage_window_ms = $3,"
	    " outage_max_pause_ms = $4, outage_min_bidders = $5 WHERE id = $1", 0 },
	/* auction, clock_step, clock_interval_ms, clock_limit (a clock format's) */
	[DB_S_CLOCK] = { "clock", "UPDATE auctions SET clock_step = $2, clock_interval_ms = $3,"
	    " clock_limit = $4 WHERE id = $1", 0 },
	/* auction, rounds_initial_ms, rounds_pause_ms, rounds_count, rounds_turn_ms,
	 * rounds_round_pause_ms (a rounds auction's) */
	[DB_S_ROUNDS] = { "rounds", "UPDATE auctions SET rounds_initial_ms = $2,"
	    " rounds_pause_ms = $3, rounds_count = $4, rounds_turn_ms = $5,"
	    " rounds_round_pause_ms = $6 WHERE id = $1", 0 },
	/* as DB_S_BID, for a bid a proxy placed */
	[DB_S_AUTOBID] = { "autobid",
	    "WITH b AS (INSERT INTO bids (id, auction_id, seq, participant_id, organization_id,"
	    " fingerprint, amount, placed_at, automatic) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true))"
	    " " CH_VALUES("$12", "$8", "'auction'", "'bid_accepted'", "$2", "$10", "$11", "NULL",
	    "$1", "$4", "$5", "$6", "NULL", "NULL", "$7", "NULL", "false", "$9", "$13", "$14", "$15"),
	    1 },
	/* auction, at, participant, organization, fingerprint, floor (NULL: withdrawn), body,
	 * procurement, lot, kind (proxy_set, proxy_withdrawn); $11 seq; sealed */
	[DB_S_PROXY] = { "proxy",
	    CH_VALUES("$11", "$2", "'auction'", "$10::text", "$1", "$8", "$9", "NULL", "NULL",
	    "$3", "$4", "$5", "NULL", "NULL", "$6::bigint", "NULL", "true", "$7", "$12", "$13",
	    "$14"), 1 },
	/* participant, status, at, reason, operator, operator's fingerprint, operator's
	 * organization, kind, body, the participant's organization; $11 seq */
	[DB_S_STATUS] = { "status",
	    "WITH u AS (UPDATE participants SET status = $2 WHERE id = $1)"
	    " " CH_VALUES("$11", "$3", "'participant'", "$8", "NULL", "NULL", "NULL", "NULL", "NULL",
	    "$5", "$7", "$6", "$1", "$10", "NULL", "$4", "false", "$9", "$12", "$13", "$14"), 1 },
	/* organization, status, at, reason, operator, operator's fingerprint, operator's
	 * organization, kind, body; $10 seq */
	[DB_S_ORG_STATUS] = { "org_status",
	    "WITH u AS (UPDATE organizations SET status = $2 WHERE id = $1)"
	    " " CH_VALUES("$10", "$3", "'organization'", "$8", "NULL", "NULL", "NULL", "NULL", "NULL",
	    "$5", "$7", "$6", "NULL", "$1", "NULL", "$4", "false", "$9", "$11", "$12", "$13"), 1 },
	/* fingerprint, participant, subject, serial, not before, not after, pem, operator, at,
	 * operator's organization, operator's fingerprint, the participant's organization, body;
	 * $14 seq */
	[DB_S_CERT_ADD] = { "cert_add",
	    "WITH c AS (INSERT INTO certificates (fingerprint, participant_id, subject, serial,"
	    " not_before, not_after, pem, registered_by, registered_at)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))"
	    " " CH_VALUES("$14", "$9", "'participant'", "'certificate_added'", "NULL", "NULL", "NULL",
	    "NULL", "NULL", "$8", "$10", "$11", "$2", "$12", "NULL", "NULL", "false", "$13", "$15",
	    "$16", "$17"), 1 },
};

/* The statements from DB_S_P_FIRST on, given by db_use_proc_stmts(). */
static const struct db_stmt_def *db_more_stmts;

/* See db.h. */
void
db_use_proc_stmts(const struct db_stmt_def *defs)
{
	db_more_stmts = defs;
}

/* A statement's name and SQL. */
static const struct db_stmt_def *
db_stmt(enum db_stmt s)
{
	return s < DB_S_P_FIRST ? &db_stmts[s] : &db_more_stmts[s - DB_S_P_FIRST];
}

/* Parameters of DB_S_BID with its seq, statement, signature and signer; DB_S_BIDS takes
 * one array of each. */
#define DB_BID_COLS 15

/* A growing text buffer (an array literal being built). */
struct db_buf {
	char *p;
	size_t len, cap;
};

enum db_conn_state { DB_DOWN, DB_CONNECTING, DB_PREPARING, DB_RESOLVING, DB_READY };

/* Per-statement result routing for the batch in flight. */
struct db_query {
	db_row_fn fn;
	void *arg;
};

/*
 * Batches in flight. Up to `max_inflight` batches are sent on the one
 * pipelined connection, each its own implicit transaction ended by a Sync, so
 * they commit in the order sent and their results arrive in that order
 * (slots[head] is the oldest; the batch being built is the slot after the
 * last one in flight). The owner is told of each batch's outcome in that
 * order, the oldest first.
 *
 * Cascade: a batch was applied in memory on top of the ones before it, so
 * when one does not commit no later one may. Each batch's first statement
 * (DB_S_MARK) sets tenderd_state.last_batch to its id only if it holds the
 * previous id, and fails otherwise: PostgreSQL runs the batches after a
 * failed one's Sync, and this makes each of them fail in turn. When the
 * oldest batch fails, db.c tells the owner of it alone; the later batches in
 * flight are "doomed": the owner rolls them back itself, their results are
 * drained and ignored, and no new batch starts until they are. Batch ids and
 * seq numbers of the failed batch and of every later one are given back.
 *
 * In doubt: when the connection is lost, every batch in flight (and the one
 * being built) is in doubt. A new connection reads last_batch; since batches
 * commit in order, the ones up to it committed (a prefix), the rest did not.
 */
/* One leaf of a batch, kept until the batch's outcome is known. */
struct db_leaf {
	int64_t seq;
	uint8_t leaf[32], content[32];
	int sealed;
};

struct db_batch {
	int64_t id;
	int64_t seq0;             /* the first seq of its changes */
	struct db_leaf *leaves;   /* their leaf hashes, as they arrive (DB_S_BIDS's RETURNING,
	                           * DB_S_LEAVES), in any order, maybe twice */
	size_t nleaves, capleaves;
	size_t nchanges;          /* change rows added */
	size_t nreturned;         /* of which DB_S_BIDS returns the leaves itself */
	struct db_query *q;       /* result routing, one per statement */
	size_t nq, capq, qi;
	int failed;
	int doomed;               /* an earlier batch failed: results ignored */
	char why[256];
	db_done_fn done;
	void *done_arg;
};

#define DB_SLOTS (DB_MAX_INFLIGHT + 1)

struct db {
	struct event_base *base;
	char *conninfo;
	PGconn *pg;
	enum db_conn_state state;
	struct event *rev;        /* persistent read watch once connected */
	struct event *wev;        /* one-shot write watch (flush) */
	struct event *retry;
	int retry_s;              /* db_retry: the longest wait between two attempts */
	int retry_ms;             /* the wait before the next attempt (see db_lost) */
	struct db_dial *dial;     /* connection attempts (db_dial.c) */
	db_state_fn on_state;
	void *state_arg;
	int was_ready;

	int prep_failed;
	int lock_busy;            /* another session holds the writer's lock */
	int64_t resolved_last;

	/* the batches (see struct db_batch) */
	struct db_batch slots[DB_SLOTS];
	size_t head, nflight, ndoomed;
	int max_inflight;
	int building, in_doubt, broken;
	int64_t next_batch;
	int64_t next_seq;         /* the seq of the next change (see db.h) */
	struct db_buf bids[DB_BID_COLS];  /* pending DB_S_BID rows, as array literals */
	size_t nbids;
	size_t nbids_sent;        /* rows of the DB_S_BIDS statement being sent */
	/* db_batch_sign(): the signed statement of the next change row (NULL: none);
	 * the signature as bytea text input ("\\x" and hex) */
	char *sign_statement, *sign_signature, *sign_signer;
	db_leaf_fn on_leaf;       /* committed leaves go here (db_on_leaves) */
	void *leaf_arg;
	int64_t resolve_seq0;     /* resolving: the first seq in doubt */
};

/* The batch being built (the slot after those in flight). */
static struct db_batch *
db_open_batch(struct db *db)
{
	return &db->slots[(db->head + db->nflight) % DB_SLOTS];
}

struct db_res {
	PGresult *r;
};

static void db_lost(struct db *db, const char *why);
static void db_sign_clear(struct db *db);

/* Tell the owner when readiness changes. */
static void
db_notify(struct db *db)
{
	int up = db_ready(db);

	if (up != db->was_ready) {
		db->was_ready = up;
		if (up)
			db->retry_ms = DB_RETRY_FIRST_MS;
		log_info("db %s", up ? "ready" : "unavailable");
		if (db->on_state)
			db->on_state(db->state_arg, up);
	}
}

/* Connected, prepared, nothing in doubt. */
int
db_ready(const struct db *db)
{
	return db->state == DB_READY && !db->in_doubt;
}

/* The session holds the writer's advisory lock (taken while preparing). */
int
db_writer_lock(const struct db *db)
{
	return db->state == DB_RESOLVING || db->state == DB_READY;
}

/* A batch is open or in flight. */
int
db_busy(const struct db *db)
{
	return db->building || db->nflight || db->in_doubt;
}

/* A batch is open. */
int
db_building(const struct db *db)
{
	return db->building;
}

/* A new batch may start: ready, none open, fewer than the limit in flight, none doomed. */
int
db_can_begin(const struct db *db)
{
	return db_ready(db) && !db->building && db->ndoomed == 0 &&
	    db->nflight < (size_t)db->max_inflight;
}

/* At most `n` batches in flight (1..DB_MAX_INFLIGHT); takes effect for the next batch. */
void
db_set_max_inflight(struct db *db, int n)
{
	db->max_inflight = n < 1 ? 1 : n > DB_MAX_INFLIGHT ? DB_MAX_INFLIGHT : n;
}

/* Flush libpq's output; watch for writability when it could not finish. */
static void
db_flush(struct db *db)
{
	int r;

	if (db->pg == NULL)
		return;
	r = PQflush(db->pg);
	if (r < 0)
		db_lost(db, PQerrorMessage(db->pg));
	else if (r > 0)
		event_add(db->wev, NULL);
}

/* Parse a bytea result value ("\\x" and 64 lower-case hex digits, as PostgreSQL writes
 * it) into 32 bytes; -1 when it is not one. A table, not merkle_unhex(): every leaf of
 * every batch goes through here. */
static int
db_hash_value(const char *v, uint8_t out[32])
{
	static signed char val[256];
	static int ready;
	const unsigned char *p = (const unsigned char *)v;

	if (!ready) {
		memset(val, -1, sizeof(val));
		for (int i = 0; i < 10; i++)
			val['0' + i] = (signed char)i;
		for (int i = 0; i < 6; i++)
			val['a' + i] = val['A' + i] = (signed char)(10 + i);
		ready = 1;
	}
	if (p == NULL || p[0] != '\\' || p[1] != 'x')
		return -1;
	p += 2;
	for (int i = 0; i < 32; i++, p += 2) {
		int hi = val[p[0]], lo = hi < 0 ? -1 : val[p[1]];
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return *p == '\0' ? 0 : -1;
}

/* Rows of DB_S_LEAVES (or of the resolution query): seq, leaf hash, content hash. */
static void
db_leaf_rows(struct db_batch *b, const struct db_res *res, struct db *direct)
{
	for (int i = 0; i < db_res_rows(res); i++) {
		struct db_leaf l = { 0 };
		const char *seq = db_res_value(res, i, 0);
		if (seq == NULL || db_hash_value(db_res_value(res, i, 1), l.leaf) < 0) {
			log_error("db: a change without a leaf hash");
			continue;
		}
		l.seq = strtoll(seq, NULL, 10);
		l.sealed = db_hash_value(db_res_value(res, i, 2), l.content) == 0;
		if (direct != NULL) {
			if (direct->on_leaf)
				direct->on_leaf(direct->leaf_arg, l.seq, l.leaf, l.sealed ? l.content : NULL);
			continue;
		}
		if (b->nleaves == b->capleaves) {
			size_t ncap = b->capleaves ? b->capleaves * 2 : 256;
			struct db_leaf *nl = realloc(b->leaves, ncap * sizeof(*nl));
			if (nl == NULL) {
				log_error("db: out of memory keeping leaf hashes");
				return;
			}
			b->leaves = nl;
			b->capleaves = ncap;
		}
		b->leaves[b->nleaves++] = l;
	}
}

/* Result routing of DB_S_LEAVES: the batch keeps them until it commits. */
static void
db_on_leaves_result(void *arg, const struct db_res *res)
{
	db_leaf_rows(arg, res, NULL);
}

/* Order of two leaves by seq. */
static int
db_leaf_cmp(const void *x, const void *y)
{
	int64_t a = ((const struct db_leaf *)x)->seq, c = ((const struct db_leaf *)y)->seq;

	return a < c ? -1 : a > c;
}

/* A committed batch's leaves go to the transparency log, in seq order (a leaf given twice,
 * by RETURNING and by DB_S_LEAVES, is appended once: the log ignores a seq it holds). */
static void
db_give_leaves(struct db *db, struct db_batch *b)
{
	if (b->nleaves > 1)
		qsort(b->leaves, b->nleaves, sizeof(b->leaves[0]), db_leaf_cmp);
	for (size_t i = 0; i < b->nleaves && db->on_leaf; i++) {
		struct db_leaf *l = &b->leaves[i];
		db->on_leaf(db->leaf_arg, l->seq, l->leaf, l->sealed ? l->content : NULL);
	}
}

/* See db.h. */
void
db_on_leaves(struct db *db, db_leaf_fn fn, void *arg)
{
	db->on_leaf = fn;
	db->leaf_arg = arg;
}

/* Hand the oldest batch in flight to its owner. One that did not commit dooms
 * every later batch in flight (their owner rolls them back) and gives back its
 * ids and seq numbers and theirs. */
static void
db_finish(struct db *db, enum db_outcome o)
{
	struct db_batch *b = &db->slots[db->head];
	db_done_fn done = b->done;
	void *arg = b->done_arg;
	char why[256];

	snprintf(why, sizeof(why), "%s", b->why);
	db->head = (db->head + 1) % DB_SLOTS;
	db->nflight--;
	if (o == DB_COMMITTED && !b->doomed)
		db_give_leaves(db, b);
	b->nleaves = 0;
	if (b->doomed) {
		db->ndoomed--;
		o = DB_SKIPPED;
	} else if (o != DB_COMMITTED) {
		/* the numbers of a batch that did not commit are reused */
		db->next_seq = b->seq0;
		db->next_batch = b->id;
		if (db->in_doubt) {
			db->nflight = 0;  /* the rest were on the lost connection: nothing to drain */
		} else {
			for (size_t i = 0; i < db->nflight; i++)
				db->slots[(db->head + i) % DB_SLOTS].doomed = 1;
			db->ndoomed = db->nflight;
		}
	}
	b->nq = b->qi = 0;
	b->done = NULL;
	if (db->nflight == 0)
		db->in_doubt = 0;
	if (done)
		done(arg, o, o == DB_COMMITTED ? NULL : why);
}

/* Ask a fresh connection whether the batch in doubt committed. */
static void
db_resolve(struct db *db)
{
	char seq0[24];
	const char *p[1] = { seq0 };

	/* the leaves of the batches in doubt that committed: they are in the tree before
	 * any of them is acknowledged */
	db->resolve_seq0 = db->nflight ? db->slots[db->head].seq0 : db->next_seq;
	snprintf(seq0, sizeof(seq0), "%lld", (long long)db->resolve_seq0);
	if (PQsendQueryParams(db->pg, "SELECT last_batch FROM tenderd_state", 0, NULL, NULL,
	    NULL, NULL, 0) != 1 ||
	    PQsendQueryPrepared(db->pg, db_stmts[DB_S_LEAVES].name, 1, p, NULL, NULL, 0) != 1 ||
	    PQpipelineSync(db->pg) != 1) {
		db_lost(db, PQerrorMessage(db->pg));
		return;
	}
	db->resolved_last = -1;
	db->state = DB_RESOLVING;
	db_flush(db);
}

/* One result while preparing statements. */
static void
db_on_prepare_result(struct db *db, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_PIPELINE_SYNC) {
		if (db->lock_busy) {
			db_lost(db, "another session holds tenderd's writer lock (a previous tenderd "
			    "still finishing its last batch, or a second tenderd on this database)");
			return;
		}
		if (db->prep_failed) {
			db_lost(db, "preparing statements failed (schema not migrated?)");
			return;
		}
		if (db->in_doubt) {
			db_resolve(db);
			return;
		}
		db->state = DB_READY;
		db_notify(db);
	} else if (st == PGRES_TUPLES_OK) {
		if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "t") != 0)
			db->lock_busy = 1;
	} else if (st != PGRES_COMMAND_OK) {
		log_error("db prepare failed: %s", PQresultErrorMessage(r));
		db->prep_failed = 1;
	}
}

/* One result while resolving a batch in doubt. */
static void
db_on_resolve_result(struct db *db, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_TUPLES_OK && PQnfields(r) == 3) {
		struct db_res res = { r };
		db_leaf_rows(NULL, &res, db);
	} else if (st == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		db->resolved_last = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	} else if (st == PGRES_PIPELINE_SYNC) {
		if (db->resolved_last < 0) {
			db_lost(db, "cannot read tenderd_state");
			return;
		}
		db->state = DB_READY;
		/* batches commit in order: those up to last_batch did, the rest did not */
		while (db->in_doubt && db->nflight > 0 && db->state == DB_READY) {
			struct db_batch *b = &db->slots[db->head];
			int committed = db->resolved_last >= b->id;
			log_warn("db batch=%lld was in doubt: %s", (long long)b->id,
			    committed ? "committed" : "not committed");
			snprintf(b->why, sizeof(b->why), "connection to PostgreSQL lost");
			db_finish(db, committed ? DB_COMMITTED : DB_LOST);
		}
		if (db->state != DB_READY)
			return;  /* lost again from an owner's callback: resolved on the next connection */
		db->in_doubt = 0;
		db_notify(db);
	}
}

/* One result of the oldest batch in flight; its Sync hands it to its owner (a
 * batch the owner sends from there takes a later slot). */
static void
db_on_batch_result(struct db *db, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	struct db_batch *b = &db->slots[db->head];

	switch (st) {
	case PGRES_PIPELINE_SYNC:
		db_finish(db, b->failed ? DB_FAILED : DB_COMMITTED);
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_PIPELINE_ABORTED:
		if (!b->failed) {
			const char *m = st == PGRES_FATAL_ERROR ? PQresultErrorMessage(r) : "aborted";
			b->failed = 1;
			if (b->qi == 0)
				m = "the previous batch did not commit";
			snprintf(b->why, sizeof(b->why), "%s", m);
			b->why[strcspn(b->why, "\n")] = '\0';
			log_error("db batch=%lld statement %zu failed: %s", (long long)b->id, b->qi,
			    b->why);
		}
		break;
	case PGRES_TUPLES_OK:
		if (b->qi < b->nq && b->q[b->qi].fn && !b->doomed) {
			struct db_res res = { r };
			b->q[b->qi].fn(b->q[b->qi].arg, &res);
		}
		break;
	default:
		break;
	}
}

/* Read everything PostgreSQL has sent and route the results. */
static void
db_drain(struct db *db)
{
	if (PQconsumeInput(db->pg) != 1) {
		db_lost(db, PQerrorMessage(db->pg));
		return;
	}
	while (db->pg != NULL && !PQisBusy(db->pg)) {
		enum db_conn_state st = db->state;
		PGresult *r;

		if (st == DB_READY && db->nflight == 0)
			break;  /* nothing expected */
		r = PQgetResult(db->pg);
		if (r == NULL) {
			if (st == DB_READY && db->nflight)
				db->slots[db->head].qi++;
			continue;
		}
		if (st == DB_PREPARING)
			db_on_prepare_result(db, r);
		else if (st == DB_RESOLVING)
			db_on_resolve_result(db, r);
		else if (db->nflight)
			db_on_batch_result(db, r);
		PQclear(r);
	}
}

/* Socket readable. */
static void
db_on_read(evutil_socket_t fd, short what, void *arg)
{
	db_drain(arg);
}

/* Socket writable: continue flushing, or continue connecting. */
static void
db_on_write(evutil_socket_t fd, short what, void *arg)
{
	db_flush(arg);
}

/* Stop watching the socket and close the connection. */
static void
db_close(struct db *db)
{
	struct event **evs[2] = { &db->rev, &db->wev };

	for (int i = 0; i < 2; i++) {
		if (*evs[i]) {
			event_free(*evs[i]);
			*evs[i] = NULL;
		}
	}
	if (db->dial)
		db_dial_cancel(db->dial);
	if (db->pg) {
		PQfinish(db->pg);
		db->pg = NULL;
	}
}

/* Drop the connection and schedule a reconnection; a batch in flight
 * becomes in doubt. */
static void
db_lost(struct db *db, const char *why)
{
	/*
	 * Reconnection backoff: the first attempt after a loss comes DB_RETRY_FIRST_MS later
	 * (a promoted replica, a restarted PostgreSQL is often back by then), and each failed
	 * attempt doubles the wait, up to db_retry seconds; a connection that becomes ready
	 * starts the sequence again.
	 */
	struct timeval tv = { db->retry_ms / 1000, (db->retry_ms % 1000) * 1000 };
	char msg[256];

	db->retry_ms = db->retry_ms * 2 < db->retry_s * 1000 ? db->retry_ms * 2 : db->retry_s * 1000;

	snprintf(msg, sizeof(msg), "%s", why ? why : "");
	msg[strcspn(msg, "\n")] = '\0';
	if (db->state != DB_CONNECTING || db->was_ready)
		log_warn("db connection lost: %s", msg);
	db_close(db);
	/* doomed batches are already settled by their owner: nothing to resolve */
	db->nflight -= db->ndoomed;
	db->ndoomed = 0;
	if (db->nflight || db->building)
		db->in_doubt = 1;
	db->state = DB_DOWN;
	db_notify(db);
	evtimer_add(db->retry, &tv);
}

/* Log server notices at debug level. */
static void
db_notice(void *arg, const char *msg)
{
	log_debug("db notice: %s", msg);
}

/* Connected: enter pipeline mode and prepare every statement. */
static void
db_connected(struct db *db)
{
	int fd = PQsocket(db->pg);

	PQsetNoticeProcessor(db->pg, db_notice, NULL);
	if (PQsetnonblocking(db->pg, 1) != 0 || PQenterPipelineMode(db->pg) != 1) {
		db_lost(db, PQerrorMessage(db->pg));
		return;
	}
	db->rev = event_new(db->base, fd, EV_READ | EV_PERSIST, db_on_read, db);
	db->wev = event_new(db->base, fd, EV_WRITE, db_on_write, db);
	event_add(db->rev, NULL);
	db->prep_failed = 0;
	db->lock_busy = 0;
	db->state = DB_PREPARING;
	/*
	 * One writer at a time: the session that writes batches holds an advisory
	 * lock, so a new connection (or a restarted tenderd) cannot read or write
	 * while an older session may still commit a batch. The older session ends
	 * soon after its client is gone: PostgreSQL checks the client every second
	 * while a query runs, even one waiting for a lock.
	 */
	if (PQsendQueryParams(db->pg, "SET client_connection_check_interval = 1000", 0, NULL, NULL,
	    NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(db->pg, "SELECT pg_try_advisory_lock(" DB_WRITER_LOCK ")", 0, NULL,
	    NULL, NULL, NULL, 0) != 1) {
		db_lost(db, PQerrorMessage(db->pg));
		return;
	}
	for (int i = 0; i < DB_S_COUNT; i++) {
		if (PQsendPrepare(db->pg, db_stmt(i)->name, db_stmt(i)->sql, 0, NULL) != 1) {
			db_lost(db, PQerrorMessage(db->pg));
			return;
		}
	}
	if (PQpipelineSync(db->pg) != 1) {
		db_lost(db, PQerrorMessage(db->pg));
		return;
	}
	log_info("db connected to %s port %s, preparing statements", PQhost(db->pg), PQport(db->pg));
	db_flush(db);
}

/* The end of a connection attempt (db_dial.c): connected, or failed with `why`. */
static void
db_on_dialed(void *arg, PGconn *pg, const char *why)
{
	struct db *db = arg;

	if (pg == NULL) {
		db_lost(db, why);
		return;
	}
	db->pg = pg;
	db_connected(db);
}

/* Retry timer: start a new connection attempt (its end comes to db_on_dialed). */
static void
db_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	db->state = DB_CONNECTING;
	db_dial_start(db->dial);
}

/* An attempt's bound when the conninfo sets no connect_timeout (db_dial.c). */
#define DB_CONNECT_TIMEOUT_S 10

/* Create the client and start connecting. */
struct db *
db_new(struct event_base *base, const char *conninfo, int retry_s, int64_t next_batch,
    int64_t next_seq, db_state_fn on_state, void *arg)
{
	struct db *db = calloc(1, sizeof(*db));
	const char *keys[2] = { "fallback_application_name", NULL };
	const char *vals[2] = { db_application_name(), NULL };

	if (db == NULL || (db->conninfo = strdup(conninfo)) == NULL) {
		free(db);
		return NULL;
	}
	db->base = base;
	db->retry_s = retry_s;
	db->retry_ms = DB_RETRY_FIRST_MS;
	db->next_batch = next_batch;
	db->next_seq = next_seq;
	db->max_inflight = 1;
	db->on_state = on_state;
	db->state_arg = arg;
	db->retry = evtimer_new(base, db_on_retry, db);
	db->dial = db_dial_new(base, conninfo, keys, vals, DB_CONNECT_TIMEOUT_S, "db", db_on_dialed,
	    db);
	if (db->dial == NULL) {
		db_free(db);
		return NULL;
	}
	db_on_retry(-1, 0, db);
	return db;
}

/* Close the connection and free everything. */
void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_close(db);
	event_free(db->retry);
	db_dial_free(db->dial);
	for (int i = 0; i < DB_SLOTS; i++) {
		free(db->slots[i].q);
		free(db->slots[i].leaves);
	}
	for (int i = 0; i < DB_BID_COLS; i++)
		free(db->bids[i].p);
	db_sign_clear(db);
	free(db->conninfo);
	free(db);
}

/* Remember where a statement's result rows go. */
static void
db_push_query(struct db *db, db_row_fn fn, void *arg)
{
	struct db_batch *b = db_open_batch(db);

	if (b->nq == b->capq) {
		size_t ncap = b->capq ? b->capq * 2 : 64;
		struct db_query *nq = realloc(b->q, ncap * sizeof(*nq));
		if (nq == NULL) {
			db->broken = 1;
			return;
		}
		b->q = nq;
		b->capq = ncap;
	}
	b->q[b->nq].fn = fn;
	b->q[b->nq].arg = arg;
	b->nq++;
}

/* Open a batch: its first statement records the batch id. */
void
db_batch_begin(struct db *db)
{
	char id[32];
	const char *p[1] = { id };

	struct db_batch *b = db_open_batch(db);

	db->building = 1;
	db->broken = 0;
	db->nbids = 0;
	b->failed = 0;
	b->doomed = 0;
	b->why[0] = '\0';
	b->nq = b->qi = 0;
	b->nleaves = b->nchanges = b->nreturned = 0;
	b->done = NULL;
	b->id = db->next_batch++;
	b->seq0 = db->next_seq;
	snprintf(id, sizeof(id), "%lld", (long long)b->id);
	db_batch_add(db, DB_S_MARK, 1, p, NULL, NULL);
}

/* Append bytes to a buffer; -1 when out of memory. */
static int
db_buf_add(struct db_buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		char *np;
		while (b->len + n + 1 > ncap)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Append one element to an array literal being built: quoted, with '"' and
 * '\\' escaped, so any text (a JSON body) survives; NULL for SQL NULL. */
static int
db_buf_elem(struct db_buf *b, const char *v, int first)
{
	if (v == NULL)
		return db_buf_add(b, first ? "{NULL" : ",NULL", 5);
	if (db_buf_add(b, first ? "{\"" : ",\"", 2) < 0)
		return -1;
	for (const char *p = v; *p; p++) {
		size_t run = strcspn(p, "\"\\");
		if (run && db_buf_add(b, p, run) < 0)
			return -1;
		p += run;
		if (*p == '\0')
			break;
		if (db_buf_add(b, "\\", 1) < 0 || db_buf_add(b, p, 1) < 0)
			return -1;
	}
	return db_buf_add(b, "\"", 1);
}

/* Send the pending bid rows as one DB_S_BIDS statement. */
static void
db_flush_bids(struct db *db)
{
	const char *p[DB_BID_COLS];

	if (db->nbids == 0)
		return;
	for (int i = 0; i < DB_BID_COLS; i++) {
		if (db_buf_add(&db->bids[i], "}", 1) < 0) {
			snprintf(db_open_batch(db)->why, sizeof(db_open_batch(db)->why), "out of memory");
			db->broken = 1;
		}
		p[i] = db->bids[i].p;
	}
	db->nbids_sent = db->nbids;
	db->nbids = 0;
	if (db->broken || db->pg == NULL) {
		db->broken = 1;
		return;
	}
	if (PQsendQueryPrepared(db->pg, db_stmts[DB_S_BIDS].name, DB_BID_COLS, p, NULL, NULL,
	    0) != 1) {
		snprintf(db_open_batch(db)->why, sizeof(db_open_batch(db)->why), "%s", PQerrorMessage(db->pg));
		db->broken = 1;
		return;
	}
	db_open_batch(db)->nreturned += db->nbids_sent;
	db_push_query(db, db_on_leaves_result, db_open_batch(db));
}

/* Keep one DB_S_BID row (its seq last) for the next multi-row insert. Only the
 * procurement and the lot may be NULL. */
static void
db_queue_bid(struct db *db, const char *const *params)
{
	for (int i = 0; i < DB_BID_COLS; i++) {
		if (db->nbids == 0)
			db->bids[i].len = 0;
		/* only the procurement, the lot and the signed statement may be NULL */
		if ((params[i] == NULL && i != 9 && i != 10 && i < 12) ||
		    db_buf_elem(&db->bids[i], params[i], db->nbids == 0) < 0) {
			snprintf(db_open_batch(db)->why, sizeof(db_open_batch(db)->why), "cannot queue a bid row");
			db->broken = 1;
			return;
		}
	}
	db->nbids++;
}

/* Forget the signed statement given for the next change. */
static void
db_sign_clear(struct db *db)
{
	free(db->sign_statement);
	free(db->sign_signature);
	free(db->sign_signer);
	db->sign_statement = db->sign_signature = db->sign_signer = NULL;
}

/* See db.h. */
void
db_batch_sign(struct db *db, const char *statement, const unsigned char *sig, size_t siglen,
    const char *signer)
{
	static const char hex[] = "0123456789abcdef";

	db_sign_clear(db);
	if (statement == NULL)
		return;
	db->sign_statement = strdup(statement);
	db->sign_signer = signer ? strdup(signer) : NULL;
	if ((db->sign_signature = malloc(2 * siglen + 3)) != NULL) {
		char *o = db->sign_signature;
		*o++ = '\\';
		*o++ = 'x';
		for (size_t i = 0; i < siglen; i++) {
			*o++ = hex[sig[i] >> 4];
			*o++ = hex[sig[i] & 15];
		}
		*o = '\0';
	}
	if (db->sign_statement == NULL || db->sign_signature == NULL ||
	    (signer != NULL && db->sign_signer == NULL))
		db->broken = 1;
}

/* Queue one prepared statement on the pipeline; a change statement gets four
 * more parameters: the next seq, then the signed statement, signature and
 * signer given by db_batch_sign() (NULL when none was), which it uses up. */
int64_t
db_batch_add(struct db *db, enum db_stmt s, int nparams, const char *const *params,
    db_row_fn fn, void *arg)
{
	const struct db_stmt_def *def = db_stmt(s);
	const char *p[32];
	char seqtext[24];
	int64_t seq = 0;

	if (db->broken || db->pg == NULL || nparams >= 28) {
		db->broken = 1;
		db_sign_clear(db);
		return 0;
	}
	memcpy(p, params, (size_t)nparams * sizeof(p[0]));
	if (def->change) {
		seq = db->next_seq++;
		db_open_batch(db)->nchanges++;
		snprintf(seqtext, sizeof(seqtext), "%lld", (long long)seq);
		p[nparams++] = seqtext;
		p[nparams++] = db->sign_statement;
		p[nparams++] = db->sign_signature;
		p[nparams++] = db->sign_signer;
	}
	if (s == DB_S_BID && fn == NULL && nparams == DB_BID_COLS) {
		db_queue_bid(db, p);
		db_sign_clear(db);
		return seq;
	}
	db_flush_bids(db);
	if (!db->broken &&
	    PQsendQueryPrepared(db->pg, def->name, nparams, p, NULL, NULL, 0) != 1) {
		snprintf(db_open_batch(db)->why, sizeof(db_open_batch(db)->why), "%s", PQerrorMessage(db->pg));
		db->broken = 1;
	}
	if (def->change)
		db_sign_clear(db);
	if (!db->broken)
		db_push_query(db, fn, arg);
	return seq;
}

/* The seq the next change will get. */
int64_t
db_next_seq(const struct db *db)
{
	return db->next_seq;
}

/* Statements in the open batch, not counting the batch marker. */
size_t
db_batch_len(const struct db *db)
{
	const struct db_batch *b = &db->slots[(db->head + db->nflight) % DB_SLOTS];

	return (b->nq ? b->nq - 1 : 0) + db->nbids;
}

/* Close the batch with a Sync and send it: it joins the batches in flight. */
void
db_batch_send(struct db *db, db_done_fn done, void *arg)
{
	struct db_batch *b = db_open_batch(db);

	b->done = done;
	b->done_arg = arg;
	db_flush_bids(db);
	/* the leaves DB_S_BIDS did not return: the batch's whole range, read back */
	if (b->nchanges > b->nreturned) {
		char seq0[24];
		const char *p[1] = { seq0 };
		snprintf(seq0, sizeof(seq0), "%lld", (long long)b->seq0);
		db_batch_add(db, DB_S_LEAVES, 1, p, db_on_leaves_result, b);
	}
	db->building = 0;
	db->nflight++;
	if (db->broken || db->pg == NULL || PQpipelineSync(db->pg) != 1) {
		db_lost(db, b->why[0] ? b->why : "cannot send batch");
		return;
	}
	log_debug("db batch=%lld sent statements=%zu in_flight=%zu", (long long)b->id, b->nq,
	    db->nflight);
	db_flush(db);
}

/* Rows of a statement result. */
int
db_res_rows(const struct db_res *res)
{
	return PQntuples(res->r);
}

/* One value of a statement result; NULL for SQL NULL. */
const char *
db_res_value(const struct db_res *res, int row, int col)
{
	if (PQgetisnull(res->r, row, col))
		return NULL;
	return PQgetvalue(res->r, row, col);
}
