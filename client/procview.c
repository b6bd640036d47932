/* tenderctl: readable output of procurement replies. Amounts, weights and scores are shown as
 * the decimal strings tenderd sent; nothing is recomputed. */
#include "client/procview.h"
#include "client/view.h"

#include <string.h>

/* Width of the labels in the procurement description. */
#define PV_LABEL "  %-13s "
#define PV_LOT_LABEL "    %-11s "

/* A string member, or "-" when it is absent. */
static const char *pv_s(json_t *o, const char *k)
{
	const char *s = view_str(o, k);

	return s != NULL ? s : "-";
}

/* An integer member, or 0 when it is absent. */
static long long pv_i(json_t *o, const char *k)
{
	long long n = 0;

	view_int(o, k, &n);
	return n;
}

/* Whether a procurement is over for a watcher. */
int procview_final(json_t *p)
{
	static const char *const final[] = {"awarded", "unsuccessful", "complete", "cancelled", NULL};
	const char *state = view_str(p, "state");

	for (int i = 0; state != NULL && final[i] != NULL; i++)
		if (strcmp(state, final[i]) == 0)
			return 1;
	return 0;
}

/* Print one deadline line: the moment, and the time left while it is ahead and the
 * procurement still moves towards it. */
static void pv_deadline(FILE *f, json_t *p, const char *label, const char *prefix, const char *key,
			int64_t now, const char *after)
{
	int64_t at;
	char when[64], left[32];

	if (view_time(p, key, &at) != 0)
		return;
	view_clock(at, VIEW_FULL, when, sizeof(when));
	fprintf(f, PV_LABEL "%s%s", label, prefix, when);
	if (now >= 0 && at > now && !procview_final(p)) {
		view_left(at - now, left, sizeof(left));
		fprintf(f, " (in %s)", left);
	} else if (now >= 0 && at <= now && after != NULL)
		fprintf(f, " (%s)", after);
	fputc('\n', f);
}

/* Print the deadline lines of a procurement, with the time left from `now`. */
void procview_deadlines(FILE *f, json_t *p, int64_t now)
{
	const char *state = pv_s(p, "state");
	int draft = strcmp(state, "draft") == 0;

	pv_deadline(f, p, "enquiries", "until ", "enquiry_end", now, draft ? NULL : "ended");
	pv_deadline(f, p, "submissions", "until ", "submission_deadline", now, draft ? NULL : "closed");
	pv_deadline(f, p, "opening", "", "opening_at", now, view_str(p, "opened_at") != NULL ? "opened" : NULL);
}

/* Print a recorded moment ("published", "decided") when the procurement has it. */
static void pv_moment(FILE *f, json_t *p, const char *label, const char *key)
{
	int64_t at;
	char when[64];

	if (view_time(p, key, &at) != 0)
		return;
	view_clock(at, VIEW_FULL, when, sizeof(when));
	fprintf(f, PV_LABEL "%s\n", label, when);
}

/* Print the live-auction settings of a tender_auction. */
static void pv_auction_settings(FILE *f, json_t *p)
{
	json_t *a = json_object_get(p, "auction");
	char ext[96] = "no extensions";

	if (!json_is_object(a))
		return;
	if (pv_i(a, "extension_window") > 0)
		snprintf(ext, sizeof(ext), "a lead taken in its last %lld s extends it by %lld s",
			 pv_i(a, "extension_window"), pv_i(a, "extension"));
	fprintf(f, PV_LABEL "steps %s .. %s, %lld s, %s; starts %lld s after the opening\n", "auction",
		pv_s(a, "step_min"), pv_s(a, "step_max"), pv_i(a, "duration"), ext, pv_i(a, "delay"));
}

/* Print a lot's items, one a line. */
static void pv_items(FILE *f, json_t *lot)
{
	json_t *item;
	size_t i;

	json_array_foreach(json_object_get(lot, "items"), i, item) {
		const char *cls = view_str(item, "classification");

		fprintf(f, PV_LOT_LABEL "%s %s  %s%s%s%s\n", i == 0 ? "items" : "", pv_s(item, "quantity"),
			pv_s(item, "unit"), pv_s(item, "description"), cls != NULL ? " [" : "", cls != NULL ? cls : "",
			cls != NULL ? "]" : "");
	}
}

