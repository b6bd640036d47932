/*
 * Procurement procedures in the server: requests in, checked, queued as
 * changes; changes applied to the procedure engine (auction/procedure.c) in
 * the batch being built, written as changes (server/db_proc.c writes the
 * relational tables beside them), acknowledged and broadcast on commit: all of it through
 * the write path (txn.c), procedures being one kind of object on it.
 *
 * Every change is one log row whose `detail` holds everything needed to apply
 * it again: at start-up the log is replayed through proc_apply() in replay
 * mode, which rebuilds every procedure exactly. Clock transitions (tendering,
 * opening, decision) are log rows too; replaying them advances the engine to
 * their time.
 *
 * Sealed contents: before the opening nobody but its author reads an offer.
 * Views show counts only; the log marks such rows sealed and the audit views
 * hide them until the procedure is opened.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "common/money.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/optab.h"
#include "server/server.h"

#define PROC_MAX_DOCS 20
#define PROC_MAX_ITEMS 100

/* Text of an int64. */
#define I64(buf, v) (snprintf((buf), sizeof(buf), "%lld", (long long)(v)), (const char *)(buf))

static struct proc *proc_get(struct server *s, int64_t id);

/*
 * The kinds of change. Their names are the `kind` of log rows: persisted and
 * replayed, so a name never changes. Requests name the change they queue in
 * server/optab.c's table (parsed by proc_queue_op); the clock's rows
 * ("tendering", "opened", "decided") are written where the engine makes them.
 */
enum proc_change_kind {
	PC_CREATED, PC_TICK, PC_TENDERING, PC_OPENED, PC_DECIDED, PC_PUBLISHED, PC_AMENDED,
	PC_QUESTION_ASKED, PC_QUESTION_ANSWERED, PC_OFFER_SUBMITTED, PC_OFFER_WITHDRAWN,
	PC_OFFER_CONFIRMED, PC_SCORED, PC_AWARDED, PC_DISQUALIFIED, PC_AUCTION_RESULT,
	PC_CANCELLED, PC_COMPLETED,
	PC_NKINDS
};

static const char *const proc_change_names[PC_NKINDS] = {
	[PC_CREATED] = "created", [PC_TICK] = "tick", [PC_TENDERING] = "tendering",
	[PC_OPENED] = "opened", [PC_DECIDED] = "decided", [PC_PUBLISHED] = "published",
	[PC_AMENDED] = "amended", [PC_QUESTION_ASKED] = "question_asked",
	[PC_QUESTION_ANSWERED] = "question_answered", [PC_OFFER_SUBMITTED] = "offer_submitted",
	[PC_OFFER_WITHDRAWN] = "offer_withdrawn", [PC_OFFER_CONFIRMED] = "offer_confirmed",
	[PC_SCORED] = "scored", [PC_AWARDED] = "awarded", [PC_DISQUALIFIED] = "disqualified",
	[PC_AUCTION_RESULT] = "auction_result", [PC_CANCELLED] = "cancelled",
	[PC_COMPLETED] = "completed",
};

/* The name of a kind of change (the log row's `kind`). */
static const char *
proc_change_name(enum proc_change_kind k)
{
	return proc_change_names[k];
}

/* The kind of change a name spells; -1 when none. */
static int
proc_change_parse(const char *name, enum proc_change_kind *k)
{
	for (int i = 0; name && i < PC_NKINDS; i++)
		if (strcmp(proc_change_names[i], name) == 0) {
			*k = (enum proc_change_kind)i;
			return 0;
		}
	return -1;
}

/* ---- small helpers ---- */

/* Send an error for a request. */
static void
proc_err(struct conn *c, json_t *id, const char *code, const char *msg, const char *field)
{
	conn_send(c, proto_error(id, code, msg, field));
}

