/* Unit tests of the protocol decoding (server/proto.c). The connection and
 * the operations are replaced by recorders: this tests one module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/optab.h"
#include "server/server.h"
#include "tests/unit/proto_ident.h"

/* ---- recorders standing in for conn.c and optab.c ---- */
static json_t *sent[16];
static int nsent;
static char last_op[64];
static json_t *last_req;
static int unknown;

void
conn_send(struct conn *c, json_t *msg)
{
	(void)c;
	if (nsent < 16)
		sent[nsent++] = msg;
	else
		json_decref(msg);
}

/* The handler of the table below: records what it was given. */
static void
record(struct server *s, struct conn *c, json_t *id, json_t *req, const struct optab_op *op)
{
	(void)s; (void)c; (void)id;
	snprintf(last_op, sizeof(last_op), "%s", op->name);
	json_decref(last_req);
	last_req = json_incref(req);
}

/* A table standing in for optab.c: "buyers.only" refuses the supplier above. */
const struct optab_op *
optab_find(const char *name)
{
	static const struct optab_op rows[] = {
		{ "buyers.only", OPTAB_BUYER | OPTAB_OPERATOR, OPTAB_WRITE, record, NULL, 0 },
		{ "hello", OPTAB_ANYONE, OPTAB_READ, record, NULL, 0 },
		{ "known", OPTAB_SUPPLIER, OPTAB_READ, record, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

static int
reset(void **state)
{
	(void)state;
	for (int i = 0; i < nsent; i++)
		json_decref(sent[i]);
	nsent = 0;
	last_op[0] = '\0';
	json_decref(last_req);
	last_req = NULL;
	unknown = 0;
	return 0;
}

/* Send one line through the decoder. */
static void
feed(const char *line)
{
	proto_handle_line(NULL, NULL, line, strlen(line));
}

/* The error code of the n-th sent message. */
static const char *
code_of(int n)
{
	json_t *e = json_object_get(sent[n], "error");

	return json_string_value(json_object_get(e, "code"));
}

static void
test_valid_request_dispatched(void **state)
{
	(void)state;
	feed("{\"id\":7,\"op\":\"known\",\"x\":1}");
	assert_int_equal(nsent, 0);
	assert_string_equal(last_op, "known");
	assert_int_equal(json_integer_value(json_object_get(last_req, "x")), 1);
}

static void
test_string_id_and_missing_id(void **state)
{
	(void)state;
	feed("{\"id\":\"abc\",\"op\":\"hello\"}");
	assert_string_equal(last_op, "hello");
	feed("{\"op\":\"hello\"}");
	assert_int_equal(nsent, 0);
}

static void
test_bad_json(void **state)
{
	(void)state;
	feed("{\"id\":1,\"op\":");
	assert_int_equal(nsent, 1);
	assert_string_equal(code_of(0), "bad_json");
	assert_true(json_is_null(json_object_get(sent[0], "id")));
	assert_true(json_is_false(json_object_get(sent[0], "ok")));
	feed("not json");
	assert_string_equal(code_of(1), "bad_json");
	/* two values on one line are not one request */
	feed("{\"op\":\"hello\"} {\"op\":\"hello\"}");
	assert_string_equal(code_of(2), "bad_json");
	assert_string_equal(last_op, "");
}

static void
test_duplicate_keys_refused(void **state)
{
	(void)state;
	feed("{\"id\":1,\"op\":\"known\",\"op\":\"hello\"}");
	assert_int_equal(nsent, 1);
	assert_string_equal(code_of(0), "bad_json");
}

static void
test_not_an_object(void **state)
{
	(void)state;
	feed("[1,2,3]");
	feed("42");
	feed("\"hello\"");
	assert_int_equal(nsent, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(code_of(i), "bad_request");
}

static void
test_op_missing_or_wrong_type(void **state)
{
	(void)state;
	feed("{\"id\":3}");
	feed("{\"id\":4,\"op\":12}");
	assert_int_equal(nsent, 2);
	assert_string_equal(code_of(0), "bad_request");
	assert_int_equal(json_integer_value(json_object_get(sent[0], "id")), 3);
	assert_string_equal(code_of(1), "bad_request");
	assert_int_equal(json_integer_value(json_object_get(sent[1], "id")), 4);
}

static void
test_id_wrong_type(void **state)
{
	(void)state;
	feed("{\"id\":1.5,\"op\":\"hello\"}");
	feed("{\"id\":{},\"op\":\"hello\"}");
	feed("{\"id\":true,\"op\":\"hello\"}");
	assert_int_equal(nsent, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(code_of(i), "bad_request");
		assert_string_equal(json_string_value(json_object_get(json_object_get(sent[i],
		    "error"), "field")), "id");
	}
	assert_string_equal(last_op, "");
}

static void
test_unknown_op(void **state)
{
	(void)state;
	feed("{\"id\":\"q\",\"op\":\"auction.explode\"}");
	assert_int_equal(nsent, 1);
	assert_string_equal(code_of(0), "unknown_op");
	assert_string_equal(json_string_value(json_object_get(sent[0], "id")), "q");
}

/* A role the table's row does not allow is refused before the handler runs. */
static void
test_forbidden_role(void **state)
{
	(void)state;
	feed("{\"id\":\"r\",\"op\":\"buyers.only\"}");
	assert_int_equal(nsent, 1);
	assert_string_equal(code_of(0), "forbidden");
	assert_string_equal(json_string_value(json_object_get(json_object_get(sent[0], "error"),
	    "message")), "a supplier may not use buyers.only");
	assert_string_equal(json_string_value(json_object_get(sent[0], "id")), "r");
	assert_string_equal(last_op, "");
}

static void
test_get_int(void **state)
{
	json_t *req = json_pack("{s:i, s:i, s:s, s:f, s:i}", "id", 1, "a", 5, "s", "5", "f", 1.5,
	    "neg", -3);
	int64_t v = 0;

	(void)state;
	assert_int_equal(proto_get_int(NULL, req, "a", 1, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(proto_get_int(NULL, req, "missing", 0, &v), 1);
	assert_int_equal(nsent, 0);
	assert_int_equal(proto_get_int(NULL, req, "missing", 1, &v), -1);
	assert_string_equal(code_of(0), "missing_field");
	assert_int_equal(proto_get_int(NULL, req, "s", 1, &v), -1);
	assert_string_equal(code_of(1), "bad_field");
	assert_int_equal(proto_get_int(NULL, req, "f", 1, &v), -1);
	assert_string_equal(code_of(2), "bad_field");
	assert_int_equal(proto_get_int(NULL, req, "neg", 1, &v), -1);
	assert_string_equal(code_of(3), "bad_field");
	assert_string_equal(json_string_value(json_object_get(json_object_get(sent[3], "error"),
	    "field")), "neg");
	json_decref(req);
}

static void
test_get_str(void **state)
{
	json_t *req = json_pack("{s:i, s:s, s:s, s:i, s:s#}", "id", 1, "t", "hello", "e", "",
	    "n", 3, "z", "a\0b", (size_t)3);
	const char *out = NULL;

	(void)state;
	assert_int_equal(proto_get_str(NULL, req, "t", 1, 10, &out), 0);
	assert_string_equal(out, "hello");
	assert_int_equal(proto_get_str(NULL, req, "t", 1, 4, &out), -1);    /* too long */
	assert_int_equal(proto_get_str(NULL, req, "e", 1, 10, &out), -1);   /* empty */
	assert_int_equal(proto_get_str(NULL, req, "n", 1, 10, &out), -1);   /* not a string */
	assert_int_equal(proto_get_str(NULL, req, "z", 1, 10, &out), -1);   /* embedded NUL */
	assert_int_equal(proto_get_str(NULL, req, "none", 0, 10, &out), 1);
	assert_int_equal(proto_get_str(NULL, req, "none", 1, 10, &out), -1);
	assert_int_equal(nsent, 5);
	for (int i = 0; i < 4; i++)
		assert_string_equal(code_of(i), "bad_field");
	assert_string_equal(code_of(4), "missing_field");
	json_decref(req);
}

static void
test_money_and_time_on_the_wire(void **state)
{
	json_t *m = proto_money(99500000, 2), *z = proto_money(1500, 0), *t = proto_time(0);

	(void)state;
	assert_string_equal(json_string_value(m), "995000.00");
	assert_string_equal(json_string_value(z), "1500");
	assert_string_equal(json_string_value(t), "1970-01-01T00:00:00.000Z");
	json_decref(m);
	json_decref(z);
	json_decref(t);
}

static void
test_error_shape(void **state)
{
	json_t *id = json_string("r1");
	json_t *e = proto_error(id, "forbidden", "no", "op");
	json_t *ok = proto_ok(NULL);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(e, "id")), "r1");
	assert_true(json_is_false(json_object_get(e, "ok")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "error"), "message")), "no");
	assert_true(json_is_true(json_object_get(ok, "ok")));
	assert_true(json_is_null(json_object_get(ok, "id")));
	json_decref(id);
	json_decref(e);
	json_decref(ok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid_request_dispatched, reset, reset),
		cmocka_unit_test_setup_teardown(test_string_id_and_missing_id, reset, reset),
		cmocka_unit_test_setup_teardown(test_bad_json, reset, reset),
		cmocka_unit_test_setup_teardown(test_duplicate_keys_refused, reset, reset),
		cmocka_unit_test_setup_teardown(test_not_an_object, reset, reset),
		cmocka_unit_test_setup_teardown(test_op_missing_or_wrong_type, reset, reset),
		cmocka_unit_test_setup_teardown(test_id_wrong_type, reset, reset),
		cmocka_unit_test_setup_teardown(test_unknown_op, reset, reset),
		cmocka_unit_test_setup_teardown(test_forbidden_role, reset, reset),
		cmocka_unit_test_setup_teardown(test_get_int, reset, reset),
		cmocka_unit_test_setup_teardown(test_get_str, reset, reset),
		cmocka_unit_test_setup_teardown(test_money_and_time_on_the_wire, reset, reset),
		cmocka_unit_test_setup_teardown(test_error_shape, reset, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
