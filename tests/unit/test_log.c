/* Unit tests of the log format (common/log.c: logfmt quoting, JSON lines, a file and
 * its reopening) and of the histograms of the metrics (common/hist.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/hist.h"
#include "common/log.h"

/* A value is left bare unless it needs quotes; quoted values escape what they must. */
static void test_quote(void **state)
{
	char out[128];

	log_quote("auction.bid", out, sizeof(out));
	assert_string_equal(out, "auction.bid");
	log_quote("", out, sizeof(out));
	assert_string_equal(out, "\"\"");
	log_quote("two words", out, sizeof(out));
	assert_string_equal(out, "\"two words\"");
	log_quote("a=b", out, sizeof(out));
	assert_string_equal(out, "\"a=b\"");
	log_quote("say \"hi\" \\o/", out, sizeof(out));
	assert_string_equal(out, "\"say \\\"hi\\\" \\\\o/\"");
	log_quote("l1\nl2\tx\r\x01\x7f", out, sizeof(out));
	assert_string_equal(out, "\"l1\\nl2\\tx\\r\\u0001\\u007f\"");
	/* UTF-8 kept as such; a byte that is not UTF-8 becomes U+FFFD */
	log_quote("caf\xc3\xa9", out, sizeof(out));
	assert_string_equal(out, "\"caf\xc3\xa9\"");
	log_quote("x\xff", out, sizeof(out));
	assert_string_equal(out, "\"x\xef\xbf\xbd\"");
	/* cut short, still closed */
	log_quote("a very long value that will not fit", out, 16);
	assert_true(strlen(out) < 16 && out[0] == '"' && out[strlen(out) - 1] == '"');
}

/* Read the whole of a file. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[65536];
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Lines in a file, in logfmt then JSON, fields in order; the file reopened after a rename. */
static void test_lines_and_reopen(void **state)
{
	char dir[] = "/tmp/test_log_XXXXXX", path[128], rotated[160], cause[256];
	struct log_line ln;
	char *text;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.log", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	assert_int_equal(log_open(path, cause, sizeof(cause)), 0);
	log_set_format(LOG_LOGFMT);
	log_begin(&ln, LOG_INFO, "op");
	log_str(&ln, "op", "auction.bid");
	log_int(&ln, "conn", 7);
	log_str(&ln, "id", "a b");
	log_dec(&ln, "ms", 1234, 3);
	log_dec(&ln, "neg", -5, 3);
	log_end(&ln);
	log_msg(LOG_WARN, "state rebuilt: ms=%d \"q\"", 12);
	log_debug("not shown at info");
	text = slurp(path);
	assert_non_null(strstr(text, " level=info msg=op op=auction.bid conn=7 id=\"a b\" ms=1.234 "
	    "neg=-0.005\n"));
	assert_non_null(strstr(text, " level=warn msg=\"state rebuilt: ms=12 \\\"q\\\"\"\n"));
	assert_null(strstr(text, "not shown"));
	assert_int_equal(strncmp(text, "ts=", 3), 0);

	assert_int_equal(rename(path, rotated), 0);
	log_set_format(LOG_JSON);
	log_msg(LOG_ERROR, "still the old file");
	assert_int_equal(log_reopen(cause, sizeof(cause)), 0);
	log_begin(&ln, LOG_INFO, "op");
	log_int(&ln, "conn", 8);
	log_str(&ln, "id", "\"\\\n\x02\xff");
	log_dec(&ln, "ms", 5, 3);
	log_end(&ln);
	text = slurp(rotated);
	assert_non_null(strstr(text, ",\"level\":\"error\",\"msg\":\"still the old file\"}\n"));
	text = slurp(path);
	assert_int_equal(strncmp(text, "{\"ts\":\"", 7), 0);
	assert_non_null(strstr(text, ",\"level\":\"info\",\"msg\":\"op\",\"conn\":8,"
	    "\"id\":\"\\\"\\\\\\n\\u0002\\ufffd\",\"ms\":0.005}\n"));
	assert_int_equal(log_open("", cause, sizeof(cause)), 0);
	log_set_format(LOG_LOGFMT);
	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

/* A line longer than the buffer is cut at a field and still well-formed. */
static void test_long_line(void **state)
{
	static char big[6000];
	struct log_line ln;
	char dir[] = "/tmp/test_log_XXXXXX", path[128], cause[256];
	char *text;

	memset(big, 'x', sizeof(big) - 1);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.log", dir);
	assert_int_equal(log_open(path, cause, sizeof(cause)), 0);
	log_set_format(LOG_JSON);
	log_begin(&ln, LOG_INFO, "big");
	log_str(&ln, "big", big);
	log_int(&ln, "after", 1);  /* no room left: dropped */
	log_end(&ln);
	text = slurp(path);
	assert_true(strlen(text) <= 4096 && strlen(text) > 4000);
	assert_string_equal(text + strlen(text) - 3, "\"}\n");
	assert_null(strstr(text, "after"));
	assert_int_equal(log_open("", cause, sizeof(cause)), 0);
	log_set_format(LOG_LOGFMT);
	unlink(path);
	rmdir(dir);
}

/* The format of a level and of a log format name. */
static void test_parse(void **state)
{
	assert_int_equal(log_level_parse("warn"), LOG_WARN);
	assert_int_equal(log_level_parse("loud"), -1);
	assert_int_equal(log_format_parse("logfmt"), LOG_LOGFMT);
	assert_int_equal(log_format_parse("json"), LOG_JSON);
	assert_int_equal(log_format_parse("xml"), -1);
}

/* Buckets are counted at their upper bound inclusive, printed cumulative with +Inf last. */
static void test_hist(void **state)
{
	static const int64_t bounds[] = { 100, 250, 1000000 };
	struct hist h;
	char *text = NULL, v[32];
	size_t len = 0;
	FILE *f;

	hist_init(&h, bounds, 3, 1000000);
	hist_observe(&h, 50);
	hist_observe(&h, 100);       /* le="0.0001" holds 100 µs itself */
	hist_observe(&h, 101);
	hist_observe(&h, 2000000);   /* only +Inf */
	assert_int_equal(h.count, 4);
	assert_int_equal(h.sum, 2000251);
	f = open_memstream(&text, &len);
	hist_write(&h, f, "t_seconds", "op=\"x\"");
	fclose(f);
	assert_string_equal(text,
	    "t_seconds_bucket{op=\"x\",le=\"0.0001\"} 2\n"
	    "t_seconds_bucket{op=\"x\",le=\"0.00025\"} 3\n"
	    "t_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
	    "t_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
	    "t_seconds_sum{op=\"x\"} 2.000251\n"
	    "t_seconds_count{op=\"x\"} 4\n");
	free(text);
	text = NULL;
	hist_init(&h, bounds, 2, 1);
	f = open_memstream(&text, &len);
	hist_write(&h, f, "n", "");
	fclose(f);
	assert_string_equal(text, "n_bucket{le=\"100\"} 0\nn_bucket{le=\"250\"} 0\n"
	    "n_bucket{le=\"+Inf\"} 0\nn_sum 0\nn_count 0\n");
	free(text);
	hist_value(1500000, 1000000, v, sizeof(v));
	assert_string_equal(v, "1.5");
	hist_value(0, 1000000, v, sizeof(v));
	assert_string_equal(v, "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_lines_and_reopen),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_hist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
