/* Human-readable output of tenderd replies: auctions, lists, bids, identities. */
#include "client/view.h"
#include "common/money.h"
#include "common/timeutil.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

/* Width of the labels in the auction description. */
#define VIEW_LABEL "  %-13s "

/* The string member `key` of o, or NULL. */
const char *view_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The integer member `key` of o into *out; 0, or -1 when absent or not an integer. */
int view_int(json_t *o, const char *key, long long *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* The RFC 3339 member `key` of o in ms into *out; 0, or -1 when absent or unparsable. */
int view_time(json_t *o, const char *key, int64_t *out)
{
	const char *s = view_str(o, key);

	return s != NULL && time_parse(s, out) == 0 ? 0 : -1;
}

/* Format a moment (ms since the epoch) in local time. */
void view_clock(int64_t ms, enum view_clock_style style, char *buf, size_t n)
{
	int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	time_t t = (time_t)sec;
	const char *fmt = "%H:%M:%S";
	struct tm tm;
	size_t len;

	if (localtime_r(&t, &tm) == NULL) {
		snprintf(buf, n, "?");
		return;
	}
	if (style == VIEW_FULL)
		fmt = "%Y-%m-%d %H:%M:%S %Z";
	else if (style == VIEW_DATE)
		fmt = "%Y-%m-%d %H:%M:%S";
	len = strftime(buf, n, fmt, &tm);
	if (style == VIEW_HMS_MS && len > 0)
		snprintf(buf + len, n - len, ".%03d", (int)(ms - sec * 1000));
}

/* Format a duration: "04:05", "1:02:03", "3d 01:02:03" (negative counts as zero). */
void view_left(int64_t ms, char *buf, size_t n)
{
	int64_t s = ms > 0 ? (ms + 999) / 1000 : 0;
	int64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	if (d > 0)
		snprintf(buf, n, "%" PRId64 "d %02" PRId64 ":%02" PRId64 ":%02" PRId64, d, h, m, s % 60);
	else if (h > 0)
		snprintf(buf, n, "%" PRId64 ":%02" PRId64 ":%02" PRId64, h, m, s % 60);
	else
		snprintf(buf, n, "%02" PRId64 ":%02" PRId64, m, s % 60);
}

/* Print `s` or a dash when it is NULL. */
static const char *view_or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

/* Describe a closed or cancelled auction's outcome ("winner Participant 2 at 990000.00 RUB"). */
void view_result(json_t *a, char *buf, size_t n)
{
	json_t *result = json_object_get(a, "result");
	json_t *winner = json_object_get(result, "winner");
	const char *state = view_or_dash(view_str(a, "state"));
	const char *org = view_str(winner, "organization");

	if (strcmp(state, "cancelled") == 0)
		snprintf(buf, n, "cancelled: %s", view_or_dash(view_str(a, "cancel_reason")));
	else if (!json_is_object(result))
		snprintf(buf, n, "%s", state);
	else if (!json_is_object(winner) && view_str(result, "unsuccessful") != NULL &&
		 strcmp(view_str(result, "unsuccessful"), "min_bidders") == 0)
		snprintf(buf, n, "fewer bidders than the minimum: the auction is unsuccessful");
	else if (!json_is_object(winner))
		snprintf(buf, n, "no bids: the auction is unsuccessful");
	else
		snprintf(buf, n, "winner %s%s%s%s at %s %s", view_or_dash(view_str(winner, "alias")),
			 org != NULL ? " (" : "", org != NULL ? org : "", org != NULL ? ")" : "",
			 view_or_dash(view_str(winner, "price")), view_or_dash(view_str(a, "currency")));
}

/* Parse the amount member `key` of auction a in its currency's minor units; 0 or -1. */
static int view_amount(json_t *a, const char *key, int64_t *out)
{
	const char *cur = view_str(a, "currency");
	const char *s = view_str(a, key);
	int exp = cur != NULL ? money_exponent(cur) : -1;

	return exp >= 0 && s != NULL && money_parse(s, exp, out) == 0 ? 0 : -1;
}

/* Whether the auction has a sealed-bid format (its view counts the sealed bids). */
static int view_is_sealed(json_t *a)
{
	return json_object_get(a, "sealed_bids") != NULL;
}

/* The line of a sealed-bid auction: while it runs "your price 900.00 RUB submitted; 3 sealed
 * bids; opens at 12:00:00", once closed "opened: price paid 820.00 RUB"; "" otherwise. */
void view_sealed_line(json_t *a, char *buf, size_t n)
{
	const char *state = view_or_dash(view_str(a, "state")), *cur = view_or_dash(view_str(a, "currency"));
	const char *mine = view_str(a, "your_price");
	json_t *res = json_object_get(a, "result");
	long long nb = 0;
	int64_t ends;
	char when[32] = "-";

	buf[0] = '\0';
	if (!view_is_sealed(a))
		return;
	view_int(a, "sealed_bids", &nb);
	if (strcmp(state, "closed") == 0) {
		if (view_str(res, "price_paid") != NULL)
			snprintf(buf, n, "opened: price paid %s %s", view_str(res, "price_paid"), cur);
		else
			snprintf(buf, n, "opened: %lld sealed bid%s, no winner", nb, nb == 1 ? "" : "s");
		return;
	}
	if (strcmp(state, "cancelled") == 0) {
		snprintf(buf, n, "never opened: %lld sealed bid%s stay sealed", nb, nb == 1 ? "" : "s");
		return;
	}
	if (view_time(a, "ends_at", &ends) == 0)
		view_clock(ends, VIEW_HMS, when, sizeof(when));
	if (mine != NULL)
		snprintf(buf, n, "your price %s %s submitted; %lld sealed bid%s; opens at %s", mine,
			 cur, nb, nb == 1 ? "" : "s", when);
	else
		snprintf(buf, n, "%lld sealed bid%s; opens at %s", nb, nb == 1 ? "" : "s", when);
}

/* Whether the auction hides its best price from this viewer (visibility rank, bids placed). */
int view_hides_best(json_t *a)
{
	const char *vis = view_str(a, "visibility");
	long long bids = 0;

	view_int(a, "bids", &bids);
	return vis != NULL && strcmp(vis, "rank") == 0 && view_str(a, "best_price") == NULL &&
	    bids > 0;
}

/* The price range that would take the lead ("940000.00 .. 985000.00"; where the highest price
 * wins "101000.00 .. 105000.00 (highest price wins)"), "" when none applies. */
void view_lead_range(json_t *a, char *buf, size_t n)
{
	const char *state = view_or_dash(view_str(a, "state"));
	int64_t ref, lo, hi, smin, smax;
	long long rank;
	int exp = money_exponent(view_or_dash(view_str(a, "currency")));
	char los[32], his[32];

	buf[0] = '\0';
	if (json_object_get(a, "clock_interval") != NULL)
		return;  /* a clock format: the clock sets the price (view_clock_lines) */
	if (view_is_sealed(a))
		return;  /* a sealed price is not measured from anything but the start price */
	if (json_object_get(a, "turn_of") != NULL)
		return;  /* rounds: bids go from the bidder's own price (view_rounds_lines) */
	if ((strcmp(state, "running") != 0 && strcmp(state, "scheduled") != 0) ||
	    (view_int(a, "your_rank", &rank) == 0 && rank == 1))
		return;
	if (view_in_tail(a))
		return;  /* in the second-place tail nobody takes the lead (view_tail_line) */
	if (view_hides_best(a))
		return;  /* the range would be measured from a best price this viewer does not see */
	if (view_amount(a, "best_price", &ref) != 0 && view_amount(a, "start_price", &ref) != 0)
		return;
	if (view_amount(a, "step_min_amount", &smin) != 0 || view_amount(a, "step_max_amount", &smax) != 0)
		return;
	if (json_is_true(json_object_get(a, "higher_wins"))) {
		/* prices rise: the lead takes at least step_min and at most step_max above */
		if (ref > INT64_MAX - smax)
			return;
		lo = ref + smin;
		hi = ref + smax;
	} else {
		hi = ref - smin;
		lo = ref - smax < 1 ? 1 : ref - smax;
	}
	if (hi < lo)
		return;
	money_format(lo, exp, los, sizeof(los));
	money_format(hi, exp, his, sizeof(his));
	/* where the highest price wins, the live view says so beside the range */
	snprintf(buf, n, "%s .. %s%s", los, his, json_is_true(json_object_get(a, "higher_wins")) ?
		 " (highest price wins)" : "");
}

/* part * 100% / whole in hundredths of a percent, rounded half up, exactly (0 <= part <= whole). */
static uint64_t view_ratio_bp(uint64_t part, uint64_t whole)
{
	uint64_t q = part / whole, r = part % whole, bp = q;

	for (int i = 0; i < 5; i++) {
		r *= 10;
		bp = bp * 10 + r / whole;
		r %= whole;
	}
	return (bp + 5) / 10;
}

/* The best price with its saving against the start price ("990000.00 (-10000.00, -1.00%)");
 * where the highest price wins, its gain ("101000.00 (+1000.00, +1.00%)"). */
static void view_best(json_t *a, char *buf, size_t n)
{
	int64_t start, best;
	uint64_t bp;
	char diff[32];

	if (view_str(a, "best_price") == NULL && view_is_sealed(a)) {
		snprintf(buf, n, "sealed until the opening");
		return;
	}
	if (view_str(a, "best_price") == NULL) {
		snprintf(buf, n, "%s", view_hides_best(a) ?
			 "hidden (you see your own rank only)" : "- (no bids yet)");
		return;
	}
	if (json_is_true(json_object_get(a, "higher_wins"))) {
		if (view_amount(a, "start_price", &start) != 0 ||
		    view_amount(a, "best_price", &best) != 0 || best < start || start <= 0) {
			snprintf(buf, n, "%s", view_str(a, "best_price"));
			return;
		}
		money_format(best - start, money_exponent(view_str(a, "currency")), diff, sizeof(diff));
		bp = view_ratio_bp((uint64_t)(best - start), (uint64_t)start);
		snprintf(buf, n, "%s (+%s, +%" PRIu64 ".%02" PRIu64 "%%)", view_str(a, "best_price"),
			 diff, bp / 100, bp % 100);
		return;
	}
	if (view_amount(a, "start_price", &start) != 0 || view_amount(a, "best_price", &best) != 0 ||
	    best > start || start <= 0) {
		snprintf(buf, n, "%s", view_str(a, "best_price"));
		return;
	}
	money_format(start - best, money_exponent(view_str(a, "currency")), diff, sizeof(diff));
	bp = view_ratio_bp((uint64_t)(start - best), (uint64_t)start);
	snprintf(buf, n, "%s (-%s, -%" PRIu64 ".%02" PRIu64 "%%)", view_str(a, "best_price"), diff, bp / 100,
		 bp % 100);
}

/* Print the "ends at" line of an auction, with the time left by the server's own clock. */
static void view_ends(FILE *f, json_t *a)
{
	int64_t ends, now, sched;
	long long ext = 0;
	char when[64], left[32], sch[64];
	const char *state = view_or_dash(view_str(a, "state"));

	if (view_time(a, "ends_at", &ends) != 0)
		return;
	view_clock(ends, VIEW_FULL, when, sizeof(when));
	fprintf(f, VIEW_LABEL "%s", "ends at", when);
	if (view_in_tail(a))
		fprintf(f, " (the main phase is over)");
	else if (strcmp(state, "running") == 0 && view_time(a, "server_time", &now) == 0) {
		view_left(ends - now, left, sizeof(left));
		fprintf(f, " (in %s)", left);
	}
	if (view_int(a, "extensions", &ext) == 0 && ext > 0 && view_time(a, "scheduled_end", &sched) == 0) {
		view_clock(sched, VIEW_HMS, sch, sizeof(sch));
		fprintf(f, ", extended %lld time%s, scheduled %s", ext, ext == 1 ? "" : "s", sch);
	}
	fputc('\n', f);
}

/* Print the "starts at" line of an auction, with the time to the start when scheduled. */
static void view_starts(FILE *f, json_t *a)
{
	int64_t starts, now;
	char when[64], left[32];

	if (view_time(a, "starts_at", &starts) != 0)
		return;
	view_clock(starts, VIEW_FULL, when, sizeof(when));
	fprintf(f, VIEW_LABEL "%s", "starts at", when);
	if (strcmp(view_or_dash(view_str(a, "state")), "scheduled") == 0 &&
	    view_time(a, "server_time", &now) == 0) {
		view_left(starts - now, left, sizeof(left));
		fprintf(f, " (in %s)", left);
	}
	fputc('\n', f);
}

/* Print the ranking table of an auction object when it carries one. */
void view_ranking(FILE *f, json_t *a, size_t max_rows)
{
	json_t *ranking = json_object_get(a, "ranking"), *row;
	size_t i;

	if (!json_is_array(ranking) || json_array_size(ranking) == 0)
		return;
	fprintf(f, "  ranking\n    %4s  %-18s %-16s %-12s  %s\n", "rank", "price", "bidder", "at", "organization");
	json_array_foreach(ranking, i, row) {
		long long rank = 0;
		int64_t at;
		char atbuf[32] = "-";
		const char *org;

		if (i >= max_rows) {
			fprintf(f, "    ... %zu more\n", json_array_size(ranking) - i);
			break;
		}
		view_int(row, "rank", &rank);
		if (view_time(row, "at", &at) == 0)
			view_clock(at, VIEW_HMS_MS, atbuf, sizeof(atbuf));
		org = view_str(row, "organization");
		fprintf(f, "    %4lld  %-18s %-16s %-12s  %s\n", rank, view_or_dash(view_str(row, "price")),
			view_or_dash(view_str(row, "alias")), atbuf, org != NULL ? org : "");
	}
}

/* See view.h. */
int view_pause_line(json_t *a, char *buf, size_t n)
{
	json_t *o = json_object_get(a, "outage");
	long long lost;
	int64_t at, by;
	char when[64], until[64] = "";

	if (!json_is_true(json_object_get(a, "paused")))
		return 0;
	if (view_time(a, "paused_at", &at) == 0)
		view_clock(at, VIEW_FULL, when, sizeof(when));
	else
		snprintf(when, sizeof(when), "-");
	if (!json_is_object(o)) {
		snprintf(buf, n, "since %s: no bids, the end waits for the operator to resume", when);
		return 1;
	}
	if (view_time(o, "resumes_by", &by) == 0)
		view_clock(by, VIEW_HMS, until, sizeof(until));
	if (view_int(o, "lost", &lost) == 0)
		snprintf(buf, n, "connection outage (%lld bidder%s lost), time given back; no bids "
			"until they are back, at the latest %s", lost, lost == 1 ? "" : "s",
			until[0] ? until : "-");
	else
		snprintf(buf, n, "connection outage, time given back; no bids until the bidders are "
			"back, at the latest %s", until[0] ? until : "-");
	return 1;
}

/* Print the "paused" line of a paused auction: no bids, the end stands still. */
static void view_paused(FILE *f, json_t *a)
{
	char line[256];

	if (view_pause_line(a, line, sizeof(line)))
		fprintf(f, VIEW_LABEL "%s\n", "paused", line);
}

/* Print the "visibility" line of an auction: what bidders see while it runs. */
static void view_visibility(FILE *f, json_t *a)
{
	const char *vis = view_str(a, "visibility");
	const char *what = "their own rank and the best price";
	long long minb;

	if (vis == NULL)
		return;
	if (strcmp(vis, "rank") == 0)
		what = "their own rank only";
	else if (strcmp(vis, "ranking") == 0)
		what = "the full ranking by alias";
	fprintf(f, VIEW_LABEL "%s: bidders see %s\n", "visibility", vis, what);
	if (view_int(a, "min_bidders", &minb) == 0)
		fprintf(f, VIEW_LABEL "at least %lld bidders, or the auction is unsuccessful\n",
			"min bidders", minb);
	if (json_is_true(json_object_get(a, "invitation_only"))) {
		json_t *inv = json_object_get(a, "invited");

		if (json_is_array(inv))
			fprintf(f, VIEW_LABEL "invitation only: %zu organization%s\n", "invited",
				json_array_size(inv), json_array_size(inv) == 1 ? "" : "s");
		else
			fprintf(f, VIEW_LABEL "invitation only\n", "invited");
	}
}

/*
 * The clock of a clock-format auction at `now` (server time, ms): "clock" describes it,
 * "todo" says what the viewer has to do ("accept 1020.00 RUB now (until 12:00:30)",
 * "confirm 980.00 RUB by 12:00:45 to stay in"). The price is carried forward from the view's
 * clock_price to `now` (no event comes at a step); so is a Japanese viewer's status: one who
 * confirmed the round of the view must confirm the next, one who did not is out (a close
 * at that round's end comes as an event of its own). Both "" when `a` is not a running
 * clock auction.
 */
void view_clock_lines(json_t *a, int64_t now, char *clock, char *todo, size_t n)
{
	const char *fmt = view_or_dash(view_str(a, "format")), *st = view_str(a, "your_clock_status");
	const char *cur = view_or_dash(view_str(a, "currency"));
	int exp = money_exponent(cur), up, dutch = strncmp(fmt, "dutch", 5) == 0;
	int64_t price, step, limit, start, next, k = 0;
	long long ivl, round = 0, in = 0;
	char ps[40], ss[40], ls[40], until[32];

	clock[0] = todo[0] = '\0';
	if (exp < 0 || view_int(a, "clock_interval", &ivl) != 0 || ivl <= 0 ||
	    view_amount(a, "clock_price", &price) != 0 || view_amount(a, "clock_step", &step) != 0 ||
	    view_amount(a, "clock_limit", &limit) != 0 || view_amount(a, "start_price", &start) != 0 ||
	    view_time(a, "next_step_at", &next) != 0)
		return;
	up = limit > start;
	if (now >= next) {
		k = (now - next) / ivl + 1;
		price = up ? (price + k * step > limit ? limit : price + k * step) :
		    (price - k * step < limit ? limit : price - k * step);
		next += k * ivl;
	}
	money_format(price, exp, ps, sizeof(ps));
	money_format(step, exp, ss, sizeof(ss));
	money_format(limit, exp, ls, sizeof(ls));
	view_clock(next, VIEW_HMS, until, sizeof(until));
	view_int(a, "round", &round);
	view_int(a, "in", &in);
	if (!dutch && k > 0 && st != NULL)
		st = k == 1 && strcmp(st, "confirmed") == 0 ? "confirm" : "dropped_out";
	round += k;
	if (dutch)
		snprintf(clock, n, "%s %s, %s %s every %.1f s to %s (the %s)", ps, cur,
		    up ? "rising" : "falling", ss, ivl / 1000.0, ls, up ? "ceiling" : "floor");
	else if (k == 0)
		snprintf(clock, n, "round %lld: %s %s, %lld in; falling %s every %.1f s to %s", round,
		    ps, cur, in, ss, ivl / 1000.0, ls);
	else
		snprintf(clock, n, "round %lld: %s %s; falling %s every %.1f s to %s", round, ps, cur,
		    ss, ivl / 1000.0, ls);
	if (st == NULL)
		snprintf(todo, n, "%s %s %s until %s", dutch ? "offered at" : "confirmations of", ps, cur,
		    until);
	else if (strcmp(st, "accept") == 0)
		snprintf(todo, n, "accept %s %s now (until %s): the first acceptance wins", ps, cur,
		    until);
	else if (strcmp(st, "confirm") == 0)
		snprintf(todo, n, "confirm %s %s by %s %s", ps, cur, until,
		    round <= 1 ? "to take part" : "to stay in");
	else if (strcmp(st, "confirmed") == 0)
		snprintf(todo, n, "confirmed %s %s; the next round starts at %s", ps, cur, until);
	else
		snprintf(todo, n, "you are out: you did not confirm a round in time");
}

/* The "to do" line of a supplier in a rounds auction (phase `ph`, its turn `mine`). */
static void view_rounds_todo(json_t *a, const char *ph, int mine, char *todo, size_t n)
{
	const char *cur = view_or_dash(view_str(a, "currency"));
	int exp = money_exponent(cur);
	int64_t own, smin, smax, at;
	char lo[40], hi[40], ats[32];

	if (view_amount(a, "your_price", &own) != 0) {
		if (strcmp(ph, "initial") == 0)
			snprintf(todo, n, "place a sealed initial bid below %s %s",
			    view_or_dash(view_str(a, "start_price")), cur);
		else
			snprintf(todo, n, "no initial bid: you do not take part in the rounds");
		return;
	}
	if (strcmp(ph, "initial") == 0) {
		snprintf(todo, n, "your sealed initial bid %s %s; you may lower it", view_str(a,
		    "your_price"), cur);
	} else if (mine && view_amount(a, "step_min_amount", &smin) == 0 &&
	    view_amount(a, "step_max_amount", &smax) == 0 && exp >= 0) {
		money_format(own - smax < 1 ? 1 : own - smax, exp, lo, sizeof(lo));
		money_format(own - smin, exp, hi, sizeof(hi));
		snprintf(todo, n, "YOUR TURN: bid %s .. %s %s (from your %s), or pass", lo, hi, cur,
		    view_str(a, "your_price"));
	} else if (view_time(a, "your_turn_at", &at) == 0) {
		view_clock(at, VIEW_HMS, ats, sizeof(ats));
		snprintf(todo, n, "your turn at %s (your price %s %s)", ats, view_str(a, "your_price"),
		    cur);
	} else {
		snprintf(todo, n, "wait: your next turn is set at the next round's start");
	}
}

/*
 * The "phase" and "to do" lines of a running rounds auction at `now` (server ms): the phase
 * (sealed initial bids, a pause, round k of N with whose turn and until when) and what this
 * supplier may do. A view older than its phase's end says it waits for the next one (the
 * server sends an update at each phase and turn). Both "" when `a` is not a running rounds
 * auction; todo "" for a buyer or operator.
 */
void view_rounds_lines(json_t *a, int64_t now, char *phase, char *todo, size_t n)
{
	const char *ph = view_str(a, "phase");
	long long round = 0, rounds = 0;
	int64_t end;
	char until[32];

	phase[0] = todo[0] = '\0';
	if (ph == NULL || strcmp(ph, "over") == 0 || view_time(a, "phase_ends_at", &end) != 0)
		return;
	view_clock(end, VIEW_HMS, until, sizeof(until));
	view_int(a, "round", &round);
	view_int(a, "rounds", &rounds);
	if (now >= end)
		snprintf(phase, n, "%s ended at %s; waiting for the next phase", ph, until);
	else if (strcmp(ph, "initial") == 0)
		snprintf(phase, n, "sealed initial bids until %s (prices hidden until round 1)", until);
	else if (strcmp(ph, "pause") == 0)
		snprintf(phase, n, "pause until %s, then round %lld of %lld", until, round, rounds);
	else
		snprintf(phase, n, "round %lld of %lld: turn of %s until %s", round, rounds,
		    view_or_dash(view_str(a, "turn_of")), until);
	if (json_object_get(a, "your_turn") != NULL && now < end)
		view_rounds_todo(a, ph, json_is_true(json_object_get(a, "your_turn")), todo, n);
}

/* Print the "format" line of an auction: its name and who wins, then its extension limits. */
static void view_format(FILE *f, json_t *a)
{
	const char *name = view_str(a, "format");
	long long maxext;
	int64_t latest;
	char when[64];

	if (name == NULL)
		return;
	if (view_is_sealed(a))
		fprintf(f, VIEW_LABEL "%s: one sealed price each, lowest wins; %s\n", "format", name,
			strstr(name, "second") != NULL ? "the winner is paid the second-lowest price" :
			"the winner is paid its own price");
	else
		fprintf(f, VIEW_LABEL "%s: %s\n", "format", name,
			json_is_true(json_object_get(a, "higher_wins")) ?
			"highest price wins, bids go up" : "lowest price wins, bids go down");
	if (view_int(a, "max_extensions", &maxext) == 0)
		fprintf(f, VIEW_LABEL "at most %lld extension%s\n", "limits", maxext,
			maxext == 1 ? "" : "s");
	if (view_time(a, "latest_end", &latest) == 0) {
		view_clock(latest, VIEW_FULL, when, sizeof(when));
		fprintf(f, VIEW_LABEL "never extended past %s\n", "limits", when);
	}
	view_visibility(f, a);
}

/* Multi-lot auctions: the lot's place in its event and when it closes. */
void view_lot_line(json_t *a, char *buf, size_t n)
{
	json_t *lot = json_object_get(a, "lot"), *ev = json_object_get(a, "event");
	long long no = 0, count = 0, stagger = 0;
	const char *closing = view_str(ev, "lot_closing");
	char when[64] = "-";
	int64_t ends;

	buf[0] = '\0';
	if (!json_is_object(lot) || !json_is_object(ev) || view_int(lot, "number", &no) != 0 ||
	    view_int(ev, "lot_count", &count) != 0)
		return;
	if (view_time(a, "ends_at", &ends) == 0)
		view_clock(ends, VIEW_HMS, when, sizeof(when));
	view_int(ev, "stagger", &stagger);
	if (closing != NULL && strcmp(closing, "staggered") == 0)
		snprintf(buf, n, "lot %lld of %lld: %s, closes %s (staggered, %lld s after the lot "
		    "before)", no, count, view_or_dash(view_str(lot, "title")), when, stagger);
	else
		snprintf(buf, n, "lot %lld of %lld: %s, closes %s", no, count,
		    view_or_dash(view_str(lot, "title")), when);
}

/* Print the full description of an auction object. */
void view_auction(FILE *f, json_t *a)
{
	long long id = 0, bids = 0, bidders = 0, rank;
	char buf[256];
	int64_t closed;

	view_int(a, "id", &id);
	fprintf(f, "auction %lld: %s\n", id, view_or_dash(view_str(a, "title")));
	if (view_str(a, "buyer") != NULL)
		fprintf(f, VIEW_LABEL "%s\n", "buyer", view_str(a, "buyer"));
	view_lot_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, VIEW_LABEL "%s (event %s)\n", "lot", buf,
			view_or_dash(view_str(json_object_get(a, "event"), "title")));
	fprintf(f, VIEW_LABEL "%s\n", "state", view_or_dash(view_str(a, "state")));
	view_paused(f, a);
	view_format(f, a);
	fprintf(f, VIEW_LABEL "%s %s%s\n", "start price", view_or_dash(view_str(a, "start_price")),
		view_or_dash(view_str(a, "currency")), json_is_true(json_object_get(a, "higher_wins")) ?
		" (the floor: every bid is above it)" : "");
	fprintf(f, VIEW_LABEL "%s .. %s (%s .. %s)\n", "steps", view_or_dash(view_str(a, "step_min_amount")),
		view_or_dash(view_str(a, "step_max_amount")), view_or_dash(view_str(a, "step_min")),
		view_or_dash(view_str(a, "step_max")));
	view_best(a, buf, sizeof(buf));
	fprintf(f, VIEW_LABEL "%s\n", "best price", buf);
	view_int(a, "bids", &bids);
	view_int(a, "bidders", &bidders);
	fprintf(f, VIEW_LABEL "%lld from %lld bidder%s\n", "bids", bids, bidders, bidders == 1 ? "" : "s");
	if (view_int(a, "your_rank", &rank) == 0)
		fprintf(f, VIEW_LABEL "%lld at %s (%s)\n", "your rank", rank, view_or_dash(view_str(a, "your_price")),
			view_or_dash(view_str(a, "your_alias")));
	if (view_str(a, "your_proxy_floor") != NULL)  /* proxy bidding */
		fprintf(f, VIEW_LABEL "floor %s active: tenderd bids for you by the least step\n", "proxy",
			view_str(a, "your_proxy_floor"));
	view_lead_range(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, VIEW_LABEL "bid %s\n", "to lead", buf);
	view_sealed_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, VIEW_LABEL "%s\n", "sealed", buf);
	{
		char todo[256];
		int64_t now;

		if (view_time(a, "server_time", &now) == 0) {
			view_clock_lines(a, now, buf, todo, sizeof(todo));
			if (buf[0] != '\0')
				fprintf(f, VIEW_LABEL "%s\n" VIEW_LABEL "%s\n", "clock", buf, "to do", todo);
			view_rounds_lines(a, now, buf, todo, sizeof(todo));
			if (buf[0] != '\0')
				fprintf(f, VIEW_LABEL "%s\n", "phase", buf);
			if (todo[0] != '\0')
				fprintf(f, VIEW_LABEL "%s\n", "to do", todo);
		}
	}
	view_starts(f, a);
	view_ends(f, a);
	view_tail_line(a, buf, sizeof(buf));
	if (buf[0] != '\0')
		fprintf(f, VIEW_LABEL "%s\n", "tail", buf);
	view_ranking(f, a, SIZE_MAX);
	if (json_is_object(json_object_get(a, "result")) || view_str(a, "cancel_reason") != NULL) {
		view_result(a, buf, sizeof(buf));
		fprintf(f, VIEW_LABEL "%s\n", "result", buf);
	}
	if (view_time(json_object_get(a, "result"), "closed_at", &closed) == 0) {
		view_clock(closed, VIEW_FULL, buf, sizeof(buf));
		fprintf(f, VIEW_LABEL "%s\n", "closed at", buf);
	}
}

