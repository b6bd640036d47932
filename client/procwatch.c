/* tenderctl procurement watch: follow one procurement live. On a terminal the view is redrawn
 * in place on every event and once a second for the countdowns; otherwise each event is one
 * line. A hello every 60 s keeps the connection from the server's idle timeout.
 *
 * tenderd sends procurement.update when the procurement changes state, is amended, gets a
 * question, an answer, a score or a decision, and when the number of offers of a lot changes
 * (reason "offers"), so the view stays current from events alone. After a lost connection or a
 * `standby` answer the watch resumes from the last `seq` shown, as tenderctl watch does
 * (watch.c). */
#include "client/procwatch.h"
#include "client/procview.h"
#include "client/rpc.h"
#include "client/view.h"
#include "common/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Redraw period of the countdowns. */
#define PW_TICK_MS 1000
/* Most opening rows per lot on the live view. */
#define PW_ROWS 10
/* pw_loop: the connection is to be made again (lost, or the server is a standby) */
#define PW_AGAIN 100
/* A deadline closer than this is shown without its date on the one-line output. */
#define PW_NEAR_MS (12 * 3600 * 1000LL)

/* The state of one procurement watch. */
struct pwatch {
	struct rpc *rpc;
	json_t *proc_id;          /* the procurement being watched (borrowed from the request) */
	json_t *watch_id;         /* id of the procurement.watch request until its reply, then NULL */
	int64_t watch_deadline;   /* mono time by which that reply must come */
	int64_t watch_sent_wall;
	int64_t watch_sent_mono;
	json_t *proc;             /* the latest view (owned), NULL before the first */
	char reason[32];          /* what brought it: "watching", "amended", "opened", ... */
	int tty;                  /* redraw in place */
	int drawn;                /* the screen has been cleared once */
	int64_t next_tick;        /* mono time of the next countdown redraw */
	struct rpc_ping ping;     /* keep-alive */
	int ended;                /* the server's `error` event: no reconnection */
	char primary[300];        /* the primary a standby named (PW_AGAIN), "" when none */
};

/* The server's clock now, as estimated from the replies' server_time. */
static int64_t pw_server_now(const struct pwatch *w)
{
	return time_now_ms() + (w->rpc->skew_rtt >= 0 ? w->rpc->skew_ms : 0);
}

/* Order of the procurement states: a view in a later state is never replaced by an earlier
 * one. */
static int pw_state_rank(json_t *p)
{
	static const char *const states[] = {"draft",   "published",    "tendering", "opened",   "evaluation",
					     "awarded", "unsuccessful", "cancelled", "complete", NULL};
	static const int rank[] = {0, 1, 2, 3, 4, 5, 5, 5, 6};
	const char *s = view_str(p, "state");

	for (int i = 0; s != NULL && states[i] != NULL; i++)
		if (strcmp(s, states[i]) == 0)
			return rank[i];
	return 0;
}

/* Whether view a is older than view b (an earlier state, or an earlier version). */
static int pw_older(json_t *a, json_t *b)
{
	long long va = 0, vb = 0;

	/* the log position of their last change, when both have it: the same is not newer */
	if (view_int(a, "seq", &va) == 0 && view_int(b, "seq", &vb) == 0)
		return va <= vb;
	if (pw_state_rank(a) != pw_state_rank(b))
		return pw_state_rank(a) < pw_state_rank(b);
	view_int(a, "version", &va);
	view_int(b, "version", &vb);
	return va < vb;
}

/* Take a new view (reference stolen); returns 1 when it was not older than the last. */
static int pw_apply(struct pwatch *w, json_t *p, const char *reason)
{
	if (!json_is_object(p) || (w->proc != NULL && pw_older(p, w->proc))) {
		json_decref(p);
		return 0;
	}
	json_decref(w->proc);
	w->proc = p;
	if (reason != w->reason)
		snprintf(w->reason, sizeof(w->reason), "%s", reason);
	return 1;
}

/* The next deadline the procurement moves at: *label says what happens then ("tendering
 * from", "submissions close", "opening"); -1 when none lies ahead. */
static int64_t pw_next(const struct pwatch *w, const char **label)
{
	const char *state = view_str(w->proc, "state");
	int64_t at, now = pw_server_now(w);

	if (state == NULL)
		return -1;
	if (strcmp(state, "published") == 0 && view_time(w->proc, "enquiry_end", &at) == 0) {
		*label = "tendering from";
		return at;
	}
	if (strcmp(state, "tendering") != 0)
		return -1;
	if (view_time(w->proc, "submission_deadline", &at) == 0 && at > now) {
		*label = "submissions close";
		return at;
	}
	*label = "opening";
	return view_time(w->proc, "opening_at", &at) == 0 ? at : -1;
}

