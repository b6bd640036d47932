/* tenderctl watch: follow one auction live. On a terminal the view is redrawn in place on every
 * event and once a second for the countdown; otherwise each event is one line. A hello every
 * 60 s keeps the connection from the server's idle timeout. A lost connection (a restart, a
 * failover) or a `standby` answer is followed by a reconnection (rpc_reconnect) and the watch
 * resumes from the last `seq` shown (`since`): a view whose `seq` is not above it is not
 * shown again. */
#include "client/watch.h"
#include "client/net.h"
#include "client/rpc.h"
#include "client/view.h"
#include "common/timeutil.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Redraw period and how long the EXTENDED marker stays bright. */
#define WATCH_TICK_MS 1000
#define WATCH_MARK_MS 15000
/* Most ranking rows on the live view. */
#define WATCH_RANK_ROWS 10
/* watch_loop: the connection is to be made again (lost, or the server is a standby) */
#define WATCH_AGAIN 100

/* The state of one watch. */
struct watch {
	struct rpc *rpc;
	json_t *auction_id;       /* the auction being watched (borrowed from the request) */
	json_t *watch_id;         /* id of the auction.watch request until its reply, then NULL */
	int64_t watch_deadline;   /* mono time by which that reply must come */
	int64_t watch_sent_wall;
	int64_t watch_sent_mono;
	json_t *auction;          /* the latest view of the auction (owned), NULL before the first */
	char reason[32];          /* what brought the latest view: "watching", "bid", "closed", ... */
	int64_t ends_ms;          /* ends_at of the latest view, -1 when unknown */
	int64_t jump_ms;          /* how far the end moved at the last extension, 0 before any */
	int64_t jump_mono;        /* when that extension was seen (mono) */
	int jumped;               /* the latest view moved the end later */
	int tty;                  /* redraw in place */
	int drawn;                /* the screen has been cleared once */
	int64_t next_tick;        /* mono time of the next countdown redraw */
	struct rpc_ping ping;     /* keep-alive */
	int ended;                /* the server's `error` event: no reconnection */
	char primary[300];        /* the primary a standby named (WATCH_AGAIN), "" when none */
};

/* The server's clock now, as estimated from the replies' server_time. */
static int64_t watch_server_now(const struct watch *w)
{
	return time_now_ms() + (w->rpc->skew_rtt >= 0 ? w->rpc->skew_ms : 0);
}

/* Order of the auction states: a view in a later state is never replaced by an earlier one. */
static int watch_state_rank(json_t *a)
{
	static const char *const states[] = {"scheduled", "running", "closed", "cancelled", NULL};
	const char *s = view_str(a, "state");

	for (int i = 0; s != NULL && states[i] != NULL; i++)
		if (strcmp(s, states[i]) == 0)
			return i < 2 ? i : 2;
	return 0;
}

/* Whether view a is older than view b (an earlier state, or fewer bids in the same state). */
static int watch_older(json_t *a, json_t *b)
{
	long long ba = 0, bb = 0;

	/* the log position of their last change, when both have it: the same is not newer */
	if (view_int(a, "seq", &ba) == 0 && view_int(b, "seq", &bb) == 0)
		return ba <= bb;
	if (watch_state_rank(a) != watch_state_rank(b))
		return watch_state_rank(a) < watch_state_rank(b);
	view_int(a, "bids", &ba);
	view_int(b, "bids", &bb);
	return ba < bb;
}

/* Format how far the end moved: "+2:00", "+1:00:00". */
static void watch_jump(int64_t ms, char *buf, size_t n)
{
	int64_t s = (ms + 999) / 1000;

	if (s >= 3600)
		snprintf(buf, n, "+%" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, n, "+%" PRId64 ":%02" PRId64, s / 60, s % 60);
}

/* Whether the auction is closed or cancelled. */
static int watch_final(json_t *a)
{
	return watch_state_rank(a) == 2;
}

/* Take a new view of the auction (reference stolen); returns 1 when it was newer. */
static int watch_apply(struct watch *w, json_t *a, const char *reason)
{
	int64_t ends;

	if (!json_is_object(a) || (w->auction != NULL && watch_older(a, w->auction))) {
		json_decref(a);
		return 0;
	}
	w->jumped = 0;
	/* in the second-place tail the countdown runs to the tail's end; reaching the tail is
	 * not an extension */
	if (view_in_tail(a) ? view_time(a, "tail_ends_at", &ends) == 0 :
	    view_time(a, "ends_at", &ends) == 0) {
		if (w->ends_ms >= 0 && ends > w->ends_ms &&
		    (w->auction == NULL || view_in_tail(w->auction) == view_in_tail(a))) {
			w->jumped = 1;
			w->jump_ms = ends - w->ends_ms;
			w->jump_mono = time_mono_ms();
		}
		w->ends_ms = ends;
	}
	json_decref(w->auction);
	w->auction = a;
	snprintf(w->reason, sizeof(w->reason), "%s", reason);
	return 1;
}

