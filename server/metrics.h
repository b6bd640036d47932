/*
 * Metrics: counters and histograms kept on the event loop, shown in the Prometheus
 * text format (0.0.4) by an HTTP endpoint of their own (metrics_listen), with /healthz
 * and /readyz; the operators' `stats` shows the main figures too. Observations are
 * plain integer updates on the event loop thread (no locks, no allocation but the
 * first time a result code is seen for an operation).
 */
#ifndef TENDERD_METRICS_H
#define TENDERD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct server;

/* Set up the registry and, when metrics_listen is set, the HTTP endpoint (after the
 * database client exists). An address that cannot be bound is logged as an error and
 * the server runs without the endpoint. 0, or -1 when out of memory. */
int metrics_init(struct server *s);
void metrics_free(struct server *s);
/* A reply to operation `op` ("-": not a request) with `result` ("ok" or the error
 * code), `us` microseconds after its request line was read. */
void metrics_op(const char *op, const char *result, int64_t us);
/* Whether operations get their log line (log_operations). */
int metrics_log_ops(void);
/* A write batch of `commands` commands was sent. */
void metrics_batch_sent(size_t commands);
/* The oldest batch in flight settled: committed after `us` microseconds, or not. */
void metrics_batch_done(int committed, int64_t us);
/* The database became available (1) or unavailable (0). */
void metrics_db_state(int up);
/* Outage pause: an auction was paused because its bidders lost their connections. */
void metrics_outage_pause(void);
/* Add the operators' figures to the `stats` object (docs/protocol.md, `stats`). */
void metrics_stats(struct server *s, json_t *stats);

#endif
