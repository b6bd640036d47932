/*
 * Merkle trees in the manner of RFC 6962 / RFC 9162 (section 2.1): SHA-256,
 * leaf hashes SHA-256(0x00 || leaf), node hashes SHA-256(0x01 || left || right),
 * the tree over n leaves split at the largest power of two below n.
 *
 * The log of every change is such a tree, one leaf per row of `changes` in seq
 * order (docs/trust.md). This module holds the arithmetic shared by the
 * server (which builds the tree and its proofs), tenderctl (which checks
 * proofs offline) and `tenderd verify` (which recomputes roots): no I/O, no
 * allocation.
 */
#ifndef TENDERD_MERKLE_H
#define TENDERD_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH 32
/* Most hashes in a frontier, an inclusion proof or a consistency proof of a
 * tree of fewer than 2^63 leaves. */
#define MERKLE_MAX_PATH 64

typedef uint8_t merkle_hash[MERKLE_HASH];

/* SHA-256(0x01 || left || right). */
void merkle_node(const merkle_hash left, const merkle_hash right, merkle_hash out);
/* The root of the empty tree: SHA-256 of nothing. */
void merkle_empty(merkle_hash out);

/*
 * The root of a growing tree without keeping its leaves: the hashes of its
 * complete subtrees, largest (leftmost) first. Leaves are added in order; the
 * root of the first `size` leaves is known after each addition.
 */
struct merkle_frontier {
	uint64_t size;
	int n;                               /* subtrees held */
	uint8_t height[MERKLE_MAX_PATH];     /* each subtree has 2^height leaves */
	merkle_hash h[MERKLE_MAX_PATH];
};

void merkle_frontier_init(struct merkle_frontier *f);
void merkle_frontier_add(struct merkle_frontier *f, const merkle_hash leaf);
/* The root of the leaves added so far (merkle_empty() for none). */
void merkle_frontier_root(const struct merkle_frontier *f, merkle_hash out);

/*
 * Proofs from a tree whose complete subtrees can be looked up: `fn` gives the
 * hash of the subtree of 2^level leaves starting at leaf index << level (level
 * 0: the leaf hash itself). Both return the number of hashes written to `out`
 * (at most MERKLE_MAX_PATH), or -1 for arguments out of range.
 */
typedef void (*merkle_subtree_fn)(void *arg, int level, uint64_t index, merkle_hash out);

/* The hash of leaves [lo, hi) (RFC 9162 MTH; lo must be the start of the
 * subtree the RFC's recursion would visit, as in the two proofs below). */
void merkle_range(merkle_subtree_fn fn, void *arg, uint64_t lo, uint64_t hi, merkle_hash out);
/* The inclusion proof (audit path) of leaf `index` in the tree of its first
 * `size` leaves, deepest sibling first (RFC 9162 2.1.3.1). */
int merkle_inclusion_proof(merkle_subtree_fn fn, void *arg, uint64_t index, uint64_t size,
    merkle_hash *out);
/* The consistency proof between the trees of the first `size1` and `size2`
 * leaves, 0 < size1 <= size2 (RFC 9162 2.1.4.1). */
int merkle_consistency_proof(merkle_subtree_fn fn, void *arg, uint64_t size1, uint64_t size2,
    merkle_hash *out);

/* RFC 9162 2.1.3.2: 1 when `path` proves leaf `index` with hash `leaf` is in
 * the tree of `size` leaves whose root is `root`, else 0. */
int merkle_verify_inclusion(uint64_t index, uint64_t size, const merkle_hash leaf,
    const merkle_hash *path, size_t npath, const merkle_hash root);
/* RFC 9162 2.1.4.2: 1 when `proof` proves the tree of `size1` leaves (root1)
 * is a prefix of the tree of `size2` leaves (root2), else 0. */
int merkle_verify_consistency(uint64_t size1, uint64_t size2, const merkle_hash root1,
    const merkle_hash root2, const merkle_hash *proof, size_t nproof);

/* Lower-case hex of a hash (65 bytes with the NUL); parse it back (-1: not 64 hex digits). */
void merkle_hex(const merkle_hash h, char out[2 * MERKLE_HASH + 1]);
int merkle_unhex(const char *s, merkle_hash out);
/* The value of one hex digit (either case), -1 for another character. */
int merkle_hexval(char c);

#endif
