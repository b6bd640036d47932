/* tenderctl commands: a table from command words to the request they build, then one
 * connection, one request and the output of its reply. */
#include "client/cmd.h"
#include "client/doc.h"
#include "client/procview.h"
#include "client/procwatch.h"
#include "client/rpc.h"
#include "client/verify.h"
#include "client/view.h"
#include "client/watch.h"
#include "common/timeutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Largest file --certificate may name. */
#define CMD_PEM_MAX (1024 * 1024)
/* How long a bid waits, after its reply, for the auction's currency. */
#define CMD_SIDE_MS 2000
/* Longest offset a relative time may give: ten years, in seconds. */
#define CMD_OFFSET_MAX (10LL * 366 * 86400)

/* How an argument's text becomes a request field. */
enum cmd_kind {
	CMD_STR,      /* a string exactly as typed */
	CMD_INT,      /* a JSON integer */
	CMD_PEM,      /* the contents of the named file, as a string */
	CMD_FILE,     /* the named file holds a JSON object whose members become fields */
	CMD_OBJECT,   /* the argument is a JSON object whose members become fields */
	CMD_KV,       /* CODE=INTEGER, repeatable: one member of the object `field` */
	CMD_DOC,      /* PATH[:MEDIA_TYPE], repeatable: a document appended to the array `field` */
	CMD_LOCAL,    /* not sent: a setting of the command itself, kept as a string in `local` */
	CMD_SWITCH,   /* not sent: an option without a value, true in `local` */
	/* multi-lot auctions */
	CMD_LOT,      /* PRICE:TITLE, repeatable: a lot appended to the array `field` */
};

/* One option (--name VALUE) or positional argument (NAME) of a command. */
struct cmd_arg {
	const char *name;     /* option name without dashes, or the positional's metavariable */
	int positional;
	const char *field;    /* request field it fills (unused for CMD_FILE, CMD_OBJECT); for
			       * CMD_LOCAL and CMD_SWITCH the member of `local` */
	enum cmd_kind kind;
	int required;         /* the field must be in the final request (the file must be given) */
};

/* One command: its words, its op, its arguments and what to do with the reply. */
struct cmd_spec {
	const char *name;                                         /* "auction create" */
	const char *op;                                           /* NULL: the request names its own */
	const char *usage;
	const struct cmd_arg *args;                               /* ends with a NULL name */
	const char *preset;                                       /* fields every request carries (JSON), or NULL */
	void (*show)(struct rpc *r, json_t *req, json_t *reply);  /* readable output of an ok reply */
	int (*run)(struct rpc *r, json_t *req, json_t *local);    /* instead of call-and-show */
};

/* The request fields that hold a time. tenderctl also takes them relative to the server's
 * clock ("+2h"), and sends the moment that comes to. */
static const char *const cmd_time_fields[] = {"starts_at", "enquiry_end", "submission_deadline", "opening_at",
					     NULL};

/* Print a hello reply. */
static void cmd_show_hello(struct rpc *r, json_t *req, json_t *reply)
{
	view_hello(reply, r->skew_ms);
}

/* Print a participant.register reply. */
static void cmd_show_register(struct rpc *r, json_t *req, json_t *reply)
{
	view_register(reply);
}

/* Print the auction of a reply. */
static void cmd_show_auction(struct rpc *r, json_t *req, json_t *reply)
{
	view_auction(stdout, json_object_get(reply, "auction"));
}

/* Print a raw request's reply. */
static void cmd_show_raw(struct rpc *r, json_t *req, json_t *reply)
{
	view_json(reply);
}

/* Print the procurement of a reply. */
static void cmd_show_procurement(struct rpc *r, json_t *req, json_t *reply)
{
	procview_procurement(stdout, json_object_get(reply, "procurement"));
}

/* Print a quote or bid reply. */
static void cmd_show_offer(struct rpc *r, json_t *req, json_t *reply)
{
	procview_offer(req, reply);
}

/* Print a question.ask reply. */
static void cmd_show_question(struct rpc *r, json_t *req, json_t *reply)
{
	procview_question(req, reply);
}

/* Print a participant.suspend / participant.reinstate reply. */
static void cmd_show_participant(struct rpc *r, json_t *req, json_t *reply)
{
	procview_participant(reply);
}

/* Print an organization.suspend / organization.reinstate reply. */
static void cmd_show_organization(struct rpc *r, json_t *req, json_t *reply)
{
	procview_organization(reply);
}

/* Print an auction.proxy reply (proxy bidding). */
static void cmd_show_proxy(struct rpc *r, json_t *req, json_t *reply)
{
	view_proxy(reply);
}

/* Bid; for readable output also ask for the auction (after the bid, so the bid is not delayed)
 * to learn its currency, and wait a little for that reply if the bid's came first. */
static int cmd_bid(struct rpc *r, json_t *req, json_t *local)
{
	int64_t wall = time_now_ms(), mono = time_mono_ms();
	json_t *id, *get = NULL, *reply = NULL;
	int rc = rpc_send(r, req, &id);

	if (rc == CTL_OK && !r->json) {
		get = json_pack("{s:s,s:O}", "op", "auction.get", "auction", json_object_get(req, "auction"));
		if (get != NULL && rpc_send(r, get, &r->side_id) != CTL_OK)
			rc = CTL_CONN;
	}
	if (rc == CTL_OK)
		rc = rpc_wait(r, id, mono + r->timeout_ms, wall, mono, &reply);
	if (rc == CTL_OK && !r->json) {
		rpc_wait_side(r, time_mono_ms() + (r->timeout_ms < CMD_SIDE_MS ? r->timeout_ms : CMD_SIDE_MS));
		view_bid(reply, view_str(json_object_get(r->side_reply, "auction"), "currency"));
	}
	json_decref(reply);
	r->side_id = NULL;
	json_decref(get);
	return rc;
}