/* The countdown of the view: *label "ends in" or "starts in", the time left in buf ("04:05",
 * "00:00 (closing)"); returns the moment counted down to, -1 (buf "") when there is none. */
static int64_t watch_countdown(const struct watch *w, const char **label, char *buf, size_t n)
{
	const char *state = view_str(w->auction, "state");
	int64_t starts, now = watch_server_now(w);
	char left[32];

	buf[0] = '\0';
	*label = view_in_tail(w->auction) ? "tail ends in" : "ends in";
	if (state != NULL && strcmp(state, "scheduled") == 0 && view_time(w->auction, "starts_at", &starts) == 0) {
		*label = "starts in";
		view_left(starts - now, buf, n);
		return starts;
	}
	if (w->ends_ms < 0 || watch_final(w->auction))
		return -1;
	view_left(w->ends_ms - now, left, sizeof(left));
	snprintf(buf, n, "%s%s", left, w->ends_ms <= now ? " (closing)" : "");
	return w->ends_ms;
}

/* When the countdown next changes its displayed second (mono ms), for a redraw just then. */
static int64_t watch_next_tick(const struct watch *w)
{
	int64_t left = w->ends_ms - watch_server_now(w), step;

	if (w->ends_ms < 0 || left <= 0)
		return time_mono_ms() + WATCH_TICK_MS;
	step = left % WATCH_TICK_MS;
	return time_mono_ms() + (step > 0 ? step : WATCH_TICK_MS) + 5;
}

/* Print the live view to f (lines end in '\n'; the caller adds the terminal controls). */
static void watch_view(const struct watch *w, FILE *f)
{
	json_t *a = w->auction;
	long long id = 0, bids = 0, bidders = 0, rank;
	char buf[256], jump[32];
	const char *label;
	int64_t since = time_mono_ms() - w->jump_mono;

	view_int(a, "id", &id);
	fprintf(f, "auction %lld: %s\n", id, view_str(a, "title") ? view_str(a, "title") : "-");
	view_lot_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, "%s\n", buf);
	fprintf(f, "state        %s%s\n", view_str(a, "state") ? view_str(a, "state") : "-",
		json_is_true(json_object_get(a, "paused")) ? " (PAUSED: no bids until resumed)" : "");
	if (view_pause_line(a, buf, sizeof(buf)))
		fprintf(f, "paused       %s\n", buf);
	fprintf(f, "best price   %s %s (start %s)\n", view_str(a, "best_price") ? view_str(a, "best_price") :
		view_hides_best(a) ? "hidden" : json_object_get(a, "sealed_bids") ? "sealed" : "-",
		view_str(a, "currency") ? view_str(a, "currency") : "",
		view_str(a, "start_price") ? view_str(a, "start_price") : "-");
	if (view_int(a, "your_rank", &rank) == 0)
		fprintf(f, "your rank    %lld at %s\n", rank, view_str(a, "your_price") ? view_str(a, "your_price") : "-");
	if (view_str(a, "your_proxy_floor") != NULL)  /* proxy bidding */
		fprintf(f, "proxy        floor %s active\n", view_str(a, "your_proxy_floor"));
	view_lead_range(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, "to lead      bid %s\n", buf);
	{
		char todo[256];

		view_clock_lines(a, watch_server_now(w), buf, todo, sizeof(todo));
		if (buf[0] != '\0')
			fprintf(f, "clock        %s\nto do        %s\n", buf, todo);
		view_rounds_lines(a, watch_server_now(w), buf, todo, sizeof(todo));
		if (buf[0] != '\0')
			fprintf(f, "phase        %s\n", buf);
		if (todo[0] != '\0')
			fprintf(f, "to do        %s\n", todo);
	}
	view_sealed_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, "sealed       %s\n", buf);
	view_tail_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, "tail         %s\n", buf);
	view_int(a, "bids", &bids);
	view_int(a, "bidders", &bidders);
	fprintf(f, "bids         %lld from %lld bidder%s\n", bids, bidders, bidders == 1 ? "" : "s");
	watch_countdown(w, &label, buf, sizeof(buf));
	if (buf[0] != '\0') {
		fprintf(f, "%-12s %s", label, buf);
		if (w->jump_ms > 0 && since < WATCH_MARK_MS) {
			watch_jump(w->jump_ms, jump, sizeof(jump));
			fprintf(f, "   \033[1;7m EXTENDED %s \033[0m", jump);
		}
		fputc('\n', f);
	}
	if (w->ends_ms >= 0) {
		view_clock(w->ends_ms, VIEW_FULL, buf, sizeof(buf));
		fprintf(f, "ends at      %s\n", buf);
	}
	view_ranking(f, a, WATCH_RANK_ROWS);
	if (watch_final(a)) {
		view_result(a, buf, sizeof(buf));
		fprintf(f, "result       %s\n", buf);
	}
	fprintf(f, "last update  %s\n", w->reason);
}

