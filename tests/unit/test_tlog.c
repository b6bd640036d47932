/* Unit tests of the tree in memory (server/tlog.c): for every size up to 300 leaves its
 * root is the frontier's (common/merkle.c), every inclusion proof of every leaf and every
 * consistency proof from every smaller size verifies against the roots; appending checks
 * the seq; heads are kept by size; a signed head's bytes are the documented ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "server/tlog.h"

#define N 300

static merkle_hash leaves[N];

/* Leaf i: SHA-256 of "leaf i". */
static void
make_leaves(void)
{
	for (int i = 0; i < N; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "leaf %d", i);
		SHA256((const unsigned char *)buf, (size_t)n, leaves[i]);
	}
}

static void
test_roots_and_proofs(void **state)
{
	struct tlog *t = tlog_new();
	struct merkle_frontier f;
	static merkle_hash roots[N + 1];
	merkle_hash path[MERKLE_MAX_PATH], r;

	(void)state;
	make_leaves();
	merkle_frontier_init(&f);
	merkle_empty(roots[0]);
	for (int i = 0; i < N; i++) {
		assert_int_equal(tlog_append(t, i + 1, leaves[i]), 0);
		merkle_frontier_add(&f, leaves[i]);
		merkle_frontier_root(&f, roots[i + 1]);
	}
	assert_int_equal(tlog_size(t), N);
	for (int size = 0; size <= N; size++) {
		tlog_root(t, size, r);
		assert_memory_equal(r, roots[size], MERKLE_HASH);
	}
	for (int size = 1; size <= N; size += 7) {
		for (int seq = 1; seq <= size; seq++) {
			int n = tlog_inclusion(t, seq, size, path);
			assert_true(n >= 0);
			assert_true(merkle_verify_inclusion((uint64_t)seq - 1, (uint64_t)size, leaves[seq - 1],
			    (const merkle_hash *)path, (size_t)n, roots[size]));
		}
		for (int from = 1; from <= size; from++) {
			int n = tlog_consistency(t, from, size, path);
			assert_true(n >= 0);
			assert_true(merkle_verify_consistency((uint64_t)from, (uint64_t)size, roots[from],
			    roots[size], (const merkle_hash *)path, (size_t)n));
		}
	}
	/* out of range */
	assert_int_equal(tlog_inclusion(t, 0, 10, path), -1);
	assert_int_equal(tlog_inclusion(t, 11, 10, path), -1);
	assert_int_equal(tlog_inclusion(t, 1, N + 1, path), -1);
	assert_int_equal(tlog_consistency(t, 11, 10, path), -1);
	assert_int_equal(tlog_consistency(t, 0, 10, path), -1);
	assert_int_equal(tlog_consistency(t, 1, N + 1, path), -1);
	tlog_free(t);
}

static void
test_append_order(void **state)
{
	struct tlog *t = tlog_new();
	merkle_hash h;

	(void)state;
	make_leaves();
	assert_int_equal(tlog_append(t, 2, leaves[1]), -1);  /* a gap */
	assert_int_equal(tlog_append(t, 1, leaves[0]), 0);
	assert_int_equal(tlog_append(t, 1, leaves[5]), 0);   /* already in: ignored */
	assert_int_equal(tlog_size(t), 1);
	assert_int_equal(tlog_leaf(t, 1, h), 0);
	assert_memory_equal(h, leaves[0], MERKLE_HASH);
	assert_int_equal(tlog_leaf(t, 2, h), -1);
	assert_int_equal(tlog_set_content(t, 1, leaves[9]), 0);
	assert_int_equal(tlog_take_content(t, 1, h), 0);
	assert_memory_equal(h, leaves[9], MERKLE_HASH);
	assert_int_equal(tlog_take_content(t, 1, h), -1);    /* taken once */
	tlog_free(t);
}

static void
test_heads(void **state)
{
	struct tlog *t = tlog_new();
	struct tlog_head h = { 0 };
	char text[256];
	size_t len;

	(void)state;
	assert_null(tlog_latest(t));
	for (int64_t size = 3; size <= 30; size += 3) {
		h.size = size;
		assert_int_equal(tlog_add_head(t, &h), 0);
	}
	h.size = 30;
	assert_int_equal(tlog_add_head(t, &h), -1);          /* not above the latest */
	assert_int_equal(tlog_latest(t)->size, 30);
	assert_int_equal(tlog_head_of(t, 12)->size, 12);
	assert_null(tlog_head_of(t, 13));
	assert_null(tlog_head_of(t, 31));
	/* no key loaded: nothing is signed */
	assert_int_equal(tlog_sign(t, 0, 1, &h), -1);
	memset(h.root, 0xab, MERKLE_HASH);
	h.size = 7;
	h.at = 1764871200123;
	len = tlog_head_text(&h, text, sizeof(text));
	assert_int_equal(len, strlen(text));
	assert_string_equal(text, "tenderd tree head v1\nsize 7\nroot "
	    "abababababababababababababababababababababababababababababababab\ntime 1764871200123\n");
	tlog_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roots_and_proofs),
		cmocka_unit_test(test_append_order),
		cmocka_unit_test(test_heads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
