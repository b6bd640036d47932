/*
 * The table of operations: one row per protocol operation, naming it, the
 * roles that may use it, how it touches state (flags) and its handler.
 * proto.c looks a request's op up here once, refuses an unknown op
 * (unknown_op) or a role the row does not allow (forbidden), and only then
 * calls the handler; a handler never checks the caller's role again (it may
 * still check ownership of the object it acts on). docs/protocol.md documents
 * every row, with the same roles (tests/integration/test_optab.py checks it).
 */
#ifndef TENDERD_OPTAB_H
#define TENDERD_OPTAB_H

#include <stdio.h>

#include <jansson.h>

#include "server/server.h"

/* Roles allowed, a bit per enum role. */
#define OPTAB_BUYER    (1u << ROLE_BUYER)
#define OPTAB_SUPPLIER (1u << ROLE_SUPPLIER)
#define OPTAB_OPERATOR (1u << ROLE_OPERATOR)
#define OPTAB_ANYONE   (OPTAB_BUYER | OPTAB_SUPPLIER | OPTAB_OPERATOR)

/* How an operation touches state. */
#define OPTAB_READ  0x1  /* answers from memory */
#define OPTAB_WRITE 0x2  /* queues a change through the commit queue, answered after commit */
#define OPTAB_PARK  0x4  /* its read waits for the batch in flight when that batch changed the
                          * object (the reply is parked and sent on completion) */
#define OPTAB_WATCH 0x8  /* starts or stops watching an auction or procurement */
/* the request carries a signed statement (server/sig.h); SIGN_OPT: when the object asks
 * for it (auction.bid in an auction with signed_bids), or when the request carries one */
#define OPTAB_SIGN     0x10
#define OPTAB_SIGN_OPT 0x20

/* The variant bits of participant.* and organization.* (ops_participant_status). */
#define OPTAB_ARG_SUSPEND 0x1
#define OPTAB_ARG_ORG     0x2
/* The variants of ops_auction_rule (auction.pause, auction.resume, auction.extend). */
#define OPTAB_ARG_PAUSE   1
#define OPTAB_ARG_RESUME  2
#define OPTAB_ARG_EXTEND  3

struct optab_op;
/* A handler: the request `req` (with its `id`) of `c`, whose role the row allows. */
typedef void optab_fn(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op);

struct optab_op {
	const char *name;          /* "auction.bid" */
	unsigned roles;            /* OPTAB_BUYER | ... */
	unsigned flags;            /* OPTAB_READ | ... */
	optab_fn *fn;
	const char *kind;          /* the procedure change a write queues ("published"), or NULL */
	int arg;                   /* the handler's variant (watch 1 / unwatch 0, ...) */
};

/* The row of operation `name`; NULL when there is none. */
const struct optab_op *optab_find(const char *name);
/* The number of operations, and the i-th in order of name (0 <= i < optab_count()); the
 * row optab_find returns is optab_at(i) for one i. */
size_t optab_count(void);
const struct optab_op *optab_at(size_t i);
/* Print the table, one line per operation: "NAME ROLES FLAGS" (tenderd --list-ops). */
void optab_print(FILE *f);

/* ---- handlers (ops.c) ---- */
optab_fn ops_hello, ops_stats, ops_auction_bid, ops_auction_get, ops_auction_list,
    ops_auction_watch, ops_auction_unwatch, ops_auction_create, ops_auction_cancel,
    ops_participant_register, ops_participant_status, ops_auction_rule;
/* proxy bidding */
optab_fn ops_auction_proxy;
/* ---- handlers (certs.c) ---- */
optab_fn certs_op_add, certs_op_list;
/* ---- handlers (logops.c) ---- */
optab_fn logops_head, logops_proof, logops_consistency;
/* ---- handlers (proc.c) ---- */
optab_fn proc_op_create, proc_op_publish, proc_op_amend, proc_op_cancel, proc_op_get,
    proc_op_list, proc_op_watch, proc_op_document_get, proc_op_question_ask,
    proc_op_question_answer, proc_op_offer, proc_op_score, proc_op_award;

#endif