/* Integer member of a JSON object (0 when absent). */
static int64_t
ji(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* String member of a JSON object (NULL when absent). */
static const char *
js(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A weight in percent with up to 2 decimals ("60", "12.5") to basis points. */
static int
proc_parse_weight(const char *text, int64_t *bp)
{
	return money_parse(text, 2, bp) == 0 && *bp > 0 && *bp <= 10000 ? 0 : -1;
}

/* Who may see what. */
static int
proc_is_owner(const struct proc *p, const struct participant *v)
{
	return v && v->role == ROLE_BUYER && v->org->id == p->pr.p.buyer_org;
}

/* The lot index of a lot id, -1 when none. */
static int
proc_lot_index(const struct proc *p, int64_t lot_id)
{
	for (int i = 0; i < p->pr.nlots; i++)
		if (p->pr.lots[i].id == lot_id)
			return i;
	return -1;
}

/* The message of the last limit refusal (read at once by the caller). */
static char proc_limit_msg[256];

/* The field the last refusal names (NULL: none); see proc_refused_field(). */
static const char *proc_field;

/* See server.h. */
const char *
proc_refused_field(void)
{
	return proc_field;
}

/* Refuse a change for a limit: code limit_exceeded, message naming it and its value. */
static int
proc_limit(const char **code, const char **message, const char *name, long value,
    const char *what)
{
	snprintf(proc_limit_msg, sizeof(proc_limit_msg), "%s (%ld) reached: %s", name, value, what);
	*code = "limit_exceeded";
	*message = proc_limit_msg;
	return 0;
}

/* Procurements of a buyer organization not yet decided or ended (draft to evaluation),
 * those of the batch being built included. */
static long
proc_open_of(struct server *s, int64_t buyer_org)
{
	size_t it = 0;
	void *v;
	long n = 0;

	while (map_next(&s->procs, &it, NULL, NULL, &v)) {
		const struct proc *p = v;
		n += p->pr.p.buyer_org == buyer_org && p->pr.state < PROC_AWARDED;
	}
	return n;
}

/* Questions an organization has asked in a procedure (applied ones, this batch's too). */
static long
proc_questions_of(const struct proc *p, int64_t org)
{
	long n = 0;

	for (size_t i = 0; i < p->questions.n; i++)
		n += p->questions.v[i].asked_by_org == org;
	return n;
}

/* The questions as everyone sees them: never who asked. */
static json_t *
proc_questions_public(const struct proc_questions *qs)
{
	json_t *out = json_array();

	for (size_t i = 0; i < qs->n; i++) {
		const struct proc_question *q = &qs->v[i];
		json_array_append_new(out, json_pack("{s:I, s:s, s:o, s:o, s:o}", "id",
		    (json_int_t)i + 1, "text", q->text, "asked_at", proto_time(q->asked_at),
		    "answer", q->answer ? json_string(q->answer) : json_null(),
		    "answered_at", q->answer ? proto_time(q->answered_at) : json_null()));
	}
	return out;
}

/* Append a question (its text copied); -1 when out of memory. */
static int
proc_question_add(struct proc_questions *qs, const char *text, int64_t at, int64_t org)
{
	struct proc_question *q;

	if (qs->n == qs->cap) {
		size_t cap = qs->cap ? 2 * qs->cap : 8;
		struct proc_question *v = realloc(qs->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		qs->v = v;
		qs->cap = cap;
	}
	q = &qs->v[qs->n];
	memset(q, 0, sizeof(*q));
	if ((q->text = strdup(text ? text : "")) == NULL)
		return -1;
	q->asked_at = at;
	q->asked_by_org = org;
	qs->n++;
	return 0;
}

/* Free the questions (the array is left empty). */
static void
proc_questions_free(struct proc_questions *qs)
{
	for (size_t i = 0; i < qs->n; i++) {
		free(qs->v[i].text);
		free(qs->v[i].answer);
	}
	free(qs->v);
	memset(qs, 0, sizeof(*qs));
}

/* A deep copy of the questions into *dst; -1 when out of memory (*dst empty). */
static int
proc_questions_copy(struct proc_questions *dst, const struct proc_questions *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++) {
		const struct proc_question *q = &src->v[i];
		if (proc_question_add(dst, q->text, q->asked_at, q->asked_by_org) < 0 ||
		    (q->answer && (dst->v[i].answer = strdup(q->answer)) == NULL)) {
			proc_questions_free(dst);
			return -1;
		}
		dst->v[i].answered_at = q->answered_at;
	}
	return 0;
}

/* ---- the typed document: loaded from a change's detail ---- */

/* A copy of a string member ("" when absent); sets *oom when out of memory. */
static char *
proc_dup(json_t *o, const char *k, int *oom)
{
	const char *t = js(o, k);
	char *c = strdup(t ? t : "");

	if (c == NULL)
		*oom = 1;
	return c;
}

/* A copy of an optional string member (NULL when absent or null). */
static char *
proc_dup_opt(json_t *o, const char *k, int *oom)
{
	return js(o, k) ? proc_dup(o, k, oom) : NULL;
}

/* Drop a reference to an attached file. */
static void
proc_doc_file_unref(struct proc_doc_file *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	free(f->name);
	free(f->media_type);
	free(f->sha256);
	free(f->content);
	free(f);
}

/* Free a document's lots (items, criteria). */
static void
proc_doc_free_lots(struct proc_doc *doc)
{
	for (size_t i = 0; i < doc->nlots; i++) {
		struct proc_doc_lot *l = &doc->lots[i];
		for (size_t j = 0; j < l->nitems; j++) {
			free(l->items[j].description);
			free(l->items[j].quantity);
			free(l->items[j].unit);
			free(l->items[j].classification);
		}
		for (size_t j = 0; j < l->ncrit; j++) {
			free(l->crit[j].code);
			free(l->crit[j].name);
			free(l->crit[j].unit);
		}
		free(l->title);
		free(l->items);
		free(l->crit);
	}
	free(doc->lots);
}

/* Drop a reference to a document; the last one frees it. */
static void
proc_doc_unref(struct proc_doc *doc)
{
	if (doc == NULL || --doc->refs > 0)
		return;
	proc_doc_free_lots(doc);
	for (size_t i = 0; i < doc->nfiles; i++)
		proc_doc_file_unref(doc->files[i]);
	free(doc->files);
	free(doc->title);
	free(doc->description);
	free(doc->auction.step_min);
	free(doc->auction.step_max);
	free(doc);
}

/* One criterion of a lot from its JSON form. */
static void
proc_doc_load_criterion(json_t *jc, struct proc_doc_criterion *c, int *oom)
{
	proc_crit_kind_parse(js(jc, "kind"), &c->kind);
	c->code = proc_dup(jc, "code", oom);
	c->name = proc_dup(jc, "name", oom);
	c->weight_bp = ji(jc, "weight_bp");
	c->min = ji(jc, "min");
	c->max = ji(jc, "max");
	c->higher_better = js(jc, "better") && strcmp(js(jc, "better"), "higher") == 0;
	c->unit = proc_dup_opt(jc, "unit", oom);
}

/* One lot (items, criteria) from its JSON form; -1 when out of memory. */
static int
proc_doc_load_lot(json_t *jl, struct proc_doc_lot *l)
{
	json_t *items = json_object_get(jl, "items"), *crits = json_object_get(jl, "criteria");
	size_t ni = json_array_size(items), nc = json_array_size(crits);
	int oom = 0;

	l->id = ji(jl, "id");
	l->max_price = ji(jl, "max_price");
	l->title = proc_dup(jl, "title", &oom);
	l->items = calloc(ni + 1, sizeof(*l->items));
	l->crit = calloc(nc + 1, sizeof(*l->crit));
	if (l->items == NULL || l->crit == NULL)
		return -1;
	for (; l->nitems < ni; l->nitems++) {
		json_t *x = json_array_get(items, l->nitems);
		struct proc_doc_item *it = &l->items[l->nitems];
		it->description = proc_dup(x, "description", &oom);
		it->quantity = proc_dup(x, "quantity", &oom);
		it->unit = proc_dup(x, "unit", &oom);
		it->classification = proc_dup_opt(x, "classification", &oom);
	}
	for (; l->ncrit < nc; l->ncrit++)
		proc_doc_load_criterion(json_array_get(crits, l->ncrit), &l->crit[l->ncrit], &oom);
	return oom ? -1 : 0;
}

/* An attached file from its JSON form, numbered `id`; NULL when out of memory. */
static struct proc_doc_file *
proc_doc_load_file(json_t *jd, int64_t id)
{
	struct proc_doc_file *f = calloc(1, sizeof(*f));
	int oom = 0;

	if (f == NULL)
		return NULL;
	f->refs = 1;
	f->id = id;
	f->size = ji(jd, "size");
	f->name = proc_dup(jd, "name", &oom);
	f->media_type = proc_dup(jd, "media_type", &oom);
	f->sha256 = proc_dup(jd, "sha256", &oom);
	f->content = proc_dup_opt(jd, "content", &oom);
	if (oom) {
		proc_doc_file_unref(f);
		return NULL;
	}
	return f;
}

/* Append a file (the document takes the reference); -1 when out of memory. */
static int
proc_doc_add_file(struct proc_doc *doc, struct proc_doc_file *f)
{
	struct proc_doc_file **v = realloc(doc->files, (doc->nfiles + 1) * sizeof(*v));

	if (v == NULL || f == NULL) {
		if (v)
			doc->files = v;
		proc_doc_file_unref(f);
		return -1;
	}
	doc->files = v;
	doc->files[doc->nfiles++] = f;
	return 0;
}

/* The header, lots and auction settings of a document from its log form (see
 * proc_doc_log_json); files are not read. NULL when out of memory. */
static struct proc_doc *
proc_doc_load(json_t *jd)
{
	struct proc_doc *doc = calloc(1, sizeof(*doc));
	json_t *lots = json_object_get(jd, "lots"), *au = json_object_get(jd, "auction");
	size_t nl = json_array_size(lots);
	int oom = 0;

	if (doc == NULL)
		return NULL;
	doc->refs = 1;
	doc->title = proc_dup(jd, "title", &oom);
	doc->description = proc_dup(jd, "description", &oom);
	proc_kind_parse(js(jd, "kind"), &doc->kind);
	snprintf(doc->currency, sizeof(doc->currency), "%s", js(jd, "currency") ? js(jd, "currency") : "");
	doc->exp = (int)ji(jd, "exp");
	doc->enquiry_end = ji(jd, "enquiry_end");
	doc->submission_deadline = ji(jd, "submission_deadline");
	doc->opening_at = ji(jd, "opening_at");
	doc->min_bids = ji(jd, "min_bids");
	if ((doc->lots = calloc(nl + 1, sizeof(*doc->lots))) == NULL)
		oom = 1;
	for (; !oom && doc->nlots < nl; doc->nlots++)
		if (proc_doc_load_lot(json_array_get(lots, doc->nlots), &doc->lots[doc->nlots]) < 0)
			oom = 1;
	if (json_is_object(au)) {
		doc->has_auction = 1;
		doc->auction.step_min = proc_dup(au, "step_min", &oom);
		doc->auction.step_max = proc_dup(au, "step_max", &oom);
		doc->auction.duration = ji(au, "duration");
		doc->auction.extension_window = ji(au, "extension_window");
		doc->auction.extension = ji(au, "extension");
		doc->auction.delay = ji(au, "delay");
		doc->auction.unsigned_bids = json_is_false(json_object_get(au, "signed_bids"));
		doc->auction.stagger = ji(au, "stagger");
	}
	if (oom) {
		proc_doc_unref(doc);  /* a lot that failed to load is counted: freed too */
		return NULL;
	}
	return doc;
}

/* A created procedure's document, with its files as numbered at creation. */
static struct proc_doc *
proc_doc_load_created(json_t *jd)
{
	struct proc_doc *doc = proc_doc_load(jd);
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(jd, "documents"), i, x) {
		if (doc == NULL)
			break;
		if (proc_doc_add_file(doc, proc_doc_load_file(x, ji(x, "id"))) < 0) {
			proc_doc_unref(doc);
			doc = NULL;
		}
	}
	return doc;
}

/*
 * The document after an amendment. The log row of an amendment holds what it
 * changes, never what came before: "document" (the fields it restates: title,
 * deadlines, lots, auction settings) and "documents" (the documents it adds,
 * with their contents). The files of earlier versions are shared with the
 * current document, not copied; the added ones are numbered after them (their
 * ids are written into the row's `added`, the same on replay), so an amendment
 * costs storage, memory and replay time in proportion to its own size.
 *
 * `doc` is the amendment's document whose files are the added ones; it is
 * returned whole, or freed and NULL when out of memory.
 */
static struct proc_doc *
proc_doc_amended_typed(const struct proc_doc *cur, struct proc_doc *doc, json_t *added)
{
	size_t n = cur->nfiles + doc->nfiles;
	struct proc_doc_file **v = malloc((n + 1) * sizeof(*v));

	if (v == NULL) {
		proc_doc_unref(doc);
		return NULL;
	}
	for (size_t i = 0; i < cur->nfiles; i++) {
		v[i] = cur->files[i];
		v[i]->refs++;
	}
	for (size_t i = 0; i < doc->nfiles; i++) {
		struct proc_doc_file *f = v[cur->nfiles + i] = doc->files[i];
		f->id = (int64_t)(cur->nfiles + i + 1);
		json_object_set_new(json_array_get(added, i), "id", json_integer(f->id));
	}
	free(doc->files);
	doc->files = v;
	doc->nfiles = n;
	return doc;
}

/* The document after an amendment, from its log row's "document" and "documents"
 * (see proc_doc_amended_typed). NULL when out of memory. */
static struct proc_doc *
proc_doc_amended(const struct proc_doc *cur, json_t *fields, json_t *added)
{
	struct proc_doc *doc = proc_doc_load(fields);
	json_t *x;
	size_t i;

	json_array_foreach(added, i, x) {
		if (doc == NULL)
			return NULL;
		if (proc_doc_add_file(doc, proc_doc_load_file(x, 0)) < 0) {
			proc_doc_unref(doc);
			doc = NULL;
		}
	}
	return doc ? proc_doc_amended_typed(cur, doc, added) : NULL;
}

/* Fill engine params and lots from a document. */
static void
proc_from_doc(const struct proc_doc *doc, int64_t buyer_org, struct proc_params *pp,
    struct proc_lot *lots, int *nlots)
{
	memset(pp, 0, sizeof(*pp));
	pp->kind = doc->kind;
	pp->buyer_org = buyer_org;
	pp->enquiry_end = doc->enquiry_end;
	pp->submission_deadline = doc->submission_deadline;
	pp->opening_at = doc->opening_at;
	pp->min_bids = (int)doc->min_bids;
	*nlots = 0;
	for (size_t i = 0; i < doc->nlots && *nlots < PROC_MAX_LOTS; i++) {
		const struct proc_doc_lot *dl = &doc->lots[i];
		struct proc_lot *l = &lots[(*nlots)++];
		memset(l, 0, sizeof(*l));
		l->id = dl->id;
		l->max_price = dl->max_price;
		for (size_t j = 0; j < dl->ncrit && l->ncrit < PROC_MAX_CRITERIA; j++) {
			struct proc_criterion *c = &l->crit[l->ncrit++];
			c->kind = dl->crit[j].kind;
			c->weight_bp = dl->crit[j].weight_bp;
			c->higher_better = dl->crit[j].higher_better;
			c->min = dl->crit[j].min;
			c->max = dl->crit[j].max;
		}
	}
}

/* Criterion index of a code in a lot, -1 when none. */
static int
proc_crit_index(const struct proc_doc_lot *dl, const char *code)
{
	for (size_t j = 0; dl && j < dl->ncrit; j++)
		if (strcmp(dl->crit[j].code, code) == 0)
			return (int)j;
	return -1;
}

/* The document's lot with this id (NULL: none). */
static const struct proc_doc_lot *
proc_doc_lot(const struct proc_doc *doc, int64_t lot_id)
{
	for (size_t i = 0; i < doc->nlots; i++)
		if (doc->lots[i].id == lot_id)
			return &doc->lots[i];
	return NULL;
}

/* ---- request parsing: a procurement document ---- */

/* Parse a time field into ms; 0 on success, -1 after sending an error. */
static int
proc_time_field(struct conn *c, json_t *id, json_t *req, const char *f, int64_t *out)
{
	const char *t;

	if (proto_get_str(c, req, f, 1, 64, &t) != 0)
		return -1;
	if (time_parse(t, out) < 0) {
		proc_err(c, id, "bad_field", "expected an RFC 3339 time", f);
		return -1;
	}
	return 0;
}

/* Parse an amount field (decimal string) into minor units. */
static int
proc_money_field(struct conn *c, json_t *id, json_t *obj, const char *f, int exp, int64_t *out)
{
	json_t *v = json_object_get(obj, f);
	char msg[128];

	if (v == NULL) {
		snprintf(msg, sizeof(msg), "field '%s' is required", f);
		proc_err(c, id, "missing_field", msg, f);
		return -1;
	}
	if (!json_is_string(v) || money_parse(json_string_value(v), exp, out) < 0 || *out <= 0) {
		snprintf(msg, sizeof(msg), "'%s' must be a positive decimal string with at most %d "
		    "fraction digits", f, exp);
		proc_err(c, id, "bad_field", msg, f);
		return -1;
	}
	return 0;
}

/* Check a lot title: 1 to 500 characters, a title's characters (common/text.h);
 * 0, or -1 after an error reply. */
static int
proc_lot_title(struct conn *c, json_t *id, const char *t)
{
	char why[120], msg[200];
	size_t n = strlen(t);

	if (n == 0 || text_len(t, n) > 500) {
		proc_err(c, id, "bad_field", "each lot title must be 1 to 500 characters", "lots");
		return -1;
	}
	if (text_check(t, n, TEXT_LINE, why, sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "a lot title %s", why);
		proc_err(c, id, "bad_field", msg, "lots");
		return -1;
	}
	return 0;
}

/* Set when a copy made while parsing a request ran out of memory (see proc_parse_doc). */
static int proc_parse_oom;

/* A copy of a request's string (NULL: none); out of memory sets proc_parse_oom. */
static char *
proc_sdup(const char *t)
{
	char *c = t ? strdup(t) : NULL;

	if (t && c == NULL)
		proc_parse_oom = 1;
	return c;
}

/* Parse one criterion into *out; `ci` is its index in the lot. -1 after an error reply. */
static int
proc_parse_criterion(struct conn *c, json_t *id, json_t *jc, int ci, struct proc_doc_criterion *out)
{
	const char *code = js(jc, "code"), *name = js(jc, "name"), *kind = js(jc, "kind");
	const char *w = js(jc, "weight"), *better = js(jc, "better");
	enum proc_crit_kind k;
	int64_t bp;

	if (!json_is_object(jc) || kind == NULL || proc_crit_kind_parse(kind, &k) < 0) {
		proc_err(c, id, "bad_field", "each criterion needs a kind: price, stated or scored",
		    "criteria");
		return -1;
	}
	if ((ci == 0) != (k == CRIT_PRICE)) {
		proc_err(c, id, "bad_field", "the first criterion, and only it, is the price", "criteria");
		return -1;
	}
	if (w == NULL || proc_parse_weight(w, &bp) < 0) {
		proc_err(c, id, "bad_field", "each criterion needs a weight in percent, as a string "
		    "(\"60\", \"12.5\")", "criteria");
		return -1;
	}
	if (k != CRIT_PRICE && (code == NULL || strlen(code) == 0 ||
	    text_len(code, strlen(code)) > 40)) {
		proc_err(c, id, "bad_field", "non-price criteria need a code (1-40 chars)", "criteria");
		return -1;
	}
	out->kind = k;
	out->weight_bp = bp;
	out->code = proc_sdup(k == CRIT_PRICE ? "price" : code);
	out->name = proc_sdup(name ? name : (k == CRIT_PRICE ? "Price" : code));
	if (k == CRIT_STATED) {
		json_t *mn = json_object_get(jc, "min"), *mx = json_object_get(jc, "max");
		if (!json_is_integer(mn) || !json_is_integer(mx) ||
		    json_integer_value(mn) >= json_integer_value(mx) ||
		    (better && strcmp(better, "higher") && strcmp(better, "lower")) || better == NULL) {
			proc_err(c, id, "bad_field", "a stated criterion needs integer min < max and better: "
			    "higher or lower", "criteria");
			return -1;
		}
		out->min = json_integer_value(mn);
		out->max = json_integer_value(mx);
		out->higher_better = strcmp(better, "higher") == 0;
		out->unit = proc_sdup(js(jc, "unit"));
	} else if (k == CRIT_SCORED) {
		json_t *mx = json_object_get(jc, "max");
		if (!json_is_integer(mx) || json_integer_value(mx) < 1 || json_integer_value(mx) > 1000) {
			proc_err(c, id, "bad_field", "a scored criterion needs an integer max (1-1000)",
			    "criteria");
			return -1;
		}
		out->min = 0;
		out->max = json_integer_value(mx);
	}
	return 0;
}

/* Base64 decode with OpenSSL; returns the length or -1. */
static int
proc_b64_decode(const char *in, unsigned char *out, size_t cap)
{
	size_t len = strlen(in);
	int n, pad = 0;

	if (len % 4 != 0 || len / 4 * 3 > cap)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return -1;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	return n - pad;
}

/* A document's content (base64) into f: its size and SHA-256, checked against the
 * stated one when given; `buf` (cap max + 3) is scratch. -1 after an error reply. */
static int
proc_parse_content(struct server *s, struct conn *c, json_t *id, const char *content,
    const char *sha, unsigned char *buf, struct proc_doc_file *f)
{
	size_t max = (size_t)s->cfg.max_document;
	unsigned char md[32];
	char hex[65], msg[128];
	int n;

	if ((n = proc_b64_decode(content, buf, max + 3)) < 0 || (size_t)n > max) {
		snprintf(msg, sizeof(msg), "document content must be base64 of at most %zu "
		    "bytes (max_document)", max);
		proc_err(c, id, "bad_field", msg, "documents");
		return -1;
	}
	EVP_Digest(buf, (size_t)n, md, NULL, EVP_sha256(), NULL);
	for (int b = 0; b < 32; b++)
		snprintf(hex + 2 * b, 3, "%02x", md[b]);
	if (sha && strcmp(sha, hex) != 0) {
		proc_err(c, id, "bad_field", "document content does not match its sha256",
		    "documents");
		return -1;
	}
	f->size = n;
	f->sha256 = proc_sdup(hex);
	f->content = proc_sdup(content);
	return 0;
}

/* One document of a request (name, media_type, and content or size + sha256) into f;
 * `buf` is scratch for the content (allocated on first use). -1 after an error reply. */
static int
proc_parse_file(struct server *s, struct conn *c, json_t *id, json_t *jd, unsigned char **buf,
    struct proc_doc_file *f)
{
	const char *name = js(jd, "name"), *mt = js(jd, "media_type"), *content = js(jd, "content");
	const char *sha = js(jd, "sha256");
	json_t *sz = json_object_get(jd, "size");

	if (name == NULL || mt == NULL || text_len(name, strlen(name)) > 200 || strlen(mt) > 100) {
		proc_err(c, id, "bad_field", "a document needs a name and a media_type", "documents");
		return -1;
	}
	f->name = proc_sdup(name);
	f->media_type = proc_sdup(mt);
	if (content) {
		if (*buf == NULL && (*buf = malloc((size_t)s->cfg.max_document + 3)) == NULL) {
			proc_err(c, id, "internal", "out of memory", NULL);
			return -1;
		}
		return proc_parse_content(s, c, id, content, sha, *buf, f);
	}
	if (sha == NULL || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64 ||
	    !json_is_integer(sz) || json_integer_value(sz) < 0) {
		proc_err(c, id, "bad_field", "a document without content needs size and a "
		    "lower-case hex sha256", "documents");
		return -1;
	}
	f->size = json_integer_value(sz);
	f->sha256 = proc_sdup(sha);
	return 0;
}

/* The request's documents into doc's files, numbered from first_id. -1 after an
 * error reply. */
static int
proc_parse_documents(struct server *s, struct conn *c, json_t *id, json_t *jdocs, int first_id,
    struct proc_doc *doc)
{
	unsigned char *buf = NULL;
	json_t *jd;
	size_t i;
	char msg[128];
	int rc = 0;

	if (jdocs == NULL)
		return 0;
	if (!json_is_array(jdocs) || json_array_size(jdocs) > PROC_MAX_DOCS) {
		proc_err(c, id, "bad_field", "documents must be an array of at most 20", "documents");
		return -1;
	}
	if ((long)(first_id - 1 + json_array_size(jdocs)) > s->cfg.max_documents_per_procedure) {
		snprintf(msg, sizeof(msg), "max_documents_per_procedure (%ld) reached: the procurement "
		    "has %d documents and this adds %zu", s->cfg.max_documents_per_procedure, first_id - 1,
		    json_array_size(jdocs));
		proc_err(c, id, "limit_exceeded", msg, "documents");
		return -1;
	}
	json_array_foreach(jdocs, i, jd) {
		struct proc_doc_file *f = calloc(1, sizeof(*f));
		if (f)
			f->refs = 1, f->id = first_id + (int64_t)i;
		if (proc_doc_add_file(doc, f) < 0) {
			proc_err(c, id, "internal", "out of memory", NULL);
			rc = -1;
			break;
		}
		if ((rc = proc_parse_file(s, c, id, jd, &buf, f)) < 0)
			break;
	}
	free(buf);
	return rc;
}

/* The header of a procurement document (title, description, kind, currency,
 * deadlines, min_bids) into doc. -1 after an error reply. */
static int
proc_parse_header(struct conn *c, json_t *id, json_t *req, const struct proc_doc *prev,
    struct proc_doc *doc)
{
	const char *title, *descr = NULL, *kind, *currency;
	int64_t minb = 1;

	if (proto_get_text(c, req, "title", 1, 500, TEXT_LINE, &title) != 0 ||
	    proto_get_str(c, req, "description", 0, 20000, &descr) < 0)
		return -1;
	if (prev) {
		kind = proc_kind_name(prev->kind);
		currency = prev->currency;
	} else {
		if (proto_get_str(c, req, "kind", 1, 20, &kind) != 0 ||
		    proto_get_str(c, req, "currency", 1, 3, &currency) != 0)
			return -1;
	}
	if (proc_kind_parse(kind, &doc->kind) < 0) {
		proc_err(c, id, "bad_field", "kind must be rfq, tender or tender_auction", "kind");
		return -1;
	}
	if ((doc->exp = money_exponent(currency)) < 0) {
		proc_err(c, id, "bad_field", "currency must be an ISO 4217 code", "currency");
		return -1;
	}
	if (proc_time_field(c, id, req, "enquiry_end", &doc->enquiry_end) < 0 ||
	    proc_time_field(c, id, req, "submission_deadline", &doc->submission_deadline) < 0 ||
	    proc_time_field(c, id, req, "opening_at", &doc->opening_at) < 0 ||
	    proto_get_int(c, req, "min_bids", 0, &minb) < 0)
		return -1;
	doc->min_bids = minb;
	doc->title = proc_sdup(title);
	doc->description = proc_sdup(descr ? descr : "");
	snprintf(doc->currency, sizeof(doc->currency), "%s", currency);
	return 0;
}

/* A lot's items into l. -1 after an error reply. */
static int
proc_parse_items(struct conn *c, json_t *id, json_t *jl, struct proc_doc_lot *l)
{
	json_t *items = json_object_get(jl, "items"), *x;
	size_t j;

	if (!json_is_array(items) || json_array_size(items) > PROC_MAX_ITEMS) {
		proc_err(c, id, "bad_field", "each lot needs an items array (at most 100)", "items");
		return -1;
	}
	if ((l->items = calloc(json_array_size(items) + 1, sizeof(*l->items))) == NULL) {
		proc_err(c, id, "internal", "out of memory", NULL);
		return -1;
	}
	json_array_foreach(items, j, x) {
		const char *d = js(x, "description"), *q = js(x, "quantity"), *u = js(x, "unit");
		struct proc_doc_item *it = &l->items[l->nitems];
		int64_t qv;
		if (d == NULL || q == NULL || u == NULL || money_parse(q, 3, &qv) < 0 || qv <= 0) {
			proc_err(c, id, "bad_field", "each item needs description, unit and a positive "
			    "decimal quantity (string, at most 3 decimals)", "items");
			return -1;
		}
		l->nitems++;
		it->description = proc_sdup(d);
		it->quantity = proc_sdup(q);
		it->unit = proc_sdup(u);
		it->classification = proc_sdup(js(x, "classification"));
	}
	return 0;
}

/* A lot's award criteria into l (price only when it states none). -1 after an error
 * reply. */
static int
proc_parse_criteria(struct conn *c, json_t *id, json_t *jl, struct proc_doc_lot *l)
{
	json_t *crits = json_object_get(jl, "criteria"), *jc;
	size_t j, n = crits ? json_array_size(crits) : 1;

	if (crits && (!json_is_array(crits) || n > PROC_MAX_CRITERIA)) {
		proc_err(c, id, "bad_field", "criteria must be an array of at most 8", "criteria");
		return -1;
	}
	if ((l->crit = calloc(n + 1, sizeof(*l->crit))) == NULL) {
		proc_err(c, id, "internal", "out of memory", NULL);
		return -1;
	}
	if (crits == NULL) {
		l->crit[0].kind = CRIT_PRICE;
		l->crit[0].weight_bp = 10000;
		l->crit[0].code = proc_sdup("price");
		l->crit[0].name = proc_sdup("Price");
		l->ncrit = 1;
		return 0;
	}
	json_array_foreach(crits, j, jc) {
		l->ncrit++;
		if (proc_parse_criterion(c, id, jc, (int)j, &l->crit[j]) < 0)
			return -1;
	}
	return 0;
}

/* The request's lots (numbered from 1) into doc, amounts with doc's exponent. -1
 * after an error reply. */
static int
proc_parse_lots(struct conn *c, json_t *id, json_t *req, struct proc_doc *doc)
{
	json_t *lots = json_object_get(req, "lots"), *jl;
	size_t i;

	if (!json_is_array(lots) || json_array_size(lots) == 0 ||
	    json_array_size(lots) > PROC_MAX_LOTS) {
		proc_err(c, id, "bad_field", "lots must be an array of 1 to 50 lots", "lots");
		return -1;
	}
	if ((doc->lots = calloc(json_array_size(lots) + 1, sizeof(*doc->lots))) == NULL) {
		proc_err(c, id, "internal", "out of memory", NULL);
		return -1;
	}
	json_array_foreach(lots, i, jl) {
		struct proc_doc_lot *l = &doc->lots[doc->nlots];
		const char *lt = js(jl, "title");

		if (!json_is_object(jl) || lt == NULL || proc_lot_title(c, id, lt) < 0) {
			if (!json_is_object(jl) || lt == NULL)
				proc_err(c, id, "bad_field", "each lot needs a title", "lots");
			return -1;
		}
		doc->nlots++;
		l->id = (int64_t)i + 1;
		l->title = proc_sdup(lt);
		if (proc_money_field(c, id, jl, "max_price", doc->exp, &l->max_price) < 0 ||
		    proc_parse_items(c, id, jl, l) < 0 || proc_parse_criteria(c, id, jl, l) < 0)
			return -1;
	}
	return 0;
}

/* Multi-lot auctions: a tender_auction's lot_closing and stagger (in its auction settings)
 * into *stagger (seconds, 0 parallel; unchanged when neither is given); -1 after an error
 * reply. */
static int
proc_parse_stagger(struct conn *c, json_t *id, json_t *au, int64_t *stagger)
{
	json_t *mode = json_object_get(au, "lot_closing"), *st = json_object_get(au, "stagger");

	if (mode == NULL && st == NULL)
		return 0;
	if (mode != NULL && (!json_is_string(mode) || (strcmp(json_string_value(mode), "parallel") &&
	    strcmp(json_string_value(mode), "staggered")))) {
		proc_err(c, id, "bad_field", "auction settings: lot_closing must be parallel or "
		    "staggered", "auction");
		return -1;
	}
	if (mode != NULL && strcmp(json_string_value(mode), "parallel") == 0) {
		if (st != NULL) {
			proc_err(c, id, "bad_field", "auction settings: stagger applies only to "
			    "lot_closing staggered", "auction");
			return -1;
		}
		*stagger = 0;
		return 0;
	}
	if (mode == NULL || !json_is_integer(st) || json_integer_value(st) < 1 ||
	    json_integer_value(st) > 86400) {
		proc_err(c, id, "bad_field", "auction settings: lot_closing staggered needs stagger, "
		    "1-86400 s between the ends of consecutive lots' auctions", "auction");
		return -1;
	}
	*stagger = json_integer_value(st);
	return 0;
}

/* A tender_auction's auction settings into doc: the request's, else an amended
 * document's current ones, else the defaults. -1 after an error reply. */
static int
proc_parse_auction(struct conn *c, json_t *id, json_t *req, const struct proc_doc *prev,
    struct proc_doc *doc)
{
	json_t *au = json_object_get(req, "auction");
	const struct proc_doc_auction *pa = prev && prev->has_auction ? &prev->auction : NULL;
	const char *smin = "0.5%", *smax = "5%";
	int64_t dur = 600, win = 120, ext = 120, delay = 60, v;
	int pct, unsigned_bids = 0;
	int64_t stagger = 0;

	if (pa) {
		unsigned_bids = pa->unsigned_bids;
		stagger = pa->stagger;
		smin = pa->step_min;
		smax = pa->step_max;
		dur = pa->duration;
		win = pa->extension_window;
		ext = pa->extension;
		delay = pa->delay;
	}
	if (au && json_is_object(au)) {
		if (js(au, "step_min")) smin = js(au, "step_min");
		if (js(au, "step_max")) smax = js(au, "step_max");
		if (json_is_integer(json_object_get(au, "duration"))) dur = ji(au, "duration");
		if (json_is_integer(json_object_get(au, "extension_window"))) win = ji(au, "extension_window");
		if (json_is_integer(json_object_get(au, "extension"))) ext = ji(au, "extension");
		if (json_is_integer(json_object_get(au, "delay"))) delay = ji(au, "delay");
		if (json_object_get(au, "signed_bids") &&
		    !json_is_boolean(json_object_get(au, "signed_bids"))) {
			proc_err(c, id, "bad_field", "auction settings: signed_bids must be true or false",
			    "auction");
			return -1;
		}
		if (json_object_get(au, "signed_bids"))
			unsigned_bids = json_is_false(json_object_get(au, "signed_bids"));
		if (proc_parse_stagger(c, id, au, &stagger) < 0)
			return -1;
	}
	if (money_parse_step(smin, doc->exp, &pct, &v) < 0 ||
	    money_parse_step(smax, doc->exp, &pct, &v) < 0 ||
	    dur < 1 || dur > 86400 || win < 0 || win > 86400 || ext < 0 || ext > 86400 ||
	    delay < 0 || delay > 86400) {
		proc_err(c, id, "bad_field", "auction settings: step_min/step_max as \"0.5%\" or an "
		    "amount, duration 1-86400 s, extension_window/extension/delay 0-86400 s", "auction");
		return -1;
	}
	doc->has_auction = 1;
	doc->auction = (struct proc_doc_auction){ proc_sdup(smin), proc_sdup(smax), dur, win, ext,
	    delay, unsigned_bids, stagger };
	return 0;
}

/*
 * Parse a procurement document from a create or amend request into its typed
 * form (amounts in minor units, times in ms, weights in basis points). `prev`
 * is the current document for an amendment (kind and currency are kept; the
 * files are the new ones only, numbered after prev's). NULL after an error
 * reply. The parts are checked in order: header, lots (each with its items and
 * criteria), documents, auction settings, then the whole.
 */
static struct proc_doc *
proc_parse_doc(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct proc_doc *prev)
{
	struct proc_doc *doc = calloc(1, sizeof(*doc));
	struct proc_params pp;
	struct proc_lot plots[PROC_MAX_LOTS];
	int nl;
	const char *why;

	if (doc == NULL) {
		proc_err(c, id, "internal", "out of memory", NULL);
		return NULL;
	}
	doc->refs = 1;
	proc_parse_oom = 0;
	if (proc_parse_header(c, id, req, prev, doc) < 0 || proc_parse_lots(c, id, req, doc) < 0 ||
	    proc_parse_documents(s, c, id, json_object_get(req, "documents"),
	    prev ? (int)prev->nfiles + 1 : 1, doc) < 0 ||
	    (doc->kind == PROC_TENDER_AUCTION && proc_parse_auction(c, id, req, prev, doc) < 0))
		goto fail;
	if (proc_parse_oom) {
		proc_err(c, id, "internal", "out of memory", NULL);
		goto fail;
	}
	proc_from_doc(doc, 1, &pp, plots, &nl);
	if ((why = proc_check(&pp, plots, nl)) != NULL) {
		proc_err(c, id, "bad_field", why, NULL);
		goto fail;
	}
	return doc;
fail:
	proc_doc_unref(doc);
	return NULL;
}

/* ---- the log's form of a document (the detail of "created" and "amended") ---- */

/* A criterion as the log holds it. */
static json_t *
proc_criterion_log_json(const struct proc_doc_criterion *c)
{
	json_t *x = json_pack("{s:s, s:s, s:s, s:I}", "code", c->code, "name", c->name,
	    "kind", proc_crit_kind_name(c->kind), "weight_bp", (json_int_t)c->weight_bp);

	if (c->kind == CRIT_STATED) {
		json_object_set_new(x, "min", json_integer(c->min));
		json_object_set_new(x, "max", json_integer(c->max));
		json_object_set_new(x, "better", json_string(c->higher_better ? "higher" : "lower"));
		if (c->unit)
			json_object_set_new(x, "unit", json_string(c->unit));
	} else if (c->kind == CRIT_SCORED) {
		json_object_set_new(x, "min", json_integer(c->min));
		json_object_set_new(x, "max", json_integer(c->max));
	}
	return x;
}

static json_t *proc_items_json(const struct proc_doc_lot *dl);
static json_t *proc_auction_json(const struct proc_doc_auction *au);
static json_t *proc_file_json(const struct proc_doc_file *f, int with_content);

/* The files of a document: as the log holds them (`with_content`: with their contents), or
 * as views show them (whether each has a content). */
static json_t *
proc_files_json(const struct proc_doc *doc, int with_content)
{
	json_t *out = json_array();

	for (size_t i = 0; i < doc->nfiles; i++)
		json_array_append_new(out, proc_file_json(doc->files[i], with_content));
	return out;
}

/*
 * A document as the log holds it: the exact keys, in the exact order, that
 * proc_doc_load reads back (the row's bytes are persisted and replayed: never
 * reorder). `with_files`: a created procedure's "documents" too (an amendment's
 * row holds its added files beside the document).
 */
static json_t *
proc_doc_log_json(const struct proc_doc *doc, int with_files)
{
	json_t *lots = json_array(), *j;

	for (size_t i = 0; i < doc->nlots; i++) {
		const struct proc_doc_lot *l = &doc->lots[i];
		json_t *crits = json_array();
		for (size_t k = 0; k < l->ncrit; k++)
			json_array_append_new(crits, proc_criterion_log_json(&l->crit[k]));
		json_array_append_new(lots, json_pack("{s:I, s:s, s:o, s:o, s:I}", "id",
		    (json_int_t)l->id, "title", l->title, "items", proc_items_json(l),
		    "criteria", crits, "max_price", (json_int_t)l->max_price));
	}
	j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:o}", "title", doc->title,
	    "description", doc->description, "kind", proc_kind_name(doc->kind), "exp", doc->exp,
	    "currency", doc->currency, "enquiry_end", (json_int_t)doc->enquiry_end,
	    "submission_deadline", (json_int_t)doc->submission_deadline,
	    "opening_at", (json_int_t)doc->opening_at, "min_bids", (json_int_t)doc->min_bids,
	    "lots", lots);
	if (with_files)
		json_object_set_new(j, "documents", proc_files_json(doc, 1));
	if (doc->has_auction)
		json_object_set_new(j, "auction", proc_auction_json(&doc->auction));
	return j;
}