/* Print a lot's criteria with their weights and rules. */
static void pv_criteria(FILE *f, json_t *lot)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(lot, "criteria"), i, c) {
		const char *kind = pv_s(c, "kind"), *unit = view_str(c, "unit");
		char rule[160] = "lowest price scores 100";

		if (strcmp(kind, "stated") == 0)
			snprintf(rule, sizeof(rule), "stated by the supplier, %lld .. %lld%s%s, %s is better",
				 pv_i(c, "min"), pv_i(c, "max"), unit != NULL ? " " : "", unit != NULL ? unit : "",
				 pv_s(c, "better"));
		else if (strcmp(kind, "scored") == 0)
			snprintf(rule, sizeof(rule), "scored by the buyer after the opening, 0 .. %lld", pv_i(c, "max"));
		fprintf(f, PV_LOT_LABEL "%-12s %-20s %6s%%  %s\n", i == 0 ? "criteria" : "", pv_s(c, "code"),
			pv_s(c, "name"), pv_s(c, "weight"), rule);
	}
}

/* The criterion of a lot with this code, or NULL. */
static json_t *pv_criterion(json_t *lot, const char *code)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(lot, "criteria"), i, c)
		if (code != NULL && strcmp(pv_s(c, "code"), code) == 0)
			return c;
	return NULL;
}

/* The opening row of a lot for this offer, or NULL. */
static json_t *pv_opening_row(json_t *lot, long long offer)
{
	json_t *row;
	size_t i;

	json_array_foreach(json_object_get(lot, "opening"), i, row)
		if (pv_i(row, "offer") == offer)
			return row;
	return NULL;
}

/* Who made an opening row's offer: the organization, or the alias while it is hidden. */
const char *procview_who(json_t *row)
{
	return view_str(row, "organization") != NULL ? view_str(row, "organization") : pv_s(row, "bidder");
}

/* Append the offer details the supplier gave (delivery, validity, comment) to an open line,
 * the first after `sep`; returns the separator for what follows. */
static const char *pv_extras(FILE *f, json_t *o, const char *sep)
{
	long long n;

	if (view_int(o, "delivery_days", &n) == 0) {
		fprintf(f, "%sdelivery %lld days", sep, n);
		sep = ", ";
	}
	if (view_int(o, "validity_days", &n) == 0) {
		fprintf(f, "%svalid %lld days", sep, n);
		sep = ", ";
	}
	if (view_str(o, "comment") != NULL) {
		fprintf(f, "%s\"%s\"", sep, view_str(o, "comment"));
		sep = ", ";
	}
	return sep;
}

/* Print the stated values of an offer ("delivery=10 quality=...") after `sep`. */
static void pv_values(FILE *f, json_t *o, const char *sep)
{
	const char *code;
	json_t *v;

	json_object_foreach(json_object_get(o, "values"), code, v) {
		if (json_is_integer(v))
			fprintf(f, "%s%s=%lld", sep, code, (long long)json_integer_value(v));
		sep = " ";
	}
}

/* Print the line under an opening row: its score breakdown (criterion score x weight =
 * weighted, with the stated value), else the stated values, then the supplier's details, the
 * auction result and the disqualification reason. Nothing when there is nothing to say. */