/* Redraw the live view in place. */
static int watch_draw(struct watch *w)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (f == NULL)
		return -1;
	watch_view(w, f);
	if (!watch_final(w->auction))
		fputs("(Ctrl-C stops watching)\n", f);
	fclose(f);
	w->next_tick = watch_next_tick(w);
	r = view_redraw(text, &w->drawn);
	free(text);
	return r;
}

/* Print one line for the latest view (not on a terminal). */
static int watch_line(struct watch *w)
{
	json_t *a = w->auction;
	long long bids = 0, bidders = 0, rank;
	char clock[32], buf[256], when[32], jump[32];
	const char *label;
	int64_t at;

	view_clock(time_now_ms(), VIEW_HMS, clock, sizeof(clock));
	if (watch_final(a)) {
		view_result(a, buf, sizeof(buf));
		if (strcmp(view_str(a, "state"), "cancelled") == 0)
			printf("%s %s\n", clock, buf);
		else
			printf("%s closed: %s\n", clock, buf);
		view_sealed_line(a, buf, sizeof(buf));
		if (buf[0] != '\0')
			printf("%s sealed: %s\n", clock, buf);
		return fflush(stdout);
	}
	view_int(a, "bids", &bids);
	view_int(a, "bidders", &bidders);
	printf("%s %s: %s, best %s %s", clock, w->reason, view_str(a, "state") ? view_str(a, "state") : "-",
	       view_str(a, "best_price") ? view_str(a, "best_price") : "-",
	       view_str(a, "currency") ? view_str(a, "currency") : "");
	if (view_int(a, "your_rank", &rank) == 0)
		printf(", your rank %lld at %s", rank, view_str(a, "your_price") ? view_str(a, "your_price") : "-");
	if (view_str(a, "your_proxy_floor") != NULL)  /* proxy bidding */
		printf(", proxy floor %s active", view_str(a, "your_proxy_floor"));
	printf(", bids %lld (%lld bidder%s)", bids, bidders, bidders == 1 ? "" : "s");
	view_sealed_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		printf(", sealed: %s", buf);
	at = watch_countdown(w, &label, buf, sizeof(buf));
	if (at >= 0) {
		view_clock(at, VIEW_HMS, when, sizeof(when));
		printf(", %s %s (in %s)", strcmp(label, "starts in") == 0 ? "starts" : "ends", when, buf);
	}
	if (w->jumped) {
		watch_jump(w->jump_ms, jump, sizeof(jump));
		printf(" EXTENDED %s", jump);
	}
	view_lot_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		printf("; %s", buf);
	if (view_pause_line(a, buf, sizeof(buf)))  /* an operator's pause, or an outage */
		printf(", paused: %s", buf);
	putchar('\n');
	return fflush(stdout);
}

/* Show the latest view the way the output wants it: CTL_OK, or CTL_ERROR when standard
 * output cannot be written (a closed pipe). */
static int watch_show(struct watch *w, const char *raw)
{
	int r;

	if (w->rpc->json) {
		puts(raw);
		r = fflush(stdout);
	} else
		r = w->tty ? watch_draw(w) : watch_line(w);
	if (r == 0)
		return CTL_OK;
	fprintf(stderr, "error: cannot write to standard output\n");
	return CTL_ERROR;
}

/* Handle a deadline that passed: a missing reply, a keep-alive to send, a redraw. */
static int watch_timer(struct watch *w)
{
	int64_t now = time_mono_ms();
	int rc;

	if (w->watch_id != NULL && now >= w->watch_deadline) {
		fprintf(stderr, "error: no reply within %lld s\n", (long long)w->rpc->timeout_ms / 1000);
		return CTL_TIMEOUT;
	}
	if ((rc = rpc_ping_timer(w->rpc, &w->ping)) != CTL_OK)
		return rc;
	if (w->tty && w->auction != NULL && now >= w->next_tick)
		return watch_show(w, NULL);
	return CTL_OK;
}

/* Handle a reply: the watch's (its view, or its error) or a keep-alive's. */
static int watch_reply(struct watch *w, json_t *msg, const char *raw)
{
	if (w->watch_id != NULL && rpc_matches(msg, w->watch_id)) {
		const char *primary = rpc_standby(msg);
		w->watch_id = NULL;
		rpc_note_time(w->rpc, msg, w->watch_sent_wall, time_mono_ms() - w->watch_sent_mono);
		if (primary != NULL) {
			snprintf(w->primary, sizeof(w->primary), "%s", primary);
			fprintf(stderr, "tenderctl: %s is a standby%s%s; moving on\n", w->rpc->server,
			    *primary ? ", primary " : "", primary);
			return WATCH_AGAIN;
		}
		if (!rpc_ok(msg)) {
			if (w->rpc->json)
				puts(raw);
			rpc_print_error(msg);
			return CTL_ERROR;
		}
		if (watch_apply(w, json_incref(json_object_get(msg, "auction")), "watching") ||
		    (w->rpc->json && w->auction == NULL))
			return watch_show(w, raw);
		return CTL_OK;
	}
	rpc_ping_reply(w->rpc, &w->ping, msg);
	return CTL_OK;
}

