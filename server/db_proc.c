/*
 * The store of procedures: one change of a procedure becomes one row of
 * `changes` (its body the exact bytes tenderd decided) and, in the same
 * batch, the typed rows operators query: procurements, procurement_versions,
 * procurement_documents, questions, offers, offer_revisions.
 *
 * The projection is a pure function of the change's kind and detail: every
 * rule was checked by the engine before the change was made, and nothing is
 * decided here. It does what the PL/pgSQL trigger of sql/003 and sql/007 did
 * (removed by sql/010), field for field: a value is read as `->>` reads it
 * (text of a string, decimal of a number, JSON text of an object), times are
 * milliseconds since the epoch converted by PostgreSQL exactly as the trigger
 * did, and every row carries the procedure's state after the change.
 */
#include "server/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/timeutil.h"

/* A time in ms (a bigint parameter) as timestamptz, exactly as the trigger converted it. */
#define EPOCH(p) "'epoch'::timestamptz + " p "::bigint * interval '1 millisecond'"
/* Keep a column unless the parameter (a time in ms) is set. */
#define KEEP(col, p) col " = CASE WHEN " p "::bigint IS NULL THEN " col " ELSE " EPOCH(p) " END"

const struct db_stmt_def db_proc_stmts[DB_S_COUNT - DB_S_P_FIRST] = {
	/* id, buyer participant, buyer organization, kind, currency, exp, title, enquiry end,
	 * submission deadline, opening, min bids, at */
	[DB_S_P_CREATE - DB_S_P_FIRST] = { "p_create",
	    "INSERT INTO procurements (id, buyer_participant_id, buyer_organization_id, kind, currency,"
	    " currency_exp, state, version, title, enquiry_end, submission_deadline, opening_at,"
	    " min_bids, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'draft', 1, $7, " EPOCH("$8") ", "
	    EPOCH("$9") ", " EPOCH("$10") ", $11, $12)", 0 },
	/* procurement, version, at, reason, document (without its documents) */
	[DB_S_P_VERSION - DB_S_P_FIRST] = { "p_version",
	    "INSERT INTO procurement_versions (procurement_id, version, at, reason, document)"
	    " VALUES ($1, $2, $3, $4, $5::jsonb)", 0 },
	/* procurement, id, name, media type, size, sha256, content (base64), at, version */
	[DB_S_P_DOCUMENT - DB_S_P_FIRST] = { "p_document",
	    "INSERT INTO procurement_documents (procurement_id, id, name, media_type, size, sha256,"
	    " content, added_at, version) VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'base64'), $8,"
	    " $9)", 0 },
	/* procurement, version, title, enquiry end, submission deadline, opening, min bids */
	[DB_S_P_AMEND - DB_S_P_FIRST] = { "p_amend",
	    "UPDATE procurements SET version = $2, title = $3, enquiry_end = " EPOCH("$4") ","
	    " submission_deadline = " EPOCH("$5") ", opening_at = " EPOCH("$6") ", min_bids = $7"
	    " WHERE id = $1", 0 },
	/* procurement, question, text, at, asked by */
	[DB_S_P_QUESTION - DB_S_P_FIRST] = { "p_question",
	    "INSERT INTO questions (procurement_id, id, text, asked_at, asked_by)"
	    " VALUES ($1, $2, $3, $4, $5)", 0 },
	/* procurement, question, answer, at */
	[DB_S_P_ANSWER - DB_S_P_FIRST] = { "p_answer",
	    "UPDATE questions SET answer = $3, answered_at = $4 WHERE procurement_id = $1 AND id = $2",
	    0 },
	/* offer, procurement, lot, organization */
	[DB_S_P_OFFER - DB_S_P_FIRST] = { "p_offer",
	    "INSERT INTO offers (id, procurement_id, lot_id, organization_id) VALUES ($1, $2, $3, $4)"
	    " ON CONFLICT (id) DO NOTHING", 0 },
	/* offer, revision, action, at, participant, fingerprint, price, detail */
	[DB_S_P_REVISION - DB_S_P_FIRST] = { "p_revision",
	    "INSERT INTO offer_revisions (offer_id, revision, action, at, participant_id, fingerprint,"
	    " price, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)", 0 },
	/* procurement, reason */
	[DB_S_P_CANCEL - DB_S_P_FIRST] = { "p_cancel",
	    "UPDATE procurements SET cancel_reason = $2 WHERE id = $1", 0 },
	/* procurement, state, published, opened, decided, closed (ms; NULL: unchanged) */
	[DB_S_P_STATE - DB_S_P_FIRST] = { "p_state",
	    "UPDATE procurements SET state = $2, " KEEP("published_at", "$3") ", "
	    KEEP("opened_at", "$4") ", " KEEP("decided_at", "$5") ", " KEEP("closed_at", "$6")
	    " WHERE id = $1", 0 },
};