/* ---- views ---- */

/* An attached file as document.get shows it (with_content) or as views list it
 * (has_content instead). */
static json_t *
proc_file_json(const struct proc_doc_file *f, int with_content)
{
	json_t *x = json_pack("{s:I, s:s, s:s, s:I, s:s}", "id", (json_int_t)f->id, "name", f->name,
	    "media_type", f->media_type, "size", (json_int_t)f->size, "sha256", f->sha256);

	if (with_content)
		json_object_set_new(x, "content", f->content ? json_string(f->content) : json_null());
	else
		json_object_set_new(x, "has_content", json_boolean(f->content != NULL));
	return x;
}

/* A lot's items as views show them. */
static json_t *
proc_items_json(const struct proc_doc_lot *dl)
{
	json_t *out = json_array();

	for (size_t i = 0; i < dl->nitems; i++) {
		const struct proc_doc_item *it = &dl->items[i];
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s?}", "description",
		    it->description, "quantity", it->quantity, "unit", it->unit, "classification",
		    it->classification));
	}
	return out;
}

static json_t *proc_points(int64_t hundredths);

/* A lot's criteria as views show them (weights in percent with 2 decimals). */
static json_t *
proc_criteria_json(const struct proc_doc_lot *dl)
{
	json_t *out = json_array();

	for (size_t i = 0; i < dl->ncrit; i++) {
		const struct proc_doc_criterion *c = &dl->crit[i];
		json_t *x = json_pack("{s:s, s:s, s:s}", "code", c->code, "name", c->name, "kind",
		    proc_crit_kind_name(c->kind));
		if (c->kind == CRIT_STATED) {
			json_object_set_new(x, "min", json_integer(c->min));
			json_object_set_new(x, "max", json_integer(c->max));
			json_object_set_new(x, "better", json_string(c->higher_better ? "higher" : "lower"));
			if (c->unit)
				json_object_set_new(x, "unit", json_string(c->unit));
		} else if (c->kind == CRIT_SCORED) {
			json_object_set_new(x, "min", json_integer(c->min));
			json_object_set_new(x, "max", json_integer(c->max));
		}
		json_object_set_new(x, "weight", proc_points(c->weight_bp));
		json_array_append_new(out, x);
	}
	return out;
}

