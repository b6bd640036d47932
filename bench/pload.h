/* The procurement mode (pload.c). */
#ifndef TENDERD_BENCH_PLOAD_H
#define TENDERD_BENCH_PLOAD_H

struct opts;

int pload_run(const struct opts *o);

#endif