static void pv_row_detail(FILE *f, json_t *lot, json_t *row, int price_only)
{
	json_t *bd = json_object_get(row, "breakdown"), *b, *values = json_object_get(row, "values");
	char *text = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&text, &len);
	const char *sep = "";

	if (m == NULL)
		return;
	if (!price_only && json_array_size(bd) > 0) {
		json_array_foreach(bd, i, b) {
			const char *code = view_str(b, "criterion");
			json_t *v = json_object_get(values, code != NULL ? code : "");

			fprintf(m, "%s%s %s x %s%% = %s", sep, pv_s(b, "criterion"), pv_s(b, "score"),
				pv_s(pv_criterion(lot, code), "weight"), pv_s(b, "weighted"));
			if (json_is_integer(v))
				fprintf(m, " (stated %lld)", (long long)json_integer_value(v));
			sep = "; ";
		}
	} else if (json_object_size(values) > 0) {
		fputs("values", m);
		pv_values(m, row, " ");
		sep = "; ";
	}
	if (*pv_extras(m, row, sep) != '\0')
		sep = "; ";
	if (json_is_integer(json_object_get(row, "auction_rank"))) {
		fprintf(m, "%sauction rank %lld at %s", sep, pv_i(row, "auction_rank"), pv_s(row, "auction_price"));
		sep = "; ";
	}
	if (view_str(row, "disqualification_reason") != NULL)
		fprintf(m, "%sdisqualified: %s", sep, view_str(row, "disqualification_reason"));
	fclose(m);
	if (len > 0)
		fprintf(f, "%19s%s\n", "", text);
	free(text);
}

/* Print a lot's opening record as a table, at most max_rows offers. */
void procview_opening(FILE *f, json_t *p, json_t *lot, size_t max_rows)
{
	json_t *opening = json_object_get(lot, "opening"), *row;
	int price_only = json_array_size(json_object_get(lot, "criteria")) <= 1;
	int unscored = json_is_true(json_object_get(lot, "scores_missing"));
	size_t i;

	if (!json_is_array(opening))
		return;
	if (json_array_size(opening) == 0) {
		fprintf(f, PV_LOT_LABEL "no offer opened\n", "opening");
		return;
	}
	fprintf(f, "    opening record\n      %4s %6s  %-18s %7s  %-13s %s\n", "rank", "offer", "price", "total",
		"status", "organization");
	json_array_foreach(opening, i, row) {
		char rank[24] = "-";

		if (i >= max_rows) {
			fprintf(f, "      ... %zu more\n", json_array_size(opening) - i);
			break;
		}
		if (json_is_integer(json_object_get(row, "rank")))
			snprintf(rank, sizeof(rank), "%lld", pv_i(row, "rank"));
		fprintf(f, "      %4s %6lld  %-18s %7s  %-13s %s%s\n", rank, pv_i(row, "offer"), pv_s(row, "price"),
			pv_s(row, "total"), pv_s(row, "status"), procview_who(row),
			json_is_true(json_object_get(row, "you")) ? " (you)" : "");
		pv_row_detail(f, lot, row, price_only);
	}
	if (unscored && strcmp(pv_s(lot, "state"), "active") == 0)
		fprintf(f, "      scores missing: totals are partial (a score not given counts 0); ranks "
			   "follow once every offer is scored (bid score %lld OFFER)\n",
			pv_i(p, "id"));
}

/* Describe a lot's outcome into buf. */
void procview_outcome(json_t *p, json_t *lot, char *buf, size_t n)
{
	const char *state = pv_s(lot, "state");
	long long offer;
	json_t *row;

	buf[0] = '\0';
	if (view_int(lot, "awarded_offer", &offer) == 0) {
		row = pv_opening_row(lot, offer);
		snprintf(buf, n, "awarded offer %lld: %s at %s %s", offer, row != NULL ? procview_who(row) : "-",
			 view_str(row, "auction_price") != NULL ? view_str(row, "auction_price") : pv_s(row, "price"),
			 pv_s(p, "currency"));
	} else if (strcmp(state, "unsuccessful") == 0 || strcmp(state, "cancelled") == 0)
		snprintf(buf, n, "%s", state);
}

/* Print one lot: title, maximum price, state and offers, items, criteria, its auction, the
 * opening record and the outcome. */
