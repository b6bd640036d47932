/* Latency histogram: exact below 128 us, then 64 buckets per power of two
 * (about 1.6% resolution), integer arithmetic only. */
#include <stdio.h>
#include <string.h>

#include "bench/hist.h"

/* Bucket index of a value. */
static size_t
hist_index(uint64_t v)
{
	int msb;
	size_t i;

	if (v < 128)
		return (size_t)v;
	msb = 63 - __builtin_clzll(v);
	i = 128 + (size_t)(msb - 7) * 64 + (size_t)((v >> (msb - 6)) & 63);
	return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* Largest value that falls into bucket i. */
static uint64_t
hist_upper(size_t i)
{
	int msb;
	uint64_t sub;

	if (i < 128)
		return i;
	msb = 7 + (int)((i - 128) / 64);
	sub = (i - 128) % 64;
	return ((64 + sub + 1) << (msb - 6)) - 1;
}

/* Empty the histogram. */
void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* Record one value. */
void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

/* The value at quantile num/den (rounded up to its bucket's upper bound). */
uint64_t
hist_quantile(const struct hist *h, uint64_t num, uint64_t den)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	/* the smallest value v with at least ceil(n * num / den) samples <= v */
	want = (h->n * num + den - 1) / den;
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t u = hist_upper(i);
			return u < h->max ? u : h->max;
		}
	}
	return h->max;
}

/* One-line summary of the usual quantiles. */
void
hist_summary(const struct hist *h, char *buf, size_t n)
{
	snprintf(buf, n, "n=%llu p50=%llu p90=%llu p99=%llu p99.9=%llu max=%llu mean=%llu",
	    (unsigned long long)h->n, (unsigned long long)hist_quantile(h, 50, 100),
	    (unsigned long long)hist_quantile(h, 90, 100), (unsigned long long)hist_quantile(h, 99, 100),
	    (unsigned long long)hist_quantile(h, 999, 1000), (unsigned long long)h->max,
	    (unsigned long long)(h->n ? h->sum / h->n : 0));
}
