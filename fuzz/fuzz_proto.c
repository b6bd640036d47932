/*
 * Fuzz target: request decoding and field validation (server/proto.c), linked
 * with libcommon alone. The connection and the operations are recorders, as in
 * tests/unit/test_proto.c.
 *
 * The input is one request line. proto_handle_line() decodes it and looks the
 * operation up in a table standing in for optab.c (every operation, every role
 * allowed); the recorder handler then reads every field the operation documents in
 * docs/protocol.md with the typed getters, the way ops.c and proc.c do
 * (strings with their bounds, integers, amounts, times, steps, nested lots,
 * criteria, items and documents). Checked:
 *  - a line is either handed to an operation or answered with exactly one
 *    error; every reply is an object {"id","ok":false,"error":{"code","message"}}
 *    with a documented code;
 *  - a getter that refuses sends exactly one error naming its field, one that
 *    accepts sends nothing and returns a value of the documented type;
 *  - an accepted amount is within 0..MONEY_MAX and formats back to a string
 *    that parses to the same value; an accepted time formats back to itself;
 *    a percent step lies in 1..10000 basis points and converts within range.
 * Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/money.h"
#include "common/timeutil.h"
#include "server/optab.h"
#include "server/server.h"
#include "tests/unit/proto_ident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int nsent;            /* messages sent for the current line */
static char last_field[65536]; /* `field` of the last error, "" when none */
static int dispatched;       /* the line reached a handler */

/* Stop the run with a message: the fuzzer reports the input. */
static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_proto: invariant violated: %s (%s)\n", what, detail ? detail : "");
	abort();
}

