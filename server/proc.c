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
	json_t *q;
	size_t i;
	long n = 0;

	json_array_foreach(p->questions, i, q)
		n += ji(q, "asked_by_org") == org;
	return n;
}

/* The questions as everyone sees them: never who asked. */
static json_t *
proc_questions_public(json_t *questions)
{
	json_t *out = json_array(), *q;
	size_t i;

	json_array_foreach(questions, i, q) {
		json_t *x = json_copy(q);
		json_object_del(x, "asked_by_org");
		json_array_append_new(out, x);
	}
	return out;
}

/* ---- engine parameters from a document ---- */

/* Fill engine params and lots from a normalized document. */
static void
proc_from_doc(json_t *doc, int64_t buyer_org, struct proc_params *pp, struct proc_lot *lots,
    int *nlots)
{
	json_t *jl, *jc;
	size_t i, j;

	memset(pp, 0, sizeof(*pp));
	proc_kind_parse(js(doc, "kind"), &pp->kind);
	pp->buyer_org = buyer_org;
	pp->enquiry_end = ji(doc, "enquiry_end");
	pp->submission_deadline = ji(doc, "submission_deadline");
	pp->opening_at = ji(doc, "opening_at");
	pp->min_bids = (int)ji(doc, "min_bids");
	*nlots = 0;
	json_array_foreach(json_object_get(doc, "lots"), i, jl) {
		struct proc_lot *l = &lots[*nlots];
		memset(l, 0, sizeof(*l));
		l->id = ji(jl, "id");
		l->max_price = ji(jl, "max_price");
		json_array_foreach(json_object_get(jl, "criteria"), j, jc) {
			struct proc_criterion *c = &l->crit[l->ncrit++];
			proc_crit_kind_parse(js(jc, "kind"), &c->kind);
			c->weight_bp = ji(jc, "weight_bp");
			c->higher_better = js(jc, "better") && strcmp(js(jc, "better"), "higher") == 0;
			c->min = ji(jc, "min");
			c->max = ji(jc, "max");
			if (l->ncrit == PROC_MAX_CRITERIA)
				break;
		}
		if (++*nlots == PROC_MAX_LOTS)
			break;
	}
}

/* Criterion index of a code in a lot, -1 when none. */
static int
proc_crit_index(json_t *jlot, const char *code)
{
	json_t *jc;
	size_t j;

	json_array_foreach(json_object_get(jlot, "criteria"), j, jc)
		if (strcmp(js(jc, "code"), code) == 0)
			return (int)j;
	return -1;
}

