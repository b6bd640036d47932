/* Unit tests of the settings table (server/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/config.h"

/* Write `text` to a temporary file; returns its path (static buffer). */
static const char *
tmpfile_with(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/tenderd-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.listen, "127.0.0.1:7443");
	assert_int_equal(c.max_line, 65536);
	assert_int_equal(c.idle_timeout, 300);
	assert_int_equal(c.batch_max, 512);
	assert_int_equal(c.update_interval, 100);
	assert_string_equal(c.log_level, "info");
	assert_string_equal(c.crl, "");
}

/* The compiled-in migrations directory is an installed path, never the source tree. */
static void
test_sql_dir_default_is_installed_path(void **state)
{
	struct config c;
	char cwd[1024];
	size_t len;

	(void)state;
	config_defaults(&c);
	len = strlen(c.sql_dir);
	assert_true(c.sql_dir[0] == '/');
	assert_true(len > strlen("/share/tenderd/sql"));
	assert_string_equal(c.sql_dir + len - strlen("/share/tenderd/sql"), "/share/tenderd/sql");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_true(strncmp(c.sql_dir, cwd, strlen(cwd)) != 0);
	assert_int_equal(c.migrate_lock_timeout, 10);
}

static void
test_set_checks_type_and_bounds(void **state)
{
	struct config c;
	char cause[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "max_line", "2048", cause, sizeof(cause)), 0);
	assert_int_equal(c.max_line, 2048);
	assert_int_equal(config_set(&c, "max_line", "10", cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "out of bounds"));
	assert_int_equal(config_set(&c, "max_line", "12abc", cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "integer"));
	assert_int_equal(config_set(&c, "max_line", "", cause, sizeof(cause)), -1);
	assert_int_equal(c.max_line, 2048);  /* unchanged by refusals */
	assert_int_equal(config_set(&c, "update_interval", "0", cause, sizeof(cause)), 0);
	assert_int_equal(c.update_interval, 0);
	assert_int_equal(config_set(&c, "update_interval", "1001", cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "out of bounds"));
	assert_int_equal(c.update_interval, 0);
	assert_int_equal(config_set(&c, "no_such_key", "1", cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "unknown setting"));
	assert_int_equal(config_set(&c, "log_level", "loud", cause, sizeof(cause)), -1);
	assert_int_equal(config_set(&c, "log_level", "debug", cause, sizeof(cause)), 0);
	assert_string_equal(c.log_level, "debug");
	assert_true(config_known("db"));
	assert_false(config_known("database"));
}

static void
test_file(void **state)
{
	struct config c;
	char cause[256];
	const char *p = tmpfile_with(
	    "# comment\n"
	    "\n"
	    "listen = 0.0.0.0:9000   # trailing comment\n"
	    "db = \"host=/tmp/x port=5 dbname=t # not a comment\"\n"
	    "  idle_timeout=60\n");

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, p, cause, sizeof(cause)), 0);
	assert_string_equal(c.listen, "0.0.0.0:9000");
	assert_string_equal(c.db, "host=/tmp/x port=5 dbname=t # not a comment");
	assert_int_equal(c.idle_timeout, 60);
	unlink(p);
}

static void
test_file_errors_name_the_line(void **state)
{
	struct config c;
	char cause[256];
	const char *p;

	(void)state;
	config_defaults(&c);
	p = tmpfile_with("listen = 1.2.3.4:5\nbogus line\n");
	assert_int_equal(config_load_file(&c, p, cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, ":2:"));
	unlink(p);
	p = tmpfile_with("max_conns = 0\n");
	assert_int_equal(config_load_file(&c, p, cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "max_conns"));
	unlink(p);
	p = tmpfile_with("db = \"unterminated\n");
	assert_int_equal(config_load_file(&c, p, cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "quote"));
	unlink(p);
	assert_int_equal(config_load_file(&c, "/nonexistent/tenderd.conf", cause, sizeof(cause)), -1);
}

/* Collects the changes config_each_change reports. */
static void
note_change(void *arg, const char *key, const char *was, const char *now)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "%s:%s>%s;", key, was, now);
}

static void
test_words_and_changes(void **state)
{
	struct config a, b;
	char cause[256], seen[512] = "";

	(void)state;
	config_defaults(&a);
	assert_string_equal(a.tls_min_version, "1.2");
	assert_string_equal(a.crl_expired, "warn");
	assert_int_equal(a.max_handshakes_per_addr, 64);
	b = a;
	assert_int_equal(config_set(&b, "tls_min_version", "1.3", cause, sizeof(cause)), 0);
	assert_int_equal(config_set(&b, "tls_min_version", "1.", cause, sizeof(cause)), -1);
	assert_int_equal(config_set(&b, "tls_min_version", "", cause, sizeof(cause)), -1);
	assert_int_equal(config_set(&b, "crl_expired", "refuses", cause, sizeof(cause)), -1);
	assert_non_null(strstr(cause, "warn|refuse"));
	assert_int_equal(config_set(&b, "max_conns_per_addr", "0", cause, sizeof(cause)), 0);
	config_each_change(&a, &b, note_change, seen);
	assert_string_equal(seen, "tls_min_version:1.2>1.3;max_conns_per_addr:1000>0;");
	assert_true(config_restart_only("listen"));
	assert_true(config_restart_only("db"));
	assert_false(config_restart_only("max_conns"));
	assert_false(config_restart_only("crl"));
}

/* required_policy takes a dotted OID or nothing; ca_dir is a plain path, empty by default. */
static void
test_required_policy_is_an_oid(void **state)
{
	static const char *const good[] = { "1.3.6.1.4.1.32473.1.1", "2.5", "0.0", "" };
	static const char *const bad[] = { "1", "3.1", "1.", ".1", "1..2", "1.03", "1.x", "1.2 ",
	    "abc", "1.2.-3" };
	struct config c;
	char cause[256];

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.required_policy, "");
	assert_string_equal(c.ca_dir, "");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(config_set(&c, "required_policy", good[i], cause, sizeof(cause)), 0);
	assert_int_equal(config_set(&c, "required_policy", "1.3.6.1.4.1.32473.1.1", cause,
	    sizeof(cause)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(config_set(&c, "required_policy", bad[i], cause, sizeof(cause)), -1);
		assert_non_null(strstr(cause, "expected a dotted OID"));
	}
	assert_string_equal(c.required_policy, "1.3.6.1.4.1.32473.1.1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_sql_dir_default_is_installed_path),
		cmocka_unit_test(test_set_checks_type_and_bounds),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_errors_name_the_line),
		cmocka_unit_test(test_words_and_changes),
		cmocka_unit_test(test_required_policy_is_an_oid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
