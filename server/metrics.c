/*
 * The metrics registry and its HTTP endpoint (server/metrics.h, docs/operations.md
 * "Metrics and health").
 *
 * Counters and histograms live in one static registry updated on the event loop
 * thread only: the signature workers never touch it. Gauges (connections, watchers,
 * the lane, the database, the CRL) are read from the server's state when scraped.
 * Operations are indexed by their row in the table of operations (optab_at), plus
 * two rows of their own: "unknown" (an op that is not in the table) and "none" (a
 * line that was not a request). Result codes per operation are bounded: beyond
 * METRICS_RESULTS distinct codes, results count as "other".
 */
#include "server/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "common/hist.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/version.h"
#include "server/optab.h"
#include "server/server.h"

#define METRICS_RESULTS 24

/* Microseconds: 100 µs to 10 s. */
static const int64_t metrics_us_bounds[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
/* Commands per batch. */
static const int64_t metrics_size_bounds[] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096,
};
#define NB(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct metrics_res {
	char *code;
	uint64_t n;
};

/* One operation: its replies by result and their durations. */
struct metrics_op {
	struct hist dur;
	struct metrics_res res[METRICS_RESULTS];
	int nres;
	uint64_t other;
};

static struct {
	struct server *s;
	struct evhttp *http;
	size_t nops;                /* optab_count() + 2 */
	struct metrics_op *ops;
	size_t bid;                 /* the row of auction.bid */
	struct hist bid_ack, batch_size, commit;
	uint64_t batches_committed, batches_failed, batch_commands;
	uint64_t db_reconnects;
	int db_seen_up;
	/* outage pause */
	uint64_t outage_pauses;
} m;

/* The row of an operation name. */
static size_t
metrics_op_index(const char *op)
{
	const struct optab_op *o = optab_find(op);

	if (o != NULL)
		return (size_t)(o - optab_at(0));
	return strcmp(op, "-") == 0 ? m.nops - 1 : m.nops - 2;
}

/* The label of row `i`. */
static const char *
metrics_op_name(size_t i)
{
	return i + 2 < m.nops ? optab_at(i)->name : i + 2 == m.nops ? "unknown" : "none";
}

/* Count one reply. */
void
metrics_op(const char *op, const char *result, int64_t us)
{
	struct metrics_op *o;
	size_t i;
	int r;

	if (m.ops == NULL)
		return;
	i = metrics_op_index(op);
	o = &m.ops[i];
	hist_observe(&o->dur, us);
	if (result == NULL)
		result = "?";
	for (r = 0; r < o->nres; r++)
		if (strcmp(o->res[r].code, result) == 0)
			break;
	if (r == o->nres) {
		if (r == METRICS_RESULTS || (o->res[r].code = strdup(result)) == NULL) {
			o->other++;
			return;
		}
		o->nres++;
	}
	o->res[r].n++;
	if (i == m.bid && strcmp(result, "ok") == 0)
		hist_observe(&m.bid_ack, us);
}

/* log_operations is on (also before metrics_init: on). */
int
metrics_log_ops(void)
{
	return m.s == NULL || strcmp(m.s->cfg.log_operations, "off") != 0;
}

/* A batch was sent. */
void
metrics_batch_sent(size_t commands)
{
	if (m.ops == NULL)
		return;
	hist_observe(&m.batch_size, (int64_t)commands);
	m.batch_commands += commands;
}

/* A batch settled. */
void
metrics_batch_done(int committed, int64_t us)
{
	if (m.ops == NULL)
		return;
	if (committed) {
		m.batches_committed++;
		hist_observe(&m.commit, us);
	} else {
		m.batches_failed++;
	}
}

/* The database came or went: every coming after the first is a reconnection. */
void
metrics_db_state(int up)
{
	if (!up)
		return;
	if (m.db_seen_up)
		m.db_reconnects++;
	m.db_seen_up = 1;
}

/* Outage pause: see metrics.h. */
void
metrics_outage_pause(void)
{
	m.outage_pauses++;
}

