/*
 * A histogram with fixed bucket bounds (Prometheus style): an observation is one
 * comparison per bound and two additions, no allocation. Values are integers in a
 * unit of the caller's (microseconds, commands); `scale` turns them into the unit
 * printed (1000000: seconds).
 */
#ifndef TENDERD_HIST_H
#define TENDERD_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_MAX_BOUNDS 20

struct hist {
	const int64_t *bounds;     /* upper bounds, increasing; nbounds of them */
	int nbounds;
	int64_t scale;             /* a power of ten */
	uint64_t counts[HIST_MAX_BOUNDS + 1];  /* per bucket, not cumulative; the last: +Inf */
	uint64_t count;
	int64_t sum;
};

/* An empty histogram over `bounds` (at most HIST_MAX_BOUNDS). */
void hist_init(struct hist *h, const int64_t *bounds, int nbounds, int64_t scale);
/* Count one value. */
void hist_observe(struct hist *h, int64_t v);
/* Print `v` / `scale` as a decimal without trailing zeros ("0.00025", "1", "512"). */
void hist_value(int64_t v, int64_t scale, char *out, size_t n);
/* Print the histogram in the Prometheus text format: NAME_bucket{LABELS,le="..."}
 * lines, cumulative, the last le="+Inf", then NAME_sum and NAME_count. `labels` is ""
 * or `key="value"` pairs separated by commas. */
void hist_write(const struct hist *h, FILE *f, const char *name, const char *labels);

#endif
