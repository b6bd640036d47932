/* tenderd settings: a typed table, parsed into a new struct, validated, then used. */
#ifndef TENDERD_CONFIG_H
#define TENDERD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_STR 512

struct config {
	char listen[CONFIG_STR];
	char cert[CONFIG_STR];
	char key[CONFIG_STR];
	char ca[CONFIG_STR];
	char ca_dir[CONFIG_STR];
	char crl[CONFIG_STR];
	char required_policy[CONFIG_STR];
	char log_key[CONFIG_STR];
	char log_cert[CONFIG_STR];
	char db[CONFIG_STR];
	char sql_dir[CONFIG_STR];
	long migrate_lock_timeout;
	long max_line;
	long lines_per_wakeup;
	long output_high_water;
	long stuck_timeout;
	long handshake_timeout;
	long idle_timeout;
	long max_conns_per_cert;
	long max_conns;
	long batch_max;
	long batch_delay;
	long max_batches_in_flight;
	long update_interval;
	long max_document;
	long db_retry;
	long max_watches_per_conn;
	long max_watchers_per_procedure;
	long max_questions_per_supplier;
	long max_open_procedures_per_buyer;
	long max_open_auctions_per_buyer;
	long max_documents_per_procedure;
	long max_amendments_per_procedure;
	long max_offer_revisions;
	long max_scorings_per_offer;
	long max_bids_per_bidder;
	long signature_workers;
	long signature_skew;
	char log_level[16];
	/* TLS, reload and per-address limits */
	char tls_min_version[8];
	char crl_expired[8];
	long tls_watch_interval;
	long max_conns_per_addr;
	long max_handshakes_per_addr;
	/* standby and takeover */
	char standby[8];
	char advertise[CONFIG_STR];
	/* observability: metrics and logs */
	char metrics_listen[CONFIG_STR];
	char log_format[8];
	char log_file[CONFIG_STR];
	char log_operations[8];
};

/* Fill `c` with the defaults. */
void config_defaults(struct config *c);

/* Read `key = value` lines from a file into `c`. 0, or -1 with `cause`. */
int config_load_file(struct config *c, const char *path, char *cause, size_t n);

/* Set one key from its text value. 0, or -1 with `cause`. */
int config_set(struct config *c, const char *key, const char *value, char *cause, size_t n);

/* True when `key` names a setting. */
int config_known(const char *key);

/* Settings that a running tenderd cannot change (SIGHUP reports them as ignored). */
int config_restart_only(const char *key);

/* Call `fn` for every setting whose value differs between `a` and `b`, with both
 * values as text. */
void config_each_change(const struct config *a, const struct config *b,
    void (*fn)(void *arg, const char *key, const char *was, const char *now), void *arg);

/* Print the table of settings (for --help). */
void config_usage(void);

/* Print the table of settings for tools (tenderd --list-settings): one line per setting,
 * tab-separated: name, type, default, bounds ("min-max", the allowed words, or "-"),
 * "reload" or "restart", and its meaning. */
void config_print(FILE *f);

#endif
