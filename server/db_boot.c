/* Blocking PostgreSQL work for start-up and the admin commands: migrations,
 * loading the state to rebuild, offline registration. Never used from the
 * event loop. */
#include "server/db.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "common/text.h"

#define MS(col) "(extract(epoch from " col ") * 1000)::bigint"
/* Text of an int64. */
#define I64TEXT(buf, v) (snprintf((buf), sizeof(buf), "%lld", (long long)(v)), (const char *)(buf))

static char boot_app_name[64] = "tenderd";

/* Set the application_name of tenderd's sessions. */
void
db_set_application_name(const char *name)
{
	snprintf(boot_app_name, sizeof(boot_app_name), "%s", name);
}

/* The application_name of tenderd's sessions. */
const char *
db_application_name(void)
{
	return boot_app_name;
}

/* Open a blocking connection. */
static PGconn *
boot_connect(const char *conninfo, char *cause, size_t n)
{
	const char *keys[] = { "dbname", "fallback_application_name", NULL };
	const char *vals[] = { conninfo, boot_app_name, NULL };
	PGconn *pg = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(cause, n, "cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
		cause[strcspn(cause, "\n")] = '\0';
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* SQLSTATE of the last statement boot_exec() saw fail. */
static char boot_sqlstate[6];

/* Run a statement that returns no rows. */
static int
boot_exec(PGconn *pg, const char *sql, char *cause, size_t n)
{
	PGresult *r = PQexec(pg, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(boot_sqlstate, sizeof(boot_sqlstate), "%s", st ? st : "");
		snprintf(cause, n, "%s", PQresultErrorMessage(r));
		cause[strcspn(cause, "\n")] = '\0';
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* Order migration files by name. */
static int
boot_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read a whole file. */
static char *
boot_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long sz;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	if (sz < 0 || (buf = malloc((size_t)sz + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	buf[fread(buf, 1, (size_t)sz, f)] = '\0';
	fclose(f);
	return buf;
}

/* Sessions of this database, other than ours, holding a lock a migration may wait for
 * (tables and views outside the catalogs, the migration lock), oldest transaction first. */
static const char boot_blockers_sql[] =
    "SELECT a.pid, coalesce(a.usename::text, '?'), coalesce(a.application_name, ''),"
    " coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?'),"
    " coalesce(to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?'),"
    " coalesce(a.state, '?'), string_agg(DISTINCT CASE WHEN l.locktype = 'relation'"
    " THEN l.relation::regclass::text ELSE 'the migration lock' END, ', ')"
    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " LEFT JOIN pg_class c ON l.locktype = 'relation' AND c.oid = l.relation"
    " LEFT JOIN pg_namespace ns ON ns.oid = c.relnamespace"
    " WHERE l.granted AND l.pid <> pg_backend_pid()"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND ((l.locktype = 'relation' AND c.relkind IN ('r', 'p', 'v', 'm')"
    " AND ns.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND ns.nspname NOT LIKE 'pg\\_toast%')"
    " OR (l.locktype = 'advisory' AND l.classid = 0 AND l.objid = " DB_MIGRATE_LOCK
    " AND l.objsubid = 1))"
    " GROUP BY a.pid, a.usename, a.application_name, a.xact_start, a.query_start, a.state"
    " ORDER BY a.xact_start NULLS LAST LIMIT 5";

/* After a lock timeout: say what waited and which sessions hold locks. */
static void
boot_blockers(PGconn *pg, const char *what, long timeout_s, char *cause, size_t n)
{
	PGresult *r = PQexec(pg, boot_blockers_sql);
	size_t len;

	snprintf(cause, n, "%s waited %ld s for a lock (migrate_lock_timeout) and gave up", what,
	    timeout_s);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0) {
		len = strlen(cause);
		snprintf(cause + len, n - len, "; the sessions that held it have ended: try again");
		PQclear(r);
		return;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		len = strlen(cause);
		snprintf(cause + len, n - len, "%s pid %s (role %s, application_name '%s', "
		    "transaction since %s, query since %s, %s) on %s", i ? ";" :
		    ": sessions holding locks:",
		    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		    PQgetvalue(r, i, 4), PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
	}
	PQclear(r);
}

/* Apply one migration file in its own transaction unless already recorded. */
static int
boot_apply(PGconn *pg, const char *dir, const char *file, long lock_timeout_s, char *cause,
    size_t n)
{
	char path[1024], why[512];
	const char *params[2];
	int version = atoi(file);
	char vbuf[16];
	PGresult *r;
	char *sql;
	int done;

	snprintf(vbuf, sizeof(vbuf), "%d", version);
	params[0] = vbuf;
	r = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
	    params, NULL, NULL, 0);
	done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
	PQclear(r);
	if (done)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((sql = boot_slurp(path)) == NULL) {
		snprintf(cause, n, "cannot read %s", path);
		return -1;
	}
	if (boot_exec(pg, "BEGIN", why, sizeof(why)) < 0 || boot_exec(pg, sql, why, sizeof(why)) < 0) {
		int timed_out = strcmp(boot_sqlstate, "55P03") == 0;
		int denied = strcmp(boot_sqlstate, "42501") == 0;
		char what[300];
		snprintf(cause, n, "migration %s failed: %s%s", file, why, denied ?
		    " (migrations run as the owner role tenderd_owner, see docs/operations.md)" : "");
		free(sql);
		boot_exec(pg, "ROLLBACK", why, sizeof(why));
		if (timed_out) {
			snprintf(what, sizeof(what), "migration %s", file);
			boot_blockers(pg, what, lock_timeout_s, cause, n);
		}
		return -1;
	}
	free(sql);
	params[1] = file;
	r = PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
	    NULL, params, NULL, NULL, 0);
	done = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!done || boot_exec(pg, "COMMIT", why, sizeof(why)) < 0) {
		snprintf(cause, n, "recording migration %s failed", file);
		boot_exec(pg, "ROLLBACK", why, sizeof(why));
		return -1;
	}
	log_info("migration applied file=%s", file);
	return 0;
}

/* The NNN_*.sql files of `dir`, sorted; their number, or -1 with `cause`. */
static int
boot_list(const char *dir, char **files, int max, char *cause, size_t n)
{
	struct dirent *de;
	int nfiles = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		snprintf(cause, n, "cannot open migrations directory %s (setting sql_dir)", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && nfiles < max) {
		size_t len = strlen(de->d_name);
		if (len > 4 && de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
		    strcmp(de->d_name + len - 4, ".sql") == 0 &&
		    (files[nfiles] = strdup(de->d_name)) != NULL)
			nfiles++;
	}
	closedir(d);
	qsort(files, (size_t)nfiles, sizeof(files[0]), boot_cmp);
	return nfiles;
}

/* Refuse to migrate as a superuser: what migrations create must belong to the owner role. */
static int
boot_not_superuser(PGconn *pg, char *cause, size_t n)
{
	PGresult *r = PQexec(pg, "SELECT current_user, rolsuper FROM pg_roles"
	    " WHERE rolname = current_user");
	int super = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    strcmp(PQgetvalue(r, 0, 1), "t") == 0;

	if (super)
		snprintf(cause, n, "migrations run as the owner role tenderd_owner, not as the "
		    "superuser %s: the tables would belong to it (docs/operations.md)",
		    PQgetvalue(r, 0, 0));
	PQclear(r);
	return super ? -1 : 0;
}

/* Apply every NNN_*.sql file of `dir` in order, once. */
int
db_boot_migrate(const char *conninfo, const char *dir, long lock_timeout_s, char *cause,
    size_t n)
{
	PGconn *pg = boot_connect(conninfo, cause, n);
	char *files[1000], set[64];
	int nfiles, rc = 0;

	if (pg == NULL)
		return -1;
	if ((nfiles = boot_list(dir, files, 1000, cause, n)) < 0 ||
	    boot_not_superuser(pg, cause, n) < 0) {
		for (int i = 0; i < nfiles; i++)
			free(files[i]);
		PQfinish(pg);
		return -1;
	}
	/* no wait for a lock is longer than lock_timeout: a session in front of a migration
	 * (an auditor's open transaction) makes it fail, naming that session */
	snprintf(set, sizeof(set), "SET lock_timeout = '%lds'", lock_timeout_s);
	/* one migrator at a time, and the bookkeeping table first */
	if (boot_exec(pg, set, cause, n) < 0 ||
	    boot_exec(pg, "SET client_min_messages = warning", cause, n) < 0)
		rc = -1;
	else if (boot_exec(pg, "SELECT pg_advisory_lock(" DB_MIGRATE_LOCK ")", cause, n) < 0) {
		if (strcmp(boot_sqlstate, "55P03") == 0)
			boot_blockers(pg, "tenderd migrate", lock_timeout_s, cause, n);
		rc = -1;
	} else if (boot_exec(pg, "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY,"
	    " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())", cause, n) < 0)
		rc = -1;
	for (int i = 0; i < nfiles; i++) {
		if (rc == 0 && boot_apply(pg, dir, files[i], lock_timeout_s, cause, n) < 0)
			rc = -1;
		free(files[i]);
	}
	PQfinish(pg);
	return rc;
}

/* Warn when tenderd's role could rewrite the records: a superuser, or an owner of tables. */
static void
boot_warn_role(PGconn *pg)
{
	PGresult *r = PQexec(pg, "SELECT current_user, rolsuper, (SELECT count(*) FROM pg_class"
	    " WHERE relowner = r.oid AND relnamespace = 'public'::regnamespace)"
	    " FROM pg_roles r WHERE rolname = current_user");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    (strcmp(PQgetvalue(r, 0, 1), "t") == 0 || strcmp(PQgetvalue(r, 0, 2), "0") != 0))
		log_warn("tenderd runs as database role %s, which is %s: it could rewrite the "
		    "append-only records; run it as the role tenderd (docs/operations.md)",
		    PQgetvalue(r, 0, 0), strcmp(PQgetvalue(r, 0, 1), "t") == 0 ? "a superuser" :
		    "the owner of tables");
	PQclear(r);
}

/* Check that every migration file of `dir` is recorded as applied. */
int
db_boot_check(const char *conninfo, const char *dir, char *cause, size_t n)
{
	PGconn *pg = boot_connect(conninfo, cause, n);
	char *files[1000];
	int nfiles, rc = 0;
	PGresult *r;

	if (pg == NULL)
		return -1;
	if ((nfiles = boot_list(dir, files, 1000, cause, n)) < 0) {
		PQfinish(pg);
		return -1;
	}
	r = PQexec(pg, "SELECT version FROM schema_migrations");
	for (int i = 0; i < nfiles; i++) {
		int version = atoi(files[i]), found = 0;
		for (int j = 0; PQresultStatus(r) == PGRES_TUPLES_OK && j < PQntuples(r); j++)
			found |= atoi(PQgetvalue(r, j, 0)) == version;
		if (rc == 0 && !found) {
			snprintf(cause, n, "migration %s is not applied: run tenderd migrate as the "
			    "owner role first (docs/operations.md)", files[i]);
			rc = -1;
		}
		free(files[i]);
	}
	PQclear(r);
	if (rc == 0)
		boot_warn_role(pg);
	PQfinish(pg);
	return rc;
}

/* Parse an int64 column (0 for NULL). */
static int64_t
boot_i64(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A text column, NULL for SQL NULL. */
static const char *
boot_str(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Run a query expected to return rows; NULL with `cause` on failure. */
static PGresult *
boot_query(PGconn *pg, const char *sql, char *cause, size_t n)
{
	PGresult *r = PQexec(pg, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(cause, n, "%s", PQresultErrorMessage(r));
		cause[strcspn(cause, "\n")] = '\0';
		PQclear(r);
		return NULL;
	}
	return r;
}

/*
 * Where the loader reads: tenderd's own tables at start-up, or the views of schema audit
 * when an auditor replays the log (tenderd verify). The columns are the same, in the same
 * order. The auditor does not see the offers of a procedure before its opening: its
 * procedures that are not opened yet are left out of the replay. Nothing replayed for the
 * auditor accepts requests: no statement nonces to remember, and whether an auction took
 * unsigned bids plays no part in its replay (read as false); tenderd verify rebuilds the
 * tree itself (the leaves and heads are not handed to the sink).
 */
struct boot_src {
	const char *orgs, *participants, *auctions, *seeded, *changes;
	const char *automatic;     /* proxy bidding: the ids of the bids proxies placed */
	/* outage pause: the auctions' outage rules (migration 026) */
	const char *outage;
};

static const struct boot_src boot_tables = {
	.orgs = "SELECT id, name, status FROM organizations ORDER BY id",
	.participants = "SELECT p.id, p.organization_id, p.name, p.role, p.status,"
	    " c.fingerprint, c.subject, coalesce(c.serial, ''), coalesce(" MS("c.not_before") ", 0),"
	    " coalesce(" MS("c.not_after") ", 0), coalesce(c.registered_by, 0), "
	    MS("c.registered_at") " FROM participants p JOIN certificates c"
	    " ON c.participant_id = p.id ORDER BY p.id, c.registered_at, c.fingerprint",
	.auctions = "SELECT id, buyer_participant_id, buyer_organization_id, title,"
	    " currency, state, cancel_reason, currency_exp, start_price, step_min_percent::int,"
	    " step_max_percent::int, step_min_value, step_max_value, step_min_amount, step_max_amount, "
	    MS("starts_at") ", " MS("scheduled_end") ", " MS("ends_at") ", " MS("closed_at") ","
	    " ext_window_ms, ext_length_ms, extensions, procurement_id, lot_id, NOT signed_bids,"
	    " format, coalesce(max_extensions, 0), coalesce(" MS("latest_end") ", 0),"
	    " visibility, array_to_string(invited, ','), coalesce(min_bidders, 0),"
	    " coalesce(clock_step, 0), coalesce(clock_interval_ms, 0), coalesce(clock_limit, 0),"
	    " coalesce(tail_ms, 0),"
	    " coalesce(rounds_initial_ms, 0), coalesce(rounds_pause_ms, 0),"
	    " coalesce(rounds_count, 0), coalesce(rounds_turn_ms, 0),"
	    " coalesce(rounds_round_pause_ms, 0),"
	    " coalesce(event_id, 0), coalesce(lot_number, 0), coalesce(lot_count, 0), event_title,"
	    " coalesce(stagger_ms, 0)"
	    " FROM auctions ORDER BY id",
	.seeded = "SELECT id FROM bids WHERE seeded ORDER BY id",
	.automatic = "SELECT id FROM bids WHERE automatic ORDER BY id",
	.changes = "DECLARE chg_cur NO SCROLL CURSOR FOR SELECT c.seq, c.stream, c.kind, "
	    MS("c.at") ", c.auction_id, c.procurement_id, c.participant_id, c.organization_id,"
	    " CASE WHEN c.stream = 'procurement' THEN c.fingerprint END, c.bid_id, c.amount,"
	    " CASE WHEN c.stream = 'procurement' OR c.sealed THEN c.body END, c.leaf_hash,"
	    " CASE WHEN c.statement IS NOT NULL AND c.at > now() - interval '7201 seconds'"
	    " THEN c.statement END FROM changes c ORDER BY c.seq",
	.outage = "SELECT id, outage_share, outage_window_ms, outage_max_pause_ms,"
	    " outage_min_bidders FROM auctions WHERE outage_share IS NOT NULL ORDER BY id",
};

static const struct boot_src boot_audit = {
	.orgs = "SELECT organization_id, organization, status FROM audit.organizations"
	    " ORDER BY organization_id",
	.participants = "SELECT participant_id, organization_id, participant, role, status,"
	    " fingerprint, subject, coalesce(serial, ''), coalesce(" MS("not_before") ", 0),"
	    " coalesce(" MS("not_after") ", 0), coalesce(registered_by, 0), "
	    MS("registered_at") " FROM audit.certificates"
	    " ORDER BY participant_id, registered_at, fingerprint",
	.auctions = "SELECT auction_id, buyer_participant_id, buyer_organization_id, title,"
	    " currency, state, cancel_reason, currency_exp, start_price, step_min_percent::int,"
	    " step_max_percent::int, step_min_value, step_max_value, step_min_amount, step_max_amount, "
	    MS("starts_at") ", " MS("scheduled_end") ", " MS("ends_at") ", " MS("closed_at") ","
	    " ext_window_ms, ext_length_ms, extensions, procurement_id, lot_id, false,"
	    " format, coalesce(max_extensions, 0), coalesce(" MS("latest_end") ", 0),"
	    " (SELECT u.visibility FROM audit.auction_rules u WHERE u.auction_id ="
	    " auction_rows.auction_id), (SELECT array_to_string(u.invited, ',') FROM"
	    " audit.auction_rules u WHERE u.auction_id = auction_rows.auction_id),"
	    " (SELECT coalesce(u.min_bidders, 0) FROM audit.auction_rules u WHERE u.auction_id ="
	    " auction_rows.auction_id),"
	    " coalesce(clock_step, 0), coalesce(clock_interval_ms, 0), coalesce(clock_limit, 0),"
	    " (SELECT coalesce(t.tail_ms, 0) FROM audit.auction_tail t WHERE t.auction_id ="
	    " auction_rows.auction_id),"
	    " coalesce(rd.initial_ms, 0), coalesce(rd.pause_ms, 0), coalesce(rd.rounds, 0),"
	    " coalesce(rd.turn_ms, 0), coalesce(rd.round_pause_ms, 0),"
	    " coalesce(l.event_id, 0), coalesce(l.lot_number, 0), coalesce(l.lot_count, 0),"
	    " l.event_title, coalesce(l.stagger_ms, 0)"
	    " FROM audit.auction_rows LEFT JOIN audit.auction_rounds rd USING (auction_id)"
	    " LEFT JOIN LATERAL (SELECT u.event_id, u.lot_number,"
	    " u.lot_count, u.event_title, u.stagger_ms FROM audit.auction_lots u WHERE"
	    " u.auction_id = auction_rows.auction_id) l ON true ORDER BY auction_id",
	.seeded = "SELECT bid_id FROM audit.bid_rows WHERE seeded ORDER BY bid_id",
	.automatic = "SELECT bid_id FROM audit.bid_rows WHERE automatic ORDER BY bid_id",
	.changes = "DECLARE chg_cur NO SCROLL CURSOR FOR SELECT c.seq, c.stream, c.kind, "
	    MS("c.at") ", c.auction_id, c.procurement_id, c.participant_id, c.organization_id,"
	    " CASE WHEN c.stream = 'procurement' THEN c.fingerprint END, c.bid_id, c.amount_minor,"
	    " CASE WHEN c.stream = 'procurement' OR c.sealed_row THEN c.body END, c.leaf_hash,"
	    " NULL::text FROM audit.changes c"
	    " LEFT JOIN audit.procurements p ON p.procurement_id = c.procurement_id"
	    " AND c.stream = 'procurement'"
	    /* a sealed auction's bids are withheld until it closes: it replays without them */
	    " WHERE (c.stream <> 'procurement' OR p.opened_at IS NOT NULL)"
	    " AND NOT (c.stream = 'auction' AND c.sealed) ORDER BY c.seq",
	.outage = "SELECT auction_id, outage_share, outage_window_ms, outage_max_pause_ms,"
	    " outage_min_bidders FROM audit.auction_outage WHERE outage_share IS NOT NULL"
	    " ORDER BY auction_id",
};

/* The auctions' rows, by id (ORDER BY id), restored at their first change; the ids of
 * the seeded bids (a tender's prices in its lot's auction), ascending. */
struct boot_auctions {
	PGresult *r;
	char *restored;    /* per row */
	int64_t *seeded;
	size_t nseeded;
	/* proxy bidding: the ids of the automatic bids, ascending */
	int64_t *automatic;
	size_t nautomatic;
};

/* Whether `id` is in the ascending ids[0..n) (binary search). */
static int
boot_has_id(const int64_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids[mid] == id)
			return 1;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Whether bid `id` is seeded. */
static int
boot_seeded(const struct boot_auctions *as, int64_t id)
{
	return boot_has_id(as->seeded, as->nseeded, id);
}

/* The ids a query returns (ascending) into a new array *ids, *n. */
static int
boot_load_ids(PGconn *pg, const char *sql, int64_t **ids, size_t *n, char *cause, size_t cn)
{
	PGresult *r = boot_query(pg, sql, cause, cn);

	if (r == NULL)
		return -1;
	*n = (size_t)PQntuples(r);
	if ((*ids = calloc(*n + 1, sizeof(**ids))) == NULL) {
		snprintf(cause, cn, "out of memory loading bid ids");
		PQclear(r);
		return -1;
	}
	for (size_t i = 0; i < *n; i++)
		(*ids)[i] = boot_i64(r, (int)i, 0);
	PQclear(r);
	return 0;
}

/* The ids of the seeded bids, and of the automatic ones (proxy bidding), ascending. */
static int
boot_load_seeded(PGconn *pg, const struct boot_src *src, struct boot_auctions *as, char *cause,
    size_t n)
{
	if (boot_load_ids(pg, src->seeded, &as->seeded, &as->nseeded, cause, n) < 0)
		return -1;
	return boot_load_ids(pg, src->automatic, &as->automatic, &as->nautomatic, cause, n);
}

/* Hand an auction's row to the sink, once; -1 when it is refused. */
static int
boot_restore_auction(struct boot_auctions *as, int i, const struct db_boot_sink *sink,
    char *cause, size_t n)
{
	PGresult *r = as->r;
	struct db_boot_auction a;

	if (as->restored[i])
		return 0;
	as->restored[i] = 1;
	a = (struct db_boot_auction){
		.id = boot_i64(r, i, 0), .buyer_participant = boot_i64(r, i, 1),
		.buyer_org = boot_i64(r, i, 2), .title = boot_str(r, i, 3),
		.currency = boot_str(r, i, 4), .state = boot_str(r, i, 5),
		.cancel_reason = boot_str(r, i, 6), .currency_exp = (int)boot_i64(r, i, 7),
		.start_price = boot_i64(r, i, 8), .step_min_percent = (int)boot_i64(r, i, 9),
		.step_max_percent = (int)boot_i64(r, i, 10), .step_min_value = boot_i64(r, i, 11),
		.step_max_value = boot_i64(r, i, 12), .step_min_amount = boot_i64(r, i, 13),
		.step_max_amount = boot_i64(r, i, 14), .starts_at = boot_i64(r, i, 15),
		.scheduled_end = boot_i64(r, i, 16), .ends_at = boot_i64(r, i, 17),
		.closed_at = boot_i64(r, i, 18), .ext_window = boot_i64(r, i, 19),
		.ext_length = boot_i64(r, i, 20), .extensions = (int)boot_i64(r, i, 21),
		.procurement_id = boot_i64(r, i, 22), .lot_id = (int)boot_i64(r, i, 23),
		.unsigned_bids = strcmp(boot_str(r, i, 24), "t") == 0,
		.format = boot_str(r, i, 25), .max_extensions = (int)boot_i64(r, i, 26),
		.latest_end = boot_i64(r, i, 27), .visibility = boot_str(r, i, 28),
		.invited = boot_str(r, i, 29), .min_bidders = (int)boot_i64(r, i, 30),
		.clock_step = boot_i64(r, i, 31), .clock_interval = boot_i64(r, i, 32),
		.clock_limit = boot_i64(r, i, 33), .tail = boot_i64(r, i, 34),
		.rounds_initial = boot_i64(r, i, 35), .rounds_pause = boot_i64(r, i, 36),
		.rounds_count = boot_i64(r, i, 37), .rounds_turn = boot_i64(r, i, 38),
		.rounds_round_pause = boot_i64(r, i, 39),
		.event_id = boot_i64(r, i, 40), .lot_no = (int)boot_i64(r, i, 41),
		.lot_count = (int)boot_i64(r, i, 42), .event_title = boot_str(r, i, 43),
		.stagger_ms = boot_i64(r, i, 44),
	};
	if (sink->auction(sink->arg, &a) < 0) {
		snprintf(cause, n, "auction %lld cannot be loaded", (long long)a.id);
		return -1;
	}
	return 0;
}

/* The row of auction `id` (binary search), or -1. */
static int
boot_auction_row(const struct boot_auctions *as, int64_t id)
{
	int lo = 0, hi = PQntuples(as->r) - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int64_t v = boot_i64(as->r, mid, 0);
		if (v == id)
			return mid;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Replay one change of an auction: its row at the first change, then accepted bids
 * through the engine and refused bids counted; the other kinds are in its row. */
static int
boot_auction_change(PGresult *r, int i, struct boot_auctions *as,
    const struct db_boot_sink *sink, char *cause, size_t n)
{
	const char *kind = boot_str(r, i, 2);
	int64_t aid = boot_i64(r, i, 4);
	int row = boot_auction_row(as, aid);

	if (row < 0) {
		snprintf(cause, n, "change %s of auction %lld: no such auction", boot_str(r, i, 0),
		    (long long)aid);
		return -1;
	}
	if (boot_restore_auction(as, row, sink, cause, n) < 0)
		return -1;
	if (strcmp(kind, "bid_accepted") == 0) {
		struct db_boot_bid b = {
			.id = boot_i64(r, i, 9), .auction_id = aid, .seq = 0,
			.participant_id = boot_i64(r, i, 6), .org_id = boot_i64(r, i, 7),
			.amount = boot_i64(r, i, 10), .at = boot_i64(r, i, 3),
			.fingerprint = boot_str(r, i, 8), .seeded = boot_seeded(as, boot_i64(r, i, 9)),
			.body = PQgetisnull(r, i, 11) ? NULL : boot_str(r, i, 11),
			.automatic = boot_has_id(as->automatic, as->nautomatic, boot_i64(r, i, 9)),
		};
		if (sink->bid(sink->arg, &b) < 0) {
			snprintf(cause, n, "bid %lld of auction %lld (change %s) does not replay",
			    (long long)b.id, (long long)aid, boot_str(r, i, 0));
			return -1;
		}
	} else if (strcmp(kind, "bid_refused") == 0 && !PQgetisnull(r, i, 7)) {
		if (sink->refused(sink->arg, aid, boot_i64(r, i, 7), 1) < 0) {
			snprintf(cause, n, "the refused bids of auction %lld cannot be counted",
			    (long long)aid);
			return -1;
		}
	} else if (strcmp(kind, "paused") == 0 || strcmp(kind, "resumed") == 0 ||
	    strcmp(kind, "prolonged") == 0) {
		if (sink->rule == NULL || sink->rule(sink->arg, aid, kind, boot_i64(r, i, 3),
		    boot_i64(r, i, 10), boot_i64(r, i, 6)) < 0) {
			snprintf(cause, n, "change %s (%s) of auction %lld does not replay",
			    boot_str(r, i, 0), kind, (long long)aid);
			return -1;
		}
	} else if (strcmp(kind, "proxy_set") == 0 || strcmp(kind, "proxy_withdrawn") == 0) {
		int64_t floor = kind[6] == 's' ? (PQgetisnull(r, i, 10) ? -1 : boot_i64(r, i, 10)) : 0;

		if (sink->proxy != NULL && sink->proxy(sink->arg, aid, boot_i64(r, i, 7),
		    boot_i64(r, i, 6), floor, boot_i64(r, i, 3)) < 0) {
			snprintf(cause, n, "change %s (%s) of auction %lld does not replay",
			    boot_str(r, i, 0), kind, (long long)aid);
			return -1;
		}
	} else if (strcmp(kind, "started") == 0 || strcmp(kind, "closed") == 0 ||
	    strcmp(kind, "cancelled") == 0 || strcmp(kind, "tail") == 0) {
		if (sink->transition(sink->arg, aid, kind) < 0) {
			snprintf(cause, n, "auction %lld: out of memory", (long long)aid);
			return -1;
		}
	}
	return 0;
}

/* Replay one change of a procedure: its body is the detail the engine wrote. */
static int
boot_proc_change(PGresult *r, int i, const struct db_boot_sink *sink, char *cause, size_t n)
{
	struct db_boot_proc_log l = {
		.seq = boot_i64(r, i, 0), .procurement_id = boot_i64(r, i, 5), .at = boot_i64(r, i, 3),
		.kind = boot_str(r, i, 2), .participant_id = boot_i64(r, i, 6),
		.org_id = boot_i64(r, i, 7), .fingerprint = boot_str(r, i, 8),
		.detail = boot_str(r, i, 11),
	};

	if (sink->proc_log(sink->arg, &l) < 0) {
		snprintf(cause, n, "procurement %lld: change %s '%s' does not replay",
		    (long long)l.procurement_id, boot_str(r, i, 0), l.kind);
		return -1;
	}
	return 0;
}

/* Bytes of a bytea value in hex output ("\\x..."), at most `cap`; -1 when not one. */
static long
boot_bytea(const char *v, uint8_t *out, size_t cap)
{
	size_t len;

	if (v == NULL || v[0] != '\\' || v[1] != 'x' || (len = strlen(v + 2)) % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned int b;
		if (sscanf(v + 2 + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	return (long)(len / 2);
}

/* The leaf hash of one change, for the transparency log. */
static int
boot_leaf(PGresult *r, int i, const struct db_boot_sink *sink, char *cause, size_t n)
{
	uint8_t leaf[32];

	if (sink->leaf == NULL)
		return 0;
	if (boot_bytea(boot_str(r, i, 12), leaf, sizeof(leaf)) != 32) {
		snprintf(cause, n, "change %s has no leaf hash", boot_str(r, i, 0));
		return -1;
	}
	return sink->leaf(sink->arg, boot_i64(r, i, 0), leaf);
}

/* The log keys and the signed tree heads, by size. */
static int
boot_load_heads(PGconn *pg, const struct db_boot_sink *sink, char *cause, size_t n)
{
	PGresult *r;
	int bad = 0;

	if (sink->head == NULL)
		return 0;
	if ((r = boot_query(pg, "SELECT fingerprint, pem FROM log_keys", cause, n)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r) && !bad; i++)
		bad = sink->log_key(sink->arg, boot_str(r, i, 0), boot_str(r, i, 1)) < 0;
	PQclear(r);
	if (bad || (r = boot_query(pg, "SELECT tree_size, root, " MS("at") ", signature,"
	    " key_fingerprint FROM tree_heads ORDER BY tree_size", cause, n)) == NULL) {
		if (bad)
			snprintf(cause, n, "out of memory loading log keys");
		return -1;
	}
	for (int i = 0; i < PQntuples(r) && !bad; i++) {
		uint8_t root[32], sig[1024];
		long siglen = boot_bytea(boot_str(r, i, 3), sig, sizeof(sig));
		struct db_boot_head h = { .size = boot_i64(r, i, 0), .at = boot_i64(r, i, 2),
		    .root = root, .sig = sig, .siglen = siglen < 0 ? 0 : (size_t)siglen,
		    .key_fingerprint = boot_str(r, i, 4) };
		if (boot_bytea(boot_str(r, i, 1), root, sizeof(root)) != 32 || siglen < 0 ||
		    sink->head(sink->arg, &h) < 0) {
			snprintf(cause, n, "tree head of size %s cannot be loaded", boot_str(r, i, 0));
			bad = 1;
		}
	}
	PQclear(r);
	return bad ? -1 : 0;
}

/*
 * Replay the log of every change in seq order, with a cursor. Only what
 * replay needs is read: the body and certificate of procurement changes, the
 * typed columns of auction changes (and whether a bid was seeded, from the
 * bids table), never the body of an auction change. The engine numbers the
 * bids again as it accepts them (a join with bids for their stored numbers
 * would double the time of the query; audit.integrity checks that the log
 * and the bids agree).
 */
static int
boot_load_changes(PGconn *pg, const struct boot_src *src, const struct db_boot_sink *sink,
    struct boot_auctions *as, int64_t *last_seq, char *cause, size_t n)
{
	char sql[2048];
	const char *order = " ORDER BY c.seq";
	size_t len = strlen(src->changes) - strlen(order);

	/* a standby catching up: only the changes after those it has (`*last_seq`) */
	if (*last_seq > 0 && strcmp(src->changes + len, order) == 0 && len < sizeof(sql) - 64)
		snprintf(sql, sizeof(sql), "%.*s WHERE c.seq > %lld%s", (int)len, src->changes,
		    (long long)*last_seq, order);
	else
		snprintf(sql, sizeof(sql), "%s", src->changes);
	if (boot_exec(pg, sql, cause, n) < 0)
		return -1;
	for (;;) {
		PGresult *r = boot_query(pg, "FETCH 20000 FROM chg_cur", cause, n);
		int rows, bad = 0;
		if (r == NULL)
			return -1;
		rows = PQntuples(r);
		for (int i = 0; i < rows && !bad; i++) {
			const char *stream = boot_str(r, i, 1);
			*last_seq = boot_i64(r, i, 0);
			/* recent statements: their nonces (signature_skew is at most an hour) */
			if (!PQgetisnull(r, i, 13) && sink->statement &&
			    sink->statement(sink->arg, boot_i64(r, i, 6), boot_str(r, i, 13)) < 0)
				bad = 1;
			if (boot_leaf(r, i, sink, cause, n) < 0)
				bad = 1;
			else if (strcmp(stream, "auction") == 0)
				bad = boot_auction_change(r, i, as, sink, cause, n) < 0;
			else if (strcmp(stream, "procurement") == 0)
				bad = boot_proc_change(r, i, sink, cause, n) < 0;
			if (!bad && sink->seen && (stream[0] == 'a' || stream[0] == 'p'))
				sink->seen(sink->arg, stream, boot_i64(r, i, stream[0] == 'a' ? 4 : 5),
				    *last_seq);
		}
		PQclear(r);
		if (bad)
			return -1;
		if (rows == 0)
			return 0;
	}
}

/* Outage pause: hand every auction's outage rule to the sink (after the auctions). */
static int
boot_load_outage(PGconn *pg, const struct boot_src *src, const struct db_boot_sink *sink,
    char *cause, size_t n)
{
	PGresult *r;
	int rc = 0;

	if (src->outage == NULL || sink->outage == NULL)
		return 0;
	if ((r = boot_query(pg, src->outage, cause, n)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		if (sink->outage(sink->arg, boot_i64(r, i, 0), (int)boot_i64(r, i, 1),
		    boot_i64(r, i, 2), boot_i64(r, i, 3), (int)boot_i64(r, i, 4)) < 0) {
			snprintf(cause, n, "the outage rule of auction %lld cannot be loaded",
			    (long long)boot_i64(r, i, 0));
			rc = -1;
		}
	PQclear(r);
	return rc;
}

/* Name the session holding the writer lock, in `cause`. */
static void
boot_writer_holder(PGconn *pg, char *cause, size_t n)
{
	PGresult *r = PQexec(pg, "SELECT a.pid, coalesce(a.usename::text, '?'),"
	    " coalesce(a.application_name, ''), coalesce(to_char(a.backend_start AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?'), coalesce(host(a.client_addr), 'local')"
	    " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
	    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0"
	    " AND l.objid = " DB_WRITER_LOCK " AND l.objsubid = 1"
	    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(cause, n, "tenderd's writer lock on this database is held by pid %s (role %s,"
		    " application_name '%s', from %s, connected since %s): another tenderd is running on "
		    "this database", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
		    PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 3));
	else
		snprintf(cause, n, "another session holds tenderd's writer lock on this database: "
		    "another tenderd is running on it");
	PQclear(r);
}

/* Seconds boot_writer_lock tries before it gives up (0: until it has the lock). */
static long boot_writer_wait_s = DB_WRITER_LOCK_WAIT_S;

/* How long the next loads wait for the writer lock (db.h). */
void
db_boot_set_writer_wait(long seconds)
{
	boot_writer_wait_s = seconds;
}

/* Name the session holding the writer lock (db.h). */
void
db_boot_writer_holder(struct pg_conn *pg, char *cause, size_t n)
{
	boot_writer_holder(pg, cause, n);
}

/* Take the writer lock, trying for DB_WRITER_LOCK_WAIT_S: a session of a tenderd that
 * has just died ends within about a second (client_connection_check_interval, db.c); a
 * session that holds it longer belongs to a live tenderd. A standby taking over tries
 * until it has it (db_boot_set_writer_wait(0)), naming the holder every 5 s. */
static int
boot_writer_lock(PGconn *pg, char *cause, size_t n)
{
	for (long i = 0; boot_writer_wait_s == 0 || i < boot_writer_wait_s * 10; i++) {
		PGresult *r = PQexec(pg, "SELECT pg_try_advisory_lock(" DB_WRITER_LOCK ")");
		int st = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
		int got = st && strcmp(PQgetvalue(r, 0, 0), "t") == 0;

		if (!st) {
			snprintf(cause, n, "cannot take tenderd's writer lock: %s",
			    PQresultErrorMessage(r));
			cause[strcspn(cause, "\n")] = '\0';
		}
		PQclear(r);
		if (got)
			return 0;
		if (!st)
			return -1;
		if (i == 0 && boot_writer_wait_s > 0)
			log_info("waiting up to %ld s for tenderd's writer lock", boot_writer_wait_s);
		if (boot_writer_wait_s == 0 && i % 50 == 49) {
			boot_writer_holder(pg, cause, n);
			log_warn("still waiting for the writer lock: %s", cause);
		}
		usleep(100 * 1000);
	}
	boot_writer_holder(pg, cause, n);
	return -1;
}

/* Organizations and participants, to the sink. */
static int
boot_load_people(PGconn *pg, const struct boot_src *src, const struct db_boot_sink *sink,
    char *cause, size_t n)
{
	PGresult *r;

	if ((r = boot_query(pg, src->orgs, cause, n)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct db_boot_org o = { boot_i64(r, i, 0), boot_str(r, i, 1), boot_str(r, i, 2) };
		if (sink->org(sink->arg, &o) < 0) {
			snprintf(cause, n, "out of memory loading organizations");
			PQclear(r);
			return -1;
		}
	}
	PQclear(r);
	/* every certificate of every participant (certificate.add registers more than one) */
	if ((r = boot_query(pg, src->participants, cause, n)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct db_boot_participant p = {
			boot_i64(r, i, 0), boot_i64(r, i, 1), boot_str(r, i, 2), boot_str(r, i, 3),
			boot_str(r, i, 4), boot_str(r, i, 5), boot_str(r, i, 6), boot_str(r, i, 7),
			boot_i64(r, i, 8), boot_i64(r, i, 9), boot_i64(r, i, 10), boot_i64(r, i, 11),
		};
		if (sink->participant(sink->arg, &p) < 0) {
			snprintf(cause, n, "out of memory loading participants");
			PQclear(r);
			return -1;
		}
	}
	PQclear(r);
	return 0;
}

/* Inside the caller's transaction: organizations, participants, then every auction and
 * procedure replayed from the log (the changes after `*last_seq`, all when 0), to the sink;
 * the last seq read in `*last_seq`. */
static int
boot_replay(PGconn *pg, const struct boot_src *src, const struct db_boot_sink *sink,
    int64_t *last_seq, char *cause, size_t n)
{
	struct boot_auctions as = { NULL, NULL, NULL, 0, NULL, 0 };
	int rc = -1;

	if (boot_load_people(pg, src, sink, cause, n) < 0)
		return -1;
	if ((as.r = boot_query(pg, src->auctions, cause, n)) == NULL)
		return -1;
	if ((as.restored = calloc((size_t)PQntuples(as.r) + 1, 1)) == NULL) {
		snprintf(cause, n, "out of memory loading auctions");
		goto out;
	}
	if (boot_load_seeded(pg, src, &as, cause, n) < 0 ||
	    boot_load_changes(pg, src, sink, &as, last_seq, cause, n) < 0)
		goto out;
	/* an auction without any change (none is written without its 'created') */
	for (int i = 0; i < PQntuples(as.r); i++)
		if (boot_restore_auction(&as, i, sink, cause, n) < 0)
			goto out;
	if (boot_load_outage(pg, src, sink, cause, n) < 0)
		goto out;
	rc = 0;
out:
	PQclear(as.r);
	free(as.restored);
	free(as.seeded);
	free(as.automatic);
	return rc;
}

/* Load the whole state, calling the sink for each row. */
int
db_boot_load(const char *conninfo, const struct db_boot_sink *sink, struct db_boot_ids *ids,
    char *cause, size_t n)
{
	return db_boot_load_after(conninfo, 1, 0, sink, ids, cause, n);
}

/* Load the state, or what changed after seq `after` (db.h). */
int
db_boot_load_after(const char *conninfo, int lock, int64_t after,
    const struct db_boot_sink *sink, struct db_boot_ids *ids, char *cause, size_t n)
{
	PGconn *pg = boot_connect(conninfo, cause, n);
	PGresult *r;
	int rc = -1;

	if (pg == NULL)
		return -1;
	ids->bid = ids->auction = 0;
	ids->seq = after;
	/* wait until no older writer session can still commit (see db.c) */
	if (lock && boot_writer_lock(pg, cause, n) < 0)
		goto out;
	if (boot_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cause, n) < 0)
		goto out;
	if ((r = boot_query(pg, "SELECT last_batch FROM tenderd_state", cause, n)) == NULL)
		goto out;
	ids->last_batch = PQntuples(r) ? boot_i64(r, 0, 0) : 0;
	PQclear(r);
	if ((r = boot_query(pg, "SELECT (SELECT coalesce(max(id), 0) FROM auctions),"
	    " (SELECT coalesce(max(id), 0) FROM bids), (SELECT coalesce(max(id), 0) FROM procurements),"
	    " (SELECT coalesce(max(id), 0) FROM offers)", cause, n)) == NULL)
		goto out;
	ids->auction = boot_i64(r, 0, 0);
	ids->bid = boot_i64(r, 0, 1);
	ids->procurement = boot_i64(r, 0, 2);
	ids->offer = boot_i64(r, 0, 3);
	PQclear(r);
	if (boot_replay(pg, &boot_tables, sink, &ids->seq, cause, n) < 0 ||
	    boot_load_heads(pg, sink, cause, n) < 0)
		goto out;
	rc = boot_exec(pg, "COMMIT", cause, n);
out:
	PQfinish(pg);
	return rc;
}

/* Replay the log as the auditor (db.h). */
int
db_boot_load_audit(struct pg_conn *pg, const struct db_boot_sink *sink, char *cause, size_t n)
{
	int64_t last_seq = 0;

	return boot_replay(pg, &boot_audit, sink, &last_seq, cause, n);
}

/* The stored name of the organization whose name folds like `org` (see
 * common/text.h), in `*name` (static storage), or `org` itself when there is none. */
static int
boot_org_named(PGconn *pg, const char *org, const char **name, char *cause, size_t n)
{
	static char found[1024];
	char *key = text_fold(org), *k2;
	PGresult *r;

	*name = org;
	if (key == NULL) {
		snprintf(cause, n, "organization name is not valid UTF-8");
		return -1;
	}
	if ((r = boot_query(pg, "SELECT name FROM organizations ORDER BY id", cause, n)) == NULL) {
		free(key);
		return -1;
	}
	for (int i = 0; i < PQntuples(r) && *name == org; i++) {
		if ((k2 = text_fold(PQgetvalue(r, i, 0))) != NULL && strcmp(k2, key) == 0) {
			snprintf(found, sizeof(found), "%s", PQgetvalue(r, i, 0));
			*name = found;
		}
		free(k2);
	}
	PQclear(r);
	free(key);
	return 0;
}

/* The tail of the body of a `registered` change (db.h). */
char *
db_registered_tail(const char *name, const char *role, const char *org, const char *fp)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "role", role, "organization",
	    org, "fingerprint", fp);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text)
		text[0] = ',';  /* {"name":... -> ,"name":... */
	return text;
}

/* The body of a `registered` change (db.h). */
char *
db_registered_body(int64_t participant_id, int64_t org_id, const char *name, const char *role,
    const char *org, const char *fp)
{
	char *tail = db_registered_tail(name, role, org, fp), *body = NULL;

	if (tail && asprintf(&body, "{\"participant\":%lld,\"organization_id\":%lld%s",
	    (long long)participant_id, (long long)org_id, tail) < 0)
		body = NULL;
	free(tail);
	return body;
}

/* One integer from a query of one row (-1 with `cause` on failure). */
static int
boot_scalar(PGconn *pg, const char *sql, int nparams, const char *const *params, int64_t *v,
    char *cause, size_t n)
{
	PGresult *r = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok) {
		snprintf(cause, n, "%s", PQresultErrorMessage(r));
		cause[strcspn(cause, "\n")] = '\0';
	} else {
		*v = PQntuples(r) ? boot_i64(r, 0, 0) : 0;
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* Insert the participant, its organization when new, and its certificate inside the
 * transaction; then its `registered` change (actor NULL: registered offline), unless the
 * schema is older than the log of changes (migration 010). */
static int
boot_register_rows(PGconn *pg, const char *const *params, char *cause, size_t n,
    int64_t *participant_id, int64_t *org_id)
{
	static const char sql[] =
	    "WITH i AS (INSERT INTO organizations (name) VALUES ($1)"
	    " ON CONFLICT (name) DO NOTHING RETURNING id),"
	    " o AS (SELECT id FROM i UNION ALL SELECT id FROM organizations WHERE name = $1),"
	    " p AS (INSERT INTO participants (organization_id, name, role)"
	    " SELECT id, $2, $3 FROM o RETURNING id, organization_id),"
	    " c AS (INSERT INTO certificates (fingerprint, participant_id, subject, serial,"
	    " not_before, not_after, pem) SELECT $4, id, $5, $6, $7, $8, $9 FROM p"
	    " RETURNING participant_id)"
	    " SELECT p.id, p.organization_id FROM p JOIN c ON c.participant_id = p.id";
	const char *p[4];
	char seq[24], pid[24], oid[24], *body;
	PGresult *r = PQexecParams(pg, sql, 9, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	int64_t logged = 0, next_seq = 0;

	if (!ok) {
		snprintf(cause, n, "%s", PQresultErrorMessage(r));
		cause[strcspn(cause, "\n")] = '\0';
		PQclear(r);
		return -1;
	}
	*participant_id = boot_i64(r, 0, 0);
	*org_id = boot_i64(r, 0, 1);
	PQclear(r);
	if (boot_scalar(pg, "SELECT (to_regclass('changes') IS NOT NULL)::int", 0, NULL, &logged,
	    cause, n) < 0)
		return -1;
	if (!logged)
		return 0;
	if (boot_scalar(pg, "SELECT coalesce(max(seq), 0) + 1 FROM changes", 0, NULL, &next_seq,
	    cause, n) < 0)
		return -1;
	if ((body = db_registered_body(*participant_id, *org_id, params[1], params[2], params[0],
	    params[3])) == NULL) {
		snprintf(cause, n, "out of memory");
		return -1;
	}
	p[0] = I64TEXT(seq, next_seq);
	p[1] = I64TEXT(pid, *participant_id);
	p[2] = I64TEXT(oid, *org_id);
	p[3] = body;
	r = PQexecParams(pg, "INSERT INTO changes (seq, at, stream, kind, subject_participant_id,"
	    " subject_organization_id, body, leaf_hash) SELECT $1, t, 'participant', 'registered', $2,"
	    " $3, $4, tenderd_leaf($1, t, 'participant', 'registered', NULL, NULL, NULL, NULL, NULL,"
	    " NULL, NULL, NULL, $2, $3, NULL, NULL, false, $4, NULL, NULL, NULL) FROM now() t",
	    4, NULL, p, NULL, NULL, 0);
	free(body);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok) {
		snprintf(cause, n, "%s", PQresultErrorMessage(r));
		cause[strcspn(cause, "\n")] = '\0';
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* Register a participant from the command line. */
int
db_boot_register(const char *conninfo, const char *role, const char *org, const char *name,
    const char *fp, const char *subject, const char *serial, const char *not_before,
    const char *not_after, const char *pem, int64_t *participant_id, int64_t *org_id,
    char *cause, size_t n)
{
	const char *params[9] = { org, name, role, fp, subject, serial, not_before, not_after, pem };
	PGconn *pg = boot_connect(conninfo, cause, n);
	char why[256];
	PGresult *r;
	int rc = -1;

	if (pg == NULL)
		return -1;
	r = PQexecParams(pg, "SELECT 1 FROM certificates WHERE fingerprint = $1", 1, NULL,
	    &params[3], NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
		snprintf(cause, n, "certificate %s is already registered", fp);
		rc = 1;
	} else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(cause, n, "%s", PQresultErrorMessage(r));
	} else if (boot_writer_lock(pg, cause, n) < 0) {
		/* the changes are numbered by their one writer: not while tenderd runs */
		size_t len = strlen(cause);
		snprintf(cause + len, n - len, "; register online (participant.register), or stop "
		    "tenderd first");
	} else if (boot_org_named(pg, org, &params[0], cause, n) == 0 &&
	    boot_exec(pg, "BEGIN", cause, n) == 0) {
		if (boot_register_rows(pg, params, cause, n, participant_id, org_id) == 0 &&
		    boot_exec(pg, "COMMIT", cause, n) == 0)
			rc = 0;
		else
			boot_exec(pg, "ROLLBACK", why, sizeof(why));
	}
	PQclear(r);
	PQfinish(pg);
	return rc;
}
