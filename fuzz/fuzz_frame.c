/*
 * Fuzz target: line framing (server/frame.c), linked alone.
 *
 * Input: byte 0 picks max_line (1..256, so the bounds are reached with short
 * inputs), byte 1 seeds how the rest is cut into reads; the rest is the byte
 * stream a client sends. The stream is framed twice, as conn.c does it (the
 * window from the first LF, frame_next on exactly the window's bytes in their
 * own allocation, so a read past them is an ASan report): once as one read,
 * once in reads of varying sizes. Checked after every step:
 *  - a line has no LF, at most max_line bytes, ends where its LF is (one CR
 *    right before the LF dropped), and the lines with their terminators
 *    rebuild the consumed input byte for byte;
 *  - "more" only when the input has no LF and at most max_line + 1 bytes;
 *    "too long" only when the first line (or LF-less input) is over the bound;
 *  - the window never exceeds max_line + 2 bytes;
 *  - how the stream is cut into reads changes nothing: same lines, same end.
 * Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one framing run produced: a hash of the lines, their count, the end. */
struct outcome {
	uint64_t hash;
	size_t nlines;
	size_t consumed;
	enum frame_status end;
};

/* Stop the run with a message: the fuzzer reports the input. */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_frame: invariant violated: %s\n", what);
	abort();
}

/* Mix bytes into a running FNV-1a hash. */
static uint64_t
mix(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
	return h;
}

/* Check one framing decision on buf[0..avail) against the rules in frame.h. */
static void
check_step(const char *buf, size_t avail, size_t max, enum frame_status st, const struct frame *f,
    size_t window)
{
	const char *lf = memchr(buf, '\n', avail);
	size_t pos = lf ? (size_t)(lf - buf) : 0;

	if (window > max + 2 || window > avail)
		fail("window beyond max_line + 2 or the input");
	switch (st) {
	case FRAME_MORE:
		if (lf != NULL || avail > max + 1)
			fail("waiting although a line or an overlong input is there");
		break;
	case FRAME_TOO_LONG:
		if (lf == NULL ? avail <= max + 1
		    : pos - (pos > 0 && buf[pos - 1] == '\r') <= max)
			fail("refused a line within max_line");
		break;
	case FRAME_LINE:
		if (lf == NULL || f->used != pos + 1)
			fail("line does not end at the first LF");
		if (f->len > max)
			fail("line longer than max_line");
		if (f->len != pos && !(f->len + 1 == pos && buf[pos - 1] == '\r'))
			fail("line length is not up to the LF less one CR");
		if (f->len == pos && pos > 0 && buf[pos - 1] == '\r')
			fail("CR before LF kept in the line");
		break;
	default:
		fail("unknown status");
	}
}

/* Frame stream[0..n) as conn.c does, fed in reads cut by `seed` (0: one read). */
static void
run(const char *stream, size_t n, size_t max, unsigned seed, struct outcome *o)
{
	char *in = malloc(n + 1);   /* the connection's input buffer */
	size_t have = 0, fed = 0, start = 0;
	enum frame_status st = FRAME_MORE;

	memset(o, 0, sizeof(*o));
	o->hash = 1469598103934665603ULL;
	while (st != FRAME_TOO_LONG) {
		if (st == FRAME_MORE) {
			size_t chunk = seed ? 1 + (seed * (fed + 7)) % 23 : n;

			if (fed == n)
				break;
			if (chunk > n - fed)
				chunk = n - fed;
			memcpy(in + have, stream + fed, chunk);
			have += chunk;
			fed += chunk;
		}
		{
			const char *lf = memchr(in + start, '\n', have - start);
			size_t avail = have - start;
			size_t w = frame_window(lf ? lf - (in + start) : -1, avail, max);
			char *win = w ? malloc(w) : NULL;   /* exactly what conn.c pulls up */
			struct frame f = { 0, 0 };

			if (w > avail)
				fail("window beyond the input");
			if (w)
				memcpy(win, in + start, w);
			st = frame_next(win, w, max, &f);
			check_step(in + start, avail, max, st, &f, w);
			if (st == FRAME_LINE) {
				if (memcmp(win, in + start, f.len) != 0)
					fail("line bytes differ from the input");
				o->hash = mix(o->hash, in + start, f.len);
				o->hash = mix(o->hash, "\n", 1);
				o->nlines++;
				start += f.used;
				o->consumed = start;
			}
			free(win);
		}
	}
	o->end = st;
	free(in);
}

/* One input: frame it in one read and in small reads; both must agree. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, pieces;
	size_t max;

	if (size < 2)
		return 0;
	max = 1 + (size_t)data[0];
	run((const char *)data + 2, size - 2, max, 0, &whole);
	run((const char *)data + 2, size - 2, max, 1 + data[1], &pieces);
	if (whole.hash != pieces.hash || whole.nlines != pieces.nlines ||
	    whole.consumed != pieces.consumed || whole.end != pieces.end)
		fail("cutting the stream into reads changed the lines");
	if (whole.end != FRAME_TOO_LONG && whole.consumed + max + 2 < size - 2)
		fail("input left over that is neither a line nor refused");
	return 0;
}