/* verify-receipt: the checks run here, offline (client/verify.c). */
static int cmd_verify_receipt(struct rpc *r, json_t *req, json_t *local)
{
	return verify_receipt_run(r, local);
}

/* Follow an auction live. */
static int cmd_watch(struct rpc *r, json_t *req, json_t *local)
{
	return watch_run(r, req);
}

/* Follow a procurement live. */
static int cmd_procurement_watch(struct rpc *r, json_t *req, json_t *local)
{
	return procwatch_run(r, req);
}

/* A list, page by page with --all: each page's rows as they come, under one heading (with
 * --json, each page's reply line); without --all, a hint naming the cursor of the next page
 * when there is one. Nothing is kept from page to page but the cursors seen: a server whose
 * cursors come back to one already followed ends the listing there instead of looping.
 * `show` prints a page's rows (with the heading on the first page). */
static int cmd_list_pages(struct rpc *r, json_t *req, json_t *local,
    void (*show)(json_t *reply, int first))
{
	int all = json_is_true(json_object_get(local, "all")), rc, first = 1;
	json_t *seen = json_object(), *reply = NULL, *next = NULL;

	if (seen == NULL)
		return CTL_CONN;
	for (;;) {
		rc = rpc_call(r, req, &reply);
		if (rc != CTL_OK)
			break;
		if (!r->json)
			show(reply, first);
		first = 0;
		json_decref(next);
		next = json_incref(json_object_get(reply, "next"));
		json_decref(reply);
		reply = NULL;
		if (!all || !json_is_string(next))
			break;
		if (json_object_get(seen, json_string_value(next)) != NULL) {
			fprintf(stderr, "warning: the server gave the cursor %s a second time; the list "
					"stops here\n", json_string_value(next));
			break;
		}
		json_object_set_new(seen, json_string_value(next), json_true());
		json_object_del(req, "id");
		json_object_set(req, "after", next);
	}
	json_decref(reply);
	if (rc == CTL_OK && !r->json && !all && json_is_string(next))
		printf("(more: --after %s for the next page, or --all)\n", json_string_value(next));
	json_decref(next);
	json_decref(seen);
	return rc;
}

/* auction list [--all] */
static int cmd_auction_list(struct rpc *r, json_t *req, json_t *local)
{
	return cmd_list_pages(r, req, local, view_list);
}

/* procurement list [--all] */
static int cmd_procurement_list(struct rpc *r, json_t *req, json_t *local)
{
	return cmd_list_pages(r, req, local, procview_list);
}

/* document get: fetch, decode, check the SHA-256, then write the content to -o FILE or to
 * standard output. With --json the reply line is the output, and -o still writes the file. */
static int cmd_document(struct rpc *r, json_t *req, json_t *local)
{
	const char *out = view_str(local, "output"), *name, *type;
	json_t *reply = NULL, *d;
	unsigned char *data = NULL;
	char hex[65], err[512];
	size_t len = 0;
	FILE *f;
	int rc = rpc_call(r, req, &reply), bad;

	d = json_object_get(reply, "document");
	name = view_str(d, "name") != NULL ? view_str(d, "name") : "-";
	type = view_str(d, "media_type") != NULL ? view_str(d, "media_type") : "-";
	if (rc == CTL_OK && doc_decode(d, &data, &len, hex, err, sizeof(err)) != 0) {
		fprintf(stderr, "error: document %lld (%s): %s\n", (long long)json_integer_value(json_object_get(d, "id")),
			name, err);
		rc = CTL_ERROR;
	}
	if (rc == CTL_OK && (out != NULL || !r->json)) {
		f = out != NULL ? fopen(out, "wb") : stdout;
		bad = f == NULL || fwrite(data, 1, len, f) != len;
		if (f != NULL && f != stdout && fclose(f) != 0)
			bad = 1;
		if (bad) {
			fprintf(stderr, "error: cannot write '%s'\n", out != NULL ? out : "standard output");
			rc = CTL_ERROR;
		} else if (out != NULL && !r->json)
			printf("document %lld: %s, %s, %zu bytes, sha256 %s verified, written to %s\n",
			       (long long)json_integer_value(json_object_get(d, "id")), name, type, len, hex, out);
	}
	free(data);
	json_decref(reply);
	return rc;
}

/* Parse an offset of a relative time: '+' then one or more NUMBER[smhd] ("+90" and "+90s" are
 * 90 seconds, "+1d12h"); 0 with the offset in ms, or -1. */
static int cmd_offset(const char *s, int64_t *ms)
{
	long long total = 0;

	if (*s++ != '+' || *s == '\0')
		return -1;
	while (*s != '\0') {
		long long n = 0, unit = 1;

		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9' && n <= CMD_OFFSET_MAX)
			n = n * 10 + (*s++ - '0');
		if (*s == 's' || *s == 'm' || *s == 'h' || *s == 'd')
			unit = *s == 's' ? 1 : *s == 'm' ? 60 : *s == 'h' ? 3600 : 86400;
		else if (*s != '\0')
			return -1;
		if (*s != '\0')
			s++;
		if (n > CMD_OFFSET_MAX || (total += n * unit) > CMD_OFFSET_MAX)
			return -1;
	}
	*ms = (int64_t)total * 1000;
	return 0;
}

/* The relative time in a time field of req, or NULL when it holds none. */
static const char *cmd_relative(json_t *req, const char *field)
{
	const char *s = json_string_value(json_object_get(req, field));

	return s != NULL && s[0] == '+' ? s : NULL;
}