/* Handle an event: a new view of our auction, or the end of the connection. */
static int watch_event(struct watch *w, json_t *msg, const char *raw)
{
	const char *ev = rpc_event(msg), *reason;
	json_t *a = json_object_get(msg, "auction");
	int rc = rpc_fatal_event(w->rpc, msg, raw);

	if (rc != CTL_OK) {
		w->ended = strcmp(ev, "error") == 0;  /* refused by the server: not a restart */
		return rc;
	}
	if (strcmp(ev, "auction.update") != 0 && strcmp(ev, "auction.closed") != 0)
		return w->rpc->json ? watch_show(w, raw) : CTL_OK;
	if (!json_equal(json_object_get(a, "id"), w->auction_id))
		return CTL_OK;
	reason = strcmp(ev, "auction.closed") == 0 ? view_str(a, "state") : view_str(msg, "reason");
	if (watch_apply(w, json_incref(a), reason != NULL ? reason : "update"))
		return watch_show(w, raw);
	return CTL_OK;
}

/* The earliest moment the loop must wake up without input (mono ms). */
static int64_t watch_deadline(const struct watch *w)
{
	int64_t d = rpc_ping_deadline(&w->ping);

	if (w->watch_id != NULL && w->watch_deadline < d)
		d = w->watch_deadline;
	if (w->tty && w->auction != NULL && w->next_tick < d)
		d = w->next_tick;
	return d;
}

/* Read and handle messages until the auction is final or something fails. */
static int watch_loop(struct watch *w)
{
	for (;;) {
		const char *raw;
		json_t *msg;
		int rc = rpc_read(w->rpc, watch_deadline(w), &msg, &raw);

		if (net_stop) {  /* Ctrl-C: a clean end, the connection closed with close_notify */
			if (rc == CTL_OK)
				json_decref(msg);
			return CTL_OK;
		}
		if (rc == CTL_TIMEOUT)
			rc = watch_timer(w);
		else if (rc == CTL_OK) {
			rc = rpc_event(msg) != NULL ? watch_event(w, msg, raw) : watch_reply(w, msg, raw);
			json_decref(msg);
		}
		if (rc != CTL_OK)
			return rc;
		if (w->auction != NULL && watch_final(w->auction) && w->watch_id == NULL)
			return CTL_OK;
	}
}

/* Send the watch request (again after a reconnection: with `since`, the last seq shown). */
static int watch_send(struct watch *w, json_t *req)
{
	long long seq;
	json_t *id;
	int rc;

	if (w->auction != NULL && view_int(w->auction, "seq", &seq) == 0)
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

/* Send the auction.watch request req and show the auction until it closes; after a lost
 * connection or a `standby` answer, connect again and resume. */
/* SIGINT, SIGTERM: stop watching; the connection is then closed cleanly (an auction's outage
 * pause counts a connection that ends without close_notify as a lost bidder). */
static void watch_on_signal(int sig)
{
	(void)sig;
	net_stop = 1;
}

int watch_run(struct rpc *r, json_t *req)
{
	struct watch w;
	struct sigaction sa;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);  /* no SA_RESTART: the wait is interrupted */
	sigaction(SIGTERM, &sa, NULL);
	memset(&w, 0, sizeof(w));
	w.rpc = r;
	w.auction_id = json_object_get(req, "auction");
	w.ends_ms = -1;
	w.tty = !r->json && isatty(STDOUT_FILENO);
	w.next_tick = time_mono_ms();
	rc = watch_send(&w, req);
	for (;;) {
		if (rc == CTL_OK)
			rc = watch_loop(&w);
		if (net_stop || (rc != WATCH_AGAIN && (rc != CTL_CONN || w.auction == NULL ||
		    w.ended)))
			break;
		/* connected once: a restart or a failover, not a wrong address */
		fprintf(stderr, "tenderctl: connection to %s lost; reconnecting\n", r->server);
		w.watch_id = NULL;
		json_object_del(req, "id");
		rc = rpc_reconnect(r, w.primary, -1);
		w.primary[0] = '\0';
		if (rc == CTL_OK)
			rc = watch_send(&w, req);
	}
	json_decref(w.auction);
	rpc_ping_free(&w.ping);
	return rc == WATCH_AGAIN ? CTL_CONN : rc;
}