/* Watch links of every auction and procurement. */
static size_t
metrics_watchers(struct server *s)
{
	size_t it = 0, n = 0;
	void *v;

	while (map_next(&s->books, &it, NULL, NULL, &v))
		n += ((struct book *)v)->watchers.n;
	it = 0;
	while (map_next(&s->procs, &it, NULL, NULL, &v))
		n += ((struct proc *)v)->watchers.n;
	return n;
}

/* Whether the database is reachable and ready for writes. */
static int
metrics_db_up(struct server *s)
{
	return s->db != NULL && db_ready(s->db);
}

/* Whether this tenderd's session holds the writer lock. */
static int
metrics_lock_held(struct server *s)
{
	return s->db != NULL && db_writer_lock(s->db);
}

/* "# HELP" and "# TYPE" of a family. */
static void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The operations: counts by result, durations, bid acknowledgements. */
static void
metrics_write_ops(FILE *f)
{
	char labels[96];

	metrics_head(f, "tenderd_operations_total", "counter",
	    "Replies to requests, by operation and result (ok or the error code).");
	for (size_t i = 0; i < m.nops; i++) {
		for (int r = 0; r < m.ops[i].nres; r++)
			fprintf(f, "tenderd_operations_total{op=\"%s\",result=\"%s\"} %llu\n",
			    metrics_op_name(i), m.ops[i].res[r].code,
			    (unsigned long long)m.ops[i].res[r].n);
		if (m.ops[i].other)
			fprintf(f, "tenderd_operations_total{op=\"%s\",result=\"other\"} %llu\n",
			    metrics_op_name(i), (unsigned long long)m.ops[i].other);
	}
	metrics_head(f, "tenderd_operation_duration_seconds", "histogram",
	    "Time from reading a request line to sending or queueing its reply (a change: "
	    "after its commit).");
	for (size_t i = 0; i < m.nops; i++) {
		if (m.ops[i].dur.count == 0)
			continue;
		snprintf(labels, sizeof(labels), "op=\"%s\"", metrics_op_name(i));
		hist_write(&m.ops[i].dur, f, "tenderd_operation_duration_seconds", labels);
	}
	metrics_head(f, "tenderd_bid_ack_seconds", "histogram",
	    "Accepted bids: time from reading the request line to queueing the acknowledgement "
	    "(after the commit).");
	hist_write(&m.bid_ack, f, "tenderd_bid_ack_seconds", "");
}

/* The write path: batches, their sizes and commit latency. */
static void
metrics_write_batches(FILE *f)
{
	metrics_head(f, "tenderd_commit_batch_size", "histogram",
	    "Commands per write batch sent to PostgreSQL.");
	hist_write(&m.batch_size, f, "tenderd_commit_batch_size", "");
	metrics_head(f, "tenderd_commit_seconds", "histogram",
	    "Time from sending a write batch to its commit.");
	hist_write(&m.commit, f, "tenderd_commit_seconds", "");
	metrics_head(f, "tenderd_commit_failures_total", "counter",
	    "Write batches that did not commit (rolled back, or the connection was lost).");
	fprintf(f, "tenderd_commit_failures_total %llu\n", (unsigned long long)m.batches_failed);
}