/* Print one lot's summary line: title, state, offers, its auction, the outcome. */
static void pw_lot(FILE *f, json_t *p, json_t *lot)
{
	long long id = 0, offers = 0, auction;
	char outcome[512];

	view_int(lot, "id", &id);
	view_int(lot, "offers", &offers);
	fprintf(f, "  lot %-9lld %s: %s, %lld offer%s", id, view_str(lot, "title") ? view_str(lot, "title") : "-",
		view_str(lot, "state") ? view_str(lot, "state") : "-", offers, offers == 1 ? "" : "s");
	if (view_int(lot, "auction", &auction) == 0)
		fprintf(f, ", auction %lld (tenderctl watch %lld)", auction, auction);
	fputc('\n', f);
	procview_outcome(p, lot, outcome, sizeof(outcome));
	if (outcome[0] != '\0')
		fprintf(f, "  %-13s %s\n", "", outcome);
}

/* How many of the procurement's questions have been answered. */
static size_t pw_answered(json_t *p)
{
	json_t *q;
	size_t i, n = 0;

	json_array_foreach(json_object_get(p, "questions"), i, q)
		n += view_str(q, "answer") != NULL;
	return n;
}

/* Print the live view to f (lines end in '\n'; the caller adds the terminal controls). */
static void pw_view(const struct pwatch *w, FILE *f)
{
	json_t *p = w->proc, *lot;
	long long id = 0, version = 0;
	size_t i;

	view_int(p, "id", &id);
	view_int(p, "version", &version);
	fprintf(f, "procurement %lld: %s\n", id, view_str(p, "title") ? view_str(p, "title") : "-");
	fprintf(f, "  %-13s %s, version %lld, %s\n", "state", view_str(p, "state") ? view_str(p, "state") : "-",
		version, view_str(p, "kind") ? view_str(p, "kind") : "-");
	if (view_str(p, "cancel_reason") != NULL)
		fprintf(f, "  %-13s %s\n", "cancelled", view_str(p, "cancel_reason"));
	procview_deadlines(f, p, pw_server_now(w));
	json_array_foreach(json_object_get(p, "lots"), i, lot)
		pw_lot(f, p, lot);
	json_array_foreach(json_object_get(p, "lots"), i, lot) {
		if (json_array_size(json_object_get(lot, "opening")) > 0) {
			fprintf(f, "  lot %lld\n", (long long)json_integer_value(json_object_get(lot, "id")));
			procview_opening(f, p, lot, PW_ROWS);
		}
	}
	if (json_array_size(json_object_get(p, "questions")) > 0)
		fprintf(f, "  %-13s %zu asked, %zu answered\n", "questions",
			json_array_size(json_object_get(p, "questions")), pw_answered(p));
	procview_your_offers(f, p);
	fprintf(f, "  %-13s %s\n", "last update", w->reason);
}

/* Redraw the live view in place. */
static int pw_draw(struct pwatch *w)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int64_t now = pw_server_now(w);
	int r;

	if (f == NULL)
		return -1;
	pw_view(w, f);
	if (!procview_final(w->proc))
		fputs("(Ctrl-C stops watching)\n", f);
	fclose(f);
	w->next_tick = time_mono_ms() + PW_TICK_MS - now % PW_TICK_MS + 5;
	r = view_redraw(text, &w->drawn);
	free(text);
	return r;
}

/* Append how many questions were asked and answered to the line. */
static void pw_questions(json_t *p)
{
	size_t asked = json_array_size(json_object_get(p, "questions"));

	if (asked > 0)
		printf("; %zu question%s, %zu answered", asked, asked == 1 ? "" : "s", pw_answered(p));
}

