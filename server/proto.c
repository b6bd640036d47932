/* The JSON-lines protocol: decode a request line, check its envelope, build
 * replies and errors, typed field getters. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/money.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/metrics.h"
#include "server/optab.h"
#include "server/server.h"
#include "server/sig.h"

/* Length of the well-formed UTF-8 sequence at `s` (1 to 4 bytes), 0 when there is none. */
static size_t
proto_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	/* no overlong forms, no surrogates, nothing above U+10FFFF */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/*
 * A copy of `text` with each byte outside well-formed UTF-8 replaced by '?', or
 * NULL when it is well-formed already (or out of memory). Messages quote the
 * client's bytes: jansson's "near '...'" and a %.64s of an operation name can
 * cut a character in two, and JSON strings must be UTF-8 (jansson refuses to
 * build the reply otherwise, and the client would get none).
 */
static char *
proto_utf8_clean(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	char *copy;
	size_t i = 0, k;

	while (p[i] != '\0' && (k = proto_utf8_len(p + i)) > 0)
		i += k;
	if (p[i] == '\0' || (copy = strdup(text)) == NULL)
		return NULL;
	while (p[i] != '\0') {
		if ((k = proto_utf8_len(p + i)) == 0) {
			copy[i] = '?';
			k = 1;
		}
		i += k;
	}
	return copy;
}

/* {"id":ID,"ok":false,"error":{"code":…,"message":…[,"field":…]}} */
json_t *
proto_error(json_t *id, const char *code, const char *message, const char *field)
{
	char *clean = proto_utf8_clean(message);
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", clean ? clean : message);

	free(clean);
	if (field)
		json_object_set_new(err, "field", json_string(field));
	return json_pack("{s:O, s:b, s:o}", "id", id ? id : json_null(), "ok", 0, "error", err);
}

/* {"id":ID,"ok":true} to be completed by the caller. */
json_t *
proto_ok(json_t *id)
{
	return json_pack("{s:O, s:b}", "id", id ? id : json_null(), "ok", 1);
}

/* A time as an RFC 3339 string. */
json_t *
proto_time(int64_t ms)
{
	char buf[TIME_BUF];

	time_format(ms, buf);
	return json_string(buf);
}

/* An amount as a decimal string. */
json_t *
proto_money(int64_t v, int exp)
{
	char buf[40];

	money_format(v, exp, buf, sizeof(buf));
	return json_string(buf);
}

/* An integer field; refuses non-integers and negatives. */
int
proto_get_int(struct conn *c, json_t *req, const char *field, int required, int64_t *out)
{
	json_t *v = json_object_get(req, field);
	json_t *id = json_object_get(req, "id");
	char msg[128];

	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 1;
		snprintf(msg, sizeof(msg), "field '%s' is required", field);
		conn_send(c, proto_error(id, "missing_field", msg, field));
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(msg, sizeof(msg), "field '%s' must be a non-negative integer", field);
		conn_send(c, proto_error(id, "bad_field", msg, field));
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* A string field of 1 to `maxlen` characters (code points of its NFC form, which
 * the request already holds: see proto_nfc) without NUL. Returns 1 when absent
 * and optional. */
int
proto_get_str(struct conn *c, json_t *req, const char *field, int required, size_t maxlen,
    const char **out)
{
	return proto_get_text(c, req, field, required, maxlen, TEXT_FREE, out);
}

/* The same, with the rules of `kind` (names and titles refuse invisible characters). */
int
proto_get_text(struct conn *c, json_t *req, const char *field, int required, size_t maxlen,
    int kind, const char **out)
{
	json_t *v = json_object_get(req, field);
	json_t *id = json_object_get(req, "id");
	char msg[200], why[120];
	size_t n;

	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 1;
		snprintf(msg, sizeof(msg), "field '%s' is required", field);
		conn_send(c, proto_error(id, "missing_field", msg, field));
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(msg, sizeof(msg), "field '%s' must be a string", field);
		conn_send(c, proto_error(id, "bad_field", msg, field));
		return -1;
	}
	n = json_string_length(v);
	if (n == 0 || text_len(json_string_value(v), n) > maxlen ||
	    strlen(json_string_value(v)) != n) {
		snprintf(msg, sizeof(msg), "field '%s' must be 1 to %zu characters without NUL", field,
		    maxlen);
		conn_send(c, proto_error(id, "bad_field", msg, field));
		return -1;
	}
	if (text_check(json_string_value(v), n, (enum text_kind)kind, why, sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "field '%s' %s", field, why);
		conn_send(c, proto_error(id, "bad_field", msg, field));
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Replace every string of a request by its NFC form, in place: what the
 * operations check, store and echo is normalized (but the request id is echoed
 * as sent, and a signed statement and its signature are the exact bytes signed).
 * -1 when out of memory. */
static int
proto_nfc(json_t *v, int top)
{
	const char *key;
	json_t *x;
	size_t i, n;
	char *nfc;
	int rc;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, key, x)
			if (!(top && (strcmp(key, "id") == 0 || strcmp(key, "statement") == 0 ||
			    strcmp(key, "signature") == 0)) && proto_nfc(x, 0) < 0)
				return -1;
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			if (proto_nfc(x, 0) < 0)
				return -1;
		return 0;
	case JSON_STRING:
		rc = text_nfc(json_string_value(v), json_string_length(v), &nfc, &n);
		if (rc == 1) {
			rc = json_string_setn_nocheck(v, nfc, n);
			free(nfc);
		}
		return rc < 0 ? -1 : 0;
	default:
		return 0;
	}
}

