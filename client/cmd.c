/* tenderctl commands: a table from command words to the request they build, then one
 * connection, one request and the output of its reply. */
#include "client/cmd.h"
#include "client/procview.h"
#include "client/rpc.h"
#include "client/view.h"
#include "client/watch.h"
#include "common/timeutil.h"

#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Largest file --certificate may name. */
#define CMD_PEM_MAX (1024 * 1024)
/* How long a bid waits, after its reply, for the auction's currency. */
#define CMD_SIDE_MS 2000

/* How an argument's text becomes a request field. */
enum cmd_kind {
	CMD_STR,      /* a string exactly as typed */
	CMD_INT,      /* a JSON integer */
	CMD_PEM,      /* the contents of the named file, as a string */
	CMD_FILE,     /* the named file holds a JSON object whose members become fields */
	CMD_OBJECT,   /* the argument is a JSON object whose members become fields */
	CMD_KV,       /* CODE=INT, repeatable: one member of the object `field` */
	CMD_DOC,      /* PATH[:MEDIA_TYPE], repeatable: a document appended to `field` */
};

/* One option (--name VALUE) or positional argument (NAME) of a command. */
struct cmd_arg {
	const char *name;     /* option name without dashes, or the positional's metavariable */
	int positional;
	const char *field;    /* request field it fills (unused for CMD_FILE, CMD_OBJECT) */
	enum cmd_kind kind;
	int required;         /* the field must be in the final request */
};

/* One command: its words, its op, its arguments and what to do with the reply. */
struct cmd_spec {
	const char *name;                              /* "auction create" */
	const char *op;                                /* NULL: the request names its own */
	const char *usage;
	const struct cmd_arg *args;                    /* ends with a NULL name */
	void (*show)(struct rpc *r, json_t *reply);    /* readable output of an ok reply */
	int (*run)(struct rpc *r, json_t *req);        /* instead of call-and-show */
};

/* Print a hello reply. */
static void cmd_show_hello(struct rpc *r, json_t *reply)
{
	view_hello(reply, r->skew_ms);
}

/* Print a participant.register reply. */
static void cmd_show_register(struct rpc *r, json_t *reply)
{
	view_register(reply);
}

/* Print the auction of a reply. */
static void cmd_show_auction(struct rpc *r, json_t *reply)
{
	view_auction(stdout, json_object_get(reply, "auction"));
}

/* Print an auction.list reply. */
static void cmd_show_list(struct rpc *r, json_t *reply)
{
	view_list(reply);
}

/* Print a raw request's reply. */
static void cmd_show_raw(struct rpc *r, json_t *reply)
{
	view_json(reply);
}

/* Bid; for readable output also ask for the auction (after the bid, so the bid is not delayed)
 * to learn its currency, and wait a little for that reply if the bid's came first. */
static int cmd_bid(struct rpc *r, json_t *req)
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

/* Print a procurement-related reply. */
static void cmd_show_proc(struct rpc *r, json_t *reply)
{
	procview_reply(reply);
}

static int cmd_document_write(json_t *reply, const char *out);

/* document get: fetch, check the SHA-256, write the content to --output or stdout. */
static int cmd_document(struct rpc *r, json_t *req)
{
	json_t *reply = NULL;
	char *out = view_str(req, "output") ? strdup(view_str(req, "output")) : NULL;
	int rc;

	json_object_del(req, "output");
	rc = rpc_call(r, req, &reply);
	if (rc != CTL_OK || r->json) {
		json_decref(reply);
		free(out);
		return rc;
	}
	rc = cmd_document_write(reply, out);
	free(out);
	return rc;
}