/* Connections, handshakes, refusals, watchers and the lane. */
static void
metrics_write_conns(FILE *f, struct server *s)
{
	size_t handshaking, open;

	conn_counts(s, &handshaking, &open);
	metrics_head(f, "tenderd_connections_open", "gauge", "Open TLS connections (handshake done).");
	fprintf(f, "tenderd_connections_open %zu\n", open);
	metrics_head(f, "tenderd_connections_handshaking", "gauge", "Connections in the TLS handshake.");
	fprintf(f, "tenderd_connections_handshaking %zu\n", handshaking);
	metrics_head(f, "tenderd_handshakes_total", "counter", "TLS handshakes by outcome.");
	fprintf(f, "tenderd_handshakes_total{outcome=\"completed\"} %llu\n"
	    "tenderd_handshakes_total{outcome=\"failed\"} %llu\n"
	    "tenderd_handshakes_total{outcome=\"timeout\"} %llu\n",
	    (unsigned long long)s->hs_completed,
	    (unsigned long long)(s->hs_failed - s->hs_timeout), (unsigned long long)s->hs_timeout);
	metrics_head(f, "tenderd_connections_refused_total", "counter",
	    "Connections refused at accept, by the limit that refused them.");
	fprintf(f, "tenderd_connections_refused_total{limit=\"max_conns\"} %llu\n"
	    "tenderd_connections_refused_total{limit=\"max_conns_per_addr\"} %llu\n"
	    "tenderd_connections_refused_total{limit=\"max_handshakes_per_addr\"} %llu\n",
	    (unsigned long long)s->refused_max_conns,
	    (unsigned long long)s->refused_conns_per_addr,
	    (unsigned long long)s->refused_handshakes_per_addr);
	metrics_head(f, "tenderd_watchers", "gauge",
	    "Watches of auctions and procurements (one per connection and procedure).");
	fprintf(f, "tenderd_watchers %zu\n", metrics_watchers(s));
	metrics_head(f, "tenderd_lane_depth", "gauge",
	    "Events queued in the lane, waiting to be written to watchers.");
	fprintf(f, "tenderd_lane_depth %zu\n", s->nlane - s->lane_head);
}

/* The database, the CRL, the process. */
static void
metrics_write_state(FILE *f, struct server *s)
{
	int64_t now = time_now_ms();

	metrics_head(f, "tenderd_db_up", "gauge",
	    "1 while PostgreSQL is connected and ready for writes, else 0.");
	fprintf(f, "tenderd_db_up %d\n", metrics_db_up(s));
	metrics_head(f, "tenderd_db_reconnects_total", "counter",
	    "Times the database became available again after being lost.");
	fprintf(f, "tenderd_db_reconnects_total %llu\n", (unsigned long long)m.db_reconnects);
	metrics_head(f, "tenderd_writer_lock_held", "gauge",
	    "1 while this tenderd holds the writer lock in PostgreSQL, else 0.");
	fprintf(f, "tenderd_writer_lock_held %d\n", metrics_lock_held(s));
	metrics_head(f, "tenderd_standby", "gauge",
	    "1 while this tenderd waits as a standby (standby = on, another is the primary), else 0.");
	fprintf(f, "tenderd_standby %d\n", s->standby ? 1 : 0);
	metrics_head(f, "tenderd_outage_pauses_total", "counter",
	    "Auctions paused because more than their outage_share of bidders lost their connections.");
	fprintf(f, "tenderd_outage_pauses_total %llu\n", (unsigned long long)m.outage_pauses);
	metrics_head(f, "tenderd_auctions", "gauge", "Auctions in memory.");
	fprintf(f, "tenderd_auctions %zu\n", s->books.len);
	metrics_head(f, "tenderd_procurements", "gauge", "Procurement procedures in memory.");
	fprintf(f, "tenderd_procurements %zu\n", s->procs.len);
	if (s->crl.present) {
		metrics_head(f, "tenderd_crl_age_seconds", "gauge",
		    "Seconds since the thisUpdate of the CRL in force.");
		fprintf(f, "tenderd_crl_age_seconds %lld\n",
		    (long long)((now - s->crl.this_update) / 1000));
		if (s->crl.next_update) {
			metrics_head(f, "tenderd_crl_next_update_seconds", "gauge",
			    "The nextUpdate of the CRL in force, in seconds since the epoch.");
			fprintf(f, "tenderd_crl_next_update_seconds %lld\n",
			    (long long)(s->crl.next_update / 1000));
		}
	}
	metrics_head(f, "tenderd_start_time_seconds", "gauge",
	    "Start time of the process, in seconds since the epoch.");
	fprintf(f, "tenderd_start_time_seconds %lld.%03lld\n", (long long)(s->started_at / 1000),
	    (long long)(s->started_at % 1000));
	metrics_head(f, "tenderd_build_info", "gauge", "Always 1; the release in its label.");
	fprintf(f, "tenderd_build_info{version=\"%s\"} 1\n", TENDERD_VERSION);
}