/* Check the relative times of a request before connecting; CTL_OK or CTL_USAGE. */
static int cmd_check_times(const struct cmd_spec *spec, json_t *req)
{
	int64_t ms;

	for (int i = 0; cmd_time_fields[i] != NULL; i++) {
		const char *s = cmd_relative(req, cmd_time_fields[i]);

		if (s != NULL && cmd_offset(s, &ms) != 0)
			return opts_fail("%s: %s '%s' is neither an RFC 3339 time nor an offset such as +90s, +15m, "
					 "+2h, +7d or +1d12h",
					 spec->name, cmd_time_fields[i], s);
	}
	return CTL_OK;
}

/* Replace the relative times of req by the moments they give, counted from the server's clock
 * (read with a hello first); nothing is asked when there are none. */
static int cmd_resolve_times(struct rpc *r, json_t *req)
{
	json_t *hello, *reply = NULL;
	int64_t now = 0, ms;
	char when[TIME_BUF];
	int i, rc;

	for (i = 0; cmd_time_fields[i] != NULL && cmd_relative(req, cmd_time_fields[i]) == NULL; i++)
		;
	if (cmd_time_fields[i] == NULL)
		return CTL_OK;
	if ((hello = json_pack("{s:s}", "op", "hello")) == NULL)
		return CTL_CONN;
	rc = rpc_call_quiet(r, hello, &reply);
	json_decref(hello);
	if (rc == CTL_OK && view_time(reply, "server_time", &now) != 0) {
		fprintf(stderr, "error: the server did not tell its time\n");
		rc = CTL_CONN;
	}
	/* count from the next whole second, so that "+90s" is a round moment at least 90 s away */
	now = (now / 1000 + 1) * 1000;
	for (i = 0; rc == CTL_OK && cmd_time_fields[i] != NULL; i++) {
		const char *s = cmd_relative(req, cmd_time_fields[i]);

		if (s == NULL || cmd_offset(s, &ms) != 0)
			continue;
		time_format(now + ms, when);
		json_object_set_new(req, cmd_time_fields[i], json_string(when));
	}
	json_decref(reply);
	return rc;
}

/* Send the request with its relative times resolved and show the reply. */
static int cmd_call_show(struct rpc *r, json_t *req, void (*show)(struct rpc *, json_t *, json_t *))
{
	json_t *reply = NULL;
	int rc = cmd_resolve_times(r, req);

	if (rc == CTL_OK)
		rc = rpc_call(r, req, &reply);
	if (rc == CTL_OK && !r->json)
		show(r, req, reply);
	json_decref(reply);
	return rc;
}

/* Fill the fields of an amendment that neither a file nor an option gave from the procurement
 * as it stands: title, description, deadlines, min_bids, lots (title, max_price, items,
 * criteria, in lot order), the auction settings. Documents are not repeated: an amendment
 * adds the documents it gives. */
static void cmd_amend_base(json_t *p, json_t *req)
{
	static const char *const keep[] = {"title", "description", "enquiry_end", "submission_deadline",
					   "opening_at", "min_bids", "auction", NULL};
	json_t *lots = json_array(), *lot;
	size_t i;

	for (i = 0; keep[i] != NULL; i++) {
		json_t *v = json_object_get(p, keep[i]);

		if (v != NULL && !json_is_null(v) && json_object_get(req, keep[i]) == NULL &&
		    !(json_is_string(v) && json_string_length(v) == 0))
			json_object_set(req, keep[i], v);
	}
	json_array_foreach(json_object_get(p, "lots"), i, lot)
		json_array_append_new(lots, json_pack("{s:O, s:O, s:O, s:O}", "title", json_object_get(lot, "title"),
						      "max_price", json_object_get(lot, "max_price"), "items",
						      json_object_get(lot, "items"), "criteria",
						      json_object_get(lot, "criteria")));
	json_object_set_new(req, "lots", lots);
}

/* procurement amend: without --file, start from the procurement as it stands (read verbatim,
 * so that text goes back unchanged) and change what the options say. */
static int cmd_amend(struct rpc *r, json_t *req, json_t *local)
{
	json_t *get, *reply = NULL;
	int rc;

	if (json_object_get(req, "lots") == NULL) {
		get = json_pack("{s:s, s:O}", "op", "procurement.get", "procurement", json_object_get(req, "procurement"));
		if (get == NULL)
			return CTL_CONN;
		r->verbatim = 1;
		rc = rpc_call_quiet(r, get, &reply);
		r->verbatim = 0;
		json_decref(get);
		if (rc == CTL_OK)
			cmd_amend_base(json_object_get(reply, "procurement"), req);
		json_decref(reply);
		if (rc != CTL_OK)
			return rc;
	}
	return cmd_call_show(r, req, cmd_show_procurement);
}

#define CMD_END {NULL, 0, NULL, CMD_STR, 0}

static const struct cmd_arg cmd_no_args[] = {CMD_END};

static const struct cmd_arg cmd_register_args[] = {
	{"organization", 0, "organization", CMD_STR, 1},
	{"role", 0, "role", CMD_STR, 1},
	{"name", 0, "name", CMD_STR, 1},
	{"certificate", 0, "certificate", CMD_PEM, 1},
	{"tax-id", 0, "tax_id", CMD_STR, 0},
	{"country", 0, "country", CMD_STR, 0},
	CMD_END,
};

