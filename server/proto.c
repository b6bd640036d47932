/* The JSON-lines protocol: decode a request line, check its envelope, build
 * replies and errors, typed field getters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/money.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/server.h"

/* {"id":ID,"ok":false,"error":{"code":…,"message":…[,"field":…]}} */
json_t *
proto_error(json_t *id, const char *code, const char *message, const char *field)
{
	json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);

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
 * as sent). -1 when out of memory. */
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
			if (!(top && strcmp(key, "id") == 0) && proto_nfc(x, 0) < 0)
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

/* Decode one request line and hand it to the operations. */
void
proto_handle_line(struct server *s, struct conn *c, const char *line, size_t len)
{
	json_error_t err;
	json_t *req, *id, *op;
	char msg[256];

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (req == NULL) {
		snprintf(msg, sizeof(msg), "invalid JSON at column %d: %s", err.column, err.text);
		conn_send(c, proto_error(NULL, "bad_json", msg, NULL));
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
	if (ops_handle(s, c, json_string_value(op), id, req) < 0) {
		snprintf(msg, sizeof(msg), "unknown operation '%.64s'", json_string_value(op));
		conn_send(c, proto_error(id, "unknown_op", msg, "op"));
	}
out:
	json_decref(req);
}