/* A tender_auction's auction settings as views show them. */
static json_t *
proc_auction_json(const struct proc_doc_auction *au)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "step_min", au->step_min,
	    "step_max", au->step_max, "duration", (json_int_t)au->duration,
	    "extension_window", (json_int_t)au->extension_window,
	    "extension", (json_int_t)au->extension, "delay", (json_int_t)au->delay);

	/* shown (and stored) only when off: the default keeps its bytes */
	if (j && au->unsigned_bids)
		json_object_set_new(j, "signed_bids", json_false());
	/* multi-lot auctions: only when staggered, likewise */
	if (j && au->stagger > 0) {
		json_object_set_new(j, "lot_closing", json_string("staggered"));
		json_object_set_new(j, "stagger", json_integer(au->stagger));
	}
	return j;
}

/* "85.50" from hundredths. */
static json_t *
proc_points(int64_t hundredths)
{
	char buf[40];

	money_format(hundredths, 2, buf, sizeof(buf));
	return json_string(buf);
}

/* An offer's stated values and details (delivery, validity, comment) into a row, in
 * that order (the opening record is logged: never reorder). */
static void
proc_copy_extras(json_t *row, const struct proc_offer_extra *x)
{
	if (x->values)
		json_object_set(row, "values", x->values);
	if (x->delivery_days >= 0)
		json_object_set_new(row, "delivery_days", json_integer(x->delivery_days));
	if (x->validity_days >= 0)
		json_object_set_new(row, "validity_days", json_integer(x->validity_days));
	if (x->comment)
		json_object_set_new(row, "comment", json_string(x->comment));
}

/* Free an offer's extras. */
static void
proc_extra_free(struct proc_offer_extra *x)
{
	if (x == NULL)
		return;
	free(x->fingerprint);
	json_decref(x->values);
	free(x->comment);
	free(x->reason);
	free(x->sealed_body);
	free(x);
}

/* Free every offer's extras (the map is left empty). */
static void
proc_extras_free(struct map *m)
{
	size_t it = 0;
	void *v;

	while (map_next(m, &it, NULL, NULL, &v))
		proc_extra_free(v);
	map_free(m);
}

/* A copy of an offer's extras (the values shared: never changed); NULL when out of
 * memory. */
static struct proc_offer_extra *
proc_extra_copy(const struct proc_offer_extra *x)
{
	struct proc_offer_extra *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *x;
	c->values = json_incref(x->values);
	c->fingerprint = x->fingerprint ? strdup(x->fingerprint) : NULL;
	c->comment = x->comment ? strdup(x->comment) : NULL;
	c->reason = x->reason ? strdup(x->reason) : NULL;
	c->sealed_body = x->sealed_body ? strdup(x->sealed_body) : NULL;
	if ((x->fingerprint && !c->fingerprint) || (x->comment && !c->comment) ||
	    (x->reason && !c->reason) || (x->sealed_body && !c->sealed_body)) {
		proc_extra_free(c);
		return NULL;
	}
	return c;
}

/* A deep copy of every offer's extras into *dst; -1 when out of memory (*dst empty). */
static int
proc_extras_copy(struct map *dst, const struct map *src)
{
	size_t it = 0;
	int64_t id;
	void *v;

	map_init(dst, 0);
	while (map_next(src, &it, &id, NULL, &v)) {
		struct proc_offer_extra *c = proc_extra_copy(v);
		if (c == NULL || map_put(dst, id, c) < 0) {
			proc_extra_free(c);
			proc_extras_free(dst);
			return -1;
		}
	}
	return 0;
}

/* An offer's extras from its offer_submitted detail, by `who` with certificate `fp`;
 * NULL when out of memory. */
static struct proc_offer_extra *
proc_extra_of_detail(json_t *d, const struct participant *who, const char *fp)
{
	struct proc_offer_extra *x = calloc(1, sizeof(*x));
	json_t *dd = json_object_get(d, "delivery_days"), *vd = json_object_get(d, "validity_days");
	const char *comment = js(d, "comment");

	if (x == NULL)
		return NULL;
	x->participant = who->id;
	x->fingerprint = strdup(fp ? fp : "");
	x->values = json_incref(json_object_get(d, "values"));
	x->delivery_days = json_is_integer(dd) ? json_integer_value(dd) : -1;
	x->validity_days = json_is_integer(vd) ? json_integer_value(vd) : -1;
	x->comment = comment ? strdup(comment) : NULL;
	if (x->fingerprint == NULL || (comment && x->comment == NULL)) {
		proc_extra_free(x);
		return NULL;
	}
	return x;
}

/* The opening record of a lot: every opened offer in rank order, with its score. */
static json_t *
proc_opening(struct server *s, struct proc *p, int li, const struct participant *v)
{
	size_t cap = p->pr.noffers + 1;
	struct proc_eval *ev = calloc(cap, sizeof(*ev));
	const struct proc_lot *lot = &p->pr.lots[li];
	const struct proc_doc_lot *dl = proc_doc_lot(p->doc, lot->id);
	json_t *out = json_array();
	int n = ev ? proc_evaluate(&p->pr, lot->id, ev, (int)cap) : 0, complete = n >= 0;
	int hide = lot->state == LOT_AUCTION;  /* identities hidden while the auction runs */

	if (n < 0) {
		/* scores missing: the engine wrote partial totals (a missing score counts 0),
		 * unranked, one per listed offer in order of first submission */
		n = 0;
		for (size_t i = 0; i < p->pr.noffers && (size_t)n < cap; i++) {
			const struct proc_offer *o = &p->pr.offers[i];
			if (o->lot_id == lot->id && o->status != OFFER_WITHDRAWN)
				n++;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct proc_offer *o = proc_offer_by_id(&p->pr, ev[i].offer_id);
		const struct proc_offer_extra *x = map_get(&p->extras, ev[i].offer_id);
		json_t *row = json_pack("{s:I, s:o, s:s}", "offer", (json_int_t)ev[i].offer_id,
		    "price", proto_money(ev[i].price, p->exp), "status", proc_offer_status_name(ev[i].status));
		json_t *bd = json_array();
		if (complete && ev[i].rank > 0)
			json_object_set_new(row, "rank", json_integer(ev[i].rank));
		else
			json_object_set_new(row, "rank", json_null());
		if (hide) {
			char alias[32];
			snprintf(alias, sizeof(alias), "Bidder %d", i + 1);
			json_object_set_new(row, "bidder", json_string(alias));
		} else {
			struct org *org = map_get(&s->orgs, ev[i].org);
			json_object_set_new(row, "organization", json_string(org ? org->name : "?"));
		}
		if (v && v->org->id == ev[i].org)
			json_object_set_new(row, "you", json_true());
		if (x) {
			proc_copy_extras(row, x);
			if (x->reason)
				json_object_set_new(row, "disqualification_reason", json_string(x->reason));
			/* what the submission's receipt committed to (docs/trust.md); views only */
			if (v && x->sealed_body)
				json_object_set_new(row, "sealed_content", json_string(x->sealed_body));
		}
		json_object_set_new(row, "submitted_at", proto_time(o ? o->submitted_at : 0));
		if (ev[i].status != OFFER_DISQUALIFIED) {
			for (size_t ci = 0; dl && ci < dl->ncrit; ci++) {
				/* a buyer score not given yet: null, counted 0 in the partial total */
				int open = ci < PROC_MAX_CRITERIA && lot->crit[ci].kind == CRIT_SCORED && o &&
				    !(o->scored & (1u << ci));
				json_array_append_new(bd, json_pack("{s:s, s:o, s:o}", "criterion", dl->crit[ci].code,
				    "score", open ? json_null() : proc_points(ev[i].crit_score[ci]),
				    "weighted", open ? json_null() : proc_points(ev[i].weighted[ci])));
			}
			json_object_set_new(row, "breakdown", bd);
			json_object_set_new(row, "total", proc_points(ev[i].total));
		} else {
			json_decref(bd);
			json_object_set_new(row, "total", json_null());
		}
		if (o && o->auction_rank) {
			struct book *b = p->lot_auction[li] ? book_get(s, p->lot_auction[li]) : NULL;
			const struct auction_entry *e = b ? auction_entry_of(&b->a, o->org) : NULL;
			json_object_set_new(row, "auction_rank", json_integer(o->auction_rank));
			if (e)
				json_object_set_new(row, "auction_price", proto_money(e->amount, p->exp));
		}
		json_array_append_new(out, row);
	}
	free(ev);
	return out;
}

/* The procedure as `v` may see it. */
static json_t *
proc_view(struct server *s, struct proc *p, const struct participant *v)
{
	const struct procedure *pr = &p->pr;
	int opened = pr->opened_at > 0;
	json_t *j, *lots = json_array();
	struct org *buyer = map_get(&s->orgs, pr->p.buyer_org);

	j = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "id", (json_int_t)pr->id,
	    "kind", proc_kind_name(pr->p.kind), "state", proc_state_name(pr->state),
	    "version", pr->version, "title", p->doc->title,
	    "description", p->doc->description, "currency", p->currency,
	    "buyer", buyer ? buyer->name : "?");
	json_object_set_new(j, "enquiry_end", proto_time(pr->p.enquiry_end));
	json_object_set_new(j, "submission_deadline", proto_time(pr->p.submission_deadline));
	json_object_set_new(j, "opening_at", proto_time(pr->p.opening_at));
	json_object_set_new(j, "min_bids", json_integer(pr->p.min_bids));
	json_object_set_new(j, "published_at", pr->published_at ? proto_time(pr->published_at) : json_null());
	json_object_set_new(j, "opened_at", opened ? proto_time(pr->opened_at) : json_null());
	json_object_set_new(j, "decided_at", pr->decided_at ? proto_time(pr->decided_at) : json_null());
	json_object_set_new(j, "cancel_reason", p->cancel_reason ? json_string(p->cancel_reason) : json_null());
	json_object_set_new(j, "seq", json_integer(p->tx.seq));
	if (p->doc->has_auction)
		json_object_set_new(j, "auction", proc_auction_json(&p->doc->auction));
	for (size_t i = 0; i < p->doc->nlots; i++) {
		const struct proc_lot *lot = &pr->lots[i];
		const struct proc_doc_lot *dl = &p->doc->lots[i];
		json_t *x = json_pack("{s:I, s:s, s:o, s:o, s:o, s:s, s:i}", "id", (json_int_t)lot->id,
		    "title", dl->title, "max_price", proto_money(lot->max_price, p->exp),
		    "items", proc_items_json(dl), "criteria", proc_criteria_json(dl),
		    "state", proc_lot_state_name(lot->state), "offers",
		    proc_live_offers(pr, lot->id));
		json_object_set_new(x, "awarded_offer", lot->awarded_offer ? json_integer(lot->awarded_offer) : json_null());
		if (p->lot_auction[i])
			json_object_set_new(x, "auction", json_integer(p->lot_auction[i]));
		if (opened) {
			json_object_set_new(x, "opening", proc_opening(s, p, (int)i, v));
			json_object_set_new(x, "scores_missing",
			    json_boolean(proc_evaluate(pr, lot->id, NULL, 0) < 0));
		}
		json_array_append_new(lots, x);
	}
	json_object_set_new(j, "lots", lots);
	json_object_set_new(j, "documents", proc_files_json(p->doc, 0));
	json_object_set_new(j, "questions", proc_questions_public(&p->questions));
	if (v && v->role == ROLE_SUPPLIER) {
		json_t *mine = json_array();
		for (size_t k = 0; k < pr->noffers; k++) {
			const struct proc_offer *o = &pr->offers[k];
			const struct proc_offer_extra *x;
			json_t *row;
			if (o->org != v->org->id)
				continue;
			x = map_get(&p->extras, o->id);
			row = json_pack("{s:I, s:I, s:o, s:i, s:s, s:b, s:o}", "offer", (json_int_t)o->id,
			    "lot", (json_int_t)o->lot_id, "price", proto_money(o->price, p->exp),
			    "revision", o->revision, "status", proc_offer_status_name(o->status),
			    "needs_confirm", o->needs_confirm, "submitted_at", proto_time(o->submitted_at));
			if (x)
				proc_copy_extras(row, x);
			json_array_append_new(mine, row);
		}
		json_object_set_new(j, "your_offers", mine);
	}
	json_object_set_new(j, "server_time", proto_time(time_now_ms()));
	return j;
}

/* Drafts are visible to their buyer's organization and operators only. */
static int
proc_visible(const struct proc *p, const struct participant *v)
{
	return p->pr.state != PROC_DRAFT || proc_is_owner(p, v) || v->role == ROLE_OPERATOR;
}

/* The class of a viewer: a view depends on the organization only when it has
 * an offer (its own offers, "you" in the opening record). */
static struct watch_class
proc_class_of(struct server *s, void *target, const struct participant *v)
{
	const struct proc *p = target;
	struct watch_class k = { (int)v->role, -1 };

	(void)s;
	for (size_t i = 0; i < p->pr.noffers && k.org < 0; i++)
		if (p->pr.offers[i].org == v->org->id)
			k.org = v->org->id;
	return k;
}

/* The view an event carries. */
static json_t *
proc_event_view(struct server *s, void *target, const struct participant *v)
{
	return proc_view(s, target, v);
}

/* Amendments also go to suppliers with a live offer who do not watch. */
static int
proc_has_live_offer(struct server *s, void *target, const struct participant *v)
{
	const struct proc *p = target;

	(void)s;
	if (v->role != ROLE_SUPPLIER)
		return 0;
	for (size_t k = 0; k < p->pr.noffers; k++)
		if (p->pr.offers[k].org == v->org->id && p->pr.offers[k].status == OFFER_ACTIVE)
			return 1;
	return 0;
}

/* Send an event to every watcher and, for amendments, to every connected
 * participant of an organization with an offer (watch.c: once per class). */
static void
proc_broadcast(struct server *s, struct proc *p, const char *event, const char *reason)
{
	struct watch_msg ev = {
		.event = event, .reason = reason, .field = "procurement", .kind = WATCH_PROC,
		.id = p->pr.id, .target = p, .class_of = proc_class_of, .view = proc_event_view,
		.also = strcmp(reason, "amended") == 0 ? proc_has_live_offer : NULL,
	};

	watch_broadcast(s, &p->watchers, &ev);
}

/* ---- timers ---- */

static void
proc_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;

	proc_tick(p->srv, p);
}

/* Arm the timer at the engine's next deadline. */
void
proc_arm(struct server *s, struct proc *p)
{
	int64_t when = proc_next_deadline(&p->pr), left;

	if (p->timer == NULL)
		p->timer = evtimer_new(s->base, proc_on_timer, p);
	if (when < 0) {
		evtimer_del(p->timer);
		return;
	}
	left = when - time_now_ms();
	conn_timer_in(s, p->timer, (left < 0 ? 0 : left) + 1);  /* at or after the deadline */
}

static int proc_apply_kind(struct server *s, enum proc_change_kind kind, json_t *d,
    struct proc_doc **doc, int64_t at, const struct participant *who, const char *fp, int replay,
    json_t **reply, const char **code, const char **message);

/* A queued procedure change: its kind and detail (checked on arrival). */
struct proc_cmd {
	struct txn_cmd t;          /* first: the write path's part */
	enum proc_change_kind kind;
	json_t *detail;
	struct proc_doc *doc;      /* created, amended: the request's document (or NULL) */
	int64_t proc_id;
};

