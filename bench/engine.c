/*
 * Engine micro-benchmark (make bench; docs/benchmarks.md): bids applied per second per
 * core by the auction engine alone (libauction.a: no I/O, no clock but the one measuring).
 *
 * For each format, `bidders` bidders first bid once each; then a stream of valid bids,
 * each by a bidder that does not hold the lead: 4 in 5 take the lead by a step between
 * step_min and step_max, 1 in 5 improve the bidder's own price without taking the lead
 * (when it can; else it takes the lead). The auction is re-created every `per` bids so
 * that its bid array stays the size of a long live auction. Only the stream is timed,
 * in thread CPU time. (The clock and sealed-bid formats have streams of their own: see
 * run_dutch, run_japanese, run_sealed.)
 *
 * Output, one line per run:
 *   ENGINE format=english_reverse bidders=1000 bids=2000000 cpu_ms=812 per_core=2463054
 * Usage: engine [-n bids] [-b bidders] [-p per-auction]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auction/auction.h"

/* xorshift64*: a fixed, fast sequence of pseudo-random numbers. */
static uint64_t rng_state = 88172645463325252ULL;

/* The next pseudo-random number. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Thread CPU time in ns. */
static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The next valid bid of the stream: its bidder (1..n, not the leader) and amount. */
static void next_bid(const struct auction *a, const struct auction_format *f, int n,
    int64_t *org, int64_t *amount)
{
	const struct auction_entry *lead = auction_at_rank(a, 1), *own;
	int64_t best = auction_best(a), step;

	do
		*org = 1 + (int64_t)(rng() % (uint64_t)n);
	while (lead != NULL && *org == lead->org);
	own = auction_entry_of(a, *org);
	if (own != NULL && rng() % 5 == 0) {
		/* improve the own price by 1 without taking the lead, when there is room */
		int64_t better = f->higher_wins ? own->amount + 1 : own->amount - 1;

		if (f->higher_wins ? better <= best : better >= best) {
			*amount = better;
			return;
		}
	}
	step = a->p.step_min + (int64_t)(rng() % (uint64_t)(a->p.step_max - a->p.step_min + 1));
	if (best < 0)
		best = a->p.start_price;
	*amount = f->higher_wins ? best + step : best - step;
}

/* A fresh auction of format `f` in which bidders 1..n have bid once each. */
static void setup(struct auction *a, const struct auction_params *p, int n, int64_t *now)
{
	const struct auction_format *f = p->format;

	auction_init(a, 1, p);
	for (int i = 1; i <= n; i++)
		auction_bid(a, i, i, f->higher_wins ? p->start_price + i : p->start_price - i,
		    (*now)++, NULL);
}

/* Print one ENGINE line: `total` bids in `spent` ns of CPU. */
static void report(const char *name, int n, long total, int64_t spent)
{
	printf("ENGINE format=%s bidders=%d bids=%ld cpu_ms=%lld per_core=%lld\n", name, n,
	    total, (long long)(spent / 1000000),
	    (long long)(spent > 0 ? (double)total * 1e9 / (double)spent : 0));
}

/* Run `total` stream bids of format `f` with `n` bidders; prints the ENGINE line; 0 or -1. */
static int run(const struct auction_format *f, int n, long total, long per)
{
	struct auction_params p = {
		.buyer_org = 0, .start_price = f->higher_wins ? 1000 : 4000000000000000000LL,
		.step_min = 1, .step_max = 100, .starts_at = 0, .ends_at = INT64_MAX / 2,
		.ext_window = 120000, .ext_length = 120000, .format = f,
	};
	struct auction a;
	struct auction_events ev;
	int64_t spent = 0, t0, *orgs = malloc((size_t)per * sizeof(*orgs)),
	    *amounts = malloc((size_t)per * sizeof(*amounts));
	long done = 0;

	if (orgs == NULL || amounts == NULL)
		return -1;
	while (done < total) {
		long m = total - done < per ? total - done : per;
		int64_t now = 1, start;

		/* the stream, made on one auction (each bid valid where it falls) ... */
		setup(&a, &p, n, &now);
		start = now;
		for (long k = 0; k < m; k++) {
			next_bid(&a, f, n, &orgs[k], &amounts[k]);
			if (auction_bid(&a, n + 1 + k, orgs[k], amounts[k], now++, NULL) != AUCTION_OK) {
				fprintf(stderr, "engine: %s refused a valid bid\n", f->name);
				return -1;
			}
		}
		auction_free(&a);
		/* ... and replayed, timed, on an identical one */
		now = 1;
		setup(&a, &p, n, &now);
		t0 = cpu_ns();
		for (long k = 0; k < m; k++) {
			ev.n = 0;
			if (auction_bid(&a, n + 1 + k, orgs[k], amounts[k], start + k, &ev) != AUCTION_OK)
				abort();
		}
		spent += cpu_ns() - t0;
		auction_free(&a);
		done += m;
	}
	free(orgs);
	free(amounts);
	report(f->name, n, total, spent);
	return 0;
}