/* The error codes the decoder and the getters may send. */
static int
known_code(const char *code)
{
	static const char *const codes[] = { "bad_json", "bad_request", "unknown_op",
	    "missing_field", "bad_field" };

	for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* Recorder for conn.c: check the shape of every reply, serialize it, count it. */
void
conn_send(struct conn *c, json_t *msg)
{
	json_t *err = json_object_get(msg, "error"), *id = json_object_get(msg, "id");
	json_t *field = json_object_get(err, "field");
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *text = json_string_value(json_object_get(err, "message"));
	char *line;

	(void)c;
	if (!json_is_object(msg) || !json_is_false(json_object_get(msg, "ok")))
		fail("reply is not an error object", NULL);
	if (id == NULL || !(json_is_null(id) || json_is_string(id) || json_is_integer(id)))
		fail("reply id is not null, a string or an integer", NULL);
	if (!known_code(code))
		fail("undocumented error code", code);
	if (text == NULL || text[0] == '\0')
		fail("error without a message", code);
	if (field != NULL && !json_is_string(field))
		fail("error field is not a string", code);
	snprintf(last_field, sizeof(last_field), "%s", field ? json_string_value(field) : "");
	if ((line = json_dumps(msg, JSON_COMPACT)) == NULL)
		fail("reply does not serialize", code);
	free(line);
	json_decref(msg);
	nsent++;
}

enum kind { F_INT, F_STR, F_AMOUNT, F_TIME, F_STEP, F_PCT, F_QTY, F_OBJ_INTS, F_LOTS,
	F_ITEMS, F_CRITERIA, F_DOCS, F_AUCTION, F_END };

/* One documented field: name, type, required, longest string in bytes. */
struct field {
	const char *name;
	enum kind kind;
	int required;
	size_t max;
};

#define END { NULL, F_END, 0, 0 }
static const struct field f_none[] = { END };
static const struct field f_register[] = { { "organization", F_STR, 1, 200 },
	{ "role", F_STR, 1, 16 }, { "name", F_STR, 1, 200 }, { "certificate", F_STR, 1, 65536 },
	{ "tax_id", F_STR, 0, 64 }, { "country", F_STR, 0, 2 }, END };
static const struct field f_auction_create[] = { { "title", F_STR, 1, 500 },
	{ "currency", F_STR, 1, 3 }, { "start_price", F_AMOUNT, 1, 40 },
	{ "step_min", F_STEP, 0, 40 }, { "step_max", F_STEP, 0, 40 },
	{ "starts_at", F_TIME, 0, 64 }, { "duration", F_INT, 0, 0 },
	{ "extension_window", F_INT, 0, 0 }, { "extension", F_INT, 0, 0 }, END };
static const struct field f_auction[] = { { "auction", F_INT, 1, 0 }, END };
static const struct field f_auction_list[] = { { "state", F_STR, 0, 16 },
	{ "limit", F_INT, 0, 0 }, { "before", F_INT, 0, 0 }, END };
static const struct field f_bid[] = { { "auction", F_INT, 1, 0 },
	{ "amount", F_AMOUNT, 1, 40 }, END };
static const struct field f_auction_cancel[] = { { "auction", F_INT, 1, 0 },
	{ "reason", F_STR, 1, 1000 }, END };
static const struct field f_participant[] = { { "participant", F_INT, 1, 0 },
	{ "reason", F_STR, 1, 1000 }, END };
static const struct field f_proc_create[] = { { "kind", F_STR, 1, 20 },
	{ "title", F_STR, 1, 500 }, { "description", F_STR, 0, 20000 },
	{ "currency", F_STR, 1, 3 }, { "enquiry_end", F_TIME, 1, 64 },
	{ "submission_deadline", F_TIME, 1, 64 }, { "opening_at", F_TIME, 1, 64 },
	{ "min_bids", F_INT, 0, 0 }, { "lots", F_LOTS, 1, 0 }, { "documents", F_DOCS, 0, 0 },
	{ "auction", F_AUCTION, 0, 0 }, END };
static const struct field f_proc_amend[] = { { "procurement", F_INT, 1, 0 },
	{ "reason", F_STR, 1, 1000 }, { "title", F_STR, 1, 500 },
	{ "description", F_STR, 0, 20000 }, { "enquiry_end", F_TIME, 1, 64 },
	{ "submission_deadline", F_TIME, 1, 64 }, { "opening_at", F_TIME, 1, 64 },
	{ "min_bids", F_INT, 0, 0 }, { "lots", F_LOTS, 1, 0 }, { "documents", F_DOCS, 0, 0 },
	{ "auction", F_AUCTION, 0, 0 }, END };
static const struct field f_proc[] = { { "procurement", F_INT, 1, 0 }, END };
static const struct field f_proc_list[] = { { "state", F_STR, 0, 20 },
	{ "kind", F_STR, 0, 20 }, END };
static const struct field f_proc_cancel[] = { { "procurement", F_INT, 1, 0 },
	{ "reason", F_STR, 1, 1000 }, END };
static const struct field f_document[] = { { "procurement", F_INT, 1, 0 },
	{ "document", F_INT, 1, 0 }, END };
static const struct field f_ask[] = { { "procurement", F_INT, 1, 0 },
	{ "text", F_STR, 1, 5000 }, END };
static const struct field f_answer[] = { { "procurement", F_INT, 1, 0 },
	{ "question", F_INT, 1, 0 }, { "text", F_STR, 1, 5000 }, END };
static const struct field f_quote[] = { { "procurement", F_INT, 1, 0 }, { "lot", F_INT, 1, 0 },
	{ "price", F_AMOUNT, 1, 40 }, { "delivery_days", F_INT, 0, 0 },
	{ "validity_days", F_INT, 0, 0 }, { "comment", F_STR, 0, 2000 }, END };
static const struct field f_lot_of[] = { { "procurement", F_INT, 1, 0 },
	{ "lot", F_INT, 1, 0 }, END };
static const struct field f_bid_submit[] = { { "procurement", F_INT, 1, 0 },
	{ "lot", F_INT, 1, 0 }, { "price", F_AMOUNT, 1, 40 }, { "values", F_OBJ_INTS, 0, 0 }, END };
static const struct field f_score[] = { { "procurement", F_INT, 1, 0 },
	{ "offer", F_INT, 1, 0 }, { "scores", F_OBJ_INTS, 1, 0 }, END };
static const struct field f_award[] = { { "procurement", F_INT, 1, 0 }, { "lot", F_INT, 1, 0 },
	{ "offer", F_INT, 1, 0 }, { "decision", F_STR, 1, 16 }, { "reason", F_STR, 0, 1000 }, END };
/* nested objects */
static const struct field f_lot[] = { { "title", F_STR, 1, 500 },
	{ "max_price", F_AMOUNT, 1, 40 }, { "items", F_ITEMS, 0, 0 },
	{ "criteria", F_CRITERIA, 0, 0 }, END };
static const struct field f_item[] = { { "description", F_STR, 1, 1000 },
	{ "quantity", F_QTY, 1, 40 }, { "unit", F_STR, 1, 64 },
	{ "classification", F_STR, 0, 64 }, END };
static const struct field f_criterion[] = { { "kind", F_STR, 1, 16 }, { "code", F_STR, 0, 64 },
	{ "name", F_STR, 0, 200 }, { "weight", F_PCT, 1, 16 }, { "better", F_STR, 0, 16 },
	{ "min", F_INT, 0, 0 }, { "max", F_INT, 0, 0 }, { "unit", F_STR, 0, 64 }, END };
static const struct field f_doc[] = { { "name", F_STR, 1, 255 },
	{ "media_type", F_STR, 1, 255 }, { "content", F_STR, 0, 1 << 24 },
	{ "sha256", F_STR, 0, 64 }, { "size", F_INT, 0, 0 }, END };
static const struct field f_auction_params[] = { { "step_min", F_STEP, 0, 40 },
	{ "step_max", F_STEP, 0, 40 }, { "duration", F_INT, 0, 0 },
	{ "extension_window", F_INT, 0, 0 }, { "extension", F_INT, 0, 0 },
	{ "delay", F_INT, 0, 0 }, END };

/* Every operation of docs/protocol.md and its fields. */
static const struct op {
	const char *name;
	const struct field *fields;
} ops[] = {
	{ "hello", f_none }, { "participant.register", f_register },
	{ "participant.suspend", f_participant }, { "participant.reinstate", f_participant },
	{ "auction.create", f_auction_create }, { "auction.get", f_auction },
	{ "auction.list", f_auction_list }, { "auction.bid", f_bid },
	{ "auction.watch", f_auction }, { "auction.unwatch", f_auction },
	{ "auction.cancel", f_auction_cancel }, { "procurement.create", f_proc_create },
	{ "procurement.amend", f_proc_amend }, { "procurement.publish", f_proc },
	{ "procurement.complete", f_proc }, { "procurement.get", f_proc },
	{ "procurement.list", f_proc_list }, { "procurement.watch", f_proc },
	{ "procurement.unwatch", f_proc }, { "procurement.cancel", f_proc_cancel },
	{ "document.get", f_document }, { "question.ask", f_ask },
	{ "question.answer", f_answer }, { "quote.submit", f_quote },
	{ "quote.withdraw", f_lot_of }, { "quote.confirm", f_lot_of },
	{ "bid.submit", f_bid_submit }, { "bid.withdraw", f_lot_of },
	{ "bid.confirm", f_lot_of }, { "bid.score", f_score }, { "award.decide", f_award },
};

static void check_fields(json_t *obj, const struct field *fs, int exp, int depth);

/* After a getter: a refusal sent one error naming the field, anything else nothing. */
static void
check_getter(int rc, int before, const char *field)
{
	if (rc < 0 && (nsent != before + 1 || strcmp(last_field, field) != 0))
		fail("a refused field is not answered by one error naming it", field);
	if (rc >= 0 && nsent != before)
		fail("an accepted field sent an error", field);
}

/* An accepted amount: in range, and it formats back to a string of the same value. */
static void
check_amount(const char *s, int exp)
{
	char buf[48];
	int64_t v, w;

	if (money_parse(s, exp, &v) != 0)
		return;
	if (v < 0 || v > MONEY_MAX)
		fail("amount out of range", s);
	money_format(v, exp, buf, sizeof(buf));
	if (money_parse(buf, exp, &w) != 0 || w != v)
		fail("amount does not survive formatting", s);
}

/* An accepted time formats back to the same instant (years 0000-9999 only). */
static void
check_time(const char *s)
{
	char buf[TIME_BUF];
	int64_t ms, back;

	if (time_parse(s, &ms) != 0)
		return;
	time_format(ms, buf);
	if (ms >= -62167219200000LL && ms <= 253402300799999LL &&
	    (time_parse(buf, &back) != 0 || back != ms))
		fail("time does not survive formatting", s);
}

/* An accepted step: a percent in 1..10000 basis points, or a positive amount. */
static void
check_step(const char *s, int exp)
{
	int pct = 0;
	int64_t v, start = MONEY_MAX;

	if (money_parse_step(s, exp, &pct, &v) != 0)
		return;
	if (pct ? (v < 1 || v > 10000) : (v < 1 || v > MONEY_MAX))
		fail("step out of range", s);
	if (pct) {
		int64_t a = money_percent_of(start, v), b = money_percent_of(1, v);
		if (a < 1 || a > start || b != 1)
			fail("percent step converts out of range", s);
	}
	{
		char buf[64];

		money_format_step(pct, v, exp, buf, sizeof(buf));
		if (buf[0] == '\0')
			fail("step formats to nothing", s);
	}
}

/* Read the array `name` of objects and check each against `fs`. */
static void
check_array(json_t *obj, const char *name, const struct field *fs, int exp, int depth)
{
	json_t *arr = json_object_get(obj, name), *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_object(v) && i < 64)
			check_fields(v, fs, exp, depth + 1);
}