/* Apply a queued change (the reply, prepared by proc_apply, goes out on commit). */
static int
proc_cmd_apply(struct server *s, struct txn_cmd *t)
{
	struct proc_cmd *k = (struct proc_cmd *)t;
	const char *code = NULL, *message = NULL;
	int keep = proc_apply_kind(s, k->kind, k->detail, &k->doc, t->at, t->who, t->fp, 0,
	    &t->reply, &code, &message);

	if (!keep && t->conn_id)
		txn_reply(s, t, proto_error(t->id, code ? code : "internal",
		    message ? message : "refused", proc_refused_field()));
	return keep;
}

/* A clock change dropped with the queue (or rolled back): the timer may queue again. */
static void
proc_cmd_abort(struct server *s, struct txn_cmd *t)
{
	struct proc *p = t->conn_id == 0 ? proc_get(s, ((struct proc_cmd *)t)->proc_id) : NULL;

	if (p)
		p->tick_queued = 0;
}

/* Free a change. */
static void
proc_cmd_free(struct txn_cmd *t)
{
	struct proc_cmd *k = (struct proc_cmd *)t;

	json_decref(k->detail);
	proc_doc_unref(k->doc);
	free(k);
}

static const struct txn_cmd_ops proc_cmd_ops = {
	proc_cmd_apply, NULL, proc_cmd_abort, proc_cmd_free, 0,
};

/* Queue a change made by `c` (or the clock when c is NULL); `detail` and `doc` (a
 * request's document, or NULL) are stolen. */
static void
proc_enqueue(struct server *s, struct conn *c, json_t *id, enum proc_change_kind kind,
    json_t *detail, struct proc_doc *doc, int64_t proc_id)
{
	struct proc_cmd *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		json_decref(detail);
		proc_doc_unref(doc);
		return;
	}
	txn_cmd_init(&k->t, &proc_cmd_ops, c, id);
	k->kind = kind;
	k->detail = detail;
	k->doc = doc;
	k->proc_id = proc_id;
	txn_enqueue(s, c, &k->t);
}

/* The deadline passed: queue a clock change. */
void
proc_tick(struct server *s, struct proc *p)
{
	if (p->tick_queued || !db_ready(s->db))
		return;
	p->tick_queued = 1;
	proc_enqueue(s, NULL, NULL, PC_TICK, json_pack("{s:I}", "procurement",
	    (json_int_t)p->pr.id), NULL, p->pr.id);
}

/* ---- applying changes ---- */

/* Free a procedure. */
static void
proc_free_one(struct proc *p)
{
	if (p->timer)
		event_free(p->timer);
	proc_free(&p->pr);
	proc_doc_unref(p->doc);
	proc_questions_free(&p->questions);
	proc_extras_free(&p->extras);
	free(p->cancel_reason);
	watch_drop_target(p->srv, &p->watchers);
	free(p);
}

/* Remember the procedure before the batch first changes it (not in replay). */
static int
proc_touch(struct server *s, struct proc *p, int replay)
{
	return replay ? 0 : txn_touch(s, &p->tx);
}

/* The state fields every log row carries (the trigger projects them). */
static void
proc_state_detail(struct proc *p, json_t *d)
{
	json_object_set_new(d, "state", json_string(proc_state_name(p->pr.state)));
	if (p->pr.published_at)
		json_object_set_new(d, "published_at", json_integer(p->pr.published_at));
	if (p->pr.opened_at)
		json_object_set_new(d, "opened_at", json_integer(p->pr.opened_at));
	if (p->pr.decided_at)
		json_object_set_new(d, "decided_at", json_integer(p->pr.decided_at));
	if (p->pr.closed_at)
		json_object_set_new(d, "closed_at", json_integer(p->pr.closed_at));
}

/* Write one change of the procedure (live only): its body is the detail with the state
 * fields, the bytes stored as they are; the store projects it into the typed tables. */
static void
proc_log(struct server *s, struct proc *p, const char *kind, int64_t at,
    const struct participant *who, const char *fp, int64_t lot, int64_t offer, int sealed,
    json_t *detail)
{
	json_t *d = detail ? json_copy(detail) : json_object();  /* shallow: adds top-level keys */
	struct db_proc_change c = {
		.procurement_id = p->pr.id, .at = at, .kind = kind,
		.participant_id = who ? who->id : 0, .org_id = who ? who->org->id : 0,
		.fingerprint = who ? fp : NULL, .lot_id = lot, .offer_id = offer, .sealed = sealed,
		.detail = d,
	};
	char *text;

	proc_state_detail(p, d);
	text = json_dumps(d, JSON_COMPACT);
	c.body = text ? text : "{}";
	if (who)
		txn_sign(s, NULL);  /* the actor's own change: its signed statement, if any */
	txn_obj_seq(&p->tx, db_proc_add(txn_db(s), &c));
	if (sealed && text) {
		struct proc_offer_extra *x = map_get(&p->extras, offer);
		if (x) {
			free(x->sealed_body);
			x->sealed_body = strdup(text);
		}
	}
	json_decref(d);
	free(text);
}

static json_t *proc_opening(struct server *s, struct proc *p, int li, const struct participant *v);

/* The opening record of every lot, by lot id, as the "opened" change holds it. */
static json_t *
proc_opening_all(struct server *s, struct proc *p)
{
	json_t *rec = json_object();
	char key[24];

	for (size_t li = 0; li < p->doc->nlots; li++)
		json_object_set_new(rec, I64(key, p->pr.lots[li].id), proc_opening(s, p, (int)li, NULL));
	return rec;
}

/* The opening record of procedure `id` as the engine has it now (server.h). */
json_t *
proc_opening_record(struct server *s, int64_t id)
{
	struct proc *p = proc_get(s, id);

	return p ? proc_opening_all(s, p) : NULL;
}

/* The opening: tender_auction lots that go to auction (the LOT_AUCTION events after the
 * OPENED event at ev[i]) get their live auctions, then the "opened" row with the opening
 * record of every lot. */
static void
proc_opened(struct server *s, struct proc *p, const struct proc_events *ev, int i)
{
	json_t *d;
	int n = 0, no = 0;
	int64_t event_id = 0;

	/* staggered (multi-lot auctions): the lots' auctions are one event, in lot order */
	for (int j = i + 1; j < ev->n && p->doc->auction.stagger > 0; j++)
		n += ev->ev[j].kind == PROC_EV_LOT_AUCTION && proc_lot_index(p, ev->ev[j].lot) >= 0;
	for (int j = i + 1; j < ev->n; j++) {
		int k = proc_lot_index(p, ev->ev[j].lot);
		struct book *b;
		if (ev->ev[j].kind != PROC_EV_LOT_AUCTION || k < 0)
			continue;
		b = n > 0 ? ops_open_auction_lot(s, p, k, ev->ev[i].at, event_id, ++no, n) :
		    ops_open_auction(s, p, k, ev->ev[i].at);
		if (b != NULL)
			p->lot_auction[k] = b->a.id;
		if (b != NULL && event_id == 0 && n > 0)
			event_id = b->a.id;
	}
	d = json_pack("{s:o}", "opening", proc_opening_all(s, p));
	proc_log(s, p, "opened", ev->ev[i].at, NULL, NULL, 0, 0, 0, d);
	json_decref(d);
}

/* What the watchers are told (PROC_N_*) for one event. */
static unsigned
proc_notify_of(const struct proc_event *e)
{
	switch (e->kind) {
	case PROC_EV_PUBLISHED:
	case PROC_EV_TENDERING:
	case PROC_EV_EVALUATION:
	case PROC_EV_COMPLETED:
	case PROC_EV_SCORED:
	case PROC_EV_AWARDED:
	case PROC_EV_DISQUALIFIED:
	case PROC_EV_AUCTION_RESULT:
		return PROC_N_UPDATE;
	case PROC_EV_OPENED:
		return PROC_N_UPDATE | PROC_N_OPENED;
	case PROC_EV_DECIDED:
		return PROC_N_UPDATE | PROC_N_AWARDED;
	case PROC_EV_CANCELLED:
		return PROC_N_UPDATE | PROC_N_CLOSED;
	case PROC_EV_AMENDED:
		return PROC_N_AMENDED;
	case PROC_EV_SUBMITTED:
		return e->added_live ? PROC_N_OFFERS : 0;  /* a revision leaves the count as it was */
	case PROC_EV_WITHDRAWN:
		return PROC_N_OFFERS;
	default:
		return 0;  /* a confirmation changes no view; a lot's outcome is its opening's */
	}
}

/*
 * After a live change (its own row written): walk the engine's events. The
 * clock's transitions get rows of their own ("tendering"; "opened" with the
 * opening record and the tender_auction lots' live auctions; on a tick,
 * "decided" at the tick's time), and every event notes what the watchers are
 * told on commit. A change that ends in a cancellation is its only row: the
 * transitions on its way are replayed from it, and the opening is told as
 * the cancellation.
 */
static void
proc_events_apply(struct server *s, struct proc *p, const struct proc_events *ev, int tick,
    int64_t at)
{
	int cancelled = proc_events_find(ev, PROC_EV_CANCELLED) != NULL;

	for (int i = 0; i < ev->n; i++) {
		const struct proc_event *e = &ev->ev[i];
		unsigned n = proc_notify_of(e);

		if (cancelled && (e->kind == PROC_EV_TENDERING || e->kind == PROC_EV_OPENED))
			n &= ~(unsigned)PROC_N_OPENED;
		else if (e->kind == PROC_EV_TENDERING)
			proc_log(s, p, "tendering", e->at, NULL, NULL, 0, 0, 0, NULL);
		else if (e->kind == PROC_EV_OPENED)
			proc_opened(s, p, ev, i);
		else if (e->kind == PROC_EV_DECIDED && tick)
			proc_log(s, p, "decided", at, NULL, NULL, 0, 0, 0, NULL);
		p->notify |= n;
	}
	if (ev->dropped)
		abort();  /* an event lost would leave memory and the database apart */
}

/* The text of the last refusal that names a time (valid until the next one). */
static char proc_msg[256];

/* "submissions open at T", "the submission deadline passed at T": a refusal for the
 * procedure's phase says when that phase opens or closed (RFC 3339). NULL when
 * `e` is not about the phase. */
static const char *
proc_phase_message(const struct proc *p, enum proc_change_kind kind, enum proc_err e,
    int64_t at)
{
	const struct procedure *pr = &p->pr;
	char t1[TIME_BUF], t2[TIME_BUF];

	time_format(pr->p.enquiry_end, t1);
	time_format(pr->p.submission_deadline, t2);
	if (e == PROC_E_NOT_OPEN && pr->state == PROC_DRAFT)
		snprintf(proc_msg, sizeof(proc_msg), "the procurement is not published yet; "
		    "submissions open at %s (enquiry_end) once it is", t1);
	else if (e == PROC_E_NOT_OPEN)
		snprintf(proc_msg, sizeof(proc_msg), "submissions open at %s (enquiry_end)", t1);
	else if (e == PROC_E_DEADLINE && kind == PC_PUBLISHED)
		snprintf(proc_msg, sizeof(proc_msg), "the enquiry period would end at %s "
		    "(enquiry_end), which has passed: amend the dates first", t1);
	else if (e == PROC_E_DEADLINE)
		snprintf(proc_msg, sizeof(proc_msg), "the submission deadline passed at %s", t2);
	else if (e == PROC_E_STATE && kind == PC_AMENDED &&
	    pr->state == PROC_TENDERING && at >= pr->p.submission_deadline) {
		time_format(pr->p.opening_at, t1);
		snprintf(proc_msg, sizeof(proc_msg), "the submission deadline passed at %s; "
		    "nothing may change until the opening at %s", t2, t1);
	} else if (e == PROC_E_STATE)
		snprintf(proc_msg, sizeof(proc_msg), "not allowed while the procurement is %s",
		    proc_state_name(pr->state));
	else
		return NULL;
	return proc_msg;
}

/* Map an engine error to a reply. */
static int
proc_refuse(const struct proc *p, enum proc_change_kind kind, enum proc_err e, int64_t at,
    int64_t lot, const char **code, const char **message)
{
	*code = proc_err_code(e);
	*message = proc_phase_message(p, kind, e, at);
	if (*message == NULL && e == PROC_E_PRICE) {
		/* what would have been accepted: above zero, at most the lot's maximum */
		for (int i = 0; i < p->pr.nlots; i++) {
			char zero[40], max[40];
			if (p->pr.lots[i].id != lot)
				continue;
			money_format(0, p->exp, zero, sizeof(zero));
			money_format(p->pr.lots[i].max_price, p->exp, max, sizeof(max));
			snprintf(proc_msg, sizeof(proc_msg), "price must be above %s and at most %s "
			    "(the lot's maximum price)", zero, max);
			*message = proc_msg;
		}
	}
	if (*message == NULL)
		*message = proc_err_message(e);
	return 0;
}

/* Values of stated criteria, by code, into the engine's array. */
static int
proc_values(const struct proc_doc_lot *dl, json_t *vals, int64_t *out)
{
	for (int i = 0; i < PROC_MAX_CRITERIA; i++)
		out[i] = INT64_MIN;
	for (size_t ci = 0; ci < dl->ncrit && ci < PROC_MAX_CRITERIA; ci++) {
		json_t *v;
		if (dl->crit[ci].kind != CRIT_STATED)
			continue;
		v = json_object_get(vals, dl->crit[ci].code);
		if (!json_is_integer(v))
			return -1;
		out[ci] = json_integer_value(v);
	}
	return 0;
}

/* Whether every score of a bid.score fits: a scored criterion of the offer's lot, an
 * integer within 0..max (PROC_OK or PROC_E_SCORE). The state is the engine's to check. */
static enum proc_err
proc_scores_check(const struct proc *p, const struct proc_offer *o,
    const struct proc_doc_lot *dl, json_t *scores)
{
	int li = proc_lot_index(p, o->lot_id);
	const struct proc_lot *l = li >= 0 ? &p->pr.lots[li] : NULL;
	const char *k;
	json_t *v;

	json_object_foreach(scores, k, v) {
		int ci = proc_crit_index(dl, k);
		if (l == NULL || ci < 1 || ci >= l->ncrit || l->crit[ci].kind != CRIT_SCORED ||
		    !json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > l->crit[ci].max)
			return PROC_E_SCORE;
	}
	return PROC_OK;
}

/* Start-up: link tender_auction lots to their loaded auctions. */
void
proc_restore_finish(struct server *s)
{
	size_t it = 0;
	void *v;

	while (map_next(&s->books, &it, NULL, NULL, &v)) {
		struct book *b = v;
		struct proc *p = b->proc_id ? proc_get(s, b->proc_id) : NULL;
		int li;
		if (p && (li = proc_lot_index(p, b->lot_id)) >= 0)
			p->lot_auction[li] = b->a.id;
	}
}

/*
 * One change being applied by proc_apply: what the handler of its kind reads
 * (the arguments of proc_apply and the procedure, NULL for "created") and what
 * it leaves for the common end (the engine's verdict `e`, the lot and offer the
 * log row names, whether the row is sealed).
 */
struct proc_change {
	struct server *s;
	struct proc *p;
	enum proc_change_kind kind;
	json_t *d;
	struct proc_doc **doc;     /* created, amended: the request's document, or NULL */
	int64_t at;
	const struct participant *who;
	const char *fp;
	int replay;
	json_t **reply;
	const char **code, **message;
	enum proc_err e;
	int64_t lot, offer;
	int sealed;
	struct proc_events ev;     /* what the engine calls of the change made, in order */
};

