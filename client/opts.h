/* tenderctl command line: connection options, output mode and the command words. */
#ifndef TENDERCTL_OPTS_H
#define TENDERCTL_OPTS_H

#include <stddef.h>
#include <stdio.h>

/* Exit statuses of tenderctl. */
enum {
	CTL_OK = 0,        /* the server answered ok:true */
	CTL_ERROR = 1,     /* the server answered with an error reply */
	CTL_USAGE = 2,     /* bad command line */
	CTL_CONN = 3,      /* connection, TLS or connection-level error */
	CTL_TIMEOUT = 4,   /* no connection or reply within --timeout */
};

#define OPTS_DEFAULT_SERVER "127.0.0.1:7443"
#define OPTS_DEFAULT_TIMEOUT 30
#define OPTS_DEFAULT_MAX_LINE 65536

/* One `--name value` option given after the command (name without the dashes; `-o` is
 * "output"). The value is NULL for an option that takes none (`--all`). */
struct opts_flag {
	const char *name;
	const char *value;
};

/* Everything parsed from argv and the environment. The strings point into argv/environ. */
struct opts {
	const char *cert;
	const char *key;
	const char *ca;
	const char *server;
	int json;
	int timeout_s;
	size_t max_line;
	int help;
	int version;               /* --version: print the release and exit */
	const char **words;        /* command words and positional arguments */
	int nwords;
	struct opts_flag *flags;   /* command options, in the order given */
	int nflags;
};

/* Parse argv (global options may appear anywhere); CTL_OK or CTL_USAGE after a message. */
int opts_parse(int argc, char **argv, struct opts *o);

/* Release what opts_parse allocated. */
void opts_free(struct opts *o);

/* Print the summary of commands and options. */
void opts_usage(FILE *f);

/* Print "tenderctl: MESSAGE" and a hint to stderr; returns CTL_USAGE. */
int opts_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a whole decimal integer (optional '-'); 0 on success, -1 otherwise. */
int opts_int(const char *s, long long *out);

#endif
