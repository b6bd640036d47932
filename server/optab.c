/* The table of operations (see optab.h): rows, lookup and printing. */
#include <stdlib.h>
#include <string.h>

#include "server/optab.h"

#define R_B OPTAB_BUYER
#define R_S OPTAB_SUPPLIER
#define R_O OPTAB_OPERATOR
#define R_ANY OPTAB_ANYONE
#define RD OPTAB_READ
#define WR OPTAB_WRITE
#define PK OPTAB_PARK
#define WA OPTAB_WATCH
#define SG OPTAB_SIGN
#define SO OPTAB_SIGN_OPT

/*
 * Every operation, in the order of docs/protocol.md. Sorted by name on first
 * use (optab_sort), so that a lookup is a binary search. Roles are the
 * caller's role only: "the owning buyer" is a buyer here, and the handler
 * checks that it owns the auction or procurement.
 */
static struct optab_op optab[] = {
	{ "hello",                 R_ANY,     RD,      ops_hello, NULL, 0 },
	{ "participant.register",  R_O,       WR,      ops_participant_register, NULL, 0 },
	{ "certificate.add",       R_O,       WR,      certs_op_add, NULL, 0 },
	{ "certificate.list",      R_ANY,     RD,      certs_op_list, NULL, 0 },
	{ "auction.create",        R_B,       WR | SG, ops_auction_create, NULL, 0 },
	{ "auction.get",           R_ANY,     RD | PK, ops_auction_get, NULL, 0 },
	{ "auction.list",          R_ANY,     RD,      ops_auction_list, NULL, 0 },
	{ "auction.bid",           R_S,       WR | SO, ops_auction_bid, NULL, 0 },
	{ "auction.proxy",         R_S,       WR | SO, ops_auction_proxy, NULL, 0 },
	{ "auction.watch",         R_ANY,     RD | PK | WA, ops_auction_watch, NULL, 0 },
	{ "auction.unwatch",       R_ANY,     WA,      ops_auction_unwatch, NULL, 0 },
	{ "auction.cancel",        R_B | R_O, WR | SG, ops_auction_cancel, NULL, 0 },
	{ "auction.pause",         R_O,       WR | SG, ops_auction_rule, NULL, OPTAB_ARG_PAUSE },
	{ "auction.resume",        R_O,       WR | SG, ops_auction_rule, NULL, OPTAB_ARG_RESUME },
	{ "auction.extend",        R_O,       WR | SG, ops_auction_rule, NULL, OPTAB_ARG_EXTEND },
	{ "participant.suspend",   R_O,       WR,      ops_participant_status, NULL,
	    OPTAB_ARG_SUSPEND },
	{ "participant.reinstate", R_O,       WR,      ops_participant_status, NULL, 0 },
	{ "organization.suspend",  R_O,       WR,      ops_participant_status, NULL,
	    OPTAB_ARG_SUSPEND | OPTAB_ARG_ORG },
	{ "organization.reinstate", R_O,      WR,      ops_participant_status, NULL, OPTAB_ARG_ORG },
	{ "stats",                 R_O,       RD,      ops_stats, NULL, 0 },
	{ "procurement.create",    R_B,       WR | SG, proc_op_create, "created", 0 },
	{ "procurement.publish",   R_B,       WR | SG, proc_op_publish, "published", 0 },
	{ "procurement.complete",  R_B,       WR | SG, proc_op_publish, "completed", 0 },
	{ "procurement.amend",     R_B,       WR | SG, proc_op_amend, "amended", 0 },
	{ "procurement.get",       R_ANY,     RD | PK, proc_op_get, NULL, 0 },
	{ "procurement.list",      R_ANY,     RD,      proc_op_list, NULL, 0 },
	{ "procurement.watch",     R_ANY,     RD | PK | WA, proc_op_watch, NULL, 1 },
	{ "procurement.unwatch",   R_ANY,     WA,      proc_op_watch, NULL, 0 },
	{ "procurement.cancel",    R_B | R_O, WR | SG, proc_op_cancel, "cancelled", 0 },
	{ "document.get",          R_ANY,     RD,      proc_op_document_get, NULL, 0 },
	{ "question.ask",          R_S,       WR,      proc_op_question_ask, "question_asked", 0 },
	{ "question.answer",       R_B,       WR | SG, proc_op_question_answer, "question_answered",
	    0 },
	/* arg 1: an RFQ's quote, 0: a tender's bid */
	{ "quote.submit",          R_S,       WR | SG, proc_op_offer, "offer_submitted", 1 },
	{ "quote.withdraw",        R_S,       WR | SG, proc_op_offer, "offer_withdrawn", 1 },
	{ "quote.confirm",         R_S,       WR | SG, proc_op_offer, "offer_confirmed", 1 },
	{ "bid.submit",            R_S,       WR | SG, proc_op_offer, "offer_submitted", 0 },
	{ "bid.withdraw",          R_S,       WR | SG, proc_op_offer, "offer_withdrawn", 0 },
	{ "bid.confirm",           R_S,       WR | SG, proc_op_offer, "offer_confirmed", 0 },
	{ "bid.score",             R_B,       WR | SG, proc_op_score, "scored", 0 },
	/* "awarded" or "disqualified", by the request's decision */
	{ "award.decide",          R_B,       WR | SG, proc_op_award, NULL, 0 },
	{ "log.head",              R_ANY,     RD,      logops_head, NULL, 0 },
	{ "log.proof",             R_ANY,     RD,      logops_proof, NULL, 0 },
	{ "log.consistency",       R_ANY,     RD,      logops_consistency, NULL, 0 },
};