static void pv_lot(FILE *f, json_t *p, json_t *lot)
{
	long long offers = pv_i(lot, "offers"), auction;
	char outcome[512];

	fprintf(f, "  lot %lld: %s\n", pv_i(lot, "id"), pv_s(lot, "title"));
	fprintf(f, PV_LOT_LABEL "%s %s\n", "max price", pv_s(lot, "max_price"), pv_s(p, "currency"));
	fprintf(f, PV_LOT_LABEL "%s, %lld offer%s\n", "state", pv_s(lot, "state"), offers, offers == 1 ? "" : "s");
	pv_items(f, lot);
	pv_criteria(f, lot);
	if (view_int(lot, "auction", &auction) == 0)
		fprintf(f, PV_LOT_LABEL "%lld (tenderctl watch %lld)\n", "auction", auction, auction);
	procview_opening(f, p, lot, SIZE_MAX);
	procview_outcome(p, lot, outcome, sizeof(outcome));
	if (outcome[0] != '\0')
		fprintf(f, PV_LOT_LABEL "%s\n", "outcome", outcome);
}

/* Print the procurement's documents. */
static void pv_documents(FILE *f, json_t *p)
{
	json_t *docs = json_object_get(p, "documents"), *d;
	size_t i;

	if (json_array_size(docs) == 0)
		return;
	fprintf(f, "  documents\n");
	json_array_foreach(docs, i, d)
		fprintf(f, "    %lld. %s, %s, %lld bytes, sha256 %s%s\n", pv_i(d, "id"), pv_s(d, "name"),
			pv_s(d, "media_type"), pv_i(d, "size"), pv_s(d, "sha256"),
			json_is_false(json_object_get(d, "has_content")) ? " (described only)" : "");
}

/* Print the questions and their answers (never who asked). */
static void pv_questions(FILE *f, json_t *p)
{
	json_t *qs = json_object_get(p, "questions"), *q;
	size_t i;

	if (json_array_size(qs) == 0)
		return;
	fprintf(f, "  questions\n");
	json_array_foreach(qs, i, q) {
		fprintf(f, "    %lld. %s\n", pv_i(q, "id"), pv_s(q, "text"));
		if (view_str(q, "answer") != NULL)
			fprintf(f, "       answer: %s\n", view_str(q, "answer"));
		else
			fprintf(f, "       (not answered yet)\n");
	}
}

/* Print the offers of the viewing supplier, if there are any. */
void procview_your_offers(FILE *f, json_t *p)
{
	json_t *mine = json_object_get(p, "your_offers"), *o;
	size_t i;

	if (json_array_size(mine) == 0)
		return;
	fprintf(f, "  your offers\n");
	json_array_foreach(mine, i, o) {
		int64_t at;
		char when[64] = "-";

		if (view_time(o, "submitted_at", &at) == 0)
			view_clock(at, VIEW_FULL, when, sizeof(when));
		fprintf(f, "    offer %lld on lot %lld: %s %s, revision %lld, %s", pv_i(o, "offer"), pv_i(o, "lot"),
			pv_s(o, "price"), pv_s(p, "currency"), pv_i(o, "revision"), pv_s(o, "status"));
		if (json_is_true(json_object_get(o, "needs_confirm")))
			fputs(", NEEDS CONFIRMATION", f);
		pv_values(f, o, ", ");
		pv_extras(f, o, ", ");
		fprintf(f, ", submitted %s\n", when);
	}
}

/* Print the full description of a procurement object. */
void procview_procurement(FILE *f, json_t *p)
{
	int64_t now = -1;
	json_t *lot;
	size_t i;

	view_time(p, "server_time", &now);
	fprintf(f, "procurement %lld: %s\n", pv_i(p, "id"), pv_s(p, "title"));
	fprintf(f, PV_LABEL "%s, version %lld\n", "kind", pv_s(p, "kind"), pv_i(p, "version"));
	fprintf(f, PV_LABEL "%s\n", "buyer", pv_s(p, "buyer"));
	fprintf(f, PV_LABEL "%s\n", "state", pv_s(p, "state"));
	if (view_str(p, "cancel_reason") != NULL)
		fprintf(f, PV_LABEL "%s\n", "cancelled", view_str(p, "cancel_reason"));
	if (view_str(p, "description") != NULL && *view_str(p, "description") != '\0')
		fprintf(f, PV_LABEL "%s\n", "description", view_str(p, "description"));
	fprintf(f, PV_LABEL "%s, at least %lld offer%s per lot\n", "currency", pv_s(p, "currency"),
		pv_i(p, "min_bids"), pv_i(p, "min_bids") == 1 ? "" : "s");
	procview_deadlines(f, p, now);
	pv_moment(f, p, "published", "published_at");
	pv_moment(f, p, "decided", "decided_at");
	pv_auction_settings(f, p);
	json_array_foreach(json_object_get(p, "lots"), i, lot)
		pv_lot(f, p, lot);
	pv_documents(f, p);
	pv_questions(f, p);
	procview_your_offers(f, p);
}

