/* tenderd verify: the command and the pass over the log (see verify_report.h). */
#include "server/verify_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/timeutil.h"
#include "server/server.h"

/* Rows per FETCH of the log. */
#define VERIFY_FETCH "20000"

/* The log in seq order: the 21 columns of a leaf (docs/trust.md), the stored leaf hash, and
 * whether the auditor sees the row whole. Column numbers are used below and in verify_sig.c. */
static const char verify_log_sql[] =
    "DECLARE verify_cur NO SCROLL CURSOR FOR SELECT seq,"
    " (extract(epoch FROM at) * 1000000)::bigint, stream, kind, auction_id, procurement_id,"
    " lot_id, offer_id, bid_id, participant_id, organization_id, fingerprint,"
    " subject_participant_id, subject_organization_id, amount_minor, reason,"
    " CASE WHEN sealed_row THEN 't' ELSE 'f' END, body, statement, signature, signer,"
    " leaf_hash, withheld FROM audit.changes ORDER BY seq";
#define COL_SIGNATURE 19
#define COL_LEAF      21
#define COL_WITHHELD  22

/* A growing buffer: a leaf's input. */
struct verify_buf {
	unsigned char *p;
	size_t len, cap;
};

/* Append bytes (-1: out of memory). */
static int
verify_put(struct verify_buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		unsigned char *p;
		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

/* One field of a leaf's input: `~` for NULL, else `<length>:<bytes>,`. */
static int
verify_field(struct verify_buf *b, const void *data, size_t n, int null)
{
	char head[24];
	int k;

	if (null)
		return verify_put(b, "~", 1);
	k = snprintf(head, sizeof(head), "%zu:", n);
	return verify_put(b, head, (size_t)k) < 0 || verify_put(b, data, n) < 0 ||
	    verify_put(b, ",", 1) < 0 ? -1 : 0;
}

/* The leaf hash of row `i` from its 21 columns (docs/trust.md). -1: out of memory or a
 * malformed signature column. */
static int
verify_leaf(PGresult *r, int i, struct verify_buf *b, merkle_hash out)
{
	b->len = 0;
	if (verify_put(b, "\0", 1) < 0)
		return -1;
	for (int c = 0; c <= 20; c++) {
		const char *val = PQgetvalue(r, i, c);
		int null = PQgetisnull(r, i, c), rc;
		if (c == COL_SIGNATURE && !null) {
			unsigned char *der;
			size_t n;
			if (verify_unhex(val, &der, &n) < 0)
				return -1;
			rc = verify_field(b, der, n, 0);
			free(der);
		} else {
			rc = verify_field(b, val, null ? 0 : (size_t)PQgetlength(r, i, c), null);
		}
		if (rc < 0)
			return -1;
	}
	SHA256(b->p, b->len, out);
	return 0;
}

/* The tree has grown to `f->size` leaves: compare its root with the heads of that size.
 * `*good` is the size of the last head that matched; `*next` the next head to compare. */
static void
verify_heads_at(struct verify *v, const struct merkle_frontier *f, size_t *next, int64_t *good)
{
	merkle_hash root;
	char hex[2 * MERKLE_HASH + 1];

	while (*next < v->nheads && v->heads[*next].size == (int64_t)f->size) {
		struct verify_head *h = &v->heads[*next];
		merkle_frontier_root(f, root);
		if (memcmp(root, h->root, MERKLE_HASH) != 0) {
			merkle_hex(root, hex);
			verify_problem(v, "tree_heads", "tree_size", VID(h->size), "root", "the signed root "
			    "is not the root of the log's first %lld rows (%s): rows %lld to %lld differ "
			    "from what was signed", (long long)h->size, hex, (long long)*good + 1,
			    (long long)h->size);
		} else if (h->signed_ok) {
			*good = h->size;
		}
		(*next)++;
	}
}

/* One row of the log: its place in the sequence, its leaf, the tree. */
static int
verify_row(struct verify *v, PGresult *r, int i, struct merkle_frontier *f, struct verify_buf *b)
{
	int64_t seq = strtoll(PQgetvalue(r, i, 0), NULL, 10), expect = v->last_seq + 1;
	int withheld = strcmp(PQgetvalue(r, i, COL_WITHHELD), "t") == 0;
	unsigned char *stored = NULL;
	merkle_hash leaf;
	size_t n = 0;

	v->last_seq = seq;
	if (seq != expect)
		verify_problem(v, "changes", "seq", VID(expect), NULL, seq == expect + 1 ? "row missing "
		    "(the sequence goes from %lld to %lld)" : "rows missing (the sequence goes from "
		    "%lld to %lld)", (long long)expect - 1, (long long)seq);
	v->rows++;
	if (verify_unhex(PQgetvalue(r, i, COL_LEAF), &stored, &n) < 0 || n != MERKLE_HASH) {
		verify_problem(v, "changes", "seq", VID(seq), "leaf_hash", "not a SHA-256 hash");
		free(stored);
		return 0;
	}
	if (withheld) {
		v->withheld++;
	} else if (verify_leaf(r, i, b, leaf) < 0) {
		verify_problem(v, "changes", "seq", VID(seq), "signature", "not a bytea value");
	} else if (memcmp(leaf, stored, MERKLE_HASH) != 0) {
		verify_problem(v, "changes", "seq", VID(seq), "leaf_hash", "the leaf hash of the row's "
		    "columns is not the stored one: the row was changed after it was logged");
	}
	merkle_frontier_add(f, stored);
	free(stored);
	return 0;
}

/* The pass over the log: every row's seq and leaf, the root at every head's size, the
 * signatures of each batch. */
static int
verify_log(struct verify *v)
{
	struct merkle_frontier f;
	struct verify_buf b = { 0 };
	struct verify_sig *sig;
	PGresult *r;
	size_t next = 0;
	int64_t good = 0;
	int rc = -1;

	merkle_frontier_init(&f);
	verify_heads_at(v, &f, &next, &good);   /* heads of the empty tree */
	if ((r = verify_query(v, verify_log_sql)) == NULL)
		return -1;
	PQclear(r);
	for (;;) {
		int rows;
		if ((r = verify_query(v, "FETCH " VERIFY_FETCH " FROM verify_cur")) == NULL)
			goto out;
		rows = PQntuples(r);
		if ((sig = verify_batch_signatures(v, r)) == NULL) {
			PQclear(r);
			goto out;
		}
		for (int i = 0; i < rows; i++) {
			verify_row(v, r, i, &f, &b);
			if (sig[i].checked)
				v->signatures++;
			if (sig[i].bad)
				verify_problem(v, "changes", "seq", PQgetvalue(r, i, 0), sig[i].column, "%s",
				    sig[i].why);
			verify_heads_at(v, &f, &next, &good);
		}
		free(sig);
		PQclear(r);
		if (rows < atoi(VERIFY_FETCH))
			break;
	}
	for (; next < v->nheads; next++)
		verify_problem(v, "tree_heads", "tree_size", VID(v->heads[next].size), NULL, "the log "
		    "has only %lld rows: rows %lld to %lld differ from what was signed",
		    (long long)f.size, (long long)good + 1, (long long)v->heads[next].size);
	rc = 0;
out:
	free(b.p);
	return rc;
}

/* Connect as the auditor (unless the conninfo names another role) and open the snapshot. */
static PGconn *
verify_connect(const struct config *cfg)
{
	const char *keys[] = { "user", "dbname", "fallback_application_name", NULL };
	const char *vals[] = { "auditor", cfg->db, "tenderd verify", NULL };
	PGconn *pg = PQconnectdbParams(keys, vals, 1);
	PGresult *r;

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "tenderd verify: cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	PQsetClientEncoding(pg, "UTF8");
	r = PQexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "tenderd verify: %s", PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(pg);
		return NULL;
	}
	PQclear(r);
	return pg;
}