/*
 * The request being handled. Its reply, when sent at once through conn_send,
 * is logged there (proto_sent); a reply sent later (after a commit, or after
 * the batch a read waits for) is logged by its sender, with the operation and
 * start time it took from proto_current() when the request was queued.
 */
static struct {
	const struct conn *c;      /* NULL outside proto_handle_line */
	char op[48];
	int64_t t0;                /* monotonic microseconds */
	int64_t auction, procurement;  /* the integer fields of those names; 0: none */
	int logged;
	struct sig_job *sig;       /* its signature being checked, until a command takes it */
} proto_cur;

/* Monotonic clock in microseconds. */
int64_t
proto_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The operation name and start time of the request being handled; NULL outside one. */
const char *
proto_current(int64_t *t0_us)
{
	if (proto_cur.c == NULL)
		return NULL;
	*t0_us = proto_cur.t0;
	return proto_cur.op;
}

/* The targets of the request being handled. */
void
proto_current_target(int64_t *auction, int64_t *procurement)
{
	*auction = proto_cur.c ? proto_cur.auction : 0;
	*procurement = proto_cur.c ? proto_cur.procurement : 0;
}

/* The id of the object a reply holds under `field` ("auction": {"id": N}); 0: none. */
static int64_t
proto_reply_target(json_t *reply, const char *field)
{
	json_t *id = json_object_get(json_object_get(reply, field), "id");

	return json_is_integer(id) ? (int64_t)json_integer_value(id) : 0;
}

/* The request id as logged: a string (at most 64 bytes) or an integer; "-" when none. */
static void
proto_log_id(struct log_line *ln, json_t *id)
{
	char buf[65];

	if (json_is_integer(id)) {
		log_int(ln, "id", (long long)json_integer_value(id));
	} else if (json_is_string(id)) {
		snprintf(buf, sizeof(buf), "%s", json_string_value(id));
		log_str(ln, "id", buf);
	} else {
		log_str(ln, "id", "-");
	}
}

/*
 * One line per reply (docs/operations.md "Logs"): op, conn, participant, role, cert
 * (16 hex digits), id, auction or procurement, result (ok or the error code) and ms
 * (from reading the request line to sending or queueing the reply, to the µs). Counted
 * in the metrics whether logged or not (log_operations).
 */
void
proto_log_reply(const struct proto_req *r, json_t *reply)
{
	json_t *ok = json_object_get(reply, "ok");
	const char *result = "ok";
	int64_t us = proto_clock_us() - r->t0, auction = r->auction, procurement = r->procurement;
	struct log_line ln;
	char fp[17];

	if (ok == NULL)
		return;
	if (!json_is_true(ok))
		result = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
	if (result == NULL)
		result = "?";
	metrics_op(r->op, result, us);
	if (!log_enabled(LOG_INFO) || !metrics_log_ops())
		return;
	if (auction == 0 && procurement == 0) {
		auction = proto_reply_target(reply, "auction");
		procurement = proto_reply_target(reply, "procurement");
	}
	log_begin(&ln, LOG_INFO, "op");
	log_str(&ln, "op", r->op);
	log_int(&ln, "conn", (long long)r->conn);
	if (r->who != NULL) {
		log_int(&ln, "participant", (long long)r->who->id);
		log_str(&ln, "role", role_name(r->who->role));
	}
	snprintf(fp, sizeof(fp), "%.16s", r->fp ? r->fp : "-");
	log_str(&ln, "cert", fp);
	proto_log_id(&ln, r->id);
	if (auction > 0)
		log_int(&ln, "auction", (long long)auction);
	if (procurement > 0)
		log_int(&ln, "procurement", (long long)procurement);
	log_str(&ln, "result", result);
	log_dec(&ln, "ms", (long long)us, 3);
	log_end(&ln);
}

/* Called by conn_send for every message: the reply to the request being handled
 * is logged. */
void
proto_sent(struct conn *c, json_t *msg)
{
	const struct conn_ident *ci;
	struct proto_req r;

	if (c != proto_cur.c || proto_cur.logged || json_object_get(msg, "ok") == NULL)
		return;
	proto_cur.logged = 1;
	ci = conn_ident(c);
	r = (struct proto_req){ .conn = ci->id, .who = ci->who, .fp = ci->cert ? ci->cert->fp : NULL,
	    .op = proto_cur.op, .id = json_object_get(msg, "id"), .t0 = proto_cur.t0,
	    .auction = proto_cur.auction, .procurement = proto_cur.procurement };
	proto_log_reply(&r, msg);
}