/* Read one field with the getter of its type and check what came back. */
static void
check_field(json_t *obj, const struct field *f, int exp, int depth)
{
	const char *s = NULL;
	int64_t v = -1;
	int before = nsent, rc;

	switch (f->kind) {
	case F_INT:
		rc = proto_get_int(NULL, obj, f->name, f->required, &v);
		check_getter(rc, before, f->name);
		if (rc == 0 && (v < 0 || !json_is_integer(json_object_get(obj, f->name))))
			fail("an accepted integer is negative or not an integer", f->name);
		return;
	case F_OBJ_INTS: {
		json_t *o = json_object_get(obj, f->name), *x;
		const char *k;

		json_object_foreach(o, k, x) {
			before = nsent;
			rc = proto_get_int(NULL, o, k, 1, &v);
			check_getter(rc, before, k);
		}
		return;
	}
	case F_LOTS:
		check_array(obj, f->name, f_lot, exp, depth);
		return;
	case F_ITEMS:
		check_array(obj, f->name, f_item, exp, depth);
		return;
	case F_CRITERIA:
		check_array(obj, f->name, f_criterion, exp, depth);
		return;
	case F_DOCS:
		check_array(obj, f->name, f_doc, exp, depth);
		return;
	case F_AUCTION:
		if (json_is_object(json_object_get(obj, f->name)))
			check_fields(json_object_get(obj, f->name), f_auction_params, exp, depth + 1);
		return;
	default:
		break;
	}
	rc = proto_get_str(NULL, obj, f->name, f->required, f->max, &s);
	check_getter(rc, before, f->name);
	if (rc != 0)
		return;
	if (s == NULL || s[0] == '\0' || !json_is_string(json_object_get(obj, f->name)))
		fail("an accepted string is empty or not a string", f->name);
	/* the request's own text (a getter may also hand back a normalized copy) */
	if (s == json_string_value(json_object_get(obj, f->name)) &&
	    strlen(s) != json_string_length(json_object_get(obj, f->name)))
		fail("an accepted string holds a NUL", f->name);
	if (f->kind == F_AMOUNT)
		check_amount(s, exp);
	else if (f->kind == F_QTY)
		check_amount(s, 3);
	else if (f->kind == F_PCT)
		check_amount(s, 2);
	else if (f->kind == F_TIME)
		check_time(s);
	else if (f->kind == F_STEP)
		check_step(s, exp);
}