/* Append a lot's summary to the line: state, offers, and its outcome or first-ranked offer. */
static void pw_line_lot(json_t *p, json_t *lot)
{
	json_t *first = json_array_get(json_object_get(lot, "opening"), 0);
	const char *state = view_str(lot, "state") != NULL ? view_str(lot, "state") : "-";
	long long id = 0, offers = 0;
	char outcome[512];

	view_int(lot, "id", &id);
	view_int(lot, "offers", &offers);
	printf("; lot %lld %s, %lld offer%s", id, state, offers, offers == 1 ? "" : "s");
	procview_outcome(p, lot, outcome, sizeof(outcome));
	if (outcome[0] != '\0') {
		if (strcmp(outcome, state) != 0)
			printf(", %s", outcome);
		return;
	}
	if (!json_is_integer(json_object_get(first, "rank")))
		return;
	printf(", first offer %lld %s", (long long)json_integer_value(json_object_get(first, "offer")),
	       procview_who(first));
	if (view_str(first, "auction_price") != NULL)
		printf(" at %s in the auction", view_str(first, "auction_price"));
	else
		printf(" at %s (total %s)", view_str(first, "price") ? view_str(first, "price") : "-",
		       view_str(first, "total") ? view_str(first, "total") : "-");
}

/* Append the viewer's offers that wait for re-confirmation to the line. */
static void pw_line_confirm(json_t *p)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(p, "your_offers"), i, o)
		if (json_is_true(json_object_get(o, "needs_confirm")) && view_str(o, "status") != NULL &&
		    strcmp(view_str(o, "status"), "active") == 0)
			printf("; your offer %lld on lot %lld NEEDS CONFIRMATION",
			       (long long)json_integer_value(json_object_get(o, "offer")),
			       (long long)json_integer_value(json_object_get(o, "lot")));
}

/* Print one line for the latest view (not on a terminal). */
static int pw_line(struct pwatch *w)
{
	json_t *p = w->proc, *lot;
	long long version = 0;
	const char *label = NULL;
	char clock[32], when[64], left[32];
	int64_t at, now = pw_server_now(w);
	size_t i;

	view_clock(time_now_ms(), VIEW_HMS, clock, sizeof(clock));
	if (view_str(p, "cancel_reason") != NULL) {
		printf("%s cancelled: %s\n", clock, view_str(p, "cancel_reason"));
		return fflush(stdout);
	}
	view_int(p, "version", &version);
	printf("%s %s: %s, version %lld", clock, w->reason, view_str(p, "state") ? view_str(p, "state") : "-",
	       version);
	json_array_foreach(json_object_get(p, "lots"), i, lot)
		pw_line_lot(p, lot);
	pw_questions(p);
	pw_line_confirm(p);
	at = pw_next(w, &label);
	if (at >= 0) {
		/* the date too when the moment is not within the next 12 hours */
		view_clock(at, at - now < PW_NEAR_MS ? VIEW_HMS : VIEW_DATE, when, sizeof(when));
		view_left(at - now, left, sizeof(left));
		printf("; %s %s (in %s)", label, when, left);
	}
	putchar('\n');
	return fflush(stdout);
}

/* Show the latest view the way the output wants it: CTL_OK, or CTL_ERROR when standard
 * output cannot be written (a closed pipe). */
static int pw_show(struct pwatch *w, const char *raw)
{
	int r;

	if (w->rpc->json) {
		puts(raw);
		r = fflush(stdout);
	} else
		r = w->tty ? pw_draw(w) : pw_line(w);
	if (r == 0)
		return CTL_OK;
	fprintf(stderr, "error: cannot write to standard output\n");
	return CTL_ERROR;
}

/* Handle a deadline that passed: a missing reply, a keep-alive to send, a redraw. */
static int pw_timer(struct pwatch *w)
{
	int64_t now = time_mono_ms();
	int rc;

	if (w->watch_id != NULL && now >= w->watch_deadline) {
		fprintf(stderr, "error: no reply within %lld s\n", (long long)w->rpc->timeout_ms / 1000);
		return CTL_TIMEOUT;
	}
	if ((rc = rpc_ping_timer(w->rpc, &w->ping)) != CTL_OK)
		return rc;
	if (w->tty && w->proc != NULL && now >= w->next_tick)
		return pw_show(w, NULL);
	return CTL_OK;
}

/* Handle a reply: the watch's (its view, or its error) or a keep-alive's. */
static int pw_reply(struct pwatch *w, json_t *msg, const char *raw)
{
	if (w->watch_id != NULL && rpc_matches(msg, w->watch_id)) {
		const char *primary = rpc_standby(msg);
		w->watch_id = NULL;
		rpc_note_time(w->rpc, msg, w->watch_sent_wall, time_mono_ms() - w->watch_sent_mono);
		if (primary != NULL) {
			snprintf(w->primary, sizeof(w->primary), "%s", primary);
			fprintf(stderr, "tenderctl: %s is a standby%s%s; moving on\n", w->rpc->server,
			    *primary ? ", primary " : "", primary);
			return PW_AGAIN;
		}
		if (!rpc_ok(msg)) {
			if (w->rpc->json)
				puts(raw);
			rpc_print_error(msg);
			return CTL_ERROR;
		}
		if (pw_apply(w, json_incref(json_object_get(msg, "procurement")), "watching") ||
		    (w->rpc->json && w->proc == NULL))
			return pw_show(w, raw);
		return CTL_OK;
	}
	rpc_ping_reply(w->rpc, &w->ping, msg);
	return CTL_OK;
}