/* Texts of the parameters of one statement (each value's own buffer). */
struct db_proc_params {
	const char *p[16];
	char buf[16][32];
	char *owned[16];   /* JSON texts to free */
	int n;
};

/* Add a parameter: `v` as `->>` reads it (NULL for JSON null or a missing member). */
static void
db_proc_json(struct db_proc_params *pp, json_t *v)
{
	int i = pp->n++;

	pp->p[i] = NULL;
	pp->owned[i] = NULL;
	if (v == NULL || json_is_null(v))
		return;
	if (json_is_string(v)) {
		pp->p[i] = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(pp->buf[i], sizeof(pp->buf[i]), "%lld", (long long)json_integer_value(v));
		pp->p[i] = pp->buf[i];
	} else if (json_is_boolean(v)) {
		pp->p[i] = json_is_true(v) ? "true" : "false";
	} else {
		pp->owned[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		pp->p[i] = pp->owned[i];
	}
}

/* Add an integer parameter (NULL when `null_if_zero` and it is 0). */
static void
db_proc_int(struct db_proc_params *pp, int64_t v, int null_if_zero)
{
	int i = pp->n++;

	pp->owned[i] = NULL;
	snprintf(pp->buf[i], sizeof(pp->buf[i]), "%lld", (long long)v);
	pp->p[i] = null_if_zero && v == 0 ? NULL : pp->buf[i];
}

/* Add a text parameter (not copied). */
static void
db_proc_text(struct db_proc_params *pp, const char *v)
{
	pp->owned[pp->n] = NULL;
	pp->p[pp->n++] = v;
}

/* Add a parameter that takes a JSON text it owns (NULL when out of memory). */
static void
db_proc_owned(struct db_proc_params *pp, char *text)
{
	pp->owned[pp->n] = text;
	pp->p[pp->n++] = text;
}

/* Add the statement to the batch and free the parameters' texts. */
static void
db_proc_send(struct db *db, enum db_stmt s, struct db_proc_params *pp)
{
	db_batch_add(db, s, pp->n, pp->p, NULL, NULL);
	for (int i = 0; i < pp->n; i++)
		free(pp->owned[i]);
	pp->n = 0;
}

/* One version row: the document without its documents. */
static void
db_proc_version(struct db *db, const struct db_proc_change *c, const char *at, json_t *version,
    json_t *reason, json_t *doc)
{
	struct db_proc_params pp = { .n = 0 };
	json_t *d = json_is_object(doc) ? json_copy(doc) : json_object();

	json_object_del(d, "documents");
	db_proc_int(&pp, c->procurement_id, 0);
	db_proc_json(&pp, version);
	db_proc_text(&pp, at);
	db_proc_json(&pp, reason);
	db_proc_owned(&pp, json_dumps(d, JSON_COMPACT));
	json_decref(d);
	db_proc_send(db, DB_S_P_VERSION, &pp);
}

/* One row per document of `docs`, added by `version`. */
static void
db_proc_documents(struct db *db, const struct db_proc_change *c, const char *at, json_t *docs,
    json_t *version)
{
	struct db_proc_params pp = { .n = 0 };
	size_t i;
	json_t *x;

	json_array_foreach(docs, i, x) {
		db_proc_int(&pp, c->procurement_id, 0);
		db_proc_json(&pp, json_object_get(x, "id"));
		db_proc_json(&pp, json_object_get(x, "name"));
		db_proc_json(&pp, json_object_get(x, "media_type"));
		db_proc_json(&pp, json_object_get(x, "size"));
		db_proc_json(&pp, json_object_get(x, "sha256"));
		db_proc_json(&pp, json_object_get(x, "content"));
		db_proc_text(&pp, at);
		db_proc_json(&pp, version);
		db_proc_send(db, DB_S_P_DOCUMENT, &pp);
	}
}

/* 'created': the procedure, its first version and its documents. */
static void
db_proc_created(struct db *db, const struct db_proc_change *c, const char *at, json_t *d)
{
	struct db_proc_params pp = { .n = 0 };
	json_t *doc = json_object_get(d, "document"), *one = json_integer(1);

	db_proc_int(&pp, c->procurement_id, 0);
	db_proc_json(&pp, json_object_get(d, "buyer_participant"));
	db_proc_json(&pp, json_object_get(d, "buyer_org"));
	db_proc_json(&pp, json_object_get(doc, "kind"));
	db_proc_json(&pp, json_object_get(doc, "currency"));
	db_proc_json(&pp, json_object_get(doc, "exp"));
	db_proc_json(&pp, json_object_get(doc, "title"));
	db_proc_json(&pp, json_object_get(doc, "enquiry_end"));
	db_proc_json(&pp, json_object_get(doc, "submission_deadline"));
	db_proc_json(&pp, json_object_get(doc, "opening_at"));
	db_proc_json(&pp, json_object_get(doc, "min_bids"));
	db_proc_text(&pp, at);
	db_proc_send(db, DB_S_P_CREATE, &pp);
	db_proc_version(db, c, at, one, NULL, doc);
	db_proc_documents(db, c, at, json_object_get(doc, "documents"), one);
	json_decref(one);
}

/* 'amended': the restated fields, the new version and the documents it adds. */
static void
db_proc_amended(struct db *db, const struct db_proc_change *c, const char *at, json_t *d)
{
	struct db_proc_params pp = { .n = 0 };
	json_t *doc = json_object_get(d, "document"), *version = json_object_get(d, "version");

	db_proc_int(&pp, c->procurement_id, 0);
	db_proc_json(&pp, version);
	db_proc_json(&pp, json_object_get(doc, "title"));
	db_proc_json(&pp, json_object_get(doc, "enquiry_end"));
	db_proc_json(&pp, json_object_get(doc, "submission_deadline"));
	db_proc_json(&pp, json_object_get(doc, "opening_at"));
	db_proc_json(&pp, json_object_get(doc, "min_bids"));
	db_proc_send(db, DB_S_P_AMEND, &pp);
	db_proc_version(db, c, at, version, json_object_get(d, "reason"), doc);
	db_proc_documents(db, c, at, json_object_get(d, "documents"), version);
}

/* An offer's submission, withdrawal or confirmation: the offer once, a revision each time. */
static void
db_proc_offer(struct db *db, const struct db_proc_change *c, const char *at, json_t *d)
{
	struct db_proc_params pp = { .n = 0 };
	json_t *rest = json_copy(d);

	db_proc_int(&pp, c->offer_id, 0);
	db_proc_int(&pp, c->procurement_id, 0);
	db_proc_int(&pp, c->lot_id, 0);
	db_proc_int(&pp, c->org_id, 1);
	db_proc_send(db, DB_S_P_OFFER, &pp);
	json_object_del(rest, "price");
	db_proc_int(&pp, c->offer_id, 0);
	db_proc_json(&pp, json_object_get(d, "revision"));
	db_proc_text(&pp, c->kind + 6);  /* offer_submitted -> submitted */
	db_proc_text(&pp, at);
	db_proc_int(&pp, c->participant_id, 1);
	db_proc_text(&pp, c->fingerprint);
	db_proc_json(&pp, json_object_get(d, "price"));
	db_proc_owned(&pp, json_dumps(rest, JSON_COMPACT));
	json_decref(rest);
	db_proc_send(db, DB_S_P_REVISION, &pp);
}

/* The rows of one kind of change (other kinds change only the state). */
static void
db_proc_kind(struct db *db, const struct db_proc_change *c, const char *at, json_t *d)
{
	struct db_proc_params pp = { .n = 0 };
	const char *k = c->kind;

	if (strcmp(k, "created") == 0) {
		db_proc_created(db, c, at, d);
	} else if (strcmp(k, "amended") == 0) {
		db_proc_amended(db, c, at, d);
	} else if (strcmp(k, "question_asked") == 0 || strcmp(k, "question_answered") == 0) {
		int asked = strcmp(k, "question_asked") == 0;
		db_proc_int(&pp, c->procurement_id, 0);
		db_proc_json(&pp, json_object_get(d, "question"));
		db_proc_json(&pp, json_object_get(d, "text"));
		db_proc_text(&pp, at);
		if (asked)
			db_proc_int(&pp, c->participant_id, 1);
		db_proc_send(db, asked ? DB_S_P_QUESTION : DB_S_P_ANSWER, &pp);
	} else if (strcmp(k, "offer_submitted") == 0 || strcmp(k, "offer_withdrawn") == 0 ||
	    strcmp(k, "offer_confirmed") == 0) {
		db_proc_offer(db, c, at, d);
	} else if (strcmp(k, "cancelled") == 0) {
		db_proc_int(&pp, c->procurement_id, 0);
		db_proc_json(&pp, json_object_get(d, "reason"));
		db_proc_send(db, DB_S_P_CANCEL, &pp);
	}
}

/* The change row, then the typed rows it projects to. */
int64_t
db_proc_add(struct db *db, const struct db_proc_change *c)
{
	struct db_proc_params pp = { .n = 0 };
	json_t *d = c->detail;
	char at[TIME_BUF];
	int64_t seq;

	time_format(c->at, at);
	db_proc_int(&pp, c->procurement_id, 0);
	db_proc_text(&pp, at);
	db_proc_text(&pp, c->kind);
	db_proc_int(&pp, c->participant_id, 1);
	db_proc_int(&pp, c->org_id, 1);
	db_proc_text(&pp, c->participant_id ? c->fingerprint : NULL);
	db_proc_int(&pp, c->lot_id, 1);
	db_proc_int(&pp, c->offer_id, 1);
	db_proc_text(&pp, c->sealed ? "true" : "false");
	db_proc_text(&pp, c->body);
	db_proc_json(&pp, json_object_get(d, "price"));
	db_proc_json(&pp, json_object_get(d, "reason"));
	seq = db_batch_add(db, DB_S_PROC_CHANGE, pp.n, pp.p, NULL, NULL);
	for (int i = 0; i < pp.n; i++)
		free(pp.owned[i]);
	pp.n = 0;
	db_proc_kind(db, c, at, d);
	/* every row carries the procedure's state after it */
	if (json_object_get(d, "state") != NULL) {
		db_proc_int(&pp, c->procurement_id, 0);
		db_proc_json(&pp, json_object_get(d, "state"));
		db_proc_json(&pp, json_object_get(d, "published_at"));
		db_proc_json(&pp, json_object_get(d, "opened_at"));
		db_proc_json(&pp, json_object_get(d, "decided_at"));
		db_proc_json(&pp, json_object_get(d, "closed_at"));
		db_proc_send(db, DB_S_P_STATE, &pp);
	}
	return seq;
}
