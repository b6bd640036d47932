/*
 * tenderd verify: what every part of the check shares (see verify_report.h): the
 * report of a problem, row ids as text, queries, bytea text. The bottom of
 * verify*.c: verify.c, verify_sig.c and verify_replay.c call it, it calls
 * none of them.
 */
#include "server/verify_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Problems printed in full; the rest are counted. */
#define VERIFY_PRINT_MAX 100

/* See verify_report.h. */
void
verify_problem(struct verify *v, const char *table, const char *what, const char *id,
    const char *column, const char *fmt, ...)
{
	char where[160], msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "%s%s%s%s%s%s%s", table, what ? " " : "", what ? what : "",
	    id ? " " : "", id ? id : "", column ? " column " : "", column ? column : "");
	if (v->nproblems == 0)
		snprintf(v->first, sizeof(v->first), "%s", where);
	if (v->nproblems++ < VERIFY_PRINT_MAX)
		printf("DIFFERS: %s: %s\n", where, msg);
	fflush(stdout);
}

/* See verify_report.h. */
const char *
verify_id(char *buf, int64_t id)
{
	snprintf(buf, 24, "%lld", (long long)id);
	return buf;
}

/* See verify_report.h. */
PGresult *
verify_query(struct verify *v, const char *sql)
{
	PGresult *r = PQexec(v->pg, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "tenderd verify: %s", PQresultErrorMessage(r));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* See verify_report.h. */
int
verify_unhex(const char *s, unsigned char **out, size_t *len)
{
	size_t n;

	if (s[0] != '\\' || s[1] != 'x' || (n = strlen(s + 2)) % 2 != 0)
		return -1;
	if ((*out = malloc(n / 2 + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = merkle_hexval(s[2 + 2 * i]), lo = merkle_hexval(s[3 + 2 * i]);
		if (hi < 0 || lo < 0) {
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}