/* Handle an event: a new view of our procurement, or the end of the connection. */
static int pw_event(struct pwatch *w, json_t *msg, const char *raw)
{
	const char *ev = rpc_event(msg), *reason = view_str(msg, "reason");
	json_t *p = json_object_get(msg, "procurement");
	int rc = rpc_fatal_event(w->rpc, msg, raw);

	if (rc != CTL_OK) {
		w->ended = strcmp(ev, "error") == 0;  /* refused by the server: not a restart */
		return rc;
	}
	if (strcmp(ev, "procurement.update") != 0)
		return w->rpc->json ? pw_show(w, raw) : CTL_OK;
	if (!json_equal(json_object_get(p, "id"), w->proc_id))
		return CTL_OK;
	if (pw_apply(w, json_incref(p), reason != NULL ? reason : "update"))
		return pw_show(w, raw);
	return CTL_OK;
}

/* The earliest moment the loop must wake up without input (mono ms). */
static int64_t pw_deadline(const struct pwatch *w)
{
	int64_t d = rpc_ping_deadline(&w->ping);

	if (w->watch_id != NULL && w->watch_deadline < d)
		d = w->watch_deadline;
	if (w->tty && w->proc != NULL && w->next_tick < d)
		d = w->next_tick;
	return d;
}

/* Read and handle messages until the procurement is over or something fails. */
static int pw_loop(struct pwatch *w)
{
	for (;;) {
		const char *raw;
		json_t *msg;
		int rc = rpc_read(w->rpc, pw_deadline(w), &msg, &raw);

		if (rc == CTL_TIMEOUT)
			rc = pw_timer(w);
		else if (rc == CTL_OK) {
			rc = rpc_event(msg) != NULL ? pw_event(w, msg, raw) : pw_reply(w, msg, raw);
			json_decref(msg);
		}
		if (rc != CTL_OK)
			return rc;
		if (w->proc != NULL && procview_final(w->proc) && w->watch_id == NULL)
			return CTL_OK;
	}
}

/* Send the watch request (again after a reconnection: with `since`, the last seq shown). */
static int pw_send(struct pwatch *w, json_t *req)
{
	long long seq;
	json_t *id;
	int rc;

	if (w->proc != NULL && view_int(w->proc, "seq", &seq) == 0)
		json_object_set_new(req, "since", json_integer(seq));
	w->watch_sent_wall = time_now_ms();
	w->watch_sent_mono = time_mono_ms();
	if ((rc = rpc_send(w->rpc, req, &id)) != CTL_OK)
		return rc;
	w->watch_id = id;
	w->watch_deadline = w->watch_sent_mono + w->rpc->timeout_ms;
	rpc_ping_free(&w->ping);
	rpc_ping_start(&w->ping, w->watch_sent_mono);
	return CTL_OK;
}

/* Send the procurement.watch request req and show the procurement until it is over; after a
 * lost connection or a `standby` answer, connect again and resume. */
int procwatch_run(struct rpc *r, json_t *req)
{
	struct pwatch w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.rpc = r;
	w.proc_id = json_object_get(req, "procurement");
	w.tty = !r->json && isatty(STDOUT_FILENO);
	w.next_tick = time_mono_ms();
	rc = pw_send(&w, req);
	for (;;) {
		if (rc == CTL_OK)
			rc = pw_loop(&w);
		if (rc != PW_AGAIN && (rc != CTL_CONN || w.proc == NULL || w.ended))
			break;
		fprintf(stderr, "tenderctl: connection to %s lost; reconnecting\n", r->server);
		w.watch_id = NULL;
		json_object_del(req, "id");
		rc = rpc_reconnect(r, w.primary, -1);
		w.primary[0] = '\0';
		if (rc == CTL_OK)
			rc = pw_send(&w, req);
	}
	json_decref(w.proc);
	rpc_ping_free(&w.ping);
	return rc == PW_AGAIN ? CTL_CONN : rc;
}