static const struct cmd_arg cmd_create_args[] = {
	{"file", 0, NULL, CMD_FILE, 0},
	{"title", 0, "title", CMD_STR, 1},
	{"currency", 0, "currency", CMD_STR, 1},
	{"start-price", 0, "start_price", CMD_STR, 2},
	{"step-min", 0, "step_min", CMD_STR, 0},
	{"step-max", 0, "step_max", CMD_STR, 0},
	{"starts-at", 0, "starts_at", CMD_STR, 0},
	{"duration", 0, "duration", CMD_INT, 0},
	{"extension-window", 0, "extension_window", CMD_INT, 0},
	{"extension", 0, "extension", CMD_INT, 0},
	{"format", 0, "format", CMD_STR, 0},
	{"max-extensions", 0, "max_extensions", CMD_INT, 0},
	{"latest-end", 0, "latest_end", CMD_STR, 0},
	{"visibility", 0, "visibility", CMD_STR, 0},
	{"clock-step", 0, "clock_step", CMD_STR, 0},
	{"clock-interval", 0, "clock_interval", CMD_INT, 0},
	{"clock-limit", 0, "clock_limit", CMD_STR, 0},
	{"tail", 0, "tail", CMD_INT, 0},
	/* rounds */
	{"initial", 0, "initial", CMD_INT, 0},
	{"pause", 0, "pause", CMD_INT, 0},
	{"rounds", 0, "rounds", CMD_INT, 0},
	{"turn", 0, "turn", CMD_INT, 0},
	{"round-pause", 0, "round_pause", CMD_INT, 0},
	{"lot", 0, "lots", CMD_LOT, 0},
	{"lot-closing", 0, "lot_closing", CMD_STR, 0},
	{"stagger", 0, "stagger", CMD_INT, 0},
	/* outage pause */
	{"outage-share", 0, "outage_share", CMD_STR, 0},
	{"outage-window", 0, "outage_window", CMD_INT, 0},
	{"outage-max-pause", 0, "outage_max_pause", CMD_INT, 0},
	{"outage-min-bidders", 0, "outage_min_bidders", CMD_INT, 0},
	CMD_END,
};

static const struct cmd_arg cmd_id_args[] = {
	{"ID", 1, "auction", CMD_INT, 1},
	CMD_END,
};

static const struct cmd_arg cmd_list_args[] = {
	{"state", 0, "state", CMD_STR, 0},
	{"kind", 0, "kind", CMD_STR, 0},
	{"buyer", 0, "buyer", CMD_INT, 0},
	{"limit", 0, "limit", CMD_INT, 0},
	{"after", 0, "after", CMD_STR, 0},
	{"all", 0, "all", CMD_SWITCH, 0},
	CMD_END,
};

static const struct cmd_arg cmd_cancel_args[] = {
	{"ID", 1, "auction", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_extend_args[] = {
	{"ID", 1, "auction", CMD_INT, 1},
	{"duration", 0, "duration", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_bid_args[] = {
	{"AUCTION", 1, "auction", CMD_INT, 1},
	{"AMOUNT", 1, "amount", CMD_STR, 1},
	CMD_END,
};

/* proxy bidding: `proxy AUCTION FLOOR`, `proxy withdraw AUCTION` */
static const struct cmd_arg cmd_proxy_args[] = {
	{"AUCTION", 1, "auction", CMD_INT, 1},
	{"FLOOR", 1, "floor", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_watch_args[] = {
	{"AUCTION", 1, "auction", CMD_INT, 1},
	CMD_END,
};

static const struct cmd_arg cmd_raw_args[] = {
	{"JSON-OBJECT", 1, NULL, CMD_OBJECT, 1},
	CMD_END,
};

static const struct cmd_arg cmd_pcreate_args[] = {
	{"file", 0, NULL, CMD_FILE, 1},
	{"kind", 0, "kind", CMD_STR, 1},
	{"title", 0, "title", CMD_STR, 1},
	{"description", 0, "description", CMD_STR, 0},
	{"currency", 0, "currency", CMD_STR, 1},
	{"enquiry-end", 0, "enquiry_end", CMD_STR, 1},
	{"submission-deadline", 0, "submission_deadline", CMD_STR, 1},
	{"opening-at", 0, "opening_at", CMD_STR, 1},
	{"min-bids", 0, "min_bids", CMD_INT, 0},
	{"document", 0, "documents", CMD_DOC, 0},
	CMD_END,
};

static const struct cmd_arg cmd_pamend_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	{"file", 0, NULL, CMD_FILE, 0},
	{"title", 0, "title", CMD_STR, 0},
	{"description", 0, "description", CMD_STR, 0},
	{"enquiry-end", 0, "enquiry_end", CMD_STR, 0},
	{"submission-deadline", 0, "submission_deadline", CMD_STR, 0},
	{"opening-at", 0, "opening_at", CMD_STR, 0},
	{"min-bids", 0, "min_bids", CMD_INT, 0},
	{"document", 0, "documents", CMD_DOC, 0},
	CMD_END,
};

static const struct cmd_arg cmd_pid_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	CMD_END,
};

static const struct cmd_arg cmd_preason_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_ask_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"TEXT", 1, "text", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_answer_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"QUESTION", 1, "question", CMD_INT, 1},
	{"TEXT", 1, "text", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_quote_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"LOT", 1, "lot", CMD_INT, 1},
	{"PRICE", 1, "price", CMD_STR, 1},
	{"delivery-days", 0, "delivery_days", CMD_INT, 0},
	{"validity-days", 0, "validity_days", CMD_INT, 0},
	{"comment", 0, "comment", CMD_STR, 0},
	CMD_END,
};

static const struct cmd_arg cmd_tbid_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"LOT", 1, "lot", CMD_INT, 1},
	{"PRICE", 1, "price", CMD_STR, 1},
	{"value", 0, "values", CMD_KV, 0},
	{"delivery-days", 0, "delivery_days", CMD_INT, 0},
	{"validity-days", 0, "validity_days", CMD_INT, 0},
	{"comment", 0, "comment", CMD_STR, 0},
	CMD_END,
};