#define OPTAB_N (sizeof(optab) / sizeof(optab[0]))

static int optab_sorted;

/* Compare two rows by name. */
static int
optab_cmp(const void *x, const void *y)
{
	return strcmp(((const struct optab_op *)x)->name, ((const struct optab_op *)y)->name);
}

/* Sort the table by name, once (the event loop is single-threaded). */
static void
optab_sort(void)
{
	if (optab_sorted)
		return;
	qsort(optab, OPTAB_N, sizeof(optab[0]), optab_cmp);
	optab_sorted = 1;
}

/* The number of operations. */
size_t
optab_count(void)
{
	return OPTAB_N;
}

/* The i-th operation in order of name. */
const struct optab_op *
optab_at(size_t i)
{
	optab_sort();
	return &optab[i];
}

/* The row of `name`, by binary search; NULL when there is none. */
const struct optab_op *
optab_find(const char *name)
{
	struct optab_op key = { .name = name };

	optab_sort();
	return bsearch(&key, optab, OPTAB_N, sizeof(optab[0]), optab_cmp);
}

/* The names of the bits of `v` (bit i: names[i]), comma-separated, in `buf`; "-" for none. */
static const char *
optab_bits(char *buf, size_t n, unsigned v, const char *const *names, size_t nnames)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < nnames; i++)
		if ((v & (1u << i)) && len < n)
			len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "," : "", names[i]);
	return buf[0] ? buf : "-";
}

/* One line per operation, sorted by name: the name, its roles and its flags. */
void
optab_print(FILE *f)
{
	static const char *const flags[] = { "read", "write", "park", "watch" };
	const char *roles[] = { role_name(ROLE_BUYER), role_name(ROLE_SUPPLIER),
	    role_name(ROLE_OPERATOR) };
	char rb[64], fb[64];

	optab_sort();
	for (size_t i = 0; i < OPTAB_N; i++)
		fprintf(f, "%-24s %-24s %s\n", optab[i].name,
		    optab_bits(rb, sizeof(rb), optab[i].roles, roles, 3),
		    optab_bits(fb, sizeof(fb), optab[i].flags, flags, 4));
}