/* The document's lot object with this id. */
static json_t *
proc_doc_lot(json_t *doc, int64_t lot_id)
{
	json_t *jl;
	size_t i;

	json_array_foreach(json_object_get(doc, "lots"), i, jl)
		if (ji(jl, "id") == lot_id)
			return jl;
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

/* Parse one criterion; `ci` is its index in the lot. */
static json_t *
proc_parse_criterion(struct conn *c, json_t *id, json_t *jc, int ci)
{
	const char *code = js(jc, "code"), *name = js(jc, "name"), *kind = js(jc, "kind");
	const char *w = js(jc, "weight"), *better = js(jc, "better");
	enum proc_crit_kind k;
	int64_t bp;
	json_t *out;

	if (!json_is_object(jc) || kind == NULL || proc_crit_kind_parse(kind, &k) < 0) {
		proc_err(c, id, "bad_field", "each criterion needs a kind: price, stated or scored",
		    "criteria");
		return NULL;
	}
	if ((ci == 0) != (k == CRIT_PRICE)) {
		proc_err(c, id, "bad_field", "the first criterion, and only it, is the price", "criteria");
		return NULL;
	}
	if (w == NULL || proc_parse_weight(w, &bp) < 0) {
		proc_err(c, id, "bad_field", "each criterion needs a weight in percent, as a string "
		    "(\"60\", \"12.5\")", "criteria");
		return NULL;
	}
	if (k != CRIT_PRICE && (code == NULL || strlen(code) == 0 ||
	    text_len(code, strlen(code)) > 40)) {
		proc_err(c, id, "bad_field", "non-price criteria need a code (1-40 chars)", "criteria");
		return NULL;
	}
	out = json_pack("{s:s, s:s, s:s, s:I}", "code", k == CRIT_PRICE ? "price" : code,
	    "name", name ? name : (k == CRIT_PRICE ? "Price" : code), "kind", kind,
	    "weight_bp", (json_int_t)bp);
	if (k == CRIT_STATED) {
		json_t *mn = json_object_get(jc, "min"), *mx = json_object_get(jc, "max");
		if (!json_is_integer(mn) || !json_is_integer(mx) ||
		    json_integer_value(mn) >= json_integer_value(mx) ||
		    (better && strcmp(better, "higher") && strcmp(better, "lower")) || better == NULL) {
			json_decref(out);
			proc_err(c, id, "bad_field", "a stated criterion needs integer min < max and better: "
			    "higher or lower", "criteria");
			return NULL;
		}
		json_object_set(out, "min", mn);
		json_object_set(out, "max", mx);
		json_object_set_new(out, "better", json_string(better));
		if (js(jc, "unit"))
			json_object_set_new(out, "unit", json_string(js(jc, "unit")));
	} else if (k == CRIT_SCORED) {
		json_t *mx = json_object_get(jc, "max");
		if (!json_is_integer(mx) || json_integer_value(mx) < 1 || json_integer_value(mx) > 1000) {
			json_decref(out);
			proc_err(c, id, "bad_field", "a scored criterion needs an integer max (1-1000)",
			    "criteria");
			return NULL;
		}
		json_object_set_new(out, "min", json_integer(0));
		json_object_set(out, "max", mx);
	}
	return out;
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

/* Parse documents: name, media_type, and content (base64) or size + sha256. */
static json_t *
proc_parse_documents(struct server *s, struct conn *c, json_t *id, json_t *jdocs, int first_id)
{
	json_t *out = json_array(), *jd;
	size_t i, max = (size_t)s->cfg.max_document;
	unsigned char *buf = NULL;
	char msg[128];

	if (jdocs == NULL)
		return out;
	if (!json_is_array(jdocs) || json_array_size(jdocs) > PROC_MAX_DOCS) {
		proc_err(c, id, "bad_field", "documents must be an array of at most 20", "documents");
		goto fail;
	}
	if ((long)(first_id - 1 + json_array_size(jdocs)) > s->cfg.max_documents_per_procedure) {
		snprintf(msg, sizeof(msg), "max_documents_per_procedure (%ld) reached: the procurement "
		    "has %d documents and this adds %zu", s->cfg.max_documents_per_procedure, first_id - 1,
		    json_array_size(jdocs));
		proc_err(c, id, "limit_exceeded", msg, "documents");
		goto fail;
	}
	json_array_foreach(jdocs, i, jd) {
		const char *name = js(jd, "name"), *mt = js(jd, "media_type"), *content = js(jd, "content");
		const char *sha = js(jd, "sha256");
		unsigned char md[32];
		char hex[65];
		json_t *d;
		int n;

		if (name == NULL || mt == NULL || text_len(name, strlen(name)) > 200 ||
		    strlen(mt) > 100) {
			proc_err(c, id, "bad_field", "a document needs a name and a media_type", "documents");
			goto fail;
		}
		d = json_pack("{s:i, s:s, s:s}", "id", first_id + (int)i, "name", name, "media_type", mt);
		if (content) {
			if (buf == NULL && (buf = malloc(max + 3)) == NULL) {
				json_decref(d);
				proc_err(c, id, "internal", "out of memory", NULL);
				goto fail;
			}
			if ((n = proc_b64_decode(content, buf, max + 3)) < 0 || (size_t)n > max) {
				json_decref(d);
				snprintf(msg, sizeof(msg), "document content must be base64 of at most %zu "
				    "bytes (max_document)", max);
				proc_err(c, id, "bad_field", msg, "documents");
				goto fail;
			}
			EVP_Digest(buf, (size_t)n, md, NULL, EVP_sha256(), NULL);
			for (int b = 0; b < 32; b++)
				snprintf(hex + 2 * b, 3, "%02x", md[b]);
			if (sha && strcmp(sha, hex) != 0) {
				json_decref(d);
				proc_err(c, id, "bad_field", "document content does not match its sha256",
				    "documents");
				goto fail;
			}
			json_object_set_new(d, "size", json_integer(n));
			json_object_set_new(d, "sha256", json_string(hex));
			json_object_set_new(d, "content", json_string(content));
		} else {
			json_t *sz = json_object_get(jd, "size");
			if (sha == NULL || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64 ||
			    !json_is_integer(sz) || json_integer_value(sz) < 0) {
				json_decref(d);
				proc_err(c, id, "bad_field", "a document without content needs size and a "
				    "lower-case hex sha256", "documents");
				goto fail;
			}
			json_object_set(d, "size", sz);
			json_object_set_new(d, "sha256", json_string(sha));
			json_object_set_new(d, "content", json_null());
		}
		json_array_append_new(out, d);
	}
	free(buf);
	return out;
fail:
	free(buf);
	json_decref(out);
	return NULL;
}

/* The header of a procurement document (title, description, kind, currency,
 * deadlines, min_bids) as a new document with an empty "lots" array; the kind
 * and the currency's exponent into *k and *exp. NULL after an error reply. */
static json_t *
proc_parse_header(struct conn *c, json_t *id, json_t *req, json_t *prev, enum proc_kind *k,
    int *exp)
{
	const char *title, *descr = NULL, *kind, *currency;
	int64_t enq, dead, open, minb = 1;
	json_t *doc;

	if (proto_get_text(c, req, "title", 1, 500, TEXT_LINE, &title) != 0 ||
	    proto_get_str(c, req, "description", 0, 20000, &descr) < 0)
		return NULL;
	if (prev) {
		kind = js(prev, "kind");
		currency = js(prev, "currency");
	} else {
		if (proto_get_str(c, req, "kind", 1, 20, &kind) != 0 ||
		    proto_get_str(c, req, "currency", 1, 3, &currency) != 0)
			return NULL;
	}
	if (proc_kind_parse(kind, k) < 0) {
		proc_err(c, id, "bad_field", "kind must be rfq, tender or tender_auction", "kind");
		return NULL;
	}
	if ((*exp = money_exponent(currency)) < 0) {
		proc_err(c, id, "bad_field", "currency must be an ISO 4217 code", "currency");
		return NULL;
	}
	if (proc_time_field(c, id, req, "enquiry_end", &enq) < 0 ||
	    proc_time_field(c, id, req, "submission_deadline", &dead) < 0 ||
	    proc_time_field(c, id, req, "opening_at", &open) < 0 ||
	    proto_get_int(c, req, "min_bids", 0, &minb) < 0)
		return NULL;
	doc = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I}", "title", title,
	    "description", descr ? descr : "", "kind", kind, "exp", *exp, "currency", currency,
	    "enquiry_end", (json_int_t)enq, "submission_deadline", (json_int_t)dead,
	    "opening_at", (json_int_t)open, "min_bids", (json_int_t)minb);
	json_object_set_new(doc, "lots", json_array());
	return doc;
}

/* A lot's items into `items`. -1 after an error reply. */
static int
proc_parse_items(struct conn *c, json_t *id, json_t *jl, json_t *items)
{
	json_t *ji_;
	size_t j;

	if (!json_is_array(json_object_get(jl, "items")) ||
	    json_array_size(json_object_get(jl, "items")) > PROC_MAX_ITEMS) {
		proc_err(c, id, "bad_field", "each lot needs an items array (at most 100)", "items");
		return -1;
	}
	json_array_foreach(json_object_get(jl, "items"), j, ji_) {
		const char *d = js(ji_, "description"), *q = js(ji_, "quantity"), *u = js(ji_, "unit");
		const char *cl = js(ji_, "classification");
		int64_t qv;
		if (d == NULL || q == NULL || u == NULL || money_parse(q, 3, &qv) < 0 || qv <= 0) {
			proc_err(c, id, "bad_field", "each item needs description, unit and a positive "
			    "decimal quantity (string, at most 3 decimals)", "items");
			return -1;
		}
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s?}", "description", d,
		    "quantity", q, "unit", u, "classification", cl));
	}
	return 0;
}

/* A lot's award criteria into `crits` (price only when it states none). -1 after an
 * error reply. */
static int
proc_parse_criteria(struct conn *c, json_t *id, json_t *jl, json_t *crits)
{
	json_t *jc;
	size_t j;

	if (json_object_get(jl, "criteria") == NULL) {
		json_array_append_new(crits, json_pack("{s:s, s:s, s:s, s:i}", "code", "price",
		    "name", "Price", "kind", "price", "weight_bp", 10000));
	} else if (!json_is_array(json_object_get(jl, "criteria")) ||
	    json_array_size(json_object_get(jl, "criteria")) > PROC_MAX_CRITERIA) {
		proc_err(c, id, "bad_field", "criteria must be an array of at most 8", "criteria");
		return -1;
	} else {
		json_array_foreach(json_object_get(jl, "criteria"), j, jc) {
			json_t *pc = proc_parse_criterion(c, id, jc, (int)j);
			if (pc == NULL)
				return -1;
			json_array_append_new(crits, pc);
		}
	}
	return 0;
}

/* The request's lots (numbered from 1) into `lots`, amounts with exponent `exp`.
 * -1 after an error reply. */
