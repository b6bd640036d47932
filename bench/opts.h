/* The load generator's options, parsed by loadgen.c and read by every mode. */
#ifndef TENDERD_BENCH_OPTS_H
#define TENDERD_BENCH_OPTS_H

#include <stdint.h>

struct opts {
	const char *server, *ca, *certs, *prefix;
	const char *buyer_cert, *buyer_key, *watcher_cert, *watcher_key;
	const char *auction_ids;
	int first;                    /* first bulk certificate number */
	int conns, auctions, watchers, idle, handshakes, resume;
	int64_t rate;                 /* bids per second in total, 0 = closed loop */
	int duration, warmup, connect_timeout, retry_ms, concurrency;
	int server_pid, pg_pid;
	int auction_duration;
	const char *start_price, *step_min, *step_max;
	int timeline_ms;              /* bid mode: per-slice latency report, 0 = none */
	int stall_probe;              /* probe mode */
	int procedures;               /* procurement mode: procedures to create */
	int question_gap_ms;          /* procurement mode: ms between one supplier's questions */
	int withdraw_every;           /* procurement mode: every Nth offer operation withdraws */
	int enquiry_s;                /* procurement mode: s until tendering procedures open */
	int quiet;
	int signed_bids;              /* bid mode: bids are signed (auctions with signed_bids) */
};

#endif