/* What a kind's handler returns besides 0 (refused) and 1 (done): go on to the
 * common end (limits, refusal, log row, reply) with `e` as the engine's verdict. */
#define PROC_CHANGE_NEXT 2

/* Refuse a change with a fixed code and message (0). */
static int
proc_change_refuse(struct proc_change *ch, const char *code, const char *message)
{
	*ch->code = code;
	*ch->message = message;
	return 0;
}

/* The request's document of a change, taken from it (NULL in replay: the detail
 * holds it). */
static struct proc_doc *
proc_change_take_doc(struct proc_change *ch)
{
	struct proc_doc *doc = ch->doc ? *ch->doc : NULL;

	if (ch->doc)
		*ch->doc = NULL;
	return doc;
}

/* "created": a new procedure from its document. */
static int
proc_apply_created(struct proc_change *ch)
{
	struct server *s = ch->s;
	struct proc_params pp;
	struct proc_lot lots[PROC_MAX_LOTS];
	json_t *d = ch->d;
	int64_t pid = ji(d, "procurement");
	struct proc_doc *doc;
	struct proc *p;
	int nl;

	if (!ch->replay && proc_open_of(s, ji(d, "buyer_org")) >= s->cfg.max_open_procedures_per_buyer)
		return proc_limit(ch->code, ch->message, "max_open_procedures_per_buyer",
		    s->cfg.max_open_procedures_per_buyer, "this buyer organization has as many "
		    "procurements open (draft to evaluation) as allowed; complete or cancel one first");
	if ((doc = proc_change_take_doc(ch)) == NULL &&
	    (doc = proc_doc_load_created(json_object_get(d, "document"))) == NULL)
		return proc_change_refuse(ch, "internal", "out of memory");
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		proc_doc_unref(doc);
		return proc_change_refuse(ch, "internal", "out of memory");
	}
	p->srv = s;
	p->buyer_participant = ji(d, "buyer_participant");
	memcpy(p->currency, doc->currency, sizeof(p->currency));
	p->exp = doc->exp;
	p->doc = doc;
	map_init(&p->extras, 0);
	txn_obj_init(&p->tx, &proc_txn);
	proc_from_doc(doc, ji(d, "buyer_org"), &pp, lots, &nl);
	proc_init(&p->pr, pid, &pp, lots, nl);
	if (map_put(&s->procs, pid, p) < 0) {
		proc_free_one(p);
		return proc_change_refuse(ch, "internal", "out of memory");
	}
	if (pid >= s->next_proc_id)
		s->next_proc_id = pid + 1;
	if (!ch->replay) {
		txn_created(s, &p->tx);
		proc_log(s, p, proc_change_name(ch->kind), ch->at, ch->who, ch->fp, 0, 0, 0, d);
		*ch->reply = json_pack("{s:b, s:o}", "ok", 1, "procurement", proc_view(s, p, ch->who));
	}
	return 1;
}

/* "tick" and the clock transitions ("tendering", "opened", "decided"): advance the
 * engine to the change's time. */
static int
proc_apply_tick(struct proc_change *ch)
{
	struct proc *p = ch->p;

	p->tick_queued = 0;
	proc_advance(&p->pr, ch->at, &ch->ev);
	if (ch->replay)
		return 1;
	proc_events_apply(ch->s, p, &ch->ev, 1, ch->at);
	return 1;
}

/* "published". */
static int
proc_apply_published(struct proc_change *ch)
{
	ch->e = proc_publish(&ch->p->pr, ch->at, &ch->ev);
	return PROC_CHANGE_NEXT;
}

/* "completed". */
static int
proc_apply_completed(struct proc_change *ch)
{
	ch->e = proc_complete(&ch->p->pr, ch->at, &ch->ev);
	return PROC_CHANGE_NEXT;
}

/* "amended": the restated fields and the added documents. */
static int
proc_apply_amended(struct proc_change *ch)
{
	struct server *s = ch->s;
	struct proc *p = ch->p;
	struct proc_params pp;
	struct proc_lot lots[PROC_MAX_LOTS];
	json_t *d = ch->d;
	struct proc_doc *doc;
	int nl;
	size_t have = p->doc->nfiles, adds = json_array_size(json_object_get(d, "documents"));

	/* checked when the request came, and again here: amendments queued before
	 * this one may have added documents since */
	if (!ch->replay && have + adds > (size_t)s->cfg.max_documents_per_procedure) {
		char what[128];
		snprintf(what, sizeof(what), "the procurement has %zu documents and this adds %zu",
		    have, adds);
		proc_field = "documents";
		return proc_limit(ch->code, ch->message, "max_documents_per_procedure",
		    s->cfg.max_documents_per_procedure, what);
	}
	if ((doc = proc_change_take_doc(ch)) != NULL)
		doc = proc_doc_amended_typed(p->doc, doc, json_object_get(d, "documents"));
	else
		doc = proc_doc_amended(p->doc, json_object_get(d, "document"),
		    json_object_get(d, "documents"));
	if (doc == NULL)
		return proc_change_refuse(ch, "internal", "out of memory");
	proc_from_doc(doc, p->pr.p.buyer_org, &pp, lots, &nl);
	ch->e = proc_amend(&p->pr, &pp, lots, nl, ch->at, &ch->ev);
	if (ch->e == PROC_OK) {
		proc_doc_unref(p->doc);
		p->doc = doc;
		json_object_set_new(d, "version", json_integer(p->pr.version));
	} else {
		proc_doc_unref(doc);
	}
	return PROC_CHANGE_NEXT;
}

/* "question_asked": during the enquiry period only; numbered from 1. */
static int
proc_apply_question_asked(struct proc_change *ch)
{
	struct server *s = ch->s;
	struct proc *p = ch->p;
	const struct participant *who = ch->who;
	json_t *d = ch->d;

	proc_advance(&p->pr, ch->at, &ch->ev);
	if (p->pr.state != PROC_PUBLISHED) {
		char t[TIME_BUF];
		time_format(p->pr.p.enquiry_end, t);
		snprintf(proc_msg, sizeof(proc_msg), p->pr.state == PROC_DRAFT ?
		    "questions are taken during the enquiry period only, once the procurement "
		    "is published, until %s" : "questions are taken during the enquiry period "
		    "only, which ended at %s", t);
		return proc_change_refuse(ch, "bad_state", proc_msg);
	}
	if (!ch->replay && who && proc_questions_of(p, who->org->id) >= s->cfg.max_questions_per_supplier)
		return proc_limit(ch->code, ch->message, "max_questions_per_supplier",
		    s->cfg.max_questions_per_supplier, "this supplier organization has asked as "
		    "many questions in this procurement as allowed");
	if (proc_question_add(&p->questions, js(d, "text"), ch->at, who ? who->org->id : 0) < 0)
		return proc_change_refuse(ch, "internal", "out of memory");
	json_object_set_new(d, "question", json_integer((json_int_t)p->questions.n));
	p->notify |= PROC_N_UPDATE;
	return PROC_CHANGE_NEXT;
}

/* "question_answered": once, while the procedure is open. */
static int
proc_apply_question_answered(struct proc_change *ch)
{
	struct proc *p = ch->p;
	int64_t n = ji(ch->d, "question");
	struct proc_question *q = n >= 1 && (size_t)n <= p->questions.n ?
	    &p->questions.v[n - 1] : NULL;
	const char *text = js(ch->d, "text");

	if (q == NULL)
		return proc_change_refuse(ch, "not_found", "no such question");
	if (q->answer != NULL)
		return proc_change_refuse(ch, "bad_state", "the question is already answered");
	if (p->pr.state == PROC_DRAFT || p->pr.state >= PROC_AWARDED)
		return proc_change_refuse(ch, "bad_state", "answers are given while the procedure is open");
	if ((q->answer = strdup(text ? text : "")) == NULL)
		return proc_change_refuse(ch, "internal", "out of memory");
	q->answered_at = ch->at;
	p->notify |= PROC_N_UPDATE;
	return PROC_CHANGE_NEXT;
}

/* Add "salt", 32 random hex digits, to a sealed submission's detail. */
static int
proc_salt(json_t *d)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	char salt[33];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (int i = 0; i < 16; i++) {
		salt[2 * i] = hex[r[i] >> 4];
		salt[2 * i + 1] = hex[r[i] & 15];
	}
	salt[32] = '\0';
	return json_object_set_new(d, "salt", json_string(salt));
}

/* "offer_submitted": a new offer or a revision of the organization's offer on the lot
 * (sealed until the opening). */
static int
proc_apply_offer_submitted(struct proc_change *ch)
{
	struct server *s = ch->s;
	struct proc *p = ch->p;
	const struct participant *who = ch->who;
	json_t *d = ch->d;
	const struct proc_doc_lot *dl = proc_doc_lot(p->doc, ji(d, "lot"));
	int64_t values[PROC_MAX_CRITERIA];
	struct proc_offer *o = NULL, *prev;
	struct proc_offer_extra *x;

	if (dl == NULL)
		return proc_change_refuse(ch, "not_found", "no such lot");
	if (proc_values(dl, json_object_get(d, "values"), values) < 0)
		return proc_change_refuse(ch, "bad_value",
		    "every stated criterion needs an integer value, by criterion code");
	ch->lot = ji(d, "lot");
	if ((x = proc_extra_of_detail(d, who, ch->fp)) == NULL)
		return proc_change_refuse(ch, "internal", "out of memory");
	prev = who ? proc_offer_of(&p->pr, ch->lot, who->org->id) : NULL;
	/* 128 random bits in the sealed body: its leaf and content hashes cannot be found by
	 * guessing the price (docs/trust.md) */
	if (!ch->replay && proc_salt(d) < 0) {
		proc_extra_free(x);
		return proc_change_refuse(ch, "internal", "no random bytes for the seal");
	}
	if (!ch->replay)
		json_object_set_new(d, "offer", json_integer(prev ? prev->id : s->next_offer_id));
	ch->e = proc_submit(&p->pr, ch->lot, who->org->id, ji(d, "offer"), ji(d, "price"), values,
	    ch->at, &o, &ch->ev);
	if (ch->e == PROC_OK) {
		ch->offer = o->id;
		if (ch->offer >= s->next_offer_id)
			s->next_offer_id = ch->offer + 1;
		json_object_set_new(d, "revision", json_integer(o->revision));
		/* a revision's details replace the offer's */
		proc_extra_free(map_get(&p->extras, ch->offer));
		if (map_put(&p->extras, ch->offer, x) < 0) {
			map_del(&p->extras, ch->offer);
			proc_extra_free(x);
		}
		x = NULL;
		ch->sealed = 1;
	}
	proc_extra_free(x);
	return PROC_CHANGE_NEXT;
}

/* "offer_withdrawn" and "offer_confirmed": of the organization's offer on the lot. */
static int
proc_apply_offer_status(struct proc_change *ch)
{
	struct proc *p = ch->p;
	int withdraw = ch->kind == PC_OFFER_WITHDRAWN;
	int64_t org = ch->who->org->id;
	const struct proc_event *c;
	struct proc_offer *o;

	ch->lot = ji(ch->d, "lot");
	ch->e = withdraw ? proc_withdraw(&p->pr, ch->lot, org, ch->at, &ch->ev) :
	    proc_confirm(&p->pr, ch->lot, org, ch->at, &ch->ev);
	c = proc_events_find(&ch->ev, PROC_EV_CONFIRMED);
	/* A confirmation changes needs_confirm or nothing: one that is not needed is
	 * refused, so confirmations are bounded by amendments (and two of them never
	 * write the same offer_revisions row). Old logs may hold such rows: replay
	 * takes them. */
	if (ch->e == PROC_OK && c != NULL && !c->confirm_needed && !ch->replay) {
		snprintf(proc_msg, sizeof(proc_msg), "the offer needs no confirmation: it was "
		    "submitted or confirmed after the last amendment (version %d)", p->pr.version);
		return proc_change_refuse(ch, "bad_state", proc_msg);
	}
	if (ch->e == PROC_OK && (o = proc_offer_of(&p->pr, ch->lot, org)) != NULL) {
		ch->offer = o->id;
		json_object_set_new(ch->d, "offer", json_integer(o->id));
		json_object_set_new(ch->d, "revision", json_integer(o->revision));
	}
	return PROC_CHANGE_NEXT;
}

/* "scored": the buyer's scores of an offer's scored criteria, all or none. */
static int
proc_apply_scored(struct proc_change *ch)
{
	struct server *s = ch->s;
	struct proc *p = ch->p;
	struct proc_offer *o = proc_offer_by_id(&p->pr, ji(ch->d, "offer"));
	const struct proc_doc_lot *dl = o ? proc_doc_lot(p->doc, o->lot_id) : NULL;
	struct proc_offer_extra *x;
	json_t *v;
	const char *k;

	if (o == NULL)
		return proc_change_refuse(ch, "not_found", "no such offer");
	x = map_get(&p->extras, o->id);
	if (!ch->replay && x && x->scorings >= s->cfg.max_scorings_per_offer)
		return proc_limit(ch->code, ch->message, "max_scorings_per_offer",
		    s->cfg.max_scorings_per_offer, "this offer has been scored as many times as "
		    "allowed");
	/* every score is checked before any is given: a refusal changes nothing */
	ch->e = proc_scores_check(p, o, dl, json_object_get(ch->d, "scores"));
	json_object_foreach(json_object_get(ch->d, "scores"), k, v) {
		if (ch->e != PROC_OK)
			break;
		ch->e = proc_score(&p->pr, o->id, proc_crit_index(dl, k), json_integer_value(v), ch->at,
		    &ch->ev);
	}
	if (ch->e == PROC_OK && x != NULL)
		x->scorings++;
	ch->offer = o->id;
	ch->lot = o->lot_id;
	return PROC_CHANGE_NEXT;
}

/* "awarded" and "disqualified": an offer of a lot (a disqualification keeps its reason). */
static int
proc_apply_decision(struct proc_change *ch)
{
	struct proc *p = ch->p;

	ch->lot = ji(ch->d, "lot");
	ch->offer = ji(ch->d, "offer");
	ch->e = ch->kind == PC_AWARDED ? proc_award(&p->pr, ch->lot, ch->offer, ch->at, &ch->ev) :
	    proc_disqualify(&p->pr, ch->lot, ch->offer, ch->at, &ch->ev);
	if (ch->e == PROC_OK && ch->kind == PC_DISQUALIFIED) {
		struct proc_offer_extra *x = map_get(&p->extras, ch->offer);
		const char *reason = js(ch->d, "reason");
		if (x && reason) {
			free(x->reason);
			x->reason = strdup(reason);
		}
	}
	return PROC_CHANGE_NEXT;
}

/* "auction_result": a tender_auction lot's auction ranking (organizations, best first). */
static int
proc_apply_auction_result(struct proc_change *ch)
{
	int64_t orgs[512];
	json_t *v;
	size_t i, n = 0;

	json_array_foreach(json_object_get(ch->d, "orgs"), i, v)
		if (n < 512)
			orgs[n++] = json_integer_value(v);
	ch->lot = ji(ch->d, "lot");
	ch->e = proc_auction_result(&ch->p->pr, ch->lot, orgs, (int)n, ch->at, &ch->ev);
	return PROC_CHANGE_NEXT;
}

