/* The stall probe (probe.c). */
#ifndef TENDERD_BENCH_PROBE_H
#define TENDERD_BENCH_PROBE_H

struct opts;

int probe_run(const struct opts *o);

#endif
