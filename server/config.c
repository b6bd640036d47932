#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#ifndef TENDERD_SQL_DIR
#define TENDERD_SQL_DIR "/usr/local/share/tenderd/sql"
#endif

enum config_type { CONFIG_T_STR, CONFIG_T_LONG, CONFIG_T_LEVEL, CONFIG_T_WORD, CONFIG_T_OID };

/* One row of the settings table. */
struct config_entry {
	const char *name;
	enum config_type type;
	size_t offset;
	const char *def;
	long min, max;
	const char *help;
};

#define S(f) CONFIG_T_STR, offsetof(struct config, f)
#define L(f) CONFIG_T_LONG, offsetof(struct config, f)
#define W(f) CONFIG_T_WORD, offsetof(struct config, f)
#define O(f) CONFIG_T_OID, offsetof(struct config, f)

static const struct config_entry config_table[] = {
	{ "listen", S(listen), "127.0.0.1:7443", 0, 0, "address to accept TLS connections on (host:port)" },
	{ "cert", S(cert), "var/pki/server.crt", 0, 0, "server certificate (PEM)" },
	{ "key", S(key), "var/pki/server.key", 0, 0, "server private key (PEM)" },
	{ "ca", S(ca), "var/pki/ca.crt", 0, 0, "CA bundle for client certificates" },
	{ "ca_dir", S(ca_dir), "", 0, 0, "optional directory of more CA certificates (PEM; every regular file in it)" },
	{ "crl", S(crl), "", 0, 0, "optional CRL (PEM) of revoked client certificates" },
	{ "required_policy", O(required_policy), "", 0, 0, "certificate policy OID every client certificate must carry (dotted, e.g. 1.3.6.1.4.1.32473.1.1; empty: none)" },
	{ "log_key", S(log_key), "var/pki/log.key", 0, 0, "private key (PEM) that signs the transparency log's tree heads" },
	{ "log_cert", S(log_cert), "var/pki/log.crt", 0, 0, "certificate (PEM) of log_key, issued by a CA of ca" },
	{ "db", S(db), "dbname=tenderd", 0, 0, "PostgreSQL conninfo" },
	{ "sql_dir", S(sql_dir), TENDERD_SQL_DIR, 0, 0, "directory of numbered migrations" },
	{ "migrate_lock_timeout", L(migrate_lock_timeout), "10", 1, 3600, "seconds a migration waits for a lock before it fails, naming the holder" },
	{ "max_line", L(max_line), "65536", 1024, 16777216, "longest request line in bytes" },
	{ "lines_per_wakeup", L(lines_per_wakeup), "64", 1, 100000, "lines handled per connection per read event" },
	{ "output_high_water", L(output_high_water), "1048576", 16384, 1073741824, "output bytes beyond which reading pauses" },
	{ "stuck_timeout", L(stuck_timeout), "30", 1, 3600, "seconds above the high-water mark before a drop" },
	{ "handshake_timeout", L(handshake_timeout), "10", 1, 600, "seconds allowed for the TLS handshake" },
	{ "idle_timeout", L(idle_timeout), "300", 1, 86400, "seconds without a request before close" },
	{ "max_conns_per_cert", L(max_conns_per_cert), "32", 1, 100000, "concurrent connections per certificate" },
	{ "max_conns", L(max_conns), "20000", 1, 1000000, "concurrent connections in total" },
	{ "batch_max", L(batch_max), "512", 1, 100000, "most state changes per transaction" },
	{ "max_batches_in_flight", L(max_batches_in_flight), "2", 1, 4, "write batches sent on the pipeline before the oldest has committed (1: one at a time)" },
	{ "batch_delay", L(batch_delay), "0", 0, 1000, "ms to wait for more changes before a batch is sent (0: none)" },
	{ "update_interval", L(update_interval), "100", 0, 1000, "ms between two auction.update events of one auction (0: one per commit)" },
	{ "max_document", L(max_document), "32768", 0, 8388608, "bytes of a procurement document's content kept in PostgreSQL" },
	{ "db_retry", L(db_retry), "1", 1, 60, "longest delay in seconds between reconnection attempts (the first after a loss comes after 0.1 s, each failed one doubles it)" },
	{ "max_watches_per_conn", L(max_watches_per_conn), "100", 1, 100000, "auctions and procurements one connection may watch at once" },
	{ "max_watchers_per_procedure", L(max_watchers_per_procedure), "10000", 1, 1000000, "connections that may watch one auction or procurement at once" },
	{ "max_questions_per_supplier", L(max_questions_per_supplier), "20", 1, 100000, "questions one supplier organization may ask in one procurement" },
	{ "max_open_procedures_per_buyer", L(max_open_procedures_per_buyer), "200", 1, 1000000, "procurements of one buyer organization not yet complete, cancelled or unsuccessful" },
	{ "max_open_auctions_per_buyer", L(max_open_auctions_per_buyer), "200", 1, 1000000, "scheduled or running auctions one buyer organization has created" },
	{ "max_documents_per_procedure", L(max_documents_per_procedure), "50", 1, 10000, "documents of one procurement, amendments included" },
	{ "max_amendments_per_procedure", L(max_amendments_per_procedure), "100", 1, 1000000, "amendments of one procurement" },
	{ "max_bids_per_bidder", L(max_bids_per_bidder), "10000", 1, 100000000, "bids one organization may place in one auction, refused ones included" },
	{ "max_scorings_per_offer", L(max_scorings_per_offer), "100", 1, 1000000, "bid.score requests accepted for one offer" },
	{ "max_offer_revisions", L(max_offer_revisions), "100", 1, 1000000, "submissions of one offer (its first and every revision) by its supplier organization" },
	{ "signature_workers", L(signature_workers), "2", 1, 64, "threads that verify the signatures of signed requests" },
	{ "signature_skew", L(signature_skew), "30", 1, 3600, "seconds a signed statement's time may differ from the server's clock" },
	{ "log_level", CONFIG_T_LEVEL, offsetof(struct config, log_level), "info", 0, 0, "debug, info, warn or error" },
	/* TLS, reload and per-address limits */
	{ "tls_min_version", W(tls_min_version), "1.2", 0, 0, "oldest TLS version accepted: 1.2 (ECDHE with AEAD ciphers only) or 1.3" },
	{ "crl_expired", W(crl_expired), "warn", 0, 0, "a CRL past its nextUpdate: warn (serve, log loudly) or refuse (every handshake fails)" },
	{ "tls_watch_interval", L(tls_watch_interval), "2", 0, 3600, "seconds between checks of cert, key, ca and crl for changes (0: reload on SIGHUP only)" },
	{ "max_conns_per_addr", L(max_conns_per_addr), "1000", 0, 1000000, "concurrent connections per source address (0: no limit)" },
	{ "max_handshakes_per_addr", L(max_handshakes_per_addr), "64", 0, 1000000, "TLS handshakes in progress per source address (0: no limit)" },
	/* standby and takeover */
	{ "standby", W(standby), "off", 0, 0, "on: when another tenderd is the primary of the database, wait as its standby and take over when it goes; off: exit" },
	{ "advertise", S(advertise), "", 0, 0, "address (host:port) clients use to reach this tenderd, told by standbys when it is the primary (empty: listen)" },
	/* observability: metrics and logs */
	{ "metrics_listen", S(metrics_listen), "127.0.0.1:7444", 0, 0, "address of the HTTP endpoint for /metrics, /healthz and /readyz (host:port; empty: none)" },
	{ "log_format", W(log_format), "logfmt", 0, 0, "format of the log lines: logfmt or json" },
	{ "log_file", S(log_file), "", 0, 0, "file the log is appended to, reopened on SIGUSR1 (empty: standard error)" },
	{ "log_operations", W(log_operations), "on", 0, 0, "one info line per operation: on or off" },
};

