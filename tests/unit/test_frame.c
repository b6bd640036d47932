/* Unit tests of the line framing (server/frame.c), linked alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/frame.h"

/* Frame `s` as conn.c does: the window from the first LF, then frame_next. */
static enum frame_status
frame_str(const char *s, size_t n, size_t max, struct frame *f)
{
	const char *lf = memchr(s, '\n', n);
	size_t w = frame_window(lf ? lf - s : -1, n, max);

	return frame_next(w ? s : NULL, w, max, f);
}

static void
test_lines_and_cr(void **state)
{
	struct frame f;

	(void)state;
	assert_int_equal(frame_str("abc\ndef", 7, 1024, &f), FRAME_LINE);
	assert_int_equal(f.len, 3);
	assert_int_equal(f.used, 4);
	assert_int_equal(frame_str("abc\r\n", 5, 1024, &f), FRAME_LINE);
	assert_int_equal(f.len, 3);
	assert_int_equal(f.used, 5);
	/* only one CR right before the LF goes */
	assert_int_equal(frame_str("a\r\r\n", 4, 1024, &f), FRAME_LINE);
	assert_int_equal(f.len, 2);
	assert_int_equal(frame_str("\r\n", 2, 1024, &f), FRAME_LINE);
	assert_int_equal(f.len, 0);
	assert_int_equal(frame_str("\n", 1, 1024, &f), FRAME_LINE);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.used, 1);
	/* a CR elsewhere and NUL bytes stay in the line */
	assert_int_equal(frame_str("a\rb\0c\n", 6, 1024, &f), FRAME_LINE);
	assert_int_equal(f.len, 5);
	assert_int_equal(frame_str("abc\r", 4, 1024, &f), FRAME_MORE);
	assert_int_equal(frame_str("", 0, 1024, &f), FRAME_MORE);
}

static void
test_max_line_bound(void **state)
{
	size_t max = 1024;
	char *b = malloc(max + 8);
	struct frame f;

	(void)state;
	memset(b, 'x', max + 8);
	/* exactly max_line bytes, with LF or CR LF: accepted */
	b[max] = '\n';
	assert_int_equal(frame_str(b, max + 1, max, &f), FRAME_LINE);
	assert_int_equal(f.len, max);
	b[max] = '\r';
	b[max + 1] = '\n';
	assert_int_equal(frame_str(b, max + 2, max, &f), FRAME_LINE);
	assert_int_equal(f.len, max);
	assert_int_equal(f.used, max + 2);
	/* max_line + 1 bytes: refused, with or without CR after them */
	b[max] = 'x';
	b[max + 1] = '\n';
	assert_int_equal(frame_str(b, max + 2, max, &f), FRAME_TOO_LONG);
	b[max + 1] = 'x';
	b[max + 2] = '\r';
	b[max + 3] = '\n';
	assert_int_equal(frame_str(b, max + 4, max, &f), FRAME_TOO_LONG);
	/* no LF: waits up to max_line + 1 bytes (a CR may follow), refuses beyond */
	assert_int_equal(frame_str(b, max + 1, max, &f), FRAME_MORE);
	assert_int_equal(frame_str(b, max + 2, max, &f), FRAME_TOO_LONG);
	/* the window never exceeds max_line + 2 */
	assert_int_equal(frame_window(100000, 200000, max), max + 2);
	assert_int_equal(frame_window(-1, max + 1, max), 0);
	assert_int_equal(frame_window(-1, max + 2, max), max + 2);
	assert_int_equal(frame_window(3, 10, max), 4);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_cr),
		cmocka_unit_test(test_max_line_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