/* Answer with `code`, a content type and a body. */
static void
metrics_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
    const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	if (b != NULL)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	if (b != NULL)
		evbuffer_free(b);
}

/* GET /metrics. */
static void
metrics_scrape(struct evhttp_request *req, struct server *s)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);

	if (f == NULL) {
		metrics_reply(req, 500, "Internal Server Error", "text/plain", "out of memory\n", 14);
		return;
	}
	metrics_write_ops(f);
	metrics_write_batches(f);
	metrics_write_conns(f, s);
	metrics_write_state(f, s);
	fclose(f);
	metrics_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, len);
	free(body);
}

/* /readyz: 200 while the writer lock is held and the database is ready, else 503. */
static void
metrics_ready(struct evhttp_request *req, struct server *s)
{
	const char *why = NULL;
	char line[160];

	if (s->stopping)
		why = "stopping";
	else if (s->standby)
		why = "standby (waiting for the primary lock)";
	else if (!metrics_lock_held(s))
		why = "writer lock not held (the database is unreachable or another session holds it)";
	else if (!metrics_db_up(s))
		why = "database not ready (resolving a batch in doubt)";
	if (why == NULL) {
		metrics_reply(req, 200, "OK", "text/plain", "ready\n", 6);
		return;
	}
	snprintf(line, sizeof(line), "not ready: %s\n", why);
	metrics_reply(req, 503, "Service Unavailable", "text/plain", line, strlen(line));
}

/* Route a request by its path. */
static void
metrics_on_request(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	size_t plen = strcspn(uri, "?#");

	if (!(evhttp_request_get_command(req) & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD))) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		metrics_reply(req, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19);
		return;
	}
	if (plen == 8 && strncmp(uri, "/metrics", 8) == 0)
		metrics_scrape(req, s);
	else if (plen == 8 && strncmp(uri, "/healthz", 8) == 0)
		metrics_reply(req, 200, "OK", "text/plain", "ok\n", 3);
	else if (plen == 7 && strncmp(uri, "/readyz", 7) == 0)
		metrics_ready(req, s);
	else
		metrics_reply(req, 404, "Not Found", "text/plain", "not found\n", 10);
}

/* The address actually bound (the port chosen when 0 was asked), as "host:port". */
static void
metrics_bound_name(struct evhttp_bound_socket *bs, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64] = "?";
	int port = 0;

	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			host[0] = '[';
			evutil_inet_ntop(AF_INET6, &a->sin6_addr, host + 1, sizeof(host) - 2);
			strcat(host, "]");
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			evutil_inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
		}
	}
	snprintf(out, n, "%s:%d", host, port);
}

/* Start the HTTP endpoint on metrics_listen ("host:port", "[v6]:port"); -1 with `cause`. */
static int
metrics_listen(struct server *s, char *cause, size_t n)
{
	char host[CONFIG_STR], *colon, *end, name[96];
	struct evhttp_bound_socket *bs;
	long port;

	snprintf(host, sizeof(host), "%s", s->cfg.metrics_listen);
	colon = strrchr(host, ':');
	if (colon == NULL || colon == host) {
		snprintf(cause, n, "metrics_listen %s: expected host:port", s->cfg.metrics_listen);
		return -1;
	}
	*colon = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535) {
		snprintf(cause, n, "metrics_listen %s: bad port", s->cfg.metrics_listen);
		return -1;
	}
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	if ((m.http = evhttp_new(s->base)) == NULL) {
		snprintf(cause, n, "out of memory");
		return -1;
	}
	/* every method reaches the handler, which answers 405 to all but GET and HEAD */
	evhttp_set_allowed_methods(m.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(m.http, 10);
	evhttp_set_max_headers_size(m.http, 8192);
	evhttp_set_max_body_size(m.http, 1024);
	evhttp_set_gencb(m.http, metrics_on_request, s);
	if ((bs = evhttp_bind_socket_with_handle(m.http, host, (ev_uint16_t)port)) == NULL) {
		snprintf(cause, n, "metrics_listen %s: cannot listen (address in use or not local?)",
		    s->cfg.metrics_listen);
		evhttp_free(m.http);
		m.http = NULL;
		return -1;
	}
	metrics_bound_name(bs, name, sizeof(name));
	log_info("metrics listening on %s (/metrics, /healthz, /readyz)", name);
	return 0;
}