static int
proc_parse_lots(struct conn *c, json_t *id, json_t *req, int exp, json_t *lots)
{
	json_t *jl;
	size_t i;

	if (!json_is_array(json_object_get(req, "lots")) || json_array_size(json_object_get(req, "lots")) == 0 ||
	    json_array_size(json_object_get(req, "lots")) > PROC_MAX_LOTS) {
		proc_err(c, id, "bad_field", "lots must be an array of 1 to 50 lots", "lots");
		return -1;
	}
	json_array_foreach(json_object_get(req, "lots"), i, jl) {
		json_t *lot, *items = json_array(), *crits = json_array();
		const char *lt = js(jl, "title");
		int64_t maxp;

		if (!json_is_object(jl) || lt == NULL || proc_lot_title(c, id, lt) < 0) {
			json_decref(items);
			json_decref(crits);
			if (!json_is_object(jl) || lt == NULL)
				proc_err(c, id, "bad_field", "each lot needs a title", "lots");
			return -1;
		}
		lot = json_pack("{s:I, s:s, s:o, s:o}", "id", (json_int_t)i + 1, "title", lt,
		    "items", items, "criteria", crits);
		json_array_append_new(lots, lot);
		if (proc_money_field(c, id, jl, "max_price", exp, &maxp) < 0)
			return -1;
		json_object_set_new(lot, "max_price", json_integer(maxp));
		if (proc_parse_items(c, id, jl, items) < 0 || proc_parse_criteria(c, id, jl, crits) < 0)
			return -1;
	}
	return 0;
}

/* A tender_auction's auction settings into doc's "auction": the request's, else an
 * amended document's current ones, else the defaults. -1 after an error reply. */
static int
proc_parse_auction(struct conn *c, json_t *id, json_t *req, json_t *prev, int exp, json_t *doc)
{
	json_t *au = json_object_get(req, "auction"), *pa = prev ? json_object_get(prev, "auction") : NULL;
	const char *smin = "0.5%", *smax = "5%";
	int64_t dur = 600, win = 120, ext = 120, delay = 60, v;
	int pct;

	if (pa) {
		smin = js(pa, "step_min");
		smax = js(pa, "step_max");
		dur = ji(pa, "duration");
		win = ji(pa, "extension_window");
		ext = ji(pa, "extension");
		delay = ji(pa, "delay");
	}
	if (au && json_is_object(au)) {
		if (js(au, "step_min")) smin = js(au, "step_min");
		if (js(au, "step_max")) smax = js(au, "step_max");
		if (json_is_integer(json_object_get(au, "duration"))) dur = ji(au, "duration");
		if (json_is_integer(json_object_get(au, "extension_window"))) win = ji(au, "extension_window");
		if (json_is_integer(json_object_get(au, "extension"))) ext = ji(au, "extension");
		if (json_is_integer(json_object_get(au, "delay"))) delay = ji(au, "delay");
	}
	if (money_parse_step(smin, exp, &pct, &v) < 0 || money_parse_step(smax, exp, &pct, &v) < 0 ||
	    dur < 1 || dur > 86400 || win < 0 || win > 86400 || ext < 0 || ext > 86400 ||
	    delay < 0 || delay > 86400) {
		proc_err(c, id, "bad_field", "auction settings: step_min/step_max as \"0.5%\" or an "
		    "amount, duration 1-86400 s, extension_window/extension/delay 0-86400 s", "auction");
		return -1;
	}
	json_object_set_new(doc, "auction", json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}",
	    "step_min", smin, "step_max", smax, "duration", (json_int_t)dur,
	    "extension_window", (json_int_t)win, "extension", (json_int_t)ext,
	    "delay", (json_int_t)delay));
	return 0;
}

/*
 * Parse a procurement document from a create or amend request into its
 * normalized form (amounts in minor units, times in ms, weights in basis
 * points). `prev` is the current document for an amendment (kind and
 * currency are kept; "documents" holds the new documents only). NULL after an
 * error reply. The parts are checked in order: header, lots (each with its
 * items and criteria), documents, auction settings, then the whole.
 */