/* Check every field of `fs` in `obj`; the currency picks the amounts' exponent. */
static void
check_fields(json_t *obj, const struct field *fs, int exp, int depth)
{
	const char *cur = json_string_value(json_object_get(obj, "currency"));

	if (depth > 3)
		return;
	if (cur != NULL && money_exponent(cur) >= 0)
		exp = money_exponent(cur);
	for (const struct field *f = fs; f->name != NULL; f++)
		check_field(obj, f, exp, depth);
}

static struct optab_op rows[sizeof(ops) / sizeof(ops[0])];

/* Recorder handler: the operation reads its fields as the real handlers do. */
static void
check_op(struct server *s, struct conn *c, json_t *id, json_t *req, const struct optab_op *op)
{
	(void)s; (void)c;
	if (dispatched++)
		fail("one line dispatched twice", op->name);
	if (!json_is_object(req) || json_object_get(req, "id") != id)
		fail("dispatched without its request or id", op->name);
	check_fields(req, ops[op - rows].fields, 2, 0);
}

/* A table standing in for optab.c: every documented operation, every role. */
const struct optab_op *
optab_find(const char *name)
{
	if (rows[0].name == NULL)
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			rows[i] = (struct optab_op){ ops[i].name, OPTAB_ANYONE, OPTAB_READ, check_op,
			    NULL, 0 };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(name, rows[i].name) == 0)
			return &rows[i];
	return NULL;
}

/* One request line through the decoder. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nsent = 0;
	dispatched = 0;
	last_field[0] = '\0';
	proto_handle_line(NULL, NULL, (const char *)data, size);
	if (!dispatched && nsent != 1)
		fail("a line neither dispatched nor answered by one error", NULL);
	return 0;
}