static const struct cmd_arg cmd_lot_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"LOT", 1, "lot", CMD_INT, 1},
	CMD_END,
};

static const struct cmd_arg cmd_score_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"OFFER", 1, "offer", CMD_INT, 1},
	{"score", 0, "scores", CMD_KV, 1},
	CMD_END,
};

static const struct cmd_arg cmd_award_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"LOT", 1, "lot", CMD_INT, 1},
	{"OFFER", 1, "offer", CMD_INT, 1},
	CMD_END,
};

static const struct cmd_arg cmd_disqualify_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"LOT", 1, "lot", CMD_INT, 1},
	{"OFFER", 1, "offer", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_verify_args[] = {
	{"RECEIPT", 1, "receipt", CMD_LOCAL, 1},
	{"head", 0, "head", CMD_LOCAL, 0},
	{"save-head", 0, "save_head", CMD_LOCAL, 0},
	CMD_END,
};

static const struct cmd_arg cmd_document_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1},
	{"DOC", 1, "document", CMD_INT, 1},
	{"output", 0, "output", CMD_LOCAL, 0},
	CMD_END,
};

static const struct cmd_arg cmd_participant_args[] = {
	{"PARTICIPANT", 1, "participant", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	CMD_END,
};

static const struct cmd_arg cmd_organization_args[] = {
	{"ORGANIZATION", 1, "organization", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	CMD_END,
};

/* Two-word commands come before a one-word command of the same first word (`bid submit`
 * before `bid AUCTION AMOUNT`). */
static const struct cmd_spec cmd_specs[] = {
	{"hello", "hello", "hello", cmd_no_args, NULL, cmd_show_hello, NULL},
	{"register", "participant.register",
	 "register --organization ORG --role ROLE --name NAME --certificate PEMFILE [--tax-id X] [--country CC]",
	 cmd_register_args, NULL, cmd_show_register, NULL},
	{"auction create", "auction.create",
	 "auction create --title T --currency C --start-price AMOUNT [--step-min S] [--step-max S] "
	 "[--starts-at TIME] [--duration S] [--extension-window S] [--extension S] [--format F] "
	 "[--max-extensions N] [--latest-end TIME] [--visibility V] [--clock-step AMOUNT] "
	 "[--clock-interval MS] [--clock-limit AMOUNT] [--tail S] [--initial S] [--pause S] "
	 "[--rounds N] [--turn S] [--round-pause S] [--outage-share PCT] [--outage-window S] "
	 "[--outage-max-pause S] [--outage-min-bidders N] [--lot PRICE:TITLE ... [--lot-closing "
	 "parallel|staggered] [--stagger S] instead of --start-price] | --file REQUEST.json",
	 cmd_create_args, NULL, cmd_show_auction, NULL},
	{"auction get", "auction.get", "auction get ID", cmd_id_args, NULL, cmd_show_auction, NULL},
	{"auction list", "auction.list",
	 "auction list [--state STATE] [--kind KIND] [--buyer ORG] [--limit N] [--after CURSOR] [--all]",
	 cmd_list_args, NULL, NULL, cmd_auction_list},
	{"auction cancel", "auction.cancel", "auction cancel ID --reason TEXT", cmd_cancel_args, NULL,
	 cmd_show_auction, NULL},
	{"auction pause", "auction.pause", "auction pause ID --reason TEXT", cmd_cancel_args, NULL,
	 cmd_show_auction, NULL},
	{"auction resume", "auction.resume", "auction resume ID --reason TEXT", cmd_cancel_args, NULL,
	 cmd_show_auction, NULL},
	{"auction extend", "auction.extend", "auction extend ID --duration SECONDS --reason TEXT",
	 cmd_extend_args, NULL, cmd_show_auction, NULL},
	{"procurement create", "procurement.create",
	 "procurement create --file REQUEST.json [--kind K] [--title T] [--description D] [--currency C] "
	 "[--enquiry-end TIME] [--submission-deadline TIME] [--opening-at TIME] [--min-bids N] "
	 "[--document PATH[:MEDIA_TYPE]]...",
	 cmd_pcreate_args, NULL, cmd_show_procurement, NULL},
	{"procurement publish", "procurement.publish", "procurement publish ID", cmd_pid_args, NULL,
	 cmd_show_procurement, NULL},
	{"procurement amend", "procurement.amend",
	 "procurement amend ID --reason TEXT [--file REQUEST.json] [--title T] [--description D] "
	 "[--enquiry-end TIME] [--submission-deadline TIME] [--opening-at TIME] [--min-bids N] "
	 "[--document PATH[:MEDIA_TYPE]]...",
	 cmd_pamend_args, NULL, NULL, cmd_amend},
	{"procurement get", "procurement.get", "procurement get ID", cmd_pid_args, NULL, cmd_show_procurement, NULL},
	{"procurement list", "procurement.list",
	 "procurement list [--state STATE] [--kind KIND] [--buyer ORG] [--limit N] [--after CURSOR] [--all]",
	 cmd_list_args, NULL, NULL, cmd_procurement_list},
	{"procurement cancel", "procurement.cancel", "procurement cancel ID --reason TEXT", cmd_preason_args, NULL,
	 cmd_show_procurement, NULL},
	{"procurement complete", "procurement.complete", "procurement complete ID", cmd_pid_args, NULL,
	 cmd_show_procurement, NULL},
	{"procurement watch", "procurement.watch", "procurement watch ID", cmd_pid_args, NULL, NULL,
	 cmd_procurement_watch},
	{"question ask", "question.ask", "question ask ID TEXT", cmd_ask_args, NULL, cmd_show_question, NULL},
	{"question answer", "question.answer", "question answer ID QUESTION TEXT", cmd_answer_args, NULL,
	 cmd_show_procurement, NULL},
	{"quote submit", "quote.submit",
	 "quote submit ID LOT PRICE [--delivery-days N] [--validity-days N] [--comment TEXT]", cmd_quote_args, NULL,
	 cmd_show_offer, NULL},
	{"quote withdraw", "quote.withdraw", "quote withdraw ID LOT", cmd_lot_args, NULL, cmd_show_offer, NULL},
	{"quote confirm", "quote.confirm", "quote confirm ID LOT", cmd_lot_args, NULL, cmd_show_offer, NULL},
	{"bid submit", "bid.submit",
	 "bid submit ID LOT PRICE [--value CODE=INTEGER]... [--delivery-days N] [--validity-days N] "
	 "[--comment TEXT]",
	 cmd_tbid_args, NULL, cmd_show_offer, NULL},
	{"bid withdraw", "bid.withdraw", "bid withdraw ID LOT", cmd_lot_args, NULL, cmd_show_offer, NULL},
	{"bid confirm", "bid.confirm", "bid confirm ID LOT", cmd_lot_args, NULL, cmd_show_offer, NULL},
	{"bid score", "bid.score", "bid score ID OFFER --score CODE=INTEGER...", cmd_score_args, NULL,
	 cmd_show_procurement, NULL},
	{"bid", "auction.bid", "bid AUCTION AMOUNT", cmd_bid_args, NULL, NULL, cmd_bid},
	{"proxy withdraw", "auction.proxy", "proxy withdraw AUCTION", cmd_watch_args, "{\"floor\":null}",
	 cmd_show_proxy, NULL},
	{"proxy", "auction.proxy", "proxy AUCTION FLOOR", cmd_proxy_args, NULL, cmd_show_proxy, NULL},
	{"award", "award.decide", "award ID LOT OFFER", cmd_award_args, "{\"decision\":\"award\"}",
	 cmd_show_procurement, NULL},
	{"disqualify", "award.decide", "disqualify ID LOT OFFER --reason TEXT", cmd_disqualify_args,
	 "{\"decision\":\"disqualify\"}", cmd_show_procurement, NULL},
	{"document get", "document.get", "document get ID DOC [-o FILE]", cmd_document_args, NULL, NULL,
	 cmd_document},
	{"participant suspend", "participant.suspend", "participant suspend PARTICIPANT --reason TEXT",
	 cmd_participant_args, NULL, cmd_show_participant, NULL},
	{"participant reinstate", "participant.reinstate", "participant reinstate PARTICIPANT --reason TEXT",
	 cmd_participant_args, NULL, cmd_show_participant, NULL},
	{"organization suspend", "organization.suspend", "organization suspend ORGANIZATION --reason TEXT",
	 cmd_organization_args, NULL, cmd_show_organization, NULL},
	{"organization reinstate", "organization.reinstate",
	 "organization reinstate ORGANIZATION --reason TEXT", cmd_organization_args, NULL,
	 cmd_show_organization, NULL},
	{"watch", "auction.watch", "watch AUCTION", cmd_watch_args, NULL, NULL, cmd_watch},
	{"verify-receipt", "log.head", "verify-receipt RECEIPT [--head FILE] [--save-head FILE]", cmd_verify_args,
	 NULL, NULL, cmd_verify_receipt},
	{"raw", NULL, "raw JSON-OBJECT", cmd_raw_args, NULL, cmd_show_raw, NULL},
	{NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/* The length of a command name's first word. */
static size_t cmd_first_len(const char *name)
{
	const char *space = strchr(name, ' ');

	return space != NULL ? (size_t)(space - name) : strlen(name);
}

/* Whether some two-word command begins with `word`. */
static int cmd_is_group(const char *word)
{
	for (const struct cmd_spec *s = cmd_specs; s->name != NULL; s++)
		if (strchr(s->name, ' ') != NULL && cmd_first_len(s->name) == strlen(word) &&
		    strncmp(s->name, word, strlen(word)) == 0)
			return 1;
	return 0;
}

/* The command named by the first words; *used is how many words its name takes. A one-word
 * command that shares its word with two-word ones is chosen by the shape of what follows: its
 * first argument must be a number (`bid 7 990000` is an auction bid, `bid frobnicate` none). */
static const struct cmd_spec *cmd_find(const struct opts *o, int *used)
{
	long long n;

	for (const struct cmd_spec *s = cmd_specs; s->name != NULL; s++) {
		const char *space = strchr(s->name, ' ');

		if (space == NULL && strcmp(o->words[0], s->name) == 0 &&
		    (o->nwords < 2 || !cmd_is_group(s->name) || opts_int(o->words[1], &n) == 0)) {
			*used = 1;
			return s;
		}
		if (space != NULL && o->nwords >= 2 && strncmp(o->words[0], s->name, (size_t)(space - s->name)) == 0 &&
		    o->words[0][space - s->name] == '\0' && strcmp(o->words[1], space + 1) == 0) {
			*used = 2;
			return s;
		}
	}
	return NULL;
}

/* Refuse an unknown command, naming the commands of its group when the first word is one
 * ("auction create, get, list or cancel"). */
static int cmd_unknown(const struct opts *o)
{
	const char *word = o->words[0], *single = NULL, *names[32];
	char list[512];
	size_t len, wl = strlen(word);
	int n = 0;

	if (!cmd_is_group(word))
		return opts_fail("unknown command '%s'", word);
	for (const struct cmd_spec *s = cmd_specs; s->name != NULL; s++) {
		if (cmd_first_len(s->name) != wl || strncmp(s->name, word, wl) != 0)
			continue;
		if (strchr(s->name, ' ') == NULL)
			single = s->usage;
		else if (n < (int)(sizeof(names) / sizeof(names[0])))
			names[n++] = s->name + wl + 1;
	}
	len = (size_t)snprintf(list, sizeof(list), "%s", word);
	for (int i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i == 0 ? " " : i == n - 1 ? " or " : ", ",
					names[i]);
	if (single != NULL && len < sizeof(list))
		snprintf(list + len, sizeof(list) - len, "; or %s", single);
	if (o->nwords == 1 && single == NULL)
		return opts_fail("%s: which one? (%s)", word, list);
	return opts_fail("unknown command '%s%s%s' (%s)", word, o->nwords > 1 ? " " : "",
			 o->nwords > 1 ? o->words[1] : "", list);
}

/* Read a whole file into a new NUL-terminated buffer of at most `max` bytes; NULL on failure. */
static char *cmd_slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = f != NULL ? malloc(max + 1) : NULL;

	if (buf == NULL) {
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, max + 1, f);
	if (ferror(f) || *len > max) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* Merge the members of a JSON object (from a file or the argument) into req. */
static int cmd_merge(const struct cmd_spec *spec, const struct cmd_arg *arg, const char *text, json_t *req)
{
	json_error_t jerr;
	json_t *obj = arg->kind == CMD_FILE ? json_load_file(text, JSON_REJECT_DUPLICATES, &jerr)
					    : json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	if (!json_is_object(obj)) {
		json_decref(obj);
		if (obj == NULL)
			return opts_fail("%s: %s: %s", spec->name, arg->kind == CMD_FILE ? text : "argument", jerr.text);
		return opts_fail("%s: %s must hold a JSON object", spec->name, arg->kind == CMD_FILE ? text : "argument");
	}
	if (arg->kind == CMD_FILE) {
		json_object_del(obj, "id");
		json_object_del(obj, "op");
	}
	json_object_update(req, obj);
	json_decref(obj);
	return CTL_OK;
}

/* Add CODE=INTEGER to the object member `arg->field` of req; CTL_OK or CTL_USAGE. */
static int cmd_pair(const struct cmd_spec *spec, const struct cmd_arg *arg, const char *text, json_t *req)
{
	const char *eq = strchr(text, '=');
	json_t *obj = json_object_get(req, arg->field);
	long long n;
	char *code;
	int rc;

	if (eq == NULL || eq == text || opts_int(eq + 1, &n) != 0)
		return opts_fail("%s: --%s takes CODE=INTEGER, not '%s'", spec->name, arg->name, text);
	if ((code = strndup(text, (size_t)(eq - text))) == NULL)
		return opts_fail("out of memory");
	if (!json_is_object(obj)) {
		obj = json_object();
		json_object_set_new(req, arg->field, obj);
	}
	if (json_object_get(obj, code) != NULL) {
		opts_fail("%s: --%s gives '%s' twice", spec->name, arg->name, code);
		free(code);
		return CTL_USAGE;
	}
	rc = json_object_set_new(obj, code, json_integer(n));
	free(code);
	return rc == 0 ? CTL_OK : opts_fail("%s: --%s: '%s' is not valid UTF-8 text", spec->name, arg->name, text);
}

/* Multi-lot auctions: append the lot PRICE:TITLE to the array `arg->field`. */
static int cmd_lot_arg(const struct cmd_spec *spec, const struct cmd_arg *arg, const char *text,
		       json_t *req)
{
	const char *colon = strchr(text, ':');
	json_t *arr = json_object_get(req, arg->field), *lot;

	if (colon == NULL || colon == text || colon[1] == '\0')
		return opts_fail("%s: --%s must be PRICE:TITLE, such as 1000.00:Paper A4, not '%s'",
				 spec->name, arg->name, text);
	lot = json_pack("{s:s%, s:s}", "start_price", text, (size_t)(colon - text), "title", colon + 1);
	if (lot == NULL)
		return opts_fail("%s: %s is not valid UTF-8 text", spec->name, arg->name);
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(req, arg->field, arr);
	}
	json_array_append_new(arr, lot);
	return CTL_OK;
}

/* Append the document read from the local file named by text to the array `arg->field`. */
static int cmd_document_arg(const struct cmd_spec *spec, const struct cmd_arg *arg, const char *text,
			    json_t *req)
{
	json_t *docs = json_object_get(req, arg->field);
	char err[600];
	json_t *doc = doc_from_file(text, err, sizeof(err));

	if (doc == NULL)
		return opts_fail("%s: --%s: %s", spec->name, arg->name, err);
	if (!json_is_array(docs)) {
		docs = json_array();
		json_object_set_new(req, arg->field, docs);
	}
	json_array_append_new(docs, doc);
	return CTL_OK;
}

/* Put one argument's value into req (or local); CTL_OK or CTL_USAGE. */
static int cmd_value(const struct cmd_spec *spec, const struct cmd_arg *arg, const char *text, json_t *req,
		     json_t *local)
{
	long long n;
	size_t len;
	char *pem;
	json_t *v;

	if (text == NULL && arg->kind != CMD_SWITCH)
		return opts_fail("%s: option --%s needs a value", spec->name, arg->name);
	switch (arg->kind) {
	case CMD_FILE:
	case CMD_OBJECT:
		return cmd_merge(spec, arg, text, req);
	case CMD_KV:
		return cmd_pair(spec, arg, text, req);
	case CMD_DOC:
		return cmd_document_arg(spec, arg, text, req);
	case CMD_LOT:
		return cmd_lot_arg(spec, arg, text, req);
	case CMD_SWITCH:
		json_object_set_new(local, arg->field, json_true());
		return CTL_OK;
	case CMD_INT:
		if (opts_int(text, &n) != 0)
			return opts_fail("%s: %s must be an integer, not '%s'", spec->name, arg->name, text);
		v = json_integer(n);
		break;
	case CMD_PEM:
		if ((pem = cmd_slurp(text, CMD_PEM_MAX, &len)) == NULL)
			return opts_fail("%s: cannot read --%s file '%s'", spec->name, arg->name, text);
		v = json_stringn(pem, len);
		free(pem);
		break;
	default:
		v = json_string(text);
		break;
	}
	if (v == NULL)
		return opts_fail("%s: %s is not valid UTF-8 text", spec->name, arg->name);
	json_object_set_new(arg->kind == CMD_LOCAL ? local : req, arg->field, v);
	return CTL_OK;
}

/* The option of spec named `name`, or NULL. */
static const struct cmd_arg *cmd_option(const struct cmd_spec *spec, const char *name)
{
	for (const struct cmd_arg *a = spec->args; a->name != NULL; a++)
		if (!a->positional && strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* Whether an option may be given more than once. */
static int cmd_repeatable(const struct cmd_arg *a)
{
	return a->kind == CMD_KV || a->kind == CMD_DOC || a->kind == CMD_LOT;
}

/* Apply the command's options (file options first, so the others override them). */
static int cmd_options(const struct cmd_spec *spec, const struct opts *o, json_t *req, json_t *local)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < o->nflags; i++) {
			const struct cmd_arg *a = cmd_option(spec, o->flags[i].name);
			int rc;

			if (a == NULL)
				return opts_fail("%s: unknown option %s%s (usage: tenderctl %s)", spec->name,
						 strcmp(o->flags[i].name, "output") == 0 ? "-o/--" : "--", o->flags[i].name,
						 spec->usage);
			for (int j = 0; pass == 0 && j < i && !cmd_repeatable(a); j++)
				if (strcmp(o->flags[j].name, o->flags[i].name) == 0)
					return opts_fail("%s: option --%s given twice", spec->name, a->name);
			if ((a->kind == CMD_FILE) != (pass == 0))
				continue;
			if ((rc = cmd_value(spec, a, o->flags[i].value, req, local)) != CTL_OK)
				return rc;
		}
	}
	return CTL_OK;
}

/* Build the request of spec from its preset, the words after its name and the options; CTL_OK
 * or CTL_USAGE. Settings of the command itself go to local. */
static int cmd_build(const struct cmd_spec *spec, const struct opts *o, int used, json_t *req, json_t *local)
{
	const struct cmd_arg *a;
	int w = used, rc;

	if (spec->preset != NULL) {
		json_t *preset = json_loads(spec->preset, 0, NULL);

		json_object_update(req, preset);
		json_decref(preset);
	}
	if ((rc = cmd_options(spec, o, req, local)) != CTL_OK)
		return rc;
	for (a = spec->args; a->name != NULL; a++) {
		if (!a->positional)
			continue;
		if (w >= o->nwords)
			return opts_fail("%s: missing %s (usage: tenderctl %s)", spec->name, a->name, spec->usage);
		if ((rc = cmd_value(spec, a, o->words[w++], req, local)) != CTL_OK)
			return rc;
	}
	if (w < o->nwords)
		return opts_fail("%s: unexpected argument '%s' (usage: tenderctl %s)", spec->name, o->words[w],
				 spec->usage);
	for (a = spec->args; a->name != NULL; a++) {
		int given;

		if (a->positional)
			continue;  /* every positional argument was taken above */
		given = a->field != NULL && json_object_get(a->kind == CMD_LOCAL ? local : req, a->field) != NULL;

		for (int i = 0; a->kind == CMD_FILE && i < o->nflags; i++)
			given |= strcmp(o->flags[i].name, a->name) == 0;
		/* required 2: unless the request has lots (auction create's start price) */
		if (a->required && !given && !(a->required == 2 && json_object_get(req, "lots")))
			return opts_fail("%s: missing --%s (usage: tenderctl %s)", spec->name, a->name, spec->usage);
	}
	if (spec->op == NULL)
		return CTL_OK;
	json_object_set_new(req, "op", json_string(spec->op));
	return cmd_check_times(spec, req);
}

/* Connect, send the request and show the reply the way the command says. */
static int cmd_exec(const struct cmd_spec *spec, const struct opts *o, json_t *req, json_t *local)
{
	struct rpc r;
	json_t *reply = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rc = rpc_open(&r, o);
	if (rc == CTL_OK && spec->run != NULL)
		rc = spec->run(&r, req, local);
	else if (rc == CTL_OK && spec->op != NULL)
		rc = cmd_call_show(&r, req, spec->show);
	else if (rc == CTL_OK) {
		rc = rpc_call(&r, req, &reply);
		if (rc == CTL_OK && !r.json)
			spec->show(&r, req, reply);
		json_decref(reply);
	}
	rpc_close(&r);
	if (fflush(stdout) != 0 && rc == CTL_OK) {
		fprintf(stderr, "error: cannot write to standard output\n");
		rc = CTL_ERROR;
	}
	return rc;
}

/* Run the command named by o->words; returns the exit status. */
int cmd_run(const struct opts *o)
{
	const struct cmd_spec *spec;
	json_t *req, *local;
	int used = 0, rc;

	if (o->nwords == 0) {
		opts_usage(stderr);
		return CTL_USAGE;
	}
	spec = cmd_find(o, &used);
	if (spec == NULL)
		return cmd_unknown(o);
	req = json_object();
	local = json_object();
	if (req == NULL || local == NULL) {
		json_decref(req);
		json_decref(local);
		return opts_fail("out of memory");
	}
	rc = cmd_build(spec, o, used, req, local);
	if (rc == CTL_OK)
		rc = cmd_exec(spec, o, req, local);
	json_decref(req);
	json_decref(local);
	return rc;
}