static json_t *
proc_parse_doc(struct server *s, struct conn *c, json_t *id, json_t *req, json_t *prev)
{
	enum proc_kind k;
	json_t *doc, *docs;
	struct proc_params pp;
	struct proc_lot plots[PROC_MAX_LOTS];
	int exp, nl;
	const char *why;

	if ((doc = proc_parse_header(c, id, req, prev, &k, &exp)) == NULL)
		return NULL;
	if (proc_parse_lots(c, id, req, exp, json_object_get(doc, "lots")) < 0)
		goto fail;
	/* an amendment's documents are only the ones it adds (numbered when applied) */
	docs = proc_parse_documents(s, c, id, json_object_get(req, "documents"),
	    prev ? (int)json_array_size(json_object_get(prev, "documents")) + 1 : 1);
	if (docs == NULL)
		goto fail;
	json_object_set_new(doc, "documents", docs);
	if (k == PROC_TENDER_AUCTION && proc_parse_auction(c, id, req, prev, exp, doc) < 0)
		goto fail;
	proc_from_doc(doc, 1, &pp, plots, &nl);
	if ((why = proc_check(&pp, plots, nl)) != NULL) {
		proc_err(c, id, "bad_field", why, NULL);
		goto fail;
	}
	(void)s;
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

/* ---- views ---- */

/* A document without contents. */
static json_t *
proc_doc_public(json_t *docs)
{
	json_t *out = json_array(), *d;
	size_t i;

	json_array_foreach(docs, i, d) {
		json_t *x = json_copy(d);  /* shallow: the content is never copied */
		json_object_del(x, "content");
		json_object_set_new(x, "has_content", json_boolean(!json_is_null(json_object_get(d, "content"))));
		json_array_append_new(out, x);
	}
	return out;
}

/* "85.50" from hundredths. */
static json_t *
proc_points(int64_t hundredths)
{
	char buf[40];

	money_format(hundredths, 2, buf, sizeof(buf));
	return json_string(buf);
}

/* Copy an offer's stated values and details (delivery, validity, comment) into a row. */
static void
proc_copy_extras(json_t *row, json_t *x)
{
	static const char *const keys[] = { "values", "delivery_days", "validity_days", "comment" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(x, keys[i]))
			json_object_set(row, keys[i], json_object_get(x, keys[i]));
}

/* The opening record of a lot: every opened offer in rank order, with its score. */
static json_t *
proc_opening(struct server *s, struct proc *p, int li, const struct participant *v)
{
	size_t cap = p->pr.noffers + 1;
	struct proc_eval *ev = calloc(cap, sizeof(*ev));
	const struct proc_lot *lot = &p->pr.lots[li];
	json_t *jlot = proc_doc_lot(p->doc, lot->id), *out = json_array();
	int n = ev ? proc_evaluate(&p->pr, lot->id, ev, (int)cap) : 0, complete = n >= 0;
	int hide = lot->state == LOT_AUCTION;  /* identities hidden while the auction runs */
	char key[24];

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
		json_t *x = json_object_get(p->extras, I64(key, ev[i].offer_id));
		json_t *row = json_pack("{s:I, s:o, s:s}", "offer", (json_int_t)ev[i].offer_id,
		    "price", proto_money(ev[i].price, p->exp), "status", proc_offer_status_name(ev[i].status));
		json_t *bd = json_array(), *jc;
		size_t ci;
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
			if (js(x, "reason"))
				json_object_set(row, "disqualification_reason", json_object_get(x, "reason"));
		}
		json_object_set_new(row, "submitted_at", proto_time(o ? o->submitted_at : 0));
		if (ev[i].status != OFFER_DISQUALIFIED) {
			json_array_foreach(json_object_get(jlot, "criteria"), ci, jc) {
				/* a buyer score not given yet: null, counted 0 in the partial total */
				int open = ci < PROC_MAX_CRITERIA && lot->crit[ci].kind == CRIT_SCORED && o &&
				    !(o->scored & (1u << ci));
				json_array_append_new(bd, json_pack("{s:s, s:o, s:o}", "criterion", js(jc, "code"),
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
	json_t *j, *lots = json_array(), *jl;
	struct org *buyer = map_get(&s->orgs, pr->p.buyer_org);
	size_t i;
	char key[24];

	j = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "id", (json_int_t)pr->id,
	    "kind", proc_kind_name(pr->p.kind), "state", proc_state_name(pr->state),
	    "version", pr->version, "title", js(p->doc, "title"),
	    "description", js(p->doc, "description"), "currency", p->currency,
	    "buyer", buyer ? buyer->name : "?");
	json_object_set_new(j, "enquiry_end", proto_time(pr->p.enquiry_end));
	json_object_set_new(j, "submission_deadline", proto_time(pr->p.submission_deadline));
	json_object_set_new(j, "opening_at", proto_time(pr->p.opening_at));
	json_object_set_new(j, "min_bids", json_integer(pr->p.min_bids));
	json_object_set_new(j, "published_at", pr->published_at ? proto_time(pr->published_at) : json_null());
	json_object_set_new(j, "opened_at", opened ? proto_time(pr->opened_at) : json_null());
	json_object_set_new(j, "decided_at", pr->decided_at ? proto_time(pr->decided_at) : json_null());
	json_object_set_new(j, "cancel_reason", p->cancel_reason ? json_string(p->cancel_reason) : json_null());
	if (json_object_get(p->doc, "auction"))
		json_object_set(j, "auction", json_object_get(p->doc, "auction"));
	json_array_foreach(json_object_get(p->doc, "lots"), i, jl) {
		const struct proc_lot *lot = &pr->lots[i];
		json_t *crits = json_array(), *jc, *x;
		size_t ci;
		json_array_foreach(json_object_get(jl, "criteria"), ci, jc) {
			json_t *c = json_deep_copy(jc);
			json_object_del(c, "weight_bp");
			json_object_set_new(c, "weight", proc_points(ji(jc, "weight_bp")));
			json_array_append_new(crits, c);
		}
		x = json_pack("{s:I, s:s, s:o, s:O, s:o, s:s, s:i}", "id", (json_int_t)lot->id,
		    "title", js(jl, "title"), "max_price", proto_money(lot->max_price, p->exp),
		    "items", json_object_get(jl, "items"), "criteria", crits,
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
	json_object_set_new(j, "documents", proc_doc_public(json_object_get(p->doc, "documents")));
	json_object_set_new(j, "questions", proc_questions_public(p->questions));
	if (v && v->role == ROLE_SUPPLIER) {
		json_t *mine = json_array();
		for (size_t k = 0; k < pr->noffers; k++) {
			const struct proc_offer *o = &pr->offers[k];
			json_t *x, *row;
			if (o->org != v->org->id)
				continue;
			x = json_object_get(p->extras, I64(key, o->id));
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

/* A queued procedure change: its kind and detail (checked on arrival). */
struct proc_cmd {
	struct txn_cmd t;          /* first: the write path's part */
	char kind[32];
	json_t *detail;
	int64_t proc_id;
};

/* Apply a queued change (the reply, prepared by proc_apply, goes out on commit). */
static int
proc_cmd_apply(struct server *s, struct txn_cmd *t)
{
	struct proc_cmd *k = (struct proc_cmd *)t;
	const char *code = NULL, *message = NULL;
	int keep = proc_apply(s, k->kind, k->detail, t->at, t->who, t->fp, 0, &t->reply, &code,
	    &message);

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
	free(k);
}

static const struct txn_cmd_ops proc_cmd_ops = {
	proc_cmd_apply, NULL, proc_cmd_abort, proc_cmd_free,
};

/* Queue a change made by `c` (or the clock when c is NULL); `detail` is stolen. */
static void
proc_enqueue(struct server *s, struct conn *c, json_t *id, const char *kind, json_t *detail,
    int64_t proc_id)
{
	struct proc_cmd *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		json_decref(detail);
		return;
	}
	txn_cmd_init(&k->t, &proc_cmd_ops, c, id);
	snprintf(k->kind, sizeof(k->kind), "%s", kind);
	k->detail = detail;
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
	proc_enqueue(s, NULL, NULL, "tick", json_pack("{s:I}", "procurement",
	    (json_int_t)p->pr.id), p->pr.id);
}

/* ---- applying changes ---- */

/* Free a procedure. */
static void
proc_free_one(struct proc *p)
{
	if (p->timer)
		event_free(p->timer);
	proc_free(&p->pr);
	json_decref(p->doc);
	json_decref(p->questions);
	json_decref(p->extras);
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
	db_proc_add(txn_db(s), &c);
	json_decref(d);
	free(text);
}

static json_t *proc_opening(struct server *s, struct proc *p, int li, const struct participant *v);

/* After a live change: log the clock transitions the engine made on the way
 * (with the opening record), open tender_auction lots' auctions, and note
 * what to broadcast. */
static void
proc_after(struct server *s, struct proc *p, enum proc_state before, int64_t at)
{
	enum proc_state now = p->pr.state;
	char key[24];

	if (now == before)
		return;
	p->notify |= PROC_N_UPDATE;
	if (now == PROC_CANCELLED)
		p->notify |= PROC_N_CLOSED;
	if (before < PROC_TENDERING && now >= PROC_TENDERING && now != PROC_CANCELLED)
		proc_log(s, p, "tendering", p->pr.p.enquiry_end, NULL, NULL, 0, 0, 0, NULL);
	if (before < PROC_OPENED && p->pr.opened_at && now != PROC_CANCELLED) {
		json_t *rec = json_object(), *jl, *d;
		size_t i;
		p->notify |= PROC_N_OPENED;
		if (p->pr.p.kind == PROC_TENDER_AUCTION) {
			for (int li = 0; li < p->pr.nlots; li++) {
				struct book *b;
				if (p->pr.lots[li].state != LOT_AUCTION)
					continue;
				if ((b = ops_open_auction(s, p, li, p->pr.opened_at)) != NULL)
					p->lot_auction[li] = b->a.id;
			}
		}
		json_array_foreach(json_object_get(p->doc, "lots"), i, jl)
			json_object_set_new(rec, I64(key, p->pr.lots[i].id), proc_opening(s, p, (int)i, NULL));
		d = json_pack("{s:o}", "opening", rec);
		proc_log(s, p, "opened", p->pr.opened_at, NULL, NULL, 0, 0, 0, d);
		json_decref(d);
	}
	if (now == PROC_AWARDED || now == PROC_UNSUCCESSFUL)
		p->notify |= PROC_N_AWARDED;
	(void)at;
}

/* The text of the last refusal that names a time (valid until the next one). */
static char proc_msg[256];

/* "submissions open at T", "the submission deadline passed at T": a refusal for the
 * procedure's phase says when that phase opens or closed (RFC 3339). NULL when
 * `e` is not about the phase. */
static const char *
proc_phase_message(const struct proc *p, const char *kind, enum proc_err e, int64_t at)
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
	else if (e == PROC_E_DEADLINE && strcmp(kind, "published") == 0)
		snprintf(proc_msg, sizeof(proc_msg), "the enquiry period would end at %s "
		    "(enquiry_end), which has passed: amend the dates first", t1);
	else if (e == PROC_E_DEADLINE)
		snprintf(proc_msg, sizeof(proc_msg), "the submission deadline passed at %s", t2);
	else if (e == PROC_E_STATE && strcmp(kind, "amended") == 0 &&
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
proc_refuse(const struct proc *p, const char *kind, enum proc_err e, int64_t at, int64_t lot,
    const char **code, const char **message)
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
proc_values(json_t *jlot, json_t *vals, int64_t *out)
{
	json_t *jc;
	size_t ci;

	for (int i = 0; i < PROC_MAX_CRITERIA; i++)
		out[i] = INT64_MIN;
	json_array_foreach(json_object_get(jlot, "criteria"), ci, jc) {
		json_t *v;
		if (strcmp(js(jc, "kind"), "stated") != 0)
			continue;
		v = json_object_get(vals, js(jc, "code"));
		if (!json_is_integer(v))
			return -1;
		out[ci] = json_integer_value(v);
	}
	return 0;
}

/* Whether every score of a bid.score fits: a scored criterion of the offer's lot, an
 * integer within 0..max (PROC_OK or PROC_E_SCORE). The state is the engine's to check. */
static enum proc_err
proc_scores_check(const struct proc *p, const struct proc_offer *o, json_t *jlot, json_t *scores)
{
	int li = proc_lot_index(p, o->lot_id);
	const struct proc_lot *l = li >= 0 ? &p->pr.lots[li] : NULL;
	const char *k;
	json_t *v;

	json_object_foreach(scores, k, v) {
		int ci = proc_crit_index(jlot, k);
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
 * The document after an amendment. The log row of an amendment holds what it
 * changes, never what came before: "document" (the fields it restates: title,
 * deadlines, lots, auction settings) and "documents" (the documents it adds,
 * with their contents). The documents of earlier versions are shared with the
 * current document, not copied; the added ones are numbered after them (their
 * ids are written into the row, the same on replay), so an amendment costs
 * storage, memory and replay time in proportion to its own size.
 */
static json_t *
proc_amended_doc(json_t *cur, json_t *fields, json_t *added)
{
	json_t *full = json_copy(fields), *docs = json_copy(json_object_get(cur, "documents")), *x;
	size_t i;

	if (docs == NULL)
		docs = json_array();
	json_object_del(full, "documents");
	json_array_foreach(added, i, x) {
		json_object_set_new(x, "id", json_integer((json_int_t)json_array_size(docs) + 1));
		json_array_append(docs, x);
	}
	json_object_set_new(full, "documents", docs);
	return full;
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
	const char *kind;
	json_t *d;
	int64_t at;
	const struct participant *who;
	const char *fp;
	int replay;
	json_t **reply;
	const char **code, **message;
	enum proc_err e;
	int64_t lot, offer;
	int sealed;
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

/* "created": a new procedure from its document. */
static int
proc_apply_created(struct proc_change *ch)
{
	struct server *s = ch->s;
	struct proc_params pp;
	struct proc_lot lots[PROC_MAX_LOTS];
	json_t *d = ch->d, *doc = json_object_get(d, "document");
	int64_t pid = ji(d, "procurement");
	struct proc *p;
	int nl;

	if (!ch->replay && proc_open_of(s, ji(d, "buyer_org")) >= s->cfg.max_open_procedures_per_buyer)
		return proc_limit(ch->code, ch->message, "max_open_procedures_per_buyer",
		    s->cfg.max_open_procedures_per_buyer, "this buyer organization has as many "
		    "procurements open (draft to evaluation) as allowed; complete or cancel one first");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return proc_change_refuse(ch, "internal", "out of memory");
	p->srv = s;
	p->buyer_participant = ji(d, "buyer_participant");
	snprintf(p->currency, sizeof(p->currency), "%s", js(doc, "currency"));
	p->exp = (int)ji(doc, "exp");
	p->doc = json_incref(doc);
	p->questions = json_array();
	p->extras = json_object();
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
		proc_log(s, p, ch->kind, ch->at, ch->who, ch->fp, 0, 0, 0, d);
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
	enum proc_state before = p->pr.state;
	int ev;

	p->tick_queued = 0;
	ev = proc_advance(&p->pr, ch->at);
	if (ch->replay)
		return 1;
	proc_after(ch->s, p, before, ch->at);
	if (ev & PROC_EV_DECIDED)
		proc_log(ch->s, p, "decided", ch->at, NULL, NULL, 0, 0, 0, NULL);
	return 1;
}

/* "published". */
static int
proc_apply_published(struct proc_change *ch)
{
	ch->e = proc_publish(&ch->p->pr, ch->at);
	return PROC_CHANGE_NEXT;
}

/* "completed". */
static int
proc_apply_completed(struct proc_change *ch)
{
	ch->e = proc_complete(&ch->p->pr, ch->at);
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
	json_t *d = ch->d, *doc = json_object_get(d, "document");
	int nl;
	size_t have = json_array_size(json_object_get(p->doc, "documents"));
	size_t adds = json_array_size(json_object_get(d, "documents"));

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
	proc_from_doc(doc, p->pr.p.buyer_org, &pp, lots, &nl);
	ch->e = proc_amend(&p->pr, &pp, lots, nl, ch->at);
	if (ch->e == PROC_OK) {
		json_t *full = proc_amended_doc(p->doc, doc, json_object_get(d, "documents"));
		json_decref(p->doc);
		p->doc = full;
		json_object_set_new(d, "version", json_integer(p->pr.version));
		p->notify |= PROC_N_AMENDED;
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

	proc_advance(&p->pr, ch->at);
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
	json_object_set_new(d, "question", json_integer((json_int_t)json_array_size(p->questions) + 1));
	json_array_append_new(p->questions, json_pack("{s:I, s:s, s:o, s:n, s:n, s:I}", "id",
	    ji(d, "question"), "text", js(d, "text"), "asked_at", proto_time(ch->at), "answer",
	    "answered_at", "asked_by_org", (json_int_t)(who ? who->org->id : 0)));
	p->notify |= PROC_N_UPDATE;
	return PROC_CHANGE_NEXT;
}

/* "question_answered": once, while the procedure is open. */
static int
proc_apply_question_answered(struct proc_change *ch)
{
	struct proc *p = ch->p;
	json_t *q = json_array_get(p->questions, (size_t)ji(ch->d, "question") - 1);

	if (q == NULL)
		return proc_change_refuse(ch, "not_found", "no such question");
	if (!json_is_null(json_object_get(q, "answer")))
		return proc_change_refuse(ch, "bad_state", "the question is already answered");
	if (p->pr.state == PROC_DRAFT || p->pr.state >= PROC_AWARDED)
		return proc_change_refuse(ch, "bad_state", "answers are given while the procedure is open");
	json_object_set(q, "answer", json_object_get(ch->d, "text"));
	json_object_set_new(q, "answered_at", proto_time(ch->at));
	p->notify |= PROC_N_UPDATE;
	return PROC_CHANGE_NEXT;
}

/* "offer_submitted": a new offer or a revision of the organization's offer on the lot
 * (sealed until the opening). */
static int
proc_apply_offer_submitted(struct proc_change *ch)
{
	struct server *s = ch->s;
	struct proc *p = ch->p;
	const struct participant *who = ch->who;
	json_t *d = ch->d, *jlot = proc_doc_lot(p->doc, ji(d, "lot")), *x;
	int64_t values[PROC_MAX_CRITERIA];
	struct proc_offer *o = NULL, *prev;
	char key[24];
	int live;

	if (jlot == NULL)
		return proc_change_refuse(ch, "not_found", "no such lot");
	if (proc_values(jlot, json_object_get(d, "values"), values) < 0)
		return proc_change_refuse(ch, "bad_value",
		    "every stated criterion needs an integer value, by criterion code");
	ch->lot = ji(d, "lot");
	prev = who ? proc_offer_of(&p->pr, ch->lot, who->org->id) : NULL;
	live = prev != NULL && prev->status != OFFER_WITHDRAWN;
	if (!ch->replay)
		json_object_set_new(d, "offer", json_integer(prev ? prev->id : s->next_offer_id));
	ch->e = proc_submit(&p->pr, ch->lot, who->org->id, ji(d, "offer"), ji(d, "price"), values,
	    ch->at, &o);
	if (ch->e == PROC_OK) {
		ch->offer = o->id;
		if (ch->offer >= s->next_offer_id)
			s->next_offer_id = ch->offer + 1;
		json_object_set_new(d, "revision", json_integer(o->revision));
		x = json_pack("{s:I, s:s}", "participant", (json_int_t)who->id,
		    "fingerprint", ch->fp ? ch->fp : "");
		proc_copy_extras(x, d);
		json_object_set_new(p->extras, I64(key, ch->offer), x);
		ch->sealed = 1;
		if (!live)
			p->notify |= PROC_N_OFFERS;  /* a revision leaves the count as it was */
	}
	return PROC_CHANGE_NEXT;
}

/* "offer_withdrawn" and "offer_confirmed": of the organization's offer on the lot. */
static int
proc_apply_offer_status(struct proc_change *ch)
{
	struct proc *p = ch->p;
	const char *kind = ch->kind;
	int64_t org = ch->who->org->id;
	struct proc_offer *o;
	int needed;

	ch->lot = ji(ch->d, "lot");
	o = proc_offer_of(&p->pr, ch->lot, org);
	needed = o != NULL && o->needs_confirm;
	ch->e = kind[6] == 'w' ? proc_withdraw(&p->pr, ch->lot, org, ch->at) :
	    proc_confirm(&p->pr, ch->lot, org, ch->at);
	/* A confirmation changes needs_confirm or nothing: one that is not needed is
	 * refused, so confirmations are bounded by amendments (and two of them never
	 * write the same offer_revisions row). Old logs may hold such rows: replay
	 * takes them. */
	if (ch->e == PROC_OK && kind[6] == 'c' && !needed && !ch->replay) {
		snprintf(proc_msg, sizeof(proc_msg), "the offer needs no confirmation: it was "
		    "submitted or confirmed after the last amendment (version %d)", p->pr.version);
		return proc_change_refuse(ch, "bad_state", proc_msg);
	}
	if (ch->e == PROC_OK && (o = proc_offer_of(&p->pr, ch->lot, org)) != NULL) {
		ch->offer = o->id;
		json_object_set_new(ch->d, "offer", json_integer(o->id));
		json_object_set_new(ch->d, "revision", json_integer(o->revision));
		if (kind[6] == 'w')
			p->notify |= PROC_N_OFFERS;
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
	json_t *jlot = o ? proc_doc_lot(p->doc, o->lot_id) : NULL, *v, *x;
	const char *k;
	char key[24];

	if (o == NULL)
		return proc_change_refuse(ch, "not_found", "no such offer");
	x = json_object_get(p->extras, I64(key, o->id));
	if (!ch->replay && ji(x, "scorings") >= s->cfg.max_scorings_per_offer)
		return proc_limit(ch->code, ch->message, "max_scorings_per_offer",
		    s->cfg.max_scorings_per_offer, "this offer has been scored as many times as "
		    "allowed");
	/* every score is checked before any is given: a refusal changes nothing */
	ch->e = proc_scores_check(p, o, jlot, json_object_get(ch->d, "scores"));
	json_object_foreach(json_object_get(ch->d, "scores"), k, v) {
		if (ch->e != PROC_OK)
			break;
		ch->e = proc_score(&p->pr, o->id, proc_crit_index(jlot, k), json_integer_value(v), ch->at);
	}
	if (ch->e == PROC_OK && x != NULL)
		json_object_set_new(x, "scorings", json_integer(ji(x, "scorings") + 1));
	ch->offer = o->id;
	ch->lot = o->lot_id;
	p->notify |= PROC_N_UPDATE;
	return PROC_CHANGE_NEXT;
}

/* "awarded" and "disqualified": an offer of a lot (a disqualification keeps its reason). */
static int
proc_apply_decision(struct proc_change *ch)
{
	struct proc *p = ch->p;
	char key[24];

	ch->lot = ji(ch->d, "lot");
	ch->offer = ji(ch->d, "offer");
	ch->e = ch->kind[0] == 'a' ? proc_award(&p->pr, ch->lot, ch->offer, ch->at) :
	    proc_disqualify(&p->pr, ch->lot, ch->offer, ch->at);
	if (ch->e == PROC_OK && ch->kind[0] == 'd') {
		json_t *x = json_object_get(p->extras, I64(key, ch->offer));
		if (x)
			json_object_set(x, "reason", json_object_get(ch->d, "reason"));
	}
	p->notify |= PROC_N_UPDATE;
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
	ch->e = proc_auction_result(&ch->p->pr, ch->lot, orgs, (int)n, ch->at);
	ch->p->notify |= PROC_N_UPDATE;
	return PROC_CHANGE_NEXT;
}

/* "cancelled": with its reason. */
static int
proc_apply_cancelled(struct proc_change *ch)
{
	ch->e = proc_cancel(&ch->p->pr, ch->at);
	if (ch->e == PROC_OK) {
		free(ch->p->cancel_reason);
		ch->p->cancel_reason = strdup(js(ch->d, "reason"));
	}
	return PROC_CHANGE_NEXT;
}

/* The reply to an applied change. */
enum proc_reply { PROC_REPLY_VIEW, PROC_REPLY_OFFER, PROC_REPLY_QUESTION };

/* The kinds of change and their handlers. */
static const struct proc_change_kind {
	const char *kind;
	int (*apply)(struct proc_change *ch);
	enum proc_reply reply;
} proc_change_kinds[] = {
	{ "created", proc_apply_created, PROC_REPLY_VIEW },
	{ "tick", proc_apply_tick, PROC_REPLY_VIEW },
	{ "tendering", proc_apply_tick, PROC_REPLY_VIEW },
	{ "opened", proc_apply_tick, PROC_REPLY_VIEW },
	{ "decided", proc_apply_tick, PROC_REPLY_VIEW },
	{ "published", proc_apply_published, PROC_REPLY_VIEW },
	{ "amended", proc_apply_amended, PROC_REPLY_VIEW },
	{ "question_asked", proc_apply_question_asked, PROC_REPLY_QUESTION },
	{ "question_answered", proc_apply_question_answered, PROC_REPLY_VIEW },
	{ "offer_submitted", proc_apply_offer_submitted, PROC_REPLY_OFFER },
	{ "offer_withdrawn", proc_apply_offer_status, PROC_REPLY_OFFER },
	{ "offer_confirmed", proc_apply_offer_status, PROC_REPLY_OFFER },
	{ "scored", proc_apply_scored, PROC_REPLY_VIEW },
	{ "awarded", proc_apply_decision, PROC_REPLY_VIEW },
	{ "disqualified", proc_apply_decision, PROC_REPLY_VIEW },
	{ "auction_result", proc_apply_auction_result, PROC_REPLY_VIEW },
	{ "cancelled", proc_apply_cancelled, PROC_REPLY_VIEW },
	{ "completed", proc_apply_completed, PROC_REPLY_VIEW },
};

/* The entry of a kind of change (NULL: unknown). */
static const struct proc_change_kind *
proc_change_kind(const char *kind)
{
	for (size_t i = 0; i < sizeof(proc_change_kinds) / sizeof(proc_change_kinds[0]); i++)
		if (strcmp(proc_change_kinds[i].kind, kind) == 0)
			return &proc_change_kinds[i];
	return NULL;
}

/* The common end of an applied change: a limit or engine refusal, else (live) its
 * log row, the transitions on the way and the reply. */
static int
proc_apply_end(struct proc_change *ch, enum proc_state before, enum proc_reply r)
{
	struct server *s = ch->s;
	struct proc *p = ch->p;

	if (ch->e == PROC_E_LIMIT && ch->kind[0] == 'a')
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
	proc_log(s, p, ch->kind, ch->at, ch->who, ch->fp, ch->lot, ch->offer, ch->sealed, ch->d);
	proc_after(s, p, before, ch->at);
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

/* Apply one change; see server.h. Dispatches to the handler of its kind. */
int
proc_apply(struct server *s, const char *kind, json_t *d, int64_t at,
    const struct participant *who, const char *fp, int replay, json_t **reply,
    const char **code, const char **message)
{
	const struct proc_change_kind *k = proc_change_kind(kind);
	struct proc_change ch = { .s = s, .kind = kind, .d = d, .at = at, .who = who, .fp = fp,
	    .replay = replay, .reply = reply, .code = code, .message = message, .e = PROC_OK };
	enum proc_state before;
	int r;

	proc_field = NULL;
	if (k && k->apply == proc_apply_created)
		return proc_apply_created(&ch);
	if ((ch.p = proc_get(s, ji(d, "procurement"))) == NULL)
		return proc_change_refuse(&ch, "not_found", "no such procurement");
	if (proc_touch(s, ch.p, replay) < 0)
		return proc_change_refuse(&ch, "internal", "out of memory");
	before = ch.p->pr.state;
	/* The engine refuses beyond these, after its other checks; replay applies what was
	 * recorded whatever the limits are now. */
	ch.p->pr.max_amendments = replay ? 0 : (int)s->cfg.max_amendments_per_procedure;
	ch.p->pr.max_revisions = replay ? 0 : (int)s->cfg.max_offer_revisions;
	if (k == NULL)
		return proc_change_refuse(&ch, "internal", "unknown procedure change");
	if ((r = k->apply(&ch)) != PROC_CHANGE_NEXT)
		return r;
	return proc_apply_end(&ch, before, k->reply);
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
	if (!proc_apply(s, "auction_result", d, b->a.closed_at, NULL, NULL, 0, &reply, &code, &message))
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

/* Queue a change of `p` with a detail object (stolen). */
static void
proc_queue(struct server *s, struct conn *c, json_t *id, const char *kind, struct proc *p,
    json_t *d)
{
	json_object_set_new(d, "procurement", json_integer(p ? p->pr.id : ji(d, "procurement")));
	proc_enqueue(s, c, id, kind, d, p ? p->pr.id : ji(d, "procurement"));
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
		    "title", js(p->doc, "title"), "buyer", buyer ? buyer->name : "?",
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
	int rc;

	if (p == NULL)
		return;
	if (!on) {
		watch_del(s, c, WATCH_PROC, p->pr.id, &p->watchers);
		conn_send(c, proto_ok(id));
		return;
	}
	if ((rc = watch_add(s, c, WATCH_PROC, p->pr.id, &p->watchers, why, sizeof(why))) < 0) {
		proc_err(c, id, rc == -1 ? "limit_exceeded" : "internal", why, NULL);
		return;
	}
	proc_reply_view(s, c, id, p);
}

/* document.get: a document's content, checked against its hash on the way in. */
void
proc_op_document_get(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p = proc_arg(s, c, id, req);
	json_t *d, *r;
	int64_t did;

	if (p == NULL || proto_get_int(c, req, "document", 1, &did) != 0)
		return;
	d = json_array_get(json_object_get(p->doc, "documents"), (size_t)did - 1);
	if (did < 1 || d == NULL) {
		proc_err(c, id, "not_found", "no such document", "document");
		return;
	}
	r = proto_ok(id);
	json_object_set(r, "document", d);
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
	const char *what = op->kind;
	int rfq = op->arg;
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
	if (strcmp(what, "offer_submitted") == 0) {
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
	proc_queue(s, c, id, what, p, d);
}

/* procurement.create (buyers): a draft of the caller's organization. */
void
proc_op_create(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const struct participant *v = conn_ident(c)->who;
	json_t *d;

	if ((d = proc_parse_doc(s, c, id, req, NULL)) == NULL)
		return;
	d = json_pack("{s:I, s:I, s:I, s:o}", "procurement", (json_int_t)s->next_proc_id++,
	    "buyer_participant", (json_int_t)v->id, "buyer_org", (json_int_t)v->org->id,
	    "document", d);
	proc_queue(s, c, id, op->kind, NULL, d);
}

/* procurement.publish / procurement.complete (the owning buyer): the row's change. */
void
proc_op_publish(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0)
		return;
	proc_queue(s, c, id, op->kind, p, json_object());
}

/* procurement.amend (the owning buyer): the whole document again, with a reason. */
void
proc_op_amend(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	struct proc *p;
	const char *text;
	json_t *d, *added;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0 ||
	    proto_get_str(c, req, "reason", 1, 1000, &text) != 0)
		return;
	if ((d = proc_parse_doc(s, c, id, req, p->doc)) == NULL)
		return;
	/* the row holds the amendment only: its fields and the documents it adds */
	added = json_incref(json_object_get(d, "documents"));
	json_object_del(d, "documents");
	proc_queue(s, c, id, op->kind, p, json_pack("{s:s, s:o, s:o}", "reason", text,
	    "document", d, "documents", added));
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
	proc_queue(s, c, id, op->kind, p, json_pack("{s:s}", "reason", text));
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
	proc_queue(s, c, id, op->kind, p, json_pack("{s:s}", "text", text));
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
	proc_queue(s, c, id, op->kind, p, json_pack("{s:I, s:s}", "question",
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
	proc_queue(s, c, id, op->kind, p, json_pack("{s:I, s:O}", "offer", (json_int_t)n,
	    "scores", sc));
}

/* award.decide (the owning buyer): award or disqualify a lot's first-ranked offer. */
void
proc_op_award(struct server *s, struct conn *c, json_t *id, json_t *req,
    const struct optab_op *op)
{
	const char *decision, *reason = NULL;
	struct proc *p;
	int64_t lot, n;
	json_t *d;

	if ((p = proc_arg(s, c, id, req)) == NULL || proc_require_owner(c, id, p, 0) < 0 ||
	    proto_get_int(c, req, "lot", 1, &lot) != 0 ||
	    proto_get_int(c, req, "offer", 1, &n) != 0 ||
	    proto_get_str(c, req, "decision", 1, 20, &decision) != 0 ||
	    proto_get_str(c, req, "reason", 0, 1000, &reason) < 0)
		return;
	if (strcmp(decision, "award") && strcmp(decision, "disqualify")) {
		proc_err(c, id, "bad_field", "decision must be award or disqualify", "decision");
		return;
	}
	if (decision[0] == 'd' && reason == NULL) {
		proc_err(c, id, "missing_field", "a disqualification needs a reason", "reason");
		return;
	}
	d = json_pack("{s:I, s:I}", "lot", (json_int_t)lot, "offer", (json_int_t)n);
	if (reason)
		json_object_set_new(d, "reason", json_string(reason));
	proc_queue(s, c, id, decision[0] == 'a' ? "awarded" : "disqualified", p, d);
}

/* ---- on the write path (txn.h) ---- */

/* The procedure holding a write path's bookkeeping. */
static struct proc *
proc_of(struct txn_obj *o)
{
	return (struct proc *)((char *)o - offsetof(struct proc, tx));
}

/* Remember the procedure before the batch first changes it. */
static int
proc_mark(struct server *s, struct txn_obj *o)
{
	struct proc *p = proc_of(o);

	if (proc_copy(&p->mark, &p->pr) < 0)
		return -1;
	p->mark_doc = json_incref(p->doc);  /* never changed in place: replaced whole */
	p->mark_questions = json_deep_copy(p->questions);
	p->mark_extras = json_deep_copy(p->extras);
	p->mark_cancel = p->cancel_reason ? strdup(p->cancel_reason) : NULL;
	return 0;
}

/* Forget the mark. */
static void
proc_unmark(struct proc *p)
{
	proc_free(&p->mark);
	json_decref(p->mark_doc);
	json_decref(p->mark_questions);
	json_decref(p->mark_extras);
	free(p->mark_cancel);
	p->mark_doc = p->mark_questions = p->mark_extras = NULL;
	p->mark_cancel = NULL;
}

/* The batch committed: forget the mark, broadcast, re-arm. */
static void
proc_commit(struct server *s, struct txn_obj *o)
{
	struct proc *p = proc_of(o);

	proc_unmark(p);
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

/* The batch failed: restore the procedure to its mark. */
static void
proc_rollback(struct server *s, struct txn_obj *o)
{
	struct proc *p = proc_of(o);

	proc_free(&p->pr);
	p->pr = p->mark;
	memset(&p->mark, 0, sizeof(p->mark));
	json_decref(p->doc);
	json_decref(p->questions);
	json_decref(p->extras);
	p->doc = p->mark_doc;
	p->questions = p->mark_questions;
	p->extras = p->mark_extras;
	free(p->cancel_reason);
	p->cancel_reason = p->mark_cancel;
	p->mark_doc = p->mark_questions = p->mark_extras = NULL;
	p->mark_cancel = NULL;
	p->notify = 0;
	p->tick_queued = 0;
	proc_arm(s, p);
}

/* The batch that created the procedure failed: it never existed. */
static void
proc_drop(struct server *s, struct txn_obj *o)
{
	struct proc *p = proc_of(o);

	map_del(&s->procs, p->pr.id);
	proc_unmark(p);
	proc_free_one(p);
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
	proc_mark, proc_commit, proc_rollback, proc_drop, proc_read, proc_rearm,
};