/* Check a document reply against its hash and write its content. */
static int cmd_document_write(json_t *reply, const char *out)
{
	json_t *d;
	const char *content, *sha;
	unsigned char *buf = NULL, md[32];
	char hex[65];
	long n;

	d = json_object_get(reply, "document");
	content = view_str(d, "content");
	sha = view_str(d, "sha256");
	if (content == NULL) {
		printf("document %s (%s): described only, no content on the server; sha256 %s\n",
		    view_str(d, "name"), view_str(d, "media_type"), sha ? sha : "-");
		json_decref(reply);
		return CTL_OK;
	}
	if ((buf = malloc(strlen(content) / 4 * 3 + 3)) == NULL ||
	    (n = procview_b64_decode(content, buf)) < 0) {
		fprintf(stderr, "error: document content is not valid base64\n");
		free(buf);
		json_decref(reply);
		return CTL_ERROR;
	}
	EVP_Digest(buf, (size_t)n, md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (sha == NULL || strcmp(sha, hex) != 0) {
		fprintf(stderr, "error: document content does not match its sha256 (%s, got %s)\n",
		    sha ? sha : "-", hex);
		free(buf);
		json_decref(reply);
		return CTL_ERROR;
	}
	if (out != NULL) {
		FILE *f = fopen(out, "wb");
		if (f == NULL || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0) {
			fprintf(stderr, "error: cannot write %s\n", out);
			free(buf);
			json_decref(reply);
			return CTL_ERROR;
		}
		printf("document %s: %ld bytes, sha256 %s verified, written to %s\n", view_str(d, "name"), n,
		    hex, out);
	} else {
		fwrite(buf, 1, (size_t)n, stdout);
	}
	free(buf);
	json_decref(reply);
	return CTL_OK;
}

static const struct cmd_arg cmd_no_args[] = {{NULL, 0, NULL, CMD_STR, 0}};

#define END_ARGS {NULL, 0, NULL, CMD_STR, 0}
static const struct cmd_arg cmd_pcreate_args[] = {
	{"file", 0, NULL, CMD_FILE, 0}, {"title", 0, "title", CMD_STR, 1},
	{"kind", 0, "kind", CMD_STR, 1}, {"currency", 0, "currency", CMD_STR, 1},
	{"description", 0, "description", CMD_STR, 0}, {"enquiry-end", 0, "enquiry_end", CMD_STR, 1},
	{"submission-deadline", 0, "submission_deadline", CMD_STR, 1},
	{"opening-at", 0, "opening_at", CMD_STR, 1}, {"min-bids", 0, "min_bids", CMD_INT, 0},
	{"document", 0, "documents", CMD_DOC, 0}, END_ARGS,
};
static const struct cmd_arg cmd_pamend_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"file", 0, NULL, CMD_FILE, 0},
	{"reason", 0, "reason", CMD_STR, 1}, {"title", 0, "title", CMD_STR, 1},
	{"enquiry-end", 0, "enquiry_end", CMD_STR, 1},
	{"submission-deadline", 0, "submission_deadline", CMD_STR, 1},
	{"opening-at", 0, "opening_at", CMD_STR, 1}, {"document", 0, "documents", CMD_DOC, 0},
	END_ARGS,
};
static const struct cmd_arg cmd_pid_args[] = {{"ID", 1, "procurement", CMD_INT, 1}, END_ARGS};
static const struct cmd_arg cmd_preason_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"reason", 0, "reason", CMD_STR, 1}, END_ARGS,
};
static const struct cmd_arg cmd_plist_args[] = {
	{"state", 0, "state", CMD_STR, 0}, {"kind", 0, "kind", CMD_STR, 0}, END_ARGS,
};
static const struct cmd_arg cmd_ask_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"TEXT", 1, "text", CMD_STR, 1}, END_ARGS,
};
static const struct cmd_arg cmd_answer_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"QUESTION", 1, "question", CMD_INT, 1},
	{"TEXT", 1, "text", CMD_STR, 1}, END_ARGS,
};
static const struct cmd_arg cmd_quote_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"LOT", 1, "lot", CMD_INT, 1},
	{"PRICE", 1, "price", CMD_STR, 1}, {"delivery-days", 0, "delivery_days", CMD_INT, 0},
	{"validity-days", 0, "validity_days", CMD_INT, 0}, {"comment", 0, "comment", CMD_STR, 0},
	{"value", 0, "values", CMD_KV, 0}, END_ARGS,
};
static const struct cmd_arg cmd_lot_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"LOT", 1, "lot", CMD_INT, 1}, END_ARGS,
};
static const struct cmd_arg cmd_score_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"OFFER", 1, "offer", CMD_INT, 1},
	{"score", 0, "scores", CMD_KV, 1}, END_ARGS,
};
static const struct cmd_arg cmd_award_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"LOT", 1, "lot", CMD_INT, 1},
	{"OFFER", 1, "offer", CMD_INT, 1}, {"reason", 0, "reason", CMD_STR, 0}, END_ARGS,
};
static const struct cmd_arg cmd_disq_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"LOT", 1, "lot", CMD_INT, 1},
	{"OFFER", 1, "offer", CMD_INT, 1}, {"reason", 0, "reason", CMD_STR, 1}, END_ARGS,
};
static const struct cmd_arg cmd_doc_args[] = {
	{"ID", 1, "procurement", CMD_INT, 1}, {"DOC", 1, "document", CMD_INT, 1},
	{"output", 0, "output", CMD_STR, 0}, END_ARGS,
};
static const struct cmd_arg cmd_part_args[] = {
	{"PARTICIPANT", 1, "participant", CMD_INT, 1}, {"reason", 0, "reason", CMD_STR, 1}, END_ARGS,
};

