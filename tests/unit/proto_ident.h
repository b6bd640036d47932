/*
 * Stand-ins for the connection identity and role names that server/proto.c
 * uses (conn.c and registry code in the server): one supplier connection.
 * Included by exactly one file of each program that links proto.o alone
 * (tests/unit/test_proto*.c, fuzz/fuzz_proto.c).
 */
#ifndef TENDERD_TESTS_PROTO_IDENT_H
#define TENDERD_TESTS_PROTO_IDENT_H

#include "server/metrics.h"
#include "server/server.h"
#include "server/sig.h"

/* The identity of the connection (a supplier): proto.c logs replies with it and checks
 * its role against the table of operations. */
const struct conn_ident *
conn_ident(const struct conn *c)
{
	static struct cert cert = { .fp = "00112233445566778899aabbccddeeff" };
	static struct org org = { .id = 1, .name = "Alpha" };
	static struct participant who = { .id = 1, .org = &org, .name = "S1",
	    .role = ROLE_SUPPLIER };
	static struct conn_ident ident = { .id = 1, .cert = &cert, .who = &who };

	(void)c;
	return &ident;
}

/* The name of a role, as the server's registry gives it. */
const char *
role_name(enum role r)
{
	return r == ROLE_BUYER ? "buyer" : r == ROLE_SUPPLIER ? "supplier" : "operator";
}

/* Signed requests (server/sig.c): none of the operations of these programs is signed. */
int
sig_request(struct server *s, const struct participant *who, const char *op, json_t *req,
    int required, struct sig_job **job, const char **code, char *message, size_t n,
    const char **field)
{
	(void)s; (void)who; (void)op; (void)req; (void)required; (void)code; (void)message;
	(void)n; (void)field;
	*job = NULL;
	return 0;
}

/* Nothing to drop. */
void
sig_job_drop(struct sig_job *j)
{
	(void)j;
}

/* These programs are never a standby (server/standby.c). */
const char *
standby_refusal(const struct server *s, const char *op, char *msg, size_t n)
{
	(void)s; (void)op; (void)msg; (void)n;
	return NULL;
}

/* Metrics (server/metrics.c): not counted here; the operation lines are logged. */
void
metrics_op(const char *op, const char *result, int64_t us)
{
	(void)op; (void)result; (void)us;
}

int
metrics_log_ops(void)
{
	return 1;
}

#endif
