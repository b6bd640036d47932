/* The JSON-lines protocol: decode a request line, check its envelope, build
 * replies and errors, typed field getters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/money.h"
#include "common/timeutil.h"
#include "server/server.h"

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

/* A string field of at most `maxlen` bytes (and at least one). Returns 1 when
 * absent and optional. */
int
proto_get_str(struct conn *c, json_t *req, const char *field, int required, size_t maxlen,
    const char **out)
{
	json_t *v = json_object_get(req, field);
	json_t *id = json_object_get(req, "id");
	char msg[160];

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
	if (json_string_length(v) == 0 || json_string_length(v) > maxlen ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(msg, sizeof(msg), "field '%s' must be 1 to %zu bytes without NUL", field, maxlen);
		conn_send(c, proto_error(id, "bad_field", msg, field));
		return -1;
	}
	*out = json_string_value(v);
	return 0;
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