/* The registry, then the endpoint when configured. */
int
metrics_init(struct server *s)
{
	char cause[CONFIG_STR + 128];

	memset(&m, 0, sizeof(m));
	m.s = s;
	m.nops = optab_count() + 2;
	if ((m.ops = calloc(m.nops, sizeof(*m.ops))) == NULL)
		return -1;
	for (size_t i = 0; i < m.nops; i++)
		hist_init(&m.ops[i].dur, metrics_us_bounds, NB(metrics_us_bounds), 1000000);
	m.bid = metrics_op_index("auction.bid");
	hist_init(&m.bid_ack, metrics_us_bounds, NB(metrics_us_bounds), 1000000);
	hist_init(&m.commit, metrics_us_bounds, NB(metrics_us_bounds), 1000000);
	hist_init(&m.batch_size, metrics_size_bounds, NB(metrics_size_bounds), 1);
	m.db_seen_up = metrics_db_up(s);
	if (s->cfg.metrics_listen[0] != '\0' && metrics_listen(s, cause, sizeof(cause)) < 0)
		log_error("METRICS DISABLED: %s; serving without /metrics, /healthz and /readyz",
		    cause);
	return 0;
}

/* Stop the endpoint, free the registry. */
void
metrics_free(struct server *s)
{
	if (m.http != NULL)
		evhttp_free(m.http);
	for (size_t i = 0; m.ops != NULL && i < m.nops; i++)
		for (int r = 0; r < m.ops[i].nres; r++)
			free(m.ops[i].res[r].code);
	free(m.ops);
	memset(&m, 0, sizeof(m));
}

/* The figures of `stats` (docs/protocol.md). */
void
metrics_stats(struct server *s, json_t *stats)
{
	json_t *by_op = json_object(), *o;
	uint64_t total = 0, ok = 0;

	for (size_t i = 0; m.ops != NULL && i < m.nops; i++) {
		if (m.ops[i].dur.count == 0)
			continue;
		o = json_object();
		for (int r = 0; r < m.ops[i].nres; r++) {
			json_object_set_new(o, m.ops[i].res[r].code,
			    json_integer((json_int_t)m.ops[i].res[r].n));
			if (strcmp(m.ops[i].res[r].code, "ok") == 0)
				ok += m.ops[i].res[r].n;
		}
		if (m.ops[i].other)
			json_object_set_new(o, "other", json_integer((json_int_t)m.ops[i].other));
		total += m.ops[i].dur.count;
		json_object_set_new(by_op, metrics_op_name(i), o);
	}
	json_object_set_new(stats, "operations", json_pack("{s:I, s:I, s:I, s:o}",
	    "total", (json_int_t)total, "ok", (json_int_t)ok, "refused", (json_int_t)(total - ok),
	    "by_op", by_op));
	json_object_set_new(stats, "db", json_pack("{s:b, s:b, s:I}",
	    "available", metrics_db_up(s), "writer_lock", metrics_lock_held(s),
	    "reconnects", (json_int_t)m.db_reconnects));
	json_object_set_new(stats, "batches", json_pack("{s:I, s:I, s:I}",
	    "committed", (json_int_t)m.batches_committed, "failed", (json_int_t)m.batches_failed,
	    "commands", (json_int_t)m.batch_commands));
	json_object_set_new(json_object_get(stats, "handshakes"), "timeout",
	    json_integer((json_int_t)s->hs_timeout));
	json_object_set_new(stats, "watchers", json_integer((json_int_t)metrics_watchers(s)));
	json_object_set_new(stats, "lane", json_integer((json_int_t)(s->nlane - s->lane_head)));
}