/* Print a hello reply; skew_ms is the measured server-minus-local clock difference. */
void view_hello(json_t *reply, int64_t skew_ms)
{
	json_t *p = json_object_get(reply, "participant"), *org = json_object_get(reply, "organization");
	long long pid = 0, oid = 0;
	int64_t st;
	char buf[64];

	view_int(p, "id", &pid);
	view_int(org, "id", &oid);
	printf("participant   %lld %s (%s)\n", pid, view_or_dash(view_str(p, "name")),
	       view_or_dash(view_str(p, "role")));
	printf("organization  %lld %s\n", oid, view_or_dash(view_str(org, "name")));
	printf("subject       %s\n", view_or_dash(view_str(reply, "subject")));
	printf("fingerprint   %s\n", view_or_dash(view_str(reply, "fingerprint")));
	if (view_time(reply, "server_time", &st) == 0) {
		view_clock(st, VIEW_FULL, buf, sizeof(buf));
		printf("server time   %s (server clock %+" PRId64 " ms from ours)\n", buf, skew_ms);
	}
}

/* Print a participant.register reply. */
void view_register(json_t *reply)
{
	json_t *p = json_object_get(reply, "participant"), *org = json_object_get(reply, "organization");
	long long pid = 0, oid = 0;

	view_int(p, "id", &pid);
	view_int(org, "id", &oid);
	printf("registered participant %lld %s (%s)\n", pid, view_or_dash(view_str(p, "name")),
	       view_or_dash(view_str(p, "role")));
	printf("organization  %lld %s\n", oid, view_or_dash(view_str(org, "name")));
	printf("fingerprint   %s\n", view_or_dash(view_str(reply, "fingerprint")));
}