/* "cancelled": with its reason. */
static int
proc_apply_cancelled(struct proc_change *ch)
{
	ch->e = proc_cancel(&ch->p->pr, ch->at, &ch->ev);
	if (ch->e == PROC_OK) {
		free(ch->p->cancel_reason);
		ch->p->cancel_reason = strdup(js(ch->d, "reason"));
	}
	return PROC_CHANGE_NEXT;
}

/* The reply to an applied change. */
enum proc_reply { PROC_REPLY_VIEW, PROC_REPLY_OFFER, PROC_REPLY_QUESTION };

/* The handler of each kind of change and the reply it gets. */
static const struct proc_change_handler {
	int (*apply)(struct proc_change *ch);
	enum proc_reply reply;
} proc_change_handlers[PC_NKINDS] = {
	[PC_CREATED] = { proc_apply_created, PROC_REPLY_VIEW },
	[PC_TICK] = { proc_apply_tick, PROC_REPLY_VIEW },
	[PC_TENDERING] = { proc_apply_tick, PROC_REPLY_VIEW },
	[PC_OPENED] = { proc_apply_tick, PROC_REPLY_VIEW },
	[PC_DECIDED] = { proc_apply_tick, PROC_REPLY_VIEW },
	[PC_PUBLISHED] = { proc_apply_published, PROC_REPLY_VIEW },
	[PC_AMENDED] = { proc_apply_amended, PROC_REPLY_VIEW },
	[PC_QUESTION_ASKED] = { proc_apply_question_asked, PROC_REPLY_QUESTION },
	[PC_QUESTION_ANSWERED] = { proc_apply_question_answered, PROC_REPLY_VIEW },
	[PC_OFFER_SUBMITTED] = { proc_apply_offer_submitted, PROC_REPLY_OFFER },
	[PC_OFFER_WITHDRAWN] = { proc_apply_offer_status, PROC_REPLY_OFFER },
	[PC_OFFER_CONFIRMED] = { proc_apply_offer_status, PROC_REPLY_OFFER },
	[PC_SCORED] = { proc_apply_scored, PROC_REPLY_VIEW },
	[PC_AWARDED] = { proc_apply_decision, PROC_REPLY_VIEW },
	[PC_DISQUALIFIED] = { proc_apply_decision, PROC_REPLY_VIEW },
	[PC_AUCTION_RESULT] = { proc_apply_auction_result, PROC_REPLY_VIEW },
	[PC_CANCELLED] = { proc_apply_cancelled, PROC_REPLY_VIEW },
	[PC_COMPLETED] = { proc_apply_completed, PROC_REPLY_VIEW },
};

/* The common end of an applied change: a limit or engine refusal, else (live) its
 * log row, the transitions on the way and the reply. */
static int
proc_apply_end(struct proc_change *ch, enum proc_reply r)
{
	struct server *s = ch->s;
	struct proc *p = ch->p;

	/* A refused command may still have moved the procedure along the clock on its way
	 * (a request read in the millisecond between a deadline and its timer): those moves are
	 * changes of their own, logged and told as the timer's tick would have. */
	if (ch->e != PROC_OK && !ch->replay)
		proc_events_apply(s, p, &ch->ev, 1, ch->at);
	if (ch->e == PROC_E_LIMIT && ch->kind == PC_AMENDED)
		return proc_limit(ch->code, ch->message, "max_amendments_per_procedure",
		    s->cfg.max_amendments_per_procedure, "this procurement has been amended as many "
		    "times as allowed");
	if (ch->e == PROC_E_LIMIT)
		return proc_limit(ch->code, ch->message, "max_offer_revisions", s->cfg.max_offer_revisions,
		    "this organization has submitted its offer on this lot as many times as allowed");
	if (ch->e != PROC_OK)
		return proc_refuse(p, ch->kind, ch->e, ch->at, ch->lot, ch->code, ch->message);
	if (ch->replay)
		return 1;
	proc_log(s, p, proc_change_name(ch->kind), ch->at, ch->who, ch->fp, ch->lot, ch->offer,
	    ch->sealed, ch->d);
	proc_events_apply(s, p, &ch->ev, 0, ch->at);
	if (r == PROC_REPLY_OFFER) {
		struct proc_offer *o = proc_offer_by_id(&p->pr, ch->offer);
		*ch->reply = json_pack("{s:b, s:I, s:I, s:i, s:s, s:o}", "ok", 1, "offer",
		    (json_int_t)ch->offer, "lot", (json_int_t)ch->lot, "revision", o ? o->revision : 0,
		    "status", o ? proc_offer_status_name(o->status) : "?", "at", proto_time(ch->at));
	} else if (r == PROC_REPLY_QUESTION) {
		*ch->reply = json_pack("{s:b, s:I}", "ok", 1, "question", ji(ch->d, "question"));
	} else {
		*ch->reply = json_pack("{s:b, s:o}", "ok", 1, "procurement", proc_view(s, p, ch->who));
	}
	return 1;
}

/* Apply one change of a known kind (see proc_apply). Dispatches to the handler of its
 * kind. */
static int
proc_apply_kind(struct server *s, enum proc_change_kind kind, json_t *d, struct proc_doc **doc,
    int64_t at, const struct participant *who, const char *fp, int replay, json_t **reply,
    const char **code, const char **message)
{
	const struct proc_change_handler *k = &proc_change_handlers[kind];
	struct proc_change ch = { .s = s, .kind = kind, .d = d, .doc = doc, .at = at, .who = who, .fp = fp,
	    .replay = replay, .reply = reply, .code = code, .message = message, .e = PROC_OK };
	int r;

	proc_field = NULL;
	if (kind == PC_CREATED)
		return proc_apply_created(&ch);
	if ((ch.p = proc_get(s, ji(d, "procurement"))) == NULL)
		return proc_change_refuse(&ch, "not_found", "no such procurement");
	if (proc_touch(s, ch.p, replay) < 0)
		return proc_change_refuse(&ch, "internal", "out of memory");
	/* The engine refuses beyond these, after its other checks; replay applies what was
	 * recorded whatever the limits are now. */
	ch.p->pr.max_amendments = replay ? 0 : (int)s->cfg.max_amendments_per_procedure;
	ch.p->pr.max_revisions = replay ? 0 : (int)s->cfg.max_offer_revisions;
	if ((r = k->apply(&ch)) != PROC_CHANGE_NEXT)
		return r;
	return proc_apply_end(&ch, k->reply);
}

/* Apply one change; see server.h. An unknown kind is refused. */
int
proc_apply(struct server *s, const char *kind, json_t *d, int64_t at,
    const struct participant *who, const char *fp, int replay, json_t **reply,
    const char **code, const char **message)
{
	enum proc_change_kind k;

	if (proc_change_parse(kind, &k) < 0) {
		proc_field = NULL;
		*code = "internal";
		*message = "unknown procedure change";
		return 0;
	}
	return proc_apply_kind(s, k, d, NULL, at, who, fp, replay, reply, code, message);
}

/* A tender_auction lot's auction closed: its ranking decides the lot. */
void
proc_auction_closed(struct server *s, struct book *b)
{
	struct proc *p = proc_get(s, b->proc_id);
	json_t *orgs = json_array(), *d, *reply = NULL;
	const char *code, *message;

	if (p == NULL) {
		json_decref(orgs);
		return;
	}
	for (size_t i = 0; i < b->a.nentries; i++)
		json_array_append_new(orgs, json_integer(auction_at_rank(&b->a, (int)i + 1)->org));
	d = json_pack("{s:I, s:I, s:I, s:o}", "procurement", (json_int_t)p->pr.id, "lot",
	    (json_int_t)b->lot_id, "auction", (json_int_t)b->a.id, "orgs", orgs);
	if (!proc_apply_kind(s, PC_AUCTION_RESULT, d, NULL, b->a.closed_at, NULL, NULL, 0, &reply,
	    &code, &message))
		log_error("procurement=%lld lot=%d auction result refused: %s", (long long)p->pr.id,
		    b->lot_id, code);
	json_decref(reply);
	json_decref(d);
}

/* Start-up: replay one log row. */
int
proc_replay(struct server *s, const struct db_boot_proc_log *r)
{
	json_error_t err;
	json_t *d = json_loads(r->detail, 0, &err), *reply = NULL;
	const struct participant *who = r->participant_id ?
	    map_get(&s->participants, r->participant_id) : NULL;
	const char *code = NULL, *message = NULL;
	int ok;

	if (d == NULL)
		return -1;
	json_object_set_new(d, "procurement", json_integer(r->procurement_id));
	if (strcmp(r->kind, "created") == 0)
		json_object_set_new(d, "procurement", json_integer(r->procurement_id));
	ok = proc_apply(s, r->kind, d, r->at, who, r->fingerprint, 1, &reply, &code, &message);
	if (ok && strcmp(r->kind, "offer_submitted") == 0) {
		struct proc *p = proc_get(s, r->procurement_id);
		struct proc_offer_extra *x = p ? map_get(&p->extras, ji(d, "offer")) : NULL;
		if (x && (x->sealed_body = strdup(r->detail)) == NULL)
			ok = 0;
	}
	json_decref(reply);
	json_decref(d);
	if (!ok)
		log_error("procurement=%lld replay of %s refused: %s", (long long)r->procurement_id,
		    r->kind, code ? code : "?");
	return ok ? 0 : -1;
}

/* Free every procedure (shutdown). */
void
proc_free_all(struct server *s)
{
	size_t it = 0;
	void *v;

	while (map_next(&s->procs, &it, NULL, NULL, &v))
		proc_free_one(v);
}

/* Find a procedure. */
static struct proc *
proc_get(struct server *s, int64_t id)
{
	return map_get(&s->procs, id);
}

/* ---- request handlers ---- */

/* The procedure named by "procurement", visible to the caller; NULL after an error reply. */
static struct proc *
proc_arg(struct server *s, struct conn *c, json_t *id, json_t *req)
{
	int64_t pid;
	struct proc *p;

	if (proto_get_int(c, req, "procurement", 1, &pid) != 0)
		return NULL;
	p = proc_get(s, pid);
	if (p == NULL || !proc_visible(p, conn_ident(c)->who)) {
		proc_err(c, id, "not_found", "no such procurement", "procurement");
		return NULL;
	}
	return p;
}

/* Refuse unless the caller is the owning buyer (or, when allowed, an operator). */
static int
proc_require_owner(struct conn *c, json_t *id, const struct proc *p, int operator_ok)
{
	const struct participant *v = conn_ident(c)->who;

	if (proc_is_owner(p, v) || (operator_ok && v->role == ROLE_OPERATOR))
		return 0;
	proc_err(c, id, "forbidden", operator_ok ? "only the owning buyer or an operator may do this" :
	    "only the buyer that owns this procurement may do this", NULL);
	return -1;
}

/* Queue a change of `p` with a detail object and a request's document (both stolen;
 * doc may be NULL). */
static void
proc_queue_doc(struct server *s, struct conn *c, json_t *id, enum proc_change_kind kind,
    struct proc *p, json_t *d, struct proc_doc *doc)
{
	json_object_set_new(d, "procurement", json_integer(p ? p->pr.id : ji(d, "procurement")));
	proc_enqueue(s, c, id, kind, d, doc, p ? p->pr.id : ji(d, "procurement"));
}

/* Queue a change of `p` with a detail object (stolen). */
static void
proc_queue(struct server *s, struct conn *c, json_t *id, enum proc_change_kind kind,
    struct proc *p, json_t *d)
{
	proc_queue_doc(s, c, id, kind, p, d, NULL);
}

/* Queue the change the operation's row names (server/optab.c) with a detail and a
 * request's document (both stolen; doc may be NULL). */
static void
proc_queue_op_doc(struct server *s, struct conn *c, json_t *id, const struct optab_op *op,
    struct proc *p, json_t *d, struct proc_doc *doc)
{
	enum proc_change_kind k;

	if (proc_change_parse(op->kind, &k) < 0) {
		json_decref(d);
		proc_doc_unref(doc);
		proc_err(c, id, "internal", "unknown procedure change", NULL);
		return;
	}
	proc_queue_doc(s, c, id, k, p, d, doc);
}

/* Queue the change the operation's row names with a detail (stolen). */
static void
proc_queue_op(struct server *s, struct conn *c, json_t *id, const struct optab_op *op,
    struct proc *p, json_t *d)
{
	proc_queue_op_doc(s, c, id, op, p, d, NULL);
}

/* Reply with the view now, or after the batch in flight when it changed it. */
static void
proc_reply_view(struct server *s, struct conn *c, json_t *id, struct proc *p)
{
	json_t *r;

	if (p->tx.dirty) {
		txn_park(s, c, id, &proc_txn, p->pr.id);
		return;
	}
	r = proto_ok(id);
	json_object_set_new(r, "procurement", proc_view(s, p, conn_ident(c)->who));
	conn_send(c, r);
}

/* A parked procurement.get or procurement.watch: the view now (not_found when gone
 * or hidden). */
static json_t *
proc_read(struct server *s, int64_t pid, json_t *req_id, const struct participant *v)
{
	struct proc *p = proc_get(s, pid);
	json_t *r;

	if (p == NULL || !proc_visible(p, v))
		return proto_error(req_id, "not_found", "no such procurement", NULL);
	r = proto_ok(req_id);
	json_object_set_new(r, "procurement", proc_view(s, p, v));
	return r;
}

/* Newest first. */
static int
proc_cmp(const void *x, const void *y)
{
	const struct proc *a = *(struct proc *const *)x, *b = *(struct proc *const *)y;

	return a->pr.id < b->pr.id ? 1 : a->pr.id > b->pr.id ? -1 : 0;
}

/* procurement.list: summaries, newest first, a page at a time, by state, kind and buyer. */
void
proc_op_list(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct participant *v = conn_ident(c)->who;
	struct ops_list l;
	struct proc **all;
	size_t n = 0, it = 0;
	json_t *arr, *r;
	void *pv;
	int st = 0;
	enum proc_kind k = (enum proc_kind)0;

	if (ops_list_args(c, id, req, &l) < 0)
		return;
	for (int i = PROC_DRAFT; l.state && i <= PROC_CANCELLED && !st; i++)
		st = strcmp(l.state, proc_state_name((enum proc_state)i)) == 0;
	if (l.state && !st) {
		proc_err(c, id, "bad_field", "state must be draft, published, tendering, opened, "
		    "evaluation, awarded, complete, unsuccessful or cancelled",
		    json_object_get(req, "state") ? "state" : "status");
		return;
	}
	if (l.kind && proc_kind_parse(l.kind, &k) < 0) {
		proc_err(c, id, "bad_field", "kind must be rfq, tender or tender_auction", "kind");
		return;
	}
	if ((all = calloc(s->procs.len + 1, sizeof(*all))) == NULL) {
		proc_err(c, id, "internal", "out of memory", NULL);
		return;
	}
	while (map_next(&s->procs, &it, NULL, NULL, &pv)) {
		struct proc *p = pv;
		if (p->tx.created_batch >= 0 || !proc_visible(p, v) || p->pr.id >= l.after)
			continue;  /* not yet committed, hidden, or on an earlier page */
		if ((l.state && strcmp(l.state, proc_state_name(p->pr.state)) != 0) ||
		    (l.kind && k != p->pr.p.kind) || (l.buyer >= 0 && p->pr.p.buyer_org != l.buyer))
			continue;
		all[n++] = p;
	}
	qsort(all, n, sizeof(*all), proc_cmp);
	arr = json_array();
	for (size_t i = 0; i < n && i < (size_t)l.limit; i++) {
		struct proc *p = all[i];
		struct org *buyer = map_get(&s->orgs, p->pr.p.buyer_org);
		json_t *x = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:i}", "id", (json_int_t)p->pr.id,
		    "kind", proc_kind_name(p->pr.p.kind), "state", proc_state_name(p->pr.state),
		    "title", p->doc->title, "buyer", buyer ? buyer->name : "?",
		    "lots", p->pr.nlots, "version", p->pr.version);
		json_object_set_new(x, "submission_deadline", proto_time(p->pr.p.submission_deadline));
		json_object_set_new(x, "opening_at", proto_time(p->pr.p.opening_at));
		json_array_append_new(arr, x);
	}
	r = proto_ok(id);
	json_object_set_new(r, "procurements", arr);
	json_object_set_new(r, "next", ops_list_next(n > (size_t)l.limit,
	    n > (size_t)l.limit ? all[l.limit - 1]->pr.id : 0));
	free(all);
	conn_send(c, r);
}