/* Print a procurement.list reply as a table. */
void procview_list(json_t *reply, int heading)
{
	json_t *list = json_object_get(reply, "procurements"), *p;
	size_t i;

	if (json_array_size(list) == 0) {
		if (heading)
			printf("no procurements\n");
		return;
	}
	if (heading)
		printf("%6s  %-14s %-12s %4s  %-19s  %-19s  %s\n", "id", "kind", "state", "lots",
		       "submissions until", "opening at", "title (buyer)");
	json_array_foreach(list, i, p) {
		int64_t t;
		char dead[64] = "-", open[64] = "-";

		if (view_time(p, "submission_deadline", &t) == 0)
			view_clock(t, VIEW_DATE, dead, sizeof(dead));
		if (view_time(p, "opening_at", &t) == 0)
			view_clock(t, VIEW_DATE, open, sizeof(open));
		printf("%6lld  %-14s %-12s %4lld  %-19s  %-19s  %s (%s)\n", pv_i(p, "id"), pv_s(p, "kind"),
		       pv_s(p, "state"), pv_i(p, "lots"), dead, open, pv_s(p, "title"), pv_s(p, "buyer"));
	}
}

/* Print the reply to quote.* or bid.submit/withdraw/confirm. */
void procview_offer(json_t *req, json_t *reply)
{
	const char *op = pv_s(req, "op"), *dot = strchr(op, '.');
	const char *what = strncmp(op, "quote.", 6) == 0 ? "quote" : "bid";
	const char *verb = "confirmed";
	int64_t at;
	char when[64] = "-";

	if (dot != NULL && strcmp(dot, ".submit") == 0)
		verb = "submitted";
	else if (dot != NULL && strcmp(dot, ".withdraw") == 0)
		verb = "withdrawn";
	if (view_time(reply, "at", &at) == 0)
		view_clock(at, VIEW_FULL, when, sizeof(when));
	printf("%s %s: offer %lld on lot %lld of procurement %lld", what, verb, pv_i(reply, "offer"),
	       pv_i(reply, "lot"), pv_i(req, "procurement"));
	if (view_str(req, "price") != NULL && strcmp(verb, "submitted") == 0)
		printf(", price %s", view_str(req, "price"));
	pv_values(stdout, req, ", ");
	printf(", revision %lld, %s, at %s\n", pv_i(reply, "revision"), pv_s(reply, "status"), when);
}

/* Print a question.ask reply. */
void procview_question(json_t *req, json_t *reply)
{
	printf("question %lld asked on procurement %lld (the buyer sees it without learning who asked)\n",
	       pv_i(reply, "question"), pv_i(req, "procurement"));
}

/* Print a participant.suspend or participant.reinstate reply. */
void procview_participant(json_t *reply)
{
	json_t *x = json_object_get(reply, "participant");

	printf("participant %lld %s (%s): %s\n", pv_i(x, "id"), pv_s(x, "name"), pv_s(x, "role"), pv_s(x, "status"));
}

/* Print an organization.suspend or organization.reinstate reply. */
void procview_organization(json_t *reply)
{
	json_t *x = json_object_get(reply, "organization");

	printf("organization %lld %s: %s (%lld participants)\n", pv_i(x, "id"), pv_s(x, "name"),
	       pv_s(x, "status"), pv_i(x, "participants"));
}
