/*
 * The transparency log over the protocol (docs/trust.md): signed tree heads
 * written through the one write path, and the reads log.head, log.proof and
 * log.consistency, answered from the tree in memory (tlog.c).
 *
 * Heads: a timer checks whether the tree grew past the latest head; if so,
 * and a second has passed since the last head was queued, it queues a clock
 * command. The command never takes a place among the batches in flight of
 * its own while others are in flight: it is queued then only when client
 * commands are queued too (it joins their batch); so under load a head goes
 * out within about a second, and when the load stops, once the last batch
 * has committed. Its apply signs the head of the
 * tree as committed at that moment (the leaves of batches still in flight
 * are not in it yet) and adds its row of tree_heads (and, the first time,
 * the key's certificate to log_keys) to the batch; the head joins the list
 * that log.head serves only once that batch has committed. Proofs are given
 * only for the sizes of signed heads, so that every root a client checks a
 * proof against is one tenderd signed and stored.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "server/optab.h"
#include "server/server.h"
#include "server/tlog.h"
#include "server/txn.h"

/* How often the timer looks, and how long after a head the next may be queued. */
#define LOGOPS_CHECK_MS 100
#define LOGOPS_EVERY_MS 1000

/* The head signer's state. */
struct logops {
	struct event *timer;     /* every LOGOPS_CHECK_MS */
	int queued;              /* a head command is queued or in a batch */
	int key_stored;          /* the loaded key's certificate is in log_keys */
	int64_t last_queued;     /* time_mono_ms() when the last head was queued */
};

/* A head being signed and stored. */
struct logops_cmd {
	struct txn_cmd t;        /* first */
	struct tlog_head head;
	int store_key;
};

/* Lower-case hex with the bytea prefix, for a statement parameter; malloc'd. */
static char *
logops_bytea(const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o = malloc(2 * n + 3), *q = o;

	if (o == NULL)
		return NULL;
	*q++ = '\\';
	*q++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*q++ = hex[p[i] >> 4];
		*q++ = hex[p[i] & 15];
	}
	*q = '\0';
	return o;
}

/* Apply: sign the head of the committed tree and add its row to the batch. */
static int
logops_apply_head(struct server *s, struct txn_cmd *t)
{
	struct logops *lo = s->logops;
	struct logops_cmd *k = (struct logops_cmd *)t;
	const struct tlog_head *last = tlog_latest(s->tlog);
	int64_t n = tlog_size(s->tlog);
	char size[24], at[TIME_BUF], *root, *sig;

	if (n == 0 || (last != NULL && last->size >= n)) {
		lo->queued = 0;
		return 0;
	}
	if (tlog_sign(s->tlog, n, t->at, &k->head) < 0) {
		log_error("cannot sign the tree head of size %" PRId64, n);
		lo->queued = 0;
		return 0;
	}
	if (!lo->key_stored) {
		const char *p[2] = { tlog_key_fp(s->tlog), tlog_key_pem(s->tlog) };
		txn_sql(s, DB_S_LOG_KEY, 2, p, NULL, NULL);
		k->store_key = 1;
	}
	snprintf(size, sizeof(size), "%" PRId64, n);
	time_format(t->at, at);
	root = logops_bytea(k->head.root, MERKLE_HASH);
	sig = logops_bytea(k->head.sig, k->head.siglen);
	{
		const char *p[5] = { size, root, at, sig, k->head.key_fp };
		txn_sql(s, DB_S_HEAD, 5, p, NULL, NULL);
	}
	free(root);
	free(sig);
	return 1;
}

/* Committed: the head is stored, so it is published. */
static void
logops_commit_head(struct server *s, struct txn_cmd *t)
{
	struct logops *lo = s->logops;
	struct logops_cmd *k = (struct logops_cmd *)t;

	lo->queued = 0;
	if (k->store_key)
		lo->key_stored = 1;
	if (tlog_add_head(s->tlog, &k->head) < 0)
		log_error("tree head of size %" PRId64 " not published", k->head.size);
	else
		log_debug("tree head size=%" PRId64 " signed", k->head.size);
}