/* Proxy bidding: PROXIES proxies (organizations after the `n` bidders) with floors spread
 * along the price range answer the stream of manual bids; each manual bid is followed by
 * auction_proxy_run, as tenderd does. Counts every bid, manual and automatic. */
#define PROXIES 10

/* Set the proxies of a fresh auction (floors every per * 10 minor units from the start). */
static void proxy_setup(struct auction *a, const struct auction_params *p, int n, long per,
    int64_t *now)
{
	for (int k = 0; k < PROXIES; k++) {
		int64_t d = (int64_t)(k + 1) * per * 10;

		if (auction_proxy_set(a, n + 1 + k, p->format->higher_wins ? p->start_price + d :
		    p->start_price - d, 0, (*now)++, NULL) != AUCTION_OK)
			abort();
	}
}

/* Run `total` manual stream bids of format `f` with proxies; prints the ENGINE line. */
static int run_proxy(const struct auction_format *f, int n, long total, long per)
{
	struct auction_params p = {
		.buyer_org = 0, .start_price = f->higher_wins ? 1000 : 4000000000000000000LL,
		.step_min = 1, .step_max = 100, .starts_at = 0, .ends_at = INT64_MAX / 2,
		.ext_window = 120000, .ext_length = 120000, .format = f,
	};
	struct auction a;
	struct auction_events ev;
	int64_t spent = 0, t0, *orgs = malloc((size_t)per * sizeof(*orgs)),
	    *amounts = malloc((size_t)per * sizeof(*amounts)), auto_id;
	long done = 0, bids = 0;
	char name[64];

	if (orgs == NULL || amounts == NULL)
		return -1;
	while (done < total) {
		long m = total - done < per ? total - done : per;
		int64_t now = 1, start;
		size_t before;

		setup(&a, &p, n, &now);
		proxy_setup(&a, &p, n, per, &now);
		start = now;
		auto_id = 1000000000000LL;
		for (long k = 0; k < m; k++) {
			next_bid(&a, f, n, &orgs[k], &amounts[k]);
			if (auction_bid(&a, n + 1 + k, orgs[k], amounts[k], now++, NULL) != AUCTION_OK) {
				fprintf(stderr, "engine: %s refused a valid bid (proxies)\n", f->name);
				return -1;
			}
			auction_proxy_run(&a, now - 1, &auto_id, NULL);
		}
		auction_free(&a);
		now = 1;
		setup(&a, &p, n, &now);
		proxy_setup(&a, &p, n, per, &now);
		auto_id = 1000000000000LL;
		before = a.nbids;
		t0 = cpu_ns();
		for (long k = 0; k < m; k++) {
			ev.n = 0;
			if (auction_bid(&a, n + 1 + k, orgs[k], amounts[k], start + k, &ev) != AUCTION_OK)
				abort();
			auction_proxy_run(&a, start + k, &auto_id, &ev);
		}
		spent += cpu_ns() - t0;
		bids += (long)(a.nbids - before);
		auction_free(&a);
		done += m;
	}
	free(orgs);
	free(amounts);
	snprintf(name, sizeof(name), "%s+proxy", f->name);
	report(name, n, bids, spent);
	return 0;
}

