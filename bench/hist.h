/* Log-linear latency histogram in microseconds (hist.c). */
#ifndef TENDERD_BENCH_HIST_H
#define TENDERD_BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_BUCKETS 2560

/* Microsecond values; about 1.6% resolution above 128 us. */
struct hist {
	uint64_t n, max, min, sum;
	uint64_t b[HIST_BUCKETS];
};
void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* The value below which num/den of the samples fall (bucket upper bound, at most max). */
uint64_t hist_quantile(const struct hist *h, uint64_t num, uint64_t den);
/* "p50=.. p90=.. p99=.. p99.9=.. max=.." into buf. */
void hist_summary(const struct hist *h, char *buf, size_t n);

#endif