static const struct cmd_arg cmd_register_args[] = {
	{"organization", 0, "organization", CMD_STR, 1},
	{"role", 0, "role", CMD_STR, 1},
	{"name", 0, "name", CMD_STR, 1},
	{"certificate", 0, "certificate", CMD_PEM, 1},
	{"tax-id", 0, "tax_id", CMD_STR, 0},
	{"country", 0, "country", CMD_STR, 0},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_arg cmd_create_args[] = {
	{"file", 0, NULL, CMD_FILE, 0},
	{"title", 0, "title", CMD_STR, 1},
	{"currency", 0, "currency", CMD_STR, 1},
	{"start-price", 0, "start_price", CMD_STR, 1},
	{"step-min", 0, "step_min", CMD_STR, 0},
	{"step-max", 0, "step_max", CMD_STR, 0},
	{"starts-at", 0, "starts_at", CMD_STR, 0},
	{"duration", 0, "duration", CMD_INT, 0},
	{"extension-window", 0, "extension_window", CMD_INT, 0},
	{"extension", 0, "extension", CMD_INT, 0},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_arg cmd_id_args[] = {
	{"ID", 1, "auction", CMD_INT, 1},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_arg cmd_list_args[] = {
	{"state", 0, "state", CMD_STR, 0},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_arg cmd_cancel_args[] = {
	{"ID", 1, "auction", CMD_INT, 1},
	{"reason", 0, "reason", CMD_STR, 1},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_arg cmd_bid_args[] = {
	{"AUCTION", 1, "auction", CMD_INT, 1},
	{"AMOUNT", 1, "amount", CMD_STR, 1},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_arg cmd_watch_args[] = {
	{"AUCTION", 1, "auction", CMD_INT, 1},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_arg cmd_raw_args[] = {
	{"JSON-OBJECT", 1, NULL, CMD_OBJECT, 1},
	{NULL, 0, NULL, CMD_STR, 0},
};

static const struct cmd_spec cmd_specs[] = {
	{"hello", "hello", "hello", cmd_no_args, cmd_show_hello, NULL},
	{"register", "participant.register",
	 "register --organization ORG --role ROLE --name NAME --certificate PEMFILE [--tax-id X] [--country CC]",
	 cmd_register_args, cmd_show_register, NULL},
	{"auction create", "auction.create",
	 "auction create --title T --currency C --start-price AMOUNT [--step-min S] [--step-max S] "
	 "[--starts-at RFC3339] [--duration S] [--extension-window S] [--extension S] | --file REQUEST.json",
	 cmd_create_args, cmd_show_auction, NULL},
	{"auction get", "auction.get", "auction get ID", cmd_id_args, cmd_show_auction, NULL},
	{"auction list", "auction.list", "auction list [--state STATE]", cmd_list_args, cmd_show_list, NULL},
	{"auction cancel", "auction.cancel", "auction cancel ID --reason TEXT", cmd_cancel_args, cmd_show_auction,
	 NULL},
	{"procurement create", "procurement.create",
	 "procurement create --file REQUEST.json [--title T] [--kind K] [--document PATH[:TYPE]]...",
	 cmd_pcreate_args, cmd_show_proc, NULL},
	{"procurement publish", "procurement.publish", "procurement publish ID", cmd_pid_args, cmd_show_proc, NULL},
	{"procurement amend", "procurement.amend", "procurement amend ID --reason TEXT --file REQUEST.json",
	 cmd_pamend_args, cmd_show_proc, NULL},
	{"procurement get", "procurement.get", "procurement get ID", cmd_pid_args, cmd_show_proc, NULL},
	{"procurement list", "procurement.list", "procurement list [--state S] [--kind K]", cmd_plist_args,
	 cmd_show_proc, NULL},
	{"procurement cancel", "procurement.cancel", "procurement cancel ID --reason TEXT", cmd_preason_args,
	 cmd_show_proc, NULL},
	{"procurement complete", "procurement.complete", "procurement complete ID", cmd_pid_args, cmd_show_proc,
	 NULL},
	{"question ask", "question.ask", "question ask ID TEXT", cmd_ask_args, cmd_show_proc, NULL},
	{"question answer", "question.answer", "question answer ID QUESTION TEXT", cmd_answer_args,
	 cmd_show_proc, NULL},
	{"quote submit", "quote.submit",
	 "quote submit ID LOT PRICE [--delivery-days N] [--validity-days N] [--comment TEXT]",
	 cmd_quote_args, cmd_show_proc, NULL},
	{"quote withdraw", "quote.withdraw", "quote withdraw ID LOT", cmd_lot_args, cmd_show_proc, NULL},
	{"quote confirm", "quote.confirm", "quote confirm ID LOT", cmd_lot_args, cmd_show_proc, NULL},
	{"bid submit", "bid.submit", "bid submit ID LOT PRICE [--value CODE=INT]... [--comment TEXT]",
	 cmd_quote_args, cmd_show_proc, NULL},
	{"bid withdraw", "bid.withdraw", "bid withdraw ID LOT", cmd_lot_args, cmd_show_proc, NULL},
	{"bid confirm", "bid.confirm", "bid confirm ID LOT", cmd_lot_args, cmd_show_proc, NULL},
	{"bid score", "bid.score", "bid score ID OFFER --score CODE=INT...", cmd_score_args, cmd_show_proc, NULL},
	{"award", "award.decide", "award ID LOT OFFER", cmd_award_args, cmd_show_proc, NULL},
	{"disqualify", "award.decide", "disqualify ID LOT OFFER --reason TEXT", cmd_disq_args, cmd_show_proc,
	 NULL},
	{"document get", "document.get", "document get ID DOC [--output FILE]", cmd_doc_args, NULL, cmd_document},
	{"participant suspend", "participant.suspend", "participant suspend PARTICIPANT --reason TEXT",
	 cmd_part_args, cmd_show_proc, NULL},
	{"participant reinstate", "participant.reinstate", "participant reinstate PARTICIPANT --reason TEXT",
	 cmd_part_args, cmd_show_proc, NULL},
	{"bid", "auction.bid", "bid AUCTION AMOUNT", cmd_bid_args, NULL, cmd_bid},
	{"watch", "auction.watch", "watch AUCTION", cmd_watch_args, NULL, watch_run},
	{"raw", NULL, "raw JSON-OBJECT", cmd_raw_args, cmd_show_raw, NULL},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};

/* The command named by the first words; *used is how many words its name takes. */
static const struct cmd_spec *cmd_find(const struct opts *o, int *used)
{
	for (const struct cmd_spec *s = cmd_specs; s->name != NULL; s++) {
		const char *space = strchr(s->name, ' ');

		if (space == NULL && strcmp(o->words[0], s->name) == 0) {
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

/* Put one argument's value into req; CTL_OK or CTL_USAGE. */
static int cmd_value(const struct cmd_spec *spec, const struct cmd_arg *arg, const char *text, json_t *req)
{
	long long n;
	size_t len;
	char *pem;
	json_t *v;

	switch (arg->kind) {
	case CMD_FILE:
	case CMD_OBJECT:
		return cmd_merge(spec, arg, text, req);
	case CMD_INT:
		if (opts_int(text, &n) != 0)
			return opts_fail("%s: %s must be an integer, not '%s'", spec->name, arg->name, text);
		v = json_integer(n);
		break;
	case CMD_KV: {
		const char *eq = strchr(text, '=');
		json_t *obj = json_object_get(req, arg->field);
		char code[64];
		if (eq == NULL || eq == text || (size_t)(eq - text) >= sizeof(code) || opts_int(eq + 1, &n) != 0)
			return opts_fail("%s: --%s takes CODE=INTEGER, not '%s'", spec->name, arg->name, text);
		snprintf(code, sizeof(code), "%.*s", (int)(eq - text), text);
		if (obj == NULL) {
			obj = json_object();
			json_object_set_new(req, arg->field, obj);
		}
		json_object_set_new(obj, code, json_integer(n));
		return CTL_OK;
	}
	case CMD_DOC: {
		char path[1024], *colon, *b64, *base;
		const char *mt = "application/octet-stream";
		json_t *docs = json_object_get(req, arg->field);
		snprintf(path, sizeof(path), "%s", text);
		if ((colon = strrchr(path, ':')) != NULL && strchr(colon, '/') != NULL) {
			*colon = '\0';
			mt = text + (colon - path) + 1;
		}
		if ((pem = cmd_slurp(path, CMD_PEM_MAX, &len)) == NULL)
			return opts_fail("%s: cannot read document '%s'", spec->name, path);
		if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
			free(pem);
			return opts_fail("out of memory");
		}
		procview_b64_encode((const unsigned char *)pem, len, b64);
		free(pem);
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (docs == NULL) {
			docs = json_array();
			json_object_set_new(req, arg->field, docs);
		}
		json_array_append_new(docs, json_pack("{s:s, s:s, s:s}", "name", base, "media_type", mt,
		    "content", b64));
		free(b64);
		return CTL_OK;
	}
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
	json_object_set_new(req, arg->field, v);
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

/* Apply the command's options (file options first, so the others override them). */
static int cmd_options(const struct cmd_spec *spec, const struct opts *o, json_t *req)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < o->nflags; i++) {
			const struct cmd_arg *a = cmd_option(spec, o->flags[i].name);
			int rc;

			if (a == NULL)
				return opts_fail("%s: unknown option --%s (usage: tenderctl %s)", spec->name,
						 o->flags[i].name, spec->usage);
			for (int j = 0; pass == 0 && j < i && a->kind != CMD_KV && a->kind != CMD_DOC; j++)
				if (strcmp(o->flags[j].name, o->flags[i].name) == 0)
					return opts_fail("%s: option --%s given twice", spec->name, a->name);
			if ((a->kind == CMD_FILE) != (pass == 0))
				continue;
			if ((rc = cmd_value(spec, a, o->flags[i].value, req)) != CTL_OK)
				return rc;
		}
	}
	return CTL_OK;
}

/* Build the request of spec from the words after its name and the options; CTL_OK or CTL_USAGE. */
static int cmd_build(const struct cmd_spec *spec, const struct opts *o, int used, json_t *req)
{
	const struct cmd_arg *a;
	int w = used, rc;

	if ((rc = cmd_options(spec, o, req)) != CTL_OK)
		return rc;
	for (a = spec->args; a->name != NULL; a++) {
		if (!a->positional)
			continue;
		if (w >= o->nwords)
			return opts_fail("%s: missing %s (usage: tenderctl %s)", spec->name, a->name, spec->usage);
		if ((rc = cmd_value(spec, a, o->words[w++], req)) != CTL_OK)
			return rc;
	}
	if (w < o->nwords)
		return opts_fail("%s: unexpected argument '%s' (usage: tenderctl %s)", spec->name, o->words[w],
				 spec->usage);
	for (a = spec->args; a->name != NULL; a++)
		if (a->required && a->field != NULL && json_object_get(req, a->field) == NULL)
			return opts_fail("%s: missing --%s (usage: tenderctl %s)", spec->name, a->name, spec->usage);
	if (spec->op != NULL)
		json_object_set_new(req, "op", json_string(spec->op));
	if (strcmp(spec->name, "award") == 0 || strcmp(spec->name, "disqualify") == 0)
		json_object_set_new(req, "decision", json_string(spec->name[0] == 'a' ? "award" : "disqualify"));
	return CTL_OK;
}

/* Connect, send the request and show the reply the way the command says. */
static int cmd_exec(const struct cmd_spec *spec, const struct opts *o, json_t *req)
{
	struct rpc r;
	json_t *reply = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rc = rpc_open(&r, o);
	if (rc == CTL_OK && spec->run != NULL)
		rc = spec->run(&r, req);
	else if (rc == CTL_OK) {
		rc = rpc_call(&r, req, &reply);
		if (rc == CTL_OK && !r.json)
			spec->show(&r, reply);
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
	json_t *req;
	int used = 0, rc;

	if (o->nwords == 0) {
		opts_usage(stderr);
		return CTL_USAGE;
	}
	spec = cmd_find(o, &used);
	if (spec == NULL) {
		if (strcmp(o->words[0], "auction") == 0 && o->nwords == 1)
			return opts_fail("auction: which one? (auction create, get, list or cancel)");
		if (strcmp(o->words[0], "auction") == 0)
			return opts_fail("unknown command 'auction %s' (auction create, get, list or cancel)", o->words[1]);
		return opts_fail("unknown command '%s'", o->words[0]);
	}
	req = json_object();
	if (req == NULL)
		return opts_fail("out of memory");
	rc = cmd_build(spec, o, used, req);
	if (rc == CTL_OK)
		rc = cmd_exec(spec, o, req);
	json_decref(req);
	return rc;
}