/* Parameters of a clock auction of `f` with levels enough for any run. */
static struct auction_params clock_params(const struct auction_format *f)
{
	struct auction_params p = {
		.buyer_org = 0, .start_price = f == &auction_dutch_reverse ? 1 : 1000000000000LL,
		.step_min = 1, .step_max = 1, .starts_at = 0, .format = f,
		.clock_step = 1, .clock_interval = 1000000,
		.clock_limit = f == &auction_dutch_reverse ? 1000000000000LL : 1,
	};
	p.ends_at = auction_clock_end(&p);
	if (auction_params_check(&p) != NULL)
		abort();
	return p;
}

/* Dutch: `total` auctions, each accepted by one of `n` bidders at a pseudo-random level
 * (a bid each: init, the accepting bid that closes it, free). */
static int run_dutch(const struct auction_format *f, int n, long total)
{
	struct auction_params p = clock_params(f);
	struct auction a;
	struct auction_clock ck;
	struct auction_events ev;
	int64_t t0 = cpu_ns();

	for (long k = 0; k < total; k++) {
		int64_t now = (int64_t)(rng() % 1000000000ULL);

		auction_init(&a, 1, &p);
		auction_clock(&a, now, 1, &ck);  /* SCHEDULED: no clock; the bid starts it */
		ev.n = 0;
		if (auction_bid(&a, k + 1, 1 + (int64_t)(rng() % (uint64_t)n),
		    f == &auction_dutch_reverse ? 1 + now / 1000000 : 1000000000000LL - now / 1000000,
		    now, &ev) != AUCTION_OK || a.state != AUCTION_CLOSED) {
			fprintf(stderr, "engine: %s refused an acceptance\n", f->name);
			return -1;
		}
		auction_free(&a);
	}
	report(f->name, n, total, cpu_ns() - t0);
	return 0;
}

/* Japanese: `n` bidders confirm every round, in a pseudo-random order; the auction is
 * re-created every `per` bids. */
