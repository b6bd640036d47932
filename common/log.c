#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"

static enum log_level log_min = LOG_INFO;
static enum log_format log_fmt = LOG_LOGFMT;
static const char *const log_names[] = { "debug", "info", "warn", "error" };
static _Atomic int log_fd = 2;            /* 2: standard error */
static char log_path[1024];               /* "" while on standard error */

/* Room kept at the end of a line for the closing quote, brace and newline. */
#define LOG_RESERVE 8

/* Set the lowest level printed. */
void
log_set_level(enum log_level l)
{
	log_min = l;
}

/* Map a level name to its value. */
int
log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

/* Whether a level is printed. */
int
log_enabled(enum log_level l)
{
	return l >= log_min;
}

/* Set the format of the lines. */
void
log_set_format(enum log_format f)
{
	log_fmt = f;
}

/* Map a format name to its value. */
int
log_format_parse(const char *s)
{
	if (strcmp(s, "logfmt") == 0)
		return LOG_LOGFMT;
	if (strcmp(s, "json") == 0)
		return LOG_JSON;
	return -1;
}

/* Open `path` for appending; -1 with `cause`. */
static int
log_open_fd(const char *path, char *cause, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		snprintf(cause, n, "log_file %s: %s", path, strerror(errno));
	return fd;
}

/* Switch to a file, or back to standard error. */
int
log_open(const char *path, char *cause, size_t n)
{
	int fd, old = log_fd;

	if (path == NULL || path[0] == '\0') {
		log_fd = 2;
		log_path[0] = '\0';
		if (old != 2)
			close(old);
		return 0;
	}
	if (strlen(path) >= sizeof(log_path)) {
		snprintf(cause, n, "log_file: path too long");
		return -1;
	}
	if ((fd = log_open_fd(path, cause, n)) < 0)
		return -1;
	snprintf(log_path, sizeof(log_path), "%s", path);
	if (old != 2) {  /* the same descriptor stays valid for other threads */
		dup2(fd, old);
		close(fd);
	} else {
		log_fd = fd;
	}
	return 0;
}

/* Open the same path again onto the same descriptor. */
int
log_reopen(char *cause, size_t n)
{
	int fd;

	if (log_path[0] == '\0')
		return 0;
	if ((fd = log_open_fd(log_path, cause, n)) < 0)
		return -1;
	dup2(fd, log_fd);
	close(fd);
	return 0;
}

/* Length of the well-formed UTF-8 sequence at `p` (1-4), 0 when it is not one. */
static int
log_utf8_len(const unsigned char *p)
{
	int len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	for (int i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

/* Whether a logfmt value must be quoted. */
static int
log_needs_quote(const char *s)
{
	if (*s == '\0')
		return 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f || *p >= 0x80)
			return 1;
	return 0;
}

/* Append `len` bytes when they fit before the reserve; 0, or -1 (the line is full). */
static int
log_put(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n + len + LOG_RESERVE > cap)
		return -1;
	memcpy(buf + *n, s, len);
	*n += len;
	return 0;
}

/*
 * Append `s` in double quotes, escaped for JSON (`json`) or for logfmt (the same
 * escapes; a byte that is not well-formed UTF-8 becomes U+FFFD, as \ufffd in JSON).
 * Cut short when the line is full, the closing quote always written. -1 when cut.
 */
static int
log_put_quoted(char *buf, size_t cap, size_t *n, const char *s, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	int rc = 0;

	buf[(*n)++] = '"';
	while (*p && rc == 0) {
		int len = log_utf8_len(p);
		const char *u = esc;
		size_t ul = 2;
		esc[0] = '\\';
		if (*p == '"' || *p == '\\')
			esc[1] = (char)*p;
		else if (*p == '\n')
			esc[1] = 'n';
		else if (*p == '\r')
			esc[1] = 'r';
		else if (*p == '\t')
			esc[1] = 't';
		else if (*p < 0x20 || *p == 0x7f)
			ul = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
		else if (len == 0) {
			u = json ? "\\ufffd" : "\xef\xbf\xbd";
			ul = json ? 6 : 3;
			len = 1;
		} else {
			u = (const char *)p;
			ul = (size_t)len;
		}
		rc = log_put(buf, cap, n, u, ul);
		p += len ? len : 1;
	}
	buf[(*n)++] = '"';
	return rc;
}

