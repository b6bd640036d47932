/* Unit tests of the error replies of server/proto.c when a message quotes the
 * client's bytes. The connection and the operations are recorders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/optab.h"
#include "server/server.h"
#include "tests/unit/proto_ident.h"

/* ---- recorders standing in for conn.c and ops.c ---- */
static json_t *sent[8];
static int nsent;

void
conn_send(struct conn *c, json_t *msg)
{
	(void)c;
	if (nsent < 8)
		sent[nsent++] = msg;   /* NULL too: a reply that could not be built */
	else
		json_decref(msg);
}

/* A table standing in for optab.c: every operation is unknown here. */
const struct optab_op *
optab_find(const char *name)
{
	(void)name;
	return NULL;
}

static int
reset(void **state)
{
	(void)state;
	for (int i = 0; i < nsent; i++)
		json_decref(sent[i]);
	nsent = 0;
	return 0;
}

/* The only reply to `line`: checks it exists, has `code`, and serializes. */
static const char *
only_reply(const char *line, const char *code)
{
	const char *msg;
	char *text;

	proto_handle_line(NULL, NULL, line, strlen(line));
	assert_int_equal(nsent, 1);
	assert_non_null(sent[0]);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sent[0], "error"),
	    "code")), code);
	msg = json_string_value(json_object_get(json_object_get(sent[0], "error"), "message"));
	assert_non_null(msg);
	text = json_dumps(sent[0], JSON_COMPACT);
	assert_non_null(text);
	free(text);
	return msg;
}

/* jansson quotes the token where decoding stopped, cut inside a character. */
static void
test_bad_json_quoting_half_a_character(void **state)
{
	const char *msg;

	(void)state;
	msg = only_reply("{\"id\":1,\"op\":\"\\u000\xc3\xa9\"}", "bad_json");
	assert_non_null(strstr(msg, "invalid escape"));
	assert_non_null(strchr(msg, '?'));
	reset(NULL);
	only_reply("{\"op\":\"\xff\"}", "bad_json");
}

/* "unknown operation '%.64s'" cuts a long non-ASCII name inside a character. */
static void
test_unknown_op_cut_inside_a_character(void **state)
{
	char line[256] = "{\"id\":2,\"op\":\"a";
	const char *msg;

	(void)state;
	for (int i = 0; i < 40; i++)
		strcat(line, "\xc3\xa9");   /* é: 1 + 2 * 40 bytes, cut at 64 */
	strcat(line, "\"}");
	msg = only_reply(line, "unknown_op");
	assert_int_equal(json_integer_value(json_object_get(sent[0], "id")), 2);
	assert_non_null(strstr(msg, "unknown operation 'a\xc3\xa9"));
	assert_non_null(strstr(msg, "?'"));
}

/* Well-formed messages pass unchanged, 4-byte characters included. */
static void
test_well_formed_message_unchanged(void **state)
{
	json_t *e = proto_error(NULL, "bad_field", "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac", "f");

	(void)state;
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "error"),
	    "message")), "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac");
	json_decref(e);
	/* overlong forms and surrogates are not UTF-8 either */
	e = proto_error(NULL, "bad_field", "\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80", NULL);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "error"),
	    "message")), "?? ??? ????");
	json_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_json_quoting_half_a_character, reset, reset),
		cmocka_unit_test_setup_teardown(test_unknown_op_cut_inside_a_character, reset, reset),
		cmocka_unit_test_setup_teardown(test_well_formed_message_unchanged, reset, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
