/* Merkle tree arithmetic of RFC 9162 (see merkle.h). */
#include "common/merkle.h"

#include <string.h>

#include <openssl/sha.h>

/* See merkle.h. */
void
merkle_node(const merkle_hash left, const merkle_hash right, merkle_hash out)
{
	uint8_t buf[1 + 2 * MERKLE_HASH];

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, right, MERKLE_HASH);
	SHA256(buf, sizeof(buf), out);
}

/* See merkle.h. */
void
merkle_empty(merkle_hash out)
{
	SHA256((const unsigned char *)"", 0, out);
}

/* See merkle.h. */
void
merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

/* Push the leaf, then merge the two rightmost subtrees while they are the same
 * height: the subtrees left are the binary digits of `size`. */
void
merkle_frontier_add(struct merkle_frontier *f, const merkle_hash leaf)
{
	memcpy(f->h[f->n], leaf, MERKLE_HASH);
	f->height[f->n] = 0;
	f->n++;
	while (f->n >= 2 && f->height[f->n - 1] == f->height[f->n - 2]) {
		merkle_node(f->h[f->n - 2], f->h[f->n - 1], f->h[f->n - 2]);
		f->height[f->n - 2]++;
		f->n--;
	}
	f->size++;
}

/* Fold the subtrees from the right: the RFC splits at the largest power of two,
 * which is the leftmost subtree, and so on down. */
void
merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out)
{
	merkle_hash r;

	if (f->n == 0) {
		merkle_empty(out);
		return;
	}
	memcpy(r, f->h[f->n - 1], MERKLE_HASH);
	for (int i = f->n - 2; i >= 0; i--)
		merkle_node(f->h[i], r, r);
	memcpy(out, r, MERKLE_HASH);
}

/* The largest power of two below n (n >= 2). */
static uint64_t
split(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

/* See merkle.h. */
void
merkle_range(merkle_subtree_fn fn, void *arg, uint64_t lo, uint64_t hi, merkle_hash out)
{
	uint64_t n = hi - lo, k;
	merkle_hash l, r;

	if ((n & (n - 1)) == 0 && lo % n == 0) {
		int level = 0;
		while (((uint64_t)1 << level) < n)
			level++;
		fn(arg, level, lo >> level, out);
		return;
	}
	k = split(n);
	merkle_range(fn, arg, lo, lo + k, l);
	merkle_range(fn, arg, lo + k, hi, r);
	merkle_node(l, r, out);
}

/* PATH(m, D[lo:hi]), appended to out[*n] (RFC 9162 2.1.3.1). */
static void
path(merkle_subtree_fn fn, void *arg, uint64_t m, uint64_t lo, uint64_t hi, merkle_hash *out,
    int *n)
{
	uint64_t k;

	if (hi - lo <= 1)
		return;
	k = split(hi - lo);
	if (m < k) {
		path(fn, arg, m, lo, lo + k, out, n);
		merkle_range(fn, arg, lo + k, hi, out[(*n)++]);
	} else {
		path(fn, arg, m - k, lo + k, hi, out, n);
		merkle_range(fn, arg, lo, lo + k, out[(*n)++]);
	}
}

/* See merkle.h. */
int
merkle_inclusion_proof(merkle_subtree_fn fn, void *arg, uint64_t index, uint64_t size,
    merkle_hash *out)
{
	int n = 0;

	if (index >= size)
		return -1;
	path(fn, arg, index, 0, size, out, &n);
	return n;
}

/* SUBPROOF(m, D[lo:hi], b), appended to out[*n] (RFC 9162 2.1.4.1). */
static void
subproof(merkle_subtree_fn fn, void *arg, uint64_t m, uint64_t lo, uint64_t hi, int b,
    merkle_hash *out, int *n)
{
	uint64_t k;

	if (m == hi - lo) {
		if (!b)
			merkle_range(fn, arg, lo, hi, out[(*n)++]);
		return;
	}
	k = split(hi - lo);
	if (m <= k) {
		subproof(fn, arg, m, lo, lo + k, b, out, n);
		merkle_range(fn, arg, lo + k, hi, out[(*n)++]);
	} else {
		subproof(fn, arg, m - k, lo + k, hi, 0, out, n);
		merkle_range(fn, arg, lo, lo + k, out[(*n)++]);
	}
}

/* See merkle.h. */
int
merkle_consistency_proof(merkle_subtree_fn fn, void *arg, uint64_t size1, uint64_t size2,
    merkle_hash *out)
{
	int n = 0;

	if (size1 == 0 || size1 > size2)
		return -1;
	subproof(fn, arg, size1, 0, size2, 1, out, &n);
	return n;
}

/* See merkle.h. */
int
merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash leaf,
    const merkle_hash *p, size_t np, const merkle_hash root)
{
	uint64_t fn = index, sn = size - 1;
	merkle_hash r;

	if (index >= size)
		return 0;
	memcpy(r, leaf, MERKLE_HASH);
	for (size_t i = 0; i < np; i++) {
		if (sn == 0)
			return 0;
		if ((fn & 1) || fn == sn) {
			merkle_node(p[i], r, r);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			merkle_node(r, p[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, MERKLE_HASH) == 0;
}

/* See merkle.h. */
int
merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash root1,
    const merkle_hash root2, const merkle_hash *proof, size_t np)
{
	merkle_hash fr, sr;
	uint64_t fn, sn;
	size_t i = 0;

	if (size1 == 0 || size1 > size2)
		return 0;
	if (size1 == size2)
		return np == 0 && memcmp(root1, root2, MERKLE_HASH) == 0;
	if (np == 0)
		return 0;
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	/* size1 a power of two: the proof starts with the first tree's root itself */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, MERKLE_HASH);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH);
	for (; i < np; i++) {
		if (sn == 0)
			return 0;
		if ((fn & 1) || fn == sn) {
			merkle_node(proof[i], fr, fr);
			merkle_node(proof[i], sr, sr);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			merkle_node(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, root1, MERKLE_HASH) == 0 &&
	    memcmp(sr, root2, MERKLE_HASH) == 0;
}

/* See merkle.h. */
void
merkle_hex(const merkle_hash h, char out[2 * MERKLE_HASH + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < MERKLE_HASH; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[2 * MERKLE_HASH] = '\0';
}

/* See merkle.h. */
int
merkle_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* See merkle.h. */
int
merkle_unhex(const char *s, merkle_hash out)
{
	for (int i = 0; i < MERKLE_HASH; i++) {
		int hi = merkle_hexval(s[2 * i]), lo = hi < 0 ? -1 : merkle_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[2 * MERKLE_HASH] == '\0' ? 0 : -1;
}
