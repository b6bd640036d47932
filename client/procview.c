/* tenderctl: readable output of procurement replies, and base64 for documents. */
#include "client/procview.h"
#include "client/view.h"

#include <stdio.h>
#include <string.h>

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode `n` bytes as base64 into out (room for 4 * ((n + 2) / 3) + 1). */
void procview_b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		out[o++] = b64_chars[v >> 18 & 63];
		out[o++] = b64_chars[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64_chars[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64_chars[v & 63] : '=';
	}
	out[o] = '\0';
}

/* Decode base64 (no white space) into out (room for 3 * strlen / 4); returns the length or -1. */
long procview_b64_decode(const char *in, unsigned char *out)
{
	size_t len = strlen(in), o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		unsigned v = 0;
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			const char *p = in[i + k] == '=' ? NULL : strchr(b64_chars, in[i + k]);
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (p == NULL || *p == '\0' || pad)
				return -1;
			v = v << 6 | (unsigned)(p - b64_chars);
		}
		out[o++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)v;
	}
	return (long)o;
}

/* A string member or "-". */
static const char *pv_s(json_t *o, const char *k)
{
	const char *s = view_str(o, k);

	return s != NULL ? s : "-";
}

/* Print one procurement. */
void procview_procurement(FILE *f, json_t *p)
{
	json_t *lot, *x;
	size_t i, j;
	long long n;

	fprintf(f, "procurement %lld: %s\n", (long long)json_integer_value(json_object_get(p, "id")),
		pv_s(p, "title"));
	fprintf(f, "  kind          %s, version %lld\n", pv_s(p, "kind"),
		view_int(p, "version", &n) == 0 ? n : 0LL);
	fprintf(f, "  buyer         %s\n", pv_s(p, "buyer"));
	fprintf(f, "  state         %s\n", pv_s(p, "state"));
	fprintf(f, "  enquiries to  %s\n", pv_s(p, "enquiry_end"));
	fprintf(f, "  submissions   until %s, opening %s\n", pv_s(p, "submission_deadline"),
		pv_s(p, "opening_at"));
	if (view_str(p, "cancel_reason"))
		fprintf(f, "  cancelled     %s\n", view_str(p, "cancel_reason"));
	json_array_foreach(json_object_get(p, "lots"), i, lot) {
		fprintf(f, "  lot %lld: %s (max %s %s), %s, %lld offer(s)\n",
			view_int(lot, "id", &n) == 0 ? n : 0LL, pv_s(lot, "title"), pv_s(lot, "max_price"),
			pv_s(p, "currency"), pv_s(lot, "state"),
			view_int(lot, "offers", &n) == 0 ? n : 0LL);
		json_array_foreach(json_object_get(lot, "items"), j, x)
			fprintf(f, "    item  %s: %s %s (%s)\n", pv_s(x, "description"), pv_s(x, "quantity"),
				pv_s(x, "unit"), pv_s(x, "classification"));
		json_array_foreach(json_object_get(lot, "criteria"), j, x)
			fprintf(f, "    criterion %s (%s) weight %s%%\n", pv_s(x, "code"), pv_s(x, "kind"),
				pv_s(x, "weight"));
		json_array_foreach(json_object_get(lot, "opening"), j, x) {
			const char *who = view_str(x, "organization") ? view_str(x, "organization") :
					  pv_s(x, "bidder");
			char rank[24] = "-";
			if (json_is_integer(json_object_get(x, "rank")))
				snprintf(rank, sizeof(rank), "%lld", (long long)json_integer_value(json_object_get(x, "rank")));
			fprintf(f, "    opened  rank %-4s offer %-5lld %-28s %14s  total %s  %s%s\n", rank,
				(long long)json_integer_value(json_object_get(x, "offer")), who, pv_s(x, "price"),
				pv_s(x, "total"), pv_s(x, "status"),
				json_is_true(json_object_get(x, "you")) ? "  (you)" : "");
		}
		if (json_is_integer(json_object_get(lot, "awarded_offer")))
			fprintf(f, "    awarded offer %lld\n", (long long)json_integer_value(json_object_get(lot, "awarded_offer")));
	}
	json_array_foreach(json_object_get(p, "documents"), i, x)
		fprintf(f, "  document %lld: %s (%s, %lld bytes, sha256 %s)\n",
			view_int(x, "id", &n) == 0 ? n : 0LL, pv_s(x, "name"), pv_s(x, "media_type"),
			(long long)json_integer_value(json_object_get(x, "size")), pv_s(x, "sha256"));
	json_array_foreach(json_object_get(p, "questions"), i, x)
		fprintf(f, "  question %lld: %s\n    answer: %s\n", view_int(x, "id", &n) == 0 ? n : 0LL,
			pv_s(x, "text"), pv_s(x, "answer"));
	json_array_foreach(json_object_get(p, "your_offers"), i, x)
		fprintf(f, "  your offer %lld on lot %lld: %s %s, revision %lld, %s%s\n",
			(long long)json_integer_value(json_object_get(x, "offer")),
			(long long)json_integer_value(json_object_get(x, "lot")), pv_s(x, "price"),
			pv_s(p, "currency"), (long long)json_integer_value(json_object_get(x, "revision")),
			pv_s(x, "status"), json_is_true(json_object_get(x, "needs_confirm")) ?
			    ", NEEDS CONFIRMATION" : "");
}

/* Print a reply holding a procurement, an offer or a question. */
void procview_reply(json_t *reply)
{
	json_t *p = json_object_get(reply, "procurement"), *x;
	size_t i;

	if (p != NULL) {
		procview_procurement(stdout, p);
	} else if (json_object_get(reply, "offer") != NULL) {
		printf("offer %lld on lot %lld: %s, revision %lld, at %s\n",
		       (long long)json_integer_value(json_object_get(reply, "offer")),
		       (long long)json_integer_value(json_object_get(reply, "lot")), pv_s(reply, "status"),
		       (long long)json_integer_value(json_object_get(reply, "revision")), pv_s(reply, "at"));
	} else if (json_object_get(reply, "question") != NULL) {
		printf("question %lld asked\n", (long long)json_integer_value(json_object_get(reply, "question")));
	} else if (json_object_get(reply, "procurements") != NULL) {
		json_array_foreach(json_object_get(reply, "procurements"), i, x)
			printf("%5lld  %-14s %-12s %s (%s), opening %s\n",
			       (long long)json_integer_value(json_object_get(x, "id")), pv_s(x, "kind"),
			       pv_s(x, "state"), pv_s(x, "title"), pv_s(x, "buyer"), pv_s(x, "opening_at"));
	} else if (json_object_get(reply, "participant") != NULL) {
		x = json_object_get(reply, "participant");
		printf("participant %lld (%s, %s): %s\n", (long long)json_integer_value(json_object_get(x, "id")),
		       pv_s(x, "name"), pv_s(x, "role"), pv_s(x, "status"));
	} else {
		view_json(reply);
	}
}