/* procurement.watch / procurement.unwatch (the row's arg: 1 watch, 0 unwatch): at most
 * max_watches_per_conn per connection and max_watchers_per_procedure per procurement. */
void
proc_op_watch(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	int on = op->arg;
	struct proc *p = proc_arg(s, c, id, req);
	char why[256];
	int64_t since = -1;
	int rc;

	if (p == NULL)
		return;
	if (!on) {
		watch_del(s, c, WATCH_PROC, p->pr.id, &p->watchers);
		conn_send(c, proto_ok(id));
		return;
	}
	if (proto_get_int(c, req, "since", 0, &since) < 0)
		return;
	if ((rc = watch_add(s, c, WATCH_PROC, p->pr.id, &p->watchers, why, sizeof(why))) < 0) {
		proc_err(c, id, rc == -1 ? "limit_exceeded" : "internal", why, NULL);
		return;
	}
	if (since < 0) {
		proc_reply_view(s, c, id, p);
	} else if (p->tx.dirty) {
		txn_park_since(s, c, id, &proc_txn, p->pr.id, since);
	} else {
		json_t *r = proto_ok(id);
		json_object_set_new(r, "procurement", proc_view(s, p, conn_ident(c)->who));
		json_object_set_new(r, "changed", json_boolean(p->tx.seq > since));
		conn_send(c, r);
	}
}

/* document.get: a document's content, checked against its hash on the way in. */
void
proc_op_document_get(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p = proc_arg(s, c, id, req);
	json_t *r;
	int64_t did;

	if (p == NULL || proto_get_int(c, req, "document", 1, &did) != 0)
		return;
	if (did < 1 || (size_t)did > p->doc->nfiles) {
		proc_err(c, id, "not_found", "no such document", "document");
		return;
	}
	r = proto_ok(id);
	json_object_set_new(r, "document", proc_file_json(p->doc->files[did - 1], 1));
	conn_send(c, r);
}

/* Copy optional offer details (delivery, validity, comment) into a detail. */
static int
proc_offer_extras(struct conn *c, json_t *id, json_t *req, json_t *d)
{
	const char *comment = NULL;
	int64_t v;
	int rc;

	if ((rc = proto_get_int(c, req, "delivery_days", 0, &v)) < 0)
		return -1;
	if (rc == 0)
		json_object_set_new(d, "delivery_days", json_integer(v));
	if ((rc = proto_get_int(c, req, "validity_days", 0, &v)) < 0)
		return -1;
	if (rc == 0)
		json_object_set_new(d, "validity_days", json_integer(v));
	if ((rc = proto_get_str(c, req, "comment", 0, 2000, &comment)) < 0)
		return -1;
	if (rc == 0)
		json_object_set_new(d, "comment", json_string(comment));
	return 0;
}

/* quote.* and bid.* (suppliers): submit, withdraw, confirm; the row gives the change
 * (`kind`) and whether it is an RFQ's quote (arg 1) or a tender's bid (arg 0). */
void
proc_op_offer(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	int rfq = op->arg;
	enum proc_change_kind k;
	struct proc *p;
	int64_t lot, price;
	json_t *d, *vals;
	char msg[128];

	if ((p = proc_arg(s, c, id, req)) == NULL)
		return;
	if ((p->pr.p.kind == PROC_RFQ) != rfq) {
		snprintf(msg, sizeof(msg), "%s is for %s; this procurement is a %s", op->name,
		    rfq ? "RFQs (use bid.* for tenders)" : "tenders (use quote.* for RFQs)",
		    proc_kind_name(p->pr.p.kind));
		proc_err(c, id, "wrong_kind", msg, NULL);
		return;
	}
	if (proto_get_int(c, req, "lot", 1, &lot) != 0)
		return;
	d = json_pack("{s:I}", "lot", (json_int_t)lot);
	if (proc_change_parse(op->kind, &k) == 0 && k == PC_OFFER_SUBMITTED) {
		const char *ptext;
		if (proto_get_str(c, req, "price", 1, 40, &ptext) != 0 ||
		    proc_offer_extras(c, id, req, d) < 0) {
			json_decref(d);
			return;
		}
		if (ptext[0] == '-' && money_parse(ptext + 1, p->exp, &price) == 0) {
			json_decref(d);
			proc_err(c, id, "bad_price", "the price must be above zero", "price");
			return;
		}
		if (money_parse(ptext, p->exp, &price) < 0) {
			json_decref(d);
			snprintf(msg, sizeof(msg), "price must be a decimal string with at most %d fraction "
			    "digits", p->exp);
			proc_err(c, id, "bad_field", msg, "price");
			return;
		}
		vals = json_object_get(req, "values");
		if (vals && !json_is_object(vals)) {
			json_decref(d);
			proc_err(c, id, "bad_field", "values must be an object: criterion code -> integer",
			    "values");
			return;
		}
		json_object_set_new(d, "price", json_integer(price));
		json_object_set_new(d, "values", vals ? json_deep_copy(vals) : json_object());
	}
	proc_queue_op(s, c, id, op, p, d);
}

/* procurement.create (buyers): a draft of the caller's organization. */
void
proc_op_create(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct participant *v = conn_ident(c)->who;
	struct proc_doc *doc;
	json_t *d;

	if ((doc = proc_parse_doc(s, c, id, req, NULL)) == NULL)
		return;
	d = json_pack("{s:I, s:I, s:I, s:o}", "procurement", (json_int_t)s->next_proc_id++,
	    "buyer_participant", (json_int_t)v->id, "buyer_org", (json_int_t)v->org->id,
	    "document", proc_doc_log_json(doc, 1));
	proc_queue_op_doc(s, c, id, op, NULL, d, doc);
}

/* procurement.publish / procurement.complete (the owning buyer): the row's change. */
void
proc_op_publish(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0)
		return;
	proc_queue_op(s, c, id, op, p, json_object());
}

/* procurement.amend (the owning buyer): the whole document again, with a reason. */
void
proc_op_amend(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;
	const char *text;
	struct proc_doc *doc;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0 ||
	    proto_get_str(c, req, "reason", 1, 1000, &text) != 0)
		return;
	if ((doc = proc_parse_doc(s, c, id, req, p->doc)) == NULL)
		return;
	/* the row holds the amendment only: its fields and the documents it adds */
	proc_queue_op_doc(s, c, id, op, p, json_pack("{s:s, s:o, s:o}", "reason", text,
	    "document", proc_doc_log_json(doc, 0), "documents", proc_files_json(doc, 1)), doc);
}

/* procurement.cancel (the owning buyer or any operator), with a reason. */
void
proc_op_cancel(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;
	const char *text;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 1) < 0 ||
	    proto_get_str(c, req, "reason", 1, 1000, &text) != 0)
		return;
	proc_queue_op(s, c, id, op, p, json_pack("{s:s}", "reason", text));
}

/* procurement.get: the view, parked while the batch in flight changes it. */
void
proc_op_get(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;

	if ((p = proc_arg(s, c, id, req)) != NULL)
		proc_reply_view(s, c, id, p);
}

/* question.ask (suppliers). */
void
proc_op_question_ask(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;
	const char *text;

	if ((p = proc_arg(s, c, id, req)) == NULL ||
	    proto_get_str(c, req, "text", 1, 4000, &text) != 0)
		return;
	proc_queue_op(s, c, id, op, p, json_pack("{s:s}", "text", text));
}

/* question.answer (the owning buyer). */
void
proc_op_question_answer(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;
	const char *text;
	int64_t n;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0 ||
	    proto_get_int(c, req, "question", 1, &n) != 0 ||
	    proto_get_str(c, req, "text", 1, 4000, &text) != 0)
		return;
	proc_queue_op(s, c, id, op, p, json_pack("{s:I, s:s}", "question",
	    (json_int_t)n, "text", text));
}

/* bid.score (the owning buyer): scores of an offer's scored criteria. */
void
proc_op_score(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	json_t *sc = json_object_get(req, "scores");
	struct proc *p;
	int64_t n;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0 ||
	    proto_get_int(c, req, "offer", 1, &n) != 0)
		return;
	if (!json_is_object(sc) || json_object_size(sc) == 0) {
		proc_err(c, id, "bad_field", "scores must be an object: criterion code -> integer",
		    "scores");
		return;
	}
	proc_queue_op(s, c, id, op, p, json_pack("{s:I, s:O}", "offer", (json_int_t)n,
	    "scores", sc));
}

/* award.decide (the owning buyer): award or disqualify a lot's first-ranked offer. */
void
proc_op_award(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *decision, *reason = NULL;
	enum proc_change_kind k;
	struct proc *p;
	int64_t lot, n;
	json_t *d;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0 ||
	    proto_get_int(c, req, "lot", 1, &lot) != 0 ||
	    proto_get_int(c, req, "offer", 1, &n) != 0 ||
	    proto_get_str(c, req, "decision", 1, 20, &decision) != 0 ||
	    proto_get_str(c, req, "reason", 0, 1000, &reason) < 0)
		return;
	if (strcmp(decision, "award") == 0)
		k = PC_AWARDED;
	else if (strcmp(decision, "disqualify") == 0)
		k = PC_DISQUALIFIED;
	else {
		proc_err(c, id, "bad_field", "decision must be award or disqualify", "decision");
		return;
	}
	if (k == PC_DISQUALIFIED && reason == NULL) {
		proc_err(c, id, "missing_field", "a disqualification needs a reason", "reason");
		return;
	}
	d = json_pack("{s:I, s:I}", "lot", (json_int_t)lot, "offer", (json_int_t)n);
	if (reason)
		json_object_set_new(d, "reason", json_string(reason));
	proc_queue(s, c, id, k, p, d);
}

/* ---- on the write path (txn.h) ---- */

/* The procedure holding a write path's bookkeeping. */
static struct proc *
proc_of(struct txn_obj *o)
{
	return (struct proc *)((char *)o - offsetof(struct proc, tx));
}

/* A procedure's state before one batch first changed it. */
struct proc_mark {
	struct procedure pr;
	struct proc_doc *doc;              /* never changed in place: replaced whole */
	struct map extras;                 /* a copy of `extras` */
	struct proc_questions questions;   /* a copy of `questions` */
	char *cancel;
	unsigned notify;                   /* changes of earlier batches not yet told */
};

/* Forget a mark. */
static void
proc_unmark(struct proc_mark *m)
{
	proc_free(&m->pr);
	proc_doc_unref(m->doc);
	proc_questions_free(&m->questions);
	proc_extras_free(&m->extras);
	free(m->cancel);
	free(m);
}

/* Remember the procedure before the batch first changes it. */
static void *
proc_mark(struct server *s, struct txn_obj *o)
{
	struct proc *p = proc_of(o);
	struct proc_mark *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (proc_copy(&m->pr, &p->pr) < 0) {
		free(m);
		return NULL;
	}
	if (proc_questions_copy(&m->questions, &p->questions) < 0) {
		proc_free(&m->pr);
		free(m);
		return NULL;
	}
	if (proc_extras_copy(&m->extras, &p->extras) < 0) {
		proc_questions_free(&m->questions);
		proc_free(&m->pr);
		free(m);
		return NULL;
	}
	m->doc = p->doc;
	p->doc->refs++;
	m->cancel = p->cancel_reason ? strdup(p->cancel_reason) : NULL;
	m->notify = p->notify;
	return m;
}

/* Broadcast what the committed batches changed; re-arm. */
static void
proc_tell(struct server *s, struct proc *p)
{
	if (p->notify & PROC_N_CLOSED)
		proc_broadcast(s, p, "procurement.update", "cancelled");
	else if (p->notify & PROC_N_AMENDED)
		proc_broadcast(s, p, "procurement.update", "amended");
	else if (p->notify & PROC_N_AWARDED)
		proc_broadcast(s, p, "procurement.update", "decided");
	else if (p->notify & PROC_N_OPENED)
		proc_broadcast(s, p, "procurement.update", "opened");
	else if (p->notify & PROC_N_UPDATE)
		proc_broadcast(s, p, "procurement.update", "changed");
	else if (p->notify & PROC_N_OFFERS)
		proc_broadcast(s, p, "procurement.update", "offers");
	p->notify = 0;
	proc_arm(s, p);
}

/* The batch committed: forget the mark; once no later batch in flight changed the
 * procedure, broadcast (a later batch's commit tells both). */
static void
proc_commit(struct server *s, struct txn_obj *o, void *mark, int settled)
{
	proc_unmark(mark);
	if (settled)
		proc_tell(s, proc_of(o));
}

/* The batch failed: restore the procedure to its mark; when earlier batches
 * committed changes not yet told, tell them now. */
static void
proc_rollback(struct server *s, struct txn_obj *o, void *mark, int settled)
{
	struct proc *p = proc_of(o);
	struct proc_mark *m = mark;

	proc_free(&p->pr);
	p->pr = m->pr;
	memset(&m->pr, 0, sizeof(m->pr));
	proc_doc_unref(p->doc);
	proc_questions_free(&p->questions);
	proc_extras_free(&p->extras);
	p->doc = m->doc;
	m->doc = NULL;
	p->questions = m->questions;
	memset(&m->questions, 0, sizeof(m->questions));
	p->extras = m->extras;
	map_init(&m->extras, 0);
	free(p->cancel_reason);
	p->cancel_reason = m->cancel;
	m->cancel = NULL;
	p->notify = m->notify;
	p->tick_queued = 0;
	proc_unmark(m);
	if (settled)
		proc_tell(s, p);
	else
		proc_arm(s, p);
}

/* The batch that created the procedure failed: it never existed. */
static void
proc_drop(struct server *s, struct txn_obj *o, void *mark)
{
	struct proc *p = proc_of(o);

	map_del(&s->procs, p->pr.id);
	proc_unmark(mark);
	proc_free_one(p);
}

/* The bookkeeping of procedure `id`, NULL when there is none. */
static struct txn_obj *
proc_find(struct server *s, int64_t id)
{
	struct proc *p = proc_get(s, id);

	return p ? &p->tx : NULL;
}

/* Re-arm every procedure's timer. */
static void
proc_rearm(struct server *s)
{
	size_t it = 0;
	void *v;

	while (map_next(&s->procs, &it, NULL, NULL, &v))
		proc_arm(s, v);
}

const struct txn_kind proc_txn = {
	proc_mark, proc_commit, proc_rollback, proc_drop, proc_read, proc_rearm, proc_find,
};