static int run_japanese(int n, long total, long per)
{
	struct auction_params p = clock_params(&auction_japanese_reverse);
	struct auction a;
	struct auction_events ev;
	int64_t spent = 0, *order = malloc((size_t)n * sizeof(*order));
	long done = 0;

	if (order == NULL)
		return -1;
	while (done < total) {
		long m = total - done < per ? total - done : per, k = 0;

		auction_init(&a, 1, &p);
		for (int64_t r = 0; k < m; r++) {
			for (int i = 0; i < n; i++)
				order[i] = i + 1;
			for (int i = n - 1; i > 0; i--) {
				int j = (int)(rng() % (uint64_t)(i + 1));
				int64_t t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
			int64_t t0 = cpu_ns();
			for (int i = 0; i < n && k < m; i++, k++) {
				ev.n = 0;
				if (auction_bid(&a, done + k + 1, order[i], p.start_price - r,
				    r * p.clock_interval + i, &ev) != AUCTION_OK) {
					fprintf(stderr, "engine: japanese_reverse refused a confirmation\n");
					return -1;
				}
			}
			spent += cpu_ns() - t0;
		}
		auction_free(&a);
		done += m;
	}
	free(order);
	report(auction_japanese_reverse.name, n, total, spent);
	return 0;
}

/*
 * The sealed-bid formats: `n` bidders each submit a sealed price, then a stream of
 * replacements by random bidders at random prices below the start price (up or down, so
 * that an entry moves either way in the ranking); 0 or -1.
 */
static int run_sealed(const struct auction_format *f, int n, long total, long per)
{
	struct auction_params p = {
		.buyer_org = 0, .start_price = 1000000000, .step_min = 1, .step_max = 1,
		.starts_at = 0, .ends_at = INT64_MAX / 2, .format = f,
	};
	struct auction a;
	struct auction_events ev;
	int64_t spent = 0, t0;
	long done = 0;

	while (done < total) {
		long m = total - done < per ? total - done : per;
		int64_t now = 1;

		auction_init(&a, 1, &p);
		for (int i = 1; i <= n; i++)
			if (auction_bid(&a, i, i, 1 + (int64_t)(rng() % 999999999), now++, NULL) !=
			    AUCTION_OK)
				return -1;
		t0 = cpu_ns();
		for (long k = 0; k < m; k++) {
			ev.n = 0;
			if (auction_bid(&a, n + 1 + k, 1 + (int64_t)(rng() % (uint64_t)n),
			    1 + (int64_t)(rng() % 999999999), now++, &ev) != AUCTION_OK)
				abort();
		}
		spent += cpu_ns() - t0;
		auction_free(&a);
		done += m;
	}
	report(f->name, n, total, spent);
	return 0;
}

/*
 * Rounds: min(`n`, AUCTION_ROUNDS_MAX_BIDDERS) bidders place initial bids, then every bidder
 * lowers its own price by a pseudo-random step in its turn of every round, in the order of
 * the round (the turn order is read, untimed, at each round's start); the auction is
 * re-created every `per` bids.
 */
static int run_rounds(int n, long total, long per)
{
	struct auction_params p = {
		.buyer_org = 1000000, .start_price = 1000000000000000LL, .step_min = 1,
		.step_max = 1000, .starts_at = 0, .format = &auction_rounds,
		.rounds_initial = 1000, .rounds_pause = 0, .rounds_turn = 10, .rounds_round_pause = 0,
	};
	int nb = n < AUCTION_ROUNDS_MAX_BIDDERS ? n : AUCTION_ROUNDS_MAX_BIDDERS;
	int64_t spent = 0, *org = malloc((size_t)nb * sizeof(*org));
	int64_t *amt = malloc((size_t)nb * sizeof(*amt));
	struct auction_events ev;
	struct auction_rounds_view v;
	struct auction a;
	long done = 0;

	p.rounds_count = per / nb + 1;
	p.ends_at = auction_rounds_latest_end(&p);
	if (org == NULL || amt == NULL || auction_params_check(&p) != NULL)
		return -1;
	while (done < total) {
		long m = total - done < per ? total - done : per, k = 0;

		auction_init(&a, 1, &p);
		for (int i = 0; i < nb; i++)
			auction_bid(&a, i + 1, i + 1, p.start_price - 1 - (int64_t)(rng() % 1000000), i,
			    NULL);
		for (int64_t r = 0; k < m; r++) {
			int64_t rs = p.rounds_initial + r * nb * p.rounds_turn;

			for (int i = 0; i < nb; i++) {
				auction_rounds_at(&a, rs + i * p.rounds_turn, 0, &v);
				org[i] = v.turn_org;
				amt[i] = auction_entry_of(&a, v.turn_org)->amount - 1 - (int64_t)(rng() % 1000);
			}
			int64_t t0 = cpu_ns();
			for (int i = 0; i < nb && k < m; i++, k++) {
				ev.n = 0;
				if (auction_bid(&a, done + k + 1, org[i], amt[i], rs + i * p.rounds_turn,
				    &ev) != AUCTION_OK) {
					fprintf(stderr, "engine: rounds refused a bid in its turn\n");
					return -1;
				}
			}
			spent += cpu_ns() - t0;
		}
		auction_free(&a);
		done += m;
	}
	free(org);
	free(amt);
	report(auction_rounds.name, nb, total, spent);
	return 0;
}

/* Run every format; see the header comment for the options. */
int main(int argc, char **argv)
{
	long total = 2000000, per = 200000;
	int n = 1000, c;

	while ((c = getopt(argc, argv, "n:b:p:")) != -1) {
		if (c == 'n')
			total = atol(optarg);
		else if (c == 'b')
			n = atoi(optarg);
		else if (c == 'p')
			per = atol(optarg);
		else
			return 2;
	}
	if (total < 1 || n < 2 || per < 1)
		return 2;
	if (run(&auction_english_reverse, n, total, per) < 0 ||
	    run(&auction_english_forward, n, total, per) < 0 ||
	    run_dutch(&auction_dutch_reverse, n, total / 4) < 0 ||
	    run_dutch(&auction_dutch_forward, n, total / 4) < 0 ||
	    run_japanese(n, total, per) < 0 ||
	    run_sealed(&auction_sealed_first_price, n, total, per) < 0 ||
	    run_sealed(&auction_sealed_second_price, n, total, per) < 0 || run_rounds(n, total, per) < 0 ||
	    run_proxy(&auction_english_reverse, n, total, per) < 0 ||
	    run_proxy(&auction_english_forward, n, total, per) < 0)
		return 1;
	return 0;
}
