/* Unit tests of the text rules (common/text.c): NFC, lengths in code points,
 * invisible characters, name keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/text.h"

/* Georgian, Arabic and CJK count one per character, not per byte. */
static void test_len_code_points(void **state)
{
	const char *ka = "\xe1\x83\xa2\xe1\x83\x94\xe1\x83\x9c\xe1\x83\x93\xe1\x83\x94\xe1\x83\xa0"
	    "\xe1\x83\x98";  /* ტენდერი: 7 letters of 3 bytes */
	const char *ar = "\xd9\x85\xd9\x86\xd8\xa7\xd9\x82\xd8\xb5\xd8\xa9";  /* مناقصة */

	assert_int_equal(text_len("", 0), 0);
	assert_int_equal(text_len("Acme", 4), 4);
	assert_int_equal(text_len(ka, strlen(ka)), 7);
	assert_int_equal(strlen(ka), 21);
	assert_int_equal(text_len(ar, strlen(ar)), 6);
	assert_int_equal(text_len("\xe4\xb8\xad\xf0\x9f\x98\x80", 7), 2);  /* 中😀 */
}

/* Decomposed input becomes composed; NFC and ASCII input is left alone. */
static void test_nfc(void **state)
{
	char *out = (char *)1;
	size_t n = 0;

	assert_int_equal(text_nfc("Acme", 4, &out, &n), 0);
	assert_null(out);
	assert_int_equal(text_nfc("Caf\xc3\xa9", 5, &out, &n), 0);  /* composed é */
	assert_null(out);
	assert_int_equal(text_nfc("Cafe\xcc\x81", 6, &out, &n), 1);  /* e + U+0301 */
	assert_non_null(out);
	assert_string_equal(out, "Caf\xc3\xa9");
	assert_int_equal(n, 5);
	free(out);
	/* Hangul jamo compose into one syllable */
	assert_int_equal(text_nfc("\xe1\x84\x80\xe1\x85\xa1", 6, &out, &n), 1);
	assert_string_equal(out, "\xea\xb0\x80");
	free(out);
	assert_int_equal(text_nfc("\xff\xfe", 2, &out, &n), -1);
	assert_null(out);
}

/* Case and normalization do not distinguish two names. */
static void test_fold(void **state)
{
	char *a = text_fold("Acme"), *b = text_fold("ACME"), *c = text_fold("acme ltd");
	char *d = text_fold("Caf\xc3\xa9"), *e = text_fold("CAFE\xcc\x81");
	char *f = text_fold("\xe1\x83\xa2\xe1\x83\x94");  /* Georgian has no case to fold here */

	assert_string_equal(a, b);
	assert_string_equal(a, "acme");
	assert_string_not_equal(a, c);
	assert_string_equal(d, e);
	assert_string_equal(f, "\xe1\x83\xa2\xe1\x83\x94");
	free(a); free(b); free(c); free(d); free(e); free(f);
	assert_null(text_fold("\xc3"));
}

/* Accept `s` as `kind`. */
static void check_ok(const char *s, enum text_kind kind)
{
	char why[128] = "";

	if (text_check(s, strlen(s), kind, why, sizeof(why)) != 0)
		fail_msg("refused \"%s\": %s", s, why);
}

/* Refuse `s` as `kind` with a message containing `want`. */
static void check_bad(const char *s, enum text_kind kind, const char *want)
{
	char why[128] = "";

	if (text_check(s, strlen(s), kind, why, sizeof(why)) == 0)
		fail_msg("accepted \"%s\"", s);
	if (strstr(why, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", why, want);
}

/* Names refuse every invisible character; titles only controls and bidi overrides. */
static void test_check(void **state)
{
	static const char *const invisible[] = {
		"\xe2\x80\x8b", "\xe2\x80\x8c", "\xe2\x80\x8d", "\xe2\x81\xa0", "\xef\xbb\xbf",
		"\xe2\x80\x8e", "\xe2\x80\x8f", "\xe2\x80\xaa", "\xe2\x80\xae", "\xe2\x81\xa6",
		"\xe2\x81\xa9", "\xc2\xad", "\x01", "\x7f", "\xc2\x85", "\xe2\x80\xa8",
	};
	char buf[32];

	check_ok("Acme LLC", TEXT_NAME);
	check_ok("\xe1\x83\xa8\xe1\x83\x9e\xe1\x83\xa1 \xe1\x83\x90\xe1\x83\x99\xe1\x83\x9b\xe1\x83\x94",
	    TEXT_NAME);
	check_ok("\xd8\xb4\xd8\xb1\xd9\x83\xd8\xa9", TEXT_NAME);
	for (size_t i = 0; i < sizeof(invisible) / sizeof(*invisible); i++) {
		snprintf(buf, sizeof(buf), "Ac%sme", invisible[i]);
		check_bad(buf, TEXT_NAME, "invisible or control character (U+");
		check_ok(buf, TEXT_FREE);
	}
	check_bad("Ac\xe2\x80\x8bme", TEXT_NAME, "(U+200B) at character 3");
	check_bad(" Acme", TEXT_NAME, "white space");
	check_bad("Acme\xc2\xa0", TEXT_NAME, "white space");
	/* titles: ZWNJ (Persian), ZWJ and the directional marks are text; overrides are not */
	check_ok("\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85", TEXT_LINE);
	check_ok("Lot 1 \xe2\x80\x8f\xd8\xa3", TEXT_LINE);
	check_ok(" padded title ", TEXT_LINE);
	check_bad("pay \xe2\x80\xae" "evil", TEXT_LINE, "(U+202E) at character 5");
	check_bad("two\nlines", TEXT_LINE, "(U+000A)");
	check_bad("\xef\xbb\xbftitle", TEXT_LINE, "(U+FEFF) at character 1");
	check_ok("two\nlines\tand a tab", TEXT_FREE);
	check_bad("\xc3(", TEXT_FREE, "not valid UTF-8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_len_code_points),
		cmocka_unit_test(test_nfc),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
