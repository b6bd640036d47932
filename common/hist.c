#include "common/hist.h"

#include <string.h>

/* An empty histogram. */
void
hist_init(struct hist *h, const int64_t *bounds, int nbounds, int64_t scale)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = nbounds > HIST_MAX_BOUNDS ? HIST_MAX_BOUNDS : nbounds;
	h->scale = scale > 0 ? scale : 1;
}

/* Count one value in the first bucket whose bound is not below it. */
void
hist_observe(struct hist *h, int64_t v)
{
	int i = 0;

	while (i < h->nbounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

/* A scaled value as a short decimal. */
void
hist_value(int64_t v, int64_t scale, char *out, size_t n)
{
	int digits = 0;
	int64_t a = v < 0 ? -v : v;
	size_t len;

	for (int64_t x = scale; x > 1 && digits < 18; x /= 10)
		digits++;
	if (digits == 0) {
		snprintf(out, n, "%lld", (long long)v);
		return;
	}
	snprintf(out, n, "%s%lld.%0*lld", v < 0 ? "-" : "", (long long)(a / scale), digits,
	    (long long)(a % scale));
	len = strlen(out);
	while (len > 0 && out[len - 1] == '0')
		out[--len] = '\0';
	if (len > 0 && out[len - 1] == '.')
		out[--len] = '\0';
}

/* The cumulative buckets, the sum and the count. */
void
hist_write(const struct hist *h, FILE *f, const char *name, const char *labels)
{
	const char *sep = labels[0] ? "," : "";
	uint64_t cum = 0;
	char le[32];

	for (int i = 0; i < h->nbounds; i++) {
		cum += h->counts[i];
		hist_value(h->bounds[i], h->scale, le, sizeof(le));
		fprintf(f, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, le,
		    (unsigned long long)cum);
	}
	cum += h->counts[h->nbounds];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
	hist_value(h->sum, h->scale, le, sizeof(le));
	fprintf(f, labels[0] ? "%s_sum{%s} %s\n" : "%s_sum%s %s\n", name, labels, le);
	fprintf(f, labels[0] ? "%s_count{%s} %llu\n" : "%s_count%s %llu\n", name, labels,
	    (unsigned long long)h->count);
}
