/*
 * Reading operations out of a fuzz input: a cursor over the bytes that
 * yields zeros once they run out, values biased towards the edges that
 * matter (0, 1, small, the int64 and money limits), and saturating
 * arithmetic so that the harness itself never overflows.
 */
#ifndef TENDERD_FUZZ_INPUT_H
#define TENDERD_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/money.h"

struct fin {
	const uint8_t *p;
	size_t n;
};

/* Whether input is left. */
static inline int
fin_more(const struct fin *in)
{
	return in->n > 0;
}

/* Next byte, 0 when the input is used up. */
static inline uint8_t
fin_u8(struct fin *in)
{
	uint8_t b = 0;

	if (in->n > 0) {
		b = in->p[0];
		in->p++;
		in->n--;
	}
	return b;
}

/* Next `k` bytes (at most 8) as an unsigned little-endian number. */
static inline uint64_t
fin_bytes(struct fin *in, int k)
{
	uint64_t v = 0;

	for (int i = 0; i < k; i++)
		v |= (uint64_t)fin_u8(in) << (8 * i);
	return v;
}

/* a + b, clamped to the int64 range. */
static inline int64_t
sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* a - b, clamped to the int64 range. */
static inline int64_t
sat_sub(int64_t a, int64_t b)
{
	if (b == INT64_MIN)
		return a >= 0 ? INT64_MAX : a - INT64_MIN;
	return sat_add(a, -b);
}

/* An int64 drawn towards the edges: small, 16/32/64-bit, near the limits. */
static inline int64_t
fin_i64(struct fin *in)
{
	uint8_t mode = fin_u8(in);

	switch (mode % 10) {
	case 0:  return (int64_t)fin_u8(in);
	case 1:  return (int64_t)fin_bytes(in, 2);
	case 2:  return (int64_t)fin_bytes(in, 4);
	case 3:  return (int64_t)fin_bytes(in, 8);
	case 4:  return INT64_MAX - (int64_t)fin_u8(in);
	case 5:  return INT64_MIN + (int64_t)fin_u8(in);
	case 6:  return MONEY_MAX - (int64_t)fin_u8(in);
	case 7:  return -(int64_t)fin_u8(in);
	case 8:  return (int64_t)fin_bytes(in, 3) * 1000;   /* whole seconds, as the server uses */
	default: return (int64_t)(mode / 10);              /* 0..25 */
	}
}

/* A non-negative int64 drawn towards the edges. */
static inline int64_t
fin_nonneg(struct fin *in)
{
	int64_t v = fin_i64(in);

	return v < 0 ? (v == INT64_MIN ? 0 : -v) : v;
}

#endif