/* See server.h. */
int
verify_main(const struct config *cfg, verify_replay_fn replay)
{
	struct verify v = { .cfg = cfg, .replay = replay };
	int64_t t0 = time_mono_ms();
	int rc = VERIFY_FAILED;

	map_init(&v.signers, 1);
	if ((v.pg = verify_connect(cfg)) == NULL)
		goto out;
	if (verify_load_heads(&v) < 0 || verify_log(&v) < 0 || verify_replay(&v) < 0)
		goto out;
	printf("verified %lld rows (%lld withheld until their opening: covered by the tree only), "
	    "%zu signed tree heads, %lld signatures, %lld auctions with %lld bids, %lld procedures "
	    "(%lld openings; %lld not opened yet, not replayed) in %.1f s\n",
	    (long long)v.rows, (long long)v.withheld, v.nheads, (long long)v.signatures,
	    (long long)v.auctions, (long long)v.bids, (long long)v.procedures,
	    (long long)v.openings, (long long)v.procedures_sealed,
	    (double)(time_mono_ms() - t0) / 1000.0);
	if (v.nproblems) {
		printf("tenderd verify: %ld problem%s; the first: %s\n", v.nproblems,
		    v.nproblems == 1 ? "" : "s", v.first);
		rc = VERIFY_DIFFERS;
	} else {
		printf("tenderd verify: the log, its signed tree heads, its signatures and the "
		    "state replayed from it agree\n");
		rc = VERIFY_OK;
	}
out:
	fflush(stdout);
	verify_sig_free(&v);
	PQfinish(v.pg);
	return rc;
}