/* Print an auction.list reply as a table. */
void view_list(json_t *reply, int heading)
{
	json_t *list = json_object_get(reply, "auctions"), *a;
	size_t i;

	if (json_array_size(list) == 0) {
		if (heading)
			printf("no auctions\n");
		return;
	}
	if (heading)
		printf("%6s  %-9s %-3s %18s %18s %5s  %-19s  %s\n", "id", "state", "cur", "start price",
		       "best price", "bids", "ends at", "title");
	json_array_foreach(list, i, a) {
		long long id = 0, bids = 0;
		int64_t ends;
		char when[64] = "-";

		view_int(a, "id", &id);
		view_int(a, "bids", &bids);
		if (view_time(a, "ends_at", &ends) == 0)
			view_clock(ends, VIEW_DATE, when, sizeof(when));
		printf("%6lld  %-9s %-3s %18s %18s %5lld  %-19s  %s\n", id, view_or_dash(view_str(a, "state")),
		       view_or_dash(view_str(a, "currency")), view_or_dash(view_str(a, "start_price")),
		       view_or_dash(view_str(a, "best_price")), bids, when, view_or_dash(view_str(a, "title")));
	}
}

/* Print an auction.bid reply on one line; currency may be NULL. */
void view_bid(json_t *reply, const char *currency)
{
	json_t *bid = json_object_get(reply, "bid");
	long long id = 0, rank = 0;
	int64_t ends;
	char when[64] = "-";

	view_int(bid, "id", &id);
	if (view_time(reply, "ends_at", &ends) == 0)
		view_clock(ends, VIEW_HMS, when, sizeof(when));
	if (view_int(reply, "rank", &rank) != 0) {  /* a sealed bid: no rank before the opening */
		printf("bid %lld accepted: %s%s%s sealed; the auction opens at %s\n", id,
		       view_or_dash(view_str(bid, "amount")), currency != NULL ? " " : "",
		       currency != NULL ? currency : "", when);
		return;
	}
	printf("bid %lld accepted: %s%s%s, rank %lld, best %s, ends %s%s\n", id,
	       view_or_dash(view_str(bid, "amount")), currency != NULL ? " " : "",
	       currency != NULL ? currency : "", rank, view_or_dash(view_str(reply, "best_price")), when,
	       json_is_true(json_object_get(reply, "extended")) ? " (extended)" : "");
}

