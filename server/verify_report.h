/*
 * tenderd verify: an auditor's check of the whole record (docs/audit.md).
 *
 * Read-only, as the auditor role, on one blocking connection, in one
 * REPEATABLE READ READ ONLY transaction (one snapshot for every check):
 *
 *   verify.c         the command, the pass over the log (leaves, sequence,
 *                    roots at every signed tree head), the report;
 *   verify_sig.c     the log keys (chained to the CA), the signatures of the
 *                    tree heads, the signed statements (two threads);
 *   verify_report.c  what they share: problems, row ids, queries (calls none of them);
 *   verify_replay.c  every auction and procedure replayed through the engine
 *                    (by main.c's start-up code, handed down as a function)
 *                    and compared with the typed tables.
 *
 * Every difference is a problem naming the row (table, id, column); the first
 * one found in the log's order is repeated at the end and the exit status is 1.
 */
#ifndef TENDERD_VERIFY_REPORT_H
#define TENDERD_VERIFY_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/map.h"
#include "common/merkle.h"
#include "server/config.h"
#include "server/server.h"

/* Exit statuses. */
#define VERIFY_OK       0   /* everything checked matches */
#define VERIFY_DIFFERS  1   /* at least one problem, the first named */
#define VERIFY_USAGE    2   /* bad command line or settings */
#define VERIFY_FAILED   3   /* could not verify: database, CA file, memory */

/* A signed tree head, with whether its signature and key checked out. */
struct verify_head {
	int64_t size, at_ms;
	merkle_hash root;
	int signed_ok;
};

struct verify {
	const struct config *cfg;
	verify_replay_fn replay;        /* main.c's start-up replay, as the auditor */
	PGconn *pg;
	struct verify_head *heads;      /* by size, ascending */
	size_t nheads;
	struct map signers;             /* fingerprint -> X509 (audit.certificates) */
	struct x509_store_st *ca;
	/* what was checked */
	int64_t last_seq;
	int64_t rows, withheld, signatures, auctions, bids, procedures, procedures_sealed, openings;
	/* problems */
	long nproblems;
	char first[512];
};

/* Report a problem: `table` row `id` (its `what`: seq, id, tree_size), `column` (NULL:
 * the row as a whole). Printed at once (the first 100), the first kept for the end. */
void verify_problem(struct verify *v, const char *table, const char *what, const char *id,
    const char *column, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A row id as text for verify_problem, in a compound literal of the calling block. */
#define VID(x) verify_id((char[24]){ 0 }, (int64_t)(x))
const char *verify_id(char *buf, int64_t v);


/* Run a query returning rows; NULL after printing why. */
PGresult *verify_query(struct verify *v, const char *sql);

/* Bytes of a bytea in text form (\x...), malloc'd in `*out`; -1 when not hex. */
int verify_unhex(const char *s, unsigned char **out, size_t *len);

/* verify_sig.c: load the CA, the signers' certificates, the log keys and the tree
 * heads, checking each head's signature. -1: could not (after printing why). */
int verify_load_heads(struct verify *v);
/* The verdict on one row's signed statement. */
struct verify_sig {
	int checked, bad;
	const char *column;
	char why[160];
};
/* Check the signed statements of the rows of one fetched batch (columns as in verify.c)
 * on two threads: a verdict per row (malloc'd; NULL when out of memory). */
struct verify_sig *verify_batch_signatures(struct verify *v, PGresult *r);
void verify_sig_free(struct verify *v);

/* verify_replay.c: replay every auction and procedure and compare. -1: could not. */
int verify_replay(struct verify *v);

#endif
