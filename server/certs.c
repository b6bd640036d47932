/*
 * A participant's certificates: certificate.add (an operator registers another certificate
 * for an existing participant, so that a new one can be in use before the old one expires)
 * and certificate.list. Any registered certificate of a participant opens a connection as
 * that participant (s->certs, by fingerprint); TLS refuses the expired and the revoked ones.
 *
 * certificate.add goes through the one write path (txn.c) like participant.register: checked
 * for form on arrival, applied as a serial command (the registry it changes is what later
 * commands are checked against), written as a `certificate_added` change with the
 * certificate's row, and put in the registry when its batch commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "server/optab.h"
#include "server/server.h"

/* A queued certificate.add. */
struct certs_cmd {
	struct txn_cmd t;           /* first: the write path's part */
	int64_t participant;
	char *pem;
	struct tls_cert_info cert;
};

/* Free the command (the write path frees its own part first). */
static void
certs_cmd_free(struct txn_cmd *t)
{
	struct certs_cmd *k = (struct certs_cmd *)t;

	free(k->pem);
	free(k);
}

/* Text of an int64. */
#define I64(buf, v) (snprintf((buf), sizeof(buf), "%lld", (long long)(v)), (const char *)(buf))

/*
 * The body of a `certificate_added` change, the exact bytes stored:
 * {"participant":ID,"fingerprint":"...","subject":"...","serial":"...",
 *  "not_before":"...","not_after":"..."}. malloc'd; NULL when out of memory.
 */
static char *
certs_body(int64_t participant, const struct tls_cert_info *c)
{
	char nb[TIME_BUF], na[TIME_BUF], *text;
	json_t *j;

	time_format(c->not_before, nb);
	time_format(c->not_after, na);
	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "participant", (json_int_t)participant,
	    "fingerprint", c->fp, "subject", c->subject, "serial", c->serial, "not_before", nb,
	    "not_after", na);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

/* Apply: the participant must still exist and the certificate be new (in the registry and
 * in the batch); its row and its change join the batch. */
static int
certs_apply_add(struct server *s, struct txn_cmd *t)
{
	struct certs_cmd *k = (struct certs_cmd *)t;
	const struct participant *p = map_get(&s->participants, k->participant);
	char pid[24], by[24], byorg[24], porg[24], nb[TIME_BUF], na[TIME_BUF], at[TIME_BUF], *body;

	if (p == NULL) {
		txn_refuse(s, t, "not_found", "no such participant");
		return 0;
	}
	if (registry_fp_claim(s, txn_batch(s), k->cert.fp) < 0) {
		txn_refuse(s, t, "conflict", "this certificate is already registered");
		return 0;
	}
	if ((body = certs_body(p->id, &k->cert)) == NULL) {
		txn_refuse(s, t, "internal", "out of memory");
		return 0;
	}
	time_format(k->cert.not_before, nb);
	time_format(k->cert.not_after, na);
	time_format(t->at, at);
	{
		const char *prm[13] = { k->cert.fp, I64(pid, p->id), k->cert.subject, k->cert.serial,
		    nb, na, k->pem, I64(by, t->who->id), at, I64(byorg, t->who->org->id), t->fp,
		    I64(porg, p->org->id), body };
		txn_sql(s, DB_S_CERT_ADD, 13, prm, NULL, NULL);
	}
	free(body);
	return 1;
}

/* Committed: the certificate opens connections as its participant from now on. */
static void
certs_commit_add(struct server *s, struct txn_cmd *t)
{
	struct certs_cmd *k = (struct certs_cmd *)t;
	struct participant *p = map_get(&s->participants, k->participant);
	json_t *r;

	if (p == NULL || registry_participant(s, p->id, p->org->id, p->name, role_name(p->role),
	    NULL, k->cert.fp) == NULL ||
	    registry_cert_describe(s, k->cert.fp, &k->cert, t->who->id, t->at) < 0) {
		txn_refuse(s, t, "internal", "registered, but not loaded; restart tenderd");
		return;
	}
	r = proto_ok(t->id);
	json_object_set_new(r, "certificate", registry_cert_json(map_sget(&s->certs, k->cert.fp)));
	txn_reply(s, t, r);
	log_info("participant=%lld fp=%.16s certificate added by participant=%lld",
	    (long long)p->id, k->cert.fp, (long long)t->who->id);
}

static const struct txn_cmd_ops certs_add_ops = {
	certs_apply_add, certs_commit_add, NULL, certs_cmd_free, 1 };

/* certificate.add (operator): another certificate for an existing participant. */
void
certs_op_add(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct tls_cert_info info;
	struct certs_cmd *k;
	const char *pem;
	char cause[256];
	int64_t pid;

	if (proto_get_int(c, req, "participant", 1, &pid) != 0 ||
	    proto_get_str(c, req, "certificate", 1, 65536, &pem) != 0)
		return;
	if (map_get(&s->participants, pid) == NULL) {
		conn_send(c, proto_error(id, "not_found", "no such participant", "participant"));
		return;
	}
	if (tls_cert_check(s->ssl_ctx, pem, &info, cause, sizeof(cause)) < 0) {
		conn_send(c, proto_error(id, "bad_field", cause, "certificate"));
		return;
	}
	if (map_sget(&s->certs, info.fp)) {
		conn_send(c, proto_error(id, "conflict", "this certificate is already registered",
		    "certificate"));
		return;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL || (k->pem = strdup(pem)) == NULL) {
		free(k);
		return;
	}
	txn_cmd_init(&k->t, &certs_add_ops, c, id);
	k->participant = pid;
	k->cert = info;
	txn_enqueue(s, c, &k->t);
}

/* Certificates by registration time, then fingerprint. */
static int
certs_cmp(const void *x, const void *y)
{
	const struct cert *a = *(const struct cert *const *)x, *b = *(const struct cert *const *)y;

	if (a->registered_at != b->registered_at)
		return a->registered_at < b->registered_at ? -1 : 1;
	return strcmp(a->fp, b->fp);
}

/* certificate.list (anyone): a participant's certificates; an operator names any
 * participant, others see their own. */
void
certs_op_list(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct participant *me = conn_ident(c)->who, *p = me;
	struct cert **v;
	size_t it = 0, n = 0;
	json_t *r, *list;
	int64_t pid = me->id;
	void *val;
	int rc;

	if ((rc = proto_get_int(c, req, "participant", 0, &pid)) < 0)
		return;
	if (pid != me->id && me->role != ROLE_OPERATOR) {
		conn_send(c, proto_error(id, "forbidden", "only an operator may list the certificates "
		    "of another participant", "participant"));
		return;
	}
	if ((p = map_get(&s->participants, pid)) == NULL) {
		conn_send(c, proto_error(id, "not_found", "no such participant", "participant"));
		return;
	}
	if ((v = calloc(s->certs.len + 1, sizeof(*v))) == NULL)
		return;
	while (map_next(&s->certs, &it, NULL, NULL, &val))
		if (((struct cert *)val)->who == p)
			v[n++] = val;
	qsort(v, n, sizeof(*v), certs_cmp);
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, registry_cert_json(v[i]));
	free(v);
	r = proto_ok(id);
	json_object_set_new(r, "participant", json_pack("{s:I, s:s, s:s}", "id",
	    (json_int_t)p->id, "name", p->name, "role", role_name(p->role)));
	json_object_set_new(r, "certificates", list);
	conn_send(c, r);
}
