/*
 * Signed statements (server/sig.c): the checks of a signed request and the
 * pool of worker threads that verifies CMS signatures off the event loop.
 *
 * A request of a signed operation carries `statement` (the exact bytes the
 * participant signed: a compact JSON object saying what the request does) and
 * `signature` (base64 of a DER CMS SignedData, detached, over those bytes, with
 * the signer's certificate inside). On arrival, on the event loop, sig_request
 * checks the statement against the request (field by field), its nonce and its
 * time, and hands the signature to a worker. The write path (txn.c) applies the
 * command only once the worker is done (sig_pending), and then asks
 * sig_verdict whether the signer is a registered certificate of the same
 * participant, still valid.
 */
#ifndef TENDERD_SIG_H
#define TENDERD_SIG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct server;
struct participant;
struct sig_job;

/* Start the workers (signature_workers of them) and the nonce memory; `done` is
 * called on the event loop after finished checks were collected. 0, or -1. */
int sig_init(struct server *s, void (*done)(struct server *s), char *cause, size_t n);
/* Stop the workers (waiting for the check each is running) and free everything. */
void sig_free(struct server *s);

/*
 * The signed part of a request of operation `op` by `who`, on the event loop.
 * `required`: the operation must be signed (0: only when the request carries a
 * statement, as auction.bid does for an auction without signed bids). Returns 0
 * with *job NULL when the request is not signed and need not be, 0 with *job
 * set when its signature is being checked, -1 when it is refused: *code,
 * message (n bytes) and *field (or NULL) say why.
 */
int sig_request(struct server *s, const struct participant *who, const char *op, json_t *req,
    int required, struct sig_job **job, const char **code, char *message, size_t n,
    const char **field);
/* The worker has not finished the check yet. */
int sig_pending(const struct sig_job *j);
/*
 * A finished check, for `who`: 0 when the signature verifies and its signer is
 * a registered, valid certificate of `who`; -1 with *code and message otherwise.
 */
int sig_verdict(struct server *s, const struct sig_job *j, const struct participant *who,
    const char **code, char *message, size_t n);
/* What is stored with the change: the statement's bytes, the signature's DER and the
 * signer's SHA-256 fingerprint (valid while the job lives). */
const char *sig_statement(const struct sig_job *j);
const unsigned char *sig_der(const struct sig_job *j, size_t *len);
const char *sig_signer(const struct sig_job *j);
/* The job is no longer wanted (its command was answered or freed): freed now, or by
 * the event loop when its worker is done with it. */
void sig_job_drop(struct sig_job *j);

/* Start-up: a statement stored by `participant` (changes.statement): its nonce is
 * remembered while its time is within signature_skew. */
void sig_remember(struct server *s, int64_t participant, const char *statement);

#endif
