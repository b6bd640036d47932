/* Human-readable output of tenderd replies: auctions, lists, bids, identities. */
#ifndef TENDERCTL_VIEW_H
#define TENDERCTL_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* How view_clock shows a moment (always in the local time zone). */
enum view_clock_style {
	VIEW_HMS,      /* 10:12:00 */
	VIEW_HMS_MS,   /* 10:12:00.250 */
	VIEW_DATE,     /* 2026-11-22 10:12:00 */
	VIEW_FULL,     /* 2026-11-22 10:12:00 UTC */
};

/* The string member `key` of o, or NULL. */
const char *view_str(json_t *o, const char *key);

/* The integer member `key` of o into *out; 0, or -1 when absent or not an integer. */
int view_int(json_t *o, const char *key, long long *out);

/* The RFC 3339 member `key` of o in ms into *out; 0, or -1 when absent or unparsable. */
int view_time(json_t *o, const char *key, int64_t *out);

/* Format a moment (ms since the epoch) in local time. */
void view_clock(int64_t ms, enum view_clock_style style, char *buf, size_t n);

/* Format a duration: "04:05", "1:02:03", "3d 01:02:03" (negative counts as zero). */
void view_left(int64_t ms, char *buf, size_t n);

/* Describe a closed or cancelled auction's outcome ("winner Participant 2 at 990000.00 RUB"). */
void view_result(json_t *a, char *buf, size_t n);

/* The price range that would take the lead ("940000.00 .. 985000.00"), "" when none applies. */
void view_lead_range(json_t *a, char *buf, size_t n);
/* Whether the auction hides its best price from this viewer (visibility rank, bids placed). */
int view_hides_best(json_t *a);
/* Whether the auction is in its second-place tail (phase "tail"). */
int view_in_tail(json_t *a);
/* The "tail" line of an auction with a second-place tail ("improve your place until 12:10:00,
 * price not below 850.00 RUB"), "" without one. */
void view_tail_line(json_t *a, char *buf, size_t n);
/* The "clock" and "to do" lines of a running clock-format auction at `now` (server ms); "". */
void view_clock_lines(json_t *a, int64_t now, char *clock, char *todo, size_t n);
/* The line of a sealed-bid auction ("your price 900.00 RUB submitted; 3 sealed bids; opens at
 * 12:00:00", "opened: price paid 820.00 RUB"), "" for the other formats. */
void view_sealed_line(json_t *a, char *buf, size_t n);
/* The "phase" and "to do" lines of a running rounds auction at `now` (server ms); "". */
void view_rounds_lines(json_t *a, int64_t now, char *phase, char *todo, size_t n);

/* Print the full description of an auction object. */
void view_auction(FILE *f, json_t *a);

/* Print the ranking table of an auction object when it carries one. */
void view_ranking(FILE *f, json_t *a, size_t max_rows);

/* Multi-lot auctions: "lot 2 of 3: Toner, closes 10:12:30 (staggered, 60 s apart)" into
 * buf, or "" when `a` is no lot of an event. */
void view_lot_line(json_t *a, char *buf, size_t n);

/* Print a hello reply; skew_ms is the measured server-minus-local clock difference. */
void view_hello(json_t *reply, int64_t skew_ms);

/* Print a participant.register reply. */
void view_register(json_t *reply);

/* Print an auction.list reply as a table: rows, after the heading when `heading` (then an
 * empty list says so). */
void view_list(json_t *reply, int heading);

/* Print an auction.bid reply on one line; currency may be NULL. */
void view_bid(json_t *reply, const char *currency);
/* proxy bidding: print an auction.proxy reply on one line */
void view_proxy(json_t *reply);

/* Print any reply as indented JSON. */
void view_json(json_t *reply);

/* Redraw a live view in place on the terminal: cursor home (the screen cleared the first
 * time, when *drawn is 0), each line of `text` cleared to its end, the rest of the screen
 * cleared. Returns fflush's result. */
int view_redraw(const char *text, int *drawn);

/* Outage pause: the text after "paused" for a paused auction ("connection outage (3 bidders
 * lost), time given back; ...", or an operator's pause); 0 when it is not paused. */
int view_pause_line(json_t *a, char *buf, size_t n);

#endif
