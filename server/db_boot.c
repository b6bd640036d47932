/* Blocking PostgreSQL work for start-up and the admin commands: migrations,
 * loading the state to rebuild, offline registration. Never used from the
 * event loop. */
#include "server/db.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/log.h"

#define MS(col) "(extract(epoch from " col ") * 1000)::bigint"

/* Open a blocking connection. */
static PGconn *
boot_connect(const char *conninfo, char *cause, size_t n)
{
	PGconn *pg = PQconnectdb(conninfo);

	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(cause, n, "cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
		cause[strcspn(cause, "\n")] = '\0';
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* Run a statement that returns no rows. */
static int
boot_exec(PGconn *pg, const char *sql, char *cause, size_t n)
{
	PGresult *r = PQexec(pg, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok) {
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

/* Apply one migration file in its own transaction unless already recorded. */
static int
boot_apply(PGconn *pg, const char *dir, const char *file, char *cause, size_t n)
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
		snprintf(cause, n, "migration %s failed: %s", file, why);
		free(sql);
		boot_exec(pg, "ROLLBACK", why, sizeof(why));
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

/* Apply every NNN_*.sql file of `dir` in order, once. */
int
db_boot_migrate(const char *conninfo, const char *dir, char *cause, size_t n)
{
	PGconn *pg = boot_connect(conninfo, cause, n);
	char *files[1000];
	size_t nfiles = 0;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (pg == NULL)
		return -1;
	if ((d = opendir(dir)) == NULL) {
		snprintf(cause, n, "cannot open migrations directory %s", dir);
		PQfinish(pg);
		return -1;
	}
	while ((de = readdir(d)) != NULL && nfiles < 1000) {
		size_t len = strlen(de->d_name);
		if (len > 4 && de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
		    strcmp(de->d_name + len - 4, ".sql") == 0)
			files[nfiles++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(files, nfiles, sizeof(files[0]), boot_cmp);
	/* one migrator at a time, and the bookkeeping table first */
	if (boot_exec(pg, "SELECT pg_advisory_lock(7443001)", cause, n) < 0 ||
	    boot_exec(pg, "SET client_min_messages = warning", cause, n) < 0 ||
	    boot_exec(pg, "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY,"
	    " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())", cause, n) < 0)
		rc = -1;
	for (size_t i = 0; i < nfiles; i++) {
		if (rc == 0 && boot_apply(pg, dir, files[i], cause, n) < 0)
			rc = -1;
		free(files[i]);
	}
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

/* Stream every bid through the sink with a cursor, in (auction, seq) order. */
static int
boot_load_bids(PGconn *pg, const struct db_boot_sink *sink, int64_t *max_bid, char *cause,
    size_t n)
{
	if (boot_exec(pg, "DECLARE bid_cur NO SCROLL CURSOR FOR SELECT id, auction_id, seq,"
	    " participant_id, organization_id, amount, " MS("placed_at") ", fingerprint, seeded::int FROM bids"
	    " ORDER BY auction_id, seq", cause, n) < 0)
		return -1;
	for (;;) {
		PGresult *r = boot_query(pg, "FETCH 20000 FROM bid_cur", cause, n);
		int rows;
		if (r == NULL)
			return -1;
		rows = PQntuples(r);
		for (int i = 0; i < rows; i++) {
			struct db_boot_bid b = {
				.id = boot_i64(r, i, 0), .auction_id = boot_i64(r, i, 1),
				.seq = boot_i64(r, i, 2), .participant_id = boot_i64(r, i, 3),
				.org_id = boot_i64(r, i, 4), .amount = boot_i64(r, i, 5),
				.at = boot_i64(r, i, 6), .fingerprint = boot_str(r, i, 7),
				.seeded = (int)boot_i64(r, i, 8),
			};
			if (b.id > *max_bid)
				*max_bid = b.id;
			if (sink->bid(sink->arg, &b) < 0) {
				snprintf(cause, n, "bid %lld of auction %lld does not replay",
				    (long long)b.id, (long long)b.auction_id);
				PQclear(r);
				return -1;
			}
		}
		PQclear(r);
		if (rows == 0)
			return 0;
	}
}

/* Replay the procurement log in order through the sink. */
static int
boot_load_proc_log(PGconn *pg, const struct db_boot_sink *sink, char *cause, size_t n)
{
	if (boot_exec(pg, "DECLARE log_cur NO SCROLL CURSOR FOR SELECT procurement_id, "
	    MS("at") ", kind, participant_id, organization_id, fingerprint, detail::text"
	    " FROM procurement_log ORDER BY id", cause, n) < 0)
		return -1;
	for (;;) {
		PGresult *r = boot_query(pg, "FETCH 5000 FROM log_cur", cause, n);
		int rows;
		if (r == NULL)
			return -1;
		rows = PQntuples(r);
		for (int i = 0; i < rows; i++) {
			struct db_boot_proc_log l = {
				.procurement_id = boot_i64(r, i, 0), .at = boot_i64(r, i, 1),
				.kind = boot_str(r, i, 2), .participant_id = boot_i64(r, i, 3),
				.org_id = boot_i64(r, i, 4), .fingerprint = boot_str(r, i, 5),
				.detail = boot_str(r, i, 6),
			};
			if (sink->proc_log(sink->arg, &l) < 0) {
				snprintf(cause, n, "procurement %lld: log entry '%s' does not replay",
				    (long long)l.procurement_id, l.kind);
				PQclear(r);
				return -1;
			}
		}
		PQclear(r);
		if (rows == 0)
			return 0;
	}
}

/* Load the whole state, calling the sink for each row. */
int
db_boot_load(const char *conninfo, const struct db_boot_sink *sink, struct db_boot_ids *ids,
    char *cause, size_t n)
{
	int64_t *last_batch = &ids->last_batch, *max_bid = &ids->bid, *max_auction = &ids->auction;
	PGconn *pg = boot_connect(conninfo, cause, n);
	PGresult *r;
	int rc = -1;

	if (pg == NULL)
		return -1;
	*max_bid = *max_auction = 0;
	/* wait until no older writer session can still commit (see db.c) */
	if (boot_exec(pg, "SET lock_timeout = '30s'", cause, n) < 0)
		goto out;
	if (boot_exec(pg, "SELECT pg_advisory_lock(" DB_WRITER_LOCK ")", cause, n) < 0) {
		snprintf(cause, n, "another session holds tenderd's writer lock for over 30 s: is "
		    "another tenderd running on this database?");
		goto out;
	}
	if (boot_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cause, n) < 0)
		goto out;
	if ((r = boot_query(pg, "SELECT last_batch FROM tenderd_state", cause, n)) == NULL)
		goto out;
	*last_batch = PQntuples(r) ? boot_i64(r, 0, 0) : 0;
	PQclear(r);

	if ((r = boot_query(pg, "SELECT id, name, status FROM organizations ORDER BY id", cause, n)) == NULL)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct db_boot_org o = { boot_i64(r, i, 0), boot_str(r, i, 1), boot_str(r, i, 2) };
		if (sink->org(sink->arg, &o) < 0) {
			snprintf(cause, n, "out of memory loading organizations");
			PQclear(r);
			goto out;
		}
	}
	PQclear(r);

	if ((r = boot_query(pg, "SELECT p.id, p.organization_id, p.name, p.role, p.status,"
	    " c.fingerprint FROM participants p JOIN certificates c ON c.participant_id = p.id"
	    " ORDER BY p.id", cause, n)) == NULL)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct db_boot_participant p = {
			boot_i64(r, i, 0), boot_i64(r, i, 1), boot_str(r, i, 2), boot_str(r, i, 3),
			boot_str(r, i, 4), boot_str(r, i, 5),
		};
		if (sink->participant(sink->arg, &p) < 0) {
			snprintf(cause, n, "out of memory loading participants");
			PQclear(r);
			goto out;
		}
	}
	PQclear(r);

	if ((r = boot_query(pg, "SELECT id, buyer_participant_id, buyer_organization_id, title,"
	    " currency, state, cancel_reason, currency_exp, start_price, step_min_percent::int,"
	    " step_max_percent::int, step_min_value, step_max_value, step_min_amount, step_max_amount, "
	    MS("starts_at") ", " MS("scheduled_end") ", " MS("ends_at") ", " MS("closed_at") ","
	    " ext_window_ms, ext_length_ms, extensions, procurement_id, lot_id FROM auctions ORDER BY id",
	    cause, n)) == NULL)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct db_boot_auction a = {
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
		};
		if (a.id > *max_auction)
			*max_auction = a.id;
		if (sink->auction(sink->arg, &a) < 0) {
			snprintf(cause, n, "auction %lld cannot be loaded", (long long)a.id);
			PQclear(r);
			goto out;
		}
	}
	PQclear(r);
	if (boot_load_bids(pg, sink, max_bid, cause, n) < 0)
		goto out;
	if ((r = boot_query(pg, "SELECT coalesce(max(id), 0) FROM procurements", cause, n)) == NULL)
		goto out;
	ids->procurement = boot_i64(r, 0, 0);
	PQclear(r);
	if ((r = boot_query(pg, "SELECT coalesce(max(id), 0) FROM offers", cause, n)) == NULL)
		goto out;
	ids->offer = boot_i64(r, 0, 0);
	PQclear(r);
	if (boot_load_proc_log(pg, sink, cause, n) < 0)
		goto out;
	rc = boot_exec(pg, "COMMIT", cause, n);
out:
	PQfinish(pg);
	return rc;
}

/* Register a participant from the command line. */
int
db_boot_register(const char *conninfo, const char *role, const char *org, const char *name,
    const char *fp, const char *subject, const char *serial, const char *not_before,
    const char *not_after, const char *pem, int64_t *participant_id, int64_t *org_id,
    char *cause, size_t n)
{
	static const char sql[] =
	    "WITH o AS (INSERT INTO organizations (name) VALUES ($1)"
	    " ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id),"
	    " p AS (INSERT INTO participants (organization_id, name, role)"
	    " SELECT id, $2, $3 FROM o RETURNING id, organization_id),"
	    " c AS (INSERT INTO certificates (fingerprint, participant_id, subject, serial,"
	    " not_before, not_after, pem) SELECT $4, id, $5, $6, $7, $8, $9 FROM p"
	    " RETURNING participant_id)"
	    " SELECT p.id, p.organization_id FROM p JOIN c ON c.participant_id = p.id";
	const char *params[9] = { org, name, role, fp, subject, serial, not_before, not_after, pem };
	PGconn *pg = boot_connect(conninfo, cause, n);
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
	} else {
		PQclear(r);
		r = PQexecParams(pg, sql, 9, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			*participant_id = boot_i64(r, 0, 0);
			*org_id = boot_i64(r, 0, 1);
			rc = 0;
		} else {
			snprintf(cause, n, "%s", PQresultErrorMessage(r));
			cause[strcspn(cause, "\n")] = '\0';
		}
	}
	PQclear(r);
	PQfinish(pg);
	return rc;
}