/* The values allowed for each CONFIG_T_WORD setting, separated by '|'. */
static const struct {
	const char *name, *words;
} config_words[] = {
	{ "tls_min_version", "1.2|1.3" },
	{ "crl_expired", "warn|refuse" },
	{ "standby", "on|off" },
	{ "log_format", "logfmt|json" },
	{ "log_operations", "on|off" },
};

/* Settings a running tenderd keeps until it is restarted: the listening socket, the
 * database connection, and the sizes its open connections were set up with. */
static const char *const config_restart_keys[] = {
	"listen", "db", "sql_dir", "db_retry", "max_line", "output_high_water",
	"signature_workers", "log_key", "log_cert", "standby", "advertise", "metrics_listen",
	"log_file", NULL,
};

#define CONFIG_N (sizeof(config_table) / sizeof(config_table[0]))

/* Find a table row by name. */
static const struct config_entry *
config_find(const char *key)
{
	for (size_t i = 0; i < CONFIG_N; i++)
		if (strcmp(config_table[i].name, key) == 0)
			return &config_table[i];
	return NULL;
}

/* True when `key` names a setting. */
int
config_known(const char *key)
{
	return config_find(key) != NULL;
}

/* The allowed values of a CONFIG_T_WORD setting. */
static const char *
config_words_of(const char *key)
{
	for (size_t i = 0; i < sizeof(config_words) / sizeof(config_words[0]); i++)
		if (strcmp(config_words[i].name, key) == 0)
			return config_words[i].words;
	return "";
}

