/*
 * Logging: one line per event, in logfmt (`ts=... level=info msg="..." key=value`) or in
 * JSON (one object per line), to standard error or to a file reopened on request.
 * A line is built in a buffer on the stack and written with one write(2): lines of
 * several threads never interleave, and a reopen (dup2 onto the same descriptor)
 * never loses or splits one.
 */
#ifndef TENDERD_LOG_H
#define TENDERD_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_LOGFMT = 0, LOG_JSON };

/* Set the lowest level printed. */
void log_set_level(enum log_level l);
/* Parse "debug"/"info"/"warn"/"error"; -1 when unknown. */
int log_level_parse(const char *s);
/* True when messages of level `l` are printed. */
int log_enabled(enum log_level l);
/* Set the format of every line from now on. */
void log_set_format(enum log_format f);
/* Parse "logfmt"/"json"; -1 when unknown. */
int log_format_parse(const char *s);
/* Write to the file `path` (appended to, created 0640) from now on; "" or NULL: standard
 * error. 0, or -1 with `cause` (the destination in force stays). */
int log_open(const char *path, char *cause, size_t n);
/* Open the file again (logrotate renamed it): the same path, a new file. 0, or -1 with
 * `cause` (lines keep going to the old file). Nothing to do on standard error. */
int log_reopen(char *cause, size_t n);
/* Print one line whose message is the printf format. */
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line with fields: log_begin, then log_str/log_int/log_dec in order, then log_end. */
struct log_line {
	char buf[4096];
	size_t n;
	int json, full;
	enum log_level level;
};
/* Start a line of level `l` with message `msg` (ts, level and msg first). */
void log_begin(struct log_line *ln, enum log_level l, const char *msg);
/* A string field: quoted in logfmt when it needs to be (see log_quote). */
void log_str(struct log_line *ln, const char *key, const char *value);
/* An integer field. */
void log_int(struct log_line *ln, const char *key, long long value);
/* A fixed-point number `value` / 10^`digits` (e.g. 1234, 3: 1.234). */
void log_dec(struct log_line *ln, const char *key, long long value, int digits);
/* Write the line. */
void log_end(struct log_line *ln);
/* Quote `s` for logfmt into `out` (`n` bytes, always terminated): unchanged when it is
 * not empty and holds no space, '=', '"', '\\' or control character; otherwise in double
 * quotes with '"' and '\\' escaped, \n, \r and \t as such, other control bytes as \u00XX.
 * Returns the length written. */
size_t log_quote(const char *s, char *out, size_t n);

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
