/* The bidding mode (bid.c). */
#ifndef TENDERD_BENCH_BID_H
#define TENDERD_BENCH_BID_H

struct opts;

int bid_run(const struct opts *o);

#endif