/* True when `value` is one of the '|'-separated `words`. */
static int
config_word_ok(const char *words, const char *value)
{
	size_t len = strlen(value);
	const char *p = words;

	while (len > 0 && p != NULL) {
		const char *bar = strchr(p, '|');
		size_t wl = bar ? (size_t)(bar - p) : strlen(p);
		if (wl == len && strncmp(p, value, len) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* True for a dotted OID: at least two arcs of digits without leading zeros, the first 0,
 * 1 or 2 (X.660). */
static int
config_oid_ok(const char *v)
{
	int arcs = 0;

	if (v[0] < '0' || v[0] > '2')
		return 0;
	while (*v) {
		const char *start = v;
		while (*v >= '0' && *v <= '9')
			v++;
		if (v == start || (*start == '0' && v - start > 1) || v - start > 18)
			return 0;
		arcs++;
		if (*v == '.' && v[1] != '\0')
			v++;
		else if (*v != '\0')
			return 0;
	}
	return arcs >= 2;
}

/* Set one key from its text value, checking type and bounds. */
int
config_set(struct config *c, const char *key, const char *value, char *cause, size_t n)
{
	const struct config_entry *e = config_find(key);
	char *dst, *end;
	long v;

	if (e == NULL) {
		snprintf(cause, n, "unknown setting '%s'", key);
		return -1;
	}
	dst = (char *)c + e->offset;
	switch (e->type) {
	case CONFIG_T_OID:
		if (value[0] != '\0' && !config_oid_ok(value)) {
			snprintf(cause, n, "%s: expected a dotted OID such as 1.3.6.1.4.1.32473.1.1 "
			    "(or nothing), got '%s'", key, value);
			return -1;
		}
		/* FALLTHROUGH */
	case CONFIG_T_STR:
		if (strlen(value) >= CONFIG_STR) {
			snprintf(cause, n, "%s: value too long", key);
			return -1;
		}
		strcpy(dst, value);
		return 0;
	case CONFIG_T_LEVEL:
		if (log_level_parse(value) < 0) {
			snprintf(cause, n, "%s: expected debug, info, warn or error, got '%s'", key, value);
			return -1;
		}
		snprintf(dst, 16, "%s", value);
		return 0;
	case CONFIG_T_WORD:
		if (!config_word_ok(config_words_of(key), value)) {
			snprintf(cause, n, "%s: expected %s, got '%s'", key, config_words_of(key), value);
			return -1;
		}
		snprintf(dst, 8, "%s", value);
		return 0;
	case CONFIG_T_LONG:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end != '\0') {
			snprintf(cause, n, "%s: expected an integer, got '%s'", key, value);
			return -1;
		}
		if (v < e->min || v > e->max) {
			snprintf(cause, n, "%s: %ld is out of bounds (%ld-%ld)", key, v, e->min, e->max);
			return -1;
		}
		*(long *)(void *)dst = v;
		return 0;
	}
	return -1;
}

/* Fill `c` with the defaults from the table. */
void
config_defaults(struct config *c)
{
	char cause[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < CONFIG_N; i++)
		if (config_set(c, config_table[i].name, config_table[i].def, cause, sizeof(cause)) < 0)
			abort();  /* the table itself is wrong */
}

/* Trim white space at both ends, in place. */
static char *
config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Read a `key = value` file. */
int
config_load_file(struct config *c, const char *path, char *cause, size_t n)
{
	char line[2048], why[256];
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (f == NULL) {
		snprintf(cause, n, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k, *v, *eq, *p;
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(cause, n, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		k = config_trim(line);
		if (*k == '#' || *k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			snprintf(cause, n, "%s:%d: expected key = value", path, lineno);
			goto fail;
		}
		*eq = '\0';
		k = config_trim(k);
		v = config_trim(eq + 1);
		if (*v == '"') {
			if ((p = strchr(v + 1, '"')) == NULL) {
				snprintf(cause, n, "%s:%d: unterminated quote", path, lineno);
				goto fail;
			}
			*p = '\0';
			v++;
		} else if ((p = strchr(v, '#')) != NULL) {
			*p = '\0';
			v = config_trim(v);
		}
		if (config_set(c, k, v, why, sizeof(why)) < 0) {
			snprintf(cause, n, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

/* Print the settings table. */
void
config_usage(void)
{
	for (size_t i = 0; i < CONFIG_N; i++)
		fprintf(stderr, "  --%-20s %s (default: %s)\n", config_table[i].name,
		    config_table[i].help, config_table[i].def[0] ? config_table[i].def : "none");
}

/* Print the settings table for tools: name, type, default, bounds, reload, meaning. */
void
config_print(FILE *f)
{
	static const char *const types[] = { "text", "integer", "level", "word", "oid" };

	for (size_t i = 0; i < CONFIG_N; i++) {
		const struct config_entry *e = &config_table[i];
		char bounds[64];

		if (e->type == CONFIG_T_LONG)
			snprintf(bounds, sizeof(bounds), "%ld-%ld", e->min, e->max);
		else if (e->type == CONFIG_T_WORD)
			snprintf(bounds, sizeof(bounds), "%s", config_words_of(e->name));
		else if (e->type == CONFIG_T_LEVEL)
			snprintf(bounds, sizeof(bounds), "debug|info|warn|error");
		else
			snprintf(bounds, sizeof(bounds), "-");
		fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\n", e->name, types[e->type],
		    e->def[0] ? e->def : "-", bounds, config_restart_only(e->name) ? "restart" : "reload",
		    e->help);
	}
}

/* True for a setting that needs a restart to change. */
int
config_restart_only(const char *key)
{
	for (size_t i = 0; config_restart_keys[i] != NULL; i++)
		if (strcmp(config_restart_keys[i], key) == 0)
			return 1;
	return 0;
}

/* A setting's value as text. */
static void
config_format(const struct config *c, const struct config_entry *e, char *buf, size_t n)
{
	const char *src = (const char *)c + e->offset;

	if (e->type == CONFIG_T_LONG)
		snprintf(buf, n, "%ld", *(const long *)(const void *)src);
	else
		snprintf(buf, n, "%s", src);
}

/* Report every setting that differs between two configurations. */
void
config_each_change(const struct config *a, const struct config *b,
    void (*fn)(void *arg, const char *key, const char *was, const char *now), void *arg)
{
	char was[CONFIG_STR], now[CONFIG_STR];

	for (size_t i = 0; i < CONFIG_N; i++) {
		config_format(a, &config_table[i], was, sizeof(was));
		config_format(b, &config_table[i], now, sizeof(now));
		if (strcmp(was, now) != 0)
			fn(arg, config_table[i].name, was, now);
	}
}