/* Whether the auction is in its second-place tail (phase "tail"). */
int view_in_tail(json_t *a)
{
	const char *phase = view_str(a, "phase");

	return phase != NULL && strcmp(phase, "tail") == 0;
}

/*
 * The "tail" line of an auction with a second-place tail, "" without one: before the main end
 * what the tail is; in the tail what the viewer may do ("improve your place until 12:10:00,
 * price not below 850.00 RUB"; the winner reads that it won); once closed when the winner was
 * fixed.
 */
void view_tail_line(json_t *a, char *buf, size_t n)
{
	json_t *mr = json_object_get(a, "main_result"), *w = json_object_get(mr, "winner");
	const char *state = view_or_dash(view_str(a, "state")), *cur = view_or_dash(view_str(a, "currency"));
	const char *bound = json_is_true(json_object_get(a, "higher_wins")) ? "above" : "below";
	const char *price = view_str(mr, "final_price");
	long long secs = 0;
	int64_t tend = 0, mend = 0;
	char until[32] = "-", ended[32] = "-";

	buf[0] = '\0';
	if (view_int(a, "tail", &secs) != 0 || secs <= 0 || strcmp(state, "cancelled") == 0)
		return;
	if (view_time(a, "tail_ends_at", &tend) == 0)
		view_clock(tend, VIEW_HMS, until, sizeof(until));
	if (view_time(mr, "ended_at", &mend) == 0)
		view_clock(mend, VIEW_HMS, ended, sizeof(ended));
	if (price == NULL)
		price = view_or_dash(view_str(a, "best_price"));
	if (strcmp(state, "closed") == 0 && json_is_object(w))
		snprintf(buf, n, "the winner was fixed at the end %s; second places were open until %s",
		    ended, until);
	else if (strcmp(state, "closed") == 0)
		snprintf(buf, n, "none: no winner at the end");
	else if (!view_in_tail(a))
		snprintf(buf, n, "%lld s after the end: the bidders but the winner may improve their "
		    "places, at prices not %s the final best", secs, bound);
	else if (json_is_true(json_object_get(w, "you")))
		snprintf(buf, n, "you won at %s %s; the others may improve their places until %s",
		    price, cur, until);
	else if (json_object_get(a, "your_rank") != NULL)
		snprintf(buf, n, "improve your place until %s, price not %s %s %s", until, bound, price,
		    cur);
	else
		snprintf(buf, n, "bidders may improve their places until %s, price not %s %s %s; the "
		    "winner is fixed", until, bound, price, cur);
}