/* Quote for logfmt into `out` when needed. */
size_t
log_quote(const char *s, char *out, size_t n)
{
	size_t len = 0;

	if (n < LOG_RESERVE + 2) {
		if (n)
			out[0] = '\0';
		return 0;
	}
	if (!log_needs_quote(s)) {
		snprintf(out, n, "%s", s);
		return strlen(out);
	}
	log_put_quoted(out, n, &len, s, 0);
	out[len] = '\0';
	return len;
}

/* The key of a field: " key=" or ,"key": */
static int
log_key(struct log_line *ln, const char *key)
{
	char k[80];
	int kl = snprintf(k, sizeof(k), ln->json ? ",\"%s\":" : " %s=", key);

	if (ln->full || kl < 0 || (size_t)kl >= sizeof(k) ||
	    log_put(ln->buf, sizeof(ln->buf), &ln->n, k, (size_t)kl) < 0) {
		ln->full = 1;
		return -1;
	}
	return 0;
}

/* A string field. */
void
log_str(struct log_line *ln, const char *key, const char *value)
{
	if (value == NULL || log_key(ln, key) < 0)
		return;
	if (ln->json || log_needs_quote(value)) {
		if (log_put_quoted(ln->buf, sizeof(ln->buf), &ln->n, value, ln->json) < 0)
			ln->full = 1;
	} else if (log_put(ln->buf, sizeof(ln->buf), &ln->n, value, strlen(value)) < 0) {
		ln->full = 1;
	}
}

/* An integer field. */
void
log_int(struct log_line *ln, const char *key, long long value)
{
	char v[24];
	int vl = snprintf(v, sizeof(v), "%lld", value);

	if (log_key(ln, key) < 0)
		return;
	if (log_put(ln->buf, sizeof(ln->buf), &ln->n, v, (size_t)vl) < 0)
		ln->full = 1;
}

/* A fixed-point field. */
void
log_dec(struct log_line *ln, const char *key, long long value, int digits)
{
	long long scale = 1, a = value < 0 ? -value : value;
	char v[48];
	int vl;

	for (int i = 0; i < digits; i++)
		scale *= 10;
	vl = digits > 0 ?
	    snprintf(v, sizeof(v), "%s%lld.%0*lld", value < 0 ? "-" : "", a / scale, digits,
	        a % scale) :
	    snprintf(v, sizeof(v), "%lld", value);
	if (log_key(ln, key) < 0)
		return;
	if (log_put(ln->buf, sizeof(ln->buf), &ln->n, v, (size_t)vl) < 0)
		ln->full = 1;
}

/* Start a line: the time, the level and the message. */
void
log_begin(struct log_line *ln, enum log_level l, const char *msg)
{
	char ts[TIME_BUF];

	time_format(time_now_ms(), ts);
	ln->json = log_fmt == LOG_JSON;
	ln->full = 0;
	ln->level = l;
	ln->n = (size_t)snprintf(ln->buf, sizeof(ln->buf),
	    ln->json ? "{\"ts\":\"%s\",\"level\":\"%s\"" : "ts=%s level=%s", ts, log_names[l]);
	log_str(ln, "msg", msg);
}

/* Close the line and write it at once. */
void
log_end(struct log_line *ln)
{
	const char *p = ln->buf;
	ssize_t w;

	if (ln->json)
		ln->buf[ln->n++] = '}';
	ln->buf[ln->n++] = '\n';
	while (ln->n > 0) {
		w = write(log_fd, p, ln->n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		ln->n -= (size_t)w;
	}
}

/* Format and print one line. */
void
log_msg(enum log_level l, const char *fmt, ...)
{
	struct log_line ln;
	char msg[2048];
	va_list ap;

	if (l < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_begin(&ln, l, msg);
	log_end(&ln);
}
