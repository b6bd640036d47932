/* Unit tests of the Merkle tree arithmetic (common/merkle.c): roots against a
 * direct recursive computation and RFC 6962's published test vector; every
 * inclusion and consistency proof of trees up to 70 leaves verifies, and a
 * changed leaf, path, size or root does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "common/merkle.h"

#define NLEAVES 70

static merkle_hash leaves[NLEAVES];

/* Leaf i: SHA-256(0x00 || "leaf i"). */
static void
make_leaves(void)
{
	for (int i = 0; i < NLEAVES; i++) {
		unsigned char buf[32];
		int n = snprintf((char *)buf + 1, sizeof(buf) - 1, "leaf %d", i);
		buf[0] = 0;
		SHA256(buf, (size_t)n + 1, leaves[i]);
	}
}

/* MTH(D[lo:hi]) straight from the definition. */
static void
mth(uint64_t lo, uint64_t hi, merkle_hash out)
{
	uint64_t k = 1;
	merkle_hash l, r;

	if (hi - lo == 1) {
		memcpy(out, leaves[lo], MERKLE_HASH);
		return;
	}
	while (k << 1 < hi - lo)
		k <<= 1;
	mth(lo, lo + k, l);
	mth(lo + k, hi, r);
	merkle_node(l, r, out);
}

/* The subtree oracle over the leaves array. */
static void
subtree(void *arg, int level, uint64_t index, merkle_hash out)
{
	(void)arg;
	mth(index << level, (index + 1) << level, out);
}

static void
test_frontier_roots(void **state)
{
	struct merkle_frontier f;
	merkle_hash a, b;

	(void)state;
	make_leaves();
	merkle_frontier_init(&f);
	merkle_frontier_root(&f, a);
	merkle_empty(b);
	assert_memory_equal(a, b, MERKLE_HASH);
	for (int n = 1; n <= NLEAVES; n++) {
		merkle_frontier_add(&f, leaves[n - 1]);
		merkle_frontier_root(&f, a);
		mth(0, (uint64_t)n, b);
		assert_memory_equal(a, b, MERKLE_HASH);
		merkle_range(subtree, NULL, 0, (uint64_t)n, b);
		assert_memory_equal(a, b, MERKLE_HASH);
	}
}

/* RFC 6962's test data (as in the certificate-transparency reference code). */
static void
test_rfc6962_vector(void **state)
{
	static const char *data[8] = { "", "\x00", "\x10", "\x20\x21", "\x30\x31",
	    "\x40\x41\x42\x43", "\x50\x51\x52\x53\x54\x55\x56\x57",
	    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f" };
	static const size_t len[8] = { 0, 1, 1, 2, 2, 4, 8, 16 };
	struct merkle_frontier f;
	merkle_hash h, root1;
	char hex[65];

	(void)state;
	merkle_frontier_init(&f);
	for (int i = 0; i < 8; i++) {
		unsigned char buf[17];
		buf[0] = 0;
		memcpy(buf + 1, data[i], len[i]);
		SHA256(buf, len[i] + 1, h);
		merkle_frontier_add(&f, h);
		if (i == 0) {
			merkle_frontier_root(&f, root1);
			merkle_hex(root1, hex);
			assert_string_equal(hex,
			    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
		}
	}
	merkle_frontier_root(&f, h);
	merkle_hex(h, hex);
	assert_string_equal(hex, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
	assert_int_equal(merkle_unhex(hex, root1), 0);
	assert_memory_equal(root1, h, MERKLE_HASH);
	assert_int_equal(merkle_unhex("zz", root1), -1);
}

static void
test_inclusion(void **state)
{
	merkle_hash path[MERKLE_MAX_PATH], root, bad;

	(void)state;
	make_leaves();
	for (uint64_t size = 1; size <= NLEAVES; size++) {
		mth(0, size, root);
		for (uint64_t i = 0; i < size; i++) {
			int n = merkle_inclusion_proof(subtree, NULL, i, size, path);
			assert_true(n >= 0);
			assert_true(merkle_verify_inclusion(i, size, leaves[i], (const merkle_hash *)path,
			    (size_t)n, root));
			/* another leaf, another index, a shorter path or a longer tree fail */
			assert_false(merkle_verify_inclusion(i, size, leaves[(i + 1) % NLEAVES],
			    (const merkle_hash *)path, (size_t)n, root));
			if (size > 1)
				assert_false(merkle_verify_inclusion((i + 1) % size, size, leaves[i],
				    (const merkle_hash *)path, (size_t)n, root));
			if (n > 0) {
				assert_false(merkle_verify_inclusion(i, size, leaves[i],
				    (const merkle_hash *)path, (size_t)n - 1, root));
				memcpy(bad, path[n - 1], MERKLE_HASH);
				path[n - 1][0] ^= 1;
				assert_false(merkle_verify_inclusion(i, size, leaves[i],
				    (const merkle_hash *)path, (size_t)n, root));
				memcpy(path[n - 1], bad, MERKLE_HASH);
			}
			if (size < NLEAVES) {
				/* the path of a smaller tree against the root of a larger one */
				mth(0, size + 1, bad);
				assert_false(merkle_verify_inclusion(i, size + 1, leaves[i],
				    (const merkle_hash *)path, (size_t)n, bad));
			}
		}
		assert_int_equal(merkle_inclusion_proof(subtree, NULL, size, size, path), -1);
	}
}

static void
test_consistency(void **state)
{
	merkle_hash proof[MERKLE_MAX_PATH], r1, r2;

	(void)state;
	make_leaves();
	for (uint64_t s2 = 1; s2 <= NLEAVES; s2++) {
		mth(0, s2, r2);
		for (uint64_t s1 = 1; s1 <= s2; s1++) {
			int n = merkle_consistency_proof(subtree, NULL, s1, s2, proof);
			mth(0, s1, r1);
			assert_true(n >= 0);
			assert_true(merkle_verify_consistency(s1, s2, r1, r2,
			    (const merkle_hash *)proof, (size_t)n));
			if (s1 < s2) {
				merkle_hash other;
				mth(1, s1 + 1, other);   /* a tree that is not the prefix */
				assert_false(merkle_verify_consistency(s1, s2, other, r2,
				    (const merkle_hash *)proof, (size_t)n));
				proof[0][5] ^= 0x40;
				assert_false(merkle_verify_consistency(s1, s2, r1, r2,
				    (const merkle_hash *)proof, (size_t)n));
				proof[0][5] ^= 0x40;
				if (s2 < NLEAVES) {
					merkle_hash r3;
					mth(0, s2 + 1, r3);
					assert_false(merkle_verify_consistency(s1, s2 + 1, r1, r3,
					    (const merkle_hash *)proof, (size_t)n));
				}
			}
		}
	}
	assert_int_equal(merkle_consistency_proof(subtree, NULL, 0, 5, proof), -1);
	assert_int_equal(merkle_consistency_proof(subtree, NULL, 6, 5, proof), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontier_roots),
		cmocka_unit_test(test_rfc6962_vector),
		cmocka_unit_test(test_inclusion),
		cmocka_unit_test(test_consistency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