/* Print an auction.proxy reply on one line: the floor (or its withdrawal), the automatic bids
 * it placed at once and the supplier's standing after them. */
void view_proxy(json_t *reply)
{
	json_t *px = json_object_get(reply, "proxy"), *a = json_object_get(reply, "auction");
	long long n = 0, rank = 0;

	view_int(px, "auto_bids", &n);
	if (view_str(px, "floor") != NULL)
		printf("proxy floor %s %s active", view_str(px, "floor"),
		       view_or_dash(view_str(a, "currency")));
	else
		printf("proxy withdrawn");
	printf(": %lld automatic bid%s placed", n, n == 1 ? "" : "s");
	if (view_int(a, "your_rank", &rank) == 0)
		printf(", your rank %lld at %s", rank, view_or_dash(view_str(a, "your_price")));
	printf(", best %s\n", view_or_dash(view_str(a, "best_price")));
}

/* Print any reply as indented JSON. */
void view_json(json_t *reply)
{
	json_dumpf(reply, stdout, JSON_INDENT(2));
	putchar('\n');
}

/* Redraw a live view in place on the terminal. */
int view_redraw(const char *text, int *drawn)
{
	const char *p, *nl;

	fputs(*drawn ? "\033[H" : "\033[H\033[2J", stdout);
	*drawn = 1;
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		printf("%.*s\033[K\n", (int)(nl - p), p);
	fputs("\033[J", stdout);
	return fflush(stdout);
}