/* The operation name as logged: letters, digits, '.', '_' and '-' (others become '?'). */
static void
proto_set_op(const char *op)
{
	size_t i;

	for (i = 0; op[i] && i < sizeof(proto_cur.op) - 1; i++)
		proto_cur.op[i] = (isalnum((unsigned char)op[i]) || strchr("._-", op[i])) ? op[i] : '?';
	proto_cur.op[i] = '\0';
}

/* The signed statement of a request (server/sig.h): checked against the request, its
 * signature handed to a worker; 0, or -1 when refused (answered). */
static int
proto_signed_part(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *code = NULL, *field = NULL;
	char msg[300];

	if (sig_request(s, conn_ident(c)->who, op->name, req, (op->flags & OPTAB_SIGN) != 0,
	    &proto_cur.sig, &code, msg, sizeof(msg), &field) == 0)
		return 0;
	conn_send(c, proto_error(id, code, msg, field));
	return -1;
}

/* The signature check of the request being handled, taken by the command it queues
 * (NULL: none). */
struct sig_job *
proto_take_sig(void)
{
	struct sig_job *j = proto_cur.sig;

	proto_cur.sig = NULL;
	return j;
}

/* The request being handled carries a signed statement. */
int
proto_signed(void)
{
	return proto_cur.sig != NULL;
}

/* A standby's answer to every operation but hello: error `standby`, naming the primary. */
static int
proto_standby(struct server *s, struct conn *c, const char *name, json_t *id)
{
	char msg[400];
	const char *p = standby_refusal(s, name, msg, sizeof(msg));
	json_t *r;

	if (p == NULL)
		return 0;
	r = proto_error(id, "standby", msg, NULL);
	json_object_set_new(json_object_get(r, "error"), "primary", p[0] ? json_string(p) :
	    json_null());
	conn_send(c, r);
	return 1;
}

/*
 * Dispatch a decoded request, once, from the table of operations: an unknown
 * op is refused with unknown_op, a role the row does not allow with forbidden;
 * only then does the handler run (it never checks the role again).
 */
static void
proto_dispatch(struct server *s, struct conn *c, const char *name, json_t *id, json_t *req)
{
	const struct optab_op *op = optab_find(name);
	enum role role;
	char msg[160];

	if (proto_standby(s, c, name, id))
		return;
	if (op == NULL) {
		snprintf(msg, sizeof(msg), "unknown operation '%.64s'", name);
		conn_send(c, proto_error(id, "unknown_op", msg, "op"));
		return;
	}
	role = conn_ident(c)->who->role;
	if (!(op->roles & (1u << role))) {
		snprintf(msg, sizeof(msg), "%s %s may not use %s", role == ROLE_OPERATOR ? "an" : "a",
		    role_name(role), op->name);
		conn_send(c, proto_error(id, "forbidden", msg, NULL));
		return;
	}
	if ((op->flags & (OPTAB_SIGN | OPTAB_SIGN_OPT)) && proto_signed_part(s, c, id, req, op) < 0)
		return;
	op->fn(s, c, id, req, op);
	/* refused before it was queued: its check is no longer wanted */
	sig_job_drop(proto_cur.sig);
	proto_cur.sig = NULL;
}

/* Decode one request line and hand it to its operation. */
void
proto_handle_line(struct server *s, struct conn *c, const char *line, size_t len)
{
	json_error_t err;
	json_t *req, *id, *op;
	char msg[256];

	proto_cur.c = c;
	proto_cur.t0 = proto_clock_us();
	proto_cur.logged = 0;
	proto_cur.auction = proto_cur.procurement = 0;
	proto_set_op("-");
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (req == NULL) {
		snprintf(msg, sizeof(msg), "invalid JSON at column %d: %s", err.column, err.text);
		conn_send(c, proto_error(NULL, "bad_json", msg, NULL));
		proto_cur.c = NULL;
		return;
	}
	if (!json_is_object(req)) {
		conn_send(c, proto_error(NULL, "bad_request", "a request must be a JSON object", NULL));
		goto out;
	}
	id = json_object_get(req, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
		conn_send(c, proto_error(NULL, "bad_request", "'id' must be a string or an integer",
		    "id"));
		goto out;
	}
	if (json_is_string(json_object_get(req, "op")))
		proto_set_op(json_string_value(json_object_get(req, "op")));
	if (json_is_integer(json_object_get(req, "auction")))
		proto_cur.auction = (int64_t)json_integer_value(json_object_get(req, "auction"));
	if (json_is_integer(json_object_get(req, "procurement")))
		proto_cur.procurement = (int64_t)json_integer_value(json_object_get(req, "procurement"));
	if (proto_nfc(req, 1) < 0) {
		conn_send(c, proto_error(id, "internal", "out of memory", NULL));
		goto out;
	}
	op = json_object_get(req, "op");
	if (op == NULL || !json_is_string(op)) {
		conn_send(c, proto_error(id, "bad_request", "'op' is required and must be a string",
		    "op"));
		goto out;
	}
	proto_dispatch(s, c, json_string_value(op), id, req);
out:
	proto_cur.c = NULL;
	json_decref(req);
}
