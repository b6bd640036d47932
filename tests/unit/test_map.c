/* Unit tests of the hash maps (common/map.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/map.h"

static void
test_int_keys(void **state)
{
	struct map m;
	static int vals[5000];

	(void)state;
	map_init(&m, 0);
	assert_null(map_get(&m, 1));
	for (int i = 0; i < 5000; i++)
		assert_int_equal(map_put(&m, (int64_t)i * 7919 - 100000, &vals[i]), 0);
	assert_int_equal(m.len, 5000);
	for (int i = 0; i < 5000; i++)
		assert_ptr_equal(map_get(&m, (int64_t)i * 7919 - 100000), &vals[i]);
	/* remove every other one, then insert again: tombstones are reused */
	for (int i = 0; i < 5000; i += 2)
		assert_ptr_equal(map_del(&m, (int64_t)i * 7919 - 100000), &vals[i]);
	assert_int_equal(m.len, 2500);
	for (int i = 0; i < 5000; i++)
		assert_ptr_equal(map_get(&m, (int64_t)i * 7919 - 100000), i % 2 ? &vals[i] : NULL);
	assert_null(map_del(&m, 123456789));
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 5000; i += 2)
			assert_int_equal(map_put(&m, (int64_t)i * 7919 - 100000, &vals[i]), 0);
		for (int i = 0; i < 5000; i += 2)
			map_del(&m, (int64_t)i * 7919 - 100000);
	}
	assert_int_equal(m.len, 2500);
	assert_true(m.cap <= 16384);  /* churn does not grow the table without bound */
	map_free(&m);
}

static void
test_replace_and_iterate(void **state)
{
	struct map m;
	int a, b;
	size_t it = 0, n = 0;
	int64_t k;
	void *v;

	(void)state;
	map_init(&m, 0);
	map_put(&m, 5, &a);
	map_put(&m, 5, &b);
	assert_int_equal(m.len, 1);
	assert_ptr_equal(map_get(&m, 5), &b);
	map_put(&m, -5, &a);
	while (map_next(&m, &it, &k, NULL, &v)) {
		n++;
		assert_ptr_equal(v, k == 5 ? (void *)&b : (void *)&a);
	}
	assert_int_equal(n, 2);
	map_free(&m);
}

static void
test_string_keys(void **state)
{
	struct map m;
	char key[80];
	static int vals[1000];

	(void)state;
	map_init(&m, 1);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "%064d", i);
		assert_int_equal(map_sput(&m, key, &vals[i]), 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "%064d", i);
		assert_ptr_equal(map_sget(&m, key), &vals[i]);
	}
	assert_null(map_sget(&m, "absent"));
	snprintf(key, sizeof(key), "%064d", 10);
	assert_ptr_equal(map_sdel(&m, key), &vals[10]);
	assert_null(map_sget(&m, key));
	assert_int_equal(m.len, 999);
	map_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_keys),
		cmocka_unit_test(test_replace_and_iterate),
		cmocka_unit_test(test_string_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