/* Not stored: the next second tries again. */
static void
logops_abort_head(struct server *s, struct txn_cmd *t)
{
	((struct logops *)s->logops)->queued = 0;
}

static const struct txn_cmd_ops logops_head_ops = {
	logops_apply_head, logops_commit_head, logops_abort_head, NULL, 0 };

/* Queue a head when the tree grew past the latest one, a second after the last, when it
 * can join other commands' batch or no batch is in flight. */
static void
logops_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct logops *lo = s->logops;
	const struct tlog_head *last = tlog_latest(s->tlog);
	struct logops_cmd *k;
	int64_t now = time_mono_ms();

	if (lo->queued || s->stopping || tlog_size(s->tlog) == 0 ||
	    (last != NULL && last->size >= tlog_size(s->tlog)) ||
	    now - lo->last_queued < LOGOPS_EVERY_MS || (!txn_idle(s) && !txn_queued(s)))
		return;
	lo->last_queued = now;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return;
	txn_cmd_init(&k->t, &logops_head_ops, NULL, NULL);
	lo->queued = 1;
	txn_enqueue(s, NULL, &k->t);
}

/* See server.h. */
int
logops_init(struct server *s)
{
	struct logops *lo = calloc(1, sizeof(*lo));
	struct timeval tv = { 0, LOGOPS_CHECK_MS * 1000 };

	if (lo == NULL)
		return -1;
	s->logops = lo;
	lo->key_stored = tlog_key_of(s->tlog, tlog_key_fp(s->tlog)) != NULL;
	if (tlog_add_key(s->tlog, tlog_key_fp(s->tlog), tlog_key_pem(s->tlog)) < 0 ||
	    (lo->timer = event_new(s->base, -1, EV_PERSIST, logops_tick, s)) == NULL)
		return -1;
	event_add(lo->timer, &tv);
	return 0;
}

/* See server.h. */
void
logops_free(struct server *s)
{
	struct logops *lo = s->logops;

	if (lo == NULL)
		return;
	if (lo->timer)
		event_free(lo->timer);
	free(lo);
	s->logops = NULL;
}

/* Base64 (RFC 4648, padded) of `n` bytes; malloc'd. */
static char *
logops_base64(const unsigned char *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = malloc(4 * ((n + 2) / 3) + 1), *q = o;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		*q++ = b64[v >> 18 & 63];
		*q++ = b64[v >> 12 & 63];
		*q++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*q++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*q = '\0';
	return o;
}

/* A head as the protocol shows it (docs/protocol.md, `log.head`). */
static json_t *
logops_head_json(struct server *s, const struct tlog_head *h)
{
	char root[2 * MERKLE_HASH + 1], *sig = logops_base64(h->sig, h->siglen);
	const char *pem = tlog_key_of(s->tlog, h->key_fp);
	json_t *o;

	merkle_hex(h->root, root);
	o = json_pack("{s:I, s:s, s:I, s:o, s:s, s:s, s:s}", "tree_size", (json_int_t)h->size,
	    "root", root, "timestamp", (json_int_t)h->at, "time", proto_time(h->at), "signature",
	    sig ? sig : "", "key_fingerprint", h->key_fp, "certificate", pem ? pem : "");
	free(sig);
	return o;
}

/* An array of hashes in hex. */
static json_t *
logops_hashes(const merkle_hash *h, int n)
{
	json_t *a = json_array();
	char hex[2 * MERKLE_HASH + 1];

	for (int i = 0; i < n; i++) {
		merkle_hex(h[i], hex);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

/* The signed head of size `field` in the request (absent: the latest), or NULL after
 * an error reply (unknown_tree_head). */
static const struct tlog_head *
logops_head_arg(struct server *s, struct conn *c, json_t *id, json_t *req, const char *field)
{
	const struct tlog_head *last = tlog_latest(s->tlog), *h;
	int64_t size;
	char msg[160];
	int r = proto_get_int(c, req, field, 0, &size);

	if (r < 0)
		return NULL;
	if (last == NULL) {
		conn_send(c, proto_error(id, "unknown_tree_head", "no tree head has been signed yet",
		    r == 0 ? field : NULL));
		return NULL;
	}
	if (r == 1)
		return last;
	if ((h = tlog_head_of(s->tlog, size)) == NULL) {
		snprintf(msg, sizeof(msg), "no tree head of size %" PRId64 " was signed (the latest has "
		    "size %" PRId64 ")", size, last->size);
		conn_send(c, proto_error(id, "unknown_tree_head", msg, field));
	}
	return h;
}

/* log.head: the latest signed tree head, or the one of `tree_size`. */
void
logops_head(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct tlog_head *h = logops_head_arg(s, c, id, req, "tree_size");
	json_t *r;

	if (h == NULL)
		return;
	r = proto_ok(id);
	json_object_set_new(r, "head", logops_head_json(s, h));
	conn_send(c, r);
}

/* log.proof: the inclusion proof of change `seq` in a signed head's tree. */
void
logops_proof(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	merkle_hash path[MERKLE_MAX_PATH], leaf;
	const struct tlog_head *h;
	char msg[160], hex[2 * MERKLE_HASH + 1];
	int64_t seq;
	int n;
	json_t *r;

	if (proto_get_int(c, req, "seq", 1, &seq) < 0 ||
	    (h = logops_head_arg(s, c, id, req, "tree_size")) == NULL)
		return;
	if (seq < 1 || seq > h->size) {
		snprintf(msg, sizeof(msg), "seq %" PRId64 " is not in the tree of size %" PRId64
		    " (1 to %" PRId64 ")", seq, h->size, h->size);
		conn_send(c, proto_error(id, "out_of_range", msg, "seq"));
		return;
	}
	if ((n = tlog_inclusion(s->tlog, seq, h->size, path)) < 0 ||
	    tlog_leaf(s->tlog, seq, leaf) < 0) {
		conn_send(c, proto_error(id, "internal", "the proof cannot be made", NULL));
		return;
	}
	merkle_hex(leaf, hex);
	r = proto_ok(id);
	json_object_set_new(r, "seq", json_integer(seq));
	json_object_set_new(r, "tree_size", json_integer(h->size));
	json_object_set_new(r, "leaf_hash", json_string(hex));
	json_object_set_new(r, "path", logops_hashes(path, n));
	conn_send(c, r);
}

/* log.consistency: the consistency proof between two signed heads' trees. */
void
logops_consistency(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	merkle_hash proof[MERKLE_MAX_PATH];
	const struct tlog_head *from, *to;
	char msg[160];
	int n;
	json_t *r;

	if (json_object_get(req, "from") == NULL) {
		conn_send(c, proto_error(id, "missing_field", "field 'from' is required", "from"));
		return;
	}
	if ((from = logops_head_arg(s, c, id, req, "from")) == NULL ||
	    (to = logops_head_arg(s, c, id, req, "to")) == NULL)
		return;
	if (from->size > to->size) {
		snprintf(msg, sizeof(msg), "from (%" PRId64 ") must not be larger than to (%" PRId64
		    ")", from->size, to->size);
		conn_send(c, proto_error(id, "out_of_range", msg, "from"));
		return;
	}
	if ((n = tlog_consistency(s->tlog, from->size, to->size, proof)) < 0) {
		conn_send(c, proto_error(id, "internal", "the proof cannot be made", NULL));
		return;
	}
	r = proto_ok(id);
	json_object_set_new(r, "from", json_integer(from->size));
	json_object_set_new(r, "to", json_integer(to->size));
	json_object_set_new(r, "proof", logops_hashes(proof, n));
	conn_send(c, r);
}
